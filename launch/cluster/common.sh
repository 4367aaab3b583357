# Shared by launch_multi_worker.sh and launch_parameter_server.sh (sourced, not run).
# Parses the options, computes TF_CONFIG per task (tf_config.py), starts every task over ssh (or
# locally), stops them all on exit. See launch/README.md.

CLUSTER_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_DIR="$(cd "${CLUSTER_DIR}/../.." && pwd)"

HOSTS=""
HOSTFILE=""
FLAGFILE=""
PORT=2222
NUM_PS=1
GPUS_PER_HOST=0
WORKDIR="${REPO_DIR}"
PYTHON_BIN="python3"
LAUNCHER="ssh"
SSH_CMD="ssh -tt -o BatchMode=yes"
LOG_DIR=""
DRY_RUN=0
EXTRA_FLAGS=()

usage() {
  cat <<EOF
usage: $(basename "$0") (--hosts=H1,H2,... | --hostfile=FILE) --flagfile=FILE [options] [-- FLAG...]

  --hosts=LIST       comma-separated NAME or NAME:PORT (see launch/README.md for the roles)
  --hostfile=FILE    the same, one or more a line; '#' starts a comment
  --flagfile=FILE    training flagfile, a path valid in --workdir on every host
  --port=N           port of hosts given without one (default 2222; repeats count up)
  --gpus_per_host=N  one GPU per worker task: the k-th worker task listed on a host gets
                     CUDA_VISIBLE_DEVICES=k mod N (other tasks see every GPU; default 0: all
                     tasks see every GPU, one multi-GPU task per host)
${USAGE_EXTRA}  --workdir=DIR      directory of the checkout on every host (default: this checkout)
  --python=BIN       python with mentornet_tf installed, on every host (default python3)
  --launcher=KIND    ssh (default) or local (every task on this machine, for tests)
  --ssh=CMD          ssh command (default: "ssh -tt -o BatchMode=yes"; -tt so that stopping
                     the launcher hangs up and stops the remote task)
  --log_dir=DIR      one log per task, on this machine (default: launch_logs/<time>)
  --dry_run          print each task's TF_CONFIG and command; start nothing
  -- FLAG...         extra training flags, e.g. -- --train_log_dir=/shared/run1 --seed=1
EOF
}

die() {
  echo "error: $*" >&2
  exit 2
}

parse_args() {
  while [[ $# -gt 0 ]]; do
    case "$1" in
      --hosts=*) HOSTS="${1#*=}" ;;
      --hostfile=*) HOSTFILE="${1#*=}" ;;
      --flagfile=*) FLAGFILE="${1#*=}" ;;
      --port=*) PORT="${1#*=}" ;;
      --gpus_per_host=*) GPUS_PER_HOST="${1#*=}" ;;
      --num_ps=*)
        [[ "${MODE}" == "parameter_server" ]] || die "--num_ps is for launch_parameter_server.sh"
        NUM_PS="${1#*=}" ;;
      --workdir=*) WORKDIR="${1#*=}" ;;
      --python=*) PYTHON_BIN="${1#*=}" ;;
      --launcher=*) LAUNCHER="${1#*=}" ;;
      --ssh=*) SSH_CMD="${1#*=}" ;;
      --log_dir=*) LOG_DIR="${1#*=}" ;;
      --dry_run) DRY_RUN=1 ;;
      -h|--help) usage; exit 0 ;;
      --) shift; EXTRA_FLAGS=("$@"); break ;;
      *) usage >&2; die "unknown option '$1' (training flags go after --)" ;;
    esac
    shift
  done
  [[ -n "${HOSTS}${HOSTFILE}" ]] || { usage >&2; die "give --hosts or --hostfile"; }
  [[ -n "${FLAGFILE}" ]] || { usage >&2; die "give --flagfile"; }
  [[ "${LAUNCHER}" == "ssh" || "${LAUNCHER}" == "local" ]] || \
    die "--launcher=${LAUNCHER} is invalid: choose ssh or local"
  [[ "${PORT}" =~ ^[0-9]+$ ]] || die "--port=${PORT} is invalid: expected a number"
  [[ "${NUM_PS}" =~ ^[0-9]+$ ]] || die "--num_ps=${NUM_PS} is invalid: expected a number"
  [[ "${GPUS_PER_HOST}" =~ ^[0-9]+$ ]] || \
    die "--gpus_per_host=${GPUS_PER_HOST} is invalid: expected a number"
  if [[ "${DRY_RUN}" == 0 && "${LAUNCHER}" == "local" && ! -f "${WORKDIR}/${FLAGFILE}" && \
        ! -f "${FLAGFILE}" ]]; then
    die "--flagfile=${FLAGFILE} does not exist (relative paths are read in --workdir)"
  fi
}

