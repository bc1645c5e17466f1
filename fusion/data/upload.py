"""What an uploaded file is, and its text and sentences.

Refuse what is not a text file with a message that says what it is. Decode the rest by its
byte-order mark, as UTF-8, in the encoding the user picked, or by a guess that says it is one
(with a few of the words it gives, so that a wrong guess shows). Then read its sentences, undoing
or naming what would make every model score 0 on them: WikiANN's language prefixes on every token
(removed, and said), the tag in the first column, numbers in the token column, or no PER, ORG or
LOC tag at all (refused, saying what was found)."""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from fusion.data.ner import parse_conll_lines
from fusion.model.modeling import PANX_LABELS

AUTO = "auto"
# The encodings a user can pick (the Evaluate tab's menu), the most common first.
ENCODINGS = ("utf-8", "cp1252", "latin-1", "cp1250", "cp1251", "koi8-r", "cp1253", "cp1254",
             "cp1255", "cp1256", "cp1257", "cp1258", "shift_jis", "euc-jp", "gb18030", "big5",
             "euc-kr", "utf-16")
# first bytes of formats people upload by mistake
_MAGIC = ((b"\x89PNG", "a PNG image"), (b"\xff\xd8\xff", "a JPEG image"), (b"GIF8", "a GIF image"),
          (b"%PDF", "a PDF document"), (b"PK\x03\x04", "a ZIP archive (or a Word / Excel file)"),
          (b"\x1f\x8b", "a gzip archive"))
# longest first: the UTF-32 LE mark begins with the UTF-16 LE one
_BOMS = ((b"\x00\x00\xfe\xff", "utf-32-be"), (b"\xff\xfe\x00\x00", "utf-32-le"),
         (b"\xef\xbb\xbf", "utf-8"), (b"\xfe\xff", "utf-16-be"), (b"\xff\xfe", "utf-16-le"))
_MOST_COMMON_LATIN = ("cp1252", "latin_1")  # preferred when a close code page reads no better
_WORDS_LOOKED_AT = 5_000  # for sample words: enough to find telling ones, quick on any file
_GUESS_SAMPLE_BYTES = 200_000  # of a single-byte file: enough to rank the close code pages
_SCRIPTS = {"LATIN", "GREEK", "CYRILLIC", "ARMENIAN", "HEBREW", "ARABIC", "THAI", "HANGUL",
            "GEORGIAN", "DEVANAGARI", "BENGALI", "TAMIL"}
_CJK = {"CJK", "HIRAGANA", "KATAKANA"}  # one script: Japanese words mix them

_LINE_END = re.compile(r"\r\n|\r|\n")
_NON_ASCII_WORD = re.compile(r"\S*[^\x00-\x7f]\S*")
_TAG = re.compile(r"^(O|[BI]-\S+)$")
# WikiANN's raw files write every token as "de:Angela" (2-3 letters, WikiANN's few longer
# codes such as "zh-yue" included); something must follow the colon ("de::" is the token ":")
_LANGUAGE_PREFIX = re.compile(r"^[a-z]{2,3}(?:-[a-z]+)*:(?=.)")
SYSTEMATIC_SHARE = 0.9  # a pattern on this share of the lines or tokens is the file's layout


class UploadError(ValueError):
    """An upload that is not a readable text file; the message says what to do."""


@dataclass(frozen=True)
class DecodedText:
    text: str
    encoding: str  # Python's codec name, e.g. "utf-8", "utf-16-le", "cp1252"
    how: str  # "byte-order mark", "valid UTF-8", "chosen" (by the user) or "guessed"
    others: tuple[str, ...] = ()  # a guess only: close code pages that read the file as well ...
    telling: str = ""  # ... and the characters of this reading that they read otherwise

    @property
    def guessed(self) -> bool:
        return self.how == "guessed"

    def describe(self) -> str:
        return f"{self.encoding} ({self.how})"

    def lines(self) -> list[str]:
        """The text's lines, whatever ended them: \n, \r\n or a lone \r (old Mac files, which
        split on \n alone read as one line: one token, "Scored 1 sentences"). Other Unicode
        separators stay inside their line: they may be part of a token."""
        return _LINE_END.split(self.text)

    def sample_words(self, limit: int = 5) -> list[str]:
        """A few distinct words with letters beyond ASCII, those with a telling character first:
        what shows a reader whether the encoding is right ("Muñoz", or "Muńoz")."""
        words: list[str] = []
        for match in itertools.islice(_NON_ASCII_WORD.finditer(self.text), _WORDS_LOOKED_AT):
            word = match.group()[:30]
            if word not in words and any(not c.isascii() and c.isalpha() for c in word):
                words.append(word)
        words.sort(key=lambda word: not any(char in self.telling for char in word))  # stable
        return words[:limit]


