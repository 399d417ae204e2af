"""MMV on the actions suite (notebook 05): video, audio and narration in one kit; data, training, scoring, claims.

The pieces of :mod:`vidkit.data.audio` (a sound track per clip, log-mel), :mod:`vidkit.data.narration` (noisy
narration bags), :mod:`vidkit.models.mmv` (encoders, the three space designs, ``mmv_loss``, deflation) and
:mod:`vidkit.eval.retrieval` / :mod:`vidkit.eval.representation` put together, read top to bottom:

* **data** (:func:`make_data`, :class:`MultimodalData`): action clips of the profile's size and
  ``vidkit.profile().multimodal.frames`` frames; the video input is every ``stride``-th frame plus its temporal
  difference (2 channels, :func:`vidkit.data.flow.with_frame_differences`); the sound track
  (:func:`vidkit.data.audio.actions_audio`, the actor's voice names the digit, knocks mark the motion's ticks,
  distractors are silent) as a stereo log-mel ``(2, 80, 5 T)``; narration (:func:`vidkit.data.narration.narrate`)
  tokenised with a :class:`vidkit.models.text.Vocabulary` built from the training narration **and** every caption
  variant of every digit x action pair (so filler words and every query word are known). The **clean** control
  keeps each clip's aligned sentences only. Built once per process.
* **batches** (:func:`mmv_batches`): an endless seeded stream of the batch dicts :func:`vidkit.models.mmv.mmv_loss`
  reads: ``"video" (B, T, 2, H, W)``, ``"audio" (B, 2, 80, F)``, ``"tokens" (B, P, L)``, ``"lengths" (B, P)``
  (plus ``"digit"``, ``"action"``, ``"index"`` for inspection). ``text="bag"`` gives the whole bag (MIL-NCE);
  ``text="one"`` one sentence per clip, ``P = 1`` (NCE), drawn afresh at every step: **any** sentence of the
  noisy bag (so it is aligned 1 time in 3 with the default bags), or one of the aligned ones for clean captions.
* **training** (:func:`make_model`, :func:`train_mmv`): the kit's one loop, :func:`vidkit.train.train`, at the
  budget's steps (``budget.time_s`` is a notebook safety cap; :func:`claim_run` removes it).
* **scoring** (:func:`evaluate_mmv` and its parts): linear probes (action and digit) on the video encoder's
  features ``f_v``; digit from audio alone on ``f_a`` (the ESC-50 analogue); zero-shot text -> video
  (:func:`text_to_video`); audio <-> video instance retrieval (:func:`audio_video_retrieval`); audio-visual
  synchrony (:func:`synchrony`); single-frame digit classification by the deflated network
  (:func:`frame_probes`) and by a 2D network trained on frames (:class:`FrameNetwork`).
* **recorded claims** (:data:`CLAIMS`, :data:`CLAIM_RUNS`, :func:`claim_run`) for ``vidkit reproduce multimodal``.

Every recall@k and median rank comes from :func:`vidkit.eval.retrieval.retrieval_metrics`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
import torch
from torch import nn

from vidkit.data.actions import ActionClips, all_captions, generate_actions
from vidkit.data.audio import attach_audio, log_mel
from vidkit.data.flow import with_frame_differences
from vidkit.data.narration import ALIGNED, Narration, narrate
from vidkit.eval.claims import Arm, Claim
from vidkit.eval.representation import linear_probe
from vidkit.eval.retrieval import instance_relevance, retrieval_metrics, semantic_relevance
from vidkit.models.encoders import Conv3dEncoder
from vidkit.models.mmv import (
    MMV,
    MMV_PAIRS,
    AudioEncoder,
    ImageEncoder,
    check_pairs,
    deflate,
    fit_deflated_batchnorm,
    mmv_loss,
    recalibrate_batchnorm,
    still_clip,
)
from vidkit.models.text import TextEncoder, Vocabulary
from vidkit.profiles import MultimodalBudget, Profile
from vidkit.train import TrainConfig, TrainResult, steps_for_time, train
from vidkit.utils import distributed as D
from vidkit.utils.checks import check_choice, check_int, check_seed

__all__ = [
    "CLAIMS", "CLAIM_RUNS", "NARRATIONS", "TEXT_LOSSES", "MultimodalData", "FrameNetwork", "make_data",
    "mmv_batches", "make_model", "train_mmv", "video_features", "audio_features", "probe_scores",
    "text_to_video", "audio_video_retrieval", "synchrony", "frame_input", "frame_probes", "evaluate_mmv",
    "claim_run",
]

#: The two kinds of text supervision: noisy narration bags, or clean captions (the aligned sentences only).
NARRATIONS: tuple[str, ...] = ("noisy", "clean")
#: The two video-text losses: MIL-NCE on the whole bag, or NCE on one sentence per clip.
TEXT_LOSSES: tuple[str, ...] = ("MIL-NCE", "NCE")
_TEXTS = ("bag", "one")


def _budget(profile: str | Profile | MultimodalBudget) -> tuple[Profile | None, MultimodalBudget, int]:
    """``(profile or None, its multimodal budget, frame size)`` from a profile name, a Profile or a budget."""
    from vidkit.profiles import profile as get_profile

    if isinstance(profile, MultimodalBudget):
        return None, profile, 32
    prof = profile if isinstance(profile, Profile) else get_profile(profile)
    return prof, prof.multimodal, prof.actions_size


# -------------------------------------------------------------------------------------------------- data


@dataclass
class MultimodalData:
    """``N`` action clips with the three modalities MMV learns from (torch tensors on the CPU).

    Attributes:
        clips: the :class:`ActionClips` (labels ``digit``, ``action``; frames; captions).
        video: ``(N, T', 2, H, W)`` float32, every ``stride``-th frame and its difference (the encoder's input).
        audio: ``(N, 2, 80, 5 T)`` float32 stereo log-mel of each clip's sound track (:func:`log_mel`).
        narration: the :class:`Narration` bags (``M = n_aligned + n_neighbour + n_filler`` sentences per clip).
        tokens, lengths: ``(N, M, L)`` long and ``(N, M)``: the bags tokenised with ``vocab``.
        clean_tokens, clean_lengths: ``(N, n_aligned, L)`` and ``(N, n_aligned)``: the aligned sentences only.
        vocab: the :class:`Vocabulary` (training narration plus every caption variant of every pair).
        frames_per_step: log-mel frames per video-input time step (``5 * stride``), for :func:`synchrony`.
    """

    clips: ActionClips
    video: torch.Tensor
    audio: torch.Tensor
    narration: Narration
    tokens: torch.Tensor
    lengths: torch.Tensor
    clean_tokens: torch.Tensor
    clean_lengths: torch.Tensor
    vocab: Vocabulary
    frames_per_step: int

    def __len__(self) -> int:
        return len(self.clips)

    @property
    def digit(self) -> torch.Tensor:
        return torch.as_tensor(self.clips.digit, dtype=torch.long)

    @property
    def action(self) -> torch.Tensor:
        return torch.as_tensor(self.clips.action, dtype=torch.long)


def _pair_captions(action_names: Sequence[str]) -> list[str]:
    return [c for d in range(10) for a in action_names for c in all_captions(d, a)]


def _tokenise(vocab: Vocabulary, sentences: Sequence[Sequence[str]]) -> tuple[torch.Tensor, torch.Tensor]:
    """``N`` bags of ``M`` sentences -> ``(N, M, L)`` tokens and ``(N, M)`` lengths."""
    n, m = len(sentences), len(sentences[0])
    tokens, lengths = vocab.encode([s for bag in sentences for s in bag])
    return tokens.view(n, m, -1), lengths.view(n, m)


_DATA: dict[tuple, MultimodalData] = {}


def make_data(n: int, split: str, seed: int, profile: str | Profile | MultimodalBudget = "smoke", *,
              vocab: Vocabulary | None = None) -> MultimodalData:
    """``n`` action clips of ``split`` (``"train"`` or ``"test"``) with video, sound and narration (see
    :class:`MultimodalData`), seeded by ``seed`` (clips, sound and narration alike), sized by ``profile``'s
    ``multimodal`` budget (frames, stride, distractors, bag sizes) and ``actions_size``.

    ``vocab``: the vocabulary to tokenise with; default a new one built from this set's narration plus every
    caption variant of every digit x action pair (give the training set's vocabulary to a test set). Results are
    cached per process (same arguments, same object). ``profile``: a name, a :class:`Profile`, or a bare
    :class:`MultimodalBudget` (then frames are 32 px).
    """
    n = check_int("n", n, 2, what=" (clips; narration needs neighbours)")
    check_choice("split", split, ("train", "test"))
    seed = check_seed("seed", seed)
    if vocab is not None and not isinstance(vocab, Vocabulary):
        raise TypeError(f"vocab must be a vidkit.models.text.Vocabulary or None, got {type(vocab).__name__}")
    _, b, size = _budget(profile)
    key = (n, split, seed, size, b.frames, b.stride, b.distractors, b.n_aligned, b.n_neighbour, b.n_filler,
           None if vocab is None else tuple(vocab.words))
    if key in _DATA:
        return _DATA[key]
    clips = generate_actions(n, split=split, seed=seed, num_frames=b.frames, size=size,
                             num_distractors=b.distractors)
    attach_audio(clips, seed)                                   # the sound, seeded like the frames
    video = with_frame_differences(clips.tensors())[:, ::b.stride].contiguous()
    audio = log_mel(clips.audio)
    story = narrate(clips, seed, n_aligned=b.n_aligned, n_neighbour=b.n_neighbour, n_filler=b.n_filler)
    if vocab is None:
        vocab = Vocabulary.build([*story.texts(), *_pair_captions(clips.action_names)])
    tokens, lengths = _tokenise(vocab, story.sentences)
    aligned = story.kinds == ALIGNED
    clean = [[s for s, ok in zip(bag, row, strict=True) if ok] for bag, row in zip(story.sentences, aligned, strict=True)]
    clean_tokens, clean_lengths = _tokenise(vocab, clean)
    per_step = audio.shape[-1] // b.frames * b.stride
    _DATA[key] = MultimodalData(clips, video, audio, story, tokens, lengths, clean_tokens, clean_lengths, vocab,
                                per_step)
    return _DATA[key]


def mmv_batches(data: MultimodalData, batch_size: int, *, narration: str = "noisy", text: str = "bag",
                seed: int = 0, rank: int | None = None,
                world_size: int | None = None) -> Iterator[dict[str, torch.Tensor]]:
    """Endless shuffled batches for :func:`vidkit.models.mmv.mmv_loss` (a new seeded permutation every epoch):
    ``{"video": (B, T', 2, H, W), "audio": (B, 2, 80, F), "tokens": (B, P, L), "lengths": (B, P), "digit",
    "action", "index": (B,)}``, tokens trimmed to the batch's longest sentence.

    ``narration="noisy"``: the narration bags (``P = M``); ``"clean"``: the aligned sentences only (``P =
    n_aligned``). ``text="bag"`` gives the whole bag (MIL-NCE); ``text="one"`` one sentence per clip (``P = 1``,
    for NCE), drawn uniformly from the bag at every step (noisy: any kind; clean: an aligned one). Every clip's
    bag has the same size, so no ``"text_mask"`` is needed. Inputs are checked when called.

    Under ``torchrun`` (``world_size`` processes) every process draws the same permutation and takes its own
    ``batch_size`` clips of each global batch of ``batch_size * world_size`` (rank ``r`` the ``r``-th slice, as a
    ``DistributedSampler`` does), so the processes never see the same clip in one step; a single process is the
    ``world_size = 1`` case. ``rank`` / ``world_size`` default to the running process group's.
    """
    if not isinstance(data, MultimodalData):
        raise TypeError(f"data must be a MultimodalData (from make_data), got {type(data).__name__}")
    world_size = D.world_size() if world_size is None else check_int("world_size", world_size, 1)
    rank = D.rank() if rank is None else check_int("rank", rank, 0, world_size - 1, what=f" (< world_size {world_size})")
    batch_size = check_int("batch_size", batch_size, 2, len(data) // world_size,
                           what=f" (at most the {len(data)} clips / {world_size} processes)")
    check_choice("narration", narration, NARRATIONS)
    check_choice("text", text, _TEXTS)
    seed = check_seed("seed", seed)
    return _endless(data, batch_size, narration, text, seed, rank, world_size)


def _endless(data: MultimodalData, batch_size: int, narration: str, text: str, seed: int, rank: int,
             world_size: int) -> Iterator[dict[str, torch.Tensor]]:
    tok, ln = (data.tokens, data.lengths) if narration == "noisy" else (data.clean_tokens, data.clean_lengths)
    digit, action = data.digit, data.action
    gen = torch.Generator().manual_seed(seed)      # the same on every process: one permutation per epoch
    pick_gen = torch.Generator().manual_seed(seed + 7919 * rank)   # this process's sentence draws
    step = batch_size * world_size
    while True:
        order = torch.randperm(len(data), generator=gen)
        for lo in range(0, len(data) - step + 1, step):
            idx = order[lo + rank * batch_size:lo + (rank + 1) * batch_size]
            t, n = tok[idx], ln[idx]                                            # (B, P, L), (B, P)
            if text == "one":
                pick = torch.randint(0, t.shape[1], (len(idx),), generator=pick_gen if world_size > 1 else gen)
                rows = torch.arange(len(idx))
                t, n = t[rows, pick][:, None], n[rows, pick][:, None]
            yield {"video": data.video[idx], "audio": data.audio[idx], "tokens": t[..., :int(n.max())].contiguous(),
                   "lengths": n.contiguous(), "digit": digit[idx], "action": action[idx], "index": idx}


# ---------------------------------------------------------------------------------------------- training


class FrameNetwork(nn.Module):
    """A 2D :class:`ImageEncoder` wearing a video encoder's interface, so MMV trains it on single frames:
    ``embed(clip (B, T, C, H, W)) -> (B, dim)`` embeds one frame per clip (a random one per clip in training
    mode, the middle one in eval mode) with its difference channels zeroed (a still image has no motion).
    ``image`` is the 2D network itself (``image.embed(frames (B, C, H, W))``)."""

    def __init__(self, in_channels: int = 2, width: int = 16, dim: int = 128):
        super().__init__()
        self.image = ImageEncoder(in_channels, width, dim)
        self.in_channels, self.width, self.dim = in_channels, width, dim

    def embed(self, clip: torch.Tensor) -> torch.Tensor:
        if not isinstance(clip, torch.Tensor) or clip.dim() != 5 or clip.shape[2] != self.in_channels:
            raise ValueError(f"FrameNetwork: expected clips (B, T, {self.in_channels}, H, W), got "
                             f"{tuple(clip.shape) if isinstance(clip, torch.Tensor) else type(clip).__name__}")
        b, t = clip.shape[:2]
        if self.training:
            pick = torch.randint(0, t, (b,), device=clip.device)
        else:
            pick = torch.full((b,), t // 2, device=clip.device)
        return self.image.embed(_still(clip[torch.arange(b, device=clip.device), pick]))

    def forward(self, clip: torch.Tensor) -> torch.Tensor:
        return self.embed(clip)


def _still(frames: torch.Tensor) -> torch.Tensor:
    """Frames ``(B, 2, H, W)`` (frame, difference) with the difference zeroed: a still image's input."""
    out = frames.clone()
    out[:, 1:] = 0
    return out


def make_model(vocab_size: int, budget: MultimodalBudget, design: str = "fac", network: str = "video") -> MMV:
    """A fresh :class:`MMV` of ``design``: a :class:`Conv3dEncoder` (``network="video"``) or a
    :class:`FrameNetwork` (``"frames"``, the 2D baseline) of 2 input channels, an :class:`AudioEncoder` (stereo
    80-bin log-mel), a conv :class:`TextEncoder` (32-d words, 64 hidden), encoders of ``budget.width`` channels
    and ``budget.dim`` outputs, spaces ``budget.fine_dim`` / ``budget.coarse_dim``, linear heads, tau = 0.07."""
    if not isinstance(budget, MultimodalBudget):
        raise TypeError(f"budget must be a MultimodalBudget (vidkit.profile().multimodal), got {type(budget).__name__}")
    check_choice("network", network, ("video", "frames"))
    cls = Conv3dEncoder if network == "video" else FrameNetwork
    video = cls(2, budget.width, budget.dim)
    audio = AudioEncoder(2, 80, budget.width, budget.dim)
    text = TextEncoder(check_int("vocab_size", vocab_size, 3), word_dim=32, hidden=64, out_dim=budget.dim)
    return MMV(video, audio, text, design, fine_dim=budget.fine_dim, coarse_dim=budget.coarse_dim)


def train_mmv(model: MMV, data: MultimodalData, budget: MultimodalBudget, *, design: str | None = None,
              pairs: Sequence[str] = MMV_PAIRS, narration: str = "noisy", loss: str = "MIL-NCE", seed: int = 0,
              progress: bool = False) -> TrainResult:
    """Train ``model`` with :func:`vidkit.models.mmv.mmv_loss` (``pairs``, ``budget.lambda_va`` /
    ``budget.lambda_vt``) on :func:`mmv_batches` of ``data`` through :func:`vidkit.train.train`: ``budget.steps``
    steps of batch ``budget.batch``, peak ``budget.lr`` (AdamW, weight decay 1e-4, warm-up then cosine), and, when
    ``budget.time_s`` is set, the steps that fit in that many seconds (the notebook's safety cap; claims pass a
    budget with ``time_s=None``).

    ``narration``: ``"noisy"`` bags or ``"clean"`` captions; ``loss``: ``"MIL-NCE"`` (the whole bag) or ``"NCE"``
    (one sentence per clip, see :func:`mmv_batches`). ``design``, if given, must be the model's (a guard for
    notebooks). ``seed`` seeds the batch order and the sentences drawn.

    Under ``torchrun --nproc_per_node=N`` (NCCL on GPUs, Gloo on CPUs) the same call trains one model with
    ``DistributedDataParallel``: each process takes its own ``budget.batch`` clips per step (:func:`mmv_batches`),
    the gradients are averaged, and rank 0 alone shows progress (``tests/test_ddp.py`` runs it on 2 CPU processes).
    """
    if not isinstance(model, MMV):
        raise TypeError(f"model must be an MMV (make_model), got {type(model).__name__}")
    if not isinstance(budget, MultimodalBudget):
        raise TypeError(f"budget must be a MultimodalBudget (vidkit.profile().multimodal), got {type(budget).__name__}")
    if design is not None and check_choice("design", design, ("fac", "shared", "disjoint")) != model.design:
        raise ValueError(f"design={design!r} but the model is {model.design!r}; build it with make_model(..., design)")
    pairs = check_pairs(pairs)
    check_choice("narration", narration, NARRATIONS)
    check_choice("loss", loss, TEXT_LOSSES)
    seed = check_seed("seed", seed)
    text = "bag" if loss == "MIL-NCE" else "one"
    batch = min(budget.batch, len(data) // D.world_size())     # per process
    loss_fn = partial(mmv_loss, lambda_va=budget.lambda_va, lambda_vt=budget.lambda_vt, pairs=pairs)
    steps = budget.steps
    if budget.time_s is not None:
        probe = next(mmv_batches(data, batch, narration=narration, text=text, seed=seed + 1))
        steps = steps_for_time(model, loss_fn, probe, budget.time_s, steps)
    cfg = TrainConfig(steps=steps, time_budget_s=budget.time_s, lr=budget.lr, weight_decay=1e-4,
                      warmup_steps=max(1, min(50, steps // 20)), min_lr_ratio=0.05,
                      log_every=max(1, min(25, steps // 10)), seed=seed, amp=budget.amp,
                      find_unused_parameters=len(pairs) < len(MMV_PAIRS))   # DDP: one pair leaves heads idle
    torch.manual_seed(seed)
    return train(model, loss_fn, mmv_batches(data, batch, narration=narration, text=text, seed=seed), cfg,
                 progress=progress)


# ----------------------------------------------------------------------------------------------- scoring


@torch.no_grad()
def _embed(fn: Any, x: torch.Tensor, module: nn.Module, batch_size: int = 256) -> torch.Tensor:
    """``fn`` over ``x`` in batches, ``module`` in eval mode (restored after), float32 on the CPU."""
    was = module.training
    module.eval()
    try:
        device = next(module.parameters()).device
        return torch.cat([fn(x[lo:lo + batch_size].to(device)).float().cpu() for lo in range(0, len(x), batch_size)])
    finally:
        module.train(was)


def video_features(model: MMV, video: torch.Tensor) -> np.ndarray:
    """The video encoder's features ``f_v`` (before any head): ``(N, T', 2, H, W) -> (N, d_v)``."""
    return _embed(model.video_encoder.embed, video, model).numpy()


def audio_features(model: MMV, audio: torch.Tensor) -> np.ndarray:
    """The audio encoder's features ``f_a`` (before any head): log-mel ``(N, 2, 80, F) -> (N, d_a)``."""
    return _embed(model.audio_encoder.embed, audio, model).numpy()


def _check_pair(train: Any, test: Any) -> None:
    for name, d in (("train", train), ("test", test)):
        if not isinstance(d, MultimodalData):
            raise TypeError(f"{name} must be a MultimodalData (from make_data), got {type(d).__name__}")


def probe_scores(model: MMV, train: MultimodalData, test: MultimodalData, probe_train: int | None = None) -> dict[str, float]:
    """Linear probes (:func:`vidkit.eval.representation.linear_probe`) fitted on the first ``probe_train``
    training clips (all by default), scored on the test clips (test accuracy):
    ``video_action_probe`` and ``video_digit_probe`` on ``f_v``, ``audio_digit_probe`` on ``f_a`` (the digit from
    sound alone), with their chance levels ``action_chance`` and ``digit_chance``."""
    _check_pair(train, test)
    m = len(train) if probe_train is None else check_int("probe_train", probe_train, 2)
    fv_tr, fv_te = video_features(model, train.video[:m]), video_features(model, test.video)
    fa_tr, fa_te = audio_features(model, train.audio[:m]), audio_features(model, test.audio)
    act = linear_probe(fv_tr, train.clips.action[:m], fv_te, test.clips.action)
    dig = linear_probe(fv_tr, train.clips.digit[:m], fv_te, test.clips.digit)
    aud = linear_probe(fa_tr, train.clips.digit[:m], fa_te, test.clips.digit)
    return {"video_action_probe": act["accuracy"], "video_digit_probe": dig["accuracy"],
            "audio_digit_probe": aud["accuracy"], "action_chance": act["chance"], "digit_chance": dig["chance"]}


def _queries(test: MultimodalData, per_pair: int, seed: int) -> tuple[list[str], np.ndarray, np.ndarray]:
    """``per_pair`` caption variants of every digit x action pair present among the test clips (seeded)."""
    rng = np.random.default_rng(seed)
    names = test.clips.action_names
    texts, qd, qa = [], [], []
    for d, a in sorted(set(zip(test.clips.digit.tolist(), test.clips.action.tolist()))):
        pool = all_captions(d, names[a])
        for j in rng.choice(len(pool), size=min(per_pair, len(pool)), replace=False):
            texts.append(pool[int(j)])
            qd.append(d)
            qa.append(a)
    return texts, np.asarray(qd), np.asarray(qa)


def _ks(g: int) -> list[int]:
    return [k for k in (1, 10) if k <= g]


def text_to_video(model: MMV, test: MultimodalData, queries_per_pair: int = 3, seed: int = 0) -> dict[str, float]:
    """Zero-shot text -> video retrieval: ``queries_per_pair`` caption variants (:func:`all_captions`, drawn with
    ``seed``) of every digit x action pair present among the test clips query the test clips in the video-text
    space of the design (:meth:`MMV.space_of` ``("vt")``); a hit is any clip of the caption's digit and action
    (:func:`vidkit.eval.retrieval.semantic_relevance`). No label trains anything: the captions only say what the
    narration said. Returns ``t2v_R@1``, ``t2v_R@10``, ``t2v_MedR`` and ``t2v_chance@1`` / ``@10`` (random scores)."""
    if not isinstance(test, MultimodalData):
        raise TypeError(f"test must be a MultimodalData (from make_data), got {type(test).__name__}")
    texts, qd, qa = _queries(test, check_int("queries_per_pair", queries_per_pair, 1), check_seed("seed", seed))
    space = model.space_of("vt")
    tokens, lengths = test.vocab.encode(texts)
    with torch.no_grad():
        was = model.training
        model.eval()
        try:
            zt = torch.cat([model.embed_text(tokens[lo:lo + 512], lengths[lo:lo + 512], space).float()
                            for lo in range(0, len(tokens), 512)])
        finally:
            model.train(was)
    zv = _embed(lambda x: model.embed_video(x, space), test.video, model)
    out = retrieval_metrics(zt @ zv.T, semantic_relevance(qd, qa, test.clips.digit, test.clips.action),
                            ks=_ks(len(zv)))
    return {f"t2v_{k}": v for k, v in out.items() if k in ("R@1", "R@10", "MedR", "chance@1", "chance@10")}


def audio_video_retrieval(model: MMV, video: torch.Tensor, audio: torch.Tensor) -> dict[str, float]:
    """Instance retrieval between the clips ``video (N, ...)`` and their sound tracks ``audio (N, 2, 80, F)`` in the
    video-audio space (:meth:`MMV.space_of` ``("va")``): each track queries the clips (``a2v_``) and each clip the
    tracks (``v2a_``); only the clip's own track is a hit. Returns ``R@1``, ``R@10``, ``MedR`` per direction and
    ``av_chance@1`` (``1 / N``)."""
    if len(video) != len(audio):
        raise ValueError(f"video and audio must hold the same clips, got {len(video)} and {len(audio)}")
    space = model.space_of("va")
    zv = _embed(lambda x: model.embed_video(x, space), video, model)
    za = _embed(lambda x: model.embed_audio(x, space), audio, model)
    eye = instance_relevance(np.arange(len(zv)), len(zv))
    out = {}
    for name, scores in (("a2v", za @ zv.T), ("v2a", zv @ za.T)):
        m = retrieval_metrics(scores, eye, ks=_ks(len(zv)))
        out.update({f"{name}_{k}": m[k] for k in ("R@1", "R@10", "MedR") if k in m})
    out["av_chance@1"] = 1.0 / len(zv)
    return out


def synchrony(model: MMV, video: torch.Tensor, audio: torch.Tensor, shift: int, frames_per_step: int = 5) -> dict[str, float]:
    """Audio-visual synchrony: how often the model scores a clip with its true sound track above the same track
    shifted in time by ``shift`` video-input steps (a circular roll of the log-mel by ``shift * frames_per_step``
    mel frames: the same voice, knocks and panning, at the wrong times). Scores are ``z_v . z_a`` in the
    video-audio space; a tie counts one half. Returns ``{"sync_acc": fraction in [0, 1]}`` (0.5: no sense of
    timing)."""
    if len(video) != len(audio):
        raise ValueError(f"video and audio must hold the same clips, got {len(video)} and {len(audio)}")
    steps = video.shape[1]
    shift = check_int("shift", shift, 1, steps - 1, what=f" (video steps; the clips have {steps})")
    frames_per_step = check_int("frames_per_step", frames_per_step, 1)
    if audio.dim() != 4 or audio.shape[-1] != steps * frames_per_step:
        raise ValueError(f"audio must be log-mel (N, C, n_mels, {steps * frames_per_step}) ({frames_per_step} mel "
                         f"frames per video step), got {tuple(audio.shape)}")
    space = model.space_of("va")
    zv = _embed(lambda x: model.embed_video(x, space), video, model)
    za = _embed(lambda x: model.embed_audio(x, space), audio, model)
    zs = _embed(lambda x: model.embed_audio(x, space), audio.roll(shift * frames_per_step, dims=-1), model)
    true, moved = (zv * za).sum(1), (zv * zs).sum(1)
    return {"sync_acc": float(((true > moved).float() + 0.5 * (true == moved).float()).mean())}


def frame_input(data: MultimodalData) -> torch.Tensor:
    """Each clip's middle frame as a still image: ``(N, 2, H, W)``, channel 0 the frame, channel 1 (the
    difference) zero, the input a still clip of it would give the video encoder."""
    if not isinstance(data, MultimodalData):
        raise TypeError(f"data must be a MultimodalData (from make_data), got {type(data).__name__}")
    return _still(data.video[:, data.video.shape[1] // 2])


def frame_probes(model: MMV, train: MultimodalData, test: MultimodalData,
                 probe_train: int | None = None) -> dict[str, float]:
    """Single-frame digit classification (linear probe on the middle frames, :func:`frame_input`):

    * ``frame_digit_still``: the video encoder fed a still clip (:func:`still_clip`, the frame repeated);
    * ``frame_digit_deflated``: :func:`deflate` of the video encoder on the frame, the *naive* deflation (its
      batch norms keep the video statistics, so it reproduces the still-clip network up to the temporal zero
      padding);
    * ``frame_digit_fitted``: MMV's deflation, :func:`deflate` then :func:`fit_deflated_batchnorm` (batch-norm
      ``gamma`` and ``beta`` fitted on the training frames to match the video network on still clips, L1);
    * ``frame_digit_recalibrated``: the same with batch-norm statistics re-estimated on training frames
      (:func:`recalibrate_batchnorm`);
    * ``frame_digit_2d`` instead of the three, when the model's video network is a :class:`FrameNetwork`
      (a 2D network trained on frames).
    """
    _check_pair(train, test)
    m = len(train) if probe_train is None else check_int("probe_train", probe_train, 2)
    f_tr, f_te = frame_input(train)[:m], frame_input(test)
    y_tr, y_te = train.clips.digit[:m], test.clips.digit
    enc = model.video_encoder
    if isinstance(enc, FrameNetwork):
        feats = [_embed(enc.image.embed, f, enc).numpy() for f in (f_tr, f_te)]
        return {"frame_digit_2d": linear_probe(feats[0], y_tr, feats[1], y_te)["accuracy"]}
    if not isinstance(enc, Conv3dEncoder):
        raise TypeError(f"frame_probes needs a Conv3dEncoder or FrameNetwork video network, got {type(enc).__name__}")
    t = train.video.shape[1]
    still = [_embed(lambda x: enc.embed(still_clip(x, t)), f, enc).numpy() for f in (f_tr, f_te)]
    image = deflate(enc)
    deflated = [_embed(image.embed, f, image).numpy() for f in (f_tr, f_te)]
    fitted_net = fit_deflated_batchnorm(deflate(enc), enc, f_tr, t)
    fitted = [_embed(fitted_net.embed, f, fitted_net).numpy() for f in (f_tr, f_te)]
    recalibrate_batchnorm(image, f_tr)
    recal = [_embed(image.embed, f, image).numpy() for f in (f_tr, f_te)]
    return {"frame_digit_still": linear_probe(still[0], y_tr, still[1], y_te)["accuracy"],
            "frame_digit_deflated": linear_probe(deflated[0], y_tr, deflated[1], y_te)["accuracy"],
            "frame_digit_fitted": linear_probe(fitted[0], y_tr, fitted[1], y_te)["accuracy"],
            "frame_digit_recalibrated": linear_probe(recal[0], y_tr, recal[1], y_te)["accuracy"]}


def evaluate_mmv(model: MMV, train: MultimodalData, test: MultimodalData, budget: MultimodalBudget,
                 seed: int = 0) -> dict[str, float]:
    """Every measurement of notebook 05 as one flat dict of floats: :func:`probe_scores`, :func:`text_to_video`
    (``budget.queries_per_pair``, queries drawn with ``seed``), :func:`audio_video_retrieval` and
    :func:`synchrony` (``budget.sync_shift``) on the test clips, and :func:`frame_probes`; probes fit on the
    first ``budget.probe_train`` training clips. Heads a run never trained are scored all the same (e.g. text
    retrieval of a v+a model: a random-head baseline)."""
    _check_pair(train, test)
    if not isinstance(budget, MultimodalBudget):
        raise TypeError(f"budget must be a MultimodalBudget, got {type(budget).__name__}")
    out = probe_scores(model, train, test, budget.probe_train)
    out.update(text_to_video(model, test, budget.queries_per_pair, seed))
    out.update(audio_video_retrieval(model, test.video, test.audio))
    shift = min(budget.sync_shift, test.video.shape[1] - 1)
    out.update(synchrony(model, test.video, test.audio, shift, test.frames_per_step))
    out.update(frame_probes(model, train, test, budget.probe_train))
    return out


# ---------------------------------------------------------------------------- recorded claims (notebook 05)

#: The runs notebook 05's claims compare: run name -> how it is trained (:func:`make_model` and
#: :func:`train_mmv` arguments). Every run trains the profile's ``multimodal.steps`` steps with no time cap and
#: is scored by :func:`evaluate_mmv` (:func:`claim_run`).
#:
#: Laptop cost: each recorded run's wall time (training and scoring, one torch thread) is its ``wall_s`` in
#: docs/results/multimodal.json.
CLAIM_RUNS: dict[str, dict[str, Any]] = {
    "FAC": {"design": "fac", "pairs": ("va", "vt"), "loss": "MIL-NCE", "narration": "noisy", "network": "video"},
    "shared": {"design": "shared", "pairs": ("va", "vt"), "loss": "MIL-NCE", "narration": "noisy",
               "network": "video"},
    "disjoint": {"design": "disjoint", "pairs": ("va", "vt"), "loss": "MIL-NCE", "narration": "noisy",
                 "network": "video"},
    "FAC v+t": {"design": "fac", "pairs": ("vt",), "loss": "MIL-NCE", "narration": "noisy", "network": "video"},
    "FAC v+a": {"design": "fac", "pairs": ("va",), "loss": "MIL-NCE", "narration": "noisy", "network": "video"},
    "FAC NCE": {"design": "fac", "pairs": ("va", "vt"), "loss": "NCE", "narration": "noisy", "network": "video"},
    "FAC clean": {"design": "fac", "pairs": ("va", "vt"), "loss": "MIL-NCE", "narration": "clean",
                  "network": "video"},
    "FAC clean NCE": {"design": "fac", "pairs": ("va", "vt"), "loss": "NCE", "narration": "clean",
                      "network": "video"},
    "FAC 2D frames": {"design": "fac", "pairs": ("va", "vt"), "loss": "MIL-NCE", "narration": "noisy",
                      "network": "frames"},
}

_MMV = "Alayrac et al. 2020 (MMV)"
_DESIGN = f"{_MMV}, design exploration: FAC is the best of the three designs"
_MODALITIES = f"{_MMV}, design exploration: training on all three modalities beats training on two"
_MILNCE = f"{_MMV}: MIL-NCE for video-text pairs, since narration is often misaligned (Miech et al. 2020)"
_DEFLATE = f"{_MMV}, transfer to image tasks via network deflation"
_T2V = "zero-shot text -> video R@10 (semantic hits)"
_ACT = "linear probe for the action on the video encoder's features"
_DIG = "linear probe for the digit on the video encoder's features"


def _design_claims(other: str) -> tuple[Claim, ...]:
    return (
        Claim(f"multimodal.fac_beats_{other}_t2v", f"Does the FAC design find the clips a sentence describes ({_T2V}) "
              f"better than the {other} design, at equal steps?", _DESIGN, Arm("FAC", "t2v_R@10", "FAC"),
              Arm(other, "t2v_R@10", other), "greater"),
        Claim(f"multimodal.fac_beats_{other}_probe", f"Does the FAC design give a better video representation "
              f"({_ACT}) than the {other} design, at equal steps?", _DESIGN,
              Arm("FAC", "video_action_probe", "FAC"), Arm(other, "video_action_probe", other), "greater"),
    )


#: Notebook 05's claims, checked over seeds by ``vidkit reproduce multimodal``. Each design comparison is two
#: claims, text retrieval and the video probe, judged separately (a design must win both to win the comparison).
#: Metrics: :func:`evaluate_mmv` on the profile's test clips.
CLAIMS: tuple[Claim, ...] = (
    *_design_claims("shared"),
    *_design_claims("disjoint"),
    Claim("multimodal.vat_beats_vt_probe", f"Does adding audio to video and text (v+a+t vs v+t) improve the "
          f"video representation ({_ACT})?", _MODALITIES, Arm("FAC", "video_action_probe", "v+a+t"),
          Arm("FAC v+t", "video_action_probe", "v+t"), "greater"),
    Claim("multimodal.vat_beats_va_probe", f"Does adding text to video and audio (v+a+t vs v+a) improve the video "
          f"representation ({_ACT})?", _MODALITIES, Arm("FAC", "video_action_probe", "v+a+t"),
          Arm("FAC v+a", "video_action_probe", "v+a"), "greater"),
    Claim("multimodal.mil_nce_beats_nce_noisy", f"Under noisy narration (a bag of 2 aligned, 2 neighbour and 2 filler "
          f"sentences per clip), does MIL-NCE on the whole bag beat NCE on one sentence drawn from the bag ({_T2V})?",
          _MILNCE, Arm("FAC", "t2v_R@10", "MIL-NCE, noisy"), Arm("FAC NCE", "t2v_R@10", "NCE, noisy"), "greater"),
    Claim("multimodal.mil_nce_close_to_nce_clean", f"With clean captions (the aligned sentences only), are MIL-NCE "
          f"on the bag and NCE on one caption within 0.05 of each other ({_T2V}): MIL-NCE matters for noise?",
          _MILNCE, Arm("FAC clean", "t2v_R@10", "MIL-NCE, clean"), Arm("FAC clean NCE", "t2v_R@10", "NCE, clean"),
          "close", margin=0.05),
    Claim("multimodal.deflated_close_to_video_on_frames", "On single frames, is the deflated network (MMV's "
          "deflation: kernels summed over time, batch-norm gamma and beta fitted) within 0.05 of the video network "
          "fed a still clip (linear probe for the digit, accuracy)?",
          f"{_DEFLATE}: the deflated model performs almost as well as the video model on inflated (still) input",
          Arm("FAC", "frame_digit_fitted", "deflated, frame"), Arm("FAC", "frame_digit_still", "video, still clip"),
          "close", margin=0.05),
    Claim("multimodal.fitted_beats_naive_deflation", "On single frames, does MMV's deflation (batch-norm gamma and "
          "beta fitted to the video network on still clips) beat naive deflation (kernels summed, nothing fitted), "
          "linear probe for the digit?", f"{_DEFLATE}: the proposed deflation outperforms naive deflation",
          Arm("FAC", "frame_digit_fitted", "MMV deflation"), Arm("FAC", "frame_digit_deflated", "naive deflation"),
          "greater"),
    Claim("multimodal.image_2d_beats_deflated", "On single frames, does a 2D network trained on frames with the same "
          "objective and steps beat the deflated video network (linear probe for the digit)?",
          f"{_DEFLATE}: self-supervised image models still beat the deflated MMV network on image tasks",
          Arm("FAC 2D frames", "frame_digit_2d", "2D, trained on frames"),
          Arm("FAC", "frame_digit_fitted", "deflated"), "greater"),
    Claim("multimodal.audio_helps_video_digit", f"Does audio supervision help the video representation find the digit "
          f"(v+a+t vs v+t, {_DIG}): the voice names the digit, the narration rarely singles it out of the motion?",
          f"the kit's question (issue 17); {_MMV}", Arm("FAC", "video_digit_probe", "v+a+t"),
          Arm("FAC v+t", "video_digit_probe", "v+t"), "greater"),
    Claim("multimodal.av_training_helps_audio_digit", "Does training the audio encoder with video and text "
          "(v+a+t) give a better audio representation of the digit than the untrained audio encoder of a v+t run "
          "(linear probe for the digit on the audio features, the ESC-50 analogue)?",
          f"{_MMV}: the audio representation learnt with video transfers to audio classification (ESC-50)",
          Arm("FAC", "audio_digit_probe", "v+a+t (audio trained)"),
          Arm("FAC v+t", "audio_digit_probe", "v+t (audio untrained)"), "greater"),
    Claim("multimodal.audio_alone_beats_text_alone_video_digit", f"Does audio alone teach the video encoder the digit "
          f"better than narration alone (v+a vs v+t, {_DIG})?", f"the kit's question (issue 17); {_MMV}",
          Arm("FAC v+a", "video_digit_probe", "v+a"), Arm("FAC v+t", "video_digit_probe", "v+t"), "greater"),
)


def _claim_data(prof: Profile) -> tuple[MultimodalData, MultimodalData]:
    """The notebook's training (seed 0) and test (seed 1, the training vocabulary) data for ``prof`` (cached by
    :func:`make_data`)."""
    b = prof.multimodal
    train_set = make_data(b.train, "train", 0, prof)
    return train_set, make_data(b.test, "test", 1, prof, vocab=train_set.vocab)


def claim_run(name: str, profile: str | Profile, seed: int, root: Any = None, progress: bool = False) -> dict[str, Any]:
    """Train and score claim run ``name`` (:data:`CLAIM_RUNS`) as notebook 05 does, at equal steps: a fresh
    :func:`make_model` trained by :func:`train_mmv` for the profile's ``multimodal.steps`` steps with no time cap,
    scored by :func:`evaluate_mmv`. ``seed`` seeds the initial weights, the batch order and the sentences drawn;
    the clips, sounds and narration are the notebook's (built once per process). ``root`` is not used (nothing
    is written). Returns the record entry ``{"run", "seed", "config", "steps", "metrics"}``."""
    from vidkit.profiles import profile as get_profile

    if name not in CLAIM_RUNS:
        raise ValueError(f"unknown claim run {name!r}; available: {sorted(CLAIM_RUNS)}")
    seed = check_seed("seed", seed)
    prof = profile if isinstance(profile, Profile) else get_profile(profile)
    spec = CLAIM_RUNS[name]
    budget = dataclasses.replace(prof.multimodal, time_s=None)   # equal steps: no time cap
    train_set, test_set = _claim_data(prof)
    torch.manual_seed(seed)
    model = make_model(len(train_set.vocab), budget, spec["design"], spec["network"])
    result = train_mmv(model, train_set, budget, pairs=spec["pairs"], narration=spec["narration"], loss=spec["loss"],
                       seed=seed, progress=progress)
    metrics = evaluate_mmv(model, train_set, test_set, budget)
    config = {"profile": prof.name, **{k: list(v) if isinstance(v, tuple) else v for k, v in spec.items()},
              "budget": dataclasses.asdict(budget),
              "data": {"train": len(train_set), "test": len(test_set), "size": prof.actions_size,
                       "train_seed": 0, "test_seed": 1, "vocabulary": len(train_set.vocab)}}
    return {"run": name, "seed": seed, "config": config, "steps": int(result.steps),
            "metrics": {k: float(v) for k, v in metrics.items()}}
