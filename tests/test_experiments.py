"""Tests of `python -m mentornet_tf.experiments`: grid files, the runner (skip finished, resume
killed, report failed and diverged runs, dependencies between flagfiles), the paper-shaped table
with the published number beside ours, and bad input.

Most tests run the harness with a fake trainer (a small Python script written by the test that
writes config.json and results.json as train_lib.run does, in milliseconds); one slow test runs
real tiny training processes (tests/entry_runner.py TINY_FLAGS).
"""
import csv
import io
import json
import os
import sys

import numpy as np
import pytest

from mentornet_tf import errors
from mentornet_tf import experiments
from mentornet_tf import grids
from mentornet_tf import paper_numbers
import entry_runner

# The fake trainer: the train command's arguments in, a run directory out. Behaviour from the
# flagfile's `# fake: ...` comment lines (absl ignores them): fail, diverge, accuracy=X.
FAKE_TRAINER = r'''
import json, os, sys
args = dict(a[2:].split("=", 1) for a in sys.argv[1:] if a.startswith("--") and "=" in a)
text = open(args["flagfile"]).read()
fake = dict(l[len("# fake: "):].partition("=")[::2] for l in text.splitlines()
            if l.startswith("# fake: "))
flags = dict(l[2:].split("=", 1) for l in text.splitlines() if l.startswith("--") and "=" in l)
run_dir, seed = args["train_log_dir"], int(args["seed"])
with open(os.path.join(os.path.dirname(run_dir), "calls.txt"), "a") as f:
  f.write(os.path.basename(run_dir) + "\n")
if "fail" in fake:
  print("error: --fake_flag='x' is invalid: this run fails", file=sys.stderr)
  sys.exit(2)
mentornet = args.get("trained_mentornet_dir", flags.get("trained_mentornet_dir", ""))
if mentornet and not os.path.isdir(mentornet):
  print(f"error: --trained_mentornet_dir={mentornet!r} does not exist", file=sys.stderr)
  sys.exit(2)
os.makedirs(os.path.join(run_dir, "mentornet_updates", "m"), exist_ok=True)
config = {"data": {"dataset_name": flags.get("dataset_name", "digits"),
                   "noise_fraction": float(flags.get("noise_fraction", 0))},
          "mentor": {"weighting": "mentornet" if mentornet else "none",
                     "trained_mentornet_dir": mentornet},
          "student": {"studentnet": flags.get("studentnet", "mlp")}, "seed": seed,
          "train_log_dir": run_dir}
json.dump(config, open(os.path.join(run_dir, "config.json"), "w"))
if "diverge" in fake:
  json.dump({"status": "diverged", "divergence": {"step": 7}, "best_accuracy": None},
            open(os.path.join(run_dir, "results.json"), "w"))
  print("error: training diverged at step 7", file=sys.stderr)
  sys.exit(1)
final = float(fake.get("accuracy", 0.5)) + 0.01 * seed
results = {"status": "finished", "final_accuracy": final, "best_accuracy": final + 0.05,
           "final_top5": 0.9 + 0.01 * seed, "history": [{"epoch": 1, "val_top5": 0.95}]}
if "imagenet_val" in fake:  # a WebVision run with --imagenet_val_dir
  results["final_imagenet_val"] = {"accuracy": final - 0.1, "top5": 0.8, "loss": 1.0}
json.dump(results, open(os.path.join(run_dir, "results.json"), "w"))
'''


@pytest.fixture
def fake_trainer(tmp_path):
  path = tmp_path / "fake_train.py"
  path.write_text(FAKE_TRAINER)
  return (sys.executable, str(path))


def _flagfile(directory, name, extra=(), fake=()):
  """A flagfile that parses as a train flagfile (the tiny digits run), with fake markers."""
  path = directory / f"{name}.flags"
  lines = [f"# fake: {marker}" for marker in fake]
  lines += list(entry_runner.TINY_TRAIN_ARGS) + ["--max_number_of_steps=20",
                                                  f"--train_log_dir=runs/{name}"] + list(extra)
  path.write_text("\n".join(lines) + "\n")
  return str(path)


def _grid(directory, lines, header=("title: test grid",)):
  path = directory / "grid.txt"
  path.write_text("\n".join(list(header) + list(lines)) + "\n")
  return str(path)


def _calls(runs_dir):
  path = os.path.join(runs_dir, "calls.txt")
  return open(path).read().split() if os.path.exists(path) else []


