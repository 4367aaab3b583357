"""Class maps of asymmetric (class-conditional) label noise, by dataset, as peers define them.

With probability p a label of class c becomes `class_map[c]` (`noise.corrupt_labels`,
noise_type='asymmetric'); a class mapped to itself never changes. Defined by class NAMES, so each
convention reads as its authors state it, then turned into label ids (the datasets' label order:
CIFAR's batches.meta / tfds ClassLabel names, alphabetical for CIFAR-100; digits 0-9):

  cifar10   truck -> automobile, bird -> airplane, deer -> horse, cat <-> dog (Patrini et al.
            2017, the convention of DivideMix and most CIFAR-10 "asym" results); the other five
            classes keep their labels, so the flip rate is p / 2.
  cifar100  each class -> the next class of its superclass, cyclic (the 20 superclasses of 5;
            within a superclass the classes in label order): every class can flip, flip rate p.
  mnist5k, digits   2 -> 7, 3 -> 8, 5 <-> 6, 7 -> 1 (Patrini et al. 2017's MNIST convention).

No TensorFlow (config.py lists the datasets that have a map: `config.ASYMMETRIC_NOISE_DATASETS`,
kept equal to `CLASS_MAPS` by a test).
"""
from typing import Dict, Sequence, Tuple

import numpy as np

CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
                   "truck")
CIFAR10_PAIRS = (("truck", "automobile"), ("bird", "airplane"), ("deer", "horse"),
                 ("cat", "dog"), ("dog", "cat"))

CIFAR100_CLASSES = tuple("""
apple aquarium_fish baby bear beaver bed bee beetle bicycle bottle bowl boy bridge bus butterfly
camel can castle caterpillar cattle chair chimpanzee clock cloud cockroach couch crab crocodile
cup dinosaur dolphin elephant flatfish forest fox girl hamster house kangaroo keyboard lamp
lawn_mower leopard lion lizard lobster man maple_tree motorcycle mountain mouse mushroom oak_tree
orange orchid otter palm_tree pear pickup_truck pine_tree plain plate poppy porcupine possum
rabbit raccoon ray road rocket rose sea seal shark shrew skunk skyscraper snail snake spider
squirrel streetcar sunflower sweet_pepper table tank telephone television tiger tractor train
trout tulip turtle wardrobe whale willow_tree wolf woman worm""".split())
CIFAR100_SUPERCLASSES = {
    "aquatic_mammals": ("beaver", "dolphin", "otter", "seal", "whale"),
    "fish": ("aquarium_fish", "flatfish", "ray", "shark", "trout"),
    "flowers": ("orchid", "poppy", "rose", "sunflower", "tulip"),
    "food_containers": ("bottle", "bowl", "can", "cup", "plate"),
    "fruit_and_vegetables": ("apple", "mushroom", "orange", "pear", "sweet_pepper"),
    "household_electrical_devices": ("clock", "keyboard", "lamp", "telephone", "television"),
    "household_furniture": ("bed", "chair", "couch", "table", "wardrobe"),
    "insects": ("bee", "beetle", "butterfly", "caterpillar", "cockroach"),
    "large_carnivores": ("bear", "leopard", "lion", "tiger", "wolf"),
    "large_man-made_outdoor_things": ("bridge", "castle", "house", "road", "skyscraper"),
    "large_natural_outdoor_scenes": ("cloud", "forest", "mountain", "plain", "sea"),
    "large_omnivores_and_herbivores": ("camel", "cattle", "chimpanzee", "elephant", "kangaroo"),
    "medium_mammals": ("fox", "porcupine", "possum", "raccoon", "skunk"),
    "non-insect_invertebrates": ("crab", "lobster", "snail", "spider", "worm"),
    "people": ("baby", "boy", "girl", "man", "woman"),
    "reptiles": ("crocodile", "dinosaur", "lizard", "snake", "turtle"),
    "small_mammals": ("hamster", "mouse", "rabbit", "shrew", "squirrel"),
    "trees": ("maple_tree", "oak_tree", "palm_tree", "pine_tree", "willow_tree"),
    "vehicles_1": ("bicycle", "bus", "motorcycle", "pickup_truck", "train"),
    "vehicles_2": ("lawn_mower", "rocket", "streetcar", "tank", "tractor"),
}
DIGITS = tuple(str(d) for d in range(10))
MNIST_PAIRS = (("2", "7"), ("3", "8"), ("5", "6"), ("6", "5"), ("7", "1"))


def _from_pairs(classes: Sequence[str], pairs: Sequence[Tuple[str, str]]) -> np.ndarray:
  """int32 [K]: class_map[c] = the class c's name maps to (itself when not named)."""
  index = {name: i for i, name in enumerate(classes)}
  class_map = np.arange(len(classes), dtype=np.int32)
  for source, target in pairs:
    class_map[index[source]] = index[target]
  return class_map


def _superclass_cycles(classes: Sequence[str], groups: Dict[str, Sequence[str]]) -> np.ndarray:
  """int32 [K]: each class -> the next of its group in label order, the last -> the first."""
  index = {name: i for i, name in enumerate(classes)}
  class_map = np.full(len(classes), -1, dtype=np.int32)
  for members in groups.values():
    ids = sorted(index[name] for name in members)
    for position, label in enumerate(ids):
      class_map[label] = ids[(position + 1) % len(ids)]
  return class_map


CLASS_MAPS = {
    "cifar10": _from_pairs(CIFAR10_CLASSES, CIFAR10_PAIRS),
    "cifar100": _superclass_cycles(CIFAR100_CLASSES, CIFAR100_SUPERCLASSES),
    "mnist5k": _from_pairs(DIGITS, MNIST_PAIRS),
    "digits": _from_pairs(DIGITS, MNIST_PAIRS),
}


def asymmetric_class_map(dataset_name: str, num_classes: int) -> np.ndarray:
  """The asymmetric-noise class map of a dataset: int32 [num_classes].

  Raises:
    ValueError: the dataset has no map, or its map has another class count (names the flag).
  """
  if dataset_name not in CLASS_MAPS:
    raise ValueError(f"--noise_type=asymmetric has a class map for --dataset_name="
                     f"{', '.join(CLASS_MAPS)} only, not {dataset_name!r}")
  class_map = CLASS_MAPS[dataset_name]
  if len(class_map) != int(num_classes):
    raise ValueError(f"--noise_type=asymmetric: the {dataset_name} class map has "
                     f"{len(class_map)} classes, the data {num_classes}")
  return class_map.copy()
