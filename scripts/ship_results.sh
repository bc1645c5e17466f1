#!/usr/bin/env bash
# Reproduces the shipped checkpoints and run records (CPU: ~2 h on 2 cores; a GPU: minutes).
# Usage: scripts/ship_results.sh DATA_DIR FUSION_LAYER
#   DATA_DIR      PAN-X layout, e.g. ../shared/data/wikiann
#   FUSION_LAYER  the layer chosen by the sweep on English dev (scripts/layer_sweep.sh)
set -euo pipefail
data=${1:?usage: scripts/ship_results.sh DATA_DIR FUSION_LAYER}
k=${2:?usage: scripts/ship_results.sh DATA_DIR FUSION_LAYER}

# 1. the shipped checkpoints: all 20,000 English sentences, 3 epochs, best epoch on English dev
#    (a fresh start: remove the output folders' resume state and logs, or training just resumes)
rm -rf checkpoints/baseline "checkpoints/fusion-l$k"
python -m fusion train --output-dir checkpoints/baseline --data "$data" --epochs 3 --seed 13
python -m fusion train --output-dir "checkpoints/fusion-l$k" --data "$data" --fusion-layer "$k" --epochs 3 --seed 13

# 2. zero-shot test runs: the first 1,000 test sentences of every language (all where fewer)
python -m fusion evaluate --checkpoint checkpoints/baseline --data "$data" --languages all \
  --max-sentences 1000 --name baseline-s13 --output assets/runs/baseline-s13.json
python -m fusion evaluate --checkpoint "checkpoints/fusion-l$k" --data "$data" --languages all \
  --max-sentences 1000 --name "fusion-l$k-s13" --output "assets/runs/fusion-l$k-s13.json"
