"""Finding a checkpoint that can really be restored, and cleaning up after a killed save.

A run directory's `ckpt/` holds `ckpt-<step>.index` + `ckpt-<step>.data-<i>-of-<n>` files
(tf.train.CheckpointManager, see training/checkpointing.py) and a `checkpoint` state file naming the
newest. A kill, a full disk or a careless copy can leave the newest one damaged: a truncated or
missing index or data file, a state file naming a checkpoint that is gone, a state file that is
missing or garbage, and `ckpt-<step>_temp/` directories of a save that never finished.
`latest_readable_checkpoint` picks the newest checkpoint whose files are all there and readable
(ordered by the step in the file names, never trusting the state file alone) and says what it
skipped and why; `remove_temp_directories` removes the leftovers of killed saves.
"""
import glob
import os
import re
import shutil
import sys
from typing import List, Optional, Tuple

from absl import logging
import tensorflow as tf

_CHECKPOINT_FILE = re.compile(r"^(?P<prefix>.+)-(?P<step>\d+)\.(?:index|data-\d{5}-of-\d{5})$")
_DATA_SHARD = re.compile(r"\.data-(\d{5})-of-(\d{5})$")
# What TF's savers leave behind when killed during a save: `<prefix>_temp/` (TF2) and
# `<prefix>_temp_<hex>/` (TF1 sharded saver).
_TEMP_DIRECTORY = re.compile(r"^[^.].*_temp(?:_[0-9a-fA-F]+)?$")


def checkpoint_step(path: str) -> Optional[int]:
  """The step of a checkpoint prefix `.../<name>-<step>`, or None when the name has none."""
  match = re.search(r"-(\d+)$", os.path.basename(path))
  return int(match.group(1)) if match else None


def candidate_files(prefix: str) -> List[str]:
  """The files of the checkpoint `prefix` that exist: its .index and .data-* shards."""
  return sorted(glob.glob(glob.escape(prefix) + ".index")
                + glob.glob(glob.escape(prefix) + ".data-?????-of-?????"))


def unreadable_reason(prefix: str, read_tensors: bool = True) -> Optional[str]:
  """Why the checkpoint `prefix` cannot be restored, or None when it can.

  Checks that the index exists and parses, that every data shard exists, and (`read_tensors`)
  that every tensor can be read back, which catches a truncated data file. Reading costs one
  pass over the checkpoint's bytes, once per restore.
  """
  if not os.path.exists(prefix + ".index"):
    data = glob.glob(glob.escape(prefix) + ".data-*")
    return "its .index file is missing" + (" (data files remain)" if data else "")
  if os.path.getsize(prefix + ".index") == 0:
    return "its .index file is empty (0 bytes)"
  try:
    reader = tf.train.load_checkpoint(prefix)
  except (tf.errors.OpError, ValueError) as error:
    return f"its .index file is unreadable ({_first_line(error)})"
  shards = glob.glob(glob.escape(prefix) + ".data-?????-of-?????")
  counts = {int(_DATA_SHARD.search(s).group(2)) for s in shards}
  if not shards:
    return "its .data-* file is missing"
  if len(counts) != 1 or len(shards) != counts.pop():
    return f"some of its .data-* shards are missing (found {len(shards)})"
  if read_tensors:
    try:
      for name in reader.get_variable_to_shape_map():
        reader.get_tensor(name)
    except (tf.errors.OpError, IndexError, ValueError) as error:
      return f"its data is unreadable ({_first_line(error)})"
  return None


def _first_line(error: BaseException) -> str:
  text = str(error).strip().splitlines()
  return text[0][:200] if text else type(error).__name__


def candidate_checkpoints(directory: str) -> List[str]:
  """Every checkpoint prefix in `directory`, newest first.

  Candidates come from the file names (`<name>-<step>.index` or `.data-*`) and from the state
  file (its newest and its list, even when their files are gone). Ordered by step, then name.
  """
  prefixes = set()
  if os.path.isdir(directory):
    for name in os.listdir(directory):
      match = _CHECKPOINT_FILE.match(name)
      if match:
        prefixes.add(os.path.join(directory, f"{match.group('prefix')}-{match.group('step')}"))
  state = read_state(directory)
  if state is not None:
    for path in [state.model_checkpoint_path, *state.all_model_checkpoint_paths]:
      if path and os.path.dirname(os.path.abspath(path)) == os.path.abspath(directory):
        prefixes.add(os.path.join(directory, os.path.basename(path)))
  return sorted(prefixes, key=lambda p: (checkpoint_step(p) is not None,
                                         checkpoint_step(p) or 0, p), reverse=True)


def read_state(directory: str):
  """The `checkpoint` state file's CheckpointState, or None when it is missing or garbage."""
  path = os.path.join(directory, "checkpoint")
  if not os.path.isfile(path):
    return None
  try:
    with open(path, errors="replace") as f:
      text = f.read()
    from google.protobuf import text_format  # pylint: disable=g-import-not-at-top
    from tensorflow.python.checkpoint import checkpoint_management  # pylint: disable=g-import-not-at-top
    state = checkpoint_management.CheckpointState()
    text_format.Merge(text, state)
  except Exception:  # pylint: disable=broad-except  (any garbage: a parse or a decode error)
    return None
  if not state.model_checkpoint_path:
    return None
  for index, value in enumerate(state.all_model_checkpoint_paths):
    if not os.path.isabs(value):
      state.all_model_checkpoint_paths[index] = os.path.join(directory, value)
  if not os.path.isabs(state.model_checkpoint_path):
    state.model_checkpoint_path = os.path.join(directory, state.model_checkpoint_path)
  return state


