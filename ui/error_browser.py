"""The sentence browser of the Errors tab, also under Evaluate for an uploaded file: the sentences
where the two models differ, gold and both predictions side by side, filtered by kind of mistake
and entity type."""

from __future__ import annotations

from typing import NamedTuple

import gradio as gr
import pandas as pd

from fusion.evaluation.error_analysis import ERROR_KINDS, SentenceView, error_counts, select
from fusion.tagging.predict import Word, entities_from_words
from serve.markdown import plain
from serve.slots import SIDES
from ui.common import Parts, is_rtl

SHOWN_LIMIT = 300  # sentences listed at once; the counts always cover all of them
# "#": the sentence's number in its test set (a header "sentence" broke letter by letter on a phone)
SENTENCE_COLUMNS = ["#", "text", "baseline mistakes", "fusion mistakes"]
PANES = (("gold", "Gold"), ("baseline", "Baseline"), ("fusion", "Fusion"))
WRONG = " ✗"  # suffix of a predicted entity that does not match gold
HELP = (
    "**Where the models differ.** Each row is a sentence whose predictions differ between the two "
    "models. Against the gold entities, a mistake is *missed* (no predicted entity touches it), "
    "*wrong type* (right span, other type), *wrong boundary* (overlapping, other span) or "
    "*spurious* (touches no gold entity). Pick a row to see gold and both predictions; entities "
    "marked ✗ do not match gold. *Send to Compare* tags the sentence live.")


class Picked(NamedTuple):
    """The sentence picked in the list: gold and both predictions, and its text (for Compare)."""

    gold: list | None
    baseline: list | None
    fusion: list | None
    text: str


class Listed(NamedTuple):
    """The sentences listed under the filters, none of them picked yet (`picked_panes(None)`)."""

    shown: list
    note: str
    sentences: pd.DataFrame


class Shown(NamedTuple):
    """New sentences in the browser: all of them, those listed, their counts; none picked."""

    views: list
    shown: list
    note: str
    counts: pd.DataFrame | None
    sentences: pd.DataFrame | None


def entity_colours(types: list[str], base: dict[str, str]) -> dict[str, str]:
    colours = dict(base)
    colours.update({t + WRONG: "#e45756" for t in types})
    return colours


def counts_frame(views: list[SentenceView]) -> pd.DataFrame:
    counts = error_counts(views, list(SIDES))
    return pd.DataFrame([{"mistake": kind, **{side: counts[side][kind] for side in SIDES}}
                         for kind in ERROR_KINDS], columns=["mistake", *SIDES])


def _mistakes(view: SentenceView, side: str) -> str:
    return "; ".join(f"{e.kind} {e.label}" for e in view.errors.get(side, [])) or "none"


def sentence_frame(views: list[SentenceView]) -> pd.DataFrame:
    rows = [{"#": v.index, "text": v.text, "baseline mistakes": _mistakes(v, "baseline"),
             "fusion mistakes": _mistakes(v, "fusion")} for v in views[:SHOWN_LIMIT]]
    return pd.DataFrame(rows, columns=SENTENCE_COLUMNS)


def highlights(view: SentenceView, tags: list[str], gold: list[str] | None = None) -> list:
    """The sentence as a HighlightedText value; with `gold`, wrong entities are marked ✗."""
    words = [Word(token, start, end, tag) for token, (start, end), tag in zip(view.tokens, view.offsets(), tags)]
    text = view.text
    right = None
    if gold is not None:
        gold_words = [Word(t, s, e, g) for t, (s, e), g in zip(view.tokens, view.offsets(), gold)]
        right = {(e.start, e.end, e.label) for e in entities_from_words(text, gold_words)}
    segments, position = [], 0
    for entity in entities_from_words(text, words):
        if entity.start > position:
            segments.append((text[position:entity.start], None))
        wrong = right is not None and (entity.start, entity.end, entity.label) not in right
        segments.append((entity.text, entity.label + (WRONG if wrong else "")))
        position = entity.end
    if position < len(text):
        segments.append((text[position:], None))
    return segments


def sentence_values(views: list[SentenceView] | None, row: int | None) -> Picked:
    """Gold and both predictions of the `row`-th listed sentence, and its text."""
    if not views or row is None or not 0 <= row < min(len(views), SHOWN_LIMIT):
        return Picked(None, None, None, "")
    view = views[row]
    return Picked(highlights(view, view.gold), highlights(view, view.predicted["baseline"], view.gold),
                  highlights(view, view.predicted["fusion"], view.gold), view.text)


