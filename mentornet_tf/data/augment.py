"""Per-example image preprocessing of the original StudentNets (`code/cifar_data_provider.py`).

All functions take one float image [H, W, C] with values in 0..255 (uint8 is cast) and return
float32 [H, W, C]:

  resnet    (provide_resnet_data): zero-pad 2 px per side, random crop back to H x W, random
            left-right flip, per-image standardization (over the whole crop, padding included).
  cifarnet  (provide_cifarnet_data): zero-pad image_size // 4 px per side (8 for CIFAR's 32),
            random crop, flip, standardization.
  pad4:     the paper's (App. E.1, both students): zero-pad 4 px per side, random crop, flip,
            standardization.
  standardize: standardization only (what the original does at test time).
  none:     x / 255 (the MLP / embedded-data path; no augmentation).
  inception_imagenet, resnet_imagenet: the ImageNet-style transforms of data/preprocess_imagenet.py
            (slim Inception: box crop, flip, colour, [-1, 1]; Model Garden ResNet: crop, flip,
            mean/std), resized back to the input's H x W; their eval transforms centre-crop.

Random ops are stateless when a `seed` ([2] int tensor) is given, so that `tf.data` pipelines are
reproducible regardless of parallelism; without a seed they fall back to the stateful
`tf.image.random_*` ops. The deterministic transforms (`standardize`, `scale_unit`) also accept a
batch [B, H, W, C], which lets pipelines apply them after batching (much faster for small images).

Encoded images (`Source.encoded`: JPEG/PNG bytes of any size) are decoded and preprocessed per
example by `encoded_preprocess_fn`, seeded by `encoded_example_seed` (seed, id, epoch).
"""
from typing import Callable, Optional

import tensorflow as tf

from mentornet_tf import names

PreprocessFn = Callable[..., tf.Tensor]


def _as_float(image: tf.Tensor) -> tf.Tensor:
  return tf.cast(tf.convert_to_tensor(image), tf.float32)


def _height_width_channels(image: tf.Tensor):
  """Static [H, W, C] when known (the usual case), dynamic otherwise."""
  static = image.shape.as_list()
  dynamic = tf.unstack(tf.shape(image))
  return [s if s is not None else d for s, d in zip(static, dynamic)]


def standardize(image: tf.Tensor) -> tf.Tensor:
  """(x - mean) / max(std, 1 / sqrt(H W C)), as tf.image.per_image_standardization.

  Args:
    image: [H, W, C] (or a batch [B, H, W, C]) of pixels in 0..255.

  Returns:
    float32 of the same shape; each image has mean 0 and std 1 (or the floor if constant).
  """
  return tf.image.per_image_standardization(_as_float(image))


def scale_unit(image: tf.Tensor) -> tf.Tensor:
  """x / 255: pixels in [0, 1] for the MLP path. [H, W, C] or [B, H, W, C] -> float32, same
  shape."""
  return _as_float(image) / 255.0


def _crop_and_flip(padded: tf.Tensor, height, width, channels,
                   seed: Optional[tf.Tensor]) -> tf.Tensor:
  size = [height, width, channels]
  if seed is None:
    cropped = tf.image.random_crop(padded, size)
    return tf.image.random_flip_left_right(cropped)
  crop_seed, flip_seed = tf.unstack(tf.random.experimental.stateless_split(seed, num=2))
  cropped = tf.image.stateless_random_crop(padded, size, seed=crop_seed)
  return tf.image.stateless_random_flip_left_right(cropped, seed=flip_seed)


def _pad_crop_flip(image: tf.Tensor, seed: Optional[tf.Tensor], padding) -> tf.Tensor:
  """Zero-pad (pad_h, pad_w) = padding(H, W) px per side, random crop back to H x W, random
  left-right flip, standardization: the shape of every CIFAR training augmentation here."""
  image = _as_float(image)
  height, width, channels = _height_width_channels(image)
  pad_h, pad_w = padding(height, width)
  padded = tf.pad(image, [[pad_h, pad_h], [pad_w, pad_w], [0, 0]])
  return standardize(_crop_and_flip(padded, height, width, channels, seed))


def augment_resnet(image: tf.Tensor, seed: Optional[tf.Tensor] = None) -> tf.Tensor:
  """ResNet training augmentation of the original (`provide_resnet_data`).

  Args:
    image: [H, W, C] pixels in 0..255.
    seed: optional [2] int tensor for stateless randomness.

  Returns:
    float32 [H, W, C], standardized.
  """
  # 2 px of zeros per side, as the original's resize_with_crop_or_pad to (36, 36).
  return _pad_crop_flip(image, seed, lambda height, width: (2, 2))


