"""Step 3 joint training on the tiny model: masked steps never touch weights outside M_t (also with momentum and
per-task optimisers), the subnet's output is the dense model with the pruned weights zeroed, all-True masks are
hard sharing step for step, and model selection follows the dev average only."""
import copy
import json

import pytest
import torch

import train_mtl
import utils.training.joint
from models import get_model
from utils.data.batching import collate
from utils.subnets.masks import full_mask, masked_forward, prunable_names, save_mask, zero_pruned_
from utils.training.joint import JointTask, train_joint
from utils.training.task import make_optimizer, train_step

OPTIM = "sgd(lr=0.1, momentum=0.9)"


def tiny_model(data, seed: int = 0):
    torch.manual_seed(seed)
    return get_model("cnn-lstm", data, hidden_size=8)


def random_masks(model, n_tasks: int, keep: float = 0.5, seed: int = 1) -> list[dict]:
    g = torch.Generator().manual_seed(seed)
    names = prunable_names(model)
    return [{n: torch.rand(model.get_parameter(n).shape, generator=g) < keep for n in names} for _ in range(n_tasks)]


def snapshot(model) -> dict:
    return {n: p.detach().clone() for n, p in model.named_parameters()}


def batch_of(data, task: int, indices=None):
    split = data.tasks[task].splits["train"]
    indices = list(range(len(split))) if indices is None else indices
    return collate(split, indices, data.words.padding_idx, "cpu")


def assert_outside_unchanged(before: dict, after: dict, mask: dict) -> None:
    for name, m in mask.items():
        assert torch.equal(before[name][~m], after[name][~m]), f"{name}: a weight outside the mask moved"


def changed_inside(before: dict, after: dict, mask: dict) -> dict[str, float]:
    """Share of the kept entries of each masked tensor that changed."""
    return {name: (before[name][m] != after[name][m]).float().mean().item() for name, m in mask.items()}


# --- masked steps ---

@pytest.mark.parametrize("task", [0, 1])
def test_one_step_touches_only_the_subnet(tiny_data, task):
    model = tiny_model(tiny_data)
    masks = random_masks(model, 2)
    optimizer = make_optimizer(OPTIM, [p for p in model.parameters() if p.requires_grad])
    before = snapshot(model)
    loss = train_step(model, masks[task], task, batch_of(tiny_data, task), optimizer, clip_value=5.0)
    assert loss > 0
    after = snapshot(model)
    assert_outside_unchanged(before, after, masks[task])
    shares = changed_inside(before, after, masks[task])
    assert all(share > 0.5 for share in shares.values()), shares
    # the gradient of a pruned weight is exactly zero
    for name, m in masks[task].items():
        grad = model.get_parameter(name).grad
        assert grad is not None and torch.all(grad[~m] == 0)
    # the other task's head is not touched
    other = 1 - task
    for name in (f"heads.out.{other}.weight", f"heads.out.{other}.bias"):
        assert torch.equal(before[name], after[name])


def test_alternating_steps_with_per_task_optimisers(tiny_data):
    """As train_joint: one SGD-momentum optimiser per task, steps alternating between the tasks. The momentum of
    task t never moves a weight outside M_t, even after the other task has moved it."""
    model = tiny_model(tiny_data)
    masks = random_masks(model, 2)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizers = [make_optimizer(OPTIM, params) for _ in masks]
    g = torch.Generator().manual_seed(0)
    start = snapshot(model)
    for step, task in enumerate([0, 1, 1, 0, 1, 0, 0, 1, 0, 1]):
        split = tiny_data.tasks[task].splits["train"]
        indices = torch.randperm(len(split), generator=g)[:2].tolist()
        before = snapshot(model)
        train_step(model, masks[task], task, batch_of(tiny_data, task, indices), optimizers[task], clip_value=5.0)
        after = snapshot(model)
        assert_outside_unchanged(before, after, masks[task])
        if step >= 2:  # momentum is built up: the kept weights keep moving
            assert all(share > 0.5 for share in changed_inside(before, after, masks[task]).values())
    end = snapshot(model)
    # weights outside both masks never moved; weights only in M_0 moved, so did those only in M_1
    for name in masks[0]:
        outside = ~(masks[0][name] | masks[1][name])
        assert torch.equal(start[name][outside], end[name][outside])
        for a, b in ((0, 1), (1, 0)):
            only = masks[a][name] & ~masks[b][name]
            assert (start[name][only] != end[name][only]).float().mean() > 0.5


