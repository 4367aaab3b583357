"""`python -m mentornet_tf.export`: SavedModels of a run's StudentNet and MentorNet (issue 8 §3).

One tiny run (digits, MLP, 40 steps, MentorNet PD) is trained once per module (in this process,
through the train command's real `cli.run(main)` path, as the export command runs: entry_runner);
the exports are reloaded with `tf.saved_model.load` and compared with the tf_keras models restored
from the run's checkpoint, and `saved_model_cli show` must read them. The refusals need no
training: they run on hand-written run directories.
"""
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from mentornet_tf import cli
from mentornet_tf import config as config_lib
from mentornet_tf import export
from mentornet_tf import students
from mentornet_tf.data import augment
from mentornet_tf.data import sources
from mentornet_tf.mentor import storage
import entry_runner

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHIPPED_PD = os.path.join(REPO, "data", "mentornet_models", "mentornet_pd")
SAVED_MODEL_CLI = os.path.join(os.path.dirname(sys.executable), "saved_model_cli")
TINY_FLAGS = [
    *entry_runner.TINY_TRAIN_ARGS, "--max_number_of_steps=40", "--weighting=mentornet",
    f"--trained_mentornet_dir={SHIPPED_PD}"]

# Tolerance of exported vs eager tf_keras outputs. The SavedModel runs the same float32 kernels,
# but as a graph: grappler fuses MatMul + BiasAdd (+ Relu / Tanh) into oneDNN kernels that sum in
# another order than the eager op-by-op path, so results differ by a few float32 ulps (measured:
# student logits up to 1.9e-6, MentorNet logits 1.5e-5 at |logit| ~ 67, i.e. 6e-6 relative; the
# same Keras models traced with tf.function matched the SavedModels bit for bit). rtol 1e-5 plus
# an atol of 1e-5 x the largest magnitude bounds a few ulps of reordered sums of K <= 256 terms;
# a wrong preprocessing or restored weight moves logits by O(1).
RTOL = 1e-5


def _assert_close(actual, expected):
  expected = np.asarray(expected)
  np.testing.assert_allclose(actual, expected, rtol=RTOL,
                             atol=RTOL * max(1.0, float(np.abs(expected).max())))


def _listing(directory):
  found = {}
  for root, dirs, files in os.walk(directory):
    for name in dirs + files:
      path = os.path.join(root, name)
      found[os.path.relpath(path, directory)] = os.lstat(path).st_mtime_ns
  return found


def _run_cli(*args, cwd=REPO):
  """The export command in this process (tests/entry_runner.py): returncode, stdout, stderr."""
  return entry_runner.run_entry("export", list(args), cwd=cwd)


class _Holder(tf.Module):

  def __init__(self, **attributes):
    super().__init__()
    for name, value in attributes.items():
      setattr(self, name, value)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
  run = str(tmp_path_factory.mktemp("export") / "run_pd")
  result = entry_runner.run_entry("train", [*TINY_FLAGS, f"--train_log_dir={run}"], cwd=REPO)
  assert result.returncode == 0, result.stderr[-3000:]
  return run


def _test_images(run):
  with open(os.path.join(run, "config.json")) as f:
    data = config_lib.DataConfig(**json.load(f)["data"])
  batch = next(iter(sources.open_split(data, "test").batch(10_000)))
  return tf.cast(batch["image"], tf.float32).numpy(), batch["label"].numpy()


def _keras_student(prefix):
  """The run's StudentNet restored from its checkpoint, independently of mentornet_tf.exporting."""
  student = students.build_student("mlp", 10, (8, 8, 1))
  status = tf.train.Checkpoint(model=_Holder(student=student)).read(prefix)
  status.expect_partial()
  status.assert_existing_objects_matched()
  return student


