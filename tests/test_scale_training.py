"""Training at scale on the one path: --jit_compile, --steps_per_execution, --save_interval_steps
(mid-epoch resume) and the checkpoint on SIGTERM, on the tiny run of tests/entry_runner.py.

Weights are compared at 1e-6 where two runs take the same steps on the same batches with the same
CPU kernels (the data stream and every draw are functions of (seed, step, id)): only float32
rounding of a differently grouped reduction could separate them.
"""
import glob
import json
import os
import signal
import time

import numpy as np
import pytest
import tensorflow as tf

import entry_runner
from test_run_directory import _kill
from test_run_directory import _start
from test_train import _scalar_tags
from test_train import _student_weights

TINY = list(entry_runner.TINY_TRAIN_ARGS)  # digits / mlp, 20 steps per epoch
PD = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data",
                  "mentornet_models", "mentornet_pd")


def _train(args, check=True):
  return entry_runner.run_entry("train", [*TINY, *args], check=check)


def _assert_same_weights(a_prefix, b_prefix):
  a, b = _student_weights(a_prefix), _student_weights(b_prefix)
  assert a.keys() == b.keys() and a
  for name in a:
    np.testing.assert_allclose(b[name], a[name], rtol=1e-6, atol=1e-7, err_msg=name)


def _results(run_dir):
  with open(os.path.join(run_dir, "results.json")) as f:
    return json.load(f)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
  """An uninterrupted 50-step run (2.5 epochs), one call per step."""
  run_dir = str(tmp_path_factory.mktemp("scale") / "reference")
  _train(["--max_number_of_steps=50", f"--train_log_dir={run_dir}"])
  return run_dir


def test_steps_per_execution_takes_the_same_steps_and_summaries(reference, tmp_path):
  # 4 steps per call: fit shortens the call at each epoch end (20 = 4 x 5) and StopAtStep the
  # last one (48 + 2 = 50); summaries every 5 steps keep their steps (one per call at most).
  run_dir = str(tmp_path / "spe")
  _train(["--max_number_of_steps=50", "--steps_per_execution=4", f"--train_log_dir={run_dir}"])
  assert _results(run_dir)["steps"] == 50
  _assert_same_weights(os.path.join(reference, "ckpt", "ckpt-50"),
                       os.path.join(run_dir, "ckpt", "ckpt-50"))
  ours = _scalar_tags(os.path.join(run_dir, "tensorboard", "train"))
  theirs = _scalar_tags(os.path.join(reference, "tensorboard", "train"))
  assert len(ours["loss/orig_loss"]) == len(theirs["loss/orig_loss"]) == 10  # steps 0, 5, ... 45
  np.testing.assert_allclose(ours["loss/orig_loss"], theirs["loss/orig_loss"], rtol=1e-5)


@pytest.mark.slow  # ~5-12 s: a whole training run or a fresh TF process
def test_step_checkpoints_and_a_mid_epoch_resume_end_as_the_uninterrupted_run(reference,
                                                                              tmp_path):
  run_dir = str(tmp_path / "resumed")
  _train(["--max_number_of_steps=27", "--save_interval_steps=7", f"--train_log_dir={run_dir}"])
  saved = sorted(int(p.rsplit("-", 1)[1][:-len(".index")])
                 for p in glob.glob(os.path.join(run_dir, "ckpt", "ckpt-*.index")))
  assert saved == [7, 14, 20, 21, 27]  # every 7 steps, the epoch end, the end
  # Extending the run resumes at step 27, 7 steps into the second epoch (--max_number_of_steps
  # may change on a restart; this FullModel run's schedule does not depend on it).
  _train(["--max_number_of_steps=50", "--save_interval_steps=7", f"--train_log_dir={run_dir}"])
  results, expected = _results(run_dir), _results(reference)
  assert results["resumed_from"].endswith("ckpt-27") and results["steps"] == 50
  _assert_same_weights(os.path.join(reference, "ckpt", "ckpt-50"),
                       os.path.join(run_dir, "ckpt", "ckpt-50"))
  assert [r["epoch"] for r in results["history"]] == [r["epoch"] for r in expected["history"]]
  np.testing.assert_allclose([r["val_accuracy"] for r in results["history"]],
                             [r["val_accuracy"] for r in expected["history"]], rtol=1e-6)
  # Both processes' summaries keep the uninterrupted run's steps: 0..25, then 30..45.
  ours = _scalar_tags(os.path.join(run_dir, "tensorboard", "train"))["loss/orig_loss"]
  theirs = _scalar_tags(os.path.join(reference, "tensorboard", "train"))["loss/orig_loss"]
  np.testing.assert_allclose(ours, theirs, rtol=1e-5)


