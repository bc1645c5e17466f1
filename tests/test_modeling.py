import pytest
import torch

from fusion.model.modeling import AIF, IGNORE_INDEX, TaggerConfig, TokenTagger


def _batch(tagger, texts=("Angela Merkel visited Paris .", "北京 is big")):
    enc = tagger.tokenizer(list(texts), padding=True, return_tensors="pt")
    return enc["input_ids"], enc["attention_mask"]


def test_gates_are_strictly_between_zero_and_one_with_the_right_shape(tiny_bert, make_tagger):
    tagger = make_tagger(tiny_bert, fusion_layer=1)
    ids, mask = _batch(tagger)
    out = tagger(ids, mask)
    assert out.gates.shape == (*ids.shape, tagger.encoder.config.hidden_size)
    assert torch.all(out.gates > 0) and torch.all(out.gates < 1)
    assert out.logits.shape == (*ids.shape, len(tagger.config.labels))


def test_baseline_is_a_plain_linear_tagger_on_the_last_layer(tiny_bert, make_tagger):
    tagger = make_tagger(tiny_bert, fusion_layer=None, tuning="frozen")
    ids, mask = _batch(tagger)
    out = tagger(ids, mask)
    assert out.gates is None and tagger.fusion is None
    last = tagger.encoder(input_ids=ids, attention_mask=mask).last_hidden_state
    expected = last @ tagger.classifier.weight.T + tagger.classifier.bias
    torch.testing.assert_close(out.logits, expected)


def test_fusion_reads_hidden_states_k_through_the_aif_equations(tiny_bert, make_tagger):
    tagger = make_tagger(tiny_bert, fusion_layer=1, tuning="frozen")
    ids, mask = _batch(tagger)
    out = tagger(ids, mask, output_hidden_states=True)
    hidden = out.hidden_states
    aif = tagger.fusion

    def by_hand(lower):  # docs/METHOD.md, "The method", written out again
        summed = hidden[-1] + lower
        local = aif.local_branch(summed)
        m = mask.unsqueeze(-1).float()
        sentence = (summed * m).sum(1) / m.sum(1)
        gate = torch.sigmoid(local + aif.global_branch(sentence).unsqueeze(1))
        return tagger.classifier(gate * hidden[-1] + (1 - gate) * lower)

    torch.testing.assert_close(out.logits, by_hand(hidden[1]))
    assert not torch.allclose(out.logits, by_hand(hidden[2]), atol=1e-4)


def test_changing_layer_k_output_moves_the_fusion_logits_more_than_the_baseline_path(tiny_bert, make_tagger):
    """Perturb hidden_states[k] only where the AIF reads it (a hook on the encoder output)."""
    tagger = make_tagger(tiny_bert, fusion_layer=1, tuning="frozen")
    ids, mask = _batch(tagger)
    before = tagger(ids, mask).logits

    def perturb(module, args, output):
        states = list(output.hidden_states)
        states[1] = states[1] + 1.0
        output.hidden_states = tuple(states)
        return output

    handle = tagger.encoder.register_forward_hook(perturb)
    try:
        after = tagger(ids, mask).logits
    finally:
        handle.remove()
    assert (after - before).abs().max() > 1e-3


def test_aif_masked_mean_ignores_padding():
    torch.manual_seed(0)
    aif = AIF(8, reduction=2).eval()
    last, lower = torch.randn(1, 3, 8), torch.randn(1, 3, 8)
    padded_last = torch.cat([last, torch.randn(1, 2, 8) * 100], 1)
    padded_lower = torch.cat([lower, torch.randn(1, 2, 8) * 100], 1)
    z, m = aif(last, lower, torch.ones(1, 3))
    zp, mp = aif(padded_last, padded_lower, torch.tensor([[1, 1, 1, 0, 0]]))
    torch.testing.assert_close(z, zp[:, :3])
    torch.testing.assert_close(m, mp[:, :3])


def test_loss_ignores_unlabelled_positions(tiny_bert, make_tagger):
    tagger = make_tagger(tiny_bert, tuning="frozen")
    ids, mask = _batch(tagger, ["Paris"])
    labels = torch.full_like(ids, IGNORE_INDEX)
    labels[0, 1] = 5
    out = tagger(ids, mask, labels=labels)
    expected = torch.nn.functional.cross_entropy(out.logits[0, 1:2], torch.tensor([5]))
    torch.testing.assert_close(out.loss, expected)


def test_attentions_are_returned_on_request(tiny_xlmr, make_tagger):
    tagger = make_tagger(tiny_xlmr, fusion_layer=0)
    ids, mask = _batch(tagger)
    out = tagger(ids, mask, output_attentions=True)
    assert len(out.attentions) == 3
    assert out.attentions[0].shape == (ids.shape[0], 2, ids.shape[1], ids.shape[1])


def test_lora_trains_only_adapters_head_and_fusion(tiny_bert, make_tagger):
    tagger = make_tagger(tiny_bert, fusion_layer=1)
    trainable = {n for n, p in tagger.named_parameters() if p.requires_grad}
    assert trainable and all("lora_" in n or n.startswith(("fusion.", "classifier.")) for n in trainable)
    assert any(n.startswith("fusion.") for n in trainable)


@pytest.mark.parametrize("bad", [dict(tuning="adapters"), dict(labels=[]), dict(fusion_layer=-1),
                                 dict(labels=["O", "O"]), dict(reduction=0)])
def test_bad_configs_are_refused(bad):
    with pytest.raises(ValueError):
        TaggerConfig(**bad)


def test_fusion_layer_beyond_the_encoder_is_refused(tiny_bert):
    with pytest.raises(ValueError, match="out of range"):
        TokenTagger(TaggerConfig(encoder=tiny_bert, fusion_layer=3))
