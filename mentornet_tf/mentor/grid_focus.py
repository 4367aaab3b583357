"""Extra predefined-grid rows where a uniform sample is thin: the PD ramp's epochs (issue 10 §2).

`mentor_data.generate_predefined` samples the original 1.2M-row grid uniformly, so each epoch
percentage gets 1% of the rows. mentornet_pd's curriculum changes shape in its last ten epochs
(v* = clip(1 - loss_diff, 0, 1) from epoch 90: a ramp, where epochs 19-89 have a step), and
with 800 of its 80,000 training rows on that ramp (epoch >= 90, 0 < loss_diff < 1) a MentorNet
learns it only roughly (the first shipped one: MSE 0.016 on epochs >= 90). `focus_rows` draws
extra rows from a range of epoch percentages for the TRAINING split only: none is a row of the
test split, which stays the uniform sample, so the test MSE keeps the original's meaning.
"""
from typing import Sequence, Tuple

import numpy as np

from mentornet_tf.mentor import curricula
from mentornet_tf.mentor import mentor_data


def _row_keys(rows: np.ndarray) -> np.ndarray:
  """An integer per grid point of (loss, loss_diff, epoch) rows [N, >=4] (label is always 0).

  The grid's loss is a multiple of 0.1 (< 30), its loss_diff a multiple of 0.1 in [-5, 5), its
  epoch an integer in [0, 100): rounding to those steps undoes the float32 cast of the splits.
  """
  loss = np.rint(np.asarray(rows[:, 0], np.float64) * 10).astype(np.int64)
  diff = np.rint((np.asarray(rows[:, 1], np.float64) + 5) * 10).astype(np.int64)
  epoch = np.rint(np.asarray(rows[:, 3], np.float64)).astype(np.int64)
  return (loss * 1000 + diff) * 1000 + epoch


def focus_rows(curriculum_name: str, epochs: Sequence[int], count: int, exclude: np.ndarray,
               seed: int = 0, **hparams) -> np.ndarray:
  """`count` grid rows with an epoch percentage in [epochs[0], epochs[1]], labelled by v*.

  Args:
    curriculum_name: a key of `curricula.CURRICULA`.
    epochs: (first, last), inclusive epoch percentages in [0, 99].
    count: rows to draw, without replacement, >= 1.
    exclude: float [M, >=4] rows (the test split) that must not be drawn.
    seed: seeds the draw.
    **hparams: the curriculum's hyper-parameters (as for generate_predefined).
  Returns:
    float32 [count, 5]: loss, loss_diff, label, epoch, target (targets in float64, then cast,
    as generate_predefined).
  Raises:
    ValueError: an epoch range outside [0, 99] or reversed, or (naming --focus_rows) more rows
      asked for than the range holds outside `exclude`.
  """
  first, last = (int(e) for e in epochs)
  if not 0 <= first <= last < mentor_data.NUM_EPOCH_PERCENTAGES:
    raise ValueError(f"epoch range {first}-{last} is invalid: need 0 <= first <= last <= 99")
  grid = mentor_data.predefined_grid()
  grid = grid[(grid[:, 3] >= first) & (grid[:, 3] <= last)]
  grid = grid[~np.isin(_row_keys(grid), _row_keys(np.asarray(exclude)))]
  if not 1 <= count <= len(grid):
    raise ValueError(f"--focus_rows={count} is invalid: epochs {first}-{last} hold {len(grid)} "
                     "grid rows outside the test split (ask for 1 to that many)")
  rows = grid[np.random.default_rng(seed).choice(len(grid), count, replace=False)]
  target = curricula.get(curriculum_name).weights(rows[:, 0], rows[:, 1], rows[:, 2], rows[:, 3],
                                                  **hparams)
  return np.concatenate([rows, np.asarray(target, np.float64)[:, None]], axis=1) \
      .astype(np.float32)


def parse_epoch_range(text: str) -> Tuple[int, int]:
  """'90,99' -> (90, 99); ValueError naming --focus_epochs when it is not FIRST,LAST in 0..99."""
  try:
    first, last = (int(t) for t in str(text).split(","))
  except ValueError:
    first, last = -1, -1
  if not 0 <= first <= last < mentor_data.NUM_EPOCH_PERCENTAGES:
    raise ValueError(f"--focus_epochs={text!r} is invalid: expected FIRST,LAST with "
                     "0 <= FIRST <= LAST <= 99")
  return first, last


def with_focus_rows(train: np.ndarray, test: np.ndarray, curriculum_name: str, epochs: str,
                    count: int, seed: int = 0, **hparams) -> np.ndarray:
  """`train` [N, 5] plus `focus_rows(...)` [count, 5], shuffled (seeded): float32 [N + count, 5].

  Raises:
    ValueError naming --focus_epochs or --focus_rows.
  """
  extra = focus_rows(curriculum_name, parse_epoch_range(epochs), count, test, seed, **hparams)
  train = np.concatenate([train, extra])
  return train[np.random.default_rng(seed).permutation(len(train))]
