"""Timing of benchmark arms: every arm runs once per repetition, one after another, the arm order rotating
every repetition after untimed warm-up repetitions, so a machine that slows down for a while slows every arm
alike. Summaries are medians and spreads over repetitions; ratios are medians of per-repetition ratios."""
import statistics
import time
from typing import Callable

import torch


def sync(device: str) -> None:
    """Wait for the device's queued work (CUDA runs asynchronously), so a timer reads the work's end."""
    if device.startswith("cuda"):
        torch.cuda.synchronize()


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


def summary(values: list[float]) -> dict:
    """Median and spread (min, max, interquartile range) of the repetitions."""
    ordered = sorted(values)
    q = statistics.quantiles(ordered, n=4) if len(ordered) > 1 else [ordered[0]] * 3
    return {"median": statistics.median(ordered), "min": ordered[0], "max": ordered[-1], "iqr": q[2] - q[0],
            "reps": len(ordered)}


def paired_ratio(times: dict[str, list[float]], first: str, second: str, per_first: float = 1.0,
                 per_second: float = 1.0) -> float:
    """Median over repetitions of (first's time per unit) / (second's time per unit)."""
    return statistics.median((a / per_first) / (b / per_second) for a, b in zip(times[first], times[second]))
