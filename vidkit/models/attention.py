"""Attention for action recognition: where (in a frame) and when (in a clip) a model looks.

Every classifier here reads a clip ``x`` ``(B, T, C, H, W)`` (frames in [0, 1]) and returns an
:class:`AttentionOutput`: class logits for one or more label heads, plus the attention weights it used,
so that a notebook can draw them over the frames and score them against the actor's boxes
(:func:`vidkit.eval.attention.pointing_game`, :func:`vidkit.eval.attention.attention_mass`).

The building blocks, top to bottom:

* :func:`dot_product_attention`: one query against N keys, ``softmax(q . k / sqrt(D))``, then the
  weighted sum of the values. Everything below is built on it.
* :class:`FrameCNN`: a small 2D CNN applied to every frame: a ``K x K`` grid of ``D``-dim features per
  frame, ``(B, T, K*K, D)``; the "locations" that spatial attention chooses among.
* :class:`SoftAttentionLSTM` (Sharma, Kiros & Salakhutdinov 2015, "Action Recognition using Visual
  Attention"): at each frame the LSTM's previous hidden state picks a soft location in the grid; the
  attended feature (a "glimpse") is the LSTM's input. Spatial attention ``(B, T, K, K)``.
* :class:`TemporalAttentionLSTM`: an LSTM reads whole frames; the prediction attends over all ``T``
  LSTM states (query from the final state). Temporal attention ``(B, T)``.
* :class:`MultiLSTM` (Yeung et al. 2015, "Every Moment Counts"): at each step the LSTM attends over
  the ``N`` most recent frames. Temporal attention ``(B, T, N)``.
* Baselines without attention (Ng et al. 2015, "Beyond Short Snippets"): :class:`LRCNClassifier`
  (frame features -> LSTM) and :class:`PoolingClassifier` (max-pooling over time: conv, late, slow).
* :func:`attention_loss`: cross-entropy summed over the heads, plus Sharma's attention regulariser
  (:func:`vidkit.losses.attention_regulariser`).

Shared design, so that the models differ only in how they use time and space:

* one :class:`FrameCNN` per model; where a model needs one vector per frame it is
  ``frame_fc(flatten(grid))`` (a Linear + ReLU on the flattened grid, which keeps *where* things are;
  a mean over the grid would not);
* **heads**: ``heads={"action": 8, "digit": 10}`` puts one linear layer per label on the same clip
  features. Because the heads are linear, averaging per-frame logits equals applying the heads to the
  averaged features: ``logits == heads(features)`` for every model;
* BatchNorm in the CNN only (see :class:`FrameCNN`), no dropout: small and easy to read.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

import torch
import torch.nn.functional as F
from torch import nn

from vidkit.losses import attention_regulariser
from vidkit.models.encoders import check_clips
from vidkit.utils.checks import check_int, shape_text

__all__ = ["AttentionOutput", "FrameCNN", "SoftAttentionLSTM", "TemporalAttentionLSTM", "MultiLSTM",
           "LRCNClassifier", "PoolingClassifier", "attention_loss", "dot_product_attention", "DEFAULT_HEADS"]

DEFAULT_HEADS: Mapping[str, int] = MappingProxyType({"action": 8})
"""The actions suite's 8 motion classes: the default label head of every classifier."""


# ----------------------------------------------------------------------------- attention

