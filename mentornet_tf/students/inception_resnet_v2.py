"""Inception-ResNet-v2, the paper's ImageNet / WebVision StudentNet (App. E.1), slim settings.

The paper trained slim's `inception_resnet_v2` (TF-slim, research/slim/nets) at 299 x 299 with:
dropout keep probability 0.8 before the logits (0.2 for the Forgetting baseline), L2 weight decay
4e-5, batch norm decay 0.9997 and epsilon 0.001, and slim's auxiliary head. This module writes the
network with tf_keras layers in the layer structure of `tf_keras.applications.InceptionResNetV2`
(which is slim's structure: stem, Mixed_5b, 10 x block35 (scale 0.17), Mixed_6a, 20 x block17
(scale 0.1), Mixed_7a, 9 x block8 (scale 0.2) + 1 block8 (scale 1, no activation), conv 1536,
global average pool), so that the main path has exactly the application's parameters
(55,875,273 at 1001 classes, 299 x 299), and adds what the application lacks:

- Batch norm: momentum 0.9997, epsilon 0.001, no scale (gamma), as slim's arg scope; every conv
  except the blocks' residual "up" convs is conv (no bias) -> BN -> ReLU.
- Dropout before the logits: `dropout_keep_prob` (rate = 1 - keep), training only.
- The auxiliary head on the 17 x 17 x 1088 output of the block17 stack (slim's 'PreAuxLogits'):
  5 x 5 average pool stride 3 VALID -> 1 x 1 conv 128 (BN, ReLU) -> conv 768 with a kernel the
  size of its input (5 x 5 at 299; VALID; BN, ReLU) -> flatten -> dense to num_classes. It adds
  1088*128 + 3*128 + 5*5*128*768 + 3*768 + 768*K + K parameters (3,369,321 at K = 1001). Below
  299 the grid can be smaller than 5 (3 x 3 at the minimum input, 75 x 75): the pool window is
  then min(5, grid) and the conv kernel is whatever is left, as slim's kernel = input size.

Weight decay: `WEIGHT_DECAY = 4e-5` is the registry coefficient of `students.weight_decay_loss`
(sum over conv/dense kernels of ||W||^2 / 2), so `4e-5 * weight_decay_loss` equals slim's
`l2_regularizer(4e-5)` (= 4e-5 * tf.nn.l2_loss(W)) summed over the kernels. Two differences from
slim, both small: slim also decays the biases (of the residual up convs and of the two logit
layers; weight_decay_loss never decays biases), and SpadeModel scales the decay by sum(v) / B as
the original MentorNet code does.

The model and the auxiliary logits. `InceptionResNetV2` is a tf_keras Model whose call returns
the main logits [B, K] (what SpadeModel and the evaluation use); the auxiliary head runs only when
asked: `model(images, training=True, return_aux=True)` returns `(logits, aux_logits)`, both
[B, K]. `model.aux_weight` (slim's 0.4; 0 = no auxiliary loss) and `model.has_aux_logits` say
what the training step adds. `SpadeModel.train_step` (spade.py) does, when the student has the
head and the weight (--aux_weight, default this `aux_weight`) is > 0:

    logits, aux_logits = self.student(images, training=True, return_aux=True)
    aux_loss = sparse_categorical_crossentropy(labels, aux_logits, from_logits=True)  # [B]
    per_example_total = training_loss + aux_weight * aux_loss
    # v is computed from the MAIN loss only (what MentorNet was trained on); the weighted loss is
    # compute_average_loss(per_example_total * v, global_batch_size) (tests/test_aux_loss.py).

Decision: v weights the auxiliary loss too (the same v per example): v says how much an example
(its label) is trusted, and the auxiliary head is trained on the same label, so a down-weighted
noisy example must not keep its full gradient through the auxiliary branch. MentorNet's input
stays the main head's loss. Slim's `train_image_classifier.py` adds `softmax_cross_entropy(
AuxLogits, weights=0.4)` to the main loss; this is that loss, times v.

Inputs are images in [-1, 1] (slim's Inception preprocessing: data/preprocess_imagenet.py),
299 x 299 x 3 in the paper; any size >= 75 x 75 builds.
"""
import itertools
from typing import Optional, Sequence

import tensorflow as tf
import tf_keras as keras

