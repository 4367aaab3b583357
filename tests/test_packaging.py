"""Packaging (issue 8 §4): console scripts, ranges vs pins, one test command, no outside links."""
import ast
import importlib
import os
import re

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KEY_PINS = ("tensorflow", "tf-keras", "tf-models-official", "tensorflow-datasets", "tensorboard",
            "absl-py", "numpy", "mlxtend", "scikit-learn", "matplotlib", "pytest",
            "pytest-timeout", "ruff")


def _setup_literals():
  """(console script -> function, install_requires) read from setup.py without running it."""
  tree = ast.parse(open(os.path.join(REPO, "setup.py")).read())
  entries = requires = None
  for node in ast.walk(tree):
    if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "_ENTRIES":
      entries = ast.literal_eval(node.value)
    if isinstance(node, ast.keyword) and node.arg == "install_requires":
      requires = ast.literal_eval(node.value)
  return entries, requires


def _pins():
  pins = {}
  for line in open(os.path.join(REPO, "constraints.txt")):
    line = line.split("#", 1)[0].strip()
    if line:
      name, version = line.split("==")
      pins[canonicalize_name(name)] = version
  return pins


def test_every_console_script_reaches_an_entry_main():
  entries, _ = _setup_literals()
  assert set(entries) == {"mentornet-train", "mentornet-evaluate", "mentornet-train-mentornet",
                          "mentornet-visualize", "mentornet-list-mislabelled",
                          "mentornet-results-table", "mentornet-experiments",
                          "mentornet-export", "mentornet-convert"}
  console = open(os.path.join(REPO, "mentornet_tf", "console.py")).read()
  modules = {"convert": "data.convert"}  # console function -> entry module, where they differ
  for script, function in entries.items():
    module = modules.get(function, function)
    assert re.search(rf'def {function}\(\) -> None:\n  _run\("{module}"\)', console), script
    assert os.path.exists(os.path.join(REPO, "mentornet_tf", *module.split(".")) + ".py"), script
  export = importlib.import_module("mentornet_tf.export")  # flags only in define_flags()
  assert callable(export.main) and callable(export.define_flags)


def test_constraints_pin_versions_inside_the_ranges():
  _, requires = _setup_literals()
  pins = _pins()
  for name in KEY_PINS:
    assert canonicalize_name(name) in pins, name
  for text in requires:
    requirement = Requirement(text)
    pinned = pins.get(canonicalize_name(requirement.name))
    assert pinned is not None, f"{requirement.name} is not pinned in constraints.txt"
    assert requirement.specifier.contains(pinned, prereleases=True), (text, pinned)
    assert requirement.specifier, f"{text}: give a range"


def test_readme_and_ci_run_the_same_test_command():
  ci = open(os.path.join(REPO, ".ci", "run")).read()
  readme = open(os.path.join(REPO, "README.md")).read()
  command = "pip install -c constraints.txt -e .[test] && pytest -q -n auto --dist loadfile"
  assert command in ci.splitlines()
  assert f"```\n{command}\n```" in readme


# The team's reference notes live beside the repository, not in it: a user's clone has none.
OUTSIDE = ("../shared", "shared/reference", "original_code.md", "fidelity_review.md",
           "datasets_baselines.md", "stack.md", "style.md", "peers.md", "offline_data.md")


def test_the_repository_points_nowhere_outside_itself():
  """The package, flagfiles, benchmarks, tests and docs cite the original code by its own file
  names (google/mentornet `code/...`), never the team's notes outside the repository."""
  offenders = []
  for top in ("mentornet_tf", "launch", "benchmarks", "tests", "data"):
    for root, dirs, files in os.walk(os.path.join(REPO, top)):
      dirs[:] = [d for d in dirs if d not in ("__pycache__", "mentornet_models")]
      for name in files:
        if name.endswith((".py", ".flags", ".md", ".txt", ".sh")) and name != "test_packaging.py":
          path = os.path.join(root, name)
          for number, line in enumerate(open(path, encoding="utf-8"), 1):
            if any(word in line for word in OUTSIDE):
              offenders.append(f"{os.path.relpath(path, REPO)}:{number}")
  for name in ("README.md", "WORKSPACE.md", "setup.py", "pyproject.toml"):
    for number, line in enumerate(open(os.path.join(REPO, name), encoding="utf-8"), 1):
      if any(word in line for word in OUTSIDE):
        offenders.append(f"{name}:{number}")
  assert not offenders, offenders
