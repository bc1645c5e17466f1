"""The Pairs tab: both pair classifiers' answers side by side, the pair's attention and gate, the
examples with their gold labels, and the /pairs endpoint."""

import socket

import pytest
import torch

from fusion.model.checkpoint import save_tagger
from fusion.model.pairs import PairClassifier, PairConfig
from serve.pairs import SENTENCE_LIMIT, PairService, pair_checkpoints
from serve.services import Services
from ui import page
from ui.tabs.pairs import load_pair_examples, verdict


@pytest.fixture(scope="module")
def pair_dirs(tiny_bert, tmp_path_factory):
    """checkpoints/pairs as the app looks for it: an XNLI baseline and fusion-l1, no PAWS-X."""
    root = tmp_path_factory.mktemp("pairs")
    for name, layer, seed in (("xnli-baseline", None, 1), ("xnli-fusion-l1", 1, 2)):
        torch.manual_seed(seed)
        save_tagger(PairClassifier(PairConfig(encoder=tiny_bert, fusion_layer=layer)), root / name)
    return root


def test_the_service_finds_loads_and_answers_for_both_models(pair_dirs):
    found = pair_checkpoints(pair_dirs)
    assert found["xnli"]["fusion"].name == "xnli-fusion-l1" and found["pawsx"] == {"baseline": None, "fusion": None}
    service = PairService(found)
    assert service.tasks == ["xnli"]
    view = service.classify("xnli", "Angela Merkel visited Paris.", "Merkel was in Paris.")
    assert set(view.answers) == {"baseline", "fusion"} and view.agree is not None
    for answer in view.answers.values():
        assert abs(sum(answer.probabilities.values()) - 1) < 1e-5 and answer.label in ("entailment", "neutral",
                                                                                     "contradiction")
    text = verdict(view, {"baseline": "base <b>", "fusion": "fused"})
    assert "base \\<b\\>" in text and ("disagree" in text or "same answer" in text)  # titles escaped


def test_odd_pairs_are_bounded_and_said(pair_dirs):
    service = PairService(pair_checkpoints(pair_dirs))
    view = service.classify("xnli", "Paris " * 2000, "\x00")
    assert not view.answers and "Write two sentences" in " ".join(view.notes)
    view = service.classify("xnli", "北京" * 3000, "Berlin")
    assert f"only the first {SENTENCE_LIMIT:,}" in " ".join(view.notes) and view.answers
    view = service.classify("pawsx", "a", "b")  # no PAWS-X classifiers shipped: said, not raised
    assert not view.answers and "No baseline model for pawsx" in " ".join(view.notes)
    with pytest.raises(ValueError, match="unknown task"):
        service.classify("ner", "a", "b")


def test_inside_a_pair_shows_one_heads_attention_across_both_sentences_and_the_gate(pair_dirs):
    service = PairService(pair_checkpoints(pair_dirs))
    fusion = service.explain("xnli", "fusion", "Angela visited Paris.", "She was in Paris.", 3, 2)
    n = len(fusion.tokens)
    assert len(fusion.attention) == n and all(abs(sum(row) - 1) < 1e-4 for row in fusion.attention)
    assert 0 < fusion.second_starts < n and len(fusion.gate_shares) == n
    assert service.explain("xnli", "baseline", "a", "b", 1, 1).gate_shares is None
    with pytest.raises(ValueError, match="layer must be"):
        service.explain("xnli", "fusion", "a", "b", 99, 1)


def test_the_shipped_examples_carry_gold_labels_source_and_licence():
    examples = load_pair_examples()
    assert len(examples) >= 20 and {e["task"] for e in examples} == {"xnli", "pawsx"}
    assert len({e["language"] for e in examples}) >= 8  # several scripts
    assert all(e["source"] and e["licence"] for e in examples)
    assert {e["label"] for e in examples if e["task"] == "xnli"} == {"entailment", "neutral", "contradiction"}


@pytest.mark.slow  # starts a server
def test_pairs_answers_over_the_api(models, pair_dirs):
    from gradio_client import Client

    services = Services.create(models, examples=[])
    services.pairs = PairService(pair_checkpoints(pair_dirs))
    demo = page.build_page(services)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    page.launch(demo, server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    try:
        client = Client(f"http://127.0.0.1:{port}/", verbose=False)
        said, baseline, fusion = client.predict("xnli", "Angela visited Paris.", "She was in Paris.", api_name="/pairs")
        assert baseline["label"] and fusion["label"] and "**" in said
        assert {c["label"] for c in baseline["confidences"]} == {
            "entailment (the second follows)", "neutral (it may or may not)", "contradiction (it cannot be true)"}
    finally:
        demo.close()
