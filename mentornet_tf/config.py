"""Run configuration as frozen dataclasses: every tunable, its default and its validation.

Entry points (`python -m mentornet_tf.train`, ...) convert absl flags into these once; the library
never reads flags. Field names equal flag names so that a grep finds both. No TensorFlow
import here.

Defaults follow the original TF1 `code/cifar_train_mentornet.py` where the concept exists
(its `tf.app.flags` definitions); new fields say so in their comment.
"""
import dataclasses
import json
import math
from typing import Optional, Tuple

from mentornet_tf import names

DATA_FORMATS = ("auto", "tfds", "tfrecord")
NOISE_TYPES = ("uniform", "flip", "pairflip", "asymmetric")
# --cifar_n_labels: CIFAR-N's label sets (data/cifar_n.py); auto = aggre (CIFAR-10N), noisy100.
CIFAR_N_LABELS = ("auto", "aggre", "worst", "rand1", "rand2", "rand3", "noisy100")
# The datasets with an asymmetric-noise class map (data/class_maps.py, which a test keeps equal).
ASYMMETRIC_NOISE_DATASETS = ("cifar10", "cifar100", "mnist5k", "digits")
OPTIMIZERS = ("momentum", "sgd", "adam")
LR_SCHEDULES = ("piecewise", "exponential", "constant")
# --optimizer / --lr_schedule 'auto' (the flags' default): the student's own, as the original
# chose them by student (original_code.md §3.2): CifarNet ('inception') plain SGD with the
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
VERBOSITY_LEVELS = (0, 1, 2)
SAVE_SUMMARIES_SECS = 120          # the original's default, the only value accepted
MAX_SEED = 2**32 - 1               # numpy/Keras global seeds (keras.utils.set_random_seed)
MAX_NOISE_SEED = 2**63 - 1         # int64 key of the SplitMix64 hash


class ConfigError(ValueError):
  """A configuration value is invalid. The message names the flag (= field) and the value."""


def _check(condition: bool, flag: str, value, requirement: str) -> None:
  if not condition:
    raise ConfigError(f"--{flag}={value!r} is invalid: {requirement}")


def _finite(value) -> bool:
  try:
    return math.isfinite(value)
  except TypeError:
    return False


def _parse_list(text: str, flag: str, kind: type, what: str) -> tuple:
  items = [t.strip() for t in str(text).split(",") if t.strip()]
  try:
    return tuple(kind(t) for t in items)
  except ValueError as error:
    raise ConfigError(f"--{flag}={text!r} is invalid: expected comma-separated {what} "
                      f"({error})") from None


def parse_float_list(text: str, flag: str) -> Tuple[float, ...]:
  """'0.1, 0.01' -> (0.1, 0.01); an error names `flag` when an item is not a number."""
  return _parse_list(text, flag, float, "numbers")


def parse_int_list(text: str, flag: str) -> Tuple[int, ...]:
  """'19531,25000' -> (19531, 25000); an error names `flag` when an item is not an integer."""
  return _parse_list(text, flag, int, "integers")


