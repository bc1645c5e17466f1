"""Evaluate your data: score both models on an uploaded CoNLL file, next to the stored runs for
that language (one row set per group of runs, never mixed), and browse the file's sentences
where the models differ (ui/error_browser.py)."""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import gradio as gr
import pandas as pd

from fusion.data.ner import DataFormatError, conll_dataset, parse_conll_lines
from fusion.data.upload import DecodedText, UploadError, decode_upload
from fusion.evaluation.error_analysis import differing_sentences
from fusion.evaluation.evaluate import predict_dataset, score_tags
from fusion.studies.results import stored_scores
from fusion.text.languages import LANGUAGES, language_info
from serve.foreground import Cancelled
from serve.markdown import plain
from serve.paths import SAMPLE_UPLOAD
from serve.slots import TaggerSlot
from ui import plots
from ui.common import Parts, safe
from ui.error_browser import ErrorBrowser

SAMPLE_FILE = SAMPLE_UPLOAD
UPLOAD_BYTES_LIMIT = 2_000_000  # 2 MB ...
UPLOAD_SENTENCE_LIMIT = 5_000  # ... and 5,000 sentences per file
# Sub-word tokens per batch while scoring an upload: small batches, so that the scoring can step
# aside for a Compare after a fraction of a second (serve/foreground.py).
UPLOAD_BATCH_TOKENS = 512
CANCELLED = "Scoring cancelled: nothing was scored. Press *Score both models* to start again."
SCORE_COLUMNS = ["source", "model", "type", "precision", "recall", "F1", "support"]
INTRO = (
    "Upload a CoNLL-style file — token in the first column, IOB tag (PER/ORG/LOC) in the last, a "
    "blank line between sentences — and name its language. Both models are scored on it (limit "
    f"{UPLOAD_BYTES_LIMIT / 1e6:.0f} MB and {UPLOAD_SENTENCE_LIMIT:,} sentences); other tag types "
    "count as O. Any text encoding is read (the one used is named); start from the sample file "
    "to see the format.")


def check_upload(path) -> str | None:
    """A message saying why the file cannot be scored, or None when it is fine to read."""
    if not path:
        return "Upload a CoNLL-style file first (one token and its tag per line, a blank line between sentences)."
    if not os.path.isfile(path):
        return "The upload is not a regular file."
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


def stored_rows(records: list[dict], language: str) -> tuple[list[dict], list[plots.BarSeries]]:
    """The stored test scores for `language`: table rows and bar series, one per group × model."""
    rows, series = [], {}
    for score in stored_scores(records, language):
        source = (f"stored: {score.group.recipe}, {score.sentences:,} sentences, "
                  f"{score.runs} run{'s' if score.runs > 1 else ''}")
        rows.append({"source": source, "model": score.model, "type": score.entity_type,
                     "precision": score.precision, "recall": score.recall, "F1": score.f1,
                     "support": None})
        key = (source, score.model)
        if key not in series:
            series[key] = plots.BarSeries(f"{score.model} · {source}",
                                          "baseline" if score.model == "baseline" else "fusion",
                                          True, {})
        series[key].f1[score.entity_type] = score.f1
    return rows, list(series.values())


@dataclass(frozen=True)
class ReadUpload:
    """An upload read and checked: its sentences, or the message saying why it cannot be scored."""

    name: str  # the file's name, escaped for Markdown
    dataset: object = None  # Dataset(tokens, ner_tags)
    decoded: DecodedText | None = None
    problem: str | None = None
    short_problem: str = ""  # for the figure


def read_upload(path) -> ReadUpload:
    """Read an uploaded CoNLL file within the limits, or say why not."""
    problem = check_upload(path)
    if problem:
        return ReadUpload("", problem=problem, short_problem=problem)
    file_name = Path(path).name
    name = plain(file_name)
    try:
        decoded = decode_upload(file_name, Path(path).read_bytes())
        sentences = parse_conll_lines(decoded.lines(), file_name)
        dataset = conll_dataset(sentences, file_name, max_sentences=UPLOAD_SENTENCE_LIMIT + 1)
    except (UploadError, DataFormatError) as error:
        return ReadUpload(name, problem=f"Could not read {name}: {plain(error)}",
                          short_problem="the file could not be read")
    if len(dataset) == 0:
        return ReadUpload(name, problem=f"{name} holds no sentences.", short_problem="no sentences")
    if len(dataset) > UPLOAD_SENTENCE_LIMIT:
        message = (f"{name} has more than {UPLOAD_SENTENCE_LIMIT:,} sentences, the limit per upload. "
                   "Split it, or score it offline with `python -m fusion evaluate`.")
        return ReadUpload(name, problem=message, short_problem=message)
    return ReadUpload(name, dataset, decoded)


