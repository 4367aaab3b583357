"""tf.data pipelines that follow the data element contract of WORKSPACE.md.

Every element is a dict: 'image' float32 [B, H, W, C] (preprocessed), 'label' int32 [B] (noisy for
the training split), 'clean_label' int32 [B] (diagnostics only) and 'id' int64 [B] (index in the
split). Label noise is a function of (noise_seed, id) only (`noise.py`), so it is the same under any
shuffling, batching, sharding or number of input pipelines; it is computed per batch, which is
equivalent to corrupting the whole split before sharding and shuffling.

For the original noisy CIFAR TFRecords the stored label already is the noisy one and the clean
label is unknown: then 'clean_label' equals the stored label (and `noise_fraction` should be 0;
if it is not, synthetic noise is added on top of the stored labels).

Every builder takes a DataConfig or the `sources.Source` resolved from one (`sources.resolve`);
a caller that builds more than one thing keeps the Source (`DatasetInfo.source`), so that the
source is resolved, and its TFRecords scanned, once.
"""
import dataclasses
from typing import Dict, Optional, Tuple, Union

import numpy as np
import tensorflow as tf

from mentornet_tf.config import DataConfig
from mentornet_tf.data import augment
from mentornet_tf.data import imagenet_val
from mentornet_tf.data import noise
from mentornet_tf.data import sources

# The end of an endless position range (the stream of a training run never reaches it).
_NO_END = 2 ** 62


@dataclasses.dataclass(frozen=True)
class DatasetInfo:
  """Static facts about a dataset, known before any pipeline is built."""
  name: str
  num_classes: int
  image_shape: Tuple[int, ...]   # (H, W, C)
  num_train: int
  num_test: int
  # The resolved source these facts come from (pass it on to the builders; not compared).
  source: Optional[sources.Source] = dataclasses.field(default=None, compare=False, repr=False)
  # Further clean test sets, name -> Source (`imagenet_val`: ILSVRC12 val on the WebVision
  # classes, data/imagenet_val.py); build each with build_eval_dataset(source, augmentation).
  extra_test: Dict[str, sources.Source] = dataclasses.field(default_factory=dict, compare=False,
                                                             repr=False)


Data = Union[DataConfig, sources.Source]


def dataset_info(data: Data) -> DatasetInfo:
  """Sizes, class count and image shape, and the resolved source (`info.source`).

  Resolves both splits; a TFRecord split is scanned here, once (no eager op runs: validation
  calls this before the distribution strategy configures the devices). Resolves the extra test
  sets too (`--imagenet_val_dir`: the synset match; their counts come at first use).

  Raises:
    sources.DataNotFoundError, sources.CorruptDataError, sources.LabelRangeError.
  """
  source = sources.as_source(data)
  return DatasetInfo(name=source.name, num_classes=source.num_classes,
                     image_shape=tuple(source.image_shape), num_train=source.num_train,
                     num_test=source.num_test, source=source,
                     extra_test=imagenet_val.extra_test_sets(source))


def _finish_fn(source: sources.Source, split: str, preprocess=None):
  """Completes a (batch of) example(s): noisy 'label' (training split), 'clean_label', image.

  Everything here is vectorised and keyed by id, so it runs after batching: the noisy label of an
  id does not depend on where in the pipeline it is computed.
  """
  config, classes = source.config, source.num_classes
  corrupt = split == "train" and config.noise_fraction > 0
  class_map = noise.class_map_for(config.noise_type, source.name, classes) if corrupt else None

  def finish(example: Dict[str, tf.Tensor]) -> Dict[str, tf.Tensor]:
    label = example["label"]
    if corrupt:
      label = noise.corrupt_labels(label, example["id"], classes, config.noise_fraction,
                                   config.noise_type, config.noise_seed, class_map)
    image = example["image"] if preprocess is None else preprocess(example["image"])
    return {"image": image, "label": label, "clean_label": example["clean_label"],
            "id": example["id"]}

  return finish


def _with_options(dataset: tf.data.Dataset, sharded: bool) -> tf.data.Dataset:
  options = tf.data.Options()
  options.deterministic = True
  # Our own sharding (input_context) must not be repeated by tf.distribute; without it, shard by
  # DATA: file-level auto-sharding would re-number the ids of a TFRecord source.
  options.experimental_distribute.auto_shard_policy = (
      tf.data.experimental.AutoShardPolicy.OFF if sharded
      else tf.data.experimental.AutoShardPolicy.DATA)
  return dataset.with_options(options)


def _positions(start: int) -> tf.data.Dataset:
  """int64 start, start + 1, ...: each element's position in the stream.

  A range, not `Dataset.counter`: counter is a scan that runs a function per element (measured:
  ~2% of the ImageNet pipeline's CPU per image, benchmarks/input_pipeline.py)."""
  return tf.data.Dataset.range(start, _NO_END, dtype=tf.int64)


