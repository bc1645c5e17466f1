"""Start `python app.py` twice, with an empty cache folder and then with the same folder warm
(fusion/model/disk_cache.py: the offline encoder's fp32 weights, the ONNX graphs), and time each:
seconds until it answers, to the first answered Compare, until both taggers run on ONNX Runtime,
Compare's p50 then, and the server's RSS once idle (both runtimes attached, the Results warm-up
done: issue 28: first Compare ≤ 8 s warm, ≤ 20 s empty; idle RSS ≤ 1.0 GiB), with warm / empty
ratios from the same run; then one Layers request, and the RSS once its probes' encoder runs on
its graph (fusion/model/encoder_graph.py). Then Gradio's own floor (bench/gradio_floor: Compare's components around an
instant function, no models) is started the same way: what a start costs before any model is read,
and the warm start as a ratio to it. With `--reference DIR` (a checkout of an earlier commit, e.g.
`git worktree add /tmp/previous HEAD~1`), that checkout's app is started too, on the same warm
cache, and the warm start is given as a ratio to it (and what a first Layers grid adds to each).

    python bench/app_start.py [--requests 10] [--baseline DIR --fusion DIR] [--text "..."] [--reference DIR]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TEXT = "Maria Lopez flew from Toronto to Nairobi to meet engineers from Siemens and the World Bank."


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def connect(url: str, process: subprocess.Popen, timeout: float = 120.0):
    """A gradio_client.Client as soon as the server answers (None if the app died or timed out)."""
    from gradio_client import Client

    deadline = time.time() + timeout
    while time.time() < deadline:
        if process.poll() is not None:
            return None
        try:
            return Client(url, verbose=False)
        except Exception:  # noqa: BLE001 — not listening yet
            time.sleep(0.2)
    return None


class AppLog:
    """The app's log (its standard error), read in a thread all along: its lines, and the seconds
    since start when each awaited line came: each tagger saying which runtime serves it, the
    Results warm-up done (it starts once they are, serve/services.py), the Layers probes' encoder
    on its graph or left on torch."""

    EVENTS = {"baseline": ("baseline: runs on ONNX Runtime", "baseline: stays on torch"),
              "fusion": ("fusion: runs on ONNX Runtime", "fusion: stays on torch"),
              "results": ("results: ",), "layers": ("layers: the probes' encoder",)}

    def __init__(self, process: subprocess.Popen, started: float):
        import threading

        self.lines, self.seen, self.started = [], {}, started
        self.changed = threading.Condition()
        threading.Thread(target=self._read, args=(process,), daemon=True).start()

    def _read(self, process) -> None:
        for line in process.stderr:
            with self.changed:
                self.lines.append(line.rstrip())
                for event, starts in self.EVENTS.items():
                    if event not in self.seen and line.startswith(starts):
                        self.seen[event] = time.perf_counter() - self.started
                self.changed.notify_all()

    def wait(self, events: tuple[str, ...], timeout: float) -> float | None:
        """The seconds since start when the last of `events` came (None if one did not in time)."""
        with self.changed:
            self.changed.wait_for(lambda: all(e in self.seen for e in events), timeout)
            return max(self.seen[e] for e in events) if all(e in self.seen for e in events) else None


def floor_start(text: str) -> dict:
    """Gradio's floor app started as the app is: when it answered, its first Compare, its RSS."""
    import psutil

    port = free_port()
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False"}
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, str(ROOT / "bench" / "gradio_floor" / "app.py"), "--port", str(port)],
                               cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        client = connect(f"http://127.0.0.1:{port}/", process)
        if client is None:
            raise SystemExit("Gradio's floor app did not start")
        figures = {"listening": time.perf_counter() - started}
        client.predict(text, api_name="/compare")
        figures["first"] = time.perf_counter() - started
        figures["rss"] = psutil.Process(process.pid).memory_info().rss / 2**30
    finally:
        process.terminate()
        process.wait(timeout=10)
    return figures


