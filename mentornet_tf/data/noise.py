"""Synthetic label corruption of the training split, a pure function of (noise_seed, example id).

The original repository ships pre-corrupted CIFAR TFRecords and no generation code
(google/mentornet issue #10). The paper (after Zhang et al. 2017) changes each training label
independently with probability p to a uniformly random class, which may be the true one. We
regenerate that rule ('uniform') and the variants peers use:

  uniform:    with prob. p draw a class uniformly from all K; realised flip rate p (K - 1) / K.
  flip:       with prob. p draw a class uniformly from the K - 1 OTHER classes; flip rate p.
  pairflip:   with prob. p move class c to (c + 1) mod K; flip rate p.
  asymmetric: with prob. p move class c to class_map[c], a dataset's class-conditional convention
              (`class_maps.py`: CIFAR-10 truck -> automobile, bird -> airplane, deer -> horse,
              cat <-> dog; CIFAR-100 the next class of the superclass); flip rate p times the
              share of examples whose class is mapped elsewhere.

Every draw is keyed by (noise_seed, id) through `hashing.uniform_from_ids`, so the noisy label of an
example is the same under any shuffling, batching, sharding or number of workers.
"""
from typing import Dict, Optional, Sequence, Union

import numpy as np
import tensorflow as tf

from mentornet_tf import hashing
from mentornet_tf.data import class_maps

NOISE_TYPES = ("uniform", "flip", "pairflip", "asymmetric")

TensorLike = Union[np.ndarray, tf.Tensor, list]
ClassMap = Optional[Sequence[int]]


def _check_arguments(num_classes: int, noise_fraction: float, noise_type: str,
                     class_map: ClassMap = None) -> None:
  if noise_type not in NOISE_TYPES:
    raise ValueError(f"noise_type={noise_type!r} is invalid: choose one of "
                     f"{', '.join(NOISE_TYPES)}")
  if not 0.0 <= float(noise_fraction) <= 1.0:
    raise ValueError(f"noise_fraction={noise_fraction!r} is invalid: must lie in [0, 1]")
  if int(num_classes) < 2:
    raise ValueError(f"num_classes={num_classes!r} is invalid: label noise needs >= 2 classes")
  if noise_type == "asymmetric":
    values = None if class_map is None else np.asarray(class_map)
    if values is None or values.shape != (int(num_classes),) or values.min() < 0 or \
        values.max() >= int(num_classes):
      raise ValueError(f"noise_type='asymmetric' needs a class_map of {num_classes} classes in "
                       f"[0, {num_classes}) (class_maps.asymmetric_class_map), got {class_map!r}")


def class_map_for(noise_type: str, dataset_name: str, num_classes: int) -> Optional[np.ndarray]:
  """The class map `corrupt_labels` needs for `noise_type` on a dataset (None unless asymmetric).

  Raises:
    ValueError: asymmetric noise on a dataset without a map (class_maps.py).
  """
  if noise_type != "asymmetric":
    return None
  return class_maps.asymmetric_class_map(dataset_name, num_classes)


def expected_flip_rate(noise_fraction: float, noise_type: str, num_classes: int,
                       class_map: ClassMap = None, clean: Optional[TensorLike] = None) -> float:
  """Probability that a corrupted-split label differs from the true one.

  Args:
    noise_fraction: p in [0, 1].
    noise_type: 'uniform', 'flip', 'pairflip' or 'asymmetric'.
    num_classes: K >= 2.
    class_map: int [K], for 'asymmetric'.
    clean: int [N], the true labels, for 'asymmetric' (None: every class equally frequent).

  Returns:
    p (K - 1) / K for 'uniform' (the new class may equal the true one); for 'asymmetric' p times
    the share of examples (of classes, without `clean`) that class_map moves; p otherwise.
  """
  _check_arguments(num_classes, noise_fraction, noise_type, class_map)
  if noise_type == "uniform":
    return float(noise_fraction) * (num_classes - 1) / num_classes
  if noise_type == "asymmetric":
    moved = np.asarray(class_map) != np.arange(num_classes)
    if clean is not None and np.size(clean):
      return float(noise_fraction) * float(moved[np.asarray(clean).reshape(-1)].mean())
    return float(noise_fraction) * float(moved.mean())
  return float(noise_fraction)


