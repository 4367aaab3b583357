"""The original's TF1 MentorNet checkpoints (google/mentornet, `mentornet_pd`, ...), read by name.

A TF1 checkpoint (the original `mentornet_pd`, `mentornet.model-29999`, ...) is read by variable
name (the scopes of `code/utils.py` mentornet_nn): only `mentornet/...` variables are used, so
student variables, `global_step` and Adam slots in the same file are ignored; the sizes are inferred
from the shapes, as MentorMix's `get_mentornet_network_hyperparameter` does. TF1 LSTM kernels are
stored in our model in TF1 layout (network.py), so they are copied as they are.
`storage.load_mentornet` is the entry; `inspect` reads and checks (no op runs), `build` makes the
network.
"""
import dataclasses
import glob
import os
import re

import tensorflow as tf

from mentornet_tf.mentor import checkpoint_files
from mentornet_tf.mentor import network
from mentornet_tf.mentor.checkpoint_files import MentorNetLoadError
from mentornet_tf.mentor.checkpoint_files import MentorNetNotFoundError

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
TF1_ALIASES = {
    "mentornet/bidirectional_rnn/fw/basic_lstm_cell/weights":
        "mentornet/bidirectional_rnn/fw/basic_lstm_cell/kernel",
    "mentornet/bidirectional_rnn/fw/basic_lstm_cell/biases":
        "mentornet/bidirectional_rnn/fw/basic_lstm_cell/bias",
    "mentornet/bidirectional_rnn/bw/basic_lstm_cell/weights":
        "mentornet/bidirectional_rnn/bw/basic_lstm_cell/kernel",
    "mentornet/bidirectional_rnn/bw/basic_lstm_cell/biases":
        "mentornet/bidirectional_rnn/bw/basic_lstm_cell/bias",
}


def latest_checkpoint(directory):
  """The newest TF1 checkpoint prefix in `directory` (its `checkpoint` file, else by step)."""
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
                                 f"{checkpoint_files.METADATA_FILE} nor any TF1 checkpoint "
                                 f"(*.index); expected {checkpoint_files.EXPECTED}")

  def step(prefix):
    match = re.search(r"-(\d+)$", prefix)
    return (int(match.group(1)) if match else -1, prefix)

  return max(prefixes, key=step)


def inspect(prefix):
  """Reads and checks the TF1 MentorNet at `prefix` (no op runs): {format, config, metadata,
  values}; MentorNetLoadError naming the prefix and what is missing or inconsistent."""
  what = f"MentorNet checkpoint {prefix}"
  reader = checkpoint_files.open_checkpoint(prefix, what)
  shapes = reader.get_variable_to_shape_map()
  names = {TF1_ALIASES.get(name, name): name for name in shapes}
  missing = [name for name in TF1_VARIABLES if name not in names]
  if missing:
    foreign = checkpoint_files.describe_foreign(prefix, shapes)
    if foreign:
      raise MentorNetLoadError(foreign)
    mentornet_found = sorted(n for n in shapes if n.startswith("mentornet/"))
    found = mentornet_found or sorted(shapes)
    shown = ", ".join(found[:30]) + (f", ... ({len(found)} in all)" if len(found) > 30 else "")
    what = "its mentornet/ variables are" if mentornet_found else "it holds"
    raise MentorNetLoadError(f"TF1 checkpoint {prefix} is not a complete MentorNet: missing "
                             f"{', '.join(missing)}; {what}: {shown or 'nothing'}")
  config = _infer_config(prefix, {name: shapes[names[name]] for name in TF1_VARIABLES})
  values = checkpoint_files.read_tensors(reader, [names[name] for name in TF1_VARIABLES], prefix,
                                         what)
  values = {name: values[names[name]] for name in TF1_VARIABLES}
  metadata = {"format": "tf1_checkpoint", "checkpoint": prefix,
              "config": dataclasses.asdict(config)}
  if "global_step" in shapes:
    try:
      metadata["global_step"] = int(reader.get_tensor("global_step"))
    except Exception as error:  # pylint: disable=broad-except
      raise MentorNetLoadError(f"{what}: cannot read global_step "
                               f"({checkpoint_files.first_line(error)})") from None
  return {"format": "tf1_checkpoint", "config": config, "metadata": metadata, "values": values}


def build(found):
  """The MentorNet of an `inspect` result, its variables assigned from the TF1 values."""
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
