"""Bad-input cases for the tool entry points: train_mentornet, visualize, list_mislabelled,
results_table (run by tests/test_bad_inputs.py through tests/bad_input_harness.py).

Each case must end with exit status 2 (refused input, mentornet_tf/cli.py) before anything is
written: the last stderr line `error: ...` names the flag, file (and line) or value, and the case
directory is unchanged. train_mentornet cases all fail before the first learning step; visualize
cases before any figure is written.
"""
import json
import os
import shutil

from bad_input_harness import Case
from bad_input_harness import REPO

SHIPPED_PD = os.path.join(REPO, "data", "mentornet_models", "mentornet_pd")
_DUMP_ROWS = ["0 5 1 1 0.25", "1 5 2 3 4.5", "2 5 0 0 0.75", "3 5 4 1 6.0"]
_WEIGHTS_HEADER = "id,loss,weight,noisy_label,clean_label,prediction"


def _write(relative, text, mode="w"):
  """A setup that writes `text` (str or bytes) to <case dir>/<relative>."""
  def setup(case_dir):
    path = case_dir / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
      path.write_bytes(text)
    else:
      path.write_text(text)
  return setup


def _both(*setups):
  def setup(case_dir):
    for one in setups:
      one(case_dir)
  return setup


def _mentornet(relative, corrupt=None):
  """A setup that copies the shipped MentorNet PD to <case dir>/<relative>, then corrupts it."""
  def setup(case_dir):
    target = case_dir / relative
    shutil.copytree(SHIPPED_PD, target)
    if corrupt is not None:
      corrupt(target)
  return setup


def _truncate_data(target):
  data = target / "weights.data-00000-of-00001"
  data.write_bytes(data.read_bytes()[:1000])


def _random_data(target):
  data = target / "weights.data-00000-of-00001"
  data.write_bytes(os.urandom(data.stat().st_size))


def _empty_index(target):
  (target / "weights.index").write_bytes(b"")


def _not_json(target):
  (target / "mentornet.json").write_text("{not json")


def _wrong_config(target):
  metadata = json.loads((target / "mentornet.json").read_text())
  metadata["config"]["num_lstm_units"] = 3
  (target / "mentornet.json").write_text(json.dumps(metadata))


def _run(relative, results, config=None):
  """A setup writing a run directory <case dir>/<relative> with results.json and config.json."""
  config = {"data": {"dataset_name": "mnist5k", "noise_fraction": 0.4}, "seed": 0,
            "mentor": {"weighting": "none"}} if config is None else config
  return _both(_write(f"{relative}/results.json", json.dumps(results)),
               _write(f"{relative}/config.json", json.dumps(config)))


_GOOD_RUN = _run("runs/a_seed0", {"final_accuracy": 0.9, "best_accuracy": 0.91,
                                  "status": "finished"})
_DD = ["--vstar_fn=data_driven", "--train_dir={dir}/out"]
_VIS = ["--output_dir={dir}/plots"]
_VIS_PD = _VIS + ["--model_dir={dir}/mentor"]

