"""absl flags of the entry points, grouped for --help (their conversion: flag_configs.py).

Original flag names and defaults (google/mentornet `code/cifar_train_mentornet.py`) wherever the
concept existed, so a line of the TF1 `commands/*.sh` is a line of a flagfile. Flags are defined
inside functions (importing this module registers nothing): each entry point has a `define_flags()`
that calls them, and only runs it when it runs as a command (`if __name__ == "__main__"`, the
console scripts, the bad-input harness). Every definition is idempotent (a flag already registered
is kept), so two entries' `define_flags()` may run in one process. Each flag is filed under a group
(data, student, mentor, training, distribution, output, ...) that `--help` prints as a section
(mentornet_tf/cli.py). Names with a fixed set of values are `DEFINE_enum` (choices shown, a typo
refused by absl). An unknown flag, also in a flagfile, is a fatal parse error (the original silently
ignored the misspelled `--loss_p_precentile`).
"""
import types
from typing import Callable, Dict, List

from absl import flags

from mentornet_tf import config as config_lib
from mentornet_tf import names

FLAGS = flags.FLAGS

# Group title -> names. --help prints the train groups in this order, any other group after them
# in the order it was first used.
GROUP_ORDER = ("data", "student", "mentor", "training", "distribution", "output")
_GROUPS: Dict[str, List[str]] = {}


def define(group: str, definer: Callable, name: str, *args, flag_values=None, **kwargs):
  """`definer(name, *args, **kwargs)` (a `flags.DEFINE_*`) unless `name` exists; files it in
  `group`.

  Returns `name` (values are read through FLAGS). A flag keeps the group it was first filed in.
  """
  if flag_values is not None and flag_values is not FLAGS:  # a private set (options_from)
    definer(name, *args, flag_values=flag_values, **kwargs)
    return name
  if name not in FLAGS:
    definer(name, *args, **kwargs)
  names = _GROUPS.setdefault(group, [])
  if name not in names and not any(name in other for other in _GROUPS.values()):
    names.append(name)
  return name


def groups() -> Dict[str, List[str]]:
  """{group title: flag names} of every flag defined through `define`, in --help order."""
  order = ([t for t in GROUP_ORDER[:-1] if t in _GROUPS] +
           [t for t in _GROUPS if t not in GROUP_ORDER] + ["output"] * ("output" in _GROUPS))
  return {title: list(_GROUPS[title]) for title in order if _GROUPS[title]}


def help_text() -> str:
  """The grouped flag sections of --help: one block per group, absl's rendering of each flag."""
  blocks = []
  for title, members in groups().items():
    # absl renders a module's key flags under a `title:` header; a group is such a "module".
    for name in members:
      FLAGS.register_key_flag_for_module(title, FLAGS[name])
    blocks.append(FLAGS.module_help(title))
  return "\n".join(block.strip("\n") for block in blocks) + "\n"


class Group:
  """Defines flags filed under one --help section: `Group("data").enum("dataset_name", ...)`."""

  def __init__(self, title: str, flag_values=None):
    self.title = title
    self.flag_values = flag_values  # None: absl's FLAGS

  def _define(self, definer, name, *args, **kwargs):
    return define(self.title, definer, name, *args, flag_values=self.flag_values, **kwargs)

  def string(self, name, default, help_text, **kwargs):
    return self._define(flags.DEFINE_string, name, default, help_text, **kwargs)

  def integer(self, name, default, help_text, **kwargs):
    return self._define(flags.DEFINE_integer, name, default, help_text, **kwargs)

  def float(self, name, default, help_text, **kwargs):
    return self._define(flags.DEFINE_float, name, default, help_text, **kwargs)

  def bool(self, name, default, help_text, **kwargs):
    return self._define(flags.DEFINE_bool, name, default, help_text, **kwargs)

  def enum(self, name, default, choices, help_text, **kwargs):
    return self._define(flags.DEFINE_enum, name, default, list(choices), help_text, **kwargs)

  def list(self, name, default, help_text, **kwargs):
    return self._define(flags.DEFINE_list, name, default, help_text, **kwargs)

  def multi_string(self, name, default, help_text, **kwargs):
    return self._define(flags.DEFINE_multi_string, name, default, help_text, **kwargs)


