"""Label corruption: determinism per (seed, id), realised rates, the three noise types."""
import json

import numpy as np
import pytest
import tensorflow as tf

from mentornet_tf.config import DataConfig
from mentornet_tf.data import noise
from mentornet_tf.data import pipeline
from mentornet_tf.data import sources

NUM_IDS = 20000


def _labels(num_classes=10):
  ids = np.arange(NUM_IDS, dtype=np.int64)
  return ids % num_classes, ids


def test_same_ids_give_same_labels_across_calls_and_shapes():
  clean, ids = _labels()
  first = noise.corrupt_labels(clean, ids, 10, 0.4, "uniform", 7).numpy()
  second = noise.corrupt_labels(clean, ids, 10, 0.4, "uniform", 7).numpy()
  np.testing.assert_array_equal(first, second)
  assert first.dtype == np.int32 and first.shape == clean.shape
  # A permuted, reshaped call gives each id the same label.
  order = np.random.default_rng(0).permutation(NUM_IDS)
  permuted = noise.corrupt_labels(clean[order].reshape(100, 200), ids[order].reshape(100, 200),
                                  10, 0.4, "uniform", 7).numpy()
  np.testing.assert_array_equal(permuted.reshape(-1), first[order])
  # Scalars, as inside a per-example tf.data map.
  scalar = noise.corrupt_labels(clean[123], ids[123], 10, 0.4, "uniform", 7)
  assert scalar.shape == () and int(scalar) == first[123]


def test_inside_tf_data_map_equals_eager():
  clean, ids = _labels()
  eager = noise.corrupt_labels(clean, ids, 10, 0.8, "flip", 3).numpy()
  dataset = tf.data.Dataset.from_tensor_slices((clean, ids)).map(
      lambda c, i: noise.corrupt_labels(c, i, 10, 0.8, "flip", 3), num_parallel_calls=2)
  mapped = np.concatenate([b.numpy() for b in dataset.batch(4096)])
  np.testing.assert_array_equal(mapped, eager)


def test_seed_changes_the_corruption():
  clean, ids = _labels()
  a = noise.corrupt_labels(clean, ids, 10, 0.4, "uniform", 0).numpy()
  b = noise.corrupt_labels(clean, ids, 10, 0.4, "uniform", 1).numpy()
  assert np.mean(a != b) > 0.3


@pytest.mark.parametrize("noise_type", ["uniform", "flip", "pairflip"])
@pytest.mark.parametrize("p", [0.2, 0.4, 0.8])
def test_realised_rate_matches_expected(noise_type, p):
  clean, ids = _labels()
  noisy = noise.corrupt_labels(clean, ids, 10, p, noise_type, 11).numpy()
  report = noise.noise_report(clean, noisy, p, noise_type, 10)
  expected = p * 0.9 if noise_type == "uniform" else p
  assert report["expected_flip_rate"] == pytest.approx(expected)
  # Binomial std at n=20000 is <= 0.0036: 4.5 sigma.
  assert abs(report["realised_flip_rate"] - expected) < 0.016
  flipped = noisy != clean
  if noise_type == "pairflip":
    np.testing.assert_array_equal(noisy[flipped], (clean[flipped] + 1) % 10)
  if noise_type in ("flip", "pairflip"):
    assert report["realised_flip_rate"] == pytest.approx(p, abs=0.016)
  # The corrupted labels are spread over the other classes (uniform / flip).
  if noise_type != "pairflip":
    offsets = np.bincount((noisy[flipped] - clean[flipped]) % 10, minlength=10)
    assert offsets[0] == 0
    assert offsets[1:].min() > 0.8 * offsets[1:].mean()


def test_uniform_may_keep_the_true_class_and_flip_never_does():
  clean, ids = _labels()
  uniform = noise.corrupt_labels(clean, ids, 10, 1.0, "uniform", 5).numpy()
  flip = noise.corrupt_labels(clean, ids, 10, 1.0, "flip", 5).numpy()
  assert np.mean(uniform == clean) == pytest.approx(0.1, abs=0.01)
  assert not np.any(flip == clean)
  np.testing.assert_array_equal(np.bincount(uniform, minlength=10) > 1800, True)


def test_zero_noise_is_identity_and_cifar100_rate():
  clean, ids = _labels(100)
  np.testing.assert_array_equal(noise.corrupt_labels(clean, ids, 100, 0.0, "uniform", 0), clean)
  noisy = noise.corrupt_labels(clean, ids, 100, 0.4, "uniform", 0).numpy()
  assert np.mean(noisy != clean) == pytest.approx(0.396, abs=0.016)
  assert noisy.min() >= 0 and noisy.max() <= 99


