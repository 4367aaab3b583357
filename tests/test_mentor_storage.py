"""Tests of mentornet_tf.mentor.storage: TF1 checkpoints, our directories, SavedModel export."""
import json
import os

import numpy as np
import pytest
import tensorflow as tf

from mentornet_tf.mentor import network
from mentornet_tf.mentor import storage
import mentor_reference

# What a real TF1 training checkpoint holds besides the MentorNet (ignored on load).
EXTRA = {"mentornet/Variable/Adam": np.ones([9, 20], np.float32),
         "mentornet/Variable/Adam_1": np.ones([9, 20], np.float32),
         "ResNet/init/DW": np.ones([3, 3, 3, 16], np.float32)}


def _features(rng, batch=64, num_labels=2):
  return np.stack([rng.uniform(0, 10, batch), rng.normal(0, 3, batch),
                   rng.integers(0, num_labels, batch), rng.uniform(0, 120, batch)],
                  axis=1).astype(np.float32)


@pytest.fixture(scope="module")
def tf1_checkpoint(tmp_path_factory):
  """A TF1 `mentornet.model-29999` checkpoint with random weights, Adam slots and a student var."""
  directory = tmp_path_factory.mktemp("tf1")
  weights = mentor_reference.random_tf1_weights(np.random.default_rng(0))
  prefix = mentor_reference.write_tf1_checkpoint(str(directory / "mentornet.model"), weights,
                                                 extra=EXTRA, global_step=29999)
  return directory, prefix, weights


def test_tf1_round_trip_matches_numpy_reference(tf1_checkpoint):
  directory, prefix, weights = tf1_checkpoint
  assert prefix.endswith("mentornet.model-29999")
  features = _features(np.random.default_rng(1))
  expected = mentor_reference.tf1_forward(features, weights)
  for path in (directory, prefix, prefix + ".index", str(directory) + "/"):
    model, metadata = storage.load_mentornet(path)
    mentor_reference.assert_logits_close(model(features).numpy(), expected, 1e-6)
    assert metadata["format"] == "tf1_checkpoint" and metadata["checkpoint"] == prefix
    assert metadata["global_step"] == 29999
    assert metadata["config"] == {"label_embedding_size": 2, "epoch_embedding_size": 5,
                                  "num_fc_nodes": 20, "num_lstm_units": 1, "num_labels": 2,
                                  "num_epochs": 100, "corrected_output": False,
                                  "train_epoch_embedding": False}
  # The epoch table is loaded as it is and stays non-trainable.
  np.testing.assert_array_equal(model.epoch_embedding.numpy(), weights["mentornet/epoch_embedding"])
  assert model.count_params() == 757 and len(model.trainable_variables) == 9


def test_tf1_sizes_are_inferred_from_shapes(tmp_path):
  sizes = dict(label_embedding_size=3, epoch_embedding_size=6, num_fc_nodes=7, num_lstm_units=10,
               num_labels=4)
  weights = mentor_reference.random_tf1_weights(np.random.default_rng(2), **sizes)
  prefix = mentor_reference.write_tf1_checkpoint(str(tmp_path / "mentornet_pd"), weights,
                                                 write_state=False)
  model, metadata = storage.load_mentornet(tmp_path / "mentornet_pd")
  assert model.config == network.MentorNetConfig(**sizes)
  assert "global_step" not in metadata and metadata["checkpoint"] == prefix
  features = _features(np.random.default_rng(3), num_labels=4)
  mentor_reference.assert_logits_close(model(features).numpy(),
                                       mentor_reference.tf1_forward(features, weights), 1e-6)


def test_directory_without_state_file_uses_the_newest_step(tmp_path):
  rng = np.random.default_rng(4)
  old, new = mentor_reference.random_tf1_weights(rng), mentor_reference.random_tf1_weights(rng)
  for step, weights in ((999, old), (10000, new), (2000, old)):
    mentor_reference.write_tf1_checkpoint(str(tmp_path / "mentornet.model"), weights,
                                          global_step=step, write_state=False)
  assert tf.train.latest_checkpoint(str(tmp_path)) is None
  model, metadata = storage.load_mentornet(tmp_path)
  assert metadata["global_step"] == 10000
  np.testing.assert_array_equal(model.fc1_kernel.numpy(), new["mentornet/Variable"])


