"""Recipe contract, Step 3 (REFERENCE §1 "Step 3", §2 "Step 3", README "Model and training" and "Where this
implementation differs"): joint training of the subnets as train_mtl.py runs it on a tiny model. Every forward
pass is checked against its task's mask, every optimiser step is recorded, and scripted dev/test scores show
which split chooses the checkpoint."""
import json
import types

import pytest
import torch

import train_mtl
import utils.training.joint
from models import get_model
from tests.conftest import build_tiny_dataset
from tests.recipe_helpers import (Recorder, attr, make_dataset, numbered_corpus, record_steps,
                                  scale_loss, scripted_evaluate, states_equal)
from utils.subnets.masks import prunable_names, save_mask
from utils.settings import flat

torch.set_num_threads(1)


def mask_folder(data, directory, seed: int = 3) -> tuple[list[dict], dict]:
    """Random half masks for pos and ner and an init_weights.th that differs from θ(0) everywhere."""
    torch.manual_seed(2019)
    model = get_model("cnn-lstm", data, hidden_size=8)
    g = torch.Generator().manual_seed(seed)
    names = prunable_names(model)
    masks = [{n: torch.rand(model.get_parameter(n).shape, generator=g) < 0.5 for n in names} for _ in range(2)]
    directory.mkdir(parents=True)
    for i, (mask, name) in enumerate(zip(masks, ("pos", "ner"))):
        save_mask(str(directory / f"{i}.th"), mask, 1, name)
    init = {k: v + 0.02 + 0.03 * torch.rand(v.shape, generator=g) for k, v in model.state_dict().items()}
    torch.save(init, directory / "init_weights.th")
    return masks, init


def watch_forwards(monkeypatch, masks: list[dict], events: list) -> list:
    """Catch the model train_mtl builds and append, at every forward pass, (training?, task, whether the weights
    the pass computes with are zero outside M_task, share of M_task's entries that are non-zero)."""
    built = []
    original = train_mtl.build_model

    def build_model(*args, **kwargs):
        model = original(*args, **kwargs)

        def hook(module, args):
            task = args[0]
            outside = all(not torch.any(attr(module, n)[~m]) for n, m in masks[task].items())
            inside = min((attr(module, n)[m] != 0).float().mean().item() for n, m in masks[task].items())
            events.append(("forward", module.training, task, outside, inside))
        model.register_forward_pre_hook(hook)
        built.append(model)
        return model
    monkeypatch.setattr(train_mtl, "build_model", build_model)
    return built


def common(processed, save_dir, *extra) -> list[str]:
    return ["--data_path", str(processed), "--save_dir", str(save_dir), "--hidden_size", "8", "--device", "cpu",
            *extra]


@pytest.fixture(scope="module")
def processed(tmp_path_factory):
    directory = tmp_path_factory.mktemp("recipe3") / "tiny"
    data = build_tiny_dataset()
    data.save(str(directory))
    return directory


@pytest.fixture(scope="module")
def sparse_run(processed, tmp_path_factory):
    """train_mtl.py with --masks_path (two half masks, an init_weights.th ≠ θ(0)), 3 epochs, batch 1."""
    from utils.data.dataset import Dataset

    root = tmp_path_factory.mktemp("run3")
    masks, init = mask_folder(Dataset.load(str(processed)), root / "mask")
    recorder = Recorder()
    with pytest.MonkeyPatch.context() as mp:
        models = watch_forwards(mp, masks, recorder.events)
        with record_steps(recorder, keep_params=True):
            train_mtl.main(common(processed, root / "mtl", "--masks_path", str(root / "mask"), "--exp_name", "s",
                                  "--epochs", "3", "--batch_size", "1"))
    forwards = [e for e in recorder.events if isinstance(e, tuple)]
    return {"recorder": recorder, "masks": masks, "init": init, "model": models[0], "forwards": forwards,
            "results": json.loads((root / "mtl" / "s" / "results.json").read_text())}


