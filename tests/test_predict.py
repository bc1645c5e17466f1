import pytest
import torch

from fusion.tagging.predict import Word, entities_from_words, predict, predict_each, tag_words


@pytest.fixture(scope="module")
def fusion_tagger(tiny_bert, make_tagger):
    """One tiny fusion (layer 1) tagger for the tests that only predict with it."""
    return make_tagger(tiny_bert, fusion_layer=1)


@pytest.fixture(scope="module")
def baseline_tagger(tiny_bert, make_tagger):
    return make_tagger(tiny_bert)


def test_entities_follow_strict_iob2_as_the_scores_do():
    text = "Angela Merkel met Rome people"
    words = [Word("Angela", 0, 6, "B-PER", 0.9), Word("Merkel", 7, 13, "I-PER", 0.7),
             Word("met", 14, 17, "O"), Word("Rome", 18, 22, "I-LOC", 0.8),
             Word("people", 23, 29, "B-PER", 0.6)]
    entities = entities_from_words(text, words)
    assert [(e.text, e.label, e.start, e.end) for e in entities] == [
        ("Angela Merkel", "PER", 0, 13), ("people", "PER", 23, 29)]  # the orphan I-LOC is no entity
    assert entities[0].score == pytest.approx(0.8)


@pytest.mark.parametrize("text", ["", "   \n\t ", "\x00\x01"])
def test_empty_text_gives_an_empty_result(fusion_tagger, text):
    result = predict(fusion_tagger, text, explain=True)[0]
    assert result.words == [] and result.entities == [] and result.windows == 0


@pytest.mark.parametrize("encoder", ["tiny_bert", "tiny_xlmr"])
def test_windowing_agrees_with_one_pass_when_attention_is_local(request, make_tagger, encoder):
    """Zero the attention of a tagger so each token's output depends only on itself and its
    position: then windowed and single-pass tags must be identical (positions aside)."""
    # tuning="full": the tagger's own copies of the encoder weights, zeroed here without touching
    # the base weights every other tagger of this process shares
    tagger = make_tagger(request.getfixturevalue(encoder), tuning="full")
    for layer in tagger.encoder.encoder.layer:
        torch.nn.init.zeros_(layer.attention.output.dense.weight)
        torch.nn.init.zeros_(layer.attention.output.dense.bias)
    torch.nn.init.zeros_(tagger.encoder.embeddings.position_embeddings.weight)
    words = ("Angela Merkel visited Paris and Berlin ." * 10).split()
    one_pass = tag_words(tagger, [words])[0]
    windowed = tag_words(tagger, [words], window_tokens=12)[0]
    assert [t for t, _ in windowed] == [t for t, _ in one_pass]
    assert [s for _, s in windowed] == pytest.approx([s for _, s in one_pass], abs=1e-5)


def test_long_text_is_never_cut(fusion_tagger):
    tagger = fusion_tagger
    text = "Paris Berlin Rome " * 400  # ~1,200 words, well over 512 tokens
    result = predict(tagger, text)[0]
    assert len(result.words) == 1200 and result.windows > 1
    assert all(w.tag in tagger.config.labels for w in result.words)


def test_explanation_shapes(fusion_tagger, baseline_tagger):
    tagger = fusion_tagger
    result = predict(tagger, "Angela Merkel visited 北京", explain=True)[0]
    explanation = result.explanation
    n = len(explanation.tokens)
    assert explanation.tokens[0] == "<s>" and explanation.tokens[-1] == "</s>"
    assert len(explanation.attentions) == 3 and len(explanation.attentions[0]) == 2
    assert len(explanation.attentions[0][0]) == n and len(explanation.attentions[0][0][0]) == n
    assert len(explanation.gates) == n and len(explanation.gates[0]) == 32
    assert all(0 < share < 1 for share in explanation.gate_share)
    assert len(explanation.token_words) == n
    baseline = predict(baseline_tagger, "Paris", explain=True)[0].explanation
    assert baseline.gates is None and baseline.gate_share is None


def test_batch_order_does_not_change_results(fusion_tagger):
    tagger = fusion_tagger
    texts = ["Paris", "Angela Merkel visited the New York Times in Berlin", "", "Rome ."]
    together = predict(tagger, texts, batch_size=2)
    alone = [predict(tagger, t)[0] for t in texts]
    for a, b in zip(together, alone):
        assert [w.tag for w in a.words] == [w.tag for w in b.words]
        assert [w.score for w in a.words] == pytest.approx([w.score for w in b.words], abs=1e-3)


def test_taggers_run_at_once_give_what_each_gives_alone(baseline_tagger, fusion_tagger):
    taggers = {"baseline": baseline_tagger, "fusion": fusion_tagger}
    texts = ["Angela Merkel visited Paris. Rome is old.", "", "Berlin"]
    together = predict_each(taggers, texts)
    assert set(together) == set(taggers)
    for name, tagger in taggers.items():
        alone = predict(tagger, texts)
        assert [[(w.text, w.tag, w.score) for w in p.words] for p in together[name]] == \
            [[(w.text, w.tag, w.score) for w in p.words] for p in alone]
    with pytest.raises(TypeError):  # errors come out as predict raises them
        predict_each(taggers, [3])


def test_explained_and_plain_predictions_agree(fusion_tagger):
    tagger = fusion_tagger
    texts = ["Angela Merkel visited the New York Times in Berlin", "北京大学 " * 200]
    plain = predict(tagger, texts)
    explained = predict(tagger, texts, explain=True)
    for a, b in zip(plain, explained):
        assert [w.tag for w in a.words] == [w.tag for w in b.words]
        assert [w.score for w in a.words] == pytest.approx([w.score for w in b.words], abs=1e-3)
    assert explained[1].windows > 1 and 500 < explained[1].explanation.attentions.shape[-1] <= 512
    assert not explained[1].explanation.complete and explained[0].explanation.complete


def test_explanations_can_be_capped_between_words(fusion_tagger):
    tagger = fusion_tagger
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


def test_a_paragraph_gives_the_entities_of_its_sentences_tagged_one_by_one(fusion_tagger):
    tagger = fusion_tagger
    sentences = ["Angela Merkel visited the New York Times.", "Paris is big!", "北京大学。",
                 "Dr. Smith went to Berlin."]
    paragraph = predict(tagger, " ".join(sentences))[0]
    assert len(paragraph.sentences) == 4 and paragraph.summary().startswith("4 sentences")
    offset, alone = 0, []
    for sentence in sentences:
        alone += [(e.text, e.label, e.start + offset, e.end + offset)
                  for e in predict(tagger, sentence)[0].entities]
        offset += len(sentence) + 1
    assert [(e.text, e.label, e.start, e.end) for e in paragraph.entities] == alone


def test_the_chosen_sentence_is_explained(fusion_tagger):
    tagger = fusion_tagger
    text = "Paris is big. Angela Merkel visited Berlin."
    second = predict(tagger, text, explain=True, explain_sentence=1)[0]
    explanation = second.explanation
    assert explanation.sentence == 1 and explanation.complete
    words = [second.words[w].text for w in explanation.token_words if w is not None]
    assert words[0] == "Angela" and words[-1] == "."
    assert predict(tagger, text, explain=True, explain_sentence=99)[0].explanation.sentence == 1


def test_a_50000_character_text_without_breaks_is_tagged_whole(baseline_tagger):
    tagger = baseline_tagger
    text = "Paris" * 10_000
    result = predict(tagger, text)[0]
    assert len(result.sentences) == 1 and result.windows > 1
    assert "".join(w.text for w in result.words) == text
