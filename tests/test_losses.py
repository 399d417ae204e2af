"""Contrastive losses (vidkit.losses) against brute-force per-sample loops, plus the MoCo machinery."""

import copy
import math

import pytest
import torch
from torch import nn

from vidkit.losses import (
    MoCoQueue,
    coclr_loss,
    info_nce,
    mine_topk_positives,
    momentum_update,
    multi_positive_nce,
    nt_xent,
    uber_nce,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def rand(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


# ----------------------------------------------------------------------------- brute force references

def unit(v: torch.Tensor) -> list[float]:
    values = [float(x) for x in v]
    norm = math.sqrt(sum(x * x for x in values))
    return [x / norm for x in values]


def dot(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b))


def loop_multi_positive(q, keys, positives, tau):
    """mean_i -log( sum_{p in P(i)} exp(s_ip) / sum_n exp(s_in) ), one row and one key at a time."""
    total = 0.0
    for i in range(q.shape[0]):
        qi = unit(q[i])
        s = [dot(qi, unit(keys[n])) / tau for n in range(keys.shape[0])]
        total += -math.log(sum(math.exp(s[p]) for p in positives[i]) / sum(math.exp(x) for x in s))
    return total / q.shape[0]


def loop_info_nce(q, k, tau, queue=None):
    keys = k if queue is None else torch.cat([k, queue])
    return loop_multi_positive(q, keys, [[i] for i in range(q.shape[0])], tau)


def loop_nt_xent(z1, z2, tau):
    z = torch.cat([z1, z2])
    n, b = z.shape[0], z1.shape[0]
    total = 0.0
    for a in range(n):
        za = unit(z[a])
        s = {c: dot(za, unit(z[c])) / tau for c in range(n) if c != a}
        total += -math.log(math.exp(s[(a + b) % n]) / sum(math.exp(x) for x in s.values()))
    return total / n


# ----------------------------------------------------------------------------- losses vs loops

@pytest.mark.parametrize("tau", [0.07, 0.5])
@pytest.mark.parametrize("queue_size", [None, 0, 7])
def test_info_nce_matches_loop(tau, queue_size):
    q, k = rand(5, 4, seed=1), rand(5, 4, seed=2)
    queue = None if queue_size is None else rand(queue_size, 4, seed=3)
    got = info_nce(q, k, temperature=tau, queue=queue)
    assert got.dtype == torch.float64 and got.dim() == 0
    assert float(got) == pytest.approx(loop_info_nce(q, k, tau, queue), rel=1e-10)


@pytest.mark.parametrize("tau", [0.1, 1.0])
def test_nt_xent_matches_loop_over_2b_anchors(tau):
    z1, z2 = rand(4, 3, seed=4), rand(4, 3, seed=5)
    assert float(nt_xent(z1, z2, tau)) == pytest.approx(loop_nt_xent(z1, z2, tau), rel=1e-10)


@pytest.mark.parametrize("tau", [0.07, 0.3])
def test_multi_positive_nce_matches_loop(tau):
    q, keys = rand(4, 5, seed=6), rand(9, 5, seed=7)
    positives = [[0], [1, 4, 8], [2, 3], list(range(9))]
    mask = torch.zeros(4, 9, dtype=torch.bool)
    for i, ps in enumerate(positives):
        mask[i, ps] = True
    got = multi_positive_nce(q, keys, mask, temperature=tau)
    assert float(got) == pytest.approx(loop_multi_positive(q, keys, positives, tau), rel=1e-10)
    assert abs(float(multi_positive_nce(q, keys, torch.ones(4, 9, dtype=torch.bool), tau))) < 1e-12


def test_multi_positive_nce_is_stable_at_tiny_temperature():
    q, keys = rand(3, 4, seed=8), rand(6, 4, seed=9)
    loss = multi_positive_nce(q.float(), keys.float(), torch.eye(3, 6, dtype=torch.bool), temperature=1e-4)
    assert torch.isfinite(loss)


@pytest.mark.parametrize("with_queue", [False, True])
def test_uber_nce_matches_loop_with_label_positives(with_queue):
    q, k, tau = rand(6, 4, seed=10), rand(6, 4, seed=11), 0.2
    labels = torch.tensor([0, 1, 0, 2, 1, 2])
    queue, queue_labels = (rand(5, 4, seed=12), torch.tensor([2, 0, 3, 1, 0])) if with_queue else (None, None)
    keys = k if queue is None else torch.cat([k, queue])
    key_labels = labels.tolist() + ([] if queue_labels is None else queue_labels.tolist())
    positives = [[n for n, lab in enumerate(key_labels) if lab == labels[i]] for i in range(6)]
    assert all(len(p) > 1 for p in positives)                      # really several positives
    got = uber_nce(q, k, labels, tau, queue=queue, queue_labels=queue_labels)
    assert float(got) == pytest.approx(loop_multi_positive(q, keys, positives, tau), rel=1e-10)


def test_coclr_loss_matches_loop():
    q, k, queue, tau = rand(3, 4, seed=13), rand(3, 4, seed=14), rand(6, 4, seed=15), 0.1
    mined = [[1, 4], [], [0, 2, 5]]
    mask = torch.zeros(3, 6, dtype=torch.bool)
    for i, ms in enumerate(mined):
        mask[i, ms] = True
    positives = [[i] + [3 + m for m in ms] for i, ms in enumerate(mined)]   # k_i, then queue rows after B
    got = coclr_loss(q, k, queue, mask, temperature=tau)
    assert float(got) == pytest.approx(loop_multi_positive(q, torch.cat([k, queue]), positives, tau), rel=1e-10)


# ----------------------------------------------------------------------------- identities between losses

def test_info_nce_is_multi_positive_nce_with_diagonal_mask():
    q, k, queue = rand(4, 6, seed=16), rand(4, 6, seed=17), rand(5, 6, seed=18)
    mask = torch.cat([torch.eye(4, dtype=torch.bool), torch.zeros(4, 5, dtype=torch.bool)], dim=1)
    expected = multi_positive_nce(q, torch.cat([k, queue]), mask, 0.3)
    torch.testing.assert_close(info_nce(q, k, 0.3, queue=queue), expected)
    torch.testing.assert_close(coclr_loss(q, k, queue, torch.zeros(4, 5, dtype=torch.bool), 0.3), expected)


def test_uber_nce_with_distinct_labels_is_info_nce():
    q, k, queue = rand(4, 6, seed=19), rand(4, 6, seed=20), rand(3, 6, seed=21)
    torch.testing.assert_close(uber_nce(q, k, torch.arange(4), 0.2), info_nce(q, k, 0.2))
    torch.testing.assert_close(uber_nce(q, k, torch.arange(4), 0.2, queue, torch.arange(4, 7)),
                               info_nce(q, k, 0.2, queue=queue))


def test_inputs_are_normalised_and_mixed_dtypes_work():
    q, k, queue = rand(3, 4, seed=22), rand(3, 4, seed=23), rand(4, 4, seed=24)
    torch.testing.assert_close(info_nce(5 * q, 0.1 * k, queue=3 * queue), info_nce(q, k, queue=queue))
    half = info_nce(q.half(), k.half(), queue=queue.float())
    assert half.dtype == torch.float32
    assert float(half) == pytest.approx(float(info_nce(q, k, queue=queue)), abs=0.05)


# ----------------------------------------------------------------------------- gradients, alignment

@pytest.mark.parametrize("name", ["info_nce", "nt_xent", "multi_positive_nce", "uber_nce", "coclr_loss"])
def test_gradients_flow_and_aligned_beats_random(name):
    def loss(q, k):
        if name == "info_nce":
            return info_nce(q, k, queue=rand(6, 8, seed=30))
        if name == "nt_xent":
            return nt_xent(q, k)
        if name == "multi_positive_nce":
            return multi_positive_nce(q, k, torch.eye(6, dtype=torch.bool))
        if name == "uber_nce":
            return uber_nce(q, k, torch.tensor([0, 0, 1, 1, 2, 3]))
        mask = torch.zeros(6, 6, dtype=torch.bool)
        mask[0, 1] = True
        return coclr_loss(q, k, rand(6, 8, seed=30), mask)

    q = rand(6, 8, seed=25).requires_grad_()
    k = rand(6, 8, seed=26).requires_grad_()
    random_loss = loss(q, k)
    random_loss.backward()
    for t in (q, k):
        assert t.grad is not None and torch.isfinite(t.grad).all() and t.grad.abs().sum() > 0
    aligned = rand(6, 8, seed=27)
    assert float(loss(aligned, aligned + 0.01 * rand(6, 8, seed=28))) < float(random_loss.detach()) - 0.5


# ----------------------------------------------------------------------------- mining

def test_mine_topk_matches_brute_force_sort():
    query, bank, k = rand(4, 5, seed=40), rand(12, 5, seed=41), 3
    mask = mine_topk_positives(query, bank, k)
    assert mask.dtype == torch.bool and mask.shape == (4, 12) and (mask.sum(1) == k).all()
    for i in range(4):
        qi = unit(query[i])
        sims = [dot(qi, unit(bank[n])) for n in range(12)]
        best = sorted(range(12), key=lambda n: -sims[n])[:k]
        assert set(mask[i].nonzero().flatten().tolist()) == set(best)


def test_mine_topk_never_picks_the_clip_itself():
    bank = rand(8, 4, seed=42)
    query = bank[[2, 5]] * 3.0                                    # each query's nearest entry is itself
    bank_index = torch.arange(100, 108)
    assert mine_topk_positives(query, bank, 1)[[0, 1], [2, 5]].all()   # without ids: itself
    mask = mine_topk_positives(query, bank, 2, query_index=torch.tensor([102, 105]), bank_index=bank_index)
    assert not mask[0, 2] and not mask[1, 5] and (mask.sum(1) == 2).all()
    for i, own in enumerate([2, 5]):
        qi = unit(query[i])
        sims = {n: dot(qi, unit(bank[n])) for n in range(8) if n != own}
        assert set(mask[i].nonzero().flatten().tolist()) == set(sorted(sims, key=lambda n: -sims[n])[:2])


def test_mine_topk_excludes_every_entry_of_the_same_clip_and_checks_k():
    bank = rand(6, 3, seed=43)
    bank_index = torch.tensor([7, 7, 7, 1, 2, 3])                 # clip 7 is in the bank three times
    query_index = torch.tensor([7, 1])
    mask = mine_topk_positives(rand(2, 3, seed=44), bank, 3, query_index=query_index, bank_index=bank_index)
    assert not mask[0, :3].any() and mask[0, 3:].all()
    with pytest.raises(ValueError, match=r"k must be an int in 1\.\.3"):
        mine_topk_positives(rand(2, 3, seed=44), bank, 4, query_index=query_index, bank_index=bank_index)


def test_mine_topk_ties_go_to_the_lower_position():
    bank = torch.tensor([[1.0, 0.0], [0.0, 1.0], [2.0, 0.0], [1.0, 0.0], [3.0, 0.0]])  # 0, 2, 3, 4 tie
    mask = mine_topk_positives(torch.tensor([[1.0, 0.0]]), bank, 2)
    assert mask[0].nonzero().flatten().tolist() == [0, 2]
    mask = mine_topk_positives(torch.tensor([[1.0, 0.0]]), bank, 2, query_index=torch.tensor([0]),
                               bank_index=torch.tensor([0, 1, 2, 3, 4]))
    assert mask[0].nonzero().flatten().tolist() == [2, 3]


def test_mine_topk_errors():
    q, bank = rand(2, 3, seed=45), rand(5, 3, seed=46)
    for bad in (0, 6, 2.0, True):
        with pytest.raises(ValueError, match=r"k must be an int in 1\.\.5"):
            mine_topk_positives(q, bank, bad)
    with pytest.raises(ValueError, match="together"):
        mine_topk_positives(q, bank, 1, query_index=torch.arange(2))
    with pytest.raises(TypeError, match=r"bank_index must be an integer tensor \(5,\)"):
        mine_topk_positives(q, bank, 1, query_index=torch.arange(2), bank_index=torch.zeros(5))
    with pytest.raises(ValueError, match=r"query_index must have shape \(2,\)"):
        mine_topk_positives(q, bank, 1, query_index=torch.arange(3), bank_index=torch.arange(5))
    with pytest.raises(ValueError, match=r"bank_other must have shape \(N, 3\)"):
        mine_topk_positives(q, rand(5, 4), 1)


# ----------------------------------------------------------------------------- MoCoQueue

def test_queue_fifo_order_and_wraparound_keep_labels_and_indices_aligned():
    queue = MoCoQueue(size=5, dim=2)
    assert len(queue) == 0 and queue.keys.shape == (0, 2) and not queue.is_full

    def batch(ids):   # key i points at angle i, so it is identifiable after normalisation
        angles = torch.tensor(ids, dtype=torch.float32) * 0.1
        return torch.stack([angles.cos(), angles.sin()], 1) * 4.0, torch.tensor(ids)

    def ids_in(q):
        return torch.round(torch.atan2(q.keys[:, 1], q.keys[:, 0]) / 0.1).long().tolist()

    keys, ids = batch([0, 1, 2])
    queue.enqueue(keys, labels=ids + 10, indices=ids)
    assert ids_in(queue) == [0, 1, 2] and queue.labels.tolist() == [10, 11, 12] and len(queue) == 3
    torch.testing.assert_close(queue.keys.norm(dim=1), torch.ones(3))
    keys, ids = batch([3, 4, 5, 6])                                 # wraps around: 0 and 1 drop out
    queue.enqueue(keys, labels=ids + 10, indices=ids)
    assert queue.is_full and len(queue) == 5
    assert ids_in(queue) == [2, 3, 4, 5, 6] and queue.indices.tolist() == [2, 3, 4, 5, 6]
    assert queue.labels.tolist() == [12, 13, 14, 15, 16]
    keys, ids = batch(list(range(7, 19)))                           # larger than the queue: last 5 stay
    queue.enqueue(keys, indices=ids)
    assert ids_in(queue) == [14, 15, 16, 17, 18] and queue.indices.tolist() == [14, 15, 16, 17, 18]
    assert queue.labels.tolist() == [-1] * 5                        # enqueued without labels
    keys, ids = batch([19])
    queue.enqueue(keys, labels=ids, indices=ids)
    assert ids_in(queue) == [15, 16, 17, 18, 19] and queue.labels.tolist() == [-1, -1, -1, -1, 19]


def test_queue_state_dict_round_trip():
    queue = MoCoQueue(size=4, dim=3)
    queue.enqueue(rand(3, 3, seed=50).float(), labels=torch.tensor([1, 2, 3]), indices=torch.tensor([4, 5, 6]))
    queue.enqueue(rand(2, 3, seed=51).float(), labels=torch.tensor([7, 8]), indices=torch.tensor([9, 10]))
    state = queue.state_dict()
    assert {"_keys", "_labels", "_indices", "ptr", "count"} <= set(state)
    restored = MoCoQueue(size=4, dim=3)
    restored.load_state_dict(state)
    for attr in ("keys", "labels", "indices"):
        torch.testing.assert_close(getattr(restored, attr), getattr(queue, attr))
    restored.enqueue(rand(1, 3, seed=52).float(), labels=torch.tensor([0]))
    queue.enqueue(rand(1, 3, seed=52).float(), labels=torch.tensor([0]))
    torch.testing.assert_close(restored.keys, queue.keys)
    assert "size=4, dim=3, filled=4" in repr(queue)


def test_queue_feeds_the_losses():
    queue = MoCoQueue(size=6, dim=4)
    queue.enqueue(rand(6, 4, seed=53), labels=torch.tensor([0, 1, 2, 0, 1, 2]), indices=torch.arange(6))
    q, k = rand(2, 4, seed=54), rand(2, 4, seed=55)
    assert torch.isfinite(uber_nce(q, k, torch.tensor([0, 1]), queue=queue.keys, queue_labels=queue.labels))
    mask = mine_topk_positives(k, queue.keys, 2, query_index=torch.tensor([0, 3]), bank_index=queue.indices)
    assert torch.isfinite(coclr_loss(q, k, queue.keys, mask))


def test_queue_errors():
    for kwargs, match in (({"size": 0, "dim": 2}, "size must be a positive int"),
                          ({"size": 3, "dim": 2.0}, "dim must be a positive int")):
        with pytest.raises(ValueError, match=match):
            MoCoQueue(**kwargs)
    with pytest.raises(TypeError, match="dtype must be a floating"):
        MoCoQueue(3, 2, dtype=torch.long)
    queue = MoCoQueue(size=3, dim=2)
    with pytest.raises(ValueError, match=r"keys must have shape \(N, 2\)"):
        queue.enqueue(torch.zeros(2, 3))
    with pytest.raises(ValueError, match=r"keys must have shape \(N, 2\) with D >= 1"):
        queue.enqueue(torch.zeros(0, 2))
    with pytest.raises(TypeError, match="keys must be a float tensor"):
        queue.enqueue(torch.zeros(2, 2, dtype=torch.long))
    with pytest.raises(ValueError, match=r"labels must have shape \(2,\)"):
        queue.enqueue(torch.zeros(2, 2), labels=torch.tensor([1, 2, 3]))
    with pytest.raises(ValueError, match="indices must be >= 0"):
        queue.enqueue(torch.zeros(2, 2), indices=torch.tensor([1, -1]))
    assert len(queue) == 0                                          # nothing written by a failed call


# ----------------------------------------------------------------------------- momentum_update

def nets():
    torch.manual_seed(0)
    online = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    target = copy.deepcopy(online)
    with torch.no_grad():
        for p in online.parameters():
            p.add_(1.0)
        online[1].running_mean.fill_(2.0)
    return online, target


def test_momentum_update_copies_keeps_and_averages():
    online, target = nets()
    momentum_update(online, target, m=0.0)
    for a, b in zip(online.state_dict().values(), target.state_dict().values()):
        assert torch.equal(a, b)
    online, target = nets()
    before = copy.deepcopy(target.state_dict())
    momentum_update(online, target, m=1.0)
    for name, p in target.named_parameters():
        assert torch.equal(p, before[name])
    assert torch.equal(target[1].running_mean, online[1].running_mean)   # buffers are copied
    online, target = nets()
    before = copy.deepcopy(target.state_dict())
    momentum_update(online, target, m=0.5)
    for name, p in target.named_parameters():
        torch.testing.assert_close(p, 0.5 * before[name] + 0.5 * dict(online.named_parameters())[name])
        assert p.grad is None and not p.grad_fn


def test_momentum_update_errors():
    online, target = nets()
    for bad in (-0.1, 1.5, True, "0.9"):
        with pytest.raises(ValueError, match=r"momentum m must be a number in \[0, 1\]"):
            momentum_update(online, target, m=bad)
    with pytest.raises(TypeError, match="target must be an nn.Module"):
        momentum_update(online, {"weight": torch.zeros(1)})
    with pytest.raises(ValueError, match=r"parameter '0.weight': online shape \(4, 3\) != target shape \(4, 5\)"):
        momentum_update(online, nn.Sequential(nn.Linear(5, 4), nn.BatchNorm1d(4)))
    with pytest.raises(ValueError, match="same parameters; differing names"):
        momentum_update(online, nn.Sequential(nn.Linear(3, 4)))
    with pytest.raises(ValueError, match="same buffers; differing names"):
        momentum_update(online, nn.Sequential(nn.Linear(3, 4), nn.LayerNorm(4)))
    partial = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(5))   # first layer matches, second does not
    before = copy.deepcopy(partial.state_dict())
    with pytest.raises(ValueError, match=r"parameter '1.weight'"):
        momentum_update(online, partial, m=0.0)
    assert all(torch.equal(v, before[n]) for n, v in partial.state_dict().items())   # nothing written


