"""What a finished (or diverged) run reached, read from its run directory; no TensorFlow.

`read_run(run_dir)` reads `results.json` and the `config.json` beside it (both written by
`train_lib.run`) into a `RunResult`: the dataset, noise fraction, student and method of the run
(the method named from the configuration: `method_name`, `with_baseline`), its seed, and the clean
test top-1 and top-5, final and best. Shared by the two table commands: `results_table` (runs
grouped by configuration) and `experiments` (a grid of flagfiles x seeds in the paper's shape).

Statuses (results.json `status`): `finished` (has a final accuracy), `diverged` (a loss, gradient
or weight became non-finite: no final accuracy, never averaged), `running` (or killed; not read).
A results.json without `status` is an older run: finished when it has `final_accuracy`.
Best top-1 is results.json's `best_accuracy` (the best per-epoch evaluation, or the final one);
best top-5 is the largest `val_top5` of the history and the final top-5. Both are selected on the
test split itself, so they are for reference only; the paper reports converged (final) models.
"""
import dataclasses
import glob
import json
import math
import os
import re
import sys
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

FINISHED = "finished"
DIVERGED = "diverged"
RUNNING = "running"

# Fields that may differ between the runs of one row (the seeds and where the run was written).
PER_RUN_FIELDS = ("seed", "train_log_dir", "verbose", "data.noise_seed")
_LOSS_NAMES = {"focal": "Focal", "focal_differentiated": "Focal (differentiated)",
               "bootstrap_soft": "Reed Soft", "bootstrap_hard": "Reed Hard"}


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
  studentnet: str = ""
  final_top5: Optional[float] = None  # None for a diverged run or a run without top-5
  best_top5: Optional[float] = None
  # The second clean test set of a WebVision run (--imagenet_val_dir: ILSVRC12 val on the
  # WebVision classes, results.json `final_imagenet_val`), None without it.
  final_imagenet_val: Optional[float] = None
  final_imagenet_val_top5: Optional[float] = None

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


def is_int(value) -> bool:
  return isinstance(value, int) and not isinstance(value, bool)


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
  if not isinstance(updates, (list, tuple)) or not all(is_int(e) for e in updates):
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
  if is_int(student.get("s_model_pretrain_steps")) and student["s_model_pretrain_steps"] > 0:
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


def run_name(path: str) -> str:
  """The run-name prefix of a run directory: its basename without `_seed<S>`."""
  return re.sub(r"_seed\d+$", "", os.path.basename(os.path.normpath(path)))


def _number(value, where: str, allow_none: bool = False) -> Optional[float]:
  """A JSON number as float; ResultsError naming `where` for any other type or a non-finite one."""
  if value is None and allow_none:
    return None
  if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
    raise ResultsError(f"{where} must be a finite number, not {value!r}")
  return float(value)


def read_json_object(path: str) -> Dict:
  """The JSON object in `path`; ResultsError naming the file when it is unreadable or no object."""
  try:
    with open(path, encoding="utf-8") as f:
      value = json.load(f)
  except (OSError, ValueError) as error:  # ValueError: bad JSON or bad UTF-8
    raise ResultsError(f"cannot read {path}: {error}") from None
  if not isinstance(value, dict):
    raise ResultsError(f"{path} must hold a JSON object, not {type(value).__name__}")
  return value


def _best_top5(results: Dict, final_top5: Optional[float]) -> Optional[float]:
  """The largest finite `val_top5` of the history and the final top-5 (None if there is none)."""
  values = [] if final_top5 is None else [final_top5]
  history = results.get("history")
  for record in history if isinstance(history, list) else []:
    value = record.get("val_top5") if isinstance(record, dict) else None
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
      values.append(float(value))
  return max(values) if values else None


def read_run(run_dir: str) -> Optional[RunResult]:
  """Reads one run directory; None when the run has not finished (nor diverged).

  Raises:
    ResultsError: results.json or config.json is missing, not JSON, or holds a field of the wrong
      type (the message names the file and the field).
  """
  results_path = os.path.join(run_dir, "results.json")
  config_path = os.path.join(run_dir, "config.json")
  results = read_json_object(results_path)
  status = results.get("status")
  if status not in (None, FINISHED, DIVERGED, RUNNING):
    raise ResultsError(f"{results_path}: status must be one of {FINISHED!r}, {DIVERGED!r}, "
                       f"{RUNNING!r}, not {status!r}")
  if status == RUNNING or (status is None and results.get("final_accuracy") is None):
    return None
  if status is None:
    status = FINISHED  # an older run: no status field, finished with a final accuracy
  final = best = final_top5 = best_top5 = None
  imagenet_val = (None, None)
  if status == FINISHED:
    final = _number(results.get("final_accuracy"), f"{results_path}: final_accuracy")
    best = _number(results.get("best_accuracy"), f"{results_path}: best_accuracy",
                   allow_none=True)
    best = final if best is None else best
    final_top5 = _number(results.get("final_top5"), f"{results_path}: final_top5",
                         allow_none=True)
    best_top5 = _best_top5(results, final_top5)
    extra = results.get("final_imagenet_val")
    if extra is not None:
      if not isinstance(extra, dict):
        raise ResultsError(f"{results_path}: final_imagenet_val must be a JSON object")
      imagenet_val = tuple(_number(extra.get(key), f"{results_path}: final_imagenet_val.{key}",
                                   allow_none=True) for key in ("accuracy", "top5"))
  config = read_json_object(config_path)
  for section in ("data", "mentor"):
    if not isinstance(config.get(section, {}), dict):
      raise ResultsError(f"{config_path}: {section} must be a JSON object, not "
                         f"{config[section]!r}")
  flat = _flatten(config)
  signature = json.dumps({k: v for k, v in flat.items() if k not in PER_RUN_FIELDS},
                         sort_keys=True)
  dataset = flat.get("data.dataset_name", "?")
  if not isinstance(dataset, str):
    raise ResultsError(f"{config_path}: data.dataset_name must be a string, not {dataset!r}")
  noise = flat.get("data.noise_fraction")
  noise = float("nan") if noise is None else _number(noise, f"{config_path}: data.noise_fraction")
  seed = flat.get("seed", -1)
  if not is_int(seed):
    raise ResultsError(f"{config_path}: seed must be an integer, not {seed!r}")
  try:
    method = with_baseline(method_name(config.get("mentor", {})), config.get("student", {}))
  except ValueError as error:
    raise ResultsError(f"{config_path}: {error}") from None
  student = flat.get("student.studentnet", "")
  return RunResult(
      path=run_dir, name=run_name(run_dir), dataset=dataset, noise_fraction=noise,
      method=method, seed=seed, final_accuracy=final, best_accuracy=best, signature=signature,
      status=status, studentnet=student if isinstance(student, str) else "",
      final_top5=final_top5, best_top5=best_top5, final_imagenet_val=imagenet_val[0],
      final_imagenet_val_top5=imagenet_val[1])


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


def format_mean_sd(values: Sequence[float], digits: int = 4) -> str:
  """'0.9100 ± 0.0141' (mean ± sample sd), or the value alone for a single run."""
  mean, sd = mean_sd(values)
  return f"{mean:.{digits}f}" if math.isnan(sd) else f"{mean:.{digits}f} ± {sd:.{digits}f}"
