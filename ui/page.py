"""The page: the header, then the tabs, put together in two passes (every tab lays itself out,
then every tab wires its own events), around one small `Page` object that they share.

The tabs never import each other: what one shows of another's goes through the Page. The text
last compared lives here; a tab says what it shows of each compared text (`add_layout`) and what
it restores from a link (`add_restore`, `add_link_step`) while it is laid out, and moves the
visitor to another tab through `send_to_compare`, `open_inside` or `show_tab`.
"""

from __future__ import annotations

import functools

import gradio as gr
from starlette.middleware import Middleware

from serve.runs import default_choice
from serve.services import Services
from serve.settings import CONCURRENCY, QUEUE_SIZE, SESSION_CAPACITY
from ui.common import entity_colours, safe, skip_all
from ui.header import Header, slot_titles
from ui.link import CutLongQuery, PageState, asks_for_a_view, opened_note, page_query, read_page, state_of
from ui.markup import INSIDE_PLACEHOLDER_CSS, PAGE_CSS, linked_tab_js, replace_url_js, select_tab_js
from ui.tabs.compare import CompareTab
from ui.tabs.errors import ErrorsTab
from ui.tabs.evaluate import UPLOAD_BYTES_LIMIT, EvaluateTab
from ui.tabs.inside import InsideTab
from ui.tabs.layers import LayersTab
from ui.tabs.pairs import PairsTab
from ui.tabs.results import ResultsTab
from ui.tabs.results_four_tasks import FourTasksSection
from ui.tabs.results_intermediate import IntermediateSection
from ui.tabs.results_layer_probes import LayerProbesSection
from ui.tabs.results_tuning import TuningSection

# (label, id, what the tab holds): each part is laid out by its constructor, wired by `wire`
TABS = (("Compare", "compare", (CompareTab,)), ("Inside", "inside", (InsideTab,)),
        ("Layers", "layers", (LayersTab,)), ("Pairs", "pairs", (PairsTab,)),
        ("Results", "results", (ResultsTab, FourTasksSection, LayerProbesSection, IntermediateSection,
                                 TuningSection)),
        ("Errors", "errors", (ErrorsTab,)), ("Evaluate your data", "evaluate", (EvaluateTab,)))


