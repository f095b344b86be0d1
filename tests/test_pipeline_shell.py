"""The shell side of the pipeline (utils/pipeline.sh through run_*.sh): PYTHON and BATCHING reach every script,
bad JOBS / NAME / PYTHON are one-line errors, OVERWRITE=1 deletes only inside EXP_DIR, round lines are shown as
they are produced, and Ctrl-C or SIGTERM stops every process of a run."""
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SCRIPTS = ("run_conll03.sh", "run_ptb.sh", "run_ontonotes.sh")
ROUND_LINE = re.compile(r"^\[(\w+)\] round (\d+): kept ([\d.]+)%  dev ([\d.]+)  test ([\d.]+)")


def environment(**extra: str) -> dict:
    return {**os.environ, "PYTHON": sys.executable, "OMP_NUM_THREADS": "1", **extra}


def run(script: str, args: list[str], env: dict, timeout: int = 120) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", script, *args], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=timeout)


def run_processes(marker: str) -> list[str]:
    """Command lines of the live processes that mention `marker` (the run's EXP_DIR), from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if marker in cmdline and entry.name != str(os.getpid()):
            found.append(cmdline)
    return found


@pytest.mark.parametrize("script", SCRIPTS)
def test_help_lists_python_and_batching(script):
    done = run(script, ["help"], environment())
    assert done.returncode == 0
    assert f"PYTHON={sys.executable}" in done.stdout
    assert "BATCHING=original" in done.stdout
    assert ("negative transfer on NER" in done.stdout) == (script == "run_conll03.sh")


@pytest.mark.parametrize("jobs", ["0", "abc", "-1", "1.5"])
def test_bad_jobs_is_one_line(tmp_path, jobs):
    done = run("run_conll03.sh", ["single"], environment(JOBS=jobs, EXP_DIR=str(tmp_path / "exp")))
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and f"JOBS={jobs}" in done.stderr
    assert not (tmp_path / "exp").exists()


@pytest.mark.parametrize("name", ["../outside", "../../outside", "a/b", "..", ".", "-x", "a b"])
def test_bad_name_deletes_nothing(tmp_path, name):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("keep")
    exp = tmp_path / "exp"
    (exp / "warmup").mkdir(parents=True)
    (exp / "mtl").mkdir()
    for mode in ("warmup", "mtl", "all"):
        done = run("run_conll03.sh", [mode], environment(NAME=name, OVERWRITE="1", EXP_DIR=str(exp)))
        assert done.returncode == 2
        assert done.stderr.count("\n") == 1 and "NAME=" in done.stderr
    assert (outside / "keep.txt").read_text() == "keep"
    assert (exp / "warmup").is_dir() and (exp / "mtl").is_dir()


def test_overwrite_refuses_a_link_out_of_exp_dir(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("keep")
    exp = tmp_path / "exp"
    (exp / "single/cp").mkdir(parents=True)
    (exp / "single/cp/0").symlink_to(outside)
    stub = tmp_path / "processed"       # passes the scripts' "is it prepared" check; training would fail on it
    stub.mkdir()
    (stub / "meta.json").write_text("{}")
    done = run("run_conll03.sh", ["single"], environment(OVERWRITE="1", EXP_DIR=str(exp), PROCESSED=str(stub)))
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1 and "not inside EXP_DIR" in done.stderr
    assert (outside / "keep.txt").read_text() == "keep"


def test_overwrite_replaces_a_folder_inside_exp_dir(tmp_path):
    stale = tmp_path / "exp/warmup/old"
    stale.mkdir(parents=True)
    (stale / "stale.txt").write_text("stale")
    stub = tmp_path / "processed"       # a meta.json alone: the scripts take it as prepared, training fails on it
    stub.mkdir()
    (stub / "meta.json").write_text("{}")
    env = environment(EXP_DIR=str(tmp_path / "exp"), NAME="old", PROCESSED=str(stub))
    kept = run("run_conll03.sh", ["warmup"], env)
    assert kept.returncode == 1               # unreadable data; without OVERWRITE the folder is kept to resume
    assert (stale / "stale.txt").exists()
    replaced = run("run_conll03.sh", ["warmup"], {**env, "OVERWRITE": "1"})
    assert replaced.returncode != 0          # unreadable data: the folder was removed before training failed
    assert not (stale / "stale.txt").exists()


def test_missing_python_is_one_line(tmp_path):
    done = run("run_ontonotes.sh", ["warmup"], environment(PYTHON=str(tmp_path / "nope")))
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "PYTHON=" in done.stderr


def test_scripts_run_python_from_the_python_variable(shared_data, tmp_path):
    """A broken `python` first on PATH: the run fails without PYTHON and works with it."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "python").write_text("#!/bin/sh\necho 'not the project python' >&2\nexit 97\n")
    (bin_dir / "python").chmod(0o755)
    data = tmp_path / "conll2012"
    for split, name in (("train", "example"), ("development", "example2"), ("test", "example2")):
        (data / split).mkdir(parents=True)
        (data / split / f"{name}.gold_conll").symlink_to(shared_data / "conll2012-sample" / f"{name}.gold_conll")
    env = {**environment(ONTONOTES_DIR=str(data), EMBEDDING="", PROCESSED=str(tmp_path / "p")),
           "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    broken = run("run_ontonotes.sh", ["prepare"], {k: v for k, v in env.items() if k != "PYTHON"})
    assert broken.returncode == 97 and "not the project python" in broken.stderr
    done = run("run_ontonotes.sh", ["prepare"], env)
    assert done.returncode == 0, done.stderr
    assert json.loads((tmp_path / "p/meta.json").read_text())["tasks"][0]["name"] == "pos"


def test_bad_batching_reaches_train_single_as_one_line(processed_conll03, tmp_path):
    env = environment(BATCHING="zigzag", JOBS="3", PROCESSED=str(processed_conll03), EXP_DIR=str(tmp_path / "exp"))
    done = run("run_conll03.sh", ["single"], env)
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1
    assert "task 0 1 2" in done.stderr and "--batching" in done.stderr and "zigzag" in done.stderr


def test_bad_batching_reaches_train_mtl(processed_conll03, tmp_path):
    env = environment(BATCHING="zigzag", PROCESSED=str(processed_conll03), EXP_DIR=str(tmp_path / "exp"))
    done = run("run_conll03.sh", ["warmup"], env)
    assert done.returncode == 2 and "--batching" in done.stderr and "zigzag" in done.stderr


def test_single_shows_round_lines_as_they_come(processed_conll03, tmp_path):
    """JOBS=1: task 0's round lines reach the terminal while task 0 runs, before task 2 has started."""
    exp = tmp_path / "exp"
    env = environment(BATCHING="bucket", JOBS="1", PROCESSED=str(processed_conll03), EXP_DIR=str(exp),
                      TRAIN_LIMIT="50", EVAL_LIMIT="50", EPOCHS="1", PRUNING_ITER="1", FINAL_RATE="0.5")
    process = subprocess.Popen(["bash", "run_conll03.sh", "single"], cwd=REPO, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    printed, task2_started = [], []
    for line in process.stdout:
        match = ROUND_LINE.match(line)
        if match:
            printed.append(match.groups())
            if match.group(1) == "pos":
                task2_started.append((exp / "single/cp/2").exists())
    assert process.wait(timeout=120) == 0, process.stderr.read()
    assert task2_started == [False, False]
    for task_id, task in enumerate(("pos", "chunk", "ner")):
        scores = [json.loads(line) for line in (exp / f"single/cp/{task_id}/scores.jsonl").read_text().splitlines()]
        shown = [p for p in printed if p[0] == task]
        assert [int(p[1]) for p in shown] == [s["round"] for s in scores]
        assert [float(p[3]) for p in shown] == pytest.approx([s["dev"] for s in scores], abs=0.006)


def session_processes(session: int) -> list[int]:
    """The live processes of a session (field 6 of /proc/<pid>/stat), zombies left out."""
    found = []
    for entry in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = entry.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[3]) == session and fields[0] != "Z":
            found.append(int(entry.parent.name))
    return found


def wait_for(condition, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_stops_every_step1_job(processed_conll03, tmp_path, sig, code):
    exp = tmp_path / "exp"
    env = environment(JOBS="2", TRAIN_LIMIT="300", EPOCHS="5", PROCESSED=str(processed_conll03), EXP_DIR=str(exp))
    process = subprocess.Popen(["bash", "run_conll03.sh", "single"], cwd=REPO, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        wait_for(lambda: sum("train_single.py" in c for c in run_processes(str(exp))) == 2)
        process.send_signal(sig)
        _, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    assert process.returncode == code
    time.sleep(1)
    assert run_processes(str(exp)) == [] and session_processes(process.pid) == []
    lines = stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"interrupted by {sig.name}")
    assert lines[0].endswith("to resume it from its last finished epoch, re-run: bash run_conll03.sh single")


def test_ctrl_c_stops_the_warmup(processed_conll03, tmp_path):
    """SIGINT to the whole process group, as a terminal sends it: train_mtl.py stops without a traceback."""
    exp = tmp_path / "exp"
    env = environment(TRAIN_LIMIT="2000", EPOCHS="50", PROCESSED=str(processed_conll03), EXP_DIR=str(exp))
    process = subprocess.Popen(["bash", "run_conll03.sh", "warmup"], cwd=REPO, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        wait_for(lambda: any("train_mtl.py" in c for c in run_processes(str(exp))))
        time.sleep(2)
        os.killpg(process.pid, signal.SIGINT)
        _, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    assert process.returncode == 130
    time.sleep(1)
    assert run_processes(str(exp)) == [] and session_processes(process.pid) == []
    assert "Traceback" not in stderr
    [line] = [line for line in stderr.splitlines() if line.startswith("interrupted by SIGINT")]
    again = re.search(r"re-run: (NAME=(\S+) )?bash run_conll03.sh warmup$", line)
    assert again
    # the run's NAME only when the run had written its folder (the name is then needed to resume it).
    written = list((exp / "warmup").glob("*")) if (exp / "warmup").exists() else []
    assert [again.group(2)] == [p.name for p in written] if written else again.group(1) is None


def test_two_runs_with_one_name_exactly_one_proceeds(processed_conll03, tmp_path):
    """A second `warmup` with the same NAME and EXP_DIR, started while the first trains, stops at once with one
    line naming the folder; the first goes on training (then it is stopped here, to save time)."""
    exp = tmp_path / "exp"
    env = environment(TRAIN_LIMIT="2000", EVAL_LIMIT="100", WARMUP_EPOCHS="20", NAME="same",
                      PROCESSED=str(processed_conll03), EXP_DIR=str(exp))
    first = subprocess.Popen(["bash", "run_conll03.sh", "warmup"], cwd=REPO, env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        wait_for(lambda: (exp / "warmup/same/config.json").exists())
        second = run("run_conll03.sh", ["warmup"], env)
        assert first.poll() is None, "the first run should still be training"
        first.send_signal(signal.SIGTERM)
        first.communicate(timeout=60)
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)
    assert second.returncode == 1
    errors = [line for line in second.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and f"{exp / 'warmup/same'} is in use by another run" in errors[0]
    assert first.returncode == 143 and not (exp / "warmup/same/results.json").exists()
