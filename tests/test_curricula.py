"""Predefined curricula: values at known points, numpy/TF agreement, Eq. 4-7 consistency."""
import numpy as np
import pytest
import tensorflow as tf

from mentornet_tf.mentor import curricula
from mentornet_tf.mentor import curriculum_objective

LOSS = np.array([0.0, 0.5, 1.0, 2.0, 5.0, 25.0])
DIFF = np.array([-2.0, -0.5, 0.0, 0.5, 1.0, 4.0])


def weights(name, loss=LOSS, diff=DIFF, label=0.0, epoch=50.0, **hparams):
  return curricula.CURRICULA[name].weights(loss, diff, label, epoch, **hparams)


def test_names_and_fields():
  assert set(curricula.CURRICULA) == {
      "baseline", "self_paced", "hard_example_mining", "focal_loss", "spcl_linear",
      "closed_form", "prediction_variance", "temporal_mixture", "mentornet_pd"}
  with_g = {n for n, c in curricula.CURRICULA.items() if c.regularizer_fn is not None}
  assert with_g == {"self_paced", "spcl_linear", "closed_form"}
  binary = {n for n, c in curricula.CURRICULA.items() if c.binary}
  assert binary == {"self_paced", "hard_example_mining", "temporal_mixture"}


def test_baseline_self_paced_hard_mining():
  np.testing.assert_array_equal(weights("baseline"), np.ones(6))
  np.testing.assert_array_equal(weights("self_paced"), [1, 1, 1, 0, 0, 0])
  np.testing.assert_array_equal(weights("self_paced", lambda1=0.5), [1, 1, 1, 1, 0, 0])
  np.testing.assert_array_equal(weights("hard_example_mining"), [0, 0, 1, 1, 1, 1])
  # The original's label branch: label > 0 is always "hard".
  np.testing.assert_array_equal(weights("hard_example_mining", label=1.0), np.ones(6))


def test_focal_loss_gamma_is_really_applied():
  base = 1.0 - np.exp(-LOSS)
  np.testing.assert_allclose(weights("focal_loss"), base ** 2, rtol=1e-12)  # default gamma 2
  for gamma in (0.5, 1.0, 3.0):
    np.testing.assert_allclose(weights("focal_loss", gamma=gamma), base ** gamma, rtol=1e-12)
  assert weights("focal_loss", gamma=1.0)[2] == pytest.approx(1 - np.exp(-1))
  assert weights("focal_loss", gamma=3.0)[2] == pytest.approx((1 - np.exp(-1)) ** 3)


def test_spcl_linear():
  np.testing.assert_allclose(weights("spcl_linear"), [1, 1, 1, 0.5, 0, 0])
  np.testing.assert_allclose(weights("spcl_linear", gamma=2.0), [1, 1, 1, 0.75, 0.5, 0])
  with pytest.raises(ValueError, match="gamma"):
    weights("spcl_linear", gamma=0.0)


def test_closed_form_both_branches_of_eq7():
  # lambda2 = 0: v* = 1[loss <= lambda1] (self-paced, Eq. 2).
  np.testing.assert_array_equal(weights("closed_form", lambda1=1.0, lambda2=0.0),
                                [1, 1, 1, 0, 0, 0])
  # lambda2 != 0: v* = min(max(0, 1 - (loss - lambda1) / lambda2), 1).
  np.testing.assert_allclose(weights("closed_form", lambda1=0.5, lambda2=2.0),
                             [1, 1, 0.75, 0.25, 0, 0])
  # Samples with loss >= lambda1 + lambda2 are never selected.
  assert weights("closed_form", loss=np.array([2.5]), lambda1=0.5, lambda2=2.0)[0] == 0.0
  with pytest.raises(ValueError, match="lambda2"):
    weights("closed_form", lambda1=0.0, lambda2=-1.0)


@pytest.mark.parametrize("name,hparams", [
    ("closed_form", {"lambda1": 0.5, "lambda2": 2.0}),
    ("closed_form", {"lambda1": 1.0, "lambda2": 0.0}),
    ("spcl_linear", {"gamma": 1.5}),
    ("self_paced", {"lambda1": 0.3}),
])
def test_weight_is_the_argmin_of_the_objective(name, hparams):
  """Eq. 7 is the minimiser over v in [0, 1] of Eq. 6, v * x + G(v) (brute force over a v grid)."""
  curriculum = curricula.CURRICULA[name]
  x = np.random.default_rng(0).uniform(-3, 6, size=200)
  x = x[np.abs(x - hparams.get("lambda1", 0.0)) > 1e-3]  # at the self-paced tie any v is optimal
  v_grid = np.linspace(0, 1, 2001)
  values = curriculum_objective.objective(v_grid[None, :], x[:, None], name, **hparams)
  argmin = v_grid[np.argmin(values, axis=1)]
  loss, diff = (x, np.zeros_like(x)) if curriculum.objective_input == "loss" else (x + 10, x)
  np.testing.assert_allclose(curriculum.weights(loss, diff, 0.0, 50.0, **hparams), argmin,
                             atol=1e-3)


