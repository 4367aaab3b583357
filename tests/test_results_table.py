"""Tests of mentornet_tf.results_table on run directories the tests write (no training).

The command runs in this process through its real `cli.run(main)` path (tests/entry_runner.py).
The grid runner that replaced launch/run_grid.sh is tested in tests/test_experiments.py."""
import io
import json
import math
import os

import numpy as np
import pytest

from mentornet_tf import results_table
import entry_runner


def _write_run(root, name, *, seed, noise=0.4, weighting="none", mentornet_dir="",
               updates=(), final=0.9, best=0.95, dataset="mnist5k", finished=True,
               loss_p_percentile=0.7, curriculum="self_paced", status=None):
  """Writes <root>/<name>/{results,config}.json as train_lib.run does (only the read fields)."""
  run_dir = os.path.join(root, name)
  os.makedirs(run_dir)
  config = {
      "data": {"dataset_name": dataset, "noise_fraction": noise, "noise_seed": seed,
               "batch_size": 128},
      "mentor": {"weighting": weighting, "trained_mentornet_dir": mentornet_dir,
                 "update_mentornet_epochs": list(updates), "curriculum": curriculum,
                 "loss_p_percentile": loss_p_percentile},
      "seed": seed, "train_log_dir": run_dir, "verbose": 0, "max_number_of_steps": 1240,
  }
  results = {"best_accuracy": best, "best_epoch": 4, "history": []}
  if finished:
    results["final_accuracy"] = final
  if status is not None:
    results["status"] = status
  with open(os.path.join(run_dir, "config.json"), "w") as f:
    json.dump(config, f)
  with open(os.path.join(run_dir, "results.json"), "w") as f:
    json.dump(results, f)
  return run_dir


def _rows(table):
  """Table body rows as lists of cell strings."""
  lines = [line for line in table.strip().splitlines()[2:]]
  return [[cell.strip() for cell in line.strip("|").split("|")] for line in lines]


def test_method_names_from_config():
  assert results_table.method_name({"weighting": "none"}) == "FullModel"
  assert results_table.method_name(
      {"weighting": "mentornet", "trained_mentornet_dir": "data/mentornet_models/mentornet_pd/"}
  ) == "MentorNet PD"
  assert results_table.method_name(
      {"weighting": "mentornet", "trained_mentornet_dir": "", "update_mentornet_epochs": [7]}
  ) == "MentorNet DD (learned at 7%)"
  assert results_table.method_name(
      {"weighting": "mentornet", "update_mentornet_epochs": [7, 21, 75]}
  ) == "MentorNet DD (learned at 7%; Step 6 at 21,75%)"
  assert results_table.method_name(
      {"weighting": "mentornet", "trained_mentornet_dir": "data/mentornet_models/digits_dd_40"}
  ) == "MentorNet (digits_dd_40)"
  assert results_table.method_name(
      {"weighting": "curriculum", "curriculum": "self_paced"}) == "curriculum self_paced"


def test_groups_by_dataset_noise_method_with_mean_and_sample_sd(tmp_path):
  root = str(tmp_path)
  finals = [0.90, 0.92, 0.94]
  for seed, final in enumerate(finals):
    _write_run(root, f"mnist5k_40_fullmodel_seed{seed}", seed=seed, final=final, best=0.95)
    _write_run(root, f"mnist5k_40_mentornet_dd_seed{seed}", seed=seed, weighting="mentornet",
               updates=(7,), final=final - 0.1, best=final)
  _write_run(root, "mnist5k_80_fullmodel_seed0", seed=0, noise=0.8, final=0.3, best=0.74)

  runs = results_table.load_runs([os.path.join(root, "*")])
  assert len(runs) == 7
  rows = _rows(results_table.format_table(runs))
  assert [(r[1], r[2]) for r in rows] == [
      ("40%", "FullModel"), ("40%", "MentorNet DD (learned at 7%)"), ("80%", "FullModel")]
  sd = float(np.std(finals, ddof=1))
  assert rows[0][3] == f"{np.mean(finals):.4f} ± {sd:.4f}"
  assert rows[0][4] == "0.9500 ± 0.0000"
  assert rows[1][3] == f"{np.mean(finals) - 0.1:.4f} ± {sd:.4f}"
  assert rows[0][5] == "3" and rows[0][6] == "0,1,2"
  assert rows[0][7] == "mnist5k_40_fullmodel"
  # A single run has no sample standard deviation: the cell shows the value alone.
  assert rows[2][3] == "0.3000" and rows[2][5] == "1"