def test_train_joint_keeps_weights_outside_the_mask(tiny_data, monkeypatch):
    """Drive train_joint itself and check the invariant around every step it makes."""
    model = tiny_model(tiny_data)
    masks = random_masks(model, 2)
    seen = []

    def checked_step(model_, mask, task, batch, optimizer, **kwargs):
        before = snapshot(model_)
        loss = train_step(model_, mask, task, batch, optimizer, **kwargs)
        after = snapshot(model_)
        assert mask is masks[task]
        assert kwargs.get("clip_value") == 5.0
        assert_outside_unchanged(before, after, mask)
        seen.append((task, id(optimizer), changed_inside(before, after, mask)))
        return loss

    monkeypatch.setattr(utils.training.joint, "train_step", checked_step)
    tasks = [JointTask(i, tiny_data.tasks[i], masks[i]) for i in range(2)]
    result = train_joint(model, tasks, epochs=2, batch_size=2, optim=OPTIM, scheduler="fix", sampling="round-robin",
                         device="cpu", pad_index=tiny_data.words.padding_idx, generator=torch.Generator().manual_seed(0),
                         on_best=lambda epoch: None)
    # round-robin: ceil(4/2) + ceil(3/2) = 4 steps an epoch, 2 per task
    assert len(seen) == 8
    assert result.counts == {"pos": 4, "ner": 4}
    # one optimiser per task, distinct from the other task's
    optimizer_of = {}
    for task, opt, _ in seen:
        assert optimizer_of.setdefault(task, opt) == opt
    assert optimizer_of[0] != optimizer_of[1]
    assert any(all(share > 0.5 for share in shares.values()) for _, _, shares in seen)


def test_a_task_step_leaves_the_other_heads_alone_even_with_weight_decay(tiny_data):
    """Every task's optimiser holds all weights, but a step of task t updates only what its batch reached: the
    other task's head has no gradient (not a zero one), so weight decay and momentum leave it as it was."""
    model = tiny_model(tiny_data)
    optimizers = [make_optimizer("sgd(lr=0.1, momentum=0.9, weight_decay=0.1)", model.parameters()) for _ in range(2)]
    train_step(model, None, 0, batch_of(tiny_data, 0), optimizers[0])
    train_step(model, None, 1, batch_of(tiny_data, 1), optimizers[1])
    head = {n: p.detach().clone() for n, p in model.heads.out[1].named_parameters()}
    train_step(model, None, 0, batch_of(tiny_data, 0), optimizers[0])
    for name, p in model.heads.out[1].named_parameters():
        assert torch.equal(p.detach(), head[name]), name


def recorded_run(data, monkeypatch, scheduler: str = "fix", **kwargs):
    """train_joint of the tiny tasks without masks (2 epochs, batches of 2, round-robin: 4 steps an epoch), with each
    step's (LR, loss) recorded; returns them and the result."""
    steps = []

    def recording_step(model_, mask, task, batch, optimizer, **step_kwargs):
        lr = optimizer.param_groups[0]["lr"]
        steps.append((lr, train_step(model_, mask, task, batch, optimizer, **step_kwargs)))
        return steps[-1][1]

    monkeypatch.setattr(utils.training.joint, "train_step", recording_step)
    tasks = [JointTask(i, data.tasks[i], None) for i in range(2)]
    result = train_joint(tiny_model(data), tasks, epochs=2, batch_size=2, optim=OPTIM, scheduler=scheduler,
                         sampling="round-robin", device="cpu", pad_index=data.words.padding_idx,
                         generator=torch.Generator().manual_seed(0), on_best=lambda epoch: None, **kwargs)
    return steps, result


