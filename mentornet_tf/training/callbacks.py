"""Host-side callbacks: stop at max steps, checkpoints and resume, best/last tracking.

Run on the host between steps; anything they change that the traced step reads lives in variables
(the traced step freezes Python attributes).
"""
import json
import math
import os
import shutil
import time
from typing import Dict, Optional

from absl import logging
import tensorflow as tf
import tf_keras as keras

from mentornet_tf import atomic_files

class StopAtStep(keras.callbacks.Callback):
  """Stops training when the optimizer has taken `max_number_of_steps` steps (original flag)."""

  def __init__(self, max_number_of_steps: int):
    super().__init__()
    self.max_number_of_steps = int(max_number_of_steps)
    # It reads no logs, so fit under ParameterServerStrategy accepts its batch hook (it refuses
    # batch-level callbacks that may read RemoteValue logs); `batch` then counts the steps
    # scheduled on the workers, which is what bounds the step count.
    self._supports_tf_logs = True

  def on_epoch_begin(self, epoch, logs=None):
    # One host read per epoch (a read per batch would stall the step pipeline).
    self._remaining = self.max_number_of_steps - int(self.model.optimizer.iterations.numpy())
    if self._remaining <= 0:
      self.model.stop_training = True

  def on_train_batch_end(self, batch, logs=None):
    if batch + 1 >= self._remaining:
      self.model.stop_training = True


class Checkpointer(keras.callbacks.Callback):
  """Saves the whole training state (student, optimizer, moving average, MentorNet, step).

  A checkpoint is written at the end of an epoch when `save_interval_secs` have passed since the
  last one (original flag), and at the end of training. `restore()` resumes a killed run from the
  latest checkpoint: the training step count says where to continue. Non-chief workers of a
  multi-worker job must take part in saving (sync-on-read variables), so they write to a scratch
  directory that is deleted right after.
  """

  def __init__(self, checkpoint: tf.train.Checkpoint, directory: str, save_interval_secs: float,
               chief: bool = True, max_to_keep: int = 10, keep_every_n_hours: float = 24.0):
    super().__init__()
    self.directory = directory if chief else os.path.join(
        directory, f".worker_scratch_{os.getpid()}")
    self.chief = chief
    self.save_interval_secs = float(save_interval_secs)
    if chief:  # a garbage `checkpoint` state file would crash CheckpointManager: set it aside
      from mentornet_tf import checkpoints  # pylint: disable=g-import-not-at-top
      checkpoints.remove_unreadable_state_file(directory)
    self.manager = tf.train.CheckpointManager(
        checkpoint, self.directory, max_to_keep=max_to_keep,
        keep_checkpoint_every_n_hours=keep_every_n_hours)
    self._last_save = time.time()
    self._restore_manager = self.manager if chief else tf.train.CheckpointManager(
        checkpoint, directory, max_to_keep=max_to_keep)

  def restore(self) -> Optional[str]:
    """Restores the newest readable checkpoint, if any; returns its path.

    The chief first removes the `ckpt-N_temp/` directories of a save that was killed. Damaged
    newer checkpoints (truncated or missing index or data, named by the state file but gone) are
    skipped with a warning that names them; the chief then repairs the manager's state so that
    the next save and `max_to_keep` sweeps ignore them (checkpoints.repair_manager_state).
    """
    from mentornet_tf import checkpoints  # pylint: disable=g-import-not-at-top
    directory = self._restore_manager.directory
    if self.chief:
      for removed in checkpoints.remove_temp_directories(directory):
        logging.warning("Removed %s, left by a checkpoint save that was killed", removed)
    path, skipped = checkpoints.latest_readable_checkpoint(directory)
    if skipped:
      checkpoints.warn(checkpoints.describe_skipped(skipped, path))
    if path:
      self._restore_manager.checkpoint.restore(path).expect_partial()
      logging.info("Resumed from %s", path)
    if self.chief:
      checkpoints.repair_manager_state(self.manager, path, skipped)
    return path

  def save(self):
    step = int(self.model.optimizer.iterations.numpy())
    path = self.manager.save(checkpoint_number=step)
    self._last_save = time.time()
    if not self.chief:
      shutil.rmtree(self.directory, ignore_errors=True)
    return path

  def on_epoch_end(self, epoch, logs=None):
    if time.time() - self._last_save >= self.save_interval_secs:
      self.save()

  def on_train_end(self, logs=None):
    self.save()


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