def _row(markdown, section, row):
  """The cells of `row` in the table under `## section`."""
  part = markdown.split(f"## {section}\n", 1)[1].split("\n## ", 1)[0]
  for line in part.splitlines():
    cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
    if cells[0] == row:
      return cells[1:]
  raise AssertionError(f"no row {row!r} under {section!r}:\n{part}")


def _finals(runs_dir, name, seeds):
  return [json.load(open(os.path.join(runs_dir, f"{name}_seed{s}", "results.json")))[
      "final_accuracy"] for s in seeds]


def test_grid_file_labels_comments_and_keys(tmp_path):
  path = _grid(tmp_path, ["table: 2  # the paper's", "", "# a comment",
                          "a.flags | FullModel | CIFAR-10 40%", "  b.flags|Row B  ", "c.flags"],
               header=("title: My table",))
  grid = grids.parse_grid(path)
  assert (grid.table, grid.title) == ("2", "My table")
  assert [(e.flagfile, e.row, e.column, e.line) for e in grid.entries] == [
      ("a.flags", "FullModel", "CIFAR-10 40%", 5), ("b.flags", "Row B", "", 6),
      ("c.flags", "", "", 7)]


@pytest.mark.parametrize("lines, needle", [
    (["tabel: 2", "a.flags"], "line 1: unknown key 'tabel'"),
    (["table: 9", "a.flags"], "table: '9' is not a known table"),
    (["a.flags | x | y | z"], "line 1: expected FLAGFILE [| ROW [| COLUMN]]"),
    (["a.flags | | y"], "line 1: expected FLAGFILE"),
    (["a.flags", "other/a.flags"], "lines 1 and 2 both name a flagfile 'a.flags'"),
    (["a.flags | R | C", "b.flags | R | C"], "lines 1 and 2 fill the same cell"),
    (["title: x", "title: y", "a.flags"], "line 2: 'title' given twice"),
    (["# only a comment"], "names no flagfile"),
])
def test_a_malformed_grid_is_refused_naming_the_line(tmp_path, lines, needle):
  path = _grid(tmp_path, lines, header=())
  with pytest.raises(errors.BadInput, match=r"--grid=") as raised:
    grids.parse_grid(path)
  assert needle in str(raised.value)


