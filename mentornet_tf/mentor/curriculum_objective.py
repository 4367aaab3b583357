"""The per-example objective of Eq. 4 / Eq. 6, v * x + G(v), of the curricula with a known G.

Explicit MentorNet training (App. D: minimise the objective instead of the MSE to v*,
`learning.py`) and SPADE Step 9's projected gradient step on v (`weighting/curriculum.py`) use
it. G is the curriculum's `regularizer_fn` (Eq. 5) and x its `objective_input` (`curricula.py`).
"""
from mentornet_tf.mentor import curricula


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
  curriculum = curricula.get(curriculum)
  if curriculum.regularizer_fn is None:
    with_g = [c.name for c in curricula.CURRICULA.values() if c.regularizer_fn is not None]
    raise ValueError(f"curriculum {curriculum.name!r} has no known G (paper §3.2: learn it "
                     f"implicitly); explicit objectives exist for {', '.join(with_g)}")
  (v, loss), is_tensor = curricula.as_tensors(v, loss)
  value = v * loss + curriculum.regularizer_fn(v, **curriculum.hparams(**hparams))
  return curricula.finish(value, is_tensor)
