"""Per-example inspection of a training run: loss, v and labels for every training example.

Feeds three features no other noisy-label system has in one place: per-example weight export
(`--export_weights`), the v histogram in TensorBoard, and the StudentNet dump that MentorNet DD and
Step 6 learn from (the original's dump path called a reader that does not exist). Runs on the
host; nothing in the training state changes. The student runs in inference mode (BN moving
statistics, no dropout), or, for the DD dump with `--dd_dump_mode=training`, in training mode (BN
batch statistics, dropout; the caller feeds augmented images), as SpadeModel.train_step sees it
and as the original's dump code built it (`cifar_eval.py`, mode='train'); the BN moving
statistics that pass would update are put back.
"""
import csv
import os
from typing import Dict, Optional

import numpy as np
import tensorflow as tf
import tf_keras as keras

COLUMNS = ("id", "loss", "weight", "noisy_label", "clean_label", "prediction")


def per_example_pass(model, dataset: tf.data.Dataset, ids_mask_fn=None,
                     training: bool = False) -> Dict[str, np.ndarray]:
  """One pass over `dataset`: per-example CE against the noisy label and the curriculum's v.

  Args:
    model: a SpadeModel (student + weighting); its moving average is read, not written.
    dataset: finite batches of the data contract (the training split; eval preprocessing, or the
      training augmentation when `training`).
    ids_mask_fn: optional `ids -> bool [B]` keeping a subset (e.g. the clean-labelled subset).
      In training mode the student sees the whole batch (BN batch statistics over B examples,
      as in the train step) and the subset is taken from its outputs.
    training: run the student in training mode (BN batch statistics, dropout). Its
      non-trainable variables (BN moving statistics) are restored afterwards, so the pass
      changes no state; the weights are never touched.
  Returns:
    dict of numpy arrays [N] keyed by COLUMNS, in dataset order.
  """
  step = model.optimizer.iterations if model.optimizer is not None else tf.constant(0, tf.int64)
  kept = [(v, tf.identity(v.read_value())) for v in model.student.non_trainable_variables] \
      if training else []

  @tf.function
  def evaluate(batch):
    logits = model.student(batch["image"], training=training)
    labels = tf.cast(batch["label"], tf.int32)
    loss = keras.losses.sparse_categorical_crossentropy(labels, logits, from_logits=True)
    out = model.weighting(loss, batch["id"], step, training=False)
    return {"id": batch["id"], "loss": loss, "weight": out.weights, "noisy_label": labels,
            "clean_label": tf.cast(batch.get("clean_label", labels), tf.int32),
            "prediction": tf.argmax(logits, axis=-1, output_type=tf.int32)}

  parts = {name: [] for name in COLUMNS}
  try:
    for batch in dataset:
      keep = None if ids_mask_fn is None else ids_mask_fn(batch["id"])
      if keep is not None and not training:  # inference: per-example, evaluate the subset only
        batch = {k: tf.boolean_mask(v, keep) for k, v in batch.items()}
        keep = None
      if int(tf.size(batch["id"])) == 0:
        continue
      for name, value in evaluate(batch).items():
        parts[name].append((value if keep is None else tf.boolean_mask(value, keep)).numpy())
  finally:
    for variable, value in kept:  # training mode: BN moving statistics as they were
      variable.assign(value)
  return {name: (np.concatenate(values) if values else np.zeros([0]))
          for name, values in parts.items()}


def write_weights(path: str, records: Dict[str, np.ndarray]) -> None:
  """Writes the per-example records as CSV (header = COLUMNS), atomically."""
  os.makedirs(os.path.dirname(path), exist_ok=True)
  tmp = path + ".tmp"
  with open(tmp, "w", newline="") as f:
    writer = csv.writer(f)
    writer.writerow(COLUMNS)
    for row in zip(*(records[name] for name in COLUMNS)):
      writer.writerow([int(row[0]), f"{float(row[1]):.6g}", f"{float(row[2]):.6g}",
                       int(row[3]), int(row[4]), int(row[5])])
  os.replace(tmp, path)


_INTEGER_COLUMNS = ("id", "noisy_label", "clean_label", "prediction")


