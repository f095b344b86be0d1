"""`run_ptb.sh prepare` on real data: WSJ POS (a slice of dev.pos standing in for the LDC-only train.pos),
CoNLL-2000 chunking with a held-out dev split, CoNLL-2003 NER, one shared vocabulary."""
import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_prepare_ptb_setting(shared_data, tmp_path):
    wsj = tmp_path / "wsj"
    wsj.mkdir()
    dev = (shared_data / "wsj_ptb/dev.pos").read_text().split("\n\n")
    (wsj / "train.pos").write_text("\n\n".join(dev[:301]) + "\n")
    for split in ("dev", "test"):
        (wsj / f"{split}.pos").symlink_to(shared_data / f"wsj_ptb/{split}.pos")
    env = {**os.environ, "PYTHON": sys.executable, "WSJ_DIR": str(wsj), "CHUNK_DIR": str(shared_data / "conll2000"),
           "NER_DIR": str(shared_data / "conll03"), "EMBEDDING": str(shared_data / "glove/glove.6B.50d.subset.txt"),
           "PROCESSED": str(tmp_path / "processed")}
    done = subprocess.run(["bash", "run_ptb.sh", "prepare"], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    rows = {tuple(line.split()[:2]): line.split()[2] for line in done.stdout.splitlines()[1:10]}
    assert rows[("pos", "train")] == "300"          # the first block is "-DOCSTART- O", dropped
    assert rows[("pos", "dev")] == "5,527" and rows[("pos", "test")] == "5,462"
    assert rows[("chunk", "train")] == "8,042" and rows[("chunk", "dev")] == "894"
    assert rows[("chunk", "test")] == "2,012"
    assert rows[("ner", "train")] == "14,041"
    meta = json.loads((tmp_path / "processed/meta.json").read_text())
    assert [(t["name"], t["metric"]) for t in meta["tasks"]] == [("pos", "acc"), ("chunk", "bio"), ("ner", "bioes")]


def test_prepare_ptb_with_the_wsj_standin(shared_data, tmp_path):
    """WSJ_STANDIN=1: no train.pos; dev.pos (sections 19-21, 5,527 sentences) is split into 90% train and 10% dev
    (round(0.1 · 5,527) = 553), test.pos stays the test set."""
    wsj = tmp_path / "wsj"
    wsj.mkdir()
    for split in ("dev", "test"):
        (wsj / f"{split}.pos").symlink_to(shared_data / f"wsj_ptb/{split}.pos")
    env = {**os.environ, "PYTHON": sys.executable, "WSJ_DIR": str(wsj), "WSJ_STANDIN": "1",
           "CHUNK_DIR": str(shared_data / "conll2000"), "NER_DIR": str(shared_data / "conll03"),
           "EMBEDDING": str(shared_data / "glove/glove.6B.50d.subset.txt"), "PROCESSED": str(tmp_path / "processed")}
    done = subprocess.run(["bash", "run_ptb.sh", "prepare"], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    rows = {tuple(line.split()[:2]): line.split()[2] for line in done.stdout.splitlines()[1:10]}
    assert rows[("pos", "train")] == "4,974" and rows[("pos", "dev")] == "553" and rows[("pos", "test")] == "5,462"
    without = subprocess.run(["bash", "run_ptb.sh", "prepare"], cwd=REPO, capture_output=True, text=True,
                             env={**env, "WSJ_STANDIN": "", "PROCESSED": str(tmp_path / "other")}, timeout=120)
    assert without.returncode == 1 and "train.pos" in without.stderr and "WSJ_STANDIN=1" in without.stderr
