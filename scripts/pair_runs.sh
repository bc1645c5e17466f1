#!/usr/bin/env bash
# The paper's sentence-pair tasks (issue 29): XNLI and PAWS-X classifiers on English, scored zero-shot.
#   phase "sweep": seed 13, the baseline and one fusion classifier per layer k = 0..11 (LoRA, 2 epochs),
#                  each keeping its best epoch on the held-out English pairs; the layer with the best
#                  held-out accuracy is chosen (fusion.studies.pos_results.save_layer_choice)
#                  -> $RECORDS/<task>-dev-s13.json
#   phase "seeds": seeds 13-15 of the baseline and the chosen fusion model, scored on every language
#                  of the task's zero-shot split (XNLI dev: 15 languages; PAWS-X test: de, zh)
#                  -> $RECORDS/<task>-<model>-s<seed>.json (+ .predictions.json.gz)
# LANES (default 2) at once, one thread each; every finished step is skipped, so rerunning continues.
# Usage: scripts/pair_runs.sh DATA_DIR TASK [sweep|seeds|all]   (env: OUT, RECORDS, EPOCHS, LR, LAYERS, LANES)
# LR: the learning rate of every model (default: train-pairs' 1e-3; PAWS-X's baseline learns only
# at a lower one, 3e-4: docs/RESULTS.md)
# LAYERS: the fusion layers the sweep tries (default all twelve; a shorter list is a reduced sweep,
# and the choice file lists only the layers tried)
set -euo pipefail
data=${1:?usage: scripts/pair_runs.sh DATA_DIR TASK [sweep|seeds|all]}
task=${2:?task: xnli or pawsx}
phase=${3:-all}
out=${OUT:-work_runs/pairs}
records=${RECORDS:-assets/pair_runs}
epochs=${EPOCHS:-2}
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 DATA=$data TASK=$task OUT_DIR=$out EPOCHS=$epochs LR=${LR:-}
mkdir -p "$out" "$records"

train_one() {  # MODEL SEED: "baseline" or a layer number
  local model=baseline flags=()
  [[ $1 == baseline ]] || { model="fusion-l$1"; flags=(--fusion-layer "$1"); }
  [[ -z $LR ]] || flags+=(--learning-rate "$LR")
  local dir="$OUT_DIR/$TASK-$model-s$2"
  python - "$dir" "$EPOCHS" <<'PY' && return 0
import json, sys
from pathlib import Path
state = Path(sys.argv[1]) / "resume" / "state.json"
sys.exit(not state.is_file() or json.loads(state.read_text())["epoch"] != int(sys.argv[2]))
PY
  python -m fusion train-pairs --task "$TASK" --data "$DATA" --output-dir "$dir" "${flags[@]}" \
    --epochs "$EPOCHS" --seed "$2" > "$dir.log" 2>&1
}
export -f train_one

choice="$records/$task-dev-s13.json"
if [[ $phase == sweep || $phase == all ]]; then
  printf '%s\n' baseline ${LAYERS:-11 8 4 0 10 9 7 6 5 3 2 1} | xargs -P "${LANES:-2}" -I{} bash -c 'train_one {} 13'
  python - "$out" "$task" "$choice" <<'PY'
import glob, sys
from fusion.studies.pos_results import choose_fusion_layer, save_layer_choice
out, task, choice = sys.argv[1:]
model, scores = choose_fusion_layer(sorted(glob.glob(f"{out}/{task}-fusion-l*-s13")))
print(f"{task}: chosen on held-out English pairs: {save_layer_choice(choice, 13, scores)}")
PY
fi

if [[ $phase == seeds || $phase == all ]]; then
  chosen=$(python -c "import json,sys; print(json.load(open(sys.argv[1]))['chosen'])" "$choice")
  layer=${chosen#fusion-l}
  for seed in 14 15; do printf '%s\n' "baseline $seed" "$layer $seed"; done | xargs -P "${LANES:-2}" -L 1 bash -c 'train_one "$0" "$1"'
  for seed in 14 15; do  # the layer was chosen once, on seed 13's sweep: these files say so by listing it alone
    python - "$out/$task-$chosen-s$seed" "$records/$task-dev-s$seed.json" "$seed" "$chosen" <<'PY'
import json, sys
from pathlib import Path
from fusion.studies.pos_results import save_layer_choice
directory, path, seed, chosen = sys.argv[1:]
info = json.loads((Path(directory) / "tagger_config.json").read_text())
save_layer_choice(path, int(seed), {chosen: info["training"]["dev_accuracy"]})
PY
  done
  for seed in 13 14 15; do
    for model in baseline "$chosen"; do
      name="$task-$model-s$seed"
      [[ -f $records/$name.json ]] || echo "$name"
    done
  done | xargs -P "${LANES:-2}" -I{} python -m fusion evaluate-pairs --checkpoint "$out/{}" --data "$data" \
    --name {} --output "$records/{}.json"
fi
