"""Step 3: train the tasks' subnets jointly (sparse sharing); without --masks_path, hard sharing (also the
multi-task warmup whose best.th is Step 1's --init_weights)."""
import dataclasses
import itertools
import os
import shutil
import sys

from utils.training import distributed
from utils.runs.checkpoint import link_or_copy, load_weights, save_state
from utils.data.dataset import Dataset
from utils.subnets.masks import load_mask, overlap_ratio, prunable_names, to_device
from utils.training.metricslog import joint_metrics, write_metrics
from utils.training.joint import JointTask, train_joint
from utils.training.tensorboard import SILENT, JointBoard, Monitor
from utils.subnets.params import encoder_params
from utils.runs.resume import clear_training_state, load_training_state, save_training_state
from utils.runs.claim import FINISHED, STOPPED, RunFolder, RunRefused
from utils.runs.layout import BEST, CONFIG, EVALUATION, INIT, OWN_MASKS, RESULTS, epoch_weights, task_mask
from utils.runtime import build_model, fail, load_data, set_seed, write_json
from utils.settings import JointOptions, JointSettings, to_config
from utils.settings.flags import parse
from utils.data.snapshot import save_data_snapshot
from utils.training.task import NonFiniteLoss, evaluate, evaluate_lenient

SYSTEMS = {"cnn-lstm": "hard sharing", "hier-lstm": "hierarchical sharing", "soft": "soft sharing",
           "random-lstm": "hard sharing"}


def parse_args(argv: list[str] | None = None) -> tuple[JointSettings, JointOptions]:
    return parse(JointSettings, __doc__, argv)


def run_folder(options: JointOptions) -> RunFolder:
    """<save_dir>/<exp_name>, finished once results.json is written."""
    return RunFolder(os.path.join(options.save_dir, options.exp_name), RESULTS, "--save_dir/--exp_name", "run",
                     "--overwrite to replace it, or choose another --exp_name")


def task_ids(spec: str | None, data: Dataset) -> list[int]:
    """Parse --tasks against the data's task list."""
    if spec is None:
        return list(range(len(data.tasks)))
    try:
        ids = [int(x) for x in spec.split(",")]
    except ValueError:
        fail(f"--tasks {spec!r}: expected comma-separated integers")
    bad = [i for i in ids if not 0 <= i < len(data.tasks)] or (ids if len(set(ids)) != len(ids) else [])
    if bad:
        fail(f"--tasks {spec!r}: the data has tasks 0..{len(data.tasks) - 1} ({', '.join(data.task_names())}), each once")
    return ids


def load_masks(masks_dir: str | None, model, data: Dataset, ids: list[int]) -> list[dict | None]:
    """One mask record per task from a masks folder (None per task for hard sharing)."""
    if not masks_dir:
        return [None for _ in ids]
    records = []
    for i in ids:
        path = os.path.join(masks_dir, task_mask(i))
        record = load_mask(path, model)
        if record.get("task") != data.tasks[i].name:
            fail(f"{path}: a mask of task {record.get('task')!r}, but task {i} of the data is {data.tasks[i].name!r}")
        records.append(record)
    names = set(records[0]["mask"])
    for i, record in zip(ids, records):
        if set(record["mask"]) != names:
            fail(f"{os.path.join(masks_dir, task_mask(i))} covers other weights than "
                 f"{os.path.join(masks_dir, task_mask(ids[0]))}")
    return records


def system(settings: JointSettings) -> str:
    """The row of the paper's table this run stands for: --system, else sparse sharing with masks, else by --arch."""
    return settings.joint.system or ("sparse sharing" if settings.joint.masks_path else SYSTEMS[settings.model.arch])


def summary_table(rows: dict[str, dict]) -> str:
    lines = [f"{'task':<8}{'kept %':>8}{'dev':>8}{'test':>8}"]
    for name, row in rows.items():
        kept = f"{row['kept']:.2f}" if row.get("kept") is not None else "100.00"
        test = f"{row['test']:.2f}" if row.get("test") is not None else "-"
        lines.append(f"{name:<8}{kept:>8}{row['dev']:>8.2f}{test:>8}")
    return "\n".join(lines)


