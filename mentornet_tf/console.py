"""Console scripts (setup.py): `mentornet-<entry>` runs `python -m mentornet_tf.<entry>`.

Each function sets the command's TensorFlow environment (mentornet_tf/entry.py), imports its
entry module, registers the entry's flags (`define_flags()`) and runs its `main` under
`cli.run`: the same flags, output and exit statuses (0, 1, 2; mentornet_tf/cli.py) as
`python -m`.
"""
import importlib

from mentornet_tf import entry


def _run(name: str) -> None:
  entry.prepare_environment()  # before the entry module imports TensorFlow
  from mentornet_tf import cli  # pylint: disable=g-import-not-at-top
  module = importlib.import_module(f"mentornet_tf.{name}")
  module.define_flags()
  cli.run(module.main)  # --help shows the entry's docstring and its grouped flags


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


def experiments() -> None:
  _run("experiments")


def export() -> None:
  _run("export")


def convert() -> None:
  _run("data.convert")
