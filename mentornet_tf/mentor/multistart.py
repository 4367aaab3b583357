"""Learning a MentorNet from several seeds, keeping the best, then fine-tuning it.

The original learned one MentorNet from one random start (`train.py`). A single start sometimes
stalls (data/mentornet_models/README.md: mentornet_pd seed 1 ends at test MSE 0.10), so
`learn_best` learns from seeds seed..seed+restarts-1 and keeps the model with the lowest score on
the TRAINING split (what was minimised: Eq. 4 when explicit, else the MSE to v*; the test split
plays no part). `finetune_learning_rates` then continues the kept model with a fresh Adam
optimiser from each of these learning rates in turn (the same decay, `max_step_train` steps
each): the original schedule ends at 0.1 x 0.9^30 = 0.004 with Adam's moments of the last steps,
and a restart of the schedule lower down refines what the first pass found (the shipped
mentornet_pd: test MSE 1.6e-4 -> 2.7e-5 after 0.01 and 0.003).
"""
import dataclasses
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from mentornet_tf.mentor import learning
from mentornet_tf.mentor import network

Progress = Callable[[str], Optional[Callable[[int, int, float], None]]]


def _score(model, train, curriculum, hparams, loss_kind) -> Tuple[float, Dict]:
  train_metrics = learning.evaluate(model, train, curriculum, hparams)
  return train_metrics["objective" if loss_kind == "explicit" else "mse"], train_metrics


def learn_best(train: np.ndarray, test: np.ndarray, config: learning.LearnConfig, *,
               restarts: int = 1, finetune_learning_rates: Sequence[float] = (),
               mentornet_config: Optional[network.MentorNetConfig] = None, curriculum=None,
               curriculum_hparams: Optional[Dict[str, float]] = None,
               initial: Optional[Callable[[], object]] = None,
               progress: Optional[Progress] = None,
               report: Callable[[str], None] = print) -> Dict:
  """Learns from `restarts` seeds, keeps the best on the training split, fine-tunes it.

  Args:
    train, test: float [N, 5] / [M, 5] MentorNet data (learning.learn_mentornet).
    config: the learning settings; restart r uses seed config.seed + r, fine-tuning stage k
      (1-based) the kept seed + 1000 k (its batch order).
    restarts: >= 1 starts.
    finetune_learning_rates: initial Adam learning rates of the fine-tuning stages, in order.
    mentornet_config, curriculum, curriculum_hparams: as learning.learn_mentornet.
    initial: () -> a MentorNet to continue from (a fresh copy per restart), or None (random).
    progress: label -> a progress callback for learning.learn_mentornet (or None).
    report: prints one line per restart and per fine-tuning stage.
  Returns:
    {'seed': the kept restart's seed, 'model', 'metrics' (the last learning run's, as
    learning.learn_mentornet), 'train_metrics' (learning.evaluate on the training split),
    'stages': [{'learning_rate', 'seed', 'train_mse' or objective score, 'test_mse'}, ...]}.
  """
  progress = progress or (lambda label: None)
  best = None
  for restart in range(restarts):
    start = initial() if initial is not None else None
    run_config = dataclasses.replace(config, seed=config.seed + restart)
    model, metrics = learning.learn_mentornet(
        train, test, run_config, mentornet_config if start is None else None, curriculum,
        model=start, curriculum_hparams=curriculum_hparams,
        progress=progress(f"restart {restart} (seed {run_config.seed})"))
    score, train_metrics = _score(model, train, curriculum, curriculum_hparams, metrics["loss"])
    report(f"restart {restart} (seed {run_config.seed}): train score {score:.6g}, "
           f"test_mse {metrics['test_mse']:.6g}, {metrics['steps_per_second']:.0f} steps/s")
    if best is None or score < best[0]:
      best = (score, run_config.seed, model, metrics, train_metrics)
  _, seed, model, metrics, train_metrics = best
  stages: List[Dict] = []
  for stage, learning_rate in enumerate(finetune_learning_rates, start=1):
    stage_config = dataclasses.replace(config, seed=seed + 1000 * stage,
                                       learning_rate=float(learning_rate))
    model, metrics = learning.learn_mentornet(
        train, test, stage_config, None, curriculum, model=model,
        curriculum_hparams=curriculum_hparams,
        progress=progress(f"fine-tuning {stage} (learning rate {learning_rate:g})"))
    score, train_metrics = _score(model, train, curriculum, curriculum_hparams, metrics["loss"])
    stages.append({"learning_rate": float(learning_rate), "seed": stage_config.seed,
                   "train_score": score, "test_mse": metrics["test_mse"]})
    report(f"fine-tuning {stage} (learning rate {learning_rate:g}): train score {score:.6g}, "
           f"test_mse {metrics['test_mse']:.6g}")
  return {"seed": seed, "model": model, "metrics": metrics, "train_metrics": train_metrics,
          "stages": stages}
