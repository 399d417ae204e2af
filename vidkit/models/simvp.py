"""SimVP: a simple, non-recurrent video predictor (Gao et al., "SimVP: Simpler yet Better Video
Prediction", CVPR 2022; translator blocks after the gSTA variant of SimVP v2 / OpenSTL).

Three parts, read top to bottom:

1. **Encoder**, shared over time: each frame ``(C, H, W)`` becomes a latent ``(hidden_s, H/4, W/4)``
   through four conv layers (stride 1, 2, 1, 2) with GroupNorm + SiLU (``downsample=1``: two layers,
   stride 1, 2, and a latent ``(hidden_s, H/2, W/2)``). The first layer's full-resolution
   features of the *last* input frame are kept as a skip connection.
2. **Translator**: the ``in_frames`` latents are stacked on the channel axis,
   ``(B, in_frames * hidden_s, H/4, W/4)``, and mixed by ``n_translator`` gated large-kernel blocks
   (depthwise 5x5 + dilated depthwise 7x7 + pointwise gate, then a conv MLP). All of time is mixed at
   once, with no recurrence; the result is split back into ``out_frames`` latents.
3. **Decoder**, shared over time: each latent goes back up to ``(C, H, W)`` with two pixel-shuffle
   upsamplings (one when ``downsample=1``); the skip features are added before the last layer and a 1x1 conv reads out logits.

``forward`` returns logits (train with ``binary_cross_entropy_with_logits``); ``predict`` returns
probabilities and rolls out autoregressively for horizons longer than ``out_frames``.

``readout="filter"`` draws nothing itself: the decoder outputs, for each future frame and each
``patch x patch`` block of pixels, a small separable kernel (``filter_size`` taps down and across, each a
softmax) that says where in the *previous* frame those pixels' values come from, and the frames are made one after the other by applying
these kernels, starting from the last observed frame (a dynamic filter network, De Brabandere et al.,
"Dynamic Filter Networks", NeurIPS 2016). Moving MNIST digits move by a few whole pixels per frame, so a
kernel that has learnt the motion is one-hot and copies the digit without blur; what it cannot do is draw
what was never visible in the last frame (a digit coming out from under another).

``patch > 1`` adds space-to-depth around the three parts: each frame ``(C, H, W)`` is first cut into
``patch x patch`` pixel blocks stacked on the channel axis, ``(C * patch**2, H/patch, W/patch)``
(``F.pixel_unshuffle``), and the decoder's output is put back with ``F.pixel_shuffle``. Every conv then
runs on ``patch**2`` times fewer positions (the latent is ``H / (4 * patch)``), which makes training
several times faster on a CPU. With 64x64 frames and ``patch=4`` the latent is only 4x4, too coarse to
draw sharp digits; ``downsample=1`` keeps it at 8x8 for about 1.4x the cost per sequence.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from vidkit.models.rollout import WindowPredictor
from vidkit.utils.checks import check_int

__all__ = ["SimVP", "dynamic_filter"]


def dynamic_filter(frame: torch.Tensor, ky: torch.Tensor, kx: torch.Tensor) -> torch.Tensor:
    """Move pixels with a separable kernel per pixel, or per block of pixels: one pass across, then one down.

    ``frame (N, C, H, W)``; ``ky, kx (N, k, H/b, W/b)`` for an odd ``k`` and a block size ``b`` that divides
    ``H`` and ``W`` (``b = 1``: a kernel per pixel), each kernel summing to 1 over its ``k`` taps. With
    ``kx[y, x]`` short for the kernel of the block holding pixel ``(y, x)``, returns ``(N, C, H, W)``:

        mid[n, c, y, x] = sum_j kx[n, j, y, x] * frame[n, c, y, x + j - k//2]
        out[n, c, y, x] = sum_i ky[n, i, y, x] * mid[n, c, y + i - k//2, x]

    (zero outside the frame; the same weights for every channel). Where the kernels are the same over a
    neighbourhood (a digit moving as one piece) this is the 2-D kernel ``ky x kx`` applied at once, for
    ``2k`` instead of ``k**2`` multiply-adds per pixel; one-hot kernels move a digit by whole pixels."""
    n, c, h, w = frame.shape
    k, hb, wb = kx.shape[1:]
    r, b = k // 2, h // hb

    def blocks(kernel: torch.Tensor) -> torch.Tensor:  # (N, k, H/b, W/b) -> (N, 1, H/b, 1, W/b, 1, k)
        return kernel.permute(0, 2, 3, 1)[:, None, :, None, :, None, :]

    taps = F.pad(frame, (r, r)).unfold(3, k, 1)  # (N, C, H, W, k): each pixel's row neighbours, a view
    mid = (taps.reshape(n, c, hb, b, wb, b, k) * blocks(kx)).sum(-1).reshape(n, c, h, w)
    taps = F.pad(mid, (0, 0, r, r)).unfold(2, k, 1)  # (N, C, H, W, k): each pixel's column neighbours
    return (taps.reshape(n, c, hb, b, wb, b, k) * blocks(ky)).sum(-1).reshape(n, c, h, w)


def _groups(channels: int) -> int:
    """The largest of 8, 4, 2, 1 that divides ``channels``: GroupNorm groups for any width."""
    return next(g for g in (8, 4, 2, 1) if channels % g == 0)


class ConvNormAct(nn.Module):
    """3x3 conv + GroupNorm + SiLU. ``(N, c_in, H, W) -> (N, c_out, H/stride, W/stride)``, or
    ``(N, c_out, 2H, 2W)`` when ``upsample`` (conv to ``4 * c_out`` channels, then pixel shuffle)."""

    def __init__(self, c_in: int, c_out: int, stride: int = 1, upsample: bool = False):
        super().__init__()
        if upsample:
            self.conv = nn.Sequential(nn.Conv2d(c_in, 4 * c_out, 3, padding=1), nn.PixelShuffle(2))
        else:
            self.conv = nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1)
        self.norm = nn.GroupNorm(_groups(c_out), c_out)
        self.act = nn.SiLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.norm(self.conv(x)))


class Encoder(nn.Module):
    """Per-frame encoder. ``(N, C, H, W) -> latent (N, hidden, H/s, W/s), skip (N, hidden, H, W)``
    with ``s = 2**downsample``: a full-resolution conv, then stride-2 convs with a stride-1 conv between
    them (``downsample=2``: strides 1, 2, 1, 2)."""

    def __init__(self, channels: int, hidden: int, downsample: int = 2):
        super().__init__()
        self.first = ConvNormAct(channels, hidden)  # full resolution: its output is the skip
        layers: list[nn.Module] = []
        for i in range(downsample):
            if i > 0:
                layers.append(ConvNormAct(hidden, hidden))
            layers.append(ConvNormAct(hidden, hidden, stride=2))  # halves H and W
        self.rest = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        skip = self.first(x)
        return self.rest(skip), skip


class Decoder(nn.Module):
    """Per-frame decoder, the encoder's mirror. latent ``(N, hidden, H/s, W/s)`` + skip
    ``(N, hidden, H, W)`` -> logits ``(N, C, H, W)``, ``s = 2**downsample``."""

    def __init__(self, channels: int, hidden: int, downsample: int = 2, c_out: int | None = None):
        super().__init__()
        layers: list[nn.Module] = []
        for i in range(downsample):
            if i > 0:
                layers.append(ConvNormAct(hidden, hidden))
            layers.append(ConvNormAct(hidden, hidden, upsample=True))  # doubles H and W
        self.up = nn.Sequential(*layers)
        self.last = ConvNormAct(hidden, hidden)
        self.readout = nn.Conv2d(hidden, c_out or channels, 1)

    def forward(self, z: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        return self.readout(self.last(self.up(z) + skip))


class GatedSpatialAttention(nn.Module):
    """Large-kernel attention with a sigmoid gate (gSTA). ``(N, D, h, w) -> (N, D, h, w)``.

    Depthwise 5x5, then depthwise 7x7 with dilation 3 (a 19x19 receptive field for few weights), then
    a pointwise conv to ``2 * D`` channels split into a value ``f`` and a gate ``g``: ``sigmoid(g) * f``.
    """

    def __init__(self, dim: int):
        super().__init__()
        self.proj_in = nn.Conv2d(dim, dim, 1)
        self.local = nn.Conv2d(dim, dim, 5, padding=2, groups=dim)
        self.wide = nn.Conv2d(dim, dim, 7, padding=9, dilation=3, groups=dim)
        self.gate = nn.Conv2d(dim, 2 * dim, 1)
        self.proj_out = nn.Conv2d(dim, dim, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.gelu(self.proj_in(x))
        f, g = self.gate(self.wide(self.local(x))).chunk(2, dim=1)
        return self.proj_out(torch.sigmoid(g) * f)


class ConvMLP(nn.Module):
    """Pointwise expand, depthwise 3x3, GELU, pointwise contract. ``(N, D, h, w) -> (N, D, h, w)``."""

    def __init__(self, dim: int, ratio: int = 4):
        super().__init__()
        self.fc1 = nn.Conv2d(dim, ratio * dim, 1)
        self.dw = nn.Conv2d(ratio * dim, ratio * dim, 3, padding=1, groups=ratio * dim)
        self.fc2 = nn.Conv2d(ratio * dim, dim, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.gelu(self.dw(self.fc1(x))))


class TranslatorBlock(nn.Module):
    """Pre-norm residual block: ``x + a * attn(norm(x))``, then ``x + m * mlp(norm(x))``, with small
    learned per-channel scales ``a``, ``m`` (layer scale) so a deep stack starts near identity.
    ``(N, D, h, w) -> (N, D, h, w)``."""

    def __init__(self, dim: int, layer_scale: float = 1e-2):
        super().__init__()
        self.norm1 = nn.GroupNorm(1, dim)  # LayerNorm over (D, h, w)
        self.attn = GatedSpatialAttention(dim)
        self.scale1 = nn.Parameter(torch.full((dim, 1, 1), layer_scale))
        self.norm2 = nn.GroupNorm(1, dim)
        self.mlp = ConvMLP(dim)
        self.scale2 = nn.Parameter(torch.full((dim, 1, 1), layer_scale))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.scale1 * self.attn(self.norm1(x))
        return x + self.scale2 * self.mlp(self.norm2(x))


class Translator(nn.Module):
    """Mix time on the channel axis: ``(B, T_in * hidden_s, h, w) -> (B, T_out * hidden_s, h, w)``
    via a 1x1 conv to ``hidden_t`` channels, ``depth`` translator blocks, and a 1x1 conv back out."""

    def __init__(self, c_in: int, c_out: int, hidden: int, depth: int):
        super().__init__()
        self.proj_in = nn.Conv2d(c_in, hidden, 1)
        self.blocks = nn.Sequential(*[TranslatorBlock(hidden) for _ in range(depth)])
        self.proj_out = nn.Conv2d(hidden, c_out, 1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.proj_out(self.blocks(self.proj_in(z)))


class SimVP(WindowPredictor):
    """Predict ``out_frames`` future frames from ``in_frames`` past ones, all at once.

    Input ``(B, in_frames, channels, H, W)`` with values in [0, 1] and ``H``, ``W`` divisible by 4.
    Output ``(B, out_frames, channels, H, W)`` **logits**: use :meth:`predict` (or ``torch.sigmoid``)
    for pixel probabilities; train with ``binary_cross_entropy_with_logits``.

    ``hidden_s`` is the per-frame latent width (encoder/decoder), ``hidden_t`` the translator width,
    ``n_translator`` the number of translator blocks. ``patch`` is the space-to-depth factor (see the
    module docstring) and ``downsample`` (1 or 2) the number of stride-2 encoder stages: with
    ``patch = p`` and ``m = p * 2**downsample``, ``H`` and ``W`` must be divisible by ``m``, the
    encoder sees ``(C * p**2, H/p, W/p)`` per frame and the latent is ``(hidden_s, H/m, W/m)``.
    ``patch=1, downsample=2`` (the defaults) is plain SimVP.

    ``readout="filter"`` makes each future frame by moving the pixels of the frame before it with kernels of
    ``filter_size`` taps, one pair per ``patch x patch`` block (odd; a digit can move up to ``filter_size // 2`` pixels per frame; see the
    module docstring). The output is still logits, of probabilities kept within ``[1e-4, 1 - 1e-4]``.
    """

    def __init__(self, in_frames: int = 10, out_frames: int = 10, channels: int = 1, hidden_s: int = 32,
                 hidden_t: int = 128, n_translator: int = 4, patch: int = 1, downsample: int = 2,
                 readout: str = "pixels", filter_size: int = 9):
        super().__init__()
        for name, value in {"in_frames": in_frames, "out_frames": out_frames, "channels": channels,
                            "hidden_s": hidden_s, "hidden_t": hidden_t, "n_translator": n_translator,
                            "patch": patch}.items():
            check_int(f"SimVP: {name}", value)
        if isinstance(downsample, bool) or not isinstance(downsample, int) or downsample not in (1, 2):
            raise ValueError(f"SimVP: downsample must be 1 or 2 (stride-2 encoder stages), got {downsample!r}")
        if readout not in ("pixels", "filter"):
            raise ValueError(f"SimVP: readout must be 'pixels' or 'filter', got {readout!r}")
        check_int("SimVP: filter_size", filter_size)
        if filter_size % 2 == 0:
            raise ValueError(f"SimVP: filter_size must be odd (a kernel centred on each pixel), got {filter_size}")
        self.in_frames, self.out_frames, self.channels, self.hidden_s = in_frames, out_frames, channels, hidden_s
        self.patch, self.downsample, self.readout, self.filter_size = patch, downsample, readout, filter_size
        c = channels * patch * patch  # channels the encoder sees after space-to-depth
        c_out = 2 * filter_size if readout == "filter" else c  # kernels ky, kx per p x p block, or pixels
        self.encoder = Encoder(c, hidden_s, downsample)
        self.translator = Translator(in_frames * hidden_s, out_frames * hidden_s, hidden_t, n_translator)
        self.decoder = Decoder(c, hidden_s, downsample, c_out)

    def _check(self, x: torch.Tensor) -> None:
        m = self.patch * 2 ** self.downsample
        expected = f"(B, {self.in_frames}, {self.channels}, H, W) with H, W divisible by {m}"
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"SimVP: expected a tensor of shape {expected}, got {type(x).__name__}")
        if x.dim() != 5 or x.shape[1] != self.in_frames or x.shape[2] != self.channels:
            raise ValueError(f"SimVP: expected input of shape {expected}, got {tuple(x.shape)}")
        if x.shape[3] % m or x.shape[4] % m or x.shape[3] == 0 or x.shape[4] == 0:
            raise ValueError(f"SimVP: expected input of shape {expected}, got frames of "
                             f"{x.shape[3]}x{x.shape[4]}")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, in_frames, C, H, W)`` in [0, 1] -> logits ``(B, out_frames, C, H, W)``."""
        self._check(x)
        y = self._decode(x)  # (B * T_out, c_out, H/p, W/p)
        b, t, c, h, w = x.shape
        p, k = self.patch, self.filter_size
        if self.readout == "pixels":
            return (F.pixel_shuffle(y, p) if p > 1 else y).reshape(b, self.out_frames, c, h, w)
        # one pair of kernels per p x p block of pixels: (B, T_out, k, H/p, W/p) each
        ky, kx = y.reshape(b, self.out_frames, 2, k, h // p, w // p).softmax(3).unbind(2)
        frame, frames = x[:, -1], []  # (B, C, H, W): start from the last observed frame
        for ky_t, kx_t in zip(ky.unbind(1), kx.unbind(1), strict=True):
            frame = dynamic_filter(frame, ky_t, kx_t)
            frames.append(frame)
        probs = torch.stack(frames, 1) * (1 - 2e-4) + 1e-4  # (B, T_out, C, H, W), kept off 0 and 1
        return torch.logit(probs)

    def _decode(self, x: torch.Tensor) -> torch.Tensor:
        """The encoder, translator and decoder: ``(B, T_in, C, H, W)`` -> ``(B * T_out, c_out, H/p, W/p)``."""
        b, t, c, h, w = x.shape
        p, d, s = self.patch, self.hidden_s, 2 ** self.downsample
        hp, wp = h // p, w // p  # frame size after space-to-depth (C*p*p channels)
        x = x.reshape(b * t, c, h, w)
        if p > 1:
            x = F.pixel_unshuffle(x, p)  # (B*T_in, C*p*p, H/p, W/p)
        z, skip = self.encoder(x)  # (B*T_in, d, hp/s, wp/s), (B*T_in, d, hp, wp)
        z = self.translator(z.reshape(b, t * d, hp // s, wp // s))  # (B, T_out*d, hp/s, wp/s)
        z = z.reshape(b * self.out_frames, d, hp // s, wp // s)
        skip = skip.reshape(b, t, d, hp, wp)[:, -1:]  # last input frame's features: (B, 1, d, hp, wp)
        skip = skip.expand(-1, self.out_frames, -1, -1, -1).reshape(b * self.out_frames, d, hp, wp)
        return self.decoder(z, skip)  # (B*T_out, c_out, hp, wp)
