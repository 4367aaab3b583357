"""Bad-input cases of `python -m mentornet_tf.train` (run by tests/test_bad_inputs.py).

Every case trains a tiny digits MLP into `{dir}/run` should it be wrongly accepted, so the
harness sees the case directory change. Setups write the broken inputs: flagfiles, original CIFAR
TFRecords, damaged copies of the shipped MentorNet PD, a StudentNet run's checkpoint.
"""
import json
import os
import shutil

import numpy as np

from bad_input_harness import Case
from bad_input_harness import REPO

MENTORNET_PD = os.path.join(REPO, "data", "mentornet_models", "mentornet_pd")
BASE = ["--dataset_name=digits", "--studentnet=mlp", "--batch_size=64", "--lr_schedule=constant",
        "--max_number_of_steps=2", "--eval_interval=0", "--save_interval_secs=0", "--verbose=0",
        "--train_log_dir={dir}/run"]
CIFAR = ["--dataset_name=cifar10", "--data_dir={dir}/data", "--batch_size=2"]
MENTOR = ["--trained_mentornet_dir={dir}/mentor"]


def _case(case_id, args, message, **kwargs):
  return Case(case_id, "train", BASE + list(args), message, **kwargs)


# ----------------------------------------------------------------------------- setups

def _write_text(name, text):
  def setup(case_dir):
    path = case_dir / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
  return setup


def _mkdir(name):
  def setup(case_dir):
    (case_dir / name).mkdir(parents=True)
  return setup


def _png(image):
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  return tf.io.encode_png(image).numpy()


def _write_records(path, encoded_images, labels):
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  with tf.io.TFRecordWriter(str(path)) as writer:
    for encoded, label in zip(encoded_images, labels):
      feature = {
          "image/encoded": tf.train.Feature(bytes_list=tf.train.BytesList(value=[encoded])),
          "image/format": tf.train.Feature(bytes_list=tf.train.BytesList(value=[b"png"])),
          "image/class/label": tf.train.Feature(int64_list=tf.train.Int64List(value=[label]))}
      writer.write(tf.train.Example(
          features=tf.train.Features(feature=feature)).SerializeToString())


def _cifar(train="good", shape=(32, 32, 3), labels=(1, 2, 3, 4)):
  """`{dir}/data`: cifar10_train-0000{0,1}-of-00002 and a test file; file 1 damaged by `train`."""
  def setup(case_dir):
    data = case_dir / "data"
    data.mkdir()
    rng = np.random.default_rng(0)
    good = [_png(rng.integers(0, 256, size=(32, 32, 3), dtype=np.uint8)) for _ in range(4)]
    _write_records(data / "cifar10_train-00000-of-00002", good[:2], labels[:2])
    damaged = data / "cifar10_train-00001-of-00002"
    if train == "empty":
      damaged.write_bytes(b"")
    elif train == "undecodable":
      _write_records(damaged, [b"not an image"] * 2, labels[2:])
    elif train == "shape":
      _write_records(damaged, [_png(np.zeros(shape, np.uint8))] * 2, labels[2:])
    else:
      _write_records(damaged, good[2:], labels[2:])
      if train == "truncated":
        damaged.write_bytes(damaged.read_bytes()[:-30])
    _write_records(data / "cifar10_test-00000-of-00001", good[:2], [0, 1])
  return setup


def _mentor(damage):
  """`{dir}/mentor`: a copy of the shipped MentorNet PD with `damage(directory)` applied."""
  def setup(case_dir):
    directory = case_dir / "mentor"
    shutil.copytree(MENTORNET_PD, directory)
    damage(directory)
  return setup


def _truncate_data(directory):
  path = directory / "weights.data-00000-of-00001"
  path.write_bytes(path.read_bytes()[:20])


def _random_data(directory):
  path = directory / "weights.data-00000-of-00001"
  path.write_bytes(np.random.default_rng(1).bytes(path.stat().st_size))


def _empty_index(directory):
  (directory / "weights.index").write_bytes(b"")


def _not_json(directory):
  (directory / "mentornet.json").write_text('{"format": "mentornet_tf", "config": ')


