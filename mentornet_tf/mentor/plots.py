"""Figures of a MentorNet: its curriculum surface (paper Fig. 4) and implied objective (Fig. 2).

Everything renders with matplotlib's Agg canvas on `Figure` objects (no pyplot, no global
backend state), so it runs headless and in threads; figures come back as uint8 RGB arrays (for
`tf.summary.image`) or PNG bytes.

Curriculum surface (Fig. 4; original `visualizer.py`): the weight v = sigmoid(g_m(z)) over
loss_diff (x, in [-loss_bound, loss_bound]) and loss (y, in [0, loss_bound]) at a fixed label and
epoch percentage. The original drew a 3-D scatter of random losses; a regular grid is used here.

Implied robust objective (paper §3.2 Proposition 1, App. C Eq. 18): rho(l) = int_0^l g_m(x) dx,
where g_m is evaluated along the loss axis with loss_diff = x - moving_average (a chosen loss
moving average l_pt), a chosen epoch and label. It is compared with the weight functions whose
integrals are classical M-estimators (App. C): Huber (Eq. 22-23), log-sum (Eq. 25-26), self-paced
(Eq. 2: 1[l <= lambda], rho = min(l, lambda)) and Lorentzian (Eq. 28-29). All curves are drawn
against the loss l >= 0, Proposition 1's variable (the paper's Fig. 2 uses a residual axis).
"""
import io
from typing import Callable, Dict, Sequence, Tuple

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from mpl_toolkits.mplot3d import Axes3D  # noqa: F401  (registers the '3d' projection)
import numpy as np
import tensorflow as tf

from mentornet_tf.mentor import curricula

WeightFn = Callable[[np.ndarray], np.ndarray]  # features float32 [N, 4] -> weights float64 [N]
STYLES = ("surface", "heatmap")
_CMAP = "viridis"


def model_weight_fn(model, batch_size: int = 65536) -> WeightFn:
  """The weight function v = sigmoid(logits) of a MentorNet (or any [N, 4] -> [N, 1] model)."""
  def weights(features):
    features = np.asarray(features, np.float32)
    parts = [tf.sigmoid(model(tf.constant(features[i:i + batch_size]), training=False))
             .numpy()[:, 0] for i in range(0, len(features), batch_size)]
    return np.concatenate(parts).astype(np.float64)
  return weights


def curriculum_weight_fn(curriculum, **hparams) -> WeightFn:
  """The weight function of a predefined curriculum's v* (a Curriculum or its name)."""
  curriculum = curricula.get(curriculum)

  def weights(features):
    f = np.asarray(features, np.float64)
    return np.asarray(curriculum.weights(f[:, 0], f[:, 1], f[:, 2], f[:, 3], **hparams),
                      np.float64)
  return weights


def _check_bound(name, value):
  if not value > 0:
    raise ValueError(f"{name}={value!r} is invalid: must be > 0")


def weight_surface(weight_fn: WeightFn, epoch: float, loss_bound: float, resolution: int = 100,
                   label: float = 0.0) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
  """The weights on a regular (loss, loss_diff) grid.

  Args:
    weight_fn: features [N, 4] -> weights [N].
    epoch: the epoch percentage fed to every row (0..99).
    loss_bound: loss in [0, loss_bound], loss_diff in [-loss_bound, loss_bound].
    resolution: R, grid points per axis.
    label: the label column (the original always feeds 0).

  Returns:
    (loss_diff [R], loss [R], weights [R (loss), R (loss_diff)]).

  Raises:
    ValueError: loss_bound <= 0 or resolution < 2.
  """
  _check_bound("loss_bound", loss_bound)
  if resolution < 2:
    raise ValueError(f"resolution={resolution!r} is invalid: must be >= 2")
  loss = np.linspace(0.0, loss_bound, resolution)
  loss_diff = np.linspace(-loss_bound, loss_bound, resolution)
  loss_mesh, diff_mesh = np.meshgrid(loss, loss_diff, indexing="ij")
  features = np.stack([loss_mesh.ravel(), diff_mesh.ravel(), np.full(loss_mesh.size, label),
                       np.full(loss_mesh.size, epoch)], axis=1)
  return loss_diff, loss, weight_fn(features).reshape(loss_mesh.shape)


