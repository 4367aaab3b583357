"""tf.distribute strategy from a name and TF_CONFIG. Runs on the host, before anything is built.

Strategies (`--strategy`, launch/README.md says how to start each on a cluster):
  default / one_device     one process, one device.
  mirrored                 synchronous data parallelism over the local GPUs (or `num_replicas_cpu`
                           logical CPU devices, for tests).
  multi_worker_mirrored    synchronous data parallelism over the workers of TF_CONFIG; every
                           worker runs the same program, worker 0 (or the 'chief') writes results.
  parameter_server         asynchronous SGD, the paper's ImageNet/WebVision setting (§5.2 and
                           App.: asynchronous momentum SGD on 50 GPUs): the 'chief' task is the
                           coordinator that runs `fit`; 'worker' and 'ps' tasks only serve
                           (`run_server_if_needed`). All variables live on the ps: the student,
                           the optimizer slots, the frozen MentorNet and the loss moving average,
                           which every worker updates without coordination (last write wins), as
                           TF1 between-graph replication did.
"""
import json
import os
from typing import Callable, Dict, List, Optional, Tuple

import tensorflow as tf

from mentornet_tf import names


def configure_cpu_replicas(num_replicas: int) -> None:
  """Splits the CPU into `num_replicas` logical devices (multi-replica tests without GPUs).

  Must run before TensorFlow initialises its devices; a second call with the same number is a no-op.

  Raises:
    RuntimeError: TensorFlow is already initialised with another number of CPU devices.
  """
  if num_replicas <= 1:
    return
  cpus = tf.config.list_physical_devices("CPU")
  current = tf.config.get_logical_device_configuration(cpus[0])
  if current and len(current) == num_replicas:
    return
  try:
    tf.config.set_logical_device_configuration(
        cpus[0], [tf.config.LogicalDeviceConfiguration() for _ in range(num_replicas)])
  except RuntimeError as error:
    raise RuntimeError(
        f"--num_replicas_cpu={num_replicas}: the CPU must be split before TensorFlow initialises "
        f"its devices (run it in a fresh process): {error}") from None


def _tf_config() -> Dict:
  text = os.environ.get("TF_CONFIG", "") or "{}"
  try:
    config = json.loads(text)
  except json.JSONDecodeError as error:
    raise ValueError(f"TF_CONFIG is not valid JSON ({error}): {text[:200]!r}") from None
  if not isinstance(config, dict):
    raise ValueError(f"TF_CONFIG must be a JSON object with 'cluster' and 'task': {text[:200]!r}")
  return config


def cluster_spec() -> Dict[str, List[str]]:
  """{'chief': [...], 'worker': [...], 'ps': [...]} from TF_CONFIG ({} for a single process)."""
  return _tf_config().get("cluster", {}) or {}


def task_info() -> Tuple[str, int]:
  """(task type, task index) from TF_CONFIG; ('chief', 0) for a single process."""
  task = _tf_config().get("task", {}) or {}
  return task.get("type", "chief"), int(task.get("index", 0))


def is_chief() -> bool:
  """Whether this process writes checkpoints, summaries and results.json.

  The 'chief' task when the cluster has one (always under parameter_server: the coordinator),
  otherwise worker 0; a single process is its own chief. The others write to scratch.
  """
  # TF_CONFIG decides, for every strategy (the cluster resolvers read the same variable).
  task_type, task_id = task_info()
  if task_type == "chief":
    return True
  return task_type == "worker" and task_id == 0 and "chief" not in cluster_spec()


def _require_tf_config(name: str, needed: Tuple[str, ...]) -> None:
  cluster = cluster_spec()
  if not cluster:
    raise ValueError(f"--strategy={name} needs TF_CONFIG with a cluster (launch/README.md)")
  missing = [job for job in needed if not cluster.get(job)]
  if missing:
    raise ValueError(f"--strategy={name}: TF_CONFIG's cluster has no {' or '.join(missing)} "
                     f"task (cluster: {sorted(cluster)}; launch/README.md)")
  task_type, task_id = task_info()
  if task_type not in cluster or not 0 <= task_id < len(cluster[task_type]):
    raise ValueError(f"--strategy={name}: TF_CONFIG's task {task_type}:{task_id} is not in "
                     f"its cluster {json.dumps(cluster)}")


def check_tf_config(name: str) -> None:
  """ValueError naming TF_CONFIG when strategy `name` needs a cluster that TF_CONFIG lacks.

  Reads only the environment (no TensorFlow op runs): the check of `train_lib.validate`.
  """
  if name == "multi_worker_mirrored":
    _require_tf_config(name, ("worker",))
  elif name == "parameter_server":
    _require_tf_config(name, ("worker", "ps"))


