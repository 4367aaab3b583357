"""Raw sources: embedded sets, fake data, original TF1 TFRecords, prepared tfds directories."""
import importlib.resources
import importlib.resources.abc  # noqa: F401  (used through the alias below)
import os
import sys
import time

import numpy as np
import pytest
import tensorflow as tf

from mentornet_tf.config import DataConfig
from mentornet_tf.data import pipeline
from mentornet_tf.data import sources


def _collect(dataset):
  examples = list(dataset.as_numpy_iterator())
  return (np.stack([e["image"] for e in examples]), np.array([e["label"] for e in examples]),
          np.array([e["id"] for e in examples]))


# ----------------------------------------------------------------------------- embedded and fake

def test_mnist5k_split_sizes_balance_and_cache():
  config = DataConfig(dataset_name="mnist5k")
  train_x, train_y = sources.load_arrays(config, "train")
  test_x, test_y = sources.load_arrays(config, "test")
  assert train_x.shape == (4000, 28, 28, 1) and test_x.shape == (1000, 28, 28, 1)
  assert train_x.dtype == np.uint8 and train_x.max() == 255
  np.testing.assert_array_equal(np.bincount(train_y), 400)  # 500 per class, stratified
  np.testing.assert_array_equal(np.bincount(test_y), 100)
  start = time.perf_counter()
  assert sources.load_arrays(config, "train")[0] is train_x  # parsed once per process
  assert time.perf_counter() - start < 0.1
  info = pipeline.dataset_info(config)
  assert (info.num_train, info.num_test, info.image_shape, info.num_classes) == (
      4000, 1000, (28, 28, 1), 10)


def test_digits_split_sizes_balance_and_scale():
  config = DataConfig(dataset_name="digits")
  train_x, train_y = sources.load_arrays(config, "train")
  test_x, test_y = sources.load_arrays(config, "test")
  assert train_x.shape == (1297, 8, 8, 1) and test_x.shape == (500, 8, 8, 1)
  assert train_x.min() == 0.0 and train_x.max() == 255.0  # 0..16 scaled by 255/16
  assert np.bincount(test_y).min() >= 47 and np.bincount(test_y).max() <= 52  # 174..183 per class
  assert np.bincount(train_y).min() >= 120
  images, labels, ids = _collect(sources.open_split(config, "test"))
  np.testing.assert_array_equal(images, test_x)
  np.testing.assert_array_equal(labels, test_y)
  np.testing.assert_array_equal(ids, np.arange(500))


def test_fake_is_deterministic_and_shaped_by_the_config():
  config = DataConfig(dataset_name="fake", fake_num_train=40, fake_num_test=12,
                      fake_image_shape=(6, 5, 2), fake_num_classes=4)
  images, labels = sources.load_arrays(config, "train")
  assert images.shape == (40, 6, 5, 2) and images.dtype == np.uint8
  np.testing.assert_array_equal(np.bincount(labels), 10)
  sources._fake_arrays.cache_clear()  # pylint: disable=protected-access
  again, _ = sources.load_arrays(config, "train")
  np.testing.assert_array_equal(images, again)
  assert sources.load_arrays(config, "test")[0].shape == (12, 6, 5, 2)
  shard = _collect(sources.open_split(config, "train", num_shards=3, shard_index=1))
  np.testing.assert_array_equal(shard[2], np.arange(1, 40, 3))


# ----------------------------------------------------------------------------- original TFRecords

def _example(image, label_features):
  feature = {"image/encoded": tf.train.Feature(bytes_list=tf.train.BytesList(
                 value=[tf.io.encode_png(image).numpy()])),
             "image/format": tf.train.Feature(bytes_list=tf.train.BytesList(value=[b"png"]))}
  for key, value in label_features.items():
    feature[key] = tf.train.Feature(int64_list=tf.train.Int64List(value=[value]))
  return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


def _write_original(directory, name, split, images, labels, num_files, label_key=None):
  """Writes `{name}_{split}-0000i-of-0000n` files as the original TF1 converters did."""
  os.makedirs(directory, exist_ok=True)
  label_key = label_key or ("image/class/label" if name == "cifar10" else "image/class/fine_label")
  chunks = np.array_split(np.arange(len(labels)), num_files)
  for index, chunk in enumerate(chunks):
    path = os.path.join(directory, f"{name}_{split}-{index:05d}-of-{num_files:05d}")
    with tf.io.TFRecordWriter(path) as writer:
      for i in chunk:
        features = {label_key: int(labels[i])}
        if name == "cifar100":
          features["image/class/coarse_label"] = int(labels[i]) // 5
        writer.write(_example(images[i], features))
  return [os.path.join(directory, f"{name}_{split}-{i:05d}-of-{num_files:05d}")
          for i in range(num_files)]


