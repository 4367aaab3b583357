"""Tests of mentornet_tf.students: architectures of the original (§6, §10.14-15), specs, decay."""
import numpy as np
import pytest

from mentornet_tf import names
from mentornet_tf import students
from mentornet_tf.students import cifarnet
from mentornet_tf.students import resnet

import tensorflow as tf  # noqa: E402  (after mentornet_tf: tf_keras everywhere)
import tf_keras as keras  # noqa: E402

CIFAR = (32, 32, 3)


@pytest.fixture(scope="module")
def resnet101():
  """The full original ResNet (84.6M parameters), built once for the module (~3 s)."""
  return students.build_student("resnet101", 10, CIFAR, seed=0)


def _small_resnet(**kwargs):
  """Same design, 1 unit per stage and narrow widths: fast for graph and numeric checks."""
  return resnet.build_resnet(10, (8, 8, 3), num_residual_units=1, filters=(4, 8, 12, 16),
                             seed=0, **kwargs)


def _inbound(model, layer_name):
  """Names of the layers feeding `layer_name` in a functional model."""
  node = model.get_layer(layer_name).inbound_nodes[0]
  layers = node.inbound_layers if isinstance(node.inbound_layers, list) else [node.inbound_layers]
  return [layer.name for layer in layers]


def _expected_resnet_trainable_params(num_classes):
  """The original graph's trainable parameters counted from its definition (§6.1)."""
  widths, units, total = resnet.FILTERS, resnet.NUM_RESIDUAL_UNITS, 3 * 3 * 3 * 16
  for stage in range(3):
    w_in, w_out = widths[stage], widths[stage + 1]
    # unit 0: BN(in), conv in->out, BN(out), conv out->out; units 1..8: all out->out.
    total += 2 * w_in + 9 * w_in * w_out + 2 * w_out + 9 * w_out * w_out
    total += (units - 1) * (2 * 2 * w_out + 2 * 9 * w_out * w_out)
  return total + 2 * 640 + 640 * num_classes + num_classes


def test_registry_names_specs_and_config_agree():
  assert set(students.STUDENTS) == {"resnet101", "inception", "mlp", "small_cnn", "tiny_cnn",
                                    "inception_resnet_v2", "resnet50"}
  assert tuple(students.STUDENTS) == names.STUDENTS  # the --studentnet choices
  assert students.STUDENTS["resnet101"].weight_decay == 2e-4
  assert students.STUDENTS["inception"].weight_decay == 0.0  # never added in the original
  assert students.STUDENTS["mlp"].weight_decay == 0.0
  augmentation = {name: spec.augmentation for name, spec in students.STUDENTS.items()}
  assert augmentation == {"resnet101": "resnet", "inception": "cifarnet", "mlp": "none",
                          "small_cnn": "none", "tiny_cnn": "standardize",
                          "inception_resnet_v2": "inception_imagenet",
                          "resnet50": "resnet_imagenet"}
  with pytest.raises(Exception):  # frozen dataclass
    students.STUDENTS["mlp"].weight_decay = 1.0


def test_unknown_name_and_bad_arguments_raise_clear_errors():
  with pytest.raises(ValueError) as error:
    students.build_student("vgg16", 10, CIFAR)
  message = str(error.value)
  assert "--studentnet" in message and "vgg16" in message
  assert all(name in message for name in students.STUDENTS)
  with pytest.raises(ValueError, match="num_classes"):
    students.build_student("mlp", 0, CIFAR)
  with pytest.raises(ValueError, match="input_shape"):
    students.build_student("mlp", 10, (32, 32))
  with pytest.raises(ValueError, match="input_shape"):
    students.build_student("mlp", 10, (32, 32.0, 3))
  model = students.build_student("mlp", np.int64(4), np.array([8, 8, 1]))  # dataset metadata
  assert model.output_shape == (None, 4)


@pytest.mark.parametrize("name,shape", [("inception", CIFAR), ("mlp", (28, 28, 1)),
                                        ("small_cnn", (28, 28, 1)), ("small_cnn", CIFAR),
                                        ("tiny_cnn", CIFAR)])
def test_output_is_logits_of_shape_batch_by_classes(name, shape):
  model = students.build_student(name, 7, shape, seed=1)
  images = np.random.default_rng(0).normal(size=(3,) + shape).astype(np.float32)
  logits = model(images, training=False).numpy()
  assert logits.shape == (3, 7)
  assert not np.allclose(logits.sum(axis=1), 1.0)  # raw logits, no softmax
  assert np.all(np.isfinite(logits))


