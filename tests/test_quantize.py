"""int8 quantisation of a prediction-only tagger: same words, attentions and gates still come out,
scores close to float32 on a tiny model, and a quantised tagger is never saved."""

import pytest
import torch

from fusion.model.checkpoint import CheckpointError, save_tagger
from fusion.model.quantize import quantize_tagger
from fusion.tagging.predict import predict

TEXT = "Angela Merkel visited Paris. The New York Times wrote about it."


def test_an_int8_tagger_predicts_explains_and_is_not_saved(tiny_bert, make_tagger, tmp_path):
    reference = make_tagger(tiny_bert, fusion_layer=1)
    quantized = quantize_tagger(make_tagger(tiny_bert, fusion_layer=1))
    assert quantized.quantized and not reference.quantized
    assert any("quantized" in type(m).__module__ for m in quantized.encoder.modules())
    a, b = predict(reference, TEXT, explain=True)[0], predict(quantized, TEXT, explain=True)[0]
    assert [(w.start, w.end) for w in a.words] == [(w.start, w.end) for w in b.words]
    assert b.explanation.attentions.shape == a.explanation.attentions.shape
    assert b.explanation.gates is not None
    scores = torch.tensor([w.score for w in a.words]), torch.tensor([w.score for w in b.words])
    assert torch.allclose(*scores, atol=0.05)  # int8 weights move probabilities a little, not a lot
    with pytest.raises(CheckpointError, match="quantised"):
        save_tagger(quantized, tmp_path / "never")
