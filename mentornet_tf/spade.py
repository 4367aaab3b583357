"""SPADE (Algorithm 1) as a tf_keras `Model` whose `train_step` weights every example in-graph.

One training path for every method: FullModel (v = 1), MentorNet PD/DD (Step 11), a predefined
curriculum G (Step 9). The weighting is one call, `ExampleWeighting`; everything else is the
original student loss (`code/cifar_train_mentornet.py`; WORKSPACE.md "Faithful quirks"):

  loss = sum_i v_i CE_i / global_batch + weight_decay * sum ||W||^2 / 2 * sum_i v_i / global_batch

with v a constant (stop-gradient) and the MentorNet frozen. `loss` (losses.py) may replace CE_i
in the sum by a baseline loss (focal, Reed bootstrapping, the S-model's channel loss); the
weighting still sees CE_i. Runs per replica under tf.distribute: the division by the GLOBAL
batch size makes the summed replica gradients equal the single-device gradient.

At scale (`--dtype`, `--jit_compile`): the student may compute in bfloat16/float16 (its logits are
cast to float32 before any loss; float16's loss is scaled by a LossScaleOptimizer, mentornet_tf/
precision.py); under XLA the finiteness check (nonfinite.py) records the first non-finite step in
a variable instead of asserting (XLA drops tf.debugging.Assert), and the `NonFiniteCheck` callback
ends fit.
A student with an auxiliary head (Inception-ResNet-v2) adds aux_weight * CE(aux logits) to each
example's training loss, weighted by the same v; MentorNet sees the main head's CE only.
"""
from typing import Optional

import tensorflow as tf
import tf_keras as keras

from mentornet_tf import eval_metrics
from mentornet_tf import losses
from mentornet_tf import nonfinite as nonfinite_lib
from mentornet_tf import step_diagnostics
from mentornet_tf import students
from mentornet_tf.mentor import weighting as weighting_lib
# The diagnostics' names, as spade.* for their users (training/summaries.py, monitoring.py).
from mentornet_tf.step_diagnostics import (  # noqa: F401
    DIAGNOSTICS, LOGS_KEY, V_HISTOGRAM_BINS, StepValues, named_logs, v_auc, v_detection,
    v_histogram)


