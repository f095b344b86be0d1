"""Where the subnets share: the mask analysis per part of the encoder, from mask files alone (no model). A prunable
tensor is split into parts: an LSTM weight `<module>weight_ih_l<k>` / `weight_hh_l<k>` (suffix `_reverse`: the
backward direction) into its 4 gate blocks along dim 0, in PyTorch's order i, f, g, o (input, forget, cell,
output); a char CNN weight (a name holding "conv") and any other tensor (e.g. a transformer's attention or FFN
matrix) is one part. Parts group into layers: BiLSTM layer k (both directions), the char CNN, transformer block k
(a name holding `layer.<k>.`), else the tensor itself. Per part and per layer: each task's density (kept / size),
each pair's overlap |∩| / |∪| and all tasks' (the paper's Table 7 per layer; none where no task of the group keeps
a weight), from integer counts whose sums over all parts give exactly utils.subnets.masks' kept_fraction and
overlap_ratio. Per Step 1 round: each task's kept fraction per part, the fraction of the part's weights kept in the
task's previous round and pruned in this one, and the overlap of the tasks' masks of that round."""
import itertools
import os
import re
from dataclasses import dataclass, field

import torch

from utils.subnets.masks import Mask, load_mask
from utils.report.read import read_step1
from utils.report.runs import ARMS
from utils.report.tables import TASK_NAMES, Table
from utils.runs import layout

GATES = ("i", "f", "g", "o")      # PyTorch's order of an LSTM weight's gate blocks along dim 0
LSTM_WEIGHT = re.compile(r"(?P<module>.*?)weight_(?P<kind>ih|hh)_l(?P<layer>[0-9]+)(?P<reverse>_reverse)?")
CONV = "conv"                     # a prunable tensor whose name holds this is the char CNN's
CHAR_CNN = "char CNN"
BLOCK = re.compile(r"(?:^|\.)layers?\.(?P<block>[0-9]+)\.")   # a transformer block's tensors, e.g. encoder.layer.3.
ALL_TASKS = "all"                 # the group of every task, as in the overlap table
ALL_PARTS = "all parts"           # the total row over every part (the whole encoder)
ALL_LAYERS = "all layers"         # the total row over every layer (the same counts)


@dataclass(frozen=True)
class Part:
    """A named piece of one prunable tensor: rows [start, stop) along dim 0, or the whole tensor (rows None)."""

    name: str
    tensor: str
    layer: str
    rows: tuple[int, int] | None = None

    def of(self, mask: Mask) -> torch.Tensor:
        """This part of a mask's tensor."""
        tensor = mask[self.tensor]
        return tensor if self.rows is None else tensor[self.rows[0]:self.rows[1]]


def tensor_parts(name: str, shape: tuple[int, ...], lstm_prefix: str = "") -> list[Part]:
    """The parts of one prunable tensor; `lstm_prefix` goes before the names of LSTM parts and layers (to tell
    several LSTM modules apart). An LSTM weight whose rows are not 4 gate blocks is a one-line ValueError."""
    lstm = LSTM_WEIGHT.fullmatch(name)
    if lstm:
        rows = shape[0] if shape else 0
        if len(shape) != 2 or rows % len(GATES):
            raise ValueError(f"mask tensor {name}: shape {tuple(shape)} is no LSTM weight of {len(GATES)} gate blocks")
        layer = int(lstm.group("layer")) + 1
        direction = "backward" if lstm.group("reverse") else "forward"
        block = rows // len(GATES)
        return [Part(f"{lstm_prefix}lstm layer {layer} {direction} W_{lstm.group('kind')} gate {gate}", name,
                     f"{lstm_prefix}BiLSTM layer {layer}", (g * block, (g + 1) * block))
                for g, gate in enumerate(GATES)]
    if CONV in name:
        return [Part(name, name, CHAR_CNN)]
    block = BLOCK.search(name)
    return [Part(name, name, f"transformer block {block.group('block')}" if block else name)]


def mask_parts(mask: Mask, where: str) -> list[Part]:
    """The parts of every tensor of a mask, in the mask's tensor order (gates i, f, g, o within an LSTM weight);
    `where` (the mask's file or folder) begins the error line of a tensor that cannot be split."""
    modules = list(dict.fromkeys(m.group("module") for m in map(LSTM_WEIGHT.fullmatch, mask) if m))
    parts = []
    for name, tensor in mask.items():
        lstm = LSTM_WEIGHT.fullmatch(name)
        prefix = f"{lstm.group('module').rstrip('.')} " if lstm and len(modules) > 1 else ""
        try:
            parts += tensor_parts(name, tuple(tensor.shape), prefix)
        except ValueError as error:
            raise ValueError(f"{where}: {error}") from None
    return parts


def task_groups(tasks: list[str]) -> list[tuple[str, tuple[str, ...]]]:
    """(label, tasks) of every pair of tasks and, with more than two, of all of them: the overlap table's rows."""
    groups = [(" & ".join(pair), pair) for pair in itertools.combinations(tasks, 2)]
    return groups + ([(ALL_TASKS, tuple(tasks))] if len(tasks) > 2 else [])