@dataclasses.dataclass(frozen=True)
class DataConfig:
  """Where the training data comes from and how its labels are corrupted."""
  dataset_name: str = "cifar10"      # original flag; also mnist5k, digits (embedded), fake (tests)
  data_dir: str = ""                 # original flag: tfds dir or dir of cifar10_train-* TFRecords
  data_format: str = "auto"          # new: tfds | tfrecord | auto (tfrecord if files match)
  test_data_dir: str = ""            # new: clean test split's dir when it differs (original val/)
  noise_fraction: float = 0.0        # new: p, probability a training label is corrupted
  noise_type: str = "uniform"        # new: uniform | flip | pairflip | asymmetric (noise.py)
  noise_seed: int = 0                # new: noise is a function of (noise_seed, example id) only
  batch_size: int = 128              # original flag: GLOBAL batch size
  shuffle_buffer: int = 10000        # new
  augmentation: str = "auto"         # new: auto (the student's own) | a names.AUGMENTATIONS
  clean_subset_fraction: float = 0.1  # new: share of training ids whose clean label is known (DD)
  fake_num_train: int = 256          # new: size of the 'fake' dataset (tests, benchmarks)
  fake_num_test: int = 64
  fake_image_shape: Tuple[int, ...] = (32, 32, 3)
  fake_num_classes: int = 10
  # new (image-file sources: filelist, folder, webvision*): square side images are preprocessed to,
  # the list files of filelist (relative to data_dir unless absolute), its class count.
  image_size: int = 224
  train_list: str = "train.txt"
  test_list: str = "test.txt"
  num_classes: int = 0
  # new: webvision*: ILSVRC12 val (a prepared imagenet2012 or its conversion), restricted to the
  # WebVision synsets, as a second clean test set (data/imagenet_val.py)
  imagenet_val_dir: str = ""
  # new: cifar10_n / cifar100_n: which human label set, and the directory of the label files
  # (default data_dir; data/cifar_n.py).
  cifar_n_labels: str = "auto"
  cifar_n_dir: str = ""

  def __post_init__(self):
    _check(self.dataset_name in names.DATASETS or (
        self.dataset_name.startswith(names.TFDS_PREFIX)
        and len(self.dataset_name) > len(names.TFDS_PREFIX)), "dataset_name", self.dataset_name,
           f"choose one of {', '.join(names.DATASETS)}, or tfds:NAME")
    _check(self.image_size >= 1, "image_size", self.image_size, "must be a positive integer")
    _check(self.num_classes >= 0, "num_classes", self.num_classes, "must be >= 0")
    _check(not self.imagenet_val_dir or self.dataset_name in (
        "webvision", "webvision_mini", "tfrecord_shards"), "imagenet_val_dir",
           self.imagenet_val_dir, "ILSVRC12 val on the WebVision classes needs "
           "--dataset_name=webvision or webvision_mini (or their tfrecord_shards conversion), "
           f"not {self.dataset_name}")
    _check(not (self.dataset_name.startswith("webvision") and self.noise_fraction > 0),
           "noise_fraction", self.noise_fraction,
           f"--dataset_name={self.dataset_name} labels are already noisy (web labels): use 0")
    _check(not (self.dataset_name.endswith("_n") and self.noise_fraction > 0), "noise_fraction",
           self.noise_fraction,
           f"--dataset_name={self.dataset_name} labels are already noisy (human labels): use 0")
    own = {"cifar10_n": ("auto", "aggre", "worst", "rand1", "rand2", "rand3"),
           "cifar100_n": ("auto", "noisy100")}.get(self.dataset_name, ("auto",))
    _check(self.cifar_n_labels in own, "cifar_n_labels", self.cifar_n_labels,
           f"--dataset_name={self.dataset_name} takes {', '.join(own)}"
           + ("" if self.dataset_name.endswith("_n") else " (it applies to cifar10_n, cifar100_n)"))
    _check(self.data_format in DATA_FORMATS, "data_format", self.data_format,
           f"choose one of {', '.join(DATA_FORMATS)}")
    _check(0.0 <= self.noise_fraction <= 1.0, "noise_fraction", self.noise_fraction,
           "must lie in [0, 1]")
    _check(self.noise_type in NOISE_TYPES, "noise_type", self.noise_type,
           f"choose one of {', '.join(NOISE_TYPES)}")
    _check(self.noise_type != "asymmetric" or self.dataset_name in ASYMMETRIC_NOISE_DATASETS,
           "noise_type", self.noise_type, f"asymmetric noise has class maps for --dataset_name="
           f"{', '.join(ASYMMETRIC_NOISE_DATASETS)} only, not {self.dataset_name}")
    _check(0 <= self.noise_seed <= MAX_NOISE_SEED, "noise_seed", self.noise_seed,
           f"must lie in [0, {MAX_NOISE_SEED}]")
    _check(self.batch_size >= 1, "batch_size", self.batch_size, "must be a positive integer")
    _check(self.shuffle_buffer >= 1, "shuffle_buffer", self.shuffle_buffer, "must be >= 1")
    _check(0.0 <= self.clean_subset_fraction <= 1.0, "clean_subset_fraction",
           self.clean_subset_fraction, "must lie in [0, 1]")
    _check(self.augmentation in names.AUGMENTATION_CHOICES, "augmentation", self.augmentation,
           f"choose one of {', '.join(names.AUGMENTATION_CHOICES)}")
    _check(self.fake_num_train >= 1 and self.fake_num_test >= 1, "fake_num_train",
           (self.fake_num_train, self.fake_num_test), "the fake splits need >= 1 example each")
    _check(self.fake_num_classes >= 2, "fake_num_classes", self.fake_num_classes, "must be >= 2")