@pytest.mark.slow
def test_exported_student_and_mentornet_match_the_keras_models(run_dir, tmp_path):
  output = str(tmp_path / "export")
  record = export.export_run(run_dir, output)
  assert record["step"] == 40 and record["checkpoint"].endswith("ckpt-40")
  assert sorted(os.listdir(output)) == ["export.json", "mentornet", "student"]
  assert not [n for n in os.listdir(tmp_path) if n.startswith(".")]  # no temporary left
  with open(os.path.join(output, "export.json")) as f:
    assert json.load(f)["augmentation"] == "none"

  images, labels = _test_images(run_dir)
  batch = images[:64]
  loaded = tf.saved_model.load(os.path.join(output, "student"))
  served = loaded.signatures["serving_default"](images=tf.constant(batch))
  keras_student = _keras_student(record["checkpoint"])
  preprocessed = augment.preprocess_fn("none", training=False)(batch)
  expected = keras_student(preprocessed, training=False).numpy()
  assert served["logits"].shape == (64, 10) and served["probabilities"].shape == (64, 10)
  _assert_close(served["logits"].numpy(), expected)
  _assert_close(served["probabilities"].numpy(), tf.nn.softmax(expected).numpy())
  np.testing.assert_allclose(served["probabilities"].numpy().sum(axis=1), 1.0, rtol=1e-6)
  # The preprocessing is inside serving_default and nowhere else (same tolerance: in the graph
  # the x / 255 may be rewritten as x * (1 / 255), which rounds differently by an ulp).
  raw_logits = loaded.signatures["preprocessed"](images=preprocessed)["logits"].numpy()
  _assert_close(raw_logits, served["logits"].numpy())

  # The whole clean test split: the run's own final evaluation of the same checkpoint.
  logits = loaded.signatures["serving_default"](images=tf.constant(images))["logits"].numpy()
  with open(os.path.join(run_dir, "results.json")) as f:
    final_accuracy = json.load(f)["final_accuracy"]
  correct = int((logits.argmax(axis=1) == labels).sum())
  assert abs(correct - round(final_accuracy * len(labels))) <= 1, (correct, final_accuracy)

  # The MentorNet: features [B, 4] = (loss, loss_diff, label, epoch percentage).
  rng = np.random.default_rng(0)
  features = np.stack([rng.uniform(0, 5, 256), rng.uniform(-2, 2, 256), np.zeros(256),
                       rng.integers(0, 100, 256)], axis=1).astype(np.float32)
  mentornet_out = tf.saved_model.load(os.path.join(output, "mentornet")).signatures[
      "serving_default"](features=tf.constant(features))
  shipped, _ = storage.load_mentornet(SHIPPED_PD)  # frozen during the run: the same weights
  expected = shipped(features, training=False).numpy()
  assert mentornet_out["logits"].shape == (256, 1)
  _assert_close(mentornet_out["logits"].numpy(), expected)
  _assert_close(mentornet_out["weights"].numpy(), tf.sigmoid(expected).numpy())
  in_checkpoint = tf.train.load_checkpoint(record["checkpoint"]).get_tensor(
      "model/weighting/mentornet/fc1_kernel/.ATTRIBUTES/VARIABLE_VALUE")
  np.testing.assert_array_equal(in_checkpoint, shipped.fc1_kernel.numpy())

  shown = {}  # one `saved_model_cli show --all` per SavedModel
  for name, signature, outputs in (("student", "serving_default", ("logits", "probabilities")),
                                   ("student", "preprocessed", ("logits",)),
                                   ("mentornet", "serving_default", ("logits", "weights"))):
    if name not in shown:
      shown[name] = subprocess.run([SAVED_MODEL_CLI, "show", "--dir", os.path.join(output, name),
                                    "--all"], capture_output=True, text=True, timeout=120)
      assert shown[name].returncode == 0, shown[name].stderr[-2000:]
    assert f"signature_def['{signature}']" in shown[name].stdout
    for key in outputs:
      assert f"outputs['{key}']" in shown[name].stdout