def check_kind(name: str, raw: bytes) -> None:
    """UploadError when the name or first bytes show that this is not a CoNLL text file."""
    suffix = Path(name).suffix.lower()
    if suffix == ".conllu":
        raise UploadError(
            f"{name} is CoNLL-U (Universal Dependencies): it has no PER/ORG/LOC tags. Upload a "
            "CoNLL file whose first column is the token and last column its IOB tag (B-PER, O, ...).")
    for magic, kind in _MAGIC:
        if raw.startswith(magic):
            hint = " Unzip it and upload the text file inside." if magic == b"PK\x03\x04" else ""
            raise UploadError(f"{name} is {kind}, not a text file.{hint}")
    if suffix in (".zip", ".gz", ".tar", ".7z"):
        raise UploadError(f"{name} is an archive: unpack it and upload the text file inside.")


def decode_upload(name: str, raw: bytes, encoding: str | None = None) -> DecodedText:
    """The file's text: in `encoding` when one is given (not "auto"), else by its byte-order
    mark, as UTF-8, or by a guess."""
    check_kind(name, raw)
    if encoding and encoding != AUTO:
        return _decode_as(name, raw, encoding)
    for mark, codec in _BOMS:
        if raw.startswith(mark):
            try:
                return DecodedText(raw[len(mark):].decode(codec), codec, "byte-order mark")
            except UnicodeDecodeError as error:
                raise UploadError(f"{name} starts with a {codec} byte-order mark but is not "
                                  f"valid {codec} (at byte {error.start}).") from error
    try:
        return DecodedText(raw.decode("utf-8"), "utf-8", "valid UTF-8")
    except UnicodeDecodeError:
        pass
    if b"\x00" in raw[:4096] and not _looks_like_utf16(raw):
        raise UploadError(f"{name} holds binary data (NUL bytes), not text.")
    return _guess(name, raw)


def _decode_as(name: str, raw: bytes, encoding: str) -> DecodedText:
    if encoding not in ENCODINGS:
        raise UploadError(f"Unknown encoding {encoding!r}: pick one of {', '.join(ENCODINGS)}.")
    codec = "utf-8-sig" if encoding == "utf-8" else encoding  # a UTF-8 mark is not text
    try:
        return DecodedText(raw.decode(codec), encoding, "chosen")
    except UnicodeDecodeError as error:
        line = raw[:error.start].count(b"\n") + 1
        raise UploadError(f"{name} is not valid {encoding} (line {line}, byte {error.start} cannot "
                          f"be read in it): pick another encoding, or auto.") from error


def _guess(name: str, raw: bytes) -> DecodedText:
    from charset_normalizer import from_bytes

    utf16 = _looks_like_utf16(raw)  # NUL bytes between the letters: no code page reads it
    found = [match.encoding for match in from_bytes(raw if utf16 else _one_line_per_sentence(raw))]
    if not found:
        raise UploadError(f"The encoding of {name} could not be recognised: save it as UTF-8, or "
                          "pick its encoding, and upload it again.")
    encoding, others, telling = found[0], [], ""
    if not utf16 and _reads_latin(raw[:_GUESS_SAMPLE_BYTES].decode(encoding, errors="replace")):
        encoding, others, telling = _likeliest_latin_page(raw[:_GUESS_SAMPLE_BYTES], found)
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError as error:
        raise UploadError(f"The encoding of {name} could not be recognised (a guess, {encoding}, "
                          f"fails at byte {error.start}): save it as UTF-8, or pick its encoding.") from error
    return DecodedText(text, _shown(encoding), "guessed", tuple(map(_shown, others)), telling)


