"""The per-step diagnostics of a SPADE training step: what TensorBoard and the epoch logs show.

`SpadeModel.train_step` computes them only on sampled steps (every --summary_steps, a tf.cond) and
keeps them in one `StepValues` vector: `DIAGNOSTICS` then the v histogram. The precision, recall
and AUC of v as a detector of clean labels are defined here once (`--export_weights` reuses them).
TensorFlow only.
"""
import numpy as np
import tensorflow as tf
import tf_keras as keras


# The per-step diagnostics, in the order of `StepValues`. TensorBoard tags: training/summaries.py.
DIAGNOSTICS = (
    "total_loss", "orig_loss", "weighted_loss",                     # the student loss
    "percentile_loss", "loss_moving_percentile", "dropout_rate",    # the weighting's statistics
    "epoch_step", "data_util", "batch_sum_v",
    "learning_rate", "gradient_norm",
    "accuracy_noisy", "accuracy_clean", "memorized",                # against the clean labels
    "mean_v_clean", "mean_v_corrupted", "v_precision_clean", "v_recall_clean", "v_auc",
)
V_HISTOGRAM_BINS = 20  # equal bins over [0, 1]: v of the sampled step (training/summaries.py)
# The key of the step's one diagnostics output in Keras' logs: float32 [len(DIAGNOSTICS)].
LOGS_KEY = "step_values"


class StepValues(keras.metrics.Metric):
  """The values of the last sampled step: one vector variable, read once per step.

  One variable (not one metric per value) keeps the step cheap: the step reads it with one op
  and unstacks it. It is not reset at epoch starts (a per-step value, not a running mean).
  Read across replicas it is their mean (aggregation MEAN).
  """

  def __init__(self, size, name="step_values", **kwargs):
    super().__init__(name=name, **kwargs)
    self.vector = self.add_weight(name="values", shape=(size,), initializer="zeros",
                                  aggregation=tf.VariableAggregation.MEAN)

  def update_state(self, values, sample_weight=None):  # pylint: disable=arguments-differ
    del sample_weight
    return self.vector.assign(tf.cast(values, self.dtype))

  def result(self):
    return tf.identity(self.vector)

  def reset_state(self):
    pass  # kept across epochs: the last sampled step stays the last sampled step


def v_detection(weights, clean):
  """v as a detector of clean examples (positive class: clean; predicted clean: v >= 0.5).

  The one definition of the precision and recall of v (the per-step diagnostics and the
  whole-split summaries of `--export_weights` both use it).
  Args:
    weights: float [N], v.
    clean: float [N], 1.0 where the noisy label equals the clean label.
  Returns:
    (precision_clean, recall_clean), float scalars (0 when undefined).
  """
  predicted = tf.cast(weights >= 0.5, tf.float32)
  true_positives = tf.reduce_sum(predicted * clean)
  return (tf.math.divide_no_nan(true_positives, tf.reduce_sum(predicted)),
          tf.math.divide_no_nan(true_positives, tf.reduce_sum(clean)))


def v_auc(weights, clean):
  """The ROC AUC of v as a score for clean examples, exact over the batch (ties count 1/2).

  Pairwise [N, N]: meant for a sampled step's batch, not the whole split. 0.5 when one class is
  absent.
  """
  above = tf.cast(weights[:, None] > weights[None, :], tf.float32)
  ties = tf.cast(tf.equal(weights[:, None], weights[None, :]), tf.float32)
  pairs = clean[:, None] * (1.0 - clean)[None, :]  # (clean, corrupted) pairs
  count = tf.reduce_sum(pairs)
  return tf.where(count > 0, tf.math.divide_no_nan(tf.reduce_sum((above + 0.5 * ties) * pairs),
                                                   count), 0.5)


def v_histogram(weights):
  """Counts of v in `V_HISTOGRAM_BINS` equal bins over [0, 1]; float [bins]."""
  bins = tf.cast(tf.clip_by_value(weights * V_HISTOGRAM_BINS, 0, V_HISTOGRAM_BINS - 1), tf.int32)
  # A one-hot sum, not tf.math.bincount: bincount's output size is data-dependent, which XLA
  # (--jit_compile) cannot compile.
  return tf.reduce_sum(tf.one_hot(bins, V_HISTOGRAM_BINS, dtype=tf.float32), axis=0)


