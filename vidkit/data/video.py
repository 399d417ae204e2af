"""Video files: read a user's ``.mp4`` / ``.avi`` / ``.webm`` / ``.gif`` into the kit's frame arrays, and write them.

Every result the papers report is on real video (UCF-101, HMDB-51); this module is the door from a file to
the arrays the kit's models read. It is the kit's one home for video file I/O: :func:`vidkit.viz.frames.save_mp4`
and :func:`~vidkit.viz.frames.save_gif` (any clip layout, upscaled) write through :func:`write_video`.

**Reading** (:func:`read_video`) decodes with moviepy 2 (``VideoFileClip``, which runs imageio-ffmpeg's ffmpeg),
so any container and codec that ffmpeg decodes works: MPEG-4 / H.264 ``.mp4``, Xvid ``.avi`` (UCF-101 and
HMDB-51 ship these), VP8/VP9 ``.webm``, animated ``.gif``. Each frame is then

1. **fitted** to the requested aspect ratio, by default by a **centre crop** (``fit="crop"``: the largest
   centred window with the target's aspect ratio, so a 320x240 UCF-101 frame keeps its middle 240x240; the
   usual test-time crop of video models, and no pixels are wasted on borders) or, with ``fit="pad"``, by
   **padding** with black bars (the whole frame stays visible, letterboxed);
2. **resized** with OpenCV, ``cv2.resize(..., interpolation=cv2.INTER_AREA)`` (area averaging: the right filter
   for shrinking, no aliasing);
3. converted to **grayscale** for ``channels=1`` with ``cv2.COLOR_RGB2GRAY`` (ITU-R BT.601 luma,
   ``Y = 0.299 R + 0.587 G + 0.114 B``), or kept **RGB** for ``channels=3``.

The result is a NumPy array, **uint8 0..255, channels last**, the layout of imageio and OpenCV:

* ``(T, H, W)`` for ``channels=1`` (grayscale: the layout of the kit's Moving MNIST and actions frames);
* ``(T, H, W, 3)`` for ``channels=3`` (RGB, in that order).

:func:`to_clip` turns it into the kit's model layout, a float ``(T, C, H, W)`` tensor in [0, 1], which
:func:`vidkit.predict` and every ``embed`` take (with a batch axis: ``clip[None]``).

**Time.** A file's frames are ``i = 0..N-1``, frame ``i`` shown at ``i / fps_file`` seconds. ``start`` (seconds)
skips to the frame shown at that time; ``fps=None`` keeps every frame from there, a number resamples by
*picking* frames (no blending): output frame ``j`` is the file frame shown at ``start + j / fps``, so
``fps=10`` on a 30 fps file keeps every third frame and ``fps=60`` shows each frame twice. ``max_frames`` stops
early. :func:`read_frames` reads chosen frame numbers (the clips of :mod:`vidkit.data.folders`) in one pass;
:func:`probe_video` reads a file's frame count, rate and size without decoding the video.

**Writing** (:func:`write_video`) picks the codec from the suffix: ``.mp4`` H.264 (libx264), ``.avi`` MPEG-4
part 2 (the codec family of UCF-101's Xvid files), ``.webm`` VP8, all yuv420p (an odd height or width gets one
edge-replicated row / column, as these encoders need even sizes), and ``.gif`` (looping). Writes are atomic.

A missing file raises ``FileNotFoundError``; a folder, an empty (0-byte) file, a file ffmpeg cannot decode, or
one with no video frames (an audio-only ``.mp4``) raises :class:`VideoFileError` naming the file; bad arguments
raise ``ValueError`` naming the expected value. The ``vidkit`` command prints each as one line.
"""

from __future__ import annotations

import errno
import itertools
import math
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vidkit.errors import DataFileError
from vidkit.utils.checks import check_choice, check_int, check_real, shape_text
from vidkit.utils.fileio import atomic_write_path

__all__ = ["VIDEO_SUFFIXES", "VideoFileError", "VideoInfo", "probe_video", "read_video", "read_frames", "fit_frame",
           "to_clip", "write_video"]

#: File suffixes the kit reads and writes (lower case). :func:`read_video` opens anything ffmpeg decodes;
#: these are the ones :func:`vidkit.data.folders.list_videos` collects from a folder and :func:`write_video` writes.
VIDEO_SUFFIXES = (".mp4", ".avi", ".webm", ".gif")

