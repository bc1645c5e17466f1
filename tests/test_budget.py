"""A token budget per request: the longest prefix of whole sentences (or words) that fits."""

from fusion.model.encoders import offline_tokenizer
from fusion.tagging.budget import fit_to_budget

TOKENIZER = offline_tokenizer()


def _tokens(text):
    from fusion.tagging.predict import segment

    words, _ = segment(text, TOKENIZER)
    return sum(len(TOKENIZER(w.text, add_special_tokens=False)["input_ids"]) for w in words)


def test_a_text_within_the_budget_is_whole():
    text = "Angela Merkel visited Paris. She met Emmanuel Macron."
    fitted = fit_to_budget(text, TOKENIZER, 1000)
    assert fitted.complete and fitted.end == len(text) and fitted.tokens == _tokens(text)


def test_a_long_text_is_cut_after_the_last_sentence_that_fits():
    first, second = "Angela Merkel visited Paris.", " She met Emmanuel Macron there on a Tuesday."
    text = first + second
    fitted = fit_to_budget(text, TOKENIZER, _tokens(first) + 2)
    assert not fitted.complete and text[:fitted.end] == first
    assert fitted.tokens == _tokens(first) and fitted.total_tokens == _tokens(text)


def test_a_sentence_alone_too_long_is_cut_between_words_and_cost_follows_tokens():
    text = "北京是中国的首都" * 100  # no sentence break: one sentence, two tokens a character
    fitted = fit_to_budget(text, TOKENIZER, 100)
    assert fitted.tokens <= 100 and fitted.end == fitted.tokens // 2
    assert fitted.total_tokens == 2 * len(text)
    assert fit_to_budget("   ", TOKENIZER, 10).complete


def test_a_sentence_longer_than_one_window_is_cut_at_the_window():
    first = "Angela Merkel visited Paris."
    long = " " + "北京是中国的首都" * 100  # one sentence of 1,600 tokens
    fitted = fit_to_budget(first + long, TOKENIZER, 10_000, max_sentence_tokens=100)
    assert fitted.tokens <= _tokens(first) + 100 and fitted.end > len(first)
    assert not fitted.complete
    whole = fit_to_budget(first, TOKENIZER, 10_000, max_sentence_tokens=100)
    assert whole.complete and whole.end == len(first)
