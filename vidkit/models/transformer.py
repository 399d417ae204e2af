"""A small transformer encoder, written to be read top to bottom (in the spirit of Karpathy's nanoGPT).

Three pieces, each a plain ``nn.Module``; shapes use ``B`` sequences of ``L`` tokens of width ``dim``:

1. :class:`MultiHeadAttention`: every token asks a question (query ``q``), offers a label (key ``k``) and an
   answer (value ``v``); each of ``heads`` heads of width ``d = dim / heads`` computes::

       A = softmax(Q K^T / sqrt(d))       (B, heads, L, L): row i = how much token i reads every token j
       Y = A V                            (B, heads, L, d), heads concatenated -> (B, L, dim), then a linear map

   Two kinds of mask decide which keys a query may read: a **padding mask** ``(B, L)`` (True = a real token;
   padded keys get weight exactly 0) and a full **attention mask** ``(L, L)`` or ``(B, L, L)`` (True = query i
   may read key j; e.g. :func:`causal_mask`). The fast path is PyTorch's fused
   ``F.scaled_dot_product_attention``; ``return_attention=True`` computes ``A`` explicitly (same result) so a
   notebook can draw it.
2. :class:`Block`: pre-norm residual block, ``x + attn(LN(x))`` then ``x + MLP(LN(x))`` (MLP: Linear, GELU,
   Linear, ``mlp_ratio * dim`` hidden units).
3. :class:`Transformer`: a learned positional embedding per position (a table of ``max_len`` rows, looked up at
   ``0..L-1`` or at positions the caller gives), ``depth`` blocks and a final LayerNorm.

Attention alone ignores order (permuting the tokens permutes the outputs); the positional embeddings are the
only way the model knows where a token is. Inputs are checked in :class:`Transformer` (the public entry point);
the two inner modules trust it.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from vidkit.utils.checks import check_int, check_real, shape_text

__all__ = ["MultiHeadAttention", "Block", "Transformer", "causal_mask"]


def causal_mask(length: int, device: torch.device | str | None = None) -> torch.Tensor:
    """``(L, L)`` bool, True on and below the diagonal: token i may read tokens ``0..i`` only (GPT-style)."""
    check_int("length", length)
    return torch.ones(length, length, dtype=torch.bool, device=device).tril()


def _allowed(mask: torch.Tensor | None, attn_mask: torch.Tensor | None) -> torch.Tensor | None:
    """Combine a padding mask ``(B, L)`` and an attention mask ``(L, L)`` / ``(B, L, L)`` into one bool mask that
    broadcasts to ``(B, heads, L, L)`` (True = may attend), or None when there is neither."""
    allowed = None
    if mask is not None:
        allowed = mask[:, None, None, :]                                    # (B, 1, 1, L): keys only
    if attn_mask is not None:
        full = attn_mask[:, None] if attn_mask.dim() == 3 else attn_mask   # (B, 1, L, L) or (L, L)
        allowed = full if allowed is None else allowed & full
    return allowed


class MultiHeadAttention(nn.Module):
    """Multi-head self-attention: ``(B, L, dim) -> (B, L, dim)``; see the module docstring for the formula.

    ``dim`` must be a multiple of ``heads``; ``dropout`` applies to the attention weights (training only) and to
    the output.
    """

    def __init__(self, dim: int, heads: int, dropout: float = 0.0):
        super().__init__()
        self.dim, self.heads, self.dropout = dim, heads, dropout
        self.qkv = nn.Linear(dim, 3 * dim)      # the three projections in one matrix
        self.proj = nn.Linear(dim, dim)
        self.out_dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None, attn_mask: torch.Tensor | None = None,
                return_attention: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``x`` ``(B, L, dim)``, ``mask`` ``(B, L)`` bool, ``attn_mask`` ``(L, L)`` or ``(B, L, L)`` bool.

        Returns ``(y (B, L, dim), A (B, heads, L, L) or None)``; ``A`` only with ``return_attention=True``.
        A query with no key to read (all masked) gives NaN, as a softmax over nothing is undefined.
        """
        b, n, _ = x.shape
        q, k, v = self.qkv(x).split(self.dim, dim=-1)
        q, k, v = (t.view(b, n, self.heads, -1).transpose(1, 2) for t in (q, k, v))   # (B, heads, L, d)
        allowed = _allowed(mask, attn_mask)
        p = self.dropout if self.training else 0.0
        weights = None
        if return_attention:                    # the explicit path: the formula, step by step
            scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])                  # (B, heads, L, L)
            if allowed is not None:
                scores = scores.masked_fill(~allowed, -math.inf)
            weights = scores.softmax(dim=-1)
            y = F.dropout(weights, p, self.training) @ v
        else:                                   # the fused path: the same numbers, faster
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=allowed, dropout_p=p)
        y = y.transpose(1, 2).reshape(b, n, self.dim)                                  # heads side by side
        return self.out_dropout(self.proj(y)), weights


