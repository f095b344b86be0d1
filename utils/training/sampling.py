"""Which task each step of joint training takes a batch from (Step 3 of the paper)."""
import torch

SAMPLINGS = ("proportional", "round-robin", "resample")
# The original's --trainer names for the same schedules.
TRAINER_SAMPLING = {"seq-label": "round-robin", "re-seq-label": "resample"}


def proportional(sizes: list[int], steps: int, generator: torch.Generator) -> list[int]:
    """`steps` draws of a task with probability ∝ its training-set size (Sanh et al. 2019), as the paper says."""
    weights = torch.tensor(sizes, dtype=torch.float)
    return torch.multinomial(weights, steps, replacement=True, generator=generator).tolist()


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


def epoch_schedule(sampling: str, sizes: list[int], batches: list[int], generator: torch.Generator) -> list[int]:
    """The positions (indices into the task list) of one epoch's steps."""
    if sampling == "proportional":
        return proportional(sizes, sum(batches), generator)
    if sampling == "round-robin":
        return round_robin(batches, generator)
    if sampling == "resample":
        return resample(batches, generator)
    raise ValueError(f"--sampling {sampling!r}: expected one of {', '.join(SAMPLINGS)}")
