"""Predefined curricula: the target weight v* of an example, and G(v) where it is known.

A curriculum maps MentorNet's features (loss, loss_diff, label, epoch percentage) to the weight a
MentorNet should learn to output (paper §3.1, "learning to approximate predefined curriculums";
original `code/training_mentornet/models.py`, the `vstar_*` functions, ../shared/reference/
original_code.md §4.1). Every weight function is pure and works on numpy arrays (returns numpy)
and on TF tensors (returns tensors, also inside `tf.function`).

Which variable a curriculum thresholds. The paper writes Eq. 2 and Eq. 7 on the loss l_i with
fixed lambdas; the original code writes them on loss_diff = l_i - l_pt, where l_pt is the moving
average of the p-th percentile loss, i.e. lambda1 is absorbed into the adaptive l_pt. Both views:
  self_paced(diff; lambda1)  = Eq. 7 on loss_diff with lambda2 = 0, i.e. 1[diff <= lambda1];
  spcl_linear(diff; gamma)   = Eq. 7 on loss_diff with lambda1 = 0, lambda2 = gamma;
  closed_form(loss; l1, l2)  = Eq. 7 on the loss itself, as printed in the paper.
`Curriculum.objective_input` names the variable ('loss' or 'loss_diff') that v multiplies in the
per-example objective v * x + G(v) (Eq. 4, Eq. 6); `objective` and explicit training use it.
"""
import dataclasses
import inspect
from typing import Callable, Dict, Optional

import numpy as np
import tensorflow as tf

# Epoch-percentage boundaries of the original `vstar_mentornet_pd` and of Appendix D's temporal
# mixture.
PD_BURN_IN_EPOCH = 18
PD_SPCL_EPOCH = 90
TEMPORAL_MIXTURE_EPOCH = 50


@dataclasses.dataclass(frozen=True)
class Curriculum:
  """A predefined curriculum.

  Attributes:
    name: the key in CURRICULA (and the `--vstar_fn` value).
    weight_fn: (loss, loss_diff, label, epoch, **hparams) -> v* in [0, 1], same shape as loss.
    regularizer_fn: (v, **hparams) -> per-example G(v) for curricula with a known G (Eq. 5),
      else None. Summing over examples gives the paper's G(v; lambda).
    binary: True when v* takes only the values 0 and 1 on the predefined grid (both occur), which
      is when the original trains with sigmoid cross-entropy instead of MSE (§4.3). The all-ones
      baseline is therefore not binary, as in the original.
    default_hparams: hyper-parameters and their defaults; weight_fn accepts exactly these.
    objective_input: the feature that v multiplies in v * x + G(v): 'loss' or 'loss_diff'.
  """
  name: str
  weight_fn: Callable
  regularizer_fn: Optional[Callable]
  binary: bool
  default_hparams: Dict[str, float]
  objective_input: str = "loss_diff"

  def hparams(self, **overrides) -> Dict[str, float]:
    """default_hparams updated with `overrides`; an unknown name raises ValueError.

    Besides default_hparams, keyword inputs of weight_fn (prediction_variance's `history`) pass.
    """
    accepted = set(inspect.signature(self.weight_fn).parameters) - {
        "loss", "loss_diff", "label", "epoch"}
    unknown = sorted(set(overrides) - set(self.default_hparams) - accepted)
    if unknown:
      raise ValueError(f"curriculum {self.name!r} has no hyper-parameter {', '.join(unknown)}; "
                       f"it takes {sorted(self.default_hparams) or 'none'}")
    return {**self.default_hparams, **overrides}

  def weights(self, loss, loss_diff, label, epoch, **hparams):
    """weight_fn with the defaults filled in (and unknown names rejected)."""
    return self.weight_fn(loss, loss_diff, label, epoch, **self.hparams(**hparams))


