"""Image-file sources: encoded images (JPEG, PNG, ...) named by a list or a class-per-folder tree.

Every source here yields the ENCODED bytes as 'image' (`Source.encoded` is True): the pipeline
decodes and preprocesses them per example (`pipeline.py`; the `*_imagenet` augmentations crop the
JPEG bytes while decoding, the others decode and resize to `--image_size` first), so the image
shape is (image_size, image_size, 3) whatever the files hold. Resolving a split parses its list
with plain Python and checks that every image file exists (`image_lists.py`; no TensorFlow runtime
starts, so validation can run it); a bad list is refused with a message naming the list file and
line.
Ids are the index in the split's entries sorted by relative path (stable whatever the list's
order). The stored labels are the ones trained on (plus synthetic noise when --noise_fraction > 0).

  filelist   `--data_dir` is the root; `--train_list` / `--test_list` (default train.txt and
             test.txt, relative to --data_dir unless absolute) hold `<relative path> <label>` lines
             (the path may contain spaces: the label is the last field; blank lines and lines
             starting with '#' are skipped); labels in [0, --num_classes). Clothing1M:
             `--train_list=annotations/noisy_label_kv.txt --test_list=annotations/clean_test_kv.txt
             --num_classes=14` (its noisy_train_key_list subset needs a list of those lines).
  folder     `<data_dir>/train/<class>/<image>` and `<data_dir>/val/<class>/<image>` (or `test/`);
             class ids are the sorted folder names, which must be equal in both splits; images are
             the files with the extensions of IMAGE_EXTENSIONS (Food-101N's `images/<class>/` tree
             is such a train split).
  webvision  WebVision 1.0 from its official layout under --data_dir: `info/synsets.txt` (line
             i = class i, its first field the WordNet id), training lists
             `info/train_filelist_google.txt` and `info/train_filelist_flickr.txt`
             (`google/q0001/<n>.jpg 0`: paths relative to the root, 0-based labels); test =
             WebVision val, `info/val_filelist.txt` (bare file names under `val_images_256/`).
             1,000 classes; the counts read are logged.
  webvision_mini  the Google list's lines with label < 50, and the val lines with label < 50.
             WebVision labels are web labels, already noisy, and their clean labels are unknown:
             --noise_fraction must be 0 (config.py refuses otherwise) and 'clean_label' equals the
             stored label, so the clean-label diagnostics (accuracy vs clean labels, v on clean /
             corrupted, v_detection) treat every training example as clean and say nothing about
             the noise; test accuracy on val is unaffected.
"""
from absl import logging
import os
from typing import Sequence, Tuple

import numpy as np
import tensorflow as tf

from mentornet_tf.data import image_lists
from mentornet_tf.data import source_base
from mentornet_tf.data.tfrecords import CorruptDataError, LabelRangeError

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif")
WEBVISION_CLASSES = {"webvision": 1000, "webvision_mini": 50}
_TEST_DIRS = ("val", "test")  # folder: the test split's directory, the first that exists


class ImageFileSplit(source_base.Split):
  """Encoded image files with their labels, in id order (entries sorted by relative path)."""

  format = "files"
  random_access = True

  def __init__(self, root: str, entries: Sequence[image_lists.Entry], lists: Sequence[str] = ()):
    entries = sorted(entries, key=lambda entry: entry.path)  # stable: list order among equals
    self.root = root
    self.files = tuple(lists)  # the list files (the images are `paths`)
    self.paths = np.array([os.path.join(root, entry.path) for entry in entries], dtype=object)
    self._labels = np.array([entry.label for entry in entries], dtype=np.int32)

  def num_examples(self):
    return len(self._labels)

  def labels(self):
    return self._labels, self._labels  # the stored labels; no clean label is known

  def open_index(self, num_shards=1, shard_index=0):
    # Sharded by path before any image is read: each worker reads only its own files.
    static = source_base.is_static(shard_index)
    select = slice(int(shard_index), None, num_shards) if static else slice(None)
    ids = np.arange(len(self._labels), dtype=np.int64)
    paths = self.paths[select].astype(str) if len(self.paths) else np.zeros([0], str)
    dataset = tf.data.Dataset.from_tensor_slices(
        {"image": tf.constant(paths, tf.string), "label": self._labels[select],
         "clean_label": self._labels[select], "id": ids[select]})
    if not static:  # the parameter-server worker index, a tensor
      dataset = dataset.shard(num_shards, tf.cast(shard_index, tf.int64))
    return dataset

  def read(self, element):
    return dict(element, image=tf.io.read_file(element["image"]))

  def open(self, num_shards=1, shard_index=0):
    return self.open_index(num_shards, shard_index).map(
        self.read, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)


class ImageFileSource(source_base.Source):
  """Base of the encoded-image sources: image shape (image_size, image_size, 3)."""

  encoded = True

  def __init__(self, config):
    super().__init__(config)
    self.image_shape = (config.image_size, config.image_size, 3)
    self.root = config.data_dir
    if not self.root or not image_lists.isdir(self.root):
      raise source_base.DataNotFoundError(
          f"--data_dir={self.root!r} is not a directory: --dataset_name={self.name} reads its "
          f"images from there")

  def _split_of(self, entries, lists, split):
    image_lists.check_images(self.root, entries)
    result = ImageFileSplit(self.root, entries, lists)
    logging.info("%s %s: %d images read from %s", self.name, split, result.num_examples(),
                 ", ".join(lists) or self.root)
    return result


