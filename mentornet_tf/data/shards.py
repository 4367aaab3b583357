"""Converted data: the sharded TFRecords of `python -m mentornet_tf.data.convert`, and their reader,
`--dataset_name=tfrecord_shards --data_dir=<converted dir>`.

Layout (one directory per split, `shard_writer.py` writes it):

  <dir>/<split>/<split>-00000-of-00008.tfrecord ...   tf.train.Examples (FEATURES)
  <dir>/<split>/labels.npy      int32 [N, 2]: stored and clean label of each id, in id order
  <dir>/<split>/manifest.json   written last: FORMAT, the source, num_examples, num_classes,
                                class_names, the image format, the assignment and the shard list

Every record holds `image/encoded` (the encoded image as the source stored it: the JPEG/PNG bytes
of image files and tfds sets, or a PNG of a decoded uint8 image, or a serialized float32 tensor
for decoded float images, `image/format` in the manifest), `image/class/label` (the stored label),
`image/clean_label` (only where it differs) and `image/id` (the source's id, so that label noise,
keyed by (noise_seed, id), is the same before and after conversion). Examples are assigned to
shards deterministically: round-robin by id (id % num_shards) for sources that read any example
on its own (image files, in-memory sets; every shard then spans all classes of a path-sorted
list), contiguous id ranges for sources read in sequence (tfds, TFRecords; tfds shuffles its
files when preparing them). Within a shard ids ascend; `open` reads shard after shard.

The reader: the class names and image format come from the train split's manifest (the test
split's must agree); counts and labels from the manifest and labels.npy, so resolving reads no
record and runs no TensorFlow op. Sharded across input pipelines (`open(num_shards, index)`), a
pipeline reads only its own files when the files divide evenly enough (`file_shards`), else every
pipeline reads all records and keeps every num_shards-th.
"""
import json
import os
from typing import Dict, Optional, Sequence, Tuple

from absl import logging
import numpy as np
import tensorflow as tf

from mentornet_tf.data import source_base
from mentornet_tf.data.source_base import CorruptDataError, DataNotFoundError, LabelRangeError

NAME = "tfrecord_shards"
FORMAT = "mentornet_tf.tfrecord_shards/1"
MANIFEST = "manifest.json"
LABELS = "labels.npy"
# image/format of the manifest: the source's own encoding kept, or how a decoded image was stored.
ENCODED, PNG, RAW = "encoded", "png", "raw"
IMAGE_FORMATS = (ENCODED, PNG, RAW)
FEATURES = {
    "image/encoded": tf.io.FixedLenFeature([], tf.string),
    "image/class/label": tf.io.FixedLenFeature([], tf.int64),
    "image/clean_label": tf.io.FixedLenFeature([], tf.int64, default_value=-1),
    "image/id": tf.io.FixedLenFeature([], tf.int64),
}
# Pipelines read their own files only when their example counts differ by at most this share
# (unequal shares would over-sample the smaller shards in synchronous training).
MAX_IMBALANCE = 0.01
_CYCLE = 16  # files read at once (parallel reads, and a mix of shards before the shuffle buffer)


def shard_name(split: str, index: int, count: int) -> str:
  return f"{split}-{index:05d}-of-{count:05d}.tfrecord"


def read_manifest(directory: str) -> Optional[Dict]:
  """The manifest of a split directory, None when it has none (never or not yet converted).

  Raises:
    CorruptDataError: not JSON, or not a manifest of this FORMAT.
  """
  path = os.path.join(directory, MANIFEST)
  if not tf.io.gfile.exists(path):
    return None
  try:
    with tf.io.gfile.GFile(path) as f:
      manifest = json.load(f)
  except ValueError as error:
    raise CorruptDataError(f"{path} is not JSON ({error})") from None
  if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
    found = manifest.get("format") if isinstance(manifest, dict) else type(manifest).__name__
    raise CorruptDataError(f"{path} is not a manifest of {FORMAT} (format: {found!r})")
  return manifest


def is_remote(path: str) -> bool:
  """Whether a path names a file system behind a network (a URL scheme: gs://, s3://, ...)."""
  return "://" in path


def file_shards(counts: Sequence[int], num_shards: int) -> bool:
  """Whether pipelines take whole files: `num_shards` files or more that split evenly enough."""
  if num_shards <= 1 or len(counts) < num_shards:
    return num_shards <= 1
  sizes = [sum(counts[i::num_shards]) for i in range(num_shards)]
  return min(sizes) > 0 and max(sizes) <= (1 + MAX_IMBALANCE) * min(sizes)


