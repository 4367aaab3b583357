"""Tests of `python -m mentornet_tf.list_mislabelled` on weight exports the tests write.

The command runs in this process through its real `cli.run(main)` path (tests/entry_runner.py).
(Bad input is covered by tests/bad_input_cases_tools.py.)
"""
import json
import os

import numpy as np

from mentornet_tf import inspection
import entry_runner

HEADER = ",".join(inspection.COLUMNS)


def _list(run_dir, *args):
  return entry_runner.run_entry("list_mislabelled", [f"--train_log_dir={run_dir}", *args])


def _export(run_dir, rows, name="epoch_0003.csv"):
  os.makedirs(os.path.join(run_dir, "weights"), exist_ok=True)
  with open(os.path.join(run_dir, "weights", name), "w") as f:
    f.write(HEADER + "\n" + "".join(row + "\n" for row in rows))


def test_nan_weights_are_counted_and_listed_not_dropped(tmp_path):
  run_dir = str(tmp_path / "run")
  # id, loss, weight, noisy_label, clean_label, prediction
  _export(run_dir, ["0,0.1,0.9,1,1,1", "1,5.0,0.1,2,3,3", "2,nan,nan,4,4,4", "3,4.0,0.3,5,6,6",
                    "4,0.2,nan,7,7,7"])
  done = _list(run_dir)
  assert done.returncode == 0, done.stderr
  lines = done.stdout.splitlines()
  assert lines[0].endswith("epoch_0003.csv: 2 of 5 examples have v < 0.5; 2 have a NaN weight "
                           "(listed first)"), lines[0]
  listed = [line.split("\t") for line in lines[2:-1]]
  assert [(row[0], row[1]) for row in listed] == [("2", "nan"), ("4", "nan"), ("1", "0.1000"),
                                                  ("3", "0.3000")]
  report = json.loads(lines[-1].split(": ", 1)[1])
  assert report["num_nan_weight"] == 2 and report["num_flagged"] == 2
  assert report["precision"] == 1.0 and report["recall"] == 1.0
  assert report["mean_weight_clean"] == 0.9  # the finite clean weights only
  assert "2 of 5 examples have a NaN weight" in done.stderr
  # --limit counts the NaN rows too; --epoch picks an export; the file names in the summary.
  _export(run_dir, ["0,0.1,0.9,1,1,1"], name="epoch_0001.csv")
  done = _list(run_dir, "--epoch=1", "--limit=1")
  assert done.returncode == 0 and "epoch_0001.csv: 0 of 1 examples" in done.stdout
  assert "NaN weight" not in done.stdout + done.stderr


def test_read_weights_accepts_any_column_order_and_round_trips(tmp_path):
  path = str(tmp_path / "w.csv")
  records = {"id": np.array([3, 1]), "loss": np.array([0.5, 2.0]),
             "weight": np.array([1.0, np.nan]), "noisy_label": np.array([0, 1]),
             "clean_label": np.array([0, 2]), "prediction": np.array([0, 2])}
  inspection.write_weights(path, records)
  back = inspection.read_weights(path)
  for name in inspection.COLUMNS:
    np.testing.assert_array_equal(back[name], records[name])  # exact: 6 digits of short values
  reordered = str(tmp_path / "r.csv")
  with open(reordered, "w") as f:
    f.write("weight,extra,prediction,id,loss,noisy_label,clean_label\n0.25,x,1,7,0.5,1,1\n")
  back = inspection.read_weights(reordered)
  assert back["id"].tolist() == [7] and back["weight"].tolist() == [0.25]
