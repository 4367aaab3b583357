r"""Learns a MentorNet and writes it as a MentorNet directory (original `training_mentornet/`).

Predefined curriculum (MentorNet PD), as the original README:
  python -m mentornet_tf.train_mentornet --train_dir=/tmp/mentornet_pd --vstar_fn=mentornet_pd \
      --vstar_gamma=1 --sample_size=100000 --max_step_train=30000 --learning_rate=0.1
Data-driven (MentorNet DD) from a StudentNet dump (`id epoch noisy_label clean_label loss`):
  python -m mentornet_tf.train_mentornet --train_dir=/tmp/mentornet_dd --vstar_fn=data_driven \
      --input_csv_filename=dump.csv --percentile=90

The original split this into data_generator.py (writing pickles) and train.py; here data are
generated in memory (mentor_data.py) and learned at once (learning.py). Flags keep the original
names; --vstar_gamma is really applied (the original ignored it). The output directory is written
by `storage.save_mentornet`, with the curriculum, its hyper-parameters, the command and the test
metrics in mentornet.json. The test MSE is printed as the last line: `test_mse=<value>`.

Everything that can be checked is checked before the first step: the flags, the StudentNet dump
(read and split: a missing file or a malformed line is one message naming the file and line),
--init_mentornet_dir (loaded), and that --train_dir can be written (an existing directory must be
empty or hold an earlier MentorNet save); the check leaves nothing behind. Exit status
(mentornet_tf/cli.py): 0 done; 2 refused input (one `error:` line, nothing written); 1 when
learning or the final save fails.
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
from mentornet_tf.mentor import learning
from mentornet_tf.mentor import mentor_data
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
  return train, test, hparams, {"source": "predefined", "sample_size": o.sample_size}


def load_initial_mentornet(path):
  """The MentorNet to continue from; UsageError naming --init_mentornet_dir if it is unusable."""
  try:
    model, _ = storage.load_mentornet(path)
  except storage.LOAD_ERRORS as error:
    raise _usage("init_mentornet_dir", path,
                 f"no loadable MentorNet there ({cli.one_line(error)})") from None
  return model


def check_train_dir(directory):
  """Refuses a --train_dir that `storage.save_mentornet` could not write; creates nothing.

  The save writes a temporary sibling and renames it into place, so the parent (or the nearest
  existing ancestor, whose missing children are created) must be a writable directory, and an
  existing --train_dir must be a directory that is empty or holds an earlier MentorNet save.
  """
  path = os.path.abspath(directory)
  if os.path.exists(path):
    if not os.path.isdir(path):
      raise _usage("train_dir", directory, "exists and is not a directory")
    if os.listdir(path) and not os.path.exists(os.path.join(path, storage.METADATA_FILE)):
      raise _usage("train_dir", directory, "exists and holds something other than a MentorNet "
                   f"save (no {storage.METADATA_FILE}); give a new or an empty directory")
  ancestor = os.path.dirname(path)
  while not os.path.exists(ancestor):
    ancestor = os.path.dirname(ancestor)
  if not os.path.isdir(ancestor):
    raise _usage("train_dir", directory, f"cannot be created: {ancestor} is not a directory")
  if not os.access(ancestor, os.W_OK | os.X_OK):
    raise _usage("train_dir", directory, f"is not writable: {ancestor} is not writable")


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
  initial_model = None
  if o.init_mentornet_dir:
    initial_model = load_initial_mentornet(o.init_mentornet_dir)

  best = None
  for restart in range(o.restarts):
    initial = None
    if o.init_mentornet_dir:  # a fresh copy for each restart
      initial = initial_model if restart == 0 else load_initial_mentornet(
          o.init_mentornet_dir)
    run_config = dataclasses.replace(config, seed=o.seed + restart)
    progress = None
    if o.progress or (o.progress is None and sys.stderr.isatty()):
      from mentornet_tf import progress as progress_lib  # pylint: disable=g-import-not-at-top
      progress = progress_lib.StepProgress(f"restart {restart} (seed {run_config.seed})")
    model, metrics = learning.learn_mentornet(
        train, test, run_config, mentornet_config if initial is None else None, curriculum,
        model=initial, curriculum_hparams=hparams, progress=progress)
    train_metrics = learning.evaluate(model, train, curriculum, hparams)
    # Rank restarts by what was minimised: Eq. 4 when explicit, else the MSE to v*.
    score = train_metrics["objective" if metrics["loss"] == "explicit" else "mse"]
    print(f"restart {restart} (seed {run_config.seed}): train score {score:.6g}, "
          f"test_mse {metrics['test_mse']:.6g}, {metrics['steps_per_second']:.0f} steps/s")
    if best is None or score < best[0]:
      best = (score, run_config.seed, model, metrics, train_metrics)
  _, seed, model, metrics, train_metrics = best

  metadata = {
      "curriculum": o.vstar_fn,
      "hparams": hparams,
      "data": data_description,
      "learn_config": {**dataclasses.asdict(config), "seed": seed},
      "loss": metrics["loss"],
      "command": command or "mentornet_tf.train_mentornet.learn",
      "restarts": o.restarts,
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
