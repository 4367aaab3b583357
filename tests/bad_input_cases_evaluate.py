"""Bad input to `python -m mentornet_tf.evaluate` (run by tests/test_bad_inputs.py).

Setups write real small runs: `run/config.json` (a TrainConfig of the digits dataset, 8x8x1
images, 10 classes) and `run/ckpt/ckpt-<step>` saved the way callbacks.Checkpointer saves them
(`tf.train.Checkpoint(model=<holder with .student>)` through a CheckpointManager, so the student's
variables are `model/student/...`). Each case must end with exit status 2, one `error:` line that
names the flag, file or value, and nothing written (no eval_test/ summaries).
"""
import glob
import json
import os
import pathlib

from bad_input_harness import Case

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _config(run, studentnet="mlp", **data):
  from mentornet_tf import config as config_lib  # pylint: disable=g-import-not-at-top
  return config_lib.TrainConfig(
      data=config_lib.DataConfig(dataset_name=data.pop("dataset_name", "digits"), **data),
      student=config_lib.StudentConfig(studentnet=studentnet), max_number_of_steps=40,
      train_log_dir=str(run))


def write_run(case_dir: pathlib.Path, studentnet="mlp", steps=(40,), config=True,
              config_studentnet=None, seed=0, **data):
  """A run directory `case_dir/run` with a `studentnet` checkpoint at each of `steps`."""
  import mentornet_tf  # noqa: F401  pylint: disable=g-import-not-at-top,unused-import
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from mentornet_tf import students  # pylint: disable=g-import-not-at-top

  class Holder(tf.Module):
    def __init__(self, student):
      super().__init__()
      self.student = student

  run = case_dir / "run"
  (run / "ckpt").mkdir(parents=True, exist_ok=True)
  if config:
    config_text = _config(run, config_studentnet or studentnet, **data).to_json()
    (run / "config.json").write_text(config_text)
  student = students.build_student(studentnet, 10, (8, 8, 1), seed=seed)
  manager = tf.train.CheckpointManager(tf.train.Checkpoint(model=Holder(student)),
                                       str(run / "ckpt"), max_to_keep=10)
  for step in steps:
    manager.save(checkpoint_number=step)
  return run


def _truncate(path, size):
  data = pathlib.Path(path).read_bytes()
  pathlib.Path(path).write_bytes(data[:size])


def _truncated_only_checkpoint(case_dir):
  run = write_run(case_dir)
  _truncate(run / "ckpt" / "ckpt-40.index", 25)


def _deleted_data_only_checkpoint(case_dir):
  run = write_run(case_dir)
  for path in glob.glob(str(run / "ckpt" / "ckpt-40.data-*")):
    os.remove(path)


def _empty_directory(case_dir):
  (case_dir / "run" / "ckpt").mkdir(parents=True)
  (case_dir / "run" / "config.json").write_text(_config(case_dir / "run").to_json())


def _garbage_state_only(case_dir):
  _empty_directory(case_dir)
  (case_dir / "run" / "ckpt" / "checkpoint").write_bytes(b"\x00\xffnot a checkpoint state\n")


def _state_naming_missing(case_dir):
  _empty_directory(case_dir)
  (case_dir / "run" / "ckpt" / "checkpoint").write_text(
      'model_checkpoint_path: "ckpt-80"\nall_model_checkpoint_paths: "ckpt-80"\n')


def _config_text(text):
  def setup(case_dir):
    run = write_run(case_dir)
    (run / "config.json").write_text(text)
  return setup


def _config_edit(edit):
  def setup(case_dir):
    run = write_run(case_dir)
    raw = json.loads((run / "config.json").read_text())
    edit(raw)
    (run / "config.json").write_text(json.dumps(raw))
  return setup


def _mentornet_only(case_dir):
  """A MentorNet checkpoint (shipped baseline) where the student's should be."""
  _empty_directory(case_dir)
  source = os.path.join(REPO, "data", "mentornet_models", "baseline", "weights")
  target = case_dir / "run" / "ckpt"
  for path in glob.glob(source + ".*"):
    suffix = path[len(source):]
    (target / f"ckpt-40{suffix}").write_bytes(pathlib.Path(path).read_bytes())


def _a_file(case_dir):
  (case_dir / "ckpt.txt").write_text("not a checkpoint\n")


def _pop(*keys):
  def edit(raw):
    node = raw
    for key in keys[:-1]:
      node = node[key]
    del node[keys[-1]]
  return edit


def _set(value, *keys):
  def edit(raw):
    node = raw
    for key in keys[:-1]:
      node = node[key]
    node[keys[-1]] = value
  return edit


CKPT = "--checkpoint_dir={dir}/run/ckpt"
E = "evaluate"

