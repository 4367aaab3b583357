"""The entry points' absl flags converted to the config dataclasses, once per command.

`train_config_from_flags()` (train, experiments), `data_config_from_flags()` (evaluate) and
`source_config_from_flags()` (data.convert) read the flags that mentornet_tf/flags.py defines from
absl's FLAGS after the command line is parsed; the dataclasses validate (ConfigError names the
first bad flag). Only entry points import this module; importing it registers no flag.
"""
from absl import flags
from absl import logging

from mentornet_tf import config as config_lib

FLAGS = flags.FLAGS


def source_config_from_flags() -> config_lib.DataConfig:
  """A DataConfig of the `define_source_flags` flags (every other field at its default)."""
  return config_lib.DataConfig(
      dataset_name=FLAGS.dataset_name, data_dir=FLAGS.data_dir, data_format=FLAGS.data_format,
      test_data_dir=FLAGS.test_data_dir, image_size=FLAGS.image_size,
      train_list=FLAGS.train_list, test_list=FLAGS.test_list, num_classes=FLAGS.num_classes,
      cifar_n_labels=FLAGS.cifar_n_labels, cifar_n_dir=FLAGS.cifar_n_dir)


def data_config_from_flags() -> config_lib.DataConfig:
  return config_lib.DataConfig(
      dataset_name=FLAGS.dataset_name, data_dir=FLAGS.data_dir, data_format=FLAGS.data_format,
      test_data_dir=FLAGS.test_data_dir, noise_fraction=FLAGS.noise_fraction,
      noise_type=FLAGS.noise_type, noise_seed=FLAGS.noise_seed, batch_size=FLAGS.batch_size,
      shuffle_buffer=FLAGS.shuffle_buffer, augmentation=FLAGS.augmentation,
      clean_subset_fraction=FLAGS.clean_subset_fraction, image_size=FLAGS.image_size,
      train_list=FLAGS.train_list, test_list=FLAGS.test_list, num_classes=FLAGS.num_classes,
      imagenet_val_dir=FLAGS.imagenet_val_dir, cifar_n_labels=FLAGS.cifar_n_labels,
      cifar_n_dir=FLAGS.cifar_n_dir)


def mentor_config_from_flags() -> config_lib.MentorConfig:
  weighting = FLAGS.weighting
  if weighting == "auto":
    weighting = "mentornet" if FLAGS.trained_mentornet_dir else "none"
  return config_lib.MentorConfig(
      weighting=weighting, trained_mentornet_dir=FLAGS.trained_mentornet_dir,
      curriculum=FLAGS.curriculum, loss_p_percentile=FLAGS.loss_p_percentile,
      burn_in_epoch=FLAGS.burn_in_epoch,
      fixed_epoch_after_burn_in=FLAGS.fixed_epoch_after_burn_in,
      loss_moving_average_decay=FLAGS.loss_moving_average_decay,
      example_dropout_rates=FLAGS.example_dropout_rates,
      percentile_scope=FLAGS.percentile_scope, curriculum_lambda1=FLAGS.curriculum_lambda1,
      curriculum_lambda2=FLAGS.curriculum_lambda2, curriculum_gamma=FLAGS.curriculum_gamma,
      curriculum_update=FLAGS.curriculum_update, curriculum_step_size=FLAGS.curriculum_step_size,
      initial_weight=FLAGS.initial_weight,
      update_mentornet_epochs=config_lib.parse_int_list(
          ",".join(FLAGS.update_mentornet_epochs), "update_mentornet_epochs"),
      dd_percentile=FLAGS.dd_percentile, mentornet_learning_steps=FLAGS.mentornet_learning_steps,
      dd_dump_mode=FLAGS.dd_dump_mode, dd_loss_shifts=FLAGS.dd_loss_shifts,
      min_example_weight=FLAGS.min_example_weight,
      self_paced_growth_epochs=config_lib.parse_int_list(
          ",".join(FLAGS.self_paced_growth_epochs), "self_paced_growth_epochs"),
      self_paced_growth=FLAGS.self_paced_growth)


def _train_epochs() -> float:
  """--train_epochs, or 0 when --max_number_of_steps is also given (e.g. a 2-step smoke test of
  a flagfile that says --train_epochs): the explicit step count wins, with a warning."""
  if FLAGS.train_epochs > 0 and FLAGS["max_number_of_steps"].present:
    logging.warning("--max_number_of_steps=%d given: --train_epochs=%g is ignored",
                    FLAGS.max_number_of_steps, FLAGS.train_epochs)
    return 0.0
  return FLAGS.train_epochs


def train_config_from_flags() -> config_lib.TrainConfig:
  """Converts the parsed flags once; raises ConfigError naming the first bad flag."""
  optimizer, lr_schedule = config_lib.student_optimization(FLAGS.studentnet, FLAGS.optimizer,
                                                           FLAGS.lr_schedule)
  return config_lib.TrainConfig(
      data=data_config_from_flags(),
      student=config_lib.StudentConfig(studentnet=FLAGS.studentnet,
                                       weight_decay=FLAGS.weight_decay,
                                       sync_batch_norm=FLAGS.sync_batch_norm,
                                       loss=FLAGS.loss, focal_gamma=FLAGS.focal_gamma,
                                       bootstrap_beta=FLAGS.bootstrap_beta,
                                       dropout_keep_prob=FLAGS.dropout_keep_prob,
                                       s_model_pretrain_steps=FLAGS.s_model_pretrain_steps,
                                       aux_weight=FLAGS.aux_weight),
      mentor=mentor_config_from_flags(),
      train_log_dir=FLAGS.train_log_dir, optimizer=optimizer, momentum=FLAGS.momentum,
      learning_rate=FLAGS.learning_rate, lr_schedule=lr_schedule,
      lr_boundaries=config_lib.parse_int_list(FLAGS.lr_boundaries, "lr_boundaries"),
      lr_values=config_lib.parse_float_list(FLAGS.lr_values, "lr_values"),
      learning_rate_decay_factor=FLAGS.learning_rate_decay_factor,
      num_epochs_per_decay=FLAGS.num_epochs_per_decay,
      max_number_of_steps=FLAGS.max_number_of_steps, steps_per_epoch=FLAGS.steps_per_epoch,
      train_epochs=_train_epochs(), save_summaries_secs=FLAGS.save_summaries_secs,
      save_interval_secs=FLAGS.save_interval_secs,
      summary_steps=FLAGS.summary_steps, eval_interval=FLAGS.eval_interval, seed=FLAGS.seed,
      strategy=FLAGS.strategy, num_replicas_cpu=FLAGS.num_replicas_cpu,
      export_weights=FLAGS.export_weights, verbose=FLAGS.verbose, dtype=FLAGS.dtype,
      jit_compile=FLAGS.jit_compile, steps_per_execution=FLAGS.steps_per_execution,
      save_interval_steps=FLAGS.save_interval_steps)
