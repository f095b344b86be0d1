"""Running a plan: each stage's jobs as child processes (Step 1's tasks side by side, JOBS per device, round-robin
over DEVICES), a finished job skipped, one with the same key elsewhere in the runs folder reused, progress read
from the jobs' metrics.jsonl and scores.jsonl, and a clean stop of every child on SIGINT, SIGTERM or SIGHUP with
the command that resumes the run."""
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field

from utils.pipeline import identity
from utils.pipeline.plan import Job, Stage
from utils.runs import layout

SIGNALS = {signal.SIGINT: 130, signal.SIGTERM: 143, signal.SIGHUP: 129}
POLL_SECONDS = 0.3
GRACE_SECONDS = 10.0


class Interrupted(Exception):
    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


class JobFailed(Exception):
    """A job ended with exit status `code`; `message` says what failed, None when the job printed it itself."""

    def __init__(self, code: int, message: str | None = None) -> None:
        super().__init__(message or f"exit {code}")
        self.code, self.message = code, message


@dataclass
class Options:
    """How to run: the interpreter, the runs folder (reuse and OVERWRITE stay inside it), JOBS and DEVICES, and the
    command line that resumes the run (for the interruption message)."""

    python: str
    exp_dir: str
    jobs: int = 1
    devices: list[str] = field(default_factory=list)
    reuse: bool = True
    resume_hint: str = ""
    out: object = sys.stdout


def read_jsonl(path: str) -> list[dict]:
    try:
        with open(path, encoding="utf-8") as handle:
            return [json.loads(line) for line in handle if line.strip()]
    except (OSError, ValueError):
        return []


def setting_of(config: dict, key: str) -> object:
    """A setting of a config.json, flat or grouped ({"group": {key: value}})."""
    if key in config:
        return config[key]
    return next((group[key] for group in config.values() if isinstance(group, dict) and key in group), None)


class Progress:
    """What a Step 1 task job has finished so far, read from its folder: one line per new epoch (metrics.jsonl)
    and per new round (scores.jsonl), as train_single.py prints them."""

    def __init__(self, folder: str) -> None:
        self.folder, self.epochs, self.rounds, self.total = folder, 0, 0, None

    def lines(self) -> list[str]:
        if self.total is None:
            try:
                with open(os.path.join(self.folder, layout.CONFIG), encoding="utf-8") as handle:
                    self.total = setting_of(json.load(handle), "epochs")
            except (OSError, ValueError):
                return []
        out = []
        epochs = read_jsonl(os.path.join(self.folder, layout.METRICS))
        for index in range(self.epochs, len(epochs)):
            record = epochs[index]
            dev = record["dev"][record["task"]]
            earlier = [r["dev"][r["task"]] for r in epochs[:index] if r["round"] == record["round"]]
            best = "  *best" if all(dev > e for e in earlier) else ""
            out.append(f"[{record['task']}] round {record['round']} epoch {record['epoch']}/{self.total}: dev "
                       f"{dev:.2f}{best}  loss {record['loss']:.4f}  {record['seconds']:.0f}s")
        self.epochs = max(self.epochs, len(epochs))
        scores = read_jsonl(os.path.join(self.folder, layout.SCORES))
        task = epochs[-1]["task"] if epochs else "?"
        for r in scores[self.rounds:]:
            out.append(f"[{task}] round {r['round']}: kept {r['kept']:.2f}%  dev {r['dev']:.2f}  test {r['test']:.2f}  "
                       f"best epoch {r['best_epoch']}/{r['epochs']}  {r['seconds']:.0f}s")
        self.rounds = max(self.rounds, len(scores))
        return out


