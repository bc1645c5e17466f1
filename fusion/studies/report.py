"""The results section of docs/RESULTS.md as Markdown, printed from the stored runs by the same functions
the app's Results tab calls (`fusion.studies.results`, `fusion.studies.bootstrap`). `scripts/results_table.py`
prints it; a test checks that docs/RESULTS.md holds exactly this text."""

from __future__ import annotations

import math
from pathlib import Path

from fusion.evaluation.predictions import PredictionsError
from fusion.evaluation.runs import (FULL_DIRECT_STUDY, FULL_STUDY, FULL_TUNING_STUDY, INTERMEDIATE_STUDY,
                                    SWEEP_STUDY, load_runs, training_recipe)
from fusion.studies.bootstrap import run_intervals
from fusion.studies.four_tasks import TASK_NAMES, claims, four_task_rows, four_task_table, layer_sweeps
from fusion.studies.intermediate_results import (TARGET_METRICS, TARGET_NAMES, TARGETS, accuracy_target_runs,
                                                 best_task_on_dev, effects_table, target_effects,
                                                 target_scope, target_table, task_effects)
from fusion.studies.pos_results import pooled_pos, pos_results, pos_table
from fusion.studies.probe_results import (findings_text, layer_rows, missing_tuning_text, probe_records,
                                          tuning_curves)
from fusion.studies.results import (SOURCE_LANGUAGE, MeanSpread, RunGroup, best_sweep_layer, fusion_models,
                                    group_records, groups, language_table, summarise, sweep_table, tuning_of)
from fusion.studies.tuning import FUSION_MODEL, tuning_rows, tuning_table


def _interval_text(interval) -> str:
    return f"[{interval.low:+.1f}, {interval.high:+.1f}]" + (" *" if interval.excludes_zero else "")


def group_section(records: list[dict], folder: Path, group: RunGroup, fusion_model: str,
                  per_language: bool) -> list[str]:
    summary = summarise(records, group, fusion_model)
    chosen = group_records(records, group)
    try:
        intervals = run_intervals(chosen, folder, fusion_model, SOURCE_LANGUAGE)
    except PredictionsError:
        intervals = {}
    average = intervals.get("average")
    lines = [f"**{group.label}** — seeds: baseline {summary.baseline.n}, {fusion_model} {summary.fusion.n}",
             "", f"| | baseline | {fusion_model} | Δ | Δ 95 % interval |", "|---|---:|---:|---:|---:|"]
    english = intervals.get(SOURCE_LANGUAGE)
    if summary.source_baseline is not None and summary.source_fusion is not None:
        lines.append(f"| English (source, not a target) | {summary.source_baseline:.1f} | "
                     f"{summary.source_fusion:.1f} | {summary.source_fusion - summary.source_baseline:+.1f} | "
                     f"{_interval_text(english) if english else '–'} |")
    lines.append(f"| average of {summary.targets} target languages | {summary.baseline.text()} | "
                 f"{summary.fusion.text()} | {summary.fusion.mean - summary.baseline.mean:+.2f} | "
                 f"{_interval_text(average) if average else '–'} |")
    surely = [i for code, i in intervals.items() if code not in ("average", SOURCE_LANGUAGE)
              and i.excludes_zero]
    sure_text = (f"interval above 0: {sum(i.low > 0 for i in surely)}, below 0: "
                 f"{sum(i.high < 0 for i in surely)}" if intervals else "–")
    lines.append(f"| target languages where fusion is better | | | {summary.better} of {summary.targets} | "
                 f"{sure_text} |")
    if per_language:
        table = language_table(records, group, fusion_model, include_source=False)
        lines += ["", "<details><summary>Per language</summary>", "",
                  f"| language | sentences | baseline | {fusion_model} | Δ | Δ 95 % interval |",
                  "|---|---:|---:|---:|---:|---:|"]
        for row in table.sort_values("Δ F1").to_dict("records"):
            interval = intervals.get(row["language"])
            lines.append(f"| {row['name']} ({row['language']}) | {int(row['sentences'])} | "
                         f"{_with_spread(row['baseline F1'], row['baseline ±'])} | "
                         f"{_with_spread(row['fusion F1'], row['fusion ±'])} | {row['Δ F1']:+.1f} | "
                         f"{_interval_text(interval) if interval else '–'} |")
        lines += ["", "</details>"]
    return lines


