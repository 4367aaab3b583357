r"""Markdown table of clean test accuracy over seeds, from run directories.

  python -m mentornet_tf.results_table --runs='runs/grid/*' [--runs='runs/other/*'] \
      [--output=table.md]

Reads every `results.json` under the globs (a match may be a run directory, a results.json, or a
directory holding run directories) together with the `config.json` next to it, and groups the
runs by (dataset, noise fraction, method). The method is derived from the run's configuration:
`weighting`, the basename of `trained_mentornet_dir`, `update_mentornet_epochs` (MentorNet DD and
the paper's Step 6) and `curriculum`. Runs whose configurations differ in anything other than the
seeds and the run directory are never averaged together: they form separate rows, told apart by
their run-name prefix (the directory name without its `_seed<S>` suffix). Unfinished runs
(results.json without `final_accuracy`, or `"status": "running"`) are skipped and reported on
stderr, and so is a malformed run (unreadable JSON, or a field of the wrong type), with the
reason; the table is made of the others.

Diverged runs (`"status": "diverged"` in results.json, written by the train entry when a loss,
gradient or weight became non-finite) are never averaged as a number: the accuracy cells average
the finished runs only and say how many diverged (`0.9100 ± 0.0141; diverged 1 of 3`, or
`diverged (3 of 3)` when none finished), and the seeds column marks the diverged seeds. A
results.json without `status` is an older run: finished when it has `final_accuracy`.

Exit status (mentornet_tf/cli.py): 0 with a table; 2 when no run could be tabulated or
`--output` cannot be written (one `error:` line, nothing written).

A grid of flagfiles x seeds in the paper's shape (methods x dataset and noise, with the paper's
numbers) is `python -m mentornet_tf.experiments` (experiments.py); both read runs with
run_results.py. No TensorFlow import: the table is instant.
"""
import collections
from typing import Sequence, Tuple

from absl import flags

from mentornet_tf import cli
from mentornet_tf import flags as flags_lib
from mentornet_tf import paper_table
# The run reader (run_results.py), re-exported: the names this command has always offered.
from mentornet_tf.run_results import (DIVERGED, FINISHED, RUNNING,  # noqa: F401
                                      ResultsError, RunResult, find_run_dirs, load_runs,
                                      mean_sd, method_name, read_run, with_baseline)
from mentornet_tf.run_results import format_mean_sd as _format

FLAGS = flags.FLAGS


def define_flags() -> None:
  """Registers the entry's flags (idempotent; only when it runs as a command, never at import)."""
  g = flags_lib.Group("runs")
  g.multi_string("runs", ["runs/grid/*"], "Glob(s) of run directories (each holding "
                 "results.json and config.json), or of directories holding them.")
  g.string("output", "", "Also write the table to this file.")


_METHOD_ORDER = ("FullModel", "Forgetting", "Self-paced", "Focal", "Reed", "Goldberger",
                 "MentorNet PD", "MentorNet DD")


def _format_cell(members: Sequence[RunResult], field: str) -> str:
  """mean ± sd of `field` over the finished members, and how many diverged (never averaged)."""
  values = [getattr(run, field) for run in members if not run.diverged]
  diverged = sum(run.diverged for run in members)
  if not values:
    return f"diverged ({diverged} of {len(members)})"
  text = _format(values)
  return f"{text}; diverged {diverged} of {len(members)}" if diverged else text


def _method_rank(method: str) -> Tuple[int, str]:
  for rank, prefix in enumerate(_METHOD_ORDER):
    if method.startswith(prefix):
      return rank, method
  return len(_METHOD_ORDER), method


def group_runs(runs: Sequence[RunResult]) -> "collections.OrderedDict":
  """{(dataset, noise, method, label): [runs]} in table order.

  `label` is '' unless the same (dataset, noise, method) holds runs of different configurations;
  then each configuration gets its own row, labelled by its run-name prefixes.
  """
  by_config = collections.defaultdict(list)
  for run in runs:
    by_config[(run.dataset, run.noise_fraction, run.method, run.signature)].append(run)
  configs_per_method = collections.Counter(key[:3] for key in by_config)
  groups = {}
  for (dataset, noise, method, _), members in by_config.items():
    label = ""
    if configs_per_method[(dataset, noise, method)] > 1:
      label = ",".join(sorted({run.name for run in members}))
    groups[(dataset, noise, method, label)] = sorted(members, key=lambda r: (r.seed, r.path))
  order = sorted(groups, key=lambda k: (k[0], k[1], _method_rank(k[2]), k[3]))
  return collections.OrderedDict((key, groups[key]) for key in order)


def format_table(runs: Sequence[RunResult]) -> str:
  """The markdown table: one row per (dataset, noise, method[, configuration])."""
  lines = ["| dataset | noise | method | final clean test acc. (mean ± sd) | best clean test acc. "
           "(mean ± sd) | runs | seeds | run names |",
           "|---|---|---|---|---|---|---|---|"]
  for (dataset, noise, method, label), members in group_runs(runs).items():
    if label:
      method = f"{method} [{label}]"
    names = ",".join(sorted({run.name for run in members}))
    seeds = ",".join(f"{run.seed} (diverged)" if run.diverged else str(run.seed)
                     for run in members)
    lines.append(
        f"| {dataset} | {noise:.0%} | {method} | {_format_cell(members, 'final_accuracy')} "
        f"| {_format_cell(members, 'best_accuracy')} | {len(members)} | {seeds} | {names} |")
  return "\n".join(lines) + "\n"


def write_output(path: str, text: str) -> None:
  """Writes `text` to `path` atomically; cli.BadInput naming --output if it cannot."""
  paper_table.write_output(path, text, flag="--output")


def table(patterns: Sequence[str], output: str = "") -> str:
  """What the command does, in-process: the Markdown table of the runs under the globs
  `patterns` (skipped runs named on stderr), also written to `output` when given; printed.

  Raises:
    cli.BadInput: no pattern, no finished or diverged run, or `output` cannot be written.
  """
  patterns = list(patterns or [])
  if not patterns or not all(patterns):
    raise cli.BadInput(f"--runs={patterns!r} is invalid: give one or more globs of run "
                       "directories")
  runs = load_runs(patterns)
  if not runs:
    found = len(find_run_dirs(patterns))
    why = (f"{found} run director{'y' if found == 1 else 'ies'} found, none finished or diverged "
           "(reasons above)" if found else "no results.json under these globs")
    raise cli.BadInput(f"--runs={patterns}: no finished or diverged run to tabulate ({why})")
  text = format_table(runs)
  if output:
    write_output(output, text)
  print(text, end="")
  return text


def main(argv):
  if len(argv) > 1:
    raise cli.BadInput(f"unexpected arguments: {' '.join(argv[1:])}")
  table(FLAGS.runs, FLAGS.output)
  return 0


if __name__ == "__main__":
  define_flags()
  cli.run(main)
