"""Small things every tab uses: named outputs (`Parts`), the error guard, numbers from any widget,
the sentence picker's choices, the entity palette, reading direction, the order of lists of runs,
the number format of tables and figures serialised once."""

from __future__ import annotations

import functools
import math
import re
import traceback

import gradio as gr
from gradio.components.plot import PlotData

from fusion.text.languages import text_direction
from serve.markdown import failure_message

# The one palette of entity types: Compare's panes, the Layers grid, Errors, Evaluate and the
# exports all take their colours from here. Okabe–Ito colours, told apart with the common
# colour-vision deficiencies; each has a name, for help text that says which is which.
ENTITY_PALETTE = {"PER": ("#56B4E9", "sky blue"), "ORG": ("#E69F00", "orange"),
                  "LOC": ("#009E73", "green"), "MISC": ("#CC79A7", "pink")}
ENTITY_COLOURS = {kind: colour for kind, (colour, _) in ENTITY_PALETTE.items()}
SPARE_COLOURS = ["#0072B2", "#D55E00", "#F0E442", "#999999"]  # types beyond the four


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


def plots_serialised(view, *names: str):
    """A view (a NamedTuple) with its plotly figures `names` as the JSON Gradio sends (its Plot
    passes PlotData on as it is): a view shared between answers from a cache is serialised once,
    not at every answer."""
    return view._replace(**{name: PlotData(type="plotly", plot=getattr(view, name).to_json()) for name in names})


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
        shown = f"{words[:60]}{'…' if len(words) > 60 else ''}"
        if is_rtl(words):  # isolated right to left (RLI … PDI), after the number
            shown = f"\u2067{shown}\u2069"
        labels.append((f"{index + 1}: {shown}", index))
    return labels


def entity_colours(slots: dict) -> dict[str, str]:
    """A colour per entity type the loaded checkpoints can predict (PER, ORG, LOC for PAN-X)."""
    types = sorted({t for s in slots.values() if s.ready for t in s.tagger.entity_types}) \
        or ["PER", "ORG", "LOC"]
    return palette_of(types)


def palette_of(types) -> dict[str, str]:
    """The palette's colour of each type, in order; a type it does not know gets a spare one."""
    spare = iter(SPARE_COLOURS * (1 + len(types) // len(SPARE_COLOURS)))
    return {t: ENTITY_COLOURS.get(t) or next(spare) for t in types}


def colour_words(colours: dict[str, str]) -> str:
    """The colours in words, for help text: "sky blue PER, orange ORG, green LOC"."""
    names = {colour: name for colour, name in ENTITY_PALETTE.values()}
    return ", ".join(f"{names.get(colour, 'grey')} {kind}" for kind, colour in colours.items())


def is_rtl(text: str) -> bool:
    """Whether `text` reads right to left: Compare's rule (fusion.text.languages.text_direction),
    used by every view that shows text or lays tokens out in reading order."""
    return text_direction(text) == "rtl"


# --------------------------------------------------------------------------------------------
# Lists of runs and tables of numbers
# --------------------------------------------------------------------------------------------

def natural_key(text) -> list:
    """Sorts "fusion-l2" before "fusion-l10": digits compare as numbers."""
    return [(0, int(part), "") if part.isdigit() else (1, 0, part.lower())
            for part in re.split(r"(\d+)", str(text)) if part]


def group_label(group) -> str:
    """A group of runs as its dropdown shows it: what tells groups apart first (the study and how
    many test sentences), then the training recipe, so the closed box shows the difference."""
    scope = "all" if group.sentences_cap is None else f"≤ {group.sentences_cap:,}"
    return f"{group.study} · {scope} {group.split} · {group.recipe}"


def group_options(found) -> list[tuple[str, str]]:
    """(label, key) of each group of runs, in natural order of the labels."""
    return sorted(((group_label(group), group.key) for group in found), key=lambda item: natural_key(item[0]))


def decimals(table, places: int = 1, whole=(), finer: dict[str, int] | None = None):
    """A table as the page shows it (a pandas Styler): every float column with `places` decimals
    (never 75 in one row and 75.3 in the next), the `whole` columns (counts) as whole numbers,
    the `finer` ones with their own number of decimals, "–" where empty. The numbers stay
    numbers underneath, for sorting and for the API."""
    if len(table):  # a column with no value at all shows "–" too, not "None"
        table = table.astype({column: float for column in table.columns if table[column].isna().all()})
    finer = {column: digits for column, digits in (finer or {}).items() if column in table.columns}
    floats = [c for c in table.columns if c not in whole and c not in finer and table[c].dtype.kind == "f"]
    styled = table.style.format(f"{{:.{places}f}}", subset=floats, na_rep="–")
    counts = [c for c in whole if c in table.columns and table[c].dtype.kind in "fiu"]
    styled = styled.format("{:,.0f}", subset=counts, na_rep="–")
    for column, digits in finer.items():
        styled = styled.format(f"{{:.{digits}f}}", subset=[column], na_rep="–")
    return styled
