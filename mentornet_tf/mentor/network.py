"""The MentorNet network g_m (paper Fig. 1 and Appendix D; original `utils.mentornet_nn`).

MentorNet maps one example's features z_i = (loss, loss - loss moving average, label, epoch
percentage) to a logit; the caller applies the sigmoid to get the weight v_i in [0, 1] (Eq. 3).

Layout, faithful to the code that produced every shipped checkpoint (not to the paper's prose):

  label [B] --embedding (num_labels x L, trainable)----------------------------.
  epoch [B] --clip to [0, num_epochs-1]--embedding (num_epochs x E, FROZEN)---+--concat [B, L+E+2u]
  (loss, loss_diff) [B, 2] --bidirectional LSTM, ONE step, zero state--c_fw, c_bw (u each)'
     --> fc1 = tanh(feat @ W1 + b1) [B, 20] --> logit = fc1 @ (W2 + b2) [B, 1]

Quirks reproduced on purpose (original `code/utils.py`, `mentornet_nn`; WORKSPACE.md, "Faithful
quirks"):
- The epoch table is glorot-uniform random and never trained: every checkpoint carries its own
  random table, and MentorNet learning must leave it frozen.
- The LSTM contributes its CELL state c, not its output h. One step of TF1 `BasicLSTMCell`
  (forget_bias 0) from a zero state gives c = sigmoid(i) * tanh(j): the f and o gates and the
  recurrent kernel rows are dead parameters (zero gradient), kept so that checkpoints map 1:1.
- The output "bias" b2 [1] is broadcast-added to the weight matrix W2 [20, 1] BEFORE the matmul, so
  logit = fc1 @ W2 + b2 * sum(fc1). `corrected_output=True` gives the textbook fc1 @ W2 + b2.
- W1, b1, W2, b2 start from a standard normal (the original used `tf.random_normal`), the LSTM
  kernels from glorot-uniform, the LSTM biases from zeros.

The paper (App. D) describes 10 LSTM units; the released code used 1. `num_lstm_units` makes it a
choice; the default is the code's.

LSTM storage: kernels are kept in TF1 layout, [inputs + units, 4 * units] with gate columns in the
order (i, j, f, o), rows (loss, loss_diff, h_prev...), so TF1 checkpoints load without reordering.
"""
import dataclasses
from typing import Optional

import tensorflow as tf
import tf_keras as keras

LSTM_INPUT_SIZE = 2  # (loss, loss_diff): the two columns the LSTM reads.
NUM_FEATURES = 4     # (loss, loss_diff, label, epoch percentage).


@dataclasses.dataclass(frozen=True)
class MentorNetConfig:
  """Sizes of the MentorNet network. Defaults are those of the original code (757 parameters).

  Attributes:
    label_embedding_size: L, the size of a label's embedding.
    epoch_embedding_size: E, the size of an epoch-percentage embedding.
    num_fc_nodes: hidden nodes of fc1 (tanh).
    num_lstm_units: u, units of each LSTM direction (code: 1; paper App. D: 10).
    num_labels: rows of the label embedding (the original always feeds label 0).
    num_epochs: rows of the epoch embedding; the epoch feature is clipped to [0, num_epochs - 1].
    corrected_output: False = the original `fc1 @ (W2 + b2)`; True = `fc1 @ W2 + b2`.
  """
  label_embedding_size: int = 2
  epoch_embedding_size: int = 5
  num_fc_nodes: int = 20
  num_lstm_units: int = 1
  num_labels: int = 2
  num_epochs: int = 100
  corrected_output: bool = False
  train_epoch_embedding: bool = False  # True: learn the epoch table (the original froze it)

  def __post_init__(self):
    for field in ("label_embedding_size", "epoch_embedding_size", "num_fc_nodes",
                  "num_lstm_units", "num_labels", "num_epochs"):
      value = getattr(self, field)
      if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"MentorNetConfig.{field}={value!r} is invalid: must be a positive int")
    if not isinstance(self.corrected_output, bool):
      raise ValueError(f"MentorNetConfig.corrected_output={self.corrected_output!r} is invalid: "
                       "must be a bool")

  @property
  def feature_size(self) -> int:
    """Width of the fc1 input: L + E + 2u (label, epoch, c_fw, c_bw)."""
    return self.label_embedding_size + self.epoch_embedding_size + 2 * self.num_lstm_units


