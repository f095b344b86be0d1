"""Training and evaluation speed on real data, every arm on the same pre-built batches in one process.

    python bench/bench.py --data_path data/processed/conll03 [--device cpu] [--json bench.json] [--markdown bench.md]

Arms: (a) dense step, (b) masked single-task step (Step 1), (c) masked joint step, tasks alternating (Step 3),
(d) the original code's technique (deep copy of the model state per batch, masked_fill, restore, masked
gradients), (e) one pruning round, (f) evaluation, (g) data preparation, (h) the floor: the bare BiLSTM and a
linear head, forward + backward. Repetitions are interleaved (the arm order rotates every repetition) after
warm-up ones; medians and spreads are over repetitions, ratios are medians of per-repetition ratios, so a
machine that slows down for a while slows every arm alike. A profile of the training step (c) follows: each
part timed alone on the same batches, interleaved the same way."""
import argparse
import copy
import json
import os
import statistics
import sys
import time
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from models import get_model  # noqa: E402
from models.bilstm import BiLSTM  # noqa: E402
from utils.batching import Batch, collate, epoch_batches  # noqa: E402
from utils.dataset import Dataset, Split, TaskData  # noqa: E402
from utils.masks import Mask, masked_forward, masked_weights, prunable_names, zero_pruned_  # noqa: E402
from utils.pruning import prune_global  # noqa: E402
from utils.training import evaluate, make_optimizer, train_step  # noqa: E402

OPTIM = "sgd(lr=0.1, momentum=0.9)"
KEPT = 0.5          # the subnets' kept fraction (the paper's chosen subnets keep 45-56%)
NEXT_KEPT = 0.8913  # a pruning round removes 10.87% of the remaining weights (--pruning_iter 20 --final_rate 0.1)
ARMS = {"dense": "(a) dense step", "masked": "(b) masked step, one task", "joint": "(c) masked joint step",
        "copy": "(d) original: state copy per batch", "prune": "(e) pruning round", "eval": "(f) evaluation",
        "data": "(g) data preparation (an epoch's batches, collated)", "floor": "(h) floor: bare BiLSTM + linear"}
PARTS = {"embeddings": "word embeddings", "char": "char CNN", "lstm": "BiLSTM", "heads": "heads and loss",
         "masks": "masks (weight ⊙ mask, forward + backward)", "optimiser": "optimiser (zero_grad, clip, step)",
         "batching": "batching (collate)"}


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def subnet_masks(model: nn.Module, n_tasks: int, generator: torch.Generator) -> list[Mask]:
    """One mask per task keeping KEPT of the encoder: the largest |w| · noise, the noise differing per task."""
    names = prunable_names(model)
    masks = []
    for _ in range(n_tasks):
        scores = {n: model.get_parameter(n).detach().abs().cpu() * torch.rand(model.get_parameter(n).shape,
                                                                              generator=generator) for n in names}
        mask = prune_global(scores, {n: torch.ones_like(s, dtype=torch.bool) for n, s in scores.items()}, KEPT)
        masks.append({n: m.to(model.get_parameter(n).device) for n, m in mask.items()})
    return masks


def original_step(model: nn.Module, mask: Mask, task: int, batch: Batch, optimizer: torch.optim.Optimizer) -> float:
    """The original train_mtl.py per batch: copy the whole state, zero the pruned weights in place, forward and
    backward the plain model, load the copy back, zero the pruned gradients, clip values, step."""
    model.train()
    saved = copy.deepcopy(model.state_dict())
    with torch.no_grad():
        for name, m in mask.items():
            model.get_parameter(name).masked_fill_(~m, 0.0)
    optimizer.zero_grad(set_to_none=True)
    loss = model.heads.loss(task, model(task, batch.words, batch.seq_len), batch.tags, batch.seq_len)
    loss.backward()
    model.load_state_dict(saved)
    for name, m in mask.items():
        model.get_parameter(name).grad.masked_fill_(~m, 0.0)
    nn.utils.clip_grad_value_([p for p in model.parameters() if p.grad is not None], 5.0)
    optimizer.step()
    return loss.item()