def test_harness_runs_the_grid_reports_failures_and_skips_finished_runs(tmp_path, fake_trainer):
  flagfiles = {"a": _flagfile(tmp_path, "a", fake=["accuracy=0.8"]),
               "b": _flagfile(tmp_path, "b", ["--learning_rate=0.003"], fake=["accuracy=0.6"]),
               "bad": _flagfile(tmp_path, "bad", fake=["fail"]),
               "div": _flagfile(tmp_path, "div", fake=["diverge"])}
  grid = _grid(tmp_path, [f"{flagfiles['a']} | A", f"{flagfiles['b']} | B",
                          f"{flagfiles['bad']} | Bad", f"{flagfiles['div']} | Div",
                          f"{tmp_path}/missing.flags | Missing | digits 40%"])
  runs_dir = str(tmp_path / "runs")
  opts = experiments.options(grid, "0,1", jobs=2, runs_dir=runs_dir,
                             train_command=fake_trainer)
  log = io.StringIO()
  with pytest.raises(errors.RunFailed, match="5 run"):
    experiments.run_grid(opts, log=log)
  markdown = open(os.path.join(runs_dir, "table.md")).read()
  assert markdown in log.getvalue()
  # Shape: rows = methods in grid order, one column (digits at 40%), four metric sections.
  header = [line for line in markdown.splitlines() if line.startswith("| method |")]
  assert len(header) == 4 and all(line == "| method | digits 40% |" for line in header)
  for name, row in (("a", "A"), ("b", "B")):
    finals = _finals(runs_dir, name, (0, 1))
    expected = f"{np.mean(finals):.4f} ± {np.std(finals, ddof=1):.4f} (n=2)"
    assert _row(markdown, "Final clean test top-1", row) == [expected]
    best = [f + 0.05 for f in finals]
    assert _row(markdown, "Best clean test top-1", row)[0].startswith(f"{np.mean(best):.4f} ± ")
  # Nothing is dropped: failed, diverged and missing rows are in the table and listed.
  assert _row(markdown, "Final clean test top-1", "Bad") == ["— (n=0; 2 failed or not run)"]
  assert _row(markdown, "Final clean test top-1", "Div") == ["— (n=0; 2 diverged)"]
  assert _row(markdown, "Final clean test top-1", "Missing") == ["— (flagfile missing)"]
  problems = markdown.split("## Runs not in the averages\n", 1)[1]
  assert f"{runs_dir}/bad_seed0: failed (exit status 2: error: --fake_flag='x' is invalid" \
      in problems
  assert f"{runs_dir}/div_seed1: diverged (diverged at step 7)" in problems
  assert "missing.flags (grid line 6): missing flagfile" in problems
  # The CSV: rows = methods, one column per (column, statistic).
  rows = list(csv.DictReader(open(os.path.join(runs_dir, "table.csv"))))
  assert [r["method"] for r in rows] == ["A", "B", "Bad", "Div", "Missing"]
  assert float(rows[0]["digits 40% | final_top1_mean"]) == pytest.approx(
      np.mean(_finals(runs_dir, "a", (0, 1))), abs=1e-6)
  assert rows[3]["digits 40% | diverged"] == "2" and rows[2]["digits 40% | n"] == "0"
  calls = sorted(_calls(runs_dir))
  assert calls == sorted(f"{n}_seed{s}" for n in ("a", "b", "bad", "div") for s in (0, 1))

  # Rerun: finished and diverged runs are skipped, a killed run is resumed, the failed rerun.
  results_path = os.path.join(runs_dir, "b_seed1", "results.json")
  killed = json.load(open(results_path))
  killed.update(status="running")
  json.dump(killed, open(results_path, "w"))
  log = io.StringIO()
  with pytest.raises(errors.RunFailed):
    experiments.run_grid(opts, log=log)
  new_calls = _calls(runs_dir)[len(calls):]
  assert sorted(new_calls) == ["b_seed1", "bad_seed0", "bad_seed1"]
  assert f"start  {runs_dir}/b_seed1 (resume)" in log.getvalue()
  assert f"skip   {runs_dir}/a_seed0: finished earlier" in log.getvalue()
  assert f"skip   {runs_dir}/div_seed0: diverged at step 7 (earlier)" in log.getvalue()


def test_the_paper_number_stands_beside_ours(tmp_path, fake_trainer):
  cifar = ["--dataset_name=cifar10", "--studentnet=resnet101", "--noise_fraction=0.4"]
  dd = _flagfile(tmp_path, "dd", cifar, fake=["accuracy=0.85"])
  fm = _flagfile(tmp_path, "fm", cifar, fake=["accuracy=0.6"])
  grid = _grid(tmp_path, [f"{dd} | MentorNet DD | resnet-101 CIFAR-10 40%",
                          f"{fm} | FullModel | resnet-101 CIFAR-10 40%"],
               header=("table: 2",))
  runs_dir = str(tmp_path / "runs")
  report = experiments.run_grid(experiments.options(
      grid, "0,1,2", runs_dir=runs_dir, train_command=fake_trainer), log=io.StringIO())
  paper_dd = paper_numbers.lookup("2", "cifar10", 0.4, "resnet101", "MentorNet DD")
  paper_fm = paper_numbers.lookup("2", "cifar10", 0.4, "resnet101", "FullModel")
  for row, paper in (("MentorNet DD", paper_dd), ("FullModel", paper_fm)):
    cell = _row(report["markdown"], "Final clean test top-1", row)[0]
    assert cell.endswith(f"(n=3) · paper {paper.top1:.2f}"), cell
    # The paper has no top-5 for Table 2: nothing is shown beside ours.
    assert "paper" not in _row(report["markdown"], "Final clean test top-5", row)[0]
  rows = {r["method"]: r for r in csv.DictReader(io.StringIO(report["csv"]))}
  assert float(rows["MentorNet DD"]["resnet-101 CIFAR-10 40% | paper_top1"]) == paper_dd.top1
  assert "paper Table 2" in report["markdown"]


