#!/usr/bin/env bash
# Intermediate tasks × target tasks (issue 29): each English intermediate task trained first, then the
# POS and XNLI targets, both models, at the small scale, against direct models of the same scale.
#   stage:  python -m fusion intermediate per task and seed -> $WORK/intermediate/TASK-sSEED (the NER
#           study's folder, scripts/intermediate_runs.sh: a stage already trained there is reused)
#   POS:    baseline and the POS study's fusion layer (pos-dev-s13.json's choice, k = 11), 2,000 English
#           UD-POS sentences × 1 epoch from the stage, UPOS accuracy on the first 500 test sentences of
#           every language -> $POS_RECORDS/inter-TASK-pos-MODEL-sSEED.json; the direct models are the
#           POS study's pos-MODEL-sSEED.json (same recipe and sentences; made here only if missing)
#   XNLI:   baseline and the layer chosen on held-out English pairs (xnli-dev-s13.json of
#           scripts/pair_runs.sh; none yet: says so and stops), 2,000 English training pairs × 1 epoch,
#           accuracy on the first 1,000 dev pairs of each of the 15 languages
#           -> $PAIR_RECORDS/inter-TASK-xnli-MODEL-sSEED.json; direct models of the same small scale
#           -> $PAIR_RECORDS/small-xnli-MODEL-sSEED.json (pair_runs.sh's xnli-*.json are its full scale)
# The records are the one run-record format (task pos / xnli, studies pos / pairs); a run started
# from a task says so in checkpoint.training.intermediate, which the study
# (fusion/studies/intermediate_results.py) reads, never the file name.
# Two lanes at once (one job per seed and task), one thread each; every finished step is skipped, and
# an interrupted training resumes from its last resume point, so rerunning the same command continues.
# Usage: scripts/intermediate_targets.sh DATA_ROOT [SEEDS] [TASKS] [TARGETS]
#   e.g. scripts/intermediate_targets.sh ../shared/data "13 14 15" "chunking pos sst2 rte mrpc squad" "pos xnli"
#   env: WORK (work_runs), POS_RECORDS (assets/pos_runs), PAIR_RECORDS (assets/pair_runs), ENCODER (the
#        offline encoder), LANES (2), XNLI_PAIRS (1000: dev pairs scored per language)
set -euo pipefail
root=${1:?usage: scripts/intermediate_targets.sh DATA_ROOT [SEEDS] [TASKS] [TARGETS]}
seeds=${2:-13 14 15}
tasks=${3:-chunking pos sst2 rte mrpc squad}
targets=${4:-pos xnli}
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 ROOT=$root TARGETS=$targets
export WORK=${WORK:-work_runs} POS_RECORDS=${POS_RECORDS:-assets/pos_runs}
export PAIR_RECORDS=${PAIR_RECORDS:-assets/pair_runs} ENCODER=${ENCODER:-} XNLI_PAIRS=${XNLI_PAIRS:-1000}

chosen() {  # the fusion model a layer choice file names (checked), or nothing when there is none
  python - "$1" <<'PY'
import sys
from pathlib import Path
from fusion.studies.pos_results import load_layer_choice
path = Path(sys.argv[1])
print(load_layer_choice(path)["chosen"] if path.is_file() else "")
PY
}
for target in $targets; do
  case $target in
    pos) POS_MODEL=$(chosen "$POS_RECORDS/pos-dev-s13.json")
         [[ -n $POS_MODEL ]] || { echo "POS: no layer choice in $POS_RECORDS/pos-dev-s13.json" \
           "(scripts/pos_runs.sh makes it); stopping" >&2; exit 1; } ;;
    xnli) XNLI_MODEL=$(chosen "$PAIR_RECORDS/xnli-dev-s13.json")
          [[ -n $XNLI_MODEL ]] || { echo "XNLI: no layer choice yet in $PAIR_RECORDS/xnli-dev-s13.json" \
            "(scripts/pair_runs.sh DATA xnli sweep makes it); stopping. Run the POS target alone meanwhile:" \
            "scripts/intermediate_targets.sh $root \"$seeds\" \"$tasks\" pos" >&2; exit 1; } ;;
    *) echo "unknown target $target (pos or xnli)" >&2; exit 1 ;;
  esac
