"""Runs that never lie: the run-directory lock, restarts that cannot change the experiment,
results.json over the whole run (kill -9 included), and divergence that stops the run.

The train command runs in this process (tests/entry_runner.py: its real `cli.run(main)` path, so
exit statuses and `error:` lines are the command's own) except where another process is the point:
a lock holder that is killed, a writer that holds the run directory while a second one starts, and
the runs that the kill -9 soak test kills (its reference run and its final restart run here, as in
test_train.py's resume test)."""
import dataclasses
import glob
import json
import os
import random
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf

from mentornet_tf.training import callbacks
from mentornet_tf import config as config_lib
from mentornet_tf import run_directory
import bad_input_harness
import entry_runner

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = list(entry_runner.TINY_TRAIN_ARGS)


def _train(args):
  """The train command in this process (tests/entry_runner.py): returncode, stdout, stderr."""
  return entry_runner.run_entry("train", [*TINY, *args], cwd=REPO)



def _start(args):
  env = dict(os.environ, PYTHONPATH=REPO)
  return subprocess.Popen([sys.executable, "-m", "mentornet_tf.train", *TINY, *args], cwd=REPO,
                          env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                          start_new_session=True)


def _kill(process):
  if process.poll() is None:
    os.killpg(process.pid, signal.SIGKILL)
  process.wait(timeout=30)


def _results_without_runtime(run_dir):
  with open(os.path.join(run_dir, "results.json")) as f:
    results = json.load(f)
  for key in callbacks.ResultTracker.RUNTIME_FIELDS:
    results.pop(key, None)
  return results


def _student_weights(prefix):
  reader = tf.train.load_checkpoint(prefix)
  return {n: reader.get_tensor(n) for n in reader.get_variable_to_shape_map()
          if n.startswith("model/student/") and "OPTIMIZER_SLOT" not in n}


# --- the lock --------------------------------------------------------------------------------

def test_lock_refuses_another_job_and_names_the_holder(tmp_path):
  with run_directory.RunLock(str(tmp_path), "job-a"):
    with pytest.raises(run_directory.RunDirectoryBusy) as error:
      run_directory.RunLock(str(tmp_path), "job-b").acquire()
    assert str(tmp_path) in str(error.value) and f"pid {os.getpid()}" in str(error.value)
    assert "job-a" in str(error.value)
  # Released cleanly: the file is empty, so the next holder sees no stale record.
  assert (tmp_path / ".lock").read_text() == ""
  with run_directory.RunLock(str(tmp_path), "job-b") as lock:
    assert lock.stale is None


def test_processes_of_one_job_share_the_lock(tmp_path):
  first = run_directory.RunLock(str(tmp_path), "cluster-x").acquire()
  second = run_directory.RunLock(str(tmp_path), "cluster-x").acquire()  # a second worker joins
  first.release()
  assert json.loads((tmp_path / ".lock").read_text())["job"] == "cluster-x"  # still held
  with pytest.raises(run_directory.RunDirectoryBusy):
    run_directory.RunLock(str(tmp_path), "other").acquire()
  second.release()
  assert (tmp_path / ".lock").read_text() == ""


def test_job_id_is_the_cluster_for_multi_worker_jobs(monkeypatch):
  monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": {"worker": ["a:1", "b:2"]},
                                              "task": {"type": "worker", "index": 1}}))
  worker1 = run_directory.job_id("multi_worker_mirrored")
  monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": {"worker": ["a:1", "b:2"]},
                                              "task": {"type": "worker", "index": 0}}))
  assert run_directory.job_id("multi_worker_mirrored") == worker1
  assert run_directory.job_id("default") != run_directory.job_id("default")


def test_a_stale_lock_of_a_killed_process_is_taken_over(tmp_path):
  """A real kill -9 of the holder: the kernel drops the flock, the record stays behind."""
  code = ("import sys, time; sys.path.insert(0, %r)\n"
          "from mentornet_tf import run_directory\n"
          "run_directory.RunLock(%r, 'victim').acquire(); print('locked', flush=True)\n"
          "time.sleep(600)\n") % (REPO, str(tmp_path))
  holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
  try:
    assert holder.stdout.readline().strip() == "locked"
    with pytest.raises(run_directory.RunDirectoryBusy, match=f"pid {holder.pid}"):
      run_directory.RunLock(str(tmp_path), "me").acquire()
  finally:
    holder.kill()
    holder.wait()
  with run_directory.RunLock(str(tmp_path), "me") as lock:
    assert lock.stale["job"] == "victim" and lock.stale["pid"] == holder.pid


