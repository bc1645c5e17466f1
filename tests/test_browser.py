"""The app in a real browser (Playwright + Debian's chromium): pick an example, see entities in both
panes and the Inside plots drawn. The tiny-model test always runs (when chromium is installed); the
slow one uses the shipped checkpoints and writes assets/screenshot.png."""

import os
import socket
from pathlib import Path

import pytest

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-quic", "--no-first-run", "--disable-component-update", "--disable-sync"]
ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(),
                                reason="/usr/bin/chromium is missing (apt-get install chromium)")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _serve(models):
    import app

    demo = app.build_demo(models)
    demo.queue(default_concurrency_limit=app.CONCURRENCY, max_size=app.QUEUE_SIZE)
    port = _free_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True,
                **app.launch_options())
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
    import app

    models = app.load_slots(tiny_checkpoints["baseline"], tiny_checkpoints["fusion"])
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

    import app

    fusion_dir = app.find_fusion_checkpoint()
    baseline_dir = app.CHECKPOINTS / "baseline"
    if fusion_dir is None or not (baseline_dir / "tagger_config.json").is_file():
        pytest.skip("the shipped checkpoints are not there yet")
    models = app.load_slots(baseline_dir, fusion_dir)
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
