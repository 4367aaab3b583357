"""The command-line surface: grouped --help with enums, one flag style, a package that leaves the
environment alone, compact progress, and --compare_with_fullmodel printing each result once."""
import contextlib
import io
import os
import subprocess
import sys

from absl import flags
import pytest

from mentornet_tf import config as config_lib
from mentornet_tf import entry
from mentornet_tf import flags as flags_lib
from mentornet_tf import progress

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENTRIES = ("train", "evaluate", "train_mentornet", "visualize", "list_mislabelled",
           "results_table", "experiments", "export", "data.convert")


@pytest.mark.slow  # ~5-12 s: a whole training run or a fresh TF process
def test_importing_the_package_and_the_entries_changes_no_environment_variable():
  # The package alone changes nothing; with the entries (which import TensorFlow, and TensorFlow
  # and OpenCV set a few variables of their own) no TF_* variable is set.
  code = ("import os; before = dict(os.environ); import mentornet_tf; "
          "assert dict(os.environ) == before; "
          + "; ".join(f"import mentornet_tf.{name}" for name in ENTRIES)
          + "; tf_vars = lambda env: {k: v for k, v in env.items() if k.startswith('TF_')}; "
            "assert tf_vars(os.environ) == tf_vars(before), tf_vars(os.environ); print('ok')")
  env = {k: v for k, v in os.environ.items()
         if k not in ("TF_USE_LEGACY_KERAS", "TF_CPP_MIN_LOG_LEVEL")}
  result = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=120)
  assert result.returncode == 0 and "ok" in result.stdout, result.stderr[-3000:]


def test_every_entry_imports_and_defines_its_flags_in_one_process():
  """Importing train then evaluate (and the rest) registers nothing; define_flags() twice is
  fine (no DuplicateFlagError)."""
  import importlib  # pylint: disable=g-import-not-at-top
  modules = [importlib.import_module(f"mentornet_tf.{name}") for name in ENTRIES]
  for module in modules:
    assert callable(module.define_flags) and callable(module.main)
  from mentornet_tf import evaluate, train  # pylint: disable=g-import-not-at-top
  train.define_flags()
  train.define_flags()
  evaluate.define_flags()
  assert "compare_with_fullmodel" in flags.FLAGS and "checkpoint_dir" in flags.FLAGS


