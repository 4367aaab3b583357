"""The `python -m mentornet_tf.train_mentornet` entry point, run as a subprocess."""
import os
import subprocess
import sys

import numpy as np

from mentornet_tf.mentor import mentor_data
from mentornet_tf.mentor import storage

TINY = ["--sample_size=2000", "--max_step_train=200", "--eval_every=100", "--nojit_compile"]


def _run(*args, timeout=120):
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
  return subprocess.run([sys.executable, "-m", "mentornet_tf.train_mentornet", *args],
                        capture_output=True, text=True, timeout=timeout, env=env, check=False)


def test_predefined_run_writes_a_loadable_directory(tmp_path):
  out = str(tmp_path / "pd")
  result = _run(f"--train_dir={out}", "--vstar_fn=mentornet_pd", "--vstar_gamma=1", "--seed=3",
                "--restarts=2", *TINY)
  assert result.returncode == 0, result.stderr[-3000:]
  last_line = result.stdout.strip().splitlines()[-1]
  assert last_line.startswith("test_mse=")
  model, metadata = storage.load_mentornet(out)
  assert metadata["curriculum"] == "mentornet_pd"
  assert metadata["hparams"] == {"gamma": 1.0}
  assert metadata["learn_config"]["max_step_train"] == 200
  assert metadata["learn_config"]["seed"] in (3, 4)
  assert metadata["train_rows"] == 1600 and metadata["test_rows"] == 400
  assert "--vstar_fn=mentornet_pd" in metadata["command"]
  assert float(last_line.split("=")[1]) == float(f"{metadata['test_metrics']['mse']:.6g}")
  # The saved model reproduces the recorded test MSE on the same (seeded) test split.
  _, test = mentor_data.generate_predefined("mentornet_pd", sample_size=2000, seed=3, gamma=1.0)
  weights = 1 / (1 + np.exp(-model(test[:, :4]).numpy()[:, 0].astype(np.float64)))
  np.testing.assert_allclose(np.mean((weights - test[:, 4]) ** 2),
                             metadata["test_metrics"]["mse"], rtol=1e-4)
  size = sum(os.path.getsize(os.path.join(out, f)) for f in os.listdir(out))
  assert size < 64 * 1024


def test_data_driven_run(tmp_path):
  rng = np.random.default_rng(0)
  n = 600
  noisy = rng.integers(0, 10, n)
  clean = np.where(rng.random(n) < 0.8, noisy, rng.integers(0, 10, n))
  loss = np.where(noisy == clean, rng.exponential(0.5, n), rng.exponential(4.0, n))
  dump = str(tmp_path / "dump.csv")
  mentor_data.write_student_dump(dump, np.stack([np.arange(n), np.full(n, 18), noisy, clean,
                                                 loss], axis=1))
  out = str(tmp_path / "dd")
  result = _run(f"--train_dir={out}", "--vstar_fn=data_driven", f"--input_csv_filename={dump}",
                "--percentile=75", "--max_step_train=300", "--eval_every=0", "--nojit_compile",
                "--num_lstm_units=2", "--corrected_output")
  assert result.returncode == 0, result.stderr[-3000:]
  model, metadata = storage.load_mentornet(out)
  assert metadata["loss"] == "cross_entropy"
  assert metadata["data"]["percentile"] == 75 and metadata["data"]["dump_rows"] == n
  assert model.config.num_lstm_units == 2 and model.config.corrected_output
  assert metadata["test_metrics"]["accuracy"] > 0.7  # small losses are the clean labels


# Runs main() on several flag sets in ONE process (a TF import per case would take seconds) and
# prints the UsageError message of each; absl's own parse errors need the real entry point.
_CHECK_FLAGS = """
import sys
from absl import app, flags
from mentornet_tf import train_mentornet
for line in sys.stdin.read().splitlines():
  flags.FLAGS.unparse_flags()
  flags.FLAGS(["train_mentornet"] + line.split())
  try:
    train_mentornet.main(["train_mentornet"])
    print("NO ERROR", line)
  except app.UsageError as error:
    print("USAGE ERROR", error)
"""


