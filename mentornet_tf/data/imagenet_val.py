"""ILSVRC12 val restricted to the WebVision classes: the second clean test set of a WebVision run
(the paper reports WebVision results on WebVision val and on ILSVRC12 val, §5.2).

`--imagenet_val_dir=DIR` (with --dataset_name=webvision, webvision_mini, or a tfrecord_shards
conversion of them) names the ImageNet data: a prepared tfds `imagenet2012` data directory (its
'validation' split) or a directory written by `python -m mentornet_tf.data.convert
--dataset_name=imagenet2012` (its test split). Classes are matched by synset name when the data
are resolved, never by id: every WebVision class's WordNet id (info/synsets.txt) must be one of
the ImageNet class names (tfds imagenet2012 names its classes by WordNet id), or the run is refused
with the missing synsets named. Images of other classes are dropped; labels are remapped to the
WebVision class ids; the counts are logged. Ids are the ImageNet val ids.

`extra_test_sets(source)` returns {'imagenet_val': ImagenetValSource} (or {}); the pipeline builds
its evaluation dataset like any test split (`pipeline.build_eval_dataset(source, augmentation)`),
and `train_lib` records its final metrics as `final_imagenet_val` in results.json.
"""
import os
import threading
from typing import Dict, Optional, Sequence, Tuple

from absl import logging
import numpy as np
import tensorflow as tf

from mentornet_tf.config import DataConfig
from mentornet_tf.data import shards
from mentornet_tf.data import source_base
from mentornet_tf.data.source_base import CorruptDataError, DataNotFoundError, LabelRangeError

NAME = "imagenet_val"
WEBVISION = ("webvision", "webvision_mini")
FLAG = "--imagenet_val_dir"


def synset_table(webvision: Sequence[str], imagenet: Sequence[str], where: str) -> np.ndarray:
  """int32 [len(imagenet)]: the WebVision class id of each ImageNet class, -1 for the others.

  Raises:
    CorruptDataError: a WebVision synset is not among the ImageNet class names, or is listed
      twice (names the synsets and `where` they were looked for).
  """
  index = {name: i for i, name in enumerate(imagenet)}
  missing = [name for name in webvision if name not in index]
  repeated = sorted({name for name in webvision if list(webvision).count(name) > 1})
  if missing or repeated:
    problem = (f"lack {len(missing)} of the {len(webvision)} WebVision synsets: "
               f"{', '.join(missing[:5])}"
               f"{f' and {len(missing) - 5} more' if len(missing) > 5 else ''}" if missing
               else f"cannot tell apart the repeated WebVision synsets {', '.join(repeated[:5])}")
    raise CorruptDataError(
        f"{where}: its {len(imagenet)} classes (e.g. {', '.join(list(imagenet)[:2])}) {problem}. "
        f"ILSVRC12 val is restricted to the WebVision classes by synset name (info/synsets.txt "
        f"against the ImageNet class names): point {FLAG} at a prepared imagenet2012")
  table = np.full([len(imagenet)], -1, np.int32)
  for webvision_id, name in enumerate(webvision):
    table[index[name]] = webvision_id
  return table


class RestrictedSplit(source_base.Split):
  """An ImageNet split keeping the WebVision classes, labels remapped to WebVision ids."""

  def __init__(self, inner: source_base.Split, table: np.ndarray, what: str):
    self.inner, self.table, self.what = inner, table, what
    self.format, self.files = inner.format, inner.files
    self._labels: Optional[Tuple[np.ndarray, np.ndarray]] = None
    self._lock = threading.Lock()

  def labels(self):
    """(stored, clean) WebVision ids of the kept examples, in the inner split's id order; the
    first call reads the inner labels (tfds: one pass over the records) and logs the counts."""
    with self._lock:
      if self._labels is None:
        stored, clean = self.inner.labels()
        keep = self.table[stored] >= 0
        self._labels = (self.table[stored][keep], self.table[clean][keep])
        logging.info("%s: %d of %d ILSVRC12 val images are in the %d WebVision classes", self.what,
                     int(keep.sum()), len(stored), int((self.table >= 0).sum()))
      return self._labels

  def num_examples(self):
    return len(self.labels()[0])

  def open(self, num_shards=1, shard_index=0):
    self.num_examples()  # logs the counts
    table = tf.constant(self.table)

    def remap(example):
      return dict(example, label=tf.gather(table, example["label"]),
                  clean_label=tf.gather(table, example["clean_label"]))

    return self.inner.open(num_shards, shard_index).filter(
        lambda example: tf.gather(table, example["label"]) >= 0).map(
            remap, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)


class ImagenetValSource(source_base.Source):
  """The 'test' split of ILSVRC12 val on the classes (and ids) of a WebVision source."""

  def __init__(self, webvision: source_base.Source):
    super().__init__(webvision.config)
    self.name = NAME
    directory = webvision.config.imagenet_val_dir
    self.num_classes, self.image_shape = webvision.num_classes, tuple(webvision.image_shape)
    self._names = tuple(webvision.class_names)
    self.inner = _imagenet_source(webvision.config)
    self.encoded = self.inner.encoded
    if not self.encoded and tuple(self.inner.image_shape) != self.image_shape:
      raise LabelRangeError(f"{FLAG}={directory!r} holds {self.inner.image_shape} images, the "
                            f"WebVision data {self.image_shape}")
    self.table = synset_table(self._names, self.inner.class_names, f"{FLAG}={directory!r}")

  @property
  def class_names(self):
    return self._names

  def _resolve_split(self, split):
    if split != "test":
      raise DataNotFoundError(f"{FLAG} is a test set only (asked for its {split} split)")
    return RestrictedSplit(self.inner.split("test"), self.table,
                           f"{FLAG}={self.config.imagenet_val_dir}")


def _imagenet_source(config: DataConfig) -> source_base.Source:
  """The source of --imagenet_val_dir: converted shards when it holds test/manifest.json, else the
  prepared tfds imagenet2012; messages name --imagenet_val_dir."""
  from mentornet_tf.data import sources  # pylint: disable=g-import-not-at-top  (the registry)
  directory = config.imagenet_val_dir
  converted = tf.io.gfile.exists(os.path.join(directory, "test", shards.MANIFEST))
  inner = DataConfig(dataset_name=shards.NAME if converted else "imagenet2012",
                     data_dir=directory, image_size=config.image_size,
                     batch_size=config.batch_size)
  try:
    return sources.resolve(inner)
  except (DataNotFoundError, CorruptDataError, LabelRangeError) as error:
    raise type(error)(str(error).replace("--data_dir", FLAG)) from None


def is_webvision(source: source_base.Source) -> bool:
  """WebVision data, or a conversion of them (class names = WordNet ids of info/synsets.txt)."""
  return source.name in WEBVISION or getattr(source, "converted_from", "") in WEBVISION


def extra_test_sets(source: source_base.Source) -> Dict[str, source_base.Source]:
  """{'imagenet_val': its source} when `--imagenet_val_dir` is set, else {} (synsets matched).

  Raises:
    CorruptDataError: the synsets do not match, or the training data are not WebVision.
    DataNotFoundError: no ImageNet data in --imagenet_val_dir.
  """
  if not source.config.imagenet_val_dir:
    return {}
  if not is_webvision(source):
    origin = getattr(source, "converted_from", "")
    raise CorruptDataError(
        f"{FLAG}={source.config.imagenet_val_dir!r} restricts ILSVRC12 val to the WebVision "
        f"classes, but --dataset_name={source.name} holds no WebVision data"
        f"{f' (converted from {origin})' if origin else ''}")
  return {NAME: ImagenetValSource(source)}
