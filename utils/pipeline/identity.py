"""What a job computes, as a key: its script and flags, minus the per-invocation ones (where it writes, device,
--resume), with every input folder or file replaced by the key of the job that wrote it (or by a hash of its
content). Two jobs with the same key compute the same thing, so a finished one is reused instead of trained
again; the key is kept in the job's folder (layout.JOB)."""
import hashlib
import json
import os

from utils.runs import layout
from utils.pipeline.plan import Job

PER_INVOCATION = ("--resume", "--device", "--save_dir", "--exp_name", "--out_dir", "--overwrite")
PATHS = ("--data_path", "--init_weights", "--masks_path", "--single_dir")


def parse_flags(command: tuple[str, ...]) -> tuple[tuple[str, ...], dict[str, object]]:
    """(the script part, {flag: value, last one wins}); a flag without a value is True, --rounds takes many."""
    script, flags, i = [], {}, 0
    while i < len(command) and not command[i].startswith("--"):
        script.append(command[i])
        i += 1
    while i < len(command):
        flag, values = command[i], []
        i += 1
        while i < len(command) and not command[i].startswith("--"):
            values.append(command[i])
            i += 1
        flags[flag] = True if not values else values[0] if len(values) == 1 and flag != "--rounds" else values
    return tuple(script), flags


def content_hash(path: str) -> str:
    """sha256 of a file, or of a folder's files (names and contents, recursively, in name order)."""
    digest = hashlib.sha256()
    if os.path.isfile(path):
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        return digest.hexdigest()
    for folder, dirs, files in os.walk(path):
        dirs.sort()
        for name in sorted(files):
            if name not in (layout.LOCK, layout.JOB):
                digest.update(os.path.relpath(os.path.join(folder, name), path).encode())
                digest.update(content_hash(os.path.join(folder, name)).encode())
    return digest.hexdigest()


class Keys:
    """The keys of the jobs of one pipeline invocation, computed in plan order."""

    def __init__(self) -> None:
        self.by_out: dict[str, str] = {}
        self.contents: dict[str, str] = {}

    def of_path(self, path: str) -> object:
        """An input path's identity: the key of the job writing it (or writing a folder above it, with the rest of
        the path), the keys of the jobs writing folders below it, or else a hash of its content."""
        path = os.path.normpath(path)
        for out, key in self.by_out.items():
            if path == out or path.startswith(out + os.sep):
                return [key, os.path.relpath(path, out)]
        below = sorted((os.path.relpath(out, path), key) for out, key in self.by_out.items()
                       if out.startswith(path + os.sep))
        if below:
            return below
        if path not in self.contents:
            self.contents[path] = content_hash(path) if os.path.exists(path) else f"missing:{path}"
        return self.contents[path]

    def key(self, job: Job) -> str:
        """The job's key (and remember it as the identity of its folder)."""
        script, flags = parse_flags(job.command)
        identity = {"script": script, "kind": job.kind,
                    "flags": {flag: self.of_path(value) if flag in PATHS and isinstance(value, str) else value
                              for flag, value in sorted(flags.items()) if flag not in PER_INVOCATION}}
        key = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:20]
        if job.out:
            self.by_out[os.path.normpath(job.out)] = key
        return key


def recorded_key(folder: str) -> str | None:
    """The key a finished job left in its folder (layout.JOB), or None."""
    try:
        with open(os.path.join(folder, layout.JOB), encoding="utf-8") as handle:
            return json.load(handle).get("key")
    except (OSError, ValueError, AttributeError):
        return None


def record_key(folder: str, job: Job, key: str) -> None:
    tmp = os.path.join(folder, f".{layout.JOB}.tmp")
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump({"key": key, "kind": job.kind, "command": list(job.command)}, handle, indent=2)
    os.replace(tmp, os.path.join(folder, layout.JOB))


def finished_jobs(exp_dir: str) -> dict[str, str]:
    """{key: folder} of the finished jobs anywhere in the runs folder (real folders, not links to them)."""
    found: dict[str, str] = {}
    for folder, dirs, files in os.walk(exp_dir):
        dirs[:] = sorted(d for d in dirs if d not in (layout.REPORT, layout.SNAPSHOT, layout.STEP1_LOGS)
                         and not os.path.islink(os.path.join(folder, d)))
        if layout.JOB in files:
            key = recorded_key(folder)
            if key:
                found.setdefault(key, folder)
    return found
