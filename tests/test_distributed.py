"""Step 3 data-parallel under torchrun (gloo, CPU processes): both ranks take the same task at every step and
disjoint shards of its batches, hold identical weights after every step, never move a pruned weight; one process
under torchrun is the plain run; rank 0 alone writes the run folder; a stopped 2-process run resumes to the
uninterrupted result; dev scores match the single-process run with the same global batch."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from models import get_model
from tests.conftest import build_tiny_dataset
from utils.runs import layout
from utils.runs.checkpoint import load_tensors, save_state
from utils.training.distributed import TRACE_ENV, Context, shard, steps_per_epoch
from utils.subnets.masks import prunable_names, save_mask
from utils.training.joint import JointTask, train_joint

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
# pos has 4 training sentences, ner 3: with batch 2 each task has 2 batches, one per rank, no padding.
TINY = ["--hidden_size", "8", "--epochs", "3", "--batch_size", "2", "--device", "cpu"]
TRAIN_SIZES = [4, 3]


def launch(command: list[str], trace: Path | None = None, timeout: int = 120) -> subprocess.CompletedProcess:
    env = {**ENV, TRACE_ENV: str(trace)} if trace else ENV
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)


def check(result: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def read_trace(folder: Path, rank: int) -> list[dict]:
    return [json.loads(line) for line in (folder / f"rank{rank}.jsonl").read_text().splitlines()]


def results_without_timing(path: Path) -> dict:
    results = json.loads(path.read_text())
    for report in results["history"]:
        report.pop("seconds")
    results.pop("world_size")
    return results


def assert_same_weights(a: Path, b: Path) -> None:
    first, second = load_tensors(str(a)), load_tensors(str(b))
    assert first.keys() == second.keys()
    for name in first:
        assert torch.equal(first[name], second[name]), name


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """The tiny data set, random masks (half kept) with a rewind point, and three runs of train_mtl.py with the
    step trace on: plain, torchrun with 1 process, torchrun with 2 processes."""
    root = tmp_path_factory.mktemp("distributed")
    data = build_tiny_dataset()
    data.save(str(root / "data"))
    torch.manual_seed(0)
    model = get_model("cnn-lstm", data, hidden_size=8)
    generator = torch.Generator().manual_seed(1)
    masks = []
    for t, task in enumerate(data.tasks):
        masks.append({n: torch.rand(model.get_parameter(n).shape, generator=generator) < 0.5
                      for n in prunable_names(model)})
        save_mask(str(root / "masks" / f"{t}.th"), masks[-1], 1, task.name)
    save_state(model.state_dict(), str(root / "masks" / "init_weights.th"))
    flags = ["--data_path", str(root / "data"), "--masks_path", str(root / "masks"), "--save_dir", str(root / "exp"),
             *TINY]
    runs = {"plain": [sys.executable, "train_mtl.py"], "one": [*TORCHRUN, "--nproc_per_node", "1", "train_mtl.py"],
            "two": [*TORCHRUN, "--nproc_per_node", "2", "train_mtl.py"]}
    output = {name: check(launch([*command, *flags, "--exp_name", name], root / f"trace-{name}"))
              for name, command in runs.items()}
    return {"root": root, "flags": flags, "masks": masks, "output": output}


def test_world_size_and_ranks_are_logged_and_rank0_alone_prints(tiny):
    result = tiny["output"]["two"]
    for rank in (0, 1):
        assert f"world size 2, rank {rank}" in result.stderr
    assert result.stdout.count("epoch 1: dev") == 1
    assert result.stdout.count("encoder parameters") == 1


def test_both_ranks_take_the_same_tasks(tiny):
    ranks = [read_trace(tiny["root"] / "trace-two", r) for r in (0, 1)]
    assert [s["task"] for s in ranks[0]] == [s["task"] for s in ranks[1]]
    # a pass over the data per epoch: each task's 2 batches are one step on 2 ranks (4 steps in one process)
    assert len(ranks[0]) == 3 * 2
    assert len(read_trace(tiny["root"] / "trace-plain", 0)) == 3 * 4
    assert {s["task"] for s in ranks[0]} == {0, 1}


def test_ranks_take_disjoint_shards_of_the_tasks_batch(tiny):
    """With 2 batches per task, a step's two shards are the task's whole training set, split without overlap."""
    ranks = [read_trace(tiny["root"] / "trace-two", r) for r in (0, 1)]
    for first, second in zip(*ranks):
        assert not set(first["batch"]) & set(second["batch"]), (first, second)
        assert sorted(first["batch"] + second["batch"]) == list(range(TRAIN_SIZES[first["task"]]))


def test_weights_are_identical_on_both_ranks_after_every_step(tiny):
    ranks = [read_trace(tiny["root"] / "trace-two", r) for r in (0, 1)]
    assert [s["weights"] for s in ranks[0]] == [s["weights"] for s in ranks[1]]
    assert len({s["weights"] for s in ranks[0]}) == len(ranks[0])  # every step moved the weights


def test_pruned_weights_never_move(tiny):
    """Per step (trace) nothing outside the task's mask changes; in the saved weights, the entries no task keeps
    equal the rewind point while kept ones have moved."""
    for rank in (0, 1):
        assert all(s["pruned_moved"] == 0 for s in read_trace(tiny["root"] / "trace-two", rank))
    init = load_tensors(str(tiny["root"] / "masks" / "init_weights.th"))
    best = load_tensors(str(tiny["root"] / "exp" / "two" / "best.th"))
    for name in tiny["masks"][0]:
        union = tiny["masks"][0][name] | tiny["masks"][1][name]
        assert (~union).any() and torch.equal(best[name][~union], init[name][~union]), name
        assert (best[name][union] != init[name][union]).float().mean() > 0.5, name


def test_one_process_under_torchrun_is_the_plain_run(tiny):
    exp = tiny["root"] / "exp"
    assert_same_weights(exp / "one" / "best.th", exp / "plain" / "best.th")
    assert results_without_timing(exp / "one" / "results.json") == results_without_timing(exp / "plain" / "results.json")
    assert read_trace(tiny["root"] / "trace-one", 0) == read_trace(tiny["root"] / "trace-plain", 0)


def test_rank0_alone_writes_the_run_folder(tiny):
    exp = tiny["root"] / "exp"
    def name(path) -> str:  # an event file's name holds its time, host and process: compare where it is
        relative = path.relative_to(exp).parts[1:]
        return "/".join(relative[:-1] + ("<events>",)) if ".tfevents." in relative[-1] else "/".join(relative)

    listing = {p: sorted(name(x) for x in (exp / p).rglob("*")) for p in ("plain", "two")}
    assert listing["two"] == listing["plain"]
    assert f"{layout.TENSORBOARD}/<events>" in listing["two"]
    assert json.loads((exp / "two" / "results.json").read_text())["world_size"] == 2
    assert json.loads((exp / "one" / "results.json").read_text())["world_size"] == 1
    assert sorted(os.listdir(tiny["root"] / "trace-two")) == ["rank0.jsonl", "rank1.jsonl"]


STOPPING = """import sys
sys.path.insert(0, {root!r})
import train_mtl

