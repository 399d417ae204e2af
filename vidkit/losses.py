"""Contrastive losses for self-supervised video representations, and the MoCo machinery around them.

The common idea: an encoder maps two *views* of the same clip (two crops, two time windows, frames
and optical flow) to embeddings that should be close, and views of *other* clips to embeddings that
should be far apart. Every loss here works on L2-normalised embeddings, so ``q . k`` is a cosine
similarity in [-1, 1], divided by a **temperature** ``tau`` (small tau = sharper softmax).

* **InfoNCE** (van den Oord, Li & Vinyals 2018, "Representation Learning with Contrastive Predictive
  Coding"): a softmax classification "which of these keys is my positive?"::

      L_i = -log( exp(q_i . k_i / tau) / sum_j exp(q_i . key_j / tau) )

  :func:`info_nce`. **NT-Xent** (Chen et al. 2020, "SimCLR") is its symmetric form over the 2B views
  of a batch, each view's positive being its pair and the other 2B - 2 views its negatives
  (:func:`nt_xent`).
* **MoCo** (He et al. 2020, "Momentum Contrast for Unsupervised Visual Representation Learning"):
  keys come from a *momentum encoder*, an exponential moving average of the query encoder
  (:func:`momentum_update`), and are kept in a FIFO **queue** of past batches (:class:`MoCoQueue`),
  so the softmax sees many more negatives than a batch holds.
* **Multi-positive NCE** (Han, Xie & Zisserman 2020, "Self-supervised Co-training for Video
  Representation Learning", CoCLR): several keys may be positives (:func:`multi_positive_nce`). With
  ``p_in = softmax_n(q_i . k_n / tau)`` there are two forms, named by their formula::

      form="log_sum":   L_i = -log( sum_{p in P(i)} p_ip )          (CoCLR's eq. 2 and its training code)
      form="mean_log":  L_i = -1/|P(i)| sum_{p in P(i)} log p_ip    (CoCLR's UberNCE training code)

  ``log_sum`` is the multiple-instance form (as MIL-NCE, and SupCon's "L_in"): the query may put its
  mass on any positive. ``mean_log`` is the supervised-contrastive form (SupCon's "L_out"): every
  positive must get mass. They agree with one positive; otherwise ``mean_log >= log_sum + log |P(i)|``.
* **UberNCE** (CoCLR's supervised oracle): the positives of a query are *all* keys with the same
  class label (:func:`uber_nce`, by default in the authors' ``mean_log`` form). It is an upper bound
  for what mining positives can achieve.
* **CoCLR**: positives are mined in the *other* view. For a clip's RGB query, the clips whose
  *flow* embeddings are its top-K nearest neighbours count as positives in the RGB loss, and vice
  versa (:func:`mine_topk_positives`, then :func:`coclr_loss`, in the ``log_sum`` form; by default it
  also drops the clip's own positive in 90 % of the steps, as the authors' training code does).
  Motion similarity finds other instances of the same action that instance discrimination would
  push away.

Conventions: embeddings are ``(B, D)`` (a batch) or ``(N, D)`` (a bank / queue) float tensors,
normalised inside every function (pass raw projection-head outputs). Half-precision inputs are
computed in float32. Every loss is averaged over the batch and returns a 0-dim tensor. Nothing is
detached here: MoCo computes its keys under ``torch.no_grad()`` with the momentum encoder, SimCLR
back-propagates through both views.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from vidkit.utils.checks import check_int, check_real

__all__ = ["NCE_FORMS", "NCEForm", "info_nce", "nt_xent", "multi_positive_nce", "uber_nce", "coclr_loss",
           "mine_topk_positives",
           "MoCoQueue", "momentum_update", "attention_regulariser",
           "max_margin_ranking", "text_video_nce", "mil_nce"]


#: The two multi-positive NCE forms, named by their formula (see :func:`multi_positive_nce`).
NCEForm = Literal["log_sum", "mean_log"]
NCE_FORMS: tuple[str, ...] = ("log_sum", "mean_log")

# ----------------------------------------------------------------------------- input checks

def _check_embeddings(name: str, x: object, rows: int | None = None, dim: int | None = None,
                      allow_empty: bool = False) -> None:
    """Raise unless ``x`` is a 2-D float tensor ``(rows, dim)`` (``rows``/``dim`` checked when given)."""
    shape = f"({'N' if rows is None else rows}, {'D' if dim is None else dim})"
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor {shape}, got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(f"{name} must be a float tensor {shape}, got {x.dtype}")
    if x.dim() != 2 or x.shape[1] < 1 or (x.shape[0] < 1 and not allow_empty):
        raise ValueError(f"{name} must have shape {shape} with D >= 1, got {tuple(x.shape)}")
    if (rows is not None and x.shape[0] != rows) or (dim is not None and x.shape[1] != dim):
        raise ValueError(f"{name} must have shape {shape}, got {tuple(x.shape)}")


def _check_labels(name: str, labels: object, rows: int) -> None:
    """Raise unless ``labels`` is a 1-D integer tensor of ``rows`` non-negative entries."""
    if not isinstance(labels, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor ({rows},) of integers, got {type(labels).__name__}")
    if labels.dtype.is_floating_point or labels.dtype.is_complex or labels.dtype == torch.bool:
        raise TypeError(f"{name} must be an integer tensor ({rows},), got {labels.dtype}")
    if labels.dim() != 1 or labels.shape[0] != rows:
        raise ValueError(f"{name} must have shape ({rows},), got {tuple(labels.shape)}")
    if rows and int(labels.min()) < 0:
        raise ValueError(f"{name} must be >= 0 (-1 marks an unknown entry in MoCoQueue), got min "
                         f"{int(labels.min())}")


def _check_form(form: object) -> None:
    if not isinstance(form, str) or form not in NCE_FORMS:
        raise ValueError(f"form must be one of {NCE_FORMS} ('log_sum': -log sum_p softmax_p, CoCLR's loss; "
                         f"'mean_log': -mean_p log softmax_p, the authors' UberNCE), got {form!r}")


def _normalize(x: torch.Tensor, like: torch.Tensor | None = None) -> torch.Tensor:
    """L2-normalise the rows, in float32 at least (float16 / bfloat16 are upcast, float64 stays).

    With ``like`` (an already normalised tensor), match its dtype and device, so that a float32 queue
    combines with float64 queries.
    """
    if like is not None:
        return F.normalize(x.to(like), dim=1)
    return F.normalize(x.to(torch.promote_types(x.dtype, torch.float32)), dim=1)


# ----------------------------------------------------------------------------- losses

def _stack_keys(k: torch.Tensor, queue: torch.Tensor) -> torch.Tensor:
    """``[k; queue]`` ``(B + K, D)`` on ``k``'s device, in the wider of the two dtypes (not normalised)."""
    dtype = torch.promote_types(k.dtype, queue.dtype)
    return torch.cat([k.to(dtype), queue.to(device=k.device, dtype=dtype)])


