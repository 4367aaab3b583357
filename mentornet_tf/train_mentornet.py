r"""Learns a MentorNet and writes it as a MentorNet directory (original `training_mentornet/`).

Predefined curriculum (MentorNet PD), as the original README (the shipped mentornet_pd adds
--focus_rows=100000 --focus_epochs=90,99 --train_epoch_embedding --restarts=5
--finetune_learning_rates=0.01,0.003,0.001: data/mentornet_models/README.md):
  python -m mentornet_tf.train_mentornet --train_dir=/tmp/mentornet_pd --vstar_fn=mentornet_pd \
      --vstar_gamma=1 --sample_size=100000 --max_step_train=30000 --learning_rate=0.1
Data-driven (MentorNet DD) from a StudentNet dump (`id epoch noisy_label clean_label loss`):
  python -m mentornet_tf.train_mentornet --train_dir=/tmp/mentornet_dd --vstar_fn=data_driven \
      --input_csv_filename=dump.csv --percentile=90

The original's data_generator.py and train.py in one: data in memory (mentor_data.py,
grid_focus.py), learned by multistart.py (restarts, fine-tuning) with learning.py. Original flag
names; --vstar_gamma is applied (the original ignored it). `storage.save_mentornet` writes the
curriculum, hyper-parameters, command and metrics into mentornet.json; the last line printed is
`test_mse=<value>`.

Checked before the first step, leaving nothing behind: the flags, the StudentNet dump (a missing
file or a malformed line: one message naming the file and line), --init_mentornet_dir (loaded),
and that --train_dir can be written (storage.unwritable_reason). Exit status (cli.py): 0 done;
2 refused input (one `error:` line, nothing written); 1 when learning or the final save fails.
"""
from mentornet_tf import entry  # noqa: F401  (first: a command's TF environment; entry.py)

import dataclasses
import math
import os
import sys
import types
from typing import Optional

from absl import app
from absl import flags
import numpy as np

from mentornet_tf import cli
from mentornet_tf import config as config_lib
from mentornet_tf import flags as flags_lib
from mentornet_tf.mentor import curricula
from mentornet_tf.mentor import grid_focus
from mentornet_tf.mentor import learning
from mentornet_tf.mentor import mentor_data
from mentornet_tf.mentor import multistart
from mentornet_tf.mentor import network
from mentornet_tf.mentor import storage

DATA_DRIVEN = "data_driven"

FLAGS = flags.FLAGS


def define_flags(flag_values=None) -> None:
  """Registers the entry's flags (idempotent; only when it runs as a command, never at import).

  `flag_values`: a private FlagValues instead of absl's FLAGS (`options()`).
  """
  # Original data_generator.py flags.
  g = flags_lib.Group("curriculum data", flag_values)
  g.enum("vstar_fn", "mentornet_pd", list(config_lib.CURRICULUM_NAMES) + [DATA_DRIVEN],
         f"The curriculum v* to learn, or '{DATA_DRIVEN}' (from a StudentNet dump).")
  g.float("vstar_gamma", None, "Curriculum gamma (focal_loss, spcl_linear, mentornet_pd); "
          "default: the curriculum's own.")
  g.float("vstar_lambda1", None, "lambda1 of Eq. 5/7 (closed_form, self_paced).")
  g.float("vstar_lambda2", None, "lambda2 of Eq. 5/7 (closed_form).")
  g.float("vstar_epsilon", None, "epsilon of prediction_variance.")
  g.integer("sample_size", 100000, "Grid rows kept for predefined curricula.")
  g.integer("focus_rows", 0, "Extra training rows drawn from the grid rows of the epoch "
            "percentages --focus_epochs (none from the test split), for a curriculum that changes "
            "shape in a few epochs (mentornet_pd: 50000 rows of epochs 90-99, its ramp). 0: none.")
  g.string("focus_epochs", "90,99", "FIRST,LAST: the inclusive epoch-percentage range of "
           "--focus_rows.")
  g.string("input_csv_filename", "", "StudentNet dump for --vstar_fn=data_driven.")
  g.float("percentile", 90, "Global loss percentile for data-driven loss_diff.")
  g.enum("dump_keep", "last", ["last", "all"],
         "Rows kept per id of the dump: last (the original) or all.")
  # Original train.py flags.
  g = flags_lib.Group("learning", flag_values)
  g.integer("mini_batch_size", 32, "Examples per optimiser step.")
  g.integer("max_step_train", 30000, "Optimiser steps.")
  g.float("learning_rate", 0.1, "Initial Adam learning rate (x0.9 every 1000 steps).")
  g.integer("seed", 0, "Seeds the data shuffle, the initialisation and the batches.")
  g.enum("training_mode", "auto", learning.MODES,
         "auto (original: CE if targets are {0,1}, else MSE), implicit (MSE), explicit "
         "(minimise Eq. 4; needs a known G), data_driven (CE).")
  g.bool("train_epoch_embedding", False, "Learn the epoch embedding (the original kept it "
         "frozen at its random init; see network.py).")
  g.bool("corrected_output", False, "Use fc1 @ W2 + b2 instead of the original fc1 @ (W2 + b2).")
  g.integer("num_lstm_units", 1, "Units per LSTM direction (code 1, paper App. D 10).")
  g.integer("eval_every", 2500, "Evaluate on the test split every N steps (0: at end).")
  g.integer("restarts", 1, "Learn with seeds seed..seed+restarts-1 and keep the model with the "
            "lowest loss on the TRAINING split (multi-start; 1 = original).")
  g.list("finetune_learning_rates", [], "Then continue the kept model with a fresh Adam from "
         "each of these learning rates in turn (--max_step_train steps each, same decay), e.g. "
         "0.01,0.003. Empty: no fine-tuning (the original).")
  g.string("init_mentornet_dir", "", "Continue learning this MentorNet (paper Step 6) instead "
           "of starting from a random one.")
  g.bool("jit_compile", True, "XLA-compile the training loop (speed only).")
  g = flags_lib.Group("output", flag_values)
  g.string("train_dir", "", "Output MentorNet directory (required).")
  g.bool("progress", None, "A progress line every 500 steps with the loss (stderr); default: "
         "only when stderr is a terminal.")