def test_epoch_loss_is_the_mean_over_the_epochs_steps(tiny_data, monkeypatch):
    """Each epoch's report (the terminal line, metrics.jsonl, results.json) gives the mean loss of its steps, all tasks
    together."""
    steps, result = recorded_run(tiny_data, monkeypatch)
    losses = [loss for _, loss in steps]
    assert len(losses) == 8  # round-robin: ceil(4/2) + ceil(3/2) steps an epoch
    assert [r.loss for r in result.history] == pytest.approx([sum(losses[:4]) / 4, sum(losses[4:]) / 4])


def test_train_joint_applies_the_lr_schedule(tiny_data, monkeypatch):
    lrs = [lr for lr, _ in recorded_run(tiny_data, monkeypatch, scheduler="decay")[0]]
    assert lrs[:4] == pytest.approx([0.1] * 4)
    assert lrs[4:] == pytest.approx([0.1 / 1.05] * 4)


def test_train_joint_warms_up_over_warmup_steps(tiny_data, monkeypatch):
    """`inverse_sqrt`: the LR rises linearly over `warmup_steps` global steps, then falls as sqrt(warmup/step)."""
    lrs = [lr for lr, _ in recorded_run(tiny_data, monkeypatch, scheduler="inverse_sqrt", warmup_steps=3)[0]]
    assert lrs == pytest.approx([0.1 / 3, 0.2 / 3, 0.1, 0.1 * (3 / 4) ** 0.5, 0.1 * (3 / 5) ** 0.5,
                                 0.1 * (3 / 6) ** 0.5, 0.1 * (3 / 7) ** 0.5, 0.1 * (3 / 8) ** 0.5])


def test_task_schedule_and_batches_come_from_the_run_generator(tiny_data):
    """Which task steps when, and its batches, are drawn from the run's generator (saved in checkpoints and restored
    on resume), not from torch's global RNG: without dropout, the global seed changes nothing, the generator does."""
    def trained(global_seed: int, run_seed: int) -> dict:
        torch.manual_seed(0)
        model = get_model("cnn-lstm", tiny_data, hidden_size=8, dropout=0.0, word_dropout=0.0)
        torch.manual_seed(global_seed)
        tasks = [JointTask(i, tiny_data.tasks[i], None) for i in range(2)]
        result = train_joint(model, tasks, epochs=2, batch_size=1, optim=OPTIM, scheduler="fix",
                             sampling="proportional", device="cpu", pad_index=tiny_data.words.padding_idx,
                             generator=torch.Generator().manual_seed(run_seed), on_best=lambda epoch: None)
        return {**snapshot(model), "counts": result.counts}

    def same(a: dict, b: dict) -> bool:
        return a["counts"] == b["counts"] and all(torch.equal(a[n], b[n]) for n in a if n != "counts")

    reference = trained(1, 7)
    assert same(reference, trained(2, 7))
    assert not same(reference, trained(1, 8))


# --- the subnet is the dense network with the pruned weights zeroed ---

@pytest.mark.parametrize("task", [0, 1])
def test_masked_output_equals_zeroed_dense_copy(tiny_data, task):
    model = tiny_model(tiny_data)
    mask = random_masks(model, 2)[task]
    dense = copy.deepcopy(model)
    zero_pruned_(dense, mask)
    model.eval()
    dense.eval()
    batch = batch_of(tiny_data, task)
    with torch.no_grad():
        masked = masked_forward(model, mask, task, batch.words, batch.seq_len)
        zeroed = dense(task, batch.words, batch.seq_len)
        unmasked = model(task, batch.words, batch.seq_len)
    assert torch.equal(masked, zeroed)
    assert not torch.allclose(masked, unmasked, atol=1e-4)  # the mask does matter
    # the stored weights were not modified by the masked forward
    for name, m in mask.items():
        assert torch.any(model.get_parameter(name)[~m] != 0)


