"""One person in a real browser: seconds from clicking Compare to both models' entities on the
page, the app as it ships against a reference measured in the same run.

    python bench/browser_latency.py [--requests 12] [--floor | --reference DIR] [--reference-env "NAME=VALUE ..."]

Starts `python app.py` (the shipped checkpoints) on loopback, opens it in Debian's chromium
(Playwright, headless), and for each of N texts types it, clicks Compare (1.5 s after the last
result, as a person reads it) and waits until both entity panes show it, then until the entity
table has changed too; then the same N texts through gradio_client's `/compare`. A browser's
click also runs what follows Compare on the page (the layout call, the downloads, the link), so
its p50 is the figure a user feels. Target (issue 11): round trip p50 ≤ 120 ms. It also prints
the page's main-thread time per Compare (Chrome's TaskDuration and ScriptDuration counters),
which is what a slower device, such as a phone, pays several times over, and the server's CPU
per click above its idle polling: what a class of pages costs the server per Compare, beyond
the API calls `bench/load.py` makes.

The reference is the same app with LFE_COMPARE_QUEUED=1 (a page's Compare through Gradio's queue),
or with other operator settings (`--reference-env "LFE_RUNTIME=torch"`: the models on torch), or, with
`--reference DIR`, the app of another checkout, e.g. an earlier commit:
`git worktree add /tmp/before e444f26 && python bench/browser_latency.py --reference /tmp/before`.
`--floor` takes Gradio's own floor as the reference (bench/gradio_floor/app.py: the same components,
a function that answers at once), so the ratio is the app's click against what Gradio alone costs.
"""

from __future__ import annotations

import argparse
import os
import shlex
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from load import ROOT, TEXTS, alone, cpu_seconds, settle, start_server  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
# Timed inside the page, from the click event to the animation frame after the panes (then the
# table) changed. The page is watched for changes rather than polled: polling innerText at every
# frame forces a layout each time, which would slow the page it measures.
CLOCK = """() => {
  const textOf = (id) => document.querySelector(id)?.textContent || '';
  document.querySelector('#compare-button').addEventListener('click', () => {
    window.__clicked = performance.now();
    window.__table = textOf('#entity-table');
    window.__panes = window.__tabled = undefined;
  }, {capture: true});
  const mark = (name) => {
    window[name] = null;
    requestAnimationFrame(() => { window[name] = performance.now() - window.__clicked; });
  };
  new MutationObserver(() => {
    if (window.__clicked === undefined) return;
    if (window.__panes === undefined && ['#baseline-entities', '#fusion-entities'].every(
        id => textOf(id).includes(window.__expected))) mark('__panes');
    if (window.__tabled === undefined && textOf('#entity-table') !== window.__table) mark('__tabled');
  }).observe(document.body, {subtree: true, childList: true, characterData: true});
}"""
SHOWN = "() => typeof window.__panes === 'number' && typeof window.__tabled === 'number'"


def main_thread_seconds(cdp) -> tuple[float, float]:
    """(all tasks, script) seconds the page's main thread has spent so far (Chrome's counters)."""
    metrics = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
    return metrics["TaskDuration"], metrics["ScriptDuration"]


def idle_cpu_rate(pid: int, seconds: float = 3.0) -> float:
    """The server's CPU seconds per second while nobody asks anything (Gradio's queue polls)."""
    before, started = cpu_seconds(pid), time.perf_counter()
    time.sleep(seconds)
    return (cpu_seconds(pid) - before) / (time.perf_counter() - started)


