r"""What the gradient norm of the divergence check costs under XLA on CPU, without the network.

  python benchmarks/xla_norm_cost.py --student=inception_resnet_v2 --rounds=20   # ~1 min

The SPADE step reads every gradient once more than the plain step does: the global norm that
`nonfinite.all_finite` checks (and the diagnostics report). Compiled by XLA on CPU this costs
Inception-ResNet-v2's step far more than it does without XLA (benchmarks/results/
scale_step_cpu.md). This script isolates it: random gradients of the student's variable shapes,
then the SGD-momentum update alone, or with the norm computed three ways, each a tf.function with
and without `jit_compile`, run in turn for --rounds rounds. Prints the median ms of each.

  none:          the update only (what the plain step does with the gradients);
  global_norm:   tf.linalg.global_norm (as built), then the update;
  partial_last:  per tensor, sum of squares over all axes but the last first (an output XLA could
                 split over threads), then the rest;
  partial_rows:  the same, keeping the first axis.
"""
import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from mentornet_tf import entry  # noqa: E402

entry.prepare_environment()  # before TensorFlow: quiet C++ logs, tf.keras = tf_keras

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from mentornet_tf import students  # noqa: E402

tf.get_logger().setLevel("ERROR")  # eight functions traced once each: no retracing warnings


def _partial_norm(gradients, keep_last: bool):
  parts = []
  for gradient in gradients:
    squares = tf.square(gradient)
    if gradient.shape.rank >= 2:
      if keep_last:
        squares = tf.reduce_sum(tf.reshape(squares, [-1, gradient.shape[-1]]), axis=0)
      else:
        squares = tf.reduce_sum(tf.reshape(squares, [gradient.shape[0], -1]), axis=1)
    parts.append(tf.reduce_sum(squares))
  return tf.sqrt(tf.add_n(parts))


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--student", default="inception_resnet_v2")
  parser.add_argument("--image_size", type=int, default=75)
  parser.add_argument("--num_classes", type=int, default=1000)
  parser.add_argument("--rounds", type=int, default=20)
  args = parser.parse_args()

  student = students.build_student(args.student, args.num_classes,
                                   (args.image_size, args.image_size, 3), seed=0)
  shapes = [v.shape for v in student.trainable_variables]
  rng = np.random.default_rng(0)
  gradients = [tf.constant(rng.standard_normal(s).astype(np.float32)) for s in shapes]
  variables = [tf.Variable(tf.zeros(s)) for s in shapes]
  momenta = [tf.Variable(tf.zeros(s)) for s in shapes]
  print(f"{args.student}: {len(shapes)} trainable tensors, "
        f"{sum(int(np.prod(s)) for s in shapes):,} parameters; TensorFlow {tf.__version__}")

  def update(grads):
    for variable, momentum, gradient in zip(variables, momenta, grads):
      momentum.assign(0.9 * momentum - 0.01 * gradient)
      variable.assign_add(momentum)

  def with_norm(norm_fn):
    def step(grads):
      norm = norm_fn(grads)
      update(grads)
      return norm
    return step

  variants = {
      "none": with_norm(lambda grads: tf.constant(1.0)),
      "global_norm": with_norm(tf.linalg.global_norm),
      "partial_last": with_norm(lambda grads: _partial_norm(grads, keep_last=True)),
      "partial_rows": with_norm(lambda grads: _partial_norm(grads, keep_last=False)),
  }
  functions = {(name, jit): tf.function(fn, jit_compile=jit)
               for jit in (False, True) for name, fn in variants.items()}
  for fn in functions.values():  # trace and compile
    fn(gradients).numpy()
  times = {key: [] for key in functions}
  for _ in range(args.rounds):
    for key, fn in functions.items():
      start = time.perf_counter()
      fn(gradients).numpy()
      times[key].append(time.perf_counter() - start)
  for jit in (False, True):
    base = statistics.median(times[("none", jit)]) * 1000
    print(f"\nXLA {'on' if jit else 'off'}:")
    for name in variants:
      ms = statistics.median(times[(name, jit)]) * 1000
      print(f"  {name:<13}{ms:8.1f} ms  (+{ms - base:.1f} ms over the update alone)")


if __name__ == "__main__":
  main()
