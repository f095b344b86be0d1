"""Movement pruning (Sanh, Wolf & Rush, NeurIPS 2020, "Movement Pruning: Adaptive Sparsity by Fine-Tuning"), its
hard top-v form: one fine-tuning pass from the rewind point in which every prunable weight W has a score S, the
forward uses W ⊙ M with M the top v share of the scores (one global threshold over the declared scope), and the
straight-through estimator gives S the gradient (∂L/∂W′) ⊙ W of the masked weight W′ = W ⊙ M, so a pruned weight's
score still moves and it can come back. The kept share v follows the paper's cubic schedule (Zhu & Gupta 2017) from 1
down to the schedule's last kept fraction v_f: v = 1 over the first 10% of the pass's steps, v_f + (1 − v_f)(1 − p)³
over the next 70% (p from 0 to 1), v_f over the last 20% (Sanh et al.'s 1 warm-up and 2 cool-down epochs of 10).
The scores start at 0 and take plain gradient steps, S = −Σ_t (∂L/∂W′) ⊙ W, the paper's first-order form; their
ranking, all that is used, does not depend on a score learning rate (the paper's runs used Adam on S, lr 1e-2).

After the pass every kept fraction keeps its top scores under one global threshold (nested masks), and each subnet
is trained from the rewind point as an IMP round is. The pass trains the weights as a round does (--optim, its
LR schedule, --clip_norm, --epochs, --batch_size, --batching; float32), on a copy of the model, with its own batch
order and dropout (generator and forked RNG seeded with --seed), so the run's own randomness is untouched. It is
saved after every epoch (resume.th), so a stop loses at most one epoch of it; its cost goes into the first round's
line of scores.jsonl ("scoring")."""
import copy
import time
from typing import TYPE_CHECKING, Callable

import numpy
import torch
from torch import nn

from utils.data.batching import batches_per_epoch, collate, epoch_batches
from utils.data.dataset import TaskData
from utils.subnets.finders.base import Finder
from utils.subnets.masks import Mask, count_kept, count_total, forward_with
from utils.subnets.pruning import keep_top
from utils.training.joint import lr_factor, parameter_groups
from utils.training.task import make_optimizer

if TYPE_CHECKING:
    from utils.settings.groups import Step1Optimiser

WARMUP, COOLDOWN = 0.1, 0.2  # shares of the pass's steps at v = 1 and at v = v_f (Sanh et al.: 1 and 2 of 10 epochs)


def cubic_kept(step: int, total: int, final: float) -> float:
    """The kept share v at optimiser step `step` (0-based) of a pass of `total` steps, ending at `final`."""
    start, end = round(WARMUP * total), total - round(COOLDOWN * total)
    if step < start:
        return 1.0
    if step >= end:
        return final
    progress = (step - start) / max(1, end - start)
    return final + (1.0 - final) * (1.0 - progress) ** 3


def top_indices(scores: torch.Tensor, keep: int) -> torch.Tensor:
    """The indices of the `keep` largest of flat `scores`, in no order: numpy's introselect on the CPU (several
    times faster there than torch.topk over millions of scores), torch.topk elsewhere."""
    size = scores.numel()
    if keep <= 0 or keep >= size:
        return torch.arange(size if keep > 0 else 0, device=scores.device)
    if scores.device.type == "cpu":
        return torch.from_numpy(numpy.argpartition(scores.detach().numpy(), size - keep)[size - keep:])
    return torch.topk(scores, keep, sorted=False).indices


class TopV(torch.autograd.Function):
    """The 0/1 factors keeping the `keep` largest of flat `scores`, with the straight-through gradient: the scores
    receive the factors' gradient unchanged. `candidates`: given when `keep` is the number of entries that may be kept
    (the finite scores), those entries as a bool tensor, kept without ranking."""

    @staticmethod
    def forward(ctx, scores: torch.Tensor, keep: int, candidates: torch.Tensor | None = None) -> torch.Tensor:
        if candidates is not None:
            return candidates.to(scores.dtype)
        factors = torch.zeros_like(scores)
        factors[top_indices(scores, keep)] = 1.0
        return factors

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        return grad, None, None


