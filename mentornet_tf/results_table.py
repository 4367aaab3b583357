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

from absl import flags

from mentornet_tf import cli
from mentornet_tf import flags as flags_lib

FLAGS = flags.FLAGS


def define_flags() -> None:
  """Registers the entry's flags (idempotent; only when it runs as a command, never at import)."""
  g = flags_lib.Group("runs")
  g.multi_string("runs", ["runs/grid/*"], "Glob(s) of run directories (each holding "
                 "results.json and config.json), or of directories holding them.")
  g.string("output", "", "Also write the table to this file.")

# Fields that may differ between the runs of one row (the seeds and where the run was written).
_PER_RUN_FIELDS = ("seed", "train_log_dir", "verbose", "data.noise_seed")
_METHOD_ORDER = ("FullModel", "Forgetting", "Self-paced", "Focal", "Reed", "Goldberger",
                 "MentorNet PD", "MentorNet DD")
_LOSS_NAMES = {"focal": "Focal", "focal_differentiated": "Focal (differentiated)",
               "bootstrap_soft": "Reed Soft", "bootstrap_hard": "Reed Hard"}


FINISHED = "finished"
DIVERGED = "diverged"
RUNNING = "running"


class ResultsError(ValueError):
  """A run directory cannot be read or is malformed (the message names the file and field)."""


@dataclasses.dataclass(frozen=True)
class RunResult:
  """One finished or diverged run: what it was and what it reached."""
  path: str              # the run directory
  name: str              # run-name prefix: directory basename without `_seed<S>`
  dataset: str
  noise_fraction: float
  method: str
  seed: int
  final_accuracy: Optional[float]   # None for a diverged run
  best_accuracy: Optional[float]    # None for a diverged run
  signature: str         # JSON of the config without the per-run fields
  status: str = FINISHED  # FINISHED or DIVERGED

  @property
  def diverged(self) -> bool:
    return self.status == DIVERGED


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
  if not isinstance(weighting, str):
    raise ValueError(f"mentor.weighting must be a string, not {weighting!r}")
  if weighting == "none":
    return "FullModel"
  if weighting == "curriculum":
    return f"curriculum {mentor.get('curriculum', '?')}"
  if weighting == "self_paced_baseline":
    return "Self-paced"
  directory = mentor.get("trained_mentornet_dir") or ""
  if not isinstance(directory, str):
    raise ValueError(f"mentor.trained_mentornet_dir must be a string, not {directory!r}")
  directory = directory.rstrip("/")
  updates = mentor.get("update_mentornet_epochs") or []
  if not isinstance(updates, list) or not all(_is_int(e) for e in updates):
    raise ValueError(f"mentor.update_mentornet_epochs must be a list of integers, not {updates!r}")
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


def with_baseline(method: str, student: Dict) -> str:
  """`method` (method_name) named after the baseline flags of the `student` section, if any.

  FullModel with --loss becomes that loss's name (Focal, Reed Soft, ...; with its gamma or beta
  when given), with --s_model_pretrain_steps 'Goldberger (S-model)', with --dropout_keep_prob < 1
  'Forgetting (keep K)'; another method gets ' + <loss>' / ' + dropout keep K'.
  """
  if not isinstance(student, dict):
    return method
  parts = []
  loss = student.get("loss") or "cross_entropy"
  if loss != "cross_entropy":
    base = _LOSS_NAMES.get(loss, str(loss))
    name = base
    for key, symbol in (("focal_gamma", "gamma"), ("bootstrap_beta", "beta")):
      if isinstance(student.get(key), (int, float)):
        name = f"{base} ({symbol} {student[key]:g})"
    parts.append(name)
  if _is_int(student.get("s_model_pretrain_steps")) and student["s_model_pretrain_steps"] > 0:
    parts.append("Goldberger (S-model)")
  keep = student.get("dropout_keep_prob")
  if isinstance(keep, (int, float)) and keep < 1:
    parts.append(f"Forgetting (keep {keep:g})" if method == "FullModel" and not parts
                 else f"dropout keep {keep:g}")
  if not parts:
    return method
  if method == "FullModel":
    return " + ".join(parts)
  return " + ".join([method] + parts)


def _run_name(path: str) -> str:
  return re.sub(r"_seed\d+$", "", os.path.basename(os.path.normpath(path)))