WEIGHT_DECAY = 4e-5             # App. E.1 / slim arg scope, as the coefficient of ||W||^2 / 2
DROPOUT_KEEP_PROB = 0.8         # App. E.1 default; the Forgetting baseline uses 0.2
AUX_WEIGHT = 0.4                # slim train_image_classifier.py: AuxLogits loss weight
BN_MOMENTUM = 0.9997            # slim batch_norm_decay
BN_EPSILON = 1e-3
IMAGE_SIZE = 299                # slim inception_resnet_v2.default_image_size
MIN_IMAGE_SIZE = 75
BLOCK_SCALES = {"block35": 0.17, "block17": 0.1, "block8": 0.2}
APPLICATION_PARAMS_1001 = 55_875_273  # tf_keras.applications.InceptionResNetV2(classes=1001)


def aux_head_params(num_classes: int, grid: int = 5) -> int:
  """Parameters of the auxiliary head (BN counts beta, moving mean and variance, no gamma).

  Args:
    num_classes: K.
    grid: spatial size of the pooled map the 768-conv covers (5 at 299 x 299).
  """
  return (1088 * 128 + 3 * 128) + (grid * grid * 128 * 768 + 3 * 768) + (768 * num_classes
                                                                          + num_classes)


class ScaledResidual(keras.layers.Layer):
  """x + scale * residual: the Inception-ResNet shortcut. [[B,H,W,C], [B,H,W,C]] -> [B,H,W,C]."""

  def __init__(self, scale: float, **kwargs):
    super().__init__(**kwargs)
    self.scale = float(scale)

  def call(self, inputs):
    shortcut, residual = inputs
    return shortcut + self.scale * residual

  def compute_output_shape(self, input_shape):
    return tf.TensorShape(input_shape[0])

  def get_config(self):
    return {**super().get_config(), "scale": self.scale}


class _Layers:
  """Layer factories with per-layer initializer seeds (seed * 1000 + k), as students/resnet.py."""

  def __init__(self, sync_batch_norm: bool, seed: Optional[int]):
    self._sync = bool(sync_batch_norm)
    self._seeds = itertools.count(seed * 1000) if seed is not None else itertools.repeat(None)

  def next_seed(self):
    return next(self._seeds)

  def conv_bn(self, x, filters: int, kernel_size, strides: int = 1, padding: str = "same",
              activation: Optional[str] = "relu", use_bias: bool = False,
              name: Optional[str] = None):
    """slim conv2d in the arg scope: conv (glorot uniform, no bias) -> BN -> activation.

    With use_bias=True (the residual up convs, slim's normalizer_fn=None), no BN.
    """
    x = keras.layers.Conv2D(
        filters, kernel_size, strides=strides, padding=padding, use_bias=use_bias,
        kernel_initializer=keras.initializers.GlorotUniform(seed=self.next_seed()),
        name=name)(x)
    if not use_bias:
      x = keras.layers.BatchNormalization(
          momentum=BN_MOMENTUM, epsilon=BN_EPSILON, scale=False, synchronized=self._sync,
          name=None if name is None else f"{name}_bn")(x)
    if activation is not None:
      x = keras.layers.Activation(activation, name=None if name is None else f"{name}_ac")(x)
    return x

  def dense(self, x, units: int, name: str):
    return keras.layers.Dense(
        units, kernel_initializer=keras.initializers.GlorotUniform(seed=self.next_seed()),
        bias_initializer="zeros", name=name)(x)


def _block(layers: _Layers, x, block_type: str, index: int, scale: float,
           activation: Optional[str] = "relu"):
  """One Inception-ResNet block (slim block35 / block17 / block8); shape-preserving."""
  name = f"{block_type}_{index}"
  if block_type == "block35":
    branches = [layers.conv_bn(x, 32, 1),
                layers.conv_bn(layers.conv_bn(x, 32, 1), 32, 3),
                layers.conv_bn(layers.conv_bn(layers.conv_bn(x, 32, 1), 48, 3), 64, 3)]
  elif block_type == "block17":
    branches = [layers.conv_bn(x, 192, 1),
                layers.conv_bn(layers.conv_bn(layers.conv_bn(x, 128, 1), 160, (1, 7)), 192,
                               (7, 1))]
  elif block_type == "block8":
    branches = [layers.conv_bn(x, 192, 1),
                layers.conv_bn(layers.conv_bn(layers.conv_bn(x, 192, 1), 224, (1, 3)), 256,
                               (3, 1))]
  else:
    raise ValueError(f"unknown block type {block_type!r}")
  mixed = keras.layers.Concatenate(name=f"{name}_mixed")(branches)
  up = layers.conv_bn(mixed, x.shape[-1], 1, activation=None, use_bias=True, name=f"{name}_conv")
  x = ScaledResidual(scale, name=f"{name}_scale")([x, up])
  if activation is not None:
    x = keras.layers.Activation(activation, name=f"{name}_ac")(x)
  return x