def _lstm_cell_state(inputs, kernel, bias, units):
  """Cell state c after one TF1 `BasicLSTMCell` step (forget_bias 0) from a zero state.

  BasicLSTMCell: [i, j, f, o] = [x, h_prev] @ kernel + bias;
  c = c_prev * sigmoid(f + forget_bias) + sigmoid(i) * tanh(j). With h_prev = c_prev = 0 the
  recurrent rows and the f and o columns drop out, so only x @ kernel[:2, :2u] is computed.

  Args:
    inputs: float32 [B, 2], (loss, loss_diff).
    kernel: [2 + units, 4 * units], TF1 layout.
    bias: [4 * units].
    units: u.

  Returns:
    float32 [B, units], the cell state c.
  """
  gates = tf.matmul(inputs, kernel[:LSTM_INPUT_SIZE, :2 * units]) + bias[:2 * units]
  input_gate, candidate = tf.split(gates, 2, axis=1)
  return tf.sigmoid(input_gate) * tf.tanh(candidate)


@keras.saving.register_keras_serializable(package="mentornet_tf")
class MentorNet(keras.Model):
  """MentorNet g_m: features [B, 4] -> logits [B, 1] (apply a sigmoid to get weights).

  Variables (TF1 name in brackets; see `storage.TF1_VARIABLES`):
    label_embedding [num_labels, L] (mentornet/label_embedding), trainable;
    epoch_embedding [num_epochs, E] (mentornet/epoch_embedding), NOT trainable;
    fw_kernel, bw_kernel [2 + u, 4u] and fw_bias, bw_bias [4u]
      (mentornet/bidirectional_rnn/{fw,bw}/basic_lstm_cell/{kernel,bias});
    fc1_kernel [L + E + 2u, F] (mentornet/Variable), fc1_bias [F] (mentornet/Variable_1);
    output_kernel [F, 1] (mentornet/Variable_2), output_bias [1] (mentornet/Variable_3).
  """

  def __init__(self, config: MentorNetConfig = MentorNetConfig(), seed: Optional[int] = None,
               **kwargs):
    """Creates an unbuilt MentorNet.

    Args:
      config: the network sizes and output form.
      seed: seeds the initialisers (variable k uses seed + k); None draws fresh random values.
      **kwargs: passed to `keras.Model` (e.g. name). dtype defaults to float32 whatever the
        global Keras policy: the weights v must not be computed in float16.

    Raises:
      TypeError: config is not a MentorNetConfig.
    """
    kwargs.setdefault("name", "mentornet")
    kwargs.setdefault("dtype", "float32")
    super().__init__(**kwargs)
    if not isinstance(config, MentorNetConfig):
      raise TypeError(f"config must be a MentorNetConfig, got {type(config).__name__}")
    self.config = config
    self.seed = seed

  def _initializer(self, kind: str, offset: int):
    seed = None if self.seed is None else self.seed + offset
    if kind == "glorot":
      return keras.initializers.GlorotUniform(seed=seed)
    if kind == "normal":  # tf.random_normal in the original: mean 0, stddev 1.
      return keras.initializers.RandomNormal(mean=0.0, stddev=1.0, seed=seed)
    return keras.initializers.Zeros()

  def build(self, input_shape):
    """Creates the variables; input_shape must be [B, 4] (B may be None)."""
    if input_shape is not None and tf.TensorShape(input_shape)[-1] not in (None, NUM_FEATURES):
      raise ValueError(f"MentorNet expects features of shape [B, {NUM_FEATURES}] (loss, loss_diff,"
                       f" label, epoch), got {tf.TensorShape(input_shape)}")
    c = self.config
    u = c.num_lstm_units
    add = self.add_weight
    self.label_embedding = add(name="label_embedding", shape=[c.num_labels, c.label_embedding_size],
                               initializer=self._initializer("glorot", 0))
    # Frozen at its random init, as in the original (trainable=False there too). A frozen random
    # table cannot tell epoch 49 from 50 unless the rows happen to differ usefully, so curricula
    # that change with the epoch (temporal mixture, PD's ramp after 90) are learned badly;
    # train_epoch_embedding=True learns it (App. D benchmark: temporal mixture 2e-1 -> 6e-4 MSE).
    self.epoch_embedding = add(name="epoch_embedding", shape=[c.num_epochs, c.epoch_embedding_size],
                               initializer=self._initializer("glorot", 1),
                               trainable=c.train_epoch_embedding)
    lstm_shape = [LSTM_INPUT_SIZE + u, 4 * u]
    self.fw_kernel = add(name="fw_kernel", shape=lstm_shape,
                         initializer=self._initializer("glorot", 2))
    self.fw_bias = add(name="fw_bias", shape=[4 * u], initializer=self._initializer("zeros", 3))
    self.bw_kernel = add(name="bw_kernel", shape=lstm_shape,
                         initializer=self._initializer("glorot", 4))
    self.bw_bias = add(name="bw_bias", shape=[4 * u], initializer=self._initializer("zeros", 5))
    self.fc1_kernel = add(name="fc1_kernel", shape=[c.feature_size, c.num_fc_nodes],
                          initializer=self._initializer("normal", 6))
    self.fc1_bias = add(name="fc1_bias", shape=[c.num_fc_nodes],
                        initializer=self._initializer("normal", 7))
    self.output_kernel = add(name="output_kernel", shape=[c.num_fc_nodes, 1],
                             initializer=self._initializer("normal", 8))
    self.output_bias = add(name="output_bias", shape=[1],
                           initializer=self._initializer("normal", 9))
    self.built = True

  def call(self, features, training=False):
    """Computes MentorNet logits.

    Args:
      features: [B, 4] (cast to the model's dtype, float32 by default): loss, loss_diff, label,
        epoch percentage. The label and epoch columns are truncated to int32; the epoch is
        clipped to [0, num_epochs - 1] (the original clipped at 99).
      training: unused (no dropout or batch norm); kept for the Keras signature.

    Returns:
      [B, 1] logits (float32 by default).
    """
    del training
    c = self.config
    features = tf.cast(features, self.compute_dtype)
    labels = tf.cast(features[:, 2], tf.int32)
    epochs = tf.clip_by_value(tf.cast(features[:, 3], tf.int32), 0, c.num_epochs - 1)
    lstm_inputs = features[:, :LSTM_INPUT_SIZE]
    # fw and bw see the same single time step, so they differ only in their weights.
    c_fw = _lstm_cell_state(lstm_inputs, self.fw_kernel, self.fw_bias, c.num_lstm_units)
    c_bw = _lstm_cell_state(lstm_inputs, self.bw_kernel, self.bw_bias, c.num_lstm_units)
    feat = tf.concat([tf.gather(self.label_embedding, labels),
                      tf.gather(self.epoch_embedding, epochs), c_fw, c_bw], axis=1)
    fc1 = tf.tanh(tf.matmul(feat, self.fc1_kernel) + self.fc1_bias)
    if c.corrected_output:
      return tf.matmul(fc1, self.output_kernel) + self.output_bias
    # The original's form: the [1] bias is broadcast into the [F, 1] weight before the matmul.
    return tf.matmul(fc1, self.output_kernel + self.output_bias)

  def get_config(self):
    return {"name": self.name, "config": dataclasses.asdict(self.config), "seed": self.seed,
            "dtype": self.dtype_policy.name}

  @classmethod
  def from_config(cls, config, custom_objects=None):
    del custom_objects
    config = dict(config)
    return cls(config=MentorNetConfig(**config.pop("config")), **config)


