"""One request budget for every endpoint that tags a text (serve/compare.py `fit_request`): the
/compare, /inside and /layers server functions, called as Gradio calls them (no server), with
6 MB of text and with 5,000 Chinese characters. What is checked is the sub-word tokens that reach
each encoder, counted as they go in (never the time taken), and the note saying what was left out."""

from contextlib import contextmanager

import pytest
import torch

from fusion.tagging.batching import frame_token_ids
from fusion.tagging.budget import fit_to_budget
from serve.compare import TEXT_LIMIT, TOKEN_BUDGET, RequestText, fit_request
from serve.explanations import TOKEN_LIMIT

HUGE = "Angela Merkel visited Paris. " * (6_000_000 // 29 + 1)  # 6 MB
CHINESE = ("安格拉·默克尔访问了巴黎和北京。" * 400)[:5_000]  # about 10,000 sub-word tokens
TEXTS = {"6 MB": HUGE, "5,000 Chinese characters": CHINESE}


class Overspent(RuntimeError):
    """An encoder was handed more tokens than its bound: the work stops here, not 6 MB later."""


@pytest.fixture(scope="module")
def served(built_page):
    """(the page's functions by endpoint name, its services), with tiny layer probes."""
    demo, services = built_page
    endpoints = {fn.api_name: fn for fn in demo.fns.values() if fn.api_name in ("compare", "inside", "layers")}
    return endpoints, services


@contextmanager
def counted(encoders: dict, bounds: dict):
    """{name: tokens of text} each encoder reads while inside (special and pad tokens aside),
    raising Overspent once one passes its bound."""
    tokens = {name: 0 for name in encoders}
    hooks = []
    for name, (encoder, tokenizer) in encoders.items():
        framing = torch.tensor([*frame_token_ids(tokenizer), tokenizer.pad_token_id])

        def count(module, args, name=name, framing=framing):
            tokens[name] += int((~torch.isin(args[0], framing)).sum())
            if tokens[name] > bounds[name]:
                raise Overspent(f"{name} read {tokens[name]:,} tokens")

        hooks.append(encoder.get_input_embeddings().register_forward_pre_hook(count))
    try:
        yield tokens
    finally:
        for hook in hooks:
            hook.remove()


def _tagger(services, side):
    tagger = services.slots[side].tagger
    return tagger.encoder, tagger.tokenizer


def _note(fn, values: dict) -> str:
    return values[fn.outputs[0]]  # the status line or note: every endpoint's first output


@pytest.mark.parametrize("name", list(TEXTS))
def test_the_request_budget_is_one_typed_value(models, name):
    request = fit_request(models, TEXTS[name])
    assert isinstance(request, RequestText) and len(request.text) <= TEXT_LIMIT and request.notes
    assert TEXTS[name].startswith(request.text) and request.note == "\n\n".join(request.notes)
    counted_again = fit_to_budget(request.text, models["baseline"].tagger.tokenizer, 10**9)
    assert counted_again.complete and counted_again.tokens <= TOKEN_BUDGET
    assert fit_request(models, "Angela Merkel visited Paris.") == RequestText("Angela Merkel visited Paris.")


@pytest.mark.parametrize("name", list(TEXTS))
def test_compare_tags_one_request_budget(served, name):
    endpoints, services = served
    fn = endpoints["compare"]
    bounds = dict.fromkeys(("baseline", "fusion"), TOKEN_BUDGET)
    with counted({side: _tagger(services, side) for side in bounds}, bounds) as tokens:
        values = fn.fn(TEXTS[name])
    assert 0 < max(tokens.values()) <= TOKEN_BUDGET, tokens
    assert fit_request(services.slots, TEXTS[name]).note in _note(fn, values)


@pytest.mark.parametrize("name", list(TEXTS))
def test_inside_tags_one_request_budget_and_says_what_was_left_out(served, name):
    endpoints, services = served
    fn = endpoints["inside"]
    # the explained sentence's first TOKEN_LIMIT tokens are read once more, with attentions
    bounds = {"fusion": TOKEN_BUDGET + TOKEN_LIMIT}
    with counted({"fusion": _tagger(services, "fusion")}, bounds) as tokens:
        values = fn.fn(TEXTS[name], 1, "fusion", 3, 1, None)
    note = _note(fn, values)
    assert 0 < tokens["fusion"] <= bounds["fusion"] and "sentence 2" in note, (tokens, note)
    assert fit_request(services.slots, TEXTS[name]).note in note


@pytest.mark.parametrize("name", list(TEXTS))
def test_layers_reads_one_request_budget_and_says_what_was_left_out(served, name):
    endpoints, services = served
    fn = endpoints["layers"]
    probes = services.probes.get()
    assert probes.ready, probes.error
    bounds = {"fusion": TOKEN_BUDGET + TOKEN_LIMIT, "probes": TOKEN_BUDGET}
    with counted({"fusion": _tagger(services, "fusion"), "probes": (probes.encoder, probes.tokenizer)},
                 bounds) as tokens:
        values = fn.fn(TEXTS[name], 1)
    note = _note(fn, values)
    assert 0 < tokens["probes"] and all(tokens[key] <= bounds[key] for key in bounds), (tokens, note)
    assert "Sentence 2 of" in note and fit_request(services.slots, TEXTS[name]).note in note


def test_nothing_that_fits_says_so_instead_of_the_placeholder(served):
    """One "word" longer than a sentence may be: nothing is tagged, and Inside and Layers say why."""
    endpoints, services = served
    word = "x" * 20_000
    request = fit_request(services.slots, word)
    assert request.text == "" and "nothing was tagged" in request.note
    assert request.note in _note(endpoints["inside"], endpoints["inside"].fn(word, 0, "fusion", 1, 1, None))
    assert request.note in _note(endpoints["layers"], endpoints["layers"].fn(word, 0))
