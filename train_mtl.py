"""Step 3: train the tasks' subnets jointly (sparse sharing); without --masks_path, hard sharing (also the
multi-task warmup whose best.th is Step 1's --init_weights)."""
import argparse
import itertools
import os
import shutil
import sys
import time

from models import get_model
from utils import distributed
from utils.checkpoint import load_weights, save_state
from utils.dataset import Dataset
from utils.masks import load_mask, overlap_ratio, to_device
from utils.metricslog import joint_metrics, write_metrics
from utils.mtl import SCHEDULERS, JointTask, train_joint
from utils.params import encoder_params
from utils.resume import (LOCK_FILE, RunFolderBusy, RunLock, check_same_settings, clear_training_state,
                          load_training_state, save_training_state)
from utils.snapshot import save_data_snapshot
from utils.runtime import (add_model_args, check_device_and_dropout, check_optim, check_positive, fail, load_data,
                           read_json, set_seed, write_json)
from utils.sampling import SAMPLINGS, TRAINER_SAMPLING
from utils.training import NonFiniteLoss, evaluate, evaluate_lenient


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    add_model_args(parser)
    parser.set_defaults(save_dir="exp/conll03/mtl")
    parser.add_argument("--masks_path", default=None, help="folder from prepare-masks.sh (<task_id>.th masks, init_weights.th); none = hard sharing")
    parser.add_argument("--tasks", default=None, help="comma-separated task ids to train jointly (default: all tasks of the data)")
    parser.add_argument("--sampling", default=None, choices=SAMPLINGS, help="task order: proportional to training-set size (the paper's; default), round-robin or resample (the original's)")
    parser.add_argument("--trainer", default=None, choices=sorted(TRAINER_SAMPLING), help="the original's names: seq-label = --sampling round-robin, re-seq-label = resample")
    parser.add_argument("--scheduler", default="fix", choices=SCHEDULERS, help="LR schedule: fix (original), decay 1/(1+0.05·epoch), inverse_sqrt with --warmup_steps")
    parser.add_argument("--warmup_steps", type=int, default=1000, help="warm-up steps of --scheduler inverse_sqrt")
    parser.add_argument("--clip_value", type=float, default=5.0, help="gradient value clipping (the original's MTL setting); 0: off")
    parser.add_argument("--clip_norm", type=float, default=0.0, help="gradient-norm clipping as in Step 1, e.g. 5 with --crf (CRF losses are summed over tokens; value clipping alone lets joint training diverge); 0: off, the original's")
    parser.add_argument("--patience", type=int, default=0, help="early stopping: stop once the dev average has not improved for N epochs (default: 0, off: train all --epochs, the paper's)")
    parser.add_argument("--evaluate", action="store_true", help="evaluate the saved best.th of --save_dir/--exp_name on dev and test without training; model, data and mask settings come from the run's config.json")
    parser.add_argument("--save_ep", type=int, default=0, help="also keep the weights of every N-th epoch (0: only the best)")
    parser.add_argument("--print_every", type=int, default=0, help="print the mean loss every N steps (0: never)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing run folder: start the run afresh")
    parser.add_argument("--resume", action="store_true", help="continue the stopped run of --save_dir/--exp_name from its last finished epoch (a finished run: nothing to do)")
    parser.add_argument("--system", default=None, help="label recorded in results.json for report.py (default: sparse sharing with masks, else by --arch)")
    args = parser.parse_args(argv)
    check_optim(parser, args.optim)
    check_device_and_dropout(parser, args)
    check_positive(parser, args, "epochs", "batch_size", "hidden_size", "n_layer", "train_limit", "eval_limit", "warmup_steps")
    if args.save_ep < 0 or args.print_every < 0:
        parser.error(f"--save_ep and --print_every must be ≥ 0, got {args.save_ep} and {args.print_every}")
    if args.patience < 0:
        parser.error(f"--patience must be ≥ 0 (0: off), got {args.patience}")
    if args.sampling and args.trainer and args.sampling != TRAINER_SAMPLING[args.trainer]:
        parser.error(f"--trainer {args.trainer} means --sampling {TRAINER_SAMPLING[args.trainer]}, not {args.sampling}")
    args.sampling = args.sampling or TRAINER_SAMPLING.get(args.trainer, "proportional")
    if args.evaluate:
        if not args.exp_name:
            parser.error("--evaluate needs --exp_name (and --save_dir) of the run to evaluate")
        restore_run_config(args)
    args.exp_name = args.exp_name or time.strftime("run-%Y%m%d-%H%M%S")
    return args


# What --evaluate takes from the run's config.json, so the saved weights meet the model and data they were trained on.
RUN_SETTINGS = ("data_path", "arch", "batching", "hidden_size", "n_layer", "dropout", "crf", "masks_path", "tasks",
                "train_limit", "eval_limit", "system")


# Flags a resumed run may change: they do not alter what is computed.
RESUME_FREE = ("resume", "device", "evaluate", "overwrite", "print_every")


