"""Step 1: find a subnet for one task by iterative magnitude pruning with rewinding (Algorithm 1)."""
import argparse
import os
import sys


from models import get_model
from utils.checkpoint import load_weights, save_state
from utils.imp import RoundOutcome, run_imp
from utils.masks import DEFAULT_NEED_CUT, full_mask, load_mask, prunable_names, to_device
from utils.pruning import kept_schedule, pruning_rate
from utils.runtime import add_model_args, check_optim, check_positive, fail, load_data, set_seed, write_json
from utils.training import evaluate, evaluate_lenient, train_task


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    add_model_args(parser)
    parser.add_argument("--task_id", type=int, default=0, help="the task to prune for (index in the processed data: conll03 0=pos 1=chunk 2=ner)")
    parser.add_argument("--pruning_iter", type=int, default=20, help="pruning rounds after the dense one; 0 trains one dense round (the single-task baseline)")
    parser.add_argument("--final_rate", type=float, default=0.1, help="kept fraction after the last round; each round removes α = 1 − final_rate^(1/pruning_iter) of the rest")
    parser.add_argument("--init_masks", default=None, help="a mask file (<round>_<kept>.th) to resume pruning from")
    parser.add_argument("--need_cut", default=DEFAULT_NEED_CUT, help="comma-separated name patterns of the prunable weights (biases never)")
    args = parser.parse_args(argv)
    check_optim(parser, args.optim)
    check_positive(parser, args, "epochs", "batch_size", "hidden_size", "n_layer", "train_limit", "eval_limit")
    if args.pruning_iter < 0:
        parser.error(f"--pruning_iter must be ≥ 0, got {args.pruning_iter}")
    if not 0.0 < args.final_rate <= 1.0:
        parser.error(f"--final_rate must be in (0, 1], got {args.final_rate}")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    generator = set_seed(args.seed)
    data = load_data(args)
    if not 0 <= args.task_id < len(data.tasks):
        fail(f"--task_id {args.task_id}: the data has tasks 0..{len(data.tasks) - 1} ({', '.join(data.task_names())})")
    task = data.tasks[args.task_id]
    out_dir = os.path.join(args.save_dir, "cp", args.exp_name or str(args.task_id))
    if os.path.exists(os.path.join(out_dir, "scores.jsonl")):
        fail(f"{out_dir} already holds a Step 1 run; remove it or choose another --exp_name/--save_dir")

    model = get_model(args.arch, data, args.hidden_size, args.n_layer, args.dropout, args.crf)
    try:
        names = prunable_names(model, args.need_cut)
        if args.init_weights:
            load_weights(model, args.init_weights)
        mask, first_round = full_mask(model, names), 0
        if args.init_masks:
            record = load_mask(args.init_masks, model)
            if set(record["mask"]) != set(names):
                fail(f"{args.init_masks}: its tensors are not the weights --need_cut {args.need_cut} selects")
            mask, first_round = record["mask"], record["round"]
    except ValueError as error:
        fail(str(error))
    model.to(args.device)
    mask = to_device(mask, args.device)
    rewind_point = {k: v.detach().clone() for k, v in model.state_dict().items()}
    os.makedirs(out_dir, exist_ok=True)
    save_state(rewind_point, os.path.join(out_dir, "init_weights.th"))
    write_json(os.path.join(out_dir, "config.json"), {**vars(args), "task": task.name, "prunable": names,
                                                      "alpha": pruning_rate(args.final_rate, args.pruning_iter)})
    print(f"task {task.name} (id {args.task_id}): {len(task.splits['train'])} train / {len(task.splits['dev'])} dev / "
          f"{len(task.splits['test'])} test sentences; {sum(m.numel() for m in mask.values()):,} prunable weights; "
          f"α = {pruning_rate(args.final_rate, args.pruning_iter):.4f}", file=sys.stderr)

    pad = data.words.padding_idx

    def train_round(round_: int, round_mask) -> RoundOutcome:
        result = train_task(model, round_mask, args.task_id, task, epochs=args.epochs, batch_size=args.batch_size,
                            optim=args.optim, device=args.device, pad_index=pad, generator=generator,
                            batching=args.batching, desc=f"[{task.name}] round {round_}",
                            log=lambda line: print(line, flush=True))
        model.load_state_dict(result.best_state)
        scored = (round_mask, args.task_id, task)
        test = evaluate(model, *scored, "test", args.batch_size, args.device, pad)
        lenient = {split: evaluate_lenient(model, *scored, split, args.batch_size, args.device, pad)
                   for split in ("dev", "test")}
        return RoundOutcome(result.best_state, result.best_dev, test, result.best_epoch, result.epochs,
                            result.seconds, lenient["dev"], lenient["test"], result.history)

    schedule = kept_schedule(args.final_rate, args.pruning_iter)
    run_imp(model, rewind_point, mask, schedule, first_round, train_round, out_dir, task.name,
            log=lambda line: print(line, flush=True))


if __name__ == "__main__":
    main()
