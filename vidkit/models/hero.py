"""HERO (Li et al. 2020, "HERO: Hierarchical Encoder for Video+Language Omni-representation Pre-training"):
a two-level transformer over frames and subtitles, and its four pretraining tasks.

**Input.** An *episode* is ``T`` frames cut into ``S`` consecutive *segments*; segment ``s`` covers frames
``[starts[s], ends[s])`` and has one subtitle of up to ``L`` words. A batch is a dict (``B`` episodes):

* ``"frames"`` ``(B, T, C, H, W)`` float in [0, 1];
* ``"tokens"`` ``(B, S, L)`` long word ids (``<pad>`` = 0, ``<unk>`` = 1: :class:`vidkit.models.text.Vocabulary`),
  ``"lengths"`` ``(B, S)`` the number of words of each subtitle;
* ``"starts"``, ``"ends"`` ``(B, S)`` long: the segments, in order, contiguous, covering ``0..T``;
* optional ``"subtitle_mask"`` ``(B, S)`` bool: False = that subtitle is absent from the input;
* optional ``"features"`` ``(B, T, dim)``: frame features already computed by :meth:`HERO.frame_features`
  (then ``"frames"`` is not read; :func:`hero_loss` computes them once for its four tasks).

**Model** (:class:`HERO`, the paper's Figure 1), read as three stages:

1. *Embedders*: a small per-frame CNN gives a feature ``f_t`` per frame ``(B, T, dim)`` (HERO: fixed
   ResNet + SlowFast features, here learned from pixels); the frame embedding is ``e_t = LN(f_t)``; a word's is
   ``LN(emb(w))``. Each gets a type embedding (frame or word) and, inside the transformers, a position.
2. *Cross-modal transformer* (local context): for every segment, the sequence ``[its frames ; its subtitle's
   words]`` (frames at positions ``0..K-1`` within the segment, words at ``0..L-1``); all ``B * S`` segments
   run as one padded batch. A frame reads only its own segment's frames and subtitle::

       V_cross_s, W_cross_s = f_cross(V_emb_s, W_emb_s)

3. *Temporal transformer* (global context): all ``T`` fused frames of the episode, with the frame embeddings
   added back as a residual and the episode's frame positions ``0..T-1``::

       V_temp = f_temp(V_emb + V_cross)                                         (B, T, dim)

``hierarchical=False`` is the paper's flat "F-TRM" ablation: one transformer of depth
``cross_depth + temporal_depth`` over ``[all T frames ; all words of all subtitles]`` of the episode (frames at
positions ``0..T-1``, words numbered on in reading order). It is told the subtitles' order, not which frames
they belong to: it has to learn the alignment the hierarchy is given by construction. It returns the same
outputs (:class:`HEROOutput`), so every loss and helper below works unchanged.

**Pretraining tasks** (section 3.2); each is a plain function ``(model, batch, step) -> (loss, logs)``, usable
as the ``loss_fn`` of :func:`vidkit.train.train`:

* :func:`mlm_loss`: Masked Language Modelling: hide 15 % of the subtitle words, predict them from the
  words and frames of their segment;
* :func:`mfm_loss`: Masked Frame Modelling: hide 15 % of the frames, recover them from the episode
  (regression MFFR and/or contrastive MNCE);
* :func:`vsm_loss`: Video-Subtitle Matching: remove one subtitle, use it as a query, find its span (local)
  and its episode (global);
* :func:`fom_loss`: Frame Order Modelling: shuffle 15 % of the fused frames, predict where each came from;
* :func:`hero_loss`: the sum of the selected tasks.

Downstream: :func:`moment_scores` (text -> moment retrieval, the TVR protocol), :func:`episode_features`
(linear probes), :func:`predict_order` (a FOM view).

Random choices (which words, frames, subtitle, positions) come from a ``torch.Generator``: the one you pass,
else one seeded with ``step``, so a step is reproducible. Every function accepts the model wrapped in
``DistributedDataParallel`` (or ``torch.compile``): the encoder runs through the wrapper's ``forward``, the
task heads are read from the unwrapped model.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from vidkit.losses import max_margin_ranking, text_video_nce
from vidkit.models.transformer import Transformer
from vidkit.utils.checks import check_choice, check_int, check_real, shape_text
from vidkit.utils.distributed import unwrap

__all__ = ["HERO", "HEROOutput", "AttentionMaps", "HERO_TASKS", "MASK_FRACTION", "mlm_loss", "mfm_loss",
           "vsm_loss", "fom_loss", "hero_loss", "fom_order", "moment_scores", "episode_features", "predict_order",
           "check_tasks"]

HERO_TASKS: tuple[str, ...] = ("mlm", "mfm", "vsm", "fom")
"""The four pretraining tasks, in the paper's order."""
MASK_FRACTION = 0.15
"""Share of words (MLM), frames (MFM) and frame positions (FOM) a task hides or shuffles, as in BERT and HERO."""

FRAME, WORD = 0, 1   # rows of the type embedding


# ------------------------------------------------------------------------------------------------ outputs


@dataclass
class AttentionMaps:
    """The attention weights of every layer and head of one transformer, with labels for its ``N`` positions.

    Leading dims ``...`` are ``(B, S)`` for the cross-modal transformer (one sequence per segment) and ``(B,)``
    for the temporal and the flat one.

    * ``weights``: one ``(..., heads, N, N)`` tensor per layer; row i = how much position i reads each
      position j (sums to 1 over the valid positions, exactly 0 on the others);
    * ``is_word`` ``(..., N)`` bool: False = a frame, True = a word;
    * ``segment`` ``(..., N)`` long: the segment the position belongs to;
    * ``index`` ``(..., N)`` long: the frame's index ``t`` in the episode, or the word's index ``l`` in its
      subtitle;
    * ``valid`` ``(..., N)`` bool: a real token (False = padding, or a word of an absent subtitle).
    """

    weights: list[torch.Tensor]
    is_word: torch.Tensor
    segment: torch.Tensor
    index: torch.Tensor
    valid: torch.Tensor


@dataclass
class HEROOutput:
    """What :meth:`HERO.forward` returns.

    * ``frames`` ``(B, T, dim)``: the final frame embeddings ``V_temp`` (temporal transformer; flat model: its
      frame outputs);
    * ``cross_frames`` ``(B, T, dim)``: the cross-modal (local) frame embeddings ``V_cross`` (flat: ``frames``);
    * ``words`` ``(B, S, L, dim)``: the contextualised words (cross-modal; flat: the flat outputs); entries of
      padding and of absent subtitles carry no meaning;
    * ``features`` ``(B, T, dim)``: the CNN's frame features ``f_t`` before any masking (MFM's targets);
    * ``query`` ``(Q, dim)`` or None: the query embeddings, when query tokens were given;
    * ``attention`` or None: ``{"cross": ..., "temporal": ...}`` (flat: ``{"flat": ...}``) :class:`AttentionMaps`.
    """

    frames: torch.Tensor
    cross_frames: torch.Tensor
    words: torch.Tensor
    features: torch.Tensor
    query: torch.Tensor | None = None
    attention: dict[str, AttentionMaps] | None = None


