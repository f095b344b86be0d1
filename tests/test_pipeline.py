"""The run scripts end to end (run_<setting>.sh -> utils.pipeline): every bad variable or mode is one line before
anything runs (a misspelled one too), PYTHON chooses the interpreter, OVERWRITE=1 deletes only inside EXP_DIR,
Step 1's progress is shown as it comes, Ctrl-C or SIGTERM stops every job and prints the command that resumes the
run with the user's variables, one run owns a folder, and `prepare` refuses a processed folder made from other
inputs."""
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from utils.runs import layout

REPO = Path(__file__).resolve().parents[1]
SCRIPTS = ("run_conll03.sh", "run_ptb.sh", "run_ontonotes.sh", "run_columns.sh")
ROUND_LINE = re.compile(r"^\[(\w+)\] round (\d+): kept ([\d.]+)%  dev ([\d.]+)  test ([\d.]+)")
OURS = ("PROFILE", "SEEDS", "SEED", "EPOCHS", "MTL_EPOCHS", "PATIENCE", "MTL_PATIENCE", "PRUNING_ITER", "FINAL_RATE",
        "WARMUP_EPOCHS", "JOBS", "EXP_DIR", "NAME", "OVERWRITE", "DEVICE", "DEVICES", "PROCESSED", "BATCHING")


def environment(**extra: str) -> dict:
    base = {k: v for k, v in os.environ.items() if k not in OURS}
    return {**base, "PYTHON": sys.executable, "OMP_NUM_THREADS": "1", **extra}


