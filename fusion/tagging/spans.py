"""Entities from IOB2 tags: the one reading of a tag sequence that prediction, scoring and error
analysis share."""

from __future__ import annotations


def entity_spans(tags: list[str]) -> set[tuple[str, int, int]]:
    """(type, start, end) of every entity under strict IOB2, as seqeval's strict mode counts them:
    an entity starts at B-X and continues over I-X; an I- with no B- before it is no entity."""
    spans, start, kind = set(), None, None
    for i, tag in enumerate(list(tags) + ["O"]):
        prefix, _, label = tag.partition("-")
        if start is not None and not (prefix == "I" and label == kind):
            spans.add((kind, start, i))
            start, kind = None, None
        if prefix == "B":
            start, kind = i, label
    return spans
