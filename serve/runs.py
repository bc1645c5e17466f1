"""The stored run records every tab reads (Results, Errors, Evaluate's stored scores), and the
bootstrap intervals of the Results view, computed once per state of the runs folder."""

from __future__ import annotations

import threading
from pathlib import Path

from fusion.evaluation.predictions import PredictionsError
from fusion.evaluation.runs import load_runs
from fusion.studies.bootstrap import DeltaInterval, run_intervals
from fusion.studies.results import (SOURCE_LANGUAGE, RunGroup, fusion_models, group_by_key, group_records,
                                    groups)
from serve.markdown import code, plain
from serve.paths import relative


class RunStore:
    """The run records of one folder, server-wide: a gr.State would be copied into every session,
    and ~40 records per session made memory grow with each new visitor. Results' *Reload runs*
    replaces them."""

    def __init__(self, folder, records: list[dict] | None = None):
        self.folder = Path(folder)
        self.records = list(records or [])


def read_results(runs_dir) -> tuple[list[dict], str]:
    """Valid run records and a Markdown warning naming each skipped file once (escaped)."""
    folder = Path(runs_dir)
    if not folder.is_dir():
        return [], f"⚠️ No run folder at {code(relative(folder))}."
    records, warnings = load_runs(folder)
    text = ""
    if warnings:
        unique = list(dict.fromkeys((w.file, w.message) for w in warnings))
        text = (f"⚠️ {len(unique)} run file(s) skipped:\n"
                + "\n".join(f"- {plain(name)}: {plain(message)}" for name, message in unique))
    if not records and not warnings:
        text = f"No run records in {code(relative(folder))} yet (`python -m fusion evaluate --output ...`)."
    return records, text


def default_choice(records: list[dict], loaded_fusion: str | None) -> tuple[str | None, str | None]:
    """The most-trained, most-evaluated group, and the loaded fusion model if it has runs there."""
    found = groups(records)
    if not found:
        return None, None
    models = fusion_models(records, found[0])
    return found[0].key, loaded_fusion if loaded_fusion in models else next(iter(models), None)


_BOOTSTRAP_LOCK = threading.Lock()
_INTERVALS: dict[tuple, dict[str, DeltaInterval]] = {}  # (folder, its files' times, group, model)


def bootstrap_intervals(runs_dir, records: list[dict], group: RunGroup | None,
                        fusion_model: str | None, between=None) -> tuple[dict[str, DeltaInterval], str]:
    """language -> interval (and "average"), or {} and why there are none. Cached until a file
    in the runs folder changes; a second caller waits for the first one's result."""
    if group is None or fusion_model is None:
        return {}, ""
    folder = Path(runs_dir)
    key = (str(folder), tuple(sorted((p.name, p.lstat().st_mtime_ns) for p in folder.glob("*"))),
           group, fusion_model)
    try:
        with _BOOTSTRAP_LOCK:
            if key not in _INTERVALS:
                if len(_INTERVALS) > 16:  # a few groups × models; old folder states go
                    _INTERVALS.clear()
                _INTERVALS[key] = run_intervals(group_records(records, group), folder, fusion_model,
                                                SOURCE_LANGUAGE, between)
    except (PredictionsError, ValueError) as error:
        return {}, f"No bootstrap intervals: {plain(error)}"
    return _INTERVALS[key], ""


def warm_up(runs_dir, records: list[dict], loaded_fusion: str | None, between=None) -> threading.Thread:
    """Compute the default view's bootstrap in the background at start-up, so the first visitor
    of the Results tab does not wait for it (seconds for full test sets). `between()` is called
    before each language: the app lets Compare requests go first."""
    group_key, fusion_model = default_choice(records, loaded_fusion)
    thread = threading.Thread(target=bootstrap_intervals, daemon=True,
                              args=(runs_dir, records, group_by_key(records, group_key), fusion_model, between))
    thread.start()
    return thread
