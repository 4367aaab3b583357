#!/usr/bin/env bash
# Runs flagfiles x seeds, at most N at a time, then prints the results table.
#
#   launch/run_grid.sh [-j N] [-s "0 1 2"] [-o runs/grid] [-t table.md] FLAGFILE...
#
# Each run is
#   python -m mentornet_tf.train --flagfile=FLAGFILE --seed=S --noise_seed=S \
#       --train_log_dir=OUT/<name>_seed<S> --verbose=0
# where <name> is the flagfile's basename without .flags; its output goes to
# OUT/<name>_seed<S>.log. A run whose results.json already has final_accuracy is skipped (so an
# interrupted grid resumes); delete its directory to redo it. Then
#   python -m mentornet_tf.results_table --runs='OUT/*' [--output=TABLE]
# Run from the repository root (nested flagfile paths are repo-relative), with the venv active.
#
# Example (the grid of benchmarks/results/mnist5k_grid.md, 15 min on 2 CPU cores):
#   launch/run_grid.sh -j 2 -s "0 1 2" -o runs/grid -t runs/grid_table.md \
#       launch/mnist5k_{20,40,80}_{fullmodel,mentornet_pd,mentornet_dd}.flags \
#       launch/mnist5k_40_mentornet_dd_step6.flags launch/mnist5k_40_mentornet_dd_transfer.flags \
#       launch/digits_40.flags launch/digits_40_mentornet_dd.flags
set -euo pipefail

jobs=2
seeds="0 1 2"
out=runs/grid
table=""
usage="usage: $0 [-j N] [-s \"0 1 2\"] [-o OUT_DIR] [-t TABLE.md] FLAGFILE..."
while getopts "j:s:o:t:h" opt; do
  case "$opt" in
    j) jobs=$OPTARG ;;
    s) seeds=$OPTARG ;;
    o) out=$OPTARG ;;
    t) table=$OPTARG ;;
    *) echo "$usage" >&2; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
if [[ $# -eq 0 ]]; then echo "$usage" >&2; exit 2; fi
if ! [[ $jobs =~ ^[1-9][0-9]*$ ]]; then echo "error: -j $jobs is not a positive integer" >&2; exit 2; fi
for flagfile in "$@"; do
  if [[ ! -f $flagfile ]]; then echo "error: flagfile $flagfile does not exist" >&2; exit 2; fi
done
for seed in $seeds; do
  if ! [[ $seed =~ ^[0-9]+$ ]]; then echo "error: seed $seed is not a non-negative integer" >&2; exit 2; fi
done
mkdir -p "$out"

finished() {  # $1: run directory; true when its results.json has a final accuracy
  python - "$1/results.json" <<'EOF'
import json, sys
try:
  sys.exit(0 if json.load(open(sys.argv[1])).get("final_accuracy") is not None else 1)
except (OSError, ValueError):
  sys.exit(1)
EOF
}

run_one() {  # $1: flagfile, $2: seed
  local name dir started status
  name=$(basename "$1" .flags)
  dir="$out/${name}_seed$2"
  if finished "$dir"; then echo "skip  $dir (finished)"; return 0; fi
  rm -rf "$dir"  # a half-written run would otherwise resume from its checkpoint
  started=$(date +%s)
  status=0
  python -m mentornet_tf.train --flagfile="$1" --seed="$2" --noise_seed="$2" \
      --train_log_dir="$dir" --verbose=0 > "$dir.log" 2>&1 || status=$?
  echo "done  $dir rc=$status $(( $(date +%s) - started ))s  $(tail -n 1 "$dir.log")"
  return "$status"
}

failed=0
running=0
for flagfile in "$@"; do
  for seed in $seeds; do
    run_one "$flagfile" "$seed" &
    running=$((running + 1))
    if (( running >= jobs )); then
      wait -n || failed=1
      running=$((running - 1))
    fi
  done
done
while (( running > 0 )); do
  wait -n || failed=1
  running=$((running - 1))
done

table_args=(--runs="$out/*")
if [[ -n $table ]]; then table_args+=(--output="$table"); fi
python -m mentornet_tf.results_table "${table_args[@]}"
exit $failed
