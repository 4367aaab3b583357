"""tf.distribute strategy from a name and TF_CONFIG. Runs on the host, before anything is built."""
import json
import os
from typing import Tuple

import tensorflow as tf


def configure_cpu_replicas(num_replicas: int) -> None:
  """Splits the CPU into `num_replicas` logical devices (multi-replica tests without GPUs).

  Must run before TensorFlow initialises its devices; a second call with the same number is a no-op.
  """
  if num_replicas <= 1:
    return
  cpus = tf.config.list_physical_devices("CPU")
  current = tf.config.get_logical_device_configuration(cpus[0])
  if current and len(current) == num_replicas:
    return
  tf.config.set_logical_device_configuration(
      cpus[0], [tf.config.LogicalDeviceConfiguration() for _ in range(num_replicas)])


def task_info() -> Tuple[str, int]:
  """(task type, task index) from TF_CONFIG; ('chief', 0) for a single process."""
  tf_config = json.loads(os.environ.get("TF_CONFIG", "{}") or "{}")
  task = tf_config.get("task", {})
  return task.get("type", "chief"), int(task.get("index", 0))


def is_chief(strategy=None) -> bool:
  """The chief writes checkpoints, summaries and results; other workers write to scratch."""
  task_type, task_id = task_info()
  if strategy is not None and hasattr(strategy, "cluster_resolver") and \
      strategy.cluster_resolver is not None and isinstance(
          strategy, tf.distribute.MultiWorkerMirroredStrategy):
    resolver = strategy.cluster_resolver
    task_type, task_id = resolver.task_type, resolver.task_id
    has_chief = "chief" in resolver.cluster_spec().as_dict()
    return (task_type == "chief") or (not has_chief and task_type == "worker" and task_id == 0) \
        or task_type is None
  return task_type == "chief" or (task_type == "worker" and task_id == 0 and
                                  "chief" not in _cluster())


def _cluster():
  return json.loads(os.environ.get("TF_CONFIG", "{}") or "{}").get("cluster", {})


def build_strategy(name: str, num_replicas_cpu: int = 0):
  """Returns the strategy named by --strategy.

  default: the default (no-op) strategy; one_device: GPU 0 or the CPU; mirrored: all local GPUs,
  or `num_replicas_cpu` logical CPU devices; multi_worker_mirrored: synchronous data parallelism
  over the workers in TF_CONFIG; parameter_server: asynchronous SGD (the paper's setting) with
  this process as the coordinator (chief) and workers/ps from TF_CONFIG.
  """
  if name == "default":
    return tf.distribute.get_strategy()
  if name == "one_device":
    device = "/gpu:0" if tf.config.list_physical_devices("GPU") else "/cpu:0"
    return tf.distribute.OneDeviceStrategy(device)
  if name == "mirrored":
    if num_replicas_cpu > 1 and not tf.config.list_physical_devices("GPU"):
      configure_cpu_replicas(num_replicas_cpu)
      return tf.distribute.MirroredStrategy([f"/cpu:{i}" for i in range(num_replicas_cpu)])
    return tf.distribute.MirroredStrategy()
  if name == "multi_worker_mirrored":
    if not os.environ.get("TF_CONFIG"):
      raise ValueError("--strategy=multi_worker_mirrored needs TF_CONFIG (see launch/README.md)")
    return tf.distribute.MultiWorkerMirroredStrategy()
  if name == "parameter_server":
    if not os.environ.get("TF_CONFIG"):
      raise ValueError("--strategy=parameter_server needs TF_CONFIG (see launch/README.md)")
    resolver = tf.distribute.cluster_resolver.TFConfigClusterResolver()
    return tf.distribute.experimental.ParameterServerStrategy(resolver)
  raise ValueError(f"--strategy={name!r} is unknown")


def run_server_if_needed(strategy_name: str) -> bool:
  """For --strategy=parameter_server, worker and ps tasks only serve; returns True if it served."""
  task_type, task_id = task_info()
  if strategy_name != "parameter_server" or task_type not in ("worker", "ps"):
    return False
  resolver = tf.distribute.cluster_resolver.TFConfigClusterResolver()
  server = tf.distribute.Server(resolver.cluster_spec(), job_name=task_type, task_index=task_id,
                                protocol=resolver.rpc_layer or "grpc", start=True)
  server.join()
  return True


def distribute_dataset(strategy, strategy_name: str, dataset_fn):
  """What `Model.fit` takes for `dataset_fn(input_context=None) -> tf.data.Dataset` under `strategy`.

  Multi-replica strategies call `dataset_fn` once per input pipeline with an InputContext (the
  pipeline shards and batches per replica); one device calls it once without.
  """
  if strategy_name == "parameter_server":
    import tf_keras as keras  # pylint: disable=g-import-not-at-top
    return keras.utils.experimental.DatasetCreator(dataset_fn)
  if strategy.num_replicas_in_sync > 1 or strategy_name == "multi_worker_mirrored":
    return strategy.distribute_datasets_from_function(dataset_fn)
  return dataset_fn()
