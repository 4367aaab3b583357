"""Image-file sources (data/image_files.py): filelist, folder, WebVision, on tiny JPEG trees."""
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from mentornet_tf import config as config_lib
from mentornet_tf.config import DataConfig
from mentornet_tf.data import pipeline
from mentornet_tf.data import sources

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def write_jpeg(path, height=20, width=24, value=0):
  os.makedirs(os.path.dirname(path), exist_ok=True)
  rng = np.random.default_rng(value)
  pixels = rng.integers(0, 256, size=(height, width, 3)).astype(np.uint8)
  with open(path, "wb") as f:
    f.write(tf.io.encode_jpeg(pixels).numpy())


def write_filelist(root, lines, name="train.txt"):
  """Writes the images named by `lines` ('rel label') and the list itself, as given."""
  for i, line in enumerate(lines):
    path = line.rsplit(None, 1)[0]
    if not os.path.exists(os.path.join(root, path)):
      write_jpeg(os.path.join(root, path), 16 + i, 20 + 2 * i, i)
  (root / name).write_text("\n".join(lines) + "\n")


def write_folder(root, classes, per_class=2, test_dir="val", test_classes=None):
  for split, names in (("train", classes), (test_dir, test_classes or classes)):
    for c, name in enumerate(names):
      for i in range(per_class):
        write_jpeg(str(root / split / name / f"img{i}.jpg"), 18, 22, 10 * c + i)


def write_webvision(root, google, flickr, val, num_synsets=1000):
  """A WebVision 1.0 tree: `google` / `flickr` / `val` are lists of (relative path, label)."""
  info = root / "info"
  info.mkdir(parents=True)
  (info / "synsets.txt").write_text("".join(f"n{i:08d} class {i}\n" for i in range(num_synsets)))
  for name, entries, prefix in (("train_filelist_google.txt", google, ""),
                                ("train_filelist_flickr.txt", flickr, ""),
                                ("val_filelist.txt", val, "val_images_256/")):
    (info / name).write_text("".join(f"{path} {label}\n" for path, label in entries))
    for i, (path, _) in enumerate(entries):
      write_jpeg(str(root / (prefix + path)), 24, 20, i)


def _filelist_config(root, **kwargs):
  return DataConfig(dataset_name="filelist", data_dir=str(root), num_classes=3, image_size=16,
                    batch_size=2, **kwargs)


def _eval_examples(source, augmentation="standardize", split="test"):
  return list(pipeline.build_eval_dataset(source, augmentation, split, batch_size=100)
              .unbatch().as_numpy_iterator())


# ----------------------------------------------------------------------------- filelist

def test_filelist_counts_labels_ids_and_shapes(tmp_path):
  write_filelist(tmp_path, ["b/2.jpg 1", "a/1.jpg 0", "c 3/x.jpg 2", "a/0.jpg 2"])
  write_filelist(tmp_path, ["t/0.jpg 1", "t/1.jpg 0"], name="test.txt")
  info = pipeline.dataset_info(_filelist_config(tmp_path))
  assert (info.num_classes, info.image_shape, info.num_train, info.num_test) == (
      3, (16, 16, 3), 4, 2)
  split = info.source.split("train")
  assert split.format == "files" and split.files == (str(tmp_path / "train.txt"),)
  # ids: the index in the entries sorted by relative path (paths may contain spaces)
  assert [os.path.relpath(p, tmp_path) for p in split.paths] == [
      "a/0.jpg", "a/1.jpg", "b/2.jpg", "c 3/x.jpg"]
  np.testing.assert_array_equal(split.labels()[0], [2, 0, 1, 2])
  examples = _eval_examples(info.source, split="train")
  assert [e["id"] for e in examples] == [0, 1, 2, 3]
  assert [e["label"] for e in examples] == [2, 0, 1, 2]
  assert all(e["image"].shape == (16, 16, 3) and e["image"].dtype == np.float32 for e in examples)
  # raw open yields the encoded bytes; decoded, the id-0 image is a/0.jpg's
  raw = next(iter(info.source.open("train")))
  assert raw["image"].dtype == tf.string and int(raw["id"]) == 0


