"""--dtype: the StudentNet computes in bfloat16 / float16 with float32 variables (precision.py).

One SpadeModel step on a tiny CNN per case (CPU), and the tiny training run of entry_runner in
bfloat16 (and, slow, float16 with a restart from its loss-scaled checkpoint).
"""
import json
import os

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras

from mentornet_tf import config as config_lib
from mentornet_tf import precision
from mentornet_tf import spade
from mentornet_tf import students
from mentornet_tf.mentor import weighting as weighting_lib
import entry_runner

SHAPE = (16, 16, 3)
BATCH = 8


def _batch(seed=0):
  rng = np.random.default_rng(seed)
  labels = rng.integers(0, 10, BATCH)
  return {"image": tf.constant(rng.normal(size=(BATCH,) + SHAPE), tf.float32),
          "label": tf.constant(labels, tf.int32), "clean_label": tf.constant(labels, tf.int32),
          "id": tf.range(BATCH, dtype=tf.int64)}


def _model(dtype, optimizer=None):
  """A SpadeModel (FullModel weighting, no decay) on tiny_cnn built under `dtype`."""
  with precision.student_policy(dtype):
    student = students.build_student("tiny_cnn", 10, SHAPE, seed=0)
  weighting = weighting_lib.build_weighting(config_lib.MentorConfig(), 1000, num_train=BATCH)
  model = spade.SpadeModel(student, weighting, global_batch_size=BATCH, summary_steps=1)
  model.compile(optimizer=optimizer or precision.wrap_optimizer(keras.optimizers.SGD(0.1),
                                                                dtype))
  return model


def _step(model, batch):
  """One training step through Keras' train function; the step's logs as floats."""
  logs = model.make_train_function()(iter(tf.data.Dataset.from_tensors(batch).repeat()))
  return {k: float(v) for k, v in spade.named_logs(logs).items()}


def test_one_bfloat16_step_keeps_float32_variables_and_changes_them():
  model = _model("bfloat16")
  student = model.student
  assert keras.mixed_precision.global_policy().name == "float32"  # only the student's build
  assert {v.dtype for v in student.variables} == {tf.float32}
  convs = [layer for layer in student.layers if isinstance(layer, keras.layers.Conv2D)]
  assert convs and all(layer.compute_dtype == "bfloat16" for layer in convs)
  assert convs[0].output.dtype == tf.bfloat16 and student.output.dtype == tf.bfloat16
  assert model(_batch()["image"]).dtype == tf.float32  # logits cast before any loss
  assert model.weighting.moving_average.dtype == tf.float32
  before = [v.numpy() for v in student.trainable_variables]
  logs = _step(model, _batch())
  assert all(np.isfinite(list(logs.values())))
  changed = [np.abs(v.numpy() - b).max() > 0 for v, b in zip(student.trainable_variables, before)]
  assert all(changed), changed
  # The same step in float32 from the same initial weights: bfloat16 keeps 8 mantissa bits
  # (relative rounding 2^-8 per op), so the CE agrees to a few percent, not to float32's 1e-6.
  reference = _step(_model("float32"), _batch())
  np.testing.assert_allclose(logs["orig_loss"], reference["orig_loss"], rtol=0.05)


def test_float16_scales_the_loss_and_unscales_the_gradients():
  optimizer = precision.wrap_optimizer(keras.optimizers.SGD(0.1), "float16")
  assert isinstance(optimizer, keras.mixed_precision.LossScaleOptimizer)
  model = _model("float16", optimizer)
  seen = tf.Variable(tf.zeros([2]))  # (loss, scaled loss) as the step saw them
  scale = optimizer.get_scaled_loss

  def recording_scale(loss):
    scaled = scale(loss)
    seen.assign(tf.stack([loss, scaled]))
    return scaled
  optimizer.get_scaled_loss = recording_scale
  initial = [v.numpy() for v in model.student.trainable_variables]
  logs = _step(model, _batch())
  loss, scaled = seen.numpy()
  assert float(optimizer.loss_scale) == 2.0 ** 15  # the dynamic initial scale, kept (finite)
  assert scaled == loss * 2.0 ** 15  # a power of two: exact in float32
  np.testing.assert_allclose(logs["total_loss"], loss, rtol=1e-6)  # reported unscaled
  # The update used the unscaled gradients: per variable it matches the float32 step from the
  # same weights to float16's precision (2^-11 per op, compounded over the layers: a few
  # percent of the update's norm; single elements near 0 may differ more), not 2^15 times larger.
  reference = _model("float32")
  _step(reference, _batch())
  for variable, start, expected in zip(model.student.trainable_variables, initial,
                                       reference.student.trainable_variables):
    update, expected_update = variable.numpy() - start, expected.numpy() - start
    error = np.linalg.norm(update - expected_update) / np.linalg.norm(expected_update)
    assert error < 0.05, (variable.name, error)


