"""The experiment graph: which jobs each mode of run_<setting>.sh runs, in which stages, writing which folders.
`plan` is pure (no file is read or written), so what `all`, `baselines` or SEEDS do is unit tested without
training; every output folder comes from utils.runs.layout."""
import os
from dataclasses import dataclass, field

from utils.runs import layout

MODES = ("prepare", "single", "warmup", "masks", "mtl", "all", "baselines", "single-task", "hard", "negative")
SPARSE = {"mtw": "sparse sharing", "nomtw": "sparse sharing (no MTW)"}
BASELINE_ARCHS = {"hard": "cnn-lstm", "soft": "soft", "hier": "hier-lstm"}
BILSTM_ONLY = ("soft", "hier")  # baselines whose architecture exists for the BiLSTM encoder only
# What marks a job's folder finished, by kind.
FINISHED = {"step1": layout.COMPLETE, "warmup": layout.RESULTS, "step3": layout.RESULTS, "baseline": layout.RESULTS,
            "masks": layout.SELECTION}


@dataclass(frozen=True)
class Job:
    """One process: `command` after the Python interpreter, writing the folder `out` (None: writes no run folder).
    `task_id` and `log` for Step 1's task jobs, which run side by side with their output in `log`."""

    kind: str
    title: str
    command: tuple[str, ...]
    out: str | None = None
    task_id: int | None = None
    log: str | None = None

    @property
    def finished_marker(self) -> str | None:
        return os.path.join(self.out, FINISHED[self.kind]) if self.out and self.kind in FINISHED else None


@dataclass(frozen=True)
class Stage:
    """Jobs run one after another, or side by side (`parallel`: Step 1's tasks, JOBS at a time)."""

    title: str
    jobs: tuple[Job, ...]
    parallel: bool = False


@dataclass(frozen=True)
class Request:
    """What the user asked for: the mode and its arguments, where, and the training flags of each kind of job
    (utils.pipeline.variables.training_flags)."""

    setting: str
    mode: str
    name: str
    exp_dir: str
    processed: str
    task_ids: tuple[int, ...]
    flags: dict[str, tuple[str, ...]] = field(default_factory=dict)
    arguments: tuple[str, ...] = ()
    seeds: tuple[int, ...] = ()
    processed_pp: str = os.path.join("data", "processed", "conll03-pp")
    pp_task_ids: tuple[int, ...] = (0, 1)
    overwrite: bool = False
    single_dir: str | None = None   # masks: Step 1's task folders and the masks folder, instead of the run's
    mask_dir: str | None = None
    negative_arch: str = "random-lstm"  # negative transfer's model: the paper's weaker one (NEGATIVE_MODEL)
    encoder: str = "bilstm"             # ENCODER: soft and hierarchical sharing are defined for the BiLSTM only


def step1(request: Request, run: layout.Run, processed: str, task_ids: tuple[int, ...], arm: str,
          init: str | None, seed: tuple[str, ...], extra: tuple[str, ...] = ()) -> Stage:
    """Step 1 for every task, side by side: train_single.py per task into <run>/step1[-nomtw]/cp/<task_id>."""
    jobs = []
    for task in task_ids:
        command = ("train_single.py", *request.flags.get("step1", ()), *seed, *extra, "--resume", "--data_path", processed,
                   "--save_dir", run.step1(arm), "--task_id", str(task), "--exp_name", str(task),
                   *(("--init_weights", init) if init else ()))
        jobs.append(Job("step1", f"Step 1, task {task}", command, run.step1_task(task, arm), task,
                        run.step1_log(task, arm)))
    origin = "from the warmup weights" if init == os.path.join(run.warmup, layout.BEST) else \
        f"rewinding to {init}" if init else "from θ(0) (round 0 = the single-task baseline)"
    return Stage(f"Step 1{' without MTW' if arm == 'nomtw' else ''}: subnets {origin}", tuple(jobs), parallel=True)


def masks(request: Request, run: layout.Run, arm: str, rounds: tuple[str, ...] = ()) -> Stage:
    """Step 2: utils.subnets.selection from <run>/step1[-nomtw]/cp into <run>/masks[-nomtw]."""
    single_dir = request.single_dir or run.step1_tasks(arm)
    out = request.mask_dir or run.masks(arm)
    command = ("-m", "utils.subnets.selection", "--single_dir", single_dir, "--out_dir", out,
               *(("--rounds", *rounds) if rounds else ()), *(("--overwrite",) if request.overwrite else ()))
    return Stage(f"Step 2{' without MTW' if arm == 'nomtw' else ''}: choose the subnets",
                 (Job("masks", "Step 2", command, out),))


def joint(request: Request, run: layout.Run, processed: str, kind: str, out: str, seed: tuple[str, ...],
          extra: tuple[str, ...], title: str) -> Stage:
    """One train_mtl.py run into `out` (warmup: the warmup's flags; otherwise the joint runs')."""
    flags = request.flags.get("warmup" if kind == "warmup" else "joint", ())
    command = ("train_mtl.py", *flags, *seed, "--resume", "--data_path", processed,
               "--save_dir", os.path.dirname(out), "--exp_name", os.path.basename(out), *extra)
    return Stage(title, (Job(kind, title, command, out),))


def step3(request: Request, run: layout.Run, processed: str, arm: str, seed: tuple[str, ...],
          masks_dir: str | None = None, extra: tuple[str, ...] = ()) -> Stage:
    masks_dir = masks_dir or run.masks(arm)
    return joint(request, run, processed, "step3", run.step3(arm), seed,
                 ("--masks_path", masks_dir, "--system", SPARSE[arm], *extra),
                 f"Step 3{' without MTW' if arm == 'nomtw' else ''}: train the subnets jointly")


