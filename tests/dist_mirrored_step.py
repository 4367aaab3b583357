r"""Helper of tests/test_distributed.py: one device vs MirroredStrategy over 2 logical CPUs.

  python tests/dist_mirrored_step.py --mentornet_dir=DIR --work_dir=DIR [--steps=3]

Runs in its own process because the CPU must be split into logical devices before TensorFlow
initialises. Prints one "RESULT <json>" line per check:
  step:     the same SpadeModel (train_lib.build_model: MLP student on digits, frozen MentorNet,
            global percentile, example dropout on) trained for `--steps` steps on the same global
            batches on one device and on 2 replicas: largest weight difference, the moving
            average on each replica (and a control run with the per-replica percentile).
  noise:    the (id -> noisy label) map of the training stream with 1 input pipeline and through
            distribute.distribute_dataset with 2 input pipelines.
  dropout:  the example dropout mask of every id, one device vs 2 replicas holding the batch in
            another order.
"""
import argparse
import json
import sys

import mentornet_tf  # noqa: F401  (selects tf_keras before TensorFlow is imported)
import numpy as np
import tensorflow as tf
import tf_keras as keras

from mentornet_tf import config as config_lib
from mentornet_tf import distribute
from mentornet_tf import train_lib
from mentornet_tf.data import pipeline

GLOBAL_BATCH = 16


def make_config(mentornet_dir: str, work_dir: str,
                percentile_scope: str = "global") -> config_lib.TrainConfig:
  return config_lib.TrainConfig(
      data=config_lib.DataConfig(dataset_name="digits", batch_size=GLOBAL_BATCH,
                                 noise_fraction=0.4, augmentation="standardize"),
      student=config_lib.StudentConfig(studentnet="mlp", weight_decay=1e-3),
      # Default dropout schedule: rate 0.5 at step 0 (example dropout on); burn-in off so v comes
      # from the MentorNet; decay 0.5 so the moving average moves visibly every step.
      mentor=config_lib.MentorConfig(weighting="mentornet", trained_mentornet_dir=mentornet_dir,
                                     percentile_scope=percentile_scope, burn_in_epoch=0),
      train_log_dir=work_dir, optimizer="momentum", learning_rate=0.1, lr_schedule="constant",
      max_number_of_steps=10, seed=0)


def global_batches(config: config_lib.TrainConfig, steps: int):
  """`steps` global batches of the (noisy) training split, in id order: [GLOBAL_BATCH] each."""
  dataset = pipeline.build_train_eval_dataset(config.data, "standardize",
                                              batch_size=GLOBAL_BATCH)
  batches = list(dataset.take(steps))
  assert len(batches) == steps
  return batches


def train(strategy, config, info, batches):
  """Builds the model under `strategy`, takes len(batches) steps; returns the trained model."""
  keras.utils.set_random_seed(config.seed)
  with strategy.scope():
    model, _ = train_lib.build_model(config, info)
    model.compile(optimizer=train_lib.build_optimizer(config, data_epoch_steps=10))
  dataset = tf.data.Dataset.from_tensors(batches[0])
  for batch in batches[1:]:
    dataset = dataset.concatenate(tf.data.Dataset.from_tensors(batch))
  options = tf.data.Options()
  options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.OFF
  # fit splits every global batch of 16 into 2 per-replica batches of 8 (same examples).
  model.fit(dataset.with_options(options), epochs=1, steps_per_epoch=len(batches), verbose=0)
  return model


def check_noise(config: config_lib.TrainConfig, strategy) -> dict:
  """(id -> noisy label): one device vs the 2-replica stream of distribute.distribute_dataset.

  (A local MirroredStrategy has one input pipeline that batches per replica; 2 pipelines, one
  per worker, are checked by the multi-worker test.)
  """
  data = config.data

  def train_input(input_context=None):
    return pipeline.build_train_dataset(data, "standardize", seed=config.seed,
                                        input_context=input_context)

  num_train = pipeline.dataset_info(data).num_train
  steps = num_train // data.batch_size + 2  # more than one pass over every shard

  def collect(batches):
    labels, clean = {}, {}
    for ids, noisy, true in batches:
      for i, n, c in zip(ids.tolist(), noisy.tolist(), true.tolist()):
        if labels.setdefault(i, n) != n:
          raise AssertionError(f"id {i} got two noisy labels in one stream")
        clean[i] = c
    return labels, clean

  single = train_input()
  single_labels, clean = collect(
      (b["id"].numpy(), b["label"].numpy(), b["clean_label"].numpy())
      for b in single.take(steps))
  distributed = distribute.distribute_dataset(strategy, "mirrored", train_input)

  def replica_batches():
    for _, batch in zip(range(steps), distributed):
      for ids, noisy, true in zip(*(strategy.experimental_local_results(batch[key])
                                    for key in ("id", "label", "clean_label"))):
        yield ids.numpy(), noisy.numpy(), true.numpy()

  dist_labels, _ = collect(replica_batches())
  common = sorted(set(single_labels) & set(dist_labels))
  return {
      "num_train": num_train,
      "single_ids": len(single_labels), "distributed_ids": len(dist_labels),
      "mismatches": sum(single_labels[i] != dist_labels[i] for i in common),
      "flipped": sum(single_labels[i] != clean[i] for i in common),
  }