def browser_times(url: str, texts: list[str], server_pid: int, warm: int = 2) -> dict:
    """Seconds from click to both panes and to the table for each text after the first `warm`
    ones, the page's main-thread task and script seconds per click, and the server's CPU
    seconds per click above its idle rate (everything a click sets off: the Compare and what
    follows it on the page)."""
    from playwright.sync_api import sync_playwright

    panes, tables = [], []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(20_000)
        page.goto(url)
        page.wait_for_selector("#compare-button")
        page.evaluate(CLOCK)
        cdp = page.context.new_cdp_session(page)
        cdp.send("Performance.enable")
        for index, text in enumerate(texts):
            if index == warm:
                time.sleep(1.5)  # the warm-up's follow-ups are done
                idle = idle_cpu_rate(server_pid)
                before, server_before, started = main_thread_seconds(cdp), cpu_seconds(server_pid), time.perf_counter()
            page.locator("#text textarea").fill(text)
            page.evaluate("(text) => { window.__expected = text.split(' ').pop(); }", text)
            # a person reads one result before typing the next text: the previous Compare's
            # follow-ups (layout, downloads, link) are done before the next click (not timed)
            time.sleep(1.5)
            page.locator("#compare-button").click()
            page.wait_for_function(SHOWN, polling=50)  # the page's own clock times it
            panes.append(page.evaluate("() => window.__panes") / 1000)
            tables.append(page.evaluate("() => window.__tabled") / 1000)
        time.sleep(1.5)  # the last Compare's follow-ups are counted too
        after, server_after, elapsed = main_thread_seconds(cdp), cpu_seconds(server_pid), time.perf_counter() - started
        browser.close()
    clicks = len(texts) - warm
    return {"panes": panes[warm:], "tables": tables[warm:],
            "tasks": (after[0] - before[0]) / clicks, "script": (after[1] - before[1]) / clicks,
            "server": (server_after - server_before - idle * elapsed) / clicks}


def measure(settings: dict[str, str], root: Path, texts: list[str], requests: int) -> dict:
    server, url, client = start_server(settings, root)
    try:
        settle(server.pid)
        figures = browser_times(url, texts, server.pid)  # the first two texts warm the page up
        figures["api"] = alone(client, requests, texts[2:])
    finally:
        server.terminate()
        server.wait(30)
    return figures


def report(name: str, figures: dict) -> None:
    panes, tables = figures["panes"], figures["tables"]
    print(f"{name}: click to both panes p50 {1000 * statistics.median(panes):.0f} ms "
          f"(max {1000 * max(panes):.0f}), to the table p50 {1000 * statistics.median(tables):.0f} ms; "
          f"gradio_client /compare p50 {1000 * figures['api']:.0f} ms; main thread per Compare "
          f"{1000 * figures['tasks']:.0f} ms of tasks, {1000 * figures['script']:.0f} ms of it script; "
          f"server CPU per click {1000 * figures['server']:.0f} ms above idle")


def main() -> int:
    os.environ.update(GRADIO_ANALYTICS_ENABLED="False", HF_HUB_OFFLINE="1")
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=12)
    parser.add_argument("--reference", type=Path, default=None,
                        help="a checkout whose app.py is the reference (default: this app, LFE_COMPARE_QUEUED=1)")
    parser.add_argument("--reference-env", default=None,
                        help='the reference app\'s operator settings, e.g. "LFE_RUNTIME=torch" (default: none '
                             'with --reference, else LFE_COMPARE_QUEUED=1)')
    parser.add_argument("--floor", action="store_true",
                        help="Gradio's floor as the reference: bench/gradio_floor (Compare's components, no models)")
    args = parser.parse_args()
    if args.floor:
        args.reference = ROOT / "bench" / "gradio_floor"
    # each text ends in its own number, so the page visibly changes every time
    texts = [f"{TEXTS[i % len(TEXTS)]} {i + 1}" for i in range(args.requests + 2)]
    settings = (dict(item.split("=", 1) for item in shlex.split(args.reference_env))
                if args.reference_env is not None else {} if args.reference else {"LFE_COMPARE_QUEUED": "1"})
    reference_name = f"reference ({args.reference or 'this checkout'} {settings or ''})"
    reference = measure(settings, args.reference or ROOT, texts, args.requests)
    shipped = measure({}, ROOT, texts, args.requests)
    report(reference_name, reference)
    report("as shipped", shipped)
    ratio = statistics.median(shipped["panes"]) / statistics.median(reference["panes"])
    print(f"as shipped / reference, click to both panes p50: {ratio:.2f} ×; target p50 ≤ 120 ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
