"""Bad-input cases for the six entry points, run many to a process.

A `Case` says what a user typed (an entry point and its arguments, after an optional `setup` that
writes the files the case needs) and how it must end: the exit status of `mentornet_tf.cli`, a
regex that the last stderr line (`error: ...`) must match, no traceback, and the case directory
unchanged. `run_cases` runs all cases of one entry point in one subprocess (this file as a
script), `run_all` several entry points one after another in each of a few subprocesses (one
TensorFlow import per process, not per entry: the imports were most of the harness's time): each
entry registers its flags, runs its cases and unregisters them before the next entry; each case
gets freshly unparsed flags and its own captured stdout/stderr file descriptors, so TensorFlow's
C++ logs are captured too, and the real `cli.run(main)` path of the entry point is what runs.

Placeholders in `args` and `env` values: `{dir}` is the case's own directory (cwd of the case),
`{repo}` the repository root.
"""
import dataclasses
import importlib
import json
import os
import subprocess
import sys
from typing import Callable, Dict, List, Optional

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENTRIES = {
    "train": "mentornet_tf.train",
    "evaluate": "mentornet_tf.evaluate",
    "train_mentornet": "mentornet_tf.train_mentornet",
    "visualize": "mentornet_tf.visualize",
    "list_mislabelled": "mentornet_tf.list_mislabelled",
    "results_table": "mentornet_tf.results_table",
    "export": "mentornet_tf.export",
    "convert": "mentornet_tf.data.convert",
}


@dataclasses.dataclass
class Case:
  id: str
  entry: str                          # a key of ENTRIES
  args: List[str]
  message: str                        # regex searched in the last non-empty stderr line
  status: int = 2                     # cli.EXIT_BAD_INPUT
  setup: Optional[Callable] = None    # setup(case_dir: pathlib.Path) writes the case's inputs
  env: Dict[str, str] = dataclasses.field(default_factory=dict)


def _fill(text: str, case_dir: str) -> str:
  return text.replace("{dir}", case_dir).replace("{repo}", REPO)


def listing(directory: str) -> Dict[str, tuple]:
  """Every file and directory under `directory` with its size and modification time."""
  found = {}
  for root, dirs, files in os.walk(directory):
    for name in dirs + files:
      path = os.path.join(root, name)
      stat = os.lstat(path)
      found[os.path.relpath(path, directory)] = (stat.st_size if name in files else -1,
                                                 stat.st_mtime_ns)
  return found


def _prepare(entry: str, cases: List[Case], base_dir: str) -> Dict:
  """Writes the cases' inputs and the driver's plan; records each case directory's listing."""
  plan = []
  for case in cases:
    case_dir = os.path.join(base_dir, case.id)
    os.makedirs(case_dir, exist_ok=True)
    if case.setup is not None:
      import pathlib  # pylint: disable=g-import-not-at-top
      case.setup(pathlib.Path(case_dir))
    plan.append({"id": case.id, "cwd": case_dir,
                 "args": [_fill(a, case_dir) for a in case.args],
                 "env": {k: _fill(v, case_dir) for k, v in case.env.items()}})
  plan_path = os.path.join(base_dir, f"_{entry}_plan.json")
  with open(plan_path, "w") as f:
    json.dump(plan, f)
  return {"entry": entry, "plan": plan, "plan_path": plan_path, "base_dir": base_dir,
          "out_path": os.path.join(base_dir, f"_{entry}_results.json"),
          "before": {case["id"]: listing(case["cwd"]) for case in plan}}


def _start(group: List[Dict]) -> subprocess.Popen:
  """One driver process for the prepared entries of `group`, run one after another."""
  env = dict(os.environ, PYTHONPATH=REPO)
  args = [a for p in group for a in (ENTRIES[p["entry"]], p["plan_path"], p["out_path"])]
  # The driver's own output goes to a file, not a pipe: several drivers run at once and a full
  # pipe that nobody reads yet would block one.
  with open(group[0]["out_path"] + ".log", "w") as log:
    return subprocess.Popen([sys.executable, os.path.abspath(__file__)] + args,
                            cwd=group[0]["base_dir"], env=env, stdout=log,
                            stderr=subprocess.STDOUT)


def _finish(group: List[Dict], process: subprocess.Popen,
            timeout: int) -> Dict[str, Dict[str, Dict]]:
  try:
    process.wait(timeout=timeout)
  except subprocess.TimeoutExpired:
    process.kill()
    process.wait()
  if process.returncode != 0 or not all(os.path.exists(p["out_path"]) for p in group):
    with open(group[0]["out_path"] + ".log", errors="replace") as f:
      output = f.read()
    raise AssertionError(f"the bad-input driver for {', '.join(p['entry'] for p in group)} "
                         f"failed ({process.returncode}):\n{output[-6000:]}")
  found = {}
  for prepared in group:
    with open(prepared["out_path"]) as f:
      results = json.load(f)
    for case in prepared["plan"]:
      results[case["id"]]["before"] = prepared["before"][case["id"]]
      results[case["id"]]["after"] = listing(case["cwd"])
    found[prepared["entry"]] = results
  return found


