"""Compare: both models' entities on any text, where they disagree, and every entity in a table
(a row opens Inside on its word); the comparison as files to keep."""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import NamedTuple

import gradio as gr
import pandas as pd

from fusion.tagging.agreement import BOUNDARY_DIFFERS, SAME, TYPE_DIFFERS, Segment, highlight_segments, only
from fusion.text.languages import language_info
from serve.compare import TABLE_COLUMNS, CompareView, as_value, entity_frame
from serve.markdown import plain
from serve.paths import EXPORTS_DIR
from serve.slots import SIDES
from ui.common import Parts, safe, skip_all
from ui.export import ComparisonExport, ExportFiles, Panel, write_exports
from ui.link import InsidePlace
from ui.markup import SHOW_RESULT_JS

AGREEMENT_COLOURS = {SAME: "#e0e0e0", only("baseline"): "#4C78A8", only("fusion"): "#F58518",
                     TYPE_DIFFERS: "#e45756", BOUNDARY_DIFFERS: "#b279a2"}
PLACEHOLDER = "Type or paste a sentence, or pick an example below"
DISAGREEMENT_HELP = (
    "Entities of the two models that overlap are read together. Grey (same): both found the same "
    "entity. Blue / orange (only baseline / only fusion): only one model marked this text. Red "
    "(type differs): both did, with different types. Purple (boundary differs): same type, "
    "different boundaries. The table below uses the same words. Click a row of the table to see "
    "that word inside the model (Inside tab).")
DISAGREEMENT_TITLE = "Where they disagree"
DOWNLOAD_HELP = ("**Keep this comparison:** a web page (opens offline; both models' entities with "
                 "a legend), the entity table for a spreadsheet, or a picture (drawn when you ask).")
ANSWER_UNKNOWN = ("The right answer is known only for the examples under the text box, as they are "
                  "given: for a text typed or changed here it is unknown.")
ANSWER_NOTHING = "Compare an example first: its right answer then shows here."
WIKIANN_NOTE = ("WikiANN's labels were made automatically from Wikipedia's links, so a few are "
                "debatable.")


class Answer(NamedTuple):
    """What Compare answers with: plain values, the same for every caller, so that many
    people's requests can be answered by one batched call (see `Layout`)."""

    status: str
    baseline: list | None
    fusion: list | None
    disagreement: list | None


class Layout(NamedTuple):
    """What one page shows after its Compare: the reading direction of the three panes, the
    previous text's downloads hidden until this one's are drawn, and the entity table. Settings
    are set per page, after the batched Compare. The table follows the panes: drawing the
    Dataframe held the panes back by ~30 ms."""

    baseline: gr.HighlightedText
    fusion: gr.HighlightedText
    disagreement: gr.HighlightedText
    downloads: gr.Column
    table: pd.DataFrame


class Picture(NamedTuple):
    picture: gr.Button  # "draw the picture"
    png: gr.DownloadButton


class Exports(NamedTuple):
    downloads: gr.Column
    html: str | None
    csv: str | None
    picture: gr.Button
    png: gr.DownloadButton


@dataclass(frozen=True)
class EntityPick:
    """A row of the entity table the user clicked: which model, and where in the text."""

    side: str
    text: str
    start: int
    end: int


def answer_values(view: CompareView) -> Answer:
    return Answer(view.message, view.highlights.get("baseline"), view.highlights.get("fusion"), view.disagreement)


def layout_values(view: CompareView) -> Layout:
    rtl = view.direction == "rtl"
    return Layout(*(gr.HighlightedText(rtl=rtl) for _ in range(3)), gr.Column(visible=False), view.table)


def export_of(view: CompareView, titles: dict[str, str], colours: dict[str, str]) -> ComparisonExport:
    """The comparison as the exports show it: each model's entities, then where they disagree."""
    panels = [Panel(titles.get(side, side), tuple(Segment(t, label) for t, label in view.highlights[side]),
                    colours) for side in SIDES if side in view.highlights]
    if view.disagreement is not None:
        panels.append(Panel(DISAGREEMENT_TITLE, tuple(Segment(t, label) for t, label in view.disagreement),
                            AGREEMENT_COLOURS))
    return ComparisonExport(view.text, view.direction, view.summary, tuple(panels), tuple(view.rows))


def export_folder():
    return EXPORTS_DIR


