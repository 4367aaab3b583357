"""Data sources: a dataset resolved ONCE from its DataConfig into a `Source`; the registry.

`resolve(config)` returns the `Source` of `config.dataset_name` (the `SOURCES` registry): its class
count, class names and image shape, and per split (resolved at first use, then kept) a `Split`
that knows its format, files and size and opens the split, or a shard of it, in id order
(`source_base.py` defines both and the element contract). The pipeline (`pipeline.py`) builds
everything from one `Source`. A new kind of data is a new `Source` subclass (and, where its files
need it, a new `Split`) registered in `SOURCES`. Sources, by `config.dataset_name`:

  mnist5k, digits, fake   in memory (`array_sources.py`).
  cifar10, cifar100       the original TF1 TFRecords or a prepared tfds directory
                          (`stored_sources.py`).
  cifar10_n, cifar100_n   tfds CIFAR images with CIFAR-N's human labels (`cifar_n.py`).
  filelist, folder, webvision, webvision_mini   encoded image files (`image_files.py`).
  imagenet2012, tfds:NAME prepared tensorflow-datasets sets (`tfds_sources.py`).
  tfrecord_shards         any of the above converted to sharded TFRecords by
                          `python -m mentornet_tf.data.convert` (`shards.py`, `shard_writer.py`).

The module functions `num_classes`, `image_shape`, `count_examples`, `open_split`, ... take a
DataConfig and resolve it on every call; code that asks more than once keeps the `Source`.
"""
from typing import Tuple, Union

import numpy as np
import tensorflow as tf

from mentornet_tf.config import DataConfig
from mentornet_tf.data import array_sources
from mentornet_tf.data import cifar_n
from mentornet_tf.data import image_files
from mentornet_tf.data import shards
from mentornet_tf.data import stored_sources
from mentornet_tf.data import tfds_sources
# The names callers know from this module (re-exported).
from mentornet_tf.data.array_sources import (ArraySplit, EmbeddedSource,  # noqa: F401
                                             FakeSource, _fake_arrays)
from mentornet_tf.data.source_base import (SPLITS, CorruptDataError,  # noqa: F401
                                           DataNotFoundError, LabelRangeError, Source, Split,
                                           check_split, split_directory)
from mentornet_tf.data.stored_sources import (CifarSource, TfdsSplit,  # noqa: F401
                                              TFRecordSplit, tfds_version_dir)

# --dataset_name -> its Source class (the keys are names.DATASETS, tested).
SOURCES = {}
for _module in (array_sources, stored_sources, cifar_n, image_files, tfds_sources, shards):
  SOURCES.update(_module.SOURCES)


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
  check_split(split)
  if not is_in_memory(config):
    raise ValueError(f"--dataset_name={config.dataset_name} is not an in-memory dataset")
  return as_source(config).split(split).arrays()


def resolve_format(config: DataConfig, split: str) -> str:
  """'memory', 'tfrecord', 'tfds', 'files' or 'shards' for this split (applies
  data_format='auto')."""
  return as_source(config).format(split)


def count_examples(config: DataConfig, split: str) -> int:
  """Examples in a split, cheaply (tfds metadata; the TFRecord scan, which names a bad file)."""
  return as_source(config).num_examples(split)


def open_split(config: DataConfig, split: str, num_shards: int = 1,
               shard_index: int = 0) -> tf.data.Dataset:
  """`Source.open` of `config`'s source (see there)."""
  return as_source(config).open(split, num_shards, shard_index)
