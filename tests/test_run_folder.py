"""One run-folder logic (utils.runs.claim) for both training scripts: new, stopped and finished folders; a folder
holding a run needs --resume (or --overwrite) and, to resume, the same settings; the lock, and the folder written
by another run between opening and claiming it; each refusal one line naming the folder or flag."""
import dataclasses
import json
import os

import pytest

from utils.runs.claim import FINISHED, NEW, STOPPED, RunFolder, RunRefused
from utils.runs.layout import COMPLETE, CONFIG, LOCK
from utils.settings import Step1Settings, to_config


def folder_at(path) -> RunFolder:
    return RunFolder(str(path), COMPLETE, "--save_dir s", "Step 1 run", "or choose another --exp_name")


def started(path, settings=Step1Settings()) -> RunFolder:
    os.makedirs(path, exist_ok=True)
    (path / CONFIG).write_text(json.dumps({"task": "ner", **to_config(settings)}))
    return folder_at(path)


def test_states(tmp_path):
    folder = folder_at(tmp_path / "run")
    assert folder.state() == NEW and folder.open(Step1Settings(), resume=False) == NEW
    started(tmp_path / "run")
    assert folder.state() == STOPPED
    (tmp_path / "run" / COMPLETE).write_text("{}")
    assert folder.state() == FINISHED and folder.open(Step1Settings(), resume=True) == FINISHED


@pytest.mark.parametrize("finished", [False, True])
def test_a_folder_holding_a_run_needs_resume(tmp_path, finished):
    folder = started(tmp_path / "run")
    if finished:
        (tmp_path / "run" / COMPLETE).write_text("{}")
    with pytest.raises(RunRefused) as info:
        folder.open(Step1Settings(), resume=False)
    word = "finished" if finished else "stopped"
    assert str(info.value) == (f"{tmp_path / 'run'} exists and holds a {word} Step 1 run: pass --resume to continue "
                               f"it, or choose another --exp_name")
    assert folder.open(Step1Settings(), resume=False, overwrite=True) == (FINISHED if finished else STOPPED)


def test_resume_needs_the_same_settings_and_names_the_flag(tmp_path):
    folder = started(tmp_path / "run")
    other = dataclasses.replace(Step1Settings(), pruning=dataclasses.replace(Step1Settings().pruning, final_rate=0.5))
    with pytest.raises(RunRefused, match=r"^--final_rate 0.5 differs from 0.1 in .*config.json"):
        folder.open(other, resume=True)
    assert folder.open(Step1Settings(), resume=True) == STOPPED


@pytest.mark.parametrize("content,expected", [("{not json", "not valid JSON"), ("[1]", "expected a JSON object"),
                                              ('{"pruning": {"final_rate": 2}}', "--final_rate must be in (0, 1]")])
def test_a_damaged_config_is_named(tmp_path, content, expected):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / CONFIG).write_text(content)
    with pytest.raises(RunRefused) as info:
        folder_at(tmp_path / "run").open(Step1Settings(), resume=True)
    assert str(tmp_path / "run" / CONFIG) in str(info.value) and expected in str(info.value)


def test_a_file_is_no_run_folder(tmp_path):
    (tmp_path / "run").write_text("x")
    with pytest.raises(RunRefused, match=f"^--save_dir s: {tmp_path / 'run'} is not a folder$"):
        folder_at(tmp_path / "run").open(Step1Settings(), resume=True)


def test_claim_locks_and_sees_a_folder_written_meanwhile(tmp_path):
    folder = folder_at(tmp_path / "run")
    state = folder.open(Step1Settings(), resume=False)
    lock = folder.claim(state)
    with pytest.raises(RunRefused, match="in use by another run"):
        folder.claim(state)
    lock.release()
    started(tmp_path / "run")  # another run started here after we looked
    with pytest.raises(RunRefused, match="written by another run meanwhile; start again with --resume"):
        folder.claim(state)
    folder.claim(STOPPED).release()  # the refused claim let go of the lock


def test_clear_keeps_only_the_lock(tmp_path):
    folder = started(tmp_path / "run")
    (tmp_path / "run" / "sub").mkdir()
    lock = folder.claim(STOPPED)
    folder.clear()
    assert os.listdir(tmp_path / "run") == [LOCK]
    lock.release()