@pytest.mark.slow
def test_export_command_default_output_overwrite_and_an_older_checkpoint(run_dir, tmp_path):
  run = str(tmp_path / "run")
  shutil.copytree(run_dir, run, ignore=shutil.ignore_patterns("export*"))
  result = _run_cli(f"--train_log_dir={run}")
  assert result.returncode == 0, result.stderr[-3000:]
  assert "exported step 40" in result.stdout
  default = os.path.join(run, "export")
  assert sorted(os.listdir(default)) == ["export.json", "mentornet", "student"]

  before = _listing(run)
  refused = _run_cli(f"--train_log_dir={run}", f"--checkpoint={run}/ckpt/ckpt-20")
  assert refused.returncode == 2
  assert refused.stderr.strip().splitlines()[-1].startswith("error: --output_dir=")
  assert "--overwrite" in refused.stderr.strip().splitlines()[-1]
  assert _listing(run) == before

  record = export.export_run(run, checkpoint=os.path.join(run, "ckpt", "ckpt-20.index"),
                             overwrite=True)
  assert record["step"] == 20 and record["output_dir"] == default
  with open(os.path.join(default, "export.json")) as f:
    assert json.load(f)["step"] == 20
  assert not [n for n in os.listdir(run) if n.startswith(".export")]

  # A run without a MentorNet exports the student only.
  with open(os.path.join(run, "config.json")) as f:
    config = json.load(f)
  config["mentor"]["weighting"] = "none"
  with open(os.path.join(run, "config.json"), "w") as f:
    json.dump(config, f)
  record = export.export_run(run, os.path.join(str(tmp_path), "student_only"))
  assert "mentornet" not in record
  assert sorted(os.listdir(record["output_dir"])) == ["export.json", "student"]


# ------------------------------------------------------------------------- refusals (no training)

def _fake_run(run, checkpoint_bytes=None):
  os.makedirs(os.path.join(run, "ckpt"))
  with open(os.path.join(run, "config.json"), "w") as f:
    json.dump({"data": {"dataset_name": "digits"}, "student": {"studentnet": "mlp"},
               "mentor": {"weighting": "none"}}, f)
  if checkpoint_bytes is not None:
    for suffix in (".index", ".data-00000-of-00001"):
      with open(os.path.join(run, "ckpt", "ckpt-5" + suffix), "wb") as f:
        f.write(checkpoint_bytes)


def _refused(tmp_path, message, *args, **kwargs):
  before = _listing(str(tmp_path))
  with pytest.raises(cli.BadInput, match=message):
    export.export_run(*args, **kwargs)
  assert _listing(str(tmp_path)) == before


def test_refuses_a_missing_run_directory_or_one_without_config(tmp_path):
  _refused(tmp_path, "is not a directory", str(tmp_path / "nope"))
  os.makedirs(tmp_path / "empty")
  _refused(tmp_path, "holds no config.json", str(tmp_path / "empty"))
  _refused(tmp_path, "--train_log_dir is required", "")
  (tmp_path / "bad").mkdir()
  (tmp_path / "bad" / "config.json").write_text("{not json")
  _refused(tmp_path, "is not JSON", str(tmp_path / "bad"))


def test_refuses_a_run_without_a_readable_checkpoint(tmp_path):
  run = str(tmp_path / "run")
  _fake_run(run)
  _refused(tmp_path, r"no readable checkpoint .*no ckpt-<step>\.index", run)
  shutil.rmtree(run)
  _fake_run(run, checkpoint_bytes=b"\x00garbage")
  _refused(tmp_path, r"no readable checkpoint .*ckpt-5: unreadable", run)
  _refused(tmp_path, r"--checkpoint=.*is not a readable training checkpoint", run,
           checkpoint=os.path.join(run, "ckpt", "ckpt-9"))


def test_refuses_an_output_directory_that_is_not_empty_or_is_the_run(tmp_path):
  run = str(tmp_path / "run")
  _fake_run(run)
  os.makedirs(os.path.join(run, "export"))
  with open(os.path.join(run, "export", "keep.txt"), "w") as f:
    f.write("mine")
  _refused(tmp_path, r"--output_dir=.* exists and is not empty; pass --overwrite", run)
  _refused(tmp_path, "would replace the run directory", run, run, overwrite=True)
  _refused(tmp_path, "would replace the run directory", run, os.path.join(run, "ckpt"),
           overwrite=True)
  _refused(tmp_path, "would replace the run directory", run, str(tmp_path), overwrite=True)
  _refused(tmp_path, "exists and is not a directory", run,
           os.path.join(run, "config.json"), overwrite=True)


def test_command_refuses_with_exit_2_and_one_error_line(tmp_path):
  result = _run_cli(f"--train_log_dir={tmp_path}/nope", cwd=str(tmp_path))
  assert result.returncode == 2, result.stderr[-2000:]
  assert "Traceback" not in result.stderr
  last = result.stderr.strip().splitlines()[-1]
  assert last.startswith("error: --train_log_dir=") and "is not a directory" in last
  assert os.listdir(tmp_path) == []
