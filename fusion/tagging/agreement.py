"""How two taggers' entities on one text agree: one definition used by the status line, the
"where they disagree" view and the entity table alike.

Entities of the two models that overlap (share at least one character) form a *cluster*; a
cluster's agreement is

* ``same``: one entity each, same span and type;
* ``type differs``: both models marked it, with different types;
* ``boundary differs``: both marked it with one type, but with different spans;
* ``only <model>``: only that model marked anything there.

Every entity in a cluster carries the cluster's agreement, and the disagreement view colours the
whole stretch of text the cluster covers.
"""

from __future__ import annotations

from dataclasses import dataclass, field

SAME = "same"
TYPE_DIFFERS = "type differs"
BOUNDARY_DIFFERS = "boundary differs"


def only(side: str) -> str:
    return f"only {side}"


@dataclass(frozen=True)
class Segment:
    """A stretch of the text and its label (an entity type, an agreement, or None = plain)."""

    text: str
    label: str | None


@dataclass(frozen=True)
class EntityRow:
    side: str  # which of the two compared models found it
    text: str
    label: str  # PER, ORG, LOC...
    score: float
    start: int
    end: int
    agreement: str  # SAME, TYPE_DIFFERS, BOUNDARY_DIFFERS or only(side)


@dataclass
class Comparison:
    text: str
    sides: tuple[str, str]
    highlights: dict[str, list[Segment]]  # per side: the text cut at its entities
    disagreement: list[Segment]  # the text cut at clusters, labelled by agreement
    rows: list[EntityRow]  # every entity of both sides, by position
    counts: dict[str, int] = field(default_factory=dict)  # clusters per agreement

    def summary(self) -> str:
        """One sentence for the status line, in the same words as the view and the table."""
        first, second = self.sides
        found = {side: sum(row.side == side for row in self.rows) for side in self.sides}
        head = f"{first.capitalize()} found **{found[first]}** entities, {second} **{found[second]}**"
        differing = [f"{n} {agreement}" for agreement, n in self.counts.items()
                     if n and agreement != SAME]
        if differing:
            return f"{head}; where they differ: {', '.join(differing)}."
        if self.counts.get(SAME):
            return f"{head}; they agree on every one."
        return f"{head}; neither found an entity."


def highlight_segments(text: str, entities) -> list[Segment]:
    """The whole text cut into segments, each an entity (labelled by type) or plain text."""
    segments, position = [], 0
    for entity in sorted(entities, key=lambda e: e.start):
        if entity.start < position:  # predictions are disjoint; never draw an overlap twice
            continue
        if entity.start > position:
            segments.append(Segment(text[position:entity.start], None))
        segments.append(Segment(text[entity.start:entity.end], entity.label))
        position = entity.end
    if position < len(text):
        segments.append(Segment(text[position:], None))
    return segments


def _clusters(entities_by_side: dict[str, list]) -> list[list[tuple[str, object]]]:
    """Groups of (side, entity) linked by overlapping spans, in text order."""
    items = sorted(((e.start, e.end, side, e) for side, es in entities_by_side.items() for e in es),
                   key=lambda item: (item[0], item[1]))
    clusters, end = [], -1
    for start, stop, side, entity in items:
        if not clusters or start >= end:
            clusters.append([])
            end = stop
        clusters[-1].append((side, entity))
        end = max(end, stop)
    return clusters


def cluster_agreement(cluster: list[tuple[str, object]], sides: tuple[str, str]) -> str:
    present = {side for side, _ in cluster}
    if len(present) == 1:
        return only(next(iter(present)))
    if len({entity.label for _, entity in cluster}) > 1:
        return TYPE_DIFFERS
    spans = {side: {(e.start, e.end) for s, e in cluster if s == side} for side in sides}
    return SAME if len(cluster) == 2 and spans[sides[0]] == spans[sides[1]] else BOUNDARY_DIFFERS


def compare_entities(text: str, entities_by_side: dict[str, list]) -> Comparison:
    """Compare the entities (objects with text, label, score, start, end) of two sides."""
    sides = tuple(entities_by_side)
    if len(sides) != 2:
        raise ValueError(f"compare two sides, got {len(sides)}")
    rows, disagreement, counts, position = [], [], {}, 0
    for cluster in _clusters(entities_by_side):
        agreement = cluster_agreement(cluster, sides)
        counts[agreement] = counts.get(agreement, 0) + 1
        start = min(entity.start for _, entity in cluster)
        end = max(entity.end for _, entity in cluster)
        if start > position:
            disagreement.append(Segment(text[position:start], None))
        disagreement.append(Segment(text[start:end], agreement))
        position = end
        rows += [EntityRow(side, e.text, e.label, round(float(e.score), 3), e.start, e.end, agreement)
                 for side, e in cluster]
    if position < len(text):
        disagreement.append(Segment(text[position:], None))
    rows.sort(key=lambda row: (row.start, sides.index(row.side)))
    return Comparison(text, sides, {side: highlight_segments(text, es)
                                    for side, es in entities_by_side.items()},
                      disagreement, rows, counts)