def run_cases(entry: str, cases: List[Case], base_dir: str, timeout: int = 600) -> Dict[str, Dict]:
  """Sets up and runs `cases` of `entry` in one driver process.

  Returns {case id: {status, stdout, stderr, before, after}}.
  """
  group = [_prepare(entry, cases, base_dir)]
  return _finish(group, _start(group), timeout)[entry]


def run_all(cases_by_entry: Dict[str, List[Case]], base_dirs: Dict[str, str],
            timeout: int = 600, parallel: int = 0) -> Dict[str, Dict[str, Dict]]:
  """`run_cases` for several entry points: setups one after another in this process (they may
  build TensorFlow models), then `parallel` driver processes (default: the CPU count), each
  running its share of the entry points one after another (dealt by case count, largest first).
  Returns {entry: {case id: result}}."""
  parallel = max(1, min(parallel or os.cpu_count() or 1, len(cases_by_entry)))
  prepared = [_prepare(entry, cases, base_dirs[entry]) for entry, cases in cases_by_entry.items()]
  groups = [[] for _ in range(parallel)]
  for item in sorted(prepared, key=lambda p: -len(p["plan"])):
    min(groups, key=lambda g: sum(len(p["plan"]) for p in g)).append(item)
  running = [(group, _start(group)) for group in groups if group]
  results = {}
  for group, process in running:
    results.update(_finish(group, process, timeout * len(group)))
  return results


def _run_one(module, case: Dict, log_prefix: str) -> Dict:
  """Runs one case in this process with fds 1 and 2 sent to files; returns status and output."""
  from absl import flags  # pylint: disable=g-import-not-at-top
  from mentornet_tf import cli  # pylint: disable=g-import-not-at-top
  flags.FLAGS.unparse_flags()
  os.chdir(case["cwd"])
  saved_env = {k: os.environ.get(k) for k in case["env"]}
  os.environ.update(case["env"])
  paths = {1: log_prefix + ".stdout", 2: log_prefix + ".stderr"}
  sys.stdout.flush()
  sys.stderr.flush()
  saved = {fd: os.dup(fd) for fd in paths}
  for fd, path in paths.items():
    target = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(target, fd)
    os.close(target)
  status = None
  try:
    cli.run(module.main, argv=[module.__name__] + case["args"])
  except SystemExit as exit_:
    status = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
  except BaseException:  # pylint: disable=broad-except
    import traceback  # pylint: disable=g-import-not-at-top
    traceback.print_exc()
    status = 1
  finally:
    sys.stdout.flush()
    sys.stderr.flush()
    for fd, copy in saved.items():
      os.dup2(copy, fd)
      os.close(copy)
    for key, value in saved_env.items():
      if value is None:
        os.environ.pop(key, None)
      else:
        os.environ[key] = value
  output = {}
  for fd, path in paths.items():
    with open(path, errors="replace") as f:
      output["stdout" if fd == 1 else "stderr"] = f.read()
    os.remove(path)
  return {"status": status, **output}


def _driver(module_name: str, plan_path: str, out_path: str) -> None:
  """Runs one entry point's cases in this process, then unregisters the entry's flags so that
  the next entry of the same driver sees only its own (an unknown flag must stay unknown)."""
  from absl import flags  # pylint: disable=g-import-not-at-top
  os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
  module = importlib.import_module(module_name)  # may define absl's own flags (absl.app)
  before = set(flags.FLAGS)
  module.define_flags()  # every entry registers its flags only when it runs as a command
  with open(plan_path) as f:
    plan = json.load(f)
  log_dir = os.path.dirname(os.path.abspath(out_path))
  cwd = os.getcwd()
  results = {case["id"]: _run_one(module, case, os.path.join(log_dir, "_" + case["id"]))
             for case in plan}
  os.chdir(cwd)
  flags.FLAGS.unparse_flags()
  for name in set(flags.FLAGS) - before:
    delattr(flags.FLAGS, name)
  from mentornet_tf import flags as flags_lib  # pylint: disable=g-import-not-at-top
  # --help lists the groups' flags: keep only the flags still defined.
  for names in flags_lib._GROUPS.values():  # pylint: disable=protected-access
    names[:] = [name for name in names if name in flags.FLAGS]
  with open(out_path, "w") as f:
    json.dump(results, f)


if __name__ == "__main__":
  for index in range(1, len(sys.argv), 3):
    _driver(*sys.argv[index:index + 3])
