"""Bouncing Moving MNIST, following Srivastava et al. (2015) and their reference generator.

The physics, for each digit independently:

* A digit is a 28x28 patch on a 64x64 canvas, so its top-left corner lives in the *free canvas*
  ``[0, 64 - 28] = [0, 36]`` pixels. Positions are kept in unit coordinates ``[0, 1]`` of that free
  canvas and turned into integer pixels only when drawing.
* Each sequence starts at a uniform random position with a uniform random direction ``theta``.
  Every frame the digit first takes a step of length ``step_length`` (0.1 of the free canvas by
  default, i.e. 3.6 px) along its velocity.
* If a coordinate leaves ``[0, 1]`` it is clamped to the wall and that velocity component flips
  sign: a reflection. The speed never changes.
* Digits are combined with ``max`` (no occlusion order for intensities).

Speed is fixed by default, as in the reference code; ``speed_range=(lo, hi)`` draws a speed
multiplier per digit uniformly from that range, as the paper describes.

Everything here is vectorised over sequences and frames: one NumPy pass per *digit slot*
(2 by default), never a Python loop per sequence. ``benchmarks/bench_data.py`` compares this with
a plain per-sample reference generator.

Metadata is returned alongside the frames: digit labels, per-frame positions and velocities,
bounce events, a caption, and an exact optical-flow field computed on demand by :func:`exact_flow`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np
import torch

from vidkit.data.digits import DIGIT, check_digit_bank, load_digits
from vidkit.utils.checks import check_choice, check_int, check_real, check_seed

__all__ = ["MovingMNIST", "generate_moving_mnist", "pixels_to_float", "check_motion_args", "exact_flow", "paste_digits", "CANVAS",
           "DIGIT"]

CANVAS = 64
NUMBER_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


@dataclass
class MovingMNIST:
    """A batch of bouncing-digit sequences and their metadata (NumPy arrays).

    Attributes:
        frames:     ``(N, T, H, W)`` uint8 in 0..255.
        labels:     ``(N, K)`` int64 digit class of each of the K digits.
        digit_index:``(N, K)`` int64 index of each digit image in the digit bank used.
        positions:  ``(N, T, K, 2)`` int64 top-left pixel ``(x, y)`` of each digit in each frame.
        velocities: ``(N, T, K, 2)`` float64 velocity ``(vx, vy)`` in pixels/frame *after* the frame's
                    bounce (what the next step will use).
        bounces:    ``(N, T, K, 2)`` bool: a wall reflection on the x / y axis happened at this frame.
        captions:   list of N strings.
        digit_images: ``(N, K, 28, 28)`` uint8 digit patches (needed for exact flow).
        audio:      ``(N, 2, T * 800)`` float32 stereo sound track in [-1, 1] (:func:`vidkit.data.audio.
                    moving_mnist_audio`: a voice per digit, a knock at each bounce, panned with x), or ``None``
                    until :func:`vidkit.data.audio.attach_audio` adds it.
    """

    frames: np.ndarray
    labels: np.ndarray
    digit_index: np.ndarray
    positions: np.ndarray
    velocities: np.ndarray
    bounces: np.ndarray
    captions: list[str]
    digit_images: np.ndarray
    meta: dict = field(default_factory=dict)
    audio: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.frames)

    def subset(self, idx: slice | np.ndarray) -> MovingMNIST:
        """The sequences ``idx`` (a slice or index array) with their metadata."""
        per_sequence = {f.name: getattr(self, f.name)[idx] for f in fields(self)
                        if f.name not in ("captions", "meta", "audio")}
        captions = np.asarray(self.captions, dtype=object)[idx].tolist() if self.captions else []
        audio = None if self.audio is None else self.audio[idx]
        return MovingMNIST(**per_sequence, captions=captions, meta=dict(self.meta), audio=audio)

    def flow(self, idx: int | slice | np.ndarray | None = None) -> np.ndarray:
        """Exact optical flow ``(n, T-1, 2, H, W)`` float32 for the selected sequences (see :func:`exact_flow`)."""
        sel = slice(None) if idx is None else idx
        single = isinstance(idx, (int, np.integer))
        if single:
            sel = slice(int(idx), int(idx) + 1)
        out = exact_flow(self.positions[sel], self.digit_images[sel], canvas=self.frames.shape[-1])
        return out[0] if single else out

    def tensors(self) -> torch.Tensor:
        """Frames as a float32 torch tensor ``(N, T, 1, H, W)`` in [0, 1]."""
        return _uint8_to_float(self.frames)


_PASTE_CHUNK = 128


def paste_digits(frames: np.ndarray, positions: np.ndarray, patches: np.ndarray) -> np.ndarray:
    """Draw 28x28 ``patches`` into zeroed ``frames`` at integer ``positions``, combining by ``max``. In place.

    ``frames`` is ``(n, T, H, W)`` uint8 (C-contiguous, all zeros), ``positions`` ``(n, T, K, 2)`` top-left
    ``(x, y)``, ``patches`` ``(n, K, 28, 28)`` uint8.

    How it is fast: a digit placed at flat pixel ``i`` of the frame buffer touches bytes ``i`` to
    ``i + span`` with ``span = 27 * W + 28``: its 28 rows plus the gaps between them. So each patch is
    padded to rows of width ``W`` (zeros in the gaps) and the buffer is viewed as overlapping items of
    ``span`` bytes (NumPy ``V<span>``), item ``i`` starting at flat pixel ``i``. Drawing digit ``k`` in
    every (sequence, frame) at once is one fancy-indexed assignment ``items[idx] = padded`` with a 1-D
    index: one memory copy per digit and frame, no Python loop. The zero gaps are harmless: the first
    digit lands on an empty canvas, and later digits are combined by ``max``, which leaves the gaps as
    they are. (A window never leaves its own frame, so frames never touch each other.)
    """
    n, t, h, w = frames.shape
    if frames.dtype != np.uint8 or not frames.flags.c_contiguous:
        raise ValueError("frames must be a C-contiguous uint8 array (n, T, H, W)")
    span = (DIGIT - 1) * w + DIGIT
    items = np.ndarray(buffer=frames, dtype=f"V{span}", shape=(frames.size - span + 1,), strides=(1,))
    base = (np.arange(n * t, dtype=np.int64) * (h * w)).reshape(n, t)
    padded = np.zeros((n, patches.shape[1], DIGIT, w), np.uint8)
    padded[..., :DIGIT] = patches
    padded = padded.reshape(n, patches.shape[1], DIGIT * w)[:, :, :span]  # (n, K, span)
    for k in range(positions.shape[2]):
        idx = base + positions[:, :, k, 1] * w + positions[:, :, k, 0]  # (n, T) flat start pixels
        patch = np.ascontiguousarray(padded[:, k])  # (n, span)
        if k == 0:
            items[idx] = patch.view(f"V{span}")  # (n, 1) broadcast over frames; the canvas is empty
        else:
            drawn = items[idx]  # (n, T): gather what is there, combine by max, scatter back
            pixels = drawn.view(np.uint8).reshape(n, t, span)
            np.maximum(pixels, patch[:, None, :], out=pixels)
            items[idx] = drawn
    return frames


def _uint8_to_float(frames: np.ndarray) -> torch.Tensor:
    """uint8 ``(..., H, W)`` (possibly a read-only memory map) -> float32 ``(..., 1, H, W)`` in [0, 1].

    One pass: NumPy divides and casts in cache-sized blocks (``x / 255`` in float32, the same numbers as
    ``torch``'s ``x.float() / 255``), where converting first and dividing after would walk the float copy twice."""
    return torch.from_numpy(np.divide(np.asarray(frames), np.float32(255.0), dtype=np.float32)).unsqueeze(-3)


def pixels_to_float(frames: torch.Tensor) -> torch.Tensor:
    """Frames as float in [0, 1]: uint8 pixels ``x`` become ``x / 255`` in float32 (on their own device), float
    frames are returned as they are. Training streams can deliver uint8 (``MovingMNISTStream(dtype=torch.uint8)``):
    a quarter of the bytes to make and to move, converted here, inside the training step, on the device."""
    if not isinstance(frames, torch.Tensor):
        raise TypeError(f"pixels_to_float: expected a torch.Tensor of frames, got {type(frames).__name__}")
    if frames.dtype == torch.uint8:
        return frames.float().div_(255.0)
    if not frames.is_floating_point():
        raise ValueError(f"pixels_to_float: frames must be uint8 pixels or float in [0, 1], got {frames.dtype}")
    return frames


def _trajectories(rng: np.random.Generator, n: int, k: int, t: int, step_length: float,
                  speed_range: tuple[float, float] | None):
    """Unit-coordinate trajectories, vectorised over (n, k). Returns pos (n,t,k,2), vel (n,t,k,2), bounce."""
    pos = rng.random((n, k, 2))  # (x, y) in [0, 1]
    theta = rng.random((n, k)) * 2 * np.pi
    speed = np.full((n, k), step_length)
    if speed_range is not None:
        speed = step_length * rng.uniform(speed_range[0], speed_range[1], size=(n, k))
    vel = np.stack([np.cos(theta), np.sin(theta)], axis=-1) * speed[..., None]
    # time-major buffers: frame i is one contiguous block, written in place
    positions = np.empty((t, n, k, 2))
    velocities = np.empty((t, n, k, 2))
    bounces = np.empty((t, n, k, 2), dtype=bool)
    for i in range(t):  # a loop over frames only: each step is vectorised over all sequences and digits
        p, hit = positions[i], bounces[i]
        np.add(pos, vel, out=p)  # take a step
        np.logical_or(p <= 0.0, p >= 1.0, out=hit)  # reached a wall on this axis?
        np.minimum(np.maximum(p, 0.0, out=p), 1.0, out=p)  # put it on the wall ...
        np.negative(vel, out=vel, where=hit)  # ... and reflect that velocity component
        velocities[i] = vel
        pos = p
    positions, velocities, bounces = (a.transpose(1, 0, 2, 3) for a in (positions, velocities, bounces))
    return positions, velocities, bounces


def _caption(labels: np.ndarray, velocities0: np.ndarray) -> str:
    words = []
    for lab, (vx, vy) in zip(labels, velocities0):
        horiz = "right" if vx > 0 else "left"
        vert = "down" if vy > 0 else "up"
        words.append(f"a {int(lab)} moving {vert} and to the {horiz}")
    if len(words) == 1:
        return words[0]
    return ", ".join(words[:-1]) + " and " + words[-1]


def check_speed_range(value: Any) -> tuple[float, float] | None:
    """``None`` or a pair ``(lo, hi)`` of finite numbers with ``0 < lo <= hi``."""
    if value is None:
        return None
    expected = "None or a pair (lo, hi) of finite speed multipliers with 0 < lo <= hi"
    if isinstance(value, str | bytes) or not hasattr(value, "__len__") or len(value) != 2:
        raise ValueError(f"speed_range must be {expected}, got {value!r} ({type(value).__name__})")
    lo, hi = value
    for v in (lo, hi):
        if (isinstance(v, bool) or not isinstance(v, int | float | np.integer | np.floating)
                or not math.isfinite(float(v)) or float(v) <= 0):
            raise ValueError(f"speed_range must be {expected}, got {value!r} (bad value {v!r})")
    if float(lo) > float(hi):
        raise ValueError(f"speed_range must be {expected}, got {value!r} (lo > hi)")
    return float(lo), float(hi)


def check_motion_args(num_digits: int = 2, seq_len: int = 20, canvas: int = CANVAS, step_length: float = 0.1,
                      speed_range: tuple[float, float] | None = None
                      ) -> tuple[int, int, int, float, tuple[float, float] | None]:
    """Validate the motion arguments of :func:`generate_moving_mnist` (also used by the streams, so a bad
    value fails when a stream is built, not at its first batch). Raises ``ValueError`` naming the argument,
    the expected type and range, and the value got."""
    return (check_int("num_digits", num_digits, 1), check_int("seq_len", seq_len, 2),
            check_int("canvas", canvas, DIGIT),
            check_real("step_length", step_length, 0.0, 1.0, what=" (a fraction of the free canvas)"),
            check_speed_range(speed_range))


def generate_moving_mnist(
    n: int,
    seed: int | np.random.SeedSequence = 0,
    *,
    split: str = "train",
    num_digits: int = 2,
    seq_len: int = 20,
    canvas: int = CANVAS,
    step_length: float = 0.1,
    speed_range: tuple[float, float] | None = None,
    digits: tuple[np.ndarray, np.ndarray] | None = None,
    captions: bool = True,
) -> MovingMNIST:
    """Generate ``n`` bouncing-digit sequences (Srivastava protocol), vectorised.

    Args:
        n: number of sequences (an int >= 1).
        seed: a non-negative int or ``np.random.SeedSequence``; the same seed gives the same data on every
            machine.
        split: ``"train"`` or ``"test"`` digits (disjoint images, see :func:`vidkit.data.load_digits`).
        num_digits: digits per sequence K (>= 1; default 2).
        seq_len: frames T per sequence (>= 2; default 20 = 10 in + 10 out).
        canvas: frame side in pixels (>= 28; default 64).
        step_length: step per frame as a fraction of the free canvas ``canvas - 28`` (default 0.1).
        speed_range: ``None`` for the fixed speed of the reference code, or ``(lo, hi)`` multipliers of
            ``step_length`` drawn uniformly per digit (the paper's random speeds), finite, ``0 < lo <= hi``.
        digits: optional ``(images (M, 28, 28) uint8, labels (M,) in 0..9)`` bank to draw from, ``M >= 1``.
        captions: write a caption per sequence.

    Every argument is checked first: a bad one raises ``ValueError`` naming it, the expected type and
    range, and the value got (bools and floats are not taken for counts or seeds).

    Returns:
        :class:`MovingMNIST` with frames ``(n, seq_len, canvas, canvas)`` uint8 and metadata.
    """
    n = check_int("n", n, 1)
    seed = check_seed("seed", seed, seed_sequence=True)
    split = check_choice("split", split, ("train", "test"))
    num_digits, seq_len, canvas, step_length, speed_range = check_motion_args(
        num_digits, seq_len, canvas, step_length, speed_range)
    images, labels = load_digits(split) if digits is None else check_digit_bank(digits)

    rng = np.random.default_rng(seed)
    free = canvas - DIGIT
    unit_pos, unit_vel, bounces = _trajectories(rng, n, num_digits, seq_len, step_length, speed_range)
    positions = (free * unit_pos).astype(np.int64)  # as the reference: truncate to int pixels
    velocities = unit_vel * free
    digit_index = rng.integers(0, len(images), size=(n, num_digits))
    patches = images[digit_index]  # (n, k, 28, 28)

    frames = np.zeros((n, seq_len, canvas, canvas), dtype=np.uint8)
    for lo in range(0, n, _PASTE_CHUNK):  # chunks keep the working set in cache; results do not depend on it
        hi = min(n, lo + _PASTE_CHUNK)
        paste_digits(frames[lo:hi], positions[lo:hi], patches[lo:hi])

    caps = [_caption(labels[digit_index[i]], velocities[i, 0]) for i in range(n)] if captions else []
    return MovingMNIST(
        frames=frames, labels=labels[digit_index].astype(np.int64), digit_index=digit_index,
        positions=positions, velocities=velocities, bounces=bounces, captions=caps, digit_images=patches,
        meta={"split": split, "step_length": step_length, "speed_range": speed_range, "canvas": canvas},
    )


def exact_flow(positions: np.ndarray, digit_images: np.ndarray, canvas: int = CANVAS,
               threshold: int = 0) -> np.ndarray:
    """Exact forward optical flow of bouncing digits.

    For every pixel ``p`` of frame ``t`` covered by digit ``k`` (patch value > ``threshold``),
    ``flow[t, :, p] = positions[t+1, k] - positions[t, k]``: the true displacement of that digit
    pixel to frame ``t+1``. Where digits overlap, the top-most digit (the last one drawn, highest
    ``k``) wins. Background pixels have zero flow.

    Args:
        positions: ``(N, T, K, 2)`` int top-left ``(x, y)`` pixel positions.
        digit_images: ``(N, K, 28, 28)`` uint8 patches.

    Returns:
        ``(N, T-1, 2, H, W)`` float32, channel 0 = dx, channel 1 = dy (pixels).
    """
    positions, digit_images = np.asarray(positions), np.asarray(digit_images)
    if positions.ndim != 4 or positions.shape[-1] != 2 or not np.issubdtype(positions.dtype, np.integer):
        raise ValueError(f"positions must be integer pixels of shape (N, T, K, 2), got {positions.dtype} "
                         f"{positions.shape}")
    n, t, k, _ = positions.shape
    if digit_images.shape != (n, k, DIGIT, DIGIT):
        raise ValueError(f"digit_images must be (N, K, 28, 28) = {(n, k, DIGIT, DIGIT)}, got {digit_images.shape}")
    if t < 2:
        raise ValueError(f"need at least 2 frames for flow, got T={t}")
    flow = np.zeros((n, t - 1, 2, canvas, canvas), dtype=np.float32)
    disp = (positions[:, 1:] - positions[:, :-1]).astype(np.float32)  # (n, t-1, k, 2)
    ar = np.arange(DIGIT)
    nn = np.arange(n)[:, None, None, None]
    tt = np.arange(t - 1)[None, :, None, None]
    for j in range(k):  # later digits overwrite earlier ones: top-most wins
        rows = (positions[:, :-1, j, 1][:, :, None] + ar)[:, :, :, None]
        cols = (positions[:, :-1, j, 0][:, :, None] + ar)[:, :, None, :]
        mask = (digit_images[:, j] > threshold)[:, None]  # (n, 1, 28, 28)
        for c in range(2):
            cur = flow[nn, tt, c, rows, cols]
            flow[nn, tt, c, rows, cols] = np.where(mask, disp[:, :, j, c][:, :, None, None], cur)
    return flow
