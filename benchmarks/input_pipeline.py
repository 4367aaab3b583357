r"""Is our ImageNet input pipeline as fast as the Model Garden's? Images/s per CPU core, compared.

Writes --num_images random JPEGs of ImageNet-like sizes (about 400x350, smooth content plus noise,
4:2:0 chroma, quality 90) as a class-per-folder tree, converts it with our converter
(`mentornet_tf.data.convert`), and feeds both pipelines from the same TFRecords
(`image/encoded`, `image/class/label`):

  ours          pipeline.build_train_dataset on --dataset_name=tfrecord_shards: shuffle, repeat,
                decode-and-crop on the JPEG bytes, augmentation seeded per (seed, id, epoch),
                batch, noisy labels by id; 'inception' (inception_imagenet, 299) and 'resnet'
                (resnet_imagenet, 224) styles (data/preprocess_imagenet.py).
  model_garden  official.vision.dataloaders.classification_input Decoder + Parser(is_training)
                (random crop on the JPEG bytes, flip, resize, mean/std), as
                official.core.input_reader builds it: interleaved TFRecords, shuffle, repeat,
                parallel map, batch, prefetch; at 224 and at 299.

Both run on a private tf.data thread pool of --threads threads (default: every core), alternating
for --rounds rounds. Prints images/s (wall clock, the best round), images/s per core (images per
CPU second of the process, all tf.data threads counted: robust to other load on the machine;
median of rounds), the ratio ours / Model Garden per core at the same output size (target >= 1.0)
and the cores needed to feed one accelerator at --steps_per_second x --batch_size images/s.

  python benchmarks/input_pipeline.py                         # 512 images, batch 32, 3 rounds
  python benchmarks/input_pipeline.py --threads=1 --batches=20 --steps_per_second=3.5
"""
import argparse
import os
import statistics
import tempfile
import time

from mentornet_tf import entry

entry.prepare_environment()  # before TensorFlow: quiet C++ logs, tf.keras = tf_keras (official)

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from mentornet_tf.config import ConvertConfig, DataConfig  # noqa: E402
from mentornet_tf.data import convert  # noqa: E402
from mentornet_tf.data import pipeline  # noqa: E402
from mentornet_tf.data import sources  # noqa: E402

NUM_CLASSES = 10
# (pipeline, style or None, output size): the rows of the table.
CASES = (("ours", "resnet", 224), ("model_garden", None, 224),
         ("ours", "inception", 299), ("model_garden", None, 299))


