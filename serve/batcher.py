"""Requests that arrive together, answered by one call: a group commit in the server's threads.

Gradio's own batching (`batch=True`) needs its queue, whose join and event stream cost a page
~60 ms before the work starts. Compare skips the queue (a page's click is one direct POST) and
batches here instead: the first request in leads a batch of itself and whoever is waiting; those
arriving meanwhile wait for the next batch, which one of them leads. One batch runs at a time.
"""

from __future__ import annotations

import threading
import traceback
from dataclasses import dataclass

from serve.markdown import failure_message


class Busy(Exception):
    """More requests are waiting than the batcher holds: try again shortly."""


@dataclass
class _Slot:
    request: object
    done: bool = False
    result: object = None
    error: BaseException | None = None


class RequestBatcher:
    def __init__(self, run_batch, max_batch: int = 8, max_waiting: int = 64):
        """`run_batch` maps a list of requests to their results, in order."""
        self._run_batch = run_batch
        self._max_batch = max(1, max_batch)
        self._max_waiting = max_waiting
        self._lock = threading.Condition()
        self._waiting: list[_Slot] = []
        self._running = False

    def __call__(self, request):
        """The result of `request`, run in a batch with those waiting alongside it."""
        slot = _Slot(request)
        with self._lock:
            if len(self._waiting) >= self._max_waiting:
                raise Busy(f"{len(self._waiting)} requests are waiting already: try again in a few seconds")
            self._waiting.append(slot)
        while not slot.done:
            with self._lock:
                while self._running and not slot.done:
                    self._lock.wait()
                if slot.done:
                    break
                # nobody runs a batch: this request leads the next (of which it may not be part,
                # if more than a batch were waiting before it; it then leads again)
                self._running = True
                batch, self._waiting = self._waiting[:self._max_batch], self._waiting[self._max_batch:]
            self._run(batch)
        if slot.error is not None:
            raise slot.error
        return slot.result

    def _run(self, batch: list[_Slot]) -> None:
        try:
            results = list(self._run_batch([slot.request for slot in batch]))
            if len(results) != len(batch):
                raise RuntimeError(f"a batch of {len(batch)} requests gave {len(results)} results")
            for slot, result in zip(batch, results):
                slot.result = result
        except BaseException as error:  # noqa: BLE001 — every request of the batch hears of it
            for slot in batch:
                slot.error = error
        finally:
            with self._lock:
                for slot in batch:
                    slot.done = True
                self._running = False
                self._lock.notify_all()


def each_alone_on_failure(run_batch, failed):
    """`run_batch` (a list of requests to a list of results) that, when a batch fails, runs each
    request alone, so that one bad request fails alone: its result is then `failed(message)`."""
    def run(requests):
        try:
            return run_batch(requests)
        except Exception:  # noqa: BLE001 — logged; each request is then tried on its own
            traceback.print_exc()
            return [_alone(run_batch, request, failed) for request in requests]
    return run


def _alone(run_batch, request, failed):
    try:
        return run_batch([request])[0]
    except Exception as error:  # noqa: BLE001 — shown to the user, logged in full
        traceback.print_exc()
        return failed(failure_message(error))
