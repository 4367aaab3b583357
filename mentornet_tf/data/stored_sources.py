"""CIFAR-10/100 on disk: the original TF1 TFRecords (`tfrecords.py`) or a prepared
tensorflow-datasets directory, read with no download; and the two split readers behind them,
`TFRecordSplit` and `TfdsSplit` (also used by `tfds_sources.py`).

`config.data_dir` holds the data (the test split `config.test_data_dir` when set).
`data_format='auto'` picks TFRecords when `{name}_{split}-*` files exist, else tfds (per split).
tfds ids are the read order of the prepared files (the tfds string `id` feature is not used).
A TFRecord split is scanned once per `Source` (count, label range, every image decoded;
`tfrecords.scan_file`) and the result kept.
"""
import os
import threading
from typing import List, Optional, Tuple

import numpy as np
import tensorflow as tf

from mentornet_tf.config import DataConfig
from mentornet_tf.data import tfrecords
from mentornet_tf.data.source_base import (CorruptDataError, DataNotFoundError, LabelRangeError,
                                           Source, Split, split_directory)

_CIFAR_CLASSES = {"cifar10": 10, "cifar100": 100}
_CIFAR_SHAPE = (32, 32, 3)


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
  """A split of a prepared tensorflow-datasets directory (metadata sizes, no download).

  Sharded by record index before decoding (every worker reads the records, decodes its own):
  for many workers, convert the data to shards (`mentornet_tf.data.convert`), read per file.
  """

  format = "tfds"

  def __init__(self, builder, split: str, dataset_name: str, num_classes: int,
               encoded: bool = False, jpeg_only: bool = False):
    self._builder, self._split = builder, split
    self._dataset_name, self._num_classes = dataset_name, num_classes
    self._encoded = encoded  # yield the stored (JPEG) bytes, decoded later by the pipeline
    self.jpeg_only = encoded and jpeg_only  # the builder stores JPEG only (imagenet2012)

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


def _not_found(config: DataConfig, split: str, detail: str) -> DataNotFoundError:
  name, directory = config.dataset_name, split_directory(config, split)
  flag = "--test_data_dir" if split == "test" and config.test_data_dir else "--data_dir"
  return DataNotFoundError(
      f"{flag}={directory!r}: no {name} {split} split found ({detail}). Either point {flag} at "
      f"the original MentorNet TFRecords ({name}_{split}-* files, e.g. data/{name}/0.4 for "
      f"training and data/{name}/val for testing), or prepare tensorflow-datasets on a machine "
      f"with internet (`tfds build {name} --data_dir=DIR`) and copy DIR here: it must contain "
      f"{name}/<version>/dataset_info.json. Downloads are never attempted.")


def tfds_version_dir(directory: str, name: str) -> str:
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
    version_dir = tfds_version_dir(directory, name) if directory else ""
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


SOURCES = {"cifar10": CifarSource, "cifar100": CifarSource}
