"""ClipPlayer: play aligned clips side by side in JupyterLab, without a kernel round-trip per frame.

Every composite frame is rendered once, in Python, to PNG bytes held by one ``ipywidgets.Image``; the
images are the children of an ``ipywidgets.Stack``. A ``Play`` widget drives both the ``IntSlider`` and
the stack's ``selected_index`` through ``jslink`` links, which live in the browser: playback and scrubbing
never call the kernel and keep working after the kernel stops.

Displaying a player also attaches a static fallback - an inline animated GIF (``text/html``) - so
renderers without a live widget manager (nbconvert/HTML export, GitHub, VS Code without widget state)
still show the clip moving.

Example::

    from vidkit.viz.widgets import ClipPlayer
    ClipPlayer({"input": x, "truth": y, "prediction": y_hat, "error": (y - y_hat).abs()}, fps=5, scale=3)

:class:`AttentionExplorer` is a ClipPlayer whose frames show what an attention model looks at: per frame the
clip with its spatial attention heat map (and the actor's box), the class probabilities and the temporal
attention weights::

    AttentionExplorer(frames, probs, ACTIONS, spatial=alpha, temporal=beta, boxes=boxes, true_label=label)

:meth:`AttentionExplorer.for_clips` gives one explorer per clip of a set behind a dropdown (a :class:`ClipPicker`)::

    AttentionExplorer.for_clips(clips, probs, ACTIONS, spatial=alphas, boxes=boxes, true_labels=labels, start=7)
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

from vidkit.utils.checks import check_int, check_real
from vidkit.viz import frames as viz

__all__ = ["ClipPlayer", "widget_mimebundle", "AttentionExplorer", "ClipPicker"]

_WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
#: Warn when the precomputed PNG frames of one player exceed this many bytes (they live in the notebook).
PAYLOAD_WARN_BYTES = 20 * 1024 * 1024
#: Default widest player (pixels): JupyterLab shrinks a wider image to the output area, and its labels with it,
#: so a player with more panels lays them out in rows (:func:`vidkit.viz.frames.side_by_side`'s ``max_width``).
MAX_WIDTH = 900


def widget_mimebundle(obj: Any, include: Any = None, exclude: Any = None, **kwargs: Any) -> dict[str, Any]:
    """The display bundle of a kit widget: ``obj.widget``'s live view, plus ``obj.to_html()`` as the static
    ``text/html`` fallback (what saved notebooks and nbconvert show) and ``repr(obj)`` as ``text/plain``."""
    bundle = dict(obj.widget._repr_mimebundle_(include=include, exclude=exclude, **kwargs) or {})
    bundle["text/html"] = obj.to_html()
    bundle["text/plain"] = repr(obj)
    return bundle


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
        max_width: the widest the player may be, in pixels (default :data:`MAX_WIDTH`): more panels than fit
            are laid out in rows, so JupyterLab never shrinks the picture and its labels; ``None``: one row.
            Labels are wrapped to their panel's width, never shrunk below
            :data:`vidkit.viz.frames.LABEL_MIN_PX` nor cut.

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
        max_width: int | None = MAX_WIDTH,
    ) -> None:
        import ipywidgets as W

        if isinstance(clips, np.ndarray) or hasattr(clips, "detach"):
            clips = [clips]  # one clip
        clip_list, names = viz._named_clips(clips, labels, "ClipPlayer")
        self.fps = check_real("fps", fps, 0.0)
        self.scale = check_int("scale", scale)
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
            [viz.upscale(c, self.scale) for c in rgb], labels=names, pad=2 * self.scale, max_width=max_width
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
            viz._text_band([(0, w, f"t = {i} / {n - 1}")], w, 255, int(np.clip(w // 20, viz.LABEL_MIN_PX, 14))) for i in range(n)
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
        return widget_mimebundle(self, include, exclude, **kwargs)

    def __repr__(self) -> str:
        h, w = self.frames.shape[1:3]
        labels = f", labels={self.labels}" if self.labels else ""
        return f"ClipPlayer(T={self.num_frames}, size={w}x{h}{labels}, fps={self.fps:g})"

    def save_gif(self, path: str | os.PathLike, fps: float | None = None, scale: int = 1) -> Path:
        """Save the composite frames (already upscaled by ``self.scale``) as a GIF via :func:`vidkit.viz.frames.save_gif`."""
        return viz.save_gif(self.frames, path, fps=self.fps if fps is None else fps, scale=scale)

    def save_mp4(self, path: str | os.PathLike, fps: float | None = None, scale: int = 1) -> Path:
        """Save the composite frames (already upscaled by ``self.scale``) as an MP4 via :func:`vidkit.viz.frames.save_mp4`."""
        return viz.save_mp4(self.frames, path, fps=self.fps if fps is None else fps, scale=scale)


# --------------------------------------------------------------------------------------------------
# AttentionExplorer
# --------------------------------------------------------------------------------------------------
def _explorer_array(x: Any, name: str, shape: str, ndims: tuple[int, ...]) -> np.ndarray:
    """Finite float64 array of one of the ranks ``ndims``, with ``AttentionExplorer`` in the messages."""
    try:
        a = viz._float_array(x, name, shape)
    except (TypeError, ValueError) as e:
        raise type(e)(f"AttentionExplorer {e}") from e
    if a.ndim not in ndims or 0 in a.shape:
        raise ValueError(f"AttentionExplorer {name}: expected shape {shape}; got shape {tuple(a.shape)}")
    return a


class AttentionExplorer(ClipPlayer):
    """Scrub or play through what an attention model sees and predicts, frame by frame.

    Each composite frame shows (left) the frame with its spatial attention heat map blended over it and the
    actor's box outlined, (right) the class probabilities at that frame as horizontal bars - the predicted
    class (argmax) coloured green if it is the true class and red otherwise, the true class marked by a green
    triangle and a green name - and (below, with ``temporal``) the temporal attention weights as one bar per
    frame, the current frame's bar in orange. The composite frames are handed to :class:`ClipPlayer`, so the
    explorer plays in the browser (``Play`` + slider, no kernel round-trip) and has the same static
    animated-GIF fallback, :meth:`to_html`, :meth:`save_gif` and :meth:`save_mp4`. :meth:`for_clips` puts one
    explorer per clip of a set behind a dropdown.

    Args:
        frames: the clip, ``(T, H, W)``, ``(T, 1|3, H, W)`` or ``(T, H, W, 1|3)``, uint8 or float in ``[0, 1]``,
            numpy or torch.
        probs: ``(T, C)`` per-frame class probabilities (each row sums to 1, e.g. ``softmax(logits, -1)``) or
            ``(C,)`` clip-level probabilities (shown at every frame).
        class_names: ``C`` class names, in label order.
        spatial: ``(T, K, K)`` (or ``(T, Kh, Kw)``) non-negative spatial attention per frame, e.g. the 8x8
            softmax of a soft-attention LSTM over a 32x32 clip; ``None`` for a model without it. Each map is
            normalised by its maximum, upsampled (bilinear) to the frame and coloured with ``cmap``.
        temporal: non-negative temporal attention, ``None`` for a model without it; either ``(T,)`` - one
            weight per frame (e.g. attention pooling over the clip), or ``(T, N)`` - at step ``t`` the weights
            of the ``N`` most recent frames, column ``j`` belonging to frame ``t - N + 1 + j`` (the last column
            is frame ``t``; columns before frame 0 are ignored). Bars share one scale (the array's maximum).
        boxes: ``(T, 4)`` actor boxes ``(x0, y0, x1, y1)`` in pixels of ``frames`` (x1/y1 exclusive), as in
            :class:`vidkit.data.actions.ActionClips`; empty (all-zero) or all-NaN rows draw nothing.
        true_label: the true class, an index into ``class_names`` or a class name; ``None`` if unknown.
        title: optional title above the explorer (and in the static fallback).
        fps: playback speed in frames per second.
        scale: integer nearest-neighbour upscaling of the frame (the heat map is upsampled to the upscaled
            frame, so it stays smooth).
        alpha: heat-map opacity in ``[0, 1]``.
        cmap: matplotlib colour map of the heat map (``"inferno"``: the peak is its brightest colour; ``"jet"``).

    Attributes:
        frames: ``(T, H_out, W_out, 3)`` uint8 composite frames (and everything else of :class:`ClipPlayer`).
        panels: ``{"frame" | "probs" | "temporal": (x0, y0, x1, y1)}``, the pixel box of each part in
            ``frames`` (no ``"temporal"`` without temporal attention).
        probs: ``(T, C)`` float64; ``predicted``: ``(T,)`` argmax class per frame; ``true_label``: int or None.
        spatial, temporal, boxes: the validated float64 inputs (or ``None``).

    Raises:
        ValueError / TypeError: with the expected shape in the message - a ``T`` that differs from the clip's,
        a wrong rank, ``C != len(class_names)``, negative / NaN attention, probabilities outside ``[0, 1]`` or
        rows not summing to 1, an unknown ``true_label``, bad ``fps`` / ``scale`` / ``alpha`` / ``cmap``.
    """

    #: bar colours of the charts (RGB)
    BAR_RGB = (185, 185, 185)
    CORRECT_RGB = (44, 160, 44)  # predicted class == true class; also the true-class marker
    WRONG_RGB = (214, 39, 40)  # predicted class, wrong (or the true class is unknown)
    TEMPORAL_RGB = (31, 119, 180)
    CURRENT_RGB = (255, 127, 14)  # the current frame's temporal bar and marker
    BOX_RGB = (0, 255, 0)
    FONT_SIZE = 11
    PROB_SUM_TOLERANCE = 1e-2

    def __init__(
        self,
        frames: Any,
        probs: Any,
        class_names: Sequence[str],
        spatial: Any | None = None,
        temporal: Any | None = None,
        boxes: Any | None = None,
        true_label: int | str | None = None,
        title: str | None = None,
        fps: float = 4,
        scale: int = 6,
        alpha: float = 0.5,
        cmap: str = "inferno",
    ) -> None:
        scale = check_int("scale", scale)
        try:
            rgb = viz.to_rgb_uint8(frames)
        except (ValueError, TypeError) as e:
            raise type(e)(f"AttentionExplorer frames: {e}") from e
        n, h, w = rgb.shape[:3]
        self.class_names = self._check_names(class_names)
        self.probs = self._check_probs(probs, n, len(self.class_names))
        self.predicted = self.probs.argmax(axis=1)
        self.true_label = self._check_label(true_label)
        self.spatial = self.temporal = self.boxes = None
        if spatial is not None:
            a = _explorer_array(spatial, "spatial", "(T, K, K), e.g. (T, 8, 8)", (3,))
            self._check_t(a, n, "spatial", "attention maps")
            self._check_nonneg(a, "spatial")
            self.spatial = a
        if temporal is not None:
            a = _explorer_array(temporal, "temporal", "(T,) or (T, N)", (1, 2))
            self._check_t(a, n, "temporal", "rows of weights")
            self._check_nonneg(a, "temporal")
            self.temporal = a
        self.boxes = None if boxes is None else self._check_boxes(boxes, n)

        # --- the frame panel: upscale, heat map, box
        try:
            panel = viz.attention_frames(rgb, self.spatial, self.boxes, scale=scale, alpha=alpha, cmap=cmap,
                                         box_colour=self.BOX_RGB, box_width=max(1, scale // 3))
        except (ValueError, TypeError) as e:
            raise type(e)(f"AttentionExplorer: {e}") from e
        # --- the probability panel, as tall as the frame panel (or taller for many classes)
        chart = np.stack([self._prob_chart(i, panel.shape[1]) for i in range(n)])
        height = max(panel.shape[1], chart.shape[1])
        gap = 8
        top = viz.side_by_side(
            [self._pad_height(panel, height), self._pad_height(chart, height)],
            labels=["spatial attention" if self.spatial is not None else "frame", "class probabilities"],
            pad=gap,
        )
        band = top.shape[1] - height
        fw, cw = panel.shape[2], chart.shape[2]
        self.panels: dict[str, tuple[int, int, int, int]] = {
            "frame": (0, band, fw, band + panel.shape[1]),
            "probs": (fw + gap, band, fw + gap + cw, band + chart.shape[1]),
        }
        if self.temporal is not None:
            width = top.shape[2]
            strip = np.stack([self._temporal_chart(i, width) for i in range(n)])
            y0 = top.shape[1] + gap // 2
            spacer = np.full((n, gap // 2, width, 3), 255, np.uint8)
            top = np.concatenate([top, spacer, strip], axis=1)
            self.panels["temporal"] = (0, y0, width, y0 + strip.shape[1])
        super().__init__(top, fps=fps, scale=1, title=title)
        self.scale = scale
        self.widget.add_class("vidkit-attentionexplorer")

    @classmethod
    def for_clips(cls, frames: Any, probs: Any, class_names: Sequence[str],
                   spatial: Any = None, temporal: Any = None, boxes: Any = None, true_labels: Any = None,
                   captions: Sequence[str] | None = None, clips: Sequence[int] | None = None, start: int | None = None,
                   title: str | None = None, **kwargs: Any) -> ClipPicker:
        """An :class:`AttentionExplorer` per clip of a set, with a dropdown to pick the clip (a :class:`ClipPicker`).

        Every argument holds one entry per clip, ``N`` in all, indexed like ``frames``:

        Args:
            frames: ``(N, T, ...)``: clip ``i`` is ``frames[i]`` (any layout :class:`AttentionExplorer` takes).
            probs: ``(N, T, C)`` per-frame or ``(N, C)`` clip-level probabilities.
            class_names: the ``C`` class names.
            spatial, temporal, boxes: ``(N, T, K, K)``, ``(N, T)`` or ``(N, T, W)``, ``(N, T, 4)``, or ``None``.
            true_labels: ``(N,)`` true classes (indices or names), or ``None``.
            captions: ``N`` texts naming each clip in the dropdown and the explorer's title; default
                ``"clip <i>: <true class>"``.
            clips: the clip indices to offer (default: all ``N``); ``start``: the clip shown first (default: the first).
            title: prefix of every explorer's title (``"<title>: <caption>"``).
            **kwargs: passed to :class:`AttentionExplorer` (``fps``, ``scale``, ``alpha``, ``cmap``).

        An explorer is built when its clip is first picked (it needs a running kernel; the dropdown says so).
        """
        names = cls._check_names(class_names)
        try:
            n = len(frames)
        except TypeError:
            raise TypeError(f"AttentionExplorer.for_clips frames: expected (N, T, ...) clips; got {type(frames).__name__}") from None
        if probs is None:
            raise TypeError("AttentionExplorer.for_clips probs: expected (N, T, C) or (N, C) probabilities; got None")
        probs = _per_clip(probs, "probs", n, "(N, T, C) or (N, C)")
        spatial = _per_clip(spatial, "spatial", n, "(N, T, K, K)")
        temporal = _per_clip(temporal, "temporal", n, "(N, T) or (N, T, W)")
        boxes = _per_clip(boxes, "boxes", n, "(N, T, 4)")
        true_labels = _per_clip(true_labels, "true_labels", n, "(N,)")
        captions = _per_clip(captions, "captions", n, "N strings")
        indices = list(range(n)) if clips is None else [int(i) for i in clips]
        bad = [i for i in indices if not 0 <= i < n]
        if bad:
            raise ValueError(f"AttentionExplorer.for_clips clips: indices must be in 0..{n - 1}; got {bad[:5]}")

        def label(i: int) -> Any:
            return None if true_labels is None else true_labels[i]

        def caption(i: int) -> str:
            if captions is not None:
                return str(captions[i])
            t = label(i)
            if t is None:
                return f"clip {i}"
            t = t.item() if hasattr(t, "item") else t
            return f"clip {i}: {t if isinstance(t, str) else names[int(t)]}"

        def make(i: int) -> AttentionExplorer:
            def pick(a: Any) -> Any:
                return None if a is None else a[i]

            return cls(frames[i], probs[i], names, spatial=pick(spatial), temporal=pick(temporal), boxes=pick(boxes),
                       true_label=label(i), title=f"{title}: {caption(i)}" if title else caption(i), **kwargs)

        return ClipPicker(make, [(caption(i), i) for i in indices], value=start)

    # ----------------------------------------------------------------------------------------------
    # validation
    @staticmethod
    def _check_names(class_names: Any) -> list[str]:
        if isinstance(class_names, str) or not isinstance(class_names, Sequence) or len(class_names) == 0:
            raise TypeError(
                "AttentionExplorer class_names: expected a non-empty list of C class names; "
                f"got {type(class_names).__name__}"
            )
        return [str(c) for c in class_names]

    @classmethod
    def _check_probs(cls, probs: Any, n: int, c: int) -> np.ndarray:
        p = _explorer_array(probs, "probs", f"(T, C) = ({n}, {c}) or (C,) = ({c},)", (1, 2))
        if p.ndim == 1:
            p = np.broadcast_to(p, (n, p.shape[0]))
        cls._check_t(p, n, "probs", "rows")
        if p.shape[1] != c:
            raise ValueError(
                f"AttentionExplorer probs: has C={p.shape[1]} classes but class_names has {c}; expected shape ({n}, {c})"
            )
        lo, hi = float(p.min()), float(p.max())
        sums = p.sum(axis=1)
        worst = float(np.abs(sums - 1).max())
        if lo < 0 or hi > 1 + viz.FLOAT_TOLERANCE or worst > cls.PROB_SUM_TOLERANCE:
            raise ValueError(
                f"AttentionExplorer probs: expected probabilities in [0, 1] with rows summing to 1; got range "
                f"[{lo:.4g}, {hi:.4g}] and a row sum of {sums[np.abs(sums - 1).argmax()]:.4g}. "
                "Logits? Apply softmax(logits, dim=-1) first."
            )
        return np.array(p)

    def _check_label(self, label: Any) -> int | None:
        if label is None:
            return None
        if hasattr(label, "item") and getattr(label, "ndim", 0) == 0:
            label = label.item()
        if isinstance(label, str):
            if label not in self.class_names:
                raise ValueError(f"AttentionExplorer true_label: {label!r} is not one of the class names {self.class_names}")
            return self.class_names.index(label)
        if isinstance(label, bool) or not isinstance(label, (int, np.integer)) or not 0 <= label < len(self.class_names):
            raise ValueError(
                f"AttentionExplorer true_label: expected a class index in 0..{len(self.class_names) - 1} or a "
                f"class name; got {label!r}"
            )
        return int(label)

    @staticmethod
    def _check_t(a: np.ndarray, n: int, name: str, what: str) -> None:
        if a.shape[0] != n:
            raise ValueError(
                f"AttentionExplorer {name}: has T={a.shape[0]} {what} but frames has T={n} frames "
                f"(shape {tuple(a.shape)}); need one per frame"
            )

    @staticmethod
    def _check_nonneg(a: np.ndarray, name: str) -> None:
        if (a < 0).any():
            raise ValueError(
                f"AttentionExplorer {name}: attention weights must be non-negative (e.g. softmax outputs); "
                f"got minimum {a.min():.4g}"
            )

    @classmethod
    def _check_boxes(cls, boxes: Any, n: int) -> np.ndarray:
        b = viz._as_numpy(boxes, "boxes") if not isinstance(boxes, (list, tuple)) else np.asarray(boxes)
        if not np.issubdtype(b.dtype, np.number):
            raise TypeError(f"AttentionExplorer boxes: expected a real numeric (T, 4) array; got dtype {b.dtype}")
        b = b.astype(np.float64)
        if b.ndim != 2 or b.shape[1] != 4:
            raise ValueError(
                f"AttentionExplorer boxes: expected shape (T, 4) = ({n}, 4), (x0, y0, x1, y1) per frame; "
                f"got shape {tuple(b.shape)}"
            )
        cls._check_t(b, n, "boxes", "boxes")
        return b

    # ----------------------------------------------------------------------------------------------
    # drawing
    @staticmethod
    def _pad_height(frames: np.ndarray, height: int) -> np.ndarray:
        extra = height - frames.shape[1]
        if extra <= 0:
            return frames
        return np.pad(frames, ((0, 0), (0, extra), (0, 0), (0, 0)), constant_values=255)

    def _prob_chart(self, t: int, height: int) -> np.ndarray:
        """Bar chart of ``probs[t]``: ``(h, w, 3)`` uint8, ``h = max(height, what C rows need)``."""
        from PIL import Image, ImageDraw

        fs = self.FONT_SIZE
        font = viz._font(fs)
        ascent, descent = font.getmetrics()
        c = len(self.class_names)
        pad, header = 4, ascent + descent + 6
        row = int(np.clip((height - header - pad) // c, ascent + descent + 3, 2 * fs))
        marker, bar_w = fs, 120
        measure = ImageDraw.Draw(Image.new("RGB", (1, 1)))
        name_w = max(measure.textlength(s, font=font) for s in self.class_names) + 6
        val_w = measure.textlength("0.00", font=font) + 6
        header_w = max(measure.textlength(f"pred: {s} (correct)", font=font) for s in self.class_names)
        width = int(np.ceil(max(pad + marker + name_w + bar_w + val_w, header_w) + pad))
        img = Image.new("RGB", (width, max(height, header + c * row + pad)), (255, 255, 255))
        draw = ImageDraw.Draw(img)
        pred, true = int(self.predicted[t]), self.true_label
        pred_rgb = self.CORRECT_RGB if pred == true else self.WRONG_RGB
        verdict = "" if true is None else (" (correct)" if pred == true else " (wrong)")
        draw.text((pad, 3), f"pred: {self.class_names[pred]}{verdict}", fill=pred_rgb, font=font)
        bx = pad + marker + name_w
        for i, (name, p) in enumerate(zip(self.class_names, self.probs[t])):
            y = header + i * row
            ty = y + (row - ascent - descent) // 2
            if i == true:
                cy = y + row // 2
                draw.polygon([(pad, cy - 4), (pad, cy + 4), (pad + 7, cy)], fill=self.CORRECT_RGB)
            draw.text((pad + marker, ty), name, font=font, fill=self.CORRECT_RGB if i == true else (0, 0, 0))
            draw.rectangle([bx, y + 2, bx + bar_w - 1, y + row - 3], fill=(242, 242, 242))  # track = 1.0
            length = int(round(p * bar_w))
            if length > 0:
                draw.rectangle([bx, y + 2, bx + length - 1, y + row - 3], fill=pred_rgb if i == pred else self.BAR_RGB)
            draw.text((bx + bar_w + 4, ty), f"{p:.2f}", font=font, fill=(0, 0, 0))
        return np.asarray(img, dtype=np.uint8)

    def _temporal_label(self, t: int) -> str:
        assert self.temporal is not None
        if self.temporal.ndim == 1:
            return f"temporal attention over the clip: frame {t} has weight {self.temporal[t]:.2f}"
        return f"temporal attention at step {t} over the last {self.temporal.shape[1]} frames"

    def _temporal_chart(self, t: int, width: int) -> np.ndarray:
        """Temporal attention at step ``t`` as one bar slot per frame: ``(h, width, 3)`` uint8."""
        from PIL import Image, ImageDraw

        assert self.temporal is not None
        fs = self.FONT_SIZE
        font = viz._font(fs)
        ascent, descent = font.getmetrics()
        n = len(self.temporal)
        pad, line_h, bar_h, tick_h = 6, ascent + descent, 40, ascent + descent + 10
        # the label is wrapped, never cut; every step gets as many lines as the longest label needs
        lines = viz._wrap_text(self._temporal_label(t), font, width - 2 * pad)
        label_h = max(len(viz._wrap_text(self._temporal_label(f), font, width - 2 * pad)) for f in range(n)) * line_h + 6
        img = Image.new("RGB", (width, label_h + bar_h + tick_h), (255, 255, 255))
        draw = ImageDraw.Draw(img)
        wmax = float(self.temporal.max()) or 1.0
        if self.temporal.ndim == 1:
            frames_, weights = np.arange(n), self.temporal
        else:
            k = self.temporal.shape[1]
            frames_ = t - k + 1 + np.arange(k)
            weights = self.temporal[t]
            keep = frames_ >= 0
            frames_, weights = frames_[keep], weights[keep]
        for j, line in enumerate(lines):
            draw.text((pad, 3 + j * line_h), line, font=font, fill=(0, 0, 0))
        slot = (width - 2 * pad) / n
        bar = min(max(1.0, 0.7 * slot), 28.0)
        base = label_h + bar_h

        def x_of(f: int) -> float:
            return pad + (f + 0.5) * slot

        if self.temporal.ndim == 2 and len(frames_):  # shade the window
            draw.rectangle([round(x_of(frames_[0]) - slot / 2), label_h, round(x_of(frames_[-1]) + slot / 2) - 1,
                            base - 1], fill=(232, 240, 250))
        for f, wt in zip(frames_, weights):
            hgt = int(round(wt / wmax * (bar_h - 2)))
            if hgt > 0:
                x = x_of(int(f))
                draw.rectangle([round(x - bar / 2), base - hgt, round(x + bar / 2) - 1, base - 1],
                               fill=self.CURRENT_RGB if f == t else self.TEMPORAL_RGB)
        draw.line([(pad, base), (width - pad - 1, base)], fill=(0, 0, 0), width=1)
        x = x_of(t)  # current-frame marker under the axis
        draw.polygon([(x - 4, base + 8), (x + 4, base + 8), (x, base + 2)], fill=self.CURRENT_RGB)
        every = max(1, int(np.ceil((draw.textlength(str(n - 1), font=font) + 6) / slot)))
        for f in range(0, n, every):
            s = str(f)
            draw.text((x_of(f) - draw.textlength(s, font=font) / 2, base + 9), s, font=font, fill=(90, 90, 90))
        return np.asarray(img, dtype=np.uint8)

    def __repr__(self) -> str:
        h, w = self.frames.shape[1:3]
        parts = [f"T={self.num_frames}", f"C={len(self.class_names)}"]
        parts += [k for k in ("spatial", "temporal", "boxes") if getattr(self, k) is not None]
        return f"AttentionExplorer({', '.join(parts)}, size={w}x{h}, fps={self.fps:g})"


# --------------------------------------------------------------------------------------------------
# ClipPicker
# --------------------------------------------------------------------------------------------------
#: Shown next to a control that runs Python: a saved notebook (or a stopped kernel) keeps the control but not
#: the code behind it.
KERNEL_NOTE = "needs a running kernel (in a saved notebook it does nothing)"


class ClipPicker:
    """A dropdown of clips and the view of the picked one (e.g. an :class:`AttentionExplorer` per clip).

    Args:
        make: ``index -> view``: builds the view of clip ``index``, any object with an ipywidgets ``.widget`` and
            a static ``.to_html()`` (a :class:`ClipPlayer`, an :class:`AttentionExplorer`). Called the first time a
            clip is picked; its view is kept, so going back to a clip is instant.
        options: ``{caption: index}``, a sequence of ``(caption, index)`` pairs, or a sequence of clip indices
            (captioned ``"clip <index>"``).
        value: the clip shown first (default: the first option).
        title: optional bold line above the dropdown.

    Picking a clip runs ``make`` in the kernel, so it needs a running kernel; the note next to the dropdown says
    so, and the static fallback (:meth:`to_html`: the shown clip's view) names the clip it shows.

    Attributes:
        picker: the ``ipywidgets.Dropdown`` (its ``value`` is the clip index); ``note``: the ``HTML`` next to it;
        view: the ``Box`` holding the shown clip's widget; ``clip``: the shown index; ``current``: its view;
        ``widget``: the whole ``VBox``.
    """

    def __init__(self, make: Any, options: Mapping[str, int] | Sequence[int] | Sequence[tuple[str, int]],
                 value: int | None = None,
                 title: str | None = None) -> None:
        import ipywidgets as W

        if not callable(make):
            raise TypeError(f"ClipPicker: make must be a callable index -> view; got {type(make).__name__}")
        if isinstance(options, Mapping):
            pairs = [(str(k), v) for k, v in options.items()]
        elif isinstance(options, (str, bytes)) or not isinstance(options, (Sequence, np.ndarray)):
            raise TypeError(f"ClipPicker: options must be {{caption: index}} or a sequence of clip indices; "
                            f"got {type(options).__name__}")
        else:
            pairs = [(str(v[0]), v[1]) if isinstance(v, tuple) and len(v) == 2 else (f"clip {v}", v) for v in options]
        if not pairs:
            raise ValueError("ClipPicker: options is empty; expected at least one clip")
        for caption, v in pairs:
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
                raise TypeError(f"ClipPicker: option {caption!r} must be a clip index (int); got {v!r}")
        self.options = [(caption, int(v)) for caption, v in pairs]
        self.captions = {v: caption for caption, v in reversed(self.options)}
        start = self.options[0][1] if value is None else value
        if start not in self.captions:
            raise ValueError(f"ClipPicker: value {start!r} is not one of the options' clip indices "
                             f"{sorted(self.captions)[:10]}{' ...' if len(self.captions) > 10 else ''}")
        self.make = make
        self.title = title
        self._views: dict[int, Any] = {}
        self.picker = W.Dropdown(options=self.options, value=int(start), description="clip",
                                 layout=W.Layout(width="max-content"))
        self.note = W.HTML(f'<span style="color: #666"><i>Picking a clip {html.escape(KERNEL_NOTE)}.</i></span>')
        self.view = W.Box()
        children: list[Any] = [W.HTML(f"<b>{html.escape(title)}</b>")] if title else []
        self.widget = W.VBox([*children, W.HBox([self.picker, self.note]), self.view])
        self.widget.add_class("vidkit-clippicker")
        self.clip: int = -1
        self.current: Any = None
        self.show(int(start))
        self.picker.observe(lambda change: self.show(int(change["new"])), names="value")

    def show(self, index: int) -> Any:
        """Show clip ``index`` (one of the options) and return its view; also moves the dropdown."""
        if index not in self.captions:
            raise ValueError(f"ClipPicker: clip {index!r} is not one of the options")
        if index not in self._views:
            self._views[index] = self.make(index)
        self.clip, self.current = index, self._views[index]
        self.view.children = (self.current.widget,)
        if self.picker.value != index:
            self.picker.value = index
        return self.current

    def to_html(self) -> str:
        """Static HTML: the shown clip's view, and which clip it is (other clips need a running kernel)."""
        head = f"<div><b>{html.escape(self.title)}</b></div>" if self.title else ""
        note = (f"<div><i>Static view of {html.escape(self.captions[self.clip])}. Picking another clip "
                f"{html.escape(KERNEL_NOTE)}.</i></div>")
        return f'<div class="vidkit-clippicker">{head}{note}{self.current.to_html()}</div>'

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None, **kwargs: Any) -> dict[str, Any]:
        """Widget view (live) + ``text/html`` of the shown clip (static fallback) + ``text/plain``."""
        return widget_mimebundle(self, include, exclude, **kwargs)

    def __repr__(self) -> str:
        return f"ClipPicker({len(self.options)} clips, showing {self.captions[self.clip]!r})"


def _per_clip(x: Any, name: str, n: int, shape: str) -> Any:
    """``x`` (or None) after checking that it has one entry per clip (``len(x) == n``)."""
    if x is None:
        return None
    try:
        size = len(x)
    except TypeError:
        raise TypeError(f"AttentionExplorer.for_clips {name}: expected one entry per clip, shape {shape}; "
                        f"got {type(x).__name__}") from None
    if size != n:
        raise ValueError(f"AttentionExplorer.for_clips {name}: has {size} entries but frames has N={n} clips; "
                         f"expected shape {shape}")
    return x