def run(script: str, args: list[str], env: dict, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", script, *args], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=timeout)


def one_line(done: subprocess.CompletedProcess, code: int) -> str:
    assert done.returncode == code, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    return lines[0]


@pytest.mark.parametrize("script", SCRIPTS)
def test_help_lists_modes_profile_and_variables(script):
    done = run(script, ["help"], environment())
    assert done.returncode == 0, done.stderr
    assert "PROFILE=paper (paper|quick)" in done.stdout and "BATCHING=original" in done.stdout
    assert "EPOCHS=100" in done.stdout and "SEEDS=" in done.stdout and "REUSE:" in done.stdout
    assert ("negative transfer, NER" in done.stdout) == (script == "run_conll03.sh")


@pytest.mark.parametrize("script", SCRIPTS)
def test_an_unknown_mode_is_one_line_without_the_help(script):
    line = one_line(run(script, ["alll"], environment()), 2)
    assert "unknown mode 'alll'" in line and "prepare, single" in line


@pytest.mark.parametrize("variable, value", [("JOBS", "0"), ("JOBS", "abc"), ("NAME", "../outside"), ("NAME", "a/b"),
                                             ("NAME", ".."), ("NAME", "-x"), ("PROFILE", "fast"), ("SEEDS", "1,,2"),
                                             ("SEEDS", "3,3"), ("EPOCH", "1"), ("OVERWRITE", "yes")])
def test_a_bad_variable_is_one_line_and_writes_nothing(tmp_path, variable, value):
    exp = tmp_path / "exp"
    line = one_line(run("run_conll03.sh", ["all"], environment(EXP_DIR=str(exp), **{variable: value})), 2)
    assert line.startswith(f"error: {variable}={value}")
    assert not exp.exists()


def test_a_bad_training_value_is_named_before_anything_runs(processed_conll03_small, tmp_path):
    env = environment(BATCHING="zigzag", PROCESSED=str(processed_conll03_small), EXP_DIR=str(tmp_path / "exp"))
    line = one_line(run("run_conll03.sh", ["all"], env), 2)
    assert line.startswith("error: BATCHING=zigzag: ") and "--batching" in line
    line = one_line(run("run_conll03.sh", ["single"], {**env, "BATCHING": "bucket", "DROPOUT": "2"}), 2)
    assert line.startswith("error: DROPOUT=2: ")
    assert not (tmp_path / "exp").exists()


def test_missing_python_is_one_line(tmp_path):
    assert "PYTHON=" in one_line(run("run_ontonotes.sh", ["warmup"], environment(PYTHON=str(tmp_path / "nope"))), 2)


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


def test_prepare_refuses_a_folder_made_from_other_inputs(shared_data, tmp_path):
    data = tmp_path / "conll2012"
    for split, name in (("train", "example"), ("development", "example2"), ("test", "example2")):
        (data / split).mkdir(parents=True)
        (data / split / f"{name}.gold_conll").symlink_to(shared_data / "conll2012-sample" / f"{name}.gold_conll")
    env = environment(ONTONOTES_DIR=str(data), EMBEDDING="", PROCESSED=str(tmp_path / "p"))
    assert run("run_ontonotes.sh", ["prepare"], env).returncode == 0
    again = run("run_ontonotes.sh", ["prepare"], env)
    assert again.returncode == 0 and "prepared already; nothing to do" in again.stdout
    other = tmp_path / "other"
    os.symlink(data, other)
    line = one_line(run("run_ontonotes.sh", ["prepare"], {**env, "ONTONOTES_DIR": str(other)}), 1)
    assert f"ONTONOTES_DIR='{other}' (was '{data}')" in line and "OVERWRITE=1" in line
    assert run("run_ontonotes.sh", ["prepare"], {**env, "ONTONOTES_DIR": str(other), "OVERWRITE": "1"}).returncode == 0


def test_overwrite_removes_a_link_but_not_what_it_points_to(processed_conll03_small, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("keep")
    run_dir = layout.run(str(tmp_path / "exp"), "x")
    os.makedirs(os.path.dirname(run_dir.warmup))
    os.symlink(outside, run_dir.warmup)
    env = environment(OVERWRITE="1", EXP_DIR=str(tmp_path / "exp"), NAME="x", PROCESSED=str(processed_conll03_small),
                      TRAIN_LIMIT="20", EVAL_LIMIT="10", HIDDEN_SIZE="8")
    done = run("run_conll03.sh", ["warmup"], env)
    assert done.returncode == 0, done.stderr
    assert (outside / "keep.txt").read_text() == "keep"
    assert os.path.isdir(run_dir.warmup) and not os.path.islink(run_dir.warmup)
    assert os.path.isfile(os.path.join(run_dir.warmup, layout.RESULTS))


def test_overwrite_refuses_a_run_folder_outside_exp_dir(processed_conll03_small, tmp_path):
    outside = tmp_path / "outside"
    (outside / "warmup").mkdir(parents=True)
    (outside / "warmup" / "keep.txt").write_text("keep")
    (tmp_path / "exp").mkdir()
    os.symlink(outside, tmp_path / "exp" / "x")
    env = environment(OVERWRITE="1", EXP_DIR=str(tmp_path / "exp"), NAME="x", PROCESSED=str(processed_conll03_small))
    assert "not inside EXP_DIR" in one_line(run("run_conll03.sh", ["warmup"], env), 1)
    assert (outside / "warmup" / "keep.txt").read_text() == "keep"


def test_single_shows_round_lines_as_they_come(processed_conll03_small, tmp_path):
    """JOBS=1: task 0's round lines reach the terminal while task 0 runs, before task 2 has started."""
    exp = tmp_path / "exp"
    env = environment(BATCHING="bucket", JOBS="1", PROCESSED=str(processed_conll03_small), EXP_DIR=str(exp), NAME="s",
                      TRAIN_LIMIT="50", EVAL_LIMIT="50", EPOCHS="1", PRUNING_ITER="1", FINAL_RATE="0.5",
                      HIDDEN_SIZE="16")
    run_dir = layout.run(str(exp), "s")
    process = subprocess.Popen(["bash", "run_conll03.sh", "single"], cwd=REPO, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    printed, task2_started = [], []
    for line in process.stdout:
        match = ROUND_LINE.match(line)
        if match:
            printed.append(match.groups())
            if match.group(1) == "pos":
                task2_started.append(os.path.exists(run_dir.step1_task(2)))
    assert process.wait(timeout=300) == 0, process.stderr.read()
    assert task2_started == [False, False]
    for task_id, task in enumerate(("pos", "chunk", "ner")):
        scores = [json.loads(line) for line in Path(run_dir.step1_task(task_id), layout.SCORES).read_text().splitlines()]
        shown = [p for p in printed if p[0] == task]
        assert [int(p[1]) for p in shown] == [s["round"] for s in scores]
        assert [float(p[3]) for p in shown] == pytest.approx([s["dev"] for s in scores], abs=0.006)


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


def wait_for(condition, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_stops_every_step1_job(processed_conll03_small, tmp_path, sig, code):
    exp = tmp_path / "exp"
    env = environment(JOBS="2", EPOCHS="50", PROCESSED=str(processed_conll03_small), EXP_DIR=str(exp), NAME="sig",
                      HIDDEN_SIZE="16")
    process = subprocess.Popen(["bash", "run_conll03.sh", "single"], cwd=REPO, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        wait_for(lambda: sum("train_single.py" in c for c in run_processes(str(exp))) == 2)
        process.send_signal(sig)
        _, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    assert process.returncode == code
    time.sleep(1)
    assert run_processes(str(exp)) == []
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"interrupted by {sig.name} during 'Step 1"), stderr
    assert lines[0].endswith(f"re-run: EPOCHS=50 HIDDEN_SIZE=16 EXP_DIR={exp} "
                             f"PROCESSED={processed_conll03_small} JOBS=2 PYTHON={sys.executable} NAME=sig bash run_conll03.sh single")


def test_ctrl_c_stops_the_warmup_and_names_the_run(processed_conll03_small, tmp_path):
    """SIGINT to the whole process group, as a terminal sends it: train_mtl.py stops without a traceback, and the
    resume command names the run (NAME was not set: it is the generated one)."""
    exp = tmp_path / "exp"
    env = environment(WARMUP_EPOCHS="50", PROCESSED=str(processed_conll03_small), EXP_DIR=str(exp))
    process = subprocess.Popen(["bash", "run_conll03.sh", "warmup"], cwd=REPO, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        wait_for(lambda: any("train_mtl.py" in c for c in run_processes(str(exp))))
        time.sleep(2)
        os.killpg(process.pid, signal.SIGINT)
        _, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    assert process.returncode == 130
    time.sleep(1)
    assert run_processes(str(exp)) == [] and "Traceback" not in stderr
    # the job's progress bar may end without a newline: the message starts where it says so
    [line] = [line[line.index("interrupted by SIGINT"):] for line in stderr.splitlines() if "interrupted by SIGINT" in line]
    [name] = layout.named_runs(str(exp))
    assert line.endswith(f"re-run: WARMUP_EPOCHS=50 EXP_DIR={exp} PROCESSED={processed_conll03_small} "
                         f"PYTHON={sys.executable} NAME={name} bash run_conll03.sh warmup")


def test_two_runs_with_one_name_exactly_one_proceeds(processed_conll03_small, tmp_path):
    """A second `warmup` with the same NAME and EXP_DIR, started while the first trains, stops at once with one
    line naming the folder; the first goes on training (then it is stopped here, to save time)."""
    exp = tmp_path / "exp"
    env = environment(WARMUP_EPOCHS="50", NAME="same", PROCESSED=str(processed_conll03_small), EXP_DIR=str(exp))
    warmup = layout.run(str(exp), "same").warmup
    first = subprocess.Popen(["bash", "run_conll03.sh", "warmup"], cwd=REPO, env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        wait_for(lambda: os.path.exists(os.path.join(warmup, layout.CONFIG)))
        second = run("run_conll03.sh", ["warmup"], env)
        assert first.poll() is None, "the first run should still be training"
        first.send_signal(signal.SIGTERM)
        first.communicate(timeout=60)
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)
    assert second.returncode == 1
    errors = [line for line in second.stderr.splitlines() if line.startswith("error:")]
    assert f"{warmup} is in use by another run" in errors[0]
    assert first.returncode == 143 and not os.path.exists(os.path.join(warmup, layout.RESULTS))


def test_a_signal_while_a_job_starts_still_stops_it(tmp_path, monkeypatch):
    """A signal that arrives after a child exists but before the executor has recorded it (inside Popen, on a busy
    machine) is held until the child is recorded, so that the stop reaches it too: no job outlives the run."""
    from utils.pipeline import executor
    from utils.pipeline.plan import Job, Stage

    popen = subprocess.Popen
    children = []

    def popen_then_signal(*args, **kwargs):
        children.append(popen(*args, **kwargs))
        os.kill(os.getpid(), signal.SIGTERM)  # handled here, before start() has put the child in `running`
        return children[-1]

    monkeypatch.setattr(executor.subprocess, "Popen", popen_then_signal)
    monkeypatch.setattr(executor, "GRACE_SECONDS", 5.0)
    job = Job("step1", "Step 1, task 0", ("-c", "import time; time.sleep(60)"), str(tmp_path / "out"), 0,
              str(tmp_path / "job.log"))
    options = executor.Options(python=sys.executable, exp_dir=str(tmp_path), resume_hint="bash run.sh")
    with pytest.raises(SystemExit) as stopped:
        with executor.Executor(options) as running:
            running.run([Stage("Step 1", (job,), parallel=True)])
    assert stopped.value.code == 143
    assert [child.poll() for child in children] == [-signal.SIGTERM]