# ----------------------------------------------------------------------------- validation of the losses

def test_loss_validation_errors():
    q, k = rand(3, 4), rand(3, 4)
    with pytest.raises(TypeError, match=r"q must be a torch.Tensor \(N, D\)"):
        info_nce(q.tolist(), k)
    with pytest.raises(TypeError, match="q must be a float tensor"):
        info_nce(q.long(), k)
    with pytest.raises(ValueError, match=r"q must have shape \(N, D\) with D >= 1, got \(3, 4, 1\)"):
        info_nce(q[..., None], k)
    with pytest.raises(ValueError, match=r"k must have shape \(3, 4\), got \(2, 4\)"):
        info_nce(q, k[:2])
    with pytest.raises(ValueError, match=r"queue must have shape \(N, 4\)"):
        info_nce(q, k, queue=rand(5, 3))
    for bad in (0, -1.0, float("nan"), float("inf"), True, "0.1"):
        with pytest.raises(ValueError, match="temperature must be a finite number > 0"):
            info_nce(q, k, temperature=bad)
    with pytest.raises(ValueError, match=r"z2 must have shape \(3, 4\)"):
        nt_xent(q, rand(3, 5))
    with pytest.raises(ValueError, match="temperature must be"):
        nt_xent(q, k, temperature=0)
    keys = rand(5, 4)
    with pytest.raises(ValueError, match=r"keys must have shape \(N, 4\)"):
        multi_positive_nce(q, rand(5, 2), torch.ones(3, 5, dtype=torch.bool))
    with pytest.raises(TypeError, match=r"pos_mask must be a bool tensor \(B, N\) = \(3, 5\)"):
        multi_positive_nce(q, keys, torch.ones(3, 5))
    with pytest.raises(ValueError, match=r"pos_mask must have shape \(B, N\) = \(3, 5\), got \(3, 4\)"):
        multi_positive_nce(q, keys, torch.ones(3, 4, dtype=torch.bool))
    mask = torch.ones(3, 5, dtype=torch.bool)
    mask[1] = False
    with pytest.raises(ValueError, match=r"at least one positive; rows without one: \[1\]"):
        multi_positive_nce(q, keys, mask)
    with pytest.raises(TypeError, match=r"labels must be an integer tensor \(3,\)"):
        uber_nce(q, k, torch.zeros(3))
    with pytest.raises(TypeError, match=r"labels must be a torch.Tensor \(3,\)"):
        uber_nce(q, k, [0, 1, 2])
    with pytest.raises(ValueError, match=r"labels must have shape \(3,\)"):
        uber_nce(q, k, torch.arange(4))
    with pytest.raises(ValueError, match="together"):
        uber_nce(q, k, torch.arange(3), queue=keys)
    with pytest.raises(ValueError, match=r"queue_labels must be >= 0 \(-1 marks an unknown entry"):
        uber_nce(q, k, torch.arange(3), queue=keys, queue_labels=torch.tensor([0, 1, 2, 3, -1]))
    with pytest.raises(TypeError, match=r"pos_mask_queue must be a bool tensor \(B, K\) = \(3, 5\)"):
        coclr_loss(q, k, keys, torch.zeros(3, 5, dtype=torch.long))
    with pytest.raises(ValueError, match=r"pos_mask_queue must have shape \(B, K\) = \(3, 5\), got \(3, 4\)"):
        coclr_loss(q, k, keys, torch.zeros(3, 4, dtype=torch.bool))