def write_files(view: CompareView, titles: dict[str, str], colours: dict[str, str],
                picture: bool = False) -> ExportFiles | None:
    """The HTML page and CSV of a comparison (and its PNG, with `picture`), or None when nothing
    was tagged."""
    if not view.highlights:
        return None
    return write_exports(export_of(view, titles, colours), export_folder(), picture=picture)


def picture_not_drawn() -> Picture:
    """The picture's button shown, its download hidden."""
    return Picture(gr.Button(visible=True), gr.DownloadButton(value=None, visible=False))


def export_values(view: CompareView, titles: dict[str, str], colours: dict[str, str]) -> Exports:
    """The download buttons for a compared text: the page and the table, and the button that
    draws the picture (drawing it took ~100 ms of CPU, more than tagging the text, for every
    Compare of every page)."""
    files = write_files(view, titles, colours)
    return Exports(gr.Column(visible=files is not None), files.html if files else None,
                   files.csv if files else None, *picture_not_drawn())


def picture_values(view: CompareView, titles: dict[str, str], colours: dict[str, str]) -> Picture:
    """The picture of a compared text, drawn now."""
    files = write_files(view, titles, colours, picture=True)
    if files is None:
        return picture_not_drawn()
    return Picture(gr.Button(visible=False), gr.DownloadButton(value=files.png, visible=True))


def picked_entity(row_value, index=None, table: pd.DataFrame | None = None) -> EntityPick | None:
    """The entity of a clicked table row (gr.SelectData's row_value, else its row index)."""
    values = list(row_value) if row_value is not None else []
    if len(values) != len(TABLE_COLUMNS) and table is not None and index is not None:
        try:
            values = list(table.iloc[int(index[0] if isinstance(index, (list, tuple)) else index)])
        except (IndexError, TypeError, ValueError):
            return None
    if len(values) != len(TABLE_COLUMNS):
        return None
    row = dict(zip(TABLE_COLUMNS, values))
    try:
        start, end = float(row["start"]), float(row["end"])
    except (TypeError, ValueError):
        return None
    if row["model"] not in SIDES or math.isnan(start) or math.isnan(end):
        return None
    return EntityPick(row["model"], str(row["entity"]), int(start), int(end))


def inside_place(view: CompareView, pick: EntityPick | None) -> InsidePlace | None:
    """Where Inside opens for a picked entity: its model, its sentence, its first character."""
    return None if pick is None else InsidePlace(pick.side, view.sentence_at(pick.start), pick.start)


class GoldEntity(NamedTuple):
    """An entity of an example's right answer, placed in the compared text."""

    text: str
    label: str
    start: int
    end: int


class RightAnswer(NamedTuple):
    """What "Show the right answer" shows: a line, and the pane of the right answer's entities
    in the text (hidden while the answer is unknown or not asked for)."""

    answer_note: str
    answer: gr.HighlightedText


def example_of(examples: list[dict], text) -> dict | None:
    """The example with a right answer whose text this is, as given (none for typed text)."""
    text = str(text or "").strip()
    if not text:
        return None
    return next((item for item in examples if "gold" in item and item["text"].strip() == text), None)


def gold_entities(text: str, gold: list) -> list[GoldEntity] | None:
    """An example's right answer ([[words, type], ...] in the order of the text) placed in the
    text, each entity after the one before; None when one is not there."""
    entities, position = [], 0
    for words, label in gold:
        start = text.find(words, position)
        if start < 0:
            return None
        entities.append(GoldEntity(words, label, start, start + len(words)))
        position = start + len(words)
    return entities


def exactly_right(view: CompareView, side: str, entities: list[GoldEntity]) -> int:
    """How many entities of the right answer a model found exactly: the same words, the same type."""
    found = {(row.start, row.end, row.label) for row in view.rows if row.side == side}
    return sum((entity.start, entity.end, entity.label) in found for entity in entities)