def remove_unreadable_state_file(directory: str) -> bool:
  """Removes a `checkpoint` state file that cannot be parsed; True when it did.

  tf.train.CheckpointManager and tf.train.latest_checkpoint raise on a binary or empty state file
  (UnicodeDecodeError, ValueError). It holds nothing the checkpoint files do not: the restore
  finds the newest readable checkpoint by file name and `repair_manager_state` writes a new one.
  """
  path = os.path.join(directory, "checkpoint")
  if not os.path.isfile(path) or read_state(directory) is not None:
    return False
  try:
    os.remove(path)
  except FileNotFoundError:
    return False
  logging.warning("Removed the unreadable checkpoint state file %s", path)
  return True


def latest_readable_checkpoint(directory: str, read_tensors: bool = True
                               ) -> Tuple[Optional[str], List[Tuple[str, str]]]:
  """The newest restorable checkpoint in `directory` and the newer ones skipped.

  Returns:
    (prefix or None, [(skipped prefix, reason), ...] newest first). Only checkpoints newer than
    the one returned are examined (older ones may be damaged too; nobody reads them).
  """
  skipped = []
  for prefix in candidate_checkpoints(directory):
    reason = unreadable_reason(prefix, read_tensors=read_tensors)
    if reason is None:
      return prefix, skipped
    skipped.append((prefix, reason))
  return None, skipped


def describe_skipped(skipped: List[Tuple[str, str]], chosen: Optional[str]) -> str:
  """One line: which checkpoints were skipped, why, and what is used instead."""
  parts = "; ".join(f"{os.path.basename(p)}: {reason}" for p, reason in skipped)
  where = os.path.dirname(skipped[0][0]) if skipped else ""
  instead = f"using {os.path.basename(chosen)}" if chosen else "no readable checkpoint is left"
  return f"skipped damaged checkpoint(s) in {where}: {parts}; {instead}"


def remove_temp_directories(directory: str) -> List[str]:
  """Removes `<prefix>_temp/` directories left by a save that was killed; returns their paths.

  Call it only where no save can be running (the chief, before training starts).
  """
  removed = []
  if not os.path.isdir(directory):
    return removed
  for name in sorted(os.listdir(directory)):
    path = os.path.join(directory, name)
    if _TEMP_DIRECTORY.match(name) and os.path.isdir(path) and not os.path.islink(path):
      shutil.rmtree(path, ignore_errors=True)
      if not os.path.exists(path):
        removed.append(path)
  return removed


def repair_manager_state(manager: tf.train.CheckpointManager, restored: Optional[str],
                         skipped: List[Tuple[str, str]]) -> bool:
  """Makes `manager` (and its state file) forget the skipped checkpoints; True when it changed.

  After a damaged newest checkpoint was skipped, the manager built from the old state file still
  names it as the latest and counts it against `max_to_keep`. This drops the skipped ones from
  its list, names `restored` the latest, and rewrites the `checkpoint` state file, so the next
  save is numbered by its step as usual and later sweeps delete the right files. A missing or
  garbage state file is rewritten naming `restored` only (older checkpoints it did not list are
  left alone, never deleted). The damaged files stay on disk: a save at the same step replaces
  them, and they are never chosen again. Uses CheckpointManager internals (TF 2.20 pinned).
  """
  kept = manager._maybe_delete  # pylint: disable=protected-access
  dropped = {os.path.abspath(p) for p, _ in skipped}
  changed = False
  for path in list(kept):
    if os.path.abspath(path) in dropped:
      del kept[path]
      changed = True
  latest = manager._latest_checkpoint  # pylint: disable=protected-access
  same = (latest is not None and restored is not None
          and os.path.abspath(latest) == os.path.abspath(restored))
  if not same and (latest is not None or restored is not None):
    manager._latest_checkpoint = restored  # pylint: disable=protected-access
    changed = True
  if restored is not None and not any(os.path.abspath(p) == os.path.abspath(restored)
                                      for p in kept):
    kept[restored] = os.path.getmtime(restored + ".index")
    changed = True
  if changed:
    if kept:
      manager._record_state()  # pylint: disable=protected-access
    elif os.path.exists(os.path.join(manager.directory, "checkpoint")):
      os.remove(os.path.join(manager.directory, "checkpoint"))
  return changed


def warn(message: str) -> None:
  """absl `logging.warning(message)`, also printed to stderr when the log does not go there.

  The message reaches stderr exactly once: absl writes warnings to stderr unless a log file or
  a higher verbosity threshold is in use.
  """
  logging.warning(message)
  if not _warnings_reach_stderr():
    print(f"warning: {message}", file=sys.stderr, flush=True)


def _warnings_reach_stderr() -> bool:
  import logging as std_logging  # pylint: disable=g-import-not-at-top
  if not logging.get_absl_logger().isEnabledFor(std_logging.WARNING):
    return False
  handlers = std_logging.getLogger().handlers
  absl_handler = logging.get_absl_handler()
  if absl_handler in handlers:  # under app.run: stderr unless absl logs to a file
    return getattr(absl_handler.python_handler, "stream", None) in (sys.stderr, sys.__stderr__)
  if not handlers:
    return True  # Python's lastResort handler writes warnings to stderr
  return any(getattr(h, "stream", None) in (sys.stderr, sys.__stderr__) for h in handlers)
