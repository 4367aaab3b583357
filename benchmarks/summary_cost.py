r"""What the TensorBoard summaries cost a training run on the host, side by side in one run.

  python benchmarks/summary_cost.py                 # ~1 min on 2 CPU cores
  python benchmarks/summary_cost.py --steps=600 --scalars=20 --rounds=100

1. Writing one sampled step's scalars: `--scalars` tf.summary.scalar calls made eagerly one by
   one (how training/summaries.py wrote them before 2026-12-06) against the same values packed
   into one traced call (`TrainingSummaries._write_scalars`), medians over `--rounds`.
2. The callbacks' time per batch in a real run: launch/mnist5k_40_mentornet_pd.flags
   (--summary_steps=5) trained `--steps` steps in this process with a timer around tf_keras'
   `on_train_batch_end` hook: the first batch (the one-time trace), the sampled steps and the
   other steps, and the run's wall time.
"""
import argparse
import collections
import os
import statistics
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tests"))  # entry_runner: the train command in-process


def scalar_writes(num_scalars: int, rounds: int, log_dir: str):
  """(eager ms, packed ms): medians of writing `num_scalars` scalars one way or the other."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  writer = tf.summary.create_file_writer(log_dir)
  tags = [f"group/tag{i}" for i in range(num_scalars)]
  values = [float(i) for i in range(num_scalars)]

  def eager(step):
    with writer.as_default(step=step):
      for tag, value in zip(tags, values):
        tf.summary.scalar(tag, value)

  def write_all(vector, step):
    with writer.as_default(step=step):
      for i, tag in enumerate(tags):
        tf.summary.scalar(tag, vector[i])
  traced = tf.function(write_all, autograph=False)

  def packed(step):
    traced(tf.constant(values, tf.float32), tf.constant(step, tf.int64))

  times = {"eager": [], "packed": []}
  for fn in (eager, packed):  # warm-up (the trace)
    fn(0)
  for step in range(1, rounds + 1):
    for name, fn in (("eager", eager), ("packed", packed)):
      started = time.perf_counter()
      fn(step)
      times[name].append(1e3 * (time.perf_counter() - started))
  writer.close()
  return statistics.median(times["eager"]), statistics.median(times["packed"])


def hook_times(steps: int, run_dir: str):
  """{batch: [ms per epoch]} of on_train_batch_end during a train run, and its wall time (s)."""
  from tf_keras.src import callbacks  # pylint: disable=g-import-not-at-top
  import entry_runner  # pylint: disable=g-import-not-at-top
  helper = callbacks.CallbackList._call_batch_hook_helper  # pylint: disable=protected-access
  times = collections.defaultdict(list)

  def timed(self, hook_name, batch, logs):
    started = time.perf_counter()
    helper(self, hook_name, batch, logs)
    if hook_name == "on_train_batch_end":
      times[batch].append(1e3 * (time.perf_counter() - started))

  callbacks.CallbackList._call_batch_hook_helper = timed  # pylint: disable=protected-access
  try:
    started = time.perf_counter()
    entry_runner.run_entry("train", [
        "--flagfile=launch/mnist5k_40_mentornet_pd.flags", f"--train_log_dir={run_dir}",
        f"--max_number_of_steps={steps}", "--verbose=0"], cwd=REPO, check=True)
    wall = time.perf_counter() - started
  finally:
    callbacks.CallbackList._call_batch_hook_helper = helper  # pylint: disable=protected-access
  return times, wall


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--steps", type=int, default=600)
  parser.add_argument("--scalars", type=int, default=20)
  parser.add_argument("--rounds", type=int, default=100)
  args = parser.parse_args()
  with tempfile.TemporaryDirectory() as tmp:
    eager, packed = scalar_writes(args.scalars, args.rounds, os.path.join(tmp, "scalars"))
    print(f"{args.scalars} scalars of one step: eager {eager:.3f} ms, one traced call "
          f"{packed:.3f} ms ({eager / packed:.1f}x)")
    times, wall = hook_times(args.steps, os.path.join(tmp, "run"))
  summary_steps = 5  # launch/base/mnist5k.flags
  steps_per_epoch = len(times)  # batch indices of a full epoch
  by_step = {epoch * steps_per_epoch + batch: ms for batch, per_epoch in times.items()
             for epoch, ms in enumerate(per_epoch)}
  sampled = [ms for step, ms in by_step.items() if step and step % summary_steps == 0]
  other = [ms for step, ms in by_step.items() if step % summary_steps]
  print(f"on_train_batch_end over {args.steps} steps of mnist5k_40_mentornet_pd "
        f"(--summary_steps={summary_steps}): first step {by_step[0]:.1f} ms; sampled steps median "
        f"{statistics.median(sampled):.3f} ms; other steps median {statistics.median(other):.3f} "
        f"ms; run wall {wall:.1f} s")


if __name__ == "__main__":
  main()
