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
import glob
import json
import os
import re
from typing import Dict, Optional, Tuple

import tensorflow as tf

from mentornet_tf import atomic_files
from mentornet_tf import config as config_lib
from mentornet_tf import students
from mentornet_tf.data import augment
from mentornet_tf.data import sources

STUDENT_SCOPE = "model/student/"      # SpadeModel.student under tf.train.Checkpoint(model=...)
MENTORNET_SCOPE = "model/weighting/mentornet/"
EXPORT_INFO = "export.json"
_VARIABLE_SUFFIX = "/.ATTRIBUTES/VARIABLE_VALUE"


class ExportError(ValueError):
  """The export is refused (bad run directory, checkpoint or output directory); nothing written."""


# ------------------------------------------------------------------------- the run and checkpoint

def read_run_config(train_log_dir: str) -> dict:
  """The run's config.json as a dict; ExportError when it is missing or unreadable."""
  if not os.path.isdir(train_log_dir):
    raise ExportError(f"--train_log_dir={train_log_dir!r} is not a directory (expected a run "
                      "directory written by mentornet_tf.train)")
  path = os.path.join(train_log_dir, "config.json")
  try:
    with open(path, encoding="utf-8") as f:
      raw = json.load(f)
  except FileNotFoundError:
    raise ExportError(f"--train_log_dir={train_log_dir!r} holds no config.json: not a run "
                      "directory written by mentornet_tf.train") from None
  except (OSError, UnicodeDecodeError) as error:
    raise ExportError(f"cannot read the run's config.json {path!r}: {error}") from None
  except ValueError as error:
    raise ExportError(f"the run's config.json {path!r} is not JSON: {error}") from None
  if not isinstance(raw, dict) or not all(isinstance(raw.get(s), dict)
                                          for s in ("data", "student", "mentor")):
    raise ExportError(f"the run's config.json {path!r} has wrong fields: expected an object with "
                      "'data', 'student' and 'mentor' objects")
  return raw


def _data_and_student(raw: dict, path: str):
  try:
    data_raw = dict(raw["data"])
    if "fake_image_shape" in data_raw:
      data_raw["fake_image_shape"] = tuple(data_raw["fake_image_shape"])
    data = config_lib.DataConfig(**data_raw)
    student = config_lib.StudentConfig(**raw["student"])
  except (TypeError, ValueError) as error:  # ConfigError is a ValueError and names the field
    raise ExportError(f"the run's config.json {path!r} has wrong fields: {error}") from None
  return data, student


def _step(prefix: str) -> int:
  match = re.search(r"-(\d+)$", prefix)
  return int(match.group(1)) if match else -1


def _check_checkpoint(prefix: str) -> Optional[str]:
  """None when `prefix` is a readable checkpoint holding a StudentNet, else what is wrong."""
  if not os.path.exists(prefix + ".index"):
    return f"{prefix}.index does not exist"
  try:
    reader = tf.train.load_checkpoint(prefix)
    names = [n for n in reader.get_variable_to_shape_map()
             if n.startswith(STUDENT_SCOPE) and ".OPTIMIZER_SLOT" not in n]
    if not names:
      return f"it holds no StudentNet variables ({STUDENT_SCOPE}...)"
    for name in names:  # read every value now: a truncated data file fails here
      reader.get_tensor(name)
  except Exception as error:  # pylint: disable=broad-except  (OpError, DataLossError, ...)
    text = str(error).strip()
    return f"unreadable ({text.splitlines()[0][:200] if text else type(error).__name__})"
  return None


def find_checkpoint(train_log_dir: str, checkpoint: Optional[str] = None) -> str:
  """The checkpoint prefix to export: `checkpoint` if given, else the newest readable in ckpt/.

  Raises:
    ExportError: `checkpoint` is not a readable StudentNet checkpoint, or ckpt/ holds none.
  """
  if checkpoint:
    prefix = re.sub(r"\.(index|data-\d+-of-\d+)$", "", os.fspath(checkpoint))
    problem = _check_checkpoint(prefix)
    if problem:
      raise ExportError(f"--checkpoint={checkpoint!r} is not a readable training checkpoint: "
                        f"{problem}")
    return prefix
  directory = os.path.join(train_log_dir, "ckpt")
  prefixes = sorted((p[:-len(".index")] for p in glob.glob(os.path.join(directory, "*.index"))),
                    key=lambda p: (_step(p), p), reverse=True)
  skipped = []
  for prefix in prefixes:
    problem = _check_checkpoint(prefix)
    if problem is None:
      if skipped:
        tf.get_logger().warning("export: skipped damaged newer checkpoints: %s", "; ".join(skipped))
      return prefix
    skipped.append(f"{os.path.basename(prefix)}: {problem}")
  detail = ("; ".join(skipped) if skipped else
            "no ckpt-<step>.index files (has the run saved a checkpoint yet?)")
  raise ExportError(f"--train_log_dir={train_log_dir!r}: no readable checkpoint in {directory!r} "
                    f"({detail})")


# --------------------------------------------------------------------------------- the models

class _Holder(tf.Module):
  """Mirrors SpadeModel's attribute paths so variables restore by name from a run's checkpoint."""

  def __init__(self, **attributes):
    super().__init__()
    for name, value in attributes.items():
      setattr(self, name, value)


def _restore(prefix: str, root: tf.Module, what: str) -> None:
  try:
    status = tf.train.Checkpoint(model=root).read(prefix)
    status.expect_partial()  # the optimizer, metrics and the other half of the model
    status.assert_existing_objects_matched()
  except (AssertionError, ValueError, tf.errors.OpError) as error:
    text = str(error).strip()
    raise ExportError(f"checkpoint {prefix!r} does not hold {what}: "
                      f"{text.splitlines()[0][:300] if text else type(error).__name__}") from None


