"""`run_ontonotes.sh prepare` and `all` on the CoNLL-2012 samples laid out as train/, development/ and test/
(and as the conll-formatted-ontonotes-5.0 release), on a tiny budget: files written, scores and the chosen subnets."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from utils.pipeline.executor import setting_of
from utils.runs import layout

REPO = Path(__file__).resolve().parents[1]
TASKS = ("pos", "chunk", "ner")


def run(args: list[str], env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "run_ontonotes.sh", *args], cwd=REPO, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHON": sys.executable, "OMP_NUM_THREADS": "1", **env})


def pt_document(sample: Path) -> str:
    """The sample document as a `pt/` (Bible) document, which has no NE annotation and must be skipped."""
    return sample.read_text().replace("test/test/04/test_004", "pt/nt/40/nt_4001")


def lay_out(root: Path, samples: Path, split_dir) -> Path:
    """train/ = example (4 sentences) + a pt/ document; development/ = example2 (1 sentence); test/ = example."""
    files = {"train": ["example.gold_conll"], "development": ["example2.gold_conll"], "test": ["example.gold_conll"]}
    for split, names in files.items():
        folder = split_dir(root, split)
        folder.mkdir(parents=True)
        for name in names:
            (folder / name).symlink_to(samples / name)
    (split_dir(root, "train") / "pt_4001.gold_conll").write_text(pt_document(samples / "example2.gold_conll"))
    return root


def counts(stdout: str) -> dict[tuple[str, str], tuple[int, int]]:
    """(task, split) -> (sentences, tokens) from prepare-data.py's summary table."""
    rows = [line.split() for line in stdout.splitlines()]
    return {(r[0], r[1]): (int(r[2].replace(",", "")), int(r[3].replace(",", ""))) for r in rows
            if len(r) == 6 and r[0] in TASKS}


def expected_round(scores: list[dict]) -> int:
    """Step 2's rule worked out here: the best dev score, the sparsest among equals."""
    best = max(s["dev"] for s in scores)
    return min((s for s in scores if s["dev"] == best), key=lambda s: s["kept"])["round"]


@pytest.fixture(scope="module")
def pipeline(shared_data, tmp_path_factory):
    """prepare, then all: warmup 1 epoch, Step 1 one round to 50% kept, masks auto, joint training 1 epoch."""
    root = tmp_path_factory.mktemp("ontonotes")
    data = lay_out(root / "conll2012", shared_data / "conll2012-sample", lambda r, split: r / split)
    env = {"ONTONOTES_DIR": str(data), "EMBEDDING": str(shared_data / "glove/glove.6B.50d.subset.txt"),
           "PROCESSED": str(root / "processed"), "EXP_DIR": str(root / "exp"), "TRAIN_LIMIT": "4",
           "EVAL_LIMIT": "4", "EPOCHS": "1", "MTL_EPOCHS": "1", "WARMUP_EPOCHS": "1", "PRUNING_ITER": "1",
           "FINAL_RATE": "0.5", "JOBS": "3", "NAME": "budget", "DEVICE": "cpu"}
    prepared = run(["prepare"], env)
    assert prepared.returncode == 0, prepared.stderr
    done = run(["all"], env)
    assert done.returncode == 0, done.stderr
    return root, prepared.stdout, done.stdout


def test_prepare_reads_the_three_splits_and_skips_pt(pipeline):
    root, stdout, _ = pipeline
    table = counts(stdout)
    for task in TASKS:
        assert table[(task, "train")] == (4, 44)     # the pt/ document's sentence is not read
        assert table[(task, "dev")] == (1, 15)
        assert table[(task, "test")] == (4, 44)
    meta = json.loads((root / "processed/meta.json").read_text())
    assert [t["name"] for t in meta["tasks"]] == list(TASKS)


def the_run(pipeline) -> layout.Run:
    return layout.run(str(pipeline[0] / "exp"), "budget")


def test_all_writes_every_step(pipeline):
    run = the_run(pipeline)
    assert Path(run.warmup, layout.BEST).is_file()
    for task_id in range(3):
        task_dir = Path(run.step1_task(task_id))
        assert (task_dir / layout.INIT).is_file()
        scores = [json.loads(line) for line in (task_dir / layout.SCORES).read_text().splitlines()]
        assert [s["round"] for s in scores] == [0, 1]
        assert [s["kept"] for s in scores] == pytest.approx([100.0, 50.0], abs=0.01)
        assert Path(run.masks(), layout.task_mask(task_id)).is_file()
    assert Path(run.masks(), layout.INIT).is_file()
    assert Path(run.step3(), layout.RESULTS).is_file()


