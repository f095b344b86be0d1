"""Recipe contract, Step 1 (REFERENCE §2 "Step 1", README "Model and training"): iterative magnitude pruning
as train_single.py runs it, observed on a tiny model. One run records every optimiser step (learning rate,
gradients after clipping, optimiser identity) and every evaluation, with scripted dev/test scores, so each test
compares the run with the rule it quotes."""
import json
import types

import pytest
import torch

import train_single
import utils.training.joint
import utils.training.task
from models import get_model
from tests.recipe_helpers import (Recorder, catch_models, make_dataset, numbered_corpus, record_steps,
                                  scale_loss, scripted_evaluate, states_equal)
from utils.subnets.masks import load_mask
from utils.runtime import set_seed
from utils.settings import flat, settings_from_config
from utils.training.joint import train_task

torch.set_num_threads(1)

EPOCHS = 3
# dev prefers epoch 1, then 2, then 1; test scores rise with every call, so selecting on test would pick the
# last epoch, and a test evaluated every epoch shows up as extra calls.
DEV = [60.0, 50.0, 40.0, 10.0, 30.0, 20.0, 90.0, 80.0, 85.0]
BEST_EPOCHS = [1, 2, 1]
TEST = [float(i) for i in range(1, 30)]
TOTAL = 2700 + 2 * (32 * 40 + 32 * 8)       # prunable weights of the tiny model (hidden 8): 5772
KEPT = [TOTAL, 2886, 1443]                   # --final_rate 0.25 --pruning_iter 2: α = 0.5


def theta0(data) -> dict:
    """θ(0): the tiny model as train_single builds it with seed 2019."""
    set_seed(2019)
    return get_model("cnn-lstm", data, 8, 1, 0.5, False).state_dict()


@pytest.fixture(scope="module")
def processed(tmp_path_factory):
    from tests.conftest import build_tiny_dataset

    directory = tmp_path_factory.mktemp("recipe1") / "tiny"
    build_tiny_dataset().save(str(directory))
    return directory


def step1(processed, save_dir, *extra: str) -> list[str]:
    return ["--data_path", str(processed), "--save_dir", str(save_dir), "--hidden_size", "8", "--device", "cpu",
            "--task_id", "0", *extra]


@pytest.fixture(scope="module")
def run(processed, tmp_path_factory):
    """train_single.py: 3 rounds (kept 100/50/25%) × 3 epochs, one sentence per batch, from an --init_weights
    file that differs from θ(0) everywhere (by 0.02-0.05), every loss × 1000 (gradients far above the clip)."""
    from utils.data.dataset import Dataset

    root = tmp_path_factory.mktemp("run1")
    data = Dataset.load(str(processed))
    g = torch.Generator().manual_seed(5)
    shift = {k: 0.02 + 0.03 * torch.rand(v.shape, generator=g) for k, v in theta0(data).items()}
    init = {k: v + torch.where(torch.rand(v.shape, generator=g) < 0.5, -shift[k], shift[k])
            for k, v in theta0(data).items()}
    torch.save(init, root / "warmup.th")
    recorder = Recorder()
    with pytest.MonkeyPatch.context() as mp:
        evaluate = scripted_evaluate(recorder, {"dev": DEV, "test": TEST})
        mp.setattr(utils.training.joint, "evaluate", evaluate)
        mp.setattr(train_single, "evaluate", evaluate)
        models = catch_models(mp, train_single)
        scale_loss(mp, 1000.0)
        with record_steps(recorder, keep_params=True):
            train_single.main(step1(processed, root / "out", "--epochs", str(EPOCHS), "--pruning_iter", "2",
                                    "--final_rate", "0.25", "--batch_size", "1", "--init_weights",
                                    str(root / "warmup.th")))
    out = root / "out" / "cp" / "0"
    model = models[0]
    names = [n for n, p in model.named_parameters() if p.requires_grad]
    tags = [f"{r}_{100.0 * k / TOTAL:.2f}" for r, k in enumerate(KEPT)]
    return {"recorder": recorder, "out": out, "init": init, "model": model, "names": names, "tags": tags,
            "masks": [load_mask(str(out / f"{t}.th"))["mask"] for t in tags], "steps": recorder.steps,
            "scores": [json.loads(line) for line in (out / "scores.jsonl").read_text().splitlines()]}


def dev_states(run) -> list[list[dict]]:
    """The weights at each round's epoch-end dev evaluations: dev_states[round][epoch - 1]."""
    devs = [e.state for e in run["recorder"].evaluations if e.split == "dev"]
    return [devs[i:i + EPOCHS] for i in range(0, len(devs), EPOCHS)]