# ------------------------------------------------------------------------------------------------ model


def _head(dim: int, out: int) -> nn.Sequential:
    """BERT's prediction head: Linear, GELU, LayerNorm, Linear."""
    return nn.Sequential(nn.Linear(dim, dim), nn.GELU(), nn.LayerNorm(dim), nn.Linear(dim, out))


class FrameEncoder(nn.Module):
    """A small CNN applied to every frame: ``(B, T, C, H, W) -> (B, T, dim)``.

    Three 3x3 stride-2 convolutions (``width``, ``2 width``, ``4 width`` channels) with GroupNorm and ReLU
    (32 px -> 4 px), global average pooling, a linear map to ``dim``. GroupNorm rather than BatchNorm: a
    frame's feature never depends on the rest of its batch, in training as in evaluation.
    """

    def __init__(self, in_channels: int, width: int, dim: int):
        super().__init__()
        layers: list[nn.Module] = []
        c = in_channels
        for w in (width, 2 * width, 4 * width):
            layers += [nn.Conv2d(c, w, 3, stride=2, padding=1, bias=False), nn.GroupNorm(4, w), nn.ReLU()]
            c = w
        self.net = nn.Sequential(*layers)
        self.fc = nn.Linear(c, dim)

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        b, t = frames.shape[:2]
        return self.fc(self.net(frames.flatten(0, 1)).mean(dim=(2, 3))).view(b, t, -1)


