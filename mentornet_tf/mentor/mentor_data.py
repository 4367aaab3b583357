"""Training data for MentorNet: predefined-curriculum grids and StudentNet loss dumps.

Two sources (paper §3.1; original `code/training_mentornet/data_generator.py`, its predefined
grid and `generate_data_driven`):

- Predefined (MentorNet PD): enumerate the feature space on a grid, label every row with a
  curriculum's v*, shuffle, keep `sample_size` rows and split train/test.
- Data-driven (MentorNet DD): a StudentNet dump of (id, epoch, noisy label, clean label, loss) on a
  subset whose clean labels are known; v* = 1[noisy label == clean label].

Arrays returned here are float32 [N, 5] with columns (loss, loss_diff, label, epoch, target);
columns 0..3 are exactly MentorNet's input features. Differences from the original, on purpose:
the shuffle is seeded, and the split has no off-by-one (the original's `data[80001:]` dropped a
row: 80000/19999 instead of 80000/20000).
"""
import math
import os
from typing import Tuple, Union

import numpy as np

from mentornet_tf.mentor import curricula

FEATURE_COLUMNS = ("loss", "loss_diff", "label", "epoch")
COLUMNS = FEATURE_COLUMNS + ("target",)
DUMP_COLUMNS = ("id", "epoch", "noisy_label", "clean_label", "loss")
NUM_EPOCH_PERCENTAGES = 100


def predefined_grid() -> np.ndarray:
  """The original enumeration of MentorNet's input space: 1,200,000 rows.

  loss in arange(0, 10, 0.1) U arange(10, 30, 1) (120 values), loss_diff in arange(-5, 5, 0.1)
  (100 values, independent of the loss, as the original), label 0, epoch 0..99. Rows are in
  loss-major order (loss, then diff, then epoch) before any shuffle.

  Returns:
    float64 [1200000, 4]: loss, loss_diff, label, epoch.
  """
  losses = np.concatenate([np.arange(0, 10, 0.1), np.arange(10, 30, 1)])
  diffs = np.arange(-5, 5, 0.1)
  labels = np.array([0.0])
  epochs = np.arange(NUM_EPOCH_PERCENTAGES, dtype=np.float64)
  mesh = np.meshgrid(losses, diffs, labels, epochs, indexing="ij")
  return np.stack([m.reshape(-1) for m in mesh], axis=1)


def _split(data: np.ndarray, seed: int, train_fraction: float) -> Tuple[np.ndarray, np.ndarray]:
  """Seeded shuffle, then split at round(N * train_fraction); returns float32 arrays."""
  n_train = _train_size(len(data), train_fraction)
  data = data[np.random.default_rng(seed).permutation(len(data))].astype(np.float32)
  return data[:n_train], data[n_train:]


def generate_predefined(curriculum_name: str, sample_size: int = 100000, seed: int = 0,
                        train_fraction: float = 0.8,
                        **hparams) -> Tuple[np.ndarray, np.ndarray]:
  """MentorNet PD data: grid rows labelled by a curriculum's v*, shuffled and split.

  Targets are computed in float64 on the grid, then cast with the features to float32.

  Args:
    curriculum_name: a key of `curricula.CURRICULA`.
    sample_size: rows kept after the shuffle (the original: 100000); at most 1,200,000.
    seed: seeds the shuffle.
    train_fraction: share of the kept rows that go to train (0.8 gives 80000/20000).
    **hparams: curriculum hyper-parameters (e.g. gamma), overriding its defaults.

  Returns:
    (train float32 [round(sample_size * train_fraction), 5], test float32 [rest, 5]); columns
    loss, loss_diff, label, epoch, target.

  Raises:
    ValueError: unknown curriculum or hyper-parameter, or sample_size out of range.
  """
  curriculum = curricula.get(curriculum_name)
  grid = predefined_grid()
  if not isinstance(sample_size, (int, np.integer)) or not 1 <= sample_size <= len(grid):
    raise ValueError(f"sample_size={sample_size!r} is invalid: must be an integer in "
                     f"[1, {len(grid)}] (the size of the predefined grid)")
  order = np.random.default_rng(seed).permutation(len(grid))[:sample_size]
  rows = grid[order]
  target = curriculum.weights(rows[:, 0], rows[:, 1], rows[:, 2], rows[:, 3], **hparams)
  data = np.concatenate([rows, np.asarray(target, np.float64)[:, None]], axis=1)
  # The rows are already in shuffled order: split without reshuffling.
  n_train = _train_size(len(data), train_fraction)
  data = data.astype(np.float32)
  return data[:n_train], data[n_train:]


