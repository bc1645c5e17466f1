"""The page state a link carries: the compared text, the open tab, Inside's settings and the
Results group, written into the address bar's query string and read back from it."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import NamedTuple
from urllib.parse import quote, urlencode

from serve.slots import SIDES
from ui.common import whole_number

LINK_TEXT_LIMIT = 2_000  # characters of the compared text a link holds
# ... and its URL-encoded size: servers refuse request lines over ~16 KB, and every event the
# page sends repeats the query (a Chinese character takes 9 bytes encoded).
LINK_BYTES_LIMIT = 6_000
LINK_KEYS = ("text", "cut", "tab", "side", "layer", "head", "sentence", "word", "group", "fusion", "by")
_NAME_LIMIT = 300  # a tab id, group key or model name longer than this is no name of ours


@dataclass(frozen=True)
class PageState:
    """What a link restores: the compared text, the tab, Inside's model, layer, head, sentence and
    picked word, and the Results group. Layer and head count from 1; sentence from 0 (a link
    writes it from 1, as the page shows it)."""

    text: str = ""
    tab: str = "compare"
    side: str = "fusion"
    layer: int = 12
    head: int = 1
    sentence: int = 0
    word: int | None = None  # character offset of the entity picked in Compare's table
    group: str | None = None
    fusion: str | None = None
    by: str = "family"
    cut_from: int | None = None  # the whole text's length, when the link holds only its start


class InsidePlace(NamedTuple):
    """Where the Inside tab opens: a model, a sentence of the compared text, a word in it (its
    character offset; None: no word picked)."""

    side: str
    sentence: int
    word: int | None


def link_text(text: str) -> str:
    """The start of `text` that a link can hold: at most LINK_TEXT_LIMIT characters and
    LINK_BYTES_LIMIT bytes once encoded, cut between characters."""
    text = text[:LINK_TEXT_LIMIT]
    if len(quote(text, safe="")) <= LINK_BYTES_LIMIT:
        return text
    low, high = 0, len(text)  # the longest start that fits: encoded size grows with length
    while low < high:
        middle = (low + high + 1) // 2
        low, high = (middle, high) if len(quote(text[:middle], safe="")) <= LINK_BYTES_LIMIT else (low, middle - 1)
    return text[:low]


def page_query(state: PageState, defaults: PageState) -> tuple[str, str]:
    """(query string, note): the state as URL parameters, leaving out what equals the defaults
    so links stay short; the note says so when the text was too long to go whole."""
    pairs, note = [], ""
    if state.text:
        kept = link_text(state.text)
        pairs.append(("text", kept))
        if len(kept) < len(state.text):
            pairs.append(("cut", str(len(state.text))))
            note = (f"The text has {len(state.text):,} characters; a link holds only its first "
                    f"{len(kept):,}, so a copied link opens that start of it.")
    for key, value, default in (
            ("tab", state.tab, defaults.tab), ("side", state.side, defaults.side),
            ("layer", state.layer, defaults.layer), ("head", state.head, defaults.head),
            ("sentence", state.sentence + 1, defaults.sentence + 1),
            ("word", state.word, defaults.word), ("group", state.group, defaults.group),
            ("fusion", state.fusion, defaults.fusion), ("by", state.by, defaults.by)):
        if value is not None and value != default:
            pairs.append((key, str(value)))
    return urlencode(pairs, quote_via=quote), note


def state_of(text=None, tab=None, side=None, layer=None, head=None, sentence=None, word=None, group=None,
             fusion=None, by=None, defaults: PageState = PageState()) -> PageState:
    """A PageState from the widgets' values, whatever their types (floats, None, text)."""
    return PageState(
        text=str(text or ""), tab=str(tab or defaults.tab), side=str(side or defaults.side),
        layer=whole_number(layer, 1) or defaults.layer, head=whole_number(head, 1) or defaults.head,
        sentence=whole_number(sentence) or 0, word=whole_number(word), group=group or None,
        fusion=fusion or None, by=str(by or defaults.by))


def read_page(params, defaults: PageState, tabs) -> PageState:
    """The state a link asks for, every value checked: an unknown tab, model or grouping gives
    the default, numbers become ints (the views clamp them to their ranges)."""
    params = dict(params or {})

    def name(key, allowed=None):
        value = params.get(key)
        if not isinstance(value, str) or not value or len(value) > _NAME_LIMIT:
            return getattr(defaults, key)
        return value if allowed is None or value in allowed else getattr(defaults, key)

    text = str(params.get("text") or "")[:LINK_TEXT_LIMIT]
    sentence = whole_number(params.get("sentence"), 1)
    cut = whole_number(params.get("cut"))
    return replace(
        defaults, text=text, tab=name("tab", set(tabs)), side=name("side", set(SIDES)),
        layer=whole_number(params.get("layer"), 1) or defaults.layer,
        head=whole_number(params.get("head"), 1) or defaults.head,
        sentence=sentence - 1 if sentence else defaults.sentence, word=whole_number(params.get("word")),
        group=name("group"), fusion=name("fusion"), by=name("by", {"family", "script"}),
        cut_from=cut if text and cut and cut > len(text) else None)


def asks_for_a_view(params) -> bool:
    """Whether a visit's parameters name anything of ours (else it is a plain visit)."""
    return bool(set(dict(params or {})) & set(LINK_KEYS))


def opened_note(state: PageState) -> str:
    """What the page says after opening a link that held only the start of a text."""
    if state.cut_from is None:
        return ""
    return (f"This link holds the first {len(state.text):,} characters of a {state.cut_from:,}-character "
            "text: that start is what was compared.")
