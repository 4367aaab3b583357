"""Distributed training: Mirrored (2 logical CPUs), MultiWorkerMirrored and ParameterServer
(separate processes on 127.0.0.1), per-example determinism of label noise and example dropout,
and the cluster launch scripts (dry run).

Every spawned process runs in its own session with a timeout and is killed (process group) in a
`finally`; ports come from binding port 0. Helpers: tests/dist_mirrored_step.py (logical devices
must be set before TensorFlow initialises: own process) and tests/dist_train_worker.py (the real
`python -m mentornet_tf.train` plus a weight dump and test hooks).
"""
import glob
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLUSTER_DIR = os.path.join(REPO, "launch", "cluster")
sys.path.insert(0, CLUSTER_DIR)
import tf_config as tf_config_lib  # noqa: E402  (launch/cluster/tf_config.py, stdlib only)

RUN_TIMEOUT_S = 240
# A tiny real job: digits, MLP, 30 steps of 32 in Keras epochs of 5 (a checkpoint per epoch),
# frozen MentorNet with the global percentile and example dropout (default schedule).
TINY_FLAGS = ["--flagfile=launch/digits_40.flags", "--max_number_of_steps=30",
              "--steps_per_epoch=5", "--batch_size=32", "--eval_interval=3", "--verbose=0",
              "--weighting=mentornet", "--percentile_scope=global", "--burn_in_epoch=0"]
NUM_STEPS = 30


def _free_ports(count):
  sockets = [socket.socket() for _ in range(count)]
  try:
    for s in sockets:
      s.bind(("127.0.0.1", 0))
    return [s.getsockname()[1] for s in sockets]
  finally:
    for s in sockets:
      s.close()


class Tasks:
  """Processes of one job: each in its own session (process group), its output in a log file."""

  def __init__(self, log_dir):
    self.log_dir = log_dir
    self.procs = {}
    os.makedirs(log_dir, exist_ok=True)

  def start(self, name, args, env=None):
    # TMPDIR: what a killed task leaves in its temporary directory stays in the test's.
    full_env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", TMPDIR=self.log_dir, **(env or {}))
    with open(self.log_path(name), "w") as log:
      self.procs[name] = subprocess.Popen(
          [sys.executable] + args, cwd=REPO, env=full_env, stdout=log, stderr=subprocess.STDOUT,
          start_new_session=True)

  def log_path(self, name):
    return os.path.join(self.log_dir, f"{name}.log")

  def log(self, name, tail=3000):
    with open(self.log_path(name)) as f:
      return f.read()[-tail:]

  def wait(self, name, timeout=RUN_TIMEOUT_S):
    try:
      return self.procs[name].wait(timeout=timeout)
    except subprocess.TimeoutExpired:
      self.close()
      pytest.fail(f"{name} did not finish in {timeout} s; log tail:\n{self.log(name)}")

  def kill(self, name):
    try:
      os.killpg(self.procs[name].pid, signal.SIGKILL)
    except ProcessLookupError:
      pass
    self.procs[name].wait(timeout=30)

  def close(self):
    for name, proc in self.procs.items():
      if proc.poll() is None:
        self.kill(name)

  def __enter__(self):
    return self

  def __exit__(self, *exc):
    self.close()


def _batch_ids(log_text):
  """[(ids, labels)] printed by MENTORNET_TEST_PRINT_IDS (one pair of int arrays per step)."""
  pairs = []
  for ids, labels in re.findall(r"BATCH_IDS \[([\d ]*)\] \[([\d ]*)\]", log_text):
    pairs.append((np.array(ids.split(), np.int64), np.array(labels.split(), np.int64)))
  return pairs


@pytest.fixture(scope="module")
def mentornet_dir(tmp_path_factory):
  from mentornet_tf.mentor import network  # pylint: disable=g-import-not-at-top
  from mentornet_tf.mentor import storage  # pylint: disable=g-import-not-at-top
  path = str(tmp_path_factory.mktemp("mentor") / "mentornet")
  storage.save_mentornet(network.build_mentornet(seed=0), path, {"curriculum": "random_init"})
  return path