class Block(nn.Module):
    """Pre-norm transformer block: ``x = x + attn(LN(x)); x = x + MLP(LN(x))``, ``(B, L, dim) -> (B, L, dim)``."""

    def __init__(self, dim: int, heads: int, mlp_ratio: int = 4, dropout: float = 0.0):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = MultiHeadAttention(dim, heads, dropout)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, mlp_ratio * dim), nn.GELU(), nn.Linear(mlp_ratio * dim, dim),
                                 nn.Dropout(dropout))

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None, attn_mask: torch.Tensor | None = None,
                return_attention: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Returns ``(x (B, L, dim), attention (B, heads, L, L) or None)``."""
        a, weights = self.attn(self.norm1(x), mask, attn_mask, return_attention)
        x = x + a
        x = x + self.mlp(self.norm2(x))
        return x, weights


class Transformer(nn.Module):
    """A transformer encoder: ``(B, L, dim) -> (B, L, dim)``.

    ``x + pos[positions]`` (a learned table of ``max_len`` rows; ``positions`` default ``0..L-1``) -> dropout
    -> ``depth`` :class:`Block` s -> LayerNorm. Weights start as in GPT-2: normal(0, 0.02), biases 0.
    """

    def __init__(self, dim: int, depth: int, heads: int, max_len: int, mlp_ratio: int = 4, dropout: float = 0.0):
        super().__init__()
        for name, value in {"dim": dim, "depth": depth, "heads": heads, "max_len": max_len,
                            "mlp_ratio": mlp_ratio}.items():
            check_int(f"Transformer: {name}", value)
        if dim % heads:
            raise ValueError(f"Transformer: dim must be a multiple of heads, got dim={dim}, heads={heads}")
        check_real("Transformer: dropout", dropout, 0.0, 1.0, low_open=False, high_open=True)
        self.dim, self.depth, self.heads, self.max_len = dim, depth, heads, max_len
        self.pos = nn.Embedding(max_len, dim)
        self.dropout = nn.Dropout(dropout)
        self.blocks = nn.ModuleList(Block(dim, heads, mlp_ratio, dropout) for _ in range(depth))
        self.norm = nn.LayerNorm(dim)
        self.apply(_init_weights)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None, positions: torch.Tensor | None = None,
                return_attention: bool = False, attn_mask: torch.Tensor | None = None,
                ) -> torch.Tensor | tuple[torch.Tensor, list[torch.Tensor]]:
        """Encode ``x`` ``(B, L, dim)``.

        * ``mask`` ``(B, L)`` bool: True = a real token, False = padding (never read by any other token);
          every sequence needs at least one real token;
        * ``positions`` ``(L,)`` or ``(B, L)`` long in ``0..max_len-1``: which row of the positional table each
          token gets (default ``0..L-1``, which needs ``L <= max_len``);
        * ``attn_mask`` ``(L, L)`` or ``(B, L, L)`` bool: True = query i may read key j (e.g. :func:`causal_mask`).

        Returns ``y`` ``(B, L, dim)``, or ``(y, [A_1, ..., A_depth])`` with ``return_attention=True``, each
        ``A`` ``(B, heads, L, L)`` (rows sum to 1 over the keys a query may read, 0 elsewhere).
        """
        self._check(x, mask, positions, attn_mask)
        if positions is None:
            positions = torch.arange(x.shape[1], device=x.device)
        h = self.dropout(x + self.pos(positions))
        maps = []
        for block in self.blocks:
            h, weights = block(h, mask, attn_mask, return_attention)
            maps.append(weights)
        h = self.norm(h)
        return (h, maps) if return_attention else h

    def _check(self, x: object, mask: object, positions: object, attn_mask: object) -> None:
        if not isinstance(x, torch.Tensor) or x.dim() != 3 or x.shape[2] != self.dim or not x.is_floating_point() \
                or min(x.shape) < 1:
            raise ValueError(f"Transformer: x must be a float tensor (B, L, dim) = (B, L, {self.dim}), got "
                             f"{shape_text(x)} {getattr(x, 'dtype', '')}".rstrip())
        b, n, _ = x.shape
        if positions is None and n > self.max_len:
            raise ValueError(f"Transformer: a sequence of {n} tokens is longer than the positional table "
                             f"(max_len={self.max_len}); build the model with max_len >= {n}")
        if mask is not None:
            if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool or tuple(mask.shape) != (b, n):
                raise ValueError(f"Transformer: mask must be a bool tensor (B, L) = ({b}, {n}), got "
                                 f"{shape_text(mask)} {getattr(mask, 'dtype', '')}".rstrip())
            if not bool(mask.any(dim=1).all()):
                raise ValueError("Transformer: every sequence needs at least one real token (a row of mask is "
                                 "all False)")
        if positions is not None:
            if not isinstance(positions, torch.Tensor) or positions.dtype != torch.long \
                    or tuple(positions.shape) not in ((n,), (b, n)):
                raise ValueError(f"Transformer: positions must be a long tensor (L,) = ({n},) or (B, L) = ({b}, {n}),"
                                 f" got {shape_text(positions)} {getattr(positions, 'dtype', '')}".rstrip())
            if positions.numel() and (int(positions.min()) < 0 or int(positions.max()) >= self.max_len):
                raise ValueError(f"Transformer: positions must lie in 0..{self.max_len - 1} (max_len={self.max_len}), "
                                 f"got {int(positions.min())}..{int(positions.max())}")
        if attn_mask is not None:
            if not isinstance(attn_mask, torch.Tensor) or attn_mask.dtype != torch.bool \
                    or tuple(attn_mask.shape) not in ((n, n), (b, n, n)):
                raise ValueError(f"Transformer: attn_mask must be a bool tensor (L, L) = ({n}, {n}) or (B, L, L) = "
                                 f"({b}, {n}, {n}), got {shape_text(attn_mask)} "
                                 f"{getattr(attn_mask, 'dtype', '')}".rstrip())


def _init_weights(module: nn.Module) -> None:
    if isinstance(module, nn.Linear | nn.Embedding):
        nn.init.normal_(module.weight, 0.0, 0.02)
    if isinstance(module, nn.Linear) and module.bias is not None:
        nn.init.zeros_(module.bias)
