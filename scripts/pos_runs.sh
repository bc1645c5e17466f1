#!/usr/bin/env bash
# POS as a second target task (issue 14): a baseline and fusion POS taggers on English UD-POS at the
# seed study's scale (2,000 sentences x 1 epoch, LoRA), one fusion tagger per layer in LAYERS; the
# layer is chosen on English dev accuracy alone (fusion.studies.pos_results.choose_fusion_layer), and the baseline
# and the chosen fusion tagger are scored on the first 500 test sentences of every UD-POS language
# -> assets/pos_runs/pos-MODEL-sSEED.json (run records of task pos, + .predictions.json.gz) and
# pos-dev-sSEED.json (the layer choice, fusion.studies.pos_results.save_layer_choice).
# Two runs at a time, one thread each; finished steps are skipped, so rerunning continues.
# Usage: scripts/pos_runs.sh UDPOS_DIR [SEED] [LAYERS]
set -euo pipefail
data=${1:?usage: scripts/pos_runs.sh UDPOS_DIR [SEED] [LAYERS]}
seed=${2:-13}
layers=${3:-0 2 4 6 8 10 11}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} MKL_NUM_THREADS=${MKL_NUM_THREADS:-1} DATA=$data SEED=$seed
mkdir -p work_runs/pos assets/pos_runs
train_one() {  # "none" = baseline, else a fusion layer
  local model=baseline flags=()
  [[ $1 == none ]] || { model="fusion-l$1"; flags=(--fusion-layer "$1"); }
  local dir="work_runs/pos/pos-$model-s$SEED"
  [[ -f $dir/tagger_config.json ]] || python -m fusion train --task pos --data "$DATA" \
    --output-dir "$dir" "${flags[@]}" --max-train-sentences 2000 --max-dev-sentences 1000 \
    --epochs 1 --seed "$SEED" > "$dir.log" 2>&1
}
export -f train_one
printf '%s\n' none $layers | xargs -P 2 -I{} bash -c 'train_one {}'
chosen=$(python - "$seed" <<'PY'
import glob, sys
from fusion.studies.pos_results import choose_fusion_layer, save_layer_choice
seed = sys.argv[1]
model, scores = choose_fusion_layer(sorted(glob.glob(f"work_runs/pos/pos-fusion-l*-s{seed}")))
print(save_layer_choice(f"assets/pos_runs/pos-dev-s{seed}.json", int(seed), scores))
PY
)
echo "fusion layer chosen on English dev: $chosen"
for model in baseline "$chosen"; do
  name="pos-$model-s$seed"
  [[ -f assets/pos_runs/$name.json ]] || python -m fusion evaluate-pos --checkpoint "work_runs/pos/$name" \
    --data "$data" --max-sentences 500 --name "$name" --output "assets/pos_runs/$name.json" &
done
wait