# --- all-True masks are hard sharing ---

def run_joint(data, masks, sampling="proportional", epochs=2):
    model = tiny_model(data, seed=0)
    tasks = [JointTask(i, data.tasks[i], None if masks is None else masks[i]) for i in range(2)]
    bests = []
    torch.manual_seed(123)  # dropout and word dropout draw from the global RNG
    result = train_joint(model, tasks, epochs=epochs, batch_size=2, optim=OPTIM, scheduler="fix", sampling=sampling,
                         device="cpu", pad_index=data.words.padding_idx, generator=torch.Generator().manual_seed(7),
                         on_best=bests.append)
    return model, result, bests


@pytest.mark.parametrize("sampling", ["proportional", "round-robin"])
def test_full_masks_equal_hard_sharing(tiny_data, sampling):
    probe = tiny_model(tiny_data)
    names = prunable_names(probe)
    full = [full_mask(probe, names) for _ in range(2)]
    hard, hard_result, hard_bests = run_joint(tiny_data, None, sampling)
    sparse, sparse_result, sparse_bests = run_joint(tiny_data, full, sampling)
    hard_state, sparse_state = hard.state_dict(), sparse.state_dict()
    assert hard_state.keys() == sparse_state.keys()
    for key in hard_state:
        assert torch.equal(hard_state[key], sparse_state[key]), key
    assert [(h.dev, h.average, h.loss, h.improved) for h in hard_result.history] == \
           [(h.dev, h.average, h.loss, h.improved) for h in sparse_result.history]
    assert hard_result.counts == sparse_result.counts
    assert hard_bests == sparse_bests
    # and training did move the weights
    assert not torch.equal(hard_state["lstm.lstm.weight_ih_l0"], probe.state_dict()["lstm.lstm.weight_ih_l0"])


def test_same_seed_same_run(tiny_data):
    a, ra, _ = run_joint(tiny_data, random_masks(tiny_model(tiny_data), 2))
    b, rb, _ = run_joint(tiny_data, random_masks(tiny_model(tiny_data), 2))
    for key, value in a.state_dict().items():
        assert torch.equal(value, b.state_dict()[key]), key
    assert [h.dev for h in ra.history] == [h.dev for h in rb.history]


# --- model selection on dev ---

def scripted_evaluate(dev_by_epoch: list[dict], calls: list):
    """A stand-in for utils.training.joint.evaluate returning scripted dev scores per epoch (the call order is the task order)."""
    def evaluate(model, mask, task_id, task, split, batch_size, device, pad_index):
        calls.append((task.name, split))
        epoch = (len(calls) - 1) // 2
        return dev_by_epoch[epoch][task.name]
    return evaluate


def test_on_best_only_when_the_dev_average_improves(tiny_data, monkeypatch):
    dev = [{"pos": 10, "ner": 10},   # 10   best
           {"pos": 30, "ner": 10},   # 20   best
           {"pos": 5, "ner": 25},    # 15
           {"pos": 10, "ner": 30},   # 20   tie: not an improvement
           {"pos": 50, "ner": 10},   # 30   best
           {"pos": 0, "ner": 59}]    # 29.5
    calls = []
    monkeypatch.setattr(utils.training.joint, "evaluate", scripted_evaluate(dev, calls))
    model = tiny_model(tiny_data)
    tasks = [JointTask(i, tiny_data.tasks[i], None) for i in range(2)]
    bests, epochs = [], []
    result = train_joint(model, tasks, epochs=6, batch_size=4, optim=OPTIM, scheduler="fix", sampling="round-robin",
                         device="cpu", pad_index=tiny_data.words.padding_idx, generator=torch.Generator().manual_seed(0),
                         on_best=bests.append, on_epoch=epochs.append)
    assert bests == [1, 2, 5]
    assert epochs == [1, 2, 3, 4, 5, 6]
    assert result.best_epoch == 5 and result.best_dev == {"pos": 50, "ner": 10}
    assert [h.improved for h in result.history] == [True, True, False, False, True, False]
    assert [h.average for h in result.history] == [10, 20, 15, 20, 30, 29.5]
    assert all(split == "dev" for _, split in calls), calls  # never the test set


