"""--dd_dump_mode: the MentorNet DD dump with the student in inference or training mode."""
import json
import os

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras

from mentornet_tf import config as config_lib
from mentornet_tf import inspection
from mentornet_tf import schedules
from mentornet_tf import spade
from mentornet_tf import students
from mentornet_tf.data import pipeline
from mentornet_tf.mentor import network
from mentornet_tf.mentor import weighting as weighting_lib

import entry_runner

NUM_CLASSES = 10


def _fake(batch_size=16):
  return config_lib.DataConfig(dataset_name="fake", fake_num_train=40, fake_num_test=8,
                               fake_image_shape=(16, 16, 3), batch_size=batch_size,
                               noise_fraction=0.4)


def _images(dataset):
  batches = list(dataset)
  return (np.concatenate([b["id"].numpy() for b in batches]),
          np.concatenate([b["image"].numpy() for b in batches]),
          np.concatenate([b["label"].numpy() for b in batches]))


def test_training_mode_dataset_is_the_augmented_split_in_id_order_and_reproducible():
  ids, plain, labels = _images(pipeline.build_train_eval_dataset(_fake(), "cifarnet"))
  ids_a, augmented_a, labels_a = _images(pipeline.build_train_eval_dataset(
      _fake(), "cifarnet", training=True, seed=5))
  _, augmented_b, _ = _images(pipeline.build_train_eval_dataset(
      _fake(), "cifarnet", training=True, seed=5))
  _, augmented_c, _ = _images(pipeline.build_train_eval_dataset(
      _fake(), "cifarnet", training=True, seed=6))
  np.testing.assert_array_equal(ids_a, ids)  # every example once, in id order
  np.testing.assert_array_equal(labels_a, labels)  # the same noisy labels
  np.testing.assert_array_equal(augmented_a, augmented_b)  # seeded by (seed, id)
  assert not np.allclose(augmented_a, plain)  # crops and flips, not the eval transform
  assert not np.allclose(augmented_a, augmented_c)
  # Still standardised per image, as the train step's images.
  np.testing.assert_allclose(augmented_a.mean(axis=(1, 2, 3)), 0.0, atol=1e-4)


def _tiny_model():
  tables = schedules.epoch_tables(100, 0, False, "0.0,100")
  layer = weighting_lib.MentorNetWeighting(network.build_mentornet(seed=3), tables,
                                           loss_p_percentile=0.7, loss_moving_average_decay=0.5)
  student = students.build_student("tiny_cnn", NUM_CLASSES, (8, 8, 3), seed=0)  # BN, no dropout
  model = spade.SpadeModel(student, layer, global_batch_size=32, num_classes=NUM_CLASSES)
  model.compile(optimizer=keras.optimizers.SGD(0.1))
  return model


def _data(count=96, seed=0):
  rng = np.random.default_rng(seed)
  clean = rng.integers(0, NUM_CLASSES, count)
  return tf.data.Dataset.from_tensor_slices({
      # Shifted and scaled so that batch statistics differ from the initial moving ones.
      "image": tf.constant(3.0 + 2.0 * rng.random((count, 8, 8, 3)), tf.float32),
      "label": tf.constant(clean, tf.int32), "clean_label": tf.constant(clean, tf.int32),
      "id": tf.range(count, dtype=tf.int64)}).batch(32)


def test_training_mode_pass_uses_batch_statistics_and_changes_no_state():
  model = _tiny_model()
  state = [v.numpy() for v in model.student.variables]
  inference = inspection.per_example_pass(model, _data())
  training = inspection.per_example_pass(model, _data(), training=True)
  for variable, before in zip(model.student.variables, state):  # BN moving stats put back
    np.testing.assert_array_equal(variable.numpy(), before, err_msg=variable.name)
  np.testing.assert_array_equal(training["id"], inference["id"])
  # Batch statistics of the shifted images vs the initial moving mean 0 / variance 1: the CE
  # differs by far more than float error (measured mean |diff| ~0.1-1).
  assert np.mean(np.abs(training["loss"] - inference["loss"])) > 1e-3
  # The reference: the student called in training mode on each whole batch.
  expected = []
  for batch in _data():
    logits = model.student(batch["image"], training=True)
    expected.append(keras.losses.sparse_categorical_crossentropy(
        batch["label"], logits, from_logits=True).numpy())
  for variable, before in zip(model.student.variables, state):
    variable.assign(before)
  # Same op on the same batch shape in and outside tf.function: a few ulps of float32.
  np.testing.assert_allclose(training["loss"], np.concatenate(expected), rtol=1e-5, atol=1e-6)


def test_training_mode_subset_is_taken_after_the_whole_batch():
  """BN batch statistics over the whole batch (as the train step), not over the subset."""
  model = _tiny_model()
  whole = inspection.per_example_pass(model, _data(), training=True)
  subset = inspection.per_example_pass(model, _data(), training=True,
                                       ids_mask_fn=lambda ids: ids % 3 == 0)
  keep = whole["id"] % 3 == 0
  np.testing.assert_array_equal(subset["id"], whole["id"][keep])
  # Same batches, same computation; tf.boolean_mask after it: equal up to float32 ulps.
  np.testing.assert_allclose(subset["loss"], whole["loss"][keep], rtol=1e-6, atol=1e-7)


def test_dd_dump_mode_is_checked_and_named():
  with pytest.raises(config_lib.ConfigError, match=r"--dd_dump_mode='train' is invalid"):
    config_lib.MentorConfig(dd_dump_mode="train")


@pytest.mark.slow
def test_a_training_mode_dump_run_records_its_mode(tmp_path):
  run = tmp_path / "run"
  entry_runner.run_entry("train", [
      *entry_runner.TINY_TRAIN_ARGS, "--max_number_of_steps=40", "--weighting=mentornet",
      "--update_mentornet_epochs=25", "--burn_in_epoch=30", "--fixed_epoch_after_burn_in",
      "--mentornet_learning_steps=200", "--example_dropout_rates=0.0,100",
      "--clean_subset_fraction=0.5", "--dd_dump_mode=training", f"--train_log_dir={run}"],
      check=True)
  saved = json.load(open(os.path.join(run, "mentornet_updates", "mentornet_dd_epoch_25",
                                      "mentornet.json")))
  assert saved["dump_mode"] == "training"
  assert json.load(open(run / "config.json"))["mentor"]["dd_dump_mode"] == "training"
