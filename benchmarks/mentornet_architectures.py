r"""Appendix D of the paper: Table 1 (MentorNet architectures) and implicit vs explicit training.

Table 1. For six predefined curricula (self-paced, hard negative mining, linear weighting =
spcl_linear, prediction variance, focal loss, temporal mixture) every architecture of
`mentornet_tf.mentor.architectures` (logistic regression, 2-layer MLP, 2-layer CNN with mean
pooling, RNN over the mini-batch, the bi-LSTM MentorNet, and the MentorNet with a trainable epoch
embedding) is trained IMPLICITLY (MSE of sigmoid(output) to v*) with `learning.learn_mentornet`
on the same 4 features. Reported: mean test MSE over --repeats random initialisations with a 90%
confidence interval (t-distribution, half-width t_{0.95, n-1} * s / sqrt(n)), next to the paper.

Data: `mentor_data.generate_predefined` (the original grid: loss, loss_diff, label 0, epoch
0..99), --sample_size rows split 80/20, the same rows for every architecture and repeat; repeats
differ in the initialisation and batch order (seed = repeat). The paper used 300k samples.
Prediction variance: its v* needs a per-example loss history; the benchmark uses the curriculum's
4-feature definition (`curricula.prediction_variance`, history None): a two-epoch history
(max(loss - loss_diff, 0), loss), i.e. loss_diff read as the change of the example's loss since
its previous visit, and v* = clip(2 * corrected std of exp(-loss) over it + 0.05, 0, 1). Every
architecture therefore sees the same 4 features and v* is a function of them.

Learning rates: Adam with the original schedule (x0.9 every 1000 steps, global-norm clip 5), the
initial LR per architecture from a pilot sweep on other data (`--lr_sweep=0.1,0.01,0.001
--data_seed=1 --max_step_train=3000`: init seed 0; self-paced, temporal mixture, prediction
variance, focal loss; the LR best on the most of them): see LEARNING_RATES.

Implicit vs explicit (App. D Fig. 2): the MentorNet learned on self_paced and spcl_linear by the
MSE to v* and by minimising Eq. 4 (`curriculum_objective.objective`), test MSE and Eq. 4 value
vs step.

Default run (about 10-15 minutes on 2 shared CPU cores):
  python benchmarks/mentornet_architectures.py
Paper scale: --sample_size=300000 --max_step_train=30000.
"""
import argparse
import datetime
import json
import os
import platform
import sys
import time

import mentornet_tf  # noqa: F401  (first: selects tf_keras before TensorFlow is imported)
from mentornet_tf.mentor import architectures
from mentornet_tf.mentor import curricula
from mentornet_tf.mentor import curriculum_objective
from mentornet_tf.mentor import learning
from mentornet_tf.mentor import mentor_data

from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
import numpy as np  # noqa: E402
from scipy import stats  # noqa: E402
import tensorflow as tf  # noqa: E402

CURRICULA = ("self_paced", "hard_example_mining", "spcl_linear", "prediction_variance",
             "focal_loss", "temporal_mixture")
ROW_NAMES = {"self_paced": "Self-paced", "hard_example_mining": "Hard negative mining",
             "spcl_linear": "Linear weighting", "prediction_variance": "Prediction variance",
             "focal_loss": "Focal loss", "temporal_mixture": "Temporal mixture weighting"}
COLUMN_NAMES = {"logistic": "Logistic", "mlp": "MLP", "cnn": "CNN", "rnn": "RNN",
                "mentornet": "MentorNet (bi-LSTM)",
                "mentornet_trainable_epoch": "MentorNet, trainable epoch emb."}
