"""tf.data side of mentornet_tf: sources, label corruption, augmentation and pipelines.

  sources.py    a dataset resolved once (`resolve(config) -> Source`): embedded mnist5k / digits,
                fake, CIFAR via tfds or original TFRecords
  tfrecords.py  the original TF1 TFRecord format, validated file by file
  noise.py      label corruption keyed by (noise_seed, example id)
  (the stateless per-id hash behind noise and the clean subset is mentornet_tf/hashing.py)
  augment.py    the original per-example preprocessing (ResNet, CifarNet, standardization)
  pipeline.py   training / evaluation datasets of the WORKSPACE.md element contract
"""
from mentornet_tf.data.pipeline import (DatasetInfo, build_eval_dataset,  # noqa: F401
                                        build_train_dataset, build_train_eval_dataset,
                                        clean_subset_mask, dataset_info, training_noise_report)
from mentornet_tf.data.sources import (CorruptDataError, DataNotFoundError,  # noqa: F401
                                       LabelRangeError)
