"""Start `python app.py` and time it: seconds to the first answered Compare request (target ≤ 20 s
on the 2-core CPU, docs/METHOD.md, "Figures the product must reach") and the p50 latency of a Compare request, as a client sees it.

    python bench/app_start.py [--requests 10] [--baseline DIR --fusion DIR] [--text "..."]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
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


def main() -> int:
    # offline: no telemetry from gradio_client, no hub look-ups (inherited by the app process)
    os.environ.update(GRADIO_ANALYTICS_ENABLED="False", HF_HUB_OFFLINE="1")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=10, help="Compare requests for the p50")
    parser.add_argument("--baseline", help="baseline checkpoint (default: the app's)")
    parser.add_argument("--fusion", help="fusion checkpoint (default: the app's)")
    parser.add_argument("--text", default=TEXT)
    options = parser.parse_args()

    port = free_port()
    command = [sys.executable, str(ROOT / "app.py"), "--port", str(port)]
    for flag in ("baseline", "fusion"):
        if getattr(options, flag):
            command += [f"--{flag}", getattr(options, flag)]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False"}

    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)
    try:
        client = connect(f"http://127.0.0.1:{port}/", process)
        if client is None:
            print("the app did not start:\n" + (process.stderr.read() if process.poll() is not None else "timeout"))
            return 1
        listening = time.perf_counter() - started
        status, *_ = client.predict(options.text, api_name="/compare")
        first = time.perf_counter() - started
        if "not loaded" in status:
            print(f"warning: {status}")

        latencies = []
        for _ in range(options.requests):
            begin = time.perf_counter()
            client.predict(options.text, api_name="/compare")
            latencies.append(time.perf_counter() - begin)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()

    print(f"server answering after      {listening:6.1f} s")
    print(f"first Compare answered after {first:6.1f} s   (target ≤ 20 s)")
    print(f"Compare latency, p50 of {len(latencies)}:  {1000 * statistics.median(latencies):6.0f} ms"
          f"   (min {1000 * min(latencies):.0f}, max {1000 * max(latencies):.0f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
