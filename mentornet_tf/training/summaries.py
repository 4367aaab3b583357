"""TensorBoard for a training run: one tag per quantity, per-step values every --summary_steps.

Under `<train_log_dir>/tensorboard/` (chief only; other workers write nothing):
  train/       `TAGS` (the per-step values of `SpadeModel` on the steps it samples, with the
               original's names inside groups), `perf/steps_per_second`,
               `perf/examples_per_second`, and the histogram `mentor/v` of the sampled step's v;
  validation/  `eval/accuracy`, `eval/top<k>`, `eval/loss` at each evaluation (clean test split);
  mentornet/   the MentorNet (`mentornet/...`: curriculum images, Step 6 updates) and, with
               `--export_weights`, the whole training split each epoch (`train_split/...`);
  hparams/     the run's flags as hparams and `eval/final_accuracy`, `eval/best_accuracy` as
               metrics, for TensorBoard's HParams tab over a grid of runs; a WebVision run with
               --imagenet_val_dir adds `eval/final_imagenet_val` (and `..._top<k>`), its top-1
               (top-k) on ILSVRC12 val of the same classes.
The step of the train/ values is the sampled step's pre-increment count (0, N, 2N, ...); the
other writers use the step count after the step (or the epoch).
"""
import dataclasses
import os
import re
import time
from typing import Dict, Optional

import numpy as np
import tensorflow as tf
import tf_keras as keras

from mentornet_tf import step_diagnostics
from mentornet_tf.training import callbacks as callbacks_lib

TAGS = {
    "total_loss": "loss/total_loss", "orig_loss": "loss/orig_loss",
    "weighted_loss": "loss/weighted_loss",
    "percentile_loss": "mentor/percentile_loss",
    "loss_moving_percentile": "mentor/loss_moving_percentile",
    "dropout_rate": "mentor/dropout_rate", "epoch_step": "mentor/epoch_step",
    "data_util": "mentor/data_util", "batch_sum_v": "mentor/batch_sum_v",
    "learning_rate": "learning_rate", "gradient_norm": "gradient_norm",
    "accuracy_noisy": "noise/accuracy_noisy", "accuracy_clean": "noise/accuracy_clean",
    "memorized": "noise/memorized", "mean_v_clean": "noise/mean_v_clean",
    "mean_v_corrupted": "noise/mean_v_corrupted",
    "v_precision_clean": "noise/v_precision_clean", "v_recall_clean": "noise/v_recall_clean",
    "v_auc": "noise/v_auc",
}
DESCRIPTIONS = {
    "data_util": "fraction of examples with v > 0.001 since step 0 (the original's data_util)",
    "v_precision_clean": "of the examples with v >= 0.5, the share whose label is clean",
    "v_recall_clean": "of the clean examples, the share with v >= 0.5",
    "v_auc": "ROC AUC of v as a score for clean examples (the sampled batch)",
    "memorized": "corrupted examples predicted as their corrupted label",
}
V_HISTOGRAM = "mentor/v"


def hparams_of(config) -> Dict:
  """The run's flags (the TrainConfig fields, sections flattened) as hparams values."""
  flat = {}
  for name, value in dataclasses.asdict(config).items():
    for key, item in (value.items() if isinstance(value, dict) else [(name, value)]):
      if isinstance(item, (list, tuple)):
        item = ",".join(str(x) for x in item)
      flat[key] = "" if item is None else item
  return flat


def _fetch(value):
  """A ParameterServerStrategy RemoteValue's value (waits for its step); others as they are."""
  return value.fetch() if hasattr(value, "fetch") else value


def write_histogram(tag: str, counts, step: int, low: float = 0.0, high: float = 1.0) -> None:
  """A histogram summary from counts in equal bins over [low, high] (the default writer)."""
  from tensorboard.plugins.histogram import metadata  # pylint: disable=g-import-not-at-top
  counts = np.asarray(counts, np.float64)
  edges = np.linspace(low, high, len(counts) + 1)
  tensor = np.stack([edges[:-1], edges[1:], counts], axis=1)
  tf.summary.write(tag, tensor, step=step,
                   metadata=metadata.create_summary_metadata(tag, "v of the sampled step"))


