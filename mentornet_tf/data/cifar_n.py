"""CIFAR-10N / CIFAR-100N (Wei et al., ICLR 2022): CIFAR's training images with real human labels.

  --dataset_name=cifar10_n  --cifar_n_labels=aggre|worst|rand1|rand2|rand3 (auto: aggre)
  --dataset_name=cifar100_n --cifar_n_labels=noisy100 (auto)

The images are the prepared tfds `cifar10` / `cifar100` in --data_dir (as for
--dataset_name=cifar10, WORKSPACE.md "Preparing CIFAR"); the human labels come from the official
label files of github.com/UCSC-REAL/cifar-10-100n (CC BY-NC 4.0: never bundled here; the user
downloads them) in --cifar_n_dir (default --data_dir), either

  CIFAR-10_human.pt / CIFAR-100_human.pt  (the repository's data/ files: a torch zip whose
      data.pkl holds a dict of numpy label arrays in CIFAR's file order; read without torch by an
      unpickler that admits numpy arrays only), or
  CIFAR-10_human_ordered.npy + image_order_c10.npy (CIFAR-100: ..._c100.npy), the files the tfds
      builders `cifar10_n` / `cifar100_n` take: the labels in tfds order and, per tfds position i,
      the file index image_order[i] (so file_order[image_order[i]] = ordered[i]).

Each training example is joined to its labels through the tfds `id` feature, `train_<file index>`
(tfds' cifar builders), so the prepared files' shuffling does not matter; the file's
`clean_label` must equal the tfds label (checked), and it is kept as 'clean_label' for
diagnostics, never trained on. The test split is CIFAR's clean test split. Label sets (the
keys of the files): aggre -> aggre_label, worst -> worse_label, rand1..3 -> random_label1..3,
noisy100 -> noisy_label (.pt) / noise_label (ordered .npy).
"""
import dataclasses
import importlib
import io
import os
import pickle
import zipfile
from typing import Dict, Optional, Tuple

import numpy as np
import tensorflow as tf

from mentornet_tf.data import class_maps
from mentornet_tf.data import stored_sources
from mentornet_tf.data.source_base import CorruptDataError, DataNotFoundError, Source

BASES = {"cifar10_n": "cifar10", "cifar100_n": "cifar100"}
LABEL_SETS = {"cifar10_n": ("aggre", "worst", "rand1", "rand2", "rand3"),
              "cifar100_n": ("noisy100",)}
_KEYS = {"aggre": ("aggre_label",), "worst": ("worse_label",), "rand1": ("random_label1",),
         "rand2": ("random_label2",), "rand3": ("random_label3",),
         "noisy100": ("noisy_label", "noise_label")}
_FILES = {"cifar10_n": ("CIFAR-10_human.pt", "CIFAR-10_human_ordered.npy", "image_order_c10.npy"),
          "cifar100_n": ("CIFAR-100_human.pt", "CIFAR-100_human_ordered.npy",
                         "image_order_c100.npy")}
URL = "https://github.com/UCSC-REAL/cifar-10-100n"
# What the label files may unpickle: numpy arrays and the codecs numpy's pickles use.
_ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
            ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
            ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode"),
            ("collections", "OrderedDict")}


def label_set(dataset_name: str, requested: str) -> str:
  """The label set of `--cifar_n_labels` ('auto': aggre for CIFAR-10N, noisy100 for CIFAR-100N)."""
  return LABEL_SETS[dataset_name][0] if requested == "auto" else requested


class _NumpyOnly(pickle.Unpickler):
  """Unpickles numpy arrays, lists, dicts and numbers; refuses anything else (torch tensors)."""

  def find_class(self, module, name):
    if (module, name) not in _ALLOWED:
      raise pickle.UnpicklingError(f"{module}.{name} is not a numpy array")
    try:
      return getattr(importlib.import_module(module), name)
    except ImportError:  # numpy 1.x pickles read under numpy 2, and back
      other = module.replace("numpy._core", "numpy.core") if "_core" in module else \
          module.replace("numpy.core", "numpy._core")
      return getattr(importlib.import_module(other), name)

  def persistent_load(self, pid):
    raise pickle.UnpicklingError("it holds torch tensors; the official files hold numpy arrays")


