"""The process environment of a command, set before TensorFlow is imported.

Every entry module imports this module first (`from mentornet_tf import entry  # noqa: F401`).
When the process runs a mentornet_tf entry as a command (`python -m mentornet_tf.<entry>`, whose
`__main__` module is that entry; the console scripts call `prepare_environment()` themselves), it
sets, unless the user already set them:

  TF_CPP_MIN_LOG_LEVEL  TensorFlow's C++ start-up noise (the `E ... cuInit` line on a machine
                        without a GPU, oneDNN and CPU-feature INFO lines) is hidden ("3"), unless
                        the command line asks for it with absl's `--verbosity=N` (or `-v N`):
                        N >= 0 (INFO) shows everything, -1 warnings and up, -2 errors and up.
                        Read from sys.argv before absl parses flags (absl parses after the
                        imports, too late for TensorFlow), so a --verbosity inside a
                        --flagfile does not count. Failures still surface: as Python
                        exceptions, printed by mentornet_tf/cli.py.
  TF_USE_LEGACY_KERAS   "1": `tf.keras` is tf_keras (Keras 2) for third-party code that uses
                        `tf.keras` (tfds, tf-models-official) in the same process. The package
                        itself imports `tf_keras` directly everywhere, so it needs nothing.

Importing the package (`import mentornet_tf`) or an entry module from user code changes nothing
in `os.environ` (tests/test_entry_points.py): a library user who mixes mentornet_tf models with
`tf.keras` code sets TF_USE_LEGACY_KERAS=1 before importing TensorFlow.
"""
import os
import sys
from typing import List, Optional

QUIET_TF_LOG_LEVEL = "3"


def _verbosity(argv: List[str]) -> Optional[int]:
  """The value of --verbosity / --v / -v in `argv` (the last one wins), or None."""
  value = None
  args = list(argv)
  for i, arg in enumerate(args):
    if arg == "--":
      break
    for name in ("--verbosity", "-verbosity", "--v", "-v"):
      if arg == name and i + 1 < len(args):
        value = args[i + 1]
      elif arg.startswith(name + "="):
        value = arg[len(name) + 1:]
  if value is None:
    return None
  try:
    return int(value)
  except ValueError:
    return 0  # absl refuses the value later; show the logs meanwhile


def tf_log_level(argv: List[str]) -> str:
  """TF_CPP_MIN_LOG_LEVEL for a command line: quiet unless --verbosity asks for logs."""
  verbosity = _verbosity(argv)
  if verbosity is None:
    return QUIET_TF_LOG_LEVEL
  return str(min(3, max(0, -verbosity)))


def prepare_environment(argv: Optional[List[str]] = None) -> None:
  """Sets the command's TF_CPP_MIN_LOG_LEVEL and TF_USE_LEGACY_KERAS (user values are kept)."""
  argv = sys.argv if argv is None else argv
  os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", tf_log_level(argv[1:]))
  os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")


def running_as_command() -> bool:
  """Whether this process's `__main__` is a mentornet_tf module run with `python -m`."""
  spec = getattr(sys.modules.get("__main__"), "__spec__", None)
  return bool(spec is not None and (spec.name or "").startswith("mentornet_tf."))


if running_as_command():
  prepare_environment()