@pytest.mark.slow  # XLA compiles the step on CPU (~30 s)
def test_jit_compiled_run_with_mentornet(tmp_path):
  run_dir = tmp_path / "jit"
  result = _train(["--jit_compile", f"--trained_mentornet_dir={PD}", "--max_number_of_steps=3",
                   f"--train_log_dir={run_dir}"])
  assert "final clean test top-1" in result.stdout
  results = _results(str(run_dir))
  assert results["status"] == "finished" and results["steps"] == 3
  assert json.loads((run_dir / "config.json").read_text())["jit_compile"] is True


@pytest.mark.slow
def test_jit_compiled_divergence_stops_at_the_first_non_finite_step(tmp_path):
  """XLA drops tf.debugging.Assert: the step records the first non-finite step (not a later
  one of its --steps_per_execution call), the first callback ends fit before any save, and the
  run ends as without XLA: that step named, the newest checkpoint finite."""
  run_dir = str(tmp_path / "run")
  # 20 steps per epoch; the learning rate jumps to 1e5 after step 30: checkpoint 20 is finite.
  result = _train(["--jit_compile", "--steps_per_execution=4", f"--train_log_dir={run_dir}",
                   "--max_number_of_steps=200", "--optimizer=momentum", "--lr_schedule=piecewise",
                   "--lr_boundaries=30", "--lr_values=0.001,100000"], check=False)
  assert result.returncode == 1, result.stderr[-3000:]
  last = result.stderr.strip().splitlines()[-1]
  assert last.startswith("error: training diverged at step ") and "Traceback" not in result.stderr
  step = int(last.split("step ")[1].split(":")[0])
  assert step > 30
  results = _results(run_dir)
  assert results["status"] == "diverged" and results["divergence"]["step"] == step
  newest = tf.train.latest_checkpoint(os.path.join(run_dir, "ckpt"))
  assert int(newest.rsplit("-", 1)[1]) < step and newest in last
  for name, value in _student_weights(newest).items():
    assert np.all(np.isfinite(value)), name
  # The same step as without XLA: the record reads the step count before the update raises it.
  plain = _train([f"--train_log_dir={tmp_path / 'plain'}", "--max_number_of_steps=200",
                  "--optimizer=momentum", "--lr_schedule=piecewise", "--lr_boundaries=30",
                  "--lr_values=0.001,100000"], check=False)
  assert plain.returncode == 1
  assert plain.stderr.strip().splitlines()[-1].startswith(
      f"error: training diverged at step {step}:")


def _checkpoint_steps(run_dir):
  return [int(p.rsplit("-", 1)[1][:-len(".index")])
          for p in glob.glob(os.path.join(run_dir, "ckpt", "ckpt-*.index"))]


@pytest.mark.slow
def test_killed_mid_epoch_resumes_from_a_step_checkpoint_and_sigterm_saves(tmp_path):
  """kill -9 after a step checkpoint inside an epoch, then SIGTERM (a preemption): each restart
  resumes at the saved step and the run ends with the uninterrupted run's weights."""
  steps = 400
  args = [f"--max_number_of_steps={steps}", "--save_interval_steps=3"]
  reference = str(tmp_path / "reference")
  _train(args + [f"--train_log_dir={reference}"])
  run_dir = str(tmp_path / "run")
  process = _start(args + [f"--train_log_dir={run_dir}"])
  try:
    deadline = time.time() + 120
    while process.poll() is None and time.time() < deadline:
      if [s for s in _checkpoint_steps(run_dir) if s > 20 and s % 20]:  # inside epoch 2+
        break
      time.sleep(0.01)
  finally:
    _kill(process)
  killed_at = max(_checkpoint_steps(run_dir))
  assert 0 < killed_at < steps
  process = _start(args[1:] + ["--max_number_of_steps=100000", f"--train_log_dir={run_dir}"])
  try:  # SIGTERM once this process has saved a step of its own
    deadline = time.time() + 120
    while process.poll() is None and time.time() < deadline and \
        max(_checkpoint_steps(run_dir)) <= killed_at + 3:
      time.sleep(0.01)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=120)
  finally:
    _kill(process)
  assert process.returncode == 1, stderr[-3000:]
  last = stderr.strip().splitlines()[-1]
  assert last.startswith("error: stopped by SIGTERM after step "), last
  preempted = int(last.split("step ")[1].split(" ")[0])
  assert preempted in _checkpoint_steps(run_dir) and killed_at < preempted < 100000
  if preempted < steps:  # the run resumes there and ends as the uninterrupted one
    _train(args + [f"--train_log_dir={run_dir}"])
    assert _results(run_dir)["resumed_from"].endswith(f"ckpt-{preempted}")
    _assert_same_weights(os.path.join(reference, "ckpt", f"ckpt-{steps}"),
                         os.path.join(run_dir, "ckpt", f"ckpt-{steps}"))
