r"""SPADE-PD step vs plain step of the ImageNet students, float32 / bfloat16, with and without XLA.

  python benchmarks/scale_step.py                          # CPU: batch 4 at 75 px, 3 steps
  python benchmarks/scale_step.py --dtypes=float32 --jit=off   # the quick part on CPU
  python benchmarks/scale_step.py --batch_size=128 --image_size=299 --dtypes=bfloat16 \
      --jit=on --steps=20                                  # one GPU (benchmarks/gpu_check.sh)

For each cell (student x dtype x XLA) two step functions are built from benchmarks/spade_step.py
and timed round by round, interleaved, so that a noisy shared machine slows both alike:
  plain:    mean CE, gradient, SGD momentum step (spade_step._plain_step: what a Keras user
            writes), compiled by tf.function (jit_compile=True for XLA);
  spade_pd: SpadeModel.train_step with the shipped MentorNet PD (spade_step._spade_step), run by
            Keras' train function (model.compile(jit_compile=...) for XLA), without weight decay
            or auxiliary loss, as the plain step.
The student is built under the dtype's mixed-precision policy (mentornet_tf/precision.py: float32
variables); MentorNet, percentile and moving average stay float32. Prints median ms per step and
spade_pd / plain for every cell (the target: <= 1.03), then a summary table.

On CPU most of the time goes to tracing and XLA-compiling the two networks (minutes per compiled
step): the whole matrix took 46 minutes on 2 busy cores (benchmarks/results/scale_step_cpu.md),
its float32 cells without XLA about 15.
"""
import argparse
import contextlib
import gc
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from mentornet_tf import entry  # noqa: E402

entry.prepare_environment()  # before TensorFlow: quiet C++ logs, tf.keras = tf_keras (official)

import spade_step  # noqa: E402
import tensorflow as tf  # noqa: E402
import tf_keras as keras  # noqa: E402

from mentornet_tf import precision  # noqa: E402
from mentornet_tf import students  # noqa: E402


@contextlib.contextmanager
def students_built_in(dtype):
  """spade_step builds its students with students.build_student: under `dtype`'s policy here,
  and nothing else it builds (the MentorNet, the weighting, the SpadeModel)."""
  build = students.build_student

  def build_in_policy(*args, **kwargs):
    with precision.student_policy(dtype):
      return build(*args, **kwargs)
  students.build_student = build_in_policy
  try:
    yield
  finally:
    students.build_student = build


def _cell_steps(name, shape, batch_size, dtype, jit):
  """(plain, spade_pd) step callables of one cell, each taking no argument."""
  batch = spade_step._batch(shape, batch_size)  # pylint: disable=protected-access
  with students_built_in(dtype):
    plain = spade_step._plain_step(name, shape)  # pylint: disable=protected-access
    model, _ = spade_step._spade_step(  # pylint: disable=protected-access
        name, shape, batch_size, "mentornet")
  plain = tf.function(plain.python_function, jit_compile=jit)
  # The plain step has no weight decay and no auxiliary loss: the SPADE step neither (the
  # student's own decay, 4e-5 / 1e-4 * sum ||W||^2 / 2, and Inception-ResNet-v2's 0.4 * CE(aux
  # logits) belong to its training loss, not to SPADE's cost). Read when the step is traced.
  model.weight_decay, model.aux_weight = 0.0, 0.0
  # Recompiled with the cell's XLA setting (no step taken yet, so a fresh optimizer is the same).
  model.compile(optimizer=keras.optimizers.SGD(0.01, momentum=0.9), jit_compile=jit)
  spade_fn = model.make_train_function(force=True)
  iterator = iter(tf.data.Dataset.from_tensors(batch).repeat())
  return (lambda: plain(batch)), (lambda: spade_fn(iterator))


def benchmark_cell(name, shape, batch_size, dtype, jit, steps, warmup):
  """Median ms per step of plain and spade_pd, timed interleaved, and the ratio: the median over
  rounds of spade_pd / plain in the same round (paired, so that drift on a shared machine
  cancels; the ratio of the two medians moved by +-0.05 between runs of 12 rounds)."""
  plain, spade_pd = _cell_steps(name, shape, batch_size, dtype, jit)
  runs = {"plain": plain, "spade_pd": spade_pd}
  for _ in range(warmup):  # traces and (XLA) compiles
    for fn in runs.values():
      spade_step._timed(fn)  # pylint: disable=protected-access
  times = {key: [] for key in runs}
  for _ in range(steps):
    for key, fn in runs.items():
      times[key].append(spade_step._timed(fn))  # pylint: disable=protected-access
  medians = {key: statistics.median(values) * 1000 for key, values in times.items()}
  medians["ratio"] = statistics.median(
      a / b for a, b in zip(times["spade_pd"], times["plain"]))
  print(f"{name:20s} {dtype:8s} xla={'on ' if jit else 'off'} B={batch_size:3d} "
        f"{shape[0]}px  plain={medians['plain']:9.1f}ms  spade_pd={medians['spade_pd']:9.1f}ms  "
        f"spade_pd/plain={medians['ratio']:.3f}", flush=True)
  return medians


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--students", default="inception_resnet_v2,resnet50")
  parser.add_argument("--dtypes", default="float32,bfloat16")
  parser.add_argument("--jit", default="off,on", help="off, on or off,on")
  parser.add_argument("--batch_size", type=int, default=4)
  parser.add_argument("--image_size", type=int, default=75)
  parser.add_argument("--steps", type=int, default=3)
  parser.add_argument("--warmup", type=int, default=1)
  args = parser.parse_args()
  print(f"TensorFlow {tf.__version__}, devices: "
        f"{[d.device_type for d in tf.config.list_physical_devices()]}", flush=True)
  shape = (args.image_size, args.image_size, 3)
  results = []
  for name in args.students.split(","):
    for dtype in args.dtypes.split(","):
      for jit in [j == "on" for j in args.jit.split(",")]:
        results.append((name, dtype, jit, benchmark_cell(name, shape, args.batch_size, dtype,
                                                         jit, args.steps, args.warmup)))
        keras.backend.clear_session()  # two of these networks at a time, not sixteen
        gc.collect()
  print("\nstudent              dtype    xla  plain ms  spade_pd ms  spade_pd/plain")
  for name, dtype, jit, medians in results:
    print(f"{name:20s} {dtype:8s} {'on ' if jit else 'off'}  {medians['plain']:8.1f}  "
          f"{medians['spade_pd']:11.1f}  {medians['ratio']:14.3f}")


if __name__ == "__main__":
  main()
