"""The run directory (`--train_log_dir`): one writing job at a time, restarts that keep the
experiment.

Two guards, both checked before anything is written:

* `RunLock`: an advisory `flock` on `<train_log_dir>/.lock`, held for the life of the training
  process. The kernel drops it when the process dies (kill -9 included), so a lock left by a
  killed process is recognised as stale (its file still names the dead holder) and taken over
  with a warning. It is a lock for the *job*, not the process: every process of one
  multi-worker or parameter-server job (same TF_CONFIG cluster) holds it shared; a process of
  another job is refused at once with the directory and the holder (host, pid, job) named.
  `flock` is local to a host (and works on NFSv4); a directory on an object store is not guarded.
* `check_restart(config)`: a restart whose configuration differs from the run's `config.json`
  in anything but `RESTARTABLE` fields is refused, listing each differing flag with both values.

`claim(config, ...)` applies both around a training run (train_lib.run): it creates the
directory, takes the lock, checks that the directory is writable and writes `flags.txt` and
`config.json` (chief only).

Lock file protocol: a process takes the lock exclusively, writes its holder record (JSON), then
converts to shared so that the processes of its own job can join. A process that finds the lock
held reads the record once the holder has converted: same job -> join; other job -> refuse.
The last process of a job to leave empties the file, so a non-empty file found unlocked means
that its holder was killed.
"""
import contextlib
import dataclasses
import fcntl
import hashlib
import json
import os
import socket
import time
from typing import Dict, List, Optional, Tuple

from absl import logging

from mentornet_tf import atomic_files
from mentornet_tf import config as config_lib
from mentornet_tf import errors

LOCK_NAME = ".lock"
CONFIG_NAME = "config.json"

# Flags that may differ on a restart: they change how long, how often or how loudly the run
# goes, or where its data lie, never what is learned (WORKSPACE.md lists them). Everything else
# in config.json is the experiment. max_number_of_steps is here to extend a finished run (it is
# also the epoch-percentage denominator, so extending stretches the later schedule).
RESTARTABLE = ("train_log_dir", "max_number_of_steps", "train_epochs", "eval_interval",
               "verbose", "save_interval_secs", "save_summaries_secs", "summary_steps",
               "export_weights", "data.data_dir", "data.test_data_dir",
               "data.imagenet_val_dir", "save_interval_steps", "steps_per_execution")


class RunDirectoryError(errors.BadInput):
  """The run directory cannot be created or written."""


class RunDirectoryBusy(errors.BadInput):
  """Another job holds the run directory."""


class RestartChangesExperiment(errors.BadInput):
  """A restart's flags differ from the run's config.json in experiment fields."""


def job_id(strategy: str) -> str:
  """The identity shared by all processes of one job.

  Multi-worker and parameter-server processes of one job share TF_CONFIG's cluster; any other
  process is a job of its own.
  """
  if strategy in ("multi_worker_mirrored", "parameter_server"):
    try:
      cluster = json.loads(os.environ.get("TF_CONFIG", "") or "{}").get("cluster", {})
    except (json.JSONDecodeError, AttributeError):
      cluster = {}
    if cluster:
      digest = hashlib.sha256(json.dumps(cluster, sort_keys=True).encode()).hexdigest()[:16]
      return f"cluster-{digest}"
  return f"process-{socket.gethostname()}-{os.getpid()}-{time.time_ns()}"


def _read_record(fd: int) -> Optional[Dict]:
  os.lseek(fd, 0, os.SEEK_SET)
  raw = b""
  while True:
    chunk = os.read(fd, 65536)
    if not chunk:
      break
    raw += chunk
  if not raw.strip():
    return None
  try:
    record = json.loads(raw.decode("utf-8", "replace"))
  except json.JSONDecodeError:
    return {"job": "unreadable", "raw": raw[:200].decode("utf-8", "replace")}
  return record if isinstance(record, dict) else {"job": "unreadable"}


def _describe(record: Optional[Dict]) -> str:
  if not record:
    return "an unknown process"
  return (f"pid {record.get('pid', '?')} on {record.get('host', '?')} (job {record.get('job', '?')}"
          f", since {record.get('started', '?')})")


