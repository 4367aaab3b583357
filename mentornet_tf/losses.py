"""The StudentNet's per-example training loss: cross-entropy or one of the paper's baseline losses.

`per_example_loss(name, labels [B], logits [B, K], ...) -> float32 [B]`; SpadeModel.train_step
multiplies it by v and averages over the global batch. Notation: q = softmax(logits), y the noisy
label, CE = -log q_y.

  cross_entropy         CE (the default: FullModel, MentorNet, curricula).
  focal                 stop_gradient((1 - q_y)^gamma) * CE: the focal loss as the MentorNet paper
                        uses it (Eq. 8: a constant weight v = (1 - exp(-CE))^gamma on the loss,
                        not differentiated, as SPADE treats v). gamma: --focal_gamma (paper tunes
                        1, 2, 3; default 2).
  focal_differentiated  Lin et al.'s focal loss differentiated through (1 - q_y)^gamma: exactly
                        `tf_keras.losses.categorical_focal_crossentropy` with alpha = 1 on one-hot
                        labels (q clipped to [eps, 1 - eps] as there).
  bootstrap_soft        Reed et al. 2014, soft bootstrapping (App. E Eq. 31):
                        -sum_j [beta 1(y = j) + (1 - beta) q_j] log q_j = beta CE + (1 - beta) H(q).
                        q is NOT stop-gradient: Reed et al. present it as minimum-entropy
                        regularisation, and their and Goldberger's Keras code train the entropy
                        term. beta: --bootstrap_beta (Reed: 0.95).
  bootstrap_hard        Reed et al. 2014, hard bootstrapping (App. E Eq. 32):
                        -[beta log q_y + (1 - beta) max_j log q_j], the target z = onehot(argmax q)
                        (no gradient through the argmax; log q_z is differentiated).
                        beta: --bootstrap_beta (Reed: 0.8).

The weighting (MentorNet, curricula, self-paced) always sees plain CE, whatever the loss here:
its features (loss, loss - moving percentile) are defined on CE.

`NoiseAdaptation` is Goldberger & Ben-Reuven's S-model (2017): a K x K channel on the student's
softmax, trained on the channel's output after a first phase on plain CE (--s_model_pretrain_steps);
the student's own (pre-channel) output is what evaluation and export see.
"""
import tensorflow as tf
import tf_keras as keras

from mentornet_tf import config as config_lib

# The names live in config (no TensorFlow there); a test keeps both equal.
LOSSES = config_lib.LOSSES


def cross_entropy(labels, logits):
  """CE [B]: the op the training step has always used (keeps resumed runs bit-exact)."""
  return keras.losses.sparse_categorical_crossentropy(labels, logits, from_logits=True)


def focal(labels, logits, gamma, ce=None):
  """stop_gradient((1 - q_y)^gamma) * CE [B] (the paper's constant focal weight)."""
  ce = cross_entropy(labels, logits) if ce is None else ce
  weight = tf.stop_gradient(tf.pow(-tf.math.expm1(-ce), gamma))  # 1 - q_y = 1 - exp(-CE)
  return weight * ce


def focal_differentiated(labels, logits, gamma):
  """tf_keras' categorical focal cross-entropy with alpha = 1 (differentiated weight) [B]."""
  onehot = tf.one_hot(labels, tf.shape(logits)[-1], dtype=logits.dtype)
  return keras.losses.categorical_focal_crossentropy(onehot, logits, alpha=1.0, gamma=gamma,
                                                     from_logits=True)


def bootstrap_soft(labels, logits, beta):
  """beta CE + (1 - beta) H(q) [B] (Reed soft; q differentiated)."""
  log_q = tf.nn.log_softmax(logits, axis=-1)
  log_q_y = tf.gather(log_q, labels, axis=1, batch_dims=1)
  entropy = -tf.reduce_sum(tf.exp(log_q) * log_q, axis=-1)
  return -beta * log_q_y + (1.0 - beta) * entropy