def warmup(request: Request, run: layout.Run, seed: tuple[str, ...]) -> Stage:
    return joint(request, run, request.processed, "warmup", run.warmup, seed, (),
                 "multi-task warmup (hard sharing)")


def baseline(request: Request, run: layout.Run, kind: str, seed: tuple[str, ...]) -> Stage:
    return joint(request, run, request.processed, "baseline", run.baseline(kind), seed,
                 ("--arch", BASELINE_ARCHS[kind]), f"baseline: {kind} sharing (--arch {BASELINE_ARCHS[kind]})")


def compare(request: Request, seed: tuple[str, ...]) -> Stage:
    """The closing table of `all`: Step 1's dense round and chosen subnet beside Step 3, per task."""
    command = ("report.py", request.setting, "--exp_dir", request.exp_dir, "--compare", request.name, *seed)
    return Stage("compare", (Job("report", "compare", command),))


def run_all(request: Request, run: layout.Run, seed: tuple[str, ...]) -> list[Stage]:
    best = os.path.join(run.warmup, layout.BEST)
    return [warmup(request, run, seed), step1(request, run, request.processed, request.task_ids, "mtw", best, seed),
            masks(request, run, "mtw"), step3(request, run, request.processed, "mtw", seed), compare(request, seed)]


def run_baselines(request: Request, run: layout.Run, seed: tuple[str, ...]) -> list[Stage]:
    return [*run_all(request, run, seed),
            step1(request, run, request.processed, request.task_ids, "nomtw", None, seed),
            masks(request, run, "nomtw"), step3(request, run, request.processed, "nomtw", seed),
            *(baseline(request, run, kind, seed) for kind in BASELINE_ARCHS
              if request.encoder == "bilstm" or kind not in BILSTM_ONLY)]


def run_negative(request: Request, run: layout.Run, seed: tuple[str, ...]) -> list[Stage]:
    """NER + position prediction with the recipe minus MTW (Step 1's round 0 is the single-task baseline), on the
    paper's weaker model by default (request.negative_arch)."""
    if request.encoder != "bilstm" and request.negative_arch != BASELINE_ARCHS["hard"]:
        raise ValueError(f"negative: NEGATIVE_MODEL={request.negative_arch} is a BiLSTM model; with "
                         f"ENCODER={request.encoder} set NEGATIVE_MODEL={BASELINE_ARCHS['hard']}")
    negative, arch = run.negative, ("--arch", request.negative_arch)
    stages = [step1(request, negative, request.processed_pp, request.pp_task_ids, "mtw", None, seed, arch),
              masks(request, negative, "mtw"), step3(request, negative, request.processed_pp, "mtw", seed, None, arch),
              joint(request, negative, request.processed_pp, "baseline", negative.baseline("hard"), seed, arch,
                    f"negative transfer: hard sharing (--arch {request.negative_arch})")]
    return [Stage(f"negative transfer, {s.title}", s.jobs, s.parallel) for s in stages]


def rounds_argument(arguments: tuple[str, ...]) -> tuple[str, ...]:
    """`masks` arguments: auto (or nothing), or one round per task as `1 2 3` or `1,2,3`."""
    if not arguments or arguments == ("auto",):
        return ()
    rounds = tuple(r for a in arguments for r in a.split(",") if r)
    if not all(r.isdigit() for r in rounds):
        raise ValueError(f"masks {' '.join(arguments)}: expected auto or one round number per task, e.g. 10 10 10 "
                         "or 10,10,10")
    return rounds


def plan_one(request: Request, run: layout.Run, seed: tuple[str, ...]) -> list[Stage]:
    """The stages of one run (one seed)."""
    mode, arguments = request.mode, request.arguments
    if mode == "single":
        return [step1(request, run, request.processed, request.task_ids, "mtw", arguments[0] if arguments else None,
                      seed)]
    if mode == "warmup":
        return [warmup(request, run, seed)]
    if mode == "masks":
        return [masks(request, run, "mtw", rounds_argument(arguments))]
    if mode == "mtl":
        return [step3(request, run, request.processed, "mtw", seed, arguments[0] if arguments else None)]
    if mode == "all":
        return run_all(request, run, seed)
    if mode == "baselines":
        return run_baselines(request, run, seed)
    if mode == "single-task":
        return [step1(request, run, request.processed, request.task_ids, "nomtw", None, seed, ("--pruning_iter", "0"))]
    if mode == "hard":
        return [baseline(request, run, "hard", seed)]
    if mode == "negative":
        return run_negative(request, run, seed)
    raise ValueError(f"unknown mode {mode!r}: expected one of {', '.join(MODES)}")


def plan(request: Request) -> list[Stage]:
    """Every stage of the request, in order: one plan per seed of SEEDS (SEED=s into <run>/seed<s>), else one."""
    run = layout.run(request.exp_dir, request.name)
    if not request.seeds:
        return plan_one(request, run, ())
    stages = []
    for i, seed in enumerate(request.seeds, 1):
        for stage in plan_one(request, run.seed(seed), ("--seed", str(seed))):
            stages.append(Stage(f"seed {seed} ({i} of {len(request.seeds)}): {stage.title}", stage.jobs,
                                stage.parallel))
    return stages


def outputs(stages: list[Stage]) -> list[str]:
    """The folders the stages write, each once, in order."""
    return list(dict.fromkeys(job.out for stage in stages for job in stage.jobs if job.out))
