"""Step 9 of Algorithm 1 with a predefined curriculum G: v of every training example as state.

  v_batch <- proj_[0,1](v_batch - alpha * dF/dv),  F = sum_i v_i x_i + G(v_i)   (Eq. 4 / Eq. 6)

x is the feature the curriculum's G is written for (loss_diff or the loss). The v table (Step 1's
v0 for every example) lives in this layer (checkpoint path `model/weighting/example_weights`).
With update='closed_form' v is the minimiser v* itself (Eq. 7) and there is no table, which also
serves curricula without a known G.
"""
from typing import Dict

import tensorflow as tf
import tf_keras as keras

from mentornet_tf import schedules
from mentornet_tf.mentor import curricula
from mentornet_tf.mentor import curriculum_objective
from mentornet_tf.mentor.weighting import base
from mentornet_tf.mentor.weighting import statistics

UPDATES = ("gradient", "closed_form")


class CurriculumWeighting(base.ExampleWeighting):
  """v from a predefined curriculum: Step 9's projected gradient step, or the closed form v*."""

  def __init__(self, curriculum: str, hparams: Dict[str, float], update: str, step_size: float,
               initial_weight: float, num_train: int, tables: schedules.EpochTables, **kwargs):
    """Creates the v table (gradient update only).

    Args:
      curriculum: a name of `curricula.CURRICULA`.
      hparams: the curriculum's hyper-parameters (a subset of its default_hparams).
      update: 'gradient' (Step 9, needs a known G) or 'closed_form' (v = v*).
      step_size: alpha of the projected gradient step, > 0.
      initial_weight: v0 in [0, 1] of every example.
      num_train: size of the training split (rows of the table); > 0 for the gradient update.
      tables: the run's per-epoch-percentage rules; **kwargs as `base.ExampleWeighting`.
    Raises:
      ValueError: an unknown curriculum or update, or the gradient update without a known G or
        without num_train; the message names the flag.
    """
    super().__init__(tables, **kwargs)
    if curriculum not in curricula.CURRICULA:
      raise ValueError(f"--curriculum={curriculum!r} is unknown; choose one of "
                       f"{', '.join(sorted(curricula.CURRICULA))}")
    if update not in UPDATES:
      raise ValueError(f"--curriculum_update={update!r}: choose one of {', '.join(UPDATES)}")
    self._curriculum = curricula.CURRICULA[curriculum]
    self._hparams = self._curriculum.hparams(**hparams)
    self.step_size = float(step_size)
    self.weight_table = None
    if update == "gradient":
      if self._curriculum.regularizer_fn is None:
        raise ValueError(
            f"--curriculum={curriculum} has no known G, so Step 9's gradient update is "
            "undefined: use --curriculum_update=closed_form or learn a MentorNet")
      if num_train <= 0:
        raise ValueError("the curriculum's gradient update needs num_train > 0")
      # The whole update is all-gathered so every replica applies the same scatter
      # (ONLY_FIRST_REPLICA is then exact).
      self.weight_table = self.add_weight(
          name="example_weights", shape=[int(num_train)], trainable=False,
          initializer=keras.initializers.Constant(initial_weight),
          aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA)

  def compute_v(self, loss, loss_diff, cur_epoch, example_ids, training):
    """Step 9 on the batch's entries of the v table (or v* in closed form); float32 [B]."""
    if self.weight_table is None:
      labels = tf.zeros_like(loss)
      epochs = tf.fill(tf.shape(loss), tf.cast(cur_epoch, tf.float32))
      return tf.cast(self._curriculum.weight_fn(loss, loss_diff, labels, epochs, **self._hparams),
                     tf.float32)
    previous = tf.gather(self.weight_table, example_ids)
    x = loss_diff if self._curriculum.objective_input == "loss_diff" else loss
    with tf.GradientTape() as tape:
      tape.watch(previous)
      objective = tf.reduce_sum(curriculum_objective.objective(previous, x, self._curriculum,
                                                               **self._hparams))
    gradient = tape.gradient(objective, previous)
    updated = tf.clip_by_value(previous - self.step_size * gradient, 0.0, 1.0)
    if training:
      all_ids = statistics.all_gather(example_ids)
      all_updated = statistics.all_gather(updated)
      self.weight_table.scatter_update(tf.IndexedSlices(all_updated, all_ids))
    return updated
