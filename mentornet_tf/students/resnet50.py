"""ResNet-50 from the TensorFlow Model Garden: the cheaper ImageNet / WebVision StudentNet.

The network is the Model Garden's own: `official.vision.modeling.backbones.ResNet(model_id=50)`
(v1.5 bottlenecks, stem 7 x 7/2 conv + 3 x 3/2 max pool, convs without bias, BN after each conv)
inside `official.vision.modeling.classification_model.ClassificationModel` (global average pool
of the last endpoint, dropout, dense logits), with the settings of the Model Garden's
`resnet_imagenet` experiment: BN momentum 0.9, epsilon 1e-5, L2 weight decay 1e-4. Parameters:
25,612,201 at 1001 classes (the Model Garden's ImageNet head), 25,610,152 at 1000 (backbone
23,561,152 including the BN moving statistics, head 2048 * K + K).

Keras: tf-models-official 2.20 imports `tf_keras` itself (`import tensorflow as tf, tf_keras`),
so its layers are tf_keras layers whatever `tf.keras` resolves to, and the model mixes with the
package's tf_keras code (`students.weight_decay_loss`, SpadeModel) with no environment variable.

Weight decay: the Model Garden attaches `tf_keras.regularizers.l2(l2_weight_decay / 2)` with
l2_weight_decay = 1e-4 to the kernels ("divide by 2 to match tf.nn.l2_loss"), i.e.
1e-4 * sum ||W||^2 / 2, which is `WEIGHT_DECAY * students.weight_decay_loss` with
`WEIGHT_DECAY = 1e-4`. No regularizer is attached to the layers (SpadeModel adds the decay,
scaled by sum(v) / B as the original MentorNet code).

Inputs: images normalised by the ImageNet mean and standard deviation (the Model Garden style,
data/preprocess_imagenet.py 'resnet'), 224 x 224 x 3 by default; any size >= 32 builds.

`official` is imported when the model is built, not when this module is imported.

Seeding: the backbone's initializers are unseeded strings ('VarianceScaling'); tf_keras draws an
unseeded initializer's seed from its seed generator (after `keras.utils.set_random_seed`) or
Python's `random`, so a given `seed` builds with both temporarily seeded (restored afterwards):
same seed, same initial weights, whatever ran before in the process.
"""
import contextlib
import random
from typing import Optional, Sequence

import tf_keras as keras

WEIGHT_DECAY = 1e-4        # Model Garden resnet_imagenet losses.l2_weight_decay
BN_MOMENTUM = 0.9          # Model Garden resnet_imagenet norm_activation
BN_EPSILON = 1e-5
IMAGE_SIZE = 224
MIN_IMAGE_SIZE = 32        # total stride 32
MODEL_GARDEN_PARAMS_1001 = 25_612_201


@contextlib.contextmanager
def _seeded_python_random(seed: Optional[int]):
  """Seeds tf_keras' draw of unseeded initializer seeds for the duration of a build.

  tf_keras takes such a seed from its seed generator once `keras.utils.set_random_seed` has run
  in the process (a training run does), else from Python's `random`: both are set here and
  restored afterwards, so the same `seed` builds the same weights whatever ran before.
  """
  if seed is None:
    yield
    return
  from tf_keras.src import backend as keras_backend  # pylint: disable=g-import-not-at-top
  holder = keras_backend._SEED_GENERATOR  # pylint: disable=protected-access
  had_generator = hasattr(holder, "generator")
  generator = getattr(holder, "generator", None)
  state = random.getstate()
  random.seed(int(seed))
  holder.generator = random.Random(int(seed))
  try:
    yield
  finally:
    random.setstate(state)
    if had_generator:
      holder.generator = generator
    else:
      del holder.generator


def build_resnet50(num_classes: int, input_shape: Sequence[int], sync_batch_norm: bool = False,
                   seed: Optional[int] = None, dropout_rate: float = 0.0,
                   dropout_keep_prob: Optional[float] = None) -> keras.Model:
  """The registry builder (students.STUDENTS['resnet50'].build).

  Args:
    num_classes: number of logits.
    input_shape: (H, W, 3), H, W >= 32 (ImageNet: 224 x 224 x 3).
    sync_batch_norm: synchronised BN across replicas (the Model Garden's use_sync_bn).
    seed: initialization seed (see the module docstring); None = nondeterministic.
    dropout_rate: dropout before the logits (the Model Garden's default: 0).
    dropout_keep_prob: when given, overrides dropout_rate with 1 - dropout_keep_prob.

  Returns:
    A built tf_keras Model (the Model Garden's ClassificationModel): float32 [B, H, W, 3] ->
    logits [B, num_classes].

  Raises:
    ValueError: for an image smaller than 32 x 32.
  """
  # Imported here: importing `official` costs about a second and registers an absl flag
  # (--tfds_debug_list_dir), which importing mentornet_tf.students must not do.
  # pylint: disable=g-import-not-at-top
  from official.vision.modeling import classification_model
  from official.vision.modeling.backbones import resnet as model_garden_resnet
  # pylint: enable=g-import-not-at-top
  if dropout_keep_prob is not None:
    dropout_rate = 1.0 - float(dropout_keep_prob)
  shape = tuple(int(d) for d in input_shape)
  if min(shape[0], shape[1]) < MIN_IMAGE_SIZE:
    raise ValueError(f"resnet50 needs images of at least {MIN_IMAGE_SIZE} x {MIN_IMAGE_SIZE}, "
                     f"got input_shape={shape}")
  input_specs = keras.layers.InputSpec(shape=(None,) + shape)
  with _seeded_python_random(seed):
    backbone = model_garden_resnet.ResNet(
        model_id=50, input_specs=input_specs, norm_momentum=BN_MOMENTUM,
        norm_epsilon=BN_EPSILON, use_sync_bn=bool(sync_batch_norm))
    return classification_model.ClassificationModel(
        backbone, num_classes, input_specs=input_specs, dropout_rate=dropout_rate,
        name="resnet50")