def test_ontonotes_trains_two_layers_as_the_papers_counts_imply(pipeline):
    """REFERENCE §4: the paper's OntoNotes # Params (hard sharing 1497k) are those of a 2-layer BiLSTM."""
    config = json.loads(Path(the_run(pipeline).step3(), layout.CONFIG).read_text())
    assert setting_of(config, "n_layer") == 2


def test_results_hold_the_chosen_subnets(pipeline):
    run = the_run(pipeline)
    results = json.loads(Path(run.step3(), layout.RESULTS).read_text())
    assert results["setting"] == "ontonotes"
    assert list(results["tasks"]) == list(TASKS)
    for task_id, task in enumerate(TASKS):
        entry = results["tasks"][task]
        scores = [json.loads(line) for line in Path(run.step1_task(task_id), layout.SCORES).read_text().splitlines()]
        assert entry["round"] == expected_round(scores)
        mask = torch.load(Path(run.masks(), layout.task_mask(task_id)), weights_only=True)["mask"]
        kept = 100.0 * sum(int(m.sum()) for m in mask.values()) / sum(m.numel() for m in mask.values())
        assert kept == pytest.approx(entry["kept"], abs=0.01)
        assert kept == pytest.approx(100.0 if entry["round"] == 0 else 50.0, abs=0.01)
        assert 0.0 <= entry["dev"] <= 100.0 and 0.0 <= entry["test"] <= 100.0
    # POS accuracy on the 15 dev and 44 test tokens is a whole number of tokens.
    pos = results["tasks"]["pos"]
    assert pos["dev"] * 15 / 100 == pytest.approx(round(pos["dev"] * 15 / 100), abs=1e-6)
    assert pos["test"] * 44 / 100 == pytest.approx(round(pos["test"] * 44 / 100), abs=1e-6)


def test_all_prints_its_table(pipeline):
    results = json.loads(Path(the_run(pipeline).step3(), layout.RESULTS).read_text())
    stdout = pipeline[2]
    table = stdout[stdout.index("== Step 3"):]
    for task in TASKS:
        row = next(line.split() for line in table.splitlines() if line.split()[:1] == [task])
        assert float(row[1]) == pytest.approx(results["tasks"][task]["kept"], abs=0.01)
        assert float(row[3]) == pytest.approx(results["tasks"][task]["test"], abs=0.01)


def test_release_layout_reads_english_only(shared_data, tmp_path):
    """ONTONOTES_DIR = conll-formatted-ontonotes-5.0/data: <split>/data/english/annotations/..., beside chinese/."""
    samples = shared_data / "conll2012-sample"
    release = lay_out(tmp_path / "data", samples,
                      lambda r, split: r / split / "data/english/annotations/bn/cnn/01")
    chinese = release / "train/data/chinese/annotations/bn/cnn/01"
    chinese.mkdir(parents=True)
    (chinese / "cnn_0115.gold_conll").symlink_to(samples / "example.gold_conll")
    done = run(["prepare"], {"ONTONOTES_DIR": str(release), "EMBEDDING": "", "PROCESSED": str(tmp_path / "p")})
    assert done.returncode == 0, done.stderr
    table = counts(done.stdout)
    assert table[("pos", "train")] == (4, 44) and table[("ner", "dev")] == (1, 15)


def test_negative_is_conll03_only():
    done = run(["negative"], {})
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and "run_conll03.sh negative" in done.stderr


def test_the_ontonotes_setting_gives_the_papers_parameter_counts():
    """run_ontonotes.sh's preset (N_LAYER=2) reaches the joint runs' flags, and with the paper's 100-d vectors that
    model's encoder has the paper's OntoNotes # Params: hard sharing 1497k, single task 3 × 1497k = 4491k."""
    from models import get_model
    from tests.conftest import build_tiny_dataset
    from utils.subnets.params import encoder_params
    from utils.pipeline import variables
    from utils.pipeline.settings import SETTINGS

    setting = SETTINGS["ontonotes"]
    flags = variables.training_flags(variables.read({}, setting.presets, setting.variables), variables.JOINT)
    assert flags == ["--n_layer", "2"]
    model = get_model("cnn-lstm", build_tiny_dataset(dim=100), hidden_size=200, n_layer=int(flags[1]))
    assert encoder_params(model) == 1_497_130
    assert round(encoder_params(model) / 1000) == 1497 and round(3 * encoder_params(model) / 1000) == 4491
