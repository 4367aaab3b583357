"""SPADE (Algorithm 1) as a tf_keras `Model` whose `train_step` weights every example in-graph.

One training path for every method: FullModel (v = 1), MentorNet PD/DD (Step 11), a predefined
curriculum G (Step 9). The weighting is one call, `ExampleWeighting`; everything else is the
original student loss (original_code.md §2.3, §10.12-13):

  loss = sum_i v_i CE_i / global_batch + weight_decay * sum ||W||^2 / 2 * sum_i v_i / global_batch

with v a constant (stop-gradient) and the MentorNet frozen. `loss` (losses.py) may replace CE_i
in the sum by a baseline loss (focal, Reed bootstrapping, the S-model's channel loss); the
weighting still sees CE_i. Runs per replica under tf.distribute: the division by the GLOBAL
batch size makes the summed replica gradients equal the single-device gradient (stack.md).
"""
import re
from typing import Dict, Optional

import tensorflow as tf
import tf_keras as keras

from mentornet_tf import eval_metrics
from mentornet_tf import losses
from mentornet_tf import students
from mentornet_tf.mentor import weighting as weighting_lib


DIVERGENCE_MARKER = "mentornet_tf: non-finite training step"
_DIVERGENCE_FIELDS = ("step", "loss", "gradient_norm", "v_min", "v_max")


def parse_divergence(message: str) -> Optional[Dict[str, float]]:
  """The values of a failed finiteness check from its error message, or None if it is not one.

  The check is a `tf.debugging.Assert` whose data list is the marker then (name, value) pairs;
  TensorFlow prints each as `[item]`.
  """
  if DIVERGENCE_MARKER not in message:
    return None
  found = {}
  for name in _DIVERGENCE_FIELDS:
    match = re.search(rf"\[{name}\]\s*\[([^\]]*)\]", message)
    if match:
      try:
        found[name] = float(match.group(1))
      except ValueError:
        pass
  if "step" in found:
    found["step"] = int(found["step"])
  return found


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
  return tf.math.bincount(bins, minlength=V_HISTOGRAM_BINS, maxlength=V_HISTOGRAM_BINS,
                          dtype=tf.float32)