def test_train_help_lists_the_project_flags_in_groups_with_enum_choices():
  result = subprocess.run([sys.executable, "-m", "mentornet_tf.train", "--help"], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
  text = result.stdout
  headers = [line[:-1] for line in text.splitlines() if line.endswith(":") and
             not line.startswith(" ")]
  assert headers[-6:] == ["data", "student", "mentor", "training", "distribution", "output"], text
  # --dataset_name is a string (it also takes tfds:NAME); its help lists the names.
  for needle in ("--dataset_name: Dataset: cifar10, cifar100, mnist5k, digits, fake, filelist",
                 "--curriculum: <",
                 "--studentnet: <", "<default|one_device|mirrored|", "compare_with_fullmodel",
                 "--learning_rate", "--train_log_dir"):
    assert needle in " ".join(text.split()), needle  # absl wraps a long enum onto the next line
  assert "cuInit" not in result.stderr and "oneDNN" not in result.stderr


def test_curriculum_flag_choices_are_configs_names():
  flags_lib.define_mentor_flags()
  assert tuple(flags.FLAGS["curriculum"].parser.enum_values) == config_lib.CURRICULUM_NAMES


def test_tf_log_level_follows_verbosity():
  assert entry.tf_log_level([]) == "3"
  assert entry.tf_log_level(["--verbosity=0"]) == "0"
  assert entry.tf_log_level(["--verbosity", "-1"]) == "1"
  assert entry.tf_log_level(["-v=-2"]) == "2"


def test_python_logging_follows_verbosity_and_defaults_to_warnings():
  """`--verbosity=0` shows INFO lines (absl's set_verbosity writes the flag: setting WARNING first
  used to turn a requested 0 into -1, so no command ever showed them)."""
  from absl import logging  # pylint: disable=g-import-not-at-top
  from mentornet_tf import cli  # pylint: disable=g-import-not-at-top
  flag = flags.FLAGS["verbosity"]
  saved = (flag.value, flag.present, logging.get_verbosity())
  try:
    flag.value, flag.present = 0, 1
    cli.set_log_verbosity()
    assert logging.get_verbosity() == logging.INFO
    flag.value, flag.present = 0, 0
    cli.set_log_verbosity()
    assert logging.get_verbosity() == logging.WARNING
  finally:
    flag.value, flag.present = saved[0], saved[1]
    logging.set_verbosity(saved[2])


def test_every_command_runs_its_main_at_the_log_verbosity():
  """cli.run sets the verbosity for every entry alike (train_mentornet, visualize and the others
  printed absl INFO lines before): WARNING by default, --verbosity when given."""
  from absl import logging  # pylint: disable=g-import-not-at-top
  from mentornet_tf import cli  # pylint: disable=g-import-not-at-top
  saved = logging.get_verbosity()
  seen = []
  try:
    for args in ([], ["--verbosity=0"]):
      flags.FLAGS.unparse_flags()
      with pytest.raises(SystemExit) as exit_:
        cli.run(lambda argv: seen.append(logging.get_verbosity()), argv=["entry", *args])
      assert exit_.value.code == 0
  finally:
    flags.FLAGS.unparse_flags()
    flags.FLAGS.mark_as_parsed()
    logging.set_verbosity(saved)
  assert seen == [logging.WARNING, logging.INFO]


def test_progress_line_is_compact():
  logs = {name: 0.5 for name in ("total_loss", "orig_loss", "weighted_loss", "percentile_loss",
                                 "loss_moving_percentile", "dropout_rate", "epoch_step",
                                 "learning_rate", "gradient_norm", "data_util", "memorized",
                                 "accuracy_noisy", "accuracy_clean", "mean_v_clean",
                                 "mean_v_corrupted", "v_precision", "v_recall", "v_auc")}
  logs["batch_sum_v"] = 48.0
  stream = io.StringIO()
  callback = progress.TrainProgress(1, 100, 10, global_batch_size=64, stream=stream)
  callback.on_train_begin()
  callback.on_epoch_begin(0)
  callback.on_train_batch_end(4, logs)
  callback.on_train_end()
  line = stream.getvalue().strip()
  assert line.startswith("step 5/100") and "acc_clean 0.5000" in line and "v 0.7500" in line
  assert len(line) < 200, line


def test_step_progress_prints_lines():
  stream = io.StringIO()
  report = progress.StepProgress("learning", stream=stream)
  report(500, 1000, 0.25)
  report(1000, 1000, 0.125)
  lines = stream.getvalue().splitlines()
  assert len(lines) == 2 and "step 1000/1000" in lines[1] and "loss 0.1250" in lines[1]


@pytest.mark.slow
def test_compare_with_fullmodel_prints_each_result_once(tmp_path):
  from mentornet_tf import train  # pylint: disable=g-import-not-at-top
  config = config_lib.TrainConfig(
      data=config_lib.DataConfig(dataset_name="digits", batch_size=64, noise_fraction=0.4),
      student=config_lib.StudentConfig(studentnet="mlp"),
      mentor=config_lib.MentorConfig(weighting="curriculum", curriculum="self_paced"),
      train_log_dir=str(tmp_path / "run"), optimizer="adam", learning_rate=0.001,
      lr_schedule="constant", max_number_of_steps=20, save_interval_secs=0, verbose=0)
  out = io.StringIO()
  with contextlib.redirect_stdout(out):
    results = train.train_and_compare(config)
  lines = [line for line in out.getvalue().splitlines() if "final clean test top-1" in line]
  assert len(lines) == 2, out.getvalue()
  assert "curriculum" in lines[0] and "FullModel" in lines[1]
  assert set(results) == {"run", "fullmodel"}
  assert os.path.exists(str(tmp_path / "run_fullmodel" / "results.json"))
