"""Step 1: find a subnet for one task by iterative magnitude pruning with rewinding (Algorithm 1)."""
import argparse
import os
import sys


from models import get_model
from utils.checkpoint import load_weights, save_state
from utils.imp import RoundOutcome, run_imp
from utils.masks import DEFAULT_NEED_CUT, full_mask, load_mask, prunable_names, to_device
from utils.metricslog import step1_metrics, write_metrics
from utils.pruning import kept_schedule, pruning_rate
from utils.resume import (RunFolderBusy, RunLock, check_same_settings, clear_training_state, load_training_state,
                          rng_state, save_training_state, set_rng_state)
from utils.snapshot import save_data_snapshot
from utils.runtime import (add_model_args, check_device_and_dropout, check_optim, check_positive, fail, load_data,
                           read_json, set_seed, write_json)
from utils.training import NonFiniteLoss, evaluate, evaluate_lenient, train_task


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    add_model_args(parser)
    parser.add_argument("--task_id", type=int, default=0, help="the task to prune for (index in the processed data: conll03 0=pos 1=chunk 2=ner)")
    parser.add_argument("--pruning_iter", type=int, default=20, help="pruning rounds after the dense one; 0 trains one dense round (the single-task baseline)")
    parser.add_argument("--final_rate", type=float, default=0.1, help="kept fraction after the last round; each round removes α = 1 − final_rate^(1/pruning_iter) of the rest")
    parser.add_argument("--init_masks", default=None, help="a mask file (<round>_<kept>.th) to resume pruning from")
    parser.add_argument("--need_cut", default=DEFAULT_NEED_CUT, help="comma-separated name patterns of the prunable weights (biases never)")
    parser.add_argument("--patience", type=int, default=0, help="early stopping per round: end a round once dev has not improved for N epochs; its best-dev weights are still tested and pruned (default: 0, off: every round trains --epochs, the paper's)")
    parser.add_argument("--resume", action="store_true", help="continue the stopped run in the output folder from its last finished epoch (a finished run: nothing to do)")
    args = parser.parse_args(argv)
    check_optim(parser, args.optim)
    check_device_and_dropout(parser, args)
    check_positive(parser, args, "epochs", "batch_size", "hidden_size", "n_layer", "train_limit", "eval_limit")
    if args.patience < 0:
        parser.error(f"--patience must be ≥ 0 (0: off), got {args.patience}")
    if args.pruning_iter < 0:
        parser.error(f"--pruning_iter must be ≥ 0, got {args.pruning_iter}")
    if not 0.0 < args.final_rate <= 1.0:
        parser.error(f"--final_rate must be in (0, 1], got {args.final_rate}")
    return args


COMPLETE = "complete.json"
# Flags a resumed Step 1 may change: they do not alter what is computed.
RESUME_FREE = ("resume", "device", "save_dir")


