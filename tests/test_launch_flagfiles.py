"""Every flagfile in launch/ parses into a valid TrainConfig, documents itself and keeps the
paper's protocol where its header says so."""
import glob
import os

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The runnable flagfiles: launch/*.flags and those of its subdirectories (launch/paper/, ...),
# not the bases they include.
FLAGFILES = sorted(path for path in glob.glob(os.path.join(REPO, "launch", "**", "*.flags"),
                                              recursive=True)
                   if os.sep + "base" + os.sep not in os.path.relpath(path, REPO))


def _name(path):
  return os.path.relpath(path, REPO)


@pytest.fixture(scope="module")
def configs():
  """{launch/... path: TrainConfig}, parsed with the train command's flags from the repository
  root, as `python -m mentornet_tf.train --flagfile=launch/...` does."""
  from absl import flags  # pylint: disable=g-import-not-at-top
  from mentornet_tf import flags as flags_lib  # pylint: disable=g-import-not-at-top
  from mentornet_tf import train  # pylint: disable=g-import-not-at-top
  train.define_flags()
  cwd = os.getcwd()
  os.chdir(REPO)
  parsed = {}
  try:
    for path in FLAGFILES:
      flags.FLAGS.unparse_flags()
      flags.FLAGS(["train", f"--flagfile={_name(path)}"])
      parsed[_name(path)] = flags_lib.train_config_from_flags()
  finally:
    flags.FLAGS.unparse_flags()
    os.chdir(cwd)
  return parsed


def test_every_flagfile_parses_into_a_valid_config(configs):
  assert len(FLAGFILES) >= 40
  assert len(configs) == len(FLAGFILES)
  for name, config in configs.items():
    assert config.train_log_dir.startswith("runs/"), (name, config.train_log_dir)
  run_dirs = [config.train_log_dir for config in configs.values()]
  assert len(set(run_dirs)) == len(run_dirs), "two flagfiles share a run directory"


def test_every_flagfile_opens_with_its_command_and_expectation():
  for path in FLAGFILES:
    lines = open(path).read().splitlines()
    header = "\n".join(line for line in lines if line.startswith("#"))
    name = _name(path)
    assert lines[0].startswith("#"), name
    assert f"--flagfile={name}" in header, name
    assert "Expected" in header or "expected" in header, name


def test_no_cifar100_flagfile_learns_from_cifar100_clean_labels(configs):
  """Paper §5.1 / App. E.3: MentorNet DD on CIFAR-100 is the one learned on CIFAR-10 ("no true
  labels on CIFAR-100"). A run reads clean labels for training only to learn MentorNet DD
  (--update_mentornet_epochs); every CIFAR-100 DD flagfile loads the DD MentorNet that the
  CIFAR-10 flagfile of the same noise and student writes, with the same epoch convention."""
  from mentornet_tf import schedules  # pylint: disable=g-import-not-at-top
  from mentornet_tf.training import curriculum_updates  # pylint: disable=g-import-not-at-top
  cifar100 = {name: c for name, c in configs.items() if c.data.dataset_name == "cifar100"}
  assert len(cifar100) >= 18
  for name, config in cifar100.items():
    assert config.mentor.update_mentornet_epochs == (), name
  by_run = {config.train_log_dir: name for name, config in configs.items()}
  dd = [name for name in cifar100 if name.endswith("_mentornet_dd.flags")]
  assert len(dd) >= 6
  for name in dd:
    config = cifar100[name]
    assert config.mentor.weighting == "mentornet", name
    run_dir, updates, learned = config.mentor.trained_mentornet_dir.rsplit("/", 2)
    assert updates == curriculum_updates.UPDATES_DIR, name
    assert run_dir in by_run, f"{name}: no flagfile trains in {run_dir}"
    source = configs[by_run[run_dir]]
    assert source.data.dataset_name == "cifar10", name
    assert source.data.noise_fraction == config.data.noise_fraction, name
    assert source.student.studentnet == config.student.studentnet, name
    steps = source.max_number_of_steps
    written = {curriculum_updates.learned_mentornet_name(schedules.epoch_percentage(step, steps))
               for step in curriculum_updates.update_steps(source.mentor.update_mentornet_epochs,
                                                           steps)}
    assert learned in written, (name, learned, written)
    # The MentorNet's epoch inputs are those it was learned for.
    assert (config.mentor.burn_in_epoch, config.mentor.fixed_epoch_after_burn_in) == \
        (source.mentor.burn_in_epoch, source.mentor.fixed_epoch_after_burn_in), name
    header = open(os.path.join(REPO, name)).read()
    assert "must run first" in header, name
    assert f"--flagfile={by_run[run_dir]}" in header, name
