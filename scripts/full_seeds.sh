#!/usr/bin/env bash
# Seeds at full scale: the shipped recipe (all 20,000 English sentences, 3 epochs, LoRA, best
# epoch on English dev) with seeds 14 and 15 for the baseline and fusion layer K, each scored on
# the same sentences as the shipped runs (the first 1,000 test sentences of every language).
# Seed 13 is the shipped pair (scripts/ship_results.sh). Training resumes where it stopped;
# finished steps are skipped. CPU: ~45 min a training; a GPU: minutes (run the four at once).
# Usage: scripts/full_seeds.sh DATA_DIR K
set -euo pipefail
data=${1:?usage: scripts/full_seeds.sh DATA_DIR K}
k=${2:?usage: scripts/full_seeds.sh DATA_DIR K}
for seed in 14 15; do
  for model in baseline "fusion-l$k"; do
    flags=(); [[ $model == baseline ]] || flags=(--fusion-layer "$k")
    dir="work_runs/full/$model-s$seed"
    [[ -f $dir/resume/state.json && $(python -c "import json,sys;print(json.load(open(sys.argv[1]))['epoch'])" "$dir/resume/state.json") == 3 ]] || \
      python -m fusion train --output-dir "$dir" --data "$data" "${flags[@]}" --epochs 3 --seed "$seed"
    [[ -f assets/runs/$model-s$seed.json ]] || python -m fusion evaluate --checkpoint "$dir" \
      --data "$data" --languages all --max-sentences 1000 --name "$model-s$seed" \
      --output "assets/runs/$model-s$seed.json"
  done
done
