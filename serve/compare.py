"""Compare, served: both models' entities on a text, and the one view kept of each compared text.

A `CompareView` is made once per compared text: its tags, its table, and how it was cut into
sentences and words. The service keeps the recent ones, keyed by the text's hash, and every
later look at the same text (the page's layout, the downloads, Inside, Layers) reads that view
instead of tagging or cutting the text again. Requests that arrive together are answered by one
call (`serve/batcher.py`), and while any Compare runs, background work steps aside
(`serve/foreground.py`). Whatever an endpoint is sent, it tags at most one request's share of
it (`fit_request`: TEXT_LIMIT characters, TOKEN_BUDGET tokens), and says what it left out.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import pandas as pd

from fusion.tagging.agreement import EntityRow, compare_entities, highlight_segments, only
from fusion.tagging.batching import max_window_tokens
from fusion.tagging.budget import fit_to_budget
from fusion.tagging.predict import clean_text, predict_each, segment
from fusion.text.languages import text_direction
from serve.batcher import Busy, RequestBatcher, each_alone_on_failure
from serve.cache import BoundedCache, text_key
from serve.foreground import Foreground
from serve.markdown import plain
from serve.settings import COMPARE_BATCH, QUEUE_SIZE
from serve.slots import SIDES, TaggerSlot

TEXT_LIMIT = 5_000  # characters tagged per request
# Sub-word tokens tagged per request: what bounds its CPU time (5,000 Chinese characters are
# 10,000 tokens, 5,000 English ones about 1,200). bench/request_cost.py measures the cost per token.
TOKEN_BUDGET = 1_024
RECENT_VIEWS = 32  # views kept: the page's later calls about a text find its view here
TABLE_COLUMNS = ["model", "entity", "type", "score", "start", "end", "agreement"]
EMPTY_MESSAGE = "Type a sentence in any language, or pick an example below."


@dataclass(frozen=True)
class RequestText:
    """The part of a request's text that is tagged, and what was left out of it (`fit_request`)."""

    text: str = ""  # what is tagged: a prefix of the cleaned text
    notes: tuple[str, ...] = ()  # one per cut, saying what was left out; none: the whole text

    @property
    def note(self) -> str:
        return "\n\n".join(self.notes)


@dataclass
class CompareView:
    """Everything the page shows of one compared text, made once."""

    text: str
    message: str
    direction: str  # "ltr" or "rtl"
    highlights: dict[str, list[tuple[str, str | None]]] = field(default_factory=dict)
    disagreement: list[tuple[str, str | None]] | None = None
    table: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=TABLE_COLUMNS))
    sentences: list[tuple[int, int]] = field(default_factory=list)  # how the text was cut
    words: list[tuple[int, int]] = field(default_factory=list)  # every word's span, in order
    rows: list[EntityRow] = field(default_factory=list)  # the table's entities, for the exports
    summary: str = ""  # the comparison in one plain sentence (no markup), for the exports
    tagged: bool = True  # False: only cut into sentences and words (a text Compare never saw)
    fitted: RequestText = field(default_factory=RequestText)  # what the request budget left out

    @functools.cached_property
    def key(self) -> str:
        """The text's cache key, computed once: every cache about this text uses it."""
        return text_key(self.text)

    def sentence_at(self, position: int) -> int:
        """The index of the sentence that holds character `position` (0 when none does)."""
        return next((index for index, (start, end) in enumerate(self.sentences) if start <= position < end), 0)


def as_value(segments) -> list[tuple[str, str | None]]:
    """fusion.tagging.agreement segments -> a highlighted-text value."""
    return [(segment.text, segment.label) for segment in segments]


def entity_frame(rows: list[EntityRow] | None = None) -> pd.DataFrame:
    return pd.DataFrame([{"model": row.side, "entity": row.text, "type": row.label, "score": row.score,
                          "start": row.start, "end": row.end, "agreement": row.agreement}
                         for row in rows or []], columns=TABLE_COLUMNS)


def fit_request(slots: dict[str, TaggerSlot], text) -> RequestText:
    """What one request may tag of `text` (the character limit, then the token budget): every
    endpoint that tags a text (Compare, Inside, Layers) calls this first, so none of them does
    more work than one Compare, whatever it is sent."""
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
    return RequestText(text, tuple(notes))


