"""MentorNet checkpoints: our directories, the original TF1 checkpoints, and SavedModel export.

Our format is a directory:
  mentornet.json   {"format": "mentornet_tf", "format_version": 1, "config": {MentorNetConfig},
                    "dtype": "float32",
                    ...the caller's metadata (curriculum, hyper-parameters, command, metrics)}
  weights.*        a tf.train.Checkpoint of the network (object-based, keyed `mentornet/<var>`).

A TF1 checkpoint (the shipped `mentornet_pd`, `mentornet.model-29999`, ...) is read by variable
name (original_code.md §2.1, §3.3): only `mentornet/...` variables are used, so student variables,
`global_step` and Adam slots in the same file are ignored; the sizes are inferred from the shapes,
as MentorMix's `get_mentornet_network_hyperparameter` does. TF1 LSTM kernels are stored in our
model in TF1 layout (network.py), so they are copied as they are.
"""
import dataclasses
import glob
import json
import os
import re

import tensorflow as tf

from mentornet_tf import atomic_files
from mentornet_tf.mentor import network

FORMAT = "mentornet_tf"
FORMAT_VERSION = 1
METADATA_FILE = "mentornet.json"
WEIGHTS_PREFIX = "weights"

# TF1 variable name -> MentorNet attribute. Written by `utils.mentornet_nn` under
# variable_scope('mentornet'); the four `tf.Variable`s are named in creation order.
TF1_VARIABLES = {
    "mentornet/label_embedding": "label_embedding",
    "mentornet/epoch_embedding": "epoch_embedding",
    "mentornet/bidirectional_rnn/fw/basic_lstm_cell/kernel": "fw_kernel",
    "mentornet/bidirectional_rnn/fw/basic_lstm_cell/bias": "fw_bias",
    "mentornet/bidirectional_rnn/bw/basic_lstm_cell/kernel": "bw_kernel",
    "mentornet/bidirectional_rnn/bw/basic_lstm_cell/bias": "bw_bias",
    "mentornet/Variable": "fc1_kernel",
    "mentornet/Variable_1": "fc1_bias",
    "mentornet/Variable_2": "output_kernel",
    "mentornet/Variable_3": "output_bias",
}
# TF < 1.5 named the BasicLSTMCell variables weights/biases; accept both spellings.
_TF1_ALIASES = {
    "mentornet/bidirectional_rnn/fw/basic_lstm_cell/weights":
        "mentornet/bidirectional_rnn/fw/basic_lstm_cell/kernel",
    "mentornet/bidirectional_rnn/fw/basic_lstm_cell/biases":
        "mentornet/bidirectional_rnn/fw/basic_lstm_cell/bias",
    "mentornet/bidirectional_rnn/bw/basic_lstm_cell/weights":
        "mentornet/bidirectional_rnn/bw/basic_lstm_cell/kernel",
    "mentornet/bidirectional_rnn/bw/basic_lstm_cell/biases":
        "mentornet/bidirectional_rnn/bw/basic_lstm_cell/bias",
}
_DTYPES = ("float16", "bfloat16", "float32", "float64", "mixed_float16", "mixed_bfloat16")
_EXPECTED = ("a mentornet_tf directory (with mentornet.json), a directory of TF1 checkpoints, or a "
             "TF1 checkpoint prefix such as .../mentornet_pd or .../mentornet.model-29999")


class MentorNetLoadError(ValueError):
  """No usable MentorNet at a path; the message names the path and what is wrong with it."""


class MentorNetNotFoundError(MentorNetLoadError, FileNotFoundError):
  """Nothing that could be a MentorNet at the path (also a FileNotFoundError)."""


# What loading a damaged or foreign MentorNet can raise, for callers that turn it into a message.
LOAD_ERRORS = (MentorNetLoadError, OSError, ValueError, KeyError, TypeError, AssertionError,
               tf.errors.OpError)


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
  return _build_tf1(found), found["metadata"]


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
    return _inspect_tf1(_latest_tf1_checkpoint(path))
  # A file of a checkpoint given instead of its prefix: strip the suffix.
  prefix = re.sub(r"\.(index|meta|data-\d+-of-\d+)$", "", path)
  parent = os.path.dirname(prefix)
  if os.path.basename(prefix) == WEIGHTS_PREFIX and os.path.exists(
      os.path.join(parent, METADATA_FILE)):
    return _inspect_ours(parent)
  if os.path.exists(prefix + ".index"):
    return _inspect_tf1(prefix)
  if os.path.isfile(path):
    raise MentorNetLoadError(f"{path} is a file but not part of a checkpoint (no "
                             f"{os.path.basename(prefix)}.index next to it): expected {_EXPECTED}")
  raise MentorNetNotFoundError(f"No MentorNet at {path}: expected {_EXPECTED}")