def define_source_flags():
  """The data flags that say which data are read and from where (train; data.convert)."""
  g = Group("data")
  g.string("dataset_name", "cifar10", f"Dataset: {', '.join(names.DATASETS)}, or tfds:NAME (a "
           "prepared tensorflow-datasets classification set under --data_dir).")
  g.string("data_dir", "", "tfds data_dir, or the directory of the original {dataset}_train-* "
           "TFRecords. Unused for the embedded mnist5k/digits.")
  g.enum("data_format", "auto", config_lib.DATA_FORMATS,
         "tfds | tfrecord (original format) | auto (tfrecord when files match).")
  g.string("test_data_dir", "", "Directory of the clean test split when it differs from "
           "--data_dir (the original kept it in data/<ds>/val).")
  g.integer("image_size", 224, "Square side the images of filelist, folder and webvision* are "
            "preprocessed to (299 for inception_resnet_v2 as the paper).")
  g.string("train_list", "train.txt", "filelist: the training list of `<relative path> <label>` "
           "lines (relative to --data_dir unless absolute; image paths relative to --data_dir).")
  g.string("test_list", "test.txt", "filelist: the test list, as --train_list.")
  g.integer("num_classes", 0, "filelist: the class count (labels lie in [0, num_classes)).")
  g.enum("cifar_n_labels", "auto", config_lib.CIFAR_N_LABELS, "cifar10_n / cifar100_n: the "
         "human label set (auto: aggre for CIFAR-10N, noisy100 for CIFAR-100N).")
  g.string("cifar_n_dir", "", "cifar10_n / cifar100_n: the directory of CIFAR-10_human.pt / "
           "CIFAR-100_human.pt (or the *_human_ordered.npy + image_order_c*.npy pair), from "
           "github.com/UCSC-REAL/cifar-10-100n; default --data_dir.")


def define_data_flags():
  define_source_flags()
  g = Group("data")
  g.float("noise_fraction", 0.0, "Probability that a training label is corrupted.")
  g.enum("noise_type", "uniform", config_lib.NOISE_TYPES,
         "uniform: a random class, may equal the true one (the paper); flip: a random other "
         "class; pairflip: class c -> c+1; asymmetric: the dataset's class-conditional flips "
         "(CIFAR-10 truck->automobile, bird->airplane, deer->horse, cat<->dog; CIFAR-100 the "
         "next class of the superclass; MNIST 2->7, 3->8, 5<->6, 7->1).")
  g.integer("noise_seed", 0, "Noise is a function of (noise_seed, example id) only.")
  g.integer("batch_size", 128, "Global batch size (all replicas and workers).")
  g.integer("shuffle_buffer", 10000, "Shuffle buffer of the training pipeline.")
  g.enum("augmentation", "auto", names.AUGMENTATION_CHOICES,
         "auto = the student's own (resnet: pad 36/crop/flip; inception: pad 8).")
  g.float("clean_subset_fraction", 0.1, "Share of training examples whose clean label is known "
          "(MentorNet DD, Step 6).")
  g.string("imagenet_val_dir", "", "webvision*: a prepared tfds imagenet2012 data_dir (or its "
           "conversion by mentornet_tf.data.convert) whose ILSVRC12 val, restricted to the "
           "WebVision synsets, is a second test set (results.json: final_imagenet_val).")


def define_student_flags():
  g = Group("student")
  g.enum("studentnet", "resnet101", names.STUDENTS, "StudentNet.")
  g.float("weight_decay", None, "Weight decay coefficient on sum ||W||^2/2; default: the "
          "original's (resnet101 2e-4, inception 0).")
  g.enum("loss", "cross_entropy", config_lib.LOSSES,
         "Training loss (the weighting always sees CE): cross_entropy; focal (the paper's: CE "
         "times the constant (1 - p_y)^gamma); focal_differentiated (tf_keras' focal loss, "
         "alpha 1); bootstrap_soft / bootstrap_hard (Reed et al., App. E Eq. 31/32).")
  g.float("focal_gamma", None, "gamma of --loss=focal*; default 2 (the paper tunes 1, 2, 3).")
  g.float("bootstrap_beta", None, "beta of --loss=bootstrap_*; default Reed's (soft 0.95, "
          "hard 0.8).")
  g.float("dropout_keep_prob", None, "Dropout keep probability of the student (Forgetting: tune "
          "in 0.2-0.9; NoReg: 1.0); default the student's own (inception 0.8, "
          "inception_resnet_v2 0.8, resnet101 / resnet50 1.0); refused for students without "
          "dropout (mlp, small_cnn, tiny_cnn).")
  g.integer("s_model_pretrain_steps", 0, "> 0: Goldberger & Ben-Reuven's S-model: train with CE "
            "for this many steps, set a K x K noise-adaptation channel from the confusion matrix "
            "of the student's predictions vs the noisy labels, then train on the channel's "
            "output (evaluation uses the student's). 0: off.")
  g.float("aux_weight", None, "Weight of the auxiliary head's loss (inception_resnet_v2; slim's "
          "0.4 by default, 0 = none); v weights it as it weights the main loss.")
  Group("distribution").bool("sync_batch_norm", False, "Synchronised BatchNorm across replicas.")


