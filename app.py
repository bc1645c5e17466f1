"""Layer Fusion Explorer: the Gradio app.

    python app.py [--baseline DIR] [--fusion DIR] [--runs DIR] [--host 127.0.0.1] [--port 7860] [--share]

Tabs: Compare (baseline vs fusion entities on any text), Inside (attention and AIF gates),
Layers (where each entity emerges, read by a probe per layer), Results (stored per-language
evaluation runs, the layer probes, intermediate tasks), Errors and Evaluate your data (score both models on
an uploaded CoNLL file). This file loads the two checkpoints, writes the header, puts the tabs
together and wires their events, the page link (state in the URL) and the guided tour; each tab
lives in `ui/` and every computation in `fusion`. Nothing is loaded at import time.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import gradio as gr

from fusion import onnx_runtime
from fusion.checkpoint import CheckpointError, load_tagger
from fusion.encoders import ENCODER_DESCRIPTIONS, OFFLINE_ENCODER
from ui import (compare_tab, errors_tab, evaluate_tab, inside_tab, intermediate_section, layers_section,
                layers_tab, results_tab, tour)
from ui.common import (COPY_LINK_JS, LINK_KEYS, SIDES, PageState, TaggerSlot, code, linked_tab_js, opened_note,
                       page_query, plain, read_page, relative, replace_url_js, safe, safe_rows, select_tab_js,
                       state_of)
from ui.batcher import Busy, RequestBatcher
from ui.foreground import CancelFlags, Cancelled, Foreground

ROOT = Path(__file__).resolve().parent
CHECKPOINTS = ROOT / "checkpoints"
RUNS_DIR = ROOT / "assets" / "runs"
PROBE_RUNS_DIR = ROOT / "assets" / "probe_runs"
SAMPLES_DIR = ROOT / "assets" / "error_samples"
EXAMPLES_FILE = ROOT / "assets" / "examples.json"

PAPER_URL = "https://arxiv.org/abs/2205.08497"
PAPER = ("Chen et al. 2022, *Feature Aggregation in Zero-Shot Cross-Lingual Transfer Using "
         "Multilingual BERT*")
CONCURRENCY = 2  # requests run at once (2 CPU cores); the rest wait in the queue
# Sessions whose page settings the server keeps; past it the oldest are dropped (a browser's
# session also ends when its tab closes, a script client's never does). Gradio copies every
# component's settings into each session, ~0.9 MB for this page (bench/load.py: +440 MiB after
# 500 sessions), so this bounds the server's memory at about 1.2 × idle.
SESSION_CAPACITY = 300
COMPARE_BATCH = 8  # Compare requests waiting together are answered by one call (bench/load.py)
QUEUE_SIZE = 64  # requests waiting, in Gradio's queue and in Compare's batcher

CSS = """
.auto-dir textarea { unicode-bidi: plaintext; text-align: start; }  /* RTL text shows RTL */
.help { color: var(--body-text-color-subdued); font-size: 0.95em; }
#intro h1 { margin-bottom: 0.1em; }
#page-tools { align-items: flex-start; }
#copy-status, #link-note { margin-top: calc(4px - var(--layout-gap, 16px)); }  /* no gap while empty */
/* The long header shows in full on wide screens; on a phone it folds into an accordion, so the
   text box and the Compare button are on the first screen. */