def _latest_tf1_checkpoint(directory):
  try:
    prefix = tf.train.latest_checkpoint(directory)
  except Exception:  # pylint: disable=broad-except  (a garbled `checkpoint` state file)
    prefix = None
  if prefix and os.path.exists(prefix + ".index"):
    return prefix
  # The `checkpoint` state file may be missing, or name the authors' absolute paths.
  prefixes = [p[:-len(".index")] for p in glob.glob(os.path.join(directory, "*.index"))]
  if not prefixes:
    raise MentorNetNotFoundError(f"No MentorNet in directory {directory}: it holds neither "
                                 f"{METADATA_FILE} nor any TF1 checkpoint (*.index); "
                                 f"expected {_EXPECTED}")

  def step(prefix):
    match = re.search(r"-(\d+)$", prefix)
    return (int(match.group(1)) if match else -1, prefix)

  return max(prefixes, key=step)


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


def _open_checkpoint(prefix, what):
  """A checkpoint reader of `prefix`; MentorNetLoadError naming `what` when it cannot be opened."""
  index = prefix + ".index"
  if os.path.exists(index) and os.path.getsize(index) == 0:
    raise MentorNetLoadError(f"{what}: {index} is empty (0 bytes); the checkpoint was not "
                             "completely written")
  try:
    return tf.train.load_checkpoint(prefix)
  except Exception as error:  # pylint: disable=broad-except  (OpError, ValueError, ...)
    raise MentorNetLoadError(f"{what}: {prefix} is not a readable TF checkpoint "
                             f"({_first_line(error)})") from None


def _first_line(error) -> str:
  text = getattr(error, "message", None) or str(error)
  text = re.sub(r"\{\{function_node [^}]*\}\}\s*", "", text).strip()
  return text.splitlines()[0] if text else type(error).__name__


def _read_tensors(reader, names, prefix, what):
  """{name: numpy value}; every value is read now, so truncated or corrupt data files fail here."""
  values = {}
  for name in names:
    try:
      values[name] = reader.get_tensor(name)
    except Exception as error:  # pylint: disable=broad-except
      raise MentorNetLoadError(f"{what}: cannot read {name} from {prefix} (its data file is "
                               f"missing, truncated or corrupt: {_first_line(error)})") from None
  return values


def _describe_foreign(prefix, shapes):
  """A message for a checkpoint that is no MentorNet, or None when it looks like one."""
  if any(name.startswith(("model/", "optimizer/")) for name in shapes):
    return (f"{prefix} is a mentornet_tf training checkpoint (a StudentNet run's ckpt/), not a "
            "MentorNet; give a directory written by mentornet_tf.train_mentornet, a run's "
            "mentornet_updates/<name>, or a TF1 MentorNet checkpoint")
  return None


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
  reader = _open_checkpoint(prefix, what)
  shapes = reader.get_variable_to_shape_map()
  expected = {f"mentornet/{attribute}/.ATTRIBUTES/VARIABLE_VALUE": shape
              for attribute, shape in _expected_shapes(config).items()}
  missing = sorted(name.split("/")[1] for name in expected if name not in shapes)
  if missing:
    foreign = _describe_foreign(prefix, shapes)
    raise MentorNetLoadError(foreign or (
        f"{what}: the weights miss the MentorNet variables {', '.join(missing)}"))
  wrong = [f"{name.split('/')[1]} {list(shapes[name])} (expected {shape} from {METADATA_FILE})"
           for name, shape in expected.items() if list(shapes[name]) != list(shape)]
  if wrong:
    raise MentorNetLoadError(f"{what}: the weights do not fit {METADATA_FILE}: " + "; ".join(wrong))
  _read_tensors(reader, expected, prefix, what)
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
                             f"({_first_line(error)})") from None
  return model


