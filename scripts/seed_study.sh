#!/usr/bin/env bash
# The seed study, at the layer sweep's scale (2,000 English training sentences, 1 epoch):
# the baseline and fusion layer K with seeds 13, 14, 15, each scored on the first 200 test
# sentences of every language -> assets/runs/small-*.json. Seed 13 of fusion layer K is the
# sweep's own tagger (same recipe), reused when work_runs/sweep/lK exists.
# Usage: scripts/seed_study.sh DATA_DIR K
set -euo pipefail
data=${1:?usage: scripts/seed_study.sh DATA_DIR K}
k=${2:?usage: scripts/seed_study.sh DATA_DIR K}
mkdir -p work_runs/seeds
for seed in 13 14 15; do
  for layer in none "$k"; do
    if [[ $layer == none ]]; then name="small-baseline-s$seed"; flags=(); else
      name="small-fusion-l$layer-s$seed"; flags=(--fusion-layer "$layer"); fi
    dir="work_runs/seeds/$name"
    if [[ $seed == 13 && $layer != none && -f work_runs/sweep/l$layer/model.safetensors && ! -d $dir ]]; then
      cp -r "work_runs/sweep/l$layer" "$dir"
    fi
    [[ -f $dir/model.safetensors ]] || python -m fusion train --output-dir "$dir" --data "$data" \
      "${flags[@]}" --max-train-sentences 2000 --max-dev-sentences 1000 --epochs 1 --seed "$seed"
    [[ -f assets/runs/$name.json ]] || python -m fusion evaluate --checkpoint "$dir" --data "$data" \
      --languages all --max-sentences 200 --name "$name" --output "assets/runs/$name.json"
  done
done