class ShardSplit(source_base.Split):
  """One converted split: its shard files, counts and labels from the manifest and labels.npy."""

  format = "shards"

  def __init__(self, directory: str, manifest: Dict, image_shape: Tuple[int, ...]):
    self.directory = directory
    self.manifest = manifest
    self.files = tuple(os.path.join(directory, shard["file"]) for shard in manifest["shards"])
    self.counts = tuple(int(shard["num_examples"]) for shard in manifest["shards"])
    self.image_format = manifest["image"]["format"]
    # The converter saw only JPEGs (manifests written before it looked lack the field: tested).
    self.jpeg_only = self.image_format == ENCODED and manifest["image"].get("jpeg") is True
    self._image_shape = tuple(image_shape)
    missing = [path for path in self.files if not tf.io.gfile.exists(path)]
    if missing:
      raise DataNotFoundError(f"{directory}: {len(missing)} shard file(s) of its manifest are "
                              f"missing, e.g. {missing[0]}")
    self._labels = self._load_labels(int(manifest["num_classes"]))

  def _load_labels(self, num_classes: int) -> np.ndarray:
    path = os.path.join(self.directory, LABELS)
    try:
      with tf.io.gfile.GFile(path, "rb") as f:
        labels = np.load(f, allow_pickle=False)
    except (OSError, ValueError, tf.errors.OpError) as error:
      raise CorruptDataError(f"{path} cannot be read ({error})") from None
    total = sum(self.counts)
    if labels.shape != (total, 2) or int(self.manifest["num_examples"]) != total:
      raise CorruptDataError(f"{path} holds labels of shape {labels.shape}; the manifest's "
                             f"shards hold {total} examples (expected ({total}, 2))")
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
      raise LabelRangeError(f"{path} holds labels in [{labels.min()}, {labels.max()}] but the "
                            f"manifest has {num_classes} classes")
    labels = labels.astype(np.int32)
    labels.flags.writeable = False
    return labels

  def num_examples(self):
    return len(self._labels)

  def labels(self):
    return self._labels[:, 0], self._labels[:, 1]

  def shard_size(self, num_shards=1, shard_index=0):
    if num_shards <= 1 or not file_shards(self.counts, num_shards):
      return super().shard_size(num_shards, shard_index)
    sizes = [sum(self.counts[i::num_shards]) for i in range(num_shards)]
    if source_base.is_static(shard_index):
      return sizes[int(shard_index)]
    return tf.gather(tf.constant(sizes, tf.int64), tf.cast(shard_index, tf.int64))

  def read(self, element: Dict[str, tf.Tensor]) -> Dict[str, tf.Tensor]:
    """Parses one serialized record of `open_index` into the element contract."""
    example = tf.io.parse_single_example(element["record"], FEATURES)
    label = tf.cast(example["image/class/label"], tf.int32)
    clean = tf.cast(example["image/clean_label"], tf.int32)
    image = example["image/encoded"]
    if self.image_format == PNG:
      image = tf.ensure_shape(tf.io.decode_png(image, channels=self._image_shape[-1]),
                              self._image_shape)
    elif self.image_format == RAW:
      image = tf.ensure_shape(tf.io.parse_tensor(image, tf.float32), self._image_shape)
    return {"image": image, "label": label, "clean_label": tf.where(clean < 0, label, clean),
            "id": example["image/id"]}

  def open(self, num_shards=1, shard_index=0):
    return self.open_index(num_shards, shard_index).map(
        self.read, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)

  def open_index(self, num_shards=1, shard_index=0):
    """The serialized records ({'record': tf.string}) of this pipeline's share: the training
    pipeline shuffles them and parses each in its per-example map (`read`), as the Model Garden
    parses after its shuffle."""
    files = tf.data.Dataset.from_tensor_slices(list(self.files))
    by_file = num_shards > 1 and file_shards(self.counts, num_shards)
    if by_file:  # this pipeline's own files only
      files = files.shard(num_shards, tf.cast(shard_index, tf.int64))
    mine = max(1, len(self.files) // max(1, num_shards)) if by_file else len(self.files)
    # One record from each of `cycle` files in turn: the same order read in parallel or not.
    # Local files are read in the calling thread: a deterministic parallel interleave cost the
    # ImageNet pipeline ~5% of its CPU per image (benchmarks/input_pipeline.py); remote files
    # (gs://, s3://, hdfs://) are read in parallel to hide their latency.
    parallel = {"num_parallel_calls": tf.data.AUTOTUNE, "deterministic": True} \
        if any(is_remote(path) for path in self.files) else {}
    records = files.interleave(tf.data.TFRecordDataset, cycle_length=max(1, min(_CYCLE, mine)),
                               block_length=1, **parallel)
    if num_shards > 1 and not by_file:  # every pipeline reads all records, keeps its own
      records = records.shard(num_shards, tf.cast(shard_index, tf.int64))
    return records.map(lambda record: {"record": record})


class ShardSource(source_base.Source):
  """--dataset_name=tfrecord_shards: a directory written by `mentornet_tf.data.convert`."""

  def __init__(self, config):
    super().__init__(config)
    self._manifests: Dict[str, Dict] = {}
    try:
      self.manifest = self._manifest("train")
    except DataNotFoundError:
      try:  # a test split converted alone (e.g. ILSVRC12 val for --imagenet_val_dir)
        self.manifest = self._manifest("test")
      except DataNotFoundError:
        raise DataNotFoundError(str(self._missing("train"))) from None
    self.num_classes = int(self.manifest["num_classes"])
    self._names = tuple(self.manifest["class_names"])
    image = self.manifest["image"]
    self.encoded = image["format"] == ENCODED
    self.image_shape = ((config.image_size, config.image_size, 3) if self.encoded
                        else tuple(image["shape"]))

  @property
  def class_names(self):
    return self._names

  @property
  def converted_from(self) -> str:
    """The --dataset_name the data were converted from (e.g. 'webvision_mini')."""
    return str(self.manifest["source"]["dataset_name"])

  def _directory(self, split: str) -> str:
    return os.path.join(source_base.split_directory(self.config, split), split)

  def _missing(self, split: str) -> DataNotFoundError:
    flag = "--test_data_dir" if split == "test" and self.config.test_data_dir else "--data_dir"
    root = source_base.split_directory(self.config, split)
    return DataNotFoundError(
        f"{flag}={root!r}: no converted {split} split (expected {self._directory(split)}/"
        f"{MANIFEST}, written last by `python -m mentornet_tf.data.convert --output_dir=DIR`; a "
        f"conversion that was interrupted has none yet: run the same command again to finish it)")

  def _manifest(self, split: str) -> Dict:
    if split not in self._manifests:
      directory = self._directory(split)
      root = source_base.split_directory(self.config, split)
      manifest = read_manifest(directory) if root else None
      if manifest is None:
        raise self._missing(split)
      _check_fields(manifest, os.path.join(directory, MANIFEST), split)
      self._manifests[split] = manifest
    return self._manifests[split]

  def _resolve_split(self, split):
    manifest = self._manifest(split)
    if manifest is not self.manifest:
      for key in ("num_classes", "class_names"):
        if manifest[key] != self.manifest[key]:
          raise CorruptDataError(f"{self._directory(split)}/{MANIFEST}: its {key} differ from the "
                                 f"{self.manifest['split']} split's")
      if (manifest["image"]["format"] == ENCODED) != self.encoded:
        raise CorruptDataError(f"{self._directory(split)}: its images are stored as "
                               f"{manifest['image']['format']}, the {self.manifest['split']} "
                               f"split's as {self.manifest['image']['format']}")
    result = ShardSplit(self._directory(split), manifest, self.image_shape)
    logging.info("%s %s: %d examples in %d shards (converted from %s)", self.name, split,
                 result.num_examples(), len(result.files), manifest["source"]["dataset_name"])
    return result


def _check_fields(manifest: Dict, path: str, split: str) -> None:
  required = ("split", "source", "num_examples", "num_classes", "class_names", "image", "shards")
  missing = [key for key in required if key not in manifest]
  if missing:
    raise CorruptDataError(f"{path} lacks the field(s) {', '.join(missing)}")
  if manifest["split"] != split:
    raise CorruptDataError(f"{path} describes the {manifest['split']!r} split, not {split!r}")
  if manifest["image"].get("format") not in IMAGE_FORMATS:
    raise CorruptDataError(f"{path}: unknown image format {manifest['image'].get('format')!r}")
  if len(manifest["class_names"]) != int(manifest["num_classes"]):
    raise CorruptDataError(f"{path} names {len(manifest['class_names'])} classes, not "
                           f"num_classes={manifest['num_classes']}")


SOURCES = {NAME: ShardSource}
