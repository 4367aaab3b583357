"""The batch loss statistics behind MentorNet's loss_diff feature (Algorithm 1 steps 4-5).

Faithful to the original `utils.mentornet()`:
  pct        = TF1 'nearest' percentile of the batch losses at q = loss_p_percentile
  m         <- d * m + (1 - d) * pct      (no bias correction; once per step, BEFORE the diff)
  loss_diff  = loss - m
The moving average m is a variable of the weighting layer (its checkpoint path is
`model/weighting/loss_moving_average`); these functions only read and assign it.
"""
import tensorflow as tf

from mentornet_tf import config as config_lib


def all_gather(tensor):
  """Concatenates a per-replica tensor [B, ...] over the replicas in sync (identity on one).

  Args:
    tensor: [B, ...], this replica's part.
  Returns:
    [num_replicas * B, ...] in replica order, or `tensor` itself outside a multi-replica step.
  """
  context = tf.distribute.get_replica_context()
  if context is None or context.num_replicas_in_sync == 1:
    return tensor
  return context.all_gather(tensor, axis=0)


def tf1_percentile(values, q):
  """TF1 `percentile(values, 100 q, interpolation='nearest')` of a 1-D tensor.

  Sorts descending and takes index round_half_even((n - 1)(1 - q)) (tf.round rounds half to even);
  `schedules.tf1_percentile_index` is the same index for the ascending sort.

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


def batch_percentile(loss, q, scope="replica"):
  """The percentile the moving average follows: of this replica's batch, or of all replicas'.

  Args:
    loss: float32 [B], this replica's per-example losses.
    q: the loss_p_percentile, in [0, 1].
    scope: 'replica' (the original: each replica's own batch) or 'global' (the all-gathered
      losses: a multi-replica step then equals the one-device step).
  Returns:
    float32 scalar.
  """
  if scope not in config_lib.PERCENTILE_SCOPES:
    raise ValueError(f"percentile_scope={scope!r}: choose one of "
                     f"{', '.join(config_lib.PERCENTILE_SCOPES)}")
  return tf1_percentile(all_gather(loss) if scope == "global" else loss, q)


def update_moving_average(moving_average: tf.Variable, percentile, decay, training=True):
  """m <- decay * m + (1 - decay) * percentile when training; returns the (new) value of m.

  No bias correction (the original's `assign`, not `tf.train.ExponentialMovingAverage`), so m
  starts from 0. Outside training m is only read.

  Args:
    moving_average: float32 scalar variable (aggregation MEAN under tf.distribute).
    percentile: float32 scalar, this step's batch percentile.
    decay: python float in [0, 1), the loss_moving_average_decay.
    training: whether to assign.
  Returns:
    float32 scalar, the value loss_diff is taken against.
  """
  if not training:
    return tf.identity(moving_average)
  return moving_average.assign(decay * moving_average + (1.0 - decay) * percentile)
