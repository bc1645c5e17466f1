"""Every piece of CSS and browser-side JavaScript of the page (and of the exported HTML page), in
one place. Pure strings: the modules that wire events pick them from here."""

from __future__ import annotations

import json

from ui.link import LINK_KEYS

# --------------------------------------------------------------------------------------------
# CSS
# --------------------------------------------------------------------------------------------

PAGE_CSS = """
.auto-dir textarea { unicode-bidi: plaintext; text-align: start; }  /* RTL text shows RTL */
/* ... and so does every table cell: each finds its own direction from its first letter */
.gradio-container :is(td, .body-cell) .cell-wrap > span { unicode-bidi: plaintext; text-align: start; }
.help { color: var(--body-text-color-subdued); font-size: 0.95em; }
/* Prose breaks between words. Gradio's Markdown may break anywhere (so a paragraph beside
   another block could shrink to a few letters a line) and its highlighted text anywhere in a
   word ("gro / ups"); a word breaks only when it is wider than the whole line. */
.gradio-container span.md, .gradio-container .prose { overflow-wrap: break-word; }
.gradio-container span.md table { word-break: normal; }
.entities .textfield { word-break: normal; overflow-wrap: break-word; }
/* An entity's type on its chip, dark on the type's colour (Gradio writes it white) */
.entities .token .label { color: #111; font-size: 0.72em; }
/* Evaluate: the scores, figure and sentences appear once a file is scored (`SCORED_JS`) */
body:not([data-scored="yes"]) #upload-results { display: none !important; }
/* A table's header breaks between words, never inside one ("langu / age"); its columns are as
   wide as their longest word, and a table too wide for the screen scrolls inside its box. */
.gradio-container .table-wrap th span.header { word-break: normal; overflow-wrap: normal; }
#intro h1 { margin-bottom: 0.1em; }
#page-tools { align-items: flex-start; }
#copy-status, #link-note { margin-top: calc(4px - var(--layout-gap, 16px)); }  /* no gap while empty */
/* The long header shows in full on wide screens; on a phone it folds into an accordion, so the
   text box and the Compare button are on the first screen. */
@media (min-width: 701px) { .narrow-only { display: none !important; } }
@media (max-width: 700px) {
  .wide-only { display: none !important; }
  .gradio-container { padding-left: 6px !important; padding-right: 6px !important; }
  main.contain, .main, .wrap { min-width: 0 !important; }
  #intro h1 { font-size: 1.45em; }
  #intro-short p { font-size: 0.92em; margin: 0; }
  #copy-link { max-width: none; }
  .js-plotly-plot, .plot-container, .svg-container { max-width: 100% !important; }
  table { font-size: 0.85em; }
  /* tables: smaller type and padding, so that more columns fit a phone ... (no .gradio-container
     here: Gradio prefixes the rules inside @media with its own) */
  .table-wrap :is(th, td, .body-cell), .table-wrap :is(th, td, .body-cell) span { font-size: 11px; }
  .table-wrap :is(th, td, .body-cell) .cell-wrap { padding: 4px 5px; }
  /* ... and Compare's entities fit the screen, so that the agreement is in sight: the character
     offsets are left out, the other columns share the width (Gradio sizes each column to its
     longest line, which put the agreement off the screen) */
  #entity-table :is(th:nth-child(5), th:nth-child(6), td:nth-child(5), td:nth-child(6),
                    [data-col="4"], [data-col="5"]) { display: none; }
  #entity-table table { table-layout: fixed; }
  #entity-table :is(table, .virtual-body) { width: 100% !important; }
  #entity-table :is(th:nth-child(1), td:nth-child(1), [data-col="0"]) { --share: 21%; }
  #entity-table :is(th:nth-child(2), td:nth-child(2), [data-col="1"]) { --share: 30%; }
  #entity-table :is(th:nth-child(3), td:nth-child(3), [data-col="2"]) { --share: 13%; }
  #entity-table :is(th:nth-child(4), td:nth-child(4), [data-col="3"]) { --share: 14%; }
  #entity-table :is(th:nth-child(7), td:nth-child(7), [data-col="6"]) { --share: 22%; }
  #entity-table :is(th, td, .body-cell) { width: var(--share) !important; flex: 0 0 var(--share) !important;
                                          min-width: var(--share) !important; max-width: var(--share) !important; }
  .modebar-container { display: none !important; }  /* it covered the plot titles; pinch and drag still zoom */
  /* the 21 examples on one line each, so the results are not three screens further down */
  button.gallery-item { padding: 2px 8px !important; max-width: 100%; }
  button.gallery-item > div { white-space: nowrap !important; overflow: hidden; text-overflow: ellipsis;
                              max-width: calc(100vw - 80px); font-size: 0.85em; }
}
"""

# Until a text is compared, Inside shows its placeholder; `inside_clamp_js` marks the page.
INSIDE_PLACEHOLDER_CSS = """
body:not([data-compared="yes"]) #inside-content, body[data-compared="yes"] #inside-placeholder {
  display: none !important; }
"""