@media (min-width: 701px) { .narrow-only { display: none !important; } }
@media (max-width: 700px) {
  .wide-only { display: none !important; }
  .gradio-container { padding-left: 6px !important; padding-right: 6px !important; }
  main.contain, .main, .wrap { min-width: 0 !important; }
  #intro h1 { font-size: 1.45em; }
  #intro-short p { font-size: 0.92em; margin: 0; }
  #copy-link { max-width: none; }
  .js-plotly-plot, .plot-container, .svg-container { max-width: 100% !important; }
  table { font-size: 0.85em; }
  .modebar-container { display: none !important; }  /* it covered the plot titles; pinch and drag still zoom */
  /* the 21 examples on one line each, so the results are not three screens further down */
  button.gallery-item { padding: 2px 8px !important; max-width: 100%; }
  button.gallery-item > div { white-space: nowrap !important; overflow: hidden; text-overflow: ellipsis;
                              max-width: calc(100vw - 80px); font-size: 0.85em; }
}
"""
ENCODER_NOTE = (
    "\n\n> **Encoder note.** The paper fine-tunes mBERT (`bert-base-multilingual-cased`). These "
    "checkpoints use **multilingual-e5-small, not mBERT**: a 12-layer, 384-wide BERT-architecture "
    "encoder with the XLM-R vocabulary, the one multilingual model that runs offline here. Expect "
    "different numbers from the paper's; train with `--encoder bert-base-multilingual-cased` for "
    "its setting.")

# --------------------------------------------------------------------------------------------
# Loading: checkpoints, examples
# --------------------------------------------------------------------------------------------


def find_fusion_checkpoint(root: Path = CHECKPOINTS) -> Path | None:
    """The shipped fusion checkpoint: the first `checkpoints/fusion-l<k>` holding a config."""
    found = sorted(root.glob("fusion-l*"), key=lambda p: (len(p.name), p.name))
    found = [p for p in found if (p / "tagger_config.json").is_file()]
    return found[0] if found else None


def load_slot(side: str, directory, merge: bool = True) -> TaggerSlot:
    """Load a checkpoint; a missing or broken one gives a slot holding the error message.
    merge=False keeps LoRA adapters apart from the shared base weights (see attach_runtimes)."""
    if directory is None:
        return TaggerSlot(side, "", error=f"no {side} checkpoint found (the app looks for "
                                          f"checkpoints/{'fusion-l*' if side == 'fusion' else side}; "
                                          f"pass --{side} DIR)")
    try:
        return TaggerSlot(side, str(directory), tagger=load_tagger(directory, merge=merge))
    except CheckpointError as error:
        return TaggerSlot(side, str(directory), error=str(error))
    except Exception as error:  # noqa: BLE001 — the app always starts; the header says why
        return TaggerSlot(side, str(directory), error=f"could not load: {type(error).__name__}: {error}")


def load_slots(baseline_dir, fusion_dir, merge: bool = True) -> dict[str, TaggerSlot]:
    slots = {}
    for side, directory in (("baseline", baseline_dir), ("fusion", fusion_dir)):
        started = time.time()
        slots[side] = load_slot(side, directory, merge)
        state = (f"loaded in {time.time() - started:.1f} s" if slots[side].ready
                 else f"NOT loaded: {slots[side].error}")
        print(f"{side}: {directory} {state}", file=sys.stderr)
    return slots


def attach_runtimes(slots: dict[str, TaggerSlot], threads: int):
    """The loaded taggers get their ONNX Runtime forward in the background (fusion/onnx_runtime.py);
    each runs on torch until then, or for good if the export fails (the log says why). Taggers
    loaded with merge=False keep their LoRA adapters apart for torch (Inside), which saves a copy
    of every layer; one that stays on torch has them merged, its fastest torch forward."""

    def report(side, attached):
        if attached.error is None:
            state = f"runs on ONNX Runtime (ready in {attached.seconds:.1f} s)"
        else:
            state = f"stays on torch: {attached.error}"
            slots[side].tagger.merge_adapters()
        print(f"{side}: {state}", file=sys.stderr)

    ready = {side: slot for side, slot in slots.items() if slot.ready}
    return onnx_runtime.attach_in_background({side: slot.tagger for side, slot in ready.items()}, max(1, threads),
                                             report, {side: slot.directory for side, slot in ready.items()})


def load_examples(path: Path = EXAMPLES_FILE) -> list[dict]:
    """[{"language": code, "text": ...}]; a missing or malformed file gives no examples."""
    try:
        items = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    if not isinstance(items, list):
        return []
    return [item for item in items if isinstance(item, dict) and isinstance(item.get("text"), str)
            and item["text"].strip()]


# --------------------------------------------------------------------------------------------
# Header
# --------------------------------------------------------------------------------------------


def describe_encoder(name: str) -> str:
    if name in ENCODER_DESCRIPTIONS:
        return ENCODER_DESCRIPTIONS[name]
    return f"{code(name)} ({'local model' if Path(name).is_dir() else 'Hugging Face'})"


def slot_title(slot: TaggerSlot) -> str:
    if slot.side == "baseline":
        return "Baseline (last layer)"
    layer = slot.tagger.config.fusion_layer if slot.ready else None
    return f"Fusion (last layer + layer {layer}, AIF gate)" if layer is not None else "Fusion"


INTRO = ("Two named-entity taggers trained on English only, tried on any language: the baseline "
         "reads the encoder's last layer, the fusion model also a lower one.")


def title_markdown(slots: dict[str, TaggerSlot]) -> str:
    """The title every screen shows; a model that did not load is named here too."""
    missing = [side for side, slot in slots.items() if not slot.ready]
    warning = (f"\n\n⚠️ Not loaded: {', '.join(missing)} (see *About these models*)." if missing else "")
    return "# Layer Fusion Explorer" + warning


def header_markdown(slots: dict[str, TaggerSlot]) -> str:
    """The details under the title: what the models are, each checkpoint, the encoder note."""
    lines = []
    for slot in slots.values():
        if not slot.ready:
            lines.append(f"- **{slot.side}**: ⚠️ not loaded: {plain(slot.error)}")
            continue
        config = slot.tagger.config
        training = slot.tagger.checkpoint_info.get("training", {})
        reads = ("reads the last layer" if config.fusion_layer is None
                 else f"reads the last layer + layer {config.fusion_layer} through the AIF gate")
        dev = training.get("dev_f1")
        dev_text = (f" · English dev F1 {100 * dev:.1f} (epoch {plain(training.get('best_epoch', '?'))})"
                    if isinstance(dev, (int, float)) else "")
        lines.append(f"- **{slot.side}** {plain(relative(slot.directory))} · encoder "
                     f"{describe_encoder(config.encoder)} · {reads}{dev_text}")
    encoders = {s.tagger.config.encoder for s in slots.values() if s.ready}
    return (
        "A named-entity tagger trained on **English** WikiANN only, applied with no further "
        "training to text in any language (zero-shot cross-lingual transfer). The **baseline** "
        "tags from the encoder's last layer; the **fusion** model also feeds one lower layer "
        "through a gated fusion module (AIF), after "
        f"[{PAPER}]({PAPER_URL}) (arXiv 2205.08497).\n\n" + "\n".join(lines)
        + (ENCODER_NOTE if OFFLINE_ENCODER in encoders else ""))


# --------------------------------------------------------------------------------------------
# Putting the tabs together
# --------------------------------------------------------------------------------------------


def build_demo(slots: dict[str, TaggerSlot], runs_dir=RUNS_DIR, examples: list[dict] | None = None,
               data_dir=None, samples_dir=SAMPLES_DIR, probes_dir=layers_tab.PROBES_DIR,
               probe_runs_dir=PROBE_RUNS_DIR, compare_batch: int = COMPARE_BATCH,
               compare_queued: bool = False) -> gr.Blocks:
    examples = load_examples() if examples is None else examples
    probes = layers_tab.LazyProbes(probes_dir)  # loaded when the Layers tab first asks
    reference = next((s.tagger for s in slots.values() if s.ready), None)
    n_layers, n_heads = (reference.n_layers, reference.n_heads) if reference else (12, 12)
    fusion = slots.get("fusion")
    loaded_fusion = fusion.model if fusion is not None and fusion.ready else None
    chosen_layer = fusion.tagger.config.fusion_layer if loaded_fusion else None
    records, _ = results_tab.read_results(runs_dir)
    # Background work steps aside while anyone compares (ui/foreground.py): the Results tab's
    # start-up bootstrap (up to 5 s per language), and the scoring of uploads.
    foreground, cancel_flags = Foreground(), CancelFlags()
    results_tab.warm_up(runs_dir, records, loaded_fusion, between=lambda: foreground.wait_until_quiet(limit=5.0))
    titles = {side: slot_title(slots[side]) if side in slots else side for side in SIDES}
    default_group, default_fusion = results_tab.default_choice(records, loaded_fusion)
    defaults = PageState(layer=n_layers, group=default_group, fusion=default_fusion)

    # delete_cache: uploads and served files older than a day are removed every hour.
    with gr.Blocks(title="Layer Fusion Explorer", analytics_enabled=False,
                   delete_cache=(3600, 86400)) as demo:
        # Wide screens show the whole header; a phone a short line and the rest folded away.
        gr.Markdown(title_markdown(slots), elem_id="intro")
        gr.Markdown(header_markdown(slots), elem_id="header", elem_classes=["wide-only"])
        gr.Markdown(INTRO, elem_id="intro-short", elem_classes=["narrow-only"])
        with gr.Accordion("About these models", open=False, elem_classes=["narrow-only"]):
            gr.Markdown(header_markdown(slots))
        with gr.Row(elem_id="page-tools"):
            with gr.Column(scale=5):
                guide = tour.build()
            with gr.Column(scale=1, min_width=150):
                copy_link = gr.Button("Copy link to this view", size="sm", elem_id="copy-link")
                copy_status = gr.Markdown(elem_id="copy-status")
                link_note = gr.Markdown(elem_id="link-note")
        # The text last compared, which the Inside tab explains: a hidden box rather than a State,
        # so the /inside endpoint takes a text too.
        compared = gr.Textbox(visible=False)
        link = gr.Textbox(visible=False)  # the page state as a query string, for the address bar
        # the selected tab's id, for the link; a hidden box, not a gr.State, because the
        # browser-side tab switch (select_tab_js) reads it
        page_tab = gr.Textbox("compare", visible="hidden", elem_id="page-tab")
        # Run records are server-wide, not per-session state: a gr.State is copied into every
        # session, and ~40 records per session made memory grow with each new visitor.
        runs = {"records": records}
        colours = compare_tab.entity_colours(slots)
        with gr.Tabs(elem_id="main-tabs", overflow_behavior="wrap") as tabs:  # every tab in sight on a phone
            with gr.Tab("Compare", id="compare"):
                compare = compare_tab.build(slots, examples, titles)
            with gr.Tab("Inside", id="inside") as inside_page:
                inside = inside_tab.build(n_layers, n_heads)
            with gr.Tab("Layers", id="layers") as layers_page:
                layers = layers_tab.build()
            with gr.Tab("Results", id="results"):
                results = results_tab.build(records, loaded_fusion)
            with gr.Tab("Errors", id="errors"):
                errors = errors_tab.build(records, colours, list(colours))
            with gr.Tab("Evaluate your data", id="evaluate"):
                evaluate = evaluate_tab.build()
                upload_errors = errors_tab.browser(colours, list(colours), "upload")
        tab_ids = {tab.label: tab.id for tab in tabs.children if isinstance(tab, gr.Tab)}

        # The link: after every change of what the page shows, the state goes into the address
        # bar (a round trip computes the query, then the browser writes it without reloading).
        link_inputs = [compared, page_tab, inside["side"], inside["layer"], inside["head"],
                       inside["sentence"], inside["focus"], results["group"], results["fusion"],
                       results["group_by"]]

        def on_link(*values):
            return page_query(state_of(*values, defaults=defaults), defaults)

        def synced(event):
            return event.then(safe(on_link, lambda m: (gr.skip(), m)), link_inputs, [link, link_note],
                              api_visibility="private", show_progress="hidden",
                              ).then(None, [link], None, js=replace_url_js())

        copy_link.click(None, None, [copy_status], js=COPY_LINK_JS)

        def on_tab(evt: gr.SelectData):
            return tab_ids.get(evt.value, "compare")

        synced(tabs.select(on_tab, None, page_tab, api_visibility="private"))

        # Compare tags; the Inside tab computes attentions only when it is looked at. Requests
        # that arrive together are answered by one batched call (each model runs once over all
        # of them); what differs per page (reading direction, Inside's sentence picker) is set
        # next by a cheap call of that page's own.
        inside_inputs = inside_tab.inputs(inside, compared)
        compare_outputs = compare_tab.outputs(compare) + [compared]
        layout_outputs = compare_tab.layout_outputs(compare) + [inside["sentence"], inside["focus"]]

        def compare_rows(requests):
            with foreground.request():  # a file being scored waits meanwhile
                views = compare_tab.compare_texts(slots, [text for text, in requests])
            for view in views:
                compare_tab.RECENT.store(view.text, view)  # its downloads are drawn next, off Compare's path
            return [compare_tab.values(view) + [view.text] for view in views]

        def compare_fallback(message):
            return compare_tab.fallback_values(message) + [""]

        # The batching is ours (ui/batcher.py), not Gradio's, so that a page's click can skip
        # Gradio's queue: one direct request instead of a join and an event stream (~60 ms
        # alone). API clients still come through the queue, two batches' worth at once, so the
        # next batch is waiting in the batcher while one runs.
        compare_batched = RequestBatcher(safe_rows(compare_rows, compare_fallback), max_batch=compare_batch,
                                         max_waiting=QUEUE_SIZE)

        def on_compare(text):
            try:
                return compare_batched((text,))
            except Busy as busy:
                return compare_fallback(f"The server is busy: {busy}.")

        # Progress shows as a timer on the two panes: a full loader on each of the five outputs
        # animates every frame while the request waits, which took the browser's main thread
        # (and a core) from the request itself. `compare_queued` (--compare-queued) sends the
        # page through the queue instead, which shows each person their place in line.
        compare_event = {"queue": compare_queued, "concurrency_limit": 2 * max(1, compare_batch),
                         "concurrency_id": "compare", "show_progress": "minimal",
                         "show_progress_on": [compare["baseline"], compare["fusion"]]}

        def on_layout(text, sentence=0, focus=None):
            view = compare_tab.laid_out(slots, text, tag=on_compare)
            choices = inside_tab.sentence_choices(view.text, view.sentences)
            indices = [index for _, index in choices]
            picked = sentence if sentence in indices else (indices[0] if indices else None)
            return compare_tab.layout_values(view) + [gr.Dropdown(choices=choices, value=picked), focus]

        # on failure the table is emptied, not left showing the previous text's entities
        on_layout = safe(on_layout, lambda m: [compare_tab.entity_frame() if output is compare["table"]
                                               else gr.skip() for output in layout_outputs])

        def on_exports(text):
            return compare_tab.export_values(slots, text, titles, colours, tag=on_compare)

        def exports_then(event):
            event.then(safe(on_exports, lambda m: [gr.Column(visible=False), None, None, gr.skip(), gr.skip()]),
                       [compared], compare_tab.export_outputs(compare), api_visibility="private",
                       concurrency_limit=1, concurrency_id="exports", show_progress="hidden")

        def on_picture(text):
            return compare_tab.picture_values(slots, text, titles, colours, tag=on_compare)

        # the picture is drawn when asked for, in the downloads' slot
        compare["picture"].click(safe(on_picture, lambda m: [gr.skip(), gr.skip()]), [compared],
                                 compare_tab.picture_outputs(compare), api_visibility="private",
                                 concurrency_limit=1, concurrency_id="exports")

        def compared_then(event, scroll_js=compare_tab.SHOW_RESULT_JS):
            """After a Compare: this page's layout, its downloads (one slot of their own, so
            drawing a picture never holds up a Compare), the link, and a scroll (by default, on
            a phone, to the result)."""
            event = event.then(on_layout, [compared], layout_outputs, api_visibility="private", queue=False,
                               show_progress="hidden")
            exports_then(event)
            synced(event).then(None, None, None, js=scroll_js)

        compared_then(gr.on([compare["button"].click, compare["text"].submit], on_compare, [compare["text"]],
                            compare_outputs, api_name="compare", **compare_event))
        if compare["examples"] is not None:  # an example click fills the box, then compares
            compared_then(compare["examples"].load_input_event.then(
                on_compare, [compare["text"]], compare_outputs, api_visibility="private", **compare_event))

        def on_inside(text, sentence, side, layer, head, focus=None):
            return inside_tab.inside_values(slots, text, sentence, side, layer, head, focus,
                                            n_layers, n_heads)

        on_inside = safe(on_inside, inside_tab.fallback_values)
        synced(gr.on([inside_page.select, inside["sentence"].input, inside["side"].input,
                      inside["layer"].release, inside["head"].release], on_inside, inside_inputs,
                     inside_tab.outputs(inside), api_name="inside",
                     js=inside_tab.clamp_js(n_layers, n_heads)))

        # From an entity to the inside: a row of Compare's table opens Inside on its word.
        def on_entity(text, table, evt: gr.SelectData):
            pick = compare_tab.picked_entity(evt.row_value, evt.index, table)
            if pick is None:
                return [gr.skip()] * 4
            return ("inside", pick.side, inside_tab.sentence_of(slots, text, pick.start), pick.start)

        # Tabs are opened in the browser (see select_tab_js); opening Inside draws it, through
        # its select event, from the settings set just before.
        compare["table"].select(
            safe(on_entity, lambda m: [gr.skip()] * 4), [compared, compare["table"]],
            [page_tab, inside["side"], inside["sentence"], inside["focus"]], api_visibility="private",
        ).then(None, [page_tab], None, js=select_tab_js())

        inside["to_compare"].click(None, None, None, js=select_tab_js("compare"))
        for step, button in guide["steps"]:
            event = button.click(None, None, None, js=select_tab_js(step.tab))
            if step.example and examples:
                event = event.then(lambda: examples[0]["text"], None, compare["text"], api_visibility="private")
                compared_then(event.then(on_compare, [compare["text"]], compare_outputs, api_visibility="private",
                                         **compare_event), tour.scroll_js(step.anchor))
                continue
            event.then(None, None, None, js=tour.scroll_js(step.anchor))

        def on_reload(request: gr.Request = None):
            wanted = read_page(request.query_params if request else {}, defaults, tab_ids.values())
            runs["records"], *values = results_tab.reload_values(runs_dir, loaded_fusion, wanted.group,
                                                                 wanted.fusion)
            return values + [wanted.by]

        def on_results(group_key, fusion_model, group_by):
            return results_tab.results_view(runs_dir, runs["records"], group_key, fusion_model,
                                            group_by, chosen_layer)

        on_reload = safe(on_reload, lambda m: (m, gr.skip(), gr.skip(), gr.skip()))
        on_results = safe(on_results, results_tab.fallback_values)
        results_inputs = [results["group"], results["fusion"], results["group_by"]]
        reload_outputs = [results["warning"], results["group"], results["fusion"], results["group_by"]]
        results["reload"].click(on_reload, None, reload_outputs, api_name="reload_runs").then(
            on_results, results_inputs, results_tab.outputs(results), api_name="results")
        synced(gr.on([results["group"].input, results["fusion"].input, results["group_by"].input], on_results,
                     results_inputs, results_tab.outputs(results), api_visibility="private"))

        # Opening a link restores its view: the text is compared, the tab, Inside's settings and
        # the Results group are set; then the address bar is written back in its short form.
        n_compared = 1 + len(compare_outputs) + len(layout_outputs)
        n_open_outputs = n_compared + 5

        def on_open(request: gr.Request = None):
            params = dict(request.query_params) if request else {}
            if not set(params) & set(LINK_KEYS):  # a plain visit: leave alone what the user clicked
                return [gr.skip()] * n_open_outputs
            state = read_page(params, defaults, tab_ids.values())
            compared_part = [gr.skip()] * n_compared
            if state.text.strip():
                row = on_compare(state.text)  # its last value: the text as compared
                compared_part = [state.text] + row + on_layout(row[-1], state.sentence, state.word)
            return compared_part + [state.tab, state.side,
                                    gr.Slider(value=min(state.layer, n_layers)),
                                    gr.Slider(value=min(state.head, n_heads)), opened_note(state)]

        opened = demo.load(safe(on_open, lambda m: [gr.skip()] * (n_open_outputs - 1) + [m]), None,
                           [compare["text"]] + compare_outputs + layout_outputs
                           + [page_tab, inside["side"], inside["layer"], inside["head"], link_note],
                           api_visibility="private")
        exports_then(opened)
        opened = opened.then(None, None, None, js=linked_tab_js())  # Inside draws itself when opened
        opened = opened.then(on_reload, None, reload_outputs, api_visibility="private").then(
            on_results, results_inputs, results_tab.outputs(results), api_visibility="private")
        synced(opened)

        # Layers: every probe read on a sentence of the compared text, computed when looked at.
        def on_layers(text, sentence):
            return layers_tab.layers_view(probes.get(), slots, text, sentence)

        gr.on([layers_page.select, layers["sentence"].input], safe(on_layers, layers_tab.fallback_values),
              [compared, layers["sentence"]], layers_tab.outputs(layers), api_name="layers")

        layer_results = results["layers"]
        layer_results["accordion"].expand(
            safe(lambda: layers_section.view(probe_runs_dir, runs["records"]), layers_section.fallback_values),
            None, layers_section.outputs(layer_results), api_name="layer_probes")

        intermediate = results["intermediate"]

        def on_intermediate(model):
            return intermediate_section.view(runs_dir, runs["records"], model)

        gr.on([intermediate["accordion"].expand, intermediate["model"].input],
              safe(on_intermediate, intermediate_section.fallback_values), [intermediate["model"]],
              intermediate_section.outputs(intermediate), api_name="intermediate_tasks")

        # Scoring a file is slow: it gets its own single slot, and between its batches it steps
        # aside while anyone compares (ui/foreground.py); Cancel stops it within one batch.
        def on_evaluate(path, language, request: gr.Request = None, progress=gr.Progress()):
            session = request.session_hash if request is not None else ""
            flag = cancel_flags.start(session)

            def report(fraction, text):
                if foreground.wait_until_quiet(flag.is_set) > 0.05:
                    text += " (paused while others compared)"
                progress(fraction, desc=text)

            try:
                return evaluate_tab.score_upload(slots, path, language, runs["records"], progress=report)
            except Cancelled:
                return evaluate_tab.fallback_values(evaluate_tab.CANCELLED)
            finally:
                cancel_flags.finish(session, flag)

        evaluate["upload"].change(safe(lambda path: evaluate_tab.describe_upload(slots, path), lambda m: m),
                                  [evaluate["upload"]], [evaluate["estimate"]], api_visibility="private",
                                  concurrency_limit=1, concurrency_id="evaluate-estimate")
        scoring = evaluate["button"].click(
            safe(on_evaluate, evaluate_tab.fallback_values), [evaluate["upload"], evaluate["language"]],
            [evaluate["status"], evaluate["scores"], evaluate["plot"], upload_errors["views"]],
            api_name="evaluate", concurrency_limit=1, concurrency_id="evaluate")
        scoring.then(lambda views, kinds, types: errors_tab.show_views(
            upload_errors, views, "Sentences of your file where the models differ.", kinds, types),
            [upload_errors["views"], upload_errors["kinds"], upload_errors["types"]],
            errors_tab.browser_outputs(upload_errors), api_visibility="private")

        def on_cancel(request: gr.Request = None):
            running = cancel_flags.cancel(request.session_hash if request is not None else "")
            return evaluate_tab.CANCELLED if running else gr.skip()

        evaluate["cancel"].click(on_cancel, None, [evaluate["status"]], cancels=[scoring], queue=False,
                                 api_name="cancel_evaluate")

        # Errors: stored runs' sentences where the models differ
        def on_errors(group_key, seed, language, kinds, types):
            views, note = errors_tab.stored_error_views(runs["records"], runs_dir, group_key, language, seed,
                                                        data_dir, samples_dir)
            return errors_tab.show_views(errors, views, note, kinds, types)

        error_inputs = [errors["group"], errors["seed"], errors["language"],
                        errors["kinds"], errors["types"]]
        gr.on([demo.load, errors["group"].input, errors["seed"].input, errors["language"].input],
              safe(on_errors, lambda m: [[], [], m] + [None] * 6), error_inputs,
              errors_tab.browser_outputs(errors), api_name="errors")
        for browser in (errors, upload_errors):
            errors_tab.wire_browser(browser)
            compared_then(browser["send"].click(lambda text: text, [browser["text"]], [compare["text"]],
                                                api_visibility="private").then(
                None, None, None, js=select_tab_js("compare")).then(
                on_compare, [compare["text"]], compare_outputs, api_visibility="private", **compare_event))
    return demo


def launch_options() -> dict:
    """Settings `launch()` takes in Gradio 6 (theme and CSS moved there from Blocks)."""
    return {"theme": gr.themes.Soft(), "css": CSS + inside_tab.PLACEHOLDER_CSS,
            "max_file_size": 4 * evaluate_tab.UPLOAD_BYTES_LIMIT, "state_session_capacity": SESSION_CAPACITY}


# --------------------------------------------------------------------------------------------
# main
# --------------------------------------------------------------------------------------------


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def default_threads() -> int:
    return max(1, (os.cpu_count() or 2) // 2)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Layer Fusion Explorer (Gradio app)")
    parser.add_argument("--baseline", default=os.environ.get("LFE_BASELINE", str(CHECKPOINTS / "baseline")),
                        help="baseline checkpoint directory (env LFE_BASELINE)")
    parser.add_argument("--fusion", default=os.environ.get("LFE_FUSION"),
                        help="fusion checkpoint directory (env LFE_FUSION; default: checkpoints/fusion-l*)")
    parser.add_argument("--runs", default=os.environ.get("LFE_RUNS", str(RUNS_DIR)),
                        help="folder of run records (env LFE_RUNS)")
    parser.add_argument("--data", default=os.environ.get("LFE_DATA"),
                        help="PAN-X data directory whose test sentences the Errors tab shows in full "
                             "(env LFE_DATA; without it, a shipped sample)")
    # Hugging Face Spaces sets GRADIO_SERVER_NAME / GRADIO_SERVER_PORT: respect them.
    environ = os.environ.get
    parser.add_argument("--host", default=environ("LFE_HOST", environ("GRADIO_SERVER_NAME", "127.0.0.1")),
                        help="address to listen on (env LFE_HOST)")
    parser.add_argument("--port", type=int, default=int(environ("LFE_PORT", environ("GRADIO_SERVER_PORT", 7860))),
                        help="port (env LFE_PORT)")
    parser.add_argument("--threads", type=int, default=int(environ("LFE_THREADS", 0)) or default_threads(),
                        help="torch threads per model (env LFE_THREADS; default: half the CPU cores, so "
                             "the two models of a Compare run at once, one core each)")
    parser.add_argument("--compare-batch", type=int, default=int(environ("LFE_COMPARE_BATCH", COMPARE_BATCH)),
                        help="Compare requests answered by one call at most (env LFE_COMPARE_BATCH; 1: "
                             "one at a time)")
    parser.add_argument("--compare-queued", action="store_true", default=_env_flag("LFE_COMPARE_QUEUED"),
                        help="send a page's Compare through Gradio's queue, which shows each person "
                             "their place in line under load, rather than as one direct request, "
                             "faster alone (env LFE_COMPARE_QUEUED=1)")
    parser.add_argument("--runtime", choices=("onnx", "torch"), default=environ("LFE_RUNTIME", "onnx"),
                        help="what runs the taggers' prediction forward: onnx (ONNX Runtime, about "
                             "twice as fast on a CPU, exported by a child process once the server "
                             "answers; torch until then or if that fails) or torch (env LFE_RUNTIME)")
    parser.add_argument("--share", action="store_true", default=_env_flag("LFE_SHARE"),
                        help="also serve through a public gradio.live link (env LFE_SHARE=1)")
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    import torch

    torch.set_num_threads(max(1, args.threads))  # Compare runs the two models at once (predict_each)
    slots = load_slots(args.baseline, args.fusion or find_fusion_checkpoint(), merge=args.runtime == "torch")
    demo = build_demo(slots, runs_dir=args.runs, data_dir=args.data, compare_batch=args.compare_batch,
                      compare_queued=args.compare_queued)
    demo.queue(default_concurrency_limit=CONCURRENCY, max_size=QUEUE_SIZE)
    demo.launch(server_name=args.host, server_port=args.port, share=args.share, prevent_thread_lock=True,
                **launch_options())
    if args.runtime == "onnx":  # once the server answers: the export's child would slow start-up
        attach_runtimes(slots, args.threads)
    demo.block_thread()


if __name__ == "__main__":
    main()