def check_dropout(mentornet_dir: str, strategy) -> dict:
  """Example dropout masks of 16 ids, one device vs 2 replicas with the batch reversed."""
  from mentornet_tf.mentor import storage  # pylint: disable=g-import-not-at-top
  from mentornet_tf.mentor import weighting as weighting_lib  # pylint: disable=g-import-not-at-top
  # Burn-in keeps v = 1 before dropout (cur_epoch < 49), so v is exactly the dropout mask.
  mentor = config_lib.MentorConfig(weighting="mentornet", trained_mentornet_dir=mentornet_dir,
                                   percentile_scope="global", burn_in_epoch=50)
  ids = np.arange(16, dtype=np.int64) * 7 + 3
  losses = np.linspace(0.1, 3.0, 16).astype(np.float32)
  single = weighting_lib.build_weighting(mentor, 100, mentornet=storage.load_mentornet(
      mentornet_dir)[0], seed=0)
  with strategy.scope():
    mirrored = weighting_lib.build_weighting(mentor, 100, mentornet=storage.load_mentornet(
        mentornet_dir)[0], seed=0)
  order = ids[::-1].copy()  # replica 0 gets the last 8 ids reversed, replica 1 the first 8
  loss_by_id = dict(zip(ids.tolist(), losses.tolist()))

  def per_replica(values):
    return strategy.experimental_distribute_values_from_function(
        lambda context: tf.constant(values[8 * context.replica_id_in_sync_group:
                                           8 * (context.replica_id_in_sync_group + 1)]))

  dist_ids = per_replica(order)
  dist_losses = per_replica(np.array([loss_by_id[i] for i in order.tolist()], np.float32))

  @tf.function
  def mirrored_weights(step):
    return strategy.run(lambda l, i: mirrored(l, i, step).weights, args=(dist_losses, dist_ids))

  mismatches, kept = 0, []
  for step in (0, 1, 5, 20):  # rates 0.5, 0.5, 0.5, 0.05 (default schedule, 100 steps)
    v_single = dict(zip(ids.tolist(), single(tf.constant(losses), tf.constant(ids),
                                             step).weights.numpy().tolist()))
    out = mirrored_weights(tf.constant(step, tf.int64))
    v_mirrored = {}
    for replica_ids, replica_v in zip(strategy.experimental_local_results(dist_ids),
                                      strategy.experimental_local_results(out)):
      v_mirrored.update(zip(replica_ids.numpy().tolist(), replica_v.numpy().tolist()))
    mismatches += sum(v_single[i] != v_mirrored[i] for i in v_single)
    kept.append(int(sum(v_single.values())))
  return {"mismatches": mismatches, "kept": kept}


def main():
  parser = argparse.ArgumentParser()
  parser.add_argument("--mentornet_dir", required=True)
  parser.add_argument("--work_dir", required=True)
  parser.add_argument("--steps", type=int, default=3)
  args = parser.parse_args()
  distribute.configure_cpu_replicas(2)
  config = make_config(args.mentornet_dir, args.work_dir)
  info = pipeline.dataset_info(config.data)
  batches = global_batches(config, args.steps)

  single = train(tf.distribute.OneDeviceStrategy("/cpu:0"), config, info, batches)
  mirrored_strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
  mirrored = train(mirrored_strategy, config, info, batches)

  # Control: the original per-replica percentile and dropout differ from one device, which shows
  # that the comparison above is sensitive to the weighting.
  replica_scope = train(mirrored_strategy, make_config(args.mentornet_dir, args.work_dir,
                                                       "replica"), info, batches)
  single_weights = single.student.get_weights()
  mirrored_weights = mirrored.student.get_weights()
  initial = train_lib.build_model(config, info)[0].student  # same seed: the untrained weights
  weight_diff = max(float(np.max(np.abs(a - b))) for a, b in zip(single_weights, mirrored_weights))
  moved = max(float(np.max(np.abs(a - b)))
              for a, b in zip(single_weights, initial.get_weights()))
  # Every replica's own copy of the student and of the moving average.
  replica_weights = [[v.numpy() for v in var.values] for var in mirrored.student.weights]
  replica_spread = max(float(np.max(np.abs(copies[0] - copies[1]))) for copies in replica_weights)
  moving_average_replicas = [float(v.numpy()) for v in mirrored.weighting.moving_average.values]
  replica_scope_diff = max(float(np.max(np.abs(a - b))) for a, b in
                           zip(single_weights, replica_scope.student.get_weights()))
  result = {
      "replica_scope_weight_diff": replica_scope_diff,
      "num_replicas": mirrored_strategy.num_replicas_in_sync,
      "steps": int(mirrored.optimizer.iterations.numpy()),
      "single_steps": int(single.optimizer.iterations.numpy()),
      "max_weight_diff": weight_diff,
      "max_weight_change": moved,
      "max_replica_spread": replica_spread,
      "moving_average_single": float(single.weighting.moving_average.numpy()),
      "moving_average_replicas": moving_average_replicas,
  }
  print("RESULT " + json.dumps(dict(result, check="step")))
  print("RESULT " + json.dumps(dict(check_noise(config, mirrored_strategy), check="noise")))
  print("RESULT " + json.dumps(dict(check_dropout(args.mentornet_dir, mirrored_strategy),
                                    check="dropout")))
  return 0


if __name__ == "__main__":
  sys.exit(main())