def corrupt_labels(clean_labels: TensorLike, example_ids: TensorLike, num_classes: int,
                   noise_fraction: float, noise_type: str, noise_seed: int,
                   class_map: ClassMap = None) -> tf.Tensor:
  """Returns the noisy labels of the given examples.

  Works eagerly and inside `tf.data.Dataset.map` / `tf.function`, on a scalar or any batch shape.

  Args:
    clean_labels: integer tensor [...] of true classes in [0, num_classes).
    example_ids: integer tensor of the same shape [...]: example ids (index in the training split).
    num_classes: K.
    noise_fraction: p, the probability that a label is resampled.
    noise_type: 'uniform', 'flip', 'pairflip' or 'asymmetric' (see the module docstring).
    noise_seed: which of the possible corruptions; the noisy label depends only on (noise_seed, id).
    class_map: int [K], where 'asymmetric' moves each class (`class_map_for`); else unused.

  Returns:
    int32 tensor [...] of noisy labels.

  Raises:
    ValueError: for an unknown noise_type, p outside [0, 1], fewer than 2 classes, or
      'asymmetric' without a class map of K classes.
  """
  _check_arguments(num_classes, noise_fraction, noise_type, class_map)
  labels = tf.cast(tf.convert_to_tensor(clean_labels), tf.int32)
  ids = tf.cast(tf.convert_to_tensor(example_ids), tf.int64)
  if noise_fraction == 0.0:
    return labels
  decision = hashing.uniform_from_ids(noise_seed, ids, hashing.STREAM_NOISE_DECISION)
  corrupted = decision < noise_fraction
  draw = hashing.uniform_from_ids(noise_seed, ids, hashing.STREAM_NOISE_CLASS)
  if noise_type == "uniform":
    new = tf.cast(tf.floor(draw * num_classes), tf.int32)
  elif noise_type == "flip":
    # An offset in 1..K-1 never maps a class onto itself.
    offset = 1 + tf.cast(tf.floor(draw * (num_classes - 1)), tf.int32)
    new = tf.math.floormod(labels + offset, num_classes)
  elif noise_type == "pairflip":
    new = tf.math.floormod(labels + 1, num_classes)
  else:  # asymmetric: the decision draw alone; the target class is fixed by the class
    new = tf.gather(tf.constant(np.asarray(class_map), tf.int32), labels)
  return tf.where(corrupted, new, labels)


def noise_report(clean: TensorLike, noisy: TensorLike, noise_fraction: float, noise_type: str,
                 num_classes: int, class_map: ClassMap = None) -> Dict[str, object]:
  """The realised flip rate of a label set against its nominal corruption, overall and per class.

  Args:
    clean: integer array [N] of true labels.
    noisy: integer array [N] of the labels trained on.
    noise_fraction: nominal p.
    noise_type: 'uniform', 'flip', 'pairflip' or 'asymmetric'.
    num_classes: K.
    class_map: int [K] for 'asymmetric' (the expected rate counts the examples it moves).

  Returns:
    A json-able dict of plain python numbers: noise_type, noise_fraction, num_classes, num_examples,
    num_flipped, realised_flip_rate, expected_flip_rate, clean_counts [K], noisy_counts [K] and
    flipped_per_class [K] (how many examples of each true class carry another label).

  Raises:
    ValueError: when the shapes differ or a label lies outside [0, num_classes).
  """
  clean = np.asarray(clean).reshape(-1).astype(np.int64)
  noisy = np.asarray(noisy).reshape(-1).astype(np.int64)
  if clean.shape != noisy.shape:
    raise ValueError(f"noise_report: clean has {clean.size} labels but noisy has {noisy.size}")
  for name, values in (("clean", clean), ("noisy", noisy)):
    if values.size and (values.min() < 0 or values.max() >= num_classes):
      raise ValueError(f"noise_report: {name} labels must lie in [0, {num_classes}), got "
                       f"[{values.min()}, {values.max()}]")
  flipped = clean != noisy
  count = int(clean.size)
  return {
      "noise_type": noise_type,
      "noise_fraction": float(noise_fraction),
      "num_classes": int(num_classes),
      "num_examples": count,
      "num_flipped": int(flipped.sum()),
      "realised_flip_rate": float(flipped.mean()) if count else 0.0,
      "expected_flip_rate": expected_flip_rate(noise_fraction, noise_type, num_classes,
                                               class_map, clean),
      "clean_counts": np.bincount(clean, minlength=num_classes).tolist(),
      "noisy_counts": np.bincount(noisy, minlength=num_classes).tolist(),
      "flipped_per_class": np.bincount(clean[flipped], minlength=num_classes).tolist(),
  }


def clean_subset_mask(ids, fraction: float, seed: int) -> tf.Tensor:
  """Which training ids have a known clean label (MentorNet DD, paper §3.2): a fixed random subset.

  Keyed by (seed, id) as the corruption is (its own hash stream), so the subset is the same under
  any shuffling, batching or sharding.

  Args:
    ids: integer tensor [...] of example ids.
    fraction: expected share of ids in the subset, in [0, 1].
    seed: which subset; the answer for an id depends only on (seed, id).

  Returns:
    bool tensor [...].

  Raises:
    ValueError: fraction outside [0, 1].
  """
  if not 0.0 <= float(fraction) <= 1.0:
    raise ValueError(f"clean_subset_fraction={fraction!r} is invalid: must lie in [0, 1]")
  return hashing.uniform_from_ids(seed, ids, hashing.STREAM_CLEAN_SUBSET) < fraction
