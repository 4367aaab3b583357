"""The launcher end to end: `python -m mentornet_tf.train` on a tiny flagfile, resume, bad input."""
import contextlib
import glob
import io
import json
import os
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
import tensorflow as tf

from mentornet_tf import checkpoints
from mentornet_tf import cli
import entry_runner

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY_FLAGS = entry_runner.TINY_FLAGS


def _run(args, timeout=None, check=True):
  """The train command in this process (entry_runner.run_entry); kill/resume tests use real
  processes."""
  del timeout
  return entry_runner.run_entry("train", args, check=check)


@pytest.fixture
def flagfile(tmp_path):
  path = tmp_path / "tiny.flags"
  path.write_text(TINY_FLAGS)
  return str(path)


def _student_weights(checkpoint_prefix):
  reader = tf.train.load_checkpoint(checkpoint_prefix)
  names = sorted(n for n in reader.get_variable_to_shape_map()
                 if n.startswith("model/student/") and "OPTIMIZER_SLOT" not in n)
  assert names, "no student variables in the checkpoint"
  return {n: reader.get_tensor(n) for n in names}


def _scalar_tags(event_dir):
  from tensorboard.backend.event_processing import event_accumulator  # pylint: disable=g-import-not-at-top
  accumulator = event_accumulator.EventAccumulator(event_dir, size_guidance={"tensors": 0})
  accumulator.Reload()
  def value(event):
    array = tf.make_ndarray(event.tensor_proto)
    return array.item() if array.size == 1 else array  # histograms and images are arrays
  # In step order: the event files of two runs in one process are read in file-name order, and
  # their names end in a per-process writer counter compared as text ("...10.v2" < "...9.v2").
  return {tag: [value(e) for e in sorted(accumulator.Tensors(tag), key=lambda e: e.step)]
          for tag in accumulator.Tags()["tensors"]}


def test_train_writes_run_directory_and_replays(tmp_path, flagfile):
  run_dir = str(tmp_path / "run")
  result = _run([f"--flagfile={flagfile}", f"--train_log_dir={run_dir}",
                 "--max_number_of_steps=40"])
  assert "final clean test top-1" in result.stdout
  # Checkpoint at the last step.
  assert tf.train.latest_checkpoint(os.path.join(run_dir, "ckpt")).endswith("ckpt-40")
  # config.json and results.json.
  config = json.load(open(os.path.join(run_dir, "config.json")))
  assert config["data"]["dataset_name"] == "digits" and config["max_number_of_steps"] == 40
  results = json.load(open(os.path.join(run_dir, "results.json")))
  assert results["steps"] == 40 and len(results["history"]) == 2
  assert 0.0 < results["final_accuracy"] <= 1.0
  assert abs(results["noise"]["realised_flip_rate"] - 0.36) < 0.05
  # TensorBoard events read back: training scalars and the clean test accuracy.
  train_tags = _scalar_tags(os.path.join(run_dir, "tensorboard", "train"))
  for tag in ("loss/total_loss", "loss/orig_loss", "mentor/loss_moving_percentile",
              "mentor/data_util", "noise/accuracy_clean", "noise/memorized",
              "noise/v_precision_clean", "learning_rate", "gradient_norm",
              "perf/examples_per_second", "mentor/v"):
    assert tag in train_tags, sorted(train_tags)
  assert not [t for t in train_tags if t.startswith(("batch_", "epoch_"))], sorted(train_tags)
  assert len(train_tags["loss/orig_loss"]) == 8  # per-step values at steps 0, 5, ..., 35
  validation = _scalar_tags(os.path.join(run_dir, "tensorboard", "validation"))
  assert sorted(validation) == ["eval/accuracy", "eval/loss", "eval/top5"]
  assert len(validation["eval/accuracy"]) == 2
  np.testing.assert_allclose(validation["eval/accuracy"][-1], results["history"][-1][
      "val_accuracy"], rtol=1e-6)
  # flags.txt replays the run exactly (same seed -> same final weights).
  flags_txt = os.path.join(run_dir, "flags.txt")
  assert "--dataset_name=digits" in open(flags_txt).read()
  replay_dir = str(tmp_path / "replay")
  _run([f"--flagfile={flags_txt}", f"--train_log_dir={replay_dir}"])
  a = _student_weights(os.path.join(run_dir, "ckpt", "ckpt-40"))
  b = _student_weights(os.path.join(replay_dir, "ckpt", "ckpt-40"))
  for name in a:
    np.testing.assert_array_equal(a[name], b[name], err_msg=name)


