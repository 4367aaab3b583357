"""What a person watching a command sees: compact progress for training, evaluation and learning.

- `TrainProgress` (train, `--verbose`): 1 = one bar line rewritten in place with the few numbers a
  person watches (loss, accuracy against the noisy and the clean labels, mean v, learning rate);
  2 = one line per epoch with the same numbers and the validation accuracy; 0 = silent.
  Everything else goes to TensorBoard. It replaces Keras' ProgbarLogger (`fit(verbose=0)`),
  whose every update listed all ~18 training metrics (~930 characters).
- `StepProgress`: a line every N optimiser steps with the loss (train_mentornet's 30,000 steps,
  Step 6 / MentorNet DD learning inside a training run); the `progress` argument of
  `mentor.learning.learn_mentornet`.
- `watch_batches(evaluator)`: a bar over an Evaluator's batches (evaluate, on stderr).

Bars are redrawn with a carriage return on a terminal; elsewhere (a log file, a pipe) a line is
printed at most every `interval` seconds, so logs stay short.
"""
import sys
import time
from typing import Dict, Optional, TextIO

import tf_keras as keras

from mentornet_tf import step_diagnostics

# (label, metric names tried in order): the first present is shown. Names with and without a
# TensorBoard group prefix are accepted (the metric names may gain a `group/` prefix).
TRAIN_FIELDS = (
    ("loss", ("total_loss", "loss/total_loss", "loss")),
    ("acc_noisy", ("accuracy_noisy", "accuracy/noisy", "train/accuracy_noisy")),
    ("acc_clean", ("accuracy_clean", "accuracy/clean", "train/accuracy_clean")),
    ("v", ("mean_v", "mentor/mean_v", "v/mean")),
    ("lr", ("learning_rate", "train/learning_rate")),
)


def _float(value) -> Optional[float]:
  """A Python float from a number or an eager scalar tensor; None when not readable here (e.g.
  a parameter-server RemoteValue)."""
  try:
    return float(value)
  except (TypeError, ValueError):
    return None


def _lookup(logs: Dict, names) -> Optional[float]:
  for name in names:
    if name in logs:
      return _float(logs[name])
  for name in names:  # a prefixed variant: `<group>/<name>`
    suffix = "/" + name.split("/")[-1]
    for key, value in logs.items():
      if key.endswith(suffix):
        return _float(value)
  return None


def _number(value) -> str:
  value = float(value)
  if value != 0 and (abs(value) < 1e-3 or abs(value) >= 1e4):
    return f"{value:.2e}"
  return f"{value:.4f}"


def format_train_logs(logs: Dict, global_batch_size: int = 0) -> str:
  """`loss 1.2345  acc_noisy 0.4000  acc_clean 0.5000  v 0.8000  lr 0.1000` from Keras logs.

  Mean v comes from `batch_sum_v` / the global batch size when no mean_v metric exists.
  """
  # The step's diagnostics vector spelt out (not waited for under the parameter server).
  logs = step_diagnostics.named_logs(logs, fetch_remote=False)
  if _lookup(logs, TRAIN_FIELDS[3][1]) is None and global_batch_size:
    batch_sum_v = _lookup(logs, ("batch_sum_v", "mentor/batch_sum_v"))
    if batch_sum_v is not None:
      logs["mean_v"] = float(batch_sum_v) / global_batch_size
  parts = []
  for label, names in TRAIN_FIELDS:
    value = _lookup(logs, names)
    if value is not None:
      parts.append(f"{label} {_number(value)}")
  return "  ".join(parts)


class _Line:
  """One status line: redrawn in place on a terminal, else printed every `interval` seconds."""

  def __init__(self, stream: Optional[TextIO] = None, interval: float = 10.0):
    self.stream = stream or sys.stdout
    self.interval = interval
    self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
    self.last = -float("inf")
    self.width = 0

  def due(self) -> bool:
    """Whether update() would draw now (so that callers format only what is drawn)."""
    return time.monotonic() - self.last >= (0.1 if self.tty else self.interval)

  def update(self, text: str, force: bool = False) -> None:
    now = time.monotonic()
    if self.tty:
      if force or now - self.last >= 0.1:
        pad = max(0, self.width - len(text))
        self.stream.write("\r" + text + " " * pad)
        self.stream.flush()
        self.width = len(text)
        self.last = now
    elif force or now - self.last >= self.interval:
      self.stream.write(text + "\n")
      self.stream.flush()
      self.last = now

  def end(self, text: Optional[str] = None) -> None:
    if text is not None:
      self.update(text, force=True)
    if self.tty and self.width:
      self.stream.write("\n")
      self.stream.flush()
    self.width = 0


def bar(done: int, total: int, width: int = 20) -> str:
  if total <= 0:
    return ""
  filled = min(width, int(width * done / total))
  return "[" + "=" * filled + (">" if filled < width else "") + "." * max(0, width - filled - 1) \
      + "]"