def restore_student(prefix: str, data: config_lib.DataConfig,
                    student_config: config_lib.StudentConfig):
  """The run's StudentNet (a tf_keras Model) with the checkpoint's values.

  Raises:
    ExportError: the checkpoint holds another StudentNet than config.json names.
  """
  shape = tuple(sources.image_shape(data))
  classes = sources.num_classes(data)
  student = students.build_student(student_config.studentnet, classes, shape)
  what = (f"the StudentNet {student_config.studentnet!r} of config.json ({classes} classes, "
          f"{'x'.join(str(d) for d in shape)} images)")
  found = [n for n, _ in tf.train.list_variables(prefix)
           if n.startswith(STUDENT_SCOPE) and ".OPTIMIZER_SLOT" not in n
           and n.endswith(_VARIABLE_SUFFIX)]
  if len(found) != len(student.variables):
    raise ExportError(f"checkpoint {prefix!r} does not hold {what}: it has {len(found)} student "
                      f"variables, {student_config.studentnet} has {len(student.variables)}")
  _restore(prefix, _Holder(student=student), what)
  return student


def eval_augmentation(data: config_lib.DataConfig, student_config: config_lib.StudentConfig) -> str:
  """The run's augmentation mode ('auto' resolved to the student's own)."""
  if data.augmentation != "auto":
    return data.augmentation
  return students.STUDENTS[student_config.studentnet].augmentation


def describe_preprocessing(augmentation: str) -> str:
  if augmentation == "none":
    return "x / 255 (pixels to [0, 1])"
  return "per-image standardisation (tf.image.per_image_standardization)"


def _candidates(path: str):
  yield path
  if not os.path.isabs(path):
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    yield os.path.join(repo, path)


def mentornet_template(train_log_dir: str, mentor: dict) -> Tuple[object, str]:
  """A MentorNet of the run's sizes (its weights are replaced from the checkpoint) and its source.

  Raises:
    ExportError: the sizes cannot be found (trained_mentornet_dir not found from here).
  """
  from mentornet_tf.mentor import network  # pylint: disable=g-import-not-at-top
  from mentornet_tf.mentor import storage  # pylint: disable=g-import-not-at-top
  saves = sorted(glob.glob(os.path.join(train_log_dir, "mentornet_updates", "*",
                                        storage.METADATA_FILE)))
  if saves:
    directory = os.path.dirname(saves[-1])
    try:
      return storage.load_mentornet(directory)[0], directory
    except (ValueError, OSError) as error:
      raise ExportError(f"the run's MentorNet save {directory!r} cannot be read: {error}") \
          from None
  path = mentor.get("trained_mentornet_dir") or ""
  if not path:
    return network.build_mentornet(), "default MentorNet sizes (MentorNet DD learned in the run)"
  for candidate in _candidates(path):
    if os.path.exists(candidate) or os.path.exists(candidate + ".index"):
      try:
        return storage.load_mentornet(candidate)[0], candidate
      except (ValueError, OSError) as error:
        raise ExportError(f"the run's --trained_mentornet_dir={path!r} cannot be read: "
                          f"{error}") from None
  raise ExportError(f"the run's --trained_mentornet_dir={path!r} (config.json) is not found from "
                    f"{os.getcwd()!r}: it gives the MentorNet's sizes; run the export from the "
                    "directory the run was trained in")


def restore_mentornet(prefix: str, train_log_dir: str, mentor: dict):
  """(the run's MentorNet with the checkpoint's values, where its sizes came from)."""
  if not any(n.startswith(MENTORNET_SCOPE) for n, _ in tf.train.list_variables(prefix)):
    raise ExportError(f"checkpoint {prefix!r} holds no MentorNet ({MENTORNET_SCOPE}...) although "
                      "the run's config.json says --weighting=mentornet")
  model, source = mentornet_template(train_log_dir, mentor)
  _restore(prefix, _Holder(weighting=_Holder(mentornet=model)), f"the MentorNet of {source}")
  return model, source


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
  raw = read_run_config(train_log_dir)
  data, student_config = _data_and_student(raw, os.path.join(train_log_dir, "config.json"))
  output_dir = os.path.abspath(output_dir or os.path.join(train_log_dir, "export"))
  check_output_dir(output_dir, train_log_dir, overwrite)
  prefix = find_checkpoint(train_log_dir, checkpoint)
  student = restore_student(prefix, data, student_config)
  mentor = raw["mentor"]
  mentornet, mentornet_source = None, ""
  if mentor.get("weighting") == "mentornet":
    mentornet, mentornet_source = restore_mentornet(prefix, train_log_dir, mentor)
  augmentation = eval_augmentation(data, student_config)
  shape = list(sources.image_shape(data))
  record = {
      "train_log_dir": os.path.abspath(train_log_dir), "checkpoint": os.path.abspath(prefix),
      "step": _step(prefix), "studentnet": student_config.studentnet,
      "dataset_name": data.dataset_name, "num_classes": sources.num_classes(data),
      "image_shape": shape, "augmentation": augmentation,
      "student": {
          "path": "student",
          "signatures": {
              "serving_default": {
                  "inputs": {"images": f"float32 [B, {', '.join(map(str, shape))}] raw pixels "
                                       "in 0..255"},
                  "preprocessing": describe_preprocessing(augmentation),
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