def multi_positive_nce(q: torch.Tensor, keys: torch.Tensor, pos_mask: torch.Tensor,
                       temperature: float = 0.07, form: NCEForm = "log_sum") -> torch.Tensor:
    """NCE with several positives per query, averaged over the batch, in one of two forms.

    ``q`` ``(B, D)`` queries, ``keys`` ``(N, D)``, ``pos_mask`` ``(B, N)`` bool: ``pos_mask[i, n]`` says
    key ``n`` is a positive of query ``i`` (at least one per row). With ``s_in = q_i . k_n / tau`` on
    L2-normalised rows and ``log p_in = s_in - logsumexp_n s_in`` (the log-softmax over all N keys)::

        form="log_sum"  (default; CoCLR's eq. 2, ``multi_nce_loss`` in the authors' main_coclr.py):
            L_i = -log( sum_{p in P(i)} exp(s_ip) / sum_{n=1..N} exp(s_in) )
                = logsumexp_{n} s_in - logsumexp_{p in P(i)} s_ip
        form="mean_log" (the authors' UberNCE loss in main_nce.py; SupCon's L_out):
            L_i = -1/|P(i)| sum_{p in P(i)} log p_ip
                = logsumexp_{n} s_in - 1/|P(i)| sum_{p in P(i)} s_ip
        L   = 1/B sum_i L_i

    Every key that is not a positive is a negative (in both forms the other positives stay in the
    denominator). With exactly one positive per row both forms are InfoNCE (:func:`info_nce`); with
    several, ``log_sum`` is satisfied once any positive wins, ``mean_log`` asks the same probability
    of every positive and is at least ``log_sum + log |P(i)|`` (it cannot reach 0). Computed with
    ``logsumexp`` so tiny temperatures do not overflow.
    """
    _check_embeddings("q", q)
    _check_embeddings("keys", keys, dim=q.shape[1])
    b, n = q.shape[0], keys.shape[0]
    if not isinstance(pos_mask, torch.Tensor) or pos_mask.dtype != torch.bool:
        got = pos_mask.dtype if isinstance(pos_mask, torch.Tensor) else type(pos_mask).__name__
        raise TypeError(f"pos_mask must be a bool tensor (B, N) = ({b}, {n}), got {got}")
    if tuple(pos_mask.shape) != (b, n):
        raise ValueError(f"pos_mask must have shape (B, N) = ({b}, {n}), got {tuple(pos_mask.shape)}")
    empty = (~pos_mask.any(dim=1)).nonzero().flatten().tolist()
    if empty:
        raise ValueError(f"every row of pos_mask needs at least one positive; rows without one: {empty[:10]}")
    check_real("temperature", temperature, 0.0)
    _check_form(form)
    qn = _normalize(q)
    pos_mask = pos_mask.to(q.device)
    logits = qn @ _normalize(keys, like=qn).T / temperature                  # (B, N)
    log_all = torch.logsumexp(logits, dim=1)                                  # log sum_n exp(s_in)
    if form == "log_sum":
        log_pos = torch.logsumexp(logits.masked_fill(~pos_mask, -math.inf), dim=1)  # log sum_p exp(s_ip)
    else:
        log_pos = torch.where(pos_mask, logits, 0).sum(dim=1) / pos_mask.sum(dim=1)  # mean_p s_ip
    return (log_all - log_pos).mean()


