"""The ONNX Runtime forward (fusion/model/onnx_runtime.py) gives the torch forward's logits on batches of
any shape, and Inside's attentions and gates, for the baseline and the fusion tagger, and a failed
export leaves the tagger as it was."""

import pytest
import torch

from fusion.model.checkpoint import load_tagger
from fusion.model.onnx_runtime import attach_runtime, output_names
from fusion.model.packing import pack_batch
from fusion.tagging.predict import predict, tag_words

TEXT = "Angela Merkel visited Paris. The New York Times wrote about it. 北京 is far."
SENTENCES = [["Maria", "Lopez", "flew", "to", "Nairobi", "with", "the", "World", "Bank", "."], ["Paris"],
             ["Hi", "there"], ["Siemens", "and", "Ford", "met", "in", "Detroit"]]


@pytest.mark.parametrize("encoder", ["tiny_bert", "tiny_xlmr"])  # XLM-R: positions after the pad index
@pytest.mark.parametrize("fusion_layer", [None, 1])
def test_the_runtime_gives_torchs_logits_attentions_and_gates(encoder, fusion_layer, request, make_tagger):
    tagger = make_tagger(request.getfixturevalue(encoder), fusion_layer=fusion_layer)
    assert attach_runtime(tagger).error is None and tagger.runtime is not None
    tokenizer = tagger.tokenizer
    # Inside's outputs of the same graph, on one sentence: torch's within 1e-4
    names = [output.name for output in tagger.runtime.session.get_outputs()]
    assert names == output_names(tagger) and names[1:4] == ["attention_0", "attention_1", "attention_2"]
    assert ("gates" in names) is (fusion_layer is not None)
    ids = tokenizer("Angela Merkel visited the New York Times in Paris")["input_ids"]
    sequence = pack_batch([ids], tokenizer.pad_token_id)
    with torch.inference_mode():
        expected = tagger(sequence.input_ids, torch.ones_like(sequence.input_ids), output_attentions=True)
        got = tagger.runtime.explain(tagger.encoder.get_input_embeddings()(sequence.input_ids),
                                     sequence.positions, sequence.segments)
    assert len(got.attentions) == len(expected.attentions) == 3
    for mine, theirs in zip(got.attentions, expected.attentions):
        assert mine.shape == theirs.shape == (1, 2, len(ids), len(ids))
        assert (mine - theirs).abs().max() <= 1e-4
    assert torch.allclose(got.logits, expected.logits, atol=1e-4)
    if fusion_layer is None:
        assert got.gates is None
    else:
        assert got.gates.shape == expected.gates.shape and (got.gates - expected.gates).abs().max() <= 1e-4
    # 1 row, then 3 rows with up to 3 sequences each: neither is the shape that was traced
    for texts in (["Paris"], ["Angela Merkel visited Paris in the summer", "Berlin", "a", "New York", "b c"]):
        batch = pack_batch([tokenizer(text)["input_ids"] for text in texts], tokenizer.pad_token_id)
        with torch.inference_mode():
            fast = tagger.packed_logits(batch)
            runtime, tagger.runtime = tagger.runtime, None
            reference = tagger.packed_logits(batch)
            tagger.runtime = runtime
        real = batch.segments >= 0
        assert fast.shape == reference.shape
        assert torch.allclose(fast[real], reference[real], atol=1e-4)


