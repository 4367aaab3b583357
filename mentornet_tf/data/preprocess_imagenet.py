"""ImageNet-style preprocessing for the large-scale StudentNets, stateless and seeded.

Two styles, each a training transform (random) and an evaluation transform (deterministic):

'inception' (slim's `inception_preprocessing`, which the paper used for Inception-ResNet-v2,
  App. E.1 "the default data augmentation in the slim implementation", at 299 x 299):
  train: a distorted bounding-box crop of the whole image (min_object_covered 0.1, aspect ratio
    0.75-1.33, area 0.05-1.0, 100 attempts; the whole image when no box fits), bilinear resize to
    S x S, random left-right flip, colour distortion, clip to [0, 1], then 2 x - 1 (range [-1, 1]).
    Colour distortion in slim's default fast mode: brightness +-32/255 then saturation 0.5-1.5
    (slim's `num_distort_cases = 1` in fast mode, so always that order). With fast_mode=False: one
    of slim's four orderings of brightness +-32/255, saturation 0.5-1.5, hue +-0.2 and contrast
    0.5-1.5, and one of four resize methods (bilinear, nearest, bicubic, area), drawn per example.
  eval: the box of tf.image.central_crop (0.875 of each side), bilinear resize, 2 x - 1.
'resnet' (the Model Garden's `classification_input.Parser`, for ResNet-50, at 224 x 224):
  train: a random crop (area 0.08-1.0, aspect ratio 3/4-4/3, 10 attempts; when it falls back to
    the whole image, the centre square of 0.875 of the short side instead), random flip, bilinear
    resize, normalisation by the ImageNet mean and standard deviation
    (`official.vision.ops.preprocess_ops.normalize_image` with MEAN_RGB / STDDEV_RGB).
  eval: the centre square of 0.875 of the short side (preprocess_ops.center_crop_image_v2's box),
    bilinear resize, the same normalisation.

Inputs: encoded bytes (a scalar tf.string; a JPEG is cropped while decoding, never decoded whole;
other formats are decoded, then cropped) or a decoded image [H, W, 3] (uint8, or float in 0..255);
the evaluation transforms also take a decoded batch [B, H, W, 3]. `image_size` None keeps a decoded
input's own size (the `*_imagenet` augmentations of data/augment.py on small in-memory datasets).
Cropping while decoding gives decode-then-crop's pixels, except that with 4:2:0 chroma subsampling
the crop's outer 1-2 rows and columns can differ slightly, as in the Model Garden's pipeline.

Randomness: every random op is stateless, seeded from the one [2] int seed of the training
transform (same crop, flip and colours whatever the parallelism); `example_seed(seed, id, epoch)`
derives it. Without a seed, one is drawn from the global generator (not reproducible).

Deviation from slim: TF2's `tf.image.resize` (half-pixel centres, as the Model Garden); slim's
TF1 `resize_images` used the older corner convention, a sub-pixel shift.
"""
from typing import Callable, Optional, Sequence

import tensorflow as tf
from official.vision.ops import preprocess_ops

INCEPTION = "inception"
RESNET = "resnet"
STYLES = (INCEPTION, RESNET)
DEFAULT_IMAGE_SIZE = {INCEPTION: 299, RESNET: 224}

# slim inception_preprocessing.distorted_bounding_box_crop defaults.
INCEPTION_MIN_OBJECT_COVERED = 0.1
INCEPTION_ASPECT_RATIO_RANGE = (0.75, 1.33)
INCEPTION_AREA_RANGE = (0.05, 1.0)
INCEPTION_MAX_ATTEMPTS = 100
INCEPTION_CENTRAL_FRACTION = 0.875
BRIGHTNESS_MAX_DELTA = 32.0 / 255.0
SATURATION_RANGE = (0.5, 1.5)
HUE_MAX_DELTA = 0.2
CONTRAST_RANGE = (0.5, 1.5)
# Model Garden classification_input.Parser / preprocess_ops.random_crop_image_v2 defaults.
RESNET_AREA_RANGE = (0.08, 1.0)
RESNET_ASPECT_RATIO_RANGE = (3.0 / 4.0, 4.0 / 3.0)
RESNET_MAX_ATTEMPTS = 10
RESNET_CENTER_CROP_FRACTION = preprocess_ops.CENTER_CROP_FRACTION  # 0.875

