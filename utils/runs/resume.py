"""Resumable runs: a run folder owned by one process, the training state saved after every epoch (weights,
optimisers, schedulers, RNG states, sampler position, best so far) and a marker that says a run finished."""
import fcntl
import os
import random

import numpy as np
import torch

from utils.runs.checkpoint import TEMP_PREFIX, TEMP_SUFFIX, atomic_save, load_tensors
from utils.runs.layout import LOCK, STATE


class RunFolderBusy(RuntimeError):
    """Another live process holds the run folder."""


class RunLock:
    """An advisory lock on <folder>/.lock for the lifetime of a run: a second run of the same folder fails at
    once, and the lock dies with its process (Ctrl-C, kill -9), so a stopped run never blocks its resumption.
    Taking it removes the temporary files of checkpoints a stopped owner was writing (kill -9 mid-save)."""

    def __init__(self, folder: str) -> None:
        self.folder = folder
        self.handle = None

    def acquire(self) -> "RunLock":
        os.makedirs(self.folder, exist_ok=True)
        self.handle = open(os.path.join(self.folder, LOCK), "a+", encoding="utf-8")
        try:
            fcntl.flock(self.handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self.handle.seek(0)
            owner = self.handle.read().strip() or "?"
            self.handle.close()
            raise RunFolderBusy(f"{self.folder} is in use by another run (pid {owner}): one run owns a folder") from None
        self.handle.seek(0)
        self.handle.truncate()
        self.handle.write(str(os.getpid()))
        self.handle.flush()
        for name in os.listdir(self.folder):
            if name.startswith(TEMP_PREFIX) and name.endswith(TEMP_SUFFIX):
                os.unlink(os.path.join(self.folder, name))
        return self

    def release(self) -> None:
        if self.handle is not None:
            self.handle.close()
            self.handle = None


def rng_state(generator: torch.Generator) -> dict:
    """Every random state a run draws from: torch (CPU and CUDA), the batch-order generator, Python, NumPy."""
    np_state = np.random.get_state()
    return {"torch": torch.get_rng_state(), "generator": generator.get_state(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
            "python": random.getstate(), "numpy": [np_state[0], torch.from_numpy(np_state[1].astype(np.int64)),
                                                    *np_state[2:]]}


def set_rng_state(state: dict, generator: torch.Generator) -> None:
    """Restore what `rng_state` captured, so a resumed run draws the same numbers as an uninterrupted one."""
    torch.set_rng_state(state["torch"])
    generator.set_state(state["generator"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    random.setstate(state["python"])
    kind, keys, *rest = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), *rest))


def save_training_state(folder: str, state: dict) -> None:
    """Write the run's resume state atomically: a crash leaves the previous epoch's state intact."""
    atomic_save(state, os.path.join(folder, STATE))


def load_training_state(folder: str) -> dict | None:
    """The saved resume state of a run folder, or None when it has none."""
    path = os.path.join(folder, STATE)
    return load_tensors(path) if os.path.isfile(path) else None


def clear_training_state(folder: str) -> None:
    """Drop the resume state once the run's results are written."""
    path = os.path.join(folder, STATE)
    if os.path.exists(path):
        os.remove(path)