def _cifar_like(count, classes, seed=0):
  rng = np.random.default_rng(seed)
  return (rng.integers(0, 256, size=(count, 32, 32, 3)).astype(np.uint8),
          rng.integers(0, classes, size=count))


def test_original_cifar10_tfrecords(tmp_path):
  train_x, train_y = _cifar_like(9, 10)
  test_x, test_y = _cifar_like(4, 10, seed=1)
  _write_original(tmp_path / "0.4", "cifar10", "train", train_x, train_y, num_files=2)
  _write_original(tmp_path / "val", "cifar10", "test", test_x, test_y, num_files=1)
  config = DataConfig(dataset_name="cifar10", data_dir=str(tmp_path / "0.4"),
                      test_data_dir=str(tmp_path / "val"))
  assert sources.resolve_format(config, "train") == "tfrecord"
  images, labels, ids = _collect(sources.open_split(config, "train"))
  np.testing.assert_array_equal(images, train_x)  # PNG is lossless; ids follow file order
  np.testing.assert_array_equal(labels, train_y)
  np.testing.assert_array_equal(ids, np.arange(9))
  images, labels, _ = _collect(sources.open_split(config, "test"))
  np.testing.assert_array_equal(images, test_x)
  info = pipeline.dataset_info(config)
  assert (info.num_train, info.num_test, info.num_classes) == (9, 4, 10)
  shard = _collect(sources.open_split(config, "train", num_shards=2, shard_index=1))
  np.testing.assert_array_equal(shard[2], [1, 3, 5, 7])
  np.testing.assert_array_equal(shard[0], train_x[1::2])
  # End to end: the stored label is both 'label' and 'clean_label' when noise_fraction is 0.
  batch = next(iter(pipeline.build_eval_dataset(config, "resnet", split="train", batch_size=9)))
  np.testing.assert_array_equal(batch["label"], train_y)
  np.testing.assert_array_equal(batch["clean_label"], train_y)
  assert batch["image"].shape == (9, 32, 32, 3)


def test_tfrecord_scan_runs_eagerly_inside_tf_function(tmp_path):
  """ParameterServerStrategy traces dataset functions: the per-file scan must still work."""
  images, labels = _cifar_like(6, 10)
  _write_original(tmp_path, "cifar10", "train", images, labels, num_files=2)
  config = DataConfig(dataset_name="cifar10", data_dir=str(tmp_path), batch_size=6)
  first_ids = tf.function(
      lambda: next(iter(pipeline.build_train_dataset(config, "resnet", seed=1)))["id"])()
  np.testing.assert_array_equal(np.sort(first_ids.numpy()), np.arange(6))


def test_original_cifar100_fine_label(tmp_path):
  train_x, train_y = _cifar_like(6, 100)
  train_y[0] = 99
  _write_original(tmp_path, "cifar100", "train", train_x, train_y, num_files=3)
  config = DataConfig(dataset_name="cifar100", data_dir=str(tmp_path), data_format="tfrecord")
  images, labels, ids = _collect(sources.open_split(config, "train"))
  np.testing.assert_array_equal(labels, train_y)
  np.testing.assert_array_equal(images, train_x)
  assert sources.count_examples(config, "train") == 6


def test_corrupt_record_file_is_named(tmp_path):
  images, labels = _cifar_like(4, 10)
  files = _write_original(tmp_path, "cifar10", "train", images, labels, num_files=2)
  data = open(files[1], "rb").read()
  with open(files[1], "wb") as handle:
    handle.write(data[:-20])  # truncated
  config = DataConfig(dataset_name="cifar10", data_dir=str(tmp_path))
  with pytest.raises(sources.CorruptDataError, match="cifar10_train-00001-of-00002"):
    sources.open_split(config, "train")


