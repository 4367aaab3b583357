r"""Evaluates StudentNet checkpoints on the clean test split: top-1 and top-5.

  # once, the latest checkpoint of a run
  python -m mentornet_tf.evaluate --checkpoint_dir=runs/mnist5k_40/ckpt --once
  # follow a training run (as the original cifar_eval.py): evaluate every new checkpoint
  python -m mentornet_tf.evaluate --checkpoint_dir=runs/x/ckpt --eval_dir=runs/x/eval_test

Follow mode may start beside the training job: a <run>/ckpt that does not exist yet in an
existing run directory is waited for (up to --timeout_secs).

The dataset and student are read from the run's config.json (next to ckpt/) when it exists, else
from the flags. Summaries `eval/accuracy` and `eval/top5` go to --eval_dir.
`--split_name=imagenet_val` evaluates a WebVision run trained with --imagenet_val_dir on ILSVRC12
val restricted to the WebVision classes (the paper's Table 5 ILSVRC12 column); `train` evaluates
the noisy training split against both its noisy and its clean labels.

The newest readable checkpoint is evaluated: damaged newer ones (truncated or missing index or
data files, a state file naming a missing one) are skipped with a warning naming them. Refused
(exit 2, one `error:` line, nothing written): no readable checkpoint, a config.json that is not
JSON or has wrong fields, a checkpoint without StudentNet variables (e.g. a MentorNet's) or of
another architecture than config.json names, missing data. See mentornet_tf/cli.py.
"""
from mentornet_tf import entry  # noqa: F401  (first: a command's TF environment; entry.py)

import json
import os
import sys
import time
from typing import Callable, Dict, List, Optional, Sequence

from absl import flags
from absl import logging

from mentornet_tf import cli
from mentornet_tf import config as config_lib
from mentornet_tf import flag_configs
from mentornet_tf import flags as flags_lib

FLAGS = flags.FLAGS


def define_flags() -> None:
  """Registers the entry's flags (idempotent; only when it runs as a command, never at import)."""
  flags_lib.define_data_flags()
  flags_lib.define_student_flags()
  g = flags_lib.Group("evaluation")
  g.string("checkpoint_dir", "", "Directory of checkpoints (a run's ckpt/) or a checkpoint "
           "prefix.")
  g.string("eval_dir", "", "Where to write eval summaries; default <run>/eval_<split>.")
  g.integer("eval_interval_secs", 600, "How often to look for a new checkpoint (>= 1).")
  g.enum("split_name", "test", ["test", "train", "imagenet_val"], "Split to evaluate (train: "
         "the noisy training split without augmentation, reported against clean and noisy "
         "labels; imagenet_val: ILSVRC12 val on the WebVision classes, for a WebVision run "
         "trained with --imagenet_val_dir).")
  g.bool("once", False, "Evaluate the latest checkpoint once and exit.")
  g.integer("timeout_secs", 0, "Follow mode: stop after this long without a new checkpoint (0 = "
            "until the run's max_number_of_steps is reached).")
  g.bool("progress", None, "A progress bar over the batches on stderr; default: only when "
         "stderr is a terminal.")


def _config_from_json(path: str):
  """(DataConfig, StudentConfig, max_number_of_steps) from a run's config.json.

  Raises:
    cli.BadInput: unreadable, not JSON, or fields that do not make a run configuration.
  """
  try:
    with open(path) as f:
      raw = json.load(f)
  except (OSError, UnicodeDecodeError) as error:
    raise cli.BadInput(f"cannot read the run's config.json {path!r}: {error}") from None
  except ValueError as error:
    raise cli.BadInput(f"the run's config.json {path!r} is not JSON: {error}") from None
  try:
    if not isinstance(raw, dict):
      raise TypeError(f"a JSON object expected, found {type(raw).__name__}")
    for section in ("data", "student"):
      if section not in raw:
        raise KeyError(section)
      if not isinstance(raw[section], dict):
        raise TypeError(f"{section!r} must be an object, found {type(raw[section]).__name__}")
    data_raw = dict(raw["data"])
    if "fake_image_shape" in data_raw:
      data_raw["fake_image_shape"] = tuple(data_raw["fake_image_shape"])
    data = config_lib.DataConfig(**data_raw)
    student = config_lib.StudentConfig(**raw["student"])
    max_steps = int(raw.get("max_number_of_steps", 0))
  except KeyError as error:
    raise cli.BadInput(f"the run's config.json {path!r} has wrong fields: missing "
                       f"{error.args[0]!r}") from None
  except (TypeError, ValueError) as error:  # ConfigError is a ValueError and names the field
    raise cli.BadInput(f"the run's config.json {path!r} has wrong fields: {error}") from None
  return data, student, max_steps