def steps_by_round(run) -> list[list]:
    """Optimiser steps grouped by the optimiser that made them, in order of first use."""
    groups: dict = {}
    for step in run["steps"]:
        groups.setdefault(id(step.optimizer), []).append(step)
    return list(groups.values())


def top_k_mask(state: dict, names: list[str], k: int) -> dict:
    """Keep the k largest |w| over all prunable tensors together (one global threshold), worked out here."""
    flat = torch.cat([state[n].abs().flatten() for n in names])
    threshold = flat.sort(descending=True).values[k - 1]
    return {n: state[n].abs() >= threshold for n in names}


def test_cli_defaults_are_the_papers():
    """"--pruning_iter 20 --final_rate 0.1", "seed 2019, hidden 200, dropout 0.5, batch 10, 100 epochs",
    "SGD(lr 0.1, momentum 0.9)", prunable "--need_cut lstm,conv", one BiLSTM layer (REFERENCE §4)."""
    args = types.SimpleNamespace(**flat(train_single.parse_args([])[0]))
    assert (args.pruning_iter, args.final_rate, args.seed, args.hidden_size, args.n_layer) == (20, 0.1, 2019, 200, 1)
    assert (args.dropout, args.batch_size, args.epochs, args.need_cut) == (0.5, 10, 100, "lstm,conv")
    assert args.optim.replace(" ", "") == "sgd(lr=0.1,momentum=0.9)" and not args.crf


def test_kept_fraction_follows_alpha_and_stops_at_final_rate(run):
    """"it removes α = 1 − final_rate^(1/pruning_iter) of the remaining prunable weights" per round; training
    stops after the round at final_rate: --final_rate 0.25 --pruning_iter 2 keeps 100%, 50%, 25% in 3 rounds."""
    assert [sum(int(m.sum()) for m in mask.values()) for mask in run["masks"]] == KEPT
    assert [r["round"] for r in run["scores"]] == [0, 1, 2]
    assert [r["kept"] for r in run["scores"]] == pytest.approx([100.0, 50.0, 25.0], abs=0.01)
    config = json.loads((run["out"] / "config.json").read_text())
    assert config["alpha"] == pytest.approx(0.5)
    assert len(steps_by_round(run)) == 3


def test_config_json_is_grouped_and_names_the_task(run):
    """config.json: the setting groups (read back to the run's settings), the task's name at the top level (Step 2
    and the report read it), the invocation's options apart."""
    config = json.loads((run["out"] / "config.json").read_text())
    assert {"task", "data", "model", "optimiser", "pruning", "invocation"} <= set(config)
    settings = settings_from_config(config)
    assert config["task"] == "pos" and settings.data.task_id == 0 and settings.pruning.final_rate == 0.25
    assert config["invocation"]["device"] == "cpu" and "device" not in flat(settings)


def test_masks_are_nested(run):
    """"prune α of the remaining weights": a pruned weight stays pruned in every later round."""
    for before, after in zip(run["masks"], run["masks"][1:]):
        assert all(not torch.any(after[n] & ~before[n]) for n in before)


def test_pruning_ranks_the_best_dev_weights_with_one_global_threshold(run):
    """"the best-dev weights are kept ... and are the ones whose magnitudes are ranked", "by global magnitude (one
    threshold over all prunable tensors together)": round r+1's mask is the top-k of |round r's best-dev
    weights| over all tensors together, which is neither the last epoch's top-k nor a per-tensor top-k."""
    states, masks = dev_states(run), run["masks"]
    names = sorted(masks[0])
    for r in range(2):
        best = states[r][BEST_EPOCHS[r] - 1]
        expected = top_k_mask(best, names, KEPT[r + 1])
        assert all(torch.equal(masks[r + 1][n], expected[n]) for n in names), f"round {r + 1}"
        last = top_k_mask(states[r][-1], names, KEPT[r + 1])
        assert not all(torch.equal(last[n], expected[n]) for n in names)
    shares = [masks[1][n].float().mean().item() for n in names]
    assert max(shares) - min(shares) > 0.05       # a per-tensor threshold would keep 50% of every tensor


def test_best_dev_weights_are_saved_and_tested(run):
    """"dev evaluation every epoch; the best-dev weights are kept, evaluated on test": best_<r>_<kept>.th and
    the test evaluation hold the best-dev epoch's weights, scores.jsonl its dev score and epoch."""
    states = dev_states(run)
    tests = [e for e in run["recorder"].evaluations if e.split == "test"]
    for r, tag in enumerate(run["tags"]):
        best = states[r][BEST_EPOCHS[r] - 1]
        assert states_equal(torch.load(run["out"] / f"best_{tag}.th", weights_only=True), best)
        assert states_equal(tests[r].state, best)
    assert [s["best_epoch"] for s in run["scores"]] == BEST_EPOCHS
    assert [s["dev"] for s in run["scores"]] == [60.0, 30.0, 90.0]


