"""Which task each step of joint training takes a batch from (Step 3 of the paper)."""
import math

import torch

SAMPLINGS = ("proportional", "round-robin", "resample", "temperature")
# The original's --trainer names for the same schedules.
TRAINER_SAMPLING = {"seq-label": "round-robin", "re-seq-label": "resample"}


def proportional(sizes: list[float], steps: int, generator: torch.Generator) -> list[int]:
    """`steps` draws of a task with probability ∝ its training-set size (Sanh et al. 2019), as the paper says
    (or ∝ any non-negative weights given in place of the sizes)."""
    weights = torch.tensor(sizes, dtype=torch.float)
    return torch.multinomial(weights, steps, replacement=True, generator=generator).tolist()


def tempered(sizes: list[int], temperature: float) -> list[float]:
    """The weights N_t^(1/T) of temperature sampling, scaled by the largest (computed in log space, so that a
    small T does not overflow); T = 1 gives the sizes themselves. A T that is not a positive number is a ValueError."""
    if not (math.isfinite(temperature) and temperature > 0):
        raise ValueError(f"--temperature {temperature}: expected a positive number (1 is proportional sampling)")
    if temperature == 1:
        return list(sizes)
    logs = [math.log(n) if n > 0 else -math.inf for n in sizes]
    top = max(logs)
    return [math.exp((log - top) / temperature) if log > -math.inf else 0.0 for log in logs]


def temperature_sampling(sizes: list[int], steps: int, generator: torch.Generator, temperature: float) -> list[int]:
    """`steps` draws of a task with probability ∝ N_t^(1/T), N_t its training-set size (jiant's temperature
    sampler): T = 1 is proportional sampling, draw for draw; T → ∞ tends to uniform."""
    return proportional(tempered(sizes, temperature), steps, generator)


def round_robin(batches: list[int], generator: torch.Generator) -> list[int]:
    """One batch of each task in turn, in a random task order drawn per epoch; a task drops out when its
    batches run out (the original's `--trainer seq-label`)."""
    order = torch.randperm(len(batches), generator=generator).tolist()
    left = list(batches)
    schedule = []
    while any(left):
        for task in order:
            if left[task]:
                schedule.append(task)
                left[task] -= 1
    return schedule


def resample(batches: list[int], generator: torch.Generator) -> list[int]:
    """The original's `--trainer re-seq-label` (used for ptb): Σ_t batches_t rounds, each offering one turn to
    every task in a task order drawn once per epoch, so about T·Σ batches per epoch; a task whose batches run out
    gets new random ones and loses that turn (the training loop skips it)."""
    order = torch.randperm(len(batches), generator=generator).tolist()
    return order * sum(batches)


def refill_batching(batching: str, sampling: str, first: bool) -> str:
    """How a task's next batches are composed. With `original` batching, as the original's loaders: random
    batches the first time (its loaders start with a RandomSampler), then bucketed, except that `resample`
    re-creates them random; the other modes are what they say (Step 1's passes never draw a first refill)."""
    if batching == "original" and (first or sampling == "resample"):
        return "random"
    return batching


def epoch_schedule(sampling: str, sizes: list[int], batches: list[int], generator: torch.Generator,
                   temperature: float | None = None) -> list[int]:
    """The positions (indices into the task list) of one epoch's steps; `temperature` is --temperature, which
    `temperature` sampling needs (its epoch has as many steps as a proportional one: Σ batches)."""
    if sampling == "proportional":
        return proportional(sizes, sum(batches), generator)
    if sampling == "temperature":
        if temperature is None:
            raise ValueError("--sampling temperature needs --temperature")
        return temperature_sampling(sizes, sum(batches), generator, temperature)
    if sampling == "round-robin":
        return round_robin(batches, generator)
    if sampling == "resample":
        return resample(batches, generator)
    raise ValueError(f"--sampling {sampling!r}: expected one of {', '.join(SAMPLINGS)}")