_ID_HASH_BUCKETS = 2 ** 62


def example_seed(seed, example_id, epoch) -> tf.Tensor:
  """The [2] int64 stateless seed of one example in one epoch: a function of (seed, id, epoch).

  Args:
    seed: the run's augmentation seed (int or int scalar tensor).
    example_id: the example's stable id (int scalar, or a string id, hashed).
    epoch: the epoch (or any position counter), int scalar.
  """
  example_id = tf.convert_to_tensor(example_id)
  if example_id.dtype == tf.string:
    example_id = tf.strings.to_hash_bucket_fast(example_id, _ID_HASH_BUCKETS)
  base = tf.stack([tf.cast(seed, tf.int64), tf.constant(0x696d6167, tf.int64)])  # 'imag'
  folded = tf.random.experimental.stateless_fold_in(base, tf.cast(example_id, tf.int64))
  return tf.random.experimental.stateless_fold_in(folded, tf.cast(epoch, tf.int64))


def _seeds(seed: Optional[tf.Tensor], count: int):
  if seed is None:
    seed = tf.random.uniform([2], 0, 2 ** 31 - 1, dtype=tf.int64)
  return tf.unstack(tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), num=count))


def _crop_decoded(image: tf.Tensor, box: tf.Tensor) -> tf.Tensor:
  """image[..., y:y+h, x:x+w, :] for [H, W, C] or [B, H, W, C]; box = [y, x, h, w]."""
  y, x, h, w = tf.unstack(box)
  return image[..., y:y + h, x:x + w, :]


def decode_and_crop(image: tf.Tensor, box_fn: Callable[[tf.Tensor], tf.Tensor],
                    jpeg_only: bool = False) -> tf.Tensor:
  """Crops `image` to the box `box_fn(shape)` = [y, x, h, w], decoding bytes if needed.

  Args:
    image: encoded bytes (scalar string), or a decoded [H, W, C] / [B, H, W, C] image.
    box_fn: from the int32 shape [H, W, C] of the (full) image to an int32 box [4].
    jpeg_only: the bytes are all JPEG (`Split.jpeg_only`): no per-image format test (a cond).

  Returns:
    The crop: uint8 [h, w, 3] for bytes; the input's dtype and rank for a decoded image.
  """
  if image.dtype != tf.string:
    return _crop_decoded(image, box_fn(tf.shape(image)[-3:]))

  def jpeg():
    box = box_fn(tf.image.extract_jpeg_shape(image))
    return tf.image.decode_and_crop_jpeg(image, box, channels=3)

  def other():
    decoded = tf.io.decode_image(image, channels=3, dtype=tf.uint8, expand_animations=False)
    return _crop_decoded(decoded, box_fn(tf.shape(decoded)))

  cropped = jpeg() if jpeg_only else tf.cond(tf.io.is_jpeg(image), jpeg, other)
  cropped.set_shape([None, None, 3])
  return cropped


def distorted_box(shape: tf.Tensor, seed: tf.Tensor, min_object_covered: float,
                  aspect_ratio_range: Sequence[float], area_range: Sequence[float],
                  max_attempts: int) -> tf.Tensor:
  """A stateless `sample_distorted_bounding_box` of the whole image: [y, x, h, w] int32.

  Falls back to the whole image when no box satisfies the constraints in max_attempts.
  """
  begin, size, _ = tf.image.stateless_sample_distorted_bounding_box(
      tf.cast(shape, tf.int32), tf.constant([[[0.0, 0.0, 1.0, 1.0]]], tf.float32), seed=seed,
      min_object_covered=min_object_covered, aspect_ratio_range=list(aspect_ratio_range),
      area_range=list(area_range), max_attempts=max_attempts,
      use_image_if_no_bounding_boxes=True)
  return tf.stack([begin[0], begin[1], size[0], size[1]])


def central_box(shape: tf.Tensor, fraction: float) -> tf.Tensor:
  """The box of tf.image.central_crop(image, fraction): [y, x, h, w] int32."""
  height, width = tf.cast(shape[0], tf.float64), tf.cast(shape[1], tf.float64)
  top = tf.cast((height - height * fraction) / 2, tf.int32)
  left = tf.cast((width - width * fraction) / 2, tf.int32)
  return tf.stack([top, left, tf.cast(shape[0], tf.int32) - 2 * top,
                   tf.cast(shape[1], tf.int32) - 2 * left])


