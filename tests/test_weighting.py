"""The weightings against a numpy reference of the original `utils.mentornet()` (Algorithm 1)."""
import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras

from mentornet_tf import config as config_lib
from mentornet_tf import schedules
from mentornet_tf.mentor import weighting as weighting_lib
from mentornet_tf.mentor.weighting import dropout
from mentornet_tf.mentor.weighting import statistics


class ConstantMentor(keras.Model):
  """A stand-in MentorNet: logit = a * loss_diff + b * epoch (records the features it saw)."""

  def __init__(self, a=-3.0, b=0.0):
    super().__init__()
    self.a, self.b = a, b
    self.seen = None

  def call(self, features, training=False):
    self.seen = features
    return tf.reshape(self.a * features[:, 1] + self.b * features[:, 3], [-1, 1])


def _reference_percentile(values, q):
  """TF1 'nearest': descending sort, index round_half_even((n-1)(1-q))."""
  desc = np.sort(values)[::-1]
  return desc[int(np.round((len(values) - 1) * (1 - q)))]


@pytest.mark.parametrize("q,ascending_index", [(.5, 63), (.6, 76), (.7, 89), (.75, 95), (.8, 102)])
def test_percentile_index_batch_128(q, ascending_index):
  values = tf.constant(np.arange(128, dtype=np.float32)[::-1].copy())  # value == ascending index
  assert float(statistics.tf1_percentile(values, q)) == ascending_index
  assert schedules.tf1_percentile_index(128, q) == ascending_index


def test_percentile_matches_reference_on_random_losses():
  rng = np.random.default_rng(0)
  for n in (7, 32, 100, 128):
    values = rng.exponential(size=n).astype(np.float32)
    for q in (0.1, 0.5, 0.7, 0.9):
      assert float(statistics.tf1_percentile(tf.constant(values), q)) == \
          _reference_percentile(values, q)


def test_epoch_percentage_mapping():
  layer = weighting_lib.UnitWeighting(_tables(39000), loss_p_percentile=0.7,
                                      loss_moving_average_decay=0.5)
  for step, expected in [(0, 0), (389, 0), (390, 1), (38999, 99), (39000, 99), (50000, 99)]:
    assert int(layer.epoch_percentage(tf.constant(step, tf.int64))) == expected
    assert schedules.epoch_percentage(step, 39000) == expected


@pytest.mark.parametrize("max_steps", [1, 7, 99, 100, 101, 1240, 39000])
def test_epoch_first_step_table_agrees_with_the_rule(max_steps):
  first = schedules.epoch_tables(max_steps, 0, False, "0.0,100").first_step
  steps = np.arange(0, max_steps + 3)
  in_graph = tf.searchsorted(tf.constant(first, tf.int64), tf.constant(steps), side="right") - 1
  np.testing.assert_array_equal(
      in_graph.numpy(), [schedules.epoch_percentage(s, max_steps) for s in steps])
  for e in range(1, 100):  # the first step of e is the first whose percentage reaches e
    assert schedules.epoch_percentage(first[e], max_steps) >= e
    assert first[e] == 0 or schedules.epoch_percentage(first[e] - 1, max_steps) < e


def test_epoch_tables_look_schedules_up_with_the_capped_epoch():
  tables = schedules.epoch_tables(1000, 18, True, "0.5,17,0.05,78,0.9,5")
  assert tables.cur_epoch[99] == 18 and tables.cur_epoch[10] == 10
  assert tables.dropout_rate[99] == 0.05 and tables.dropout_rate[16] == 0.5
  assert tables.forces_weight[16] and not tables.forces_weight[17]
  free = schedules.epoch_tables(1000, 18, False, "0.5,17,0.05,78,0.9,5")
  assert free.cur_epoch[99] == 99 and free.dropout_rate[99] == 0.9


@pytest.mark.parametrize("rate,kept", [(.5, 64), (.05, 121), (0.0, 128), (.9, 12), (1.0, 0)])
def test_dropout_counts_batch_128(rate, kept):
  scores = dropout.example_hash_scores(tf.range(128, dtype=tf.int64), 7, 0)
  mask = dropout.example_dropout_mask(scores, rate)
  assert int(tf.reduce_sum(mask)) == kept == int(128 * (1 - rate))