def test_different_configurations_of_one_method_are_separate_rows(tmp_path):
  root = str(tmp_path)
  for seed in (0, 1):
    _write_run(root, f"pd_p06_seed{seed}", seed=seed, weighting="mentornet",
               mentornet_dir="data/mentornet_models/mentornet_pd", loss_p_percentile=0.6,
               final=0.9)
    _write_run(root, f"pd_p07_seed{seed}", seed=seed, weighting="mentornet",
               mentornet_dir="data/mentornet_models/mentornet_pd", loss_p_percentile=0.7,
               final=0.8)
  rows = _rows(results_table.format_table(results_table.load_runs([os.path.join(root, "*")])))
  assert len(rows) == 2
  assert rows[0][2] == "MentorNet PD [pd_p06]" and rows[0][3].startswith("0.9000")
  assert rows[1][2] == "MentorNet PD [pd_p07]" and rows[1][3].startswith("0.8000")


def test_unfinished_and_unreadable_runs_are_skipped_and_named(tmp_path):
  root = str(tmp_path)
  _write_run(root, "done_seed0", seed=0, final=0.9)
  _write_run(root, "running_seed1", seed=1, finished=False)
  broken = os.path.join(root, "broken_seed2")
  os.makedirs(broken)
  with open(os.path.join(broken, "results.json"), "w") as f:
    f.write("{not json")
  log = io.StringIO()
  runs = results_table.load_runs([os.path.join(root, "*")], log=log)
  assert [run.name for run in runs] == ["done"]
  assert "running_seed1 has not finished" in log.getvalue()
  assert "broken_seed2" in log.getvalue() and "cannot read" in log.getvalue()


def test_globs_may_name_results_files_or_parent_directories(tmp_path):
  root = str(tmp_path)
  _write_run(root, "a_seed0", seed=0, final=0.5)
  _write_run(root, "a_seed1", seed=1, final=0.7)
  from_parent = results_table.find_run_dirs([root])
  from_files = results_table.find_run_dirs([os.path.join(root, "*", "results.json")])
  assert from_parent == from_files == [os.path.join(root, "a_seed0"),
                                       os.path.join(root, "a_seed1")]
  mean, sd = results_table.mean_sd([0.5, 0.7])
  assert math.isclose(mean, 0.6) and math.isclose(sd, float(np.std([0.5, 0.7], ddof=1)))


def test_entry_point_writes_the_table_and_fails_without_runs(tmp_path):
  root = str(tmp_path / "grid")
  for seed in (0, 1, 2):
    _write_run(root, f"mnist5k_20_fullmodel_seed{seed}", seed=seed, noise=0.2, final=0.8)
  output = str(tmp_path / "table.md")
  done = entry_runner.run_entry("results_table", [f"--runs={root}/*", f"--output={output}"])
  assert done.returncode == 0, done.stderr
  with open(output) as f:
    written = f.read()
  assert written == done.stdout
  assert "| mnist5k | 20% | FullModel | 0.8000 ± 0.0000 |" in written
  empty = entry_runner.run_entry("results_table", [f"--runs={tmp_path}/nothing*"])
  # No run to tabulate is refused input (exit 2, cli convention): one error line, last.
  assert empty.returncode == 2 and "no finished or diverged run" in empty.stderr
  assert empty.stderr.strip().splitlines()[-1].startswith("error: --runs=")