def info_nce(q: torch.Tensor, k: torch.Tensor, temperature: float = 0.07,
             queue: torch.Tensor | None = None) -> torch.Tensor:
    """InfoNCE (van den Oord et al. 2018) with in-batch negatives and an optional MoCo queue.

    ``q``, ``k`` ``(B, D)``: the positive of query ``q_i`` is key ``k_i``; its negatives are the other
    ``B - 1`` keys of the batch and, if given, the ``K`` rows of ``queue`` ``(K, D)`` (``K = 0`` is
    allowed: an empty queue). All rows are L2-normalised. With ``keys = [k_1 .. k_B, queue_1 .. queue_K]``::

        logits_ij = q_i . keys_j / tau                        (B, B + K)
        L_i = -log( exp(logits_ii) / sum_j exp(logits_ij) )   (cross-entropy with target i)
        L   = 1/B sum_i L_i

    A random guess scores ``log(B + K)``. Note: MoCo's paper uses only ``q_i . k_i`` and the queue;
    here the other batch keys are extra negatives (as in SimCLR), which only adds negatives.
    """
    _check_embeddings("q", q)
    _check_embeddings("k", k, rows=q.shape[0], dim=q.shape[1])
    check_real("temperature", temperature, 0.0)
    qn = _normalize(q)
    keys = _normalize(k, like=qn)
    if queue is not None:
        _check_embeddings("queue", queue, dim=q.shape[1], allow_empty=True)
        keys = torch.cat([keys, _normalize(queue, like=qn)])
    logits = qn @ keys.T / temperature                                        # (B, B + K)
    target = torch.arange(q.shape[0], device=q.device)
    return F.cross_entropy(logits, target)


def nt_xent(z1: torch.Tensor, z2: torch.Tensor, temperature: float = 0.1) -> torch.Tensor:
    """SimCLR's NT-Xent (normalised temperature-scaled cross-entropy), symmetric over both views.

    ``z1``, ``z2`` ``(B, D)``: row ``i`` of each is a view of the same clip. Stack them into the 2B
    views ``z = [z1; z2]`` (L2-normalised) and let ``pair(a) = a + B mod 2B``. For every anchor ``a``::

        s_ab = z_a . z_b / tau
        L_a  = -log( exp(s_a,pair(a)) / sum_{b != a} exp(s_ab) )   (2B - 1 terms: the pair + 2B - 2 negatives)
        L    = 1/(2B) sum_a L_a

    The anchor itself is excluded from the denominator (its similarity to itself is always 1).
    """
    _check_embeddings("z1", z1)
    _check_embeddings("z2", z2, rows=z1.shape[0], dim=z1.shape[1])
    check_real("temperature", temperature, 0.0)
    b = z1.shape[0]
    z1n = _normalize(z1)
    z = torch.cat([z1n, _normalize(z2, like=z1n)])                           # (2B, D)
    logits = z @ z.T / temperature                                            # (2B, 2B)
    self_mask = torch.eye(2 * b, dtype=torch.bool, device=z.device)
    logits = logits.masked_fill(self_mask, -math.inf)                         # drop b == a
    target = (torch.arange(2 * b, device=z.device) + b) % (2 * b)
    return F.cross_entropy(logits, target)


def uber_nce(q: torch.Tensor, k: torch.Tensor, labels: torch.Tensor, temperature: float = 0.07,
             queue: torch.Tensor | None = None, queue_labels: torch.Tensor | None = None,
             form: NCEForm = "mean_log") -> torch.Tensor:
    """UberNCE, CoCLR's supervised oracle: every key with the query's class label is a positive.

    ``q``, ``k`` ``(B, D)`` with ``labels`` ``(B,)`` (integers >= 0, the class of clip ``i``, shared by
    ``q_i`` and ``k_i``); optional ``queue`` ``(K, D)`` with ``queue_labels`` ``(K,)`` (both or neither).
    With ``keys = [k; queue]``, ``key_labels = [labels; queue_labels]`` and ``p_in`` the softmax of
    ``q_i . keys_n / tau`` over all keys::

        P(i) = { n : key_labels_n == labels_i }            (always contains k_i)
        L    = multi_positive_nce(q, keys, P, tau, form)
        form="mean_log" (default): L_i = -1/|P(i)| sum_{p in P(i)} log p_ip
        form="log_sum":            L_i = -log sum_{p in P(i)} p_ip

    The default, ``mean_log``, is the loss the authors' code trains UberNCE with (CoCLR's main_nce.py,
    ``--model ubernce``: ``-(log_softmax * mask).sum(1) / mask.sum(1)``, averaged over the batch).
    ``log_sum`` is the form of CoCLR's own loss (``multi_nce_loss`` in main_coclr.py, the paper's eq. 2),
    which this function used before; pass it to compare the oracle with CoCLR under one formula.
    Departures from the authors' code: the authors' logits are ``[q_i . k_i, q_i . queue]`` only; here
    the other batch keys ``k_j`` are extra keys too (positives when they share the label, negatives
    otherwise), as in :func:`info_nce`. With all labels distinct both forms are :func:`info_nce`. A
    :class:`MoCoQueue` filled without labels holds -1, which is rejected here: enqueue the labels
    with every batch.
    """
    _check_embeddings("q", q)
    _check_embeddings("k", k, rows=q.shape[0], dim=q.shape[1])
    _check_labels("labels", labels, q.shape[0])
    keys, key_labels = k, labels
    if (queue is None) != (queue_labels is None):
        raise ValueError("uber_nce: pass queue and queue_labels together (or neither)")
    if queue is not None:
        _check_embeddings("queue", queue, dim=q.shape[1], allow_empty=True)
        _check_labels("queue_labels", queue_labels, queue.shape[0])
        keys = _stack_keys(k, queue)
        key_labels = torch.cat([labels, queue_labels.to(labels)])
    _check_form(form)
    pos_mask = labels[:, None].to(q.device) == key_labels[None, :].to(q.device)  # (B, B + K)
    return multi_positive_nce(q, keys, pos_mask, temperature, form)