@dataclasses.dataclass(frozen=True)
class StudentConfig:
  """Which StudentNet to build."""
  studentnet: str = "resnet101"      # original flag: resnet101 | inception (= slim CifarNet) | ...
  weight_decay: Optional[float] = None  # new: None = the student's own (resnet 2e-4, inception 0)
  sync_batch_norm: bool = False      # new: synchronised BN under multi-replica strategies
  loss: str = "cross_entropy"        # new: the training loss, a LOSSES (mentornet_tf/losses.py)
  focal_gamma: Optional[float] = None  # new: gamma of loss=focal*; None = DEFAULT_FOCAL_GAMMA
  bootstrap_beta: Optional[float] = None  # new: beta of loss=bootstrap_*; None = Reed's default
  dropout_keep_prob: Optional[float] = None  # new: None = the student's own (Forgetting tunes it)
  s_model_pretrain_steps: int = 0    # new: > 0 = Goldberger's S-model after that many CE steps
  aux_weight: Optional[float] = None  # new: auxiliary-head loss weight; None = the student's own

  def __post_init__(self):
    _check(self.studentnet in names.STUDENTS, "studentnet", self.studentnet,
           f"choose one of {', '.join(names.STUDENTS)}")
    _check(self.weight_decay is None or (_finite(self.weight_decay) and self.weight_decay >= 0),
           "weight_decay", self.weight_decay, "must be a finite number >= 0")
    _check(self.loss in LOSSES, "loss", self.loss, f"choose one of {', '.join(LOSSES)}")
    _check(self.s_model_pretrain_steps >= 0, "s_model_pretrain_steps",
           self.s_model_pretrain_steps, "must be >= 0 (0 = no S-model)")
    _check(self.s_model_pretrain_steps == 0 or self.loss == "cross_entropy",
           "s_model_pretrain_steps", self.s_model_pretrain_steps,
           f"the S-model's channel loss replaces CE; it cannot be combined with --loss={self.loss}")
    if self.dropout_keep_prob is not None:
      _check(_finite(self.dropout_keep_prob) and 0.0 < self.dropout_keep_prob <= 1.0,
             "dropout_keep_prob", self.dropout_keep_prob, "must lie in (0, 1]")
      _check(self.studentnet in STUDENTS_WITH_DROPOUT, "dropout_keep_prob",
             self.dropout_keep_prob, f"--studentnet={self.studentnet} has no dropout layer; "
             f"students with one: {', '.join(STUDENTS_WITH_DROPOUT)}")
    if self.aux_weight is not None:
      _check(_finite(self.aux_weight) and self.aux_weight >= 0, "aux_weight", self.aux_weight,
             "must be a finite number >= 0 (0 = no auxiliary loss)")
      _check(self.studentnet in STUDENTS_WITH_AUX_HEAD, "aux_weight", self.aux_weight,
             f"--studentnet={self.studentnet} has no auxiliary head; students with one: "
             f"{', '.join(STUDENTS_WITH_AUX_HEAD)}")
    if self.focal_gamma is not None:
      _check(self.loss.startswith("focal"), "focal_gamma", self.focal_gamma,
             f"applies to --loss=focal or focal_differentiated only (got --loss={self.loss})")
      _check(_finite(self.focal_gamma) and self.focal_gamma >= 0, "focal_gamma",
             self.focal_gamma, "must be a finite number >= 0 (the paper tunes 1, 2, 3)")
    if self.bootstrap_beta is not None:
      _check(self.loss.startswith("bootstrap"), "bootstrap_beta", self.bootstrap_beta,
             f"applies to --loss=bootstrap_soft or bootstrap_hard only (got --loss={self.loss})")
      _check(_finite(self.bootstrap_beta) and 0.0 <= self.bootstrap_beta <= 1.0,
             "bootstrap_beta", self.bootstrap_beta,
             "must lie in [0, 1] (Reed: soft 0.95, hard 0.8; the paper tunes 0.7-0.95)")


