"""Damaged checkpoints: the newest readable one is found, skipped ones are named, the manager and
its state file are repaired, and a killed save's `_temp` directories are removed."""
import glob
import os

import numpy as np
import pytest
import tensorflow as tf

from mentornet_tf import checkpoints
import entry_runner

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _save_steps(directory, steps, max_to_keep=10):
  """Saves a tiny checkpoint (v = step) at each of `steps`.

  Returns (checkpoint, variable, manager).
  """
  variable = tf.Variable(tf.zeros([50, 20]))
  checkpoint = tf.train.Checkpoint(v=variable)
  manager = tf.train.CheckpointManager(checkpoint, str(directory), max_to_keep=max_to_keep)
  for step in steps:
    variable.assign(tf.fill([50, 20], float(step)))
    manager.save(checkpoint_number=step)
  return checkpoint, variable, manager


def _truncate(path, size):
  with open(path, "rb") as f:
    data = f.read()
  with open(path, "wb") as f:
    f.write(data[:size])


def _data_file(directory, step):
  (path,) = glob.glob(os.path.join(str(directory), f"ckpt-{step}.data-*"))
  return path


def _name(path):
  return os.path.basename(path) if path else path


def test_intact_directory_gives_the_newest(tmp_path):
  _save_steps(tmp_path, [10, 20, 30])
  path, skipped = checkpoints.latest_readable_checkpoint(str(tmp_path))
  assert _name(path) == "ckpt-30" and skipped == []