def build_train_dataset(data: Data, augmentation: str, seed: int = 0,
                        input_context: Optional[tf.distribute.InputContext] = None,
                        initial_step: int = 0) -> tf.data.Dataset:
  """The infinite, shuffled, augmented training stream.

  Args:
    data: the data configuration (batch_size is GLOBAL), or its resolved Source.
    augmentation: 'resnet', 'cifarnet', 'standardize' or 'none' (the caller resolves 'auto').
    seed: shuffling and augmentation seed.
    input_context: from `strategy.distribute_datasets_from_function` (or, under the parameter
      server, `distribute._shard_by_worker`, whose `input_pipeline_id` is the worker index as a
      tensor); each input pipeline reads only its own examples (`Split.open(num_shards, index)`:
      its own files, or its own paths before any image is read) and batches at the per-replica
      batch size.
    initial_step: batches already consumed (a resumed run): the stream starts where an
      uninterrupted one would be, skipping raw examples before any augmentation or batching.

  Returns:
    Repeating dataset of {'image' float32 [b, H, W, C], 'label' int32 [b] (noisy),
    'clean_label' int32 [b], 'id' int64 [b]}, b = per-replica (or global) batch size. The stream
    is continuous (shuffle, repeat, batch, as the original queue): elements [k N, (k + 1) N) of
    a shard of N examples are one epoch with every id once; a batch may straddle two epochs.

  Raises:
    ValueError: for an unknown augmentation, or fewer training examples than input pipelines.
    sources.DataNotFoundError, sources.CorruptDataError, sources.LabelRangeError.
  """
  source = sources.as_source(data)
  config = source.config
  preprocess = augment.preprocess_fn(augmentation, training=True)
  num_shards, shard_index, batch_size = 1, 0, config.batch_size
  if input_context is not None:
    num_shards, shard_index = input_context.num_input_pipelines, input_context.input_pipeline_id
    batch_size = input_context.get_per_replica_batch_size(config.batch_size)
  num_train = source.num_train
  if num_train < num_shards:
    raise ValueError(f"--dataset_name={config.dataset_name} has {num_train} training examples, "
                     f"fewer than the {num_shards} input pipelines")

  split = source.split("train")
  dataset = split.open_index(num_shards, shard_index)  # file-backed: paths, read after shuffling
  dataset = dataset.shuffle(config.shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
  dataset = dataset.repeat()
  # Raw examples this pipeline consumed: each step takes the global batch, split evenly over the
  # pipelines (a pipeline serves all replicas of its worker).
  skipped = int(initial_step) * config.batch_size // num_shards
  if skipped:
    dataset = dataset.skip(skipped)
  # `split.read` (a file-backed split reads the image file) runs inside the per-example map
  # below: one parallel stage per example, as the Model Garden's parser (benchmarks/
  # input_pipeline.py).
  if source.encoded:
    # Encoded images: decoded and preprocessed per example, the seed a function of (seed, id,
    # epoch), epoch k being elements [k N, (k + 1) N) of this pipeline's N examples.
    shard_size = split.shard_size(num_shards, shard_index)
    encoded_fn = augment.encoded_preprocess_fn(augmentation, training=True,
                                               image_size=source.image_shape[0],
                                               jpeg_only=split.jpeg_only)

    def decode_example(example, position):
      example = split.read(example)
      epoch = position // shard_size
      element_seed = augment.encoded_example_seed(seed, example["id"], epoch)
      return dict(example, image=encoded_fn(example["image"], seed=element_seed))

    dataset = tf.data.Dataset.zip((dataset, _positions(skipped)))
    dataset = dataset.map(decode_example, num_parallel_calls=tf.data.AUTOTUNE)
    preprocess = None
  elif augment.is_random(augmentation, training=True):
    # One stateless seed per element, from (seed, pipeline, position in the stream): the
    # augmentation is reproducible whatever the parallelism of the map.
    base_seed = tf.stack([tf.constant(seed, tf.int64), tf.cast(shard_index, tf.int64)])

    def augment_example(example, position):
      example = split.read(example)
      element_seed = tf.random.experimental.stateless_fold_in(base_seed, position)
      return dict(example, image=preprocess(example["image"], seed=element_seed))

    dataset = tf.data.Dataset.zip((dataset, _positions(skipped)))
    dataset = dataset.map(augment_example, num_parallel_calls=tf.data.AUTOTUNE)
    preprocess = None
  elif type(split).read is not sources.Split.read:
    dataset = dataset.map(split.read, num_parallel_calls=tf.data.AUTOTUNE)
  # Noise (keyed by id) and deterministic preprocessing run once per batch: for small images
  # per-example maps would dominate the cost of an MLP step.
  dataset = dataset.batch(batch_size, drop_remainder=True)
  # Per batch; in parallel only when it preprocesses images (the noise alone is a few ops, and an
  # autotuned parallel map of it costs more CPU than it saves: benchmarks/input_pipeline.py).
  dataset = dataset.map(_finish_fn(source, "train", preprocess),
                        num_parallel_calls=tf.data.AUTOTUNE if preprocess is not None else None)
  return _with_options(dataset.prefetch(tf.data.AUTOTUNE), sharded=input_context is not None)


def build_eval_dataset(data: Data, augmentation: str, split: str = "test",
                       batch_size: Optional[int] = None) -> tf.data.Dataset:
  """A finite pass over one split in id order with evaluation preprocessing.

  Args:
    data: the data configuration, or its resolved Source.
    augmentation: the training augmentation mode; evaluation uses its test transform
      (standardization, or [0, 1] scaling for 'none').
    split: 'test' (label == clean_label) or 'train' (noisy 'label', as in training).
    batch_size: defaults to the config's batch_size; the last batch keeps the remainder.

  Returns:
    Dataset of {'image', 'label', 'clean_label', 'id'} batches as in the training stream.
  """
  source = sources.as_source(data)
  preprocess = augment.preprocess_fn(augmentation, training=False)  # deterministic: batched
  dataset = source.open(split)
  if source.encoded:  # images of any size: decoded and preprocessed before batching
    encoded_fn = augment.encoded_preprocess_fn(augmentation, training=False,
                                               image_size=source.image_shape[0],
                                               jpeg_only=source.split(split).jpeg_only)
    dataset = dataset.map(lambda example: dict(example, image=encoded_fn(example["image"])),
                          num_parallel_calls=tf.data.AUTOTUNE)
    preprocess = None
  dataset = dataset.batch(batch_size or source.config.batch_size)
  dataset = dataset.map(_finish_fn(source, split, preprocess), num_parallel_calls=tf.data.AUTOTUNE)
  return _with_options(dataset.prefetch(tf.data.AUTOTUNE), sharded=False)


# The second word of the [2] seed of a training-mode dump's augmentation (the training stream
# uses its pipeline index there, 0..n-1): the dump's draws are not the stream's.
_DUMP_AUGMENTATION_STREAM = -1


def build_train_eval_dataset(data: Data, augmentation: str, batch_size: Optional[int] = None,
                             training: bool = False, seed: int = 0) -> tf.data.Dataset:
  """The TRAINING split in id order, finite, noisy 'label' and 'clean_label'.

  Used for StudentNet loss dumps (MentorNet DD data) and per-example weight export.
  `training`: the training augmentation of `augmentation` (random crop, flip, ...) instead of
  its evaluation transform, drawn per example from (seed, id) (the MentorNet DD dump of
  `--dd_dump_mode=training`, as the train step sees the examples); else the evaluation
  preprocessing.
  """
  if not training:
    return build_eval_dataset(data, augmentation, split="train", batch_size=batch_size)
  source = sources.as_source(data)
  preprocess = augment.preprocess_fn(augmentation, training=True)
  dataset = source.open("train")
  if source.encoded:
    encoded_fn = augment.encoded_preprocess_fn(augmentation, training=True,
                                               image_size=source.image_shape[0],
                                               jpeg_only=source.split("train").jpeg_only)
    dataset = dataset.map(lambda example: dict(example, image=encoded_fn(
        example["image"], seed=augment.encoded_example_seed(seed, example["id"], 0))),
                          num_parallel_calls=tf.data.AUTOTUNE)
    preprocess = None
  elif augment.is_random(augmentation, training=True):
    base_seed = tf.constant([seed, _DUMP_AUGMENTATION_STREAM], tf.int64)
    dataset = dataset.map(lambda example: dict(example, image=preprocess(
        example["image"], seed=tf.random.experimental.stateless_fold_in(base_seed,
                                                                         example["id"]))),
                          num_parallel_calls=tf.data.AUTOTUNE)
    preprocess = None
  dataset = dataset.batch(batch_size or source.config.batch_size)
  dataset = dataset.map(_finish_fn(source, "train", preprocess),
                        num_parallel_calls=tf.data.AUTOTUNE)
  return _with_options(dataset.prefetch(tf.data.AUTOTUNE), sharded=False)


def training_noise_report(data: Data) -> Dict[str, object]:
  """`noise.noise_report` of the whole training split as configured.

  From the split's labels alone (`Split.labels`: in memory, the TFRecord scan, or the tfds
  labels with image decoding skipped), with the noise of the pipeline (keyed by id).
  """
  source = sources.as_source(data)
  config = source.config
  stored, clean = source.split("train").labels()
  noisy = stored
  class_map = noise.class_map_for(config.noise_type, source.name, source.num_classes)
  if config.noise_fraction > 0 and len(stored):
    noisy = noise.corrupt_labels(stored, np.arange(len(stored), dtype=np.int64),
                                 source.num_classes, config.noise_fraction, config.noise_type,
                                 config.noise_seed, class_map).numpy()
  return noise.noise_report(np.asarray(clean, np.int32), np.asarray(noisy, np.int32),
                            config.noise_fraction, config.noise_type, source.num_classes,
                            class_map)
