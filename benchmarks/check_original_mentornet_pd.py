"""Does a MentorNet checkpoint reproduce the `mentornet_pd` curriculum it was trained on?

Loads a checkpoint with `mentornet_tf.mentor.storage.load_mentornet` (the shipped TF1
`mentornet_pd`, a TF1 `mentornet.model-N`, or one of our directories) and compares its weights
v = sigmoid(logit) with the target v* of the original `vstar_mentornet_pd`
(`code/training_mentornet/data_generator.py`; `curricula.mentornet_pd`, gamma 1):
  epoch <= 18:       v* = 1                       (burn-in: every example counts)
  18 < epoch < 90:   v* = 1[loss_diff <= 0]       (self-paced, lambda1 = 0)
  epoch >= 90:       v* = clip(1 - loss_diff, 0, 1) (SPCL linear, gamma 1)
on the original grid (loss in arange(0, 10, 0.1) U arange(10, 30, 1), loss_diff in
arange(-5, 5, 0.1), label 0, epoch 0..99), a seeded random sample of it (`mentor_data`).

Prints the variable shapes found, the inferred MentorNetConfig, the MSE and mean |v - v*| overall
and per epoch range, and a small profile of v over loss_diff at a few epochs.

The shipped checkpoint is in google-research/google-research at
mentormix/mentornet_models/mentornet_pd.{data-00000-of-00001,index,meta}; it is not part of this
repository. Usage:
  python benchmarks/check_original_mentornet_pd.py /path/to/mentornet_pd
  python benchmarks/check_original_mentornet_pd.py /path/to/mentornet_pd --sample_size=1200000
"""
import argparse
import os

import mentornet_tf  # noqa: F401  (first: selects tf_keras before TensorFlow is imported)
from mentornet_tf.mentor import curricula
from mentornet_tf.mentor import mentor_data
from mentornet_tf.mentor import storage
from mentornet_tf.mentor import tf1_checkpoints

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

# Epoch-percentage ranges of `vstar_mentornet_pd` (inclusive bounds), named for the printout.
EPOCH_RANGES = (("burn-in   epoch <= 18", 0, 18),
                ("self-paced 18 < epoch < 90", 19, 89),
                ("spcl      epoch >= 90", 90, 99))
PROFILE_EPOCHS = (10, 50, 95)
PROFILE_DIFFS = (-2.0, -1.0, -0.5, -0.1, 0.0, 0.1, 0.5, 1.0, 2.0)
PROFILE_LOSS = 2.0


def _parse_args(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("checkpoint", help="TF1 checkpoint prefix (e.g. .../mentornet_pd), one of "
                      "its files, or a MentorNet directory")
  parser.add_argument("--sample_size", type=int, default=100000,
                      help="grid rows sampled (the original: 100000; 1200000 = the whole grid)")
  parser.add_argument("--seed", type=int, default=0, help="seed of the grid sample")
  parser.add_argument("--batch_size", type=int, default=65536, help="rows per forward pass")
  return parser.parse_args(argv)


def predict_weights(model, features, batch_size=65536):
  """v = sigmoid(MentorNet logits) for float [N, 4] features; returns float64 [N]."""
  out = [tf.sigmoid(model(features[i:i + batch_size], training=False)).numpy()[:, 0]
         for i in range(0, len(features), batch_size)]
  return np.concatenate(out).astype(np.float64)


def sample_grid(sample_size, seed):
  """Seeded sample of the original grid with its mentornet_pd targets: ([N, 4], [N])."""
  train, test = mentor_data.generate_predefined("mentornet_pd", sample_size=sample_size, seed=seed)
  data = np.concatenate([train, test], axis=0)
  return data[:, :4], data[:, 4].astype(np.float64)


def range_errors(v, target, epochs):
  """[(name, rows, mse, mean_abs)] overall and per EPOCH_RANGES."""
  rows = [("overall", np.ones_like(v, dtype=bool))]
  rows += [(name, (epochs >= low) & (epochs <= high)) for name, low, high in EPOCH_RANGES]
  result = []
  for name, mask in rows:
    error = v[mask] - target[mask]
    result.append((name, int(mask.sum()), float(np.mean(error ** 2)),
                   float(np.mean(np.abs(error)))))
  return result


def main(argv=None):
  args = _parse_args(argv)
  prefix = os.path.abspath(args.checkpoint)
  model, metadata = storage.load_mentornet(prefix)

  if metadata.get("format") == "tf1_checkpoint":
    shapes = tf.train.load_checkpoint(metadata["checkpoint"]).get_variable_to_shape_map()
    print(f"TF1 checkpoint {metadata['checkpoint']}: {len(shapes)} variables")
    for name in sorted(shapes):
      known = name in tf1_checkpoints.TF1_VARIABLES or name in tf1_checkpoints.TF1_ALIASES
      used = "" if known else "  (unused)"
      print(f"  {name:60s} {list(shapes[name])}{used}")
    if "global_step" in metadata:
      print(f"global_step: {metadata['global_step']}")
  else:
    print(f"MentorNet directory {prefix} (format {metadata.get('format')})")
  print(f"inferred config: {model.config}")
  print(f"parameters: {sum(int(np.prod(w.shape)) for w in model.weights)}")

  features, target = sample_grid(args.sample_size, args.seed)
  v = predict_weights(model, features, args.batch_size)
  print(f"\ngrid sample: {len(v)} rows, seed {args.seed}; v = sigmoid(logit) vs v* of "
        "vstar_mentornet_pd (gamma 1)")
  print(f"  {'range':28s} {'rows':>7s} {'MSE':>10s} {'mean|v-v*|':>11s}")
  for name, count, mse, mean_abs in range_errors(v, target, features[:, 3]):
    print(f"  {name:28s} {count:7d} {mse:10.6f} {mean_abs:11.6f}")

  print(f"\nprofile: v at loss {PROFILE_LOSS} (v* in brackets) over loss_diff")
  print("  epoch " + " ".join(f"{d:>13.1f}" for d in PROFILE_DIFFS))
  for epoch in PROFILE_EPOCHS:
    columns = np.array([[PROFILE_LOSS, d, 0.0, epoch] for d in PROFILE_DIFFS], np.float32)
    weights = predict_weights(model, columns)
    stars = np.asarray(curricula.mentornet_pd(columns[:, 0], columns[:, 1], columns[:, 2],
                                              columns[:, 3]), np.float64)
    print(f"  {epoch:5d} " + " ".join(f"{w:6.3f} [{s:4.2f}]" for w, s in zip(weights, stars)))


if __name__ == "__main__":
  main()