#: ``suffix: (codec, extra ffmpeg args)`` of :func:`write_video` (``None``: the GIF writer).
_CODECS: dict[str, tuple[str, list[str]] | None] = {
    ".mp4": ("libx264", []),
    ".avi": ("mpeg4", ["-q:v", "3"]),   # MPEG-4 part 2 at high quality (qscale 3 of 1..31)
    ".webm": ("libvpx", ["-crf", "10", "-b:v", "2M"]),
    ".gif": None,
}
_MAX_SIDE = 4096


class VideoFileError(DataFileError):
    """A video file exists but cannot be used: a folder, empty, not decodable by ffmpeg, or without video
    frames. The message names the file (a :class:`~vidkit.errors.DataFileError`, so a ``ValueError``)."""


@dataclass(frozen=True)
class VideoInfo:
    """What a file's header says: ``fps`` (frames per second), ``num_frames``, ``width``, ``height`` (pixels,
    after the file's rotation), ``duration`` (seconds, ``num_frames / fps``)."""

    path: Path
    fps: float
    num_frames: int
    width: int
    height: int

    @property
    def duration(self) -> float:
        return self.num_frames / self.fps


# ---------------------------------------------------------------------------------------------- opening


def _path(path: Any) -> Path:
    if not isinstance(path, str | os.PathLike):
        raise TypeError(f"path must be a str or os.PathLike naming a video file, got {type(path).__name__}")
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(errno.ENOENT, f"no such video file (expected {', '.join(VIDEO_SUFFIXES)} or "
                                "another format ffmpeg decodes)", str(p))
    if p.is_dir():
        raise VideoFileError(f"{p}: is a folder, expected a video file ({', '.join(VIDEO_SUFFIXES)})")
    if p.stat().st_size == 0:
        raise VideoFileError(f"{p}: is empty (0 bytes), expected a video file")
    return p


def _ffmpeg_reason(e: BaseException) -> str:
    """The informative line of a moviepy / ffmpeg error (its messages carry ffmpeg's whole stderr)."""
    lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
    for key in ("Invalid data", "moov atom", "Error opening", "Error", "error"):
        hits = [ln for ln in lines if key in ln]
        if hits:
            return hits[-1][:200]
    return (lines[0] if lines else type(e).__name__)[:200]


def _open(path: Any) -> tuple[Any, Path]:
    """``(moviepy VideoFileClip, path)``; every failure as FileNotFoundError or :class:`VideoFileError`."""
    from moviepy import VideoFileClip

    p = _path(path)
    try:
        with warnings.catch_warnings():  # moviepy warns before it raises on a file without frames
            warnings.simplefilter("ignore", UserWarning)
            clip = VideoFileClip(str(p), audio=False)
    except (OSError, KeyError, IndexError, ValueError, AttributeError) as e:
        if "failed to read the first frame" in str(e):
            raise VideoFileError(f"{p}: holds no video frames (ffmpeg decoded no first frame: an audio-only, "
                                 "empty or corrupt file)") from e
        raise VideoFileError(f"{p}: cannot be read as a video (ffmpeg: {_ffmpeg_reason(e)}); expected a video "
                             f"file ({', '.join(VIDEO_SUFFIXES)}) that ffmpeg can decode") from e
    n = int(clip.reader.n_frames or 0)
    if n <= 0 or not clip.fps or not math.isfinite(clip.fps) or clip.fps <= 0:
        clip.close()
        raise VideoFileError(f"{p}: holds no video frames (ffmpeg reports {n} frames at {clip.fps} fps)")
    return clip, p


def probe_video(path: str | os.PathLike) -> VideoInfo:
    """Frame rate, frame count and size of a video file, from its header (nothing is decoded but the first
    frame). Errors as :func:`read_video`."""
    clip, p = _open(path)
    try:
        w, h = clip.size
        return VideoInfo(p, float(clip.fps), int(clip.reader.n_frames), int(w), int(h))
    finally:
        clip.close()


# ---------------------------------------------------------------------------------------------- reading


def _size(size: Any) -> tuple[int, int]:
    if isinstance(size, Sequence) and not isinstance(size, str):
        if len(size) != 2:
            raise ValueError(f"size must be an int (a square side) or (H, W) in pixels, got {size!r}")
        return (check_int("size[0] (H)", size[0], 1, _MAX_SIDE), check_int("size[1] (W)", size[1], 1, _MAX_SIDE))
    side = check_int("size", size, 1, _MAX_SIDE, what=" (a square side in pixels) or an (H, W) pair")
    return side, side