def compare_texts(slots: dict[str, TaggerSlot], texts: list) -> list[CompareView]:
    """Tag each text with every loaded model and compare; never raises on odd text. All texts
    go through each model together (their sentences batched by length), and the two models run
    at once (`predict_each`): many people's Compare requests cost little more than one."""
    fitted = [fit_request(slots, text) for text in texts]
    to_tag = [index for index, request in enumerate(fitted) if request.text.strip()]
    ready = {side: slot.tagger for side, slot in slots.items() if slot.ready}
    tagged = predict_each(ready, [fitted[index].text for index in to_tag]) if ready and to_tag else {}
    position = {index: k for k, index in enumerate(to_tag)}
    return [view_of(slots, request, {side: tagged[side][position[index]] for side in tagged}
                    if index in position else {})
            for index, request in enumerate(fitted)]


def compare_text(slots: dict[str, TaggerSlot], text) -> CompareView:
    """`compare_texts` of one text."""
    return compare_texts(slots, [text])[0]


def view_of(slots: dict[str, TaggerSlot], request: RequestText, predictions: dict) -> CompareView:
    """What Compare shows for the request's text, from each loaded model's Prediction of it."""
    text, notes = request.text, list(request.notes)
    view = CompareView(text, "", text_direction(text), fitted=request)
    if not text.strip():
        view.message = "\n\n".join(notes) or EMPTY_MESSAGE  # e.g. one "word" over the budget
        return view
    notes += [f"The {side} model is not loaded: {plain(slot.error)}" for side, slot in slots.items()
              if not slot.ready]
    if predictions:
        first = next(iter(predictions.values()))  # both models cut text the same way
        view.sentences = [(sentence.start, sentence.end) for sentence in first.sentences]
        view.words = [(word.start, word.end) for word in first.words]
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


def untagged_view(slots: dict[str, TaggerSlot], text) -> CompareView:
    """A text cut into its sentences and words as the models cut it, not tagged: what Inside and
    Layers need of a text Compare has not seen (an API call) or no longer keeps. Only the part
    one request may tag is kept (`fit_request`): Inside and Layers tag it next."""
    request = fit_request(slots, text)
    text = request.text
    view = CompareView(text, "", text_direction(text), tagged=False, fitted=request)
    ready = next((slot for slot in slots.values() if slot.ready), None)
    if ready is not None and text.strip():
        words, sentences = segment(text, ready.tagger.tokenizer)
        view.sentences = [(s.start, s.end) for s in sentences]
        view.words = [(w.start, w.end) for w in words]
    return view


def failed_view(message: str) -> CompareView:
    """What a request that could not be answered shows: the message, nothing tagged."""
    return CompareView("", message, "ltr")


class CompareService:
    """Compare for every page at once: batched, first in line for the CPU, and one view per text."""

    def __init__(self, slots: dict[str, TaggerSlot], foreground: Foreground | None = None,
                 max_batch: int = COMPARE_BATCH, max_waiting: int = QUEUE_SIZE):
        self.slots = slots
        self.foreground = foreground or Foreground()
        self.recent = BoundedCache(RECENT_VIEWS)
        self._batcher = RequestBatcher(each_alone_on_failure(self._tag, failed_view), max_batch=max_batch,
                                       max_waiting=max_waiting)

    def compare(self, text) -> CompareView:
        """Tag `text`, in one batch with the requests waiting beside it; the view is kept."""
        try:
            return self._batcher(text)
        except Busy as busy:
            return failed_view(f"The server is busy: {busy}.")

    def view(self, text, tagged: bool = True) -> CompareView:
        """The view of `text`: the one Compare made while it is kept, else made now: tagged
        (through the batcher, as a Compare) when `tagged`, else only cut into sentences."""
        text = "" if text is None else str(text)
        found = self.recent.find(text_key(text))
        if found is not None and (found.tagged or not tagged):
            return found
        if tagged and text.strip():
            return self.compare(text)
        view = untagged_view(self.slots, text)
        if text.strip():
            self.recent.store(text_key(text), view)
        return view

    def _tag(self, texts: list) -> list[CompareView]:
        with self.foreground.request():  # a file being scored waits meanwhile
            views = compare_texts(self.slots, texts)
        for view in views:
            self.recent.store(view.key, view)  # the page's next calls about this text read it
        return views
