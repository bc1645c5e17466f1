"""Text from a file, a path, a checkpoint or a user, made safe to show in the page's Markdown."""

from __future__ import annotations

import re

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~&])")


def plain(text) -> str:
    """Every character that Markdown or HTML would read as markup is escaped, so the text shows
    as typed and is never HTML."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", str(text)).replace("\n", " ")


def code(text) -> str:
    """Text as a Markdown code span, shown exactly as typed: inside one, backslash escapes would
    show literally, and HTML is never read; the fence is longer than any run of backticks in it."""
    text = str(text).replace("\n", " ")
    fence = "`" * (max((len(run) for run in re.findall(r"`+", text)), default=0) + 1)
    return f"{fence} {text} {fence}"


def failure_message(error: BaseException) -> str:
    """What a request that failed unexpectedly shows instead of its answer."""
    return f"Something went wrong: {type(error).__name__}: {plain(error)}"