def augment_cifarnet(image: tf.Tensor, seed: Optional[tf.Tensor] = None) -> tf.Tensor:
  """CifarNet ('inception') training augmentation of the original (`provide_cifarnet_data`).

  The original pads by `image_size / 4` (8 px for CIFAR, giving 48 x 48); we use integer
  division per axis so that it also runs under Python 3 and on non-square images.

  Args:
    image: [H, W, C] pixels in 0..255.
    seed: optional [2] int tensor for stateless randomness.

  Returns:
    float32 [H, W, C], standardized.
  """
  return _pad_crop_flip(image, seed, lambda height, width: (height // 4, width // 4))


def augment_pad4(image: tf.Tensor, seed: Optional[tf.Tensor] = None) -> tf.Tensor:
  """The paper's CIFAR augmentation for both students (App. E.1): zero-pad 4 px per side, random
  crop back to H x W, random left-right flip, standardization.

  Args:
    image: [H, W, C] pixels in 0..255.
    seed: optional [2] int tensor for stateless randomness.

  Returns:
    float32 [H, W, C], standardized.
  """
  return _pad_crop_flip(image, seed, lambda height, width: (4, 4))


def is_random(augmentation: str, training: bool) -> bool:
  """Whether the transform draws random numbers (then it must run per example, with a seed)."""
  return training and augmentation in ("resnet", "cifarnet", "pad4", "inception_imagenet",
                                       "resnet_imagenet")


def imagenet_style(augmentation: str, training: bool):
  """(style 'inception' | 'resnet', whether to augment) of an ImageNet-style augmentation, or
  None for the others. The `*_imagenet_eval` variants train on the evaluation transform."""
  if augmentation not in names.IMAGENET_AUGMENTATIONS:
    return None
  return augmentation.split("_")[0], training and not augmentation.endswith("_eval")


def preprocess_fn(augmentation: str, training: bool) -> PreprocessFn:
  """The per-example function `fn(image, seed=None) -> float32 image` of an augmentation mode.

  Args:
    augmentation: 'resnet', 'cifarnet', 'standardize' or 'none' (the caller resolves 'auto').
    training: False gives the evaluation transform: standardization for resnet / cifarnet /
      standardize (as the original test path), scaling to [0, 1] for 'none'.

  Returns:
    A function of (image [H, W, C], seed [2] or None) -> float32 [H, W, C].

  Raises:
    ValueError: for an unknown augmentation.
  """
  if augmentation not in names.AUGMENTATIONS:
    raise ValueError(f"augmentation={augmentation!r} is invalid: choose one of "
                     f"{', '.join(names.AUGMENTATIONS)}")
  if imagenet_style(augmentation, training):
    # Crop, flip (and colour) then resize back to the input's size; encoded ImageNet images go
    # through data/preprocess_imagenet.py directly with the student's image size.
    from mentornet_tf.data import preprocess_imagenet  # pylint: disable=g-import-not-at-top
    return preprocess_imagenet.preprocess_fn(*imagenet_style(augmentation, training))
  if augmentation == "none":
    return lambda image, seed=None: scale_unit(image)
  if not training or augmentation == "standardize":
    return lambda image, seed=None: standardize(image)
  if augmentation == "resnet":
    return augment_resnet
  if augmentation == "pad4":
    return augment_pad4
  return augment_cifarnet


def encoded_example_seed(seed, example_id, epoch) -> tf.Tensor:
  """`preprocess_imagenet.example_seed`: the [2] int64 seed of one encoded example (id int64 or
  string scalar) in one epoch, a function of (seed, id, epoch)."""
  from mentornet_tf.data import preprocess_imagenet  # pylint: disable=g-import-not-at-top
  return preprocess_imagenet.example_seed(seed, example_id, epoch)


def encoded_preprocess_fn(augmentation: str, training: bool, image_size: int,
                          jpeg_only: bool = False) -> PreprocessFn:
  """`fn(bytes, seed=None) -> float32 [S, S, 3]` for encoded images (`Source.encoded`), S =
  `image_size` (the source's image_shape[0]).

  The `*_imagenet` augmentations crop while decoding (`preprocess_imagenet`, output side S;
  `jpeg_only`: the split's images are all JPEG, `Split.jpeg_only`, so no per-image format
  test); the others decode, resize (bilinear) to S x S, then transform as for stored images
  (`preprocess_fn`).
  """
  size = int(image_size)
  if imagenet_style(augmentation, training):
    from mentornet_tf.data import preprocess_imagenet  # pylint: disable=g-import-not-at-top
    return preprocess_imagenet.preprocess_fn(*imagenet_style(augmentation, training),
                                             image_size=size, jpeg_only=jpeg_only)
  transform = preprocess_fn(augmentation, training)

  def fn(encoded, seed=None):
    image = tf.io.decode_image(encoded, channels=3, expand_animations=False)
    image = tf.image.resize(tf.cast(image, tf.float32), [size, size])
    image.set_shape([size, size, 3])
    return transform(image, seed=seed)

  return fn