real = train_mtl.save_training_state


def stopping(folder, state):
    real(folder, state)
    if state["epoch"] == 1:
        raise SystemExit("stopped after epoch 1")


train_mtl.save_training_state = stopping
train_mtl.main(sys.argv[1:])
"""


def test_stopped_two_process_run_resumes_to_the_uninterrupted_result(tiny, tmp_path):
    """Every rank's batch queues and RNG states are saved with the epoch: the resumed run ends where the
    uninterrupted 2-process run did."""
    script = tmp_path / "stopping.py"
    script.write_text(STOPPING.format(root=str(ROOT)))
    command = [*TORCHRUN, "--nproc_per_node", "2"]
    stopped = launch([*command, str(script), *tiny["flags"], "--exp_name", "resumed"])
    run = tiny["root"] / "exp" / "resumed"
    assert stopped.returncode != 0 and (run / "resume.th").exists() and not (run / "results.json").exists()
    check(launch([*command, "train_mtl.py", *tiny["flags"], "--exp_name", "resumed", "--resume"]))
    assert_same_weights(run / "best.th", tiny["root"] / "exp" / "two" / "best.th")
    assert results_without_timing(run / "results.json") == \
        results_without_timing(tiny["root"] / "exp" / "two" / "results.json")


def test_resume_refuses_another_number_of_processes(tmp_path):
    data = build_tiny_dataset()
    model = get_model("cnn-lstm", data, hidden_size=8)
    tasks = [JointTask(i, t, None) for i, t in enumerate(data.tasks)]
    with pytest.raises(ValueError, match="2 process"):
        train_joint(model, tasks, epochs=1, batch_size=2, optim="sgd(lr=0.1)", scheduler="fix",
                    sampling="proportional", device="cpu", pad_index=data.words.padding_idx,
                    generator=torch.Generator().manual_seed(0), on_best=lambda epoch: None,
                    state={"world_size": 2, "epoch": 1})


def test_shards_pad_by_repeating_the_first_batches():
    batches = [[0], [1], [2], [3], [4]]
    assert shard(batches, Context(0, 2)) == [[0], [2], [4]]
    assert shard(batches, Context(1, 2)) == [[1], [3], [0]]
    assert shard(batches, Context(2, 3)) == [[2], [0]]
    assert shard(batches, Context(0, 1)) == batches
    assert [steps_per_epoch(5, Context(0, n)) for n in (1, 2, 3, 8)] == [5, 3, 2, 1]


def test_dev_scores_match_the_single_process_run(processed_conll03, tmp_path):
    """Two ranks with --batch_size 10 make the same steps as one process with --batch_size 20 (same global batch,
    other batch compositions and dropout noise): POS dev accuracy within 5 points."""
    flags = ["--data_path", str(processed_conll03), "--tasks", "0", "--hidden_size", "16", "--epochs", "4",
             "--train_limit", "400", "--eval_limit", "200", "--device", "cpu", "--optim", "adam(lr=0.01)",
             "--save_dir", str(tmp_path)]
    check(launch([sys.executable, "train_mtl.py", *flags, "--batch_size", "20", "--exp_name", "one"]))
    check(launch([*TORCHRUN, "--nproc_per_node", "2", "train_mtl.py", *flags, "--batch_size", "10",
                  "--exp_name", "two"]))
    one, two = (json.loads((tmp_path / name / "results.json").read_text())["tasks"]["pos"]["dev"]
                for name in ("one", "two"))
    assert one > 50 and two > 50, (one, two)
    assert abs(one - two) <= 5, (one, two)
