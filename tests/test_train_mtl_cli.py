"""End to end on the real CoNLL-2003 files, on a budget: Step 1 (train_single.py, three tasks, one pruning round),
Step 2 (prepare-masks.sh auto) and Step 3 (train_mtl.py with the chosen masks); then the run's results.json, the
--evaluate mode, the refusal to overwrite a run, the help text and bad --tasks."""
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from models import get_model
from utils.data.dataset import Dataset
from utils.subnets.masks import load_mask, overlap_ratio
from utils.subnets.params import encoder_params

ROOT = Path(__file__).resolve().parents[1]
TASKS = ["pos", "chunk", "ner"]
BUDGET = ["--train_limit", "100", "--eval_limit", "50", "--hidden_size", "16", "--device", "cpu"]
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore", "PYTHON": sys.executable}


def run(args: list[str], timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=timeout)


def check(result: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def one_line_error(result: subprocess.CompletedProcess) -> str:
    assert result.returncode != 0
    lines = [line for line in result.stderr.strip().splitlines() if "pkg_resources" not in line and line.strip()]
    assert "Traceback" not in result.stderr, result.stderr
    errors = [line for line in lines if line.startswith("error:") or ": error:" in line]
    assert len(errors) == 1, result.stderr
    return errors[0]


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def pipeline(processed_conll03, tmp_path_factory):
    root = tmp_path_factory.mktemp("mtl_cli")
    exp = root / "exp"
    # Step 1: the three tasks in parallel, same seed, so they share one rewind point
    procs = [subprocess.Popen([sys.executable, "train_single.py", "--data_path", str(processed_conll03),
                               "--task_id", str(t), "--epochs", "1", "--pruning_iter", "1", "--final_rate", "0.5",
                               "--save_dir", str(exp / "single"), *BUDGET],
                              cwd=ROOT, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for t in range(3)]
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err[-3000:]
    # Step 2
    masks = check(subprocess.run(["bash", "prepare-masks.sh", "conll03", "auto"], cwd=ROOT,
                                 env={**ENV, "EXP_DIR": str(exp), "SINGLE_DIR": str(exp / "single" / "cp"),
                                      "MASK_DIR": str(exp / "mtl" / "mask")}, capture_output=True, text=True,
                                 timeout=120))
    mask_dir = exp / "mtl" / "mask"
    # Step 3
    common = ["--data_path", str(processed_conll03), "--masks_path", str(mask_dir), "--save_dir", str(exp / "mtl"),
              "--epochs", "1", *BUDGET]
    train = check(run([sys.executable, "train_mtl.py", *common, "--exp_name", "t"]))
    return {"root": root, "exp": exp, "mask_dir": mask_dir, "run_dir": exp / "mtl" / "t", "common": common,
            "data": processed_conll03, "prepare_stdout": masks.stdout, "train": train}


@pytest.fixture(scope="module")
def results(pipeline):
    return json.loads((pipeline["run_dir"] / "results.json").read_text())


def copied_masks(mask_dir: Path) -> list[dict]:
    return [load_mask(str(mask_dir / f"{i}.th")) for i in range(3)]


def test_step2_table(pipeline):
    lines = [line for line in pipeline["prepare_stdout"].strip().splitlines() if not line.startswith("==")]
    assert lines[0].split() == ["task", "round", "kept", "%", "dev"]
    selection = json.loads((pipeline["mask_dir"] / "selection.json").read_text())
    for line, chosen, task in zip(lines[1:4], selection["chosen"], TASKS):
        name, round_, kept, dev = line.split()
        assert (name, int(round_), chosen["task"]) == (task, chosen["round"], task)
        assert float(kept) == pytest.approx(chosen["kept"], abs=0.005)
        assert float(dev) == pytest.approx(chosen["dev"], abs=0.005)
        assert chosen["kept"] in (pytest.approx(100.0), pytest.approx(50.0, abs=0.01))


def test_results_scores_and_selection(results, pipeline):
    assert list(results["tasks"]) == TASKS
    for task_id, (name, row) in enumerate(results["tasks"].items()):
        assert row["task_id"] == task_id
        assert 0.0 <= row["dev"] <= 100.0 and 0.0 <= row["test"] <= 100.0
    assert results["selected_epoch"] == 1 and results["epochs"] == 1
    assert results["history"][0]["improved"] is True
    assert results["system"] == "sparse sharing" and results["setting"] == "conll03"
    assert results["dev_average"] == pytest.approx(sum(r["dev"] for r in results["tasks"].values()) / 3)
    assert results["test_average"] == pytest.approx(sum(r["test"] for r in results["tasks"].values()) / 3)
    # the reported rounds and kept fractions are those chosen in Step 2
    selection = json.loads((pipeline["mask_dir"] / "selection.json").read_text())
    for chosen in selection["chosen"]:
        row = results["tasks"][chosen["task"]]
        assert row["round"] == chosen["round"] and row["kept"] == pytest.approx(chosen["kept"])


def test_sampling_counts(results):
    assert results["sampling"] == "proportional"
    counts = results["sampling_counts"]
    assert sum(counts.values()) == 3 * -(-100 // 10) == 30
    assert set(counts) == set(TASKS) and all(n > 0 for n in counts.values())


def test_params_are_the_union_of_the_masks_plus_biases(results, pipeline):
    records = copied_masks(pipeline["mask_dir"])
    masks = [r["mask"] for r in records]
    assert [r["task"] for r in records] == TASKS
    # by hand: ‖∪ M_t‖₀ over the masked weights, plus the unmasked encoder parameters (biases):
    # BiLSTM 2 directions x (b_ih + b_hh) x 4·16, char CNN 30 filters
    union = sum(int(torch.stack([m[n] for m in masks]).any(dim=0).sum()) for n in masks[0])
    assert results["params"] == union + 2 * 2 * 4 * 16 + 30
    data = Dataset.load(str(pipeline["data"]))
    model = get_model("cnn-lstm", data, hidden_size=16)
    assert results["params"] == encoder_params(model, masks)
    assert results["params"] <= encoder_params(model)


def test_overlap_values(results, pipeline):
    masks = [r["mask"] for r in copied_masks(pipeline["mask_dir"])]
    overlap = results["overlap"]
    assert set(overlap) == {"all", "pos&chunk", "pos&ner", "chunk&ner"}
    assert overlap["all"] == pytest.approx(overlap_ratio(masks))
    for (a, b) in ((0, 1), (0, 2), (1, 2)):
        assert overlap[f"{TASKS[a]}&{TASKS[b]}"] == pytest.approx(overlap_ratio([masks[a], masks[b]]))
    assert all(0.0 < v <= 1.0 for v in overlap.values())


def test_run_files(pipeline):
    run_dir = pipeline["run_dir"]
    assert (run_dir / "best.th").is_file() and (run_dir / "config.json").is_file()
    config = json.loads((run_dir / "config.json").read_text())
    assert config["model"]["init_weights"] == str(pipeline["mask_dir"] / "init_weights.th")
    assert "written to" in pipeline["train"].stderr


def test_evaluate_reproduces_test_scores(pipeline, results):
    before = digest(pipeline["run_dir"] / "results.json")
    check(run([sys.executable, "train_mtl.py", *pipeline["common"], "--exp_name", "t", "--evaluate"]))
    evaluation = json.loads((pipeline["run_dir"] / "evaluation.json").read_text())
    for name in TASKS:
        assert evaluation["tasks"][name]["test"] == pytest.approx(results["tasks"][name]["test"], abs=1e-9)
        assert evaluation["tasks"][name]["dev"] == pytest.approx(results["tasks"][name]["dev"], abs=1e-9)
    assert evaluation["params"] == results["params"] and evaluation["overlap"] == results["overlap"]
    assert digest(pipeline["run_dir"] / "results.json") == before


def test_second_run_with_same_name_refuses(pipeline):
    run_dir = pipeline["run_dir"]
    before = {p.name: digest(p) for p in run_dir.rglob("*") if p.is_file() and p.name != "evaluation.json"}
    result = run([sys.executable, "train_mtl.py", *pipeline["common"], "--exp_name", "t"])
    line = one_line_error(result)
    assert str(run_dir) in line and "--exp_name" in line
    after = {p.name: digest(p) for p in run_dir.rglob("*") if p.is_file() and p.name != "evaluation.json"}
    assert after == before


def test_help_mentions_every_flag():
    result = check(run([sys.executable, "train_mtl.py", "-h"], timeout=120))
    for flag in ["--masks_path", "--tasks", "--trainer", "--sampling", "--epochs", "--batch_size", "--optim",
                 "--scheduler", "--hidden_size", "--n_layer", "--dropout", "--crf", "--seed", "--init_weights",
                 "--save_dir", "--exp_name", "--evaluate", "--save_ep", "--print_every", "--device", "--train_limit",
                 "--eval_limit"]:
        assert flag in result.stdout, flag


def in_process_error(argv: list[str], capsys) -> str:
    """Run train_mtl.main in this process (no interpreter start-up): it must exit 1 with one `error:` line."""
    import train_mtl

    capsys.readouterr()
    with pytest.raises(SystemExit) as info:
        train_mtl.main(argv)
    assert info.value.code not in (0, None)
    lines = [line for line in capsys.readouterr().err.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), lines
    return lines[0]


@pytest.mark.parametrize("spec,expected", [("0,5", "tasks 0..2"), ("pos", "comma-separated integers"),
                                           ("1,1", "each once"), ("-1", "tasks 0..2")])
def test_bad_tasks(pipeline, spec, expected, capsys):
    line = in_process_error(["--data_path", str(pipeline["data"]), "--save_dir", str(pipeline["exp"] / "mtl"),
                             "--exp_name", "bad", "--tasks", spec, *BUDGET], capsys)
    assert "--tasks" in line and expected in line
    assert not (pipeline["exp"] / "mtl" / "bad").exists()


def test_bad_tasks_subprocess_exit_code(pipeline):
    result = run([sys.executable, "train_mtl.py", "--data_path", str(pipeline["data"]), "--save_dir",
                  str(pipeline["exp"] / "mtl"), "--exp_name", "bad", "--tasks", "0,3", *BUDGET])
    assert "--tasks" in one_line_error(result)
    assert not (pipeline["exp"] / "mtl" / "bad").exists()


def test_masks_of_the_wrong_tasks(pipeline, tmp_path, capsys):
    """Swapped mask files (0.th holds ner's mask): a clear error naming the file, nothing trained."""
    import shutil

    swapped = tmp_path / "mask"
    shutil.copytree(pipeline["mask_dir"], swapped)
    os.replace(swapped / "0.th", swapped / "tmp.th")
    os.replace(swapped / "2.th", swapped / "0.th")
    os.replace(swapped / "tmp.th", swapped / "2.th")
    line = in_process_error(["--data_path", str(pipeline["data"]), "--masks_path", str(swapped), "--save_dir",
                             str(tmp_path / "mtl"), "--exp_name", "x", "--epochs", "1", *BUDGET], capsys)
    assert str(swapped / "0.th") in line and "ner" in line and "pos" in line
    assert not (tmp_path / "mtl" / "x" / "results.json").exists()
