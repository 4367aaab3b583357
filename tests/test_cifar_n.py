"""CIFAR-10N / CIFAR-100N (data/cifar_n.py) on tiny files in the real formats, written here: a
prepared tfds cifar10 / cifar100 (with its `id` feature, in a shuffled order), the torch-zip
`CIFAR-10_human.pt` (numpy arrays pickled inside, as the official file) and the tfds builders'
`CIFAR-100_human_ordered.npy` + `image_order_c100.npy`."""
import importlib.resources
import os
import pickle
import sys
import zipfile

import numpy as np
import pytest
import tensorflow as tf

from mentornet_tf import config as config_lib
from mentornet_tf.config import DataConfig
from mentornet_tf.data import cifar_n
from mentornet_tf.data import pipeline
from mentornet_tf.data import sources

NUM_TRAIN, NUM_TEST = 12, 4


def _prepare_cifar(data_dir, name, num_classes, clean, order):
  """A prepared tfds `name` whose training example at position i is CIFAR file index order[i]."""
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  sys.modules.setdefault("importlib_resources", importlib.resources)  # as tests/test_sources.py
  rng = np.random.default_rng(0)
  features = tfds.features.FeaturesDict({
      "id": tfds.features.Text(), "image": tfds.features.Image(shape=(32, 32, 3)),
      "label": tfds.features.ClassLabel(num_classes=num_classes)})

  def split(prefix, labels, indices):
    images = rng.integers(0, 256, size=(len(indices), 32, 32, 3)).astype(np.uint8)
    ids = [f"{prefix}_{index:05d}" for index in indices]
    return tf.data.Dataset.from_tensor_slices({"id": ids, "image": images,
                                               "label": labels[indices]})

  test_labels = np.arange(NUM_TEST) % num_classes
  builder = tfds.dataset_builders.TfDataBuilder(
      name=name, version="3.0.2", data_dir=str(data_dir), features=features,
      split_datasets={"train": split("train", clean, order),
                      "test": split("test", test_labels, np.arange(NUM_TEST))})
  builder.download_and_prepare()


def _write_pt(path, table, numpy1=True):
  """A torch.save zip archive of a dict of numpy arrays (what the official .pt files are)."""
  data = pickle.dumps(table, protocol=2)
  if numpy1:  # the official files were pickled under numpy 1.x
    data = data.replace(b"numpy._core.multiarray", b"numpy.core.multiarray")
  stem = os.path.splitext(os.path.basename(path))[0]
  with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
    archive.writestr(f"{stem}/data.pkl", data)
    archive.writestr(f"{stem}/version", "3\n")


@pytest.fixture
def cifar10n(tmp_path):
  rng = np.random.default_rng(1)
  clean = rng.integers(0, 10, NUM_TRAIN)
  table = {"clean_label": clean}
  for key in ("aggre_label", "worse_label", "random_label1", "random_label2", "random_label3"):
    noisy = clean.copy()
    flip = rng.random(NUM_TRAIN) < 0.5
    noisy[flip] = (clean[flip] + rng.integers(1, 10, flip.sum())) % 10
    table[key] = noisy
  order = rng.permutation(NUM_TRAIN)  # the prepared files' order is not the file order
  _prepare_cifar(tmp_path, "cifar10", 10, clean, order)
  labels_dir = tmp_path / "cifar_n"
  labels_dir.mkdir()
  _write_pt(str(labels_dir / "CIFAR-10_human.pt"), table)
  return tmp_path, labels_dir, table


def _train_examples(config):
  info = pipeline.dataset_info(config)
  return info, list(info.source.open("train").as_numpy_iterator())


@pytest.mark.parametrize("labels, key", [("auto", "aggre_label"), ("worst", "worse_label"),
                                         ("rand2", "random_label2")])
def test_cifar10n_joins_the_human_labels_by_file_index(cifar10n, labels, key):
  data_dir, labels_dir, table = cifar10n
  config = DataConfig(dataset_name="cifar10_n", data_dir=str(data_dir),
                      cifar_n_dir=str(labels_dir), cifar_n_labels=labels, batch_size=4)
  info, examples = _train_examples(config)
  assert (info.num_classes, info.image_shape, info.num_train, info.num_test) == (
      10, (32, 32, 3), NUM_TRAIN, NUM_TEST)
  assert info.source.class_names[9] == "truck"
  # Every file index once; each example carries its file's human label and its clean label.
  reader = info.source.split("train")
  index = reader._records().map(lambda _, e: cifar_n._file_index(e))  # pylint: disable=protected-access
  file_index = np.array(list(index.as_numpy_iterator()))
  assert sorted(file_index.tolist()) == list(range(NUM_TRAIN))
  np.testing.assert_array_equal([e["label"] for e in examples], table[key][file_index])
  np.testing.assert_array_equal([e["clean_label"] for e in examples],
                                table["clean_label"][file_index])
  np.testing.assert_array_equal([e["id"] for e in examples], np.arange(NUM_TRAIN))
  # The noise report measures the human noise (no synthetic noise on top).
  report = pipeline.training_noise_report(config)
  assert report["realised_flip_rate"] == pytest.approx(
      np.mean(table[key] != table["clean_label"]))
  # The test split is CIFAR's clean one; a training batch goes through the pipeline.
  test = list(info.source.open("test").as_numpy_iterator())
  assert [int(e["label"]) for e in test] == [int(e["clean_label"]) for e in test]
  batch = next(iter(pipeline.build_train_dataset(info.source, "resnet", seed=0)))
  assert batch["image"].shape == (4, 32, 32, 3)


