"""Checkpoint evaluation on the host: top-1 / top-5 on the clean test split (or the noisy train).

The original evaluated top-1 only, polling every 600 s (`cifar_eval.py`, §3.6); we add top-5 and,
for the training split, accuracy against both the noisy and the clean labels.
"""
import os
import time
from typing import Dict, Iterator, Optional

from absl import logging
import tensorflow as tf
import tf_keras as keras

from mentornet_tf import config as config_lib
from mentornet_tf import students
from mentornet_tf.data import pipeline


def latest_checkpoint(checkpoint_dir: str) -> str:
  path = tf.train.latest_checkpoint(checkpoint_dir)
  if not path:
    raise FileNotFoundError(f"--checkpoint_dir={checkpoint_dir!r} holds no checkpoint "
                            "(expected ckpt-<step>.index files written by mentornet_tf.train)")
  return path


class _Holder(tf.Module):
  """Mirrors SpadeModel's attribute path (model.student) so student variables restore by name."""

  def __init__(self, student):
    super().__init__()
    self.student = student


class Evaluator:
  """Builds the student once and evaluates checkpoints into it."""

  def __init__(self, data: config_lib.DataConfig, student: config_lib.StudentConfig,
               split: str = "test", eval_dir: str = ""):
    self.info = pipeline.dataset_info(data)
    spec = students.STUDENTS[student.studentnet]
    augmentation = data.augmentation if data.augmentation != "auto" else spec.augmentation
    self.student = students.build_student(student.studentnet, self.info.num_classes,
                                          tuple(self.info.image_shape))
    if split == "test":
      self.dataset = pipeline.build_eval_dataset(data, augmentation)
    else:
      self.dataset = pipeline.build_train_eval_dataset(data, augmentation)
    self.split = split
    self.writer = tf.summary.create_file_writer(eval_dir) if eval_dir else None
    self.top_k = min(5, self.info.num_classes)

  def evaluate(self, checkpoint_path: str) -> Dict:
    """Restores `checkpoint_path` and evaluates one full pass (each example exactly once)."""
    checkpoint = tf.train.Checkpoint(model=_Holder(self.student))
    checkpoint.restore(checkpoint_path).expect_partial()
    top1 = keras.metrics.SparseCategoricalAccuracy()
    topk = keras.metrics.SparseTopKCategoricalAccuracy(self.top_k)
    top1_clean = keras.metrics.SparseCategoricalAccuracy()
    count = 0
    for batch in self.dataset:
      logits = self.student(batch["image"], training=False)
      top1.update_state(batch["label"], logits)
      topk.update_state(batch["label"], logits)
      top1_clean.update_state(batch["clean_label"], logits)
      count += int(tf.shape(logits)[0])
    step = int(checkpoint_path.rsplit("-", 1)[-1]) if "-" in os.path.basename(
        checkpoint_path) else 0
    result = {"checkpoint": checkpoint_path, "step": step, "split": self.split,
              "num_examples": count, "accuracy": float(top1.result()),
              f"top{self.top_k}": float(topk.result())}
    if self.split == "train":
      result["accuracy_clean"] = float(top1_clean.result())
    if self.writer is not None:
      with self.writer.as_default(step=step):
        tf.summary.scalar("eval/accuracy", result["accuracy"])
        tf.summary.scalar(f"eval/top{self.top_k}", result[f"top{self.top_k}"])
      self.writer.flush()
    return result

  def follow(self, checkpoint_dir: str, interval_secs: float, timeout_secs: Optional[float],
             max_number_of_steps: int = 0) -> Iterator[Dict]:
    """Evaluates every new checkpoint until the run's last step (or the timeout)."""
    for path in tf.train.checkpoints_iterator(checkpoint_dir, min_interval_secs=interval_secs,
                                              timeout=timeout_secs):
      result = self.evaluate(path)
      yield result
      if max_number_of_steps and result["step"] >= max_number_of_steps:
        logging.info("Reached the run's last step %d; stopping.", max_number_of_steps)
        return
    time.sleep(0)
