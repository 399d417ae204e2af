"""Text-to-video retrieval: search, relevance, ranks with an honest tie rule, and held-out compositions.

A **query** (a caption's embedding) ranks a **gallery** (clip embeddings) by score, highest first.
Which gallery items count as right answers is a ``(Q, G)`` boolean **relevance** matrix:

* :func:`instance_relevance`: only the clip the caption was written for (instance retrieval, as
  HowTo100M / MSR-VTT evaluate: one true clip per caption);
* :func:`semantic_relevance`: every clip whose content matches everything the caption states (its
  digit and its action), as for the short captions of the actions suite, which fit many clips.

**Ranks and ties.** :func:`first_hit_ranks` gives each query the rank of its best-ranked relevant item::

    rank_q = 1 + #{ g not relevant : score_qg >= max over relevant g' of score_qg' - tol_q }

so a non-relevant item that *ties* with the best relevant one is counted as ranked above it, and so is
one that falls short of it only by float rounding (``tol_q``: ``TIE_ULPS = 16`` eps of the score dtype
times the query's largest ``|score|``; see there). It is the kit's one ranking rule:
:func:`retrieval_metrics`, :func:`vidkit.eval.representation.retrieval_recall` (class-level video -> video recall) and
:func:`vidkit.experiments.text_video.evaluate_text_video` all rank with it, and no result depends on the gallery
order. A tie never helps, and a constant scorer gets the worst possible rank, ``G - n_q + 1`` with
``n_q`` relevant items. The reference HowTo100M / MIL-NCE evaluation (``compute_metrics``: sort the
scores, subtract the true item's score, ``np.where(... == 0)``) does the opposite: it finds *every*
sorted position holding the true score, so a true item tied with 3 others counts as a hit at rank 1
(and the query adds 4 entries to the average). Ties are rare with float embeddings, but not with
collapsed or quantised ones, which is exactly when an optimistic rule flatters a broken model.

**Metrics** (:func:`retrieval_metrics`): ``R@k`` = fraction of queries with ``rank <= k``; ``MedR`` /
``MeanR`` = median / mean rank (lower is better); and the chance levels of a random ranking (see there).

**Search** (:func:`search`): exact cosine top-``k`` over a gallery in query chunks, ties in gallery order,
for interactive use on galleries of tens of thousands of clips; the kit's one exact nearest-neighbour search.
:func:`cosine_scores` gives the full ``(Q, G)`` cosine matrix that search scores with, for ranking.
:class:`FaissIndex` (optional: ``pip install vidkit[faiss]``) is its approximate counterpart for galleries
past a million clips: an HNSW graph or an inverted file over the same normalised rows, which may miss some
true neighbours (its recall against :func:`search` is measured by ``benchmarks/bench_retrieval.py``).

**Moments** (:func:`temporal_iou`, :func:`all_spans`, :func:`moment_recall`): text -> moment retrieval
(TVR, Lei et al. 2020; HERO's downstream task) ranks *(episode, span)* candidates; a candidate is right if it
lies in the query's episode and overlaps the true span with temporal IoU at least a threshold (0.5, 0.7).
Ranks follow the same tie rule (:func:`first_hit_ranks`).

**Compositional generalisation** (:func:`heldout_pairs`, :func:`split_by_pairs`): hold out some
(digit, action) *combinations* from training while every digit and every action is still trained on
in other combinations, then ask whether "a 3 rotating clockwise" is found although the model never saw
a 3 rotate clockwise.

Inputs may be NumPy arrays or torch tensors; relevance matrices and ranks are returned as torch tensors
(CPU), split masks as NumPy arrays (they index :class:`vidkit.data.actions.ActionClips`).
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from vidkit.utils.checks import check_choice, check_int, check_real, check_seed, shape_text

__all__ = [
    "first_hit_ranks",
    "retrieval_metrics",
    "cosine_scores",
    "search",
    "FaissIndex",
    "neighbour_recall",
    "semantic_relevance",
    "instance_relevance",
    "temporal_iou",
    "all_spans",
    "moment_recall",
    "heldout_pairs",
    "split_by_pairs",
]


# ---------------------------------------------------------------------------------------- input checks


def _tensor(a: Any, name: str, what: str) -> torch.Tensor:
    """A NumPy array or torch tensor as a (CPU for NumPy) tensor; anything else is a TypeError."""
    if isinstance(a, torch.Tensor):
        return a.detach()
    if isinstance(a, np.ndarray):
        if a.dtype.kind not in "fiub":
            raise TypeError(f"{name} must be {what}, got dtype {a.dtype}")
        return torch.from_numpy(np.ascontiguousarray(a))
    raise TypeError(f"{name} must be {what} as a torch tensor or numpy array, got {type(a).__name__}")


def _scores(scores: Any, name: str = "scores") -> torch.Tensor:
    s = _tensor(scores, name, "a float (Q, G) score matrix")
    if not s.is_floating_point():
        raise TypeError(f"{name} must be a float (Q, G) score matrix, got {s.dtype}")
    if s.dim() != 2 or min(s.shape) < 1:
        raise ValueError(f"{name} must have shape (Q, G) with Q, G >= 1 (queries x gallery), got {shape_text(s)}")
    if torch.isnan(s).any():
        raise ValueError(f"{name} contains {int(torch.isnan(s).sum())} NaN values; ranks are undefined")
    return s


def _relevance(relevant: Any, shape: tuple[int, int]) -> torch.Tensor:
    r = _tensor(relevant, "relevant", f"a bool {shape} relevance matrix")
    if r.dtype != torch.bool:
        raise TypeError(f"relevant must be a bool tensor {shape} (True = a right answer), got {r.dtype}")
    if tuple(r.shape) != shape:
        raise ValueError(f"relevant must have the shape of scores (Q, G) = {shape}, got {shape_text(r)}")
    missing = (~r.any(dim=1)).nonzero().flatten().tolist()
    if missing:
        raise ValueError(f"{len(missing)} queries have no relevant gallery item, so no rank (query indices "
                         f"{missing[:10]}); drop them or add their clips to the gallery")
    return r


def _labels(a: Any, name: str, allow_wildcard: bool = False) -> torch.Tensor:
    t = _tensor(a if not isinstance(a, list | tuple) else np.asarray(a), name, "(N,) integer labels")
    if t.dtype.is_floating_point or t.dtype == torch.bool or t.dim() != 1:
        raise ValueError(f"{name} must be a 1-D integer array (N,), got {t.dtype} {shape_text(t)}")
    lo = -1 if allow_wildcard else 0
    if len(t) and int(t.min()) < lo:
        raise ValueError(f"{name} must be >= {lo}{' (-1 = not stated in the caption)' if allow_wildcard else ''}, "
                         f"got {int(t.min())}")
    return t.long()




# --------------------------------------------------------------------------------------------- ranking

#: Near-ties: scores closer than ``TIE_ULPS * eps`` of the score dtype, relative to the query's largest
#: ``|score|``, are ties (:func:`first_hit_ranks`). A matmul scores two identical gallery items, or a clip
#: and a scaled copy of it, a few eps apart; 16 leaves a margin (tests/test_retrieval.py checks such copies
#: tie in float32 and float64).
TIE_ULPS = 16


def _tie_rtol(tie_rtol: Any, dtype: torch.dtype) -> float:
    if tie_rtol is None:
        return TIE_ULPS * torch.finfo(dtype).eps
    return check_real("tie_rtol", tie_rtol, 0.0, low_open=False, what=" (0 = exact ties only) or None")


def first_hit_ranks(scores: Any, relevant: Any, *, tie_rtol: float | None = None) -> torch.Tensor:
    """1-based rank of each query's best-ranked relevant gallery item, ties counted **against** the query.

    The kit's one ranking rule: :func:`retrieval_metrics`, :func:`vidkit.eval.representation.retrieval_recall` and
    :func:`vidkit.experiments.text_video.evaluate_text_video` all take their ranks from here.

    ``scores`` ``(Q, G)`` float (higher = better; no NaN; ``-inf`` = not in this query's gallery),
    ``relevant`` ``(Q, G)`` bool with at least one True per row. Returns ``(Q,)`` int64::

        best_q = max_{g relevant} scores[q, g]
        tol_q  = tie_rtol * max_g |scores[q, g]|          (over the finite scores of row q)
        rank_q = 1 + #{ g : not relevant[q, g] and scores[q, g] >= best_q - tol_q }

    Every non-relevant item scoring at least as high as the best relevant one, or lower by at most
    ``tol_q``, counts as ranked above it. Examples: the true item tied with 3 others -> rank 4 (not 1);
    all scores equal with one relevant item -> rank ``G``. Other relevant items never push a query down,
    and the order of the gallery never matters.

    **Near-ties.** Two gallery items with the same embedding should score exactly alike, but a float
    matmul may round their scores apart, by a few ``eps`` of the dtype. So a
    non-relevant score within ``tol_q`` below the best relevant one is a tie too: by default
    ``tie_rtol = TIE_ULPS * eps`` of the scores' dtype (16 eps: 3.6e-15 in float64, 1.9e-6 in float32),
    relative to the row's largest ``|score|`` (about 1 for cosines), so scaling all scores changes
    nothing. Scores that close are not resolved by the arithmetic (a float32 cosine is itself only
    accurate to a few eps), so calling them tied is the honest reading; the price is that a genuinely
    different score that close ties too (rarely: :func:`vidkit.eval.representation.retrieval_recall`
    scores in float64). ``tie_rtol=0`` counts exact ties only. Half-precision scores
    are ranked as float32 (their own, coarser rounding is not absorbed: score in float32 or float64).
    """
    s = _scores(scores)
    if s.dtype in (torch.float16, torch.bfloat16):
        s = s.float()
    rtol = _tie_rtol(tie_rtol, s.dtype)
    r = _relevance(relevant, tuple(s.shape)).to(s.device)
    scale = s.abs().masked_fill(~torch.isfinite(s), 0.0).amax(dim=1, keepdim=True)   # (Q, 1)
    best = s.masked_fill(~r, -math.inf).amax(dim=1, keepdim=True)                    # (Q, 1)
    return (1 + ((s >= best - rtol * scale) & ~r).sum(dim=1)).long().cpu()


def _chance_recall(g: int, n: np.ndarray, k: int) -> np.ndarray:
    """P(at least one of n relevant items in the top k of a uniformly random order of g): 1 - C(g-n, k) / C(g, k)."""
    out = np.empty(len(n))
    for value in np.unique(n):
        miss = math.comb(g - int(value), k) / math.comb(g, k)       # C(a, k) = 0 when a < k
        out[n == value] = 1.0 - miss
    return out


def retrieval_metrics(scores: Any, relevant: Any, ks: Sequence[int] = (1, 5, 10), *,
                      tie_rtol: float | None = None) -> dict[str, float]:
    """Recall at ``k``, median and mean rank, and their chance levels, as fractions / ranks (plain floats).

    ``scores`` ``(Q, G)``, ``relevant`` ``(Q, G)`` bool, ``tie_rtol``: see :func:`first_hit_ranks`, whose
    tie rule applies (ties and near-ties count against the query). Every metric below comes from those
    ranks. With ``rank_q`` the first-hit rank and ``n_q`` the number of relevant items of query ``q``::

        R@k          = 1/Q sum_q [rank_q <= k]
        MedR         = median_q rank_q          (numpy's median: the mean of the two middle ranks if Q is even)
        MeanR        = 1/Q sum_q rank_q
        chance@k     = 1/Q sum_q ( 1 - C(G - n_q, k) / C(G, k) )
        chance_MeanR = 1/Q sum_q (G + 1) / (n_q + 1)

    ``chance@k`` is the *expected* ``R@k`` of random scores (all ``G!`` orders equally likely, so no
    ties): a query misses iff all ``k`` top slots hold non-relevant items, which has the hypergeometric
    probability ``C(G - n_q, k) / C(G, k)`` (1 / G per slot for ``n_q = 1``: ``chance@k = k / G``).
    ``chance_MeanR`` is the expected first-hit rank of a random order, ``(G + 1) / (n_q + 1)``.
    Returns ``{"R@1": ..., "R@5": ..., "R@10": ..., "MedR": ..., "MeanR": ..., "chance@1": ...,
    "chance@5": ..., "chance@10": ..., "chance_MeanR": ...}`` (keys follow ``ks``). Each ``k`` must be
    in ``1..G``.
    """
    s = _scores(scores)
    q, g = s.shape
    if isinstance(ks, str) or not isinstance(ks, Sequence) or len(ks) == 0:
        raise TypeError(f"ks must be a non-empty sequence of ints such as (1, 5, 10), got {ks!r}")
    ks = [check_int("each k in ks", k, 1, g) for k in ks]
    ranks = first_hit_ranks(s, relevant, tie_rtol=tie_rtol).numpy()
    n_rel = _tensor(relevant, "relevant", "").sum(dim=1).cpu().numpy()
    out: dict[str, float] = {f"R@{k}": float(np.mean(ranks <= k)) for k in ks}
    out["MedR"] = float(np.median(ranks))
    out["MeanR"] = float(np.mean(ranks))
    for k in ks:
        out[f"chance@{k}"] = float(np.mean(_chance_recall(g, n_rel, k)))
    out["chance_MeanR"] = float(np.mean((g + 1) / (n_rel + 1)))
    return out


# ---------------------------------------------------------------------------------------------- search


def _embeddings(x: Any, name: str) -> torch.Tensor:
    t = _tensor(x, name, "a float (N, D) embedding matrix")
    if not t.is_floating_point():
        raise TypeError(f"{name} must be a float (N, D) embedding matrix, got {t.dtype}")
    if t.dim() != 2 or min(t.shape) < 1:
        raise ValueError(f"{name} must have shape (N, D) with N, D >= 1, got {shape_text(t)}")
    return t.to(torch.promote_types(t.dtype, torch.float32))


#: The floor on a row's norm, as in ``F.normalize``: a zero row (e.g. a clip equal to the gallery mean, after
#: centring) stays a zero row and scores 0 against everything.
NORM_EPS = 1e-12


def _row_norms(x: torch.Tensor) -> torch.Tensor:
    """``(N,)`` L2 norms of the rows of ``x`` ``(N, D)``, at least :data:`NORM_EPS`: the kit's one normalisation
    for search. ``x / _row_norms(x)[:, None]`` is ``F.normalize(x, dim=1)``, bit for bit."""
    return torch.linalg.vector_norm(x, dim=1).clamp_min(NORM_EPS)


def _unit_rows(x: torch.Tensor) -> torch.Tensor:
    """``x`` ``(N, D)`` with every row divided by its norm (:func:`_row_norms`): what search and the index score."""
    return x / _row_norms(x)[:, None]


# The last gallery that search normalised, kept for the next call: searching the same gallery tensor again (the
# neighbour browser does, query after query; kNN does, block after block) then skips the pass that normalises it,
# and a search is one matmul and one top-k. One entry, found by the caller's tensor object (a weak reference:
# dropping the gallery drops the entry) and checked against its version counter, which every in-place change of
# the tensor bumps; a centred search, or a gallery that had to be converted (dtype, device, NumPy), is never kept.
_LAST_GALLERY: dict[str, tuple[weakref.ref, int, torch.Tensor]] = {}


def _unit_gallery(gallery_emb: Any, ge: torch.Tensor, center: bool) -> torch.Tensor:
    """``ge`` ``(G, D)`` (the validated, possibly centred gallery) with unit rows; reused from the previous call
    when ``gallery_emb`` is the same, unchanged tensor and ``ge`` is that tensor's data, uncentred."""
    keep = (not center and isinstance(gallery_emb, torch.Tensor) and ge.dtype == gallery_emb.dtype
            and ge.device == gallery_emb.device and ge.data_ptr() == gallery_emb.data_ptr()
            and ge.shape == gallery_emb.shape and ge.stride() == gallery_emb.stride())
    if keep:
        ref, version, unit = _LAST_GALLERY.get("gallery", (None, -1, None))
        if ref is not None and ref() is gallery_emb and version == gallery_emb._version:
            return unit
    unit = _unit_rows(ge)
    if keep:
        _LAST_GALLERY["gallery"] = (weakref.ref(gallery_emb, lambda _: _LAST_GALLERY.clear()),
                                    gallery_emb._version, unit)
    return unit


def _search_rows(query_emb: Any, gallery_emb: Any, center: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """What :func:`search` and :func:`cosine_scores` score with: ``(unit queries (Q, D), unit gallery rows
    (G, D))``, validated, in a common float dtype (float32 at least) on the query's device, after subtracting
    the gallery mean from both sets when ``center`` (:func:`_unit_gallery` reuses the normalised gallery of
    the previous call when it can)."""
    qe, ge = _embeddings(query_emb, "query_emb"), _embeddings(gallery_emb, "gallery_emb")
    if qe.shape[1] != ge.shape[1]:
        raise ValueError(f"query_emb (Q, D) and gallery_emb (G, D) need the same D, got {shape_text(qe)} and "
                         f"{shape_text(ge)}")
    dtype = torch.promote_types(qe.dtype, ge.dtype)
    qe, ge = qe.to(dtype), ge.to(device=qe.device, dtype=dtype)           # no copy when they already match
    if center:
        mu = ge.mean(dim=0, keepdim=True)
        qe, ge = qe - mu, ge - mu
    return _unit_rows(qe), _unit_gallery(gallery_emb, ge, center)


@torch.no_grad()
def cosine_scores(query_emb: Any, gallery_emb: Any, center: bool = False) -> torch.Tensor:
    """``(Q, G)`` cosine similarities of ``query_emb`` ``(Q, D)`` to ``gallery_emb`` ``(G, D)``, exactly as
    :func:`search` scores them: rows L2-normalised (after subtracting the gallery mean from both sets when
    ``center=True``), one matmul. Float32 at least (float64 stays float64), on the query's device; a zero
    row (e.g. a clip equal to the gallery mean) scores 0 against everything. Rank the result with
    :func:`first_hit_ranks` / :func:`retrieval_metrics` (:func:`vidkit.eval.representation.retrieval_recall` does, in
    blocks of queries).
    """
    unit_queries, unit_gallery = _search_rows(query_emb, gallery_emb, center)
    return unit_queries @ unit_gallery.T


@torch.no_grad()
def search(query_emb: Any, gallery_emb: Any, k: int = 10, batch: int = 1024, center: bool = False,
           exclude_self: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """Top-``k`` gallery items per query by cosine similarity: ``(scores (Q, k), indices (Q, k))``.

    The kit's one exact nearest-neighbour search (:func:`vidkit.eval.representation.knn_predict` and
    :func:`vidkit.eval.representation.nearest_neighbours` use it too; :class:`FaissIndex` is its approximate
    counterpart for galleries past a million clips). ``query_emb`` ``(Q, D)``, ``gallery_emb`` ``(G, D)``;
    ``batch`` queries at a time are scored against the whole gallery by cosine similarity (after
    subtracting the gallery mean from both sets when ``center=True``, as
    :func:`vidkit.eval.representation.retrieval_recall` does; :func:`cosine_scores`; a ``(batch, G)`` block:
    memory ``batch * G`` floats) and the best ``k`` are kept, highest first. **Ties** keep gallery order: the result is exactly
    ``torch.sort(block, dim=1, descending=True, stable=True)[:, :k]``, values and indices, for each batch's
    ``block = cosine_scores(query_emb[lo:lo + batch], gallery_emb, center)`` (:func:`_top_k_stable`), so of
    two equal scores the smaller gallery index comes first and results are reproducible. (A matmul of fewer
    rows may round a score differently in the last bit, so ``batch`` can decide between two scores one
    float apart.) This order is for showing neighbours, not for scoring: recall and ranks come from
    :func:`first_hit_ranks`, which counts ties against the query and does not depend on the gallery order.
    ``exclude_self=True`` (queries are the gallery, same order: ``Q == G``) never returns item ``i`` for
    query ``i``; ``k`` is then at most ``G - 1``. Computed in float32 at least (float64 stays float64), on
    the query's device.

    Cost: one matmul and one ``torch.topk`` per block and a tie check on ``k + 1`` values
    (:func:`_top_k_stable`), plus a pass that normalises the gallery, skipped when the same gallery tensor is
    searched again (:func:`_unit_gallery`). 100 queries against 10,000 clips of dimension
    64 take milliseconds on one CPU core; the goal is to stay within 10 % of a bare ``torch.topk(q @ g.T,
    k)`` on normalised rows (``benchmarks/bench_retrieval.py`` measures both).
    """
    unit_queries, gallery = _search_rows(query_emb, gallery_emb, center)
    if exclude_self and unit_queries.shape[0] != gallery.shape[0]:
        raise ValueError(f"exclude_self=True needs the queries to be the gallery (Q == G), got "
                         f"{shape_text(unit_queries)} queries and {shape_text(gallery)} gallery items")
    k = check_int("k", k, 1, gallery.shape[0] - int(bool(exclude_self)))
    batch = check_int("batch", batch, 1)
    scores, indices = [], []
    for lo in range(0, unit_queries.shape[0], batch):
        block = unit_queries[lo:lo + batch] @ gallery.T                                # (b, G) cosines
        if exclude_self:
            block.diagonal(lo).fill_(-math.inf)      # query lo + i is gallery item lo + i: block[i, lo + i]
        top_scores, top_indices = _top_k_stable(block, k)
        scores.append(top_scores)
        indices.append(top_indices)
    return torch.cat(scores), torch.cat(indices)


def neighbour_recall(found: Any, exact: Any) -> float:
    """How much of the exact top-``k`` an approximate search returns: ``|found_q & exact_q| / k`` averaged over
    the queries, for ``found`` and ``exact`` ``(Q, k)`` gallery indices (e.g. :meth:`FaissIndex.search`'s and
    :func:`search`'s). This is an approximate index's "recall@k" in the ANN literature, not retrieval's R@k
    (:func:`retrieval_metrics`, which asks whether a *relevant* item is among the first k)."""
    f, e = _tensor(found, "found", "(Q, k) indices"), _tensor(exact, "exact", "(Q, k) indices")
    if f.dim() != 2 or f.shape != e.shape or e.numel() == 0:
        raise ValueError(f"found and exact must be (Q, k) index matrices of one shape, got {shape_text(f)} and "
                         f"{shape_text(e)}")
    return sum(len(set(a) & set(b)) for a, b in zip(f.tolist(), e.tolist())) / e.numel()


def _top_k_stable(block: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``k`` largest entries of each row of ``block`` ``(B, G)``, highest first, equal values in column
    order: exactly ``torch.sort(block, dim=1, descending=True, stable=True)[:, :k]``, at the cost of one
    ``torch.topk`` when no two of a row's best ``k + 1`` values are equal.

    ``torch.topk`` returns the right *values*, sorted, but promises nothing about which of several equal
    values' indices come first, nor which tied items it keeps when a tie straddles the ``k``-th place.
    Both need equal values next to each other in its sorted output, so ask it for ``k + 1`` values and
    compare neighbours (``tied[b, j]``: places ``j`` and ``j + 1`` of row ``b`` hold equal values):

    * no ties among a row's best ``k + 1`` (float embeddings: nearly always): ``topk``'s answer is the
      sorted one, nothing more to do;
    * ties within the first ``k`` only: the right items, possibly in the wrong order among equals; sort
      those ``k`` by column, then stably by value (highest first), which puts equal values in column order;
    * a tie between places ``k`` and ``k + 1`` (it straddles the cut): which of the tied items belong in
      the top ``k`` depends on their columns across the whole row, so that row is sorted in full (rare:
      quantised or collapsed embeddings).

    The tie test is "not strictly decreasing", ``not (v[j + 1] < v[j])``, which is also true next to a NaN,
    so rows holding NaN go the careful way too (NaN sorts first, as ``torch.topk`` ranks it).
    """
    n = min(k + 1, block.shape[1])                     # k + 1 values, when the row has that many
    top = torch.topk(block, n, dim=1)                   # values sorted, highest first
    values, index = top.values[:, :k], top.indices[:, :k]
    decreasing = top.values[:, 1:] < top.values[:, :-1]  # (B, n - 1)
    if decreasing.all():
        return values, index                           # no ties: topk's answer is the stable sort's
    tied = ~decreasing                                  # tied[b, j]: places j and j + 1 hold equal values
    straddle = tied[:, k - 1] if n > k else torch.zeros_like(tied[:, 0])
    within = tied[:, :k - 1].any(dim=1) & ~straddle
    if within.any():
        cols, by_col = index[within].sort(dim=1)        # the chosen k, in column order
        order = torch.sort(values[within].gather(1, by_col), dim=1, descending=True, stable=True).indices
        index[within] = cols.gather(1, order)
    if straddle.any():
        index[straddle] = torch.sort(block[straddle], dim=1, descending=True, stable=True).indices[:, :k]
    return block.gather(1, index), index              # the values of the chosen items, as the sort gives them


# ------------------------------------------------------------------------------ approximate search (faiss)


def _import_faiss() -> Any:
    """The ``faiss`` module, imported on first use, so that the kit works without it."""
    try:
        import faiss
    except ImportError as err:
        raise ImportError("FaissIndex needs faiss, an optional dependency: pip install vidkit[faiss] "
                          "(or pip install faiss-cpu)") from err
    return faiss


#: The approximate indexes :class:`FaissIndex` builds, and ``"flat"``, faiss's exact brute force.
FAISS_KINDS = ("hnsw", "ivf", "flat")


class FaissIndex:
    """Approximate cosine top-``k`` over a fixed gallery with a faiss index, for galleries past a million clips.

    Build once, query many times (needs ``pip install vidkit[faiss]``)::

        index = FaissIndex(gallery_emb)                         # (G, D), kind="hnsw"
        scores, indices = index.search(query_emb, k=10)         # (Q, k) float32, (Q, k) int64, highest first

    The rows are prepared as :func:`search` prepares them: with ``center=True`` the gallery mean is
    subtracted from the gallery and, at query time, from every query; then rows are L2-normalised by the
    same helper (:func:`_unit_rows`), so the index's inner product is :func:`search`'s cosine. ``kind``:

    * ``"hnsw"`` (default; ``faiss.IndexHNSWFlat``, Malkov & Yashunin 2018): a layered graph in which each item
      is linked to about ``m`` near neighbours (``2 m`` on the bottom layer); a query walks it greedily,
      keeping the ``ef_search`` best candidates met so far. Larger ``m``, ``ef_construction`` (the candidate
      list while building) or ``ef_search``: higher recall, slower. No training; memory about ``G (D + 2 m)``
      4-byte words (the vectors and the bottom layer's links).
    * ``"ivf"`` (``faiss.IndexIVFFlat``): k-means splits the gallery into ``nlist`` cells (default
      ``round(4 sqrt(G))``, at most ``G // 39`` so that every centroid gets faiss's 39 training points); a
      query scans only the ``nprobe`` cells whose centroids it scores highest (default ``ceil(nlist / 8)``:
      about 1/8 of the gallery). Larger ``nprobe``: higher recall, slower.
    * ``"flat"`` (``faiss.IndexFlatIP``): exact brute force, for reference.

    ``ef_search`` and ``nprobe`` act at query time: assign ``index.ef_search`` / ``index.nprobe`` to trade
    speed for recall without rebuilding.

    **How the results may differ from** :func:`search`: the index is *approximate*, so it may miss some of
    the exact top ``k`` (recall@k = the fraction of the exact top ``k`` it returns; ``tests/test_retrieval.py``
    checks it on a clustered gallery and ``benchmarks/bench_retrieval.py`` measures it). Random, unclustered
    embeddings are its hardest case (all neighbours nearly equally far); real embeddings are clustered.
    Scores are float32 (faiss computes in float32) and may differ from :func:`search`'s in the last bits;
    equal scores come in **no promised order** (no gallery-order tie rule); there is no ``exclude_self``
    (ask for ``k + 1`` and drop the query's own row). When the index finds fewer than ``k`` items for a
    query (possible with a small ``nprobe``), the missing places hold index ``-1`` and score ``-inf``.
    Results are on the CPU. With several threads (faiss uses OpenMP), an HNSW build may vary run to run.
    """

    def __init__(self, gallery_emb: Any, kind: str = "hnsw", *, center: bool = False, m: int = 32,
                 ef_construction: int = 40, ef_search: int = 64, nlist: int | None = None,
                 nprobe: int | None = None) -> None:
        faiss = _import_faiss()
        self.kind = check_choice("kind", kind, FAISS_KINDS)
        gallery = _embeddings(gallery_emb, "gallery_emb").cpu().float()            # faiss works in float32
        self.size, self.dim = gallery.shape
        self.center = bool(center)
        self.mean = gallery.mean(dim=0, keepdim=True) if self.center else None     # (1, D), for the queries too
        if self.mean is not None:
            gallery = gallery - self.mean
        unit = _unit_rows(gallery).numpy()                                          # (G, D) float32, C order
        # the settings of the chosen kind (None for the others)
        self.m: int | None = None
        self.ef_construction: int | None = None
        self.ef_search: int | None = None
        self.nlist: int | None = None
        self.nprobe: int | None = None
        if self.kind == "hnsw":
            self.m = check_int("m", m, 2)
            self.ef_construction = check_int("ef_construction", ef_construction, 1)
            self.ef_search = check_int("ef_search", ef_search, 1)
            self.index = faiss.IndexHNSWFlat(self.dim, self.m, faiss.METRIC_INNER_PRODUCT)
            self.index.hnsw.efConstruction = self.ef_construction
        elif self.kind == "ivf":
            default = max(1, min(round(4 * math.sqrt(self.size)), self.size // 39))
            self.nlist = check_int("nlist", default if nlist is None else nlist, 1, self.size,
                                   what=" (at most the gallery size)")
            self.nprobe = check_int("nprobe", math.ceil(self.nlist / 8) if nprobe is None else nprobe, 1,
                                    self.nlist, what=" (at most nlist)")
            self._quantizer = faiss.IndexFlatIP(self.dim)      # the centroids; the index needs it kept alive
            self.index = faiss.IndexIVFFlat(self._quantizer, self.dim, self.nlist, faiss.METRIC_INNER_PRODUCT)
            self.index.train(unit)                             # k-means (faiss subsamples large galleries)
        else:
            self.index = faiss.IndexFlatIP(self.dim)
        self.index.add(unit)

    def __len__(self) -> int:
        return self.size

    def __repr__(self) -> str:
        settings = {"hnsw": f"m={self.m}, ef_construction={self.ef_construction}, ef_search={self.ef_search}",
                    "ivf": f"nlist={self.nlist}, nprobe={self.nprobe}", "flat": "exact"}[self.kind]
        return f"FaissIndex({self.kind!r}, {self.size} x {self.dim}, {settings}, center={self.center})"

    def search(self, query_emb: Any, k: int = 10) -> tuple[torch.Tensor, torch.Tensor]:
        """Approximate top-``k`` by cosine: ``(scores (Q, k) float32, indices (Q, k) int64)``, CPU tensors,
        highest first, as :func:`search` returns them (see the class for how they may differ).
        ``query_emb`` ``(Q, D)``, NumPy or torch; ``k`` in ``1..G``."""
        faiss = _import_faiss()
        queries = _embeddings(query_emb, "query_emb").cpu().float()
        if queries.shape[1] != self.dim:
            raise ValueError(f"query_emb must have shape (Q, {self.dim}) like the gallery (G, D) = "
                             f"({self.size}, {self.dim}), got {shape_text(queries)}")
        k = check_int("k", k, 1, self.size, what=" (the gallery size)")
        if self.mean is not None:
            queries = queries - self.mean
        unit = _unit_rows(queries).numpy()
        params = None
        if self.kind == "hnsw":
            params = faiss.SearchParametersHNSW(efSearch=check_int("ef_search", self.ef_search, 1))
        elif self.kind == "ivf":
            params = faiss.SearchParametersIVF(nprobe=check_int("nprobe", self.nprobe, 1, self.nlist,
                                                                what=" (at most nlist)"))
        scores, indices = self.index.search(unit, k, params=params)
        scores, indices = torch.from_numpy(scores), torch.from_numpy(indices).long()
        return scores.masked_fill(indices < 0, -math.inf), indices


# ------------------------------------------------------------------------------------------- relevance


def semantic_relevance(query_digit: Any, query_action: Any, gallery_digit: Any,
                       gallery_action: Any) -> torch.Tensor:
    """``(Q, G)`` bool: gallery clip ``g`` matches everything query ``q``'s caption states.

    ``query_digit``, ``query_action`` ``(Q,)`` integers (the caption's digit 0..9 and action index;
    ``-1`` = the caption does not state it, e.g. "something moves left", and matches any clip);
    ``gallery_digit``, ``gallery_action`` ``(G,)`` the clips' labels (``ActionClips.digit`` / ``.action``)::

        relevant[q, g] = (qd_q == -1 or qd_q == gd_g) and (qa_q == -1 or qa_q == ga_g)
    """
    qd, qa = _labels(query_digit, "query_digit", True), _labels(query_action, "query_action", True)
    gd, ga = _labels(gallery_digit, "gallery_digit"), _labels(gallery_action, "gallery_action")
    if len(qd) != len(qa):
        raise ValueError(f"query_digit and query_action must both be (Q,), got {len(qd)} and {len(qa)}")
    if len(gd) != len(ga):
        raise ValueError(f"gallery_digit and gallery_action must both be (G,), got {len(gd)} and {len(ga)}")
    digit_ok = (qd[:, None] == -1) | (qd[:, None] == gd[None, :])
    action_ok = (qa[:, None] == -1) | (qa[:, None] == ga[None, :])
    return (digit_ok & action_ok).cpu()


def instance_relevance(query_index: Any, num_gallery: int) -> torch.Tensor:
    """``(Q, G)`` bool with ``relevant[q, query_index[q]] = True`` only: the clip the caption describes.

    ``query_index`` ``(Q,)`` integers in ``0..G-1`` (gallery row of each query's own clip), ``G =
    num_gallery``.
    """
    g = check_int("num_gallery", num_gallery, 1)
    idx = _labels(query_index, "query_index").cpu()
    if len(idx) and int(idx.max()) >= g:
        raise ValueError(f"query_index must be in 0..{g - 1} (a gallery row), got max {int(idx.max())}")
    out = torch.zeros(len(idx), g, dtype=torch.bool)
    out[torch.arange(len(idx)), idx] = True
    return out


# ------------------------------------------------------------------------------------------- moments


def _spans(x: Any, name: str) -> np.ndarray:
    a = np.asarray(x.detach().cpu() if isinstance(x, torch.Tensor) else x)
    if a.ndim < 1 or a.shape[-1] != 2 or a.dtype.kind not in "iuf":
        raise ValueError(f"{name} must be (..., 2) numeric spans [start, end), got {a.dtype} {shape_text(a)}")
    if a.size and not (a[..., 1] > a[..., 0]).all():
        raise ValueError(f"{name}: every span [start, end) needs end > start (ends are exclusive)")
    return a.astype(np.float64)


def temporal_iou(a: Any, b: Any) -> np.ndarray:
    """Temporal intersection over union of spans ``[start, end)`` (half-open, e.g. in frames): ``a (..., 2)``
    and ``b (..., 2)`` broadcast against each other -> ``(...)`` float64 in [0, 1]::

        IoU = max(0, min(e_a, e_b) - max(s_a, s_b)) / ((e_a - s_a) + (e_b - s_b) - intersection)

    Frames ``2..4`` (inclusive) are the span ``[2, 5)``; ``[0, 4)`` and ``[2, 6)`` have IoU 2 / 6."""
    x, y = _spans(a, "a"), _spans(b, "b")
    inter = np.clip(np.minimum(x[..., 1], y[..., 1]) - np.maximum(x[..., 0], y[..., 0]), 0.0, None)
    return inter / ((x[..., 1] - x[..., 0]) + (y[..., 1] - y[..., 0]) - inter)


def all_spans(num_frames: int) -> np.ndarray:
    """Every span of whole frames of a ``T``-frame video: ``(T (T + 1) / 2, 2)`` int64 ``[start, end)`` with
    ``0 <= start < end <= T``, ordered by start then end (a span over frames ``st..ed`` is ``[st, ed + 1)``)."""
    t = check_int("num_frames", num_frames, 1)
    st, ed = np.triu_indices(t)
    return np.stack([st, ed + 1], axis=1).astype(np.int64)


def moment_recall(scores: Any, episode: Any, spans: Any, true_episode: Any, true_span: Any,
                  ks: Sequence[int] = (1, 5), ious: Sequence[float] = (0.5, 0.7), *,
                  num_episodes: int | None = None, num_frames: int | None = None,
                  tie_rtol: float | None = None) -> dict[str, float]:
    """Moment retrieval recall ``R@k`` at temporal IoU thresholds (the TVR metric), as fractions.

    Each of ``Q`` queries has ``M`` candidate moments: ``scores (Q, M)`` (higher = better; ``-inf`` = no
    candidate), ``episode (Q, M)`` integers (the candidate's episode), ``spans (Q, M, 2)`` ``[start, end)``;
    the query's truth is ``true_episode (Q,)`` and ``true_span (Q, 2)``. For a threshold ``u``::

        hit[q, m] = episode[q, m] == true_episode[q]  and  temporal_iou(spans[q, m], true_span[q]) >= u
        R@k_iou{u} = 1/Q sum_q [ first_hit_ranks(scores, hit)[q] <= k ]      (0 if query q has no finite hit)

    so ties and near-ties between a right and a wrong moment count against the query
    (:func:`first_hit_ranks`). Keys: ``"R@1_iou0.5"``, ... (``ks`` x ``ious``); each ``k`` in ``1..M``.

    With ``num_episodes`` and ``num_frames``, also ``"chance@k_iou{u}"``: the expected ``R@k`` of a uniformly
    random order of *all* ``num_episodes * T (T + 1) / 2`` moments (:func:`all_spans` of every episode), i.e.
    ``1 - C(n - h_q, k) / C(n, k)`` averaged over queries, ``h_q`` the spans of the true episode at IoU ``>= u``.
    """
    s = _scores(scores)
    q, m = s.shape
    ep = _tensor(episode, "episode", "(Q, M) integer episode ids").cpu().numpy()
    if ep.shape != (q, m) or ep.dtype.kind not in "iu":
        raise ValueError(f"episode must be (Q, M) = ({q}, {m}) integers, got {ep.dtype} {ep.shape}")
    sp = _spans(spans, "spans")
    if sp.shape != (q, m, 2):
        raise ValueError(f"spans must be (Q, M, 2) = ({q}, {m}, 2), got {sp.shape}")
    te = _labels(true_episode, "true_episode").numpy()
    ts = _spans(true_span, "true_span")
    if te.shape != (q,) or ts.shape != (q, 2):
        raise ValueError(f"true_episode must be ({q},) and true_span ({q}, 2), got {te.shape} and {ts.shape}")
    if isinstance(ks, str) or not isinstance(ks, Sequence) or len(ks) == 0:
        raise TypeError(f"ks must be a non-empty sequence of ints such as (1, 5), got {ks!r}")
    if isinstance(ious, str) or not isinstance(ious, Sequence) or len(ious) == 0:
        raise TypeError(f"ious must be a non-empty sequence of thresholds such as (0.5, 0.7), got {ious!r}")
    ks = [check_int("each k in ks", k, 1, m, what=f" (at most the M = {m} candidates)") for k in ks]
    ious = [check_real("each threshold in ious", u, 0.0, 1.0) for u in ious]
    if (num_episodes is None) != (num_frames is None):
        raise ValueError("give both num_episodes and num_frames (for the chance levels) or neither")
    finite = torch.isfinite(s).numpy()
    overlap = temporal_iou(sp, ts[:, None, :])                                         # (Q, M)
    same = ep == te[:, None]
    out: dict[str, float] = {}
    for u in ious:
        hit = same & (overlap >= u) & finite
        ranks = np.full(q, np.iinfo(np.int64).max)
        rows = hit.any(axis=1)
        if rows.any():
            ranks[rows] = first_hit_ranks(s[rows], torch.from_numpy(hit[rows]), tie_rtol=tie_rtol).numpy()
        for k in ks:
            out[f"R@{k}_iou{u:g}"] = float(np.mean(ranks <= k))
    if num_episodes is not None:
        n_ep = check_int("num_episodes", num_episodes, 1)
        every = all_spans(check_int("num_frames", num_frames, 1))                      # (P, 2)
        total = n_ep * len(every)
        for u in ious:
            h = (temporal_iou(every[None], ts[:, None, :]) >= u).sum(axis=1)          # (Q,)
            for k in ks:
                out[f"chance@{k}_iou{u:g}"] = float(np.mean(_chance_recall(total, h, min(k, total))))
    return out


# --------------------------------------------------------------------------- compositional generalisation


def heldout_pairs(num_digits: int = 10, actions: int = 8, n: int = 8, seed: int = 0) -> list[tuple[int, int]]:
    """``n`` (digit, action) combinations to hold out, so that every digit and action stays in training.

    Digits are ``0..num_digits-1``, actions ``0..actions-1`` (indices into ``ActionClips.action_names``).
    The pairs are spread out evenly. With ``L = lcm(num_digits, actions)`` and random permutations ``pd``
    of the digits and ``pa`` of the actions (seeded), pair ``i`` (``i = 0..n-1``) is::

        (pd[i mod num_digits], pa[(i + i // L) mod actions])

    The first ``L`` pairs walk a "diagonal" of the digit x action grid; each further block of ``L`` is
    the diagonal shifted by one action, so all pairs are distinct, each digit is held out at most
    ``ceil(n / num_digits)`` times and each action at most ``ceil(n / actions)`` times. Hence the seen
    pairs still contain every digit and every action as long as ``n <= num_digits * actions -
    max(num_digits, actions)``, which is enforced (and the result checked). Sorted; deterministic in
    ``seed``. The default holds out 8 of the 80 pairs: one per action, eight different digits.
    """
    nd, na = check_int("num_digits", num_digits, 1), check_int("actions", actions, 1)
    limit = nd * na - max(nd, na)
    n = check_int("n", n, 0, limit)
    rng = np.random.default_rng(check_seed("seed", seed))
    pd, pa = rng.permutation(nd), rng.permutation(na)
    period = math.lcm(nd, na)
    pairs = sorted((int(pd[i % nd]), int(pa[(i + i // period) % na])) for i in range(n))
    seen_d = {d for d in range(nd) for a in range(na) if (d, a) not in pairs}
    seen_a = {a for d in range(nd) for a in range(na) if (d, a) not in pairs}
    if len(set(pairs)) != n or len(seen_d) != nd or len(seen_a) != na:  # the construction rules it out
        raise RuntimeError(f"heldout_pairs could not spread {n} pairs over {nd} digits x {na} actions")
    return pairs


def split_by_pairs(digits: Any, actions: Any, pairs: Sequence[tuple[int, int]]) -> tuple[np.ndarray, np.ndarray]:
    """``(seen_mask, heldout_mask)``, ``(N,)`` bool NumPy arrays over clips: held out iff ``(digit, action)``
    is in ``pairs``.

    ``digits``, ``actions`` ``(N,)`` integer labels (e.g. ``clips.digit``, ``clips.action``); ``pairs``
    from :func:`heldout_pairs`. The masks are disjoint and cover every clip (``seen_mask ==
    ~heldout_mask``). Train on ``clips.subset(seen_mask)``; query the held-out combinations among all
    test clips.
    """
    d = _labels(digits, "digits").numpy()
    a = _labels(actions, "actions").numpy()
    if len(d) != len(a):
        raise ValueError(f"digits and actions must both be (N,), got {len(d)} and {len(a)}")
    if isinstance(pairs, str) or not isinstance(pairs, Sequence):
        raise TypeError(f"pairs must be a sequence of (digit, action) tuples, got {type(pairs).__name__}")
    held = np.zeros(len(d), dtype=bool)
    for item in pairs:
        if not isinstance(item, Sequence) or len(item) != 2:
            raise ValueError(f"each pair must be a (digit, action) tuple, got {item!r}")
        pd, pa = check_int("pair digit", item[0], 0), check_int("pair action", item[1], 0)
        held |= (d == pd) & (a == pa)
    return ~held, held


# ------------------------------------------------------------------------------- argument checks


def _emb(x: Any, name: str, rows: int | None = None, dim: int | None = None) -> torch.Tensor:
    if isinstance(x, np.ndarray):
        x = torch.from_numpy(x)
    if not isinstance(x, torch.Tensor) or not x.is_floating_point() or x.dim() != 2 or min(x.shape) < 1:
        got = (tuple(x.shape), x.dtype) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"{name} must be a float (N, D) embedding matrix, got {got}")
    if rows is not None and x.shape[0] != rows:
        raise ValueError(f"{name} must have {rows} rows, got {tuple(x.shape)}")
    if dim is not None and x.shape[1] != dim:
        raise ValueError(f"{name} must have D = {dim} columns (as video_emb), got {tuple(x.shape)}")
    if not torch.isfinite(x).all():
        raise ValueError(f"{name} holds NaN or infinite values")
    return F.normalize(x.detach().float().cpu(), dim=1)


def _label_vector(y: Any, name: str, n: int) -> np.ndarray:
    a = np.asarray(y.cpu() if isinstance(y, torch.Tensor) else y)
    if a.ndim != 1 or len(a) != n or a.dtype.kind not in "iu":
        raise ValueError(f"{name} must be ({n},) integer labels, got {a.dtype} {a.shape}")
    return a.astype(np.int64)
