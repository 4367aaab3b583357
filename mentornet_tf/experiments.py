r"""One command from a grid of flagfiles to a table shaped like the paper's.

  python -m mentornet_tf.experiments --grid=launch/grids/<table>.txt --seeds=0,1,2 [--jobs=N] \
      [--runs_dir=runs/grids/<table>] [--output=<runs_dir>/table.md] [--dry_run] [--table_only]

Runs every flagfile of the grid (launch/grids/README.md: one flagfile per line, optional row and
column labels, `table:` names the published numbers) once per seed, each as its own
`python -m mentornet_tf.train --flagfile=F --seed=S --noise_seed=S --train_log_dir=<runs_dir>/
<F>_seed<S> --verbose=0` process, N at a time, its output in `<runs_dir>/<F>_seed<S>.log`. A
finished run is skipped, a killed one resumed (the train command resumes from its run directory),
one in use by another process left alone (grid_runner.py). Then writes `<output>` (Markdown: final
and best clean top-1 and top-5, mean ± sd over seeds, n, the published number beside ours) and
the same statistics as CSV next to it (`.csv`), and prints the Markdown. Diverged, failed and
unrun runs, and flagfiles that are missing or do not parse, are listed in the table and counted
in their cells, never dropped.

--dry_run parses everything and prints each run's command and state; nothing runs or is written.
--table_only tabulates what the run directories hold now (e.g. while a grid runs elsewhere).

Exit status (mentornet_tf/cli.py): 0 every planned run finished; 1 some run diverged, failed or
could not run, or a flagfile is missing or does not parse (the table is still written and lists
them; a dry run says so); 2 bad input (the grid file, --seeds, --jobs, --output): nothing runs or
is written.
"""
from mentornet_tf import entry  # noqa: F401  (first: a command's environment; entry.py)

import dataclasses
import os
import platform
import shlex
import sys
import time
from typing import Dict, Sequence, Tuple, Union

from absl import flags

from mentornet_tf import cli
from mentornet_tf import config as config_lib
from mentornet_tf import flag_configs
from mentornet_tf import flags as flags_lib
from mentornet_tf import grid_runner
from mentornet_tf import grids
from mentornet_tf import paper_table

FLAGS = flags.FLAGS


def define_flags(flag_values=None) -> None:
  """Registers the entry's flags (idempotent; only when it runs as a command, never at import)."""
  g = flags_lib.Group("grid", flag_values)
  g.string("grid", "", "The grid file: one flagfile per line, `FLAGFILE [| ROW [| COLUMN]]` "
           "(launch/grids/README.md).")
  g.list("seeds", ["0", "1", "2"], "Seeds: each flagfile runs once per seed with --seed=S "
         "--noise_seed=S.")
  g.integer("jobs", 1, "Training processes at a time.")
  g.string("runs_dir", "", "Where the runs go (<runs_dir>/<flagfile>_seed<S>); default "
           "runs/grids/<grid file name>.")
  g.string("output", "", "The Markdown table; the CSV goes beside it (.csv). Default "
           "<runs_dir>/table.md.")
  g.bool("dry_run", False, "Print the plan (command and state of each run); run and write "
         "nothing.")
  g.bool("table_only", False, "Run nothing; tabulate what the run directories hold now.")


@dataclasses.dataclass(frozen=True)
class Options:
  """What the command does, as plain values (tests build it with `options(...)`)."""
  grid: str
  seeds: Tuple[int, ...] = (0, 1, 2)
  jobs: int = 1
  runs_dir: str = ""
  output: str = ""
  dry_run: bool = False
  table_only: bool = False
  train_command: Tuple[str, ...] = grid_runner.TRAIN_COMMAND  # tests substitute a fake trainer

  @property
  def resolved_runs_dir(self) -> str:
    name = os.path.splitext(os.path.basename(self.grid))[0]
    return self.runs_dir or os.path.join("runs", "grids", name)

  @property
  def outputs(self) -> Tuple[str, str]:
    """(Markdown path, CSV path)."""
    markdown = self.output or os.path.join(self.resolved_runs_dir, "table.md")
    stem = markdown[:-3] if markdown.endswith(".md") else markdown
    return markdown, stem + ".csv"


def options(grid: str, seeds: Union[str, Sequence] = "0,1,2", **kwargs) -> Options:
  """Options with --seeds parsed and checked (errors.BadInput names the flag)."""
  return Options(grid=grid, seeds=grids.parse_seeds(seeds), **kwargs)


