"""The error types that decide how an entry point ends (mentornet_tf/cli.py turns them into exit
statuses). Flag-free, so that library modules raise them without importing absl flags.

  EXIT_OK = 0         success.
  EXIT_FAILURE = 1    the run started and failed (divergence, an error during training).
  EXIT_BAD_INPUT = 2  input refused before anything was written.
"""
EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_BAD_INPUT = 2


class BadInput(ValueError):
  """Input refused before anything was written; the message names the flag, file or value."""


class RunFailed(RuntimeError):
  """The run started and failed; the message says what and where (e.g. the step)."""
