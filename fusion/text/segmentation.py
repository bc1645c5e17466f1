"""Raw text -> sentences -> words, as (start, end) character offsets into the original string.

Why: the taggers learned from WikiANN, short sentences split into words its own way. Fed a whole
pasted paragraph as one sequence, or words split differently ("U.S" + "."), they tag worse than
their stored scores say. So text is cut into sentences first (each tagged as its own sequence)
and into words the way WikiANN has them. bench/raw_text.py measures both against the data.

Sentences: `sentencex` (Wikimedia's rule-based segmenter, with abbreviation lists per language;
chosen by measurement, see docs/METHOD.md), after cutting at every line break (pasted headings
and list items have no final punctuation), and in Thai at a space between Thai letters (Thai
marks a sentence end with a space; sentencex does not split it), not before ๆ or ฯ. A break
with nothing between the sentences ("101.º") is undone, except after 。！？ (Chinese and Japanese
write on without a space), and so is one after an initial or abbreviation ("R. S. Thomas",
"Vol. I"; not after a word of the language that is only spelled like one: Turkish "var", Dutch
"op") and, in Turkish, after an ordinal ("1. Lig", "19. yüzyıl", "II. Mahmud"). A regnal number
I, V or X after a ruler's title and a name is a numeral, not an initial: a sentence may end
there ("Papa Leo X. Baraza ...", "Pope Leo X. He ..."), though not in languages that write
ordinals with a period ("Karl V. der Große"). sentencex never breaks inside quotes or brackets, so a
segment longer than SENTENCE_CHARS is cut again after any sentence-final mark. A run longer still
(no breaks at all) is left whole: the tagger covers it with overlapping windows.

Words, checked against WikiANN test data (detokenised as people write, then split again: in en,
de, fr, es and ru ≥ 99.6 % of the gold tokens inside entities come back as they are):
* whitespace separates words; a grapheme cluster (a flag, a letter with its marks) is never cut;
* letters, marks and digits join across one internal hyphen, period, apostrophe, middle dot, plus
  or degree sign (Санкт-Петербург, U.S, 3.5, O'Brien, UTC+2), and across , or : between digits;
* edge punctuation is a word of its own, except: inside a sentence, the period of an initial
  ("J."), of a word with an internal period ("U.S.") or of a word in ABBREVIATIONS ("St."), in
  Turkish of an ordinal ("1.", "II.", as WikiANN tr has them), but
  never a sentence's final period (WikiANN splits it off: "Washington, D.C ."); "..." as one word, a leading apostrophe on letters ("'s"), a trailing hyphen
  ("Felsen-"), and typographic quotes and Arabic or Myanmar commas, which WikiANN keeps on the
  word they touch («Динамо», غرناطة،);
* a sentence written mostly in Han or Kana (or any text said to be Chinese or Japanese) is split
  into single characters (WikiANN zh / ja); inside other text a run of Han stays one word (朝鮮);
* runs of Thai, Lao, Khmer or Myanmar script (written without spaces) are split at the encoder
  tokenizer's piece boundaries, when a tokenizer is given.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right

import regex

SENTENCE_CHARS = 1_000  # a longer segment is cut again after sentence-final marks
_LINE = regex.compile(r"[^\n\r\u2028\u2029\x0b\x0c\x85]+")
_SENTENCE_END = regex.compile(r"[.!?\u3002\uff01\uff1f\u0964\u1362\u061f\u06d4][\"'\u201d\u00bb)\]]*\s")
# Thai ends a sentence with a space, but not the space before ๆ (repetition mark, written after a
# space: "เด็ก ๆ") or ฯ (abbreviation mark: "กรุงเทพ ฯ", "ฯลฯ"), which belong to the word before
_THAI_SPACE = regex.compile(r"(?<=\p{Thai})\s+(?=\p{Thai})(?![\u0e2f\u0e46])")
_GLUED_ENDS = set("\u3002\uff01\uff1f\uff61")  # 。！？｡: the next sentence follows with no space
_LONG_LINE = 10_000  # sentencex slows down sharply on one long line holding quotes

# a maximal run of grapheme clusters that are not space, control, zero-width space, private-use
# or unassigned characters (those separate words, as whitespace does)
_RUN = regex.compile(r"(?:(?![\s\p{Cc}\p{Co}\p{Cn}\u200b])\X)+")
_CLUSTER = regex.compile(r"\X")
_CJK = regex.compile(r"[\p{Han}\p{Hiragana}\p{Katakana}\u30fc\u3005\u3006\u303b\uff70]")
_WORD_CHAR = regex.compile(r"[\p{L}\p{M}\p{N}]")
_PLAIN = regex.compile(r"[\p{L}\p{M}\p{N}]+")
_NO_SPACE_SCRIPT = regex.compile(r"[\p{Thai}\p{Lao}\p{Khmer}\p{Myanmar}]")
_LAST_PART = regex.compile(r"[-\u2010\u2011\u2013\u2014'\u2019]")

HYPHENS = set("-\u2010\u2011\u2013\u2014")  # - ‐ ‑ – —
APOSTROPHES = set("'\u2019\u02bc")  # ' ’ ʼ
INTERNAL = HYPHENS | APOSTROPHES | set(".\u00b7`\u2018+\u00b0")  # also . · ` ‘ + °
BETWEEN_DIGITS = set(",:")  # 1,000  2:1
TRAILING_HYPHENS = set("-\u2010\u2013")  # Felsen-  1975–
LEADING = set("-.+")  # -Raum  .uk  +1
SCRIPT_COMMAS = set("\u060c\u061b\u066c\u104a\u104b")  # ، ؛ ٬ ၊ ။ stay on the word before
REPEATED = set(".'`*=")  # a run of one of these is one word
OPEN_QUOTES = set("«„“‘‹《")
CLOSE_QUOTES = set("»“”’›》")
ABBREVIATION_MARKS = {".", "\u0970", "\u0374", "\u0384", "\u00b4"}  # . ॰ ʹ ΄ ´
ABBREVIATIONS = {
    # not jr, sr, inc, ltd, co, corp: WikiANN splits their period off ("McCoy, Jr ., hijacker")
    "st", "mr", "mrs", "ms", "messrs", "dr", "hon", "vol", "no", "vs", "var", "mt", "ft", "pt", "prof", "gen", "col", "lt", "sgt", "capt", "gov",
    "sen", "rep", "rev", "ave", "blvd", "dept", "univ", "op", "ed", "eds", "ca", "cf", "etc", "al",
    "ssp", "subsp", "sp", "spp", "fig", "approx", "est", "jan", "feb", "mar", "apr", "jun", "jul",
    "aug", "sep", "sept", "oct", "nov", "dec",
    "nr", "str", "bzw", "hrsg", "jh", "hl", "ste", "sta", "sto", "sra", "dña", "mme", "mlle", "av",
    "avda", "gral", "ing", "lic", "cia",
    "им", "св", "ст", "г", "гг", "ул", "пр", "пл", "д", "проф", "акад", "р", "оз", "пос", "обл",
    "см", "т", "н", "ок", "тыс", "млн", "млрд", "дж",
    # Swahili titles (sentencex has no Swahili list): Daktari, Bwana, Bibi, Mheshimiwa
    "dk", "bw", "bi", "mh", "mhe",
}
# Abbreviations that are also a common sentence-final word of a language, so a period after them
# is not taken as an abbreviation's there: Turkish "var" ("there is": "... sorun var. Ama"), Dutch
# "op" (a separable verb's particle: "Hij gaf niet op."). In WikiANN tr / nl test+dev, "var ." and
# "op ." end 5 and 40 lines, "var." and "op." never stand as an abbreviation.
NOT_ABBREVIATIONS = {"tr": {"var"}, "nl": {"op"}}

# Languages that write an ordinal as a number or Roman numeral with a period ("19. yüzyıl",
# "1. Lig", "II. Mahmud", "Karl V. der Große"): there a period after a numeral need not end a
# sentence, so the regnal-numeral break below ("Pope Leo X. He ...") is not made.
ORDINAL_PERIOD_LANGUAGES = {"bs", "cs", "da", "de", "et", "fi", "fo", "hr", "hu", "is", "lv", "nb",
                            "nn", "no", "sk", "sl", "sr", "tr"}
# ... and of those, languages where it (almost) never does: Turkish puts its ordinal before the
# noun ("2. Dünya Savaşı", "III. Selim") and ends its sentences on a verb or copula, a number
# taking a suffix ("1990'da", "5.000'dir"); sentencex (English rules for tr) breaks after every
# "1." followed by a space. Inside a sentence the period stays on the numeral ("1." as WikiANN tr
# has it: 594 such tokens mid-line, 3 numerals with the period split off).
ORDINAL_NEVER_ENDS = {"tr"}
_ROMAN = r"(?=[IVXLCDM])M{0,3}(?:CM|CD|D?C{0,3})(?:XC|XL|L?X{0,3})(?:IX|IV|V?I{0,3})"
_NUMERAL = regex.compile(r"\p{Nd}+|" + _ROMAN)
_ORDINAL = regex.compile(r"(?<![\p{L}\p{M}\p{N}])(?:\p{Nd}+|" + _ROMAN + r")\.$")

# A king's or pope's regnal number I, V or X looks like an initial ("Joseph I. Lieberman"), so
# sentencex never breaks after it unless an English function word follows ("Leo X. He"), and the
# initial rule below would undo that break. After a ruler's title and a name it is a numeral, and
# a period after it ends the sentence when the next word is not lowercase: "Papa Leo X. Baraza la
# ...", "Queen Elizabeth I. Her reign ...". Titles are matched in any case ("el papa León X.").
REGNAL_TITLES = (
    "pope antipope king queen emperor empress tsar czar tsarina kaiser sultan shah pharaoh "
    "patriarch caliph prince princess duke duchess "  # en
    "papa mfalme malkia sultani kaisari farao "  # sw
    "rey reina emperador emperatriz faraón rei rainha imperador faraó re regina imperatore "
    "faraone pape roi reine empereur impératrice pharaon "  # es, pt, it, fr
    "paus koning koningin keizer keizerin raja ratu kaisar firaun vua"  # nl, id, ms, vi
).split()
_NAME = r"\p{Lu}[\p{L}\p{M}'\u2019-]*"
_REGNAL_END = regex.compile(
    r"(?<![\p{L}\p{M}])(?i:" + "|".join(REGNAL_TITLES) + r")\s+(?:" + _NAME + r"\s+){1,2}[IVX]\.$")
_REGNAL_BREAK = regex.compile(
    r"(?<![\p{L}\p{M}])(?i:" + "|".join(REGNAL_TITLES) + r")\s+(?:" + _NAME + r"\s+){1,2}[IVX]\."
    r"(?=\s+[^\s\p{Ll}\p{P}]|\s+[\"'\u201c\u2018\u00ab\u201e(\[])")

Span = tuple[int, int]  # [start, end) character offsets into the original text


# --------------------------------------------------------------------------------------------
# Sentences
# --------------------------------------------------------------------------------------------

def _trimmed(text: str, start: int, end: int) -> Span:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _pieces_of_line(text: str, start: int, end: int, size: int):
    """A line cut into pieces of ≤ `size` characters after sentence ends (else left long)."""
    while end - start > size:
        ends = [m.end() for m in _SENTENCE_END.finditer(text, start + size // 2, start + size)]
        if not ends:
            break
        yield start, ends[-1]
        start = ends[-1]
    yield start, end


def _thai_pieces(text: str, start: int, end: int, size: int):
    """Cut after Thai spaces (sentencex does not split Thai), then long pieces at sentence ends."""
    for space in _THAI_SPACE.finditer(text, start, end):
        yield from _pieces_of_line(text, start, space.start(), size)
        start = space.end()
    yield from _pieces_of_line(text, start, end, size)


def split_sentences(text: str, language: str = "en") -> list[Span]:
    """Sentence spans, whitespace trimmed, in order; empty text gives []."""
    import sentencex

    spans: list[Span] = []
    for line in _LINE.finditer(text):
        boundaries = [m.start() for m in _CLUSTER.finditer(text, line.start(), line.end())]
        boundaries.append(line.end())
        for base, stop in _pieces_of_line(text, line.start(), line.end(), _LONG_LINE):
            for found in sentencex.get_sentence_boundaries(language or "en", text[base:stop]):
                start, end = _trimmed(text, base + found["start_index"], base + found["end_index"])
                for piece in _thai_pieces(text, start, end, SENTENCE_CHARS):
                    for piece in _regnal_pieces(text, *piece, language):
                        start, end = _trimmed(text, *_on_clusters(boundaries, *piece))
                        if spans and (start < spans[-1][1] or _glued(text, spans[-1][1], start)
                                      or _after_initial(text, *spans[-1], language)
                                      or _after_ordinal(text, *spans[-1], language)):
                            start = spans.pop()[0]  # overlapping after snapping, or no real break
                        if end > start:
                            spans.append((start, end))
    return spans


def _regnal_pieces(text: str, start: int, end: int, language: str = "en"):
    """A piece cut after a regnal number I, V or X that ends a sentence ("Papa Leo X. Baraza"),
    which sentencex takes for an initial (see REGNAL_TITLES)."""
    if language not in ORDINAL_PERIOD_LANGUAGES:
        for found in _REGNAL_BREAK.finditer(text, start, end):
            yield start, found.end()
            start = found.end()
    yield start, end


def _glued(text: str, previous_end: int, start: int) -> bool:
    """A break with nothing between the sentences is no break ("101.º", "n.º 16"), except after a
    full-width mark: Chinese and Japanese write the next sentence straight after 。！？."""
    return previous_end == start and text[start - 1] not in _GLUED_ENDS


_LAST_WORD = regex.compile(r"(\w+)\.$")


def _after_initial(text: str, start: int, end: int, language: str = "en") -> bool:
    """A "sentence" ending in an initial ("R. S.") or an abbreviation ("Vol.") goes on: "R. S.
    Thomas", "Vol. I" (sentencex knows abbreviations only for some languages); not after a
    regnal number ("Pope Leo X.", see REGNAL_TITLES)."""
    if end - start >= 2 and text[end - 1] == "." and text[end - 2].isupper() \
            and (end - 3 < start or not text[end - 3].isalnum()):
        return not (language not in ORDINAL_PERIOD_LANGUAGES
                    and _REGNAL_END.search(text, max(start, end - 80), end))
    last = _LAST_WORD.search(text, max(start, end - 12), end)
    return bool(last) and is_abbreviation(last.group(1), language)


def is_abbreviation(word: str, language: str | None = None) -> bool:
    """`word` (without its period) is in ABBREVIATIONS and not a common word of `language`."""
    word = word.lower()
    return word in ABBREVIATIONS and word not in NOT_ABBREVIATIONS.get(language or "", ())


def _after_ordinal(text: str, start: int, end: int, language: str = "en") -> bool:
    """In Turkish a "sentence" ending in "19." or "II." is an ordinal before its noun: "19.
    yüzyıl", "1. Lig", "II. Mahmud" (see ORDINAL_NEVER_ENDS)."""
    return language in ORDINAL_NEVER_ENDS and bool(_ORDINAL.search(text, max(start, end - 12), end))


