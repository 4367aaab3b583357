"""Shared test set-up: tf_keras everywhere, quiet TF, a fixed seed."""
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import mentornet_tf  # noqa: E402,F401  (sets the environment before TensorFlow is imported)
