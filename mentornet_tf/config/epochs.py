"""What an epoch is in steps, defined once: a pass over the training data (`data_epoch_steps`:
what --train_epochs and --num_epochs_per_decay count) and a Keras epoch (`steps_per_epoch`: the
interval of evaluation and epoch-end checkpoints, --steps_per_epoch when given).

No TensorFlow import here.
"""
import dataclasses
import math

from mentornet_tf.config.training import TrainConfig


def data_epoch_steps(config: TrainConfig, num_train: int) -> int:
  """Steps of one pass over the training data: num_train // global batch (>= 1).

  Floor, not ceil: the training stream repeats, so every step takes a full global batch and an
  epoch of floor(N / B) steps sees each example at most once. --steps_per_epoch does not change
  it: it only re-chunks the run into Keras epochs (as the original, whose decay epochs were
  num_samples_per_epoch / batch_size steps).
  """
  return max(1, num_train // config.data.batch_size)


def steps_per_epoch(config: TrainConfig, num_train: int) -> int:
  """Steps of one Keras epoch: `config.steps_per_epoch`, or a data epoch (`data_epoch_steps`)."""
  return config.steps_per_epoch or data_epoch_steps(config, num_train)


def resolve_train_epochs(config: TrainConfig, num_train: int) -> TrainConfig:
  """The config with `max_number_of_steps` = ceil(train_epochs * data_epoch_steps) when
  `train_epochs` > 0 (else unchanged).

  The paper states its large-scale schedules in epochs (App. E.1: 1M steps at batch 32 on
  ImageNet = 25 epochs); a flagfile that says `--train_epochs=25` trains 25 epochs whatever the
  global batch (the number of workers) is. The result is what config.json records.
  """
  if config.train_epochs <= 0:
    return config
  steps = max(1, math.ceil(config.train_epochs * data_epoch_steps(config, num_train)))
  return dataclasses.replace(config, max_number_of_steps=steps)


def epochs_for(max_number_of_steps: int, steps_per_epoch: int) -> int:
  """Number of Keras epochs that cover `max_number_of_steps` (the last one may be partial)."""
  return max(1, math.ceil(max_number_of_steps / steps_per_epoch))