def test_diverged_runs_are_shown_as_diverged_never_averaged(tmp_path):
  root = str(tmp_path)
  _write_run(root, "fm_seed0", seed=0, final=0.90, best=0.92, status="finished")
  _write_run(root, "fm_seed1", seed=1, final=0.94, best=0.95)  # older run: no status field
  # A diverged run has no final accuracy but may have a best one from before: not averaged.
  _write_run(root, "fm_seed2", seed=2, finished=False, best=0.5, status="diverged")
  for seed in (0, 1):
    _write_run(root, f"dd_seed{seed}", seed=seed, weighting="mentornet", updates=(7,),
               finished=False, status="diverged")
  _write_run(root, "running_seed3", seed=3, noise=0.2, finished=False, status="running")
  log = io.StringIO()
  runs = results_table.load_runs([os.path.join(root, "*")], log=log)
  assert sorted((run.name, run.seed, run.status) for run in runs) == [
      ("dd", 0, "diverged"), ("dd", 1, "diverged"), ("fm", 0, "finished"),
      ("fm", 1, "finished"), ("fm", 2, "diverged")]
  assert "running_seed3 has not finished" in log.getvalue()
  assert "diverged: " in log.getvalue() and "fm_seed2" in log.getvalue()
  rows = _rows(results_table.format_table(runs))
  assert [r[2] for r in rows] == ["FullModel", "MentorNet DD (learned at 7%)"]
  sd = float(np.std([0.90, 0.94], ddof=1))
  assert rows[0][3] == f"0.9200 ± {sd:.4f}; diverged 1 of 3"  # the mean of the 2 finished
  assert rows[0][4] == f"0.9350 ± {float(np.std([0.92, 0.95], ddof=1)):.4f}; diverged 1 of 3"
  assert rows[0][5] == "3" and rows[0][6] == "0,1,2 (diverged)"
  assert rows[1][3] == rows[1][4] == "diverged (2 of 2)"
  assert rows[1][6] == "0 (diverged),1 (diverged)"


@pytest.mark.parametrize("results, config, reason", [
    ([0.9], None, "results.json must hold a JSON object, not list"),
    ({"final_accuracy": "0.9"}, None, "final_accuracy must be a finite number, not '0.9'"),
    ({"final_accuracy": True}, None, "final_accuracy must be a finite number"),
    ({"final_accuracy": 0.9, "best_accuracy": [1]}, None, "best_accuracy must be a finite number"),
    ({"final_accuracy": 0.9, "status": "exploded"}, None, "status must be one of"),
    ({"final_accuracy": 0.9}, "[]", "config.json must hold a JSON object"),
    ({"final_accuracy": 0.9}, {"seed": "0"}, "seed must be an integer, not '0'"),
    ({"final_accuracy": 0.9}, {"data": {"noise_fraction": "40%"}},
     "data.noise_fraction must be a finite number"),
    ({"final_accuracy": 0.9}, {"data": {"dataset_name": 5}}, "data.dataset_name must be a string"),
    ({"final_accuracy": 0.9}, {"mentor": ["none"]}, "mentor must be a JSON object"),
    ({"final_accuracy": 0.9}, {"mentor": {"weighting": "mentornet",
                                          "update_mentornet_epochs": ["7"]}},
     "update_mentornet_epochs must be a list of integers"),
])
def test_a_malformed_run_is_skipped_with_its_reason_and_the_others_are_tabulated(
    tmp_path, results, config, reason):
  root = str(tmp_path)
  _write_run(root, "good_seed0", seed=0, final=0.8)
  bad = os.path.join(root, "bad_seed1")
  os.makedirs(bad)
  with open(os.path.join(bad, "results.json"), "w") as f:
    json.dump(results, f)
  with open(os.path.join(bad, "config.json"), "w") as f:
    f.write(config if isinstance(config, str) else json.dumps(config or {"seed": 1}))
  log = io.StringIO()
  runs = results_table.load_runs([os.path.join(root, "*")], log=log)
  assert [run.name for run in runs] == ["good"]
  skipped = [line for line in log.getvalue().splitlines() if line.startswith("skipped: ")]
  assert len(skipped) == 1 and "bad_seed1" in skipped[0] and reason in skipped[0], log.getvalue()


def test_unwritable_output_is_refused_and_nothing_is_written(tmp_path):
  root = str(tmp_path / "grid")
  _write_run(root, "a_seed0", seed=0, final=0.8)
  (tmp_path / "file").write_text("x")
  for output, needle in ((str(tmp_path / "file" / "t.md"), "cannot be written"),
                         (str(tmp_path / "no" / "dir" / "t.md"), "does not exist"),
                         (root, "is a directory")):
    done = entry_runner.run_entry("results_table", [f"--runs={root}/*", f"--output={output}"])
    assert done.returncode == 2, done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith(f"error: --output={output!r}") and needle in last, last
    assert done.stdout == ""
  assert sorted(os.listdir(tmp_path)) == ["file", "grid"]
  assert (tmp_path / "file").read_text() == "x"
