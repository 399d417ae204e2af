"""MoCo (He et al. 2020): an encoder, its projection head, momentum copies of both and a queue of keys; its
InfoNCE loss on two augmented views of a clip; :func:`pretrain`, the one pretraining schedule every contrastive
run of the kit uses; and the contrastive encoders notebook 02 trains and saves (:func:`save_encoders`) for
notebook 04 to load (:func:`load_encoders`).

The queue and the momentum update are in :mod:`vidkit.losses` (:class:`~vidkit.losses.MoCoQueue`,
:func:`~vidkit.losses.momentum_update`), next to the contrastive losses that read them.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from vidkit.data.augment import augment_clips
from vidkit.data.batches import clip_batches
from vidkit.losses import MoCoQueue, info_nce, momentum_update
from vidkit.models.encoders import ProjectionHead
from vidkit.train import TrainConfig, TrainResult, train
from vidkit.utils.checkpoint import load_checkpoint, save_checkpoint

__all__ = ["MoCo", "CROP_SCALE", "infonce_loss", "pretrain", "notebook_moco", "notebook_srivastava", "save_encoders",
           "load_encoders"]


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


def infonce_loss(model: MoCo, batch: Mapping[str, torch.Tensor], _step: int = 0, *, length: int = 12,
                 crop_scale: tuple[float, float] = CROP_SCALE) -> tuple[torch.Tensor, dict]:
    """InfoNCE with a queue. Two augmented views ``v1, v2`` of each clip; ``q = g(f(v1))`` online,
    ``k = g'(f'(v2))`` momentum copies::

        L = -mean_i log  exp(q_i . k_i / tau) / ( sum_j exp(q_i . k_j / tau) + sum_m exp(q_i . queue_m / tau) )

    (cosine similarities), then the keys join the queue. ``length`` is the temporal crop (frames),
    ``crop_scale`` the range of the spatial crop's side (fraction of the frame; ``(1, 1)``: no crop).
    ``_step``, the training step :func:`vidkit.train.train` passes, is unused.
    """
    v1, v2 = _views(model, batch, length, crop_scale)
    q, k = model.query(v1), model.key(v2)
    loss = info_nce(q, k, model.temperature, model.queue.keys)
    model.queue.enqueue(k, labels=batch["action"], indices=batch["index"])
    return loss, {"queue": float(len(model.queue))}


def pretrain(model: nn.Module, loss_fn: Any, clips: torch.Tensor, labels: Mapping[str, Any], *, steps: int,
             batch: int, time_s: float | None = None, flow: torch.Tensor | None = None, seed: int = 0,
             train_seed: int = 0, progress: bool = True) -> TrainResult:
    """Pretrain ``model`` with ``loss_fn(model, batch, step)`` on ``clips (N, T, 1, H, W)``: the one schedule of
    notebook 02, its sweep (``benchmarks/contrastive_sweep.py``) and notebook 04's stand-in encoders.

    Batches: :func:`vidkit.data.batches.clip_batches` (``{"rgb", "flow", <labels>, "index"}``, batch size
    ``min(batch, N)``, shuffled with ``seed``). Optimiser: AdamW, peak lr 3e-3, weight decay 1e-4, 5 % linear
    warm-up, cosine decay; ``steps`` steps, or fewer if ``time_s`` seconds run out first (``None``: no time cap,
    as a comparison at equal steps wants). ``train_seed`` seeds the loop's RNGs (augmentations, CoCLR's
    self-drop draw). Returns the loop's :class:`vidkit.train.TrainResult`; ``model`` is trained in place."""
    batches = clip_batches(clips, labels, min(batch, len(clips)), flow=flow, seed=seed)
    cfg = TrainConfig(steps=steps, time_budget_s=time_s, lr=3e-3, weight_decay=1e-4,
                      warmup_steps=max(1, steps // 20), log_every=max(1, steps // 30), seed=train_seed)
    return train(model, loss_fn, batches, cfg, progress=progress)


# --------------------------------------------------------------------------- notebook 02's encoders, read by notebook 04

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
