"""Per-example preprocessing: shapes, statistics, and that crops/flips are those of the original."""
import numpy as np
import pytest
import tensorflow as tf

from mentornet_tf.data import augment


def _image(shape=(32, 32, 3), seed=0):
  return np.random.default_rng(seed).integers(0, 256, size=shape).astype(np.float32)


def _standardize_np(image):
  return (image - image.mean()) / max(image.std(), 1.0 / np.sqrt(image.size))


def _candidates(image, pad_h, pad_w):
  """Every standardized crop (and its mirror) of the zero-padded image: the possible outputs."""
  height, width, _ = image.shape
  padded = np.pad(image, [[pad_h, pad_h], [pad_w, pad_w], [0, 0]])
  for dy in range(2 * pad_h + 1):
    for dx in range(2 * pad_w + 1):
      crop = padded[dy:dy + height, dx:dx + width]
      for flipped in (False, True):
        yield (dy, dx, flipped), _standardize_np(crop[:, ::-1] if flipped else crop)


def _which_candidate(output, image, pad_h, pad_w):
  matches = [key for key, candidate in _candidates(image, pad_h, pad_w)
             if np.allclose(candidate, output, atol=1e-4)]
  assert len(matches) >= 1, "output is not a zero-padded crop (+flip) of the input"
  return matches[0]


@pytest.mark.parametrize("fn", [augment.standardize, augment.augment_resnet,
                                augment.augment_cifarnet])
@pytest.mark.parametrize("shape", [(32, 32, 3), (28, 28, 1), (8, 8, 1)])
def test_standardized_outputs_eager_and_in_tf_data(fn, shape):
  images = np.stack([_image(shape, seed) for seed in range(4)])
  eager = fn(images[0]).numpy()
  mapped = np.stack([x.numpy() for x in tf.data.Dataset.from_tensor_slices(images).map(fn)])
  for output in [eager] + list(mapped):
    assert output.shape == shape and output.dtype == np.float32
    assert abs(output.mean()) < 1e-4 and output.std() == pytest.approx(1.0, abs=1e-3)


def test_standardize_matches_formula_and_floor():
  image = _image()
  np.testing.assert_allclose(augment.standardize(image), _standardize_np(image), atol=1e-4)
  constant = augment.standardize(np.full((32, 32, 3), 7.0, np.float32)).numpy()
  np.testing.assert_array_equal(constant, 0.0)  # std floored at 1/sqrt(3072), mean removed
  uint8 = augment.standardize(image.astype(np.uint8))
  np.testing.assert_allclose(uint8, _standardize_np(image), atol=1e-4)


def test_scale_unit_eager_and_in_tf_data():
  image = _image((28, 28, 1))
  np.testing.assert_allclose(augment.scale_unit(image), image / 255.0, atol=1e-7)
  mapped = next(iter(tf.data.Dataset.from_tensors(image.astype(np.uint8)).map(augment.scale_unit)))
  assert mapped.dtype == tf.float32 and 0.0 <= float(tf.reduce_min(mapped))
  assert float(tf.reduce_max(mapped)) <= 1.0


@pytest.mark.parametrize("fn,pad", [(augment.augment_resnet, 2), (augment.augment_cifarnet, 8)])
def test_augmentation_is_a_padded_crop_with_flip(fn, pad):
  image = _image()
  seen = set()
  for step in range(24):
    output = fn(image, seed=tf.constant([step, 1], tf.int64)).numpy()
    seen.add(_which_candidate(output, image, pad, pad))
  offsets = {(dy, dx) for dy, dx, _ in seen}
  assert len(offsets) > 5 and {flip for _, _, flip in seen} == {False, True}
  # Stateful fallback (no seed) also produces a valid crop.
  _which_candidate(fn(image).numpy(), image, pad, pad)


def test_cifarnet_pads_a_quarter_of_the_size():
  image = _image((28, 28, 1))
  for step in range(8):
    output = augment.augment_cifarnet(image, seed=tf.constant([step, 2], tf.int64)).numpy()
    _which_candidate(output, image, 7, 7)


def test_stateless_seed_is_reproducible():
  image = _image()
  seed = tf.constant([3, 4], tf.int64)
  np.testing.assert_array_equal(augment.augment_resnet(image, seed=seed),
                                augment.augment_resnet(image, seed=seed))


def test_preprocess_fn_modes():
  image = _image()
  standardized = _standardize_np(image)
  for mode in ("resnet", "cifarnet", "standardize"):
    np.testing.assert_allclose(augment.preprocess_fn(mode, training=False)(image), standardized,
                               atol=1e-4)
  np.testing.assert_allclose(augment.preprocess_fn("standardize", training=True)(image),
                             standardized, atol=1e-4)
  for training in (True, False):
    np.testing.assert_allclose(augment.preprocess_fn("none", training)(image), image / 255.0,
                               atol=1e-7)
  train_resnet = augment.preprocess_fn("resnet", training=True)
  _which_candidate(train_resnet(image, seed=tf.constant([1, 2], tf.int64)).numpy(), image, 2, 2)
  with pytest.raises(ValueError, match="augmentation='auto'"):
    augment.preprocess_fn("auto", training=True)