def step_vector(per_example_loss, training_loss, weights, logits, labels, clean_labels, out,
                decay, gradient_norm, step, nonzero_v, learning_rate, global_batch_size):
  """The per-step values of `DIAGNOSTICS` then the v histogram; float32 [len + bins].

  Means over this replica's batch (the step values' MEAN across replicas makes them global for
  equal replica batches). The original's names (§3.4) where it had the quantity. orig_loss is
  the CE (`per_example_loss`, [B]); weighted_loss and total_loss the objective minimised
  (`training_loss` [B]: the baseline loss when --loss is not cross_entropy, plus the auxiliary
  head's). `out` is the weighting's output, `nonzero_v` the examples with v > 0.001 since step 0.
  """
  batch = tf.cast(tf.size(weights), tf.float32)
  clean = tf.cast(tf.equal(labels, tf.cast(clean_labels, tf.int32)), tf.float32)
  corrupted = 1.0 - clean
  predictions = tf.argmax(logits, axis=-1, output_type=tf.int32)
  hit_noisy = tf.cast(tf.equal(predictions, labels), tf.float32)
  hit_clean = tf.cast(tf.equal(predictions, tf.cast(clean_labels, tf.int32)), tf.float32)
  weighted = tf.reduce_mean(training_loss * weights)
  precision, recall = v_detection(weights, clean)
  mean = lambda x, w: tf.math.divide_no_nan(tf.reduce_sum(x * w), tf.reduce_sum(w))
  # The original's whole-run data_util: nonzero v since step 0 / (B * steps), capped at 1.
  data_util = tf.minimum(nonzero_v / (batch * tf.cast(step + 1, tf.float32)), 1.0)
  values = [
      weighted + decay * global_batch_size / batch,  # total: per-replica-batch mean
      tf.reduce_mean(per_example_loss), weighted,
      out.percentile_loss, out.moving_average, out.dropout_rate,
      out.cur_epoch, data_util, tf.reduce_sum(weights) * global_batch_size / batch,
      learning_rate, gradient_norm,
      tf.reduce_mean(hit_noisy), tf.reduce_mean(hit_clean),
      mean(hit_noisy, corrupted),  # memorised: corrupted examples predicted as their label
      mean(weights, clean), mean(weights, corrupted), precision, recall, v_auc(weights, clean),
  ]
  scalars = tf.stack([tf.cast(tf.reshape(v, []), tf.float32) for v in values])
  return tf.concat([scalars, v_histogram(weights)], axis=0)


def named_logs(logs, fetch_remote: bool = True) -> dict:
  """Keras logs with the `LOGS_KEY` vector spelt out as {name in DIAGNOSTICS: float}.

  The train step returns its diagnostics as ONE tensor, not nineteen scalar outputs (these cost
  the MLP step of benchmarks/spade_step.py 0.04 ms of 3.7 ms, measured side by side). Consumers
  spell them out when they read them (TensorBoard on sampled steps, the progress line when it
  redraws), which is one host read of 19 floats. Names already in `logs` win (the epoch logs
  carry the epoch's means under the same names). Other entries are kept as they are.

  Args:
    logs: a Keras logs dict (tensors, numpy values or parameter-server RemoteValues), or None.
    fetch_remote: whether to wait for a RemoteValue's step; False leaves the names out.
  Returns:
    A new dict.
  """
  named = {key: value for key, value in (logs or {}).items() if key != LOGS_KEY}
  vector = (logs or {}).get(LOGS_KEY)
  if vector is None:
    return named
  if hasattr(vector, "fetch"):
    if not fetch_remote:
      return named
    vector = vector.fetch()
  for name, value in zip(DIAGNOSTICS, np.asarray(vector, np.float64).reshape(-1).tolist()):
    named.setdefault(name, value)
  return named
