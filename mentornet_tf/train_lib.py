"""`run(config)`: the one place that wires data, student, mentor, strategy, callbacks and `fit`.

Runs on the host. Every method (FullModel, MentorNet PD/DD, predefined curricula) goes through it;
they differ only in `config.mentor`.

Run directory (`train_log_dir`):
  flags.txt      resolved flags, replayable with --flagfile (written by the entry point)
  config.json    the resolved TrainConfig
  ckpt/          tf.train checkpoints (student, optimizer, moving average, MentorNet, step)
  tensorboard/   train/, validation/, mentornet/, hparams/ events (training/summaries.py)
  results.json   noise report, per-epoch clean test accuracy, best and final
"""
import os
import time
from typing import Dict

from absl import logging
import tensorflow as tf
import tf_keras as keras

from mentornet_tf import progress as progress_lib
from mentornet_tf import config as config_lib
from mentornet_tf import errors
from mentornet_tf import eval_metrics
from mentornet_tf import distribute
from mentornet_tf import nonfinite
from mentornet_tf import precision
from mentornet_tf import run_directory
from mentornet_tf import spade
from mentornet_tf.validation import validate  # noqa: F401  (train_lib.validate is the API)
from mentornet_tf import students
from mentornet_tf import training
from mentornet_tf.data import pipeline
from mentornet_tf.mentor import weighting as weighting_lib
from mentornet_tf.training import callbacks as callbacks_lib
from mentornet_tf.training import checkpointing


class TrainingDiverged(errors.RunFailed):
  """A training step had a non-finite loss, gradient norm or v; nothing of it was applied."""


class TrainingPreempted(errors.RunFailed):
  """SIGTERM stopped training after a checkpoint; the same command resumes."""


def resolve_augmentation(config: config_lib.TrainConfig) -> str:
  if config.data.augmentation != "auto":
    return config.data.augmentation
  return students.STUDENTS[config.student.studentnet].augmentation


def build_learning_rate(config: config_lib.TrainConfig, data_epoch_steps: int):
  """The original schedules (§3.2): piecewise (resnet), exponential staircase (inception, every
  --num_epochs_per_decay passes over the data of `data_epoch_steps` steps each)."""
  if config.lr_schedule == "constant":
    return config.learning_rate
  if config.lr_schedule == "piecewise":
    # keras' PiecewiseConstantDecay uses value i while step <= boundary i, as TF1's
    # piecewise_constant: 0.1 at step 19531, 0.01 at 19532.
    scale = config.learning_rate / config.lr_values[0]
    return keras.optimizers.schedules.PiecewiseConstantDecay(
        list(config.lr_boundaries), [v * scale for v in config.lr_values])
  decay_steps = max(1, int(data_epoch_steps * config.num_epochs_per_decay))
  return keras.optimizers.schedules.ExponentialDecay(
      config.learning_rate, decay_steps, config.learning_rate_decay_factor, staircase=True)


def build_optimizer(config: config_lib.TrainConfig, data_epoch_steps: int):
  """The student's optimizer; in a LossScaleOptimizer for --dtype=float16 (precision.py)."""
  learning_rate = build_learning_rate(config, data_epoch_steps)
  if config.optimizer == "momentum":
    optimizer = keras.optimizers.SGD(learning_rate, momentum=config.momentum)
  elif config.optimizer == "sgd":
    optimizer = keras.optimizers.SGD(learning_rate)
  else:
    optimizer = keras.optimizers.Adam(learning_rate)
  return precision.wrap_optimizer(optimizer, config.dtype)


def _load_mentornet(config: config_lib.TrainConfig):
  if config.mentor.weighting != "mentornet":
    return None, {}
  if not config.mentor.trained_mentornet_dir:
    # MentorNet DD in one run: an untrained MentorNet, replaced (Step 6) before the burn-in ends.
    from mentornet_tf.mentor import network  # pylint: disable=g-import-not-at-top
    return network.build_mentornet(seed=config.seed), {"curriculum": "data_driven (learned "
                                                       "during training)"}
  from mentornet_tf.mentor import storage  # pylint: disable=g-import-not-at-top
  return storage.load_mentornet(config.mentor.trained_mentornet_dir)


