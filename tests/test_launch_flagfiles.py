"""Every flagfile in launch/ parses into a valid TrainConfig and documents itself."""
import glob
import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FLAGFILES = sorted(glob.glob(os.path.join(REPO, "launch", "*.flags")))

CHECK = r"""
import sys
import mentornet_tf
from absl import flags
from mentornet_tf import flags as flags_lib
flags_lib.define_all()
flags.DEFINE_bool("compare_with_fullmodel", False, "")
FLAGS = flags.FLAGS
for path in sys.argv[1:]:
  FLAGS.unparse_flags()
  FLAGS(["train", f"--flagfile={path}"])
  config = flags_lib.train_config_from_flags()
  assert config.train_log_dir.startswith("runs/"), (path, config.train_log_dir)
  print("ok", path, config.data.dataset_name, config.mentor.weighting)
"""


def test_every_flagfile_parses_into_a_valid_config():
  assert len(FLAGFILES) >= 40
  result = subprocess.run([sys.executable, "-c", CHECK] + [os.path.relpath(p, REPO)
                                                          for p in FLAGFILES],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
  assert result.returncode == 0, result.stderr[-3000:]
  assert result.stdout.count("ok ") == len(FLAGFILES)


def test_every_flagfile_opens_with_its_command_and_expectation():
  for path in FLAGFILES:
    lines = open(path).read().splitlines()
    header = "\n".join(line for line in lines if line.startswith("#"))
    name = os.path.basename(path)
    assert lines[0].startswith("#"), name
    assert f"--flagfile=launch/{name}" in header, name
    assert "Expected" in header or "expected" in header, name