def test_cli_defaults_are_the_papers():
    """"SGD(lr 0.1, momentum 0.9), fixed LR, gradient value clip 5, batch 10, 100 epochs"; proportional
    sampling (the paper's) by default."""
    args = types.SimpleNamespace(**flat(train_mtl.parse_args([])[0]))
    assert args.optim.replace(" ", "") == "sgd(lr=0.1,momentum=0.9)"
    assert (args.scheduler, args.clip_value, args.batch_size, args.epochs) == ("fix", 5.0, 10, 100)
    assert args.sampling == "proportional"


def test_every_subnet_starts_from_the_shared_rewind_point(sparse_run):
    """"All subnets start from the same rewind point": the first step of joint training sees exactly the
    masks folder's init_weights.th (which differs from θ(0) everywhere), in every tensor."""
    first = sparse_run["recorder"].steps[0].named(sparse_run["model"])
    assert first.keys() == {n for n, p in sparse_run["model"].named_parameters() if p.requires_grad}
    assert all(torch.equal(first[n], sparse_run["init"][n]) for n in first)


def test_training_forward_uses_the_task_mask(sparse_run):
    """"forward it through E(x; M_t ⊙ θ_E) and head t": in every training pass of task t the weights are zero
    outside M_t and the stored (non-zero) values inside it."""
    train = [f for f in sparse_run["forwards"] if f[1]]
    assert {f[2] for f in train} == {0, 1}
    assert all(f[3] for f in train), "a training pass computed with weights outside its task's mask"
    assert all(f[4] == 1.0 for f in train)


def test_evaluation_forward_uses_the_task_mask(sparse_run):
    """Per-task masks in evaluation too: every dev and test pass of task t (during training and for the final
    scores) computes with M_t ⊙ θ."""
    evals = [f for f in sparse_run["forwards"] if not f[1]]
    assert {f[2] for f in evals} == {0, 1}
    assert all(f[3] and f[4] == 1.0 for f in evals)
    # the final scoring evaluates after the last training pass
    last_train = max(i for i, f in enumerate(sparse_run["forwards"]) if f[1])
    assert {f[2] for f in sparse_run["forwards"][last_train + 1:]} == {0, 1}


def test_a_step_of_task_t_changes_only_its_subnet_and_head(sparse_run):
    """"gradient step on that subnet's parameters only" (each task with its own optimiser): between consecutive
    steps only weights in M_t and head t move, even when the previous step was another task's (no shared
    momentum)."""
    model, masks = sparse_run["model"], sparse_run["masks"]
    events = sparse_run["recorder"].events
    order = [e for e in events if isinstance(e, tuple) and e[1] or not isinstance(e, tuple)]
    tasks, steps, pending = [], [], None
    for e in order:
        if isinstance(e, tuple):
            pending = e[2]
        elif hasattr(e, "optimizer"):
            tasks.append(pending)
            steps.append(e.named(model))
    assert any(a != b for a, b in zip(tasks, tasks[1:])), "tasks never alternate"
    for task, before, after in zip(tasks, steps, steps[1:]):
        for n in before:
            moved = before[n] != after[n]
            if n in masks[task]:
                assert not torch.any(moved & ~masks[task][n]), f"task {task} moved {n} outside its mask"
            elif n.startswith("heads.out."):
                assert not torch.any(moved) or n.startswith(f"heads.out.{task}."), f"task {task} moved {n}"


def test_one_sgd_momentum_optimiser_per_task_fixed_lr(sparse_run):
    """"SGD(lr 0.1, momentum 0.9), fixed LR": every step over 3 epochs uses lr 0.1; each task steps with its own
    optimiser (README: per-task optimiser state)."""
    steps = sparse_run["recorder"].steps
    assert len(steps) == 3 * (4 + 3)
    assert all(s.lr == pytest.approx(0.1, rel=1e-12) for s in steps)
    assert all(isinstance(s.optimizer, torch.optim.SGD) and s.optimizer.param_groups[0]["momentum"] == 0.9
               for s in steps)
    assert len({id(s.optimizer) for s in steps}) == 2


