"""Every flagfile in launch/ parses into a valid TrainConfig and documents itself."""
import glob
import os

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FLAGFILES = sorted(glob.glob(os.path.join(REPO, "launch", "*.flags")))


def test_every_flagfile_parses_into_a_valid_config(monkeypatch):
  """Parsed in this process with the train command's flags, as `--flagfile=launch/...` from the
  repository root."""
  from absl import flags  # pylint: disable=g-import-not-at-top
  from mentornet_tf import flags as flags_lib  # pylint: disable=g-import-not-at-top
  from mentornet_tf import train  # pylint: disable=g-import-not-at-top
  assert len(FLAGFILES) >= 40
  train.define_flags()
  monkeypatch.chdir(REPO)
  parsed = []
  try:
    for path in FLAGFILES:
      flags.FLAGS.unparse_flags()
      flags.FLAGS(["train", f"--flagfile={os.path.relpath(path, REPO)}"])
      config = flags_lib.train_config_from_flags()
      assert config.train_log_dir.startswith("runs/"), (path, config.train_log_dir)
      parsed.append((path, config.data.dataset_name, config.mentor.weighting))
  finally:
    flags.FLAGS.unparse_flags()
  assert len(parsed) == len(FLAGFILES)


def test_every_flagfile_opens_with_its_command_and_expectation():
  for path in FLAGFILES:
    lines = open(path).read().splitlines()
    header = "\n".join(line for line in lines if line.startswith("#"))
    name = os.path.basename(path)
    assert lines[0].startswith("#"), name
    assert f"--flagfile=launch/{name}" in header, name
    assert "Expected" in header or "expected" in header, name