def _on_clusters(boundaries: list[int], start: int, end: int) -> Span:
    """Widen a span to grapheme-cluster boundaries (a mark after a full stop stays with it)."""
    return boundaries[bisect_right(boundaries, start) - 1], boundaries[bisect_left(boundaries, end)]


# --------------------------------------------------------------------------------------------
# Words
# --------------------------------------------------------------------------------------------

def _kind(cluster: str) -> str:
    """W: letters, marks, digits (Han and Kana included), P: anything else (punctuation, symbols).
    Inside text not mostly in Han or Kana, a run of Han stays one word (朝鮮, 王昭祚), as WikiANN
    ko and en have it."""
    return "W" if _WORD_CHAR.match(cluster[0]) else "P"


def _abbreviation_like(word: str, ends_sentence: bool = False, language: str | None = None) -> bool:
    """Whether a period after `word` belongs to it. WikiANN splits a sentence's final period off
    whatever precedes it ("Washington, D.C ."), and keeps it inside a sentence on initials and
    abbreviations ("J.", "U.S.", "St."), and in Turkish on ordinals ("19.", "II.")."""
    if ends_sentence:
        return False
    last = _LAST_PART.split(word)[-1]
    return ("." in word or len(_CLUSTER.findall(last)) == 1 or is_abbreviation(last, language)
            or language in ORDINAL_NEVER_ENDS and bool(_NUMERAL.fullmatch(word)))


