"""The train_mentornet entry, in-process: `learn(options(...))` under the entry's exit-status
convention (`cli.guarded`). Its real-process refusals (exit 2, absl's parse errors) are in the
bad-input harness (tests/bad_input_cases_tools.py)."""
import contextlib
import io
import os
import types

from absl import app
import numpy as np
import pytest

from mentornet_tf import cli
from mentornet_tf import train_mentornet
from mentornet_tf.mentor import mentor_data
from mentornet_tf.mentor import storage

TINY = ["--sample_size=2000", "--max_step_train=200", "--eval_every=100", "--nojit_compile"]


def _overrides(args):
  """`--name=value`, `--name`, `--noname` -> options() keyword arguments."""
  overrides = {}
  for arg in args:
    name, _, value = arg[2:].partition("=")
    if value or "=" in arg:
      overrides[name] = value
    elif name.startswith("no") and name[2:] in vars(train_mentornet.options()):
      overrides[name[2:]] = False
    else:
      overrides[name] = True
  return overrides


def _run(*args, timeout=None):
  """Runs the entry in this process; returns returncode, stdout and stderr like a subprocess."""
  del timeout
  command = " ".join(["python -m mentornet_tf.train_mentornet", *args])
  stdout, stderr = io.StringIO(), io.StringIO()
  with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
    status = cli.guarded(lambda argv: train_mentornet.learn(
        train_mentornet.options(**_overrides(args)), command=command) and None)(["x"])
  return types.SimpleNamespace(returncode=status, stdout=stdout.getvalue(),
                               stderr=stderr.getvalue())


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


@pytest.mark.slow  # ~4-6 s: a whole training run
def test_focus_rows_and_fine_tuning(tmp_path):
  """--focus_rows adds training rows of --focus_epochs (the test split stays the uniform sample);
  --finetune_learning_rates continues the kept restart once per rate and records each stage."""
  out = str(tmp_path / "pd")
  result = _run(f"--train_dir={out}", "--vstar_fn=mentornet_pd", "--seed=3", "--restarts=2",
                "--focus_rows=300", "--focus_epochs=90,99", "--finetune_learning_rates=0.01,0.003",
                "--train_epoch_embedding", *TINY)
  assert result.returncode == 0, result.stderr[-3000:]
  assert "fine-tuning 1 (learning rate 0.01)" in result.stdout
  assert "fine-tuning 2 (learning rate 0.003)" in result.stdout
  model, metadata = storage.load_mentornet(out)
  assert metadata["train_rows"] == 1600 + 300 and metadata["test_rows"] == 400
  assert metadata["data"]["focus_rows"] == 300 and metadata["data"]["focus_epochs"] == "90,99"
  stages = metadata["finetune"]
  assert [stage["learning_rate"] for stage in stages] == [0.01, 0.003]
  assert metadata["test_metrics"]["mse"] == stages[-1]["test_mse"]  # the saved model's
  assert model.config.train_epoch_embedding
  # The recorded test MSE is the saved model's on the uniform test split.
  _, test = mentor_data.generate_predefined("mentornet_pd", sample_size=2000, seed=3)
  weights = 1 / (1 + np.exp(-model(test[:, :4]).numpy()[:, 0].astype(np.float64)))
  np.testing.assert_allclose(np.mean((weights - test[:, 4]) ** 2),
                             metadata["test_metrics"]["mse"], rtol=1e-4)


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