def test_objective_values_and_errors():
  # Eq. 5 per example: v*l + 0.5*l2*v^2 - (l1+l2)*v.
  value = curriculum_objective.objective(np.array([0.5]), np.array([2.0]), "closed_form",
                                         lambda1=1.0, lambda2=3.0)
  np.testing.assert_allclose(value, [0.5 * 2 + 0.5 * 3 * 0.25 - 4 * 0.5])
  np.testing.assert_allclose(curriculum_objective.objective(np.array([1.0]), np.array([2.0]),
                                                            "self_paced", lambda1=0.5), [1.5])
  with pytest.raises(ValueError, match="no known G"):
    curriculum_objective.objective(np.array([0.5]), np.array([1.0]), "focal_loss")
  with pytest.raises(ValueError, match="no hyper-parameter gamma"):
    curriculum_objective.objective(np.array([0.5]), np.array([1.0]), "self_paced", gamma=1.0)
  with pytest.raises(ValueError, match="unknown curriculum"):
    curricula.get("nope")


def test_mentornet_pd_epoch_boundaries():
  loss, diff = np.array([1.0, 1.0, 1.0]), np.array([-1.0, 0.5, 2.0])
  for epoch, expected in [(0, [1, 1, 1]), (18, [1, 1, 1]), (19, [1, 0, 0]), (89, [1, 0, 0]),
                          (90, [1, 0.5, 0]), (99, [1, 0.5, 0])]:
    np.testing.assert_allclose(weights("mentornet_pd", loss, diff, epoch=float(epoch)), expected,
                               err_msg=f"epoch {epoch}")
  np.testing.assert_allclose(weights("mentornet_pd", loss, diff, epoch=95.0, gamma=4.0),
                             [1, 0.875, 0.5])


def test_temporal_mixture():
  diff = np.array([-1.0, 1.0])
  np.testing.assert_array_equal(weights("temporal_mixture", np.ones(2), diff, epoch=49.0), [1, 0])
  np.testing.assert_array_equal(weights("temporal_mixture", np.ones(2), diff, epoch=50.0), [0, 1])
  per_row = weights("temporal_mixture", np.ones(2), np.array([-1.0, -1.0]),
                    epoch=np.array([10.0, 70.0]))
  np.testing.assert_array_equal(per_row, [1, 0])


def test_prediction_variance():
  steady = np.full([2, 10], 0.7)
  swinging = np.tile([0.2, 1.0], [2, 5])
  v = weights("prediction_variance", np.ones(2), np.zeros(2), history=steady)
  np.testing.assert_allclose(v, [0.05, 0.05])  # zero variance -> epsilon only
  v_swing = weights("prediction_variance", np.ones(2), np.zeros(2), history=swinging, epsilon=0.0)
  var = np.var(np.exp(-np.array([0.2, 1.0])))  # Chang et al.'s corrected std over H = 10
  np.testing.assert_allclose(v_swing, 2 * np.sqrt(var + var ** 2 / 9), rtol=1e-6)
  saturated = weights("prediction_variance", np.ones(1), np.zeros(1),
                      history=np.tile([0.0, 9.0], [1, 5]))
  np.testing.assert_array_equal(saturated, [1.0])  # 2 * std + epsilon is clipped to 1
  # 4-feature mapping: a two-epoch history (loss - loss_diff, loss), previous loss clipped at 0.
  loss, diff = np.array([2.0, 0.5, 1.0]), np.array([1.0, 3.0, 0.0])
  explicit = weights("prediction_variance", loss, diff,
                     history=np.stack([np.maximum(loss - diff, 0), loss], axis=1))
  np.testing.assert_allclose(weights("prediction_variance", loss, diff), explicit, rtol=1e-12)
  assert np.all((explicit >= 0) & (explicit <= 1))


@pytest.mark.parametrize("name", sorted(curricula.CURRICULA))
def test_numpy_and_tensorflow_agree(name):
  rng = np.random.default_rng(1)
  loss = rng.uniform(0, 10, 64)
  diff = rng.uniform(-5, 5, 64)
  epoch = rng.integers(0, 100, 64).astype(np.float64)
  curriculum = curricula.CURRICULA[name]
  expected = curriculum.weights(loss, diff, np.zeros(64), epoch)
  assert isinstance(expected, np.ndarray) and expected.shape == (64,)
  assert np.all((expected >= 0) & (expected <= 1))
  eager = curriculum.weights(tf.constant(loss, tf.float32), tf.constant(diff, tf.float32), 0.0,
                             tf.constant(epoch, tf.float32))
  assert tf.is_tensor(eager) and eager.dtype == tf.float32
  graph = tf.function(lambda l, d, e: curriculum.weights(l, d, 0.0, e))(
      tf.constant(loss, tf.float32), tf.constant(diff, tf.float32), tf.constant(epoch, tf.float32))
  np.testing.assert_allclose(eager.numpy(), expected, atol=1e-5)
  np.testing.assert_allclose(graph.numpy(), expected, atol=1e-5)


def test_objective_on_tensors_is_differentiable():
  v = tf.Variable([0.2, 0.9])
  with tf.GradientTape() as tape:
    value = tf.reduce_sum(curriculum_objective.objective(v, tf.constant([0.5, 3.0]),
                                                         "spcl_linear", gamma=2.0))
  # d/dv (v*x + 0.5*g*v^2 - g*v) = x + g*v - g.
  np.testing.assert_allclose(tape.gradient(value, v).numpy(), [0.5 + 0.4 - 2, 3.0 + 1.8 - 2],
                             rtol=1e-6)
