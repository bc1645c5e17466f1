"""Errors: the test sentences where the two models differ, gold and both predictions side by side,
filtered by kind of mistake and entity type. The same browser shows an uploaded file's sentences
in the Evaluate tab."""

from __future__ import annotations

import gradio as gr
import pandas as pd

from fusion.errors import ERROR_KINDS, SentenceView, error_counts, select, stored_views
from fusion.predict import Word, entities_from_words
from fusion.results import fusion_models, group_by_key, group_records, groups

from .common import SIDES, plain

SHOWN_LIMIT = 300  # sentences listed at once; the counts always cover all of them
SENTENCE_COLUMNS = ["sentence", "text", "baseline mistakes", "fusion mistakes"]
WRONG = " ✗"  # suffix of a predicted entity that does not match gold
HELP = (
    "**Where the models differ.** Each row is a sentence whose predictions differ between the two "
    "models. Against the gold entities, a mistake is *missed* (no predicted entity touches it), "
    "*wrong type* (right span, other type), *wrong boundary* (overlapping, other span) or "
    "*spurious* (touches no gold entity). Pick a row to see gold and both predictions; entities "
    "marked ✗ do not match gold. *Send to Compare* tags the sentence live.")


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
    rows = [{"sentence": v.index, "text": v.text, "baseline mistakes": _mistakes(v, "baseline"),
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


def sentence_values(views: list[SentenceView] | None, row: int | None) -> list:
    """(gold, baseline, fusion) highlights of the `row`-th listed sentence, and its text."""
    if not views or row is None or not 0 <= row < min(len(views), SHOWN_LIMIT):
        return [None, None, None, ""]
    view = views[row]
    return [highlights(view, view.gold), highlights(view, view.predicted["baseline"], view.gold),
            highlights(view, view.predicted["fusion"], view.gold), view.text]


def filtered(views: list[SentenceView] | None, kinds, entity_types) -> tuple[list[SentenceView], str]:
    chosen = select(views or [], kinds, entity_types)
    note = (f"{len(chosen):,} of {len(views or []):,} differing sentences match"
            + (f"; the first {SHOWN_LIMIT} are listed." if len(chosen) > SHOWN_LIMIT else "."))
    return chosen, note


def browser(colours: dict[str, str], types: list[str], elem_prefix: str) -> dict:
    """The sentence browser: counts, filters, the sentence list and the chosen sentence."""
    parts = {}
    gr.Markdown(HELP, elem_classes=["help"])
    parts["note"] = gr.Markdown()
    parts["counts"] = gr.Dataframe(counts_frame([]), label="Mistakes per model (all differing sentences)",
                                   interactive=False)
    with gr.Row():
        parts["kinds"] = gr.CheckboxGroup(list(ERROR_KINDS), value=list(ERROR_KINDS), label="Kinds of mistake")
        parts["types"] = gr.CheckboxGroup(types, value=types, label="Entity types")
    parts["sentences"] = gr.Dataframe(pd.DataFrame(columns=SENTENCE_COLUMNS), interactive=False, wrap=True,
                                      label="Sentences (pick one)", elem_id=f"{elem_prefix}-sentences",
                                      column_widths=["9%", "51%", "20%", "20%"], max_height=420)
    colour_map = entity_colours(types, colours)
    for key, label in (("gold", "Gold"), ("baseline", "Baseline"), ("fusion", "Fusion")):
        parts[key] = gr.HighlightedText(label=label, color_map=colour_map, show_legend=False,
                                        elem_id=f"{elem_prefix}-{key}")
    parts["send"] = gr.Button("Send to Compare", size="sm")
    parts["text"] = gr.State("")
    parts["views"] = gr.State([])
    parts["shown"] = gr.State([])
    return parts


def wire_browser(parts: dict) -> None:
    """Filters re-list the sentences; picking a row shows it."""
    def on_filter(views, kinds, entity_types):
        chosen, note = filtered(views, kinds, entity_types)
        return chosen, note, sentence_frame(chosen), None, None, None, ""

    filter_outputs = [parts["shown"], parts["note"], parts["sentences"], parts["gold"],
                      parts["baseline"], parts["fusion"], parts["text"]]
    gr.on([parts["kinds"].input, parts["types"].input], on_filter,
          [parts["views"], parts["kinds"], parts["types"]], filter_outputs, api_visibility="private")

    def on_pick(shown, event: gr.SelectData):
        return sentence_values(shown, event.index[0] if event is not None and event.index else None)

    parts["sentences"].select(on_pick, [parts["shown"]],
                              [parts["gold"], parts["baseline"], parts["fusion"], parts["text"]],
                              api_visibility="private")


def show_views(parts: dict, views: list[SentenceView], note: str, kinds, entity_types) -> list:
    """Outputs that put new `views` into a browser (in the order of `browser_outputs`)."""
    chosen, count_note = filtered(views, kinds, entity_types)
    return [views, chosen, plain(note) + " " + count_note, counts_frame(views), sentence_frame(chosen),
            None, None, None, ""]


def browser_outputs(parts: dict) -> list:
    return [parts["views"], parts["shown"], parts["note"], parts["counts"], parts["sentences"],
            parts["gold"], parts["baseline"], parts["fusion"], parts["text"]]


# --------------------------------------------------------------------------------------------
# The Errors tab: stored runs
# --------------------------------------------------------------------------------------------

def language_choices(records: list[dict], group_key: str | None) -> list[str]:
    group = group_by_key(records, group_key)
    chosen = group_records(records, group) if group else []
    return sorted({lang for r in chosen for lang in r["scores"]})


def seed_choices(records: list[dict], group_key: str | None) -> list:
    group = group_by_key(records, group_key)
    chosen = group_records(records, group) if group else []
    return sorted({r.get("seed") for r in chosen if r.get("seed") is not None})


def stored_error_views(records, runs_dir, group_key, language, seed, data_dir, sample_dir):
    group = group_by_key(records, group_key)
    if group is None or not language:
        return [], "Pick runs and a language."
    models = fusion_models(records, group)
    if not models:
        return [], "This group has no fusion runs."
    return stored_views(group_records(records, group), runs_dir, language, seed, models[0], data_dir,
                        sample_dir)


def build(records: list[dict], colours: dict[str, str], types: list[str]) -> dict:
    parts = {}
    found = groups(records)
    group_key = found[0].key if found else None
    languages = language_choices(records, group_key)
    seeds = seed_choices(records, group_key)
    with gr.Row():
        parts["group"] = gr.Dropdown([(g.label, g.key) for g in found], value=group_key, label="Runs")
        parts["seed"] = gr.Dropdown(seeds, value=seeds[0] if seeds else None, label="Seed")
        parts["language"] = gr.Dropdown(languages, value="de" if "de" in languages else None,
                                        label="Language")
    parts.update(browser(colours, types, "errors"))
    return parts