# The paper's App. D Table 1, verbatim (mean +- 90% CI over 5 repeats).
PAPER = {
    "self_paced": ("8.9±0.8E-3", "1.1±0.3E-5", "4.9±1.0E-2", "1.6±1.0E-2", "1.6±0.5E-6"),
    "hard_example_mining": ("7.1±0.7E-3", "1.6±0.6E-5", "2.7±0.6E-3", "2.2±0.4E-3",
                            "6.6±4.5E-7"),
    "spcl_linear": ("9.2±0.1E-4", "1.2±0.4E-4", "1.1±0.2E-4", "2.0±0.3E-2", "4.4±1.3E-5"),
    "prediction_variance": ("6.8±0.1E-3", "4.0±0.1E-3", "2.8±0.4E-2", "6.2±0.2E-3",
                            "1.4±0.7E-3"),
    "focal_loss": ("1.7±0.0E-3", "6.0±3.5E-5", "1.2±0.3E-2", "1.2±0.3E-2", "1.5±0.8E-5"),
    "temporal_mixture": ("1.8±0.0E-1", "1.9±0.4E-2", "1.2±0.6E-1", "6.6±0.4E-2", "1.2±1.1E-4"),
}
PAPER_COLUMNS = ("logistic", "mlp", "cnn", "rnn", "mentornet")
# From `--lr_sweep=0.1,0.01,0.001 --data_seed=1 --max_step_train=3000` (see `lr_sweep`).
LEARNING_RATES = {"logistic": 0.1, "mlp": 0.01, "cnn": 0.01, "rnn": 0.1, "mentornet": 0.01,
                  "mentornet_trainable_epoch": 0.01}
NOTES = (
    "Same 4 features (loss, loss_diff, label 0, epoch 0..99) for every architecture; the "
    "baselines standardise them with the training mean/std, the MentorNets embed label and epoch.",
    "Prediction variance: v* from a two-epoch loss history (max(loss - loss_diff, 0), loss) "
    "derived from the 4 features (`curricula.prediction_variance`, history None); the paper's "
    "MentorNet read a 10-epoch history through its LSTM (step size 10), ours reads 1 step.",
    "CNN: 2 Conv1D layers over the 4 feature positions, mean pooling over that axis (per-example "
    "weights; pooling over the mini-batch would make a weight depend on its batch-mates). RNN: "
    "one LSTM over the consecutive rows of each mini-batch (32), as App. D describes.",
    "MentorNet (bi-LSTM) is `network.MentorNet` with 10 LSTM units (App. D) and the original's "
    "frozen random epoch embedding; that table cannot separate epoch < 50 from >= 50, so it "
    "fails the temporal mixture. The trainable-epoch column lets that table train.",
    "Learning rates per architecture from the pilot `--lr_sweep=0.1,0.01,0.001 --data_seed=1 "
    "--max_step_train=3000` (the LR best on most of 4 curricula, one seed, other data rows). "
    "Repeats differ in initialisation and batch order; a repeat that stalls dominates the mean "
    "and widens the t-interval.",
    "Smaller than the paper: 100k grid rows instead of 300k and 4000 steps of 32 (1.6 passes); "
    "XLA is off (the benchmark's ~200 compiled graphs exhaust vm.max_map_count).",
)
PILOT_CURRICULA = ("self_paced", "temporal_mixture", "prediction_variance", "focal_loss")