def _as_tensors(*arrays):
  """Converts to tensors of one float dtype: that of the first float input (float32 fallback).

  Returns:
    (tensors, is_tensor) where is_tensor says whether any input already was a TF tensor, i.e.
    whether the result should stay a tensor.
  """
  is_tensor = any(tf.is_tensor(a) for a in arrays)
  dtype = tf.float32
  for a in arrays:
    a_dtype = a.dtype if tf.is_tensor(a) else getattr(np.asarray(a), "dtype", None)
    a_dtype = tf.as_dtype(a_dtype) if a_dtype is not None else None
    if a_dtype is not None and a_dtype.is_floating:
      dtype = a_dtype
      break
  return [tf.cast(a, dtype) if tf.is_tensor(a) else tf.constant(a, dtype) for a in arrays], is_tensor


def _finish(value, is_tensor):
  return value if is_tensor else value.numpy()


def _check_hparam(curriculum, name, value, strictly_positive=False):
  """Rejects a negative (or, if asked, zero) Python hyper-parameter; tensors are not checked."""
  if tf.is_tensor(value):
    return
  if not (value > 0 if strictly_positive else value >= 0):
    bound = "> 0" if strictly_positive else ">= 0"
    raise ValueError(f"curriculum {curriculum!r} needs {name} {bound}, got {value!r}")


def _eq7(x, lambda1, lambda2):
  """Paper Eq. 7: 1[x <= l1] if l2 == 0 else clip(1 - (x - l1) / l2, 0, 1). x: tensor [...]."""
  lambda1 = tf.cast(lambda1, x.dtype)
  lambda2 = tf.cast(lambda2, x.dtype)
  hard = tf.cast(x <= lambda1, x.dtype)
  # Divide by 1 where lambda2 == 0 so that the unused branch never produces inf/NaN.
  safe_lambda2 = tf.where(lambda2 > 0, lambda2, tf.ones_like(lambda2))
  linear = tf.clip_by_value(1.0 - (x - lambda1) / safe_lambda2, 0.0, 1.0)
  return tf.where(lambda2 > 0, linear, hard)


def _eq5_regularizer(v, lambda1, lambda2):
  """Per-example G of Eq. 5: 0.5 * l2 * v^2 - (l1 + l2) * v (numpy in, numpy out)."""
  (v,), is_tensor = _as_tensors(v)
  lambda1 = tf.cast(lambda1, v.dtype)
  lambda2 = tf.cast(lambda2, v.dtype)
  return _finish(0.5 * lambda2 * tf.square(v) - (lambda1 + lambda2) * v, is_tensor)


def baseline(loss, loss_diff, label, epoch):
  """No curriculum: v* = 1 for every example (original `vstar_baseline`)."""
  (loss, _, _, _), is_tensor = _as_tensors(loss, loss_diff, label, epoch)
  return _finish(tf.ones_like(loss), is_tensor)


def self_paced(loss, loss_diff, label, epoch, lambda1=0.0):
  """Self-paced learning (Kumar et al. 2010, Eq. 2): v* = 1[loss_diff <= lambda1].

  With lambda1 = 0 (the original `vstar_self_paced`) an example is "easy" when its loss is below
  the moving percentile. The matching G is -lambda1 * v (Eq. 5 with lambda2 = 0) on loss_diff.
  """
  (_, loss_diff, _, _), is_tensor = _as_tensors(loss, loss_diff, label, epoch)
  return _finish(_eq7(loss_diff, lambda1, 0.0), is_tensor)


def hard_example_mining(loss, loss_diff, label, epoch):
  """Hard example mining (Felzenszwalb et al. 2010): v* = 1[loss_diff >= 0] or 1[label > 0].

  The label branch is the original's; with the label fixed at 0 it never fires.
  """
  (_, loss_diff, label, _), is_tensor = _as_tensors(loss, loss_diff, label, epoch)
  hard = tf.logical_or(loss_diff >= 0, label > 0)
  return _finish(tf.cast(hard, loss_diff.dtype), is_tensor)


def focal_loss(loss, loss_diff, label, epoch, gamma=2.0):
  """Focal loss (Lin et al. 2017, Eq. 8): v* = (1 - exp(-loss))^gamma.

  The original defined --vstar_gamma but never passed it, so gamma was always 2; here it is used.
  """
  (loss, _, _, _), is_tensor = _as_tensors(loss, loss_diff, label, epoch)
  return _finish(tf.pow(1.0 - tf.exp(-loss), tf.cast(gamma, loss.dtype)), is_tensor)