@dataclass
class Shares:
    """Integer counts of one part (or a sum of parts) over the masks of some tasks: its size, each task's kept
    weights, and per task group the weights every task of it keeps (∩) and some task keeps (∪)."""

    size: int = 0
    kept: dict[str, int] = field(default_factory=dict)
    inter: dict[str, int] = field(default_factory=dict)
    union: dict[str, int] = field(default_factory=dict)

    def __add__(self, other: "Shares") -> "Shares":
        def add(a: dict[str, int], b: dict[str, int]) -> dict[str, int]:
            return {k: a.get(k, 0) + b.get(k, 0) for k in dict.fromkeys([*a, *b])}

        return Shares(self.size + other.size, add(self.kept, other.kept), add(self.inter, other.inter),
                      add(self.union, other.union))

    def density(self, task: str) -> float:
        """‖M_t‖₀ / size, as kept_fraction."""
        return self.kept[task] / self.size

    def overlap(self, group: str) -> float | None:
        """‖∩ M‖₀ / ‖∪ M‖₀ of a task group, as overlap_ratio; None (undefined, not 0) when no task of the group keeps
        a weight here (overlap_ratio says 0 then, which for the whole encoder means masks without a kept weight)."""
        return self.inter[group] / self.union[group] if self.union[group] else None


def check_same_tensors(masks: dict[str, Mask], where: str) -> None:
    """Every task's mask has the first task's tensors with the same shapes; else one line naming the tensor."""
    first, reference = next(iter(masks.items()))
    for task, mask in masks.items():
        for name in dict.fromkeys([*reference, *mask]):
            if name not in mask or name not in reference:
                lacking = task if name not in mask else first
                raise ValueError(f"{where}: the mask of {lacking} has no tensor {name}")
            if mask[name].shape != reference[name].shape:
                raise ValueError(f"{where}: mask tensor {name} of {task} has shape {tuple(mask[name].shape)}, "
                                 f"that of {first} {tuple(reference[name].shape)}")


def part_shares(masks: dict[str, Mask], parts: list[Part]) -> dict[str, Shares]:
    """Per part (by name): the tasks' kept counts and every task group's |∩| and |∪|."""
    tasks = list(masks)
    found = {}
    for part in parts:
        stacked = torch.stack([part.of(masks[t]) for t in tasks])
        shares = Shares(stacked[0].numel(), {t: int(stacked[i].sum()) for i, t in enumerate(tasks)})
        for label, group in task_groups(tasks):
            chosen = stacked[[tasks.index(t) for t in group]]
            shares.inter[label] = int(chosen.all(dim=0).sum())
            shares.union[label] = int(chosen.any(dim=0).sum())
        found[part.name] = shares
    return found


def total(shares: list[Shares]) -> Shares:
    """The sum of some parts' counts."""
    return sum(shares, Shares())


@dataclass
class Subnets:
    """The counts of some tasks' masks (e.g. the subnets Step 2 chose) per part."""

    tasks: list[str]
    parts: list[Part]
    shares: dict[str, Shares]

    @property
    def whole(self) -> Shares:
        """The whole encoder: every part's counts summed."""
        return total(list(self.shares.values()))

    def rows(self) -> list[tuple[str, str, Shares]]:
        """(part, layer, counts) of every part, then (all parts, "", the whole encoder's)."""
        return [(p.name, p.layer, self.shares[p.name]) for p in self.parts] + [(ALL_PARTS, "", self.whole)]

    def layers(self) -> dict[str, Shares]:
        """The parts' counts summed per layer, layers in the order of their first part."""
        layers: dict[str, Shares] = {}
        for part in self.parts:
            layers[part.layer] = layers.get(part.layer, Shares()) + self.shares[part.name]
        return layers


def analyse(masks: dict[str, Mask], where: str) -> Subnets:
    """The per-part counts of the tasks' masks (`where`: their folder, for the error line of masks that differ)."""
    check_same_tensors(masks, where)
    parts = mask_parts(next(iter(masks.values())), where)
    return Subnets(list(masks), parts, part_shares(masks, parts))


def share_columns(tasks: list[str]) -> list[tuple[str, str, str]]:
    """The columns of a share table after its key columns: size, each task's density, each group's overlap."""
    return ([("# Weights", "size", "count")]
            + [(f"{TASK_NAMES.get(t, t)} kept", f"{t}_kept_fraction", "ratio") for t in tasks]
            + [(label, label, "ratio") for label, _ in task_groups(tasks)])


def share_cells(shares: Shares, tasks: list[str]) -> list:
    return ([shares.size] + [shares.density(t) for t in tasks]
            + [shares.overlap(label) for label, _ in task_groups(tasks)])


