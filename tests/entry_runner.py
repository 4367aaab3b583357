"""Runs a `python -m mentornet_tf.<entry>` command in this process, as a subprocess would see it.

`run_entry("train", [...])` goes through the entry's real `cli.run(main)` path (flag parsing, the
exit-status convention, the `error: ...` line) with freshly unparsed flags, and returns an object
with `returncode`, `stdout` and `stderr` like `subprocess.run(..., capture_output=True)`. The
absl log handler writes to the captured stderr while the command runs, as it writes to fd 2 in a
process of its own, so warnings logged through absl (e.g. "Took over the lock", "skipped damaged
checkpoint") are seen exactly as often as a user would see them.

Use a real process only where the process boundary is the point (kill -9, a second writer, the
run-directory lock held by another process, logical devices, multi-worker).
"""
import contextlib
import importlib
import io
import os
import types
from typing import Optional, Sequence

# The tiny training run the tests share: digits, MLP, 1297 // 64 = 20 steps per epoch.
TINY_TRAIN_ARGS = ("--dataset_name=digits", "--studentnet=mlp", "--batch_size=64",
                   "--optimizer=adam", "--learning_rate=0.001", "--lr_schedule=constant",
                   "--noise_fraction=0.4", "--eval_interval=1", "--save_interval_secs=0",
                   "--summary_steps=5", "--verbose=0")
TINY_FLAGS = "\n".join(TINY_TRAIN_ARGS) + "\n"  # the same, as a --flagfile


def run_entry(entry: str, args: Sequence[str], cwd: Optional[str] = None,
              check: bool = False) -> types.SimpleNamespace:
  """Runs `mentornet_tf.<entry>` with `args`; returns returncode, stdout and stderr."""
  from absl import flags  # pylint: disable=g-import-not-at-top
  from absl import logging  # pylint: disable=g-import-not-at-top
  from mentornet_tf import cli  # pylint: disable=g-import-not-at-top
  module = importlib.import_module(f"mentornet_tf.{entry}")
  module.define_flags()  # idempotent
  flags.FLAGS.unparse_flags()
  stdout, stderr = io.StringIO(), io.StringIO()
  handler = logging.get_absl_handler().python_handler
  saved_stream = handler.stream
  saved_cwd = os.getcwd()
  status = 0
  try:
    if cwd is not None:
      os.chdir(cwd)
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
      handler.stream = stderr
      try:
        cli.run(module.main, argv=[entry, *args])
      except SystemExit as exit_:
        status = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
  finally:
    handler.stream = saved_stream
    os.chdir(saved_cwd)
    flags.FLAGS.unparse_flags()
  result = types.SimpleNamespace(returncode=status, stdout=stdout.getvalue(),
                                 stderr=stderr.getvalue())
  if check and result.returncode != 0:
    raise AssertionError(f"{entry} failed ({result.returncode}):\n{result.stderr[-3000:]}")
  return result
