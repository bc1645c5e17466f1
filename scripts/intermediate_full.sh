#!/usr/bin/env bash
# Issue 14 at the shipped scale: the intermediate task whose NER taggers score best on English
# dev (mean over every intermediate-task tagger in work_runs/ and assets/runs; see
# fusion.studies.intermediate_results.best_task_on_dev; never a target language) is trained first with
# SEED, then both taggers with the shipped recipe (all 20,000 English sentences, 3 epochs, best epoch on English dev), scored
# on the shipped runs' sentences (first 1,000 test sentences per language) ->
# assets/runs/inter-full-TASK-MODEL-sSEED.json, to compare with the direct MODEL-sSEED.json.
# Resumable like scripts/intermediate_runs.sh. PARALLEL=1 trains the two taggers at once (a GPU).
# Usage: scripts/intermediate_full.sh DATA_ROOT SEED
set -euo pipefail
root=${1:?usage: scripts/intermediate_full.sh DATA_ROOT SEED}
seed=${2:?usage: scripts/intermediate_full.sh DATA_ROOT SEED}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} MKL_NUM_THREADS=${MKL_NUM_THREADS:-1}
task=$(python - <<'PY'
import glob, json, sys
from fusion.studies.intermediate_results import INTERMEDIATE_STUDY, best_task_on_dev
# every finished intermediate-task tagger: the run records, and checkpoints not yet scored
trainings = {}
for f in sorted(glob.glob("work_runs/intermediate/ner/*/tagger_config.json")):
    training = json.load(open(f)).get("training") or {}
    trainings[training.get("output_dir", f)] = training
for f in sorted(glob.glob("assets/runs/inter-*.json")):
    record = json.load(open(f))
    if record.get("study") == INTERMEDIATE_STUDY:
        training = record["checkpoint"].get("training") or {}
        trainings[training.get("output_dir", f)] = training
task, means = best_task_on_dev(list(trainings.values()))
print("mean English dev F1 per task:", {t: round(100 * m, 2) for t, m in means.items()}, file=sys.stderr)
print(task)
PY
)
echo "best intermediate task on English dev: $task"
stage="work_runs/intermediate/$task-s$seed"
[[ -f $stage/adapters.safetensors ]] || python -m fusion intermediate --task "$task" \
  --data "$root" --output-dir "$stage" --seed "$seed"
run_model() {
  local model=$1 flags=() name dir
  [[ $model == baseline ]] || flags=(--fusion-layer "${model#fusion-l}")
  name="inter-full-$task-$model-s$seed"
  dir="work_runs/intermediate/full/$name"
  [[ -f $dir/tagger_config.json && $(python -c "import json,sys;print(json.load(open(sys.argv[1]))['epoch'])" \
     "$dir/resume/state.json" 2>/dev/null) == 3 ]] || python -m fusion train --output-dir "$dir" \
    --data "$root/wikiann" "${flags[@]}" --epochs 3 --seed "$seed" --start-from "$stage"
  [[ -f assets/runs/$name.json ]] || python -m fusion evaluate --checkpoint "$dir" \
    --data "$root/wikiann" --languages all --max-sentences 1000 --name "$name" \
    --study intermediate-full --output "assets/runs/$name.json"
}
for model in baseline fusion-l11; do
  if [[ ${PARALLEL:-0} == 1 ]]; then run_model "$model" & else run_model "$model"; fi
done
wait
