"""Learning a MentorNet from (features, v*) data (paper §3.1, App. D; original `train.py`).

Three objectives (original `code/training_mentornet/train.py` and paper App. D):
- sigmoid cross-entropy to binary targets (self-paced, hard mining, data-driven: paper §3.1 "as v*
  is binary, Theta is learned by minimizing the cross-entropy");
- "implicit" training: mean squared error between sigmoid(logit) and v* (App. D, Table 1);
- "explicit" training: minimise Eq. 4, the mean over the batch of v * x + G(v) with v =
  sigmoid(logit), for a curriculum with a known G (App. D, Fig. 2).
'auto' picks as the original did: cross-entropy when the targets are exactly {0, 1}, else MSE.

Optimiser as the original: Adam (TF1 epsilon 1e-8), LR 0.1 * 0.9^floor(step / 1000), gradients
clipped to global norm 5, batches of 32 drawn from a fresh seeded permutation on every pass (the
remainder of a pass is dropped). Only trainable variables are updated, so the frozen epoch
embedding stays bit-identical. For speed, `steps_per_call` optimiser steps run inside one
`tf.function` (a graph loop over precomputed batch indices).
"""
import dataclasses
import time
from typing import Callable, Dict, Optional, Tuple

import numpy as np
import tensorflow as tf
import tf_keras as keras

from mentornet_tf.mentor import curricula
from mentornet_tf.mentor import curriculum_objective
from mentornet_tf.mentor import network

MODES = ("auto", "implicit", "explicit", "data_driven")
_INPUT_COLUMN = {"loss": 0, "loss_diff": 1}


def _check(condition: bool, flag: str, value, requirement: str) -> None:
  # A plain ValueError (not config.ConfigError) keeps this module free of the student config.
  if not condition:
    raise ValueError(f"--{flag}={value!r} is invalid: {requirement}")


@dataclasses.dataclass(frozen=True)
class LearnConfig:
  """How a MentorNet is learned. Field names equal the `train_mentornet` flags where they exist.

  Attributes:
    mode: 'auto' | 'implicit' | 'explicit' | 'data_driven' (flag --training_mode).
    mini_batch_size: examples per step (original 32).
    max_step_train: optimiser steps (original 30000).
    learning_rate: initial Adam learning rate (original 0.1).
    decay_rate, decay_steps, staircase: LR = learning_rate * decay_rate^floor(step/decay_steps).
    clip_global_norm: gradients are clipped to this global norm (original 5); 0 disables.
    seed: seeds the initialisation (when a model is built) and the per-pass shuffles.
    eval_every: evaluate on the test set every N steps (and at the end); 0 = only at the end.
    steps_per_call: optimiser steps per tf.function call (speed only; results do not depend on it).
    jit_compile: compile the training loop with XLA (speed only).
  """
  mode: str = "auto"
  mini_batch_size: int = 32
  max_step_train: int = 30000
  learning_rate: float = 0.1
  decay_rate: float = 0.9
  decay_steps: int = 1000
  staircase: bool = True
  clip_global_norm: float = 5.0
  seed: int = 0
  eval_every: int = 2500
  steps_per_call: int = 500
  jit_compile: bool = True

  def __post_init__(self):
    _check(self.mode in MODES, "training_mode", self.mode, f"choose one of {', '.join(MODES)}")
    _check(self.mini_batch_size >= 1, "mini_batch_size", self.mini_batch_size, "must be >= 1")
    _check(self.max_step_train >= 1, "max_step_train", self.max_step_train, "must be >= 1")
    _check(self.learning_rate > 0, "learning_rate", self.learning_rate, "must be > 0")
    _check(0 < self.decay_rate <= 1, "decay_rate", self.decay_rate, "must lie in (0, 1]")
    _check(self.decay_steps >= 1, "decay_steps", self.decay_steps, "must be >= 1")
    _check(self.clip_global_norm >= 0, "clip_global_norm", self.clip_global_norm, "must be >= 0")
    _check(self.eval_every >= 0, "eval_every", self.eval_every, "must be >= 0")
    _check(self.steps_per_call >= 1, "steps_per_call", self.steps_per_call, "must be >= 1")


def is_binary_target(target: np.ndarray) -> bool:
  """The original `is_binary_label`: the unique target values are exactly {0, 1}."""
  return np.array_equal(np.unique(target), [0.0, 1.0])


def _check_data(name: str, data) -> np.ndarray:
  data = np.asarray(data, dtype=np.float32)
  if data.ndim != 2 or data.shape[1] != 5 or len(data) == 0:
    raise ValueError(f"{name} must be float [N>0, 5] (loss, loss_diff, label, epoch, target), "
                     f"got shape {data.shape}")
  if not np.all(np.isfinite(data)):
    raise ValueError(f"{name} holds non-finite values")
  return data


