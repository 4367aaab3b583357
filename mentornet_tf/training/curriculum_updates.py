"""Learning MentorNet DD from the running StudentNet: the paper's Step 6 (Algorithm 1).

At given epoch percentages (the paper: 21 and 75, App. E.3) the current StudentNet is run on the
small clean-labelled subset of the training data, its losses are dumped in the original's format
(id, epoch, noisy label, clean label, loss), a data-driven MentorNet is learned from them (target
1[noisy == clean], §3.1), and its weights are assigned into the running MentorNet's variables.
Assigning (not replacing) keeps the traced train_step valid: no retracing, no recompilation.
The original code never had this step (google/mentornet#18).

The same mechanism gives MentorNet DD in one command: start from an untrained MentorNet, burn in
(v forced to 1), and learn the DD MentorNet at the end of the burn-in.
"""
import os
from typing import Sequence

from absl import logging
import numpy as np
import tensorflow as tf
import tf_keras as keras

from mentornet_tf import inspection
from mentornet_tf import schedules
from mentornet_tf.mentor import learning
from mentornet_tf.mentor import mentor_data
from mentornet_tf.mentor import plots
from mentornet_tf.mentor import storage
from mentornet_tf.training import callbacks as callbacks_lib


UPDATES_DIR = "mentornet_updates"  # under the run directory (WORKSPACE.md "Run directory")


def learned_mentornet_name(epoch: int) -> str:
  """The directory name of the MentorNet DD learned at epoch percentage `epoch` (its update's).

  `<train_log_dir>/mentornet_updates/<name>` is loadable with `--trained_mentornet_dir`; the
  CIFAR-100 DD flagfiles load the one of the matching CIFAR-10 run (paper App. E.3).
  """
  return f"mentornet_dd_epoch_{int(epoch):02d}"


def student_dump_name(epoch: int) -> str:
  """The file name of the StudentNet dump taken at epoch percentage `epoch`."""
  return f"student_dump_epoch_{int(epoch):02d}.txt"


def update_steps(update_epochs: Sequence[int], max_number_of_steps: int) -> Sequence[int]:
  """The step count after which each update happens: the first step of epoch e is ceil(e max/100).

  The update runs after `step` steps have been taken, so the next step (pre-increment count
  `step`, epoch percentage e) already uses the new MentorNet.
  """
  return sorted({schedules.epoch_first_step(e, max_number_of_steps) for e in update_epochs})


def learn_data_driven(model, dataset: tf.data.Dataset, subset_fn, epoch, percentile: float,
                      learn_config: learning.LearnConfig, mentornet_config, output_dir: str = "",
                      seed: int = 0, name_epoch=None, progress=None,
                      dump_training: bool = False, loss_shifts: int = 0):
  """Dumps the StudentNet on the clean subset and learns a MentorNet DD from it.

  Args:
    model: the SpadeModel being trained.
    dataset: the training split, finite (pipeline.build_train_eval_dataset; with the training
      augmentation when `dump_training`).
    subset_fn: ids [B] -> bool [B], the examples whose clean label is known.
    epoch: the epoch percentage written into the dump (the MentorNet's epoch input), or a list
      of them: the rows are repeated for each, so that every epoch input the MentorNet will see
      until the next update has training data (its epoch embedding is a frozen random table, so
      an epoch it never saw gives an arbitrary output).
    percentile: in [0, 100]; loss_diff = loss - np.percentile(dump losses, percentile).
    learn_config, mentornet_config: how to learn it and its sizes (those of the running one).
    output_dir: where to keep the dump and the learned MentorNet ('' = nowhere).
    name_epoch: the epoch percentage that names the saved files (default: the first epoch input;
      Step 6 passes the update's own epoch so updates after a fixed burn-in do not collide).
    dump_training: run the student in training mode for the dump (`--dd_dump_mode=training`:
      BN batch statistics, dropout; inspection.per_example_pass), else inference mode.
    loss_shifts: `--dd_loss_shifts` (mentor_data.generate_data_driven).
  Returns:
    (MentorNet, metrics dict).
  """
  records = inspection.per_example_pass(model, dataset, ids_mask_fn=subset_fn,
                                        training=dump_training)
  epochs = [int(e) for e in np.atleast_1d(epoch)]
  rows = np.concatenate([inspection.student_dump_rows(records, e) for e in epochs])
  epoch = epochs[0] if name_epoch is None else int(name_epoch)
  if records["id"].shape[0] < 2 * learn_config.mini_batch_size:
    raise ValueError(f"only {records['id'].shape[0]} clean-labelled examples to learn MentorNet "
                     "DD from; raise --clean_subset_fraction")
  train, test = mentor_data.generate_data_driven(rows, percentile=percentile, seed=seed,
                                                 loss_shifts=loss_shifts)
  mentornet, metrics = learning.learn_mentornet(train, test, learn_config,
                                                mentornet_config=mentornet_config,
                                                progress=progress)
  metrics.update(num_dump_rows=int(records["id"].shape[0]), epochs=epochs,
                 dump_clean_fraction=float(np.mean(rows[:, 2] == rows[:, 3])))
  if output_dir:
    os.makedirs(output_dir, exist_ok=True)
    mentor_data.write_student_dump(os.path.join(output_dir, student_dump_name(epoch)), rows)
    storage.save_mentornet(mentornet, os.path.join(output_dir, learned_mentornet_name(epoch)), {
        "curriculum": "data_driven", "learned_at_epoch_percentage": epoch,
        "percentile": percentile, "test_mse": metrics.get("test_mse"),
        "test_accuracy": metrics.get("test_accuracy"),
        "num_dump_rows": int(records["id"].shape[0]), "epochs": epochs,
        "dump_mode": "training" if dump_training else "inference"})
  return mentornet, metrics


