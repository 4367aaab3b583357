"""A grid's results in the paper's shape: rows = methods, columns = dataset x noise (x student),
each cell the mean ± sample sd over seeds with the published number beside it. No TensorFlow.

Four Markdown tables (final and best clean top-1, final and best top-5) and one CSV with every
statistic of every cell (rows = methods, one column per (column, statistic)), then the list of
every run that is not in the averages: diverged, failed, not run, in use, flagfiles that are
missing or do not parse. Nothing is dropped silently: a cell counts its diverged and failed seeds.
"""
import csv
import io
import math
import os
from typing import Dict, List, Optional, Sequence, Tuple

from mentornet_tf import errors
from mentornet_tf import grid_runner
from mentornet_tf import grids
from mentornet_tf import paper_numbers
from mentornet_tf import run_results

# (RunResult field, heading, whether the published number is top-5, the split it must be
# measured on: None = our test split (or the paper's other split, named)). The ILSVRC12 val parts
# appear only when a run has them (WebVision runs with --imagenet_val_dir; paper Table 5).
METRICS = (("final_accuracy", "Final clean test top-1", False, None),
           ("best_accuracy", "Best clean test top-1", False, None),
           ("final_top5", "Final clean test top-5", True, None),
           ("best_top5", "Best clean test top-5", True, None),
           ("final_imagenet_val", "Final ILSVRC12 val top-1 (the WebVision classes)", False,
            paper_numbers.ILSVRC12_VAL),
           ("final_imagenet_val_top5", "Final ILSVRC12 val top-5 (the WebVision classes)", True,
            paper_numbers.ILSVRC12_VAL))
_OPTIONAL = ("final_imagenet_val", "final_imagenet_val_top5")
NOTE = ("Each cell: mean ± sample sd over the seeds that finished (n); a diverged or failed seed "
        "is never averaged, it is counted in the cell and listed under \"Runs not in the "
        "averages\". \"paper\" is the published number of the same method, dataset, noise and "
        "student. \"Best\" is the best per-epoch evaluation on the test split itself (for "
        "reference only; the paper reports the converged model, our \"final\").")


class CellResults:
  """The runs of one grid cell: finished results, and every seed that is not among them."""

  def __init__(self, cell: grids.Cell):
    self.cell = cell
    self.finished: List[run_results.RunResult] = []
    self.diverged: List[str] = []   # run directories
    self.missing: List[str] = []    # run directories that failed, did not run, are in use

  def values(self, field: str) -> List[float]:
    return [getattr(r, field) for r in self.finished if getattr(r, field) is not None]


def collect(cells: Sequence[grids.Cell], runs: Sequence[grids.PlannedRun],
            outcomes: Dict[str, grid_runner.Outcome]) -> Tuple[List[CellResults], List[str]]:
  """(the results of each cell in grid order, the lines of "Runs not in the averages")."""
  by_cell = {id(cell): CellResults(cell) for cell in cells}
  problems = [f"{cell.entry.flagfile} (grid line {cell.entry.line}): {cell.problem}"
              for cell in cells if cell.problem]
  for run in runs:
    results = by_cell[id(run.cell)]
    outcome = outcomes.get(run.run_dir) or grid_runner.Outcome(grid_runner.NOT_RUN, "not run")
    try:
      result = run_results.read_run(run.run_dir) if outcome.status in (
          grid_runner.FINISHED, grid_runner.DIVERGED) else None
    except run_results.ResultsError as error:
      result, outcome = None, grid_runner.Outcome(grid_runner.FAILED, str(error))
    if result is not None and not result.diverged:
      results.finished.append(result)
      continue
    if result is not None:
      results.diverged.append(run.run_dir)
      problems.append(f"{run.run_dir}: diverged ({outcome.detail})")
    else:
      results.missing.append(run.run_dir)
      problems.append(f"{run.run_dir}: {outcome.status} ({outcome.detail})")
  return [by_cell[id(cell)] for cell in cells], problems


def _paper(table: str, cell: grids.Cell,
           split: Optional[str] = None) -> Optional[paper_numbers.PaperNumber]:
  key = cell.paper_key()
  if not table or key is None:
    return None
  return paper_numbers.lookup(table, *key, cell.row, evaluated_on=split)


def _published(value: float) -> str:
  """0.6 -> '0.60', 0.538 -> '0.538' (as printed in the paper)."""
  text = f"{value:.3f}"
  return text[:-1] if text.endswith("0") else text


def _paper_text(number: Optional[paper_numbers.PaperNumber], top5: bool, dataset: str,
                split: Optional[str] = None) -> str:
  value = None if number is None else (number.top5 if top5 else number.top1)
  if value is None:
    return ""
  where = ""
  ours = split or paper_numbers.OUR_TEST_SPLIT.get(dataset, "")
  if number.evaluated_on and number.evaluated_on != ours:
    where = f" ({number.evaluated_on})"
  return f"paper {_published(value)}{where}"


def cell_text(results: CellResults, field: str, paper: str) -> str:
  """'0.7120 ± 0.0100 (n=3; 1 diverged) · paper 0.73'; '—' when no seed finished."""
  if results.cell.problem:
    kind = "missing" if results.cell.problem.startswith("missing") else "does not parse"
    text = f"— (flagfile {kind})"
    return f"{text} · {paper}" if paper else text
  values = results.values(field)
  counts = [f"n={len(values)}"]
  if results.diverged:
    counts.append(f"{len(results.diverged)} diverged")
  if results.missing:
    counts.append(f"{len(results.missing)} failed or not run")
  text = run_results.format_mean_sd(values) if values else "—"
  text = f"{text} ({'; '.join(counts)})"
  return f"{text} · {paper}" if paper else text


