"""ILSVRC12 val on the WebVision classes (data/imagenet_val.py, --imagenet_val_dir): matched by
synset name, remapped to WebVision ids, refused with the synsets named when they do not match."""
import os

import numpy as np
import pytest

from mentornet_tf import config as config_lib
from mentornet_tf.config import ConvertConfig, DataConfig
from mentornet_tf.data import convert
from mentornet_tf.data import pipeline
from mentornet_tf.data import sources
from test_image_files import write_webvision
from test_tfds_sources import _images, _prepare

SYNSETS = [f"n{i:08d}" for i in range(1000)]
# ImageNet's class order differs from WebVision's on purpose: only the names may be matched.
IMAGENET_NAMES = [SYNSETS[i] for i in np.random.default_rng(3).permutation(1000)]
VAL_LABELS = np.array([IMAGENET_NAMES.index(SYNSETS[k]) for k in (3, 49, 50, 999, 0, 7)])


def _webvision(root):
  write_webvision(root, [("google/q0001/a.jpg", 0), ("google/q0002/b.jpg", 49),
                         ("google/q0003/c.jpg", 3), ("google/q0004/d.jpg", 7)],
                  [("flickr/q0001/e.jpg", 999)], [("val000001.jpg", 3), ("val000002.jpg", 49)])


def _imagenet(root):
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  train = (_images(2, 30, 40, 3, 0), np.array([0, 1], np.int64))
  val = (_images(len(VAL_LABELS), 36, 28, 3, 1), VAL_LABELS.astype(np.int64))
  _prepare(root, "imagenet2012", "5.1.0",
           tfds.features.Image(shape=(None, None, 3), encoding_format="jpeg"), train, val,
           IMAGENET_NAMES, test_split="validation")


@pytest.fixture(scope="module")
def data_dirs(tmp_path_factory):
  root = tmp_path_factory.mktemp("imagenet_val")
  _webvision(root / "webvision")
  _imagenet(root / "tfds")
  return root


def _config(root, name="webvision_mini", imagenet="tfds", **kwargs):
  return DataConfig(dataset_name=name, data_dir=str(root / "webvision"), image_size=12,
                    batch_size=2, imagenet_val_dir=str(root / imagenet), **kwargs)


def _val_examples(info):
  test = info.extra_test["imagenet_val"]
  examples = list(pipeline.build_eval_dataset(test, "inception_imagenet", batch_size=16)
                  .unbatch().as_numpy_iterator())
  return test, examples


@pytest.mark.parametrize("name, kept", [("webvision_mini", (3, 49, 0, 7)),
                                        ("webvision", (3, 49, 50, 999, 0, 7))])
def test_val_is_restricted_to_the_webvision_synsets_and_relabelled(data_dirs, name, kept):
  info = pipeline.dataset_info(_config(data_dirs, name))
  test, examples = _val_examples(info)
  assert test.num_classes == info.num_classes and test.class_names == info.source.class_names
  assert test.num_test == len(kept)
  # the WebVision id of each kept image is the index of its synset in info/synsets.txt (tfds
  # shuffled the examples when preparing: the read order is not the input order)
  labels = [int(e["label"]) for e in examples]
  assert sorted(labels) == sorted(kept)
  assert all(e["clean_label"] == e["label"] for e in examples)
  assert all(e["image"].shape == (12, 12, 3) for e in examples)
  np.testing.assert_array_equal(test.split("test").labels()[0], labels)
  assert set(info.extra_test) == {"imagenet_val"} and info.num_test == 2  # WebVision val kept


def test_a_converted_imagenet_and_converted_webvision_give_the_same_set(data_dirs, tmp_path):
  convert.convert(ConvertConfig(data=DataConfig(dataset_name="imagenet2012",
                                                data_dir=str(data_dirs / "tfds")),
                                output_dir=str(tmp_path / "imagenet"), splits=("test",)))
  convert.convert(ConvertConfig(data=DataConfig(dataset_name="webvision_mini",
                                                data_dir=str(data_dirs / "webvision")),
                                output_dir=str(tmp_path / "mini")))
  config = DataConfig(dataset_name="tfrecord_shards", data_dir=str(tmp_path / "mini"),
                      image_size=12, batch_size=2, imagenet_val_dir=str(tmp_path / "imagenet"))
  _, examples = _val_examples(pipeline.dataset_info(config))
  _, reference = _val_examples(pipeline.dataset_info(_config(data_dirs)))
  assert [int(e["label"]) for e in examples] == [int(e["label"]) for e in reference]
  for a, b in zip(examples, reference):
    np.testing.assert_array_equal(a["image"], b["image"])


