"""export.py and predict.py --run OUT.pt: the bit-packing of masks (against numpy.packbits, for any shape); a
sparse-sharing run (Step 1 for 3 tasks, Step 2, Step 3) and a hard-sharing run on real CoNLL-2003 slices, exported
and tagged from the export alone with byte-identical output and results.json's dev scores; the file's layout
against the run's own mask files; damaged and foreign files as one-line errors."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

import export
import predict
from tests.conftest import conll_sentences
from utils.export.archive import FORMAT, VERSION
from utils.export.bits import pack_bits, unpack_bits
from utils.runs import layout
from utils.subnets.selection import prepare_masks

ROOT = Path(__file__).resolve().parents[1]
# hidden 200 (the paper's): with 16 the prunable weights are too few beside the embeddings for the sizes to compare
BUDGET = ["--train_limit", "50", "--eval_limit", "100", "--epochs", "1", "--hidden_size", "200",
          "--optim", "adam(lr=0.01)", "--device", "cpu"]
RAW = "EU rejects German call to boycott Zqxvbrtl lamb .\nΩμέγα wörld x\n"


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 9), min_size=0, max_size=3), st.integers(0, 2**32 - 1), st.floats(0.0, 1.0))
def test_bit_packing_round_trips_as_numpy_packs(shape, seed, kept):
    mask = torch.rand(shape, generator=torch.Generator().manual_seed(seed)) < kept
    bits = pack_bits(mask)
    assert bits.dtype == torch.uint8 and bits.numel() == -(-mask.numel() // 8)
    assert bits.tolist() == np.packbits(mask.numpy().reshape(-1)).tolist()
    back = unpack_bits(bits, shape)
    assert back.dtype == torch.bool and back.shape == mask.shape and torch.equal(back, mask)


def test_damaged_packed_bits_are_refused():
    bits = pack_bits(torch.ones(10, dtype=torch.bool))
    with pytest.raises(ValueError, match="needs 2"):
        unpack_bits(bits[:1], [10])
    with pytest.raises(ValueError, match="padding"):
        unpack_bits(torch.tensor([255, 255], dtype=torch.uint8), [10])
    with pytest.raises(ValueError, match="uint8"):
        unpack_bits(bits.long(), [10])


def run_all(commands: list[list[str]]) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    jobs = [subprocess.Popen(c, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            for c in commands]
    for job in jobs:
        output = job.communicate(timeout=600)[0]
        assert job.returncode == 0, output[-2000:]


@pytest.fixture(scope="module")
def runs(processed_conll03_small, tmp_path_factory) -> Path:
    """Sparse sharing (Step 1 for 3 tasks at 100% and 50% kept, Step 2 with round 1 each, Step 3) and hard
    sharing, on a copy of the processed data that is deleted afterwards; both exported; plus the inputs."""
    root = tmp_path_factory.mktemp("export")
    data = root / "processed"
    shutil.copytree(processed_conll03_small, data)
    common = [sys.executable, "train_mtl.py", "--data_path", str(data), "--save_dir", str(root / "mtl"), *BUDGET]
    run_all([[sys.executable, "train_single.py", "--data_path", str(data), "--task_id", str(i), "--pruning_iter",
              "1", "--final_rate", "0.5", "--save_dir", str(root / "single"), *BUDGET] for i in range(3)]
            + [[*common, "--exp_name", "hard"]])
    prepare_masks(str(root / "single" / layout.STEP1_TASKS), str(root / "masks"), rounds=[1, 1, 1])
    run_all([[*common, "--exp_name", "sparse", "--masks_path", str(root / "masks")]])
    shutil.rmtree(data)
    for name in ("sparse", "hard"):
        export.main([str(root / "mtl" / name), str(root / f"{name}.pt")])
    rows = conll_sentences(processed_conll03_small.parent / "dev.txt", 100)  # the dev sentences of the runs
    (root / "dev100.txt").write_text("\n\n".join("\n".join(block) for block in rows) + "\n", encoding="utf-8")
    (root / "raw.txt").write_text(RAW, encoding="utf-8")
    return root


def tag(run: Path, source: Path, out: Path, *extra: str) -> None:
    predict.main(["--run", str(run), "--input", str(source), "--output", str(out), "--device", "cpu", *extra])


@pytest.mark.parametrize("name", ["sparse", "hard"])
def test_the_export_tags_as_the_run_folder(runs, name, tmp_path):
    folder, exported = runs / "mtl" / name, runs / f"{name}.pt"
    scores = {}
    for key, source in (("folder", folder), ("export", exported)):
        tag(source, runs / "dev100.txt", tmp_path / f"{key}.conll", "--format", "conll", "--scores",
            str(tmp_path / f"{key}.json"))
        tag(source, runs / "raw.txt", tmp_path / f"{key}.jsonl", "--output_format", "jsonl")
        scores[key] = json.loads((tmp_path / f"{key}.json").read_text())["tasks"]
    for suffix in ("conll", "jsonl"):
        assert (tmp_path / f"folder.{suffix}").read_bytes() == (tmp_path / f"export.{suffix}").read_bytes()
    assert scores["folder"] == scores["export"]
    expected = json.loads((folder / layout.RESULTS).read_text())["tasks"]
    assert list(scores["export"]) == ["pos", "chunk", "ner"]
    for task, result in scores["export"].items():
        assert result["score"] == pytest.approx(expected[task]["dev"], abs=1e-6), task


def test_the_export_holds_the_union_of_the_masks_once(runs, capsys):
    record = torch.load(runs / "sparse.pt", weights_only=True)
    assert (record["format"], record["version"]) == (FORMAT, VERSION)
    masks = [torch.load(runs / "mtl" / "sparse" / layout.OWN_MASKS / layout.task_mask(i), weights_only=True)["mask"]
             for i in range(3)]
    best = torch.load(runs / "mtl" / "sparse" / layout.BEST, weights_only=True)
    assert [t["name"] for t in record["tasks"]] == ["pos", "chunk", "ner"]
    assert sorted(record["sparse"]) == sorted(masks[0]) and not set(record["sparse"]) & set(record["dense"])
    assert sorted([*record["sparse"], *record["dense"]]) == sorted(best)
    for name, entry in record["sparse"].items():
        kept = masks[0][name] | masks[1][name] | masks[2][name]
        assert entry["shape"] == list(best[name].shape) and torch.equal(entry["values"], best[name][kept])
        assert int(kept.sum()) < kept.numel()
        for task, mask in zip(record["tasks"], masks):
            assert task["mask"][name]["bits"].tolist() == np.packbits(mask[name].numpy().reshape(-1)).tolist()
    for name, tensor in record["dense"].items():
        assert torch.equal(tensor, best[name]), name
    assert os.path.getsize(runs / "sparse.pt") < os.path.getsize(runs / "mtl" / "sparse" / layout.BEST)
    hard = torch.load(runs / "hard.pt", weights_only=True)
    assert hard["sparse"] == {} and all(t["mask"] is None for t in hard["tasks"])
    export.main([str(runs / "mtl" / "sparse"), str(runs / "again.pt")])
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("dense weights") and f"{os.path.getsize(runs / 'again.pt'):,} bytes" in out[1]


def test_a_step1_round_exports_its_own_mask(runs, tmp_path):
    folder, out = runs / "single" / layout.STEP1_TASKS / "2", tmp_path / "ner.pt"
    export.main([str(folder), str(out), "--round", "1"])
    record = torch.load(out, weights_only=True)
    assert [t["name"] for t in record["tasks"]] == ["ner"] and "round 1" in record["description"]
    tag(folder, runs / "dev100.txt", tmp_path / "folder.conll", "--format", "conll", "--round", "1")
    tag(out, runs / "dev100.txt", tmp_path / "export.conll", "--format", "conll")
    assert (tmp_path / "folder.conll").read_bytes() == (tmp_path / "export.conll").read_bytes()


def one_error_line(main, argv: list[str], capsys) -> str:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code != 0
    err = [line for line in capsys.readouterr().err.strip().splitlines() if line.startswith("error:")]
    assert len(err) == 1
    return err[0]


def test_damaged_and_foreign_files_are_one_line_errors(runs, tmp_path, capsys):
    def refused(path: Path, *extra: str) -> str:
        message = one_error_line(predict.main, ["--run", str(path), "--input", str(runs / "raw.txt"), "--output",
                                                str(tmp_path / "out"), *extra], capsys)
        assert str(path) in message and not (tmp_path / "out").exists()
        return message

    content = (runs / "sparse.pt").read_bytes()
    (tmp_path / "cut.pt").write_bytes(content[:len(content) // 2])
    assert "not a tensor checkpoint" in refused(tmp_path / "cut.pt")
    record = torch.load(runs / "sparse.pt", weights_only=True)
    torch.save({**record, "version": VERSION + 1}, tmp_path / "version.pt")
    assert f"version {VERSION + 1}" in refused(tmp_path / "version.pt")
    assert "not an export file" in refused(runs / "mtl" / "sparse" / layout.BEST)
    values = record["sparse"][next(iter(record["sparse"]))]["values"]
    first = next(iter(record["sparse"]))
    damaged = {**record, "sparse": {**record["sparse"], first: {**record["sparse"][first], "values": values[1:]}}}
    torch.save(damaged, tmp_path / "values.pt")
    assert first in refused(tmp_path / "values.pt")
    assert "--round" in refused(runs / "sparse.pt", "--round", "1")
    assert "no such run folder" in one_error_line(export.main, [str(tmp_path / "nope"), str(tmp_path / "x.pt")], capsys)
    assert "not a run folder" in one_error_line(export.main, [str(runs / "sparse.pt"), str(tmp_path / "x.pt")], capsys)
    assert not (tmp_path / "x.pt").exists()


def test_help():
    result = subprocess.run([sys.executable, "export.py", "-h"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "RUN_DIR" in result.stdout and "--round" in result.stdout


@pytest.fixture(scope="module")
def transformer_round(processed_conll03_small, shared_data, tmp_path_factory) -> tuple[Path, Path, Path]:
    """A Step 1 NER folder on a copy of MiniLM (rounds at 100% and 50% kept), its round 1 exported, then the copy
    deleted; the folder, the export and the dev sentences."""
    root = tmp_path_factory.mktemp("export-transformer")
    pretrained = root / "minilm"
    shutil.copytree(shared_data / "minilm-l6-v2", pretrained)
    run_all([[sys.executable, "train_single.py", "--data_path", str(processed_conll03_small), "--task_id", "2",
              "--encoder", "transformer", "--pretrained", str(pretrained), "--pruning_iter", "1", "--final_rate",
              "0.5", "--train_limit", "16", "--eval_limit", "24", "--epochs", "1", "--save_dir", str(root / "single"),
              "--device", "cpu"]])
    folder = root / "single" / layout.STEP1_TASKS / "2"
    export.main([str(folder), str(root / "ner.pt"), "--round", "1"])
    shutil.rmtree(pretrained)
    rows = conll_sentences(processed_conll03_small.parent / "dev.txt", 24)
    (root / "dev.txt").write_text("\n\n".join("\n".join(block) for block in rows) + "\n", encoding="utf-8")
    return folder, root / "ner.pt", root / "dev.txt"


def test_a_transformer_export_needs_no_pretrained_folder(transformer_round, tmp_path):
    folder, exported, dev = transformer_round
    record = torch.load(exported, weights_only=True)
    assert sorted(record["pretrained"]) == sorted(os.listdir(folder / layout.SNAPSHOT / layout.PRETRAINED))
    assert os.path.getsize(exported) < os.path.getsize(folder / layout.weights_file(layout.mask_file(1, 50.0)))
    for key, source, extra in (("folder", folder, ["--round", "1"]), ("export", exported, [])):
        tag(source, dev, tmp_path / f"{key}.conll", "--format", "conll", "--scores", str(tmp_path / f"{key}.json"),
            *extra)
    assert (tmp_path / "folder.conll").read_bytes() == (tmp_path / "export.conll").read_bytes()
    got = json.loads((tmp_path / "export.json").read_text())["tasks"]
    assert got == json.loads((tmp_path / "folder.json").read_text())["tasks"]
    record = [json.loads(line) for line in (folder / layout.SCORES).read_text().splitlines()][1]
    assert record["round"] == 1 and got["ner"]["score"] == pytest.approx(record["dev"], abs=1e-6)
