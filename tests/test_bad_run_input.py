"""Bad input to the training scripts: each case is one `error:` line naming the flag, file or tensor, exit 1 (2 for
argparse), and no finished-looking output."""
import json

import pytest
import torch

import train_mtl
import train_single
from tests.test_joint import random_masks, tiny_model
from utils.subnets.masks import save_mask

BUDGET = ["--hidden_size", "8", "--batch_size", "2", "--epochs", "1", "--device", "cpu"]


@pytest.fixture
def tiny_processed(tiny_data, tmp_path):
    directory = tmp_path / "tiny"
    tiny_data.save(str(directory))
    return directory


def one_error(main, argv: list[str], capsys) -> tuple[int, str]:
    capsys.readouterr()
    with pytest.raises(SystemExit) as info:
        main(argv)
    lines = [line for line in capsys.readouterr().err.strip().splitlines() if line.strip()]
    assert info.value.code not in (0, None)
    error_lines = [line for line in lines if "error:" in line]
    assert len(error_lines) == 1, lines
    return info.value.code, error_lines[0]


@pytest.mark.parametrize("main", [train_single.main, train_mtl.main])
@pytest.mark.parametrize("flag,value,expected", [
    ("--device", "nosuchdevice", "--device 'nosuchdevice'"),
    ("--device", "cuda:0", "--device cuda:0"),
    ("--dropout", "1.5", "--dropout must be in [0, 1)"),
    ("--dropout", "-0.1", "--dropout must be in [0, 1)"),
])
def test_bad_device_or_dropout(tiny_processed, tmp_path, capsys, main, flag, value, expected):
    if value.startswith("cuda") and torch.cuda.is_available():
        pytest.skip("a CUDA device is there")
    code, line = one_error(main, ["--data_path", str(tiny_processed), "--save_dir", str(tmp_path / "out"), *BUDGET,
                                  flag, value], capsys)
    assert code == 2 and expected in line
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("flag", ["--save_ep", "--print_every"])
def test_negative_counts(tiny_processed, tmp_path, capsys, flag):
    code, line = one_error(train_mtl.main, ["--data_path", str(tiny_processed), "--save_dir", str(tmp_path / "out"),
                                            *BUDGET, flag, "-1"], capsys)
    assert code == 2 and f"{flag} must be ≥ 0, got -1" in line


def test_save_dir_that_is_a_file(tiny_processed, tmp_path, capsys):
    (tmp_path / "file").write_text("not a folder")
    code, line = one_error(train_mtl.main, ["--data_path", str(tiny_processed), "--save_dir", str(tmp_path / "file"),
                                            "--exp_name", "r", *BUDGET], capsys)
    assert code == 1 and str(tmp_path / "file") in line


def test_evaluate_with_a_corrupt_config(tiny_processed, tmp_path, capsys):
    run = tmp_path / "mtl" / "r"
    run.mkdir(parents=True)
    (run / "config.json").write_text("{not json")
    code, line = one_error(train_mtl.main, ["--save_dir", str(tmp_path / "mtl"), "--exp_name", "r", "--evaluate"],
                           capsys)
    assert code == 1 and str(run / "config.json") in line and "not valid JSON" in line


def test_init_masks_of_another_task(tiny_data, tiny_processed, tmp_path, capsys):
    """--init_masks holding ner's mask given to the pos task (task 0): refused, nothing trained."""
    model = tiny_model(tiny_data)
    path = tmp_path / "ner_mask.th"
    save_mask(str(path), random_masks(model, 1)[0], 1, "ner")
    code, line = one_error(train_single.main, ["--data_path", str(tiny_processed), "--save_dir", str(tmp_path / "s"),
                                               "--task_id", "0", "--init_masks", str(path), *BUDGET], capsys)
    assert code == 1 and str(path) in line and "'ner'" in line and "'pos'" in line
    assert not (tmp_path / "s" / "cp" / "0" / "scores.jsonl").exists()


def test_masks_of_another_model(tiny_data, tiny_processed, tmp_path, capsys):
    """Masks saved for hidden size 8 given to a model of hidden size 12: the tensor and both shapes are named."""
    mask_dir = tmp_path / "mask"
    model = tiny_model(tiny_data)
    for i, (mask, name) in enumerate(zip(random_masks(model, 2), ("pos", "ner"))):
        save_mask(str(mask_dir / f"{i}.th"), mask, 1, name)
    torch.save(model.state_dict(), mask_dir / "init_weights.th")
    argv = ["--data_path", str(tiny_processed), "--save_dir", str(tmp_path / "mtl"), "--exp_name", "r",
            "--masks_path", str(mask_dir), *BUDGET, "--hidden_size", "12"]
    code, line = one_error(train_mtl.main, argv, capsys)
    assert code == 1 and str(mask_dir / "0.th") in line and "shape" in line
    assert not (tmp_path / "mtl" / "r" / "results.json").exists()


def test_missing_mask_file(tiny_data, tiny_processed, tmp_path, capsys):
    mask_dir = tmp_path / "mask"
    mask_dir.mkdir()
    code, line = one_error(train_mtl.main, ["--data_path", str(tiny_processed), "--save_dir", str(tmp_path / "mtl"),
                                            "--exp_name", "r", "--masks_path", str(mask_dir), *BUDGET], capsys)
    assert code == 1 and str(mask_dir / "0.th") in line and "no such file" in line


def test_corrupt_config_on_resume(tiny_processed, tmp_path, capsys):
    """A stopped Step 1 whose config.json was damaged: --resume names the file instead of guessing."""
    folder = tmp_path / "s" / "cp" / "0"
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps(["not", "an", "object"]))
    code, line = one_error(train_single.main, ["--data_path", str(tiny_processed), "--save_dir", str(tmp_path / "s"),
                                               "--task_id", "0", "--resume", *BUDGET], capsys)
    assert code == 1 and str(folder / "config.json") in line


def test_evaluate_of_a_file_or_an_unfinished_run(tiny_processed, tmp_path, capsys):
    """--evaluate names a path that is no folder, and a run folder without results.json, in one line each."""
    (tmp_path / "mtl").mkdir()
    (tmp_path / "mtl" / "file").write_text("x")
    code, line = one_error(train_mtl.main, ["--save_dir", str(tmp_path / "mtl"), "--exp_name", "file", "--evaluate"],
                           capsys)
    assert code == 1 and f"{tmp_path / 'mtl' / 'file'} is not a folder" in line
    run = tmp_path / "mtl" / "r"
    run.mkdir()
    (run / "config.json").write_text(json.dumps({"data": {"data_path": str(tiny_processed)}, "joint": {}}))
    code, line = one_error(train_mtl.main, ["--save_dir", str(tmp_path / "mtl"), "--exp_name", "r", "--evaluate"],
                           capsys)
    assert code == 1 and f"{run} is not a finished run" in line