def test_the_first_batches_callback_timing_warning_is_dropped_during_fit_only():
  """tf_keras' 6-batch timing check sees the summary writer's one-time trace; the filter drops
  that one message inside train_lib's fit, and nothing else."""
  import logging as python_logging  # pylint: disable=g-import-not-at-top
  from mentornet_tf.training import callbacks as callbacks_lib  # pylint: disable=g-import-not-at-top
  slow = ("Callback method `on_train_batch_end` is slow compared to the batch time (batch time: "
          "0.0064s vs `on_train_batch_end` time: 0.0355s). Check your callbacks.")
  records = []

  class Keep(python_logging.Handler):
    def emit(self, record):
      records.append(record.getMessage())

  logger = python_logging.getLogger("tensorflow")
  handler = Keep()
  logger.addHandler(handler)
  try:
    with callbacks_lib.first_batches_timing_warning_dropped():
      logger.warning(slow)
      logger.warning("another warning")
    logger.warning(slow)
  finally:
    logger.removeHandler(handler)
  assert records == ["another warning", slow]


@pytest.mark.slow  # two training runs
def test_flags_txt_of_a_train_epochs_run_replays_epochs_not_the_default_step_count(tmp_path,
                                                                                 flagfile):
  """--train_epochs sets max_number_of_steps; flags.txt must not write the default 39000 back,
  which would be "given" on replay and win over --train_epochs."""
  run_dir = str(tmp_path / "run")
  _run([f"--flagfile={flagfile}", f"--train_log_dir={run_dir}", "--train_epochs=1.5"])
  text = open(os.path.join(run_dir, "flags.txt")).read()
  assert "--train_epochs=1.5" in text and "--max_number_of_steps" not in text
  replay_dir = str(tmp_path / "replay")
  _run([f"--flagfile={run_dir}/flags.txt", f"--train_log_dir={replay_dir}"])
  for directory in (run_dir, replay_dir):  # 1.5 epochs of 20 steps
    assert json.load(open(os.path.join(directory, "results.json")))["steps"] == 30


@pytest.mark.slow
def test_killed_run_resumes_and_ends_with_same_weights(tmp_path, flagfile):
  """kill -9 mid-run, restart: it continues from the last checkpoint and ends bit-identical.

  Bit-identical is justified: the data order, augmentation and example dropout are pure functions
  of (seed, step, id), the restart skips the batches already consumed, and the MLP's CPU kernels
  are deterministic. The checkpoint holds the optimizer state and the loss moving average.
  """
  steps = 400
  args = [f"--flagfile={flagfile}", f"--max_number_of_steps={steps}",
          "--weighting=curriculum", "--curriculum=self_paced", "--burn_in_epoch=10",
          "--example_dropout_rates=0.1,100", "--loss_moving_average_decay=0.9"]
  reference = str(tmp_path / "reference")
  _run(args + [f"--train_log_dir={reference}"], timeout=400)

  killed = str(tmp_path / "killed")
  env = dict(os.environ, PYTHONPATH=REPO)
  process = subprocess.Popen([sys.executable, "-m", "mentornet_tf.train", *args,
                              f"--train_log_dir={killed}"], cwd=REPO, env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             start_new_session=True)
  try:
    deadline = time.time() + 300
    while time.time() < deadline and process.poll() is None:
      if len(glob.glob(os.path.join(killed, "ckpt", "ckpt-*.index"))) >= 3:
        os.killpg(process.pid, signal.SIGKILL)
        break
      time.sleep(0.02)
  finally:
    if process.poll() is None:
      os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
  # The newest complete checkpoint on disk, not the state file's: the kill can land after a
  # save wrote ckpt-N.index but before it rewrote `checkpoint` (CI saw state file ckpt-40, files
  # up to ckpt-60); the resume then rightly starts at ckpt-N (checkpoints.py orders by file name).
  interrupted_at, _ = checkpoints.latest_readable_checkpoint(os.path.join(killed, "ckpt"))
  interrupted_step = checkpoints.checkpoint_step(interrupted_at)
  assert 0 < interrupted_step < steps, "the run was not interrupted mid-way"
  named = tf.train.latest_checkpoint(os.path.join(killed, "ckpt"))
  assert named is None or checkpoints.checkpoint_step(named) <= interrupted_step

  _run(args + [f"--train_log_dir={killed}"], timeout=400)
  results = json.load(open(os.path.join(killed, "results.json")))
  assert results["resumed_from"].endswith(f"ckpt-{interrupted_step}")
  assert results["steps"] == steps
  # results.json covers the whole run: history, best and best epoch as if never killed.
  expected = json.load(open(os.path.join(reference, "results.json")))
  for runtime in ("resumed_from", "train_seconds"):
    results.pop(runtime), expected.pop(runtime)
  assert results == expected
  a = _student_weights(os.path.join(reference, "ckpt", f"ckpt-{steps}"))
  b = _student_weights(os.path.join(killed, "ckpt", f"ckpt-{steps}"))
  for name in a:
    np.testing.assert_array_equal(a[name], b[name], err_msg=name)


