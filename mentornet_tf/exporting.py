"""SavedModels of what a training run learned: its StudentNet and, when it had one, its MentorNet.

`export_run(train_log_dir, output_dir)` reads the run's config.json and a checkpoint of its
`ckpt/` (the newest readable one by default) and writes

  <output_dir>/student/     SavedModel of the StudentNet (signatures below)
  <output_dir>/mentornet/   SavedModel of the run's MentorNet (`storage.export_saved_model`:
                            `serving_default`, features float32 [B, 4] -> `logits` [B, 1] and
                            `weights` = sigmoid(logits) [B, 1]); only for `--weighting=mentornet`
  <output_dir>/export.json  what was exported: run, checkpoint, step, student, dataset, the
                            preprocessing inside the student's signature, the MentorNet's source

The student's signatures (float32 in, float32 out, any batch size B):

  serving_default   `images` [B, H, W, C] RAW pixels in 0..255 (what the dataset sources yield:
                    CIFAR / MNIST bytes as floats; digits scaled by 255/16). The run's evaluation
                    preprocessing is INSIDE the signature: per-image standardisation for the
                    augmentations resnet, cifarnet and standardize (their test transform, as the
                    original's eval path), x / 255 for `none`; export.json names it.
                    -> `logits` [B, K] and `probabilities` = softmax(logits) [B, K].
  preprocessed      the same without the preprocessing: `images` already transformed as above
                    (the tensors of the evaluation pipeline) -> `logits`, `probabilities`.

The MentorNet's weights come from the same checkpoint (`model/weighting/mentornet/...`), so a
MentorNet re-learned during the run (Step 6, `mentornet_updates/`) is exported as it stood at that
checkpoint; its sizes (and output form) come from the run's `mentornet_updates/` saves, else from
`trained_mentornet_dir` (as written in config.json, relative paths tried from the current directory
and from the repository root), else the default sizes (a MentorNet DD learned in the run).

Everything is written into a temporary sibling of `output_dir` that is renamed into place at the
end: a refused or failed export leaves nothing behind.
"""
import json
import os
from typing import Dict, Optional

import tensorflow as tf

from mentornet_tf import atomic_files
from mentornet_tf import run_checkpoint
from mentornet_tf.data import augment
from mentornet_tf.data import sources

EXPORT_INFO = "export.json"
# Refusals (a bad run directory, checkpoint or output directory); nothing is written.
ExportError = run_checkpoint.RunError


class StudentServing(tf.Module):
  """A StudentNet with its evaluation preprocessing, for SavedModel export (see module doc)."""

  def __init__(self, student, augmentation: str, image_shape):
    super().__init__()
    self.student = student
    self._preprocess = augment.preprocess_fn(augmentation, training=False)
    spec = tf.TensorSpec([None] + [int(d) for d in image_shape], tf.float32, name="images")
    self.serve = tf.function(self._serve, input_signature=[spec])
    self.serve_preprocessed = tf.function(self._outputs, input_signature=[spec])

  def _outputs(self, images):
    logits = tf.cast(self.student(images, training=False), tf.float32)
    return {"logits": logits, "probabilities": tf.nn.softmax(logits, axis=-1)}

  def _serve(self, images):
    return self._outputs(self._preprocess(images))


# -------------------------------------------------------------------------------- the export

def check_output_dir(output_dir: str, train_log_dir: str, overwrite: bool) -> None:
  """ExportError when `output_dir` must not be written.

  Refused: non-empty without `overwrite`, a file, the run directory (or a parent) or its ckpt/.
  """
  output = os.path.realpath(output_dir)
  run = os.path.realpath(train_log_dir)
  if output == run or run.startswith(output + os.sep) or output.startswith(
      os.path.join(run, "ckpt") + os.sep) or output == os.path.join(run, "ckpt"):
    raise ExportError(f"--output_dir={output_dir!r} would replace the run directory or its "
                      "checkpoints; choose a new directory (default <train_log_dir>/export)")
  if os.path.exists(output_dir) and not os.path.isdir(output_dir):
    raise ExportError(f"--output_dir={output_dir!r} exists and is not a directory")
  if os.path.isdir(output_dir) and os.listdir(output_dir) and not overwrite:
    raise ExportError(f"--output_dir={output_dir!r} exists and is not empty; pass --overwrite to "
                      "replace it")


