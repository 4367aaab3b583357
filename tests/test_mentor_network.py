"""Tests of mentornet_tf.mentor.network: shapes, TF1 semantics, quirks, graph mode, strategies."""
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras

from mentornet_tf.mentor import network
from mentornet_tf.mentor import storage
import mentor_reference

LSTM_FW_KERNEL = "mentornet/bidirectional_rnn/fw/basic_lstm_cell/kernel"


def _features(rng, batch=64, num_labels=2):
  return np.stack([rng.uniform(0, 10, batch), rng.normal(0, 3, batch),
                   rng.integers(0, num_labels, batch), rng.uniform(0, 100, batch)],
                  axis=1).astype(np.float32)


def _model_with(weights, dtype="float32", **config):
  """A MentorNet holding the given TF1-named weights."""
  model = network.MentorNet(network.MentorNetConfig(**config), dtype=dtype)
  model(tf.zeros([1, 4], dtype))
  for name, attribute in storage.TF1_VARIABLES.items():
    getattr(model, attribute).assign(weights[name])
  return model


def test_variable_shapes_and_757_parameters():
  model = network.build_mentornet(seed=0)
  shapes = {v.name.split("/")[-1].split(":")[0]: v.shape.as_list() for v in model.variables}
  assert shapes == {"label_embedding": [2, 2], "epoch_embedding": [100, 5],
                    "fw_kernel": [3, 4], "fw_bias": [4], "bw_kernel": [3, 4], "bw_bias": [4],
                    "fc1_kernel": [9, 20], "fc1_bias": [20], "output_kernel": [20, 1],
                    "output_bias": [1]}
  assert model.count_params() == 757
  assert sum(int(np.prod(v.shape)) for v in model.trainable_variables) == 257
  assert [v.shape.as_list() for v in model.non_trainable_variables] == [[100, 5]]
  np.testing.assert_array_equal(model.fw_bias.numpy(), 0.0)  # BasicLSTMCell bias starts at 0.


def test_initialisers_follow_the_original():
  model = network.build_mentornet(network.MentorNetConfig(num_fc_nodes=400), seed=3)
  # tf.random_normal: standard normal; glorot-uniform [100, 5]: limit sqrt(6 / 105).
  assert abs(np.std(model.fc1_kernel.numpy()) - 1.0) < 0.05
  table = model.epoch_embedding.numpy()
  assert np.abs(table).max() <= np.sqrt(6 / 105) + 1e-6
  assert np.abs(table).max() > 0.8 * np.sqrt(6 / 105)


def test_seed_gives_identical_weights_and_none_gives_fresh_ones():
  a, b = network.build_mentornet(seed=7), network.build_mentornet(seed=7)
  c = network.build_mentornet()
  for va, vb in zip(a.variables, b.variables):
    np.testing.assert_array_equal(va.numpy(), vb.numpy())
  assert not np.array_equal(a.fc1_kernel.numpy(), c.fc1_kernel.numpy())


@pytest.mark.parametrize("sizes", [{}, {"num_lstm_units": 3, "label_embedding_size": 4,
                                        "epoch_embedding_size": 6, "num_fc_nodes": 7}])
def test_matches_numpy_tf1_reference(sizes):
  rng = np.random.default_rng(0)
  weights = mentor_reference.random_tf1_weights(rng, **sizes)
  features = _features(rng)
  expected = mentor_reference.tf1_forward(features, weights)
  mentor_reference.assert_logits_close(_model_with(weights, **sizes)(features).numpy(), expected)
  # In float64 the same code agrees to rounding: no hidden approximation in the float32 path.
  exact = _model_with(weights, dtype="float64", **sizes)
  assert exact.fc1_kernel.dtype == tf.float64
  np.testing.assert_allclose(exact(features).numpy(), expected, rtol=1e-12, atol=1e-12)


def test_only_the_cell_state_of_i_and_j_gates_matters():
  rng = np.random.default_rng(1)
  weights = mentor_reference.random_tf1_weights(rng)
  features = _features(rng)
  reference = _model_with(weights)(features).numpy()
  for direction in ("fw", "bw"):
    kernel_name = LSTM_FW_KERNEL.replace("fw", direction)
    bias_name = kernel_name.replace("kernel", "bias")
    dead = dict(weights)
    dead[kernel_name] = weights[kernel_name].copy()
    dead[kernel_name][:, 2:] += 5.0  # the f and o gate columns
    dead[kernel_name][2, :] += 5.0   # the recurrent row (h_prev = 0)
    dead[bias_name] = weights[bias_name].copy()
    dead[bias_name][2:] += 5.0
    np.testing.assert_array_equal(_model_with(dead)(features).numpy(), reference)
    for column in (0, 1):  # i and j
      live = dict(weights)
      live[kernel_name] = weights[kernel_name].copy()
      live[kernel_name][:2, column] += 0.5
      assert np.abs(_model_with(live)(features).numpy() - reference).max() > 1e-3


