"""imagenet2012 and tfds:NAME (data/tfds_sources.py) on tiny tfds datasets prepared offline."""
import importlib.resources
import sys

import numpy as np
import pytest
import tensorflow as tf

from mentornet_tf import config as config_lib
from mentornet_tf.config import DataConfig
from mentornet_tf.data import pipeline
from mentornet_tf.data import sources


def _prepare(data_dir, name, version, image_feature, train, test, num_classes, test_split="test"):
  """Prepares `name` with tfds' TfDataBuilder (no download): train/test = (images, labels)."""
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  sys.modules.setdefault("importlib_resources", importlib.resources)  # as tests/test_sources.py
  label = (tfds.features.ClassLabel(names=num_classes) if isinstance(num_classes, list)
           else tfds.features.ClassLabel(num_classes=num_classes))  # a list: the class names
  features = tfds.features.FeaturesDict({"image": image_feature, "label": label})
  split = lambda data: tf.data.Dataset.from_tensor_slices({"image": data[0], "label": data[1]})
  builder = tfds.dataset_builders.TfDataBuilder(
      name=name, version=version, data_dir=str(data_dir), features=features,
      split_datasets={"train": split(train), test_split: split(test)})
  builder.download_and_prepare()


def _images(count, height, width, channels, seed):
  rng = np.random.default_rng(seed)
  return rng.integers(0, 256, size=(count, height, width, channels)).astype(np.uint8)


def test_imagenet2012_reads_jpeg_bytes_and_validation_split(tmp_path):
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  train = (_images(6, 30, 40, 3, 0), np.array([0, 1, 2, 999, 5, 1], np.int64))
  test = (_images(3, 36, 28, 3, 1), np.array([3, 4, 5], np.int64))
  _prepare(tmp_path, "imagenet2012", "5.1.0",
           tfds.features.Image(shape=(None, None, 3), encoding_format="jpeg"), train, test, 1000,
           test_split="validation")
  config = DataConfig(dataset_name="imagenet2012", data_dir=str(tmp_path), image_size=24,
                      batch_size=2, noise_fraction=0.4)
  info = pipeline.dataset_info(config)
  assert (info.num_classes, info.image_shape, info.num_train, info.num_test) == (
      1000, (24, 24, 3), 6, 3)
  assert info.source.encoded and info.source.format("test") == "tfds"
  raw = next(iter(info.source.open("train")))
  assert raw["image"].dtype == tf.string and tf.io.is_jpeg(raw["image"])
  # tfds' builder stores JPEG only from 3.0.0: the pipeline skips its per-image format test
  assert info.source.split("train").jpeg_only and info.source.split("test").jpeg_only
  assert sorted(info.source.split("train").labels()[0].tolist()) == [0, 1, 1, 2, 5, 999]
  examples = list(pipeline.build_eval_dataset(info.source, "inception_imagenet", batch_size=8)
                  .unbatch().as_numpy_iterator())
  assert sorted(int(e["label"]) for e in examples) == [3, 4, 5]
  assert examples[0]["image"].shape == (24, 24, 3)
  batch = next(iter(pipeline.build_train_dataset(info.source, "resnet_imagenet", seed=1)))
  assert batch["image"].shape == (2, 24, 24, 3)


def test_tfds_name_with_fixed_shape_images_decodes_them(tmp_path):
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  train = (_images(5, 8, 8, 1, 2), np.array([0, 1, 2, 3, 4], np.int64))
  test = (_images(2, 8, 8, 1, 3), np.array([1, 0], np.int64))
  _prepare(tmp_path, "tiny_digits", "1.0.0", tfds.features.Image(shape=(8, 8, 1)), train, test, 5)
  config = DataConfig(dataset_name="tfds:tiny_digits", data_dir=str(tmp_path), batch_size=2)
  info = pipeline.dataset_info(config)
  assert (info.num_classes, info.image_shape, info.num_train, info.num_test) == (
      5, (8, 8, 1), 5, 2)
  assert not info.source.encoded
  batch = next(iter(pipeline.build_train_dataset(info.source, "standardize", seed=0)))
  assert batch["image"].shape == (2, 8, 8, 1)


def test_missing_prepared_data_say_how_to_prepare(tmp_path):
  config = DataConfig(dataset_name="imagenet2012", data_dir=str(tmp_path))
  with pytest.raises(sources.DataNotFoundError, match=r"no prepared tfds dataset imagenet2012.*"
                     r"ILSVRC2012_img_train.tar and ILSVRC2012_img_val.tar.*`tfds build "
                     r"imagenet2012 --manual_dir=M --data_dir="):
    pipeline.dataset_info(config)
  with pytest.raises(sources.DataNotFoundError, match=r"no prepared tfds dataset nope.*"
                     r"`tfds build nope --data_dir=D`"):
    pipeline.dataset_info(DataConfig(dataset_name="tfds:nope", data_dir=str(tmp_path)))
  with pytest.raises(config_lib.ConfigError, match=r"--dataset_name='tfds:' is invalid"):
    DataConfig(dataset_name="tfds:")
