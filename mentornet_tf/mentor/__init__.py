"""MentorNet: the network and its checkpoints, curricula, training data and learning, weighting.

Kept free of imports on purpose so that `import mentornet_tf.mentor.<module>` pulls in only what
that module needs. See WORKSPACE.md for which module owns what.
"""