def test_bad_flags_fail_naming_the_flag(tmp_path):
  out = str(tmp_path / "x")
  cases = [
      ("--vstar_fn=nope", "--vstar_fn='nope' is invalid"),
      ("--vstar_fn=self_paced --vstar_gamma=2", "--vstar_gamma=2.0 is invalid"),
      ("--vstar_fn=data_driven", "--input_csv_filename='' is invalid"),
      ("--training_mode=explicit --vstar_fn=focal_loss", "--training_mode='explicit' is invalid"),
      ("--mini_batch_size=0", "--mini_batch_size=0 is invalid"),
      ("--sample_size=0", "--sample_size=0 is invalid"),
      ("--restarts=0", "--restarts=0 is invalid"),
  ]
  script = "\n".join([f"--train_dir={out} {args}" for args, _ in cases] + ["--vstar_fn=baseline"])
  result = subprocess.run([sys.executable, "-c", _CHECK_FLAGS], input=script, capture_output=True,
                          text=True, timeout=120, check=False,
                          env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
  assert result.returncode == 0, result.stderr[-3000:]
  lines = [l for l in result.stdout.splitlines() if l.startswith(("USAGE ERROR", "NO ERROR"))]
  assert len(lines) == len(cases) + 1, result.stdout
  for line, (args, message) in zip(lines, cases):
    assert line.startswith("USAGE ERROR") and message in line, (args, line)
  assert "--train_dir='' is invalid" in lines[-1]
  assert not os.path.exists(out)
  # Through the real entry point (cli.run): exit 2 and one `error:` line last, no help text and
  # no traceback, for a flag absl does not know and for a refused value.
  for args, needle in (("--no_such_flag=1", "no_such_flag"),
                       ("--vstar_fn=nope", "--vstar_fn='nope' is invalid")):
    result = _run(f"--train_dir={out}", args)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and lines[-1].startswith("error: ") and needle in lines[-1], (
        result.stderr[-2000:])
    assert "Traceback" not in result.stderr and "--mini_batch_size" not in result.stderr
  assert not os.path.exists(out)


def test_train_dir_is_checked_before_learning_and_left_as_it_was(tmp_path):
  """A --train_dir the save would refuse is refused at once (not after --max_step_train steps)."""
  taken = tmp_path / "taken"
  taken.mkdir()
  (taken / "notes.txt").write_text("mine")
  result = _run(f"--train_dir={taken}", "--max_step_train=30000", timeout=60)
  assert result.returncode == 2, result.stderr[-2000:]
  assert "holds something other than a MentorNet save" in result.stderr.strip().splitlines()[-1]
  assert "restart 0" not in result.stdout  # nothing was learned
  assert sorted(os.listdir(tmp_path)) == ["taken"] and os.listdir(taken) == ["notes.txt"]


def test_shipped_models_match_their_curricula():
  """Each data/mentornet_models/<name> loads and reproduces its recorded test MSE."""
  root = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data",
                      "mentornet_models")
  bounds = {"mentornet_pd": 3e-3, "self_paced": 1e-6, "focal_loss": 1e-5, "spcl_linear": 1e-5,
            "hard_example_mining": 1e-6, "baseline": 1e-6}
  for name, bound in bounds.items():
    model, metadata = storage.load_mentornet(os.path.join(root, name))
    assert metadata["curriculum"] == name
    assert metadata["learn_config"]["max_step_train"] == 30000
    assert metadata["data"]["sample_size"] == 100000
    _, test = mentor_data.generate_predefined(name, seed=0, **metadata["hparams"])
    weights = 1 / (1 + np.exp(-model(test[:, :4]).numpy()[:, 0].astype(np.float64)))
    mse = np.mean((weights - test[:, 4]) ** 2)
    assert mse < bound, (name, mse)
    np.testing.assert_allclose(mse, metadata["test_metrics"]["mse"], rtol=1e-3, atol=1e-12)
  # mentornet_pd's shape (original_code.md §10.6): v ~ 1 up to epoch 18, a step at
  # loss_diff = 0 in the middle epochs, a ramp from epoch 90.
  model, _ = storage.load_mentornet(os.path.join(root, "mentornet_pd"))
  diff = np.array([-1.0, 0.5, 2.0], np.float32)

  def v(epoch):
    features = np.stack([np.full(3, 2.0), diff, np.zeros(3), np.full(3, epoch)], 1)
    return 1 / (1 + np.exp(-model(features.astype(np.float32)).numpy()[:, 0]))

  assert np.all(v(10) > 0.95)
  assert v(50)[0] > 0.95 and v(50)[2] < 0.1
  assert v(95)[0] > 0.95 and v(95)[2] < 0.1
