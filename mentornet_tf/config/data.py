"""`DataConfig` (where the training data comes from, how its labels are corrupted) and
`ConvertConfig` (where `python -m mentornet_tf.data.convert` writes a source's splits).

Field names equal flag names; defaults follow the original where the concept exists. No TensorFlow
import here.
"""
import dataclasses
from typing import Tuple

from mentornet_tf import names
from mentornet_tf.config.checks import check
from mentornet_tf.config.choices import (ASYMMETRIC_NOISE_DATASETS, DATA_FORMATS, MAX_NOISE_SEED,
                                         NOISE_TYPES)


@dataclasses.dataclass(frozen=True)
class DataConfig:
  """Where the training data comes from and how its labels are corrupted."""
  dataset_name: str = "cifar10"      # original flag; also mnist5k, digits (embedded), fake (tests)
  data_dir: str = ""                 # original flag: tfds dir or dir of cifar10_train-* TFRecords
  data_format: str = "auto"          # new: tfds | tfrecord | auto (tfrecord if files match)
  test_data_dir: str = ""            # new: clean test split's dir when it differs (original val/)
  noise_fraction: float = 0.0        # new: p, probability a training label is corrupted
  noise_type: str = "uniform"        # new: uniform | flip | pairflip | asymmetric (noise.py)
  noise_seed: int = 0                # new: noise is a function of (noise_seed, example id) only
  batch_size: int = 128              # original flag: GLOBAL batch size
  shuffle_buffer: int = 10000        # new
  augmentation: str = "auto"         # new: auto (the student's own) | a names.AUGMENTATIONS
  clean_subset_fraction: float = 0.1  # new: share of training ids whose clean label is known (DD)
  fake_num_train: int = 256          # new: size of the 'fake' dataset (tests, benchmarks)
  fake_num_test: int = 64
  fake_image_shape: Tuple[int, ...] = (32, 32, 3)
  fake_num_classes: int = 10
  # new (image-file sources: filelist, folder, webvision*): square side images are preprocessed to,
  # the list files of filelist (relative to data_dir unless absolute), its class count.
  image_size: int = 224
  train_list: str = "train.txt"
  test_list: str = "test.txt"
  num_classes: int = 0
  # new: webvision*: ILSVRC12 val (a prepared imagenet2012 or its conversion), restricted to the
  # WebVision synsets, as a second clean test set (data/imagenet_val.py)
  imagenet_val_dir: str = ""
  # new: cifar10_n / cifar100_n: which human label set, and the directory of the label files
  # (default data_dir; data/cifar_n.py).
  cifar_n_labels: str = "auto"
  cifar_n_dir: str = ""

  def __post_init__(self):
    check(self.dataset_name in names.DATASETS or (
        self.dataset_name.startswith(names.TFDS_PREFIX)
        and len(self.dataset_name) > len(names.TFDS_PREFIX)), "dataset_name", self.dataset_name,
           f"choose one of {', '.join(names.DATASETS)}, or tfds:NAME")
    check(self.image_size >= 1, "image_size", self.image_size, "must be a positive integer")
    check(self.num_classes >= 0, "num_classes", self.num_classes, "must be >= 0")
    check(not self.imagenet_val_dir or self.dataset_name in (
        "webvision", "webvision_mini", "tfrecord_shards"), "imagenet_val_dir",
           self.imagenet_val_dir, "ILSVRC12 val on the WebVision classes needs "
           "--dataset_name=webvision or webvision_mini (or their tfrecord_shards conversion), "
           f"not {self.dataset_name}")
    check(not (self.dataset_name.startswith("webvision") and self.noise_fraction > 0),
           "noise_fraction", self.noise_fraction,
           f"--dataset_name={self.dataset_name} labels are already noisy (web labels): use 0")
    check(not (self.dataset_name.endswith("_n") and self.noise_fraction > 0), "noise_fraction",
           self.noise_fraction,
           f"--dataset_name={self.dataset_name} labels are already noisy (human labels): use 0")
    own = {"cifar10_n": ("auto", "aggre", "worst", "rand1", "rand2", "rand3"),
           "cifar100_n": ("auto", "noisy100")}.get(self.dataset_name, ("auto",))
    check(self.cifar_n_labels in own, "cifar_n_labels", self.cifar_n_labels,
           f"--dataset_name={self.dataset_name} takes {', '.join(own)}"
           + ("" if self.dataset_name.endswith("_n") else " (it applies to cifar10_n, cifar100_n)"))
    check(self.data_format in DATA_FORMATS, "data_format", self.data_format,
           f"choose one of {', '.join(DATA_FORMATS)}")
    check(0.0 <= self.noise_fraction <= 1.0, "noise_fraction", self.noise_fraction,
           "must lie in [0, 1]")
    check(self.noise_type in NOISE_TYPES, "noise_type", self.noise_type,
           f"choose one of {', '.join(NOISE_TYPES)}")
    check(self.noise_type != "asymmetric" or self.dataset_name in ASYMMETRIC_NOISE_DATASETS,
           "noise_type", self.noise_type, f"asymmetric noise has class maps for --dataset_name="
           f"{', '.join(ASYMMETRIC_NOISE_DATASETS)} only, not {self.dataset_name}")
    check(0 <= self.noise_seed <= MAX_NOISE_SEED, "noise_seed", self.noise_seed,
           f"must lie in [0, {MAX_NOISE_SEED}]")
    check(self.batch_size >= 1, "batch_size", self.batch_size, "must be a positive integer")
    check(self.shuffle_buffer >= 1, "shuffle_buffer", self.shuffle_buffer, "must be >= 1")
    check(0.0 <= self.clean_subset_fraction <= 1.0, "clean_subset_fraction",
           self.clean_subset_fraction, "must lie in [0, 1]")
    check(self.augmentation in names.AUGMENTATION_CHOICES, "augmentation", self.augmentation,
           f"choose one of {', '.join(names.AUGMENTATION_CHOICES)}")
    check(self.fake_num_train >= 1 and self.fake_num_test >= 1, "fake_num_train",
           (self.fake_num_train, self.fake_num_test), "the fake splits need >= 1 example each")
    check(self.fake_num_classes >= 2, "fake_num_classes", self.fake_num_classes, "must be >= 2")


@dataclasses.dataclass(frozen=True)
class ConvertConfig:
  """What `python -m mentornet_tf.data.convert` writes: `data`'s splits as sharded TFRecords."""
  data: DataConfig = dataclasses.field(default_factory=DataConfig)  # the source (its fields)
  output_dir: str = ""               # <output_dir>/<split>/ per split (data/shards.py)
  splits: Tuple[str, ...] = ("train", "test")
  examples_per_shard: int = 1000     # shards = ceil(examples / this); ~110 MB of ImageNet JPEGs

  def __post_init__(self):
    check(bool(self.output_dir), "output_dir", self.output_dir,
           "the directory the shards are written to is required")
    check(bool(self.splits) and set(self.splits) <= {"train", "test"}
           and len(set(self.splits)) == len(self.splits), "splits", ",".join(self.splits),
           "choose train, test or both (comma-separated, each once)")
    check(self.examples_per_shard >= 1, "examples_per_shard", self.examples_per_shard,
           "must be >= 1")
