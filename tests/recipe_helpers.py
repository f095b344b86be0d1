"""Instruments for the recipe contract tests (tests/test_recipe_*.py): record every optimiser step (learning
rate, gradients after clipping, optimiser identity), script the dev/test scores an evaluation returns, and catch
the model a training script builds, so each rule of the paper's recipe is checked on a tiny model in seconds."""
import functools
import random
from contextlib import contextmanager
from dataclasses import dataclass, field

import torch
from torch.optim.optimizer import register_optimizer_step_pre_hook

from tests.conftest import TINY_CORPUS
from utils.data.dataset import Dataset, build_vocabularies, embedding_table, index_corpus

OPTIM = "sgd(lr=0.1, momentum=0.9)"


def make_dataset(corpus: dict, dim: int = 10, seed: int = 0) -> Dataset:
    """A Dataset from a task -> split -> [(words, tags)] corpus with a random `dim`-wide embedding table."""
    words, tags = build_vocabularies(corpus)
    table, rows, _ = embedding_table(words, {}, dim, torch.Generator().manual_seed(seed))
    return Dataset("tiny", words, index_corpus(corpus, words, tags), table, rows)


def numbered_corpus(sizes: dict[str, int], seed: int = 0) -> dict:
    """Tiny-corpus tasks with `sizes[task]` training sentences each, every sentence unique (its first word is
    `w<i>`), so a batch's rows tell which training sentences it holds. Dev and test are the tiny corpus's."""
    rng = random.Random(seed)
    corpus = {}
    for task, n in sizes.items():
        base = TINY_CORPUS[task]["train"]
        train = []
        for i in range(n):
            words, tags = base[rng.randrange(len(base))]
            train.append(([f"w{i}", *words[1:]], list(tags)))
        corpus[task] = {"train": train, "dev": TINY_CORPUS[task]["dev"], "test": TINY_CORPUS[task]["test"]}
    return corpus


def attr(module: torch.nn.Module, name: str) -> torch.Tensor:
    """The tensor a dotted name resolves to right now: inside torch.func.functional_call this is the substituted
    (masked) weight, not the stored parameter."""
    return functools.reduce(getattr, name.split("."), module)


def snapshot(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def states_equal(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@dataclass
class Step:
    """One optimiser step as the optimiser saw it: after backward and clipping, before the update."""

    optimizer: torch.optim.Optimizer
    lr: float
    fresh: bool                    # no momentum buffer yet: the optimiser's first step
    grad_norm: float               # total L2 norm over all gradients
    grad_max: float                # largest |gradient entry|
    params: dict[int, torch.Tensor] = field(repr=False, default_factory=dict)   # id(parameter) -> its value

    def named(self, model: torch.nn.Module) -> dict[str, torch.Tensor]:
        """The recorded parameter values by the model's parameter names."""
        return {n: self.params[id(p)] for n, p in model.named_parameters() if id(p) in self.params}


@dataclass
class Recorder:
    """A time line of optimiser steps and evaluations (`events` holds Step or Evaluation objects in order)."""

    events: list = field(default_factory=list)

    @property
    def steps(self) -> list[Step]:
        return [e for e in self.events if isinstance(e, Step)]

    @property
    def evaluations(self) -> list["Evaluation"]:
        return [e for e in self.events if isinstance(e, Evaluation)]

    def epochs(self) -> list[list[Step]]:
        """Steps grouped by the dev evaluations that close each epoch (trailing steps form a last group)."""
        groups, current = [], []
        for event in self.events:
            if isinstance(event, Step):
                current.append(event)
            elif event.split == "dev" and current:
                groups.append(current)
                current = []
        return groups + ([current] if current else [])


@contextmanager
def record_steps(recorder: Recorder, keep_params: bool = False):
    """Append a Step to `recorder` at every optimiser step of any optimiser while the block runs."""
    def hook(optimizer, args, kwargs):
        everything = [p for g in optimizer.param_groups for p in g["params"]]
        grads = [p.grad.detach() for p in everything if p.grad is not None]
        norm = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads])).item()
        recorder.events.append(Step(optimizer, optimizer.param_groups[0]["lr"], not optimizer.state, norm,
                                    max(g.abs().max().item() for g in grads),
                                    {id(p): p.detach().clone() for p in everything} if keep_params else {}))
    handle = register_optimizer_step_pre_hook(hook)
    try:
        yield recorder
    finally:
        handle.remove()


@dataclass
class Evaluation:
    """One call of evaluate(): the split, the task, the mask and the stored weights it was given."""

    split: str
    task: str
    mask: dict | None
    state: dict = field(repr=False)


def scripted_evaluate(recorder: Recorder, scores: dict[str, list[float]], default: float = 0.0):
    """A stand-in for utils.training.task.evaluate: the n-th call on a split (per task) returns scores[split][n]
    (`default` past the end), and records the call with a snapshot of the weights it was given."""
    counts: dict = {}

    def evaluate(model, mask, task_id, task, split, *args, **kwargs):
        recorder.events.append(Evaluation(split, task.name, mask, snapshot(model)))
        n = counts.get((split, task.name), 0)
        counts[(split, task.name)] = n + 1
        values = scores.get(split, [])
        return values[n] if n < len(values) else default
    return evaluate


def catch_models(monkeypatch, module) -> list:
    """Patch `module.build_model` so every model it builds is appended to the returned list."""
    built = []
    original = module.build_model

    def build_model(*args, **kwargs):
        model = original(*args, **kwargs)
        built.append(model)
        return model
    monkeypatch.setattr(module, "build_model", build_model)
    return built


def scale_loss(monkeypatch, factor: float) -> None:
    """Multiply every task loss by `factor`, so the gradient is far above any clipping threshold."""
    from models.heads import TaskHeads

    original = TaskHeads.loss
    monkeypatch.setattr(TaskHeads, "loss", lambda self, *args: factor * original(self, *args))