def restore_run_config(args: argparse.Namespace) -> None:
    """Fill the model, data and mask settings of an --evaluate call from the run's config.json."""
    path = os.path.join(args.save_dir, args.exp_name, "config.json")
    try:
        saved = read_json(path)
    except (FileNotFoundError, ValueError) as error:
        fail(f"--evaluate: {error}")
    for key in RUN_SETTINGS:
        if key in saved:
            setattr(args, key, saved[key])


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
        path = os.path.join(masks_dir, f"{i}.th")
        record = load_mask(path, model)
        if record.get("task") != data.tasks[i].name:
            fail(f"{path}: a mask of task {record.get('task')!r}, but task {i} of the data is {data.tasks[i].name!r}")
        records.append(record)
    names = set(records[0]["mask"])
    for i, record in zip(ids, records):
        if set(record["mask"]) != names:
            fail(f"{masks_dir}/{i}.th covers other weights than {masks_dir}/{ids[0]}.th")
    return records


def default_system(args: argparse.Namespace) -> str:
    """The row of the paper's table this run stands for."""
    if args.masks_path:
        return "sparse sharing"
    return {"cnn-lstm": "hard sharing", "hier-lstm": "hierarchical sharing", "soft": "soft sharing"}[args.arch]


def summary_table(rows: dict[str, dict]) -> str:
    lines = [f"{'task':<8}{'kept %':>8}{'dev':>8}{'test':>8}"]
    for name, row in rows.items():
        kept = f"{row['kept']:.2f}" if row.get("kept") is not None else "100.00"
        test = f"{row['test']:.2f}" if row.get("test") is not None else "-"
        lines.append(f"{name:<8}{kept:>8}{row['dev']:>8.2f}{test:>8}")
    return "\n".join(lines)


def score_run(args: argparse.Namespace, model, data: Dataset, tasks: list[JointTask], records: list) -> dict:
    """Dev and test scores of the selected weights per task, encoder parameters and mask overlap ratios."""
    pad = data.words.padding_idx
    rows = {}
    for task, record in zip(tasks, records):
        rows[task.data.name] = {
            "task_id": task.task_id,
            "dev": evaluate(model, task.mask, task.task_id, task.data, "dev", args.batch_size, args.device, pad),
            "test": evaluate(model, task.mask, task.task_id, task.data, "test", args.batch_size, args.device, pad),
            "kept": record["kept"] if record else None, "round": record["round"] if record else None}
        scored = (model, task.mask, task.task_id, task.data)
        if task.data.metric != "acc":
            rows[task.data.name].update(
                {f"{split}_lenient": evaluate_lenient(*scored, split, args.batch_size, args.device, pad)
                 for split in ("dev", "test")})
    masks = [r["mask"] for r in records] if args.masks_path else None
    overlap = {}
    if masks:
        overlap["all"] = overlap_ratio(masks)
        for (a, ma), (b, mb) in itertools.combinations(zip(rows, masks), 2):
            overlap[f"{a}&{b}"] = overlap_ratio([ma, mb])
    return {"setting": data.setting, "system": args.system or default_system(args), "tasks": rows,
            "dev_average": sum(r["dev"] for r in rows.values()) / len(rows),
            "test_average": sum(r["test"] for r in rows.values()) / len(rows),
            "params": encoder_params(model, masks), "overlap": overlap}


def run_state(run_dir: str) -> str:
    """"complete" (results.json written), "partial" (started, not finished) or "new"."""
    if os.path.isfile(os.path.join(run_dir, "results.json")):
        return "complete"
    return "partial" if os.path.isfile(os.path.join(run_dir, "config.json")) else "new"


def keep_copies(args: argparse.Namespace, run_dir: str, ids: list[int], init: str | None) -> None:
    """Copy the masks and the rewind point into the run folder: Step 2 may later rewrite --masks_path, and the
    run must still resume and be re-scored with what it trained with."""
    if args.masks_path:
        os.makedirs(os.path.join(run_dir, "masks"), exist_ok=True)
        for i in ids:
            shutil.copyfile(os.path.join(args.masks_path, f"{i}.th"), os.path.join(run_dir, "masks", f"{i}.th"))
    if init:
        shutil.copyfile(init, os.path.join(run_dir, "init_weights.th"))


