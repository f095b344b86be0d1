"""Mask finders (--finder): every finder's masks nest and keep the exact count of each kept fraction under one global
threshold of its own ranking over the declared scope; masks are deterministic under a seed; early-bird stops on a
hand-made sequence of masks exactly when the distance falls under ε; SNIP's scores are |g ⊙ w| computed by hand;
movement's kept share follows the cubic schedule worked out by hand, its scores are −(∂L/∂W′) ⊙ W after one step
and its straight-through masks let a pruned weight's score move; each finder resumes bit-identically after a stop at any saved state; Step 2 and Step 3 run on each one's output."""
import json

import pytest
import torch
from torch import nn

import train_mtl
import train_single
from tests.test_joint import tiny_model
from tests.test_resume import BUDGET, Stop, assert_same, files_of, stop_after
from utils.runs import layout
from utils.runs.checkpoint import load_tensors
from utils.subnets import selection
from utils.subnets.finders import FINDERS
from utils.subnets.finders.earlybird import EarlyBird, hamming
from utils.subnets.finders.movement import TopV, cubic_kept, learn_scores, top_indices
from utils.subnets.finders.snip import sensitivity
from utils.subnets.masks import full_mask, prunable_names
from utils.subnets.pruning import kept_schedule
from utils.settings.groups import Step1Optimiser

SCHEDULE = kept_schedule(0.25, 2)  # 100%, 50%, 25%


@pytest.fixture
def tiny_processed(tiny_data, tmp_path):
    directory = tmp_path / "tiny"
    tiny_data.save(str(directory))
    return directory


def step1_args(data, save_dir, finder: str, task_id: int = 1) -> list[str]:
    return ["--data_path", str(data), "--task_id", str(task_id), "--epochs", "3", "--pruning_iter", "2",
            "--final_rate", "0.25", "--finder", finder, "--earlybird_epsilon", "0.5", "--save_dir", str(save_dir),
            *BUDGET]


def round_files(folder) -> list[tuple[dict, dict]]:
    """(mask, best-dev weights) of every round, in order."""
    found = layout.round_masks(str(folder))
    out = []
    for round_ in sorted(found):
        mask = load_tensors(found[round_])["mask"]
        weights = load_tensors(str(folder / layout.weights_file(found[round_].rsplit("/", 1)[-1])))
        out.append((mask, weights))
    return out


def below_one_threshold(ranking: dict, keep: dict, among: dict, magnitude: bool = True) -> bool:
    """Every weight `keep` keeps ranks at least as high as every weight of `among` it drops (one global cut), by
    magnitude or (movement's scores) by value."""
    rank = (lambda t: t.abs()) if magnitude else (lambda t: t)
    kept = torch.cat([rank(ranking[n][keep[n]]).flatten() for n in keep])
    dropped = torch.cat([rank(ranking[n][among[n] & ~keep[n]]).flatten() for n in keep])
    return dropped.numel() == 0 or bool(kept.min() >= dropped.max())


