"""Evaluate your data: score both models on an uploaded CoNLL file, next to the stored runs for
that language (one row set per group of runs, never mixed), and browse the file's sentences
where the models differ (ui/error_browser.py). Uploads are scored one at a time, each waiting
one told its place (serve/upload_queue.py), and one file may take a few minutes at most."""

from __future__ import annotations

import asyncio
import os
import threading
import time
import traceback
from collections.abc import AsyncIterator
from contextlib import aclosing
from dataclasses import dataclass, replace
from pathlib import Path
from typing import NamedTuple

import gradio as gr
import pandas as pd

from fusion.data.ner import DataFormatError, conll_dataset
from fusion.data.upload import AUTO, ENCODINGS, DecodedText, LanguagePrefix, UploadError, decode_upload, read_sentences
from fusion.evaluation.error_analysis import differing_sentences
from fusion.evaluation.evaluate import predict_dataset, score_tags
from fusion.studies.results import stored_scores
from fusion.text.languages import LANGUAGES, language_info
from serve.foreground import Cancelled, Foreground
from serve.markdown import failure_message, plain
from serve.paths import SAMPLE_UPLOAD
from serve.slots import TaggerSlot
from serve.upload_queue import Finished, Progress, UploadLine, Waiting
from ui import plots
from ui.common import Parts, decimals, natural_key, safe
from ui.error_browser import ErrorBrowser
from ui.markup import SCORED_JS

