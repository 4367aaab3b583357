"""Training and evaluation datasets: the element contract, epochs, determinism, clean subset."""
import numpy as np
import pytest
import tensorflow as tf

from mentornet_tf.config import DataConfig
from mentornet_tf.data import augment
from mentornet_tf.data import noise
from mentornet_tf.data import pipeline
from mentornet_tf.data import sources

FAKE = dict(dataset_name="fake", fake_num_train=100, fake_num_test=30, fake_image_shape=(8, 8, 3),
            noise_fraction=0.4, noise_seed=5, batch_size=16, shuffle_buffer=1000)


def _config(**overrides):
  return DataConfig(**dict(FAKE, **overrides))


def test_train_element_spec():
  dataset = pipeline.build_train_dataset(_config(), "resnet", seed=0)
  spec = dataset.element_spec
  assert set(spec) == {"image", "label", "clean_label", "id"}
  assert spec["image"].shape.as_list() == [16, 8, 8, 3] and spec["image"].dtype == tf.float32
  assert spec["label"].shape.as_list() == [16] and spec["label"].dtype == tf.int32
  assert spec["clean_label"].dtype == tf.int32 and spec["id"].dtype == tf.int64
  batch = next(iter(dataset))
  assert abs(float(tf.reduce_mean(batch["image"]))) < 1e-4  # per-image standardized


def test_per_replica_batch_with_input_context():
  context = tf.distribute.InputContext(num_input_pipelines=2, input_pipeline_id=1,
                                       num_replicas_in_sync=4)
  dataset = pipeline.build_train_dataset(_config(), "none", seed=0, input_context=context)
  assert dataset.element_spec["image"].shape.as_list() == [4, 8, 8, 3]
  ids = np.concatenate([b["id"].numpy() for b in dataset.take(20)])
  assert set(ids.tolist()) <= set(range(1, 100, 2))  # this pipeline's shard only


def test_each_epoch_is_a_permutation_and_labels_match():
  config = _config()
  dataset = pipeline.build_train_dataset(config, "cifarnet", seed=3)
  _, clean = sources.load_arrays(config, "train")
  expected_noisy = noise.corrupt_labels(clean, np.arange(100), 10, 0.4, "uniform", 5).numpy()
  # The stream is continuous (shuffle, repeat, then batch, as the original queue): a batch may
  # straddle two epochs, and elements [100 k, 100 (k + 1)) are one epoch.
  batches = list(dataset.take(19))  # 304 elements
  ids = np.concatenate([b["id"].numpy() for b in batches])
  for epoch in range(3):
    np.testing.assert_array_equal(np.sort(ids[epoch * 100:(epoch + 1) * 100]), np.arange(100))
  assert not np.array_equal(ids[:100], ids[100:200])  # reshuffled every epoch
  labels = np.concatenate([b["label"].numpy() for b in batches])
  np.testing.assert_array_equal(labels, expected_noisy[ids])
  np.testing.assert_array_equal(np.concatenate([b["clean_label"] for b in batches]), clean[ids])


def test_same_seed_same_stream_other_seed_other_order():
  config = _config()
  take = lambda seed: [{k: v.numpy() for k, v in b.items()}
                       for b in pipeline.build_train_dataset(config, "resnet", seed).take(3)]
  first, again, other = take(1), take(1), take(2)
  for a, b in zip(first, again):
    for key in a:
      np.testing.assert_array_equal(a[key], b[key])
  assert not np.array_equal(first[0]["id"], other[0]["id"])


def test_eval_dataset_is_finite_ordered_clean_and_standardized():
  config = _config()
  batches = list(pipeline.build_eval_dataset(config, "resnet", batch_size=8))
  assert [len(b["id"]) for b in batches] == [8, 8, 8, 6]  # remainder kept
  ids = np.concatenate([b["id"].numpy() for b in batches])
  np.testing.assert_array_equal(ids, np.arange(30))
  images, labels = sources.load_arrays(config, "test")
  np.testing.assert_array_equal(np.concatenate([b["label"] for b in batches]), labels)
  np.testing.assert_array_equal(np.concatenate([b["clean_label"] for b in batches]), labels)
  expected = augment.standardize(images[9]).numpy()
  np.testing.assert_allclose(batches[1]["image"][1], expected, atol=1e-5)
  scaled = next(iter(pipeline.build_eval_dataset(config, "none")))
  np.testing.assert_allclose(scaled["image"][0], images[0] / 255.0, atol=1e-6)


def test_train_eval_dataset_has_noisy_labels_in_id_order():
  config = _config()
  batches = list(pipeline.build_train_eval_dataset(config, "standardize"))
  ids = np.concatenate([b["id"].numpy() for b in batches])
  np.testing.assert_array_equal(ids, np.arange(100))
  _, clean = sources.load_arrays(config, "train")
  noisy = np.concatenate([b["label"].numpy() for b in batches])
  np.testing.assert_array_equal(np.concatenate([b["clean_label"] for b in batches]), clean)
  np.testing.assert_array_equal(noisy, noise.corrupt_labels(clean, ids, 10, 0.4, "uniform", 5))
  assert 0.2 < np.mean(noisy != clean) < 0.5
  report = pipeline.training_noise_report(config)
  assert report["num_flipped"] == int(np.sum(noisy != clean)) and report["num_examples"] == 100


def test_no_noise_keeps_labels():
  config = _config(noise_fraction=0.0)
  batch = next(iter(pipeline.build_train_dataset(config, "none")))
  np.testing.assert_array_equal(batch["label"], batch["clean_label"])


def test_dataset_info_and_bad_arguments():
  info = pipeline.dataset_info(_config())
  assert info == pipeline.DatasetInfo("fake", 10, (8, 8, 3), 100, 30)
  with pytest.raises(ValueError, match="augmentation"):
    pipeline.build_train_dataset(_config(), "auto")
  with pytest.raises(ValueError, match="split"):
    pipeline.build_eval_dataset(_config(), "none", split="validation")
  context = tf.distribute.InputContext(num_input_pipelines=4, input_pipeline_id=0)
  with pytest.raises(ValueError, match="input pipelines"):
    pipeline.build_train_dataset(_config(fake_num_train=3), "none", input_context=context)


def test_initial_step_resumes_the_stream_exactly():
  """A resumed run's stream equals the uninterrupted stream after the consumed batches."""
  from mentornet_tf.config import DataConfig
  config = DataConfig(dataset_name="fake", fake_num_train=50, fake_image_shape=(8, 8, 3),
                      batch_size=8, noise_fraction=0.4)
  full = list(pipeline.build_train_dataset(config, "resnet", seed=3).take(12))
  resumed = list(pipeline.build_train_dataset(config, "resnet", seed=3, initial_step=7).take(5))
  for a, b in zip(full[7:], resumed):
    for key in a:
      np.testing.assert_array_equal(a[key].numpy(), b[key].numpy())