def _wrong_field(directory):
  metadata = json.loads((directory / "mentornet.json").read_text())
  metadata["config"]["num_lstm_units"] = "one"
  (directory / "mentornet.json").write_text(json.dumps(metadata))


def _sizes_do_not_fit(directory):
  metadata = json.loads((directory / "mentornet.json").read_text())
  metadata["config"]["num_fc_nodes"] = 7
  (directory / "mentornet.json").write_text(json.dumps(metadata))


def _student_checkpoint(case_dir):
  """`{dir}/mentor`: what a run's ckpt/ holds (model/student/..., optimizer/...), no MentorNet."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  model, optimizer = tf.Module(), tf.Module()
  model.student = tf.Module()
  model.student.kernel = tf.Variable(np.ones([64, 10], np.float32))
  optimizer.iterations = tf.Variable(5, dtype=tf.int64)
  checkpoint = tf.train.Checkpoint(model=model, optimizer=optimizer)
  tf.train.CheckpointManager(checkpoint, str(case_dir / "mentor"), max_to_keep=1).save()


def _file(name):
  return _write_text(name, "not a directory\n")


MULTI_WORKER = json.dumps({"cluster": {"worker": ["localhost:1", "localhost:2", "localhost:3"]},
                           "task": {"type": "worker", "index": 0}})

CASES = [
    # Flags: parsing.
    _case("train_unknown_flag", ["--loss_p_precentile=0.75"], r"loss_p_precentile"),
    _case("train_unknown_flag_in_flagfile", ["--flagfile={dir}/run.flags"],
          r"loss_p_precentile", setup=_write_text("run.flags", "--loss_p_precentile=0.75\n")),
    _case("train_unreadable_flagfile", ["--flagfile={dir}/missing.flags"],
          r"^error: Unable to open flagfile: .*missing\.flags.*run the launch/ flagfiles from the "
          r"repository root"),
    _case("train_positional_argument", ["extra"], r"positional.*extra"),
    _case("train_bad_enum_dataset", ["--dataset_name=imagenet"], r"dataset_name.*imagenet"),
    _case("train_bad_enum_student", ["--studentnet=vgg16"], r"studentnet"),
    _case("train_not_a_number", ["--learning_rate=fast"], r"learning_rate"),
    # Flags: values.
    _case("train_no_train_log_dir", ["--train_log_dir="], r"--train_log_dir.*required"),
    _case("train_noise_fraction", ["--noise_fraction=1.5"], r"--noise_fraction=1\.5.*\[0, 1\]"),
    _case("train_dropout_rates_sum", ["--example_dropout_rates=0.5,17,0.05,80"],
          r"--example_dropout_rates=.*sum to 97, not 100"),
    _case("train_dropout_rates_malformed", ["--example_dropout_rates=0.5,17,x,83"],
          r"--example_dropout_rates=.*'x'"),
    _case("train_dropout_rates_odd", ["--example_dropout_rates=0.5,17,0.05"],
          r"--example_dropout_rates=.*pairs"),
    _case("train_lr_values_mismatch", ["--lr_schedule=piecewise", "--lr_values=0.1,0.01"],
          r"--lr_values=.*one more value than --lr_boundaries"),
    _case("train_lr_boundaries_order", ["--lr_schedule=piecewise", "--lr_boundaries=30,20,10"],
          r"--lr_boundaries=.*increasing"),
    _case("train_lr_values_inf", ["--lr_schedule=piecewise", "--lr_values=0.1,inf,0.001,0.0001"],
          r"--lr_values=.*finite"),
    _case("train_learning_rate_inf", ["--learning_rate=inf"], r"--learning_rate=inf.*finite"),
    _case("train_learning_rate_nan", ["--learning_rate=nan"], r"--learning_rate=nan.*finite"),
    _case("train_momentum_one", ["--momentum=1.0"], r"--momentum=1\.0.*\[0, 1\)"),
    _case("train_seed_negative", ["--seed=-1"], r"--seed=-1"),
    _case("train_update_mentornet_without_mentornet", ["--update_mentornet_epochs=20"],
          r"--update_mentornet_epochs=\(20,\) is invalid: .*--weighting=mentornet only"),
    _case("train_max_steps_zero", ["--max_number_of_steps=0"],
          r"--max_number_of_steps=0 is invalid: must be >= 1"),
    _case("train_noise_seed_negative", ["--noise_seed=-3"], r"--noise_seed=-3"),
    _case("train_shuffle_buffer_zero", ["--shuffle_buffer=0"], r"--shuffle_buffer=0.*>= 1"),
    _case("train_summary_steps_zero", ["--summary_steps=0"], r"--summary_steps=0.*>= 1"),
    _case("train_save_interval_negative", ["--save_interval_secs=-5"],
          r"--save_interval_secs=-5.*>= 0"),
    _case("train_eval_interval_negative", ["--eval_interval=-1"], r"--eval_interval=-1"),
    _case("train_verbose_three", ["--verbose=3"], r"--verbose=3"),
    _case("train_bad_enum_dtype", ["--dtype=float64"], r"dtype.*float64"),
    _case("train_steps_per_execution_zero", ["--steps_per_execution=0"],
          r"--steps_per_execution=0.*>= 1"),
    _case("train_steps_per_execution_with_s_model",
          ["--steps_per_execution=4", "--s_model_pretrain_steps=1"],
          r"--steps_per_execution=4.*S-model"),
    _case("train_jit_compile_with_parameter_server",
          ["--jit_compile", "--strategy=parameter_server"],
          r"--jit_compile=True.*parameter_server"),
    _case("train_jit_compile_with_cpu_replicas",
          ["--jit_compile", "--strategy=mirrored", "--num_replicas_cpu=2"],
          r"--jit_compile is not supported with --num_replicas_cpu=2"),
    _case("train_save_interval_steps_negative", ["--save_interval_steps=-1"],
          r"--save_interval_steps=-1.*>= 0"),
    _case("train_aux_weight_without_aux_head", ["--aux_weight=0.4"],
          r"--aux_weight=0\.4.*--studentnet=mlp has no auxiliary head"),
    _case("train_weight_decay_negative", ["--weight_decay=-0.001"], r"--weight_decay=-0\.001"),
    _case("train_unknown_curriculum", ["--weighting=curriculum", "--curriculum=self_paces"],
          r"--curriculum=.?self_paces.*self_paced"),
    _case("train_num_replicas_negative", ["--strategy=mirrored", "--num_replicas_cpu=-1"],
          r"--num_replicas_cpu=-1"),
    _case("train_num_replicas_without_mirrored", ["--num_replicas_cpu=2"],
          r"--num_replicas_cpu=2.*--strategy=mirrored"),
    _case("train_mentornet_without_dir", ["--weighting=mentornet"], r"--trained_mentornet_dir"),
    # The run directory.
    _case("train_log_dir_is_a_file", [], r"--train_log_dir=.*run.*is a file", setup=_file("run")),
    _case("train_log_dir_parent_is_a_file", ["--train_log_dir={dir}/plain/run"],
          r"--train_log_dir=.*plain/run.*plain' is a file", setup=_file("plain")),
    # The strategy.
    _case("train_batch_not_divisible_by_cpu_replicas",
          ["--strategy=mirrored", "--num_replicas_cpu=3"],
          r"--batch_size=64 is not divisible by the 3 replicas of --num_replicas_cpu=3"),
    _case("train_multi_worker_without_tf_config", ["--strategy=multi_worker_mirrored"],
          r"--strategy=multi_worker_mirrored needs TF_CONFIG", env={"TF_CONFIG": ""}),
    _case("train_multi_worker_tf_config_not_json", ["--strategy=multi_worker_mirrored"],
          r"TF_CONFIG is not valid JSON", env={"TF_CONFIG": "{cluster"}),
    _case("train_parameter_server_without_ps", ["--strategy=parameter_server"],
          r"--strategy=parameter_server: TF_CONFIG's cluster has no ps",
          env={"TF_CONFIG": json.dumps({"cluster": {"chief": ["localhost:1"],
                                                    "worker": ["localhost:2"]},
                                        "task": {"type": "chief", "index": 0}})}),
    _case("train_batch_not_divisible_by_workers", ["--strategy=multi_worker_mirrored"],
          r"--batch_size=64 is not divisible by the 3 replicas of the 3 workers of TF_CONFIG",
          env={"TF_CONFIG": MULTI_WORKER}),
    # The data.
    _case("train_batch_larger_than_split", ["--batch_size=2000"],
          r"--batch_size=2000 is larger than the training split of --dataset_name=digits "
          r"\(1297 examples\)"),
    _case("train_cifar_missing_data_dir", ["--dataset_name=cifar10", "--data_dir={dir}/nowhere"],
          r"--data_dir=.*nowhere.*tfds build cifar10"),
    _case("train_cifar_empty_data_dir", ["--dataset_name=cifar10", "--data_dir={dir}/data"],
          r"--data_dir=.*data.*no cifar10 train split", setup=_mkdir("data")),
    _case("train_tfrecord_empty_file", CIFAR,
          r"cifar10_train-00001-of-00002: the file is empty \(0 bytes\)",
          setup=_cifar(train="empty")),
    _case("train_tfrecord_undecodable_image", CIFAR,
          r"cifar10_train-00001-of-00002: its first record cannot be read or decoded",
          setup=_cifar(train="undecodable")),
    _case("train_tfrecord_wrong_shape", CIFAR,
          r"cifar10_train-00001-of-00002: its first image decodes to shape \(28, 28, 3\), not "
          r"\(32, 32, 3\)", setup=_cifar(train="shape", shape=(28, 28, 3))),
    _case("train_tfrecord_truncated", CIFAR, r"cannot read cifar10 TFRecord file .*"
          r"cifar10_train-00001-of-00002", setup=_cifar(train="truncated")),
    _case("train_tfrecord_label_out_of_range", CIFAR,
          r"--dataset_name=cifar10 has 10 classes but .*cifar10_train-00001-of-00002 holds "
          r"labels in \[3, 12\]", setup=_cifar(labels=(1, 2, 3, 12))),
    # The MentorNet.
    _case("train_mentornet_missing", ["--trained_mentornet_dir={dir}/nowhere"],
          r"--trained_mentornet_dir=.*nowhere' does not exist"),
    _case("train_mentornet_empty_dir", MENTOR,
          r"--trained_mentornet_dir=.*mentor.*neither mentornet\.json nor any TF1 checkpoint",
          setup=_mkdir("mentor")),
    _case("train_mentornet_truncated_weights", MENTOR,
          r"--trained_mentornet_dir=.*cannot read mentornet/\w+.* from .*mentor/weights "
          r"\(its data file is missing, truncated or corrupt", setup=_mentor(_truncate_data)),
    _case("train_mentornet_random_weights", MENTOR,
          r"--trained_mentornet_dir=.*mentor/weights .*Checksum does not match",
          setup=_mentor(_random_data)),
    _case("train_mentornet_empty_index", MENTOR,
          r"--trained_mentornet_dir=.*mentor/weights\.index is empty \(0 bytes\)",
          setup=_mentor(_empty_index)),
    _case("train_mentornet_json_not_json", MENTOR,
          r"--trained_mentornet_dir=.*mentor/mentornet\.json is not valid JSON",
          setup=_mentor(_not_json)),
    _case("train_mentornet_json_wrong_field", MENTOR,
          r"--trained_mentornet_dir=.*mentor/mentornet\.json has no valid MentorNet config "
          r"\(MentorNetConfig\.num_lstm_units='one'", setup=_mentor(_wrong_field)),
    _case("train_mentornet_json_sizes_do_not_fit", MENTOR,
          r"--trained_mentornet_dir=.*the weights do not fit mentornet\.json: fc1_kernel \[9, 20\]",
          setup=_mentor(_sizes_do_not_fit)),
    _case("train_mentornet_is_a_student_checkpoint", MENTOR,
          r"--trained_mentornet_dir=.*ckpt-1 is a mentornet_tf training checkpoint "
          r"\(a StudentNet run's ckpt/\), not a MentorNet", setup=_student_checkpoint),
    _case("train_mentornet_is_a_plain_file", ["--trained_mentornet_dir={dir}/mentor.txt"],
          r"--trained_mentornet_dir=.*mentor\.txt is a file but not part of a checkpoint",
          setup=_file("mentor.txt")),
]
