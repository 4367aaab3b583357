"""mentornet_tf: a TensorFlow 2 / tf_keras reimplementation of MentorNet (Jiang et al., ICML 2018).

Importing the package makes `tf.keras` resolve to tf_keras (the Keras 2 API) so that third-party
code (tf-models-official, tfds) and ours agree on one Keras; see WORKSPACE.md.
"""
import os

# Must happen before TensorFlow is imported anywhere: Keras 3 cannot run `fit` under
# MultiWorkerMirroredStrategy out of the box (keras-team/keras#20585) nor under
# ParameterServerStrategy at all; tf_keras runs both (WORKSPACE.md, "Decisions on the stack").
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__version__ = "0.1.0"
