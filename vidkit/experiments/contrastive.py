"""Self-supervised pretraining on the actions suite: InfoNCE (MoCo), UberNCE, CoCLR, Srivastava, fine-tuning.

Every method is a *loss function for one batch*, ``loss(model, batch, step)``, trained by the kit's one
loop (:func:`vidkit.train.train`, which passes the step; these losses do not use it, and their options are
keyword-only); read them top to bottom:

* :func:`vidkit.models.moco.infonce_loss`: two augmented views of a clip are a positive pair; the momentum
  encoder's keys of other clips (the batch and a queue) are negatives (MoCo, He et al. 2020).
* :func:`ubernce_loss`: the oracle: every clip with the same *label* is a positive (CoCLR's UberNCE),
  by default in the authors' form ``-mean_p log softmax_p`` (``form="mean_log"``).
* :func:`coclr_loss_fn`: CoCLR (Han et al. 2020): train one view (e.g. RGB) while the other view's
  encoder (e.g. flow), frozen, mines the top-K nearest clips of the queue as extra positives; the
  loss is ``-log sum_p softmax_p`` (``"log_sum"``), and the clip's own positive is dropped in 90 % of
  the steps (``drop_self_prob``), both as in the authors' code.
* :func:`srivastava_pretrain_loss`: the composite LSTM's reconstruction + future loss.

The model trained by the contrastive losses is a :class:`vidkit.models.moco.MoCo`: an encoder, its projection
head, momentum copies of both, and a queue of keys. Data comes from :func:`vidkit.data.batches.clip_batches`, an endless,
seeded, shuffled stream of ``{"rgb", "flow", "action", "digit", "index"}`` batches, and the schedule from
:func:`vidkit.models.moco.pretrain`; the sizes from the profile's budget, ``vidkit.profile().contrastive``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from vidkit.losses import MoCoQueue, NCEForm, coclr_loss, mine_topk_positives, uber_nce
from vidkit.models.moco import CROP_SCALE, MoCo, _views

__all__ = ["ubernce_loss", "coclr_loss_fn", "srivastava_pretrain_loss", "finetune", "label_subset"]


def ubernce_loss(model: MoCo, batch: Mapping[str, torch.Tensor], _step: int = 0, *, length: int = 12,
                 label: str = "action", crop_scale: tuple[float, float] = CROP_SCALE,
                 form: NCEForm = "mean_log") -> tuple[torch.Tensor, dict]:
    """UberNCE, the supervised oracle: as :func:`vidkit.models.moco.infonce_loss`, but every key (batch or queue) whose
    ``label`` equals the query's is a positive (see :func:`vidkit.losses.uber_nce`). With ``p_in`` the
    softmax of ``q_i . key_n / tau`` over all keys and ``P(i)`` the keys sharing clip ``i``'s label::

        form="mean_log" (default, the authors' UberNCE):  L_i = -1/|P(i)| sum_{p in P(i)} log p_ip
        form="log_sum"  (CoCLR's loss, the kit's UberNCE until 2026-11-30):  L_i = -log sum_{p in P(i)} p_ip

    Pass the form with ``functools.partial(ubernce_loss, form="log_sum")``."""
    if label not in batch:
        raise KeyError(f"ubernce_loss: the batch has no label {label!r} (it has {sorted(batch)})")
    v1, v2 = _views(model, batch, length, crop_scale)
    q, k = model.query(v1), model.key(v2)
    queue = (model.queue.keys, model.queue.labels) if len(model.queue) else (None, None)
    loss = uber_nce(q, k, batch[label], model.temperature, *queue, form=form)
    model.queue.enqueue(k, labels=batch[label], indices=batch["index"])
    return loss, {}


class CoCLRPair(nn.Module):
    """CoCLR's second stage for one direction: ``model`` (trained) and ``other`` (frozen, other view),
    plus a queue of the other view's embeddings aligned with ``model.queue`` (which starts empty)."""

    def __init__(self, model: MoCo, other: MoCo, topk: int = 5):
        super().__init__()
        if model.view == other.view:
            raise ValueError(f"CoCLR needs two different views, got {model.view!r} twice")
        if isinstance(topk, bool) or not isinstance(topk, int) or topk < 1:
            raise ValueError(f"topk must be a positive int, got {topk!r}")
        self.model, self.other, self.topk = model, other, topk
        for p in other.parameters():
            p.requires_grad_(False)
        # two queues filled together, row for row: mined positives (other view) index the keys (this view)
        model.queue = MoCoQueue(model.queue.size, model.proj_dim)
        self.other_queue = MoCoQueue(model.queue.size, other.proj_dim)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return self.model.embed(x)


def coclr_loss_fn(pair: CoCLRPair, batch: Mapping[str, torch.Tensor], _step: int = 0, *, length: int = 12,
                  drop_self_prob: float = 0.9) -> tuple[torch.Tensor, dict]:
    """CoCLR (Han et al. 2020), one alternation step: train ``pair.model``'s view with positives mined
    in the frozen ``pair.other`` view. For query ``i`` the positives are its own key ``k_i`` and the
    ``topk`` queue entries whose OTHER-view embeddings are nearest to clip ``i``'s (never clip ``i``)::

        L_i = -log  sum_{p in P(i)} exp(q_i . key_p / tau)  /  sum_n exp(q_i . key_n / tau)   (the "log_sum" form)

    Mining starts once the queue is full (as in CoCLR); before that it is plain InfoNCE. Once it mines,
    ``k_i`` is dropped from ``P(i)`` (it stays in the denominator) in a fraction ``drop_self_prob`` of
    the steps, one draw of torch's global RNG per step, as the authors' training code does with 0.9
    (see :func:`vidkit.losses.coclr_loss`); ``drop_self_prob=0`` keeps it always (the kit's CoCLR until
    2026-11-30). Pass it with ``functools.partial(coclr_loss_fn, drop_self_prob=0.0)``.
    """
    model, other = pair.model, pair.other
    v1, v2 = _views(model, batch, length)
    q, k = model.query(v1), model.key(v2)
    other.eval()
    with torch.no_grad():
        z_other = other.query(batch[other.view][:, :length])  # frozen: the other view's embedding of the clip
    mined = 0.0
    if pair.other_queue.is_full:
        mask = mine_topk_positives(z_other, pair.other_queue.keys, pair.topk, batch["index"],
                                   pair.other_queue.indices)
        # how often a mined positive shares the clip's action: the quality of the mining, for the log
        same = (model.queue.labels[None, :] == batch["action"][:, None]) & mask
        mined = float(same.sum()) / float(mask.sum())
    else:
        mask = torch.zeros(len(q), len(model.queue), dtype=torch.bool)
    loss = coclr_loss(q, k, model.queue.keys, mask, model.temperature, drop_self_prob=drop_self_prob)
    model.queue.enqueue(k, labels=batch["action"], indices=batch["index"])
    pair.other_queue.enqueue(z_other, labels=batch["action"], indices=batch["index"])
    return loss, {"mined_same_action": mined}


def srivastava_pretrain_loss(model: nn.Module, batch: Mapping[str, torch.Tensor],
                             _step: int = 0) -> tuple[torch.Tensor, dict]:
    """Srivastava's composite objective on actions clips: the first half of the frames in, reconstruct
    them (reversed) and predict the second half (per-frame Bernoulli cross-entropy, see
    :func:`vidkit.models.srivastava_loss`)."""
    from vidkit.models.srivastava import srivastava_loss

    x = batch["rgb"]
    half = x.shape[1] // 2
    out = model(x[:, :half], steps=x.shape[1] - half, target=x[:, half:])
    return srivastava_loss(out, x[:, :half], x[:, half:])


def label_subset(labels: Any, fraction: float, seed: int = 0) -> np.ndarray:
    """Indices of a class-balanced ``fraction`` of the clips (at least one per class), seeded."""
    y = np.asarray(labels)
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    rng = np.random.default_rng(seed)
    picks = []
    for c in np.unique(y):
        idx = np.flatnonzero(y == c)
        picks.append(rng.permutation(idx)[:max(1, round(fraction * len(idx)))])
    return np.sort(np.concatenate(picks))


def finetune(encoder: nn.Module, train_x: torch.Tensor, train_y: Any, test_x: torch.Tensor, test_y: Any,
             steps: int = 200, batch_size: int = 32, lr: float = 1e-3, seed: int = 0,
             progress: bool = True) -> dict[str, float]:
    """Fine-tune ``encoder`` (all of it) + a new linear classifier on ``(train_x, train_y)``; return the test
    accuracy. The encoder is modified in place: pass a copy to keep the original."""
    from tqdm.auto import tqdm

    if not isinstance(getattr(encoder, "dim", None), int) or not hasattr(encoder, "embed"):
        raise TypeError("encoder must have embed() and an int attribute dim")
    for name, v in {"steps": steps, "batch_size": batch_size}.items():
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"{name} must be a positive int, got {v!r}")
    if not lr > 0:
        raise ValueError(f"lr must be > 0, got {lr!r}")
    y_train = torch.as_tensor(np.asarray(train_y), dtype=torch.long)
    y_test = torch.as_tensor(np.asarray(test_y), dtype=torch.long)
    if len(train_x) != len(y_train) or len(test_x) != len(y_test):
        raise ValueError("need one label per clip in train and test")
    classes = int(max(y_train.max(), y_test.max())) + 1
    device = next(encoder.parameters()).device
    torch.manual_seed(seed)
    head = nn.Linear(encoder.dim, classes).to(device)
    params = [*encoder.parameters(), *head.parameters()]
    opt = torch.optim.AdamW([p for p in params if p.requires_grad], lr=lr, weight_decay=1e-4)
    gen = torch.Generator().manual_seed(seed)
    encoder.train()
    for _ in tqdm(range(steps), desc="fine-tune", disable=not progress, leave=False):
        idx = torch.randint(0, len(train_x), (min(batch_size, len(train_x)),), generator=gen)
        loss = F.cross_entropy(head(encoder.embed(train_x[idx].to(device))), y_train[idx].to(device))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    encoder.eval()
    correct = 0
    with torch.no_grad():
        for lo in range(0, len(test_x), 256):
            pred = head(encoder.embed(test_x[lo:lo + 256].to(device))).argmax(1).cpu()
            correct += int((pred == y_test[lo:lo + 256]).sum())
    return {"accuracy": correct / len(test_x), "train_clips": len(train_x)}


