"""Host-side callbacks: stop at max steps, checkpoints and resume, best/last tracking.

Run on the host between steps; anything they change that the traced step reads lives in variables
(the traced step freezes Python attributes). With --steps_per_execution=N, fit calls them after
each call of N steps, `batch` being the index of the call's last step in its epoch.
"""
import contextlib
import json
import logging as python_logging
import math
import os
from typing import Dict, Optional

from absl import logging
import tf_keras as keras

from mentornet_tf import atomic_files


class _FirstBatchesTimingFilter(python_logging.Filter):
  """Drops tf_keras' "Callback method `on_train_batch_end` is slow" warning.

  tf_keras times the callbacks over the first 6 batches of a fit only, where the summaries
  callback traces its writer once (~200 ms); its steady-state cost is measured instead
  (`python benchmarks/summary_cost.py`: about 2 ms per sampled step against a 6 ms MLP step,
  0.02 ms on the other steps). The warning broke the progress line of every short run.
  """

  def filter(self, record):
    return not str(record.msg).startswith("Callback method `on_train_batch_end` is slow")


@contextlib.contextmanager
def first_batches_timing_warning_dropped():
  """Within: tf_keras' first-batches callback timing warning is not logged (see the filter)."""
  logger, dropped = python_logging.getLogger("tensorflow"), _FirstBatchesTimingFilter()
  logger.addFilter(dropped)
  try:
    yield
  finally:
    logger.removeFilter(dropped)


def epoch_start_step(callback: keras.callbacks.Callback, epoch: int) -> int:
  """The step count at which fit's epoch `epoch` starts; `batch` indices count from it.

  Every epoch has fit's `steps` steps, and a run restored mid-epoch starts its first epoch at the
  restored batch (SpadeModel.resume_step_in_epoch), so this holds in every process of a run.
  Without fit's params (a callback driven by hand), the optimizer's step count.
  """
  steps = (callback.params or {}).get("steps")
  if steps:
    return epoch * int(steps)
  return int(callback.model.optimizer.iterations.numpy())


def steps_per_execution(model) -> int:
  """The training steps of one call of fit's train function (--steps_per_execution)."""
  value = getattr(model, "steps_per_execution", None)
  return 1 if value is None else int(value.numpy())


class StopAtStep(keras.callbacks.Callback):
  """Stops training when the optimizer has taken `max_number_of_steps` steps (original flag).

  With --steps_per_execution=N the call that would pass the limit is shortened to end on it.
  """

  def __init__(self, max_number_of_steps: int):
    super().__init__()
    self.max_number_of_steps = int(max_number_of_steps)
    # It reads no logs, so fit under ParameterServerStrategy accepts its batch hook (it refuses
    # batch-level callbacks that may read RemoteValue logs); `batch` then counts the steps
    # scheduled on the workers, which is what bounds the step count.
    self._supports_tf_logs = True

  def on_train_begin(self, logs=None):
    self._per_call = self._original_per_call = steps_per_execution(self.model)

  def on_epoch_begin(self, epoch, logs=None):
    # One host read per epoch (a read per batch would stall the step pipeline).
    self._epoch_start = epoch_start_step(self, epoch)
    if int(self.model.optimizer.iterations.numpy()) >= self.max_number_of_steps:
      self.model.stop_training = True

  def on_train_batch_end(self, batch, logs=None):
    remaining = self.max_number_of_steps - (self._epoch_start + batch + 1)
    if remaining <= 0:
      self.model.stop_training = True
    elif remaining < self._per_call:  # fit reads the variable before each call
      self._per_call = remaining
      self.model.steps_per_execution.assign(remaining)

  def on_train_end(self, logs=None):
    if self._per_call != self._original_per_call:
      self.model.steps_per_execution.assign(self._original_per_call)


class NonFiniteCheck(keras.callbacks.Callback):
  """--jit_compile: ends fit with `nonfinite.NonFiniteStep` after a call that met a non-finite step.

  XLA compiles tf.debugging.Assert away, so the step records the first non-finite step; this
  reads that record from each call's logs (one scalar). Place it first: no other callback (no
  checkpoint save) then acts on the call.
  """

  def on_train_batch_end(self, batch, logs=None):
    self.model.raise_if_nonfinite(logs)


