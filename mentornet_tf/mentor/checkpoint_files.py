"""Reading MentorNet checkpoint files: the load errors and the checks every format shares.

`storage.py` (our directories) and `tf1_checkpoints.py` (the original's TF1 checkpoints) read
their files with `tf.train.load_checkpoint` through these helpers, so a missing, empty, truncated
or foreign file gives one message naming the path, whichever format was expected. No TensorFlow
op runs here (the checkpoint reader only): validation calls it before devices are configured.
"""
import os
import re

import tensorflow as tf

METADATA_FILE = "mentornet.json"  # marks our directory format (storage.py)
EXPECTED = ("a mentornet_tf directory (with mentornet.json), a directory of TF1 checkpoints, or a "
            "TF1 checkpoint prefix such as .../mentornet_pd or .../mentornet.model-29999")


class MentorNetLoadError(ValueError):
  """No usable MentorNet at a path; the message names the path and what is wrong with it."""


class MentorNetNotFoundError(MentorNetLoadError, FileNotFoundError):
  """Nothing that could be a MentorNet at the path (also a FileNotFoundError)."""


# What loading a damaged or foreign MentorNet can raise, for callers that turn it into a message.
LOAD_ERRORS = (MentorNetLoadError, OSError, ValueError, KeyError, TypeError, AssertionError,
               tf.errors.OpError)


def open_checkpoint(prefix, what):
  """A checkpoint reader of `prefix`; MentorNetLoadError naming `what` when it cannot be opened."""
  index = prefix + ".index"
  if os.path.exists(index) and os.path.getsize(index) == 0:
    raise MentorNetLoadError(f"{what}: {index} is empty (0 bytes); the checkpoint was not "
                             "completely written")
  try:
    return tf.train.load_checkpoint(prefix)
  except Exception as error:  # pylint: disable=broad-except  (OpError, ValueError, ...)
    raise MentorNetLoadError(f"{what}: {prefix} is not a readable TF checkpoint "
                             f"({first_line(error)})") from None


def first_line(error) -> str:
  text = getattr(error, "message", None) or str(error)
  text = re.sub(r"\{\{function_node [^}]*\}\}\s*", "", text).strip()
  return text.splitlines()[0] if text else type(error).__name__


def read_tensors(reader, names, prefix, what):
  """{name: numpy value}; every value is read now, so truncated or corrupt data files fail here."""
  values = {}
  for name in names:
    try:
      values[name] = reader.get_tensor(name)
    except Exception as error:  # pylint: disable=broad-except
      raise MentorNetLoadError(f"{what}: cannot read {name} from {prefix} (its data file is "
                               f"missing, truncated or corrupt: {first_line(error)})") from None
  return values


def describe_foreign(prefix, shapes):
  """A message for a checkpoint that is no MentorNet, or None when it looks like one."""
  if any(name.startswith(("model/", "optimizer/")) for name in shapes):
    return (f"{prefix} is a mentornet_tf training checkpoint (a StudentNet run's ckpt/), not a "
            "MentorNet; give a directory written by mentornet_tf.train_mentornet, a run's "
            "mentornet_updates/<name>, or a TF1 MentorNet checkpoint")
  return None
