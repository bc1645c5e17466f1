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
    assert contents["csv"].decode().splitlines()[0] == "model,entity,type,score,start,end,agreement"


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
