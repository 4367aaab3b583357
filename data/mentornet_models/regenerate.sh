#!/usr/bin/env bash
# Regenerates every shipped MentorNet in data/mentornet_models/ (see README.md there).
#
# Settings are the original's (google/mentornet TRAINING.md and code/training_mentornet/):
# 100,000 rows sampled from the predefined grid, 80/20 split, 30,000 Adam steps of batch 32,
# LR 0.1 x 0.9 every 1000 steps, global-norm clip 5. Additions: seeded data (--seed=0) and five
# restarts (seeds 0..4) keeping the model with the lowest loss on the TRAINING split, because a
# single seed sometimes stalls (see README.md). Takes about 4-5 minutes on 2 CPU cores.
#
# Usage: data/mentornet_models/regenerate.sh [name ...]   (default: all six)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "${here}/../.."   # the repository root, so that `python -m mentornet_tf...` resolves

common=(--sample_size=100000 --max_step_train=30000 --learning_rate=0.1 --mini_batch_size=32
        --seed=0 --restarts=5)

# name -> extra flags. gamma values: PD as the shipped `mentornet_pd1_g_1` (gamma 1); focal loss
# with the gamma the original really used (its default 2: --vstar_gamma was ignored there).
# mentornet_pd adds 100,000 training rows of epochs 90-99 (its ramp), a trainable epoch table and
# three fine-tuning passes: the original recipe misses the ramp (README.md).
declare -A extra=(
  [mentornet_pd]="--vstar_fn=mentornet_pd --vstar_gamma=1 --focus_rows=100000 --focus_epochs=90,99 --train_epoch_embedding --finetune_learning_rates=0.01,0.003,0.001"
  [self_paced]="--vstar_fn=self_paced"
  [focal_loss]="--vstar_fn=focal_loss --vstar_gamma=2"
  [spcl_linear]="--vstar_fn=spcl_linear --vstar_gamma=1"
  [hard_example_mining]="--vstar_fn=hard_example_mining"
  [baseline]="--vstar_fn=baseline"
)
names=("$@")
if [ ${#names[@]} -eq 0 ]; then
  names=(mentornet_pd self_paced focal_loss spcl_linear hard_example_mining baseline)
fi

for name in "${names[@]}"; do
  if [ -z "${extra[$name]+set}" ]; then
    echo "regenerate.sh: unknown model '${name}' (choose from ${!extra[*]})" >&2
    exit 2
  fi
  echo "== ${name}"
  # shellcheck disable=SC2086  # extra flags are split on purpose
  python -m mentornet_tf.train_mentornet --train_dir="data/mentornet_models/${name}" \
      ${extra[$name]} "${common[@]}"
done
