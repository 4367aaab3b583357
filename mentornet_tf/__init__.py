"""mentornet_tf: a TensorFlow 2 / tf_keras reimplementation of MentorNet (Jiang et al., ICML 2018).

The package imports `tf_keras` (the Keras 2 API) directly wherever it uses Keras, so it works the
same whatever `tf.keras` resolves to, and importing it changes no environment variable. The
commands (`python -m mentornet_tf.<entry>`, `mentornet-<entry>`) set their own TensorFlow
environment before TensorFlow is imported: see mentornet_tf/entry.py and WORKSPACE.md.
"""

__version__ = "0.1.0"