def test_undecodable_image_is_named(tmp_path):
  os.makedirs(tmp_path, exist_ok=True)
  path = tmp_path / "cifar10_train-00000-of-00001"
  feature = {"image/encoded": tf.train.Feature(bytes_list=tf.train.BytesList(value=[b"no png"])),
             "image/class/label": tf.train.Feature(int64_list=tf.train.Int64List(value=[1]))}
  with tf.io.TFRecordWriter(str(path)) as writer:
    writer.write(tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString())
  config = DataConfig(dataset_name="cifar10", data_dir=str(tmp_path))
  with pytest.raises(sources.CorruptDataError, match="cifar10_train-00000-of-00001"):
    pipeline.build_train_dataset(config, "resnet")


def test_label_out_of_range_names_dataset_and_classes(tmp_path):
  images, labels = _cifar_like(3, 10)
  labels[2] = 12
  _write_original(tmp_path, "cifar10", "train", images, labels, num_files=1)
  config = DataConfig(dataset_name="cifar10", data_dir=str(tmp_path))
  with pytest.raises(sources.LabelRangeError, match=r"cifar10 has 10 classes.*12\]"):
    pipeline.dataset_info(config)


def test_cifar100_records_read_as_cifar10_name_the_missing_key(tmp_path):
  images, labels = _cifar_like(2, 10)
  _write_original(tmp_path, "cifar10", "train", images, labels, num_files=1,
                  label_key="image/class/fine_label")
  config = DataConfig(dataset_name="cifar10", data_dir=str(tmp_path))
  with pytest.raises(sources.CorruptDataError, match="image/class/label"):
    sources.count_examples(config, "train")


# ---------------------------------------------------------------------- tfds and missing data

def _write_tfds(data_dir, count=12):
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  # tfds 4.9.10 imports the `importlib_resources` backport in download_and_prepare even on
  # Python >= 3.9, where the standard library module is the same thing.
  sys.modules.setdefault("importlib_resources", importlib.resources)
  images, labels = _cifar_like(count, 10, seed=3)
  images[:, 0, 0, 0] = np.arange(count)  # a marker to recognise each image after tfds shuffles
  features = tfds.features.FeaturesDict({"image": tfds.features.Image(shape=(32, 32, 3)),
                                         "label": tfds.features.ClassLabel(num_classes=10)})
  split = lambda x, y: tf.data.Dataset.from_tensor_slices({"image": x, "label": y})
  builder = tfds.dataset_builders.TfDataBuilder(
      name="cifar10", version="3.0.2", data_dir=str(data_dir), features=features,
      split_datasets={"train": split(images, labels), "test": split(images[:5], labels[:5])})
  builder.download_and_prepare()
  return images, labels


def test_tfds_prepared_directory_is_read_without_download(tmp_path):
  images, labels = _write_tfds(tmp_path)
  for data_format in ("auto", "tfds"):
    config = DataConfig(dataset_name="cifar10", data_dir=str(tmp_path), data_format=data_format)
    assert sources.resolve_format(config, "train") == "tfds"
    read_images, read_labels, ids = _collect(sources.open_split(config, "train"))
    np.testing.assert_array_equal(ids, np.arange(12))
    markers = read_images[:, 0, 0, 0]
    assert sorted(markers.tolist()) == list(range(12))
    np.testing.assert_array_equal(read_images, images[markers])
    np.testing.assert_array_equal(read_labels, labels[markers])
  again = _collect(sources.open_split(config, "train"))[0][:, 0, 0, 0]
  np.testing.assert_array_equal(again, markers)  # the read order (= ids) is stable
  shard = _collect(sources.open_split(config, "train", num_shards=2, shard_index=0))
  np.testing.assert_array_equal(shard[2], np.arange(0, 12, 2))
  info = pipeline.dataset_info(config)
  assert (info.num_train, info.num_test, info.image_shape) == (12, 5, (32, 32, 3))
  wrong = DataConfig(dataset_name="cifar100", data_dir=str(tmp_path / "cifar10" / "3.0.2"))
  with pytest.raises(sources.LabelRangeError, match="cifar100 has 100 classes"):
    sources.count_examples(wrong, "train")


