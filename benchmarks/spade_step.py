r"""SPADE step time against the plain step of the same StudentNet, side by side in one run.

  python benchmarks/spade_step.py                                  # mlp (MNIST-5k), CifarNet
  python benchmarks/spade_step.py --students=resnet101 --steps=3   # slow on CPU (~40 s per step)

For each student, three tf.functions run on the same batch, interleaved round by round so that a
noisy shared machine affects them alike:
  plain:      mean CE, gradient, SGD step (what a Keras user writes);
  spade_none: SpadeModel.train_step with v = 1 (our full step: the diagnostics are computed on
              one step in --summary_steps, as in training; the other steps pay one tf.cond);
  spade_pd:   SpadeModel.train_step with the shipped MentorNet PD (percentile, moving average,
              MentorNet forward, example dropout) — the cost of Algorithm 1 in the graph.
and, for reference, plain_fit (the plain step as a tf_keras `train_step` run by Keras'
train_function on the same iterator: what `fit` adds to any step) and the MentorNet weighting
alone on B losses. Prints median ms per step and the ratios spade_pd / plain (the target:
<= 1.10 on the MLP, <= 1.03 on CifarNet = inception), spade_pd / plain_fit and spade_pd /
spade_none.
"""
import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import mentornet_tf  # noqa: E402,F401
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import tf_keras as keras  # noqa: E402

from mentornet_tf import config as config_lib  # noqa: E402
from mentornet_tf import spade  # noqa: E402
from mentornet_tf import students  # noqa: E402
from mentornet_tf.mentor import storage  # noqa: E402
from mentornet_tf.mentor import weighting as weighting_lib  # noqa: E402

SHAPES = {"mlp": (28, 28, 1), "small_cnn": (28, 28, 1), "tiny_cnn": (32, 32, 3),
          "inception": (32, 32, 3), "resnet101": (32, 32, 3)}
PD = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                  "data", "mentornet_models", "mentornet_pd")


def _batch(shape, batch_size):
  rng = np.random.default_rng(0)
  return {"image": tf.constant(rng.random((batch_size,) + shape) * 255, tf.float32),
          "label": tf.constant(rng.integers(0, 10, batch_size), tf.int32),
          "clean_label": tf.constant(rng.integers(0, 10, batch_size), tf.int32),
          "id": tf.range(batch_size, dtype=tf.int64)}


def _spade_step(name, shape, batch_size, weighting, summary_steps=10):
  student = students.build_student(name, 10, shape, seed=0)
  mentornet = storage.load_mentornet(PD)[0] if weighting == "mentornet" else None
  mentor_config = config_lib.MentorConfig(weighting=weighting, trained_mentornet_dir=PD,
                                          example_dropout_rates="0.05,100")
  layer = weighting_lib.build_weighting(mentor_config, 39000, mentornet=mentornet)
  model = spade.SpadeModel(student, layer, batch_size,
                           weight_decay=students.STUDENTS[name].weight_decay,
                           summary_steps=summary_steps)
  model.compile(optimizer=keras.optimizers.SGD(0.01, momentum=0.9))
  model.make_train_function()
  return model, model.train_function


def _plain_step(name, shape):
  student = students.build_student(name, 10, shape, seed=0)
  optimizer = keras.optimizers.SGD(0.01, momentum=0.9)

  @tf.function
  def step(batch):
    with tf.GradientTape() as tape:
      logits = student(batch["image"], training=True)
      loss = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(
          batch["label"], logits, from_logits=True))
    grads = tape.gradient(loss, student.trainable_variables)
    optimizer.apply_gradients(zip(grads, student.trainable_variables))
    return loss
  return step


def _plain_fit_step(name, shape):
  """The plain step as Keras runs it in `fit`: train_step inside Keras' train_function."""
  class Plain(keras.Model):

    def __init__(self):
      super().__init__()
      self.student = students.build_student(name, 10, shape, seed=0)

    def train_step(self, data):
      with tf.GradientTape() as tape:
        loss = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(
            data["label"], self.student(data["image"], training=True), from_logits=True))
      variables = self.student.trainable_variables
      self.optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
      return {"loss": loss}
  model = Plain()
  model.compile(optimizer=keras.optimizers.SGD(0.01, momentum=0.9))
  model.make_train_function()
  return model.train_function


def _timed(fn):
  """Seconds of one step, synchronised on ONE of its outputs (the step has finished when any
  output exists): `fit` hands the step's logs to callbacks as tensors (ours declare
  `_supports_tf_logs`) and fetches none of them per step, so converting the SPADE step's
  diagnostics vector to numpy would time a host read that training does only on sampled steps."""
  start = time.perf_counter()
  out = fn()
  first = tf.nest.flatten(out)[0]
  if hasattr(first, "numpy"):
    first.numpy()
  return time.perf_counter() - start


def benchmark(name, batch_size, steps, warmup, summary_steps=10):
  shape = SHAPES[name]
  batch = _batch(shape, batch_size)
  iterator_data = tf.data.Dataset.from_tensors(batch).repeat()
  plain = _plain_step(name, shape)
  plain_fit = _plain_fit_step(name, shape)
  _, none_fn = _spade_step(name, shape, batch_size, "none", summary_steps)
  pd_model, pd_fn = _spade_step(name, shape, batch_size, "mentornet", summary_steps)
  fit_iter, none_iter, pd_iter = iter(iterator_data), iter(iterator_data), iter(iterator_data)
  runs = {"plain": lambda: plain(batch), "plain_fit": lambda: plain_fit(fit_iter),
          "spade_none": lambda: none_fn(none_iter), "spade_pd": lambda: pd_fn(pd_iter)}
  losses = tf.constant(np.random.default_rng(1).exponential(size=batch_size), tf.float32)
  weight_fn = tf.function(lambda: pd_model.weighting(losses, batch["id"], 20000).weights)
  runs["mentor_only"] = weight_fn
  times = {k: [] for k in runs}
  for _ in range(warmup):
    for fn in runs.values():
      _timed(fn)
  for _ in range(steps):
    for key, fn in runs.items():
      times[key].append(_timed(fn))
  medians = {k: statistics.median(v) * 1000 for k, v in times.items()}
  print(f"{name:10s} B={batch_size:4d} steps={steps:3d}  " + "  ".join(
      f"{k}={v:8.2f}ms" for k, v in medians.items()) +
        f"  spade_pd/plain={medians['spade_pd'] / medians['plain']:.3f}"
        f"  spade_pd/plain_fit={medians['spade_pd'] / medians['plain_fit']:.3f}"
        f"  spade_pd/spade_none={medians['spade_pd'] / medians['spade_none']:.3f}", flush=True)
  return medians


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--students", default="mlp,inception")
  parser.add_argument("--batch_size", type=int, default=128)
  parser.add_argument("--steps", type=int, default=30)
  parser.add_argument("--warmup", type=int, default=3)
  parser.add_argument("--summary_steps", type=int, default=10,
                      help="the SPADE steps' --summary_steps (the training default)")
  args = parser.parse_args()
  print(f"TensorFlow {tf.__version__}, devices: "
        f"{[d.device_type for d in tf.config.list_physical_devices()]}")
  for name in args.students.split(","):
    benchmark(name, args.batch_size, args.steps if name != "resnet101" else min(args.steps, 3),
              min(args.warmup, 1) if name == "resnet101" else args.warmup, args.summary_steps)


if __name__ == "__main__":
  main()
