"""train_mentornet's options turned into what learning takes, each refusal naming its flag.

The original data_generator.py side of the command: the curriculum hyper-parameters of the
--vstar_* flags, the learning data (the predefined grid with its extra --focus_rows, or a
StudentNet dump for --vstar_fn=data_driven), the LearnConfig, the MentorNet to continue from
(--init_mentornet_dir) and the --train_dir check. `o` is the command's options namespace
(`train_mentornet.options()` or its parsed flags). A refused option raises `app.UsageError`
(`--flag=value is invalid: ...`), a malformed dump line `cli.BadInput` (file and line); both
before anything is written. Only the entry train_mentornet.py imports it.
"""
import math
import os
from typing import List, NamedTuple, Optional

from absl import app
import numpy as np

from mentornet_tf import cli
from mentornet_tf.mentor import curricula
from mentornet_tf.mentor import grid_focus
from mentornet_tf.mentor import learning
from mentornet_tf.mentor import mentor_data
from mentornet_tf.mentor import network
from mentornet_tf.mentor import storage

DATA_DRIVEN = "data_driven"  # --vstar_fn: learn from a StudentNet dump (MentorNet DD)

_HPARAM_FLAGS = {"vstar_gamma": "gamma", "vstar_lambda1": "lambda1", "vstar_lambda2": "lambda2",
                 "vstar_epsilon": "epsilon"}


def usage(flag: str, value, requirement: str) -> app.UsageError:
  """The refusal of one option: `--flag=value is invalid: requirement`."""
  return app.UsageError(f"--{flag}={value!r} is invalid: {requirement}")


def curriculum_hparams(curriculum: curricula.Curriculum, o) -> dict:
  """The curriculum hyper-parameters set by --vstar_* flags; a flag it does not use is an error."""
  hparams = {}
  for flag, name in _HPARAM_FLAGS.items():
    value = getattr(o, flag)
    if value is None:
      continue
    if name not in curriculum.default_hparams:
      raise usage(flag, value, f"--vstar_fn={curriculum.name} has no {name} (it takes "
                  f"{sorted(curriculum.default_hparams) or 'no hyper-parameters'})")
    if not math.isfinite(value):
      raise usage(flag, value, "must be a finite number")
    hparams[name] = value
  try:
    return curriculum.hparams(**hparams)
  except ValueError as error:
    raise app.UsageError(str(error)) from None


def learn_config(o) -> learning.LearnConfig:
  """The learning options as a LearnConfig; its own checks' refusals as UsageError."""
  try:
    return learning.LearnConfig(
        mode=o.training_mode, mini_batch_size=o.mini_batch_size,
        max_step_train=o.max_step_train, learning_rate=o.learning_rate, seed=o.seed,
        eval_every=o.eval_every, jit_compile=o.jit_compile)
  except ValueError as error:
    raise app.UsageError(str(error)) from None


def learning_data(curriculum: Optional[curricula.Curriculum], o):
  """(train, test, hparams, data description) for the options: the predefined grid of
  `curriculum` (--sample_size rows, --focus_rows extra), or with --vstar_fn=data_driven
  (`curriculum` None) the StudentNet dump split by its loss percentile.

  train, test: float arrays [N, 5] (mentor_data.py rows); hparams: the curriculum's
  hyper-parameters set by --vstar_* flags; data description: mentornet.json's "data".
  """
  if o.vstar_fn == DATA_DRIVEN:
    if not o.input_csv_filename:
      raise usage("input_csv_filename", "", f"--vstar_fn={DATA_DRIVEN} needs a StudentNet dump")
    if not 0 <= o.percentile <= 100:
      raise usage("percentile", o.percentile, "must lie in [0, 100]")
    for flag in _HPARAM_FLAGS:
      if getattr(o, flag) is not None:
        raise usage(flag, getattr(o, flag), f"--vstar_fn={DATA_DRIVEN} takes no curriculum "
                    "hyper-parameters")
    path = o.input_csv_filename
    if os.path.isdir(path):
      raise usage("input_csv_filename", path, "is a directory, not a StudentNet dump file")
    try:
      rows = mentor_data.read_student_dump(path, keep=o.dump_keep)
    except FileNotFoundError:
      raise usage("input_csv_filename", path, "no such StudentNet dump file") from None
    except OSError as error:
      raise usage("input_csv_filename", path, f"cannot be read ({error.strerror or error})") \
          from None
    except ValueError as error:  # names the file and the line
      raise cli.BadInput(f"--input_csv_filename: {error}") from None
    train, test = mentor_data.generate_data_driven(rows, o.percentile, seed=o.seed)
    if len(train) == 0 or len(test) == 0:
      raise usage("input_csv_filename", path, f"{len(rows)} example(s) kept from the dump: too "
                  "few to split into a training and a test part (give at least 3)")
    description = {"source": DATA_DRIVEN, "input_csv_filename": o.input_csv_filename,
                   "percentile": o.percentile, "dump_keep": o.dump_keep,
                   "dump_rows": len(rows),
                   "loss_threshold": float(np.percentile(rows[:, 4], o.percentile))}
    return train, test, {}, description
  hparams = curriculum_hparams(curriculum, o)
  if not 1 <= o.sample_size <= len(mentor_data.predefined_grid()):
    raise usage("sample_size", o.sample_size, "must lie in [1, 1200000] (the grid size)")
  train, test = mentor_data.generate_predefined(curriculum.name, o.sample_size,
                                                seed=o.seed, **hparams)
  description = {"source": "predefined", "sample_size": o.sample_size}
  if o.focus_rows:
    try:
      train = grid_focus.with_focus_rows(train, test, curriculum.name, o.focus_epochs,
                                         o.focus_rows, o.seed, **hparams)
    except ValueError as error:
      raise app.UsageError(str(error)) from None
    description.update(focus_rows=o.focus_rows, focus_epochs=o.focus_epochs)
  return train, test, hparams, description


