"""One person in a real browser: seconds from clicking Compare to both models' entities on the
page, against the same request through gradio_client, measured in one run.

    python bench/browser_latency.py [--requests 10]

Starts `python app.py` (the shipped checkpoints) on loopback, opens it in Debian's chromium
(Playwright, headless), and for each of N texts types it, clicks Compare (1.5 s after the last
result, as a person reads it) and waits until both entity panes show it; then the same N texts
through gradio_client's `/compare`. A browser's click also runs what follows Compare on the page
(each page's layout step, the downloads), so its p50 is the figure a user feels. Target (issue 11): round trip p50 ≤ 120 ms. It also prints
the page's main-thread time per Compare (Chrome's TaskDuration and ScriptDuration counters),
which is what a slower device, such as a phone, pays several times over.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from load import TEXTS, alone, settle, start_server  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
# Timed inside the page: from the click event to the first animation frame in which both panes
# show the new text (Playwright's own click and polling overheads stay out of the figure).
CLICK_CLOCK = ("() => document.querySelector('#compare-button').addEventListener('click', "
               "() => { window.__clicked = performance.now(); }, {capture: true})")
SHOWN = ("() => ['#baseline-entities', '#fusion-entities'].every(id => "
         "document.querySelector(id)?.innerText.includes(window.__expected)) "
         "&& (window.__shown = performance.now() - window.__clicked)")


def main_thread_seconds(cdp) -> tuple[float, float]:
    """(all tasks, script) seconds the page's main thread has spent so far (Chrome's counters)."""
    metrics = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
    return metrics["TaskDuration"], metrics["ScriptDuration"]


def browser_times(url: str, texts: list[str], warm: int = 2) -> tuple[list[float], float, float]:
    """Seconds from click to both panes for each text, and the page's main-thread task and
    script seconds per click after the first `warm` ones (rendering, Gradio's own bookkeeping)."""
    from playwright.sync_api import sync_playwright

    times = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(20_000)
        page.goto(url)
        page.wait_for_selector("#compare-button")
        page.evaluate(CLICK_CLOCK)
        cdp = page.context.new_cdp_session(page)
        cdp.send("Performance.enable")
        for index, text in enumerate(texts):
            if index == warm:
                before = main_thread_seconds(cdp)
            page.locator("#text textarea").fill(text)
            page.evaluate("(text) => { window.__expected = text.split(' ').pop(); }", text)
            # a person reads one result before typing the next text: the previous Compare's
            # follow-ups (layout, downloads, link) are done before the next click (not timed)
            time.sleep(1.5)
            page.locator("#compare-button").click()
            page.wait_for_function(SHOWN, polling="raf")
            times.append(page.evaluate("() => window.__shown") / 1000)
        time.sleep(1.5)  # the last Compare's follow-ups are counted too
        after = main_thread_seconds(cdp)
        browser.close()
    clicks = len(texts) - warm
    return times[warm:], (after[0] - before[0]) / clicks, (after[1] - before[1]) / clicks


def main() -> int:
    os.environ.update(GRADIO_ANALYTICS_ENABLED="False", HF_HUB_OFFLINE="1")
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=10)
    args = parser.parse_args()
    # each text ends in its own number, so the page visibly changes every time
    texts = [f"{TEXTS[i % len(TEXTS)]} {i + 1}" for i in range(args.requests + 2)]
    server, url, client = start_server([])
    try:
        settle(server.pid)
        clicked, tasks, script = browser_times(url, texts)  # the first two warm the page up
        api = alone(client, args.requests, texts[2:])
    finally:
        server.terminate()
        server.wait(30)
    click = statistics.median(clicked)
    print(f"browser, click to both panes: p50 {1000 * click:.0f} ms (max {1000 * max(clicked):.0f}); "
          f"gradio_client /compare: p50 {1000 * api:.0f} ms; browser / client {click / api:.2f} ×; "
          f"target p50 ≤ 120 ms")
    print(f"browser main thread per Compare: {1000 * tasks:.0f} ms of tasks, {1000 * script:.0f} ms of it script")
    return 0


if __name__ == "__main__":
    sys.exit(main())
