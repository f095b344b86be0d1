"""Step 1: find a subnet for one task by iterative magnitude pruning with rewinding (Algorithm 1)."""
import dataclasses
import os
import sys

from utils.runs.checkpoint import load_weights, save_state
from utils.data.batching import batches_per_epoch
from utils.data.dataset import Dataset
from utils.subnets.finders.make import make_finder
from utils.subnets.imp import RoundOutcome, run_imp
from utils.subnets.masks import full_mask, load_mask, prunable_names, to_device
from utils.training.metricslog import step1_history, step1_metrics, write_metrics
from utils.subnets.pruning import kept_schedule, pruning_rate
from utils.runs.resume import clear_training_state, load_training_state, rng_state, save_training_state, set_rng_state
from utils.runs.claim import FINISHED, NEW, STOPPED, RunFolder, RunRefused
from utils.runs.layout import COMPLETE, CONFIG, INIT, STEP1_TASKS
from utils.runtime import build_model, fail, load_data, set_seed, write_json
from utils.settings import Step1Options, Step1Settings, to_config
from utils.settings.flags import parse
from utils.data.snapshot import save_data_snapshot
from utils.training.joint import train_task
from utils.training.tensorboard import SILENT, Step1Board
from utils.training.task import NonFiniteLoss, evaluate, evaluate_lenient


def parse_args(argv: list[str] | None = None) -> tuple[Step1Settings, Step1Options]:
    return parse(Step1Settings, __doc__, argv)


def task_folder(settings: Step1Settings, options: Step1Options) -> RunFolder:
    """<save_dir>/cp/<exp_name or task_id>, finished once complete.json is written."""
    name = options.exp_name or str(settings.data.task_id)
    return RunFolder(os.path.join(options.save_dir, STEP1_TASKS, name), COMPLETE, f"--save_dir {options.save_dir}",
                     "Step 1 run", "or remove it / choose another --exp_name or --save_dir")


def main(argv: list[str] | None = None) -> None:
    settings, options = parse_args(argv)
    try:
        run(settings, options)
    except RunRefused as error:
        fail(str(error))


def starting_mask(settings: Step1Settings, model, names: list[str], task_name: str) -> tuple[dict, int]:
    """The dense mask and round 0, or --init_masks' mask and round."""
    pruning = settings.pruning
    if not pruning.init_masks:
        return full_mask(model, names), 0
    record = load_mask(pruning.init_masks, model)
    if set(record["mask"]) != set(names):
        fail(f"{pruning.init_masks}: its tensors are not the weights --need_cut {pruning.need_cut} selects")
    if record.get("task") not in (None, task_name):
        fail(f"{pruning.init_masks}: a mask of task {record['task']!r}, but --task_id {settings.data.task_id} is "
             f"{task_name!r}")
    return record["mask"], record["round"]


def run(settings: Step1Settings, options: Step1Options) -> None:
    """Step 1 of one task in its folder: a new run, or the stopped one continued (--resume)."""
    generator = set_seed(settings.model.seed)
    data = load_data(settings.data)
    task_id, model_settings = settings.data.task_id, settings.model
    if not 0 <= task_id < len(data.tasks):
        fail(f"--task_id {task_id}: the data has tasks 0..{len(data.tasks) - 1} ({', '.join(data.task_names())})")
    task = data.tasks[task_id]
    folder = task_folder(settings, options)
    out_dir = folder.path
    state = folder.open(settings, options.resume)
    if state == FINISHED:
        print(f"{out_dir}: Step 1 of {task.name} already finished; nothing to do")
        return

    model = build_model(model_settings, data)
    resumed = None
    try:
        names = prunable_names(model, settings.pruning.need_cut)
        if state == STOPPED:
            load_weights(model, os.path.join(out_dir, INIT))
            resumed = load_training_state(out_dir)
        elif model_settings.init_weights:
            load_weights(model, model_settings.init_weights)
        mask, first_round = starting_mask(settings, model, names, task.name)
    except (FileNotFoundError, ValueError) as error:
        fail(str(error))
    lock, board = folder.claim(state), None
    try:
        model.to(options.device)
        rewind_point = {k: v.detach().clone() for k, v in model.state_dict().items()}
        alpha = pruning_rate(settings.pruning.final_rate, settings.pruning.pruning_iter)
        progress = {"round": first_round, "mask": mask, "records": []}
        pending = None
        if resumed is not None:
            progress.update(mask=resumed["mask"], round=resumed["round"], records=resumed["records"],
                            finder=resumed.get("finder", {}))
            pending = resumed["train"]
            if pending is None:  # stopped between rounds; mid-round, train_task restores its own state
                set_rng_state(resumed["rng"], generator)
            print(f"{out_dir}: resuming {task.name} at round {progress['round']}"
                  + (f", after epoch {pending['epoch']}" if pending else ""), file=sys.stderr)
        elif state == NEW:
            save_state(rewind_point, os.path.join(out_dir, INIT))
            write_json(os.path.join(out_dir, CONFIG), {"task": task.name, **to_config(settings),
                                                       "invocation": dataclasses.asdict(options),
                                                       "prunable": names, "alpha": alpha})
            save_data_snapshot(data, out_dir, model)
        print(f"task {task.name} (id {task_id}): {len(task.splits['train'])} train / {len(task.splits['dev'])} dev / "
              f"{len(task.splits['test'])} test sentences; {sum(m.numel() for m in progress['mask'].values()):,} "
              f"prunable weights; α = {alpha:.4f}", file=sys.stderr)
        if not options.no_tensorboard:
            per_epoch = batches_per_epoch(task.splits["train"], settings.optimiser.batch_size,
                                          settings.optimiser.batching)
            board = Step1Board(out_dir, per_epoch, progress["records"], progress["round"],
                               pending["epoch"] if pending else 0)
        train_rounds(settings, options, model, data, rewind_point, progress, pending, generator, out_dir, board)
    except NonFiniteLoss as error:
        fail(str(error))
    except OSError as error:
        fail(f"writing to {out_dir}: {error.strerror or error}; the last finished epoch is kept, resume with --resume")
    finally:
        if board is not None:
            board.close()
        lock.release()