@dataclasses.dataclass(frozen=True)
class MentorConfig:
  """How per-example weights v are computed (SPADE, Algorithm 1; original `utils.mentornet`)."""
  weighting: str = "none"            # new: none (FullModel) | mentornet | curriculum (Step 9)
  trained_mentornet_dir: str = ""    # original flag: TF1 checkpoint or our MentorNet directory
  curriculum: str = "self_paced"     # new: predefined G for weighting=curriculum
  loss_p_percentile: float = 0.7     # original flag (the original commands misspelled it: ignored)
  burn_in_epoch: int = 0             # original flag, in epoch-percentage units 0..100
  fixed_epoch_after_burn_in: bool = False  # original flag ("set True for MentorNet DD")
  loss_moving_average_decay: float = 0.5  # original flag
  example_dropout_rates: str = "0.5, 17, 0.05, 78, 1.0, 5"  # original flag: rate, n_epochs, ...
  percentile_scope: str = "replica"  # new: replica (original) | global (all-gather, = one device)
  curriculum_lambda1: float = 0.0    # new: Step 9 / Eq. 7 hyper-parameters for weighting=curriculum
  curriculum_lambda2: float = 1.0
  curriculum_gamma: float = 2.0
  curriculum_update: str = "gradient"  # new: gradient (Step 9, projected) | closed_form (v = v*)
  curriculum_step_size: float = 1.0  # new: alpha of Step 9's projected gradient step on v
  initial_weight: float = 1.0        # new: v0 of Algorithm 1 step 1 (weighting=curriculum)
  update_mentornet_epochs: Tuple[int, ...] = ()  # new: Step 6 re-learning epochs, e.g. (21, 75)
  dd_percentile: float = 0.0         # new: DD loss_diff percentile (0 = 100 * loss_p_percentile)
  mentornet_learning_steps: int = 30000  # new: Adam steps when learning DD (original: 30k)
  dd_dump_mode: str = "inference"    # new: the DD dump's student mode, a DD_DUMP_MODES
  dd_loss_shifts: int = 0            # new: DD data at K loss offsets (mentor_data; 0 = original)
  min_example_weight: float = 0.0    # new: MentorNet v below it is set to 0 (0 = original)
  # new: weighting=self_paced_baseline (v = 1[loss <= lambda], lambda grown by
  # self_paced_growth at each of these epoch percentages; mentor/weighting/self_paced.py)
  self_paced_growth_epochs: Tuple[int, ...] = (10, 20, 30, 40, 50, 60, 70, 80, 90)
  self_paced_growth: float = 0.2

  def __post_init__(self):
    _check(self.weighting in WEIGHTING_MODES, "weighting", self.weighting,
           f"choose one of {', '.join(WEIGHTING_MODES)}")
    _check(self.curriculum in CURRICULUM_NAMES, "curriculum", self.curriculum,
           f"choose one of {', '.join(CURRICULUM_NAMES)}")
    _check(self.weighting != "mentornet" or bool(self.trained_mentornet_dir) or bool(
        self.update_mentornet_epochs), "trained_mentornet_dir", self.trained_mentornet_dir,
           "--weighting=mentornet needs a MentorNet (e.g. data/mentornet_models/mentornet_pd), "
           "or --update_mentornet_epochs to learn MentorNet DD during training")
    if self.weighting == "mentornet" and not self.trained_mentornet_dir:
      # Learning DD from scratch: the untrained MentorNet must never decide a weight.
      _check(min(self.update_mentornet_epochs) <= self.burn_in_epoch - 1,
             "update_mentornet_epochs", self.update_mentornet_epochs,
             f"without --trained_mentornet_dir the first update must come by the end of the "
             f"burn-in (epoch <= --burn_in_epoch - 1 = {self.burn_in_epoch - 1})")
    _check(0 <= self.dd_loss_shifts <= 100, "dd_loss_shifts", self.dd_loss_shifts,
           "must lie in [0, 100] (0 = the original DD data)")
    _check(_finite(self.min_example_weight) and 0.0 <= self.min_example_weight < 1.0,
           "min_example_weight", self.min_example_weight, "must lie in [0, 1)")
    _check(self.min_example_weight == 0.0 or self.weighting == "mentornet", "min_example_weight",
           self.min_example_weight, f"applies to --weighting=mentornet only (got "
           f"--weighting={self.weighting})")
    _check(0.0 <= self.dd_percentile <= 100.0, "dd_percentile", self.dd_percentile,
           "must lie in [0, 100]")
    _check(self.dd_dump_mode in DD_DUMP_MODES, "dd_dump_mode", self.dd_dump_mode,
           f"choose one of {', '.join(DD_DUMP_MODES)}")
    for epoch in self.self_paced_growth_epochs:
      _check(0 < epoch < 100, "self_paced_growth_epochs", self.self_paced_growth_epochs,
             "each epoch percentage must lie in (0, 100)")
    _check(_finite(self.self_paced_growth) and self.self_paced_growth >= 0, "self_paced_growth",
           self.self_paced_growth, "must be a finite number >= 0 (0.2 = lambda grows by 20%)")
    _check(self.mentornet_learning_steps >= 1, "mentornet_learning_steps",
           self.mentornet_learning_steps, "must be >= 1")
    _check(0.0 <= self.loss_p_percentile <= 1.0, "loss_p_percentile", self.loss_p_percentile,
           "must lie in [0, 1] (a fraction, e.g. 0.7)")
    _check(0 <= self.burn_in_epoch <= 100, "burn_in_epoch", self.burn_in_epoch,
           "must lie in [0, 100] (epoch-percentage units)")
    _check(0.0 <= self.loss_moving_average_decay < 1.0, "loss_moving_average_decay",
           self.loss_moving_average_decay, "must lie in [0, 1)")
    _check(self.percentile_scope in PERCENTILE_SCOPES, "percentile_scope", self.percentile_scope,
           f"choose one of {', '.join(PERCENTILE_SCOPES)}")
    for epoch in self.update_mentornet_epochs:
      _check(0 < epoch < 100, "update_mentornet_epochs", self.update_mentornet_epochs,
             "each epoch percentage must lie in (0, 100)")
    _check(self.curriculum_update in ("gradient", "closed_form"), "curriculum_update",
           self.curriculum_update, "choose one of gradient, closed_form")
    _check(_finite(self.curriculum_step_size) and self.curriculum_step_size > 0,
           "curriculum_step_size", self.curriculum_step_size, "must be a finite number > 0")
    _check(0.0 <= self.initial_weight <= 1.0, "initial_weight", self.initial_weight,
           "must lie in [0, 1]")
    _check(_finite(self.curriculum_lambda1), "curriculum_lambda1", self.curriculum_lambda1,
           "must be a finite number")
    _check(_finite(self.curriculum_lambda2) and self.curriculum_lambda2 >= 0,
           "curriculum_lambda2", self.curriculum_lambda2, "must be a finite number >= 0")
    _check(_finite(self.curriculum_gamma) and self.curriculum_gamma >= 0, "curriculum_gamma",
           self.curriculum_gamma, "must be a finite number >= 0")
    # Parse eagerly so a malformed schedule fails before anything is built.
    from mentornet_tf import schedules  # pylint: disable=g-import-not-at-top
    try:
      schedules.parse_dropout_rate_list(self.example_dropout_rates)
    except schedules.ScheduleError as error:  # names --example_dropout_rates and the bad pair
      raise ConfigError(str(error)) from None


