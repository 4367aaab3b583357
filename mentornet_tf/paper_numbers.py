"""The published numbers our grids are compared with, defined once (no TensorFlow).

Keyed by (table, dataset, noise fraction, student, method): `table` is '2', '3', '4', '5' (the
MentorNet paper, Jiang et al. ICML 2018) or 'readme' (the original google/mentornet README's
re-implementation table, whose runs the launch/cifar* flagfiles follow); `dataset`, `student` are
our --dataset_name / --studentnet names; `method` is the paper's row name, which a grid file gives
as the row label (launch/grids/README.md). Values are clean top-1 (and top-5 where the paper has
it) as fractions, and the split they were measured on when it is not our test split of that
dataset (Table 5 reports ILSVRC12 val beside WebVision val; our webvision runs evaluate on
WebVision val).

Transcribed from the paper's text: Table 2 lists, per method, resnet-101 then inception, each
CIFAR-100 then CIFAR-10, each noise 0.2, 0.4, 0.8 (the order of `_TABLE2_COLUMNS`).
"""
import dataclasses
from typing import Dict, Optional, Tuple

TABLES = {
    "2": "paper Table 2 (CIFAR-10/100, uniform noise 0.2/0.4/0.8, resnet-101 and inception)",
    "3": "paper Table 3 (CIFAR-10/100, 40% noise, resnet-101: published methods)",
    "4": "paper Table 4 (ImageNet, 40% noise, Inception-ResNet-v2: P@1, P@5)",
    "5": "paper Table 5 (WebVision Entire and Mini, Inception-ResNet-v2: top-1, top-5)",
    "readme": "google/mentornet README (its TF1 re-implementation: 'numbers are slightly "
              "different from the ones reported in the paper')",
}
WEBVISION_VAL = "WebVision val"
ILSVRC12_VAL = "ILSVRC12 val"
# The split our runs of a dataset are evaluated on, where the paper names one (Table 5).
OUR_TEST_SPLIT = {"webvision": WEBVISION_VAL, "webvision_mini": WEBVISION_VAL}


@dataclasses.dataclass(frozen=True)
class PaperNumber:
  """One published clean accuracy: top-1, top-5 (None where not published), measured on."""
  top1: float
  top5: Optional[float] = None
  evaluated_on: str = ""  # '' = the dataset's own clean test split


Key = Tuple[str, str, float, str, str]  # (table, dataset, noise fraction, student, method)

_TABLE2_COLUMNS = [(student, dataset, noise) for student in ("resnet101", "inception")
                   for dataset in ("cifar100", "cifar10") for noise in (0.2, 0.4, 0.8)]
_TABLE2 = {
    "FullModel": "0.60 0.45 0.08 0.82 0.69 0.18 0.43 0.38 0.15 0.76 0.73 0.42",
    "Forgetting": "0.61 0.44 0.16 0.78 0.63 0.35 0.42 0.37 0.17 0.76 0.71 0.44",
    "Self-paced": "0.70 0.55 0.13 0.89 0.85 0.28 0.44 0.38 0.14 0.80 0.74 0.33",
    "Focal Loss": "0.59 0.44 0.09 0.79 0.65 0.28 0.43 0.38 0.15 0.77 0.74 0.40",
    "Reed Soft": "0.62 0.46 0.08 0.81 0.63 0.18 0.42 0.39 0.12 0.78 0.73 0.39",
    "MentorNet PD": "0.72 0.56 0.14 0.91 0.77 0.33 0.44 0.39 0.16 0.79 0.74 0.44",
    "MentorNet DD": "0.73 0.68 0.35 0.92 0.89 0.49 0.46 0.41 0.20 0.79 0.76 0.46",
}
# Table 3: resnet-101 at 40% noise, (CIFAR-10, CIFAR-100). Azadi (AlexNet) is cited, not run.
_TABLE3 = {"Reed Hard": (0.62, 0.47), "Reed Soft": (0.61, 0.46), "Goldberger": (0.70, 0.46),
           "MentorNet": (0.89, 0.68)}
# Table 4: ImageNet with 40% noise, Inception-ResNet-v2 (P@1, P@5) on the clean ILSVRC12 val.
_TABLE4 = {"NoReg": (0.538, 0.770), "NoReg+WeDecay": (0.560, 0.809),
           "NoReg+Dropout": (0.575, 0.807), "NoReg+DataAug": (0.522, 0.772),
           "NoReg+MentorNet": (0.590, 0.814), "FullModel": (0.612, 0.844),
           "Forgetting(FullModel)": (0.628, 0.845), "MentorNet(FullModel)": (0.651, 0.859)}
