"""*Episodes*: longer clips made of several action segments, each with a subtitle - a toy TV episode.

HERO (Li et al. 2020) pretrains a hierarchical transformer on TV episodes: a lower transformer fuses each
frame with the subtitle spoken over it, an upper one relates frames across the whole episode. Its tasks
include matching a subtitle to its span of frames and putting shuffled frames back in order. This module
builds the kit's small synthetic stand-in on the actions suite (:mod:`vidkit.data.actions`).

**What an episode is.** An episode has ``segments`` segments ("shots") of ``segment_frames`` frames
each, ``T = segments * segment_frames`` frames in all. One actor digit - the *same* digit image in every
segment, like the main character of a show - performs one action of :data:`~vidkit.data.actions.ACTIONS`
per segment. The episode's distractor digits (``num_distractors``) are also the same images in every
segment. Each segment carries a **subtitle**: one caption of its (digit, action) pair, a seeded choice
among :func:`~vidkit.data.actions.all_captions`, with its start frame and end frame (end exclusive). The
subtitles tile the episode: segment ``j`` spans frames ``j * segment_frames`` to ``(j + 1) * segment_frames``.

**Shot cuts.** Every segment is a fresh clip of the actions suite: the actor's pose (position, angle,
scale, sweep) and the distractors' positions, sizes, angles and motion are drawn anew for each segment,
so the picture jumps at a segment boundary, as at a cut in a TV show. Only the cast (the digit images)
carries over. Continuity is not attempted: it would tie each segment's start to the previous end and
break the actions suite's rule that a single frame says nothing about the action. The frames of segment
``j`` of episode ``i`` are clip ``i * segments + j`` of one :func:`~vidkit.data.actions.generate_actions`
call (kept as :attr:`Episodes.clips`, with its poses, flow and per-clip facts).

**Consecutive segments show different actions** (``actions[i, j] != actions[i, j + 1]``), so "which of
these two actions came first" always has an answer for neighbouring segments; an action may come back
later (``move_left, zoom_in, move_left``).

**Held-out compositions.** To test whether a model composes what it learnt, two kinds of combinations
never occur in the train split:

* :data:`HELD_OUT_COMBOS`: one action per digit (10 digit x action pairs, covering all 8 actions), e.g.
  a 0 never moves left in training - although 0s do every other action and other digits move left. Each
  held-out action's mirror partner stays in training for that digit (a 0 moves right).
* :data:`HELD_OUT_ORDERS`: 8 ordered pairs of consecutive actions ``(a_j, a_{j+1})``, one starting with
  each action and one ending with each action (a cycle through all 8), e.g. ``move_left`` is never
  directly followed by ``rotate_cw``. Every action is still seen in training both first and second
  (in 6 other bigrams each way), and the reverse of every held-out bigram is a training bigram, so
  a held-out order is new only as an order.

``split="train"`` draws uniformly among the episodes that avoid both. ``split="test"`` (disjoint digit
images, see :func:`~vidkit.data.digits.load_digits`) draws with ``compositions="any"`` uniformly among all
episodes and marks those with a held-out combination (``info["novel_combo"]``) or order
(``info["novel_order"]``). ``compositions`` also asks for only ``"seen"`` episodes (neither kind), only
``"novel_combo"`` episodes (at least one held-out combination, no held-out order) or only ``"novel_order"``
episodes (at least one held-out order, no held-out combination), so each kind of generalisation can be
measured on its own. These are drawn directly - uniformly among the episodes allowed, by counting the
allowed action sequences (dynamic programming over the segments) - never by drawing and rejecting.

**Sampling**, per episode: the actor's digit class uniformly (over the classes in the pool), then an
image of that class uniformly; the distractor images likewise; then the action sequence, uniformly among
the sequences the split and ``compositions`` allow for that digit. Deterministic in ``(seed, split)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import torch

from vidkit.data.actions import _MIN_SIZE, ACTIONS, ActionClips, ClipBatch, _pick_images, generate_actions
from vidkit.data.digits import check_digit_bank, load_digits
from vidkit.utils.checks import check_choice, check_int, check_seed, shape_text

__all__ = [
    "COMPOSITIONS",
    "HELD_OUT_COMBOS",
    "HELD_OUT_ORDERS",
    "Episodes",
    "check_subtitle_spans",
    "first_action_pairs",
    "generate_episodes",
]

HELD_OUT_COMBOS: tuple[tuple[int, str], ...] = (
    (0, "move_left"), (1, "move_down"), (2, "zoom_in"), (3, "move_right"), (4, "rotate_cw"),
    (5, "zoom_out"), (6, "move_up"), (7, "rotate_ccw"), (8, "zoom_out"), (9, "rotate_cw"),
)
"""``(digit, action)`` pairs the train split never shows: one per digit, every action at least once
(4 translations, 3 rotations, 3 zooms)."""

HELD_OUT_ORDERS: tuple[tuple[str, str], ...] = (
    ("move_left", "rotate_cw"), ("rotate_cw", "move_up"), ("move_up", "zoom_in"), ("zoom_in", "move_right"),
    ("move_right", "rotate_ccw"), ("rotate_ccw", "move_down"), ("move_down", "zoom_out"),
    ("zoom_out", "move_left"),
)
"""Ordered pairs ``(a_j, a_{j+1})`` of consecutive actions the train split never shows: the cycle
move_left -> rotate_cw -> move_up -> zoom_in -> move_right -> rotate_ccw -> move_down -> zoom_out ->
move_left, so each action is held out once as the first and once as the second of a bigram."""

COMPOSITIONS: tuple[str, ...] = ("any", "seen", "novel_combo", "novel_order")
"""Values of ``generate_episodes(compositions=...)``."""

_A = len(ACTIONS)
_COMBO = np.zeros((10, _A), bool)  # _COMBO[d, a]: (digit d, action a) is held out
for _d, _name in HELD_OUT_COMBOS:
    _COMBO[_d, ACTIONS.index(_name)] = True
_ORDER = np.zeros((_A, _A), bool)  # _ORDER[a, b]: action a directly followed by b is held out
for _first, _second in HELD_OUT_ORDERS:
    _ORDER[ACTIONS.index(_first), ACTIONS.index(_second)] = True


# ----------------------------------------------------------------------------------------------- checks


def check_subtitle_spans(starts: Any, ends: Any, num_frames: int) -> tuple[np.ndarray, np.ndarray]:
    """Check subtitle spans: ``starts``, ``ends`` int ``(N, segments)``, frames ``start..end - 1`` of an
    episode of ``num_frames`` frames; returns them as int64 arrays.

    Each span must lie inside the episode (``0 <= start < end <= num_frames``; ends are exclusive, so an
    empty span ``start == end`` is an error) and the spans of an episode must come in order without
    overlapping (``ends[i, j] <= starts[i, j + 1]``); gaps between spans are allowed. ``ValueError``
    names the first offending episode and segment.
    """
    num_frames = check_int("num_frames", num_frames, 1, what=" (frames per episode)")
    s, e = np.asarray(starts), np.asarray(ends)
    expected = "starts and ends must be int arrays of one shape (N, segments) with N, segments >= 1"
    if s.ndim != 2 or e.shape != s.shape or s.size == 0:
        raise ValueError(f"{expected}, got starts {shape_text(s)} and ends {shape_text(e)}")
    for name, a in (("starts", s), ("ends", e)):
        if not np.issubdtype(a.dtype, np.integer) or np.issubdtype(a.dtype, np.bool_):
            raise ValueError(f"{expected}, got {name} of dtype {a.dtype}")
    s, e = s.astype(np.int64), e.astype(np.int64)

    def where(bad: np.ndarray) -> tuple[int, int]:
        i, j = np.argwhere(bad)[0]
        return int(i), int(j)

    outside = (s < 0) | (e > num_frames)
    if outside.any():
        i, j = where(outside)
        raise ValueError(f"subtitle of episode {i}, segment {j} spans frames {s[i, j]}..{e[i, j]} (end "
                         f"exclusive), outside the episode's frames 0..{num_frames} (0 <= start < end <= "
                         f"num_frames = {num_frames})")
    empty = e <= s
    if empty.any():
        i, j = where(empty)
        raise ValueError(f"subtitle of episode {i}, segment {j} is empty: start {s[i, j]} >= end {e[i, j]} "
                         f"(ends are exclusive; a span needs start < end)")
    overlap = e[:, :-1] > s[:, 1:]
    if overlap.any():
        i, j = where(overlap)
        raise ValueError(f"subtitles of episode {i} overlap or are out of order: segment {j} ends at "
                         f"{e[i, j]} but segment {j + 1} starts at {s[i, j + 1]} (need ends[i, j] <= "
                         f"starts[i, j + 1])")
    return s, e


# ----------------------------------------------------------------------------------------------- container


@dataclass
class Episodes(ClipBatch):
    """A batch of episodes plus ground truth (numpy arrays; ``N`` episodes of ``G`` segments, ``T`` frames,
    ``S`` pixels, ``K`` distractors).

    Attributes:
        frames: ``(N, T, S, S)`` uint8 frames.
        digit: ``(N,)`` int64 actor digit class 0..9 (the same digit image in every segment).
        actions: ``(N, G)`` int64 action label of each segment, an index into :attr:`action_names`; the
            order of the actions is the order of the segments (``actions[:, 0]`` came first).
        starts: ``(N, G)`` int64 first frame of each segment and its subtitle.
        ends: ``(N, G)`` int64 end frame (exclusive) of each segment; ``ends[:, j] == starts[:, j + 1]``.
        subtitles: ``N`` lists of ``G`` strings, the caption of each segment's (digit, action).
        boxes: ``(N, T, 4)`` float32 tight box (x0, y0, x1, y1; x1, y1 exclusive) around the actor.
        info: per-episode facts, each an array with first dimension ``N``: ``novel_combo`` ``(N,)`` bool
            (a segment shows a pair of :data:`HELD_OUT_COMBOS`), ``novel_order`` ``(N,)`` bool (two
            consecutive segments form a pair of :data:`HELD_OUT_ORDERS`), ``novel_combo_segment`` ``(N, G)``
            bool (which segments), ``novel_order_bigram`` ``(N, G - 1)`` bool (bigram ``j`` = segments
            ``j, j + 1``), ``digit_index`` ``(N,)`` (the actor image, an index into the digit pool),
            ``distractor_digit``, ``distractor_index`` ``(N, K)``.
        clips: the segments as one :class:`~vidkit.data.actions.ActionClips` of ``N * G`` clips of
            ``T / G`` frames, episode-major (clip ``i * G + j`` is segment ``j`` of episode ``i``): poses,
            flow (within a segment), layers, per-segment facts. ``frames`` and ``boxes`` are views of its
            arrays.
        action_names: the class names, label order (:data:`~vidkit.data.actions.ACTIONS`).
    """

    frames: np.ndarray
    digit: np.ndarray
    actions: np.ndarray
    starts: np.ndarray
    ends: np.ndarray
    subtitles: list[list[str]]
    boxes: np.ndarray
    info: dict[str, np.ndarray]
    clips: ActionClips
    action_names: tuple[str, ...] = field(default=ACTIONS)

    @property
    def num_segments(self) -> int:
        """``G``, segments per episode."""
        return int(self.actions.shape[1])

    def __getitem__(self, i: int) -> dict[str, Any]:
        """One episode as a dict: ``frames`` ``(T, S, S)`` uint8, ``digit`` int, ``actions`` ``(G,)`` int64,
        ``action_names`` (G names), ``starts``, ``ends`` ``(G,)``, ``subtitles`` (G strings), ``boxes``
        ``(T, 4)``, ``info`` (this episode's entries)."""
        i = int(np.arange(len(self))[i])
        return {
            "frames": self.frames[i], "digit": int(self.digit[i]), "actions": self.actions[i],
            "action_names": [self.action_names[int(a)] for a in self.actions[i]],
            "starts": self.starts[i], "ends": self.ends[i], "subtitles": list(self.subtitles[i]),
            "boxes": self.boxes[i], "info": {k: v[i] for k, v in self.info.items()},
        }

    def subset(self, idx: Any) -> Episodes:
        """A new :class:`Episodes` holding episodes ``idx`` (int array, slice or boolean mask)."""
        ii = self._index(idx)
        g = self.num_segments
        clips = self.clips.subset((ii[:, None] * g + np.arange(g)).reshape(-1))
        n, t = len(ii), self.num_frames
        return Episodes(
            frames=clips.frames.reshape(n, t, self.size, self.size), digit=self.digit[ii],
            actions=self.actions[ii], starts=self.starts[ii], ends=self.ends[ii],
            subtitles=[list(self.subtitles[i]) for i in ii], boxes=clips.boxes.reshape(n, t, 4),
            info={k: v[ii] for k, v in self.info.items()}, clips=clips, action_names=self.action_names)

    def tensors(self, idx: Any = None) -> torch.Tensor:
        """Frames as float32 ``(n, T, 1, S, S)`` in [0, 1] (all episodes, or those in ``idx``)."""
        return torch.from_numpy(self.frames[self._index(idx)]).float().div_(255.0).unsqueeze(2)

    def segment_of_frame(self, idx: Any = None) -> torch.Tensor:
        """Segment index of every frame, int64 ``(n, T)`` (e.g. for a segment embedding); ``-1`` for a frame
        outside every span (never, for generated episodes, whose spans tile the episode)."""
        ii = self._index(idx)
        t = np.arange(self.num_frames)[None, :, None]
        inside = (t >= self.starts[ii][:, None, :]) & (t < self.ends[ii][:, None, :])  # (n, T, G)
        seg = np.where(inside.any(-1), inside.argmax(-1), -1)
        return torch.from_numpy(seg.astype(np.int64))


# ----------------------------------------------------------------------------------------------- sampling


def _categorical(rng: np.random.Generator, weights: np.ndarray) -> np.ndarray:
    """One draw per row of non-negative ``weights`` ``(n, k)``, proportional to the weights -> ``(n,)``."""
    cum = np.cumsum(weights, -1)
    total = cum[:, -1]
    if not (total > 0).all():  # cannot happen with the fixed held-out sets; kept as a guard
        raise RuntimeError("no action sequence satisfies the requested compositions")
    u = rng.random(len(weights)) * total
    return (cum > u[:, None]).argmax(-1)


def _sequence_tables(segments: int, compositions: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Counting tables to draw action sequences uniformly among those ``compositions`` allows, per digit.

    State ``2 * a + f``: the current action ``a`` and whether the episode already holds the required
    novelty (``f``; always 0 when none is required). Returns ``init (10, 2A)`` (allowed first states),
    ``step (10, 2A, 2A)`` (allowed transitions) and ``ways (10, G, 2A)``: ``ways[d, k, s]`` is proportional
    (per ``d, k``) to the number of allowed ways to fill ``k`` more segments from state ``s``.
    """
    a = np.arange(_A)
    init = np.zeros((10, _A, 2))
    step = np.zeros((10, _A, 2, _A, 2))
    accept = np.zeros((10, _A, 2))
    for d in range(10):
        ok_action = np.ones(_A, bool)
        ok_step = ~np.eye(_A, dtype=bool)  # consecutive segments show different actions
        mark_action, mark_step = np.zeros(_A, bool), np.zeros((_A, _A), bool)
        if compositions in ("seen", "novel_order"):
            ok_action &= ~_COMBO[d]
        if compositions in ("seen", "novel_combo"):
            ok_step &= ~_ORDER
        if compositions == "novel_combo":
            mark_action = _COMBO[d]
        elif compositions == "novel_order":
            mark_step = _ORDER
        init[d, a[ok_action], mark_action[ok_action].astype(int)] = 1
        for f in (0, 1):
            f_next = (f | mark_action[None, :] | mark_step).astype(int)  # (A, A)
            src, dst = np.nonzero(ok_step & ok_action[None, :] & ok_action[:, None])
            step[d, src, f, dst, f_next[src, dst]] = 1
        required = compositions in ("novel_combo", "novel_order")
        accept[d, :, 1] = 1
        accept[d, :, 0] = 0 if required else 1
    init, step, accept = init.reshape(10, 2 * _A), step.reshape(10, 2 * _A, 2 * _A), accept.reshape(10, 2 * _A)
    ways = np.empty((10, segments, 2 * _A))
    ways[:, 0] = accept
    for k in range(1, segments):
        w = np.einsum("dst,dt->ds", step, ways[:, k - 1])
        ways[:, k] = w / np.maximum(w.max(-1, keepdims=True), 1e-300)  # rescaling a row keeps its ratios
    return init, step, ways


def _sample_actions(rng: np.random.Generator, digit: np.ndarray, segments: int, compositions: str) -> np.ndarray:
    """``(n, G)`` action labels, uniform among the sequences ``compositions`` allows for each episode's digit."""
    init, step, ways = _sequence_tables(segments, compositions)
    state = _categorical(rng, init[digit] * ways[digit, segments - 1])
    out = np.empty((len(digit), segments), np.int64)
    out[:, 0] = state // 2
    for j in range(1, segments):
        state = _categorical(rng, step[digit, state] * ways[digit, segments - 1 - j])
        out[:, j] = state // 2
    return out


# ----------------------------------------------------------------------------------------------- generation


def generate_episodes(
    n: int,
    *,
    split: Literal["train", "test"] = "train",
    seed: int = 0,
    segments: int = 3,
    segment_frames: int = 8,
    size: int = 32,
    num_distractors: int = 1,
    distractor_motion: Literal["static", "moving"] = "static",
    compositions: Literal["any", "seen", "novel_combo", "novel_order"] = "any",
    digits: tuple[np.ndarray, np.ndarray] | None = None,
) -> Episodes:
    """Generate ``n`` episodes of ``segments`` subtitled action segments (deterministic in ``seed``, ``split``).

    Args:
        n: number of episodes (> 0).
        split: which digit images (train and test images are disjoint) and which compositions: ``"train"``
            never shows a pair of :data:`HELD_OUT_COMBOS` or :data:`HELD_OUT_ORDERS`; ``"test"`` may.
        seed: random seed, a non-negative int.
        segments: ``G >= 1`` segments (shots) per episode, each with one action and one subtitle.
        segment_frames: frames per segment, ``>= 2``; an episode has ``T = segments * segment_frames``.
        size: frame side ``S >= 16`` pixels.
        num_distractors: ``K >= 0`` distractor digits, the same images in every segment of an episode.
        distractor_motion: ``"static"`` or ``"moving"``, as in :func:`~vidkit.data.actions.generate_actions`.
        compositions: ``"any"`` (everything the split allows: held-out compositions only in test, flagged
            in ``info``), ``"seen"`` (none held out), ``"novel_combo"`` (test only: each episode has at
            least one held-out digit x action pair and no held-out order) or ``"novel_order"`` (test only,
            ``segments >= 2``: at least one held-out bigram and no held-out digit x action pair).
        digits: optional ``(images uint8 (M, 28, 28), labels (M,))`` pool instead of ``load_digits(split)``.

    Returns:
        :class:`Episodes`. Segment ``j`` of episode ``i`` is clip ``i * segments + j`` of one
        :func:`~vidkit.data.actions.generate_actions` call with forced actions and digit images, kept in
        :attr:`Episodes.clips`.

    With one seed, every ``compositions`` gives the same cast (actor and distractor images) in the same
    episodes; only the action sequences, and so the pictures, differ - paired test sets.

    Speed: every segment of every episode is rendered by one vectorised :func:`generate_actions` call (no loop
    over episodes); the first call of a split also loads its digits.
    """
    check_int("n", n, what=" (episodes)")
    check_choice("split", split, ("train", "test"))
    seed = check_seed("seed", seed)
    g = check_int("segments", segments, 1, what=" (segments per episode; an episode needs at least one)")
    f = check_int("segment_frames", segment_frames, 2, what=" (frames per segment)")
    check_int("size", size, _MIN_SIZE, what=" (32 or 64 are typical)")
    k = check_int("num_distractors", num_distractors, 0)
    check_choice("distractor_motion", distractor_motion, ("static", "moving"))
    check_choice("compositions", compositions, COMPOSITIONS)
    if compositions in ("novel_combo", "novel_order") and split == "train":
        raise ValueError(f"compositions={compositions!r} needs split='test': the train split never holds "
                         f"held-out compositions")
    if compositions == "novel_order" and g < 2:
        raise ValueError(f"compositions='novel_order' needs segments >= 2 (an order is a pair of consecutive "
                         f"segments), got segments={g}")
    if compositions == "any" and split == "train":
        compositions = "seen"
    if digits is None:
        digits = load_digits(split)
    pool_images, pool_labels = check_digit_bank(digits)

    n = int(n)
    ss = np.random.SeedSequence([seed, 0 if split == "train" else 1, 0xE915])  # 0xE915: "episodes"
    rng_cast, rng_actions, rng_clips = (np.random.default_rng(c) for c in ss.spawn(3))
    digit, digit_index = _pick_images(rng_cast, pool_labels, (n,))
    d_digit, d_index = _pick_images(rng_cast, pool_labels, (n, k))
    actions = _sample_actions(rng_actions, digit, g, compositions)

    clips = generate_actions(
        n * g, split=split, seed=int(rng_clips.integers(0, 2**62)), num_frames=f, size=size,
        num_distractors=k, distractor_motion=distractor_motion, digits=(pool_images, pool_labels),
        action_labels=actions.reshape(-1), digit_index=np.repeat(digit_index, g),
        distractor_index=np.repeat(d_index.reshape(n, k), g, axis=0))

    t = g * f
    starts = np.broadcast_to(np.arange(g, dtype=np.int64) * f, (n, g)).copy()
    ends = starts + f
    check_subtitle_spans(starts, ends, t)
    combo_segment = _COMBO[digit[:, None], actions]
    order_bigram = _ORDER[actions[:, :-1], actions[:, 1:]]
    info: dict[str, np.ndarray] = {
        "novel_combo": combo_segment.any(-1),
        "novel_order": order_bigram.any(-1),
        "novel_combo_segment": combo_segment,
        "novel_order_bigram": order_bigram,
        "digit_index": digit_index.astype(np.int64),
        "distractor_digit": d_digit.reshape(n, k).astype(np.int64),
        "distractor_index": d_index.reshape(n, k).astype(np.int64),
    }
    subtitles = [clips.captions[i * g:(i + 1) * g] for i in range(n)]
    return Episodes(frames=clips.frames.reshape(n, t, size, size), digit=digit.astype(np.int64), actions=actions,
                    starts=starts, ends=ends, subtitles=subtitles, boxes=clips.boxes.reshape(n, t, 4), info=info,
                    clips=clips, action_names=ACTIONS)


# ----------------------------------------------------------------------------------------------- order task


def first_action_pairs(episodes: Episodes, seed: int = 0, prefer_held_out: bool = False) -> dict[str, np.ndarray]:
    """A "which action came first?" question per episode, for downstream order classification.

    For each episode, two consecutive segments ``j, j + 1`` (``j`` uniform; with ``prefer_held_out``, the
    first held-out bigram when the episode has one, see ``info["novel_order_bigram"]``) are shown in a
    random order (seeded). Consecutive segments always show different actions, so the answer is unique.

    Returns a dict of int64 arrays: ``segments`` ``(N, 2)`` the two segment indices as shown, ``actions``
    ``(N, 2)`` their actions (as shown), ``first`` ``(N,)`` which shown action came first in the episode
    (0: ``actions[:, 0]``, 1: ``actions[:, 1]``). Needs ``segments >= 2``.
    """
    if not isinstance(episodes, Episodes):
        raise TypeError(f"episodes must be an Episodes (from generate_episodes), got {type(episodes).__name__}")
    seed = check_seed("seed", seed)
    n, g = len(episodes), episodes.num_segments
    if g < 2:
        raise ValueError(f"first_action_pairs needs episodes of at least 2 segments, got {g}")
    rng = np.random.default_rng(seed)
    j = rng.integers(0, g - 1, size=n)
    swap = rng.random(n) < 0.5
    if prefer_held_out:
        held = np.asarray(episodes.info["novel_order_bigram"], bool)
        j = np.where(held.any(-1), held.argmax(-1), j)
    pair = np.stack([j, j + 1], -1)
    pair = np.where(swap[:, None], pair[:, ::-1], pair).astype(np.int64)
    acts = np.take_along_axis(episodes.actions, pair, 1).astype(np.int64)
    return {"segments": pair, "actions": acts, "first": swap.astype(np.int64)}
