"""The paper's baselines on the SPADE path: losses against numpy, config refusals, tiny runs."""
import json
import os

import numpy as np
import pytest
import tensorflow as tf

from mentornet_tf import config as config_lib
from mentornet_tf import losses

LOGITS = np.array([[2.0, 0.5, -1.0], [0.1, 0.2, 0.3], [-3.0, 4.0, 0.0], [1.0, 1.0, 1.0]],
                  np.float32)
LABELS = np.array([0, 2, 0, 1], np.int32)


def _softmax(x):
  e = np.exp(x - x.max(axis=1, keepdims=True))
  return e / e.sum(axis=1, keepdims=True)


def _loss(name, **kwargs):
  return losses.per_example_loss(name, tf.constant(LABELS), tf.constant(LOGITS), **kwargs).numpy()


def test_loss_names_agree_with_config():
  assert losses.LOSSES == config_lib.LOSSES


def test_cross_entropy_is_the_unchanged_op():
  q = _softmax(LOGITS.astype(np.float64))
  ce = -np.log(q[np.arange(4), LABELS])
  np.testing.assert_allclose(_loss("cross_entropy"), ce, rtol=1e-5)


@pytest.mark.parametrize("gamma", [1.0, 2.0, 3.0])
def test_focal_constant_and_differentiated_values(gamma):
  q = _softmax(LOGITS.astype(np.float64))
  q_y = q[np.arange(4), LABELS]
  reference = (1 - q_y) ** gamma * -np.log(q_y)  # the same value; only the gradient differs
  np.testing.assert_allclose(_loss("focal", focal_gamma=gamma), reference, rtol=1e-5)
  np.testing.assert_allclose(_loss("focal_differentiated", focal_gamma=gamma), reference,
                             rtol=1e-4)


def test_focal_default_gamma_is_two():
  np.testing.assert_allclose(_loss("focal"), _loss("focal", focal_gamma=2.0))


def test_focal_gradient_treats_the_weight_as_constant():
  logits = tf.Variable(LOGITS)
  labels = tf.constant(LABELS)
  gamma = 2.0
  q = _softmax(LOGITS.astype(np.float64))
  onehot = np.eye(3)[LABELS]
  weight = (1 - q[np.arange(4), LABELS]) ** gamma
  with tf.GradientTape(persistent=True) as tape:
    constant = tf.reduce_sum(losses.per_example_loss("focal", labels, logits, gamma))
    differentiated = tf.reduce_sum(
        losses.per_example_loss("focal_differentiated", labels, logits, gamma))
  # d(w CE)/dlogits with w constant = w (q - onehot).
  np.testing.assert_allclose(tape.gradient(constant, logits).numpy(),
                             weight[:, None] * (q - onehot), rtol=1e-4, atol=1e-6)
  assert not np.allclose(tape.gradient(differentiated, logits).numpy(),
                         tape.gradient(constant, logits).numpy(), atol=1e-4)


@pytest.mark.parametrize("beta", [None, 0.7, 0.95, 1.0])
def test_bootstrap_soft_against_numpy(beta):
  q = _softmax(LOGITS.astype(np.float64))
  b = 0.95 if beta is None else beta
  target = b * np.eye(3)[LABELS] + (1 - b) * q  # Eq. 31
  reference = -(target * np.log(q)).sum(axis=1)
  np.testing.assert_allclose(_loss("bootstrap_soft", bootstrap_beta=beta), reference, rtol=1e-5)


@pytest.mark.parametrize("beta", [None, 0.7, 0.95])
def test_bootstrap_hard_against_numpy(beta):
  q = _softmax(LOGITS.astype(np.float64))
  b = 0.8 if beta is None else beta
  target = b * np.eye(3)[LABELS] + (1 - b) * np.eye(3)[q.argmax(axis=1)]  # Eq. 32
  reference = -(target * np.log(q)).sum(axis=1)
  np.testing.assert_allclose(_loss("bootstrap_hard", bootstrap_beta=beta), reference, rtol=1e-5)