def build_model(config: config_lib.TrainConfig, info):
  """Builds the SpadeModel (call under the strategy scope). Returns (model, mentornet metadata)."""
  spec = students.STUDENTS[config.student.studentnet]
  with precision.student_policy(config.dtype):  # only the student computes in --dtype
    student = students.build_student(
        config.student.studentnet, info.num_classes, tuple(info.image_shape),
        sync_batch_norm=config.student.sync_batch_norm, seed=config.seed,
        dropout_keep_prob=config.student.dropout_keep_prob)
  mentornet, mentor_metadata = _load_mentornet(config)
  weighting = weighting_lib.build_weighting(
      config.mentor, config.max_number_of_steps, mentornet=mentornet,
      num_train=info.num_train, seed=config.seed)
  weight_decay = spec.weight_decay if config.student.weight_decay is None \
      else config.student.weight_decay
  model = spade.SpadeModel(student, weighting, global_batch_size=config.data.batch_size,
                           weight_decay=weight_decay, num_classes=info.num_classes,
                           summary_steps=config.summary_steps, loss=config.student.loss,
                           focal_gamma=config.student.focal_gamma,
                           bootstrap_beta=config.student.bootstrap_beta,
                           s_model_pretrain_steps=config.student.s_model_pretrain_steps,
                           aux_weight=config.student.aux_weight)
  return model, mentor_metadata


def coordinator_evaluator(config: config_lib.TrainConfig, info, model):
  """Parameter server: exact evaluation on the coordinator, with a local copy of the student.

  `model.evaluate` would run on the workers, each with its own copy of the finite test split:
  examples are seen by an unknown number of workers and the end of the sequence fails the step.
  Keras' own evaluate cannot run the local copy either (inside `fit` the coordinator's strategy
  scope is active), so this is a plain loop. Returns evaluate(dataset) -> SpadeModel.test_step's
  keys (loss, accuracy, top<k>).
  """
  # Built here, outside the strategy scope: the copy's variables live on the coordinator.
  local = students.build_student(config.student.studentnet, info.num_classes,
                                 tuple(info.image_shape),
                                 sync_batch_norm=config.student.sync_batch_norm, seed=config.seed)
  evaluator = eval_metrics.StudentEvaluator(local, info.num_classes)

  def evaluate(eval_dataset):
    local.set_weights(model.student.get_weights())  # one read of the ps variables
    return {key: value for key, value in evaluator(eval_dataset).items() if key != "num_examples"}

  return evaluate


def run(config: config_lib.TrainConfig, info=None, flags_text: str = "") -> Dict:
  """Trains a StudentNet as `config` says; returns the results dict (also in results.json).

  `info` is the DatasetInfo from `validate(config)` when the caller already validated;
  `flags_text` is written to flags.txt (the entry point's replayable flags). Refuses, before
  writing anything, a directory held by another job and a restart that changes the experiment
  (run_directory.py). Raises TrainingDiverged (results.json says "diverged") on a non-finite
  step.
  """
  info = info or validate(config)
  config = config_lib.resolve_train_epochs(config, info.num_train)  # --train_epochs -> steps
  with run_directory.claim(config, flags_text, chief=distribute.is_chief()):
    return _train(config, info)