def coclr_loss(q: torch.Tensor, k: torch.Tensor, queue: torch.Tensor, pos_mask_queue: torch.Tensor,
               temperature: float = 0.07, drop_self_prob: float = 0.9,
               generator: torch.Generator | None = None) -> torch.Tensor:
    """CoCLR's loss for the view being trained, with positives mined in the other view.

    ``q`` ``(B, D)`` queries of this view (e.g. RGB), ``k`` ``(B, D)`` their momentum keys (the positive
    of ``q_i`` is ``k_i``), ``queue`` ``(K, D)`` past keys of the SAME view, and ``pos_mask_queue``
    ``(B, K)`` bool: the queue entries mined as positives in the OTHER view (e.g. flow), from
    :func:`mine_topk_positives` on a bank aligned row by row with ``queue``::

        keys = [k; queue]                                  (B + K, D)
        M(i) = { queue_m : pos_mask_queue[i, m] }          (the mined positives of row i)
        P(i) = M(i)              if dropped and M(i) is not empty
               { k_i } + M(i)    otherwise
        L    = multi_positive_nce(q, keys, P, tau, form="log_sum")
             = 1/B sum_i -log sum_{p in P(i)} softmax_p(q_i . keys / tau)

    **Dropping the self positive** (the authors' main_coclr.py, ``train_one_epoch``): the model starts
    from InfoNCE, so ``k_i`` is already easy; in 90 % of the steps the authors remove it from the
    positives of every row that has other positives (``mask[mask_sum != 1, 0] = 0``), so that the
    loss is spent on the mined ones. The draw is ONE per step (per call), shared by all rows: Python's
    ``random.random() < 0.9`` there; here ``u = torch.rand((), generator=generator)`` (torch's global
    RNG when ``generator`` is None, whose state :func:`vidkit.train.train` checkpoints, so a resumed
    run draws the same) and "dropped" means ``u < drop_self_prob``. The draw is made only when
    ``0 < drop_self_prob < 1``: ``1`` always drops, ``0`` never does (the loss before this option,
    and no RNG is consumed). Rows without mined positives always keep ``k_i`` (they would have no
    positive otherwise); ``k_i`` stays in the denominator either way. ``drop_self_prob`` defaults to
    the authors' 0.9.

    With an all-False ``pos_mask_queue`` this is :func:`info_nce` with the queue. Two details of
    CoCLR's code: it mines only once the queue is full (plain InfoNCE before), and it also counts
    queue clips of the same *source video* as positives: OR ``video[:, None] == queue_video[None, :]``
    into the mask to do the same (such rows then count as having mined positives for the drop, as
    in the authors' ``mask_sum != 1``). Unlike MoCo/CoCLR, the other batch keys ``k_j`` (j != i) are
    extra negatives here, as in :func:`info_nce`.
    """
    _check_embeddings("q", q)
    _check_embeddings("k", k, rows=q.shape[0], dim=q.shape[1])
    _check_embeddings("queue", queue, dim=q.shape[1], allow_empty=True)
    b, n = q.shape[0], queue.shape[0]
    if not isinstance(pos_mask_queue, torch.Tensor) or pos_mask_queue.dtype != torch.bool:
        got = pos_mask_queue.dtype if isinstance(pos_mask_queue, torch.Tensor) else type(pos_mask_queue).__name__
        raise TypeError(f"pos_mask_queue must be a bool tensor (B, K) = ({b}, {n}), got {got}")
    if tuple(pos_mask_queue.shape) != (b, n):
        raise ValueError(f"pos_mask_queue must have shape (B, K) = ({b}, {n}), got {tuple(pos_mask_queue.shape)}")
    if (isinstance(drop_self_prob, bool) or not isinstance(drop_self_prob, int | float)
            or not 0 <= drop_self_prob <= 1):
        raise ValueError(f"drop_self_prob must be a number in [0, 1] (the authors use 0.9), got {drop_self_prob!r}")
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator or None, got {type(generator).__name__}")
    keys = _stack_keys(k, queue)
    mined = pos_mask_queue.to(q.device)
    own = torch.ones(b, dtype=torch.bool, device=q.device)                   # is k_i a positive of row i?
    if drop_self_prob == 1:
        drop = True
    elif drop_self_prob == 0:
        drop = False
    else:  # one draw per call, on the generator's device (CPU for the global RNG)
        device = generator.device if generator is not None else torch.device("cpu")
        drop = bool(torch.rand((), generator=generator, device=device) < drop_self_prob)
    if drop:
        own = ~mined.any(dim=1)                                               # only rows without mined ones
    diagonal = torch.diag(own)                                                # (B, B)
    pos_mask = torch.cat([diagonal, mined], dim=1)                           # (B, B + K)
    return multi_positive_nce(q, keys, pos_mask, temperature, form="log_sum")


