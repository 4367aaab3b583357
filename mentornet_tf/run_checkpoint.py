"""A training run as it stands on disk: its config.json and the models of one of its checkpoints.

`read_run_config` reads the resolved config, `find_checkpoint` the newest readable checkpoint of
`ckpt/` (or a given one), `restore_student` / `restore_mentornet` rebuild the run's StudentNet and
MentorNet with that checkpoint's values (the MentorNet's sizes from the run's `mentornet_updates/`
saves, else its `trained_mentornet_dir`, else the defaults). Used by the export (exporting.py);
every refusal is a `RunError` whose message names the directory, file or flag.
"""
import glob
import json
import os
import re
from typing import Optional, Tuple

import tensorflow as tf

from mentornet_tf import config as config_lib
from mentornet_tf import students
from mentornet_tf.data import sources

STUDENT_SCOPE = "model/student/"      # SpadeModel.student under tf.train.Checkpoint(model=...)
MENTORNET_SCOPE = "model/weighting/mentornet/"
_VARIABLE_SUFFIX = "/.ATTRIBUTES/VARIABLE_VALUE"




class RunError(ValueError):
  """The run directory or checkpoint cannot be read as asked; nothing was written."""


# ------------------------------------------------------------------------- the run and checkpoint

def read_run_config(train_log_dir: str) -> dict:
  """The run's config.json as a dict; RunError when it is missing or unreadable."""
  if not os.path.isdir(train_log_dir):
    raise RunError(f"--train_log_dir={train_log_dir!r} is not a directory (expected a run "
                      "directory written by mentornet_tf.train)")
  path = os.path.join(train_log_dir, "config.json")
  try:
    with open(path, encoding="utf-8") as f:
      raw = json.load(f)
  except FileNotFoundError:
    raise RunError(f"--train_log_dir={train_log_dir!r} holds no config.json: not a run "
                      "directory written by mentornet_tf.train") from None
  except (OSError, UnicodeDecodeError) as error:
    raise RunError(f"cannot read the run's config.json {path!r}: {error}") from None
  except ValueError as error:
    raise RunError(f"the run's config.json {path!r} is not JSON: {error}") from None
  if not isinstance(raw, dict) or not all(isinstance(raw.get(s), dict)
                                          for s in ("data", "student", "mentor")):
    raise RunError(f"the run's config.json {path!r} has wrong fields: expected an object with "
                      "'data', 'student' and 'mentor' objects")
  return raw


def data_and_student(raw: dict, path: str):
  try:
    data_raw = dict(raw["data"])
    if "fake_image_shape" in data_raw:
      data_raw["fake_image_shape"] = tuple(data_raw["fake_image_shape"])
    data = config_lib.DataConfig(**data_raw)
    student = config_lib.StudentConfig(**raw["student"])
  except (TypeError, ValueError) as error:  # ConfigError is a ValueError and names the field
    raise RunError(f"the run's config.json {path!r} has wrong fields: {error}") from None
  return data, student


def checkpoint_step(prefix: str) -> int:
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
    RunError: `checkpoint` is not a readable StudentNet checkpoint, or ckpt/ holds none.
  """
  if checkpoint:
    prefix = re.sub(r"\.(index|data-\d+-of-\d+)$", "", os.fspath(checkpoint))
    problem = _check_checkpoint(prefix)
    if problem:
      raise RunError(f"--checkpoint={checkpoint!r} is not a readable training checkpoint: "
                        f"{problem}")
    return prefix
  directory = os.path.join(train_log_dir, "ckpt")
  prefixes = sorted((p[:-len(".index")] for p in glob.glob(os.path.join(directory, "*.index"))),
                    key=lambda p: (checkpoint_step(p), p), reverse=True)
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
  raise RunError(f"--train_log_dir={train_log_dir!r}: no readable checkpoint in {directory!r} "
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
    raise RunError(f"checkpoint {prefix!r} does not hold {what}: "
                      f"{text.splitlines()[0][:300] if text else type(error).__name__}") from None


def restore_student(prefix: str, data: config_lib.DataConfig,
                    student_config: config_lib.StudentConfig):
  """The run's StudentNet (a tf_keras Model) with the checkpoint's values.

  Raises:
    RunError: the checkpoint holds another StudentNet than config.json names.
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
    raise RunError(f"checkpoint {prefix!r} does not hold {what}: it has {len(found)} student "
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
    RunError: the sizes cannot be found (trained_mentornet_dir not found from here).
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
      raise RunError(f"the run's MentorNet save {directory!r} cannot be read: {error}") \
          from None
  path = mentor.get("trained_mentornet_dir") or ""
  if not path:
    return network.build_mentornet(), "default MentorNet sizes (MentorNet DD learned in the run)"
  for candidate in _candidates(path):
    if os.path.exists(candidate) or os.path.exists(candidate + ".index"):
      try:
        return storage.load_mentornet(candidate)[0], candidate
      except (ValueError, OSError) as error:
        raise RunError(f"the run's --trained_mentornet_dir={path!r} cannot be read: "
                          f"{error}") from None
  raise RunError(f"the run's --trained_mentornet_dir={path!r} (config.json) is not found from "
                    f"{os.getcwd()!r}: it gives the MentorNet's sizes; run the export from the "
                    "directory the run was trained in")


def restore_mentornet(prefix: str, train_log_dir: str, mentor: dict):
  """(the run's MentorNet with the checkpoint's values, where its sizes came from)."""
  if not any(n.startswith(MENTORNET_SCOPE) for n, _ in tf.train.list_variables(prefix)):
    raise RunError(f"checkpoint {prefix!r} holds no MentorNet ({MENTORNET_SCOPE}...) although "
                      "the run's config.json says --weighting=mentornet")
  model, source = mentornet_template(train_log_dir, mentor)
  _restore(prefix, _Holder(weighting=_Holder(mentornet=model)), f"the MentorNet of {source}")
  return model, source
