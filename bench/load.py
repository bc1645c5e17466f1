"""A classroom at once: start `python app.py`, drive N concurrent users (gradio_client, loopback
only, bounded in count and time), and print what they waited, against one user alone measured in
the same run, plus the server's memory before, under load and after many new sessions.

    python bench/load.py [--clients 30] [--requests 5] [--sessions 500] [--timeout 600]

Prints: one user's Compare p50 (the reference), then for N users × M requests each the p50 / p95
wait, errors, requests/s and their ratios to the reference; the server's RSS idle, after the
load, and after S new sessions (each a fresh client making one request), as a ratio to idle.
Targets (issue 11): p95 ≤ 3 s with 30 users, 0 errors, RSS after 500 sessions ≤ 1.3 × idle.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from app_start import ROOT, TEXT, connect, free_port  # noqa: E402

TEXTS = [TEXT, "Angela Merkel besuchte am Montag Paris und traf Emmanuel Macron.",
         "Владимир Путин прилетел в Пекин на встречу с Си Цзиньпином.",
         "زار محمد علي مدينة القاهرة لحضور مؤتمر الأمم المتحدة.",
         "東京大学の山田太郎教授は大阪で講演した。"]


def rss_mib(pid: int) -> float:
    import psutil

    process = psutil.Process(pid)
    return (process.memory_info().rss + sum(c.memory_info().rss for c in process.children(True))) / 2**20


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))] if ordered else float("nan")


CLIENT_OPTIONS: dict = {}  # --light-client: options that take the client's own cost out


def one_user(url: str, requests: int, waits: list, errors: list, deadline: float, offset: int) -> None:
    from gradio_client import Client

    try:
        client = Client(url, verbose=False, **CLIENT_OPTIONS)
    except Exception as error:  # noqa: BLE001 — counted, the bench goes on
        errors.append(f"connect: {type(error).__name__}")
        return
    for index in range(requests):
        if time.time() > deadline:
            errors.append("deadline")
            return
        started = time.perf_counter()
        try:
            client.predict(TEXTS[(offset + index) % len(TEXTS)], api_name="/compare")
            waits.append(time.perf_counter() - started)
        except Exception as error:  # noqa: BLE001
            errors.append(type(error).__name__)


def main() -> int:
    import os
    import subprocess

    os.environ.update(GRADIO_ANALYTICS_ENABLED="False", HF_HUB_OFFLINE="1")  # inherited by the app
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=30)
    parser.add_argument("--requests", type=int, default=5, help="Compare requests per client")
    parser.add_argument("--sessions", type=int, default=500, help="new sessions after the load")
    parser.add_argument("--timeout", type=float, default=600, help="seconds for the whole load phase")
    parser.add_argument("--light-client", action="store_true", help=(
        "gradio_client without TLS set-up and file downloads (ssl_verify=False, download_files=False "
        "on the http loopback URL): by default each call builds TLS contexts, ~60 ms of this "
        "machine's CPU, which the 30 simulated users take from the server they measure"))
    args = parser.parse_args()
    if args.light_client:
        CLIENT_OPTIONS.update(ssl_verify=False, download_files=False)

    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    server = subprocess.Popen([sys.executable, str(ROOT / "app.py"), "--host", "127.0.0.1",
                               "--port", str(port)], cwd=ROOT, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        client = connect(url, server)
        if client is None:
            print("the app did not start")
            return 1
        if CLIENT_OPTIONS:  # the reference user measures with the same client as the class
            from gradio_client import Client

            client = Client(url, verbose=False, **CLIENT_OPTIONS)
        client.predict(TEXT, api_name="/compare")  # warm
        time.sleep(2)
        idle = rss_mib(server.pid)
        alone = []
        for index in range(10):
            started = time.perf_counter()
            client.predict(TEXTS[index % len(TEXTS)], api_name="/compare")
            alone.append(time.perf_counter() - started)
        reference = statistics.median(alone)
        print(f"one user alone: Compare p50 {1000 * reference:.0f} ms (reference)")

        waits, errors = [], []
        deadline = time.time() + args.timeout
        threads = [threading.Thread(target=one_user, args=(url, args.requests, waits, errors, deadline, i))
                   for i in range(args.clients)]
        started = time.time()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(max(1.0, deadline - time.time()))
        elapsed = time.time() - started
        p50, p95 = percentile(waits, 0.5), percentile(waits, 0.95)
        print(f"{args.clients} users × {args.requests} Compare: {len(waits)} answered, {len(errors)} errors "
              f"{sorted(set(errors)) if errors else ''}, {len(waits) / elapsed:.1f} requests/s")
        print(f"  wait p50 {p50:.2f} s ({p50 / reference:.1f} × alone), p95 {p95:.2f} s "
              f"({p95 / reference:.1f} × alone; target ≤ 3 s)")
        loaded = rss_mib(server.pid)

        from gradio_client import Client

        for index in range(args.sessions):
            Client(url, verbose=False, **CLIENT_OPTIONS).predict(TEXTS[index % len(TEXTS)], api_name="/compare")
        time.sleep(2)
        after = rss_mib(server.pid)
        print(f"RSS: idle {idle:.0f} MiB, after the load {loaded:.0f} MiB ({loaded / idle:.2f} ×), "
              f"after {args.sessions} new sessions {after:.0f} MiB ({after / idle:.2f} ×; target ≤ 1.3 ×)")
    finally:
        server.terminate()
        server.wait(30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
