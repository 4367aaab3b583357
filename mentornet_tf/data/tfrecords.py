"""Reader of the ORIGINAL MentorNet CIFAR TFRecords (`code/cifar_data_provider.py`'s format).

Files `{dataset}_{split}-*` (e.g. `cifar10_train-00000-of-00005`) hold `tf.train.Example`s with
`image/encoded` (PNG bytes), `image/format` and an int64 label: `image/class/label` for CIFAR-10,
`image/class/fine_label` (plus `coarse_label`) for CIFAR-100. In the original noisy copies
(`data/cifar10/0.4/` ...) the stored label IS the noisy one and no clean label or id is stored.
Example ids are the record index in the order of the sorted file names.

tf.data errors do not say which file failed, so every file is scanned completely before it is
streamed (`scan_file`: its first record checked on its own, then every label read and every image
decoded and shape-checked); the scan names the file. A `sources.Source` scans the files of a split
once and keeps the result (count and labels). The scan runs no eager op (a private graph and
CPU-only session), so TensorFlow's devices stay unconfigured when validation scans: the
distribution strategy can still split the CPU into logical devices or configure collective ops
afterwards.
"""
import dataclasses
import functools
import re
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf

LABEL_KEYS = {"cifar10": "image/class/label", "cifar100": "image/class/fine_label"}


class CorruptDataError(ValueError):
  """A data file cannot be read or decoded; the message names the file."""


class LabelRangeError(ValueError):
  """A stored label does not fit the dataset's classes; names the dataset and the class count."""


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
  # Session errors: "Graph execution error:", "Detected at node ...", a stack, "Node: ...", then
  # the message itself.
  lines = [line.strip() for line in text.splitlines() if line.strip()]
  noise = ("Graph execution error", "Detected at node", "File ", "Node: ", "[[")
  useful = [line for line in lines if not line.startswith(noise) and not line.endswith(
      "(most recent call last):")]
  return (useful or lines or [error.message])[0]


def _run_private(build_fn):
  """Builds fetches with `build_fn()` in a fresh graph and runs them once in a CPU-only session.

  A session of its own (not eager execution): it neither initialises the eager context (whose
  logical devices and collective ops must be configured before first use) nor a GPU, and it
  works the same when called while a tf.function is being traced.
  """
  graph = tf.Graph()
  with graph.as_default():
    fetches = build_fn()
  config = tf.compat.v1.ConfigProto(device_count={"GPU": 0}, allow_soft_placement=True)
  with tf.compat.v1.Session(graph=graph, config=config) as session:
    return session.run(fetches)


def _first_record_problem(path: str, label_key: str, image_shape: Tuple[int, ...]) -> Optional[str]:
  """What is wrong with the first record of `path` (empty file, unreadable, bad image), or None.

  Cheap and specific (the messages of the common mistakes: an empty file, another dataset's
  label key, another image size); the full scan then checks every record. The record is read
  and parsed in Python and its image decoded in a private session, so no eager op runs.
  """
  if tf.io.gfile.stat(path).length == 0:
    return "the file is empty (0 bytes)"
  try:
    record = next(iter(tf.compat.v1.io.tf_record_iterator(path)), None)
  except tf.errors.OpError as error:
    return f"its first record cannot be read ({_short_message(error)})"
  if record is None:
    return "it holds no record"
  try:
    feature = tf.train.Example.FromString(record).features.feature
  except Exception as error:  # pylint: disable=broad-except  (protobuf DecodeError)
    return f"its first record is not a tf.train.Example ({error})"
  encoded = feature["image/encoded"].bytes_list.value if "image/encoded" in feature else []
  if len(encoded) != 1:
    return f"its first record has no image/encoded bytes (found {sorted(feature.keys())})"
  if label_key not in feature or len(feature[label_key].int64_list.value) != 1:
    return f"its first record has no int64 feature {label_key} (found {sorted(feature.keys())})"

  def build():
    return tf.shape(_decode_image(tf.constant(encoded[0]), image_shape))

  try:
    shape = tuple(int(d) for d in _run_private(build))
  except tf.errors.OpError as error:
    return f"its first record cannot be read or decoded ({_short_message(error)})"
  if shape != tuple(image_shape):
    return f"its first image decodes to shape {shape}, not {tuple(image_shape)}"
  return None


