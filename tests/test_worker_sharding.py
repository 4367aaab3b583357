"""Per-worker sharding (issue 9 §1): under MultiWorkerMirrored (an InputContext per worker) and the
parameter server (`distribute._shard_by_worker`, the worker index a graph value) each input
pipeline reads its own examples; together the workers cover every id once, with the labels and
the noise of the unsharded pipeline. No cluster: the pipelines are built as each worker would."""
import numpy as np
import pytest
import tensorflow as tf

from mentornet_tf import distribute
from mentornet_tf.config import ConvertConfig, DataConfig
from mentornet_tf.data import convert
from mentornet_tf.data import noise
from mentornet_tf.data import pipeline
from mentornet_tf.data import sources
from test_image_files import write_filelist

NUM_TRAIN = 12


def _filelist(root):
  write_filelist(root, [f"img/{i:02d}.jpg {i % 3}" for i in range(NUM_TRAIN)])
  write_filelist(root, ["t/0.jpg 0"], name="test.txt")
  return DataConfig(dataset_name="filelist", data_dir=str(root), num_classes=3, image_size=8,
                    batch_size=2, noise_fraction=0.4, noise_seed=5)


def _source(kind, tmp_path):
  """(source, augmentation) of `kind`: in memory, image files, or converted shards."""
  if kind == "fake":
    config = DataConfig(dataset_name="fake", fake_num_train=NUM_TRAIN, fake_image_shape=(4, 4, 1),
                        fake_num_classes=3, batch_size=2, noise_fraction=0.4, noise_seed=5)
    return sources.resolve(config), "standardize"
  files = _filelist(tmp_path / "files")
  if kind == "files":
    return sources.resolve(files), "resnet_imagenet"
  per_shard = {"shards_6": 2, "shards_1": NUM_TRAIN}[kind]
  convert.convert(ConvertConfig(data=files, output_dir=str(tmp_path / "out"),
                                examples_per_shard=per_shard))
  config = DataConfig(dataset_name="tfrecord_shards", data_dir=str(tmp_path / "out"),
                      image_size=8, batch_size=2, noise_fraction=0.4, noise_seed=5)
  return sources.resolve(config), "resnet_imagenet"


def _one_epoch(dataset, size):
  """The first `size` elements of a pipeline's stream: one epoch of its shard."""
  return tf.data.Dataset.get_single_element(dataset.unbatch().take(size).batch(size))


def _check_cover(source, epochs):
  """Every id once over the workers (each worker's epoch without repeats), noise by id."""
  stored, _ = source.split("train").labels()
  expected_noisy = noise.corrupt_labels(stored, np.arange(NUM_TRAIN, dtype=np.int64),
                                        source.num_classes, 0.4, "uniform", 5).numpy()
  assert (expected_noisy != stored).any()  # the noise is there to compare
  seen = []
  for epoch in epochs:
    ids = epoch["id"].numpy()
    assert len(set(ids)) == len(ids), ids  # one epoch of a shard: no id twice
    np.testing.assert_array_equal(epoch["label"].numpy(), expected_noisy[ids])
    np.testing.assert_array_equal(epoch["clean_label"].numpy(), stored[ids])
    seen.append(set(ids.tolist()))
  assert sum(len(ids) for ids in seen) == NUM_TRAIN  # disjoint ...
  assert set().union(*seen) == set(range(NUM_TRAIN))  # ... and complete


@pytest.mark.parametrize("kind", ["fake", "files", "shards_6", "shards_1"])
@pytest.mark.parametrize("num_workers", [2, 3])
def test_multi_worker_pipelines_cover_every_id_once(tmp_path, kind, num_workers):
  source, augmentation = _source(kind, tmp_path)
  split = source.split("train")
  epochs = []
  for worker in range(num_workers):
    context = tf.distribute.InputContext(num_input_pipelines=num_workers,
                                         input_pipeline_id=worker, num_replicas_in_sync=1)
    dataset = pipeline.build_train_dataset(source, augmentation, seed=1, input_context=context)
    epochs.append(_one_epoch(dataset, split.shard_size(num_workers, worker)))
  _check_cover(source, epochs)
  if kind == "shards_6":  # whole files per worker: worker w reads files w, w + n, ...
    for worker, epoch in enumerate(epochs):
      files = split.files[worker::num_workers]
      in_files = {int(tf.train.Example.FromString(record.numpy()).features.feature["image/id"]
                      .int64_list.value[0]) for record in tf.data.TFRecordDataset(list(files))}
      assert set(epoch["id"].numpy().tolist()) == in_files


@pytest.mark.parametrize("kind", ["fake", "files", "shards_6"])
def test_parameter_server_workers_read_their_own_examples(tmp_path, kind):
  """The dataset function of `distribute_dataset` under parameter_server, traced with the worker
  index as a graph input, as the ClusterCoordinator runs it on each worker."""
  source, augmentation = _source(kind, tmp_path)
  split = source.split("train")
  num_workers = 3

  def dataset_fn(input_context=None):
    return pipeline.build_train_dataset(source, augmentation, seed=1, input_context=input_context)

  @tf.function
  def worker_epoch(worker_index):
    sharded_fn = distribute._shard_by_worker(  # pylint: disable=protected-access
        dataset_fn, num_workers, worker_index_fn=lambda: worker_index)
    dataset = sharded_fn(tf.distribute.InputContext(num_replicas_in_sync=1))
    size = split.shard_size(num_workers, worker_index)
    return tf.data.Dataset.get_single_element(dataset.unbatch().take(size).batch(NUM_TRAIN))

  epochs = [worker_epoch(tf.constant(worker, tf.int64)) for worker in range(num_workers)]
  assert [len(epoch["id"]) for epoch in epochs] == [
      split.shard_size(num_workers, worker) for worker in range(num_workers)]
  _check_cover(source, epochs)
  batch = next(iter(pipeline.build_train_dataset(source, augmentation, seed=1)))
  assert batch["image"].shape[0] == 2  # the per-step batch is the global one, as without
