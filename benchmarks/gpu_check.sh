#!/usr/bin/env bash
# One prepared check for a machine with an NVIDIA GPU (under 8 minutes); nothing depends on it.
#
#   bash benchmarks/gpu_check.sh            # from the repository root; OUT=dir also keeps a copy
#
# 1. nvidia-smi;
# 2. TensorFlow must see a GPU: if it is not installed or sees none, says why and exits 3;
# 3. the step benchmark on the GPU (benchmarks/scale_step.py): Inception-ResNet-v2 and ResNet-50,
#    plain vs SPADE-PD step, batch 128 at 299 px, bfloat16 + XLA;
# 4. the input benchmark on this machine's cores (benchmarks/input_pipeline.py, if present), with
#    the step rate measured in 3 (the cores needed to feed the GPU);
# 5. a 300-step CIFAR-10-shaped resnet101 SPADE run (MentorNet PD) on fake data: images/s and the
#    peak GPU memory (tf.config.experimental.get_memory_info).
# Each stage has its own time limit; a stage that fails or times out is reported and the next
# one runs. Everything printed also goes to $OUT/gpu_check.log when OUT is set.
set -u
cd "$(dirname "$0")/.."
if [ -n "${OUT:-}" ]; then
  mkdir -p "$OUT"
  exec > >(tee -a "$OUT/gpu_check.log") 2>&1
fi
PY=${PYTHON:-}
if [ -z "$PY" ]; then
  if [ -x .venv/bin/python ]; then PY=.venv/bin/python; else PY=python3; fi
fi
export TF_USE_LEGACY_KERAS=1 TF_CPP_MIN_LOG_LEVEL=${TF_CPP_MIN_LOG_LEVEL:-2}
START=$(date +%s)
stage() { echo; echo "=== $1 ($(( $(date +%s) - START )) s) ==="; }

stage "nvidia-smi"
if command -v nvidia-smi >/dev/null 2>&1; then
  nvidia-smi || echo "nvidia-smi failed (status $?)"
else
  echo "nvidia-smi not found on PATH"
fi

stage "TensorFlow and the GPU ($PY)"
if ! command -v "$PY" >/dev/null 2>&1; then
  echo "no GPU check: $PY not found (set PYTHON=/path/to/python)"
  exit 3
fi
GPUS=$("$PY" -c "import tensorflow as tf; print(tf.config.list_physical_devices('GPU'))" 2>/tmp/gpu_check_tf.err)
STATUS=$?
if [ $STATUS -ne 0 ]; then
  echo "no GPU check: TensorFlow cannot be imported by $PY (status $STATUS):"
  tail -n 5 /tmp/gpu_check_tf.err
  exit 3
fi
echo "$GPUS"
if [ "$GPUS" = "[]" ]; then
  "$PY" -c "import tensorflow as tf; b = tf.sysconfig.get_build_info(); print('no GPU check: TensorFlow', tf.__version__, 'sees no GPU (built with CUDA:', b.get('is_cuda_build'), ', CUDA', b.get('cuda_version'), ', cuDNN', b.get('cudnn_version'), '); see nvidia-smi above and the CUDA libraries on LD_LIBRARY_PATH')"
  tail -n 3 /tmp/gpu_check_tf.err
  exit 3
fi
if ! "$PY" -c "import mentornet_tf, tf_keras" 2>/tmp/gpu_check_tf.err; then
  echo "no GPU check: mentornet_tf or tf_keras cannot be imported (pip install -c constraints.txt -e .):"
  tail -n 5 /tmp/gpu_check_tf.err
  exit 3
fi

stage "step benchmark: batch 128, 299 px, bfloat16 + XLA"
STEP_LOG=$(mktemp)
timeout 230 "$PY" benchmarks/scale_step.py --batch_size=128 --image_size=299 --dtypes=bfloat16 \
    --jit=on --steps=10 --warmup=2 | tee "$STEP_LOG"
echo "(status ${PIPESTATUS[0]}; 124 = timed out)"
# Steps per second of the Inception-ResNet-v2 SPADE-PD step, for the input benchmark.
STEPS_PER_SECOND=$(awk '/^inception_resnet_v2 .*spade_pd=/ {
  for (i = 1; i <= NF; i++) if ($i ~ /^spade_pd=/) { v = substr($i, 10); if (v == "") v = $(i + 1);
  sub(/ms$/, "", v); if (v + 0 > 0) printf "%.2f", 1000 / v } }' "$STEP_LOG")

stage "input benchmark on $(nproc) cores (feeding ${STEPS_PER_SECOND:-1} steps/s x 128)"
if [ -f benchmarks/input_pipeline.py ]; then
  timeout 75 "$PY" benchmarks/input_pipeline.py --batch_size=128 --batches=10 --rounds=2 \
      --steps_per_second="${STEPS_PER_SECOND:-1}"
  echo "(status $?; 124 = timed out)"
else
  echo "benchmarks/input_pipeline.py not present: skipped"
fi

stage "300-step resnet101 SPADE (MentorNet PD) run, fake CIFAR-10-shaped data, batch 128"
RUN_DIR=$(mktemp -d)
timeout 110 "$PY" - "$RUN_DIR" <<'EOF'
import statistics
import sys

from mentornet_tf import entry
entry.prepare_environment()
import tensorflow as tf  # noqa: E402
from mentornet_tf import config as c  # noqa: E402
from mentornet_tf import train  # noqa: E402

run_dir = sys.argv[1]
config = c.TrainConfig(
    data=c.DataConfig(dataset_name="fake", batch_size=128),  # 32 x 32 x 3, 10 classes
    student=c.StudentConfig(studentnet="resnet101"),
    mentor=c.MentorConfig(weighting="mentornet",
                          trained_mentornet_dir="data/mentornet_models/mentornet_pd"),
    train_log_dir=run_dir, max_number_of_steps=300, steps_per_epoch=100, eval_interval=0,
    save_interval_secs=10**6, summary_steps=10, verbose=2)
results = train.train(config)
rates = []
for path in tf.io.gfile.glob(f"{run_dir}/tensorboard/train/events.*"):
  for event in tf.compat.v1.train.summary_iterator(path):
    for value in event.summary.value:
      if value.tag == "perf/examples_per_second":
        rates.append((event.step, float(tf.make_ndarray(value.tensor))))
rates = [r for _, r in sorted(rates)]
steady = rates[len(rates) // 2:]  # past tracing and warm-up
peak = tf.config.experimental.get_memory_info("GPU:0")["peak"]
print(f"resnet101 SPADE-PD, batch 128: {statistics.median(steady):.0f} images/s (median of the "
      f"last {len(steady)} summaries; whole run incl. tracing: "
      f"{results['steps'] * 128 / results['train_seconds']:.0f}); peak GPU memory "
      f"{peak / 2**30:.2f} GiB")
EOF
echo "(status $?; 124 = timed out)"
rm -rf "$RUN_DIR" "$STEP_LOG"
stage "done"
