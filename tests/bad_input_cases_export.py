"""Bad-input cases for `python -m mentornet_tf.export` (run by tests/test_bad_inputs.py through
tests/bad_input_harness.py once the harness knows the entry: ENTRIES["export"] =
"mentornet_tf.export", and its driver calls the module's `define_flags()` before `cli.run`).

Each case ends with exit status 2 before anything is written: the last stderr line names the
flag or path, and the case directory is unchanged (no export/, no temporary directory).
"""
import json

from bad_input_harness import Case

_CONFIG = json.dumps({"data": {"dataset_name": "digits"}, "student": {"studentnet": "mlp"},
                      "mentor": {"weighting": "none"}})


def _run(checkpoint_bytes=None, export_file=None):
  """A setup that writes a run directory <case>/run: config.json, ckpt/ and optional files."""
  def setup(case_dir):
    run = case_dir / "run"
    (run / "ckpt").mkdir(parents=True)
    (run / "config.json").write_text(_CONFIG)
    if checkpoint_bytes is not None:
      (run / "ckpt" / "ckpt-5.index").write_bytes(checkpoint_bytes)
      (run / "ckpt" / "ckpt-5.data-00000-of-00001").write_bytes(checkpoint_bytes)
    if export_file is not None:
      (run / "export").mkdir()
      (run / "export" / export_file).write_text("mine")
  return setup


CASES = [
    Case("export_no_train_log_dir", "export", [], r"--train_log_dir is required"),
    Case("export_missing_run", "export", ["--train_log_dir={dir}/nope"],
         r"--train_log_dir='.*nope' is not a directory"),
    Case("export_no_config", "export", ["--train_log_dir={dir}"], r"holds no config\.json"),
    Case("export_no_checkpoint", "export", ["--train_log_dir={dir}/run"], r"no readable checkpoint",
         setup=_run()),
    Case("export_corrupt_checkpoint", "export", ["--train_log_dir={dir}/run"],
         r"no readable checkpoint .*ckpt-5: unreadable", setup=_run(checkpoint_bytes=b"\0junk")),
    Case("export_missing_checkpoint_flag", "export",
         ["--train_log_dir={dir}/run", "--checkpoint={dir}/run/ckpt/ckpt-9"],
         r"--checkpoint=.*ckpt-9' is not a readable training checkpoint", setup=_run()),
    Case("export_output_not_empty", "export", ["--train_log_dir={dir}/run"],
         r"--output_dir=.*exists and is not empty; pass --overwrite", setup=_run(export_file="x")),
    Case("export_output_is_run", "export",
         ["--train_log_dir={dir}/run", "--output_dir={dir}/run", "--overwrite"],
         r"would replace the run directory", setup=_run()),
    Case("export_positional", "export", ["--train_log_dir={dir}", "extra"],
         r"unexpected positional arguments: extra"),
    Case("export_unknown_flag", "export", ["--train_log_dir={dir}", "--output_dri=x"],
         r"output_dri"),
]