class SpadeModel(keras.Model):
  """Trains `student` on noisy labels with per-example weights from `weighting`.

  Inputs are dicts (WORKSPACE.md data contract): image [B,H,W,C], label [B] (noisy),
  clean_label [B] (diagnostics only), id [B].
  """

  def __init__(self, student: keras.Model, weighting: weighting_lib.ExampleWeighting,
               global_batch_size: int, weight_decay: float = 0.0, num_classes: int = 10,
               summary_steps: int = 10, loss: str = "cross_entropy",
               focal_gamma: Optional[float] = None, bootstrap_beta: Optional[float] = None,
               s_model_pretrain_steps: int = 0, **kwargs):
    """`summary_steps`: the diagnostics are computed at the steps whose pre-increment count is a
    multiple of it (step 0 included) and kept until the next such step. `loss`, `focal_gamma`,
    `bootstrap_beta`: the training loss (losses.per_example_loss); the weighting sees CE.
    `s_model_pretrain_steps` > 0: Goldberger's S-model, a noise-adaptation channel
    (losses.NoiseAdaptation, `self.channel`) whose loss replaces CE from that step on (its W is
    set from the confusion matrix by a callback at that step); evaluation uses the student."""
    super().__init__(**kwargs)
    self.loss_name = loss
    self.focal_gamma = focal_gamma
    self.bootstrap_beta = bootstrap_beta
    self.s_model_pretrain_steps = int(s_model_pretrain_steps)
    self.channel = losses.NoiseAdaptation(num_classes, name="channel") \
        if self.s_model_pretrain_steps > 0 else None
    self.student = student
    self.weighting = weighting
    self.global_batch_size = int(global_batch_size)
    self.weight_decay = float(weight_decay)
    self.num_classes = int(num_classes)
    self.summary_steps = max(1, int(summary_steps))
    self.step_values = StepValues(len(DIAGNOSTICS) + V_HISTOGRAM_BINS)
    # Examples with v > 0.001 since step 0 (the original's data_util numerator); per replica,
    # checkpointed, never reset by Keras (not a metric).
    self.nonzero_v = self.add_weight(
        name="nonzero_v", shape=(), initializer="zeros", trainable=False,
        synchronization=tf.VariableSynchronization.ON_READ,
        aggregation=tf.VariableAggregation.MEAN)
    self.eval_sums = eval_metrics.EvalSums(num_classes)
    # Values returned by train_step are Metric results (already cross-replica); summing them
    # again across replicas would double them (stack.md).
    self.distribute_reduction_method = "first"

  @property
  def metrics(self):
    return [self.step_values, self.eval_sums]

  def call(self, inputs, training=False):
    images = inputs["image"] if isinstance(inputs, dict) else inputs
    return self.student(images, training=training)

  def _current_learning_rate(self):
    learning_rate = self.optimizer.learning_rate
    if isinstance(learning_rate, keras.optimizers.schedules.LearningRateSchedule):
      return learning_rate(self.optimizer.iterations)
    return tf.convert_to_tensor(learning_rate)

  def compute_weights(self, data, per_example_loss, training=True):
    """The one call that turns a batch's losses into v (see ExampleWeighting)."""
    return self.weighting(per_example_loss, data["id"], self.optimizer.iterations,
                          training=training)

  def train_step(self, data):
    labels = tf.cast(data["label"], tf.int32)
    with tf.GradientTape() as tape:
      logits = self.student(data["image"], training=True)
      per_example_loss = keras.losses.sparse_categorical_crossentropy(
          labels, logits, from_logits=True)  # [B], from the pass that is back-propagated
      out = self.compute_weights(data, tf.stop_gradient(per_example_loss))
      weights = tf.stop_gradient(out.weights)
      training_loss = losses.per_example_loss(  # = per_example_loss for cross_entropy
          self.loss_name, labels, logits, self.focal_gamma, self.bootstrap_beta,
          ce=per_example_loss)
      if self.channel is not None:  # S-model: the channel's loss once the first phase is over
        training_loss = tf.where(self.optimizer.iterations >= self.s_model_pretrain_steps,
                                 self.channel.loss(labels, logits), training_loss)
      weighted_loss = tf.nn.compute_average_loss(
          training_loss * weights, global_batch_size=self.global_batch_size)
      decay = tf.constant(0.0)
      if self.weight_decay > 0:
        # The original scales weight decay by the weight mass sum(v)/B (App. E.3, §2.3).
        decay = (self.weight_decay * students.weight_decay_loss(self.student)
                 * tf.reduce_sum(weights) / self.global_batch_size)
      total_loss = weighted_loss + decay
    variables = self.student.trainable_variables  # never the MentorNet's
    if self.channel is not None:
      variables = variables + self.channel.trainable_variables
    gradients = tape.gradient(total_loss, variables)
    gradient_norm = tf.linalg.global_norm(gradients)
    gradients = self._check_finite(gradients, total_loss, gradient_norm, weights)
    step = self.optimizer.iterations  # pre-increment count of this step
    self.nonzero_v.assign_add(tf.reduce_sum(tf.cast(weights > 0.001, tf.float32)))
    # Diagnostics only on sampled steps (what TensorBoard shows): the other steps pay one cond.
    sampled = tf.equal(step % self.summary_steps, 0)

    def diagnose():
      self.step_values.vector.assign(self._diagnostics(
          per_example_loss, weights, logits, labels, data, out, decay, gradient_norm, step,
          training_loss=training_loss))
      return tf.constant(True)
    tf.cond(sampled, diagnose, lambda: tf.constant(False))
    self.optimizer.apply_gradients(zip(gradients, variables))
    values = tf.unstack(self.step_values.result()[:len(DIAGNOSTICS)])
    return dict(zip(DIAGNOSTICS, values))

  def _check_finite(self, gradients, total_loss, gradient_norm, weights):
    """Stops the step before any variable update when the loss, gradients or v are not finite.

    An in-graph assertion (no host round trip): the error reaches `fit` with the step and the
    values (`parse_divergence`), and because the gradients depend on it, the optimizer never
    applies a non-finite update, so the weights and the newest checkpoint stay finite. Replicas
    agree on the outcome (an all-reduced count of non-finite replicas) so that none waits alone
    in a collective.
    """
    finite = tf.logical_and(
        tf.logical_and(tf.math.is_finite(total_loss), tf.math.is_finite(gradient_norm)),
        tf.reduce_all(tf.math.is_finite(weights)))
    replica_context = tf.distribute.get_replica_context()
    if replica_context is not None and replica_context.num_replicas_in_sync > 1:
      finite = replica_context.all_reduce(tf.distribute.ReduceOp.SUM,
                                          tf.cast(tf.logical_not(finite), tf.float32)) < 0.5
    check = tf.debugging.Assert(finite, [
        DIVERGENCE_MARKER, "step", self.optimizer.iterations + 1, "loss", total_loss,
        "gradient_norm", gradient_norm, "v_min", tf.reduce_min(weights), "v_max",
        tf.reduce_max(weights)], summarize=1)
    with tf.control_dependencies([check]):
      return [tf.IndexedSlices(tf.identity(g.values), g.indices, g.dense_shape)
              if isinstance(g, tf.IndexedSlices) else None if g is None else tf.identity(g)
              for g in gradients]

  def _diagnostics(self, per_example_loss, weights, logits, labels, data, out, decay,
                   gradient_norm, step, training_loss=None):
    """The per-step values of `DIAGNOSTICS` then the v histogram; float [len + bins].

    Means over this replica's batch (the step values' MEAN across replicas makes them global for
    equal replica batches). The original's names (§3.4) where it had the quantity. orig_loss is
    the CE; weighted_loss and total_loss the objective minimised (`training_loss`, the baseline
    loss when --loss is not cross_entropy).
    """
    training_loss = per_example_loss if training_loss is None else training_loss
    batch = tf.cast(tf.size(weights), tf.float32)
    clean = tf.cast(tf.equal(labels, tf.cast(data["clean_label"], tf.int32)), tf.float32)
    corrupted = 1.0 - clean
    predictions = tf.argmax(logits, axis=-1, output_type=tf.int32)
    hit_noisy = tf.cast(tf.equal(predictions, labels), tf.float32)
    hit_clean = tf.cast(tf.equal(predictions, tf.cast(data["clean_label"], tf.int32)), tf.float32)
    weighted = tf.reduce_mean(training_loss * weights)
    precision, recall = v_detection(weights, clean)
    mean = lambda x, w: tf.math.divide_no_nan(tf.reduce_sum(x * w), tf.reduce_sum(w))
    # The original's whole-run data_util: nonzero v since step 0 / (B * steps), capped at 1.
    data_util = tf.minimum(self.nonzero_v / (batch * tf.cast(step + 1, tf.float32)), 1.0)
    values = [
        weighted + decay * self.global_batch_size / batch,  # total: per-replica-batch mean
        tf.reduce_mean(per_example_loss), weighted,
        out.percentile_loss, out.moving_average, out.dropout_rate,
        out.cur_epoch, data_util, tf.reduce_sum(weights) * self.global_batch_size / batch,
        self._current_learning_rate(), gradient_norm,
        tf.reduce_mean(hit_noisy), tf.reduce_mean(hit_clean),
        mean(hit_noisy, corrupted),  # memorised: corrupted examples predicted as their label
        mean(weights, clean), mean(weights, corrupted), precision, recall, v_auc(weights, clean),
    ]
    scalars = tf.stack([tf.cast(tf.reshape(v, []), tf.float32) for v in values])
    return tf.concat([scalars, v_histogram(weights)], axis=0)

  def test_step(self, data):
    logits = self.student(data["image"], training=False)
    self.eval_sums.update_state(data["label"], logits)
    return eval_metrics.results(self.eval_sums.result(), self.eval_sums.k)

  def predict_step(self, data):
    return self.student(data["image"], training=False)