@pytest.mark.parametrize("finder", FINDERS)
def test_masks_nest_and_keep_the_exact_count_under_one_threshold(finder, tiny_processed, tiny_data, tmp_path):
    train_single.main(step1_args(tiny_processed, tmp_path / "run", finder))
    folder = tmp_path / "run" / layout.STEP1_TASKS / "1"
    rounds = round_files(folder)
    names = prunable_names(tiny_model(tiny_data))
    assert [sorted(mask) for mask, _ in rounds] == [sorted(names)] * 3
    total = sum(m.numel() for m in rounds[0][0].values())
    for r, (mask, _) in enumerate(rounds):
        assert sum(int(m.sum()) for m in mask.values()) == round(SCHEDULE[r] * total)
        if r:
            assert all(torch.all(mask[n] <= rounds[r - 1][0][n]) for n in mask)   # nested
    scores = [json.loads(line) for line in (folder / layout.SCORES).read_text().splitlines()]
    assert [s["finder"] for s in scores] == [finder] * 3 and all(s["steps"] > 0 for s in scores)
    dense = full_mask(tiny_model(tiny_data), names)
    if finder == "imp":        # round r+1 from round r's best weights, among round r's mask
        assert all(below_one_threshold(rounds[r][1], rounds[r + 1][0], rounds[r][0]) for r in range(2))
    if finder == "oneshot":    # every round from the dense round's best weights, over the whole scope
        assert all(below_one_threshold(rounds[0][1], rounds[r][0], dense) for r in (1, 2))
    if finder == "snip":       # every round from the sensitivity at the rewind point
        model = tiny_model(tiny_data)
        model.load_state_dict(load_tensors(str(folder / layout.INIT)))
        task = tiny_data.tasks[1]
        ranking = sensitivity(model, dense, 1, task, 1, 2, 2019, tiny_data.words.padding_idx, "cpu")
        assert all(below_one_threshold(ranking, rounds[r][0], dense) for r in (1, 2))
    if finder == "movement":   # every round from the scores of one pass from the rewind point
        model = tiny_model(tiny_data)
        model.load_state_dict(load_tensors(str(folder / layout.INIT)))
        learned = learn_scores(model, dense, SCHEDULE[-1], 1, tiny_data.tasks[1],
                               Step1Optimiser(epochs=3, batch_size=2), 2019, tiny_data.words.padding_idx, "cpu")
        assert all(below_one_threshold(learned["scores"], rounds[r][0], dense, magnitude=False) for r in (1, 2))
        assert scores[0]["scoring"] == {**learned["cost"], "seconds": scores[0]["scoring"]["seconds"]}
        assert all("scoring" not in s for s in scores[1:])


@pytest.mark.parametrize("finder", FINDERS)
def test_a_finders_masks_are_deterministic_under_a_seed(finder, tiny_processed, tmp_path):
    for name in ("a", "b"):
        train_single.main(step1_args(tiny_processed, tmp_path / name, finder, task_id=0))
    first, second = (round_files(tmp_path / name / layout.STEP1_TASKS / "0") for name in ("a", "b"))
    assert_same([m for m, _ in first], [m for m, _ in second])


class Grid(nn.Module):
    """One 4×4 weight whose magnitudes the test sets per 'epoch'."""

    def __init__(self) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.zeros(4, 4))


def test_earlybird_stops_exactly_when_the_distance_falls_under_epsilon():
    """Keeping 8 of 16 by magnitude; epoch by epoch the top 8 change on 8, 4, 2, 0 entries: distances 0.5, 0.25,
    0.125, 0; with ε = 0.2 the rule says stop at epoch 4 (the first distance below ε), not before."""
    model = Grid()
    finder = EarlyBird([1.0, 0.5], epsilon=0.2)
    mask = {"w": torch.ones(4, 4, dtype=torch.bool)}
    rule = finder.converged(0, mask, model)
    tops = [list(range(8)), list(range(4, 12)), list(range(6, 14)), list(range(7, 15)), list(range(7, 15))]
    answers, tickets = [], []
    for epoch, top in enumerate(tops, start=1):
        values = torch.ones(16)
        values[top] = 2.0 + torch.arange(8, dtype=torch.float)
        with torch.no_grad():
            model.w.copy_(values.view(4, 4))
        answers.append(rule(epoch))
        tickets.append(finder.ticket)
    assert [hamming(tickets[i - 1], tickets[i]) for i in range(1, 5)] == [0.5, 0.25, 0.125, 0.0]
    assert answers == [False, False, False, True, True]
    assert finder.round_record()["mask_distances"] == [0.5, 0.25, 0.125, 0.0]
    assert torch.equal(finder.next_mask(0, mask, {"w": model.w.detach()})["w"].flatten(),
                       torch.isin(torch.arange(16), torch.tensor(tops[-1])))