def test_checkpoint_without_mentornet_lists_what_it_found(tmp_path):
  prefix = mentor_reference.write_tf1_checkpoint(str(tmp_path / "student"),
                                                 {"ResNet/init/DW": np.ones([3], np.float32)})
  with pytest.raises(ValueError, match=r"missing mentornet/label_embedding.*ResNet/init/DW"):
    storage.load_mentornet(prefix)
  partial = mentor_reference.random_tf1_weights(np.random.default_rng(5))
  del partial["mentornet/Variable_3"]
  prefix = mentor_reference.write_tf1_checkpoint(str(tmp_path / "partial"), partial)
  with pytest.raises(ValueError, match=r"missing mentornet/Variable_3; its mentornet/ variables"):
    storage.load_mentornet(prefix)


def test_inconsistent_tf1_shapes_are_rejected(tmp_path):
  weights = mentor_reference.random_tf1_weights(np.random.default_rng(6))
  weights["mentornet/Variable"] = np.ones([8, 20], np.float32)
  prefix = mentor_reference.write_tf1_checkpoint(str(tmp_path / "bad"), weights)
  with pytest.raises(ValueError, match=r"mentornet/Variable \[8, 20\] \(expected \[9, 20\]\)"):
    storage.load_mentornet(prefix)


def test_save_load_round_trip_is_identical(tmp_path):
  config = network.MentorNetConfig(num_lstm_units=2, corrected_output=True)
  model = network.build_mentornet(config, seed=7)
  metadata = {"curriculum": "self_paced", "hyper_parameters": {"lambda1": 0.0, "lambda2": 1.5},
              "command": "python -m mentornet_tf.train_mentornet ...", "metrics": {"mse": 0.01}}
  target = tmp_path / "out" / "self_paced"
  storage.save_mentornet(model, target, metadata)
  loaded, loaded_metadata = storage.load_mentornet(target)
  assert loaded.config == config
  assert {k: loaded_metadata[k] for k in metadata} == metadata
  assert loaded_metadata["format"] == "mentornet_tf"
  with open(target / "mentornet.json", encoding="utf-8") as f:
    assert json.load(f)["config"]["num_lstm_units"] == 2
  features = _features(np.random.default_rng(8))
  np.testing.assert_array_equal(loaded(features).numpy(), model(features).numpy())
  for a, b in zip(model.variables, loaded.variables):
    np.testing.assert_array_equal(a.numpy(), b.numpy())
  # The weights prefix also works as a path.
  again, _ = storage.load_mentornet(target / "weights")
  np.testing.assert_array_equal(again(features).numpy(), model(features).numpy())


def test_save_replaces_an_earlier_save_and_leaves_no_temporaries(tmp_path):
  target = tmp_path / "mentor"
  storage.save_mentornet(network.build_mentornet(seed=1), target, {"run": 1})
  second = network.build_mentornet(seed=2)
  storage.save_mentornet(second, target, {"run": 2})
  loaded, metadata = storage.load_mentornet(target)
  assert metadata["run"] == 2
  np.testing.assert_array_equal(loaded.fc1_kernel.numpy(), second.fc1_kernel.numpy())
  assert sorted(os.listdir(tmp_path)) == ["mentor"]


def test_save_refuses_bad_metadata_and_foreign_directories(tmp_path):
  model = network.build_mentornet(seed=3)
  with pytest.raises(ValueError, match="reserved"):
    storage.save_mentornet(model, tmp_path / "a", {"config": {}})
  with pytest.raises(ValueError, match="JSON"):
    storage.save_mentornet(model, tmp_path / "a", {"array": np.ones(2)})
  assert not (tmp_path / "a").exists()
  (tmp_path / "foreign").mkdir()
  (tmp_path / "foreign" / "notes.txt").write_text("keep me")
  with pytest.raises(FileExistsError, match="not a MentorNet directory"):
    storage.save_mentornet(model, tmp_path / "foreign", {})
  assert (tmp_path / "foreign" / "notes.txt").read_text() == "keep me"
  assert sorted(os.listdir(tmp_path)) == ["foreign"]