def _draw_surface(figure, position, surface, style, title):
  """Draws one weight surface into subplot `position` ((rows, cols, index)) of `figure`."""
  loss_diff, loss, weights = surface
  if style == "heatmap":
    axes = figure.add_subplot(*position)
    image = axes.imshow(weights, origin="lower", aspect="auto", cmap=_CMAP, vmin=0.0, vmax=1.0,
                        extent=[loss_diff[0], loss_diff[-1], loss[0], loss[-1]])
  elif style == "surface":
    axes = figure.add_subplot(*position, projection="3d")
    diff_mesh, loss_mesh = np.meshgrid(loss_diff, loss)
    image = axes.plot_surface(diff_mesh, loss_mesh, weights, cmap=_CMAP, vmin=0.0, vmax=1.0,
                              linewidth=0, antialiased=False)
    axes.set_zlim(0.0, 1.0)
    axes.set_zlabel("weight")
    axes.view_init(elev=30, azim=-120)  # loss axis towards the viewer, as the paper's Fig. 4
  else:
    raise ValueError(f"style={style!r} is invalid: choose one of {', '.join(STYLES)}")
  axes.set_xlabel("loss - moving average")
  axes.set_ylabel("loss")
  axes.set_title(title, fontsize=10)
  return image


def epoch_figure(weight_fn: WeightFn, epoch: float, loss_bound: float, style: str = "surface",
                 resolution: int = 60, label: float = 0.0, title: str = "MentorNet") -> Figure:
  """One curriculum surface (Fig. 4 panel) at one epoch percentage, with a colour bar."""
  figure = Figure(figsize=(6.0, 4.8), dpi=100)
  image = _draw_surface(figure, (1, 1, 1), weight_surface(weight_fn, epoch, loss_bound,
                                                          resolution, label),
                        style, f"{title}: weight at epoch percentage {epoch:g}")
  figure.colorbar(image, ax=figure.axes[0], shrink=0.7, label="weight")
  return figure


def grid_figure(weight_fn: WeightFn, epochs: Sequence[float], loss_bound: float,
                style: str = "surface", resolution: int = 40, label: float = 0.0,
                columns: int = 4, title: str = "MentorNet") -> Figure:
  """All epochs' surfaces in one figure, `columns` per row."""
  if not epochs:
    raise ValueError("epochs is empty: give at least one epoch percentage")
  rows = (len(epochs) + columns - 1) // columns
  columns = min(columns, len(epochs))
  figure = Figure(figsize=(3.6 * columns, 3.2 * rows), dpi=90)
  for index, epoch in enumerate(epochs):
    _draw_surface(figure, (rows, columns, index + 1),
                  weight_surface(weight_fn, epoch, loss_bound, resolution, label),
                  style, f"epoch {epoch:g}")
  figure.suptitle(f"{title}: weight over (loss - moving average, loss)")
  figure.tight_layout(rect=(0, 0, 1, 0.97))  # leave room for the suptitle
  return figure


def figure_to_rgb(figure: Figure) -> np.ndarray:
  """Renders a figure: uint8 [H, W, 3]."""
  canvas = FigureCanvasAgg(figure)
  canvas.draw()
  return np.asarray(canvas.buffer_rgba())[..., :3].copy()


def figure_to_png(figure: Figure) -> bytes:
  """Renders a figure as PNG bytes."""
  FigureCanvasAgg(figure)
  buffer = io.BytesIO()
  figure.savefig(buffer, format="png")
  return buffer.getvalue()


def curriculum_surface_image(model, epoch: float, loss_bound: float = 15.0,
                             resolution: int = 48, size: Tuple[int, int] = (320, 256),
                             label: float = 0.0) -> np.ndarray:
  """The current MentorNet's weight heat map for `tf.summary.image` (fast: a few 10 ms).

  Args:
    model: a MentorNet (features [N, 4] -> logits [N, 1]).
    epoch: epoch percentage fed to the MentorNet.
    loss_bound: loss in [0, loss_bound], loss_diff in [-loss_bound, loss_bound].
    resolution: grid points per axis.
    size: (width, height) of the image in pixels.
    label: the label column.

  Returns:
    uint8 [1, height, width, 3].
  """
  figure = Figure(figsize=(size[0] / 64.0, size[1] / 64.0), dpi=64)
  image = _draw_surface(figure, (1, 1, 1), weight_surface(model_weight_fn(model), epoch,
                                                          loss_bound, resolution, label),
                        "heatmap", f"epoch {epoch:g}")
  figure.colorbar(image, ax=figure.axes[0])
  figure.tight_layout(pad=0.3)
  return figure_to_rgb(figure)[None]


# App. C: weight functions g(l) and their integrals rho(l) = int_0^l g (closed forms).
def huber(loss, lam=1.0):
  """Eq. 22-23: g = 1/2 for l <= lam^2, else lam / (2 sqrt(l)); rho(r^2) is Huber in r."""
  loss = np.asarray(loss, np.float64)
  root = np.sqrt(np.maximum(loss, lam ** 2))
  return (np.where(loss <= lam ** 2, 0.5, lam / (2.0 * root)),
          np.where(loss <= lam ** 2, loss / 2.0, lam * (root - lam / 2.0)))


