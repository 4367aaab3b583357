r"""Trains a StudentNet on corrupted labels, with or without a MentorNet (SPADE, Algorithm 1).

  python -m mentornet_tf.train --flagfile=launch/mnist5k_40.flags [--flag=value ...]

Writes flags.txt (replayable with --flagfile), config.json, checkpoints, TensorBoard events and
results.json into --train_log_dir, and prints the final and best clean test top-1.
"""
import mentornet_tf  # noqa: F401  (selects tf_keras before TensorFlow is imported)
from absl import flags
from absl import logging

from mentornet_tf import cli
from mentornet_tf import flags as flags_lib

flags_lib.define_all()
flags.DEFINE_bool("compare_with_fullmodel", False, "After training, train the same StudentNet "
                  "on the same noisy data without any weighting (FullModel, v = 1) into "
                  "<train_log_dir>_fullmodel and print both results side by side.")
FLAGS = flags.FLAGS


def _flags_text() -> str:
  # Only this module's flags (not absl/TF internals) so the file replays with --flagfile.
  lines = []
  for module in (flags_lib.__name__, __name__, "__main__"):
    for flag in FLAGS.get_flags_for_module(module) if module in FLAGS.flags_by_module_dict() \
        else []:
      lines.append(flag.serialize())
  return "\n".join(line for line in lines if line) + "\n"


def main(argv):
  if len(argv) > 1:
    raise cli.BadInput(f"unexpected positional arguments: {' '.join(argv[1:])}")
  logging.set_verbosity(logging.WARNING)  # keep the progress bar readable; --verbosity overrides
  if FLAGS["verbosity"].present:
    logging.set_verbosity(FLAGS.verbosity)
  from mentornet_tf import distribute  # pylint: disable=g-import-not-at-top
  try:
    if distribute.run_server_if_needed(FLAGS.strategy):
      return 0
  except ValueError as error:  # a bad TF_CONFIG for a server task
    raise cli.BadInput(str(error)) from None
  config = flags_lib.train_config_from_flags()  # ConfigError names the flag
  from mentornet_tf import train_lib  # pylint: disable=g-import-not-at-top
  # Everything that can be checked is checked before the run directory is touched; run()
  # refuses a directory held by another job and a restart that changes the experiment.
  info = train_lib.validate(config)
  results = train_lib.run(config, info, flags_text=_flags_text())
  _print_result(config.mentor.weighting, results, config.train_log_dir)
  if FLAGS.compare_with_fullmodel and config.mentor.weighting != "none":
    import dataclasses  # pylint: disable=g-import-not-at-top
    baseline = dataclasses.replace(
        config, train_log_dir=config.train_log_dir.rstrip("/") + "_fullmodel",
        mentor=dataclasses.replace(config.mentor, weighting="none", update_mentornet_epochs=()))
    print("training FullModel (v = 1) on the same data for comparison ...", flush=True)
    baseline_results = train_lib.run(baseline, info)
    _print_result("none (FullModel)", baseline_results, baseline.train_log_dir)
  return 0


def _print_result(weighting, results, train_log_dir):
  if results.get("mentornet"):
    weighting = f"{weighting} {results['mentornet']}"
  print(f"[{weighting:>22s}] final clean test top-1: {results['final_accuracy']:.4f}   best: "
        f"{results['best_accuracy']:.4f} (epoch {results['best_epoch']})   realised noise: "
        f"{results['noise'].get('realised_flip_rate', float('nan')):.3f}   run: {train_log_dir}",
        flush=True)


if __name__ == "__main__":
  cli.run(main)
