"""vidkit.eval.retrieval: first-hit ranks with ties counted against the query, R@k / MedR / chance levels,
batched top-k search, relevance matrices and compositional (held-out pair) splits."""

import itertools
import math
import os
import sys

import numpy as np
import pytest
import torch

from vidkit.eval.retrieval import (
    TIE_ULPS,
    FaissIndex,
    _top_k_stable,
    cosine_scores,
    first_hit_ranks,
    heldout_pairs,
    instance_relevance,
    neighbour_recall,
    retrieval_metrics,
    search,
    semantic_relevance,
    split_by_pairs,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")


# ----------------------------------------------------------------------------- ranks and ties

def loop_rank(scores, relevant):
    """Brute force: the worst position the best relevant item can take when ties are ordered against it."""
    best = max(s for s, r in zip(scores, relevant) if r)
    return 1 + sum(1 for s, r in zip(scores, relevant) if not r and s >= best)


def test_a_tie_does_not_help():
    scores = torch.tensor([[0.5, 0.5, 0.5, 0.5, 0.1, 0.9],
                           [0.3, 0.3, 0.3, 0.3, 0.3, 0.3],
                           [0.2, 0.9, 0.1, 0.0, 0.0, 0.0]])
    relevant = torch.zeros(3, 6, dtype=torch.bool)
    relevant[0, 0] = relevant[1, 2] = relevant[2, 1] = True
    # query 0: one clip above and 3 tied with the true one -> rank 5; the tie alone would give 4
    assert first_hit_ranks(scores, relevant).tolist() == [5, 6, 1]
    tied = torch.tensor([[0.5, 0.5, 0.5, 0.5, 0.1]])
    assert first_hit_ranks(tied, torch.tensor([[True, False, False, False, False]])).tolist() == [4]
    g = 9
    assert first_hit_ranks(torch.zeros(1, g), torch.eye(g, dtype=torch.bool)[:1]).tolist() == [g]


def test_first_hit_ranks_matches_loop_with_many_ties_and_several_relevant():
    rng = np.random.default_rng(0)
    scores = rng.integers(0, 4, size=(50, 12)).astype(np.float32)     # coarse scores: ties everywhere
    relevant = rng.random((50, 12)) < 0.2
    relevant[np.arange(50), rng.integers(0, 12, 50)] = True
    got = first_hit_ranks(scores, relevant)
    assert got.dtype == torch.long and got.shape == (50,)
    assert got.tolist() == [loop_rank(s, r) for s, r in zip(scores.tolist(), relevant.tolist())]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_a_near_tie_from_float_rounding_counts_as_a_tie(dtype):
    """A wrong item 1 ulp below the right one is a tie (rank 2); a real difference is not."""
    best = torch.tensor(0.7, dtype=dtype)
    one_ulp_below = torch.nextafter(best, torch.tensor(0.0, dtype=dtype))
    few_ulps_below = best * (1 - TIE_ULPS / 2 * torch.finfo(dtype).eps)
    clearly_below = best - 1e-4
    scores = torch.stack([torch.stack([best, one_ulp_below, torch.tensor(0.2, dtype=dtype)]),
                          torch.stack([best, few_ulps_below, torch.tensor(0.2, dtype=dtype)]),
                          torch.stack([best, clearly_below, torch.tensor(0.2, dtype=dtype)])])
    relevant = torch.tensor([[True, False, False]] * 3)
    assert first_hit_ranks(scores, relevant).tolist() == [2, 2, 1]
    assert first_hit_ranks(scores, relevant, tie_rtol=0).tolist() == [1, 1, 1]       # exact ties only
    assert retrieval_metrics(scores, relevant, ks=(1,))["R@1"] == pytest.approx(1 / 3)
    # the tolerance is relative to the row's largest |score|: the same scores x 1000 tie the same way
    assert first_hit_ranks(scores * 1000, relevant).tolist() == [2, 2, 1]
    # half-precision scores are ranked as float32
    assert first_hit_ranks(scores.half(), relevant).tolist()[2] == 1


def test_identical_embeddings_rounded_apart_by_the_matmul_still_tie():
    """Gallery: 200 clips x_i (each the one right answer for its query) and a scaled copy c * x_i of each
    (a wrong answer with the same cosine). Normalising and the matmul round the copies' scores a few ulps
    apart from the originals', either way; every query must still get rank 2, never 1."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((200, 16))
    queries = x + 0.3 * rng.standard_normal((200, 16))
    gallery = np.concatenate([x, x * np.resize([3.0, 7.0, 0.1, 1 / 3, 11.0], 200)[:, None]])
    relevant = instance_relevance(np.arange(200), 400)
    for dtype in (torch.float32, torch.float64):
        scores = cosine_scores(torch.from_numpy(queries).to(dtype), torch.from_numpy(gallery).to(dtype))
        gap = scores[range(200), range(200)] - scores[range(200), range(200, 400)]
        assert (gap != 0).any(), "no score was rounded apart from its copy's: the test needs a near-tie"
        assert gap.abs().max() < TIE_ULPS * torch.finfo(dtype).eps
        assert first_hit_ranks(scores, relevant).tolist() == [2] * 200
        assert retrieval_metrics(scores, relevant, ks=(1, 2))["R@1"] == 0.0
        assert first_hit_ranks(scores, relevant, tie_rtol=0).min() == 1              # exact rule: lucky hits


def test_first_hit_ranks_do_not_depend_on_gallery_order():
    rng = np.random.default_rng(1)
    scores = rng.integers(0, 3, size=(30, 9)).astype(np.float64) / 3      # many exact ties
    relevant = rng.random((30, 9)) < 0.3
    relevant[np.arange(30), rng.integers(0, 9, 30)] = True
    want = first_hit_ranks(scores, relevant).tolist()
    for _ in range(5):
        perm = rng.permutation(9)
        assert first_hit_ranks(scores[:, perm], relevant[:, perm]).tolist() == want


def test_minus_inf_marks_an_item_out_of_the_gallery():
    scores = torch.tensor([[0.5, -math.inf, 0.1, 0.5], [-math.inf, 0.3, 0.3, 0.9]])
    relevant = torch.tensor([[True, False, False, False], [False, True, False, False]])
    assert first_hit_ranks(scores, relevant).tolist() == [2, 3]
    with pytest.raises(ValueError, match="tie_rtol"):
        first_hit_ranks(scores, relevant, tie_rtol=-1.0)
    with pytest.raises(ValueError, match=r"tie_rtol must be a finite number in \[0, inf\) \(0 = exact ties only\) or None, got .0. \(str\)"):
        first_hit_ranks(scores, relevant, tie_rtol="0")


def test_first_hit_ranks_validates():
    with pytest.raises(ValueError, match=r"no relevant gallery item.*\[1\]"):
        first_hit_ranks(torch.zeros(2, 3), torch.tensor([[True, False, False], [False, False, False]]))
    with pytest.raises(TypeError, match="bool"):
        first_hit_ranks(torch.zeros(2, 3), torch.ones(2, 3))
    with pytest.raises(ValueError, match=r"shape of scores \(Q, G\) = \(2, 3\)"):
        first_hit_ranks(torch.zeros(2, 3), torch.ones(2, 4, dtype=torch.bool))
    with pytest.raises(ValueError, match="NaN"):
        first_hit_ranks(torch.tensor([[float("nan"), 0.0]]), torch.tensor([[True, False]]))
    with pytest.raises(ValueError, match=r"\(Q, G\)"):
        first_hit_ranks(torch.zeros(3), torch.ones(3, dtype=torch.bool))


# ----------------------------------------------------------------------------- metrics

def test_retrieval_metrics_on_a_hand_computed_example():
    # ranks: q0 -> 1, q1 -> 3 (two above), q2 -> 2 (one tie), q3 -> 6 (all equal, G = 6)
    scores = torch.tensor([[0.9, 0.1, 0.2, 0.3, 0.0, 0.0],
                           [0.1, 0.8, 0.7, 0.5, 0.2, 0.0],
                           [0.4, 0.4, 0.1, 0.0, 0.0, 0.0],
                           [0.5, 0.5, 0.5, 0.5, 0.5, 0.5]])
    relevant = torch.zeros(4, 6, dtype=torch.bool)
    relevant[0, 0] = relevant[1, 3] = relevant[2, 1] = relevant[3, 5] = True
    assert first_hit_ranks(scores, relevant).tolist() == [1, 3, 2, 6]
    m = retrieval_metrics(scores, relevant, ks=(1, 2, 5))
    assert m["R@1"] == 0.25 and m["R@2"] == 0.5 and m["R@5"] == 0.75
    assert m["MedR"] == 2.5 and m["MeanR"] == 3.0
    assert m["chance@1"] == pytest.approx(1 / 6) and m["chance@5"] == pytest.approx(5 / 6)
    assert m["chance_MeanR"] == pytest.approx(3.5)
    assert list(m) == ["R@1", "R@2", "R@5", "MedR", "MeanR", "chance@1", "chance@2", "chance@5", "chance_MeanR"]


@pytest.mark.parametrize("g,n,k", [(5, 1, 2), (5, 2, 2), (6, 3, 1), (6, 2, 4), (5, 4, 2)])
def test_chance_levels_are_the_exact_expectation_over_random_orders(g, n, k):
    """Average R@k and first-hit rank over ALL g! orders of the scores = chance@k and chance_MeanR."""
    relevant = torch.zeros(1, g, dtype=torch.bool)
    relevant[0, :n] = True
    hits, ranks, count = 0.0, 0.0, 0
    for order in itertools.permutations(range(g)):
        scores = torch.tensor([order], dtype=torch.float64)
        rank = int(first_hit_ranks(scores, relevant)[0])
        hits += rank <= k
        ranks += rank
        count += 1
    m = retrieval_metrics(torch.zeros(1, g), relevant, ks=(k,))
    assert m[f"chance@{k}"] == pytest.approx(hits / count, rel=1e-12)
    assert m["chance_MeanR"] == pytest.approx(ranks / count, rel=1e-12)
    assert m[f"chance@{k}"] == pytest.approx(1 - math.comb(g - n, k) / math.comb(g, k))


def test_retrieval_metrics_validates_ks():
    scores, relevant = torch.zeros(2, 4), torch.eye(2, 4, dtype=torch.bool)
    with pytest.raises(ValueError, match=r"1\.\.4"):
        retrieval_metrics(scores, relevant, ks=(1, 5))
    with pytest.raises(TypeError, match="ks"):
        retrieval_metrics(scores, relevant, ks=())
    m = retrieval_metrics(scores.numpy(), relevant.numpy(), ks=(1, 4))     # numpy works too
    assert m["R@1"] == 0.0 and m["R@4"] == 1.0 and m["MedR"] == 4.0


# ----------------------------------------------------------------------------- search

@pytest.mark.parametrize("center", [False, True])
def test_search_equals_a_full_sort(center):
    gen = torch.Generator().manual_seed(0)
    q, g = torch.randn(37, 16, generator=gen), torch.randn(500, 16, generator=gen) + 0.5
    scores, idx = search(q, g, k=10, batch=8, center=center)
    assert scores.shape == (37, 10) and idx.shape == (37, 10) and idx.dtype == torch.long
    if center:
        mu = g.mean(dim=0, keepdim=True)
        q, g = q - mu, g - mu
    full = torch.nn.functional.normalize(q, dim=1) @ torch.nn.functional.normalize(g, dim=1).T
    order = torch.argsort(full, dim=1, descending=True)[:, :10]
    assert torch.equal(idx, order)
    torch.testing.assert_close(scores, torch.gather(full, 1, order))


@pytest.mark.parametrize("center", [False, True])
def test_cosine_scores_are_what_search_ranks(center):
    gen = torch.Generator().manual_seed(1)
    q, g = torch.randn(9, 5, generator=gen), torch.randn(40, 5, generator=gen) + 1.0
    full = cosine_scores(q, g, center=center)
    assert full.shape == (9, 40) and full.dtype == torch.float32
    scores, idx = search(q, g, k=6, center=center)
    assert torch.equal(scores, torch.gather(full, 1, idx))
    assert cosine_scores(q.double(), g, center=center).dtype == torch.float64
    # a row equal to the gallery mean is a zero vector after centring: it scores 0 against everything
    assert torch.equal(cosine_scores(g.mean(dim=0, keepdim=True), g, center=True), torch.zeros(1, 40))


def test_search_ties_keep_gallery_order_and_exclude_self():
    # gallery rows 1, 2 and 4 point the same way as the query: equal scores, returned in gallery order
    g = torch.tensor([[0.0, 1.0], [1.0, 0.0], [2.0, 0.0], [1.0, 1.0], [3.0, 0.0]])
    scores, idx = search(torch.tensor([[5.0, 0.0]]), g, k=4)
    assert idx.tolist() == [[1, 2, 4, 3]]
    torch.testing.assert_close(scores[0, :3], torch.ones(3))
    # querying the gallery with itself: item i is never its own neighbour
    _, idx = search(g, g, k=4, exclude_self=True)
    assert all(i not in row for i, row in enumerate(idx.tolist()))
    assert idx[1].tolist()[:2] == [2, 4]          # its exact twins first, in gallery order
    with pytest.raises(ValueError, match=r"k must be an int in 1\.\.4, got 5"):
        search(g, g, k=5, exclude_self=True)
    with pytest.raises(ValueError, match="Q == G"):
        search(g[:2], g, exclude_self=True)


def test_search_validates():
    with pytest.raises(ValueError, match="same D"):
        search(torch.zeros(2, 3), torch.zeros(5, 4))
    with pytest.raises(ValueError, match=r"k must be an int in 1\.\.5, got 6"):
        search(torch.zeros(2, 3), torch.zeros(5, 3), k=6)
    with pytest.raises(ValueError, match=r"\(N, D\)"):
        search(torch.zeros(3), torch.zeros(5, 3))
    with pytest.raises(TypeError, match="float"):
        search(torch.zeros(2, 3, dtype=torch.long), torch.zeros(5, 3))


# ----------------------------------------------------------------------------- relevance

def test_semantic_and_instance_relevance():
    gd, ga = np.array([7, 7, 3, 3, 7]), np.array([0, 4, 0, 0, 0])
    rel = semantic_relevance([7, 3, -1, 7], [0, 0, 0, -1], gd, ga)
    assert rel.dtype == torch.bool
    assert rel.tolist() == [[True, False, False, False, True],        # "a 7 moves left"
                            [False, False, True, True, False],        # "a 3 moves left"
                            [True, False, True, True, True],          # "something moves left"
                            [True, True, False, False, True]]         # "a 7 does something"
    inst = instance_relevance(torch.tensor([4, 0]), 5)
    assert inst.tolist() == [[False, False, False, False, True], [True, False, False, False, False]]
    with pytest.raises(ValueError, match=r"0\.\.4"):
        instance_relevance([5], 5)
    with pytest.raises(ValueError, match=r"\(Q,\)"):
        semantic_relevance([1, 2], [0], gd, ga)


# ----------------------------------------------------------------------------- held-out compositions

@pytest.mark.parametrize("num_digits,actions,n", [(10, 8, 8), (10, 8, 20), (10, 8, 70), (3, 5, 10), (4, 4, 12)])
def test_heldout_pairs_leave_every_digit_and_action_in_training(num_digits, actions, n):
    pairs = heldout_pairs(num_digits, actions, n, seed=3)
    assert len(pairs) == len(set(pairs)) == n
    assert all(0 <= d < num_digits and 0 <= a < actions for d, a in pairs)
    seen = {(d, a) for d in range(num_digits) for a in range(actions)} - set(pairs)
    assert {d for d, _ in seen} == set(range(num_digits))
    assert {a for _, a in seen} == set(range(actions))
    assert max(sum(a == x for _, a in pairs) for x in range(actions)) <= math.ceil(n / actions)


def test_heldout_pairs_is_seeded_and_bounded():
    assert heldout_pairs(seed=0) == heldout_pairs(seed=0) != heldout_pairs(seed=1)
    default = heldout_pairs()
    assert sorted(a for _, a in default) == list(range(8)) and len({d for d, _ in default}) == 8
    with pytest.raises(ValueError, match=r"0\.\.70"):
        heldout_pairs(10, 8, 71)


def test_split_by_pairs_is_disjoint_and_covers_every_clip():
    rng = np.random.default_rng(0)
    digits, actions = rng.integers(0, 10, 2000), rng.integers(0, 8, 2000)
    pairs = heldout_pairs(n=8, seed=2)
    seen, held = split_by_pairs(digits, actions, pairs)
    assert seen.dtype == bool and held.dtype == bool and seen.shape == held.shape == (2000,)
    assert not (seen & held).any() and (seen | held).all()
    in_pairs = np.array([(d, a) in set(pairs) for d, a in zip(digits.tolist(), actions.tolist())])
    assert np.array_equal(held, in_pairs)
    seen_pairs = set(zip(digits[seen].tolist(), actions[seen].tolist()))
    assert not seen_pairs & set(pairs)
    assert {d for d, _ in seen_pairs} == set(range(10)) and {a for _, a in seen_pairs} == set(range(8))
    with pytest.raises(ValueError, match="both be"):
        split_by_pairs(digits, actions[:5], pairs)
    with pytest.raises(ValueError, match="tuple"):
        split_by_pairs(digits, actions, [(1, 2, 3)])


def stable_top_k(query, gallery, k, batch, center=False, exclude_self=False):
    """search's documented result, spelled out: per batch of queries, the block of cosine_scores (diagonal
    masked for exclude_self), fully and stably sorted, first k columns."""
    values, indices = [], []
    for lo in range(0, len(query), batch):
        block = cosine_scores(query[lo:lo + batch], gallery, center=center)
        if exclude_self:
            block.diagonal(lo).fill_(-math.inf)
        order = torch.sort(block, dim=1, descending=True, stable=True)
        values.append(order.values[:, :k])
        indices.append(order.indices[:, :k])
    return torch.cat(values), torch.cat(indices)


@pytest.mark.parametrize("center,exclude_self", [(False, False), (True, False), (False, True), (True, True)])
def test_search_matches_a_stable_full_sort_with_many_ties(center, exclude_self):
    # quantised embeddings: many exactly equal scores, within the top k and across the k-th place, and
    # duplicate gallery rows (every row of a 3-d {-1, 0, 1} gallery of 300 occurs about 11 times)
    gen = torch.Generator().manual_seed(3)
    g = torch.randint(-1, 2, (300, 3), generator=gen).float()
    q = g if exclude_self else torch.randint(-1, 2, (40, 3), generator=gen).float() + 0.01
    for k in (1, 7, 50, 299):
        for batch in (16, 1024):                                  # several batches, and one
            scores, idx = search(q, g, k=k, batch=batch, center=center, exclude_self=exclude_self)
            expect_scores, expect_idx = stable_top_k(q, g, k, batch, center, exclude_self)
            assert torch.equal(idx, expect_idx) and torch.equal(scores, expect_scores)
            assert scores.is_contiguous() and idx.is_contiguous() and idx.dtype == torch.long
    # and the cosines are the plain ones: normalised rows, one matmul (up to float rounding)
    full = torch.nn.functional.normalize(q, dim=1) @ torch.nn.functional.normalize(g, dim=1).T
    torch.testing.assert_close(cosine_scores(q, g), full)


def test_top_k_stable_takes_each_path_like_a_full_stable_sort():
    """_top_k_stable on hand-made blocks: no ties (topk's answer as is), ties inside the top k only (reordered by
    column), a tie straddling the k-th place (that row fully sorted), NaN, k = G."""
    block = torch.tensor([[0.1, 0.9, 0.5, 0.3, 0.7],        # no ties
                          [0.5, 0.9, 0.2, 0.1, 0.9],        # a tie inside the top 3 only
                          [0.2, 0.5, 0.9, 0.5, 0.5],        # 0.5 three times straddles places 2..4
                          [0.3, math.nan, 0.3, math.nan, 0.1]])
    for k in (1, 2, 3, 5):
        values, index = _top_k_stable(block, k)
        order = torch.sort(block, dim=1, descending=True, stable=True)
        assert torch.equal(index, order.indices[:, :k])
        torch.testing.assert_close(values, order.values[:, :k], equal_nan=True)
    assert _top_k_stable(block, 3)[1].tolist() == [[1, 4, 2], [1, 4, 0], [2, 1, 3], [1, 3, 0]]
    rng = np.random.default_rng(0)                          # random small-integer blocks: ties everywhere
    for _ in range(20):
        b = torch.from_numpy(rng.integers(0, 4, size=(30, 25)).astype(np.float32))
        for k in (1, 4, 24, 25):
            order = torch.sort(b, dim=1, descending=True, stable=True)
            values, index = _top_k_stable(b, k)
            assert torch.equal(index, order.indices[:, :k]) and torch.equal(values, order.values[:, :k])


def test_search_scores_with_gallery_norms_and_keeps_float64():
    # (q / |q|) . g / |g| is the cosine of normalised rows; a zero row scores 0; float64 stays float64
    gen = torch.Generator().manual_seed(5)
    q, g = torch.randn(6, 4, generator=gen, dtype=torch.float64), torch.randn(30, 4, generator=gen)
    g[3] = 0.0
    scores, idx = search(q, g, k=30)
    assert scores.dtype == torch.float64
    expect = torch.nn.functional.normalize(q, dim=1) @ torch.nn.functional.normalize(g.double(), dim=1).T
    torch.testing.assert_close(scores, torch.gather(expect, 1, idx))
    assert (scores[idx == 3] == 0).all()


# ----------------------------------------------------------------------------- approximate search (faiss)

@pytest.fixture
def one_faiss_thread():
    """faiss on one OpenMP thread (tiny indexes; threads would only wait for each other), restored afterwards.
    Without faiss (an optional extra) the test is skipped, but fails under CI=true: CI installs .[dev], which
    includes faiss-cpu, so there these tests must not silently vanish."""
    try:
        import faiss
    except ImportError as err:
        if os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}:
            pytest.fail(f"faiss is not importable ({err}); CI installs it with .[dev]", pytrace=False)
        pytest.skip(f"faiss is not installed (pip install vidkit[faiss]): {err}")
    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    yield
    faiss.omp_set_num_threads(before)


def clustered(n, d, clusters, gen, spread=1.0):
    """n embeddings around `clusters` random centres (noise as large as a centre, per coordinate): the easy
    case for an approximate index, and the realistic one (learned embeddings cluster)."""
    centres = torch.randn(clusters, d, generator=gen)
    return centres[torch.randint(0, clusters, (n,), generator=gen)] + spread * torch.randn(n, d, generator=gen)


@pytest.mark.parametrize("kind", ["hnsw", "ivf", "flat"])
def test_faiss_index_recall_against_exact_search(kind, one_faiss_thread):
    gen = torch.Generator().manual_seed(0)
    x = clustered(3100, 32, 30, gen) + 2.0                 # an offset that only centring removes
    gallery, queries = x[:3000], x[3000:]
    for center in (False, True):
        index = FaissIndex(gallery, kind, center=center)
        scores, idx = index.search(queries, k=10)
        exact_scores, exact_idx = search(queries, gallery, k=10, center=center)
        # a clustered gallery: the approximate indexes find nearly all of the exact top 10 (bench_retrieval.py)
        assert neighbour_recall(idx, exact_idx) >= (0.99 if kind == "flat" else 0.9), (kind, center)
        if kind == "flat":                                  # exact: the same cosines, float32 rounding aside
            torch.testing.assert_close(scores, exact_scores, atol=1e-5, rtol=0)


def test_faiss_index_output_format_and_missing_places(one_faiss_thread):
    gen = torch.Generator().manual_seed(1)
    gallery = clustered(400, 8, 10, gen).double()           # float64 in, float32 scores out
    index = FaissIndex(gallery.numpy(), "hnsw", m=8, ef_search=32)
    assert len(index) == 400 and index.dim == 8 and "hnsw" in repr(index)
    scores, idx = index.search(gallery[:5].numpy(), k=7)
    assert scores.shape == idx.shape == (5, 7)
    assert scores.dtype == torch.float32 and idx.dtype == torch.long and scores.device.type == "cpu"
    assert (scores[:, :-1] >= scores[:, 1:]).all()           # highest first
    assert idx[:, 0].tolist() == list(range(5))             # each row finds itself, cosine 1
    torch.testing.assert_close(scores[:, 0], torch.ones(5))
    # an inverted file scanning 1 of 10 cells cannot fill k = G places: index -1, score -inf
    ivf = FaissIndex(gallery, "ivf", nlist=10, nprobe=1)
    scores, idx = ivf.search(gallery[:3], k=400)
    assert (idx == -1).any() and torch.equal(idx == -1, scores == -math.inf)
    ivf.nprobe = 10                                         # query-time setting: all cells, every item
    assert (ivf.search(gallery[:3], k=400)[1] >= 0).all()


def test_faiss_index_validates(one_faiss_thread):
    g = torch.randn(50, 4)
    with pytest.raises(ValueError, match="kind must be 'hnsw', 'ivf' or 'flat'"):
        FaissIndex(g, "lsh")
    with pytest.raises(TypeError, match="float"):
        FaissIndex(torch.zeros(5, 4, dtype=torch.long))
    with pytest.raises(ValueError, match=r"nlist must be an int in 1\.\.50"):
        FaissIndex(g, "ivf", nlist=51)
    with pytest.raises(ValueError, match=r"nprobe must be an int in 1\.\.5 \(at most nlist\)"):
        FaissIndex(g, "ivf", nlist=5, nprobe=6)
    with pytest.raises(ValueError, match="m must be"):
        FaissIndex(g, "hnsw", m=1)
    index = FaissIndex(g, "flat")
    with pytest.raises(ValueError, match=r"\(Q, 4\)"):
        index.search(torch.randn(2, 3))
    with pytest.raises(ValueError, match=r"k must be an int in 1\.\.50"):
        index.search(torch.randn(2, 4), k=51)


def test_faiss_index_without_faiss_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "faiss", None)          # `import faiss` now raises ImportError
    with pytest.raises(ImportError, match=r"pip install vidkit\[faiss\]"):
        FaissIndex(torch.randn(10, 4))


def test_search_reuses_the_normalised_gallery_only_while_the_tensor_is_unchanged():
    """The last gallery's unit rows are kept for the next call on the same tensor; an in-place change, another
    tensor or a centred search never sees them."""
    from vidkit.eval import retrieval as R

    torch.manual_seed(0)
    gallery, queries = torch.randn(50, 8), torch.randn(5, 8)
    first = R.search(queries, gallery, k=3)
    entry = R._LAST_GALLERY["gallery"]
    again = R.search(queries, gallery, k=3)
    assert R._LAST_GALLERY["gallery"][2] is entry[2], "the same gallery: its unit rows are reused"
    assert all(torch.equal(a, b) for a, b in zip(first, again))
    gallery[first[1][0, 0]] = -gallery[first[1][0, 0]]          # in place: the best item of query 0 flips
    changed = R.search(queries, gallery, k=3)
    assert changed[1][0, 0] != first[1][0, 0] and R._LAST_GALLERY["gallery"][2] is not entry[2]
    expected = torch.sort(torch.nn.functional.normalize(queries, dim=1)
                          @ torch.nn.functional.normalize(gallery, dim=1).T, dim=1, descending=True, stable=True)
    assert torch.equal(changed[1], expected.indices[:, :3])
    copy = gallery.clone()
    assert all(torch.equal(a, b) for a, b in zip(R.search(queries, copy, k=3), changed))
    assert R._LAST_GALLERY["gallery"][0]() is copy
    del copy
    assert "gallery" not in R._LAST_GALLERY, "dropping the gallery drops its unit rows"
    R.search(queries, gallery, k=3, center=True)
    assert "gallery" not in R._LAST_GALLERY, "a centred gallery is a new tensor: never kept"


def test_neighbour_recall_is_the_overlap_of_the_top_k_sets():
    exact = torch.tensor([[0, 1, 2], [3, 4, 5]])
    assert neighbour_recall(exact, exact) == 1.0
    assert neighbour_recall(torch.tensor([[2, 1, 9], [8, 7, 6]]), exact) == pytest.approx(2 / 6)
    with pytest.raises(ValueError, match=r"\(Q, k\)"):
        neighbour_recall(exact[:, :2], exact)