def test_snip_scores_are_g_times_w_by_hand(tiny_data):
    model = tiny_model(tiny_data)
    names = prunable_names(model)
    mask = full_mask(model, names)
    task = tiny_data.tasks[0]
    scores = sensitivity(model, mask, 0, task, 2, 3, seed=5, pad_index=tiny_data.words.padding_idx, device="cpu")
    from utils.data.batching import collate, epoch_batches
    chosen = epoch_batches("random", task.splits["train"].lengths, 3, torch.Generator().manual_seed(5))[:2]
    model.eval()
    params = [model.get_parameter(n) for n in names]
    grads = [torch.zeros_like(p) for p in params]
    for indices in chosen:
        batch = collate(task.splits["train"], indices, tiny_data.words.padding_idx, "cpu")
        loss = model.heads.loss(0, model(0, batch.words, batch.seq_len), batch.tags, batch.seq_len)
        grads = [g + d for g, d in zip(grads, torch.autograd.grad(loss, params))]
    for name, param, grad in zip(names, params, grads):
        torch.testing.assert_close(scores[name], (grad * param).abs().detach(), rtol=1e-5, atol=1e-7)
    assert all(p.grad is None for p in model.parameters())


# 3 rounds × 3 epochs: a state saved after every epoch and every round (12 in all, fewer when early-bird stops):
# k = 5 stops in round 1 (after round 0's mask was found), k = 2 mid-round 0 (early-bird's ticket in flight).
# movement: its pass saves after each of its 3 epochs and once done, so k = 2 stops mid-pass.
@pytest.mark.parametrize("finder, k", [(f, 5) for f in FINDERS] + [("earlybird", 2), ("movement", 2)])
def test_each_finder_resumes_bit_identically(finder, k, tiny_processed, tmp_path, monkeypatch):
    train_single.main(step1_args(tiny_processed, tmp_path / "reference", finder))
    reference = files_of(tmp_path / "reference" / layout.STEP1_TASKS / "1")
    calls = stop_after(monkeypatch, train_single, k)
    with pytest.raises(Stop):
        train_single.main(step1_args(tiny_processed, tmp_path / "run", finder))
    assert len(calls) == k
    monkeypatch.undo()
    train_single.main(step1_args(tiny_processed, tmp_path / "run", finder) + ["--resume"])
    assert_same(files_of(tmp_path / "run" / layout.STEP1_TASKS / "1"), reference)


@pytest.mark.parametrize("finder", FINDERS)
def test_step2_and_step3_run_on_each_finders_output(finder, tiny_processed, tiny_data, tmp_path):
    for task_id in range(len(tiny_data.tasks)):
        train_single.main(step1_args(tiny_processed, tmp_path / "single", finder, task_id))
    masks = tmp_path / "masks"
    selection.main(["--single_dir", str(tmp_path / "single" / layout.STEP1_TASKS), "--out_dir", str(masks)])
    train_mtl.main(["--data_path", str(tiny_processed), "--masks_path", str(masks), "--epochs", "1",
                    "--save_dir", str(tmp_path), "--exp_name", "step3", *BUDGET])
    results = json.loads((tmp_path / "step3" / layout.RESULTS).read_text())
    assert results["system"] == "sparse sharing" and set(results["tasks"]) == set(tiny_data.task_names())


def test_the_cubic_schedule_by_hand():
    """100 steps to 10% kept: v = 1 for steps 0-9 (10%), 0.1 + 0.9·(1 − (t − 10)/70)³ for steps 10-79, 0.1 from
    step 80 (the last 20%)."""
    assert [cubic_kept(t, 100, 0.1) for t in (0, 9, 10)] == [1.0, 1.0, 1.0]
    assert cubic_kept(45, 100, 0.1) == pytest.approx(0.1 + 0.9 * 0.5 ** 3)
    assert cubic_kept(79, 100, 0.1) == pytest.approx(0.1 + 0.9 * (1 / 70) ** 3)
    assert [cubic_kept(t, 100, 0.1) for t in (80, 99)] == [0.1, 0.1]
    values = [cubic_kept(t, 37, 0.25) for t in range(37)]
    assert all(a >= b for a, b in zip(values, values[1:])) and values[0] == 1.0 and values[-1] == 0.25