def spcl_linear(loss, loss_diff, label, epoch, gamma=1.0):
  """Linear self-paced weighting (Jiang et al. 2015): v* = clip(1 - loss_diff / gamma, 0, 1).

  This is Eq. 7 on loss_diff with lambda1 = 0 and lambda2 = gamma.
  """
  (_, loss_diff, _, _), is_tensor = _as_tensors(loss, loss_diff, label, epoch)
  _check_hparam("spcl_linear", "gamma", gamma, strictly_positive=True)
  return _finish(_eq7(loss_diff, 0.0, gamma), is_tensor)


def closed_form(loss, loss_diff, label, epoch, lambda1=0.0, lambda2=1.0):
  """The paper's closed-form optimum of Eq. 6 (Eq. 7) on the loss, both branches.

  v* = 1[loss <= lambda1] when lambda2 == 0, else min(max(0, 1 - (loss - lambda1) / lambda2), 1).
  Its G is Eq. 5 (`regularizer` below); lambda1, lambda2 >= 0.
  """
  (loss, _, _, _), is_tensor = _as_tensors(loss, loss_diff, label, epoch)
  _check_hparam("closed_form", "lambda1", lambda1)
  _check_hparam("closed_form", "lambda2", lambda2)
  return _finish(_eq7(loss, lambda1, lambda2), is_tensor)


def _active_bias_weight(history_losses, epsilon):
  """Chang et al. 2017 ("active bias", SGD-weighted by prediction variance), scaled to [0, 1].

  p = exp(-loss) is the probability the student gives the (noisy) label under softmax CE. Their
  weight is proportional to std_hat(p) + epsilon with the small-sample corrected
  std_hat = sqrt(var + var^2 / (H - 1)) over the H recorded epochs. The std of a [0, 1] variable
  is at most 0.5, so 2 * std_hat + epsilon, clipped to [0, 1], is a weight in [0, 1].
  """
  probability = tf.clip_by_value(tf.exp(-tf.maximum(history_losses, 0.0)), 0.0, 1.0)
  size = tf.cast(tf.shape(probability)[-1], probability.dtype)
  mean = tf.reduce_mean(probability, axis=-1)
  variance = tf.reduce_mean(tf.square(probability - mean[..., None]), axis=-1)
  corrected = tf.sqrt(variance + tf.square(variance) / tf.maximum(size - 1.0, 1.0))
  return tf.clip_by_value(2.0 * corrected + epsilon, 0.0, 1.0)


def prediction_variance(loss, loss_diff, label, epoch, epsilon=0.05, history=None):
  """Prediction variance (Chang et al. 2017): uncertain examples get large weights.

  Args:
    loss, loss_diff, label, epoch: [N] features.
    epsilon: smoothing constant added to the std (their epsilon_t), so stable examples keep a
      small weight.
    history: optional [N, H] losses of each example over its H most recent epochs (the paper's
      App. D LSTM with step size 10 reads such a history). When None, the 4-feature benchmark
      mapping is used: a two-epoch history (max(loss - loss_diff, 0), loss), i.e. loss_diff is
      read as the change of the example's loss since its previous visit. Then
      v* = clip(|exp(-loss) - exp(-prev)| * sqrt(1 + var) + epsilon, 0, 1).

  Returns:
    v* in [0, 1], shaped like loss.
  """
  (loss, loss_diff, _, _), is_tensor = _as_tensors(loss, loss_diff, label, epoch)
  if history is None:
    history = tf.stack([loss - loss_diff, loss], axis=-1)
  else:
    (history,), _ = _as_tensors(history)
    history = tf.cast(history, loss.dtype)
  return _finish(_active_bias_weight(history, tf.cast(epsilon, loss.dtype)), is_tensor)


def temporal_mixture(loss, loss_diff, label, epoch):
  """Appendix D's temporal mixture: self-paced for epoch < 50, hard mining for epoch >= 50."""
  (loss, loss_diff, label, epoch), is_tensor = _as_tensors(loss, loss_diff, label, epoch)
  early = self_paced(loss, loss_diff, label, epoch)
  late = hard_example_mining(loss, loss_diff, label, epoch)
  return _finish(tf.where(epoch < TEMPORAL_MIXTURE_EPOCH, early, late), is_tensor)


