"""Example dropout: keep exactly int(B (1 - rate)) examples of a batch, uniformly at random.

The original drew the kept examples with `np.random.choice` in a py_func (under Python 3 it
returned the wrong count). Here the draw is seeded and in-graph: an example's score is a hash of
(seed, step, id) (`mentornet_tf.hashing`, SplitMix64: integer ops only, cheap in the step), and the
examples with the smallest scores are kept. So the draw does not depend on the batch order, the
number of replicas or workers, and a resumed run draws what the uninterrupted run drew.
"""
import tensorflow as tf

from mentornet_tf import hashing
from mentornet_tf.mentor.weighting import statistics


def example_hash_scores(example_ids, step, seed):
  """A uniform int64 score >= 0 per example, a pure function of (seed, step, id).

  Args:
    example_ids: int [B].
    step: int scalar, the optimizer's pre-increment step.
    seed: python int or int scalar.
  Returns:
    int64 [B].
  """
  bits = hashing.bits_from_ids(seed, tf.cast(example_ids, tf.int64),
                               hashing.STREAM_EXAMPLE_DROPOUT, counter=tf.cast(step, tf.int64))
  return tf.bitcast(tf.bitwise.right_shift(bits, tf.constant(1, tf.uint64)), tf.int64)


def num_kept(batch_size, dropout_rate):
  """int(B * (1 - rate)) as the original's Python computed it (float64 arithmetic); int32."""
  kept = tf.cast(batch_size, tf.float64) * (1.0 - tf.cast(dropout_rate, tf.float64))
  return tf.cast(tf.floor(kept + 1e-9), tf.int32)  # 1e-9: 128 * (1 - 0.9) must give 12, not 11


def example_dropout_mask(scores, dropout_rate, all_scores=None):
  """1.0 for the int(N (1 - rate)) examples with the smallest scores, 0.0 for the others.

  Args:
    scores: int64 [B], this replica's hash scores.
    dropout_rate: float scalar in [0, 1].
    all_scores: int64 [N], the scores the count refers to (all replicas' for the global scope);
      None means `scores`.
  Returns:
    float32 [B] mask.
  """
  all_scores = scores if all_scores is None else all_scores
  keep = num_kept(tf.size(all_scores), dropout_rate)
  sorted_scores = tf.sort(all_scores)
  # Scores are distinct with overwhelming probability (63-bit hashes); ties would keep both.
  # tf.gather, not sorted_scores[i]: a slice with a data-dependent start makes XLA
  # (--jit_compile) treat the step as a compile-time constant and recompile every step.
  threshold = tf.where(keep > 0, tf.gather(sorted_scores, tf.maximum(keep - 1, 0)),
                       tf.int64.min)
  return tf.cast(tf.logical_and(scores <= threshold, keep > 0), tf.float32)


def keep_mask(example_ids, step, seed, dropout_rate, scope="replica"):
  """The example dropout mask of one training step.

  Args:
    example_ids: int64 [B], this replica's example ids.
    step: int scalar, the optimizer's pre-increment step.
    seed: python int, the run's seed.
    dropout_rate: float scalar in [0, 1].
    scope: 'replica' keeps int(B (1 - rate)) of this replica's batch (the original); 'global'
      keeps int(N (1 - rate)) of all replicas' N examples (= the one-device step).
  Returns:
    float32 [B], 1.0 for a kept example.
  """
  scores = example_hash_scores(example_ids, step, seed)
  all_scores = statistics.all_gather(scores) if scope == "global" else None
  return example_dropout_mask(scores, dropout_rate, all_scores)