class FileListSource(ImageFileSource):
  """--dataset_name=filelist: `<relative path> <label>` lists under --data_dir."""

  def __init__(self, config):
    super().__init__(config)
    if config.num_classes < 2:
      raise LabelRangeError(f"--num_classes={config.num_classes}: --dataset_name=filelist needs "
                            f"the class count (labels lie in [0, num_classes), >= 2 classes)")
    self.num_classes = config.num_classes

  def _resolve_split(self, split):
    name = self.config.train_list if split == "train" else self.config.test_list
    path = name if os.path.isabs(name) or "://" in name else os.path.join(self.root, name)
    entries = image_lists.parse_list(path, self.num_classes, f"--num_classes={self.num_classes}")
    return self._split_of(entries, [path], split)


class FolderSource(ImageFileSource):
  """--dataset_name=folder: `<data_dir>/train/<class>/*` and `<data_dir>/val/<class>/*`."""

  def __init__(self, config):
    super().__init__(config)
    train = os.path.join(self.root, "train")
    self._names = self._classes(train)
    if not self._names:
      raise source_base.DataNotFoundError(f"{train}: no class folders found (expected "
                                          f"{train}/<class>/<image>)")
    self.num_classes = len(self._names)

  @property
  def class_names(self):
    return self._names

  def _classes(self, directory: str) -> Tuple[str, ...]:
    if not image_lists.isdir(directory):
      return ()
    return tuple(name for name in image_lists.listdir(directory)
                 if image_lists.isdir(os.path.join(directory, name)))

  def _split_directory(self, split: str) -> str:
    if split == "train":
      return os.path.join(self.root, "train")
    for name in _TEST_DIRS:
      if image_lists.isdir(os.path.join(self.root, name)):
        return os.path.join(self.root, name)
    raise source_base.DataNotFoundError(f"--data_dir={self.root!r}: no test split (neither val/ "
                                        f"nor test/ holds class folders)")

  def _resolve_split(self, split):
    directory = self._split_directory(split)
    names = self._classes(directory)
    if names != self._names:
      only_train = sorted(set(self._names) - set(names))
      only_here = sorted(set(names) - set(self._names))
      raise CorruptDataError(
          f"{directory}: its class folders differ from {os.path.join(self.root, 'train')}'s "
          f"(only in train: {only_train[:5]}; only here: {only_here[:5]}); class ids are the "
          f"sorted folder names, so both splits need the same folders")
    entries = []
    relative = os.path.relpath(directory, self.root) if image_lists.is_local(directory) else split
    for label, name in enumerate(names):
      for file_name in image_lists.listdir(os.path.join(directory, name)):
        if file_name.lower().endswith(IMAGE_EXTENSIONS):
          entries.append(image_lists.Entry(f"{relative}/{name}/{file_name}", label, directory))
    return self._split_of(entries, [], split)


class WebVisionSource(ImageFileSource):
  """WebVision 1.0 (webvision: 1,000 classes, Google + Flickr; webvision_mini: Google, < 50)."""

  def __init__(self, config):
    super().__init__(config)
    self.num_classes = WEBVISION_CLASSES[self.name]
    self._synsets = None

  def synsets(self) -> Tuple[str, ...]:
    """The WordNet ids of the classes (first field of `info/synsets.txt`'s first lines)."""
    if self._synsets is None:
      path = os.path.join(self.root, "info", "synsets.txt")
      if not image_lists.exists(path):
        raise source_base.DataNotFoundError(f"{path} does not exist: --data_dir must be the "
                                            f"WebVision root (info/, google/, flickr/, "
                                            f"val_images_256/)")
      wnids = [line.split()[0] for line in image_lists.read_lines(path) if line.strip()]
      if len(wnids) < self.num_classes:
        raise CorruptDataError(f"{path} names {len(wnids)} synsets, fewer than the "
                               f"{self.num_classes} classes of --dataset_name={self.name}")
      self._synsets = tuple(wnids[:self.num_classes])
    return self._synsets

  @property
  def class_names(self):
    return self.synsets()

  def _resolve_split(self, split):
    self.synsets()  # the layout check
    info = os.path.join(self.root, "info")
    keep = (lambda label: label < 50) if self.name == "webvision_mini" else None
    if split == "train":
      names = (["train_filelist_google.txt"] if self.name == "webvision_mini"
               else ["train_filelist_google.txt", "train_filelist_flickr.txt"])
      lists = [os.path.join(info, name) for name in names]
      entries = [entry for path in lists
                 for entry in image_lists.parse_list(path, 1000, "WebVision has 1000 classes",
                                                     keep=keep)]
    else:
      lists = [os.path.join(info, "val_filelist.txt")]
      entries = image_lists.parse_list(lists[0], 1000, "WebVision has 1000 classes",
                                       "val_images_256/", keep)
    return self._split_of(entries, lists, split)


SOURCES = {"filelist": FileListSource, "folder": FolderSource, "webvision": WebVisionSource,
           "webvision_mini": WebVisionSource}
