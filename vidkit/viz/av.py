"""A clip with its sound track: an H.264 + AAC MP4 that any browser or player plays with sound (:func:`save_av_mp4`),
and :class:`AVPlayer`, the notebook widget that plays it in the page with its spectrogram beside it.

Frames go through the same path as :func:`vidkit.viz.frames.save_mp4` (:mod:`vidkit.data.video`'s moviepy 2 clip,
imageio-ffmpeg's ffmpeg, atomic write); the track (:mod:`vidkit.data.audio`) is attached as a moviepy ``AudioArrayClip`` at its own
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
from vidkit.viz.frames import _atomic_write, to_rgb_uint8, upscale

__all__ = ["save_av_mp4", "av_mp4_bytes", "wav_bytes", "video_tag", "audio_tag", "spectrogram_png", "AVPlayer"]


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

    from vidkit.data.video import _pad_even, _sequence_clip

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


# ---------------------------------------------------------------------------------------------------------
# AVPlayer: a clip with its sound, playable in the page (no kernel needed)
# ---------------------------------------------------------------------------------------------------------
def av_mp4_bytes(frames: Any, audio: Any, *, fps: float = 10, sample_rate: int = 8000, scale: int = 1) -> bytes:
    """The MP4 :func:`save_av_mp4` writes (H.264 + AAC), as bytes: written to a temporary folder, read, removed."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="vidkit-av-") as tmp:
        path = save_av_mp4(frames, audio, Path(tmp) / "clip.mp4", fps=fps, sample_rate=sample_rate, scale=scale)
        return path.read_bytes()


def wav_bytes(audio: Any, sample_rate: int = 8000) -> bytes:
    """A track ``(S,)``, ``(1, S)`` or ``(2, S)`` of floats in [-1, 1] as a 16-bit PCM WAV file (bytes)."""
    import io
    import wave

    sr = check_int("sample_rate", sample_rate, 4000, 96000, what=" Hz")
    track = _track(audio)                                                   # (S, C)
    if track.shape[0] == 0:
        raise ValueError("audio must hold at least one sample, got an empty track")
    pcm = np.round(np.clip(track, -1.0, 1.0) * 32767).astype("<i2")
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(track.shape[1])
        w.setsampwidth(2)
        w.setframerate(sr)
        w.writeframes(pcm.tobytes())
    return buf.getvalue()


def _data_uri(data: bytes, mime: str) -> str:
    import base64

    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def video_tag(mp4: bytes, width: int | None, height: int | None, *, loop: bool = True,
              title: str = "clip with sound") -> str:
    """``<video controls>`` whose source is ``mp4`` as a base64 data URI (plays in the page, with no server);
    ``width`` / ``height`` in pixels (``None``: from the video, keeping its aspect)."""
    import html

    size = "".join(f'{k}="{int(v)}" ' for k, v in (("width", width), ("height", height)) if v is not None)
    return (f'<video controls {"loop " if loop else ""}preload="auto" playsinline {size}title="{html.escape(title)}" src="{_data_uri(mp4, "video/mp4")}" '
            f'style="background: #000; display: block"></video>')


def audio_tag(wav: bytes, *, title: str = "sound", width: int = 200) -> str:
    """``<audio controls>`` whose source is ``wav`` as a base64 data URI."""
    import html

    return (f'<audio controls preload="auto" title="{html.escape(title)}" src="{_data_uri(wav, "audio/wav")}" '
            f'style="width: {int(width)}px; display: block"></audio>')


def _png_uri(rgb: np.ndarray) -> str:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="PNG", compress_level=6)
    return _data_uri(buf.getvalue(), "image/png")


def _onset_frames(onsets: Any, t: int) -> np.ndarray:
    """``onsets``: ``(T,)`` bool per video frame or a sequence of frame indices in ``0..T-1`` -> sorted ints."""
    if onsets is None:
        return np.zeros(0, np.int64)
    if hasattr(onsets, "detach"):
        onsets = onsets.detach().cpu().numpy()
    a = np.asarray(onsets)
    if a.dtype == bool:
        if a.shape != (t,):
            raise ValueError(f"onsets must be ({t},) bool (one per video frame) or frame indices, got bool {a.shape}")
        return np.flatnonzero(a)
    if a.ndim != 1 or (a.size and a.dtype.kind not in "iu"):
        raise ValueError(f"onsets must be ({t},) bool (one per video frame) or a 1-D sequence of frame indices, "
                         f"got {a.dtype} {a.shape}")
    a = a.astype(np.int64)
    if a.size and (a.min() < 0 or a.max() >= t):
        raise ValueError(f"onset frame indices must be in 0..{t - 1} (the clip has {t} frames), got "
                         f"[{a.min()}, {a.max()}]")
    return np.unique(a)