def fit_frame(frame: np.ndarray, size: int | tuple[int, int], channels: int = 1, fit: str = "crop") -> np.ndarray:
    """One RGB frame ``(H0, W0, 3)`` uint8 -> ``(H, W)`` (``channels=1``) or ``(H, W, 3)`` uint8: centre crop
    (``fit="crop"``) or black bars (``fit="pad"``) to the aspect of ``size``, ``cv2.INTER_AREA`` resize, then
    BT.601 grayscale for one channel. ``size``: a side or ``(H, W)``. See the module docstring."""
    import cv2

    h, w = _size(size)
    check_choice("channels", channels, (1, 3))
    check_choice("fit", fit, ("crop", "pad"))
    f = np.asarray(frame)
    if f.ndim != 3 or f.shape[2] != 3 or f.dtype != np.uint8 or min(f.shape) < 1:
        raise ValueError(f"frame must be an RGB frame (H, W, 3) uint8, got {f.dtype} {shape_text(f)}")
    h0, w0 = f.shape[:2]
    if fit == "crop":
        if w0 * h > h0 * w:                               # wider than the target: crop the sides
            cw = max(1, round(h0 * w / h))
            x0 = (w0 - cw) // 2
            f = f[:, x0:x0 + cw]
        else:                                             # taller: crop top and bottom
            ch = max(1, round(w0 * h / w))
            y0 = (h0 - ch) // 2
            f = f[y0:y0 + ch]
        out = cv2.resize(np.ascontiguousarray(f), (w, h), interpolation=cv2.INTER_AREA)
    else:
        scale = min(h / h0, w / w0)
        ih, iw = max(1, min(h, round(h0 * scale))), max(1, min(w, round(w0 * scale)))
        inner = cv2.resize(np.ascontiguousarray(f), (iw, ih), interpolation=cv2.INTER_AREA)
        out = np.zeros((h, w, 3), np.uint8)
        y0, x0 = (h - ih) // 2, (w - iw) // 2
        out[y0:y0 + ih, x0:x0 + iw] = inner
    if channels == 1:
        out = cv2.cvtColor(out, cv2.COLOR_RGB2GRAY)
    return out


def _decode(clip: Any, p: Path, indices: Any, size: tuple[int, int], channels: int, fit: str) -> list[np.ndarray]:
    """Fitted frames of file frames ``indices`` (non-decreasing ints, an iterator may be endless), read in one pass;
    stops at the end of the file (the header's frame count, or earlier if the stream ends before it)."""
    n, src_fps = int(clip.reader.n_frames), float(clip.fps)
    out: list[np.ndarray] = []
    try:
        with warnings.catch_warnings():
            # moviepy warns, then repeats the last frame, when a file ends before its header says: stop there
            warnings.filterwarnings("error", message=r".*bytes wanted but", category=UserWarning)
            for i in indices:
                if i >= n:
                    break
                try:
                    rgb = clip.get_frame(i / src_fps)
                except UserWarning:
                    break
                out.append(fit_frame(np.asarray(rgb, dtype=np.uint8)[..., :3], size, channels, fit))
    except OSError as e:
        raise VideoFileError(f"{p}: decoding failed (ffmpeg: {_ffmpeg_reason(e)})") from e
    return out


