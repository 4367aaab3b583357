"""The converter (mentornet_tf/data/convert.py, shard_writer.py) and the tfrecord_shards source
(data/shards.py): round trips on tiny fixtures in the real formats, resume, refused outputs."""
import json
import os

import numpy as np
import pytest
import tensorflow as tf

from mentornet_tf import errors
from mentornet_tf.config import ConvertConfig, DataConfig
from mentornet_tf.data import convert
from mentornet_tf.data import pipeline
from mentornet_tf.data import shard_writer
from mentornet_tf.data import shards
from mentornet_tf.data import sources
from test_image_files import write_filelist, write_folder, write_webvision
from test_tfds_sources import _images, _prepare


def _convert(data, output_dir, **kwargs):
  return convert.convert(ConvertConfig(data=data, output_dir=str(output_dir), **kwargs))


def _shards(output_dir, **kwargs):
  return sources.resolve(DataConfig(dataset_name="tfrecord_shards", data_dir=str(output_dir),
                                    **kwargs))


def _by_id(source, split):
  return {int(e["id"]): e for e in source.open(split).as_numpy_iterator()}


def _assert_same_examples(original, converted, split, encoded):
  """Same ids, labels and clean labels; the same bytes (encoded) or pixels (decoded)."""
  before, after = _by_id(original, split), _by_id(converted, split)
  assert sorted(after) == sorted(before) == list(range(original.num_examples(split)))
  for example_id, example in before.items():
    other = after[example_id]
    assert (other["label"], other["clean_label"]) == (example["label"], example["clean_label"])
    if encoded:
      assert other["image"] == example["image"]  # the file's bytes, not re-encoded
      np.testing.assert_array_equal(tf.io.decode_image(other["image"]).numpy(),
                                    tf.io.decode_image(example["image"]).numpy())
    else:
      assert other["image"].dtype == example["image"].dtype
      np.testing.assert_array_equal(other["image"], example["image"])
  for stored, loaded in zip(original.split(split).labels(), converted.split(split).labels()):
    np.testing.assert_array_equal(stored, loaded)


def test_filelist_round_trip_keeps_ids_labels_bytes_and_the_pipeline(tmp_path):
  write_filelist(tmp_path, [f"img/{i}.jpg {i % 3}" for i in range(7)])
  write_filelist(tmp_path, ["t/0.jpg 1", "t/1.jpg 0"], name="test.txt")
  data = DataConfig(dataset_name="filelist", data_dir=str(tmp_path), num_classes=3,
                    image_size=16, batch_size=2, noise_fraction=0.5)
  manifests = _convert(data, tmp_path / "out", examples_per_shard=3)
  assert [(m["split"], m["num_examples"], len(m["shards"])) for m in manifests] == [
      ("train", 7, 3), ("test", 2, 1)]
  original = sources.resolve(data)
  converted = _shards(tmp_path / "out", image_size=16, batch_size=2, noise_fraction=0.5)
  assert converted.encoded and converted.num_classes == 3
  assert (converted.num_train, converted.num_test) == (7, 2)
  for split in ("train", "test"):
    _assert_same_examples(original, converted, split, encoded=True)
  # round robin: shard k holds ids k, k + 3, ... in ascending order
  split = converted.split("train")
  ids = [[int(e["image/id"].int64_list.value[0]) for e in
          (tf.train.Example.FromString(r.numpy()).features.feature
           for r in tf.data.TFRecordDataset(path))] for path in split.files]
  assert ids == [[0, 3, 6], [1, 4], [2, 5]]
  # the same preprocessed images, and the same noisy labels (keyed by (noise_seed, id))
  for split_name in ("train", "test"):
    a = next(iter(pipeline.build_eval_dataset(original, "inception_imagenet", split_name, 8)))
    b = next(iter(pipeline.build_eval_dataset(converted, "inception_imagenet", split_name, 8)))
    order = np.argsort(b["id"].numpy())
    for key in ("id", "label", "clean_label"):
      np.testing.assert_array_equal(a[key].numpy(), b[key].numpy()[order])
    np.testing.assert_allclose(a["image"].numpy(), b["image"].numpy()[order], rtol=0, atol=0)
  assert pipeline.training_noise_report(original) == pipeline.training_noise_report(converted)


