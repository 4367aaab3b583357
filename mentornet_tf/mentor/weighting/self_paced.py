"""Self-paced learning as the paper's baseline (Kumar et al. 2010; MentorNet paper App. E.2).

  v         = 1[loss <= lambda]                    (binary; no burn-in, no example dropout)
  lambda    = lambda_0 * (1 + growth)^k            (growth 0.2: "increase lambda by 20%")
  lambda_0  = the loss_p_percentile (TF1 'nearest') of the first training batch's CE
              (the paper tunes the 50th, 60th or 75th percentile: --loss_p_percentile)
  k         = the number of --self_paced_growth_epochs (epoch percentages, default
              10, 20, ..., 90) reached by the step's epoch percentage

lambda_0 is the layer's variable `self_paced_initial_lambda` (checkpointed; 0 = not yet set, so a
resumed run keeps its threshold and a fresh one sets it at its first step). lambda is a fixed
threshold grown on a schedule (Kumar's absolute threshold), not a moving percentile: that relative
form is the self-paced MentorNet (`--weighting=curriculum --curriculum=self_paced`, or the
original's MentorNet mimicking v*), which stays as it was.
"""
from typing import Sequence

import numpy as np
import tensorflow as tf

from mentornet_tf import schedules
from mentornet_tf.mentor.weighting import statistics
from mentornet_tf.mentor.weighting.base import ExampleWeighting


def growth_counts(growth_epochs: Sequence[int]) -> np.ndarray:
  """k per epoch percentage 0..99: how many growth epochs are <= it; int32 [100]."""
  return np.array([sum(1 for g in growth_epochs if g <= e) for e in range(100)], np.int32)


class SelfPacedBaselineWeighting(ExampleWeighting):
  """v = 1[loss <= lambda_0 (1 + growth)^k]; see the module docstring."""

  follows_schedule = False  # the baseline is v alone: no burn-in, no example dropout

  def __init__(self, tables: schedules.EpochTables, growth_epochs: Sequence[int] = (),
               growth: float = 0.2, **kwargs):
    """Args: growth_epochs: epoch percentages in (0, 100) at which lambda grows; growth: the
    relative growth at each (0.2 = 20%); the rest as ExampleWeighting."""
    super().__init__(tables, **kwargs)
    self._growth_factor = np.power(1.0 + float(growth),
                                   growth_counts(growth_epochs)).astype(np.float32)
    self.initial_lambda = self.add_weight(
        name="self_paced_initial_lambda", shape=[], initializer="zeros", trainable=False,
        aggregation=tf.VariableAggregation.MEAN)

  def threshold(self, loss, cur_epoch, training):
    """lambda for this step (sets lambda_0 from this batch when unset and training)."""
    percentile = statistics.batch_percentile(loss, self.loss_p_percentile, self.percentile_scope)
    initial = tf.where(self.initial_lambda > 0, tf.identity(self.initial_lambda), percentile)
    if training:
      initial = self.initial_lambda.assign(initial)
    return initial * tf.gather(tf.constant(self._growth_factor), cur_epoch)

  def compute_v(self, loss, loss_diff, cur_epoch, example_ids, training):
    return tf.cast(loss <= self.threshold(loss, cur_epoch, training), tf.float32)
