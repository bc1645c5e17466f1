"""Time reading the stored run records as a start does (`load_runs`: every record validated and
checked against its prediction sidecar), three ways, round-robin in one process:

* without a cache (a cache folder that cannot be written: every record checked, as before verdicts
  were stored);
* cold: an empty cache folder (every record checked, its verdict stored);
* warm: the same folder again (each sidecar hashed, the stored verdict found, no check).

The in-process memory (fusion/evaluation/stored.py) is cleared before each, so each is a fresh
start. Also times what a warm start does instead of the check: hashing every record and sidecar
against `check_predictions` on the same records. Prints medians and ratios. `assets/runs` is what
`Services.create` reads before the first Compare; the other folders, the Results sections'.

    python bench/run_records.py [--repeats 3] [--folders assets/runs assets/probe_runs ...]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fusion.evaluation import runs, stored  # noqa: E402
from fusion.evaluation.predictions import MAX_SIDECAR_BYTES  # noqa: E402

FOLDERS = ("assets/runs", "assets/probe_runs", "assets/pos_runs", "assets/pair_runs")


def load_all(folders: list[Path], cache_dir: Path) -> tuple[float, int]:
    """Seconds to load every folder as a fresh process would, with this cache folder; records."""
    os.environ["LFE_CACHE_DIR"] = str(cache_dir)
    stored.clear_cache()
    started = time.perf_counter()
    count = sum(len(runs.load_runs(folder, task=None)[0]) for folder in folders)
    return time.perf_counter() - started, count


def hashing_against_check(folders: list[Path]) -> tuple[float, float, int]:
    """(seconds hashing every record and sidecar, seconds of check_predictions on them, records)."""
    stored.clear_cache()
    records = [(folder, record) for folder in folders for record in runs.load_runs(folder, task=None)[0]
               if "predictions" in record]
    stored.clear_cache()
    started = time.perf_counter()
    for folder, record in records:
        sidecar, _ = runs.sidecar_file(record, folder)
        stored.stored_sha256(folder / record["file"], runs.MAX_RUN_BYTES)
        stored.stored_sha256(sidecar, MAX_SIDECAR_BYTES)
    hashing = time.perf_counter() - started
    stored.clear_cache()
    started = time.perf_counter()
    for folder, record in records:
        runs.check_predictions(record, folder)
    return hashing, time.perf_counter() - started, len(records)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--folders", nargs="+", default=list(FOLDERS))
    args = parser.parse_args()
    folders = [ROOT / f for f in args.folders if (ROOT / f).is_dir()]
    print("folders:", ", ".join(str(f.relative_to(ROOT)) for f in folders))
    times: dict[str, list[float]] = {"without a cache": [], "cold": [], "warm": []}
    start_only: dict[str, list[float]] = {"cold": [], "warm": []}
    with tempfile.TemporaryDirectory() as scratch:
        blocker = Path(scratch) / "a-file"
        blocker.write_text("a file where the cache folder's parent would be: no cache")
        for repeat in range(args.repeats):
            cache = Path(scratch) / f"cache-{repeat}"  # empty
            seconds, count = load_all(folders, blocker / "cache")
            times["without a cache"].append(seconds)
            times["cold"].append(load_all(folders, cache)[0])
            times["warm"].append(load_all(folders, cache)[0])
            first = folders[:1]  # what Services.create reads before the first Compare
            other = Path(scratch) / f"start-{repeat}"
            start_only["cold"].append(load_all(first, other)[0])
            start_only["warm"].append(load_all(first, other)[0])
    median = {name: statistics.median(values) for name, values in times.items()}
    print(f"load_runs of {count} records in {len(folders)} folders, median of {args.repeats}:")
    for name, seconds in median.items():
        print(f"  {name:16s} {seconds:6.2f} s  ({', '.join(f'{s:.2f}' for s in times[name])})")
    print(f"  warm / without a cache: {median['warm'] / median['without a cache']:.3f} ×;"
          f"  cold / without a cache: {median['cold'] / median['without a cache']:.2f} ×")
    cold, warm = (statistics.median(start_only[k]) for k in ("cold", "warm"))
    print(f"{folders[0].relative_to(ROOT)} alone (read before the first Compare): cold {cold:.2f} s, "
          f"warm {warm:.2f} s, warm / cold {warm / cold:.3f} ×")
    hashing, check, checked = hashing_against_check(folders)
    print(f"{checked} records with sidecars: hashing record + sidecar {hashing:.3f} s against "
          f"check_predictions {check:.2f} s ({hashing / check:.3f} ×)")


if __name__ == "__main__":
    main()