def _one_line_per_sentence(raw: bytes) -> bytes:
    """The bytes as prose: a sentence's lines joined into one, columns by spaces. The detector
    judges one-token lines full of tabs as chaos and then finds no encoding at all (a cp1251
    Russian file), or the wrong one (a Shift-JIS file read as GB18030). Tabs and line ends are
    bytes of their own in every ASCII-compatible encoding, so nothing else changes."""
    sentences = re.split(rb"(?:\r?\n|\r)[ \t]*(?:\r?\n|\r)", raw)
    return b"\n".join(re.sub(rb"[\t\r\n]+", b" ", sentence) for sentence in sentences)


def _reads_latin(text: str) -> bool:
    """Whether most letters beyond ASCII in `text` (if any) are Latin ones (é, ñ, ł, ...)."""
    letters = [char for char in text if not char.isascii() and char.isalpha()]
    return sum(unicodedata.name(char, "").startswith("LATIN") for char in letters) >= len(letters) / 2


def _likeliest_latin_page(sample: bytes, found: list[str]) -> tuple[str, list[str], str]:
    """Among the code pages that read `sample` as Latin-script text (which only letter
    statistics tell apart, so that on a short file the detector often picks a rare one: a
    Latin-1 Spanish file read as cp1250, "Muńoz"), the one whose text looks least like a wrong
    code page (`_oddness`); on a tie cp1252, then Latin-1, the most common for Western European
    text, then the detector's order. Also the others (of those a user can pick) that read it as
    well but differently, and the characters of the chosen reading that they read otherwise."""
    candidates = list(dict.fromkeys([*_MOST_COMMON_LATIN, *found]))
    readings = {}
    for encoding in candidates:
        try:
            text = sample.decode(encoding)
        except UnicodeDecodeError:
            continue
        if _reads_latin(text):
            readings[encoding] = text
    if not readings:
        return found[0], [], ""
    odd = {encoding: _oddness(text) for encoding, text in readings.items()}
    best, *rest = sorted(readings, key=lambda encoding: (odd[encoding], candidates.index(encoding)))
    others = [e for e in rest if odd[e] == odd[best] and readings[e] != readings[best]
              and _shown(e) in ENCODINGS][:3]  # those the user can pick instead
    high = [bytes([byte]) for byte in set(sample) if byte >= 0x80]
    telling = {char.decode(best, "replace") for char in high
               if any(char.decode(other, "replace") != char.decode(best, "replace") for other in others)}
    return best, others, "".join(sorted(telling))


def _oddness(text: str) -> int:
    """How much the words with non-ASCII characters look like a wrong code page: a control or
    unassigned character; a symbol or digit beyond ASCII next to a letter ("Ł" read as "£", "ł"
    as "³"; "53°31" and punctuation such as "«Clarín»" are fine); a capital right after a small
    letter ("ź" read as "Ÿ"); letters of two scripts in one word."""
    odd = 0
    for word in _NON_ASCII_WORD.findall(text):
        scripts = set()
        for index, char in enumerate(word):
            kind = unicodedata.category(char)
            if kind[0] == "C":
                odd += 2
            elif not char.isascii() and kind[0] in "SN":
                neighbours = (word[index - 1] if index else "") + word[index + 1:index + 2]
                odd += any(near.isalpha() for near in neighbours)
            elif kind == "Lu" and index and word[index - 1].islower() and not word[index - 1:index + 1].isascii():
                odd += 1
            if char.isalpha() or kind[0] == "M":  # an accent of another script too ("Muًoz")
                script = unicodedata.name(char, "").split(" ")[0]
                scripts.add("CJK" if script in _CJK else script if script in _SCRIPTS else "")
        odd += len(scripts - {""}) > 1
    return odd


def _shown(encoding: str) -> str:
    """A codec name as people write it: latin_1 -> latin-1."""
    return encoding.replace("_", "-")


def _looks_like_utf16(raw: bytes) -> bool:
    """UTF-16 text without a mark: about every other byte is NUL."""
    head = raw[:4096]
    return len(head) >= 4 and (head[1::2].count(0) > 0.4 * len(head) / 2
                               or head[0::2].count(0) > 0.4 * len(head) / 2)


# --------------------------------------------------------------------------------------------
# Sentences
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class LanguagePrefix:
    """WikiANN's raw files write every token as "de:Angela"; the models never saw such tokens,
    so both would score about 0 on them."""

    prefixes: tuple[str, ...]  # e.g. ("de:",), the most common first
    tokens: int  # tokens that had one
    total: int  # tokens in the file

    def describe(self) -> str:
        shown = ", ".join(f"'{prefix}'" for prefix in self.prefixes[:3])
        more = f" (and {len(self.prefixes) - 3} more)" if len(self.prefixes) > 3 else ""
        return (f"{self.tokens:,} of {self.total:,} tokens had a language prefix {shown}{more}; "
                f"it was removed")