def read_video(path: str | os.PathLike, *, size: int | tuple[int, int] = 64, channels: int = 1,
               fps: float | None = None, max_frames: int | None = None, start: float = 0.0,
               fit: str = "crop") -> np.ndarray:
    """Read a video file into uint8 frames: ``(T, H, W)`` grayscale or ``(T, H, W, 3)`` RGB, channels last.

    Args:
        path: a video file ffmpeg decodes (``.mp4``, ``.avi``, ``.webm``, ``.gif``...).
        size: the output frame side ``S`` (``H = W = S``), or ``(H, W)``, each in ``1..4096`` pixels.
        channels: ``1`` (grayscale, BT.601 luma) or ``3`` (RGB).
        fps: ``None`` keeps the file's frame rate (every frame); a number ``> 0`` resamples by picking frames:
            output frame ``j`` is the file frame shown at ``start + j / fps`` seconds.
        max_frames: at most this many output frames (``None``: to the end of the file).
        start: the time in seconds (``>= 0``, before the end) of the first output frame.
        fit: ``"crop"`` (default: centre crop to the aspect of ``size``) or ``"pad"`` (black bars, nothing cut).

    Returns:
        ``(T, H, W)`` or ``(T, H, W, 3)`` uint8 0..255, ``T >= 1``. :func:`to_clip` makes the kit's float
        ``(T, C, H, W)`` clip of it.

    Raises:
        FileNotFoundError: no such file.
        VideoFileError: a folder, an empty file, not decodable, or no video frames (the message names the file).
        ValueError: a bad argument, or ``start`` at or after the end of the video.
    """
    hw = _size(size)
    check_choice("channels", channels, (1, 3))
    check_choice("fit", fit, ("crop", "pad"))
    out_fps = None if fps is None else check_real("fps", fps, 0.0, what=" frames per second, or None (the file's)")
    limit = None if max_frames is None else check_int("max_frames", max_frames, 1, what=" or None (to the end)")
    start = check_real("start", start, 0.0, low_open=False, what=" seconds")
    clip, p = _open(path)
    try:
        src_fps, n = float(clip.fps), int(clip.reader.n_frames)
        first = math.floor(start * src_fps + 1e-5)           # moviepy's rule: the frame shown at time t
        if first >= n:
            raise ValueError(f"start must be before the end of {p} ({n} frames at {src_fps:g} fps = "
                             f"{n / src_fps:.3f} s), got {start:g} s")
        steps = itertools.count() if limit is None else range(limit)
        indices = (first + j if out_fps is None else math.floor((start + j / out_fps) * src_fps + 1e-5)
                   for j in steps)
        frames = _decode(clip, p, indices, hw, channels, fit)
    finally:
        clip.close()
    if not frames:
        raise VideoFileError(f"{p}: no video frame could be decoded from {start:g} s on")
    return np.stack(frames)


def read_frames(path: str | os.PathLike, indices: Any, *, size: int | tuple[int, int] = 64, channels: int = 1,
                fit: str = "crop") -> np.ndarray:
    """Frames ``indices`` of a video file, decoded in one pass: ``(len(indices), H, W)`` or ``(..., H, W, 3)``
    uint8, in the order of ``indices`` (repeats allowed).

    ``indices``: ints in ``0..N-1`` (``N``: the file's frame count), or a callable ``f(N) -> indices`` that picks
    them from the frame count without opening the file twice (e.g. the clip samplers of
    :mod:`vidkit.data.folders`). An index past the last frame the stream really holds (a header that
    over-counts) gets that last frame. ``size``, ``channels``, ``fit`` and the errors as :func:`read_video`.
    """
    hw = _size(size)
    check_choice("channels", channels, (1, 3))
    check_choice("fit", fit, ("crop", "pad"))
    clip, p = _open(path)
    try:
        n = int(clip.reader.n_frames)
        idx = np.asarray(indices(n) if callable(indices) else indices)
        if idx.ndim != 1 or idx.size == 0 or idx.dtype.kind not in "iu":
            raise ValueError(f"indices must be a non-empty 1-D array of frame numbers, got {idx.dtype} "
                             f"{shape_text(idx)}")
        if idx.min() < 0 or idx.max() >= n:
            raise ValueError(f"indices must be frame numbers in 0..{n - 1} ({p} has {n} frames), got "
                             f"[{idx.min()}, {idx.max()}]")
        wanted = np.unique(idx)
        frames = _decode(clip, p, (int(i) for i in wanted), hw, channels, fit)
    finally:
        clip.close()
    if not frames:
        raise VideoFileError(f"{p}: no video frame could be decoded")
    got = np.stack(frames)                                   # frames wanted[:len(got)]
    pos = np.minimum(np.searchsorted(wanted, idx), len(got) - 1)
    return got[pos]


def to_clip(frames: Any) -> Any:
    """:func:`read_video`'s uint8 ``(T, H, W)`` / ``(T, H, W, 3)`` frames -> the kit's clip layout, a float32
    torch tensor ``(T, C, H, W)`` in [0, 1] (``C`` = 1 or 3). Add a batch axis (``clip[None]``) for a model."""
    import torch

    a = np.asarray(frames)
    if a.dtype != np.uint8 or a.ndim not in (3, 4) or (a.ndim == 4 and a.shape[3] not in (1, 3)) or a.size == 0:
        raise ValueError(f"frames must be uint8 (T, H, W) or (T, H, W, 1|3) as read_video returns, "
                         f"got {a.dtype} {shape_text(a)}")
    x = torch.from_numpy(np.ascontiguousarray(a)).float().div_(255.0)
    return x[:, None] if a.ndim == 3 else x.permute(0, 3, 1, 2).contiguous()