def test_model_selection_on_dev_and_test_scored_once_per_round(run):
    """"dev evaluation every epoch ... the best-dev weights are evaluated on test": dev once per epoch, test once
    per round after its last epoch, never used to choose an epoch."""
    splits = [e.split for e in run["recorder"].evaluations]
    assert splits == (["dev"] * EPOCHS + ["test"]) * 3
    assert [s["test"] for s in run["scores"]] == [1.0, 2.0, 3.0]


def test_every_round_rewinds_all_weights_to_init_weights(run):
    """"After pruning, all weights are reset to the rewind point (θ(0), or the MTW checkpoint given as
    --init_weights) and the pruned ones zeroed": each round's first step starts from the --init_weights file
    (which differs from θ(0) everywhere), embeddings and heads included, pruned weights 0."""
    init, names = run["init"], run["names"]
    for r, steps in enumerate(steps_by_round(run)):
        start = steps[0].named(run["model"])
        assert set(start) == set(names)
        for n in names:
            expected = init[n] * run["masks"][r][n] if n in run["masks"][r] else init[n]
            assert torch.equal(start[n], expected), f"round {r}: {n}"
    saved = torch.load(run["out"] / "init_weights.th", weights_only=True)
    assert states_equal(saved, init)


def test_fresh_sgd_momentum_optimiser_every_round(run):
    """"Each round: fresh SGD(lr 0.1, momentum 0.9)": a new optimiser per round, with no momentum at its first
    step, starting at lr 0.1."""
    rounds = steps_by_round(run)
    assert len(rounds) == 3
    order = [id(s.optimizer) for s in run["steps"]]
    assert order == sorted(order, key=[id(r[0].optimizer) for r in rounds].index)  # rounds do not interleave
    for steps in rounds:
        opt = steps[0].optimizer
        assert isinstance(opt, torch.optim.SGD) and opt.param_groups[0]["momentum"] == 0.9
        assert steps[0].fresh and not any(s.fresh for s in steps[1:])
        assert steps[0].lr == pytest.approx(0.1)


def test_lr_decays_once_per_epoch(run):
    """"LR × 1/(1 + 0.05·epoch)", stepped once per epoch: every step of epoch e (1-based) uses
    0.1/(1 + 0.05·(e−1)), in every round."""
    epochs = run["recorder"].epochs()
    assert len(epochs) == 3 * EPOCHS
    for i, steps in enumerate(epochs):
        e = i % EPOCHS
        assert len(steps) >= 2
        assert [s.lr for s in steps] == pytest.approx([0.1 / (1 + 0.05 * e)] * len(steps), rel=1e-9)


def test_gradient_norm_clipped_at_5_every_step(run):
    """"gradient-norm clip 5": with gradients far above 5, every step's total gradient norm is exactly 5
    (norm clipping over all parameters together, not value clipping, not per tensor)."""
    steps = run["steps"]
    assert len(steps) == 3 * EPOCHS * 4
    assert all(s.grad_norm == pytest.approx(5.0, rel=1e-4) for s in steps), [s.grad_norm for s in steps]


def test_default_rewind_point_is_theta0_shared_by_tasks(processed, tmp_path):
    """"initialise θ(0)": without --init_weights the rewind point is the seed's θ(0), the same for every task
    (so Step 3's subnets share it)."""
    from utils.data.dataset import Dataset

    for task in ("0", "1"):
        argv = step1(processed, tmp_path, "--epochs", "1", "--pruning_iter", "0", "--batch_size", "4")
        argv[argv.index("--task_id") + 1] = task
        train_single.main(argv)
    a = torch.load(tmp_path / "cp" / "0" / "init_weights.th", weights_only=True)
    b = torch.load(tmp_path / "cp" / "1" / "init_weights.th", weights_only=True)
    assert states_equal(a, b) and states_equal(a, theta0(Dataset.load(str(processed))))