class ScoringRate:
    """Seconds per sub-word token for scoring an upload with every loaded model, as measured on
    this server by the last scorings (before the first one: this project's 2-core machine)."""

    MEASURED_HERE = 0.0021  # bench/load.py: 2,000 sentences alone, 2.08 ms per token, 2-core machine

    def __init__(self, seconds_per_token: float = MEASURED_HERE):
        self.seconds_per_token = seconds_per_token
        self.measured = False
        self._lock = threading.Lock()

    def observe(self, tokens: int, seconds: float) -> None:
        if tokens <= 0 or seconds <= 0:
            return
        with self._lock:  # the newest scoring counts for half: the server's load changes
            rate = seconds / tokens
            self.seconds_per_token = rate if not self.measured else (self.seconds_per_token + rate) / 2
            self.measured = True

    def estimate(self, tokens: int) -> float:
        return tokens * self.seconds_per_token


RATE = ScoringRate()


def upload_tokens(slots: dict[str, TaggerSlot], dataset) -> int:
    """Sub-word tokens of the upload's sentences, as the models read them."""
    slot = next((s for s in slots.values() if s.ready), None)
    if slot is None:
        return 0
    sentences = [words for words in dataset["tokens"] if words]
    if not sentences:
        return 0
    encoded = slot.tagger.tokenizer(sentences, is_split_into_words=True, add_special_tokens=False)
    return sum(len(ids) for ids in encoded["input_ids"])


def describe_upload(slots: dict[str, TaggerSlot], path, rate: ScoringRate = RATE) -> str:
    """What scoring the file will take, said before it starts (or why it cannot be scored)."""
    if not path:
        return ""
    upload = read_upload(path)
    if upload.problem:
        return upload.problem
    ready = [slot for slot in slots.values() if slot.ready]
    tokens = upload_tokens(slots, upload.dataset)
    seconds = rate.estimate(tokens) * len(ready) / max(1, len(slots))
    source = "measured on this server" if rate.measured else "measured on a 2-core machine"
    return (f"{upload.name}: **{len(upload.dataset):,}** sentences, {tokens:,} sub-word tokens. Scoring "
            f"{'both models' if len(ready) == 2 else 'the loaded model'} takes about "
            f"**{_duration(seconds)}** when no one is comparing ({source}); it pauses while others "
            "compare, and *Cancel* stops it.")


def _duration(seconds: float) -> str:
    if seconds < 1:
        return "under 1 s"
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.1f} min"


class Scored(NamedTuple):
    """An upload scored: the message, the score table, the per-type figure, and the sentences
    where the models differ (for the browser under it)."""

    status: str
    scores: pd.DataFrame
    plot: object
    views: list


def score_upload(slots: dict[str, TaggerSlot], path, language, records: list[dict], progress=None,
                 rate: ScoringRate = RATE) -> Scored:
    """Score both models on an uploaded file. `progress(fraction, description)` is called before
    the first batch and after each one; it may block (to let a Compare go first) or raise (to
    cancel)."""
    empty = pd.DataFrame(columns=SCORE_COLUMNS)
    upload = read_upload(path)
    if upload.problem:
        return Scored(upload.problem, empty, plots.message_figure(upload.short_problem), [])
    name, dataset, decoded = upload.name, upload.dataset, upload.decoded
    ready = [slot for slot in slots.values() if slot.ready]
    if not ready:
        return Scored("No model is loaded, so nothing can be scored.", empty, plots.message_figure("no model"), [])

    rows, series, predicted = [], [], {}
    total = len(ready) * len(dataset)
    if progress is not None:
        progress(0.0, "starting")
    started, waited = time.perf_counter(), [0.0]  # the time spent in `progress` (pauses) is not the rate's
    for index, slot in enumerate(ready):
        def report(done, offset=index * len(dataset), side=slot.side):
            if progress is not None:
                asked = time.perf_counter()
                progress((offset + done) / total, f"{side}: {done:,} / {len(dataset):,} sentences")
                waited[0] += time.perf_counter() - asked
        predicted[slot.side] = predict_dataset(slot.tagger, dataset, batch_size=16, progress=report,
                                               max_batch_tokens=UPLOAD_BATCH_TOKENS)
        scores = score_tags(dataset["ner_tags"], predicted[slot.side])
        mine = _score_rows("your file", slot.model, scores)
        rows += mine
        series.append(plots.BarSeries(f"{slot.model} · your file", slot.side, False,
                                      {row["type"]: row["F1"] for row in mine}))
    if len(ready) == len(slots):  # the rate is for every model of the app
        rate.observe(upload_tokens(slots, dataset), time.perf_counter() - started - waited[0])
    code = str(language or "").strip()
    stored, stored_series = stored_rows(records, code) if code else ([], [])
    table = pd.DataFrame(rows + stored, columns=SCORE_COLUMNS).round(1)
    info = language_info(code)
    message = (f"Scored **{len(dataset):,}** sentences of {name}"
               + (f" ({plain(info.name)})" if code else "")
               + f", read as {plain(decoded.describe())}. "
               + ("Stored results for this language follow, one set per group of runs."
                  if stored else ("No stored test results for this language." if code else
                                  "Name the language to see the stored results beside yours.")))
    views = (differing_sentences(list(range(len(dataset))), dataset["tokens"], dataset["ner_tags"], predicted)
             if len(predicted) == 2 else [])
    figure = plots.per_type_bars(series + stored_series, title="F1 per entity type: your file vs stored runs")
    return Scored(message, table, figure, views)


