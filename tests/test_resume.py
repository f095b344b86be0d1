"""Long runs resume: Step 1 and Step 3 stopped right after any saved epoch continue to the same scores and
weights as an uninterrupted run; a run folder has one owner; a finished run is not redone; a NaN loss or a full
disk stops with one line."""
import errno
import json
import os
import threading

import pytest
import torch

import train_mtl
import train_single
import utils.runs.checkpoint
from utils.runs.resume import RunFolderBusy, RunLock
from utils.runs.layout import STATE

BUDGET = ["--hidden_size", "8", "--batch_size", "2", "--device", "cpu"]


@pytest.fixture
def tiny_processed(tiny_data, tmp_path):
    directory = tmp_path / "tiny"
    tiny_data.save(str(directory))
    return directory


class Stop(Exception):
    """Stands for a kill right after the k-th state was written."""


def stop_after(monkeypatch, module, k: int) -> list:
    """Make `module.save_training_state` raise Stop right after its k-th write."""
    real, calls = module.save_training_state, []

    def saving(folder, state):
        real(folder, state)
        calls.append(state.get("epoch", state.get("round")))
        if len(calls) == k:
            raise Stop

    monkeypatch.setattr(module, "save_training_state", saving)
    return calls


def files_of(folder) -> dict:
    """Every weight and mask file's tensors, and the scores without timings."""
    out = {}
    for path in sorted(folder.glob("*.th")):
        out[path.name] = torch.load(path, weights_only=True)
    for name in ("scores.jsonl", "results.json"):
        if (folder / name).exists():
            text = (folder / name).read_text()
            records = [json.loads(line) for line in text.splitlines()] if name.endswith("jsonl") else [json.loads(text)]
            out[name] = [strip_timings(r) for r in records]
    return out


def strip_timings(obj):
    if isinstance(obj, dict):
        return {k: strip_timings(v) for k, v in obj.items() if k != "seconds"}
    if isinstance(obj, list):
        return [strip_timings(v) for v in obj]
    return obj


def assert_same(a, b, path="") -> None:
    if isinstance(a, torch.Tensor):
        assert torch.equal(a, b), path
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), path
        for k in a:
            assert_same(a[k], b[k], f"{path}/{k}")
    elif isinstance(a, list):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{path}[{i}]")
    else:
        assert a == b, path


def step1_args(data, save_dir) -> list[str]:
    return ["--data_path", str(data), "--task_id", "1", "--epochs", "2", "--pruning_iter", "2", "--final_rate",
            "0.25", "--save_dir", str(save_dir), *BUDGET]


@pytest.fixture
def step1_reference(tiny_processed, tmp_path):
    train_single.main(step1_args(tiny_processed, tmp_path / "reference"))
    return files_of(tmp_path / "reference" / "cp" / "1")


# 3 rounds x 2 epochs: a state after every epoch and after every round, 9 writes in all.
@pytest.mark.parametrize("k", [1, 2, 3, 5, 8, 9])
def test_step1_resumes_to_the_uninterrupted_result(tiny_processed, tmp_path, monkeypatch, step1_reference, k):
    """Stopped right after the k-th saved state (mid-round, at a round's end, after the last round), then run again
    with --resume: every mask, best-weights file and score equals the uninterrupted run's."""
    calls = stop_after(monkeypatch, train_single, k)
    with pytest.raises(Stop):
        train_single.main(step1_args(tiny_processed, tmp_path / "run"))
    assert len(calls) == k
    folder = tmp_path / "run" / "cp" / "1"
    assert not (folder / "complete.json").exists()
    monkeypatch.undo()
    train_single.main(step1_args(tiny_processed, tmp_path / "run") + ["--resume"])
    assert (folder / "complete.json").exists() and not (folder / STATE).exists()
    assert_same(files_of(folder), step1_reference)


def test_step1_stopped_run_needs_resume_and_finished_run_is_a_no_op(tiny_processed, tmp_path, monkeypatch, capsys):
    stop_after(monkeypatch, train_single, 2)
    with pytest.raises(Stop):
        train_single.main(step1_args(tiny_processed, tmp_path / "run"))
    monkeypatch.undo()
    capsys.readouterr()
    with pytest.raises(SystemExit):
        train_single.main(step1_args(tiny_processed, tmp_path / "run"))
    assert "--resume" in capsys.readouterr().err
    train_single.main(step1_args(tiny_processed, tmp_path / "run") + ["--resume"])
    before = files_of(tmp_path / "run" / "cp" / "1")
    capsys.readouterr()
    train_single.main(step1_args(tiny_processed, tmp_path / "run") + ["--resume"])
    assert "nothing to do" in capsys.readouterr().out
    assert_same(files_of(tmp_path / "run" / "cp" / "1"), before)


