#!/usr/bin/env bash
# Synchronous data parallelism (--strategy=multi_worker_mirrored) over a host list: every host
# runs one worker; worker 0 is the chief. --train_log_dir must be on a file system that every
# worker sees (resume reads the chief's checkpoints). See launch/README.md.
#
#   launch/cluster/launch_multi_worker.sh --hosts=node1,node2 --flagfile=launch/mnist5k_40.flags \
#       [--dry_run] -- --train_log_dir=/shared/runs/mnist5k_40_mw
#
# Waits for every worker; exits with the first failing worker's status. When a worker dies the
# others fail by themselves (about 10 to 60 s); start the same command again to resume from the
# last checkpoint in <train_log_dir>/ckpt.
set -euo pipefail
MODE="multi_worker"
STRATEGY="multi_worker_mirrored"
USAGE_EXTRA=""
. "$(dirname "$0")/common.sh"

parse_args "$@"
trap stop_tasks EXIT
trap 'exit 130' INT TERM
start_tasks
[[ "${DRY_RUN}" == 1 ]] && exit 0

status=0
for name in "${TASK_NAMES[@]}"; do
  if wait_task "${name}"; then
    echo "${name} finished"
  else
    code=$?
    echo "${name} failed with status ${code} (log: ${LOG_DIR}/${name/:/}.log)" >&2
    [[ "${status}" != 0 ]] || status="${code}"
  fi
done
exit "${status}"