def test_cifar100n_reads_the_ordered_npy_with_its_image_order(tmp_path):
  rng = np.random.default_rng(2)
  clean = rng.integers(0, 100, NUM_TRAIN)
  noisy = np.where(rng.random(NUM_TRAIN) < 0.4, rng.integers(0, 100, NUM_TRAIN), clean)
  _prepare_cifar(tmp_path, "cifar100", 100, clean, rng.permutation(NUM_TRAIN))
  # The builders' files: labels in tfds order, image_order[i] = the file index of position i.
  image_order = rng.permutation(NUM_TRAIN).astype(np.int64)
  np.save(tmp_path / "CIFAR-100_human_ordered.npy",
          {"clean_label": clean[image_order], "noise_label": noisy[image_order]})
  np.save(tmp_path / "image_order_c100.npy", image_order)
  config = DataConfig(dataset_name="cifar100_n", data_dir=str(tmp_path))
  stored, clean_read = sources.resolve(config).split("train").labels()
  info, examples = _train_examples(config)
  assert info.num_classes == 100
  by_clean = {(int(e["clean_label"]), int(e["label"])) for e in examples}
  assert by_clean == set(zip(clean.tolist(), noisy.tolist()))
  np.testing.assert_array_equal(stored, [e["label"] for e in examples])
  np.testing.assert_array_equal(clean_read, [e["clean_label"] for e in examples])


def test_missing_label_files_say_where_to_get_and_put_them(tmp_path, cifar10n):
  data_dir, _, _ = cifar10n
  config = DataConfig(dataset_name="cifar10_n", data_dir=str(data_dir))  # files in cifar_n/
  with pytest.raises(sources.DataNotFoundError) as raised:
    pipeline.dataset_info(config)
  message = str(raised.value)
  for needle in (f"--cifar_n_dir={str(data_dir)!r}", "CIFAR-10_human.pt",
                 "CIFAR-10_human_ordered.npy with image_order_c10.npy",
                 "https://github.com/UCSC-REAL/cifar-10-100n", "CC BY-NC 4.0"):
    assert needle in message, message


def test_a_label_file_of_another_cifar_is_refused(cifar10n):
  data_dir, labels_dir, table = cifar10n
  table = dict(table, clean_label=(table["clean_label"] + 1) % 10)
  _write_pt(str(labels_dir / "CIFAR-10_human.pt"), table, numpy1=False)
  config = DataConfig(dataset_name="cifar10_n", data_dir=str(data_dir),
                      cifar_n_dir=str(labels_dir))
  with pytest.raises(sources.CorruptDataError, match="clean_label does not match"):
    pipeline.training_noise_report(config)
  with pytest.raises(tf.errors.InvalidArgumentError, match="clean_label differs"):
    list(sources.resolve(config).open("train"))


def test_the_label_file_reader_admits_numpy_arrays_only(tmp_path):
  class Exploit:
    def __reduce__(self):
      return (os.system, ("echo pwned",))

  path = str(tmp_path / "CIFAR-10_human.pt")
  _write_pt(path, {"clean_label": Exploit()})
  with pytest.raises(sources.CorruptDataError, match="is not a numpy array"):
    cifar_n.read_pt(path)
  with zipfile.ZipFile(path, "w") as archive:
    archive.writestr("x/other.bin", b"")
  with pytest.raises(sources.CorruptDataError, match="no data.pkl"):
    cifar_n.read_pt(path)
  table = cifar_n.read_pt(_pt_bytes_file(tmp_path, {"clean_label": [1, 2]}))
  np.testing.assert_array_equal(table["clean_label"], [1, 2])  # lists become arrays


def _pt_bytes_file(tmp_path, table):
  path = str(tmp_path / "lists.pt")
  _write_pt(path, table)
  return path


@pytest.mark.parametrize("kwargs, needle", [
    (dict(dataset_name="cifar10_n", noise_fraction=0.2), "--noise_fraction=0.2 is invalid"),
    (dict(dataset_name="cifar10_n", cifar_n_labels="noisy100"),
     "--cifar_n_labels='noisy100' is invalid: --dataset_name=cifar10_n takes auto, aggre"),
    (dict(dataset_name="cifar100_n", cifar_n_labels="worst"),
     "--cifar_n_labels='worst' is invalid: --dataset_name=cifar100_n takes auto, noisy100"),
    (dict(dataset_name="cifar10", cifar_n_labels="worst"), "it applies to cifar10_n, cifar100_n"),
])
def test_config_refusals_name_the_flag(kwargs, needle):
  with pytest.raises(config_lib.ConfigError) as raised:
    DataConfig(**kwargs)
  assert needle in str(raised.value)


def test_pt_reader_reads_what_torch_save_would_write(tmp_path):
  """The archive layout: any '<stem>/data.pkl' member (torch names it after the file or
  'archive'); numpy 2.x pickles read too."""
  path = tmp_path / "any.pt"
  with zipfile.ZipFile(path, "w") as archive:
    archive.writestr("archive/data.pkl", pickle.dumps({"clean_label": np.arange(3)}, protocol=2))
  np.testing.assert_array_equal(cifar_n.read_pt(str(path))["clean_label"], np.arange(3))