SAMPLE_FILE = SAMPLE_UPLOAD
UPLOAD_BYTES_LIMIT = 2_000_000  # 2 MB ...
UPLOAD_SENTENCE_LIMIT = 5_000  # ... and 5,000 sentences per file
# Seconds per sub-word token to score an upload with both models: bench/load.py, 2,000 sentences
# alone, 2.08 ms per token on this project's 2-core machine (docs/PERFORMANCE.md).
SECONDS_PER_TOKEN_HERE = 0.0021
# ... and so the most sub-word tokens one upload may have: what that estimate says both models
# score in 3 minutes. Uploads are scored one at a time for everyone, so this bounds what one
# file can make the others wait (issue #26: a legal 1.9 MB file of one long token, about a
# million tokens, held the line for an estimated 33 minutes). 5,000 WikiANN-like sentences (16
# tokens each, bench/load.py) still fit under it, as under the sentence limit.
UPLOAD_SECONDS_LIMIT = 180
UPLOAD_TOKEN_LIMIT = int(UPLOAD_SECONDS_LIMIT / SECONDS_PER_TOKEN_HERE)  # 85,714
# Uploads in the scoring line at once (one scored, the others told their place; waiting costs no
# thread). More wait in Gradio's queue, which shows its own place.
UPLOAD_LINE_LENGTH = 8
# Sub-word tokens per batch while scoring an upload: small batches, so that the scoring can step
# aside for a Compare after a fraction of a second (serve/foreground.py).
UPLOAD_BATCH_TOKENS = 512
CANCELLED = "Scoring cancelled: nothing was scored. Press *Score both models* to start again."
# the long "source" last: on a phone the scores are in sight, the source a scroll away
SCORE_COLUMNS = ["model", "type", "precision", "recall", "F1", "support", "source"]
INTRO = (
    "Upload a CoNLL-style file — token in the first column, IOB tag (PER/ORG/LOC) in the last, a "
    "blank line between sentences — and name its language. Both models are scored on it (limit "
    f"{UPLOAD_BYTES_LIMIT / 1e6:.0f} MB, {UPLOAD_SENTENCE_LIMIT:,} sentences and "
    f"{UPLOAD_TOKEN_LIMIT:,} sub-word tokens, about {UPLOAD_SECONDS_LIMIT // 60} minutes of "
    "scoring; files are scored one at a time); other tag types count as O. The text encoding is "
    "found, or guessed and said so: pick it if the words shown look wrong. Start from the sample "
    "file to see the format.")


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
    """The stored test scores for `language`: table rows of every group of runs (the default
    group first, models in natural order), and bar series of the default group's models only:
    the chart sets your file beside one recipe, not twenty bars per type."""
    rows, series = [], {}
    found = stored_scores(records, language)
    groups_in_order = list(dict.fromkeys(score.group for score in found))  # the default first
    found.sort(key=lambda score: (groups_in_order.index(score.group), natural_key(score.model)))
    for score in found:
        source = (f"stored: {score.group.recipe}, {score.sentences:,} sentences, "
                  f"{score.runs} run{'s' if score.runs > 1 else ''}")
        rows.append({"source": source, "model": score.model, "type": score.entity_type,
                     "precision": score.precision, "recall": score.recall, "F1": score.f1,
                     "support": None})
        if score.group != groups_in_order[0]:  # the chart: the default group only
            continue
        key = (source, score.model)
        if key not in series:  # a short name: the legend fits a phone
            series[key] = plots.BarSeries(f"{score.model} · stored ({score.group.recipe})",
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
    prefix: LanguagePrefix | None = None  # WikiANN's language prefixes, removed from the tokens
    other_types: tuple[tuple[str, int], ...] = ()  # entity types counted as O, with their tokens
    tokens: int = 0  # sub-word tokens as the models read them (prepare_upload)
    problem: str | None = None
    short_problem: str = ""  # for the figure


def read_upload(path, encoding: str = AUTO) -> ReadUpload:
    """Read an uploaded CoNLL file (in `encoding`, or found) within the limits, or say why not."""
    problem = check_upload(path)
    if problem:
        return ReadUpload("", problem=problem, short_problem=problem)
    file_name = Path(path).name
    name = plain(file_name)
    try:
        decoded = decode_upload(file_name, Path(path).read_bytes(), encoding)
        read = read_sentences(decoded, file_name)
        dataset = conll_dataset(read.sentences, file_name, max_sentences=UPLOAD_SENTENCE_LIMIT + 1)
    except (UploadError, DataFormatError) as error:
        return ReadUpload(name, problem=f"Could not read {name}: {plain(error)}",
                          short_problem="the file could not be read")
    if len(dataset) == 0:
        return ReadUpload(name, problem=f"{name} holds no sentences.", short_problem="no sentences")
    if len(dataset) > UPLOAD_SENTENCE_LIMIT:
        message = (f"{name} has more than {UPLOAD_SENTENCE_LIMIT:,} sentences, the limit per upload. "
                   "Split it, or score it offline with `python -m fusion evaluate`.")
        return ReadUpload(name, problem=message, short_problem=message)
    return ReadUpload(name, dataset, decoded, read.prefix, read.other_types)


def prepare_upload(slots: dict[str, TaggerSlot], path, encoding: str = AUTO) -> ReadUpload:
    """`read_upload` and its sub-word tokens; over UPLOAD_TOKEN_LIMIT it is refused, before any
    scoring."""
    upload = read_upload(path, encoding)
    if upload.problem:
        return upload
    tokens = upload_tokens(slots, upload.dataset)
    if tokens > UPLOAD_TOKEN_LIMIT:
        message = (f"{upload.name} has {tokens:,} sub-word tokens; the limit per upload is "
                   f"{UPLOAD_TOKEN_LIMIT:,}, about {UPLOAD_SECONDS_LIMIT // 60} minutes of scoring "
                   "with both models on this project's 2-core machine, because files are scored "
                   "one at a time for everyone. Split it, or score it offline with "
                   "`python -m fusion evaluate`.")
        return replace(upload, tokens=tokens, problem=message, short_problem="over the token limit")
    return replace(upload, tokens=tokens)


class ScoringRate:
    """Seconds per sub-word token for scoring an upload with every loaded model, as measured on
    this server by the last scorings (before the first one: this project's 2-core machine)."""

    MEASURED_HERE = SECONDS_PER_TOKEN_HERE

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


def scoring_seconds(slots: dict[str, TaggerSlot], tokens: int, rate: ScoringRate = RATE) -> float:
    """The estimated time to score `tokens` with the loaded models, when no one is comparing."""
    ready = [slot for slot in slots.values() if slot.ready]
    return rate.estimate(tokens) * len(ready) / max(1, len(slots))


def reading_note(decoded: DecodedText) -> str:
    """How the file was read, with a few of its words beyond ASCII, so that a wrong encoding
    shows; a guess says it is one."""
    words = decoded.sample_words()
    note = f"read as {plain(decoded.describe())}" + (": " + ", ".join(map(plain, words)) if words else "")
    if decoded.guessed:
        others = f" ({plain(', '.join(decoded.others))} would read it too)" if decoded.others else ""
        note += (f". The encoding is a guess{others}: if these words look wrong, pick the file's "
                 "encoding and score it again")
    return note


def upload_notes(upload: ReadUpload) -> str:
    """What was done to the file's tokens and tags, each said once."""
    notes = []
    if upload.prefix is not None:
        notes.append(plain(upload.prefix.describe()) + ".")
    if upload.other_types:
        types = ", ".join(f"{plain(t)} ({count:,} token{'s' if count > 1 else ''})"
                          for t, count in upload.other_types[:6])
        notes.append(f"Tags the models do not predict count as O: {types}.")
    return "".join(" " + note for note in notes)


def describe_upload(slots: dict[str, TaggerSlot], path, rate: ScoringRate = RATE, encoding: str = AUTO) -> str:
    """What scoring the file will take, said before it starts (or why it cannot be scored)."""
    if not path:
        return ""
    upload = prepare_upload(slots, path, encoding)
    if upload.problem:
        return upload.problem
    ready = [slot for slot in slots.values() if slot.ready]
    source = "measured on this server" if rate.measured else "measured on a 2-core machine"
    return (f"{upload.name}: **{len(upload.dataset):,}** sentences, {upload.tokens:,} sub-word tokens, "
            f"{reading_note(upload.decoded)}.{upload_notes(upload)} Scoring "
            f"{'both models' if len(ready) == 2 else 'the loaded model'} takes about "
            f"**{_duration(scoring_seconds(slots, upload.tokens, rate))}** when no one is comparing "
            f"({source}). Files are scored one at a time; a scoring pauses while others compare, "
            "and *Cancel* stops it.")


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
                 rate: ScoringRate = RATE, encoding: str = AUTO) -> Scored:
    """Score both models on an uploaded file. `progress(fraction, description)` is called before
    the first batch and after each one; it may block (to let a Compare go first) or raise (to
    cancel)."""
    return score_read(slots, prepare_upload(slots, path, encoding), language, records, progress, rate)


