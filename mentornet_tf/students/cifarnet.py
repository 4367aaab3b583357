"""The original "inception" StudentNet, which is in fact slim's CifarNet (~1.756M parameters).

A tf_keras rebuild of `code/inception_model.py` of google/mentornet, called with
`cifarnet_arg_scope(weight_decay=0.004)`, `is_training=True` and `dropout_keep_prob=0.8`
(slim's `cifarnet`; the layers are listed in `build_cifarnet`).

Weight decay: the arg_scope attaches `l2_regularizer(0.004)` to fc3 and fc4, but neither original
training script adds the regularisation losses to the optimised loss, so the effective weight decay
is 0 and `WEIGHT_DECAY` is 0. A user can opt into decay with the `weight_decay` config field;
note that `weight_decay_loss` then covers every conv and dense kernel (as in the ResNet), not only
fc3 and fc4 as the arg_scope would.
"""
import itertools
from typing import Optional, Sequence

import tensorflow as tf
import tf_keras as keras

WEIGHT_DECAY = 0.0             # effective value in the original (the regularisers were never used)
ARG_SCOPE_WEIGHT_DECAY = 0.004  # the arg_scope value, for users who want to opt in
DROPOUT_KEEP_PROB = 0.8        # as passed by the original training scripts (slim default: 0.5)


class LocalResponseNormalization(keras.layers.Layer):
  """`tf.nn.local_response_normalization` over channels as a Keras layer (Keras has none).

  out = x / (bias + alpha * sum_{|d| <= depth_radius} x_d^2) ** beta, per pixel; shape-preserving
  [B, H, W, C] -> [B, H, W, C]. The defaults are CifarNet's `tf.nn.lrn(net, 4, bias=1.0,
  alpha=0.001/9.0, beta=0.75)`.
  """

  def __init__(self, depth_radius: int = 4, bias: float = 1.0, alpha: float = 0.001 / 9.0,
               beta: float = 0.75, **kwargs):
    super().__init__(**kwargs)
    self.depth_radius = int(depth_radius)
    self.bias = float(bias)
    self.alpha = float(alpha)
    self.beta = float(beta)

  def call(self, inputs):
    return tf.nn.local_response_normalization(inputs, depth_radius=self.depth_radius,
                                              bias=self.bias, alpha=self.alpha, beta=self.beta)

  def compute_output_shape(self, input_shape):
    return tf.TensorShape(input_shape)

  def get_config(self):
    return {**super().get_config(), "depth_radius": self.depth_radius, "bias": self.bias,
            "alpha": self.alpha, "beta": self.beta}


def build_cifarnet(num_classes: int, input_shape: Sequence[int], sync_batch_norm: bool = False,
                   seed: Optional[int] = None, name: str = "inception",
                   dropout_keep_prob: float = DROPOUT_KEEP_PROB) -> keras.Model:
  """Builds CifarNet as the original "inception" StudentNet.

  Layers (slim defaults: conv SAME, max pool VALID): conv1 5x5x64 ReLU -> pool1 2x2/2 -> LRN ->
  conv2 5x5x64 ReLU -> LRN -> pool2 2x2/2 -> flatten (8*8*64 = 4096 on CIFAR) -> fc3 384 ReLU ->
  dropout (keep 0.8, training only) -> fc4 192 ReLU -> logits.

  Args:
    num_classes: number of logits.
    input_shape: (H, W, C) of one standardized image, e.g. (32, 32, 3).
    sync_batch_norm: ignored (CifarNet has no batch norm); accepted for a uniform builder API.
    seed: initializer and dropout seed; None = nondeterministic.
    name: the Keras model name.
    dropout_keep_prob: keep probability of dropout3 (the original's 0.8; --dropout_keep_prob).

  Returns:
    A built tf_keras functional Model: [B, H, W, C] float32 -> [B, num_classes] logits.
  """
  del sync_batch_norm  # no batch norm in CifarNet
  # A seeded Keras initializer repeats its values on every call: give each layer its own seed.
  seeds = itertools.count(seed * 1000) if seed is not None else itertools.repeat(None)

  def trunc_normal(stddev):
    return keras.initializers.TruncatedNormal(stddev=stddev, seed=next(seeds))

  def conv(x, layer_name):
    return keras.layers.Conv2D(64, 5, padding="same", activation="relu",
                               kernel_initializer=trunc_normal(5e-2), bias_initializer="zeros",
                               name=layer_name)(x)

  def fully_connected(x, units, layer_name):
    return keras.layers.Dense(units, activation="relu", kernel_initializer=trunc_normal(0.04),
                              bias_initializer=keras.initializers.Constant(0.1),
                              name=layer_name)(x)

  images = keras.Input(shape=tuple(input_shape), name="image")
  x = conv(images, "conv1")
  x = keras.layers.MaxPooling2D(2, 2, padding="valid", name="pool1")(x)
  x = LocalResponseNormalization(name="norm1")(x)
  x = conv(x, "conv2")
  x = LocalResponseNormalization(name="norm2")(x)  # LRN before the pool here, as the original
  x = keras.layers.MaxPooling2D(2, 2, padding="valid", name="pool2")(x)
  x = keras.layers.Flatten(name="flatten")(x)
  x = fully_connected(x, 384, "fc3")
  x = keras.layers.Dropout(1.0 - dropout_keep_prob, seed=next(seeds), name="dropout3")(x)
  x = fully_connected(x, 192, "fc4")
  logits = keras.layers.Dense(num_classes, kernel_initializer=trunc_normal(1 / 192.0),
                              bias_initializer="zeros", name="logits")(x)
  return keras.Model(images, logits, name=name)
