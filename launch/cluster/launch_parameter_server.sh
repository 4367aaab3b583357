#!/usr/bin/env bash
# Asynchronous SGD (--strategy=parameter_server, the paper's setting) over a host list: host 1
# is the chief (coordinator: runs fit, writes checkpoints and results), the next --num_ps hosts
# are parameter servers, the rest are workers. Workers and ps only serve; they are stopped when
# the chief exits. See launch/README.md.
#
#   launch/cluster/launch_parameter_server.sh --hostfile=hosts.txt --num_ps=1 \
#       --flagfile=launch/mnist5k_40.flags [--dry_run] -- --train_log_dir=/shared/runs/ps
set -euo pipefail
MODE="parameter_server"
STRATEGY="parameter_server"
USAGE_EXTRA="  --num_ps=N         parameter servers: hosts 2..N+1 (default 1)
"
. "$(dirname "$0")/common.sh"

parse_args "$@"
trap stop_tasks EXIT
trap 'exit 130' INT TERM
start_tasks
[[ "${DRY_RUN}" == 1 ]] && exit 0

# The coordinator decides; servers never exit by themselves (stop_tasks ends them on exit).
if wait_task "chief:0"; then
  echo "chief:0 finished; stopping the workers and parameter servers"
  exit 0
else
  code=$?
  echo "chief:0 failed with status ${code} (log: ${LOG_DIR}/chief0.log)" >&2
  exit "${code}"
fi
