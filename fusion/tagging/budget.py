"""How much of a text one request may tag: a budget in sub-word tokens, which bounds its CPU time.

A request's cost grows with its tokens, not its characters: 5,000 Chinese characters are 10,000
tokens (each character is a bare "▁" plus the character), 5,000 English characters about 1,200.
`fit_to_budget` keeps the longest prefix of whole sentences (whole words when the first sentence
alone is too long) whose tokens fit, so the caller can tag it and say exactly what was left out.
`bench/request_cost.py` measures the cost per token that sets the app's budget.
"""

from __future__ import annotations

from dataclasses import dataclass

from fusion.tagging.predict import clean_text, segment


@dataclass(frozen=True)
class Budgeted:
    """The part of a text that fits a token budget."""

    end: int  # characters of the original text that fit (a prefix: text[:end])
    tokens: int  # tokens of that prefix
    total_tokens: int  # tokens of the whole text

    @property
    def complete(self) -> bool:
        return self.tokens == self.total_tokens


def fit_to_budget(text: str, tokenizer, max_tokens: int, max_sentence_tokens: int | None = None,
                  language: str = "en") -> Budgeted:
    """The longest prefix of `text` whose words take at most `max_tokens` tokens, cut after a
    sentence, or inside a sentence that is too long on its own (the first sentence over the
    budget, or any sentence over `max_sentence_tokens`: one encoder window, beyond which a
    sentence needs overlapping windows and costs several times more per token)."""
    text = clean_text(text)
    words, sentences = segment(text, tokenizer, language)
    if not words:
        return Budgeted(len(text), 0, 0)
    counts = [len(ids) for ids in tokenizer([w.text for w in words], add_special_tokens=False)["input_ids"]]
    total = sum(counts)
    per_sentence = max_sentence_tokens or max_tokens + 1  # no limit of its own unless given
    used, end = 0, 0
    for sentence in sentences:
        own = range(sentence.first_word, sentence.first_word + sentence.n_words)
        cost = sum(counts[i] for i in own)
        if used + cost <= max_tokens and cost <= per_sentence:
            used, end = used + cost, sentence.end
            continue
        if used == 0 or cost > per_sentence:  # too long on its own: keep its words that fit
            room, taken = min(max_tokens - used, max_sentence_tokens or max_tokens), 0
            for index in own:
                if taken + counts[index] > room:
                    break
                taken, end = taken + counts[index], words[index].end
            used += taken
        break
    else:
        end = len(text)  # everything fitted: keep trailing whitespace too
    return Budgeted(end, used, total)
