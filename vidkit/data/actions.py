"""The *actions* suite: one actor digit performs one of eight motions, optionally among distractor digits.

Every clip shows an **actor** digit (class sampled uniformly) doing one **action** (sampled uniformly
and independently of the digit) from :data:`ACTIONS`::

    move_left  move_right  move_up  move_down  rotate_cw  rotate_ccw  zoom_in  zoom_out

The actions come in pairs that only motion can tell apart (left/right, up/down, cw/ccw, in/out).

**Pose model.** The actor's pose at frame ``t`` has four parameters: centre ``x``, ``y`` (canvas
pixels), ``angle`` (radians, positive = clockwise on screen, since image ``y`` points down) and
``log scale``. Every parameter ``k`` of every clip gets a random mid value ``mid_k`` and a random half
sweep ``h_k`` (drawn the same way whatever the action), and::

    value_k(t) = mid_k + h_k * w_k(t)
    w_k(t) = sign * (2 t / (T - 1) - 1)     for the parameter the action moves (sign from the action)
    w_k(t) = 2 t0_k / (T - 1) - 1           for the others, frozen at a random frame t0_k of the clip

so the moving parameter sweeps linearly and symmetrically around its mid value, and the frozen ones
sit where they would be at a random frame. Consequence (checked by the tests): **the pose in a single
frame taken at a random time has exactly the same distribution for every action** - one frame carries no
information about the action; only motion does. The same holds for the *middle* frames of a clip. It does **not** hold for the
first and last frames: the actor must stay in view for the whole sweep, so where a clip starts hints at
where it is going (a linear probe on frame 0 alone separates left/right with about 0.96 accuracy; on the
middle frame, 0.53). Single-frame baselines must use a middle or a random frame; the tests pin this. Mid positions are chosen so the actor's ink stays
inside the frame for the whole clip (the ink is bounded by a per-digit disc, valid at any angle).

Sweeps are set per clip, not per frame, so they do not depend on ``num_frames``:
translation 20-30 % of the frame, rotation 60-100 degrees, zoom by a factor 1.4-1.7.
At scale 1 the 28x28 digit box spans ``28/64`` of the frame (14 px in a 32 px frame).

**Distractors** (``num_distractors``) are other random digits, drawn smaller (scale 0.55-0.8), at a
random fixed angle, either static or ("moving") drifting at a constant speed in a uniformly random
direction (any angle, not just the four axis directions) and bouncing off the frame edges. Their motion
is independent of the actor's action, so it carries no information about the label.

**Compositing.** Digits are white ink with alpha = intensity, drawn back to front with "over"
compositing: first the distractors (layers ``1..K``), then the actor (layer ``0``) on top. For white
ink this is ``I = 1 - prod_k (1 - a_k)``.

**Ground truth per clip.** Digit and action labels, a caption (see :func:`all_captions`), the actor's
bounding box per frame, exact optical flow (:meth:`ActionClips.flow`), per-layer alpha maps
(:meth:`ActionClips.layers`), the full per-frame pose of every layer, and per-clip facts in
:attr:`ActionClips.info` for richer "instance" captions.

Rendering and flow are vectorised over (clip, frame, layer): an affine sampling grid (as ``F.affine_grid``
would build, computed by broadcasting) and one ``F.grid_sample`` call per chunk of clips.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from vidkit.data.digits import check_digit_bank
from vidkit.utils.checks import check_choice, check_int, check_seed, shape_text

__all__ = [
    "ACTIONS",
    "ACTION_GERUNDS",
    "ACTION_VERBS",
    "CAPTION_TEMPLATES",
    "DIGIT_WORDS",
    "MIRROR_PAIRS",
    "QUADRANTS",
    "SUBJECT_TEMPLATES",
    "VISIBLE",
    "ActionClips",
    "ActionsDataset",
    "all_captions",
    "captions_for",
    "mirror_of",
    "generate_actions",
    "instance_captions",
]

ACTIONS: tuple[str, ...] = (
    "move_left", "move_right", "move_up", "move_down", "rotate_cw", "rotate_ccw", "zoom_in", "zoom_out",
)
"""Action class names; with the default ``actions`` argument, label ``i`` is ``ACTIONS[i]``."""

MIRROR_PAIRS: tuple[tuple[str, str], ...] = (("move_left", "move_right"), ("move_up", "move_down"),
                                             ("rotate_cw", "rotate_ccw"), ("zoom_in", "zoom_out"))
"""Actions that are each other's time reversal: only the order of the frames tells them apart."""

# action -> (index of the moving pose parameter: 0 x, 1 y, 2 angle, 3 log-scale; direction sign)
_MOTION: dict[str, tuple[int, int]] = {
    "move_left": (0, -1), "move_right": (0, 1), "move_up": (1, -1), "move_down": (1, 1),
    "rotate_cw": (2, 1), "rotate_ccw": (2, -1), "zoom_in": (3, 1), "zoom_out": (3, -1),
}

QUADRANTS: tuple[str, ...] = ("top-left", "top-right", "bottom-left", "bottom-right")
"""Names of ``info["start_quadrant"]`` / ``info["end_quadrant"]`` values 0..3."""

DIGIT_FRACTION = 28 / 64  # side of the 28x28 digit box, as a fraction of the frame, at scale 1
TRANSLATION_SWEEP = (0.20, 0.30)  # total displacement over a clip, fraction of the frame size
ROTATION_SWEEP_DEG = (60.0, 100.0)  # total rotation over a clip
ZOOM_FACTOR = (1.4, 1.7)  # last/first scale ratio of a zoom clip
MID_ANGLE_DEG = 25.0  # mid angle ~ U(-25, 25) degrees
MID_SCALE = (0.8, 1.05)  # mid scale, log-uniform
DISTRACTOR_SCALE = (0.55, 0.8)
DISTRACTOR_ANGLE_DEG = 30.0
VISIBLE = 0.5 / 255  # a layer is "visible" at a pixel when its alpha exceeds this (rounds to >= 1 in uint8)
_MIN_SIZE = 16

# ----------------------------------------------------------------------------------------------- captions

DIGIT_WORDS: tuple[str, ...] = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")