def test_gradient_value_clipped_at_5(processed, tmp_path, monkeypatch):
    """"gradient value clip 5": with gradients far above 5, no entry exceeds 5 and some reach it, while the
    total norm stays above 5 (value clipping, not norm clipping)."""
    recorder = Recorder()
    scale_loss(monkeypatch, 1000.0)
    with record_steps(recorder):
        train_mtl.main(common(processed, tmp_path, "--exp_name", "c", "--epochs", "1", "--batch_size", "2"))
    assert recorder.steps
    for s in recorder.steps:
        assert s.grad_max == pytest.approx(5.0, abs=1e-6) and s.grad_norm > 10.0


def test_selection_on_dev_average_and_test_scored_once(processed, tmp_path, monkeypatch):
    """"select on dev (average of the task metrics), report test once for the selected checkpoint": dev averages
    30, 40, 30 pick epoch 2, although POS alone prefers epoch 3, NER epoch 1 and test epoch 3; test is
    evaluated once per task, on epoch 2's weights."""
    recorder = Recorder()
    dev = {"dev": [10.0, 30.0, 60.0], "test": [0.0, 0.0, 100.0]}
    per_task = {"pos": scripted_evaluate(recorder, dev),
                "ner": scripted_evaluate(recorder, {"dev": [50.0, 50.0, 0.0], "test": [0.0, 0.0, 100.0]})}
    monkeypatch.setattr(utils.training.joint, "evaluate", lambda model, mask, tid, task, *a, **k:
                        per_task[task.name](model, mask, tid, task, *a, **k))
    final = Recorder()
    spy = scripted_evaluate(final, {})
    real = train_mtl.evaluate
    monkeypatch.setattr(train_mtl, "evaluate", lambda *a, **k: (spy(*a, **k), real(*a, **k))[1])
    train_mtl.main(common(processed, tmp_path, "--exp_name", "sel", "--epochs", "3", "--batch_size", "2",
                          "--save_ep", "1"))
    run = tmp_path / "sel"
    results = json.loads((run / "results.json").read_text())
    assert results["selected_epoch"] == 2
    assert all(e.split == "dev" for e in recorder.evaluations)
    tests = [e for e in final.evaluations if e.split == "test"]
    assert sorted(e.task for e in tests) == ["ner", "pos"]
    epoch2 = torch.load(run / "epoch_2.th", weights_only=True)
    assert states_equal(torch.load(run / "best.th", weights_only=True), epoch2)
    assert all(states_equal(e.state, epoch2) for e in tests)


def test_tasks_are_sampled_in_proportion_to_training_size(tmp_path, monkeypatch):
    """"pick a task t (proportional sampling: probability ∝ its training-set size)": with 60 and 15 training
    sentences and batch 1, an epoch has 75 steps; over 4 epochs POS takes 240 ± 4σ (σ = 7.7) of 300, and NER
    steps fall throughout each epoch (not round-robin's first 30)."""
    data = make_dataset(numbered_corpus({"pos": 60, "ner": 15}))
    data.save(str(tmp_path / "d"))
    events = []
    original = train_mtl.build_model

    def build_model(*args, **kwargs):
        model = original(*args, **kwargs)
        model.register_forward_pre_hook(lambda m, a: events.append(a[0]) if m.training else None)
        return model
    monkeypatch.setattr(train_mtl, "build_model", build_model)
    monkeypatch.setattr(utils.training.joint, "evaluate", lambda *a, **k: 1.0)
    train_mtl.main(common(tmp_path / "d", tmp_path / "o", "--exp_name", "p", "--epochs", "4", "--batch_size", "1"))
    assert len(events) == 300
    assert 240 - 31 <= events.count(0) <= 240 + 31
    assert any(1 in events[e * 75 + 40:(e + 1) * 75] for e in range(4))


def test_weights_outside_every_mask_never_change(sparse_run):
    """Sparse sharing trains only ∪ M_t: a prunable weight no task keeps ends as it started (init_weights.th)."""
    model, masks, init = sparse_run["model"], sparse_run["masks"], sparse_run["init"]
    for n in masks[0]:
        outside = ~(masks[0][n] | masks[1][n])
        assert torch.equal(model.get_parameter(n).detach()[outside], init[n][outside])
