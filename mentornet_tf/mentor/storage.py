"""MentorNet checkpoints: our directories, and the one loader of every MentorNet format.

Our format is a directory:
  mentornet.json   {"format": "mentornet_tf", "format_version": 1, "config": {MentorNetConfig},
                    "dtype": "float32",
                    ...the caller's metadata (curriculum, hyper-parameters, command, metrics)}
  weights.*        a tf.train.Checkpoint of the network (object-based, keyed `mentornet/<var>`).

`load_mentornet` / `check_mentornet` also read the original's TF1 checkpoints
(`tf1_checkpoints.py`); the errors they raise and the file checks both formats share live in
`checkpoint_files.py`; SavedModel export in `serving.py`. Their public names are re-exported
here, so `storage` stays the one import of callers.
"""
import dataclasses
import json
import os
import re

import tensorflow as tf

from mentornet_tf import atomic_files
from mentornet_tf.mentor import checkpoint_files
from mentornet_tf.mentor import network
from mentornet_tf.mentor import tf1_checkpoints
# Re-exported: the public names of the MentorNet formats.
from mentornet_tf.mentor.checkpoint_files import LOAD_ERRORS  # noqa: F401
from mentornet_tf.mentor.checkpoint_files import MentorNetLoadError
from mentornet_tf.mentor.checkpoint_files import MentorNetNotFoundError
from mentornet_tf.mentor.serving import export_saved_model  # noqa: F401
from mentornet_tf.mentor.tf1_checkpoints import TF1_VARIABLES  # noqa: F401

FORMAT = "mentornet_tf"
FORMAT_VERSION = 1
METADATA_FILE = checkpoint_files.METADATA_FILE
WEIGHTS_PREFIX = "weights"

_DTYPES = ("float16", "bfloat16", "float32", "float64", "mixed_float16", "mixed_bfloat16")


def _checkpoint(model):
  return tf.train.Checkpoint(mentornet=model)


def save_mentornet(model: network.MentorNet, directory, metadata: dict) -> None:
  """Saves a MentorNet and its metadata as a directory, replacing an earlier save there.

  Everything is written into a temporary sibling directory that is renamed into place at the end,
  so an interrupted save leaves no half-written `directory`.

  Args:
    model: a built MentorNet.
    directory: the output directory; it must not exist, be empty, or hold an earlier save.
    metadata: JSON-serialisable facts to keep with the weights (curriculum name, hyper-parameters,
      training command, metrics). The keys "format", "format_version", "config" and "dtype" are
      reserved.

  Raises:
    ValueError: metadata uses a reserved key, is not JSON-serialisable, or the model is unbuilt.
    FileExistsError: directory exists and holds something other than a MentorNet save.
  """
  directory = os.path.abspath(os.fspath(directory))
  reserved = {"format", "format_version", "config", "dtype"} & set(metadata)
  if reserved:
    raise ValueError(f"save_mentornet: metadata keys {sorted(reserved)} are reserved")
  if not model.built:
    raise ValueError("save_mentornet: the MentorNet is not built (use build_mentornet)")
  record = {"format": FORMAT, "format_version": FORMAT_VERSION,
            "config": dataclasses.asdict(model.config), "dtype": model.dtype_policy.name,
            **metadata}
  try:
    text = json.dumps(record, indent=2, sort_keys=True)
  except (TypeError, ValueError) as error:
    raise ValueError(f"save_mentornet: metadata is not JSON-serialisable ({error})") from None
  if os.path.exists(directory) and os.listdir(directory) and not os.path.exists(
      os.path.join(directory, METADATA_FILE)):
    raise FileExistsError(f"save_mentornet: {directory} exists and is not a MentorNet directory "
                          f"(no {METADATA_FILE}); refusing to replace it")

  def write(tmp):
    _checkpoint(model).write(os.path.join(tmp, WEIGHTS_PREFIX))
    with open(os.path.join(tmp, METADATA_FILE), "w", encoding="utf-8") as f:
      f.write(text + "\n")

  atomic_files.write_directory(directory, write)


