"""PredFormer: a pure transformer video predictor, no recurrence and no conv encoder (after Tang et al. 2024,
"PredFormer: Transformers are effective spatial-temporal predictive learners"), read top to bottom.

Every frame is cut into ``p x p`` patches; each patch is one token. With 64x64 frames and ``p = 8`` a frame is
an 8x8 grid of ``N = 64`` tokens and a clip of ``T = 10`` frames is 640 tokens. Shapes, with ``D = dim``::

    x        (B, T_in, C, H, W)          input frames in [0, 1]
    patches  (B, T_in, N, C*p*p)         pixel_unshuffle: N = (H/p) * (W/p) patches per frame, flattened
    tokens   (B, T_in, N, D)             Linear(C*p*p -> D) + time_pos[t] + space_pos[n]  (both learned)
    depth x  FactorisedBlock             (B, T_in, N, D) -> (B, T_in, N, D):
               time:  (B*N, T_in, D)     each patch position attends over the T_in frames (its own history)
               space: (B*T_in, N, D)     each frame's N patches attend to each other
    [time read-out]  (B, T_out, N, D)    only when T_out != T_in: a learned mix of the T_in frames' tokens
    LayerNorm, Linear(D -> C*p*p)        one patch of logits per token
    logits   (B, T_out, C, H, W)         pixel_shuffle back into frames

All ``T_out`` future frames come out of one forward pass. With ``T_in == T_out`` (10 -> 10 on Moving MNIST) the
token of input frame ``t`` at patch ``n`` is read out as patch ``n`` of future frame ``t``: the blocks have to
move what is at time ``t`` to what will be at time ``t + T_in``.

**Why factorise.** Full attention over all ``T * N`` tokens compares ``(T N)^2`` pairs (640^2 = 409,600 for the
example above). Attending over time within a patch position, then over space within a frame, compares
``N T^2 + T N^2`` pairs (64 * 100 + 10 * 4,096 = 47,360), about 9x fewer, and the two together still let any
token reach any other in one block (over time to the right frame, then over space to the right patch).

**Blocks.** Both sub-blocks are :class:`vidkit.models.transformer.Block` (pre-norm, ``x + attn(LN(x))`` then
``x + MLP(LN(x))``). ``gated=True`` (the default) swaps the GELU MLP for a SwiGLU one, PredFormer's
"gated transformer block" (GTB): ``MLP(x) = W_out (silu(W_a x) * W_b x)``, with ``2/3`` of the hidden width so
it has about as many weights as the GELU MLP it replaces. The paper also compares longer interleavings of
temporal and spatial sub-blocks (triplets, quadruplets); here every block is the binary temporal-then-spatial one.

``forward`` returns logits (train with ``binary_cross_entropy_with_logits``); ``predict`` returns probabilities
and rolls out autoregressively for horizons longer than ``out_frames``, as :class:`vidkit.models.SimVP` does.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from vidkit.models.rollout import WindowPredictor
from vidkit.models.transformer import Block
from vidkit.utils.checks import check_choice, check_int, check_real, shape_text

__all__ = ["PredFormer", "FactorisedBlock", "GatedBlock", "SwiGLU"]


class SwiGLU(nn.Module):
    """Gated-linear-unit MLP: ``(..., dim) -> (..., dim)``, ``W_out (silu(W_a x) * W_b x)``.

    ``hidden = round(2/3 * mlp_ratio * dim)``: three matrices of that width hold about as many weights as the
    two of a GELU MLP of width ``mlp_ratio * dim`` (as in LLaMA).
    """

    def __init__(self, dim: int, mlp_ratio: int = 4, dropout: float = 0.0):
        super().__init__()
        hidden = round(2 * mlp_ratio * dim / 3)
        self.gate_value = nn.Linear(dim, 2 * hidden)   # W_a and W_b in one matrix
        self.out = nn.Linear(hidden, dim)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a, b = self.gate_value(x).chunk(2, dim=-1)
        return self.dropout(self.out(F.silu(a) * b))


class GatedBlock(Block):
    """:class:`~vidkit.models.transformer.Block` with a :class:`SwiGLU` MLP (PredFormer's gated transformer
    block): ``x = x + attn(LN(x)); x = x + SwiGLU(LN(x))``, ``(B, L, dim) -> (B, L, dim)``."""

    def __init__(self, dim: int, heads: int, mlp_ratio: int = 4, dropout: float = 0.0):
        super().__init__(dim, heads, mlp_ratio, dropout)
        self.mlp = SwiGLU(dim, mlp_ratio, dropout)    # Block.forward calls self.mlp: nothing else changes


class FactorisedBlock(nn.Module):
    """Attention over time, then over space: ``(B, T, N, dim) -> (B, T, N, dim)``.

    :meth:`attend_time` mixes tokens only along ``T`` (one sequence per patch position), :meth:`attend_space`
    only along ``N`` (one sequence per frame); each is one transformer block.
    """

    def __init__(self, dim: int, heads: int, mlp_ratio: int = 4, dropout: float = 0.0, gated: bool = True):
        super().__init__()
        make = GatedBlock if gated else Block
        self.time = make(dim, heads, mlp_ratio, dropout)
        self.space = make(dim, heads, mlp_ratio, dropout)

    def attend_time(self, h: torch.Tensor) -> torch.Tensor:
        """``(B, T, N, D)``: token ``(t, n)`` reads tokens ``(0..T-1, n)``, its patch position in every frame."""
        b, t, n, d = h.shape
        seq = h.transpose(1, 2).reshape(b * n, t, d)             # (B*N, T, D): one sequence per patch position
        seq, _ = self.time(seq)
        return seq.reshape(b, n, t, d).transpose(1, 2)

    def attend_space(self, h: torch.Tensor) -> torch.Tensor:
        """``(B, T, N, D)``: token ``(t, n)`` reads tokens ``(t, 0..N-1)``, every patch of its own frame."""
        b, t, n, d = h.shape
        seq, _ = self.space(h.reshape(b * t, n, d))              # (B*T, N, D): one sequence per frame
        return seq.reshape(b, t, n, d)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.attend_space(self.attend_time(h))


class PredFormer(WindowPredictor):
    """Predict ``out_frames`` future frames from ``in_frames`` past ones, all at once, with a transformer on
    patch tokens (see the module docstring for the shapes).

    Input ``(B, in_frames, channels, H, W)`` with ``(H, W) = size`` and values in [0, 1]. Output
    ``(B, out_frames, channels, H, W)`` **logits**: :meth:`predict` (or ``torch.sigmoid``) gives probabilities.

    * ``size``: the frame size, an int (square) or ``(H, W)``; both divisible by ``patch``. The spatial position
      table has one row per patch, so the frame size is fixed at construction.
    * ``patch``: patch side ``p``; ``dim``, ``heads``, ``mlp_ratio``, ``dropout``: the transformer blocks;
      ``depth``: the number of factorised (time, then space) blocks, i.e. ``2 * depth`` transformer blocks.
    * ``gated``: SwiGLU MLPs (PredFormer's GTB, the default) or GELU MLPs (the plain :class:`Block`).
    * ``ink`` in (0, 1): the expected mean pixel value. The read-out bias starts at ``logit(ink) =
      log(ink / (1 - ink))`` (-2.94 for 0.05), so the untrained model already draws a nearly black frame with a
      mean of about ``ink`` instead of a grey one at 0.5, and training need not first learn that Moving MNIST is
      mostly background (as in ``ConvRNNPredictor`` and ``SrivastavaLSTM(ink=...)``).

    Weights start as in GPT-2: linear layers and position tables normal(0, 0.02), biases 0 (except the read-out
    bias above).
    """

    def __init__(self, in_frames: int = 10, out_frames: int = 10, channels: int = 1,
                 size: int | tuple[int, int] = 64, patch: int = 8, dim: int = 128, depth: int = 4, heads: int = 4,
                 mlp_ratio: int = 4, dropout: float = 0.0, gated: bool = True, ink: float = 0.05):
        super().__init__()
        for name, value in {"in_frames": in_frames, "out_frames": out_frames, "channels": channels,
                            "patch": patch, "dim": dim, "depth": depth, "heads": heads,
                            "mlp_ratio": mlp_ratio}.items():
            check_int(f"PredFormer: {name}", value)
        height, width = _frame_size(size)
        if height % patch or width % patch:
            raise ValueError(f"PredFormer: size (H, W) must be divisible by patch={patch}, got ({height}, {width})")
        if dim % heads:
            raise ValueError(f"PredFormer: dim must be a multiple of heads, got dim={dim}, heads={heads}")
        check_real("PredFormer: dropout", dropout, 0.0, 1.0, low_open=False, high_open=True)
        check_choice("PredFormer: gated", gated, (True, False))
        check_real("PredFormer: ink", ink, 0.0, 1.0, high_open=True, what=" (a mean pixel value)")
        self.in_frames, self.out_frames, self.channels = in_frames, out_frames, channels
        self.size, self.patch, self.dim, self.depth, self.gated = (height, width), patch, dim, depth, gated
        self.grid = (height // patch, width // patch)             # patches per column, per row
        patch_dim = channels * patch * patch                      # pixels in one patch
        tokens = self.grid[0] * self.grid[1]                      # N: patches per frame

        self.embed = nn.Linear(patch_dim, dim)                    # a flattened patch -> a token
        self.time_pos = nn.Parameter(torch.zeros(in_frames, dim))     # which frame
        self.space_pos = nn.Parameter(torch.zeros(tokens, dim))       # which patch of the frame
        self.dropout = nn.Dropout(dropout)
        self.blocks = nn.ModuleList(FactorisedBlock(dim, heads, mlp_ratio, dropout, gated) for _ in range(depth))
        # T_in -> T_out future frames: the identity when they match, else a learned mix over time
        self.time_readout = nn.Linear(in_frames, out_frames) if out_frames != in_frames else None
        self.norm = nn.LayerNorm(dim)
        self.readout = nn.Linear(dim, patch_dim)                  # a token -> a patch of logits

        self.apply(_init_weights)
        with torch.no_grad():
            nn.init.normal_(self.time_pos, 0.0, 0.02)
            nn.init.normal_(self.space_pos, 0.0, 0.02)
            if self.time_readout is not None:                     # start as the average over the input frames
                self.time_readout.weight.fill_(1.0 / in_frames)
            self.readout.bias.fill_(math.log(ink / (1.0 - ink)))  # logit(ink): start at a dark frame

    def extra_repr(self) -> str:
        return (f"in_frames={self.in_frames}, out_frames={self.out_frames}, size={self.size}, patch={self.patch}, "
                f"dim={self.dim}, depth={self.depth}, gated={self.gated}")

    def _check(self, x: object) -> None:
        expected = f"(B, {self.in_frames}, {self.channels}, {self.size[0]}, {self.size[1]})"
        if not isinstance(x, torch.Tensor) or x.dim() != 5 or not x.is_floating_point() \
                or tuple(x.shape[1:]) != (self.in_frames, self.channels, *self.size) or x.shape[0] < 1:
            raise ValueError(f"PredFormer: expected a float input of shape (B, T_in, C, H, W) = {expected}, got "
                             f"{shape_text(x)} {getattr(x, 'dtype', '')}".rstrip())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, in_frames, C, H, W)`` in [0, 1] -> logits ``(B, out_frames, C, H, W)``."""
        self._check(x)
        b, t, c, height, width = x.shape
        p, (gh, gw) = self.patch, self.grid
        # patchify: (B*T, C, H, W) -> (B*T, C*p*p, H/p, W/p) -> (B, T, N, C*p*p)
        patches = F.pixel_unshuffle(x.reshape(b * t, c, height, width), p)
        patches = patches.flatten(2).transpose(1, 2).reshape(b, t, gh * gw, c * p * p)
        # tokens: the patch's content + when it is + where it is (broadcast over N and over T)
        h = self.embed(patches) + self.time_pos[None, :, None, :] + self.space_pos[None, None, :, :]
        h = self.dropout(h)                                      # (B, T_in, N, D)
        for block in self.blocks:
            h = block(h)                                         # time, then space
        if self.time_readout is not None:                        # (B, T_in, N, D) -> (B, T_out, N, D)
            h = self.time_readout(h.transpose(1, 3)).transpose(1, 3)
        y = self.readout(self.norm(h))                           # (B, T_out, N, C*p*p)
        # un-patchify: (B*T_out, C*p*p, H/p, W/p) -> (B, T_out, C, H, W)
        y = y.reshape(b * self.out_frames, gh, gw, c * p * p).permute(0, 3, 1, 2)
        return F.pixel_shuffle(y, p).reshape(b, self.out_frames, c, height, width)


def _frame_size(size: object) -> tuple[int, int]:
    """``64 -> (64, 64)``; ``(64, 48)`` or ``[64, 48]`` (a JSON config) -> ``(64, 48)``."""
    if isinstance(size, list | tuple) and len(size) == 2:
        return check_int("PredFormer: size[0]", size[0]), check_int("PredFormer: size[1]", size[1])
    if isinstance(size, list | tuple):
        raise ValueError(f"PredFormer: size must be an int or (H, W), got {size!r}")
    side = check_int("PredFormer: size", size, what=" or (H, W)")
    return side, side


def _init_weights(module: nn.Module) -> None:
    """GPT-2's initialisation: linear weights normal(0, 0.02), biases 0 (LayerNorms keep 1 and 0)."""
    if isinstance(module, nn.Linear):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