def fallback_values(message: str) -> Scored:
    return Scored(message, pd.DataFrame(columns=SCORE_COLUMNS), plots.message_figure(message), [])


def _build() -> Parts:
    parts = Parts()
    gr.Markdown(INTRO)
    with gr.Row():
        parts["upload"] = gr.File(label="CoNLL file", type="filepath", elem_id="upload")
        with gr.Column():
            by_name = sorted(LANGUAGES.values(), key=lambda lang: lang.name)
            parts["language"] = gr.Dropdown([(f"{lang.name} ({lang.code})", lang.code) for lang in by_name],
                                            value=None, allow_custom_value=True,
                                            label="Language of the file")
            with gr.Row():
                parts["button"] = gr.Button("Score both models", variant="primary")
                parts["cancel"] = gr.Button("Cancel", variant="stop", elem_id="cancel-upload")
            parts["sample"] = gr.DownloadButton("Download a sample file", value=str(SAMPLE_FILE),
                                                size="sm")
    parts["estimate"] = gr.Markdown(elem_id="upload-estimate")
    parts["status"] = gr.Markdown(elem_id="upload-status")
    parts["scores"] = gr.Dataframe(pd.DataFrame(columns=SCORE_COLUMNS), interactive=False,
                                   label="Precision / recall / F1 (percent)")
    parts["plot"] = gr.Plot(label="F1 per type", show_label=False)
    return parts


class EvaluateTab:
    """Scoring a file is slow: it gets its own single slot, and between its batches it steps
    aside while anyone compares (serve/foreground.py); Cancel stops it within one batch."""

    def __init__(self, page, tab: gr.Tab):
        self.services = page.services
        self.parts = _build()
        self.browser = ErrorBrowser(page.colours, list(page.colours), "upload")
        # what a scoring sets: this tab's status, table and figure, and the browser's sentences
        self.scored = Parts(self.parts, views=self.browser.parts["views"])

    def on_evaluate(self, path, language, request: gr.Request = None, progress=gr.Progress()) -> dict:
        services = self.services
        session = request.session_hash if request is not None else ""
        flag = services.cancel_flags.start(session)

        def report(fraction, text):
            if services.foreground.wait_until_quiet(flag.is_set) > 0.05:
                text += " (paused while others compared)"
            progress(fraction, desc=text)

        try:
            return self.scored.updates(score_upload(services.slots, path, language, services.runs.records,
                                                    progress=report))
        except Cancelled:
            return self.scored.updates(fallback_values(CANCELLED))
        finally:
            services.cancel_flags.finish(session, flag)

    def on_cancel(self, request: gr.Request = None):
        running = self.services.cancel_flags.cancel(request.session_hash if request is not None else "")
        return CANCELLED if running else gr.skip()

    def wire(self, page) -> None:
        parts, browser = self.parts, self.browser
        parts["upload"].change(safe(lambda path: describe_upload(self.services.slots, path), lambda message: message),
                               [parts["upload"]], [parts["estimate"]], api_visibility="private",
                               concurrency_limit=1, concurrency_id="evaluate-estimate")
        scoring = parts["button"].click(
            safe(self.on_evaluate, lambda message: self.scored.updates(fallback_values(message))),
            parts.pick("upload", "language"), self.scored.pick(*Scored._fields), api_name="evaluate",
            concurrency_limit=1, concurrency_id="evaluate")
        scoring.then(lambda views, kinds, types: browser.show(views, "Sentences of your file where the models differ.",
                                                              kinds, types),
                     browser.parts.pick("views", "kinds", "types"), browser.outputs, api_visibility="private")
        parts["cancel"].click(self.on_cancel, None, [parts["status"]], cancels=[scoring], queue=False,
                              api_name="cancel_evaluate")
        browser.wire(page)