class Page:
    """What the tabs share, and the only way from one to another."""

    def __init__(self, blocks: gr.Blocks, services: Services, defaults: PageState, link_note):
        self.blocks, self.services, self.defaults, self.link_note = blocks, services, defaults, link_note
        self.titles, self.colours = slot_titles(services.slots), entity_colours(services.slots)
        # The text last compared, which Inside and Layers explain: a hidden box rather than a
        # State, so the /inside endpoint takes a text too.
        self.compared = gr.Textbox(visible=False)
        self.link = gr.Textbox(visible=False)  # the page state as a query string, for the address bar
        # the open tab's id, for the link; a hidden box, not a gr.State, because the
        # browser-side tab switch (select_tab_js) reads it
        self.tab = gr.Textbox("compare", visible="hidden", elem_id="page-tab")
        self.tab_ids: dict[str, str] = {}  # label -> id
        self.comparer = None  # the Compare tab: its text box, its answer, its events
        self.inside_place = None  # Inside's (side, sentence, word) widgets: where it opens
        self._link_fields: dict[str, object] = {}  # PageState field -> the widget holding it
        self._layouts: list[tuple] = []  # (outputs, show(view, sentence, word), on_failure(message))
        self._restores: list[tuple] = []  # (outputs, restore(state))
        self._link_steps: list = []  # step(event) -> event, after a link's view is restored
        self.guarded_layout = safe(self.on_layout, self.layout_failed)

    # ---- what tabs register while they are laid out --------------------------------------

    def add_link_fields(self, **widgets) -> None:
        """Widgets whose values the link carries, by PageState field (side=..., group=...)."""
        self._link_fields.update(widgets)

    def add_layout(self, outputs: list, show, on_failure=None) -> None:
        """After each Compare, `show(view, sentence, word)` gives a tab's {component: value} for
        the compared text's view (sentence and word: where a link asks Inside to be)."""
        self._layouts.append((outputs, show, on_failure or (lambda message: {})))

    def add_restore(self, outputs: list, restore) -> None:
        """When a link is opened, `restore(state)` gives a tab's {component: value}."""
        self._restores.append((outputs, restore))

    def add_link_step(self, step) -> None:
        """When a link is opened, once its view is restored: `step(event)` chains a tab's own
        calls and returns the event to go on from."""
        self._link_steps.append(step)

    # ---- the compared text's layout ------------------------------------------------------

    @property
    def layout_outputs(self) -> list:
        return [output for outputs, _, _ in self._layouts for output in outputs]

    def layout_values(self, view, sentence: int = 0, word=None) -> dict:
        values = {}
        for _, show, _ in self._layouts:
            values.update(show(view, sentence, word))
        return values or skip_all()

    def on_layout(self, text) -> dict:
        return self.layout_values(self.services.compare.view(text))

    def layout_failed(self, message: str) -> dict:
        """E.g. the table emptied, not left showing the previous text's entities."""
        return {key: value for _, _, on_failure in self._layouts
                for key, value in on_failure(message).items()} or skip_all()

    def lay_out(self, event):
        """After a Compare: what every tab shows of the compared text's view, in one call that
        reads the view once (not queued: it only sets settings and the table)."""
        return event.then(self.guarded_layout, [self.compared], self.layout_outputs,
                          api_visibility="private", queue=False, show_progress="hidden")

    # ---- moves between tabs --------------------------------------------------------------

    def show_tab(self, listen, tab: str):
        """`listen` (an event: button.click, event.then) opens `tab` in the browser."""
        return listen(None, None, None, js=select_tab_js(tab))

    def send_to_compare(self, listen, text, inputs, scroll=None, open_tab: bool = True) -> None:
        """On `listen`, `text(*inputs)` goes into Compare's text box, Compare opens (unless it is
        open already) and tags it."""
        filled = listen(text, inputs, [self.comparer.text], api_visibility="private")
        if open_tab:
            filled = self.show_tab(filled.then, "compare")
        self.comparer.compare_on(filled.then, scroll=scroll)

    def open_inside(self, listen, pick, inputs) -> None:
        """On `listen`, `pick(*inputs)` names an InsidePlace (or None: nothing happens); the
        Inside tab opens there, and draws itself through its own select event."""
        side, sentence, word = self.inside_place

        @functools.wraps(pick)  # keeps the signature, so gr.SelectData is injected
        def opened(*args, **kwargs):
            place = pick(*args, **kwargs)
            if place is None:
                return skip_all()
            return {self.tab: "inside", side: place.side, sentence: place.sentence, word: place.word}

        listen(safe(opened, skip_all), inputs, [self.tab, side, sentence, word], api_visibility="private",
               ).then(None, [self.tab], None, js=select_tab_js())

    # ---- the link ------------------------------------------------------------------------

    def synced(self, event, text_changed: bool = False):
        """After `event`, the page state goes into the address bar (a round trip computes the
        query, then the browser writes it without reloading). The link's note is about the
        compared text, so only an event that changed the text (`text_changed`) writes it: the
        others leave it, e.g. the note of an opened link that held only the start of its text."""
        fields = self._link_fields
        outputs = [self.link, self.link_note] if text_changed else [self.link]

        def on_link(values: dict):
            state = state_of(values[self.compared], values[self.tab], defaults=self.defaults,
                             **{name: values[widget] for name, widget in fields.items()})
            query, note = page_query(state, self.defaults)
            return dict(zip(outputs, (query, note)))

        failed = (lambda message: {self.link_note: message}) if text_changed else skip_all
        return event.then(safe(on_link, failed), {self.compared, self.tab, *fields.values()}, outputs,
                          api_visibility="private", show_progress="hidden",
                          ).then(None, [self.link], None, js=replace_url_js())

    def link_state(self, request: gr.Request | None) -> PageState:
        """The state the page's address asks for (every value checked)."""
        return read_page(request.query_params if request else {}, self.defaults, self.tab_ids.values())

    def opened_values(self, request: gr.Request = None) -> dict:
        """Opening a link restores its view: the text is compared, the tab and Inside's settings
        are set (a plain visit leaves alone what the visitor clicked meanwhile)."""
        if not asks_for_a_view(request.query_params if request else {}):
            return skip_all()
        state = self.link_state(request)
        values = {self.tab: state.tab, self.link_note: opened_note(state)}
        if state.text.strip():
            view = self.services.compare.compare(state.text)
            values |= self.layout_values(view, state.sentence, state.word)
            values |= {self.comparer.text: state.text} | self.comparer.answer(view, laid_out=True)
        for _, restore in self._restores:
            values |= restore(state)
        return values

    def wire(self, tabs: gr.Tabs) -> None:
        """The page's own events, once every tab is wired: the tab switch and opening a link."""
        def on_tab(evt: gr.SelectData):
            return self.tab_ids.get(evt.value, "compare")

        self.synced(tabs.select(on_tab, None, self.tab, api_visibility="private"))
        outputs = ([self.comparer.text] + self.comparer.answer_outputs + self.layout_outputs + [self.tab]
                   + [output for outputs, _ in self._restores for output in outputs] + [self.link_note])
        opened = self.blocks.load(safe(self.opened_values, lambda message: {self.link_note: message}), None,
                                  outputs, api_visibility="private")
        opened = opened.then(None, None, None, js=linked_tab_js())  # Inside draws itself when opened
        for step in self._link_steps:
            opened = step(opened)
        self.synced(opened)  # the opened link's note stays


