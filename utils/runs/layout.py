"""Every path and file name of a runs folder, in one place.

A runs folder (`EXP_DIR`, default `exp/<setting>`) holds one folder per named run of the pipeline (`NAME`); with
`SEEDS`, a named run holds one full run per seed. Inside a run, each stage of the paper has its own folder:

    <EXP_DIR>/<NAME>/[seed<s>/]
        plan.json                     what the pipeline was asked to run (mode, settings), for report.py
        warmup/                       multi-task warmup (hard sharing; its best.th is the MTW rewind point)
        step1/cp/<task_id>/           Step 1 from the warmup weights, one folder per task; step1/log/<task_id>.log
        step1-nomtw/cp/<task_id>/     Step 1 from θ(0) (round 0 = the single-task baseline)
        masks/, masks-nomtw/          Step 2: the chosen subnets, their rewind point and selection.json
        step3/, step3-nomtw/          Step 3: the subnets trained jointly (sparse sharing)
        hard/, soft/, hier/           the mask-free multi-task baselines
        negative/                     negative transfer (NER + position prediction), laid out as a run
        report/                       report.py's tables and figures

Training scripts write into the folders they are given; only this module knows where those are and what the
files in them are called."""
import os
import re
from dataclasses import dataclass

# File names inside a training run folder (train_single.py's Step 1 task folder, train_mtl.py's joint run).
CONFIG = "config.json"            # the run's settings
RESULTS = "results.json"          # a joint run's scores; written last, it marks the run finished
EVALUATION = "evaluation.json"    # train_mtl.py --evaluate's re-scoring of a finished run
COMPLETE = "complete.json"        # a Step 1 task folder's mark of a finished run
SCORES = "scores.jsonl"           # Step 1: one line per finished round
METRICS = "metrics.jsonl"         # one line per trained epoch, for learning curves
BEST = "best.th"                  # a joint run's best-dev weights
INIT = "init_weights.th"          # the rewind point
STATE = "resume.th"               # the state of the last finished epoch, removed when the run finishes
LOCK = ".lock"                    # the advisory lock of the process that owns the folder
SNAPSHOT = "data"                 # the run's copy of its vocabularies (utils.data.snapshot)
OWN_MASKS = "masks"               # a joint run's copies of the masks it trained with
SELECTION = "selection.json"      # Step 2's choice in a masks folder
PLAN = "plan.json"                # the pipeline's record of a named run
JOB = "job.json"                  # the pipeline's record of a finished job: its identity, for reuse
REPORT = "report"

# Stage folders of a run.
WARMUP = "warmup"
STEP1 = {"mtw": "step1", "nomtw": "step1-nomtw"}
MASKS = {"mtw": "masks", "nomtw": "masks-nomtw"}
STEP3 = {"mtw": "step3", "nomtw": "step3-nomtw"}
BASELINES = ("hard", "soft", "hier")
NEGATIVE = "negative"
STEP1_TASKS = "cp"                # train_single.py's --save_dir/cp/<task_id> (the original's naming)
STEP1_LOGS = "log"

NAME_RULE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
SEED_FOLDER = re.compile(r"seed([0-9]+)")
ROUND_FILE = re.compile(r"([0-9]+)_([0-9.]+)\.th")


def check_name(name: str) -> str:
    """A run name: letters, digits, '.', '_' and '-', starting with a letter or digit, without '..'; else ValueError."""
    if not NAME_RULE.fullmatch(name) or ".." in name:
        raise ValueError(f"NAME={name}: a run name is letters, digits, '.', '_' and '-', starting with a letter or "
                         "digit, without '..'")
    return name


def mask_file(round_: int, kept_percent: float) -> str:
    """`<round>_<kept%>.th`: a Step 1 round's mask (the original's naming, e.g. 3_12.50.th)."""
    return f"{round_}_{kept_percent:.2f}.th"


def weights_file(mask_name: str) -> str:
    """`best_<round>_<kept%>.th`: the best-dev weights of the round whose mask is `mask_name`."""
    return f"best_{mask_name}"


def task_mask(task_id: int) -> str:
    """`<task_id>.th`: a task's chosen mask in a masks folder (and in a joint run's own copies)."""
    return f"{task_id}.th"


def epoch_weights(epoch: int) -> str:
    """`epoch_<N>.th`: a joint run's weights after epoch N (train_mtl.py --save_ep)."""
    return f"epoch_{epoch}.th"


def round_masks(task_dir: str) -> dict[int, str]:
    """The mask files of a Step 1 task folder by round."""
    found = {}
    for name in os.listdir(task_dir):
        match = ROUND_FILE.fullmatch(name)
        if match:
            found[int(match.group(1))] = os.path.join(task_dir, name)
    return found