def right_answer_values(examples: list[dict], view: CompareView) -> RightAnswer:
    """The right answer of the compared text when it is an example, and how many of its entities
    each model found exactly; else why there is none."""
    hidden = gr.HighlightedText(value=None, visible=False)
    if not view.text.strip():
        return RightAnswer(ANSWER_NOTHING, hidden)
    item = example_of(examples, view.text)
    entities = gold_entities(view.text, item["gold"]) if item else None
    if entities is None:
        return RightAnswer(ANSWER_UNKNOWN, hidden)
    found = [f"{side} {exactly_right(view, side, entities)} of {len(entities)}"
             for side in SIDES if side in view.highlights]
    note = (f"**The right answer:** {len(entities)} {'entity' if len(entities) == 1 else 'entities'}."
            + (f" Found exactly (same words, same type): {', '.join(found)}." if found else ""))
    origin = [f"{name}: {plain(item[key])}." for key, name in (("source", "Source"), ("licence", "Licence"))
              if isinstance(item.get(key), str)]
    if "WikiANN" in str(item.get("source")):
        origin.append(WIKIANN_NOTE)
    if origin:  # the file's words, escaped
        note += "\n\n" + " ".join(origin)
    value = as_value(highlight_segments(view.text, entities))
    return RightAnswer(note, gr.HighlightedText(value=value, visible=True, rtl=view.direction == "rtl"))


def answer_hidden() -> RightAnswer:
    """A new text's right answer stays hidden until asked for, so a class can guess first."""
    return RightAnswer("", gr.HighlightedText(value=None, visible=False))


def _build_right_answer(colours: dict[str, str]) -> Parts:
    parts = Parts()
    parts["reveal"] = gr.Button("Show the right answer", size="sm", elem_id="show-answer")
    parts["answer_note"] = gr.Markdown(elem_id="answer-note")
    # drawn as the models' panes are (chips that name their type)
    parts["answer"] = gr.HighlightedText(label="The right answer", color_map=colours, show_legend=False,
                                         visible=False, elem_id="right-answer", elem_classes=["entities"])
    return parts


def _build_input(examples: list[dict]) -> Parts:
    parts = Parts()
    parts["text"] = gr.Textbox(label="Text in any language", lines=3, max_lines=12,
                               placeholder=PLACEHOLDER, elem_id="text", elem_classes=["auto-dir"])
    parts["button"] = gr.Button("Compare", variant="primary", elem_id="compare-button")
    parts["examples"] = gr.Examples(
        examples=[[item["text"]] for item in examples], inputs=[parts["text"]],
        example_labels=[f"{language_info(item.get('language')).name}: {item['text']}"
                        for item in examples],
        label="Examples (click one)", examples_per_page=30, cache_examples=False) if examples else None
    return parts


def _build_result(titles: dict[str, str], colours: dict[str, str]) -> Parts:
    parts = Parts()
    parts["status"] = gr.Markdown(elem_id="compare-status")
    # Each chip names its type ("Paris LOC"), not only its colour: Gradio writes the label on
    # the chip only without the legend
    with gr.Row():
        for side in SIDES:
            parts[side] = gr.HighlightedText(label=titles[side], color_map=colours, show_legend=False,
                                             elem_id=f"{side}-entities", elem_classes=["entities"])
    parts["disagreement"] = gr.HighlightedText(label="Where they disagree", color_map=AGREEMENT_COLOURS,
                                               show_legend=False, elem_id="disagreement",
                                               elem_classes=["entities"])
    parts.update(_build_right_answer(colours))
    gr.Markdown(DISAGREEMENT_HELP, elem_classes=["help"])
    parts["table"] = gr.Dataframe(entity_frame(), label="Entities (click a row to see it inside the model)",
                                  interactive=False, elem_id="entity-table", wrap=True)
    with gr.Column(elem_id="downloads", visible=False) as parts["downloads"]:
        gr.Markdown(DOWNLOAD_HELP, elem_classes=["help"])
        with gr.Row():
            parts["html"] = gr.DownloadButton("Web page (HTML)", size="sm", elem_id="download-html")
            parts["csv"] = gr.DownloadButton("Entities (CSV)", size="sm", elem_id="download-csv")
            parts["picture"] = gr.Button("Picture (PNG)", size="sm", elem_id="draw-png")
            parts["png"] = gr.DownloadButton("Download the picture", size="sm", visible=False,
                                             elem_id="download-png")
    return parts