def _with_spread(value: float, spread) -> str:
    return f"{value:.1f}" + ("" if spread is None or spread != spread else f" ± {spread:.1f}")


def sweep_section(records: list[dict]) -> list[str]:
    table = sweep_table(records)
    if table.empty:
        return []
    sentences = int(table["selection sentences"].max())
    lines = [f"**Layer sweep** (one fusion model per k, {_sweep_recipe(records)}; English dev F1 on "
             f"its first {sentences:,} sentences chooses k: best k = {best_sweep_layer(table)}; the "
             "target mean, on the first ≤ 100 dev sentences per language, is never used to choose)", "",
             "| fusion layer k | English dev F1 (chooses k) | mean target dev F1 |", "|---:|---:|---:|"]
    lines += [f"| {int(row['layer'])} | {row['selection F1']:.1f} | {row['targets']:.1f} |"
              for row in table.to_dict("records")]
    return lines


def _sweep_recipe(records: list[dict]) -> str:
    return next(training_recipe(r) for r in records if r.get("study") == SWEEP_STUDY and tuning_of(r) == "lora")


def four_task_section(folder: Path, pos_folder: Path, pair_folder: Path, records: list[dict]) -> list[str]:
    """The paper's four tasks in one table, and its two claims judged against it (`records`: the
    NER run records of `folder`)."""
    rows = four_task_rows(folder, pos_folder, pair_folder, records)
    if not rows:
        return []
    table = four_task_table(rows)
    lines = ["**The four tasks** (target-language average; Δ = fusion − baseline, 95 % paired bootstrap "
             "interval over sentences or pairs and seeds; best k: the fusion layer English chose; "
             "languages up / down: target languages whose interval lies above / below 0)", "",
             "| " + " | ".join(table.columns) + " |", "|---|" + "---:|" * (len(table.columns) - 1)]
    lines += ["| " + " | ".join(str(value) for value in row) + " |" for row in table.itertuples(index=False)]
    lines += [""] + [f"- {claim}" for claim in claims(rows)] + [""]
    sweeps = layer_sweeps(records, pos_folder, pair_folder)
    if not sweeps.empty:
        lines += ["**What each task's layer was chosen on** (English selection score of each fusion layer k "
                  "in the task's layer sweep, one run each, in points, and below that task's best; NER: dev "
                  "F1; POS: dev accuracy; XNLI, PAWS-X: held-out English pairs; –: not trained)", "",
                  "| " + " | ".join(sweeps.columns) + " |", "|---|" + "---:|" * (len(sweeps.columns) - 1)]
        lines += ["| " + " | ".join(str(value) for value in row) + " |" for row in sweeps.itertuples(index=False)]
        lines += [""]
    return lines