@dataclasses.dataclass(frozen=True)
class TrainConfig:
  """The whole run: data, student, mentor, optimiser, schedule, logging, distribution."""
  data: DataConfig = dataclasses.field(default_factory=DataConfig)
  student: StudentConfig = dataclasses.field(default_factory=StudentConfig)
  mentor: MentorConfig = dataclasses.field(default_factory=MentorConfig)
  train_log_dir: str = ""            # original flag: run directory (checkpoints, events, flags)
  optimizer: str = "momentum"        # new: momentum (resnet) | sgd (original inception) | adam
  momentum: float = 0.9
  learning_rate: float = 0.1         # original flag
  lr_schedule: str = "piecewise"     # new: piecewise (resnet) | exponential (inception) | constant
  lr_boundaries: Tuple[int, ...] = (19531, 25000, 30000)  # new: int(50000/128*50) = 19531 (Py3)
  lr_values: Tuple[float, ...] = (0.1, 0.01, 0.001, 0.0001)
  learning_rate_decay_factor: float = 0.1  # original flag (exponential schedule)
  num_epochs_per_decay: float = 50.0  # original flag (exponential schedule, real epochs)
  max_number_of_steps: int = 39000   # original flag; also the epoch-percentage denominator
  train_epochs: float = 0.0          # new: > 0 sets max_number_of_steps from epochs (see below)
  steps_per_epoch: int = 0           # new: 0 = num_train // batch_size (see steps_per_epoch())
  save_summaries_secs: int = SAVE_SUMMARIES_SECS  # original flag; only its default (summary_steps)
  save_interval_secs: int = 1200     # original flag: checkpoint period
  summary_steps: int = 10            # new
  eval_interval: int = 1             # new: evaluate every N (Keras) epochs; 0 = only at the end
  seed: int = 0                      # new: initialisation, shuffling, example dropout
  strategy: str = "default"          # new: tf.distribute strategy name
  num_replicas_cpu: int = 0          # new: split the CPU into N logical devices (tests)
  export_weights: bool = False       # new: write per-example (id, loss, v, labels) per epoch
  verbose: int = 1                   # new: 1 = progress bar, 2 = one line per epoch, 0 = silent
  # new (large-scale training): the student's compute dtype (a DTYPES; variables stay float32),
  # XLA for the training step, training steps per tf.function call, step-level checkpoints.
  dtype: str = "float32"
  jit_compile: bool = False
  steps_per_execution: int = 1
  save_interval_steps: int = 0       # 0 = off (checkpoints at epoch ends and at the end only)

  def __post_init__(self):
    _check(bool(self.train_log_dir), "train_log_dir", self.train_log_dir,
           "a run directory is required")
    _check(self.student.s_model_pretrain_steps < self.max_number_of_steps,
           "s_model_pretrain_steps", self.student.s_model_pretrain_steps,
           f"the first (CE) phase must end before --max_number_of_steps={self.max_number_of_steps}")
    # The paper's focal loss is itself a curriculum: it must not be applied twice.
    _check(not (self.student.loss.startswith("focal") and self.mentor.weighting == "curriculum"
                and self.mentor.curriculum == "focal_loss"), "loss", self.student.loss,
           "--weighting=curriculum --curriculum=focal_loss already weights CE by the focal "
           "weight; use one of them, not both")
    _check(self.optimizer in OPTIMIZERS, "optimizer", self.optimizer,
           f"choose one of {', '.join(OPTIMIZERS)}")
    _check(_finite(self.momentum) and 0.0 <= self.momentum < 1.0, "momentum", self.momentum,
           "must lie in [0, 1)")
    _check(_finite(self.learning_rate) and self.learning_rate > 0, "learning_rate",
           self.learning_rate, "must be a finite number > 0")
    _check(self.lr_schedule in LR_SCHEDULES, "lr_schedule", self.lr_schedule,
           f"choose one of {', '.join(LR_SCHEDULES)}")
    if self.lr_schedule == "piecewise":
      _check(len(self.lr_values) == len(self.lr_boundaries) + 1, "lr_values", self.lr_values,
             f"needs exactly one more value than --lr_boundaries={self.lr_boundaries}")
      _check(list(self.lr_boundaries) == sorted(set(self.lr_boundaries)), "lr_boundaries",
             self.lr_boundaries, "must be strictly increasing")
      _check(all(b >= 0 for b in self.lr_boundaries), "lr_boundaries", self.lr_boundaries,
             "steps must be >= 0")
      _check(all(_finite(v) and v > 0 for v in self.lr_values), "lr_values", self.lr_values,
             "every value must be a finite number > 0")
    _check(_finite(self.learning_rate_decay_factor) and self.learning_rate_decay_factor > 0,
           "learning_rate_decay_factor", self.learning_rate_decay_factor,
           "must be a finite number > 0")
    _check(_finite(self.num_epochs_per_decay) and self.num_epochs_per_decay > 0,
           "num_epochs_per_decay", self.num_epochs_per_decay, "must be a finite number > 0")
    _check(self.max_number_of_steps >= 1, "max_number_of_steps", self.max_number_of_steps,
           "must be >= 1")
    _check(self.steps_per_epoch >= 0, "steps_per_epoch", self.steps_per_epoch, "must be >= 0")
    _check(_finite(self.train_epochs) and self.train_epochs >= 0, "train_epochs",
           self.train_epochs, "must be a finite number >= 0 (0 = use --max_number_of_steps)")
    _check(self.eval_interval >= 0, "eval_interval", self.eval_interval,
           "must be >= 0 (0 = evaluate only at the end)")
    # Summaries are written every `summary_steps` steps (step-exact, comparable across runs and
    # machines); a time-based period is refused rather than silently ignored.
    _check(self.save_summaries_secs == SAVE_SUMMARIES_SECS, "save_summaries_secs",
           self.save_summaries_secs, "summaries are written every --summary_steps steps, not "
           f"every N seconds; only the default {SAVE_SUMMARIES_SECS} is accepted (drop the flag "
           "and set --summary_steps)")
    _check(self.save_interval_secs >= 0, "save_interval_secs", self.save_interval_secs,
           "must be >= 0")
    _check(self.summary_steps >= 1, "summary_steps", self.summary_steps, "must be >= 1")
    _check(0 <= self.seed <= MAX_SEED, "seed", self.seed, f"must lie in [0, {MAX_SEED}]")
    _check(self.strategy in names.STRATEGIES, "strategy", self.strategy,
           f"choose one of {', '.join(names.STRATEGIES)}")
    _check(self.num_replicas_cpu >= 0, "num_replicas_cpu", self.num_replicas_cpu,
           "must be >= 0 (0 or 1 = no split)")
    _check(self.num_replicas_cpu <= 1 or self.strategy == "mirrored", "num_replicas_cpu",
           self.num_replicas_cpu, "splits the CPU for --strategy=mirrored only (got "
           f"--strategy={self.strategy})")
    _check(self.dtype in DTYPES, "dtype", self.dtype, f"choose one of {', '.join(DTYPES)}")
    # Under XLA the divergence record is read on the host after every call: the parameter
    # server's coordinator would then wait for every step (and fit refuses the callback).
    _check(not (self.jit_compile and self.strategy == "parameter_server"), "jit_compile",
           self.jit_compile, "is not supported with --strategy=parameter_server")
    _check(self.steps_per_execution >= 1, "steps_per_execution", self.steps_per_execution,
           "must be >= 1")
    _check(self.steps_per_execution == 1 or self.student.s_model_pretrain_steps == 0,
           "steps_per_execution", self.steps_per_execution, "the S-model's channel is set at "
           "the end of step --s_model_pretrain_steps exactly: use 1 with it")
    _check(self.save_interval_steps >= 0, "save_interval_steps", self.save_interval_steps,
           "must be >= 0 (0 = no step-level checkpoints)")
    _check(self.verbose in VERBOSITY_LEVELS, "verbose", self.verbose,
           "choose one of 0 (silent), 1 (progress bar), 2 (one line per epoch)")

  def to_json(self) -> str:
    return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True)


