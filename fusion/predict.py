"""Text in, entities out: words with character offsets, BIO tags, entity spans, and on request
the attentions and AIF gates.

How text becomes words: runs of letters, marks and digits form a word; each punctuation mark or
symbol (emoji included) is a word of its own; whitespace and control characters separate words.
Scripts written without spaces are split further: every Han, Hiragana and Katakana character is
a word (as in WikiANN's Chinese and Japanese data), and runs of Thai, Lao, Khmer or Myanmar
script are split at the encoder tokenizer's piece boundaries. Offsets always index the original
string, so right-to-left text keeps correct offsets (they are logical, not visual, positions).

Text longer than the encoder's positions is tagged in overlapping windows; each token takes its
prediction from the window in which it sits farthest from an edge. Nothing is cut.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

import numpy as np
import torch

from .alignment import word_label_positions
from .batching import (WINDOW_OVERLAP, batches_by_length, best_window, frame_token_ids,
                       max_window_tokens, pad_batch, window_spans)
from .modeling import TokenTagger

_NO_SPACE_SCRIPTS = ("THAI", "LAO", "KHMER", "MYANMAR")
_CHARACTER_SCRIPTS = ("CJK UNIFIED IDEOGRAPH", "CJK COMPATIBILITY IDEOGRAPH", "HIRAGANA",
                      "KATAKANA")


# --------------------------------------------------------------------------------------------
# Result objects
# --------------------------------------------------------------------------------------------

@dataclass
class Word:
    text: str
    start: int  # character offsets into the original text, end exclusive
    end: int
    tag: str = "O"
    score: float = 1.0  # probability of `tag`


@dataclass
class Entity:
    text: str
    label: str  # PER, ORG, LOC...
    start: int
    end: int
    score: float  # mean probability of the entity's word tags


@dataclass
class Explanation:
    """What happens inside the tagger for one text (its first tokens, if it has more than were
    asked for or than fit one window)."""

    tokens: list[str]  # sub-word strings, special tokens included
    attentions: np.ndarray  # layer × head × token × token
    gates: np.ndarray | None  # token × d; None for the baseline
    gate_share: np.ndarray | None  # per token: mean gate = share taken from the last layer
    fusion_layer: int | None
    token_words: list[int | None]  # word index of each token (None for special tokens)
    complete: bool = True  # False when the text had more tokens than were explained


@dataclass
class Prediction:
    text: str
    words: list[Word] = field(default_factory=list)
    entities: list[Entity] = field(default_factory=list)
    explanation: Explanation | None = None
    windows: int = 0  # encoder passes this text needed (0 for empty text)


# --------------------------------------------------------------------------------------------
# Text -> words
# --------------------------------------------------------------------------------------------

def _char_class(char: str) -> str:
    category = unicodedata.category(char)
    if char.isspace() or category in ("Cc", "Zs", "Zl", "Zp", "Co", "Cs", "Cn"):
        return "space"
    if category in ("Mn", "Mc", "Me") or char in ("\u200c", "\u200d"):
        return "mark"  # combining marks and ZWJ / ZWNJ stay inside their word
    if category.startswith(("P", "S")) or category == "Cf":
        return "single"
    name = unicodedata.name(char, "")
    if name.startswith(_CHARACTER_SCRIPTS):
        return "single"
    if name.startswith(_NO_SPACE_SCRIPTS):
        return "nospace"
    return "word"


def split_words(text: str, tokenizer=None) -> list[Word]:
    """Words with offsets into `text` (rules in the module docstring)."""
    words: list[Word] = []
    start, kind = None, None

    def close(end: int) -> None:
        if start is not None:
            words.append(Word(text[start:end], start, end))

    for i, char in enumerate(text):
        cls = _char_class(char)
        if cls == "mark" and start is not None:
            continue  # attaches to the current word, whatever its kind
        if cls == "mark":
            cls = "word"
        if cls == "space":
            close(i)
            start, kind = None, None
        elif cls == "single":
            close(i)
            words.append(Word(char, i, i + 1))
            start, kind = None, None
        elif start is None or cls != kind:
            close(i)
            start, kind = i, cls
    close(len(text))
    if tokenizer is not None:
        words = [piece for word in words for piece in _split_no_space_run(word, tokenizer)]
    return words


def _split_no_space_run(word: Word, tokenizer) -> list[Word]:
    if not word.text or _char_class(word.text[0]) != "nospace":
        return [word]
    encoded = tokenizer(word.text, add_special_tokens=False, return_offsets_mapping=True)
    cuts = sorted({start for start, end in encoded["offset_mapping"] if end > start} | {0})
    cuts.append(len(word.text))
    return [Word(word.text[a:b], word.start + a, word.start + b) for a, b in zip(cuts, cuts[1:]) if b > a]


# --------------------------------------------------------------------------------------------
# Words -> tags (shared with evaluation)
# --------------------------------------------------------------------------------------------

@dataclass
class _Window:
    sentence: int  # index of the sentence this window belongs to
    input_ids: list[int]  # framed by the special tokens


def tag_words(tagger: TokenTagger, sentences: list[list[str]], batch_size: int = 32,
              window_tokens: int | None = None, progress=None,
              max_batch_tokens: int = 8192, encodings=None) -> list[list[tuple[str, float]]]:
    """(tag, probability) for every word of every sentence (lists of words, never empty words).

    Windows of all sentences are batched by length under `torch.inference_mode`. `progress`, if
    given, is called with the number of sentences finished so far after each batch.
    `encodings` (the tokenizer's output per sentence, None for empty ones) skips tokenizing again.
    """
    tokenizer = tagger.tokenizer
    size = window_tokens or max_window_tokens(tagger)
    first, last = frame_token_ids(tokenizer)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    labels = tagger.config.labels

    encoded = encodings if encodings is not None else [
        tokenizer(words, is_split_into_words=True, add_special_tokens=False) if words else None
        for words in sentences]
    windows: list[_Window] = []
    sentence_spans: list[list[tuple[int, int]]] = []
    for index, enc in enumerate(encoded):
        ids = enc["input_ids"] if enc is not None else []
        spans = window_spans(len(ids), size, min(WINDOW_OVERLAP, size // 2)) if ids else []
        sentence_spans.append(spans)
        windows += [_Window(index, [first] + ids[s:e] + [last]) for s, e in spans]

    # per window: content tokens × labels, as probabilities
    probabilities: list[torch.Tensor | None] = [None] * len(windows)
    batches = batches_by_length([len(w.input_ids) for w in windows], batch_size, max_batch_tokens)
    device = next(tagger.parameters()).device
    done_sentences = 0
    remaining = [len(s) for s in sentence_spans]
    with torch.inference_mode():
        for batch in batches:
            padded = pad_batch([windows[w].input_ids for w in batch], pad)
            logits = tagger(padded["input_ids"].to(device), padded["attention_mask"].to(device)
                            ).logits.float().softmax(-1).cpu()
            for row, w in enumerate(batch):
                probabilities[w] = logits[row, 1:len(windows[w].input_ids) - 1]
                remaining[windows[w].sentence] -= 1
                done_sentences += remaining[windows[w].sentence] == 0
            if progress is not None:
                progress(done_sentences)

    results: list[list[tuple[str, float]]] = []
    window_index = 0
    for index, words in enumerate(sentences):
        spans = sentence_spans[index]
        own = list(range(window_index, window_index + len(spans)))
        window_index += len(spans)
        if not words:
            results.append([])
            continue
        tokens = encoded[index].tokens()
        positions = word_label_positions(tokens, encoded[index].word_ids())
        tags = []
        for word in range(len(words)):
            if word not in positions:  # a word the tokenizer dropped entirely (e.g. a lone control char)
                tags.append(("O", 1.0))
                continue
            position = positions[word]
            w = best_window(position, spans)
            row = probabilities[own[w]][position - spans[w][0]]
            best = int(row.argmax())
            tags.append((labels[best], float(row[best])))
        results.append(tags)
    return results


# --------------------------------------------------------------------------------------------
# Tags -> entities; the public text API
# --------------------------------------------------------------------------------------------

def entities_from_words(text: str, words: list[Word]) -> list[Entity]:
    """Group B-/I- word tags into spans; an I- that does not continue an entity starts one."""
    entities: list[Entity] = []
    current: list[Word] = []
    label = None

    def close() -> None:
        if current:
            start, end = current[0].start, current[-1].end
            score = sum(w.score for w in current) / len(current)
            entities.append(Entity(text[start:end], label, start, end, round(score, 4)))

    for word in words:
        prefix, _, kind = word.tag.partition("-")
        if prefix == "I" and current and kind == label:
            current.append(word)
            continue
        close()
        current, label = ([word], kind) if prefix in ("B", "I") else ([], None)
    close()
    return entities


def _explained_length(word_ids: list[int], limit: int) -> int:
    """How many of a text's tokens to explain: all when they fit `limit`, else up to the last
    whole word that fits (inside the first word only when that word alone is longer)."""
    if len(word_ids) <= limit:
        return len(word_ids)
    cut = limit
    while cut > 0 and word_ids[cut] == word_ids[cut - 1]:
        cut -= 1
    return cut or limit


def _explain(tagger: TokenTagger, encoding, limit: int):
    """One forward pass with attentions (and gates) over the text's first `limit` tokens, cut
    between words. Returns the Explanation and the (tag, probability) of each word it covers, so a
    text explained whole needs no second pass."""
    tokenizer = tagger.tokenizer
    first, last = frame_token_ids(tokenizer)
    n = _explained_length(encoding.word_ids(), limit)
    ids = [first] + encoding["input_ids"][:n] + [last]
    token_words = [None] + encoding.word_ids()[:n] + [None]
    with torch.inference_mode():
        out = tagger(torch.tensor([ids]), torch.ones((1, len(ids)), dtype=torch.long),
                     output_attentions=True)
    probabilities = out.logits[0].float().softmax(-1)
    tokens = tokenizer.convert_ids_to_tokens(ids)
    labels = tagger.config.labels
    tags = {word: (labels[int(probabilities[p].argmax())], float(probabilities[p].max()))
            for word, p in word_label_positions(tokens, token_words).items()}
    gates = out.gates[0].float().numpy() if out.gates is not None else None
    explanation = Explanation(
        tokens=tokens, attentions=torch.stack([a[0] for a in out.attentions]).float().numpy(),
        gates=gates, gate_share=gates.mean(-1) if gates is not None else None,
        fusion_layer=tagger.config.fusion_layer, token_words=token_words,
        complete=n == len(encoding["input_ids"]))
    return explanation, tags


_SURROGATE = re.compile("[\ud800-\udfff]")


def clean_text(text: str) -> str:
    """Lone surrogates (no encoding can write them: a page or a JSON answer would fail) become
    U+FFFD, one character for one, so every offset still indexes the original string."""
    return _SURROGATE.sub("\ufffd", text)


def predict(tagger: TokenTagger, texts: list[str] | str, explain: bool = False,
            batch_size: int = 32, explain_max_tokens: int | None = None) -> list[Prediction]:
    """Tag each text. Empty or whitespace-only text gives an empty Prediction, not an error.

    With `explain`, each result carries the attentions (numpy, layer × head × token × token) and,
    for a fusion tagger, the gates (token × d) over the text's first sub-word tokens: one window,
    or `explain_max_tokens` cut between words (attentions grow with the square of the length).
    `Explanation.complete` says whether that covered the whole text. Tags always cover it all.
    """
    if isinstance(texts, str):
        texts = [texts]
    if not all(isinstance(t, str) for t in texts):
        raise TypeError("predict takes a string or a list of strings")
    texts = [clean_text(text) for text in texts]
    size = max_window_tokens(tagger)
    limit = min(size, explain_max_tokens or size)
    word_lists = [split_words(text, tagger.tokenizer) for text in texts]
    encodings = [tagger.tokenizer([w.text for w in words], is_split_into_words=True,
                                  add_special_tokens=False) if words else None
                 for words in word_lists]
    explained = {i: _explain(tagger, encodings[i], limit) for i, words in enumerate(word_lists)
                 if explain and words}
    # texts explained whole already have their tags: tag only the others
    to_tag = [i for i in range(len(texts)) if i not in explained or not explained[i][0].complete]
    tagged = dict(zip(to_tag, tag_words(tagger, [[w.text for w in word_lists[i]] for i in to_tag],
                                        batch_size, encodings=[encodings[i] for i in to_tag])))
    results = []
    for i, (text, words) in enumerate(zip(texts, word_lists)):
        tags = tagged[i] if i in tagged else [explained[i][1].get(w, ("O", 1.0)) for w in range(len(words))]
        for word, (tag, score) in zip(words, tags):
            word.tag, word.score = tag, round(score, 4)
        prediction = Prediction(text, words, entities_from_words(text, words))
        if words:
            n_tokens = len(encodings[i]["input_ids"])
            prediction.windows = len(window_spans(n_tokens, size, min(WINDOW_OVERLAP, size // 2)))
            prediction.explanation = explained[i][0] if i in explained else None
        results.append(prediction)
    return results
