"""Write assets/error_samples/<lang>.json: for each language, the first 50 test sentences where the
shipped baseline and fusion models (seed 13, complete test sets) predict differently — the
sentence text the error view needs when the app runs without the data directory.

    python scripts/error_samples.py DATA_DIR [assets/runs]
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from fusion.data.ner import load_split  # noqa: E402
from fusion.evaluation.error_analysis import SAMPLE_LIMIT, stored_views, write_sample  # noqa: E402
from fusion.evaluation.runs import load_runs  # noqa: E402
from fusion.studies.results import group_records, groups  # noqa: E402


def main() -> None:
    data = Path(sys.argv[1])
    folder = Path(sys.argv[2]) if len(sys.argv) > 2 else REPO / "assets" / "runs"
    records, _ = load_runs(folder)
    group = groups(records)[0]
    chosen = group_records(records, group)
    baseline = next(r for r in chosen if r["checkpoint"]["model"] == "baseline" and r["seed"] == 13)
    for language in sorted(baseline["scores"]):
        views, _ = stored_views(chosen, folder, language, 13, "fusion-l11", data, None)
        views = views[:SAMPLE_LIMIT]
        dataset = load_split(data, language, "test", baseline["data"].get("max_sentences_per_language"))
        items = [(v.index, dataset["tokens"][v.index], dataset["ner_tags"][v.index]) for v in views]
        write_sample(REPO / "assets" / "error_samples" / f"{language}.json", language,
                     baseline["data"]["sha256"][language], items,
                     {"runs": sorted(r["file"] for r in chosen if r["seed"] == 13), "group": group.label})
        print(language, len(items))


if __name__ == "__main__":
    main()