def _train(config: config_lib.TrainConfig, info) -> Dict:
  """Builds everything, resumes from the newest checkpoint, fits, evaluates (under the lock)."""
  keras.utils.set_random_seed(config.seed)
  strategy = distribute.build_strategy(config.strategy, config.num_replicas_cpu)
  chief = distribute.is_chief()
  augmentation = resolve_augmentation(config)
  steps_per_epoch = config_lib.steps_per_epoch(config, info.num_train)
  epochs = config_lib.epochs_for(config.max_number_of_steps, steps_per_epoch)
  data = getattr(info, "source", None) or config.data  # resolved (and scanned) once by validate
  noise = pipeline.training_noise_report(data)
  logging.info("Dataset %s: %d train / %d test, %d classes; noise %s", info.name, info.num_train,
               info.num_test, info.num_classes, noise)

  with strategy.scope():
    model, mentor_metadata = build_model(config, info)
    optimizer = build_optimizer(config, config_lib.data_epoch_steps(config, info.num_train))
    model.compile(optimizer=optimizer, jit_compile=config.jit_compile,
                  steps_per_execution=config.steps_per_execution)
    checkpoint = tf.train.Checkpoint(model=model, optimizer=optimizer)
  checkpointer = checkpointing.Checkpointer(
      checkpoint, os.path.join(config.train_log_dir, "ckpt"), config.save_interval_secs,
      chief=chief)
  resumed_from = checkpointer.restore()
  start_step = int(optimizer.iterations.numpy())
  # A step-level checkpoint resumes mid-epoch: fit starts that epoch at the restored batch.
  initial_epoch, model.resume_step_in_epoch = divmod(start_step, steps_per_epoch)
  finished = start_step >= config.max_number_of_steps
  if finished:
    logging.info("Already trained %d >= %d steps; evaluating only.", start_step,
                 config.max_number_of_steps)

  def train_input(input_context=None):
    # Resume where the killed run stopped: the same batches, not a replay of epoch 0.
    return pipeline.build_train_dataset(data, augmentation, seed=config.seed,
                                        input_context=input_context,
                                        initial_step=start_step)

  train_dataset = distribute.distribute_dataset(strategy, config.strategy, train_input)
  eval_dataset = pipeline.build_eval_dataset(data, augmentation)

  # The history of the epochs the checkpoint covers is kept (all of it for a finished run).
  tracker = callbacks_lib.ResultTracker(
      os.path.join(config.train_log_dir, "results.json"), chief=chief,
      resume_epoch=epochs if finished else initial_epoch, extra={
          "noise": noise, "dataset": info.name, "studentnet": config.student.studentnet,
          "weighting": config.mentor.weighting,
          "mentornet": mentor_metadata.get("curriculum", ""), "resumed_from": resumed_from or ""})
  validation, evaluate_fn = {}, None
  if config.strategy == "parameter_server":
    evaluate = coordinator_evaluator(config, info, model)
    evaluate_fn = lambda: evaluate(eval_dataset)
  else:
    evaluate = lambda dataset: model.evaluate(dataset, verbose=0, return_dict=True)
    if config.eval_interval > 0:
      validation = dict(validation_data=eval_dataset, validation_freq=config.eval_interval)
  # Summaries are written by the chief only (host-side, from the step's logs): other workers
  # need no scratch directory.
  run_callbacks = training.build_callbacks(
      config, model=model, checkpointer=checkpointer, tracker=tracker, chief=chief,
      mentornet=model.weighting.mentornet, augmentation=augmentation, evaluate_fn=evaluate_fn,
      source=data)
  callbacks = run_callbacks.callbacks
  if config.jit_compile:  # first: nothing runs on a step after the first non-finite one
    callbacks = [callbacks_lib.NonFiniteCheck()] + callbacks
  # Last: a step's checkpoint holds what the other callbacks did at that step. A SIGTERM is
  # turned into a checkpoint only where one process decides when to save (multi-worker jobs:
  # each worker would save at a different step).
  step_saves = checkpointing.StepCheckpoints(
      checkpointer, config.save_interval_steps,
      save_on_sigterm=config.strategy in ("default", "one_device", "mirrored"))
  callbacks.append(step_saves)
  started = time.time()
  try:
    if not finished:
      # Our compact progress (progress.py) instead of Keras' ProgbarLogger (all metrics).
      progress = progress_lib.TrainProgress(config.verbose if chief else 0,
                                            config.max_number_of_steps, steps_per_epoch,
                                            config.data.batch_size)
      with callbacks_lib.first_batches_timing_warning_dropped():
        model.fit(train_dataset, epochs=epochs, steps_per_epoch=steps_per_epoch,
                  initial_epoch=initial_epoch, callbacks=callbacks + [progress], verbose=0,
                  **validation)
  except (tf.errors.OpError, nonfinite.NonFiniteStep) as error:
    divergence = getattr(error, "values", None) or nonfinite.parse_divergence(str(error))
    if divergence is None:
      raise
    tracker.diverged(divergence)
    raise TrainingDiverged(_divergence_message(divergence, config, checkpointer)) from None
  finally:
    step_saves.release_signal()
  if step_saves.preempted:
    raise TrainingPreempted(
        f"stopped by SIGTERM after step {step_saves.preempted} and saved "
        f"{checkpointer.manager.latest_checkpoint}; run the same command again to resume there")
  # Further clean test sets (ILSVRC12 val on the WebVision classes: data/imagenet_val.py).
  extra = {f"final_{name}": {key: float(value) for key, value in evaluate(
      pipeline.build_eval_dataset(test_source, augmentation)).items()}
           for name, test_source in getattr(info, "extra_test", {}).items()}
  results = tracker.finish(evaluate(eval_dataset), train_seconds=time.time() - started,
                           steps=int(optimizer.iterations.numpy()), **extra)
  run_callbacks.summaries.write_results(results, int(optimizer.iterations.numpy()))
  return results


def _divergence_message(divergence: Dict, config: config_lib.TrainConfig, checkpointer) -> str:
  values = ", ".join(f"{name}={divergence[name]:.6g}" for name in
                     ("loss", "gradient_norm", "v_min", "v_max") if name in divergence)
  newest = checkpointer.manager.latest_checkpoint if checkpointer.chief else None
  kept = f"the newest checkpoint, {newest}, holds the last finite state" if newest else \
      "no checkpoint was written"
  return (f"training diverged at step {divergence.get('step', '?')}: {values} (not all finite). "
          f"Training stopped at that step and saved nothing after it; {kept}. results.json says "
          f"\"status\": \"diverged\". Try a lower --learning_rate (now {config.learning_rate:g}).")