ACTION_VERBS: dict[str, tuple[str, ...]] = {
    "move_left": ("moves left", "moves to the left", "slides left", "drifts to the left", "travels leftward",
                  "goes left"),
    "move_right": ("moves right", "moves to the right", "slides right", "drifts to the right",
                   "travels rightward", "goes right"),
    "move_up": ("moves up", "moves upward", "slides up", "rises", "drifts toward the top", "goes up"),
    "move_down": ("moves down", "moves downward", "slides down", "sinks", "drifts toward the bottom",
                  "goes down"),
    "rotate_cw": ("spins clockwise", "rotates clockwise", "turns clockwise", "rotates to the right",
                  "twists clockwise"),
    "rotate_ccw": ("spins counterclockwise", "rotates counter-clockwise", "turns anticlockwise",
                   "rotates to the left", "twists counterclockwise"),
    "zoom_in": ("zooms in", "grows", "gets bigger", "expands", "comes closer", "grows larger"),
    "zoom_out": ("zooms out", "shrinks", "gets smaller", "contracts", "moves away", "becomes smaller"),
}
"""Third-person verb phrases (synonyms) per action."""

ACTION_GERUNDS: dict[str, tuple[str, ...]] = {
    "move_left": ("moving left", "moving to the left", "sliding left", "drifting to the left",
                  "travelling leftward", "heading left"),
    "move_right": ("moving right", "moving to the right", "sliding right", "drifting to the right",
                   "travelling rightward", "heading right"),
    "move_up": ("moving up", "moving upward", "sliding up", "rising", "drifting toward the top", "heading up"),
    "move_down": ("moving down", "moving downward", "sliding down", "sinking", "drifting toward the bottom",
                  "heading down"),
    "rotate_cw": ("spinning clockwise", "rotating clockwise", "turning clockwise", "rotating to the right",
                  "twisting clockwise"),
    "rotate_ccw": ("spinning counterclockwise", "rotating counter-clockwise", "turning anticlockwise",
                   "rotating to the left", "twisting counterclockwise"),
    "zoom_in": ("zooming in", "growing", "getting bigger", "expanding", "coming closer", "growing larger"),
    "zoom_out": ("zooming out", "shrinking", "getting smaller", "contracting", "moving away",
                 "becoming smaller"),
}
"""``-ing`` phrases (synonyms) per action."""

SUBJECT_TEMPLATES: tuple[str, ...] = (
    "a {num}", "the digit {word}", "a {word}", "the number {num}", "digit {num}", "a handwritten {word}",
)
"""Ways to name the actor digit (``{num}`` = "7", ``{word}`` = "seven"); "a" becomes "an" before 8/eight."""

CAPTION_TEMPLATES: tuple[str, ...] = (
    "{subject} {verb}",
    "{subject} is {gerund}",
    "a video of {subject} {gerund}",
    "in this clip {subject} {verb}",
    "{subject} {gerund}",
    "here {subject} {verb}",
)
"""Caption templates; each uses ``{subject}`` and either ``{verb}`` or ``{gerund}``."""

_AN = re.compile(r"\ba (8|eight)\b")


def _action_name(action: int | str) -> str:
    if isinstance(action, str):
        if action not in _MOTION:
            raise ValueError(f"unknown action {action!r}; known actions: {', '.join(ACTIONS)}")
        return action
    if isinstance(action, bool) or not isinstance(action, int | np.integer) or not 0 <= action < len(ACTIONS):
        raise ValueError(f"action index must be an int in 0..{len(ACTIONS) - 1} (an index into ACTIONS), or give "
                         f"an action name; got {action!r} ({type(action).__name__})")
    return ACTIONS[int(action)]


@lru_cache(maxsize=256)
def _all_captions(digit: int, action: str) -> tuple[str, ...]:
    out = []
    for subj in SUBJECT_TEMPLATES:
        subject = subj.format(num=digit, word=DIGIT_WORDS[digit])
        for tpl in CAPTION_TEMPLATES:
            key, phrases = ("verb", ACTION_VERBS[action]) if "{verb}" in tpl else ("gerund", ACTION_GERUNDS[action])
            for phrase in phrases:
                out.append(_AN.sub(r"an \1", tpl.format(subject=subject, **{key: phrase})))
    return tuple(out)


def mirror_of(actions: Any) -> np.ndarray:
    """The time reversal (:data:`MIRROR_PAIRS` partner) of each action index: ``(...)`` ints -> ``(...)`` int64
    (``move_left`` <-> ``move_right``, ``move_up`` <-> ``move_down``, ``rotate_cw`` <-> ``rotate_ccw``,
    ``zoom_in`` <-> ``zoom_out``)."""
    a = np.asarray(actions)
    if a.dtype.kind not in "iu" or (a.size and (a.min() < 0 or a.max() >= len(ACTIONS))):
        raise ValueError(f"actions must be integer indices into ACTIONS (0..{len(ACTIONS) - 1}), got {a.dtype} "
                         f"{a.min() if a.size else ''}..{a.max() if a.size else ''}")
    table = np.empty(len(ACTIONS), np.int64)
    for x, y in MIRROR_PAIRS:
        table[ACTIONS.index(x)], table[ACTIONS.index(y)] = ACTIONS.index(y), ACTIONS.index(x)
    return table[a.astype(np.int64)]


def all_captions(digit: int, action: int | str) -> list[str]:
    """Every caption variant for a digit (0..9) doing an action (name, or index into :data:`ACTIONS`).

    ``len(SUBJECT_TEMPLATES) * sum over templates of the action's synonyms`` distinct strings (216 for
    most actions), e.g. "a 7 spins clockwise", "the digit seven is rotating to the right".
    """
    return list(_all_captions(check_int("digit", digit, 0, 9), _action_name(action)))


def captions_for(digit: int, action: int | str, rng: np.random.Generator | int | None = None,
                 n: int = 1) -> list[str]:
    """``n`` distinct captions sampled (seeded by ``rng``: a Generator or an int seed) from :func:`all_captions`.

    Useful as a multiple-instance bag of positive captions for one clip.
    """
    pool = all_captions(digit, action)
    n = check_int("n", n, 1, len(pool))  # at most the number of caption variants
    gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(
        None if rng is None else check_seed("rng (an int seed or a numpy Generator)", rng))
    return [pool[i] for i in gen.choice(len(pool), size=n, replace=False)]


# ----------------------------------------------------------------------------------------------- rendering


def _source_res(digit_size: float) -> int:
    """Resolution of the prefiltered digit source: the digit box's size on the canvas at scale 1 (<= 28)."""
    return int(min(28, max(4, round(digit_size))))