def score_run(settings: JointSettings, device: str, model, data: Dataset, tasks: list[JointTask],
              records: list) -> dict:
    """Dev and test scores of the selected weights per task, encoder parameters and mask overlap ratios."""
    pad, batch_size = data.words.padding_idx, settings.optimiser.batch_size
    rows = {}
    for task, record in zip(tasks, records):
        scored = (model, task.mask, task.task_id, task.data)
        rows[task.data.name] = {
            "task_id": task.task_id,
            "dev": evaluate(*scored, "dev", batch_size, device, pad),
            "test": evaluate(*scored, "test", batch_size, device, pad),
            "kept": record["kept"] if record else None, "round": record["round"] if record else None}
        if task.data.metric != "acc":
            rows[task.data.name].update(
                {f"{split}_lenient": evaluate_lenient(*scored, split, batch_size, device, pad)
                 for split in ("dev", "test")})
    masks = [r["mask"] for r in records] if settings.joint.masks_path else None
    overlap = {}
    if masks:
        overlap["all"] = overlap_ratio(masks)
        for (a, ma), (b, mb) in itertools.combinations(zip(rows, masks), 2):
            overlap[f"{a}&{b}"] = overlap_ratio([ma, mb])
    return {"setting": data.setting, "system": system(settings), "tasks": rows,
            "dev_average": sum(r["dev"] for r in rows.values()) / len(rows),
            "test_average": sum(r["test"] for r in rows.values()) / len(rows),
            "params": encoder_params(model, masks, prunable_names(model)), "overlap": overlap}


def keep_copies(settings: JointSettings, run_dir: str, ids: list[int]) -> None:
    """Copy the masks and the rewind point into the run folder: Step 2 may later rewrite --masks_path, and the
    run must still resume and be re-scored with what it trained with."""
    if settings.joint.masks_path:
        os.makedirs(os.path.join(run_dir, OWN_MASKS), exist_ok=True)
        for i in ids:
            shutil.copyfile(os.path.join(settings.joint.masks_path, task_mask(i)),
                            os.path.join(run_dir, OWN_MASKS, task_mask(i)))
    if settings.model.init_weights:
        link_or_copy(settings.model.init_weights, os.path.join(run_dir, INIT))


def build(settings: JointSettings, device: str, data: Dataset, ids: list[int], masks_dir: str | None,
          weights: str | None) -> tuple:
    """The model (from `weights`, if given), its tasks with their masks on `device`, and the mask records."""
    spec = settings.model
    model = build_model(spec, data)
    try:
        records = load_masks(masks_dir, model, data, ids)
        if weights:
            load_weights(model, weights)
    except (FileNotFoundError, ValueError) as error:
        fail(str(error))
    model.to(device)
    masks = [to_device(r["mask"], device) if r else None for r in records]
    return model, [JointTask(i, data.tasks[i], m) for i, m in zip(ids, masks)], records


def report(results: dict, run_dir: str, name: str) -> None:
    """Write results.json or evaluation.json and print the scores."""
    write_json(os.path.join(run_dir, name), results)
    print(summary_table(results["tasks"]))
    print(f"encoder parameters: {results['params']:,}" + ("; mask overlap ratio: " + ", ".join(
        f"{k} {v:.3f}" for k, v in results["overlap"].items()) if results["overlap"] else ""))
    print(f"written to {run_dir}", file=sys.stderr)


def evaluate_run(options: JointOptions, context: distributed.Context) -> None:
    """--evaluate: score a finished run's best.th again, with the settings and masks it trained with."""
    folder = run_folder(options)
    folder.check_folder()
    try:
        settings = folder.saved_settings()
    except RunRefused as error:
        raise RunRefused(f"--evaluate: {error}") from None
    set_seed(settings.model.seed)
    data = load_data(settings.data)
    ids = task_ids(settings.data.tasks, data)
    if folder.state() != FINISHED:
        raise RunRefused(f"--evaluate: {folder.path} is not a finished run (no {RESULTS})")
    own_copies = os.path.join(folder.path, OWN_MASKS)
    masks_dir = own_copies if os.path.isdir(own_copies) else settings.joint.masks_path
    model, tasks, records = build(settings, options.device, data, ids, masks_dir, os.path.join(folder.path, BEST))
    if context.is_main:
        report(score_run(settings, options.device, model, data, tasks, records), folder.path, EVALUATION)