def results_markdown(folder: str | Path, pos_folder: str | Path | None = None,
                     probe_folder: str | Path | None = None, pair_folder: str | Path | None = None) -> str:
    """Every results table of docs/RESULTS.md, from the run records under `folder` (and the POS,
    layer-probe and sentence-pair runs under `pos_folder`, `probe_folder` and `pair_folder`, by
    default the `pos_runs`, `probe_runs` and `pair_runs` folders beside it)."""
    folder = Path(folder)
    pos_folder = Path(pos_folder) if pos_folder is not None else folder.parent / "pos_runs"
    probe_folder = Path(probe_folder) if probe_folder is not None else folder.parent / "probe_runs"
    pair_folder = Path(pair_folder) if pair_folder is not None else folder.parent / "pair_runs"
    records, _ = load_runs(folder)
    lines = four_task_section(folder, pos_folder, pair_folder, records)
    lines += ["F1 is strict entity-level F1 (seqeval, IOB2) in points, mean ± standard deviation over "
             "seeds; Δ = fusion − baseline; the 95 % interval is a paired bootstrap over test "
             "sentences that also resamples seeds (1,000 resamples; * = excludes 0).", ""]
    shown = [g for g in groups(records) if g.study not in (INTERMEDIATE_STUDY, FULL_STUDY, FULL_TUNING_STUDY)]
    for index, group in enumerate(shown):  # the intermediate studies have their own section
        models = fusion_models(records, group)
        if not models:
            continue
        lines += group_section(records, folder, group, models[0], per_language=index == 0) + [""]
    lines += sweep_section(records) + [""]
    lines += layers_section(probe_folder) + [""]
    lines += intermediate_section(records, folder, pos_folder, pair_folder) + [""]
    lines += tuning_section(records, folder)
    lines += pos_section(pos_folder)
    for task in ("xnli", "pawsx"):
        lines += pair_section(pair_folder, task)
    return "\n".join(lines).rstrip() + "\n"


def layers_section(folder: Path) -> list[str]:
    """The layer probes: per layer, English and target F1 and their ratio, and what they show."""
    records = load_runs(folder)[0] if folder.is_dir() else []
    rows = layer_rows(records)
    if not rows:
        return []
    frozen = probe_records(records)[0]  # the folder may hold tuned encoders' runs too
    training = frozen["checkpoint"]["training"]
    languages = max(r.languages for r in rows)
    lines = [f"**Layer probes** (a linear probe per layer of the frozen encoder, trained on "
             f"{training['train_sentences']:,} English sentences, each probe's epoch chosen on "
             f"{training['dev_sentences']:,} English dev sentences; F1 on the first ≤ "
             f"{frozen['data']['max_sentences_per_language']:,} test sentences of English and "
             f"{languages} target languages; mean ± sd over {rows[0].targets.n} seeds). "
             + findings_text(rows), "",
             "| layer | English F1 | mean target F1 | transfer ratio (target / English) |",
             "|---:|---:|---:|---:|"]
    lines += [f"| {row.layer} | {row.english.text()} | {row.targets.text()} | {row.ratio.text(3)} |"
              for row in rows]
    return lines + tuned_layers_section(records)


def tuned_layers_section(records: list[dict]) -> list[str]:
    """Layers after tuning: the same probes on tuned taggers' encoders, beside the frozen one."""
    found = tuning_curves(records)
    if all(curve.encoder is None for curve in found.curves):
        return []  # no tuned encoder probed yet: the app says which runs are missing
    layers = {curve.label: {row.layer: row for row in curve.rows} for curve in found.curves}
    lines = ["", "**Layers after tuning** (the same probes on the encoder of a tuned tagger; per encoder: "
             "English F1 / mean target F1 / transfer ratio, means over seeds"
             + ("" if found.same_sentences else "; not every encoder on the same test sentences") + ")", "",
             "| layer | " + " | ".join(layers) + " |", "|---:|" + "---:|" * len(layers)]
    for layer in sorted({layer for rows in layers.values() for layer in rows}):
        cells = [" / ".join(_mean(value, digits) for value, digits in
                            ((rows[layer].english, 1), (rows[layer].targets, 1), (rows[layer].ratio, 2)))
                 if layer in rows else "–" for rows in layers.values()]
        lines.append(f"| {layer} | " + " | ".join(cells) + " |")
    missing = missing_tuning_text(found.missing)
    return lines + (["", missing] if missing else [])


def _mean(value: MeanSpread, digits: int) -> str:
    """A mean over seeds, "–" where not measured."""
    return "–" if math.isnan(value.mean) else f"{value.mean:.{digits}f}"


