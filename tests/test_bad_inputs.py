"""Bad input to the entry points: each case ends with the documented exit status (2 = refused
input, see mentornet_tf/cli.py), one `error:` line last that names the flag, file or value, no
traceback, and the case directory exactly as it was (nothing written, nothing lost).

The cases live in `bad_input_cases_*.py` (one module per group of entry points); the harness
(`bad_input_harness.py`) runs all cases of an entry point in one process.
"""
import importlib
import re

import pytest

import bad_input_harness as harness

CASE_MODULES = ("bad_input_cases_train", "bad_input_cases_evaluate", "bad_input_cases_tools",
                "bad_input_cases_export", "bad_input_cases_sources")


def _all_cases():
  cases = []
  for name in CASE_MODULES:
    try:
      module = importlib.import_module(name)
    except ModuleNotFoundError as error:
      if error.name != name:
        raise
      continue
    cases.extend(module.CASES)
  return cases


CASES = _all_cases()
_RESULTS = {}


def test_case_ids_are_unique_and_enough():
  ids = [case.id for case in CASES]
  assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)
  assert len(ids) >= 60, len(ids)
  assert {case.entry for case in CASES} == set(harness.ENTRIES)


# The README test command distributes by file (`-n auto --dist loadfile`), so one xdist worker
# runs every case: this harness runs all cases of the session at once, and a second worker would
# run them all again. (`--dist loadgroup` with an xdist_group mark would do the same, but
# pytest-xdist 3.8's group suffix is lost under pytest 9: measured, the cases were split.)
@pytest.fixture(scope="session")
def bad_input_results(tmp_path_factory):
  """All entry points' cases, run once per session: one driver process per entry point, as many
  at a time as there are CPUs."""
  def results_for(entry):
    if not _RESULTS:
      entries = sorted({case.entry for case in CASES})
      _RESULTS.update(harness.run_all(
          {e: [c for c in CASES if c.entry == e] for e in entries},
          {e: str(tmp_path_factory.mktemp(f"bad_{e}")) for e in entries}))
    return _RESULTS[entry]
  return results_for


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_bad_input(case, bad_input_results):
  result = bad_input_results(case.entry)[case.id]
  stderr = result["stderr"]
  context = f"\n--- stdout ---\n{result['stdout'][-1500:]}\n--- stderr ---\n{stderr[-3000:]}"
  assert result["status"] == case.status, context
  assert "Traceback" not in stderr, context
  lines = [line for line in stderr.splitlines() if line.strip()]
  assert lines, context
  assert lines[-1].startswith("error: "), context
  assert re.search(case.message, lines[-1]), f"{case.message!r} not in the last line{context}"
  before, after = result["before"], result["after"]
  changed = sorted(k for k in before if k in after and before[k] != after[k])
  assert after == before, (
      f"the case changed its directory: added {sorted(set(after) - set(before))}, removed "
      f"{sorted(set(before) - set(after))}, changed {changed}{context}")
