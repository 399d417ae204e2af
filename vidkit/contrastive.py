"""Self-supervised pretraining on the actions suite: InfoNCE (MoCo), UberNCE, CoCLR, Srivastava, fine-tuning.

Every method is a *loss function for one batch*, trained by the kit's one loop
(:func:`vidkit.train.train`); read them top to bottom:

* :func:`infonce_loss`: two augmented views of a clip are a positive pair; the momentum encoder's
  keys of other clips (the batch and a queue) are negatives (MoCo, He et al. 2020).
* :func:`ubernce_loss`: the oracle: every clip with the same *label* is a positive (CoCLR's UberNCE),
  by default in the authors' form ``-mean_p log softmax_p`` (``form="mean_log"``).
* :func:`coclr_loss_fn`: CoCLR (Han et al. 2020): train one view (e.g. RGB) while the other view's
  encoder (e.g. flow), frozen, mines the top-K nearest clips of the queue as extra positives; the
  loss is ``-log sum_p softmax_p`` (``"log_sum"``), and the clip's own positive is dropped in 90 % of
  the steps (``drop_self_prob``), both as in the authors' code.
* :func:`srivastava_pretrain_loss`: the composite LSTM's reconstruction + future loss.

The model trained by the contrastive losses is a :class:`MoCo`: an encoder, its projection head,
momentum copies of both, and a queue of keys. Data comes from :func:`clip_batches`, an endless,
seeded, shuffled stream of ``{"rgb", "flow", "action", "digit", "index"}`` batches.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from vidkit.augment import augment_clips
from vidkit.checkpoint import load_checkpoint, save_checkpoint
from vidkit.losses import (
    MoCoQueue,
    NCEForm,
    coclr_loss,
    info_nce,
    mine_topk_positives,
    momentum_update,
    uber_nce,
)
from vidkit.models.encoders import ProjectionHead

__all__ = ["BUDGETS", "MoCo", "notebook_moco", "notebook_srivastava", "save_encoders", "load_encoders", "clip_batches", "infonce_loss", "ubernce_loss", "coclr_loss_fn", "srivastava_pretrain_loss",
           "finetune", "label_subset"]


#: Per-profile budgets for notebook 02: pretraining steps / seconds per method, batch size, fine-tuning
#: steps, how many training clips get Farneback flow (the slowest data step: ~120 clips/s) and how many
#: training clips the frozen-feature evaluation uses (probe training set and retrieval gallery).
BUDGETS: dict[str, dict[str, Any]] = {
    "smoke": {"steps": 8, "time_s": 10, "batch": 32, "finetune_steps": 8, "farneback_clips": 128,
              "eval_train_clips": 512},
    "laptop": {"steps": 150, "time_s": 35, "batch": 64, "finetune_steps": 100, "farneback_clips": 2000,
               "eval_train_clips": 2000},
    "full": {"steps": 20000, "time_s": 3600, "batch": 256, "finetune_steps": 3000, "farneback_clips": None,
             "eval_train_clips": None},
}


class MoCo(nn.Module):
    """Encoder + projection head, their momentum copies, and a queue of keys (He et al. 2020).

    ``encoder`` has ``embed(clip (B, T, C, H, W)) -> (B, encoder.dim)``. :meth:`embed` is the
    representation we evaluate; :meth:`query` (online, with gradients) and :meth:`key` (momentum copy,
    no gradients) give ``(B, proj_dim)`` projections for the loss. ``view`` names the batch entry the
    model reads (``"rgb"`` or ``"flow"``).
    """

    def __init__(self, encoder: nn.Module, view: str = "rgb", proj_dim: int = 64, queue_size: int = 1024,
                 momentum: float = 0.99, temperature: float = 0.1):
        super().__init__()
        if view not in ("rgb", "flow"):
            raise ValueError(f"view must be 'rgb' or 'flow', got {view!r}")
        if not hasattr(encoder, "embed") or not isinstance(getattr(encoder, "dim", None), int):
            raise TypeError("encoder must be an nn.Module with embed() and an int attribute dim")
        if not 0.0 <= momentum <= 1.0 or not temperature > 0:
            raise ValueError(f"need momentum in [0, 1] and temperature > 0, got {momentum}, {temperature}")
        self.view, self.momentum, self.temperature, self.proj_dim = view, momentum, temperature, proj_dim
        self.encoder = encoder
        self.head = ProjectionHead(encoder.dim, encoder.dim, proj_dim)
        self.key_encoder, self.key_head = copy.deepcopy(encoder), copy.deepcopy(self.head)
        for p in [*self.key_encoder.parameters(), *self.key_head.parameters()]:
            p.requires_grad_(False)
        self.queue = MoCoQueue(queue_size, proj_dim)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """The representation, before the head: ``(B, T, C, H, W) -> (B, encoder.dim)``."""
        return self.encoder.embed(x)

    def query(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder.embed(x))

    @torch.no_grad()
    def key(self, x: torch.Tensor) -> torch.Tensor:
        """Momentum-update the key encoder, then project ``x`` with it (as MoCo does every step)."""
        momentum_update(self.encoder, self.key_encoder, self.momentum)
        momentum_update(self.head, self.key_head, self.momentum)
        return self.key_head(self.key_encoder.embed(x))


CROP_SCALE = (0.6, 1.0)  # default spatial crop: a random square of 60-100 % of the frame side, resized back


def _views(model: MoCo, batch: Mapping[str, torch.Tensor], length: int,
           crop_scale: tuple[float, float] = CROP_SCALE) -> tuple[torch.Tensor, torch.Tensor]:
    x = batch[model.view]
    flow = model.view == "flow"
    return (augment_clips(x, length, flow=flow, crop_scale=crop_scale),
            augment_clips(x, length, flow=flow, crop_scale=crop_scale))


def infonce_loss(model: MoCo, batch: Mapping[str, torch.Tensor], length: int = 12,
                 crop_scale: tuple[float, float] = CROP_SCALE) -> tuple[torch.Tensor, dict]:
    """InfoNCE with a queue. Two augmented views ``v1, v2`` of each clip; ``q = g(f(v1))`` online,
    ``k = g'(f'(v2))`` momentum copies::

        L = -mean_i log  exp(q_i . k_i / tau) / ( sum_j exp(q_i . k_j / tau) + sum_m exp(q_i . queue_m / tau) )

    (cosine similarities), then the keys join the queue. ``length`` is the temporal crop (frames),
    ``crop_scale`` the range of the spatial crop's side (fraction of the frame; ``(1, 1)``: no crop).
    """
    v1, v2 = _views(model, batch, length, crop_scale)
    q, k = model.query(v1), model.key(v2)
    loss = info_nce(q, k, model.temperature, model.queue.keys)
    model.queue.enqueue(k, labels=batch["action"], indices=batch["index"])
    return loss, {"queue": float(len(model.queue))}


def ubernce_loss(model: MoCo, batch: Mapping[str, torch.Tensor], length: int = 12,
                 label: str = "action", crop_scale: tuple[float, float] = CROP_SCALE,
                 form: NCEForm = "mean_log") -> tuple[torch.Tensor, dict]:
    """UberNCE, the supervised oracle: as :func:`infonce_loss`, but every key (batch or queue) whose
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


