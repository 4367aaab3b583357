"""Tests of mentornet_tf.mentor.plots and the `python -m mentornet_tf.visualize` entry point."""
import io
import os
import re
import time

from absl import app
import numpy as np
from PIL import Image
import pytest

from mentornet_tf import visualize
from mentornet_tf.mentor import network
from mentornet_tf.mentor import plots
from mentornet_tf.mentor import storage
import mentor_reference

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _constant_mentornet(logit):
  """A MentorNet whose weight is sigmoid(logit) everywhere (output kernel 0, textbook bias)."""
  model = network.build_mentornet(network.MentorNetConfig(corrected_output=True), seed=0)
  model.output_kernel.assign(np.zeros([20, 1], np.float32))
  model.output_bias.assign([logit])
  return model


def _assert_png(path):
  with open(path, "rb") as handle:
    data = handle.read()
  assert data.startswith(PNG_SIGNATURE), path
  image = Image.open(io.BytesIO(data))
  image.verify()
  return Image.open(io.BytesIO(data)).size


def test_all_ones_mentornet_implies_rho_equal_to_the_loss():
  losses = np.array([0.0, 0.3, 1.0, 2.5, 7.0, 15.0])
  weights, rho = plots.implied_objective(plots.model_weight_fn(_constant_mentornet(100.0)),
                                         losses, moving_average=2.0, epoch=50)
  np.testing.assert_array_equal(weights, 1.0)
  np.testing.assert_allclose(rho, losses, rtol=1e-12, atol=1e-12)
  _, half = plots.implied_objective(plots.model_weight_fn(_constant_mentornet(0.0)), losses,
                                    moving_average=2.0, epoch=50)
  np.testing.assert_allclose(half, losses / 2, rtol=1e-7)


def test_self_paced_curriculum_implies_min_of_loss_and_moving_average():
  losses = np.linspace(0, 10, 41)
  _, rho = plots.implied_objective(plots.curriculum_weight_fn("self_paced"), losses,
                                   moving_average=3.0, epoch=50)
  np.testing.assert_allclose(rho, np.minimum(losses, 3.0), atol=0.01)  # one trapezoid at the step


@pytest.mark.parametrize("curve", [plots.huber, plots.log_sum, plots.self_paced,
                                   plots.lorentzian])
def test_closed_form_rho_is_the_integral_of_its_weight(curve):
  losses = np.linspace(0, 12, 25)
  weight_fn = lambda features: curve(features[:, 0])[0]  # noqa: E731
  _, numeric = plots.implied_objective(weight_fn, losses, moving_average=1.0, epoch=0,
                                       num_points=20001)
  np.testing.assert_allclose(numeric, curve(losses)[1], atol=2e-3)


def test_implied_objective_rejects_negative_losses():
  with pytest.raises(ValueError, match="losses must be finite and >= 0"):
    plots.implied_objective(plots.curriculum_weight_fn("baseline"), [-1.0, 2.0], 0.0, 0)


def test_curriculum_surface_image_shape_and_speed():
  model = network.build_mentornet(seed=1)
  plots.curriculum_surface_image(model, epoch=10)  # warm-up: matplotlib and TF first calls
  start = time.perf_counter()
  image = plots.curriculum_surface_image(model, epoch=50, loss_bound=5.0)
  seconds = time.perf_counter() - start
  assert image.dtype == np.uint8 and image.shape == (1, 256, 320, 3)
  assert image.std() > 0  # something was drawn
  assert seconds < 2.0, seconds  # about 0.1-0.25 s on 2 busy cores; loose for shared CI
  small = plots.curriculum_surface_image(model, epoch=50, size=(160, 128))
  assert small.shape == (1, 128, 160, 3)


def test_weight_surface_follows_the_curriculum():
  diff, loss, weights = plots.weight_surface(plots.curriculum_weight_fn("self_paced"), 50, 4.0,
                                             resolution=9)
  assert weights.shape == (9, 9) and loss[0] == 0 and diff[0] == -4
  np.testing.assert_array_equal(weights, np.broadcast_to((diff <= 0).astype(float), (9, 9)))


def _main(**overrides):
  defaults = dict(resolution=8, epoch_ranges=["0", "50"], gif=True, style="surface")
  return visualize.draw(visualize.options(**dict(defaults, **overrides)))


def test_visualize_writes_valid_pngs_for_our_directory(tmp_path):
  model_dir = str(tmp_path / "mentornet")
  storage.save_mentornet(network.build_mentornet(seed=2), model_dir, {"curriculum": "test"})
  out = tmp_path / "plots"
  _main(model_dir=model_dir, output_dir=str(out), loss_bound=5.0)
  names = sorted(os.listdir(out))
  assert names == ["curriculum.gif", "curriculum_grid.png", "epoch_0.png", "epoch_50.png",
                   "robust_objective.png"]
  for name in names:
    if name.endswith(".png"):
      width, height = _assert_png(str(out / name))
      assert width > 100 and height > 100
  assert Image.open(str(out / "curriculum.gif")).n_frames == 2