@pytest.fixture
def tiny_processed(tiny_data, tmp_path):
    directory = tmp_path / "tiny"
    tiny_data.save(str(directory))
    return directory


def run_train_mtl(args: list[str]) -> None:
    train_mtl.main(args)


def test_train_mtl_selects_on_dev_not_test(tiny_processed, tmp_path, monkeypatch):
    """train_mtl end to end (in process, tiny data): dev averages 5, 50, 10 over three epochs select epoch 2 even
    though the test scores are never consulted; best.th is epoch 2's weights; test is reported for them."""
    dev = [{"pos": 5, "ner": 5}, {"pos": 50, "ner": 50}, {"pos": 10, "ner": 10}]
    calls = []
    monkeypatch.setattr(utils.training.joint, "evaluate", scripted_evaluate(dev, calls))
    save_dir = tmp_path / "mtl"
    run_train_mtl(["--data_path", str(tiny_processed), "--save_dir", str(save_dir), "--exp_name", "sel",
                   "--epochs", "3", "--save_ep", "1", "--hidden_size", "8", "--batch_size", "2",
                   "--device", "cpu", "--sampling", "round-robin"])
    run = save_dir / "sel"
    results = json.loads((run / "results.json").read_text())
    assert results["selected_epoch"] == 2
    assert [h["improved"] for h in results["history"]] == [True, True, False]
    assert all(split == "dev" for _, split in calls)
    best = torch.load(run / "best.th", weights_only=True)
    epoch2 = torch.load(run / "epoch_2.th", weights_only=True)
    epoch3 = torch.load(run / "epoch_3.th", weights_only=True)
    assert all(torch.equal(best[k], epoch2[k]) for k in best)
    assert not all(torch.equal(best[k], epoch3[k]) for k in best)
    # the reported scores are the real ones of the selected weights (computed by train_mtl, not scripted)
    for name in ("pos", "ner"):
        assert 0 <= results["tasks"][name]["dev"] <= 100 and 0 <= results["tasks"][name]["test"] <= 100
    assert results["system"] == "hard sharing" and results["overlap"] == {}


def test_train_mtl_with_masks_in_process(tiny_data, tiny_processed, tmp_path):
    """Sparse sharing on the tiny data: masks and the rewind point from a masks folder; weights outside the
    union of the masks stay at the rewind point; params and overlap follow the masks."""
    from utils.subnets.masks import overlap_ratio
    from utils.subnets.params import encoder_params

    model = tiny_model(tiny_data, seed=5)
    masks = random_masks(model, 2, keep=0.4, seed=3)
    mask_dir = tmp_path / "mask"
    mask_dir.mkdir()
    for i, (mask, name) in enumerate(zip(masks, ("pos", "ner"))):
        save_mask(str(mask_dir / f"{i}.th"), mask, 1, name)
    rewind = {k: v.detach().clone() for k, v in model.state_dict().items()}
    torch.save(rewind, mask_dir / "init_weights.th")
    save_dir = tmp_path / "mtl"
    run_train_mtl(["--data_path", str(tiny_processed), "--save_dir", str(save_dir), "--exp_name", "sp",
                   "--masks_path", str(mask_dir), "--epochs", "2", "--hidden_size", "8", "--batch_size", "2",
                   "--device", "cpu"])
    results = json.loads((save_dir / "sp" / "results.json").read_text())
    best = torch.load(save_dir / "sp" / "best.th", weights_only=True)
    for name in masks[0]:
        outside = ~(masks[0][name] | masks[1][name])
        assert torch.equal(best[name][outside], rewind[name][outside]), name
    assert results["params"] == encoder_params(model, masks)
    assert results["overlap"]["all"] == pytest.approx(overlap_ratio(masks))
    assert results["overlap"]["pos&ner"] == pytest.approx(overlap_ratio(masks))
    assert results["system"] == "sparse sharing"
    assert sum(results["sampling_counts"].values()) == 2 * (2 + 2)  # Σ ceil(n/2) per epoch, 2 epochs
    assert {name: row["kept"] for name, row in results["tasks"].items()} == \
           pytest.approx({"pos": 100.0 * float(sum(m.sum() for m in masks[0].values())) /
                          sum(m.numel() for m in masks[0].values()),
                          "ner": 100.0 * float(sum(m.sum() for m in masks[1].values())) /
                          sum(m.numel() for m in masks[1].values())})


