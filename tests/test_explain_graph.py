"""Inside on the graph Compare runs (fusion/model/onnx_runtime.py): Inside reads its attentions and
gates once it is attached (that they are torch's within 1e-4: tests/test_onnx_runtime.py), a graph
without them or whose attentions differ is refused, and the base weights' pages handed back to the
kernel are still the same weights."""

import sys

import numpy as np
import pytest
import torch

from fusion.model import onnx_runtime
from fusion.model.onnx_runtime import attach_runtime
from fusion.tagging.predict import predict

TEXT = "Angela Merkel visited Paris. The New York Times wrote about Berlin and Ford."


def test_inside_reads_the_graph_once_it_is_attached(tiny_bert, make_tagger):
    tagger = make_tagger(tiny_bert, fusion_layer=1)
    on_torch = predict(tagger, TEXT, explain=True, explain_sentence=1)[0]
    assert attach_runtime(tagger).error is None

    def no_torch(*args, **kwargs):
        raise AssertionError("Inside ran the torch forward")

    tagger.forward = no_torch  # the graph, and only it, must answer now
    on_graph = predict(tagger, TEXT, explain=True, explain_sentence=1)[0]
    a, b = on_torch.explanation, on_graph.explanation
    assert b.sentence == a.sentence == 1 and b.tokens == a.tokens and b.token_words == a.token_words
    assert b.attentions.shape == a.attentions.shape and np.abs(b.attentions - a.attentions).max() <= 1e-4
    assert np.abs(b.gates - a.gates).max() <= 1e-4 and np.abs(b.gate_share - a.gate_share).max() <= 1e-4
    assert [(w.text, w.tag) for w in on_graph.words] == [(w.text, w.tag) for w in on_torch.words]


def test_a_graph_without_attentions_is_refused(tiny_bert, make_tagger, monkeypatch):
    tagger = make_tagger(tiny_bert, fusion_layer=1)
    logits_only = onnx_runtime.export_graph(tagger, explain=False)
    monkeypatch.setattr(onnx_runtime, "export_graph", lambda _: logits_only)
    attached = attach_runtime(tagger)
    assert "no attention outputs" in attached.error and tagger.runtime is None
    assert predict(tagger, "Paris", explain=True)[0].explanation.gates is not None  # torch still explains


def test_a_graph_whose_attentions_differ_is_refused(tiny_bert, make_tagger, monkeypatch):
    tagger = make_tagger(tiny_bert)
    runtime = onnx_runtime.onnx_forward(onnx_runtime.export_graph(tagger))
    original = runtime.explain

    def off_by_a_little(*args):
        out = original(*args)
        out.attentions = (out.attentions[0] + 1e-3, *out.attentions[1:])
        return out

    runtime.explain = off_by_a_little
    monkeypatch.setattr(onnx_runtime, "onnx_forward", lambda graph, threads: runtime)
    attached = attach_runtime(tagger)
    assert "attentions or gates differ" in attached.error and tagger.runtime is None


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="madvise and /proc/self/maps are Linux's")
def test_paged_out_base_weights_are_still_the_same_weights(tmp_path, monkeypatch):
    from safetensors.torch import load_file, save_file

    from fusion.model import encoders

    torch.manual_seed(0)
    weights = {name: torch.randn(64, 1024) for name in ("embeddings.word_embeddings.weight", "layer.0", "layer.1")}
    save_file(weights, str(tmp_path / "base.safetensors"))
    mapped = load_file(str(tmp_path / "base.safetensors"))  # mapped from the file, as the offline encoder's are
    in_memory = {name: tensor.clone() for name, tensor in weights.items()}
    bases = {"mapped": encoders.EncoderBase("mapped", None, mapped, None),
             "in-memory": encoders.EncoderBase("in-memory", None, in_memory, None)}
    monkeypatch.setattr(encoders, "load_encoder_base", bases.__getitem__)
    handed = encoders.page_out_base("mapped")
    assert 0 < handed <= 2 * 64 * 1024 * 4  # the two layers, never the kept word embeddings
    assert encoders.page_out_base("in-memory") == 0  # anonymous memory is left alone
    assert all(torch.equal(mapped[name], weights[name]) for name in weights)