def _row_tolerance(model):
  """Absolute tolerance for two logits that are equal in exact arithmetic but come from different
  batch rows or batch shapes.

  oneDNN may compute different rows of one batch (or batches of different shapes) with different
  kernels (vector body vs remainder, another blocking), so the fc1 -> output sums run in another
  order and the results differ in the last bits (seen on AMD EPYC: -0.058458865 vs -0.058458835,
  4 ulps of the value). The rounding error scales with the terms summed, not with the logit, which
  may be small by cancellation: logit = sum_j fc1_j (W2_j + b2) with |fc1_j| = |tanh| <= 1, so
  the terms are bounded by B = sum_j |W2_j| + num_fc |b2| (about 20-30 here). 8 float32 eps of B
  (about 2e-5) covers a few roundings of every term; rows that must differ (another label or
  epoch embedding row) differ by 1e-2 to 2, over 100 times more (checked by `_assert_rows_differ`).
  """
  bound = (np.abs(model.output_kernel.numpy()).sum()
           + model.config.num_fc_nodes * np.abs(model.output_bias.numpy()).sum())
  return 8 * np.finfo(np.float32).eps * float(bound)


def _assert_rows_equal(model, a, b):
  assert abs(float(a) - float(b)) <= _row_tolerance(model), (a, b, _row_tolerance(model))


def _assert_rows_differ(model, a, b):
  assert abs(float(a) - float(b)) > 100 * _row_tolerance(model), (a, b, _row_tolerance(model))


def test_epoch_is_truncated_and_clipped():
  model = network.build_mentornet(seed=2)
  base = np.array([[1.0, 0.5, 0.0, 0.0]] * 6, np.float32)
  base[:, 3] = [150.0, 99.0, 37.9, 37.0, -5.0, 0.0]
  out = model(base).numpy()[:, 0]
  for i, j in ((0, 1), (2, 3), (4, 5)):  # 150 -> 99, 37.9 -> 37, -5 -> 0
    _assert_rows_equal(model, out[i], out[j])
  _assert_rows_differ(model, out[1], out[3])
  small = network.build_mentornet(network.MentorNetConfig(num_epochs=10), seed=2)
  out = small(base).numpy()[:, 0]
  single = small(np.array([[1.0, 0.5, 0.0, 9.0]], np.float32)).numpy()[0, 0]  # another shape
  _assert_rows_equal(small, out[0], out[1])
  _assert_rows_equal(small, out[1], single)
  _assert_rows_differ(small, out[1], out[4])  # epoch 9 vs epoch 0


def test_label_column_selects_embedding_row():
  model = network.build_mentornet(seed=4)
  out = model(np.array([[1.0, 0.5, 0.0, 50.0], [1.0, 0.5, 1.0, 50.0], [1.0, 0.5, 0.7, 50.0]],
                       np.float32)).numpy()
  _assert_rows_differ(model, out[0, 0], out[1, 0])
  _assert_rows_equal(model, out[0, 0], out[2, 0])  # 0.7 truncates to label 0


def test_output_quirk_and_corrected_output():
  rng = np.random.default_rng(5)
  features = _features(rng)
  model = network.build_mentornet(seed=5)
  logits = model(features).numpy()
  # Rebuild fc1 from the model's own layers: the concat order is label, epoch, c_fw, c_bw.
  w = {name: getattr(model, attr).numpy() for name, attr in storage.TF1_VARIABLES.items()}
  mentor_reference.assert_logits_close(logits, mentor_reference.tf1_forward(features, w))
  labels, epochs = features[:, 2].astype(int), features[:, 3].astype(int)
  zeros = np.zeros([64, 1])
  kernels = [LSTM_FW_KERNEL.replace("fw", d) for d in ("fw", "bw")]
  c = [mentor_reference.basic_lstm_step(features[:, :2], zeros, zeros, w[k],
                                        w[k.replace("kernel", "bias")])[0] for k in kernels]
  feat = np.concatenate([w["mentornet/label_embedding"][labels],
                         w["mentornet/epoch_embedding"][epochs]] + c, axis=1)
  fc1 = np.tanh(feat @ w["mentornet/Variable"] + w["mentornet/Variable_1"])
  quirk = fc1 @ w["mentornet/Variable_2"] + w["mentornet/Variable_3"] * fc1.sum(1, keepdims=True)
  mentor_reference.assert_logits_close(logits, quirk)
  corrected = network.build_mentornet(network.MentorNetConfig(corrected_output=True), seed=5)
  corrected_logits = corrected(features).numpy()
  mentor_reference.assert_logits_close(
      corrected_logits, fc1 @ w["mentornet/Variable_2"] + w["mentornet/Variable_3"])
  assert np.abs(corrected_logits - logits).max() > 1e-2


def test_epoch_table_stays_frozen_under_adam():
  rng = np.random.default_rng(6)
  model = network.build_mentornet(seed=6)
  model.trainable = False  # what the student side does; Step 6 turns it back on
  model.trainable = True
  assert all("epoch_embedding" not in v.name for v in model.trainable_variables)
  table, fc1 = model.epoch_embedding.numpy().copy(), model.fc1_kernel.numpy().copy()
  features, targets = _features(rng, 32), rng.uniform(size=(32, 1)).astype(np.float32)
  optimizer = keras.optimizers.Adam(0.1)
  for _ in range(3):
    with tf.GradientTape() as tape:
      loss = tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(targets, model(features)))
    optimizer.apply_gradients(zip(tape.gradient(loss, model.trainable_variables),
                                  model.trainable_variables))
  model.compile(optimizer=keras.optimizers.Adam(0.1),
                loss=keras.losses.BinaryCrossentropy(from_logits=True))
  model.fit(features, targets, batch_size=8, epochs=1, verbose=0)
  np.testing.assert_array_equal(model.epoch_embedding.numpy(), table)
  assert np.abs(model.fc1_kernel.numpy() - fc1).max() > 1e-3


