"""Data-parallel joint training over processes started by torchrun: every rank takes the same task turn and its
own shard of that task's batches, gradients are averaged over the ranks before clipping (what
DistributedDataParallel does), so the weights stay identical everywhere and a pruned weight, zero-gradient on
every rank, never moves. Without torchrun (no WORLD_SIZE) everything here is a no-op of world size 1."""
import atexit
import hashlib
import json
import math
import os
import sys
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn

# Test hook: a folder; each rank appends one JSON line per training step to <folder>/rank<R>.jsonl.
TRACE_ENV = "SPARSE_SHARING_TRACE"


@dataclass
class Context:
    """Where this process stands: its rank among `world_size` processes and the device it trains on."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: str = "cpu"

    @property
    def is_main(self) -> bool:
        """Rank 0 alone writes files and logs."""
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world_size > 1

    def barrier(self) -> None:
        if self.active:
            dist.barrier()


SINGLE = Context()


def setup(device: str) -> Context:
    """Join the process group torchrun describes in RANK, WORLD_SIZE and LOCAL_RANK (gloo on CPU, nccl with
    CUDA, one GPU per local rank); log the world size and this rank; mute stdout on ranks other than 0."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size == 1:
        return Context(device=device)
    rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    cuda = torch.device(device).type == "cuda"
    if cuda:
        if local_rank >= torch.cuda.device_count():
            raise ValueError(f"LOCAL_RANK {local_rank}: this node has {torch.cuda.device_count()} GPU(s); start "
                             f"at most that many processes per node (--nproc_per_node)")
        device = f"cuda:{local_rank}"
        torch.cuda.set_device(local_rank)
    dist.init_process_group("nccl" if cuda else "gloo", rank=rank, world_size=world_size)
    atexit.register(dist.destroy_process_group)
    print(f"world size {world_size}, rank {rank} (local rank {local_rank}) on {device}", file=sys.stderr, flush=True)
    if rank != 0:
        sys.stdout = open(os.devnull, "w", encoding="utf-8")
    return Context(rank, world_size, local_rank, device)


def shard(batches: list[list[int]], context: Context) -> list[list[int]]:
    """This rank's share of a task's batch list (the same list on every rank): batches rank, rank + N, ... .
    The list is first padded to a multiple of N by repeating its first batches, as DistributedSampler does, so
    every rank makes the same number of steps; with N = 1 it is the list itself."""
    if not context.active or not batches:
        return batches
    total = math.ceil(len(batches) / context.world_size) * context.world_size
    padded = [batches[i % len(batches)] for i in range(total)]
    return padded[context.rank::context.world_size]


def steps_per_epoch(n_batches: int, context: Context) -> int:
    """A task's steps in one pass over its data when every step takes one batch on each of the N ranks."""
    return math.ceil(n_batches / context.world_size)


def broadcast_parameters(model: nn.Module, context: Context) -> None:
    """Give every rank rank 0's weights (as DDP does at construction)."""
    if context.active:
        with torch.no_grad():
            for tensor in model.state_dict().values():
                dist.broadcast(tensor, src=0)


def seed_dropout(context: Context) -> None:
    """Different dropout noise per rank (seed + rank); rank 0 keeps the single-process stream."""
    if context.rank:
        torch.manual_seed(torch.initial_seed() + context.rank)


def gradient_averager(context: Context):
    """The hook train_step calls after backward: average the gradients and the loss over the ranks in one
    all-reduce, in place; returns the mean loss. None in a single process."""
    if not context.active:
        return None

    def average(params: list[nn.Parameter], loss: torch.Tensor) -> torch.Tensor:
        grads = [p.grad for p in params]
        flat = torch.cat([g.reshape(-1) for g in grads] + [loss.detach().reshape(1).to(grads[0].dtype)])
        dist.all_reduce(flat)
        flat /= context.world_size
        offset = 0
        for g in grads:
            g.copy_(flat[offset:offset + g.numel()].view_as(g))
            offset += g.numel()
        return flat[-1]

    return average


def gather(obj: object, context: Context) -> list:
    """Every rank's `obj`, in rank order (on every rank)."""
    if not context.active:
        return [obj]
    objects = [None] * context.world_size
    dist.all_gather_object(objects, obj)
    return objects


def broadcast(obj: object, context: Context) -> object:
    """Rank 0's `obj` on every rank (e.g. the dev scores only rank 0 computed)."""
    if not context.active:
        return obj
    objects = [obj]
    dist.broadcast_object_list(objects, src=0)
    return objects[0]


def weights_digest(model: nn.Module) -> str:
    """A hash of every parameter's bytes: equal digests, equal weights."""
    h = hashlib.sha256()
    for name, p in model.named_parameters():
        h.update(name.encode())
        h.update(p.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


class StepTrace:
    """Test hook behind SPARSE_SHARING_TRACE=<folder>: per step, the task, the batch's sentence indices, the
    weights' digest after the step and how many entries outside the task's mask changed in it."""

    def __init__(self, context: Context) -> None:
        folder = os.environ.get(TRACE_ENV)
        self.path = os.path.join(folder, f"rank{context.rank}.jsonl") if folder else None
        self.before: dict[str, torch.Tensor] = {}
        if self.path:
            os.makedirs(folder, exist_ok=True)

    def start(self, model: nn.Module, mask: dict | None) -> None:
        if self.path and mask is not None:
            self.before = {n: model.get_parameter(n).detach()[~m].clone() for n, m in mask.items()}

    def record(self, model: nn.Module, mask: dict | None, epoch: int, step: int, task: int, indices: list[int]) -> None:
        if not self.path:
            return
        moved = sum(int((model.get_parameter(n).detach()[~m] != self.before[n]).sum()) for n, m in mask.items()) \
            if mask is not None else 0
        line = {"epoch": epoch, "step": step, "task": task, "batch": indices, "weights": weights_digest(model),
                "pruned_moved": moved}
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps(line) + "\n")