def _run_config(checkpoint_dir: str, fallback: Callable[[], tuple],
                ignored_flags: Sequence[str] = ()):
  """(data, student, max_steps, run_dir, student source, data source) of `checkpoint_dir`'s run.

  From the run's config.json (next to ckpt/) when it exists, else `fallback()` = (data config,
  student config) (the command: the flags); the sources say which, for messages. Data and
  student flags given beside a config.json (`ignored_flags`) are named in a warning.
  """
  base = checkpoint_dir if os.path.isdir(checkpoint_dir) else os.path.dirname(checkpoint_dir)
  run_dir = os.path.dirname(os.path.abspath(base))
  path = os.path.join(run_dir, "config.json")
  if os.path.exists(path):
    if ignored_flags:
      logging.warning("The run's config.json %r names its data and student; ignored: %s", path,
                      " ".join(f"--{name}" for name in ignored_flags))
    data, student, max_steps = _config_from_json(path)
    return data, student, max_steps, run_dir, f"config.json {path!r}", f"config.json {path!r}"
  missing = f"(no config.json in {run_dir!r})"
  data, student = fallback()
  return (data, student, 0, base, f"--studentnet {missing}", f"the data flags {missing}")


def _validate_flags(argv) -> None:
  if len(argv) > 1:
    raise cli.BadInput(f"unexpected positional arguments: {' '.join(argv[1:])}")
  if not FLAGS.checkpoint_dir:
    raise cli.BadInput("--checkpoint_dir is required: a run's ckpt/ directory or a checkpoint "
                       "prefix such as <run>/ckpt/ckpt-<step>")


def _checkpoint_prefix(checkpoint: str) -> str:
  """Checks a --checkpoint_dir that is not a directory: a readable checkpoint prefix."""
  from mentornet_tf import checkpoints  # pylint: disable=g-import-not-at-top
  flag = f"--checkpoint_dir={checkpoint!r}"
  if checkpoint.endswith(".index") and os.path.isfile(checkpoint):
    raise cli.BadInput(f"{flag} is an index file: give the checkpoint prefix "
                       f"{checkpoint[:-len('.index')]!r} or its directory")
  if not checkpoints.candidate_files(checkpoint):
    if os.path.exists(checkpoint):
      raise cli.BadInput(f"{flag} is neither a directory of checkpoints nor a checkpoint prefix "
                         "(<run>/ckpt/ckpt-<step>)")
    raise cli.BadInput(f"{flag} does not exist")
  reason = checkpoints.unreadable_reason(checkpoint)
  if reason:
    raise cli.BadInput(f"{flag}: the checkpoint is damaged: {reason}")
  return checkpoint


def _wait_for_checkpoint_directory(checkpoint: str, timeout_secs: int) -> None:
  """Follow mode: waits (bounded by --timeout_secs, 0 = forever) for a --checkpoint_dir that does
  not exist yet inside an existing run directory (the job has not written ckpt/ yet). A path
  whose parent is missing too is refused at once (a typo, not a run about to save)."""
  parent = os.path.dirname(os.path.abspath(checkpoint))
  if os.path.exists(checkpoint) or not os.path.isdir(parent) or (
      os.path.basename(checkpoint.rstrip("/")) != "ckpt"):
    return  # a checkpoint prefix or a missing run: checked (and refused) below
  logging.info("Waiting for %s: the run has not saved a checkpoint yet.", checkpoint)
  started = time.time()
  while not os.path.isdir(checkpoint):
    if timeout_secs and time.time() - started >= timeout_secs:
      raise cli.BadInput(f"--checkpoint_dir={checkpoint!r} did not appear within "
                         f"--timeout_secs={timeout_secs} (has the run in {parent!r} started?)")
    time.sleep(1.0)


def _no_fallback():
  raise cli.BadInput("no config.json next to the checkpoints: give the data and student flags")