def test_step1_resumes_a_run_whose_config_is_flat(tiny_processed, tmp_path, monkeypatch, step1_reference):
    """A run stopped by the code before settings were grouped has a flat config.json (vars(args), the task's
    name, prunable, alpha): --resume reads it as the same settings and ends with the uninterrupted result."""
    stop_after(monkeypatch, train_single, 3)
    with pytest.raises(Stop):
        train_single.main(step1_args(tiny_processed, tmp_path / "run"))
    monkeypatch.undo()
    path = tmp_path / "run" / "cp" / "1" / "config.json"
    grouped = json.loads(path.read_text())
    old = {key: value for group in ("data", "model", "optimiser", "pruning", "invocation")
           for key, value in grouped[group].items() if key not in ("lr_decay", "clip_norm")}
    path.write_text(json.dumps({**old, "task": grouped["task"], "prunable": grouped["prunable"],
                                "alpha": grouped["alpha"]}))
    train_single.main(step1_args(tiny_processed, tmp_path / "run") + ["--resume"])
    assert_same(files_of(tmp_path / "run" / "cp" / "1"), step1_reference)


def test_step1_resume_refuses_other_settings(tiny_processed, tmp_path, monkeypatch, capsys):
    stop_after(monkeypatch, train_single, 1)
    with pytest.raises(Stop):
        train_single.main(step1_args(tiny_processed, tmp_path / "run"))
    monkeypatch.undo()
    capsys.readouterr()
    with pytest.raises(SystemExit):
        train_single.main(step1_args(tiny_processed, tmp_path / "run") + ["--resume", "--seed", "7"])
    line = capsys.readouterr().err.strip()
    assert line.startswith("error: --seed 7 differs from 2019") and "\n" not in line


def mtl_args(data, save_dir) -> list[str]:
    return ["--data_path", str(data), "--save_dir", str(save_dir), "--exp_name", "r", "--epochs", "3",
            "--sampling", "proportional", *BUDGET]


@pytest.mark.parametrize("k", [1, 2, 3])
def test_step3_resumes_to_the_uninterrupted_result(tiny_processed, tmp_path, monkeypatch, k):
    """Joint training stopped right after epoch k's state, resumed: best.th and results.json (selected epoch,
    scores, sampling counts, history) equal the uninterrupted run's."""
    train_mtl.main(mtl_args(tiny_processed, tmp_path / "reference"))
    stop_after(monkeypatch, train_mtl, k)
    with pytest.raises(Stop):
        train_mtl.main(mtl_args(tiny_processed, tmp_path / "run"))
    assert not (tmp_path / "run" / "r" / "results.json").exists()
    monkeypatch.undo()
    train_mtl.main(mtl_args(tiny_processed, tmp_path / "run") + ["--resume"])
    got, expected = files_of(tmp_path / "run" / "r"), files_of(tmp_path / "reference" / "r")
    for name in ("best.th", "results.json"):
        assert_same(got[name], expected[name], name)


def test_step3_keeps_the_masks_it_trained_with(tiny_data, tiny_processed, tmp_path):
    """Step 2 may rewrite the masks folder later: the run keeps copies and --evaluate scores with them."""
    from tests.test_joint import random_masks, tiny_model
    from utils.subnets.masks import save_mask

    model = tiny_model(tiny_data)
    masks = random_masks(model, 2, keep=0.5)
    mask_dir = tmp_path / "mask"
    for i, (mask, name) in enumerate(zip(masks, ("pos", "ner"))):
        save_mask(str(mask_dir / f"{i}.th"), mask, 1, name)
    torch.save(model.state_dict(), mask_dir / "init_weights.th")
    args = mtl_args(tiny_processed, tmp_path / "mtl") + ["--masks_path", str(mask_dir), "--epochs", "1"]
    train_mtl.main(args)
    run = tmp_path / "mtl" / "r"
    results = json.loads((run / "results.json").read_text())
    for i in (0, 1):
        assert_same(torch.load(run / "masks" / f"{i}.th", weights_only=True),
                    torch.load(mask_dir / f"{i}.th", weights_only=True))
    inverted = [{n: ~m for n, m in mask.items()} for mask in masks]
    for i, (mask, name) in enumerate(zip(inverted, ("pos", "ner"))):
        save_mask(str(mask_dir / f"{i}.th"), mask, 1, name)
    train_mtl.main(args + ["--evaluate"])
    evaluation = json.loads((run / "evaluation.json").read_text())
    assert evaluation["params"] == results["params"] and evaluation["overlap"] == results["overlap"]
    for name in ("pos", "ner"):
        assert evaluation["tasks"][name]["test"] == results["tasks"][name]["test"]


