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