def test_resnet101_size_depth_and_output(resnet101):
  trainable = sum(int(np.prod(v.shape)) for v in resnet101.trainable_variables)
  assert trainable == _expected_resnet_trainable_params(10) == 84_627_034  # "about 84.6M"
  kernels = students.decayed_kernels(resnet101)
  convs = [l for l in resnet101.layers if isinstance(l, keras.layers.Conv2D)]
  assert len(kernels) == 56 and len(convs) == 55  # 1 + 3*9*2 convs + the logit layer
  assert all(not conv.use_bias for conv in convs)
  logits = resnet101(np.zeros((2,) + CIFAR, np.float32), training=False)
  assert logits.shape == (2, 10)


def test_resnet101_layer_settings_and_initialization(resnet101):
  bns = [l for l in resnet101.layers if isinstance(l, keras.layers.BatchNormalization)]
  assert len(bns) == 3 * 9 * 2 + 1
  assert all(bn.momentum == 0.9 and bn.epsilon == 1e-3 and not bn.synchronized for bn in bns)
  relus = [l for l in resnet101.layers if isinstance(l, keras.layers.LeakyReLU)]
  assert len(relus) == len(bns) and all(np.isclose(r.alpha, 0.1) for r in relus)
  # He-normal over fan_out: std sqrt(2 / (3 * 3 * 640)), untruncated (tails beyond 2 std exist).
  kernel = resnet101.get_layer("unit_3_1_sub2_conv2").kernel.numpy()
  std = np.sqrt(2.0 / (9 * 640))
  assert abs(kernel.mean()) < 1e-4 and kernel.std() == pytest.approx(std, rel=0.01)
  assert np.abs(kernel).max() > 3 * std
  # uniform unit scaling (factor 1): U(-sqrt(3 / 640), sqrt(3 / 640)); zero bias.
  logit = resnet101.get_layer("logit")
  limit = np.sqrt(3.0 / 640)
  assert np.abs(logit.kernel.numpy()).max() <= limit
  assert logit.kernel.numpy().std() == pytest.approx(limit / np.sqrt(3), rel=0.1)
  assert np.all(logit.bias.numpy() == 0)


def test_first_unit_applies_relu_then_bn_and_others_bn_then_relu(resnet101):
  # Stage 1, unit 0 (activate_before_residual=True): init_conv -> ReLU -> BN; shortcut from BN.
  assert _inbound(resnet101, "unit_1_0_shared_activation_relu") == ["init_conv"]
  assert _inbound(resnet101, "unit_1_0_shared_activation_init_bn") == [
      "unit_1_0_shared_activation_relu"]
  assert _inbound(resnet101, "unit_1_0_sub1_conv1") == ["unit_1_0_shared_activation_init_bn"]
  assert _inbound(resnet101, "unit_1_0_sub_add_pad") == ["unit_1_0_shared_activation_init_bn"]
  # Every other unit, first-of-stage included: BN -> ReLU, shortcut from the unit's input.
  for unit, previous in [("unit_2_0", "unit_1_8_sub_add"), ("unit_3_0", "unit_2_8_sub_add"),
                         ("unit_1_1", "unit_1_0_sub_add")]:
    assert _inbound(resnet101, f"{unit}_residual_only_activation_init_bn") == [previous]
    assert _inbound(resnet101, f"{unit}_residual_only_activation_relu") == [
        f"{unit}_residual_only_activation_init_bn"]
  assert _inbound(resnet101, "unit_2_0_sub_add_pool") == ["unit_1_8_sub_add"]
  assert _inbound(resnet101, "unit_1_1_sub_add") == ["unit_1_1_sub2_conv2", "unit_1_0_sub_add"]
  assert _inbound(resnet101, "unit_last_final_bn") == ["unit_3_8_sub_add"]


def test_first_unit_order_numerically():
  model = _small_resnet()
  images = np.random.default_rng(1).normal(size=(4, 8, 8, 3)).astype(np.float32)
  probe = keras.Model(model.input, [model.get_layer("init_conv").output,
                                    model.get_layer("unit_1_0_shared_activation_init_bn").output])
  conv_out, bn_out = [t.numpy() for t in probe(images, training=True)]
  activated = np.where(conv_out < 0, 0.1 * conv_out, conv_out)  # leaky ReLU first ...
  mean, var = activated.mean(axis=(0, 1, 2)), activated.var(axis=(0, 1, 2))
  np.testing.assert_allclose(bn_out, (activated - mean) / np.sqrt(var + 1e-3), atol=1e-4)  # ... BN


