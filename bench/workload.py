"""What every benchmark arm works on, built once: the processed data, pre-built training batches of each task
(the same length-bucket batches for every arm), the joint step's batch sequence (tasks alternating), one subnet
mask per task keeping KEPT of the encoder, a copy of the model per arm and the evaluation slice of dev."""
import argparse
import copy
from dataclasses import dataclass

import torch
from torch import nn

from models import get_model
from utils.data.batching import Batch, collate, epoch_batches
from utils.data.dataset import Dataset, Split, TaskData
from utils.subnets.masks import Mask, prunable_names
from utils.subnets.pruning import prune_global

OPTIM = "sgd(lr=0.1, momentum=0.9)"
KEPT = 0.5          # the subnets' kept fraction (the paper's chosen subnets keep 45-56%)
NEXT_KEPT = 0.8913  # a pruning round removes 10.87% of the remaining weights (--pruning_iter 20 --final_rate 0.1)
MODEL_COPIES = ("dense", "masked", "joint", "copy", "parts")


@dataclass
class Workload:
    """The data, batches, masks and models of one benchmark run."""

    data: Dataset
    pad: int
    train: Split                  # the training split of the single-task arms' task
    indices: list[list[int]]      # that split's sentence indices of each batch
    batches: list[list[Batch]]    # per task, the same `--steps` batches (indices modulo the task's size)
    joint: list[tuple[int, Batch]]  # the joint step's (task, batch) sequence: task k mod T takes its k-th batch
    masks: list[Mask]             # one subnet per task
    models: dict[str, nn.Module]  # one copy of the base model per arm that trains
    base: nn.Module               # the pruning arm's model
    eval_task: TaskData           # the evaluation arm's task with its dev slice


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


def build(args: argparse.Namespace, data: Dataset) -> Workload:
    """The models, masks and batches every arm uses, from the loaded data (`args.task_id` a task index)."""
    torch.manual_seed(args.seed)
    device, pad = args.device, data.words.padding_idx
    task = data.tasks[args.task_id]
    train = task.splits["train"]
    order = epoch_batches("bucket", train.lengths, args.batch_size, torch.Generator().manual_seed(args.seed))
    indices = order[:args.steps]
    batches = [[collate(t.splits["train"], [i % len(t.splits["train"]) for i in idx], pad, device)
                for idx in indices] for t in data.tasks]
    joint = [(k % len(batches), batches[k % len(batches)][k]) for k in range(len(indices))]
    base = get_model("cnn-lstm", data, args.hidden_size, args.n_layer).to(device)
    masks = subnet_masks(base, len(data.tasks), torch.Generator().manual_seed(args.seed))
    models = {name: copy.deepcopy(base) for name in MODEL_COPIES}
    dev = task.splits["dev"]
    eval_task = TaskData(task.name, task.metric, task.tags,
                         {"dev": Split(dev.words[:args.eval_sentences], dev.tags[:args.eval_sentences])})
    return Workload(data, pad, train, indices, batches, joint, masks, models, base, eval_task)