def pos_section(folder: Path) -> list[str]:
    found = pos_results(folder) if folder.is_dir() else []
    if not found:
        return []
    first = found[0]
    choices = "; ".join(f"seed {r.seed}: " + ", ".join(
        f"{model.removeprefix('fusion-l')}: {100 * value:.2f}"
        for model, value in sorted(r.dev_accuracy.items(), key=lambda item: int(item[0].split("-l")[1])))
        for r in found)
    chosen = sorted({r.chosen for r in found})
    seeds = ", ".join(str(r.seed) for r in found)
    pooled = len(found) > 1
    interval = ("a bootstrap over seeds and sentences; accuracies are means over the seeds" if pooled
                else "a paired bootstrap over sentences")
    lines = [f"**POS as a second target** (UD-POS; English 2000 sent × 1 ep, seed{'s' if pooled else ''} "
             f"{seeds}; UPOS accuracy in points on the first ≤ {first.sentences or 'all'} test sentences per "
             f"language; Δ = the fusion tagger chosen in each seed − baseline, with {interval}). The fusion "
             f"layer was chosen on English dev accuracy alone (k: {choices}); chosen: {', '.join(chosen)}.", ""]
    return lines + _accuracy_table(found)


def pair_section(folder: Path, task: str) -> list[str]:
    """A sentence-pair task's zero-shot accuracy per language, both models, pooled over seeds."""
    found = pos_results(folder, task) if folder.is_dir() else []
    if not found:
        return []
    training = found[0].runs[0][0]["checkpoint"]["training"]
    chosen = sorted({r.chosen for r in found})
    pooled = len(found) > 1
    interval = ("a bootstrap over seeds and pairs; accuracies are means over the seeds" if pooled
                else "a paired bootstrap over pairs")
    cap = found[0].sentences
    tuning = {"lora": "LoRA", "full": "full fine-tuning"}.get(training.get("tuning"), training.get("tuning"))
    pairs = training.get("train_pairs")
    lines = [f"**{TASK_NAMES[task]} zero-shot** (English {f'{pairs:,}' if isinstance(pairs, int) else '?'} pairs × "
             f"{training.get('epochs', '?')} ep, {tuning}; seed{'s' if pooled else ''} "
             f"{', '.join(str(r.seed) for r in found)}; accuracy in points on "
             f"{f'the first {cap:,}' if cap else 'all'} pairs per language of its zero-shot split; Δ = the chosen fusion "
             f"classifier − baseline, with {interval}; chosen on the held-out English pairs: "
             f"{', '.join(chosen)})", ""]
    return lines + _accuracy_table(found)


def _accuracy_table(found) -> list[str]:
    """Per language: both models' accuracy, Δ and its interval; then Δ per seed when pooled."""
    chosen = sorted({r.chosen for r in found})
    pooled = len(found) > 1
    deltas = pooled_pos(found) if pooled else found[0].deltas
    lines = ["| language | baseline | " + " / ".join(chosen) + " | Δ | 95 % interval |",
             "|---|---:|---:|---:|---:|"]
    for row in pos_table(deltas).to_dict("records"):
        name = ("**average of targets**" if row["language"] == "average" else row["language"])
        lines.append(f"| {name} | {row['baseline']:.1f} | {row['fusion']:.1f} | "
                     f"{row['Δ']:+.2f} | {row['95 % interval']} |")
    if pooled:
        lines += ["", "Target-average Δ per seed: " + ", ".join(
            f"seed {r.seed} {r.deltas[-1].delta:+.2f} [{r.deltas[-1].low:+.1f}, {r.deltas[-1].high:+.1f}]"
            for r in found) + "."]
    return lines + [""]


