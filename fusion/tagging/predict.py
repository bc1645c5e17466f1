"""Text in, entities out: sentences and words with character offsets, BIO tags, entity spans,
and on request the attentions and AIF gates of one sentence.

Text is cut into sentences and words as fusion/text/segmentation.py describes (the way the training
data has them); each sentence is tagged as its own sequence, all of them batched together, and an
entity never crosses a sentence boundary. Offsets always index the original string, so
right-to-left text keeps correct offsets (they are logical, not visual, positions).

A sentence longer than the encoder's positions is tagged in overlapping windows; each token takes
its prediction from the window in which it sits farthest from an edge. Nothing is cut.
"""

from __future__ import annotations

import re
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import torch

from fusion.data.alignment import word_label_positions
from fusion.model.modeling import TokenTagger
from fusion.model.packing import pack_batch
from fusion.tagging.batching import (WINDOW_OVERLAP, batches_by_length, best_window, frame_token_ids,
                                     max_window_tokens, window_spans)
from fusion.tagging.spans import entity_spans
from fusion.text.segmentation import split_sentences, split_words

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
class Sentence:
    start: int  # character offsets into the original text, end exclusive
    end: int
    first_word: int  # index of its first word in Prediction.words
    n_words: int


@dataclass
class Explanation:
    """What happens inside the tagger for one sentence of a text (its first tokens, if it has more
    than were asked for or than fit one window)."""

    tokens: list[str]  # sub-word strings, special tokens included
    attentions: np.ndarray  # layer × head × token × token
    gates: np.ndarray | None  # token × d; None for the baseline
    gate_share: np.ndarray | None  # per token: mean gate = share taken from the last layer
    fusion_layer: int | None
    token_words: list[int | None]  # index in Prediction.words of each token (None: special tokens)
    complete: bool = True  # False when the sentence had more tokens than were explained
    sentence: int = 0  # which sentence of the text is explained


@dataclass
class Prediction:
    text: str
    words: list[Word] = field(default_factory=list)
    entities: list[Entity] = field(default_factory=list)
    sentences: list[Sentence] = field(default_factory=list)
    explanation: Explanation | None = None
    windows: int = 0  # encoder passes this text needed (0 for empty text)

    def summary(self) -> str:
        """How the text was cut, e.g. "3 sentences, 41 words"."""
        n, m = len(self.sentences), len(self.words)
        return f"{n} sentence{'s' * (n != 1)}, {m} word{'s' * (m != 1)}"


# --------------------------------------------------------------------------------------------
# Words -> tags (shared with evaluation)
# --------------------------------------------------------------------------------------------

@dataclass
class _Window:
    sentence: int  # index of the sentence this window belongs to
    input_ids: list[int]  # framed by the special tokens
    words: list[int] = field(default_factory=list)  # words whose output this window gives
    offsets: list[int] = field(default_factory=list)  # their label positions in the window