def _split_run(run: str, base: int, out: list[Span], last: bool = False,
               language: str | None = None) -> None:
    """Words of one run without whitespace (the rules in the module docstring); `last`: the run
    ends its sentence, so a final period is the sentence's, not an abbreviation's."""
    clusters = [(m.start() + base, m.end() + base, m.group()) for m in _CLUSTER.finditer(run)]
    kinds = [_kind(c[2]) for c in clusters]
    n = len(clusters)

    def is_word(k: int) -> bool:
        return 0 <= k < n and kinds[k] == "W"

    def char(k: int) -> str:
        return clusters[k][2] if 0 <= k < n else ""

    def only_punctuation_after(k: int) -> bool:
        return all(kind == "P" for kind in kinds[k:])

    i = 0
    while i < n:
        start = i
        if kinds[i] == "P":
            c = char(i)
            if c in REPEATED and char(i + 1) == c:  # "...", and wiki markup '' `` ** as WikiANN has it
                j = i
                while char(j + 1) == c:
                    j += 1
                if c in "'`" and is_word(j + 1):  # markup glued to a word stays on it: ''Blood
                    i = j + 1
                else:
                    out.append((clusters[i][0], clusters[j][1]))
                    i = j + 1
                    continue
            elif (i == 0 or kinds[i - 1] == "P") and (c in APOSTROPHES or c in LEADING) and is_word(i + 1):
                i += 1  # 's  -Raum  .uk  +1
            elif c in OPEN_QUOTES and (is_word(i + 1) or char(i + 1) in OPEN_QUOTES and is_word(i + 2)):
                i += 1 if is_word(i + 1) else 2  # «Динамо
            else:
                out.append(clusters[i][:2])
                i += 1
                continue
        j = i  # a word cluster: extend over word clusters and internal joiners
        while True:
            if is_word(j + 1):
                j += 1
            elif is_word(j + 2) and (char(j + 1) in INTERNAL or char(j + 1) in BETWEEN_DIGITS
                                     and char(j).isdigit() and char(j + 2)[0].isdigit()):
                j += 2
            elif is_word(j + 3) and char(j + 1) == "." and char(j + 2) in HYPHENS:
                j += 3  # St.-Andreas
            elif char(j + 1) in CLOSE_QUOTES and (is_word(j + 2) or char(j + 2) in HYPHENS
                                                  and is_word(j + 3)):
                j += 1  # 《유혹》을
            else:
                break
        word = "".join(c[2] for c in clusters[i:j + 1])
        following = char(j + 1)
        if (following in ABBREVIATION_MARKS and (j + 2 == n or kinds[j + 2] == "P" and char(j + 2) != ".")
                and (following != "." or _abbreviation_like(word, last and only_punctuation_after(j + 1),
                                                             language))):
            j += 1  # U.S.  J.  St.
        elif following in SCRIPT_COMMAS:
            j += 1  # غرناطة، as WikiANN ar / fa / ur / my keep it
        elif following in TRAILING_HYPHENS and j + 2 == n:
            j += 1  # Felsen-
        elif following == "+" and all(char(k) == "+" for k in range(j + 1, n)):
            j = n - 1  # C++
        else:
            while char(j + 1) in CLOSE_QUOTES:
                j += 1  # «Динамо»
        out.append((clusters[start][0], clusters[j][1]))
        i = j + 1


