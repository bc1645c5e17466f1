#!/usr/bin/env bash
# The layer-probe study (issue 13): linear probes on every layer of the frozen encoder, trained on
# all English WikiANN train sentences (each probe's epoch chosen on English dev), scored zero-shot
# on the first 1,000 test sentences of every language, three seeds -> assets/probe_runs/. Seed 13's
# probe set ships as checkpoints/probes. One thread; rerun the same command to continue a stopped run.
# Usage: scripts/probe_runs.sh WIKIANN_DIR [SEEDS]
set -euo pipefail
data=${1:?usage: scripts/probe_runs.sh WIKIANN_DIR [SEEDS]}
seeds=${2:-13,14,15}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} MKL_NUM_THREADS=${MKL_NUM_THREADS:-1}
python -m fusion probe --data "$data" --work-dir work_runs/probes --runs-dir assets/probe_runs \
  --seeds "$seeds" --max-test-sentences 1000
mkdir -p checkpoints/probes
cp work_runs/probes/seed-13/probe_config.json work_runs/probes/seed-13/probes.safetensors checkpoints/probes/