CASES = [
    # ----------------------------------------------------------------- train_mentornet
    Case("train_mentornet_no_train_dir", "train_mentornet", [],
         r"--train_dir='' is invalid: an output directory is required"),
    Case("train_mentornet_train_dir_is_a_file", "train_mentornet", ["--train_dir={dir}/out"],
         r"--train_dir='.*/out' is invalid: exists and is not a directory",
         setup=_write("out", "a file\n")),
    Case("train_mentornet_train_dir_under_a_file", "train_mentornet",
         ["--train_dir={dir}/file/out"],
         r"--train_dir='.*/file/out' is invalid: cannot be created: .*/file is not a directory",
         setup=_write("file", "x\n")),
    Case("train_mentornet_train_dir_holds_other_files", "train_mentornet",
         ["--train_dir={dir}/out"],
         r"--train_dir='.*/out' is invalid: exists and holds something other than a MentorNet",
         setup=_write("out/notes.txt", "mine\n")),
    Case("train_mentornet_learning_rate_inf", "train_mentornet",
         ["--train_dir={dir}/out", "--learning_rate=inf"], r"--learning_rate=inf is invalid"),
    Case("train_mentornet_seed_negative", "train_mentornet",
         ["--train_dir={dir}/out", "--seed=-1"], r"--seed=-1 is invalid: must be >= 0"),
    Case("train_mentornet_unknown_vstar_fn", "train_mentornet",
         ["--train_dir={dir}/out", "--vstar_fn=nope"], r"--vstar_fn=.?nope.*one of"),
    Case("train_mentornet_vstar_gamma_nan", "train_mentornet",
         ["--train_dir={dir}/out", "--vstar_fn=focal_loss", "--vstar_gamma=nan"],
         r"--vstar_gamma=nan is invalid: must be a finite number"),
    Case("train_mentornet_unknown_flag", "train_mentornet",
         ["--train_dir={dir}/out", "--no_such_flag=1"], r"no_such_flag"),
    Case("train_mentornet_extra_argument", "train_mentornet", ["--train_dir={dir}/out", "stray"],
         r"unexpected arguments: stray"),
    Case("train_mentornet_dump_missing", "train_mentornet",
         _DD + ["--input_csv_filename={dir}/missing.txt"],
         r"--input_csv_filename='.*/missing\.txt' is invalid: no such StudentNet dump file"),
    Case("train_mentornet_dump_is_a_directory", "train_mentornet",
         _DD + ["--input_csv_filename={dir}"], r"--input_csv_filename='.*' is invalid: is a "
         r"directory", setup=_write("dummy.txt", "")),
    Case("train_mentornet_dump_wrong_field_count", "train_mentornet",
         _DD + ["--input_csv_filename={dir}/dump.txt"],
         r"--input_csv_filename: .*/dump\.txt:3: expected 5 space-separated fields",
         setup=_write("dump.txt", "\n".join(_DUMP_ROWS[:2] + ["7 5 1 1"] + _DUMP_ROWS[2:]))),
    Case("train_mentornet_dump_nan_loss", "train_mentornet",
         _DD + ["--input_csv_filename={dir}/dump.txt"],
         r"dump\.txt:2: loss 'nan' must be finite and >= 0",
         setup=_write("dump.txt", "\n".join([_DUMP_ROWS[0], "1 5 2 3 nan"] + _DUMP_ROWS[2:]))),
    Case("train_mentornet_dump_non_integer_label", "train_mentornet",
         _DD + ["--input_csv_filename={dir}/dump.txt"],
         r"dump\.txt:4: id, epoch, noisy_label and clean_label must be integers",
         setup=_write("dump.txt", "\n".join(_DUMP_ROWS[:3] + ["3 5 x 1 6.0"]))),
    Case("train_mentornet_dump_not_utf8", "train_mentornet",
         _DD + ["--input_csv_filename={dir}/dump.txt"], r"dump\.txt:2: not UTF-8 text",
         setup=_write("dump.txt", b"0 5 1 1 0.25\n\xff\xfe\x00garbage\n")),
    Case("train_mentornet_dump_only_comments", "train_mentornet",
         _DD + ["--input_csv_filename={dir}/dump.txt"],
         r"dump\.txt: the StudentNet dump has no rows",
         setup=_write("dump.txt", "# id epoch noisy clean loss\n\n")),
    Case("train_mentornet_dump_too_few_rows", "train_mentornet",
         _DD + ["--input_csv_filename={dir}/dump.txt"],
         r"--input_csv_filename='.*dump\.txt' is invalid: 2 example\(s\) .* too few",
         setup=_write("dump.txt", "\n".join(_DUMP_ROWS[:2]))),
    Case("train_mentornet_init_mentornet_missing", "train_mentornet",
         ["--train_dir={dir}/out", "--init_mentornet_dir={dir}/nothing", "--sample_size=100"],
         r"--init_mentornet_dir='.*/nothing' is invalid: no loadable MentorNet"),
    Case("train_mentornet_init_mentornet_truncated", "train_mentornet",
         ["--train_dir={dir}/out", "--init_mentornet_dir={dir}/mentor", "--sample_size=100"],
         r"--init_mentornet_dir='.*/mentor' is invalid: no loadable MentorNet .*truncated",
         setup=_mentornet("mentor", _truncate_data)),
    # ----------------------------------------------------------------- visualize
    Case("visualize_loss_bound_inf", "visualize",
         _VIS + ["--curriculum=self_paced", "--loss_bound=inf"],
         r"--loss_bound=inf is invalid: must be a finite number > 0"),
    Case("visualize_loss_bound_nan", "visualize",
         _VIS + ["--curriculum=self_paced", "--loss_bound=nan"], r"--loss_bound=nan is invalid"),
    Case("visualize_loss_bound_negative", "visualize",
         _VIS + ["--curriculum=self_paced", "--loss_bound=-1"], r"--loss_bound=-1.0 is invalid"),
    Case("visualize_objective_loss_bound_zero", "visualize",
         _VIS + ["--curriculum=self_paced", "--objective_loss_bound=0"],
         r"--objective_loss_bound=0.0 is invalid"),
    Case("visualize_objective_epoch_out_of_range", "visualize",
         _VIS + ["--curriculum=self_paced", "--objective_epoch=150"],
         r"--objective_epoch=150.0 is invalid: must lie in 0..99"),
    Case("visualize_resolution_huge", "visualize",
         _VIS + ["--curriculum=self_paced", "--resolution=100000"],
         r"--resolution=100000 is invalid: must lie in \[2, 1000\]"),
    Case("visualize_epoch_nan", "visualize",
         _VIS + ["--curriculum=self_paced", "--epoch_ranges=10,nan"],
         r"--epoch_ranges='10,nan' is invalid: 'nan' is outside 0..99"),
    Case("visualize_model_and_curriculum", "visualize",
         _VIS_PD + ["--curriculum=self_paced"], r"exactly one of --model_dir .* and --curriculum",
         setup=_mentornet("mentor")),
    Case("visualize_output_dir_is_a_file", "visualize",
         ["--output_dir={dir}/plots", "--curriculum=self_paced"],
         r"--output_dir='.*/plots' is invalid: exists and is not a directory",
         setup=_write("plots", "x\n")),
    Case("visualize_output_dir_under_a_file", "visualize",
         ["--output_dir={dir}/file/plots", "--curriculum=self_paced"],
         r"--output_dir='.*/file/plots' is invalid: cannot be created: .*/file is not a "
         r"directory", setup=_write("file", "x\n")),
    Case("visualize_output_file_is_a_directory", "visualize",
         _VIS + ["--curriculum=self_paced", "--epoch_ranges=0"],
         r"--output_dir='.*/plots' is invalid: epoch_0.png there is a directory",
         setup=_write("plots/epoch_0.png/keep", "x\n")),
    Case("visualize_weights_truncated", "visualize", _VIS_PD,
         r"--model_dir='.*/mentor' is invalid: no loadable MentorNet .*truncated",
         setup=_mentornet("mentor", _truncate_data)),
    Case("visualize_weights_random_bytes", "visualize", _VIS_PD,
         r"--model_dir='.*/mentor' is invalid: no loadable MentorNet .*(corrupt|[Cc]hecksum)",
         setup=_mentornet("mentor", _random_data)),
    Case("visualize_weights_empty_index", "visualize", _VIS_PD,
         r"--model_dir='.*/mentor' is invalid: no loadable MentorNet .*weights\.index",
         setup=_mentornet("mentor", _empty_index)),
    Case("visualize_mentornet_json_not_json", "visualize", _VIS_PD,
         r"--model_dir='.*/mentor' is invalid: no loadable MentorNet .*mentornet\.json",
         setup=_mentornet("mentor", _not_json)),
    Case("visualize_mentornet_json_wrong_config", "visualize", _VIS_PD,
         r"--model_dir='.*/mentor' is invalid: no loadable MentorNet .*do not fit",
         setup=_mentornet("mentor", _wrong_config)),
    Case("visualize_model_dir_empty", "visualize", _VIS_PD,
         r"--model_dir='.*/mentor' is invalid: no loadable MentorNet",
         setup=_write("mentor/.keep", "")),
    Case("visualize_label_outside_the_embedding", "visualize", _VIS_PD + ["--label=5"],
         r"--label=5.0 is invalid: the MentorNet has 2 labels", setup=_mentornet("mentor")),
    # ----------------------------------------------------------------- list_mislabelled
    Case("list_mislabelled_no_train_log_dir", "list_mislabelled", [],
         r"--train_log_dir is required"),
    Case("list_mislabelled_train_log_dir_missing", "list_mislabelled",
         ["--train_log_dir={dir}/run"], r"--train_log_dir='.*/run' is not a directory"),
    Case("list_mislabelled_no_export", "list_mislabelled", ["--train_log_dir={dir}/run"],
         r"'.*/run/weights' holds no weight export; train with --export_weights",
         setup=_write("run/config.json", "{}")),
    Case("list_mislabelled_epoch_missing", "list_mislabelled",
         ["--train_log_dir={dir}/run", "--epoch=7"],
         r"cannot read weight export '.*/run/weights/epoch_0007\.csv'",
         setup=_write("run/weights/epoch_0001.csv", _WEIGHTS_HEADER + "\n0,1.0,0.5,1,1,1\n")),
    Case("list_mislabelled_missing_columns", "list_mislabelled", ["--train_log_dir={dir}/run"],
         r"'.*/epoch_0001\.csv' is not a weight export: missing column\(s\) "
         r"noisy_label,clean_label,prediction",
         setup=_write("run/weights/epoch_0001.csv", "id,loss,weight\n0,1.0,0.5\n")),
    Case("list_mislabelled_bad_weight", "list_mislabelled", ["--train_log_dir={dir}/run"],
         r".*/epoch_0001\.csv:3: weight 'abc' is not a number",
         setup=_write("run/weights/epoch_0001.csv",
                      _WEIGHTS_HEADER + "\n0,1.0,0.5,1,1,1\n1,2.0,abc,1,1,1\n")),
    Case("list_mislabelled_short_row", "list_mislabelled", ["--train_log_dir={dir}/run"],
         r".*/epoch_0001\.csv:2: expected 6 fields, got 4",
         setup=_write("run/weights/epoch_0001.csv", _WEIGHTS_HEADER + "\n0,1.0,0.5,1\n")),
    Case("list_mislabelled_non_integer_id", "list_mislabelled", ["--train_log_dir={dir}/run"],
         r".*/epoch_0001\.csv:2: id '1\.5' is not an integer",
         setup=_write("run/weights/epoch_0001.csv", _WEIGHTS_HEADER + "\n1.5,1.0,0.5,1,1,1\n")),
    Case("list_mislabelled_empty_export", "list_mislabelled", ["--train_log_dir={dir}/run"],
         r"'.*/epoch_0001\.csv' is not a weight export: the file is empty",
         setup=_write("run/weights/epoch_0001.csv", "")),
    Case("list_mislabelled_not_utf8", "list_mislabelled", ["--train_log_dir={dir}/run"],
         r"'.*/epoch_0001\.csv' is not a weight export: not UTF-8 text",
         setup=_write("run/weights/epoch_0001.csv", b"\xff\xfe\x00\x01garbage\n")),
    Case("list_mislabelled_threshold_nan", "list_mislabelled",
         ["--train_log_dir={dir}/run", "--threshold=nan"], r"--threshold=nan is invalid",
         setup=_write("run/weights/epoch_0001.csv", _WEIGHTS_HEADER + "\n0,1.0,0.5,1,1,1\n")),
    Case("list_mislabelled_limit_negative", "list_mislabelled",
         ["--train_log_dir={dir}/run", "--limit=-1"], r"--limit=-1 is invalid",
         setup=_write("run/weights/epoch_0001.csv", _WEIGHTS_HEADER + "\n0,1.0,0.5,1,1,1\n")),
    # ----------------------------------------------------------------- results_table
    Case("results_table_no_match", "results_table", ["--runs={dir}/nothing*"],
         r"--runs=\['.*/nothing\*'\]: no finished or diverged run .*no results\.json"),
    Case("results_table_empty_runs_flag", "results_table", ["--runs="],
         r"--runs=\[''\] is invalid"),
    Case("results_table_only_unfinished", "results_table", ["--runs={dir}/runs/*"],
         r"no finished or diverged run .*1 run directory found, none finished",
         setup=_run("runs/a_seed0", {"status": "running", "history": []})),
    Case("results_table_only_malformed", "results_table", ["--runs={dir}/runs/*"],
         r"no finished or diverged run .*1 run directory found, none finished",
         setup=_run("runs/a_seed0", {"final_accuracy": "0.9"})),
    Case("results_table_output_under_a_file", "results_table",
         ["--runs={dir}/runs/*", "--output={dir}/file/table.md"],
         r"--output='.*/file/table\.md' cannot be written",
         setup=_both(_GOOD_RUN, _write("file", "x\n"))),
    Case("results_table_output_is_a_directory", "results_table",
         ["--runs={dir}/runs/*", "--output={dir}/runs"], r"--output='.*/runs' is a directory",
         setup=_GOOD_RUN),
    Case("results_table_output_directory_missing", "results_table",
         ["--runs={dir}/runs/*", "--output={dir}/no/such/table.md"],
         r"--output='.*/no/such/table\.md' cannot be written: its directory .* does not exist",
         setup=_GOOD_RUN),
    Case("results_table_extra_argument", "results_table", ["--runs={dir}/runs/*", "stray"],
         r"unexpected arguments: stray", setup=_GOOD_RUN),
    Case("results_table_unknown_flag", "results_table", ["--runs={dir}/runs/*", "--tabel=x"],
         r"tabel", setup=_GOOD_RUN),
]
