"""Text-to-video and video-to-video retrieval on the actions suite (notebook 04): data, training, scoring, browsing.

The pieces of :mod:`vidkit.models.text` (vocabulary, text encoder, gated embedding unit, joint model),
:mod:`vidkit.losses` (max-margin ranking, NCE, MIL-NCE) and :mod:`vidkit.eval.retrieval` (tie-safe ranks,
relevance, held-out pairs) put together, read top to bottom:

* **data**: clips of the actions suite and the video encoder's input, every ``stride``-th frame plus its
  temporal difference (:func:`video_input`). An action is a linear sweep, so a few frames show it; the
  laptop profile keeps two frames half a clip apart (``vidkit.profile("laptop").text_video.stride == 8``), which leaves
  the time budget for more training steps (a design choice);
* **words**: :func:`build_vocabulary` (every caption variant of every digit x action pair, plus the
  instance captions of the training clips) and :class:`CaptionBank`, all training captions tokenised
  once;
* **training**: :func:`caption_batches` (an endless stream of clips with a bag of ``P`` captions each),
  :func:`text_video_loss` (one loss function for :func:`vidkit.train.train`, three kinds: max-margin
  ranking, NCE, MIL-NCE) and :func:`train_text_video` (the loop with the profile's budget, ``vidkit.profile().text_video``);
* **scoring**: :func:`embed_videos`, :func:`embed_texts` and :func:`evaluate_text_video`: R@1/5/10 and
  median rank in both directions, for **semantic** hits (any clip whose digit and action match the
  caption) and **instance** hits (only the captioned clip), seen digit x action pairs vs held-out ones;
* **video to video**: :func:`two_stream` (RGB and flow features side by side) and
  :func:`standin_encoders` (quick encoders when notebook 02's are missing);
* **recorded claims**: :data:`CLAIMS` (max-margin vs NCE vs MIL-NCE, and each against chance), their runs
  :data:`CLAIM_RUNS`, trained and scored at equal steps by :func:`claim_run` for ``vidkit reproduce retrieval``;
  :func:`claim_metrics` picks their metrics out of an :func:`evaluate_text_video` table.

The widget that browses the top-k clips of a clip or a typed caption is :class:`vidkit.viz.browser.NeighbourBrowser`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from vidkit.data.actions import ACTIONS, ActionClips, all_captions, generate_actions, instance_captions
from vidkit.data.flow import with_frame_differences
from vidkit.eval.claims import Arm, Claim
from vidkit.eval.retrieval import (
    _emb,
    _label_vector,
    heldout_pairs,
    instance_relevance,
    retrieval_metrics,
    semantic_relevance,
    split_by_pairs,
)
from vidkit.losses import max_margin_ranking, mil_nce, text_video_nce
from vidkit.models.text import TextEncoder, VideoTextModel, Vocabulary
from vidkit.profiles import Profile, TextVideoBudget
from vidkit.train import TrainConfig, TrainResult, steps_for_time, train
from vidkit.utils.checks import check_int, check_real

__all__ = [
    "CLAIMS",
    "CLAIM_RUNS",
    "LOSSES",
    "CaptionBank",
    "build_vocabulary",
    "caption_batches",
    "claim_metrics",
    "claim_run",
    "embed_texts",
    "embed_videos",
    "encoder_features",
    "evaluate_text_video",
    "make_data",
    "make_model",
    "standin_encoders",
    "steps_for_time",
    "text_video_loss",
    "train_text_video",
    "two_stream",
    "video_input",
]

#: The three training objectives, as ``text_video_loss(kind=...)`` names them.
LOSSES: tuple[str, ...] = ("max-margin", "NCE", "MIL-NCE")


# ------------------------------------------------------------------------------------------------ checks


def _clips_tensor(x: Any, name: str, channels: int | None = None) -> torch.Tensor:
    if not isinstance(x, torch.Tensor) or x.dim() != 5 or not x.is_floating_point() or min(x.shape) < 1:
        got = (tuple(x.shape), x.dtype) if isinstance(x, torch.Tensor) else type(x).__name__
        want = f"(N, T, {channels}, H, W)" if channels else "(N, T, C, H, W)"
        raise ValueError(f"{name} must be a float tensor {want}, got {got}")
    if channels is not None and x.shape[2] != channels:
        raise ValueError(f"{name} must have {channels} channels, (N, T, {channels}, H, W), got {tuple(x.shape)}")
    return x


def _action_clips(clips: Any, name: str = "clips") -> ActionClips:
    if not isinstance(clips, ActionClips):
        raise TypeError(f"{name} must be an ActionClips (from vidkit.data.generate_actions), "
                        f"got {type(clips).__name__}")
    return clips


# -------------------------------------------------------------------------------------------------- data


def video_input(clips: ActionClips | torch.Tensor, stride: int = 2) -> torch.Tensor:
    """The video encoder's input: every ``stride``-th frame plus its temporal difference.

    ``clips``: an :class:`ActionClips` or float frames ``(N, T, 1, H, W)`` in [0, 1]. Returns ``(N,
    ceil(T / stride), 2, H, W)`` float32: channel 0 is frame ``x_{s t}``, channel 1 is ``x_{s t} - x_{s (t-1)}``
    (zeros for the first kept frame; :func:`vidkit.data.flow.with_frame_differences` on the kept frames).
    Differences of frames ``stride`` apart are ``stride`` times larger for the linear sweeps of the suite.
    """
    frames = clips.tensors() if isinstance(clips, ActionClips) else clips
    _clips_tensor(frames, "clips (or clips.tensors())", channels=1)
    stride = check_int("stride", stride, 1, max(1, (frames.shape[1] - 1)))
    kept = frames[:, ::stride]
    if kept.shape[1] < 2:
        raise ValueError(f"stride {stride} keeps {kept.shape[1]} frame of {frames.shape[1]}; need at least 2")
    return with_frame_differences(kept.contiguous())


def make_data(n: int, split: str, seed: int, size: int = 32, num_frames: int = 16, distractors: int = 0,
              motion: str = "static", stride: int = 2) -> tuple[ActionClips, torch.Tensor]:
    """Actions clips and their encoder input: ``(clips, x (n, ceil(T / stride), 2, size, size))``."""
    clips = generate_actions(n, split=split, seed=seed, num_frames=num_frames, size=size,
                             num_distractors=distractors, distractor_motion=motion)
    return clips, video_input(clips, stride)


# ------------------------------------------------------------------------------------------------- words


def _semantic_texts(num_actions: int) -> list[str]:
    return [c for d in range(10) for a in range(num_actions) for c in all_captions(d, ACTIONS[a])]


def build_vocabulary(instance: Sequence[str] = (), num_actions: int = len(ACTIONS)) -> Vocabulary:
    """The retrieval vocabulary: every caption variant of every (digit, action) pair (:func:`all_captions`
    of digits 0..9 and the first ``num_actions`` of :data:`ACTIONS`) plus the ``instance`` captions (those
    of the training clips, :func:`vidkit.data.actions.instance_captions`). Held-out pairs are included: their
    words all occur in seen pairs too, so no word is held out, only the combination."""
    if isinstance(instance, str) or not isinstance(instance, Sequence):
        raise TypeError(f"instance must be a sequence of captions, got {type(instance).__name__}")
    check_int("num_actions", num_actions, 1, len(ACTIONS))
    return Vocabulary.build([*_semantic_texts(num_actions), *instance])


def _pad(tokens: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Trim ``(B, L)`` padded tokens to the longest text of the batch."""
    return tokens[:, :int(lengths.max())], lengths


