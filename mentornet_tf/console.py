"""Console scripts (setup.py): `mentornet-<entry>` runs `python -m mentornet_tf.<entry>`.

Each function imports its entry module, registers the entry's flags when the module keeps them in
a `define_flags()` (entries that register flags at import need nothing), and runs its `main`
under `cli.run`: the same flags, output and exit statuses (0, 1, 2; mentornet_tf/cli.py) as
`python -m`.
"""
import importlib
import sys

import mentornet_tf  # noqa: F401  (selects tf_keras before TensorFlow is imported)
from absl import flags

from mentornet_tf import cli


def _run(name: str) -> None:
  module = importlib.import_module(f"mentornet_tf.{name}")
  define_flags = getattr(module, "define_flags", None)
  if define_flags is not None:
    define_flags()
  # absl's --help prints __main__'s docstring and the key flags of the module named sys.argv[0]
  # (the script here): give them the entry's, as `python -m` shows.
  main_module = sys.modules.get("__main__")
  if main_module is not None and module.__doc__:
    main_module.__doc__ = module.__doc__
  for flag in flags.FLAGS.get_key_flags_for_module(module.__name__):
    flags.FLAGS.register_key_flag_for_module(sys.argv[0], flag)
  cli.run(module.main)


def train() -> None:
  _run("train")


def evaluate() -> None:
  _run("evaluate")


def train_mentornet() -> None:
  _run("train_mentornet")


def visualize() -> None:
  _run("visualize")


def list_mislabelled() -> None:
  _run("list_mislabelled")


def results_table() -> None:
  _run("results_table")


def export() -> None:
  _run("export")
