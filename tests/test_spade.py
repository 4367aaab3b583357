"""SpadeModel.train_step: the student loss of the original, the frozen mentor, Step 6 swaps."""
import os

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras

from mentornet_tf import inspection
from mentornet_tf import nonfinite
from mentornet_tf import schedules
from mentornet_tf import spade
from mentornet_tf import students
from mentornet_tf.mentor import learning
from mentornet_tf.mentor import network
from mentornet_tf.mentor import weighting as weighting_lib
from mentornet_tf.training import curriculum_updates

NUM_CLASSES = 10


def _batch(batch_size=32, seed=0):
  rng = np.random.default_rng(seed)
  clean = rng.integers(0, NUM_CLASSES, batch_size)
  noisy = np.where(rng.random(batch_size) < 0.4, rng.integers(0, NUM_CLASSES, batch_size), clean)
  return {"image": tf.constant(rng.random((batch_size, 8, 8, 1)), tf.float32),
          "label": tf.constant(noisy, tf.int32), "clean_label": tf.constant(clean, tf.int32),
          "id": tf.range(batch_size, dtype=tf.int64) + 1000 * seed}


def _model(weighting="mentornet", weight_decay=0.0, studentnet="mlp", mentornet=None,
           input_shape=(8, 8, 1), example_dropout_rates="0.0,100", burn_in_epoch=0,
           loss_moving_average_decay=0.5, curriculum="self_paced", curriculum_step_size=1.0):
  tables = schedules.epoch_tables(100, burn_in_epoch, False, example_dropout_rates)
  common = dict(loss_p_percentile=0.7, loss_moving_average_decay=loss_moving_average_decay)
  if weighting == "mentornet":
    mentornet = network.build_mentornet(seed=3) if mentornet is None else mentornet
    layer = weighting_lib.MentorNetWeighting(mentornet, tables, **common)
  elif weighting == "curriculum":
    layer = weighting_lib.CurriculumWeighting(
        curriculum, {}, "gradient", curriculum_step_size, initial_weight=1.0, num_train=5000,
        tables=tables, **common)
  else:
    layer = weighting_lib.UnitWeighting(tables, **common)
  student = students.build_student(studentnet, NUM_CLASSES, input_shape, seed=0)
  model = spade.SpadeModel(student, layer, global_batch_size=32, weight_decay=weight_decay,
                           num_classes=NUM_CLASSES)
  model.compile(optimizer=keras.optimizers.SGD(0.1))
  return model


def _reference_gradient_step(model, batch, weights, learning_rate=0.1, weight_decay=0.0):
  """Plain TF reference: w - lr * grad(sum(v * CE)/B + wd * l2 * sum(v)/B)."""
  student = model.student
  with tf.GradientTape() as tape:
    logits = student(batch["image"], training=True)
    ce = keras.losses.sparse_categorical_crossentropy(batch["label"], logits, from_logits=True)
    loss = tf.reduce_sum(weights * ce) / 32.0
    loss += weight_decay * students.weight_decay_loss(student) * tf.reduce_sum(weights) / 32.0
  grads = tape.gradient(loss, student.trainable_variables)
  return [v.numpy() - learning_rate * g.numpy() for v, g in zip(student.trainable_variables, grads)]


def test_one_step_changes_student_not_mentor_and_matches_reference():
  model = _model()
  batch = _batch()
  mentor_before = [w.copy() for w in model.weighting.mentornet.get_weights()]
  # v as the step will compute it (the moving average is updated inside: compute on a copy).
  probe = _model(mentornet=model.weighting.mentornet)
  ce = keras.losses.sparse_categorical_crossentropy(
      batch["label"], model.student(batch["image"], training=True), from_logits=True)
  expected_v = probe.weighting(ce, batch["id"], 0).weights
  expected = _reference_gradient_step(model, batch, expected_v)
  logs = spade.named_logs(model.train_step(batch))
  for variable, value in zip(model.student.trainable_variables, expected):
    np.testing.assert_allclose(variable.numpy(), value, rtol=1e-5, atol=1e-6)
  for before, after in zip(mentor_before, model.weighting.mentornet.get_weights()):
    np.testing.assert_array_equal(before, after)
  assert not any("mentornet" in v.name for v in model.student.trainable_variables)
  assert float(logs["weighted_loss"]) < float(logs["orig_loss"])


