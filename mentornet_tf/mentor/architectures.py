"""The MentorNet architectures compared in Appendix D (Table 1, App. Fig. 1).

Every architecture maps MentorNet's four features z_i = (loss, loss_diff, label, epoch
percentage), float32 [B, 4], to logits [B, 1]; sigmoid(logit) is the weight v_i. So each one can
be trained by `learning.learn_mentornet(..., model=...)` exactly like the MentorNet itself.

  logistic   standardise -> Dense(1): logistic regression on the raw features.
  mlp        standardise -> 2 hidden Dense layers (ReLU) -> Dense(1).
  cnn        standardise -> the 4 features as a length-4 signal with 1 channel -> 2 Conv1D
             layers (kernel 2, ReLU) -> mean pooling over the feature axis -> Dense(1).
  rnn        standardise -> consecutive rows grouped into sequences of `sequence_length`
             (the mini-batch) -> LSTM -> Dense(1) at every step.
  mentornet  the bi-LSTM MentorNet of Fig. 1 (`network.MentorNet`), App. D size: 10 LSTM units,
             its epoch embedding frozen at its random initialisation as in the original code.
  mentornet_trainable_epoch  the same with a TRAINABLE epoch embedding.

Decisions the paper leaves open (App. D says only "a 2-layer CNN with mean pooling" and "an LSTM
network (RNN) to sequentially encode the features of every example in a mini-batch"):
- The CNN pools over the FEATURE axis, not over the mini-batch. A curriculum's v* is a function
  of the example's own features; pooling over the batch would make an example's weight depend on
  its batch-mates (a batch-level quantity that cannot represent v*), and at SPADE time the weight
  must not change with the batch composition. Mean pooling over the feature positions keeps the
  network per-example but discards which feature pair a filter saw, which is why it is weaker
  than the MLP (as in the paper's Table 1).
- The RNN reads the rows of a mini-batch as ONE sequence, as the paper says: the weight of the
  k-th example depends on the examples before it. Any batch is cut into consecutive sequences of
  `sequence_length` rows (the last one zero-padded), so evaluation on a large batch sees the same
  kind of sequences as training with mini-batches of `sequence_length`.
- The baselines (not the MentorNet, which embeds the integer epoch) standardise their inputs
  with the training set's mean and standard deviation (a frozen layer): the raw epoch (0..99) and
  loss (0..30) would otherwise make Adam with the original LR 0.1 diverge for reasons that have
  nothing to do with the architecture. The features are the same for all.
- Two MentorNets. The original code (and `network.MentorNet`) freezes the epoch embedding at its
  random glorot initialisation. 100 random points in 5-D cannot be split into epoch < 50 and
  epoch >= 50 by the 20 tanh units of fc1 in practice, so the faithful network cannot learn the
  temporal mixture (test MSE stays near 0.25, the MSE of a constant 0.5), which the paper's
  Table 1 reports at 1.2E-4. `mentornet_trainable_epoch` lets the embedding train; every other
  variable and the forward pass are those of `network.MentorNet`.
"""
import dataclasses
from typing import Optional

import numpy as np
import tensorflow as tf
import tf_keras as keras

from mentornet_tf.mentor import network

ARCHITECTURES = ("logistic", "mlp", "cnn", "rnn", "mentornet", "mentornet_trainable_epoch")
# Paper App. D: "The bidirectional LSTM has a single layer of 10 base LSTM units".
APPENDIX_D_MENTORNET = network.MentorNetConfig(num_lstm_units=10)


def _standardizer(train_features: Optional[np.ndarray]) -> keras.layers.Layer:
  """A frozen per-feature standardisation; identity when no training features are given."""
  if train_features is None:
    mean, variance = np.zeros(network.NUM_FEATURES), np.ones(network.NUM_FEATURES)
  else:
    features = np.asarray(train_features, np.float64)
    if features.ndim != 2 or features.shape[1] != network.NUM_FEATURES:
      raise ValueError(f"train_features must be [N, {network.NUM_FEATURES}] (loss, loss_diff, "
                       f"label, epoch), got shape {features.shape}")
    mean = features.mean(axis=0)
    # A constant column (the label is always 0 on the grid) keeps variance 1: no division by 0.
    variance = np.where(features.var(axis=0) > 1e-12, features.var(axis=0), 1.0)
  return keras.layers.Normalization(mean=mean.astype(np.float32),
                                    variance=variance.astype(np.float32), name="standardize")