class TrainProgress(keras.callbacks.Callback):
  """Compact training progress (see the module docstring); `fit(verbose=0)` with this instead."""

  def __init__(self, verbose: int, max_steps: int, steps_per_epoch: int,
               global_batch_size: int = 0, stream: Optional[TextIO] = None,
               interval: float = 10.0):
    super().__init__()
    self.verbose = int(verbose)
    self.max_steps = int(max_steps)
    self.steps_per_epoch = int(steps_per_epoch)
    self.global_batch_size = int(global_batch_size)
    self.line = _Line(stream, interval)
    self.epoch = 0
    self.started = None
    self.start_step = 0
    # Logs are read only when a line is drawn (tensors, not numpy, per batch): cheap, and
    # accepted by fit under ParameterServerStrategy (unreadable values are left out).
    self._supports_tf_logs = True

  def _step(self, batch: int) -> int:
    return self.epoch * self.steps_per_epoch + batch + 1

  def on_train_begin(self, logs=None):
    self.started = time.monotonic()

  def on_epoch_begin(self, epoch, logs=None):
    self.epoch = epoch
    if self.started is not None and not self.start_step:
      self.start_step = epoch * self.steps_per_epoch

  def on_train_batch_end(self, batch, logs=None):
    if self.verbose != 1 or not self.line.due():
      return
    step = min(self._step(batch), self.max_steps)
    self.line.update(self._text(step, logs))

  def _text(self, step: int, logs) -> str:
    elapsed = time.monotonic() - (self.started or time.monotonic())
    rate = (step - self.start_step) / elapsed if elapsed > 0 else 0.0
    eta = (self.max_steps - step) / rate if rate > 0 else 0.0
    head = f"step {step}/{self.max_steps} {bar(step, self.max_steps)}"
    tail = f"{rate:.1f} steps/s, eta {_duration(eta)}" if rate > 0 else ""
    return "  ".join(part for part in (head, format_train_logs(logs, self.global_batch_size),
                                       tail) if part)

  def on_epoch_end(self, epoch, logs=None):
    logs = logs or {}
    step = min((epoch + 1) * self.steps_per_epoch, self.max_steps)
    if self.verbose == 1:
      self.line.update(self._text(step, logs), force=True)
    val = _lookup(logs, ("val_accuracy", "validation/accuracy"))
    if self.verbose == 2 or (self.verbose == 1 and val is not None):
      clean_test = f"  clean test top-1 {float(val):.4f}" if val is not None else ""
      if self.verbose == 1:
        self.line.end()
      self.line.stream.write(f"epoch {epoch + 1} (step {step}/{self.max_steps})  "
                             f"{format_train_logs(logs, self.global_batch_size)}{clean_test}\n")
      self.line.stream.flush()

  def on_train_end(self, logs=None):
    if self.verbose == 1:
      self.line.end()


def _duration(seconds: float) -> str:
  seconds = int(round(seconds))
  hours, rest = divmod(seconds, 3600)
  minutes, seconds = divmod(rest, 60)
  return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"


class StepProgress:
  """`progress(step, total, loss)` for long optimisation loops: a line every `every` steps.

  On a terminal the line is redrawn in place; elsewhere each call prints a line (learn_mentornet
  calls it once per `steps_per_call` chunk, 500 steps by default).
  """

  def __init__(self, label: str, stream: Optional[TextIO] = None):
    self.label = label
    self.line = _Line(stream or sys.stderr, interval=0.0)
    self.started = time.monotonic()

  def __call__(self, step: int, total: int, loss: float) -> None:
    elapsed = time.monotonic() - self.started
    rate = step / elapsed if elapsed > 0 else 0.0
    text = (f"{self.label}: step {step}/{total} {bar(step, total)}  loss {_number(loss)}"
            f"  {rate:.0f} steps/s")
    self.line.update(text, force=True)
    if step >= total:
      self.line.end()


class _CountedBatches:
  """Iterates a dataset and redraws a bar over its batches (evaluate)."""

  def __init__(self, dataset, label: str, stream: Optional[TextIO] = None):
    self.dataset = dataset
    self.label = label
    self.stream = stream or sys.stderr
    try:
      import tensorflow as tf  # pylint: disable=g-import-not-at-top
      self.total = int(tf.data.experimental.cardinality(dataset).numpy())
    except Exception:  # pylint: disable=broad-except
      self.total = -1

  def __getattr__(self, name):
    return getattr(self.dataset, name)

  def __iter__(self):
    line = _Line(self.stream, interval=10.0)
    done = 0
    total = self.total if self.total > 0 else 0
    for batch in self.dataset:
      yield batch
      done += 1
      line.update(f"{self.label}: batch {done}" + (f"/{total} {bar(done, total)}" if total
                                                  else ""))
    line.end(f"{self.label}: {done} batches")


def watch_batches(evaluator, stream: Optional[TextIO] = None) -> None:
  """Makes `evaluator` (evaluation.Evaluator) draw a bar over its batches on stderr."""
  evaluator.dataset = _CountedBatches(evaluator.dataset, f"evaluating ({evaluator.split})",
                                      stream)