# The exported comparison page (ui/export.py): inline, since that page loads nothing.
EXPORT_CSS = """
body { font-family: system-ui, 'Noto Sans', 'Noto Sans CJK SC', sans-serif; margin: 2em auto;
       max-width: 60em; padding: 0 1em; color: #222; line-height: 1.5; }
.text { white-space: pre-wrap; font-size: 1.15em; line-height: 2.1; unicode-bidi: plaintext; }
mark { padding: 0.1em 0.25em; border-radius: 0.3em; color: #111; unicode-bidi: isolate; }
/* isolated: in a right-to-left text the type follows its entity on the left, as in the app */
mark .label { font-size: 0.7em; font-weight: 600; margin-inline-start: 0.35em; opacity: 0.8;
              unicode-bidi: isolate; }
.legend { list-style: none; padding: 0; display: flex; flex-wrap: wrap; gap: 0.4em 1.2em; }
.swatch { display: inline-block; width: 0.9em; height: 0.9em; border-radius: 0.2em;
          vertical-align: middle; margin-inline-end: 0.35em; }
table { border-collapse: collapse; width: 100%; }
th, td { border-bottom: 1px solid #ddd; padding: 0.3em 0.5em; text-align: start; }
.note { color: #666; font-size: 0.9em; }
"""

# --------------------------------------------------------------------------------------------
# JavaScript: tabs, the link, scrolling
# --------------------------------------------------------------------------------------------


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

# Browser-side, after an upload's scoring: its scores, figure and sentences show once there are
# scores (PAGE_CSS hides them before: an empty table, an empty figure and empty panes said nothing).
SCORED_JS = ("(scores) => { document.body.dataset.scored = scores?.data?.length ? 'yes' : 'no';"
             " return []; }")

# Browser-side: on a phone the result is a screen or two below the button; bring it into view.
SHOW_RESULT_JS = ("() => { if (window.innerWidth <= 700) document.querySelector('#compare-status')"
                  "?.scrollIntoView({behavior: 'smooth', block: 'start'}); return []; }")


def scroll_js(anchor: str | None) -> str:
    """Browser-side: bring a part of the page into view (or the tabs' top), e.g. a tour step's."""
    target = f"#{anchor}" if anchor else "#main-tabs"
    return (f"() => {{ setTimeout(() => document.querySelector('{target}')"
            "?.scrollIntoView({behavior: 'smooth', block: 'start'}), 300); return []; }")


# Browser-side, set up once: Inside's layer and head boxes (the sliders' number boxes) apply on
# Enter as on leaving the box. Gradio's slider applies its box only when it loses focus (its
# `release`), so Enter leaves the box; on the way out the number is rounded and clamped to the
# slider's range, so that the box, the plot and the link show the same number. The arrow keys
# on a slider apply it as letting go of it does.
INSIDE_BOXES_JS = """
if (!window.lfeInsideBoxes) {
  window.lfeInsideBoxes = true;
  const boxes = '#inside-layer input[type=number], #inside-head input[type=number]';
  const sliders = '#inside-layer input[type=range], #inside-head input[type=range]';
  document.addEventListener('blur', (event) => {
    const box = event.target;
    if (!box.matches?.(boxes)) return;
    const lowest = Number(box.min) || 1, highest = Number(box.max) || lowest;
    const value = Math.min(Math.max(Math.round(Number(box.value)) || lowest, lowest), highest);
    if (String(value) !== box.value) {
      box.value = String(value);
      box.dispatchEvent(new Event('input', {bubbles: true}));
    }
  }, true);
  document.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && event.target.matches?.(boxes)) { event.preventDefault(); event.target.blur(); }
  });
  document.addEventListener('keyup', (event) => {
    if (event.target.matches?.(sliders) && /^(Arrow|Page|Home|End)/.test(event.key))
      event.target.dispatchEvent(new PointerEvent('pointerup', {bubbles: true}));
  });
}
"""


def inside_clamp_js(n_layers: int, n_heads: int) -> str:
    """Browser-side, before each Inside call: a layer or head typed out of range snaps into it
    before the server sees it (the slider would refuse 99 with an error toast), and the page
    shows the placeholder or the plots by whether a text was compared (`INSIDE_PLACEHOLDER_CSS`:
    a column's visibility set by the server would make Gradio's page re-read the plots at each
    later status change). The first call sets up the boxes (`INSIDE_BOXES_JS`), before they can
    be seen. Inputs: text, sentence, side, layer, head, focus; the same values come back, clamped."""
    return ("(text, sentence, side, layer, head, focus) => {" + INSIDE_BOXES_JS +
            " document.body.dataset.compared = String(text ?? '').trim() ? 'yes' : 'no';"
            " const snap = (v, top) => Math.min(Math.max(Math.round(Number(v)) || 1, 1), top);"
            f" return [text, sentence, side, snap(layer, {int(n_layers)}), snap(head, {int(n_heads)}), focus]; }}")
