"""The values a run configuration's fields may take, and the few rules that choose a default.

Enumerations (`NOISE_TYPES`, `LOSSES`, ...) that the dataclasses validate against and flags.py
offers as enum choices; the names of registries (datasets, students, strategies, augmentations)
live in mentornet_tf/names.py instead. No TensorFlow import here.
"""
from typing import Tuple

DATA_FORMATS = ("auto", "tfds", "tfrecord")
NOISE_TYPES = ("uniform", "flip", "pairflip", "asymmetric")
# --cifar_n_labels: CIFAR-N's label sets (data/cifar_n.py); auto = aggre (CIFAR-10N), noisy100.
CIFAR_N_LABELS = ("auto", "aggre", "worst", "rand1", "rand2", "rand3", "noisy100")
# The datasets with an asymmetric-noise class map (data/class_maps.py, which a test keeps equal).
ASYMMETRIC_NOISE_DATASETS = ("cifar10", "cifar100", "mnist5k", "digits")
OPTIMIZERS = ("momentum", "sgd", "adam")
LR_SCHEDULES = ("piecewise", "exponential", "constant")
# --optimizer / --lr_schedule 'auto' (the flags' default): the student's own, as the original
# chose them by student (`code/cifar_train_mentornet.py`): CifarNet ('inception') plain SGD with the
# exponential staircase schedule, the resnet101 (and every other student) momentum 0.9 with the
# piecewise one. TrainConfig holds the resolved names (config.json is explicit).
AUTO = "auto"
STUDENT_OPTIMIZATION = {"inception": ("sgd", "exponential")}
DEFAULT_OPTIMIZATION = ("momentum", "piecewise")


def student_optimization(studentnet: str, optimizer: str = AUTO,
                         lr_schedule: str = AUTO) -> Tuple[str, str]:
  """(optimizer, lr_schedule) with each 'auto' replaced by the student's own."""
  own = STUDENT_OPTIMIZATION.get(studentnet, DEFAULT_OPTIMIZATION)
  return (own[0] if optimizer == AUTO else optimizer,
          own[1] if lr_schedule == AUTO else lr_schedule)


PERCENTILE_SCOPES = ("replica", "global")
# How the StudentNet is run for the MentorNet DD dump (Step 6): inference (BN moving statistics,
# no dropout, eval preprocessing) or training (BN batch statistics, dropout, the training
# augmentation: the losses SPADE feeds the MentorNet, as the original's dump built the network).
DD_DUMP_MODES = ("inference", "training")
WEIGHTING_MODES = ("none", "mentornet", "curriculum", "self_paced_baseline")
# The StudentNet's training loss (mentornet_tf/losses.py, which imports TensorFlow; a test keeps
# both equal): plain CE, or a baseline loss of the paper (App. E).
LOSSES = ("cross_entropy", "focal", "focal_differentiated", "bootstrap_soft", "bootstrap_hard")
# The students with a dropout layer that --dropout_keep_prob sets (students.STUDENTS[name]
# .dropout_keep_prob is not None; a test keeps both equal). resnet101 and resnet50 add theirs
# before the logits only when keep < 1.
STUDENTS_WITH_DROPOUT = ("resnet101", "inception", "inception_resnet_v2", "resnet50")
# The students with an auxiliary head whose loss --aux_weight weights (their model has
# `has_aux_logits` and `aux_weight`: students/inception_resnet_v2.py).
STUDENTS_WITH_AUX_HEAD = ("inception_resnet_v2",)
# --dtype: the StudentNet's compute dtype (variables stay float32; mentornet_tf/precision.py).
DTYPES = ("float32", "bfloat16", "float16")
DEFAULT_FOCAL_GAMMA = 2.0          # the original's (its flag was ignored); the paper tunes 1, 2, 3
BOOTSTRAP_BETA_DEFAULTS = {"bootstrap_soft": 0.95, "bootstrap_hard": 0.8}  # Reed et al.'s own


def default_bootstrap_beta(loss: str) -> float:
  """Reed et al.'s beta for `loss` (soft 0.95, hard 0.8); 1.0 (plain CE) for any other loss."""
  return BOOTSTRAP_BETA_DEFAULTS.get(loss, 1.0)


# The names of mentor/curricula.CURRICULA (that module imports TensorFlow; a test keeps both equal).
CURRICULUM_NAMES = ("baseline", "self_paced", "hard_example_mining", "focal_loss", "spcl_linear",
                    "closed_form", "prediction_variance", "temporal_mixture", "mentornet_pd")
# Which of --curriculum_lambda1/lambda2/gamma each curriculum takes (its default_hparams that a
# flag sets; a test keeps both equal). Any other one given is refused, not silently dropped.
CURRICULUM_FLAG_HPARAMS = {
    "baseline": (), "self_paced": ("lambda1",), "hard_example_mining": (),
    "focal_loss": ("gamma",), "spcl_linear": ("gamma",), "closed_form": ("lambda1", "lambda2"),
    "prediction_variance": (), "temporal_mixture": (), "mentornet_pd": ("gamma",)}
VERBOSITY_LEVELS = (0, 1, 2)
SAVE_SUMMARIES_SECS = 120          # the original's default, the only value accepted
MAX_SEED = 2**32 - 1               # numpy/Keras global seeds (keras.utils.set_random_seed)
MAX_NOISE_SEED = 2**63 - 1         # int64 key of the SplitMix64 hash
