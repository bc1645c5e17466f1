"""Compare's batcher (serve/batcher.py): requests waiting together run as one batch, each gets its
own answer, errors reach every request of their batch, and a full batcher says so."""

import threading
import time

import pytest

from serve.batcher import Busy, RequestBatcher


class HeldBatches:
    """A batch function that records each batch and holds the first until released."""

    def __init__(self, fail_on=None):
        self.sizes, self.started, self.release = [], threading.Event(), threading.Event()
        self.fail_on = fail_on

    def __call__(self, requests):
        self.sizes.append(len(requests))
        if len(self.sizes) == 1:
            self.started.set()
            assert self.release.wait(10)
        if self.fail_on in requests:
            raise RuntimeError(f"{self.fail_on} breaks the batch")
        return [request.upper() for request in requests]


def run_in_threads(batcher, requests):
    answers = {}

    def ask(request):
        try:
            answers[request] = batcher(request)
        except Exception as error:  # noqa: BLE001 — what the caller hears
            answers[request] = error

    threads = [threading.Thread(target=ask, args=(request,)) for request in requests]
    for thread in threads:
        thread.start()
    return answers, threads


def wait_for_waiting(batcher, count, timeout=10):
    deadline = time.time() + timeout
    while len(batcher._waiting) < count and time.time() < deadline:
        time.sleep(0.01)
    assert len(batcher._waiting) == count


def test_a_lone_request_is_a_batch_of_one():
    batches = HeldBatches()
    batches.release.set()
    assert RequestBatcher(batches)("paris") == "PARIS" and batches.sizes == [1]


def test_requests_that_wait_together_run_as_one_batch_each_with_its_own_answer():
    batches = HeldBatches()
    batcher = RequestBatcher(batches, max_batch=8)
    first, threads = run_in_threads(batcher, ["first"])
    assert batches.started.wait(10)
    answers, more = run_in_threads(batcher, [f"city {index}" for index in range(5)])
    wait_for_waiting(batcher, 5)
    batches.release.set()
    for thread in threads + more:
        thread.join(10)
    assert first == {"first": "FIRST"}
    assert answers == {f"city {index}": f"CITY {index}" for index in range(5)}
    assert batches.sizes == [1, 5]


def test_no_batch_is_larger_than_the_limit():
    batches = HeldBatches()
    batcher = RequestBatcher(batches, max_batch=3)
    _, threads = run_in_threads(batcher, ["first"])
    assert batches.started.wait(10)
    answers, more = run_in_threads(batcher, [str(index) for index in range(7)])
    wait_for_waiting(batcher, 7)
    batches.release.set()
    for thread in threads + more:
        thread.join(10)
    assert answers == {str(index): str(index) for index in range(7)}
    assert batches.sizes[0] == 1 and max(batches.sizes) == 3 and sum(batches.sizes) == 8


def test_an_error_reaches_every_request_of_its_batch_and_the_next_batch_runs():
    batches = HeldBatches(fail_on="bad")
    batcher = RequestBatcher(batches)
    _, threads = run_in_threads(batcher, ["first"])
    assert batches.started.wait(10)
    answers, more = run_in_threads(batcher, ["bad", "good"])
    wait_for_waiting(batcher, 2)
    batches.release.set()
    for thread in threads + more:
        thread.join(10)
    assert all(isinstance(answers[r], RuntimeError) and "bad breaks" in str(answers[r]) for r in ("bad", "good"))
    assert batcher("after") == "AFTER"  # the batcher is not left running


def test_a_full_batcher_says_so_and_loses_no_waiting_request():
    batches = HeldBatches()
    batcher = RequestBatcher(batches, max_batch=8, max_waiting=2)
    _, threads = run_in_threads(batcher, ["first"])
    assert batches.started.wait(10)
    answers, more = run_in_threads(batcher, ["a", "b"])
    wait_for_waiting(batcher, 2)
    with pytest.raises(Busy, match="2 requests are waiting"):
        batcher("c")
    batches.release.set()
    for thread in threads + more:
        thread.join(10)
    assert answers == {"a": "A", "b": "B"}


def test_a_failing_request_fails_alone_in_its_batch():
    from serve.batcher import each_alone_on_failure

    def tag(requests):
        if any(text == "bad" for text in requests):
            raise RuntimeError("this text breaks the model")
        return [text.upper() for text in requests]

    batched = each_alone_on_failure(tag, lambda message: message)
    assert batched(["a", "b"]) == ["A", "B"]
    answers = batched(["a", "bad", "c"])
    assert answers[0] == "A" and answers[2] == "C" and "this text breaks the model" in answers[1]