def options(**overrides) -> types.SimpleNamespace:
  """The command's options (its flags' defaults, replaced by `overrides`) for `learn`."""
  return flags_lib.options_from(define_flags, **overrides)


_HPARAM_FLAGS = {"vstar_gamma": "gamma", "vstar_lambda1": "lambda1", "vstar_lambda2": "lambda2",
                 "vstar_epsilon": "epsilon"}


def _usage(flag: str, value, requirement: str):
  return app.UsageError(f"--{flag}={value!r} is invalid: {requirement}")


def curriculum_hparams(curriculum: curricula.Curriculum, o) -> dict:
  """The curriculum hyper-parameters set by --vstar_* flags; a flag it does not use is an error."""
  hparams = {}
  for flag, name in _HPARAM_FLAGS.items():
    value = getattr(o, flag)
    if value is None:
      continue
    if name not in curriculum.default_hparams:
      raise _usage(flag, value, f"--vstar_fn={curriculum.name} has no {name} (it takes "
                   f"{sorted(curriculum.default_hparams) or 'no hyper-parameters'})")
    if not math.isfinite(value):
      raise _usage(flag, value, "must be a finite number")
    hparams[name] = value
  try:
    return curriculum.hparams(**hparams)
  except ValueError as error:
    raise app.UsageError(str(error)) from None


def learn_config(o) -> learning.LearnConfig:
  try:
    return learning.LearnConfig(
        mode=o.training_mode, mini_batch_size=o.mini_batch_size,
        max_step_train=o.max_step_train, learning_rate=o.learning_rate, seed=o.seed,
        eval_every=o.eval_every, jit_compile=o.jit_compile)
  except ValueError as error:
    raise app.UsageError(str(error)) from None


def _data(curriculum, o):
  """(train, test, hparams, data description) for the flags."""
  if o.vstar_fn == DATA_DRIVEN:
    if not o.input_csv_filename:
      raise _usage("input_csv_filename", "", f"--vstar_fn={DATA_DRIVEN} needs a StudentNet dump")
    if not 0 <= o.percentile <= 100:
      raise _usage("percentile", o.percentile, "must lie in [0, 100]")
    for flag in _HPARAM_FLAGS:
      if getattr(o, flag) is not None:
        raise _usage(flag, getattr(o, flag), f"--vstar_fn={DATA_DRIVEN} takes no curriculum "
                     "hyper-parameters")
    path = o.input_csv_filename
    if os.path.isdir(path):
      raise _usage("input_csv_filename", path, "is a directory, not a StudentNet dump file")
    try:
      rows = mentor_data.read_student_dump(path, keep=o.dump_keep)
    except FileNotFoundError:
      raise _usage("input_csv_filename", path, "no such StudentNet dump file") from None
    except OSError as error:
      raise _usage("input_csv_filename", path, f"cannot be read ({error.strerror or error})") \
          from None
    except ValueError as error:  # names the file and the line
      raise cli.BadInput(f"--input_csv_filename: {error}") from None
    train, test = mentor_data.generate_data_driven(rows, o.percentile, seed=o.seed)
    if len(train) == 0 or len(test) == 0:
      raise _usage("input_csv_filename", path, f"{len(rows)} example(s) kept from the dump: too "
                   "few to split into a training and a test part (give at least 3)")
    description = {"source": DATA_DRIVEN, "input_csv_filename": o.input_csv_filename,
                   "percentile": o.percentile, "dump_keep": o.dump_keep,
                   "dump_rows": len(rows),
                   "loss_threshold": float(np.percentile(rows[:, 4], o.percentile))}
    return train, test, {}, description
  hparams = curriculum_hparams(curriculum, o)
  if not 1 <= o.sample_size <= len(mentor_data.predefined_grid()):
    raise _usage("sample_size", o.sample_size, "must lie in [1, 1200000] (the grid size)")
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