# --- restarts that would change the experiment ----------------------------------------------

def _config(run_dir, **changes):
  data = config_lib.DataConfig(dataset_name="digits", noise_fraction=0.4, batch_size=64)
  config = config_lib.TrainConfig(data=data, student=config_lib.StudentConfig("mlp"),
                                  train_log_dir=str(run_dir), max_number_of_steps=40)
  return dataclasses.replace(config, **changes)


def test_restart_differences_ignore_restartable_flags_and_list_the_rest(tmp_path):
  config = _config(tmp_path)
  previous = json.loads(config.to_json())
  same = dataclasses.replace(config, max_number_of_steps=80, eval_interval=3, verbose=0,
                             save_interval_secs=5, summary_steps=1,
                             data=dataclasses.replace(config.data, data_dir="/elsewhere"))
  assert run_directory.experiment_differences(previous, same) == []
  changed = dataclasses.replace(config, seed=3,
                                data=dataclasses.replace(config.data, noise_fraction=0.8))
  assert sorted(run_directory.experiment_differences(previous, changed)) == [
      ("noise_fraction", 0.4, 0.8), ("seed", 0, 3)]
  # A field that an older config.json lacks counts as its default.
  del previous["mentor"]["percentile_scope"]
  assert run_directory.experiment_differences(previous, config) == []


def test_unreadable_config_json_refuses_the_restart(tmp_path):
  (tmp_path / "config.json").write_text("{not json")
  with pytest.raises(run_directory.RestartChangesExperiment, match="config.json cannot be read"):
    run_directory.check_restart(_config(tmp_path))


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
  run_dir = str(tmp_path_factory.mktemp("finished") / "run")
  result = _train([f"--train_log_dir={run_dir}", "--max_number_of_steps=40"])
  assert result.returncode == 0, result.stderr[-3000:]
  return run_dir


@pytest.mark.parametrize("flag,named", [
    ("--noise_fraction=0.8", "--noise_fraction=0.8 (the run has 0.4)"),
    ("--studentnet=small_cnn", "--studentnet='small_cnn' (the run has 'mlp')"),
    ("--seed=1", "--seed=1"),
    ("--trained_mentornet_dir={repo}/data/mentornet_models/mentornet_pd",
     "--weighting='mentornet'"),
])
def test_a_restart_that_changes_the_experiment_is_refused_and_changes_nothing(
    finished_run, flag, named):
  before = bad_input_harness.listing(finished_run)
  result = _train([f"--train_log_dir={finished_run}", "--max_number_of_steps=40",
                   flag.replace("{repo}", REPO)])
  assert result.returncode == 2, result.stderr[-3000:]
  last = result.stderr.strip().splitlines()[-1]
  assert last.startswith("error: ") and named in last and finished_run in last, last
  assert "Traceback" not in result.stderr
  assert bad_input_harness.listing(finished_run) == before


def test_rerunning_a_finished_run_keeps_its_results(finished_run):
  before = _results_without_runtime(finished_run)
  assert len(before["history"]) == 2 and before["status"] == "finished"
  result = _train([f"--train_log_dir={finished_run}", "--max_number_of_steps=40"])
  assert result.returncode == 0, result.stderr[-3000:]
  assert _results_without_runtime(finished_run) == before


# --- one writer, stale locks end to end ------------------------------------------------------

@pytest.mark.slow  # a real training process holds the lock (7 s); the in-process lock tests
def test_second_writer_refused_then_stale_lock_taken_over(tmp_path):  # above stay in the fast suite
  run_dir = str(tmp_path / "run")
  first = _start([f"--train_log_dir={run_dir}", "--max_number_of_steps=100000"])
  try:
    deadline = time.time() + 120
    while time.time() < deadline and not glob.glob(os.path.join(run_dir, "ckpt", "*.index")):
      assert first.poll() is None, first.stderr.read()[-3000:]
      time.sleep(0.1)
    second = _train([f"--train_log_dir={run_dir}", "--max_number_of_steps=100000"])
    assert second.returncode == 2, second.stderr[-3000:]
    last = second.stderr.strip().splitlines()[-1]
    assert f"--train_log_dir='{run_dir}' is in use by pid {first.pid}" in last, last
    assert first.poll() is None  # the holder goes on
  finally:
    _kill(first)
  assert json.loads(open(os.path.join(run_dir, ".lock")).read())["pid"] == first.pid
  # The killed holder's lock is stale: the next run takes it over and finishes the run.
  third = _train([f"--train_log_dir={run_dir}", "--max_number_of_steps=60"])
  assert third.returncode == 0, third.stderr[-3000:]
  assert "Took over the lock" in third.stderr and str(first.pid) in third.stderr