def unwritable_reason(directory):
  """Why `save_mentornet(model, directory, ...)` would fail on the path, or '' if it would not.

  The save writes a temporary sibling and renames it into place, so the parent (or the nearest
  existing ancestor, whose missing children are created) must be a writable directory, and an
  existing `directory` must be a directory that is empty or holds an earlier MentorNet save.
  Creates nothing.
  """
  path = os.path.abspath(os.fspath(directory))
  if os.path.exists(path):
    if not os.path.isdir(path):
      return "exists and is not a directory"
    if os.listdir(path) and not os.path.exists(os.path.join(path, METADATA_FILE)):
      return (f"exists and holds something other than a MentorNet save (no {METADATA_FILE}); "
              "give a new or an empty directory")
  ancestor = os.path.dirname(path)
  while not os.path.exists(ancestor):
    ancestor = os.path.dirname(ancestor)
  if not os.path.isdir(ancestor):
    return f"cannot be created: {ancestor} is not a directory"
  if not os.access(ancestor, os.W_OK | os.X_OK):
    return f"is not writable: {ancestor} is not writable"
  return ""


def load_mentornet(path):
  """Loads a MentorNet from our directory or from an original TF1 checkpoint.

  Args:
    path: one of: our directory (mentornet.json + weights); a directory of TF1 checkpoints (the
      newest, by its `checkpoint` file or else by step number, is used); a TF1 checkpoint prefix
      (`.../mentornet_pd`, `.../mentornet.model-29999`) or one of its files.

  Returns:
    (model, metadata): a built MentorNet and a dict. For our format, the saved mentornet.json; for
    TF1, {"format": "tf1_checkpoint", "checkpoint": prefix, "config": {...}} (plus "global_step"
    when the checkpoint has one).

  Raises:
    MentorNetNotFoundError (a FileNotFoundError): nothing loadable at path.
    MentorNetLoadError (a ValueError): unreadable or invalid mentornet.json, an unreadable
      (truncated, corrupt, empty) checkpoint, no (or incomplete, or inconsistent) MentorNet
      variables, or a training checkpoint of a StudentNet run instead of a MentorNet.
  """
  found = _inspect(path)
  if found["format"] == FORMAT:
    return _build_ours(found), found["metadata"]
  return tf1_checkpoints.build(found), found["metadata"]


def check_mentornet(path) -> dict:
  """Everything `load_mentornet` checks, without building the network; returns the metadata.

  Reads the files with the checkpoint reader only (no TensorFlow op runs), so it may be called
  before a distribution strategy or logical devices are configured.

  Raises:
    MentorNetNotFoundError, MentorNetLoadError: as `load_mentornet`.
  """
  return _inspect(path)["metadata"]


def _inspect(path):
  """Finds, reads and checks the MentorNet at `path`: {format, config, metadata, values, ...}."""
  path = os.path.abspath(os.fspath(path))
  if os.path.isdir(path):
    if os.path.exists(os.path.join(path, METADATA_FILE)):
      return _inspect_ours(path)
    return tf1_checkpoints.inspect(tf1_checkpoints.latest_checkpoint(path))
  # A file of a checkpoint given instead of its prefix: strip the suffix.
  prefix = re.sub(r"\.(index|meta|data-\d+-of-\d+)$", "", path)
  parent = os.path.dirname(prefix)
  if os.path.basename(prefix) == WEIGHTS_PREFIX and os.path.exists(
      os.path.join(parent, METADATA_FILE)):
    return _inspect_ours(parent)
  if os.path.exists(prefix + ".index"):
    return tf1_checkpoints.inspect(prefix)
  if os.path.isfile(path):
    raise MentorNetLoadError(f"{path} is a file but not part of a checkpoint (no "
                             f"{os.path.basename(prefix)}.index next to it): expected "
                             f"{checkpoint_files.EXPECTED}")
  raise MentorNetNotFoundError(f"No MentorNet at {path}: expected {checkpoint_files.EXPECTED}")


