"""absl flags of `python -m mentornet_tf.train` / `evaluate`, and their conversion to TrainConfig.

Original flag names and defaults (original_code.md §3.1) wherever the concept existed, so a line of
the TF1 `commands/*.sh` is a line of a flagfile. Flags are defined inside functions (importing this
module registers nothing) and only entry points call them. An unknown flag, also in a flagfile,
is a fatal parse error (the original silently ignored the misspelled `--loss_p_precentile`).
"""
from absl import flags

from mentornet_tf import config as config_lib

FLAGS = flags.FLAGS


def define_data_flags():
  flags.DEFINE_enum("dataset_name", "cifar10", list(config_lib.DATASETS), "Dataset.")
  flags.DEFINE_string("data_dir", "", "tfds data_dir, or the directory of the original "
                      "{dataset}_train-* TFRecords. Unused for the embedded mnist5k/digits.")
  flags.DEFINE_enum("data_format", "auto", list(config_lib.DATA_FORMATS),
                    "tfds | tfrecord (original format) | auto (tfrecord when files match).")
  flags.DEFINE_string("test_data_dir", "", "Directory of the clean test split when it differs "
                      "from --data_dir (the original kept it in data/<ds>/val).")
  flags.DEFINE_float("noise_fraction", 0.0, "Probability that a training label is corrupted.")
  flags.DEFINE_enum("noise_type", "uniform", list(config_lib.NOISE_TYPES),
                    "uniform: a random class, may equal the true one (the paper); flip: a random "
                    "other class; pairflip: class c -> c+1.")
  flags.DEFINE_integer("noise_seed", 0, "Noise is a function of (noise_seed, example id) only.")
  flags.DEFINE_integer("batch_size", 128, "Global batch size (all replicas and workers).")
  flags.DEFINE_integer("shuffle_buffer", 10000, "Shuffle buffer of the training pipeline.")
  flags.DEFINE_enum("augmentation", "auto", ["auto", "resnet", "cifarnet", "standardize", "none"],
                    "auto = the student's own (resnet: pad 36/crop/flip; inception: pad 8).")
  flags.DEFINE_float("clean_subset_fraction", 0.1, "Share of training examples whose clean "
                     "label is known (MentorNet DD, Step 6).")


def define_student_flags():
  flags.DEFINE_enum("studentnet", "resnet101", list(config_lib.STUDENTS), "StudentNet.")
  flags.DEFINE_float("weight_decay", None, "Weight decay coefficient on sum ||W||^2/2; default: "
                     "the original's (resnet101 2e-4, inception 0).")
  flags.DEFINE_bool("sync_batch_norm", False, "Synchronised BatchNorm across replicas.")


def define_mentor_flags():
  flags.DEFINE_enum("weighting", "auto", ["auto"] + list(config_lib.WEIGHTING_MODES),
                    "auto: mentornet when --trained_mentornet_dir is set, else none (FullModel).")
  flags.DEFINE_string("trained_mentornet_dir", "", "MentorNet: a directory written by "
                      "train_mentornet, or an original TF1 checkpoint (dir or prefix).")
  flags.DEFINE_string("curriculum", "self_paced", "Predefined curriculum for --weighting="
                      "curriculum (SPADE Step 9).")
  flags.DEFINE_float("loss_p_percentile", 0.7, "p of the loss-percentile moving average.")
  flags.DEFINE_integer("burn_in_epoch", 0, "Burn-in length in epoch percentage (v forced to 1 "
                       "while epoch < burn_in_epoch - 1).")
  flags.DEFINE_bool("fixed_epoch_after_burn_in", False, "Cap the epoch fed to MentorNet (and used "
                    "for schedules) at burn_in_epoch. Set for MentorNet DD.")
  flags.DEFINE_float("loss_moving_average_decay", 0.5, "Decay of the loss moving average.")
  flags.DEFINE_string("example_dropout_rates", "0.5, 17, 0.05, 78, 1.0, 5",
                      "Example dropout schedule: rate, n_epochs, ... summing to 100 epochs.")
  flags.DEFINE_enum("percentile_scope", "replica", list(config_lib.PERCENTILE_SCOPES),
                    "replica: per-replica percentile and dropout (original); global: over all "
                    "replicas (identical to one device).")
  flags.DEFINE_float("curriculum_lambda1", 0.0, "lambda1 of Eq. 5-7 (curriculum weighting).")
  flags.DEFINE_float("curriculum_lambda2", 1.0, "lambda2 of Eq. 5-7 (curriculum weighting).")
  flags.DEFINE_float("curriculum_gamma", 2.0, "gamma of focal loss / SPCL (curriculum weighting).")
  flags.DEFINE_enum("curriculum_update", "gradient", ["gradient", "closed_form"],
                    "Step 9 projected gradient on v, or the closed-form minimiser v*.")
  flags.DEFINE_float("curriculum_step_size", 1.0, "Step size of Step 9's update of v.")
  flags.DEFINE_float("initial_weight", 1.0, "v0 of Algorithm 1 (curriculum weighting).")
  flags.DEFINE_list("update_mentornet_epochs", [], "Step 6: epoch percentages at which MentorNet "
                    "DD is re-learned from the current StudentNet (the paper: 21,75).")
  flags.DEFINE_float("dd_percentile", 0.0, "Percentile of the dump losses that MentorNet DD's "
                     "loss_diff is taken against (0 = 100 * --loss_p_percentile).")
  flags.DEFINE_integer("mentornet_learning_steps", 30000, "Adam steps to learn MentorNet DD.")