def mostly_han_or_kana(text: str) -> bool:
    """At least half of the letters are Han or Kana: WikiANN zh / ja split such text per character."""
    letters = [c for c in text if c.isalpha()]
    return bool(letters) and 2 * sum(bool(_CJK.match(c)) for c in letters) >= len(letters)


PER_CHARACTER_LANGUAGES = ("zh", "ja")  # WikiANN splits all their text per character, Latin too


def split_words(text: str, start: int = 0, end: int | None = None, tokenizer=None,
                language: str | None = None) -> list[Span]:
    """Word spans of text[start:end] (offsets into `text`). Text mostly in Han or Kana, or any
    text when `language` is zh or ja, is split into single characters as WikiANN zh / ja are."""
    end = len(text) if end is None else end
    spans: list[Span] = []
    per_character = language in PER_CHARACTER_LANGUAGES or mostly_han_or_kana(text[start:end])
    for run in _RUN.finditer(text, start, end):
        if per_character:
            spans += [m.span() for m in _CLUSTER.finditer(text, run.start(), run.end())]
        elif _PLAIN.fullmatch(run.group()):  # the common case: letters and digits only
            spans.append(run.span())
        else:
            _split_run(run.group(), run.start(), spans, last=run.end() == end, language=language)
    if tokenizer is not None:
        spans = [piece for span in spans for piece in _split_no_space_run(text, span, tokenizer)]
    return spans


def _split_no_space_run(text: str, span: Span, tokenizer) -> list[Span]:
    """Thai, Lao, Khmer, Myanmar runs: cut where the tokenizer's pieces start."""
    start, end = span
    if not _NO_SPACE_SCRIPT.match(text[start]):
        return [span]
    encoded = tokenizer(text[start:end], add_special_tokens=False, return_offsets_mapping=True)
    cuts = sorted({a for a, b in encoded["offset_mapping"] if b > a} | {0})
    # never inside a grapheme cluster (a Thai vowel sign or tone mark with its consonant)
    boundaries = {m.start() - start for m in _CLUSTER.finditer(text, start, end)}
    cuts = [c for c in cuts if c in boundaries] + [end - start]
    return [(start + a, start + b) for a, b in zip(cuts, cuts[1:]) if b > a]