def test_records_come_in_the_same_order_read_in_parallel_or_in_turn(tmp_path, monkeypatch):
  """Local shards are read in the calling thread, remote ones (gs://, ...) in parallel: the same
  round-robin order either way, so a run's stream (and its exact resume) does not depend on it."""
  assert shards.is_remote("gs://bucket/train-00000-of-00003.tfrecord")
  assert not shards.is_remote(str(tmp_path / "train-00000-of-00003.tfrecord"))
  write_filelist(tmp_path, [f"img/{i}.jpg {i % 3}" for i in range(8)])
  data = DataConfig(dataset_name="filelist", data_dir=str(tmp_path), num_classes=3, image_size=16)
  _convert(data, tmp_path / "out", examples_per_shard=3, splits=("train",))
  split = _shards(tmp_path / "out", image_size=16).split("train")

  def ids(num_shards=1, shard_index=0):
    return [int(split.read(e)["id"]) for e in split.open_index(num_shards, shard_index)]
  local = ids(), ids(2, 0), ids(2, 1)
  assert local[0] == [0, 1, 2, 3, 4, 5, 6, 7]  # shard k holds ids k, k + 3, ...: one of each
  monkeypatch.setattr(shards, "is_remote", lambda path: True)
  assert (ids(), ids(2, 0), ids(2, 1)) == local


def test_shards_of_jpegs_only_skip_the_per_image_format_test_with_the_same_pixels(tmp_path):
  """The converter records whether every image is a JPEG; such shards are decoded without the
  per-image format test (a tf.cond), a PNG among them keeps it; old manifests keep it too."""
  write_filelist(tmp_path, [f"img/{i}.jpg {i % 3}" for i in range(6)])
  write_filelist(tmp_path, ["t/0.jpg 1", "t/1.jpg 0"], name="test.txt")
  data = DataConfig(dataset_name="filelist", data_dir=str(tmp_path), num_classes=3)
  manifests = _convert(data, tmp_path / "jpeg", examples_per_shard=4)
  assert [m["image"]["jpeg"] for m in manifests] == [True, True]

  def batches(directory, jpeg_only=None):
    source = _shards(directory, image_size=16, batch_size=3, noise_fraction=0.5)
    if jpeg_only is not None:
      for split in ("train", "test"):
        source.split(split).jpeg_only = jpeg_only
    train = next(iter(pipeline.build_train_dataset(source, "resnet_imagenet", seed=3)))
    test = next(iter(pipeline.build_eval_dataset(source, "inception_imagenet", "test", 2)))
    return source, {k: v.numpy() for k, v in train.items()}, test["image"].numpy()

  source, train, test = batches(tmp_path / "jpeg")
  assert source.split("train").jpeg_only and source.split("test").jpeg_only
  _, train_tested, test_tested = batches(tmp_path / "jpeg", jpeg_only=False)
  for key in train:  # the same decoder on the same bytes: the same pixels, exactly
    np.testing.assert_array_equal(train[key], train_tested[key])
  np.testing.assert_array_equal(test, test_tested)

  png = tf.io.encode_png(np.full((12, 14, 3), 200, np.uint8)).numpy()
  (tmp_path / "img" / "2.jpg").write_bytes(png)  # a PNG under a .jpg name, as datasets have
  manifests = _convert(data, tmp_path / "mixed", examples_per_shard=4)
  assert [m["image"]["jpeg"] for m in manifests] == [False, True]
  source, train, _ = batches(tmp_path / "mixed")
  assert not source.split("train").jpeg_only and train["image"].shape == (3, 16, 16, 3)

  manifest_path = tmp_path / "jpeg" / "train" / "manifest.json"
  manifest = json.loads(manifest_path.read_text())
  del manifest["image"]["jpeg"]  # written before the converter looked
  manifest_path.write_text(json.dumps(manifest))
  assert not _shards(tmp_path / "jpeg").split("train").jpeg_only
  _convert(data, tmp_path / "jpeg", examples_per_shard=4)  # still the same conversion: done


def test_folder_and_webvision_keep_their_class_names(tmp_path):
  write_folder(tmp_path / "tree", ["dog", "cat"], per_class=2)
  folder = DataConfig(dataset_name="folder", data_dir=str(tmp_path / "tree"))
  _convert(folder, tmp_path / "folder_out")
  converted = _shards(tmp_path / "folder_out")
  assert converted.class_names == ("cat", "dog")
  _assert_same_examples(sources.resolve(folder), converted, "test", encoded=True)
  write_webvision(tmp_path / "wv", [("google/q0001/a.jpg", 0), ("google/q0002/b.jpg", 49)],
                  [("flickr/q0001/e.jpg", 3)], [("val000001.jpg", 3)], num_synsets=1000)
  mini = DataConfig(dataset_name="webvision_mini", data_dir=str(tmp_path / "wv"))
  _convert(mini, tmp_path / "wv_out", splits=("train",))
  converted = _shards(tmp_path / "wv_out")
  assert converted.class_names == sources.resolve(mini).class_names
  assert converted.converted_from == "webvision_mini" and converted.num_train == 2


