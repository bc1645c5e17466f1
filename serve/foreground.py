"""Who gets the CPU first: people waiting for a Compare before a file being scored.

Scoring an upload takes seconds to minutes; a Compare should take well under one. The two share
the machine's cores, so the scoring loop asks `Foreground.wait_until_quiet` between its batches
and steps aside while any Compare runs, and until none has run for `quiet_seconds` (a class
clicking Compare in a burst keeps it waiting). A Compare then only ever waits for the one small
batch the scoring had already started (bench/load.py --upload measures the effect).
"""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager


class Cancelled(Exception):
    """The user cancelled the work (raised by `wait_until_quiet` from a cancelled job)."""


class Foreground:
    """Counts the foreground requests running now and remembers when the last one ended."""

    def __init__(self, quiet_seconds: float = 0.5, clock=time.monotonic):
        self.quiet_seconds = quiet_seconds
        self._clock = clock
        self._running = 0
        self._last_end = float("-inf")
        self._changed = threading.Condition()

    @contextmanager
    def request(self):
        """Wrap a foreground request (a Compare): background work waits while it runs."""
        with self._changed:
            self._running += 1
        try:
            yield
        finally:
            with self._changed:
                self._running -= 1
                self._last_end = self._clock()
                self._changed.notify_all()

    def wait_until_quiet(self, cancelled=lambda: False, poll: float = 0.05, limit: float | None = None) -> float:
        """Block until no foreground request has run for `quiet_seconds` (or for `limit` seconds
        at most); returns the seconds waited. Raises `Cancelled` as soon as `cancelled()` turns
        true."""
        started = self._clock()
        while True:
            if cancelled():
                raise Cancelled()
            with self._changed:
                quiet = self._running == 0 and self._clock() - self._last_end >= self.quiet_seconds
                if quiet or (limit is not None and self._clock() - started >= limit):
                    return self._clock() - started
                self._changed.wait(poll)


class CancelFlags:
    """One cancel flag per page (Gradio session), set by that page's Cancel button."""

    def __init__(self):
        self._flags: dict[str, threading.Event] = {}
        self._lock = threading.Lock()

    def start(self, session: str) -> threading.Event:
        """A fresh, unset flag for the job a page starts now."""
        with self._lock:
            self._flags[session] = flag = threading.Event()
            return flag

    def cancel(self, session: str) -> bool:
        """Set the page's flag; False when it has no job running."""
        with self._lock:
            flag = self._flags.get(session)
        if flag is None:
            return False
        flag.set()
        return True

    def finish(self, session: str, flag: threading.Event) -> None:
        with self._lock:
            if self._flags.get(session) is flag:
                del self._flags[session]
