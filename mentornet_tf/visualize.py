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

All or nothing: every flag, the MentorNet (loaded, its weights finite) and the output directory
are checked first, every figure is rendered in memory, and only then are the files written (each
through a temporary name, removed again if any write fails), so a refused or failed run leaves no
partial PNGs. Exit status (mentornet_tf/cli.py): 0 done; 2 refused input, one `error:` line
naming the flag and value, nothing written.
"""
from mentornet_tf import entry  # noqa: F401  (first: a command's TF environment; entry.py)

import io
import math
import os
import types

from absl import app
from absl import flags
import numpy as np
from PIL import Image

from mentornet_tf import cli
from mentornet_tf import flags as flags_lib
from mentornet_tf.mentor import curricula
from mentornet_tf.mentor import plots
from mentornet_tf.mentor import storage

FLAGS = flags.FLAGS


def define_flags(flag_values=None) -> None:
  """Registers the entry's flags (idempotent; only when it runs as a command, never at import).

  `flag_values`: a private FlagValues instead of absl's FLAGS (`options()`).
  """
  g = flags_lib.Group("mentornet", flag_values)
  g.string("model_dir", "", "MentorNet directory or TF1 checkpoint (dir or prefix).")
  g.string("curriculum", "", "Instead of --model_dir: draw this predefined curriculum "
           f"({', '.join(curricula.CURRICULA)}) with its default hyper-parameters.")
  g.float("label", 0.0, "The label feature (the original always feeds 0).")
  g = flags_lib.Group("figures", flag_values)
  g.float("loss_bound", 15.0, "Loss axis [0, B]; loss_diff axis [-B, B].")
  g.list("epoch_ranges", "0,10,20,30,40,50,60,70,80,90,99",
         "Epoch percentages (0..99) to draw, one PNG each.")
  g.enum("style", "surface", plots.STYLES, "3-D surface (Fig. 4) or heat map.")
  g.integer("resolution", 60, "Grid points per axis of each surface (2..1000).")
  g.float("objective_moving_average", 2.0, "Loss moving average l_pt that loss_diff is "
          "computed against for robust_objective.png.")
  g.float("objective_epoch", 50.0, "Epoch percentage for robust_objective.png.")
  g.float("objective_loss_bound", None, "Loss range of robust_objective.png (default: "
          "--loss_bound).")
  g = flags_lib.Group("output", flag_values)
  g.string("output_dir", "", "Directory for the PNG/GIF files (created; required).")
  g.bool("gif", True, "Also write curriculum.gif.")


def options(**overrides) -> types.SimpleNamespace:
  """The command's options (its flags' defaults, replaced by `overrides`) for `draw`."""
  return flags_lib.options_from(define_flags, **overrides)


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


MAX_RESOLUTION = 1000


def _finite(flag, value, requirement="must be a finite number"):
  if value is None or not math.isfinite(value):
    raise _usage(flag, value, requirement)


def validate_flags(o):
  """Checks every flag that needs no file; returns (epochs, objective loss bound)."""
  if not o.output_dir:
    raise _usage("output_dir", o.output_dir, "an output directory is required")
  if not (math.isfinite(o.loss_bound) and o.loss_bound > 0):
    raise _usage("loss_bound", o.loss_bound, "must be a finite number > 0")
  objective_bound = o.objective_loss_bound
  if objective_bound is None:
    objective_bound = o.loss_bound
  elif not (math.isfinite(objective_bound) and objective_bound > 0):
    raise _usage("objective_loss_bound", objective_bound, "must be a finite number > 0")
  if not 2 <= o.resolution <= MAX_RESOLUTION:
    raise _usage("resolution", o.resolution, f"must lie in [2, {MAX_RESOLUTION}]")
  _finite("label", o.label)
  _finite("objective_moving_average", o.objective_moving_average)
  if not (math.isfinite(o.objective_epoch) and 0 <= o.objective_epoch <= 99):
    raise _usage("objective_epoch", o.objective_epoch, "must lie in 0..99")
  return parse_epochs(o.epoch_ranges), objective_bound


def load_model(flag, path):
  """(model, metadata) of the MentorNet at `path`; UsageError naming --flag if it is unusable."""
  try:
    model, metadata = storage.load_mentornet(path)
  except storage.LOAD_ERRORS as error:
    raise _usage(flag, path, f"no loadable MentorNet there ({cli.one_line(error)})") from None
  bad = [v.name.split(":")[0] for v in model.variables if not np.all(np.isfinite(v.numpy()))]
  if bad:
    raise _usage(flag, path, f"the MentorNet has non-finite weights in {', '.join(bad)}")
  return model, metadata


def _weight_fn(o):
  """(weight function, title) for --model_dir or --curriculum."""
  if bool(o.model_dir) == bool(o.curriculum):
    raise app.UsageError("give exactly one of --model_dir (a MentorNet) and --curriculum")
  if o.curriculum:
    if o.curriculum not in curricula.CURRICULA:
      raise _usage("curriculum", o.curriculum,
                   f"choose one of {', '.join(curricula.CURRICULA)}")
    return plots.curriculum_weight_fn(o.curriculum), f"curriculum {o.curriculum}"
  model, metadata = load_model("model_dir", o.model_dir)
  num_labels = model.config.num_labels
  if not 0 <= math.trunc(o.label) < num_labels:
    raise _usage("label", o.label, f"the MentorNet has {num_labels} labels: the label "
                 f"feature (truncated) must lie in [0, {num_labels - 1}]")
  name = metadata.get("curriculum") or os.path.basename(os.path.normpath(o.model_dir))
  return plots.model_weight_fn(model), f"MentorNet {name}"


def _file_names(epochs, o):
  names = [f"epoch_{epoch:g}.png" for epoch in epochs] + ["curriculum_grid.png"]
  if o.gif:
    names.append("curriculum.gif")
  return names + ["robust_objective.png"]


def check_output_dir(directory, names, o):
  """Refuses an output directory that cannot take `names`; nothing is created."""
  directory = os.path.abspath(directory)
  if os.path.exists(directory):
    if not os.path.isdir(directory):
      raise _usage("output_dir", o.output_dir, "exists and is not a directory")
    if not os.access(directory, os.W_OK | os.X_OK):
      raise _usage("output_dir", o.output_dir, "is not writable")
    for name in names:
      path = os.path.join(directory, name)
      if os.path.isdir(path) or (os.path.exists(path) and not os.access(path, os.W_OK)):
        raise _usage("output_dir", o.output_dir, f"{name} there is a directory or read-only")
    return
  ancestor = os.path.dirname(directory)
  while not os.path.exists(ancestor):
    ancestor = os.path.dirname(ancestor)
  if not os.path.isdir(ancestor):
    raise _usage("output_dir", o.output_dir, f"cannot be created: {ancestor} is not a "
                 "directory")
  if not os.access(ancestor, os.W_OK | os.X_OK):
    raise _usage("output_dir", o.output_dir, f"cannot be created: {ancestor} is not "
                 "writable")


def render(weight_fn, title, epochs, objective_bound, o):
  """Every output file as bytes, rendered in memory: {name: bytes} in writing order."""
  files, frames = {}, []
  for epoch in epochs:
    figure = plots.epoch_figure(weight_fn, epoch, o.loss_bound, o.style,
                                o.resolution, o.label, title)
    files[f"epoch_{epoch:g}.png"] = plots.figure_to_png(figure)
    if o.gif:
      frames.append(Image.fromarray(plots.figure_to_rgb(figure)))
  grid = plots.grid_figure(weight_fn, epochs, o.loss_bound, o.style,
                           min(o.resolution, 40), o.label, title=title)
  files["curriculum_grid.png"] = plots.figure_to_png(grid)
  if frames:
    buffer = io.BytesIO()
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:], duration=500,
                   loop=0)
    files["curriculum.gif"] = buffer.getvalue()
  figure = plots.robust_objective_figure(weight_fn, objective_bound,
                                         o.objective_moving_average, o.objective_epoch,
                                         o.label, title)
  files["robust_objective.png"] = plots.figure_to_png(figure)
  return files


def write_all(directory, files, o):
  """Writes every file or none: temporaries first, then renamed into place; returns the paths."""
  directory = os.path.abspath(directory)
  created = []
  parent = directory
  while not os.path.exists(parent):
    created.append(parent)
    parent = os.path.dirname(parent)
  temporaries = {}
  try:
    os.makedirs(directory, exist_ok=True)
    for name, data in files.items():
      tmp = os.path.join(directory, f".{name}.tmp-{os.getpid()}")
      temporaries[name] = tmp
      with open(tmp, "wb") as handle:
        handle.write(data)
    for name, tmp in temporaries.items():
      os.replace(tmp, os.path.join(directory, name))
  except OSError as error:
    for tmp in temporaries.values():
      if os.path.exists(tmp):
        os.remove(tmp)
    for path in created:  # innermost first
      try:
        os.rmdir(path)
      except OSError:
        pass
    raise _usage("output_dir", o.output_dir,
                 f"cannot be written ({error.strerror or error})") from None
  return [os.path.join(directory, name) for name in files]


def draw(o) -> list:
  """What the command does, in-process: draws the figures the options `o` (`options()`) ask
  for into `o.output_dir`; returns the written paths (after printing rho and them).

  Raises:
    app.UsageError: refused options, nothing written.
  """
  epochs, objective_bound = validate_flags(o)
  check_output_dir(o.output_dir, _file_names(epochs, o), o)
  weight_fn, title = _weight_fn(o)
  files = render(weight_fn, title, epochs, objective_bound, o)
  written = write_all(o.output_dir, files, o)
  _, rho = plots.implied_objective(weight_fn, np.array([objective_bound]),
                                   o.objective_moving_average, o.objective_epoch,
                                   o.label)
  print(f"rho({objective_bound:g}) = {rho[0]:.4f} at epoch {o.objective_epoch:g}, "
        f"moving average {o.objective_moving_average:g}")
  for path in written:
    print(path)
  return written


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
  draw(flags_lib.options_from_flags(define_flags))


if __name__ == "__main__":
  define_flags()
  cli.run(main)
