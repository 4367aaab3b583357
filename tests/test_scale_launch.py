"""The large-scale launches: lengths in epochs (--train_epochs), the ImageNet flagfiles, and
`imagenet_40.flags` and `webvision_mini_mentornet.flags` training two steps on tiny data in the
real layouts (a prepared tfds ImageNet, a WebVision 1.0 tree)."""
import json
import os

import numpy as np
import pytest

from mentornet_tf import config as config_lib
import entry_runner
from test_image_files import write_webvision

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
IMAGENET_TRAIN = 1281167  # ILSVRC2012 training images


def test_train_epochs_sets_the_steps_from_the_global_batch():
  # App. E.1: 1M steps at batch 32 = 25 epochs; 40,036 steps per epoch, 10 epochs ~ 400k steps.
  one_worker = config_lib.TrainConfig(train_log_dir="r", train_epochs=25,
                                      data=config_lib.DataConfig(batch_size=32))
  resolved = config_lib.resolve_train_epochs(one_worker, IMAGENET_TRAIN)
  assert config_lib.steps_per_epoch(one_worker, IMAGENET_TRAIN) == 40036
  assert resolved.max_number_of_steps == 25 * 40036 == 1000900
  # 16 synchronous replicas of 32: the same 25 epochs in 1/16 of the steps.
  sixteen = config_lib.TrainConfig(train_log_dir="r", train_epochs=25,
                                   data=config_lib.DataConfig(batch_size=512))
  assert config_lib.resolve_train_epochs(sixteen, IMAGENET_TRAIN).max_number_of_steps == \
      int(np.ceil(25 * (IMAGENET_TRAIN // 512)))
  # Fractional epochs round up to whole steps; 0 leaves the configured steps alone.
  half = config_lib.TrainConfig(train_log_dir="r", train_epochs=12.5,
                                data=config_lib.DataConfig(batch_size=32))
  assert config_lib.resolve_train_epochs(half, IMAGENET_TRAIN).max_number_of_steps == 500450
  plain = config_lib.TrainConfig(train_log_dir="r", max_number_of_steps=7)
  assert config_lib.resolve_train_epochs(plain, 1000) is plain
  with pytest.raises(config_lib.ConfigError, match="train_epochs"):
    config_lib.TrainConfig(train_log_dir="r", train_epochs=-1)


def _imagenet_config(*extra):
  from absl import flags  # pylint: disable=g-import-not-at-top
  from mentornet_tf import flag_configs  # pylint: disable=g-import-not-at-top
  from mentornet_tf import train  # pylint: disable=g-import-not-at-top
  train.define_flags()
  cwd = os.getcwd()
  os.chdir(REPO)
  try:
    flags.FLAGS.unparse_flags()
    flags.FLAGS(["train", "--flagfile=launch/imagenet_40.flags", *extra])
    return flag_configs.train_config_from_flags()
  finally:
    flags.FLAGS.unparse_flags()
    os.chdir(cwd)


def test_imagenet_40_is_the_papers_protocol_and_an_explicit_step_count_wins():
  config = _imagenet_config()
  assert (config.data.dataset_name, config.student.studentnet, config.data.batch_size) == (
      "imagenet2012", "inception_resnet_v2", 32)
  assert (config.optimizer, config.momentum, config.learning_rate, config.lr_schedule,
          config.num_epochs_per_decay, config.learning_rate_decay_factor) == (
              "momentum", 0.9, 0.05, "exponential", 10, 0.1)
  assert (config.train_epochs, config.data.noise_fraction, config.mentor.weighting) == (
      25, 0.4, "mentornet")
  smoke = _imagenet_config("--max_number_of_steps=2")
  assert (smoke.train_epochs, smoke.max_number_of_steps) == (0, 2)


def _tiny_imagenet(data_dir):
  """A prepared tfds imagenet2012 of 8 + 4 JPEGs of varied sizes (as tests/test_tfds_sources)."""
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  import test_tfds_sources  # pylint: disable=g-import-not-at-top
  rng = np.random.default_rng(0)
  images = lambda n, h, w: rng.integers(0, 256, size=(n, h, w, 3)).astype(np.uint8)
  train = (images(8, 90, 110), rng.integers(0, 1000, 8).astype(np.int64))
  test = (images(4, 100, 80), rng.integers(0, 1000, 4).astype(np.int64))
  test_tfds_sources._prepare(  # pylint: disable=protected-access
      data_dir, "imagenet2012", "5.1.0",
      tfds.features.Image(shape=(None, None, 3), encoding_format="jpeg"), train, test, 1000,
      test_split="validation")


@pytest.mark.slow
def test_imagenet_40_flagfile_trains_two_steps_on_a_tiny_imagenet(tmp_path):
  data_dir, run_dir = tmp_path / "tfds", tmp_path / "run"
  _tiny_imagenet(data_dir)
  result = entry_runner.run_entry("train", [
      "--flagfile=launch/imagenet_40.flags", f"--data_dir={data_dir}", "--image_size=75",
      "--batch_size=4", "--max_number_of_steps=2", "--eval_interval=0", "--verbose=0",
      f"--train_log_dir={run_dir}"], cwd=REPO)
  assert result.returncode == 0, result.stderr[-3000:]
  results = json.load(open(run_dir / "results.json"))
  assert results["status"] == "finished" and results["steps"] == 2
  saved = json.load(open(run_dir / "config.json"))
  assert (saved["max_number_of_steps"], saved["student"]["studentnet"]) == (
      2, "inception_resnet_v2")


@pytest.mark.slow
def test_webvision_mini_flagfile_trains_two_steps_on_a_tiny_webvision(tmp_path):
  """Table 5's Mini run as launched (Inception-ResNet-v2, MentorNet PD, the Google images of the
  first 50 classes), pointed at a WebVision 1.0 tree; the ILSVRC12 val is skipped ('')."""
  root, run_dir = tmp_path / "webvision", tmp_path / "run"
  google = [(f"google/q{c:04d}/{i}.jpg", c) for c in (0, 7, 49) for i in range(3)]
  google += [("google/q0050/x.jpg", 50), ("google/q0900/y.jpg", 900)]  # not Mini: left out
  flickr = [("flickr/q0001/z.jpg", 1)]  # Mini reads the Google list only
  val = [("val000001.jpg", 3), ("val000002.jpg", 49), ("val000003.jpg", 999)]
  write_webvision(root, google, flickr, val)
  result = entry_runner.run_entry("train", [
      "--flagfile=launch/webvision_mini_mentornet.flags", f"--data_dir={root}",
      "--imagenet_val_dir=", "--image_size=75", "--batch_size=4", "--max_number_of_steps=2",
      "--eval_interval=0", "--verbose=0", "--verbosity=0", f"--train_log_dir={run_dir}"],
      cwd=REPO)
  assert result.returncode == 0, result.stderr[-3000:]
  results = json.load(open(run_dir / "results.json"))
  assert results["status"] == "finished" and results["steps"] == 2
  saved = json.load(open(run_dir / "config.json"))
  assert (saved["data"]["dataset_name"], saved["student"]["studentnet"],
          saved["mentor"]["weighting"]) == ("webvision_mini", "inception_resnet_v2", "mentornet")
  # The counts read are logged: 9 Mini training images (classes 0, 7, 49), 2 val images (< 50).
  assert "webvision_mini train: 9 images read from" in result.stderr, result.stderr[-2000:]
  assert "webvision_mini test: 2 images read from" in result.stderr, result.stderr[-2000:]
