"""Runs the planned runs of a grid (grids.plan) as train processes, N at a time. No TensorFlow.

Each run is one `python -m mentornet_tf.train` process (`command` + the run's arguments) whose
output goes to `<run_dir>.log` (appended: a resumed run keeps the earlier attempts' output). What
a run directory already holds decides what happens to it (`state`):

  finished   results.json says finished: skipped (delete the directory to redo it).
  diverged   results.json says diverged: not rerun (it would diverge again at the same step from
             the same checkpoint); listed with the step.
  in use     another process holds its `.lock` (run_directory.RunLock): not touched, listed.
  resume     a config.json but no final result (killed, or failed earlier): the same command
             again; the train command resumes from the newest checkpoint.
  new        started from scratch.

A run that must read another run's MentorNet (PlannedRun.depends_on) starts only after that run
finished; if it did not, the run is not started and says why. The caller gets one Outcome per run
directory; nothing is dropped.
"""
import dataclasses
import fcntl
import json
import os
import subprocess
import sys
import time
from typing import Dict, List, Optional, Sequence, Tuple

from mentornet_tf import grids
from mentornet_tf import run_directory

NEW, RESUME, FINISHED, DIVERGED, IN_USE = "new", "resume", "finished", "diverged", "in use"
FAILED, NOT_RUN = "failed", "not run"
TRAIN_COMMAND = (sys.executable, "-m", "mentornet_tf.train")


@dataclasses.dataclass
class Outcome:
  """How one run ended in this invocation (or before it)."""
  status: str        # FINISHED, DIVERGED, FAILED, IN_USE or NOT_RUN
  detail: str = ""   # why (the error line, the divergence step, the holder, the dependency)
  seconds: float = 0.0
  ran: bool = False  # a process ran in this invocation (False: skipped, as found)


def lock_holder(run_dir: str) -> Optional[str]:
  """Who holds `<run_dir>/.lock` (a live training process), or None when nobody does."""
  path = os.path.join(run_dir, run_directory.LOCK_NAME)
  try:
    fd = os.open(path, os.O_RDONLY)
  except OSError:
    return None
  try:
    try:
      fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
      with open(path, encoding="utf-8", errors="replace") as f:
        text = f.read().strip()
      try:
        record = json.loads(text)
        return f"pid {record.get('pid', '?')} on {record.get('host', '?')}"
      except (ValueError, AttributeError):
        return "another process"
    fcntl.flock(fd, fcntl.LOCK_UN)
    return None
  finally:
    os.close(fd)


def _results(run_dir: str) -> Dict:
  try:
    with open(os.path.join(run_dir, "results.json"), encoding="utf-8") as f:
      value = json.load(f)
    return value if isinstance(value, dict) else {}
  except (OSError, ValueError):
    return {}


def _divergence(results: Dict) -> str:
  divergence = results.get("divergence")
  step = divergence.get("step", "?") if isinstance(divergence, dict) else "?"
  return f"diverged at step {step}"


def state(run_dir: str) -> Tuple[str, str]:
  """(NEW | RESUME | FINISHED | DIVERGED | IN_USE, detail) of a run directory."""
  holder = lock_holder(run_dir)
  if holder:
    return IN_USE, f"in use by {holder}"
  results = _results(run_dir)
  status = results.get("status")
  if status == FINISHED or (status is None and results.get("final_accuracy") is not None):
    return FINISHED, "finished earlier"
  if status == DIVERGED:
    return DIVERGED, _divergence(results) + " (earlier)"
  if os.path.exists(os.path.join(run_dir, run_directory.CONFIG_NAME)):
    return RESUME, "resumed"
  return NEW, ""


def as_found(runs: Sequence[grids.PlannedRun]) -> Dict[str, Outcome]:
  """{run_dir: Outcome} of what the run directories hold now; runs nothing."""
  outcomes = {}
  for run in runs:
    found, detail = state(run.run_dir)
    if found == RESUME:
      found, detail = NOT_RUN, "started, not finished: rerun the grid to resume it"
    elif found == NEW:
      found, detail = NOT_RUN, "not run yet"
    outcomes[run.run_dir] = Outcome(found, detail)
  return outcomes


