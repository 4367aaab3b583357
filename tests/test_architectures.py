"""Tests of mentornet_tf.mentor.architectures: the App. D comparison networks."""
import numpy as np
import pytest

from mentornet_tf.mentor import architectures
from mentornet_tf.mentor import learning
from mentornet_tf.mentor import mentor_data


def _features(n, seed=0):
  rng = np.random.default_rng(seed)
  return np.stack([rng.uniform(0, 10, n), rng.uniform(-5, 5, n), np.zeros(n),
                   rng.integers(0, 100, n)], axis=1).astype(np.float32)


@pytest.mark.parametrize("name", architectures.ARCHITECTURES)
def test_output_shape_and_determinism(name):
  features = _features(70)  # not a multiple of the RNN's sequence length
  model = architectures.build_architecture(name, features, seed=3, sequence_length=32)
  logits = model(features).numpy()
  assert logits.shape == (70, 1) and logits.dtype == np.float32
  assert np.all(np.isfinite(logits))
  again = architectures.build_architecture(name, features, seed=3, sequence_length=32)
  np.testing.assert_allclose(again(features).numpy(), logits, rtol=1e-6)


@pytest.mark.parametrize("name", ["logistic", "mlp", "cnn", "mentornet",
                                  "mentornet_trainable_epoch"])
def test_per_example_networks_ignore_batch_mates(name):
  features = _features(40)
  model = architectures.build_architecture(name, features, seed=0)
  order = np.random.default_rng(1).permutation(40)
  np.testing.assert_allclose(model(features[order]).numpy(), model(features).numpy()[order],
                             rtol=1e-5, atol=1e-6)


def test_rnn_reads_each_sequence_of_the_batch_in_order():
  features = _features(64)
  model = architectures.build_architecture("rnn", features, seed=0, sequence_length=32)
  base = model(features).numpy()
  changed = features.copy()
  changed[40, 0] += 5.0  # row 8 of the second sequence
  out = model(changed).numpy()
  # Exact: the same rows in a batch of the same shape (same kernels); only row 40's input moved.
  np.testing.assert_array_equal(out[:40], base[:40])  # first sequence and earlier rows unchanged
  assert np.all(np.abs(out[40:] - base[40:]) > 0)  # the row itself and the rows after it change


def test_only_the_variant_trains_the_epoch_embedding():
  frozen = architectures.build_architecture("mentornet", seed=0)
  trainable = architectures.build_architecture("mentornet_trainable_epoch", seed=0)
  names = lambda model: {v.name.split("/")[-1].split(":")[0] for v in model.trainable_variables}
  assert "epoch_embedding" not in names(frozen) and "epoch_embedding" in names(trainable)
  assert frozen.config.num_lstm_units == 10  # App. D size
  features = _features(10)
  np.testing.assert_allclose(trainable(features).numpy(), frozen(features).numpy(), rtol=1e-6)


@pytest.mark.parametrize("name", architectures.ARCHITECTURES)
def test_each_architecture_fits_a_trivial_target_quickly(name):
  train, test = mentor_data.generate_predefined("self_paced", sample_size=3000, seed=0)
  train[:, 4], test[:, 4] = 0.8, 0.8  # a constant weight: reachable through any output bias
  model = architectures.build_architecture(name, train[:, :4], seed=0)
  config = learning.LearnConfig(mode="implicit", max_step_train=300, eval_every=0,
                                steps_per_call=300, learning_rate=0.01, jit_compile=False)
  _, metrics = learning.learn_mentornet(train, test, config, model=model)
  assert metrics["test_mse"] < 2e-3, metrics["test_mse"]


def test_logistic_regression_learns_self_paced():
  train, test = mentor_data.generate_predefined("self_paced", sample_size=3000, seed=0)
  model = architectures.build_architecture("logistic", train[:, :4], seed=0)
  config = learning.LearnConfig(mode="implicit", max_step_train=500, eval_every=0,
                                steps_per_call=500, learning_rate=0.1, jit_compile=False)
  _, metrics = learning.learn_mentornet(train, test, config, model=model)
  assert metrics["test_mse"] < 0.03, metrics["test_mse"]  # 1[loss_diff <= 0] is linear


def test_bad_arguments_are_named():
  with pytest.raises(ValueError, match="unknown architecture 'transformer'"):
    architectures.build_architecture("transformer")
  with pytest.raises(ValueError, match="train_features must be"):
    architectures.build_architecture("mlp", np.zeros([5, 3]))
  with pytest.raises(ValueError, match="sequence_length"):
    architectures.build_architecture("rnn", sequence_length=0)