def _layout(cells: Sequence[CellResults]) -> Tuple[List[str], List[str]]:
  rows, columns = [], []
  for results in cells:
    if results.cell.row not in rows:
      rows.append(results.cell.row)
    if results.cell.column not in columns:
      columns.append(results.cell.column)
  return rows, columns


def markdown(cells: Sequence[CellResults], problems: Sequence[str], table: str,
             heading: str, preamble: Sequence[str] = ()) -> str:
  """The Markdown document: heading, preamble lines, the four tables, the runs not averaged."""
  rows, columns = _layout(cells)
  at = {(r.cell.row, r.cell.column): r for r in cells}
  lines = [f"# {heading}", ""] + list(preamble)
  if table:
    lines.append(f"Published numbers: {paper_numbers.TABLES[table]}.")
  lines += ["", NOTE, ""]
  for field, title, top5, split in METRICS:
    if field in _OPTIONAL and not any(results.values(field) for results in cells):
      continue
    lines += [f"## {title}", "", "| method | " + " | ".join(columns) + " |",
              "|---" * (len(columns) + 1) + "|"]
    for row in rows:
      texts = []
      for column in columns:
        results = at.get((row, column))
        if results is None:
          texts.append("")
          continue
        paper = _paper_text(_paper(table, results.cell, split), top5,
                            results.cell.config.data.dataset_name if results.cell.config else "",
                            split)
        texts.append(cell_text(results, field, paper))
      lines.append(f"| {row} | " + " | ".join(texts) + " |")
    lines.append("")
  lines += ["## Runs not in the averages", ""]
  lines += [f"- {problem}" for problem in problems] or ["None: every planned run finished."]
  return "\n".join(lines) + "\n"


CSV_STATS = ("final_top1_mean", "final_top1_sd", "best_top1_mean", "best_top1_sd",
             "final_top5_mean", "final_top5_sd", "best_top5_mean", "best_top5_sd",
             "final_ilsvrc12_top1_mean", "final_ilsvrc12_top1_sd", "final_ilsvrc12_top5_mean",
             "final_ilsvrc12_top5_sd", "n",
             "diverged", "failed_or_not_run", "paper_top1", "paper_top5", "paper_evaluated_on")


def _stats(results: CellResults, paper: Optional[paper_numbers.PaperNumber]) -> Dict[str, str]:
  out = {}
  for field, name in (("final_accuracy", "final_top1"), ("best_accuracy", "best_top1"),
                      ("final_top5", "final_top5"), ("best_top5", "best_top5"),
                      ("final_imagenet_val", "final_ilsvrc12_top1"),
                      ("final_imagenet_val_top5", "final_ilsvrc12_top5")):
    values = results.values(field)
    mean, sd = run_results.mean_sd(values) if values else (math.nan, math.nan)
    out[f"{name}_mean"] = "" if math.isnan(mean) else f"{mean:.6f}"
    out[f"{name}_sd"] = "" if math.isnan(sd) else f"{sd:.6f}"
  out.update(n=str(len(results.finished)), diverged=str(len(results.diverged)),
             failed_or_not_run=str(len(results.missing)))
  out["paper_top1"] = "" if paper is None else f"{paper.top1:g}"
  out["paper_top5"] = "" if paper is None or paper.top5 is None else f"{paper.top5:g}"
  out["paper_evaluated_on"] = "" if paper is None else paper.evaluated_on
  return out


def csv_text(cells: Sequence[CellResults], table: str) -> str:
  """Rows = methods; for each column of the paper's shape, one CSV column per `CSV_STATS`."""
  rows, columns = _layout(cells)
  at = {(r.cell.row, r.cell.column): r for r in cells}
  out = io.StringIO()
  writer = csv.writer(out, lineterminator="\n")
  writer.writerow(["method"] + [f"{column} | {stat}" for column in columns for stat in CSV_STATS])
  for row in rows:
    line = [row]
    for column in columns:
      results = at.get((row, column))
      stats = _stats(results, _paper(table, results.cell)) if results else {}
      line += [stats.get(stat, "") for stat in CSV_STATS]
    writer.writerow(line)
  return out.getvalue()


def check_writable(path: str, flag: str) -> None:
  """errors.BadInput naming `flag` when `path` is a directory or its directory is unusable."""
  if os.path.isdir(path):
    raise errors.BadInput(f"{flag}={path!r} is a directory; give a file name")
  directory = os.path.dirname(os.path.abspath(path))
  probe = directory
  while not os.path.exists(probe):  # a directory still to be created is fine
    probe = os.path.dirname(probe)
  if not os.path.isdir(probe) or not os.access(probe, os.W_OK):
    raise errors.BadInput(f"{flag}={path!r} cannot be written: {probe!r} is not a writable "
                          "directory")


def write_output(path: str, text: str, flag: str = "--output") -> None:
  """Writes `text` to `path` atomically; errors.BadInput naming `flag` if it cannot."""
  directory = os.path.dirname(os.path.abspath(path))
  if os.path.isdir(path):
    raise errors.BadInput(f"{flag}={path!r} is a directory; give a file name")
  if not os.path.isdir(directory):
    raise errors.BadInput(f"{flag}={path!r} cannot be written: its directory {directory!r} does "
                          "not exist or is not a directory")
  tmp = os.path.join(directory, f".{os.path.basename(path)}.tmp-{os.getpid()}")
  try:
    with open(tmp, "w", encoding="utf-8") as f:
      f.write(text)
    os.replace(tmp, path)
  except OSError as error:
    raise errors.BadInput(f"{flag}={path!r} cannot be written: {error.strerror or error}"
                          ) from None
  finally:
    if os.path.exists(tmp):
      os.remove(tmp)
