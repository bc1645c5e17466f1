"""The operator's settings, read from the environment once at start.

Whoever *uses* the app picks its models, data and address with flags (`python app.py --help`:
`--baseline`, `--fusion`, `--runs`, `--data`, `--host`, `--port`, `--share`, each with an
`LFE_*` variable as its default). The knobs below are for whoever hosts or benchmarks it, and are
environment variables only; this table is where they are described:

| variable             | default            | what it sets                                                       |
|----------------------|--------------------|--------------------------------------------------------------------|
| `LFE_THREADS`        | half the CPU cores | torch threads per model (a Compare runs both models at once)       |
| `LFE_COMPARE_BATCH`  | `8`                | Compare requests answered by one call at most (`1`: one at a time) |
| `LFE_COMPARE_QUEUED` | off                | `1`: a page's Compare goes through Gradio's queue (see below)      |
| `LFE_RUNTIME`        | `onnx`             | what runs the models' forward (every tab): `onnx` or `torch`       |
| `LFE_CACHE_DIR`      | see below          | where exported ONNX graphs are kept between starts                 |

`LFE_COMPARE_QUEUED=1` shows each person their place in line under load; without it a page's
Compare is one direct request, faster alone. `LFE_RUNTIME=onnx` runs the forward on ONNX Runtime,
about twice as fast on a CPU, exported by a child process once the server answers (torch until
then, or for good if that fails: a line of the log and the page's header say why). The graphs
are kept in `LFE_CACHE_DIR` (else `/data/layer-fusion-explorer` on a Space with persistent
storage, else `~/.cache/layer-fusion-explorer`), keyed by the checkpoint and the libraries, so a
later start exports nothing (fusion/model/onnx_cache.py). bench/load.py
measures the batch and the runtime against the old way (`LFE_COMPARE_BATCH=1 LFE_THREADS=2
LFE_RUNTIME=torch`).

For example `LFE_COMPARE_BATCH=1 LFE_RUNTIME=torch python app.py`. A variable set to a value that is not
one of its own stops the app at start with a message naming it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

CONCURRENCY = 2  # requests run at once (2 CPU cores); the rest wait in the queue
# Sessions whose page settings the server keeps; past it the oldest are dropped (a browser's
# session also ends when its tab closes, a script client's never does). Gradio copies every
# component's settings into each session, ~0.9 MB for this page (bench/load.py: +440 MiB after
# 500 sessions), so this bounds the server's memory at about 1.2 × idle.
SESSION_CAPACITY = 300
COMPARE_BATCH = 8  # Compare requests waiting together are answered by one call (bench/load.py)
QUEUE_SIZE = 64  # requests waiting, in Gradio's queue and in Compare's batcher
RUNTIMES = ("onnx", "torch")


class SettingsError(ValueError):
    """An environment variable holds a value the app cannot use."""


def env_flag(name: str, environ=None) -> bool:
    """An on/off variable: 1, true, yes or on (any case) is on."""
    environ = os.environ if environ is None else environ
    return environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def default_threads() -> int:
    return max(1, (os.cpu_count() or 2) // 2)


def _whole(environ, name: str, default: int) -> int:
    value = environ.get(name, "").strip()
    if not value:
        return default
    try:
        return int(value)
    except ValueError:
        raise SettingsError(f"{name}={value!r}: expected a whole number") from None


@dataclass(frozen=True)
class Settings:
    """The knobs of the table above; `Settings()` is the app as it ships."""

    threads: int = field(default_factory=default_threads)
    compare_batch: int = COMPARE_BATCH
    compare_queued: bool = False
    runtime: str = "onnx"

    @classmethod
    def from_environment(cls, environ=None) -> Settings:
        environ = os.environ if environ is None else environ
        runtime = environ.get("LFE_RUNTIME", "").strip() or "onnx"
        if runtime not in RUNTIMES:
            raise SettingsError(f"LFE_RUNTIME={runtime!r}: expected one of {', '.join(RUNTIMES)}")
        return cls(threads=_whole(environ, "LFE_THREADS", 0) or default_threads(),
                   compare_batch=_whole(environ, "LFE_COMPARE_BATCH", COMPARE_BATCH),
                   compare_queued=env_flag("LFE_COMPARE_QUEUED", environ), runtime=runtime)