class Floor(nn.Module):
    """The least a step can cost: the model's BiLSTM and a linear head on fixed token features, cross-entropy
    over the real tokens; no embeddings, char CNN, masks or optimiser."""

    def __init__(self, input_dim: int, hidden_size: int, n_tags: int) -> None:
        super().__init__()
        self.lstm = BiLSTM(input_dim, hidden_size)
        self.out = nn.Linear(2 * hidden_size, n_tags)

    def step(self, features: torch.Tensor, batch: Batch) -> None:
        self.zero_grad(set_to_none=True)
        hidden, _ = self.lstm(features, batch.seq_len)
        keep = torch.arange(features.size(1), device=features.device)[None, :] < batch.seq_len[:, None]
        F.cross_entropy(self.out(hidden)[keep], batch.tags[keep]).backward()


def summary(values: list[float]) -> dict:
    """Median and spread (min, max, interquartile range) of the repetitions."""
    ordered = sorted(values)
    q = statistics.quantiles(ordered, n=4) if len(ordered) > 1 else [ordered[0]] * 3
    return {"median": statistics.median(ordered), "min": ordered[0], "max": ordered[-1], "iqr": q[2] - q[0],
            "reps": len(ordered)}


def interleave(arms: dict[str, Callable[[], None]], reps: int, warmup: int, device: str) -> dict[str, list[float]]:
    """Seconds of each arm per repetition: the arms run one after another, starting one later every repetition;
    the first `warmup` repetitions are dropped."""
    names, times = list(arms), {name: [] for name in arms}
    for rep in range(warmup + reps):
        for k in range(len(names)):
            name = names[(rep + k) % len(names)]
            sync(device)
            start = time.perf_counter()
            arms[name]()
            sync(device)
            if rep >= warmup:
                times[name].append(time.perf_counter() - start)
    return times


def paired_ratio(times: dict[str, list[float]], first: str, second: str, per_first: float = 1.0,
                 per_second: float = 1.0) -> float:
    """Median over repetitions of (first's time per unit) / (second's time per unit)."""
    return statistics.median((a / per_first) / (b / per_second) for a, b in zip(times[first], times[second]))


def build(args: argparse.Namespace) -> dict:
    """Load the data, build the models, masks, optimisers and batches every arm uses."""
    torch.manual_seed(args.seed)
    data = Dataset.load(args.data_path)
    device, pad = args.device, data.words.padding_idx
    train = data.tasks[args.task_id].splits["train"]
    order = epoch_batches("bucket", train.lengths, args.batch_size, torch.Generator().manual_seed(args.seed))
    indices = order[:args.steps]
    batches = [[collate(task.splits["train"], [i % len(task.splits["train"]) for i in idx], pad, device)
                for idx in indices] for task in data.tasks]
    base = get_model("cnn-lstm", data, args.hidden_size, args.n_layer).to(device)
    masks = subnet_masks(base, len(data.tasks), torch.Generator().manual_seed(args.seed))
    models = {name: copy.deepcopy(base) for name in ("dense", "masked", "joint", "copy", "parts")}
    dev = data.tasks[args.task_id].splits["dev"]
    eval_task = TaskData(data.tasks[args.task_id].name, data.tasks[args.task_id].metric, data.tasks[args.task_id].tags,
                         {"dev": Split(dev.words[:args.eval_sentences], dev.tags[:args.eval_sentences])})
    return {"data": data, "pad": pad, "train": train, "indices": indices, "batches": batches, "masks": masks,
            "models": models, "eval_task": eval_task, "base": base}


