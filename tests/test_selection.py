"""Step 2 (utils.subnets.selection and prepare-masks.sh): choosing one round per task by best dev, sparsest among ties,
never by test; gathering the chosen masks and the shared rewind point; the errors."""
import filecmp
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from utils.subnets.masks import load_mask, save_mask
from utils.subnets.selection import SelectionExists, choose_round, mask_file, prepare_masks, read_scores, same_rewind_point, task_dirs
from utils.runs import layout

ROOT = Path(__file__).resolve().parents[1]


def rec(round_, kept, dev, test=50.0):
    return {"round": round_, "kept": kept, "dev": dev, "test": test}


# --- choose_round ---

def test_best_dev_wins():
    records = [rec(0, 100.0, 90.0), rec(1, 50.0, 91.5), rec(2, 25.0, 89.0)]
    assert choose_round(records)["round"] == 1


def test_sparsest_among_tied_best_dev():
    records = [rec(0, 100.0, 91.0), rec(1, 50.0, 91.0), rec(2, 25.0, 91.0), rec(3, 12.5, 90.9)]
    assert choose_round(records)["round"] == 2


def test_ties_on_dev_and_kept_pick_the_first_round():
    records = [rec(3, 50.0, 91.0), rec(1, 50.0, 91.0), rec(0, 100.0, 80.0)]
    assert choose_round(records)["round"] == 1


def test_order_of_records_does_not_matter():
    records = [rec(2, 25.0, 91.0), rec(0, 100.0, 91.0), rec(1, 50.0, 91.0)]
    assert choose_round(records)["round"] == 2
    assert choose_round(list(reversed(records)))["round"] == 2


def test_test_scores_are_ignored():
    records = [rec(0, 100.0, 90.0, test=99.0), rec(1, 50.0, 92.0, test=10.0), rec(2, 25.0, 88.0, test=100.0)]
    assert choose_round(records)["round"] == 1
    # equal dev, a much better test score on the denser round: still the sparser one
    records = [rec(0, 100.0, 92.0, test=99.0), rec(1, 50.0, 92.0, test=1.0)]
    assert choose_round(records)["round"] == 1


def test_tolerance():
    records = [rec(0, 100.0, 90.0), rec(1, 50.0, 89.8), rec(2, 25.0, 89.4), rec(3, 12.5, 85.0)]
    assert choose_round(records)["round"] == 0
    assert choose_round(records, tolerance=0.25)["round"] == 1
    assert choose_round(records, tolerance=0.6)["round"] == 2
    assert choose_round(records, tolerance=5.0)["round"] == 3
    assert choose_round(records, tolerance=4.9)["round"] == 2


def test_single_round():
    assert choose_round([rec(0, 100.0, 0.0)])["round"] == 0


# --- a hand-made Step 1 tree ---

TASKS = ["pos", "chunk", "ner"]
SHAPES = {"lstm.weight_ih": (4, 5), "char.convs.0.weight": (2, 2)}  # 24 weights: 100, 50, 25% exact
# per task: the dev score of rounds 0, 1, 2 (kept 100, 50, 25%)
DEV = {"pos": [90.0, 91.0, 91.0], "chunk": [80.0, 79.0, 78.0], "ner": [70.0, 72.0, 71.0]}
TEST = {"pos": [99.0, 10.0, 10.0], "chunk": [1.0, 99.0, 99.0], "ner": [50.0, 40.0, 99.0]}
AUTO = {"pos": 2, "chunk": 0, "ner": 1}


def nested_masks(seed: int) -> list[dict]:
    """Masks of rounds 0, 1, 2 keeping 100%, 50%, 25% of the weights (by random scores)."""
    g = torch.Generator().manual_seed(seed)
    scores = {n: torch.rand(s, generator=g) for n, s in SHAPES.items()}
    flat = torch.cat([s.flatten() for s in scores.values()]).sort(descending=True).values
    masks = []
    for keep in (1.0, 0.5, 0.25):
        k = round(keep * flat.numel())
        threshold = flat[k - 1]
        masks.append({n: s >= threshold for n, s in scores.items()})
    return masks


