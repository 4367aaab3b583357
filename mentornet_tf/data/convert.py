r"""Converts any dataset mentornet_tf reads into sharded TFRecords, so that large runs read few big
files (and each worker its own).

  python -m mentornet_tf.data.convert --dataset_name=webvision_mini --data_dir=/data/webvision \
      --output_dir=/data/webvision_mini_shards [--splits=train,test] [--examples_per_shard=1000]

then train with `--dataset_name=tfrecord_shards --data_dir=/data/webvision_mini_shards` (the same
examples, ids, labels and class names; label noise, keyed by (noise_seed, id), is unchanged).
Writes <output_dir>/<split>/<split>-NNNNN-of-NNNNN.tfrecord, labels.npy and, last, manifest.json
(layout and record format: mentornet_tf/data/shards.py). Image files and tfds images are stored as
read (their JPEG/PNG bytes); only decoded images (CIFAR, the embedded sets, fake) are encoded, as
PNG (float images as float32 tensors). Resumable: a rerun of the same command skips the shards and
splits already written (each shard is renamed into place only when complete).

Refused (exit 2, one `error:` line, nothing written): an unknown --dataset_name, data that are not
where the flags say, an --output_dir that is a file, lies under a file or is not writable, or
holds another conversion. See mentornet_tf/cli.py.
"""
from mentornet_tf import entry  # noqa: F401  (first: a command's TF environment; entry.py)

import sys
import time
from typing import Dict, List, Optional, TextIO

from absl import flags
from absl import logging

from mentornet_tf import cli
from mentornet_tf import config as config_lib
from mentornet_tf import flag_configs
from mentornet_tf import flags as flags_lib
from mentornet_tf import progress as progress_lib

FLAGS = flags.FLAGS


def define_flags() -> None:
  """Registers the entry's flags (idempotent; only when it runs as a command, never at import)."""
  flags_lib.define_source_flags()
  g = flags_lib.Group("convert")
  g.string("output_dir", "", "Where to write the shards: <output_dir>/<split>/ per split.")
  g.list("splits", ["train", "test"], "The splits to convert (train, test).")
  g.integer("examples_per_shard", 1000, "Examples per shard file (the last ones may hold "
            "fewer); for many workers, a shard count that is a multiple of the worker count "
            "gives each worker its own files.")


class _Progress:
  """`progress(split, done, total)`: a bar per split, on stderr (a line per shard off a tty)."""

  def __init__(self, stream: Optional[TextIO] = None):
    self.stream = stream or sys.stderr
    self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
    self.started: Dict[str, tuple] = {}

  def __call__(self, split: str, done: int, total: int) -> None:
    first_done, started = self.started.setdefault(split, (done, time.monotonic()))
    elapsed = time.monotonic() - started
    rate = (done - first_done) / elapsed if elapsed > 0 else 0.0
    text = (f"convert {split}: {done}/{total} {progress_lib.bar(done, total)} "
            f"{rate:.0f} examples/s")
    end = "\n" if not self.tty or done >= total else ""
    self.stream.write(("\r" if self.tty else "") + text + end)
    self.stream.flush()


def convert(config: config_lib.ConvertConfig, progress=None) -> List[Dict]:
  """Writes `config.data`'s splits under `config.output_dir`; returns their manifests.

  Everything is checked before anything is written: the source and each split (resolved), and
  the output directory (`shard_writer.check_output`).

  Raises:
    cli.BadInput: refused input (names the flag, file or value); nothing was written.
    cli.RunFailed: the source changed while it was being converted.
  """
  from mentornet_tf.data import shard_writer  # pylint: disable=g-import-not-at-top
  from mentornet_tf.data import sources  # pylint: disable=g-import-not-at-top
  try:
    source = sources.resolve(config.data)
    plans = [shard_writer.plan(source, split, config.examples_per_shard)
             for split in config.splits]
  except (sources.DataNotFoundError, sources.CorruptDataError,
          sources.LabelRangeError) as error:
    raise cli.BadInput(str(error)) from None
  states = shard_writer.check_output(config.output_dir, plans)
  manifests = []
  for planned in plans:
    if states[planned["split"]] == "done":
      logging.info("%s/%s is already converted", config.output_dir, planned["split"])
      manifests.append(planned)
      continue
    manifests.append(shard_writer.write_split(source, config.output_dir, planned, progress))
  return manifests


def main(argv):
  if len(argv) > 1:
    raise cli.BadInput(f"unexpected positional arguments: {' '.join(argv[1:])}")
  config = config_lib.ConvertConfig(
      data=flag_configs.source_config_from_flags(), output_dir=FLAGS.output_dir,
      splits=tuple(FLAGS.splits), examples_per_shard=FLAGS.examples_per_shard)
  manifests = convert(config, progress=_Progress())
  written = ", ".join(f"{m['split']} {m['num_examples']} examples in {len(m['shards'])} shards"
                      for m in manifests)
  print(f"converted {config.data.dataset_name} to {config.output_dir}: {written}; train with "
        f"--dataset_name=tfrecord_shards --data_dir={config.output_dir}", flush=True)
  return 0


if __name__ == "__main__":
  define_flags()
  cli.run(main)
