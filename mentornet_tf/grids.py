r"""Grid files: which flagfiles make a table, how their rows and columns are labelled, and the plan
of runs (flagfile x seed) that `python -m mentornet_tf.experiments` executes. No TensorFlow.

A grid file (launch/grids/*.txt; format in launch/grids/README.md) is plain text:

  # a comment (from '#' to the end of a line); blank lines are ignored
  table: 2                     which published numbers go beside ours (paper_numbers.TABLES)
  title: Table 2, resnet-101   the heading of the generated table
  launch/cifar10_20_resnet101_fullmodel.flags | FullModel | resnet101 CIFAR-10 20%
  launch/mnist5k_40_fullmodel.flags

One flagfile per line, path relative to the directory the command runs in (the repository root,
as for `python -m mentornet_tf.train --flagfile=...`), then optionally `| ROW` and `| COLUMN`.
Without them the row is the method named from the flagfile's configuration (run_results) and the
column `<dataset> <noise>%`, prefixed by the student when the grid has several. The published
number of a cell is looked up by (table, dataset, noise, student, ROW).

Each flagfile runs once per seed into `<runs_dir>/<flagfile name>_seed<S>` with --seed=S and
--noise_seed=S. A flagfile whose --trained_mentornet_dir lies inside the --train_log_dir of another
flagfile of the grid (a CIFAR-100 MentorNet DD transferred from the CIFAR-10 run) reads it from
that flagfile's run of the same seed, and runs after it.
"""
import dataclasses
import os
import re
from typing import Dict, List, Optional, Sequence, Tuple, Union

from mentornet_tf import config as config_lib
from mentornet_tf import errors
from mentornet_tf import paper_numbers
from mentornet_tf import run_results

KEYS = ("table", "title")
_KEY_LINE = re.compile(r"^([A-Za-z_]+)\s*:\s*(.*)$")


@dataclasses.dataclass(frozen=True)
class GridEntry:
  """One line of a grid file: a flagfile and its optional row and column labels."""
  flagfile: str
  row: str = ""
  column: str = ""
  line: int = 0


@dataclasses.dataclass(frozen=True)
class Grid:
  path: str
  entries: Tuple[GridEntry, ...]
  table: str = ""   # a paper_numbers.TABLES key, or '' (no published numbers)
  title: str = ""


@dataclasses.dataclass(frozen=True)
class Cell:
  """A grid entry resolved: its configuration (None when it cannot run), labels, and why not."""
  entry: GridEntry
  config: Optional[config_lib.TrainConfig]
  row: str
  column: str
  problem: str = ""  # '' or why the flagfile cannot run (missing, does not parse)

  @property
  def name(self) -> str:
    """The run-name prefix: the flagfile's basename without `.flags`."""
    return re.sub(r"\.flags$", "", os.path.basename(self.entry.flagfile))

  def paper_key(self) -> Optional[Tuple[str, float, str]]:
    """(dataset, noise fraction, student) of the runs, or None when unknown."""
    if self.config is None:
      return None
    return (self.config.data.dataset_name, self.config.data.noise_fraction,
            self.config.student.studentnet)


@dataclasses.dataclass(frozen=True)
class PlannedRun:
  """One training process: a grid cell at one seed."""
  cell: Cell
  seed: int
  run_dir: str
  args: Tuple[str, ...]           # the train command's arguments
  depends_on: Optional[str] = None  # the run directory that must finish first


def parse_grid(path: str) -> Grid:
  """Reads a grid file.

  Raises:
    errors.BadInput: the file cannot be read, a line is malformed, a key is unknown or repeated,
      `table:` is not a known table, two lines name the same flagfile name (their runs would share
      directories) or the same (row, column) cell, or there is no flagfile (names --grid, the
      file and the line).
  """
  where = f"--grid={path!r}"
  try:
    with open(path, encoding="utf-8") as f:
      lines = f.read().splitlines()
  except (OSError, UnicodeDecodeError) as error:
    raise errors.BadInput(f"{where} cannot be read: {getattr(error, 'strerror', None) or error}"
                          ) from None
  keys: Dict[str, str] = {}
  entries: List[GridEntry] = []
  for number, raw in enumerate(lines, start=1):
    text = raw.split("#", 1)[0].strip()
    if not text:
      continue
    match = _KEY_LINE.match(text)
    if match and "|" not in text:
      key, value = match.group(1).lower(), match.group(2).strip()
      if key not in KEYS:
        raise errors.BadInput(f"{where}: line {number}: unknown key {key!r} (keys: "
                              f"{', '.join(KEYS)}; a flagfile line is PATH [| ROW [| COLUMN]])")
      if key in keys:
        raise errors.BadInput(f"{where}: line {number}: {key!r} given twice")
      keys[key] = value
      continue
    fields = [field.strip() for field in text.split("|")]
    if len(fields) > 3 or not fields[0] or any(not field for field in fields[1:]):
      raise errors.BadInput(f"{where}: line {number}: expected FLAGFILE [| ROW [| COLUMN]], got "
                            f"{text!r}")
    entries.append(GridEntry(fields[0], *fields[1:], line=number))
  table = keys.get("table", "")
  if table and table not in paper_numbers.TABLES:
    raise errors.BadInput(f"{where}: table: {table!r} is not a known table; choose one of "
                          f"{', '.join(paper_numbers.TABLES)}")
  if not entries:
    raise errors.BadInput(f"{where} names no flagfile")
  _check_unique(where, entries)
  return Grid(path=path, entries=tuple(entries), table=table, title=keys.get("title", ""))


