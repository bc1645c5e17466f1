"""Print the README's results tables (Markdown) from the stored run records.

    python scripts/results_table.py [assets/runs]

Every number comes from the run records; nothing is typed by hand.
"""

from __future__ import annotations

import statistics
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from fusion.runs import (default_runs, fusion_choices, language_table, load_runs,  # noqa: E402
                         run_averages, runs_dataframe, training_recipe)


def print_main_table(records: list[dict]) -> None:
    """Per language, the runs the app compares by default (the most-trained recipe)."""
    selected = default_runs(records)
    fusion_model = fusion_choices(records)[0]
    table = language_table(records, selected, fusion_model).set_index("language")
    targets = table.drop(index="en", errors="ignore")
    recipe = next(training_recipe(r) for r in records if r["name"] == selected[0])
    baseline_avg = statistics.mean(run_averages(records, selected, "baseline", "en"))
    fusion_avg = statistics.mean(run_averages(records, selected, fusion_model, "en"))
    print(f"Zero-shot test F1 ({recipe}; first ≤ {int(table['sentences'].max())} test sentences "
          "per language)\n")
    print(f"| | baseline | {fusion_model} | Δ |\n|---|---:|---:|---:|")
    if "en" in table.index:
        row = table.loc["en"]
        print(f"| English (source) | {row['baseline F1']:.1f} | {row['fusion F1']:.1f} | {row['Δ F1']:+.1f} |")
    print(f"| average of {len(targets)} target languages | {baseline_avg:.1f} | {fusion_avg:.1f} | "
          f"{fusion_avg - baseline_avg:+.2f} |")
    print(f"| languages where fusion is better | | | {int((targets['Δ F1'] > 0).sum())} of {len(targets)} |")
    print("\n<details><summary>Per language</summary>\n")
    print(f"| language | sentences | baseline | {fusion_model} | Δ |\n|---|---:|---:|---:|---:|")
    for code, row in table.sort_values("Δ F1").iterrows():
        print(f"| {row['name']} ({code}) | {int(row['sentences'])} | {row['baseline F1']:.1f} | "
              f"{row['fusion F1']:.1f} | {row['Δ F1']:+.1f} |")
    print("\n</details>\n")


def main() -> None:
    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else REPO / "assets" / "runs"
    records, warnings = load_runs(folder)
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)
    frame = runs_dataframe(records)
    test = frame[frame["split"] == "test"]
    if not test.empty:
        print_main_table(records)

    # 2. seeds at a smaller recipe
    small = test[test["train_sentences"] < test["train_sentences"].max()]
    if not small.empty:
        per_run = small[small["language"] != "en"].groupby(["model", "run"])["f1"].mean()
        print(f"Seed study ({small['recipe'].iloc[0]}; first ≤ {int(small['sentences'].max())} test "
              "sentences per language): average target F1, mean ± sd over seeds\n")
        print("| model | seeds | average target F1 |\n|---|---:|---:|")
        for model, values in per_run.groupby(level=0):
            print(f"| {model} | {len(values)} | {values.mean():.1f} ± {values.std(ddof=1):.1f} |")
        print()

    # 3. the layer sweep
    sweep = frame[(frame["split"] == "dev") & frame["run"].str.startswith("sweep-l")]
    if not sweep.empty:
        print(f"Layer sweep ({sweep['recipe'].iloc[0]}, dev sets, first ≤ {int(sweep['sentences'].max())} "
              "sentences per language)\n")
        selection = {r["name"]: r["checkpoint"]["training"].get("dev_f1") for r in records}
        print("| fusion layer k | English dev F1, first 1000 (chooses k) | average target dev F1 |\n"
              "|---:|---:|---:|")
        for layer, rows in sweep.groupby("fusion_layer"):
            chosen = selection.get(rows["run"].iloc[0])
            others = rows.loc[rows["language"] != "en", "f1"].mean()
            chosen_text = "–" if chosen is None else f"{100 * chosen:.1f}"
            print(f"| {int(layer)} | {chosen_text} | {others:.1f} |")


if __name__ == "__main__":
    main()