def evaluate_checkpoint(checkpoint_dir: str, *, split_name: str = "test", eval_dir: str = "",
                        once: bool = False, eval_interval_secs: int = 600, timeout_secs: int = 0,
                        fallback: Callable[[], tuple] = _no_fallback,
                        progress: Optional[bool] = None,
                        on_result: Optional[Callable[[Dict], None]] = None,
                        given_flags: Sequence[str] = ()) -> List[Dict]:
  """What the command does, in-process: evaluates one checkpoint, or follows a directory.

  `checkpoint_dir` is a run's ckpt/ directory (once: its newest readable checkpoint; else every
  new one until `timeout_secs` without one, or the run's last step) or a checkpoint prefix.
  `fallback()` gives (DataConfig, StudentConfig) when the run has no config.json. `progress`:
  a bar over the batches on stderr (None: when stderr is a terminal). Each result is passed to
  `on_result` (the command prints it as a JSON line) as it comes; returns them all.
  `given_flags`: the data and student flags the command line gave (a warning names them when the
  run's config.json decides instead).

  Raises:
    cli.BadInput: refused input (nothing written); cli.RunFailed: a later checkpoint of a
      followed directory does not match.
  """
  if eval_interval_secs < 1:
    raise cli.BadInput(f"--eval_interval_secs={eval_interval_secs} is invalid: must be >= 1")
  if timeout_secs < 0:
    raise cli.BadInput(f"--timeout_secs={timeout_secs} is invalid: must be >= 0 (0 = until the "
                       "run's last step)")
  on_result = on_result or (lambda result: None)
  checkpoint = checkpoint_dir
  if not once:  # follow mode started before the run saved anything, as beside a starting job
    _wait_for_checkpoint_directory(checkpoint, timeout_secs)
  is_dir = os.path.isdir(checkpoint)
  prefix = None if is_dir else _checkpoint_prefix(checkpoint)
  # Everything is checked before anything is written: the config, a readable checkpoint, the
  # data, and that the checkpoint holds the configured student (the summary writer comes last).
  data, student, max_steps, run_dir, source, data_source = _run_config(checkpoint, fallback,
                                                                       given_flags)
  from mentornet_tf import evaluation  # pylint: disable=g-import-not-at-top
  from mentornet_tf import progress as progress_lib  # pylint: disable=g-import-not-at-top
  from mentornet_tf.data import sources  # pylint: disable=g-import-not-at-top
  once = once or not is_dir
  if once and is_dir:
    try:
      prefix = evaluation.latest_checkpoint(checkpoint)
    except FileNotFoundError as error:
      raise cli.BadInput(str(error)) from None
  eval_dir = eval_dir or os.path.join(run_dir, f"eval_{split_name}")
  try:
    evaluator = evaluation.Evaluator(data, student, split=split_name, eval_dir=eval_dir,
                                     source=source)
  except (sources.DataNotFoundError, sources.CorruptDataError, sources.LabelRangeError) as error:
    raise cli.BadInput(f"cannot read the data that {data_source} names: {error}") from None
  except evaluation.MissingSplit as error:
    raise cli.BadInput(str(error)) from None
  if progress is None:
    progress = sys.stderr.isatty()
  if progress:
    progress_lib.watch_batches(evaluator)
  results = []
  if once:
    try:
      result = evaluator.evaluate(prefix)
    except evaluation.CheckpointMismatch as error:
      raise cli.BadInput(str(error)) from None
    on_result(result)
    return [result]
  try:
    for result in evaluator.follow(checkpoint, eval_interval_secs, timeout_secs or None,
                                   max_steps):
      on_result(result)
      results.append(result)
  except evaluation.CheckpointMismatch as error:
    if results:  # a later checkpoint of the directory does not match: the run failed
      raise cli.RunFailed(str(error)) from None
    raise cli.BadInput(str(error)) from None
  if not results:
    raise cli.BadInput(f"--checkpoint_dir={checkpoint!r} holds no readable checkpoint after "
                       f"--timeout_secs={timeout_secs}")
  return results


def main(argv):
  _validate_flags(argv)
  fallback = lambda: (flag_configs.data_config_from_flags(),
                      config_lib.StudentConfig(studentnet=FLAGS.studentnet))
  evaluate_checkpoint(
      FLAGS.checkpoint_dir, split_name=FLAGS.split_name, eval_dir=FLAGS.eval_dir,
      once=FLAGS.once, eval_interval_secs=FLAGS.eval_interval_secs,
      timeout_secs=FLAGS.timeout_secs, fallback=fallback, progress=FLAGS.progress,
      on_result=lambda result: print(json.dumps(result, sort_keys=True), flush=True),
      given_flags=[name for title in ("data", "student")
                   for name in flags_lib.groups().get(title, ()) if FLAGS[name].present])
  return 0


if __name__ == "__main__":
  define_flags()
  cli.run(main)