def rewind_point(seed: int = 0) -> dict:
    g = torch.Generator().manual_seed(seed)
    return {n: torch.randn(s, generator=g) for n, s in SHAPES.items()} | {"head.bias": torch.zeros(3)}


def make_tree(root: Path, tasks=TASKS) -> Path:
    """<root>/single/cp/<id>/ with config.json, scores.jsonl, init_weights.th, the round masks and best_ weights."""
    single = root / "single" / "cp"
    for task_id, task in enumerate(tasks):
        d = single / str(task_id)
        d.mkdir(parents=True)
        (d / "config.json").write_text(json.dumps({"task": task, "task_id": task_id}))
        torch.save(rewind_point(), d / "init_weights.th")
        lines = []
        for r, mask in enumerate(nested_masks(task_id)):
            kept = 100.0 * sum(int(m.sum()) for m in mask.values()) / sum(m.numel() for m in mask.values())
            save_mask(str(d / f"{r}_{kept:.2f}.th"), mask, r, task)
            torch.save(rewind_point(99), d / f"best_{r}_{kept:.2f}.th")
            lines.append(json.dumps({"round": r, "kept": round(kept, 4), "dev": DEV[task][r], "test": TEST[task][r],
                                     "best_epoch": 1, "epochs": 1, "seconds": 0.1}))
        (d / "scores.jsonl").write_text("\n".join(lines) + "\n")
        (d / "complete.json").write_text(json.dumps({"task": task, "rounds": len(lines)}))
    return single


def kept_of(round_: int) -> float:
    return [100.0, 50.0, 25.0][round_]


def check_output(single: Path, out: Path, rounds: dict[str, int]) -> None:
    assert sorted(set(os.listdir(out)) - {layout.JOB}) == ["0.th", "1.th", "2.th", "init_weights.th", "selection.json"]
    for task_id, task in enumerate(TASKS):
        r = rounds[task]
        source = single / str(task_id) / f"{r}_{kept_of(r):.2f}.th"
        assert filecmp.cmp(source, out / f"{task_id}.th", shallow=False)
        record = load_mask(str(out / f"{task_id}.th"))
        assert record["task"] == task and record["round"] == r
        assert record["kept"] == pytest.approx(kept_of(r))
    assert filecmp.cmp(single / "0" / "init_weights.th", out / "init_weights.th", shallow=False)
    selection = json.loads((out / "selection.json").read_text())
    assert [(c["task_id"], c["task"], c["round"]) for c in selection["chosen"]] == \
           [(i, t, rounds[t]) for i, t in enumerate(TASKS)]
    for c in selection["chosen"]:
        assert c["kept"] == pytest.approx(kept_of(c["round"]))
        assert c["dev"] == DEV[c["task"]][c["round"]]
        assert Path(c["source"]) == single / str(c["task_id"]) / f"{c['round']}_{kept_of(c['round']):.2f}.th"


def test_tree_helpers(tmp_path):
    single = make_tree(tmp_path)
    assert task_dirs(str(single)) == [str(single / str(i)) for i in range(3)]
    assert [r["round"] for r in read_scores(str(single / "0"))] == [0, 1, 2]
    assert mask_file(str(single / "1"), 1) == str(single / "1" / "1_50.00.th")  # not best_1_50.00.th
    same_rewind_point([str(single / str(i) / "init_weights.th") for i in range(3)])


def test_prepare_masks_auto(tmp_path):
    single = make_tree(tmp_path)
    out = tmp_path / "mask"
    chosen = prepare_masks(str(single), str(out))
    assert [(c["task"], c["round"]) for c in chosen] == [(t, AUTO[t]) for t in TASKS]
    check_output(single, out, AUTO)
    assert json.loads((out / "selection.json").read_text())["rule"].startswith("best dev")