done
export POS_MODEL=${POS_MODEL:-} XNLI_MODEL=${XNLI_MODEL:-}
mkdir -p "$WORK/intermediate" "$POS_RECORDS" "$PAIR_RECORDS"
echo "fusion models: POS ${POS_MODEL:--}, XNLI ${XNLI_MODEL:--}; seeds $seeds; tasks $tasks; targets $targets"

logged() {  # LOG COMMAND...: run it with its output in LOG; on failure say where and stop this job
  local log=$1; shift
  mkdir -p "$(dirname "$log")"
  "$@" > "$log" 2>&1 || { echo "failed: $* (log: $log)" >&2; tail -n 5 "$log" >&2; return 1; }
}

one_run() {  # TARGET MODEL SEED NAME [STAGE]: train (unless trained) and score (unless scored)
  local target=$1 model=$2 seed=$3 name=$4 stage=${5:-} flags=()
  [[ $model == baseline ]] || flags+=(--fusion-layer "${model#fusion-l}")
  [[ -z $stage ]] || flags+=(--start-from "$stage")
  [[ -z $ENCODER ]] || flags+=(--encoder "$ENCODER")
  if [[ $target == pos ]]; then
    local record="$POS_RECORDS/$name.json" dir="$WORK/pos/$name"  # pos_runs.sh's folder for the direct ones
    [[ -z $stage ]] || dir="$WORK/intermediate/pos/$name"
    [[ -f $record ]] && return 0
    [[ -f $dir/tagger_config.json ]] || logged "$dir.log" python -m fusion train --task pos \
      --data "$ROOT/udpos" --output-dir "$dir" "${flags[@]}" --max-train-sentences 2000 \
      --max-dev-sentences 1000 --epochs 1 --seed "$seed"
    logged "$dir.scored.log" python -m fusion evaluate-pos --checkpoint "$dir" --data "$ROOT/udpos" \
      --max-sentences 500 --name "$name" --output "$record"
  else
    local record="$PAIR_RECORDS/$name.json" dir="$WORK/intermediate/xnli/$name"
    [[ -f $record ]] && return 0
    [[ -f $dir/tagger_config.json ]] || logged "$dir.log" python -m fusion train-pairs --task xnli \
      --data "$ROOT" --output-dir "$dir" "${flags[@]}" --max-train-pairs 2000 --epochs 1 --seed "$seed"
    logged "$dir.scored.log" python -m fusion evaluate-pairs --checkpoint "$dir" --data "$ROOT" \
      --max-pairs "$XNLI_PAIRS" --name "$name" --output "$record"
  fi
  echo "done: $name"
}

models_of() {  # TARGET: the baseline and the target's fusion model
  if [[ $1 == pos ]]; then echo "baseline $POS_MODEL"; else echo "baseline $XNLI_MODEL"; fi
}

job() {  # "direct SEED" or "TASK SEED": the direct models of a seed, or a task's stage and its targets
  local what=$1 seed=$2 stage="" target model flags=()
  [[ -z $ENCODER ]] || flags=(--encoder "$ENCODER")
  if [[ $what != direct ]]; then
    stage="$WORK/intermediate/$what-s$seed"
    [[ -f $stage/adapters.safetensors ]] || logged "$stage.log" python -m fusion intermediate \
      --task "$what" --data "$ROOT" --output-dir "$stage" --seed "$seed" "${flags[@]}"
  fi
  for target in $TARGETS; do
    for model in $(models_of "$target"); do
      if [[ -z $stage && $target == pos ]]; then one_run pos "$model" "$seed" "pos-$model-s$seed"
      elif [[ -z $stage ]]; then one_run xnli "$model" "$seed" "small-xnli-$model-s$seed"
      else one_run "$target" "$model" "$seed" "inter-$what-$target-$model-s$seed" "$stage"; fi
    done
  done
}
export -f logged one_run models_of job

{ for seed in $seeds; do echo "direct $seed"; done
  for seed in $seeds; do for task in $tasks; do echo "$task $seed"; done; done
} | xargs -P "${LANES:-2}" -L 1 bash -c 'set -euo pipefail; job "$0" "$1"'
echo "all steps done; the study: python scripts/results_table.py (or the app's Results tab)"