def arms(args: argparse.Namespace, setup: dict) -> dict[str, Callable[[], None]]:
    """One callable per arm; each runs the arm once over all `--steps` batches (evaluation: once over the dev
    slice; pruning: one round)."""
    device, pad, task_id = args.device, setup["pad"], args.task_id
    models, masks, batches = setup["models"], setup["masks"], setup["batches"]
    n_tasks = len(masks)
    optim = {name: make_optimizer(OPTIM, models[name].parameters()) for name in ("dense", "masked")}
    joint_optims = {name: [make_optimizer(OPTIM, models[name].parameters()) for _ in range(n_tasks)]
                    for name in ("joint", "copy")}
    for name in ("joint", "copy"):
        zero_pruned_(models[name], masks[0])
    rewind = copy.deepcopy(setup["base"].state_dict())
    prune_model = setup["base"]
    features = [torch.randn(b.words.shape + (models["dense"].input_dim,), device=device) for b in batches[task_id]]
    floor = Floor(models["dense"].input_dim, args.hidden_size, len(setup["data"].tasks[task_id].tags)).to(device)
    train = setup["train"]

    def single(name: str, mask: Mask | None) -> Callable[[], None]:
        def run() -> None:
            for batch in batches[task_id]:
                train_step(models[name], mask, task_id, batch, optim[name], clip_norm=5.0)
        return run

    def joint() -> None:
        for k, batch in enumerate(batches[task_id]):
            t = k % n_tasks
            train_step(models["joint"], masks[t], t, batches[t][k], joint_optims["joint"][t], clip_value=5.0)

    def original() -> None:
        for k in range(len(batches[task_id])):
            t = k % n_tasks
            original_step(models["copy"], masks[t], t, batches[t][k], joint_optims["copy"][t])

    def prune() -> None:
        weights = {n: prune_model.get_parameter(n).detach() for n in masks[task_id]}
        mask = prune_global(weights, masks[task_id], KEPT * NEXT_KEPT)
        prune_model.load_state_dict(rewind)
        zero_pruned_(prune_model, mask)

    def evaluation() -> None:
        evaluate(models["masked"], masks[task_id], task_id, setup["eval_task"], "dev", args.batch_size, device, pad)

    def data_prep() -> None:
        for idx in epoch_batches("original", train.lengths, args.batch_size, torch.Generator().manual_seed(0)):
            collate(train, idx, pad, device)

    def bare() -> None:
        for x, batch in zip(features, batches[task_id]):
            floor.step(x, batch)

    return {"dense": single("dense", None), "masked": single("masked", masks[task_id]), "joint": joint,
            "copy": original, "prune": prune, "eval": evaluation, "data": data_prep, "floor": bare}


def profile_parts(args: argparse.Namespace, setup: dict) -> dict[str, Callable[[], None]]:
    """The masked joint step taken apart: each part forward + backward alone on the same batches."""
    model, masks, batches, device = setup["models"]["parts"], setup["masks"], setup["batches"], args.device
    n_tasks, pad = len(masks), setup["pad"]
    model.train()
    optimizers = [make_optimizer(OPTIM, model.parameters()) for _ in range(n_tasks)]
    steps = range(len(batches[0]))
    with torch.no_grad():
        inputs = [model.embed(b.words) for b in batches[0]]
        hidden = [model.lstm(x, b.seq_len)[0] for x, b in zip(inputs, batches[0])]
    train, indices = setup["train"], setup["indices"]

    def embeddings() -> None:
        for b in batches[0]:
            model.zero_grad(set_to_none=True)
            model.embedding(b.words).sum().backward()

    def char() -> None:
        for b in batches[0]:
            model.zero_grad(set_to_none=True)
            model.char(b.words).sum().backward()

    def lstm() -> None:
        for x, b in zip(inputs, batches[0]):
            model.zero_grad(set_to_none=True)
            model.lstm(x.requires_grad_(), b.seq_len)[0].sum().backward()

    def heads() -> None:
        for k in steps:
            t, b = k % n_tasks, batches[k % n_tasks][k]
            model.zero_grad(set_to_none=True)
            h = hidden[k].detach().requires_grad_()
            model.heads.loss(t, model.heads(t, model.dropout(h)), b.tags, b.seq_len).backward()

    def masks_part() -> None:
        for k in steps:
            weights = masked_weights(model, masks[k % n_tasks])
            torch.autograd.backward(list(weights.values()), [torch.ones_like(w) for w in weights.values()])

    task_grads = []  # each task's gradients of one real step, taken now: the other parts leave partial ones
    for k in range(n_tasks):
        model.zero_grad(set_to_none=True)
        model.heads.loss(k, masked_forward(model, masks[k], k, batches[k][0].words, batches[k][0].seq_len),
                         batches[k][0].tags, batches[k][0].seq_len).backward()
        task_grads.append({n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None})

    def optimiser() -> None:
        for k in steps:
            opt, grads = optimizers[k % n_tasks], task_grads[k % n_tasks]
            opt.zero_grad(set_to_none=True)
            for n, p in model.named_parameters():
                p.grad = grads.get(n)  # clipping them in place again changes nothing
            nn.utils.clip_grad_value_([p for p in model.parameters() if p.grad is not None], 5.0)
            opt.step()

    def batching() -> None:
        for idx in indices:
            collate(train, idx, pad, device)

    return {"embeddings": embeddings, "char": char, "lstm": lstm, "heads": heads, "masks": masks_part,
            "optimiser": optimiser, "batching": batching}