def _is_int(value) -> bool:
  return isinstance(value, int) and not isinstance(value, bool)


def _number(value, where: str, allow_none: bool = False) -> Optional[float]:
  """A JSON number as float; ResultsError naming `where` for any other type or a non-finite one."""
  if value is None and allow_none:
    return None
  if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
    raise ResultsError(f"{where} must be a finite number, not {value!r}")
  return float(value)


def _read_json_object(path: str) -> Dict:
  try:
    with open(path, encoding="utf-8") as f:
      value = json.load(f)
  except (OSError, ValueError) as error:  # ValueError: bad JSON or bad UTF-8
    raise ResultsError(f"cannot read {path}: {error}") from None
  if not isinstance(value, dict):
    raise ResultsError(f"{path} must hold a JSON object, not {type(value).__name__}")
  return value


def read_run(run_dir: str) -> Optional[RunResult]:
  """Reads one run directory; None when the run has not finished (nor diverged).

  Raises:
    ResultsError: results.json or config.json is missing, not JSON, or holds a field of the wrong
      type (the message names the file and the field).
  """
  results_path = os.path.join(run_dir, "results.json")
  config_path = os.path.join(run_dir, "config.json")
  results = _read_json_object(results_path)
  status = results.get("status")
  if status not in (None, FINISHED, DIVERGED, RUNNING):
    raise ResultsError(f"{results_path}: status must be one of {FINISHED!r}, {DIVERGED!r}, "
                       f"{RUNNING!r}, not {status!r}")
  if status == RUNNING or (status is None and results.get("final_accuracy") is None):
    return None
  if status is None:
    status = FINISHED  # an older run: no status field, finished with a final accuracy
  final = best = None
  if status == FINISHED:
    final = _number(results.get("final_accuracy"), f"{results_path}: final_accuracy")
    best = _number(results.get("best_accuracy"), f"{results_path}: best_accuracy",
                   allow_none=True)
    best = final if best is None else best
  config = _read_json_object(config_path)
  for section in ("data", "mentor"):
    if not isinstance(config.get(section, {}), dict):
      raise ResultsError(f"{config_path}: {section} must be a JSON object, not "
                         f"{config[section]!r}")
  flat = _flatten(config)
  signature = json.dumps({k: v for k, v in flat.items() if k not in _PER_RUN_FIELDS},
                         sort_keys=True)
  dataset = flat.get("data.dataset_name", "?")
  if not isinstance(dataset, str):
    raise ResultsError(f"{config_path}: data.dataset_name must be a string, not {dataset!r}")
  noise = flat.get("data.noise_fraction")
  noise = float("nan") if noise is None else _number(noise, f"{config_path}: data.noise_fraction")
  seed = flat.get("seed", -1)
  if not _is_int(seed):
    raise ResultsError(f"{config_path}: seed must be an integer, not {seed!r}")
  try:
    method = with_baseline(method_name(config.get("mentor", {})), config.get("student", {}))
  except ValueError as error:
    raise ResultsError(f"{config_path}: {error}") from None
  return RunResult(
      path=run_dir, name=_run_name(run_dir), dataset=dataset, noise_fraction=noise,
      method=method, seed=seed, final_accuracy=final, best_accuracy=best, signature=signature,
      status=status)


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
  """Every finished or diverged run under the patterns; the others are named on `log`."""
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
    if run.diverged:
      print(f"diverged: {run_dir} (shown as diverged, not averaged)", file=log)
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
  directory = os.path.dirname(os.path.abspath(path))
  if os.path.isdir(path):
    raise cli.BadInput(f"--output={path!r} is a directory; give a file name")
  if not os.path.isdir(directory):
    raise cli.BadInput(f"--output={path!r} cannot be written: its directory {directory!r} does "
                       "not exist or is not a directory")
  tmp = os.path.join(directory, f".{os.path.basename(path)}.tmp-{os.getpid()}")
  try:
    with open(tmp, "w", encoding="utf-8") as f:
      f.write(text)
    os.replace(tmp, path)
  except OSError as error:
    raise cli.BadInput(f"--output={path!r} cannot be written: {error.strerror or error}") from None
  finally:
    if os.path.exists(tmp):
      os.remove(tmp)


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