def _prefilter(images: np.ndarray, res: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """``(..., 28, 28)`` uint8 -> ``(B, 1, res, res)`` in [0, 1], area-averaged (a box filter).

    Sampling a 28 px digit straight onto a 14 px box aliases badly (strokes flicker as the digit moves by
    sub-pixels); averaging it down first to the on-canvas size (a one-level mipmap) avoids that. The source
    still covers the same box ``u`` in [-1, 1]^2, so the geometry (poses, flow) does not depend on ``res``.
    """
    img = torch.from_numpy(np.array(images, dtype=np.uint8).reshape(-1, 1, 28, 28)).to(dtype).div_(255.0)
    return img if res == 28 else F.interpolate(img, size=(res, res), mode="area")


def _ink_radius(images: np.ndarray, res: int) -> np.ndarray:
    """Radius (in half-box units) of a disc around the box centre outside which the rendered digit is zero.

    Computed on the prefiltered source and including the bilinear footprint (a source pixel's value
    spreads up to one pixel in x and y), so it holds at any angle. ``(M, 28, 28)`` uint8 -> ``(M,)``.
    """
    src = _prefilter(images, res).view(len(images), res * res).numpy()
    k = np.arange(res) + 0.5 - res / 2
    dist = np.sqrt(k[:, None] ** 2 + k[None, :] ** 2).reshape(-1)
    r = np.where(src > 0, dist[None], 0.0).max(-1)
    return (r + math.sqrt(2.0)) / (res / 2)


def _inverse_thetas(centers: torch.Tensor, angles: torch.Tensor, scales: torch.Tensor, size: int,
                    digit_size: float) -> torch.Tensor:
    """``F.affine_grid`` matrices ``(..., 2, 3)`` mapping canvas-normalised coords to digit-normalised coords.

    Forward (digit -> canvas pixels): ``p = c + s * digit_size / 2 * R(angle) u`` with ``u`` in [-1, 1]^2
    (``align_corners=False``) and ``p`` in pixel units (pixel ``(i, j)`` has centre ``(j + .5, i + .5)``).
    """
    cos, sin = torch.cos(angles), torch.sin(angles)
    k = 2.0 / (scales * digit_size)  # canvas px -> digit-normalised units
    # u = R(-a) (p - c) * k with p = (v + 1) * size / 2  =>  u = M v + b
    m00, m01, m10, m11 = cos, sin, -sin, cos
    half = size / 2.0
    dx, dy = half - centers[..., 0], half - centers[..., 1]
    row0 = torch.stack([m00 * k * half, m01 * k * half, (m00 * dx + m01 * dy) * k], -1)
    row1 = torch.stack([m10 * k * half, m11 * k * half, (m10 * dx + m11 * dy) * k], -1)
    return torch.stack([row0, row1], -2)


def _render_layers(images: np.ndarray, centers: np.ndarray, angles: np.ndarray, scales: np.ndarray, size: int,
                   digit_size: float) -> torch.Tensor:
    """Per-layer alpha maps ``(M, T, L, S, S)`` float32 in [0, 1].

    ``images`` ``(M, L, 28, 28)`` uint8; ``centers`` ``(M, T, L, 2)``; ``angles``, ``scales`` ``(M, T, L)``.
    One ``grid_sample`` call: the T frames of a layer are stacked along the grid's height, so each digit
    image is read once per (clip, layer) without being copied T times.
    """
    m, t, n_layers = angles.shape
    img = _prefilter(images, _source_res(digit_size))
    theta = _inverse_thetas(torch.from_numpy(centers).double(), torch.from_numpy(angles).double(),
                            torch.from_numpy(scales).double(), size, digit_size).float()  # (M, T, L, 2, 3)
    theta = theta.permute(0, 2, 1, 3, 4).reshape(m * n_layers, t, 1, 1, 2, 3)
    # Same as F.affine_grid(theta, [B, 1, S, S], align_corners=False), by broadcasting (faster on CPU).
    v = (torch.arange(size, dtype=torch.float32) * 2 + 1) / size - 1  # pixel centres, normalised
    vx, vy = v.view(1, 1, 1, size), v.view(1, 1, size, 1)
    gx = theta[..., 0, 0] * vx + theta[..., 0, 1] * vy + theta[..., 0, 2]
    gy = theta[..., 1, 0] * vx + theta[..., 1, 1] * vy + theta[..., 1, 2]
    grid = torch.stack([gx, gy], -1)  # (M * L, T, S, S, 2)
    grid = grid.view(m * n_layers, t * size, size, 2)
    out = F.grid_sample(img, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    return out.view(m, n_layers, t, size, size).permute(0, 2, 1, 3, 4)


def _render_points(images: np.ndarray, centers: np.ndarray, angles: np.ndarray, scales: np.ndarray,
                   digit_size: float, points: np.ndarray) -> np.ndarray:
    """Alpha of each layer at arbitrary canvas points (pixel units): the continuous image the frames sample.

    ``images`` ``(M, L, 28, 28)``; ``centers`` ``(M, L, 2)``; ``angles``, ``scales`` ``(M, L)`` (one frame);
    ``points`` ``(M, P, 2)`` as (x, y). Returns ``(M, L, P)`` float64.
    """
    m, n_layers = angles.shape
    c = centers[:, :, None, :]
    rel = points[:, None, :, :] - c  # (M, L, P, 2)
    cos, sin = np.cos(angles)[..., None], np.sin(angles)[..., None]
    k = (2.0 / (scales * digit_size))[..., None]
    u = (cos * rel[..., 0] + sin * rel[..., 1]) * k
    v = (-sin * rel[..., 0] + cos * rel[..., 1]) * k
    grid = torch.from_numpy(np.stack([u, v], -1).reshape(m * n_layers, 1, -1, 2))
    img = _prefilter(images, _source_res(digit_size), torch.float64)
    out = F.grid_sample(img, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    return out.view(m, n_layers, -1).numpy()


def _composite(alpha: torch.Tensor) -> torch.Tensor:
    """White-ink "over" compositing of layers on dim 2: ``1 - prod(1 - a)`` -> ``(M, T, S, S)``."""
    return 1.0 - torch.prod(1.0 - alpha, dim=2)


def _tight_boxes(mask: torch.Tensor) -> np.ndarray:
    """``(M, T, S, S)`` bool -> ``(M, T, 4)`` float32 boxes (x0, y0, x1, y1), x1/y1 exclusive; zeros if empty."""
    size = mask.shape[-1]
    cols, rows = mask.any(dim=-2), mask.any(dim=-1)  # (M, T, S) over x / over y

    def span(a: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        lo = a.float().argmax(-1)
        hi = size - a.flip(-1).float().argmax(-1)
        return lo, hi

    x0, x1 = span(cols)
    y0, y1 = span(rows)
    box = torch.stack([x0, y0, x1, y1], -1).float()
    box[~cols.any(-1)] = 0.0
    return box.numpy().astype(np.float32)


def _chunks(n: int, per_item: int, budget: int = 1 << 20) -> list[slice]:
    step = max(1, budget // max(per_item, 1))
    return [slice(i, min(i + step, n)) for i in range(0, n, step)]


# ----------------------------------------------------------------------------------------------- container


class ClipBatch:
    """What every batch of clips with ``frames`` ``(N, T, S, S)`` offers (:class:`ActionClips`,
    :class:`vidkit.data.episodes.Episodes`): ``len``, ``num_frames`` (``T``), ``size`` (``S``) and ``_index``."""

    frames: np.ndarray

    @property
    def num_frames(self) -> int:
        """``T``, frames per clip."""
        return int(self.frames.shape[1])

    @property
    def size(self) -> int:
        """``S``, the frame side in pixels."""
        return int(self.frames.shape[-1])

    def __len__(self) -> int:
        return int(self.frames.shape[0])

    def _index(self, idx: Any) -> np.ndarray:
        """``idx`` (None: all; an int, slice, index array or boolean mask) as a flat array of clip indices."""
        if idx is None:
            return np.arange(len(self))
        return np.arange(len(self))[idx].reshape(-1)


@dataclass
class ActionClips(ClipBatch):
    """A batch of action clips plus all ground truth (numpy arrays; ``N`` clips, ``T`` frames, ``S`` pixels).

    Layer ``0`` is the actor, layers ``1..K`` the distractors (drawn first, i.e. beneath the actor).

    Attributes:
        frames: ``(N, T, S, S)`` uint8 frames.
        digit: ``(N,)`` int64 actor digit class 0..9.
        action: ``(N,)`` int64 action label, an index into :attr:`action_names`.
        boxes: ``(N, T, 4)`` float32 tight box (x0, y0, x1, y1) in pixels around the actor's visible pixels
            (actor alpha > :data:`VISIBLE`); x1, y1 are exclusive, so ``frames[i, t, y0:y1, x0:x1]`` crops the
            actor. The actor is on top, so these pixels are never hidden.
        captions: one caption per clip (seeded), from :func:`all_captions`.
        info: per-clip facts, each an array with first dimension ``N`` (see :func:`generate_actions`).
        images: ``(N, L, 28, 28)`` uint8 digit image of each layer.
        centers: ``(N, T, L, 2)`` float32 centre (x, y) of each layer's 28x28 box, canvas pixels.
        angles: ``(N, T, L)`` float32 angles in radians, positive = clockwise on screen.
        scales: ``(N, T, L)`` float32 scales (1 = a box of ``digit_size`` pixels).
        digit_size: side in pixels of the digit box at scale 1 (``size * 28 / 64``).
        action_names: the class names, label order.
        audio: ``(N, 2, T * 800)`` float32 stereo sound track in [-1, 1] (:func:`vidkit.data.audio.actions_audio`:
            the actor's voice names the digit, a knock at each tick of its motion, panned with its x), or ``None``
            until :func:`vidkit.data.audio.attach_audio` adds it.
    """

    frames: np.ndarray
    digit: np.ndarray
    action: np.ndarray
    boxes: np.ndarray
    captions: list[str]
    info: dict[str, np.ndarray]
    images: np.ndarray
    centers: np.ndarray
    angles: np.ndarray
    scales: np.ndarray
    digit_size: float
    action_names: tuple[str, ...] = field(default=ACTIONS)
    audio: np.ndarray | None = None

    def __getitem__(self, i: int) -> dict[str, Any]:
        """One clip as a dict: frames ``(T, S, S)`` uint8, digit, action, action_name, boxes, caption, info."""
        i = int(np.arange(len(self))[i])
        return {
            "frames": self.frames[i], "digit": int(self.digit[i]), "action": int(self.action[i]),
            "action_name": self.action_names[int(self.action[i])], "boxes": self.boxes[i],
            "caption": self.captions[i], "info": {k: v[i] for k, v in self.info.items()},
            **({} if self.audio is None else {"audio": self.audio[i]}),
        }

    def subset(self, idx: Any) -> ActionClips:
        """A new :class:`ActionClips` holding clips ``idx`` (int array, slice or boolean mask)."""
        ii = self._index(idx)
        return ActionClips(
            frames=self.frames[ii], digit=self.digit[ii], action=self.action[ii], boxes=self.boxes[ii],
            captions=[self.captions[i] for i in ii], info={k: v[ii] for k, v in self.info.items()},
            images=self.images[ii], centers=self.centers[ii], angles=self.angles[ii], scales=self.scales[ii],
            digit_size=self.digit_size, action_names=self.action_names,
            audio=None if self.audio is None else self.audio[ii])

    def tensors(self, idx: Any = None) -> torch.Tensor:
        """Frames as float32 ``(n, T, 1, S, S)`` in [0, 1] (all clips, or those in ``idx``)."""
        return torch.from_numpy(self.frames[self._index(idx)]).float().div_(255.0).unsqueeze(2)

    def layers(self, idx: Any = None) -> np.ndarray:
        """Per-layer alpha maps ``(n, T, L, S, S)`` float32 in [0, 1] (layer 0 = actor), re-rendered."""
        ii = self._index(idx)
        out = np.empty((len(ii), self.num_frames, self.images.shape[1], self.size, self.size), np.float32)
        for sl in _chunks(len(ii), self.num_frames * self.images.shape[1] * self.size ** 2):
            j = ii[sl]
            out[sl] = _render_layers(self.images[j], self.centers[j], self.angles[j], self.scales[j], self.size,
                                     self.digit_size).numpy()
        return out

    def affines(self, idx: Any = None) -> np.ndarray:
        """Forward affine maps ``(n, T, L, 2, 3)`` float64: digit coords ``u`` in [-1, 1]^2 -> canvas pixels.

        ``p = A[..., :2] @ u + A[..., 2]``; the digit box's left edge is ``u_x = -1`` (``align_corners=False``).
        """
        ii = self._index(idx)
        a = self.angles[ii].astype(np.float64)
        s = self.scales[ii].astype(np.float64) * self.digit_size / 2.0
        cos, sin = np.cos(a) * s, np.sin(a) * s
        c = self.centers[ii].astype(np.float64)
        return np.stack([np.stack([cos, -sin, c[..., 0]], -1), np.stack([sin, cos, c[..., 1]], -1)], -2)

    def flow(self, idx: Any = None) -> np.ndarray:
        """Exact forward optical flow ``(n, T-1, 2, S, S)`` float32 (channel 0 = dx, 1 = dy, pixels).

        At frame-``t`` pixel centre ``p`` owned by layer ``l`` (the top-most layer whose alpha there exceeds
        :data:`VISIBLE`; the actor is top-most), ``flow = A_{t+1}(A_t^{-1}(p)) - p`` with ``A`` layer ``l``'s
        digit->canvas affine map; zero where no layer is visible. Computed analytically from the stored
        poses (``A_{t+1} A_t^{-1} p = c' + (s'/s) R(a' - a) (p - c)``), not estimated from pixels.
        """
        ii = self._index(idx)
        t, n_layers, size = self.num_frames, self.images.shape[1], self.size
        out = np.zeros((len(ii), t - 1, 2, size, size), np.float32)
        coords = torch.arange(size, dtype=torch.float64) + 0.5
        px, py = coords.view(1, 1, 1, size), coords.view(1, 1, size, 1)
        order = list(range(1, n_layers)) + [0]  # drawing order: distractors, then the actor on top
        for sl in _chunks(len(ii), 4 * t * n_layers * size ** 2):
            j = ii[sl]
            alpha = _render_layers(self.images[j], self.centers[j][:, :-1], self.angles[j][:, :-1],
                                   self.scales[j][:, :-1], size, self.digit_size)  # (m, T-1, L, S, S)
            c = torch.from_numpy(self.centers[j]).double()
            a = torch.from_numpy(self.angles[j]).double()
            s = torch.from_numpy(self.scales[j]).double()
            fx = torch.zeros(len(j), t - 1, size, size, dtype=torch.float64)
            fy = torch.zeros_like(fx)
            for layer in order:
                cx, cy = c[:, :-1, layer, 0, None, None], c[:, :-1, layer, 1, None, None]
                tx = c[:, 1:, layer, 0, None, None] - cx
                ty = c[:, 1:, layer, 1, None, None] - cy
                ratio = (s[:, 1:, layer] / s[:, :-1, layer])[..., None, None]
                da = (a[:, 1:, layer] - a[:, :-1, layer])[..., None, None]
                l00, l01 = ratio * torch.cos(da) - 1.0, -ratio * torch.sin(da)
                l10, l11 = ratio * torch.sin(da), ratio * torch.cos(da) - 1.0
                rx, ry = px - cx, py - cy
                vis = alpha[:, :, layer] > VISIBLE
                fx = torch.where(vis, tx + l00 * rx + l01 * ry, fx)
                fy = torch.where(vis, ty + l10 * rx + l11 * ry, fy)
            out[sl, :, 0] = fx.numpy()
            out[sl, :, 1] = fy.numpy()
        return out


# ----------------------------------------------------------------------------------------------- generation


def _pick_images(rng: np.random.Generator, labels: np.ndarray, shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Class uniform over the classes present, then an image uniform within the class."""
    order = np.argsort(labels, kind="stable")
    classes, starts, counts = np.unique(labels[order], return_index=True, return_counts=True)
    which = rng.integers(0, len(classes), size=shape)
    within = np.minimum((rng.random(shape) * counts[which]).astype(np.int64), counts[which] - 1)
    return classes[which].astype(np.int64), order[starts[which] + within]


def _triangle(z: np.ndarray, length: np.ndarray) -> np.ndarray:
    """Reflect ``z`` into ``[0, length]`` (bouncing off both ends)."""
    safe = np.maximum(length, 1e-9)
    m = np.mod(z, 2 * safe)
    return np.where(length > 0, safe - np.abs(safe - m), 0.0)


def _forced(name: str, value: Any, shape: tuple[int, ...], hi: int, what: str) -> np.ndarray | None:
    """A forced per-clip array: ``None``, or whole numbers of exactly ``shape`` in ``0..hi - 1`` -> int64."""
    if value is None:
        return None
    expected = f"{name} must be an int array of shape {shape} with values in 0..{hi - 1} ({what})"
    a = np.asarray(value)
    if a.shape != shape:
        raise ValueError(f"{expected}, got shape {shape_text(a)}")
    if a.size and (not np.issubdtype(a.dtype, np.integer) or np.issubdtype(a.dtype, np.bool_)):
        raise ValueError(f"{expected}, got dtype {a.dtype}")
    if a.size and (a.min() < 0 or a.max() >= hi):
        raise ValueError(f"{expected}, got values from {a.min()} to {a.max()}")
    return a.astype(np.int64)


def generate_actions(
    n: int,
    *,
    split: Literal["train", "test"] = "train",
    seed: int = 0,
    num_frames: int = 16,
    size: int = 32,
    num_distractors: int = 0,
    distractor_motion: Literal["static", "moving"] = "static",
    actions: Sequence[str] = ACTIONS,
    digits: tuple[np.ndarray, np.ndarray] | None = None,
    action_labels: np.ndarray | Sequence[int] | None = None,
    digit_index: np.ndarray | Sequence[int] | None = None,
    distractor_index: np.ndarray | None = None,
) -> ActionClips:
    """Generate ``n`` action clips (deterministic in ``seed`` and ``split``).

    Args:
        n: number of clips (> 0).
        split: which digit images (``load_digits(split)``; train and test digits are disjoint). Also part
            of the seed, so ``seed=0`` train and test sets differ in labels and poses as well.
        seed: random seed, a non-negative int.
        num_frames: ``T >= 2``.
        size: frame side ``S >= 16`` pixels (32 and 64 are the usual choices); digits scale with it.
        num_distractors: ``K >= 0`` extra digits per clip.
        distractor_motion: ``"static"`` or ``"moving"`` (constant speed, random direction, bouncing).
            With the same seed, both give the same distractor digits and start positions.
        actions: subset/order of :data:`ACTIONS` to sample from; labels index this sequence.
        digits: optional ``(images uint8 (M, 28, 28), labels (M,))`` pool instead of ``load_digits(split)``.
        action_labels: optional ``(N,)`` ints in ``0..len(actions) - 1``: each clip's action, instead of a
            random one. For generators built on this one (e.g. :mod:`vidkit.data.episodes`).
        digit_index: optional ``(N,)`` ints in ``0..M - 1``: each clip's actor image, an index into the digit
            pool (its label becomes the clip's ``digit``), instead of a random image.
        distractor_index: optional ``(N, K)`` ints in ``0..M - 1``: each distractor's image, likewise.

            The random values they replace are still drawn and then overwritten, so forcing one of them
            changes nothing else (a forced digit only moves the actor as far as its ink needs to stay in
            view), and forcing the values a call drew anyway gives that call's output bit for bit.

    Returns:
        :class:`ActionClips`. ``info`` holds (``N`` first): ``center_mid (N, 2)``, ``angle_mid_deg``,
        ``scale_mid``; ``start_center``/``end_center (N, 2)``, ``start_quadrant``/``end_quadrant`` (index
        into :data:`QUADRANTS`), ``start_angle_deg``/``end_angle_deg``, ``start_scale``/``end_scale``;
        ``translation_speed`` (px/frame, 0 unless translating), ``rotation_speed`` (deg/frame, + = clockwise,
        0 unless rotating), ``zoom_rate`` (per-frame scale ratio, 1 unless zooming), ``speed_rel`` (0 = the
        slowest, 1 = the fastest sweep of the action's range); ``digit_index`` (into the digit pool);
        ``num_distractors``, ``distractor_digit``/``distractor_index`` ``(N, K)``, ``distractor_start``
        ``(N, K, 2)``, ``distractor_velocity`` ``(N, K, 2)`` (px/frame at the start; zeros when static),
        ``distractor_scale``, ``distractor_angle_deg`` ``(N, K)``.
    """
    # ---- validation
    check_int("n", n)
    check_choice("split", split, ("train", "test"))
    check_int("num_frames", num_frames, 2)
    check_int("size", size, _MIN_SIZE, what=" (32 or 64 are typical)")
    check_int("num_distractors", num_distractors, 0)
    check_choice("distractor_motion", distractor_motion, ("static", "moving"))
    seed = check_seed("seed", seed)
    if isinstance(actions, str):
        raise ValueError(f"actions must be a sequence of action names, not a string ({actions!r})")
    actions = tuple(actions)
    if not actions:
        raise ValueError("actions must name at least one action")
    unknown = [a for a in actions if a not in _MOTION]
    if unknown:
        raise ValueError(f"unknown action(s) {unknown}; known actions: {', '.join(ACTIONS)}")
    if len(set(actions)) != len(actions):
        raise ValueError(f"actions contains duplicates: {actions}")
    if digits is None:
        from vidkit.data.digits import load_digits

        digits = load_digits(split)
    pool_images, pool_labels = check_digit_bank(digits)

    n, t, s, k = int(n), int(num_frames), int(size), int(num_distractors)
    m_pool = len(pool_images)
    forced_action = _forced("action_labels", action_labels, (n,), len(actions), "one label per clip, into actions")
    forced_digit = _forced("digit_index", digit_index, (n,), m_pool, "one actor image per clip, into the digit pool")
    forced_distractor = _forced("distractor_index", distractor_index, (n, k), m_pool,
                                "(clips, num_distractors) images, into the digit pool")
    ss = np.random.SeedSequence([int(seed), 0 if split == "train" else 1])
    rng_a, rng_d, rng_c = (np.random.default_rng(c) for c in ss.spawn(3))
    d0 = s * DIGIT_FRACTION
    pool_radius = _ink_radius(pool_images, _source_res(d0))

    # ---- actor: labels, image, pose parameters (drawn the same way for every action)
    digit, digit_index = _pick_images(rng_a, pool_labels, (n,))
    action = rng_a.integers(0, len(actions), size=n)
    if forced_digit is not None:
        digit_index, digit = forced_digit, pool_labels[forced_digit]
    if forced_action is not None:
        action = forced_action
    mid = np.empty((n, 4))
    half = np.empty((n, 4))
    sweep_u = rng_a.random((n, 4))  # position of each sweep within its range (0 slowest .. 1 fastest)
    half[:, 0] = (TRANSLATION_SWEEP[0] + (TRANSLATION_SWEEP[1] - TRANSLATION_SWEEP[0]) * sweep_u[:, 0]) * s / 2
    half[:, 1] = (TRANSLATION_SWEEP[0] + (TRANSLATION_SWEEP[1] - TRANSLATION_SWEEP[0]) * sweep_u[:, 1]) * s / 2
    half[:, 2] = np.deg2rad(ROTATION_SWEEP_DEG[0] + (ROTATION_SWEEP_DEG[1] - ROTATION_SWEEP_DEG[0])
                            * sweep_u[:, 2]) / 2
    half[:, 3] = np.log(ZOOM_FACTOR[0] + (ZOOM_FACTOR[1] - ZOOM_FACTOR[0]) * sweep_u[:, 3]) / 2
    mid[:, 2] = np.deg2rad(rng_a.uniform(-MID_ANGLE_DEG, MID_ANGLE_DEG, n))
    mid[:, 3] = rng_a.uniform(math.log(MID_SCALE[0]), math.log(MID_SCALE[1]), n)
    radius = pool_radius[digit_index] * d0 / 2 * np.exp(mid[:, 3] + half[:, 3])  # largest scale
    room = np.maximum(s - 2 * radius, 0.0)
    half[:, :2] = np.minimum(half[:, :2], room[:, None] / 2)  # rare: big digit at big scale in a small frame
    u = rng_a.random((n, 2))
    lo = radius[:, None] + half[:, :2]
    mid[:, :2] = lo + u * np.maximum(s - 2 * lo, 0.0)
    frozen_t = rng_a.integers(0, t, size=(n, 4))
    ramp = 2 * np.arange(t) / (t - 1) - 1  # (T,) from -1 to 1
    w = np.broadcast_to((2 * frozen_t / (t - 1) - 1)[:, None, :], (n, t, 4)).copy()
    motion = np.array([_MOTION[a] for a in actions])  # (A, 2)
    param, sign = motion[action, 0], motion[action, 1]
    w[np.arange(n), :, param] = sign[:, None] * ramp[None, :]
    pose = mid[:, None, :] + half[:, None, :] * w  # (N, T, 4)

    # ---- distractors
    d_digit, d_index = _pick_images(rng_d, pool_labels, (n, k))
    if forced_distractor is not None:
        d_index, d_digit = forced_distractor, pool_labels[forced_distractor]
    d_scale = rng_d.uniform(*DISTRACTOR_SCALE, size=(n, k))
    d_angle = np.deg2rad(rng_d.uniform(-DISTRACTOR_ANGLE_DEG, DISTRACTOR_ANGLE_DEG, size=(n, k)))
    d_radius = pool_radius[d_index] * d0 / 2 * d_scale
    d_room = np.maximum(s - 2 * d_radius, 0.0)
    d_start = d_radius[..., None] + rng_d.random((n, k, 2)) * d_room[..., None]
    heading = rng_d.uniform(0, 2 * math.pi, size=(n, k))
    speed = rng_d.uniform(*TRANSLATION_SWEEP, size=(n, k)) * s / max(t - 1, 1)
    d_vel = np.stack([np.cos(heading), np.sin(heading)], -1) * speed[..., None]
    if distractor_motion == "static":
        d_vel = np.zeros_like(d_vel)
    steps = np.arange(t)[None, :, None, None]
    d_pos = d_radius[:, None, :, None] + _triangle(
        d_start[:, None] - d_radius[:, None, :, None] + d_vel[:, None] * steps, d_room[:, None, :, None])

    # ---- assemble layers (0 = actor) and render
    images = np.concatenate([pool_images[digit_index][:, None], pool_images[d_index]], 1)  # (N, L, 28, 28)
    centers = np.concatenate([pose[:, :, None, :2], d_pos], 2).astype(np.float32)
    angles = np.concatenate([pose[:, :, None, 2], np.broadcast_to(d_angle[:, None], (n, t, k))], 2)
    scales = np.concatenate([np.exp(pose[:, :, None, 3]), np.broadcast_to(d_scale[:, None], (n, t, k))], 2)
    angles, scales = angles.astype(np.float32), scales.astype(np.float32)

    frames = np.empty((n, t, s, s), np.uint8)
    boxes = np.empty((n, t, 4), np.float32)
    for sl in _chunks(n, t * (k + 1) * s * s):
        alpha = _render_layers(images[sl], centers[sl], angles[sl], scales[sl], s, d0)
        frames[sl] = _composite(alpha).clamp_(0, 1).mul_(255).round_().to(torch.uint8).numpy()
        boxes[sl] = _tight_boxes(alpha[:, :, 0] > VISIBLE)

    # ---- captions and facts
    names = [actions[a] for a in action]
    cap_idx = rng_c.random(n)
    captions = []
    for i in range(n):
        pool = _all_captions(int(digit[i]), names[i])
        captions.append(pool[int(cap_idx[i] * len(pool))])

    def quadrant(c: np.ndarray) -> np.ndarray:
        return (2 * (c[:, 1] >= s / 2) + (c[:, 0] >= s / 2)).astype(np.int64)

    moving = np.zeros((n, 4), bool)
    moving[np.arange(n), param] = True
    per_frame = 2 * half / (t - 1)
    f32 = np.float32
    lo_sweep = np.array([TRANSLATION_SWEEP[0] * s / 2, TRANSLATION_SWEEP[0] * s / 2,
                         np.deg2rad(ROTATION_SWEEP_DEG[0]) / 2, math.log(ZOOM_FACTOR[0]) / 2])
    hi_sweep = np.array([TRANSLATION_SWEEP[1] * s / 2, TRANSLATION_SWEEP[1] * s / 2,
                         np.deg2rad(ROTATION_SWEEP_DEG[1]) / 2, math.log(ZOOM_FACTOR[1]) / 2])
    rel = np.clip((half - lo_sweep) / (hi_sweep - lo_sweep), 0, 1)
    info: dict[str, np.ndarray] = {
        "center_mid": mid[:, :2].astype(f32),
        "angle_mid_deg": np.rad2deg(mid[:, 2]).astype(f32),
        "scale_mid": np.exp(mid[:, 3]).astype(f32),
        "start_center": centers[:, 0, 0].copy(),
        "end_center": centers[:, -1, 0].copy(),
        "start_quadrant": quadrant(centers[:, 0, 0]),
        "end_quadrant": quadrant(centers[:, -1, 0]),
        "start_angle_deg": np.rad2deg(angles[:, 0, 0]).astype(f32),
        "end_angle_deg": np.rad2deg(angles[:, -1, 0]).astype(f32),
        "start_scale": scales[:, 0, 0].copy(),
        "end_scale": scales[:, -1, 0].copy(),
        "translation_speed": np.where(moving[:, 0] | moving[:, 1], per_frame[np.arange(n), param], 0).astype(f32),
        "rotation_speed": np.where(moving[:, 2], sign * np.rad2deg(per_frame[:, 2]), 0).astype(f32),
        "zoom_rate": np.where(moving[:, 3], np.exp(sign * per_frame[:, 3]), 1).astype(f32),
        "speed_rel": rel[np.arange(n), param].astype(f32),
        "digit_index": digit_index.astype(np.int64),
        "num_distractors": np.full(n, k, np.int64),
        "distractor_digit": d_digit.reshape(n, k),
        "distractor_index": d_index.reshape(n, k).astype(np.int64),
        "distractor_start": d_start.reshape(n, k, 2).astype(f32),
        "distractor_velocity": d_vel.reshape(n, k, 2).astype(f32),
        "distractor_scale": d_scale.reshape(n, k).astype(f32),
        "distractor_angle_deg": np.rad2deg(d_angle).reshape(n, k).astype(f32),
    }
    return ActionClips(frames=frames, digit=digit.astype(np.int64), action=action.astype(np.int64), boxes=boxes,
                       captions=captions, info=info, images=images, centers=centers, angles=angles,
                       scales=scales, digit_size=float(d0), action_names=actions)


# ----------------------------------------------------------------------------------------------- dataset


class ActionsDataset(Dataset):
    """A fixed, map-style dataset of action clips, generated once (seeded) at construction.

    ``ActionsDataset(n, **generate_actions_kwargs)`` or ``ActionsDataset(clips=existing_clips)``.
    Items are dicts: ``frames`` float32 ``(T, 1, S, S)`` in [0, 1], ``digit`` and ``action`` ints,
    ``boxes`` float32 ``(T, 4)``, ``caption`` str, ``index`` int, and with ``with_flow=True`` also
    ``flow`` float32 ``(T-1, 2, S, S)`` (computed per item on demand). The default collate works.
    """

    def __init__(self, n: int | None = None, *, clips: ActionClips | None = None, with_flow: bool = False,
                 **kwargs: Any) -> None:
        if (n is None) == (clips is None):
            raise ValueError("give exactly one of n (clips to generate) or clips (an ActionClips)")
        self.clips = clips if clips is not None else generate_actions(n, **kwargs)
        self.with_flow = bool(with_flow)

    def __len__(self) -> int:
        return len(self.clips)

    def __getitem__(self, i: int) -> dict[str, Any]:
        c = self.clips
        i = int(np.arange(len(c))[i])
        item: dict[str, Any] = {
            "frames": torch.from_numpy(c.frames[i]).float().div_(255.0).unsqueeze(1),
            "digit": int(c.digit[i]), "action": int(c.action[i]),
            "boxes": torch.from_numpy(c.boxes[i].copy()), "caption": c.captions[i], "index": i,
        }
        if self.with_flow:
            item["flow"] = torch.from_numpy(c.flow([i])[0])
        return item


# ----------------------------------------------------------------------------------------------- instance captions

_REGION_BAND = 1 / 16  # the middle row/column of the 3 x 3 region grid spans S/2 +- S/16
_REGION_NAMES = (("top-left", "top", "top-right"), ("left", "centre", "right"),
                 ("bottom-left", "bottom", "bottom-right"))
_SPEED_WORDS = (("slowly", "gently", "at a slow pace"), ("steadily", "at a moderate pace", "at a medium speed"),
                ("quickly", "fast", "rapidly"))
_COUNT_WORDS = ("no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


def _region(x: float, y: float, size: int) -> str:
    """Name of the cell of a 3 x 3 grid holding canvas point ``(x, y)``; the middle band is ``S/2 +- S/16``."""
    lo, hi = size * (0.5 - _REGION_BAND), size * (0.5 + _REGION_BAND)
    col = 0 if x < lo else (2 if x >= hi else 1)
    row = 0 if y < lo else (2 if y >= hi else 1)
    return _REGION_NAMES[row][col]


_REGION_PREPOSITION = {"top": "at", "bottom": "at", "left": "on", "right": "on"}  # "in" for the others


def _at(region: str) -> str:
    return f"{_REGION_PREPOSITION.get(region, 'in')} the {region}"


def _listing(digits: Sequence[int]) -> str:
    """``[7, 1, 1]`` -> "a 7 and two 1s" (first-appearance order; "an 8")."""
    counts: dict[int, int] = {}
    for d in digits:
        counts[int(d)] = counts.get(int(d), 0) + 1
    items = [_AN.sub(r"an \1", f"a {d}") if c == 1 else f"{_COUNT_WORDS[c] if c < 10 else c} {d}s"
             for d, c in counts.items()]
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def instance_captions(clips: ActionClips, rng: np.random.Generator | int | None = None) -> list[str]:
    """One rich caption per clip, saying as much as the ground truth allows to single the clip out.

    Each caption is ``"{semantic} {speed} {where}, {distractors}"``:

    * **semantic**: digit and action, from :func:`all_captions` (with ``rng=None``: the clip's own
      ``clips.captions[i]``; otherwise a variant drawn with ``rng``);
    * **speed**: the clip's sweep size ``info["speed_rel"]`` (0 = the smallest sweep of its action's range,
      1 = the largest; for a fixed clip length, a bigger sweep is a faster motion) in three bins,
      ``[0, 1/3)`` "slowly", ``[1/3, 2/3)`` "steadily", ``[2/3, 1]`` "quickly" (or synonyms);
    * **where**: the actor's centre on a 3 x 3 grid of regions (top-left, top, top-right, left, centre,
      right, bottom-left, bottom, bottom-right; the middle row and column span ``S/2 +- S/16``, which puts
      about a third of the clips in each). Moves say where they start and end ("from the top-right to
      the top-left"; "staying on the left" if both are in one region); rotations and zooms, which stay
      put, say where they are ("in the centre", "at the top");
    * **distractors**: "on its own" without distractors; otherwise the distractor digits and whether
      they stay still or move ("while a 3 and an 8 stay still", "while a 5 and two 1s drift around").

    Example: "a 7 moves left quickly from the top-right to the top-left, while a 3 and a 5 stay still".
    ``rng`` (a Generator or an int seed) picks the semantic variant and the synonyms; ``rng=None``
    uses the clip's own caption and the first synonym of each part. The result is deterministic given
    ``rng`` (an int seed or a Generator in a given state). Facts the clips lack (a custom ``info``
    without ``speed_rel`` or ``distractor_digit``) are left out of the caption.
    """
    if not isinstance(clips, ActionClips):
        raise TypeError(f"clips must be an ActionClips (from generate_actions), got {type(clips).__name__}")
    if rng is None:
        gen = None
    elif isinstance(rng, np.random.Generator):
        gen = rng
    elif isinstance(rng, int | np.integer) and not isinstance(rng, bool) and rng >= 0:
        gen = np.random.default_rng(int(rng))
    else:
        raise TypeError(f"rng must be None, a non-negative int seed or a numpy Generator, got {rng!r}")

    def pick(options: Sequence[str]) -> str:
        return options[0] if gen is None else options[int(gen.integers(len(options)))]

    n, s = len(clips), clips.size
    info = clips.info
    start, end = clips.centers[:, 0], clips.centers[:, -1]             # (N, L, 2), layer 0 = actor
    speed_rel = info.get("speed_rel")
    d_digit = info.get("distractor_digit")
    out = []
    for i in range(n):
        name = clips.action_names[int(clips.action[i])]
        if gen is None:
            semantic = clips.captions[i]
        else:
            pool = _all_captions(int(clips.digit[i]), name)
            semantic = pool[int(gen.integers(len(pool)))]
        parts = [semantic]
        if speed_rel is not None:
            u = float(speed_rel[i])
            parts.append(pick(_SPEED_WORDS[0 if u < 1 / 3 else (1 if u < 2 / 3 else 2)]))
        a, b = _region(*start[i, 0], s), _region(*end[i, 0], s)
        if _MOTION[name][0] in (0, 1):                                 # a translation: from -> to
            where = (pick((f"from the {a} to the {b}", f"from the {a} towards the {b}")) if a != b
                     else pick((f"staying {_at(a)}", f"but staying {_at(a)}")))
        else:
            mid = (start[i, 0] + end[i, 0]) / 2
            c = _region(*mid, s)
            where = pick((_at(c), f"{_at(c)} of the frame"))
        parts.append(where)
        k = clips.centers.shape[2] - 1
        if k == 0:
            tail = pick(("on its own", "with no other digits around", "alone"))
        else:
            moving = bool(np.abs(clips.centers[i, :, 1:] - clips.centers[i, :1, 1:]).max() > 1e-3)
            if d_digit is not None and np.shape(d_digit)[1:] == (k,):
                who = _listing(d_digit[i])
            else:
                who = "another digit" if k == 1 else f"{_COUNT_WORDS[k] if k < 10 else k} other digits"
            sg = k == 1
            if moving:
                tail = pick((f"while {who} {'drifts' if sg else 'drift'} around",
                             f"as {who} {'moves' if sg else 'move'} around"))
            else:
                tail = pick((f"while {who} {'stays' if sg else 'stay'} still",
                             f"next to {who} that {'does' if sg else 'do'} not move"))
        out.append(" ".join(parts) + ", " + tail)
    return out