class SequenceLSTM(keras.Model):
  """The App. D "RNN": an LSTM reading consecutive examples of a batch as one sequence.

  features [B, 4] -> pad B to a multiple of L -> [B/L, L, 4] -> LSTM -> Dense(1) -> logits [B, 1].
  """

  def __init__(self, units: int, sequence_length: int, standardize: keras.layers.Layer,
               seed: Optional[int] = None, **kwargs):
    """Creates the layers.

    Args:
      units: LSTM units.
      sequence_length: L, rows per sequence (the training mini-batch size).
      standardize: the input standardisation layer.
      seed: seeds the initialisers; None draws fresh random values.
      **kwargs: passed to `keras.Model` (e.g. name).

    Raises:
      ValueError: sequence_length < 1.
    """
    super().__init__(**kwargs)
    if sequence_length < 1:
      raise ValueError(f"sequence_length={sequence_length!r} must be >= 1")
    self.sequence_length = sequence_length
    self.standardize = standardize
    self.lstm = keras.layers.LSTM(
        units, return_sequences=True,
        kernel_initializer=keras.initializers.GlorotUniform(seed),
        recurrent_initializer=keras.initializers.Orthogonal(
            seed=None if seed is None else seed + 1))
    self.head = keras.layers.Dense(
        1, kernel_initializer=keras.initializers.GlorotUniform(None if seed is None else seed + 2))

  def call(self, features, training=False):
    """features [B, 4] -> logits [B, 1]; example k's logit depends on rows before it in its
    sequence of `sequence_length` rows."""
    x = self.standardize(tf.cast(features, tf.float32))
    batch = tf.shape(x)[0]
    length = self.sequence_length
    padded = (batch + length - 1) // length * length
    x = tf.pad(x, [[0, padded - batch], [0, 0]])
    x = tf.reshape(x, [-1, length, network.NUM_FEATURES])
    logits = self.head(self.lstm(x, training=training))  # [B/L, L, 1]
    return tf.reshape(logits, [-1, 1])[:batch]


def build_architecture(name: str, train_features: Optional[np.ndarray] = None,
                       seed: Optional[int] = None, hidden_units: int = 32,
                       sequence_length: int = 32,
                       mentornet_config: network.MentorNetConfig = APPENDIX_D_MENTORNET
                       ) -> keras.Model:
  """Builds one App. D architecture: features [B, 4] -> logits [B, 1].

  Args:
    name: one of ARCHITECTURES.
    train_features: float [N, 4] training features; the baselines standardise with their mean
      and standard deviation (ignored by the MentorNets). None = no standardisation.
    seed: seeds the initialisers (the paper's "random starting values" per repeat).
    hidden_units: width of the MLP hidden layers, CNN filters and RNN LSTM units.
    sequence_length: rows per RNN sequence; set it to the training mini-batch size.
    mentornet_config: the MentorNet's sizes (default App. D: 10 LSTM units).

  Returns:
    A built keras Model.

  Raises:
    ValueError: unknown name, bad sizes, or train_features not [N, 4].
  """
  if name not in ARCHITECTURES:
    raise ValueError(f"unknown architecture {name!r}; choose one of {', '.join(ARCHITECTURES)}")
  if hidden_units < 1:
    raise ValueError(f"hidden_units={hidden_units!r} must be >= 1")
  if name == "mentornet":
    return network.build_mentornet(mentornet_config, seed=seed)
  if name == "mentornet_trainable_epoch":
    return network.build_mentornet(
        dataclasses.replace(mentornet_config, train_epoch_embedding=True), seed=seed)

  def init(offset):
    return keras.initializers.GlorotUniform(None if seed is None else seed + offset)

  standardize = _standardizer(train_features)
  if name == "rnn":
    model = SequenceLSTM(hidden_units, sequence_length, standardize, seed=seed, name="rnn")
  else:
    layers = [keras.Input([network.NUM_FEATURES]), standardize]
    if name == "mlp":
      layers += [keras.layers.Dense(hidden_units, "relu", kernel_initializer=init(0)),
                 keras.layers.Dense(hidden_units, "relu", kernel_initializer=init(1))]
    elif name == "cnn":
      layers += [keras.layers.Reshape([network.NUM_FEATURES, 1]),
                 keras.layers.Conv1D(hidden_units, 2, activation="relu",
                                     kernel_initializer=init(0)),
                 keras.layers.Conv1D(hidden_units, 2, activation="relu",
                                     kernel_initializer=init(1)),
                 keras.layers.GlobalAveragePooling1D()]  # mean over the feature positions
    layers.append(keras.layers.Dense(1, kernel_initializer=init(2)))
    model = keras.Sequential(layers, name=name)
  model(tf.zeros([1, network.NUM_FEATURES], tf.float32))
  return model