# --- divergence ------------------------------------------------------------------------------

def test_divergence_stops_the_run_and_keeps_the_last_finite_checkpoint(tmp_path):
  run_dir = str(tmp_path / "run")
  # 20 steps per epoch; the learning rate jumps to 1e5 after step 30: checkpoint 20 is finite.
  result = _train([f"--train_log_dir={run_dir}", "--max_number_of_steps=200",
                   "--optimizer=momentum", "--lr_schedule=piecewise", "--lr_boundaries=30",
                   "--lr_values=0.001,100000"])
  assert result.returncode == 1, result.stderr[-3000:]
  last = result.stderr.strip().splitlines()[-1]
  assert last.startswith("error: training diverged at step ") and "Traceback" not in result.stderr
  step = int(last.split("step ")[1].split(":")[0])
  assert step > 30
  results = json.load(open(os.path.join(run_dir, "results.json")))
  assert results["status"] == "diverged" and results["divergence"]["step"] == step
  assert "final_accuracy" not in results
  newest = tf.train.latest_checkpoint(os.path.join(run_dir, "ckpt"))
  assert int(newest.rsplit("-", 1)[1]) < step
  assert newest in last
  reader = tf.train.load_checkpoint(newest)
  for name in reader.get_variable_to_shape_map():
    value = reader.get_tensor(name)
    if np.issubdtype(np.asarray(value).dtype, np.floating):
      assert np.all(np.isfinite(value)), name


def test_infinite_learning_rate_is_refused(tmp_path):
  result = _train([f"--train_log_dir={tmp_path / 'run'}", "--learning_rate=inf"])
  assert result.returncode == 2 and "--learning_rate" in result.stderr.strip().splitlines()[-1]
  assert not (tmp_path / "run").exists()


# --- kill -9 and restart ---------------------------------------------------------------------

@pytest.mark.slow
def test_soak_ten_kills_end_bit_identical_with_identical_results(tmp_path):
  """kill -9 at 10 random moments (some while a checkpoint is being written), restart each time.

  Bit-identical weights and results are justified as in test_train.py's resume test: the data
  order, augmentation and example dropout are pure functions of (seed, step, id), the restart
  resumes from a checkpoint at an epoch boundary, and the MLP's CPU kernels are deterministic.
  """
  steps = 400
  args = [f"--max_number_of_steps={steps}", "--weighting=curriculum",
          "--curriculum=self_paced", "--burn_in_epoch=10", "--example_dropout_rates=0.1,100",
          "--loss_moving_average_decay=0.9"]
  reference = str(tmp_path / "reference")
  assert _train(args + [f"--train_log_dir={reference}"]).returncode == 0
  soaked = str(tmp_path / "soaked")
  rng = random.Random(7)
  during_save = 0
  for kill in range(10):
    process = _start(args + [f"--train_log_dir={soaked}"])
    try:
      started = time.time()
      ckpt = os.path.join(soaked, "ckpt")
      if kill % 2:  # kill while a checkpoint is being written (its _temp directory exists)
        while process.poll() is None and time.time() - started < 120:
          if glob.glob(os.path.join(ckpt, "*_temp*")):
            during_save += 1
            break
          time.sleep(0.0005)
      else:  # a random moment once training is under way
        while process.poll() is None and time.time() - started < 120 and not glob.glob(
            os.path.join(ckpt, "*.index")):
          time.sleep(0.01)
        time.sleep(rng.uniform(0.0, 1.0))
    finally:
      _kill(process)
  final = _train(args + [f"--train_log_dir={soaked}"])
  assert final.returncode == 0, final.stderr[-3000:]
  print(f"{during_save} of 5 targeted kills hit a checkpoint write")
  assert during_save >= 1
  a = _student_weights(os.path.join(reference, "ckpt", f"ckpt-{steps}"))
  b = _student_weights(os.path.join(soaked, "ckpt", f"ckpt-{steps}"))
  assert a.keys() == b.keys() and a
  for name in a:
    np.testing.assert_array_equal(a[name], b[name], err_msg=name)
  assert _results_without_runtime(soaked) == _results_without_runtime(reference)