def _aux_head(layers: _Layers, x, num_classes: int):
  """slim's AuxLogits on the 17 x 17 x 1088 map (see the module docstring)."""
  grid = min(x.shape[1], x.shape[2])
  pool = min(5, grid)
  aux = keras.layers.AveragePooling2D(pool, strides=3, padding="valid", name="aux_pool")(x)
  aux = layers.conv_bn(aux, 128, 1, name="aux_conv_1b_1x1")
  aux = layers.conv_bn(aux, 768, (aux.shape[1], aux.shape[2]), padding="valid",
                       name="aux_conv_2a_5x5")
  aux = keras.layers.Flatten(name="aux_flatten")(aux)
  return layers.dense(aux, num_classes, "aux_logits")


def _build_graph(num_classes: int, input_shape: Sequence[int], dropout_keep_prob: float,
                 create_aux_logits: bool, sync_batch_norm: bool, seed: Optional[int]):
  """Returns (images, logits, aux_logits or None) symbolic tensors."""
  layers = _Layers(sync_batch_norm, seed)
  images = keras.Input(shape=tuple(input_shape), name="image")
  # Stem: 299 -> 35 x 35 x 192.
  x = layers.conv_bn(images, 32, 3, strides=2, padding="valid")
  x = layers.conv_bn(x, 32, 3, padding="valid")
  x = layers.conv_bn(x, 64, 3)
  x = keras.layers.MaxPooling2D(3, strides=2)(x)
  x = layers.conv_bn(x, 80, 1, padding="valid")
  x = layers.conv_bn(x, 192, 3, padding="valid")
  x = keras.layers.MaxPooling2D(3, strides=2)(x)
  # Mixed_5b: 35 x 35 x 320.
  x = keras.layers.Concatenate(name="mixed_5b")([
      layers.conv_bn(x, 96, 1),
      layers.conv_bn(layers.conv_bn(x, 48, 1), 64, 5),
      layers.conv_bn(layers.conv_bn(layers.conv_bn(x, 64, 1), 96, 3), 96, 3),
      layers.conv_bn(keras.layers.AveragePooling2D(3, strides=1, padding="same")(x), 64, 1)])
  for index in range(1, 11):
    x = _block(layers, x, "block35", index, BLOCK_SCALES["block35"])
  # Mixed_6a: 17 x 17 x 1088.
  x = keras.layers.Concatenate(name="mixed_6a")([
      layers.conv_bn(x, 384, 3, strides=2, padding="valid"),
      layers.conv_bn(layers.conv_bn(layers.conv_bn(x, 256, 1), 256, 3), 384, 3, strides=2,
                     padding="valid"),
      keras.layers.MaxPooling2D(3, strides=2, padding="valid")(x)])
  for index in range(1, 21):
    x = _block(layers, x, "block17", index, BLOCK_SCALES["block17"])
  aux_logits = _aux_head(layers, x, num_classes) if create_aux_logits else None
  # Mixed_7a: 8 x 8 x 2080.
  x = keras.layers.Concatenate(name="mixed_7a")([
      layers.conv_bn(layers.conv_bn(x, 256, 1), 384, 3, strides=2, padding="valid"),
      layers.conv_bn(layers.conv_bn(x, 256, 1), 288, 3, strides=2, padding="valid"),
      layers.conv_bn(layers.conv_bn(layers.conv_bn(x, 256, 1), 288, 3), 320, 3, strides=2,
                     padding="valid"),
      keras.layers.MaxPooling2D(3, strides=2, padding="valid")(x)])
  for index in range(1, 10):
    x = _block(layers, x, "block8", index, BLOCK_SCALES["block8"])
  x = _block(layers, x, "block8", 10, 1.0, activation=None)
  x = layers.conv_bn(x, 1536, 1, name="conv_7b")
  x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
  x = keras.layers.Dropout(1.0 - dropout_keep_prob, seed=layers.next_seed(), name="dropout")(x)
  logits = layers.dense(x, num_classes, "logits")
  return images, logits, aux_logits


