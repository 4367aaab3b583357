"""The names a user can choose from, defined once (no TensorFlow).

`config.py` validates against them, `flags.py` offers them as enum choices, and the builders key
their registries by them: `students.STUDENTS` (a test keeps its keys equal to `STUDENTS`),
`data/augment.py`, `data/sources.py`, `distribute.build_strategy`.
"""

# --dataset_name. cifar10/cifar100: tfds or the original TFRecords; mnist5k, digits: embedded
# (no download); fake: random images for tests and benchmarks; filelist, folder: image files named
# by a `<relative path> <label>` list or a class-per-folder tree; webvision, webvision_mini:
# WebVision 1.0 (entire, and the first 50 classes of the Google list) from its official layout.
# imagenet2012: the prepared tfds dataset. Also 'tfds:NAME', any prepared tfds classification set.
# tfrecord_shards: any of these converted to sharded TFRecords (mentornet_tf.data.convert).
# cifar10_n, cifar100_n: CIFAR's training images with CIFAR-N's human labels (data/cifar_n.py).
DATASETS = ("cifar10", "cifar100", "mnist5k", "digits", "fake", "filelist", "folder", "webvision",
            "webvision_mini", "imagenet2012", "tfrecord_shards", "cifar10_n", "cifar100_n")
TFDS_PREFIX = "tfds:"

# --studentnet. resnet101 and inception are the original's names (inception = slim CifarNet);
# inception_resnet_v2 (the paper's ImageNet/WebVision student) and resnet50 (Model Garden).
STUDENTS = ("resnet101", "inception", "mlp", "small_cnn", "tiny_cnn", "inception_resnet_v2",
            "resnet50")

# --strategy: tf.distribute strategies (multi_worker_mirrored / parameter_server read TF_CONFIG).
STRATEGIES = ("default", "one_device", "mirrored", "multi_worker_mirrored", "parameter_server")

# Training augmentations ('resnet': pad + crop + flip + standardize; 'cifarnet': pad 8 + crop +
# flip + standardize; 'standardize' only; 'none': images as stored; 'inception_imagenet': slim's
# Inception crop/flip/colour, [-1, 1]; 'resnet_imagenet': the Model Garden's crop/flip, mean/std).
# '*_imagenet_eval': the evaluation transform (centre crop, resize) at training too: Table 4's
# NoReg, "no data augmentation".
IMAGENET_AUGMENTATIONS = ("inception_imagenet", "resnet_imagenet", "inception_imagenet_eval",
                          "resnet_imagenet_eval")
# 'pad4': pad 4 + crop + flip + standardize, the paper's CIFAR augmentation for both students
# (App. E.1; 'resnet' pads 2 and 'cifarnet' 8 as the original code).
AUGMENTATIONS = ("resnet", "cifarnet", "standardize", "none", "pad4") + IMAGENET_AUGMENTATIONS
# --augmentation also takes 'auto': the student's own (students.STUDENTS[name].augmentation).
AUGMENTATION_CHOICES = ("auto",) + AUGMENTATIONS
