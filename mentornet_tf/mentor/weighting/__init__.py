"""Per-example weights v for one mini-batch: the in-graph part of SPADE (Algorithm 1, steps 4-11).

  statistics.py  TF1 'nearest' batch percentile and the loss moving average (steps 4-5)
  dropout.py     example dropout: exactly int(B (1 - rate)) kept, seeded hash of (seed, step, id)
  base.py        `ExampleWeighting`, the per-batch frame (epoch lookup, statistics, burn-in,
                 dropout) and its `WeightingOutput`; `UnitWeighting` (FullModel, v = 1) and
                 `MentorNetWeighting` (Step 11, frozen MentorNet)
  curriculum.py  `CurriculumWeighting`: Step 9 with a predefined G (projected gradient on a v
                 table, or the closed-form v*)
  self_paced.py  `SelfPacedBaselineWeighting`: the paper's self-paced baseline, v = 1[loss <=
                 lambda], lambda from a loss percentile grown by 20% on a schedule
`build_weighting` is the one place that turns a `MentorConfig` into one of them; the classes
themselves take explicit arguments. SpadeModel calls the result as
`weighting(per_example_loss [B], ids [B], step, training=...) -> WeightingOutput`.

Deviations from the original, each deliberate: example dropout is seeded and in-graph (no
py_func), so it does not depend on the batch order, the replicas or the workers;
`percentile_scope='global'` all-gathers the losses and the dropout draws so that a multi-replica
step equals the one-device step ('replica' is the original behaviour).
"""
from typing import Optional

import tf_keras as keras

from mentornet_tf import config as config_lib
from mentornet_tf import schedules
from mentornet_tf.mentor.weighting.base import ExampleWeighting  # noqa: F401 (the layer type)
from mentornet_tf.mentor.weighting.base import MentorNetWeighting
from mentornet_tf.mentor.weighting.base import UnitWeighting
from mentornet_tf.mentor.weighting.base import WeightingOutput  # noqa: F401
from mentornet_tf.mentor.weighting.curriculum import CurriculumWeighting
from mentornet_tf.mentor.weighting.self_paced import SelfPacedBaselineWeighting


def build_weighting(mentor_config: config_lib.MentorConfig, max_number_of_steps: int,
                    mentornet: Optional[keras.Model] = None, num_train: int = 0,
                    seed: int = 0) -> ExampleWeighting:
  """The weighting a run's `--weighting` names, with its schedules and loss statistics.

  Args:
    mentor_config: the run's mentor settings.
    max_number_of_steps: the epoch-percentage denominator.
    mentornet: the MentorNet (features [B, 4] -> logits [B, 1]) for weighting='mentornet'
      (loaded from --trained_mentornet_dir, or untrained for MentorNet DD learned in the run).
    num_train: size of the training split (Step 9's v table).
    seed: the run's seed (example dropout).
  Returns:
    An ExampleWeighting (a tf_keras Layer; build it under the strategy scope).
  Raises:
    ValueError: weighting='mentornet' without a MentorNet, or a curriculum that cannot be used.
  """
  c = mentor_config
  tables = schedules.epoch_tables(max_number_of_steps, c.burn_in_epoch,
                                  c.fixed_epoch_after_burn_in, c.example_dropout_rates)
  common = dict(loss_p_percentile=c.loss_p_percentile,
                loss_moving_average_decay=c.loss_moving_average_decay,
                percentile_scope=c.percentile_scope, seed=seed)
  if c.weighting == "none":
    return UnitWeighting(tables, **common)
  if c.weighting == "mentornet":
    if mentornet is None:
      raise ValueError("--weighting=mentornet needs a MentorNet (--trained_mentornet_dir)")
    return MentorNetWeighting(mentornet, tables, min_weight=c.min_example_weight, **common)
  if c.weighting == "curriculum":
    return CurriculumWeighting(
        c.curriculum, c.curriculum_hparams(), c.curriculum_update,
        c.curriculum_step_size, c.initial_weight, num_train, tables, **common)
  if c.weighting == "self_paced_baseline":
    return SelfPacedBaselineWeighting(tables, c.self_paced_growth_epochs, c.self_paced_growth,
                                      **common)
  raise ValueError(f"--weighting={c.weighting!r}: choose one of "
                   f"{', '.join(config_lib.WEIGHTING_MODES)}")