def test_prepare_masks_manual_rounds(tmp_path):
    single = make_tree(tmp_path)
    out = tmp_path / "mask"
    chosen = prepare_masks(str(single), str(out), rounds=[1, 2, 0])
    assert [c["round"] for c in chosen] == [1, 2, 0]
    check_output(single, out, {"pos": 1, "chunk": 2, "ner": 0})
    assert json.loads((out / "selection.json").read_text())["rule"] == "manual"


def test_prepare_masks_tolerance(tmp_path):
    single = make_tree(tmp_path)
    chosen = prepare_masks(str(single), str(tmp_path / "mask"), tolerance=1.5)
    # pos 91/91 -> 2; chunk 80, 79 within 1.5 -> 1; ner 72, 71 within 1.5 -> 2
    assert [c["round"] for c in chosen] == [2, 1, 2]


def test_prepare_masks_replaces_a_previous_choice_only_when_asked(tmp_path):
    single = make_tree(tmp_path)
    out = tmp_path / "mask"
    prepare_masks(str(single), str(out), rounds=[0, 0, 0])
    with pytest.raises(SelectionExists, match=r"pos round 0, chunk round 0, ner round 0.*--overwrite"):
        prepare_masks(str(single), str(out))
    check_output(single, out, {"pos": 0, "chunk": 0, "ner": 0})
    prepare_masks(str(single), str(out), rounds=[0, 0, 0])  # the same choice again: no error
    prepare_masks(str(single), str(out), overwrite=True)
    check_output(single, out, AUTO)


def test_same_rounds_with_other_mask_files_are_another_choice(tmp_path):
    """The same rounds chosen from a Step 1 that was run again (other mask files) are another choice: refused
    without --overwrite, the folder left as it was."""
    single = make_tree(tmp_path)
    out = tmp_path / "mask"
    prepare_masks(str(single), str(out), rounds=[0, 1, 1])
    before = {name: (out / name).read_bytes() for name in os.listdir(out)}
    source = Path(mask_file(str(single / "1"), 1))
    record = torch.load(source, weights_only=True)
    first = next(iter(record["mask"]))
    record["mask"][first] = ~record["mask"][first]
    torch.save(record, source)
    with pytest.raises(SelectionExists, match="--overwrite"):
        prepare_masks(str(single), str(out), rounds=[0, 1, 1])
    assert {name: (out / name).read_bytes() for name in os.listdir(out)} == before


def test_missing_single_dir(tmp_path):
    with pytest.raises(FileNotFoundError, match="no Step 1 output"):
        prepare_masks(str(tmp_path / "nowhere"), str(tmp_path / "mask"))


def test_missing_task_folder(tmp_path):
    single = make_tree(tmp_path)
    for f in (single / "1").iterdir():
        f.unlink()
    (single / "1").rmdir()
    with pytest.raises(FileNotFoundError, match=r"expected task folders 0\.\.T-1, found \[0, 2\]"):
        prepare_masks(str(single), str(tmp_path / "mask"))
    assert not (tmp_path / "mask").exists()


def test_empty_single_dir(tmp_path):
    (tmp_path / "cp").mkdir()
    with pytest.raises(FileNotFoundError, match="found none"):
        prepare_masks(str(tmp_path / "cp"), str(tmp_path / "mask"))


def test_missing_scores(tmp_path):
    single = make_tree(tmp_path)
    (single / "2" / "scores.jsonl").unlink()
    with pytest.raises(FileNotFoundError, match="scores.jsonl"):
        prepare_masks(str(single), str(tmp_path / "mask"))


def test_unfinished_step1_is_refused(tmp_path):
    """A Step 1 that stopped half way (no complete.json) gives no subnet to choose from."""
    single = make_tree(tmp_path)
    (single / "1" / "complete.json").unlink()
    with pytest.raises(ValueError, match=r"1: Step 1 has not finished"):
        prepare_masks(str(single), str(tmp_path / "mask"))
    assert not (tmp_path / "mask").exists()