def picked_panes(picked: Picked | None) -> dict:
    """The three panes and *Send to Compare* for a picked sentence, by part name: right to left
    for a right-to-left sentence (Compare's rule), and hidden while no sentence is picked."""
    picked = picked or Picked(None, None, None, "")
    shown, rtl = picked.gold is not None, is_rtl(picked.text)
    panes = {key: gr.HighlightedText(value=getattr(picked, key), visible=shown, rtl=rtl) for key, _ in PANES}
    return panes | {"send": gr.Button(visible=shown), "text": picked.text}


def filtered(views: list[SentenceView] | None, kinds, entity_types) -> tuple[list[SentenceView], str]:
    chosen = select(views or [], kinds, entity_types)
    note = (f"{len(chosen):,} of {len(views or []):,} differing sentences match"
            + (f"; the first {SHOWN_LIMIT} are listed." if len(chosen) > SHOWN_LIMIT else "."))
    return chosen, note


def shown_values(views: list[SentenceView], note: str, kinds, entity_types) -> Shown:
    """What puts new `views` into a browser, listed under the current filters."""
    chosen, count_note = filtered(views, kinds, entity_types)
    return Shown(views, chosen, plain(note) + " " + count_note, counts_frame(views), sentence_frame(chosen))


def failed_values(message: str) -> Shown:
    return Shown([], [], message, None, None)


class ErrorBrowser:
    """Counts, filters, the sentence list and the picked sentence (with *Send to Compare*)."""

    def __init__(self, colours: dict[str, str], types: list[str], elem_prefix: str):
        self.parts = parts = Parts()
        gr.Markdown(HELP, elem_classes=["help"])
        parts["note"] = gr.Markdown()
        parts["counts"] = gr.Dataframe(counts_frame([]), label="Mistakes per model (all differing sentences)",
                                       interactive=False)
        with gr.Row():
            parts["kinds"] = gr.CheckboxGroup(list(ERROR_KINDS), value=list(ERROR_KINDS), label="Kinds of mistake")
            parts["types"] = gr.CheckboxGroup(types, value=types, label="Entity types")
        parts["sentences"] = gr.Dataframe(pd.DataFrame(columns=SENTENCE_COLUMNS), interactive=False, wrap=True,
                                          label="Sentences (pick one)", elem_id=f"{elem_prefix}-sentences",
                                          column_widths=["12%", "48%", "20%", "20%"], max_height=420)
        colour_map = entity_colours(types, colours)
        for key, label in PANES:  # shown once a sentence is picked (`picked_panes`)
            parts[key] = gr.HighlightedText(label=label, color_map=colour_map, show_legend=False, visible=False,
                                            elem_id=f"{elem_prefix}-{key}", elem_classes=["entities"])
        parts["send"] = gr.Button("Send to Compare", size="sm", visible=False, elem_id=f"{elem_prefix}-send")
        parts["text"] = gr.State("")
        parts["views"] = gr.State([])
        parts["shown"] = gr.State([])

    @property
    def pane_outputs(self) -> list:
        return self.parts.pick(*(key for key, _ in PANES), "send", "text")

    @property
    def outputs(self) -> list:
        """What `show` and `failed` set."""
        return self.parts.pick(*Shown._fields) + self.pane_outputs

    def show(self, views: list[SentenceView], note: str, kinds, entity_types) -> dict:
        shown = shown_values(views, note, kinds, entity_types)
        return self.parts.updates(shown) | self.parts.updates(picked_panes(None))

    def failed(self, message: str) -> dict:
        return self.parts.updates(failed_values(message)) | self.parts.updates(picked_panes(None))

    def wire(self, page) -> None:
        """Filters re-list the sentences; picking a row shows it; *Send to Compare* tags it."""
        parts = self.parts

        def on_filter(views, kinds, entity_types):
            chosen, note = filtered(views, kinds, entity_types)
            listed = Listed(chosen, note, sentence_frame(chosen))
            return parts.updates(listed) | parts.updates(picked_panes(None))

        gr.on([parts["kinds"].input, parts["types"].input], on_filter, parts.pick("views", "kinds", "types"),
              parts.pick(*Listed._fields) + self.pane_outputs, api_visibility="private")

        def on_pick(shown, event: gr.SelectData):
            row = event.index[0] if event is not None and event.index else None
            return parts.updates(picked_panes(sentence_values(shown, row)))

        parts["sentences"].select(on_pick, [parts["shown"]], self.pane_outputs, api_visibility="private")
        page.send_to_compare(parts["send"].click, lambda text: text, [parts["text"]])