def train_rounds(settings: Step1Settings, options: Step1Options, model, data: Dataset, rewind_point: dict,
                 progress: dict, pending: dict | None, generator, out_dir: str, board: Step1Board | None) -> None:
    """The rounds of Algorithm 1 from progress["round"], each next mask from --finder's mask finder, saving the whole
    state (the finder's included) after every epoch and round; `board` (None: --no_tensorboard) gets the events."""
    task_id, optimiser, pruning = settings.data.task_id, settings.optimiser, settings.pruning
    task, pad = data.tasks[task_id], data.words.padding_idx
    schedule = kept_schedule(pruning.final_rate, pruning.pruning_iter)
    finder = make_finder(schedule, out_dir=out_dir, pruning=pruning, optimiser=optimiser, task_id=task_id, task=task,
                         seed=settings.model.seed, pad_index=pad, device=options.device,
                         log=lambda line: print(line, flush=True))
    finder.load_state(progress.get("finder", {}))

    def save_progress(train: dict | None) -> None:
        progress["finder"] = finder.state()
        save_training_state(out_dir, {**progress, "mask": {n: m.cpu() for n, m in progress["mask"].items()},
                                      "train": train, "rng": rng_state(generator)})
        epochs = None if train is None else {"history": step1_history(train["history"], task.name)}
        write_metrics(out_dir, step1_metrics(task.name, progress["records"], progress["round"], progress["mask"],
                                             epochs))

    def end_of_round(next_round: int, next_mask, finished: list[dict]) -> None:
        progress.update(round=next_round, mask=next_mask if next_mask is not None else progress["mask"],
                        records=finished)
        save_progress(None)

    finder.prepare(model, full_mask(model, list(progress["mask"])), lambda: save_progress(None))

    def train_round(round_: int, round_mask) -> RoundOutcome:
        nonlocal pending
        result = train_task(model, round_mask, task_id, task, epochs=optimiser.epochs,
                            batch_size=optimiser.batch_size, optim=optimiser.optim, device=options.device,
                            pad_index=pad, generator=generator, batching=optimiser.batching,
                            clip_norm=optimiser.clip_norm or None, lr_decay=optimiser.lr_decay,
                            scheduler=optimiser.scheduler, warmup_steps=optimiser.warmup_steps,
                            warmup_ratio=optimiser.warmup_ratio, amp=optimiser.amp,
                            desc=f"[{task.name}] round {round_}", log=lambda line: print(line, flush=True),
                            state=pending, checkpoint=save_progress, patience=optimiser.patience,
                            converged=finder.converged(round_, round_mask, model),
                            why=f"mask distance below ε = {pruning.earlybird_epsilon}",
                            monitor=board.monitor(progress["records"]) if board else SILENT)
        pending = None
        model.load_state_dict(result.best_state)
        scored = (round_mask, task_id, task)
        test = evaluate(model, *scored, "test", optimiser.batch_size, options.device, pad)
        if board is not None:
            board.round(round_, round_mask, result.best_dev, test)
        lenient = {split: evaluate_lenient(model, *scored, split, optimiser.batch_size, options.device, pad)
                   for split in ("dev", "test")}
        return RoundOutcome(result.best_state, result.best_dev, test, result.best_epoch, result.epochs,
                            result.seconds, lenient["dev"], lenient["test"], result.history, result.steps)

    records = run_imp(model, rewind_point, to_device(progress["mask"], options.device), schedule, progress["round"],
                      train_round, out_dir, task.name, log=lambda line: print(line, flush=True),
                      records=progress["records"], checkpoint=end_of_round, finder=finder)
    write_json(os.path.join(out_dir, COMPLETE), {"task": task.name, "rounds": len(records)})
    clear_training_state(out_dir)


if __name__ == "__main__":
    main()