def test_round_that_does_not_exist(tmp_path):
    single = make_tree(tmp_path)
    with pytest.raises(ValueError, match=r"round 7 does not exist"):
        prepare_masks(str(single), str(tmp_path / "mask"), rounds=[0, 7, 1])
    assert not (tmp_path / "mask").exists()


def test_wrong_number_of_rounds(tmp_path):
    single = make_tree(tmp_path)
    with pytest.raises(ValueError, match="2 rounds given for 3 tasks"):
        prepare_masks(str(single), str(tmp_path / "mask"), rounds=[0, 1])


def test_mask_file_of_a_recorded_round_missing(tmp_path):
    single = make_tree(tmp_path)
    (single / "0" / "2_25.00.th").unlink()
    with pytest.raises(FileNotFoundError, match="no mask of round 2"):
        prepare_masks(str(single), str(tmp_path / "mask"))


@pytest.mark.parametrize("task", ["1", "2"])
@pytest.mark.parametrize("change", ["value", "key"])
def test_differing_rewind_points(tmp_path, change, task):
    """Any task's rewind point differing from the first task's is refused, naming its file."""
    single = make_tree(tmp_path)
    other = rewind_point()
    if change == "value":
        other["lstm.weight_ih"][0, 0] += 1e-3
    else:
        other["extra"] = torch.zeros(1)
    torch.save(other, single / task / "init_weights.th")
    path = str(single / task / "init_weights.th")
    with pytest.raises(ValueError, match="same rewind point") as info:
        prepare_masks(str(single), str(tmp_path / "mask"))
    assert path in str(info.value)
    assert not (tmp_path / "mask").exists()


# --- prepare-masks.sh ---

def run_script(*args, exp_dir: Path, **env):
    """prepare-masks.sh with SINGLE_DIR and MASK_DIR naming make_tree's folders (a run's own: test_script_of_a_run)."""
    environment = {**os.environ, "EXP_DIR": str(exp_dir), "OMP_NUM_THREADS": "1", "PYTHON": sys.executable,
                   "SINGLE_DIR": str(exp_dir / "single" / "cp"), "MASK_DIR": str(exp_dir / "mtl" / "mask"), **env}
    return subprocess.run(["bash", "prepare-masks.sh", *args], cwd=ROOT, env=environment, capture_output=True,
                          text=True, timeout=120)


def table_rows(stdout: str) -> list[list[str]]:
    lines = [line for line in stdout.strip().splitlines() if not line.startswith("== ")]
    assert lines[0].split() == ["task", "round", "kept", "%", "dev"]
    return [line.split() for line in lines[1:1 + len(TASKS)]]


def test_script_auto(tmp_path):
    single = make_tree(tmp_path)
    result = run_script("conll03", "auto", exp_dir=tmp_path)
    assert result.returncode == 0, result.stderr
    rows = table_rows(result.stdout)
    assert rows == [[t, str(AUTO[t]), f"{kept_of(AUTO[t]):.2f}", f"{DEV[t][AUTO[t]]:.2f}"] for t in TASKS]
    assert str(tmp_path / "mtl" / "mask") in result.stdout
    check_output(single, tmp_path / "mtl" / "mask", AUTO)


def test_script_default_is_auto(tmp_path):
    single = make_tree(tmp_path)
    result = run_script("conll03", exp_dir=tmp_path)
    assert result.returncode == 0, result.stderr
    check_output(single, tmp_path / "mtl" / "mask", AUTO)


def test_script_explicit_rounds(tmp_path):
    single = make_tree(tmp_path)
    result = run_script("conll03", "1", "1", "2", exp_dir=tmp_path)
    assert result.returncode == 0, result.stderr
    rows = table_rows(result.stdout)
    assert [(r[0], r[1], r[2]) for r in rows] == [("pos", "1", "50.00"), ("chunk", "1", "50.00"), ("ner", "2", "25.00")]
    check_output(single, tmp_path / "mtl" / "mask", {"pos": 1, "chunk": 1, "ner": 2})


