"""`TrainConfig`: the whole training run (data, student, mentor, optimiser, schedule, logging,
distribution), validated across its parts; `to_json` is what a run's config.json holds.

Field names equal flag names; defaults follow the original TF1 `code/cifar_train_mentornet.py`.
No TensorFlow import here.
"""
import dataclasses
import json
from typing import Tuple

from mentornet_tf import names
from mentornet_tf.config.checks import check, finite
from mentornet_tf.config.choices import (DTYPES, LR_SCHEDULES, MAX_SEED, OPTIMIZERS,
                                         SAVE_SUMMARIES_SECS, VERBOSITY_LEVELS)
from mentornet_tf.config.data import DataConfig
from mentornet_tf.config.mentor import MentorConfig
from mentornet_tf.config.student import StudentConfig


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
    check(bool(self.train_log_dir), "train_log_dir", self.train_log_dir,
           "a run directory is required")
    check(self.max_number_of_steps >= 1, "max_number_of_steps", self.max_number_of_steps,
           "must be >= 1")  # first: the checks below compare other steps with it
    check(self.student.s_model_pretrain_steps < self.max_number_of_steps,
           "s_model_pretrain_steps", self.student.s_model_pretrain_steps,
           f"the first (CE) phase must end before --max_number_of_steps={self.max_number_of_steps}")
    # The paper's focal loss is itself a curriculum: it must not be applied twice.
    check(not (self.student.loss.startswith("focal") and self.mentor.weighting == "curriculum"
                and self.mentor.curriculum == "focal_loss"), "loss", self.student.loss,
           "--weighting=curriculum --curriculum=focal_loss already weights CE by the focal "
           "weight; use one of them, not both")
    check(self.optimizer in OPTIMIZERS, "optimizer", self.optimizer,
           f"choose one of {', '.join(OPTIMIZERS)}")
    check(finite(self.momentum) and 0.0 <= self.momentum < 1.0, "momentum", self.momentum,
           "must lie in [0, 1)")
    check(finite(self.learning_rate) and self.learning_rate > 0, "learning_rate",
           self.learning_rate, "must be a finite number > 0")
    check(self.lr_schedule in LR_SCHEDULES, "lr_schedule", self.lr_schedule,
           f"choose one of {', '.join(LR_SCHEDULES)}")
    if self.lr_schedule == "piecewise":
      check(len(self.lr_values) == len(self.lr_boundaries) + 1, "lr_values", self.lr_values,
             f"needs exactly one more value than --lr_boundaries={self.lr_boundaries}")
      check(list(self.lr_boundaries) == sorted(set(self.lr_boundaries)), "lr_boundaries",
             self.lr_boundaries, "must be strictly increasing")
      check(all(b >= 0 for b in self.lr_boundaries), "lr_boundaries", self.lr_boundaries,
             "steps must be >= 0")
      check(all(finite(v) and v > 0 for v in self.lr_values), "lr_values", self.lr_values,
             "every value must be a finite number > 0")
    check(finite(self.learning_rate_decay_factor) and self.learning_rate_decay_factor > 0,
           "learning_rate_decay_factor", self.learning_rate_decay_factor,
           "must be a finite number > 0")
    check(finite(self.num_epochs_per_decay) and self.num_epochs_per_decay > 0,
           "num_epochs_per_decay", self.num_epochs_per_decay, "must be a finite number > 0")
    check(self.steps_per_epoch >= 0, "steps_per_epoch", self.steps_per_epoch, "must be >= 0")
    check(finite(self.train_epochs) and self.train_epochs >= 0, "train_epochs",
           self.train_epochs, "must be a finite number >= 0 (0 = use --max_number_of_steps)")
    check(self.eval_interval >= 0, "eval_interval", self.eval_interval,
           "must be >= 0 (0 = evaluate only at the end)")
    # Summaries are written every `summary_steps` steps (step-exact, comparable across runs and
    # machines); a time-based period is refused rather than silently ignored.
    check(self.save_summaries_secs == SAVE_SUMMARIES_SECS, "save_summaries_secs",
           self.save_summaries_secs, "summaries are written every --summary_steps steps, not "
           f"every N seconds; only the default {SAVE_SUMMARIES_SECS} is accepted (drop the flag "
           "and set --summary_steps)")
    check(self.save_interval_secs >= 0, "save_interval_secs", self.save_interval_secs,
           "must be >= 0")
    check(self.summary_steps >= 1, "summary_steps", self.summary_steps, "must be >= 1")
    check(0 <= self.seed <= MAX_SEED, "seed", self.seed, f"must lie in [0, {MAX_SEED}]")
    check(self.strategy in names.STRATEGIES, "strategy", self.strategy,
           f"choose one of {', '.join(names.STRATEGIES)}")
    check(self.num_replicas_cpu >= 0, "num_replicas_cpu", self.num_replicas_cpu,
           "must be >= 0 (0 or 1 = no split)")
    check(self.num_replicas_cpu <= 1 or self.strategy == "mirrored", "num_replicas_cpu",
           self.num_replicas_cpu, "splits the CPU for --strategy=mirrored only (got "
           f"--strategy={self.strategy})")
    check(self.dtype in DTYPES, "dtype", self.dtype, f"choose one of {', '.join(DTYPES)}")
    # Under XLA the divergence record is read on the host after every call: the parameter
    # server's coordinator would then wait for every step (and fit refuses the callback).
    check(not (self.jit_compile and self.strategy == "parameter_server"), "jit_compile",
           self.jit_compile, "is not supported with --strategy=parameter_server")
    check(self.steps_per_execution >= 1, "steps_per_execution", self.steps_per_execution,
           "must be >= 1")
    check(self.steps_per_execution == 1 or self.student.s_model_pretrain_steps == 0,
           "steps_per_execution", self.steps_per_execution, "the S-model's channel is set at "
           "the end of step --s_model_pretrain_steps exactly: use 1 with it")
    check(self.save_interval_steps >= 0, "save_interval_steps", self.save_interval_steps,
           "must be >= 0 (0 = no step-level checkpoints)")
    check(self.verbose in VERBOSITY_LEVELS, "verbose", self.verbose,
           "choose one of 0 (silent), 1 (progress bar), 2 (one line per epoch)")

  def to_json(self) -> str:
    return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True)