class EpochEvaluation(keras.callbacks.Callback):
  """Adds `val_<metric>` from `evaluate_fn()` to the epoch logs every `interval` epochs.

  For ParameterServerStrategy, where fit's own validation would hand the finite test split to
  every worker. Place it before the callbacks that read `val_*` (ResultTracker, TensorBoard).
  """

  def __init__(self, evaluate_fn, interval: int):
    super().__init__()
    self.evaluate_fn = evaluate_fn
    self.interval = int(interval)

  def on_epoch_end(self, epoch, logs=None):
    if logs is None or self.interval <= 0 or (epoch + 1) % self.interval:
      return
    logs.update({f"val_{name}": value for name, value in self.evaluate_fn().items()})


class ResultTracker(keras.callbacks.Callback):
  """Tracks the last and best clean test top-1 and writes them to `results.json` (chief only).

  The file covers the whole run, whatever happened to the processes: a restarted run keeps the
  history of the epochs its checkpoint covers (`resume_epoch`) and recomputes best and best epoch
  from it, so after kill -9 and restart, or a re-run of a finished command, results.json equals
  the uninterrupted run's except for `RUNTIME_FIELDS`. Place it before the Checkpointer: an
  epoch's record is then written before the checkpoint that covers it.
  """

  RUNTIME_FIELDS = ("resumed_from", "train_seconds")  # depend on the process history

  def __init__(self, path: str, chief: bool = True, extra: Optional[Dict] = None,
               monitor: str = "val_accuracy", resume_epoch: int = 0):
    super().__init__()
    self.path = path
    self.chief = chief
    self.monitor = monitor
    self.results = dict(extra or {})
    self.results.update({"status": "running", "best_accuracy": None, "best_epoch": None,
                         "history": []})
    for record in self._previous_history(resume_epoch):
      self._add(record)

  def _previous_history(self, resume_epoch: int):
    if resume_epoch <= 0 or not os.path.exists(self.path):
      return []
    try:
      with open(self.path) as f:
        history = json.load(f).get("history", [])
      return [r for r in history if isinstance(r, dict) and int(r["epoch"]) <= resume_epoch]
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
      logging.warning("Ignoring the unreadable history of %s (%s): the new results.json covers "
                      "only the epochs from %d on.", self.path, error, resume_epoch + 1)
      return []

  def _add(self, record: Dict) -> None:
    self.results["history"].append(record)
    accuracy = record.get(self.monitor)
    if accuracy is not None and (self.results["best_accuracy"] is None or
                                 accuracy > self.results["best_accuracy"]):
      self.results["best_accuracy"], self.results["best_epoch"] = accuracy, record["epoch"]

  def on_epoch_end(self, epoch, logs=None):
    logs = logs or {}
    if self.monitor not in logs:
      return
    record = {"epoch": epoch + 1, "step": int(self.model.optimizer.iterations.numpy())}
    record.update({k: float(v) for k, v in logs.items() if k.startswith("val_")})
    for key in ("accuracy_clean", "memorized", "mean_v_clean", "mean_v_corrupted", "orig_loss"):
      if key in logs:
        record[key] = float(logs[key])
    self._add(record)
    self.write()

  def finish(self, final_metrics: Dict[str, float], **fields):
    """Records the final evaluation (and `fields`) and marks the run finished."""
    self.results.update({f"final_{k}": float(v) for k, v in final_metrics.items()})
    self.results.update(fields, status="finished")
    if self.results["best_accuracy"] is None or \
        self.results.get("final_accuracy", -1) > self.results["best_accuracy"]:
      self.results["best_accuracy"] = self.results.get("final_accuracy")
      self.results["best_epoch"] = "final"  # no periodic evaluation beat the final one
    self.write()
    return self.results

  def diverged(self, divergence: Dict) -> Dict:
    """Marks the run diverged: no final accuracy, the step and values that were not finite."""
    # Non-finite values as strings: strict JSON has no NaN or Infinity.
    self.results.update(status="diverged", divergence={
        k: v if not isinstance(v, float) or math.isfinite(v) else str(v)
        for k, v in divergence.items()})
    self.write()
    return self.results

  def write(self):
    if not self.chief:
      return
    atomic_files.write_text(self.path, json.dumps(self.results, indent=2, sort_keys=True))