def learn_scores(model: nn.Module, mask: Mask, final: float, task_id: int, task: TaskData,
                 optimiser: "Step1Optimiser", seed: int, pad_index: int, device: torch.device | str,
                 state: dict | None = None, save: Callable[[dict], None] = lambda state: None,
                 log: Callable[[str], None] = lambda line: None) -> dict:
    """The movement scores of the prunable weights `mask` keeps (name -> tensor; −inf outside `mask`) after one
    pass on a copy of `model`, with its cost: {"scores", "cost": {"epochs", "steps", "seconds"}}. `save(state)`
    gets the pass's whole state after every epoch; given back as `state`, the pass continues exactly. `log` gets
    a line per epoch."""
    names, shapes = list(mask), [mask[n].shape for n in mask]
    sizes = [mask[n].numel() for n in names]
    inside = torch.cat([mask[n].flatten() for n in names])
    total, allowed = count_total(mask), count_kept(mask)
    student = copy.deepcopy(model).to(device)
    optimizer = make_optimizer(optimiser.optim, parameter_groups(student))
    base_lrs = [group["lr"] for group in optimizer.param_groups]
    generator = torch.Generator().manual_seed(seed)
    outside = ~inside
    scores = torch.zeros(total, device=inside.device).masked_fill_(outside, -torch.inf)
    train = task.splits["train"]
    steps_total = optimiser.epochs * batches_per_epoch(train, optimiser.batch_size, optimiser.batching)
    cuda = [torch.device(device).index or 0] if torch.device(device).type == "cuda" else []
    first_epoch, step, seconds, rng = 0, 0, 0.0, None
    if state is not None:
        student.load_state_dict(state["weights"])
        optimizer.load_state_dict(state["optimizer"])
        generator.set_state(state["generator"])
        scores = state["scores"].to(inside.device).clone()
        first_epoch, step, seconds, rng = state["epoch"], state["step"], state["seconds"], state["rng"]
    scores.requires_grad_()   # one leaf for the whole pass, updated in place
    for epoch in range(first_epoch, optimiser.epochs):
        started, losses = time.perf_counter(), []
        with torch.random.fork_rng(devices=cuda):  # the pass's dropout draws from its own stream
            if rng is None:
                torch.manual_seed(seed)
            else:
                torch.set_rng_state(rng["torch"])
                if cuda:
                    torch.cuda.set_rng_state(rng["cuda"], cuda[0])
            student.train()
            for indices in epoch_batches(optimiser.batching, train.lengths, optimiser.batch_size, generator):
                factor = lr_factor(optimiser.scheduler, step, epoch, optimiser.warmup_steps, optimiser.lr_decay,
                                   steps_total, optimiser.warmup_ratio)
                for group, lr in zip(optimizer.param_groups, base_lrs):
                    group["lr"] = lr * factor
                kept = cubic_kept(step, steps_total, final)
                keep = min(round(kept * total), allowed)
                factors = TopV.apply(scores, keep, inside if keep == allowed else None).split(sizes)
                weights = {n: student.get_parameter(n) * f.view(s) for n, f, s in zip(names, factors, shapes)}
                batch = collate(train, indices, pad_index, device)
                logits = forward_with(student, weights, task_id, batch.words, batch.seq_len)
                loss = student.heads.loss(task_id, logits, batch.tags, batch.seq_len)
                loss.backward()
                if optimiser.clip_norm:
                    nn.utils.clip_grad_norm_([p for p in student.parameters() if p.grad is not None],
                                             optimiser.clip_norm)
                optimizer.step()
                optimizer.zero_grad(set_to_none=True)
                with torch.no_grad():
                    scores.sub_(scores.grad.masked_fill_(outside, 0.0))
                scores.grad = None
                losses.append(loss.item())
                step += 1
            rng = {"torch": torch.get_rng_state(), "cuda": torch.cuda.get_rng_state(cuda[0]) if cuda else None}
        seconds += time.perf_counter() - started
        log(f"movement pass epoch {epoch + 1}/{optimiser.epochs}: kept {100.0 * kept:.2f}%  "
            f"loss {sum(losses) / max(1, len(losses)):.4f}  {time.perf_counter() - started:.0f}s")
        save({"weights": {k: v.detach().cpu().clone() for k, v in student.state_dict().items()},
              "optimizer": optimizer.state_dict(), "generator": generator.get_state(), "rng": rng,
              "scores": scores.detach().cpu().clone(), "epoch": epoch + 1, "step": step, "seconds": seconds})
    return {"scores": {n: part.view(s).cpu() for n, part, s in zip(names, scores.detach().split(sizes), shapes)},
            "cost": {"epochs": optimiser.epochs, "steps": step, "seconds": round(seconds, 2)}}


class Movement(Finder):
    name = "movement"

    def __init__(self, schedule: list[float], learn) -> None:
        super().__init__(schedule)
        self.learn = learn    # (model, mask, pass state, save) -> learn_scores' {"scores", "cost"}
        self.learned: dict | None = None
        self.passing: dict | None = None     # the pass's state while it runs
        self.reported = False

    def prepare(self, model: nn.Module, mask: Mask, save: Callable[[], None]) -> None:
        if self.learned is not None or len(self.schedule) == 1:
            return

        def keep(state: dict) -> None:
            self.passing = state
            save()
        self.learned = self.learn(model, mask, self.passing, keep)
        self.passing = None
        save()

    def next_mask(self, round_: int, mask: Mask, trained: dict[str, torch.Tensor]) -> Mask:
        return keep_top({n: self.learned["scores"][n].to(mask[n].device) for n in mask}, mask,
                        self.schedule[round_ + 1])

    def round_record(self) -> dict:
        """The scoring pass's cost (epochs, optimiser steps, seconds), on the first round's line only."""
        if self.reported or self.learned is None:
            return {}
        self.reported = True
        return {"scoring": self.learned["cost"]}

    def state(self) -> dict:
        return {"learned": self.learned, "passing": self.passing, "reported": self.reported}

    def load_state(self, state: dict) -> None:
        self.learned, self.passing = state.get("learned"), state.get("passing")
        self.reported = state.get("reported", False)