def _train_size(n: int, train_fraction: float) -> int:
  if not 0.0 < train_fraction < 1.0:
    raise ValueError(f"train_fraction={train_fraction!r} is invalid: must lie in (0, 1)")
  return int(round(n * train_fraction))


def _parse_dump_line(path: str, number: int, line: str):
  fields = line.split()
  if len(fields) != len(DUMP_COLUMNS):
    raise ValueError(f"{path}:{number}: expected {len(DUMP_COLUMNS)} space-separated fields "
                     f"({' '.join(DUMP_COLUMNS)}), got {len(fields)}: {line.strip()!r}")
  try:
    ids = [int(f) for f in fields[:4]]
  except ValueError:
    raise ValueError(f"{path}:{number}: id, epoch, noisy_label and clean_label must be integers: "
                     f"{line.strip()!r}") from None
  try:
    loss = float(fields[4])
  except ValueError:
    raise ValueError(f"{path}:{number}: loss {fields[4]!r} is not a number") from None
  if not math.isfinite(loss) or loss < 0:
    raise ValueError(f"{path}:{number}: loss {fields[4]!r} must be finite and >= 0")
  if ids[1] < 0:
    raise ValueError(f"{path}:{number}: epoch {ids[1]} must be >= 0")
  return ids + [loss]


def read_student_dump(path: str, keep: str = "last") -> np.ndarray:
  """Reads a StudentNet dump: one `id epoch noisy_label clean_label loss` row per line.

  This is the original's space-separated format (despite its `.csv` name), e.g.
  `47108 18 6 1 19.554157`. Blank lines and lines starting with '#' are skipped.

  Args:
    path: the dump file.
    keep: 'last' (faithful default) keeps only the LAST row of each id, as the original's
      dict keyed by id did; rows come in the order each id first appears. 'all' keeps every row
      in file order (e.g. a dump with several epochs per example).

  Returns:
    float64 [N, 5]: id, epoch, noisy_label, clean_label, loss.

  Raises:
    ValueError: bad `keep`, an empty file, or a malformed line or one that is not UTF-8 text (the
      message names file and line).
    FileNotFoundError: the file does not exist.
  """
  if keep not in ("last", "all"):
    raise ValueError(f"keep={keep!r} is invalid: choose 'last' or 'all'")
  if not os.path.isfile(path):
    raise FileNotFoundError(f"StudentNet dump {path!r} does not exist")
  rows, by_id = [], {}
  with open(path, "rb") as handle:
    for number, raw in enumerate(handle, start=1):
      try:
        line = raw.decode("utf-8")
      except UnicodeDecodeError as error:
        raise ValueError(f"{path}:{number}: not UTF-8 text ({error.reason} at byte "
                         f"{error.start} of the line)") from None
      if not line.strip() or line.lstrip().startswith("#"):
        continue
      row = _parse_dump_line(path, number, line)
      if keep == "all":
        rows.append(row)
      else:
        by_id[row[0]] = row  # re-assignment keeps the first position, takes the last values
  rows = rows if keep == "all" else list(by_id.values())
  if not rows:
    raise ValueError(f"{path}: the StudentNet dump has no rows")
  return np.asarray(rows, dtype=np.float64)


