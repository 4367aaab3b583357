r"""Trains a StudentNet on corrupted labels, with or without a MentorNet (SPADE, Algorithm 1).

  python -m mentornet_tf.train --flagfile=launch/mnist5k_40.flags [--flag=value ...]

Writes flags.txt (replayable with --flagfile), config.json, checkpoints, TensorBoard events and
results.json into --train_log_dir, and prints the final and best clean test top-1.
"""
from mentornet_tf import entry  # noqa: F401  (first: a command's TF environment; entry.py)

import dataclasses
from typing import Dict, Optional

from absl import flags

from mentornet_tf import cli
from mentornet_tf import config as config_lib
from mentornet_tf import flag_configs
from mentornet_tf import flags as flags_lib

FLAGS = flags.FLAGS


def define_flags() -> None:
  """Registers the entry's flags (idempotent; only when it runs as a command, never at import)."""
  flags_lib.define_all()
  flags_lib.Group("output").bool(
      "compare_with_fullmodel", False, "After training, train the same StudentNet on the same "
      "noisy data without any weighting (FullModel, v = 1) into <train_log_dir>_fullmodel and "
      "print both results side by side.")


def _flags_text() -> str:
  # Only the project's flags (not absl/TF internals) so the file replays with --flagfile.
  # --max_number_of_steps is left out when --train_epochs sets it: written with its default it
  # would be "given" on replay and win over --train_epochs (flag_configs._train_epochs).
  epochs_set_steps = FLAGS.train_epochs > 0 and not FLAGS["max_number_of_steps"].present
  lines = []
  for module in (flags_lib.__name__, __name__, "__main__"):
    for flag in FLAGS.get_flags_for_module(module) if module in FLAGS.flags_by_module_dict() \
        else []:
      if not (epochs_set_steps and flag.name == "max_number_of_steps"):
        lines.append(flag.serialize())
  return "\n".join(line for line in lines if line) + "\n"


def train(config: config_lib.TrainConfig, info=None, flags_text: str = "",
          label: Optional[str] = None) -> Dict:
  """Validates and trains `config` (what the command does, in-process); prints the result line.

  Everything that can be checked is checked before the run directory is touched
  (`train_lib.validate`); `train_lib.run` refuses a directory held by another job and a restart
  that changes the experiment. Returns the results dict (also in results.json).
  """
  from mentornet_tf import train_lib  # pylint: disable=g-import-not-at-top
  info = info or train_lib.validate(config)
  results = train_lib.run(config, info, flags_text=flags_text)
  print_result(label or config.mentor.weighting, results, config.train_log_dir)
  return results


def fullmodel_config(config: config_lib.TrainConfig) -> config_lib.TrainConfig:
  """The same run without any weighting (v = 1) or baseline into <train_log_dir>_fullmodel.

  FullModel: plain CE, the student's own dropout, no S-model channel (the baselines' flags of
  WORKSPACE.md are reset; weight decay and augmentation are kept as given).
  """
  return dataclasses.replace(
      config, train_log_dir=config.train_log_dir.rstrip("/") + "_fullmodel",
      mentor=dataclasses.replace(config.mentor, weighting="none", update_mentornet_epochs=()),
      student=dataclasses.replace(config.student, loss="cross_entropy", focal_gamma=None,
                                  bootstrap_beta=None, dropout_keep_prob=None,
                                  s_model_pretrain_steps=0))


def train_and_compare(config: config_lib.TrainConfig, flags_text: str = "") -> Dict[str, Dict]:
  """`train(config)`, then the FullModel on the same data; {"run": ..., "fullmodel": ...}."""
  from mentornet_tf import train_lib  # pylint: disable=g-import-not-at-top
  info = train_lib.validate(config)
  results = {"run": train(config, info, flags_text)}
  fullmodel = fullmodel_config(config)
  if config.mentor.weighting != "none" or fullmodel.student != config.student:
    print("training FullModel (v = 1) on the same data for comparison ...", flush=True)
    results["fullmodel"] = train(fullmodel, info, label="none (FullModel)")
  return results


def main(argv):
  if len(argv) > 1:
    raise cli.BadInput(f"unexpected positional arguments: {' '.join(argv[1:])}")
  from mentornet_tf import distribute  # pylint: disable=g-import-not-at-top
  try:
    if distribute.run_server_if_needed(FLAGS.strategy):
      return 0
  except ValueError as error:  # a bad TF_CONFIG for a server task
    raise cli.BadInput(str(error)) from None
  config = flag_configs.train_config_from_flags()  # ConfigError names the flag
  if FLAGS.compare_with_fullmodel:
    train_and_compare(config, flags_text=_flags_text())
  else:
    train(config, flags_text=_flags_text())
  return 0


def print_result(weighting, results, train_log_dir):
  if results.get("mentornet"):
    weighting = f"{weighting} {results['mentornet']}"
  print(f"[{weighting:>22s}] final clean test top-1: {results['final_accuracy']:.4f}   best: "
        f"{results['best_accuracy']:.4f} (epoch {results['best_epoch']})   realised noise: "
        f"{results['noise'].get('realised_flip_rate', float('nan')):.3f}   run: {train_log_dir}",
        flush=True)


if __name__ == "__main__":
  define_flags()
  cli.run(main)
