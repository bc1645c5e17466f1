"""What every tab shares: the two model slots, Markdown escaping, and the error guard."""

from __future__ import annotations

import functools
import re
import traceback
from dataclasses import dataclass
from pathlib import Path

SIDES = ("baseline", "fusion")  # the two columns of every comparison
ROOT = Path(__file__).resolve().parents[1]


@dataclass
class TaggerSlot:
    """One side of the comparison: the tagger loaded for it, or why loading failed."""

    side: str  # "baseline" or "fusion"
    directory: str
    tagger: object = None  # fusion.modeling.TokenTagger once loaded
    error: str | None = None

    @property
    def ready(self) -> bool:
        return self.tagger is not None

    @property
    def model(self) -> str:
        """The model's name as run records write it ("baseline", "fusion-l11"), else the side."""
        return self.tagger.config.model if self.ready else self.side


_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~&])")


def plain(text) -> str:
    """Text from a file, a path or a user, made safe to put in Markdown: every character that
    Markdown or HTML would read as markup is escaped, so it shows as typed and is never HTML."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", str(text)).replace("\n", " ")


def code(text) -> str:
    """Text as a Markdown code span, shown exactly as typed: inside one, backslash escapes would
    show literally, and HTML is never read; the fence is longer than any run of backticks in it."""
    text = str(text).replace("\n", " ")
    fence = "`" * (max((len(run) for run in re.findall(r"`+", text)), default=0) + 1)
    return f"{fence} {text} {fence}"


def relative(path) -> str:
    """A path as the page may show it: relative to the project, never the server's full path."""
    path = Path(path)
    try:
        return str(path.resolve().relative_to(ROOT))
    except (ValueError, OSError):
        return path.name


def safe(function, fallback):
    """Run a UI event; an unexpected error becomes a message instead of a broken page."""
    @functools.wraps(function)  # keeps the signature, so gr.Progress() is still injected
    def wrapper(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except Exception as error:  # noqa: BLE001 — shown to the user, logged in full
            traceback.print_exc()
            return fallback(f"Something went wrong: {type(error).__name__}: {plain(error)}")
    return wrapper