def word_outputs(tokenizer, sentences: list[list[str]], forward, window_tokens: int,
                 batch_size: int = 32, max_batch_tokens: int = 8192, progress=None,
                 encodings=None, pack: bool = True) -> list[tuple[torch.Tensor, list[bool]] | None]:
    """`forward(packed_batch)` (rows × T × ...) read at every word's label position.

    Per sentence: (words × ..., kept), where kept[w] is False for a word the tokenizer dropped
    entirely (its row is zeros); None for a sentence without tokens (no words, or only words the
    tokenizer drops). Sentences longer than
    `window_tokens` are covered by overlapping windows, and a word is read from the window where
    it sits farthest from an edge. Windows of all sentences are batched by length, and packed
    within each batch (fusion/model/packing.py: several short windows in one row; pack=False: one
    window per row, the reference bench/packing.py measures against), under
    `torch.inference_mode`; only the rows read are kept, so memory grows with the words, not
    with the tokens. `progress(sentences_done)` is called after each batch.
    """
    first, last = frame_token_ids(tokenizer)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    encoded = encodings if encodings is not None else [
        tokenizer(words, is_split_into_words=True, add_special_tokens=False) if words else None
        for words in sentences]
    windows: list[_Window] = []
    kept: list[list[bool]] = []
    for index, enc in enumerate(encoded):
        ids = enc["input_ids"] if enc is not None else []
        spans = window_spans(len(ids), window_tokens, min(WINDOW_OVERLAP, window_tokens // 2)) if ids else []
        own = [_Window(index, [first] + ids[s:e] + [last]) for s, e in spans]
        positions = word_label_positions(enc.tokens(), enc.word_ids()) if ids else {}
        for word, position in positions.items():
            w = best_window(position, spans)
            own[w].words.append(word)
            own[w].offsets.append(1 + position - spans[w][0])  # 1: the opening special token
        kept.append([word in positions for word in range(len(sentences[index]))])
        windows += own

    results: list[torch.Tensor | None] = [None] * len(sentences)
    remaining = [0] * len(sentences)
    for window in windows:
        remaining[window.sentence] += 1
    done = 0
    with torch.inference_mode():
        for batch in batches_by_length([len(w.input_ids) for w in windows], batch_size, max_batch_tokens):
            packed = pack_batch([windows[w].input_ids for w in batch], pad, pack)
            out = forward(packed).cpu()  # forward picks the device
            for (row, column), w in zip(packed.places, batch):
                window = windows[w]
                s = window.sentence
                if results[s] is None:
                    results[s] = out.new_zeros((len(sentences[s]),) + tuple(out.shape[2:]))
                if window.words:
                    results[s][window.words] = out[row, [column + offset for offset in window.offsets]]
                remaining[s] -= 1
                done += remaining[s] == 0
            if progress is not None:
                progress(done)
    return [None if results[i] is None else (results[i], kept[i]) for i in range(len(sentences))]


def tag_words(tagger: TokenTagger, sentences: list[list[str]], batch_size: int = 32,
              window_tokens: int | None = None, progress=None,
              max_batch_tokens: int = 8192, encodings=None, pack: bool = True) -> list[list[tuple[str, float]]]:
    """(tag, probability) for every word of every sentence (lists of words, never empty words).

    `progress`, if given, is called with the number of sentences finished so far after each
    batch. `encodings` (the tokenizer's output per sentence, None for empty ones) skips
    tokenizing again. A word the tokenizer dropped entirely (e.g. a lone control character) is "O".
    """
    labels = tagger.config.labels
    device = tagger.device

    def probabilities(batch):
        return tagger.packed_logits(batch.to(device)).float().softmax(-1)

    outputs = word_outputs(tagger.tokenizer, sentences, probabilities,
                           window_tokens or max_window_tokens(tagger), batch_size, max_batch_tokens,
                           progress, encodings, pack)
    results: list[list[tuple[str, float]]] = []
    for words, output in zip(sentences, outputs):
        if output is None:  # nothing the encoder could read
            results.append([("O", 1.0)] * len(words))
            continue
        rows, kept = output
        scores, best = rows.max(-1)
        results.append([(labels[b], p) if kept[w] else ("O", 1.0)
                        for w, (p, b) in enumerate(zip(scores.tolist(), best.tolist()))])
    return results


# --------------------------------------------------------------------------------------------
# Tags -> entities; the public text API
# --------------------------------------------------------------------------------------------

def entities_from_words(text: str, words: list[Word]) -> list[Entity]:
    """Entities under strict IOB2, exactly as the stored scores count them (seqeval's strict mode,
    fusion/evaluation/predictions.py): B-X starts one, I-X continues it; an I- that continues nothing is no
    entity, so the page never shows an entity that the F1 scores would not count."""
    tags = [word.tag for word in words]
    entities = []
    for kind, first, end in sorted(entity_spans(tags), key=lambda span: span[1]):
        start, stop = words[first].start, words[end - 1].end
        score = sum(w.score for w in words[first:end]) / (end - first)
        entities.append(Entity(text[start:stop], kind, start, stop, round(score, 4)))
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


def _explain(tagger: TokenTagger, encoding, limit: int, first_word: int = 0, sentence: int = 0):
    """One forward pass with attentions (and gates) over a sentence's first `limit` tokens, cut
    between words. Returns the Explanation and the (tag, probability) of each word it covers, so a
    sentence explained whole needs no second pass."""
    tokenizer = tagger.tokenizer
    first, last = frame_token_ids(tokenizer)
    n = _explained_length(encoding.word_ids(), limit)
    ids = [first] + encoding["input_ids"][:n] + [last]
    token_words = [None] + encoding.word_ids()[:n] + [None]
    out = _explained_forward(tagger, ids)
    probabilities = out.logits[0].float().softmax(-1)
    tokens = tokenizer.convert_ids_to_tokens(ids)
    labels = tagger.config.labels
    tags = {word: (labels[int(probabilities[p].argmax())], float(probabilities[p].max()))
            for word, p in word_label_positions(tokens, token_words).items()}
    gates = out.gates[0].float().numpy() if out.gates is not None else None
    explanation = Explanation(
        tokens=tokens, attentions=torch.stack([a[0] for a in out.attentions]).float().numpy(),
        gates=gates, gate_share=gates.mean(-1) if gates is not None else None,
        fusion_layer=tagger.config.fusion_layer,
        token_words=[None if w is None else first_word + w for w in token_words],
        complete=n == len(encoding["input_ids"]), sentence=sentence)
    return explanation, tags


def _explained_forward(tagger: TokenTagger, ids: list[int]):
    """The tagger's logits, attentions and gates on one sequence: from its ONNX Runtime graph
    when one is attached (fusion/model/onnx_runtime.py: checked against torch's within 1e-4), else
    from torch."""
    with torch.inference_mode():
        if tagger.runtime is not None:
            sequence = pack_batch([ids], pad_id=0)  # one sequence: nothing is padded
            return tagger.runtime.explain(tagger.embed_words(sequence.input_ids),
                                          sequence.positions, sequence.segments)
        return tagger(torch.tensor([ids]), torch.ones((1, len(ids)), dtype=torch.long), output_attentions=True)


_SURROGATE = re.compile("[\ud800-\udfff]")


def clean_text(text: str) -> str:
    """Lone surrogates (no encoding can write them: a page or a JSON answer would fail) become
    U+FFFD, one character for one, so every offset still indexes the original string."""
    return _SURROGATE.sub("\ufffd", text)


def segment(text: str, tokenizer=None, language: str = "en") -> tuple[list[Word], list[Sentence]]:
    """The text's words and sentences (no tags yet)."""
    words: list[Word] = []
    sentences: list[Sentence] = []
    for start, end in split_sentences(text, language):
        spans = split_words(text, start, end, tokenizer, language)
        if spans:
            sentences.append(Sentence(start, end, len(words), len(spans)))
            words += [Word(text[a:b], a, b) for a, b in spans]
    return words, sentences


def predict(tagger: TokenTagger, texts: list[str] | str, explain: bool = False,
            batch_size: int = 32, explain_max_tokens: int | None = None,
            explain_sentence: int = 0, language: str = "en") -> list[Prediction]:
    """Tag each text. Empty or whitespace-only text gives an empty Prediction, not an error.

    With `explain`, each result carries the attentions (numpy, layer × head × token × token) and,
    for a fusion tagger, the gates (token × d) of one sentence, `explain_sentence` (clamped to the
    text's sentences): its first sub-word tokens, one window or `explain_max_tokens` cut between
    words (attentions grow with the square of the length). `Explanation.complete` says whether
    that covered the whole sentence. Tags always cover the whole text. `language` (an ISO code)
    picks the sentence splitter's abbreviation list; "en" suits most scripts.
    """
    if isinstance(texts, str):
        texts = [texts]
    if not all(isinstance(t, str) for t in texts):
        raise TypeError("predict takes a string or a list of strings")
    texts = [clean_text(text) for text in texts]
    size = max_window_tokens(tagger)
    limit = min(size, explain_max_tokens or size)
    tokenizer = tagger.tokenizer
    results = []
    sequences: list[tuple[int, int]] = []  # (text, sentence) of every sequence to tag
    for index, text in enumerate(texts):
        words, sentences = segment(text, tokenizer, language)
        results.append(Prediction(text, words, sentences=sentences))
        sequences += [(index, s) for s in range(len(sentences))]

    def sentence_words(index: int, s: int) -> list[Word]:
        sentence = results[index].sentences[s]
        return results[index].words[sentence.first_word:sentence.first_word + sentence.n_words]

    encodings = {key: tokenizer([w.text for w in sentence_words(*key)], is_split_into_words=True,
                                add_special_tokens=False) for key in sequences}
    explained = {}
    for index, result in enumerate(results):
        if explain and result.sentences:
            s = min(max(int(explain_sentence), 0), len(result.sentences) - 1)
            explained[(index, s)] = _explain(tagger, encodings[(index, s)], limit,
                                             result.sentences[s].first_word, s)
    # sentences explained whole already have their tags: tag only the others
    to_tag = [key for key in sequences if key not in explained or not explained[key][0].complete]
    tagged = dict(zip(to_tag, tag_words(tagger, [[w.text for w in sentence_words(*key)] for key in to_tag],
                                        batch_size, encodings=[encodings[key] for key in to_tag])))
    for key in sequences:
        words = sentence_words(*key)
        tags = tagged[key] if key in tagged else [explained[key][1].get(w, ("O", 1.0))
                                                  for w in range(len(words))]
        for word, (tag, score) in zip(words, tags):
            word.tag, word.score = tag, round(score, 4)
        result = results[key[0]]
        result.entities += entities_from_words(result.text, words)
        n_tokens = len(encodings[key]["input_ids"])
        result.windows += len(window_spans(n_tokens, size, min(WINDOW_OVERLAP, size // 2)))
        if key in explained:
            result.explanation = explained[key][0]
    return results


_POOL_LOCK = threading.Lock()
_POOL: list[ThreadPoolExecutor] = []  # created on first use, never at import


def _pool() -> ThreadPoolExecutor:
    with _POOL_LOCK:
        if not _POOL:
            _POOL.append(ThreadPoolExecutor(max_workers=4, thread_name_prefix="tagger"))
        return _POOL[0]


def predict_each(taggers: dict[str, TokenTagger], texts: list[str], **options) -> dict[str, list[Prediction]]:
    """`predict` of every tagger on the same texts, each tagger in a thread of its own.

    torch lets go of the GIL inside its kernels, so with one intra-op thread per tagger
    (`torch.set_num_threads(1)`, as the app serves) two taggers use two cores at once, which on
    this project's 2-core machine beats running them one after the other on two threads each
    (bench/latency.py prints the ratio). Errors are raised as `predict` raises them.
    """
    if len(taggers) < 2:
        return {name: predict(tagger, texts, **options) for name, tagger in taggers.items()}
    futures = {name: _pool().submit(predict, tagger, texts, **options) for name, tagger in taggers.items()}
    return {name: future.result() for name, future in futures.items()}