def load_initial_mentornet(path):
  """The MentorNet to continue from; UsageError naming --init_mentornet_dir if it is unusable."""
  try:
    model, _ = storage.load_mentornet(path)
  except storage.LOAD_ERRORS as error:
    raise _usage("init_mentornet_dir", path,
                 f"no loadable MentorNet there ({cli.one_line(error)})") from None
  return model


def check_train_dir(directory):
  """Refuses a --train_dir that `storage.save_mentornet` could not write; creates nothing."""
  problem = storage.unwritable_reason(directory)
  if problem:
    raise _usage("train_dir", directory, problem)


def learn(o, command: Optional[str] = None) -> dict:
  """What the command does, in-process: learns a MentorNet as the options `o` say (`options()`)
  and saves it into `o.train_dir`; returns the metadata written into mentornet.json.

  Raises:
    app.UsageError / cli.BadInput: refused options (nothing written); cli.RunFailed: the save
      failed after learning.
  """
  if not o.train_dir:
    raise _usage("train_dir", o.train_dir, "an output directory is required")
  check_train_dir(o.train_dir)
  if not math.isfinite(o.learning_rate):
    raise _usage("learning_rate", o.learning_rate, "must be a finite number > 0")
  if o.seed < 0:
    raise _usage("seed", o.seed, "must be >= 0")
  if o.vstar_fn != DATA_DRIVEN and o.vstar_fn not in curricula.CURRICULA:
    raise _usage("vstar_fn", o.vstar_fn,
                 f"choose one of {', '.join(curricula.CURRICULA)}, {DATA_DRIVEN}")
  if o.restarts < 1:
    raise _usage("restarts", o.restarts, "must be >= 1")
  if o.focus_rows < 0 or (o.focus_rows and o.vstar_fn == DATA_DRIVEN):
    raise _usage("focus_rows", o.focus_rows, "must be >= 0, and 0 for --vstar_fn=data_driven "
                 "(extra rows come from the predefined grid)")
  rates = ",".join(o.finetune_learning_rates)
  try:
    finetune_rates = [float(r) for r in o.finetune_learning_rates]
  except ValueError:
    finetune_rates = [math.nan]
  if not all(math.isfinite(r) and r > 0 for r in finetune_rates):
    raise _usage("finetune_learning_rates", rates, "expected numbers > 0, e.g. 0.01,0.003")
  try:
    mentornet_config = network.MentorNetConfig(num_lstm_units=o.num_lstm_units,
                                               corrected_output=o.corrected_output,
                                               train_epoch_embedding=o.train_epoch_embedding)
  except ValueError:
    raise _usage("num_lstm_units", o.num_lstm_units, "must be a positive integer") from None
  config = learn_config(o)
  curriculum = None if o.vstar_fn == DATA_DRIVEN else curricula.get(o.vstar_fn)
  if config.mode == "explicit" and (curriculum is None or curriculum.regularizer_fn is None):
    raise _usage("training_mode", "explicit", f"--vstar_fn={o.vstar_fn} has no known G")
  train, test, hparams, data_description = _data(curriculum, o)
  if o.init_mentornet_dir:
    load_initial_mentornet(o.init_mentornet_dir)  # refused before any learning

  progress = None
  if o.progress or (o.progress is None and sys.stderr.isatty()):
    from mentornet_tf import progress as progress_lib  # pylint: disable=g-import-not-at-top
    progress = progress_lib.StepProgress
  best = multistart.learn_best(
      train, test, config, restarts=o.restarts, finetune_learning_rates=finetune_rates,
      mentornet_config=mentornet_config, curriculum=curriculum, curriculum_hparams=hparams,
      initial=(lambda: load_initial_mentornet(o.init_mentornet_dir))
      if o.init_mentornet_dir else None, progress=progress)
  seed, model, metrics, train_metrics = (best[k] for k in ("seed", "model", "metrics",
                                                           "train_metrics"))

  metadata = {
      "curriculum": o.vstar_fn,
      "hparams": hparams,
      "data": data_description,
      "learn_config": {**dataclasses.asdict(config), "seed": seed},
      "loss": metrics["loss"],
      "command": command or "mentornet_tf.train_mentornet.learn",
      "restarts": o.restarts,
      "finetune": best["stages"],
      "init_mentornet_dir": o.init_mentornet_dir,
      "train_metrics": train_metrics,
      "test_metrics": {k[len("test_"):]: v for k, v in metrics.items() if k.startswith("test_")},
      "history": metrics["history"],
      "train_rows": len(train),
      "test_rows": len(test),
  }
  try:
    storage.save_mentornet(model, o.train_dir, metadata)
  except (OSError, ValueError) as error:
    raise cli.RunFailed(f"learning finished but --train_dir={o.train_dir!r} could not be "
                        f"written: {cli.one_line(error)}") from None
  print(f"wrote {o.train_dir} (seed {seed}, {metrics['loss']}, {metrics['steps']} steps)")
  print(f"test_mse={metrics['test_mse']:.6g}")
  return metadata


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
  learn(flags_lib.options_from_flags(define_flags),
        command=" ".join(["python -m mentornet_tf.train_mentornet"] + sys.argv[1:]))


if __name__ == "__main__":
  define_flags()
  cli.run(main)
