"""Reader of the ORIGINAL MentorNet CIFAR TFRecords (original_code.md §5).

Files `{dataset}_{split}-*` (e.g. `cifar10_train-00000-of-00005`) hold `tf.train.Example`s with
`image/encoded` (PNG bytes), `image/format` and an int64 label: `image/class/label` for CIFAR-10,
`image/class/fine_label` (plus `coarse_label`) for CIFAR-100. In the original noisy copies
(`data/cifar10/0.4/` ...) the stored label IS the noisy one and no clean label or id is stored.
Example ids are the record index in the order of the sorted file names.

tf.data errors do not say which file failed, so every file is scanned once per process before it is
streamed (its first image decoded and its shape checked, then count, label range and, for training,
a full decode); the scan names the file. The scan of validation (`decode=False`) runs no eager op
(the first image is decoded in a private graph and CPU-only session, labels are read in Python),
so TensorFlow's devices stay unconfigured: the distribution strategy can still split the CPU into
logical devices or configure collective ops afterwards.
"""
import re
import threading
from typing import Dict, List, Optional, Sequence, Tuple

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

  The record is read and parsed in Python and its image decoded in a private session, so no
  eager op runs (see the module docstring).
  """
  del label_key  # the label scan checks it, for every record
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

  def build():
    return tf.shape(_decode_image(tf.constant(encoded[0]), image_shape))

  try:
    shape = tuple(int(d) for d in _run_private(build))
  except tf.errors.OpError as error:
    return f"its first record cannot be read or decoded ({_short_message(error)})"
  if shape != tuple(image_shape):
    return f"its first image decodes to shape {shape}, not {tuple(image_shape)}"
  return None


def _scan_labels(path: str, label_key: str) -> Tuple[int, int, int, int]:
  """(count, lowest label, highest label, 0) of a file, read in Python (no TensorFlow op runs).

  The cheap scan of `dataset_info` (validation): the record reader and protobuf parsing leave
  the eager context uninitialised.
  """
  count, low, high = 0, 2**62, -2**62
  for record in tf.compat.v1.io.tf_record_iterator(path):
    try:
      feature = tf.train.Example.FromString(record).features.feature
    except Exception as error:  # pylint: disable=broad-except  (protobuf DecodeError)
      raise CorruptDataError(f"cannot read TFRecord file {path}: record {count} is not a "
                             f"tf.train.Example ({error})") from None
    values = feature[label_key].int64_list.value if label_key in feature else []
    if len(values) != 1:
      raise CorruptDataError(f"cannot read TFRecord file {path}: record {count} has no int64 "
                             f"feature {label_key} (found {sorted(feature.keys())})")
    low, high = min(low, values[0]), max(high, values[0])
    count += 1
  return count, low, high, 0


def _scan_decoding(path: str, label_key: str,
                   image_shape: Tuple[int, ...]) -> Tuple[int, int, int, int]:
  """(count, lowest label, highest label, images of another shape), decoding every image."""
  spec = _feature_spec(label_key)

  def parse_and_decode(record):
    example = tf.io.parse_single_example(record, spec)
    image = _decode_image(example["image/encoded"], image_shape)
    return example[label_key], tf.reduce_any(tf.not_equal(tf.shape(image), image_shape))

  def accumulate(state, batch):
    count, low, high, bad = state
    labels, bad_shape = batch
    return (count + tf.size(labels, tf.int64), tf.minimum(low, tf.reduce_min(labels)),
            tf.maximum(high, tf.reduce_max(labels)), bad + tf.math.count_nonzero(bad_shape))

  # init_scope: the scan runs eagerly even when a dataset function is being traced
  # (ParameterServerStrategy traces `dataset_fn` in a tf.function to create per-worker datasets).
  with tf.init_scope():
    records = tf.data.TFRecordDataset(path)
    records = records.map(parse_and_decode, num_parallel_calls=tf.data.AUTOTUNE).batch(1024)
    init = (tf.constant(0, tf.int64), tf.constant(2**62, tf.int64),
            tf.constant(-2**62, tf.int64), tf.constant(0, tf.int64))
    return tuple(int(v) for v in records.reduce(init, accumulate))


@tf.autograph.experimental.do_not_convert  # plain Python control flow on eager results
def _scan_file(path: str, dataset_name: str, num_classes: int, image_shape: Tuple[int, ...],
               decode: bool) -> int:
  """Reads one file completely and returns its record count.

  The first record's image is always decoded and its shape checked; with `decode` every image
  is (training), without it only the labels are read, in Python (validation: no eager op).

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

  problem = _first_record_problem(path, label_key, image_shape)
  if problem:
    raise CorruptDataError(f"{dataset_name} TFRecord file {path}: {problem}; "
                           f"--dataset_name={dataset_name} needs {tuple(image_shape)} images")
  try:
    if decode:
      count, low, high, bad = _scan_decoding(path, label_key, image_shape)
    else:
      count, low, high, bad = _scan_labels(path, label_key)
  except tf.errors.OpError as error:  # DataLossError, InvalidArgumentError, ...
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