@pytest.mark.slow  # ~5-12 s: a whole training run or a fresh TF process
def test_filelist_training_stream_is_deterministic_per_seed_and_noisy_by_id(tmp_path):
  write_filelist(tmp_path, [f"img/{i}.jpg {i % 3}" for i in range(6)])
  write_filelist(tmp_path, ["img/0.jpg 0"], name="test.txt")
  for augmentation in ("resnet", "inception_imagenet", "resnet_imagenet"):
    config = _filelist_config(tmp_path, noise_fraction=0.5, augmentation=augmentation)

    def take(seed, config=config, augmentation=augmentation):
      stream = pipeline.build_train_dataset(config, augmentation, seed=seed)
      return list(stream.take(6).as_numpy_iterator())

    first, again, other = take(1), take(1), take(2)
    assert first[0]["image"].shape == (2, 16, 16, 3)
    for a, b in zip(first, again):
      np.testing.assert_array_equal(a["image"], b["image"])
      np.testing.assert_array_equal(a["id"], b["id"])
    assert any(not np.array_equal(a["image"], b["image"]) for a, b in zip(first, other))
    # label noise is keyed by (noise_seed, id): the same id has the same noisy label
    noisy = {}
    for batch in first + other:
      for example_id, label, clean in zip(batch["id"], batch["label"], batch["clean_label"]):
        assert noisy.setdefault(int(example_id), int(label)) == int(label)
        assert clean == int(example_id) % 3


@pytest.mark.parametrize("line, error, message", [
    ("img/1.jpg", sources.CorruptDataError, r"train.txt:2: expected '<relative path> <label>'"),
    ("img/1.jpg one", sources.CorruptDataError, r"train.txt:2: .*integer label"),
    ("img/1.jpg 3", sources.LabelRangeError, r"train.txt:2: label 3 is outside \[0, 3\) "
     r"\(--num_classes=3\)"),
    ("img/missing.jpg 1", sources.DataNotFoundError, r"train.txt:2: the image .*missing.jpg does "
     r"not exist"),
])
def test_filelist_bad_lines_name_file_and_line(tmp_path, line, error, message):
  write_filelist(tmp_path, ["img/0.jpg 0"])
  (tmp_path / "train.txt").write_text(f"img/0.jpg 0\n{line}\n")
  write_filelist(tmp_path, ["img/0.jpg 0"], name="test.txt")
  with pytest.raises(error, match=message):
    pipeline.dataset_info(_filelist_config(tmp_path))


def test_filelist_missing_list_and_directory(tmp_path):
  with pytest.raises(sources.DataNotFoundError, match="is not a directory"):
    pipeline.dataset_info(_filelist_config(tmp_path / "nowhere"))
  with pytest.raises(sources.DataNotFoundError, match=r"image list .*train.txt does not exist"):
    pipeline.dataset_info(_filelist_config(tmp_path))
  with pytest.raises(sources.LabelRangeError, match="--num_classes=0: .*needs the class count"):
    pipeline.dataset_info(DataConfig(dataset_name="filelist", data_dir=str(tmp_path)))


def test_filelist_lists_by_flag(tmp_path):
  write_filelist(tmp_path, ["x/0.jpg 0", "x/1.jpg 1"], name="my_train.lst")
  write_filelist(tmp_path, ["y/0.jpg 1"], name="my_test.lst")
  config = _filelist_config(tmp_path, train_list="my_train.lst",
                            test_list=str(tmp_path / "my_test.lst"))
  info = pipeline.dataset_info(config)
  assert (info.num_train, info.num_test) == (2, 1)


# ----------------------------------------------------------------------------- folder

def test_folder_classes_are_sorted_folder_names(tmp_path):
  write_folder(tmp_path, ["dog", "cat", "bird"], per_class=2)
  (tmp_path / "train" / "cat" / "notes.txt").write_text("not an image")
  config = DataConfig(dataset_name="folder", data_dir=str(tmp_path), image_size=12)
  info = pipeline.dataset_info(config)
  assert info.source.class_names == ("bird", "cat", "dog")
  assert (info.num_classes, info.num_train, info.num_test) == (3, 6, 6)
  examples = _eval_examples(info.source, "none")
  assert [e["label"] for e in examples] == [0, 0, 1, 1, 2, 2]
  assert examples[0]["image"].shape == (12, 12, 3)


def test_folder_test_dir_may_be_named_test(tmp_path):
  write_folder(tmp_path, ["a", "b"], per_class=1, test_dir="test")
  info = pipeline.dataset_info(DataConfig(dataset_name="folder", data_dir=str(tmp_path)))
  assert (info.num_train, info.num_test) == (2, 2)


def test_folder_class_mismatch_is_refused(tmp_path):
  write_folder(tmp_path, ["a", "b"], per_class=1, test_classes=["a", "c"])
  with pytest.raises(sources.CorruptDataError, match=r"val: its class folders differ .*"
                     r"only in train: \['b'\]; only here: \['c'\]"):
    pipeline.dataset_info(DataConfig(dataset_name="folder", data_dir=str(tmp_path)))


def test_folder_without_classes(tmp_path):
  (tmp_path / "train").mkdir()
  with pytest.raises(sources.DataNotFoundError, match="no class folders"):
    pipeline.dataset_info(DataConfig(dataset_name="folder", data_dir=str(tmp_path)))


# ----------------------------------------------------------------------------- WebVision

