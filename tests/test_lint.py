"""The linter with the project's style (pyproject.toml [tool.ruff]: 2-space Google style, 100
columns) over the package, the tests and the benchmarks, so the README test command lints too."""
import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_ruff_finds_nothing():
  result = subprocess.run([sys.executable, "-m", "ruff", "check", "--output-format=concise",
                           "mentornet_tf", "tests", "benchmarks", "setup.py"],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
  assert "No module named ruff" not in result.stderr, "pip install -e .[test] installs ruff"
  assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
