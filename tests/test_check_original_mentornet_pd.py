"""Tests of benchmarks/check_original_mentornet_pd.py on hand-made TF1 checkpoints."""
import importlib.util
import os

import numpy as np

import mentor_reference

_SCRIPT = os.path.join(os.path.dirname(__file__), os.pardir, "benchmarks",
                       "check_original_mentornet_pd.py")
_spec = importlib.util.spec_from_file_location("check_original_mentornet_pd", _SCRIPT)
check = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(check)


def _always_one_checkpoint(path):
  """A TF1 `mentornet_pd` whose logit is hugely positive everywhere, so v = 1."""
  weights = mentor_reference.random_tf1_weights(np.random.default_rng(0))
  weights["mentornet/Variable"] = np.zeros_like(weights["mentornet/Variable"])
  weights["mentornet/Variable_1"] = np.ones_like(weights["mentornet/Variable_1"])
  weights["mentornet/Variable_2"] = np.full_like(weights["mentornet/Variable_2"], 10.0)
  weights["mentornet/Variable_3"] = np.zeros_like(weights["mentornet/Variable_3"])
  return mentor_reference.write_tf1_checkpoint(path, weights)


def test_range_errors_per_epoch_range():
  epochs = np.array([0, 18, 19, 89, 90, 99], np.float32)
  v = np.array([1.0, 0.5, 0.0, 1.0, 0.25, 0.0])
  target = np.array([1.0, 1.0, 0.0, 0.0, 0.75, 0.0])
  rows = {name: (count, mse, mean_abs)
          for name, count, mse, mean_abs in check.range_errors(v, target, epochs)}
  assert rows["overall"][0] == 6
  np.testing.assert_allclose(rows["overall"][1], (0.25 + 1.0 + 0.25) / 6)
  burn_in, self_paced, spcl = (rows[name] for name, _, _ in check.EPOCH_RANGES)
  np.testing.assert_allclose([burn_in[0], burn_in[1], burn_in[2]], [2, 0.125, 0.25])
  np.testing.assert_allclose([self_paced[0], self_paced[1]], [2, 0.5])
  np.testing.assert_allclose([spcl[0], spcl[1]], [2, 0.125])


def test_constant_one_net_matches_burn_in_only(tmp_path, capsys):
  prefix = _always_one_checkpoint(str(tmp_path / "mentornet_pd"))
  check.main([prefix, "--sample_size=2000", "--seed=3"])
  out = capsys.readouterr().out
  assert "num_lstm_units=1" in out and "mentornet/Variable " in out

  from mentornet_tf.mentor import storage  # pylint: disable=g-import-not-at-top
  model, _ = storage.load_mentornet(prefix)
  features, target = check.sample_grid(2000, 3)
  v = check.predict_weights(model, features)
  np.testing.assert_allclose(v, 1.0)
  errors = {name: mse for name, _, mse, _ in check.range_errors(v, target, features[:, 3])}
  assert errors[check.EPOCH_RANGES[0][0]] == 0.0  # v* = 1 during burn-in
  np.testing.assert_allclose(errors["overall"], np.mean((1.0 - target) ** 2))
  assert errors[check.EPOCH_RANGES[1][0]] > 0.3  # self-paced drops about half the grid