def read_weights(path: str) -> Dict[str, np.ndarray]:
  """Reads a file written by `write_weights`; errors name the file (and the line).

  The columns are found by the header's names (any order, extra columns ignored). loss and weight
  may be `nan` (a diverged run exports NaN weights; `detection_report` counts them); the other
  columns must be integers.

  Raises:
    FileNotFoundError: the file cannot be read.
    ValueError: not a weight export (missing columns, not UTF-8 text) or a malformed row.
  """
  try:
    with open(path, newline="", encoding="utf-8") as f:
      rows = list(csv.reader(f))
  except UnicodeDecodeError as error:
    raise ValueError(f"{path!r} is not a weight export: not UTF-8 text ({error.reason} at byte "
                     f"{error.start})") from None
  except csv.Error as error:
    raise ValueError(f"{path!r} is not a weight export: {error}") from None
  except OSError as error:
    raise FileNotFoundError(f"cannot read weight export {path!r}: {error.strerror or error}") \
        from None
  if not rows:
    raise ValueError(f"{path!r} is not a weight export: the file is empty (expected the header "
                     f"{','.join(COLUMNS)})")
  header = [name.strip() for name in rows[0]]
  missing = [name for name in COLUMNS if name not in header]
  if missing:
    raise ValueError(f"{path!r} is not a weight export: missing column(s) {','.join(missing)} "
                     f"(expected the header {','.join(COLUMNS)}, found {','.join(header)})")
  index = {name: header.index(name) for name in COLUMNS}
  data = np.zeros([len(rows) - 1, len(COLUMNS)], np.float64)
  for number, row in enumerate(rows[1:], start=2):
    if len(row) != len(header):
      raise ValueError(f"{path}:{number}: expected {len(header)} fields, got {len(row)}: "
                       f"{','.join(row)!r}")
    for column, name in enumerate(COLUMNS):
      text = row[index[name]].strip()
      try:
        value = int(text) if name in _INTEGER_COLUMNS else float(text)
      except ValueError:
        kind = "an integer" if name in _INTEGER_COLUMNS else "a number"
        raise ValueError(f"{path}:{number}: {name} {text!r} is not {kind}") from None
      data[number - 2, column] = value
  return {name: data[:, i] for i, name in enumerate(COLUMNS)}


def _mean(values: np.ndarray) -> float:
  finite = values[~np.isnan(values)]
  return float(finite.mean()) if finite.size else float("nan")


def detection_report(records: Dict[str, np.ndarray], threshold: float = 0.5) -> Dict[str, float]:
  """How well `weight < threshold` finds the corrupted examples (clean labels known).

  A NaN weight is neither flagged nor kept: it is counted in `num_nan_weight` and left out of the
  means.
  """
  corrupted = records["noisy_label"] != records["clean_label"]
  weight = records["weight"]
  flagged = weight < threshold  # False for NaN
  true_positive = float(np.sum(flagged & corrupted))
  return {
      "num_examples": int(corrupted.size), "num_corrupted": int(corrupted.sum()),
      "num_flagged": int(flagged.sum()), "num_nan_weight": int(np.isnan(weight).sum()),
      "precision": true_positive / max(1, int(flagged.sum())),
      "recall": true_positive / max(1, int(corrupted.sum())),
      "mean_weight_clean": _mean(weight[~corrupted]),
      "mean_weight_corrupted": _mean(weight[corrupted]),
  }


def student_dump_rows(records: Dict[str, np.ndarray], epoch: int) -> np.ndarray:
  """Rows (id, epoch, noisy label, clean label, loss) of the original DD dump format [N, 5]."""
  n = records["id"].shape[0]
  return np.stack([records["id"].astype(np.float64), np.full([n], float(epoch)),
                   records["noisy_label"].astype(np.float64),
                   records["clean_label"].astype(np.float64),
                   records["loss"].astype(np.float64)], axis=1)


def latest_export(train_log_dir: str, epoch: Optional[int] = None) -> str:
  directory = os.path.join(train_log_dir, "weights")
  if epoch is not None:
    return os.path.join(directory, f"epoch_{epoch:04d}.csv")
  files = sorted(f for f in os.listdir(directory) if f.endswith(".csv")) \
      if os.path.isdir(directory) else []
  if not files:
    raise FileNotFoundError(f"{directory!r} holds no weight export; train with --export_weights")
  return os.path.join(directory, files[-1])
