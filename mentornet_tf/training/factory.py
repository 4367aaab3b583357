"""`build_callbacks`: the one place that builds a training run's callbacks from its config."""
import dataclasses
import os
from typing import Callable, List, Optional

import tf_keras as keras

from mentornet_tf import config as config_lib
from mentornet_tf.training import callbacks as callbacks_lib
from mentornet_tf.training import summaries


@dataclasses.dataclass
class RunCallbacks:
  """The run's callbacks in fit's order, and the TensorBoard writer `_train` finishes with."""
  callbacks: List[keras.callbacks.Callback]
  summaries: summaries.TrainingSummaries


def build_callbacks(config: config_lib.TrainConfig, *, model, checkpointer, tracker, chief: bool,
                    mentornet=None, augmentation: str = "none",
                    evaluate_fn: Optional[Callable[[], dict]] = None,
                    source=None) -> RunCallbacks:
  """The callbacks of one training run, in the order they must run.

  Args:
    config: the run's TrainConfig.
    model: the SpadeModel (its last sampled v histogram goes to TensorBoard).
    checkpointer, tracker: the run's Checkpointer (already restored) and ResultTracker.
    chief: whether this process writes the run directory.
    mentornet: the MentorNet the model's weighting calls (None without one): curriculum images
      and Step 6 updates use it.
    augmentation: the resolved augmentation (Step 6 and weight export re-read the training split).
    evaluate_fn: () -> {loss, accuracy, top<k>} on the clean test split, for strategies whose
      fit cannot validate (ParameterServer); added every `eval_interval` epochs as `val_*`.
    source: the run's resolved data source (sources.Source), so that Step 6 and weight export
      reuse its scan of the training split; None resolves `config.data` again.
  Returns:
    RunCallbacks. Order: StopAtStep; EpochEvaluation (adds `val_*`); TrainingSummaries (reads
    them, puts the epoch means into the logs); ResultTracker (before the Checkpointer: an epoch's
    record is on disk before its checkpoint); Checkpointer; curriculum images; Step 6; weight
    export.
  """
  from mentornet_tf.data import noise  # pylint: disable=g-import-not-at-top
  from mentornet_tf.data import pipeline  # pylint: disable=g-import-not-at-top
  log_dir = os.path.join(config.train_log_dir, "tensorboard")
  writer = summaries.TrainingSummaries(
      log_dir, config.summary_steps, config.data.batch_size, chief,
      hparams=summaries.hparams_of(config), histogram_fn=lambda: _v_histogram(model))
  result = [callbacks_lib.StopAtStep(config.max_number_of_steps)]
  if evaluate_fn is not None and config.eval_interval > 0:
    result.append(callbacks_lib.EpochEvaluation(evaluate_fn, config.eval_interval))
  result += [writer, tracker, checkpointer]
  mentornet_writer = writer.writer("mentornet") if (
      mentornet is not None or config.export_weights) else None
  if mentornet is not None and mentornet_writer is not None and \
      config.mentor.trained_mentornet_dir:
    from mentornet_tf.training import monitoring  # pylint: disable=g-import-not-at-top
    result.append(monitoring.CurriculumImages(mentornet, mentornet_writer))
  if config.mentor.update_mentornet_epochs:
    from mentornet_tf.training import curriculum_updates  # pylint: disable=g-import-not-at-top
    from mentornet_tf.mentor import learning  # pylint: disable=g-import-not-at-top
    data, mentor = config.data, config.mentor
    result.append(curriculum_updates.MentorNetUpdater(
        mentornet=mentornet, update_epochs=mentor.update_mentornet_epochs,
        max_number_of_steps=config.max_number_of_steps,
        dataset=pipeline.build_train_eval_dataset(
            source or data, augmentation, training=mentor.dd_dump_mode == "training",
            seed=config.seed),
        dump_training=mentor.dd_dump_mode == "training", loss_shifts=mentor.dd_loss_shifts,
        subset_fn=lambda ids: noise.clean_subset_mask(ids, data.clean_subset_fraction,
                                                      data.noise_seed),
        percentile=mentor.dd_percentile or 100.0 * mentor.loss_p_percentile,
        burn_in_epoch=mentor.burn_in_epoch,
        fixed_epoch_after_burn_in=mentor.fixed_epoch_after_burn_in,
        learn_config=learning.LearnConfig(max_step_train=mentor.mentornet_learning_steps,
                                          seed=config.seed),
        output_dir=(os.path.join(config.train_log_dir, curriculum_updates.UPDATES_DIR)
                    if chief else ""),
        writer=mentornet_writer, seed=config.seed, verbose=config.verbose if chief else 0))
  if config.student.s_model_pretrain_steps > 0:
    from mentornet_tf.training import noise_adaptation  # pylint: disable=g-import-not-at-top
    result.append(noise_adaptation.ChannelInitialiser(
        pipeline.build_train_eval_dataset(source or config.data, augmentation),
        config.student.s_model_pretrain_steps))
  if config.export_weights:
    from mentornet_tf.training import monitoring  # pylint: disable=g-import-not-at-top
    result.append(monitoring.WeightExporter(
        pipeline.build_train_eval_dataset(source or config.data, augmentation),
        config.train_log_dir,
        chief=chief, writer=mentornet_writer))
  return RunCallbacks(result, writer)


def _v_histogram(model):
  """The v histogram counts of the model's last sampled step, read on this host only.

  The first local replica's copy: a cross-replica read would be a collective that only the
  chief (the one writer) would join.
  """
  from mentornet_tf import spade  # pylint: disable=g-import-not-at-top
  variable = model.step_values.vector
  local = variable.values[0] if isinstance(getattr(variable, "values", None), tuple) else variable
  return local.numpy()[len(spade.DIAGNOSTICS):]
