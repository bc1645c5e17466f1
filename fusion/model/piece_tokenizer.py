"""The offline encoder's tokenizer on SentencePiece: the same 250,002 pieces, scores and normaliser
as its tokenizer.json, held in ~35 MB where `tokenizers`' Unigram model holds ~280 MB (a hash map
per node of its trie): a quarter of the app's idle memory.

`PieceTokenizer` offers what the project calls of a transformers tokenizer, with the meaning
transformers gives it, and nothing else (an unknown option is a TypeError, never ignored):

    tokenizer(words, is_split_into_words=True, add_special_tokens=False)   # one sentence's words
    tokenizer([words, ...], is_split_into_words=True, ...)                 # a batch of them
    tokenizer(text) / tokenizer(texts) / tokenizer(firsts, seconds, truncation=..., max_length=...)
    tokenizer(text, return_offsets_mapping=True)
    encoding["input_ids"] (and "offset_mapping"), encoding.tokens(i) / word_ids(i) / sequence_ids(i)
    tokenizer.convert_ids_to_tokens(ids), the special tokens' ids, model_max_length, len(tokenizer)

Pair templates and truncation follow XLM-R's and `tokenizers`': <s> A </s></s> B </s>;
"longest_first" by its legacy rule, "only_second" from the second text, with overflowing windows
for a question's context. scripts/check_tokenizer.py compares it with transformers'
PreTrainedTokenizerFast on data; tests/test_piece_tokenizer.py on the shipped samples.
"""

from __future__ import annotations

import base64
import json
import re
from array import array
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

SPECIAL_TOKENS = {"bos": "<s>", "pad": "<pad>", "eos": "</s>", "unk": "<unk>", "mask": "<mask>"}
MAX_POSITIONS = 512
MODEL_FORMAT = "lfe-spm-1"  # the cached model's name starts with it: a change of builder makes a new file
_MARK = "\ue000"  # a private-use character: the normaliser leaves it as it is
# Two segmentations score the same when pieces that are powers of one root trade places ("." +
# "..." against "..." + "."): the text holds a square of that root, at most half a piece long.
_SQUARE = re.compile(r"(.{1,8})\1", re.S)
MAX_REPEAT_CHECK = 1000  # characters: longer texts (never a word) keep SentencePiece's choice in a tie
MAX_PIECE_CHARS = 16  # the longest piece of XLM-R's vocabulary


def sentencepiece_model(tokenizer_json: dict) -> bytes:
    """A serialised SentencePiece ModelProto with a Unigram tokenizer.json's pieces, scores,
    unknown id and Precompiled normaliser (its character map, as XLM-R's converter wrote it)."""
    from sentencepiece import sentencepiece_model_pb2 as pb

    model = tokenizer_json.get("model", {})
    if model.get("type") != "Unigram":
        raise ValueError(f"a Unigram tokenizer.json is needed, not {model.get('type')!r}")
    normalizers = tokenizer_json.get("normalizer") or {}
    normalizers = normalizers.get("normalizers", [normalizers])
    charsmaps = [n["precompiled_charsmap"] for n in normalizers if n.get("type") == "Precompiled"]
    if len(charsmaps) != 1:
        raise ValueError("the tokenizer.json needs exactly one Precompiled normaliser")
    proto = pb.ModelProto()
    proto.trainer_spec.model_type = pb.TrainerSpec.UNIGRAM
    proto.trainer_spec.unk_id = model["unk_id"]
    proto.trainer_spec.bos_id = proto.trainer_spec.eos_id = proto.trainer_spec.pad_id = -1
    spec = proto.normalizer_spec
    spec.name = "nmt_nfkc"
    spec.precompiled_charsmap = base64.b64decode(charsmaps[0])
    spec.add_dummy_prefix = spec.remove_extra_whitespaces = spec.escape_whitespaces = True
    specials = {token["content"] for token in tokenizer_json.get("added_tokens", []) if token.get("special")}
    kinds = pb.ModelProto.SentencePiece
    for index, (piece, score) in enumerate(model["vocab"]):
        entry = proto.pieces.add()
        entry.piece, entry.score = piece, score
        entry.type = (kinds.UNKNOWN if index == model["unk_id"]
                      else kinds.CONTROL if piece in specials else kinds.NORMAL)
    return proto.SerializeToString()


def piece_scores(tokenizer_json: dict) -> bytes:
    """The pieces' scores as the tokenizer.json has them (float64; the model keeps float32), for
    breaking ties between equally scored segmentations as `tokenizers` does."""
    return array("d", [float(score) for _, score in tokenizer_json["model"]["vocab"]]).tobytes()