def _unpickle(data: bytes, path: str):
  try:
    return _NumpyOnly(io.BytesIO(data)).load()
  except Exception as error:  # any malformed pickle: name the file
    raise CorruptDataError(f"{path} is not a CIFAR-N label file: {error}") from None


def read_pt(path: str) -> Dict[str, np.ndarray]:
  """The dict of a CIFAR-N `.pt` file (a torch zip archive), without torch."""
  try:
    with zipfile.ZipFile(path) as archive:
      names = [n for n in archive.namelist() if n == "data.pkl" or n.endswith("/data.pkl")]
      if not names:
        raise CorruptDataError(f"{path} is not a CIFAR-N label file: no data.pkl in the archive")
      data = archive.read(names[0])
  except (OSError, zipfile.BadZipFile) as error:
    raise CorruptDataError(f"{path} is not a CIFAR-N label file: {error}") from None
  value = _unpickle(data, path)
  if not isinstance(value, dict):
    raise CorruptDataError(f"{path} is not a CIFAR-N label file: holds {type(value).__name__}")
  return {key: np.asarray(labels) for key, labels in value.items()}


def read_ordered_npy(path: str, order_path: str) -> Dict[str, np.ndarray]:
  """The dict of a CIFAR-N `*_ordered.npy` file, put back into file order with `image_order`."""
  try:
    with open(path, "rb") as f:
      version = np.lib.format.read_magic(f)
      if version not in ((1, 0), (2, 0)):
        raise CorruptDataError(f"{path}: .npy format version {version} is not 1.0 or 2.0")
      read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                     else np.lib.format.read_array_header_2_0)
      shape, _, dtype = read_header(f)
      if dtype != np.dtype(object) or shape != ():
        raise CorruptDataError(f"{path} is not a CIFAR-N label file: a {dtype} array of shape "
                               f"{shape}, not a pickled dict")
      value = _unpickle(f.read(), path)
    order = np.load(order_path, allow_pickle=False)
  except (OSError, ValueError) as error:
    raise CorruptDataError(f"{path} / {order_path}: {error}") from None
  value = value.item() if isinstance(value, np.ndarray) else value
  if not isinstance(value, dict):
    raise CorruptDataError(f"{path} is not a CIFAR-N label file: holds {type(value).__name__}")
  order = np.asarray(order).reshape(-1)
  if sorted(order.tolist()) != list(range(len(order))):
    raise CorruptDataError(f"{order_path} is not a permutation of 0..{len(order) - 1}")
  out = {}
  for key, labels in value.items():
    labels = np.asarray(labels).reshape(-1)
    if len(labels) != len(order):
      raise CorruptDataError(f"{path}: {key} has {len(labels)} labels, {order_path} "
                             f"{len(order)} positions")
    out[key] = np.empty_like(labels)
    out[key][order] = labels
  return out


def read_labels(directory: str, dataset_name: str, labels: str) -> Tuple[np.ndarray, np.ndarray,
                                                                          str]:
  """(noisy labels, clean labels) int32 [50000] in CIFAR's file order, and the file read.

  Raises:
    DataNotFoundError: no label file in `directory` (says where to get them and put them).
    CorruptDataError: a file that cannot be read, or lacks the requested labels.
  """
  pt_name, npy_name, order_name = _FILES[dataset_name]
  pt, npy, order = (os.path.join(directory, name) for name in _FILES[dataset_name])
  if os.path.isfile(pt):
    table, path = read_pt(pt), pt
  elif os.path.isfile(npy) and os.path.isfile(order):
    table, path = read_ordered_npy(npy, order), npy
  else:
    raise DataNotFoundError(
        f"--cifar_n_dir={directory!r}: no {dataset_name} label file: put {pt_name} (or "
        f"{npy_name} with {order_name}) there. Download them from {URL} (directory data/; "
        "licence CC BY-NC 4.0, so mentornet_tf does not ship them); the images come from the "
        f"prepared tfds {BASES[dataset_name]} in --data_dir.")
  key = next((k for k in _KEYS[labels] if k in table), None)
  if key is None or "clean_label" not in table:
    raise CorruptDataError(f"{path} has no {' / '.join(_KEYS[labels])} or clean_label labels "
                           f"(--cifar_n_labels={labels}); it holds {sorted(table)}")
  noisy, clean = (np.asarray(table[k]).reshape(-1).astype(np.int64) for k in (key, "clean_label"))
  classes = 10 if dataset_name == "cifar10_n" else 100
  for name, values in ((key, noisy), ("clean_label", clean)):
    if len(values) != len(clean) or values.min() < 0 or values.max() >= classes:
      raise CorruptDataError(f"{path}: {name} must hold {len(clean)} labels in [0, {classes})")
  return noisy.astype(np.int32), clean.astype(np.int32), path