def mentornet_pd(loss, loss_diff, label, epoch, gamma=1.0):
  """The original `vstar_mentornet_pd`: 1 for epoch <= 18, self-paced for 18 < epoch < 90,
  spcl_linear(gamma) for epoch >= 90 (§4.1; the shipped model is `mentornet_pd1_g_1`, gamma 1).
  """
  (loss, loss_diff, label, epoch), is_tensor = _as_tensors(loss, loss_diff, label, epoch)
  middle = self_paced(loss, loss_diff, label, epoch)
  late = spcl_linear(loss, loss_diff, label, epoch, gamma=gamma)
  value = tf.where(epoch <= PD_BURN_IN_EPOCH, tf.ones_like(loss),
                   tf.where(epoch < PD_SPCL_EPOCH, middle, late))
  return _finish(value, is_tensor)


def _self_paced_regularizer(v, lambda1=0.0):
  return _eq5_regularizer(v, lambda1, 0.0)


def _spcl_regularizer(v, gamma=1.0):
  return _eq5_regularizer(v, 0.0, gamma)


def _closed_form_regularizer(v, lambda1=0.0, lambda2=1.0):
  return _eq5_regularizer(v, lambda1, lambda2)


CURRICULA: Dict[str, Curriculum] = {c.name: c for c in (
    Curriculum("baseline", baseline, None, False, {}),
    Curriculum("self_paced", self_paced, _self_paced_regularizer, True, {"lambda1": 0.0}),
    Curriculum("hard_example_mining", hard_example_mining, None, True, {}),
    Curriculum("focal_loss", focal_loss, None, False, {"gamma": 2.0}, "loss"),
    Curriculum("spcl_linear", spcl_linear, _spcl_regularizer, False, {"gamma": 1.0}),
    Curriculum("closed_form", closed_form, _closed_form_regularizer, False,
               {"lambda1": 0.0, "lambda2": 1.0}, "loss"),
    Curriculum("prediction_variance", prediction_variance, None, False, {"epsilon": 0.05}),
    Curriculum("temporal_mixture", temporal_mixture, None, True, {}),
    Curriculum("mentornet_pd", mentornet_pd, None, False, {"gamma": 1.0}),
)}


def get(curriculum) -> Curriculum:
  """A Curriculum from itself or its name; an unknown name raises ValueError listing the names."""
  if isinstance(curriculum, Curriculum):
    return curriculum
  if curriculum not in CURRICULA:
    raise ValueError(f"unknown curriculum {curriculum!r}; choose one of {', '.join(CURRICULA)}")
  return CURRICULA[curriculum]


def objective(v, loss, curriculum, **hparams):
  """Per-example objective of Eq. 4 / Eq. 6: v * x + G(v; hparams).

  Used to train a MentorNet "explicitly" (App. D: minimise Eq. 4 instead of the MSE to v*) and
  for SPADE Step 9's projected gradient step on v. Its minimiser over v in [0, 1] is the
  curriculum's weight_fn (Eq. 7), which the tests check.

  Args:
    v: [N] weights in [0, 1] (numpy or tensor).
    loss: [N] the variable v multiplies: the feature named by `curriculum.objective_input`
      (loss_diff for self_paced and spcl_linear, the loss for closed_form).
    curriculum: a Curriculum or its name; it must have a known G.
    **hparams: overrides of the curriculum's default_hparams.

  Returns:
    [N] per-example objective (numpy for numpy input, else a tensor).

  Raises:
    ValueError: the curriculum has no known G, or an unknown hyper-parameter is given.
  """
  curriculum = get(curriculum)
  if curriculum.regularizer_fn is None:
    with_g = [c.name for c in CURRICULA.values() if c.regularizer_fn is not None]
    raise ValueError(f"curriculum {curriculum.name!r} has no known G (paper §3.2: learn it "
                     f"implicitly); explicit objectives exist for {', '.join(with_g)}")
  (v, loss), is_tensor = _as_tensors(v, loss)
  value = v * loss + curriculum.regularizer_fn(v, **curriculum.hparams(**hparams))
  return _finish(value, is_tensor)
