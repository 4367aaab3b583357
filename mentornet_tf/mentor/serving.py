"""A MentorNet as a SavedModel with a serving signature (`python -m mentornet_tf.export`)."""
import os

import tensorflow as tf

from mentornet_tf import atomic_files
from mentornet_tf.mentor import network


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