def test_noise_report_is_jsonable_and_counts():
  report = noise.noise_report([0, 1, 2, 2], [0, 2, 2, 1], 0.5, "flip", 3)
  assert json.loads(json.dumps(report)) == report
  assert report["num_flipped"] == 2 and report["realised_flip_rate"] == 0.5
  assert report["clean_counts"] == [1, 1, 2] and report["noisy_counts"] == [1, 1, 2]
  assert report["flipped_per_class"] == [0, 1, 1]


def test_bad_arguments_are_named():
  with pytest.raises(ValueError, match="noise_type"):
    noise.corrupt_labels([0], [0], 10, 0.2, "symmetric", 0)
  with pytest.raises(ValueError, match="noise_fraction"):
    noise.corrupt_labels([0], [0], 10, 1.5, "uniform", 0)
  with pytest.raises(ValueError, match=r"\[0, 3\)"):
    noise.noise_report([0, 3], [0, 1], 0.2, "uniform", 3)


def _pairs_from_training_streams(num_shards, global_batch, seed):
  """(id, noisy label) pairs seen in 4 epochs of every shard's training stream."""
  config = DataConfig(dataset_name="fake", fake_num_train=300, fake_image_shape=(4, 4, 1),
                      noise_fraction=0.4, noise_type="uniform", noise_seed=9,
                      batch_size=global_batch, shuffle_buffer=64)
  pairs = set()
  for index in range(num_shards):
    context = tf.distribute.InputContext(num_input_pipelines=num_shards, input_pipeline_id=index,
                                         num_replicas_in_sync=num_shards)
    dataset = pipeline.build_train_dataset(config, "none", seed=seed, input_context=context)
    batches = 4 * (300 // num_shards) // context.get_per_replica_batch_size(global_batch)
    for batch in dataset.take(batches):
      pairs.update(zip(batch["id"].numpy().tolist(), batch["label"].numpy().tolist()))
  return pairs


def test_noise_independent_of_shuffling_batching_and_sharding():
  reference = _pairs_from_training_streams(1, 32, seed=0)
  assert len(reference) == 300  # every id seen, each with exactly one label
  assert len({i for i, _ in reference}) == 300
  config = DataConfig(dataset_name="fake", fake_num_train=300, fake_image_shape=(4, 4, 1))
  _, clean = sources.load_arrays(config, "train")
  direct = noise.corrupt_labels(clean, np.arange(300), 10, 0.4, "uniform", 9).numpy()
  assert reference == set(zip(range(300), direct.tolist()))
  for shards, batch, seed in ((2, 24, 1), (3, 30, 2), (1, 50, 3)):
    assert _pairs_from_training_streams(shards, batch, seed) == reference


# ----------------------------------------------------------------------------- asymmetric noise

def test_asymmetric_cifar10_maps_exactly_the_named_classes():
  """truck -> automobile, bird -> airplane, deer -> horse, cat <-> dog; the others never move,
  and each named class moves at rate p (binomial tolerance)."""
  from mentornet_tf.data import class_maps  # pylint: disable=g-import-not-at-top
  names = class_maps.CIFAR10_CLASSES
  expected = {names.index(a): names.index(b) for a, b in (
      ("truck", "automobile"), ("bird", "airplane"), ("deer", "horse"), ("cat", "dog"),
      ("dog", "cat"))}
  assert expected == {9: 1, 2: 0, 4: 7, 3: 5, 5: 3}  # CIFAR-10's label order
  class_map = noise.class_map_for("asymmetric", "cifar10", 10)
  clean, ids = _labels()
  p = 0.4
  noisy = noise.corrupt_labels(clean, ids, 10, p, "asymmetric", 3, class_map).numpy()
  flipped = noisy != clean
  assert {(int(c), int(n)) for c, n in zip(clean[flipped], noisy[flipped])} == set(
      expected.items())
  per_class = NUM_IDS // 10
  tolerance = 4.5 * np.sqrt(p * (1 - p) / per_class)  # 4.5 binomial sigma (0.0156)
  for label in range(10):
    rate = flipped[clean == label].mean()
    assert (rate == 0.0) if label not in expected else abs(rate - p) < tolerance, (label, rate)
  report = noise.noise_report(clean, noisy, p, "asymmetric", 10, class_map)
  assert report["expected_flip_rate"] == pytest.approx(p / 2)  # 5 of 10 balanced classes move
  assert abs(report["realised_flip_rate"] - p / 2) < 4.5 * np.sqrt(p / 2 * (1 - p / 2) / NUM_IDS)
  # At p = 1 every named class moves, deterministically.
  all_moved = noise.corrupt_labels(np.arange(10), np.arange(10), 10, 1.0, "asymmetric", 0,
                                   class_map).numpy()
  np.testing.assert_array_equal(all_moved, class_map)


def test_asymmetric_cifar100_flips_to_the_next_class_of_the_superclass():
  from mentornet_tf.data import class_maps  # pylint: disable=g-import-not-at-top
  class_map = noise.class_map_for("asymmetric", "cifar100", 100)
  names = class_maps.CIFAR100_CLASSES
  assert len(names) == 100 and list(names) == sorted(names)  # CIFAR-100's (alphabetical) order
  members = [m for group in class_maps.CIFAR100_SUPERCLASSES.values() for m in group]
  assert sorted(members) == sorted(names)  # 20 superclasses of 5 cover every class once
  for group in class_maps.CIFAR100_SUPERCLASSES.values():
    ids = sorted(names.index(name) for name in group)
    # The next class within the superclass, cyclic: one cycle through all five.
    assert [int(class_map[i]) for i in ids] == ids[1:] + ids[:1]
  assert names[int(class_map[names.index("apple")])] == "mushroom"
  assert names[int(class_map[names.index("sweet_pepper")])] == "apple"
  clean, ids = _labels(100)
  noisy = noise.corrupt_labels(clean, ids, 100, 0.4, "asymmetric", 8, class_map).numpy()
  flipped = noisy != clean
  np.testing.assert_array_equal(noisy[flipped], class_map[clean[flipped]])
  assert abs(flipped.mean() - 0.4) < 4.5 * np.sqrt(0.4 * 0.6 / NUM_IDS)


def test_asymmetric_is_a_function_of_seed_and_id():
  class_map = noise.class_map_for("asymmetric", "cifar10", 10)
  clean, ids = _labels()
  first = noise.corrupt_labels(clean, ids, 10, 0.4, "asymmetric", 7, class_map).numpy()
  order = np.random.default_rng(1).permutation(NUM_IDS)
  permuted = noise.corrupt_labels(clean[order], ids[order], 10, 0.4, "asymmetric", 7,
                                  class_map).numpy()
  np.testing.assert_array_equal(permuted, first[order])
  # The decision draw is the one uniform noise uses: the same examples are picked.
  uniform = noise.corrupt_labels(clean, ids, 10, 0.4, "uniform", 7).numpy()
  decision = noise.corrupt_labels(clean, ids, 10, 0.4, "asymmetric", 7,
                                  np.roll(np.arange(10), 1)).numpy() != clean
  assert set(np.flatnonzero(uniform != clean)) <= set(np.flatnonzero(decision))
  other_seed = noise.corrupt_labels(clean, ids, 10, 0.4, "asymmetric", 8, class_map).numpy()
  assert np.mean(first != other_seed) > 0.2


def test_asymmetric_noise_through_the_pipeline_and_its_refusals():
  from mentornet_tf import config as config_lib  # pylint: disable=g-import-not-at-top
  from mentornet_tf.data import class_maps  # pylint: disable=g-import-not-at-top
  assert set(config_lib.ASYMMETRIC_NOISE_DATASETS) == set(class_maps.CLASS_MAPS)
  assert config_lib.NOISE_TYPES == noise.NOISE_TYPES
  config = DataConfig(dataset_name="digits", noise_fraction=0.4, noise_type="asymmetric",
                      noise_seed=4)
  report = pipeline.training_noise_report(config)
  _, clean = sources.load_arrays(config, "train")
  class_map = class_maps.CLASS_MAPS["digits"]  # 2 -> 7, 3 -> 8, 5 <-> 6, 7 -> 1
  assert [int(class_map[c]) for c in (2, 3, 5, 6, 7)] == [7, 8, 6, 5, 1]
  moved = class_map[clean] != clean
  assert report["expected_flip_rate"] == pytest.approx(0.4 * moved.mean())
  assert set(np.flatnonzero(report["flipped_per_class"])) <= {2, 3, 5, 6, 7}
  with pytest.raises(config_lib.ConfigError, match="--noise_type='asymmetric' is invalid: "
                     "asymmetric noise has class maps for --dataset_name=cifar10"):
    DataConfig(dataset_name="fake", noise_type="asymmetric")
  with pytest.raises(ValueError, match="class_map"):
    noise.corrupt_labels([0], [0], 10, 0.4, "asymmetric", 0)


def test_clean_subset_mask():
  ids = tf.range(20000, dtype=tf.int64)
  mask = noise.clean_subset_mask(ids, 0.1, seed=4)
  assert mask.dtype == tf.bool and mask.shape == ids.shape
  assert float(tf.reduce_mean(tf.cast(mask, tf.float32))) == pytest.approx(0.1, abs=0.008)
  shuffled = tf.random.shuffle(ids, seed=1)
  np.testing.assert_array_equal(noise.clean_subset_mask(shuffled, 0.1, 4),
                                tf.gather(mask, shuffled))
  assert not np.array_equal(mask, noise.clean_subset_mask(ids, 0.1, seed=5))
  assert not np.any(noise.clean_subset_mask(ids, 0.0, 4))
  assert np.all(noise.clean_subset_mask(ids, 1.0, 4))
  with pytest.raises(ValueError, match="clean_subset_fraction"):
    noise.clean_subset_mask(ids, 1.5, 4)