class Executor:
    def __init__(self, options: Options) -> None:
        self.options = options
        self.keys = identity.Keys()
        self.finished = identity.finished_jobs(options.exp_dir) if options.reuse else {}
        self.running: dict[subprocess.Popen, Job] = {}
        self.stage = ""
        self.starting = False
        self.deferred: int | None = None

    def say(self, line: str) -> None:
        print(line, file=self.options.out, flush=True)

    # --- signals ---

    def __enter__(self) -> "Executor":
        def handler(signum: int, frame) -> None:
            if self.starting:  # a child exists but is not in self.running yet: stop it once it is
                self.deferred = signum
                return
            raise Interrupted(signum)

        self.previous = {s: signal.signal(s, handler) for s in SIGNALS}
        return self

    def __exit__(self, kind, error, traceback) -> bool:
        for s, previous in self.previous.items():
            signal.signal(s, previous)
        if isinstance(error, Interrupted):
            for s in SIGNALS:
                signal.signal(s, signal.SIG_IGN)
            stopped = self.stop_all()
            during = f" during '{self.stage}'" if self.stage else ""
            # on a terminal, a job's progress bar may have left the cursor mid-line
            print(f"{chr(10) if sys.stderr.isatty() else ''}interrupted by {error}{during}: stopped {stopped} job(s); "
                  f"to resume it from its last finished epoch, re-run: {self.options.resume_hint}", file=sys.stderr,
                  flush=True)
            sys.exit(SIGNALS[error.signum])
        return False

    def stop_all(self) -> int:
        """SIGTERM to every running job's process group, SIGKILL to what is left after GRACE_SECONDS."""
        processes = [p for p in self.running if p.poll() is None]
        for process in processes:
            try:
                os.killpg(process.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + GRACE_SECONDS
        while any(p.poll() is None for p in processes) and time.monotonic() < deadline:
            time.sleep(0.1)
        for process in processes:
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            process.wait()
        return len(processes)

    # --- jobs ---

    def start(self, job: Job, device: str | None = None, threads: int | None = None) -> subprocess.Popen:
        env = dict(os.environ)
        if threads and "OMP_NUM_THREADS" not in env:
            env["OMP_NUM_THREADS"] = str(threads)
        if job.log:
            env["PYTHONUNBUFFERED"] = "1"
        command = [self.options.python, *job.command, *(("--device", device) if device else ())]
        if job.log:
            os.makedirs(os.path.dirname(job.log), exist_ok=True)
        self.options.out.flush()
        log = open(job.log, "w", encoding="utf-8") if job.log else None
        self.starting = True
        try:
            process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT if log else None, env=env,
                                       start_new_session=True)
            self.running[process] = job
        finally:
            self.starting = False
            if log:
                log.close()
        if self.deferred is not None:
            raise Interrupted(self.deferred)
        return process

    def settled(self, job: Job, key: str) -> bool:
        """True when the job need not run: its own folder is finished with this key, or a finished job with this
        key elsewhere in the runs folder is linked in its place (said on the terminal)."""
        if job.out is None:
            return False
        marker = job.finished_marker
        if marker and os.path.isfile(marker) and identity.recorded_key(job.out) == key:
            self.say(f"{job.title}: {job.out} finished already; nothing to do")
            return True
        source = self.finished.get(key)
        if source is None or os.path.lexists(job.out) or not marker or \
                not os.path.isfile(os.path.join(source, os.path.basename(marker))):
            return False
        os.makedirs(os.path.dirname(job.out), exist_ok=True)
        os.symlink(os.path.relpath(source, os.path.dirname(job.out)), job.out)
        self.say(f"{job.title}: reusing {source} (finished, same settings; REUSE=0 trains it again)")
        return True

    def done(self, job: Job, key: str) -> None:
        if job.out and os.path.isdir(job.out) and not os.path.islink(job.out):
            identity.record_key(job.out, job, key)
            self.finished.setdefault(key, job.out)

    def run_one(self, job: Job) -> None:
        key = self.keys.key(job)
        if self.settled(job, key):
            return
        process = self.start(job)
        code = self.wait(process)
        if code != 0:
            raise JobFailed(code)
        self.done(job, key)

    def wait(self, process: subprocess.Popen) -> int:
        while process.poll() is None:
            time.sleep(POLL_SECONDS)
        del self.running[process]
        return process.returncode

    def run_parallel(self, jobs: tuple[Job, ...]) -> None:
        """Step 1's task jobs, JOBS at a time per device, round-robin over DEVICES; a failed task does not stop
        the others, and the failures are named at the end."""
        devices = self.options.devices or [None]
        slots = self.options.jobs * len(devices)
        threads = math.ceil((os.cpu_count() or 1) / slots) if slots > 1 else None
        pending = []
        for job in jobs:
            key = self.keys.key(job)
            if not self.settled(job, key):
                pending.append((job, key))
        placed: dict[subprocess.Popen, tuple[Job, str, int, Progress]] = {}
        failures: list[str] = []
        queue = list(enumerate(pending))
        while queue or placed:
            for slot_index in range(len(devices)):
                busy = sum(1 for _, _, s, _ in placed.values() if s == slot_index)
                while busy < self.options.jobs:
                    position = next((n for n, (i, _) in enumerate(queue) if i % len(devices) == slot_index), None)
                    if position is None:
                        break
                    _, (job, key) = queue.pop(position)
                    device = devices[slot_index]
                    self.say(f"{job.title}{f' on {device}' if device else ''}: log in {job.log}")
                    process = self.start(job, device, threads)
                    placed[process] = (job, key, slot_index, Progress(job.out))
                    busy += 1
            time.sleep(POLL_SECONDS)
            for process, (job, key, slot_index, progress) in list(placed.items()):
                for line in progress.lines():
                    self.say(line)
                if process.poll() is None:
                    continue
                for line in progress.lines():
                    self.say(line)
                del placed[process], self.running[process]
                if process.returncode == 0:
                    self.done(job, key)
                else:
                    where = f" (on {devices[slot_index]})" if devices[slot_index] else ""
                    failures.append(f"{job.title}{where} failed (log in {job.log}): {last_line(job.log)}")
        if failures:
            raise JobFailed(1, "; ".join(failures))

    def run(self, stages: list[Stage]) -> None:
        for stage in stages:
            self.stage = stage.title
            self.say(f"== {stage.title}")
            if stage.parallel:
                self.run_parallel(stage.jobs)
            else:
                for job in stage.jobs:
                    self.run_one(job)
        self.stage = ""


def last_line(path: str | None) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            lines = [line.strip() for line in handle.read().replace("\r", "\n").splitlines() if line.strip()]
    except (OSError, TypeError):
        return "(no log)"
    return lines[-1] if lines else "(empty log)"


def remove_outputs(folders: list[str], exp_dir: str) -> None:
    """OVERWRITE=1: delete the run's folders, each only when it lies inside EXP_DIR (after resolving links); a
    link is removed, never what it points to."""
    root = os.path.realpath(exp_dir)
    for folder in folders:
        if not os.path.lexists(folder):
            continue
        target = os.path.realpath(folder) if not os.path.islink(folder) else os.path.realpath(os.path.dirname(folder))
        if not (target + os.sep).startswith(root + os.sep) or target == root:
            raise ValueError(f"OVERWRITE=1 would delete {folder} ({target}), which is not inside EXP_DIR={root}: "
                             "remove it yourself")
        if os.path.islink(folder):
            os.unlink(folder)
        else:
            shutil.rmtree(folder)
