r"""Evaluates StudentNet checkpoints on the clean test split: top-1 and top-5.

  # once, the latest checkpoint of a run
  python -m mentornet_tf.evaluate --checkpoint_dir=runs/mnist5k_40/ckpt --once
  # follow a training run (as the original cifar_eval.py): evaluate every new checkpoint
  python -m mentornet_tf.evaluate --checkpoint_dir=runs/x/ckpt --eval_dir=runs/x/eval_test

The dataset and student are read from the run's config.json (next to ckpt/) when it exists, else
from the flags. Summaries `eval/accuracy` and `eval/top5` go to --eval_dir.

The newest readable checkpoint is evaluated: damaged newer ones (truncated or missing index or
data files, a state file naming a missing one) are skipped with a warning naming them. Refused
(exit 2, one `error:` line, nothing written): no readable checkpoint, a config.json that is not
JSON or has wrong fields, a checkpoint without StudentNet variables (e.g. a MentorNet's) or of
another architecture than config.json names, missing data. See mentornet_tf/cli.py.
"""
import json
import os

import mentornet_tf  # noqa: F401  (selects tf_keras before TensorFlow is imported)
from absl import flags
from absl import logging

from mentornet_tf import cli
from mentornet_tf import config as config_lib
from mentornet_tf import flags as flags_lib

flags_lib.define_data_flags()
flags_lib.define_student_flags()
flags.DEFINE_string("checkpoint_dir", "", "Directory of checkpoints (a run's ckpt/) or a "
                    "checkpoint prefix.")
flags.DEFINE_string("eval_dir", "", "Where to write eval summaries; default <run>/eval_<split>.")
flags.DEFINE_integer("eval_interval_secs", 600, "How often to look for a new checkpoint (>= 1).")
flags.DEFINE_enum("split_name", "test", ["test", "train"], "Split to evaluate (train: the noisy "
                  "training split without augmentation, reported against clean and noisy labels).")
flags.DEFINE_bool("once", False, "Evaluate the latest checkpoint once and exit.")
flags.DEFINE_integer("timeout_secs", 0, "Follow mode: stop after this long without a new "
                     "checkpoint (0 = until the run's max_number_of_steps is reached).")
FLAGS = flags.FLAGS


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


def _run_config(checkpoint_dir: str):
  """(data, student, max_steps, run_dir, student source, data source) of `checkpoint_dir`'s run.

  From the run's config.json (next to ckpt/) when it exists, else from the flags; the sources
  say which, for messages.
  """
  base = checkpoint_dir if os.path.isdir(checkpoint_dir) else os.path.dirname(checkpoint_dir)
  run_dir = os.path.dirname(os.path.abspath(base))
  path = os.path.join(run_dir, "config.json")
  if os.path.exists(path):
    data, student, max_steps = _config_from_json(path)
    return data, student, max_steps, run_dir, f"config.json {path!r}", f"config.json {path!r}"
  missing = f"(no config.json in {run_dir!r})"
  return (flags_lib.data_config_from_flags(),
          config_lib.StudentConfig(studentnet=FLAGS.studentnet), 0, base,
          f"--studentnet {missing}", f"the data flags {missing}")


def _validate_flags(argv) -> None:
  if len(argv) > 1:
    raise cli.BadInput(f"unexpected positional arguments: {' '.join(argv[1:])}")
  if not FLAGS.checkpoint_dir:
    raise cli.BadInput("--checkpoint_dir is required: a run's ckpt/ directory or a checkpoint "
                       "prefix such as <run>/ckpt/ckpt-<step>")
  if FLAGS.eval_interval_secs < 1:
    raise cli.BadInput(f"--eval_interval_secs={FLAGS.eval_interval_secs} is invalid: must be "
                       ">= 1")
  if FLAGS.timeout_secs < 0:
    raise cli.BadInput(f"--timeout_secs={FLAGS.timeout_secs} is invalid: must be >= 0 "
                       "(0 = until the run's last step)")


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


def main(argv):
  _validate_flags(argv)
  logging.set_verbosity(logging.WARNING)  # results and warnings only; --verbosity overrides
  if FLAGS["verbosity"].present:
    logging.set_verbosity(FLAGS.verbosity)
  checkpoint = FLAGS.checkpoint_dir
  is_dir = os.path.isdir(checkpoint)
  prefix = None if is_dir else _checkpoint_prefix(checkpoint)
  # Everything is checked before anything is written: the config, a readable checkpoint, the
  # data, and that the checkpoint holds the configured student (the summary writer comes last).
  data, student, max_steps, run_dir, source, data_source = _run_config(checkpoint)
  from mentornet_tf import evaluation  # pylint: disable=g-import-not-at-top
  from mentornet_tf.data import sources  # pylint: disable=g-import-not-at-top
  once = FLAGS.once or not is_dir
  if once and is_dir:
    try:
      prefix = evaluation.latest_checkpoint(checkpoint)
    except FileNotFoundError as error:
      raise cli.BadInput(str(error)) from None
  eval_dir = FLAGS.eval_dir or os.path.join(run_dir, f"eval_{FLAGS.split_name}")
  try:
    evaluator = evaluation.Evaluator(data, student, split=FLAGS.split_name, eval_dir=eval_dir,
                                     source=source)
  except (sources.DataNotFoundError, sources.CorruptDataError, sources.LabelRangeError) as error:
    raise cli.BadInput(f"cannot read the data that {data_source} names: {error}") from None
  if once:
    try:
      result = evaluator.evaluate(prefix)
    except evaluation.CheckpointMismatch as error:
      raise cli.BadInput(str(error)) from None
    print(json.dumps(result, sort_keys=True))
    return 0
  evaluated = 0
  try:
    for result in evaluator.follow(checkpoint, FLAGS.eval_interval_secs,
                                   FLAGS.timeout_secs or None, max_steps):
      print(json.dumps(result, sort_keys=True), flush=True)
      evaluated += 1
  except evaluation.CheckpointMismatch as error:
    if evaluated:  # a later checkpoint of the directory does not match: the run failed
      raise cli.RunFailed(str(error)) from None
    raise cli.BadInput(str(error)) from None
  if not evaluated:
    raise cli.BadInput(f"--checkpoint_dir={checkpoint!r} holds no readable checkpoint after "
                       f"--timeout_secs={FLAGS.timeout_secs}")
  return 0


if __name__ == "__main__":
  cli.run(main)