def score_read(slots: dict[str, TaggerSlot], upload: ReadUpload, language, records: list[dict],
               progress=None, rate: ScoringRate = RATE) -> Scored:
    """`score_upload` of a file already read (`prepare_upload`)."""
    if upload.problem:
        return fallback_values(upload.problem, upload.short_problem)
    dataset = upload.dataset
    ready = [slot for slot in slots.values() if slot.ready]
    if not ready:
        return fallback_values("No model is loaded, so nothing can be scored.", "no model")

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
        rate.observe(upload.tokens, time.perf_counter() - started - waited[0])
    code = str(language or "").strip()
    stored, stored_series = stored_rows(records, code) if code else ([], [])
    table = pd.DataFrame(rows + stored, columns=SCORE_COLUMNS).round(1)
    views = (differing_sentences(list(range(len(dataset))), dataset["tokens"], dataset["ner_tags"], predicted)
             if len(predicted) == 2 else [])
    figure = plots.per_type_bars(series + stored_series, title="F1 per entity type",
                                 subtitle="your file beside the stored runs" if stored_series else "your file")
    return Scored(scored_message(upload, code, bool(stored)), table, figure, views)


def scored_message(upload: ReadUpload, code: str, stored: bool) -> str:
    info = language_info(code)
    return (f"Scored **{len(upload.dataset):,}** sentences of {upload.name}"
            + (f" ({plain(info.name)})" if code else "")
            + f", {reading_note(upload.decoded)}.{upload_notes(upload)} "
            + ("Stored results for this language follow, one set per group of runs; the chart sets "
               "your file beside the first of them."
               if stored else ("No stored test results for this language." if code else
                               "Name the language to see the stored results beside yours.")))


def fallback_values(message: str, short: str | None = None) -> Scored:
    return Scored(message, pd.DataFrame(columns=SCORE_COLUMNS), plots.message_figure(short or message), [])


def status_text(state: Waiting | Progress, seconds: float) -> str:
    """The page's status line while its upload (`seconds` to score) waits or is scored."""
    if isinstance(state, Waiting):
        others = f"{state.ahead} upload goes" if state.ahead == 1 else f"{state.ahead} uploads go"
        return (f"Waiting for your turn: files are scored one at a time, and {others} first "
                f"(about {_duration(state.seconds)} of scoring); yours then takes about "
                f"{_duration(seconds)}.")
    return f"Scoring ({100 * state.fraction:.0f} %): {plain(state.text)}"


async def score_in_turn(line: UploadLine, slots: dict[str, TaggerSlot], path, language, records: list[dict],
                        foreground: Foreground, cancel: threading.Event, encoding: str = AUTO,
                        rate: ScoringRate = RATE) -> AsyncIterator[str | Scored]:
    """What the page shows of an upload: its refusal (`Scored`) before any scoring, or its status
    (Markdown) while it waits for its turn in `line` and while it is scored, then its `Scored`
    values. The scoring steps aside while anyone compares and stops at its next batch once
    `cancel` is set, which closing this generator does (Gradio closes it when the page has gone,
    serve/upload_queue.py); a Cancelled scoring raises `Cancelled`."""
    upload = await asyncio.to_thread(prepare_upload, slots, path, encoding)
    if upload.problem:
        yield fallback_values(upload.problem, upload.short_problem)
        return
    seconds = scoring_seconds(slots, upload.tokens, rate)

    def work(show) -> Scored:
        def report(fraction, text):
            if foreground.wait_until_quiet(cancel.is_set) > 0.05:
                text += " (paused while others compared)"
            show(fraction, text)
        return score_read(slots, upload, language, records, progress=report, rate=rate)

    async with aclosing(line.take_turn(work, seconds, cancel)) as turns:  # closed with this one
        async for state in turns:
            yield state.result if isinstance(state, Finished) else status_text(state, seconds)


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
            parts["encoding"] = gr.Dropdown([AUTO, *ENCODINGS], value=AUTO, label="Text encoding",
                                            info="auto: found, or guessed and said so", elem_id="upload-encoding")
            with gr.Row():
                parts["button"] = gr.Button("Score both models", variant="primary")
                parts["cancel"] = gr.Button("Cancel", variant="stop", elem_id="cancel-upload")
            parts["sample"] = gr.DownloadButton("Download a sample file", value=str(SAMPLE_FILE),
                                                size="sm")
    parts["estimate"] = gr.Markdown(elem_id="upload-estimate")
    parts["status"] = gr.Markdown(elem_id="upload-status")
    return parts


