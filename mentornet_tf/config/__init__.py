"""Run configuration as frozen dataclasses: every tunable, its default and its validation.

Entry points (`python -m mentornet_tf.train`, ...) convert absl flags into these once
(mentornet_tf/flag_configs.py); the library never reads flags. Field names equal flag names so
that a grep finds both. No TensorFlow import here.

Defaults follow the original TF1 `code/cifar_train_mentornet.py` where the concept exists
(its `tf.app.flags` definitions); new fields say so in their comment.

The package re-exports its public names (`config_lib.TrainConfig`, `config_lib.NOISE_TYPES`, ...);
each is defined once, in one of:
  choices.py   the values a field may take (enumerations, limits, the student's own optimiser)
  checks.py    ConfigError, the `__post_init__` checks, comma-separated list parsing
  data.py      DataConfig, ConvertConfig
  student.py   StudentConfig
  mentor.py    MentorConfig
  training.py  TrainConfig
  epochs.py    data_epoch_steps (a pass over the data), steps_per_epoch (a Keras epoch),
               resolve_train_epochs, epochs_for
"""
from mentornet_tf.config.checks import ConfigError, parse_float_list, parse_int_list
from mentornet_tf.config.choices import (ASYMMETRIC_NOISE_DATASETS, AUTO, BOOTSTRAP_BETA_DEFAULTS,
                                         CIFAR_N_LABELS, CURRICULUM_FLAG_HPARAMS,
                                         CURRICULUM_NAMES, DATA_FORMATS,
                                         DD_DUMP_MODES, DEFAULT_FOCAL_GAMMA,
                                         DEFAULT_OPTIMIZATION, DTYPES, LOSSES, LR_SCHEDULES,
                                         MAX_NOISE_SEED, MAX_SEED, NOISE_TYPES, OPTIMIZERS,
                                         PERCENTILE_SCOPES, SAVE_SUMMARIES_SECS,
                                         STUDENT_OPTIMIZATION, STUDENTS_WITH_AUX_HEAD,
                                         STUDENTS_WITH_DROPOUT, VERBOSITY_LEVELS,
                                         WEIGHTING_MODES, default_bootstrap_beta,
                                         student_optimization)
from mentornet_tf.config.data import ConvertConfig, DataConfig
from mentornet_tf.config.epochs import (data_epoch_steps, epochs_for, resolve_train_epochs,
                                        steps_per_epoch)
from mentornet_tf.config.mentor import MentorConfig
from mentornet_tf.config.student import StudentConfig
from mentornet_tf.config.training import TrainConfig

__all__ = [
    "ASYMMETRIC_NOISE_DATASETS", "AUTO", "BOOTSTRAP_BETA_DEFAULTS", "CIFAR_N_LABELS",
    "CURRICULUM_FLAG_HPARAMS", "CURRICULUM_NAMES", "DATA_FORMATS", "DD_DUMP_MODES",
    "DEFAULT_FOCAL_GAMMA",
    "DEFAULT_OPTIMIZATION", "DTYPES", "LOSSES", "LR_SCHEDULES", "MAX_NOISE_SEED", "MAX_SEED",
    "NOISE_TYPES", "OPTIMIZERS", "PERCENTILE_SCOPES", "SAVE_SUMMARIES_SECS",
    "STUDENT_OPTIMIZATION", "STUDENTS_WITH_AUX_HEAD", "STUDENTS_WITH_DROPOUT", "VERBOSITY_LEVELS",
    "WEIGHTING_MODES", "default_bootstrap_beta", "student_optimization",
    "ConfigError", "parse_float_list", "parse_int_list",
    "ConvertConfig", "DataConfig", "StudentConfig", "MentorConfig", "TrainConfig",
    "steps_per_epoch", "data_epoch_steps", "resolve_train_epochs", "epochs_for",
]