def define_mentor_flags():
  g = Group("mentor")
  g.enum("weighting", "auto", ["auto"] + list(config_lib.WEIGHTING_MODES),
         "auto: mentornet when --trained_mentornet_dir is set, else none (FullModel).")
  g.string("trained_mentornet_dir", "", "MentorNet: a directory written by train_mentornet, or "
           "an original TF1 checkpoint (dir or prefix).")
  g.enum("curriculum", "self_paced", config_lib.CURRICULUM_NAMES,
         "Predefined curriculum for --weighting=curriculum (SPADE Step 9).")
  g.float("loss_p_percentile", 0.7, "p of the loss-percentile moving average.")
  g.integer("burn_in_epoch", 0, "Burn-in length in epoch percentage (v forced to 1 while epoch "
            "< burn_in_epoch - 1).")
  g.bool("fixed_epoch_after_burn_in", False, "Cap the epoch fed to MentorNet (and used for "
         "schedules) at burn_in_epoch. Set for MentorNet DD.")
  g.float("loss_moving_average_decay", 0.5, "Decay of the loss moving average.")
  g.string("example_dropout_rates", "0.5, 17, 0.05, 78, 1.0, 5",
           "Example dropout schedule: rate, n_epochs, ... summing to 100 epochs.")
  g.enum("percentile_scope", "replica", config_lib.PERCENTILE_SCOPES,
         "replica: per-replica percentile and dropout (original); global: over all replicas "
         "(identical to one device).")
  g.float("curriculum_lambda1", None, "lambda1 of Eq. 5-7 (self_paced, closed_form); default: "
          "the curriculum's own (0).")
  g.float("curriculum_lambda2", None, "lambda2 of Eq. 5-7 (closed_form); default: its own (1).")
  g.float("curriculum_gamma", None, "gamma of focal_loss, spcl_linear, mentornet_pd; default: the "
          "curriculum's own (2, 1, 1).")
  g.enum("curriculum_update", "gradient", ["gradient", "closed_form"],
         "Step 9 projected gradient on v, or the closed-form minimiser v*.")
  g.float("curriculum_step_size", 1.0, "Step size of Step 9's update of v.")
  g.float("initial_weight", 1.0, "v0 of Algorithm 1 (curriculum weighting).")
  g.list("update_mentornet_epochs", [], "Step 6: epoch percentages at which MentorNet DD is "
         "re-learned from the current StudentNet (the paper: 21,75).")
  g.float("dd_percentile", 0.0, "Percentile of the dump losses that MentorNet DD's loss_diff is "
          "taken against (0 = 100 * --loss_p_percentile).")
  g.integer("mentornet_learning_steps", 30000, "Adam steps to learn MentorNet DD.")
  g.integer("dd_loss_shifts", 0, "MentorNet DD learned in the run: also learn each dump row at K "
            "loss offsets (-1 to +0.5 times the loss_diff threshold; loss_diff and target kept), "
            "so v follows loss_diff wherever the moving average goes instead of extrapolating "
            "off the dump's line loss_diff = loss - threshold. 0 = the original.")
  g.float("min_example_weight", 0.0, "--weighting=mentornet: v below this is set to 0 (the "
          "sigmoid never reaches 0; its floor on many corrupted examples adds up). 0 = the "
          "original.")
  g.enum("dd_dump_mode", "inference", config_lib.DD_DUMP_MODES,
         "How the StudentNet is run for the MentorNet DD dump: inference (BN moving statistics, "
         "no dropout, no augmentation) or training (BN batch statistics, dropout and the "
         "training augmentation, as the train step; no state changes).")
  g.list("self_paced_growth_epochs", [str(e) for e in range(10, 100, 10)],
         "--weighting=self_paced_baseline: epoch percentages at which lambda grows.")
  g.float("self_paced_growth", 0.2, "--weighting=self_paced_baseline: relative growth of lambda "
          "at each of --self_paced_growth_epochs (the paper: 20%); lambda starts at the "
          "--loss_p_percentile of the first batch's loss.")