class CaptionBank:
    """Every training caption of a set of clips, tokenised once; draws bags of captions per clip.

    For clip ``i`` two kinds of captions exist:

    * **semantic**: the variants of its (digit, action) pair, :func:`all_captions` (180-216 per pair:
      6 subjects x 6 templates x 5-6 synonyms), which name only the digit and the action;
    * **instance**: ``instance_variants`` rewordings of :func:`instance_captions` (seeds ``seed``,
      ``seed + 1``, ...), which also say where the clip is, how fast it moves and what the distractors do.

    ``vocab`` defaults to :func:`build_vocabulary` of these instance captions. Attributes:
    ``semantic_tokens`` ``(S, L)`` with ``pair_start``, ``pair_count`` ``(10 * A,)`` (pair ``d * A + a``
    owns rows ``pair_start .. pair_start + pair_count - 1``), ``instance_tokens`` ``(V * N, L)`` (row
    ``v * N + i`` is variant ``v`` of clip ``i``), and the matching ``*_lengths``.
    """

    def __init__(self, clips: ActionClips, vocab: Vocabulary | None = None, instance_variants: int = 4,
                 seed: int = 0):
        clips = _action_clips(clips)
        self.instance_variants = check_int("instance_variants", instance_variants, 1)
        self.num_actions = len(clips.action_names)
        if tuple(clips.action_names) != ACTIONS[:self.num_actions]:
            raise ValueError(f"clips must use the suite's action order (a prefix of ACTIONS), got "
                             f"{clips.action_names}")
        self.digit = torch.as_tensor(clips.digit, dtype=torch.long)
        self.action = torch.as_tensor(clips.action, dtype=torch.long)
        self.instance_texts = [t for v in range(self.instance_variants)
                               for t in instance_captions(clips, rng=check_int("seed", seed, 0) + v)]
        self.vocab = vocab if vocab is not None else build_vocabulary(self.instance_texts, self.num_actions)
        if not isinstance(self.vocab, Vocabulary):
            raise TypeError(f"vocab must be a Vocabulary, got {type(self.vocab).__name__}")
        starts, counts, texts = [], [], []
        for d in range(10):
            for a in range(self.num_actions):
                pool = all_captions(d, ACTIONS[a])
                starts.append(len(texts))
                counts.append(len(pool))
                texts.extend(pool)
        self.pair_start = torch.tensor(starts)
        self.pair_count = torch.tensor(counts)
        self.semantic_tokens, self.semantic_lengths = self.vocab.encode(texts)
        self.instance_tokens, self.instance_lengths = self.vocab.encode(self.instance_texts)
        self.n = len(clips)

    def __len__(self) -> int:
        return self.n

    def sample(self, index: torch.Tensor, bag: int = 1, instance_fraction: float = 0.0,
               generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """A bag of ``bag`` captions for each clip of ``index`` ``(B,)``: ``(tokens (B * bag, L), lengths
        (B * bag,))``, clip-major (row ``b * bag + p`` is caption ``p`` of clip ``index[b]``).

        Each caption is, independently, one of the clip's instance captions with probability
        ``instance_fraction``, else one of its pair's semantic variants; both uniformly at random (a bag
        may repeat a caption, rarely: 180-216 semantic variants).
        """
        if not isinstance(index, torch.Tensor) or index.dim() != 1 or index.dtype != torch.long:
            raise TypeError(f"index must be a LongTensor (B,) of clip indices, got {getattr(index, 'dtype', index)}")
        if len(index) and (int(index.min()) < 0 or int(index.max()) >= self.n):
            raise ValueError(f"index must lie in 0..{self.n - 1} (the bank's clips)")
        bag = check_int("bag", bag, 1)
        instance_fraction = check_real("instance_fraction", instance_fraction, 0, 1, low_open=False)
        b = len(index)
        idx = index.repeat_interleave(bag)                                       # (B * bag,)
        pair = self.digit[idx] * self.num_actions + self.action[idx]
        u = torch.rand(len(idx), generator=generator)
        sem_row = self.pair_start[pair] + (u * self.pair_count[pair]).long().clamp_max(self.pair_count[pair] - 1)
        variant = torch.randint(0, self.instance_variants, (len(idx),), generator=generator)
        use_instance = torch.rand(len(idx), generator=generator) < instance_fraction
        inst_row = variant * self.n + idx
        width = max(self.semantic_tokens.shape[1], self.instance_tokens.shape[1])
        tokens = torch.zeros(b * bag, width, dtype=torch.long)
        lengths = torch.empty(b * bag, dtype=torch.long)
        s, i = ~use_instance, use_instance
        tokens[s, :self.semantic_tokens.shape[1]] = self.semantic_tokens[sem_row[s]]
        lengths[s] = self.semantic_lengths[sem_row[s]]
        tokens[i, :self.instance_tokens.shape[1]] = self.instance_tokens[inst_row[i]]
        lengths[i] = self.instance_lengths[inst_row[i]]
        return _pad(tokens, lengths)


def caption_batches(x: torch.Tensor, bank: CaptionBank, batch_size: int, bag: int = 1,
                    instance_fraction: float = 0.0, seed: int = 0) -> Iterator[dict[str, torch.Tensor]]:
    """Endless shuffled batches ``{"video": (B, T, C, H, W), "tokens": (B * bag, L), "lengths": (B * bag,),
    "digit": (B,), "action": (B,), "index": (B,)}`` for :func:`text_video_loss` (a new permutation of
    the clips every epoch, seeded; captions drawn by :meth:`CaptionBank.sample`). ``x[i]`` is clip ``i``
    of the bank. Inputs are checked when called."""
    _clips_tensor(x, "x")
    if not isinstance(bank, CaptionBank):
        raise TypeError(f"bank must be a CaptionBank, got {type(bank).__name__}")
    if len(x) != len(bank):
        raise ValueError(f"x has {len(x)} clips but the bank has {len(bank)}; x[i] must be the bank's clip i")
    batch_size = check_int("batch_size", batch_size, 2, len(x))
    bag = check_int("bag", bag, 1)
    instance_fraction = check_real("instance_fraction", instance_fraction, 0, 1, low_open=False)
    return _endless(x, bank, batch_size, bag, instance_fraction, seed)


def _endless(x: torch.Tensor, bank: CaptionBank, batch_size: int, bag: int, instance_fraction: float,
             seed: int) -> Iterator[dict[str, torch.Tensor]]:
    gen = torch.Generator().manual_seed(seed)
    while True:
        order = torch.randperm(len(x), generator=gen)
        for lo in range(0, len(x) - batch_size + 1, batch_size):
            idx = order[lo:lo + batch_size]
            tokens, lengths = bank.sample(idx, bag, instance_fraction, gen)
            yield {"video": x[idx], "tokens": tokens, "lengths": lengths, "digit": bank.digit[idx],
                   "action": bank.action[idx], "index": idx}


# ---------------------------------------------------------------------------------------------- training


def make_model(vocab_size: int, dim: int = 64, width: int = 16, video_dim: int = 128, in_channels: int = 2,
               text: str = "conv", video_encoder: nn.Module | None = None) -> VideoTextModel:
    """The joint model: ``Conv3dEncoder(in_channels, width, video_dim)`` (or ``video_encoder``) + a gated
    embedding unit into ``dim``, and a :class:`vidkit.models.text.TextEncoder` (``text`` = "conv" or "gru", word
    embeddings of 64, 128 hidden units, its own gated embedding unit into ``dim``)."""
    from vidkit.models.encoders import Conv3dEncoder

    if video_encoder is None:
        video_encoder = Conv3dEncoder(in_channels, width=width, dim=video_dim)
    return VideoTextModel(video_encoder, TextEncoder(vocab_size, word_dim=64, hidden=128, out_dim=dim, kind=text),
                          dim=dim)


def text_video_loss(model: VideoTextModel, batch: Mapping[str, torch.Tensor], _step: int = 0, *, kind: str = "NCE",
                    margin: float = 0.1, temperature: float = 0.05) -> tuple[torch.Tensor, dict]:
    """One batch of :func:`caption_batches`, one of :data:`LOSSES`; returns ``(loss, {"batch_R@1": ...})``.
    ``_step`` (the training step :func:`vidkit.train.train` passes) is unused; the options are keyword-only.

    ``v`` ``(B, D)`` are the clips' embeddings, ``t_ip`` caption ``p`` of clip ``i`` (unit rows):

    * ``"max-margin"``: :func:`vidkit.losses.max_margin_ranking` (margin ``margin``) on ``s_ij = v_i . t_j0``;
    * ``"NCE"``: :func:`vidkit.losses.text_video_nce` (temperature ``temperature``) on the same ``(B, B)``;
    * ``"MIL-NCE"``: :func:`vidkit.losses.mil_nce` on the whole bags ``t (B, P, D)``.

    Max-margin and NCE read the first caption of each bag only. ``batch_R@1``: the fraction of clips
    whose own first caption is their most similar one in the batch (a training-progress signal).
    """
    if kind not in LOSSES:
        raise ValueError(f"kind must be one of {LOSSES}, got {kind!r}")
    for key in ("video", "tokens", "lengths"):
        if key not in batch:
            raise KeyError(f"batch needs {key!r} (see caption_batches); it has {sorted(batch)}")
    video, tokens, lengths = batch["video"], batch["tokens"], batch["lengths"]
    b = video.shape[0]
    if tokens.dim() != 2 or tokens.shape[0] % b:
        raise ValueError(f"tokens must be (B * P, L) with B = {b} clips, got {tuple(tokens.shape)}")
    p = tokens.shape[0] // b
    v = model.embed_video(video)                                                  # (B, D)
    if kind == "MIL-NCE":
        t = model.embed_text(tokens, lengths).view(b, p, -1)                      # (B, P, D)
        loss = mil_nce(v, t, temperature=temperature)
        first = t[:, 0]
    else:
        first_rows = torch.arange(b, device=tokens.device) * p
        tok, ln = tokens[first_rows], lengths[first_rows]
        first = model.embed_text(tok[:, :int(ln.max())], ln)
        sim = v @ first.T
        loss = max_margin_ranking(sim, margin) if kind == "max-margin" else text_video_nce(sim, temperature)
    with torch.no_grad():
        hit = (v @ first.T).argmax(dim=1) == torch.arange(b, device=v.device)
    return loss, {"batch_R@1": float(hit.float().mean())}


def train_text_video(model: VideoTextModel, x: torch.Tensor, bank: CaptionBank, kind: str,
                     budget: TextVideoBudget, seed: int = 0, progress: bool = True,
                     **loss_kwargs: Any) -> TrainResult:
    """Train ``model`` with loss ``kind`` on clips ``x (N, T, C, H, W)`` and their captions ``bank`` with
    the kit's one loop, :func:`vidkit.train.train`, for ``budget.steps`` steps or ``budget.time_s``
    seconds (batch ``budget.batch``, bags of ``budget.bag`` for MIL-NCE, ``budget.instance_fraction``,
    peak ``budget.lr`` with warm-up and cosine decay); ``budget`` is a profile's, ``vidkit.profile().text_video``,
    or one made from it with :func:`dataclasses.replace`. ``loss_kwargs`` go to :func:`text_video_loss`."""
    from functools import partial

    if kind not in LOSSES:
        raise ValueError(f"kind must be one of {LOSSES}, got {kind!r}")
    if not isinstance(budget, TextVideoBudget):
        raise TypeError(f"budget must be a vidkit.profiles.TextVideoBudget (e.g. vidkit.profile().text_video), "
                        f"got {type(budget).__name__}")
    bag = budget.bag if kind == "MIL-NCE" else 1
    batches = caption_batches(x, bank, min(budget.batch, len(x)), bag=bag,
                              instance_fraction=budget.instance_fraction, seed=seed)
    loss_fn = partial(text_video_loss, kind=kind, **loss_kwargs)
    steps = budget.steps
    if budget.time_s is not None:
        steps = steps_for_time(model, loss_fn, next(caption_batches(x, bank, min(budget.batch, len(x)),
                                                                    bag=bag, seed=seed + 1)),
                               budget.time_s, steps)
    cfg = TrainConfig(steps=steps, time_budget_s=budget.time_s, lr=budget.lr, weight_decay=1e-4,
                      warmup_steps=max(1, min(100, steps // 20)), min_lr_ratio=0.05,
                      log_every=max(1, min(25, steps // 10)), seed=seed)
    torch.manual_seed(seed)
    return train(model, loss_fn, batches, cfg, progress=progress)


# ----------------------------------------------------------------------------------------------- scoring


@torch.no_grad()
def embed_videos(model: VideoTextModel, x: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
    """Joint-space embeddings of clips: ``x (N, T, C, H, W)`` -> ``(N, D)`` float32, unit rows (eval mode)."""
    _clips_tensor(x, "x")
    batch_size = check_int("batch_size", batch_size)
    was = model.training
    model.eval()
    try:
        device = next(model.parameters()).device
        out = [model.embed_video(x[lo:lo + batch_size].to(device)).float().cpu() for lo in range(0, len(x), batch_size)]
    finally:
        model.train(was)
    return torch.cat(out)


@torch.no_grad()
def embed_texts(model: VideoTextModel, vocab: Vocabulary, texts: str | Sequence[str], batch_size: int = 512,
                query: bool = False) -> torch.Tensor:
    """Joint-space embeddings of captions: ``Q`` texts -> ``(Q, D)`` float32, unit rows (eval mode).

    ``query=False`` encodes with :meth:`Vocabulary.encode` (unknown words become ``<unk>``);
    ``query=True`` with :meth:`Vocabulary.encode_query`, for free text typed by a person: unknown words
    are dropped with a warning, and a query with no known word raises a ``ValueError`` naming them.
    """
    if not isinstance(vocab, Vocabulary):
        raise TypeError(f"vocab must be a vidkit.models.text.Vocabulary, got {type(vocab).__name__}")
    items = [texts] if isinstance(texts, str) else texts
    if isinstance(items, Sequence) and len(items) == 0:
        raise ValueError("texts is empty: give at least one caption")
    batch_size = check_int("batch_size", batch_size)
    encode = vocab.encode_query if query else vocab.encode
    was = model.training
    model.eval()
    try:
        device = next(model.parameters()).device
        out = []
        for lo in range(0, len(items), batch_size):
            tokens, lengths = encode(list(items[lo:lo + batch_size]))
            out.append(model.embed_text(tokens.to(device), lengths.to(device)).float().cpu())
    finally:
        model.train(was)
    return torch.cat(out)


#: Columns of :func:`evaluate_text_video`'s table.

def evaluate_text_video(video_emb: Any, digit: Any, action: Any, caption_emb: Any, caption_digit: Any,
                        caption_action: Any, instance_emb: Any = None,
                        heldout: Sequence[tuple[int, int]] = (), ks: Sequence[int] = (1, 5, 10)) -> pd.DataFrame:
    """Retrieval in both directions, for semantic and instance hits, on seen and held-out pairs.

    Args:
        video_emb: ``(N, D)`` embeddings of the ``N`` gallery clips, with labels ``digit``, ``action`` ``(N,)``.
        caption_emb: ``(Q, D)`` embeddings of ``Q`` semantic captions (e.g. one per clip,
            ``clips.captions``), stating digit ``caption_digit`` and action ``caption_action`` ``(Q,)``.
        instance_emb: ``(N, D)`` or None: row ``i`` embeds the instance caption of clip ``i``
            (:func:`vidkit.data.actions.instance_captions`).
        heldout: the (digit, action) pairs held out of training; a query belongs to the held-out split if
            its own pair (the caption's for text -> video, the clip's for video -> text) is one of them.
        ks: the ``k`` of ``R@k``.

    What counts as a hit (``relevant``, :mod:`vidkit.eval.retrieval`); scores are cosine similarities:

    * text -> video, **semantic**: caption ``q`` queries the ``N`` clips; a hit is any clip whose digit and
      action are the caption's (:func:`vidkit.eval.retrieval.semantic_relevance`);
    * text -> video, **instance**: instance caption ``i`` queries the clips; only clip ``i`` is a hit;
    * video -> text, **semantic**: clip ``i`` queries the ``Q`` semantic captions; a hit is any caption
      stating the clip's digit and action;
    * video -> text, **instance**: clip ``i`` queries the ``N`` instance captions; only caption ``i`` is a hit.

    Ranks are first-hit ranks with ties counted against the query (:func:`vidkit.eval.retrieval.first_hit_ranks`).
    Every query needs at least one hit in its gallery: each caption's pair must occur among the clips, and
    each clip's pair among the captions (a ``ValueError`` names the first that does not).

    Returns a DataFrame, one row per ``(direction, hits, pairs)`` with ``direction`` in ``"text->video"``,
    ``"video->text"``, ``hits`` in ``"semantic"``, ``"instance"`` and ``pairs`` in ``"seen"``, ``"held-out"``
    (a split without queries is left out), columns: the query and gallery counts,
    ``R@k`` (fractions), median and mean first-hit rank, and the chance levels of random scores
    (``chance@k``, and ``chance_MeanR`` of :func:`vidkit.eval.retrieval.retrieval_metrics`,
    the expected rank of a random order).
    """
    v = _emb(video_emb, "video_emb")
    n, dim = v.shape
    d, a = _label_vector(digit, "digit", n), _label_vector(action, "action", n)
    c = _emb(caption_emb, "caption_emb", dim=dim)
    cd = _label_vector(caption_digit, "caption_digit", len(c))
    ca = _label_vector(caption_action, "caption_action", len(c))
    inst = None if instance_emb is None else _emb(instance_emb, "instance_emb", rows=n, dim=dim)
    if isinstance(heldout, str) or not isinstance(heldout, Sequence):
        raise TypeError(f"heldout must be a sequence of (digit, action) pairs, got {type(heldout).__name__}")
    heldout = [tuple(int(x) for x in p) for p in heldout]
    clip_pairs = set(zip(d.tolist(), a.tolist()))
    cap_pairs = set(zip(cd.tolist(), ca.tolist()))
    for what, have, need in (("caption", clip_pairs, zip(cd.tolist(), ca.tolist())),
                             ("clip", cap_pairs, zip(d.tolist(), a.tolist()))):
        for i, pair in enumerate(need):
            if pair not in have:
                other = "clips" if what == "caption" else "captions"
                raise ValueError(f"{what} {i} has (digit, action) = {pair}, which no {other[:-1]} has: every "
                                 f"query needs a hit, so every pair of the {what}s must occur among the {other}")
    ks = [check_int("each k in ks", k, 1) for k in ks]
    _, clip_held = split_by_pairs(d, a, heldout) if heldout else (None, np.zeros(n, bool))
    _, cap_held = split_by_pairs(cd, ca, heldout) if heldout else (None, np.zeros(len(c), bool))

    t2v_sem = semantic_relevance(cd, ca, d, a)                                  # (Q, N)
    settings = [("text->video", "semantic", c @ v.T, t2v_sem, cap_held),
                ("video->text", "semantic", v @ c.T, t2v_sem.T.contiguous(), clip_held)]
    if inst is not None:
        eye = instance_relevance(np.arange(n), n)
        settings += [("text->video", "instance", inst @ v.T, eye, clip_held),
                     ("video->text", "instance", v @ inst.T, eye, clip_held)]
    rows, index = [], []
    for direction, hits, scores, relevant, held in settings:
        for split, mask in (("seen", ~held), ("held-out", held)):
            if not mask.any():
                continue
            m = torch.from_numpy(mask)
            k_ok = [k for k in ks if k <= scores.shape[1]]
            out = retrieval_metrics(scores[m], relevant[m], ks=k_ok)
            row = {"queries": int(mask.sum()), "gallery": int(scores.shape[1]), "MedR": out["MedR"],
                   "MeanR": out["MeanR"], "chance_MeanR": out["chance_MeanR"]}
            for k in k_ok:
                row[f"R@{k}"], row[f"chance@{k}"] = out[f"R@{k}"], out[f"chance@{k}"]
            rows.append(row)
            index.append((direction, hits, split))
    cols = ["queries", "gallery", *[f"R@{k}" for k in ks], "MedR", "MeanR", *[f"chance@{k}" for k in ks],
            "chance_MeanR"]
    frame = pd.DataFrame(rows, index=pd.MultiIndex.from_tuples(index, names=["direction", "hits", "pairs"]))
    return frame.reindex(columns=cols)


# --------------------------------------------------------------------------------------- video to video


def encoder_features(encoders: Mapping[str, nn.Module], rgb: torch.Tensor, flow: torch.Tensor | None = None,
                     batch_size: int = 128, progress: bool = True) -> dict[str, np.ndarray]:
    """Frozen features of every encoder: ``{name: (N, D) float32}``.

    Each encoder reads its own view: a model whose ``view`` attribute is ``"flow"`` (a flow
    :class:`vidkit.models.moco.MoCo`) gets ``flow`` ``(N, T-1, 2, H, W)``, every other one ``rgb``
    ``(N, T, 1, H, W)`` (RGB MoCo models, the Srivastava LSTM). Features come from ``embed``, before any
    projection head (:func:`vidkit.eval.representation.extract_embeddings`).
    """
    from tqdm.auto import tqdm

    from vidkit.eval.representation import extract_embeddings

    if not isinstance(encoders, Mapping) or not encoders:
        raise TypeError("encoders must be a non-empty dict {name: model with embed()}")
    _clips_tensor(rgb, "rgb", channels=1)
    if flow is not None:
        _clips_tensor(flow, "flow", channels=2)
        if len(flow) != len(rgb):
            raise ValueError(f"rgb and flow must hold the same clips, got {len(rgb)} and {len(flow)}")
    out = {}
    for name, model in tqdm(encoders.items(), desc="features", disable=not progress, unit="encoder"):
        view = getattr(model, "view", "rgb")
        if view == "flow" and flow is None:
            raise ValueError(f"encoder {name!r} reads flow: pass flow (N, T-1, 2, H, W)")
        out[name] = extract_embeddings(model, flow if view == "flow" else rgb, batch_size=batch_size,
                                       progress=False)
    return out


def two_stream(query_rgb: Any, gallery_rgb: Any, query_flow: Any, gallery_flow: Any) -> tuple[np.ndarray, np.ndarray]:
    """Two-stream features: RGB and flow features side by side, each stream weighted equally.

    Each stream is mean-centred with its **gallery** mean and its rows L2-normalised, then the two are
    concatenated: ``(M, D1), (N, D1), (M, D2), (N, D2) -> (M, D1 + D2), (N, D1 + D2)``. The cosine
    similarity of two concatenated rows is then the average of the two streams' cosines (every row has
    norm sqrt(2)), so neither stream dominates because its features happen to be larger.
    """
    from vidkit.eval.representation import _features

    qr, gr = _features(query_rgb, "query_rgb"), _features(gallery_rgb, "gallery_rgb")
    qf, gf = _features(query_flow, "query_flow"), _features(gallery_flow, "gallery_flow")
    if len(qr) != len(qf) or len(gr) != len(gf):
        raise ValueError(f"the RGB and flow features must describe the same clips: queries {len(qr)} vs "
                         f"{len(qf)}, gallery {len(gr)} vs {len(gf)}")
    if qr.shape[1] != gr.shape[1] or qf.shape[1] != gf.shape[1]:
        raise ValueError("query and gallery features of a stream need the same dimension D")

    def unit(x: np.ndarray) -> np.ndarray:
        return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)

    mr, mf = gr.mean(axis=0, keepdims=True), gf.mean(axis=0, keepdims=True)
    q = np.concatenate([unit(qr - mr), unit(qf - mf)], axis=1)
    g = np.concatenate([unit(gr - mr), unit(gf - mf)], axis=1)
    return q.astype(np.float32), g.astype(np.float32)


def standin_encoders(rgb: torch.Tensor, flow: torch.Tensor, labels: Mapping[str, Any], steps: int, time_s: float,
                     batch_size: int = 64, progress: bool = True) -> dict[str, nn.Module]:
    """Quick stand-ins for notebook 02's encoders, for when its ``encoders.pt`` is missing.

    Returns ``{"random RGB", "random flow", "InfoNCE RGB", "InfoNCE flow"}``: notebook 02's MoCo models
    (:func:`vidkit.models.moco.notebook_moco`) at random initialisation, and two more trained with
    InfoNCE (:func:`vidkit.models.moco.infonce_loss`) for ``steps`` steps or ``time_s`` seconds each on
    ``rgb (N, T, 1, H, W)`` / ``flow (N, T-1, 2, H, W)`` (``labels`` as :func:`vidkit.data.batches.clip_batches`
    wants them, e.g. ``{"action": ..., "digit": ...}``; InfoNCE does not read them). All in eval mode.
    """
    from vidkit.models.moco import infonce_loss, notebook_moco, pretrain

    _clips_tensor(rgb, "rgb", channels=1)
    _clips_tensor(flow, "flow", channels=2)
    steps = check_int("steps", steps)
    out: dict[str, nn.Module] = {}
    torch.manual_seed(0)
    out["random RGB"], out["random flow"] = notebook_moco("rgb").eval(), notebook_moco("flow").eval()
    for view, name in (("rgb", "InfoNCE RGB"), ("flow", "InfoNCE flow")):
        torch.manual_seed(0)
        model = notebook_moco(view)
        pretrain(model, infonce_loss, rgb, labels, steps=steps, batch=batch_size, time_s=time_s, flow=flow,
                 progress=progress)
        out[name] = model.eval()
    return out


# ---------------------------------------------------------------------------- recorded claims (notebook 04)

#: The runs notebook 04's claims compare, one per loss: run name -> ``text_video_loss`` kind (the names are
#: :data:`LOSSES`). Every run trains the profile's ``text_video.steps`` steps, no time cap (:func:`claim_run`).
CLAIM_RUNS: dict[str, str] = {kind: kind for kind in LOSSES}

#: The joint model and loss options of the claim runs (:func:`make_model` and :func:`text_video_loss`'s
#: defaults, the notebook's), recorded in each run's config.
CLAIM_MODEL: dict[str, Any] = {"dim": 64, "width": 16, "video_dim": 128, "text": "conv"}
CLAIM_LOSS_OPTIONS: dict[str, dict[str, float]] = {"max-margin": {"margin": 0.1}, "NCE": {"temperature": 0.05},
                                                   "MIL-NCE": {"temperature": 0.05}}

_HOWTO = "max-margin ranking: Miech et al. 2019 (HowTo100M)"
_MILNCE = "Miech et al. 2020 (MIL-NCE), ablation of the training loss"
_CLEAN = (" The kit's captions are clean (every caption of a bag is about its clip), not noisy narration, so "
          "MIL-NCE's advantage is not expected to carry over; the record decides.")
_SEEN, _HELD = "seen digit x action pairs", "held-out digit x action pairs"


def _loss_claims(a: str, b: str, slug: str, extra: str = "") -> tuple[Claim, ...]:
    return tuple(Claim(f"retrieval.{slug}_{split}", f"Does {a} find clips of the caption's digit and action "
                       f"(text -> video, semantic R@1, {words}) better than {b}?{extra}",
                       f"{_MILNCE}; {_HOWTO}" if b == "max-margin" else _MILNCE,
                       Arm(a, f"t2v_R@1_{split}", a), Arm(b, f"t2v_R@1_{split}", b), "greater")
                 for split, words in (("seen", _SEEN), ("heldout", _HELD)))


#: Notebook 04's claims, checked over seeds by ``vidkit reproduce retrieval``. Metrics (:func:`claim_metrics`):
#: text -> video retrieval with semantic hits (a clip of the caption's digit and action) over the profile's
#: test clips, one caption per clip; ``t2v_chance@1_heldout`` is random scores' R@1 on the same gallery.
CLAIMS: tuple[Claim, ...] = (
    *_loss_claims("NCE", "max-margin", "nce_beats_max_margin"),
    *_loss_claims("MIL-NCE", "NCE", "mil_nce_beats_nce", _CLEAN),
    *(Claim(f"retrieval.{kind.lower().replace('-', '_')}_above_chance_heldout",
            f"Trained with {kind}, does a caption of a held-out digit x action pair find clips of that pair "
            "(text -> video, semantic R@1) more often than random scores on the same gallery?",
            "the kit's sanity check", Arm(kind, "t2v_R@1_heldout", kind),
            Arm(kind, "t2v_chance@1_heldout", "chance (random scores)"), "greater")
      for kind in LOSSES),
)

#: The rows of :func:`evaluate_text_video`'s table that :func:`claim_metrics` reads: metric prefix -> (direction,
#: hits), and its split suffixes: ``pairs`` -> suffix.
_CLAIM_ROWS = {"t2v": ("text->video", "semantic"), "v2t": ("video->text", "semantic"),
               "t2v_instance": ("text->video", "instance")}
_SPLITS = {"seen": "seen", "held-out": "heldout"}


def claim_metrics(table: pd.DataFrame) -> dict[str, float]:
    """The claims' metrics out of an :func:`evaluate_text_video` table (the notebook's and :func:`claim_run`'s
    scoring), for each split (``seen``, ``heldout``) present:

    * ``t2v_R@1_<split>``, ``t2v_R@10_<split>``, ``t2v_MedR_<split>``, ``t2v_chance@1_<split>``,
      ``t2v_chance@10_<split>``: text -> video, semantic hits;
    * ``v2t_R@1_<split>``: video -> text, semantic hits;
    * ``t2v_instance_R@10_<split>``: text -> video, instance hits (if the table has them).
    """
    if not isinstance(table, pd.DataFrame):
        raise TypeError(f"table must be the DataFrame of evaluate_text_video, got {type(table).__name__}")
    columns = {"t2v": ("R@1", "R@10", "MedR", "chance@1", "chance@10"), "v2t": ("R@1",), "t2v_instance": ("R@10",)}
    out = {}
    for prefix, (direction, hits) in _CLAIM_ROWS.items():
        for pairs, suffix in _SPLITS.items():
            if (direction, hits, pairs) in table.index:
                row = table.loc[(direction, hits, pairs)]
                out.update({f"{prefix}_{col}_{suffix}": float(row[col]) for col in columns[prefix]})
    return out


_CLAIM_DATA: dict[tuple, dict[str, Any]] = {}


def _claim_data(prof: Profile) -> dict[str, Any]:
    """The notebook's data for ``prof``, built once per process: seen-pair training clips ``x_seen`` and their
    :class:`CaptionBank` ``bank`` (with its vocabulary), the test clips ``test`` with input ``x_test`` and
    instance captions ``test_instance``, and the held-out pairs ``heldout``."""
    b = prof.text_video
    key = (prof.actions_train, prof.actions_test, prof.actions_size, prof.actions_frames, b.distractors, b.stride,
           b.heldout)
    if key not in _CLAIM_DATA:
        kw = dict(size=prof.actions_size, num_frames=prof.actions_frames, distractors=b.distractors, stride=b.stride)
        train_set, x_train = make_data(prof.actions_train, "train", seed=0, **kw)
        test_set, x_test = make_data(prof.actions_test, "test", seed=1, **kw)
        held = heldout_pairs(n=b.heldout)
        seen, _ = split_by_pairs(train_set.digit, train_set.action, held)
        _CLAIM_DATA[key] = {"x_seen": x_train[seen], "bank": CaptionBank(train_set.subset(seen)), "test": test_set,
                            "x_test": x_test, "test_instance": instance_captions(test_set), "heldout": held}
    return _CLAIM_DATA[key]


def claim_run(name: str, profile: str | Profile, seed: int, root: Any = None, progress: bool = False) -> dict[str, Any]:
    """Train and score claim run ``name`` (:data:`CLAIM_RUNS`, a loss) as notebook 04 does, at equal steps: a fresh
    :func:`make_model` (:data:`CLAIM_MODEL`) trained by :func:`train_text_video` on the seen-pair training clips
    for the profile's ``text_video.steps`` steps with no time cap, scored by :func:`evaluate_text_video` on the
    test clips (:func:`claim_metrics`). ``seed`` seeds the initial weights, the batch order and the captions
    drawn; the clips, captions and held-out pairs are the notebook's (built once per process). ``root`` is not
    used (nothing is written). Returns the record entry ``{"run", "seed", "config", "steps",
    "metrics"}``."""
    import dataclasses

    from vidkit.profiles import profile as get_profile

    if name not in CLAIM_RUNS:
        raise ValueError(f"unknown claim run {name!r}; available: {sorted(CLAIM_RUNS)}")
    seed = check_int("seed", seed, 0)
    prof = profile if isinstance(profile, Profile) else get_profile(profile)
    kind = CLAIM_RUNS[name]
    budget = dataclasses.replace(prof.text_video, time_s=None)   # equal steps: no time cap, no steps_for_time
    data = _claim_data(prof)
    bank = data["bank"]
    torch.manual_seed(seed)
    model = make_model(len(bank.vocab), **CLAIM_MODEL)
    result = train_text_video(model, data["x_seen"], bank, kind, budget, seed=seed, progress=progress,
                              **CLAIM_LOSS_OPTIONS[kind])
    test = data["test"]
    table = evaluate_text_video(embed_videos(model, data["x_test"]), test.digit, test.action,
                                embed_texts(model, bank.vocab, test.captions), test.digit, test.action,
                                embed_texts(model, bank.vocab, data["test_instance"]), heldout=data["heldout"])
    config = {"profile": prof.name, "loss": kind, "loss_options": CLAIM_LOSS_OPTIONS[kind], "model": CLAIM_MODEL,
              "budget": dataclasses.asdict(budget),
              "data": {"actions_train": prof.actions_train, "actions_test": prof.actions_test,
                       "actions_size": prof.actions_size, "actions_frames": prof.actions_frames,
                       "train_seed": 0, "test_seed": 1, "seen_train_clips": len(bank),
                       "heldout_pairs": [list(p) for p in data["heldout"]], "vocabulary": len(bank.vocab)}}
    return {"run": name, "seed": seed, "config": config, "steps": int(result.steps),
            "metrics": claim_metrics(table)}