class CompareTab:
    """The tab, and the page's comparer: the Page sends texts here (`compare_on`), and shows a
    linked text's answer through `answer`."""

    def __init__(self, page, tab: gr.Tab):
        self.page, self.services = page, page.services
        self.parts = _build_input(self.services.examples)
        self.parts.update(_build_result(page.titles, page.colours))
        self.text = self.parts["text"]
        self.answer_outputs = self.parts.pick(*Answer._fields) + [page.compared]
        page.comparer = self
        page.add_layout(self.parts.pick(*Layout._fields), lambda view, sentence, word: self.parts.updates(
            layout_values(view)), on_failure=lambda message: {self.parts["table"]: entity_frame()})
        page.add_link_step(self.exports_then)
        page.add_layout(self.parts.pick(*RightAnswer._fields),
                        lambda view, sentence, word: self.parts.updates(answer_hidden()))
        # Progress shows as a timer on the two panes: a full loader on each output animates every
        # frame while the request waits, which took the browser's main thread (and a core) from
        # the request itself. LFE_COMPARE_QUEUED sends the page through Gradio's queue instead,
        # which shows each person their place in line.
        batch = max(1, self.services.settings.compare_batch)
        self.compare_event = {"queue": self.services.settings.compare_queued, "concurrency_limit": 2 * batch,
                              "concurrency_id": "compare", "show_progress": "minimal",
                              "show_progress_on": self.parts.pick("baseline", "fusion")}

    def answer(self, view: CompareView, laid_out: bool = False) -> dict:
        """The answer's values; `laid_out`: the panes as settings updates that carry their values
        too, for a call that sets both at once (a link's restore, whose layout sets the panes'
        direction: one update per component, so it must hold both)."""
        values = answer_values(view)
        if laid_out:
            rtl = view.direction == "rtl"
            values = values._replace(**{name: gr.HighlightedText(value=getattr(values, name), rtl=rtl)
                                        for name in ("baseline", "fusion", "disagreement")})
        return self.parts.updates(values) | {self.page.compared: view.text}

    def on_compare(self, text) -> dict:
        """Requests that arrive together are answered by one batched call (serve/compare.py):
        each model runs once over all of them. The batching is ours, not Gradio's, so a page's
        click can skip Gradio's queue: one direct request instead of a join and an event
        stream (~60 ms alone)."""
        return self.answer(self.services.compare.compare(text))

    def compare_on(self, listen, scroll=None, **api) -> None:
        """`listen` (gr.on of triggers, event.then) compares the text box; then this page's
        layout of it, its downloads (one slot of their own, so drawing a picture never holds
        up a Compare), the link, and a scroll (by default, on a phone, to the result)."""
        event = listen(self.on_compare, [self.text], self.answer_outputs, **self.compare_event,
                       **(api or {"api_visibility": "private"}))
        laid_out = self.page.lay_out(event)
        self.exports_then(laid_out)
        self.page.synced(laid_out, text_changed=True).then(None, None, None, js=scroll or SHOW_RESULT_JS)

    def exports_then(self, event):
        def on_exports(text):
            return self.parts.updates(export_values(self.services.compare.view(text), self.page.titles,
                                                    self.page.colours))

        hidden = {"downloads": gr.Column(visible=False), "html": None, "csv": None}
        event.then(safe(on_exports, lambda message: self.parts.updates(hidden)), [self.page.compared],
                   self.parts.pick(*Exports._fields), api_visibility="private", concurrency_limit=1,
                   concurrency_id="exports", show_progress="hidden")
        return event

    def on_picture(self, text) -> dict:
        return self.parts.updates(picture_values(self.services.compare.view(text), self.page.titles,
                                                 self.page.colours))

    def on_right_answer(self, text) -> dict:
        """The compared text's right answer (its view is the one Compare made, kept)."""
        return self.parts.updates(right_answer_values(self.services.examples, self.services.compare.view(text)))

    def on_entity(self, text, table, evt: gr.SelectData) -> InsidePlace | None:
        """From an entity to the inside: a row of the table opens Inside on its word."""
        pick = picked_entity(evt.row_value, evt.index, table)
        return None if pick is None else inside_place(self.services.compare.view(text, tagged=False), pick)

    def wire(self, page) -> None:
        self.compare_on(functools.partial(gr.on, [self.parts["button"].click, self.text.submit]),
                        api_name="compare")
        if self.parts["examples"] is not None:  # an example click fills the box, then compares
            self.compare_on(self.parts["examples"].load_input_event.then)
        # the picture is drawn when asked for, in the downloads' slot
        self.parts["picture"].click(safe(self.on_picture, skip_all), [page.compared],
                                    self.parts.pick(*Picture._fields), api_visibility="private",
                                    concurrency_limit=1, concurrency_id="exports")
        page.open_inside(self.parts["table"].select, self.on_entity, [page.compared, self.parts["table"]])
        self.parts["reveal"].click(safe(self.on_right_answer, lambda message: {self.parts["answer_note"]: message}),
                                   [page.compared], self.parts.pick(*RightAnswer._fields), api_visibility="private",
                                   show_progress="hidden")