def write_student_dump(path: str, rows) -> None:
  """Writes rows [N, 5] (id, epoch, noisy_label, clean_label, loss) in the original format.

  The first four columns are written as integers, the loss with the shortest repr that reads
  back to the same float64, so `read_student_dump(path, keep='all')` round-trips exactly.

  Raises:
    ValueError: rows is not [N, 5], or an integer column holds a non-integer.
  """
  rows = np.asarray(rows, dtype=np.float64)
  if rows.ndim != 2 or rows.shape[1] != len(DUMP_COLUMNS):
    raise ValueError(f"rows must have shape [N, {len(DUMP_COLUMNS)}] ({' '.join(DUMP_COLUMNS)}), "
                     f"got {rows.shape}")
  if not np.all(rows[:, :4] == np.round(rows[:, :4])):
    raise ValueError("rows: id, epoch, noisy_label and clean_label must be integers")
  directory = os.path.dirname(path)
  if directory:
    os.makedirs(directory, exist_ok=True)
  with open(path, "w", encoding="utf-8") as handle:
    for row in rows:
      handle.write(" ".join(str(int(x)) for x in row[:4]) + f" {float(row[4])!r}\n")


SHIFT_RANGE = (-1.0, 0.5)  # loss offsets of `loss_shifts`, in units of the threshold


def generate_data_driven(dump_rows: Union[np.ndarray, str], percentile: float = 90, seed: int = 0,
                         train_fraction: float = 0.8,
                         loss_shifts: int = 0) -> Tuple[np.ndarray, np.ndarray]:
  """MentorNet DD data from a StudentNet dump (original `generate_data_driven`).

  loss_diff = loss - np.percentile(all losses of the dump, percentile) with numpy's default
  linear interpolation: ONE global threshold, not the moving average used at student time (as
  the original). label = 0, epoch = the dump's epoch, target = 1[noisy_label == clean_label].

  Args:
    dump_rows: float [N, 5] from `read_student_dump`, or a dump path (read with keep='last').
    percentile: in [0, 100] (the original looped over 40, 50, 60, 75, 80, 90; the shipped DD
      model used 90).
    seed: seeds the shuffle.
    train_fraction: share of rows for train.
    loss_shifts: K > 0 (not in the original) adds every row at K loss offsets delta * threshold,
      delta evenly in SHIFT_RANGE, loss_diff and target unchanged, rows with a negative loss
      dropped. A dump's rows lie on the line loss_diff = loss - threshold, but at training time
      loss_diff is taken against the moving average, which drifts (down, as the student fits):
      off that line the MentorNet extrapolates, and can give v = 1 to the highest losses
      (measured, MNIST-5k at 80% noise, seed 1). The offsets teach it that v follows loss_diff
      at the losses the moving average will see.

  Returns:
    (train float32 [round(M * train_fraction), 5], test float32 [rest, 5]), M = N without
    shifts.

  Raises:
    ValueError: bad shape or percentile.
  """
  if isinstance(dump_rows, (str, os.PathLike)):
    dump_rows = read_student_dump(os.fspath(dump_rows))
  rows = np.asarray(dump_rows, dtype=np.float64)
  if rows.ndim != 2 or rows.shape[1] != len(DUMP_COLUMNS) or len(rows) == 0:
    raise ValueError(f"dump_rows must have shape [N>0, {len(DUMP_COLUMNS)}] "
                     f"({' '.join(DUMP_COLUMNS)}), got {rows.shape}")
  if not 0 <= percentile <= 100:
    raise ValueError(f"percentile={percentile!r} is invalid: must lie in [0, 100]")
  loss = rows[:, 4]
  threshold = np.percentile(loss, percentile)
  data = np.stack([loss, loss - threshold, np.zeros_like(loss), rows[:, 1],
                   (rows[:, 2] == rows[:, 3]).astype(np.float64)], axis=1)
  if loss_shifts > 0:
    shifted = []
    for delta in np.linspace(SHIFT_RANGE[0], SHIFT_RANGE[1], int(loss_shifts)):
      part = data.copy()
      part[:, 0] += delta * threshold
      shifted.append(part[part[:, 0] >= 0])
    data = np.concatenate(shifted)
  return _split(data, seed, train_fraction)