@pytest.mark.parametrize("name", ["digits", "fake"])
def test_decoded_images_round_trip_exactly(tmp_path, name):
  data = DataConfig(dataset_name=name, fake_num_train=9, fake_num_test=4)
  manifests = _convert(data, tmp_path, examples_per_shard=400)
  converted = _shards(tmp_path)
  original = sources.resolve(data)
  assert manifests[0]["image"]["format"] == ("raw" if name == "digits" else "png")
  assert not converted.encoded and converted.image_shape == original.image_shape
  _assert_same_examples(original, converted, "test", encoded=False)


def test_tfds_imagenet_is_written_in_contiguous_shards(tmp_path):
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  names = [f"n{i:08d}" for i in range(1000)]
  train = (_images(5, 30, 40, 3, 0), np.array([0, 1, 2, 999, 5], np.int64))
  test = (_images(2, 36, 28, 3, 1), np.array([3, 4], np.int64))
  _prepare(tmp_path / "tfds", "imagenet2012", "5.1.0",
           tfds.features.Image(shape=(None, None, 3), encoding_format="jpeg"), train, test,
           names, test_split="validation")
  data = DataConfig(dataset_name="imagenet2012", data_dir=str(tmp_path / "tfds"))
  manifests = _convert(data, tmp_path / "out", examples_per_shard=2)
  assert manifests[0]["assignment"] == "contiguous"
  assert [s["num_examples"] for s in manifests[0]["shards"]] == [1, 2, 2]
  converted = _shards(tmp_path / "out")
  assert converted.class_names[:2] == ("n00000000", "n00000001")
  for split in ("train", "test"):
    _assert_same_examples(sources.resolve(data), converted, split, encoded=True)


def test_an_interrupted_conversion_resumes_rewriting_only_missing_shards(tmp_path, monkeypatch):
  write_filelist(tmp_path, [f"img/{i}.jpg {i % 3}" for i in range(10)])
  write_filelist(tmp_path, ["t/0.jpg 1"], name="test.txt")
  data = DataConfig(dataset_name="filelist", data_dir=str(tmp_path), num_classes=3)
  out = tmp_path / "out"
  real_write = shard_writer._write_shard  # pylint: disable=protected-access
  calls = []

  def killed_on_the_third_shard(path, records):
    calls.append(path)
    if len(calls) < 3:
      return real_write(path, records)
    with open(f"{path}.tmp-killed", "wb") as f:  # what a kill -9 mid-shard leaves behind
      f.write(next(iter(records))[:10])
    raise KeyboardInterrupt("killed")

  monkeypatch.setattr(shard_writer, "_write_shard", killed_on_the_third_shard)
  with pytest.raises(KeyboardInterrupt):
    _convert(data, out, examples_per_shard=2)
  train_dir = out / "train"
  finished = {name: os.stat(train_dir / name) for name in os.listdir(train_dir)
              if name.endswith(".tfrecord")}
  assert sorted(finished) == ["train-00000-of-00005.tfrecord", "train-00001-of-00005.tfrecord"]
  assert not (train_dir / "manifest.json").exists()  # written last
  with pytest.raises(sources.DataNotFoundError, match=r"no converted train split .*run the same "
                     r"command again to finish it"):
    _shards(out)
  monkeypatch.setattr(shard_writer, "_write_shard", real_write)
  _convert(data, out, examples_per_shard=2)
  names = sorted(os.listdir(train_dir))
  assert names == ["labels.npy", "manifest.json"] + [
      f"train-0000{k}-of-00005.tfrecord" for k in range(5)]  # no temporary, no plan left
  for name, stat in finished.items():  # finished shards were not rewritten
    after = os.stat(train_dir / name)
    assert (after.st_ino, after.st_mtime_ns) == (stat.st_ino, stat.st_mtime_ns)
  _assert_same_examples(sources.resolve(data), _shards(out), "train", encoded=True)
  # the shards written before the kill are read again to tell whether every image is a JPEG
  assert json.loads((train_dir / "manifest.json").read_text())["image"]["jpeg"] is True
  # a finished conversion run again writes nothing
  stamp = os.stat(train_dir / "manifest.json").st_mtime_ns
  _convert(data, out, examples_per_shard=2)
  assert os.stat(train_dir / "manifest.json").st_mtime_ns == stamp