def test_batches_of_10_every_sentence_once_per_epoch(tmp_path, monkeypatch):
    """"batch 10": the default batch holds at most 10 sentences and an epoch shows every training sentence exactly
    once (23 numbered sentences, 2 epochs)."""
    data = make_dataset(numbered_corpus({"pos": 23}))
    data.save(str(tmp_path / "d"))
    firsts = {data.words.to_index(f"w{i}") for i in range(23)}
    timeline = []
    models = catch_models(monkeypatch, train_single)
    original = train_single.build_model

    def build_model(*args, **kwargs):
        model = original(*args, **kwargs)
        model.register_forward_pre_hook(
            lambda m, a: timeline.append(a[1][:, 0].tolist()) if m.training else None)
        return model
    monkeypatch.setattr(train_single, "build_model", build_model)
    monkeypatch.setattr(utils.training.joint, "evaluate", lambda *a, **k: timeline.append("dev") or 1.0)
    monkeypatch.setattr(train_single, "evaluate", lambda *a, **k: 1.0)
    train_single.main(["--data_path", str(tmp_path / "d"), "--save_dir", str(tmp_path / "o"), "--hidden_size", "8",
                       "--device", "cpu", "--epochs", "2", "--pruning_iter", "0"])
    assert models
    epochs, current = [], []
    for item in timeline:
        if item == "dev":
            epochs.append(current)
            current = []
        else:
            current.append(item)
    assert len(epochs) == 2
    for batches in epochs:
        assert max(len(b) for b in batches) == 10
        seen = sorted(i for b in batches for i in b)
        assert seen == sorted(firsts)


def test_batch_order_comes_from_the_run_generator(tiny_data):
    """Step 1 draws its batches from the run's generator (saved in checkpoints and restored on resume), not from
    torch's global RNG: without dropout, the global seed changes nothing, the generator does."""
    def trained(global_seed: int, run_seed: int) -> dict:
        torch.manual_seed(0)
        model = get_model("cnn-lstm", tiny_data, hidden_size=8, dropout=0.0, word_dropout=0.0)
        torch.manual_seed(global_seed)
        train_task(model, None, 0, tiny_data.tasks[0], epochs=2, batch_size=1, optim="sgd(lr=0.1, momentum=0.9)",
                   device="cpu", pad_index=tiny_data.words.padding_idx,
                   generator=torch.Generator().manual_seed(run_seed))
        return {n: p.detach().clone() for n, p in model.named_parameters()}

    reference = trained(1, 7)
    assert all(torch.equal(reference[n], p) for n, p in trained(2, 7).items())
    assert not all(torch.equal(reference[n], p) for n, p in trained(1, 8).items())


def test_a_rounds_seconds_are_the_sum_of_its_epochs(run):
    """scores.jsonl: each round's training seconds are its epochs' seconds added up (each rounded to 0.01 s)."""
    for record in run["scores"]:
        epochs = record["history"]
        assert len(epochs) == EPOCHS
        assert record["seconds"] == pytest.approx(sum(e["seconds"] for e in epochs), abs=0.01 * (len(epochs) + 1))


def test_span_tasks_also_record_the_originals_lenient_f1(processed, tmp_path, run):
    """Beside the conlleval F1, a span task's round records the F1 of the original's lenient decoders for the same
    weights (dev_lenient, test_lenient: what report.py --lenient shows); POS, an accuracy, records none."""
    train_single.main(step1(processed, tmp_path / "o", "--epochs", "1", "--pruning_iter", "0", "--task_id", "1"))
    record = json.loads((tmp_path / "o" / "cp" / "1" / "scores.jsonl").read_text().splitlines()[0])
    for key in ("dev_lenient", "test_lenient"):
        assert isinstance(record[key], float) and 0.0 <= record[key] <= 100.0
    assert all("dev_lenient" not in r and "test_lenient" not in r for r in run["scores"])


def test_epoch_loss_is_the_mean_training_loss_and_round_time_the_sum_of_epochs(tiny_data, monkeypatch):
    """Each epoch's history (scores.jsonl, metrics.jsonl, the terminal line) reports the mean loss of its training
    steps and its seconds; the round's seconds are the sum over its epochs (a clock that ticks 1 s per step)."""
    losses, step, clock = [], utils.training.joint.train_step, [0.0]

    def spy(*args, **kwargs):
        losses.append(step(*args, **kwargs))
        clock[0] += 1.0
        return losses[-1]

    monkeypatch.setattr(utils.training.joint, "train_step", spy)
    monkeypatch.setattr(utils.training.joint, "time", types.SimpleNamespace(time=lambda: clock[0]))
    torch.manual_seed(0)
    model = get_model("cnn-lstm", tiny_data, hidden_size=8)
    result = train_task(model, None, 0, tiny_data.tasks[0], epochs=2, batch_size=1, optim="sgd(lr=0.1, momentum=0.9)",
                        device="cpu", pad_index=tiny_data.words.padding_idx, generator=torch.Generator().manual_seed(0))
    steps = len(tiny_data.tasks[0].splits["train"])
    assert len(losses) == 2 * steps
    for epoch, record in enumerate(result.history):
        assert record["loss"] == pytest.approx(sum(losses[epoch * steps:(epoch + 1) * steps]) / steps)
        assert record["seconds"] == steps
    assert result.seconds == 2 * steps
