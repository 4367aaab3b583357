"""The per-batch frame every weighting shares, and the two weightings without state of their own.

`ExampleWeighting.call` is Algorithm 1 steps 4-11 for one (per-replica) mini-batch, as the
original `utils.mentornet()`:
  epoch      = floor(100 * step / max_number_of_steps)  (pre-increment step, 0..99)
  cur_epoch  = min(epoch, burn_in_epoch) if fixed_epoch_after_burn_in else epoch
  m, diff    = statistics.py: TF1 percentile, moving average updated BEFORE the diff
  v          = compute_v(loss, loss_diff, cur_epoch)       (the subclass: 1, MentorNet, Step 9)
  v          = max(v, 1[cur_epoch < burn_in - 1])          (burn-in)
  v          = v * dropout mask (dropout.py): exactly int(B (1 - rate[cur_epoch])) kept
The per-epoch-percentage rules are not restated here: they come as the constant tables of
`schedules.epoch_tables`. The caller stops the gradient through v.
"""
import collections

import numpy as np
import tensorflow as tf
import tf_keras as keras

from mentornet_tf import schedules
from mentornet_tf.mentor.weighting import dropout
from mentornet_tf.mentor.weighting import statistics

WeightingOutput = collections.namedtuple(
    "WeightingOutput",
    ["weights", "loss_diff", "percentile_loss", "moving_average", "epoch", "cur_epoch",
     "dropout_rate"])
WeightingOutput.__doc__ = """What one weighting call returns (scalars are per replica).

  weights: float32 [B] in [0, 1], v (gradient stopped).
  loss_diff: float32 [B], loss - moving_average.
  percentile_loss, moving_average: float32 scalars (steps 4-5).
  epoch, cur_epoch: int32 scalars, the epoch percentage and the one the schedules use.
  dropout_rate: float32 scalar, this step's example dropout rate (applied only when the
    weighting follows the schedule and training).
"""