@dataclass(frozen=True)
class UploadSentences:
    """An upload's sentences as (tokens, tags), and what was done to them or left out."""

    sentences: list[tuple[list[str], list[str]]]
    prefix: LanguagePrefix | None = None  # removed from the tokens
    other_types: tuple[tuple[str, int], ...] = ()  # entity types the models do not tag (as O), counted


def read_sentences(decoded: DecodedText, name: str) -> UploadSentences:
    """The file's sentences; UploadError (or the parser's DataFormatError) when its layout would
    make both models score about 0, saying what was found."""
    lines = decoded.lines()
    check_columns(lines, name)
    sentences, prefix = strip_language_prefix(parse_conll_lines(lines, name))
    return UploadSentences(sentences, prefix, check_entity_types(sentences, name))


def _columns(line: str) -> list[str]:
    return line.split("\t") if "\t" in line else line.split()  # as parse_conll_lines splits


def check_columns(lines: list[str], name: str) -> None:
    """UploadError when the columns are systematically not token first, tag last: the tag first,
    or a running number first (a CoNLL-U-like layout)."""
    rows = [_columns(line) for line in lines if line.strip()]
    rows = [row for row in rows if row[0] != "-DOCSTART-" and len(row) >= 2]
    if not rows:
        return
    tag_first = sum(bool(_TAG.match(row[0].strip())) and not _TAG.match(row[-1].strip()) for row in rows)
    if tag_first >= SYSTEMATIC_SHARE * len(rows):
        raise UploadError(
            f"In {name} the tags are in the first column and the tokens after them (line "
            f"{_first_line(lines)}: {_shown_line(rows[0])}). This app reads the token first and "
            "its tag last: swap the columns and upload the file again.")
    numbered = sum(row[0].isdigit() for row in rows)
    if numbered >= SYSTEMATIC_SHARE * len(rows):
        raise UploadError(
            f"The first column of {name} holds numbers ({_shown_line(rows[0])}), so the models "
            "would read numbers, not words. Put the token first and its tag last (drop the "
            "numbering column) and upload the file again.")


def _first_line(lines: list[str]) -> int:
    return next(number for number, line in enumerate(lines, start=1) if line.strip())


def _shown_line(row: list[str]) -> str:
    return repr(" | ".join(column[:20] for column in row[:4]))


def strip_language_prefix(sentences):
    """(sentences, LanguagePrefix) with the prefixes removed when nearly every token has one
    (WikiANN's raw form), else (sentences, None) unchanged."""
    tokens = [token for words, _ in sentences for token in words if token]
    found = Counter(match.group() for token in tokens if (match := _LANGUAGE_PREFIX.match(token)))
    with_prefix = sum(found.values())
    if not tokens or with_prefix < SYSTEMATIC_SHARE * len(tokens):
        return sentences, None
    stripped = [([_LANGUAGE_PREFIX.sub("", token, count=1) for token in words], tags)
                for words, tags in sentences]
    return stripped, LanguagePrefix(tuple(prefix for prefix, _ in found.most_common()), with_prefix, len(tokens))


def check_entity_types(sentences, name: str) -> tuple[tuple[str, int], ...]:
    """The entity types the models do not tag and their tokens (counted as O), the most first;
    UploadError when the file has no PER, ORG or LOC tag at all: both models would score 0."""
    known = {label[2:] for label in PANX_LABELS if label != "O"}
    types = Counter(tag[2:] for _, tags in sentences for tag in tags if tag != "O")
    other = tuple((t, count) for t, count in types.most_common() if t not in known)
    if len(other) < len(types) or not sentences:  # no sentences: the caller says so
        return other
    wanted = ", ".join(sorted(known))
    if not types:
        raise UploadError(f"{name} has no entity tags: every tag is O, so there is nothing to find "
                          f"(the models tag {wanted}).")
    found = ", ".join(f"{t} ({count:,} tokens)" for t, count in other[:6])
    raise UploadError(f"{name} has none of the entity types the models tag ({wanted}); it has "
                      f"{found}. Rename them (e.g. PERSON to PER) and upload the file again.")
