"""README's Python example (your own model and data) runs as written and finds the wrong labels.

The example is read from README.md, so the documented code is the tested code.
"""
import os
import re

import numpy as np
import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SECTION = "## From Python: your own model and data"


def _readme_example() -> str:
  with open(os.path.join(REPO, "README.md"), encoding="utf-8") as f:
    text = f.read()
  assert SECTION in text
  match = re.search(r"```python\n(.*?)```", text[text.index(SECTION):], re.S)
  assert match, "the section has no python block"
  return match.group(1)


@pytest.mark.slow
def test_the_readme_example_flags_wrong_labels(monkeypatch, capsys):
  monkeypatch.chdir(REPO)  # the example names the shipped MentorNet by a repository path
  namespace = {}
  exec(compile(_readme_example(), "README.md example", "exec"), namespace)  # pylint: disable=exec-used
  printed = capsys.readouterr().out
  clean, noisy, suspects = namespace["clean"], namespace["noisy"], namespace["suspects"]
  wrong = noisy != clean
  # What the README quotes it printing, recomputed: the count and the share of wrong labels.
  share = np.mean(wrong[suspects])
  assert f"{len(suspects)} examples weighted below 0.5; {share:.0%} of them" in printed
  # The curriculum, not chance: 29% of the labels are wrong, so flagging at random would find
  # about 29% wrong ones. Measured: all 575 wrong labels flagged, nothing else; the thresholds
  # leave room for other CPUs' float paths.
  assert share >= 0.95
  assert len(suspects) >= 0.9 * wrong.sum()
  records = namespace["records"]
  assert sorted(records) == ["clean_label", "id", "loss", "noisy_label", "prediction", "weight"]
  np.testing.assert_array_equal(records["id"], np.arange(len(noisy)))
  np.testing.assert_array_equal(records["clean_label"], noisy)  # no clean_label key: the noisy
  # The student learned the true classes despite the noise (measured 1.0; chance 0.25).
  accuracy = np.mean(records["prediction"] == clean)
  assert accuracy >= 0.95, accuracy
