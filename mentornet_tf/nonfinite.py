"""The divergence check of a training step: a non-finite loss, gradient norm or v stops training.

Two forms of one check, both called from `SpadeModel.train_step` (spade.py):

- without XLA, `assert_finite` adds a `tf.debugging.Assert` to the step: a non-finite step ends
  `fit`'s call with an error, so no callback runs after it and nothing is saved after it;
  `parse_divergence` reads the step and values back from the message (train_lib turns them into
  `TrainingDiverged`);
- under `--jit_compile` (XLA drops `tf.debugging.Assert`), `record_first_nonfinite` records the
  first non-finite step in a variable; the `NonFiniteCheck` callback then raises
  `NonFiniteStep` on the host (`raise_if_recorded`) with the same values, before any other
  callback acts on the call.

`all_finite` decides, identically on every replica. TF only.
"""
import re
from typing import Dict, Optional

import tensorflow as tf


DIVERGENCE_MARKER = "mentornet_tf: non-finite training step"
FIELDS = ("step", "loss", "gradient_norm", "v_min", "v_max")  # the record's layout, in order
NONFINITE_LOG = "nonfinite_step"  # --jit_compile: the step's log of the first non-finite step


class NonFiniteStep(Exception):
  """Raised on the host (--jit_compile) at the first non-finite step; `values` as
  `parse_divergence` returns them."""

  def __init__(self, values: Dict[str, float]):
    super().__init__(f"{DIVERGENCE_MARKER}: {values}")
    self.values = values


def parse_divergence(message: str) -> Optional[Dict[str, float]]:
  """The values of a failed finiteness check from its error message, or None if it is not one.

  The check is a `tf.debugging.Assert` whose data list is the marker then (name, value) pairs;
  TensorFlow prints each as `[item]`.
  """
  if DIVERGENCE_MARKER not in message:
    return None
  found = {}
  for name in FIELDS:
    match = re.search(rf"\[{name}\]\s*\[([^\]]*)\]", message)
    if match:
      try:
        found[name] = float(match.group(1))
      except ValueError:
        pass
  if "step" in found:
    found["step"] = int(found["step"])
  return found


def all_finite(total_loss, gradient_norm, weights):
  """Whether the loss (scalar), the gradient norm (scalar; None: not checked) and every v [B]
  are finite, on every replica (an all-reduced count of non-finite replicas, so that replicas
  agree and none waits alone in a collective). A scalar bool tensor."""
  finite = tf.logical_and(tf.math.is_finite(total_loss),
                          tf.reduce_all(tf.math.is_finite(weights)))
  if gradient_norm is not None:
    finite = tf.logical_and(finite, tf.math.is_finite(gradient_norm))
  replica_context = tf.distribute.get_replica_context()
  if replica_context is not None and replica_context.num_replicas_in_sync > 1:
    finite = replica_context.all_reduce(tf.distribute.ReduceOp.SUM,
                                        tf.cast(tf.logical_not(finite), tf.float32)) < 0.5
  return finite


def assert_finite(finite, iterations, total_loss, gradient_norm, weights) -> None:
  """Ends the step with an error naming it when the loss, gradient norm or v are not finite.

  An in-graph assertion (no extra host round trip): the error reaches `fit` with the step
  (`iterations` + 1, the optimizer's pre-increment count) and the values (`parse_divergence`).
  tf.function runs it (a stateful op) before its call returns, so `fit`'s callbacks, and with
  them every checkpoint save, never run after a non-finite step: the newest checkpoint holds the
  last finite state. The update does NOT wait for it: a barrier between the last gradient and
  the first variable update cost the step 2-5% on CPU (benchmarks/finite_check_cost.py,
  ResNet-50 at batch 16: 1.022 gated, 0.990 not; WORKSPACE.md, "Divergence"), and on a GPU it
  would hold every update until the host has read the flag (reasoned, not measured). So the
  failed step's own update may reach the in-memory weights of the run that stops; they are
  never saved. `finite` from `all_finite`.
  """
  tf.debugging.Assert(finite, [
      DIVERGENCE_MARKER, "step", iterations + 1, "loss", total_loss,
      "gradient_norm", gradient_norm, "v_min", tf.reduce_min(weights), "v_max",
      tf.reduce_max(weights)], summarize=1)


def record_first_nonfinite(record, finite, iterations, total_loss, gradient_norm, weights):
  """--jit_compile: records the first non-finite step in `record`; returns its step (0: none).

  XLA compiles tf.debugging.Assert away, so the first non-finite step's values are kept in
  `record` (a float64 [5] variable laid out as `FIELDS`; step 0 = none yet) and the
  `NonFiniteCheck` callback, first in fit's list, raises `NonFiniteStep` on the host after the
  call, before any other callback (and so any checkpoint save) acts on it. As without XLA the
  update does not wait for the check: that step's update, and those of the later steps of one
  --steps_per_execution call, may reach the in-memory weights of the run that stops, never a
  checkpoint. (The update used to sit in a tf.cond on `finite`: it cost Inception-ResNet-v2's
  compiled CPU step 5-35% of the plain step, benchmarks/results/scale_step_cpu.md.) Call it
  before the optimizer update: `iterations` must be read before the update increments it.
  """
  recorded = record.read_value()
  values = tf.stack([tf.cast(v, tf.float64) for v in (
      iterations + 1, total_loss, gradient_norm, tf.reduce_min(weights), tf.reduce_max(weights))])
  recorded = tf.where(tf.logical_or(finite, recorded[0] > 0.5), recorded, values)
  record.assign(recorded)
  return recorded[0]


def raise_if_recorded(logs, record) -> None:
  """Raises NonFiniteStep when the logs of a --jit_compile step report a non-finite step;
  its values read from `record` (the variable `record_first_nonfinite` writes)."""
  if logs is None or NONFINITE_LOG not in logs or float(logs[NONFINITE_LOG]) < 0.5:
    return
  values = dict(zip(FIELDS, record.numpy().tolist()))
  values["step"] = int(values["step"])
  raise NonFiniteStep(values)