@pytest.fixture(scope="module")
def noisy_label_of():
  """The 1-pipeline (id -> noisy label) map of the digits training split as TINY_FLAGS set it."""
  from mentornet_tf.config import DataConfig  # pylint: disable=g-import-not-at-top
  from mentornet_tf.data import pipeline  # pylint: disable=g-import-not-at-top
  config = DataConfig(dataset_name="digits", noise_fraction=0.4)
  labels = {}
  for batch in pipeline.build_train_eval_dataset(config, "standardize", batch_size=512):
    labels.update(zip(batch["id"].numpy().tolist(), batch["label"].numpy().tolist()))
  return labels


# ---------------------------------------------------------------------------------------------
# 1. MirroredStrategy over 2 logical CPUs == one device (and 4: noise, dropout through it).


@pytest.fixture(scope="module")
def mirrored_results(mentornet_dir, tmp_path_factory):
  work_dir = str(tmp_path_factory.mktemp("mirrored"))
  command = [sys.executable, os.path.join(REPO, "tests", "dist_mirrored_step.py"),
             f"--mentornet_dir={mentornet_dir}", f"--work_dir={work_dir}", "--steps=3"]
  proc = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=RUN_TIMEOUT_S,
                        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
  assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
  results = [json.loads(line[len("RESULT "):]) for line in proc.stdout.splitlines()
             if line.startswith("RESULT ")]
  return {result.pop("check"): result for result in results}


@pytest.mark.slow
def test_mirrored_steps_equal_single_device_steps(mirrored_results):
  result = mirrored_results["step"]
  assert result["num_replicas"] == 2 and result["steps"] == result["single_steps"] == 3
  # The weights moved (lr 0.1) and the 2-replica steps match: the gradient sums run in another
  # order (8 + 8 examples, then an all-reduce), which changes the last bits only. The weights lie
  # within |w| < 0.14 (float32 ulp <= 1.5e-8): 1e-7 allows 7 ulps (measured: 1 ulp, 1.5e-8).
  assert result["max_weight_change"] > 1e-2
  assert result["max_weight_diff"] <= 1e-7
  # The loss moving average is one value on both replicas (MEAN aggregation) and equals the
  # single-device one up to the rounding of the losses it averages (values around 2, ulp 2.4e-7;
  # measured 1.2e-7).
  first, second = result["moving_average_replicas"]
  # Exact across the two devices: the MEAN-aggregated assign and the all-reduced update copy one
  # reduced value to both replicas (the same computation), unlike the single-device comparisons.
  assert first == second
  np.testing.assert_allclose(first, result["moving_average_single"], rtol=0, atol=1e-6)
  assert result["max_replica_spread"] == 0.0
  # Control: the per-replica percentile and dropout (the original) do change the step.
  assert result["replica_scope_weight_diff"] > 1e-4


@pytest.mark.slow
def test_noise_through_mirrored_input_equals_one_device(mirrored_results):
  result = mirrored_results["noise"]
  assert result["single_ids"] == result["distributed_ids"] == result["num_train"]
  assert result["mismatches"] == 0
  assert result["flipped"] > 0.25 * result["num_train"]  # noise 0.4 uniform: about 0.36


@pytest.mark.slow
def test_example_dropout_on_two_replicas_equals_one_device(mirrored_results):
  result = mirrored_results["dropout"]
  assert result["mismatches"] == 0
  assert result["kept"] == [8, 8, 8, 15]  # int(16 (1 - rate)) for rates 0.5, 0.5, 0.5, 0.05


# ---------------------------------------------------------------------------------------------
# 4. Label noise and example dropout are functions of the example, not of the input layout.


