"""Per-example weights v for one mini-batch: the in-graph part of SPADE (Algorithm 1, steps 4-11).

Faithful to the original `utils.mentornet()` (original_code.md §2.2, §10.7-12):
  epoch      = floor(100 * step / max_number_of_steps)            (pre-increment step, 0..99)
  cur_epoch  = min(epoch, burn_in_epoch) if fixed_epoch_after_burn_in else epoch
  pct        = TF1 'nearest' percentile of the batch losses at q = loss_p_percentile
  m         <- d * m + (1 - d) * pct      (no bias correction; once per step, BEFORE the diff)
  loss_diff  = loss - m
  v          = max(sigmoid(MentorNet([loss, loss_diff, 0, cur_epoch])), 1[cur_epoch < burn_in - 1])
  v          = example dropout: keep exactly int(B * (1 - rates[cur_epoch])) examples, uniformly
The caller stops the gradient through v. Runs per replica inside `train_step`.

Deviations, each deliberate:
  * example dropout is seeded and in-graph: an example's draw is a hash of (seed, step, id), so it
    does not depend on the batch order, the number of replicas or workers (no py_func);
  * `percentile_scope='global'` all-gathers the losses (and the dropout draws) across replicas so
    that a multi-replica step equals the single-device step; 'replica' is the original behaviour.
"""
import collections
from typing import Optional

import tensorflow as tf
import tf_keras as keras

from mentornet_tf import config as config_lib
from mentornet_tf import hashing
from mentornet_tf import schedules

WeightingOutput = collections.namedtuple(
    "WeightingOutput",
    ["weights", "loss_diff", "percentile_loss", "moving_average", "epoch", "cur_epoch",
     "dropout_rate"])


def epoch_percentage(step, max_number_of_steps):
  """floor(100 * step / max_steps) clipped to [0, 99]; int32 scalar. See schedules.epoch_percentage."""
  step = tf.cast(step, tf.int64)
  epoch = (100 * step) // tf.cast(max_number_of_steps, tf.int64)
  return tf.cast(tf.clip_by_value(epoch, 0, 99), tf.int32)


def tf1_percentile(values, q):
  """TF1 `percentile(values, 100 q, interpolation='nearest')` of a 1-D tensor (§2.2 step 5).

  Sorts descending and takes index round_half_even((n - 1)(1 - q)) (tf.round rounds half to even).

  Args:
    values: float [n].
    q: python float or scalar in [0, 1].
  Returns:
    float scalar.
  """
  values = tf.reshape(values, [-1])
  n = tf.cast(tf.size(values), tf.float64)
  index = tf.cast(tf.round((n - 1.0) * (1.0 - tf.cast(q, tf.float64))), tf.int32)
  return tf.gather(tf.sort(values, direction="DESCENDING"), index)


def example_hash_scores(example_ids, step, seed):
  """A uniform int64 score per example, a pure function of (seed, step, id).

  The draw for an example does not depend on where it sits in the batch or on which replica or
  worker holds it (`mentornet_tf.hashing`, SplitMix64: integer ops only, cheap in the step).
  """
  bits = hashing.bits_from_ids(seed, tf.cast(example_ids, tf.int64),
                               hashing.STREAM_EXAMPLE_DROPOUT, counter=tf.cast(step, tf.int64))
  return tf.bitcast(tf.bitwise.right_shift(bits, tf.constant(1, tf.uint64)), tf.int64)  # >= 0


def num_kept(batch_size, dropout_rate):
  """int(B * (1 - rate)) as the original's Python computed it (float64 arithmetic)."""
  kept = tf.cast(batch_size, tf.float64) * (1.0 - tf.cast(dropout_rate, tf.float64))
  return tf.cast(tf.floor(kept + 1e-9), tf.int32)  # 1e-9: 128 * (1 - 0.9) must give 12, not 11