def test_shortcut_is_parameter_free_avg_pool_and_zero_channel_padding():
  model = _small_resnet()
  for layer in model.layers:
    if "sub_add_p" in layer.name:
      assert not layer.weights, layer.name
  assert sum(isinstance(l, keras.layers.Conv2D) for l in model.layers) == 1 + 3 * 2
  pool = model.get_layer("unit_2_0_sub_add_pool")
  assert pool.pool_size == (2, 2) and pool.strides == (2, 2) and pool.padding == "valid"
  with pytest.raises(ValueError):
    model.get_layer("unit_1_0_sub_add_pool")  # stride 1: the 1x1 pool is the identity, skipped
  # Stage 2 entry: x [B, 8, 8, 8] -> avg pool 2x2 -> pad channels by (12 - 8) // 2 = 2 each side.
  probe = keras.Model(model.input, [model.get_layer("unit_1_0_sub_add").output,
                                    model.get_layer("unit_2_0_sub_add_pad").output])
  images = np.random.default_rng(2).normal(size=(2, 8, 8, 3)).astype(np.float32)
  unit_input, shortcut = [t.numpy() for t in probe(images, training=False)]
  pooled = unit_input.reshape(2, 4, 2, 4, 2, 8).mean(axis=(2, 4))
  np.testing.assert_allclose(shortcut[..., 2:10], pooled, atol=1e-5)
  assert np.all(shortcut[..., :2] == 0) and np.all(shortcut[..., 10:] == 0)


def test_sync_batch_norm_flag_reaches_every_batch_norm_layer():
  for model in (_small_resnet(sync_batch_norm=True),
                students.build_student("tiny_cnn", 10, CIFAR, sync_batch_norm=True)):
    bns = [l for l in model.layers if isinstance(l, keras.layers.BatchNormalization)]
    assert bns and all(bn.synchronized for bn in bns)


def test_cifarnet_size_layers_and_initialization():
  model = students.build_student("inception", 10, CIFAR, seed=0)
  assert model.count_params() == 1_756_426  # (5*5*3+1)*64 + (5*5*64+1)*64 + 4097*384 + ...
  names = [l.name for l in model.layers[1:]]
  assert names == ["conv1", "pool1", "norm1", "conv2", "norm2", "pool2", "flatten", "fc3",
                   "dropout3", "fc4", "logits"]
  assert model.get_layer("flatten").output.shape[-1] == 8 * 8 * 64
  assert model.get_layer("dropout3").rate == pytest.approx(0.2)  # keep 0.8
  assert model.get_layer("pool1").padding == "valid" and model.get_layer("conv1").padding == "same"
  norm = model.get_layer("norm1")
  assert (norm.depth_radius, norm.bias, norm.beta) == (4, 1.0, 0.75)
  assert norm.alpha == pytest.approx(0.001 / 9)
  conv1 = model.get_layer("conv1").kernel.numpy()
  assert np.abs(conv1).max() <= 2 * 5e-2  # truncated at 2 std
  assert np.all(model.get_layer("conv1").bias.numpy() == 0)
  assert np.all(model.get_layer("fc3").bias.numpy() == pytest.approx(0.1))
  assert np.abs(model.get_layer("logits").kernel.numpy()).max() <= 2 / 192.0
  assert model.get_layer("fc3").kernel.numpy().std() == pytest.approx(0.04 * 0.88, rel=0.05)


def test_cifarnet_dropout_only_in_training():
  model = students.build_student("inception", 10, CIFAR, seed=0)
  images = np.random.default_rng(3).normal(size=(4,) + CIFAR).astype(np.float32)
  np.testing.assert_array_equal(model(images, training=False), model(images, training=False))
  assert not np.allclose(model(images, training=True), model(images, training=False))


def test_local_response_normalization_matches_formula():
  x = np.random.default_rng(4).normal(size=(1, 2, 2, 12)).astype(np.float32)
  out = cifarnet.LocalResponseNormalization()(x).numpy()
  expected = np.empty_like(x)
  for c in range(12):
    window = x[..., max(0, c - 4):c + 5]
    expected[..., c] = x[..., c] / (1.0 + 0.001 / 9 * (window ** 2).sum(-1)) ** 0.75
  np.testing.assert_allclose(out, expected, rtol=1e-5)


