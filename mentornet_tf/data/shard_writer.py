"""Writes any source as the sharded TFRecords of `shards.py`: planned first, checked against what
the output directory holds, then written shard by shard, resumable.

`plan(source, split, examples_per_shard)` is the would-be manifest of a split (`shards.py`: the
source, counts, class names, image format, assignment, shard list), computed before anything is
written. `check_output(output_dir, plans)` refuses (`errors.BadInput`, nothing written) an output
that cannot be written or that holds another conversion. `write_split` then writes the plan to
`<output_dir>/<split>/.plan.json` and each missing shard through a temporary file that is
fsync'ed and renamed into place (`atomic_files.py`'s convention), so a shard is there whole or not
at all; labels.npy and, last, manifest.json follow. A rerun of the same conversion skips the
shards already there (a temporary left by a killed run is removed and its shard rewritten); a
finished split is skipped entirely.
"""
import collections
import itertools
import json
import os
import uuid
from typing import Callable, Dict, Iterable, Iterator, List, Optional

import numpy as np
import tensorflow as tf

from mentornet_tf import atomic_files
from mentornet_tf import errors
from mentornet_tf.data import shards
from mentornet_tf.data.source_base import Source

PLAN = ".plan.json"
JPEG_MAGIC = b"\xff\xd8\xff"  # what tf.io.is_jpeg tests
_TMP = ".tmp-"
# The DataConfig fields that say which data a source reads (the rest say how to train on them).
SOURCE_FIELDS = ("dataset_name", "data_dir", "test_data_dir", "data_format", "train_list",
                 "test_list", "num_classes")
Progress = Callable[[str, int, int], None]  # (split, examples done, examples in the split)


def _image_format(source: Source, split: str) -> Dict:
  if source.encoded:
    return {"format": shards.ENCODED, "shape": None}
  spec = source.split(split).open().element_spec["image"]
  image_format = shards.PNG if spec.dtype == tf.uint8 else shards.RAW
  return {"format": image_format, "shape": [int(d) for d in source.image_shape]}


