"""Which run the report reads and what it tells its reader to run. A runs folder holds named runs (folders with
plan.json, utils.runs.layout); the report reads one: the one asked for, else the newest. Its data setting is the
one its data snapshots record (meta.json), so a `columns` run's hints name run_columns.sh whatever the setting was
called, and the paper's numbers are quoted only for the settings the paper ran. The training folders of a run
(warmup, Step 1 task folders, Step 3, baselines, negative transfer) are listed here, in that order."""
import os
from dataclasses import dataclass, field

from utils.report.read import read_snapshot_meta, step1_task_dirs
from utils.runs import layout

SCRIPTS = {"conll03": "conll03", "conll03-pp": "conll03", "ptb": "ptb", "ontonotes": "ontonotes",
           "columns": "columns"}  # data setting -> the run_<setting>.sh that trains it
COLUMNS = "columns"               # any other setting name: your own tasks (prepare-data.py --type columns)
ARMS = ("mtw", "nomtw")


class RunError(ValueError):
    """No such runs folder or run: one line saying what is there."""


def script_setting(setting: str) -> str:
    """The setting whose run_<setting>.sh trains a data setting (any name the scripts lack: run_columns.sh)."""
    return SCRIPTS.get(setting, COLUMNS)


def script(setting: str) -> str:
    return f"run_{script_setting(setting)}.sh"


def choose_run(exp_dir: str, name: str | None, setting: str) -> tuple[str, str | None]:
    """The named run to report (`name`, else the newest) and, when it was not asked for, a line saying which."""
    if not os.path.isdir(exp_dir):
        raise RunError(f"{exp_dir}: no runs folder (run `bash {script(setting)} all`, or pass --exp_dir)")
    names = layout.named_runs(exp_dir)
    if name is None:
        if not names:
            raise RunError(f"{exp_dir}: no named runs in it (a named run is a folder holding {layout.PLAN}; "
                           f"`NAME=... bash {script(setting)} all` makes one)")
        others = f"; --name picks another of: {', '.join(names[:-1])}" if len(names) > 1 else ""
        return names[-1], f"report of run {names[-1]}, the newest in {exp_dir}{others}"
    try:
        layout.check_name(name)
    except ValueError as error:
        raise RunError(str(error).replace("NAME=", "--name ", 1)) from None
    if name not in names and not os.path.isdir(layout.run(exp_dir, name).root):
        raise RunError(f"{exp_dir}: no run named {name!r}; the runs there (folders holding {layout.PLAN}): "
                       + (", ".join(names) or "none"))
    return name, None


def seed_alias(exp_dir: str, name: str | None) -> tuple[str, str, int] | None:
    """A seed folder named as a run of its named run (`--exp_dir EXP_DIR/NAME --name seed<s>`): the runs folder,
    the run's name and the seed; None for anything else (a named run called seed<s> holds its own plan.json)."""
    match = layout.SEED_FOLDER.fullmatch(name or "")
    named = layout.Run(os.path.normpath(exp_dir))
    if not match or not os.path.isfile(named.plan) or os.path.isfile(named.seed(int(match.group(1))).plan):
        return None
    return os.path.dirname(named.root), os.path.basename(named.root), int(match.group(1))


def training_folders(run: layout.Run, negative: bool = True) -> list[str]:
    """Every training folder a run may hold, present or not: warmup, Step 1's task folders (from the warmup, then
    from θ(0)), Step 3 (both arms), hard / soft / hierarchical sharing, then the negative-transfer run's."""
    folders = [run.warmup]
    for arm in ARMS:
        folders += [folder for _, folder in step1_task_dirs(run.step1_tasks(arm))]
    folders += [run.step3(arm) for arm in ARMS] + [run.baseline(kind) for kind in layout.BASELINES]
    return folders + (training_folders(run.negative, negative=False) if negative else [])


def snapshot_metas(run: layout.Run, negative: bool = True) -> list[dict]:
    """The data snapshots' meta.json of a run's training folders."""
    return [meta for meta in map(read_snapshot_meta, training_folders(run, negative)) if meta is not None]


def task_metrics(run: layout.Run) -> dict[str, str]:
    """Each task's metric as the run's data snapshots record it."""
    metrics: dict[str, str] = {}
    for meta in snapshot_metas(run):
        for spec in meta["tasks"]:
            metrics.setdefault(spec["name"], spec["metric"])
    return metrics


def data_setting(run: layout.Run) -> str | None:
    """The data setting (prepare-data.py --type) the run was trained on, None before anything has been trained."""
    return next((meta["setting"] for meta in snapshot_metas(run, negative=False)), None)


@dataclass(frozen=True)
class Context:
    """The run being reported: where, its name, its seeds, the setting as asked (`setting`) and as its data says
    (`data`, the asked one when nothing has been trained)."""

    exp_dir: str
    name: str
    setting: str
    data: str
    seeds: list[int] = field(default_factory=list)

    @property
    def run(self) -> layout.Run:
        return layout.run(self.exp_dir, self.name)

    @property
    def paper(self) -> str:
        """The paper's setting whose numbers apply (conll03 for its negative-transfer data too)."""
        return "conll03" if self.data == "conll03-pp" else self.data

    def command(self, mode: str) -> str:
        """The run script command that trains what `mode` trains into this run, e.g.
        "`NAME=a bash run_conll03.sh baselines`"."""
        target = script_setting(self.data)
        prefix = f"NAME={self.name} "
        if os.path.normpath(self.exp_dir) != layout.default_exp_dir(target):
            prefix = f"EXP_DIR={self.exp_dir} " + prefix
        if self.seeds:
            prefix = f"SEEDS={','.join(map(str, self.seeds))} " + prefix
        return f"`{prefix}bash run_{target}.sh {mode}`"


def context(exp_dir: str, name: str, setting: str) -> Context:
    """The Context of a named run; its data setting from the first seed's data snapshots if it has seeds."""
    run = layout.run(exp_dir, name)
    seeds = [seed for seed, _ in run.seeds()]
    data = data_setting(run.seed(seeds[0]) if seeds else run)
    return Context(exp_dir, name, setting, data or setting, seeds)
