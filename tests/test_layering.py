"""The dependency rules of WORKSPACE.md, enforced on the import statements of the package."""
import ast
import os

PACKAGE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "mentornet_tf")
# Entry points and their flag-reading helpers (flags.py, flag_configs.py, mentor_options.py,
# cli.py); the library raises the flag-free errors.py types instead of importing cli.
ENTRY_POINTS = {"train", "evaluate", "train_mentornet", "visualize", "list_mislabelled",
                "results_table", "experiments", "export", "convert", "console", "flags",
                "flag_configs", "mentor_options", "cli"}


def _modules():
  for root, _, files in os.walk(PACKAGE):
    for name in files:
      if name.endswith(".py"):
        path = os.path.join(root, name)
        relative = os.path.relpath(path, os.path.dirname(PACKAGE))[:-3].replace(os.sep, ".")
        yield relative, path


def _imports(path):
  tree = ast.parse(open(path).read())
  for node in ast.walk(tree):
    if isinstance(node, ast.Import):
      for alias in node.names:
        yield alias.name
    elif isinstance(node, ast.ImportFrom) and node.module:
      yield node.module
      for alias in node.names:
        yield f"{node.module}.{alias.name}"


def test_only_entry_points_read_absl_flags():
  offenders = [module for module, path in _modules()
               if module.split(".")[-1] not in ENTRY_POINTS
               and any(name in ("absl.flags", "absl.app") for name in _imports(path))]
  assert not offenders, offenders


def test_library_never_imports_entry_points():
  entries = {f"mentornet_tf.{name}" for name in ENTRY_POINTS - {"flags"}}
  entries |= {f"mentornet_tf.{name}" for name in ("cli", "flags", "data.convert")}
  offenders = [(module, name) for module, path in _modules() for name in _imports(path)
               if name in entries and module.split(".")[-1] not in ENTRY_POINTS]
  assert not offenders, offenders


def test_data_and_students_stay_independent():
  for module, path in _modules():
    names = set(_imports(path))
    if module.startswith("mentornet_tf.data"):
      forbidden = ("mentornet_tf.students", "mentornet_tf.mentor", "mentornet_tf.spade",
                   "mentornet_tf.train")
      assert not any(n.startswith(forbidden) for n in names), module
    if module.startswith("mentornet_tf.students"):
      assert not any(n.startswith("mentornet_tf.data") for n in names), module
    if module.split(".")[:2] in (["mentornet_tf", "config"], ["mentornet_tf", "schedules"],
                                 ["mentornet_tf", "names"]):  # the config package: every module
      assert not any(n.split(".")[0] == "tensorflow" for n in names), module


# WORKSPACE.md: entries -> train_lib -> spade -> mentor -> schedules; train_lib -> data, students,
# training (the callbacks), distribute; spade -> eval_metrics. A module never imports one above
# it or beside it in another branch.
_NEVER_IMPORTS = {
    "mentornet_tf.mentor": ("mentornet_tf.students", "mentornet_tf.data", "mentornet_tf.spade",
                            "mentornet_tf.train_lib", "mentornet_tf.training",
                            "mentornet_tf.distribute"),
    "mentornet_tf.spade": ("mentornet_tf.data", "mentornet_tf.train_lib",
                           "mentornet_tf.training", "mentornet_tf.distribute"),
    "mentornet_tf.eval_metrics": ("mentornet_tf.",),  # TF only: spade and evaluation share it
    "mentornet_tf.nonfinite": ("mentornet_tf.",),  # TF only: spade's check, train_lib's parse
    "mentornet_tf.schedules": ("mentornet_tf.",),
    "mentornet_tf.names": ("mentornet_tf.",),
}


def test_mentor_spade_and_rules_stay_below_train_lib():
  offenders = []
  for module, path in _modules():
    for owner, forbidden in _NEVER_IMPORTS.items():
      if module == owner or module.startswith(owner + "."):
        offenders += [(module, name) for name in _imports(path)
                      if name.startswith(forbidden) and not name.startswith(owner)]
  assert not offenders, offenders


def test_only_tf_keras_never_keras_3():
  offenders = [module for module, path in _modules()
               if any(n == "keras" or n.startswith("keras.") for n in _imports(path))]
  assert not offenders, offenders