def bootstrap_hard(labels, logits, beta):
  """-[beta log q_y + (1 - beta) max_j log q_j] [B] (Reed hard)."""
  log_q = tf.nn.log_softmax(logits, axis=-1)
  log_q_y = tf.gather(log_q, labels, axis=1, batch_dims=1)
  return -(beta * log_q_y + (1.0 - beta) * tf.reduce_max(log_q, axis=-1))


def per_example_loss(name, labels, logits, focal_gamma=None, bootstrap_beta=None, ce=None):
  """The training loss `name` per example.

  Args:
    name: one of LOSSES (--loss).
    labels: int32 [B], the noisy labels.
    logits: float [B, K].
    focal_gamma: gamma of the focal losses (None: config_lib.DEFAULT_FOCAL_GAMMA).
    bootstrap_beta: beta of the bootstrap losses (None: Reed's default for `name`).
    ce: the CE [B] of these logits when the caller has it (reused, not recomputed).
  Returns:
    float [B].
  """
  if name == "cross_entropy":
    return cross_entropy(labels, logits) if ce is None else ce
  gamma = config_lib.DEFAULT_FOCAL_GAMMA if focal_gamma is None else float(focal_gamma)
  beta = config_lib.default_bootstrap_beta(name) if bootstrap_beta is None \
      else float(bootstrap_beta)
  if name == "focal":
    return focal(labels, logits, gamma, ce=ce)
  if name == "focal_differentiated":
    return focal_differentiated(labels, logits, gamma)
  if name == "bootstrap_soft":
    return bootstrap_soft(labels, logits, beta)
  if name == "bootstrap_hard":
    return bootstrap_hard(labels, logits, beta)
  raise ValueError(f"--loss={name!r}: choose one of {', '.join(LOSSES)}")


class NoiseAdaptation(keras.layers.Layer):
  """Goldberger & Ben-Reuven's S-model channel: p(noisy = j | x) = sum_i q_i softmax(W)_ij.

  W [K, K], no bias, no weight decay (not a StudentNet variable); row i of softmax(W) is the
  probability that true class i is labelled j. Zeros until `initialise_from_confusion` (a uniform
  channel). Checkpoint path `model/channel/noise_adaptation_w`.
  """

  def __init__(self, num_classes: int, **kwargs):
    super().__init__(**kwargs)
    self.num_classes = int(num_classes)
    self.w = self.add_weight(name="noise_adaptation_w", shape=(self.num_classes,) * 2,
                             initializer="zeros", trainable=True)

  def log_noisy_probabilities(self, logits):
    """log p(noisy = j | x) [B, K] = logsumexp_i(log q_i + log softmax(W)_ij) (stable)."""
    log_q = tf.nn.log_softmax(logits, axis=-1)
    log_theta = tf.nn.log_softmax(self.w, axis=-1)
    return tf.reduce_logsumexp(log_q[:, :, None] + log_theta[None, :, :], axis=1)

  def loss(self, labels, logits):
    """-log p(noisy = y | x) [B]: the loss on the channel's output."""
    return -tf.gather(self.log_noisy_probabilities(logits), labels, axis=1, batch_dims=1)

  def initialise_from_confusion(self, predictions, noisy_labels):
    """W = log(row-normalised C + 1e-8), C[i, j] = #(argmax prediction i, noisy label j)."""
    self.w.assign(confusion_log_init(predictions, noisy_labels, self.num_classes))


def confusion_log_init(predictions, noisy_labels, num_classes):
  """log(C / rowsum(C) + 1e-8) as float32 [K, K] (numpy; empty rows stay log(1e-8))."""
  import numpy as np  # pylint: disable=g-import-not-at-top
  counts = np.zeros((num_classes, num_classes), np.float64)
  np.add.at(counts, (np.asarray(predictions, np.int64), np.asarray(noisy_labels, np.int64)), 1.0)
  rows = counts.sum(axis=1, keepdims=True)
  normalised = np.divide(counts, rows, out=np.zeros_like(counts), where=rows > 0)
  return np.log(normalised + 1e-8).astype(np.float32)
