"""`validate(config)`: every check of a training run that can fail before anything is written.

Called by the train entry point before `train_lib.run` (which calls it itself when not given the
result). It writes nothing and starts no TensorFlow runtime, so a refused run leaves no trace
and the strategy can still configure devices afterwards.
"""
import os

import tensorflow as tf

from mentornet_tf import config as config_lib
from mentornet_tf import distribute
from mentornet_tf import errors
from mentornet_tf.data import pipeline


def validate(config: config_lib.TrainConfig):
  """Checks everything that can fail before anything is written; writes nothing itself.

  In order: the run directory's path (an existing file where a directory is expected, an
  unwritable parent), TF_CONFIG for the multi-process strategies, the global batch size against
  the number of replicas when it is known before the strategy is built (mirrored: the local
  GPUs or --num_replicas_cpu; multi_worker_mirrored: a multiple of the workers), the data (the
  first image of every original TFRecord file decoded and its shape checked, then a label
  scan), the batch size against the training split, and the MentorNet, read completely
  (`storage.check_mentornet`).

  No eager TensorFlow op runs here (TFRecords are scanned in a private session, checkpoints with
  the checkpoint reader), so `distribute.build_strategy` can still split the CPU into logical
  devices or configure collective ops afterwards.

  Returns:
    The DatasetInfo of the configured dataset.
  Raises:
    errors.BadInput: the message names the flag, file or value (the entry point exits with 2).
  """
  from mentornet_tf.data import sources  # pylint: disable=g-import-not-at-top
  from mentornet_tf.mentor import storage  # pylint: disable=g-import-not-at-top
  bad = errors.BadInput

  # The run directory: only its path is checked here (run_directory.claim creates it).
  train_log_dir = config.train_log_dir
  existing = os.path.abspath(train_log_dir)
  while not os.path.lexists(existing) and os.path.dirname(existing) != existing:
    existing = os.path.dirname(existing)
  if not os.path.isdir(existing):
    what = "is a file" if existing == os.path.abspath(train_log_dir) else f"{existing!r} is a file"
    raise bad(f"--train_log_dir={train_log_dir!r} is not a writable directory: {what}")
  if not os.access(existing, os.W_OK | os.X_OK):
    raise bad(f"--train_log_dir={train_log_dir!r} is not a writable directory: no write "
              f"permission on {existing!r}")

  # The strategy: TF_CONFIG, and the replicas the global batch is split over.
  try:
    distribute.check_tf_config(config.strategy)
  except ValueError as error:
    raise bad(str(error)) from None
  batch_size = config.data.batch_size
  replicas, what = 1, ""
  if config.strategy == "mirrored":
    gpus = len(tf.config.list_physical_devices("GPU"))  # no device is initialised by this
    if gpus:
      replicas, what = gpus, f"the {gpus} local GPUs of --strategy=mirrored"
    elif config.num_replicas_cpu > 1:
      replicas, what = config.num_replicas_cpu, f"--num_replicas_cpu={config.num_replicas_cpu}"
  elif config.strategy == "multi_worker_mirrored":
    cluster = distribute.cluster_spec()
    workers = len(cluster.get("worker", [])) + len(cluster.get("chief", []))
    replicas = workers
    what = f"the {workers} workers of TF_CONFIG (--strategy=multi_worker_mirrored)"
  if config.jit_compile and replicas > 1:
    # tf_keras compiles each replica's step as a nested function, and tf.distribute refuses the
    # cross-replica merge_call it would then contain (the gradient all-reduce, the MEAN variables
    # of the weighting).
    raise bad(f"--jit_compile is not supported with {what}: tf.distribute cannot aggregate "
              "gradients inside an XLA-compiled replica step; use it on one device "
              "(--strategy=default or one_device), or drop it")
  if batch_size % replicas:
    raise bad(f"--batch_size={batch_size} is not divisible by the {replicas} replicas of {what}: "
              f"every replica takes an equal share of the global batch; use a multiple of "
              f"{replicas}")

  # The data.
  try:
    info = pipeline.dataset_info(config.data)
  except (sources.DataNotFoundError, sources.CorruptDataError, sources.LabelRangeError) as error:
    raise bad(str(error)) from None
  if batch_size > info.num_train:
    raise bad(f"--batch_size={batch_size} is larger than the training split of "
              f"--dataset_name={config.data.dataset_name} ({info.num_train} examples): a batch "
              f"would hold some examples twice; use --batch_size <= {info.num_train}")

  # The MentorNet, read completely.
  path = config.mentor.trained_mentornet_dir
  if config.mentor.weighting == "mentornet" and path:
    if not (os.path.exists(path) or os.path.exists(path + ".index")):
      run, _, _ = os.path.normpath(path).rpartition(os.sep + "mentornet_updates" + os.sep)
      source = (f"; it is learned by the run in {run!r} (MentorNet DD at the epoch its name "
                "says): run that one first (e.g. the CIFAR-10 flagfile that the CIFAR-100 DD "
                "flagfile names)") if run else \
          " (expected a directory written by mentornet_tf.train_mentornet or a TF1 MentorNet " \
          "checkpoint)"
      raise bad(f"--trained_mentornet_dir={path!r} does not exist{source}")
    try:
      storage.check_mentornet(path)
    except storage.MentorNetLoadError as error:
      raise bad(f"--trained_mentornet_dir={path!r}: {error}") from None
  return info
