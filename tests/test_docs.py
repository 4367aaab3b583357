"""The documentation names only files that exist.

Flagfile headers, READMEs, results records and docstrings tell users which script, flagfile or
record to open; a renamed or removed file left behind in them sends a user to nothing (the
flagfiles' "Expected" lines named the removed `launch/run_grid.sh` for a week). Dated records
(benchmarks/results/, test docstrings) may name a removed file listed in `REMOVED`, with what
replaced it; what users read to run something (flagfiles, READMEs, the package) may not.
"""
import os
import re

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOP_LEVEL_FILES = ("README.md", "WORKSPACE.md", "setup.py", "pyproject.toml")
DOC_FOLDERS = ("launch", "benchmarks", "mentornet_tf", "tests", "data", ".ci")
TEXT_SUFFIXES = (".md", ".flags", ".txt", ".py", ".sh", ".toml", ".ini", "run")
# A repository path with a file suffix, starting at one of the project's folders.
PATH = re.compile(r"(?<![\w./-])((?:launch|benchmarks|mentornet_tf|tests|\.ci)/[\w./-]*"
                  r"\.(?:sh|py|flags|txt|md|csv|json|toml))\b")
SKIPPED_FOLDERS = {"__pycache__", ".venv", "runs", "mentornet_models"}
# Removed files that dated records still name: path -> what replaced it.
REMOVED = {"launch/run_grid.sh": "python -m mentornet_tf.experiments"}
RECORD_FOLDERS = ("benchmarks/results/", "tests/")


def _documents():
  for name in TOP_LEVEL_FILES:
    yield name
  for folder in DOC_FOLDERS:
    for root, dirs, files in os.walk(os.path.join(REPO, folder)):
      dirs[:] = [d for d in dirs if d not in SKIPPED_FOLDERS]
      for name in files:
        if name.endswith(TEXT_SUFFIXES) and name != os.path.basename(__file__):
          yield os.path.relpath(os.path.join(root, name), REPO)


def test_every_repository_path_named_in_the_docs_exists():
  missing = []
  documents = list(_documents())
  assert len(documents) > 100  # the walk found the project, not an empty tree
  for document in documents:
    with open(os.path.join(REPO, document), encoding="utf-8") as f:
      for number, line in enumerate(f, start=1):
        for match in PATH.finditer(line):
          path = match.group(1)
          if os.path.exists(os.path.join(REPO, path)):
            continue
          if path in REMOVED and document.startswith(RECORD_FOLDERS):
            continue
          missing.append(f"{document}:{number}: {path}")
  assert not missing, "paths named but absent:\n" + "\n".join(missing)


def test_removed_files_are_gone():
  # REMOVED lists files that are gone: one that came back belongs in the docs again.
  assert not [p for p in REMOVED if os.path.exists(os.path.join(REPO, p))]


def test_the_path_pattern_finds_paths_in_prose():
  # The pattern itself: a path in prose is found, with its suffix, without trailing punctuation.
  found = [m.group(1) for m in PATH.finditer(
      "see launch/run_grid.sh, then benchmarks/results/x.md. (tests/test_docs.py)")]
  assert found == ["launch/run_grid.sh", "benchmarks/results/x.md", "tests/test_docs.py"]


def test_workspace_names_every_module_of_the_package():
  """WORKSPACE.md's module table is the map of the code: a module it does not name is one a
  maintainer cannot find from it."""
  with open(os.path.join(REPO, "WORKSPACE.md"), encoding="utf-8") as f:
    workspace = f.read()
  unnamed = []
  for root, dirs, files in os.walk(os.path.join(REPO, "mentornet_tf")):
    dirs[:] = [d for d in dirs if d != "__pycache__"]
    for name in files:
      if name.endswith(".py") and name != "__init__.py":
        if not re.search(rf"(?<![\w.]){re.escape(name)}", workspace):
          unnamed.append(os.path.relpath(os.path.join(root, name), REPO))
  assert not unnamed, f"modules WORKSPACE.md does not name: {sorted(unnamed)}"