def export_run(train_log_dir: str, output_dir: Optional[str] = None,
               checkpoint: Optional[str] = None, overwrite: bool = False) -> Dict:
  """Exports a run's StudentNet (and MentorNet) as SavedModels; see the module docstring.

  Args:
    train_log_dir: the run directory (config.json, ckpt/).
    output_dir: default <train_log_dir>/export.
    checkpoint: a checkpoint prefix (or one of its files); default the newest readable in ckpt/.
    overwrite: replace a non-empty `output_dir`.

  Returns:
    The record written to <output_dir>/export.json (paths, checkpoint, step, signatures).

  Raises:
    ExportError: refused before anything is written (nothing is left behind).
  """
  train_log_dir = os.fspath(train_log_dir)
  raw = run_checkpoint.read_run_config(train_log_dir)
  data, student_config = run_checkpoint.data_and_student(
      raw, os.path.join(train_log_dir, "config.json"))
  output_dir = os.path.abspath(output_dir or os.path.join(train_log_dir, "export"))
  check_output_dir(output_dir, train_log_dir, overwrite)
  prefix = run_checkpoint.find_checkpoint(train_log_dir, checkpoint)
  student = run_checkpoint.restore_student(prefix, data, student_config)
  mentor = raw["mentor"]
  mentornet, mentornet_source = None, ""
  if mentor.get("weighting") == "mentornet":
    mentornet, mentornet_source = run_checkpoint.restore_mentornet(prefix, train_log_dir, mentor)
  augmentation = run_checkpoint.eval_augmentation(data, student_config)
  shape = list(sources.image_shape(data))
  record = {
      "train_log_dir": os.path.abspath(train_log_dir), "checkpoint": os.path.abspath(prefix),
      "step": run_checkpoint.checkpoint_step(prefix), "studentnet": student_config.studentnet,
      "dataset_name": data.dataset_name, "num_classes": sources.num_classes(data),
      "image_shape": shape, "augmentation": augmentation,
      "student": {
          "path": "student",
          "signatures": {
              "serving_default": {
                  "inputs": {"images": f"float32 [B, {', '.join(map(str, shape))}] raw pixels "
                                       "in 0..255"},
                  "preprocessing": run_checkpoint.describe_preprocessing(augmentation),
                  "outputs": {"logits": "float32 [B, K]",
                              "probabilities": "float32 [B, K] softmax(logits)"}},
              "preprocessed": {
                  "inputs": {"images": "float32 [B, H, W, C] already preprocessed as above"},
                  "outputs": {"logits": "float32 [B, K]",
                              "probabilities": "float32 [B, K] softmax(logits)"}}}},
  }
  if mentornet is not None:
    record["mentornet"] = {
        "path": "mentornet", "sizes_from": mentornet_source,
        "signatures": {"serving_default": {
            "inputs": {"features": "float32 [B, 4]: loss, loss_diff, label, epoch percentage"},
            "outputs": {"logits": "float32 [B, 1]", "weights": "float32 [B, 1] sigmoid(logits)"}}}}

  def write(tmp):
    module = StudentServing(student, augmentation, shape)
    tf.saved_model.save(module, os.path.join(tmp, "student"), signatures={
        "serving_default": module.serve, "preprocessed": module.serve_preprocessed})
    if mentornet is not None:
      from mentornet_tf.mentor import storage  # pylint: disable=g-import-not-at-top
      storage.export_saved_model(mentornet, os.path.join(tmp, "mentornet"))
    with open(os.path.join(tmp, EXPORT_INFO), "w", encoding="utf-8") as f:
      f.write(json.dumps(record, indent=2, sort_keys=True) + "\n")

  atomic_files.write_directory(output_dir, write)
  return dict(record, output_dir=output_dir)