# ----------------------------------------------------------------------------- CoCLR mining

@torch.no_grad()
def mine_topk_positives(query_other: torch.Tensor, bank_other: torch.Tensor, k: int,
                        query_index: torch.Tensor | None = None,
                        bank_index: torch.Tensor | None = None) -> torch.Tensor:
    """CoCLR's positive mining: each query's top-``k`` neighbours in the OTHER view, as a bool mask.

    ``query_other`` ``(B, D)``: the batch's embeddings in the other view (CoCLR: the flow momentum keys);
    ``bank_other`` ``(N, D)``: the bank to search in that view (e.g. the flow queue, aligned row by row
    with the queue the mask is used on). With cosine similarity ``c_in`` (rows L2-normalised)::

        c_in = query_other_i . bank_other_n
        mask[i, n] = True  iff  n is among the k largest c_in over the allowed n

    The clip itself is never picked: with ``query_index`` ``(B,)`` and ``bank_index`` ``(N,)``
    (integer sample ids, e.g. :attr:`MoCoQueue.indices`), bank entries whose id equals the query's
    are excluded (-1, "unknown", never equals a real id). ``k`` must be between 1 and the smallest
    number of allowed entries of any query. Ties are broken by bank position, lower first (a
    stable sort), so the result is deterministic. Returns a ``(B, N)`` bool tensor with exactly
    ``k`` True per row. No gradient flows through mining.
    """
    _check_embeddings("query_other", query_other)
    _check_embeddings("bank_other", bank_other, dim=query_other.shape[1])
    b, n = query_other.shape[0], bank_other.shape[0]
    qn = _normalize(query_other)
    sim = qn @ _normalize(bank_other, like=qn).T                             # (B, N) cosine similarities
    if (query_index is None) != (bank_index is None):
        raise ValueError("mine_topk_positives: pass query_index and bank_index together (or neither)")
    allowed = n
    if query_index is not None:
        for name, idx, rows in (("query_index", query_index, b), ("bank_index", bank_index, n)):
            if not isinstance(idx, torch.Tensor) or idx.dtype.is_floating_point or idx.dtype == torch.bool:
                got = idx.dtype if isinstance(idx, torch.Tensor) else type(idx).__name__
                raise TypeError(f"{name} must be an integer tensor ({rows},), got {got}")
            if tuple(idx.shape) != (rows,):
                raise ValueError(f"{name} must have shape ({rows},), got {tuple(idx.shape)}")
        same_clip = query_index.to(sim.device)[:, None] == bank_index.to(sim.device)[None, :]  # (B, N)
        sim = sim.masked_fill(same_clip, -math.inf)
        allowed = n - int(same_clip.sum(dim=1).max())
    check_int("k", k, 1, allowed, " (bank entries available to every query, the clip itself excluded)")
    order = torch.sort(sim, dim=1, descending=True, stable=True).indices    # ties: lower position first
    mask = torch.zeros(b, n, dtype=torch.bool, device=sim.device)
    return mask.scatter_(1, order[:, :k], True)


# ----------------------------------------------------------------------------- MoCo

