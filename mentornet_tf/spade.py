"""SPADE (Algorithm 1) as a tf_keras `Model` whose `train_step` weights every example in-graph.

One training path for every method: FullModel (v = 1), MentorNet PD/DD (Step 11), a predefined
curriculum G (Step 9). The weighting is one call, `ExampleWeighting`; everything else is the
original student loss (original_code.md §2.3, §10.12-13):

  loss = sum_i v_i * CE_i / global_batch  +  weight_decay * sum ||W||^2 / 2 * sum_i v_i / global_batch

with v a constant (stop-gradient) and the MentorNet frozen. Runs per replica under tf.distribute:
the division by the GLOBAL batch size makes the summed replica gradients equal the single-device
gradient (stack.md).
"""
import re
from typing import Dict, Optional

import tensorflow as tf
import tf_keras as keras

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


class Latest(keras.metrics.Metric):
  """The most recent value of a scalar (averaged over replicas when read)."""

  def __init__(self, name, **kwargs):
    super().__init__(name=name, **kwargs)
    self.value = self.add_weight(name="value", initializer="zeros",
                                 aggregation=tf.VariableAggregation.MEAN)

  def update_state(self, value, sample_weight=None):  # pylint: disable=arguments-differ
    del sample_weight
    return self.value.assign(tf.cast(tf.reshape(value, []), self.dtype))

  def result(self):
    return tf.identity(self.value)

  def reset_state(self):
    self.value.assign(0.0)