def test_dropout_is_uniform_and_depends_only_on_seed_step_id():
  ids = tf.range(128, dtype=tf.int64)
  counts = np.zeros(128)
  for step in range(400):
    counts += dropout.example_dropout_mask(
        dropout.example_hash_scores(ids, step, 3), 0.5).numpy()
  # Each example kept ~ Binomial(400, 0.5): mean 200, sd 10.
  assert abs(counts.mean() - 200) < 1e-9 and counts.min() > 150 and counts.max() < 250
  shuffled = tf.constant(np.random.default_rng(0).permutation(128), tf.int64)
  a = dropout.example_hash_scores(ids, 5, 3).numpy()
  b = dropout.example_hash_scores(shuffled, 5, 3).numpy()
  np.testing.assert_array_equal(a[shuffled.numpy()], b)


def _tables(max_steps=1000, burn_in_epoch=0, fixed_epoch_after_burn_in=False,
            example_dropout_rates="0.5, 17, 0.05, 78, 1.0, 5"):
  return schedules.epoch_tables(max_steps, burn_in_epoch, fixed_epoch_after_burn_in,
                                example_dropout_rates)


def _weighting(loss_p_percentile=0.7, loss_moving_average_decay=0.5, **schedule):
  mentor = ConstantMentor()
  layer = weighting_lib.MentorNetWeighting(
      mentor, _tables(**schedule), loss_p_percentile=loss_p_percentile,
      loss_moving_average_decay=loss_moving_average_decay, seed=1)
  return layer, mentor


def test_moving_average_over_steps_matches_closed_form():
  layer, mentor = _weighting(loss_moving_average_decay=0.9, loss_p_percentile=0.7,
                             example_dropout_rates="0.0,100")
  rng = np.random.default_rng(1)
  expected_average = 0.0
  ids = tf.range(32, dtype=tf.int64)
  for step in range(3):
    losses = rng.exponential(size=32).astype(np.float32)
    out = layer(tf.constant(losses), ids, step)
    expected_average = 0.9 * expected_average + 0.1 * _reference_percentile(losses, 0.7)
    np.testing.assert_allclose(float(out.moving_average), expected_average, rtol=1e-6)
    # loss_diff uses the value AFTER this step's update; the MentorNet saw [loss, diff, 0, epoch].
    np.testing.assert_allclose(mentor.seen[:, 1].numpy(), losses - expected_average, rtol=1e-5,
                               atol=1e-6)
    np.testing.assert_array_equal(mentor.seen[:, 2].numpy(), 0.0)
    v = 1 / (1 + np.exp(3.0 * (losses - expected_average)))
    np.testing.assert_allclose(out.weights.numpy(), v, rtol=1e-5)


def test_moving_average_not_updated_outside_training():
  layer, _ = _weighting()
  layer(tf.ones([8]), tf.range(8, dtype=tf.int64), 0, training=False)
  assert float(layer.moving_average) == 0.0


def test_burn_in_boundaries():
  # burn_in_epoch=18: epochs 0..16 force v = 1, epoch 17 on uses the MentorNet (strict <).
  layer, _ = _weighting(burn_in_epoch=18, example_dropout_rates="0.0,100")
  losses = tf.constant(np.linspace(5, 10, 16), tf.float32)  # MentorNet gives v << 1 for these
  ids = tf.range(16, dtype=tf.int64)
  for epoch, forced in [(0, True), (16, True), (17, False), (50, False)]:
    out = layer(losses, ids, epoch * 10)  # 1000 steps -> 10 steps per epoch percentage
    assert int(out.epoch) == epoch
    assert bool(np.all(out.weights.numpy() == 1.0)) == forced
  layer0, _ = _weighting(burn_in_epoch=0, example_dropout_rates="0.0,100")
  assert not np.all(layer0(losses, ids, 0).weights.numpy() == 1.0)