class TrainingSummaries(keras.callbacks.Callback):
  """Writes the run's TensorBoard events (see the module docstring).

  Also turns the epoch logs' diagnostics into the means over the epoch's sampled steps (what
  results.json's history records); place it after EpochEvaluation and before ResultTracker.
  """

  def __init__(self, log_dir: str, summary_steps: int, global_batch_size: int, chief: bool,
               hparams: Optional[Dict] = None, histogram_fn=None):
    """`histogram_fn()`: the v histogram counts of the last sampled step (None: none)."""
    super().__init__()
    self.log_dir = log_dir
    self.summary_steps = int(summary_steps)
    self.global_batch_size = int(global_batch_size)
    self.chief = chief
    self.hparams = hparams
    self.histogram_fn = histogram_fn
    self._writers = {}
    self._scalar_functions = {}  # (writer, its tags) -> the traced call that writes them
    self._hparams_written = False
    # Reads its logs only on sampled steps: tensors (and RemoteValues under
    # ParameterServerStrategy) are fetched there, so other steps never wait for the host.
    self._supports_tf_logs = True

  def writer(self, name: str):
    if not self.chief:
      return None
    if name not in self._writers:
      self._writers[name] = tf.summary.create_file_writer(os.path.join(self.log_dir, name))
    return self._writers[name]

  def on_train_begin(self, logs=None):
    self.write_hparams()
    self._per_call = callbacks_lib.steps_per_execution(self.model)

  def on_epoch_begin(self, epoch, logs=None):
    self._epoch_start = callbacks_lib.epoch_start_step(self, epoch)
    self._sums, self._samples, self._call_end = {}, 0, None
    self._last = (int(self.model.optimizer.iterations.numpy()), time.time())

  def on_train_batch_end(self, batch, logs=None):
    # The call (--steps_per_execution) took steps first..last (pre-increment counts); its logs
    # hold the values of its last sampled step, if it took one.
    last = self._epoch_start + batch
    first = last - self._per_call + 1 if self._call_end is None else self._call_end + 1
    self._call_end = last
    step = last - last % self.summary_steps
    if step < first or logs is None:
      return
    logs = step_diagnostics.named_logs(_fetch(logs))  # one sampled step's: the only host wait
    values = {key: float(np.asarray(_fetch(value))) for key, value in logs.items()
              if key in TAGS}
    for key, value in values.items():
      self._sums[key] = self._sums.get(key, 0.0) + value
    self._samples += 1
    writer = self.writer("train")
    if writer is None:
      return
    now = time.time()
    steps, seconds = step + 1 - self._last[0], now - self._last[1]
    self._last = (step + 1, now)
    scalars = [(TAGS[key], DESCRIPTIONS.get(key), value) for key, value in values.items()]
    if seconds > 0 and steps > 0:
      scalars += [("perf/steps_per_second", None, steps / seconds),
                  ("perf/examples_per_second", None, steps * self.global_batch_size / seconds)]
    self._write_scalars(writer, scalars, step)
    if self.histogram_fn is not None:
      with writer.as_default(step=step):
        write_histogram(V_HISTOGRAM, self.histogram_fn(), step)

  def _write_scalars(self, writer, scalars, step: int) -> None:
    """Writes [(tag, description, value)] at `step` in one traced call: written one by one
    eagerly, the ~20 scalars of a sampled step cost the MLP more host time than its step
    (`python benchmarks/summary_cost.py`: 5.1 ms against 0.73 ms for 20 scalars, 2 CPU cores)."""
    tags = tuple((tag, description) for tag, description, _ in scalars)
    key = (id(writer), tags)
    write = self._scalar_functions.get(key)
    if write is None:
      def write_all(values, at_step):
        with writer.as_default(step=at_step):
          for i, (tag, description) in enumerate(tags):
            tf.summary.scalar(tag, values[i], description=description)
      write = self._scalar_functions[key] = tf.function(write_all, autograph=False)
    write(tf.constant([value for _, _, value in scalars], tf.float32),
          tf.constant(step, tf.int64))

  def on_epoch_end(self, epoch, logs=None):
    if logs is None:
      return
    if self._samples:  # the epoch's record: means over its sampled steps
      logs.update({key: total / self._samples for key, total in self._sums.items()})
    writer = self.writer("validation")
    validation = {key[len("val_"):]: value for key, value in logs.items()
                  if key.startswith("val_")}
    if writer is not None and validation:
      with writer.as_default(step=int(self.model.optimizer.iterations.numpy())):
        for key, value in validation.items():
          tf.summary.scalar(f"eval/{key}", float(value))
    for writer in self._writers.values():
      writer.flush()

  def write_hparams(self) -> None:
    writer = self.writer("hparams")
    if writer is None or self.hparams is None or self._hparams_written:
      return
    from tensorboard.plugins.hparams import api as hp  # pylint: disable=g-import-not-at-top
    with writer.as_default():
      hp.hparams(self.hparams, trial_id=os.path.dirname(os.path.abspath(self.log_dir)))
    writer.flush()
    self._hparams_written = True

  def write_results(self, results: Dict, step: int) -> None:
    """The run's final and best clean top-1 (the HParams metrics), after the final evaluation."""
    self.write_hparams()
    writer = self.writer("hparams")
    if writer is None:
      return
    with writer.as_default(step=step):
      for key in ("final_accuracy", "best_accuracy"):
        if isinstance(results.get(key), (int, float)):
          tf.summary.scalar(f"eval/{key}", results[key])
      for key, extra in results.items():  # further clean test sets: {accuracy, top<k>, loss}
        if not (key.startswith("final_") and isinstance(extra, dict)):
          continue
        for metric, value in sorted(extra.items()):
          if metric == "accuracy" or re.fullmatch(r"top\d+", metric):
            suffix = "" if metric == "accuracy" else f"_{metric}"
            tf.summary.scalar(f"eval/{key}{suffix}", float(value))
    writer.flush()

  def on_train_end(self, logs=None):
    for writer in self._writers.values():
      writer.flush()