def center_square_box(shape: tf.Tensor, fraction: float) -> tf.Tensor:
  """The box of preprocess_ops.center_crop_image[_v2]: a centred square, fraction * short side."""
  size = tf.cast(shape[:2], tf.float32)
  crop = fraction * tf.minimum(size[0], size[1])
  offset = tf.cast((size - crop) / 2.0, tf.int32)
  crop = tf.cast(crop, tf.int32)
  return tf.stack([offset[0], offset[1], crop, crop])


def _output_size(image: tf.Tensor, image_size: Optional[int]):
  if image_size is not None:
    return [int(image_size), int(image_size)]
  static = image.shape.as_list()
  if image.dtype == tf.string or len(static) < 3 or None in static[-3:-1]:
    raise ValueError("image_size=None keeps the input size, which needs a decoded image of "
                     f"static height and width; got {image.dtype.name} of shape {static}")
  return static[-3:-1]


def _unit_float(image: tf.Tensor) -> tf.Tensor:
  """uint8 -> [0, 1] (convert_image_dtype); float 0..255 -> [0, 1]."""
  if image.dtype == tf.uint8:
    return tf.image.convert_image_dtype(image, tf.float32)
  return tf.cast(image, tf.float32) / 255.0


def _distort_color(image: tf.Tensor, seed: tf.Tensor, fast_mode: bool) -> tf.Tensor:
  """slim distort_color on [0, 1] pixels (see the module docstring), then clip to [0, 1]."""
  order_seed, *seeds = _seeds(seed, 5)
  ops = {
      "brightness": lambda x, s: tf.image.stateless_random_brightness(
          x, BRIGHTNESS_MAX_DELTA, seed=s),
      "saturation": lambda x, s: tf.image.stateless_random_saturation(
          x, *SATURATION_RANGE, seed=s),
      "hue": lambda x, s: tf.image.stateless_random_hue(x, HUE_MAX_DELTA, seed=s),
      "contrast": lambda x, s: tf.image.stateless_random_contrast(x, *CONTRAST_RANGE, seed=s),
  }

  def apply(order):
    def fn():
      out = image
      for name, op_seed in zip(order, seeds):
        out = ops[name](out, op_seed)
      return out
    return fn

  if fast_mode:
    distorted = apply(("brightness", "saturation"))()
  else:
    orders = [("brightness", "saturation", "hue", "contrast"),
              ("saturation", "brightness", "contrast", "hue"),
              ("contrast", "hue", "brightness", "saturation"),
              ("hue", "saturation", "contrast", "brightness")]
    index = tf.random.stateless_uniform([], order_seed, maxval=4, dtype=tf.int32)
    distorted = tf.switch_case(index, [apply(order) for order in orders])
  return tf.clip_by_value(distorted, 0.0, 1.0)


def _resize(image: tf.Tensor, size, seed: Optional[tf.Tensor] = None) -> tf.Tensor:
  """Bilinear resize; with a seed, one of slim's four methods drawn from it."""
  if seed is None:
    return tf.image.resize(image, size, method="bilinear")
  index = tf.random.stateless_uniform([], seed, maxval=4, dtype=tf.int32)
  branches = [lambda m=m: tf.cast(tf.image.resize(image, size, method=m), tf.float32)
              for m in ("bilinear", "nearest", "bicubic", "area")]
  return tf.switch_case(index, branches)


def inception_train(image: tf.Tensor, seed: Optional[tf.Tensor] = None,
                    image_size: Optional[int] = DEFAULT_IMAGE_SIZE[INCEPTION],
                    fast_mode: bool = True, jpeg_only: bool = False) -> tf.Tensor:
  """slim's Inception training preprocessing. One image -> float32 [S, S, 3] in [-1, 1]."""
  size = _output_size(image, image_size)
  crop_seed, resize_seed, flip_seed, color_seed = _seeds(seed, 4)
  cropped = decode_and_crop(image, lambda shape: distorted_box(
      shape, crop_seed, INCEPTION_MIN_OBJECT_COVERED, INCEPTION_ASPECT_RATIO_RANGE,
      INCEPTION_AREA_RANGE, INCEPTION_MAX_ATTEMPTS), jpeg_only)
  resized = _resize(_unit_float(cropped), size, None if fast_mode else resize_seed)
  flipped = tf.image.stateless_random_flip_left_right(resized, seed=flip_seed)
  distorted = _distort_color(flipped, color_seed, fast_mode)
  distorted.set_shape(size + [3])
  return (distorted - 0.5) * 2.0


