"""The two recipe sets of launch/ (as the original README ran, as the paper describes), the
per-student optimiser defaults, the transferred CIFAR-100 MentorNet DD and the learning-rate
schedules the recipes name (issue 10 section 2)."""
import os

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
