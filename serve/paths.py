"""Every file and folder the app reads or writes, in one place."""

from __future__ import annotations

import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHECKPOINTS = ROOT / "checkpoints"
BASELINE_DIR = CHECKPOINTS / "baseline"
PROBES_DIR = CHECKPOINTS / "probes"  # the layer probes the Layers tab reads with
PAIR_CHECKPOINTS = CHECKPOINTS / "pairs"  # <task>-baseline, <task>-fusion-l<k>: the Pairs tab's classifiers
ASSETS = ROOT / "assets"
RUNS_DIR = ASSETS / "runs"  # run records: Results, Errors, Evaluate's stored scores
PROBE_RUNS_DIR = ASSETS / "probe_runs"  # Results › Layers
SAMPLES_DIR = ASSETS / "error_samples"  # the Errors tab's sentences without --data
EXAMPLES_FILE = ASSETS / "examples.json"  # Compare's examples
PAIR_EXAMPLES_FILE = ASSETS / "pair_examples.json"  # the Pairs tab's (scripts/pair_examples.py)
SAMPLE_UPLOAD = ASSETS / "sample_upload.conll"  # hand-written, offered by Evaluate
TEMP_DIR = Path(tempfile.gettempdir())  # the CSV of Results' table
EXPORTS_DIR = TEMP_DIR / "lfe-exports"  # Compare's downloads


def pos_runs_dir(runs_dir) -> Path:
    """The POS runs sit beside the run records' folder (scripts/pos_runs.sh)."""
    return Path(runs_dir).parent / "pos_runs"


def pair_runs_dir(runs_dir) -> Path:
    """So do the XNLI / PAWS-X runs and their layer choices (scripts/pair_runs.sh)."""
    return Path(runs_dir).parent / "pair_runs"


def relative(path) -> str:
    """A path as the page may show it: relative to the project, never the server's full path."""
    path = Path(path)
    try:
        return str(path.resolve().relative_to(ROOT))
    except (ValueError, OSError):
        return path.name
