r"""Draws a MentorNet's curriculum (paper Fig. 4) and its implied robust objective (Fig. 2).

  python -m mentornet_tf.visualize --model_dir=data/mentornet_models/mentornet_pd \
      --output_dir=/tmp/mentornet_pd_plots --loss_bound=5 \
      --epoch_ranges=0,10,18,20,30,40,50,60,70,80,90,95,99

--model_dir is a MentorNet directory of ours or an original TF1 checkpoint (directory or prefix,
e.g. .../mentornet_pd); --curriculum=<name> draws a predefined curriculum's v* instead (to compare
a learned MentorNet with its target). Writes into --output_dir:
  epoch_<t>.png            the weight over (loss - moving average, loss) at epoch percentage t;
  curriculum_grid.png      all epochs in one figure;
  curriculum.gif           the epochs as an animation (0.5 s a frame, as the original's plot.gif);
  robust_objective.png     the weight g(l) and rho(l) = int_0^l g (Proposition 1) along the loss,
                           with loss_diff = l - --objective_moving_average at
                           --objective_epoch, next to Huber, log-sum, self-paced and Lorentzian.
The original (`visualizer.py`) used --loss_bound=5 for MentorNet PD and 15 for DD, and saved
its figures in the model directory; here the output directory is explicit.
"""
import os

import mentornet_tf  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow is imported)

from absl import app
from absl import flags
import numpy as np
from PIL import Image

from mentornet_tf.mentor import curricula
from mentornet_tf.mentor import plots
from mentornet_tf.mentor import storage

FLAGS = flags.FLAGS
flags.DEFINE_string("model_dir", "", "MentorNet directory or TF1 checkpoint (dir or prefix).")
flags.DEFINE_string("curriculum", "", "Instead of --model_dir: draw this predefined curriculum "
                    f"({', '.join(curricula.CURRICULA)}) with its default hyper-parameters.")
flags.DEFINE_string("output_dir", "", "Directory for the PNG/GIF files (created; required).")
flags.DEFINE_float("loss_bound", 15.0, "Loss axis [0, B]; loss_diff axis [-B, B].")
flags.DEFINE_list("epoch_ranges", "0,10,20,30,40,50,60,70,80,90,99",
                  "Epoch percentages (0..99) to draw, one PNG each.")
flags.DEFINE_enum("style", "surface", list(plots.STYLES), "3-D surface (Fig. 4) or heat map.")
flags.DEFINE_integer("resolution", 60, "Grid points per axis of each surface.")
flags.DEFINE_float("label", 0.0, "The label feature (the original always feeds 0).")
flags.DEFINE_float("objective_moving_average", 2.0, "Loss moving average l_pt that loss_diff is "
                   "computed against for robust_objective.png.")
flags.DEFINE_float("objective_epoch", 50.0, "Epoch percentage for robust_objective.png.")
flags.DEFINE_float("objective_loss_bound", None, "Loss range of robust_objective.png "
                   "(default: --loss_bound).")
flags.DEFINE_boolean("gif", True, "Also write curriculum.gif.")


def _usage(flag, value, requirement):
  return app.UsageError(f"--{flag}={value!r} is invalid: {requirement}")


def parse_epochs(values):
  """Epoch percentages from the --epoch_ranges strings; UsageError on a bad value."""
  epochs = []
  for value in values:
    try:
      epoch = float(value)
    except ValueError:
      raise _usage("epoch_ranges", ",".join(values), f"{value!r} is not a number") from None
    if not 0 <= epoch <= 99:
      raise _usage("epoch_ranges", ",".join(values), f"{value!r} is outside 0..99")
    epochs.append(epoch)
  if not epochs:
    raise _usage("epoch_ranges", "", "give at least one epoch percentage")
  return epochs


def _weight_fn():
  """(weight function, title) for --model_dir or --curriculum."""
  if bool(FLAGS.model_dir) == bool(FLAGS.curriculum):
    raise app.UsageError("give exactly one of --model_dir (a MentorNet) and --curriculum")
  if FLAGS.curriculum:
    if FLAGS.curriculum not in curricula.CURRICULA:
      raise _usage("curriculum", FLAGS.curriculum,
                   f"choose one of {', '.join(curricula.CURRICULA)}")
    return plots.curriculum_weight_fn(FLAGS.curriculum), f"curriculum {FLAGS.curriculum}"
  try:
    model, metadata = storage.load_mentornet(FLAGS.model_dir)
  except (FileNotFoundError, ValueError) as error:
    raise _usage("model_dir", FLAGS.model_dir, f"no loadable MentorNet there ({error})") from None
  name = metadata.get("curriculum") or os.path.basename(os.path.normpath(FLAGS.model_dir))
  return plots.model_weight_fn(model), f"MentorNet {name}"


def _write(path, png_bytes, written):
  with open(path, "wb") as handle:
    handle.write(png_bytes)
  written.append(path)


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
  if not FLAGS.output_dir:
    raise _usage("output_dir", FLAGS.output_dir, "an output directory is required")
  if not FLAGS.loss_bound > 0:
    raise _usage("loss_bound", FLAGS.loss_bound, "must be > 0")
  if FLAGS.resolution < 2:
    raise _usage("resolution", FLAGS.resolution, "must be >= 2")
  objective_bound = FLAGS.objective_loss_bound or FLAGS.loss_bound
  if not objective_bound > 0:
    raise _usage("objective_loss_bound", objective_bound, "must be > 0")
  epochs = parse_epochs(FLAGS.epoch_ranges)
  weight_fn, title = _weight_fn()
  os.makedirs(FLAGS.output_dir, exist_ok=True)

  written, frames = [], []
  for epoch in epochs:
    figure = plots.epoch_figure(weight_fn, epoch, FLAGS.loss_bound, FLAGS.style,
                                FLAGS.resolution, FLAGS.label, title)
    _write(os.path.join(FLAGS.output_dir, f"epoch_{epoch:g}.png"), plots.figure_to_png(figure),
           written)
    if FLAGS.gif:
      frames.append(Image.fromarray(plots.figure_to_rgb(figure)))
  grid = plots.grid_figure(weight_fn, epochs, FLAGS.loss_bound, FLAGS.style,
                           min(FLAGS.resolution, 40), FLAGS.label, title=title)
  _write(os.path.join(FLAGS.output_dir, "curriculum_grid.png"), plots.figure_to_png(grid), written)
  if frames:
    path = os.path.join(FLAGS.output_dir, "curriculum.gif")
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=500, loop=0)
    written.append(path)
  figure = plots.robust_objective_figure(weight_fn, objective_bound,
                                         FLAGS.objective_moving_average, FLAGS.objective_epoch,
                                         FLAGS.label, title)
  _write(os.path.join(FLAGS.output_dir, "robust_objective.png"), plots.figure_to_png(figure),
         written)
  _, rho = plots.implied_objective(weight_fn, np.array([objective_bound]),
                                   FLAGS.objective_moving_average, FLAGS.objective_epoch,
                                   FLAGS.label)
  print(f"rho({objective_bound:g}) = {rho[0]:.4f} at epoch {FLAGS.objective_epoch:g}, "
        f"moving average {FLAGS.objective_moving_average:g}")
  for path in written:
    print(path)


if __name__ == "__main__":
  app.run(main)
