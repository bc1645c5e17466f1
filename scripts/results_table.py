"""Print the README's results section (Markdown) from the stored run records.

    python scripts/results_table.py [assets/runs]

Every number comes from the run records and their per-sentence predictions, through the same
functions the app's Results tab calls; nothing is typed by hand.
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from fusion.report import results_markdown  # noqa: E402

if __name__ == "__main__":
    print(results_markdown(Path(sys.argv[1]) if len(sys.argv) > 1 else REPO / "assets" / "runs"), end="")