# Single-quotes $1 for a POSIX shell (JSON stays readable: it has no single quotes).
shell_quote() {
  local s="$1"
  if [[ "${s}" =~ ^[A-Za-z0-9_./:=,+@%-]+$ ]]; then
    printf '%s' "${s}"
  else
    printf "'%s'" "${s//\'/\'\\\'\'}"
  fi
}

# The shell command that runs one task on its host.
task_command() {
  local tf_config="$1" gpu="${2:-}"
  local cmd flag
  cmd="cd $(shell_quote "${WORKDIR}") && exec env TF_CONFIG=$(shell_quote "${tf_config}")"
  [[ -z "${gpu}" ]] || cmd+=" CUDA_VISIBLE_DEVICES=${gpu}"
  cmd+=" $(shell_quote "${PYTHON_BIN}") -m mentornet_tf.train"
  cmd+=" --flagfile=$(shell_quote "${FLAGFILE}") --strategy=${STRATEGY}"
  for flag in "${EXTRA_FLAGS[@]}"; do
    cmd+=" $(shell_quote "${flag}")"
  done
  echo "${cmd}"
}

TASK_NAMES=()
TASK_PIDS=()

stop_tasks() {
  local i pid
  for i in "${!TASK_PIDS[@]}"; do
    pid="${TASK_PIDS[$i]}"
    if kill -0 "${pid}" 2>/dev/null; then
      echo "stopping ${TASK_NAMES[$i]} (pid ${pid})" >&2
      if [[ "${LAUNCHER}" == "local" ]]; then
        kill -TERM -- "-${pid}" 2>/dev/null || true  # its own process group (setsid)
      else
        kill -TERM "${pid}" 2>/dev/null || true  # ssh -tt: the remote task gets SIGHUP
      fi
    fi
  done
}

# Reads the task table, prints it (dry run) or starts every task in the background.
start_tasks() {
  local tasks
  tasks="$(python3 "${CLUSTER_DIR}/tf_config.py" --mode="${MODE}" --hosts="${HOSTS}" \
    --hostfile="${HOSTFILE}" --port="${PORT}" --num_ps="${NUM_PS}")" || exit 2
  if [[ -z "${LOG_DIR}" ]]; then
    LOG_DIR="launch_logs/$(date +%Y%m%d-%H%M%S)"
  fi
  echo "# ${STRATEGY}: $(echo "${tasks}" | wc -l) tasks, logs in ${LOG_DIR}"
  [[ "${DRY_RUN}" == 1 ]] || mkdir -p "${LOG_DIR}"
  local job index host tf_config cmd gpu
  declare -A workers_on_host=()
  while IFS=$'\t' read -r job index host tf_config; do
    gpu=""
    if [[ "${GPUS_PER_HOST}" -gt 0 && "${job}" == "worker" ]]; then
      gpu=$(( ${workers_on_host[${host}]:-0} % GPUS_PER_HOST ))
      workers_on_host[${host}]=$(( ${workers_on_host[${host}]:-0} + 1 ))
    fi
    cmd="$(task_command "${tf_config}" "${gpu}")"
    echo "# ${job}:${index} on ${host}"
    echo "TF_CONFIG=${tf_config}"
    echo "COMMAND=${cmd}"
    if [[ "${LAUNCHER}" == "local" ]]; then
      echo "LAUNCH=setsid bash -c <COMMAND>"
    else
      echo "LAUNCH=${SSH_CMD} ${host} <COMMAND>"
    fi
    if [[ "${DRY_RUN}" == 0 ]]; then
      if [[ "${LAUNCHER}" == "local" ]]; then
        setsid bash -c "${cmd}" >"${LOG_DIR}/${job}${index}.log" 2>&1 </dev/null &
      else
        local ssh_words
        read -r -a ssh_words <<<"${SSH_CMD}"
        "${ssh_words[@]}" "${host}" "${cmd}" >"${LOG_DIR}/${job}${index}.log" 2>&1 </dev/null &
      fi
      TASK_NAMES+=("${job}:${index}")
      TASK_PIDS+=("$!")
    fi
  done <<<"${tasks}"
}

# Waits for the task named $1 and returns its exit status.
wait_task() {
  local i
  for i in "${!TASK_NAMES[@]}"; do
    if [[ "${TASK_NAMES[$i]}" == "$1" ]]; then
      wait "${TASK_PIDS[$i]}"
      return $?
    fi
  done
  return 127
}
