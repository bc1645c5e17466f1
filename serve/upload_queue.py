"""Uploads being scored take turns: one at a time, first come first served, each waiting upload
told its place in line and how long those ahead of it should take (issue #26).

A scoring runs on a thread of its own while the page's event, an async generator, polls it and
shows its place or its progress. The polling is what makes a scoring stop when nobody wants it:
Gradio stops iterating an event whose page has gone (and cancels one whose page pressed Cancel)
and closes the generator; closing it sets the upload's cancel flag, so the scoring stops at its
next batch, and an upload still waiting leaves the line. A thread cannot be stopped from outside,
so the line's next upload starts only once that batch has ended.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Waiting:
    """An upload waiting for its turn."""

    ahead: int  # uploads before it, the one being scored included
    seconds: float  # their estimated scoring time left


@dataclass(frozen=True)
class Progress:
    """An upload being scored: what its work last reported."""

    fraction: float
    text: str


@dataclass(frozen=True)
class Finished:
    """An upload scored: what its work returned."""

    result: object


@dataclass(eq=False)  # a ticket is itself: two with the same estimate are two uploads
class _Ticket:
    seconds: float
    started: float | None = None  # when its scoring began (the clock's time)


class _Job:
    """`work(report)` on a thread of its own; `report(fraction, text)` records its progress."""

    def __init__(self, work: Callable, on_end: Callable[[], None]):
        self.progress = Progress(0.0, "starting")
        self.ended = threading.Event()
        self._result, self._error = None, None
        self._thread = threading.Thread(target=self._run, args=(work, on_end), daemon=True,
                                        name="upload-scoring")
        self._thread.start()

    def _run(self, work: Callable, on_end: Callable[[], None]) -> None:
        try:
            self._result = work(self._report)
        except BaseException as error:  # noqa: BLE001 — handed to the page's event
            self._error = error
        finally:
            on_end()
            self.ended.set()

    def _report(self, fraction: float, text: str) -> None:
        self.progress = Progress(fraction, text)

    def outcome(self):
        if self._error is not None:
            raise self._error
        return self._result


class UploadLine:
    """The line of uploads to score, the first one being scored."""

    def __init__(self, poll_seconds: float = 0.5, clock=time.monotonic):
        self.poll_seconds = poll_seconds  # how often a page hears of its upload, and may leave
        self._clock = clock
        self._lock = threading.Lock()
        self._line: list[_Ticket] = []

    def __len__(self) -> int:
        with self._lock:
            return len(self._line)

    async def take_turn(self, work: Callable, seconds: float,
                        cancel: threading.Event) -> AsyncIterator[Waiting | Progress | Finished]:
        """Wait for this upload's turn, then run `work(report)` on its own thread: yields
        `Waiting` while others go first, `Progress` while it runs, then `Finished` with its
        result (or raises its error). `seconds` is its estimated scoring time, which those behind
        it are told. Closed early, it sets `cancel`, which `work` must heed between batches."""
        ticket = _Ticket(seconds)
        with self._lock:
            self._line.append(ticket)
        job = None
        try:
            while (place := self._place(ticket)) is not None:
                yield place
                await asyncio.sleep(self.poll_seconds)
            with self._lock:
                ticket.started = self._clock()
            job = _Job(work, on_end=lambda: self._leave(ticket))
            while not job.ended.is_set():
                yield job.progress
                await asyncio.sleep(self.poll_seconds)
            yield Finished(job.outcome())
        finally:
            cancel.set()  # a page gone or cancelled: its scoring stops at its next batch
            if job is None:
                self._leave(ticket)

    def _place(self, ticket: _Ticket) -> Waiting | None:
        """Where `ticket` stands: None when it is its turn."""
        with self._lock:
            ahead = self._line[:self._line.index(ticket)]
            if not ahead:
                return None
            first = ahead[0]
            left = first.seconds - (self._clock() - first.started if first.started is not None else 0.0)
            return Waiting(len(ahead), max(0.0, left) + sum(other.seconds for other in ahead[1:]))

    def _leave(self, ticket: _Ticket) -> None:
        with self._lock:
            if ticket in self._line:
                self._line.remove(ticket)