def test_bootstrap_soft_trains_the_entropy_term():
  # q is not stop-gradient: the gradient is beta (q - y) + (1 - beta) dH/dlogits.
  logits = tf.Variable(LOGITS)
  with tf.GradientTape() as tape:
    loss = tf.reduce_sum(losses.per_example_loss("bootstrap_soft", tf.constant(LABELS), logits,
                                                 bootstrap_beta=0.5))
  q = _softmax(LOGITS.astype(np.float64))
  log_q = np.log(q)
  entropy = -(q * log_q).sum(axis=1, keepdims=True)
  d_entropy = -q * (log_q + entropy)  # dH/dz_k = -q_k (log q_k + H)
  expected = 0.5 * (q - np.eye(3)[LABELS]) + 0.5 * d_entropy
  np.testing.assert_allclose(tape.gradient(loss, logits).numpy(), expected, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("fields, flag", [
    (dict(loss="hinge"), "--loss='hinge'"),
    (dict(loss="focal", focal_gamma=-1.0), "--focal_gamma=-1.0"),
    (dict(loss="focal", focal_gamma=float("nan")), "--focal_gamma=nan"),
    (dict(loss="cross_entropy", focal_gamma=2.0), "--focal_gamma=2.0"),
    (dict(loss="bootstrap_soft", bootstrap_beta=1.5), "--bootstrap_beta=1.5"),
    (dict(loss="bootstrap_hard", bootstrap_beta=-0.1), "--bootstrap_beta=-0.1"),
    (dict(loss="focal", bootstrap_beta=0.8), "--bootstrap_beta=0.8"),
])
def test_bad_loss_settings_name_the_flag(fields, flag):
  with pytest.raises(config_lib.ConfigError, match=flag.replace("(", r"\(")):
    config_lib.StudentConfig(studentnet="mlp", **fields)


def test_focal_loss_twice_is_refused():
  with pytest.raises(config_lib.ConfigError, match="--loss='focal'"):
    config_lib.TrainConfig(train_log_dir="x", student=config_lib.StudentConfig(loss="focal"),
                           mentor=config_lib.MentorConfig(weighting="curriculum",
                                                          curriculum="focal_loss"))


def test_old_config_json_without_the_new_fields_restarts():
  from mentornet_tf import run_directory  # pylint: disable=g-import-not-at-top
  config = config_lib.TrainConfig(train_log_dir="x")
  previous = json.loads(config.to_json())
  for field in ("loss", "focal_gamma", "bootstrap_beta"):
    del previous["student"][field]
  assert run_directory.experiment_differences(previous, config) == []
  changed = config_lib.TrainConfig(train_log_dir="x",
                                   student=config_lib.StudentConfig(loss="bootstrap_soft"))
  assert [d[0] for d in run_directory.experiment_differences(previous, changed)] == ["loss"]


def tiny_config(run_dir, student=None, mentor=None, steps=6):
  """digits / mlp, a few steps, no evaluation between epochs (the end-to-end checks)."""
  return config_lib.TrainConfig(
      data=config_lib.DataConfig(dataset_name="digits", batch_size=64, noise_fraction=0.4),
      student=student or config_lib.StudentConfig(studentnet="mlp"),
      mentor=mentor or config_lib.MentorConfig(),
      train_log_dir=str(run_dir), optimizer="adam", learning_rate=0.001, lr_schedule="constant",
      max_number_of_steps=steps, steps_per_epoch=3, eval_interval=0, save_interval_secs=0,
      summary_steps=2, verbose=0)


@pytest.mark.parametrize("loss", [pytest.param("focal", marks=pytest.mark.slow),  # ~6 s
                                  "focal_differentiated", "bootstrap_soft", "bootstrap_hard"])
def test_each_loss_trains_end_to_end(tmp_path, loss):
  from mentornet_tf import train_lib  # pylint: disable=g-import-not-at-top
  config = tiny_config(tmp_path / loss, config_lib.StudentConfig(studentnet="mlp", loss=loss))
  results = train_lib.run(config)
  assert results["steps"] == 6 and np.isfinite(results["final_accuracy"])
  saved = json.load(open(os.path.join(config.train_log_dir, "config.json")))
  assert saved["student"]["loss"] == loss


# --- Self-paced as the paper's baseline -------------------------------------------------------

def _self_paced(max_steps=100, growth_epochs=(10, 50), growth=0.2, q=0.5):
  from mentornet_tf.mentor import weighting as weighting_lib  # pylint: disable=g-import-not-at-top
  mentor = config_lib.MentorConfig(weighting="self_paced_baseline", loss_p_percentile=q,
                                   self_paced_growth_epochs=growth_epochs,
                                   self_paced_growth=growth)
  return weighting_lib.build_weighting(mentor, max_steps)


def _tf1_nearest(values, q):
  ordered = np.sort(values)[::-1]
  return ordered[int(np.round((len(values) - 1) * (1 - q)))]


def test_self_paced_baseline_against_numpy():
  layer = _self_paced()
  ids = tf.range(8, dtype=tf.int64)
  first = np.array([0.5, 2.0, 1.0, 3.0, 0.1, 1.5, 2.5, 0.7], np.float32)
  lambda0 = _tf1_nearest(first, 0.5)
  out = layer(tf.constant(first), ids, tf.constant(0, tf.int64), training=True)
  np.testing.assert_array_equal(out.weights.numpy(), (first <= lambda0).astype(np.float32))
  assert float(layer.initial_lambda.numpy()) == pytest.approx(lambda0)
  # Later batches keep lambda_0 (not re-estimated); it grows by 20% at 10% and again at 50%.
  later = np.array([1.0, 1.1, 1.25, 1.4, 1.5, 1.7, 1.8, 1.9], np.float32) * lambda0
  for step, factor in ((9, 1.0), (10, 1.2), (49, 1.2), (50, 1.44), (99, 1.44)):
    out = layer(tf.constant(later), ids, tf.constant(step, tf.int64), training=True)
    np.testing.assert_array_equal(out.weights.numpy(),
                                  (later <= lambda0 * np.float32(factor)).astype(np.float32),
                                  err_msg=f"step {step}")
  assert float(layer.initial_lambda.numpy()) == pytest.approx(lambda0)


def test_self_paced_baseline_has_no_dropout_or_burn_in_and_inspection_sets_nothing():
  layer = _self_paced()
  loss = tf.constant(np.linspace(0.1, 3.0, 16, dtype=np.float32))
  out = layer(loss, tf.range(16, dtype=tf.int64), tf.constant(0, tf.int64), training=False)
  assert float(layer.initial_lambda.numpy()) == 0.0  # inspection reads, never writes
  assert out.weights.numpy().sum() == 8  # the batch's own median when lambda_0 is not set
  out = layer(loss, tf.range(16, dtype=tf.int64), tf.constant(0, tf.int64), training=True)
  assert out.weights.numpy().sum() == 8  # the default dropout schedule (rate 0.5) not applied


@pytest.mark.parametrize("fields, flag", [
    (dict(self_paced_growth=-0.1), "--self_paced_growth=-0.1"),
    (dict(self_paced_growth=float("inf")), "--self_paced_growth=inf"),
    (dict(self_paced_growth_epochs=(0, 50)), "--self_paced_growth_epochs"),
    (dict(self_paced_growth_epochs=(100,)), "--self_paced_growth_epochs"),
])
def test_bad_self_paced_settings_name_the_flag(fields, flag):
  with pytest.raises(config_lib.ConfigError, match=flag):
    config_lib.MentorConfig(weighting="self_paced_baseline", **fields)


def test_self_paced_baseline_trains_end_to_end_and_checkpoints_lambda(tmp_path):
  from mentornet_tf import train_lib  # pylint: disable=g-import-not-at-top
  mentor = config_lib.MentorConfig(weighting="self_paced_baseline", loss_p_percentile=0.6)
  config = tiny_config(tmp_path / "spl", mentor=mentor)
  results = train_lib.run(config)
  assert results["steps"] == 6 and np.isfinite(results["final_accuracy"])
  reader = tf.train.load_checkpoint(os.path.join(config.train_log_dir, "ckpt"))
  names = [n for n in reader.get_variable_to_shape_map() if "self_paced_initial_lambda" in n]
  assert names and reader.get_tensor(names[0]) > 0, names


# --- Forgetting (dropout keep probability) and NoReg ------------------------------------------

def test_students_with_dropout_agree_with_config():
  from mentornet_tf import students  # pylint: disable=g-import-not-at-top
  assert config_lib.STUDENTS_WITH_DROPOUT == tuple(
      name for name, spec in students.STUDENTS.items() if spec.dropout_keep_prob is not None)


@pytest.mark.parametrize("fields, needle", [
    (dict(studentnet="mlp", dropout_keep_prob=0.5), "--dropout_keep_prob=0.5 is invalid: "
                                                    "--studentnet=mlp has no dropout layer"),
    (dict(studentnet="small_cnn", dropout_keep_prob=0.5), "--studentnet=small_cnn has no dropout"),
    (dict(studentnet="inception", dropout_keep_prob=0.0), "--dropout_keep_prob=0.0"),
    (dict(studentnet="inception", dropout_keep_prob=1.5), "--dropout_keep_prob=1.5"),
    (dict(studentnet="inception", dropout_keep_prob=float("nan")), "--dropout_keep_prob=nan"),
])
def test_bad_dropout_settings_name_the_flag(fields, needle):
  with pytest.raises(config_lib.ConfigError, match=needle):
    config_lib.StudentConfig(**fields)


def test_dropout_keep_prob_reaches_the_student_layer():
  from mentornet_tf import students  # pylint: disable=g-import-not-at-top
  from mentornet_tf.students import resnet  # pylint: disable=g-import-not-at-top
  cifarnet = students.build_student("inception", 10, (8, 8, 1), seed=0, dropout_keep_prob=0.3)
  assert cifarnet.get_layer("dropout3").rate == pytest.approx(0.7)
  default = students.build_student("inception", 10, (8, 8, 1), seed=0)
  assert default.get_layer("dropout3").rate == pytest.approx(0.2)  # the original's keep 0.8
  for a, b in zip(default.get_weights(), cifarnet.get_weights()):  # same initial weights
    np.testing.assert_array_equal(a, b)
  small = dict(num_residual_units=1, filters=(4, 8, 12, 16), seed=0)
  plain = resnet.build_resnet(10, (8, 8, 3), **small)
  dropped = resnet.build_resnet(10, (8, 8, 3), dropout_keep_prob=0.5, **small)
  assert not any(isinstance(layer, tf.keras.layers.Dropout) or "dropout" in layer.name
                 for layer in plain.layers)
  assert dropped.get_layer("dropout").rate == pytest.approx(0.5)
  for a, b in zip(plain.get_weights(), dropped.get_weights()):
    np.testing.assert_array_equal(a, b)
  with pytest.raises(ValueError, match="--dropout_keep_prob=0.5 is invalid"):
    students.build_student("mlp", 10, (8, 8, 1), dropout_keep_prob=0.5)


@pytest.mark.slow  # ~4-6 s: a whole training run
@pytest.mark.parametrize("name, student, augmentation", [
    ("forgetting", config_lib.StudentConfig(studentnet="inception", dropout_keep_prob=0.2),
     "auto"),
    ("noreg", config_lib.StudentConfig(studentnet="inception", dropout_keep_prob=1.0,
                                       weight_decay=0.0), "none"),
])
def test_forgetting_and_noreg_train_end_to_end(tmp_path, name, student, augmentation):
  import dataclasses  # pylint: disable=g-import-not-at-top
  from mentornet_tf import train_lib  # pylint: disable=g-import-not-at-top
  config = tiny_config(tmp_path / name, student)
  config = dataclasses.replace(config, data=dataclasses.replace(config.data,
                                                                augmentation=augmentation))
  results = train_lib.run(config)
  assert results["steps"] == 6 and np.isfinite(results["final_accuracy"])
  saved = json.load(open(os.path.join(config.train_log_dir, "config.json")))
  assert saved["student"]["dropout_keep_prob"] == student.dropout_keep_prob


# --- Goldberger & Ben-Reuven's S-model ------------------------------------------------------

def test_s_model_channel_loss_against_numpy():
  rng = np.random.default_rng(0)
  w = rng.normal(size=(3, 3)).astype(np.float32)
  channel = losses.NoiseAdaptation(3)
  channel.w.assign(w)
  q = _softmax(LOGITS.astype(np.float64))
  theta = _softmax(w.astype(np.float64))  # row-softmax
  reference = -np.log((q @ theta)[np.arange(4), LABELS])
  np.testing.assert_allclose(channel.loss(tf.constant(LABELS), tf.constant(LOGITS)).numpy(),
                             reference, rtol=1e-5)
  assert [v.name for v in channel.trainable_variables] == ["noise_adaptation_w:0"]  # no bias


def test_s_model_initialisation_from_a_known_confusion_matrix():
  predictions = np.array([0, 0, 0, 0, 1, 1, 2, 2, 2, 2])
  noisy = np.array([0, 0, 0, 1, 1, 2, 2, 2, 0, 2])
  init = losses.confusion_log_init(predictions, noisy, 4)
  expected = np.array([[0.75, 0.25, 0, 0], [0, 0.5, 0.5, 0], [0.25, 0, 0.75, 0], [0, 0, 0, 0]])
  np.testing.assert_allclose(init, np.log(expected + 1e-8), rtol=1e-6)
  channel = losses.NoiseAdaptation(4)
  channel.initialise_from_confusion(predictions, noisy)
  theta = tf.nn.softmax(channel.w, axis=-1).numpy()
  np.testing.assert_allclose(theta[:3], expected[:3], atol=1e-6)  # softmax(log C) = C per row
  np.testing.assert_allclose(theta[3], 0.25, atol=1e-6)  # never predicted: a uniform row


@pytest.mark.parametrize("fields, flag", [
    (dict(s_model_pretrain_steps=-1), "--s_model_pretrain_steps=-1"),
    (dict(s_model_pretrain_steps=3, loss="focal"), "--s_model_pretrain_steps=3"),
])
def test_bad_s_model_settings_name_the_flag(fields, flag):
  with pytest.raises(config_lib.ConfigError, match=flag):
    config_lib.StudentConfig(**fields)


def test_s_model_phase_must_end_before_training_does():
  with pytest.raises(config_lib.ConfigError, match="--s_model_pretrain_steps=10"):
    config_lib.TrainConfig(train_log_dir="x", max_number_of_steps=10,
                           student=config_lib.StudentConfig(s_model_pretrain_steps=10))


@pytest.mark.slow  # ~4-6 s: a whole training run
def test_s_model_two_phases_in_one_run(tmp_path):
  from mentornet_tf import train_lib  # pylint: disable=g-import-not-at-top
  config = tiny_config(tmp_path / "s_model",
                       config_lib.StudentConfig(studentnet="mlp", s_model_pretrain_steps=3))
  results = train_lib.run(config)
  assert results["steps"] == 6 and np.isfinite(results["final_accuracy"])
  reader = tf.train.load_checkpoint(os.path.join(config.train_log_dir, "ckpt"))
  names = [n for n in reader.get_variable_to_shape_map()
           if "noise_adaptation_w" in n and "OPTIMIZER_SLOT" not in n]
  assert len(names) == 1, names
  w = reader.get_tensor(names[0])
  assert w.shape == (10, 10) and np.all(np.isfinite(w)) and w.min() < -10  # log of a confusion
  assert not [n for n in reader.get_variable_to_shape_map() if n.startswith("model/student/")
              and "noise_adaptation" in n]  # not a StudentNet variable: no weight decay


@pytest.mark.slow  # ~5-12 s: a whole training run or a fresh TF process
def test_s_model_restart_past_the_switch_keeps_the_checkpointed_channel(tmp_path, monkeypatch):
  import dataclasses  # pylint: disable=g-import-not-at-top
  from mentornet_tf import train_lib  # pylint: disable=g-import-not-at-top
  from mentornet_tf.training import noise_adaptation  # pylint: disable=g-import-not-at-top
  calls = []
  original = noise_adaptation.ChannelInitialiser.initialise
  monkeypatch.setattr(noise_adaptation.ChannelInitialiser, "initialise",
                      lambda self: calls.append(1) or original(self))
  config = tiny_config(tmp_path / "s_model",
                       config_lib.StudentConfig(studentnet="mlp", s_model_pretrain_steps=3))
  train_lib.run(config)
  assert calls == [1]
  results = train_lib.run(dataclasses.replace(config, max_number_of_steps=9))
  assert calls == [1] and results["steps"] == 9 and results["resumed_from"]


@pytest.mark.parametrize("flags, needle", [
    ("--loss=focal --focal_gamma=-1", "--focal_gamma=-1.0 is invalid"),
    ("--loss=bootstrap_soft --bootstrap_beta=1.2", "--bootstrap_beta=1.2 is invalid"),
    ("--bootstrap_beta=0.8", "--bootstrap_beta=0.8 is invalid: applies to --loss=bootstrap_soft"),
    ("--loss=hinge", "--loss"),
    ("--dropout_keep_prob=0.5", "--dropout_keep_prob=0.5 is invalid: --studentnet=mlp has no "
                                "dropout layer"),
    ("--weighting=self_paced_baseline --self_paced_growth=-1",
     "--self_paced_growth=-1.0 is invalid"),
    ("--s_model_pretrain_steps=40", "--s_model_pretrain_steps=40 is invalid"),
])
def test_bad_baseline_flags_exit_2_and_write_nothing(tmp_path, flags, needle):
  import test_train  # pylint: disable=g-import-not-at-top
  flagfile = tmp_path / "tiny.flags"
  flagfile.write_text(test_train.TINY_FLAGS)
  run_dir = tmp_path / "run"
  run = test_train._run  # pylint: disable=protected-access
  result = run([f"--flagfile={flagfile}", f"--train_log_dir={run_dir}",
                "--max_number_of_steps=40", *flags.split()], check=False)
  assert result.returncode == 2, result.stderr[-2000:]
  assert needle in result.stderr, result.stderr[-2000:]
  assert not run_dir.exists()


def test_compare_with_fullmodel_resets_the_baselines():
  from mentornet_tf import train  # pylint: disable=g-import-not-at-top
  config = config_lib.TrainConfig(
      train_log_dir="runs/x", max_number_of_steps=100,
      student=config_lib.StudentConfig(studentnet="inception", loss="bootstrap_soft",
                                       bootstrap_beta=0.9, dropout_keep_prob=0.3),
      mentor=config_lib.MentorConfig(weighting="self_paced_baseline"))
  fullmodel = train.fullmodel_config(config)
  assert fullmodel.train_log_dir == "runs/x_fullmodel"
  assert fullmodel.student == config_lib.StudentConfig(studentnet="inception")
  assert fullmodel.mentor.weighting == "none"
  s_model = config_lib.StudentConfig(studentnet="mlp", s_model_pretrain_steps=10)
  assert train.fullmodel_config(dataclasses_replace(config, student=s_model)).student == \
      config_lib.StudentConfig(studentnet="mlp")


def dataclasses_replace(obj, **changes):
  import dataclasses  # pylint: disable=g-import-not-at-top
  return dataclasses.replace(obj, **changes)


def test_results_table_names_the_baselines():
  from mentornet_tf import results_table  # pylint: disable=g-import-not-at-top
  name = results_table.with_baseline
  assert name("FullModel", {"loss": "cross_entropy"}) == "FullModel"
  assert name("FullModel", {}) == "FullModel"  # an older config.json
  assert name("FullModel", {"loss": "focal", "focal_gamma": 3.0}) == "Focal (gamma 3)"
  assert name("FullModel", {"loss": "bootstrap_soft"}) == "Reed Soft"
  assert name("FullModel", {"loss": "bootstrap_hard", "bootstrap_beta": 0.8}) == \
      "Reed Hard (beta 0.8)"
  assert name("FullModel", {"dropout_keep_prob": 0.2}) == "Forgetting (keep 0.2)"
  assert name("FullModel", {"dropout_keep_prob": 1.0}) == "FullModel"
  assert name("FullModel", {"s_model_pretrain_steps": 500}) == "Goldberger (S-model)"
  assert name("MentorNet PD", {"loss": "focal"}) == "MentorNet PD + Focal"
  assert results_table.method_name({"weighting": "self_paced_baseline"}) == "Self-paced"
  rank = results_table._method_rank  # pylint: disable=protected-access
  assert rank("FullModel") < rank("Forgetting (keep 0.2)") < rank("MentorNet PD")


@pytest.mark.slow  # ~5-12 s: a whole training run or a fresh TF process
def test_baseline_flags_reach_config_json(tmp_path):
  import test_train  # pylint: disable=g-import-not-at-top
  flagfile = tmp_path / "tiny.flags"
  flagfile.write_text(test_train.TINY_FLAGS)
  run_dir = tmp_path / "run"
  run = test_train._run  # pylint: disable=protected-access
  run([f"--flagfile={flagfile}", f"--train_log_dir={run_dir}", "--max_number_of_steps=4",
       "--loss=bootstrap_hard", "--bootstrap_beta=0.7", "--weighting=self_paced_baseline",
       "--self_paced_growth_epochs=20,60", "--self_paced_growth=0.3",
       "--s_model_pretrain_steps=0"])
  saved = json.load(open(run_dir / "config.json"))
  assert saved["student"]["loss"] == "bootstrap_hard" and saved["student"]["bootstrap_beta"] == 0.7
  assert saved["mentor"]["weighting"] == "self_paced_baseline"
  assert saved["mentor"]["self_paced_growth_epochs"] == [20, 60]
  assert saved["mentor"]["self_paced_growth"] == 0.3
  assert "--loss=bootstrap_hard" in open(run_dir / "flags.txt").read()
