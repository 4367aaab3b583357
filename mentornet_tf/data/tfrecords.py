"""Reader of the ORIGINAL MentorNet CIFAR TFRecords (original_code.md §5).

Files `{dataset}_{split}-*` (e.g. `cifar10_train-00000-of-00005`) hold `tf.train.Example`s with
`image/encoded` (PNG bytes), `image/format` and an int64 label: `image/class/label` for CIFAR-10,
`image/class/fine_label` (plus `coarse_label`) for CIFAR-100. In the original noisy copies
(`data/cifar10/0.4/` ...) the stored label IS the noisy one and no clean label or id is stored.
Example ids are the record index in the order of the sorted file names.

tf.data errors do not say which file failed, so every file is scanned once per process before it is
streamed (count, label range and, for training, a full decode); the scan names the file.
"""
import re
import threading
from typing import Dict, List, Sequence, Tuple

import tensorflow as tf

LABEL_KEYS = {"cifar10": "image/class/label", "cifar100": "image/class/fine_label"}


class CorruptDataError(ValueError):
  """A data file cannot be read or decoded; the message names the file."""


class LabelRangeError(ValueError):
  """A stored label does not fit the dataset's classes; names the dataset and the class count."""


# (path, size, mtime, label key, shape) -> (count, decoded?) so that a file is scanned once.
_SCAN_CACHE: Dict[Tuple, Tuple[int, bool]] = {}
_SCAN_LOCK = threading.Lock()


def file_pattern(directory: str, dataset_name: str, split: str) -> str:
  return f"{directory.rstrip('/')}/{dataset_name}_{split}-*"


def list_files(directory: str, dataset_name: str, split: str) -> List[str]:
  """Sorted `{directory}/{dataset_name}_{split}-*` (sorted: ids follow this order). [] if none."""
  if not directory or not tf.io.gfile.isdir(directory):
    return []
  return sorted(tf.io.gfile.glob(file_pattern(directory, dataset_name, split)))


def _feature_spec(label_key: str) -> Dict[str, tf.io.FixedLenFeature]:
  return {
      "image/encoded": tf.io.FixedLenFeature([], tf.string),
      label_key: tf.io.FixedLenFeature([], tf.int64),
  }


def _decode_image(encoded: tf.Tensor, image_shape: Sequence[int]) -> tf.Tensor:
  # decode_image reads PNG (the original's format) and also JPEG, whatever image/format says.
  return tf.io.decode_image(encoded, channels=image_shape[-1], expand_animations=False)


def _short_message(error: tf.errors.OpError) -> str:
  """The first line of a TF error without its '{{function_node ...}}' prefix."""
  text = re.sub(r"\{\{function_node [^}]*\}\}\s*", "", error.message).strip()
  return text.splitlines()[0] if text else error.message