def write_jpegs(root: str, count: int, seed: int = 0) -> float:
  """`count` JPEGs under root/train/<class>/ (and a small val/); returns their mean size in KB."""
  rng = np.random.default_rng(seed)
  sizes = []
  for split, number in (("train", count), ("val", NUM_CLASSES)):
    for i in range(number):
      height, width = int(rng.integers(300, 420)), int(rng.integers(320, 480))
      coarse = rng.uniform(0, 255, size=(height // 16 + 1, width // 16 + 1, 3))
      smooth = tf.image.resize(coarse[None], [height, width], method="bicubic")[0].numpy()
      pixels = np.clip(smooth + rng.normal(0, 12, size=smooth.shape), 0, 255).astype(np.uint8)
      data = tf.io.encode_jpeg(pixels, quality=90).numpy()
      directory = os.path.join(root, split, f"c{i % NUM_CLASSES}")
      os.makedirs(directory, exist_ok=True)
      with open(os.path.join(directory, f"{i:05d}.jpg"), "wb") as f:
        f.write(data)
      sizes.append(len(data))
  return float(np.mean(sizes)) / 1024


def ours(shards_dir: str, style: str, size: int, batch_size: int,
         shuffle_buffer: int) -> tf.data.Dataset:
  config = DataConfig(dataset_name="tfrecord_shards", data_dir=shards_dir, image_size=size,
                      batch_size=batch_size, shuffle_buffer=shuffle_buffer, noise_fraction=0.4)
  return pipeline.build_train_dataset(sources.resolve(config), f"{style}_imagenet", seed=0)


def model_garden(files, size: int, batch_size: int, shuffle_buffer: int) -> tf.data.Dataset:
  from official.vision.dataloaders import classification_input  # pylint: disable=g-import-not-at-top
  decoder = classification_input.Decoder()
  parser = classification_input.Parser(output_size=[size, size], num_classes=NUM_CLASSES,
                                       aug_rand_hflip=True, aug_crop=True,
                                       decode_jpeg_only=True)
  parse = parser.parse_fn(is_training=True)
  dataset = tf.data.Dataset.from_tensor_slices(list(files)).shuffle(len(files), seed=0)
  dataset = dataset.interleave(tf.data.TFRecordDataset, cycle_length=min(16, len(files)),
                               num_parallel_calls=tf.data.AUTOTUNE, deterministic=False)
  dataset = dataset.shuffle(shuffle_buffer, seed=0).repeat()
  dataset = dataset.map(lambda record: parse(decoder.decode(record)),
                        num_parallel_calls=tf.data.AUTOTUNE, deterministic=False)
  return dataset.batch(batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE)


def with_threads(dataset: tf.data.Dataset, threads: int) -> tf.data.Dataset:
  options = tf.data.Options()
  options.threading.private_threadpool_size = threads
  return dataset.with_options(options)


def measure(dataset: tf.data.Dataset, warmup: int, batches: int, batch_size: int):
  """(images per wall second, images per CPU second) over `batches` batches after `warmup`.

  CPU seconds are this process's (every tf.data thread included): images per CPU second is
  images/s per fully used core, and other processes on the machine barely change it.
  """
  iterator = iter(dataset)
  for _ in range(warmup):  # the shuffle buffer fills, the functions are traced
    next(iterator)
  wall, cpu = time.perf_counter(), time.process_time()
  for _ in range(batches):
    batch = next(iterator)
    (batch["image"] if isinstance(batch, dict) else batch[0]).numpy()
  images = batches * batch_size
  return images / (time.perf_counter() - wall), images / (time.process_time() - cpu)


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--num_images", type=int, default=512)
  parser.add_argument("--batch_size", type=int, default=32)
  parser.add_argument("--batches", type=int, default=40, help="timed batches per round")
  parser.add_argument("--warmup", type=int, default=8)
  parser.add_argument("--rounds", type=int, default=3)
  parser.add_argument("--threads", type=int, default=os.cpu_count())
  parser.add_argument("--shuffle_buffer", type=int, default=512)
  parser.add_argument("--examples_per_shard", type=int, default=64)
  parser.add_argument("--steps_per_second", type=float, default=1.0,
                      help="the accelerator's training steps/s at --batch_size")
  parser.add_argument("--work_dir", default="", help="default: a temporary directory")
  args = parser.parse_args()

  work_dir = args.work_dir or tempfile.mkdtemp(prefix="input_pipeline_")
  kilobytes = write_jpegs(os.path.join(work_dir, "jpeg"), args.num_images)
  shards_dir = os.path.join(work_dir, "shards")
  convert.convert(ConvertConfig(data=DataConfig(dataset_name="folder",
                                                data_dir=os.path.join(work_dir, "jpeg")),
                                output_dir=shards_dir, splits=("train",),
                                examples_per_shard=args.examples_per_shard))
  files = sources.resolve(DataConfig(dataset_name="tfrecord_shards",
                                     data_dir=shards_dir)).split("train").files
  print(f"{args.num_images} JPEGs of {kilobytes:.0f} KB on average in {len(files)} shards; "
        f"batch {args.batch_size}; {args.threads} tf.data threads ({os.cpu_count()} cores); "
        f"{args.rounds} rounds of {args.batches} batches", flush=True)

  def build(case):
    name, style, size = case
    if name == "ours":
      dataset = ours(shards_dir, style, size, args.batch_size, args.shuffle_buffer)
    else:
      dataset = model_garden(files, size, args.batch_size, args.shuffle_buffer)
    return with_threads(dataset, args.threads)

  rates = {case: [] for case in CASES}
  for _ in range(args.rounds):
    for case in CASES:  # alternating, so that a busy machine slows every pipeline alike
      rates[case].append(measure(build(case), args.warmup, args.batches, args.batch_size))
  needed = args.steps_per_second * args.batch_size
  print(f"\n{'pipeline':<18}{'size':>5}{'images/s':>10}{'per core':>10}{'vs MG':>7}"
        f"{'cores to feed ' + format(needed, '.0f') + ' img/s':>26}")
  for case in CASES:
    name, style, size = case
    wall = max(rate for rate, _ in rates[case])  # the least disturbed round
    per_core = statistics.median(rate for _, rate in rates[case])
    reference = statistics.median(rate for _, rate in rates[("model_garden", None, size)])
    label = f"{name} ({style})" if style else name
    print(f"{label:<18}{size:>5}{wall:>10.1f}{per_core:>10.1f}{per_core / reference:>7.2f}"
          f"{needed / per_core:>26.2f}")
  print("images/s: wall clock, best round; per core: images per CPU second of this process "
        "(median of rounds); vs MG: per core, against the Model Garden at the same size")


if __name__ == "__main__":
  main()