def test_saved_model_export_matches(tmp_path, tf1_checkpoint):
  model, _ = storage.load_mentornet(tf1_checkpoint[1])
  storage.export_saved_model(model, tmp_path / "saved")
  serve = tf.saved_model.load(str(tmp_path / "saved")).signatures["serving_default"]
  for batch in (1, 33):
    features = _features(np.random.default_rng(batch), batch)
    out = serve(features=tf.constant(features))
    np.testing.assert_allclose(out["logits"].numpy(), model(features).numpy(), rtol=1e-6,
                               atol=1e-6)
    np.testing.assert_allclose(out["weights"].numpy(), tf.sigmoid(model(features)).numpy(),
                               rtol=1e-6, atol=1e-7)


def test_missing_path_says_what_is_expected(tmp_path):
  with pytest.raises(FileNotFoundError, match=r"nowhere/mentornet_pd.*mentornet.json.*TF1"):
    storage.load_mentornet(tmp_path / "nowhere" / "mentornet_pd")
  (tmp_path / "empty").mkdir()
  with pytest.raises(FileNotFoundError, match=r"empty.*neither mentornet.json nor any TF1"):
    storage.load_mentornet(tmp_path / "empty")


def test_foreign_json_format_is_rejected(tmp_path):
  (tmp_path / "mentornet.json").write_text(json.dumps({"format": "other"}))
  with pytest.raises(ValueError, match="format 'other'"):
    storage.load_mentornet(tmp_path)


def test_loads_inside_a_strategy_scope(tmp_path, tf1_checkpoint):
  plain, _ = storage.load_mentornet(tf1_checkpoint[1])
  storage.save_mentornet(plain, tmp_path / "ours", {})
  features = _features(np.random.default_rng(9), 8)
  strategy = tf.distribute.MirroredStrategy(["/cpu:0"])
  for path in (tf1_checkpoint[1], tmp_path / "ours"):
    with strategy.scope():
      model, _ = storage.load_mentornet(path)
    assert isinstance(model.fc1_kernel, tf.distribute.DistributedValues)
    np.testing.assert_array_equal(model(features).numpy(), plain(features).numpy())


def test_float64_model_round_trip(tmp_path):
  model = network.MentorNet(network.MentorNetConfig(), seed=10, dtype="float64")
  features = _features(np.random.default_rng(10), 8).astype(np.float64)
  expected = model(features).numpy()
  storage.save_mentornet(model, tmp_path / "f64", {})
  loaded, metadata = storage.load_mentornet(tmp_path / "f64")
  assert metadata["dtype"] == "float64" and loaded.fc1_kernel.dtype == tf.float64
  np.testing.assert_array_equal(loaded(features).numpy(), expected)


def _copy_shipped(tmp_path, name="mentor"):
  import shutil  # pylint: disable=g-import-not-at-top
  target = tmp_path / name
  shutil.copytree(os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                               "data", "mentornet_models", "mentornet_pd"), target)
  return target


def _damage_data(directory, how):
  path = directory / "weights.data-00000-of-00001"
  data = path.read_bytes()
  path.write_bytes(data[:10] if how == "truncate" else np.random.default_rng(0).bytes(len(data)))


