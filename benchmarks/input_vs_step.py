"""Is the input pipeline fast enough? Training-input images/s next to training-step images/s.

For each StudentNet (default: the original two, `inception` = CifarNet and `resnet101`), prints
- input: images/s produced by `mentornet_tf.data.build_train_dataset` on CIFAR-shaped fake data
  (2048 examples, 32x32x3, 10 classes) with the student's own augmentation, batch 128;
- step: images/s consumed by a plain training step (tf.function: forward, cross-entropy plus the
  student's weight decay, backward, SGD with momentum) at batch 128 on synthetic tensors, after
  warm-up steps (the first one traces the function).
If input images/s is well above step images/s, the pipeline is not the bottleneck on this machine.

Usage (defaults keep the run short on a CPU: about 2 minutes on 2 cores, most of it resnet101,
whose batch-128 step takes ~45 s and ~11 GB of memory there):
  python benchmarks/input_vs_step.py
  python benchmarks/input_vs_step.py --students=inception --input_batches=50 --steps=20
"""
import argparse
import os
import time

import mentornet_tf  # noqa: F401  (first: selects tf_keras before TensorFlow is imported)
from mentornet_tf import students
from mentornet_tf.config import DataConfig
from mentornet_tf.data import pipeline

import tensorflow as tf  # noqa: E402
import tf_keras as keras  # noqa: E402

IMAGE_SHAPE = (32, 32, 3)
NUM_CLASSES = 10
# Timed training steps per student when --steps is not given: resnet101 (84.6M parameters) needs
# about 45 s per batch-128 step on 2 CPU cores (measured, TF 2.20).
DEFAULT_STEPS = {"inception": 10, "resnet101": 1}


def input_images_per_second(name: str, batch_size: int, num_batches: int) -> float:
  """Images/s of the training pipeline with the student's augmentation, after its first batch.

  Args:
    name: student name (selects the augmentation).
    batch_size: global batch size.
    num_batches: timed batches (the first batch, which fills the shuffle buffer, is untimed).

  Returns:
    Images per second.
  """
  config = DataConfig(dataset_name="fake", fake_num_train=2048, fake_image_shape=IMAGE_SHAPE,
                      fake_num_classes=NUM_CLASSES, batch_size=batch_size)
  dataset = pipeline.build_train_dataset(config, students.STUDENTS[name].augmentation, seed=0)
  iterator = iter(dataset)
  next(iterator)["image"].numpy()
  start = time.perf_counter()
  for _ in range(num_batches):
    next(iterator)["image"].numpy()
  return num_batches * batch_size / (time.perf_counter() - start)


def step_images_per_second(name: str, batch_size: int, warmup_steps: int,
                           num_steps: int) -> float:
  """Images/s of a plain SGD training step of the student on synthetic tensors.

  Args:
    name: student name.
    batch_size: images per step.
    warmup_steps: untimed steps (>= 1: the first traces the tf.function).
    num_steps: timed steps.

  Returns:
    Images per second.
  """
  spec = students.STUDENTS[name]
  model = students.build_student(name, NUM_CLASSES, IMAGE_SHAPE, seed=0)
  optimizer = keras.optimizers.SGD(0.1, momentum=0.9)
  images = tf.random.stateless_normal((batch_size,) + IMAGE_SHAPE, seed=[0, 1])
  labels = tf.random.stateless_uniform([batch_size], seed=[0, 2], maxval=NUM_CLASSES,
                                       dtype=tf.int32)

  @tf.function
  def train_step(images, labels):
    with tf.GradientTape() as tape:
      logits = model(images, training=True)
      loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels, logits))
      loss += spec.weight_decay * students.weight_decay_loss(model)
    gradients = tape.gradient(loss, model.trainable_variables)
    optimizer.apply_gradients(zip(gradients, model.trainable_variables))
    return loss

  for _ in range(max(1, warmup_steps)):
    train_step(images, labels).numpy()
  start = time.perf_counter()
  for _ in range(num_steps):
    loss = train_step(images, labels)
  loss.numpy()  # wait for the last step
  return num_steps * batch_size / (time.perf_counter() - start)


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--students", default="inception,resnet101",
                      help="comma-separated names from mentornet_tf.students.STUDENTS")
  parser.add_argument("--batch_size", type=int, default=128)
  parser.add_argument("--input_batches", type=int, default=20,
                      help="timed batches of the input pipeline")
  parser.add_argument("--warmup_steps", type=int, default=1,
                      help="untimed training steps (the first one traces)")
  parser.add_argument("--steps", type=int, default=0,
                      help="timed training steps; 0 = per-student default "
                           f"{DEFAULT_STEPS} (others: 10)")
  args = parser.parse_args()
  names = [n.strip() for n in args.students.split(",") if n.strip()]
  for name in names:
    students.get_spec(name)  # fail early on a typo, naming --studentnet and the choices

  devices = [d.device_type for d in tf.config.list_logical_devices()]
  print(f"devices: {devices}, CPU cores: {os.cpu_count()}, TF {tf.__version__}, "
        f"batch {args.batch_size}")
  print(f"{'student':<10} {'augmentation':<12} {'input img/s':>12} {'step img/s':>11} "
        f"{'s/step':>7} {'input/step':>10}")
  for name in names:
    steps = args.steps or DEFAULT_STEPS.get(name, 10)
    input_rate = input_images_per_second(name, args.batch_size, args.input_batches)
    step_rate = step_images_per_second(name, args.batch_size, args.warmup_steps, steps)
    print(f"{name:<10} {students.STUDENTS[name].augmentation:<12} {input_rate:>12.0f} "
          f"{step_rate:>11.1f} {args.batch_size / step_rate:>7.2f} "
          f"{input_rate / step_rate:>9.1f}x", flush=True)
  print("input/step > 1: the pipeline produces images faster than the training step consumes them "
        "(tf.data and the step share the CPU cores in a real run).")


if __name__ == "__main__":
  main()
