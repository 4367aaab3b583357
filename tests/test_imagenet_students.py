"""The ImageNet-scale StudentNets: inception_resnet_v2 (slim settings + aux head) and resnet50."""
import collections

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras

from mentornet_tf import names
from mentornet_tf import students
from mentornet_tf.students import inception_resnet_v2 as irv2
from mentornet_tf.students import resnet50

SMALL = (75, 75, 3)  # Inception-ResNet-v2's minimum input


@pytest.fixture(scope="module")
def small_irv2():
  # 1001 classes: the main path's count does not depend on the input size (global pooling).
  return students.build_student("inception_resnet_v2", 1001, SMALL, seed=1)


def test_registry_entries_and_flag_choices():
  spec = students.STUDENTS["inception_resnet_v2"]
  assert (spec.weight_decay, spec.augmentation, spec.image_size) == (4e-5, "inception_imagenet",
                                                                     299)
  spec = students.STUDENTS["resnet50"]
  assert (spec.weight_decay, spec.augmentation, spec.image_size) == (1e-4, "resnet_imagenet", 224)
  assert {"inception_resnet_v2", "resnet50"} <= set(names.STUDENTS)
  from absl import flags  # pylint: disable=g-import-not-at-top
  from mentornet_tf import train  # pylint: disable=g-import-not-at-top
  train.define_flags()
  for name in ("inception_resnet_v2", "resnet50"):
    assert flags.FLAGS["studentnet"].parser.parse(name) == name
  for name in ("inception_imagenet", "resnet_imagenet"):
    assert flags.FLAGS["augmentation"].parser.parse(name) == name


@pytest.mark.slow  # builds a 56M / 25M-parameter network (6 s each)
def test_irv2_parameter_counts_main_equals_application_aux_equals_formula(small_irv2):
  main = small_irv2.network.count_params()
  assert main == irv2.APPLICATION_PARAMS_1001 == 55_875_273
  # At 75 x 75 the 17-grid is 3 x 3: pool 3/3 -> 1 x 1, so the 768-conv is 1 x 1.
  assert small_irv2.count_params() - main == irv2.aux_head_params(1001, grid=1)
  assert irv2.aux_head_params(1001) == 3_369_321  # at 299: 5 x 5 kernel ("about 3.37M")


@pytest.mark.slow  # builds a 56M / 25M-parameter network (6 s each)
def test_irv2_slim_settings(small_irv2):
  layers = list(small_irv2._flatten_layers(include_self=False))  # pylint: disable=protected-access
  norms = [layer for layer in layers if isinstance(layer, keras.layers.BatchNormalization)]
  assert len(norms) == 204 + 2  # the application's 204, plus the aux head's two
  assert all(n.momentum == 0.9997 and n.epsilon == 1e-3 and not n.scale and n.center
             for n in norms)
  dropout = [layer for layer in layers if isinstance(layer, keras.layers.Dropout)]
  assert len(dropout) == 1 and dropout[0].rate == pytest.approx(0.2)
  counts = collections.Counter(type(layer).__name__ for layer in small_irv2.network.layers)
  assert counts["Conv2D"] == 244 and counts["ScaledResidual"] == 40 and counts["Dense"] == 1
  # Decay covers every conv and dense kernel (main + aux), never BN or biases.
  assert len(students.decayed_kernels(small_irv2)) == 244 + 1 + 2 + 1
  assert small_irv2.has_aux_logits and small_irv2.aux_weight == 0.4


@pytest.mark.slow  # builds a 56M / 25M-parameter network (6 s each)
def test_irv2_forward_backward_with_aux_logits(small_irv2):
  images = tf.random.stateless_uniform([2, *SMALL], seed=[1, 2], minval=-1.0, maxval=1.0)
  labels = tf.constant([3, 1000])
  with tf.GradientTape() as tape:
    logits, aux_logits = small_irv2(images, training=True, return_aux=True)
    loss = tf.reduce_mean(
        keras.losses.sparse_categorical_crossentropy(labels, logits, from_logits=True)
        + 0.4 * keras.losses.sparse_categorical_crossentropy(labels, aux_logits, from_logits=True))
  gradients = tape.gradient(loss, small_irv2.trainable_variables)
  assert logits.shape == aux_logits.shape == (2, 1001)
  assert all(g is not None for g in gradients) and np.isfinite(float(loss))
  inference = small_irv2(images, training=False)
  assert inference.shape == (2, 1001)
  np.testing.assert_allclose(small_irv2(images, training=False), inference, rtol=1e-5, atol=1e-5)