def test_table5_shows_ilsvrc12_val_beside_the_papers_ilsvrc12_number(tmp_path, fake_trainer):
  """WebVision Mini: the paper reports ILSVRC12 val only. Our WebVision val cell names that split
  beside the paper's number; runs with --imagenet_val_dir get an ILSVRC12 part, compared
  directly."""
  mini = ["--dataset_name=webvision_mini", "--studentnet=inception_resnet_v2", "--noise_fraction=0"]
  with_val = _flagfile(tmp_path, "mini_mentornet", mini, fake=["accuracy=0.7", "imagenet_val"])
  grid = _grid(tmp_path, [f"{with_val} | MentorNet | Mini"], header=("table: 5",))
  report = experiments.run_grid(experiments.options(
      grid, "0,1", runs_dir=str(tmp_path / "runs"), train_command=fake_trainer),
      log=io.StringIO())
  paper = paper_numbers.lookup("5", "webvision_mini", 0.0, "inception_resnet_v2", "MentorNet")
  markdown = report["markdown"]
  webvision_val = _row(markdown, "Final clean test top-1", "MentorNet")[0]
  assert webvision_val.endswith(f"· paper {paper.top1:.3f} (ILSVRC12 val)"), webvision_val
  ilsvrc = _row(markdown, "Final ILSVRC12 val top-1 (the WebVision classes)", "MentorNet")[0]
  assert ilsvrc.startswith(f"{np.mean([0.6, 0.61]):.4f} ± ") and ilsvrc.endswith(
      f"(n=2) · paper {paper.top1:.3f}"), ilsvrc
  top5 = _row(markdown, "Final ILSVRC12 val top-5 (the WebVision classes)", "MentorNet")[0]
  assert top5.endswith(f"· paper {paper.top5:.3f}"), top5
  row = next(csv.DictReader(io.StringIO(report["csv"])))
  assert float(row["Mini | final_ilsvrc12_top1_mean"]) == pytest.approx(0.605)


def test_a_flagfile_reads_the_mentornet_of_the_run_that_learns_it(tmp_path, fake_trainer):
  producer = _flagfile(tmp_path, "producer")
  consumer = _flagfile(tmp_path, "consumer", ["--weighting=mentornet",
                                              "--trained_mentornet_dir=runs/producer/"
                                              "mentornet_updates/m"])
  # The consumer comes first in the grid: it still runs after its producer.
  grid = _grid(tmp_path, [f"{consumer} | C", f"{producer} | P"])
  runs_dir = str(tmp_path / "runs")
  report = experiments.run_grid(experiments.options(
      grid, "0,1", runs_dir=runs_dir, train_command=fake_trainer), log=io.StringIO())
  consumer_run = next(r for r in report["runs"] if r.run_dir.endswith("consumer_seed1"))
  assert consumer_run.depends_on == os.path.join(runs_dir, "producer_seed1")
  assert f"--trained_mentornet_dir={runs_dir}/producer_seed1/mentornet_updates/m" in \
      consumer_run.args
  calls = _calls(runs_dir)
  assert calls.index("consumer_seed1") > calls.index("producer_seed1")
  assert all(o.status == "finished" for o in report["outcomes"].values())

  # A producer that fails: its consumers are not started and say why.
  with open(producer, "a") as f:
    f.write("# fake: fail\n")
  other = str(tmp_path / "runs2")
  with pytest.raises(errors.RunFailed):
    report = experiments.run_grid(experiments.options(
        grid, "0", runs_dir=other, train_command=fake_trainer), log=io.StringIO())
  assert _calls(other) == ["producer_seed0"]
  markdown = open(os.path.join(other, "table.md")).read()
  assert (f"{other}/consumer_seed0: not run (needs the MentorNet of {other}/producer_seed0, "
          "which failed)") in markdown


def test_dry_run_and_table_only_run_nothing(tmp_path, fake_trainer):
  flagfile = _flagfile(tmp_path, "a")
  grid = _grid(tmp_path, [f"{flagfile} | A"])
  runs_dir = str(tmp_path / "runs")
  log = io.StringIO()
  experiments.run_grid(experiments.options(grid, "0", runs_dir=runs_dir, dry_run=True,
                                           train_command=fake_trainer), log=log)
  assert f"new       {' '.join(fake_trainer)} --flagfile={flagfile} --seed=0 --noise_seed=0 " \
      f"--train_log_dir={runs_dir}/a_seed0 --verbose=0" in log.getvalue()
  assert not os.path.exists(runs_dir)
  with pytest.raises(errors.RunFailed):
    experiments.run_grid(experiments.options(grid, "0", runs_dir=runs_dir, table_only=True,
                                             train_command=fake_trainer), log=io.StringIO())
  assert _calls(runs_dir) == []
  assert "a_seed0: not run (not run yet)" in open(os.path.join(runs_dir, "table.md")).read()


