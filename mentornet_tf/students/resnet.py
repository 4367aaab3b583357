"""The original "resnet101" StudentNet: a CIFAR wide pre-activation ResNet (WRN-28-10 style).

A faithful tf_keras rebuild of `code/resnet_model.py` of google/mentornet as configured by every
script of the original (its `HParams`: num_residual_units=9, no bottleneck, relu_leakiness=0.1,
weight decay 2e-4). Despite the name it has 1 + 3*9*2 + 1 = 56
weighted layers and about 84.6M parameters (10 classes).

Kept quirks of the original, on purpose:
- The first unit of stage 1 (`activate_before_residual=True`) applies leaky ReLU THEN batch norm
  (upstream tensorflow/models does BN then ReLU), and its shortcut starts from that result.
- Shortcuts between widths are parameter-free: average pooling (window = stride, VALID) and zero
  channel padding ("option A"); no projection convolution.
- Convolutions have no bias; the weight decay covers the conv kernels and the logit kernel only.

Batch normalization: tf_keras `BatchNormalization(momentum=0.9, epsilon=1e-3)`, the equivalent of
the original's hand-written BN except for the zero-debiasing of its moving mean, which only matters
in the first few steps. Under a multi-replica strategy, Keras BN normalises with per-replica batch
statistics; `sync_batch_norm=True` all-reduces them, which reproduces the single-device result
(measured under MirroredStrategy). The original trained on one device, so True is the faithful
choice when a run is split over replicas; False is faster.
"""
import itertools
from typing import Optional, Sequence, Tuple

import tensorflow as tf
import tf_keras as keras

WEIGHT_DECAY = 2e-4            # `weight_decay_rate` in every original script
NUM_RESIDUAL_UNITS = 9         # per stage
FILTERS = (16, 160, 320, 640)  # init conv width, then the width of each of the 3 stages
STRIDES = (1, 2, 2)            # stride of the first unit of each stage
ACTIVATE_BEFORE_RESIDUAL = (True, False, False)  # first unit of each stage
RELU_LEAKINESS = 0.1
BN_MOMENTUM = 0.9              # the original's moving-average decay
BN_EPSILON = 1e-3


class ZeroPadChannels(keras.layers.Layer):
  """Pads the channel axis with zeros: [B, H, W, C] -> [B, H, W, C + 2 * pad].

  The parameter-free half of the original's shortcut (`tf.pad` by (out - in) // 2 on both sides).
  """

  def __init__(self, pad: int, **kwargs):
    super().__init__(**kwargs)
    if pad < 0:
      raise ValueError(f"ZeroPadChannels: pad must be >= 0, got {pad}")
    self.pad = int(pad)

  def call(self, inputs):
    return tf.pad(inputs, [[0, 0], [0, 0], [0, 0], [self.pad, self.pad]])

  def compute_output_shape(self, input_shape):
    shape = tf.TensorShape(input_shape).as_list()
    if shape[-1] is not None:
      shape[-1] += 2 * self.pad
    return tf.TensorShape(shape)

  def get_config(self):
    return {**super().get_config(), "pad": self.pad}


class _Layers:
  """Factories for the original's building blocks, with per-layer initializer seeds.

  A seeded Keras initializer returns the same values on every call, so each layer gets its own
  seed (seed * 1000 + k) to keep same-shaped kernels different while the model stays reproducible.
  """

  def __init__(self, sync_batch_norm: bool, seed: Optional[int]):
    self._sync = bool(sync_batch_norm)
    self._seeds = itertools.count(seed * 1000) if seed is not None else itertools.repeat(None)

  def conv(self, x, filters: int, stride: int, name: str):
    # Original `_conv`: 3x3, SAME, no bias, kernel ~ normal(0, sqrt(2 / (k * k * out))), which is
    # He-normal over fan_out (not truncated).
    initializer = keras.initializers.VarianceScaling(
        scale=2.0, mode="fan_out", distribution="untruncated_normal", seed=next(self._seeds))
    return keras.layers.Conv2D(filters, 3, strides=stride, padding="same", use_bias=False,
                               kernel_initializer=initializer, name=name)(x)

  def batch_norm(self, x, name: str):
    return keras.layers.BatchNormalization(momentum=BN_MOMENTUM, epsilon=BN_EPSILON,
                                           synchronized=self._sync, name=name)(x)

  @staticmethod
  def relu(x, name: str):
    # where(x < 0, 0.1 x, x), as the original `_relu`.
    return keras.layers.LeakyReLU(alpha=RELU_LEAKINESS, name=name)(x)

  def logits(self, x, num_classes: int):
    # `tf.uniform_unit_scaling_initializer(factor=1.0)`: U(-sqrt(3 / fan_in), +sqrt(3 / fan_in)).
    initializer = keras.initializers.VarianceScaling(
        scale=1.0, mode="fan_in", distribution="uniform", seed=next(self._seeds))
    return keras.layers.Dense(num_classes, kernel_initializer=initializer,
                              bias_initializer="zeros", name="logit")(x)


