"""Contrastive losses (vidkit.losses) against brute-force per-sample loops, plus the MoCo machinery."""

import copy
import inspect
import math

import pytest
import torch
from torch import nn

from vidkit.losses import (
    NCE_FORMS,
    MoCoQueue,
    coclr_loss,
    info_nce,
    max_margin_ranking,
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


def loop_mean_log(q, keys, positives, tau):
    """mean_i -1/|P(i)| sum_{p in P(i)} log( exp(s_ip) / sum_n exp(s_in) ): the mean of the log-probabilities."""
    total = 0.0
    for i in range(q.shape[0]):
        qi = unit(q[i])
        s = [dot(qi, unit(keys[n])) / tau for n in range(keys.shape[0])]
        log_z = math.log(sum(math.exp(x) for x in s))
        total += -sum(s[p] - log_z for p in positives[i]) / len(positives[i])
    return total / q.shape[0]


LOOPS = {"log_sum": loop_multi_positive, "mean_log": loop_mean_log}


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
@pytest.mark.parametrize("form", ["log_sum", "mean_log"])
def test_multi_positive_nce_matches_loop(tau, form):
    q, keys = rand(4, 5, seed=6), rand(9, 5, seed=7)
    positives = [[0], [1, 4, 8], [2, 3], list(range(9))]
    mask = torch.zeros(4, 9, dtype=torch.bool)
    for i, ps in enumerate(positives):
        mask[i, ps] = True
    got = multi_positive_nce(q, keys, mask, temperature=tau, form=form)
    loop = loop_multi_positive if form == "log_sum" else loop_mean_log
    assert float(got) == pytest.approx(loop(q, keys, positives, tau), rel=1e-10)
    if form == "log_sum":  # every key a positive: the summed probability is 1
        assert abs(float(multi_positive_nce(q, keys, torch.ones(4, 9, dtype=torch.bool), tau))) < 1e-12
    # the default is CoCLR's log_sum form
    torch.testing.assert_close(multi_positive_nce(q, keys, mask, tau), multi_positive_nce(q, keys, mask, tau, "log_sum"))


def test_multi_positive_nce_is_stable_at_tiny_temperature():
    q, keys = rand(3, 4, seed=8), rand(6, 4, seed=9)
    loss = multi_positive_nce(q.float(), keys.float(), torch.eye(3, 6, dtype=torch.bool), temperature=1e-4)
    assert torch.isfinite(loss)


def test_mean_log_is_at_least_log_sum_plus_log_positives_and_equal_with_one_positive():
    q, keys = rand(5, 6, seed=60), rand(10, 6, seed=61)
    mask = rand(5, 10, seed=62) > 0.3
    mask[:, 0] = True
    for i in range(5):
        one = mask[i:i + 1]
        gap = float(multi_positive_nce(q[i:i + 1], keys, one, 0.2, "mean_log")
                    - multi_positive_nce(q[i:i + 1], keys, one, 0.2, "log_sum"))
        assert gap >= math.log(int(one.sum())) - 1e-12
    eye = torch.eye(5, 10, dtype=torch.bool)
    torch.testing.assert_close(multi_positive_nce(q, keys, eye, 0.2, "mean_log"),
                               multi_positive_nce(q, keys, eye, 0.2, "log_sum"))


@pytest.mark.parametrize("with_queue", [False, True])
@pytest.mark.parametrize("form", NCE_FORMS)
def test_uber_nce_matches_loop_with_label_positives(with_queue, form):
    q, k, tau = rand(6, 4, seed=10), rand(6, 4, seed=11), 0.2
    labels = torch.tensor([0, 1, 0, 2, 1, 2])
    queue, queue_labels = (rand(5, 4, seed=12), torch.tensor([2, 0, 3, 1, 0])) if with_queue else (None, None)
    keys = k if queue is None else torch.cat([k, queue])
    key_labels = labels.tolist() + ([] if queue_labels is None else queue_labels.tolist())
    positives = [[n for n, lab in enumerate(key_labels) if lab == labels[i]] for i in range(6)]
    assert all(len(p) > 1 for p in positives)                      # really several positives
    got = uber_nce(q, k, labels, tau, queue=queue, queue_labels=queue_labels, form=form)
    assert float(got) == pytest.approx(LOOPS[form](q, keys, positives, tau), rel=1e-10)


# ----------------------------------------------------------------------------- the authors' formulas (CoCLR code)
#
# CoCLR's code (TengdaHan/CoCLR) scores a query against [its own key, the queue]: logits (B, 1 + K), the own
# key in column 0, and a positive mask of the same shape. Its UberNCE training (main_nce.py, --model ubernce)
# uses the mean over positives of -log softmax; its CoCLR training (main_coclr.py, multi_nce_loss) uses
# -log of the summed softmax over positives. The kit also scores the other batch keys, so with B = 1 the
# layouts coincide: the batch mean of the authors' loss is the mean of the kit's one-row losses.

def authors_row_logits(qi, ki, queue, tau):
    """[s(q_i, k_i), s(q_i, queue_0), ...], the authors' (1 + K) logits of one row."""
    u = unit(qi)
    return [dot(u, unit(ki)) / tau] + [dot(u, unit(queue[m])) / tau for m in range(queue.shape[0])]


def authors_ubernce(logits, masks):
    """main_nce.py: mean over the batch of -(log_softmax * mask).sum(1) / mask.sum(1)."""
    total = 0.0
    for s, mask in zip(logits, masks):
        log_z = math.log(sum(math.exp(x) for x in s))
        total += -sum(x - log_z for x, m in zip(s, mask) if m) / sum(mask)
    return total / len(logits)


def authors_multi_nce(logits, masks):
    """main_coclr.py multi_nce_loss: mean over the batch of -log (softmax * mask).sum(1)."""
    total = 0.0
    for s, mask in zip(logits, masks):
        z = sum(math.exp(x) for x in s)
        total += -math.log(sum(math.exp(x) / z for x, m in zip(s, mask) if m))
    return total / len(logits)


def authors_coclr_mask(mined_rows, drop):
    """main_coclr.py: mask = [1, mined]; if the step's draw says so, mask[mask_sum != 1, 0] = 0."""
    masks = []
    for mined in mined_rows:
        mask = [True] + list(mined)
        if drop and sum(mask) != 1:
            mask[0] = False
        masks.append(mask)
    return masks


@pytest.mark.parametrize("form", NCE_FORMS)
def test_uber_nce_forms_are_the_authors_formulas(form):
    """mean_log = the authors' UberNCE (main_nce.py), log_sum = their CoCLR loss on the same mask (main_coclr.py)."""
    b, n_queue, tau = 7, 13, 0.1
    q, k, queue = rand(b, 6, seed=63), rand(b, 6, seed=64), rand(n_queue, 6, seed=65)
    gen = torch.Generator().manual_seed(66)
    labels, queue_labels = torch.randint(0, 3, (b,), generator=gen), torch.randint(0, 3, (n_queue,), generator=gen)
    logits = [authors_row_logits(q[i], k[i], queue, tau) for i in range(b)]
    masks = [[True] + (queue_labels == labels[i]).tolist() for i in range(b)]
    assert sum(map(sum, masks)) > 2 * b                                  # several positives per row
    expected = (authors_ubernce if form == "mean_log" else authors_multi_nce)(logits, masks)
    rows = [uber_nce(q[i:i + 1], k[i:i + 1], labels[i:i + 1], tau, queue, queue_labels, form=form) for i in range(b)]
    assert float(torch.stack(rows).mean()) == pytest.approx(expected, rel=1e-12, abs=1e-12)


def test_uber_nce_default_form_is_the_authors_mean_log():
    q, k, queue = rand(6, 4, seed=67), rand(6, 4, seed=68), rand(5, 4, seed=69)
    labels, queue_labels = torch.tensor([0, 1, 0, 2, 1, 2]), torch.tensor([2, 0, 3, 1, 0])
    default = uber_nce(q, k, labels, 0.2, queue, queue_labels)
    torch.testing.assert_close(default, uber_nce(q, k, labels, 0.2, queue, queue_labels, form="mean_log"))
    assert float(default) > float(uber_nce(q, k, labels, 0.2, queue, queue_labels, form="log_sum")) + 0.5
    assert inspect.signature(uber_nce).parameters["form"].default == "mean_log"


def coclr_case():
    """4 rows, queue of 6; row 1 has no mined positive (it must keep its own key under any draw)."""
    q, k, queue, tau = rand(4, 5, seed=70), rand(4, 5, seed=71), rand(6, 5, seed=72), 0.2
    mined = [[1, 4], [], [0, 2, 5], [3]]
    mask = torch.zeros(4, 6, dtype=torch.bool)
    for i, ms in enumerate(mined):
        mask[i, ms] = True
    return q, k, queue, tau, mined, mask


@pytest.mark.parametrize("prob", [1.0, 0.0, 1, 0])
def test_coclr_loss_self_drop_deterministic_cases_match_the_authors(prob):
    q, k, queue, tau, mined, mask = coclr_case()
    drop = prob == 1
    state = torch.get_rng_state()
    got = coclr_loss(q, k, queue, mask, tau, drop_self_prob=prob)
    assert torch.equal(torch.get_rng_state(), state)                     # no draw when the outcome is certain
    # the kit's layout [k; queue]: own key i, then queue row m at column B + m; row 1 keeps its own key
    positives = [([] if drop and ms else [i]) + [4 + m for m in ms] for i, ms in enumerate(mined)]
    assert positives[1] == [1] and (not drop or positives[0] == [5, 8])
    assert float(got) == pytest.approx(loop_multi_positive(q, torch.cat([k, queue]), positives, tau), rel=1e-10)
    # the authors' layout and rule, row by row
    logits = [authors_row_logits(q[i], k[i], queue, tau) for i in range(4)]
    expected = authors_multi_nce(logits, authors_coclr_mask(mask.tolist(), drop))
    rows = [coclr_loss(q[i:i + 1], k[i:i + 1], queue, mask[i:i + 1], tau, drop_self_prob=prob) for i in range(4)]
    assert float(torch.stack(rows).mean()) == pytest.approx(expected, rel=1e-12, abs=1e-12)


def test_coclr_loss_rows_without_mined_positives_keep_their_own_key():
    q, k, queue, tau, _, mask = coclr_case()
    row = slice(1, 2)                                                    # no mined positive
    torch.testing.assert_close(coclr_loss(q[row], k[row], queue, mask[row], tau, drop_self_prob=1.0),
                               info_nce(q[row], k[row], tau, queue=queue))
    none = torch.zeros(4, 6, dtype=torch.bool)                           # nothing mined (queue not full yet)
    torch.testing.assert_close(coclr_loss(q, k, queue, none, tau, drop_self_prob=1.0), info_nce(q, k, tau, queue=queue))


def test_coclr_loss_default_draws_once_per_call_from_torch_rng_with_the_authors_0_9():
    q, k, queue, tau, _, mask = coclr_case()
    assert inspect.signature(coclr_loss).parameters["drop_self_prob"].default == 0.9
    dropped, kept = (coclr_loss(q, k, queue, mask, tau, drop_self_prob=p) for p in (1.0, 0.0))
    outcomes = []
    for seed in range(40):
        torch.manual_seed(seed)
        u, after = torch.rand(()), torch.rand(())                        # the draw, and the next one
        torch.manual_seed(seed)
        got = coclr_loss(q, k, queue, mask, tau)                          # default: drop when u < 0.9
        torch.testing.assert_close(got, dropped if u < 0.9 else kept, rtol=0, atol=0)
        assert torch.equal(torch.rand(()), after)                         # exactly one draw consumed
        outcomes.append(bool(u < 0.9))
    assert 25 <= sum(outcomes) < 40                                       # both outcomes occur, mostly drops
    # the draw is shared by all rows: the whole batch drops or keeps, never a mix
    assert float(dropped) != pytest.approx(float(kept))


def test_coclr_loss_draws_from_a_given_generator():
    q, k, queue, tau, _, mask = coclr_case()
    dropped, kept = (coclr_loss(q, k, queue, mask, tau, drop_self_prob=p) for p in (1.0, 0.0))
    state = torch.get_rng_state()
    for seed in range(10):
        u = torch.rand((), generator=torch.Generator().manual_seed(seed))
        got = coclr_loss(q, k, queue, mask, tau, drop_self_prob=0.5, generator=torch.Generator().manual_seed(seed))
        torch.testing.assert_close(got, dropped if u < 0.5 else kept, rtol=0, atol=0)
    assert torch.equal(torch.get_rng_state(), state)                     # the global RNG is untouched


def test_coclr_loss_matches_loop():
    q, k, queue, tau = rand(3, 4, seed=13), rand(3, 4, seed=14), rand(6, 4, seed=15), 0.1
    mined = [[1, 4], [], [0, 2, 5]]
    mask = torch.zeros(3, 6, dtype=torch.bool)
    for i, ms in enumerate(mined):
        mask[i, ms] = True
    positives = [[i] + [3 + m for m in ms] for i, ms in enumerate(mined)]   # k_i, then queue rows after B
    got = coclr_loss(q, k, queue, mask, temperature=tau, drop_self_prob=0.0)   # keep k_i (see the self-drop tests)
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
        return coclr_loss(q, k, rand(6, 8, seed=30), mask, drop_self_prob=1.0)

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
        with pytest.raises(ValueError, match=r"temperature must be a finite number in \(0, inf\), got "):
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
    for bad in (-0.1, 1.5, float("nan"), True, "0.9", None):
        with pytest.raises(ValueError, match=r"drop_self_prob must be a number in \[0, 1\]"):
            coclr_loss(q, k, keys, torch.zeros(3, 5, dtype=torch.bool), drop_self_prob=bad)
    with pytest.raises(TypeError, match="generator must be a torch.Generator or None"):
        coclr_loss(q, k, keys, torch.zeros(3, 5, dtype=torch.bool), generator=0)
    for bad in ("supcon", "LOG_SUM", None):
        with pytest.raises(ValueError, match=r"form must be one of \('log_sum', 'mean_log'\)"):
            uber_nce(q, k, torch.arange(3), form=bad)
        with pytest.raises(ValueError, match=r"form must be one of"):
            multi_positive_nce(q, keys, torch.ones(3, 5, dtype=torch.bool), form=bad)


# ----------------------------------------------------------------------------- HowTo100M's max-margin loss

def howto100m_max_margin(sim, margin):
    """HowTo100M's MaxMarginRankingLoss (loss.py, default options), one entry at a time: the two hinge
    matrices relu(m + x_ij - x_ii) and relu(m + x_ij - x_jj), added, then .mean() over the B x B entries."""
    x = sim.tolist()
    b = len(x)
    total = sum(max(0.0, margin + x[i][j] - x[i][i]) + max(0.0, margin + x[i][j] - x[j][j])
                for i in range(b) for j in range(b))
    return total / (b * b)


@pytest.mark.parametrize("b", [2, 3, 8])
@pytest.mark.parametrize("margin", [0.0, 0.1, 0.5])
def test_max_margin_ranking_is_howto100m_up_to_scale_and_shift(b, margin):
    """L_ref = (B - 1) / B * L + 2m / B exactly (the docstring's relation), on random similarity matrices."""
    for seed in range(3):
        sim = torch.tanh(rand(b, b, seed=80 + seed))
        ours = float(max_margin_ranking(sim, margin))
        assert howto100m_max_margin(sim, margin) == pytest.approx((b - 1) / b * ours + 2 * margin / b, rel=1e-12, abs=1e-15)


def test_max_margin_ranking_docstring_states_the_howto100m_relation():
    doc = " ".join(max_margin_ranking.__doc__.split())
    assert "L_ref = 1/B^2 sum_{i,j}" in doc and "= (B - 1) / B * L + 2m / B" in doc
    assert "(B - 1) / (2B)" not in doc and "2 B^2`` single hinges" not in doc
