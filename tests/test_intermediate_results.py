"""The intermediate-task study's comparison with the direct models (synthetic runs)."""

import random
import zlib

import pytest

from fusion.evaluation.predictions import Sidecar, build_language, write_sidecar
from fusion.studies.intermediate_results import delta_matrix, effects_table, task_effects

LABELS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
TYPES = ["PER", "LOC"]
LANGUAGES = {"en": "e1", "de": "d1", "sw": "s1"}


def _gold(rng):
    return [[rng.choice(["O", "B-PER", "B-LOC"]) for _ in range(6)] for _ in range(150)]


def _record(folder, name, study, model, seed, quality, gold, task=None, cap=200):
    rng = random.Random(zlib.crc32(f"{name}/{seed}".encode()))  # hash() of a str differs per process
    items = {}
    for language, digest in LANGUAGES.items():
        predicted = [[t if rng.random() < quality else rng.choice(LABELS) for t in s] for s in gold[language]]
        items[language] = build_language(LABELS, TYPES, gold[language], predicted, digest)
    write_sidecar(folder / f"{name}.predictions.json.gz", Sidecar(LABELS, TYPES, items))
    training = {"seed": seed} | ({"intermediate": {"task": task, "domain": "d", "dev_score": 0.5}}
                                 if task else {})
    return {"name": name, "study": study, "checkpoint": {"model": model, "training": training},
            "data": {"sha256": dict(LANGUAGES), "max_sentences_per_language": cap}, "predictions": {"file": f"{name}.predictions.json.gz"}}


def test_a_helpful_task_shows_above_zero_and_a_neutral_one_straddles(tmp_path):
    rng = random.Random(0)
    gold = {language: _gold(rng) for language in LANGUAGES}
    records = [_record(tmp_path, f"small-baseline-s{s}", "seed-study", "baseline", s, 0.6, gold)
               for s in (13, 14)]
    records += [_record(tmp_path, f"inter-pos-baseline-s{s}", "intermediate-task", "baseline", s, 0.9,
                        gold, "pos") for s in (13, 14)]
    records += [_record(tmp_path, f"inter-sst2-baseline-s{s}", "intermediate-task", "baseline", s, 0.6,
                        gold, "sst2") for s in (13, 14)]
    records.append({**records[0], "predictions": {}})  # no per-sentence predictions: left out
    effects = {e.task: e for e in task_effects(records, tmp_path)}
    assert set(effects) == {"pos", "sst2"} and effects["pos"].seeds == 2
    assert effects["pos"].intervals["average"].low > 0
    neutral = effects["sst2"].intervals["average"]
    assert neutral.low < 0 < neutral.high
    table = effects_table(list(effects.values()))
    assert list(table["task"]) == ["pos", "sst2"] and table["Δ target average"][0] > 5
    matrix = delta_matrix(list(effects.values()), "baseline")
    assert list(matrix.index) == ["pos", "sst2"] and set(matrix.columns) == set(LANGUAGES)


def test_the_full_scale_run_is_compared_with_direct_runs_on_as_many_sentences(tmp_path):
    from fusion.evaluation.runs import FULL_DIRECT_STUDY, FULL_STUDY

    rng = random.Random(1)
    gold = {language: _gold(rng) for language in LANGUAGES}
    # direct runs on 1000 sentences per language (0.6) and on whole test sets (0.95); only the
    # former may serve as the reference of a full-scale task run on 1000 sentences (0.6)
    records = [_record(tmp_path, f"baseline-s{s}", FULL_DIRECT_STUDY, "baseline", s, 0.6, gold,
                       cap=1000) for s in (13, 14)]
    records += [_record(tmp_path, f"full-baseline-s{s}", FULL_DIRECT_STUDY, "baseline", s, 0.95,
                        gold, cap=None) for s in (13, 14)]
    records.append(_record(tmp_path, "inter-full-sst2-baseline-s14", FULL_STUDY, "baseline", 14, 0.6,
                           gold, "sst2", cap=1000))
    assert task_effects(records, tmp_path) == []  # not part of the small-scale study
    (effect,) = task_effects(records, tmp_path, FULL_STUDY, FULL_DIRECT_STUDY)
    assert effect.task == "sst2" and effect.seeds == 1
    average = effect.intervals["average"]
    assert average.low < 0 < average.high  # a whole-test-set reference would put it far below 0


def test_best_task_is_chosen_on_english_dev_only():
    from fusion.studies.intermediate_results import best_task_on_dev

    def training(task, dev_f1):
        return {"dev_f1": dev_f1, "intermediate": {"task": task}}

    # mrpc's mean dev F1 (0.70) beats sst2's (0.68) although one sst2 run is the single best;
    # a direct model (no task) and a run without dev F1 are not counted
    task, means = best_task_on_dev([training("sst2", 0.74), training("sst2", 0.62),
                                    training("mrpc", 0.70), training("mrpc", 0.70),
                                    {"dev_f1": 0.99}, {"intermediate": {"task": "rte"}}])
    assert task == "mrpc"
    assert means == pytest.approx({"sst2": 0.68, "mrpc": 0.70})
    assert best_task_on_dev([training("rte", 0.5), training("chunking", 0.5)])[0] == "chunking"
    with pytest.raises(ValueError, match="English dev"):
        best_task_on_dev([{"dev_f1": 0.9}])


def test_the_results_section_draws_a_task_by_language_heat_map(tmp_path):
    from ui.tabs import results_intermediate as intermediate_section

    rng = random.Random(2)
    gold = {language: _gold(rng) for language in LANGUAGES}
    records = [_record(tmp_path, f"small-baseline-s{s}", "seed-study", "baseline", s, 0.6, gold)
               for s in (13, 14)]
    records += [_record(tmp_path, f"inter-pos-baseline-s{s}", "intermediate-task", "baseline", s, 0.9,
                        gold, "pos") for s in (13, 14)]
    figure, tasks, domains, full, pos_note, pos, *_ = intermediate_section.view(tmp_path, records, "baseline")
    assert "No POS runs" in pos_note and pos.empty
    (trace,) = figure.data
    assert list(trace.y) == [0] and len(trace.x) == len(LANGUAGES) - 1  # English is not a target
    assert all(star == "*" for star in trace.text[0])  # 0.9 vs 0.6: every interval above 0
    assert list(tasks["task"]) == ["pos"] and list(domains["domain"]) == ["d"] and full.empty
    assert intermediate_section.effects(tmp_path, records)[0] is \
        intermediate_section.effects(tmp_path, records)[0]  # computed once, then kept
    message = intermediate_section.view(tmp_path, records[:2], None)[0]
    assert "No intermediate-task runs" in message.layout.annotations[0].text
