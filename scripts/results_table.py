"""The generated results block of docs/RESULTS.md (Markdown), from the stored run records.

    python scripts/results_table.py [assets/runs]           # print the block
    python scripts/results_table.py [assets/runs] --write   # rewrite it in docs/RESULTS.md

The block is everything between the `<!-- results:start -->` and `<!-- results:end -->` lines of
docs/RESULTS.md; `--write` replaces exactly that and leaves the prose around it alone. Every
number comes from the run records and their per-sentence predictions, through the same functions
the app's Results tab calls; nothing is typed by hand. tests/test_results.py checks that the file
holds exactly what this prints.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from fusion.studies.report import results_markdown  # noqa: E402

RESULTS_FILE = REPO / "docs" / "RESULTS.md"
START, END = "<!-- results:start -->\n", "<!-- results:end -->"


def with_block(text: str, block: str) -> str:
    """`text` with the part between the markers replaced by `block`."""
    if text.count(START) != 1 or text.count(END) != 1 or text.index(START) > text.index(END):
        raise SystemExit(f"{RESULTS_FILE}: expected one {START.strip()} line before one {END} line")
    head, rest = text.split(START, 1)
    return head + START + block + END + rest.split(END, 1)[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="?", type=Path, default=REPO / "assets" / "runs",
                        help="folder of run records (default assets/runs)")
    parser.add_argument("--write", action="store_true", help=f"rewrite the block in {RESULTS_FILE.relative_to(REPO)}")
    args = parser.parse_args()
    block = results_markdown(args.runs)
    if not args.write:
        print(block, end="")
        return
    text = RESULTS_FILE.read_text(encoding="utf-8")
    updated = with_block(text, block)
    if updated != text:
        RESULTS_FILE.write_text(updated, encoding="utf-8")
    print(f"{RESULTS_FILE.relative_to(REPO)}: {'rewritten' if updated != text else 'already up to date'}")


if __name__ == "__main__":
    main()