def test_fixed_epoch_after_burn_in_caps_epoch_and_schedules():
  # DD mode: cur_epoch = min(epoch, 18); the dropout rate is looked up with cur_epoch, so the
  # schedule's last segment (rate 0.9 from epoch 95) is never reached (§7.3).
  layer, mentor = _weighting(burn_in_epoch=18, fixed_epoch_after_burn_in=True,
                             example_dropout_rates="0.5,17,0.05,78,0.9,5")
  out = layer(tf.ones([128]), tf.range(128, dtype=tf.int64), 990)  # epoch 99
  assert int(out.epoch) == 99 and int(out.cur_epoch) == 18
  np.testing.assert_allclose(float(out.dropout_rate), 0.05)
  assert int(np.sum(out.weights.numpy() > 0)) == 121
  np.testing.assert_array_equal(mentor.seen[:, 3].numpy(), 18.0)


def test_no_weighting_gives_ones_and_no_dropout():
  layer = weighting_lib.UnitWeighting(_tables(100, burn_in_epoch=0), loss_p_percentile=0.7,
                                      loss_moving_average_decay=0.5)
  out = layer(tf.random.uniform([64]), tf.range(64, dtype=tf.int64), 0)
  np.testing.assert_array_equal(out.weights.numpy(), 1.0)
  assert float(out.dropout_rate) == 0.5  # reported, not applied
  assert float(out.moving_average) > 0.0  # the statistics are still computed


def test_build_weighting_picks_the_class_from_the_config():
  def build(**mentor):
    return weighting_lib.build_weighting(config_lib.MentorConfig(**mentor), 1000,
                                         mentornet=ConstantMentor(), num_train=10, seed=2)

  assert type(build()) is weighting_lib.UnitWeighting
  mentornet = build(weighting="mentornet", update_mentornet_epochs=(1,), burn_in_epoch=5)
  assert type(mentornet) is weighting_lib.MentorNetWeighting and mentornet.seed == 2
  assert not mentornet.mentornet.trainable
  curriculum = build(weighting="curriculum", curriculum="self_paced", curriculum_lambda1=0.3)
  assert type(curriculum) is weighting_lib.CurriculumWeighting
  assert curriculum.weight_table.shape == (10,)
  assert curriculum._hparams == {"lambda1": 0.3}  # pylint: disable=protected-access
  spcl = build(weighting="curriculum", curriculum="spcl_linear", curriculum_update="closed_form")
  assert spcl._hparams == {"gamma": 1.0}  # pylint: disable=protected-access  (its own default)
  closed = build(weighting="curriculum", curriculum="focal_loss", curriculum_update="closed_form")
  assert closed.weight_table is None
  out = closed(tf.constant([0.1, 2.0]), tf.constant([0, 1], tf.int64), 0, training=False)
  assert out.weights.shape == (2,)
  with pytest.raises(ValueError, match="--trained_mentornet_dir"):
    weighting_lib.build_weighting(config_lib.MentorConfig(
        weighting="mentornet", update_mentornet_epochs=(1,), burn_in_epoch=5), 1000)
  with pytest.raises(ValueError, match="--curriculum=focal_loss has no known G"):
    build(weighting="curriculum", curriculum="focal_loss")


def test_moving_average_is_the_checkpointed_variable():
  layer, _ = _weighting()
  names = [v.name for v in layer.weights]
  assert any("loss_moving_average" in name for name in names), names
  assert not any(v.trainable for v in layer.weights)


def test_weighting_inside_tf_function_and_dynamic_batch():
  layer, _ = _weighting(example_dropout_rates="0.5,100")

  @tf.function(input_signature=[tf.TensorSpec([None], tf.float32),
                                tf.TensorSpec([None], tf.int64), tf.TensorSpec([], tf.int64)])
  def weights(loss, ids, step):
    return layer(loss, ids, step).weights

  for batch in (10, 128):
    v = weights(tf.random.uniform([batch]), tf.range(batch, dtype=tf.int64),
                tf.constant(3, tf.int64))
    assert int(np.sum(v.numpy() > 0)) == int(batch * 0.5)
