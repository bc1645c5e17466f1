"""Compare: both models' entities on any text, where they disagree, and every entity in a table."""

from __future__ import annotations

import math
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import gradio as gr
import pandas as pd

from fusion.batching import max_window_tokens
from fusion.budget import fit_to_budget
from fusion.compare import (BOUNDARY_DIFFERS, SAME, TYPE_DIFFERS, EntityRow, Segment,
                            compare_entities, highlight_segments, only)
from fusion.export import ComparisonExport, ExportFiles, Panel, write_exports
from fusion.languages import language_info, text_direction
from fusion.predict import clean_text, predict_each, segment

from .common import SIDES, BoundedCache, TaggerSlot, plain

TEXT_LIMIT = 5_000  # characters tagged per request
# Sub-word tokens tagged per request: what bounds its CPU time (5,000 Chinese characters are
# 10,000 tokens, 5,000 English ones about 1,200). bench/request_cost.py measures the cost per token.
TOKEN_BUDGET = 1_024

ENTITY_COLOURS = {"PER": "#8ecae6", "ORG": "#ffb703", "LOC": "#90be6d", "MISC": "#cdb4db"}
SPARE_COLOURS = ["#f4a261", "#e9c46a", "#a8dadc", "#ffafcc"]
AGREEMENT_COLOURS = {SAME: "#e0e0e0", only("baseline"): "#4C78A8", only("fusion"): "#F58518",
                     TYPE_DIFFERS: "#e45756", BOUNDARY_DIFFERS: "#b279a2"}
TABLE_COLUMNS = ["model", "entity", "type", "score", "start", "end", "agreement"]

PLACEHOLDER = "Type or paste a sentence, or pick an example below"
EMPTY_MESSAGE = "Type a sentence in any language, or pick an example below."
DISAGREEMENT_HELP = (
    "Entities of the two models that overlap are read together. Grey (same): both found the same "
    "entity. Blue / orange (only baseline / only fusion): only one model marked this text. Red "
    "(type differs): both did, with different types. Purple (boundary differs): same type, "
    "different boundaries. The table below uses the same words. Click a row of the table to see "
    "that word inside the model (Inside tab).")
DISAGREEMENT_TITLE = "Where they disagree"
DOWNLOAD_HELP = ("**Keep this comparison:** a web page (opens offline; both models' entities with "
                 "a legend), the entity table for a spreadsheet, or a picture (drawn when you ask).")


@dataclass
class CompareView:
    """Everything the Compare tab shows for one text."""

    text: str
    message: str
    direction: str  # "ltr" or "rtl"
    highlights: dict[str, list[tuple[str, str | None]]] = field(default_factory=dict)
    disagreement: list[tuple[str, str | None]] | None = None
    table: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=TABLE_COLUMNS))
    sentences: list[tuple[int, int]] = field(default_factory=list)  # how the text was cut
    rows: list[EntityRow] = field(default_factory=list)  # the table's entities, for the exports
    summary: str = ""  # the comparison in one plain sentence (no markup), for the exports


@dataclass(frozen=True)
class EntityPick:
    """A row of the entity table the user clicked: which model, and where in the text."""

    side: str
    text: str
    start: int
    end: int


