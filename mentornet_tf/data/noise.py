"""Synthetic label corruption of the training split, a pure function of (noise_seed, example id).

The original repository ships pre-corrupted CIFAR TFRecords and no generation code
(original_code.md §5). The paper (after Zhang et al. 2017) changes each training label
independently with probability p to a uniformly random class, which may be the true one. We regenerate that rule
('uniform') and two common variants:

  uniform:  with prob. p draw a class uniformly from all K; realised flip rate p (K - 1) / K.
  flip:     with prob. p draw a class uniformly from the K - 1 OTHER classes; flip rate p.
  pairflip: with prob. p move class c to (c + 1) mod K; flip rate p.

Every draw is keyed by (noise_seed, id) through `hashing.uniform_from_ids`, so the noisy label of an
example is the same under any shuffling, batching, sharding or number of workers.
"""
from typing import Dict, Union

import numpy as np
import tensorflow as tf

from mentornet_tf import hashing

NOISE_TYPES = ("uniform", "flip", "pairflip")

TensorLike = Union[np.ndarray, tf.Tensor, list]


def _check_arguments(num_classes: int, noise_fraction: float, noise_type: str) -> None:
  if noise_type not in NOISE_TYPES:
    raise ValueError(f"noise_type={noise_type!r} is invalid: choose one of "
                     f"{', '.join(NOISE_TYPES)}")
  if not 0.0 <= float(noise_fraction) <= 1.0:
    raise ValueError(f"noise_fraction={noise_fraction!r} is invalid: must lie in [0, 1]")
  if int(num_classes) < 2:
    raise ValueError(f"num_classes={num_classes!r} is invalid: label noise needs >= 2 classes")


def expected_flip_rate(noise_fraction: float, noise_type: str, num_classes: int) -> float:
  """Probability that a corrupted-split label differs from the true one.

  Args:
    noise_fraction: p in [0, 1].
    noise_type: 'uniform', 'flip' or 'pairflip'.
    num_classes: K >= 2.

  Returns:
    p (K - 1) / K for 'uniform' (the new class may equal the true one), p otherwise.
  """
  _check_arguments(num_classes, noise_fraction, noise_type)
  if noise_type == "uniform":
    return float(noise_fraction) * (num_classes - 1) / num_classes
  return float(noise_fraction)


def corrupt_labels(clean_labels: TensorLike, example_ids: TensorLike, num_classes: int,
                   noise_fraction: float, noise_type: str, noise_seed: int) -> tf.Tensor:
  """Returns the noisy labels of the given examples.

  Works eagerly and inside `tf.data.Dataset.map` / `tf.function`, on a scalar or any batch shape.

  Args:
    clean_labels: integer tensor [...] of true classes in [0, num_classes).
    example_ids: integer tensor of the same shape [...]: example ids (index in the training split).
    num_classes: K.
    noise_fraction: p, the probability that a label is resampled.
    noise_type: 'uniform', 'flip' or 'pairflip' (see the module docstring).
    noise_seed: which of the possible corruptions; the noisy label depends only on (noise_seed, id).

  Returns:
    int32 tensor [...] of noisy labels.

  Raises:
    ValueError: for an unknown noise_type, p outside [0, 1] or fewer than 2 classes.
  """
  _check_arguments(num_classes, noise_fraction, noise_type)
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
  else:  # pairflip
    new = tf.math.floormod(labels + 1, num_classes)
  return tf.where(corrupted, new, labels)


def noise_report(clean: TensorLike, noisy: TensorLike, noise_fraction: float, noise_type: str,
                 num_classes: int) -> Dict[str, object]:
  """Measured against nominal corruption of a label set (original_code.md §10.18).

  Args:
    clean: integer array [N] of true labels.
    noisy: integer array [N] of the labels trained on.
    noise_fraction: nominal p.
    noise_type: 'uniform', 'flip' or 'pairflip'.
    num_classes: K.

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
      "expected_flip_rate": expected_flip_rate(noise_fraction, noise_type, num_classes),
      "clean_counts": np.bincount(clean, minlength=num_classes).tolist(),
      "noisy_counts": np.bincount(noisy, minlength=num_classes).tolist(),
      "flipped_per_class": np.bincount(clean[flipped], minlength=num_classes).tolist(),
  }