def log_sum(loss, lam=1.0, epsilon=1.0):
  """Eq. 25-26: g = lam / (l + epsilon), rho = lam * log(1 + l / epsilon)."""
  loss = np.asarray(loss, np.float64)
  return lam / (loss + epsilon), lam * np.log1p(loss / epsilon)


def self_paced(loss, lam=1.0):
  """Eq. 2 (Kumar et al.): g = 1[l <= lam], rho = min(l, lam)."""
  loss = np.asarray(loss, np.float64)
  return (loss <= lam).astype(np.float64), np.minimum(loss, lam)


def lorentzian(loss, delta=1.0):
  """Eq. 28-29: g = 2l / (2 delta^2 + l^2), rho = log(1 + (l / delta)^2 / 2)."""
  loss = np.asarray(loss, np.float64)
  return 2.0 * loss / (2.0 * delta ** 2 + loss ** 2), np.log1p(0.5 * (loss / delta) ** 2)


def implied_objective(weight_fn: WeightFn, losses, moving_average: float, epoch: float,
                      label: float = 0.0, num_points: int = 2001
                      ) -> Tuple[np.ndarray, np.ndarray]:
  """rho(l) = int_0^l g_m(x) dx (Eq. 18), g_m at loss x, loss_diff x - moving_average.

  Integrated with the trapezoid rule on `num_points` evenly spaced losses in [0, max(losses)]
  plus the requested losses themselves (so rho is exact for a piecewise-linear g_m).

  Args:
    weight_fn: features [N, 4] -> weights [N].
    losses: [K] losses >= 0 where rho is wanted.
    moving_average: the loss moving average l_pt that loss_diff is computed against.
    epoch: the epoch percentage fed to g_m.
    label: the label column.
    num_points: integration grid size.

  Returns:
    (weights [K], rho [K]) at `losses`.

  Raises:
    ValueError: a negative or non-finite loss.
  """
  losses = np.asarray(losses, np.float64)
  if not np.all(np.isfinite(losses)) or np.any(losses < 0):
    raise ValueError("losses must be finite and >= 0 (rho integrates from loss 0)")
  grid = np.union1d(np.linspace(0.0, float(losses.max(initial=0.0)), num_points), losses)
  features = np.stack([grid, grid - moving_average, np.full_like(grid, label),
                       np.full_like(grid, epoch)], axis=1)
  weights = weight_fn(features)
  rho = np.concatenate([[0.0], np.cumsum(np.diff(grid) * (weights[1:] + weights[:-1]) / 2.0)])
  index = np.searchsorted(grid, losses)
  return weights[index], rho[index]


def comparison_curves(loss, moving_average: float) -> Dict[str, Tuple[np.ndarray, np.ndarray]]:
  """(g, rho) of the App. C M-estimators on `loss`; self-paced uses lambda = moving_average."""
  return {"Huber (lambda=1)": huber(loss), "log-sum (lambda=1, eps=1)": log_sum(loss),
          f"self-paced (lambda={moving_average:g})": self_paced(loss, moving_average),
          "Lorentzian (delta=1)": lorentzian(loss)}


def robust_objective_figure(weight_fn: WeightFn, loss_bound: float, moving_average: float,
                            epoch: float, label: float = 0.0, title: str = "MentorNet",
                            num_points: int = 501) -> Figure:
  """Two panels against the loss: the weight g(l) and the implied objective rho(l) (Fig. 2)."""
  _check_bound("loss_bound", loss_bound)
  loss = np.linspace(0.0, loss_bound, num_points)
  weights, rho = implied_objective(weight_fn, loss, moving_average, epoch, label)
  figure = Figure(figsize=(11.0, 4.4), dpi=100)
  weight_axes, rho_axes = figure.add_subplot(1, 2, 1), figure.add_subplot(1, 2, 2)
  name = f"{title} (epoch {epoch:g}, moving average {moving_average:g})"
  weight_axes.plot(loss, weights, "k", linewidth=2.5, label=name)
  rho_axes.plot(loss, rho, "k", linewidth=2.5, label=name)
  for curve_name, (g, r) in comparison_curves(loss, moving_average).items():
    weight_axes.plot(loss, g, "--", label=curve_name)
    rho_axes.plot(loss, r, "--", label=curve_name)
  weight_axes.set(xlabel="loss l", ylabel="weight g(l)", ylim=(-0.02, 1.05),
                  title="sample weight")
  rho_axes.set(xlabel="loss l", ylabel="rho(l) = integral of g from 0 to l",
               title="implied robust objective (Prop. 1)")
  rho_axes.legend(fontsize=8, loc="upper left")
  figure.tight_layout()
  return figure
