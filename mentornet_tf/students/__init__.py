"""StudentNets: the networks MentorNet supervises, by name, and their weight decay.

`build_student(name, num_classes, input_shape)` returns a built tf_keras Model from images
[B, H, W, C] to logits [B, num_classes] (no softmax). `STUDENTS[name]` also carries what the
original training script attached to each network: its weight-decay coefficient and its default
augmentation. `weight_decay_loss(model)` is the original `ResNet.decay()` without its coefficient:
the caller multiplies by the coefficient and by sum(v) / B (`code/cifar_train_mentornet.py`;
paper App. E.3).

| name | network | weight decay | augmentation |
|---|---|---|---|
| resnet101 | original CIFAR pre-activation wide ResNet, 56 layers, 84.6M params | 2e-4 | resnet |
| inception | original slim CifarNet, ~1.756M params | 0 (as run) | cifarnet |
| mlp | 784-256-256-10 MLP (reference MNIST-5k experiment) | 0 | none |
| small_cnn | conv32-pool-conv64-pool-fc128 | 0 | none |
| tiny_cnn | 2 x (conv, BN, ReLU), global pool: a fast ResNet stand-in | 2e-4 | standardize |
| inception_resnet_v2 | slim Inception-ResNet-v2 + aux head, 299 px | 4e-5 | inception_imagenet |
| resnet50 | Model Garden ResNet-50 + dense head, 224 x 224 | 1e-4 | resnet_imagenet |
"""
import dataclasses
import numbers
from typing import Callable, List, Optional, Sequence

import tensorflow as tf
import tf_keras as keras

from mentornet_tf import names
from mentornet_tf.students import cifarnet
from mentornet_tf.students import inception_resnet_v2
from mentornet_tf.students import resnet
from mentornet_tf.students import resnet50
from mentornet_tf.students import small

# Layer types whose `kernel` is decayed. Conv2DTranspose etc. subclass these. Any other trainable
# variable named '*kernel' makes `decayed_kernels` fail loudly rather than silently skip it.
_DECAYED_LAYER_TYPES = (keras.layers.Conv1D, keras.layers.Conv2D, keras.layers.Conv3D,
                        keras.layers.Dense)


@dataclasses.dataclass(frozen=True)
class StudentSpec:
  """A StudentNet and the training settings the original attached to it.

  Attributes:
    build: `build(num_classes, input_shape, sync_batch_norm, seed) -> keras.Model`.
    weight_decay: the original coefficient of `weight_decay_loss` (0 = none).
    augmentation: default training augmentation, one of names.AUGMENTATIONS ('resnet': pad 2 +
      crop + flip + standardize; 'cifarnet': pad 8 + crop + flip + standardize; 'standardize'
      only; 'none': images as stored).
    description: one line for help texts and logs.
    image_size: the native square input side (299 / 224 for the ImageNet-style students, which
      the *_imagenet preprocessing of encoded images resizes to); None: the dataset's shape.
    dropout_keep_prob: the student's own dropout keep probability, which --dropout_keep_prob
      replaces (its builder takes `dropout_keep_prob`); None: the student has no dropout, and
      config.STUDENTS_WITH_DROPOUT does not list it.
  """
  build: Callable[..., keras.Model]
  weight_decay: float
  augmentation: str
  description: str
  image_size: Optional[int] = None
  dropout_keep_prob: Optional[float] = None

  def __post_init__(self):
    if self.augmentation not in names.AUGMENTATIONS:
      raise ValueError(f"StudentSpec.augmentation={self.augmentation!r}: choose one of "
                       f"{', '.join(names.AUGMENTATIONS)}")
    if self.weight_decay < 0:
      raise ValueError(f"StudentSpec.weight_decay={self.weight_decay!r} must be >= 0")


STUDENTS = {
    "resnet101": StudentSpec(
        build=resnet.build_resnet, weight_decay=resnet.WEIGHT_DECAY, augmentation="resnet",
        description="original 'resnet101': CIFAR pre-activation wide ResNet, 56 weighted "
                    "layers, widths 16-160-320-640, ~84.6M parameters",
        dropout_keep_prob=1.0),
    "inception": StudentSpec(
        build=cifarnet.build_cifarnet, weight_decay=cifarnet.WEIGHT_DECAY,
        augmentation="cifarnet",
        description="original 'inception' = slim CifarNet, ~1.756M parameters; no weight decay "
                    "as the original ran it (its arg_scope value 0.004 is opt-in)",
        dropout_keep_prob=cifarnet.DROPOUT_KEEP_PROB),
    "mlp": StudentSpec(
        build=small.build_mlp, weight_decay=0.0, augmentation="none",
        description="MLP flatten-256-256-logits (784-256-256-10 on MNIST-5k)"),
    "small_cnn": StudentSpec(
        build=small.build_small_cnn, weight_decay=0.0, augmentation="none",
        description="CNN conv32-pool-conv64-pool-fc128-logits"),
    "tiny_cnn": StudentSpec(
        build=small.build_tiny_cnn, weight_decay=resnet.WEIGHT_DECAY, augmentation="standardize",
        description="2 x (conv, BN, ReLU) + global pool: a fast ResNet stand-in for tests"),
    "inception_resnet_v2": StudentSpec(
        build=inception_resnet_v2.build_inception_resnet_v2,
        weight_decay=inception_resnet_v2.WEIGHT_DECAY, augmentation="inception_imagenet",
        description="slim Inception-ResNet-v2 with App. E.1's settings (dropout keep 0.8, BN "
                    "0.9997/0.001, aux head weight 0.4), ~59.2M parameters at 1001 classes",
        image_size=inception_resnet_v2.IMAGE_SIZE,
        dropout_keep_prob=inception_resnet_v2.DROPOUT_KEEP_PROB),
    "resnet50": StudentSpec(
        build=resnet50.build_resnet50, weight_decay=resnet50.WEIGHT_DECAY,
        augmentation="resnet_imagenet",
        description="Model Garden ResNet-50 + dense head, ~25.6M parameters",
        image_size=resnet50.IMAGE_SIZE, dropout_keep_prob=1.0),
}