@dataclass
class _Sequence:
    """One encoded input: ids with their pieces, word and sequence indices and character offsets."""
    ids: list[int] = field(default_factory=list)
    tokens: list[str] = field(default_factory=list)
    words: list[int | None] = field(default_factory=list)
    sequences: list[int | None] = field(default_factory=list)
    offsets: list[tuple[int, int]] = field(default_factory=list)

    def extend(self, other: _Sequence) -> None:
        self.ids += other.ids
        self.tokens += other.tokens
        self.words += other.words
        self.sequences += other.sequences
        self.offsets += other.offsets

    def cut(self, n: int) -> _Sequence:
        return self.slice(0, n)

    def slice(self, start: int, end: int) -> _Sequence:
        return _Sequence(self.ids[start:end], self.tokens[start:end], self.words[start:end],
                         self.sequences[start:end], self.offsets[start:end])


class PieceEncoding:
    """What a call returns: `encoding[key]` as transformers' BatchEncoding gives it (a list per
    input for a batch, one list for a single input), and tokens / word_ids / sequence_ids."""

    def __init__(self, items: list[_Sequence], batched: bool, offsets: bool):
        self._items, self._batched = items, batched
        self._data = {"input_ids": [item.ids for item in items]}
        if offsets:
            self._data["offset_mapping"] = [item.offsets for item in items]

    def __getitem__(self, key: str):
        values = self._data[key]
        return values if self._batched else values[0]

    def __contains__(self, key: str) -> bool:
        return key in self._data

    def keys(self):
        return self._data.keys()

    def __len__(self) -> int:
        return len(self._data)

    def tokens(self, batch_index: int = 0) -> list[str]:
        return list(self._items[batch_index].tokens)

    def word_ids(self, batch_index: int = 0) -> list[int | None]:
        return list(self._items[batch_index].words)

    def sequence_ids(self, batch_index: int = 0) -> list[int | None]:
        return list(self._items[batch_index].sequences)