def dot_product_attention(query: torch.Tensor, keys: torch.Tensor, values: torch.Tensor,
                          mask: torch.Tensor | None = None,
                          scale: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """Scaled dot-product attention of one query per sample over ``N`` keys.

    ``query`` ``(B, D)``, ``keys`` ``(B, N, D)``, ``values`` ``(B, N, Dv)``, optional ``mask`` ``(B, N)``
    bool (True = may be attended; at least one True per row)::

        s_n     = q . k_n / sqrt(D)          (without the sqrt(D) when scale=False)
        s_n     = -inf  where mask is False
        a       = softmax(s)                 (B, N): non-negative, sums to 1, exactly 0 where masked
        context = sum_n a_n v_n              (B, Dv)

    Returns ``(context (B, Dv), weights a (B, N))``. Dividing by ``sqrt(D)`` keeps the scores' spread
    independent of ``D`` (Vaswani et al. 2017): without it, long random vectors give near one-hot weights.
    """
    for name, x, layout in (("query", query, "(B, D)"), ("keys", keys, "(B, N, D)"),
                            ("values", values, "(B, N, Dv)")):
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor {layout}, got {type(x).__name__}")
        if not x.is_floating_point():
            raise TypeError(f"{name} must be a float tensor {layout}, got {x.dtype}")
    if query.dim() != 2 or min(query.shape) < 1:
        raise ValueError(f"query must have shape (B, D), got {tuple(query.shape)}")
    b, d = query.shape
    if keys.dim() != 3 or keys.shape[0] != b or keys.shape[2] != d or keys.shape[1] < 1:
        raise ValueError(f"keys must have shape (B, N, D) = ({b}, N, {d}) with N >= 1, got {tuple(keys.shape)}")
    n = keys.shape[1]
    if values.dim() != 3 or values.shape[:2] != (b, n):
        raise ValueError(f"values must have shape (B, N, Dv) = ({b}, {n}, Dv), got {tuple(values.shape)}")
    scores = torch.einsum("bd,bnd->bn", query, keys)                         # (B, N)
    if scale:
        scores = scores / math.sqrt(d)
    if mask is not None:
        if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool:
            got = mask.dtype if isinstance(mask, torch.Tensor) else type(mask).__name__
            raise TypeError(f"mask must be a bool tensor (B, N) = ({b}, {n}), got {got}")
        if tuple(mask.shape) != (b, n):
            raise ValueError(f"mask must have shape (B, N) = ({b}, {n}), got {tuple(mask.shape)}")
        if not bool(mask.any(dim=1).all()):
            raise ValueError("every row of mask needs at least one True (a softmax over nothing is undefined)")
        scores = scores.masked_fill(~mask.to(scores.device), -math.inf)
    weights = scores.softmax(dim=-1)                                          # (B, N)
    context = torch.einsum("bn,bnv->bv", weights.to(values.dtype), values)   # (B, Dv)
    return context, weights


# ----------------------------------------------------------------------------- features and heads

class FrameCNN(nn.Module):
    """A small 2D CNN on every frame: ``(B, T, C, H, W) -> (B, T, K*K, dim)``, ``K = grid``.

    Three 3x3 convolutions with ``width`` channels, BatchNorm and ReLU (the first two with stride 2:
    ``H / 4``), then adaptive average pooling to ``grid x grid`` (a no-op for 32 px frames and
    ``grid=8``: each cell sees a 4 x 4 pixel patch, with a 15 px receptive field). Row ``i * K + j`` of
    the output is cell ``(i, j)`` (row i from the top, column j from the left).

    Why BatchNorm: soft attention starts out uniform, so the first glimpses are global averages of the
    cell features. Without normalisation the features shrink layer by layer at PyTorch's default
    initialisation, the glimpses of different clips are nearly identical, and attention gets almost no
    gradient to sharpen (with it, a SoftAttentionLSTM fits a few clips quickly: see
    ``tests/test_attention.py``). As everywhere with BatchNorm, call
    ``model.eval()`` before evaluating, so that a clip's output does not depend on the rest of its batch.

    With ``coords=True`` the cell centre ``(x, y)`` in [-1, 1] is appended to every cell's feature, so
    ``dim = width + 2``. A soft-attention glimpse is a weighted average of cell features; without its
    coordinates it would say *what* was attended but not *where*, and the actions differ by where the
    digit goes. (Zero padding leaks some position into the features anyway; this makes it explicit.)
    """

    def __init__(self, in_channels: int = 1, width: int = 32, grid: int = 8, coords: bool = True):
        super().__init__()
        for name, value in {"in_channels": in_channels, "width": width, "grid": grid}.items():
            check_int(f"FrameCNN: {name}", value)
        self.in_channels, self.grid, self.dim = in_channels, grid, width + (2 if coords else 0)
        self.net = nn.Sequential(
            nn.Conv2d(in_channels, width, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU(),
            nn.Conv2d(width, width, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU(),
            nn.Conv2d(width, width, 3, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU(),
        )
        centres = (torch.arange(grid, dtype=torch.float32) * 2 + 1) / grid - 1   # (K,) in (-1, 1)
        yy, xx = torch.meshgrid(centres, centres, indexing="ij")
        xy = torch.stack([xx.flatten(), yy.flatten()], dim=-1)                   # (K*K, 2): (x, y) per cell
        self.register_buffer("xy", xy if coords else None, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, T, C, H, W) -> (B, T, K*K, dim)``."""
        check_clips(x, self.in_channels, type(self).__name__)
        b, t, _, h, w = x.shape
        f = self.net(x.flatten(0, 1))                                             # (B*T, width, ~H/4, ~W/4)
        if min(f.shape[-2:]) < self.grid:
            raise ValueError(f"FrameCNN: {h}x{w} frames give a {f.shape[-2]}x{f.shape[-1]} feature map, smaller "
                             f"than grid={self.grid}; frames must be at least {4 * self.grid} px")
        f = F.adaptive_avg_pool2d(f, self.grid)                                   # (B*T, width, K, K)
        f = f.flatten(2).transpose(1, 2).reshape(b, t, self.grid ** 2, -1)       # (B, T, K*K, width)
        if self.xy is not None:
            f = torch.cat([f, self.xy.to(f.dtype).expand(b, t, -1, -1)], dim=-1)
        return f


def _check_heads(heads: object, owner: str) -> dict[str, int]:
    if not isinstance(heads, Mapping) or not heads:
        raise ValueError(f"{owner}: heads must be a non-empty mapping name -> number of classes, e.g. "
                         f"{{'action': 8, 'digit': 10}}, got {heads!r}")
    for name, classes in heads.items():
        if not isinstance(name, str) or not name or "." in name:
            raise ValueError(f"{owner}: head names must be non-empty strings without '.', got {name!r}")
        check_int(f"{owner}: heads[{name!r}]", classes, 2, what=" (classes)")
    return dict(heads)


class Heads(nn.Module):
    """One linear layer per label: ``(..., in_dim) -> {name: (..., classes)}``."""

    def __init__(self, in_dim: int, heads: Mapping[str, int], owner: str = "Heads"):
        super().__init__()
        self.sizes = _check_heads(heads, owner)
        self.layers = nn.ModuleDict({name: nn.Linear(in_dim, c) for name, c in self.sizes.items()})

    def forward(self, z: torch.Tensor) -> dict[str, torch.Tensor]:
        return {name: layer(z) for name, layer in self.layers.items()}


@dataclass
class AttentionOutput:
    """What every classifier in this module returns.

    * ``logits``: ``{head: (B, C)}`` clip-level class logits (what :func:`attention_loss` scores);
    * ``features``: ``(B, D)`` the clip embedding the heads read (``logits == heads(features)``); use it
      for linear probes and retrieval;
    * ``frame_logits``: ``{head: (B, T, C)}`` one prediction per frame (``None`` where a model has none);
    * ``spatial``: ``(B, T, K, K)`` where each frame was looked at; sums to 1 over the ``K*K`` cells of
      every frame (``None`` without spatial attention);
    * ``temporal``: ``(B, T)`` weights over all frames (sum to 1 over T), or ``(B, T, N)`` weights of
      step t over its window of the N most recent frames (sum to 1 over N, 0 where masked); ``None``
      without temporal attention.
    """

    logits: dict[str, torch.Tensor]
    features: torch.Tensor
    frame_logits: dict[str, torch.Tensor] | None = None
    spatial: torch.Tensor | None = None
    temporal: torch.Tensor | None = None


class _Classifier(nn.Module):
    """The parts every model shares: a :class:`FrameCNN`, a ``frame_fc`` for one vector per frame, heads."""

    def __init__(self, heads: Mapping[str, int], in_channels: int, width: int, grid: int, hidden: int,
                 frame_fc: bool = True):
        super().__init__()
        owner = type(self).__name__
        check_int(f"{owner}: hidden", hidden)
        self.cnn = FrameCNN(in_channels, width, grid)
        self.in_channels, self.grid, self.hidden = in_channels, grid, hidden
        self.frame_fc = nn.Sequential(nn.Linear(grid * grid * self.cnn.dim, hidden), nn.ReLU()) if frame_fc else None
        self.heads = Heads(hidden, heads, owner)

    def frame_features(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, T, C, H, W) -> (B, T, hidden)``: ``frame_fc`` of each frame's flattened feature grid."""
        return self.frame_fc(self.cnn(x).flatten(2))


# ----------------------------------------------------------------------------- spatial attention

class SoftAttentionLSTM(_Classifier):
    """Sharma, Kiros & Salakhutdinov 2015: an LSTM that looks at one soft location per frame.

    ``forward(x (B, T, C, H, W)) -> AttentionOutput`` with ``spatial`` ``(B, T, K, K)``. With the frame
    features ``f_t`` ``(B, K*K, D)`` from :class:`FrameCNN`::

        f_bar      = mean of f over all frames and locations           (B, D)
        h_0, c_0   = tanh(W_h f_bar + b), tanh(W_c f_bar + b)           (the paper's init MLPs)
        q_t        = W_q h_{t-1}                                        (B, D): the query
        glimpse_t, a_t = dot_product_attention(q_t, f_t, f_t)           a_t (B, K*K): where to look
        h_t, c_t   = LSTMCell(glimpse_t, (h_{t-1}, c_{t-1}))
        frame_logits_t = heads(h_t);   logits = mean_t frame_logits_t = heads(mean_t h_t)

    Sharma scores locations with ``softmax(W h_{t-1})``, one learned weight vector per location: a
    location prior that ignores what is there. Here the score is the dot product of a query with each
    cell's feature, so the model can look for a *kind* of content wherever it is; with the cell
    coordinates in the features (``FrameCNN(coords=True)``) the query can still express a location
    prior ``q_x x + q_y y``. The attention is computed from ``h_{t-1}``, before frame t is read.

    Averaging the per-frame *logits* or the per-frame *log-probabilities* gives the same softmax (they
    differ by a per-frame constant); the paper averages per-frame predictions at test time and trains
    with a loss at every frame, here the loss is on the averaged logits. Add
    ``reg * attention_regulariser(spatial)`` (:func:`attention_loss` does) for the paper's
    doubly-stochastic penalty, which discourages staring at one cell in every frame.
    """

    def __init__(self, heads: Mapping[str, int] = DEFAULT_HEADS, in_channels: int = 1, width: int = 32,
                 grid: int = 8, hidden: int = 128):
        super().__init__(heads, in_channels, width, grid, hidden, frame_fc=False)  # it reads glimpses instead
        d = self.cnn.dim
        self.init_h = nn.Sequential(nn.Linear(d, hidden), nn.Tanh())
        self.init_c = nn.Sequential(nn.Linear(d, hidden), nn.Tanh())
        self.query = nn.Linear(hidden, d)
        self.cell = nn.LSTMCell(d, hidden)

    def forward(self, x: torch.Tensor) -> AttentionOutput:
        f = self.cnn(x)                                        # (B, T, K*K, D)
        b, t = f.shape[:2]
        f_bar = f.mean(dim=(1, 2))                             # (B, D)
        h, c = self.init_h(f_bar), self.init_c(f_bar)          # (B, hidden) each
        hs, maps = [], []
        for step in range(t):
            glimpse, a = dot_product_attention(self.query(h), f[:, step], f[:, step])  # (B, D), (B, K*K)
            h, c = self.cell(glimpse, (h, c))
            hs.append(h)
            maps.append(a)
        hs = torch.stack(hs, dim=1)                            # (B, T, hidden)
        features = hs.mean(dim=1)                              # (B, hidden)
        return AttentionOutput(logits=self.heads(features), features=features, frame_logits=self.heads(hs),
                               spatial=torch.stack(maps, dim=1).view(b, t, self.grid, self.grid))


# ----------------------------------------------------------------------------- temporal attention

class TemporalAttentionLSTM(_Classifier):
    """An LSTM over frame features; the prediction attends over all its states. ``temporal`` ``(B, T)``.

    With ``g_t = frame_fc(flatten(FrameCNN grid of frame t))`` ``(B, hidden)``::

        s_1 .. s_T = LSTM(g_1 .. g_T)                      (B, T, hidden): one state per frame
        q          = W_q s_T                               (B, attn_dim): "what am I looking for?"
        k_t, v_t   = W_k s_t, W_v s_t                      (B, T, attn_dim), (B, T, hidden)
        features, a = dot_product_attention(q, k, v)       a (B, T): which moments matter
        logits     = heads(features);  frame_logits_t = heads(v_t)

    The usual query / key / value split of dot-product attention: keys say what each moment offers,
    values what it contributes, the query what the final state asks for. Because the heads are linear
    and ``a`` sums to 1, ``logits = sum_t a_t frame_logits_t``: an attention-weighted vote of frames.
    """

    def __init__(self, heads: Mapping[str, int] = DEFAULT_HEADS, in_channels: int = 1, width: int = 32,
                 grid: int = 8, hidden: int = 128, attn_dim: int = 64):
        super().__init__(heads, in_channels, width, grid, hidden)
        check_int(f"{type(self).__name__}: attn_dim", attn_dim)
        self.lstm = nn.LSTM(hidden, hidden, batch_first=True)
        self.query = nn.Linear(hidden, attn_dim)
        self.key = nn.Linear(hidden, attn_dim)
        self.value = nn.Linear(hidden, hidden)

    def forward(self, x: torch.Tensor) -> AttentionOutput:
        states, _ = self.lstm(self.frame_features(x))         # (B, T, hidden)
        values = self.value(states)                            # (B, T, hidden)
        features, a = dot_product_attention(self.query(states[:, -1]), self.key(states), values)
        return AttentionOutput(logits=self.heads(features), features=features, frame_logits=self.heads(values),
                               temporal=a)


class MultiLSTM(_Classifier):
    """Yeung et al. 2015 ("Every Moment Counts"): each LSTM step attends over the N most recent frames.

    ``temporal`` ``(B, T, N)``: ``temporal[b, t, n]`` is the weight of frame ``t - N + 1 + n`` (oldest
    first; ``n = N - 1`` is frame t itself) in step t's input. At the start the window reaches before
    frame 0: those positions are masked and get weight exactly 0, so each row still sums to 1. With
    ``g_t = frame_fc(flatten(grid of frame t))`` ``(B, hidden)`` and ``h_0 = c_0 = 0``::

        window_t  = g_{t-N+1} .. g_t                               (B, N, hidden), masked where < 0
        input_t, a_t = dot_product_attention(W_q h_{t-1}, W_k window_t, window_t, mask_t)
        h_t, c_t  = LSTMCell(input_t, (h_{t-1}, c_{t-1}))
        frame_logits_t = heads(h_t);   logits = mean_t frame_logits_t = heads(mean_t h_t)

    The paper's LSTM also *outputs* predictions for all N frames of its window (dense multi-label
    action detection); a clip here has one label, so one prediction per step, averaged, is enough.
    """

    def __init__(self, heads: Mapping[str, int] = DEFAULT_HEADS, in_channels: int = 1, width: int = 32,
                 grid: int = 8, hidden: int = 128, window: int = 4, attn_dim: int = 64):
        super().__init__(heads, in_channels, width, grid, hidden)
        for name, value in {"window": window, "attn_dim": attn_dim}.items():
            check_int(f"{type(self).__name__}: {name}", value)
        self.window = window
        self.query = nn.Linear(hidden, attn_dim)
        self.key = nn.Linear(hidden, attn_dim)
        self.cell = nn.LSTMCell(hidden, hidden)

    def forward(self, x: torch.Tensor) -> AttentionOutput:
        g = self.frame_features(x)                             # (B, T, hidden)
        b, t, _ = g.shape
        n = self.window
        padded = F.pad(g, (0, 0, n - 1, 0))                    # (B, N - 1 + T, hidden): zeros before frame 0
        windows = padded.unfold(1, n, 1).transpose(2, 3)       # (B, T, N, hidden): windows[:, t, n] = g[t-N+1+n]
        keys = self.key(windows)                               # (B, T, N, attn_dim)
        frame = torch.arange(t, device=g.device)[:, None] - (n - 1) + torch.arange(n, device=g.device)
        valid = frame >= 0                                     # (T, N)
        h = c = g.new_zeros(b, self.hidden)
        hs, weights = [], []
        for step in range(t):
            inp, a = dot_product_attention(self.query(h), keys[:, step], windows[:, step],
                                           mask=valid[step].expand(b, n))
            h, c = self.cell(inp, (h, c))
            hs.append(h)
            weights.append(a)
        hs = torch.stack(hs, dim=1)                            # (B, T, hidden)
        features = hs.mean(dim=1)
        return AttentionOutput(logits=self.heads(features), features=features, frame_logits=self.heads(hs),
                               temporal=torch.stack(weights, dim=1))


# ----------------------------------------------------------------------------- baselines (no attention)

class LRCNClassifier(_Classifier):
    """Frame features -> LSTM -> heads, no attention (Donahue et al. 2015; Ng et al. 2015's LSTM).

    ``g_t = frame_fc(flatten(grid of frame t))``, ``s_1 .. s_T = LSTM(g)``, ``frame_logits_t =
    heads(s_t)``. ``pool="last"``: classify the final state, ``features = s_T``. ``pool="mean"``: average
    the per-frame predictions, ``features = mean_t s_t`` (Ng et al.'s choice at test time).
    """

    def __init__(self, heads: Mapping[str, int] = DEFAULT_HEADS, in_channels: int = 1, width: int = 32,
                 grid: int = 8, hidden: int = 128, pool: str = "last"):
        super().__init__(heads, in_channels, width, grid, hidden)
        if pool not in ("last", "mean"):
            raise ValueError(f"LRCNClassifier: pool must be 'last' or 'mean', got {pool!r}")
        self.pool = pool
        self.lstm = nn.LSTM(hidden, hidden, batch_first=True)

    def forward(self, x: torch.Tensor) -> AttentionOutput:
        states, _ = self.lstm(self.frame_features(x))         # (B, T, hidden)
        features = states[:, -1] if self.pool == "last" else states.mean(dim=1)
        return AttentionOutput(logits=self.heads(features), features=features, frame_logits=self.heads(states))


class PoolingClassifier(_Classifier):
    """Ng et al. 2015's feature pooling: a max over time, placed at one of three depths. No attention.

    With the :class:`FrameCNN` grid ``f`` ``(B, T, K*K, D)`` and ``frame_fc`` = Linear + ReLU on a
    flattened grid (``K*K*D -> hidden``):

    * ``pool="conv"``: max-pool the conv grids over all frames, cell by cell, then the FC layer:
      ``features = frame_fc(flatten(max_t f_t))``. Keeps *where* a feature fired, not *when*.
    * ``pool="late"``: the FC layer on every frame, then a max over time:
      ``features = max_t frame_fc(flatten(f_t))``; ``frame_logits_t = heads(frame_fc(f_t))``.
    * ``pool="slow"``: max-pool the grids over short windows (``window`` frames, every ``stride``
      frames), the shared FC layer on each window, then a max over the windows:
      ``features = max_w frame_fc(flatten(max_{t in w} f_t))``. Local motion first, then the clip.

    Max-pooling over time is blind to frame order (``conv``, ``late``), or nearly so (``slow``): these
    baselines show how much of an action can be read without the order of events.
    """

    def __init__(self, heads: Mapping[str, int] = DEFAULT_HEADS, pool: str = "conv", in_channels: int = 1,
                 width: int = 32, grid: int = 8, hidden: int = 128, window: int = 4, stride: int = 2):
        super().__init__(heads, in_channels, width, grid, hidden)
        if pool not in ("conv", "late", "slow"):
            raise ValueError(f"PoolingClassifier: pool must be 'conv', 'late' or 'slow', got {pool!r}")
        for name, value in {"window": window, "stride": stride}.items():
            check_int(f"{type(self).__name__}: {name}", value)
        self.pool, self.window, self.stride = pool, window, stride

    def forward(self, x: torch.Tensor) -> AttentionOutput:
        f = self.cnn(x)                                        # (B, T, K*K, D)
        frame_logits = None
        if self.pool == "conv":
            features = self.frame_fc(f.amax(dim=1).flatten(1))                  # (B, hidden)
        elif self.pool == "late":
            g = self.frame_fc(f.flatten(2))                                      # (B, T, hidden)
            features, frame_logits = g.amax(dim=1), self.heads(g)
        else:
            if f.shape[1] < self.window:
                raise ValueError(f"PoolingClassifier(pool='slow'): clips need at least window={self.window} "
                                 f"frames, got T={f.shape[1]}")
            local = f.unfold(1, self.window, self.stride).amax(dim=-1)          # (B, windows, K*K, D)
            features = self.frame_fc(local.flatten(2)).amax(dim=1)              # (B, hidden)
        return AttentionOutput(logits=self.heads(features), features=features, frame_logits=frame_logits)


# ----------------------------------------------------------------------------- loss

def attention_loss(output: AttentionOutput, labels: Mapping[str, torch.Tensor],
                   reg: float = 0.0) -> tuple[torch.Tensor, dict[str, float]]:
    """Training loss for any classifier here: ``sum_heads CE(logits[h], labels[h]) + reg * R(spatial)``.

    ``labels`` maps every head of ``output.logits`` to a ``(B,)`` integer tensor of classes (extra keys,
    e.g. a batch's ``"frames"``, are ignored). ``R`` is Sharma's doubly-stochastic attention penalty
    :func:`vidkit.losses.attention_regulariser`, added when ``output.spatial`` is not None and ``reg > 0``
    (Sharma et al. use ``reg = 1``; it cannot reach 0, see its docstring).

    Returns ``(loss, logs)`` with ``logs = {"ce_<head>": float, "acc_<head>": float}`` and, for models with
    spatial attention, ``"reg"``: the penalty's value (logged even when ``reg = 0``). This is the
    ``(loss, dict)`` pair that :func:`vidkit.train.train`'s ``loss_fn`` may return.
    """
    if not isinstance(output, AttentionOutput):
        raise TypeError(f"output must be an AttentionOutput, got {type(output).__name__}")
    if not isinstance(labels, Mapping):
        raise TypeError(f"labels must be a mapping head -> (B,) class tensor, got {type(labels).__name__}")
    if isinstance(reg, bool) or not isinstance(reg, int | float) or not math.isfinite(reg) or reg < 0:
        raise ValueError(f"reg must be a finite number >= 0, got {reg!r}")
    loss, logs = None, {}
    for name, logits in output.logits.items():
        if name not in labels:
            raise KeyError(f"labels has no entry for head {name!r} (heads: {sorted(output.logits)}, "
                           f"labels: {sorted(labels)})")
        y = labels[name]
        b, classes = logits.shape
        if not isinstance(y, torch.Tensor) or y.dtype.is_floating_point or y.dtype == torch.bool:
            raise TypeError(f"labels[{name!r}] must be an integer tensor ({b},), got {shape_text(y)} "
                            f"{getattr(y, 'dtype', '')}")
        if tuple(y.shape) != (b,):
            raise ValueError(f"labels[{name!r}] must have shape ({b},), got {tuple(y.shape)}")
        y = y.to(logits.device)
        if b and (int(y.min()) < 0 or int(y.max()) >= classes):
            raise ValueError(f"labels[{name!r}] must lie in [0, {classes}), got [{int(y.min())}, {int(y.max())}]")
        ce = F.cross_entropy(logits.float(), y)
        loss = ce if loss is None else loss + ce
        logs[f"ce_{name}"] = float(ce.detach())
        logs[f"acc_{name}"] = float((logits.detach().argmax(dim=1) == y).float().mean())
    if output.spatial is not None:
        r = attention_regulariser(output.spatial)
        logs["reg"] = float(r.detach())
        if reg > 0:
            loss = loss + reg * r
    return loss, logs
