"""Independent references for MentorNet tests: a numpy TF1 forward pass and a TF1 checkpoint writer.

`tf1_forward` re-derives the original `utils.mentornet_nn` from TF1 semantics, step by step and
without shortcuts (the full BasicLSTMCell step, including the dead f/o gates and recurrent rows),
so that it checks `mentornet_tf.mentor.network` rather than restating it. Weights are keyed by
their TF1 variable names (`code/utils.py` mentornet_nn). Other test files may reuse everything here.
"""
import numpy as np

LSTM_SCOPE = "mentornet/bidirectional_rnn/{}/basic_lstm_cell/{}"


def random_tf1_weights(rng, label_embedding_size=2, epoch_embedding_size=5, num_fc_nodes=20,
                       num_lstm_units=1, num_labels=2, num_epochs=100):
  """Random float32 MentorNet weights keyed by TF1 variable name.

  Args:
    rng: a numpy Generator.
    label_embedding_size, epoch_embedding_size, num_fc_nodes, num_lstm_units, num_labels,
      num_epochs: the network sizes (defaults: the original 757-parameter net).

  Returns:
    dict TF1 name -> float32 array (LSTM biases non-zero, so that they are tested too).
  """
  u = num_lstm_units
  feature_size = label_embedding_size + epoch_embedding_size + 2 * u
  shapes = {
      "mentornet/label_embedding": [num_labels, label_embedding_size],
      "mentornet/epoch_embedding": [num_epochs, epoch_embedding_size],
      LSTM_SCOPE.format("fw", "kernel"): [2 + u, 4 * u],
      LSTM_SCOPE.format("fw", "bias"): [4 * u],
      LSTM_SCOPE.format("bw", "kernel"): [2 + u, 4 * u],
      LSTM_SCOPE.format("bw", "bias"): [4 * u],
      "mentornet/Variable": [feature_size, num_fc_nodes],
      "mentornet/Variable_1": [num_fc_nodes],
      "mentornet/Variable_2": [num_fc_nodes, 1],
      "mentornet/Variable_3": [1],
  }
  return {name: rng.normal(size=shape).astype(np.float32) for name, shape in shapes.items()}


def _sigmoid(x):
  return 1.0 / (1.0 + np.exp(-x))


def basic_lstm_step(x, h, c, kernel, bias, forget_bias=0.0):
  """One TF1 BasicLSTMCell step; returns the new (c, h). Gate columns are (i, j, f, o)."""
  gates = np.concatenate([x, h], axis=1) @ kernel + bias
  i, j, f, o = np.split(gates, 4, axis=1)
  new_c = c * _sigmoid(f + forget_bias) + _sigmoid(i) * np.tanh(j)
  new_h = np.tanh(new_c) * _sigmoid(o)
  return new_c, new_h


def tf1_forward(features, weights, dtype=np.float64):
  """The original TF1 `mentornet_nn` forward pass in numpy.

  Args:
    features: [B, 4] (loss, loss_diff, label, epoch).
    weights: dict TF1 name -> array, as from `random_tf1_weights`.
    dtype: float64 (default) gives the exact value, which float32 code matches to about 1e-7 of
      the batch's logit scale (see `assert_logits_close`); float32 mimics TF1's own precision.

  Returns:
    [B, 1] logits of `dtype`.
  """
  features = np.asarray(features, dtype)
  w = {name: np.asarray(value, dtype) for name, value in weights.items()}
  batch = features.shape[0]
  labels = features[:, 2].astype(np.int32)           # tf.to_int32 truncates toward zero.
  epochs = np.minimum(features[:, 3].astype(np.int32), w["mentornet/epoch_embedding"].shape[0] - 1)
  x = features[:, :2]
  units = w[LSTM_SCOPE.format("fw", "kernel")].shape[1] // 4
  zeros = np.zeros([batch, units], dtype)
  states = []
  for direction in ("fw", "bw"):  # one time step: the reversed sequence is the same step.
    c, _ = basic_lstm_step(x, zeros, zeros, w[LSTM_SCOPE.format(direction, "kernel")],
                            w[LSTM_SCOPE.format(direction, "bias")])
    states.append(c)  # out_state[0] of LSTMStateTuple(c, h) is c.
  feat = np.concatenate([w["mentornet/label_embedding"][labels],
                         w["mentornet/epoch_embedding"][epochs]] + states, axis=1)
  fc1 = np.tanh(feat @ w["mentornet/Variable"] + w["mentornet/Variable_1"])
  return fc1 @ (w["mentornet/Variable_2"] + w["mentornet/Variable_3"])


def assert_logits_close(actual, expected, tolerance=1e-6):
  """Asserts |actual - expected| <= tolerance * max|expected| elementwise.

  The logit is a sum of terms as large as the batch's largest logit, so a float32 result carries
  an absolute rounding error proportional to that scale even where the logit itself is near 0
  (cancellation): a plain relative test would fail on correct float32 code.

  Args:
    actual: [B, 1] logits under test.
    expected: [B, 1] reference logits.
    tolerance: allowed error relative to the batch's logit scale.
  """
  actual, expected = np.asarray(actual, np.float64), np.asarray(expected, np.float64)
  assert actual.shape == expected.shape, (actual.shape, expected.shape)
  scale = max(1.0, float(np.abs(expected).max()))
  np.testing.assert_allclose(actual / scale, expected / scale, rtol=0, atol=tolerance)


def write_tf1_checkpoint(prefix, weights, extra=None, global_step=None, write_state=True):
  """Writes a TF1 (name-based) checkpoint with `tf.compat.v1` in graph mode, like the original.

  Args:
    prefix: checkpoint prefix, e.g. `<dir>/mentornet_pd` or `<dir>/mentornet.model`.
    weights: dict TF1 name -> array.
    extra: optional dict name -> array of further variables (student variables, Adam slots).
    global_step: if given, saved as `global_step` and appended to the prefix (`-<step>`).
    write_state: also write the directory's `checkpoint` state file.

  Returns:
    The path prefix actually written.
  """
  import tensorflow as tf  # pylint: disable=g-import-not-at-top

  graph = tf.Graph()
  with graph.as_default():
    variables = dict(weights, **(extra or {}))
    for name, value in variables.items():
      tf.compat.v1.get_variable(name, initializer=np.asarray(value),
                                trainable=name != "mentornet/epoch_embedding")
    step = None
    if global_step is not None:
      step = tf.compat.v1.train.get_or_create_global_step()
    saver = tf.compat.v1.train.Saver()
    with tf.compat.v1.Session(graph=graph) as session:
      session.run(tf.compat.v1.global_variables_initializer())
      if step is not None:
        session.run(step.assign(global_step))
      return saver.save(session, prefix, global_step=global_step, write_state=write_state)