# The MentorNet architecture flags (network.MentorNetConfig fields of the same names).
ARCHITECTURE_FLAGS = ("num_lstm_units", "corrected_output", "train_epoch_embedding")


def load_initial_mentornet(path):
  """The MentorNet to continue from; UsageError naming --init_mentornet_dir if it is unusable."""
  try:
    model, _ = storage.load_mentornet(path)
  except storage.LOAD_ERRORS as error:
    raise usage("init_mentornet_dir", path,
                f"no loadable MentorNet there ({cli.one_line(error)})") from None
  return model


def check_train_dir(directory):
  """Refuses a --train_dir that `storage.save_mentornet` could not write; creates nothing."""
  problem = storage.unwritable_reason(directory)
  if problem:
    raise usage("train_dir", directory, problem)


class Inputs(NamedTuple):
  """What `train_mentornet.learn` learns from, all options checked."""
  learn_config: learning.LearnConfig
  curriculum: Optional[curricula.Curriculum]  # None: --vstar_fn=data_driven
  hparams: dict  # the curriculum's hyper-parameters set by --vstar_* flags
  train: np.ndarray  # [N, 5] rows (mentor_data.py), as `learning_data` returns them
  test: np.ndarray  # [M, 5]
  data_description: dict  # mentornet.json's "data"
  finetune_learning_rates: List[float]
  mentornet_config: network.MentorNetConfig


def resolve(o) -> Inputs:
  """Checks every option, in order, and builds the learning inputs; the first refusal raises
  (app.UsageError / cli.BadInput) before anything is written. --train_dir is checked first,
  --init_mentornet_dir (loaded once) last."""
  if not o.train_dir:
    raise usage("train_dir", o.train_dir, "an output directory is required")
  check_train_dir(o.train_dir)
  if not math.isfinite(o.learning_rate):
    raise usage("learning_rate", o.learning_rate, "must be a finite number > 0")
  if o.seed < 0:
    raise usage("seed", o.seed, "must be >= 0")
  if o.vstar_fn != DATA_DRIVEN and o.vstar_fn not in curricula.CURRICULA:
    raise usage("vstar_fn", o.vstar_fn,
                f"choose one of {', '.join(curricula.CURRICULA)}, {DATA_DRIVEN}")
  if o.restarts < 1:
    raise usage("restarts", o.restarts, "must be >= 1")
  if o.focus_rows < 0 or (o.focus_rows and o.vstar_fn == DATA_DRIVEN):
    raise usage("focus_rows", o.focus_rows, "must be >= 0, and 0 for --vstar_fn=data_driven "
                "(extra rows come from the predefined grid)")
  rates = ",".join(o.finetune_learning_rates)
  try:
    finetune_rates = [float(r) for r in o.finetune_learning_rates]
  except ValueError:
    finetune_rates = [math.nan]
  if not all(math.isfinite(r) and r > 0 for r in finetune_rates):
    raise usage("finetune_learning_rates", rates, "expected numbers > 0, e.g. 0.01,0.003")
  architecture = {name: getattr(o, name) for name in ARCHITECTURE_FLAGS
                  if getattr(o, name) is not None}
  try:
    mentornet_config = network.MentorNetConfig(**architecture)
  except ValueError:
    raise usage("num_lstm_units", o.num_lstm_units, "must be a positive integer") from None
  config = learn_config(o)
  curriculum = None if o.vstar_fn == DATA_DRIVEN else curricula.get(o.vstar_fn)
  if config.mode == "explicit" and (curriculum is None or curriculum.regularizer_fn is None):
    raise usage("training_mode", "explicit", f"--vstar_fn={o.vstar_fn} has no known G")
  train, test, hparams, data_description = learning_data(curriculum, o)
  if o.init_mentornet_dir:  # refused before any learning
    loaded = load_initial_mentornet(o.init_mentornet_dir).config
    for name, value in architecture.items():
      if getattr(loaded, name) != value:
        raise usage(name, value, f"the MentorNet of --init_mentornet_dir={o.init_mentornet_dir!r} "
                    f"has {name}={getattr(loaded, name)!r}, and continuing learns that network "
                    "as it is: leave the flag out or give its value")
  return Inputs(config, curriculum, hparams, train, test, data_description, finetune_rates,
                mentornet_config)