def _error_line(log_path: str, returncode: int) -> str:
  """The last `error:` line of the run's log (cli.py prints it last), else its last line."""
  try:
    with open(log_path, encoding="utf-8", errors="replace") as f:
      lines = [line.strip() for line in f.read().splitlines()[-200:] if line.strip()]
  except OSError:
    lines = []
  errors = [line for line in lines if line.startswith("error:")]
  last = errors[-1] if errors else (lines[-1] if lines else "no output")
  return f"exit status {returncode}: {last[:300]}"


def _ended(run: grids.PlannedRun, returncode: int, seconds: float) -> Outcome:
  results = _results(run.run_dir)
  if returncode == 0 and results.get("status") == FINISHED:
    return Outcome(FINISHED, f"final top-1 {results.get('final_accuracy', float('nan')):.4f}",
                   seconds, ran=True)
  if results.get("status") == DIVERGED:
    return Outcome(DIVERGED, _divergence(results), seconds, ran=True)
  return Outcome(FAILED, _error_line(run.run_dir + ".log", returncode), seconds, ran=True)


def execute(runs: Sequence[grids.PlannedRun], jobs: int = 1,
            command: Sequence[str] = TRAIN_COMMAND, log=sys.stdout,
            poll_secs: float = 0.2) -> Dict[str, Outcome]:
  """Runs what needs running, at most `jobs` processes at a time; {run_dir: Outcome}.

  Ctrl-C stops the processes it started (each resumes on the next invocation) and re-raises.
  """
  outcomes: Dict[str, Outcome] = {}
  pending: List[grids.PlannedRun] = []
  resumed = set()
  for run in runs:
    found, detail = state(run.run_dir)
    if found in (FINISHED, DIVERGED, IN_USE):
      outcomes[run.run_dir] = Outcome(found, detail)
      print(f"skip   {run.run_dir}: {detail}", file=log, flush=True)
    else:
      pending.append(run)
      if found == RESUME:
        resumed.add(run.run_dir)
  running: Dict[str, Tuple[grids.PlannedRun, subprocess.Popen, float]] = {}
  try:
    while pending or running:
      for run in list(pending):
        if len(running) >= jobs:
          break
        dependency = outcomes.get(run.depends_on) if run.depends_on else None
        if run.depends_on and dependency is None:
          continue  # its dependency has not ended yet
        pending.remove(run)
        if dependency is not None and dependency.status != FINISHED:
          outcomes[run.run_dir] = Outcome(
              NOT_RUN, f"needs the MentorNet of {run.depends_on}, which {dependency.status}")
          print(f"skip   {run.run_dir}: {outcomes[run.run_dir].detail}", file=log, flush=True)
          continue
        running[run.run_dir] = (run, _start(run, command), time.monotonic())
        print(f"start  {run.run_dir}{' (resume)' if run.run_dir in resumed else ''}",
              file=log, flush=True)
      if pending and not running:  # every pending run waits on another pending one: a cycle
        for run in pending:
          outcomes[run.run_dir] = Outcome(
              NOT_RUN, f"needs {run.depends_on}, which waits on it (a --trained_mentornet_dir "
              "cycle between flagfiles)")
        pending = []
      for run_dir, (run, process, started) in list(running.items()):
        if process.poll() is None:
          continue
        del running[run_dir]
        outcome = _ended(run, process.returncode, time.monotonic() - started)
        outcomes[run_dir] = outcome
        print(f"{'done' if outcome.status == FINISHED else outcome.status.upper():6s} {run_dir}"
              f" ({outcome.seconds:.0f} s): {outcome.detail}", file=log, flush=True)
      if running:
        time.sleep(poll_secs)
  except KeyboardInterrupt:
    for _, process, _ in running.values():
      process.terminate()
      process.wait()
    raise
  return outcomes


def _start(run: grids.PlannedRun, command: Sequence[str]) -> subprocess.Popen:
  parent = os.path.dirname(run.run_dir)
  if parent:
    os.makedirs(parent, exist_ok=True)
  args = list(command) + list(run.args)
  with open(run.run_dir + ".log", "a", encoding="utf-8") as log_file:
    log_file.write(f"=== {time.strftime('%Y-%m-%d %H:%M:%S')} {' '.join(args)}\n")
    log_file.flush()
    return subprocess.Popen(args, stdout=log_file, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL)