def test_visualize_reads_a_tf1_checkpoint_and_draws_heatmaps(tmp_path):
  weights = mentor_reference.random_tf1_weights(np.random.default_rng(0))
  prefix = mentor_reference.write_tf1_checkpoint(str(tmp_path / "mentornet_pd"), weights)
  out = tmp_path / "plots"
  _main(model_dir=prefix, output_dir=str(out), style="heatmap", gif=False, epoch_ranges=["99"])
  assert sorted(os.listdir(out)) == ["curriculum_grid.png", "epoch_99.png",
                                     "robust_objective.png"]
  _assert_png(str(out / "epoch_99.png"))


def test_visualize_draws_a_predefined_curriculum(tmp_path):
  _main(curriculum="spcl_linear", model_dir="", output_dir=str(tmp_path), gif=False,
        epoch_ranges=["10"])
  _assert_png(str(tmp_path / "robust_objective.png"))


@pytest.mark.parametrize("overrides, message", [
    (dict(model_dir="/nonexistent/mentornet"), "--model_dir='/nonexistent/mentornet' is invalid"),
    (dict(model_dir="", curriculum=""), "exactly one of --model_dir"),
    (dict(curriculum="nope"), "--curriculum='nope' is invalid"),
    (dict(curriculum="self_paced", epoch_ranges=["5", "x"]), "'x' is not a number"),
    (dict(curriculum="self_paced", epoch_ranges=["120"]), "outside 0..99"),
    (dict(curriculum="self_paced", loss_bound=0.0), "--loss_bound=0.0 is invalid"),
    (dict(curriculum="self_paced", output_dir=""), "--output_dir='' is invalid"),
])
def test_bad_flags_are_named(tmp_path, overrides, message):
  with pytest.raises(app.UsageError, match=re.escape(message)):
    _main(**dict(dict(output_dir=str(tmp_path)), **overrides))
  if overrides.get("model_dir"):
    assert not os.listdir(tmp_path)  # nothing written before the model was found


def test_a_failure_while_rendering_writes_nothing(tmp_path, monkeypatch):
  """Every figure is rendered in memory before the first file is written."""
  real, calls = plots.figure_to_png, []

  def failing(figure):
    calls.append(figure)
    if len(calls) == 3:  # after two PNGs were rendered
      raise RuntimeError("render failed")
    return real(figure)

  monkeypatch.setattr(plots, "figure_to_png", failing)
  out = tmp_path / "plots"
  with pytest.raises(RuntimeError, match="render failed"):
    _main(curriculum="self_paced", model_dir="", output_dir=str(out), gif=False)
  assert len(calls) == 3 and not os.listdir(tmp_path)


def test_a_failed_write_leaves_no_partial_files(tmp_path, monkeypatch):
  """A write that fails midway (disk full) removes its temporaries and the directories it made,
  and leaves the files already there untouched."""
  opened = []

  def full_disk(path, mode="r", *args, **kwargs):
    opened.append(path)
    if len(opened) == 3:
      raise OSError(28, "No space left on device")
    return open(path, mode, *args, **kwargs)

  monkeypatch.setattr(visualize, "open", full_disk, raising=False)
  new = tmp_path / "new" / "plots"
  with pytest.raises(app.UsageError, match=r"--output_dir='.*/new/plots' is invalid: cannot be "
                                           r"written \(No space left on device\)"):
    _main(curriculum="self_paced", model_dir="", output_dir=str(new), gif=False)
  assert not os.listdir(tmp_path)
  existing = tmp_path / "existing"
  existing.mkdir()
  (existing / "epoch_0.png").write_bytes(b"old")
  opened.clear()
  with pytest.raises(app.UsageError, match="No space left on device"):
    _main(curriculum="self_paced", model_dir="", output_dir=str(existing), gif=False)
  assert os.listdir(existing) == ["epoch_0.png"]
  assert (existing / "epoch_0.png").read_bytes() == b"old"


def test_non_finite_mentornet_weights_are_refused(tmp_path):
  model = network.build_mentornet(seed=3)
  model.fc1_kernel.assign(np.full(model.fc1_kernel.shape, np.nan, np.float32))
  storage.save_mentornet(model, str(tmp_path / "nan"), {"curriculum": "diverged"})
  with pytest.raises(app.UsageError, match=r"non-finite weights in mentornet/fc1_kernel"):
    _main(model_dir=str(tmp_path / "nan"), output_dir=str(tmp_path / "plots"))
  assert sorted(os.listdir(tmp_path)) == ["nan"]