@pytest.mark.parametrize("flag,needle", [
    ("--loss_p_precentile=0.75", "loss_p_precentile"),      # the original's silent misspelling
    ("--noise_fraction=1.5", "--noise_fraction=1.5"),
    ("--example_dropout_rates=0.5,17,0.05,80", "--example_dropout_rates"),
    ("--lr_schedule=piecewise --lr_values=0.1,0.01", "--lr_values"),
    ("--studentnet=vgg16", "studentnet"),
])
def test_bad_flags_fail_loudly_and_write_nothing(tmp_path, flagfile, flag, needle):
  run_dir = tmp_path / "run"
  result = _run([f"--flagfile={flagfile}", f"--train_log_dir={run_dir}", *flag.split()],
                check=False, timeout=120)
  assert result.returncode != 0
  assert needle in result.stderr
  assert not run_dir.exists()


def test_missing_data_and_unwritable_directory(tmp_path, flagfile):
  run_dir = tmp_path / "run"
  result = _run([f"--flagfile={flagfile}", f"--train_log_dir={run_dir}", "--dataset_name=cifar10",
                 f"--data_dir={tmp_path / 'nowhere'}"], check=False, timeout=120)
  assert result.returncode == 2 and "--data_dir" in result.stderr, result.stderr[-2000:]
  assert not run_dir.exists()
  blocker = tmp_path / "a_file"
  blocker.write_text("x")
  result = _run([f"--flagfile={flagfile}", f"--train_log_dir={blocker / 'run'}"], check=False,
                timeout=120)
  assert result.returncode == 2 and "--train_log_dir" in result.stderr, result.stderr[-2000:]
  result = _run([f"--flagfile={flagfile}", f"--train_log_dir={run_dir}",
                 f"--trained_mentornet_dir={tmp_path / 'no_mentor'}"], check=False, timeout=120)
  assert result.returncode == 2 and "--trained_mentornet_dir" in result.stderr
  assert not run_dir.exists()