class RunLock:
  """The job's lock on a run directory; use as a context manager or acquire()/release()."""

  def __init__(self, directory: str, job: str, settle_secs: float = 10.0):
    self.directory = directory
    self.path = os.path.join(directory, LOCK_NAME)
    self.job = job
    self.settle_secs = float(settle_secs)
    self.stale: Optional[Dict] = None   # the record of a killed holder that was taken over
    self._fd: Optional[int] = None

  def _try(self, mode: int) -> bool:
    try:
      fcntl.flock(self._fd, mode | fcntl.LOCK_NB)
      return True
    except BlockingIOError:
      return False

  def acquire(self) -> "RunLock":
    """Takes (or joins) the lock; raises RunDirectoryBusy naming the holder of another job."""
    self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
    deadline = time.monotonic() + self.settle_secs
    try:
      while True:
        if self._try(fcntl.LOCK_EX):
          self.stale = _read_record(self._fd)
          record = {"job": self.job, "pid": os.getpid(), "host": socket.gethostname(),
                    "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
          os.ftruncate(self._fd, 0)
          os.lseek(self._fd, 0, os.SEEK_SET)
          os.write(self._fd, (json.dumps(record) + "\n").encode())
          os.fsync(self._fd)
          fcntl.flock(self._fd, fcntl.LOCK_SH)  # let this job's other processes join
          return self
        if self._try(fcntl.LOCK_SH):  # the holder has written its record and converted
          holder = _read_record(self._fd)
          if holder and holder.get("job") == self.job:
            return self
          fcntl.flock(self._fd, fcntl.LOCK_UN)
          raise RunDirectoryBusy(
              f"--train_log_dir={self.directory!r} is in use by {_describe(holder)}; wait for "
              f"it to finish, stop it, or choose another --train_log_dir")
        if time.monotonic() > deadline:  # held exclusively for too long: not a record write
          raise RunDirectoryBusy(
              f"--train_log_dir={self.directory!r} is locked by "
              f"{_describe(_read_record(self._fd))}")
        time.sleep(0.1)
    except BaseException:
      os.close(self._fd)
      self._fd = None
      raise

  def release(self) -> None:
    if self._fd is None:
      return
    if self._try(fcntl.LOCK_EX):  # the job's last process: mark the lock as cleanly released
      os.ftruncate(self._fd, 0)
    fcntl.flock(self._fd, fcntl.LOCK_UN)
    os.close(self._fd)
    self._fd = None

  def __enter__(self):
    return self.acquire()

  def __exit__(self, *exc):
    self.release()


def _flatten(tree: Dict, prefix: str = "") -> Dict[str, object]:
  flat = {}
  for key, value in tree.items():
    if isinstance(value, dict):
      flat.update(_flatten(value, f"{prefix}{key}."))
    else:
      flat[f"{prefix}{key}"] = value
  return flat


def _normalise(value):
  return list(value) if isinstance(value, (list, tuple)) else value


def experiment_differences(previous: Dict, config: config_lib.TrainConfig) -> List[Tuple]:
  """(flag, previous value, new value) for every experiment field that differs.

  A field missing from an older config.json counts as its default.
  """
  new = _flatten(dataclasses.asdict(config))
  defaults = _flatten(dataclasses.asdict(config_lib.TrainConfig(train_log_dir="-")))
  old = _flatten(previous)
  differences = []
  for key, value in new.items():
    if key in RESTARTABLE:
      continue
    before = old.get(key, defaults.get(key))
    if _normalise(before) != _normalise(value):
      differences.append((key.rsplit(".", 1)[-1], before, value))
  return differences


def check_restart(config: config_lib.TrainConfig) -> Optional[Dict]:
  """Refuses a restart that would change the experiment; returns the previous config or None."""
  path = os.path.join(config.train_log_dir, CONFIG_NAME)
  if not os.path.exists(path):
    return None
  try:
    with open(path) as f:
      previous = json.load(f)
    if not isinstance(previous, dict):
      raise ValueError("not a JSON object")
  except (OSError, ValueError) as error:
    raise RestartChangesExperiment(
        f"{path} cannot be read ({error}), so a restart of --train_log_dir="
        f"{config.train_log_dir!r} cannot be checked; repair it or choose another "
        "--train_log_dir") from None
  differences = experiment_differences(previous, config)
  if differences:
    listed = "; ".join(f"--{flag}={new!r} (the run has {old!r})" for flag, old, new in differences)
    raise RestartChangesExperiment(
        f"--train_log_dir={config.train_log_dir!r} holds a run of another experiment: "
        f"{listed}. Restart with the run's flags (--flagfile={config.train_log_dir}/flags.txt) or "
        f"choose another --train_log_dir; flags that may change on a restart: "
        f"{', '.join(flag.rsplit('.', 1)[-1] for flag in RESTARTABLE)}")
  return previous


def prepare(train_log_dir: str) -> None:
  """Creates `train_log_dir` (no-op if it exists), naming the flag when it cannot."""
  try:
    os.makedirs(train_log_dir, exist_ok=True)
  except OSError as error:
    raise RunDirectoryError(
        f"--train_log_dir={train_log_dir!r} is not a writable directory: {error}") from None


def _check_writable(train_log_dir: str) -> None:
  # One probe per process: workers of a multi-worker job share the directory, and a shared
  # probe name let one worker delete another's probe (a crash, then a hung collective).
  probe = os.path.join(train_log_dir, f".write_probe_{os.getpid()}_{time.time_ns()}")
  try:
    with open(probe, "w") as f:
      f.write("ok")
    os.remove(probe)
  except OSError as error:
    raise RunDirectoryError(
        f"--train_log_dir={train_log_dir!r} is not a writable directory: {error}") from None


@contextlib.contextmanager
def claim(config: config_lib.TrainConfig, flags_text: str = "", chief: bool = True):
  """Holds `config.train_log_dir` for one training run (a `with` block), refusing first.

  Refuses, before the directory is touched, a restart that changes the experiment; then creates
  the directory, takes the job's `RunLock` (RunDirectoryBusy when another job holds it), checks
  the restart again under the lock (another job may have just run) and that the directory is
  writable, and (`chief`) writes `flags_text` to flags.txt when given and the config to
  config.json. The lock is released when the block ends.
  """
  check_restart(config)  # read-only: refuse before the directory is touched
  prepare(config.train_log_dir)
  try:
    lock = RunLock(config.train_log_dir, job_id(config.strategy))
    lock.acquire()
  except OSError as error:
    raise RunDirectoryError(f"--train_log_dir={config.train_log_dir!r} cannot be locked: "
                            f"{error}") from None
  try:
    check_restart(config)  # again under the lock: another job may have just run
    _check_writable(config.train_log_dir)
    if lock.stale:
      logging.warning("Took over the lock of %s left by a killed process: %s",
                      config.train_log_dir, lock.stale)
    if chief:
      if flags_text:
        atomic_files.write_text(os.path.join(config.train_log_dir, "flags.txt"), flags_text)
      atomic_files.write_text(os.path.join(config.train_log_dir, CONFIG_NAME), config.to_json())
    yield
  finally:
    lock.release()