def test_the_step_returns_its_diagnostics_as_one_tensor_that_named_logs_spells_out():
  """One [19] output per step, not 19 scalars (one output to hand on per step);
  named_logs gives every DIAGNOSTICS name, keeps names already present (the epoch means) and
  leaves a parameter-server RemoteValue unread when asked not to wait."""
  model = _model()
  logs = model.train_step(_batch())
  assert set(logs) == {spade.LOGS_KEY}
  assert logs[spade.LOGS_KEY].shape == [len(spade.DIAGNOSTICS)]
  named = spade.named_logs(logs)
  assert list(named) == list(spade.DIAGNOSTICS)
  vector = logs[spade.LOGS_KEY].numpy()
  assert named["orig_loss"] == float(vector[spade.DIAGNOSTICS.index("orig_loss")])
  assert spade.named_logs(dict(logs, orig_loss=7.0, val_accuracy=0.5))["orig_loss"] == 7.0

  class Remote:  # a RemoteValue: fetch() waits for the step
    def fetch(self):
      return vector
  assert spade.named_logs({spade.LOGS_KEY: Remote()}, fetch_remote=False) == {}
  assert spade.named_logs({spade.LOGS_KEY: Remote()})["orig_loss"] == named["orig_loss"]
  assert spade.named_logs(None) == {}


def test_without_clean_labels_the_noisy_ones_stand_in_for_step_and_records():
  """A Python user's data may leave 'clean_label' out (real noise): the step is the same step
  (same weights after it) and the diagnostics and records compare against the noisy labels."""
  batch = _batch()
  without = {k: v for k, v in batch.items() if k != "clean_label"}
  with_noisy_as_clean = dict(without, clean_label=batch["label"])
  first, second = _model(), _model()
  logs_without = spade.named_logs(first.train_step(without))
  logs_noisy = spade.named_logs(second.train_step(with_noisy_as_clean))
  for a, b in zip(first.student.get_weights(), second.student.get_weights()):
    np.testing.assert_array_equal(a, b)  # the same graph on the same inputs, one process
  assert logs_without == logs_noisy
  assert logs_without["accuracy_clean"] == logs_without["accuracy_noisy"]
  records = inspection.per_example_pass(first, tf.data.Dataset.from_tensors(without))
  np.testing.assert_array_equal(records["clean_label"], records["noisy_label"])


def test_all_weights_one_gives_the_plain_loss_and_zero_gives_zero():
  model = _model(weighting="none")
  batch = _batch()
  logits = model.student(batch["image"], training=True)
  plain = float(tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(
      batch["label"], logits, from_logits=True)))
  logs = spade.named_logs(model.train_step(batch))
  np.testing.assert_allclose(float(logs["total_loss"]), plain, rtol=1e-5)
  np.testing.assert_allclose(float(logs["weighted_loss"]), plain, rtol=1e-5)
  # Example dropout 1.0 zeroes every weight: no gradient, the student does not move.
  zero = _model(example_dropout_rates="1.0,100")
  before = [w.numpy().copy() for w in zero.student.trainable_variables]
  logs = spade.named_logs(zero.train_step(batch))
  assert float(logs["total_loss"]) == 0.0 and float(logs["batch_sum_v"]) == 0.0
  for b, v in zip(before, zero.student.trainable_variables):
    np.testing.assert_array_equal(b, v.numpy())


def test_weight_decay_is_scaled_by_the_weight_mass():
  model = _model(weight_decay=2e-4, studentnet="tiny_cnn", burn_in_epoch=50,  # v = 1 (burn-in)
                 input_shape=(32, 32, 3))
  batch = _batch()
  batch = dict(batch, image=tf.image.resize(batch["image"], [32, 32]) * tf.ones([1, 1, 1, 3]))
  expected = _reference_gradient_step(model, batch, tf.ones([32]), weight_decay=2e-4)
  model.train_step(batch)
  for variable, value in zip(model.student.trainable_variables, expected):
    np.testing.assert_allclose(variable.numpy(), value, rtol=1e-4, atol=1e-6)


def test_curriculum_step9_projected_gradient_on_a_weight_table():
  model = _model(weighting="curriculum", curriculum="self_paced", curriculum_step_size=0.5,
                 loss_moving_average_decay=0.0)
  batch = _batch()
  model.train_step(batch)
  table = model.weighting.weight_table.numpy()
  ids = batch["id"].numpy()
  touched = table[ids]
  assert np.all((touched >= 0) & (touched <= 1))
  untouched = np.delete(table, ids)
  np.testing.assert_array_equal(untouched, 1.0)  # v0 of the other examples is kept
  # self-paced G: dF/dv = loss - moving average; v moves down exactly for losses above it.
  assert np.any(touched < 1.0)


