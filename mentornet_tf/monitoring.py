"""Per-epoch clean-example diagnostics: weight export, v histogram, detection of corrupted labels.

With `--export_weights` every epoch writes weights/epoch_NNNN.csv (id, loss, weight, noisy label,
clean label, prediction) for the whole training split, a histogram of v to TensorBoard, and how
well `v < 0.5` finds the corrupted examples. `python -m mentornet_tf.list_mislabelled` reads the
files back. Runs on the host (chief) after each epoch: an extra inference pass over the data.
"""
import os

import tensorflow as tf
import tf_keras as keras

from mentornet_tf import inspection


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
      with self.writer.as_default(step=step), tf.summary.record_if(True):
        tf.summary.histogram("mentor/weights", records["weight"])
        tf.summary.histogram("mentor/weights_clean",
                             records["weight"][records["noisy_label"] == records["clean_label"]])
        tf.summary.histogram("mentor/weights_corrupted",
                             records["weight"][records["noisy_label"] != records["clean_label"]])
        for key in ("precision", "recall", "mean_weight_clean", "mean_weight_corrupted"):
          tf.summary.scalar(f"mentor/detect_{key}", report[key])
      self.writer.flush()


class CurriculumImages(keras.callbacks.Callback):
  """Logs the running MentorNet's weight surface at a few epoch percentages (paper Fig. 4)."""

  def __init__(self, writer, epochs=(0, 18, 50, 95), loss_bound: float = 5.0):
    super().__init__()
    self.writer = writer
    self.epochs = epochs
    self.loss_bound = loss_bound

  def on_train_begin(self, logs=None):
    from mentornet_tf.mentor import plots  # pylint: disable=g-import-not-at-top
    mentornet = self.model.weighting.mentornet
    step = int(self.model.optimizer.iterations.numpy())
    with self.writer.as_default(step=step), tf.summary.record_if(True):
      for epoch in self.epochs:
        tf.summary.image(f"mentornet/curriculum_epoch_{epoch}",
                         plots.curriculum_surface_image(mentornet, epoch, self.loss_bound))
    self.writer.flush()
