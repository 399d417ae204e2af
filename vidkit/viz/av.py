"""Export a clip with its sound track: an H.264 + AAC MP4 that any browser or player plays with sound.

Frames go through the same path as :func:`vidkit.viz.frames.save_mp4` (moviepy 2, imageio-ffmpeg's ffmpeg,
atomic write); the track (:mod:`vidkit.data.audio`) is attached as a moviepy ``AudioArrayClip`` at its own
sample rate and encoded as AAC. The track must last exactly as long as the frames:
``samples = T * sample_rate / fps``.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from vidkit.utils.checks import check_int, check_real, shape_text
from vidkit.viz.frames import _atomic_write, _pad_even, _sequence_clip, to_rgb_uint8, upscale

__all__ = ["save_av_mp4"]


def _track(audio: Any) -> np.ndarray:
    """``(S,)``, ``(1, S)`` or ``(2, S)`` floats in [-1, 1] (NumPy or torch) -> ``(S, C)`` float64."""
    if hasattr(audio, "detach"):
        audio = audio.detach().cpu().numpy()
    a = np.asarray(audio)
    if a.ndim == 1:
        a = a[None]
    if a.ndim != 2 or a.shape[0] not in (1, 2) or not np.issubdtype(a.dtype, np.floating):
        raise ValueError(f"audio must be a float track (S,), (1, S) or (2, S) (channels first, mono or stereo), "
                         f"got {shape_text(a)} {a.dtype}")
    if a.size and (not np.isfinite(a).all() or np.abs(a).max() > 1.0):
        raise ValueError(f"audio samples must be finite and in [-1, 1], got values in [{np.nanmin(a):g}, "
                         f"{np.nanmax(a):g}]")
    return a.T.astype(np.float64)


def save_av_mp4(frames: Any, audio: Any, path: str | os.PathLike, *, fps: float = 10, sample_rate: int = 8000,
                scale: int = 1) -> Path:
    """Write a clip and its sound track as an MP4 (H.264 yuv420p video, AAC audio), atomically.

    Args:
        frames: ``(T, H, W)``, ``(T, 1|3, H, W)`` or ``(T, H, W, 1|3)``; uint8 or float in ``[0, 1]``.
        audio: ``(2, S)`` stereo, ``(1, S)`` or ``(S,)`` mono floats in [-1, 1] (e.g. ``Soundtrack.audio[i]``),
            with ``S = T * sample_rate / fps`` exactly (a whole number).
        path: target file ending in ``.mp4``; written to a temp file in the same folder, then renamed.
        fps: video frames per second (10 for the kit's tracks: 800 samples per frame at 8 kHz).
        sample_rate: the track's sample rate in Hz (an int in 4000..96000); the AAC stream keeps it.
        scale: integer nearest-neighbour upscaling of the frames.

    Returns:
        The written :class:`~pathlib.Path`.
    """
    from moviepy.audio.AudioClip import AudioArrayClip

    fps = check_real("fps", fps, 0.0)
    sr = check_int("sample_rate", sample_rate, 4000, 96000, what=" Hz")
    rgb = _pad_even(upscale(to_rgb_uint8(frames), scale))
    track = _track(audio)
    t = len(rgb)
    want = t * sr / fps
    if not math.isclose(want, round(want), abs_tol=1e-6) or track.shape[0] != round(want):
        raise ValueError(f"audio must last as long as the frames: T * sample_rate / fps = {t} * {sr} / {fps:g} = "
                         f"{want:g} samples, got {track.shape[0]} samples (audio shape "
                         f"{shape_text(np.asarray(track).T)})")
    # the video clip lasts a quarter frame longer than T / fps (see _sequence_clip): pad the track with silence
    pad = np.zeros((int(math.ceil(0.5 * sr / fps)), track.shape[1]))
    sound = AudioArrayClip(np.concatenate([track, pad]), fps=sr)

    def write(tmp: Path) -> None:
        clip = _sequence_clip(rgb, fps)
        clip.with_audio(sound.with_duration(clip.duration)).write_videofile(
            str(tmp), fps=fps, codec="libx264", audio=True, audio_codec="aac", audio_fps=sr,
            pixel_format="yuv420p", logger=None)

    return _atomic_write(path, ".mp4", write)
