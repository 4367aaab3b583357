"""tf.data side of mentornet_tf: sources, label corruption, augmentation and pipelines.

  sources.py          a dataset resolved once (`resolve(config) -> Source`), the registry;
                      source_base.py (Source, Split), array_sources.py (mnist5k, digits, fake),
                      stored_sources.py (CIFAR: original TFRecords, tfds), image_files.py
                      (filelist, folder, webvision*; image_lists.py reads their lists and checks
                      the files), tfds_sources.py (imagenet2012, tfds:NAME),
                      shards.py (tfrecord_shards), imagenet_val.py (ILSVRC12 val on WebVision ids)
  tfrecords.py        the original TF1 TFRecord format, validated file by file
  convert.py          entry `python -m mentornet_tf.data.convert` (shard_writer.py writes)
  noise.py            label corruption keyed by (noise_seed, example id), the clean subset
  (the stateless per-id hash behind noise and the clean subset is mentornet_tf/hashing.py)
  augment.py          the original per-example preprocessing (ResNet, CifarNet, standardization),
                      encoded images decoded per example; preprocess_imagenet.py the ImageNet styles
  pipeline.py         training / evaluation datasets of the WORKSPACE.md element contract

Importing the package imports no TensorFlow (`python -m mentornet_tf.data.convert` sets the
command's TF environment first, mentornet_tf/entry.py); the names below load `pipeline` on use.
"""
import importlib

_EXPORTS = {
    "pipeline": ("DatasetInfo", "build_eval_dataset", "build_train_dataset",
                 "build_train_eval_dataset", "dataset_info", "training_noise_report"),
    "noise": ("clean_subset_mask",),
    "sources": ("CorruptDataError", "DataNotFoundError", "LabelRangeError"),
}


def __getattr__(name):
  for module, names in _EXPORTS.items():
    if name in names:
      return getattr(importlib.import_module(f"mentornet_tf.data.{module}"), name)
  raise AttributeError(f"module 'mentornet_tf.data' has no attribute {name!r}")