def clear_run_dir(run_dir: str) -> None:
    """--overwrite: empty the run folder (its lock file aside) before a fresh start."""
    for name in os.listdir(run_dir):
        if name != LOCK_FILE:
            path = os.path.join(run_dir, name)
            shutil.rmtree(path) if os.path.isdir(path) else os.remove(path)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    try:
        context = distributed.setup(args.device)
    except (ValueError, RuntimeError) as error:
        fail(f"torchrun: {error}")
    args.device = context.device
    generator = set_seed(args.seed)
    data = load_data(args)
    ids = task_ids(args.tasks, data)
    run_dir = os.path.join(args.save_dir, args.exp_name)
    best_path = os.path.join(run_dir, "best.th")
    state = run_state(run_dir)
    if os.path.exists(run_dir) and not os.path.isdir(run_dir):
        fail(f"--save_dir/--exp_name: {run_dir} is not a folder")
    if args.evaluate and state != "complete":
        fail(f"--evaluate: {run_dir} is not a finished run (no results.json)")
    init = args.init_weights or (os.path.join(args.masks_path, "init_weights.th") if args.masks_path else None)
    if not args.evaluate and not args.overwrite:
        if state != "new" and not args.resume:
            fail(f"{run_dir} exists and holds a {'finished' if state == 'complete' else 'stopped'} run: pass --resume "
                 f"to continue it, --overwrite to replace it, or choose another --exp_name")
        if state != "new":
            try:
                config_path = os.path.join(run_dir, "config.json")
                check_same_settings(config_path, read_json(config_path), {**vars(args), "init_weights": init},
                                    RESUME_FREE)
            except (FileNotFoundError, ValueError) as error:
                fail(str(error))
        if state == "complete":
            print(f"{run_dir}: already finished (results.json); nothing to do")
            return
    resuming = state == "partial" and args.resume and not args.overwrite
    own_copies = os.path.join(run_dir, "masks")
    masks_dir = own_copies if (args.evaluate or resuming) and os.path.isdir(own_copies) else args.masks_path

    model = get_model(args.arch, data, args.hidden_size, args.n_layer, args.dropout, args.crf)
    try:
        records = load_masks(masks_dir, model, data, ids)
        if resuming:
            init = os.path.join(run_dir, "init_weights.th") if init else None
        if args.evaluate:
            load_weights(model, best_path)
        elif init:
            load_weights(model, init)
    except (FileNotFoundError, ValueError) as error:
        fail(str(error))
    model.to(args.device)
    masks = [to_device(r["mask"], args.device) if r else None for r in records]
    tasks = [JointTask(i, data.tasks[i], m) for i, m in zip(ids, masks)]
    pad = data.words.padding_idx

    if not args.evaluate:
        context.barrier()  # every rank has read the run folder before rank 0 claims and writes it
        saved = load_training_state(run_dir) if resuming else None
        if context.is_main:
            try:
                lock = RunLock(run_dir).acquire()
            except (RunFolderBusy, OSError) as error:
                fail(str(error))
            if run_state(run_dir) != state:
                fail(f"{run_dir} was written by another run meanwhile; start again with --resume")
            if args.overwrite:
                clear_run_dir(run_dir)
            if resuming:
                print(f"{run_dir}: resuming" + (f" after epoch {saved['epoch']}" if saved else " from the start"),
                      file=sys.stderr)
            else:
                keep_copies(args, run_dir, ids, init)
                write_json(os.path.join(run_dir, "config.json"),
                           {**vars(args), "init_weights": init, "world_size": context.world_size})
                save_data_snapshot(data, run_dir)

        def save_best(epoch: int) -> None:
            save_state(model.state_dict(), best_path)

        def checkpoint(training: dict) -> None:
            save_training_state(run_dir, training)
            write_metrics(run_dir, joint_metrics(args.system or default_system(args), training["history"]))

        def save_epoch(epoch: int) -> None:
            if args.save_ep and epoch % args.save_ep == 0:
                save_state(model.state_dict(), os.path.join(run_dir, f"epoch_{epoch}.th"))

        try:
            result = train_joint(model, tasks, epochs=args.epochs, batch_size=args.batch_size, optim=args.optim,
                                 scheduler=args.scheduler, sampling=args.sampling, device=args.device, pad_index=pad,
                                 generator=generator, on_best=save_best, on_epoch=save_epoch,
                                 clip_value=args.clip_value or None, clip_norm=args.clip_norm or None,
                                 print_every=args.print_every,
                                 warmup_steps=args.warmup_steps, batching=args.batching, state=saved,
                                 checkpoint=checkpoint, context=context, patience=args.patience)
        except (NonFiniteLoss, ValueError) as error:
            fail(str(error))
        except OSError as error:
            fail(f"writing to {run_dir}: {error.strerror or error}; the last finished epoch is kept, resume with --resume")
        if not context.is_main:
            return
        load_weights(model, best_path)
        model.to(args.device)
    elif not context.is_main:
        return

    results = score_run(args, model, data, tasks, records)
    if not args.evaluate:
        results.update({"selected_epoch": result.best_epoch, "epochs": args.epochs,
                        "epochs_run": len(result.history), "stopped_early": result.stopped_early,
                        "sampling": args.sampling,
                        "world_size": context.world_size,
                        "sampling_counts": result.counts, "history": [vars(h) for h in result.history]})
    write_json(os.path.join(run_dir, "evaluation.json" if args.evaluate else "results.json"), results)
    if not args.evaluate:
        clear_training_state(run_dir)
        lock.release()
    print(summary_table(results["tasks"]))
    print(f"encoder parameters: {results['params']:,}" + ("; mask overlap ratio: " + ", ".join(
        f"{k} {v:.3f}" for k, v in results["overlap"].items()) if results["overlap"] else ""))
    print(f"written to {run_dir}", file=sys.stderr)


if __name__ == "__main__":
    main()