def inception_eval(image: tf.Tensor, image_size: Optional[int] = DEFAULT_IMAGE_SIZE[INCEPTION],
                   central_fraction: float = INCEPTION_CENTRAL_FRACTION,
                   jpeg_only: bool = False) -> tf.Tensor:
  """slim's Inception evaluation preprocessing. One image or a decoded batch -> [-1, 1]."""
  size = _output_size(image, image_size)
  cropped = decode_and_crop(image, lambda shape: central_box(shape, central_fraction), jpeg_only)
  resized = _resize(_unit_float(cropped), size)
  return (resized - 0.5) * 2.0


def _normalize(image: tf.Tensor) -> tf.Tensor:
  return preprocess_ops.normalize_image(image, preprocess_ops.MEAN_RGB, preprocess_ops.STDDEV_RGB)


def resnet_train(image: tf.Tensor, seed: Optional[tf.Tensor] = None,
                 image_size: Optional[int] = DEFAULT_IMAGE_SIZE[RESNET],
                 jpeg_only: bool = False) -> tf.Tensor:
  """The Model Garden's ResNet training preprocessing, stateless. One image -> float32 [S, S, 3]."""
  size = _output_size(image, image_size)
  crop_seed, flip_seed = _seeds(seed, 2)

  def box_fn(shape):
    box = distorted_box(shape, crop_seed, RESNET_AREA_RANGE[0], RESNET_ASPECT_RATIO_RANGE,
                        RESNET_AREA_RANGE, RESNET_MAX_ATTEMPTS)
    whole = tf.reduce_all(tf.equal(box[2:], tf.cast(shape[:2], tf.int32)))
    # tf.where, not tf.cond: both boxes are cheap; a cond per image costs CPU (input benchmark).
    return tf.where(whole, center_square_box(shape, RESNET_CENTER_CROP_FRACTION), box)

  cropped = decode_and_crop(image, box_fn, jpeg_only)
  flipped = tf.image.stateless_random_flip_left_right(cropped, seed=flip_seed)
  resized = tf.cast(tf.image.resize(flipped, size, method="bilinear"), tf.float32)
  resized.set_shape(size + [3])
  return _normalize(resized)


def resnet_eval(image: tf.Tensor, image_size: Optional[int] = DEFAULT_IMAGE_SIZE[RESNET],
                center_crop_fraction: float = RESNET_CENTER_CROP_FRACTION,
                jpeg_only: bool = False) -> tf.Tensor:
  """The Model Garden's ResNet evaluation preprocessing. One image or a decoded batch."""
  size = _output_size(image, image_size)
  cropped = decode_and_crop(image, lambda shape: center_square_box(shape, center_crop_fraction),
                            jpeg_only)
  resized = tf.cast(tf.image.resize(cropped, size, method="bilinear"), tf.float32)
  return _normalize(resized)


def preprocess_fn(style: str, training: bool, image_size: Optional[int] = None,
                  fast_mode: bool = True, jpeg_only: bool = False) -> Callable[..., tf.Tensor]:
  """`fn(image, seed=None) -> float32 image` for a style, as data/augment.preprocess_fn.

  Args:
    style: 'inception' or 'resnet'.
    training: the random training transform (else the deterministic evaluation one).
    image_size: output side S; None keeps the (decoded) input's own size.
    fast_mode: slim's fast mode for the Inception colour distortion (its default).
    jpeg_only: encoded inputs are all JPEG (decode_and_crop skips its format test).

  Raises:
    ValueError: for an unknown style.
  """
  if style not in STYLES:
    raise ValueError(f"preprocessing style {style!r} is unknown: choose one of "
                     f"{', '.join(STYLES)}")
  if style == INCEPTION and training:
    return lambda image, seed=None: inception_train(image, seed, image_size, fast_mode, jpeg_only)
  if style == INCEPTION:
    return lambda image, seed=None: inception_eval(image, image_size, jpeg_only=jpeg_only)
  if training:
    return lambda image, seed=None: resnet_train(image, seed, image_size, jpeg_only)
  return lambda image, seed=None: resnet_eval(image, image_size, jpeg_only=jpeg_only)