CASES = [
    Case("evaluate_missing_checkpoint_dir", E, ["--once"], r"--checkpoint_dir is required"),
    Case("evaluate_nonexistent_path", E, ["--checkpoint_dir={dir}/nowhere", "--once"],
         r"--checkpoint_dir='.*nowhere' does not exist"),
    Case("evaluate_a_plain_file", E, ["--checkpoint_dir={dir}/ckpt.txt", "--once"],
         r"ckpt\.txt' is neither a directory of checkpoints nor a checkpoint prefix",
         setup=_a_file),
    Case("evaluate_imagenet_val_of_a_run_without_it", E, [CKPT, "--once",
                                                        "--split_name=imagenet_val"],
         r"--split_name='imagenet_val': the run has no such test set.*--imagenet_val_dir",
         setup=write_run),
    Case("evaluate_empty_directory", E, [CKPT, "--once"],
         r"--checkpoint_dir='.*run/ckpt' holds no readable checkpoint", setup=_empty_directory),
    Case("evaluate_empty_directory_follow_timeout", E,
         [CKPT, "--eval_interval_secs=1", "--timeout_secs=1"],
         r"holds no readable checkpoint after --timeout_secs=1", setup=_empty_directory),
    Case("evaluate_garbage_state_file_only", E, [CKPT, "--once"],
         r"run/ckpt' holds no readable checkpoint", setup=_garbage_state_only),
    Case("evaluate_state_file_names_missing_checkpoint", E, [CKPT, "--once"],
         r"holds no readable checkpoint: ckpt-80: its \.index file is missing",
         setup=_state_naming_missing),
    Case("evaluate_truncated_index_only_checkpoint", E, [CKPT, "--once"],
         r"holds no readable checkpoint: ckpt-40: its \.index file is unreadable",
         setup=_truncated_only_checkpoint),
    Case("evaluate_deleted_data_only_checkpoint", E, [CKPT, "--once"],
         r"holds no readable checkpoint: ckpt-40: its \.data-\* file is missing",
         setup=_deleted_data_only_checkpoint),
    Case("evaluate_truncated_checkpoint_prefix", E, ["--checkpoint_dir={dir}/run/ckpt/ckpt-40"],
         r"--checkpoint_dir='.*ckpt-40': the checkpoint is damaged: its \.index file is "
         r"unreadable", setup=_truncated_only_checkpoint),
    Case("evaluate_index_file_given", E, ["--checkpoint_dir={dir}/run/ckpt/ckpt-40.index"],
         r"is an index file: give the checkpoint prefix '.*ckpt-40'", setup=write_run),
    Case("evaluate_config_not_json", E, [CKPT, "--once"],
         r"config\.json '.*run/config\.json' is not JSON", setup=_config_text("{not json")),
    Case("evaluate_config_empty", E, [CKPT, "--once"],
         r"config\.json '.*' is not JSON", setup=_config_text("")),
    Case("evaluate_config_a_list", E, [CKPT, "--once"],
         r"config\.json '.*' has wrong fields: a JSON object expected, found list",
         setup=_config_text("[1, 2]")),
    Case("evaluate_config_missing_student", E, [CKPT, "--once"],
         r"config\.json '.*' has wrong fields: missing 'student'",
         setup=_config_edit(_pop("student"))),
    Case("evaluate_config_unknown_field", E, [CKPT, "--once"],
         r"config\.json '.*' has wrong fields: .*unexpected keyword argument 'colour'",
         setup=_config_edit(_set("red", "data", "colour"))),
    Case("evaluate_config_bad_studentnet", E, [CKPT, "--once"],
         r"config\.json '.*' has wrong fields: .*studentnet.*vgg16",
         setup=_config_edit(_set("vgg16", "student", "studentnet"))),
    Case("evaluate_config_wrong_type", E, [CKPT, "--once"],
         r"config\.json '.*' has wrong fields: 'data' must be an object",
         setup=_config_edit(_set("digits", "data"))),
    Case("evaluate_mentornet_only_checkpoint", E, [CKPT, "--once"],
         r"checkpoint '.*ckpt-40' holds no StudentNet variables \(model/student/\.\.\.\), only "
         r"mentornet", setup=_mentornet_only),
    Case("evaluate_architecture_mismatch", E, [CKPT, "--once"],
         r"checkpoint '.*ckpt-40' does not hold the studentnet 'small_cnn' that config\.json "
         r"'.*config\.json' names", setup=lambda d: write_run(d, config_studentnet="small_cnn")),
    Case("evaluate_architecture_mismatch_follow", E,
         [CKPT, "--eval_interval_secs=1", "--timeout_secs=5"],
         r"does not hold the studentnet 'tiny_cnn'",
         setup=lambda d: write_run(d, config_studentnet="tiny_cnn")),
    Case("evaluate_class_count_mismatch", E, [CKPT, "--once"],
         r"does not hold the studentnet 'mlp' that config\.json '.*' names \(7 classes, 8x8x1 "
         r"images\).*\[10\] in the checkpoint, \[7\] here",
         setup=lambda d: write_run(d, dataset_name="fake", fake_num_classes=7,
                                   fake_image_shape=(8, 8, 1))),
    Case("evaluate_no_config_flags_mismatch", E,
         [CKPT, "--once", "--dataset_name=digits", "--studentnet=small_cnn"],
         r"does not hold the studentnet 'small_cnn' that --studentnet \(no config\.json in",
         setup=lambda d: write_run(d, config=False)),
    Case("evaluate_no_config_missing_data", E,
         [CKPT, "--once", "--dataset_name=cifar10", "--data_dir={dir}/no_data"],
         r"--data_dir", setup=lambda d: write_run(d, config=False)),
    Case("evaluate_unknown_flag", E, [CKPT, "--once", "--chekpoint_interval=3"],
         r"Unknown command line flag 'chekpoint_interval'", setup=write_run),
    Case("evaluate_bad_split_name", E, [CKPT, "--once", "--split_name=validation"],
         r"--split_name", setup=write_run),
    Case("evaluate_zero_eval_interval", E, [CKPT, "--eval_interval_secs=0"],
         r"--eval_interval_secs=0 is invalid: must be >= 1", setup=write_run),
    Case("evaluate_negative_timeout", E, [CKPT, "--timeout_secs=-5"],
         r"--timeout_secs=-5 is invalid: must be >= 0", setup=write_run),
    Case("evaluate_positional_argument", E, [CKPT, "--once", "extra"],
         r"unexpected positional arguments: extra", setup=write_run),
]