def run_state(out_dir: str) -> str:
    """"complete", "partial" (started, not finished) or "new"."""
    if os.path.isfile(os.path.join(out_dir, COMPLETE)):
        return "complete"
    return "partial" if os.path.isfile(os.path.join(out_dir, "config.json")) else "new"


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    generator = set_seed(args.seed)
    data = load_data(args)
    if not 0 <= args.task_id < len(data.tasks):
        fail(f"--task_id {args.task_id}: the data has tasks 0..{len(data.tasks) - 1} ({', '.join(data.task_names())})")
    task = data.tasks[args.task_id]
    out_dir = os.path.join(args.save_dir, "cp", args.exp_name or str(args.task_id))
    state = run_state(out_dir)
    if state != "new" and not args.resume:
        fail(f"{out_dir} exists and holds a {'finished' if state == 'complete' else 'stopped'} Step 1 run: pass "
             f"--resume to continue it, or remove it / choose another --exp_name or --save_dir")
    if os.path.exists(out_dir) and not os.path.isdir(out_dir):
        fail(f"--save_dir {args.save_dir}: {out_dir} is not a folder")
    config = {**vars(args), "task": task.name}
    if state != "new":
        try:
            config_path = os.path.join(out_dir, "config.json")
            check_same_settings(config_path, read_json(config_path), config, RESUME_FREE)
        except (FileNotFoundError, ValueError) as error:
            fail(str(error))
    if state == "complete":
        print(f"{out_dir}: Step 1 of {task.name} already finished; nothing to do")
        return

    model = get_model(args.arch, data, args.hidden_size, args.n_layer, args.dropout, args.crf)
    resumed = None
    try:
        names = prunable_names(model, args.need_cut)
        if state == "partial":
            load_weights(model, os.path.join(out_dir, "init_weights.th"))
            resumed = load_training_state(out_dir)
        elif args.init_weights:
            load_weights(model, args.init_weights)
        mask, first_round = full_mask(model, names), 0
        if args.init_masks:
            record = load_mask(args.init_masks, model)
            if set(record["mask"]) != set(names):
                fail(f"{args.init_masks}: its tensors are not the weights --need_cut {args.need_cut} selects")
            if record.get("task") not in (None, task.name):
                fail(f"{args.init_masks}: a mask of task {record['task']!r}, but --task_id {args.task_id} is {task.name!r}")
            mask, first_round = record["mask"], record["round"]
    except (FileNotFoundError, ValueError) as error:
        fail(str(error))
    try:
        lock = RunLock(out_dir).acquire()
    except (RunFolderBusy, OSError) as error:
        fail(str(error))
    if run_state(out_dir) != state:
        fail(f"{out_dir} was written by another run meanwhile; start again with --resume")
    model.to(args.device)
    rewind_point = {k: v.detach().clone() for k, v in model.state_dict().items()}
    records, pending = [], None
    if resumed is not None:
        mask, first_round, records, pending = resumed["mask"], resumed["round"], resumed["records"], resumed["train"]
        if pending is None:  # stopped between rounds; mid-round, train_task restores its own state
            set_rng_state(resumed["rng"], generator)
        print(f"{out_dir}: resuming {task.name} at round {first_round}"
              + (f", after epoch {pending['epoch']}" if pending else ""), file=sys.stderr)
    elif state == "new":
        save_state(rewind_point, os.path.join(out_dir, "init_weights.th"))
        write_json(os.path.join(out_dir, "config.json"), {**config, "prunable": names,
                                                          "alpha": pruning_rate(args.final_rate, args.pruning_iter)})
        save_data_snapshot(data, out_dir)
    print(f"task {task.name} (id {args.task_id}): {len(task.splits['train'])} train / {len(task.splits['dev'])} dev / "
          f"{len(task.splits['test'])} test sentences; {sum(m.numel() for m in mask.values()):,} prunable weights; "
          f"α = {pruning_rate(args.final_rate, args.pruning_iter):.4f}", file=sys.stderr)

    pad = data.words.padding_idx
    progress = {"round": first_round, "mask": mask, "records": records}

    def save_progress(train: dict | None) -> None:
        save_training_state(out_dir, {**progress, "mask": {n: m.cpu() for n, m in progress["mask"].items()},
                                      "train": train, "rng": rng_state(generator)})
        write_metrics(out_dir, step1_metrics(task.name, progress["records"], progress["round"], progress["mask"], train))

    def end_of_round(next_round: int, next_mask, finished: list[dict]) -> None:
        progress.update(round=next_round, mask=next_mask if next_mask is not None else progress["mask"],
                        records=finished)
        save_progress(None)

    def train_round(round_: int, round_mask) -> RoundOutcome:
        nonlocal pending
        result = train_task(model, round_mask, args.task_id, task, epochs=args.epochs, batch_size=args.batch_size,
                            optim=args.optim, device=args.device, pad_index=pad, generator=generator,
                            batching=args.batching, desc=f"[{task.name}] round {round_}",
                            log=lambda line: print(line, flush=True), state=pending, checkpoint=save_progress,
                            patience=args.patience)
        pending = None
        model.load_state_dict(result.best_state)
        scored = (round_mask, args.task_id, task)
        test = evaluate(model, *scored, "test", args.batch_size, args.device, pad)
        lenient = {split: evaluate_lenient(model, *scored, split, args.batch_size, args.device, pad)
                   for split in ("dev", "test")}
        return RoundOutcome(result.best_state, result.best_dev, test, result.best_epoch, result.epochs,
                            result.seconds, lenient["dev"], lenient["test"], result.history)

    schedule = kept_schedule(args.final_rate, args.pruning_iter)
    try:
        records = run_imp(model, rewind_point, to_device(mask, args.device), schedule, first_round, train_round,
                          out_dir, task.name, log=lambda line: print(line, flush=True), records=records,
                          checkpoint=end_of_round)
        write_json(os.path.join(out_dir, COMPLETE), {"task": task.name, "rounds": len(records)})
        clear_training_state(out_dir)
    except NonFiniteLoss as error:
        fail(str(error))
    except OSError as error:
        fail(f"writing to {out_dir}: {error.strerror or error}; the last finished epoch is kept, resume with --resume")
    finally:
        lock.release()


if __name__ == "__main__":
    main()
