"""The user-facing names are defined once (mentornet_tf/names.py) and every registry agrees."""
import pytest

from mentornet_tf import config as config_lib
from mentornet_tf import names
from mentornet_tf import students


def test_student_registry_keys_are_the_names():
  assert tuple(students.STUDENTS) == names.STUDENTS
  for spec in students.STUDENTS.values():
    assert spec.augmentation in names.AUGMENTATIONS


def test_config_accepts_every_name_and_refuses_others():
  for name in names.DATASETS:
    assert config_lib.DataConfig(dataset_name=name).dataset_name == name
  for name in names.AUGMENTATION_CHOICES:
    assert config_lib.DataConfig(augmentation=name).augmentation == name
  for name in names.STUDENTS:
    assert config_lib.StudentConfig(studentnet=name).studentnet == name
  for name in names.STRATEGIES:
    assert config_lib.TrainConfig(train_log_dir="x", strategy=name).strategy == name
  for factory, field in [(config_lib.DataConfig, "dataset_name"),
                         (config_lib.DataConfig, "augmentation"),
                         (config_lib.StudentConfig, "studentnet")]:
    with pytest.raises(config_lib.ConfigError, match=f"--{field}='nope'"):
      factory(**{field: "nope"})


def test_builders_know_every_name():
  from mentornet_tf import distribute  # pylint: disable=g-import-not-at-top
  from mentornet_tf.data import augment  # pylint: disable=g-import-not-at-top
  for name in names.AUGMENTATIONS:
    assert callable(augment.preprocess_fn(name, training=True))
  with pytest.raises(ValueError, match="one_device, mirrored"):
    distribute.build_strategy("nope")
