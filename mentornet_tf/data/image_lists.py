"""Image lists and image files, local or remote: `<relative path> <label>` lists, checked.

The image-file sources (`image_files.py`) read their lists and class folders through these
helpers. Local paths use plain Python; a path with a scheme (`gs://...`) goes through
`tf.io.gfile`, so resolving a split starts no TensorFlow runtime on local data and validation can
run it. A bad list is refused with a message naming the list file and line.
"""
import dataclasses
import os
from typing import List, Sequence

import tensorflow as tf

from mentornet_tf.data import source_base
from mentornet_tf.data.tfrecords import CorruptDataError, LabelRangeError


@dataclasses.dataclass(frozen=True)
class Entry:
  path: str      # relative to the root
  label: int
  where: str     # 'list:line' (or the folder) for messages


def is_local(path: str) -> bool:
  return "://" not in path


def exists(path: str) -> bool:
  return os.path.isfile(path) if is_local(path) else tf.io.gfile.exists(path)


def isdir(path: str) -> bool:
  return os.path.isdir(path) if is_local(path) else tf.io.gfile.isdir(path)


def listdir(path: str) -> List[str]:
  names = os.listdir(path) if is_local(path) else tf.io.gfile.listdir(path)
  return sorted(name.rstrip("/") for name in names)


def read_lines(path: str) -> List[str]:
  if is_local(path):
    with open(path, encoding="utf-8") as f:
      return f.read().splitlines()
  with tf.io.gfile.GFile(path) as f:
    return f.read().splitlines()


def parse_list(list_path: str, num_classes: int, classes_what: str, prefix: str = "",
               keep=None) -> List[Entry]:
  """The `<relative path> <label>` lines of `list_path`, in file order.

  Args:
    list_path: the list file.
    num_classes: labels must lie in [0, num_classes).
    classes_what: how the class count was given, for the label message (e.g. '--num_classes=14').
    prefix: prepended to every path (WebVision val: 'val_images_256/').
    keep: optional predicate on the label; the other lines are skipped (webvision_mini).

  Raises:
    source_base.DataNotFoundError: the list file is missing.
    CorruptDataError: a malformed line (names the file and line).
    LabelRangeError: a label outside [0, num_classes) (names the file and line).
  """
  if not exists(list_path):
    raise source_base.DataNotFoundError(f"the image list {list_path} does not exist")
  entries = []
  for number, line in enumerate(read_lines(list_path), start=1):
    text = line.strip()
    if not text or text.startswith("#"):
      continue
    fields = text.rsplit(None, 1)
    try:
      label = int(fields[1]) if len(fields) == 2 else None
    except ValueError:
      label = None
    if label is None:
      raise CorruptDataError(f"{list_path}:{number}: expected '<relative path> <label>' with an "
                             f"integer label, found {text!r}")
    if keep is not None and not keep(label):
      continue
    if not 0 <= label < num_classes:
      raise LabelRangeError(f"{list_path}:{number}: label {label} is outside [0, {num_classes}) "
                            f"({classes_what})")
    entries.append(Entry(prefix + fields[0], label, f"{list_path}:{number}"))
  return entries


def check_images(root: str, entries: Sequence[Entry]) -> None:
  """Raises source_base.DataNotFoundError naming the first missing image (and how many more)."""
  missing = [entry for entry in entries if not exists(os.path.join(root, entry.path))]
  if missing:
    first = missing[0]
    more = f" (and {len(missing) - 1} more missing)" if len(missing) > 1 else ""
    raise source_base.DataNotFoundError(
        f"{first.where}: the image {os.path.join(root, first.path)} does not exist{more}")
