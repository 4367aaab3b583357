"""Per-epoch whole-split diagnostics (weight export) and the MentorNet's curriculum images.

With `--export_weights` every epoch writes weights/epoch_NNNN.csv (id, loss, weight, noisy label,
clean label, prediction) for the whole training split, and to TensorBoard (`train_split/...`)
histograms of v and the precision and recall of v as a detector of clean examples
(`spade.v_detection`, the definition the per-step `noise/v_*_clean` use).
`python -m mentornet_tf.list_mislabelled` reads the files back. Runs on the host (chief) after
each epoch: an extra inference pass over the data.
"""
import os

import numpy as np
import tensorflow as tf
import tf_keras as keras

from mentornet_tf import inspection
from mentornet_tf import spade


class WeightExporter(keras.callbacks.Callback):
  """Writes the per-example records and their summaries at the end of every epoch."""

  def __init__(self, dataset: tf.data.Dataset, train_log_dir: str, chief: bool = True,
               writer=None):
    super().__init__()
    self.dataset = dataset
    self.directory = os.path.join(train_log_dir, "weights")
    self.chief = chief
    self.writer = writer if chief else None  # shared with the Step 6 summaries

  def on_epoch_end(self, epoch, logs=None):
    records = inspection.per_example_pass(self.model, self.dataset)
    if not self.chief:
      return
    inspection.write_weights(os.path.join(self.directory, f"epoch_{epoch + 1:04d}.csv"), records)
    report = inspection.detection_report(records)
    if self.writer is not None:
      step = int(self.model.optimizer.iterations.numpy())
      weights = records["weight"].astype(np.float32)
      clean = (records["noisy_label"] == records["clean_label"]).astype(np.float32)
      precision, recall = spade.v_detection(tf.constant(weights), tf.constant(clean))
      with self.writer.as_default(step=step), tf.summary.record_if(True):
        tf.summary.histogram("train_split/v", weights)
        tf.summary.histogram("train_split/v_clean", weights[clean > 0])
        tf.summary.histogram("train_split/v_corrupted", weights[clean == 0])
        tf.summary.scalar("train_split/v_precision_clean", precision)
        tf.summary.scalar("train_split/v_recall_clean", recall)
        tf.summary.scalar("train_split/mean_v_clean", report["mean_weight_clean"])
        tf.summary.scalar("train_split/mean_v_corrupted", report["mean_weight_corrupted"])
      self.writer.flush()


class CurriculumImages(keras.callbacks.Callback):
  """Logs the MentorNet's weight surface at a few epoch percentages at the start (paper Fig. 4).

  Each image's tag names its epoch percentage (curriculum_updates.curriculum_image_tag).
  """

  def __init__(self, mentornet, writer, epochs=(0, 18, 50, 95), loss_bound: float = 5.0):
    super().__init__()
    self.mentornet = mentornet
    self.writer = writer
    self.epochs = epochs
    self.loss_bound = loss_bound

  def on_train_begin(self, logs=None):
    from mentornet_tf.training import curriculum_updates  # pylint: disable=g-import-not-at-top
    from mentornet_tf.mentor import plots  # pylint: disable=g-import-not-at-top
    step = int(self.model.optimizer.iterations.numpy())
    with self.writer.as_default(step=step), tf.summary.record_if(True):
      for epoch in self.epochs:
        tf.summary.image(curriculum_updates.curriculum_image_tag(epoch),
                         plots.curriculum_surface_image(self.mentornet, epoch, self.loss_bound))
    self.writer.flush()