def _expected_shapes(config: network.MentorNetConfig):
  """attribute -> shape of every MentorNet variable (as `network.MentorNet.build` creates them)."""
  u = config.num_lstm_units
  lstm = [network.LSTM_INPUT_SIZE + u, 4 * u]
  return {"label_embedding": [config.num_labels, config.label_embedding_size],
          "epoch_embedding": [config.num_epochs, config.epoch_embedding_size],
          "fw_kernel": lstm, "fw_bias": [4 * u], "bw_kernel": lstm, "bw_bias": [4 * u],
          "fc1_kernel": [config.feature_size, config.num_fc_nodes],
          "fc1_bias": [config.num_fc_nodes], "output_kernel": [config.num_fc_nodes, 1],
          "output_bias": [1]}


def _inspect_ours(directory):
  what = f"MentorNet directory {directory}"
  metadata_path = os.path.join(directory, METADATA_FILE)
  try:
    with open(metadata_path, encoding="utf-8") as f:
      metadata = json.load(f)
  except (OSError, UnicodeDecodeError) as error:
    raise MentorNetLoadError(f"{metadata_path} cannot be read ({error})") from None
  except json.JSONDecodeError as error:
    raise MentorNetLoadError(f"{metadata_path} is not valid JSON ({error})") from None
  if not isinstance(metadata, dict):
    raise MentorNetLoadError(f"{metadata_path} must hold a JSON object, found "
                             f"{type(metadata).__name__}")
  if metadata.get("format") != FORMAT:
    raise MentorNetLoadError(f"{metadata_path} has format {metadata.get('format')!r}, "
                             f"expected {FORMAT!r}")
  try:
    config = network.MentorNetConfig(**metadata["config"])
  except KeyError:
    raise MentorNetLoadError(f"{metadata_path} has no 'config' field (the MentorNet sizes)") \
        from None
  except (TypeError, ValueError) as error:
    raise MentorNetLoadError(f"{metadata_path} has no valid MentorNet config "
                             f"({error})") from None
  dtype = metadata.get("dtype", "float32")
  if dtype not in _DTYPES:
    raise MentorNetLoadError(f"{metadata_path} has dtype {dtype!r}; expected one of "
                             f"{', '.join(_DTYPES)}")
  prefix = os.path.join(directory, WEIGHTS_PREFIX)
  if not os.path.exists(prefix + ".index"):
    raise MentorNetLoadError(f"{what} has {METADATA_FILE} but no weights ({prefix}.index is "
                             "missing)")
  reader = checkpoint_files.open_checkpoint(prefix, what)
  shapes = reader.get_variable_to_shape_map()
  expected = {f"mentornet/{attribute}/.ATTRIBUTES/VARIABLE_VALUE": shape
              for attribute, shape in _expected_shapes(config).items()}
  missing = sorted(name.split("/")[1] for name in expected if name not in shapes)
  if missing:
    foreign = checkpoint_files.describe_foreign(prefix, shapes)
    raise MentorNetLoadError(foreign or (
        f"{what}: the weights miss the MentorNet variables {', '.join(missing)}"))
  wrong = [f"{name.split('/')[1]} {list(shapes[name])} (expected {shape} from {METADATA_FILE})"
           for name, shape in expected.items() if list(shapes[name]) != list(shape)]
  if wrong:
    raise MentorNetLoadError(f"{what}: the weights do not fit {METADATA_FILE}: " + "; ".join(wrong))
  checkpoint_files.read_tensors(reader, expected, prefix, what)
  return {"format": FORMAT, "directory": directory, "config": config, "metadata": metadata}


def _build_ours(found):
  directory, metadata = found["directory"], found["metadata"]
  model = network.MentorNet(found["config"], dtype=metadata.get("dtype", "float32"))
  model(tf.zeros([1, network.NUM_FEATURES], model.compute_dtype))  # create the variables
  try:
    _checkpoint(model).read(os.path.join(directory, WEIGHTS_PREFIX)) \
        .assert_existing_objects_matched()
  except (tf.errors.OpError, AssertionError, ValueError) as error:
    raise MentorNetLoadError(f"MentorNet directory {directory}: its weights cannot be restored "
                             f"({checkpoint_files.first_line(error)})") from None
  return model
