"""Layer Fusion Explorer: the Gradio app.

    python app.py [--baseline DIR] [--fusion DIR] [--host 127.0.0.1] [--port 7860] [--share]

Four tabs: Compare (baseline vs fusion entities on any text), Inside (attention and AIF gates),
Results (stored per-language evaluation runs) and Evaluate your data (score both models on an
uploaded CoNLL file). This file only arranges the UI: the work is done by `fusion`'s public
functions. Read top to bottom: constants, loading, pure view functions per tab, layout and
wiring, main. Nothing is loaded at import time.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
import math
import os
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

import gradio as gr
import pandas as pd

from fusion import plots
from fusion.checkpoint import CheckpointError, load_tagger
from fusion.data import DataFormatError, read_conll
from fusion.encoders import ENCODER_DESCRIPTIONS, OFFLINE_ENCODER
from fusion.evaluate import evaluate_dataset
from fusion.languages import LANGUAGES, language_info, text_direction
from fusion.predict import predict
from fusion.runs import (LANGUAGE_COLUMNS, default_runs, fusion_choices, language_table, load_runs,
                         main_runs, run_averages, runs_dataframe, sweep_table)

# --------------------------------------------------------------------------------------------
# Constants
# --------------------------------------------------------------------------------------------

ROOT = Path(__file__).resolve().parent
CHECKPOINTS = ROOT / "checkpoints"
RUNS_DIR = ROOT / "assets" / "runs"
EXAMPLES_FILE = ROOT / "assets" / "examples.json"

PAPER_URL = "https://arxiv.org/abs/2205.08497"
PAPER = ("Chen et al. 2022, *Feature Aggregation in Zero-Shot Cross-Lingual Transfer Using "
         "Multilingual BERT*")

TEXT_LIMIT = 5_000  # characters tagged per Compare request; attentions make long texts costly
INSIDE_TOKEN_LIMIT = 96  # sub-word tokens shown in the Inside tab (a T × T heatmap per head)
UPLOAD_BYTES_LIMIT = 2_000_000  # Evaluate tab: 2 MB ...
UPLOAD_SENTENCE_LIMIT = 5_000  # ... and 5,000 sentences per file
CONCURRENCY = 2  # requests run at once (2 CPU cores); the rest wait in the queue
QUEUE_SIZE = 64

ROLES = ("baseline", "fusion")
ENTITY_COLOURS = {"PER": "#8ecae6", "ORG": "#ffb703", "LOC": "#90be6d", "MISC": "#cdb4db"}
OTHER_COLOURS = ["#f4a261", "#e9c46a", "#a8dadc", "#ffafcc"]
DIFF_COLOURS = {"same entity": "#e0e0e0", "baseline only": "#4C78A8", "fusion only": "#F58518",
                "type differs": "#e45756", "span differs": "#b279a2"}

CSS = """
.auto-dir textarea { unicode-bidi: plaintext; text-align: start; }  /* RTL text shows RTL */
.help { color: var(--body-text-color-subdued); font-size: 0.95em; }
"""

# --------------------------------------------------------------------------------------------
# Loading: checkpoints, examples
# --------------------------------------------------------------------------------------------


@dataclass
class Model:
    """One of the two taggers the app compares; `tagger` is None when loading failed."""

    role: str  # "baseline" or "fusion"
    directory: str
    tagger: object = None
    error: str | None = None

    @property
    def ready(self) -> bool:
        return self.tagger is not None


def find_fusion_checkpoint(root: Path = CHECKPOINTS) -> Path | None:
    """The shipped fusion checkpoint: the first `checkpoints/fusion-l<k>` holding a config."""
    found = sorted(root.glob("fusion-l*"), key=lambda p: (len(p.name), p.name))
    found = [p for p in found if (p / "tagger_config.json").is_file()]
    return found[0] if found else None


def load_model(role: str, directory) -> Model:
    """Load a checkpoint; a missing or broken one gives a Model with the error message."""
    if directory is None:
        return Model(role, "", error=f"no {role} checkpoint found (the app looks for "
                                      f"checkpoints/{'fusion-l*' if role == 'fusion' else role}; "
                                      f"pass --{role} DIR)")
    try:
        return Model(role, str(directory), tagger=load_tagger(directory))
    except CheckpointError as error:
        return Model(role, str(directory), error=str(error))


def load_models(baseline_dir, fusion_dir) -> dict[str, Model]:
    models = {}
    for role, directory in (("baseline", baseline_dir), ("fusion", fusion_dir)):
        started = time.time()
        models[role] = load_model(role, directory)
        state = (f"loaded in {time.time() - started:.1f} s" if models[role].ready
                 else f"NOT loaded: {models[role].error}")
        print(f"{role}: {directory} {state}", file=sys.stderr)
    return models


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
    return f"`{name}` ({'local model' if Path(name).is_dir() else 'Hugging Face'})"


def model_title(model: Model) -> str:
    if model.role == "baseline":
        return "Baseline (last layer)"
    layer = model.tagger.config.fusion_layer if model.ready else None
    return f"Fusion (last layer + layer {layer}, AIF gate)" if layer is not None else "Fusion"


def entity_colours(models: dict[str, Model]) -> dict[str, str]:
    """Colour per entity type the loaded checkpoints can predict (PER, ORG, LOC for PAN-X)."""
    types = sorted({t for m in models.values() if m.ready for t in m.tagger.entity_types}) \
        or ["PER", "ORG", "LOC"]
    spare = iter(OTHER_COLOURS * (1 + len(types) // len(OTHER_COLOURS)))
    return {t: ENTITY_COLOURS.get(t) or next(spare) for t in types}


def header_markdown(models: dict[str, Model]) -> str:
    lines = []
    for model in models.values():
        if not model.ready:
            lines.append(f"- **{model.role}**: ⚠️ not loaded: {model.error}")
            continue
        config = model.tagger.config
        training = getattr(model.tagger, "checkpoint_info", {}).get("training", {})
        reads = ("reads the last layer" if config.fusion_layer is None
                 else f"reads the last layer + layer {config.fusion_layer} through the AIF gate")
        dev = training.get("dev_f1")
        dev_text = (f" · English dev F1 {100 * dev:.1f} (epoch {training.get('best_epoch', '?')})"
                    if isinstance(dev, (int, float)) else "")
        lines.append(f"- **{model.role}** `{Path(model.directory).name}` · encoder "
                     f"{describe_encoder(config.encoder)} · {reads}{dev_text}")
    encoders = {m.tagger.config.encoder for m in models.values() if m.ready}
    note = ""
    if OFFLINE_ENCODER in encoders:
        note = ("\n\n> **Encoder note.** The paper fine-tunes mBERT (`bert-base-multilingual-cased`). "
                "These checkpoints use **multilingual-e5-small, not mBERT**: a 12-layer, 384-wide "
                "BERT-architecture encoder with the XLM-R vocabulary, the one multilingual model that "
                "runs offline here. Expect different numbers from the paper's; train with "
                "`--encoder bert-base-multilingual-cased` for its setting.")
    return (
        "# Layer Fusion Explorer\n"
        "A named-entity tagger trained on **English** WikiANN only, applied with no further "
        "training to text in any language (zero-shot cross-lingual transfer). The **baseline** "
        "tags from the encoder's last layer; the **fusion** model also feeds one lower layer "
        "through a gated fusion module (AIF), after "
        f"[{PAPER}]({PAPER_URL}) (arXiv 2205.08497).\n\n" + "\n".join(lines) + note)


# --------------------------------------------------------------------------------------------
# Compare tab: pure view functions
# --------------------------------------------------------------------------------------------


def highlight_value(text: str, entities) -> list[tuple[str, str | None]]:
    """gr.HighlightedText value: the whole text cut into (segment, entity type or None)."""
    segments, position = [], 0
    for entity in sorted(entities, key=lambda e: e.start):
        if entity.start < position:  # never overlap (predict gives disjoint spans)
            continue
        if entity.start > position:
            segments.append((text[position:entity.start], None))
        segments.append((text[entity.start:entity.end], entity.label))
        position = entity.end
    if position < len(text):
        segments.append((text[position:], None))
    return segments


def _char_entities(text: str, entities) -> list:
    owner = [None] * len(text)
    for entity in entities:
        for i in range(entity.start, min(entity.end, len(text))):
            owner[i] = (entity.label, entity.start, entity.end)
    return owner


def disagreement_value(text: str, baseline_entities, fusion_entities) -> list[tuple[str, str | None]]:
    """The text cut where the two models' entities agree or differ, character by character:
    same entity / baseline only / fusion only / type differs / span differs."""
    base, fused = _char_entities(text, baseline_entities), _char_entities(text, fusion_entities)

    def category(b, f):
        if b is None and f is None:
            return None
        if b is None or f is None:
            return "fusion only" if b is None else "baseline only"
        if b == f:
            return "same entity"
        return "type differs" if b[0] != f[0] else "span differs"

    segments: list[tuple[str, str | None]] = []
    previous_key, start = None, 0
    for i in range(len(text) + 1):
        key = (category(base[i], fused[i]), base[i], fused[i]) if i < len(text) else "end"
        if i and key != previous_key:
            label = previous_key[0]
            if label != "same entity" and not text[start:i].strip():
                label = None  # a space that only one model's span covers is no disagreement
            segments.append((text[start:i], label))
            start = i
        previous_key = key
    return segments


def entity_table(predictions: dict) -> pd.DataFrame:
    """Every entity of every model: model, entity, type, score, start, end, found by."""
    spans = {role: {(e.start, e.end, e.label) for e in p.entities} for role, p in predictions.items()}
    rows = []
    for role, prediction in predictions.items():
        others = [r for r in predictions if r != role]
        for e in prediction.entities:
            both = all((e.start, e.end, e.label) in spans[o] for o in others) and others
            rows.append({"model": role, "entity": e.text, "type": e.label, "score": round(e.score, 3),
                         "start": e.start, "end": e.end, "found by": "both" if both else f"{role} only"})
    table = pd.DataFrame(rows, columns=["model", "entity", "type", "score", "start", "end", "found by"])
    return table.sort_values(["start", "model"], kind="stable").reset_index(drop=True)


def compare(models: dict[str, Model], text) -> dict:
    """Everything the Compare tab shows for `text`; never raises on odd text.

    Returns {"message", "direction", "highlights" {role: value}, "disagreement", "table",
    "explanations" {role: Explanation | None}}.
    """
    text = "" if text is None else str(text)
    notes = []
    if len(text) > TEXT_LIMIT:
        notes.append(f"The text has {len(text):,} characters; only the first {TEXT_LIMIT:,} were "
                     "tagged (a limit that keeps the app responsive for everyone).")
        text = text[:TEXT_LIMIT]
    result = {"direction": text_direction(text), "highlights": {}, "disagreement": None,
              "table": entity_table({}), "explanations": {}}
    if not text.strip():
        result["message"] = "Type a sentence in any language, or pick an example below."
        return result

    predictions, shortened = {}, False
    for role, model in models.items():
        if not model.ready:
            notes.append(f"The {role} model is not loaded: {model.error}")
            continue
        # Attentions are T × T per head: explain at most INSIDE_TOKEN_LIMIT tokens.
        prediction = predict(model.tagger, text, explain=True, explain_max_tokens=INSIDE_TOKEN_LIMIT)[0]
        shortened |= prediction.explanation is not None and not prediction.explanation.complete
        predictions[role] = prediction
        result["explanations"][role] = prediction.explanation
        result["highlights"][role] = highlight_value(text, prediction.entities)
    if shortened:
        notes.append(f"The Inside tab shows the first {INSIDE_TOKEN_LIMIT} sub-word tokens.")
    result["table"] = entity_table(predictions)
    if len(predictions) == 2:
        base, fused = predictions["baseline"], predictions["fusion"]
        result["disagreement"] = disagreement_value(text, base.entities, fused.entities)
        spans = [{(e.start, e.end, e.label) for e in p.entities} for p in (base, fused)]
        only = [f"**{n}** only in the {who}" for n, who in
                ((len(spans[0] - spans[1]), "baseline's output"), (len(spans[1] - spans[0]), "fusion model's"))
                if n]
        summary = (f"Baseline found **{len(base.entities)}** entities, fusion **{len(fused.entities)}**; "
                   + (" and ".join(only) + "." if only else
                      "they agree on every one." if base.entities else "neither model found an entity."))
        notes.insert(0, summary)
    result["message"] = "\n\n".join(notes)
    return result


# --------------------------------------------------------------------------------------------
# Inside tab
# --------------------------------------------------------------------------------------------

ATTENTION_HELP = (
    "**Attention of one head.** Each row is a sub-word token being updated (the query); each "
    "column a token it reads from (the key); each row sums to 1 and darker means more weight. "
    "“▁” marks the start of a word; `<s>` and `</s>` are the start and end tokens, where many heads "
    "park their attention when they have nothing specific to look at.")
OVERVIEW_HELP = (
    "**All layers at a glance.** One cell per head of every layer; the colour is the average "
    "entropy of that head's attention rows, in bits. Low (dark) = sharp: each token looks at one "
    "or two tokens (often its neighbour, or `</s>`); high (yellow) = attention spread over the "
    "whole sentence (the top of the scale is perfectly uniform). The red box is the head shown above.")
GATE_SHARE_HELP = (
    "**How much of each token comes from which layer** (fusion model only). The AIF module mixes "
    "the last layer H_L with the lower layer H_k channel by channel: Z = M ⊙ H_L + (1 − M) ⊙ H_k. "
    "Blue is the gate M averaged over the channels — the share taken from the last layer; orange "
    "is the share from layer k. The dotted line marks an even mix.")
GATE_HELP = (
    "**Every gate value** (fusion model only). Rows are tokens, columns the hidden channels. Blue: "
    "the channel comes from the last layer (gate near 1); orange: from layer k (gate near 0); "
    "white: an even mix. Vertical stripes are channels the module takes from the same layer for "
    "every token (the sentence-wide global branch); differences between rows are per-token "
    "choices (the local branch).")


def inside_figures(explanations: dict | None, role: str, layer, head) -> tuple:
    """(note, attention heatmap, layer × head overview, gate share bars, gate heatmap) for the
    chosen model; `layer` and `head` count from 1."""
    explanation = (explanations or {}).get(role)
    if explanation is None or len(explanation.attentions) == 0:
        message = ("Run a text in the Compare tab first." if not explanations else
                   f"No {role} result: the {role} model is not loaded or the text was empty.")
        return (message,) + tuple(plots.message_figure(message) for _ in range(4))
    attentions, tokens = explanation.attentions, explanation.tokens
    layer = min(max(int(layer or 1), 1), len(attentions))
    head = min(max(int(head or 1), 1), len(attentions[0]))
    note = (f"**{role}** model, {len(tokens)} sub-word tokens"
            + (f", fusion of the last layer with layer {explanation.fusion_layer}"
               if explanation.fusion_layer is not None else "") + ".")
    return (
        note,
        plots.attention_heatmap(tokens, attentions[layer - 1][head - 1],
                                title=f"{role}: layer {layer}, head {head}"),
        plots.attention_overview(attentions, layer, head,
                                 title=f"{role}: attention entropy per layer and head"),
        plots.gate_share_bars(tokens, explanation.gate_share, explanation.fusion_layer),
        plots.gate_heatmap(tokens, explanation.gates, explanation.fusion_layer),
    )


# --------------------------------------------------------------------------------------------
# Results tab
# --------------------------------------------------------------------------------------------

def read_results(runs_dir) -> tuple[list[dict], str]:
    """Valid run records and a Markdown warning listing every file that was skipped."""
    folder = Path(runs_dir)
    if not folder.is_dir():
        return [], f"⚠️ No run folder at `{folder}`."
    records, warnings = load_runs(folder)
    text = ""
    if warnings:
        text = (f"⚠️ {len(warnings)} run file(s) skipped:\n"
                + "\n".join(f"- `{Path(w.split(':', 1)[0]).name}`: {w.split(':', 1)[-1].strip()}"
                            for w in warnings))
    if not records and not warnings:
        text = f"No run records in `{folder}` yet (`python -m fusion evaluate --output ...`)."
    return records, text


def run_choices(records: list[dict]) -> list[tuple[str, str]]:
    runs = main_runs(records)
    return [(f"{row.run} ({row.model}, {row.recipe}" + (f", seed {row.seed})" if pd.notna(row.seed)
                                                         else ")"), row.run)
            for row in runs.itertuples()]


def _mean_spread(values: list[float]) -> str:
    if not values:
        return "–"
    if len(values) == 1:
        return f"{values[0]:.1f}"
    return f"{pd.Series(values).mean():.1f} ± {pd.Series(values).std(ddof=1):.1f} ({len(values)} runs)"


def results_summary(records: list[dict], selected_runs, fusion_model: str | None,
                    table: pd.DataFrame, source: str = "en") -> str:
    """Averages over the target languages (mean ± sd over runs) and English; how many improved."""
    if table.empty:
        return "No test-split runs selected."
    targets = table[table["language"] != source]
    both = targets.dropna(subset=["Δ F1"])
    lines = [f"**Average F1 over {len(targets)} target languages:** baseline "
             f"{_mean_spread(run_averages(records, selected_runs, 'baseline', source))}; "
             f"{fusion_model or 'fusion'} "
             f"{_mean_spread(run_averages(records, selected_runs, fusion_model, source))}"
             + (f"; fusion is better on {int((both['Δ F1'] > 0).sum())} of {len(both)} languages"
                if len(both) else "") + "."]
    english = table[table["language"] == source]
    if not english.empty:
        row = english.iloc[0]
        show = lambda value: "–" if value is None or pd.isna(value) else f"{value:.1f}"  # noqa: E731
        lines.append(f"**{language_info(source).name} (the training language):** baseline "
                     f"{show(row['baseline F1'])}, fusion {show(row['fusion F1'])}.")
    lines.append("F1 is strict entity-level F1 (seqeval, IOB2) in points; ± is the standard "
                 "deviation over the selected runs (seeds) where there are several.")
    return "\n\n".join(lines)


def delta_figure(table: pd.DataFrame, group_by: str = "family"):
    column = "script" if group_by == "script" else "family"
    spread = [math.sqrt((b or 0) ** 2 + (f or 0) ** 2) if (b is not None or f is not None) else None
              for b, f in zip(table["baseline ±"], table["fusion ±"])]
    spread = [None if s is None or s == 0 or (isinstance(s, float) and math.isnan(s)) else s
              for s in spread]
    return plots.delta_bars([f"{n} ({c})" for n, c in zip(table["name"], table["language"])],
                            [None if d is None or pd.isna(d) else float(d) for d in table["Δ F1"]],
                            list(table[column]), [float("nan") if s is None else s for s in spread],
                            group_title=column)


def sweep_figure(records: list[dict], chosen_layer: int | None, source: str = "en"):
    table = sweep_table(records, source)
    if table.empty:
        return plots.layer_sweep([], {})
    frame = runs_dataframe(records)
    baseline_dev = frame[(frame["split"] == "dev") & (frame["model"] == "baseline")]
    baselines = {}  # dev-split baseline runs, if any, as dotted reference lines
    is_source = baseline_dev["language"] == source
    if (~is_source).any():
        baselines["baseline, targets"] = float(baseline_dev.loc[~is_source, "f1"].mean())
    if is_source.any():
        baselines["baseline, English"] = float(baseline_dev.loc[is_source, "f1"].mean())
    names = {"targets": "average of target languages", "English": "English (source)"}
    return plots.layer_sweep(
        table["layer"].tolist(), {name: table[key].tolist() for key, name in names.items()},
        {name: table[f"{key} ±"].tolist() for key, name in names.items()},
        chosen_layer=chosen_layer, baselines=baselines)


def write_csv(table: pd.DataFrame) -> str:
    """The per-language table as a CSV file in the temp folder (what the download button serves).
    Named by its content, so reloading the page rewrites one file instead of piling up new ones."""
    text = table.to_csv(index=False)
    digest = hashlib.sha1(text.encode("utf-8")).hexdigest()[:12]
    path = Path(tempfile.gettempdir()) / f"lfe-per-language-{digest}.csv"
    path.write_text(text, encoding="utf-8")
    return str(path)


# --------------------------------------------------------------------------------------------
# Evaluate tab
# --------------------------------------------------------------------------------------------

SCORE_COLUMNS = ["source", "model", "type", "precision", "recall", "F1", "support"]


def check_upload(path) -> str | None:
    """A message saying why the file cannot be scored, or None when it is fine to read."""
    if not path:
        return "Upload a CoNLL-style file first (one `TOKEN<TAB>TAG` per line, blank line between sentences)."
    size = os.path.getsize(path)
    if size > UPLOAD_BYTES_LIMIT:
        return (f"The file is {size / 1e6:.1f} MB; the limit is {UPLOAD_BYTES_LIMIT / 1e6:.0f} MB "
                f"(and {UPLOAD_SENTENCE_LIMIT:,} sentences). Split it, or score it offline with "
                "`python -m fusion evaluate`.")
    return None


def _score_rows(source: str, model: str, scores: dict) -> list[dict]:
    rows = [{"source": source, "model": model, "type": "overall",
             "precision": 100 * scores["precision"], "recall": 100 * scores["recall"],
             "F1": 100 * scores["f1"], "support": scores.get("support")}]
    for label, values in sorted(scores.get("per_type", {}).items()):
        rows.append({"source": source, "model": model, "type": label,
                     "precision": 100 * values["precision"], "recall": 100 * values["recall"],
                     "F1": 100 * values["f1"], "support": values.get("support")})
    return rows


def stored_scores(records: list[dict], language: str) -> list[dict]:
    """Rows (as in the score table) of the stored test runs for `language`, averaged per model."""
    rows = []
    by_model: dict[str, list[dict]] = {}
    for record in records:
        score = record["scores"].get(language)
        if record["data"]["split"] == "test" and score is not None:
            by_model.setdefault(record["checkpoint"]["model"], []).append((record, score))
    for model, items in sorted(by_model.items()):
        sentences = max(record["data"]["sentences"].get(language, 0) for record, _ in items)
        source = f"stored ({len(items)} run{'s' if len(items) > 1 else ''}, {sentences} sentences)"
        per_run = [_score_rows(source, model, score) for _, score in items]
        for row in per_run[0]:  # average each (type, metric) over the runs that have it
            same = [r for run in per_run for r in run if r["type"] == row["type"]]
            rows.append({**row, **{key: sum(r[key] for r in same) / len(same)
                                   for key in ("precision", "recall", "F1")}})
    return rows


def score_upload(models: dict[str, Model], path, language, records: list[dict], progress=None):
    """Score both models on an uploaded file. Returns (message, score table, per-type figure).

    `progress(fraction, description)` is called as sentences are tagged.
    """
    empty = pd.DataFrame(columns=SCORE_COLUMNS)
    problem = check_upload(path)
    if problem:
        return problem, empty, plots.message_figure(problem)
    name = Path(path).name
    try:
        dataset = read_conll(path, max_sentences=UPLOAD_SENTENCE_LIMIT + 1)
    except DataFormatError as error:
        message = f"Could not read `{name}`: {str(error).replace(str(path), name)}"
        return message, empty, plots.message_figure("the file could not be read")
    if len(dataset) == 0:
        return f"`{name}` holds no sentences.", empty, plots.message_figure("no sentences")
    if len(dataset) > UPLOAD_SENTENCE_LIMIT:
        message = (f"`{name}` has more than {UPLOAD_SENTENCE_LIMIT:,} sentences, the limit per upload. "
                   "Split it, or score it offline with `python -m fusion evaluate`.")
        return message, empty, plots.message_figure(message)
    ready = [m for m in models.values() if m.ready]
    if not ready:
        return "No model is loaded, so nothing can be scored.", empty, plots.message_figure("no model")

    rows = []
    total = len(ready) * len(dataset)
    for index, model in enumerate(ready):
        def report(done, offset=index * len(dataset), role=model.role):
            if progress is not None:
                progress((offset + done) / total, f"{role}: {done:,} / {len(dataset):,} sentences")
        scores = evaluate_dataset(model.tagger, dataset, progress=report)
        rows += _score_rows("your file", model.role if model.role == "baseline"
                            else model.tagger.config.kind, scores)
    code = str(language or "").strip()
    stored = stored_scores(records, code) if code else []
    table = pd.DataFrame(rows + stored, columns=SCORE_COLUMNS).round(1)
    info = language_info(code)
    message = (f"Scored **{len(dataset):,}** sentences of `{name}`"
               + (f" ({info.name})" if code else "") + ". "
               + ("Stored results for this language are listed below the file's scores."
                  if stored else ("No stored test results for this language." if code else
                                  "Name the language to see the stored results beside yours.")))
    figure_rows = [{"series": f"{row['source'].split(' (')[0]} · {row['model']}", "type": row["type"],
                    "f1": row["F1"]} for row in table.to_dict("records")]
    return message, table, plots.per_type_bars(figure_rows,
                                               title="F1 per entity type: your file vs stored runs")


# --------------------------------------------------------------------------------------------
# Layout and wiring
# --------------------------------------------------------------------------------------------


def _safe(function, fallback):
    """Run a UI event; an unexpected error becomes a message instead of a broken page."""
    @functools.wraps(function)  # keeps the signature, so gr.Progress() is still injected
    def wrapper(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except Exception as error:  # noqa: BLE001 — shown to the user, logged in full
            traceback.print_exc()
            return fallback(f"Something went wrong: {type(error).__name__}: {error}")
    return wrapper


def build_demo(models: dict[str, Model], runs_dir=RUNS_DIR, examples: list[dict] | None = None) -> gr.Blocks:
    examples = load_examples() if examples is None else examples
    reference = next((m.tagger for m in models.values() if m.ready), None)
    n_layers = reference.n_layers if reference is not None else 12
    n_heads = reference.n_heads if reference is not None else 12
    fusion = models.get("fusion")
    chosen_layer = fusion.tagger.config.fusion_layer if fusion is not None and fusion.ready else None
    records, _ = read_results(runs_dir)

    def default_fusion(found: list[dict]) -> str | None:
        """The loaded fusion model's runs if there are any, else the first fusion model's."""
        fusions = fusion_choices(found)
        kind = fusion.tagger.config.kind if fusion is not None and fusion.ready else None
        return kind if kind in fusions else (fusions[0] if fusions else None)

    # delete_cache: uploads and served files older than a day are removed every hour.
    with gr.Blocks(title="Layer Fusion Explorer", analytics_enabled=False,
                   delete_cache=(3600, 86400)) as demo:
        gr.Markdown(header_markdown(models))
        explanations = gr.State(None)
        records_state = gr.State(records)

        with gr.Tabs():
            # ---- Compare ------------------------------------------------------------------
            with gr.Tab("Compare", id="compare"):
                text = gr.Textbox(label="Text in any language", lines=3, max_lines=12,
                                  placeholder="Type or paste a sentence, or pick an example below",
                                  elem_id="text", elem_classes=["auto-dir"])
                compare_button = gr.Button("Compare", variant="primary", elem_id="compare-button")
                example_box = gr.Examples(
                    examples=[[item["text"]] for item in examples], inputs=[text],
                    example_labels=[f"{language_info(item.get('language')).name}: {item['text']}"
                                    for item in examples],
                    label="Examples (click one)", examples_per_page=30,
                    cache_examples=False) if examples else None
                status = gr.Markdown(elem_id="compare-status")
                with gr.Row():
                    highlights = {role: gr.HighlightedText(
                        label=model_title(models[role]) if role in models else role,
                        color_map=entity_colours(models), show_legend=True, elem_id=f"{role}-entities")
                        for role in ROLES}
                disagreement = gr.HighlightedText(
                    label="Where they disagree", color_map=DIFF_COLOURS, show_legend=True,
                    elem_id="disagreement")
                gr.Markdown("Grey: both models found the same entity. Blue / orange: only the "
                            "baseline / only the fusion model marked this text. Red: both did, with "
                            "different types. Purple: same type, different boundaries.",
                            elem_classes=["help"])
                table = gr.Dataframe(entity_table({}), label="Entities (click a column to sort)",
                                     interactive=False,
                                     elem_id="entity-table", wrap=True)

            # ---- Inside ------------------------------------------------------------------
            with gr.Tab("Inside", id="inside"):
                gr.Markdown("What the encoder and the fusion gate do with the text from the Compare "
                            f"tab (its first {INSIDE_TOKEN_LIMIT} sub-word tokens).")
                with gr.Row():
                    role = gr.Radio(list(ROLES), value="fusion", label="Model")
                    layer = gr.Slider(1, n_layers, value=n_layers, step=1, label="Layer (1 = first)")
                    head = gr.Slider(1, n_heads, value=1, step=1, label="Head")
                inside_note = gr.Markdown()
                gr.Markdown(ATTENTION_HELP, elem_classes=["help"])
                attention_plot = gr.Plot(label="Attention", show_label=False, elem_id="attention-plot")
                gr.Markdown(OVERVIEW_HELP, elem_classes=["help"])
                overview_plot = gr.Plot(label="All layers", show_label=False, elem_id="overview-plot")
                gr.Markdown(GATE_SHARE_HELP, elem_classes=["help"])
                share_plot = gr.Plot(label="Gate share", show_label=False, elem_id="share-plot")
                gr.Markdown(GATE_HELP, elem_classes=["help"])
                gate_plot = gr.Plot(label="Gates", show_label=False, elem_id="gate-plot")

            # ---- Results -----------------------------------------------------------------
            with gr.Tab("Results", id="results"):
                results_warning = gr.Markdown(elem_id="results-warning")
                with gr.Row():
                    runs_box = gr.CheckboxGroup(run_choices(records),
                                                value=default_runs(records),
                                                label="Test runs to compare (seeds are averaged)")
                    with gr.Column():
                        fusion_box = gr.Dropdown(fusion_choices(records), label="Fusion model",
                                                 value=default_fusion(records))
                        group_box = gr.Radio(["family", "script"], value="family",
                                             label="Group languages by")
                        reload_button = gr.Button("Reload runs", size="sm")
                summary = gr.Markdown()
                language_frame = gr.Dataframe(pd.DataFrame(columns=LANGUAGE_COLUMNS),
                                              label="F1 per language (click a column to sort)",
                                              interactive=False, elem_id="language-table")
                csv_button = gr.DownloadButton("Download CSV", size="sm")
                gr.Markdown("**Δ F1 per language.** Each bar is the fusion model's F1 minus the "
                            "baseline's on that language's test set; bars above zero mean fusion helps. "
                            "Whiskers (where several seeds exist) combine both models' spreads.",
                            elem_classes=["help"])
                delta_plot = gr.Plot(label="Δ F1", show_label=False)
                gr.Markdown("**Layer sweep.** One fusion model per layer k (0 = embeddings), each "
                            "trained the same short way and scored on the dev sets: the orange line "
                            "is the mean over the target languages, green is English. Choose k on dev "
                            "data only; the dashed line marks the shipped k.", elem_classes=["help"])
                sweep_plot = gr.Plot(label="Layer sweep", show_label=False)

            # ---- Evaluate ----------------------------------------------------------------
            with gr.Tab("Evaluate your data", id="evaluate"):
                gr.Markdown(
                    "Upload a CoNLL-style file — token in the first column, IOB tag (PER/ORG/LOC) in "
                    "the last, a blank line between sentences — and name its language. Both models "
                    f"are scored on it (limit {UPLOAD_BYTES_LIMIT / 1e6:.0f} MB and "
                    f"{UPLOAD_SENTENCE_LIMIT:,} sentences); other tag types count as O.")
                with gr.Row():
                    upload = gr.File(label="CoNLL file", type="filepath", elem_id="upload")
                    with gr.Column():
                        by_name = sorted(LANGUAGES.values(), key=lambda lang: lang.name)
                        language = gr.Dropdown([(f"{lang.name} ({lang.code})", lang.code) for lang in by_name],
                                               value=None, allow_custom_value=True,
                                               label="Language of the file")
                        evaluate_button = gr.Button("Score both models", variant="primary")
                evaluate_status = gr.Markdown()
                score_frame = gr.Dataframe(pd.DataFrame(columns=SCORE_COLUMNS), interactive=False,
                                           label="Precision / recall / F1 (percent)")
                score_plot = gr.Plot(label="F1 per type", show_label=False)

        # ---- Wiring ----------------------------------------------------------------------
        compare_outputs = [status, highlights["baseline"], highlights["fusion"], disagreement, table,
                           explanations, inside_note, attention_plot, overview_plot, share_plot, gate_plot]

        def compare_fallback(message):
            return [message, None, None, None, entity_table({}), None,
                    message] + [plots.message_figure(message)] * 4

        def on_compare(text_value, role_value, layer_value, head_value):
            result = compare(models, text_value)
            rtl = result["direction"] == "rtl"
            return [result["message"],
                    gr.HighlightedText(value=result["highlights"].get("baseline"), rtl=rtl),
                    gr.HighlightedText(value=result["highlights"].get("fusion"), rtl=rtl),
                    gr.HighlightedText(value=result["disagreement"], rtl=rtl),
                    result["table"], result["explanations"],
                    *inside_figures(result["explanations"], role_value, layer_value, head_value)]

        on_compare = _safe(on_compare, compare_fallback)
        gr.on([compare_button.click, text.submit], on_compare, [text, role, layer, head],
              compare_outputs, api_name="compare")
        # An example click fills the text box, then runs the comparison.
        if example_box is not None:
            example_box.load_input_event.then(on_compare, [text, role, layer, head], compare_outputs,
                                              api_visibility="private")

        inside_outputs = [inside_note, attention_plot, overview_plot, share_plot, gate_plot]
        on_inside = _safe(inside_figures, lambda m: [m] + [plots.message_figure(m)] * 4)
        gr.on([role.input, layer.release, head.release], on_inside,
              [explanations, role, layer, head], inside_outputs, api_visibility="private")

        def on_reload():
            new_records, warning = read_results(runs_dir)
            runs = default_runs(new_records)
            return (new_records, warning, gr.CheckboxGroup(choices=run_choices(new_records), value=runs),
                    gr.Dropdown(choices=fusion_choices(new_records), value=default_fusion(new_records)))

        def on_results(records_value, runs_value, fusion_value, group_value):
            frame = language_table(records_value, runs_value, fusion_value)
            return (results_summary(records_value, runs_value, fusion_value, frame), frame, write_csv(frame),
                    delta_figure(frame, group_value), sweep_figure(records_value, chosen_layer))

        on_results = _safe(on_results, lambda m: (m, pd.DataFrame(columns=LANGUAGE_COLUMNS), None,
                                                  plots.message_figure(m), plots.message_figure(m)))
        results_inputs = [records_state, runs_box, fusion_box, group_box]
        results_outputs = [summary, language_frame, csv_button, delta_plot, sweep_plot]
        gr.on([demo.load, reload_button.click], on_reload, None,
              [records_state, results_warning, runs_box, fusion_box], api_name="reload_runs",
              ).then(on_results, results_inputs, results_outputs, api_name="results")
        gr.on([runs_box.input, fusion_box.input, group_box.input], on_results, results_inputs,
              results_outputs, api_visibility="private")

        def on_evaluate(path, language_value, records_value, progress=gr.Progress()):
            return score_upload(models, path, language_value, records_value,
                                progress=lambda fraction, text_: progress(fraction, desc=text_))

        on_evaluate = _safe(on_evaluate, lambda m: (m, pd.DataFrame(columns=SCORE_COLUMNS),
                                                    plots.message_figure(m)))
        # Scoring a file is slow: it gets its own single slot so Compare requests keep flowing.
        evaluate_button.click(on_evaluate, [upload, language, records_state],
                              [evaluate_status, score_frame, score_plot], api_name="evaluate",
                              concurrency_limit=1, concurrency_id="evaluate")
    return demo


def launch_options() -> dict:
    """Settings `launch()` takes in Gradio 6 (theme and CSS moved there from Blocks)."""
    return {"theme": gr.themes.Soft(), "css": CSS, "max_file_size": 4 * UPLOAD_BYTES_LIMIT}


# --------------------------------------------------------------------------------------------
# main
# --------------------------------------------------------------------------------------------


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Layer Fusion Explorer (Gradio app)")
    parser.add_argument("--baseline", default=os.environ.get("LFE_BASELINE", str(CHECKPOINTS / "baseline")),
                        help="baseline checkpoint directory (env LFE_BASELINE)")
    parser.add_argument("--fusion", default=os.environ.get("LFE_FUSION"),
                        help="fusion checkpoint directory (env LFE_FUSION; default: checkpoints/fusion-l*)")
    parser.add_argument("--runs", default=os.environ.get("LFE_RUNS", str(RUNS_DIR)),
                        help="folder of run records (env LFE_RUNS)")
    # Hugging Face Spaces sets GRADIO_SERVER_NAME / GRADIO_SERVER_PORT: respect them.
    environ = os.environ.get
    parser.add_argument("--host", default=environ("LFE_HOST", environ("GRADIO_SERVER_NAME", "127.0.0.1")),
                        help="address to listen on (env LFE_HOST)")
    parser.add_argument("--port", type=int, default=int(environ("LFE_PORT", environ("GRADIO_SERVER_PORT", 7860))),
                        help="port (env LFE_PORT)")
    parser.add_argument("--share", action="store_true", default=_env_flag("LFE_SHARE"),
                        help="also serve through a public gradio.live link (env LFE_SHARE=1)")
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    fusion_dir = args.fusion or find_fusion_checkpoint()
    models = load_models(args.baseline, fusion_dir)
    demo = build_demo(models, runs_dir=args.runs)
    demo.queue(default_concurrency_limit=CONCURRENCY, max_size=QUEUE_SIZE)
    demo.launch(server_name=args.host, server_port=args.port, share=args.share, **launch_options())


if __name__ == "__main__":
    main()