class HERO(nn.Module):
    """HERO's encoder and task heads; see the module docstring for the architecture.

    * ``vocab_size``: ``len(vocabulary)``; id ``vocab_size`` is the extra ``[MASK]`` word (:attr:`mask_id`);
    * ``dim``, ``heads``: width and heads of both transformers (and of the flat one);
    * ``cross_depth``, ``temporal_depth``: blocks of the cross-modal and temporal transformers;
    * ``max_frames`` ``T``, ``max_words`` ``L``: longest episode and subtitle (positional tables; FOM's classifier
      has ``max_frames`` outputs);
    * ``in_channels``: the frames' channels; ``hierarchical``: False = the flat ablation;
    * ``max_segments``: most subtitles per episode, for the flat model only (its positional table has
      ``max(max_frames, max_segments * max_words)`` rows);
    * ``width``: the frame CNN's width (a multiple of 4); ``dropout`` inside the transformers.

    Heads: ``mlm_head`` (dim -> vocab), ``mfm_head`` (dim -> dim, shared by MFFR and MNCE), ``span_conv``
    (VSM's two 1D filters), ``fom_head`` (dim -> max_frames).
    """

    def __init__(self, vocab_size: int, dim: int = 64, heads: int = 4, cross_depth: int = 2, temporal_depth: int = 2,
                 max_frames: int = 64, max_words: int = 16, in_channels: int = 1, hierarchical: bool = True,
                 max_segments: int = 16, width: int = 16, dropout: float = 0.0):
        super().__init__()
        check_int("HERO: vocab_size", vocab_size, 3, what=" (<pad>, <unk> and at least one word)")
        for name, value in {"dim": dim, "heads": heads, "cross_depth": cross_depth, "temporal_depth": temporal_depth,
                            "max_words": max_words, "max_segments": max_segments, "in_channels": in_channels,
                            "width": width}.items():
            check_int(f"HERO: {name}", value)
        check_int("HERO: max_frames", max_frames, 2)
        if width % 4:
            raise ValueError(f"HERO: width must be a multiple of 4 (GroupNorm with 4 groups), got {width}")
        check_choice("HERO: hierarchical", hierarchical, (True, False))
        self.vocab_size, self.dim, self.mask_id = vocab_size, dim, vocab_size
        self.max_frames, self.max_words, self.max_segments = max_frames, max_words, max_segments
        self.in_channels, self.hierarchical = in_channels, hierarchical
        # embedders
        self.frame_encoder = FrameEncoder(in_channels, width, dim)
        self.frame_norm = nn.LayerNorm(dim)
        self.word_embedding = nn.Embedding(vocab_size + 1, dim, padding_idx=0)   # + [MASK]
        self.word_norm = nn.LayerNorm(dim)
        self.type_embedding = nn.Embedding(2, dim)                                 # frame, word
        # encoders
        if hierarchical:
            self.cross = Transformer(dim, cross_depth, heads, max(max_frames, max_words), dropout=dropout)
            self.temporal = Transformer(dim, temporal_depth, heads, max_frames, dropout=dropout)
        else:
            self.flat = Transformer(dim, cross_depth + temporal_depth, heads,
                                    max(max_frames, max_segments * max_words), dropout=dropout)
        self.query_pool = nn.Linear(dim, 1)                                        # attention pooling
        self.query_head = nn.Sequential(nn.Linear(dim, dim), nn.GELU(), nn.Linear(dim, dim), nn.LayerNorm(dim))
        # task heads
        self.mlm_head = _head(dim, vocab_size)
        self.mfm_head = _head(dim, dim)
        self.span_conv = nn.Conv1d(1, 2, kernel_size=5, padding=2)                # start, end filters
        # VSM's global score compares centred embeddings (see episode_scores)
        self.center_frames = nn.BatchNorm1d(dim, affine=False)
        self.center_query = nn.BatchNorm1d(dim, affine=False)
        self.fom_head = _head(dim, max_frames)

    def extra_repr(self) -> str:
        return (f"vocab_size={self.vocab_size}, dim={self.dim}, max_frames={self.max_frames}, "
                f"max_words={self.max_words}, hierarchical={self.hierarchical}")

    @property
    def text_encoder(self) -> Transformer:
        """The transformer that reads words without frames: the cross-modal one (flat model: the flat one)."""
        return self.cross if self.hierarchical else self.flat

    # -------------------------------------------------------------------------------------------- checks

    def check_batch(self, batch: Any) -> tuple[int, int, int, int]:
        """Validate a batch (see the module docstring); returns ``(B, T, S, L)`` or raises a ValueError naming
        the expected shape or range."""
        if not isinstance(batch, Mapping):
            raise TypeError(f"HERO: batch must be a dict with 'frames', 'tokens', 'lengths', 'starts', 'ends', got "
                            f"{type(batch).__name__}")
        need = ["tokens", "lengths", "starts", "ends"] + ([] if "features" in batch else ["frames"])
        missing = [k for k in need if k not in batch]
        if missing:
            raise KeyError(f"HERO: batch needs {missing} ('frames' (B, T, C, H, W), 'tokens' (B, S, L), 'lengths', "
                           f"'starts', 'ends' (B, S)); it has {sorted(batch)}")
        if "features" in batch:
            x = batch["features"]
            if not isinstance(x, torch.Tensor) or x.dim() != 3 or x.shape[2] != self.dim or not x.is_floating_point():
                raise ValueError(f"HERO: batch['features'] must be a float tensor (B, T, dim) = (B, T, {self.dim}), "
                                 f"got {_describe(x)}")
        else:
            x = batch["frames"]
            if not isinstance(x, torch.Tensor) or x.dim() != 5 or x.shape[2] != self.in_channels \
                    or not x.is_floating_point() or min(x.shape[2:]) < 1:
                raise ValueError(f"HERO: batch['frames'] must be a float tensor (B, T, C, H, W) with C = "
                                 f"{self.in_channels}, got {_describe(x)}")
        b, t = x.shape[:2]
        if b < 1:
            raise ValueError(f"HERO: the batch is empty (B = 0 episodes in {shape_text(x)})")
        if not 1 <= t <= self.max_frames:
            raise ValueError(f"HERO: episodes must have 1..{self.max_frames} frames (max_frames), got T = {t}")
        tokens = batch["tokens"]
        if not isinstance(tokens, torch.Tensor) or tokens.dtype != torch.long or tokens.dim() != 3 \
                or tokens.shape[0] != b or min(tokens.shape) < 1:
            raise ValueError(f"HERO: batch['tokens'] must be a long tensor (B, S, L) = ({b}, S, L), got "
                             f"{_describe(tokens)}")
        s, n = tokens.shape[1:]
        if n > self.max_words:
            raise ValueError(f"HERO: subtitles have at most {self.max_words} words (max_words), got L = {n}")
        if not self.hierarchical and s > self.max_segments:
            raise ValueError(f"HERO: the flat model reads at most {self.max_segments} subtitles (max_segments), "
                             f"got S = {s}")
        if int(tokens.min()) < 0 or int(tokens.max()) >= self.vocab_size:
            raise ValueError(f"HERO: word ids must lie in 0..{self.vocab_size - 1} (vocab_size={self.vocab_size}), "
                             f"got {int(tokens.min())}..{int(tokens.max())}")
        for key in ("lengths", "starts", "ends") + (("subtitle_mask",) if "subtitle_mask" in batch else ()):
            v = batch[key]
            ok = isinstance(v, torch.Tensor) and tuple(v.shape) == (b, s) and (
                v.dtype == torch.bool if key == "subtitle_mask"
                else not (v.is_floating_point() or v.is_complex() or v.dtype == torch.bool))
            if not ok:
                kind = "a bool" if key == "subtitle_mask" else "an integer"
                raise ValueError(f"HERO: batch[{key!r}] must be {kind} tensor (B, S) = ({b}, {s}), got {_describe(v)}")
        lengths, starts, ends = batch["lengths"], batch["starts"], batch["ends"]
        if int(lengths.min()) < 0 or int(lengths.max()) > n:
            raise ValueError(f"HERO: lengths must lie in 0..{n} (L, the width of tokens), got "
                             f"{int(lengths.min())}..{int(lengths.max())}")
        if int(starts.min()) < 0 or int(ends.max()) > t or int(starts.max()) > t or int(ends.min()) < 0:
            raise ValueError(f"HERO: segment spans [starts, ends) must lie in [0, T] = [0, {t}], got starts "
                             f"{int(starts.min())}..{int(starts.max())}, ends {int(ends.min())}..{int(ends.max())}")
        bad = (ends <= starts).nonzero()
        if len(bad):
            i, j = (int(v) for v in bad[0])
            raise ValueError(f"HERO: every segment needs at least one frame (ends > starts); episode {i}, segment "
                             f"{j} is [{int(starts[i, j])}, {int(ends[i, j])})")
        gaps = (starts[:, 0] != 0) | (ends[:, -1] != t) | (starts[:, 1:] != ends[:, :-1]).any(dim=1)
        if bool(gaps.any()):
            i = int(gaps.nonzero()[0])
            raise ValueError(f"HERO: segments must be in order, contiguous and cover frames 0..T = 0..{t} "
                             f"(starts[0] = 0, starts[s+1] = ends[s], ends[-1] = T); episode {i} has starts "
                             f"{starts[i].tolist()}, ends {ends[i].tolist()}")
        return b, t, s, n

    # -------------------------------------------------------------------------------------------- encoders

    def frame_features(self, frames: torch.Tensor) -> torch.Tensor:
        """The CNN's features ``f_t``: ``(B, T, C, H, W) -> (B, T, dim)``."""
        if not isinstance(frames, torch.Tensor) or frames.dim() != 5 or frames.shape[2] != self.in_channels \
                or not frames.is_floating_point() or min(frames.shape) < 1:
            raise ValueError(f"HERO: frames must be a float tensor (B, T, C, H, W) with C = {self.in_channels}, "
                             f"got {_describe(frames)}")
        return self.frame_encoder(frames)

    def forward(self, batch: Mapping[str, torch.Tensor], *, word_mask: torch.Tensor | None = None,
                frame_mask: torch.Tensor | None = None, order: torch.Tensor | None = None,
                query_tokens: torch.Tensor | None = None, query_lengths: torch.Tensor | None = None,
                return_attention: bool = False) -> HEROOutput:
        """Encode a batch (see the module docstring) -> :class:`HEROOutput`.

        The tasks' corruptions of the input, applied inside so that they are never visible to the encoder:

        * ``word_mask`` ``(B, S, L)`` bool: these words become ``[MASK]`` (MLM);
        * ``frame_mask`` ``(B, T)`` bool: these frames' features become zeros (MFM; after the embedding
          LayerNorm a masked frame is the LayerNorm's learned bias: a learned mask vector);
        * ``order`` ``(B, T)`` long, one permutation of ``0..T-1`` per episode: position ``t`` of the temporal
          transformer receives the fused frame ``order[t]`` (FOM; positions keep their place, so a moved frame
          sits at the wrong one). Flat model: the frame embeddings are permuted before the transformer;
        * ``query_tokens`` ``(Q, L')`` long, ``query_lengths`` ``(Q,)``: also encode ``Q`` sentences
          (:meth:`encode_query`) into ``output.query``;
        * ``return_attention``: also return the attention maps of every layer and head.
        """
        b, t, s, n = self.check_batch(batch)
        for name, mask, shape in (("word_mask", word_mask, (b, s, n)), ("frame_mask", frame_mask, (b, t))):
            if mask is not None and (not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool
                                     or tuple(mask.shape) != shape):
                raise ValueError(f"HERO: {name} must be a bool tensor {shape}, got {_describe(mask)}")
        if order is not None:
            if not isinstance(order, torch.Tensor) or order.dtype != torch.long or tuple(order.shape) != (b, t) \
                    or not torch.equal(order.sort(dim=1).values.cpu(), torch.arange(t).expand(b, t)):
                raise ValueError(f"HERO: order must be a long tensor (B, T) = ({b}, {t}) holding a permutation of "
                                 f"0..{t - 1} per episode, got {_describe(order)}")
        features = batch["features"] if "features" in batch else self.frame_encoder(batch["frames"])
        e = features if frame_mask is None else features.masked_fill(frame_mask[..., None].to(features.device), 0.0)
        e = self.frame_norm(e)                                                       # V_emb (B, T, dim)
        tokens = batch["tokens"] if word_mask is None else \
            batch["tokens"].masked_fill(word_mask.to(batch["tokens"].device), self.mask_id)
        w = self.word_norm(self.word_embedding(tokens))                               # W_emb (B, S, L, dim)
        present = _real_words(batch)                                                  # (B, S, L)
        starts, ends = batch["starts"].long(), batch["ends"].long()
        if self.hierarchical:
            cross_frames, words, cross_maps = self._cross_modal(e, w, present, starts, ends, return_attention)
            x = e + cross_frames                                                      # V_emb + V_cross
            if order is not None:
                x = x.gather(1, order.to(x.device)[..., None].expand_as(x))
            frames = self.temporal(x, return_attention=return_attention)
            attention = None
            if return_attention:
                frames, maps = frames
                seg = _segment_of(starts, t)
                attention = {"cross": cross_maps, "temporal": AttentionMaps(
                    maps, torch.zeros_like(seg, dtype=torch.bool), seg,
                    torch.arange(t, device=seg.device).expand(b, t), torch.ones_like(seg, dtype=torch.bool))}
        else:
            if order is not None:
                e = e.gather(1, order.to(e.device)[..., None].expand_as(e))
            frames, words, flat_maps = self._flat(e, w, present, starts, return_attention)
            cross_frames = frames
            attention = {"flat": flat_maps} if return_attention else None
        query = None
        if query_tokens is not None or query_lengths is not None:
            query = self.encode_query(query_tokens, query_lengths)
        return HEROOutput(frames, cross_frames, words, features, query, attention)

    def _cross_modal(self, e: torch.Tensor, w: torch.Tensor, present: torch.Tensor, starts: torch.Tensor,
                     ends: torch.Tensor, return_attention: bool,
                     ) -> tuple[torch.Tensor, torch.Tensor, AttentionMaps | None]:
        """One sequence ``[frames of segment s ; words of subtitle s]`` per segment, ``B * S`` sequences padded to
        ``K + L`` (``K``: the longest segment). Returns ``V_cross (B, T, dim)``, ``W_cross (B, S, L, dim)``."""
        b, t, dim = e.shape
        s, n = w.shape[1:3]
        k = int((ends - starts).max())
        local = torch.arange(k, device=e.device)
        frame_idx = starts[..., None] + local                                         # (B, S, K) episode frame
        frame_ok = frame_idx < ends[..., None]                                        # (B, S, K) real frames
        frame_idx = frame_idx.clamp(max=t - 1)
        batch_idx = torch.arange(b, device=e.device)[:, None, None]
        x = torch.cat([e[batch_idx, frame_idx] + self.type_embedding.weight[FRAME],  # (B, S, K, dim)
                       w + self.type_embedding.weight[WORD]], dim=2)                  # (B, S, K + L, dim)
        mask = torch.cat([frame_ok, present], dim=2)                                  # (B, S, K + L)
        positions = torch.cat([local, torch.arange(n, device=e.device)])              # (K + L,)
        y = self.cross(x.flatten(0, 1), mask.flatten(0, 1), positions, return_attention)
        maps = None
        if return_attention:
            y, weights = y
            is_word = torch.arange(k + n, device=e.device) >= k
            maps = AttentionMaps([a.view(b, s, *a.shape[1:]) for a in weights], is_word.expand(b, s, -1),
                                 torch.arange(s, device=e.device)[None, :, None].expand(b, s, k + n),
                                 torch.cat([frame_idx, positions[k:].expand(b, s, n)], dim=2), mask)
        y = y.view(b, s, k + n, dim)
        seg = _segment_of(starts, t)                                                  # (B, T)
        offset = torch.arange(t, device=e.device) - starts.gather(1, seg)            # (B, T) index in segment
        cross_frames = y[torch.arange(b, device=e.device)[:, None], seg, offset]     # (B, T, dim)
        return cross_frames, y[:, :, k:], maps

    def _flat(self, e: torch.Tensor, w: torch.Tensor, present: torch.Tensor, starts: torch.Tensor,
              return_attention: bool) -> tuple[torch.Tensor, torch.Tensor, AttentionMaps | None]:
        """One sequence ``[T frames ; S * L words]`` per episode (F-TRM). Frames at positions ``0..T-1``, the real
        words numbered ``0, 1, 2, ...`` in reading order."""
        b, t, dim = e.shape
        s, n = w.shape[1:3]
        real = present.flatten(1)                                                     # (B, S * L)
        word_pos = (real.long().cumsum(dim=1) - 1).clamp(min=0)
        frame_pos = torch.arange(t, device=e.device).expand(b, t)
        x = torch.cat([e + self.type_embedding.weight[FRAME],
                       (w + self.type_embedding.weight[WORD]).flatten(1, 2)], dim=1)  # (B, T + S * L, dim)
        mask = torch.cat([torch.ones(b, t, dtype=torch.bool, device=e.device), real], dim=1)
        y = self.flat(x, mask, torch.cat([frame_pos, word_pos], dim=1), return_attention)
        maps = None
        if return_attention:
            y, weights = y
            seg = _segment_of(starts, t)
            word_seg = torch.arange(s, device=e.device).repeat_interleave(n).expand(b, -1)
            word_idx = torch.arange(n, device=e.device).repeat(s).expand(b, -1)
            is_word = torch.arange(t + s * n, device=e.device).expand(b, -1) >= t
            maps = AttentionMaps(weights, is_word, torch.cat([seg, word_seg], dim=1),
                                 torch.cat([frame_pos, word_idx], dim=1), mask)
        return y[:, :t], y[:, t:].reshape(b, s, n, dim), maps

    def encode_query(self, tokens: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """A sentence alone -> its query vector ``q``: ``tokens (Q, L) long, lengths (Q,) -> (Q, dim)``.

        The words (no frames: the paper's ``f_cross(0, W_emb)``) go through the cross-modal transformer (flat
        model: the flat one), are pooled with learned attention weights ``softmax_l(a . h_l)`` over the real
        words, then a Linear-GELU-Linear-LayerNorm head gives ``q``. Every query needs at least one word.
        """
        if not isinstance(tokens, torch.Tensor) or tokens.dtype != torch.long or tokens.dim() != 2 \
                or min(tokens.shape) < 1:
            raise ValueError(f"HERO: query tokens must be a long tensor (Q, L), got {_describe(tokens)}")
        q, n = tokens.shape
        if n > self.max_words:
            raise ValueError(f"HERO: a query has at most {self.max_words} words (max_words), got L = {n}")
        if not isinstance(lengths, torch.Tensor) or lengths.is_floating_point() or tuple(lengths.shape) != (q,):
            raise ValueError(f"HERO: query lengths must be an integer tensor (Q,) = ({q},), got {_describe(lengths)}")
        if int(lengths.min()) < 1 or int(lengths.max()) > n:
            raise ValueError(f"HERO: query lengths must lie in 1..{n} (every query needs a word), got "
                             f"{int(lengths.min())}..{int(lengths.max())}")
        if int(tokens.min()) < 0 or int(tokens.max()) >= self.vocab_size:
            raise ValueError(f"HERO: query word ids must lie in 0..{self.vocab_size - 1}, got "
                             f"{int(tokens.min())}..{int(tokens.max())}")
        real = torch.arange(n, device=tokens.device) < lengths.to(tokens.device)[:, None]    # (Q, L)
        x = self.word_norm(self.word_embedding(tokens)) + self.type_embedding.weight[WORD]
        h = self.text_encoder(x, real)                                                       # (Q, L, dim)
        a = self.query_pool(h).squeeze(-1).masked_fill(~real, -math.inf).softmax(dim=-1)    # (Q, L)
        return self.query_head((a[..., None] * h).sum(dim=1))

    # -------------------------------------------------------------------------------------------- VSM scores

    def span_logits(self, frames: torch.Tensor, query: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """VSM local scores: start and end logits of every query over every episode's frames.

        ``frames`` ``(B, T, dim)`` (``V_temp``), ``query`` ``(Q, dim)`` -> ``(start, end)``, each ``(Q, B, T)``::

            s = V_temp q / sqrt(dim)                    (Q, B, T)  query-frame match along time
            start, end = conv1d_st(s), conv1d_ed(s)     two learned 5-tap filters (e.g. rising / falling edges)
        """
        q, (b, t, d) = query.shape[0], frames.shape
        s = torch.einsum("btd,qd->qbt", frames, query) / math.sqrt(d)
        logits = self.span_conv(s.reshape(q * b, 1, t)).view(q, b, 2, t)
        return logits[:, :, 0], logits[:, :, 1]

    def episode_scores(self, frames: torch.Tensor, query: torch.Tensor) -> torch.Tensor:
        """VSM global scores ``(Q, B)``: ``S(q, v) = max_t cos(c_v(V_temp[t]), c_q(q))``, the best-matching frame.

        ``c_v`` and ``c_q`` standardise every dimension (a batch norm without affine parameters: batch statistics
        in training, running ones in eval mode, or when a training batch holds a single row). A departure from
        HERO, which compares the raw embeddings: at initialisation every frame embedding of every episode points
        nearly the same way, and so does every query, so all scores are nearly equal; the gradients of the hinge or
        NCE over the batch then almost cancel and the global loss stays near its collapsed value (``2 delta``, or
        ``log B``). Centring removes the shared direction (``tests/test_hero.py`` checks that it lowers the
        scores' shared part)."""
        b, t, d = frames.shape
        v = _standardise(self.center_frames, frames.reshape(b * t, d), self.training).view(b, t, d)
        q = _standardise(self.center_query, query, self.training)
        cos = torch.einsum("btd,qd->qbt", F.normalize(v, dim=-1), F.normalize(q, dim=-1))
        return cos.amax(dim=-1)


def _standardise(norm: nn.BatchNorm1d, x: torch.Tensor, training: bool) -> torch.Tensor:
    """``norm(x)`` for ``x (N, dim)``: batch statistics (updating the running ones) when training with ``N >= 2``,
    the running statistics otherwise."""
    if training and x.shape[0] >= 2:
        return norm(x)
    return F.batch_norm(x, norm.running_mean, norm.running_var, training=False, eps=norm.eps)


def _describe(x: object) -> str:
    return f"{shape_text(x)} {x.dtype}" if isinstance(x, torch.Tensor) else type(x).__name__


def _segment_of(starts: torch.Tensor, t: int) -> torch.Tensor:
    """``(B, T)``: the segment each frame belongs to (segments are contiguous, in order)."""
    return (torch.arange(t, device=starts.device)[None, None, :] >= starts[..., None]).sum(dim=1) - 1


def _real_words(batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
    """``(B, S, L)`` bool: a word of a present subtitle (not padding)."""
    tokens, lengths = batch["tokens"], batch["lengths"]
    real = torch.arange(tokens.shape[2], device=tokens.device) < lengths.to(tokens.device)[..., None]
    if "subtitle_mask" in batch:
        real = real & batch["subtitle_mask"].to(tokens.device)[..., None]
    return real


# ------------------------------------------------------------------------------------------------ tasks


def _unwrap(model: Any) -> HERO:
    """The :class:`HERO` inside ``DistributedDataParallel`` or ``torch.compile`` (:func:`vidkit.utils.distributed.unwrap`)."""
    inner = unwrap(model) if isinstance(model, nn.Module) else model
    if isinstance(inner, HERO):
        return inner
    raise TypeError(f"model must be a HERO (or a DistributedDataParallel / compiled HERO), got {type(model).__name__}")


def _generator(generator: torch.Generator | None, step: int) -> torch.Generator:
    if generator is None:
        return torch.Generator().manual_seed(check_int("step", step, 0))
    if not isinstance(generator, torch.Generator) or generator.device.type != "cpu":
        raise TypeError(f"generator must be a CPU torch.Generator or None, got {type(generator).__name__}")
    return generator


def _choose(candidates: torch.Tensor, fraction: float, minimum: int, generator: torch.Generator) -> torch.Tensor:
    """A bool mask of ``max(minimum, round(fraction * n))`` of the ``n`` True entries of ``candidates``, uniformly
    at random (all of them if there are fewer)."""
    flat = candidates.flatten().cpu()
    idx = flat.nonzero().squeeze(1)
    k = min(len(idx), max(minimum, round(fraction * len(idx))))
    chosen = torch.zeros_like(flat)
    chosen[idx[torch.randperm(len(idx), generator=generator)[:k]]] = True
    return chosen.view(candidates.shape).to(candidates.device)


def mlm_loss(model: HERO, batch: Mapping[str, torch.Tensor], step: int = 0, *,
             generator: torch.Generator | None = None, fraction: float = MASK_FRACTION,
             ) -> tuple[torch.Tensor, dict[str, float]]:
    """Masked Language Modelling (HERO eq. 1): ``(loss, {"mlm", "mlm_acc"})``.

    ``M = max(1, round(fraction * #words))`` of the batch's real subtitle words (present subtitles, no padding)
    are replaced by ``[MASK]`` (``model.mask_id``); their cross-modal outputs (flat model: flat outputs) go
    through ``mlm_head`` and are scored against the original ids::

        L_MLM = -1/M sum_{masked (b, s, l)} log P(w_bsl | words of subtitle s without the masked ones,
                                                        frames of segment s)

    A word sees only its own segment's frames and subtitle (the hierarchy), as in the paper. Departure from
    BERT / HERO's code: every chosen word becomes ``[MASK]`` (BERT's 80/10/10 mask/random/keep split is not
    used), and exactly ``M`` words are drawn per batch rather than each with probability 15 %.
    """
    fraction = check_real("fraction", fraction, 0.0, 1.0)
    hero, g = _unwrap(model), _generator(generator, step)
    hero.check_batch(batch)
    real = _real_words(batch)
    if not bool(real.any()):
        raise ValueError("MLM needs at least one subtitle word in the batch (all lengths are 0 or all subtitles "
                         "absent)")
    word_mask = _choose(real, fraction, 1, g)
    out = model(batch, word_mask=word_mask)
    logits = hero.mlm_head(out.words[word_mask])                                      # (M, vocab)
    target = batch["tokens"][word_mask]
    loss = F.cross_entropy(logits.float(), target)
    return loss, {"mlm": float(loss.detach()), "mlm_acc": float((logits.argmax(-1) == target).float().mean())}


def mfm_loss(model: HERO, batch: Mapping[str, torch.Tensor], step: int = 0, *,
             generator: torch.Generator | None = None, fraction: float = MASK_FRACTION,
             objective: str = "nce", tau: float = 0.1) -> tuple[torch.Tensor, dict[str, float]]:
    """Masked Frame Modelling (HERO section 3.2.2): ``(loss, logs)``.

    ``M = max(1, round(fraction * B * T))`` frames of the batch are masked (their input features become zeros,
    see :meth:`HERO.forward`); with ``h_i = mfm_head(V_temp[i])`` for each masked frame ``i`` (flat model: its
    flat output) and the target ``r_i = f_i`` its unmasked CNN feature::

        MFFR  ("regress"):  L = 1/(M dim) sum_i ||h_i - sg(r_i)||^2                    (mean squared error)
        MNCE  ("nce"):      L = -1/M sum_i log( exp(c_ii / tau) / sum_j exp(c_ij / tau) ),
                            c_ij = cos(h_i, r_j), j over all M masked frames of the batch
        "both":             their sum                                  (sg: stop-gradient, ``.detach()``)

    HERO's targets are fixed pretrained features; here the CNN is trained with the rest, so the targets move.
    MFFR's target is detached: otherwise the CNN could shrink every feature to the same easy-to-predict vector
    (collapse). MNCE's target is not: the contrastive form pushes the masked frames' features apart, so the CNN
    learns from it as in CPC (and, at initialisation, a small CNN's features are nearly parallel, cosines ~ 0.9,
    so fixed targets would be hard to tell apart).

    Default ``"nce"``: the paper's best setting is MLM + MNCE + FOM + VSM (adding MFFR did not help).
    Departures: the paper draws MNCE's negatives from the *unmasked* frames, HERO's code (followed here) from the
    other masked frames of the batch; cosine similarities with a temperature ``tau`` replace the code's raw dot
    products; one head serves both objectives. Logs ``"mfm_nce"``, ``"mfm_nce_acc"`` (the right frame ranked
    first) and/or ``"mfm_regress"``.
    """
    fraction = check_real("fraction", fraction, 0.0, 1.0)
    check_choice("objective", objective, ("nce", "regress", "both"))
    tau = check_real("tau", tau, 0.0)
    hero, g = _unwrap(model), _generator(generator, step)
    b, t, _, _ = hero.check_batch(batch)
    device = batch["tokens"].device
    frame_mask = _choose(torch.ones(b, t, dtype=torch.bool, device=device), fraction, 1, g)
    out = model(batch, frame_mask=frame_mask)
    pred = hero.mfm_head(out.frames[frame_mask]).float()                             # (M, dim)
    target = out.features[frame_mask].float()
    logs: dict[str, float] = {}
    loss = torch.zeros((), device=pred.device)
    if objective in ("regress", "both"):
        regress = F.mse_loss(pred, target.detach())
        logs["mfm_regress"] = float(regress.detach())
        loss = loss + regress
    if objective in ("nce", "both"):
        c = F.normalize(pred, dim=-1) @ F.normalize(target, dim=-1).T / tau          # (M, M)
        labels = torch.arange(len(c), device=c.device)
        nce = F.cross_entropy(c, labels)
        logs["mfm_nce"] = float(nce.detach())
        logs["mfm_nce_acc"] = float((c.argmax(-1) == labels).float().mean())
        loss = loss + nce
    return loss, logs


def vsm_loss(model: HERO, batch: Mapping[str, torch.Tensor], step: int = 0, *,
             generator: torch.Generator | None = None, lambda_local: float = 1.0, lambda_global: float = 1.0,
             global_loss: str = "hinge", margin: float = 0.1, tau: float = 0.1,
             ) -> tuple[torch.Tensor, dict[str, float]]:
    """Video-Subtitle Matching (HERO section 3.2.3): ``(loss, logs)``.

    Per episode ``b`` one present, non-empty subtitle ``q_b`` is drawn as the query and **removed from the
    input** (its ``subtitle_mask`` entry set to False); the episodes are encoded without it
    (``V_temp``), the queries alone by :meth:`HERO.encode_query` (``q``). With the segment of ``q_b`` covering
    frames ``[y_st, y_ed + 1)``::

        local:   p_st, p_ed = softmax over t of span_logits(V_temp_b, q_b)           (HERO.span_logits)
                 L_local = -1/B sum_b [ log p_st[y_st] + log p_ed[y_ed] ]
        global:  S(q_i, v_j) = max_t cos(c(V_temp_j[t]), c(q_i))  (centred, HERO.episode_scores)
                 "hinge": 1/(B(B-1)) sum_i sum_{j != i} [ max(0, delta + S(q_i, v_j) - S(q_i, v_i))   episode neg.
                                                        + max(0, delta + S(q_j, v_i) - S(q_i, v_i)) ] query neg.
                          (:func:`vidkit.losses.max_margin_ranking`, ``delta = margin``)
                 "nce":   symmetric InfoNCE over ``S / tau`` (:func:`vidkit.losses.text_video_nce`)
        L_VSM = lambda_local L_local + lambda_global L_global

    The global term needs ``B >= 2`` (the negatives are the batch's other episodes and queries); with ``B = 1``
    it is left out. Departures: one query per episode per step (the paper: 15 % of the subtitles); every other
    episode and query of the batch is a negative (the authors' code samples a few, harder ones); the span
    filters act on ``V_temp q / sqrt(dim)`` (scaled like attention). Logs ``"vsm_local"``, ``"vsm_global"``,
    ``"vsm_start_acc"``, ``"vsm_end_acc"``.
    """
    lambda_local = check_real("lambda_local", lambda_local, 0.0, low_open=False)
    lambda_global = check_real("lambda_global", lambda_global, 0.0, low_open=False)
    check_choice("global_loss", global_loss, ("hinge", "nce"))
    margin = check_real("margin", margin, 0.0, low_open=False)
    tau = check_real("tau", tau, 0.0)
    hero, g = _unwrap(model), _generator(generator, step)
    b, _, s, _ = hero.check_batch(batch)
    tokens, lengths = batch["tokens"], batch["lengths"].long()
    candidates = lengths > 0
    if "subtitle_mask" in batch:
        candidates = candidates & batch["subtitle_mask"]
    if not bool(candidates.any(dim=1).all()):
        i = int((~candidates.any(dim=1)).nonzero()[0])
        raise ValueError(f"VSM needs a present, non-empty subtitle in every episode (the query); episode {i} has none")
    query_seg = torch.multinomial(candidates.float().cpu(), 1, generator=g).squeeze(1).to(tokens.device)   # (B,)
    rows = torch.arange(b, device=tokens.device)
    hidden = batch.get("subtitle_mask", torch.ones_like(candidates)) & ~F.one_hot(query_seg, s).bool()
    out = model({**batch, "subtitle_mask": hidden}, query_tokens=tokens[rows, query_seg],
                query_lengths=lengths[rows, query_seg])
    start, end = hero.span_logits(out.frames, out.query)                              # (B, B, T)
    start, end = start[rows, rows].float(), end[rows, rows].float()                   # query b in episode b
    y_st = batch["starts"].long()[rows, query_seg]
    y_ed = batch["ends"].long()[rows, query_seg] - 1
    local = F.cross_entropy(start, y_st) + F.cross_entropy(end, y_ed)
    logs = {"vsm_local": float(local.detach()),
            "vsm_start_acc": float((start.argmax(-1) == y_st).float().mean()),
            "vsm_end_acc": float((end.argmax(-1) == y_ed).float().mean())}
    loss = lambda_local * local
    if b >= 2:
        scores = hero.episode_scores(out.frames, out.query).float()                  # (B queries, B episodes)
        glob = max_margin_ranking(scores, margin) if global_loss == "hinge" else text_video_nce(scores, tau)
        logs["vsm_global"] = float(glob.detach())
        loss = loss + lambda_global * glob
    return loss, logs


def check_tasks(tasks: Any, allow_empty: bool = False) -> tuple[str, ...]:
    """``tasks`` as a tuple of distinct names from :data:`HERO_TASKS`; ``ValueError`` naming what was expected.
    ``allow_empty``: ``()`` means "no pretraining" (for callers that then skip :func:`hero_loss`)."""
    if isinstance(tasks, str) or not isinstance(tasks, Sequence):
        raise ValueError(f"tasks must be a sequence of task names from {HERO_TASKS}, got {tasks!r}")
    if len(tasks) == 0 and not allow_empty:
        raise ValueError(f"tasks is empty: choose at least one of {HERO_TASKS} (without pretraining, do not call "
                         f"hero_loss)")
    for task in tasks:
        check_choice("task", task, HERO_TASKS)
    if len(set(tasks)) != len(tasks):
        raise ValueError(f"tasks must not repeat a task, got {tuple(tasks)}")
    return tuple(tasks)


def fom_order(batch_size: int, frames: int, fraction: float = MASK_FRACTION,
              generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """FOM's shuffle: ``(order (B, T) long, moved (B, T) bool)``.

    In each episode ``R = max(2, round(fraction * T))`` positions ``p_1..p_R`` are drawn at random and their
    frames rotated one step (the frame from ``p_i`` goes to ``p_{i+1}``, the last to ``p_1``), so every chosen
    frame lands at a wrong place. ``order[b, t]`` is the original position of the frame now at ``t``
    (``order[b, t] == t`` where ``moved`` is False): exactly FOM's classification target. Without a
    ``generator`` the draw is seeded with 0.
    """
    b = check_int("batch_size", batch_size)
    t = check_int("frames", frames, 2, what=" (FOM shuffles at least 2 frames)")
    fraction = check_real("fraction", fraction, 0.0, 1.0)
    g = generator if generator is not None else torch.Generator().manual_seed(0)
    r = min(t, max(2, round(fraction * t)))
    order = torch.arange(t).repeat(b, 1)
    for i in range(b):
        picked = torch.randperm(t, generator=g)[:r]
        order[i, picked] = picked.roll(1)
    return order, order != torch.arange(t)


def fom_loss(model: HERO, batch: Mapping[str, torch.Tensor], step: int = 0, *,
             generator: torch.Generator | None = None, fraction: float = MASK_FRACTION,
             ) -> tuple[torch.Tensor, dict[str, float]]:
    """Frame Order Modelling (HERO section 3.2.4): ``(loss, {"fom", "fom_acc"})``.

    :func:`fom_order` shuffles ``R = max(2, round(fraction * T))`` fused frames per episode after the
    cross-modal transformer (flat model: the frame embeddings); the temporal transformer adds its positions in
    the new order, and ``fom_head`` classifies every moved frame's original position ``t_i``::

        L_FOM = -1/(B R) sum_{moved positions r} log P[r, t_r],   P = softmax over 0..T-1 of fom_head(V_temp_r)

    (the head has ``max_frames`` outputs; the first ``T`` are the classes). Only moved frames are scored, as
    in the paper. A moved frame's fused embedding still knows its place *within its segment* and its subtitle
    (the cross-modal positions are local, as in HERO), so the task is mostly "which segment, then where in it".
    """
    fraction = check_real("fraction", fraction, 0.0, 1.0)
    hero, g = _unwrap(model), _generator(generator, step)
    b, t, _, _ = hero.check_batch(batch)
    if t < 2:
        raise ValueError(f"FOM needs episodes of at least 2 frames, got T = {t}")
    device = batch["tokens"].device
    order, moved = (x.to(device) for x in fom_order(b, t, fraction, g))
    out = model(batch, order=order)
    logits = hero.fom_head(out.frames[moved])[:, :t].float()                         # (B R, T)
    target = order[moved]
    loss = F.cross_entropy(logits, target)
    return loss, {"fom": float(loss.detach()), "fom_acc": float((logits.argmax(-1) == target).float().mean())}


_TASKS = {"mlm": mlm_loss, "mfm": mfm_loss, "vsm": vsm_loss, "fom": fom_loss}


def hero_loss(model: HERO, batch: Mapping[str, torch.Tensor], step: int = 0, *,
              tasks: Sequence[str] = HERO_TASKS, weights: Mapping[str, float] | None = None,
              generator: torch.Generator | None = None, mfm: str = "nce", vsm_global: str = "hinge",
              ) -> tuple[torch.Tensor, dict[str, float]]:
    """HERO's pretraining loss on one batch: ``(loss, logs)``, ``L = sum_{task in tasks} weights[task] * L_task``.

    ``tasks``: a non-empty subset of :data:`HERO_TASKS` (no pretraining at all: don't call this);
    ``weights``: ``{task: weight >= 0}`` (missing tasks weigh 1); ``mfm``: MFM's objective (``"nce"``,
    ``"regress"`` or ``"both"``, see :func:`mfm_loss`); ``vsm_global``: ``"hinge"`` or ``"nce"``
    (:func:`vsm_loss`). The frame CNN runs once; each task then encodes its own corrupted copy of the batch.
    Masks and shuffles are drawn from ``generator`` (default: one seeded with ``step``), in the order of
    ``tasks``: the same step gives the same draws. ``logs``: every task's logs.

    Departure: HERO draws *one* task per mini-batch (with set ratios), which keeps a step as cheap as one
    forward pass over huge inputs. Here every selected task runs on every batch and the losses are summed, so
    runs with different task sets take the same number of steps over the same batches and every task sees
    every batch: comparing task sets at equal steps stays fair (a sampled run would give each task only a
    share of the steps). The cost is one encoder pass per task.

    With ``DistributedDataParallel``: parameters of a task that is not selected get no gradient, so a run with
    a subset of the tasks needs ``find_unused_parameters=True``.
    """
    tasks = check_tasks(tasks)
    weights = dict(weights or {})
    for task, w in weights.items():
        check_choice("weights key", task, tuple(tasks))
        check_real(f"weights[{task!r}]", w, 0.0, low_open=False)
    check_choice("mfm", mfm, ("nce", "regress", "both"))
    check_choice("vsm_global", vsm_global, ("hinge", "nce"))
    hero, g = _unwrap(model), _generator(generator, step)
    hero.check_batch(batch)
    if "features" not in batch:
        batch = {**batch, "features": hero.frame_features(batch["frames"])}
    options: dict[str, dict[str, Any]] = {"mfm": {"objective": mfm}, "vsm": {"global_loss": vsm_global}}
    loss: torch.Tensor | None = None
    logs: dict[str, float] = {}
    for task in tasks:
        value, task_logs = _TASKS[task](model, batch, step, generator=g, **options.get(task, {}))
        value = weights.get(task, 1.0) * value
        loss = value if loss is None else loss + value
        logs.update(task_logs)
    assert loss is not None
    return loss, logs


# ------------------------------------------------------------------------------------------------ downstream


@torch.no_grad()
def moment_scores(model: HERO, batch: Mapping[str, torch.Tensor], query_tokens: torch.Tensor,
                  query_lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Text -> moment retrieval scores of ``Q`` sentences against ``B`` episodes (no gradients).

    ``batch``: the episodes as the model should see them (for TVR-style evaluation, with the query subtitles
    absent: set ``"subtitle_mask"``); ``query_tokens`` ``(Q, L)``, ``query_lengths`` ``(Q,)``. Returns
    ``(start_logits (Q, B, T), end_logits (Q, B, T), episode_score (Q, B))``: VSM's local and global heads.
    An evaluation layer ranks episodes by ``episode_score`` and, within an episode, spans ``[st, ed]`` with
    ``st <= ed`` by ``log_softmax(start)[st] + log_softmax(end)[ed]``, then counts R@k at IoU >= 0.5 / 0.7.
    """
    out = model(batch, query_tokens=query_tokens, query_lengths=query_lengths)
    hero = _unwrap(model)
    start, end = hero.span_logits(out.frames, out.query)
    return start, end, hero.episode_scores(out.frames, out.query)


@torch.no_grad()
def episode_features(model: HERO, batch: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Representations for linear probes (no gradients): ``{"frames": V_temp (B, T, dim), "pooled": mean over
    frames (B, dim), "cross_frames": V_cross (B, T, dim), "features": the CNN's (B, T, dim)}``. Call
    ``model.eval()`` first if the model uses dropout."""
    out = model(batch)
    return {"frames": out.frames, "pooled": out.frames.mean(dim=1), "cross_frames": out.cross_frames,
            "features": out.features}


@torch.no_grad()
def predict_order(model: HERO, batch: Mapping[str, torch.Tensor], order: torch.Tensor | None = None, *,
                  generator: torch.Generator | None = None,
                  fraction: float = MASK_FRACTION) -> tuple[torch.Tensor, torch.Tensor]:
    """A FOM view: shuffle the fused frames by ``order`` ``(B, T)`` (default: :func:`fom_order` with
    ``fraction`` and ``generator``) and return ``(order, predicted)``, ``predicted`` ``(B, T)`` the original
    position the model assigns to the frame at every position (compare with ``order`` where frames moved)."""
    hero = _unwrap(model)
    b, t, _, _ = hero.check_batch(batch)
    if order is None:
        order = fom_order(b, t, fraction, generator)[0].to(batch["tokens"].device)
    out = model(batch, order=order)
    return order, hero.fom_head(out.frames)[..., :t].argmax(dim=-1)
