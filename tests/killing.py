"""Killing a run the way a crash or `kill -9` would: SIGKILL to its whole process group a random moment after it
is ready (kill -9 and resume tests)."""
import os
import random
import signal
import subprocess
import time
from pathlib import Path
from typing import Callable

REPO = Path(__file__).resolve().parents[1]


def kill_when(command: list[str], env: dict, ready: Callable[[], bool], rng: random.Random) -> None:
    """Start `command` in the repository root, wait until `ready()` holds, wait a random moment more (up to 0.3 s,
    shorter than what is left to train), then SIGKILL its whole process group."""
    process = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    try:
        deadline = time.time() + 300
        while not ready() and process.poll() is None and time.time() < deadline:
            time.sleep(0.02)
        assert process.poll() is None, "the run ended before the kill point"
        time.sleep(rng.uniform(0.0, 0.3))
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
