"""Inception-ResNet-v2's auxiliary head in SpadeModel: loss = sum_i v_i (CE_i + w CE_aux_i) / B.

students/inception_resnet_v2.py decides that v weights the auxiliary loss too and that MentorNet
sees the main head's CE only; this checks the step's loss by hand at the smallest input the
network builds (75 x 75: its 17-grid is then 3 x 3).
"""
import types

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras

from mentornet_tf import config as config_lib
from mentornet_tf import schedules
from mentornet_tf import spade
from mentornet_tf import train_lib
from mentornet_tf.mentor import weighting as weighting_lib

SHAPE = (75, 75, 3)  # inception_resnet_v2.MIN_IMAGE_SIZE
BATCH, CLASSES = 4, 5


class _FixedV(weighting_lib.UnitWeighting):
  """v = 0.25 for even ids, 0.75 for odd ones: distinct weights, no schedule."""

  def compute_v(self, loss, loss_diff, cur_epoch, example_ids, training):
    return 0.25 + 0.5 * tf.cast(example_ids % 2, tf.float32)


def _fixed_v():
  c = config_lib.MentorConfig()
  return _FixedV(schedules.epoch_tables(1000, c.burn_in_epoch, c.fixed_epoch_after_burn_in,
                                        c.example_dropout_rates),
                 loss_p_percentile=c.loss_p_percentile,
                 loss_moving_average_decay=c.loss_moving_average_decay)


def _step(model, batch):
  logs = model.make_train_function()(iter(tf.data.Dataset.from_tensors(batch).repeat()))
  return {k: float(v) for k, v in spade.named_logs(logs).items()}


@pytest.mark.slow  # builds the 59M-parameter network and traces a step (~1-2 min on CPU)
def test_the_aux_loss_enters_the_step_weighted_by_v():
  config = config_lib.TrainConfig(
      train_log_dir="unused", student=config_lib.StudentConfig(
          studentnet="inception_resnet_v2", aux_weight=0.3, dropout_keep_prob=1.0,
          weight_decay=0.0))
  info = types.SimpleNamespace(num_classes=CLASSES, image_shape=SHAPE, num_train=BATCH)
  model, _ = train_lib.build_model(config, info)
  assert model.aux_weight == 0.3  # --aux_weight reaches the step (the student's own is 0.4)
  student = model.student
  rng = np.random.default_rng(0)
  labels = tf.constant(rng.integers(0, CLASSES, BATCH), tf.int32)
  batch = {"image": tf.constant(rng.uniform(-1, 1, (BATCH,) + SHAPE), tf.float32),
           "label": labels, "clean_label": labels, "id": tf.range(BATCH, dtype=tf.int64)}
  # The step's forward pass by hand: training mode (BN batch statistics; no dropout at keep 1).
  logits, aux_logits = student(batch["image"], training=True, return_aux=True)
  ce = keras.losses.sparse_categorical_crossentropy(labels, logits, from_logits=True).numpy()
  ce_aux = keras.losses.sparse_categorical_crossentropy(labels, aux_logits,
                                                        from_logits=True).numpy()
  v = np.array([0.25, 0.75, 0.25, 0.75])

  model = spade.SpadeModel(student, _fixed_v(), global_batch_size=BATCH, num_classes=CLASSES,
                           summary_steps=1, aux_weight=0.4)
  model.compile(optimizer=keras.optimizers.SGD(0.1))
  aux_kernel = student.network_with_aux.get_layer("aux_logits").kernel
  before = aux_kernel.numpy()
  logs = _step(model, batch)  # the logged losses are those of the forward pass before the update
  # The same forward pass in the step and by hand: float32 rounding of reductions only.
  expected = np.mean(v * (ce + 0.4 * ce_aux))
  np.testing.assert_allclose(logs["total_loss"], expected, rtol=1e-4)
  np.testing.assert_allclose(logs["weighted_loss"], expected, rtol=1e-4)
  np.testing.assert_allclose(logs["orig_loss"], np.mean(ce), rtol=1e-4)  # MentorNet's CE
  # Neither the main loss alone nor an aux loss that v does not weight.
  for other in (np.mean(v * ce), np.mean(v * ce) + 0.4 * np.mean(ce_aux)):
    assert abs(logs["total_loss"] - other) > 1e-2 * expected, other
  assert np.abs(aux_kernel.numpy() - before).max() > 0  # the aux head is trained
