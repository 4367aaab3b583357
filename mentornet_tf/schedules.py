"""Research rules of the original code as pure Python/numpy (no TensorFlow), defined once.

Mirrors `parse_dropout_rate_list`, the step -> epoch-percentage mapping and the burn-in rule of the
original `code/utils.py` and `code/cifar_train_mentornet.py`. The in-graph weighting
(`mentornet_tf.mentor.weighting`) does not restate them: it looks the per-epoch-percentage values
up in the constant tables of `epoch_tables`, built here from these rules.
"""
import dataclasses
from typing import List, Sequence, Tuple, Union

import numpy as np

NUM_EPOCH_PERCENTAGES = 100


class ScheduleError(ValueError):
  """A malformed schedule string; the message names the flag."""


def parse_dropout_rate_list(spec: Union[str, Sequence[str]],
                            flag: str = "example_dropout_rates") -> List[float]:
  """Expands 'rate, n_epochs, rate, n_epochs, ...' into 100 per-epoch-percentage dropout rates.

  As the original: the epochs must sum to 100 and every rate must lie in [0, 1]; whitespace is
  tolerated. Example: '0.5,17,0.05,83' -> 17 x 0.5 then 83 x 0.05.

  Raises:
    ScheduleError: naming `flag`, when the spec is malformed.
  """
  items = spec.split(",") if isinstance(spec, str) else list(spec)
  items = [str(item).strip() for item in items]
  if not items or len(items) % 2:
    raise ScheduleError(f"--{flag}={spec!r} is invalid: expected pairs 'rate, n_epochs, ...'")
  rates = []
  for i in range(0, len(items), 2):
    try:
      rate, count = float(items[i]), int(items[i + 1])
    except ValueError:
      raise ScheduleError(f"--{flag}={spec!r} is invalid: pair {items[i]!r}, {items[i + 1]!r} "
                          "is not 'float rate, integer n_epochs'") from None
    if not 0.0 <= rate <= 1.0:
      raise ScheduleError(f"--{flag}={spec!r} is invalid: rate {rate} is outside [0, 1]")
    if count < 0:
      raise ScheduleError(f"--{flag}={spec!r} is invalid: n_epochs {count} is negative")
    rates.extend([rate] * count)
  if len(rates) != NUM_EPOCH_PERCENTAGES:
    raise ScheduleError(f"--{flag}={spec!r} is invalid: the n_epochs sum to {len(rates)}, "
                        f"not {NUM_EPOCH_PERCENTAGES}")
  return rates


def epoch_percentage(step: int, max_number_of_steps: int) -> int:
  """floor(100 * step / max_steps) from the pre-increment step, clipped to 0..99.

  Integer arithmetic (exact for any step); the original computed it with TF1 integer ops.
  """
  return min(NUM_EPOCH_PERCENTAGES - 1, (100 * int(step)) // int(max_number_of_steps))


def epoch_first_step(epoch: int, max_number_of_steps: int) -> int:
  """The smallest step whose `epoch_percentage` is >= epoch: ceil(epoch * max_steps / 100).

  Step 6 updates and the in-graph epoch lookup both use it; a test checks it against
  `epoch_percentage` step by step.
  """
  return -(-int(epoch) * int(max_number_of_steps) // 100)


def current_epoch(epoch: int, burn_in_epoch: int, fixed_epoch_after_burn_in: bool) -> int:
  """The epoch the original feeds to MentorNet and uses to look up schedules (§2.2 step 2)."""
  return min(epoch, burn_in_epoch) if fixed_epoch_after_burn_in else epoch


def burn_in_forces_weight(cur_epoch: int, burn_in_epoch: int) -> bool:
  """The original's strict `cur_epoch < burn_in_epoch - 1` (epochs 0..burn_in-2 force v=1)."""
  return cur_epoch < burn_in_epoch - 1


def tf1_percentile_index(batch_size: int, q: float) -> int:
  """Ascending index of TF1 `percentile(x, 100q, interpolation='nearest')` (§2.2 step 5).

  TF1 sorts descending and takes index round_half_even((B-1)(1-q)); we return the equivalent
  index into the ascending sort. B=128: q=.5/.6/.7/.75/.8 -> 63/76/89/95/102.
  """
  descending = int(np.round((batch_size - 1) * (1.0 - q)))  # np.round is half-to-even
  return batch_size - 1 - descending


@dataclasses.dataclass(frozen=True)
class EpochTables:
  """The rules above tabulated per epoch percentage e = 0..99 (the index of every table).

  Attributes:
    first_step: epoch_first_step(e); non-decreasing, first_step[0] = 0. The epoch percentage of a
      step is the last e with first_step[e] <= step (steps past the end stay at 99).
    cur_epoch: current_epoch(e): the epoch fed to the MentorNet and used for the lookups below.
    forces_weight: burn_in_forces_weight(cur_epoch[e]): v is forced to 1.
    dropout_rate: the example dropout rate, looked up with cur_epoch[e] as the original did (so
      with fixed_epoch_after_burn_in the schedule's later segments are never reached).
  """
  first_step: Tuple[int, ...]
  cur_epoch: Tuple[int, ...]
  forces_weight: Tuple[bool, ...]
  dropout_rate: Tuple[float, ...]


def epoch_tables(max_number_of_steps: int, burn_in_epoch: int, fixed_epoch_after_burn_in: bool,
                 example_dropout_rates: Union[str, Sequence[str]]) -> EpochTables:
  """Tabulates the original's per-epoch-percentage rules for one run.

  Raises:
    ScheduleError: a malformed `example_dropout_rates`.
    ValueError: max_number_of_steps < 1.
  """
  if max_number_of_steps < 1:
    raise ValueError(f"max_number_of_steps={max_number_of_steps!r} must be >= 1")
  rates = parse_dropout_rate_list(example_dropout_rates)
  epochs = range(NUM_EPOCH_PERCENTAGES)
  cur = [current_epoch(e, burn_in_epoch, fixed_epoch_after_burn_in) for e in epochs]
  return EpochTables(
      first_step=tuple(epoch_first_step(e, max_number_of_steps) for e in epochs),
      cur_epoch=tuple(cur),
      forces_weight=tuple(burn_in_forces_weight(c, burn_in_epoch) for c in cur),
      dropout_rate=tuple(rates[c] for c in cur))