def define_train_flags():
  flags.DEFINE_string("train_log_dir", "", "Run directory: checkpoints, TensorBoard, results.")
  flags.DEFINE_enum("optimizer", "momentum", list(config_lib.OPTIMIZERS), "Student optimizer.")
  flags.DEFINE_float("momentum", 0.9, "Momentum.")
  flags.DEFINE_float("learning_rate", 0.1, "Base learning rate.")
  flags.DEFINE_enum("lr_schedule", "piecewise", list(config_lib.LR_SCHEDULES),
                    "piecewise (original resnet) | exponential (original inception) | constant.")
  flags.DEFINE_string("lr_boundaries", "19531,25000,30000", "Piecewise schedule boundaries.")
  flags.DEFINE_string("lr_values", "0.1,0.01,0.001,0.0001", "Piecewise schedule values "
                      "(scaled so the first equals --learning_rate).")
  flags.DEFINE_float("learning_rate_decay_factor", 0.1, "Exponential schedule decay factor.")
  flags.DEFINE_float("num_epochs_per_decay", 50, "Exponential schedule period in epochs.")
  flags.DEFINE_integer("max_number_of_steps", 39000, "Training steps; also the denominator of "
                       "the epoch percentage fed to MentorNet.")
  flags.DEFINE_integer("steps_per_epoch", 0, "Steps per Keras epoch; 0 = num_train // batch.")
  flags.DEFINE_integer("save_summaries_secs", 120, "Kept for compatibility; summaries are "
                       "written every --summary_steps.")
  flags.DEFINE_integer("save_interval_secs", 1200, "Checkpoint period (at epoch ends).")
  flags.DEFINE_integer("summary_steps", 10, "TensorBoard batch summaries every N steps.")
  flags.DEFINE_integer("eval_interval", 1, "Evaluate on the clean test split every N epochs.")
  flags.DEFINE_integer("seed", 0, "Initialisation, shuffling and example dropout seed.")
  flags.DEFINE_enum("strategy", "default", list(config_lib.STRATEGIES), "tf.distribute strategy.")
  flags.DEFINE_integer("num_replicas_cpu", 0, "With --strategy=mirrored and no GPU: split the "
                       "CPU into N logical devices.")
  flags.DEFINE_bool("export_weights", False, "Write per-example (id, loss, v, labels) per epoch.")
  flags.DEFINE_integer("verbose", 1, "1: progress bar, 2: one line per epoch, 0: silent.")


def define_all():
  define_data_flags()
  define_student_flags()
  define_mentor_flags()
  define_train_flags()


def data_config_from_flags() -> config_lib.DataConfig:
  return config_lib.DataConfig(
      dataset_name=FLAGS.dataset_name, data_dir=FLAGS.data_dir, data_format=FLAGS.data_format,
      test_data_dir=FLAGS.test_data_dir, noise_fraction=FLAGS.noise_fraction,
      noise_type=FLAGS.noise_type, noise_seed=FLAGS.noise_seed, batch_size=FLAGS.batch_size,
      shuffle_buffer=FLAGS.shuffle_buffer, augmentation=FLAGS.augmentation,
      clean_subset_fraction=FLAGS.clean_subset_fraction)


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
      dd_percentile=FLAGS.dd_percentile, mentornet_learning_steps=FLAGS.mentornet_learning_steps)


def train_config_from_flags() -> config_lib.TrainConfig:
  """Converts the parsed flags once; raises ConfigError naming the first bad flag."""
  return config_lib.TrainConfig(
      data=data_config_from_flags(),
      student=config_lib.StudentConfig(studentnet=FLAGS.studentnet,
                                       weight_decay=FLAGS.weight_decay,
                                       sync_batch_norm=FLAGS.sync_batch_norm),
      mentor=mentor_config_from_flags(),
      train_log_dir=FLAGS.train_log_dir, optimizer=FLAGS.optimizer, momentum=FLAGS.momentum,
      learning_rate=FLAGS.learning_rate, lr_schedule=FLAGS.lr_schedule,
      lr_boundaries=config_lib.parse_int_list(FLAGS.lr_boundaries, "lr_boundaries"),
      lr_values=config_lib.parse_float_list(FLAGS.lr_values, "lr_values"),
      learning_rate_decay_factor=FLAGS.learning_rate_decay_factor,
      num_epochs_per_decay=FLAGS.num_epochs_per_decay,
      max_number_of_steps=FLAGS.max_number_of_steps, steps_per_epoch=FLAGS.steps_per_epoch,
      save_summaries_secs=FLAGS.save_summaries_secs, save_interval_secs=FLAGS.save_interval_secs,
      summary_steps=FLAGS.summary_steps, eval_interval=FLAGS.eval_interval, seed=FLAGS.seed,
      strategy=FLAGS.strategy, num_replicas_cpu=FLAGS.num_replicas_cpu,
      export_weights=FLAGS.export_weights, verbose=FLAGS.verbose)