def test_top_v_keeps_the_largest_and_passes_the_gradient_straight_through():
    scores = torch.tensor([0.3, -1.0, 2.0, 0.0, 1.5], requires_grad=True)
    factors = TopV.apply(scores, 2)
    assert factors.tolist() == [0.0, 0.0, 1.0, 0.0, 1.0]
    (factors * torch.tensor([1.0, 2.0, 3.0, 4.0, 5.0])).sum().backward()
    assert scores.grad.tolist() == [1.0, 2.0, 3.0, 4.0, 5.0]   # pruned entries' scores move too


@pytest.mark.parametrize("keep", [0, 1, 7, 500, 999, 1000])
def test_top_indices_are_the_largest_scores(keep):
    """numpy's introselect (the CPU path) picks exactly the `keep` largest of distinct scores, as a sort does."""
    scores = torch.randperm(1000, generator=torch.Generator().manual_seed(keep)).float()
    scores[::3] = -torch.inf   # outside the scope; keep never exceeds the finite ones in a pass
    finite = int(torch.isfinite(scores).sum())
    keep = min(keep, finite) if keep < 1000 else 1000
    chosen = top_indices(scores, keep)
    assert len(chosen) == keep and set(chosen.tolist()) == set(torch.sort(scores, descending=True).indices[:keep].tolist())


def test_top_v_with_every_candidate_kept_needs_no_ranking():
    """At v = 1 the factors are the candidates (the finite scores), with the same straight-through gradient."""
    scores = torch.tensor([0.3, -torch.inf, 2.0, 0.0], requires_grad=True)
    candidates = torch.isfinite(scores.detach())
    factors = TopV.apply(scores, 3, candidates)
    assert factors.tolist() == TopV.apply(scores.detach(), 3).tolist() == [1.0, 0.0, 1.0, 1.0]
    (factors * torch.tensor([1.0, 2.0, 3.0, 4.0])).sum().backward()
    assert scores.grad.tolist() == [1.0, 2.0, 3.0, 4.0]


def test_movement_scores_after_one_step_are_minus_g_times_w(tiny_data):
    """A pass of one step (one epoch, one batch holding the whole training set) is still at v = 1, so W′ = W and
    the scores are −(∂L/∂W) ⊙ W at the rewind point, computed here by hand with the pass's dropout draws."""
    model = tiny_model(tiny_data)
    names = prunable_names(model)
    mask = full_mask(model, names)
    task = tiny_data.tasks[0]
    size = len(task.splits["train"])
    learned = learn_scores(model, mask, 0.5, 0, task, Step1Optimiser(epochs=1, batch_size=size), 7,
                           tiny_data.words.padding_idx, "cpu")
    assert learned["cost"]["steps"] == 1
    from utils.data.batching import collate, epoch_batches
    (indices,) = epoch_batches("original", task.splits["train"].lengths, size, torch.Generator().manual_seed(7))
    batch = collate(task.splits["train"], indices, tiny_data.words.padding_idx, "cpu")
    params = [model.get_parameter(n) for n in names]
    with torch.random.fork_rng():
        torch.manual_seed(7)
        model.train()
        loss = model.heads.loss(0, model(0, batch.words, batch.seq_len), batch.tags, batch.seq_len)
    grads = torch.autograd.grad(loss, params)
    for name, param, grad in zip(names, params, grads):
        torch.testing.assert_close(learned["scores"][name], -(grad * param).detach(), rtol=1e-5, atol=1e-7)
