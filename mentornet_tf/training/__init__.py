"""What runs beside `fit` in a training run, built by one factory (`build_callbacks`).

  factory.py      `build_callbacks(config, ..., mentornet=...)`: the run's callbacks, in order
  callbacks.py    StopAtStep, NonFiniteCheck (--jit_compile), EpochEvaluation, ResultTracker
  checkpointing.py  Checkpointer (save, resume), StepCheckpoints (--save_interval_steps, SIGTERM)
  summaries.py    TensorBoard: per-step tags, validation, throughput, v histogram, hparams
  monitoring.py   weight export (`--export_weights`), curriculum images of the MentorNet
  curriculum_updates.py  Step 6: `learn_data_driven` and `MentorNetUpdater` (MentorNet DD
                  re-learned during the run and assigned into the running MentorNet)
"""
from mentornet_tf.training.factory import build_callbacks  # noqa: F401
from mentornet_tf.training.factory import RunCallbacks  # noqa: F401