class PieceTokenizer:
    """XLM-R's tokenizer on a SentencePiece model (see the module's docstring)."""

    is_fast = True  # word ids, sequence ids and offsets, as the project's alignment needs

    def __init__(self, model: bytes, scores: bytes, model_max_length: int = MAX_POSITIONS):
        import sentencepiece

        self._model = sentencepiece.SentencePieceProcessor(model_proto=model)
        self._scores = array("d")
        self._scores.frombytes(scores)
        if len(self._scores) != self._model.get_piece_size():
            raise ValueError(f"{len(self._scores)} scores for {self._model.get_piece_size()} pieces")
        self.model_max_length = model_max_length
        for role, token in SPECIAL_TOKENS.items():
            setattr(self, f"{role}_token", token)
            setattr(self, f"{role}_token_id", self._model.piece_to_id(token))
        self.cls_token, self.cls_token_id = self.bos_token, self.bos_token_id
        self.sep_token, self.sep_token_id = self.eos_token, self.eos_token_id
        self._space_id = self._model.piece_to_id("\u2581")
        self._not_pieces = {self.unk_token_id, self.bos_token_id, self.eos_token_id, self.pad_token_id,
                            self.mask_token_id}
        if self._model.id_to_piece(self.unk_token_id) != self.unk_token:
            raise ValueError("the SentencePiece model has no <unk> piece")

    def __len__(self) -> int:
        return self._model.get_piece_size()

    def convert_ids_to_tokens(self, ids):
        if isinstance(ids, int):
            return self._model.id_to_piece(ids)
        return [self._model.id_to_piece(int(i)) for i in ids]

    # -- encoding ------------------------------------------------------------------------------

    def __call__(self, text, text_pair=None, *, is_split_into_words: bool = False,
                 add_special_tokens: bool = True, truncation: bool | str = False,
                 max_length: int | None = None, return_offsets_mapping: bool = False,
                 stride: int = 0, return_overflowing_tokens: bool = False) -> PieceEncoding:
        batched = _is_batch(text, is_split_into_words)
        firsts = text if batched else [text]
        if text_pair is None:
            seconds = [None] * len(firsts)
        else:
            seconds = text_pair if batched else [text_pair]
            if len(seconds) != len(firsts):
                raise ValueError(f"{len(firsts)} first texts but {len(seconds)} second ones")
        strategy = {True: "longest_first", False: None}.get(truncation, truncation)
        if strategy not in (None, "longest_first", "only_second"):
            raise ValueError(f"truncation {truncation!r} is not offered (longest_first, only_second)")
        if strategy is not None and max_length is None:
            max_length = self.model_max_length
        if return_overflowing_tokens and (strategy != "only_second" or text_pair is None):
            raise ValueError("overflowing windows are offered for pairs cut only_second (the context of a question)")
        items = []
        for first, second in zip(firsts, seconds):
            a = self._encode(first, is_split_into_words, 0)
            b = self._encode(second, is_split_into_words, 1) if second is not None else None
            frame = (2 if b is None else 4) if add_special_tokens else 0  # <s> A </s> or <s> A </s></s> B </s>
            room = max_length - frame if strategy else 0
            if return_overflowing_tokens:
                pairs = [(a, window) for window in _windows(a, b, room, stride)]
            else:
                pairs = [_truncated(a, b, room, strategy) if strategy is not None else (a, b)]
            items += [self._framed(x, y) if add_special_tokens else _joined(x, y) for x, y in pairs]
        return PieceEncoding(items, batched or return_overflowing_tokens, return_offsets_mapping)

    def _encode(self, text, words: bool, sequence: int) -> _Sequence:
        out = _Sequence()
        for index, item in enumerate(text if words else [text]):  # one call each: a batch call costs ~1 ms more
            if not isinstance(item, str):
                raise TypeError(f"text must be str, not {type(item).__name__}")
            pieces = self._model.encode(item, return_type="offset_mapping")
            if len(item) <= MAX_REPEAT_CHECK and _SQUARE.search("".join(pieces["pieces"])):
                pieces = self._first_wins(item, pieces)
            space = self._space_id if self._ends_in_space(item) else None
            out.extend(_pieces(item, pieces, sequence, index if words else None, space))
        return out

    def _ends_in_space(self, text: str) -> bool:
        """Whether `text` ends in what the normaliser reads as a space (a zero-width space too):
        transformers keeps that as a last "▁" piece, where SentencePiece strips it."""
        if not text or text[-1].isalnum():  # no letter or digit reads as a space: skip the normaliser
            return False
        return self._model.normalize(text + _MARK).endswith("\u2581" + _MARK)

    def _first_wins(self, text: str, encoded: dict) -> dict:
        """`tokenizers`' Unigram segmentation of a text that may have equally scored ones (runs of
        one symbol, "...."): its Viterbi path over the float64 scores, where at each end the piece
        found first (the one that starts earliest) keeps a tie; SentencePiece breaks ties the
        other way, on float32 scores. SentencePiece's answer stands where a character has no piece
        of its own (an unknown character)."""
        if self.unk_token_id in encoded["ids"]:
            return encoded
        bounds, position = [], 0  # each piece SentencePiece gave: its span in the normalised text and in `text`
        for piece, span in zip(encoded["pieces"], encoded["offsets"]):
            bounds.append((position, position + len(piece), *span))
            position += len(piece)
        normalised = "".join(encoded["pieces"])
        chosen = []
        for word in re.finditer("\u2581?[^\u2581]+|\u2581", normalised):  # no piece holds a "▁" inside
            pieces = self._viterbi(word.group())
            if pieces is None:
                return encoded
            chosen += [(word.start() + a, word.start() + b, piece) for a, b, piece in pieces]
        return {"ids": [piece for _, _, piece in chosen], "pieces": [normalised[a:b] for a, b, _ in chosen],
                "offsets": [(_in_text(a, bounds), _in_text(b, bounds)) for a, b, _ in chosen]}

    def _viterbi(self, word: str) -> list[tuple[int, int, int]] | None:
        """(start, end, piece id) of each piece on the best path; None when none covers `word`."""
        best: list[tuple[float, int, int] | None] = [None] * (len(word) + 1)  # end -> (path score, start, piece)
        best[0] = (0.0, 0, -1)
        for start in range(len(word)):
            if best[start] is None:
                continue
            for end in range(start + 1, min(len(word), start + MAX_PIECE_CHARS) + 1):
                piece = self._model.piece_to_id(word[start:end])
                if piece in self._not_pieces:
                    continue
                score = best[start][0] + self._scores[piece]
                if best[end] is None or score > best[end][0]:  # strictly better: the first found keeps a tie
                    best[end] = (score, start, piece)
        if best[-1] is None:
            return None
        spans, end = [], len(word)
        while end > 0:
            _, start, piece = best[end]
            spans.append((start, end, piece))
            end = start
        return spans[::-1]

    def _framed(self, a: _Sequence, b: _Sequence | None) -> _Sequence:
        out = _Sequence()
        out.extend(self._special(self.bos_token_id))
        out.extend(a)
        out.extend(self._special(self.eos_token_id))
        if b is not None:
            out.extend(self._special(self.eos_token_id))
            out.extend(b)
            out.extend(self._special(self.eos_token_id))
        return out

    def _special(self, token_id: int) -> _Sequence:
        return _Sequence([token_id], [self._model.id_to_piece(token_id)], [None], [None], [(0, 0)])