def _inspect_tf1(prefix):
  what = f"MentorNet checkpoint {prefix}"
  reader = _open_checkpoint(prefix, what)
  shapes = reader.get_variable_to_shape_map()
  names = {_TF1_ALIASES.get(name, name): name for name in shapes}
  missing = [name for name in TF1_VARIABLES if name not in names]
  if missing:
    foreign = _describe_foreign(prefix, shapes)
    if foreign:
      raise MentorNetLoadError(foreign)
    mentornet_found = sorted(n for n in shapes if n.startswith("mentornet/"))
    found = mentornet_found or sorted(shapes)
    shown = ", ".join(found[:30]) + (f", ... ({len(found)} in all)" if len(found) > 30 else "")
    what = "its mentornet/ variables are" if mentornet_found else "it holds"
    raise MentorNetLoadError(f"TF1 checkpoint {prefix} is not a complete MentorNet: missing "
                             f"{', '.join(missing)}; {what}: {shown or 'nothing'}")
  config = _infer_config(prefix, {name: shapes[names[name]] for name in TF1_VARIABLES})
  values = _read_tensors(reader, [names[name] for name in TF1_VARIABLES], prefix, what)
  values = {name: values[names[name]] for name in TF1_VARIABLES}
  metadata = {"format": "tf1_checkpoint", "checkpoint": prefix,
              "config": dataclasses.asdict(config)}
  if "global_step" in shapes:
    try:
      metadata["global_step"] = int(reader.get_tensor("global_step"))
    except Exception as error:  # pylint: disable=broad-except
      raise MentorNetLoadError(f"{what}: cannot read global_step ({_first_line(error)})") \
          from None
  return {"format": "tf1_checkpoint", "config": config, "metadata": metadata, "values": values}


def _build_tf1(found):
  model = network.build_mentornet(found["config"])
  for name, attribute in TF1_VARIABLES.items():
    getattr(model, attribute).assign(found["values"][name].astype("float32"))
  return model


def _infer_config(prefix, shapes):
  """MentorNetConfig from TF1 variable shapes; MentorNetLoadError if they do not fit together."""
  try:
    num_labels, label_size = shapes["mentornet/label_embedding"]
    num_epochs, epoch_size = shapes["mentornet/epoch_embedding"]
    units = shapes["mentornet/bidirectional_rnn/fw/basic_lstm_cell/kernel"][1] // 4
    num_fc_nodes = shapes["mentornet/Variable"][1]
    config = network.MentorNetConfig(
        label_embedding_size=int(label_size), epoch_embedding_size=int(epoch_size),
        num_fc_nodes=int(num_fc_nodes), num_lstm_units=int(units), num_labels=int(num_labels),
        num_epochs=int(num_epochs), corrected_output=False)  # TF1 nets: trained in quirk form.
  except (ValueError, IndexError, TypeError) as error:
    raise MentorNetLoadError(f"TF1 checkpoint {prefix} has MentorNet variables of unusable "
                             f"shapes ({error})") from None
  lstm = [network.LSTM_INPUT_SIZE + units, 4 * units]
  expected = {
      "mentornet/bidirectional_rnn/fw/basic_lstm_cell/kernel": lstm,
      "mentornet/bidirectional_rnn/fw/basic_lstm_cell/bias": [4 * units],
      "mentornet/bidirectional_rnn/bw/basic_lstm_cell/kernel": lstm,
      "mentornet/bidirectional_rnn/bw/basic_lstm_cell/bias": [4 * units],
      "mentornet/Variable": [config.feature_size, num_fc_nodes],
      "mentornet/Variable_1": [num_fc_nodes],
      "mentornet/Variable_2": [num_fc_nodes, 1],
      "mentornet/Variable_3": [1],
  }
  wrong = [f"{name} {list(shapes[name])} (expected {shape})"
           for name, shape in expected.items() if list(shapes[name]) != list(shape)]
  if wrong:
    raise MentorNetLoadError(f"TF1 checkpoint {prefix} has inconsistent MentorNet shapes: "
                             + "; ".join(wrong))
  return config


class _Serving(tf.Module):
  """Wraps a MentorNet with a serving signature: float32 [None, 4] -> logits and weights."""

  def __init__(self, model):
    super().__init__()
    self.mentornet = model

  @tf.function(input_signature=[tf.TensorSpec([None, network.NUM_FEATURES], tf.float32,
                                              name="features")])
  def serve(self, features):
    logits = self.mentornet(features, training=False)
    return {"logits": logits, "weights": tf.sigmoid(logits)}


def export_saved_model(model: network.MentorNet, directory) -> None:
  """Exports a SavedModel whose `serving_default` maps features [None, 4] to logits and weights.

  Load with `tf.saved_model.load(directory).signatures["serving_default"](features=x)`, which
  returns {"logits": [B, 1], "weights": sigmoid(logits) [B, 1]}.

  Args:
    model: a built MentorNet.
    directory: output directory (replaced atomically if it exists).

  Raises:
    FileExistsError: directory exists and holds something other than a SavedModel.
  """
  directory = os.path.abspath(os.fspath(directory))
  if os.path.exists(directory) and os.listdir(directory) and not os.path.exists(
      os.path.join(directory, "saved_model.pb")):
    raise FileExistsError(f"export_saved_model: {directory} exists and is not a SavedModel; "
                          "refusing to replace it")
  module = _Serving(model)
  atomic_files.write_directory(directory, lambda tmp: tf.saved_model.save(
      module, tmp, signatures={"serving_default": module.serve}))
