"""`ConfigError` and the checks every config dataclass runs in `__post_init__`.

An error message names the flag (= field) and the value, so a command line's mistake is found at
once. No TensorFlow import here.
"""
import math
from typing import Tuple


class ConfigError(ValueError):
  """A configuration value is invalid. The message names the flag (= field) and the value."""


def check(condition: bool, flag: str, value, requirement: str) -> None:
  """Raises ConfigError naming `--flag=value` and the `requirement` unless `condition` holds."""
  if not condition:
    raise ConfigError(f"--{flag}={value!r} is invalid: {requirement}")


def finite(value) -> bool:
  """Whether `value` is a finite number (False for None, strings and other non-numbers)."""
  try:
    return math.isfinite(value)
  except TypeError:
    return False


def _parse_list(text: str, flag: str, kind: type, what: str) -> tuple:
  items = [t.strip() for t in str(text).split(",") if t.strip()]
  try:
    return tuple(kind(t) for t in items)
  except ValueError as error:
    raise ConfigError(f"--{flag}={text!r} is invalid: expected comma-separated {what} "
                      f"({error})") from None


def parse_float_list(text: str, flag: str) -> Tuple[float, ...]:
  """'0.1, 0.01' -> (0.1, 0.01); an error names `flag` when an item is not a number."""
  return _parse_list(text, flag, float, "numbers")


def parse_int_list(text: str, flag: str) -> Tuple[int, ...]:
  """'19531,25000' -> (19531, 25000); an error names `flag` when an item is not an integer."""
  return _parse_list(text, flag, int, "integers")