def report(args: argparse.Namespace, setup: dict, times: dict, parts: dict) -> dict:
    """Per-arm medians, tokens/s and sentences/s, the five ratios and the profile, as one JSON-able dict."""
    batches = setup["batches"][args.task_id]
    tokens = sum(int(b.seq_len.sum()) for b in batches)
    sentences = sum(len(b.seq_len) for b in batches)
    dev = setup["eval_task"].splits["dev"]
    result = {"settings": {"device": args.device, "threads": torch.get_num_threads(), "torch": torch.__version__,
                           "batch_size": args.batch_size, "steps": len(batches), "reps": args.reps,
                           "warmup": args.warmup, "hidden_size": args.hidden_size, "tokens": tokens,
                           "eval_sentences": len(dev), "kept": KEPT},
              "arms": {}, "ratios": {}, "profile": {}}
    per_step = {"dense", "masked", "joint", "copy", "floor"}
    train = setup["train"]
    for name, values in times.items():
        if name == "data":
            n_batches = -(-len(train) // args.batch_size)
            ms = [1000 * v / n_batches for v in values]
            entry = {"ms_per_step": summary(ms), "tokens_per_s": sum(train.lengths) / statistics.median(values),
                     "sentences_per_s": len(train) / statistics.median(values)}
        elif name in per_step:
            ms = [1000 * v / len(batches) for v in values]
            entry = {"ms_per_step": summary(ms), "tokens_per_s": tokens / statistics.median(values),
                     "sentences_per_s": sentences / statistics.median(values)}
        elif name == "eval":
            entry = {"ms": summary([1000 * v for v in values]),
                     "tokens_per_s": sum(dev.lengths) / statistics.median(values),
                     "sentences_per_s": len(dev) / statistics.median(values)}
        else:
            entry = {"ms": summary([1000 * v for v in values])}
        result["arms"][name] = entry
    result["ratios"] = {
        "masked_vs_dense": paired_ratio(times, "masked", "dense"),
        "joint_vs_dense": paired_ratio(times, "joint", "dense"),
        "copy_vs_ours": paired_ratio(times, "copy", "joint"),
        "eval_vs_train": 1.0 / paired_ratio(times, "eval", "masked", len(dev), sentences),
        "joint_vs_floor": paired_ratio(times, "joint", "floor"),
    }
    result["prune_round_ms"] = result["arms"]["prune"]["ms"]["median"]
    step_ms = result["arms"]["joint"]["ms_per_step"]["median"]
    shares = {name: 1000 * statistics.median(values) / len(batches) for name, values in parts.items()}
    shares["other"] = step_ms - sum(shares.values())
    result["profile"] = {name: {"ms_per_step": ms, "share": ms / step_ms} for name, ms in shares.items()}
    result["targets"] = {
        "masked_vs_dense <= 1.05": result["ratios"]["masked_vs_dense"] <= 1.05,
        "joint_vs_dense <= 1.05": result["ratios"]["joint_vs_dense"] <= 1.05,
        "copy_vs_ours >= 1.25": result["ratios"]["copy_vs_ours"] >= 1.25,
        "prune_round_ms < 50": result["prune_round_ms"] < 50,
        "eval_vs_train >= 10": result["ratios"]["eval_vs_train"] >= 10,
        "joint_vs_floor <= 1.6": result["ratios"]["joint_vs_floor"] <= 1.6,
    }
    return result


def markdown(result: dict) -> str:
    """The arms, ratios, profile and targets as Markdown tables."""
    s = result["settings"]
    lines = [f"device {s['device']}, {s['threads']} threads, torch {s['torch']}, batch {s['batch_size']}, "
             f"{s['steps']} steps ({s['tokens']} tokens) per arm, {s['reps']} interleaved repetitions after "
             f"{s['warmup']} warm-up; median [min–max]", "",
             "| arm | median | spread | tokens/s | sentences/s |", "|---|---|---|---|---|"]
    for name, entry in result["arms"].items():
        stat = entry.get("ms_per_step") or entry["ms"]
        unit = "ms/step" if "ms_per_step" in entry else "ms"
        rate = (f"{entry['tokens_per_s']:,.0f} | {entry['sentences_per_s']:,.0f}" if "tokens_per_s" in entry
                else "— | —")
        lines.append(f"| {ARMS[name]} | {stat['median']:.2f} {unit} | {stat['min']:.2f}–{stat['max']:.2f} | {rate} |")
    lines += ["", "| ratio | median | target | holds |", "|---|---|---|---|"]
    targets = {"masked_vs_dense": "≤ 1.05", "joint_vs_dense": "≤ 1.05", "copy_vs_ours": "≥ 1.25",
               "eval_vs_train": "≥ 10", "joint_vs_floor": "≤ 1.6"}
    holds = result["targets"]
    for name, value in result["ratios"].items():
        ok = next(v for k, v in holds.items() if k.startswith(name))
        lines.append(f"| {name} | {value:.3f} | {targets[name]} | {'yes' if ok else 'NO'} |")
    lines.append(f"| prune_round_ms | {result['prune_round_ms']:.1f} | < 50 | "
                 f"{'yes' if holds['prune_round_ms < 50'] else 'NO'} |")
    lines += ["", "Profile of the masked joint step (c), each part forward + backward alone:", "",
              "| part | ms/step | share |", "|---|---|---|"]
    for name, entry in result["profile"].items():
        label = PARTS.get(name, "other (the remainder: functional_call, Python and autograd glue)")
        lines.append(f"| {label} | {entry['ms_per_step']:.2f} | {100 * entry['share']:.0f}% |")
    return "\n".join(lines) + "\n"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data_path", default="data/processed/conll03", help="processed data (prepare-data.py)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--json", help="write the results here")
    parser.add_argument("--markdown", help="write the tables here")
    parser.add_argument("--task_id", type=int, default=-1, help="task of the single-task arms (default: the last)")
    parser.add_argument("--steps", type=int, default=60, help="batches per arm and repetition")
    parser.add_argument("--reps", type=int, default=7, help="timed repetitions")
    parser.add_argument("--warmup", type=int, default=1, help="untimed repetitions first")
    parser.add_argument("--eval_sentences", type=int, default=1000, help="dev sentences the evaluation arm scores")
    parser.add_argument("--batch_size", type=int, default=10)
    parser.add_argument("--hidden_size", type=int, default=200)
    parser.add_argument("--n_layer", type=int, default=1)
    parser.add_argument("--threads", type=int, help="torch threads (default: OMP_NUM_THREADS or torch's)")
    parser.add_argument("--seed", type=int, default=2019)
    args = parser.parse_args(argv)
    for flag in ("steps", "reps", "eval_sentences", "batch_size"):
        if getattr(args, flag) < 1:
            parser.error(f"--{flag} {getattr(args, flag)}: expected ≥ 1")
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        parser.error(f"--device {args.device}: CUDA is not available")
    return args


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        setup = build(args)
    except (FileNotFoundError, ValueError) as error:
        sys.exit(f"bench.py: --data_path {args.data_path}: {error}")
    if args.task_id < 0:
        args.task_id += len(setup["data"].tasks)
    times = interleave(arms(args, setup), args.reps, args.warmup, args.device)
    parts = interleave(profile_parts(args, setup), args.reps, args.warmup, args.device)
    result = report(args, setup, times, parts)
    table = markdown(result)
    print(table)
    print(json.dumps({"ratios": result["ratios"], "prune_round_ms": result["prune_round_ms"]}, indent=2))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(result, f, indent=2)
    if args.markdown:
        with open(args.markdown, "w", encoding="utf-8") as f:
            f.write(table)
    return result


if __name__ == "__main__":
    main()
