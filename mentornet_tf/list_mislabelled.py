r"""Lists the training examples a run's curriculum judges mislabelled (v below a threshold).

  python -m mentornet_tf.train --flagfile=launch/mnist5k_40_mentornet_pd.flags --export_weights
  python -m mentornet_tf.list_mislabelled --train_log_dir=runs/mnist5k_40_mentornet_pd [--epoch=40]

Prints one line per flagged example (id, weight, loss, given label, prediction), lowest weight
first, and, because the pipeline knows the clean labels of a synthetic corruption, how precise and
complete the list is. With real noisy data the clean label is unknown and those numbers are moot.
"""
import json
import sys

import mentornet_tf  # noqa: F401
from absl import app
from absl import flags

from mentornet_tf import inspection

_TRAIN_LOG_DIR = flags.DEFINE_string("train_log_dir", "", "Run directory trained with "
                                     "--export_weights.")
_EPOCH = flags.DEFINE_integer("epoch", None, "Epoch of the export (default: the last).")
_THRESHOLD = flags.DEFINE_float("threshold", 0.5, "Examples with v below this are listed.")
_LIMIT = flags.DEFINE_integer("limit", 50, "Print at most this many examples (0 = all).")


def main(argv):
  del argv
  if not _TRAIN_LOG_DIR.value:
    print("error: --train_log_dir is required", file=sys.stderr)
    return 2
  try:
    path = inspection.latest_export(_TRAIN_LOG_DIR.value, _EPOCH.value)
    records = inspection.read_weights(path)
  except (OSError, ValueError) as error:
    print(f"error: {error}", file=sys.stderr)
    return 2
  flagged = records["weight"] < _THRESHOLD.value
  order = [i for i in records["weight"].argsort() if flagged[i]]
  if _LIMIT.value:
    order = order[:_LIMIT.value]
  print(f"# {path}: {int(flagged.sum())} of {flagged.size} examples have v < {_THRESHOLD.value}")
  print("id\tweight\tloss\tgiven_label\tprediction\tclean_label")
  for i in order:
    print(f"{int(records['id'][i])}\t{records['weight'][i]:.4f}\t{records['loss'][i]:.4f}\t"
          f"{int(records['noisy_label'][i])}\t{int(records['prediction'][i])}\t"
          f"{int(records['clean_label'][i])}")
  print("# detection against the known clean labels: " +
        json.dumps(inspection.detection_report(records, _THRESHOLD.value), sort_keys=True))
  return 0


if __name__ == "__main__":
  app.run(main)