def spectrogram_png(audio: Any, sample_rate: int = 8000, *, fps: float = 10, onsets: Any = None,
                    height_px: int = 260, width_px: int = 430, title: str | None = None) -> bytes:
    """A picture of a track's log-mel spectrogram (:func:`vidkit.data.audio.log_mel`, 80 bins), one panel per
    channel (left above right: the panning shows as loudness moving between them), time in seconds with a tick
    per video frame, the ``onsets`` (video frames, bool per frame or indices) marked by dashed lines. PNG bytes."""
    import io

    from matplotlib.figure import Figure

    from vidkit.data.audio import log_mel, mel_frequencies

    sr = check_int("sample_rate", sample_rate, 4000, 96000, what=" Hz")
    fps = check_real("fps", fps, 0.0)
    track = _track(audio).T.astype(np.float32)                              # (C, S)
    s = track.shape[1]
    t = s * fps / sr
    if not math.isclose(t, round(t), abs_tol=1e-6) or round(t) < 1:
        raise ValueError(f"audio must hold a whole number of video frames: S * fps / sample_rate = {s} * {fps:g} / "
                         f"{sr} = {t:g}")
    t = round(t)
    hop = 160 if s % 160 == 0 else s // t                 # 20 ms for the kit's tracks, else one per video frame
    spec = log_mel(track[None], sr, hop_length=hop)[0].numpy()                 # (C, 80, F)
    freqs = mel_frequencies(80, sr)
    on = _onset_frames(onsets, t)
    fig = Figure(figsize=(width_px / 100, height_px / 100), dpi=100)
    axes = fig.subplots(len(spec), 1, sharex=True, squeeze=False)[:, 0]
    lo, hi = np.percentile(spec, 5), spec.max()
    names = ("left", "right") if len(spec) == 2 else ("mono",)
    for ax, ch, name in zip(axes, spec, names, strict=True):
        ax.imshow(ch, origin="lower", aspect="auto", cmap="magma", vmin=lo, vmax=hi,
                  extent=(0, t / fps, 0, len(freqs)))
        ticks = [int(np.searchsorted(freqs, f)) for f in (250, 1000, 3000)]
        ax.set_yticks(ticks, [f"{freqs[i] / 1000:.2g}k" if freqs[i] >= 1000 else f"{freqs[i]:.0f}" for i in ticks],
                      fontsize=8)
        ax.set_ylabel(f"{name}\nHz", fontsize=8)
        for j, f in enumerate(on):
            ax.axvline(f / fps, color="cyan", ls="--", lw=1.2, label="onset" if j == 0 else None)
        ax.set_xticks(np.arange(t + 1) / fps, minor=True)
        ax.tick_params(axis="x", labelsize=8)
    axes[-1].set_xlabel("seconds (minor ticks: video frames)", fontsize=8)
    if len(on):
        axes[0].legend(loc="upper right", fontsize=7, framealpha=0.8)
    if title:
        axes[0].set_title(title, fontsize=9)
    fig.tight_layout(pad=0.4)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