def train_run(settings: JointSettings, options: JointOptions, context: distributed.Context) -> None:
    """Train a new run, continue a stopped one (--resume) or replace one (--overwrite), then score it."""
    generator = set_seed(settings.model.seed)
    data = load_data(settings.data)
    ids = task_ids(settings.data.tasks, data)
    folder = run_folder(options)
    run_dir, best_path = folder.path, os.path.join(folder.path, BEST)
    masks_path = settings.joint.masks_path
    init = settings.model.init_weights or (os.path.join(masks_path, INIT) if masks_path else None)
    settings = dataclasses.replace(settings, model=dataclasses.replace(settings.model, init_weights=init))
    state = folder.open(settings, options.resume, options.overwrite)
    if state == FINISHED and not options.overwrite:
        print(f"{run_dir}: already finished ({RESULTS}); nothing to do")
        return
    resuming = state == STOPPED and options.resume and not options.overwrite
    own_copies = os.path.join(run_dir, OWN_MASKS)
    masks_dir = own_copies if resuming and os.path.isdir(own_copies) else masks_path
    weights = (os.path.join(run_dir, INIT) if resuming else init) if init else None
    model, tasks, records = build(settings, options.device, data, ids, masks_dir, weights)

    context.barrier()  # every rank has read the run folder before rank 0 claims and writes it
    saved = load_training_state(run_dir) if resuming else None
    lock = board = None
    if context.is_main:
        lock = folder.claim(state)
        if options.overwrite:
            folder.clear()
        if resuming:
            print(f"{run_dir}: resuming" + (f" after epoch {saved['epoch']}" if saved else " from the start"),
                  file=sys.stderr)
        else:
            keep_copies(settings, run_dir, ids)
            write_json(os.path.join(run_dir, CONFIG), {**to_config(settings), "invocation": dataclasses.asdict(options),
                                                       "world_size": context.world_size})
            save_data_snapshot(data, run_dir, model)
        if not options.no_tensorboard:
            board = JointBoard(run_dir, saved["global_step"] if saved else None)
    try:
        kept = [r["kept"] if r else None for r in records]
        monitor = SILENT if board is None else board.monitor(tasks, kept)
        result = train(settings, options, context, model, tasks, data, generator, saved, run_dir, monitor)
        if context.is_main:
            load_weights(model, best_path)
            model.to(options.device)
            results = score_run(settings, options.device, model, data, tasks, records)
            results.update({"selected_epoch": result.best_epoch, "epochs": settings.optimiser.epochs,
                            "epochs_run": len(result.history), "stopped_early": result.stopped_early,
                            "sampling": settings.joint.sampling, "world_size": context.world_size,
                            "sampling_counts": result.counts, "history": [vars(h) for h in result.history]})
            report(results, run_dir, RESULTS)
            clear_training_state(run_dir)
    finally:
        if board is not None:
            board.close()
        if lock is not None:
            lock.release()


def train(settings: JointSettings, options: JointOptions, context: distributed.Context, model, tasks, data,
          generator, saved: dict | None, run_dir: str, monitor: Monitor):
    """train_joint with the run's settings, saving best.th, every --save_ep-th epoch and the resume state;
    `monitor`: rank 0's TensorBoard hooks (SILENT: no event files)."""
    optimiser = settings.optimiser

    def save_best(epoch: int) -> None:
        save_state(model.state_dict(), os.path.join(run_dir, BEST))

    def checkpoint(training: dict) -> None:
        save_training_state(run_dir, training)
        write_metrics(run_dir, joint_metrics(system(settings), training["history"]))

    def save_epoch(epoch: int) -> None:
        if options.save_ep and epoch % options.save_ep == 0:
            save_state(model.state_dict(), os.path.join(run_dir, epoch_weights(epoch)))

    try:
        return train_joint(model, tasks, epochs=optimiser.epochs, batch_size=optimiser.batch_size,
                           optim=optimiser.optim, scheduler=optimiser.scheduler, sampling=settings.joint.sampling,
                           device=options.device, pad_index=data.words.padding_idx, generator=generator,
                           on_best=save_best, on_epoch=save_epoch, clip_value=optimiser.clip_value or None,
                           clip_norm=optimiser.clip_norm or None, print_every=options.print_every,
                           warmup_steps=optimiser.warmup_steps, lr_decay=optimiser.lr_decay,
                           warmup_ratio=optimiser.warmup_ratio, amp=optimiser.amp,
                           batching=optimiser.batching, state=saved, checkpoint=checkpoint, context=context,
                           patience=optimiser.patience, optimizer_scope=optimiser.optimizer_scope,
                           temperature=settings.joint.temperature, monitor=monitor)
    except (NonFiniteLoss, ValueError) as error:
        fail(str(error))
    except OSError as error:
        fail(f"writing to {run_dir}: {error.strerror or error}; the last finished epoch is kept, resume with --resume")


def main(argv: list[str] | None = None) -> None:
    settings, options = parse_args(argv)
    try:
        context = distributed.setup(options.device)
    except (ValueError, RuntimeError) as error:
        fail(f"torchrun: {error}")
    options = dataclasses.replace(options, device=context.device)
    try:
        if options.evaluate:
            evaluate_run(options, context)
        else:
            train_run(settings, options, context)
    except RunRefused as error:
        fail(str(error))


if __name__ == "__main__":
    main()
