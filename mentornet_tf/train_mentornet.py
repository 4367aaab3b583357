r"""Learns a MentorNet and writes it as a MentorNet directory (original `training_mentornet/`).

Predefined curriculum (MentorNet PD), as the original README (the shipped mentornet_pd adds
--focus_rows=100000 --focus_epochs=90,99 --train_epoch_embedding --restarts=5
--finetune_learning_rates=0.01,0.003,0.001: data/mentornet_models/README.md):
  python -m mentornet_tf.train_mentornet --train_dir=/tmp/mentornet_pd --vstar_fn=mentornet_pd \
      --vstar_gamma=1 --sample_size=100000 --max_step_train=30000 --learning_rate=0.1
Data-driven (MentorNet DD) from a StudentNet dump (`id epoch noisy_label clean_label loss`):
  python -m mentornet_tf.train_mentornet --train_dir=/tmp/mentornet_dd --vstar_fn=data_driven \
      --input_csv_filename=dump.csv --percentile=90

The original's data_generator.py and train.py in one: the options checked and the data built in
memory by mentor_options.py (mentor_data.py, grid_focus.py), learned by multistart.py (restarts,
fine-tuning) with learning.py. Original flag
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
import sys
import types
from typing import Optional

from absl import app
from absl import flags

from mentornet_tf import cli
from mentornet_tf import config as config_lib
from mentornet_tf import flags as flags_lib
from mentornet_tf import mentor_options
from mentornet_tf.mentor import learning
from mentornet_tf.mentor import multistart
from mentornet_tf.mentor import storage

DATA_DRIVEN = mentor_options.DATA_DRIVEN

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
  # The architecture flags default to None: the original's values for a new MentorNet, the
  # loaded one's with --init_mentornet_dir (a different value given there is refused).
  g.bool("train_epoch_embedding", None, "Learn the epoch embedding (default: no, the original "
         "kept it frozen at its random init; see network.py).")
  g.bool("corrected_output", None, "Use fc1 @ W2 + b2 instead of the original fc1 @ (W2 + b2) "
         "(default: the original's).")
  g.integer("num_lstm_units", None, "Units per LSTM direction (default 1 as the code; paper "
            "App. D 10).")
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


def learn(o, command: Optional[str] = None) -> dict:
  """What the command does, in-process: learns a MentorNet as the options `o` say (`options()`)
  and saves it into `o.train_dir`; returns the metadata written into mentornet.json.

  Raises:
    app.UsageError / cli.BadInput: refused options (nothing written); cli.RunFailed: the save
      failed after learning.
  """
  inputs = mentor_options.resolve(o)  # every refusal before anything is written
  config, train, test, hparams = inputs.learn_config, inputs.train, inputs.test, inputs.hparams

  progress = None
  if o.progress or (o.progress is None and sys.stderr.isatty()):
    from mentornet_tf import progress as progress_lib  # pylint: disable=g-import-not-at-top
    progress = progress_lib.StepProgress
  best = multistart.learn_best(
      train, test, config, restarts=o.restarts,
      finetune_learning_rates=inputs.finetune_learning_rates,
      mentornet_config=inputs.mentornet_config, curriculum=inputs.curriculum,
      curriculum_hparams=hparams,
      initial=(lambda: mentor_options.load_initial_mentornet(o.init_mentornet_dir))
      if o.init_mentornet_dir else None, progress=progress)
  seed, model, metrics, train_metrics = (best[k] for k in ("seed", "model", "metrics",
                                                           "train_metrics"))

  metadata = {
      "curriculum": o.vstar_fn,
      "hparams": hparams,
      "data": inputs.data_description,
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