# Table 5: (dataset, method) -> ((top-1, top-5) on ILSVRC12 val, (top-1, top-5) on WebVision val
# or None). Li et al., Lee et al.* and MentorNet* (extra verification labels) are not run here.
_TABLE5 = {("webvision", "Forgetting"): ((0.590, 0.808), (0.666, 0.856)),
           ("webvision", "MentorNet"): ((0.625, 0.830), (0.708, 0.880)),
           ("webvision_mini", "FullModel"): ((0.585, 0.818), None),
           ("webvision_mini", "Forgetting"): ((0.562, 0.816), None),
           ("webvision_mini", "Reed Soft"): ((0.565, 0.827), None),
           ("webvision_mini", "Self-paced"): ((0.576, 0.822), None),
           ("webvision_mini", "MentorNet"): ((0.638, 0.858), None)}
# The original README (google/mentornet), top-1, per (dataset, student): methods x noise 0.2,
# 0.4, 0.8. Its self_paced and focal_loss runs used MentorNets learned to mimic those curricula.
_README_METHODS = ("FullModel", "Self-paced MentorNet", "Focal Loss MentorNet", "MentorNet PD",
                   "MentorNet DD")
_README = {
    ("cifar10", "resnet101"): "0.796 0.822 0.797 0.910 0.914 | 0.568 0.802 0.634 0.776 0.887 | "
                              "0.238 0.297 0.25 0.283 0.463",
    ("cifar100", "resnet101"): "0.624 0.652 0.613 0.733 0.726 | 0.448 0.509 0.467 0.567 0.675 | "
                               "0.084 0.089 0.079 0.193 0.301",
    ("cifar10", "inception"): "0.775 0.784 0.747 0.798 0.800 | 0.72 0.733 0.695 0.731 0.763 | "
                              "0.29 0.272 0.309 0.312 0.461",
    ("cifar100", "inception"): "0.42 0.408 0.391 0.451 0.466 | 0.346 0.32 0.313 0.386 0.411 | "
                               "0.108 0.091 0.107 0.125 0.203",
}


def _build() -> Dict[Key, Tuple[PaperNumber, ...]]:
  numbers: Dict[Key, Tuple[PaperNumber, ...]] = {}
  for method, row in _TABLE2.items():
    for (student, dataset, noise), value in zip(_TABLE2_COLUMNS, row.split(), strict=True):
      numbers[("2", dataset, noise, student, method)] = (PaperNumber(float(value)),)
  for method, (cifar10, cifar100) in _TABLE3.items():
    numbers[("3", "cifar10", 0.4, "resnet101", method)] = (PaperNumber(cifar10),)
    numbers[("3", "cifar100", 0.4, "resnet101", method)] = (PaperNumber(cifar100),)
  for method, (top1, top5) in _TABLE4.items():
    numbers[("4", "imagenet2012", 0.4, "inception_resnet_v2", method)] = (
        PaperNumber(top1, top5),)
  for (dataset, method), (ilsvrc, webvision) in _TABLE5.items():
    found = [PaperNumber(*webvision, WEBVISION_VAL)] if webvision else []
    found.append(PaperNumber(*ilsvrc, ILSVRC12_VAL))
    numbers[("5", dataset, 0.0, "inception_resnet_v2", method)] = tuple(found)
  for (dataset, student), text in _README.items():
    for noise, row in zip((0.2, 0.4, 0.8), text.split("|"), strict=True):
      for method, value in zip(_README_METHODS, row.split(), strict=True):
        numbers[("readme", dataset, noise, student, method)] = (PaperNumber(float(value)),)
  return numbers


NUMBERS = _build()


def lookup(table: str, dataset: str, noise: float, student: str, method: str,
           evaluated_on: Optional[str] = None) -> Optional[PaperNumber]:
  """The published number of one cell, or None where the table has none.

  Where several splits were published (Table 5), the one our runs of `dataset` are evaluated on
  comes first; otherwise the first listed, whose `evaluated_on` then names the other split.
  `evaluated_on` given: the number measured on that split only (ILSVRC12 val for our
  --imagenet_val_dir results), or None.
  """
  found = NUMBERS.get((str(table), dataset, round(float(noise), 2), student, method))
  if not found:
    return None
  if evaluated_on is not None:
    return next((number for number in found if number.evaluated_on == evaluated_on), None)
  ours = OUR_TEST_SPLIT.get(dataset, "")
  return next((number for number in found if number.evaluated_on == ours), found[0])


def methods(table: str) -> Tuple[str, ...]:
  """The row names of one table, in the order they were defined (the paper's order)."""
  seen = []
  for key in NUMBERS:
    if key[0] == str(table) and key[4] not in seen:
      seen.append(key[4])
  return tuple(seen)
