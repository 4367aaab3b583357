"""The shipped data-driven MentorNet data/mentornet_models/digits_dd_40 loads and has DD's shape."""
import os

import numpy as np

from mentornet_tf.mentor import storage

_ROOT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data",
                     "mentornet_models", "digits_dd_40")


def _weights(model, loss, loss_diff, epoch=8):
  features = np.stack([loss, loss_diff, np.zeros_like(loss), np.full_like(loss, epoch)], 1)
  return 1 / (1 + np.exp(-model(features.astype(np.float32)).numpy()[:, 0]))


def test_digits_dd_40_loads_with_its_provenance_and_separates_by_loss():
  model, metadata = storage.load_mentornet(_ROOT)
  assert metadata["curriculum"] == "data_driven"
  assert metadata["learned_at_epoch_percentage"] == 7 and metadata["epochs"] == [7, 8]
  assert metadata["percentile"] == 50.0
  assert metadata["test_mse"] < 0.1
  # The student feeds it loss_diff = loss - moving average; with the average at 0.5:
  # well-fit examples are kept, high-loss (likely corrupted) ones dropped, with no floor.
  loss = np.array([0.05, 0.3, 3.0, 8.0], np.float32)
  v = _weights(model, loss, loss - 0.5)
  assert np.all(v[:2] > 0.95), v
  assert np.all(v[2:] < 0.01), v