def _file_index(example) -> tf.Tensor:
  """tfds cifar's `id` 'train_00042' -> 42 (the index in CIFAR's files)."""
  return tf.strings.to_number(tf.strings.split(example["id"], "_")[-1], tf.int64)


class CifarNSplit(stored_sources.TfdsSplit):
  """The tfds CIFAR training split with CIFAR-N's labels joined by file index."""

  def __init__(self, builder, dataset_name: str, num_classes: int, noisy: np.ndarray,
               clean: np.ndarray, label_file: str):
    super().__init__(builder, "train", dataset_name, num_classes)
    self._noisy, self._clean, self._label_file = noisy, clean, label_file

  def labels(self):
    pairs = self._records().map(lambda _, example: (_file_index(example), example["label"]))
    batches = [(i.numpy(), l.numpy()) for i, l in pairs.batch(65536)]
    index = np.concatenate([b[0] for b in batches]) if batches else np.zeros([0], np.int64)
    stored = np.concatenate([b[1] for b in batches]) if batches else np.zeros([0], np.int64)
    if index.size and (index.max() >= len(self._clean) or
                       np.any(self._clean[index] != stored)):
      raise CorruptDataError(f"{self._label_file}: its clean_label does not match the tfds "
                             "images' labels (another CIFAR, or a label file of another order)")
    return self._noisy[index], self._clean[index]

  def open(self, num_shards=1, shard_index=0):
    image_feature = self._builder.info.features["image"]
    noisy, clean = tf.constant(self._noisy), tf.constant(self._clean)
    records = self._records()
    if num_shards > 1:
      records = records.shard(num_shards, shard_index)
    message = f"{self._label_file}: clean_label differs from a tfds image's label"

    def decode(example_id, example):
      index = _file_index(example)
      clean_label = tf.gather(clean, index)
      check = tf.debugging.assert_equal(clean_label, tf.cast(example["label"], tf.int32),
                                        message=message)
      with tf.control_dependencies([check]):
        image = image_feature.decode_example(example["image"])
      return {"image": image, "label": tf.gather(noisy, index), "clean_label": clean_label,
              "id": example_id}

    return records.map(decode, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)


class CifarNSource(Source):
  """CIFAR-10N / CIFAR-100N: tfds CIFAR images, human labels from the official files."""

  def __init__(self, config):
    super().__init__(config)
    self._base = stored_sources.CifarSource(
        dataclasses.replace(config, dataset_name=BASES[self.name], data_format="tfds",
                            cifar_n_labels="auto"))
    self.num_classes, self.image_shape = self._base.num_classes, self._base.image_shape
    self.labels = label_set(self.name, config.cifar_n_labels)
    self._label_file: Optional[str] = None

  @property
  def class_names(self):
    return class_maps.CIFAR10_CLASSES if self.num_classes == 10 else class_maps.CIFAR100_CLASSES

  def _resolve_split(self, split):
    builder = self._base._tfds_builder(split)  # pylint: disable=protected-access
    if split == "test":
      return stored_sources.TfdsSplit(builder, split, self.name, self.num_classes)
    if "id" not in builder.info.features:
      raise CorruptDataError(f"the prepared tfds {BASES[self.name]} in --data_dir has no 'id' "
                             "feature to join the CIFAR-N labels on (tfds cifar >= 3.0.0 has)")
    directory = self.config.cifar_n_dir or self.config.data_dir
    noisy, clean, path = read_labels(directory, self.name, self.labels)
    count = int(builder.info.splits["train"].num_examples)
    if count > len(noisy):
      raise CorruptDataError(f"{path} holds {len(noisy)} labels, the tfds training split "
                             f"{count} images")
    return CifarNSplit(builder, self.name, self.num_classes, noisy, clean, path)


SOURCES = {"cifar10_n": CifarNSource, "cifar100_n": CifarNSource}