def test_float16_overflow_is_skipped_by_the_optimizer_not_divergence():
  # A loss scale of 2^60 makes the float16 gradients overflow: the optimizer skips the step and
  # halves the scale; the finiteness check (loss and v only under loss scaling) does not fire.
  optimizer = keras.mixed_precision.LossScaleOptimizer(keras.optimizers.SGD(0.1),
                                                       initial_scale=2.0 ** 60)
  model = _model("float16", optimizer)
  before = [v.numpy() for v in model.student.trainable_variables]
  logs = _step(model, _batch())
  assert np.isfinite(logs["total_loss"]) and not np.isfinite(logs["gradient_norm"])
  assert float(optimizer.loss_scale) == 2.0 ** 59
  for variable, start in zip(model.student.trainable_variables, before):
    np.testing.assert_array_equal(variable.numpy(), start)


def test_tiny_run_in_bfloat16_through_the_train_command(tmp_path):
  run_dir = tmp_path / "run"
  result = entry_runner.run_entry("train", [*entry_runner.TINY_TRAIN_ARGS, "--dtype=bfloat16",
                                            "--max_number_of_steps=3",
                                            f"--train_log_dir={run_dir}"], check=True)
  assert "final clean test top-1" in result.stdout
  assert json.loads((run_dir / "config.json").read_text())["dtype"] == "bfloat16"
  results = json.loads((run_dir / "results.json").read_text())
  assert results["status"] == "finished" and results["steps"] == 3
  assert 0.0 <= results["final_accuracy"] <= 1.0


def _student_weights(prefix):
  reader = tf.train.load_checkpoint(prefix)
  return {n: reader.get_tensor(n) for n in reader.get_variable_to_shape_map()
          if n.startswith("model/student/") and "OPTIMIZER_SLOT" not in n}


@pytest.mark.slow
def test_float16_run_restarts_from_its_loss_scaled_checkpoint(tmp_path):
  """The LossScaleOptimizer adds its loss scale to the optimizer's checkpoint: a float16 run
  stopped at step 27 (mid-epoch) and extended to 40 ends where an uninterrupted run ends.

  Tolerance: the same CPU kernels in the same order give the same values; 1e-6 leaves room for
  nothing but float32 rounding of a reordered sum.
  """
  args = [*entry_runner.TINY_TRAIN_ARGS, "--dtype=float16"]
  reference, resumed = tmp_path / "reference", tmp_path / "resumed"
  entry_runner.run_entry("train", [*args, "--max_number_of_steps=40",
                                   f"--train_log_dir={reference}"], check=True)
  entry_runner.run_entry("train", [*args, "--max_number_of_steps=27",
                                   f"--train_log_dir={resumed}"], check=True)
  entry_runner.run_entry("train", [*args, "--max_number_of_steps=40",
                                   f"--train_log_dir={resumed}"], check=True)
  results = json.loads((resumed / "results.json").read_text())
  assert results["resumed_from"].endswith("ckpt-27") and results["steps"] == 40
  names = tf.train.load_checkpoint(str(resumed / "ckpt" / "ckpt-40")).get_variable_to_shape_map()
  assert any("loss_scale" in name for name in names), sorted(names)
  a = _student_weights(str(reference / "ckpt" / "ckpt-40"))
  b = _student_weights(str(resumed / "ckpt" / "ckpt-40"))
  assert a.keys() == b.keys() and a
  for name in a:
    np.testing.assert_allclose(b[name], a[name], rtol=1e-6, atol=1e-7, err_msg=name)
  assert os.path.exists(resumed / "ckpt" / "ckpt-27.index")
