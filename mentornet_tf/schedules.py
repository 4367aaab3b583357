"""Research rules of the original code as pure Python/numpy (no TensorFlow).

Mirrors `parse_dropout_rate_list`, the step -> epoch-percentage mapping and the burn-in rule of the
original `code/utils.py` and `code/cifar_train_mentornet.py` (original_code.md §2.2, §2.6, §10.7).
The in-graph versions in `mentornet_tf.mentor.weighting` are tested against these.
"""
import math
from typing import List, Sequence, Union

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
  """floor(100 * step / max_steps) from the pre-increment step, clipped to 0..99 (§10.7)."""
  return int(min(NUM_EPOCH_PERCENTAGES - 1, math.floor(100 * step / max_number_of_steps)))


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


def steps_per_epoch(num_train: int, batch_size: int) -> int:
  return max(1, math.ceil(num_train / batch_size))
