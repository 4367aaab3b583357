"""ImageNet-style preprocessing (data/preprocess_imagenet.py) on small JPEGs written here."""
import numpy as np
import pytest
import tensorflow as tf

from mentornet_tf.data import augment
from mentornet_tf.data import preprocess_imagenet as pi

SIZE = 32  # output side for the tests (299 / 224 in real runs)


def _image(seed, height=48, width=64):
  """A smooth-ish random uint8 image (a gradient plus noise), like a photo more than noise."""
  rng = np.random.default_rng(seed)
  yy, xx = np.mgrid[0:height, 0:width]
  base = np.stack([yy * 4, xx * 3, (yy + xx) * 2], -1) + rng.integers(0, 60, (height, width, 3))
  return np.clip(base, 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def image():
  return _image(0)


@pytest.fixture(scope="module")
def jpeg(image):
  # 4:4:4 so that cropping while decoding is exact (see test_decode_and_crop_*).
  return tf.io.encode_jpeg(image, quality=95, chroma_downsampling=False)


def test_output_shapes_and_value_ranges(jpeg):
  seed = pi.example_seed(1, 3, 0)
  for fn in (lambda: pi.inception_train(jpeg, seed, SIZE),
             lambda: pi.inception_train(jpeg, seed, SIZE, fast_mode=False),
             lambda: pi.inception_eval(jpeg, SIZE)):
    out = fn().numpy()
    assert out.shape == (SIZE, SIZE, 3) and out.dtype == np.float32
    assert out.min() >= -1.0 and out.max() <= 1.0
  low = (0.0 - np.array(pi.preprocess_ops.MEAN_RGB)) / np.array(pi.preprocess_ops.STDDEV_RGB)
  high = (255.0 - np.array(pi.preprocess_ops.MEAN_RGB)) / np.array(pi.preprocess_ops.STDDEV_RGB)
  for out in (pi.resnet_train(jpeg, seed, SIZE).numpy(), pi.resnet_eval(jpeg, SIZE).numpy()):
    assert out.shape == (SIZE, SIZE, 3) and out.dtype == np.float32
    assert np.all(out >= low - 1e-4) and np.all(out <= high + 1e-4)
  assert pi.inception_train(jpeg, seed).shape == (299, 299, 3)  # the paper's size by default
  assert pi.resnet_eval(jpeg).shape == (224, 224, 3)


def test_same_seed_id_epoch_same_output_and_epochs_differ(jpeg):
  for style in pi.STYLES:
    fn = pi.preprocess_fn(style, training=True, image_size=SIZE)
    first = fn(jpeg, seed=pi.example_seed(7, 11, 0)).numpy()
    np.testing.assert_array_equal(first, fn(jpeg, seed=pi.example_seed(7, 11, 0)).numpy())
    others = [fn(jpeg, seed=pi.example_seed(7, 11, epoch)).numpy() for epoch in (1, 2, 3)]
    assert all(not np.array_equal(first, other) for other in others), style
    assert not np.array_equal(first, fn(jpeg, seed=pi.example_seed(7, 12, 0)).numpy())
    assert not np.array_equal(first, fn(jpeg, seed=pi.example_seed(8, 11, 0)).numpy())
  # String ids are hashed; the seed is the same for the same string.
  np.testing.assert_array_equal(pi.example_seed(1, "n01440764/a.JPEG", 2),
                                pi.example_seed(1, tf.constant("n01440764/a.JPEG"), 2))


def test_deterministic_inside_tf_data_map(jpeg):
  dataset = tf.data.Dataset.from_tensor_slices(
      {"image": tf.stack([jpeg] * 3), "id": tf.constant([5, 6, 7], tf.int64)})

  def run():
    mapped = dataset.map(lambda e: pi.inception_train(e["image"], pi.example_seed(
        3, e["id"], 1), SIZE), num_parallel_calls=3, deterministic=False)
    return sorted(mapped.as_numpy_iterator(), key=lambda x: float(x.sum()))

  for a, b in zip(run(), run()):
    np.testing.assert_array_equal(a, b)


def test_inception_train_is_slims_sequence_with_the_split_seeds(jpeg):
  """crop box -> bilinear resize -> flip -> brightness -> saturation -> clip -> 2x - 1."""
  seed = pi.example_seed(2, 9, 4)
  crop_seed, _, flip_seed, color_seed = tf.unstack(tf.random.experimental.stateless_split(
      seed, num=4))
  begin, size, _ = tf.image.stateless_sample_distorted_bounding_box(
      tf.image.extract_jpeg_shape(jpeg), tf.constant([[[0.0, 0.0, 1.0, 1.0]]]), seed=crop_seed,
      min_object_covered=0.1, aspect_ratio_range=[0.75, 1.33], area_range=[0.05, 1.0],
      max_attempts=100, use_image_if_no_bounding_boxes=True)
  image = tf.image.convert_image_dtype(tf.slice(tf.io.decode_jpeg(jpeg), begin, size), tf.float32)
  image = tf.image.resize(image, [SIZE, SIZE])
  image = tf.image.stateless_random_flip_left_right(image, seed=flip_seed)
  _, brightness_seed, saturation_seed, _, _ = tf.unstack(
      tf.random.experimental.stateless_split(color_seed, num=5))
  image = tf.image.stateless_random_brightness(image, 32.0 / 255.0, seed=brightness_seed)
  image = tf.image.stateless_random_saturation(image, 0.5, 1.5, seed=saturation_seed)
  expected = (tf.clip_by_value(image, 0.0, 1.0) - 0.5) * 2.0
  np.testing.assert_allclose(pi.inception_train(jpeg, seed, SIZE), expected, atol=1e-6)


def test_eval_crops_equal_references_with_tf_image_and_the_model_garden(jpeg):
  decoded = tf.io.decode_jpeg(jpeg, channels=3)
  reference = tf.image.resize(tf.image.central_crop(
      tf.image.convert_image_dtype(decoded, tf.float32), 0.875), [SIZE, SIZE])
  np.testing.assert_allclose(pi.inception_eval(jpeg, SIZE), (reference - 0.5) * 2.0, atol=1e-6)
  ops = pi.preprocess_ops
  model_garden = ops.normalize_image(
      tf.image.resize(ops.center_crop_image_v2(jpeg, tf.image.extract_jpeg_shape(jpeg)),
                      [SIZE, SIZE]), offset=ops.MEAN_RGB, scale=ops.STDDEV_RGB)
  np.testing.assert_allclose(pi.resnet_eval(jpeg, SIZE), model_garden, atol=1e-5)
  # The same crop from a decoded image, one or a batch (what the in-memory pipeline passes).
  np.testing.assert_allclose(pi.resnet_eval(decoded, SIZE), model_garden, atol=1e-5)
  batch = pi.inception_eval(tf.stack([decoded, decoded]), SIZE)
  np.testing.assert_allclose(batch[1], (reference - 0.5) * 2.0, atol=1e-6)


@pytest.mark.parametrize("box", [(5, 7, 30, 41), (0, 0, 48, 64), (8, 16, 16, 16), (13, 2, 9, 60)])
def test_decode_and_crop_equals_decode_then_crop(jpeg, image, box):
  box = tf.constant(box, tf.int32)
  y, x, h, w = box.numpy()
  cropped = pi.decode_and_crop(jpeg, lambda shape: box).numpy()
  full = tf.io.decode_jpeg(jpeg, channels=3).numpy()
  np.testing.assert_array_equal(cropped, full[y:y + h, x:x + w])
  # With 4:2:0 chroma subsampling only the crop's border may differ (libjpeg's upsampling).
  subsampled = tf.io.encode_jpeg(image, quality=95)
  cropped = pi.decode_and_crop(subsampled, lambda shape: box).numpy().astype(int)
  full = tf.io.decode_jpeg(subsampled, channels=3).numpy().astype(int)[y:y + h, x:x + w]
  np.testing.assert_array_equal(cropped[2:-2, 2:-2], full[2:-2, 2:-2])
  assert np.abs(cropped - full).max() <= 16


def test_png_bytes_and_decoded_images_give_the_crop_of_the_same_box(image):
  seed = pi.example_seed(4, 1, 0)
  from_png = pi.inception_train(tf.io.encode_png(image), seed, SIZE)
  np.testing.assert_array_equal(from_png, pi.inception_train(tf.constant(image), seed, SIZE))
  # float 0..255 (the in-memory pipeline's images) behaves as uint8.
  np.testing.assert_allclose(pi.resnet_train(tf.constant(image, tf.float32), seed, SIZE),
                             pi.resnet_train(tf.constant(image), seed, SIZE), atol=1e-5)


def test_sampled_boxes_respect_the_area_and_stay_inside():
  shape = tf.constant([48, 64, 3])
  for k in range(30):
    seed = pi.example_seed(0, k, 0)
    for box, low in [(pi.distorted_box(shape, seed, 0.1, (0.75, 1.33), (0.05, 1.0), 100), 0.05),
                     (pi.distorted_box(shape, seed, 0.08, (0.75, 4 / 3), (0.08, 1.0), 10), 0.08)]:
      y, x, h, w = box.numpy()
      assert 0 <= y and 0 <= x and y + h <= 48 and x + w <= 64
      assert low * 48 * 64 * 0.9 <= h * w <= 48 * 64


def test_central_and_center_square_boxes():
  np.testing.assert_array_equal(pi.central_box(tf.constant([48, 64, 3]), 0.875), [3, 4, 42, 56])
  np.testing.assert_array_equal(pi.center_square_box(tf.constant([48, 64, 3]), 0.875),
                                [3, 11, 42, 42])


def test_keep_size_for_decoded_images_and_refuse_it_for_bytes(jpeg, image):
  seed = pi.example_seed(0, 0, 0)
  assert pi.inception_train(tf.constant(image), seed, None).shape == (48, 64, 3)
  with pytest.raises(ValueError, match="image_size=None"):
    pi.inception_train(jpeg, seed, None)
  with pytest.raises(ValueError, match="inception, resnet"):
    pi.preprocess_fn("vgg", training=True)


def test_augment_names_dispatch_to_the_imagenet_transforms(image):
  batch = tf.constant(np.stack([image, image]), tf.float32)
  for name in ("inception_imagenet", "resnet_imagenet"):
    assert augment.is_random(name, training=True) and not augment.is_random(name, False)
    out = augment.preprocess_fn(name, training=True)(batch[0], seed=pi.example_seed(1, 1, 1))
    assert out.shape == (48, 64, 3)
    assert augment.preprocess_fn(name, training=False)(batch).shape == (2, 48, 64, 3)