def test_missing_data_says_how_to_prepare(tmp_path):
  config = DataConfig(dataset_name="cifar10", data_dir=str(tmp_path / "nowhere"))
  with pytest.raises(FileNotFoundError, match=r"--data_dir=.*nowhere.*tfds build cifar10"):
    pipeline.build_train_dataset(config, "resnet")
  os.makedirs(tmp_path / "empty")
  config = DataConfig(dataset_name="cifar10", data_dir=str(tmp_path / "empty"),
                      data_format="tfrecord")
  with pytest.raises(sources.DataNotFoundError, match=r"cifar10_train-\*"):
    pipeline.dataset_info(config)
  images, labels = _cifar_like(2, 10)
  _write_original(tmp_path / "train", "cifar10", "train", images, labels, num_files=1)
  config = DataConfig(dataset_name="cifar10", data_dir=str(tmp_path / "train"),
                      test_data_dir=str(tmp_path / "empty"))
  with pytest.raises(sources.DataNotFoundError, match="--test_data_dir="):
    pipeline.dataset_info(config)


def test_first_record_of_every_file_is_decoded_and_shape_checked(tmp_path):
  """A 0-byte file, an undecodable first image, a wrong shape: each names the file (cheaply)."""
  images, labels = _cifar_like(4, 10)
  cases = {"empty": r"-00001-of-00002: the file is empty \(0 bytes\)",
           "undecodable": r"-00001-of-00002: its first record cannot be read or decoded "
                          r"\(Unknown image file format",
           "shape": r"-00001-of-00002: its first image decodes to shape \(28, 28, 3\), not "
                    r"\(32, 32, 3\)"}
  for damage, message in cases.items():
    directory = tmp_path / damage
    files = _write_original(directory, "cifar10", "train", images, labels, num_files=2)
    if damage == "empty":
      open(files[1], "wb").close()
    else:
      encoded = b"no png" if damage == "undecodable" else tf.io.encode_png(
          np.zeros([28, 28, 3], np.uint8)).numpy()
      feature = {"image/encoded": tf.train.Feature(bytes_list=tf.train.BytesList(value=[encoded])),
                 "image/class/label": tf.train.Feature(int64_list=tf.train.Int64List(value=[1]))}
      with tf.io.TFRecordWriter(files[1]) as writer:
        writer.write(tf.train.Example(
            features=tf.train.Features(feature=feature)).SerializeToString())
    config = DataConfig(dataset_name="cifar10", data_dir=str(directory))
    with pytest.raises(sources.CorruptDataError, match=message):
      sources.count_examples(config, "train")  # what validation (dataset_info) calls


@pytest.mark.slow  # ~5-12 s: a whole training run or a fresh TF process
def test_tfrecord_scan_runs_no_eager_op(tmp_path):
  """Scanning TFRecords leaves TF's devices unconfigured (a private graph and session)."""
  import subprocess  # pylint: disable=g-import-not-at-top
  import sys  # pylint: disable=g-import-not-at-top
  images, labels = _cifar_like(4, 10)
  _write_original(tmp_path, "cifar10", "train", images, labels, num_files=2)
  repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  code = ("import sys, mentornet_tf, tensorflow as tf\n"
          "from mentornet_tf.config import DataConfig\n"
          "from mentornet_tf.data import sources\n"
          "config = DataConfig(dataset_name='cifar10', data_dir=sys.argv[1])\n"
          "print('COUNT', sources.count_examples(config, 'train'))\n"
          "cpu = tf.config.list_physical_devices('CPU')[0]\n"
          "tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()]"
          " * 2)\n"
          "print('CPUS', len(tf.config.list_logical_devices('CPU')))\n")
  result = subprocess.run([sys.executable, "-c", code, str(tmp_path)], cwd=repo,
                          capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, PYTHONPATH=repo))
  assert "COUNT 4" in result.stdout and "CPUS 2" in result.stdout, result.stderr[-2000:]


