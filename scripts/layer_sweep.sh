#!/usr/bin/env bash
# The layer sweep: a fusion tagger for every layer k = 0..11, trained on a capped slice of English
# WikiANN, then scored zero-shot on the dev sets of every language (capped per language).
#   phase "train": trains the 12 taggers (English dev F1 is logged by training);
#   phase "eval":  writes one run record per layer to assets/runs/sweep-l<k>.json.
# Usage: scripts/layer_sweep.sh DATA_DIR [train|eval|all]   (env: SWEEP_TRAIN, SWEEP_DEV, OUT)
set -euo pipefail
data=${1:?usage: scripts/layer_sweep.sh DATA_DIR [train|eval|all]}
phase=${2:-all}
train_cap=${SWEEP_TRAIN:-2000}
dev_cap=${SWEEP_DEV:-100}
out=${OUT:-work_runs/sweep}
for k in $(seq 0 11); do
  if [[ $phase == train || $phase == all ]] && [[ ! -f $out/l$k/model.safetensors ]]; then
    python -m fusion train --output-dir "$out/l$k" --data "$data" --fusion-layer "$k" \
      --max-train-sentences "$train_cap" --max-dev-sentences 1000 --epochs 1 --seed 13
  fi
done
for k in $(seq 0 11); do
  if [[ $phase == eval || $phase == all ]] && [[ ! -f assets/runs/sweep-l$k.json ]]; then
    python -m fusion evaluate --checkpoint "$out/l$k" --data "$data" --split dev \
      --max-sentences "$dev_cap" --name "sweep-l$k" --output "assets/runs/sweep-l$k.json"
  fi
done