def test_continuing_a_mentornet_keeps_its_architecture_and_refuses_another(tmp_path):
  """--init_mentornet_dir learns the loaded network as it is: an architecture flag that differs
  is refused (it used to be ignored), the same value or none is accepted."""
  first = str(tmp_path / "first")
  common = ("--vstar_fn=self_paced", "--sample_size=200", "--max_step_train=20",
            "--eval_every=0", "--nojit_compile")
  assert _run(f"--train_dir={first}", "--num_lstm_units=2", *common).returncode == 0
  refused = _run(f"--train_dir={tmp_path}/refused", f"--init_mentornet_dir={first}",
                 "--num_lstm_units=3", *common)
  assert refused.returncode == 2
  assert ("--num_lstm_units=3 is invalid: the MentorNet of --init_mentornet_dir="
          in refused.stderr) and "has num_lstm_units=2" in refused.stderr
  assert not os.path.exists(tmp_path / "refused")
  second = str(tmp_path / "second")
  assert _run(f"--train_dir={second}", f"--init_mentornet_dir={first}", "--num_lstm_units=2",
              *common).returncode == 0
  assert storage.load_mentornet(second)[0].config.num_lstm_units == 2


@pytest.mark.parametrize("args, message", [
    ("--vstar_fn=self_paced --vstar_gamma=2", "--vstar_gamma=2.0 is invalid"),
    ("--vstar_fn=data_driven", "--input_csv_filename='' is invalid"),
    ("--training_mode=explicit --vstar_fn=focal_loss", "--training_mode='explicit' is invalid"),
    ("--mini_batch_size=0", "--mini_batch_size=0 is invalid"),
    ("--sample_size=0", "--sample_size=0 is invalid"),
    ("--restarts=0", "--restarts=0 is invalid"),
    ("--focus_rows=-1", "--focus_rows=-1 is invalid"),
    ("--focus_rows=10 --focus_epochs=99,90", "--focus_epochs='99,90' is invalid"),
    ("--vstar_fn=data_driven --input_csv_filename=x --focus_rows=10",
     "--focus_rows=10 is invalid"),
    ("--finetune_learning_rates=0.01,0", "--finetune_learning_rates='0.01,0' is invalid"),
    ("--finetune_learning_rates=fast", "--finetune_learning_rates='fast' is invalid"),
    ("", "--train_dir='' is invalid"),
])
def test_bad_flags_fail_naming_the_flag(tmp_path, args, message):
  out = str(tmp_path / "x")
  overrides = _overrides(args.split())
  if message.startswith("--train_dir"):
    out = ""
  with pytest.raises(app.UsageError, match=message.replace("(", r"\(").replace(")", r"\)")):
    train_mentornet.learn(train_mentornet.options(train_dir=out, **overrides))
  assert not os.path.exists(str(tmp_path / "x"))


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
  # mentornet_pd: the paper's Table 1 level (issue 10 §2; recorded 4.2e-5). The first shipped one
  # (3e-3 bound, 1.7e-3 measured) missed the ramp from epoch 90; the re-learned one adds ramp
  # rows, a trainable epoch table and fine-tuning (data/mentornet_models/README.md).
  bounds = {"mentornet_pd": 1e-4, "self_paced": 1e-6, "focal_loss": 1e-5, "spcl_linear": 1e-5,
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
  # mentornet_pd's shape (`vstar_mentornet_pd`): v ~ 1 up to epoch 18, a step at
  # loss_diff = 0 in the middle epochs, a ramp from epoch 90.
  model, _ = storage.load_mentornet(os.path.join(root, "mentornet_pd"))
  diff = np.array([-1.0, 0.5, 2.0], np.float32)

  def v(epoch):
    features = np.stack([np.full(3, 2.0), diff, np.zeros(3), np.full(3, epoch)], 1)
    return 1 / (1 + np.exp(-model(features.astype(np.float32)).numpy()[:, 0]))

  assert np.all(v(10) > 0.95)
  assert v(50)[0] > 0.95 and v(50)[1] < 0.05 and v(50)[2] < 0.05
  # The ramp v* = 1 - loss_diff at epoch >= 90: 0.5 at loss_diff 0.5 (the first shipped model
  # gave 0.0 there: a step instead of the ramp).
  assert v(95)[0] > 0.95 and abs(v(95)[1] - 0.5) < 0.05 and v(95)[2] < 0.05