def _build_results(parts: Parts) -> None:
    """The scores and their figure: shown once a file is scored (`SCORED_JS`), not empty before."""
    parts["scores"] = gr.Dataframe(pd.DataFrame(columns=SCORE_COLUMNS), interactive=False, wrap=True,
                                   label="Precision / recall / F1 (percent)", elem_id="upload-scores")
    parts["plot"] = gr.Plot(label="F1 per type", show_label=False, elem_id="upload-plot")


class EvaluateTab:
    """Scoring a file is slow: files take turns in one line (serve/upload_queue.py), and between
    its batches a scoring steps aside while anyone compares (serve/foreground.py); Cancel, or
    leaving the page, stops it within one batch."""

    def __init__(self, page, tab: gr.Tab):
        self.services = page.services
        self.line = UploadLine()  # one per app: every page's uploads take turns in it
        self.parts = _build()
        with gr.Column(elem_id="upload-results"):  # hidden by the page's CSS until a file is scored
            _build_results(self.parts)
            self.browser = ErrorBrowser(page.colours, list(page.colours), "upload")
        # what a scoring sets: this tab's status, table and figure, and the browser's sentences
        self.scored = Parts(self.parts, views=self.browser.parts["views"])

    async def on_evaluate(self, path, language, encoding=AUTO, request: gr.Request = None):
        """An async generator, so that Gradio can stop it between its steps when the page has
        gone; waiting for a turn holds no thread."""
        services = self.services
        session = request.session_hash if request is not None else ""
        flag = services.cancel_flags.start(session)
        values = score_in_turn(self.line, services.slots, path, language, services.runs.records,
                               services.foreground, flag, encoding)
        try:
            async with aclosing(values):
                async for value in values:
                    yield self.shown(value) if isinstance(value, Scored) else {self.parts["status"]: value}
        except Cancelled:
            yield self.shown(fallback_values(CANCELLED))
        except Exception as error:  # noqa: BLE001 — shown to the user, logged in full
            traceback.print_exc()
            yield self.shown(fallback_values(failure_message(error)))
        finally:
            services.cancel_flags.finish(session, flag)

    def shown(self, scored: Scored) -> dict:
        """A scoring's values, the table with one decimal in every score column."""
        return self.scored.updates(scored._replace(scores=decimals(scored.scores, whole=("support",))))

    def on_cancel(self, request: gr.Request = None):
        running = self.services.cancel_flags.cancel(request.session_hash if request is not None else "")
        return CANCELLED if running else gr.skip()

    def wire(self, page) -> None:
        parts, browser = self.parts, self.browser
        gr.on([parts["upload"].change, parts["encoding"].change],
              safe(lambda path, encoding: describe_upload(self.services.slots, path, encoding=encoding),
                   lambda message: message),
              parts.pick("upload", "encoding"), [parts["estimate"]], api_visibility="private",
              concurrency_limit=1, concurrency_id="evaluate-estimate")
        scoring = parts["button"].click(
            self.on_evaluate, parts.pick("upload", "language", "encoding"), self.scored.pick(*Scored._fields),
            api_name="evaluate", concurrency_limit=UPLOAD_LINE_LENGTH, concurrency_id="evaluate")
        scoring.then(lambda views, kinds, types: browser.show(views, "Sentences of your file where the models differ.",
                                                              kinds, types),
                     browser.parts.pick("views", "kinds", "types"), browser.outputs, api_visibility="private",
                     ).then(None, [parts["scores"]], None, js=SCORED_JS)
        parts["cancel"].click(self.on_cancel, None, [parts["status"]], cancels=[scoring], queue=False,
                              api_name="cancel_evaluate")
        browser.wire(page)