def test_tags_and_explanations_are_unchanged_with_the_runtime(tiny_bert, make_tagger):
    reference, fast = make_tagger(tiny_bert, fusion_layer=1), make_tagger(tiny_bert, fusion_layer=1)
    assert attach_runtime(fast).error is None
    a, b = predict(reference, TEXT, explain=True)[0], predict(fast, TEXT, explain=True)[0]
    assert [(w.start, w.end, w.tag) for w in a.words] == [(w.start, w.end, w.tag) for w in b.words]
    assert [w.score for w in a.words] == pytest.approx([w.score for w in b.words], abs=1e-5)
    # Inside on the graph: torch's attentions and gates within 1e-4
    assert b.explanation.attentions.shape == a.explanation.attentions.shape and a.explanation.attentions.shape[0] == 3
    assert abs(b.explanation.attentions - a.explanation.attentions).max() <= 1e-4
    assert abs(b.explanation.gates - a.explanation.gates).max() <= 1e-4
    assert b.explanation.tokens == a.explanation.tokens and b.explanation.token_words == a.explanation.token_words
    tags = tag_words(reference, SENTENCES), tag_words(fast, SENTENCES, batch_size=2)
    assert [[t for t, _ in s] for s in tags[0]] == [[t for t, _ in s] for s in tags[1]]


@pytest.mark.parametrize("merge", [True, False])
def test_a_saved_lora_tagger_runs_through_the_runtime(merge, tiny_bert, make_tagger, tmp_path):
    from peft.tuners.lora import Linear as LoraLinear

    from fusion.model.checkpoint import save_tagger

    save_tagger(make_tagger(tiny_bert, fusion_layer=2, tuning="lora", seed=3), tmp_path / "lora")
    reference, fast = load_tagger(tmp_path / "lora"), load_tagger(tmp_path / "lora", merge=merge)
    assert attach_runtime(fast).error is None
    a, b = tag_words(reference, SENTENCES), tag_words(fast, SENTENCES)
    assert [[t for t, _ in s] for s in a] == [[t for t, _ in s] for s in b]
    assert [p for s in a for _, p in s] == pytest.approx([p for s in b for _, p in s], abs=1e-5)
    # adapters kept apart stay apart for torch (Inside): merged only while the graph was traced
    adapters = [m for m in fast.encoder.modules() if isinstance(m, LoraLinear)]
    assert fast.merged is merge and bool(adapters) is not merge
    fast.runtime = None
    torch_words = predict(fast, TEXT, explain=True)[0].words
    assert [w.tag for w in torch_words] == [w.tag for w in predict(reference, TEXT)[0].words]


def test_a_failed_export_keeps_the_torch_forward_and_says_why(tiny_bert, make_tagger, monkeypatch):
    tagger = make_tagger(tiny_bert)
    expected = predict(tagger, TEXT)[0]

    def broken(*args, **kwargs):
        raise RuntimeError("exporter unavailable")

    monkeypatch.setattr(torch.onnx, "export", broken)
    attached = attach_runtime(tagger)
    assert attached.error == "RuntimeError: exporter unavailable" and tagger.runtime is None
    assert [w.tag for w in predict(tagger, TEXT)[0].words] == [w.tag for w in expected.words]
    tagger.train()
    monkeypatch.undo()
    assert "eval mode" in attach_runtime(tagger).error and tagger.runtime is None


def test_a_graph_that_disagrees_with_torch_is_not_attached(tiny_bert, make_tagger, monkeypatch):
    import fusion.model.onnx_runtime as onnx_runtime

    tagger = make_tagger(tiny_bert, fusion_layer=1)
    exported = onnx_runtime.export_graph(tagger)
    with torch.no_grad():  # the weights move after the export: the graph is now stale
        tagger.classifier.bias.add_(1.0)
    monkeypatch.setattr(onnx_runtime, "export_graph", lambda _: exported)
    attached = attach_runtime(tagger)
    assert "differ from torch's" in attached.error and tagger.runtime is None


@pytest.mark.slow  # a child process
def test_a_failing_child_process_says_why(tiny_checkpoints, tmp_path):
    """The child's success is tested with the app (tests/test_app.py), which traces in one."""
    import fusion.model.onnx_runtime as onnx_runtime

    with pytest.raises(RuntimeError, match="failed: .*CheckpointError"):
        onnx_runtime.graphs_of_checkpoints([tmp_path / "missing", tiny_checkpoints["baseline"]])