def _check_unique(where: str, entries: Sequence[GridEntry]) -> None:
  names: Dict[str, GridEntry] = {}
  cells: Dict[Tuple[str, str], GridEntry] = {}
  for entry in entries:
    name = os.path.basename(entry.flagfile)
    if name in names:
      raise errors.BadInput(f"{where}: lines {names[name].line} and {entry.line} both name a "
                            f"flagfile {name!r}: their runs would share run directories")
    names[name] = entry
    if entry.row and entry.column:
      if (entry.row, entry.column) in cells:
        raise errors.BadInput(f"{where}: lines {cells[(entry.row, entry.column)].line} and "
                              f"{entry.line} fill the same cell ({entry.row!r}, {entry.column!r})")
      cells[(entry.row, entry.column)] = entry


def method_label(config: config_lib.TrainConfig) -> str:
  """The method a configuration trains, named as results tables name it (run_results)."""
  return run_results.with_baseline(
      run_results.method_name(dataclasses.asdict(config.mentor)),
      dataclasses.asdict(config.student))


def resolve(grid: Grid, configs: Dict[str, Union[config_lib.TrainConfig, str]]) -> List[Cell]:
  """The grid's cells, labelled.

  Args:
    grid: the parsed grid file.
    configs: flagfile (as written in the grid) -> its TrainConfig, or the reason it has none
      (missing file, a flag that does not parse); the entry point parses the flagfiles.
  Returns:
    One Cell per entry, in grid order (a cell without a configuration carries its problem).
  """
  parsed = [c for c in configs.values() if isinstance(c, config_lib.TrainConfig)]
  several_students = len({c.student.studentnet for c in parsed}) > 1
  cells = []
  for entry in grid.entries:
    config = configs.get(entry.flagfile, "not parsed")
    if not isinstance(config, config_lib.TrainConfig):
      cells.append(Cell(entry, None, entry.row or os.path.basename(entry.flagfile),
                        entry.column or "?", problem=str(config)))
      continue
    column = f"{config.data.dataset_name} {config.data.noise_fraction:.0%}"
    if several_students:
      column = f"{config.student.studentnet} {column}"
    cells.append(Cell(entry, config, entry.row or method_label(config), entry.column or column))
  _check_cells_unique(grid, cells)
  return cells


def _check_cells_unique(grid: Grid, cells: Sequence[Cell]) -> None:
  seen: Dict[Tuple[str, str], Cell] = {}
  for cell in cells:
    if (cell.row, cell.column) in seen:
      other = seen[(cell.row, cell.column)]
      raise errors.BadInput(
          f"--grid={grid.path!r}: lines {other.entry.line} and {cell.entry.line} fill the same "
          f"cell (row {cell.row!r}, column {cell.column!r}); label them (FLAGFILE | ROW | COLUMN)")
    seen[(cell.row, cell.column)] = cell


def run_dir(runs_dir: str, cell: Cell, seed: int) -> str:
  return os.path.join(runs_dir, f"{cell.name}_seed{seed}")


def _producer(cells: Sequence[Cell], cell: Cell) -> Optional[Tuple[Cell, str]]:
  """(the cell whose run writes `cell`'s --trained_mentornet_dir, the path inside its run)."""
  wanted = os.path.normpath(cell.config.mentor.trained_mentornet_dir or ".")
  for other in cells:
    if other is cell or other.config is None:
      continue
    base = os.path.normpath(other.config.train_log_dir)
    if wanted.startswith(base + os.sep):
      return other, os.path.relpath(wanted, base)
  return None


def plan(cells: Sequence[Cell], seeds: Sequence[int], runs_dir: str) -> List[PlannedRun]:
  """Every (cell, seed) run, cell by cell in grid order, seeds inner; cells that cannot run are
  left out (their problem is reported by the caller)."""
  runs = []
  for cell in cells:
    if cell.config is None:
      continue
    producer = _producer(cells, cell)
    for seed in seeds:
      directory = run_dir(runs_dir, cell, seed)
      args = [f"--flagfile={cell.entry.flagfile}", f"--seed={seed}", f"--noise_seed={seed}",
              f"--train_log_dir={directory}", "--verbose=0"]
      depends_on = None
      if producer is not None:
        depends_on = run_dir(runs_dir, producer[0], seed)
        args.append(f"--trained_mentornet_dir={os.path.join(depends_on, producer[1])}")
      runs.append(PlannedRun(cell, seed, directory, tuple(args), depends_on))
  return runs


def parse_seeds(text: Union[str, Sequence[str]]) -> Tuple[int, ...]:
  """'0,1,2' (or ['0', '1', '2']) -> (0, 1, 2); errors.BadInput naming --seeds otherwise."""
  items = text.split(",") if isinstance(text, str) else list(text)
  items = [str(item).strip() for item in items if str(item).strip()]
  try:
    seeds = tuple(int(item) for item in items)
  except ValueError:
    seeds = ()
  if not seeds or any(s < 0 or s > config_lib.MAX_SEED for s in seeds) or \
      len(set(seeds)) != len(seeds):
    raise errors.BadInput(f"--seeds={','.join(items)!r} is invalid: give distinct integers in "
                          f"[0, {config_lib.MAX_SEED}], e.g. --seeds=0,1,2")
  return seeds
