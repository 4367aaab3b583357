"""Bad-input cases for the six entry points, run many to a process.

A `Case` says what a user typed (an entry point and its arguments, after an optional `setup` that
writes the files the case needs) and how it must end: the exit status of `mentornet_tf.cli`, a
regex that the last stderr line (`error: ...`) must match, no traceback, and the case directory
unchanged. `run_cases` runs all cases of one entry point in one subprocess (this file as a
script): each case gets freshly unparsed flags and its own captured stdout/stderr file
descriptors, so TensorFlow's C++ logs are captured too, and the real `cli.run(main)` path of the
entry point is what runs.

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


def _start(prepared: Dict) -> subprocess.Popen:
  env = dict(os.environ, PYTHONPATH=REPO)
  # The driver's own output goes to a file, not a pipe: several drivers run at once and a full
  # pipe that nobody reads yet would block one.
  with open(prepared["out_path"] + ".log", "w") as log:
    return subprocess.Popen([sys.executable, os.path.abspath(__file__),
                             ENTRIES[prepared["entry"]], prepared["plan_path"],
                             prepared["out_path"]], cwd=prepared["base_dir"], env=env,
                            stdout=log, stderr=subprocess.STDOUT)


def _finish(prepared: Dict, process: subprocess.Popen, timeout: int) -> Dict[str, Dict]:
  try:
    process.wait(timeout=timeout)
  except subprocess.TimeoutExpired:
    process.kill()
    process.wait()
  out_path = prepared["out_path"]
  if process.returncode != 0 or not os.path.exists(out_path):
    with open(out_path + ".log", errors="replace") as f:
      output = f.read()
    raise AssertionError(f"the bad-input driver for {prepared['entry']} failed "
                         f"({process.returncode}):\n{output[-6000:]}")
  with open(out_path) as f:
    results = json.load(f)
  for case in prepared["plan"]:
    results[case["id"]]["before"] = prepared["before"][case["id"]]
    results[case["id"]]["after"] = listing(case["cwd"])
  return results


def run_cases(entry: str, cases: List[Case], base_dir: str, timeout: int = 600) -> Dict[str, Dict]:
  """Sets up and runs `cases` of `entry` in one driver process.

  Returns {case id: {status, stdout, stderr, before, after}}.
  """
  prepared = _prepare(entry, cases, base_dir)
  return _finish(prepared, _start(prepared), timeout)


def run_all(cases_by_entry: Dict[str, List[Case]], base_dirs: Dict[str, str],
            timeout: int = 600, parallel: int = 0) -> Dict[str, Dict[str, Dict]]:
  """`run_cases` for several entry points: setups one after another in this process (they may
  build TensorFlow models), then up to `parallel` driver processes at a time (default: the CPU
  count). Returns {entry: {case id: result}}."""
  parallel = parallel or os.cpu_count() or 1
  prepared = [_prepare(entry, cases, base_dirs[entry]) for entry, cases in cases_by_entry.items()]
  results, running = {}, []
  for item in prepared:
    while len(running) >= parallel:
      done = running.pop(0)
      results[done[0]["entry"]] = _finish(done[0], done[1], timeout)
    running.append((item, _start(item)))
  for item, process in running:
    results[item["entry"]] = _finish(item, process, timeout)
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
  os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
  module = importlib.import_module(module_name)
  module.define_flags()  # every entry registers its flags only when it runs as a command
  with open(plan_path) as f:
    plan = json.load(f)
  log_dir = os.path.dirname(os.path.abspath(out_path))
  results = {case["id"]: _run_one(module, case, os.path.join(log_dir, "_" + case["id"]))
             for case in plan}
  with open(out_path, "w") as f:
    json.dump(results, f)


if __name__ == "__main__":
  _driver(*sys.argv[1:4])
