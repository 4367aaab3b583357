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
(results.json without `final_accuracy`) are skipped and reported on stderr.

No TensorFlow import: the table is instant.
"""
import collections
import dataclasses
import glob
import json
import math
import os
import re
import sys
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

# Fields that may differ between the runs of one row (the seeds and where the run was written).
_PER_RUN_FIELDS = ("seed", "train_log_dir", "verbose", "data.noise_seed")
_METHOD_ORDER = ("FullModel", "MentorNet PD", "MentorNet DD")


class ResultsError(ValueError):
  """A run directory cannot be read (the message names the file)."""


@dataclasses.dataclass(frozen=True)
class RunResult:
  """One finished run: what it was and what it reached."""
  path: str              # the run directory
  name: str              # run-name prefix: directory basename without `_seed<S>`
  dataset: str
  noise_fraction: float
  method: str
  seed: int
  final_accuracy: float
  best_accuracy: float
  signature: str         # JSON of the config without the per-run fields


def _flatten(config: Dict, prefix: str = "") -> Dict:
  flat = {}
  for key, value in config.items():
    name = f"{prefix}{key}"
    if isinstance(value, dict):
      flat.update(_flatten(value, name + "."))
    else:
      flat[name] = value
  return flat


def method_name(mentor: Dict) -> str:
  """A readable method name from the `mentor` section of config.json.

  Args:
    mentor: dict with weighting, trained_mentornet_dir, update_mentornet_epochs, curriculum.
  Returns:
    e.g. 'FullModel', 'MentorNet PD', 'MentorNet DD (learned at 7%)',
    'MentorNet DD (learned at 7%; Step 6 at 21,75%)', 'MentorNet (digits_dd_40)',
    'curriculum self_paced'.
  """
  weighting = mentor.get("weighting", "none")
  if weighting == "none":
    return "FullModel"
  if weighting == "curriculum":
    return f"curriculum {mentor.get('curriculum', '?')}"
  directory = str(mentor.get("trained_mentornet_dir", "")).rstrip("/")
  updates = [int(e) for e in mentor.get("update_mentornet_epochs", []) or []]
  if not directory:
    if not updates:
      return "MentorNet (untrained)"
    text = f"MentorNet DD (learned at {updates[0]}%"
    if len(updates) > 1:
      text += f"; Step 6 at {','.join(str(e) for e in updates[1:])}%"
    return text + ")"
  base = os.path.basename(directory)
  text = "MentorNet PD" if base == "mentornet_pd" else f"MentorNet ({base})"
  if updates:
    text += f" + Step 6 at {','.join(str(e) for e in updates)}%"
  return text


def _run_name(path: str) -> str:
  return re.sub(r"_seed\d+$", "", os.path.basename(os.path.normpath(path)))


def read_run(run_dir: str) -> Optional[RunResult]:
  """Reads one run directory; None when the run has not finished.

  Raises:
    ResultsError: results.json or config.json is missing or not JSON.
  """
  results_path = os.path.join(run_dir, "results.json")
  config_path = os.path.join(run_dir, "config.json")
  loaded = []
  for path in (results_path, config_path):
    try:
      with open(path) as f:
        loaded.append(json.load(f))
    except (OSError, ValueError) as error:
      raise ResultsError(f"cannot read {path}: {error}") from None
  results, config = loaded
  if results.get("final_accuracy") is None:
    return None
  flat = _flatten(config)
  signature = json.dumps({k: v for k, v in flat.items() if k not in _PER_RUN_FIELDS},
                         sort_keys=True)
  best = results.get("best_accuracy")
  return RunResult(
      path=run_dir, name=_run_name(run_dir), dataset=str(flat.get("data.dataset_name", "?")),
      noise_fraction=float(flat.get("data.noise_fraction", float("nan"))),
      method=method_name(config.get("mentor", {})), seed=int(flat.get("seed", -1)),
      final_accuracy=float(results["final_accuracy"]),
      best_accuracy=float(best if best is not None else results["final_accuracy"]),
      signature=signature)


def find_run_dirs(patterns: Iterable[str]) -> List[str]:
  """Directories holding a results.json under the glob patterns (sorted, without duplicates)."""
  found = set()
  for pattern in patterns:
    for match in glob.glob(pattern):
      if os.path.isfile(match) and os.path.basename(match) == "results.json":
        found.add(os.path.dirname(match) or ".")
      elif os.path.isdir(match):
        for root, _, files in os.walk(match):
          if "results.json" in files:
            found.add(root)
  return sorted(found)


def load_runs(patterns: Iterable[str], log=sys.stderr) -> List[RunResult]:
  """Every finished run under the patterns; unfinished or unreadable ones are named on `log`."""
  runs = []
  for run_dir in find_run_dirs(patterns):
    try:
      run = read_run(run_dir)
    except ResultsError as error:
      print(f"skipped: {error}", file=log)
      continue
    if run is None:
      print(f"skipped: {run_dir} has not finished (no final_accuracy)", file=log)
      continue
    runs.append(run)
  return runs


def mean_sd(values: Sequence[float]) -> Tuple[float, float]:
  """Mean and sample standard deviation (ddof=1; nan for a single value)."""
  n = len(values)
  mean = sum(values) / n
  if n < 2:
    return mean, float("nan")
  return mean, math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))


def _format(values: Sequence[float]) -> str:
  mean, sd = mean_sd(values)
  return f"{mean:.4f}" if math.isnan(sd) else f"{mean:.4f} ± {sd:.4f}"


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
    seeds = ",".join(str(run.seed) for run in members)
    lines.append(
        f"| {dataset} | {noise:.0%} | {method} | {_format([r.final_accuracy for r in members])} "
        f"| {_format([r.best_accuracy for r in members])} | {len(members)} | {seeds} | {names} |")
  return "\n".join(lines) + "\n"


def main(argv):
  from absl import flags  # pylint: disable=g-import-not-at-top
  del argv
  patterns = flags.FLAGS.runs
  runs = load_runs(patterns)
  if not runs:
    print(f"error: no finished run (results.json with final_accuracy) under --runs={patterns}",
          file=sys.stderr)
    return 1
  table = format_table(runs)
  print(table, end="")
  if flags.FLAGS.output:
    with open(flags.FLAGS.output, "w") as f:
      f.write(table)
  return 0


def _define_flags():
  from absl import flags  # pylint: disable=g-import-not-at-top
  flags.DEFINE_multi_string("runs", ["runs/grid/*"], "Glob(s) of run directories (each holding "
                            "results.json and config.json), or of directories holding them.")
  flags.DEFINE_string("output", "", "Also write the table to this file.")


if __name__ == "__main__":
  from absl import app  # pylint: disable=g-import-not-at-top
  _define_flags()
  app.run(main)