# ---------------------------------------------------------------------------------------------- writing


def _pad_even(frames: np.ndarray) -> np.ndarray:
    """Pad ``(T, H, W, 3)`` by one edge-replicated row/column where H or W is odd (libx264 + yuv420p)."""
    ph, pw = frames.shape[1] % 2, frames.shape[2] % 2
    if ph or pw:
        frames = np.pad(frames, ((0, 0), (0, ph), (0, pw), (0, 0)), mode="edge")
    return frames


def _sequence_clip(frames: np.ndarray, fps: float) -> Any:
    """moviepy ImageSequenceClip that yields exactly ``len(frames)`` frames when written at ``fps``."""
    from moviepy import ImageSequenceClip

    n = len(frames)
    clip = ImageSequenceClip(list(frames), fps=fps)
    # Two rounding bugs in moviepy 2.1 drop or repeat frames:
    # 1. it writes int(duration * fps) frames, and duration = sum([1/fps] * T) can round just below T / fps
    #    (T=10, fps=5 writes 9 frames) -> give the clip a quarter frame of slack;
    # 2. frame i starts at float32(i / fps - eps), which can round *above* the float64 time i / fps
    #    (T=14, fps=3 shows frame 12 twice) -> start frame i half a frame early, in float64.
    # find_image_index reads clip.images_starts at call time, so replacing the list is enough.
    clip.images_starts = [(i - 0.5) / fps for i in range(n)]
    return clip.with_duration((n + 0.25) / fps)


def _rgb_frames(frames: Any) -> np.ndarray:
    """uint8 or [0, 1]-float ``(T, H, W)`` / ``(T, H, W, 1|3)`` -> ``(T, H, W, 3)`` uint8."""
    a = np.asarray(frames)
    if a.ndim not in (3, 4) or (a.ndim == 4 and a.shape[3] not in (1, 3)) or a.size == 0:
        raise ValueError(f"frames must be (T, H, W) or (T, H, W, 1|3), channels last, T, H, W >= 1, got "
                         f"{shape_text(a)} (vidkit.viz.frames.save_mp4 takes every clip layout)")
    if a.dtype != np.uint8:
        if a.dtype.kind != "f" or not np.isfinite(a).all() or a.min() < 0 or a.max() > 1:
            raise ValueError(f"frames must be uint8 0..255 or finite floats in [0, 1], got {a.dtype}"
                             + (f" in [{a.min():.3g}, {a.max():.3g}]" if a.dtype.kind in "fiu" else ""))
        a = np.rint(a * 255.0).astype(np.uint8)
    if a.ndim == 3:
        a = a[..., None]
    return np.ascontiguousarray(np.broadcast_to(a, (*a.shape[:3], 3)))


def write_video(path: str | os.PathLike, frames: Any, fps: float = 5) -> Path:
    """Write frames as a video file, atomically (temp file in the same folder, then rename).

    Args:
        path: ``.mp4`` (H.264), ``.avi`` (MPEG-4 part 2), ``.webm`` (VP8) or ``.gif`` (looping); parent
            folders are created; an existing file survives a failed write.
        frames: ``(T, H, W)`` or ``(T, H, W, 1|3)`` (channels last, as :func:`read_video` returns), uint8 or
            float in [0, 1]. For the video codecs an odd ``H`` or ``W`` gets one edge-replicated row / column.
        fps: frames per second (``> 0``); every frame is written exactly once.

    Returns:
        The written :class:`~pathlib.Path`.
    """
    p = Path(path) if isinstance(path, str | os.PathLike) else None
    if p is None:
        raise TypeError(f"path must be a str or os.PathLike, got {type(path).__name__}")
    suffix = p.suffix.lower()
    if suffix not in _CODECS:
        raise ValueError(f"path must end in {', '.join(_CODECS)} (the format is taken from it), got {str(p)!r}")
    fps = check_real("fps", fps, 0.0)
    rgb = _rgb_frames(frames)
    codec = _CODECS[suffix]

    def write(tmp: Path) -> None:
        if codec is None:
            _sequence_clip(rgb, fps).write_gif(str(tmp), fps=fps, loop=0, logger=None)
        else:
            _sequence_clip(_pad_even(rgb), fps).write_videofile(
                str(tmp), fps=fps, codec=codec[0], audio=False, pixel_format="yuv420p",
                ffmpeg_params=codec[1] or None, logger=None)

    return atomic_write_path(p, write, suffix=suffix)