def define_train_flags():
  g = Group("training")
  g.enum("optimizer", config_lib.AUTO, (config_lib.AUTO,) + config_lib.OPTIMIZERS,
         "Student optimizer; auto: the student's own as the original (inception: sgd, every "
         "other student: momentum).")
  g.float("momentum", 0.9, "Momentum.")
  g.float("learning_rate", 0.1, "Base learning rate.")
  g.enum("lr_schedule", config_lib.AUTO, (config_lib.AUTO,) + config_lib.LR_SCHEDULES,
         "piecewise (original resnet) | exponential (original inception; staircase, x "
         "--learning_rate_decay_factor every --num_epochs_per_decay epochs) | constant; auto: "
         "the student's own (inception: exponential, every other student: piecewise).")
  g.string("lr_boundaries", "19531,25000,30000", "Piecewise schedule boundaries.")
  g.string("lr_values", "0.1,0.01,0.001,0.0001", "Piecewise schedule values (scaled so the "
           "first equals --learning_rate).")
  g.float("learning_rate_decay_factor", 0.1, "Exponential schedule decay factor.")
  g.float("num_epochs_per_decay", 50, "Exponential schedule period in epochs.")
  g.integer("max_number_of_steps", 39000, "Training steps; also the denominator of the epoch "
            "percentage fed to MentorNet.")
  g.float("train_epochs", 0, "> 0: train this many epochs: --max_number_of_steps = ceil(epochs * "
          "steps per epoch of the global batch). An explicit --max_number_of_steps wins.")
  g.integer("steps_per_epoch", 0, "Steps per Keras epoch (evaluation and epoch-end checkpoint "
            "interval); 0 = num_train // batch. --train_epochs and --num_epochs_per_decay count "
            "passes over the data whatever it is.")
  g.integer("eval_interval", 1, "Evaluate on the clean test split every N epochs.")
  g.integer("seed", 0, "Initialisation, shuffling and example dropout seed.")
  g.enum("dtype", "float32", config_lib.DTYPES,
         "StudentNet compute dtype: bfloat16 / float16 = mixed precision (float32 variables, "
         "logits cast to float32; float16 with dynamic loss scaling). MentorNet, percentile and "
         "moving average stay float32.")
  g.bool("jit_compile", False, "Compile the training step (student and weighting) with XLA; "
         "one device only (not with several replicas or workers).")
  g.integer("steps_per_execution", 1, "Training steps per tf.function call. Host callbacks run "
            "between calls: --summary_steps summaries, --save_interval_steps checkpoints and "
            "the stop at --max_number_of_steps keep their steps; a summary covers the last "
            "sampled step of a call (one per call when N > --summary_steps).")
  g = Group("distribution")
  g.enum("strategy", "default", names.STRATEGIES, "tf.distribute strategy.")
  g.integer("num_replicas_cpu", 0, "With --strategy=mirrored and no GPU: split the CPU into N "
            "logical devices.")
  g = Group("output")
  g.string("train_log_dir", "", "Run directory: checkpoints, TensorBoard, results.")
  g.integer("save_summaries_secs", 120, "The original's; only its default is accepted: "
            "summaries are written every --summary_steps.")
  g.integer("save_interval_secs", 1200, "Checkpoint period (at epoch ends).")
  g.integer("save_interval_steps", 0, "Also checkpoint every N steps (mid-epoch; a restart resumes "
            "at that step). 0: off. Single-process runs also checkpoint on SIGTERM.")
  g.integer("summary_steps", 10, "TensorBoard batch summaries every N steps.")
  g.bool("export_weights", False, "Write per-example (id, loss, v, labels) per epoch.")
  g.integer("verbose", 1, "1: a one-line progress bar (loss, accuracy vs noisy and clean "
            "labels, mean v, learning rate; the rest goes to TensorBoard), 2: one line per "
            "epoch, 0: silent.")


def options_from(define_flags: Callable, **overrides) -> types.SimpleNamespace:
  """An entry's flag values as a namespace without parsing a command line or touching FLAGS.

  `define_flags(flag_values)` registers the entry's flags into a private `FlagValues`; the
  namespace holds their defaults, replaced by `overrides` (each checked by the flag's parser:
  an unknown name or a bad enum value raises). Tests and library callers build the options of
  a tool (`train_mentornet.learn(options)`, `visualize.draw(options)`) with it.
  """
  flag_values = flags.FlagValues()
  define_flags(flag_values)
  flag_values(["options"])
  for name, value in overrides.items():
    if name not in flag_values:
      raise AttributeError(f"no flag --{name}")
    if isinstance(value, str):
      flag_values[name].parse(value)  # absl's parser: enum choices, numbers, lists
    else:
      setattr(flag_values, name, value)
  return types.SimpleNamespace(**{name: flag_values[name].value for name in flag_values})


def options_from_flags(define_flags: Callable) -> types.SimpleNamespace:
  """The parsed values of the flags `define_flags` registers, from absl's FLAGS (a command)."""
  flag_values = flags.FlagValues()
  define_flags(flag_values)
  return types.SimpleNamespace(**{name: FLAGS[name].value for name in flag_values})


def define_all():
  define_data_flags()
  define_student_flags()
  define_mentor_flags()
  define_train_flags()