def load_configs(grid: grids.Grid) -> Dict[str, Union[config_lib.TrainConfig, str]]:
  """Each flagfile parsed exactly as `python -m mentornet_tf.train --flagfile=F` parses it (the
  train flags in this process), or why it cannot be: missing, an unknown flag, a bad value."""
  from mentornet_tf import train  # pylint: disable=g-import-not-at-top  (its flags, on demand)
  train.define_flags()
  configs: Dict[str, Union[config_lib.TrainConfig, str]] = {}
  verbosity = FLAGS["verbosity"].value  # absl's flag: unparse_flags resets the command's
  try:
    for item in grid.entries:
      if not os.path.isfile(item.flagfile):
        configs[item.flagfile] = (f"missing flagfile: {item.flagfile!r} does not exist "
                                  f"(paths are relative to {os.getcwd()})")
        continue
      FLAGS.unparse_flags()
      try:
        FLAGS(["train", f"--flagfile={item.flagfile}"])
        configs[item.flagfile] = flag_configs.train_config_from_flags()
      except (flags.Error, config_lib.ConfigError) as error:
        configs[item.flagfile] = f"does not parse as a train flagfile: {cli.one_line(error)}"
  finally:
    FLAGS.unparse_flags()
    FLAGS.mark_as_parsed()  # defaults: absl.app reads its own flags after main returns
    FLAGS["verbosity"].value = verbosity
  return configs


def _preamble(opts: Options) -> Tuple[str, ...]:
  args = [f"--grid={opts.grid}", f"--seeds={','.join(str(s) for s in opts.seeds)}",
          f"--jobs={opts.jobs}"] + ([f"--runs_dir={opts.runs_dir}"] if opts.runs_dir else [])
  machine = (f"{platform.platform()}, {os.cpu_count()} CPU cores, Python "
             f"{platform.python_version()}")
  command = " ".join(["python -m mentornet_tf.experiments"] + [shlex.quote(a) for a in args])
  return (f"Command: `{command}`  ",
          f"Generated: {time.strftime('%Y-%m-%d %H:%M %Z')}  ", f"Machine: {machine}  ",
          f"Runs: `{opts.resolved_runs_dir}/<flagfile>_seed<S>` (each with a `.log`)")


def run_grid(opts: Options, log=sys.stdout) -> Dict[str, object]:
  """What the command does, in-process.

  Returns:
    {"cells": [...], "runs": [...], "outcomes": {run_dir: Outcome}, "problems": [...],
     "markdown": text, "csv": text} (markdown/csv empty for a dry run).
  Raises:
    errors.BadInput: the grid file, --jobs or --output is refused (nothing run or written).
    errors.RunFailed: after writing the table, when a run is not in the averages (names how many).
  """
  grid = grids.parse_grid(opts.grid)
  if opts.jobs < 1:
    raise cli.BadInput(f"--jobs={opts.jobs} is invalid: must be >= 1")
  if os.path.isfile(opts.resolved_runs_dir):
    raise cli.BadInput(f"--runs_dir={opts.resolved_runs_dir!r} is a file")
  for path in opts.outputs:
    paper_table.check_writable(path, "--output")
  cells = grids.resolve(grid, load_configs(grid))
  runs = grids.plan(cells, opts.seeds, opts.resolved_runs_dir)
  report = {"cells": cells, "runs": runs, "markdown": "", "csv": ""}
  if opts.dry_run:
    for run in runs:
      state, detail = grid_runner.state(run.run_dir)
      after = f" (after {run.depends_on})" if run.depends_on else ""
      print(f"{state:9s} {' '.join(opts.train_command + run.args)}{after}"
            f"{'  # ' + detail if detail else ''}", file=log)
    problems = [f"{c.entry.flagfile} (grid line {c.entry.line}): {c.problem}"
                for c in cells if c.problem]
    for problem in problems:
      print(f"problem   {problem}", file=log)
    report.update(outcomes={}, problems=problems)
    if problems:
      raise cli.RunFailed(f"{len(problems)} flagfile(s) of {opts.grid} cannot run (listed above)")
    return report
  if opts.table_only:
    outcomes = grid_runner.as_found(runs)
  else:
    outcomes = grid_runner.execute(runs, opts.jobs, opts.train_command, log=log)
  results, problems = paper_table.collect(cells, runs, outcomes)
  heading = grid.title or f"Grid {opts.grid}"
  report.update(outcomes=outcomes, problems=problems,
                markdown=paper_table.markdown(results, problems, grid.table, heading,
                                              _preamble(opts)),
                csv=paper_table.csv_text(results, grid.table))
  markdown_path, csv_path = opts.outputs
  os.makedirs(os.path.dirname(os.path.abspath(markdown_path)), exist_ok=True)
  os.makedirs(os.path.dirname(os.path.abspath(csv_path)), exist_ok=True)
  paper_table.write_output(markdown_path, report["markdown"])
  paper_table.write_output(csv_path, report["csv"])
  print(report["markdown"], end="", file=log)
  print(f"wrote {markdown_path} and {csv_path}", file=log, flush=True)
  if problems:
    raise cli.RunFailed(f"{len(problems)} run(s) or flagfile(s) are not in the averages "
                        f"(listed in {markdown_path})")
  return report


def main(argv):
  if len(argv) > 1:
    raise cli.BadInput(f"unexpected arguments: {' '.join(argv[1:])}")
  if not FLAGS.grid:
    raise cli.BadInput("--grid is required: a grid file such as launch/grids/mnist5k.txt")
  run_grid(options(FLAGS.grid, FLAGS.seeds, jobs=FLAGS.jobs, runs_dir=FLAGS.runs_dir,
                   output=FLAGS.output, dry_run=FLAGS.dry_run, table_only=FLAGS.table_only))
  return 0


if __name__ == "__main__":
  define_flags()
  cli.run(main)