def test_noisy_labels_do_not_depend_on_the_number_of_input_pipelines(noisy_label_of):
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from mentornet_tf.config import DataConfig  # pylint: disable=g-import-not-at-top
  from mentornet_tf.data import pipeline  # pylint: disable=g-import-not-at-top
  config = DataConfig(dataset_name="digits", noise_fraction=0.4, batch_size=64)
  seen = {}
  for pipeline_id in range(2):  # what MultiWorkerMirrored gives each of 2 workers
    context = tf.distribute.InputContext(num_input_pipelines=2, input_pipeline_id=pipeline_id,
                                         num_replicas_in_sync=2)
    dataset = pipeline.build_train_dataset(config, "standardize", seed=3, input_context=context)
    for batch in dataset.take(len(noisy_label_of) // 64 + 2):  # > one pass over the shard
      for example_id, label in zip(batch["id"].numpy().tolist(), batch["label"].numpy().tolist()):
        assert example_id % 2 == pipeline_id  # the shards are disjoint
        assert seen.setdefault(example_id, label) == label
  assert seen == noisy_label_of


def test_example_dropout_draw_depends_only_on_seed_step_and_id():
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from mentornet_tf.mentor.weighting import dropout as weighting
  ids = np.arange(100, 164, dtype=np.int64)
  scores = weighting.example_hash_scores(tf.constant(ids), 7, 0).numpy()
  permutation = np.random.default_rng(0).permutation(len(ids))
  permuted = weighting.example_hash_scores(tf.constant(ids[permutation]), 7, 0).numpy()
  np.testing.assert_array_equal(permuted, scores[permutation])  # position does not matter
  half = weighting.example_hash_scores(tf.constant(ids[:32]), 7, 0).numpy()
  np.testing.assert_array_equal(half, scores[:32])  # neither does the rest of the batch
  assert len(set(scores.tolist())) == len(ids)
  other_step = weighting.example_hash_scores(tf.constant(ids), 8, 0).numpy()
  other_seed = weighting.example_hash_scores(tf.constant(ids), 7, 1).numpy()
  assert np.mean(other_step == scores) < 0.05 and np.mean(other_seed == scores) < 0.05
  # The global mask: the same ids are kept whichever replica holds them.
  mask = weighting.example_dropout_mask(tf.constant(scores), 0.5).numpy()
  split = [weighting.example_dropout_mask(tf.constant(part), 0.5, tf.constant(scores)).numpy()
           for part in (scores[:20], scores[20:])]
  np.testing.assert_array_equal(np.concatenate(split), mask)
  assert mask.sum() == 32


# ---------------------------------------------------------------------------------------------
# 2. MultiWorkerMirroredStrategy: 2 worker processes.


def _start_multi_worker(tasks, run_dir, tag, mentornet_dir, env=None):
  entries = [f"127.0.0.1:{port}" for port in _free_ports(2)]
  for task_type, index, _, tf_config in tf_config_lib.cluster_tasks("multi_worker", entries):
    name = f"{tag}_{task_type}{index}"
    task_env = dict(env or {}, TF_CONFIG=json.dumps(tf_config),
                    MENTORNET_TEST_DUMP=os.path.join(tasks.log_dir, f"{name}.npz"))
    tasks.start(name, ["tests/dist_train_worker.py"] + TINY_FLAGS + [
        "--strategy=multi_worker_mirrored", f"--train_log_dir={run_dir}",
        f"--trained_mentornet_dir={mentornet_dir}"], task_env)
  return [f"{tag}_worker0", f"{tag}_worker1"]


def _load(path):
  with np.load(path) as arrays:
    return {key: arrays[key] for key in arrays.files}


def _student(dump):
  return [dump[key] for key in sorted(k for k in dump if k.startswith("student_"))]


@pytest.fixture(scope="module")
def multi_worker_run(mentornet_dir, tmp_path_factory):
  """An uninterrupted 2-worker run: run dir, logs, each worker's final weights."""
  root = str(tmp_path_factory.mktemp("multi_worker"))
  run_dir = os.path.join(root, "run")
  started = time.time()
  with Tasks(os.path.join(root, "logs")) as tasks:
    names = _start_multi_worker(tasks, run_dir, "full", mentornet_dir,
                                env={"MENTORNET_TEST_PRINT_IDS": "1"})
    codes = [tasks.wait(name) for name in names]
    assert codes == [0, 0], "\n".join(tasks.log(name) for name in names)
    return {"run_dir": run_dir, "seconds": time.time() - started,
            "logs": [tasks.log(name, tail=10**7) for name in names],
            "dumps": [_load(os.path.join(tasks.log_dir, f"{name}.npz")) for name in names]}


@pytest.mark.slow
def test_multi_worker_workers_end_with_identical_weights(multi_worker_run, noisy_label_of):
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  chief, worker = multi_worker_run["dumps"]
  assert int(chief["step"]) == int(worker["step"]) == NUM_STEPS
  # Bit-identical on purpose, though two processes: both apply the same all-reduced gradient (a
  # 2-worker sum is commutative and each chunk's sum is computed once and sent to the other) to
  # the same weights with the same kernels and shapes on one machine; any difference would be a
  # synchronisation bug that compounds over steps, which a tolerance would hide.
  for a, b in zip(_student(chief), _student(worker)):
    np.testing.assert_array_equal(a, b)
  assert float(chief["moving_average"]) == float(worker["moving_average"])
  # The chief's final checkpoint holds the same student; the other worker left no scratch.
  ckpt_dir = os.path.join(multi_worker_run["run_dir"], "ckpt")
  reader = tf.train.load_checkpoint(tf.train.latest_checkpoint(ckpt_dir))
  saved = [reader.get_tensor(key) for key in reader.get_variable_to_shape_map()
           if key.startswith("model/student/")]
  for array in _student(worker):
    assert any(s.shape == array.shape and np.array_equal(s, array) for s in saved)
  assert tf.train.latest_checkpoint(ckpt_dir).endswith(f"ckpt-{NUM_STEPS}")
  assert not glob.glob(os.path.join(ckpt_dir, ".worker_scratch_*"))
  with open(os.path.join(multi_worker_run["run_dir"], "results.json")) as f:
    results = json.load(f)
  assert results["steps"] == NUM_STEPS and 0.0 < results["final_accuracy"] <= 1.0
  # 2 input pipelines (one per worker): worker w reads the ids = w mod 2, each id with its
  # 1-pipeline noisy label.
  for pipeline_id, log in enumerate(multi_worker_run["logs"]):
    batches = _batch_ids(log)
    assert len(batches) == NUM_STEPS
    for ids, labels in batches:
      assert np.all(ids % 2 == pipeline_id)
      assert [noisy_label_of[i] for i in ids.tolist()] == labels.tolist()


@pytest.mark.slow
def test_multi_worker_resumes_after_a_worker_is_killed(multi_worker_run, mentornet_dir,
                                                       tmp_path):
  run_dir = str(tmp_path / "run")
  ckpt_dir = os.path.join(run_dir, "ckpt")
  with Tasks(str(tmp_path / "logs")) as tasks:
    # 0.3 s per step: epoch 2 lasts 1.5 s after the first checkpoint (step 5) is recorded.
    chief, worker = _start_multi_worker(tasks, run_dir, "first", mentornet_dir,
                                        env={"MENTORNET_TEST_STEP_DELAY": "0.3"})
    deadline = time.time() + RUN_TIMEOUT_S
    while not os.path.exists(os.path.join(ckpt_dir, "checkpoint")):
      assert tasks.procs[chief].poll() is None, tasks.log(chief)
      assert time.time() < deadline, "no checkpoint appeared"
      time.sleep(0.02)
    tasks.kill(worker)  # kill -9 of the whole process group, mid-run
    killed_at = time.time()
    code = tasks.wait(chief, timeout=180)  # the survivor must give up by itself
    survivor_seconds = time.time() - killed_at
    assert code != 0, tasks.log(chief)
    assert not os.path.exists(os.path.join(ckpt_dir, f"ckpt-{NUM_STEPS}.index"))

    names = _start_multi_worker(tasks, run_dir, "second", mentornet_dir)
    codes = [tasks.wait(name) for name in names]
    assert codes == [0, 0], "\n".join(tasks.log(name) for name in names)
    resumed = [_load(os.path.join(tasks.log_dir, f"{name}.npz")) for name in names]
  with open(os.path.join(run_dir, "results.json")) as f:
    resumed_from = json.load(f)["resumed_from"]
  assert re.search(r"ckpt-(5|10|15|20|25)$", resumed_from), resumed_from
  print(f"survivor failed {survivor_seconds:.1f} s after the kill; resumed from {resumed_from}")
  # Exactly the uninterrupted weights: the checkpoint restores every float32 value, the input
  # stream skips the batches of the finished epochs, and a 2-worker all-reduce (a + b) is
  # commutative in IEEE arithmetic, so the resumed steps repeat the same operations bit for bit.
  reference = multi_worker_run["dumps"][0]
  for dump in resumed:
    assert int(dump["step"]) == NUM_STEPS
    for a, b in zip(_student(dump), _student(reference)):
      np.testing.assert_array_equal(a, b)
    assert float(dump["moving_average"]) == float(reference["moving_average"])


# The learning rate jumps to 1e5 after step 12: the loss and gradients overflow a few steps
# later, after the checkpoints of steps 5 and 10 (epochs of 5 steps).
DIVERGING_FLAGS = ["--optimizer=momentum", "--lr_schedule=piecewise", "--lr_boundaries=12",
                   "--lr_values=0.001,100000"]


def _assert_diverged_before_a_finite_checkpoint(run_dir, step):
  """results.json says diverged; the newest checkpoint is older than `step` and its student
  (with its optimizer slots) is finite. Only the student: the evaluation sums of a run about to
  diverge may overflow (a loss of 1e36 summed over the test split)."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  newest = tf.train.latest_checkpoint(os.path.join(run_dir, "ckpt"))
  assert newest is not None and int(newest.rsplit("-", 1)[1]) < step
  reader = tf.train.load_checkpoint(newest)
  student = [name for name in reader.get_variable_to_shape_map()
             if name.startswith("model/student/")]
  assert student
  for name in student:
    assert np.all(np.isfinite(reader.get_tensor(name))), name
  with open(os.path.join(run_dir, "results.json")) as f:
    assert json.load(f)["status"] == "diverged"


@pytest.mark.slow
def test_multi_worker_divergence_stops_both_workers_and_keeps_the_last_finite_checkpoint(
    mentornet_dir, tmp_path):
  """The learning rate jumps to 1e5 after step 12: both workers agree the step is not finite
  (an all-reduced count) and stop with the divergence error; none hangs in a collective (the
  update no longer waits for the assertion, so the gradient all-reduce may be in flight when
  it fails), and the chief's newest checkpoint, from before the jump, is finite."""
  run_dir = str(tmp_path / "run")
  entries = [f"127.0.0.1:{port}" for port in _free_ports(2)]
  with Tasks(str(tmp_path / "logs")) as tasks:
    names = []
    for task_type, index, _, tf_config in tf_config_lib.cluster_tasks("multi_worker", entries):
      names.append(f"{task_type}{index}")
      tasks.start(names[-1], ["tests/dist_train_worker.py"] + TINY_FLAGS + [
          "--strategy=multi_worker_mirrored", f"--train_log_dir={run_dir}",
          f"--trained_mentornet_dir={mentornet_dir}", *DIVERGING_FLAGS],
          {"TF_CONFIG": json.dumps(tf_config)})
    codes = [tasks.wait(name, timeout=180) for name in names]
    logs = [tasks.log(name, tail=10**6) for name in names]
  assert codes == [1, 1], "\n".join(logs)
  for log in logs:
    assert "error: training diverged at step " in log and "Traceback" not in log
  step = int(logs[0].split("error: training diverged at step ")[1].split(":")[0])
  assert step > 12
  _assert_diverged_before_a_finite_checkpoint(run_dir, step)


# ---------------------------------------------------------------------------------------------
# 3. ParameterServerStrategy: 1 ps + 2 workers + the chief (coordinator), asynchronous SGD.


@pytest.mark.slow
def test_parameter_server_trains_asynchronously(mentornet_dir, noisy_label_of, tmp_path):
  run_dir = str(tmp_path / "run")
  entries = [f"127.0.0.1:{port}" for port in _free_ports(4)]
  with Tasks(str(tmp_path / "logs")) as tasks:
    for task_type, index, _, tf_config in tf_config_lib.cluster_tasks("parameter_server",
                                                                      entries):
      env = {"TF_CONFIG": json.dumps(tf_config), "MENTORNET_TEST_PRINT_IDS": "1",
             "MENTORNET_TEST_DUMP": os.path.join(tasks.log_dir, "chief.npz")}
      tasks.start(f"{task_type}{index}", ["tests/dist_train_worker.py"] + TINY_FLAGS + [
          "--strategy=parameter_server", f"--train_log_dir={run_dir}",
          f"--trained_mentornet_dir={mentornet_dir}"], env)
    code = tasks.wait("chief0")
    log = tasks.log("chief0")
    assert "Batch-level `Callback`s are not supported" not in log, (
        "fit under ParameterServerStrategy refuses StopAtStep: callbacks.StopAtStep needs "
        "_supports_tf_logs = True and train_lib must evaluate on the coordinator (the "
        "parameter-server patch of the distributed-training report)")
    assert code == 0, log
    for name in ("ps0", "worker0", "worker1"):  # servers never exit by themselves
      assert tasks.procs[name].poll() is None, tasks.log(name)
    worker_batches = [_batch_ids(tasks.log(f"worker{i}", tail=10**7)) for i in range(2)]
    dump = _load(os.path.join(tasks.log_dir, "chief.npz"))
  with open(os.path.join(run_dir, "results.json")) as f:
    results = json.load(f)
  assert results["steps"] == NUM_STEPS and 0.0 < results["final_accuracy"] <= 1.0
  assert [record["epoch"] for record in results["history"]] == [3, 6]  # --eval_interval=3
  assert os.path.exists(os.path.join(run_dir, "ckpt", f"ckpt-{NUM_STEPS}.index"))
  # Both workers ran steps; each step ran once; each worker read only its own examples
  # (distribute._shard_by_worker: worker w the ids = w mod 2, 648 or 649 of them), without
  # repeats within one pass of its share (without the sharding both would read the same ids).
  assert all(batches for batches in worker_batches)
  all_batches = worker_batches[0] + worker_batches[1]
  assert len(all_batches) == NUM_STEPS
  for worker, batches in enumerate(worker_batches):
    ids = np.concatenate([ids for ids, _ in batches])
    assert set((ids % 2).tolist()) == {worker}, ids
    assert len(set(ids[:648].tolist())) == len(ids[:648])
  for ids, labels in all_batches:
    assert [noisy_label_of[i] for i in ids.tolist()] == labels.tolist()
  # The moving average and the frozen MentorNet live on the ps, shared by the workers.
  assert "/job:ps" in str(dump["moving_average_device"])
  assert "/job:ps" in str(dump["mentornet_device"])


@pytest.mark.slow
def test_parameter_server_divergence_stops_the_coordinator_and_keeps_a_finite_checkpoint(
    mentornet_dir, tmp_path):
  """Asynchronous steps: the learning rate jumps to 1e5 after step 12; the coordinator gets the
  divergence error of a worker's step (every save first joins the scheduled steps, so none is
  written after it), exits 1 with the one-line message, and its newest checkpoint is finite."""
  run_dir = str(tmp_path / "run")
  entries = [f"127.0.0.1:{port}" for port in _free_ports(4)]
  with Tasks(str(tmp_path / "logs")) as tasks:
    for task_type, index, _, tf_config in tf_config_lib.cluster_tasks("parameter_server",
                                                                      entries):
      tasks.start(f"{task_type}{index}", ["tests/dist_train_worker.py"] + TINY_FLAGS + [
          "--strategy=parameter_server", f"--train_log_dir={run_dir}",
          f"--trained_mentornet_dir={mentornet_dir}", *DIVERGING_FLAGS],
          {"TF_CONFIG": json.dumps(tf_config)})
    code = tasks.wait("chief0", timeout=180)
    log = tasks.log("chief0", tail=10**6)
  assert code == 1, log
  last = log.strip().splitlines()[-1]
  assert last.startswith("error: training diverged at step "), log[-3000:]
  step = int(last.split("step ")[1].split(":")[0])
  assert step > 12
  _assert_diverged_before_a_finite_checkpoint(run_dir, step)


# ---------------------------------------------------------------------------------------------
# 5. Launch scripts: TF_CONFIG per task from a host list (dry run).


def _dry_run(script, *args):
  proc = subprocess.run(["bash", os.path.join(CLUSTER_DIR, script), *args], cwd=REPO,
                        capture_output=True, text=True, timeout=60)
  configs = [json.loads(line[len("TF_CONFIG="):]) for line in proc.stdout.splitlines()
             if line.startswith("TF_CONFIG=")]
  commands = [line[len("COMMAND="):] for line in proc.stdout.splitlines()
              if line.startswith("COMMAND=")]
  return proc, configs, commands


def test_launch_multi_worker_dry_run(tmp_path):
  hostfile = tmp_path / "hosts.txt"
  hostfile.write_text("# two machines\nnode1\nnode2:3333  # explicit port\n\n")
  proc, configs, commands = _dry_run(
      "launch_multi_worker.sh", f"--hostfile={hostfile}", "--flagfile=launch/mnist5k_40.flags",
      "--dry_run", "--", "--train_log_dir=/shared/run 1", "--seed=3")
  assert proc.returncode == 0, proc.stderr
  cluster = {"worker": ["node1:2222", "node2:3333"]}
  assert configs == [{"cluster": cluster, "task": {"type": "worker", "index": i}}
                     for i in range(2)]
  assert len(commands) == 2
  assert "--strategy=multi_worker_mirrored" in commands[0]
  assert "'--train_log_dir=/shared/run 1' --seed=3" in commands[0]
  assert "TF_CONFIG='" + json.dumps(configs[1], separators=(",", ":")) + "'" in commands[1]
  assert "LAUNCH=ssh -tt -o BatchMode=yes node2 <COMMAND>" in proc.stdout


def test_launch_parameter_server_dry_run():
  proc, configs, commands = _dry_run(
      "launch_parameter_server.sh", "--hosts=c,p1,p2,w1,w1", "--num_ps=2", "--port=4000",
      "--flagfile=launch/mnist5k_40.flags", "--launcher=local", "--dry_run")
  assert proc.returncode == 0, proc.stderr
  cluster = {"chief": ["c:4000"], "ps": ["p1:4000", "p2:4000"],
             "worker": ["w1:4000", "w1:4001"]}  # one machine, two workers: two ports
  expected = [("chief", 0), ("ps", 0), ("ps", 1), ("worker", 0), ("worker", 1)]
  assert configs == [{"cluster": cluster, "task": {"type": t, "index": i}} for t, i in expected]
  assert all("--strategy=parameter_server" in command for command in commands)
  assert "LAUNCH=setsid bash -c <COMMAND>" in proc.stdout
  assert "CUDA_VISIBLE_DEVICES" not in proc.stdout  # default: every task sees every GPU


def test_launch_gives_each_worker_task_one_gpu_of_its_host():
  proc, _, commands = _dry_run(
      "launch_parameter_server.sh", "--hosts=c,p1,w1,w1,w1,w2", "--num_ps=1",
      "--gpus_per_host=2", "--flagfile=launch/mnist5k_40.flags", "--launcher=local", "--dry_run")
  assert proc.returncode == 0, proc.stderr
  gpus = [re.search(r"CUDA_VISIBLE_DEVICES=(\d+)", command) for command in commands]
  # chief and ps keep every GPU; w1's three workers get 0, 1, 0 (mod 2); w2's first gets 0.
  assert [g.group(1) if g else None for g in gpus] == [None, None, "0", "1", "0", "0"]


@pytest.mark.parametrize("args, message", [
    (["--hosts=a,b", "--flagfile=f", "--dryrun"], "unknown option '--dryrun'"),
    (["--flagfile=f", "--dry_run"], "give --hosts or --hostfile"),
    (["--hosts=a,b", "--dry_run"], "give --flagfile"),
    (["--hosts=a:1,a:1", "--flagfile=f", "--dry_run"], "a:1 is used by two tasks"),
    (["--hosts=a,b", "--flagfile=f", "--num_ps=1", "--dry_run"], "--num_ps is for"),
])
def test_launch_multi_worker_rejects_bad_options(args, message):
  proc, configs, _ = _dry_run("launch_multi_worker.sh", *args)
  assert proc.returncode == 2 and message in proc.stderr and not configs


def test_tf_config_generator_needs_enough_hosts():
  with pytest.raises(tf_config_lib.HostListError, match="need 3"):
    tf_config_lib.cluster_tasks("parameter_server", ["a", "b"], num_ps=1)
  with pytest.raises(tf_config_lib.HostListError, match="NAME or NAME:PORT"):
    tf_config_lib.cluster_tasks("multi_worker", ["a:b:c"])
  with pytest.raises(tf_config_lib.HostListError, match="no hosts"):
    tf_config_lib.read_hosts("", "")


# ---------------------------------------------------------------------------------------------
# distribute.py: chief selection and errors that name the problem.


@pytest.mark.parametrize("tf_config, chief", [
    (None, True),
    ({"cluster": {"worker": ["a:1", "b:1"]}, "task": {"type": "worker", "index": 0}}, True),
    ({"cluster": {"worker": ["a:1", "b:1"]}, "task": {"type": "worker", "index": 1}}, False),
    ({"cluster": {"chief": ["c:1"], "worker": ["a:1"]}, "task": {"type": "worker", "index": 0}},
     False),
    ({"cluster": {"chief": ["c:1"], "worker": ["a:1"], "ps": ["p:1"]},
      "task": {"type": "chief", "index": 0}}, True),
])
def test_is_chief(monkeypatch, tf_config, chief):
  from mentornet_tf import distribute  # pylint: disable=g-import-not-at-top
  if tf_config is None:
    monkeypatch.delenv("TF_CONFIG", raising=False)
  else:
    monkeypatch.setenv("TF_CONFIG", json.dumps(tf_config))
  assert distribute.is_chief() is chief


@pytest.mark.parametrize("name, tf_config, message", [
    ("multi_worker_mirrored", "", "needs TF_CONFIG"),
    ("parameter_server", json.dumps({"cluster": {"worker": ["a:1"]},
                                     "task": {"type": "worker", "index": 0}}), "has no ps task"),
    ("multi_worker_mirrored", json.dumps({"cluster": {"worker": ["a:1"]},
                                          "task": {"type": "worker", "index": 3}}),
     "task worker:3 is not in"),
    ("multi_worker_mirrored", "{not json", "not valid JSON"),
    ("ring", "", "--strategy='ring' is unknown"),
])
def test_build_strategy_errors_name_the_problem(monkeypatch, name, tf_config, message):
  from mentornet_tf import distribute  # pylint: disable=g-import-not-at-top
  monkeypatch.setenv("TF_CONFIG", tf_config)
  with pytest.raises(ValueError, match=re.escape(message)):
    distribute.build_strategy(name)