@pytest.mark.parametrize("args, needle", [
    ([], "error: --grid is required"),
    (["--grid={tmp}/nothing.txt"], "error: --grid='{tmp}/nothing.txt' cannot be read"),
    (["--grid={grid}", "--seeds=0,a"], "error: --seeds='0,a' is invalid"),
    (["--grid={grid}", "--seeds=1,1"], "error: --seeds='1,1' is invalid"),
    (["--grid={grid}", "--jobs=0"], "error: --jobs=0 is invalid"),
    (["--grid={grid}", "--output={tmp}/file/t.md"], "error: --output="),
    (["--grid={grid}", "stray"], "error: unexpected arguments: stray"),
])
def test_bad_input_exits_2_and_writes_nothing(tmp_path, args, needle):
  grid = _grid(tmp_path, [f"{_flagfile(tmp_path, 'a')} | A"])
  (tmp_path / "file").write_text("x")
  runs_dir = str(tmp_path / "runs")
  fill = lambda text: text.format(tmp=tmp_path, grid=grid)
  done = entry_runner.run_entry("experiments", [fill(a) for a in args] +
                                [f"--runs_dir={runs_dir}"])
  assert done.returncode == 2, done.stderr
  assert done.stderr.strip().splitlines()[-1].startswith(fill(needle)), done.stderr
  assert not os.path.exists(runs_dir)


def test_paper_numbers_agree_across_tables():
  """Transcription checks: the paper's Table 3 MentorNet is Table 2's MentorNet DD (resnet-101,
  40%), and every table has its methods at every column."""
  for dataset in ("cifar10", "cifar100"):
    assert paper_numbers.lookup("3", dataset, 0.4, "resnet101", "MentorNet").top1 == \
        paper_numbers.lookup("2", dataset, 0.4, "resnet101", "MentorNet DD").top1
  table2 = [key for key in paper_numbers.NUMBERS if key[0] == "2"]
  assert len(table2) == 7 * 2 * 2 * 3
  readme = [key for key in paper_numbers.NUMBERS if key[0] == "readme"]
  assert len(readme) == 5 * 2 * 2 * 3
  mini = paper_numbers.lookup("5", "webvision_mini", 0, "inception_resnet_v2", "MentorNet")
  entire = paper_numbers.lookup("5", "webvision", 0, "inception_resnet_v2", "MentorNet")
  assert mini.evaluated_on == paper_numbers.ILSVRC12_VAL  # the paper's only Mini split
  assert entire.evaluated_on == paper_numbers.WEBVISION_VAL  # the split our runs measure


@pytest.mark.slow
def test_harness_on_real_tiny_runs(tmp_path):
  """Two flagfiles x two seeds of real tiny training (digits, MLP, 20 steps) and a flagfile
  whose runs fail (a MentorNet that does not exist): the table averages what results.json says
  and lists the failed runs with the train command's error line."""
  a = _flagfile(tmp_path, "a")
  b = _flagfile(tmp_path, "b", ["--learning_rate=0.003"])
  bad = _flagfile(tmp_path, "bad", [f"--trained_mentornet_dir={tmp_path}/no_mentornet"])
  grid = _grid(tmp_path, [f"{a} | A", f"{b} | B", f"{bad} | Bad"])
  runs_dir = str(tmp_path / "runs")
  done = entry_runner.run_entry("experiments", [f"--grid={grid}", "--seeds=0,1", "--jobs=2",
                                                f"--runs_dir={runs_dir}"])
  assert done.returncode == 1, done.stderr
  assert "error: 2 run(s) or flagfile(s) are not in the averages" in done.stderr
  markdown = open(os.path.join(runs_dir, "table.md")).read()
  for name, row in (("a", "A"), ("b", "B")):
    finals = _finals(runs_dir, name, (0, 1))
    assert _row(markdown, "Final clean test top-1", row) == [
        f"{np.mean(finals):.4f} ± {np.std(finals, ddof=1):.4f} (n=2)"]
  assert _row(markdown, "Final clean test top-1", "Bad") == ["— (n=0; 2 failed or not run)"]
  assert f"{runs_dir}/bad_seed1: failed (exit status 2: error: --trained_mentornet_dir=" \
      in markdown
  assert os.path.exists(os.path.join(runs_dir, "a_seed0.log"))