def test_step6_swap_reuses_the_traced_step(tmp_path):
  model = _model()
  batch = _batch()
  model.make_train_function()
  iterator = iter(tf.data.Dataset.from_tensors(batch).repeat())
  model.train_function(iterator)
  traces_before = model.train_function.experimental_get_tracing_count()
  new = network.build_mentornet(seed=11)
  model.weighting.mentornet.set_weights(new.get_weights())
  model.train_function(iterator)
  assert model.train_function.experimental_get_tracing_count() == traces_before
  for a, b in zip(model.weighting.mentornet.get_weights(), new.get_weights()):
    np.testing.assert_array_equal(a, b)


def test_learn_data_driven_from_a_student_dump(tmp_path):
  model = _model()
  data = tf.data.Dataset.from_tensor_slices(_batch(256, seed=1)).batch(64)
  mentornet, metrics = curriculum_updates.learn_data_driven(
      model, data, lambda ids: tf.ones_like(ids, tf.bool), epoch=[7, 8], percentile=60,
      learn_config=learning.LearnConfig(max_step_train=200, steps_per_call=100,
                                        jit_compile=False),
      mentornet_config=model.weighting.mentornet.config, output_dir=str(tmp_path))
  assert metrics["num_dump_rows"] == 256 and metrics["epochs"] == [7, 8]
  assert os.path.exists(tmp_path / "student_dump_epoch_07.txt")
  assert os.path.exists(tmp_path / "mentornet_dd_epoch_07" / "mentornet.json")
  assert mentornet.config == model.weighting.mentornet.config


def test_update_steps_first_step_of_each_epoch_percentage():
  assert curriculum_updates.update_steps([21, 75], 39000) == [8190, 29250]
  assert curriculum_updates.update_steps([7], 1240) == [87]
  assert schedules.epoch_percentage(87, 1240) == 7 and schedules.epoch_percentage(86, 1240) == 6


def test_per_example_pass_and_weight_export_round_trip(tmp_path):
  model = _model()
  data = tf.data.Dataset.from_tensor_slices(_batch(100, seed=2)).batch(32)
  records = inspection.per_example_pass(model, data)
  assert records["id"].shape == (100,) and np.all((records["weight"] >= 0) &
                                                  (records["weight"] <= 1))
  path = str(tmp_path / "weights" / "epoch_0001.csv")
  inspection.write_weights(path, records)
  back = inspection.read_weights(path)
  np.testing.assert_array_equal(back["id"], records["id"])
  np.testing.assert_allclose(back["weight"], records["weight"], rtol=1e-5)
  report = inspection.detection_report(back)
  assert report["num_examples"] == 100 and 0 <= report["precision"] <= 1
  with pytest.raises(ValueError, match="not a weight export"):
    (tmp_path / "bad.csv").write_text("a,b\n1,2\n")
    inspection.read_weights(str(tmp_path / "bad.csv"))


class _SqrtOfScaledInput(keras.layers.Layer):
  """y = sqrt(s * x): at x = 0 the output is 0 (finite loss) but d y / d s = x / (2 y) = 0 / 0."""

  def build(self, input_shape):
    self.scale = self.add_weight(name="scale", shape=[], initializer="ones")

  def call(self, inputs):
    return tf.sqrt(self.scale * inputs)


def test_a_non_finite_gradient_under_a_finite_loss_ends_the_step_with_its_values():
  """The divergence check reads the gradient norm, not only the loss: a NaN gradient behind a
  finite loss ends the call with the marker, the step and the values parse_divergence reads."""
  model = _model(weighting="none")
  model.student = keras.Sequential([keras.Input((8, 8, 1)), _SqrtOfScaledInput(),
                                    keras.layers.Flatten(), keras.layers.Dense(NUM_CLASSES)])
  batch = dict(_batch(), image=tf.zeros([32, 8, 8, 1]))
  with pytest.raises(tf.errors.InvalidArgumentError) as error:
    tf.function(model.train_step)(batch)
  values = nonfinite.parse_divergence(str(error.value))
  assert values["step"] == 1 and np.isfinite(values["loss"])
  assert np.isnan(values["gradient_norm"])
