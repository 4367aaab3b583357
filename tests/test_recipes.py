"""The two recipe sets of launch/ (as the original README ran, as the paper describes), the
per-student optimiser defaults, the transferred CIFAR-100 MentorNet DD and the learning-rate
schedules the recipes name (issue 10 section 2)."""
import os

import numpy as np
import pytest

from mentornet_tf import config as config_lib
from mentornet_tf import errors

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_a_missing_transferred_mentornet_names_the_run_to_run_first(tmp_path):
  from mentornet_tf import validation  # pylint: disable=g-import-not-at-top
  learned = os.path.join(str(tmp_path), "runs", "cifar10_40_resnet101_mentornet_dd",
                         "mentornet_updates", "mentornet_dd_epoch_17")
  config = config_lib.TrainConfig(
      data=config_lib.DataConfig(dataset_name="mnist5k"),
      student=config_lib.StudentConfig(studentnet="mlp"),
      mentor=config_lib.MentorConfig(weighting="mentornet", trained_mentornet_dir=learned),
      train_log_dir=str(tmp_path / "run"))
  with pytest.raises(errors.BadInput, match=r"learned by the run in .*cifar10_40_resnet101_"
                     r"mentornet_dd'.*run that one first"):
    validation.validate(config)
  assert not os.path.exists(tmp_path / "run")


def _parse(*args):
  """The TrainConfig the train command makes of `args` (the real flag parser)."""
  from absl import flags  # pylint: disable=g-import-not-at-top
  from mentornet_tf import flag_configs  # pylint: disable=g-import-not-at-top
  from mentornet_tf import train  # pylint: disable=g-import-not-at-top
  train.define_flags()
  flags.FLAGS.unparse_flags()
  try:
    flags.FLAGS(["train", "--train_log_dir=runs/x", *args])
    return flag_configs.train_config_from_flags()
  finally:
    flags.FLAGS.unparse_flags()


@pytest.mark.parametrize("args, expected", [
    (["--studentnet=inception"], ("sgd", "exponential")),  # the original's CifarNet recipe
    (["--studentnet=resnet101"], ("momentum", "piecewise")),
    (["--studentnet=mlp"], ("momentum", "piecewise")),
    (["--studentnet=inception", "--optimizer=momentum"], ("momentum", "exponential")),
    (["--studentnet=inception", "--lr_schedule=piecewise"], ("sgd", "piecewise")),
    (["--studentnet=resnet101", "--optimizer=sgd", "--lr_schedule=exponential"],
     ("sgd", "exponential")),
])
def test_optimizer_and_schedule_default_to_the_students_own(args, expected):
  config = _parse(*args)
  assert (config.optimizer, config.lr_schedule) == expected
  assert config_lib.student_optimization(config.student.studentnet, *expected) == expected


def _learning_rates(config, steps, steps_per_epoch=50000 // 128):
  from mentornet_tf import train_lib  # pylint: disable=g-import-not-at-top
  schedule = train_lib.build_learning_rate(config, steps_per_epoch)
  return [float(schedule(step)) for step in steps]


def test_the_baseline_scripts_exponential_schedule():
  """The original code/cifar_train_baseline.py's exponential_decay(0.1, step,
  int(50000/128*50) = 19500 under Python 2, 0.1, staircase): 0.1 to step 19,499, then 0.01 to
  the end of the 39k steps, as launch/cifar*_resnet101_fullmodel.flags resolve it."""
  config = _parse("--flagfile=" + os.path.join(REPO, "launch", "base", "cifar_resnet101.flags"),
                  "--dataset_name=cifar10", "--weighting=none", "--lr_schedule=exponential",
                  "--learning_rate_decay_factor=0.1", "--num_epochs_per_decay=50")
  rates = _learning_rates(config, [0, 19499, 19500, 30000, 38999])
  np.testing.assert_allclose(rates, [0.1, 0.1, 0.01, 0.01, 0.01], rtol=1e-6)
  # The MentorNet script's (and the paper's) piecewise schedule, for comparison.
  piecewise = _learning_rates(_parse("--studentnet=resnet101"), [19531, 19532, 25001, 30001])
  np.testing.assert_allclose(piecewise, [0.1, 0.01, 0.001, 0.0001], rtol=1e-6)


def test_inception_without_a_base_flagfile_trains_as_the_original_cifarnet():
  config = _parse("--studentnet=inception", "--num_epochs_per_decay=200")
  # Plain SGD, 0.1 then 0.01 from 390 * 200 = 78,000 steps (code/cifar_train_mentornet.py).
  np.testing.assert_allclose(_learning_rates(config, [77999, 78000]), [0.1, 0.01], rtol=1e-6)
  from mentornet_tf import train_lib  # pylint: disable=g-import-not-at-top
  optimizer = train_lib.build_optimizer(config, 390)
  assert optimizer.get_config()["momentum"] == 0.0


def test_pad4_pads_four_pixels_then_crops_flips_and_standardises():
  """The paper's augmentation (App. E.1): every crop of the 4-px zero-padded image, standardised."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from mentornet_tf.data import augment  # pylint: disable=g-import-not-at-top
  image = np.arange(32 * 32 * 3, dtype=np.float32).reshape(32, 32, 3) % 251
  fn = augment.preprocess_fn("pad4", training=True)
  assert augment.is_random("pad4", training=True) and not augment.is_random("pad4", False)
  padded = np.pad(image, [(4, 4), (4, 4), (0, 0)])
  candidates = [padded[i:i + 32, j:j + 32] for i in range(9) for j in range(9)]
  candidates += [c[:, ::-1] for c in candidates]
  # tf.image.per_image_standardization in numpy: (x - mean) / max(std, 1 / sqrt(H W C)).
  candidates = [(c - c.mean()) / max(c.std(), 1 / np.sqrt(c.size)) for c in candidates]
  offsets = set()
  for k in range(30):
    out = fn(tf.constant(image), seed=tf.constant([k, 0], tf.int64)).numpy()
    matches = [n for n, c in enumerate(candidates) if np.allclose(out, c, atol=1e-4)]
    assert matches, k
    offsets.add(matches[0] % 81)
  # Shifts of 3-4 px occur (resnet's 2-px padding reaches offsets 2..6 of the 0..8 here).
  assert len(offsets) > 10
  assert any(o // 9 in (0, 1, 7, 8) or o % 9 in (0, 1, 7, 8) for o in offsets)
  np.testing.assert_allclose(augment.preprocess_fn("pad4", training=False)(image).numpy(),
                             tf.image.per_image_standardization(image).numpy(), atol=1e-6)
