r"""Lists the training examples a run's curriculum judges mislabelled (v below a threshold).

  python -m mentornet_tf.train --flagfile=launch/mnist5k_40_mentornet_pd.flags --export_weights
  python -m mentornet_tf.list_mislabelled --train_log_dir=runs/mnist5k_40_mentornet_pd [--epoch=40]

Prints one line per flagged example (id, weight, loss, given label, prediction), lowest weight
first, and, because the pipeline knows the clean labels of a synthetic corruption, how precise and
complete the list is. With real noisy data the clean label is unknown and those numbers are moot.

Examples whose weight is NaN (a run whose MentorNet or loss went non-finite) are neither flagged
nor silently dropped: they are counted in the summary line (and on stderr) and listed first with
weight `nan`.

Exit status (mentornet_tf/cli.py): 0 with the list; 2 for bad flags or an unreadable or malformed
export (one `error:` line naming the CSV, and the line for a malformed row).
"""
from mentornet_tf import entry  # noqa: F401  (first: a command's TF environment; entry.py)

import json
import math
import os
import sys
from typing import Optional

from absl import flags
import numpy as np

from mentornet_tf import cli
from mentornet_tf import flags as flags_lib
from mentornet_tf import inspection

FLAGS = flags.FLAGS


def define_flags() -> None:
  """Registers the entry's flags (idempotent; only when it runs as a command, never at import)."""
  g = flags_lib.Group("export")
  g.string("train_log_dir", "", "Run directory trained with --export_weights.")
  g.integer("epoch", None, "Epoch of the export (default: the last).")
  g.float("threshold", 0.5, "Examples with v below this are listed.")
  g.integer("limit", 50, "Print at most this many examples (0 = all).")


def _validate(train_log_dir: str, epoch: Optional[int], threshold: float, limit: int) -> None:
  if not train_log_dir:
    raise cli.BadInput("--train_log_dir is required: a run directory trained with "
                       "--export_weights")
  if not os.path.isdir(train_log_dir):
    raise cli.BadInput(f"--train_log_dir={train_log_dir!r} is not a directory")
  if epoch is not None and epoch < 1:
    raise cli.BadInput(f"--epoch={epoch} is invalid: exports are numbered from epoch 1")
  if not math.isfinite(threshold):
    raise cli.BadInput(f"--threshold={threshold} is invalid: must be a finite number "
                       "(weights lie in [0, 1])")
  if limit < 0:
    raise cli.BadInput(f"--limit={limit} is invalid: must be >= 0 (0 = all)")


def _row(records, i):
  return (f"{int(records['id'][i])}\t{records['weight'][i]:.4f}\t{records['loss'][i]:.4f}\t"
          f"{int(records['noisy_label'][i])}\t{int(records['prediction'][i])}\t"
          f"{int(records['clean_label'][i])}")


def list_examples(train_log_dir: str, epoch: Optional[int] = None, threshold: float = 0.5,
                  limit: int = 50) -> dict:
  """What the command does, in-process: prints the examples of the run's weight export (the
  last, or `epoch`'s) with v < `threshold`; returns {"path", "flagged", "nan", "listed"}.

  Raises:
    cli.BadInput: bad arguments or an unreadable or malformed export.
  """
  _validate(train_log_dir, epoch, threshold, limit)
  try:
    path = inspection.latest_export(train_log_dir, epoch)
    records = inspection.read_weights(path)
  except (OSError, ValueError) as error:
    raise cli.BadInput(str(error)) from None
  weight = records["weight"]
  nan = np.isnan(weight)
  flagged = weight < threshold  # False for NaN: those are reported on their own
  order = [int(i) for i in np.flatnonzero(nan)] + [int(i) for i in weight.argsort(kind="stable")
                                                   if flagged[i]]
  if limit:
    order = order[:limit]
  summary = f"# {path}: {int(flagged.sum())} of {flagged.size} examples have v < {threshold}"
  if nan.any():
    summary += f"; {int(nan.sum())} have a NaN weight (listed first)"
    print(f"warning: {path}: {int(nan.sum())} of {nan.size} examples have a NaN weight (the run "
          "may have diverged); they are listed first", file=sys.stderr)
  print(summary)
  print("id\tweight\tloss\tgiven_label\tprediction\tclean_label")
  for i in order:
    print(_row(records, i))
  print("# detection against the known clean labels: " +
        json.dumps(inspection.detection_report(records, threshold), sort_keys=True))
  return {"path": path, "flagged": int(flagged.sum()), "nan": int(nan.sum()),
          "listed": [int(records["id"][i]) for i in order]}


def main(argv):
  if len(argv) > 1:
    raise cli.BadInput(f"unexpected arguments: {' '.join(argv[1:])}")
  list_examples(FLAGS.train_log_dir, FLAGS.epoch, FLAGS.threshold, FLAGS.limit)
  return 0


if __name__ == "__main__":
  define_flags()
  cli.run(main)
