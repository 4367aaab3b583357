"""MentorNet training data: the predefined grid, splits, StudentNet dumps, data-driven targets."""
import numpy as np
import pytest

from mentornet_tf.mentor import curricula
from mentornet_tf.mentor import learning
from mentornet_tf.mentor import mentor_data


def test_grid_size_and_columns():
  grid = mentor_data.predefined_grid()
  assert grid.shape == (1_200_000, 4)
  losses, diffs, labels, epochs = (np.unique(grid[:, i]) for i in range(4))
  assert len(losses) == 120 and losses.min() == 0 and losses.max() == 29
  np.testing.assert_allclose(losses[:100], np.arange(0, 10, 0.1))
  np.testing.assert_array_equal(losses[100:], np.arange(10, 30, 1))
  assert len(diffs) == 100 and diffs.min() == -5 and diffs.max() == pytest.approx(4.9)
  np.testing.assert_array_equal(labels, [0])
  np.testing.assert_array_equal(epochs, np.arange(100))
  assert len(np.unique(grid, axis=0)) == len(grid)  # a Cartesian product: no repeated row


def test_predefined_split_sizes_no_off_by_one():
  train, test = mentor_data.generate_predefined("mentornet_pd")
  assert train.shape == (80000, 5) and test.shape == (20000, 5)
  assert train.dtype == np.float32 and test.dtype == np.float32
  train, test = mentor_data.generate_predefined("self_paced", sample_size=1000,
                                                train_fraction=0.75)
  assert len(train) == 750 and len(test) == 250
  both = np.concatenate([train, test])
  assert len(np.unique(both[:, :4], axis=0)) == 1000  # disjoint, no row used twice


def test_predefined_targets_follow_the_curriculum_and_hparams():
  for name in ("focal_loss", "mentornet_pd", "spcl_linear"):
    train, _ = mentor_data.generate_predefined(name, sample_size=5000)
    expected = curricula.CURRICULA[name].weights(*(train[:, i].astype(np.float64)
                                                   for i in range(4)))
    np.testing.assert_allclose(train[:, 4], expected, atol=1e-5, err_msg=name)
  gamma1, _ = mentor_data.generate_predefined("focal_loss", sample_size=2000, gamma=1.0)
  gamma2, _ = mentor_data.generate_predefined("focal_loss", sample_size=2000)
  np.testing.assert_array_equal(gamma1[:, :4], gamma2[:, :4])  # same seed, same rows
  np.testing.assert_allclose(gamma1[:, 4], 1 - np.exp(-gamma1[:, 0].astype(np.float64)),
                             atol=1e-6)
  np.testing.assert_allclose(gamma2[:, 4], gamma1[:, 4].astype(np.float64) ** 2, atol=1e-6)


def test_predefined_is_seeded():
  a, _ = mentor_data.generate_predefined("baseline", sample_size=3000, seed=7)
  b, _ = mentor_data.generate_predefined("baseline", sample_size=3000, seed=7)
  c, _ = mentor_data.generate_predefined("baseline", sample_size=3000, seed=8)
  np.testing.assert_array_equal(a, b)
  assert not np.array_equal(a, c)


def test_binary_flag_matches_the_original_loss_rule():
  """Curriculum.binary == the original is_binary_label on its grid data (CE vs MSE)."""
  for name, curriculum in curricula.CURRICULA.items():
    train, _ = mentor_data.generate_predefined(name, sample_size=20000)
    assert learning.is_binary_target(train[:, 4]) == curriculum.binary, name


def test_predefined_errors():
  with pytest.raises(ValueError, match="unknown curriculum"):
    mentor_data.generate_predefined("nope")
  with pytest.raises(ValueError, match="sample_size"):
    mentor_data.generate_predefined("baseline", sample_size=1_200_001)
  with pytest.raises(ValueError, match="train_fraction"):
    mentor_data.generate_predefined("baseline", sample_size=10, train_fraction=1.0)
  with pytest.raises(ValueError, match="no hyper-parameter gamma"):
    mentor_data.generate_predefined("self_paced", sample_size=10, gamma=2.0)


