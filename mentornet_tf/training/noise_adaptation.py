"""The S-model's phase switch: set the noise-adaptation channel from the student's confusion.

At the end of step `pretrain_steps` (the first phase: the student trained with CE on the noisy
labels), one inference pass over the training split (eval preprocessing) counts C[argmax
prediction, noisy label]; the channel's W becomes log(row-normalised C + 1e-8) (Goldberger &
Ben-Reuven 2017, as their code initialises it), and from the next step the training loss is the
channel's (SpadeModel.train_step). A resumed run past the switch restores W from its checkpoint.
"""
from absl import logging
import numpy as np
import tensorflow as tf
import tf_keras as keras

from mentornet_tf import inspection


class ChannelInitialiser(keras.callbacks.Callback):
  """Assigns the S-model channel's W once, when the optimizer has done `pretrain_steps` steps."""

  def __init__(self, dataset: tf.data.Dataset, pretrain_steps: int):
    super().__init__()
    self.dataset = dataset
    self.pretrain_steps = int(pretrain_steps)
    self.done = False
    self.noise_rate = None  # 1 - trace(row-normalised C) / K, logged

  def on_train_batch_end(self, batch, logs=None):
    if self.done:
      return
    step = int(self.model.optimizer.iterations.numpy())
    if step > self.pretrain_steps:  # resumed after the switch: W comes from the checkpoint
      self.done = True
    elif step == self.pretrain_steps:
      self.initialise()

  def initialise(self):
    records = inspection.per_example_pass(self.model, self.dataset)
    channel = self.model.channel
    channel.initialise_from_confusion(records["prediction"], records["noisy_label"])
    theta = tf.nn.softmax(channel.w, axis=-1).numpy()
    self.noise_rate = float(1.0 - np.trace(theta) / theta.shape[0])
    self.done = True
    logging.warning("S-model: channel initialised from the confusion of %d training examples at "
                    "step %d (mean off-diagonal mass %.3f)", len(records["prediction"]),
                    self.pretrain_steps, self.noise_rate)