def _is_batch(text, words: bool) -> bool:
    if isinstance(text, str):
        if words:
            raise TypeError("is_split_into_words needs a list of words, not one string")
        return False
    if not isinstance(text, (list, tuple)):
        raise TypeError(f"text must be str or a list, not {type(text).__name__}")
    if not words:
        return True
    return bool(text) and all(isinstance(item, (list, tuple)) for item in text)


def _joined(a: _Sequence, b: _Sequence | None) -> _Sequence:
    out = _Sequence()
    out.extend(a)
    if b is not None:
        out.extend(b)
    return out


def _truncated(a: _Sequence, b: _Sequence | None, room: int, strategy: str):
    """Cut to `room` content tokens as `tokenizers` does: a single text keeps its first `room`;
    longest_first keeps up to half of the room on the shorter side's terms (its legacy rule,
    followed step by step), only_second cuts the second alone (an error when it cannot fit)."""
    room = max(room, 0)
    if b is None:
        return a.cut(room), None
    n_a, n_b = len(a.ids), len(b.ids)
    if n_a + n_b <= room:
        return a, b
    if strategy == "only_second":
        if n_a >= room:
            raise ValueError("only_second truncation cannot fit: the first text alone is too long")
        return a, b.cut(room - n_a)
    short, long_ = sorted((n_a, n_b))
    long_ = short if short > room else max(short, room - short)
    if short + long_ > room:
        short, long_ = room // 2, room // 2 + room % 2
    keep_a, keep_b = (long_, short) if n_a > n_b else (short, long_)
    return a.cut(keep_a), b.cut(keep_b)


def _windows(a: _Sequence, b: _Sequence, room: int, stride: int) -> list[_Sequence]:
    """The second text in windows that fit beside the first, each overlapping the one before by
    `stride` tokens (transformers' overflowing tokens, only_second)."""
    size = room - len(a.ids)
    if size <= stride:
        raise ValueError("only_second windows cannot fit: the first text leaves no room beyond the stride")
    starts = range(0, max(len(b.ids) - stride, 1), size - stride)
    return [b.slice(start, start + size) for start in starts]


def _pieces(text: str, encoded: dict, sequence: int, word: int | None, space_id: int | None) -> _Sequence:
    """One text's pieces as SentencePiece gave them, with what transformers gives besides: a last
    "▁" for a trailing space, spans that start at the space a "▁" stands for, words numbered
    within a whole text (`word` None) by the pieces that start with "▁"."""
    out = _Sequence(list(encoded["ids"]), list(encoded["pieces"]))
    spans = list(encoded["offsets"])
    if space_id is not None:
        out.ids.append(space_id)
        out.tokens.append("\u2581")
        spans.append((len(text) - 1, len(text)))
    counter = -1
    for piece, (start, end) in zip(out.tokens, spans):
        if piece == "\u2581":
            # alone, the "▁" spans the space it stands for, or the next character for the prefix
            start, end = (end - 1, end) if start < end else (start, min(start + 1, len(text)))
        elif piece.startswith("\u2581"):  # starts at the space (or zero-width mark) before its word
            while start < end - 1 and _blank(text[start]):
                start += 1
            if start > 0 and _blank(text[start - 1]):
                start -= 1
        if word is None and (piece.startswith("\u2581") or counter < 0):
            counter += 1
        out.words.append(word if word is not None else counter)
        out.sequences.append(sequence)
        out.offsets.append((start, end))
    return out


def _in_text(position: int, bounds: list[tuple[int, int, int, int]]) -> int:
    """A position in the normalised text -> the position in the text, through the spans of the
    pieces SentencePiece gave (inside a piece, character for character)."""
    for start, end, begin, finish in bounds:
        if start <= position <= end:
            return finish if position == end else min(begin + position - start, finish)
    return bounds[-1][3] if bounds else 0


def _blank(character: str) -> bool:
    """A space, or a zero-width mark (format character) the normaliser removes."""
    return character.isspace() or unicodedata.category(character) == "Cf"


def read_tokenizer_json(path: str | Path) -> dict:
    return json.loads(Path(path).read_text(encoding="utf-8"))
