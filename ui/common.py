"""What every tab shares: the two model slots, Markdown escaping, the error guard, and the page
state that a link carries."""

from __future__ import annotations

import functools
import hashlib
import json
import math
import re
import threading
import traceback
from collections import OrderedDict
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import quote, urlencode

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


def safe_rows(function, fallback):
    """`safe` for a batch: `function` maps a list of requests (tuples of inputs) to a list of
    rows (lists of outputs). When the batch fails, each request is run alone, so one bad
    request fails alone."""
    def wrapper(requests):
        try:
            return function(requests)
        except Exception:  # noqa: BLE001 — logged; each request is then tried on its own
            traceback.print_exc()
            return [safe(lambda request=request: function([request])[0], fallback)() for request in requests]
    return wrapper


# --------------------------------------------------------------------------------------------
# Links: the page state in the URL's query string
# --------------------------------------------------------------------------------------------

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


def whole_number(value, lowest: int = 0, highest: int = 10**9) -> int | None:
    """An int from any widget or URL value (None, NaN, "3", 3.0); None when it is none."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    if math.isnan(number) or math.isinf(number):
        return None
    return min(max(int(number), lowest), highest)


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


def state_of(text, tab, side, layer, head, sentence, word, group, fusion, by,
             defaults: PageState) -> PageState:
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


def opened_note(state: PageState) -> str:
    """What the page says after opening a link that held only the start of a text."""
    if state.cut_from is None:
        return ""
    return (f"This link holds the first {len(state.text):,} characters of a {state.cut_from:,}-character "
            "text: that start is what was compared.")


def _click_tab(variable: str) -> str:
    return (f"const id = CSS.escape(String({variable}));"
            " const button = document.querySelector(`#main-tabs [role=tab][data-tab-id=\"${id}\"]`);"
            " if (button && button.getAttribute('aria-selected') !== 'true') button.click();")


def select_tab_js(tab: str | None = None) -> str:
    """Browser-side: open a tab by clicking its button (`tab`, else the function's one input).

    Why not return gr.Tabs(selected=...) from Python: once the Tabs is an output of a server
    call, Gradio's page re-reads the value of every component inside it (the whole app) at each
    status change of every later call: 153 ms of the browser's main thread per Compare,
    measured in chromium, several times that on a phone. A click also fires the tab's select
    event, as a person's would."""
    return f"(tab) => {{ {_click_tab(json.dumps(tab) if tab is not None else 'tab')} return []; }}"


def linked_tab_js() -> str:
    """Browser-side, once a link's view is restored: open the tab its address names (nothing on
    a plain visit, so a tab the visitor picked meanwhile stays)."""
    return ("() => { const tab = new URLSearchParams(window.location.search).get('tab');"
            f" if (tab) {{ {_click_tab('tab')} }} return []; }}")


def replace_url_js() -> str:
    """Browser-side: put the query string (the hidden link box's value) into the address bar
    without reloading; parameters that are not ours (e.g. __theme) stay.

    Plotly, on a page with a <base> element (Gradio's), points its clip paths and colour-bar
    gradients at the page's full address ("url('http://…/?text=…#clip1')"); once the address
    changes, those are references to another document and the plots lose their data and colour
    bars. So the references drawn so far are moved to the new address as well."""
    return ("(query) => { const before = window.location.href.split('#')[0];"
            " const url = new URL(window.location.href);"
            f" for (const key of {json.dumps(list(LINK_KEYS))}) url.searchParams.delete(key);"
            " new URLSearchParams(query || '').forEach((value, key) => url.searchParams.set(key, value));"
            " window.history.replaceState(window.history.state, '', url);"
            " const after = window.location.href.split('#')[0];"
            " if (after !== before) document.querySelectorAll('.js-plotly-plot [style*=\"url(\"], "
            ".js-plotly-plot [clip-path], .js-plotly-plot [fill^=\"url\"], .js-plotly-plot [mask]')"
            ".forEach((element) => { for (const name of ['style', 'clip-path', 'fill', 'mask']) {"
            " const value = element.getAttribute(name);"
            " if (value && value.includes(before)) element.setAttribute(name, value.split(before).join(after)); } });"
            " return []; }")


# Browser-side: the address bar's link to the clipboard (a prompt to copy it by hand where the
# clipboard is not allowed, e.g. a page served over plain http from another machine).
COPY_LINK_JS = """async () => {
  const url = window.location.href;
  try { await navigator.clipboard.writeText(url); return ["Link copied: paste it anywhere to open this view."]; }
  catch (error) { window.prompt("Copy this link:", url); return ["Copy the link from the box that opened."]; }
}"""
