"""The app in a real browser (Playwright + Debian's chromium): pick an example, see entities in both
panes and the Inside plots drawn; a link restores the view; the phone layout; an entity opens Inside
on its word. All of them serve the app and drive a browser, so all are marked slow; they run when
chromium is installed, the last one on the shipped checkpoints (it writes assets/screenshot.png
only when asked). Screenshots at desktop and phone sizes go to
/tmp/shots/ (LFE_SHOTS to change), for a person to look at."""

import os
import socket
from pathlib import Path

import pytest

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

CHROMIUM = Path("/usr/bin/chromium")
SHOTS = Path(os.environ.get("LFE_SHOTS", "/tmp/shots"))
DESKTOP, PHONE = {"width": 1400, "height": 1000}, {"width": 390, "height": 844}
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-quic", "--no-first-run", "--disable-component-update", "--disable-sync"]
ROOT = Path(__file__).resolve().parents[1]

pytestmark = [pytest.mark.slow,  # a server and a browser
              pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is missing (apt-get install chromium)")]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _serve(models):
    from serve.services import Services
    from ui import page

    demo = page.build_page(Services.create(models))
    port = _free_port()
    page.launch(demo, server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    return demo, f"http://127.0.0.1:{port}/"


@pytest.fixture
def browser_page():
    playwright_api = pytest.importorskip("playwright.sync_api")
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.set_default_timeout(60_000)
        yield page
        browser.close()


@pytest.fixture(scope="module")
def tiny_app(tiny_checkpoints):
    """One served app on the tiny models for the tests below (starting one per test costs)."""
    from serve.slots import load_slots

    demo, url = _serve(load_slots(tiny_checkpoints["baseline"], tiny_checkpoints["fusion"]))
    yield url
    demo.close()


@pytest.fixture
def browser():
    playwright_api = pytest.importorskip("playwright.sync_api")
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def _page(browser, viewport=DESKTOP, **options):
    page = browser.new_context(viewport=viewport, **options).new_page()
    page.set_default_timeout(60_000)
    return page


def _shot(page, name: str, full_page: bool = True) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=full_page)


def _compare(page, url: str, text: str) -> None:
    page.goto(url)
    page.locator("#text textarea").fill(text)
    page.locator("#compare-button").click()
    page.wait_for_selector("#baseline-entities .token.highlighted")
    page.wait_for_function("(text) => new URLSearchParams(window.location.search).get('text') === text", arg=text)


def _selected_tab(page) -> str:
    return page.locator("#main-tabs [role=tab][aria-selected=true]").inner_text().strip()


def _attention_title(page) -> str:
    return page.locator("#attention-plot .gtitle").text_content()


# Plot references (clip paths, colour-bar gradients) that point at another address than the page's:
# plotly writes the full address into them, and a stale one leaves a plot without data or colours.
STALE_REFERENCES = """() => { const base = window.location.href.split('#')[0]; let stale = 0;
  document.querySelectorAll('.js-plotly-plot [clip-path], .js-plotly-plot [style*="url("]').forEach((e) => {
    for (const value of [e.getAttribute('clip-path'), e.getAttribute('style')]) {
      const found = value && value.match(/url\\(["']?([^"')#]*)#/);
      if (found && found[1] && found[1] !== base) stale += 1; } });
  return stale; }"""
HEATMAP_BOX = """() => { const r = document.querySelector('#attention-plot .heatmaplayer image')
                                      .getBoundingClientRect(); return [r.width, r.height]; }"""


def test_a_link_restores_the_text_and_the_view(tiny_app, browser):
    """Compare, open Inside, type an out-of-range head (it snaps to the last one, no error toast),
    then open the address bar's link in a fresh page: text, tab and head are back."""
    text = "Angela Merkel visited Paris. Then Olaf Scholz went to Berlin."
    page = _page(browser)
    _compare(page, tiny_app, text)
    page.get_by_role("tab", name="Inside").click()
    page.wait_for_selector("#attention-plot .heatmaplayer image")
    head = page.locator("#inside-head input[type=number]")
    head.fill("99")
    head.press("Tab")
    page.wait_for_function("() => document.querySelector('#attention-plot .gtitle')?.textContent.endsWith('head 2')")
    page.wait_for_function("() => window.location.search.includes('head=2')")
    assert head.input_value() == "2" and page.locator(".toast-body").count() == 0
    link = page.url
    assert "tab=inside" in link and "text=" in link
    _shot(page, "desktop-inside")

    fresh = _page(browser)
    fresh.goto(link)
    fresh.wait_for_selector("#attention-plot .heatmaplayer image")
    assert fresh.locator("#text textarea").input_value() == text
    assert _selected_tab(fresh) == "Inside" and _attention_title(fresh).endswith("layer 3, head 2")
    fresh.wait_for_selector("#baseline-entities .token.highlighted", state="attached")  # Compare was run too
    fresh.get_by_role("tab", name="Compare").click()
    fresh.wait_for_function("() => !window.location.search.includes('tab=')")  # the address follows the tab


def _attention_shows(page, layer: int, head: int) -> None:
    page.wait_for_function("(end) => document.querySelector('#attention-plot .gtitle')?.textContent.endsWith(end)",
                           arg=f"layer {layer}, head {head}")


def test_inside_boxes_apply_on_enter_and_plot_box_and_link_agree(tiny_app, browser):
    """Typing a head or a layer and pressing Enter draws it (Gradio's slider box applied only on
    leaving it); a number out of range or not whole snaps, the same in the box, the plot and the
    link (the tiny model: 3 layers, 2 heads)."""
    page = _page(browser)
    _compare(page, tiny_app, "Angela Merkel visited Paris.")
    page.get_by_role("tab", name="Inside").click()
    _attention_shows(page, 3, 1)
    head, layer = (page.locator(f"#inside-{name} input[type=number]") for name in ("head", "layer"))
    head.fill("2")
    head.press("Enter")
    _attention_shows(page, 3, 2)
    page.wait_for_function("() => new URLSearchParams(window.location.search).get('head') === '2'")
    assert head.input_value() == "2"
    layer.fill("2")
    layer.press("Enter")
    _attention_shows(page, 2, 2)
    page.wait_for_function("() => new URLSearchParams(window.location.search).get('layer') === '2'")
    layer.fill("9")  # beyond the last layer: snaps to it (the default, so the link leaves it out)
    layer.press("Enter")
    _attention_shows(page, 3, 2)
    page.wait_for_function("() => !window.location.search.includes('layer=')")
    head.fill("1.4")
    head.press("Enter")
    _attention_shows(page, 3, 1)
    page.wait_for_function("() => !window.location.search.includes('head=')")
    assert (layer.input_value(), head.input_value()) == ("3", "1") and page.locator(".toast-body").count() == 0


def test_compare_chips_name_their_type_in_the_palette_colour(tiny_app, browser):
    from ui.common import ENTITY_COLOURS

    page = _page(browser)
    _compare(page, tiny_app, "Angela Merkel visited Paris. Then Olaf Scholz went to Berlin.")
    chips = page.evaluate("""() => [...document.querySelectorAll('#baseline-entities .token.highlighted')].map(
        (chip) => { const label = chip.querySelector('.label');
                    return label && [label.textContent.trim(), getComputedStyle(label).backgroundColor]; })""")
    assert chips and all(chips), chips  # every entity names its type on the chip
    for kind, background in chips:
        red, green, blue = (int(ENTITY_COLOURS[kind][i:i + 2], 16) for i in (1, 3, 5))
        assert background == f"rgb({red}, {green}, {blue})", (kind, background)


# A word split over two lines ("gro / ups"): its text's boxes lie on more than one line.
BROKEN_WORDS = """(selector) => { const broken = [];
  for (const root of document.querySelectorAll(selector)) {
    const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      for (const word of node.data.matchAll(/\\S+/g)) {
        const range = document.createRange();
        range.setStart(node, word.index); range.setEnd(node, word.index + word[0].length);
        const lines = new Set([...range.getClientRects()].filter((box) => box.width > 0).map((box) => Math.round(box.top)));
        if (lines.size > 1) broken.push(word[0]); } } }
  return broken; }"""
FITS = "(selector) => { const box = document.querySelector(selector); return box.scrollWidth <= box.clientWidth; }"
LONG_TEXT = ("The European Union and the United Nations met in Geneva on Monday, where Angela Merkel said that "
             "several working groups of the World Health Organization would meet again in Nairobi before the "
             "summer, and that the representatives of the participating organisations and their working groups "
             "agreed on everything. Researchers from Stanford University joined the groups for the first time.")


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_words_never_break_inside_and_the_entities_fit(tiny_app, browser, viewport):
    """Long prose breaks between words, in the panes and in help text; table headers too; on a
    phone Compare's entity table fits, its agreement column in sight."""
    page = _page(browser, viewport, is_mobile=viewport is PHONE)
    _compare(page, tiny_app, LONG_TEXT)
    page.wait_for_selector("#entity-table [data-testid^=cell-]", state="attached")
    page.wait_for_timeout(500)
    assert page.evaluate(BROKEN_WORDS, "#baseline-entities .textfield, #fusion-entities .textfield, .prose") == []
    assert page.evaluate(BROKEN_WORDS, "#entity-table th") == []
    assert page.evaluate(FITS, "#entity-table .virtual-table-viewport")
    assert page.locator("#entity-table th", has_text="agreement").is_visible()
    page.get_by_role("tab", name="Errors").click()
    page.wait_for_selector("#errors-sentences [data-testid^=cell-]", state="attached")
    page.wait_for_timeout(500)
    assert page.evaluate(BROKEN_WORDS, "#errors-sentences th, #errors-sentences [data-testid^=cell-]") == []
    _shot(page, f"{'phone' if viewport is PHONE else 'desktop'}-long-text-errors")


def test_results_fit_the_desktop_and_their_titles_a_phone(tiny_app, browser):
    page = _page(browser)
    page.goto(tiny_app)
    page.get_by_role("tab", name="Results").click()
    page.wait_for_selector("#language-table [data-testid^=cell-]", state="attached")
    page.wait_for_timeout(1000)
    assert page.evaluate(FITS, "#language-table .virtual-table-viewport")  # the intervals too, at 1400 px
    assert page.evaluate(BROKEN_WORDS, "#language-table th") == []
    group = page.get_by_role("combobox", name="Runs to compare (seeds of one recipe are averaged)")
    assert group.input_value().startswith("zero-shot · all test · ")  # what tells the groups apart, first
    assert group.evaluate("(box) => box.scrollWidth <= box.clientWidth")  # and all of it in sight
    _shot(page, "desktop-results")
    phone = _page(browser, PHONE, is_mobile=True)
    phone.goto(tiny_app)
    phone.get_by_role("tab", name="Results").click()
    phone.wait_for_selector("#language-table [data-testid^=cell-]", state="attached")
    phone.wait_for_selector(".js-plotly-plot .gtitle")
    phone.wait_for_timeout(1000)
    titles = phone.evaluate("""() => [...document.querySelectorAll('.js-plotly-plot')].filter((plot) => plot.offsetParent)
        .map((plot) => [plot.querySelector('.gtitle')?.getBoundingClientRect().right ?? 0,
                        plot.querySelector('.main-svg').getBoundingClientRect().right])""")
    assert len(titles) >= 2 and all(title <= plot for title, plot in titles), titles
    _shot(phone, "phone-results")


def _arabic_file(folder) -> Path:
    """The first sentences of the shipped Arabic sample as a CoNLL file (with brackets)."""
    import json

    sample = json.loads((ROOT / "assets" / "error_samples" / "ar.json").read_text(encoding="utf-8"))
    lines = ["\n".join(f"{token}\t{tag}" for token, tag in zip(item["tokens"], item["gold"]))
             for item in sample["sentences"][:6]]
    path = folder / "arabic.conll"
    path.write_text("\n\n".join(lines) + "\n", encoding="utf-8")
    return path


# The x of each piece of a pane's text, in the order of the text
PIECE_X = """(selector) => [...document.querySelectorAll(selector + ' .token-container')]
    .map((piece) => piece.getBoundingClientRect().x)"""


def test_right_to_left_sentences_read_right_to_left_in_errors_and_evaluate(tiny_app, browser, tmp_path):
    """Arabic in the Errors tab and in an uploaded file: the panes are right to left (the text's
    start at the right), the sentence list's cells find their own direction; Evaluate shows its
    scores, figure and panes only once a file is scored."""
    page = _page(browser)
    page.goto(tiny_app)
    page.get_by_role("tab", name="Errors").click()
    page.wait_for_selector("#errors-sentences [data-testid^=cell-]", state="attached")
    assert not page.locator("#errors-gold").is_visible()  # no sentence picked: no empty panes
    page.get_by_role("combobox", name="Language", exact=True).click()
    page.get_by_role("option", name="ar", exact=True).click()
    page.wait_for_function("() => /[\u0600-\u06ff]/.test(document.querySelector("
                           "'#errors-sentences [data-testid=cell-0-1]')?.innerText ?? '')")
    cell = page.locator("#errors-sentences [data-testid=cell-0-1] span")
    assert cell.evaluate("(span) => getComputedStyle(span).unicodeBidi") == "plaintext"
    page.locator("#errors-sentences [data-testid=cell-0-1]").click()
    page.wait_for_selector("#errors-gold .token-container")
    assert page.locator("#errors-gold").get_attribute("dir") == "rtl"
    pieces = page.evaluate(PIECE_X, "#errors-gold")
    assert len(pieces) > 1 and pieces == sorted(pieces, reverse=True)  # the first piece at the right
    _shot(page, "desktop-errors-arabic")

    page.get_by_role("tab", name="Evaluate your data").click()
    assert not page.locator("#upload-results").is_visible()  # before a file: no empty table, plot or panes
    page.locator("#upload input[type=file]").set_input_files(str(_arabic_file(tmp_path)))
    page.get_by_role("button", name="Score both models").click()
    page.wait_for_selector("#upload-results", state="visible")
    page.wait_for_selector("#upload-sentences [data-testid=cell-0-1]", state="attached")
    page.locator("#upload-sentences [data-testid=cell-0-1]").click()
    page.wait_for_selector("#upload-gold .token-container")
    assert page.locator("#upload-gold").get_attribute("dir") == "rtl"
    pieces = page.evaluate(PIECE_X, "#upload-gold")
    assert pieces == sorted(pieces, reverse=True)
    _shot(page, "desktop-evaluate-arabic")


def test_copy_link_puts_the_address_on_the_clipboard(tiny_app, browser):
    page = _page(browser, permissions=["clipboard-read", "clipboard-write"])
    _compare(page, tiny_app, "Paris")
    page.get_by_role("button", name="Copy link to this view").click()
    page.wait_for_function("() => document.querySelector('#copy-status').innerText.includes('Link copied')")
    assert page.evaluate("() => navigator.clipboard.readText()") == page.url


def test_a_long_text_gets_an_honest_note_about_the_link(tiny_app, browser):
    page = _page(browser)
    page.goto(tiny_app)
    page.locator("#text textarea").fill("Paris is big. " * 200)  # 2,800 characters
    page.locator("#compare-button").click()
    page.wait_for_function("() => document.querySelector('#link-note').innerText.includes('first 2,000')")
    assert "2,800 characters" in page.locator("#link-note").inner_text()
    assert "cut=2800" in page.url


def test_the_comparison_downloads(tiny_app, browser, tmp_path):
    page = _page(browser, accept_downloads=True)
    _compare(page, tiny_app, "<script>alert(1)</script> Angela Merkel visited Paris.")
    contents = {}
    assert not page.locator("#download-png").is_visible()  # the picture is drawn when asked for
    page.locator("#draw-png").click()
    page.wait_for_selector("#download-png", state="visible")
    assert not page.locator("#draw-png").is_visible()
    for name in ("html", "png", "csv"):
        with page.expect_download() as download:
            page.locator(f"#download-{name}").click()
        path = tmp_path / download.value.suggested_filename
        download.value.save_as(path)
        contents[name] = path.read_bytes()
    assert b"<script>" not in contents["html"] and b"&lt;" in contents["html"]
    assert contents["png"].startswith(b"\x89PNG")
    assert contents["csv"].startswith(b"\xef\xbb\xbf")  # a spreadsheet reads it as UTF-8 (Arabic, Hebrew...)
    assert contents["csv"].decode("utf-8-sig").splitlines()[0] == "model,entity,type,score,start,end,agreement"


def test_inside_before_any_compare_is_a_placeholder(tiny_app, browser):
    page = _page(browser)
    page.goto(tiny_app)
    page.get_by_role("tab", name="Inside").click()
    page.wait_for_selector("#inside-placeholder", state="visible")
    assert "First type a sentence or pick an example" in page.locator("#inside-placeholder").inner_text()
    assert not page.locator("#attention-plot").is_visible()
    page.get_by_role("button", name="Go to the Compare tab").click()
    page.wait_for_function("() => document.querySelector('#main-tabs [role=tab][aria-selected=true]')"
                           ".innerText.trim() === 'Compare'")


def test_an_entity_row_opens_inside_on_its_word(tiny_app, browser):
    """A fusion row of the entity table: Inside opens on that sentence and model, the word's row is
    outlined and its gate share printed; switching model keeps the heat map square."""
    page = _page(browser)
    _compare(page, tiny_app, "Angela Merkel visited Paris. Then Olaf Scholz went to Berlin.")
    models = page.locator("#entity-table [data-testid^=cell-][data-col='0']").all_inner_texts()
    assert "fusion" in models, models  # the seeded tiny models find some entities
    row = models.index("fusion")
    word = page.locator(f"#entity-table [data-testid=cell-{row}-1]").inner_text().strip()
    page.locator(f"#entity-table [data-testid=cell-{row}-1]").click()
    page.wait_for_function("() => document.querySelector('#inside-note')?.innerText.includes('outlined')")
    note = page.locator("#inside-note").inner_text()
    assert _selected_tab(page) == "Inside" and f"'{word.split()[0]}'" in note
    assert "% from the last layer" in note and "% from layer 1" in note
    assert page.locator("#inside-side input[value=fusion]").is_checked()
    page.wait_for_selector("#attention-plot .shapelayer path", state="attached")  # the outline
    page.wait_for_function("() => window.location.search.includes('word=')")
    width, height = page.evaluate(HEATMAP_BOX)
    assert abs(width - height) <= 2  # one square cell per token pair
    for side in ("baseline", "fusion"):
        page.locator("#inside-side").get_by_text(side).click()
        page.wait_for_function("(side) => document.querySelector('#attention-plot .gtitle')"
                               "?.textContent.startsWith(side)", arg=side)
        page.wait_for_timeout(300)  # plotly relayouts after the new figure
        assert page.evaluate(HEATMAP_BOX) == pytest.approx([width, height], abs=2)
    page.wait_for_function("() => !window.location.search.includes('side=')")  # fusion is the default
    page.wait_for_timeout(300)
    assert page.evaluate("() => document.querySelectorAll('.js-plotly-plot [clip-path]').length") > 0
    assert page.evaluate(STALE_REFERENCES) == 0
    _shot(page, "desktop-entity-inside")


def test_the_phone_layout(tiny_app, browser):
    """At 390 × 844 the text box and the Compare button are on the first screen, and no page
    scrolls sideways: not before comparing, not after, not on Inside."""
    page = _page(browser, PHONE, is_mobile=True, has_touch=True)
    page.goto(tiny_app)
    page.wait_for_selector("#compare-button")
    width = "() => document.documentElement.scrollWidth"
    for selector in ("#text textarea", "#compare-button"):
        box = page.locator(selector).bounding_box()
        assert box["y"] + box["height"] <= PHONE["height"], selector
    assert not page.locator("#header").is_visible()  # the long header is folded away
    assert page.evaluate(width) <= PHONE["width"]
    _shot(page, "phone-first-screen", full_page=False)
    page.get_by_text("Arabic:", exact=False).first.click()
    page.wait_for_selector("#baseline-entities .token.highlighted")
    page.wait_for_timeout(500)
    assert page.evaluate(width) <= PHONE["width"]
    _shot(page, "phone-compare")
    page.get_by_role("tab", name="Inside").click()
    page.wait_for_selector("#gate-plot .heatmaplayer image")
    assert page.evaluate(width) <= PHONE["width"]
    _shot(page, "phone-inside")
    page.get_by_role("tab", name="Results").click()
    page.wait_for_timeout(1000)
    assert page.evaluate(width) <= PHONE["width"]


def test_the_guided_tour_opens_tabs(tiny_app, browser):
    page = _page(browser)
    page.goto(tiny_app)
    page.get_by_text("Guided tour", exact=False).first.click()
    page.get_by_role("button", name="Open Results").click()
    page.wait_for_function("() => window.location.search.includes('tab=results')")
    assert _selected_tab(page) == "Results"
    page.get_by_role("button", name="Tag an example").click()
    page.wait_for_selector("#baseline-entities .token.highlighted")
    assert _selected_tab(page) == "Compare" and page.locator("#text textarea").input_value()
    _shot(page, "desktop-tour")


def _compare_example(page, url: str, example: str) -> None:
    """Open the app, click an example, wait for entities in both panes and the Inside plots."""
    page.goto(url)
    page.get_by_text(example, exact=False).first.click()
    for role in ("baseline", "fusion"):
        page.wait_for_selector(f"#{role}-entities .token.highlighted")
    page.wait_for_selector("#entity-table")
    page.get_by_role("tab", name="Inside").click()
    for plot in ("attention-plot", "overview-plot", "share-plot", "gate-plot"):
        page.wait_for_selector(f"#{plot} .js-plotly-plot .main-svg")
    assert page.locator("#attention-plot .heatmaplayer image, #attention-plot .hm").count() >= 1
    page.get_by_role("tab", name="Compare").click()


def test_browser_compare_with_tiny_models(tiny_checkpoints, browser_page, tmp_path):
    from serve.slots import load_slots

    models = load_slots(tiny_checkpoints["baseline"], tiny_checkpoints["fusion"])
    demo, url = _serve(models)
    try:
        _compare_example(browser_page, url, "Hebrew:")
        entities = browser_page.locator("#baseline-entities .token.highlighted").all_inner_texts()
        assert entities and all(text.strip() for text in entities)
        assert browser_page.locator("#compare-status").inner_text().startswith("Baseline found")
        browser_page.screenshot(path=str(tmp_path / "tiny.png"), full_page=True)
        # Errors: the shipped sample's sentences; picking one shows gold and both predictions,
        # and "Send to Compare" tags it live
        browser_page.get_by_role("tab", name="Errors").click()
        browser_page.locator("#errors-sentences").get_by_text("Runde rammte", exact=False).first.click()
        browser_page.wait_for_selector("#errors-gold .token.highlighted")
        browser_page.get_by_role("button", name="Send to Compare").first.click()
        browser_page.wait_for_function(
            "document.querySelector('#text textarea').value.startsWith('Runde rammte')")
        _upload_in_any_encoding(browser_page, tmp_path)
    finally:
        demo.close()


def _upload_in_any_encoding(page, tmp_path) -> None:
    """Evaluate tab: Latin-1 and UTF-16 uploads are read (the encoding is named); a one-column
    file gets its whole message, the offending line included."""
    page.get_by_role("tab", name="Evaluate your data").click()
    text = "Jürgen\tB-PER\nMüller\tI-PER\nbesuchte\tO\nKöln\tB-LOC\n\n" * 30
    for name, raw, expected in [("latin.conll", text.encode("latin-1"), "read as"),
                                ("utf16.conll", text.encode("utf-16"), "byte-order mark"),
                                ("one.conll", "Paris\nBerlin\n".encode(), "got 'Paris'")]:
        path = tmp_path / name
        path.write_bytes(raw)
        page.locator("#upload input[type=file]").set_input_files(str(path))
        page.get_by_role("button", name="Score both models").click()
        page.wait_for_function("(expected) => document.querySelector('#upload-status').innerText"
                               ".includes(expected)", arg=expected)
        page.locator("#upload").get_by_label("Clear").first.click()  # ready for the next file
    page.screenshot(path=str(tmp_path / "upload.png"), full_page=True)


@pytest.mark.slow
def test_browser_with_shipped_checkpoints_makes_the_screenshot(browser_page, tmp_path):
    """Writes the README's assets/screenshot.png only when LFE_UPDATE_SCREENSHOT=1, so a plain
    `pytest` never changes a tracked file."""
    import os

    from serve.paths import BASELINE_DIR
    from serve.slots import find_fusion_checkpoint, load_slots

    fusion_dir = find_fusion_checkpoint()
    baseline_dir = BASELINE_DIR
    if fusion_dir is None or not (baseline_dir / "tagger_config.json").is_file():
        pytest.skip("the shipped checkpoints are not there yet")
    models = load_slots(baseline_dir, fusion_dir)
    demo, url = _serve(models)
    try:
        _compare_example(browser_page, url, "Arabic:")  # right to left, and the models differ
        browser_page.wait_for_timeout(500)  # let the layout settle before the picture
        update = os.environ.get("LFE_UPDATE_SCREENSHOT") == "1"
        target = ROOT / "assets" / "screenshot.png" if update else tmp_path / "screenshot.png"
        browser_page.screenshot(path=str(target), full_page=True)
        assert target.stat().st_size > 50_000  # a real page, not a blank one
    finally:
        demo.close()