class MoCoQueue(nn.Module):
    """A FIFO ring buffer of the ``size`` most recent keys ``(size, dim)``, with their labels and ids.

    :meth:`enqueue` writes a batch of keys (L2-normalised on the way in, detached) over the oldest
    entries. Each key may carry an integer class ``label`` (for :func:`uber_nce`) and a sample
    ``index`` (for :func:`mine_topk_positives` to skip the clip itself); -1 marks "not given".

    The queue starts EMPTY (MoCo's code starts from random keys instead): until ``size`` keys have
    been enqueued, :attr:`keys`, :attr:`labels` and :attr:`indices` return only the filled part, so
    early losses see fewer negatives. All three are ordered oldest first and aligned row by row.
    A batch larger than the queue is allowed: it behaves as if enqueued one key at a time, so only
    its last ``size`` keys remain. Everything lives in buffers, so the queue moves with ``.to()``
    and is saved and restored by ``state_dict()`` (a resumed run continues with the same queue).

    The MoCo order is: compute the loss against the current queue, THEN enqueue the batch's keys.
    """

    def __init__(self, size: int, dim: int, dtype: torch.dtype = torch.float32):
        super().__init__()
        for name, value in (("size", size), ("dim", dim)):
            check_int(f"MoCoQueue: {name}", value)
        if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
            raise TypeError(f"MoCoQueue: dtype must be a floating torch.dtype, got {dtype!r}")
        self.size, self.dim = size, dim
        self.register_buffer("_keys", torch.zeros(size, dim, dtype=dtype))
        self.register_buffer("_labels", torch.full((size,), -1, dtype=torch.long))
        self.register_buffer("_indices", torch.full((size,), -1, dtype=torch.long))
        self.register_buffer("ptr", torch.zeros((), dtype=torch.long))     # next slot to write
        self.register_buffer("count", torch.zeros((), dtype=torch.long))   # filled slots, <= size

    def __len__(self) -> int:
        return int(self.count)

    @property
    def is_full(self) -> bool:
        return int(self.count) == self.size

    def _order(self) -> torch.Tensor:
        """Slot numbers of the filled entries, oldest first."""
        count, ptr = int(self.count), int(self.ptr)
        return (ptr - count + torch.arange(count, device=self._keys.device)) % self.size

    @property
    def keys(self) -> torch.Tensor:
        """The filled keys ``(len(self), dim)``, oldest first, L2-normalised."""
        return self._keys[self._order()]

    @property
    def labels(self) -> torch.Tensor:
        """Their labels ``(len(self),)`` (long, -1 where none was given)."""
        return self._labels[self._order()]

    @property
    def indices(self) -> torch.Tensor:
        """Their sample indices ``(len(self),)`` (long, -1 where none was given)."""
        return self._indices[self._order()]

    @torch.no_grad()
    def enqueue(self, keys: torch.Tensor, labels: torch.Tensor | None = None,
                indices: torch.Tensor | None = None) -> None:
        """Append ``keys`` ``(n, dim)`` (and ``labels`` / ``indices`` ``(n,)`` integers >= 0), replacing
        the oldest entries once the queue is full. ``n > size`` keeps the last ``size`` rows."""
        _check_embeddings("keys", keys, dim=self.dim)
        n = keys.shape[0]
        for name, values in (("labels", labels), ("indices", indices)):
            if values is not None:
                _check_labels(name, values, n)
        m = min(n, self.size)                                    # rows that survive this call
        start = int(self.ptr) + n - m                            # slot of the first survivor
        slots = (start + torch.arange(m, device=self._keys.device)) % self.size
        self._keys[slots] = _normalize(keys[n - m:]).to(self._keys)
        self._labels[slots] = -1 if labels is None else labels[n - m:].to(self._labels)
        self._indices[slots] = -1 if indices is None else indices[n - m:].to(self._indices)
        self.ptr.fill_((int(self.ptr) + n) % self.size)
        self.count.fill_(min(int(self.count) + n, self.size))

    def extra_repr(self) -> str:
        return f"size={self.size}, dim={self.dim}, filled={len(self)}"


@torch.no_grad()
def momentum_update(online: nn.Module, target: nn.Module, m: float = 0.99) -> None:
    """MoCo's momentum (EMA) update of ``target`` from ``online``, in place, without gradients::

        theta_target <- m * theta_target + (1 - m) * theta_online     for every parameter
        buffer_target <- buffer_online                                 for every buffer (e.g. BN statistics)

    ``m = 0`` copies the online model, ``m = 1`` leaves the target unchanged; MoCo uses 0.999, short
    runs 0.99. Both models must have the same parameter and buffer names and shapes (typically
    ``target = copy.deepcopy(online)`` with ``requires_grad_(False)``). Everything is checked before
    anything is written.
    """
    for name, module in (("online", online), ("target", target)):
        if not isinstance(module, nn.Module):
            raise TypeError(f"{name} must be an nn.Module, got {type(module).__name__}")
    if isinstance(m, bool) or not isinstance(m, int | float) or not 0 <= m <= 1:
        raise ValueError(f"momentum m must be a number in [0, 1], got {m!r}")
    pairs = []
    for kind, src, dst in (("parameters", dict(online.named_parameters()), dict(target.named_parameters())),
                           ("buffers", dict(online.named_buffers()), dict(target.named_buffers()))):
        if src.keys() != dst.keys():
            diff = sorted(set(src) ^ set(dst))
            raise ValueError(f"online and target must have the same {kind}; differing names: {diff[:10]}")
        for name, value in src.items():
            if value.shape != dst[name].shape:
                raise ValueError(f"{kind[:-1]} {name!r}: online shape {tuple(value.shape)} != target shape "
                                 f"{tuple(dst[name].shape)}")
        pairs.append([(value, dst[name]) for name, value in src.items()])
    params, buffers = pairs
    for src, dst in params:
        # lerp: dst + (1 - m) * (src - dst) = m * dst + (1 - m) * src, exact at m = 0 and m = 1
        dst.lerp_(src.to(dst), 1 - m)
    for src, dst in buffers:
        dst.copy_(src)


# ----------------------------------------------------------------------------- attention