@pytest.mark.parametrize("clip_norm,expected", [(None, []), (5.0, [5.0] * 7)])
def test_joint_norm_clipping_only_when_asked(tiny_data, monkeypatch, clip_norm, expected):
    """Step 3 clips gradient values (the original); with clip_norm (run_ptb.sh's CRFs) it also clips the norm,
    once per step: batches of 1 over 4 pos and 3 ner sentences make 7 steps."""
    import torch.nn.utils as nn_utils

    norms = []
    real = nn_utils.clip_grad_norm_
    monkeypatch.setattr(nn_utils, "clip_grad_norm_", lambda params, max_norm, *a, **k: (norms.append(max_norm),
                                                                                          real(params, max_norm))[1])
    monkeypatch.setattr(utils.training.joint, "evaluate", lambda *args: 50.0)
    model = tiny_model(tiny_data)
    tasks = [JointTask(i, t, None) for i, t in enumerate(tiny_data.tasks)]
    train_joint(model, tasks, epochs=1, batch_size=1, optim=OPTIM, scheduler="fix", sampling="round-robin",
                device="cpu", pad_index=tiny_data.words.padding_idx, generator=torch.Generator().manual_seed(0),
                on_best=lambda epoch: None, clip_norm=clip_norm)
    assert norms == expected


@pytest.mark.parametrize("optim", ["adamw(lr=0.01, weight_decay=0.1)", "sgd(lr=0.1, momentum=0.9, weight_decay=0.1)",
                                   "adam(lr=0.01, weight_decay=0.1)"])
def test_weight_decay_reaches_only_the_subnet(tiny_data, optim):
    """Task t's step, with weight decay, leaves every weight outside M_t exactly as it was (the other tasks' weights
    are not shrunk by it), and with a full mask it is the optimiser's own step."""
    model = tiny_model(tiny_data)
    mask = random_masks(model, 1)[0]
    before = snapshot(model)
    optimizer = make_optimizer(optim, model.parameters())
    train_step(model, mask, 0, batch_of(tiny_data, 0), optimizer, clip_value=5.0)
    assert_outside_unchanged(before, snapshot(model), mask)
    assert optimizer.param_groups[0]["weight_decay"] == 0.1
    dense, plain = tiny_model(tiny_data), tiny_model(tiny_data)
    ones = {n: torch.ones_like(m) for n, m in mask.items()}
    for model_, mask_ in ((dense, ones), (plain, None)):
        torch.manual_seed(0)
        train_step(model_, mask_, 0, batch_of(tiny_data, 0), make_optimizer(optim, model_.parameters()))
    for name, value in snapshot(dense).items():
        torch.testing.assert_close(value, snapshot(plain)[name], rtol=1e-6, atol=1e-7)
