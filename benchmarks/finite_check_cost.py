r"""What the divergence check costs the SPADE step: the plain step against SPADE-PD with the check
as built and with parts of it taken out, side by side in one run.

  python benchmarks/finite_check_cost.py --student=mlp --batch_size=128 --rounds=300
  python benchmarks/finite_check_cost.py --student=inception_resnet_v2 --batch_size=16 \
      --image_size=75 --rounds=80                                   # ~4 min on 2 CPU cores

Variants (each a SpadeModel train function traced while the named part is replaced in this
process only; nothing in the package changes):
  plain:            mean CE, gradient, SGD step (benchmarks/spade_step.py);
  spade_pd:         SpadeModel.train_step as built: the assertion (nonfinite.assert_finite)
                    reads the global gradient norm and ends the call of a non-finite step; the
                    update does not wait for it;
  gated:            the design before 2026-12-05: the gradients depend on the assertion, so no
                    variable update starts before every gradient and their norm exist;
  no_check:         no assertion; the gradient norm is still computed every step (the
                    diagnostics' tf.cond captures it);
  no_gradient_pass: no assertion and no gradient norm (the diagnostics report 1.0): SPADE's
                    own cost without any read of the gradients beyond the optimizer's.
Weight decay and the auxiliary loss are off, as in benchmarks/scale_step.py. Rounds run every
variant once in turn; printed are the medians (ms) and the median over rounds of each variant's
time divided by plain's in the same round (paired, so that drift on a shared machine cancels).
"""
import argparse
import contextlib
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from mentornet_tf import entry  # noqa: E402

entry.prepare_environment()  # before TensorFlow: quiet C++ logs, tf.keras = tf_keras

import scale_step  # noqa: E402
import spade_step  # noqa: E402
import tensorflow as tf  # noqa: E402
import tf_keras as keras  # noqa: E402

from mentornet_tf import nonfinite  # noqa: E402

VARIANTS = ("spade_pd", "gated", "no_check", "no_gradient_pass")


@contextlib.contextmanager
def _replaced(variant, optimizer):
  """The parts of the check a variant changes, replaced while its step is traced."""
  saved = nonfinite.assert_finite, tf.linalg.global_norm, optimizer.apply_gradients
  assertions = []
  if variant == "gated":
    def keep(*args):
      assertions.append(tf.debugging.Assert(args[0], [nonfinite.DIVERGENCE_MARKER], summarize=1))
      saved[0](*args)

    def apply_after_the_assertion(grads_and_vars, *args, **kwargs):
      grads_and_vars = list(grads_and_vars)
      with tf.control_dependencies(assertions):
        gradients = [tf.identity(g) for g, _ in grads_and_vars]
      return saved[2](zip(gradients, [v for _, v in grads_and_vars]), *args, **kwargs)
    nonfinite.assert_finite, optimizer.apply_gradients = keep, apply_after_the_assertion
  elif variant in ("no_check", "no_gradient_pass"):
    nonfinite.assert_finite = lambda *unused: None
  if variant == "no_gradient_pass":
    tf.linalg.global_norm = lambda tensors, name=None: tf.constant(1.0)
  try:
    yield
  finally:
    nonfinite.assert_finite, tf.linalg.global_norm = saved[:2]
    optimizer.apply_gradients = saved[2]


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--student", default="mlp")
  parser.add_argument("--batch_size", type=int, default=128)
  parser.add_argument("--image_size", type=int, default=0,
                      help="0: the student's own shape in spade_step.SHAPES")
  parser.add_argument("--rounds", type=int, default=100)
  parser.add_argument("--warmup", type=int, default=2)
  parser.add_argument("--dtype", default="float32", help="the students' compute dtype")
  parser.add_argument("--jit", action="store_true",
                      help="XLA for both steps (the check is then a recorded flag: only "
                      "spade_pd and no_gradient_pass differ)")
  args = parser.parse_args()
  shape = ((args.image_size, args.image_size, 3) if args.image_size
           else spade_step.SHAPES[args.student])
  batch = spade_step._batch(shape, args.batch_size)  # pylint: disable=protected-access
  with scale_step.students_built_in(args.dtype):
    plain = spade_step._plain_step(args.student, shape)  # pylint: disable=protected-access
  plain = tf.function(plain.python_function, jit_compile=args.jit)
  runs = {"plain": lambda: plain(batch)}
  for variant in (("spade_pd", "no_gradient_pass") if args.jit else VARIANTS):
    with scale_step.students_built_in(args.dtype):
      model, _ = spade_step._spade_step(  # pylint: disable=protected-access
          args.student, shape, args.batch_size, "mentornet")
    model.weight_decay, model.aux_weight = 0.0, 0.0  # read when the step is traced
    model.compile(optimizer=keras.optimizers.SGD(0.01, momentum=0.9), jit_compile=args.jit)
    train_function = model.make_train_function(force=True)
    iterator = iter(tf.data.Dataset.from_tensors(batch).repeat())
    with _replaced(variant, model.optimizer):
      spade_step._timed(lambda: train_function(iterator))  # pylint: disable=protected-access
    runs[variant] = (lambda f, i: lambda: f(i))(train_function, iterator)
  for _ in range(args.warmup):
    for fn in runs.values():
      spade_step._timed(fn)  # pylint: disable=protected-access
  times = {key: [] for key in runs}
  for _ in range(args.rounds):
    for key, fn in runs.items():
      times[key].append(spade_step._timed(fn))  # pylint: disable=protected-access
  print(f"{args.student} B={args.batch_size} {shape[0]}px rounds={args.rounds} "
        f"{args.dtype} xla={'on' if args.jit else 'off'}")
  print(f"{'variant':18s} {'median ms':>10s} {'paired ratio to plain':>22s}")
  for key, values in times.items():
    paired = statistics.median(a / b for a, b in zip(values, times["plain"]))
    print(f"{key:18s} {statistics.median(values) * 1000:10.2f} {paired:22.3f}")


if __name__ == "__main__":
  main()