def parse_args(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--curricula", default=",".join(CURRICULA))
  parser.add_argument("--architectures", default=",".join(architectures.ARCHITECTURES))
  parser.add_argument("--sample_size", type=int, default=100000, help="paper: 300000")
  parser.add_argument("--max_step_train", type=int, default=4000)
  parser.add_argument("--mini_batch_size", type=int, default=32)
  parser.add_argument("--repeats", type=int, default=5)
  parser.add_argument("--data_seed", type=int, default=0)
  parser.add_argument("--eval_every", type=int, default=400, help="convergence-curve spacing")
  parser.add_argument("--learning_rate", type=float, default=None,
                      help="one LR for every architecture instead of LEARNING_RATES")
  parser.add_argument("--compare_curricula", default="self_paced,spcl_linear",
                      help="implicit vs explicit comparison ('' skips it)")
  parser.add_argument("--compare_eval_every", type=int, default=100)
  parser.add_argument("--lr_sweep", default="", help="e.g. 0.1,0.01,0.001: only run the pilot "
                      "LR sweep (data seed --data_seed, one repeat) and print the choice")
  parser.add_argument("--output_dir", default=os.path.join(os.path.dirname(__file__), "results"))
  parser.add_argument("--render_from", default="", help="appendix_d_table1.json of an earlier "
                      "run: only re-render its markdown and figures into --output_dir")
  # Off by default: every learn_mentornet call XLA-compiles a new graph whose executable is never
  # freed (about 220 memory maps and 25 MB a call); ~200 calls exceed vm.max_map_count (65530)
  # and the process dies with "LLVM compilation error: Cannot allocate memory". Without XLA the
  # small networks train as fast on CPU.
  parser.add_argument("--jit_compile", action="store_true", help="XLA (leaks; see above)")
  args = parser.parse_args(argv)
  args.curricula = [c for c in args.curricula.split(",") if c]
  args.architectures = [a for a in args.architectures.split(",") if a]
  args.compare_curricula = [c for c in args.compare_curricula.split(",") if c]
  for name in args.curricula + args.compare_curricula:
    curricula.get(name)  # ValueError naming the choices
  for name in args.architectures:
    if name not in architectures.ARCHITECTURES:
      parser.error(f"--architectures: unknown {name!r}; choose from "
                   f"{', '.join(architectures.ARCHITECTURES)}")
  if args.repeats < 2:
    parser.error("--repeats must be >= 2 (a confidence interval needs two values)")
  return args


def train_once(architecture, train, test, args, seed, learning_rate, mode="implicit",
               curriculum=None, eval_every=None):
  """Learns one architecture; returns learn_mentornet's metrics (history included)."""
  model = architectures.build_architecture(architecture, train[:, :4], seed=seed,
                                           sequence_length=args.mini_batch_size)
  config = learning.LearnConfig(
      mode=mode, mini_batch_size=args.mini_batch_size, max_step_train=args.max_step_train,
      learning_rate=learning_rate, seed=seed, eval_every=eval_every or args.eval_every,
      steps_per_call=min(1000, eval_every or args.eval_every), jit_compile=args.jit_compile)
  _, metrics = learning.learn_mentornet(train, test, config, model=model, curriculum=curriculum)
  return metrics


def mean_ci(values, confidence=0.90):
  """(mean, half-width of the t-distribution confidence interval) of repeat values."""
  values = np.asarray(values, np.float64)
  half = stats.t.ppf(0.5 + confidence / 2, len(values) - 1) * values.std(ddof=1)
  return float(values.mean()), float(half / np.sqrt(len(values)))


def paper_format(mean, half):
  """'m±hE-k' as the paper prints it: both scaled by the exponent of the mean."""
  exponent = int(np.floor(np.log10(mean))) if mean > 0 else 0
  if round(mean / 10.0 ** exponent, 1) >= 10:  # 9.96E-5 prints as 1.0E-4, not 10.0E-5
    exponent += 1
  scale = 10.0 ** exponent
  return f"{mean / scale:.1f}±{half / scale:.1f}E{exponent}"


def parse_paper(text):
  mantissa, rest = text.split("±")
  half, exponent = rest.split("E")
  return float(mantissa) * 10 ** int(exponent), float(half) * 10 ** int(exponent)


def verdict(ours, paper):
  """'beats', 'misses' or 'ties' for (mean, CI half-width) pairs: disjoint intervals decide."""
  if ours[0] + ours[1] < paper[0] - paper[1]:
    return "beats"
  if ours[0] - ours[1] > paper[0] + paper[1]:
    return "misses"
  return "ties"


def run_table(args, log):
  """{curriculum: {architecture: {'mse': [repeats], 'history': [[...]], 'seconds': [...]}}}."""
  results = {}
  for name in args.curricula:
    train, test = mentor_data.generate_predefined(name, args.sample_size, seed=args.data_seed)
    results[name] = {}
    for architecture in args.architectures:
      lr = args.learning_rate or LEARNING_RATES[architecture]
      runs = [train_once(architecture, train, test, args, seed, lr) for seed in range(args.repeats)]
      results[name][architecture] = {
          "learning_rate": lr, "mse": [r["test_mse"] for r in runs],
          "seconds": [r["train_seconds"] for r in runs],
          "steps": [h["step"] for h in runs[0]["history"]],
          "history": [[h["test_mse"] for h in r["history"]] for r in runs]}
      mean, half = mean_ci(results[name][architecture]["mse"])
      log(f"{name:20s} {architecture:26s} lr={lr:<6g} test MSE {paper_format(mean, half):>14s}"
          f"  runs {', '.join(f'{m:.2e}' for m in results[name][architecture]['mse'])}")
  return results


def run_comparison(args, log):
  """Implicit vs explicit MentorNet training: mean test MSE / Eq. 4 objective per step."""
  comparison = {}
  lr = args.learning_rate or LEARNING_RATES["mentornet"]
  for name in args.compare_curricula:
    train, test = mentor_data.generate_predefined(name, args.sample_size, seed=args.data_seed)
    column = 0 if curricula.get(name).objective_input == "loss" else 1
    optimum = float(np.mean(curriculum_objective.objective(
        test[:, 4].astype(np.float64), test[:, column].astype(np.float64), name)))
    comparison[name] = {"optimal_objective": optimum}
    for mode in ("implicit", "explicit"):
      runs = [train_once("mentornet", train, test, args, seed, lr, mode, name,
                         args.compare_eval_every) for seed in range(args.repeats)]
      comparison[name][mode] = {
          "steps": [h["step"] for h in runs[0]["history"]],
          "mse": np.mean([[h["test_mse"] for h in r["history"]] for r in runs], 0).tolist(),
          "objective": np.mean([[h["test_objective"] for h in r["history"]] for r in runs],
                               0).tolist()}
      log(f"{name:12s} {mode:9s} final test MSE {comparison[name][mode]['mse'][-1]:.3e} "
          f"objective {comparison[name][mode]['objective'][-1]:.4f} (optimum {optimum:.4f})")
  return comparison


def comparison_table(comparison):
  lines = ["| curriculum | step | MSE implicit | MSE explicit | Eq. 4 implicit | Eq. 4 explicit "
           "| Eq. 4 at v* |", "|---|---:|---:|---:|---:|---:|---:|"]
  for name, result in comparison.items():
    steps = result["implicit"]["steps"]
    shown = sorted({0, 1, 2, 4, len(steps) // 4, len(steps) // 2, len(steps) - 1})
    for i in (i for i in shown if i < len(steps)):
      lines.append(f"| {name} | {steps[i]} | {result['implicit']['mse'][i]:.2e} | "
                   f"{result['explicit']['mse'][i]:.2e} | {result['implicit']['objective'][i]:.4f}"
                   f" | {result['explicit']['objective'][i]:.4f} | "
                   f"{result['optimal_objective']:.4f} |")
  return "\n".join(lines)


def _save(figure, path):
  FigureCanvasAgg(figure)
  figure.tight_layout()
  figure.savefig(path)


def plot_comparison(comparison, path):
  figure = Figure(figsize=(5.5 * len(comparison), 4.2), dpi=90)
  for index, (name, result) in enumerate(comparison.items()):
    axes = figure.add_subplot(1, len(comparison), index + 1)
    twin = axes.twinx()
    for mode, color in (("implicit", "tab:blue"), ("explicit", "tab:red")):
      axes.plot(result[mode]["steps"], result[mode]["mse"], color=color, label=f"MSE {mode}")
      twin.plot(result[mode]["steps"], result[mode]["objective"], ":", color=color,
                label=f"Eq. 4 {mode}")
    twin.axhline(result["optimal_objective"], color="gray", linewidth=0.8, label="Eq. 4 at v*")
    axes.set(yscale="log", xlabel="step", ylabel="test MSE", title=ROW_NAMES[name])
    twin.set_ylabel("Eq. 4 objective (test mean)")
    handles = axes.get_legend_handles_labels()[0] + twin.get_legend_handles_labels()[0]
    axes.legend(handles, [h.get_label() for h in handles], fontsize=7, loc="upper right")
  _save(figure, path)


def plot_convergence(results, path):
  """App. D Fig. 1: test MSE (mean over repeats) vs step, per curriculum and architecture."""
  figure = Figure(figsize=(15, 4.2 * ((len(results) + 2) // 3)), dpi=80)
  for index, (name, by_arch) in enumerate(results.items()):
    axes = figure.add_subplot((len(results) + 2) // 3, 3, index + 1)
    for architecture, result in by_arch.items():
      axes.plot(result["steps"], np.mean(result["history"], 0), label=COLUMN_NAMES[architecture])
    axes.set(yscale="log", xlabel="step", ylabel="test MSE", title=ROW_NAMES[name])
  figure.axes[0].legend(fontsize=7)
  _save(figure, path)


def machine():
  cpu = platform.processor()
  try:
    with open("/proc/cpuinfo", encoding="utf-8") as f:
      cpu = next(l.split(":", 1)[1].strip() for l in f if l.startswith("model name"))
  except (OSError, StopIteration):
    pass
  gpus = [d.name for d in tf.config.list_physical_devices("GPU")]
  devices = f"GPUs {gpus}" if gpus else "no GPU"
  return (f"{cpu}, {os.cpu_count()} CPU cores visible, {devices}; {platform.platform()}; "
          f"Python {platform.python_version()}, TF {tf.__version__}")


def markdown(args, results, comparison, command, seconds):
  lines = ["# Appendix D, Table 1: MentorNet architectures on predefined curricula", "",
           f"Command: `{command}`  ", f"Date: {datetime.date.today().isoformat()}  ",
           f"Machine: {machine()}  ", f"Wall time: {seconds / 60:.1f} min", "",
           f"Test MSE of sigmoid(output) to v*, mean ± 90% CI (t, n={args.repeats}) over random "
           f"initialisations; {args.sample_size} grid rows (80/20 split, data seed "
           f"{args.data_seed}), {args.max_step_train} Adam steps of {args.mini_batch_size}, "
           "implicit (MSE) training. Learning rates: "
           + ", ".join(f"{a} {results[args.curricula[0]][a]['learning_rate']:g}"
                       for a in args.architectures) + ". Paper (App. D Table 1: 300k samples) "
           "in brackets.", ""]
  header = [COLUMN_NAMES[a] for a in args.architectures]
  lines += ["| Weighting scheme | " + " | ".join(header) + " |",
            "|---|" + "---:|" * len(header)]
  verdicts = []
  for name, by_arch in results.items():
    cells = []
    for architecture in args.architectures:
      mean, half = mean_ci(by_arch[architecture]["mse"])
      cell = paper_format(mean, half)
      paper_column = "mentornet" if architecture == "mentornet_trainable_epoch" else architecture
      if paper_column in PAPER_COLUMNS:
        paper = PAPER[name][PAPER_COLUMNS.index(paper_column)]
        cell += f" ({paper})"
        verdicts.append((name, architecture, (mean, half), parse_paper(paper)))
      cells.append(cell)
    lines.append(f"| {ROW_NAMES[name]} | " + " | ".join(cells) + " |")
  lines += ["", "Ours vs the paper (lower MSE is better; 'beats'/'misses' when the 90% CIs are "
            "disjoint, else 'ties'; the trainable-epoch MentorNet is compared with the paper's "
            "MentorNet):", ""]
  for name, architecture, ours, paper in verdicts:
    lines.append(f"- {ROW_NAMES[name]}, {COLUMN_NAMES[architecture]}: {verdict(ours, paper)} "
                 f"({ours[0]:.2e} vs {paper[0]:.1e}, ratio {ours[0] / paper[0]:.2g})")
  lines += ["", "Convergence (App. D Fig. 1): `appendix_d_convergence.png`. Raw numbers: "
            "`appendix_d_table1.json`. Set-up and decisions: the docstrings of "
            "`benchmarks/mentornet_architectures.py` and `mentornet_tf/mentor/architectures.py`.",
            "", "Notes:", ""] + [f"- {note}" for note in NOTES]
  if comparison:
    lines += ["", "## Implicit vs explicit training (App. D Fig. 2)", "",
              "MentorNet (bi-LSTM), mean over the repeats; explicit = minimise the mean Eq. 4 "
              "objective v * loss_diff + G(v) (`curriculum_objective.objective`). "
              "Plot: `appendix_d_implicit_explicit.png`.", "", comparison_table(comparison)]
  return "\n".join(lines) + "\n"


def lr_sweep(args, log):
  """Pilot: one seed per (curriculum, architecture, LR); prints each architecture's choice.

  The choice is the LR with the lowest test MSE on the most pilot curricula (ties: the lower
  geometric mean with MSE floored at 1e-8). Counting wins, not a plain geometric mean: on a
  binary target a saturated run reaches MSE ~1e-14 and would outweigh every other curriculum.
  """
  rates = [float(r) for r in args.lr_sweep.split(",")]
  scores = {a: {r: [] for r in rates} for a in args.architectures}
  for name in PILOT_CURRICULA:
    train, test = mentor_data.generate_predefined(name, args.sample_size, seed=args.data_seed)
    for architecture in args.architectures:
      for rate in rates:
        mse = train_once(architecture, train, test, args, 0, rate)["test_mse"]
        scores[architecture][rate].append(mse)
        log(f"sweep {name:20s} {architecture:26s} lr={rate:<6g} test MSE {mse:.3e}")
  for architecture, by_rate in scores.items():
    table = np.array([by_rate[r] for r in rates])  # [rates, curricula]
    wins = np.bincount(table.argmin(axis=0), minlength=len(rates))
    geometric = np.exp(np.mean(np.log(np.maximum(table, 1e-8)), axis=1))
    best = min(range(len(rates)), key=lambda i: (-wins[i], geometric[i]))
    log(f"{architecture}: wins {dict(zip(rates, wins.tolist()))}, geometric-mean MSE "
        f"{dict(zip(rates, np.round(geometric, 8).tolist()))} -> lr {rates[best]:g}")


def write_outputs(args, results, comparison, command, seconds, log, rendered_from=""):
  """Writes the markdown, the JSON (with everything needed to re-render) and the PNGs."""
  os.makedirs(args.output_dir, exist_ok=True)
  text = markdown(args, results, comparison, command, seconds)
  if rendered_from:
    text += f"\n(Re-rendered on {datetime.date.today().isoformat()} from {rendered_from}; no " \
            "retraining.)\n"
  with open(os.path.join(args.output_dir, "appendix_d_table1.md"), "w", encoding="utf-8") as f:
    f.write(text)
  run_args = {k: v for k, v in vars(args).items() if k != "render_from"}
  record = {"command": command, "seconds": seconds, "args": run_args, "table": results,
            "comparison": comparison}
  with open(os.path.join(args.output_dir, "appendix_d_table1.json"), "w", encoding="utf-8") as f:
    json.dump(record, f, indent=1)
  plot_convergence(results, os.path.join(args.output_dir, "appendix_d_convergence.png"))
  if comparison:
    log(comparison_table(comparison))
    plot_comparison(comparison, os.path.join(args.output_dir, "appendix_d_implicit_explicit.png"))
  log(text)


def main(argv=None):
  args = parse_args(argv)
  tf.get_logger().setLevel("ERROR")  # one tf.function per run: silence the retracing warnings
  log = lambda text: print(text, flush=True)  # noqa: E731
  if args.lr_sweep:
    lr_sweep(args, log)
    return
  if args.render_from:  # re-render the tables and figures of an earlier run; no training
    with open(args.render_from, encoding="utf-8") as f:
      record = json.load(f)
    args = argparse.Namespace(**dict(record["args"], output_dir=args.output_dir,
                                     render_from=args.render_from))
    write_outputs(args, record["table"], record["comparison"], record["command"],
                  record["seconds"], log, os.path.basename(args.render_from))
    return
  start = time.time()
  results = run_table(args, log)
  comparison = run_comparison(args, log) if args.compare_curricula else {}
  command = "python benchmarks/mentornet_architectures.py " + " ".join(
      sys.argv[1:] if argv is None else argv)
  write_outputs(args, results, comparison, command.strip(), time.time() - start, log)


if __name__ == "__main__":
  main()