def attention_regulariser(spatial: torch.Tensor) -> torch.Tensor:
    """Sharma et al.'s doubly stochastic attention penalty, averaged over the batch (a 0-dim tensor).

    ``spatial`` ``(B, T, K, K)``: attention weights ``a_{t,i}`` over the ``L = K*K`` locations ``i`` of
    each frame (each frame's map sums to 1, e.g. :attr:`vidkit.models.AttentionOutput.spatial`)::

        R_b = sum_i ( 1 - sum_t a_{t,i} )^2        (i over the L locations, t over the T frames)
        R   = 1/B sum_b R_b

    Each frame's map already sums to 1 over the locations; the penalty asks that each *location*
    also receives a total of about 1 over time, i.e. that the model does not look at the same place in
    every frame (Sharma, Kiros & Salakhutdinov 2015, eq. 9; Xu et al. 2015's "doubly stochastic
    attention"). Since the total mass is T, R cannot reach 0 unless ``T == L``: its minimum,
    ``L (1 - T/L)^2``, is at equal totals ``T / L`` per location (36 for T = 16 frames on an 8 x 8 grid).
    Computed in float32 at least.
    """
    if not isinstance(spatial, torch.Tensor):
        raise TypeError(f"spatial must be a torch.Tensor (B, T, K, K), got {type(spatial).__name__}")
    if not spatial.is_floating_point():
        raise TypeError(f"spatial must be a float tensor (B, T, K, K) of attention weights, got {spatial.dtype}")
    if spatial.dim() != 4 or min(spatial.shape) < 1:
        raise ValueError(f"spatial must have shape (B, T, K, K), got {tuple(spatial.shape)}")
    a = spatial.to(torch.promote_types(spatial.dtype, torch.float32)).flatten(2)   # (B, T, L)
    return (1 - a.sum(dim=1)).pow(2).sum(dim=1).mean()


# ----------------------------------------------------------------------------- text-video retrieval
#
# The three losses below train a joint video-text space (vidkit.models.text.VideoTextModel). The first two take
# the batch's similarity matrix ``sim (B, B)``: ``s_ij`` = similarity of video ``i`` and text ``j``
# (rows videos, columns texts, the matching pairs on the diagonal), e.g. cosine similarities from
# ``VideoTextModel(...)(clips, tokens, lengths)``. MIL-NCE takes the embeddings, since each clip has a
# bag of captions.

def _check_similarity(sim: object, min_size: int = 1) -> None:
    """Raise unless ``sim`` is a square float tensor ``(B, B)`` with ``B >= min_size``."""
    if not isinstance(sim, torch.Tensor):
        raise TypeError(f"sim must be a torch.Tensor (B, B) of video-text similarities, got {type(sim).__name__}")
    if not sim.is_floating_point():
        raise TypeError(f"sim must be a float tensor (B, B) of video-text similarities, got {sim.dtype}")
    if sim.dim() != 2 or sim.shape[0] != sim.shape[1] or sim.shape[0] < min_size:
        raise ValueError(f"sim must be a square (B, B) matrix (video i x text j, matches on the diagonal) with "
                         f"B >= {min_size}, got {tuple(sim.shape)}")


def max_margin_ranking(sim: torch.Tensor, margin: float = 0.1) -> torch.Tensor:
    """HowTo100M's bidirectional max-margin ranking loss (Miech et al. 2019, eq. 1), a 0-dim tensor.

    ``sim`` ``(B, B)`` with ``B >= 2``, matching video-text pairs on the diagonal; margin ``m >= 0``::

        L = 1 / (B (B - 1)) * sum_i sum_{j != i} [ max(0, m + s_ij - s_ii)      (video i: own text beats text j)
                                                 + max(0, m + s_ji - s_ii) ]    (text i: own video beats video j)

    A **mean** over the ``B (B - 1)`` ordered pairs ``(i, j != i)``, each contributing both hinges, so
    ``L = 2m`` when all similarities are equal and ``L = 0`` once every match beats every mismatch by
    ``m``. The reference code (``MaxMarginRankingLoss`` in HowTo100M's loss.py, as in
    Mixture-of-Embedding-Experts) adds the two hinge matrices into one ``B x B`` matrix and takes its
    ``.mean()``, i.e. divides the sum by ``B^2`` (not ``2 B^2``), *including* the ``B`` diagonal entries
    (each ``2m``: both hinges are the constant ``m`` there)::

        L_ref = 1/B^2 sum_{i,j} [ max(0, m + s_ij - s_ii) + max(0, m + s_ij - s_jj) ]
              = (B - 1) / B * L + 2m / B

    The same minimiser; gradients ``(B - 1) / B`` times ours, and ``L_ref = 2m`` too when all
    similarities are equal. (The reference's ``negative_weighting`` option, off by default, is not
    reproduced.) Computed in float32 at least; ``sim`` is used as given (cosines in [-1, 1] suit ``m``
    around 0.1-0.2).
    """
    _check_similarity(sim, min_size=2)
    if (isinstance(margin, bool) or not isinstance(margin, int | float) or not math.isfinite(margin)
            or margin < 0):
        raise ValueError(f"margin must be a finite number >= 0, got {margin!r}")
    s = sim.to(torch.promote_types(sim.dtype, torch.float32))
    b = s.shape[0]
    d = s.diagonal()
    video_side = F.relu(margin + s - d[:, None])        # (i, j): max(0, m + s_ij - s_ii)
    text_side = F.relu(margin + s - d[None, :])         # (j, i): max(0, m + s_ji - s_ii)
    off = ~torch.eye(b, dtype=torch.bool, device=s.device)
    return (video_side[off].sum() + text_side[off].sum()) / (b * (b - 1))


