"""Small StudentNets that are not in the original: for the offline experiments and for tests.

- `mlp`: 784-256-256-10 on MNIST-5k, the network of the reference noise experiment
  (MNIST-5k, 40% uniform noise, Adam 1e-3): flatten -> Dense 256 ReLU -> Dense 256 ReLU -> logits.
- `small_cnn`: conv32 -> pool -> conv64 -> pool -> dense128 -> logits, a quick CNN for MNIST/digits.
- `tiny_cnn`: two conv + batch-norm blocks and global pooling: a seconds-fast stand-in for the
  ResNet in tests, so that BN (training vs inference, sync BN) and the weight decay path run.

All use Keras default initialisers (Glorot uniform kernels, zero biases), seeded per layer.
"""
import itertools
from typing import Optional, Sequence

import tf_keras as keras


def _seed_stream(seed: Optional[int]):
  # A seeded Keras initializer repeats its values on every call: give each layer its own seed.
  return itertools.count(seed * 1000) if seed is not None else itertools.repeat(None)


def _glorot(seeds):
  return keras.initializers.GlorotUniform(seed=next(seeds))


def build_mlp(num_classes: int, input_shape: Sequence[int], sync_batch_norm: bool = False,
              seed: Optional[int] = None, hidden_units: Sequence[int] = (256, 256),
              name: str = "mlp") -> keras.Model:
  """Builds a ReLU multilayer perceptron on the flattened image.

  Args:
    num_classes: number of logits.
    input_shape: (H, W, C) of one image, e.g. (28, 28, 1) for MNIST-5k (784 inputs).
    sync_batch_norm: ignored (no batch norm); accepted for a uniform builder API.
    seed: initializer seed; None = nondeterministic.
    hidden_units: widths of the hidden layers.
    name: the Keras model name.

  Returns:
    A built tf_keras functional Model: [B, H, W, C] -> [B, num_classes] logits.
  """
  del sync_batch_norm
  seeds = _seed_stream(seed)
  images = keras.Input(shape=tuple(input_shape), name="image")
  x = keras.layers.Flatten(name="flatten")(images)
  for i, units in enumerate(hidden_units):
    x = keras.layers.Dense(units, activation="relu", kernel_initializer=_glorot(seeds),
                           name=f"fc{i + 1}")(x)
  logits = keras.layers.Dense(num_classes, kernel_initializer=_glorot(seeds), name="logits")(x)
  return keras.Model(images, logits, name=name)


def build_small_cnn(num_classes: int, input_shape: Sequence[int], sync_batch_norm: bool = False,
                    seed: Optional[int] = None, name: str = "small_cnn") -> keras.Model:
  """Builds conv3x3x32 ReLU -> maxpool 2 -> conv3x3x64 ReLU -> maxpool 2 -> fc128 ReLU -> logits.

  Args:
    num_classes: number of logits.
    input_shape: (H, W, C) of one image; H and W must be >= 4 (two 2x2 poolings).
    sync_batch_norm: ignored (no batch norm); accepted for a uniform builder API.
    seed: initializer seed; None = nondeterministic.
    name: the Keras model name.

  Returns:
    A built tf_keras functional Model: [B, H, W, C] -> [B, num_classes] logits.
  """
  del sync_batch_norm
  seeds = _seed_stream(seed)
  images = keras.Input(shape=tuple(input_shape), name="image")
  x = images
  for i, filters in enumerate((32, 64)):
    x = keras.layers.Conv2D(filters, 3, padding="same", activation="relu",
                            kernel_initializer=_glorot(seeds), name=f"conv{i + 1}")(x)
    x = keras.layers.MaxPooling2D(2, 2, name=f"pool{i + 1}")(x)
  x = keras.layers.Flatten(name="flatten")(x)
  x = keras.layers.Dense(128, activation="relu", kernel_initializer=_glorot(seeds), name="fc3")(x)
  logits = keras.layers.Dense(num_classes, kernel_initializer=_glorot(seeds), name="logits")(x)
  return keras.Model(images, logits, name=name)


def build_tiny_cnn(num_classes: int, input_shape: Sequence[int], sync_batch_norm: bool = False,
                   seed: Optional[int] = None, name: str = "tiny_cnn") -> keras.Model:
  """Builds two (conv 3x3 no bias -> BN -> ReLU) blocks of 8 and 16 channels, global pool, logits.

  The second block has stride 2. BN uses the ResNet's settings (momentum 0.9, epsilon 1e-3).

  Args:
    num_classes: number of logits.
    input_shape: (H, W, C) of one image, e.g. (32, 32, 3).
    sync_batch_norm: synchronise BN batch statistics across replicas.
    seed: initializer seed; None = nondeterministic.
    name: the Keras model name.

  Returns:
    A built tf_keras functional Model: [B, H, W, C] -> [B, num_classes] logits.
  """
  seeds = _seed_stream(seed)
  images = keras.Input(shape=tuple(input_shape), name="image")
  x = images
  for i, (filters, stride) in enumerate(((8, 1), (16, 2))):
    x = keras.layers.Conv2D(filters, 3, strides=stride, padding="same", use_bias=False,
                            kernel_initializer=keras.initializers.HeNormal(seed=next(seeds)),
                            name=f"conv{i + 1}")(x)
    x = keras.layers.BatchNormalization(momentum=0.9, epsilon=1e-3,
                                        synchronized=bool(sync_batch_norm), name=f"bn{i + 1}")(x)
    x = keras.layers.ReLU(name=f"relu{i + 1}")(x)
  x = keras.layers.GlobalAveragePooling2D(name="global_avg_pool")(x)
  logits = keras.layers.Dense(num_classes, kernel_initializer=_glorot(seeds), name="logits")(x)
  return keras.Model(images, logits, name=name)
