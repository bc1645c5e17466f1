#!/usr/bin/env bash
# Full fine-tuning (every encoder weight but the frozen word embeddings) against the shipped LoRA
# recipe: the same data and epochs (20,000 English sentences x 3, best epoch on English dev).
#   phase "lr":    the learning rate, chosen on English dev only: baseline, 4,000 sentences x 1
#                  epoch, dev 1,000, for 2e-5 / 5e-5 / 1e-4; the best goes to $OUT/lr.txt.
#   phase "seeds": baseline and fusion-l$K, seeds 13-15, each scored on the first 1,000 test
#                  sentences of every language -> $RECORDS/tune-full-<model>-s<seed>.json.
#   phase "sweep": a fully tuned fusion tagger per layer k = 0..11 at the LoRA sweep's scale (2,000
#                  sentences x 1 epoch, seed 13), the chosen learning rate, k chosen on English dev;
#                  scored on 100 dev sentences per language -> $RECORDS/tune-full-sweep-l<k>.json.
#   phase "probes": the layer probes of the frozen encoder's study (3 seeds), on the encoders of the
#                  LoRA baseline (checkpoints/baseline, seed 13) and the fully tuned baseline of seed
#                  13 -> $PROBE_RECORDS/probe-<tuning>-baseline-l<k>-s<seed>.json.
# Two lanes run at once (baseline | fusion), one thread each; every step resumes where it stopped.
# The script scores checkpoints it trained itself; the first ones were saved before checkpoints
# carried fingerprints, hence --trust-unverified (their records say "verified": false).
# Usage: scripts/full_tuning.sh DATA_DIR [lr|seeds|sweep|probes|all]   (env: K=11, OUT, RECORDS,
#        PROBE_RECORDS)
set -euo pipefail
data=${1:?usage: scripts/full_tuning.sh DATA_DIR [lr|seeds|sweep|probes|all]}
phase=${2:-all}
k=${K:-11}
out=${OUT:-work_runs/full_tuning}
records=${RECORDS:-assets/runs}
probe_records=${PROBE_RECORDS:-assets/probe_runs}
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
mkdir -p "$out" "$records"

done_training() {  # the resume state says every epoch finished
  [[ -f $1/resume/state.json ]] && python -c "import json,sys; s=json.load(open(sys.argv[1])); \
sys.exit(s['epoch'] != int(sys.argv[2]))" "$1/resume/state.json" "$2"
}

train() {  # DIR EPOCHS LR [flags...]
  local dir=$1 epochs=$2 lr=$3; shift 3
  done_training "$dir" "$epochs" || python -m fusion train --output-dir "$dir" --data "$data" \
    --tuning full --learning-rate "$lr" --epochs "$epochs" "$@"
}

if [[ $phase == lr || $phase == all ]]; then
  train "$out/lr-2e-5" 1 2e-5 --max-train-sentences 4000 --max-dev-sentences 1000 &
  train "$out/lr-5e-5" 1 5e-5 --max-train-sentences 4000 --max-dev-sentences 1000
  wait
  train "$out/lr-1e-4" 1 1e-4 --max-train-sentences 4000 --max-dev-sentences 1000
  python - "$out" > "$out/lr.txt" <<'PY'
import json, sys
from pathlib import Path
scores = {}
for lr in ("2e-5", "5e-5", "1e-4"):
    state = json.loads((Path(sys.argv[1]) / f"lr-{lr}" / "resume" / "state.json").read_text())
    scores[lr] = state["best_f1"]
    print(f"lr {lr}: English dev F1 {100 * state['best_f1']:.2f}", file=sys.stderr)
print(max(scores, key=scores.get))
PY
fi

lane() {  # MODEL [flags...]: three seeds, trained then scored
  local model=$1; shift
  local lr; lr=$(cat "$out/lr.txt")
  for seed in 13 14 15; do
    local dir="$out/$model-s$seed" name="tune-full-$model-s$seed"
    train "$dir" 3 "$lr" --seed "$seed" "$@"
    [[ -f $records/$name.json ]] || python -m fusion evaluate --checkpoint "$dir" --data "$data" \
      --languages all --max-sentences 1000 --name "$name" --study full-tuning --trust-unverified \
      --output "$records/$name.json"
  done
}

if [[ $phase == seeds || $phase == all ]]; then
  lane baseline > "$out/baseline.log" 2>&1 &
  lane "fusion-l$k" --fusion-layer "$k" > "$out/fusion.log" 2>&1
  wait
fi

sweep_lane() {  # K...: fusion taggers at the sweep's scale, then their dev runs
  local lr; lr=$(cat "$out/lr.txt")
  for layer in "$@"; do
    local dir="$out/sweep-l$layer" name="tune-full-sweep-l$layer"
    train "$dir" 1 "$lr" --fusion-layer "$layer" --max-train-sentences 2000 --max-dev-sentences 1000 --seed 13
    [[ -f $records/$name.json ]] || python -m fusion evaluate --checkpoint "$dir" --data "$data" \
      --split dev --max-sentences 100 --name "$name" --study layer-sweep --output "$records/$name.json"
  done
}

if [[ $phase == sweep || $phase == all ]]; then
  sweep_lane 0 2 4 6 8 10 > "$out/sweep-even.log" 2>&1 &
  sweep_lane 1 3 5 7 9 11 > "$out/sweep-odd.log" 2>&1
  wait
fi

probe() {  # NAME CHECKPOINT [flags...]: the probe study on that tagger's encoder; its time ends its log
  local name=$1 checkpoint=$2 started=$SECONDS; shift 2
  python -m fusion probe --data "$data" --tagger "$checkpoint" --work-dir "$out/$name" \
    --runs-dir "$probe_records" "$@" > "$out/$name.log" 2>&1
  echo "$name: $((SECONDS - started)) s" | tee -a "$out/$name.log"
}

if [[ $phase == probes || $phase == all ]]; then
  if ! done_training "$out/baseline-s13" 3; then  # never probe a half-trained tagger
    echo "probes: $out/baseline-s13 has not finished its 3 epochs; run the 'seeds' phase first" >&2
    exit 1
  fi
  probe probes-lora checkpoints/baseline &
  lora=$!
  # trained before checkpoints carried fingerprints: on trust (its record says unverified)
  probe probes-full "$out/baseline-s13" --trust-unverified
  wait "$lora"  # its failure fails the phase too
fi
