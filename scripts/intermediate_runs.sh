#!/usr/bin/env bash
# Intermediate tasks (issue 14), at the seed study's scale: for each seed and task, train the
# adapters on the English task once (python -m fusion intermediate), start the baseline and
# fusion layer 11 from them (2,000 English NER sentences × 1 epoch, as small-*.json), and score
# both on the first 200 test sentences of every language -> assets/runs/inter-TASK-MODEL-sSEED.json.
# Every step is skipped when its output exists and resumes when it was interrupted, so rerunning
# the same command continues. One thread: the machine stays usable meanwhile.
# Usage: scripts/intermediate_runs.sh DATA_ROOT [SEEDS] [TASKS]
#   e.g. scripts/intermediate_runs.sh ../shared/data "13 14 15" "chunking pos sst2 rte mrpc squad"
set -euo pipefail
root=${1:?usage: scripts/intermediate_runs.sh DATA_ROOT [SEEDS] [TASKS]}
seeds=${2:-13 14 15}
tasks=${3:-chunking pos sst2 rte mrpc squad}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} MKL_NUM_THREADS=${MKL_NUM_THREADS:-1}
mkdir -p work_runs/intermediate
for seed in $seeds; do
  for task in $tasks; do
    stage="work_runs/intermediate/$task-s$seed"
    [[ -f $stage/adapters.safetensors ]] || python -m fusion intermediate --task "$task" \
      --data "$root" --output-dir "$stage" --seed "$seed"
    for layer in none 11; do
      if [[ $layer == none ]]; then model=baseline; flags=(); else
        model="fusion-l$layer"; flags=(--fusion-layer "$layer"); fi
      name="inter-$task-$model-s$seed"
      dir="work_runs/intermediate/ner/$name"
      [[ -f $dir/model.safetensors ]] || python -m fusion train --output-dir "$dir" \
        --data "$root/wikiann" "${flags[@]}" --max-train-sentences 2000 --max-dev-sentences 1000 \
        --epochs 1 --seed "$seed" --start-from "$stage"
      [[ -f assets/runs/$name.json ]] || python -m fusion evaluate --checkpoint "$dir" \
        --data "$root/wikiann" --languages all --max-sentences 200 --name "$name" \
        --study intermediate-task --output "assets/runs/$name.json"
    done
  done
done