@pytest.mark.slow  # ~5-12 s: a whole training run or a fresh TF process
def test_dd_in_one_run_with_export_then_list_and_evaluate(tmp_path, flagfile):
  """MentorNet DD learned inside the run (Step 6 at the end of burn-in), weights exported."""
  run_dir = str(tmp_path / "dd")
  _run([f"--flagfile={flagfile}", f"--train_log_dir={run_dir}", "--max_number_of_steps=60",
        "--weighting=mentornet", "--update_mentornet_epochs=30", "--burn_in_epoch=34",
        "--fixed_epoch_after_burn_in", "--loss_p_percentile=0.6", "--clean_subset_fraction=0.3",
        "--mentornet_learning_steps=300", "--example_dropout_rates=0.0,100", "--export_weights"])
  updates = os.path.join(run_dir, "mentornet_updates")
  assert os.path.exists(os.path.join(updates, "student_dump_epoch_30.txt"))
  meta = json.load(open(os.path.join(updates, "mentornet_dd_epoch_30", "mentornet.json")))
  assert meta["curriculum"] == "data_driven" and meta["epochs"] == [30, 31, 32, 33, 34]
  exports = sorted(glob.glob(os.path.join(run_dir, "weights", "epoch_*.csv")))
  assert len(exports) == 3
  mentornet_tags = _scalar_tags(os.path.join(run_dir, "tensorboard", "mentornet"))
  assert "mentornet/dd_test_mse" in mentornet_tags
  assert "train_split/v_precision_clean" in mentornet_tags
  from mentornet_tf import evaluate  # pylint: disable=g-import-not-at-top
  from mentornet_tf import list_mislabelled  # pylint: disable=g-import-not-at-top
  listing = io.StringIO()
  with contextlib.redirect_stdout(listing):
    listed = list_mislabelled.list_examples(run_dir, limit=5)
  assert "detection against the known clean labels" in listing.getvalue()
  assert len(listed["listed"]) <= 5
  [result] = evaluate.evaluate_checkpoint(os.path.join(run_dir, "ckpt"), once=True)
  expected = json.load(open(os.path.join(run_dir, "results.json")))
  assert result["num_examples"] == 500 and result["step"] == 60
  np.testing.assert_allclose(result["accuracy"], expected["final_accuracy"], atol=1e-6)
  # Follow mode (as cifar_eval.py): evaluates new checkpoints, stops at the run's last step.
  follow = evaluate.evaluate_checkpoint(os.path.join(run_dir, "ckpt"), eval_interval_secs=1,
                                        timeout_secs=60)
  assert follow[-1]["step"] == 60
  assert os.listdir(os.path.join(run_dir, "eval_test"))  # eval/accuracy summaries
  # Started before the run wrote ckpt/: waits for it (here it appears after ~2 s) ...
  hidden = os.path.join(run_dir, "ckpt_not_yet")
  os.rename(os.path.join(run_dir, "ckpt"), hidden)
  timer = threading.Timer(2.0, os.rename, (hidden, os.path.join(run_dir, "ckpt")))
  timer.start()
  try:
    late = evaluate.evaluate_checkpoint(os.path.join(run_dir, "ckpt"), eval_interval_secs=1,
                                        timeout_secs=60)
  finally:
    timer.join()
  assert late[-1]["step"] == 60
  # ... but not forever, and a path outside any run is refused at once.
  with pytest.raises(cli.BadInput, match=r"ckpt' did not appear within --timeout_secs=1"):
    evaluate.evaluate_checkpoint(str(tmp_path / "ckpt"),  # tmp_path: a run not started
                                 eval_interval_secs=1, timeout_secs=1)
  with pytest.raises(cli.BadInput, match="does not exist"):
    evaluate.evaluate_checkpoint(str(tmp_path / "no_run" / "ckpt"), eval_interval_secs=1,
                                 timeout_secs=1)


def test_evaluate_restores_the_student_from_the_newest_readable_checkpoint(tmp_path, flagfile):
  """evaluate's accuracy is the trained student's (not an unrestored one's ~0.1), and a damaged
  newest checkpoint is skipped with one warning naming it (see also bad_input_cases_evaluate)."""
  run_dir = str(tmp_path / "run")
  _run([f"--flagfile={flagfile}", f"--train_log_dir={run_dir}", "--max_number_of_steps=40"])
  results = json.load(open(os.path.join(run_dir, "results.json")))

  def evaluate(*extra):  # the evaluate command in this process (tests/entry_runner.py)
    process = entry_runner.run_entry(
        "evaluate", ["--once", f"--checkpoint_dir={os.path.join(run_dir, 'ckpt')}", *extra],
        cwd=REPO)
    assert process.returncode == 0, process.stderr[-2000:]
    return json.loads(process.stdout.strip().splitlines()[-1]), process.stderr

  newest, stderr = evaluate("--studentnet=resnet101", "--batch_size=7")
  assert newest["step"] == 40  # config.json decides (an mlp), and the ignored flags are named
  assert "names its data and student; ignored: --batch_size --studentnet" in stderr, stderr
  np.testing.assert_allclose(newest["accuracy"], results["final_accuracy"], atol=1e-6)
  with open(os.path.join(run_dir, "ckpt", "ckpt-40.index"), "r+b") as f:
    f.truncate(30)
  previous, stderr = evaluate()
  assert previous["step"] == 20 and previous["checkpoint"].endswith("ckpt-20")
  np.testing.assert_allclose(previous["accuracy"], results["history"][0]["val_accuracy"], atol=1e-6)
  warnings = [line for line in stderr.splitlines() if "skipped damaged checkpoint" in line]
  assert len(warnings) == 1 and "ckpt-40: its .index file is unreadable" in warnings[0], stderr