def _webvision(root):
  google = [("google/q0001/a.jpg", 0), ("google/q0002/b.jpg", 49), ("google/q0900/c.jpg", 999),
            ("google/q0060/d.jpg", 50)]
  flickr = [("flickr/q0001/e.jpg", 0), ("flickr/q0700/f.jpg", 700)]
  val = [("val000001.jpg", 3), ("val000002.jpg", 999), ("val000003.jpg", 49)]
  write_webvision(root, google, flickr, val)


def test_webvision_entire_and_mini(tmp_path):
  _webvision(tmp_path)
  entire = pipeline.dataset_info(DataConfig(dataset_name="webvision", data_dir=str(tmp_path),
                                            image_size=10))
  assert (entire.num_classes, entire.num_train, entire.num_test) == (1000, 6, 3)
  assert entire.source.class_names[0] == "n00000000" and len(entire.source.class_names) == 1000
  train = entire.source.split("train")
  assert [os.path.relpath(p, tmp_path) for p in train.paths][:2] == [
      "flickr/q0001/e.jpg", "flickr/q0700/f.jpg"]
  np.testing.assert_array_equal(train.labels()[0], [0, 700, 0, 49, 50, 999])
  mini = pipeline.dataset_info(DataConfig(dataset_name="webvision_mini", data_dir=str(tmp_path),
                                          image_size=10))
  assert (mini.num_classes, mini.num_train, mini.num_test) == (50, 2, 2)
  np.testing.assert_array_equal(mini.source.split("train").labels()[0], [0, 49])
  examples = _eval_examples(mini.source, "inception_imagenet")
  assert [e["label"] for e in examples] == [3, 49]
  assert examples[0]["image"].shape == (10, 10, 3)
  assert all(e["clean_label"] == e["label"] for e in examples)


def test_webvision_refuses_synthetic_noise_and_a_bad_layout(tmp_path):
  with pytest.raises(config_lib.ConfigError, match=r"--noise_fraction=0.2 is invalid.*already "
                     r"noisy"):
    DataConfig(dataset_name="webvision_mini", noise_fraction=0.2)
  (tmp_path / "other").mkdir()
  with pytest.raises(sources.DataNotFoundError, match=r"info/synsets.txt does not exist"):
    pipeline.dataset_info(DataConfig(dataset_name="webvision", data_dir=str(tmp_path)))
  write_webvision(tmp_path / "w", [("google/q0001/a.jpg", 1000)], [], [])
  with pytest.raises(sources.LabelRangeError, match=r"train_filelist_google.txt:1: label 1000"):
    pipeline.dataset_info(DataConfig(dataset_name="webvision", data_dir=str(tmp_path / "w")))


# ----------------------------------------------------------------------------- validation

@pytest.mark.slow  # ~5-12 s: a whole training run or a fresh TF process
def test_validation_of_image_files_runs_no_eager_op(tmp_path):
  """Resolving and counting an image-file source leaves TF's devices unconfigured."""
  write_filelist(tmp_path, ["a/0.jpg 0", "a/1.jpg 1"])
  write_filelist(tmp_path, ["a/0.jpg 0"], name="test.txt")
  write_folder(tmp_path / "tree", ["a", "b"], per_class=1)
  code = ("import sys, mentornet_tf, tensorflow as tf\n"
          "from mentornet_tf.config import DataConfig\n"
          "from mentornet_tf.data import pipeline\n"
          "a = pipeline.dataset_info(DataConfig(dataset_name='filelist', data_dir=sys.argv[1],"
          " num_classes=2))\n"
          "b = pipeline.dataset_info(DataConfig(dataset_name='folder', data_dir=sys.argv[2]))\n"
          "print('COUNT', a.num_train, a.num_test, b.num_train)\n"
          "cpu = tf.config.list_physical_devices('CPU')[0]\n"
          "tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()]"
          " * 2)\n"
          "print('CPUS', len(tf.config.list_logical_devices('CPU')))\n")
  result = subprocess.run([sys.executable, "-c", code, str(tmp_path), str(tmp_path / "tree")],
                          cwd=REPO, capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, PYTHONPATH=REPO))
  assert "COUNT 2 1 2" in result.stdout and "CPUS 2" in result.stdout, result.stderr[-2000:]


def test_train_runs_on_a_folder_tree(tmp_path):
  write_folder(tmp_path / "data", ["a", "b", "c"], per_class=4)
  from mentornet_tf import train  # pylint: disable=g-import-not-at-top
  config = config_lib.TrainConfig(
      data=DataConfig(dataset_name="folder", data_dir=str(tmp_path / "data"), image_size=16,
                      batch_size=4, noise_fraction=0.2),
      student=config_lib.StudentConfig(studentnet="tiny_cnn"),
      train_log_dir=str(tmp_path / "run"), max_number_of_steps=2, eval_interval=1,
      save_interval_secs=0, verbose=0)
  result = train.train(config)
  assert result is not None
