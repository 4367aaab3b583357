"""`MentorConfig`: how the per-example weights v are computed (SPADE, Algorithm 1).

Field names equal flag names; defaults follow the original `utils.mentornet` where the concept
exists. No TensorFlow import here.
"""
import dataclasses
from typing import Optional, Tuple

from mentornet_tf.config.checks import ConfigError, check, finite
from mentornet_tf.config.choices import (CURRICULUM_FLAG_HPARAMS, CURRICULUM_NAMES,
                                         DD_DUMP_MODES, PERCENTILE_SCOPES, WEIGHTING_MODES)


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
  # new: Step 9 / Eq. 5-7 hyper-parameters for weighting=curriculum; None = the curriculum's own
  # default (mentor/curricula.py: e.g. gamma 2 for focal_loss, 1 for spcl_linear and mentornet_pd)
  curriculum_lambda1: Optional[float] = None
  curriculum_lambda2: Optional[float] = None
  curriculum_gamma: Optional[float] = None
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
    check(self.weighting in WEIGHTING_MODES, "weighting", self.weighting,
           f"choose one of {', '.join(WEIGHTING_MODES)}")
    check(self.curriculum in CURRICULUM_NAMES, "curriculum", self.curriculum,
           f"choose one of {', '.join(CURRICULUM_NAMES)}")
    check(self.weighting != "mentornet" or bool(self.trained_mentornet_dir) or bool(
        self.update_mentornet_epochs), "trained_mentornet_dir", self.trained_mentornet_dir,
           "--weighting=mentornet needs a MentorNet (e.g. data/mentornet_models/mentornet_pd), "
           "or --update_mentornet_epochs to learn MentorNet DD during training")
    if self.weighting == "mentornet" and not self.trained_mentornet_dir:
      # Learning DD from scratch: the untrained MentorNet must never decide a weight.
      check(min(self.update_mentornet_epochs) <= self.burn_in_epoch - 1,
             "update_mentornet_epochs", self.update_mentornet_epochs,
             f"without --trained_mentornet_dir the first update must come by the end of the "
             f"burn-in (epoch <= --burn_in_epoch - 1 = {self.burn_in_epoch - 1})")
    check(0 <= self.dd_loss_shifts <= 100, "dd_loss_shifts", self.dd_loss_shifts,
           "must lie in [0, 100] (0 = the original DD data)")
    check(finite(self.min_example_weight) and 0.0 <= self.min_example_weight < 1.0,
           "min_example_weight", self.min_example_weight, "must lie in [0, 1)")
    check(self.min_example_weight == 0.0 or self.weighting == "mentornet", "min_example_weight",
           self.min_example_weight, f"applies to --weighting=mentornet only (got "
           f"--weighting={self.weighting})")
    check(not self.update_mentornet_epochs or self.weighting == "mentornet",
           "update_mentornet_epochs", self.update_mentornet_epochs, f"Step 6 re-learns the "
           f"MentorNet: applies to --weighting=mentornet only (got --weighting={self.weighting})")
    check(0.0 <= self.dd_percentile <= 100.0, "dd_percentile", self.dd_percentile,
           "must lie in [0, 100]")
    check(self.dd_dump_mode in DD_DUMP_MODES, "dd_dump_mode", self.dd_dump_mode,
           f"choose one of {', '.join(DD_DUMP_MODES)}")
    for epoch in self.self_paced_growth_epochs:
      check(0 < epoch < 100, "self_paced_growth_epochs", self.self_paced_growth_epochs,
             "each epoch percentage must lie in (0, 100)")
    check(finite(self.self_paced_growth) and self.self_paced_growth >= 0, "self_paced_growth",
           self.self_paced_growth, "must be a finite number >= 0 (0.2 = lambda grows by 20%)")
    check(self.mentornet_learning_steps >= 1, "mentornet_learning_steps",
           self.mentornet_learning_steps, "must be >= 1")
    check(0.0 <= self.loss_p_percentile <= 1.0, "loss_p_percentile", self.loss_p_percentile,
           "must lie in [0, 1] (a fraction, e.g. 0.7)")
    check(0 <= self.burn_in_epoch <= 100, "burn_in_epoch", self.burn_in_epoch,
           "must lie in [0, 100] (epoch-percentage units)")
    check(0.0 <= self.loss_moving_average_decay < 1.0, "loss_moving_average_decay",
           self.loss_moving_average_decay, "must lie in [0, 1)")
    check(self.percentile_scope in PERCENTILE_SCOPES, "percentile_scope", self.percentile_scope,
           f"choose one of {', '.join(PERCENTILE_SCOPES)}")
    for epoch in self.update_mentornet_epochs:
      check(0 < epoch < 100, "update_mentornet_epochs", self.update_mentornet_epochs,
             "each epoch percentage must lie in (0, 100)")
    check(self.curriculum_update in ("gradient", "closed_form"), "curriculum_update",
           self.curriculum_update, "choose one of gradient, closed_form")
    check(finite(self.curriculum_step_size) and self.curriculum_step_size > 0,
           "curriculum_step_size", self.curriculum_step_size, "must be a finite number > 0")
    check(0.0 <= self.initial_weight <= 1.0, "initial_weight", self.initial_weight,
           "must lie in [0, 1]")
    self._check_curriculum_hparams()
    # Parse eagerly so a malformed schedule fails before anything is built.
    from mentornet_tf import schedules  # pylint: disable=g-import-not-at-top
    try:
      schedules.parse_dropout_rate_list(self.example_dropout_rates)
    except schedules.ScheduleError as error:  # names --example_dropout_rates and the bad pair
      raise ConfigError(str(error)) from None

  def curriculum_hparams(self):
    """{name: value} of the --curriculum_* hyper-parameters given (the rest: the curriculum's
    own defaults)."""
    given = {"lambda1": self.curriculum_lambda1, "lambda2": self.curriculum_lambda2,
             "gamma": self.curriculum_gamma}
    return {name: value for name, value in given.items() if value is not None}

  def _check_curriculum_hparams(self):
    """A given --curriculum_* must be a number the curriculum takes: never silently dropped."""
    for name, value in self.curriculum_hparams().items():
      flag = f"curriculum_{name}"
      check(finite(value) and (name == "lambda1" or value >= 0), flag, value,
             "must be a finite number" + ("" if name == "lambda1" else " >= 0"))
      check(self.weighting == "curriculum", flag, value,
             f"applies to --weighting=curriculum only (got --weighting={self.weighting})")
      takes = CURRICULUM_FLAG_HPARAMS[self.curriculum]
      check(name in takes, flag, value,
             f"--curriculum={self.curriculum} does not take it (it takes "
             f"{', '.join('--curriculum_' + n for n in takes) or 'none of them'})")
