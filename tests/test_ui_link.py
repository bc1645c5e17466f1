"""ui/link.py: the page state in the query string, and what the browser does with it."""

import urllib.parse

from ui import link, markup
from ui.link import PageState

TABS = ("compare", "inside", "results", "errors", "evaluate")


def test_a_link_round_trip_keeps_the_state_and_leaves_out_defaults():
    defaults = PageState(layer=12, group="zero-shot|en 20000|test|None", fusion="fusion-l11")
    assert link.page_query(defaults, defaults) == ("", "")
    state = PageState(text="Angela Merkel in Paris & Köln?", tab="inside", side="baseline", layer=3, head=7,
                      sentence=1, word=16, group=defaults.group, fusion="fusion-l6", by="script")
    query, note = link.page_query(state, defaults)
    assert note == "" and "group=" not in query and "fusion=fusion-l6" in query and "sentence=2" in query
    params = dict(urllib.parse.parse_qsl(query))
    assert params["text"] == state.text
    assert link.read_page(params, defaults, TABS) == state


def test_a_long_text_is_cut_in_the_link_and_the_page_says_so():
    defaults = PageState()
    for text, kept in [("word " * 1000, link.LINK_TEXT_LIMIT), ("北京" * 1500, None)]:
        query, note = link.page_query(PageState(text=text), defaults)
        params = dict(urllib.parse.parse_qsl(query))
        assert len(query) <= link.LINK_BYTES_LIMIT + 40
        assert text.startswith(params["text"]) and params["cut"] == str(len(text))
        assert kept is None or len(params["text"]) == kept
        assert f"{len(text):,} characters" in note and f"first {len(params['text']):,}" in note
        opened = link.read_page(params, defaults, TABS)
        assert opened.cut_from == len(text) and f"{len(text):,}-character" in link.opened_note(opened)
    assert link.opened_note(link.read_page({"text": "short", "cut": "3"}, defaults, TABS)) == ""


def test_a_hostile_link_gives_the_defaults():
    defaults = PageState(layer=12)
    state = link.read_page({"tab": "<script>", "side": "evil", "layer": "abc", "head": "-3", "sentence": "NaN",
                            "word": "inf", "by": "x" * 500, "text": "x" * 50_000, "group": "g" * 400},
                           defaults, TABS)
    assert (state.tab, state.side, state.layer, state.head, state.sentence, state.word, state.by) == (
        "compare", "fusion", 12, 1, 0, None, "family")
    assert len(state.text) == link.LINK_TEXT_LIMIT and state.group is None
    assert link.state_of(None, None, None, 3.0, "2", "1", 4.0, "", None, None, defaults) == PageState(
        layer=3, head=2, sentence=1, word=4)
    assert "history.replaceState" in markup.replace_url_js() and '"text"' in markup.replace_url_js()


def test_only_a_visit_that_names_our_keys_asks_for_a_view():
    assert link.asks_for_a_view({"text": "Paris"}) and link.asks_for_a_view({"tab": "inside"})
    assert not link.asks_for_a_view({}) and not link.asks_for_a_view({"__theme": "dark"})


def test_an_over_long_query_is_cut_as_a_link_of_ours_would_be():
    text = "北京 " * 40_000  # 120,000 characters, over 1 MB once encoded
    query = urllib.parse.urlencode({"text": text, "tab": "inside", "junk": "j" * 5_000, "__theme": "dark"})
    cut = link.bounded_query(query)
    params = dict(urllib.parse.parse_qsl(cut))
    assert len(cut) <= link.QUERY_BYTES_LIMIT and set(params) == {"text", "cut", "tab", "__theme"}
    assert text.startswith(params["text"]) and params["cut"] == str(len(text))
    opened = link.read_page(params, PageState(), TABS)
    assert opened.tab == "inside" and f"{len(text):,}-character" in link.opened_note(opened)
    assert link.bounded_query(link.page_query(PageState(text=text, tab="inside"), PageState())[0]) is None
    for odd in ("%" * 9_000, "&" * 9_000, "=" * 9_000, "text=%ZZ" * 2_000, "cut=-1&text=" + "x" * 9_000):
        assert len(link.bounded_query(odd)) <= link.QUERY_BYTES_LIMIT


def test_the_server_cuts_an_over_long_query_before_the_page_sees_it():
    """The middleware in front of Gradio (which answers an address over 64 KiB with HTTP 500),
    on a bare Starlette app in-process: a GET is sent on with the query cut, anything else refused."""
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route
    from starlette.testclient import TestClient

    seen = []

    async def home(request):
        seen.append(request.url.query)
        return PlainTextResponse("page")

    app = Starlette(routes=[Route("/", home, methods=["GET", "POST"])], middleware=[Middleware(link.CutLongQuery)])
    client = TestClient(app)
    assert client.get("/", params={"text": "Paris", "tab": "inside"}).text == "page" and len(seen) == 1
    text = "Angela Merkel " * 3_000
    answer = client.get("/", params={"text": text, "tab": "inside"}, follow_redirects=False)
    assert answer.status_code == 303 and len(seen) == 1  # the page never saw the long query
    params = dict(urllib.parse.parse_qsl(answer.headers["location"].removeprefix("?")))
    assert params["cut"] == str(len(text)) and params["tab"] == "inside" and text.startswith(params["text"])
    assert client.get("/", params={"text": text}).text == "page" and len(seen[-1]) <= link.QUERY_BYTES_LIMIT
    assert client.post("/?text=" + "x" * 20_000).status_code == 414


def test_only_a_compare_rewrites_the_link_note(built_page):
    """The note is about the compared text: switching tabs, Inside's sliders or the Results group
    leave it, so an opened link's note (it held only the start of its text) stays in view."""
    from ui import page

    demo, _ = built_page
    writers = [fn for fn in demo.fns.values() if fn.name == "on_link"]
    noted = [fn for fn in writers if any(getattr(output, "elem_id", None) == "link-note" for output in fn.outputs)]
    # each way into Compare writes it (its button, an example, the tour, a sentence sent from
    # Errors or Evaluate); the tab switch, Inside, Results and an opened link do not
    assert 0 < len(noted) < len(writers) - 2
    assert any(isinstance(m.cls, type) and m.cls is link.CutLongQuery
               for m in page.launch_options()["app_kwargs"]["middleware"])