class SpadeModel(keras.Model):
  """Trains `student` on noisy labels with per-example weights from `weighting`.

  Inputs are dicts (WORKSPACE.md data contract): image [B,H,W,C] (or whatever the student takes),
  label [B] (noisy), clean_label [B] (diagnostics only; absent: the noisy label stands in, as for
  real noise), id [B].
  """

  def __init__(self, student: keras.Model, weighting: weighting_lib.ExampleWeighting,
               global_batch_size: int, weight_decay: float = 0.0, num_classes: int = 10,
               summary_steps: int = 10, loss: str = "cross_entropy",
               focal_gamma: Optional[float] = None, bootstrap_beta: Optional[float] = None,
               s_model_pretrain_steps: int = 0, aux_weight: Optional[float] = None, **kwargs):
    """`summary_steps`: the diagnostics are computed at the steps whose pre-increment count is a
    multiple of it (step 0 included) and kept until the next such step. `loss`, `focal_gamma`,
    `bootstrap_beta`: the training loss (losses.per_example_loss); the weighting sees CE.
    `s_model_pretrain_steps` > 0: Goldberger's S-model, a noise-adaptation channel
    (losses.NoiseAdaptation, `self.channel`) whose loss replaces CE from that step on (its W is
    set from the confusion matrix by a callback at that step); evaluation uses the student.
    `aux_weight`: the auxiliary head's loss weight when the student has one (`has_aux_logits`;
    None = the student's own `aux_weight`, 0 = no auxiliary loss)."""
    super().__init__(**kwargs)
    has_aux = bool(getattr(student, "has_aux_logits", False))
    if aux_weight is not None and aux_weight > 0 and not has_aux:
      raise ValueError(f"aux_weight={aux_weight} but the student has no auxiliary head")
    self.aux_weight = (float(student.aux_weight if aux_weight is None else aux_weight)
                       if has_aux else 0.0)
    self.nonfinite = None  # --jit_compile: the first non-finite step's values (compile())
    self.resume_step_in_epoch = 0  # set by train_lib for a run restored mid-epoch
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
    # again across replicas would double them.
    self.distribute_reduction_method = "first"

  @property
  def metrics(self):
    return [self.step_values, self.eval_sums]

  def compile(self, *args, **kwargs):  # pylint: disable=arguments-differ
    super().compile(*args, **kwargs)
    if self.jit_compile and self.nonfinite is None:
      # [step (1-based; 0 = none yet), loss, gradient norm, v min, v max]; float64 keeps the
      # step exact. Per replica (equal on all: the finite flag is all-reduced).
      self.nonfinite = self.add_weight(
          name="nonfinite_step", shape=(5,), dtype=tf.float64, initializer="zeros",
          trainable=False, synchronization=tf.VariableSynchronization.ON_READ,
          aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA)

  def _maybe_load_initial_counters_from_ckpt(self, steps_per_epoch, initial_epoch):
    # fit's hook for where its first epoch starts (tf_keras' BackupAndRestore uses it): a run
    # restored from a step-level checkpoint continues mid-epoch, at the batch it stopped before.
    epoch, step = super()._maybe_load_initial_counters_from_ckpt(steps_per_epoch, initial_epoch)
    return epoch, step or self.resume_step_in_epoch

  def call(self, inputs, training=False):
    images = inputs["image"] if isinstance(inputs, dict) else inputs
    return tf.cast(self.student(images, training=training), tf.float32)

  def student_logits(self, images, training=True):
    """(logits, aux logits or None), float32 [B, K] whatever the student computes in.

    The auxiliary logits only in training and when their loss has a weight.
    """
    if training and self.aux_weight > 0:
      logits, aux_logits = self.student(images, training=True, return_aux=True)
      return tf.cast(logits, tf.float32), tf.cast(aux_logits, tf.float32)
    return tf.cast(self.student(images, training=training), tf.float32), None

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
    loss_scaled = isinstance(self.optimizer, keras.mixed_precision.LossScaleOptimizer)
    with tf.GradientTape() as tape:
      logits, aux_logits = self.student_logits(data["image"])
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
      if aux_logits is not None:  # slim's 0.4 * CE(aux logits), weighted by the same v
        training_loss += self.aux_weight * keras.losses.sparse_categorical_crossentropy(
            labels, aux_logits, from_logits=True)
      weighted_loss = tf.nn.compute_average_loss(
          training_loss * weights, global_batch_size=self.global_batch_size)
      decay = tf.constant(0.0)
      if self.weight_decay > 0:
        # The original scales weight decay by the weight mass sum(v)/B (App. E.3, §2.3).
        decay = (self.weight_decay * students.weight_decay_loss(self.student)
                 * tf.reduce_sum(weights) / self.global_batch_size)
      total_loss = weighted_loss + decay
      # float16: the loss differentiated is scaled; every value reported or checked is not.
      differentiated = self.optimizer.get_scaled_loss(total_loss) if loss_scaled else total_loss
    variables = self.student.trainable_variables  # never the MentorNet's
    if self.channel is not None:
      variables = variables + self.channel.trainable_variables
    gradients = tape.gradient(differentiated, variables)
    # Variables the loss does not reach (an auxiliary head at --aux_weight=0) are left out.
    variables, gradients = [v for v, g in zip(variables, gradients) if g is not None], [
        g for g in gradients if g is not None]
    if loss_scaled:
      gradients = self.optimizer.get_unscaled_gradients(gradients)
    gradient_norm = tf.linalg.global_norm(gradients)
    # Under loss scaling an overflowing gradient is the optimizer's to skip (it lowers the
    # scale), not a divergence: only the loss and v are checked then.
    finite = nonfinite_lib.all_finite(total_loss, None if loss_scaled else gradient_norm, weights)
    if not self.jit_compile:  # an in-graph assertion ending this call; the update does not wait
      nonfinite_lib.assert_finite(finite, self.optimizer.iterations, total_loss, gradient_norm,
                                  weights)
    step = self.optimizer.iterations  # pre-increment count of this step
    self.nonzero_v.assign_add(tf.reduce_sum(tf.cast(weights > 0.001, tf.float32)))
    # Diagnostics only on sampled steps (what TensorBoard shows): the other steps pay one cond.
    sampled = tf.equal(step % self.summary_steps, 0)

    def diagnose():
      self.step_values.vector.assign(step_diagnostics.step_vector(
          per_example_loss, training_loss, weights, logits, labels,
          data.get("clean_label", labels), out,
          decay, gradient_norm, step, self.nonzero_v, self._current_learning_rate(),
          self.global_batch_size))
      return tf.constant(True)
    tf.cond(sampled, diagnose, lambda: tf.constant(False))
    logs = {}
    if self.jit_compile:  # recorded before the update increments the step count
      logs[nonfinite_lib.NONFINITE_LOG] = nonfinite_lib.record_first_nonfinite(
          self.nonfinite, finite, self.optimizer.iterations, total_loss, gradient_norm, weights)
    self.optimizer.apply_gradients(zip(gradients, variables))
    # ONE output for the diagnostics (step_diagnostics.named_logs spells them out when read):
    # one output to hand on per step instead of nineteen (measured: 0.04 ms of a 3.7 ms MLP step).
    return {LOGS_KEY: self.step_values.result()[:len(DIAGNOSTICS)], **logs}

  def raise_if_nonfinite(self, logs) -> None:
    """Raises `nonfinite.NonFiniteStep` when the logs of a --jit_compile step report a
    non-finite step (the `NonFiniteCheck` callback calls it after each call of fit's step)."""
    nonfinite_lib.raise_if_recorded(logs, self.nonfinite)

  def test_step(self, data):
    logits = self(data["image"], training=False)
    self.eval_sums.update_state(data["label"], logits)
    return eval_metrics.results(self.eval_sums.result(), self.eval_sums.k)

  def predict_step(self, data):
    return self(data["image"], training=False)
