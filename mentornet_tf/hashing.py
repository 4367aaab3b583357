"""Stateless per-example randomness: a uniform number that is a pure function of (seed, id, stream).

Label noise, the MentorNet DD clean subset and example dropout must not depend on shuffling,
batching, sharding or the number of input workers or replicas, so they cannot use a random
generator that advances with the data order. Shared by `data/` and `mentor/` (neither imports the
other).
Instead every example id is hashed with SplitMix64 (Steele et al., "Fast splittable pseudorandom
number generators", OOPSLA 2014), a bijective 64-bit mixer whose outputs pass BigCrush. The hash is
vectorised over any tensor of ids and works eagerly and inside `tf.data` / `tf.function`.
"""
from typing import Union

import numpy as np
import tensorflow as tf

# Stream constants keep the draws of different purposes independent for the same (seed, id).
STREAM_NOISE_DECISION = 1   # is this label corrupted?
STREAM_NOISE_CLASS = 2      # which class does it become?
STREAM_CLEAN_SUBSET = 3     # is the clean label of this example known (MentorNet DD)?
STREAM_EXAMPLE_DROPOUT = 4  # example dropout's draw at one step (mentor/weighting/dropout.py)

_GOLDEN_GAMMA = 0x9E3779B97F4A7C15
_MIX_1 = 0xBF58476D1CE4E5B9
_MIX_2 = 0x94D049BB133111EB


def _u64(value: int) -> tf.Tensor:
  return tf.constant(value & 0xFFFFFFFFFFFFFFFF, dtype=tf.uint64)


def _splitmix64(x: tf.Tensor) -> tf.Tensor:
  """One SplitMix64 step on a uint64 tensor (wrap-around arithmetic is intended)."""
  z = x + _u64(_GOLDEN_GAMMA)
  z = tf.bitwise.bitwise_xor(z, tf.bitwise.right_shift(z, _u64(30))) * _u64(_MIX_1)
  z = tf.bitwise.bitwise_xor(z, tf.bitwise.right_shift(z, _u64(27))) * _u64(_MIX_2)
  return tf.bitwise.bitwise_xor(z, tf.bitwise.right_shift(z, _u64(31)))


def _as_uint64(value: Union[int, tf.Tensor]) -> tf.Tensor:
  """Reinterprets int64 bits as uint64 (negative seeds stay distinct instead of failing)."""
  return tf.bitcast(tf.cast(value, tf.int64), tf.uint64)


def bits_from_ids(seed: Union[int, tf.Tensor], ids: Union[np.ndarray, tf.Tensor], stream: int,
                  counter: Union[None, int, tf.Tensor] = None) -> tf.Tensor:
  """64 hashed bits per id, a pure function of (seed, counter, id, stream); uint64 [...].

  `counter` (e.g. the training step) gives a fresh, independent draw per value; None (label
  noise, clean subset) leaves the key as it always was, so existing draws do not change.
  """
  ids = tf.convert_to_tensor(ids)
  seed_key = _splitmix64(_as_uint64(seed))
  if counter is not None:
    seed_key = _splitmix64(tf.bitwise.bitwise_xor(seed_key, _as_uint64(counter)))
  key = _splitmix64(tf.bitwise.bitwise_xor(seed_key, _u64(stream * _GOLDEN_GAMMA)))
  bits = _splitmix64(tf.bitwise.bitwise_xor(key, _as_uint64(ids)))
  return _splitmix64(bits)  # a second round decorrelates neighbouring ids fully


def uniform_from_ids(seed: Union[int, tf.Tensor], ids: Union[np.ndarray, tf.Tensor],
                     stream: int) -> tf.Tensor:
  """A number in [0, 1) that depends only on (seed, id, stream).

  Args:
    seed: int or int scalar tensor.
    ids: integer tensor of example ids, any shape [...].
    stream: one of the STREAM_* constants; different streams give independent draws.

  Returns:
    float64 tensor of the shape of `ids`, uniform on [0, 1) with 53-bit resolution.
  """
  bits = bits_from_ids(seed, ids, stream)
  return tf.cast(tf.bitwise.right_shift(bits, _u64(11)), tf.float64) * (2.0 ** -53)
