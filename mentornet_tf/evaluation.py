"""Checkpoint evaluation on the host: top-1 / top-5 on the clean test split (or the noisy train).

The original evaluated top-1 only, polling every 600 s (`cifar_eval.py`, §3.6); we add top-5 and,
for the training split, accuracy against both the noisy and the clean labels.
"""
import os
import tempfile
import time
from typing import Dict, Iterator, List, Optional, Tuple

from absl import logging
import numpy as np
import tensorflow as tf

from mentornet_tf import checkpoints
from mentornet_tf import config as config_lib
from mentornet_tf import errors
from mentornet_tf import eval_metrics
from mentornet_tf import students
from mentornet_tf.data import pipeline

STUDENT_SCOPE = "model/student/"  # SpadeModel.student under tf.train.Checkpoint(model=...)


class CheckpointMismatch(errors.BadInput):
  """The checkpoint does not hold the StudentNet that the run's configuration names."""


def latest_checkpoint(checkpoint_dir: str) -> str:
  """The newest readable checkpoint in `checkpoint_dir`; warns naming the damaged ones skipped.

  Raises:
    FileNotFoundError: no readable checkpoint (the message names the directory and what was
      skipped).
  """
  path, skipped = checkpoints.latest_readable_checkpoint(checkpoint_dir)
  if path and skipped:
    checkpoints.warn(checkpoints.describe_skipped(skipped, path))
  if not path:
    detail = (": " + "; ".join(f"{os.path.basename(p)}: {reason}" for p, reason in skipped)
              if skipped else " (expected ckpt-<step>.index files written by mentornet_tf.train)")
    raise FileNotFoundError(f"--checkpoint_dir={checkpoint_dir!r} holds no readable "
                            f"checkpoint{detail}")
  return path


def student_variables(checkpoint_path: str) -> Dict[str, List[int]]:
  """{name: shape} of the StudentNet variables (`model/student/...`, no optimizer slots)."""
  return {name: shape for name, shape in tf.train.list_variables(checkpoint_path)
          if name.startswith(STUDENT_SCOPE) and ".OPTIMIZER_SLOT" not in name
          and name.endswith("/.ATTRIBUTES/VARIABLE_VALUE")}


def _parameters(shapes) -> int:
  return int(sum(int(np.prod(shape)) for shape in shapes))


def _first_difference(found: Dict[str, List[int]], expected: Dict[str, List[int]]) -> str:
  """The first variable (by name) that is missing, unexpected or of another shape."""
  short = lambda name: name[len(STUDENT_SCOPE):].replace("/.ATTRIBUTES/VARIABLE_VALUE", "")
  for name in sorted(set(found) | set(expected)):
    if name not in found:
      return f"e.g. {short(name)} {expected[name]} is not in the checkpoint"
    if name not in expected:
      return f"e.g. the checkpoint's {short(name)} {found[name]} is not in the student"
    if found[name] != expected[name]:
      return f"e.g. {short(name)} is {found[name]} in the checkpoint, {expected[name]} here"
  return "they agree"


class MissingSplit(ValueError):
  """The split asked for is not one of the run's (e.g. imagenet_val without --imagenet_val_dir)."""


class _Holder(tf.Module):
  """Mirrors SpadeModel's attribute path (model.student) so student variables restore by name."""

  def __init__(self, student):
    super().__init__()
    self.student = student


