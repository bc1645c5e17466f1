"""The page state a link carries: the compared text, the open tab, Inside's settings and the
Results group, written into the address bar's query string and read back from it."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import NamedTuple
from urllib.parse import parse_qsl, quote, urlencode

from serve.slots import SIDES
from ui.common import whole_number

LINK_TEXT_LIMIT = 2_000  # characters of the compared text a link holds
# ... and its URL-encoded size: servers refuse request lines over ~16 KB, and every event the
# page sends repeats the query (a Chinese character takes 9 bytes encoded).
LINK_BYTES_LIMIT = 6_000
# A whole query string of ours fits this (the text's LINK_BYTES_LIMIT and the short rest); a
# longer one is cut before Gradio sees it (`CutLongQuery`)
QUERY_BYTES_LIMIT = 8_000
LINK_KEYS = ("text", "cut", "tab", "side", "layer", "head", "sentence", "word", "group", "fusion", "by")
_NAME_LIMIT = 300  # a tab id, group key or model name longer than this is no name of ours
_PAIRS_READ = 100  # parameters of an over-long query that are read


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


def bounded_query(query: str) -> str | None:
    """A query string over QUERY_BYTES_LIMIT as a link of ours would hold it: the text's start
    (`link_text`) with `cut` saying how long it was, then the other parameters as long as they
    fit, each short; None when the query fits already. Never raises, whatever the query."""
    if len(query) <= QUERY_BYTES_LIMIT:
        return None
    # its first pairs only: a link of ours has a dozen, and 500,000 of them took seconds to read
    pairs = parse_qsl("&".join(query.split("&", _PAIRS_READ)[:_PAIRS_READ]), keep_blank_values=True)
    text = next((value for key, value in pairs if key == "text"), "")
    kept = [("text", link_text(text))] if text else []
    if text and len(kept[0][1]) < len(text):
        cut = whole_number(next((value for key, value in pairs if key == "cut"), None)) or 0
        kept.append(("cut", str(max(cut, len(text)))))
    seen, size = {"text", "cut"}, len(urlencode(kept, quote_via=quote))
    for key, value in pairs:
        if key in seen or len(key) + len(value) > _NAME_LIMIT:
            continue
        seen.add(key)
        added = len(urlencode([(key, value)], quote_via=quote)) + 1  # and its "&"
        if size + added <= QUERY_BYTES_LIMIT:
            kept.append((key, value))
            size += added
    return urlencode(kept, quote_via=quote)


class CutLongQuery:
    """ASGI middleware: no request with a query string over QUERY_BYTES_LIMIT reaches Gradio,
    which answers an address over 64 KiB with HTTP 500 (the visitor saw a blank page), before
    any of the page's JavaScript runs. A GET is sent on to the same address with the query cut
    (`bounded_query`): the page opens that start of the text and says so (`opened_note`); any
    other request gets 414."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        raw = scope.get("query_string", b"") if scope["type"] == "http" else b""
        if len(raw) <= QUERY_BYTES_LIMIT:
            return await self.app(scope, receive, send)
        headers = [(b"content-length", b"0")]
        if scope.get("method") in ("GET", "HEAD"):
            query = bounded_query(raw.decode("utf-8", "replace")) or ""
            status, headers = 303, headers + [(b"location", f"?{query}".encode("ascii"))]
        else:
            status = 414
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": b""})