def entity_colours(slots: dict[str, TaggerSlot]) -> dict[str, str]:
    """A colour per entity type the loaded checkpoints can predict (PER, ORG, LOC for PAN-X)."""
    types = sorted({t for s in slots.values() if s.ready for t in s.tagger.entity_types}) \
        or ["PER", "ORG", "LOC"]
    spare = iter(SPARE_COLOURS * (1 + len(types) // len(SPARE_COLOURS)))
    return {t: ENTITY_COLOURS.get(t) or next(spare) for t in types}


def as_value(segments) -> list[tuple[str, str | None]]:
    """fusion.compare segments -> a gr.HighlightedText value."""
    return [(segment.text, segment.label) for segment in segments]


def entity_frame(rows: list[EntityRow] | None = None) -> pd.DataFrame:
    return pd.DataFrame([{"model": row.side, "entity": row.text, "type": row.label, "score": row.score,
                          "start": row.start, "end": row.end, "agreement": row.agreement}
                         for row in rows or []], columns=TABLE_COLUMNS)


def fit_text(slots: dict[str, TaggerSlot], text) -> tuple[str, list[str]]:
    """The part of `text` one Compare tags (the character limit, then the token budget), and
    notes saying what was left out."""
    text = clean_text("" if text is None else str(text))
    notes = []
    if len(text) > TEXT_LIMIT:
        notes.append(f"The text has {len(text):,} characters; only the first {TEXT_LIMIT:,} were "
                     "tagged (a limit that keeps the app responsive for everyone).")
        text = text[:TEXT_LIMIT]
    ready = [slot for slot in slots.values() if slot.ready]
    if ready and text.strip():
        window = max_window_tokens(ready[0].tagger)
        fitted = fit_to_budget(text, ready[0].tagger.tokenizer, TOKEN_BUDGET, window)
        if not fitted.complete:
            kept = (f"only its first {fitted.end:,} characters were tagged" if fitted.end else
                    "its first word alone is longer, so nothing was tagged")
            notes.append(f"The text is {fitted.total_tokens:,} sub-word tokens; one Compare tags up to "
                         f"{TOKEN_BUDGET:,}, and up to {window:,} in one sentence (so that a whole class "
                         f"can use the app at once): {kept}. Compare the rest separately, or score a "
                         "whole file in *Evaluate your data*.")
            text = text[:fitted.end]
    return text, notes


def compare_texts(slots: dict[str, TaggerSlot], texts: list) -> list[CompareView]:
    """Tag each text with every loaded model and compare; never raises on odd text. All texts
    go through each model together (their sentences batched by length), and the two models run
    at once (`predict_each`): many people's Compare requests cost little more than one."""
    fitted = [fit_text(slots, text) for text in texts]
    to_tag = [index for index, (text, _) in enumerate(fitted) if text.strip()]
    ready = {side: slot.tagger for side, slot in slots.items() if slot.ready}
    tagged = predict_each(ready, [fitted[index][0] for index in to_tag]) if ready and to_tag else {}
    position = {index: k for k, index in enumerate(to_tag)}
    return [view_of(slots, text, notes, {side: tagged[side][position[index]] for side in tagged}
                    if index in position else {})
            for index, (text, notes) in enumerate(fitted)]


def compare_text(slots: dict[str, TaggerSlot], text) -> CompareView:
    """`compare_texts` of one text."""
    return compare_texts(slots, [text])[0]


def view_of(slots: dict[str, TaggerSlot], text: str, notes: list[str], predictions: dict) -> CompareView:
    """What Compare shows for `text`, from each loaded model's Prediction of it."""
    view = CompareView(text, "", text_direction(text))
    if not text.strip():
        view.message = "\n\n".join(notes) or EMPTY_MESSAGE  # e.g. one "word" over the budget
        return view
    notes += [f"The {side} model is not loaded: {plain(slot.error)}" for side, slot in slots.items()
              if not slot.ready]
    if predictions:
        first = next(iter(predictions.values()))  # both models cut text the same way
        view.sentences = [(sentence.start, sentence.end) for sentence in first.sentences]
        notes.insert(0, f"Tagged as {first.summary()}, each sentence on its own.")
    if len(predictions) == 2:
        comparison = compare_entities(text, {side: predictions[side].entities for side in SIDES})
        view.highlights = {side: as_value(segments) for side, segments in comparison.highlights.items()}
        view.disagreement = as_value(comparison.disagreement)
        view.rows = comparison.rows
        view.summary = comparison.summary().replace("**", "")
        notes.insert(0, comparison.summary())
    elif predictions:  # one model: its entities, nothing to compare with
        side, prediction = next(iter(predictions.items()))
        view.highlights = {side: as_value(highlight_segments(text, prediction.entities))}
        view.rows = [EntityRow(side, e.text, e.label, round(float(e.score), 3), e.start, e.end, only(side))
                     for e in prediction.entities]
        view.summary = f"Only the {side} model is loaded; it found {len(view.rows)} entities."
    view.table = entity_frame(view.rows)
    view.message = "\n\n".join(notes)
    return view


def export_of(view: CompareView, titles: dict[str, str], colours: dict[str, str]) -> ComparisonExport:
    """The comparison as the exports show it: each model's entities, then where they disagree."""
    panels = [Panel(titles.get(side, side), tuple(Segment(t, label) for t, label in view.highlights[side]),
                    colours) for side in SIDES if side in view.highlights]
    if view.disagreement is not None:
        panels.append(Panel(DISAGREEMENT_TITLE, tuple(Segment(t, label) for t, label in view.disagreement),
                            AGREEMENT_COLOURS))
    return ComparisonExport(view.text, view.direction, view.summary, tuple(panels), tuple(view.rows))


def export_folder() -> Path:
    return Path(tempfile.gettempdir()) / "lfe-exports"


# The last comparisons, by their text: the downloads are written after Compare has answered,
# from the view Compare made.
RECENT = BoundedCache(32)


def export_values(slots: dict[str, TaggerSlot], text, titles: dict[str, str],
                  colours: dict[str, str], tag=None) -> list:
    """The download buttons for the text last compared (in the order of `export_outputs`): the
    page and the table, and the button that draws the picture (drawing it took ~100 ms of CPU,
    more than tagging the text, for every Compare of every page). `tag`: as for `laid_out`."""
    files = write_files(viewed(slots, text, tag), titles, colours)
    return ([gr.Column(visible=files is not None)] + ([files.html, files.csv] if files else [None] * 2)
            + picture_not_drawn())


def picture_values(slots: dict[str, TaggerSlot], text, titles: dict[str, str],
                   colours: dict[str, str], tag=None) -> list:
    """The picture of the text last compared, drawn now (in the order of `picture_outputs`)."""
    files = write_files(viewed(slots, text, tag), titles, colours, picture=True)
    if files is None:
        return picture_not_drawn()
    return [gr.Button(visible=False), gr.DownloadButton(value=files.png, visible=True)]


def picture_not_drawn() -> list:
    """The picture's button shown, its download hidden (in the order of `picture_outputs`)."""
    return [gr.Button(visible=True), gr.DownloadButton(value=None, visible=False)]


def viewed(slots: dict[str, TaggerSlot], text, tag=None) -> CompareView:
    """The view Compare made of `text`, tagged again when the cache has dropped it: through
    `tag` (the app's batcher), else directly."""
    return laid_out(slots, text, tag=tag or (lambda again: RECENT.store(again, compare_text(slots, again))))


def export_outputs(parts: dict) -> list:
    return [parts["downloads"], parts["html"], parts["csv"]] + picture_outputs(parts)


def picture_outputs(parts: dict) -> list:
    return [parts["picture"], parts["png"]]


def write_files(view: CompareView, titles: dict[str, str], colours: dict[str, str],
                picture: bool = False) -> ExportFiles | None:
    """The HTML page and CSV of a comparison (and its PNG, with `picture`), or None when nothing
    was tagged."""
    if not view.highlights:
        return None
    return write_exports(export_of(view, titles, colours), export_folder(), picture=picture)


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


def build(slots: dict[str, TaggerSlot], examples: list[dict], titles: dict[str, str]) -> dict:
    """Lay out the Compare tab; returns its components (events are wired by `wire`)."""
    parts = {}
    parts["text"] = gr.Textbox(label="Text in any language", lines=3, max_lines=12,
                               placeholder=PLACEHOLDER, elem_id="text", elem_classes=["auto-dir"])
    parts["button"] = gr.Button("Compare", variant="primary", elem_id="compare-button")
    parts["examples"] = gr.Examples(
        examples=[[item["text"]] for item in examples], inputs=[parts["text"]],
        example_labels=[f"{language_info(item.get('language')).name}: {item['text']}"
                        for item in examples],
        label="Examples (click one)", examples_per_page=30, cache_examples=False) if examples else None
    parts["status"] = gr.Markdown(elem_id="compare-status")
    with gr.Row():
        for side in SIDES:
            parts[side] = gr.HighlightedText(label=titles[side], color_map=entity_colours(slots),
                                             show_legend=True, elem_id=f"{side}-entities")
    parts["disagreement"] = gr.HighlightedText(label="Where they disagree",
                                               color_map=AGREEMENT_COLOURS, show_legend=True,
                                               elem_id="disagreement")
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


# Browser-side: on a phone the result is a screen or two below the button; bring it into view.
SHOW_RESULT_JS = ("() => { if (window.innerWidth <= 700) document.querySelector('#compare-status')"
                  "?.scrollIntoView({behavior: 'smooth', block: 'start'}); return []; }")


def outputs(parts: dict) -> list:
    """What Compare answers with: plain values, the same for every caller, so that many
    people's requests can be answered by one batched call (see `layout_values`). The entity
    table follows with the layout: a page draws the two panes first, the table just after
    (drawing the Dataframe held the panes back by ~30 ms)."""
    return [parts["status"], parts["baseline"], parts["fusion"], parts["disagreement"]]


def values(view: CompareView) -> list:
    """The Compare tab's output values, in the order of `outputs`."""
    return [view.message, view.highlights.get("baseline"), view.highlights.get("fusion"), view.disagreement]


def fallback_values(message: str) -> list:
    return [message, None, None, None]


def layout_outputs(parts: dict) -> list:
    return [parts["baseline"], parts["fusion"], parts["disagreement"], parts["downloads"], parts["table"]]


def laid_out(slots: dict[str, TaggerSlot], text, tag=None) -> CompareView:
    """The view Compare made of `text` when it is still cached. When the cache has dropped it
    (a heavy load between a Compare and its layout), `tag(text)` tags it again, through the
    app's batcher; without `tag`, a view without tags (its direction and sentences, which
    `layout_values` and Inside's sentence picker need)."""
    text = "" if text is None else str(text)
    view = RECENT.find(text)
    if view is None and tag is not None and text.strip():
        tag(text)  # Compare stores its views
        view = RECENT.find(text)
    if view is not None:
        return view
    view = CompareView(text, "", text_direction(text))
    ready = next((slot for slot in slots.values() if slot.ready), None)
    if ready is not None and text.strip():
        view.sentences = [(s.start, s.end) for s in segment(text, ready.tagger.tokenizer)[1]]
    return view


def layout_values(view: CompareView) -> list:
    """What one page shows after its Compare (in the order of `layout_outputs`): the reading
    direction, the previous text's downloads hidden until this one's are drawn, and the entity
    table. Settings are set per page, after the batched Compare, which returns plain values."""
    rtl = view.direction == "rtl"
    return [gr.HighlightedText(rtl=rtl) for _ in range(3)] + [gr.Column(visible=False), view.table]