@dataclass(frozen=True)
class Run:
    """The folders of one run (one seed of a named run, or a named run without seeds)."""

    root: str

    @property
    def plan(self) -> str:
        return os.path.join(self.root, PLAN)

    @property
    def warmup(self) -> str:
        return os.path.join(self.root, WARMUP)

    def step1(self, arm: str = "mtw") -> str:
        """train_single.py's --save_dir of an arm of Step 1 ("mtw": from the warmup, "nomtw": from θ(0))."""
        return os.path.join(self.root, STEP1[arm])

    def step1_tasks(self, arm: str = "mtw") -> str:
        """The folder of Step 1's task folders (Step 2's --single_dir)."""
        return os.path.join(self.step1(arm), STEP1_TASKS)

    def step1_task(self, task_id: int, arm: str = "mtw") -> str:
        return os.path.join(self.step1_tasks(arm), str(task_id))

    def step1_log(self, task_id: int, arm: str = "mtw") -> str:
        return os.path.join(self.step1(arm), STEP1_LOGS, f"{task_id}.log")

    def masks(self, arm: str = "mtw") -> str:
        return os.path.join(self.root, MASKS[arm])

    def step3(self, arm: str = "mtw") -> str:
        return os.path.join(self.root, STEP3[arm])

    def baseline(self, kind: str) -> str:
        if kind not in BASELINES:
            raise ValueError(f"unknown baseline {kind!r}: expected one of {', '.join(BASELINES)}")
        return os.path.join(self.root, kind)

    @property
    def negative(self) -> "Run":
        return Run(os.path.join(self.root, NEGATIVE))

    @property
    def report(self) -> str:
        return os.path.join(self.root, REPORT)

    def seed(self, seed: int) -> "Run":
        return Run(os.path.join(self.root, f"seed{seed}"))

    def seeds(self) -> list[tuple[int, "Run"]]:
        """(seed, run) of every seed<s>/ folder, by seed; [] for a run without seeds."""
        if not os.path.isdir(self.root):
            return []
        found = [(int(m.group(1)), self.seed(int(m.group(1)))) for m in map(SEED_FOLDER.fullmatch, os.listdir(self.root))
                 if m and os.path.isdir(os.path.join(self.root, m.group(0)))]
        return sorted(found)


def run(exp_dir: str, name: str) -> Run:
    """The folder of the named run `name` in the runs folder `exp_dir`."""
    return Run(os.path.join(exp_dir, check_name(name)))


def named_runs(exp_dir: str) -> list[str]:
    """The names of the runs in `exp_dir` (folders holding a plan.json), oldest first."""
    if not os.path.isdir(exp_dir):
        return []
    names = [n for n in os.listdir(exp_dir) if os.path.isfile(os.path.join(exp_dir, n, PLAN))]
    return sorted(names, key=lambda n: (os.path.getmtime(os.path.join(exp_dir, n, PLAN)), n))


def default_exp_dir(setting: str) -> str:
    return os.path.join("exp", setting)


def default_processed(setting: str) -> str:
    return os.path.join("data", "processed", setting)


def in_folder(path: str, *names: str) -> str:
    """A file of a run folder: in_folder(run_dir, RESULTS)."""
    return os.path.join(path, *names)


# report.py's files (in a run's report/ folder, or --out) and the data snapshot's description.
SNAPSHOT_META = "meta.json"       # a data snapshot's settings and tasks (utils.data.snapshot), in <run folder>/data/
PRETRAINED = "pretrained"         # in <run folder>/data/: a transformer's tokenizer and configuration
REPORT_MARKDOWN = "report.md"
KEPT_VS_DEV = "kept_vs_dev.png"
LEARNING_CURVES = "learning_curves.png"


def report_table(table: str) -> str:
    """`<table>.csv`: one of report.py's tables (main, mtw, overlap, negative, orderings)."""
    return f"{table}.csv"

# The output roots of train_single.py and train_mtl.py called directly, under exp/<setting>/ (the original's layout).
DIRECT_STEP1 = "single"
DIRECT_STEP3 = "mtl"

# report.py's mask analysis per part and layer (utils.report.layers), in the report folder beside report.md.
MASK_PARTS = "mask_parts.csv"     # the chosen subnets' density and overlap per part (LSTM gate block, char CNN, ...)
MASK_LAYERS = "mask_layers.csv"   # the paper's Table 7 per layer
MASK_ROUNDS = "mask_rounds.csv"   # each task's kept and newly pruned fraction per part, Step 1 round by round
MASK_ROUND_OVERLAP = "mask_round_overlap.csv"   # the overlap per part of the tasks' masks of each Step 1 round
MASK_OVERLAP = "mask_overlap.png" # heatmap: the chosen subnets' overlap per part and task group

# TensorBoard event files of a training run (utils.training.tensorboard), in the run folder; Step 1's per-round
# scalars (kept %, dev, test, mask density) in a subfolder of it, on their own step axis: the round.
TENSORBOARD = "tb"
TENSORBOARD_ROUNDS = "rounds"