def intermediate_section(records: list[dict], folder: Path, pos_folder: Path | None = None,
                         pair_folder: Path | None = None) -> list[str]:
    effects = task_effects(records, folder)
    if not effects:
        return []
    header = ["| task | domain | tagger | seeds | Δ target average | 95 % interval | Δ English | "
              "languages up / down | task dev score |", "|---|---|---|---:|---:|---:|---:|---:|---:|"]
    lines = ["**Intermediate tasks** (an English task first, then NER as the seed study: en 2000 sent "
             "× 1 ep; Δ = with the task − without it, same tagger, first ≤ 200 test sentences per "
             "language; interval: paired bootstrap over sentences and seeds; languages up / down: "
             "intervals above / below 0)", ""] + header + _effect_rows(effects)
    trainings = [r["checkpoint"].get("training") or {} for r in records
                 if r.get("study") == INTERMEDIATE_STUDY]
    if any("dev_f1" in training for training in trainings):
        _, dev_means = best_task_on_dev(trainings)
        lines += ["", "Mean English dev F1 of each task's taggers (what chooses the task for the "
                  "shipped scale): " + ", ".join(f"{task} {100 * mean:.2f}" for task, mean in
                                                 sorted(dev_means.items(), key=lambda item: -item[1]))]
    full = task_effects(records, folder, FULL_STUDY, FULL_DIRECT_STUDY)
    if full:
        lines += ["", "**The chosen task at the shipped scale** (en 20000 sent × 3 ep, first ≤ 1000 "
                  "test sentences per language; Δ against the shipped recipe's direct taggers, all "
                  "their seeds)", ""] + header + _effect_rows(full)
    return lines + target_section(effects, pos_folder or folder.parent / "pos_runs",
                                  pair_folder or folder.parent / "pair_runs")


def target_section(ner_effects: list, pos_folder: Path, pair_folder: Path) -> list[str]:
    """Intermediate task × target task: Δ on the target average per task, target and model."""
    effects = ner_effects + target_effects(accuracy_target_runs(pos_folder, pair_folder))
    table = target_table(effects)
    scope = target_scope(effects)
    how = "; ".join(f"{TARGET_NAMES[t]} ({TARGET_METRICS[t]}): {scope[t]}" for t in TARGETS)
    lines = ["", "**Intermediate task × target task** (Δ target average = with the task − without it, same "
             "model, recipe and test items, in points; 95 % paired bootstrap interval over sentences or "
             f"pairs and seeds, * = excludes 0; not run: no runs of that task and target yet. {how})", "",
             "| " + " | ".join(table.columns) + " |", "|---|---|" + "---:|" * (len(table.columns) - 2)]
    return lines + ["| " + " | ".join(row) + " |" for row in table.itertuples(index=False)]


def tuning_section(records: list[dict], folder: Path) -> list[str]:
    """LoRA against full fine-tuning, both models, once the full-tuning study has runs."""
    rows = tuning_rows(records, folder, FUSION_MODEL)
    if not rows:
        return []
    table = tuning_table(rows)
    lines = [f"**LoRA adapters against full fine-tuning** ({rows[0].group.recipe}; first ≤ "
             f"{rows[0].group.sentences_cap} test sentences per language; target F1 mean ± sd over seeds; "
             "Δ = fusion-l11 − baseline with a paired bootstrap over sentences and seeds; languages up / "
             "down: intervals above / below 0; best k: that tuning's layer sweep, on English dev)", "",
             "| " + " | ".join(table.columns) + " |", "|---|" + "---:|" * (len(table.columns) - 1)]
    lines += ["| " + " | ".join(f"{value:+.2f}" if column == "Δ targets" else str(value)
                                for column, value in zip(table.columns, row)) + " |"
              for row in table.itertuples(index=False)]
    return lines + [""]


def _effect_rows(effects) -> list[str]:
    return [f"| {row['task']} | {row['domain']} | {row['model']} | {row['seeds']} | "
            f"{row['Δ target average']:+.1f} | {row['95 % interval']} | "
            f"{row['Δ English']:+.1f} | {row['languages up / down']} | {row['task dev score']} |"
            for row in effects_table(effects).to_dict("records")]
