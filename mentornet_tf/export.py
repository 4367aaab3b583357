r"""Exports what a training run learned as SavedModels: its StudentNet and, if any, its MentorNet.

  python -m mentornet_tf.export --train_log_dir=runs/X [--output_dir=runs/X/export]
      [--checkpoint=runs/X/ckpt/ckpt-<step>] [--overwrite]

Writes <output_dir>/student (signature `serving_default`: float32 images [B, H, W, C] with raw
pixels in 0..255 -> `logits` [B, K] and `probabilities` [B, K]; the run's evaluation
preprocessing is inside the signature; `preprocessed` takes already preprocessed images),
<output_dir>/mentornet for a run with --weighting=mentornet (features [B, 4] -> `logits` and
`weights` [B, 1]) and <output_dir>/export.json. Details: mentornet_tf/exporting.py.

Refused (exit 2, one `error:` line, nothing written): no run directory or config.json, no
readable checkpoint, a checkpoint of another StudentNet, an --output_dir that exists and is not
empty (unless --overwrite) or that is the run directory. See mentornet_tf/cli.py.
"""
from mentornet_tf import entry  # noqa: F401  (first: a command's TF environment; entry.py)

from absl import flags

from mentornet_tf import cli
from mentornet_tf import flags as flags_lib

FLAGS = flags.FLAGS


def define_flags() -> None:
  """Registers the entry's flags (idempotent; only when it runs as a command, never at import)."""
  g = flags_lib.Group("export")
  g.string("train_log_dir", "", "The run directory to export (config.json, ckpt/).")
  g.string("output_dir", "", "Where to write the SavedModels; default <train_log_dir>/export.")
  g.string("checkpoint", "", "A checkpoint prefix to export, e.g. "
           "<train_log_dir>/ckpt/ckpt-400; default the newest readable one.")
  g.bool("overwrite", False, "Replace a non-empty --output_dir.")


def export_run(train_log_dir: str, output_dir: str = "", checkpoint: str = "",
               overwrite: bool = False) -> dict:
  """Exports the run (see mentornet_tf/exporting.py); returns what export.json records.

  Raises:
    cli.BadInput: refused input; nothing was written.
  """
  from mentornet_tf import exporting  # pylint: disable=g-import-not-at-top
  if not train_log_dir:
    raise cli.BadInput("--train_log_dir is required: a run directory written by "
                       "mentornet_tf.train")
  try:
    return exporting.export_run(train_log_dir, output_dir or None, checkpoint or None, overwrite)
  except exporting.ExportError as error:
    raise cli.BadInput(str(error)) from None


def main(argv):
  if len(argv) > 1:
    raise cli.BadInput(f"unexpected positional arguments: {' '.join(argv[1:])}")
  record = export_run(FLAGS.train_log_dir, FLAGS.output_dir, FLAGS.checkpoint, FLAGS.overwrite)
  print(f"exported step {record['step']} of {record['train_log_dir']} to {record['output_dir']}: "
        f"student{' and mentornet' if 'mentornet' in record else ''} "
        f"(preprocessing inside the student's signature: "
        f"{record['student']['signatures']['serving_default']['preprocessing']})", flush=True)
  return 0


if __name__ == "__main__":
  define_flags()
  cli.run(main)