def test_dynamic_batch_inside_tf_function():
  model = network.build_mentornet(seed=8)
  serve = tf.function(model.call, input_signature=[tf.TensorSpec([None, 4], tf.float32)])
  rng = np.random.default_rng(8)
  for batch in (1, 5, 17):
    features = _features(rng, batch)
    out = serve(features)
    assert out.shape == (batch, 1)
    np.testing.assert_allclose(out.numpy(), model(features).numpy(), rtol=1e-6, atol=1e-6)


def test_compiles_with_xla():
  model = network.build_mentornet(seed=13)
  features = _features(np.random.default_rng(13), 16)
  compiled = tf.function(model.call, jit_compile=True)
  np.testing.assert_allclose(compiled(features).numpy(), model(features).numpy(), rtol=1e-5,
                             atol=1e-5)


def test_bad_feature_width_and_config_are_rejected():
  with pytest.raises(ValueError, match=r"\[B, 4\]"):
    network.MentorNet()(tf.zeros([2, 3]))
  with pytest.raises(ValueError, match="num_lstm_units"):
    network.MentorNetConfig(num_lstm_units=0)
  with pytest.raises(TypeError, match="MentorNetConfig"):
    network.MentorNet(config={"num_fc_nodes": 20})


def test_stays_float32_under_a_mixed_precision_policy():
  keras.mixed_precision.set_global_policy("mixed_float16")
  try:
    model = network.build_mentornet(seed=12)
    assert model(tf.zeros([2, 4])).dtype == tf.float32
    assert model.fc1_kernel.dtype == tf.float32
  finally:
    keras.mixed_precision.set_global_policy("float32")


def test_keras_serialisation_round_trip():
  config = network.MentorNetConfig(num_lstm_units=2, corrected_output=True)
  model = network.build_mentornet(config, seed=9)
  clone = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(model))
  assert isinstance(clone, network.MentorNet) and clone.config == config and clone.seed == 9
  clone(tf.zeros([1, 4]))
  for a, b in zip(model.variables, clone.variables):
    np.testing.assert_array_equal(a.numpy(), b.numpy())  # same seed -> same initial weights


def test_mentor_features_broadcasts_scalar_columns():
  features = network.mentor_features(tf.constant([[1.0], [2.0], [3.0]]),
                                     tf.constant([0.1, 0.2, 0.3]), 0, tf.constant(42))
  np.testing.assert_allclose(features.numpy(), [[1, 0.1, 0, 42], [2, 0.2, 0, 42],
                                                [3, 0.3, 0, 42]], rtol=1e-7)
  assert features.dtype == tf.float32


def test_under_mirrored_strategy_in_process():
  strategy = tf.distribute.MirroredStrategy(["/cpu:0"])
  with strategy.scope():
    model = network.build_mentornet(seed=10)
  features = _features(np.random.default_rng(10), 8)
  result = strategy.run(tf.function(lambda x: model(x)), args=(tf.constant(features),))
  np.testing.assert_allclose(strategy.experimental_local_results(result)[0].numpy(),
                             model(features).numpy(), rtol=1e-6, atol=1e-6)


@pytest.mark.slow  # ~5-12 s: a whole training run or a fresh TF process
def test_two_replicas_give_the_single_device_result(tmp_path):
  """Two logical CPUs need a fresh process (devices are fixed at TF start-up)."""
  script = textwrap.dedent("""
      import numpy as np
      import mentornet_tf
      import tensorflow as tf
      cpu = tf.config.list_physical_devices("CPU")[0]
      tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
      from mentornet_tf.mentor import network
      strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
      with strategy.scope():
        model = network.build_mentornet(seed=11)
      x = np.random.default_rng(0).uniform(0, 50, (8, 4)).astype(np.float32)
      x[:, 2] = 0.0  # the label column
      dataset = tf.data.Dataset.from_tensor_slices(x).batch(8)
      batch = next(iter(strategy.experimental_distribute_dataset(dataset)))
      out = strategy.run(tf.function(lambda f: model(f)), args=(batch,))
      got = np.concatenate([t.numpy() for t in strategy.experimental_local_results(out)])
      assert strategy.num_replicas_in_sync == 2
      np.testing.assert_allclose(got, model(x).numpy(), rtol=1e-6, atol=1e-6)
      print("OK")
  """)
  env = dict(os.environ, TF_USE_LEGACY_KERAS="1", TF_CPP_MIN_LOG_LEVEL="2")
  result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120, env=env, check=False)
  assert result.returncode == 0 and "OK" in result.stdout, result.stderr[-3000:]
