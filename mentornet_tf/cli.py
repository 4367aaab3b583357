"""The one command-line convention of every `python -m mentornet_tf.<entry>`.

Exit statuses (WORKSPACE.md, "Exit statuses"):
  0  success.
  1  the run started and failed (divergence, an error during training), or absl's `--help`.
  2  bad input: refused before anything was written; one line `error: ...` naming the flag, file
     or value, printed last, no traceback.

Entry points raise `BadInput` (or `config.ConfigError`, `app.UsageError`) for refused input and
`RunFailed` for a failure during the run; `run(main)` turns them into the line and the status.
Anything else is a bug and keeps its traceback.
"""
import os
import sys
from typing import Callable, List, Optional

from absl import app
from absl import flags

from mentornet_tf import errors

# The error types live in errors.py (flag-free, for library modules); entry points use them here.
EXIT_OK = errors.EXIT_OK
EXIT_FAILURE = errors.EXIT_FAILURE
EXIT_BAD_INPUT = errors.EXIT_BAD_INPUT
BadInput = errors.BadInput
RunFailed = errors.RunFailed


def one_line(error, limit: int = 400) -> str:
  """An exception's message on one line, cut at `limit` characters (for an `error:` line)."""
  text = " ".join(str(error).split())
  return text if len(text) <= limit else text[:limit] + " ..."


def _print_error(message: str) -> None:
  sys.stdout.flush()
  print(f"error: {message}", file=sys.stderr, flush=True)


_HELP_ARGS = ("--help", "-help", "--helpshort", "-helpshort", "-?", "-h")


def _wants_help(argv: List[str]) -> bool:
  for arg in argv[1:]:
    if arg == "--":
      return False
    if arg in _HELP_ARGS:
      return True
  return False


def print_help(doc: Optional[str]) -> None:
  """The entry's docstring and its flags in groups (absl's own --help shows one flat list)."""
  from mentornet_tf import flags as flags_lib  # pylint: disable=g-import-not-at-top
  sections = flags_lib.help_text() if flags_lib.groups() else flags.FLAGS.main_module_help()
  text = (doc or "").rstrip() + "\n\nflags (--helpfull also lists absl's):\n" + sections
  sys.stdout.write(text.rstrip() + "\n")
  sys.stdout.flush()


def _parse_flags(argv: List[str], doc: Optional[str] = None) -> List[str]:
  if _wants_help(argv):  # before parsing: absl's --help would print a flat list and no groups
    print_help(doc)
    sys.exit(EXIT_FAILURE)  # absl's status for --help
  try:
    return flags.FLAGS(argv)
  except flags.Error as error:  # unknown flag, bad value, unreadable --flagfile
    message = str(error)
    if message.startswith("ERROR:: "):  # absl's own prefix, before ours ("error: ERROR:: ...")
      message = message[len("ERROR:: "):]
    if isinstance(error, flags.CantOpenFlagFileError):
      message += (f" (relative paths, in flagfiles too, are read from the current directory "
                  f"{os.getcwd()!r}: run the launch/ flagfiles from the repository root)")
    _print_error(message)
    sys.exit(EXIT_BAD_INPUT)


def _bad_input_types():
  from mentornet_tf import config as config_lib  # pylint: disable=g-import-not-at-top
  return (BadInput, config_lib.ConfigError, app.UsageError)


def guarded(main: Callable[[List[str]], Optional[int]]) -> Callable[[List[str]], int]:
  """`main` with the exit-status convention applied to the exceptions it raises."""

  def wrapped(argv: List[str]) -> int:
    try:
      status = main(argv)
    except _bad_input_types() as error:
      _print_error(str(error))
      return EXIT_BAD_INPUT
    except RunFailed as error:
      _print_error(str(error))
      return EXIT_FAILURE
    return EXIT_OK if status is None else int(status)

  return wrapped


def set_log_verbosity() -> None:
  """absl logging at WARNING (results, warnings and a readable progress line), or at the
  `--verbosity` the command line gives (0: INFO, e.g. the image counts a source reads).

  The flag is read before anything is set: absl's `set_verbosity` writes the flag itself, so
  setting WARNING first would turn a requested 0 into -1.
  """
  from absl import logging  # pylint: disable=g-import-not-at-top
  requested = flags.FLAGS.verbosity if flags.FLAGS["verbosity"].present else logging.WARNING
  logging.set_verbosity(requested)


def run(main: Callable[[List[str]], Optional[int]], argv: Optional[List[str]] = None) -> None:
  """`absl.app.run` with one-line errors and the exit statuses above (never returns).

  `--help` prints the docstring of `main`'s module and the flags defined through
  mentornet_tf/flags.py in their groups (data, student, mentor, training, distribution, output).
  """
  module = sys.modules.get(getattr(main, "__module__", None) or "__main__")
  doc = getattr(module, "__doc__", None)

  def main_at_log_verbosity(args: List[str]) -> Optional[int]:
    set_log_verbosity()  # every command alike: warnings and results, or --verbosity
    return main(args)

  app.run(guarded(main_at_log_verbosity), argv=argv,
          flags_parser=lambda args: _parse_flags(args, doc))