def test_one_training_run_scans_each_tfrecord_split_once(tmp_path, monkeypatch):
  """Validation, noise report, training and evaluation datasets share one resolved Source: each
  split's TFRecords are scanned once, and the DataConfig is resolved once."""
  from mentornet_tf import config as config_lib  # pylint: disable=g-import-not-at-top
  from mentornet_tf import train_lib  # pylint: disable=g-import-not-at-top
  from mentornet_tf.data import tfrecords  # pylint: disable=g-import-not-at-top
  train_x, train_y = _cifar_like(8, 10)
  test_x, test_y = _cifar_like(4, 10, seed=1)
  train_files = _write_original(tmp_path / "train", "cifar10", "train", train_x, train_y, 2)
  test_files = _write_original(tmp_path / "val", "cifar10", "test", test_x, test_y, 1)
  scanned, resolved = [], []
  scan_file, resolve = tfrecords.scan_file, sources.resolve
  monkeypatch.setattr(tfrecords, "scan_file",
                      lambda path, *args: scanned.append(path) or scan_file(path, *args))
  monkeypatch.setattr(sources, "resolve", lambda config: resolved.append(config) or resolve(config))
  config = config_lib.TrainConfig(
      data=config_lib.DataConfig(dataset_name="cifar10", data_dir=str(tmp_path / "train"),
                                 test_data_dir=str(tmp_path / "val"), batch_size=4,
                                 noise_fraction=0.2),
      student=config_lib.StudentConfig(studentnet="mlp"), optimizer="adam",
      learning_rate=0.001, lr_schedule="constant", max_number_of_steps=2, eval_interval=1,
      save_interval_secs=0, verbose=0, train_log_dir=str(tmp_path / "run"))
  info = train_lib.validate(config)
  assert sorted(scanned) == sorted(train_files + test_files)  # validation scans, once
  results = train_lib.run(config, info)
  assert sorted(scanned) == sorted(train_files + test_files)  # ... and nothing scans again
  assert len(resolved) == 1
  assert results["noise"]["num_examples"] == 8


def test_resolve_once_into_a_source(tmp_path, monkeypatch):
  """One Source per config: a registry entry per dataset name; each split resolved at first use
  (format, files), kept, and scanned at most once, whatever asks."""
  from mentornet_tf import names  # pylint: disable=g-import-not-at-top
  from mentornet_tf.data import tfrecords  # pylint: disable=g-import-not-at-top
  assert set(sources.SOURCES) == set(names.DATASETS)
  images, labels = _cifar_like(6, 10)
  files = _write_original(tmp_path, "cifar10", "train", images, labels, num_files=2)
  source = sources.resolve(DataConfig(dataset_name="cifar10", data_dir=str(tmp_path),
                                      noise_fraction=0.5, batch_size=3))
  assert (source.num_classes, source.image_shape, len(source.class_names)) == (10, (32, 32, 3), 10)
  train = source.split("train")
  assert source.split("train") is train and train.format == "tfrecord"
  assert train.files == tuple(files)
  scanned = []
  scan_file = tfrecords.scan_file
  monkeypatch.setattr(tfrecords, "scan_file",
                      lambda path, *args: scanned.append(path) or scan_file(path, *args))
  assert source.num_train == 6
  np.testing.assert_array_equal(train.labels()[0], labels)
  report = pipeline.training_noise_report(source)
  batch = next(iter(pipeline.build_train_eval_dataset(source, "none", batch_size=6)))
  assert report["num_flipped"] == int(np.sum(batch["label"].numpy() != labels))
  next(iter(pipeline.build_train_dataset(source, "resnet", seed=1)))
  assert scanned == files  # one scan per file for all of the above
  with pytest.raises(sources.DataNotFoundError, match="no cifar10 test split"):
    source.split("test")  # the test split is resolved only when asked for
  digits = sources.resolve(DataConfig(dataset_name="digits"))
  assert (digits.format("test"), digits.num_test, digits.split("test").files) == ("memory", 500, ())


def test_scan_decodes_every_image_and_names_the_record(tmp_path):
  """The one scan decodes every image (in batches): a bad image after the first batch is named."""
  images, labels = _cifar_like(300, 10)
  files = _write_original(tmp_path, "cifar10", "train", images, labels, num_files=1)
  records = [bytes(r) for r in tf.compat.v1.io.tf_record_iterator(files[0])]
  bad = {"image/encoded": tf.train.Feature(bytes_list=tf.train.BytesList(value=[b"no png"])),
         "image/class/label": tf.train.Feature(int64_list=tf.train.Int64List(value=[1]))}
  records[270] = tf.train.Example(features=tf.train.Features(feature=bad)).SerializeToString()
  with tf.io.TFRecordWriter(files[0]) as writer:
    for record in records:
      writer.write(record)
  config = DataConfig(dataset_name="cifar10", data_dir=str(tmp_path))
  with pytest.raises(sources.CorruptDataError, match=r"cifar10_train-00000-of-00001.*record 270"):
    pipeline.dataset_info(config)
