"""Writes that a reader (or a restart after kill -9) sees whole or not at all.

A file is written to a temporary sibling and renamed over the target (`os.replace` is atomic on
one filesystem); a directory is built in a temporary sibling directory that is renamed into place,
an earlier one moved aside first and removed after.
"""
import os
import shutil
import uuid
from typing import Callable


def write_text(path: str, text: str) -> None:
  """Replaces the file `path` by `text` atomically."""
  tmp = f"{path}.tmp-{uuid.uuid4().hex[:8]}"
  try:
    with open(tmp, "w", encoding="utf-8") as f:
      f.write(text)
    os.replace(tmp, path)
  finally:
    if os.path.exists(tmp):
      os.remove(tmp)


def write_directory(directory: str, write_fn: Callable[[str], None]) -> None:
  """Runs write_fn(tmp_dir) on a fresh empty sibling directory, then renames it to `directory`.

  An existing `directory` is replaced only once the new one is complete; a failure in `write_fn`
  leaves `directory` as it was and removes the temporary directory.
  """
  directory = os.path.abspath(os.fspath(directory))
  parent = os.path.dirname(directory)
  os.makedirs(parent, exist_ok=True)
  token = uuid.uuid4().hex[:8]
  tmp = os.path.join(parent, f".{os.path.basename(directory)}.tmp-{token}")
  old = os.path.join(parent, f".{os.path.basename(directory)}.old-{token}")
  try:
    os.makedirs(tmp)
    write_fn(tmp)
    if os.path.lexists(directory):
      os.rename(directory, old)
    os.rename(tmp, directory)
  finally:
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.rmtree(old, ignore_errors=True)