@pytest.mark.parametrize("damage,reason", [
    ("truncate_index", "index"),
    ("empty_index", "empty"),
    ("delete_index", "index file is missing"),
    ("delete_data", "data"),
    ("truncate_data", "data is unreadable"),
])
def test_damaged_newest_is_skipped_and_named(tmp_path, damage, reason):
  _save_steps(tmp_path, [10, 20, 30])
  index = os.path.join(str(tmp_path), "ckpt-30.index")
  data = _data_file(tmp_path, 30)
  if damage == "truncate_index":
    _truncate(index, 20)
  elif damage == "empty_index":
    _truncate(index, 0)
  elif damage == "delete_index":
    os.remove(index)
  elif damage == "delete_data":
    os.remove(data)
  else:
    _truncate(data, os.path.getsize(data) // 2)
  path, skipped = checkpoints.latest_readable_checkpoint(str(tmp_path))
  assert _name(path) == "ckpt-20"
  assert [_name(p) for p, _ in skipped] == ["ckpt-30"]
  assert reason in skipped[0][1], skipped
  message = checkpoints.describe_skipped(skipped, path)
  assert "ckpt-30" in message and "using ckpt-20" in message


def test_killed_after_the_index_before_the_state_file(tmp_path):
  """A kill between a save's .index write and its state-file rewrite (CI hit it in the
  kill-and-resume test): the state file still names ckpt-20, the complete ckpt-30 is chosen,
  nothing is reported skipped, and the repaired state file names ckpt-30."""
  checkpoint, _, manager = _save_steps(tmp_path, [10, 20, 30])
  with open(os.path.join(str(tmp_path), "checkpoint"), "w") as f:
    f.write('model_checkpoint_path: "ckpt-20"\nall_model_checkpoint_paths: "ckpt-10"\n'
            'all_model_checkpoint_paths: "ckpt-20"\n')
  assert _name(tf.train.latest_checkpoint(str(tmp_path))) == "ckpt-20"
  path, skipped = checkpoints.latest_readable_checkpoint(str(tmp_path))
  assert _name(path) == "ckpt-30" and skipped == []
  manager = tf.train.CheckpointManager(checkpoint, str(tmp_path), max_to_keep=10)
  assert checkpoints.repair_manager_state(manager, path, skipped)
  assert _name(tf.train.latest_checkpoint(str(tmp_path))) == "ckpt-30"


def test_state_file_naming_a_missing_checkpoint(tmp_path):
  _save_steps(tmp_path, [10, 20])
  with open(os.path.join(str(tmp_path), "checkpoint"), "w") as f:
    f.write('model_checkpoint_path: "ckpt-99"\nall_model_checkpoint_paths: "ckpt-10"\n'
            'all_model_checkpoint_paths: "ckpt-20"\nall_model_checkpoint_paths: "ckpt-99"\n')
  path, skipped = checkpoints.latest_readable_checkpoint(str(tmp_path))
  assert _name(path) == "ckpt-20"
  assert [(_name(p), r) for p, r in skipped] == [("ckpt-99", "its .index file is missing")]


@pytest.mark.parametrize("content", [b"", b"garbage\n", b"\xbc\xff\x00\x13binary"])
def test_missing_or_garbage_state_file(tmp_path, content):
  _save_steps(tmp_path, [10, 20])
  state = os.path.join(str(tmp_path), "checkpoint")
  with open(state, "wb") as f:
    f.write(content)
  assert checkpoints.read_state(str(tmp_path)) is None
  path, skipped = checkpoints.latest_readable_checkpoint(str(tmp_path))
  assert _name(path) == "ckpt-20" and skipped == []
  # tf.train.CheckpointManager raises on a binary or empty state file; it is set aside first.
  assert checkpoints.remove_unreadable_state_file(str(tmp_path))
  assert not os.path.exists(state)
  os.remove(os.path.join(str(tmp_path), "ckpt-20.index"))
  path, skipped = checkpoints.latest_readable_checkpoint(str(tmp_path))
  assert _name(path) == "ckpt-10" and [_name(p) for p, _ in skipped] == ["ckpt-20"]


def test_nothing_readable(tmp_path):
  assert checkpoints.latest_readable_checkpoint(str(tmp_path)) == (None, [])
  assert checkpoints.latest_readable_checkpoint(str(tmp_path / "absent")) == (None, [])
  _save_steps(tmp_path, [10])
  _truncate(os.path.join(str(tmp_path), "ckpt-10.index"), 5)
  path, skipped = checkpoints.latest_readable_checkpoint(str(tmp_path))
  assert path is None and [_name(p) for p, _ in skipped] == ["ckpt-10"]
  assert "no readable checkpoint" in checkpoints.describe_skipped(skipped, path)


def test_steps_order_numerically_not_by_name(tmp_path):
  _save_steps(tmp_path, [9, 100, 20])
  path, _ = checkpoints.latest_readable_checkpoint(str(tmp_path))
  assert _name(path) == "ckpt-100"


def test_temp_directories_are_removed(tmp_path):
  _save_steps(tmp_path, [10])
  for name in ("ckpt-20_temp", "ckpt-30_temp_0a1b2c3d"):
    (tmp_path / name).mkdir()
    (tmp_path / name / "part-00000-of-00001.data-00000-of-00001").write_bytes(b"x" * 10)
  (tmp_path / ".worker_scratch_12").mkdir()  # another worker's private directory: kept
  removed = checkpoints.remove_temp_directories(str(tmp_path))
  assert sorted(_name(p) for p in removed) == ["ckpt-20_temp", "ckpt-30_temp_0a1b2c3d"]
  assert sorted(os.listdir(str(tmp_path))) == [
      ".worker_scratch_12", "checkpoint", "ckpt-10.data-00000-of-00001", "ckpt-10.index"]
  assert checkpoints.remove_temp_directories(str(tmp_path)) == []


def test_repaired_manager_saves_and_sweeps_normally(tmp_path):
  """After a damaged newest is skipped, the next saves are numbered by step, the state file
  names them, and max_to_keep counts only real checkpoints."""
  _save_steps(tmp_path, [10, 20, 30, 40], max_to_keep=3)  # keeps 20, 30, 40
  _truncate(os.path.join(str(tmp_path), "ckpt-40.index"), 20)
  checkpoint, variable, manager = _save_steps(tmp_path, [], max_to_keep=3)
  assert _name(manager.latest_checkpoint) == "ckpt-40"  # the state file still names it
  path, skipped = checkpoints.latest_readable_checkpoint(str(tmp_path))
  checkpoint.restore(path).assert_consumed()
  np.testing.assert_array_equal(variable.numpy(), 30.0)
  assert checkpoints.repair_manager_state(manager, path, skipped)
  assert [_name(p) for p in manager.checkpoints] == ["ckpt-20", "ckpt-30"]
  assert _name(tf.train.latest_checkpoint(str(tmp_path))) == "ckpt-30"  # state file rewritten
  manager.save(checkpoint_number=35)
  assert [_name(p) for p in manager.checkpoints] == ["ckpt-20", "ckpt-30", "ckpt-35"]
  manager.save(checkpoint_number=40)  # replaces the damaged files
  assert [_name(p) for p in manager.checkpoints] == ["ckpt-30", "ckpt-35", "ckpt-40"]
  assert not os.path.exists(os.path.join(str(tmp_path), "ckpt-20.index"))  # swept
  path, skipped = checkpoints.latest_readable_checkpoint(str(tmp_path))
  assert _name(path) == "ckpt-40" and skipped == []
  assert not checkpoints.repair_manager_state(manager, path, skipped)  # nothing to repair


def test_repair_after_garbage_state_file(tmp_path):
  _save_steps(tmp_path, [10, 20], max_to_keep=2)
  with open(os.path.join(str(tmp_path), "checkpoint"), "wb") as f:
    f.write(b"\xff\xfe")
  checkpoints.remove_unreadable_state_file(str(tmp_path))
  _, _, manager = _save_steps(tmp_path, [], max_to_keep=2)
  path, skipped = checkpoints.latest_readable_checkpoint(str(tmp_path))
  assert checkpoints.repair_manager_state(manager, path, skipped)
  assert _name(tf.train.latest_checkpoint(str(tmp_path))) == "ckpt-20"
  manager.save(checkpoint_number=30)
  manager.save(checkpoint_number=40)
  assert [_name(p) for p in manager.checkpoints] == ["ckpt-30", "ckpt-40"]
  assert os.path.exists(os.path.join(str(tmp_path), "ckpt-10.index"))  # unlisted: never deleted


def test_evaluator_restores_every_student_variable_from_the_newest_readable(tmp_path):
  """In process: the evaluated student holds the newest readable checkpoint's weights; a
  checkpoint of another architecture is refused before anything is restored or written."""
  import bad_input_cases_evaluate as cases  # pylint: disable=g-import-not-at-top
  from mentornet_tf import config as config_lib  # pylint: disable=g-import-not-at-top
  from mentornet_tf import evaluation  # pylint: disable=g-import-not-at-top
  run = cases.write_run(tmp_path, steps=(20,))
  ckpt = str(run / "ckpt")
  cases.write_run(tmp_path, steps=(40,), seed=1)  # another initialisation: other weights
  _truncate(os.path.join(ckpt, "ckpt-40.index"), 30)
  path = evaluation.latest_checkpoint(ckpt)
  assert _name(path) == "ckpt-20"
  data = config_lib.DataConfig(dataset_name="digits")
  eval_dir = str(tmp_path / "eval")
  evaluator = evaluation.Evaluator(data, config_lib.StudentConfig(studentnet="mlp"),
                                   eval_dir=eval_dir)
  assert not os.path.exists(eval_dir)  # the summary writer comes with the first result
  result = evaluator.evaluate(path)
  assert result["step"] == 20 and result["num_examples"] == 500 and os.path.isdir(eval_dir)
  reader = tf.train.load_checkpoint(path)
  names = evaluation.student_variables(path)
  assert names == evaluator.expected_variables() and len(names) == 6
  saved = [reader.get_tensor(name) for name in names]
  restored = [v.numpy() for v in evaluator.student.variables]
  for value in restored:  # every student variable holds a value of the checkpoint
    assert any(v.shape == value.shape and np.array_equal(v, value) for v in saved)
  other = evaluation.Evaluator(data, config_lib.StudentConfig(studentnet="small_cnn"),
                               eval_dir=str(tmp_path / "other"), source="config.json 'x'")
  with pytest.raises(evaluation.CheckpointMismatch, match=r"does not hold the studentnet "
                     r"'small_cnn' that config.json 'x' names \(10 classes, 8x8x1 images\)"):
    other.evaluate(path)
  assert not os.path.exists(str(tmp_path / "other"))


TINY_FLAGS = entry_runner.TINY_FLAGS


def _train(args):
  """The train command in this process (tests/entry_runner.py): returncode, stdout, stderr."""
  return entry_runner.run_entry("train", args, cwd=REPO)


@pytest.mark.slow
def test_train_resumes_from_the_newest_readable_checkpoint(tmp_path):
  """A run whose newest checkpoint is truncated (with a killed save's _temp dir and a garbage
  state file) resumes from the previous checkpoint, names what it skipped once on stderr, and
  saves normally afterwards."""
  flagfile = tmp_path / "tiny.flags"
  flagfile.write_text(TINY_FLAGS)
  run_dir = tmp_path / "run"
  ckpt = run_dir / "ckpt"
  args = [f"--flagfile={flagfile}", f"--train_log_dir={run_dir}"]
  first = _train(args + ["--max_number_of_steps=40"])  # 20 steps per epoch: ckpt-20, ckpt-40
  assert first.returncode == 0, first.stderr[-3000:]
  _truncate(str(ckpt / "ckpt-40.index"), 30)
  (ckpt / "ckpt-60_temp").mkdir()
  (ckpt / "ckpt-60_temp" / "part-00000-of-00001.index").write_bytes(b"partial")
  (ckpt / "checkpoint").write_bytes(b"\xbc\xff garbage")  # would crash CheckpointManager
  second = _train(args + ["--max_number_of_steps=60"])
  assert second.returncode == 0, second.stderr[-3000:]
  warnings = [line for line in second.stderr.splitlines() if "skipped damaged checkpoint" in line]
  assert len(warnings) == 1, second.stderr[-3000:]
  assert "ckpt-40" in warnings[0] and "using ckpt-20" in warnings[0]
  assert not (ckpt / "ckpt-60_temp").exists()
  results = __import__("json").load(open(run_dir / "results.json"))
  assert results["resumed_from"].endswith("ckpt-20")
  assert results["steps"] == 60
  assert _name(tf.train.latest_checkpoint(str(ckpt))) == "ckpt-60"
  path, skipped = checkpoints.latest_readable_checkpoint(str(ckpt))
  assert _name(path) == "ckpt-60" and skipped == []
  assert checkpoints.unreadable_reason(str(ckpt / "ckpt-40")) is None  # re-saved at step 40