class ExampleWeighting(keras.layers.Layer):
  """v for a mini-batch; owns the loss moving average. Subclasses define `compute_v`.

  Checkpoint paths (under the SpadeModel's `weighting`): `loss_moving_average`, and what the
  subclass adds (`mentornet/...`, `example_weights`).
  """

  # Whether burn-in and example dropout apply to v (FullModel: no).
  follows_schedule = True

  def __init__(self, tables: schedules.EpochTables, *, loss_p_percentile: float,
               loss_moving_average_decay: float, percentile_scope: str = "replica",
               seed: int = 0, **kwargs):
    """Creates the moving-average variable.

    Args:
      tables: the run's per-epoch-percentage rules (`schedules.epoch_tables`).
      loss_p_percentile: q of the batch percentile, in [0, 1].
      loss_moving_average_decay: d of the moving average, in [0, 1).
      percentile_scope: 'replica' (the original) or 'global' (all-gathered losses and dropout
        draws: a multi-replica step equals the one-device step).
      seed: seeds the example dropout draw.
      **kwargs: passed to `keras.layers.Layer` (e.g. name).
    """
    super().__init__(**kwargs)
    # numpy, not tensors: the tables become constants of the traced step.
    self._first_step = np.asarray(tables.first_step, np.int64)
    self._cur_epoch = np.asarray(tables.cur_epoch, np.int32)
    self._forces_weight = np.asarray(tables.forces_weight, np.float32)
    self._dropout_rate = np.asarray(tables.dropout_rate, np.float32)
    self.loss_p_percentile = float(loss_p_percentile)
    self.loss_moving_average_decay = float(loss_moving_average_decay)
    self.percentile_scope = percentile_scope
    self.seed = int(seed)
    # The MentorNet of weightings that have one (Step 6 assigns into it); an instance attribute,
    # not a class one: Keras does not track attributes that the class defines.
    self.mentornet = None
    # MEAN keeps replicas identical (NONE drifts silently, SUM blows up).
    self.moving_average = self.add_weight(
        name="loss_moving_average", shape=[], initializer="zeros", trainable=False,
        aggregation=tf.VariableAggregation.MEAN)

  def compute_v(self, loss, loss_diff, cur_epoch, example_ids, training):
    """v before burn-in and dropout.

    Args:
      loss: float32 [B].
      loss_diff: float32 [B], loss - moving average (after this step's update).
      cur_epoch: int32 scalar, the epoch percentage the MentorNet sees.
      example_ids: int64 [B].
      training: whether state may be updated.
    Returns:
      float32 [B] in [0, 1].
    """
    raise NotImplementedError

  def epoch_percentage(self, step):
    """int32 scalar in 0..99: the last e with first_step[e] <= step (schedules.epoch_percentage)."""
    step = tf.reshape(tf.cast(step, tf.int64), [1])
    return tf.searchsorted(tf.constant(self._first_step), step, side="right")[0] - 1

  def call(self, per_example_loss, example_ids, step, training=True):
    """Computes v for one (per-replica) batch.

    Args:
      per_example_loss: float32 [B], cross-entropy against the noisy labels (no gradient needed).
      example_ids: int64 [B].
      step: int scalar, the optimizer's pre-increment step.
      training: when False, nothing is updated (the moving average is read, not written) and no
        example dropout is applied: v is the curriculum's judgement of each example.
    Returns:
      WeightingOutput; `weights` is float32 [B] in [0, 1].
    """
    loss = tf.stop_gradient(tf.cast(tf.reshape(per_example_loss, [-1]), tf.float32))
    epoch = self.epoch_percentage(step)
    # The original indexes every schedule with cur_epoch (DD never reaches the last segment).
    cur_epoch = tf.gather(tf.constant(self._cur_epoch), epoch)
    dropout_rate = tf.gather(tf.constant(self._dropout_rate), epoch)
    percentile_loss = statistics.batch_percentile(loss, self.loss_p_percentile,
                                                  self.percentile_scope)
    moving_average = statistics.update_moving_average(
        self.moving_average, percentile_loss, self.loss_moving_average_decay, training)
    loss_diff = loss - moving_average
    weights = self.compute_v(loss, loss_diff, cur_epoch, example_ids, training)
    if self.follows_schedule:
      weights = tf.maximum(weights, tf.gather(tf.constant(self._forces_weight), epoch))
      if training:  # inspection (training=False) reports the curriculum's v before dropout
        weights = weights * dropout.keep_mask(example_ids, step, self.seed, dropout_rate,
                                              self.percentile_scope)
    return WeightingOutput(
        weights=tf.stop_gradient(weights), loss_diff=loss_diff, percentile_loss=percentile_loss,
        moving_average=moving_average, epoch=epoch, cur_epoch=cur_epoch,
        dropout_rate=dropout_rate)


class UnitWeighting(ExampleWeighting):
  """FullModel: v = 1, no burn-in, no dropout (the loss statistics are still logged)."""

  follows_schedule = False

  def compute_v(self, loss, loss_diff, cur_epoch, example_ids, training):
    return tf.ones_like(loss)


class MentorNetWeighting(ExampleWeighting):
  """Step 11: v = sigmoid(MentorNet([loss, loss_diff, label 0, cur_epoch])), MentorNet frozen."""

  def __init__(self, mentornet: keras.Model, tables: schedules.EpochTables,
               min_weight: float = 0.0, **kwargs):
    """Args: mentornet: features [B, 4] -> logits [B, 1]; min_weight: v below it becomes 0
    (`--min_example_weight`; 0 = the original); the rest as ExampleWeighting."""
    super().__init__(tables, **kwargs)
    self.min_weight = float(min_weight)
    mentornet.trainable = False  # the student optimiser never sees it (original: exclude regex)
    self.mentornet = mentornet

  def compute_v(self, loss, loss_diff, cur_epoch, example_ids, training):
    labels = tf.zeros_like(loss)  # the label input is fixed to 0, as in the original
    epochs = tf.fill(tf.shape(loss), tf.cast(cur_epoch, tf.float32))
    features = tf.stack([loss, loss_diff, labels, epochs], axis=1)  # [B, 4]
    weights = tf.sigmoid(tf.reshape(self.mentornet(features, training=False), [-1]))
    if self.min_weight > 0:  # the sigmoid's floor, summed over many corrupted examples, matters
      weights = tf.where(weights < self.min_weight, tf.zeros_like(weights), weights)
    return weights
