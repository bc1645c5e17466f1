"""A small server-wide cache of recent values, and the fixed-size key of a text."""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict


def text_key(text: str) -> str:
    """A fixed-size cache key for any text (lone surrogates included)."""
    return hashlib.sha256(text.encode("utf-8", "replace")).hexdigest()


class BoundedCache:
    """The most recently used values, at most `entries` of them, shared by every session; safe
    across threads. `computed` counts the values `fetch` had to compute (tests and benches)."""

    _MISSING = object()

    def __init__(self, entries: int):
        self.entries = entries
        self._items: OrderedDict = OrderedDict()
        self._lock = threading.Lock()
        self.computed = 0

    def find(self, key, default=None):
        with self._lock:
            if key not in self._items:
                return default
            self._items.move_to_end(key)
            return self._items[key]

    def store(self, key, value) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.entries:
                self._items.popitem(last=False)

    def fetch(self, key, compute):
        """The cached value of `key`, or `compute()` stored under it (computed outside the lock,
        so one slow value never blocks readers of the others)."""
        value = self.find(key, self._MISSING)
        if value is self._MISSING:
            value = compute()
            self.computed += 1
            self.store(key, value)
        return value
