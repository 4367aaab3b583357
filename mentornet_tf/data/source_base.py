"""The two abstractions every data source is made of: `Source` (a dataset resolved once from its
DataConfig) and `Split` (one resolved split: format, files, size, stored labels, reader).

`Split.open` yields {'image': uint8 or float32 [H, W, C] in 0..255 (or the encoded bytes, a
tf.string scalar, for a `Source.encoded` source), 'label': int32 (the STORED label),
'clean_label': int32 (the true label where the source knows it, else the stored one), 'id': int64
(index in the split, stable)}. Synthetic label noise and preprocessing come later (`pipeline.py`).
The concrete sources live beside this module (`array_sources.py`, `stored_sources.py`,
`image_files.py`, `tfds_sources.py`, `shards.py`); `sources.py` is their registry.

Sharding: `open(num_shards, shard_index)` keeps the examples of one input pipeline; `shard_index`
may be a scalar int64 tensor (the parameter-server worker index, known only when a worker runs
the dataset function), so implementations select with `tf.data.Dataset.shard`, never with Python
indexing on it. `shard_size` says how many examples a shard holds.
"""
import abc
import threading
from typing import Dict, Tuple, Union

import numpy as np
import tensorflow as tf

from mentornet_tf.config import DataConfig
from mentornet_tf.data.tfrecords import CorruptDataError, LabelRangeError  # noqa: F401 (re-export)

SPLITS = ("train", "test")
ShardIndex = Union[int, tf.Tensor]  # a Python int, or a scalar integer tensor (parameter server)


class DataNotFoundError(FileNotFoundError):
  """The requested data are not where the flags say; the message says how to prepare them."""


def check_split(split: str) -> None:
  if split not in SPLITS:
    raise ValueError(f"split={split!r} is invalid: choose one of {', '.join(SPLITS)}")


def split_directory(config: DataConfig, split: str) -> str:
  """The directory a split is read from: `test_data_dir` for 'test' when set, else `data_dir`."""
  return config.test_data_dir if split == "test" and config.test_data_dir else config.data_dir


def is_static(shard_index: ShardIndex) -> bool:
  """Whether the shard index is known in Python (else it is a tensor)."""
  return isinstance(shard_index, (int, np.integer))


def strided_count(total: int, num_shards: int, shard_index: ShardIndex):
  """len(range(shard_index, total, num_shards)): the size of a strided shard (int or tensor)."""
  if is_static(shard_index):
    return len(range(int(shard_index), total, num_shards))
  index = tf.cast(shard_index, tf.int64)
  return tf.maximum(tf.constant(total, tf.int64) - index + num_shards - 1, 0) // num_shards


# ----------------------------------------------------------------------------- one split

class Split(abc.ABC):
  """One resolved split: its format, files and size, its stored labels, and how to read it."""

  format: str = ""           # 'memory', 'tfrecord', 'tfds', 'files', 'shards'
  files: Tuple[str, ...] = ()  # the files read, in id order (empty when not file-backed)
  # Whether `open(num_shards, shard_index)` reads only that shard's examples (in memory, or one
  # file per example); otherwise it reads the whole split and keeps the shard's records.
  random_access: bool = False
  # Every encoded image of the split is a JPEG (tfds imagenet2012; shards whose converter saw only
  # JPEGs): the pipeline crops while decoding without testing each image's format.
  jpeg_only: bool = False

  @abc.abstractmethod
  def num_examples(self) -> int:
    """Examples in the split, cheaply (no image decoding beyond a file-backed split's one scan)."""

  @abc.abstractmethod
  def labels(self) -> Tuple[np.ndarray, np.ndarray]:
    """(stored label, clean label), int32 [num_examples] in id order."""

  @abc.abstractmethod
  def open(self, num_shards: int = 1, shard_index: ShardIndex = 0) -> tf.data.Dataset:
    """The split, finite: {'image', 'label', 'clean_label', 'id'} per example, in id order
    (a converted split, `shards.py`: shard file by shard file, ids ascending within a file).

    Keeps the examples of input pipeline `shard_index` of `num_shards` (ids stay global): every
    num_shards-th example from shard_index, or, for a split of many files, whole files.
    """

  def shard_size(self, num_shards: int = 1, shard_index: ShardIndex = 0):
    """Examples `open(num_shards, shard_index)` yields (an int, or a tensor for a tensor index)."""
    return strided_count(self.num_examples(), num_shards, shard_index)

  def open_index(self, num_shards: int = 1, shard_index: ShardIndex = 0) -> tf.data.Dataset:
    """`open` before its expensive part (file-backed images: the path, not yet read), so that a
    pipeline can shuffle cheap elements; `read` completes one. Default: `open` itself."""
    return self.open(num_shards, shard_index)

  def read(self, element: Dict[str, tf.Tensor]) -> Dict[str, tf.Tensor]:
    """Completes an element of `open_index` into the contract (default: unchanged)."""
    return element


# ----------------------------------------------------------------------------- one source

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
    check_split(split)
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

  def open(self, split: str, num_shards: int = 1, shard_index: ShardIndex = 0) -> tf.data.Dataset:
    """One split, finite and in id order.

    Returns:
      A dataset of {'image': uint8/float32 [H, W, C] in 0..255, 'label': int32 (stored),
      'clean_label': int32, 'id': int64}; with num_shards > 1 the examples of input pipeline
      shard_index (ids stay global).

    Raises:
      DataNotFoundError: the split is not where the flags say.
      CorruptDataError: a file cannot be read or decoded (names the file).
      LabelRangeError: labels outside [0, num_classes) (names the dataset and the class count).
    """
    return self.split(split).open(num_shards, shard_index)

  def __repr__(self):
    return f"{type(self).__name__}({self.name!r}, {self.num_classes} classes, {self.image_shape})"