def test_irv2_options_and_refusals():
  with pytest.raises(ValueError, match="at least 75"):
    irv2.build_inception_resnet_v2(10, (64, 64, 3))
  with pytest.raises(ValueError, match="dropout_keep_prob"):
    irv2.build_inception_resnet_v2(10, SMALL, dropout_keep_prob=0.0)


@pytest.mark.slow
def test_irv2_without_aux_head_and_forgetting_dropout():
  model = irv2.build_inception_resnet_v2(7, SMALL, dropout_keep_prob=0.2, create_aux_logits=False)
  assert not model.has_aux_logits and model.aux_weight == 0.0
  assert model.count_params() == model.network.count_params()
  dropout = [layer for layer in model.network.layers if isinstance(layer, keras.layers.Dropout)]
  assert dropout[0].rate == pytest.approx(0.8)
  with pytest.raises(ValueError, match="create_aux_logits=False"):
    model(tf.zeros([1, *SMALL]), return_aux=True)


@pytest.mark.slow
def test_irv2_at_299_against_the_tf_keras_application():
  model = irv2.build_inception_resnet_v2(1001, (299, 299, 3))
  application = keras.applications.InceptionResNetV2(weights=None, classes=1001)
  assert application.count_params() == model.network.count_params() == 55_875_273
  assert model.count_params() - model.network.count_params() == 3_369_321
  assert model.count_params() == 59_244_594
  ours = collections.Counter(type(layer).__name__ for layer in model.network.layers)
  theirs = collections.Counter(type(layer).__name__ for layer in application.layers)
  ours["CustomScaleLayer"] = ours.pop("ScaledResidual")
  ours.pop("Dropout")
  assert ours == theirs
  assert [w.shape for w in model.network.weights] == [w.shape for w in application.weights]


@pytest.mark.slow  # builds a 56M / 25M-parameter network (6 s each)
def test_resnet50_is_the_model_gardens_and_trains():
  from official.core import exp_factory  # pylint: disable=g-import-not-at-top
  from official.vision.modeling import factory  # pylint: disable=g-import-not-at-top
  model = students.build_student("resnet50", 1001, (64, 64, 3), seed=3)
  config = exp_factory.get_exp_config("resnet_imagenet").task.model
  reference = factory.build_classification_model(
      keras.layers.InputSpec(shape=[None, 64, 64, 3]), config)
  assert model.count_params() == reference.count_params() == resnet50.MODEL_GARDEN_PARAMS_1001
  norms = [layer for layer in model._flatten_layers()  # pylint: disable=protected-access
           if isinstance(layer, keras.layers.BatchNormalization)]
  assert norms and all(n.momentum == 0.9 and n.epsilon == 1e-5 for n in norms)
  # Model Garden layers are tf_keras layers: our decay and a tf_keras training step work.
  assert all(isinstance(layer, keras.layers.Layer) for layer in model.layers)
  assert len(students.decayed_kernels(model)) == 53 + 1
  images = tf.random.stateless_uniform([2, 64, 64, 3], seed=[3, 4])
  with tf.GradientTape() as tape:
    logits = model(images, training=True)
    loss = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(
        [0, 5], logits, from_logits=True)) + 1e-4 * students.weight_decay_loss(model)
  gradients = tape.gradient(loss, model.trainable_variables)
  assert logits.shape == (2, 1001) and all(g is not None for g in gradients)
  keras.utils.set_random_seed(11)  # as a training run earlier in the process would
  again = students.build_student("resnet50", 1001, (64, 64, 3), seed=3)
  np.testing.assert_array_equal(model.weights[0].numpy(), again.weights[0].numpy())
  with pytest.raises(ValueError, match="at least 32"):
    resnet50.build_resnet50(10, (16, 16, 3))