def test_refused_outputs_write_nothing(tmp_path):
  write_filelist(tmp_path, ["a/0.jpg 0", "a/1.jpg 1"])
  write_filelist(tmp_path, ["a/0.jpg 0"], name="test.txt")
  data = DataConfig(dataset_name="filelist", data_dir=str(tmp_path), num_classes=2)
  (tmp_path / "file").write_text("x")
  for output, message in ((tmp_path / "file", "is not a writable directory: is a file"),
                          (tmp_path / "file" / "out", "is not a writable directory: .*file' is "
                           "a file")):
    with pytest.raises(errors.BadInput, match=message):
      _convert(data, output)
  _convert(data, tmp_path / "out")
  before = sorted(os.listdir(tmp_path / "out" / "train"))
  with pytest.raises(errors.BadInput, match=r"holds another conversion \(manifest.json: "
                     r"source.train_list: 'train.txt' there, 'test.txt' now; num_examples: 2 "
                     r"there, 1 now; shards differ\)"):
    _convert(DataConfig(dataset_name="filelist", data_dir=str(tmp_path), num_classes=2,
                        train_list="test.txt"), tmp_path / "out")
  with pytest.raises(errors.BadInput, match=r"holds another conversion \(manifest.json: shards: "
                     r"1 entries there, 2 entries now\)"):
    _convert(data, tmp_path / "out", examples_per_shard=1)
  assert sorted(os.listdir(tmp_path / "out" / "train")) == before
  (tmp_path / "other" / "train").mkdir(parents=True)
  (tmp_path / "other" / "train" / "notes.txt").write_text("mine")
  with pytest.raises(errors.BadInput, match=r"holds files that are not a conversion "
                     r"\(notes.txt\)"):
    _convert(data, tmp_path / "other")
  assert not (tmp_path / "other" / "test").exists()


def test_a_damaged_manifest_or_missing_shard_is_named(tmp_path):
  write_filelist(tmp_path, ["a/0.jpg 0", "a/1.jpg 1"])
  write_filelist(tmp_path, ["a/0.jpg 0"], name="test.txt")
  _convert(DataConfig(dataset_name="filelist", data_dir=str(tmp_path), num_classes=2),
           tmp_path / "out")
  manifest = tmp_path / "out" / "test" / "manifest.json"
  text = json.loads(manifest.read_text())
  manifest.write_text(json.dumps(dict(text, class_names=["x", "y"])))
  with pytest.raises(sources.CorruptDataError, match=r"test/manifest.json: its class_names "
                     r"differ from the train split's"):
    pipeline.dataset_info(DataConfig(dataset_name="tfrecord_shards",
                                     data_dir=str(tmp_path / "out")))
  os.remove(tmp_path / "out" / "train" / "train-00000-of-00001.tfrecord")
  with pytest.raises(sources.DataNotFoundError, match=r"1 shard file\(s\) of its manifest are "
                     r"missing"):
    pipeline.dataset_info(DataConfig(dataset_name="tfrecord_shards",
                                     data_dir=str(tmp_path / "out")))


@pytest.mark.slow
def test_train_runs_on_converted_shards(tmp_path):
  write_folder(tmp_path / "data", ["a", "b", "c"], per_class=4)
  _convert(DataConfig(dataset_name="folder", data_dir=str(tmp_path / "data")),
           tmp_path / "shards", examples_per_shard=4)
  from mentornet_tf import config as config_lib  # pylint: disable=g-import-not-at-top
  from mentornet_tf import train  # pylint: disable=g-import-not-at-top
  config = config_lib.TrainConfig(
      data=DataConfig(dataset_name="tfrecord_shards", data_dir=str(tmp_path / "shards"),
                      image_size=16, batch_size=4, noise_fraction=0.2),
      student=config_lib.StudentConfig(studentnet="tiny_cnn"),
      train_log_dir=str(tmp_path / "run"), max_number_of_steps=2, eval_interval=1,
      save_interval_secs=0, verbose=0)
  result = train.train(config)
  assert result["status"] == "finished" and result["noise"]["num_examples"] == 12