def _residual_unit(layers: _Layers, x, in_filters: int, out_filters: int, stride: int,
                   activate_before_residual: bool, name: str):
  """One pre-activation basic unit (the original `_residual`).

  Args:
    layers: the block factory.
    x: [B, H, W, in_filters] input.
    in_filters, out_filters: widths before and after the unit.
    stride: spatial stride of the first convolution (and of the shortcut pooling).
    activate_before_residual: True only for the first unit of stage 1: leaky ReLU then BN, and the
      shortcut starts from that activation.
    name: prefix of the unit's layer names, e.g. 'unit_1_0'.

  Returns:
    [B, ceil(H / stride), ceil(W / stride), out_filters].
  """
  if activate_before_residual:
    # Reversed order relative to upstream TF resnet_model (`code/resnet_model.py`): ReLU first,
    # then BN.
    x = layers.relu(x, f"{name}_shared_activation_relu")
    x = layers.batch_norm(x, f"{name}_shared_activation_init_bn")
    shortcut = x
  else:
    shortcut = x
    x = layers.batch_norm(x, f"{name}_residual_only_activation_init_bn")
    x = layers.relu(x, f"{name}_residual_only_activation_relu")

  x = layers.conv(x, out_filters, stride, f"{name}_sub1_conv1")
  x = layers.batch_norm(x, f"{name}_sub2_bn2")
  x = layers.relu(x, f"{name}_sub2_relu")
  x = layers.conv(x, out_filters, 1, f"{name}_sub2_conv2")

  if in_filters != out_filters:
    if stride > 1:  # a 1x1 average pool (stage 1) is the identity: skip the op.
      shortcut = keras.layers.AveragePooling2D(pool_size=stride, strides=stride, padding="valid",
                                               name=f"{name}_sub_add_pool")(shortcut)
    pad = (out_filters - in_filters) // 2
    shortcut = ZeroPadChannels(pad, name=f"{name}_sub_add_pad")(shortcut)
  return keras.layers.Add(name=f"{name}_sub_add")([x, shortcut])


def build_resnet(num_classes: int, input_shape: Sequence[int], sync_batch_norm: bool = False,
                 seed: Optional[int] = None, num_residual_units: int = NUM_RESIDUAL_UNITS,
                 filters: Tuple[int, int, int, int] = FILTERS,
                 name: str = "resnet101", dropout_keep_prob: float = 1.0) -> keras.Model:
  """Builds the original "resnet101" StudentNet (or a smaller variant of the same design).

  Args:
    num_classes: number of logits.
    input_shape: (H, W, C) of one standardized image, e.g. (32, 32, 3).
    sync_batch_norm: synchronise BN batch statistics across replicas (see the module docstring).
    seed: initializer seed; None = nondeterministic initialization.
    num_residual_units: units per stage (the original: 9). Smaller values serve tests.
    filters: init conv width and the 3 stage widths (the original: 16, 160, 320, 640). The channel
      padding of a shortcut needs every width increase to be even.
    name: the Keras model name.
    dropout_keep_prob: keep probability of a dropout before the logits (the paper's resnet-101
      FullModel: 1.0, i.e. none; the Forgetting baseline tunes it). At 1.0 no layer is added, so
      the network is the original's.

  Returns:
    A built tf_keras functional Model: [B, H, W, C] float32 -> [B, num_classes] logits.

  Raises:
    ValueError: when num_residual_units < 1 or a width increase is odd.
  """
  if num_residual_units < 1:
    raise ValueError(f"num_residual_units must be >= 1, got {num_residual_units}")
  if len(filters) != 4 or any((b - a) % 2 for a, b in zip(filters, filters[1:])):
    raise ValueError(f"filters must be 4 widths whose increases are even, got {filters}")
  layers = _Layers(sync_batch_norm, seed)
  images = keras.Input(shape=tuple(input_shape), name="image")
  x = layers.conv(images, filters[0], 1, "init_conv")
  for stage in range(3):
    for unit in range(num_residual_units):
      first = unit == 0
      x = _residual_unit(
          layers, x,
          in_filters=filters[stage] if first else filters[stage + 1],
          out_filters=filters[stage + 1],
          stride=STRIDES[stage] if first else 1,
          activate_before_residual=first and ACTIVATE_BEFORE_RESIDUAL[stage],
          name=f"unit_{stage + 1}_{unit}")
  x = layers.batch_norm(x, "unit_last_final_bn")
  x = layers.relu(x, "unit_last_relu")
  x = keras.layers.GlobalAveragePooling2D(name="unit_last_global_avg_pool")(x)
  if dropout_keep_prob < 1.0:  # its own seed: the initializers' seed stream is not consumed
    x = keras.layers.Dropout(1.0 - dropout_keep_prob, seed=None if seed is None else seed + 7919,
                             name="dropout")(x)
  logits = layers.logits(x, num_classes)
  return keras.Model(images, logits, name=name)