@tf.autograph.experimental.do_not_convert  # plain Python control flow on eager results
def _scan_file(path: str, dataset_name: str, num_classes: int, image_shape: Tuple[int, ...],
               decode: bool) -> int:
  """Reads one file completely and returns its record count.

  Raises:
    CorruptDataError: the file is truncated/corrupt, lacks a feature, or an image does not decode
      to `image_shape`.
    LabelRangeError: a label lies outside [0, num_classes).
  """
  label_key = LABEL_KEYS[dataset_name]
  stat = tf.io.gfile.stat(path)
  key = (path, stat.length, stat.mtime_nsec, label_key, tuple(image_shape), num_classes)
  with _SCAN_LOCK:
    cached = _SCAN_CACHE.get(key)
  if cached is not None and (cached[1] or not decode):
    return cached[0]

  spec = _feature_spec(label_key)

  def parse_and_decode(record):
    example = tf.io.parse_single_example(record, spec)
    image = _decode_image(example["image/encoded"], image_shape)
    return example[label_key], tf.reduce_any(tf.not_equal(tf.shape(image), image_shape))

  def parse_batch(records):  # labels only: the cheap count of `dataset_info`
    labels = tf.io.parse_example(records, {label_key: spec[label_key]})[label_key]
    return labels, tf.zeros_like(labels, tf.bool)

  def accumulate(state, batch):
    count, low, high, bad = state
    labels, bad_shape = batch
    return (count + tf.size(labels, tf.int64), tf.minimum(low, tf.reduce_min(labels)),
            tf.maximum(high, tf.reduce_max(labels)), bad + tf.math.count_nonzero(bad_shape))

  # init_scope: the scan runs eagerly even when a dataset function is being traced
  # (ParameterServerStrategy traces `dataset_fn` in a tf.function to create per-worker datasets).
  try:
    with tf.init_scope():
      records = tf.data.TFRecordDataset(path)
      if decode:
        records = records.map(parse_and_decode, num_parallel_calls=tf.data.AUTOTUNE).batch(1024)
      else:
        records = records.batch(1024).map(parse_batch, num_parallel_calls=tf.data.AUTOTUNE)
      init = (tf.constant(0, tf.int64), tf.constant(2**62, tf.int64),
              tf.constant(-2**62, tf.int64), tf.constant(0, tf.int64))
      count, low, high, bad = (int(v) for v in records.reduce(init, accumulate))
  except (tf.errors.DataLossError, tf.errors.InvalidArgumentError) as error:
    raise CorruptDataError(f"cannot read {dataset_name} TFRecord file {path}: "
                           f"{_short_message(error)}") from None
  if bad:
    raise CorruptDataError(f"{path}: {bad} image(s) do not decode to shape {tuple(image_shape)} "
                           f"as --dataset_name={dataset_name} requires")
  if count and (low < 0 or high >= num_classes):
    raise LabelRangeError(f"--dataset_name={dataset_name} has {num_classes} classes but {path} "
                          f"holds labels in [{low}, {high}] (key {label_key}); labels must lie in "
                          f"[0, {num_classes})")
  with _SCAN_LOCK:
    _SCAN_CACHE[key] = (count, decode)
  return count


def count_records(files: Sequence[str], dataset_name: str, num_classes: int,
                  image_shape: Tuple[int, ...], decode: bool = False) -> int:
  """Total records of `files`, validating each file (see `_scan_file`); cached per process."""
  return sum(_scan_file(path, dataset_name, num_classes, image_shape, decode) for path in files)


def read_split(files: Sequence[str], dataset_name: str, num_classes: int,
               image_shape: Tuple[int, ...], num_shards: int = 1,
               shard_index: int = 0) -> tf.data.Dataset:
  """The records of `files` in order as {'image': uint8 [H, W, C], 'label': int32, 'id': int64}.

  Args:
    files: sorted file paths of one split.
    dataset_name: 'cifar10' or 'cifar100' (selects the label key).
    num_classes: class count for the label check.
    image_shape: (H, W, C) every image must decode to.
    num_shards: keep every num_shards-th record ...
    shard_index: ... starting at this one (sharding happens before decoding; ids are global).

  Returns:
    A finite dataset in id order (within the shard).

  Raises:
    CorruptDataError, LabelRangeError: from the per-file scan.
  """
  count_records(files, dataset_name, num_classes, image_shape, decode=True)
  label_key = LABEL_KEYS[dataset_name]
  spec = _feature_spec(label_key)

  def decode(example_id, record):
    example = tf.io.parse_single_example(record, spec)
    image = tf.ensure_shape(_decode_image(example["image/encoded"], image_shape), image_shape)
    return {"image": image, "label": tf.cast(example[label_key], tf.int32), "id": example_id}

  # One reader in file order: enumerate() then gives the global record index as the id.
  records = tf.data.TFRecordDataset(list(files)).enumerate()
  if num_shards > 1:
    records = records.shard(num_shards, shard_index)
  return records.map(decode, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