@pytest.mark.parametrize("damage,message", [
    (lambda d: _damage_data(d, "truncate"), r"cannot read mentornet/.*truncated or corrupt"),
    (lambda d: _damage_data(d, "random"), r"Checksum does not match"),
    (lambda d: (d / "weights.data-00000-of-00001").unlink(), r"missing, truncated or corrupt"),
    (lambda d: (d / "weights.index").write_bytes(b""), r"weights\.index is empty \(0 bytes\)"),
    (lambda d: (d / "weights.index").write_bytes(b"x" * 100), r"not a readable TF checkpoint"),
    (lambda d: (d / "weights.index").unlink(), r"no weights \(.*weights\.index is missing\)"),
    (lambda d: (d / "mentornet.json").write_text("{"), r"mentornet\.json is not valid JSON"),
    (lambda d: (d / "mentornet.json").write_text("[]"), r"must hold a JSON object"),
    (lambda d: (d / "mentornet.json").write_text('{"format": "mentornet_tf"}'),
     r"has no 'config' field"),
    (lambda d: (d / "mentornet.json").write_text(
        '{"format": "mentornet_tf", "config": {"num_fc_nodes": 0}}'), r"num_fc_nodes=0"),
    (lambda d: (d / "mentornet.json").write_text(
        '{"format": "mentornet_tf", "config": {"num_fc_nodes": 7}}'),
     r"do not fit mentornet\.json: fc1_kernel \[9, 20\] \(expected \[9, 7\]"),
    (lambda d: (d / "mentornet.json").write_text(
        '{"format": "mentornet_tf", "config": {}, "dtype": "int8"}'), r"dtype 'int8'"),
])
def test_damaged_directory_names_path_and_problem(tmp_path, damage, message):
  directory = _copy_shipped(tmp_path)
  damage(directory)
  for check in (storage.check_mentornet, storage.load_mentornet):
    with pytest.raises(storage.MentorNetLoadError, match=message) as error:
      check(directory)
    assert str(directory) in str(error.value)


def test_student_checkpoint_is_not_a_mentornet(tmp_path):
  model = tf.Module()
  model.student = tf.Module()
  model.student.kernel = tf.Variable(np.ones([3, 2], np.float32))
  manager = tf.train.CheckpointManager(tf.train.Checkpoint(model=model, optimizer=tf.Module()),
                                       str(tmp_path / "ckpt"), max_to_keep=1)
  prefix = manager.save()
  for path in (tmp_path / "ckpt", prefix, prefix + ".index"):
    with pytest.raises(storage.MentorNetLoadError, match=r"ckpt-1 is a mentornet_tf training "
                       r"checkpoint \(a StudentNet run's ckpt/\), not a MentorNet"):
      storage.check_mentornet(path)


def test_missing_and_plain_files_are_load_errors(tmp_path):
  with pytest.raises(storage.MentorNetNotFoundError) as error:
    storage.check_mentornet(tmp_path / "nowhere")
  assert isinstance(error.value, FileNotFoundError) and isinstance(error.value, ValueError)
  (tmp_path / "notes.txt").write_text("x")
  with pytest.raises(storage.MentorNetLoadError, match=r"notes\.txt is a file but not part"):
    storage.check_mentornet(tmp_path / "notes.txt")


def test_check_returns_the_metadata_of_good_mentornets(tmp_path, tf1_checkpoint):
  assert storage.check_mentornet(_copy_shipped(tmp_path))["curriculum"] == "mentornet_pd"
  assert storage.check_mentornet(tf1_checkpoint[1])["global_step"] == 29999


@pytest.mark.slow  # ~5-12 s: a whole training run or a fresh TF process
def test_check_runs_no_eager_op(tmp_path):
  """check_mentornet leaves TF's devices unconfigured: logical CPUs can still be set up after it."""
  import subprocess  # pylint: disable=g-import-not-at-top
  import sys  # pylint: disable=g-import-not-at-top
  repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  code = ("import mentornet_tf, tensorflow as tf\n"
          "from mentornet_tf.mentor import storage\n"
          "storage.check_mentornet('data/mentornet_models/mentornet_pd')\n"
          "cpu = tf.config.list_physical_devices('CPU')[0]\n"
          "tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()]"
          " * 2)\n"
          "print('CPUS', len(tf.config.list_logical_devices('CPU')))\n")
  result = subprocess.run([sys.executable, "-c", code], cwd=repo, capture_output=True, text=True,
                          timeout=120, env=dict(os.environ, PYTHONPATH=repo))
  assert "CPUS 2" in result.stdout, result.stderr[-2000:]