def _resolve_loss(mode: str, train: np.ndarray, curriculum) -> str:
  """Returns 'cross_entropy', 'mse' or 'explicit' for the config mode and data."""
  binary = is_binary_target(train[:, 4])
  if mode == "auto":
    return "cross_entropy" if binary else "mse"
  if mode == "implicit":
    return "mse"
  if mode == "data_driven":
    if not np.all(np.isin(train[:, 4], [0.0, 1.0])):
      raise ValueError("--training_mode=data_driven needs targets in {0, 1} (1 = clean label)")
    return "cross_entropy"
  if curriculum is None or curricula.get(curriculum).regularizer_fn is None:
    with_g = [c.name for c in curricula.CURRICULA.values() if c.regularizer_fn is not None]
    raise ValueError(f"--training_mode=explicit needs a curriculum with a known G "
                     f"({', '.join(with_g)}), got {curriculum!r}")
  return "explicit"


class _Batches:
  """Endless batch indices: a fresh seeded permutation per pass, the remainder dropped."""

  def __init__(self, num_examples: int, batch_size: int, seed: int):
    if num_examples < batch_size:
      raise ValueError(f"--mini_batch_size={batch_size} exceeds the {num_examples} training rows")
    self._n, self._b = num_examples, batch_size
    self._rng = np.random.default_rng(seed)
    self._pending = np.zeros([0, batch_size], np.int32)

  def take(self, steps: int) -> np.ndarray:
    """int32 [steps, batch_size]."""
    parts = [self._pending]
    have = len(self._pending)
    while have < steps:
      order = self._rng.permutation(self._n)[: (self._n // self._b) * self._b]
      parts.append(order.reshape(-1, self._b).astype(np.int32))
      have += len(parts[-1])
    stacked = np.concatenate(parts)
    self._pending = stacked[steps:]
    return stacked[:steps]


def _loss_fn(kind: str, curriculum, hparams):
  """(logits [B,1], features [B,4], target [B]) -> scalar loss, for the resolved kind."""
  if kind == "cross_entropy":
    def loss(logits, features, target):
      del features
      return tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(target, logits[:, 0]))
  elif kind == "mse":
    def loss(logits, features, target):
      del features
      return tf.reduce_mean(tf.square(target - tf.sigmoid(logits[:, 0])))
  else:
    curriculum = curricula.get(curriculum)
    column = _INPUT_COLUMN[curriculum.objective_input]

    def loss(logits, features, target):
      del target
      return tf.reduce_mean(curriculum_objective.objective(
          tf.sigmoid(logits[:, 0]), features[:, column], curriculum, **hparams))
  return loss


def evaluate(model, data: np.ndarray, curriculum=None, hparams=None,
             batch_size: int = 65536) -> Dict[str, float]:
  """Test metrics: MSE of sigmoid(logit) to the target; accuracy if binary; Eq. 4 if known G.

  Args:
    model: a MentorNet.
    data: float [N, 5].
    curriculum: optional Curriculum or name; with a known G, `objective` (mean Eq. 4) is added.
    hparams: the curriculum's hyper-parameters.
    batch_size: rows per forward pass.

  Returns:
    {'mse': float, 'accuracy': float (binary targets only), 'objective': float (known G only)}.
  """
  data = _check_data("data", data)
  weights = np.concatenate([
      tf.sigmoid(model(tf.constant(data[i:i + batch_size, :4]))).numpy()[:, 0]
      for i in range(0, len(data), batch_size)])
  target = data[:, 4]
  metrics = {"mse": float(np.mean(np.square(weights.astype(np.float64) - target)))}
  if np.all(np.isin(target, [0.0, 1.0])):
    metrics["accuracy"] = float(np.mean((weights > 0.5) == (target > 0.5)))
  if curriculum is not None and curricula.get(curriculum).regularizer_fn is not None:
    curriculum = curricula.get(curriculum)
    x = data[:, _INPUT_COLUMN[curriculum.objective_input]].astype(np.float64)
    metrics["objective"] = float(np.mean(curriculum_objective.objective(
        weights.astype(np.float64), x, curriculum, **(hparams or {}))))
  return metrics


def learn_mentornet(train, test, learn_config: LearnConfig = LearnConfig(),
                    mentornet_config: Optional[network.MentorNetConfig] = None,
                    curriculum=None, model=None,
                    curriculum_hparams: Optional[Dict[str, float]] = None,
                    progress: Optional[Callable[[int, int, float], None]] = None
                    ) -> Tuple[keras.Model, Dict]:
  """Learns (or continues learning) a MentorNet on [N, 5] data.

  Args:
    train: float [N, 5] (loss, loss_diff, label, epoch, target), N >= mini_batch_size.
    test: float [M, 5], evaluated every `eval_every` steps and at the end.
    learn_config: the optimisation settings and mode.
    mentornet_config: network sizes for a new model (default MentorNetConfig()); must be None or
      equal to the model's config when `model` is given.
    curriculum: a Curriculum or name; required for mode 'explicit', optional otherwise (adds the
      Eq. 4 objective to the metrics when its G is known).
    model: an existing MentorNet to continue training (paper Step 6); a fresh Adam optimiser and
      LR schedule start at step 0. None builds one seeded with learn_config.seed.
    curriculum_hparams: overrides of the curriculum's default hyper-parameters (Eq. 5 lambdas).
    progress: called as progress(step, max_step_train, mean training loss) after every
      `steps_per_call` steps (e.g. mentornet_tf.progress.StepProgress); None prints nothing.

  Returns:
    (model, metrics) with metrics: 'loss' (the objective kind), 'steps', 'test_mse',
    'test_accuracy' (binary targets), 'test_objective' (known G), 'train_loss' (mean over the
    last call), 'history' (list of dicts per evaluation), 'train_seconds', 'steps_per_second'.

  Raises:
    ValueError: bad data, mode/curriculum mismatch, or a config mismatch with `model`.
  """
  train = _check_data("train", train)
  test = _check_data("test", test)
  config = learn_config
  hparams = dict(curriculum_hparams or {})
  if curriculum is not None:
    hparams = curricula.get(curriculum).hparams(**hparams)
  kind = _resolve_loss(config.mode, train, curriculum)
  if model is None:
    model = network.build_mentornet(mentornet_config or network.MentorNetConfig(),
                                    seed=config.seed)
  elif mentornet_config is not None and getattr(model, "config", None) != mentornet_config:
    raise ValueError(f"mentornet_config {mentornet_config} differs from the given model's "
                     f"{getattr(model, 'config', None)}")

  schedule = keras.optimizers.schedules.ExponentialDecay(
      config.learning_rate, config.decay_steps, config.decay_rate, staircase=config.staircase)
  optimizer = keras.optimizers.Adam(learning_rate=schedule, epsilon=1e-8)
  variables = model.trainable_variables
  optimizer.build(variables)  # create slots outside the graph loop
  loss_fn = _loss_fn(kind, curriculum, hparams)
  features = tf.constant(train[:, :4])
  targets = tf.constant(train[:, 4])
  clip = float(config.clip_global_norm)

  @tf.function(jit_compile=config.jit_compile,
               input_signature=[tf.TensorSpec([None, None], tf.int32)])
  def run_steps(indices):
    """Runs len(indices) optimiser steps; returns the mean training loss. indices [K, B]."""
    total = tf.constant(0.0)
    for k in tf.range(tf.shape(indices)[0]):
      batch = indices[k]
      batch_features = tf.gather(features, batch)
      with tf.GradientTape() as tape:
        value = loss_fn(model(batch_features, training=True), batch_features,
                        tf.gather(targets, batch))
      gradients = tape.gradient(value, variables)
      if clip > 0:
        gradients, _ = tf.clip_by_global_norm(gradients, clip)
      optimizer.apply_gradients(zip(gradients, variables))
      total += value
    return total / tf.cast(tf.shape(indices)[0], tf.float32)

  batches = _Batches(len(train), config.mini_batch_size, config.seed)
  history, step, train_loss, seconds = [], 0, float("nan"), 0.0
  eval_every = config.eval_every or config.max_step_train
  while step < config.max_step_train:
    next_eval = min(config.max_step_train, (step // eval_every + 1) * eval_every)
    while step < next_eval:
      count = min(config.steps_per_call, next_eval - step)
      start = time.perf_counter()
      train_loss = float(run_steps(tf.constant(batches.take(count))))
      seconds += time.perf_counter() - start
      step += count
      if progress is not None:
        progress(step, config.max_step_train, train_loss)
    record = {"step": step, "train_loss": train_loss,
              "learning_rate": float(schedule(step - 1))}
    record.update({f"test_{k}": v for k, v in evaluate(model, test, curriculum, hparams).items()})
    history.append(record)

  metrics = {"loss": kind, "steps": step, "train_loss": train_loss, "history": history,
             "train_seconds": seconds, "steps_per_second": step / max(seconds, 1e-9)}
  metrics.update({k: v for k, v in history[-1].items() if k.startswith("test_")})
  return model, metrics