@pytest.mark.parametrize("name", ["tiny_cnn", "inception", "mlp", "small_cnn"])
def test_weight_decay_loss_is_half_squared_norm_of_conv_and_dense_kernels(name):
  model = students.build_student(name, 10, CIFAR, seed=2)
  kernels = students.decayed_kernels(model)
  expected_layers = [l for l in model.layers
                     if isinstance(l, (keras.layers.Conv2D, keras.layers.Dense))]
  assert [k.ref() for k in kernels] == [l.kernel.ref() for l in expected_layers]
  assert all(k.name.endswith("kernel:0") for k in kernels)  # no bias, gamma, beta
  expected = sum(0.5 * np.sum(l.kernel.numpy().astype(np.float64) ** 2) for l in expected_layers)
  assert float(students.weight_decay_loss(model)) == pytest.approx(expected, rel=1e-5)


def test_weight_decay_loss_resnet_excludes_batch_norm_and_bias():
  model = _small_resnet()
  selected = {k.ref() for k in students.decayed_kernels(model)}
  excluded = [v for v in model.trainable_variables if v.ref() not in selected]
  assert excluded and all(v.name.split("/")[-1].split(":")[0] in ("gamma", "beta", "bias")
                          for v in excluded)
  expected = sum(0.5 * np.sum(v.numpy().astype(np.float64) ** 2) for v in model.trainable_variables
                 if v.ref() in selected)
  assert float(students.weight_decay_loss(model)) == pytest.approx(expected, rel=1e-5)


def test_decayed_kernels_search_nested_models_and_reject_unknown_kernels():
  inner = keras.Sequential([keras.layers.Dense(3, name="inner_dense")], name="inner")
  inputs = keras.Input((4,))
  nested = keras.Model(inputs, keras.layers.Dense(2, name="outer")(inner(inputs)))
  assert sorted(k.name for k in students.decayed_kernels(nested)) == [
      "inner_dense/kernel:0", "outer/kernel:0"]
  images = keras.Input((8, 8, 3))
  depthwise = keras.Model(images, keras.layers.DepthwiseConv2D(3)(images))
  with pytest.raises(ValueError, match="depthwise_kernel"):
    students.weight_decay_loss(depthwise)
  no_kernels = keras.Sequential([keras.Input((3,)), keras.layers.ReLU()])
  assert float(students.weight_decay_loss(no_kernels)) == 0.0


def test_seed_makes_initialization_reproducible_and_layers_distinct():
  first = students.build_student("tiny_cnn", 10, CIFAR, seed=5)
  second = students.build_student("tiny_cnn", 10, CIFAR, seed=5)
  other = students.build_student("tiny_cnn", 10, CIFAR, seed=6)
  for a, b in zip(first.weights, second.weights):
    np.testing.assert_array_equal(a.numpy(), b.numpy())
  assert not np.allclose(first.get_layer("conv1").kernel, other.get_layer("conv1").kernel)
  model = resnet.build_resnet(10, (8, 8, 3), num_residual_units=2, filters=(4, 8, 12, 16), seed=0)
  same_shape = [model.get_layer(f"unit_1_1_sub{i}").kernel.numpy()
                for i in ("1_conv1", "2_conv2")]  # both 3x3x8x8: must still differ
  assert same_shape[0].shape == same_shape[1].shape
  assert not np.allclose(same_shape[0], same_shape[1])


def test_tiny_cnn_batch_norm_differs_between_training_and_inference_and_trains():
  model = students.build_student("tiny_cnn", 3, CIFAR, seed=0)
  images = np.random.default_rng(5).normal(2.0, 3.0, size=(8,) + CIFAR).astype(np.float32)
  labels = np.arange(8) % 3
  assert not np.allclose(model(images, training=True), model(images, training=False))
  optimizer = keras.optimizers.SGD(0.1)
  losses = []
  for _ in range(10):
    with tf.GradientTape() as tape:
      loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(
          labels, model(images, training=True)))
      total = loss + 2e-4 * students.weight_decay_loss(model)
    optimizer.apply_gradients(zip(tape.gradient(total, model.trainable_variables),
                                  model.trainable_variables))
    losses.append(float(loss))
  assert losses[-1] < losses[0]