_DECODE_BATCH = 256


class _ShapeDecoder:
  """Decodes encoded images, `_DECODE_BATCH` per run, in a private graph and CPU-only session.

  tf.data (and `tf.map_fn`) would initialise the eager context even in a graph of their own, so
  the batch is unrolled: one placeholder and one decode op per slot (a short batch is padded with
  a known-good image). One per image shape and process (`_shape_decoder`), shared by every file.
  """

  def __init__(self, image_shape: Tuple[int, ...]):
    graph = tf.Graph()
    with graph.as_default():
      self._inputs = [tf.compat.v1.placeholder(tf.string, []) for _ in range(_DECODE_BATCH)]
      self._shapes = tf.stack([tf.shape(_decode_image(x, image_shape)) for x in self._inputs])
    config = tf.compat.v1.ConfigProto(device_count={"GPU": 0}, allow_soft_placement=True)
    self._session = tf.compat.v1.Session(graph=graph, config=config)

  def shapes(self, encoded: List[bytes], pad: bytes) -> np.ndarray:
    """int32 [len(encoded), 3]; raises tf.errors.OpError when an image does not decode."""
    padded = encoded + [pad] * (_DECODE_BATCH - len(encoded))
    return self._session.run(self._shapes, dict(zip(self._inputs, padded)))[:len(encoded)]

  def first_failure(self, encoded: List[bytes], pad: bytes) -> int:
    """The index of the first image of `encoded` that does not decode (-1 if none)."""
    for index, image in enumerate(encoded):
      try:
        self.shapes([image], pad)
      except tf.errors.OpError:
        return index
    return -1


@functools.lru_cache(maxsize=4)
def _shape_decoder(image_shape: Tuple[int, ...]) -> _ShapeDecoder:
  return _ShapeDecoder(image_shape)


def _scan_records(path: str, label_key: str,
                  image_shape: Tuple[int, ...]) -> Tuple[np.ndarray, int]:
  """(labels in record order, images of another shape), decoding every image of `path`.

  Records are read and parsed in Python and images decoded in a private session (see
  `_ShapeDecoder`): no eager op runs, so the scan of validation leaves TensorFlow's devices
  unconfigured, and it works the same while a dataset function is being traced.

  Raises:
    CorruptDataError: a record is not an Example, lacks a feature, or its image does not decode.
    tf.errors.OpError: the file cannot be read (truncated, corrupt).
  """
  labels, bad, pending, first = [], 0, [], 0
  decoder = _shape_decoder(tuple(image_shape))
  expected = np.asarray(image_shape)

  def flush():
    nonlocal bad
    try:
      shapes = decoder.shapes(pending, pad)
    except tf.errors.OpError as error:
      index = first + max(decoder.first_failure(pending, pad), 0)
      raise CorruptDataError(f"cannot read TFRecord file {path}: the image of record {index} "
                             f"does not decode ({_short_message(error)})") from None
    bad += int(np.count_nonzero(np.any(shapes != expected, axis=1)))
    pending.clear()

  for count, record in enumerate(tf.compat.v1.io.tf_record_iterator(path)):
    try:
      feature = tf.train.Example.FromString(record).features.feature
    except Exception as error:  # pylint: disable=broad-except  (protobuf DecodeError)
      raise CorruptDataError(f"cannot read TFRecord file {path}: record {count} is not a "
                             f"tf.train.Example ({error})") from None
    values = feature[label_key].int64_list.value if label_key in feature else []
    encoded = feature["image/encoded"].bytes_list.value if "image/encoded" in feature else []
    if len(values) != 1 or len(encoded) != 1:
      missing = label_key if len(values) != 1 else "image/encoded"
      raise CorruptDataError(f"cannot read TFRecord file {path}: record {count} has no "
                             f"{missing} feature (found {sorted(feature.keys())})")
    labels.append(values[0])
    if count == 0:
      pad = encoded[0]  # decodes (checked by _first_record_problem)
    pending.append(encoded[0])
    if len(pending) == _DECODE_BATCH:
      flush()
      first = count + 1
  if pending:
    flush()
  return np.asarray(labels, np.int64), bad