def _dump_rows():
  return np.array([[262, 18, 9, 9, 0.003101],
                   [47108, 18, 6, 1, 19.554157],
                   [5, 3, 2, 2, 1.0 / 3.0],
                   [262, 19, 9, 9, 0.25],
                   [7, 18, 0, 4, 2.5]])


def test_dump_round_trip_and_last_row_per_id(tmp_path):
  path = str(tmp_path / "dump.csv")
  rows = _dump_rows()
  mentor_data.write_student_dump(path, rows)
  with open(path) as f:
    assert f.readline() == "262 18 9 9 0.003101\n"  # the original format
  np.testing.assert_array_equal(mentor_data.read_student_dump(path, keep="all"), rows)
  last = mentor_data.read_student_dump(path)  # keep='last' is the default
  # id 262 keeps its LAST row (epoch 19) at the position where it first appeared.
  np.testing.assert_array_equal(last, rows[[3, 1, 2, 4]])


def test_bad_dump_files_name_file_and_line(tmp_path):
  cases = {"fields": "1 2 3 4 0.5\n1 2 3 0.5\n", "number": "1 2 3 4 abc\n",
           "integer": "1 2.5 3 4 0.5\n", "negative": "1 2 3 4 -1\n"}
  messages = {"fields": r":2: expected 5", "number": r":1: loss 'abc'",
              "integer": r":1: id, epoch", "negative": r":1: loss '-1'"}
  for name, text in cases.items():
    path = tmp_path / f"{name}.csv"
    path.write_text(text)
    with pytest.raises(ValueError, match=str(path) + messages[name]):
      mentor_data.read_student_dump(str(path))
  empty = tmp_path / "empty.csv"
  empty.write_text("\n# only a comment\n")
  with pytest.raises(ValueError, match="no rows"):
    mentor_data.read_student_dump(str(empty))
  with pytest.raises(FileNotFoundError, match="missing.csv"):
    mentor_data.read_student_dump(str(tmp_path / "missing.csv"))
  with pytest.raises(ValueError, match="keep"):
    mentor_data.read_student_dump(str(empty), keep="first")


def test_data_driven_targets_and_diff(tmp_path):
  rng = np.random.default_rng(3)
  n = 1000
  noisy = rng.integers(0, 10, n)
  clean = np.where(rng.random(n) < 0.7, noisy, rng.integers(0, 10, n))
  rows = np.stack([np.arange(n), np.full(n, 18), noisy, clean, rng.exponential(2.0, n)], axis=1)
  train, test = mentor_data.generate_data_driven(rows, percentile=90, seed=0)
  assert len(train) == 800 and len(test) == 200
  both = np.concatenate([train, test]).astype(np.float64)
  threshold = np.percentile(rows[:, 4], 90)  # global, linear interpolation
  np.testing.assert_allclose(both[:, 1], both[:, 0] - threshold, atol=1e-5)
  np.testing.assert_array_equal(both[:, 2], 0)
  np.testing.assert_array_equal(both[:, 3], 18)
  # Each row's target is 1[noisy == clean] of the dump row with that loss.
  order = np.argsort(rows[:, 4])
  found = np.searchsorted(rows[order, 4].astype(np.float32), both[:, 0].astype(np.float32))
  expected = (rows[order, 2] == rows[order, 3])[found]
  np.testing.assert_array_equal(both[:, 4], expected)
  assert 0.6 < both[:, 4].mean() < 0.85
  # Also from a path (read with keep='last').
  path = str(tmp_path / "dump.csv")
  mentor_data.write_student_dump(path, rows)
  from_path = mentor_data.generate_data_driven(path, percentile=90, seed=0)
  np.testing.assert_array_equal(from_path[0], train)
  with pytest.raises(ValueError, match="percentile"):
    mentor_data.generate_data_driven(rows, percentile=101)
