"""`StudentConfig`: which StudentNet is built, its loss and its regularisation.

Field names equal flag names; None means the student's own default. No TensorFlow import here.
"""
import dataclasses
from typing import Optional

from mentornet_tf import names
from mentornet_tf.config.checks import check, finite
from mentornet_tf.config.choices import LOSSES, STUDENTS_WITH_AUX_HEAD, STUDENTS_WITH_DROPOUT


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
    check(self.studentnet in names.STUDENTS, "studentnet", self.studentnet,
           f"choose one of {', '.join(names.STUDENTS)}")
    check(self.weight_decay is None or (finite(self.weight_decay) and self.weight_decay >= 0),
           "weight_decay", self.weight_decay, "must be a finite number >= 0")
    check(self.loss in LOSSES, "loss", self.loss, f"choose one of {', '.join(LOSSES)}")
    check(self.s_model_pretrain_steps >= 0, "s_model_pretrain_steps",
           self.s_model_pretrain_steps, "must be >= 0 (0 = no S-model)")
    check(self.s_model_pretrain_steps == 0 or self.loss == "cross_entropy",
           "s_model_pretrain_steps", self.s_model_pretrain_steps,
           f"the S-model's channel loss replaces CE; it cannot be combined with --loss={self.loss}")
    if self.dropout_keep_prob is not None:
      check(finite(self.dropout_keep_prob) and 0.0 < self.dropout_keep_prob <= 1.0,
             "dropout_keep_prob", self.dropout_keep_prob, "must lie in (0, 1]")
      check(self.studentnet in STUDENTS_WITH_DROPOUT, "dropout_keep_prob",
             self.dropout_keep_prob, f"--studentnet={self.studentnet} has no dropout layer; "
             f"students with one: {', '.join(STUDENTS_WITH_DROPOUT)}")
    if self.aux_weight is not None:
      check(finite(self.aux_weight) and self.aux_weight >= 0, "aux_weight", self.aux_weight,
             "must be a finite number >= 0 (0 = no auxiliary loss)")
      check(self.studentnet in STUDENTS_WITH_AUX_HEAD, "aux_weight", self.aux_weight,
             f"--studentnet={self.studentnet} has no auxiliary head; students with one: "
             f"{', '.join(STUDENTS_WITH_AUX_HEAD)}")
    if self.focal_gamma is not None:
      check(self.loss.startswith("focal"), "focal_gamma", self.focal_gamma,
             f"applies to --loss=focal or focal_differentiated only (got --loss={self.loss})")
      check(finite(self.focal_gamma) and self.focal_gamma >= 0, "focal_gamma",
             self.focal_gamma, "must be a finite number >= 0 (the paper tunes 1, 2, 3)")
    if self.bootstrap_beta is not None:
      check(self.loss.startswith("bootstrap"), "bootstrap_beta", self.bootstrap_beta,
             f"applies to --loss=bootstrap_soft or bootstrap_hard only (got --loss={self.loss})")
      check(finite(self.bootstrap_beta) and 0.0 <= self.bootstrap_beta <= 1.0,
             "bootstrap_beta", self.bootstrap_beta,
             "must lie in [0, 1] (Reed: soft 0.95, hard 0.8; the paper tunes 0.7-0.95)")