class Evaluator:
  """Builds the student once and evaluates checkpoints into it."""

  def __init__(self, data: config_lib.DataConfig, student: config_lib.StudentConfig,
               split: str = "test", eval_dir: str = "", source: str = ""):
    """`source` says where `student` comes from (config.json's path, or the flags)."""
    self.info = pipeline.dataset_info(data)
    if split not in ("test", "train") and split not in self.info.extra_test:
      # Refused before the student is built (an Inception-ResNet-v2 takes a while).
      raise MissingSplit(
          f"--split_name={split!r}: the run has no such test set (it has test, train"
          f"{''.join(', ' + name for name in sorted(self.info.extra_test))}); imagenet_val "
          "needs a WebVision run with --imagenet_val_dir")
    self.studentnet = student.studentnet
    self.source = source or "--studentnet"
    spec = students.STUDENTS[student.studentnet]
    augmentation = data.augmentation if data.augmentation != "auto" else spec.augmentation
    self.student = students.build_student(student.studentnet, self.info.num_classes,
                                          tuple(self.info.image_shape))
    if split == "test":
      self.dataset = pipeline.build_eval_dataset(self.info.source, augmentation)
    elif split == "train":
      self.dataset = pipeline.build_train_eval_dataset(self.info.source, augmentation)
    else:  # a further clean test set (ILSVRC12 val on the WebVision classes)
      self.dataset = pipeline.build_eval_dataset(self.info.extra_test[split], augmentation)
    self.split = split
    self.eval_dir = eval_dir
    self.writer = None  # created at the first result: a refused checkpoint writes nothing
    self._expected = None
    self.top_k = eval_metrics.top_k(self.info.num_classes)
    self._evaluate = eval_metrics.StudentEvaluator(self.student, self.info.num_classes,
                                                   clean=split == "train")

  def restore(self, checkpoint_path: str) -> None:
    """Restores the student from `checkpoint_path`, checking that every variable was restored.

    Raises:
      CheckpointMismatch: the checkpoint holds no StudentNet (e.g. a MentorNet checkpoint) or one
        of another architecture, class count or image shape than `self.source` names.
    """
    found = student_variables(checkpoint_path)
    what = (f"the studentnet {self.studentnet!r} that {self.source} names "
            f"({self.info.num_classes} classes, "
            f"{'x'.join(str(d) for d in self.info.image_shape)} images)")
    if not found:
      top = sorted({name.split("/", 1)[0] for name, _ in tf.train.list_variables(checkpoint_path)
                    if not name.startswith("_")})
      raise CheckpointMismatch(
          f"checkpoint {checkpoint_path!r} holds no StudentNet variables ({STUDENT_SCOPE}...), "
          f"only {', '.join(top) or 'nothing'}: not a checkpoint written by mentornet_tf.train "
          f"(a MentorNet checkpoint?), so it cannot be evaluated as {what}")
    expected = self.expected_variables()
    if found != expected:
      raise CheckpointMismatch(
          f"checkpoint {checkpoint_path!r} does not hold {what}: its student has "
          f"{len(found)} variables ({_parameters(found.values()):,} parameters), "
          f"{self.studentnet} has {len(expected)} ({_parameters(expected.values()):,} "
          f"parameters); {_first_difference(found, expected)}")
    # Names and shapes agree, so this restores every student variable; checked all the same.
    checkpoint = tf.train.Checkpoint(model=_Holder(self.student))
    status = checkpoint.restore(checkpoint_path)
    status.expect_partial()  # the optimizer, MentorNet and metrics are not needed here
    try:
      status.assert_existing_objects_matched()
    except AssertionError as error:
      raise CheckpointMismatch(f"checkpoint {checkpoint_path!r}: the student was not restored: "
                               f"{str(error).strip().splitlines()[0][:300]}") from None

  def expected_variables(self) -> Dict[str, List[int]]:
    """{checkpoint name: shape} of the student's variables as mentornet_tf.train saves them.

    Found by writing the freshly built student to a temporary directory (outside the run) and
    listing it: comparing names and shapes first means a mismatched checkpoint is never restored
    into the student (a failed restore leaves it half-assigned).
    """
    if self._expected is None:
      with tempfile.TemporaryDirectory(prefix="mentornet_eval_") as scratch:
        path = tf.train.Checkpoint(model=_Holder(self.student)).write(
            os.path.join(scratch, "student"))
        self._expected = student_variables(path)
    return self._expected

  def evaluate(self, checkpoint_path: str) -> Dict:
    """Restores `checkpoint_path` and evaluates one full pass (each example exactly once)."""
    self.restore(checkpoint_path)
    metrics = self._evaluate(self.dataset)  # the metrics of fit's validation (eval_metrics)
    step = checkpoints.checkpoint_step(checkpoint_path) or 0
    result = {"checkpoint": checkpoint_path, "step": step, "split": self.split,
              "num_examples": metrics["num_examples"], "accuracy": metrics["accuracy"],
              f"top{self.top_k}": metrics[f"top{self.top_k}"]}
    if self.split == "train":
      result["accuracy_clean"] = metrics["accuracy_clean"]
    if self.eval_dir and self.writer is None:
      self.writer = tf.summary.create_file_writer(self.eval_dir)
    if self.writer is not None:
      with self.writer.as_default(step=step):
        tf.summary.scalar("eval/accuracy", result["accuracy"])
        tf.summary.scalar(f"eval/top{self.top_k}", result[f"top{self.top_k}"])
      self.writer.flush()
    return result

  def follow(self, checkpoint_dir: str, interval_secs: float, timeout_secs: Optional[float],
             max_number_of_steps: int = 0) -> Iterator[Dict]:
    """Evaluates every new readable checkpoint until the run's last step (or the timeout).

    As tf.train.checkpoints_iterator, but newest by file name and readable: a damaged newest
    checkpoint is skipped with one warning, never evaluated.
    """
    for path in readable_checkpoints_iterator(checkpoint_dir, interval_secs, timeout_secs):
      result = self.evaluate(path)
      yield result
      if max_number_of_steps and result["step"] >= max_number_of_steps:
        logging.info("Reached the run's last step %d; stopping.", max_number_of_steps)
        return


def readable_checkpoints_iterator(checkpoint_dir: str, interval_secs: float,
                                  timeout_secs: Optional[float]) -> Iterator[str]:
  """Yields each new newest readable checkpoint, at most one per `interval_secs`.

  Polls once a second; stops after waiting `timeout_secs` (None: forever) without a new one.
  """
  last: Optional[Tuple[int, str]] = None
  warned = set()
  while True:
    waiting_since = time.time()
    while True:
      path, skipped = checkpoints.latest_readable_checkpoint(checkpoint_dir)
      fresh = [(p, r) for p, r in skipped if p not in warned]
      if fresh:
        checkpoints.warn(checkpoints.describe_skipped(fresh, path))
        warned.update(p for p, _ in fresh)
      key = None if path is None else (checkpoints.checkpoint_step(path) or 0, path)
      if key is not None and (last is None or key > last):
        break
      if timeout_secs is not None and time.time() - waiting_since >= timeout_secs:
        return
      time.sleep(1.0)
    last = key
    started = time.time()
    yield path
    time.sleep(max(0.0, started + interval_secs - time.time()))