def example_dropout_mask(scores, dropout_rate, all_scores=None):
  """1.0 for the int(N (1 - rate)) examples with the smallest scores, 0.0 for the others.

  Args:
    scores: int64 [B], this replica's hash scores.
    dropout_rate: float scalar in [0, 1].
    all_scores: int64 [N], the scores the count refers to (all replicas' for the global scope);
      None means `scores`.
  Returns:
    float32 [B] mask.
  """
  all_scores = scores if all_scores is None else all_scores
  total = tf.size(all_scores)
  keep = num_kept(total, dropout_rate)
  sorted_scores = tf.sort(all_scores)
  # Scores are distinct with overwhelming probability (63-bit hashes); ties would keep both.
  threshold = tf.where(keep > 0, sorted_scores[tf.maximum(keep - 1, 0)], tf.int64.min)
  mask = tf.logical_and(scores <= threshold, keep > 0)
  return tf.cast(mask, tf.float32)


def _all_gather(tensor):
  context = tf.distribute.get_replica_context()
  if context is None or context.num_replicas_in_sync == 1:
    return tensor
  return context.all_gather(tensor, axis=0)


class ExampleWeighting(keras.layers.Layer):
  """Computes v for a mini-batch and owns the loss moving average (and Step 9's v table).

  Modes (`MentorConfig.weighting`):
    none:       v = 1 (FullModel); no dropout, no burn-in, but the statistics are still computed.
    mentornet:  Step 11, v = sigmoid(MentorNet(features)), frozen MentorNet.
    curriculum: Step 9 with a predefined G: projected gradient step on the batch's entries of a
                persistent v table (or the closed-form minimiser with curriculum_update=closed_form).
  """

  def __init__(self, mentor_config: config_lib.MentorConfig, max_number_of_steps: int,
               mentornet: Optional[keras.Model] = None, num_train: int = 0, seed: int = 0,
               **kwargs):
    super().__init__(**kwargs)
    self.mentor_config = mentor_config
    self.max_number_of_steps = int(max_number_of_steps)
    self.seed = int(seed)
    self.mentornet = mentornet
    if mentornet is not None:
      mentornet.trainable = False  # the student optimiser never sees it (original: exclude regex)
    if mentor_config.weighting == "mentornet" and mentornet is None:
      raise ValueError("weighting='mentornet' needs a MentorNet (--trained_mentornet_dir)")
    self._dropout_rates = tf.constant(
        schedules.parse_dropout_rate_list(mentor_config.example_dropout_rates), tf.float32)
    # MEAN keeps replicas identical (stack.md: NONE drifts silently, SUM blows up).
    self.moving_average = self.add_weight(
        name="loss_moving_average", shape=[], initializer="zeros", trainable=False,
        aggregation=tf.VariableAggregation.MEAN)
    self.num_train = int(num_train)
    self.weight_table = None
    if mentor_config.weighting == "curriculum":
      from mentornet_tf.mentor import curricula  # pylint: disable=g-import-not-at-top
      if mentor_config.curriculum not in curricula.CURRICULA:
        raise ValueError(f"--curriculum={mentor_config.curriculum!r} is unknown; choose one of "
                         f"{', '.join(sorted(curricula.CURRICULA))}")
      self._curriculum = curricula.CURRICULA[mentor_config.curriculum]
      if mentor_config.curriculum_update == "gradient":
        if self._curriculum.regularizer_fn is None:
          raise ValueError(
              f"--curriculum={mentor_config.curriculum} has no known G, so Step 9's gradient "
              "update is undefined: use --curriculum_update=closed_form or learn a MentorNet")
        if self.num_train <= 0:
          raise ValueError("weighting='curriculum' with the gradient update needs num_train > 0")
        # v of every training example, Algorithm 1 step 1 (v0). The whole update is all-gathered
        # so every replica applies the same scatter (ONLY_FIRST_REPLICA is then exact).
        self.weight_table = self.add_weight(
            name="example_weights", shape=[self.num_train], trainable=False,
            initializer=keras.initializers.Constant(mentor_config.initial_weight),
            aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA)

  def _curriculum_hparams(self):
    config = self.mentor_config
    available = {"lambda1": config.curriculum_lambda1, "lambda2": config.curriculum_lambda2,
                 "gamma": config.curriculum_gamma}
    return {k: v for k, v in available.items() if k in self._curriculum.default_hparams}

  def _curriculum_weights(self, loss, loss_diff, labels, cur_epoch, example_ids, training):
    """Step 9: v <- proj_[0,1](v - alpha * dF/dv) on the batch (or v* in closed form)."""
    from mentornet_tf.mentor import curricula  # pylint: disable=g-import-not-at-top
    epoch = tf.fill(tf.shape(loss), tf.cast(cur_epoch, tf.float32))
    hparams = self._curriculum_hparams()
    if self.weight_table is None:
      return tf.cast(self._curriculum.weight_fn(loss, loss_diff, labels, epoch, **hparams),
                     tf.float32)
    previous = tf.gather(self.weight_table, example_ids)
    # v multiplies the feature the curriculum's G is written for (loss_diff or loss).
    x = loss_diff if self._curriculum.objective_input == "loss_diff" else loss
    with tf.GradientTape() as tape:
      tape.watch(previous)
      objective = tf.reduce_sum(curricula.objective(previous, x, self._curriculum, **hparams))
    gradient = tape.gradient(objective, previous)
    updated = tf.clip_by_value(
        previous - self.mentor_config.curriculum_step_size * gradient, 0.0, 1.0)
    if training:
      all_ids, all_updated = _all_gather(example_ids), _all_gather(updated)
      self.weight_table.scatter_update(tf.IndexedSlices(all_updated, all_ids))
    return updated

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
    config = self.mentor_config
    loss = tf.stop_gradient(tf.cast(tf.reshape(per_example_loss, [-1]), tf.float32))
    epoch = epoch_percentage(step, self.max_number_of_steps)
    cur_epoch = tf.minimum(epoch, config.burn_in_epoch) if config.fixed_epoch_after_burn_in \
        else epoch
    # The original indexes both schedules with cur_epoch (§7.3: DD never reaches the last segment).
    dropout_rate = tf.gather(self._dropout_rates, cur_epoch)
    pooled_loss = _all_gather(loss) if config.percentile_scope == "global" else loss
    percentile_loss = tf1_percentile(pooled_loss, config.loss_p_percentile)
    decay = config.loss_moving_average_decay
    if training:
      moving_average = self.moving_average.assign(
          decay * self.moving_average + (1.0 - decay) * percentile_loss)
    else:
      moving_average = tf.identity(self.moving_average)
    loss_diff = loss - moving_average
    labels = tf.zeros_like(loss)  # the label input is fixed to 0 (issues #5, #9; transfer)

    if config.weighting == "none":
      weights = tf.ones_like(loss)
    else:
      if config.weighting == "mentornet":
        features = tf.stack(
            [loss, loss_diff, labels, tf.fill(tf.shape(loss), tf.cast(cur_epoch, tf.float32))],
            axis=1)
        weights = tf.sigmoid(tf.reshape(self.mentornet(features, training=False), [-1]))
      else:
        weights = self._curriculum_weights(loss, loss_diff, labels, cur_epoch, example_ids,
                                           training)
      burn_in = tf.cast(cur_epoch < config.burn_in_epoch - 1, tf.float32)
      weights = tf.maximum(weights, burn_in)
      if training:  # inspection (training=False) reports the curriculum's v before dropout
        scores = example_hash_scores(example_ids, step, self.seed)
        all_scores = _all_gather(scores) if config.percentile_scope == "global" else None
        weights = weights * example_dropout_mask(scores, dropout_rate, all_scores)
    return WeightingOutput(
        weights=tf.stop_gradient(weights), loss_diff=loss_diff, percentile_loss=percentile_loss,
        moving_average=moving_average, epoch=epoch, cur_epoch=cur_epoch,
        dropout_rate=dropout_rate)
