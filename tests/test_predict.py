import pytest
import torch

from fusion.predict import Word, entities_from_words, predict, split_words, tag_words


def _spans(text, words):
    return [(w.text, w.start, w.end) for w in words]


def test_offsets_index_the_original_string_for_arabic():
    text = "زار أنجيلا ميركل باريس، ثم عادت."
    words = split_words(text)
    assert [w.text for w in words] == ["زار", "أنجيلا", "ميركل", "باريس", "،", "ثم", "عادت", "."]
    assert all(text[w.start:w.end] == w.text for w in words)


def test_chinese_and_japanese_characters_are_words_with_right_offsets():
    text = "我在北京大学。東京タワー"
    words = split_words(text)
    assert [w.text for w in words] == list("我在北京大学。東京タワー")
    assert [w.start for w in words] == list(range(len(text)))


def test_combining_marks_stay_inside_words():
    text = "नई दिल्ली भारत की राजधानी है"
    assert [w.text for w in split_words(text)] == text.split()
    persian = "می‌خواهم به تهران"  # ZWNJ inside the first word
    assert split_words(persian)[0].text == "می‌خواهم"


def test_thai_runs_split_at_tokenizer_pieces(tiny_bert, make_tagger):
    tokenizer = make_tagger(tiny_bert).tokenizer
    text = "กรุงเทพมหานครเป็นเมืองหลวง"
    words = split_words(text, tokenizer)
    assert len(words) > 1 and "".join(w.text for w in words) == text
    assert all(text[w.start:w.end] == w.text for w in words)


def test_punctuation_emoji_and_control_characters():
    text = "Paris😀!\x00\x07 Berlin\u200b—Rome"
    words = split_words(text)
    assert [w.text for w in words][:3] == ["Paris", "😀", "!"]
    assert "Berlin" in [w.text for w in words] and "Rome" in [w.text for w in words]
    assert all(text[w.start:w.end] == w.text for w in words)


def test_entities_group_bio_tags_and_an_orphan_i_starts_an_entity():
    text = "Angela Merkel met Rome people"
    words = [Word("Angela", 0, 6, "B-PER", 0.9), Word("Merkel", 7, 13, "I-PER", 0.7),
             Word("met", 14, 17, "O"), Word("Rome", 18, 22, "I-LOC", 0.8),
             Word("people", 23, 29, "I-PER", 0.6)]
    entities = entities_from_words(text, words)
    assert [(e.text, e.label, e.start, e.end) for e in entities] == [
        ("Angela Merkel", "PER", 0, 13), ("Rome", "LOC", 18, 22), ("people", "PER", 23, 29)]
    assert entities[0].score == pytest.approx(0.8)


@pytest.mark.parametrize("text", ["", "   \n\t ", "\x00\x01"])
def test_empty_text_gives_an_empty_result(tiny_bert, make_tagger, text):
    result = predict(make_tagger(tiny_bert, fusion_layer=1), text, explain=True)[0]
    assert result.words == [] and result.entities == [] and result.windows == 0


@pytest.mark.parametrize("encoder", ["tiny_bert", "tiny_xlmr"])
def test_windowing_agrees_with_one_pass_when_attention_is_local(request, make_tagger, encoder):
    """Zero the attention of a tagger so each token's output depends only on itself and its
    position: then windowed and single-pass tags must be identical (positions aside)."""
    tagger = make_tagger(request.getfixturevalue(encoder), tuning="frozen")
    for layer in tagger.encoder.encoder.layer:
        torch.nn.init.zeros_(layer.attention.output.dense.weight)
        torch.nn.init.zeros_(layer.attention.output.dense.bias)
    torch.nn.init.zeros_(tagger.encoder.embeddings.position_embeddings.weight)
    words = ("Angela Merkel visited Paris and Berlin ." * 10).split()
    one_pass = tag_words(tagger, [words])[0]
    windowed = tag_words(tagger, [words], window_tokens=12)[0]
    assert [t for t, _ in windowed] == [t for t, _ in one_pass]
    assert [s for _, s in windowed] == pytest.approx([s for _, s in one_pass], abs=1e-5)


def test_long_text_is_never_cut(tiny_bert, make_tagger):
    tagger = make_tagger(tiny_bert, fusion_layer=1)
    text = "Paris Berlin Rome " * 400  # ~1,200 words, well over 512 tokens
    result = predict(tagger, text)[0]
    assert len(result.words) == 1200 and result.windows > 1
    assert all(w.tag in tagger.config.labels for w in result.words)


def test_explanation_shapes(tiny_bert, make_tagger):
    tagger = make_tagger(tiny_bert, fusion_layer=1)
    result = predict(tagger, "Angela Merkel visited 北京", explain=True)[0]
    explanation = result.explanation
    n = len(explanation.tokens)
    assert explanation.tokens[0] == "<s>" and explanation.tokens[-1] == "</s>"
    assert len(explanation.attentions) == 3 and len(explanation.attentions[0]) == 2
    assert len(explanation.attentions[0][0]) == n and len(explanation.attentions[0][0][0]) == n
    assert len(explanation.gates) == n and len(explanation.gates[0]) == 32
    assert all(0 < share < 1 for share in explanation.gate_share)
    assert len(explanation.token_words) == n
    baseline = predict(make_tagger(tiny_bert), "Paris", explain=True)[0].explanation
    assert baseline.gates is None and baseline.gate_share is None


def test_batch_order_does_not_change_results(tiny_bert, make_tagger):
    tagger = make_tagger(tiny_bert, fusion_layer=1)
    texts = ["Paris", "Angela Merkel visited the New York Times in Berlin", "", "Rome ."]
    together = predict(tagger, texts, batch_size=2)
    alone = [predict(tagger, t)[0] for t in texts]
    for a, b in zip(together, alone):
        assert [w.tag for w in a.words] == [w.tag for w in b.words]
        assert [w.score for w in a.words] == pytest.approx([w.score for w in b.words], abs=1e-3)


def test_explained_and_plain_predictions_agree(tiny_bert, make_tagger):
    tagger = make_tagger(tiny_bert, fusion_layer=1)
    texts = ["Angela Merkel visited the New York Times in Berlin", "北京大学 " * 200]
    plain = predict(tagger, texts)
    explained = predict(tagger, texts, explain=True)
    for a, b in zip(plain, explained):
        assert [w.tag for w in a.words] == [w.tag for w in b.words]
        assert [w.score for w in a.words] == pytest.approx([w.score for w in b.words], abs=1e-3)
    assert explained[1].windows > 1 and 500 < explained[1].explanation.attentions.shape[-1] <= 512
    assert not explained[1].explanation.complete and explained[0].explanation.complete


def test_explanations_can_be_capped_between_words(tiny_bert, make_tagger):
    tagger = make_tagger(tiny_bert, fusion_layer=1)
    text = "Angela Merkel visited the Louvre in Paris " * 5
    full = predict(tagger, text)[0]
    capped = predict(tagger, text, explain=True, explain_max_tokens=10)[0]
    explanation = capped.explanation
    assert not explanation.complete and len(explanation.tokens) <= 12
    content = explanation.token_words[1:-1]
    cut = content[-1]  # the last explained word is whole: its tokens all made it in
    enc = tagger.tokenizer(text.split(), is_split_into_words=True, add_special_tokens=False)
    assert enc.word_ids().count(cut) == content.count(cut)
    assert [w.tag for w in capped.words] == [w.tag for w in full.words]  # tags cover everything
    short = predict(tagger, "Paris", explain=True, explain_max_tokens=10)[0].explanation
    assert short.complete