class InceptionResNetV2(keras.Model):
  """Inception-ResNet-v2 with slim's settings: images [B, H, W, 3] in [-1, 1] -> logits [B, K].

  Attributes:
    has_aux_logits: whether the auxiliary head exists.
    aux_weight: the auxiliary loss weight the training step should use (0 = none).
    dropout_keep_prob: keep probability of the dropout before the logits.
  """

  def __init__(self, num_classes: int, input_shape: Sequence[int] = (IMAGE_SIZE, IMAGE_SIZE, 3),
               dropout_keep_prob: float = DROPOUT_KEEP_PROB, create_aux_logits: bool = True,
               aux_weight: float = AUX_WEIGHT, sync_batch_norm: bool = False,
               seed: Optional[int] = None, name: str = "inception_resnet_v2", **kwargs):
    super().__init__(name=name, **kwargs)
    if not 0.0 < dropout_keep_prob <= 1.0:
      raise ValueError(f"dropout_keep_prob must be in (0, 1], got {dropout_keep_prob!r}")
    if aux_weight < 0:
      raise ValueError(f"aux_weight must be >= 0, got {aux_weight!r}")
    if min(input_shape[0], input_shape[1]) < MIN_IMAGE_SIZE:
      raise ValueError(f"inception_resnet_v2 needs images of at least {MIN_IMAGE_SIZE} x "
                       f"{MIN_IMAGE_SIZE}, got input_shape={tuple(input_shape)}")
    images, logits, aux_logits = _build_graph(num_classes, input_shape, dropout_keep_prob,
                                              create_aux_logits, sync_batch_norm, seed)
    self.dropout_keep_prob = float(dropout_keep_prob)
    self.has_aux_logits = aux_logits is not None
    self.aux_weight = float(aux_weight) if self.has_aux_logits else 0.0
    # Two views of the same layers: inference and the plain training step skip the aux head.
    self.network = keras.Model(images, logits, name="main")
    self.network_with_aux = (keras.Model(images, [logits, aux_logits], name="with_aux")
                             if self.has_aux_logits else None)
    self._image_shape = tuple(int(d) for d in input_shape)
    self.build((None,) + self._image_shape)

  def call(self, inputs, training=None, return_aux=False):
    """Main logits [B, K]; with return_aux=True, (logits, aux_logits) (requires the aux head)."""
    if return_aux:
      if not self.has_aux_logits:
        raise ValueError("return_aux=True but the model was built with create_aux_logits=False")
      logits, aux_logits = self.network_with_aux(inputs, training=training)
      return logits, aux_logits
    return self.network(inputs, training=training)


def build_inception_resnet_v2(num_classes: int, input_shape: Sequence[int],
                              sync_batch_norm: bool = False, seed: Optional[int] = None,
                              dropout_keep_prob: float = DROPOUT_KEEP_PROB,
                              create_aux_logits: bool = True,
                              aux_weight: float = AUX_WEIGHT) -> keras.Model:
  """The registry builder (students.STUDENTS['inception_resnet_v2'].build).

  Args:
    num_classes: number of logits (1000 for tfds imagenet2012; slim's checkpoints used 1001).
    input_shape: (H, W, 3), H, W >= 75 (the paper: 299 x 299 x 3).
    sync_batch_norm: synchronise BN batch statistics across replicas.
    seed: initializer and dropout seed; None = nondeterministic.
    dropout_keep_prob: 0.8 (App. E.1), 0.2 for Forgetting.
    create_aux_logits: build slim's auxiliary head.
    aux_weight: its loss weight (slim: 0.4).

  Returns:
    A built `InceptionResNetV2`: float32 [B, H, W, 3] -> logits [B, num_classes].
  """
  return InceptionResNetV2(num_classes, input_shape, dropout_keep_prob=dropout_keep_prob,
                           create_aux_logits=create_aux_logits, aux_weight=aux_weight,
                           sync_batch_norm=sync_batch_norm, seed=seed)