def test_one_run_owns_a_folder(tmp_path):
    """While one process holds a run folder, a second is refused at once, naming the folder and the owner."""
    held = RunLock(str(tmp_path / "run")).acquire()
    with pytest.raises(RunFolderBusy, match=f"{tmp_path / 'run'}.*pid {os.getpid()}"):
        RunLock(str(tmp_path / "run")).acquire()
    held.release()
    RunLock(str(tmp_path / "run")).acquire().release()


def test_taking_a_run_folder_removes_the_temporary_files_of_a_killed_save(tmp_path):
    """kill -9 during a checkpoint write leaves atomic_save's temporary file; the next owner of the folder removes
    it (no live writer can hold it) and nothing else."""
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / ".tmp-k1ll3d.th").write_bytes(b"PK\x03\x04 half a zip")
    for name in ("resume.th", "best.th", ".tmp-data-x", "notes.tmp"):
        (folder / name).write_text("kept")
    RunLock(str(folder)).acquire().release()
    assert sorted(p.name for p in folder.iterdir()) == [".lock", ".tmp-data-x", "best.th", "notes.tmp", "resume.th"]


def test_concurrent_step3_runs_with_one_name(tiny_processed, tmp_path, monkeypatch, capsys):
    """Two train_mtl runs of one folder: the second, started while the first trains, stops with one line; the
    first finishes."""
    errors = []
    started = threading.Event()
    real = train_mtl.train_joint

    def slow_train(*args, **kwargs):
        started.set()
        second.join()
        return real(*args, **kwargs)

    def run_second():
        started.wait()
        try:
            train_mtl.main(mtl_args(tiny_processed, tmp_path / "mtl") + ["--resume"])
        except SystemExit as exit_:
            errors.append(exit_.code)

    monkeypatch.setattr(train_mtl, "train_joint", slow_train)
    second = threading.Thread(target=run_second)
    second.start()
    train_mtl.main(mtl_args(tiny_processed, tmp_path / "mtl"))
    assert errors == [1]
    assert "in use by another run" in capsys.readouterr().err
    assert (tmp_path / "mtl" / "r" / "results.json").exists()


def test_nan_loss_stops_with_one_line(tiny_processed, tmp_path, capsys):
    """A loss that is not finite stops training at once, naming the task, epoch and step."""
    with pytest.raises(SystemExit) as info:
        train_single.main(step1_args(tiny_processed, tmp_path / "nan") + ["--optim", "sgd(lr=1e30)"])
    assert info.value.code == 1
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines[-1].startswith("error:") and "loss" in lines[-1] and "epoch 1" in lines[-1]
    assert not (tmp_path / "nan" / "cp" / "1" / "complete.json").exists()


def test_full_disk_stops_with_one_line(tiny_processed, tmp_path, monkeypatch, capsys):
    """ENOSPC while writing a checkpoint: one line naming the folder; no temporary file left; not complete."""
    real = torch.save
    count = []

    def full(obj, path, *args, **kwargs):
        count.append(path)
        if len(count) > 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(obj, path, *args, **kwargs)

    monkeypatch.setattr(utils.runs.checkpoint.torch, "save", full)
    with pytest.raises(SystemExit) as info:
        train_mtl.main(mtl_args(tiny_processed, tmp_path / "mtl"))
    assert info.value.code == 1
    line = capsys.readouterr().err.strip().splitlines()[-1]
    assert "No space left on device" in line and str(tmp_path / "mtl" / "r") in line
    run = tmp_path / "mtl" / "r"
    assert not (run / "results.json").exists() and not list(run.glob(".tmp-*"))