def get_spec(name: str) -> StudentSpec:
  """Returns `STUDENTS[name]`.

  Raises:
    ValueError: naming --studentnet and the choices, for an unknown name.
  """
  if name not in STUDENTS:
    raise ValueError(f"--studentnet={name!r} is unknown: choose one of "
                             f"{', '.join(STUDENTS)}")
  return STUDENTS[name]


def build_student(name: str, num_classes: int, input_shape: Sequence[int],
                  sync_batch_norm: bool = False, seed: Optional[int] = None,
                  dropout_keep_prob: Optional[float] = None) -> keras.Model:
  """Builds the StudentNet `name`.

  Args:
    name: a key of STUDENTS (the --studentnet flag).
    num_classes: number of logits, >= 1.
    input_shape: (H, W, C) of one preprocessed image, e.g. (32, 32, 3).
    sync_batch_norm: synchronise batch-norm statistics across replicas (students with BN only).
    seed: initializer (and dropout) seed; None = nondeterministic.
    dropout_keep_prob: replaces the student's own dropout keep probability (--dropout_keep_prob,
      the Forgetting baseline); None: the student's own.

  Returns:
    A built tf_keras Model: float32 [B, H, W, C] -> logits [B, num_classes] (no softmax).

  Raises:
    ValueError: an unknown name (naming --studentnet), or a bad num_classes / input_shape.
  """
  spec = get_spec(name)
  if not _is_positive_int(num_classes):
    raise ValueError(f"build_student({name!r}): num_classes must be a positive integer, "
                     f"got {num_classes!r}")
  shape = tuple(input_shape)
  if len(shape) != 3 or not all(_is_positive_int(d) for d in shape):
    raise ValueError(f"build_student({name!r}): input_shape must be (height, width, channels) "
                     f"of positive integers, got {input_shape!r}")
  extra = {}
  if dropout_keep_prob is not None:
    if spec.dropout_keep_prob is None:
      raise ValueError(f"--dropout_keep_prob={dropout_keep_prob!r} is invalid: --studentnet={name} "
                       "has no dropout layer")
    extra["dropout_keep_prob"] = float(dropout_keep_prob)
  return spec.build(int(num_classes), tuple(int(d) for d in shape),
                    sync_batch_norm=bool(sync_batch_norm), seed=seed, **extra)


def _is_positive_int(value) -> bool:
  # numbers.Integral admits numpy integers (dataset metadata) but not floats; bool is excluded.
  return isinstance(value, numbers.Integral) and not isinstance(value, bool) and value >= 1


def decayed_kernels(model: keras.Model) -> List[tf.Variable]:
  """The variables the weight decay covers: the kernels of every conv and dense layer.

  As the original `decay()`, which took the variables named 'DW' (conv kernels and the FC
  kernel): batch-norm parameters, biases and non-trainable variables are not decayed. Nested
  layers and models are searched; a shared layer counts once.

  Args:
    model: a built tf_keras model.

  Returns:
    The kernels, in layer order.

  Raises:
    ValueError: if the model has a trainable variable named like a kernel that belongs to no
      conv or dense layer (a new layer type must be classified explicitly, not skipped silently).
  """
  kernels, seen = [], set()
  # `_flatten_layers` (what Keras itself uses to collect weights) walks nested layers and models
  # in creation order; the public `submodules` finds the same layers but in attribute order.
  # pylint: disable-next=protected-access
  for layer in model._flatten_layers(include_self=False, recursive=True):
    if isinstance(layer, _DECAYED_LAYER_TYPES) and layer.trainable:
      kernel = layer.kernel
      if kernel.ref() not in seen:
        seen.add(kernel.ref())
        kernels.append(kernel)
  for variable in model.trainable_variables:
    short_name = variable.name.split("/")[-1].split(":")[0]
    if short_name.endswith("kernel") and variable.ref() not in seen:
      raise ValueError(f"weight_decay_loss: trainable variable {variable.name!r} looks like a "
                       "kernel but belongs to no Conv/Dense layer; add its layer type to "
                       "mentornet_tf.students._DECAYED_LAYER_TYPES or rename it")
  return kernels


def weight_decay_loss(model: keras.Model) -> tf.Tensor:
  """sum over `decayed_kernels(model)` of tf.nn.l2_loss(W) = sum(W ** 2) / 2, without coefficient.

  Args:
    model: a built tf_keras model.

  Returns:
    A float32 scalar tensor (0.0 when the model has no conv or dense layer).
  """
  kernels = decayed_kernels(model)
  if not kernels:
    return tf.constant(0.0, tf.float32)
  return tf.add_n([tf.nn.l2_loss(tf.cast(kernel, tf.float32)) for kernel in kernels])