class SpadeModel(keras.Model):
  """Trains `student` on noisy labels with per-example weights from `weighting`.

  Inputs are dicts (WORKSPACE.md data contract): image [B,H,W,C], label [B] (noisy),
  clean_label [B] (diagnostics only), id [B].
  """

  def __init__(self, student: keras.Model, weighting: weighting_lib.ExampleWeighting,
               global_batch_size: int, weight_decay: float = 0.0, num_classes: int = 10,
               **kwargs):
    super().__init__(**kwargs)
    self.student = student
    self.weighting = weighting
    self.global_batch_size = int(global_batch_size)
    self.weight_decay = float(weight_decay)
    self.num_classes = int(num_classes)
    mean = keras.metrics.Mean
    # Names follow the original's summaries (§3.4) where they exist.
    self.train_trackers = {
        "total_loss": mean("total_loss"), "orig_loss": mean("orig_loss"),
        "weighted_loss": mean("weighted_loss"),
        "percentile_loss": Latest("percentile_loss"),
        "loss_moving_percentile": Latest("loss_moving_percentile"),
        "dropout_rate": Latest("dropout_rate"), "epoch_step": Latest("epoch_step"),
        "learning_rate": Latest("learning_rate"), "gradient_norm": Latest("gradient_norm"),
        "data_util": mean("data_util"), "batch_sum_v": mean("batch_sum_v"),
        "accuracy_noisy": mean("accuracy_noisy"), "accuracy_clean": mean("accuracy_clean"),
        "memorized": mean("memorized"),
        "mean_v_clean": mean("mean_v_clean"), "mean_v_corrupted": mean("mean_v_corrupted"),
        "v_precision": keras.metrics.Precision(thresholds=0.5, name="v_precision"),
        "v_recall": keras.metrics.Recall(thresholds=0.5, name="v_recall"),
        "v_auc": keras.metrics.AUC(name="v_auc", num_thresholds=201),
    }
    top_k = min(5, self.num_classes)
    self.test_trackers = {
        "loss": mean("loss"),
        "accuracy": keras.metrics.SparseCategoricalAccuracy("accuracy"),
        f"top{top_k}": keras.metrics.SparseTopKCategoricalAccuracy(top_k, name=f"top{top_k}"),
    }
    # Values returned by train_step are Metric results (already cross-replica); summing them
    # again across replicas would double them (stack.md).
    self.distribute_reduction_method = "first"

  @property
  def metrics(self):
    return list(self.train_trackers.values()) + list(self.test_trackers.values())

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
    clean_labels = tf.cast(data["clean_label"], tf.int32)
    with tf.GradientTape() as tape:
      logits = self.student(data["image"], training=True)
      per_example_loss = keras.losses.sparse_categorical_crossentropy(
          labels, logits, from_logits=True)  # [B], from the pass that is back-propagated
      out = self.compute_weights(data, tf.stop_gradient(per_example_loss))
      weights = tf.stop_gradient(out.weights)
      weighted_loss = tf.nn.compute_average_loss(
          per_example_loss * weights, global_batch_size=self.global_batch_size)
      decay = tf.constant(0.0)
      if self.weight_decay > 0:
        # The original scales weight decay by the weight mass sum(v)/B (App. E.3, §2.3).
        decay = (self.weight_decay * students.weight_decay_loss(self.student)
                 * tf.reduce_sum(weights) / self.global_batch_size)
      total_loss = weighted_loss + decay
    variables = self.student.trainable_variables  # never the MentorNet's
    gradients = tape.gradient(total_loss, variables)
    gradient_norm = tf.linalg.global_norm(gradients)
    gradients = self._check_finite(gradients, total_loss, gradient_norm, weights)
    learning_rate = self._current_learning_rate()
    self.optimizer.apply_gradients(zip(gradients, variables))
    self.train_trackers["gradient_norm"].update_state(gradient_norm)
    self._update_train_trackers(per_example_loss, weights, logits, labels, clean_labels, out,
                                decay, learning_rate)
    return {name: tracker.result() for name, tracker in self.train_trackers.items()}

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

  def _update_train_trackers(self, per_example_loss, weights, logits, labels, clean_labels, out,
                             decay, learning_rate):
    t = self.train_trackers
    batch = tf.cast(tf.size(weights), tf.float32)
    # Per-example means give global means once the Mean metrics sum across replicas.
    decay_per_weight = tf.math.divide_no_nan(decay * self.global_batch_size,
                                             tf.reduce_sum(weights))
    t["total_loss"].update_state(per_example_loss * weights + decay_per_weight * weights)
    t["orig_loss"].update_state(per_example_loss)
    t["weighted_loss"].update_state(per_example_loss * weights)
    t["percentile_loss"].update_state(out.percentile_loss)
    t["loss_moving_percentile"].update_state(out.moving_average)
    t["dropout_rate"].update_state(out.dropout_rate)
    t["epoch_step"].update_state(tf.cast(out.cur_epoch, tf.float32))
    t["learning_rate"].update_state(learning_rate)
    t["data_util"].update_state(tf.cast(weights > 0.001, tf.float32))
    t["batch_sum_v"].update_state(tf.reduce_sum(weights) * self.global_batch_size / batch)
    predictions = tf.argmax(logits, axis=-1, output_type=tf.int32)
    clean = tf.cast(tf.equal(labels, clean_labels), tf.float32)
    t["accuracy_noisy"].update_state(tf.cast(tf.equal(predictions, labels), tf.float32))
    t["accuracy_clean"].update_state(tf.cast(tf.equal(predictions, clean_labels), tf.float32))
    # Memorisation: corrupted examples predicted as their corrupted label.
    t["memorized"].update_state(tf.cast(tf.equal(predictions, labels), tf.float32),
                                sample_weight=1.0 - clean)
    t["mean_v_clean"].update_state(weights, sample_weight=clean)
    t["mean_v_corrupted"].update_state(weights, sample_weight=1.0 - clean)
    # v as a detector of clean examples.
    for name in ("v_precision", "v_recall", "v_auc"):
      t[name].update_state(clean, weights)

  def test_step(self, data):
    labels = tf.cast(data["label"], tf.int32)
    logits = self.student(data["image"], training=False)
    loss = keras.losses.sparse_categorical_crossentropy(labels, logits, from_logits=True)
    self.test_trackers["loss"].update_state(loss)
    for name, tracker in self.test_trackers.items():
      if name != "loss":
        tracker.update_state(labels, logits)
    return {name: tracker.result() for name, tracker in self.test_trackers.items()}

  def predict_step(self, data):
    return self.student(data["image"], training=False)