def plan(source: Source, split: str, examples_per_shard: int) -> Dict:
  """The manifest `write_split` will write for `split` (shards with their planned counts).

  Raises:
    source_base.DataNotFoundError, CorruptDataError, LabelRangeError: from the source.
  """
  resolved = source.split(split)
  total = resolved.num_examples()
  count = max(1, -(-total // examples_per_shard))
  round_robin = resolved.random_access
  sizes = ([len(range(k, total, count)) for k in range(count)] if round_robin else
           [(k + 1) * total // count - k * total // count for k in range(count)])
  config = source.config
  described = {field: getattr(config, field) for field in SOURCE_FIELDS}
  for field in ("data_dir", "test_data_dir"):
    described[field] = os.path.abspath(described[field]) if described[field] else ""
  described["split_format"] = resolved.format
  return {"format": shards.FORMAT, "split": split, "source": described,
          "num_examples": total, "num_classes": source.num_classes,
          "class_names": [str(name) for name in source.class_names],
          "image": _image_format(source, split),
          "assignment": "round_robin" if round_robin else "contiguous",
          "labels_file": shards.LABELS,
          "shards": [{"file": shards.shard_name(split, k, count), "num_examples": size}
                     for k, size in enumerate(sizes)]}


def _differences(found: Dict, planned: Dict) -> List[str]:
  """What differs between two plans, the source first; lists by length, dicts field by field."""
  order = ("source", "num_examples", "num_classes", "shards", "image", "assignment")
  keys = [k for k in order if k in found or k in planned]
  keys += sorted((set(found) | set(planned)) - set(order))
  size = lambda value: f"{len(value)} entries" if isinstance(value, list) else repr(value)
  differences = []
  for key in keys:
    there, now = found.get(key), planned.get(key)
    if there == now:
      continue
    if isinstance(there, dict) and isinstance(now, dict):
      differences += [f"{key}.{k}: {there.get(k)!r} there, {now.get(k)!r} now"
                      for k in sorted(set(there) | set(now)) if there.get(k) != now.get(k)]
    elif isinstance(there, list) and isinstance(now, list) and len(there) == len(now):
      differences.append(f"{key} differ")
    else:
      differences.append(f"{key}: {size(there)} there, {size(now)} now")
  return differences


def _as_planned(manifest):
  """A written manifest without what only writing learns (image.jpeg), to compare with a plan."""
  if isinstance(manifest, dict) and isinstance(manifest.get("image"), dict):
    image = {k: v for k, v in manifest["image"].items() if k != "jpeg"}
    return dict(manifest, image=image)
  return manifest


def _non_jpeg_images(path: str) -> int:
  """How many records of a written shard hold an image that is not a JPEG."""
  spec = {"image/encoded": tf.io.FixedLenFeature([], tf.string)}
  records = tf.data.TFRecordDataset(path).map(
      lambda record: tf.io.parse_single_example(record, spec)["image/encoded"])
  return sum(not bytes(image[:3]) == JPEG_MAGIC for image in records.as_numpy_iterator())


def _read_json(path: str) -> Optional[Dict]:
  try:
    with open(path, encoding="utf-8") as f:
      return json.load(f)
  except (OSError, ValueError):
    return None


def check_output(output_dir: str, plans: Iterable[Dict]) -> Dict[str, str]:
  """What each split's directory holds: 'new', 'resume' or 'done'; refuses anything else.

  Raises:
    errors.BadInput: --output_dir is a file, under a file, not writable, or a split directory
      holds another conversion or files that are not a conversion (names the differences).
  """
  flag = f"--output_dir={output_dir!r}"
  if not output_dir:
    raise errors.BadInput("--output_dir is required: the directory the shards are written to")
  existing = os.path.abspath(output_dir)
  while not os.path.lexists(existing) and os.path.dirname(existing) != existing:
    existing = os.path.dirname(existing)
  if not os.path.isdir(existing):
    what = "is a file" if existing == os.path.abspath(output_dir) else f"{existing!r} is a file"
    raise errors.BadInput(f"{flag} is not a writable directory: {what}")
  if not os.access(existing, os.W_OK | os.X_OK):
    raise errors.BadInput(f"{flag} is not a writable directory: no write permission on "
                          f"{existing!r}")
  states = {}
  for planned in plans:
    split = planned["split"]
    directory = os.path.join(output_dir, split)
    if not os.path.exists(directory):
      states[split] = "new"
      continue
    if not os.path.isdir(directory):
      raise errors.BadInput(f"{flag}: {directory} is a file, where the {split} shards go")
    if not os.access(directory, os.W_OK | os.X_OK):
      raise errors.BadInput(f"{flag}: no write permission on {directory}")
    names = [name for name in os.listdir(directory) if _TMP not in name]
    for name, state in ((shards.MANIFEST, "done"), (PLAN, "resume")):
      if name in names:
        found = _as_planned(_read_json(os.path.join(directory, name)))
        if found != planned:
          detail = ("; ".join(_differences(found, planned)[:3]) if isinstance(found, dict)
                    else "it is not readable JSON")
          raise errors.BadInput(f"{flag}: {directory} holds another conversion ({name}: "
                                f"{detail}); choose another --output_dir or remove it")
        states[split] = state
        break
    else:
      if names:
        raise errors.BadInput(f"{flag}: {directory} holds files that are not a conversion "
                              f"({', '.join(sorted(names)[:3])}); choose another --output_dir")
      states[split] = "new"
  return states


def _example(image: bytes, label: int, clean: int, example_id: int) -> bytes:
  feature = {"image/encoded": tf.train.Feature(bytes_list=tf.train.BytesList(value=[image])),
             "image/class/label": tf.train.Feature(int64_list=tf.train.Int64List(value=[label])),
             "image/id": tf.train.Feature(int64_list=tf.train.Int64List(value=[example_id]))}
  if clean != label:
    feature["image/clean_label"] = tf.train.Feature(int64_list=tf.train.Int64List(value=[clean]))
  return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


def _encoded(dataset: tf.data.Dataset, image_format: str) -> tf.data.Dataset:
  """Images as bytes: kept as read (encoded sources), else PNG (uint8) or a float32 tensor."""
  if image_format == shards.PNG:
    encode = tf.io.encode_png
  elif image_format == shards.RAW:
    encode = lambda image: tf.io.serialize_tensor(tf.cast(image, tf.float32))
  else:
    return dataset
  return dataset.map(lambda e: dict(e, image=encode(e["image"])),
                     num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)


def _write_shard(path: str, records: Iterator[bytes]) -> int:
  """Writes `records` to `path` whole or not at all (temporary, fsync, rename); returns a count."""
  tmp = f"{path}{_TMP}{uuid.uuid4().hex[:8]}"
  count = 0
  try:
    with tf.io.TFRecordWriter(tmp) as writer:
      for record in records:
        writer.write(record)
        count += 1
    with open(tmp, "rb") as f:
      os.fsync(f.fileno())  # on disk before the name says the shard is complete
    os.replace(tmp, path)
  finally:
    if os.path.exists(tmp):
      os.remove(tmp)
  return count


def write_split(source: Source, output_dir: str, planned: Dict,
                progress: Optional[Progress] = None) -> Dict:
  """Writes one split as `planned` (from `plan`, checked by `check_output`); returns its manifest.

  Raises:
    errors.RunFailed: the source yielded other ids or labels than it announced.
  """
  split = planned["split"]
  directory = os.path.join(output_dir, split)
  os.makedirs(directory, exist_ok=True)
  for name in os.listdir(directory):  # temporaries of a killed run: their shards are rewritten
    if _TMP in name:
      os.remove(os.path.join(directory, name))
  atomic_files.write_text(os.path.join(directory, PLAN), json.dumps(planned, sort_keys=True))
  resolved = source.split(split)
  stored, clean = resolved.labels()
  total, count = planned["num_examples"], len(planned["shards"])
  sizes = [shard["num_examples"] for shard in planned["shards"]]
  paths = [os.path.join(directory, shard["file"]) for shard in planned["shards"]]
  done = sum(size for size, path in zip(sizes, paths) if os.path.exists(path))
  if progress:
    progress(split, done, total)
  image_format = planned["image"]["format"]
  non_jpeg = 0  # encoded images that are not JPEG (the manifest's image.jpeg)

  def records(examples, expected_ids):
    nonlocal non_jpeg
    for example, expected in zip(examples, expected_ids):
      example_id = int(example["id"])
      label, true = int(example["label"]), int(example["clean_label"])
      if example_id != expected or (label, true) != (stored[expected], clean[expected]):
        raise errors.RunFailed(f"{source.name} {split}: expected id {expected} (label "
                               f"{stored[expected]}) but read id {example_id} (label {label}): "
                               f"the source changed while converting")
      non_jpeg += not bytes(example["image"][:3]) == JPEG_MAGIC
      yield _example(example["image"], label, true, example_id)

  def write(k, examples, expected_ids):
    nonlocal done
    written = _write_shard(paths[k], records(examples, expected_ids))
    if written != sizes[k]:
      raise errors.RunFailed(f"{source.name} {split}: shard {k} got {written} examples, not the "
                             f"{sizes[k]} planned: the source changed while converting")
    done += written
    if progress:
      progress(split, done, total)

  missing = [k for k, path in enumerate(paths) if not os.path.exists(path)]
  if planned["assignment"] == "round_robin":  # each shard read on its own: ids k, k + S, ...
    for k in missing:
      write(k, _encoded(resolved.open(count, k), image_format).as_numpy_iterator(),
            range(k, total, count))
  elif missing:  # one pass in id order from the first missing shard, cut into id ranges
    starts = [sum(sizes[:k]) for k in range(count + 1)]
    examples = _encoded(resolved.open(), image_format).skip(starts[missing[0]])
    examples = examples.as_numpy_iterator()
    for k in range(missing[0], count):
      part = itertools.islice(examples, sizes[k])
      if k in missing:
        write(k, part, range(starts[k], starts[k + 1]))
      else:
        collections.deque(part, maxlen=0)  # written by an earlier run: skip its examples
  labels_path = os.path.join(directory, shards.LABELS)
  _save_labels(labels_path, np.stack([stored, clean], axis=1).astype(np.int32))
  manifest = planned
  if image_format == shards.ENCODED:  # all JPEG: the reader may skip its per-image format test
    non_jpeg += sum(_non_jpeg_images(paths[k]) for k in range(count) if k not in missing)
    manifest = dict(planned, image=dict(planned["image"], jpeg=non_jpeg == 0))
  atomic_files.write_text(os.path.join(directory, shards.MANIFEST),
                          json.dumps(manifest, indent=1, sort_keys=True))
  os.remove(os.path.join(directory, PLAN))
  return manifest


def _save_labels(path: str, labels: np.ndarray) -> None:
  tmp = f"{path}{_TMP}{uuid.uuid4().hex[:8]}"
  try:
    with open(tmp, "wb") as f:
      np.save(f, labels, allow_pickle=False)
    os.replace(tmp, path)
  finally:
    if os.path.exists(tmp):
      os.remove(tmp)
