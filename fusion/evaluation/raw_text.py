"""Pre-split data back to raw text, to measure what a user pasting text gets (bench/raw_text.py).

`detokenise` joins a sentence's tokens the way people write: a space between words, none before
closing punctuation or after opening brackets, none at all in Chinese and Japanese, and records
where every gold entity lands in the resulting string. `paragraph` joins consecutive sentences as
a person would: after final punctuation a space, after a fragment without it (WikiANN holds many
titles and list items) a line break; `cut_differences` says where sentence splitting cut it
differently from its sentences one by one (the only way a paragraph can score below its
sentences, since each sentence is tagged on its own). `span_scores` compares predicted entity
character spans with gold ones (exact start, end and type).

Only whitespace changes: every token's characters stay as the data has them (WikiANN's wiki-markup
quotes '' and ``, and the "#" that zh / ja write for a space, included), so a difference between
raw and pre-split F1 comes from sentence and word splitting alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fusion.tagging.spans import entity_spans

NO_SPACE_LANGUAGES = ("zh", "ja")  # written without spaces between words
_ATTACH_LEFT = set(",.;:!?)]}%…»”’،؛؟।॥።፣፤。，、；：！？）」』】〕")  # no space before
_ATTACH_RIGHT = set("([{«“‘¿¡（「『【〔")  # no space after
_FINAL = set(".!?…。！？।॥؟።")  # a sentence ending with one of these is followed by a space


@dataclass
class RawSentence:
    text: str
    entities: list[tuple[int, int, str]] = field(default_factory=list)  # (start, end, type), gold
    tokens: list[tuple[int, int]] = field(default_factory=list)  # where each gold token landed
    parts: list[tuple[int, int]] = field(default_factory=list)  # a paragraph's sentences (start, end)

    def spans_of(self, tags: list[str]) -> list[tuple[int, int, str]]:
        """Character spans (start, end, type) of the entities in `tags`, one tag per gold token
        (the gold tags, or a tagger's on the pre-split words)."""
        return [(self.tokens[a][0], self.tokens[b - 1][1], kind) for a, b, kind in gold_spans(tags)]


def gold_spans(tags: list[str]) -> list[tuple[int, int, str]]:
    """(first word, last word + 1, type) of each entity, under strict IOB2 as the scores count them."""
    return sorted((start, end, kind) for kind, start, end in entity_spans(tags))


def _joins_without_space(previous: str, token: str, language: str) -> bool:
    if language in NO_SPACE_LANGUAGES:
        return True
    return token[:1] in _ATTACH_LEFT or previous[-1:] in _ATTACH_RIGHT


def detokenise(tokens: list[str], tags: list[str], language: str) -> RawSentence:
    """The sentence as raw text, with its gold entities as character spans."""
    text, starts, ends = "", [], []
    for token in tokens:
        if text and not _joins_without_space(text, token, language):
            text += " "
        starts.append(len(text))
        text += token
        ends.append(len(text))
    sentence = RawSentence(text, tokens=list(zip(starts, ends)))
    sentence.entities = sentence.spans_of(tags)
    return sentence


def paragraph(sentences: list[RawSentence], language: str) -> RawSentence:
    """Sentences joined into one text as a person would write them; entity spans shifted."""
    text, entities, parts = "", [], []
    for sentence in sentences:
        if text:
            ends_sentence = text[-1] in _FINAL
            text += ("" if language in NO_SPACE_LANGUAGES else " ") if ends_sentence else "\n"
        entities += [(start + len(text), end + len(text), kind) for start, end, kind in sentence.entities]
        parts.append((len(text), len(text) + len(sentence.text)))
        text += sentence.text
    return RawSentence(text, entities, parts=parts)


def cut_differences(joined: RawSentence, found: list[tuple[int, int]],
                    alone: list[list[tuple[int, int]]]) -> tuple[list[int], list[int]]:
    """Where sentence splitting cut a paragraph differently from its sentences split one by one:
    (ends of sentences merged with the next, cuts inside a sentence made or missed only in the
    paragraph), as offsets into the paragraph. `found`: the paragraph's sentence spans; `alone`:
    each sentence's spans when split alone (offsets into that sentence)."""
    found_ends = {end for _, end in found[:-1]}
    merged = [end for _, end in joined.parts[:-1] if end not in found_ends]
    different = []
    for (start, end), spans in zip(joined.parts, alone):
        inside_alone = {start + e for _, e in spans[:-1]}
        inside_found = {e for e in found_ends if start < e < end}
        different += sorted(inside_alone ^ inside_found)
    return merged, different


def span_scores(gold: list[list[tuple[int, int, str]]],
                predicted: list[list[tuple[int, int, str]]]) -> dict:
    """Micro precision / recall / F1 over texts: an entity counts when start, end and type match."""
    true_positives = sum(len(set(g) & set(p)) for g, p in zip(gold, predicted))
    n_gold, n_predicted = sum(len(set(g)) for g in gold), sum(len(set(p)) for p in predicted)
    precision = true_positives / n_predicted if n_predicted else 0.0
    recall = true_positives / n_gold if n_gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "gold": n_gold, "predicted": n_predicted}


def is_markup_quote(token: str) -> bool:
    """WikiANN keeps wiki-markup quotes ('' and ``) as tokens; nobody types them."""
    return len(token) > 1 and all(c in "'`" for c in token)
