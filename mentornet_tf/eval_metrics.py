"""The clean test metrics, defined once: loss, top-1 and top-k of a StudentNet's logits.

Every evaluation uses these sums: `fit`'s validation (`SpadeModel.test_step` through `EvalSums`),
the parameter-server coordinator (`train_lib.coordinator_evaluator`) and `evaluate.py`
(`evaluation.Evaluator`), the last two through `StudentEvaluator`, one host loop over a finite
dataset that sees each example exactly once.
"""
from typing import Dict

import numpy as np
import tensorflow as tf
import tf_keras as keras

# The sums of one batch, in this order (float [NUM_SUMS]).
SUMS = ("loss", "top1", "topk", "count", "top1_clean")
NUM_SUMS = len(SUMS)


def top_k(num_classes: int) -> int:
  """k of the top-k accuracy: 5, or the class count when there are fewer classes."""
  return min(5, int(num_classes))


def batch_sums(logits, labels, k: int, clean_labels=None):
  """Sums over a batch of the per-example CE, top-1, top-k hits, the count, top-1 vs clean labels.

  Args:
    logits: float [B, num_classes].
    labels: int [B], the labels evaluated against.
    k: the k of top-k (`top_k(num_classes)`).
    clean_labels: int [B] or None (then the clean top-1 sum repeats the top-1 sum).
  Returns:
    float [NUM_SUMS], in the order of `SUMS`.
  """
  labels = tf.cast(labels, tf.int32)
  loss = keras.losses.sparse_categorical_crossentropy(labels, logits, from_logits=True)
  predictions = tf.argmax(logits, axis=-1, output_type=tf.int32)
  top1 = tf.cast(tf.equal(predictions, labels), tf.float32)
  topk = tf.cast(tf.math.in_top_k(labels, logits, k), tf.float32)
  top1_clean = top1 if clean_labels is None else tf.cast(
      tf.equal(predictions, tf.cast(clean_labels, tf.int32)), tf.float32)
  return tf.stack([tf.reduce_sum(loss), tf.reduce_sum(top1), tf.reduce_sum(topk),
                   tf.cast(tf.size(labels), tf.float32), tf.reduce_sum(top1_clean)])


def results(sums, k: int, clean: bool = False) -> Dict:
  """{loss, accuracy, top<k>[, accuracy_clean]} from summed `batch_sums` (tensors or numpy)."""
  count = sums[3]
  divide = tf.math.divide_no_nan if tf.is_tensor(sums) else (
      lambda x, n: float(x / n) if n else 0.0)
  out = {"loss": divide(sums[0], count), "accuracy": divide(sums[1], count),
         f"top{k}": divide(sums[2], count)}
  if clean:
    out["accuracy_clean"] = divide(sums[4], count)
  return out


class EvalSums(keras.metrics.Metric):
  """`batch_sums` accumulated over an evaluation (summed across replicas when read)."""

  def __init__(self, num_classes: int, name="eval_sums", **kwargs):
    super().__init__(name=name, **kwargs)
    self.k = top_k(num_classes)
    self.sums = self.add_weight(name="sums", shape=(NUM_SUMS,), initializer="zeros",
                                aggregation=tf.VariableAggregation.SUM)

  def update_state(self, labels, logits, sample_weight=None):  # pylint: disable=arguments-differ
    del sample_weight
    return self.sums.assign_add(batch_sums(logits, labels, self.k))

  def result(self):
    return tf.identity(self.sums)

  def reset_state(self):
    self.sums.assign(tf.zeros([NUM_SUMS]))


class StudentEvaluator:
  """One pass of a student over a finite dataset on this host: each example exactly once."""

  def __init__(self, student: keras.Model, num_classes: int, clean: bool = False):
    """`clean`: also the top-1 against the batches' `clean_label` (the training split)."""
    self.student = student
    self.k = top_k(num_classes)
    self.clean = clean

    @tf.function
    def sums(images, labels, clean_labels):
      return batch_sums(self.student(images, training=False), labels, self.k, clean_labels)
    self._sums = sums

  def __call__(self, dataset: tf.data.Dataset) -> Dict:
    """Dataset elements are dicts (image, label, clean_label); returns `results` + num_examples."""
    total = np.zeros(NUM_SUMS)
    for batch in dataset:
      total += self._sums(batch["image"], batch["label"],
                          batch.get("clean_label", batch["label"])).numpy()
    out = results(total, self.k, self.clean)
    out["num_examples"] = int(total[3])
    return out
