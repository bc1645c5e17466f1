"""`bench/load.py --mix`: a class that uses the whole app, not Compare alone (issue 28). Each of N
users opens the page, then makes M requests, each Compare (70 %), Inside (18 %) or Layers (12 %),
drawn with a fixed seed, while one more user scores an upload. Printed per request kind: p50 /
p95 wait and errors, and the server's RSS after the load, for the old way (one Compare at a time,
models in turn, torch) and the app as it ships, in the same run. Target: p95 ≤ 3 s for every kind,
0 errors. The users run on the same 2 cores as the server (an upper bound, as in load.py).
"""

from __future__ import annotations

import random
import threading
import time

from load import (CLIENT_OPTIONS, LIGHT_CLIENT, OLD_WAY, TEXTS, new_client, percentile, rss_mib, score, settle,
                  start_server, write_upload)

KINDS = (("compare", 0.70), ("inside", 0.18), ("layers", 0.12))


def call(client, kind: str, text: str) -> None:
    if kind == "compare":
        client.predict(text, api_name="/compare")
    elif kind == "inside":  # the text, its first sentence, the fusion model, layer 12, head 1, no word
        client.predict(text, 0, "fusion", 12, 1, None, api_name="/inside")
    else:
        client.predict(text, 0, api_name="/layers")


def one_user(url: str, requests: int, seed: int, waits: dict, errors: dict, deadline: float,
             opened: threading.Barrier) -> None:
    draw = random.Random(seed)
    try:
        client = new_client(url)
        client.predict(api_name="/cancel_evaluate")  # the page's session, as load.py's users open it
    except Exception as error:  # noqa: BLE001 — counted, the bench goes on
        errors["compare"].append(f"connect: {type(error).__name__}")
        client = None
    try:
        opened.wait(max(1.0, deadline - time.time()))
    except threading.BrokenBarrierError:
        return
    for index in range(requests if client else 0):
        kind = draw.choices([k for k, _ in KINDS], [w for _, w in KINDS])[0]
        if time.time() > deadline:
            errors[kind].append("deadline")
            return
        started = time.perf_counter()
        try:
            call(client, kind, TEXTS[(seed + index) % len(TEXTS)])
            waits[kind].append(time.perf_counter() - started)
        except Exception as error:  # noqa: BLE001
            errors[kind].append(type(error).__name__)


def mixed_class(url: str, clients: int, requests: int, timeout: float, upload_sentences: int) -> dict:
    waits = {kind: [] for kind, _ in KINDS}
    errors = {kind: [] for kind, _ in KINDS}
    deadline = time.time() + timeout
    opened = threading.Barrier(clients)
    scoring: dict = {}
    scorer = threading.Thread(target=score, args=(url, write_upload(upload_sentences), scoring), daemon=True)
    if upload_sentences:
        scorer.start()
    users = [threading.Thread(target=one_user, args=(url, requests, seed, waits, errors, deadline, opened))
             for seed in range(clients)]
    for user in users:
        user.start()
    for user in users:
        user.join(max(1.0, deadline - time.time()))
    return {kind: {"n": len(waits[kind]), "p50": percentile(waits[kind], 0.5), "p95": percentile(waits[kind], 0.95),
                   "errors": len(errors[kind])} for kind in waits} | {"upload": scoring}


def main(args) -> int:
    if args.light_client:  # (until 2026-12-03 the flag was set on load.py's own copy and ignored here)
        CLIENT_OPTIONS.update(LIGHT_CLIENT)
    for name, settings in (("old way (one Compare at a time, models in turn, torch)", OLD_WAY),
                           ("as shipped", {})):
        server, url, _ = start_server(settings)
        try:
            settle(server.pid)
            idle = rss_mib(server.pid)
            figures = mixed_class(url, args.clients, args.requests, args.timeout, args.upload_sentences)
            print(f"{name}: RSS idle {idle:.0f} MiB, after the mixed class {rss_mib(server.pid):.0f} MiB")
            for kind, _ in KINDS:
                f = figures[kind]
                print(f"  {kind:8s} {f['n']:4d} answered, {f['errors']} errors, p50 {f['p50']:.2f} s, "
                      f"p95 {f['p95']:.2f} s (target ≤ 3 s)")
        finally:
            server.terminate()
            server.wait(30)
    return 0