def page_defaults(services: Services) -> PageState:
    """What a link leaves out: the last layer, the Results group and fusion model shown first."""
    group, fusion = default_choice(services.runs.records, services.loaded_fusion)
    return PageState(layer=services.shape[0], group=group, fusion=fusion)


def build_page(services: Services) -> gr.Blocks:
    """The whole page on these services (nothing is loaded here: the services hold it)."""
    # delete_cache: uploads and served files older than a day are removed every hour.
    with gr.Blocks(title="Layer Fusion Explorer", analytics_enabled=False,
                   delete_cache=(3600, 86400)) as blocks:
        header = Header(services.slots)
        page = Page(blocks, services, page_defaults(services), header.link_note)
        parts = []
        with gr.Tabs(elem_id="main-tabs", overflow_behavior="wrap") as tabs:  # every tab in sight on a phone
            for label, tab_id, kinds in TABS:
                with gr.Tab(label, id=tab_id) as tab:
                    parts += [kind(page, tab) for kind in kinds]
        page.tab_ids = {tab.label: tab.id for tab in tabs.children if isinstance(tab, gr.Tab)}
        header.wire(page)
        for part in parts:
            part.wire(page)
        page.wire(tabs)
    return blocks


def launch_options() -> dict:
    """Settings `launch()` takes in Gradio 6 (theme and CSS moved there from Blocks), and the
    server's guard against an over-long link (`CutLongQuery`)."""
    return {"theme": gr.themes.Soft(), "css": PAGE_CSS + INSIDE_PLACEHOLDER_CSS,
            "max_file_size": 4 * UPLOAD_BYTES_LIMIT, "state_session_capacity": SESSION_CAPACITY,
            "app_kwargs": {"middleware": [Middleware(CutLongQuery)]}}


def launch(blocks: gr.Blocks, **options):
    """Serve the page: its queue (CONCURRENCY requests at once, QUEUE_SIZE waiting), then
    `blocks.launch(**options)` with the page's own launch options."""
    blocks.queue(default_concurrency_limit=CONCURRENCY, max_size=QUEUE_SIZE)
    return blocks.launch(**launch_options(), **options)
