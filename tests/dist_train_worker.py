r"""Helper of tests/test_distributed.py: `python -m mentornet_tf.train` with two test hooks.

  MENTORNET_TEST_DUMP=/path/weights.npz python tests/dist_train_worker.py --flagfile=... [...]

The entry point is the real one (same flags, same `train.main`); the hooks only wrap
`SpadeModel.fit` from the outside:
  MENTORNET_TEST_DUMP        after `fit` returns, write this process's copy of the student
                             weights, the loss moving average and the step count to an .npz file
                             (the non-chief worker of a multi-worker job writes no checkpoint).
  MENTORNET_TEST_STEP_DELAY  sleep this many seconds after every step, so that a test can kill a
                             worker mid-run at a predictable point (it changes no number).
  MENTORNET_TEST_PRINT_IDS   print the example ids and the (noisy) labels of every training
                             batch ("BATCH_IDS [ids] [labels]") on the stderr of the process that
                             runs the step (under parameter_server: the worker), to check how
                             batches are sharded and that label noise depends on the id only.
"""
import os
import sys
import time

import mentornet_tf  # noqa: F401  (selects tf_keras before TensorFlow is imported)
import numpy as np
import tensorflow as tf
import tf_keras as keras

from mentornet_tf import cli
from mentornet_tf import spade
from mentornet_tf import train


class _SleepAfterStep(keras.callbacks.Callback):
  """Slows the run down so that a test can kill it between two known checkpoints."""

  def __init__(self, seconds: float):
    super().__init__()
    self.seconds = seconds

  def on_train_batch_end(self, batch, logs=None):
    time.sleep(self.seconds)


def _install_hooks():
  dump_path = os.environ.get("MENTORNET_TEST_DUMP", "")
  delay = float(os.environ.get("MENTORNET_TEST_STEP_DELAY", "0") or 0)
  original_fit = spade.SpadeModel.fit

  def fit(self, *args, **kwargs):
    if delay > 0:
      kwargs["callbacks"] = list(kwargs.get("callbacks") or []) + [_SleepAfterStep(delay)]
    history = original_fit(self, *args, **kwargs)
    if dump_path:
      arrays = {f"student_{i}": w for i, w in enumerate(self.student.get_weights())}
      arrays["moving_average"] = np.asarray(self.weighting.moving_average.numpy())
      # Where the state lives (under parameter_server: on the ps, shared by the workers).
      arrays["moving_average_device"] = np.asarray(self.weighting.moving_average.device)
      if self.weighting.mentornet is not None:
        arrays["mentornet_device"] = np.asarray(self.weighting.mentornet.weights[0].device)
      arrays["step"] = np.asarray(self.optimizer.iterations.numpy())
      np.savez(dump_path + ".tmp.npz", **arrays)
      os.replace(dump_path + ".tmp.npz", dump_path)
    return history

  spade.SpadeModel.fit = fit
  if os.environ.get("MENTORNET_TEST_PRINT_IDS"):
    original_train_step = spade.SpadeModel.train_step

    def train_step(self, data):
      tf.print("BATCH_IDS", data["id"], data["label"], summarize=-1,
               output_stream=sys.stderr)
      return original_train_step(self, data)

    spade.SpadeModel.train_step = train_step


if __name__ == "__main__":
  _install_hooks()
  train.define_flags()  # the entry registers its flags only when it runs as a command
  cli.run(train.main)  # as `python -m mentornet_tf.train`: one-line errors, its exit statuses