def coclr_loss_fn(pair: CoCLRPair, batch: Mapping[str, torch.Tensor], length: int = 12,
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


def srivastava_pretrain_loss(model: nn.Module, batch: Mapping[str, torch.Tensor]) -> tuple[torch.Tensor, dict]:
    """Srivastava's composite objective on actions clips: the first half of the frames in, reconstruct
    them (reversed) and predict the second half (per-frame Bernoulli cross-entropy, see
    :func:`vidkit.models.srivastava_loss`)."""
    from vidkit.models.srivastava import srivastava_loss

    x = batch["rgb"]
    half = x.shape[1] // 2
    out = model(x[:, :half], steps=x.shape[1] - half, target=x[:, half:])
    return srivastava_loss(out, x[:, :half], x[:, half:])


def clip_batches(rgb: torch.Tensor, labels: Mapping[str, Any], batch_size: int, flow: torch.Tensor | None = None,
                 seed: int = 0) -> Iterator[dict[str, torch.Tensor]]:
    """Endless shuffled batches ``{"rgb": (B, T, 1, H, W), "flow"?: (B, T-1, 2, H, W), <label>: (B,),
    "index": (B,)}`` from in-memory clips; a new permutation every epoch, seeded. Inputs are checked
    here, when it is called, not at the first batch."""
    if not isinstance(rgb, torch.Tensor) or rgb.dim() != 5 or not rgb.is_floating_point():
        got = (tuple(rgb.shape), rgb.dtype) if isinstance(rgb, torch.Tensor) else type(rgb).__name__
        raise ValueError(f"rgb must be a float tensor (N, T, C, H, W), got {got}")
    n = len(rgb)
    if flow is not None and (not isinstance(flow, torch.Tensor) or flow.dim() != 5 or len(flow) != n):
        got = tuple(flow.shape) if isinstance(flow, torch.Tensor) else type(flow).__name__
        raise ValueError(f"flow must be a tensor (N={n}, T-1, 2, H, W), got {got}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or not 1 <= batch_size <= n:
        raise ValueError(f"batch_size must be an int in 1..{n}, got {batch_size!r}")
    tensors = {k: torch.as_tensor(np.asarray(v), dtype=torch.long) for k, v in labels.items()}
    for k, v in tensors.items():
        if v.shape != (n,):
            raise ValueError(f"labels[{k!r}] must be ({n},), got {tuple(v.shape)}")
    return _endless_batches(rgb, tensors, batch_size, flow, seed)


def _endless_batches(rgb: torch.Tensor, tensors: dict[str, torch.Tensor], batch_size: int,
                     flow: torch.Tensor | None, seed: int) -> Iterator[dict[str, torch.Tensor]]:
    gen = torch.Generator().manual_seed(seed)
    n = len(rgb)
    while True:
        order = torch.randperm(n, generator=gen)
        for lo in range(0, n - batch_size + 1, batch_size):
            idx = order[lo:lo + batch_size]
            batch = {"rgb": rgb[idx], "index": idx, **{k: v[idx] for k, v in tensors.items()}}
            if flow is not None:
                batch["flow"] = flow[idx]
            yield batch


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


# --------------------------------------------------------------------------- notebook 02's encoders, kept

def notebook_moco(view: str, width: int = 16, dim: int = 128, queue_size: int = 256,
                  temperature: float = 0.1) -> MoCo:
    """The MoCo model notebook 02 trains for ``view`` ("rgb" or "flow"): a (2+1)D ``Conv3dEncoder``, a queue
    of 256 keys, momentum 0.9, temperature 0.1 (the last two can be varied, as the sweep does)."""
    from vidkit.models.encoders import Conv3dEncoder

    if view not in ("rgb", "flow"):
        raise ValueError(f"view must be 'rgb' or 'flow', got {view!r}")
    return MoCo(Conv3dEncoder(1 if view == "rgb" else 2, width=width, dim=dim), view, queue_size=queue_size,
                momentum=0.9, temperature=temperature)


def notebook_srivastava(size: int, hidden: int = 256) -> nn.Module:
    """The composite LSTM notebook 02 pretrains on ``size x size`` actions clips."""
    from vidkit.models.srivastava import SrivastavaLSTM

    return SrivastavaLSTM("composite", hidden=hidden, frame_shape=(1, size, size))


def save_encoders(encoders: Mapping[str, nn.Module], path: Any, size: int) -> Any:
    """Save notebook 02's encoders (``{name: MoCo or SrivastavaLSTM}``, built by :func:`notebook_moco` /
    :func:`notebook_srivastava`) in one checkpoint, so that notebook 04 can retrieve with them. Their
    sizes (MoCo encoder ``width``/``dim``, LSTM ``hidden``) are stored too, so :func:`load_encoders`
    rebuilds non-default sizes."""
    from vidkit.models.srivastava import SrivastavaLSTM

    entries = {}
    for name, model in encoders.items():
        if isinstance(model, MoCo):
            spec = {"kind": "moco", "view": model.view, "width": model.encoder.width, "dim": model.encoder.dim}
        elif isinstance(model, SrivastavaLSTM):
            spec = {"kind": "srivastava", "hidden": model.hidden}
        else:
            raise TypeError(f"encoders[{name!r}] must be a MoCo or a SrivastavaLSTM, got {type(model).__name__}")
        entries[name] = {**spec, "state": model.state_dict()}
    return save_checkpoint({"size": int(size), "encoders": entries}, path)


def load_encoders(path: Any) -> dict[str, nn.Module]:
    """The encoders saved by :func:`save_encoders`, rebuilt and in eval mode (checkpoint loaded with
    ``torch.load(weights_only=True)``)."""
    state = load_checkpoint(path)
    out: dict[str, nn.Module] = {}
    for name, entry in state["encoders"].items():
        if entry["kind"] == "moco":  # files written before sizes were stored hold the defaults
            model = notebook_moco(entry["view"], width=entry.get("width", 16), dim=entry.get("dim", 128))
        else:
            model = notebook_srivastava(state["size"], hidden=entry.get("hidden", 256))
        model.load_state_dict(entry["state"])
        out[name] = model.eval()
    return out