def parts_table(subnets: Subnets) -> Table:
    """Per part: its tensor, layer, size, each task's density and every group's overlap; last the whole encoder."""
    table = Table([("Part", "part", "text"), ("Tensor", "tensor", "text"), ("Layer", "layer", "text"),
                   *share_columns(subnets.tasks)])
    table.rows = [[p.name, p.tensor, p.layer, *share_cells(subnets.shares[p.name], subnets.tasks)]
                  for p in subnets.parts]
    table.rows.append([ALL_PARTS, "", "", *share_cells(subnets.whole, subnets.tasks)])
    return table


def layers_table(subnets: Subnets) -> Table:
    """The paper's Table 7 per layer: per layer its size, each task's density and every group's overlap; last all
    layers together (the overlap table's ratios)."""
    table = Table([("Layer", "layer", "text"), *share_columns(subnets.tasks)])
    table.rows = [[layer, *share_cells(s, subnets.tasks)] for layer, s in subnets.layers().items()]
    table.rows.append([ALL_LAYERS, *share_cells(subnets.whole, subnets.tasks)])
    return table


def overlap_grid(subnets: Subnets) -> tuple[list[str], list[str], list[list[float | None]]]:
    """The heatmap's numbers: rows (every part, then all parts), columns (the task groups) and their overlaps."""
    rows = subnets.rows()
    groups = [label for label, _ in task_groups(subnets.tasks)]
    return [name for name, _, _ in rows], groups, [[s.overlap(g) for g in groups] for _, _, s in rows]


@dataclass
class Step1Masks:
    """One Step 1 task folder's mask files by round (the arm is the Step 1 folder it was read from)."""

    arm: str
    task: str
    rounds: dict[int, str]


def step1_masks(run: layout.Run) -> list[Step1Masks]:
    """The round mask files of every finished Step 1 task folder of the run, both arms; an unfinished one (no
    complete mark) is left out, as from the report's Step 1 rows."""
    found = []
    for arm in ARMS:
        for task in read_step1(run.step1_tasks(arm)):
            rounds = layout.round_masks(run.step1_task(task.task_id, arm)) if task.finished else {}
            if rounds:
                found.append(Step1Masks(layout.STEP1[arm], task.task, rounds))
    return found


def change_rows(arm: str, task: str, round_: int, mask: Mask, previous: Mask | None, where: str) -> list[list]:
    """Per part of a task's round mask (read from `where`; then all parts): the kept fraction, and the fraction of
    the part's weights kept in `previous` (the task's previous round) and pruned in this one (None for the first
    round)."""
    rows, sizes, kept, pruned = [], 0, 0, 0
    for part in mask_parts(mask, where):
        now = part.of(mask)
        lost = None if previous is None else int((part.of(previous) & ~now).sum())
        rows.append([arm, task, round_, part.name, part.layer, now.numel(), int(now.sum()) / now.numel(),
                     None if lost is None else lost / now.numel()])
        sizes, kept, pruned = sizes + now.numel(), kept + int(now.sum()), pruned + (lost or 0)
    whole = [arm, task, round_, ALL_PARTS, "", sizes, kept / sizes, None if previous is None else pruned / sizes]
    return rows + [whole]


def step1_tables(step1: list[Step1Masks]) -> tuple[Table, Table]:
    """Step 1 round by round, per arm: each task's change (change_rows), and, for every round all the arm's tasks
    have, the overlap of their round masks per part (then all parts). Each mask file is read once; only the
    previous round's masks are held."""
    change = Table([("Arm", "arm", "text"), ("Task", "task", "text"), ("Round", "round", "count"),
                    ("Part", "part", "text"), ("Layer", "layer", "text"), ("# Weights", "size", "count"),
                    ("Kept", "kept_fraction", "ratio"),
                    ("Pruned since the previous round", "pruned_fraction", "ratio")])
    arms = {found.arm: [f for f in step1 if f.arm == found.arm] for found in step1}
    groups = list(dict.fromkeys(label for tasks in arms.values() for label, _ in task_groups([f.task for f in tasks])))
    overlap = Table([("Arm", "arm", "text"), ("Round", "round", "count"), ("Part", "part", "text"),
                     ("Layer", "layer", "text"), ("# Weights", "size", "count"),
                     *[(label, label, "ratio") for label in groups]])
    for arm, tasks in arms.items():
        previous: dict[str, Mask] = {}
        for round_ in sorted({r for found in tasks for r in found.rounds}):
            masks = {f.task: load_mask(f.rounds[round_])["mask"] for f in tasks if round_ in f.rounds}
            for found in (f for f in tasks if f.task in masks):
                path = found.rounds[round_]
                if found.task in previous:
                    pair = {"the previous round": previous[found.task], "this one": masks[found.task]}
                    check_same_tensors(pair, path)
                change.rows += change_rows(arm, found.task, round_, masks[found.task], previous.get(found.task), path)
            if len(masks) == len(tasks) > 1:
                folder = os.path.dirname(os.path.dirname(tasks[0].rounds[round_]))
                subnets = analyse(masks, f"{folder}: round {round_}")
                overlap.rows += [[arm, round_, name, layer, shares.size,
                                  *[shares.overlap(g) if g in shares.union else None for g in groups]]
                                 for name, layer, shares in subnets.rows()]
            previous.update(masks)
    return change, overlap
