"""Small things every tab uses: named outputs (`Parts`), the error guard, numbers from any widget,
the sentence picker's choices and the entity colours."""

from __future__ import annotations

import functools
import math
import traceback

import gradio as gr

from serve.markdown import failure_message

ENTITY_COLOURS = {"PER": "#8ecae6", "ORG": "#ffb703", "LOC": "#90be6d", "MISC": "#cdb4db"}
SPARE_COLOURS = ["#f4a261", "#e9c46a", "#a8dadc", "#ffafcc"]


class Parts(dict):
    """A tab's components by name. An event returns {component: value}, which Gradio reads by
    component, so no output is ever counted by its position: `updates` makes that dict from
    values by part name (a dict, or a NamedTuple whose fields are part names)."""

    def updates(self, values) -> dict:
        named = values._asdict() if hasattr(values, "_asdict") else dict(values)
        return {self[name]: value for name, value in named.items()}

    def pick(self, *names) -> list:
        """The components named, in that order (an event's inputs or outputs)."""
        return [self[name] for name in names]


def safe(function, fallback):
    """Run a UI event; an unexpected error becomes a message (`fallback(message)` gives the
    event's values then) instead of a broken page."""
    @functools.wraps(function)  # keeps the signature, so gr.Progress() and gr.Request are injected
    def wrapper(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except Exception as error:  # noqa: BLE001 — shown to the user, logged in full
            traceback.print_exc()
            return fallback(failure_message(error))
    return wrapper


def skip_all(message: str = "") -> dict:
    """The values of an event that changes nothing (Gradio skips every output)."""
    return gr.skip()


def whole_number(value, lowest: int = 0, highest: int = 10**9) -> int | None:
    """An int from any widget or URL value (None, NaN, "3", 3.0); None when it is none."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    if math.isnan(number) or math.isinf(number):
        return None
    return min(max(int(number), lowest), highest)


def clamp(value, upper: int, lowest: int = 1) -> int:
    """A layer, head or sentence number from any input (None, NaN, text, out of range)."""
    number = whole_number(value, lowest, upper)
    return lowest if number is None else number


def sentence_choices(text: str, sentences: list[tuple[int, int]]) -> list[tuple[str, int]]:
    """(label, index) of each sentence, for a sentence picker; `sentences` are character spans."""
    labels = []
    for index, (start, end) in enumerate(sentences):
        words = text[start:end]
        labels.append((f"{index + 1}: {words[:60]}{'…' if len(words) > 60 else ''}", index))
    return labels


def entity_colours(slots: dict) -> dict[str, str]:
    """A colour per entity type the loaded checkpoints can predict (PER, ORG, LOC for PAN-X)."""
    types = sorted({t for s in slots.values() if s.ready for t in s.tagger.entity_types}) \
        or ["PER", "ORG", "LOC"]
    spare = iter(SPARE_COLOURS * (1 + len(types) // len(SPARE_COLOURS)))
    return {t: ENTITY_COLOURS.get(t) or next(spare) for t in types}
