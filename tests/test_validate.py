"""train_lib.validate: everything checked before the run directory is touched, nothing written,
and no eager TensorFlow op run (the strategy configures devices afterwards)."""
import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

_SCRIPT = r"""
import os, sys
import numpy as np
import mentornet_tf
import tensorflow as tf
from tensorflow.python.eager import context
from mentornet_tf import config as config_lib, distribute, train_lib

data = sys.argv[1]
os.makedirs(data)
# Written with the python record writer and protobuf (no eager op): a tiny PNG made by hand.
import zlib, struct
def png(h, w):
  raw = b"".join(b"\x00" + bytes(3 * w) for _ in range(h))
  def chunk(kind, body):
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
  return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
          + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
for split, count in (("train", 8), ("test", 4)):
  with tf.io.TFRecordWriter(os.path.join(data, f"cifar10_{split}-00000-of-00001")) as writer:
    for i in range(count):
      image = tf.train.Feature(bytes_list=tf.train.BytesList(value=[png(32, 32)]))
      label = tf.train.Feature(int64_list=tf.train.Int64List(value=[i % 10]))
      feature = {"image/encoded": image, "image/class/label": label}
      writer.write(tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString())
run = os.path.join(sys.argv[2], "run")
config = config_lib.TrainConfig(
    data=config_lib.DataConfig(dataset_name="cifar10", data_dir=data, batch_size=4),
    student=config_lib.StudentConfig(studentnet="mlp"),
    mentor=config_lib.MentorConfig(weighting="mentornet",
                                   trained_mentornet_dir="data/mentornet_models/mentornet_pd"),
    train_log_dir=run, strategy="mirrored", num_replicas_cpu=2)
info = train_lib.validate(config)
print("INFO", info.num_train, info.num_test)
print("EAGER_INITIALISED", context.context()._context_handle is not None)
print("RUN_EXISTS", os.path.exists(run))
strategy = distribute.build_strategy("mirrored", 2)
print("REPLICAS", strategy.num_replicas_in_sync)
"""


@pytest.mark.slow  # ~5-12 s: a whole training run or a fresh TF process
def test_validate_leaves_devices_unconfigured_and_writes_nothing(tmp_path):
  result = subprocess.run([sys.executable, "-c", _SCRIPT, str(tmp_path / "data"), str(tmp_path)],
                          cwd=REPO, capture_output=True, text=True, timeout=180,
                          env=dict(os.environ, PYTHONPATH=REPO, TF_CPP_MIN_LOG_LEVEL="2"))
  out = result.stdout
  assert "INFO 8 4" in out, result.stderr[-3000:]
  assert "EAGER_INITIALISED False" in out and "RUN_EXISTS False" in out, out
  assert "REPLICAS 2" in out, result.stderr[-3000:]