@dataclasses.dataclass(frozen=True)
class ConvertConfig:
  """What `python -m mentornet_tf.data.convert` writes: `data`'s splits as sharded TFRecords."""
  data: DataConfig = dataclasses.field(default_factory=DataConfig)  # the source (its fields)
  output_dir: str = ""               # <output_dir>/<split>/ per split (data/shards.py)
  splits: Tuple[str, ...] = ("train", "test")
  examples_per_shard: int = 1000     # shards = ceil(examples / this); ~110 MB of ImageNet JPEGs

  def __post_init__(self):
    _check(bool(self.output_dir), "output_dir", self.output_dir,
           "the directory the shards are written to is required")
    _check(bool(self.splits) and set(self.splits) <= {"train", "test"}
           and len(set(self.splits)) == len(self.splits), "splits", ",".join(self.splits),
           "choose train, test or both (comma-separated, each once)")
    _check(self.examples_per_shard >= 1, "examples_per_shard", self.examples_per_shard,
           "must be >= 1")


def steps_per_epoch(config: TrainConfig, num_train: int) -> int:
  """Steps of one Keras epoch: `config.steps_per_epoch`, or num_train // global batch (>= 1).

  Floor, not ceil: the training stream repeats, so every step takes a full global batch and an
  epoch of floor(N / B) steps sees each example at most once.
  """
  return config.steps_per_epoch or max(1, num_train // config.data.batch_size)


def resolve_train_epochs(config: TrainConfig, num_train: int) -> TrainConfig:
  """The config with `max_number_of_steps` = ceil(train_epochs * steps_per_epoch) when
  `train_epochs` > 0 (else unchanged).

  The paper states its large-scale schedules in epochs (App. E.1: 1M steps at batch 32 on
  ImageNet = 25 epochs); a flagfile that says `--train_epochs=25` trains 25 epochs whatever the
  global batch (the number of workers) is. The result is what config.json records.
  """
  if config.train_epochs <= 0:
    return config
  steps = max(1, math.ceil(config.train_epochs * steps_per_epoch(config, num_train)))
  return dataclasses.replace(config, max_number_of_steps=steps)


def epochs_for(max_number_of_steps: int, steps_per_epoch: int) -> int:
  """Number of Keras epochs that cover `max_number_of_steps` (the last one may be partial)."""
  return max(1, math.ceil(max_number_of_steps / steps_per_epoch))
