"""Where bench/bench.py's outputs go and what they record: the commit measured (git rev-parse HEAD), whether the
work tree had uncommitted changes, the date, and the default file bench/results/bench-<commit>.json (the short
commit, "-dirty" appended for a tree with uncommitted changes, the device named when it is not the CPU);
files are written atomically."""
import datetime
import os
import re
import subprocess

from utils.runtime import write_json

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS_DIR = os.path.join(REPO, "bench", "results")
SHORT = 12  # hex digits of the commit in a default file name


def git(*words: str) -> str | None:
    """A git command's output in the repository, None when git or the repository is missing."""
    try:
        done = subprocess.run(["git", *words], cwd=REPO, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def provenance() -> dict:
    """The commit, whether the tree is dirty (any change or untracked file), and the date, UTC."""
    commit = git("rev-parse", "HEAD")
    status = git("status", "--porcelain") if commit else None
    return {"commit": commit, "dirty": None if status is None else status != "",
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}


def default_path(source: dict, device: str) -> str:
    """bench/results/bench[-<device>]-<commit>[-dirty].json."""
    commit = source["commit"][:SHORT] if source["commit"] else "unknown"
    device_part = "" if device == "cpu" else "-" + re.sub(r"[^A-Za-z0-9]", "", device)
    dirty = "-dirty" if source["dirty"] else ""
    return os.path.join(RESULTS_DIR, f"bench{device_part}-{commit}{dirty}.json")


def unwritable(path: str) -> str | None:
    """Why the file `path` cannot be written, its missing folders created first (None when it can)."""
    folder = os.path.dirname(os.path.abspath(path))
    while not os.path.exists(folder):
        folder = os.path.dirname(folder)
    if not os.path.isdir(folder):
        return f"{folder} is not a folder"
    return None if os.access(folder, os.W_OK) else f"{folder} is not writable"


def write_text(path: str, text: str) -> None:
    """Write a text file through a temporary file and a rename, its folder created if needed."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


def save(path: str, result: dict) -> None:
    """The results as JSON at `path`, its folder created if needed."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    write_json(path, result)
