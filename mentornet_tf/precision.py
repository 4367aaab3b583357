"""Mixed precision for the StudentNet (`--dtype`): low-precision compute, float32 variables.

`--dtype=bfloat16` / `float16` build the StudentNet under tf_keras' `mixed_bfloat16` /
`mixed_float16` policy: every layer keeps float32 variables and computes in the low precision
(inputs and weights cast on use). Only the student is built under the policy; the MentorNet, the
weighting (percentile, loss moving average, v) and `SpadeModel`'s loss are float32, and
`SpadeModel` casts the student's logits to float32 before any loss.

float16's narrow range needs loss scaling: `wrap_optimizer` wraps the optimizer in a dynamic
`LossScaleOptimizer` (initial scale 2^15, halved on a non-finite gradient, doubled after 2000
finite steps); `SpadeModel.train_step` scales the loss it differentiates and unscales the
gradients, and a step whose scaled gradients overflow is skipped by the optimizer (not a
divergence). The wrapper changes the optimizer's checkpoint paths (`optimizer/inner_optimizer/...`
plus the loss scale); `--dtype` is part of the experiment (a restart cannot change it), so a run
always restores the structure it saved. bfloat16 has float32's range and needs no scaling.
"""
import contextlib

import tf_keras as keras

from mentornet_tf import config as config_lib

POLICIES = {"float32": "float32", "bfloat16": "mixed_bfloat16", "float16": "mixed_float16"}
assert tuple(POLICIES) == config_lib.DTYPES


@contextlib.contextmanager
def student_policy(dtype: str):
  """Builds the layers created inside under `dtype`'s policy; restores the global one after.

  Layers read the global policy when they are created, so only what is built inside the block
  (the StudentNet) computes in low precision.
  """
  previous = keras.mixed_precision.global_policy()
  keras.mixed_precision.set_global_policy(POLICIES[dtype])
  try:
    yield
  finally:
    keras.mixed_precision.set_global_policy(previous)


def wrap_optimizer(optimizer: keras.optimizers.Optimizer, dtype: str):
  """`optimizer`, in a dynamic LossScaleOptimizer for float16."""
  if dtype == "float16":
    return keras.mixed_precision.LossScaleOptimizer(optimizer)
  return optimizer
