"""HERO on subtitled episodes (notebook 06): data, pretraining, HERO's downstream protocol, recorded claims.

The pieces of :mod:`vidkit.data.episodes` (toy TV episodes: 3 action segments, one subtitle each),
:mod:`vidkit.models.hero` (the hierarchical transformer and its four pretraining tasks) and
:mod:`vidkit.eval.retrieval` / :mod:`vidkit.eval.representation` put together, read top to bottom:

* **data** (:func:`make_data`, :class:`HeroData`): episodes of the profile's ``hero`` budget, frames plus their
  differences within each segment ``(N, T, 2, S, S)`` (the motion channel of notebooks 03 and 05), subtitles tokenised to ``(N, G, L)`` with a :class:`vidkit.models.text.Vocabulary`
  built from the training subtitles **and** every caption variant of every digit x action pair (so no query
  word is unknown), ``L`` = :data:`MAX_WORDS` (the longest caption variant). Built once per process.
* **batches** (:func:`hero_batches`): an endless seeded stream of the batch dicts :func:`vidkit.models.hero.hero_loss`
  reads; :func:`query_batches`: the same episodes for TVR fine-tuning, subtitles hidden, one caption *variant*
  per episode as the query.
* **pretraining** (:func:`make_model`, :func:`pretrain`): the kit's one loop, :func:`vidkit.train.train`, with
  the sum of the selected tasks (MLM, MFM, VSM, FOM) at the budget's steps; ``tasks=()`` is the no-pretraining
  baseline.
* **downstream, HERO's protocol** (pretrain, then fine-tune or probe):

  - text -> moment retrieval, the TVR protocol (:func:`finetune_tvr`, :func:`moment_retrieval`): every model is
    fine-tuned with VSM for the same steps, then each query (a caption variant of a segment) ranks
    *(episode, span)* moments of the test episodes, **shown without their subtitles**;
  - linear probes on frozen features (:func:`probe_scores`): the action of each segment (and its time
    reversal: within-mirror-pair accuracy), the digit of each episode, and "which action came first"
    (an order-dependent question), also on held-out compositions (novel digit x action pairs, novel orders);
  - :func:`evaluate_hero`: all of it, one flat dict of floats.
* **recorded claims** (:data:`CLAIMS`, :data:`CLAIM_RUNS`, :func:`claim_run`): HERO's ablation (which tasks,
  hierarchical or flat) at equal steps, for ``vidkit reproduce transformers``.

**Why the test episodes are shown without subtitles.** HERO's TVR gives the model the subtitles as input.
Here a subtitle *is* a description of its segment (a caption of its digit and action), and a query is another
wording of the same caption: with the subtitles in the input, moment retrieval would reduce to matching two
sentences, and a model that never looked at a frame would solve it. Hiding them (``subtitle_mask`` all False)
makes the model find the moment from the frames. The linear probes read the same subtitle-free encodings, for
the same reason (a subtitle names the action the probe asks about).

Every recall comes from :func:`vidkit.eval.retrieval.retrieval_metrics` / :func:`~vidkit.eval.retrieval.moment_recall`,
every probe from :func:`vidkit.eval.representation.linear_probe`.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from vidkit.data.actions import ACTIONS, all_captions, mirror_of
from vidkit.data.episodes import COMPOSITIONS, Episodes, first_action_pairs, generate_episodes
from vidkit.data.flow import with_frame_differences
from vidkit.eval.claims import Arm, Claim
from vidkit.eval.representation import linear_probe
from vidkit.eval.retrieval import (
    all_spans,
    instance_relevance,
    moment_recall,
    retrieval_metrics,
    semantic_relevance,
    temporal_iou,
)
from vidkit.models.hero import (
    HERO,
    HERO_TASKS,
    check_tasks,
    episode_features,
    hero_loss,
    moment_scores,
    vsm_loss,
)
from vidkit.models.text import Vocabulary, tokenize
from vidkit.profiles import HeroBudget, Profile
from vidkit.train import TrainConfig, TrainResult, steps_for_time, train
from vidkit.utils import distributed as D
from vidkit.utils.checks import check_choice, check_int, check_real, check_seed

__all__ = [
    "CLAIMS", "CLAIM_RUNS", "MAX_WORDS", "TVR_ALPHA", "VSM_GLOBAL", "HeroData", "make_data", "hero_batches", "query_batches",
    "make_model", "pretrain", "finetune_tvr", "segment_features", "probe_scores", "moment_retrieval",
    "evaluate_hero", "held_out_data", "claim_run",
]

#: Words of the longest caption variant of any digit x action pair: the subtitle and query width ``L``.
MAX_WORDS: int = max(len(tokenize(c)) for d in range(10) for a in ACTIONS for c in all_captions(d, a))
#: Weight of the episode score in a moment's score (:func:`moment_retrieval`): ``alpha * S(q, v) + log p_st +
#: log p_ed``, i.e. ``exp(alpha S) p_st p_ed``, the combination of TVR's XML baseline (``q2c_alpha = 20``).
TVR_ALPHA: float = 20.0
#: VSM's global loss in pretraining and TVR fine-tuning: symmetric InfoNCE over the batch (HERO uses a hinge).
#: At laptop size the hinge stays near its collapsed value ``2 * margin`` while InfoNCE falls: compare the
#: ``vsm_global`` column of ``finetune_tvr(...).history`` with ``vsm_loss(..., global_loss="hinge")``.
VSM_GLOBAL: str = "nce"
_EVAL_BATCH = 64


def _budget(profile: str | Profile | HeroBudget) -> tuple[Profile | None, HeroBudget, int]:
    """``(profile or None, its hero budget, frame size)`` from a profile name, a Profile or a budget."""
    from vidkit.profiles import profile as get_profile

    if isinstance(profile, HeroBudget):
        return None, profile, 32
    if not isinstance(profile, str | Profile):
        raise TypeError(f"profile must be a profile name, a Profile or a HeroBudget, got {type(profile).__name__}")
    prof = profile if isinstance(profile, Profile) else get_profile(profile)
    return prof, prof.hero, prof.actions_size


def _check_budget(budget: Any) -> HeroBudget:
    if not isinstance(budget, HeroBudget):
        raise TypeError(f"budget must be a HeroBudget (vidkit.profile().hero), got {type(budget).__name__}")
    return budget


# -------------------------------------------------------------------------------------------------- data


@dataclass
class HeroData:
    """``N`` episodes of ``G`` segments, ``T`` frames, ready for :class:`HERO` (torch tensors on the CPU).

    Attributes:
        episodes: the :class:`Episodes` (labels ``digit (N,)``, ``actions (N, G)``; subtitles; ``info`` flags).
        frames: ``(N, T, 2, S, S)`` float32: channel 0 the frame in [0, 1], channel 1 its difference from the
            previous frame *of the same segment* (zero at a segment's first frame), as the video input of
            notebooks 03 and 05 (:func:`vidkit.data.flow.with_frame_differences`): a free motion channel.
        tokens, lengths: ``(N, G, L)`` long and ``(N, G)``: the subtitles tokenised with ``vocab``, ``L =``
            :data:`MAX_WORDS`.
        starts, ends: ``(N, G)`` long: segment ``g`` covers frames ``[starts, ends)``.
        vocab: the :class:`Vocabulary` (training subtitles plus every caption variant of every pair).
    """

    episodes: Episodes
    frames: torch.Tensor
    tokens: torch.Tensor
    lengths: torch.Tensor
    starts: torch.Tensor
    ends: torch.Tensor
    vocab: Vocabulary

    def __len__(self) -> int:
        return len(self.episodes)

    @property
    def num_frames(self) -> int:
        return int(self.frames.shape[1])

    @property
    def num_segments(self) -> int:
        return int(self.tokens.shape[1])

    def batch(self, idx: Any, subtitles: bool = True) -> dict[str, torch.Tensor]:
        """The episodes ``idx`` as a HERO batch dict; ``subtitles=False`` hides every subtitle
        (``"subtitle_mask"`` all False)."""
        tok, ln = self.tokens[idx], self.lengths[idx]
        out = {"frames": self.frames[idx], "tokens": tok, "lengths": ln, "starts": self.starts[idx],
               "ends": self.ends[idx]}
        if not subtitles:
            out["subtitle_mask"] = torch.zeros(ln.shape, dtype=torch.bool)
        return out


def _pair_captions() -> list[str]:
    return [c for d in range(10) for a in ACTIONS for c in all_captions(d, a)]


_DATA: dict[tuple, HeroData] = {}


def make_data(n: int, split: str, seed: int, profile: str | Profile | HeroBudget = "smoke", *,
              compositions: str = "any", vocab: Vocabulary | None = None) -> HeroData:
    """``n`` episodes of ``split`` (``"train"`` or ``"test"``) seeded by ``seed``, sized by ``profile``'s ``hero``
    budget (segments, frames per segment, distractors) and ``actions_size`` (see :class:`HeroData`).

    ``compositions``: :func:`vidkit.data.episodes.generate_episodes`'s (``"novel_combo"`` / ``"novel_order"``:
    test episodes with held-out compositions only). ``vocab``: the vocabulary to tokenise with; default a new
    one from these subtitles plus every caption variant of every digit x action pair (give the training set's
    to a test set). Cached per process (same arguments, same object). ``profile``: a name, a :class:`Profile`
    or a bare :class:`HeroBudget` (then frames are 32 px).
    """
    n = check_int("n", n, 2, what=" (episodes)")
    check_choice("split", split, ("train", "test"))
    seed = check_seed("seed", seed)
    check_choice("compositions", compositions, COMPOSITIONS)
    if vocab is not None and not isinstance(vocab, Vocabulary):
        raise TypeError(f"vocab must be a vidkit.models.text.Vocabulary or None, got {type(vocab).__name__}")
    _, b, size = _budget(profile)
    key = (n, split, seed, compositions, size, b.segments, b.segment_frames, b.distractors,
           None if vocab is None else tuple(vocab.words))
    if key in _DATA:
        return _DATA[key]
    ep = generate_episodes(n, split=split, seed=seed, segments=b.segments, segment_frames=b.segment_frames,
                           size=size, num_distractors=b.distractors, compositions=compositions)
    if vocab is None:
        vocab = Vocabulary.build([*(s for row in ep.subtitles for s in row), *_pair_captions()])
    g = ep.num_segments
    tokens, lengths = vocab.encode([s for row in ep.subtitles for s in row], max_len=MAX_WORDS)
    tokens = torch.cat([tokens, tokens.new_zeros(len(tokens), MAX_WORDS - tokens.shape[1])], dim=1)
    f = ep.num_frames // g                              # segments are equal: each is one clip of the suite
    frames = with_frame_differences(ep.tensors().view(n * g, f, 1, size, size)).view(n, g * f, 2, size, size)
    _DATA[key] = HeroData(ep, frames, tokens.view(n, g, MAX_WORDS), lengths.view(n, g),
                          torch.from_numpy(ep.starts).long(), torch.from_numpy(ep.ends).long(), vocab)
    return _DATA[key]


def _check_data(data: Any, name: str = "data") -> HeroData:
    if not isinstance(data, HeroData):
        raise TypeError(f"{name} must be a HeroData (from make_data), got {type(data).__name__}")
    return data


def _shard(data: HeroData, batch_size: int, rank: int | None, world_size: int | None) -> tuple[int, int, int]:
    world_size = D.world_size() if world_size is None else check_int("world_size", world_size, 1)
    rank = D.rank() if rank is None else check_int("rank", rank, 0, world_size - 1,
                                                   what=f" (< world_size {world_size})")
    batch_size = check_int("batch_size", batch_size, 2, len(data) // world_size,
                           what=f" (at most the {len(data)} episodes / {world_size} processes)")
    return batch_size, rank, world_size


def hero_batches(data: HeroData, batch_size: int, seed: int = 0, *, rank: int | None = None,
                 world_size: int | None = None) -> Iterator[dict[str, torch.Tensor]]:
    """Endless shuffled batches for :func:`vidkit.models.hero.hero_loss` (a new seeded permutation every epoch):
    ``{"frames": (B, T, 2, S, S), "tokens": (B, G, L'), "lengths", "starts", "ends": (B, G), "index": (B,)}``,
    every subtitle present, tokens trimmed to the batch's longest subtitle.

    Under ``torchrun`` every process draws the same permutation and takes its own ``batch_size`` episodes of
    each global batch of ``batch_size * world_size`` (rank ``r`` the ``r``-th slice), as
    :func:`vidkit.experiments.multimodal.mmv_batches` does. ``rank`` / ``world_size`` default to the process
    group's. Inputs are checked when called.
    """
    _check_data(data)
    batch_size, rank, world_size = _shard(data, batch_size, rank, world_size)
    return _endless(data, batch_size, check_seed("seed", seed), rank, world_size)


def _endless(data: HeroData, batch_size: int, seed: int, rank: int, world_size: int) -> Iterator[dict[str, torch.Tensor]]:
    gen = torch.Generator().manual_seed(seed)           # the same on every process: one permutation per epoch
    step = batch_size * world_size
    while True:
        order = torch.randperm(len(data), generator=gen)
        for lo in range(0, len(data) - step + 1, step):
            idx = order[lo + rank * batch_size:lo + (rank + 1) * batch_size]
            batch = data.batch(idx)
            batch["tokens"] = batch["tokens"][..., :int(batch["lengths"].max())].contiguous()
            yield {**batch, "index": idx}


@lru_cache(maxsize=4)
def _caption_bank(words: tuple[str, ...]) -> tuple[list[torch.Tensor], list[torch.Tensor], dict[str, int]]:
    """Every caption variant of every pair, tokenised: per pair ``10 * a + d``... ``(tokens (V, L), lengths (V,))``
    and the index of each caption within its pair's list."""
    vocab = Vocabulary(words[2:])
    toks, lens, where = [], [], {}
    for a in range(len(ACTIONS)):
        for d in range(10):
            caps = all_captions(d, a)
            t, n = vocab.encode(caps, max_len=MAX_WORDS)
            toks.append(torch.cat([t, t.new_zeros(len(t), MAX_WORDS - t.shape[1])], dim=1))
            lens.append(n)
            where.update({c: i for i, c in enumerate(caps)})
    return toks, lens, where


def _variants(data: HeroData, episode: np.ndarray, segment: np.ndarray,
              rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """One caption variant per ``(episode, segment)``, drawn with ``rng`` among the variants of its digit x action
    pair **other than its subtitle**: ``(tokens (Q, L), lengths (Q,))``."""
    toks, lens, where = _caption_bank(tuple(data.vocab.words))
    ep = data.episodes
    out_t = torch.zeros(len(episode), MAX_WORDS, dtype=torch.long)
    out_n = torch.zeros(len(episode), dtype=torch.long)
    for i, (e, s) in enumerate(zip(episode.tolist(), segment.tolist(), strict=True)):
        pair = int(ep.actions[e, s]) * 10 + int(ep.digit[e])
        v = len(lens[pair])
        own = where.get(ep.subtitles[e][s], -1)
        j = int(rng.integers(0, v - 1)) if v > 1 else 0
        if v > 1 and j >= own >= 0:
            j += 1                                       # skip the subtitle's own wording
        out_t[i], out_n[i] = toks[pair][j], lens[pair][j]
    return out_t, out_n


def query_batches(data: HeroData, batch_size: int, seed: int = 0, *, rank: int | None = None,
                  world_size: int | None = None) -> Iterator[dict[str, torch.Tensor]]:
    """Endless batches for TVR fine-tuning with :func:`vidkit.models.hero.vsm_loss`, subtitles hidden.

    Per episode one segment ``j`` is drawn, and one caption variant of its digit x action pair, other than its
    subtitle, becomes segment ``j``'s "subtitle"; every other segment gets an empty one (length 0). VSM takes
    the only present subtitle as its query and removes it from the input, so the episode is encoded with **no
    words at all** and the model must find the query's span (local) and episode (global) from the frames: the
    TVR task of :func:`moment_retrieval`, as a training signal. Same keys and sharding as :func:`hero_batches`.
    """
    _check_data(data)
    batch_size, rank, world_size = _shard(data, batch_size, rank, world_size)
    return _query_stream(data, batch_size, check_seed("seed", seed), rank, world_size)


def _query_stream(data: HeroData, batch_size: int, seed: int, rank: int, world_size: int) -> Iterator[dict[str, torch.Tensor]]:
    rng = np.random.default_rng([seed, rank, 0x7F8])
    for batch in _endless(data, batch_size, seed, rank, world_size):
        idx = batch["index"].numpy()
        seg = rng.integers(0, data.num_segments, size=len(idx))
        t, n = _variants(data, idx, seg, rng)
        tokens = torch.zeros(len(idx), data.num_segments, MAX_WORDS, dtype=torch.long)
        lengths = torch.zeros(len(idx), data.num_segments, dtype=torch.long)
        rows = torch.arange(len(idx))
        tokens[rows, torch.from_numpy(seg)], lengths[rows, torch.from_numpy(seg)] = t, n
        yield {**batch, "tokens": tokens[..., :int(n.max())].contiguous(), "lengths": lengths}


# ---------------------------------------------------------------------------------------------- training


def make_model(vocab_size: int, budget: HeroBudget, hierarchical: bool = True) -> HERO:
    """A fresh :class:`HERO` for the budget's episodes: ``budget.dim`` wide, ``budget.heads`` heads,
    ``budget.cross_depth`` / ``budget.temporal_depth`` blocks (flat, ``hierarchical=False``: one transformer of
    their sum), a frame CNN of ``budget.width`` channels, ``max_frames = segments * segment_frames``,
    ``max_words =`` :data:`MAX_WORDS`, 2 input channels (frame and difference), no dropout."""
    b = _check_budget(budget)
    check_choice("hierarchical", hierarchical, (True, False))
    return HERO(check_int("vocab_size", vocab_size, 3), dim=b.dim, heads=b.heads, cross_depth=b.cross_depth,
                temporal_depth=b.temporal_depth, max_frames=b.segments * b.segment_frames, max_words=MAX_WORDS,
                in_channels=2, hierarchical=hierarchical, max_segments=b.segments, width=b.width, dropout=0.0)


def _fit(model: HERO, loss_fn: Any, batches: Iterator[dict[str, torch.Tensor]], steps: int, time_s: float | None,
         lr: float, amp: bool, seed: int, progress: bool) -> TrainResult:
    """:func:`vidkit.train.train` with the kit's schedule (AdamW, weight decay 1e-4, warm-up then cosine). Under
    ``torchrun`` the processes average their gradients after each backward (``grad_sync="allreduce"``): HERO's
    tasks run the model several times per step and score with its heads outside ``forward``, which
    ``DistributedDataParallel`` (one forward per backward) does not allow."""
    if time_s is not None:
        steps = steps_for_time(model, loss_fn, next(batches), time_s, steps)
    cfg = TrainConfig(steps=steps, time_budget_s=time_s, lr=lr, weight_decay=1e-4,
                      warmup_steps=max(1, min(50, steps // 10)), min_lr_ratio=0.05,
                      log_every=max(1, min(25, steps // 10)), seed=seed, amp=amp, grad_sync="allreduce")
    torch.manual_seed(seed)
    return train(model, loss_fn, batches, cfg, progress=progress)


class _Loss:
    """``loss_fn(model, batch, step)`` for :func:`vidkit.train.train`: ``fn`` with its masks drawn from a generator
    seeded by ``(seed, step)`` (so two seeds draw different masks, and a step is reproducible)."""

    def __init__(self, fn: Any, seed: int, **kwargs: Any):
        self.fn, self.seed, self.kwargs = fn, seed, kwargs

    def __call__(self, model: Any, batch: Any, step: int) -> tuple[torch.Tensor, dict[str, float]]:
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + step)
        return self.fn(model, batch, step, generator=g, **self.kwargs)


def pretrain(model: HERO, data: HeroData, budget: HeroBudget, tasks: Sequence[str] = HERO_TASKS, seed: int = 0,
             progress: bool = False) -> TrainResult:
    """Pretrain ``model`` with :func:`vidkit.models.hero.hero_loss` (the sum of ``tasks``, each on every batch) on
    :func:`hero_batches` of ``data`` through :func:`vidkit.train.train`: ``budget.steps`` steps of batch
    ``budget.batch`` at peak ``budget.lr`` (bf16 autocast when ``budget.amp``); when ``budget.time_s`` is set,
    the steps that fit in that many seconds (the notebook's safety cap; claims pass ``time_s=None``). ``seed``
    seeds the batch order and the masks. ``tasks=()``: no pretraining, the model is returned untouched
    (``steps == 0``). Under ``torchrun`` each process takes its own ``budget.batch`` episodes per step and the
    processes average their gradients (see ``_fit``).
    """
    if not isinstance(model, HERO):
        raise TypeError(f"model must be a HERO (make_model), got {type(model).__name__}")
    _check_data(data)
    b = _check_budget(budget)
    tasks = check_tasks(tasks, allow_empty=True)
    seed = check_seed("seed", seed)
    if not tasks:
        return TrainResult(model=model, history=[], steps=0, elapsed_s=0.0, stopped_by="steps", workdir=None,
                           planned_steps=0)
    batch = min(b.batch, len(data) // D.world_size())
    loss_fn = _Loss(hero_loss, seed, tasks=tasks, vsm_global=VSM_GLOBAL)
    return _fit(model, loss_fn, hero_batches(data, batch, seed), b.steps, b.time_s, b.lr, b.amp, seed, progress)


def finetune_tvr(model: HERO, data: HeroData, budget: HeroBudget, seed: int = 0, progress: bool = False) -> TrainResult:
    """Fine-tune ``model`` for text -> moment retrieval (HERO's TVR fine-tuning, its VSM objective): ``budget.
    finetune_steps`` steps of :func:`vidkit.models.hero.vsm_loss` (local span + global hinge) on
    :func:`query_batches` of ``data`` (subtitles hidden, queries are caption variants) at peak
    ``budget.finetune_lr``, the same for every model, pretrained or not, with no time cap. ``seed`` seeds the
    batches, queries and draws."""
    if not isinstance(model, HERO):
        raise TypeError(f"model must be a HERO (make_model), got {type(model).__name__}")
    _check_data(data)
    b = _check_budget(budget)
    seed = check_seed("seed", seed)
    batch = min(b.batch, len(data) // D.world_size())
    return _fit(model, _Loss(vsm_loss, seed, global_loss=VSM_GLOBAL), query_batches(data, batch, seed + 1),
                b.finetune_steps, None, b.finetune_lr, b.amp, seed, progress)


# ----------------------------------------------------------------------------------------------- scoring


@torch.no_grad()
def segment_features(model: HERO, data: HeroData, subtitles: bool = False) -> dict[str, np.ndarray]:
    """Frozen features of every episode (``model`` in eval mode, restored after), encoded without subtitles
    unless ``subtitles``: ``{"segments": (N, G, dim)`` the final frame embeddings ``V_temp`` averaged over each
    segment's frames, ``"episode": (N, dim)`` averaged over all frames, ``"frames": (N, T, dim)}`` (float32)."""
    if not isinstance(model, HERO):
        raise TypeError(f"model must be a HERO, got {type(model).__name__}")
    _check_data(data)
    was = model.training
    model.eval()
    try:
        device = next(model.parameters()).device
        frames = torch.cat([episode_features(model, {k: v.to(device) for k, v in data.batch(
            slice(lo, lo + _EVAL_BATCH), subtitles).items()})["frames"].float().cpu()
            for lo in range(0, len(data), _EVAL_BATCH)])
    finally:
        model.train(was)
    t = frames.shape[1]
    member = (torch.arange(t)[None, None] >= data.starts[..., None]) & (torch.arange(t)[None, None] < data.ends[..., None])
    member = member.float()                                                           # (N, G, T)
    segments = torch.einsum("ngt,ntd->ngd", member, frames) / member.sum(-1, keepdim=True)
    return {"segments": segments.numpy(), "episode": frames.mean(1).numpy(), "frames": frames.numpy()}


def _pair_inputs(data: HeroData, feats: dict[str, np.ndarray], seed: int,
                 prefer_held_out: bool = False) -> dict[str, np.ndarray]:
    """The "which action came first" question of :func:`vidkit.data.episodes.first_action_pairs`: ``pooled`` the
    order-free mean of ``V_temp`` over both segments' frames, ``concat`` the two segments' means in the shown
    order, ``first`` / ``second`` the actions in episode order, ``shown_first`` the binary answer."""
    q = first_action_pairs(data.episodes, seed, prefer_held_out=prefer_held_out)
    rows = np.arange(len(data))
    lo = q["segments"].min(1)
    seg, frames = feats["segments"], feats["frames"]
    t = np.arange(frames.shape[1])
    st, en = data.starts.numpy()[rows, lo], data.ends.numpy()[rows, lo + 1]
    mask = (t[None] >= st[:, None]) & (t[None] < en[:, None])
    pooled = (frames * mask[..., None]).sum(1) / mask.sum(1, keepdims=True)
    concat = np.concatenate([seg[rows, q["segments"][:, 0]], seg[rows, q["segments"][:, 1]]], axis=1)
    acts = data.episodes.actions
    return {"pooled": pooled, "concat": concat, "first": acts[rows, lo], "second": acts[rows, lo + 1],
            "shown_first": q["first"]}


def probe_scores(model: HERO, train: HeroData, test: HeroData, probe_train: int | None = None, seed: int = 0,
                 held_out: dict[str, HeroData] | None = None) -> dict[str, float]:
    """Linear probes (:func:`vidkit.eval.representation.linear_probe`) on frozen, subtitle-free features
    (:func:`segment_features`) of the first ``probe_train`` training episodes, scored on ``test``:

    * ``action_probe``: each segment's action from its mean frame embedding (``N G`` examples), and
      ``mirror_pair_acc``: the same probe restricted to the true action and its time reversal (move_left vs
      move_right, ...: only the order of the frames tells them apart; chance 0.5);
    * ``digit_probe``: the episode's digit from the mean over all its frames;
    * ``first_action_acc``: "which action came first?" for two consecutive segments
      (:func:`vidkit.data.episodes.first_action_pairs`, ``seed``): a probe reads the **order-free** mean of the
      two segments' frame embeddings and names the earlier action (8 classes, ``first_action_probe``);
      ``first_action_acc`` compares only the two actions of the pair (chance 0.5). A bag of actions cannot
      answer; the embedding must bind each action to its time. ``first_action_concat_acc``: the literal form
      (the two segments' embeddings concatenated in a shown order, which came first?), a control: the
      temporal transformer's positions answer it for any model, trained or not;
    * chance levels ``action_chance``, ``digit_chance``, ``pair_chance`` (0.5);
    * with ``held_out`` (:func:`held_out_data`): ``first_action_acc_novel_order`` on episodes whose pair is a
      held-out order, ``action_probe_novel_combo`` / ``mirror_pair_acc_novel_combo`` on the segments showing a
      held-out digit x action pair (probes fitted on the training episodes, as above).
    """
    if not isinstance(model, HERO):
        raise TypeError(f"model must be a HERO, got {type(model).__name__}")
    _check_data(train, "train")
    _check_data(test, "test")
    seed = check_seed("seed", seed)
    m = len(train) if probe_train is None else min(check_int("probe_train", probe_train, 2), len(train))
    train_m = _subset(train, m)
    f_tr, f_te = segment_features(model, train_m), segment_features(model, test)
    g = train.num_segments
    x_tr, y_tr = f_tr["segments"].reshape(m * g, -1), train_m.episodes.actions.reshape(-1)
    x_te, y_te = f_te["segments"].reshape(len(test) * g, -1), test.episodes.actions.reshape(-1)
    act = linear_probe(x_tr, y_tr, x_te, y_te, partner=mirror_of(y_te))
    dig = linear_probe(f_tr["episode"], train_m.episodes.digit, f_te["episode"], test.episodes.digit)
    p_tr, p_te = _pair_inputs(train_m, f_tr, seed), _pair_inputs(test, f_te, seed + 1)
    first = linear_probe(p_tr["pooled"], p_tr["first"], p_te["pooled"], p_te["first"], partner=p_te["second"])
    concat = linear_probe(p_tr["concat"], p_tr["shown_first"], p_te["concat"], p_te["shown_first"])
    out = {"action_probe": act["accuracy"], "mirror_pair_acc": act["pair_accuracy"], "digit_probe": dig["accuracy"],
           "first_action_probe": first["accuracy"], "first_action_acc": first["pair_accuracy"],
           "first_action_concat_acc": concat["accuracy"], "action_chance": act["chance"],
           "digit_chance": dig["chance"], "pair_chance": 0.5}
    for kind, data in (held_out or {}).items():
        _check_data(data, f"held_out[{kind!r}]")
        f_ho = segment_features(model, data)
        if kind == "novel_order":
            p_ho = _pair_inputs(data, f_ho, seed + 2, prefer_held_out=True)
            r = linear_probe(p_tr["pooled"], p_tr["first"], p_ho["pooled"], p_ho["first"], partner=p_ho["second"])
            out["first_action_acc_novel_order"] = r["pair_accuracy"]
        elif kind == "novel_combo":
            held = data.episodes.info["novel_combo_segment"]                          # (N, G) bool
            y = data.episodes.actions[held]
            r = linear_probe(x_tr, y_tr, f_ho["segments"][held], y, partner=mirror_of(y))
            out["action_probe_novel_combo"], out["mirror_pair_acc_novel_combo"] = r["accuracy"], r["pair_accuracy"]
        else:
            raise ValueError(f"held_out keys must be 'novel_order' or 'novel_combo', got {kind!r}")
    return out


def _subset(data: HeroData, m: int) -> HeroData:
    if m == len(data):
        return data
    return HeroData(data.episodes.subset(slice(0, m)), data.frames[:m], data.tokens[:m], data.lengths[:m],
                    data.starts[:m], data.ends[:m], data.vocab)


@torch.no_grad()
def moment_retrieval(model: HERO, test: HeroData, top_episodes: int = 10, seed: int = 0, *,
                     subtitles: bool = False, alpha: float = TVR_ALPHA, prefix: str = "tvr_") -> dict[str, float]:
    """Text -> moment retrieval, the TVR protocol, on the ``N`` test episodes.

    Queries: for every segment of every test episode, one caption variant of its digit x action pair other
    than its subtitle (drawn with ``seed``), ``Q = N G``. The episodes are encoded **without subtitles**
    (``subtitles=True``: with them, an easier text-matching variant). :func:`vidkit.models.hero.moment_scores`
    gives each query's start / end logits over every episode's frames and its episode score ``S(q, v)``; then

    * video retrieval: episodes ranked by ``S`` (:func:`vidkit.eval.retrieval.retrieval_metrics`, only the
      query's episode is right): ``video_R@1``, ``video_R@5``, ``video_chance@1``; and with **semantic** hits
      (any episode where the queried digit does the queried action, :func:`vidkit.eval.retrieval.
      semantic_relevance`; with 80 digit x action pairs about ``N G / 80`` episodes match each query, so the
      instance metrics are bounded by ~80 / (N G)): ``video_sem_R@1``, ``video_sem_R@10`` and their chance;
    * localisation in the query's own episode: the best span by ``log p_st + log p_ed`` is right at IoU
      ``>= 0.5`` (``local_iou0.5``; ``local_chance_iou0.5``: the share of all spans that would be);
    * moments: in each of the ``top_episodes`` best episodes, every span ``[st, ed]`` with ``st <= ed`` scores
      ``alpha * S(q, v) + log_softmax(start)[st] + log_softmax(end)[ed]`` (``alpha`` weighs the episode, as
      TVR's XML baseline does); a moment is right in the query's episode with temporal IoU ``>= 0.5`` (``0.7``)
      with the segment (:func:`vidkit.eval.retrieval.moment_recall`): ``R@1_iou0.5``, ``R@5_iou0.5``,
      ``R@1_iou0.7``, ``R@5_iou0.7`` and their ``chance@k_iou...`` (a random order of all moments).

    Keys carry ``prefix``. Run :func:`finetune_tvr` first: VSM's heads are what rank.
    """
    if not isinstance(model, HERO):
        raise TypeError(f"model must be a HERO, got {type(model).__name__}")
    _check_data(test, "test")
    seed = check_seed("seed", seed)
    alpha = check_real("alpha", alpha, 0.0, low_open=False)
    n, g, t = len(test), test.num_segments, test.num_frames
    e_top = check_int("top_episodes", top_episodes, 1, what=" (episodes whose spans are ranked)")
    e_top = min(e_top, n)
    rng = np.random.default_rng([seed, 0x7F9])
    q_ep, q_seg = np.repeat(np.arange(n), g), np.tile(np.arange(g), n)
    q_tok, q_len = _variants(test, q_ep, q_seg, rng)
    was = model.training
    model.eval()
    try:
        device = next(model.parameters()).device
        starts, ends, scores = [], [], []
        for lo in range(0, n, _EVAL_BATCH):
            batch = {k: v.to(device) for k, v in test.batch(slice(lo, lo + _EVAL_BATCH), subtitles).items()}
            st, en, sc = moment_scores(model, batch, q_tok.to(device), q_len.to(device))
            starts.append(F.log_softmax(st.float(), -1).cpu())
            ends.append(F.log_softmax(en.float(), -1).cpu())
            scores.append(sc.float().cpu())
    finally:
        model.train(was)
    log_st, log_ed, score = torch.cat(starts, 1), torch.cat(ends, 1), torch.cat(scores, 1)   # (Q, N, T), (Q, N)
    video = retrieval_metrics(score, instance_relevance(q_ep, n), ks=[k for k in (1, 5) if k <= n])
    out = {"video_R@1": video["R@1"], "video_chance@1": video["chance@1"]}
    if "R@5" in video:
        out["video_R@5"] = video["R@5"]
    # semantic hits: any episode in which the queried digit does the queried action (~N G / 80 of them)
    ep_digit = torch.as_tensor(test.episodes.digit)[:, None].expand(-1, g)
    ep_action = torch.as_tensor(test.episodes.actions)
    relevant = torch.zeros(len(q_ep), n, dtype=torch.bool)
    for j in range(g):
        relevant |= semantic_relevance(ep_digit[q_ep, q_seg], ep_action[q_ep, q_seg], ep_digit[:, j], ep_action[:, j])
    sem = retrieval_metrics(score, relevant, ks=[k for k in (1, 10) if k <= n])
    out.update({f"video_sem_{k}": v for k, v in sem.items() if k.startswith(("R@", "chance@"))})
    # localisation in the query's own episode: the best span by log p_st + log p_ed, right at IoU >= 0.5
    spans = all_spans(t)
    rows = torch.arange(len(q_ep))
    own = log_st[rows, q_ep][:, spans[:, 0]] + log_ed[rows, q_ep][:, spans[:, 1] - 1]             # (Q, P)
    true_span = np.stack([test.starts.numpy()[q_ep, q_seg], test.ends.numpy()[q_ep, q_seg]], axis=1)
    iou = temporal_iou(spans[None], true_span[:, None])                                         # (Q, P)
    out["local_iou0.5"] = float((iou[np.arange(len(q_ep)), own.argmax(1).numpy()] >= 0.5).mean())
    out["local_chance_iou0.5"] = float((iou >= 0.5).mean())
    top = score.topk(e_top, dim=1).indices                                             # (Q, E)
    rows = rows[:, None]
    span_score = log_st[rows, top][..., spans[:, 0]] + log_ed[rows, top][..., spans[:, 1] - 1]   # (Q, E, P)
    cand = alpha * score.gather(1, top)[..., None] + span_score
    p = len(spans)
    cand_ep = top[..., None].expand(-1, -1, p).reshape(len(q_ep), -1)
    cand_sp = np.broadcast_to(spans, (len(q_ep), e_top, p, 2)).reshape(len(q_ep), -1, 2)
    ks = [k for k in (1, 5) if k <= e_top * p]
    out.update(moment_recall(cand.reshape(len(q_ep), -1), cand_ep, cand_sp, q_ep, true_span, ks=ks,
                             ious=(0.5, 0.7), num_episodes=n, num_frames=t))
    return {f"{prefix}{k}": float(v) for k, v in out.items()}


def evaluate_hero(model: HERO, train: HeroData, test: HeroData, budget: HeroBudget, seed: int = 0, *,
                  held_out: dict[str, HeroData] | None = None, tuned: HERO | None = None,
                  progress: bool = False) -> dict[str, float]:
    """Every measurement of notebook 06 as one flat dict of floats, in HERO's protocol (pretrain, then probe or
    fine-tune):

    1. :func:`probe_scores` on the model **as given** (frozen features, no fine-tuning; probes fit on the first
       ``budget.probe_train`` training episodes; ``held_out`` sets add the held-out composition scores);
    2. a **copy** of the model fine-tuned by :func:`finetune_tvr` (``budget.finetune_steps`` of VSM on the
       training episodes, subtitles hidden), then :func:`moment_retrieval` on the test episodes (``tvr_...``,
       ``budget.top_episodes``). ``model`` itself is left as it was. ``tuned``: that copy, already fine-tuned
       (e.g. kept by a notebook to draw its moments), instead of fine-tuning one here.

    ``seed`` seeds the fine-tuning, the queries and the order questions."""
    _check_data(train, "train")
    _check_data(test, "test")
    b = _check_budget(budget)
    seed = check_seed("seed", seed)
    out = probe_scores(model, train, test, b.probe_train, seed, held_out)
    if tuned is None:
        tuned = copy.deepcopy(model)
        finetune_tvr(tuned, train, b, seed, progress)
    elif not isinstance(tuned, HERO):
        raise TypeError(f"tuned must be a HERO fine-tuned by finetune_tvr, got {type(tuned).__name__}")
    out.update(moment_retrieval(tuned, test, b.top_episodes, seed))
    return out


# ---------------------------------------------------------------------------- recorded claims (notebook 06)

#: The runs notebook 06's claims compare, HERO's ablation at equal steps: run name -> pretraining tasks and
#: architecture. Every run pretrains the profile's ``hero.steps`` steps (``"none"``: 0) with no time cap, then
#: :func:`evaluate_hero` (probes, ``hero.finetune_steps`` of TVR fine-tuning, moment retrieval).
#:
#: Laptop cost: the recorded runs (300 pretraining + 300 fine-tuning steps, one torch thread, while a notebook run
#: and other engineers' tests shared the 2 cores) took 22-49 s ("none") to 83-244 s ("flat, all four") each, 26.5
#: minutes for the 18 (``wall_s`` in docs/results/transformers.json).
CLAIM_RUNS: dict[str, dict[str, Any]] = {
    "none": {"tasks": (), "hierarchical": True},
    "MLM+MFM": {"tasks": ("mlm", "mfm"), "hierarchical": True},
    "+VSM": {"tasks": ("mlm", "mfm", "vsm"), "hierarchical": True},
    "+FOM": {"tasks": ("mlm", "mfm", "fom"), "hierarchical": True},
    "all four": {"tasks": HERO_TASKS, "hierarchical": True},
    "flat, all four": {"tasks": HERO_TASKS, "hierarchical": False},
}

_HERO = "Li et al. 2020 (HERO)"
_TASKS_SRC = f"{_HERO}, sec. 4.3, ablation of the pretraining tasks (Table 1)"
_VSM = f"{_TASKS_SRC}: VSM brings the largest gain on TVR and How2R by learning local and global alignment"
_FOM = f"{_TASKS_SRC}: FOM helps downstream tasks that need temporal reasoning (TVQA, How2QA)"
_FLAT = f"{_HERO}, sec. 4.3, hierarchical vs flat architecture (F-TRM): the hierarchy wins, more so with pretraining"
_PRE = f"{_HERO}, sec. 4.3 / Table 2: pretraining improves every downstream task"
_TVR = ("text -> video retrieval with semantic hits (R@10: an episode where the queried digit does the queried "
        "action), subtitles hidden, after equal VSM fine-tuning")
_TVR_INSTANCE = "HERO's own TVR metric (moment R@1 at temporal IoU 0.5, only the query's own episode counts)"
_FIRST = "which of two consecutive actions came first (linear probe on frozen, order-free features, chance 0.5)"
_MIRROR = "an action against its time reversal (linear probe per segment, within-mirror-pair accuracy, chance 0.5)"


def _claim(slug: str, question: str, source: str, a: str, b: str, metric: str) -> Claim:
    return Claim(f"transformers.{slug}", question, source, Arm(a, metric, a), Arm(b, metric, b), "greater")


#: Notebook 06's claims, checked over seeds by ``vidkit reproduce transformers``. Metrics: :func:`evaluate_hero`
#: on the profile's test episodes.
CLAIMS: tuple[Claim, ...] = (
    _claim("vsm_helps_moment_retrieval", f"Does adding VSM to MLM + MFM pretraining improve {_TVR}?", _VSM,
           "+VSM", "MLM+MFM", "tvr_video_sem_R@10"),
    _claim("vsm_helps_moment_retrieval_most", f"Does VSM help moment retrieval more than FOM does (MLM+MFM+VSM vs "
           f"MLM+MFM+FOM, {_TVR})?", _VSM, "+VSM", "+FOM", "tvr_video_sem_R@10"),
    _claim("fom_helps_first_action", f"Does adding FOM to MLM + MFM pretraining help tell {_FIRST}?", _FOM,
           "+FOM", "MLM+MFM", "first_action_acc"),
    _claim("fom_helps_mirror_pairs", f"Does adding FOM to MLM + MFM pretraining help tell {_MIRROR}?", _FOM,
           "+FOM", "MLM+MFM", "mirror_pair_acc"),
    _claim("pretraining_helps_moment_retrieval", f"Does pretraining with all four tasks beat no pretraining on "
           f"{_TVR}?", _PRE, "all four", "none", "tvr_video_sem_R@10"),
    _claim("pretraining_helps_tvr_instance", f"Does pretraining with all four tasks beat no pretraining on "
           f"{_TVR_INSTANCE}?", _PRE, "all four", "none", "tvr_R@1_iou0.5"),
    _claim("pretraining_helps_action_probe", "Does pretraining with all four tasks give better frozen features "
           "for the action (linear probe per segment, subtitles hidden) than no pretraining?", _PRE, "all four",
           "none", "action_probe"),
    _claim("hierarchy_helps_moment_retrieval", f"With all four tasks, does the hierarchical model beat the flat one "
           f"(one transformer over all frames and words) on {_TVR}?", _FLAT, "all four", "flat, all four",
           "tvr_video_sem_R@10"),
    _claim("hierarchy_helps_first_action", f"With all four tasks, does the hierarchical model beat the flat one "
           f"on {_FIRST}?", _FLAT, "all four", "flat, all four", "first_action_acc"),
)


def held_out_data(profile: str | Profile | HeroBudget, vocab: Vocabulary, seed: int = 2) -> dict[str, HeroData]:
    """The held-out composition test sets of ``budget.held_out`` episodes each (seed ``seed``, the training
    vocabulary): ``{"novel_combo": ..., "novel_order": ...}`` (:func:`make_data`, cached)."""
    _, b, _ = _budget(profile)
    return {kind: make_data(b.held_out, "test", seed, profile, compositions=kind, vocab=vocab)
            for kind in ("novel_combo", "novel_order")}


def _claim_data(prof: Profile) -> tuple[HeroData, HeroData, dict[str, HeroData]]:
    """The notebook's training (seed 0), test (seed 1) and held-out (seed 2) episodes for ``prof`` (cached)."""
    b = prof.hero
    train_set = make_data(b.train, "train", 0, prof)
    return (train_set, make_data(b.test, "test", 1, prof, vocab=train_set.vocab),
            held_out_data(prof, train_set.vocab))


def claim_run(name: str, profile: str | Profile, seed: int, root: Any = None, progress: bool = False) -> dict[str, Any]:
    """Train and score claim run ``name`` (:data:`CLAIM_RUNS`) as notebook 06 does, at equal steps: a fresh
    :func:`make_model` pretrained by :func:`pretrain` for the profile's ``hero.steps`` steps with no time cap
    (``"none"``: not at all), scored by :func:`evaluate_hero` (probes, then ``hero.finetune_steps`` of TVR
    fine-tuning and moment retrieval). ``seed`` seeds the initial weights, batches, masks, fine-tuning and
    queries; the episodes are the notebook's (built once per process). ``root`` is not used (nothing is
    written). Returns the record entry ``{"run", "seed", "config", "steps", "metrics"}``."""
    from vidkit.profiles import profile as get_profile

    if name not in CLAIM_RUNS:
        raise ValueError(f"unknown claim run {name!r}; available: {sorted(CLAIM_RUNS)}")
    seed = check_seed("seed", seed)
    prof = profile if isinstance(profile, Profile) else get_profile(profile)
    spec = CLAIM_RUNS[name]
    budget = dataclasses.replace(prof.hero, time_s=None)          # equal steps: no time cap
    train_set, test_set, held = _claim_data(prof)
    torch.manual_seed(seed)
    model = make_model(len(train_set.vocab), budget, spec["hierarchical"])
    result = pretrain(model, train_set, budget, spec["tasks"], seed, progress)
    metrics = evaluate_hero(model, train_set, test_set, budget, seed, held_out=held, progress=progress)
    config = {"profile": prof.name, "tasks": list(spec["tasks"]), "hierarchical": spec["hierarchical"],
              "budget": dataclasses.asdict(budget),
              "data": {"train": len(train_set), "test": len(test_set), "held_out": budget.held_out,
                       "size": prof.actions_size, "train_seed": 0, "test_seed": 1, "held_out_seed": 2,
                       "vocabulary": len(train_set.vocab)}}
    return {"run": name, "seed": seed, "config": config, "steps": int(result.steps),
            "metrics": {k: float(v) for k, v in metrics.items()}}
