"""ClipPlayer: play aligned clips side by side in JupyterLab, without a kernel round-trip per frame.

Every composite frame is rendered once, in Python, to PNG bytes held by one ``ipywidgets.Image``; the
images are the children of an ``ipywidgets.Stack``. A ``Play`` widget drives both the ``IntSlider`` and
the stack's ``selected_index`` through ``jslink`` links, which live in the browser: playback and scrubbing
never call the kernel and keep working after the kernel stops.

Displaying a player also attaches a static fallback - an inline animated GIF (``text/html``) - so
renderers without a live widget manager (nbconvert/HTML export, GitHub, VS Code without widget state)
still show the clip moving.

Example::

    from vidkit.widgets import ClipPlayer
    ClipPlayer({"input": x, "truth": y, "prediction": y_hat, "error": (y - y_hat).abs()}, fps=5, scale=3)
"""

from __future__ import annotations

import html
import io
import os
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np

from vidkit import viz

__all__ = ["ClipPlayer"]

_WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
#: Warn when the precomputed PNG frames of one player exceed this many bytes (they live in the notebook).
PAYLOAD_WARN_BYTES = 20 * 1024 * 1024


def _png_bytes(frame: np.ndarray) -> bytes:
    """``(H, W, 3)`` uint8 -> PNG bytes."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(frame).save(buf, format="PNG", compress_level=6)
    return buf.getvalue()


class ClipPlayer:
    """Play one or more aligned clips side by side (e.g. ``input | truth | prediction | error``).

    Args:
        clips: a list of clips or ``{label: clip}`` (keys become labels); a single clip is also accepted.
            Each clip is ``(T_i, H, W_i)``, ``(T_i, 1|3, H, W_i)`` or ``(T_i, H, W_i, 1|3)``, uint8 or float in
            ``[0, 1]``, numpy or torch; all clips need the same height ``H``.
        labels: one label per clip for a list (drawn above each panel); not allowed together with a dict.
        fps: playback speed in frames per second.
        scale: integer nearest-neighbour upscaling applied to every frame (64 px frames are tiny).
        title: optional title shown above the player (and in the static fallback).
        pad_mode: what a clip shorter than the longest one shows after its last frame:
            ``"blank"`` (default) - a mid-gray frame, so it is obvious that the clip has ended
            (e.g. 10 input frames next to 20 target frames); ``"last"`` - hold its last frame.

    Attributes:
        frames: ``(T, H_out, W_out, 3)`` uint8 composite frames, ``T = max(T_i)`` (already upscaled).
        png_frames: the ``T`` precomputed PNG encodings, one per composite frame.
        widget: the ``ipywidgets.VBox`` (title, image stack, play + slider).
        play, slider, stack, images, links: the parts; ``links`` are the two ``jslink`` ``Link`` widgets
            ``play.value -> slider.value`` and ``play.value -> stack.selected_index``.
    """

    BLANK_VALUE = 128  # gray level of padding frames for pad_mode="blank"

    def __init__(
        self,
        clips: Sequence[Any] | Mapping[str, Any] | Any,
        labels: Sequence[str] | None = None,
        fps: float = 5,
        scale: int = 3,
        title: str | None = None,
        pad_mode: Literal["blank", "last"] = "blank",
    ) -> None:
        import ipywidgets as W

        if isinstance(clips, np.ndarray) or hasattr(clips, "detach"):
            clips = [clips]  # one clip
        clip_list, names = viz._named_clips(clips, labels, "ClipPlayer")
        self.fps = viz._check_fps(fps)
        self.scale = viz._check_scale(scale)
        if pad_mode not in ("blank", "last"):
            raise ValueError(f"ClipPlayer: pad_mode must be 'blank' or 'last'; got {pad_mode!r}")
        if title is not None and not isinstance(title, str):
            raise TypeError(f"ClipPlayer: title must be a string or None; got {type(title).__name__}")
        self.title = title
        self.labels = names
        self.pad_mode = pad_mode

        rgb = []
        for i, c in enumerate(clip_list):
            what = f"ClipPlayer clip {names[i]!r}" if names else f"ClipPlayer clip {i}"
            try:
                rgb.append(viz.to_rgb_uint8(c))
            except (ValueError, TypeError) as e:
                raise type(e)(f"{what}: {e}") from e
        heights = [c.shape[1] for c in rgb]
        if len(set(heights)) > 1:
            raise ValueError(
                f"ClipPlayer: all clips need the same frame height; got heights {heights}"
                + (f" for {names}" if names else "")
            )
        self.lengths = [c.shape[0] for c in rgb]
        n = max(self.lengths)
        rgb = [self._pad(c, n) for c in rgb]
        self.frames: np.ndarray = viz.side_by_side(
            [viz.upscale(c, self.scale) for c in rgb], labels=names, pad=2 * self.scale
        )
        self.png_frames: list[bytes] = [_png_bytes(f) for f in self.frames]
        payload = sum(len(b) for b in self.png_frames)
        if payload > PAYLOAD_WARN_BYTES:
            warnings.warn(
                f"ClipPlayer: {n} frames take {payload / 2**20:.1f} MiB as PNG; the notebook will grow by about "
                "that much. Consider fewer frames or a smaller scale.",
                stacklevel=2,
            )

        h, w = self.frames.shape[1:3]
        self.images = [
            W.Image(value=b, format="png", width=w, height=h, layout=W.Layout(width=f"{w}px", height=f"{h}px"))
            for b in self.png_frames
        ]
        self.stack = W.Stack(children=self.images, selected_index=0)
        interval = max(1, round(1000 / self.fps))
        self.play = W.Play(value=0, min=0, max=n - 1, step=1, interval=interval, repeat=True, description="Play")
        self.slider = W.IntSlider(
            value=0, min=0, max=n - 1, step=1, description="t", continuous_update=True, readout=True
        )
        # Browser-side links: no kernel round-trip per frame.
        self.links = (
            W.jslink((self.play, "value"), (self.slider, "value")),
            W.jslink((self.play, "value"), (self.stack, "selected_index")),
        )
        children: list[Any] = []
        if title:
            children.append(W.HTML(f"<b>{html.escape(title)}</b>"))
        children += [self.stack, W.HBox([self.play, self.slider])]
        self.widget = W.VBox(children)
        self.widget.add_class("vidkit-clipplayer")  # CSS hook, as on the static fallback; tests/test_browser.py

    # ----------------------------------------------------------------------------------------------
    def _pad(self, clip: np.ndarray, n: int) -> np.ndarray:
        """Pad ``(T, H, W, 3)`` to ``n`` frames according to ``pad_mode``."""
        t = clip.shape[0]
        if t == n:
            return clip
        if self.pad_mode == "last":
            tail = np.repeat(clip[-1:], n - t, axis=0)
        else:
            tail = np.full((n - t, *clip.shape[1:]), self.BLANK_VALUE, dtype=np.uint8)
        return np.concatenate([clip, tail], axis=0)

    @property
    def num_frames(self) -> int:
        """Number of composite frames ``T`` (the longest clip's length)."""
        return int(self.frames.shape[0])

    def _gif_frames(self) -> np.ndarray:
        """Composite frames with a ``t = i / T-1`` caption below, for the static GIF (it has no slider).

        The caption also keeps consecutive frames distinct, so the GIF encoder never merges frames.
        """
        n, _, w, _ = self.frames.shape
        bands = [
            viz._text_band([(0, w, f"t = {i} / {n - 1}")], w, 255, int(np.clip(w // 20, 9, 14))) for i in range(n)
        ]
        return np.concatenate([self.frames, np.stack(bands)], axis=1)

    def to_html(self) -> str:
        """Static HTML: the title (if any) and an inline looping animated GIF of the composite frames."""
        alt = self.title or ("ClipPlayer: " + " | ".join(self.labels) if self.labels else "ClipPlayer")
        img = viz.gif_html(self._gif_frames(), fps=self.fps, scale=1, alt=alt)
        head = f"<div><b>{html.escape(self.title)}</b></div>" if self.title else ""
        return f'<div class="vidkit-clipplayer">{head}{img}</div>'

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None, **kwargs: Any) -> dict[str, Any]:
        """Widget view (live) + ``text/html`` animated GIF (static fallback) + ``text/plain``."""
        bundle = dict(self.widget._repr_mimebundle_(include=include, exclude=exclude, **kwargs) or {})
        bundle["text/html"] = self.to_html()
        bundle["text/plain"] = repr(self)
        return bundle

    def __repr__(self) -> str:
        h, w = self.frames.shape[1:3]
        labels = f", labels={self.labels}" if self.labels else ""
        return f"ClipPlayer(T={self.num_frames}, size={w}x{h}{labels}, fps={self.fps:g})"

    def save_gif(self, path: str | os.PathLike, fps: float | None = None, scale: int = 1) -> Path:
        """Save the composite frames (already upscaled by ``self.scale``) as a GIF via :func:`vidkit.viz.save_gif`."""
        return viz.save_gif(self.frames, path, fps=self.fps if fps is None else fps, scale=scale)

    def save_mp4(self, path: str | os.PathLike, fps: float | None = None, scale: int = 1) -> Path:
        """Save the composite frames (already upscaled by ``self.scale``) as an MP4 via :func:`vidkit.viz.save_mp4`."""
        return viz.save_mp4(self.frames, path, fps=self.fps if fps is None else fps, scale=scale)