def text_video_nce(sim: torch.Tensor, temperature: float = 0.05) -> torch.Tensor:
    """Symmetric InfoNCE over the diagonal positives of a video-text similarity matrix (as CLIP), 0-dim.

    ``sim`` ``(B, B)`` (cosine similarities, NOT yet divided by the temperature ``tau``)::

        L_v2t = 1/B sum_i -log( exp(s_ii / tau) / sum_j exp(s_ij / tau) )   (video i picks its text in row i)
        L_t2v = 1/B sum_i -log( exp(s_ii / tau) / sum_j exp(s_ji / tau) )   (text i picks its video in column i)
        L     = (L_v2t + L_t2v) / 2

    A random guess scores ``log B``. Computed in float32 at least.
    """
    _check_similarity(sim)
    check_real("temperature", temperature, 0.0)
    logits = sim.to(torch.promote_types(sim.dtype, torch.float32)) / temperature
    target = torch.arange(logits.shape[0], device=logits.device)
    return (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target)) / 2


def mil_nce(video: torch.Tensor, text: torch.Tensor, temperature: float = 0.05,
            mask: torch.Tensor | None = None, symmetric: bool = True) -> torch.Tensor:
    """MIL-NCE (Miech et al. 2020, "End-to-End Learning of Visual Representations from Uncurated
    Instructional Videos"): every clip has a *bag* of captions, any of which may be the right one.

    ``video`` ``(B, D)``, ``text`` ``(B, P, D)``: ``text[i]`` is the bag ``P(i)`` of clip ``i`` (``P``
    captions), optional ``mask`` ``(B, P)`` bool (False = no caption in that slot: bags of different
    sizes; at least one True per row). All rows are L2-normalised; ``s_ijp = v_i . t_jp / tau``::

        L_i  = -log( sum_p exp(s_iip) / ( sum_p exp(s_iip) + sum_{j != i} sum_p exp(s_ijp) ) )
               (video -> text: clip i against every caption of the batch)
        L'_i = -log( sum_p exp(s_iip) / ( sum_p exp(s_iip) + sum_{j != i} sum_p exp(s_jip) ) )
               (text -> video: the bag of clip i against every clip of the batch)
        L    = 1/(2B) sum_i (L_i + L'_i)          (symmetric=True, the default)
        L    = 1/B sum_i L_i                      (symmetric=False: the formula of the paper's eq. 1, one side)

    Sums over ``p`` skip masked-out captions. The numerator sums the *probability* of the whole bag, so
    the model may put its mass on whichever caption fits (multiple-instance learning). With ``P = 1``
    and ``symmetric=True`` this is :func:`text_video_nce` on ``v @ t.T``. The authors' code uses one
    denominator holding both sides' negatives, ``sum_{j,p} exp(s_ijp) + sum_{j,p} exp(s_jip)`` (which
    counts the positives twice); here each direction is a softmax of its own, averaged as in
    :func:`text_video_nce`. Computed with ``logsumexp`` in float32 at least.
    """
    _check_embeddings("video", video)
    b, d = video.shape
    if not isinstance(text, torch.Tensor) or not text.is_floating_point():
        got = text.dtype if isinstance(text, torch.Tensor) else type(text).__name__
        raise TypeError(f"text must be a float tensor (B, P, D) = ({b}, P, {d}), got {got}")
    if text.dim() != 3 or text.shape[0] != b or text.shape[2] != d or text.shape[1] < 1:
        raise ValueError(f"text must have shape (B, P, D) = ({b}, P, {d}) with P >= 1 (a bag of P captions "
                         f"per clip), got {tuple(text.shape)}")
    p = text.shape[1]
    if mask is not None:
        if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool:
            got = mask.dtype if isinstance(mask, torch.Tensor) else type(mask).__name__
            raise TypeError(f"mask must be a bool tensor (B, P) = ({b}, {p}), got {got}")
        if tuple(mask.shape) != (b, p):
            raise ValueError(f"mask must have shape (B, P) = ({b}, {p}), got {tuple(mask.shape)}")
        empty = (~mask.any(dim=1)).nonzero().flatten().tolist()
        if empty:
            raise ValueError(f"every bag needs at least one caption (a True in mask); empty bags: {empty[:10]}")
    check_real("temperature", temperature, 0.0)
    v = _normalize(video)
    t = _normalize(text.reshape(b * p, d), like=v).view(b, p, d)
    logits = torch.einsum("id,jpd->ijp", v, t) / temperature             # (B videos, B bags, P)
    if mask is not None:
        logits = logits.masked_fill(~mask.to(logits.device)[None], -math.inf)
    log_pos = torch.logsumexp(logits.diagonal(dim1=0, dim2=1).T, dim=1)  # (B,) log sum_p exp(s_iip)
    v2t = torch.logsumexp(logits.flatten(1), dim=1) - log_pos                  # over all (j, p) for video i
    if not symmetric:
        return v2t.mean()
    t2v = torch.logsumexp(logits.transpose(0, 1).flatten(1), dim=1) - log_pos  # over all (video j, p) for bag i
    return (v2t.mean() + t2v.mean()) / 2