def test_script_of_a_run(tmp_path):
    """Without SINGLE_DIR and MASK_DIR: the Step 1 of run NAME (default: the newest run of EXP_DIR), its masks/;
    rounds may be given with commas."""
    single = make_tree(tmp_path / "made")
    run = layout.run(str(tmp_path / "exp"), "r")
    os.makedirs(run.step1())
    os.rename(single, run.step1_tasks())
    result = run_script("conll03", "1,1,2", exp_dir=tmp_path / "exp", SINGLE_DIR="", MASK_DIR="", NAME="r")
    assert result.returncode == 0, result.stderr
    check_output(Path(run.step1_tasks()), Path(run.masks()), {"pos": 1, "chunk": 1, "ner": 2})
    again = run_script("conll03", exp_dir=tmp_path / "exp", SINGLE_DIR="", MASK_DIR="", NAME="")
    assert again.returncode == 1 and "holds another choice" in again.stderr
    assert "NAME=r (the newest run" in again.stderr


def test_script_mask_dir_override(tmp_path):
    make_tree(tmp_path)
    result = run_script("conll03", exp_dir=tmp_path, MASK_DIR=str(tmp_path / "elsewhere"))
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "elsewhere" / "selection.json").is_file()
    assert not (tmp_path / "mtl").exists()


def one_line_error(result) -> str:
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error:")
    assert "Traceback" not in result.stderr
    return lines[0]


def test_script_bad_round(tmp_path):
    make_tree(tmp_path)
    line = one_line_error(run_script("conll03", "0", "9", "0", exp_dir=tmp_path))
    assert "round 9 does not exist" in line
    assert not (tmp_path / "mtl").exists()


def test_script_wrong_round_count(tmp_path):
    make_tree(tmp_path)
    assert "1 rounds given for 3 tasks" in one_line_error(run_script("conll03", "0", exp_dir=tmp_path))


def test_script_missing_experiment(tmp_path):
    line = one_line_error(run_script("conll03", "auto", exp_dir=tmp_path / "nothing"))
    assert "no Step 1 output" in line


def test_script_missing_task_folder(tmp_path):
    single = make_tree(tmp_path, tasks=TASKS[:2])
    os.rename(single / "1", single / "2")
    assert "expected task folders" in one_line_error(run_script("conll03", exp_dir=tmp_path))


def test_script_differing_rewind_points(tmp_path):
    single = make_tree(tmp_path)
    torch.save(rewind_point(seed=1), single / "1" / "init_weights.th")
    line = one_line_error(run_script("conll03", exp_dir=tmp_path))
    assert str(single / "1" / "init_weights.th") in line


def test_script_usage():
    result = subprocess.run(["bash", "prepare-masks.sh", "-h"], cwd=ROOT, capture_output=True, text=True, timeout=60,
                            env={**os.environ, "PYTHON": sys.executable})
    assert result.returncode == 0 and "auto" in result.stdout
    result = subprocess.run(["bash", "prepare-masks.sh"], cwd=ROOT, capture_output=True, text=True, timeout=60,
                            env={**os.environ, "PYTHON": sys.executable})
    assert result.returncode != 0 and "prepare-masks.sh" in result.stdout


def test_module_cli_matches_script(tmp_path):
    single = make_tree(tmp_path)
    result = subprocess.run([sys.executable, "-m", "utils.subnets.selection", "--single_dir", str(single), "--out_dir",
                             str(tmp_path / "m"), "--rounds", "0", "0", "0"], cwd=ROOT, capture_output=True, text=True,
                            timeout=120, env={**os.environ, "OMP_NUM_THREADS": "1", "PYTHON": sys.executable})
    assert result.returncode == 0, result.stderr
    assert [r[1] for r in table_rows(result.stdout)] == ["0", "0", "0"]
