"""grid_focus: extra predefined-grid rows of chosen epochs, never a test row (issue 10 §2)."""
import numpy as np
import pytest

from mentornet_tf.mentor import curricula
from mentornet_tf.mentor import grid_focus
from mentornet_tf.mentor import mentor_data


def test_focus_rows_come_from_the_epochs_asked_and_never_from_the_test_split():
  train, test = mentor_data.generate_predefined("mentornet_pd", sample_size=300000, seed=0)
  rows = grid_focus.focus_rows("mentornet_pd", (90, 99), 5000, exclude=test, seed=3, gamma=1.0)
  assert rows.shape == (5000, 5) and rows.dtype == np.float32
  assert np.all((rows[:, 3] >= 90) & (rows[:, 3] <= 99))
  # Grid points, labelled by the curriculum's v* (as generate_predefined labels them).
  expected = curricula.get("mentornet_pd").weights(*(rows[:, i].astype(np.float64)
                                                     for i in range(4)), gamma=1.0)
  np.testing.assert_allclose(rows[:, 4], np.asarray(expected, np.float32), atol=1e-7)
  test_points = {tuple(np.round(r[[0, 1, 3]], 3)) for r in test}
  assert not any(tuple(np.round(r[[0, 1, 3]], 3)) in test_points for r in rows)
  assert len({tuple(r[:4]) for r in rows}) == 5000  # without replacement
  again = grid_focus.focus_rows("mentornet_pd", (90, 99), 5000, exclude=test, seed=3, gamma=1.0)
  np.testing.assert_array_equal(rows, again)  # seeded


def test_with_focus_rows_adds_them_to_the_training_split_only():
  train, test = mentor_data.generate_predefined("mentornet_pd", sample_size=2000, seed=0)
  grown = grid_focus.with_focus_rows(train, test, "mentornet_pd", "95,99", 300, seed=1)
  assert grown.shape == (1900, 5)
  assert np.sum(grown[:, 3] >= 95) == np.sum(train[:, 3] >= 95) + 300


@pytest.mark.parametrize("epochs, count, message", [
    ("99,90", 10, r"--focus_epochs='99,90' is invalid"),
    ("90", 10, r"--focus_epochs='90' is invalid"),
    ("90,100", 10, r"--focus_epochs='90,100' is invalid"),
    ("99,99", 20000, r"--focus_rows=20000 is invalid: epochs 99-99 hold 1\d{4} grid rows"),
])
def test_bad_ranges_and_counts_name_the_flag(epochs, count, message):
  train, test = mentor_data.generate_predefined("mentornet_pd", sample_size=2000, seed=0)
  with pytest.raises(ValueError, match=message):
    grid_focus.with_focus_rows(train, test, "mentornet_pd", epochs, count)