@dataclasses.dataclass(frozen=True)
class FileScan:
  """What the scan of one file found: its stored labels, in record order."""
  path: str
  labels: np.ndarray  # int64 [count], read-only

  @property
  def count(self) -> int:
    return len(self.labels)


@tf.autograph.experimental.do_not_convert  # plain Python control flow on numpy results
def scan_file(path: str, dataset_name: str, num_classes: int,
              image_shape: Tuple[int, ...]) -> FileScan:
  """Reads one file completely: count, label range and every image's shape.

  The first record is checked on its own first (precise messages for the common mistakes), then
  every record is parsed and its image decoded. No eager op runs (validation calls this).
  A `sources.Source` calls it once per file and keeps the result.

  Raises:
    CorruptDataError: the file is empty, truncated or corrupt, lacks a feature, or an image does
      not decode to `image_shape`; the message names the file.
    LabelRangeError: a label lies outside [0, num_classes).
  """
  label_key = LABEL_KEYS[dataset_name]
  problem = _first_record_problem(path, label_key, image_shape)
  if problem:
    raise CorruptDataError(f"{dataset_name} TFRecord file {path}: {problem}; "
                           f"--dataset_name={dataset_name} needs {tuple(image_shape)} images")
  try:
    labels, bad = _scan_records(path, label_key, image_shape)
  except tf.errors.OpError as error:  # DataLossError, InvalidArgumentError, ...
    raise CorruptDataError(f"cannot read {dataset_name} TFRecord file {path}: "
                           f"{_short_message(error)}") from None
  if bad:
    raise CorruptDataError(f"{path}: {bad} image(s) do not decode to shape {tuple(image_shape)} "
                           f"as --dataset_name={dataset_name} requires")
  if len(labels) and (labels.min() < 0 or labels.max() >= num_classes):
    raise LabelRangeError(f"--dataset_name={dataset_name} has {num_classes} classes but {path} "
                          f"holds labels in [{labels.min()}, {labels.max()}] (key {label_key}); "
                          f"labels must lie in [0, {num_classes})")
  labels.flags.writeable = False
  return FileScan(path, labels)


def scan_files(files: Sequence[str], dataset_name: str, num_classes: int,
               image_shape: Tuple[int, ...]) -> List[FileScan]:
  """`scan_file` of each file, in order (the files of one split)."""
  return [scan_file(path, dataset_name, num_classes, image_shape) for path in files]


def read_split(files: Sequence[str], dataset_name: str, image_shape: Tuple[int, ...],
               num_shards: int = 1, shard_index: int = 0) -> tf.data.Dataset:
  """The records of `files` in order as {'image': uint8 [H, W, C], 'label': int32, 'clean_label':
  int32 (the stored label: the original noisy copies store no other), 'id': int64}.

  Args:
    files: sorted file paths of one split.
    dataset_name: 'cifar10' or 'cifar100' (selects the label key).
    image_shape: (H, W, C) every image must decode to.
    num_shards: keep every num_shards-th record ...
    shard_index: ... starting at this one (sharding happens before decoding; ids are global).

  Returns:
    A finite dataset in id order (within the shard).

  The caller (`sources.TFRecordSplit`) has scanned the files first (`scan_files`): tf.data
  errors do not name the file.
  """
  label_key = LABEL_KEYS[dataset_name]
  spec = _feature_spec(label_key)

  def decode(example_id, record):
    example = tf.io.parse_single_example(record, spec)
    image = tf.ensure_shape(_decode_image(example["image/encoded"], image_shape), image_shape)
    label = tf.cast(example[label_key], tf.int32)
    return {"image": image, "label": label, "clean_label": label, "id": example_id}

  # One reader in file order: enumerate() then gives the global record index as the id.
  records = tf.data.TFRecordDataset(list(files)).enumerate()
  if num_shards > 1:
    records = records.shard(num_shards, shard_index)
  return records.map(decode, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