def build_mentornet(config: MentorNetConfig = MentorNetConfig(),
                    seed: Optional[int] = None) -> MentorNet:
  """Creates a MentorNet and its variables (by calling it on a dummy [1, 4] input).

  Args:
    config: the network sizes and output form.
    seed: seeds the initialisers; None draws fresh random values.

  Returns:
    A built MentorNet.
  """
  model = MentorNet(config, seed=seed)
  model(tf.zeros([1, NUM_FEATURES], tf.float32))
  return model


def mentor_features(loss, loss_diff, label, epoch):
  """Stacks the MentorNet input columns (original `mentornet`, step 8).

  Args:
    loss: [B] or [B, 1] per-example loss.
    loss_diff: [B] or [B, 1], loss minus the loss moving average.
    label: [B], [B, 1] or a scalar (the original always feeds 0).
    epoch: [B], [B, 1] or a scalar epoch percentage (usually one scalar per step).

  Returns:
    float32 [B, 4]; scalar columns are broadcast to B.
  """
  loss = tf.reshape(tf.cast(loss, tf.float32), [-1])
  batch_shape = tf.shape(loss)
  columns = [loss]
  for column in (loss_diff, label, epoch):
    columns.append(tf.broadcast_to(tf.reshape(tf.cast(column, tf.float32), [-1]), batch_shape))
  return tf.stack(columns, axis=1)
