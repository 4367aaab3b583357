"""The two MentorNet DD options against collapse at high noise (WORKSPACE.md, "MentorNet DD at
high noise"): DD data at loss offsets (`--dd_loss_shifts`) and the weight floor cut
(`--min_example_weight`)."""
import numpy as np
import pytest
import tensorflow as tf

from mentornet_tf import config as config_lib
from mentornet_tf import schedules
from mentornet_tf.mentor import mentor_data
from mentornet_tf.mentor import weighting as weighting_lib
from test_weighting import ConstantMentor


def _dump(n=200, seed=0):
  rng = np.random.default_rng(seed)
  clean = rng.random(n) < 0.3
  noisy = np.where(clean, 1, 2)
  loss = np.where(clean, rng.uniform(0.5, 1.5, n), rng.uniform(1.8, 3.0, n))
  return np.stack([np.arange(n), np.full(n, 5), noisy, np.ones(n), loss], axis=1)


def test_loss_shifts_keep_loss_diff_and_target_and_move_the_loss():
  rows = _dump()
  threshold = np.percentile(rows[:, 4], 20)
  plain = np.concatenate(mentor_data.generate_data_driven(rows, percentile=20, seed=0))
  shifted = np.concatenate(mentor_data.generate_data_driven(rows, percentile=20, seed=0,
                                                            loss_shifts=4))
  # The original rows lie on loss_diff = loss - threshold.
  np.testing.assert_allclose(plain[:, 0] - plain[:, 1], threshold, rtol=1e-5)
  assert len(plain) == len(rows)
  # Shifted: offsets delta * threshold, delta in {-1, -0.5, 0, 0.5}; negative losses dropped.
  offsets = np.round((shifted[:, 0] - shifted[:, 1] - threshold) / threshold, 4)
  assert set(offsets) == {-1.0, -0.5, 0.0, 0.5}
  assert (shifted[:, 0] >= 0).all()
  expected = sum(int(np.sum(rows[:, 4] + d * threshold >= 0)) for d in (-1, -0.5, 0, 0.5))
  assert len(shifted) == expected
  # Each (loss_diff, target) pair of the original appears once per offset it survives.
  key = lambda a: sorted(zip(np.round(a[:, 1], 4), a[:, 4]))
  assert set(key(shifted)) == set(key(plain))
  assert mentor_data.generate_data_driven(rows, 20, loss_shifts=0)[0].shape == \
      mentor_data.generate_data_driven(rows, 20)[0].shape


def test_min_example_weight_zeroes_the_sigmoid_floor_only():
  tables = schedules.epoch_tables(1000, 0, False, "0.0,100")
  losses = tf.constant([0.1, 0.5, 1.0, 2.0, 3.0, 5.0], tf.float32)
  ids = tf.range(6, dtype=tf.int64)
  common = dict(loss_p_percentile=0.5, loss_moving_average_decay=0.0, seed=0)
  plain = weighting_lib.MentorNetWeighting(ConstantMentor(), tables, **common)
  cut = weighting_lib.MentorNetWeighting(ConstantMentor(), tables, min_weight=0.1, **common)
  v = plain(losses, ids, 500).weights.numpy()
  v_cut = cut(losses, ids, 500).weights.numpy()
  assert (v > 0).all() and (v < 0.1).any() and (v >= 0.1).any()
  np.testing.assert_array_equal(v_cut, np.where(v < 0.1, 0.0, v))


def test_the_options_reach_the_weighting_and_are_checked():
  mentor = config_lib.MentorConfig(weighting="mentornet", trained_mentornet_dir="x",
                                   min_example_weight=0.2)
  layer = weighting_lib.build_weighting(mentor, 1000, mentornet=ConstantMentor())
  assert layer.min_weight == 0.2
  with pytest.raises(config_lib.ConfigError, match="min_example_weight"):
    config_lib.MentorConfig(weighting="none", min_example_weight=0.1)
  with pytest.raises(config_lib.ConfigError, match="min_example_weight"):
    config_lib.MentorConfig(weighting="mentornet", trained_mentornet_dir="x",
                            min_example_weight=1.0)
  with pytest.raises(config_lib.ConfigError, match="dd_loss_shifts"):
    config_lib.MentorConfig(dd_loss_shifts=-1)