def test_synsets_that_do_not_match_are_refused_by_name(data_dirs, tmp_path):
  _webvision(tmp_path / "webvision")
  lines = (tmp_path / "webvision" / "info" / "synsets.txt").read_text().splitlines()
  lines[7] = "n99999999 not an ImageNet class"
  (tmp_path / "webvision" / "info" / "synsets.txt").write_text("\n".join(lines) + "\n")
  config = DataConfig(dataset_name="webvision_mini", data_dir=str(tmp_path / "webvision"),
                      imagenet_val_dir=str(data_dirs / "tfds"))
  with pytest.raises(sources.CorruptDataError, match=r"--imagenet_val_dir='.*tfds': its 1000 "
                     r"classes \(e.g. n\d{8}, n\d{8}\) lack 1 of the 50 WebVision synsets: "
                     r"n99999999\. .*by synset name"):
    pipeline.dataset_info(config)


def test_imagenet_val_dir_needs_webvision_data_and_imagenet_there(data_dirs, tmp_path):
  with pytest.raises(config_lib.ConfigError, match=r"--imagenet_val_dir='x' is invalid: .*needs "
                     r"--dataset_name=webvision or webvision_mini .*not cifar10"):
    DataConfig(dataset_name="cifar10", imagenet_val_dir="x")
  with pytest.raises(sources.DataNotFoundError, match=r"--imagenet_val_dir='.*nowhere': no "
                     r"prepared tfds dataset imagenet2012"):
    pipeline.dataset_info(_config(data_dirs, imagenet="nowhere"))
  convert.convert(ConvertConfig(data=DataConfig(dataset_name="digits"),
                                output_dir=str(tmp_path / "digits")))
  config = DataConfig(dataset_name="tfrecord_shards", data_dir=str(tmp_path / "digits"),
                      imagenet_val_dir=str(data_dirs / "tfds"))
  with pytest.raises(sources.CorruptDataError, match=r"holds no WebVision data \(converted from "
                     r"digits\)"):
    pipeline.dataset_info(config)


@pytest.mark.slow
def test_training_reports_the_imagenet_val_accuracy(data_dirs, tmp_path):
  from mentornet_tf import train  # pylint: disable=g-import-not-at-top
  config = config_lib.TrainConfig(
      data=_config(data_dirs), student=config_lib.StudentConfig(studentnet="tiny_cnn"),
      train_log_dir=str(tmp_path / "run"), max_number_of_steps=2, eval_interval=1,
      save_interval_secs=0, verbose=0)
  results = train.train(config)
  final = results["final_imagenet_val"]
  assert 0.0 <= final["accuracy"] <= 1.0 and "loss" in final
  assert 0.0 <= results["final_accuracy"] <= 1.0  # WebVision val, as before
  # TensorBoard's hparams run holds it beside final_accuracy.
  from test_train import _scalar_tags  # pylint: disable=g-import-not-at-top
  tags = _scalar_tags(str(tmp_path / "run" / "tensorboard" / "hparams"))
  assert tags["eval/final_imagenet_val"] == [pytest.approx(final["accuracy"])]
  # `evaluate --split_name=imagenet_val` on the run's last checkpoint gives the same: the same
  # weights on the same 4 examples (a count over 4: a difference would be a whole 0.25).
  from mentornet_tf import evaluate  # pylint: disable=g-import-not-at-top
  [result] = evaluate.evaluate_checkpoint(str(tmp_path / "run" / "ckpt"), once=True,
                                          split_name="imagenet_val")
  assert result["num_examples"] == 4 and result["split"] == "imagenet_val"
  assert result["accuracy"] == pytest.approx(final["accuracy"], abs=1e-6)
  assert os.path.isdir(tmp_path / "run" / "eval_imagenet_val")


def test_evaluate_refuses_imagenet_val_for_a_run_without_it(tmp_path):
  """A run without --imagenet_val_dir has no such split: one message naming the flag."""
  from mentornet_tf import evaluation  # pylint: disable=g-import-not-at-top
  data = DataConfig(dataset_name="digits", batch_size=8)
  with pytest.raises(evaluation.MissingSplit, match="--split_name='imagenet_val'.*"
                     "--imagenet_val_dir"):
    evaluation.Evaluator(data, config_lib.StudentConfig(studentnet="mlp"), split="imagenet_val")