class AVPlayer:
    """A clip with its sound track, playable in the notebook page: an HTML5 ``<video controls>`` whose source is
    the MP4 of :func:`save_av_mp4` (H.264 + AAC) as a base64 data URI, and, beside it, the track's log-mel
    spectrogram (left and right channels) with the ``onsets`` marked.

    Everything is in the page, so it plays after the kernel stops, in a saved notebook and in an HTML export.

    Args:
        frames: ``(T, H, W)``, ``(T, 1|3, H, W)`` or ``(T, H, W, 1|3)``; uint8 or float in [0, 1].
        audio: ``(2, S)``, ``(1, S)`` or ``(S,)`` floats in [-1, 1] with ``S = T * sample_rate / fps``
            (e.g. ``Soundtrack.audio[i]``).
        fps, sample_rate: the clip's frame rate and the track's sample rate (the kit: 10 and 8000).
        scale: integer upscaling of the frames (32 px clips are tiny).
        title: optional bold line above.
        onsets: video frames where a sound event starts, ``(T,)`` bool or frame indices (e.g.
            ``Soundtrack.onset_frames[i]``), marked on the spectrogram; ``None``: none marked.
        spectrogram: show the spectrogram beside the video.
        loop: loop the video.

    Attributes: ``mp4`` (the MP4 bytes), ``spectrogram`` (PNG bytes or ``None``), ``widget`` (an
    ``ipywidgets.HTML`` in a ``VBox`` with class ``vidkit-avplayer``: the same markup as :meth:`to_html`).
    """

    def __init__(self, frames: Any, audio: Any, fps: float = 10, sample_rate: int = 8000, scale: int = 4,
                 title: str | None = None, onsets: Any = None, spectrogram: bool = True, loop: bool = True):
        import ipywidgets as W

        from vidkit.viz.frames import to_rgb_uint8

        if title is not None and not isinstance(title, str):
            raise TypeError(f"AVPlayer: title must be a string or None, got {type(title).__name__}")
        self.fps = check_real("fps", fps, 0.0)
        self.sample_rate = check_int("sample_rate", sample_rate, 4000, 96000, what=" Hz")
        self.scale = check_int("scale", scale, 1, 32)
        self.title, self.loop = title, bool(loop)
        rgb = to_rgb_uint8(frames)
        self.num_frames, h, w = rgb.shape[:3]
        track = _track(audio)                                                 # checks layout and range
        want = self.num_frames * self.sample_rate / self.fps
        if track.shape[0] != round(want) or not math.isclose(want, round(want), abs_tol=1e-6):
            raise ValueError(f"AVPlayer: audio must last as long as the frames: T * sample_rate / fps = "
                             f"{self.num_frames} * {self.sample_rate} / {self.fps:g} = {want:g} samples, got "
                             f"{track.shape[0]} (audio shape {shape_text(np.asarray(track).T)})")
        self.onsets = _onset_frames(onsets, self.num_frames)
        self.channels = int(track.shape[1])
        self.width, self.height = w * self.scale + (w * self.scale) % 2, h * self.scale + (h * self.scale) % 2
        self.mp4 = av_mp4_bytes(rgb, track.T, fps=self.fps, sample_rate=self.sample_rate, scale=self.scale)
        self.spectrogram = (spectrogram_png(track.T, self.sample_rate, fps=self.fps, onsets=self.onsets,
                                            height_px=max(200, self.height + 40))
                            if spectrogram else None)
        self.widget = W.VBox([W.HTML(self._inner_html())])
        self.widget.add_class("vidkit-avplayer")

    def _inner_html(self) -> str:
        import html

        head = f"<div><b>{html.escape(self.title)}</b></div>" if self.title else ""
        video = video_tag(self.mp4, self.width, self.height, loop=self.loop, title=self.title or "clip with sound")
        parts = [f'<div style="flex: none">{video}<div style="font-size: 11px; color: #555">'
                 f"{self.num_frames} frames at {self.fps:g} fps, sound {self.sample_rate} Hz "
                 f"{'stereo' if self.channels == 2 else 'mono'}: press play</div></div>"]
        if self.spectrogram is not None:
            parts.append(f'<img alt="log-mel spectrogram" src="{_data_uri(self.spectrogram, "image/png")}" '
                         f'style="flex: none">')
        return f'{head}<div style="display: flex; gap: 12px; align-items: flex-start">{"".join(parts)}</div>'

    def to_html(self) -> str:
        """Static HTML (the same as the live view): the ``<video>`` with its data URI and the spectrogram."""
        return f'<div class="vidkit-avplayer">{self._inner_html()}</div>'

    def _repr_html_(self) -> str:
        return self.to_html()

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None, **kwargs: Any) -> dict[str, Any]:
        """Widget view (live) + ``text/html`` (static fallback, the same markup) + ``text/plain``."""
        from vidkit.viz.widgets import widget_mimebundle

        return widget_mimebundle(self, include, exclude, **kwargs)

    def save_mp4(self, path: str | os.PathLike) -> Path:
        """Write the player's MP4 (frames and sound) to ``path`` (ending in ``.mp4``)."""
        from vidkit.viz.frames import _atomic_write

        return _atomic_write(path, ".mp4", lambda tmp: tmp.write_bytes(self.mp4))

    def __repr__(self) -> str:
        return (f"AVPlayer(T={self.num_frames}, {self.width}x{self.height}, fps={self.fps:g}, "
                f"{self.sample_rate} Hz x {self.channels}, onsets={self.onsets.tolist()})")
