"""Training checkpoints: when they are written, resuming from them, and preemption (SIGTERM).

`Checkpointer` writes the whole training state at epoch ends (every `save_interval_secs`) and at
the end of training, and restores the newest readable checkpoint; `StepCheckpoints` (placed last
among fit's callbacks) adds step-level checkpoints and the SIGTERM save. A restart resumes at the
checkpoint's step, mid-epoch too (train_lib: the data stream skips what was consumed, fit starts
the epoch at that batch).
"""
import os
import shutil
import signal
import threading
import time
from typing import Optional

from absl import logging
import tensorflow as tf
import tf_keras as keras

from mentornet_tf.training import callbacks as callbacks_lib


class Checkpointer(keras.callbacks.Callback):
  """Saves the whole training state (student, optimizer, moving average, MentorNet, step).

  A checkpoint is written at the end of an epoch when `save_interval_secs` have passed since the
  last one (original flag), and at the end of training; `StepCheckpoints` calls `save` between
  steps. `restore()` resumes a killed run from the latest checkpoint: the training step count
  says where to continue. Non-chief workers of a multi-worker job must take part in saving
  (sync-on-read variables), so they write to a scratch directory that is deleted right after.
  """

  def __init__(self, checkpoint: tf.train.Checkpoint, directory: str, save_interval_secs: float,
               chief: bool = True, max_to_keep: int = 10, keep_every_n_hours: float = 24.0):
    super().__init__()
    self.directory = directory if chief else os.path.join(
        directory, f".worker_scratch_{os.getpid()}")
    self.chief = chief
    self.save_interval_secs = float(save_interval_secs)
    self._saved_step = -1
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

  def save(self) -> str:
    """Writes a checkpoint numbered by the step count (once per step); returns its path."""
    coordinator = getattr(self.model, "_cluster_coordinator", None)
    if coordinator is not None:  # parameter server: the steps scheduled so far finish first
      coordinator.join()
    step = int(self.model.optimizer.iterations.numpy())
    if step == self._saved_step:  # e.g. a step-level save, then the end of the epoch
      return self.manager.latest_checkpoint
    path = self.manager.save(checkpoint_number=step)
    self._last_save, self._saved_step = time.time(), step
    if not self.chief:
      shutil.rmtree(self.directory, ignore_errors=True)
    return path

  def on_epoch_end(self, epoch, logs=None):
    if time.time() - self._last_save >= self.save_interval_secs:
      self.save()

  def on_train_end(self, logs=None):
    self.save()


class StepCheckpoints(keras.callbacks.Callback):
  """Step-level checkpoints (`save_interval_steps`) and the checkpoint on SIGTERM.

  A checkpoint every `save_interval_steps` steps (0: none), written at the end of the step, or
  with --steps_per_execution of the call, that reaches the multiple. With `save_on_sigterm`, a
  SIGTERM during fit (a preemption notice) saves after the current step and stops fit:
  `preempted` is then that step; the process's handler is put back by `release_signal()`. Place
  it last: the checkpoint of a step then holds what the other callbacks did at that step (a
  Step 6 MentorNet update, the S-model channel).
  """

  def __init__(self, checkpointer: Checkpointer, save_interval_steps: int,
               save_on_sigterm: bool = False):
    super().__init__()
    self.checkpointer = checkpointer
    self.save_interval_steps = int(save_interval_steps)
    self.save_on_sigterm = save_on_sigterm
    self.preempted = 0
    self._sigterm = False
    self._previous_handler = None
    # It reads no logs: fit under ParameterServerStrategy accepts its batch hook.
    self._supports_tf_logs = True

  def on_train_begin(self, logs=None):
    if self.save_on_sigterm and threading.current_thread() is threading.main_thread():
      self._previous_handler = signal.signal(signal.SIGTERM, self._on_sigterm)
    self._saved_interval = int(self.model.optimizer.iterations.numpy()) // max(
        1, self.save_interval_steps)

  def _on_sigterm(self, signum, frame):
    del signum, frame
    self._sigterm = True  # acted on after the current step (a handler must not save itself)

  def release_signal(self) -> None:
    """Puts back the SIGTERM handler fit started with (also when fit raised)."""
    if self._previous_handler is not None:
      signal.signal(signal.SIGTERM, self._previous_handler)
      self._previous_handler = None

  def on_epoch_begin(self, epoch, logs=None):
    self._epoch_start = callbacks_lib.epoch_start_step(self, epoch)

  def on_train_batch_end(self, batch, logs=None):
    if self._sigterm:
      self.checkpointer.save()
      self.preempted = int(self.model.optimizer.iterations.numpy())
      self.model.stop_training = True
      logging.warning("SIGTERM: saved the checkpoint of step %d; stopping", self.preempted)
    elif self.save_interval_steps > 0:
      interval = (self._epoch_start + batch + 1) // self.save_interval_steps
      if interval > self._saved_interval:
        self._saved_interval = interval
        self.checkpointer.save()

  def on_train_end(self, logs=None):
    self.release_signal()