def start_once(options, cache_dir: str, root: Path = ROOT) -> dict:
    """One start of the app (of the checkout at `root`) with this cache folder: when it answered,
    its first Compare, when both runtimes were attached, Compare's p50 then, and the server's
    RSS once idle."""
    import psutil

    port = free_port()
    command = [sys.executable, str(root / "app.py"), "--port", str(port)]
    for flag in ("baseline", "fusion"):
        if getattr(options, flag):
            command += [f"--{flag}", getattr(options, flag)]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False", "LFE_CACHE_DIR": cache_dir}
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=root, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)
    log = AppLog(process, started)
    try:
        client = connect(f"http://127.0.0.1:{port}/", process)
        if client is None:
            raise SystemExit("the app did not start:\n" + "\n".join(log.lines))
        figures = {"listening": time.perf_counter() - started}
        client.predict(options.text, api_name="/compare")
        figures["first"] = time.perf_counter() - started
        figures["attached"] = log.wait(("baseline", "fusion"), 300)
        figures["warmed"] = log.wait(("results",), 300)
        time.sleep(3)  # idle: the export child gone, the Results warm-up done
        figures["rss"] = psutil.Process(process.pid).memory_info().rss / 2**30
        latencies = []
        for _ in range(options.requests):
            begin = time.perf_counter()
            client.predict(options.text, api_name="/compare")
            latencies.append(time.perf_counter() - begin)
        figures["p50"] = statistics.median(latencies)
        # the first Layers grid: the probes and their encoder load, which then moves onto its graph
        # (an earlier checkout says nothing of it: 20 s at most are waited for)
        client.predict(options.text, 0, api_name="/layers")
        figures["layers"] = log.wait(("layers",), 20 if root != ROOT else 300)
        time.sleep(3)
        figures["rss_layers"] = psutil.Process(process.pid).memory_info().rss / 2**30
        figures["layers_note"] = next((line for line in log.lines if line.startswith("layers: ")), "no Layers line")
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
    return figures


def report(name: str, figures: dict) -> None:
    attached, warmed = ("never" if figures[key] is None else f"{figures[key]:.1f} s" for key in ("attached", "warmed"))
    print(f"{name}: answering after {figures['listening']:.1f} s, first Compare after {figures['first']:.1f} s, "
          f"both runtimes attached after {attached}, Results warm-up done after {warmed}; "
          f"idle RSS {figures['rss']:.2f} GiB; Compare p50 {1000 * figures['p50']:.0f} ms; "
          f"RSS after the first Layers grid {figures['rss_layers']:.2f} GiB ({figures['layers_note']})")


def main() -> int:
    # offline: no telemetry from gradio_client, no hub look-ups (inherited by the app process)
    os.environ.update(GRADIO_ANALYTICS_ENABLED="False", HF_HUB_OFFLINE="1")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=10, help="Compare requests for the p50")
    parser.add_argument("--baseline", help="baseline checkpoint (default: the app's)")
    parser.add_argument("--fusion", help="fusion checkpoint (default: the app's)")
    parser.add_argument("--text", default=TEXT)
    parser.add_argument("--reference", type=Path, help="a checkout of an earlier commit, started on the same warm cache")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as cache_dir:
        cold = start_once(options, cache_dir)  # an empty cache: dequantise, export, store
        warm = start_once(options, cache_dir)  # the same folder again: nothing to make
        reference = start_once(options, cache_dir, options.reference.resolve()) if options.reference else None
    floor = floor_start(options.text)
    report("empty cache", cold)
    report("warm cache ", warm)
    print(f"Gradio's floor: answering after {floor['listening']:.1f} s, first Compare after {floor['first']:.1f} s; "
          f"RSS {floor['rss']:.2f} GiB")
    print(f"warm / empty: first Compare {warm['first'] / cold['first']:.2f} ×, idle RSS {warm['rss'] / cold['rss']:.2f} ×"
          f" (targets: first Compare ≤ 8 s warm, ≤ 20 s empty; idle RSS ≤ 1.0 GiB)")
    print(f"warm / Gradio's floor: first Compare {warm['first'] / floor['first']:.2f} ×, RSS {warm['rss'] / floor['rss']:.2f} ×")
    if reference is not None:
        report(f"warm cache, {options.reference}", reference)
        print(f"warm / the reference's warm: first Compare {warm['first'] / reference['first']:.2f} ×, "
              f"idle RSS {warm['rss'] / reference['rss']:.2f} ×, Compare p50 {warm['p50'] / reference['p50']:.2f} ×, "
              f"after the first Layers grid: RSS {warm['rss_layers'] - warm['rss']:+.3f} GiB against "
              f"{reference['rss_layers'] - reference['rss']:+.3f} GiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
