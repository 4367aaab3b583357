"""Prepared tensorflow-datasets classification sets: `imagenet2012` and `--dataset_name=tfds:NAME`.

`--data_dir` is the tfds data directory holding `NAME/<version>/dataset_info.json` (the newest
version is read; `--data_dir` may also be the version directory itself), read with
`tfds.builder_from_directory`: no dataset code runs and nothing is downloaded. The dataset needs
the features 'image' and 'label' (a ClassLabel, which gives the class count and names). Splits:
'train', and for testing 'validation' when the dataset has one, else 'test' (`--test_data_dir`
reads the test split from another data directory). Ids are the read order of the prepared files
(one file at a time, `stored_sources.TfdsSplit`).

Images of a fixed shape (e.g. tfds:mnist's 28x28x1) are decoded as stored, like CIFAR's. Images of
varying size (imagenet2012, most photo sets) are read with decoding skipped
(`tfds.decode.SkipDecoding()`): the JPEG bytes go to the pipeline, which crops them while decoding
(the `*_imagenet` augmentations) to `--image_size` (`Source.encoded`).

imagenet2012 must be prepared once from the manual directory holding `ILSVRC2012_img_train.tar`
and `ILSVRC2012_img_val.tar`: `tfds build imagenet2012 --manual_dir=M --data_dir=D`; its labels
are 0-based indices of the sorted WordNet ids (1,000 classes). Its clean labels are the stored
ones (synthetic noise by --noise_fraction is keyed by (noise_seed, id) as everywhere).
"""
import os

from mentornet_tf import names
from mentornet_tf.data import source_base
from mentornet_tf.data import stored_sources
from mentornet_tf.data.tfrecords import CorruptDataError

PREFIX = names.TFDS_PREFIX
IMAGENET = "imagenet2012"


def tfds_name(dataset_name: str) -> str:
  """The tfds name of a --dataset_name ('tfds:mnist' -> 'mnist', 'imagenet2012' as is)."""
  return dataset_name[len(PREFIX):] if dataset_name.startswith(PREFIX) else dataset_name


def _how_to_prepare(name: str, directory: str) -> str:
  if name == IMAGENET:
    return (f"Prepare it once: put ILSVRC2012_img_train.tar and ILSVRC2012_img_val.tar in a "
            f"directory M and run `tfds build imagenet2012 --manual_dir=M "
            f"--data_dir={directory or 'D'}` (then --data_dir points at that data directory)")
  return (f"Prepare it on a machine with internet (`tfds build {name} --data_dir=D`, with "
          f"--manual_dir for datasets that need manual files) and point --data_dir at D")


class TfdsSource(source_base.Source):
  """A prepared tfds dataset; reads its metadata (classes, image feature) when resolved."""

  def __init__(self, config):
    super().__init__(config)
    self.tfds_name = tfds_name(self.name)
    if not self.tfds_name:
      raise source_base.DataNotFoundError("--dataset_name=tfds: names no dataset (use tfds:NAME)")
    self._builders = {}
    builder = self._builder("train")
    features = builder.info.features
    label, image = features["label"], features["image"]
    self.num_classes = int(label.num_classes)
    self._names = tuple(label.names)
    shape = tuple(image.shape)
    self.encoded = self.tfds_name == IMAGENET or None in shape
    self.image_shape = ((config.image_size, config.image_size, 3) if self.encoded else shape)

  @property
  def class_names(self):
    return self._names

  def _builder(self, split: str):
    directory = source_base.split_directory(self.config, split)
    if directory not in self._builders:
      self._builders[directory] = self._open_builder(directory, split)
    return self._builders[directory]

  def _open_builder(self, directory: str, split: str):
    name = self.tfds_name
    flag = "--test_data_dir" if split == "test" and self.config.test_data_dir else "--data_dir"
    version_dir = stored_sources.tfds_version_dir(directory, name) if directory else ""
    if not version_dir:
      raise source_base.DataNotFoundError(
          f"{flag}={directory!r}: no prepared tfds dataset {name} (expected "
          f"{os.path.join(directory or '<data_dir>', name)}/<version>/dataset_info.json). "
          f"{_how_to_prepare(name, directory)}. Downloads are never attempted.")
    import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top  (slow import)
    builder = tfds.builder_from_directory(version_dir)
    features = builder.info.features
    if "image" not in features or "label" not in features or not hasattr(
        features["label"], "num_classes"):
      raise CorruptDataError(f"{version_dir}: --dataset_name={self.name} needs the features "
                             f"'image' and 'label' (a ClassLabel), found {sorted(features.keys())}")
    return builder

  def _resolve_split(self, split):
    builder = self._builder(split)
    splits = builder.info.splits
    if split == "train":
      name = "train"
    else:
      name = "validation" if "validation" in splits else "test"
    if name not in splits:
      raise source_base.DataNotFoundError(
          f"{builder.data_dir}: the tfds dataset {self.tfds_name} has no {name!r} split (it has "
          f"{sorted(splits.keys())})")
    classes = int(builder.info.features["label"].num_classes)
    if classes != self.num_classes:
      raise CorruptDataError(f"{builder.data_dir} has {classes} classes, the training data "
                             f"{self.num_classes}")
    # tfds' imagenet2012 builder re-encodes its one PNG and 22 CMYK files as RGB JPEG from 3.0.0.
    version = tuple(int(part) for part in str(builder.info.version).split(".")[:3])
    jpeg_only = self.tfds_name == IMAGENET and version >= (3, 0, 0)
    return stored_sources.TfdsSplit(builder, name, self.name, self.num_classes,
                                    encoded=self.encoded, jpeg_only=jpeg_only)


SOURCES = {IMAGENET: TfdsSource}