def build_strategy(name: str, num_replicas_cpu: int = 0):
  """Returns the strategy named by --strategy (see the module docstring).

  Args:
    name: one of names.STRATEGIES.
    num_replicas_cpu: for 'mirrored' without GPUs: split the CPU into this many replicas.

  Returns:
    A tf.distribute.Strategy.

  Raises:
    ValueError: an unknown name, or a multi-process strategy without a usable TF_CONFIG.
  """
  if name == "default":
    return tf.distribute.get_strategy()
  if name == "one_device":
    device = "/gpu:0" if tf.config.list_physical_devices("GPU") else "/cpu:0"
    return tf.distribute.OneDeviceStrategy(device)
  if name == "mirrored":
    if num_replicas_cpu > 1 and not tf.config.list_physical_devices("GPU"):
      configure_cpu_replicas(num_replicas_cpu)
      # Named devices: MirroredStrategy() alone would use one CPU replica.
      return tf.distribute.MirroredStrategy([f"/cpu:{i}" for i in range(num_replicas_cpu)])
    return tf.distribute.MirroredStrategy()
  if name == "multi_worker_mirrored":
    _require_tf_config(name, ("worker",))
    return tf.distribute.MultiWorkerMirroredStrategy()
  if name == "parameter_server":
    _require_tf_config(name, ("worker", "ps"))
    resolver = tf.distribute.cluster_resolver.TFConfigClusterResolver()
    return tf.distribute.experimental.ParameterServerStrategy(resolver)
  raise ValueError(f"--strategy={name!r} is unknown; choose one of {', '.join(names.STRATEGIES)}")


def run_server_if_needed(strategy_name: str) -> bool:
  """Under parameter_server, 'worker' and 'ps' tasks serve the coordinator until killed.

  Returns False (at once) for every other strategy and for the chief; never returns otherwise:
  the coordinator does not stop its servers, whoever launched the job kills them when the
  chief has exited (launch/cluster/launch_parameter_server.sh does).
  """
  task_type, task_id = task_info()
  if strategy_name != "parameter_server" or task_type not in ("worker", "ps"):
    return False
  _require_tf_config(strategy_name, ("worker", "ps"))
  resolver = tf.distribute.cluster_resolver.TFConfigClusterResolver()
  server = tf.distribute.Server(resolver.cluster_spec(), job_name=task_type, task_index=task_id,
                                protocol=resolver.rpc_layer or "grpc", start=True)
  server.join()
  return True


def _shard_by_worker(dataset_fn: Callable, num_workers: int,
                     worker_index_fn: Optional[Callable[[], tf.Tensor]] = None) -> Callable:
  """Parameter server: each worker reads only its own examples.

  The dataset function is traced once on the coordinator and the same graph runs on every
  worker; the worker index is a call-time value of that graph (ClusterCoordinator:
  `experimental_get_current_worker_index`, or `worker_index_fn` in tests). It becomes the
  `input_pipeline_id` of an InputContext with `num_workers` pipelines, so the pipeline selects
  the worker's share before reading anything (`Split.open(num_workers, index)`: its shard files,
  or its image paths, or its in-memory rows; a tfds or original-TFRecord split reads every record
  and keeps its own before decoding). Ids stay global, so label noise (keyed by (noise_seed, id))
  does not depend on the sharding. The per-replica batch is unchanged: each worker step trains on
  the global batch (`--batch_size`) of its own stream.
  """
  index_fn = worker_index_fn or tf.distribute.coordinator.experimental_get_current_worker_index

  def sharded_fn(input_context=None):
    if num_workers <= 1:
      return dataset_fn(input_context)
    replicas = input_context.num_replicas_in_sync if input_context is not None else 1
    context = tf.distribute.InputContext(
        num_input_pipelines=num_workers, input_pipeline_id=tf.cast(index_fn(), tf.int64),
        num_replicas_in_sync=replicas)
    return dataset_fn(context)

  return sharded_fn


def distribute_dataset(strategy, strategy_name: str, dataset_fn: Callable):
  """The training input `Model.fit` takes under `strategy`.

  Multi-replica strategies call `dataset_fn` once per input pipeline with an InputContext (the
  pipeline shards the examples and batches per replica); one device calls it once without.
  Parameter server: a `DatasetCreator` (fit needs `steps_per_epoch`); every worker reads its own
  share of the examples (`_shard_by_worker`).

  Args:
    strategy: from `build_strategy`.
    strategy_name: its --strategy name.
    dataset_fn: `dataset_fn(input_context=None) -> tf.data.Dataset` of batches (WORKSPACE.md).

  Returns:
    A dataset, a distributed dataset or a DatasetCreator.
  """
  if strategy_name == "parameter_server":
    import tf_keras as keras  # pylint: disable=g-import-not-at-top
    num_workers = len(cluster_spec().get("worker", [])) or 1
    return keras.utils.experimental.DatasetCreator(_shard_by_worker(dataset_fn, num_workers))
  if strategy.num_replicas_in_sync > 1 or strategy_name == "multi_worker_mirrored":
    return strategy.distribute_datasets_from_function(dataset_fn)
  return dataset_fn()
