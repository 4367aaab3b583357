r"""Evaluates StudentNet checkpoints on the clean test split: top-1 and top-5.

  # once, the latest checkpoint of a run
  python -m mentornet_tf.evaluate --checkpoint_dir=runs/mnist5k_40/ckpt --once
  # follow a training run (as the original cifar_eval.py): evaluate every new checkpoint
  python -m mentornet_tf.evaluate --checkpoint_dir=runs/x/ckpt --eval_dir=runs/x/eval_test

The dataset and student are read from the run's config.json (next to ckpt/) when it exists, else
from the flags. Summaries `eval/accuracy` and `eval/top5` go to --eval_dir.
"""
import json
import os
import sys

import mentornet_tf  # noqa: F401  (selects tf_keras before TensorFlow is imported)
from absl import app
from absl import flags

from mentornet_tf import config as config_lib
from mentornet_tf import flags as flags_lib

flags_lib.define_data_flags()
flags_lib.define_student_flags()
flags.DEFINE_string("checkpoint_dir", "", "Directory of checkpoints (a run's ckpt/) or a "
                    "checkpoint prefix.")
flags.DEFINE_string("eval_dir", "", "Where to write eval summaries; default <run>/eval_<split>.")
flags.DEFINE_integer("eval_interval_secs", 600, "How often to look for a new checkpoint.")
flags.DEFINE_enum("split_name", "test", ["test", "train"], "Split to evaluate (train: the noisy "
                  "training split without augmentation, reported against clean and noisy labels).")
flags.DEFINE_bool("once", False, "Evaluate the latest checkpoint once and exit.")
flags.DEFINE_integer("timeout_secs", 0, "Follow mode: stop after this long without a new "
                     "checkpoint (0 = until the run's max_number_of_steps is reached).")
FLAGS = flags.FLAGS


def _run_config(checkpoint_dir: str):
  """TrainConfig of the run that wrote `checkpoint_dir`, or one built from the flags."""
  base = checkpoint_dir if os.path.isdir(checkpoint_dir) else os.path.dirname(checkpoint_dir)
  path = os.path.join(os.path.dirname(os.path.abspath(base)), "config.json")
  if os.path.exists(path):
    with open(path) as f:
      raw = json.load(f)
    raw["data"]["fake_image_shape"] = tuple(raw["data"]["fake_image_shape"])
    data = config_lib.DataConfig(**raw["data"])
    student = config_lib.StudentConfig(**raw["student"])
    return data, student, int(raw.get("max_number_of_steps", 0)), os.path.dirname(path)
  return (flags_lib.data_config_from_flags(),
          config_lib.StudentConfig(studentnet=FLAGS.studentnet), 0, base)


def main(argv):
  del argv
  if not FLAGS.checkpoint_dir:
    print("error: --checkpoint_dir is required", file=sys.stderr)
    return 2
  if not os.path.exists(FLAGS.checkpoint_dir) and not tf_checkpoint_exists(FLAGS.checkpoint_dir):
    print(f"error: --checkpoint_dir={FLAGS.checkpoint_dir!r} does not exist", file=sys.stderr)
    return 2
  from mentornet_tf import evaluation  # pylint: disable=g-import-not-at-top
  data, student, max_steps, run_dir = _run_config(FLAGS.checkpoint_dir)
  eval_dir = FLAGS.eval_dir or os.path.join(run_dir, f"eval_{FLAGS.split_name}")
  evaluator = evaluation.Evaluator(data, student, split=FLAGS.split_name, eval_dir=eval_dir)
  if FLAGS.once or not os.path.isdir(FLAGS.checkpoint_dir):
    path = FLAGS.checkpoint_dir if not os.path.isdir(FLAGS.checkpoint_dir) else \
        evaluation.latest_checkpoint(FLAGS.checkpoint_dir)
    print(json.dumps(evaluator.evaluate(path), sort_keys=True))
    return 0
  for result in evaluator.follow(FLAGS.checkpoint_dir, FLAGS.eval_interval_secs,
                                 FLAGS.timeout_secs or None, max_steps):
    print(json.dumps(result, sort_keys=True), flush=True)
  return 0


def tf_checkpoint_exists(prefix: str) -> bool:
  return os.path.exists(prefix + ".index")


if __name__ == "__main__":
  app.run(main)