class MentorNetUpdater(keras.callbacks.Callback):
  """Step 6: re-learns MentorNet DD at the given epoch percentages and swaps it in.

  Built by `training.build_callbacks` with keyword arguments; `mentornet` is the running
  MentorNet (the one the model's weighting calls), whose variables each update assigns.
  """

  def __init__(self, *, mentornet, update_epochs: Sequence[int], max_number_of_steps: int,
               dataset: tf.data.Dataset, subset_fn, percentile: float, burn_in_epoch: int,
               fixed_epoch_after_burn_in: bool, learn_config: learning.LearnConfig,
               output_dir: str, writer=None, seed: int = 0, verbose: int = 0,
               dump_training: bool = False, loss_shifts: int = 0):
    super().__init__()
    self.loss_shifts = loss_shifts  # --dd_loss_shifts
    self.mentornet = mentornet
    self.dump_training = dump_training  # --dd_dump_mode=training (`learn_data_driven`)
    self.verbose = verbose  # > 0: a progress line while MentorNet DD is learned (stderr)
    self.update_epochs = sorted(update_epochs)
    self.max_number_of_steps = max_number_of_steps
    self.dataset = dataset
    self.subset_fn = subset_fn
    self.percentile = percentile
    self.burn_in_epoch = burn_in_epoch
    self.fixed_epoch_after_burn_in = fixed_epoch_after_burn_in
    self.learn_config = learn_config
    self.output_dir = output_dir
    self.seed = seed
    self.writer = writer  # a tf.summary writer shared with the other mentornet summaries
    self._pending = update_steps(update_epochs, max_number_of_steps)
    self.history = []
    # It reads no logs: fit under ParameterServerStrategy then accepts its batch hook.
    self._supports_tf_logs = True

  def on_epoch_begin(self, epoch, logs=None):
    step = int(self.model.optimizer.iterations.numpy())  # a resumed run may start mid-epoch
    self._pending = [s for s in self._pending if s > step]  # resumed runs skip done
    self._epoch_start = callbacks_lib.epoch_start_step(self, epoch)

  def on_train_batch_end(self, batch, logs=None):
    if self._pending and self._epoch_start + batch + 1 >= self._pending[0]:
      self.update(self._pending.pop(0))

  def update(self, step: int):
    epoch = schedules.epoch_percentage(step, self.max_number_of_steps)
    cur_epoch = schedules.current_epoch(epoch, self.burn_in_epoch, self.fixed_epoch_after_burn_in)
    running = self.mentornet
    # The epoch inputs this MentorNet will see until the next update (or the end).
    later = [e for e in self.update_epochs if e > epoch]
    until = later[0] if later else schedules.NUM_EPOCH_PERCENTAGES
    epochs_used = sorted({schedules.current_epoch(e, self.burn_in_epoch,
                                                  self.fixed_epoch_after_burn_in)
                          for e in range(epoch, until)})
    progress = None
    if self.verbose:
      from mentornet_tf import progress as progress_lib  # pylint: disable=g-import-not-at-top
      progress = progress_lib.StepProgress(f"Step 6 at epoch {epoch}%: learning MentorNet DD")
    mentornet, metrics = learn_data_driven(
        self.model, self.dataset, self.subset_fn, epochs_used, self.percentile, self.learn_config,
        running.config, self.output_dir, seed=self.seed + step, name_epoch=epoch,
        progress=progress, dump_training=self.dump_training, loss_shifts=self.loss_shifts)
    running.set_weights(mentornet.get_weights())  # assign: the traced step stays valid
    record = {"step": step, "epoch_percentage": epoch, "test_mse": metrics.get("test_mse"),
              "test_accuracy": metrics.get("test_accuracy"),
              "num_dump_rows": metrics["num_dump_rows"],
              "dump_clean_fraction": metrics["dump_clean_fraction"]}
    self.history.append(record)
    logging.warning("Step 6: MentorNet DD re-learned at step %d (epoch %d%%): %s", step, epoch,
                    record)
    if self.writer is not None:
      with self.writer.as_default(step=step), tf.summary.record_if(True):
        tf.summary.scalar("mentornet/update_epoch_percentage", epoch)
        tf.summary.scalar("mentornet/dd_test_mse", metrics.get("test_mse") or 0.0)
        if metrics.get("test_accuracy") is not None:
          tf.summary.scalar("mentornet/dd_test_accuracy", metrics["test_accuracy"])
        _curriculum_image(running, cur_epoch)
      self.writer.flush()


def curriculum_image_tag(epoch: int) -> str:
  """The TensorBoard tag of the MentorNet's weight surface at an epoch percentage."""
  return f"mentornet/curriculum_epoch_percentage_{int(epoch):02d}"


def _curriculum_image(mentornet, epoch: int) -> None:
  """The MentorNet's weight surface as a TensorBoard image (paper Fig. 4)."""
  tf.summary.image(curriculum_image_tag(epoch),
                   plots.curriculum_surface_image(mentornet, epoch, 5.0))
