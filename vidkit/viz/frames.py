"""Static visualisation and export of video clips.

Every function here accepts a *clip* in any of the layouts below, as a numpy array or a torch tensor
(torch tensors are detached and moved to the CPU; torch is never imported by this module):

* ``(T, H, W)``            - grayscale
* ``(T, 1, H, W)``, ``(T, 3, H, W)``  - channels first (the torch convention)
* ``(T, H, W, 1)``, ``(T, H, W, 3)``  - channels last (the imageio / matplotlib convention)

with dtype ``uint8`` (0..255) or floating point with values in ``[0, 1]``. A *single frame* always
needs a leading time axis (``frame[None]``): a 3-D array is read as ``(T, H, W)``. When both axis 1
and the last axis have size 1 or 3 (e.g. ``(T, 3, 4, 3)``), axis 1 is taken as the channel axis.

Contents:

* :func:`to_rgb_uint8` - any clip layout to ``(T, H, W, 3)`` uint8, with clear errors.
* :func:`show_strip`, :func:`show_grid` - matplotlib frame strips (one row per clip).
* :func:`flow_to_rgb`, :func:`show_flow`, :func:`color_wheel_legend` - optical-flow pictures.
* :func:`side_by_side` - glue clips into one labelled clip ("input | truth | prediction | error"), in rows
  under a ``max_width``; labels are drawn with DejaVu Sans (:func:`font_path`), wrapped, never below
  :data:`LABEL_MIN_PX` and never cut.
* :func:`rollout_panels` - time-aligned ``[input |] truth | model | error`` clips of a rollout, for the player.
* :func:`save_gif`, :func:`save_mp4` - atomic GIF / MP4 export of any clip layout, through
  :func:`vidkit.data.video.write_video` (moviepy 2), the kit's one video writer.
* :func:`gif_html` - an ``<img>`` tag holding an animated GIF (the static fallback of the player).

Note on GIFs: Pillow's GIF encoder merges *identical consecutive* frames into one frame with the summed
duration, so a GIF of a clip with repeated frames reads back with fewer frames (its total duration is
unchanged).
"""

from __future__ import annotations

import base64
import functools
import html
import io
import os
import textwrap
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from vidkit.utils.checks import check_int, check_real
from vidkit.utils.fileio import atomic_write_path

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "ClipFormatError",
    "to_rgb_uint8",
    "upscale",
    "show_strip",
    "show_grid",
    "flow_to_rgb",
    "show_flow",
    "color_wheel_legend",
    "side_by_side",
    "rollout_panels",
    "save_gif",
    "save_mp4",
    "gif_html",
]

#: Float clips may exceed [0, 1] by this much (float rounding) before an error is raised.
FLOAT_TOLERANCE = 1e-5
_LAYOUTS = "(T, H, W), (T, 1, H, W), (T, 3, H, W), (T, H, W, 1) or (T, H, W, 3)"


class ClipFormatError(ValueError):
    """A clip has the wrong shape, dtype or value range. Subclass of :class:`ValueError`."""


class ClipDtypeError(ClipFormatError, TypeError):
    """A clip has an unsupported dtype. Subclass of both :class:`ValueError` and :class:`TypeError`."""


# --------------------------------------------------------------------------------------------------
# conversion
# --------------------------------------------------------------------------------------------------
def _as_numpy(x: Any, name: str = "clip") -> np.ndarray:
    """numpy array from a numpy array, a torch tensor, or a list/tuple of frames."""
    if isinstance(x, np.ndarray):
        return x
    if hasattr(x, "detach") and hasattr(x, "cpu") and hasattr(x, "numpy"):  # torch.Tensor (duck-typed)
        t = x.detach().cpu()
        if str(t.dtype) == "torch.bfloat16":  # numpy has no bfloat16
            t = t.float()
        return t.numpy()
    if isinstance(x, (list, tuple)) and len(x) > 0:
        try:
            return np.stack([_as_numpy(f, name) for f in x])
        except ValueError as e:
            raise ClipFormatError(f"{name}: cannot stack a list of frames with different shapes ({e})") from e
    raise TypeError(
        f"{name}: expected a numpy array or torch tensor of shape {_LAYOUTS}; got {type(x).__name__}"
    )


def _to_uint8_frames(frames: Any, name: str = "clip") -> np.ndarray:
    """Validate a clip and return it as ``(T, H, W, C)`` uint8 with ``C`` in {1, 3} (no copy if possible)."""
    arr = _as_numpy(frames, name)
    shape = tuple(arr.shape)
    if arr.ndim == 3:
        arr = arr[..., None]
    elif arr.ndim == 4:
        if arr.shape[1] in (1, 3):
            arr = arr.transpose(0, 2, 3, 1)
        elif arr.shape[-1] not in (1, 3):
            raise ClipFormatError(
                f"{name}: a 4-D clip needs a channel axis of size 1 or 3, either at position 1 "
                f"(T, C, H, W) or last (T, H, W, C); got shape {shape}"
            )
    else:
        hint = " (a single frame needs a leading time axis: frame[None])" if arr.ndim == 2 else ""
        raise ClipFormatError(f"{name}: expected a clip of shape {_LAYOUTS}; got ndim={arr.ndim}, shape {shape}{hint}")
    if 0 in arr.shape:
        raise ClipFormatError(f"{name}: clip is empty (shape {shape}); expected T, H, W >= 1")

    if arr.dtype == np.uint8:
        return arr
    if np.issubdtype(arr.dtype, np.floating):
        a = arr.astype(np.float32, copy=False)
        if not np.isfinite(a).all():
            raise ClipFormatError(f"{name}: float clip contains NaN or inf; expected finite values in [0, 1]")
        lo, hi = float(a.min()), float(a.max())
        if lo < -FLOAT_TOLERANCE or hi > 1.0 + FLOAT_TOLERANCE:
            raise ClipFormatError(
                f"{name}: float clips must have values in [0, 1]; got range [{lo:.4g}, {hi:.4g}]. "
                "Rescale first, e.g. x / 255 for 0..255 data, (x - x.min()) / (x.max() - x.min()) "
                "for arbitrary data, or clamp with x.clip(0, 1)."
            )
        return np.rint(np.clip(a, 0.0, 1.0) * 255.0).astype(np.uint8)
    raise ClipDtypeError(
        f"{name}: expected dtype uint8 (0..255) or float with values in [0, 1]; got dtype {arr.dtype}. "
        "Convert with .astype(np.uint8) for 0..255 integers or divide by 255 for floats."
    )


def to_rgb_uint8(frames: Any) -> np.ndarray:
    """Convert a clip to ``(T, H, W, 3)`` uint8 (a new C-contiguous array).

    Args:
        frames: numpy array or torch tensor of shape ``(T, H, W)``, ``(T, 1|3, H, W)`` or
            ``(T, H, W, 1|3)``; dtype uint8 or float with values in ``[0, 1]`` (tolerance
            :data:`FLOAT_TOLERANCE`). Single-channel clips are repeated to 3 channels.

    Returns:
        ``(T, H, W, 3)`` uint8 array.

    Raises:
        ClipFormatError: (a ``ValueError``) wrong ndim/shape, empty clip, NaN/inf, float values outside [0, 1].
        ClipDtypeError: (a ``ValueError`` and ``TypeError``) any dtype other than uint8 or float.
        TypeError: not an array or tensor.
    """
    arr = _to_uint8_frames(frames)
    if arr.shape[-1] == 1:
        arr = np.repeat(arr, 3, axis=-1)
    return np.array(arr, dtype=np.uint8, order="C", copy=True)


def upscale(frames: np.ndarray, scale: int) -> np.ndarray:
    """Nearest-neighbour upscaling of ``(T, H, W, C)`` frames to ``(T, H*scale, W*scale, C)``."""
    scale = check_int("scale", scale)
    if scale == 1:
        return frames
    return np.repeat(np.repeat(frames, scale, axis=1), scale, axis=2)


# --------------------------------------------------------------------------------------------------
# matplotlib strips and grids
# --------------------------------------------------------------------------------------------------
_STRIP_GAP = 2  # white pixels between frames in a strip


def _strip_image(frames: np.ndarray, gap: int = _STRIP_GAP) -> np.ndarray:
    """``(T, H, W, C)`` uint8 -> ``(H, T*W + (T-1)*gap, C)`` with white gaps."""
    t, h, w, c = frames.shape
    out = np.full((h, t * w + (t - 1) * gap, c), 255, dtype=np.uint8)
    for i in range(t):
        x0 = i * (w + gap)
        out[:, x0 : x0 + w] = frames[i]
    return out


def _draw_strip(ax: Axes, clip: Any, every: int, name: str, width: int | None = None) -> None:
    """Draw one clip as a single image of frames side by side into ``ax`` (gray colormap if 1 channel)."""
    frames = _to_uint8_frames(clip, name)
    idx = np.arange(0, frames.shape[0], every)
    frames = frames[idx]
    img = _strip_image(frames)
    if img.shape[-1] == 1:
        ax.imshow(img[..., 0], cmap="gray", vmin=0, vmax=255, interpolation="nearest")
    else:
        ax.imshow(img, interpolation="nearest")
    w = frames.shape[2]
    ax.set_xticks([i * (w + _STRIP_GAP) + (w - 1) / 2 for i in range(len(idx))], [str(int(i)) for i in idx])
    ax.tick_params(axis="x", length=0, labelsize=9)
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)
    if width is not None:
        ax.set_xlim(-0.5, width - 0.5)


#: Widest strip figure (inches; 100 px each inline): JupyterLab shrinks wider pictures, and their text with them.
MAX_FIGURE_WIDTH_IN = 10.0


def _figsize(n_frames: int, h: int, w: int, rows: int = 1) -> tuple[float, float]:
    width_in = float(min(MAX_FIGURE_WIDTH_IN, max(3.0, 1.1 * n_frames)))
    strip_w_px = n_frames * w + (n_frames - 1) * _STRIP_GAP
    row_in = width_in * h / strip_w_px
    return width_in, rows * (row_in + 0.35) + 0.4


def show_strip(clip: Any, title: str | None = None, ax: Axes | None = None, every: int = 1) -> Figure:
    """Show a clip as one row of frames (matplotlib).

    Args:
        clip: ``(T, H, W)``, ``(T, 1|3, H, W)`` or ``(T, H, W, 1|3)``; uint8 or float in ``[0, 1]``.
            Single-channel clips use the gray colormap (0 = black, 255 = white).
        title: axes title.
        ax: draw into this Axes (the strip is one image); a new figure is created if ``None``.
        every: show every ``every``-th frame; tick labels are the original frame indices.

    Returns:
        The matplotlib Figure (in a notebook, end the line with ``;`` to avoid showing it twice).
    """
    every = check_int("every", every)
    frames = _to_uint8_frames(clip)
    if ax is None:
        import matplotlib.pyplot as plt

        n = len(range(0, frames.shape[0], every))
        fig, ax = plt.subplots(figsize=_figsize(n, frames.shape[1], frames.shape[2]), layout="constrained")
    _draw_strip(ax, frames, every, "clip")
    ax.set_xlabel("t", fontsize=9)
    if title is not None:
        ax.set_title(title)
    return ax.figure


def _named_clips(clips: Any, labels: Sequence[str] | None, what: str) -> tuple[list[Any], list[str] | None]:
    """(clips, labels) from a dict (keys are labels) or a list (+ optional labels)."""
    if isinstance(clips, Mapping):
        if labels is not None:
            raise ValueError(f"{what}: pass labels either as dict keys or as labels=..., not both")
        items = list(clips.items())
        if not items:
            raise ValueError(f"{what}: expected at least one clip; got an empty dict")
        return [c for _, c in items], [str(k) for k, _ in items]
    if isinstance(clips, np.ndarray) or hasattr(clips, "detach"):
        raise TypeError(f"{what}: expected a list or dict of clips; got a single {type(clips).__name__} (wrap it: [clip])")
    if not isinstance(clips, (list, tuple)):
        raise TypeError(f"{what}: expected a list or dict of clips; got {type(clips).__name__}")
    if len(clips) == 0:
        raise ValueError(f"{what}: expected at least one clip; got an empty list")
    if labels is not None:
        labels = [str(s) for s in labels]
        if len(labels) != len(clips):
            raise ValueError(f"{what}: got {len(clips)} clips but {len(labels)} labels")
    return list(clips), labels


#: Row labels of :func:`show_grid` wrap after this many characters.
ROW_LABEL_CHARS = 22


def show_grid(
    clips: Mapping[str, Any] | Sequence[Any],
    labels: Sequence[str] | None = None,
    title: str | None = None,
    every: int = 1,
) -> Figure:
    """Show several clips as a grid: one row per clip, one column per time step.

    Args:
        clips: ``{label: clip}`` (row labels are the keys) or a list of clips; each clip
            ``(T_i, H, W)``, ``(T_i, 1|3, H, W)`` or ``(T_i, H, W, 1|3)``. Lengths may differ (shorter rows
            end early); frames of equal size line up column by column.
        labels: row labels for a list of clips.
        title: figure title.
        every: show every ``every``-th frame.

    Returns:
        The matplotlib Figure.
    """
    import matplotlib.pyplot as plt

    every = check_int("every", every)
    clip_list, names = _named_clips(clips, labels, "show_grid")
    frames = [_to_uint8_frames(c, f"clips[{names[i] if names else i}]") for i, c in enumerate(clip_list)]
    n_max = max(len(range(0, f.shape[0], every)) for f in frames)
    h = max(f.shape[1] for f in frames)
    w = max(f.shape[2] for f in frames)
    fig, axes = plt.subplots(
        len(frames), 1, figsize=_figsize(n_max, h, w, rows=len(frames)), squeeze=False, layout="constrained"
    )
    width = n_max * w + (n_max - 1) * _STRIP_GAP
    for i, (ax, f) in enumerate(zip(axes[:, 0], frames)):
        _draw_strip(ax, f, every, f"clips[{i}]", width=width)
        if names:  # long row labels wrap, so the frames keep the figure's width
            label = "\n".join(textwrap.fill(part, ROW_LABEL_CHARS) for part in names[i].split("\n"))
            ax.set_ylabel(label, rotation=0, ha="right", va="center", fontsize=10)
    axes[-1, 0].set_xlabel("t", fontsize=9)
    if title is not None:
        fig.suptitle(title)
    return fig


# --------------------------------------------------------------------------------------------------
# optical flow
# --------------------------------------------------------------------------------------------------
def flow_to_rgb(flow: Any, max_mag: float | None = None) -> np.ndarray:
    """Colour-code optical flow (the colour-wheel convention of the Middlebury benchmark).

    Hue encodes direction (``atan2(dy, dx)`` in image coordinates, y pointing down: right = red,
    down = yellow-green, left = cyan, up = violet); saturation encodes magnitude, value is 1, so **zero
    flow is white** and the strongest motion is fully saturated.

    Args:
        flow: ``(2, H, W)`` or ``(T, 2, H, W)`` float array/tensor, channel 0 = dx, channel 1 = dy, in pixels.
        max_mag: magnitude (pixels) that maps to full saturation; larger magnitudes are clipped. Default:
            the largest magnitude in ``flow`` (over *all* frames, so colours are comparable over time).

    Returns:
        ``(H, W, 3)`` or ``(T, H, W, 3)`` uint8 RGB.
    """
    from matplotlib.colors import hsv_to_rgb

    f = _as_numpy(flow, "flow")
    if f.ndim not in (3, 4) or f.shape[-3] != 2:
        hint = ""
        if f.ndim in (3, 4) and f.shape[-1] == 2:
            hint = " (it looks channels-last; move the dx/dy axis first, e.g. np.moveaxis(flow, -1, -3))"
        raise ClipFormatError(f"flow: expected shape (2, H, W) or (T, 2, H, W); got {tuple(f.shape)}{hint}")
    if 0 in f.shape:
        raise ClipFormatError(f"flow: empty flow field, shape {tuple(f.shape)}")
    if not (np.issubdtype(f.dtype, np.floating) or np.issubdtype(f.dtype, np.integer)) or f.dtype == np.bool_:
        raise ClipDtypeError(f"flow: expected a real (float or int) dtype; got {f.dtype}")
    f = f.astype(np.float64)
    if not np.isfinite(f).all():
        raise ClipFormatError("flow: contains NaN or inf")
    dx, dy = f[..., 0, :, :], f[..., 1, :, :]
    mag = np.hypot(dx, dy)
    if max_mag is None:
        max_mag = float(mag.max())
    elif not (np.isfinite(max_mag) and max_mag > 0):
        raise ValueError(f"max_mag must be a positive number or None; got {max_mag!r}")
    sat = np.clip(mag / max_mag, 0.0, 1.0) if max_mag > 0 else np.zeros_like(mag)
    hue = np.mod(np.arctan2(dy, dx), 2 * np.pi) / (2 * np.pi)
    hsv = np.stack([hue, sat, np.ones_like(sat)], axis=-1)
    return np.rint(hsv_to_rgb(hsv) * 255).astype(np.uint8)


def _single_frame(frame: Any, name: str = "frame") -> np.ndarray:
    """One frame ``(H, W)``, ``(1|3, H, W)`` or ``(H, W, 1|3)`` -> ``(H, W, C)`` uint8."""
    arr = _as_numpy(frame, name)
    if arr.ndim not in (2, 3):
        raise ClipFormatError(f"{name}: expected one frame (H, W), (1|3, H, W) or (H, W, 1|3); got shape {tuple(arr.shape)}")
    if arr.ndim == 3 and arr.shape[0] not in (1, 3) and arr.shape[-1] not in (1, 3):
        raise ClipFormatError(f"{name}: expected one frame (H, W), (1|3, H, W) or (H, W, 1|3); got shape {tuple(arr.shape)}")
    return _to_uint8_frames(arr[None], name)[0]


def show_flow(
    frame: Any,
    flow: Any,
    ax: Axes | None = None,
    step: int = 4,
    color: str = "red",
    arrow_scale: float | None = None,
    title: str | None = None,
) -> Figure:
    """Draw a flow field as a quiver (one arrow every ``step`` pixels) over a frame.

    Args:
        frame: ``(H, W)``, ``(1|3, H, W)`` or ``(H, W, 1|3)``; uint8 or float in ``[0, 1]``.
        flow: ``(2, H, W)``, channel 0 = dx, channel 1 = dy (pixels, y pointing down).
        ax: draw into this Axes; a new figure is created if ``None``.
        step: arrow spacing in pixels.
        color: arrow colour.
        arrow_scale: arrow length = ``arrow_scale`` x displacement. Default: the longest arrow is
            ``step`` pixels long (``1.0`` draws true displacements).
        title: axes title.

    Returns:
        The matplotlib Figure.
    """
    img = _single_frame(frame)
    f = _as_numpy(flow, "flow")
    if f.ndim != 3 or f.shape[0] != 2:
        raise ClipFormatError(f"flow: expected shape (2, H, W) for show_flow; got {tuple(f.shape)}")
    if f.shape[1:] != img.shape[:2]:
        raise ClipFormatError(f"flow: spatial size {tuple(f.shape[1:])} does not match frame size {img.shape[:2]}")
    check_int("step", step)
    f = f.astype(np.float64)
    if ax is None:
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(4, 4 * img.shape[0] / img.shape[1]), layout="constrained")
    if img.shape[-1] == 1:
        ax.imshow(img[..., 0], cmap="gray", vmin=0, vmax=255, interpolation="nearest")
    else:
        ax.imshow(img, interpolation="nearest")
    h, w = img.shape[:2]
    ys, xs = np.mgrid[step // 2 : h : step, step // 2 : w : step]
    u, v = f[0][ys, xs], f[1][ys, xs]
    if arrow_scale is None:
        peak = float(np.hypot(u, v).max()) if u.size else 0.0
        arrow_scale = step / peak if peak > 0 else 1.0
    elif not (np.isfinite(arrow_scale) and arrow_scale > 0):
        raise ValueError(f"arrow_scale must be a positive number or None; got {arrow_scale!r}")
    # angles/scale_units "xy": arrows live in data (pixel) coordinates, so +dy points down like the image.
    ax.quiver(xs, ys, u, v, color=color, angles="xy", scale_units="xy", scale=1.0 / arrow_scale, width=0.006)
    ax.set_xlim(-0.5, w - 0.5)
    ax.set_ylim(h - 0.5, -0.5)
    ax.set_axis_off()
    if title is not None:
        ax.set_title(title)
    return ax.figure


def color_wheel_legend(ax: Axes | None = None, size: int = 65) -> Axes:
    """Draw the :func:`flow_to_rgb` colour wheel (direction -> hue, magnitude -> saturation) into ``ax``.

    The image y axis points down, like the frames, so the colour at the bottom is the colour of downward
    motion. Returns the Axes (a new small figure is created if ``ax`` is ``None``).
    """
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(1.6, 1.6), layout="constrained")
    r = (size - 1) / 2
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float64) - r
    rgb = flow_to_rgb(np.stack([xs, ys]), max_mag=r)
    rgb[np.hypot(xs, ys) > r] = 255
    ax.imshow(rgb, interpolation="bilinear")
    ax.set_axis_off()
    ax.set_title("flow direction", fontsize=8)
    return ax


# --------------------------------------------------------------------------------------------------
# composing clips
# --------------------------------------------------------------------------------------------------
#: The smallest label font size (pixels) the kit draws with Pillow: smaller text is hard to read in JupyterLab.
LABEL_MIN_PX = 11


def font_path() -> Path:
    """Path of DejaVu Sans, the TrueType font of every label the kit draws with Pillow (shipped with matplotlib,
    so it is always there; it has the glyphs Pillow's default font lacks, e.g. ``→``, ``×``, ``θ``)."""
    import matplotlib

    return Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"


@functools.lru_cache(maxsize=32)
def _font(size: int) -> Any:
    """DejaVu Sans at ``size`` pixels (a Pillow ``FreeTypeFont``)."""
    from PIL import ImageFont

    return ImageFont.truetype(str(font_path()), int(size))


def _wrap_text(text: str, font: Any, width: float) -> list[str]:
    """``text`` as lines no wider than ``width`` pixels in ``font``, never truncated.

    Lines break at ``\n`` and between words; a word wider than ``width`` on its own is split between
    characters. Every character of ``text`` is kept, except the spaces and newlines the lines break at.
    An empty ``text`` gives no lines.
    """
    if not text:
        return []
    lines: list[str] = []
    for paragraph in text.split("\n"):
        line = ""
        for word in paragraph.split():
            candidate = f"{line} {word}" if line else word
            if font.getlength(candidate) <= width:
                line = candidate
                continue
            if line:
                lines.append(line)
            while len(word) > 1 and font.getlength(word) > width:  # a word too wide on its own: split it
                cut = 1
                while font.getlength(word[: cut + 1]) <= width:
                    cut += 1
                lines.append(word[:cut])
                word = word[cut:]
            line = word
        lines.append(line)
    return lines


def _text_band(
    segments: Sequence[tuple[int, int, str]], width: int, background: int, font_size: int
) -> np.ndarray:
    """Render texts on a ``(h, width, 3)`` uint8 band. ``segments`` = ``(x0, w, text)`` per panel.

    Each text is wrapped onto as many lines as its panel's width needs (:func:`_wrap_text`), at ``font_size``
    pixels but never below :data:`LABEL_MIN_PX`, and never cut; each line is centred in its panel. The band is
    as tall as the longest text, and shorter texts sit at its bottom, next to their panels.
    """
    from PIL import Image, ImageDraw

    font = _font(max(int(font_size), LABEL_MIN_PX))
    ascent, descent = font.getmetrics()
    line_h = ascent + descent
    wrapped = [(x0, w, _wrap_text(text, font, max(1, w - 2))) for x0, w, text in segments]
    n_lines = max([len(lines) for _, _, lines in wrapped] + [1])
    height = n_lines * line_h + 4
    band = Image.new("RGB", (width, height), (background,) * 3)
    draw = ImageDraw.Draw(band)
    ink = (0, 0, 0) if background >= 128 else (255, 255, 255)
    for x0, w, lines in wrapped:
        top = 2 + (n_lines - len(lines)) * line_h
        for j, line in enumerate(lines):
            tx = round(x0 + (w - font.getlength(line)) / 2)
            draw.text((tx, top + j * line_h), line, fill=ink, font=font)
    return np.asarray(band, dtype=np.uint8)


#: A label that needs more lines than this above its panel (or has a word wider than the panel) moves to a legend.
LABEL_MAX_LINES = 3


def _fits_above(text: str, width: int, font: Any) -> bool:
    """Whether ``text`` fits above a panel ``width`` pixels wide: no word split, at most LABEL_MAX_LINES lines."""
    return (all(font.getlength(word) <= width - 2 for word in text.split())
            and len(_wrap_text(text, font, max(1, width - 2))) <= LABEL_MAX_LINES)


def _label_size(names: Sequence[str], widths: Sequence[int], largest: int) -> int:
    """The largest font size from ``largest`` down to :data:`LABEL_MIN_PX` at which every label fits above its
    panel (:data:`LABEL_MIN_PX` if none does: those rows get a legend)."""
    for size in range(max(largest, LABEL_MIN_PX), LABEL_MIN_PX, -1):
        if all(_fits_above(text, w, _font(size)) for text, w in zip(names, widths)):
            return size
    return LABEL_MIN_PX


def _label_layout(names: Sequence[str], widths: Sequence[int], font: Any, first_key: int = 1) -> tuple[list[str], list[str]]:
    """Where the labels of one row of panels go: ``(above, legend)``.

    If every label fits above its panel (:data:`LABEL_MAX_LINES` lines at most, no word split), ``above`` holds
    the labels and ``legend`` is empty. Otherwise (narrow panels, long labels) each labelled panel gets a number
    above it (``first_key``, ``first_key + 1``, ...) and ``legend`` holds the entries ``"<number>: <label>"``
    (:func:`_legend_band` draws them). Either way no text is dropped.
    """
    if all(_fits_above(text, w, font) for text, w in zip(names, widths)):
        return list(names), []
    keys = [str(first_key + i) if text else "" for i, text in enumerate(names)]
    return keys, [f"{key}: {text}" for key, text in zip(keys, names) if text]


def _legend_band(entries: Sequence[str], width: int, background: int, font: Any) -> np.ndarray:
    """``entries`` in aligned columns, left to right then top to bottom, on a ``(h, width, 3)`` band; an entry
    wider than the band wraps (:func:`_wrap_text`), none is cut."""
    from PIL import Image, ImageDraw

    gap = round(font.getlength("    "))
    col_w = max(1, int(min(width - 4, max(font.getlength(e) for e in entries) + gap)))
    n_cols = max(1, (width - 4 + gap) // col_w)
    cells = [_wrap_text(e, font, max(1, col_w - gap if n_cols > 1 else width - 4)) for e in entries]
    rows = [cells[k:k + n_cols] for k in range(0, len(cells), n_cols)]
    line_h = sum(font.getmetrics())
    band = Image.new("RGB", (width, sum(max(len(c) for c in row) for row in rows) * line_h + 4), (background,) * 3)
    draw = ImageDraw.Draw(band)
    ink = (0, 0, 0) if background >= 128 else (255, 255, 255)
    y = 2
    for row in rows:
        for j, lines in enumerate(row):
            for k, line in enumerate(lines):
                draw.text((2 + j * col_w, y + k * line_h), line, fill=ink, font=font)
        y += max(len(c) for c in row) * line_h
    return np.asarray(band, dtype=np.uint8)


def _rows(widths: Sequence[int], pad: int, max_width: int | None) -> list[list[int]]:
    """Panel indices per row: one row if it fits ``max_width``, else the fewest rows of (nearly) equal panel
    counts that fit (one panel per row if even that is too wide)."""
    n = len(widths)

    def fits(row: list[int]) -> bool:
        return max_width is None or sum(widths[i] for i in row) + pad * (len(row) - 1) <= max_width

    for r in range(1, n + 1):
        per = -(-n // r)
        rows = [list(range(k, min(k + per, n))) for k in range(0, n, per)]
        if all(fits(row) for row in rows):
            return rows
    return [[i] for i in range(n)]


def side_by_side(
    clips: Sequence[Any] | Mapping[str, Any],
    labels: Sequence[str] | None = None,
    pad: int = 2,
    pad_value: int = 255,
    font_size: int | None = None,
    max_width: int | None = None,
) -> np.ndarray:
    """Glue clips horizontally into one clip, e.g. ``input | truth | prediction | error``.

    Args:
        clips: list of clips (or ``{label: clip}``), each ``(T, H, W_i)``, ``(T, 1|3, H, W_i)`` or
            ``(T, H, W_i, 1|3)``, uint8 or float in ``[0, 1]``; channel counts and dtypes may differ, but
            ``T`` and ``H`` must be equal.
        labels: one text per clip, rendered centred in a band *above* the frames (DejaVu Sans, :func:`font_path`).
            A label wider than its panel is wrapped onto several lines (at spaces and ``\n``); if some label
            would need more than :data:`LABEL_MAX_LINES` lines or has a word wider than its panel, all labels
            are drawn smaller, down to :data:`LABEL_MIN_PX`; if that is not enough (narrow panels), the row's
            panels are numbered and their labels listed in a legend above the numbers. Labels are never cut;
            the frames always fill the bottom ``H`` rows.
        pad: separator width in pixels between clips (and between rows).
        pad_value: separator (and label band) gray level, 0..255; default white.
        font_size: the largest label font size in pixels, at least :data:`LABEL_MIN_PX`; default from the
            narrowest panel (11..14 px).
        max_width: with ``None`` (default) all clips form one row. Otherwise, if that row is wider than
            ``max_width`` pixels, the clips are laid out in the fewest rows (of nearly equal clip counts,
            left to right, then top to bottom) that fit, each row with its own labels.

    Returns:
        ``(T, H_total, W_total, 3)`` uint8. One row: ``W_total = sum(W_i) + pad * (n - 1)`` and ``H_total = H``
        plus the label band (a little taller than ``font_size`` per line of the longest label). Several rows:
        ``W_total`` is the widest row (shorter rows are padded with ``pad_value`` on the right) and the rows are
        stacked ``pad`` pixels apart.
    """
    clip_list, names = _named_clips(clips, labels, "side_by_side")
    check_int("pad", pad, 0)
    if not 0 <= int(pad_value) <= 255:
        raise ValueError(f"pad_value must be a gray level in 0..255; got {pad_value!r}")
    if font_size is not None and (
        isinstance(font_size, bool) or not isinstance(font_size, (int, np.integer)) or font_size < LABEL_MIN_PX
    ):
        raise ValueError(
            f"font_size must be None or an integer >= {LABEL_MIN_PX} (pixels; smaller labels are hard to read; "
            f"long labels wrap instead); got {font_size!r}"
        )
    if max_width is not None and (
        isinstance(max_width, bool) or not isinstance(max_width, (int, np.integer)) or max_width < 1
    ):
        raise ValueError(f"max_width must be None or an integer >= 1 (pixels); got {max_width!r}")
    rgb = [_to_uint8_frames(c, f"clips[{i}]") for i, c in enumerate(clip_list)]
    rgb = [np.repeat(c, 3, axis=-1) if c.shape[-1] == 1 else c for c in rgb]
    for i, c in enumerate(rgb):
        if c.shape[0] != rgb[0].shape[0] or c.shape[1] != rgb[0].shape[1]:
            raise ClipFormatError(
                "side_by_side: clips need equal length T and height H; got (T, H) = "
                + ", ".join(f"{tuple(r.shape[:2])}" for r in rgb)
                + f" (clip {i} differs). Pad or crop them first (ClipPlayer pads lengths for you)."
            )
    widths = [c.shape[2] for c in rgb]
    if font_size is None:
        font_size = int(np.clip(min(widths) // 8, LABEL_MIN_PX, 14))
    labelled = names is not None and any(names)
    if labelled:  # one size for every row: the largest at which every label fits above its panel
        font_size = _label_size(names, widths, int(font_size))
    blocks = []
    for row in _rows(widths, int(pad), max_width):
        blocks.append(_one_row([rgb[i] for i in row], [names[i] for i in row] if labelled else None,
                               int(pad), int(pad_value), int(font_size), first_key=row[0] + 1))
    if len(blocks) == 1:
        return blocks[0]
    total = max(b.shape[2] for b in blocks)
    t = rgb[0].shape[0]
    parts = []
    for k, b in enumerate(blocks):
        if k:
            parts.append(np.full((t, pad, total, 3), pad_value, dtype=np.uint8))
        parts.append(np.pad(b, ((0, 0), (0, 0), (0, total - b.shape[2]), (0, 0)), constant_values=pad_value))
    return np.concatenate(parts, axis=1)


def _one_row(rgb: list[np.ndarray], names: list[str] | None, pad: int, pad_value: int, font_size: int,
             first_key: int = 1) -> np.ndarray:
    """``(T, H, W, 3)`` uint8 clips of equal ``T`` and ``H`` glued left to right, with a label band on top (a
    legend, then the panels' numbers, when the labels do not fit above their panels, :func:`_label_layout`)."""
    t, h = rgb[0].shape[:2]
    widths = [c.shape[2] for c in rgb]
    out = np.full((t, h, sum(widths) + pad * (len(rgb) - 1), 3), pad_value, dtype=np.uint8)
    x, segments = 0, []
    for i, (c, w) in enumerate(zip(rgb, widths)):
        out[:, :, x : x + w] = c
        segments.append((x, w, names[i] if names else ""))
        x += w + pad
    if names is None:
        return out
    above, legend = _label_layout(names, widths, _font(font_size), first_key)
    band = _text_band([(x0, w, text) for (x0, w, _), text in zip(segments, above)], out.shape[2], pad_value, font_size)
    if legend:  # the legend above the numbers, so the frames stay at the bottom of the row
        band = np.concatenate([_legend_band(legend, out.shape[2], pad_value, _font(font_size)), band])
    return np.concatenate([np.broadcast_to(band, (t, *band.shape)), out], axis=1)


#: Colour of the bar on top of observed (input) frames and of predicted frames in :func:`rollout_panels`.
OBSERVED_RGB, PREDICTED_RGB = (40, 160, 40), (200, 40, 40)


def _with_bar(rgb: np.ndarray, colour: tuple[int, int, int], height: int = 2) -> np.ndarray:
    out = rgb.copy()
    out[:, :height] = colour
    return out


def rollout_panels(inputs: Any, truth: Any | None, predictions: Mapping[str, Any],
                   error: bool = True, input_panel: bool = False) -> dict[str, np.ndarray]:
    """Time-aligned panels of a rollout, ready for :class:`vidkit.viz.widgets.ClipPlayer` or :func:`side_by_side`.

    Args:
        inputs: the observed frames ``(T_in, ...)`` (any clip layout, one channel).
        truth: the true future ``(T_out, ...)``, or ``None`` for a reconstruction (then each prediction is
            compared with ``inputs``).
        predictions: ``{name: clip}``; each clip has ``T_out`` frames (``T_in`` for a reconstruction) and
            may be longer than ``truth`` (a long rollout: the truth panel then shows blank frames).
        error: add an ``"error <name>"`` panel, ``|truth - prediction|``, per prediction.
        input_panel: for a future rollout, put an ``"input"`` panel first: the observed frames, then
            mid-gray (what the model was given, and nothing after), so the player reads
            ``input | truth | model | error``. (A reconstruction always has its ``"input"`` panel.)

    Returns:
        ``{["input": ...,] "truth": ..., name: ..., "error name": ...}``, each ``(T, H, W, 3)`` uint8 with the same ``T``:
        the observed frames first, then the future. A green bar marks observed frames, a red bar
        predicted ones.
    """
    if not isinstance(predictions, Mapping) or not predictions:
        raise TypeError("rollout_panels: predictions must be a non-empty dict {name: clip}")
    x = _to_uint8_frames(inputs, "inputs")[..., :1].astype(np.float32) / 255
    preds = {k: _to_uint8_frames(v, f"predictions[{k!r}]")[..., :1].astype(np.float32) / 255
             for k, v in predictions.items()}
    recon = truth is None
    y = x if recon else _to_uint8_frames(truth, "truth")[..., :1].astype(np.float32) / 255
    if y.shape[1:] != x.shape[1:]:
        raise ClipFormatError(f"rollout_panels: truth frames {y.shape[1:3]} differ from the inputs' {x.shape[1:3]}")
    for k, v in preds.items():
        if v.shape[1:] != x.shape[1:]:
            raise ClipFormatError(f"rollout_panels: prediction {k!r} frames {v.shape[1:3]} differ from the "
                                  f"inputs' {x.shape[1:3]}")
        if recon and len(v) != len(x):
            raise ClipFormatError(f"rollout_panels: reconstruction {k!r} has {len(v)} frames, the inputs "
                                  f"{len(x)}; a reconstruction has one frame per input frame")
    t_future = max([y.shape[0]] + [v.shape[0] for v in preds.values()])

    def rgb(frames: np.ndarray) -> np.ndarray:
        return np.repeat(np.round(frames * 255).astype(np.uint8), 3, axis=-1)

    def padded(frames: np.ndarray, length: int) -> np.ndarray:
        blank = np.full((length - len(frames), *frames.shape[1:]), 0.5, np.float32)  # mid-gray: no data
        return np.concatenate([frames, blank])

    observed = _with_bar(rgb(x), OBSERVED_RGB)
    if recon:  # a reconstruction is aligned with the input, not with a future
        panels = {"input": observed}
        for k, v in preds.items():
            panels[k] = _with_bar(rgb(v), PREDICTED_RGB)
            if error:
                panels[f"error {k}"] = rgb(np.abs(v[: len(x)] - x))
        return panels
    panels = {"input": np.concatenate([observed, rgb(padded(y[:0], t_future))])} if input_panel else {}
    panels["truth"] = np.concatenate([observed, rgb(padded(y, t_future))])
    for k, v in preds.items():
        panels[k] = np.concatenate([observed, _with_bar(rgb(padded(v, t_future)), PREDICTED_RGB)])
        if error:
            n = min(len(v), len(y))
            err = np.concatenate([np.zeros_like(x), padded(np.abs(v[:n] - y[:n]), t_future)])
            panels[f"error {k}"] = rgb(err)
    return panels


# --------------------------------------------------------------------------------------------------
# export
# --------------------------------------------------------------------------------------------------
def _suffixed(path: str | os.PathLike, suffix: str) -> Path:
    """``path`` as a Path if it ends in ``suffix`` (any case), else a ValueError."""
    target = Path(path)
    if target.suffix.lower() != suffix:
        raise ValueError(f"expected a path ending in {suffix!r}; got {str(path)!r}")
    return target


def _atomic_write(path: str | os.PathLike, suffix: str, write: Callable[[Path], None]) -> Path:
    """Check that ``path`` ends in ``suffix``, then write it atomically (:func:`vidkit.utils.fileio.atomic_write_path`)."""
    return atomic_write_path(_suffixed(path, suffix), write, suffix=suffix)


def save_gif(frames: Any, path: str | os.PathLike, fps: float = 5, scale: int = 1) -> Path:
    """Write a clip as a looping animated GIF with moviepy 2, atomically.

    Args:
        frames: ``(T, H, W)``, ``(T, 1|3, H, W)`` or ``(T, H, W, 1|3)``; uint8 or float in ``[0, 1]``.
        path: target file ending in ``.gif``; parent folders are created. Written to a temp file in the
            same folder first, then moved onto ``path`` (an existing file survives a failed write).
        fps: frames per second (GIF delays are stored in 1/100 s).
        scale: integer nearest-neighbour upscaling factor (output ``(H*scale, W*scale)``).

    Returns:
        The written :class:`~pathlib.Path`. (Identical consecutive frames are merged by the GIF encoder.)
    """
    from vidkit.data.video import write_video

    fps = check_real("fps", fps, 0.0)
    rgb = upscale(to_rgb_uint8(frames), scale)
    return write_video(_suffixed(path, ".gif"), rgb, fps)


def save_mp4(frames: Any, path: str | os.PathLike, fps: float = 5, scale: int = 1) -> Path:
    """Write a clip as an H.264 MP4 (libx264, yuv420p) with moviepy 2 and imageio-ffmpeg's ffmpeg, atomically.

    Args:
        frames: ``(T, H, W)``, ``(T, 1|3, H, W)`` or ``(T, H, W, 1|3)``; uint8 or float in ``[0, 1]``.
        path: target file ending in ``.mp4``; parent folders are created; written via a temp file in the
            same folder and ``os.replace`` (an existing file survives a failed write).
        fps: frames per second.
        scale: integer nearest-neighbour upscaling factor. After scaling, an odd height/width is padded by
            one edge-replicated pixel (libx264 needs even sizes).

    Returns:
        The written :class:`~pathlib.Path`.
    """
    from vidkit.data.video import write_video

    fps = check_real("fps", fps, 0.0)
    rgb = upscale(to_rgb_uint8(frames), scale)
    return write_video(_suffixed(path, ".mp4"), rgb, fps)


def _gif_bytes(rgb: np.ndarray, fps: float) -> bytes:
    """Encode ``(T, H, W, 3)`` uint8 frames as a looping animated GIF in memory (Pillow)."""
    from PIL import Image

    images = [Image.fromarray(f) for f in rgb]
    buf = io.BytesIO()
    images[0].save(
        buf, format="GIF", save_all=True, append_images=images[1:], duration=max(1, round(1000 / fps)), loop=0
    )
    return buf.getvalue()


def gif_html(frames: Any, fps: float = 5, scale: int = 2, alt: str = "animated clip") -> str:
    """An ``<img src="data:image/gif;base64,...">`` tag showing a clip as a looping animated GIF.

    Works without a kernel or widget manager (nbconvert, GitHub, VS Code), hence the player's static fallback.

    Args:
        frames: ``(T, H, W)``, ``(T, 1|3, H, W)`` or ``(T, H, W, 1|3)``; uint8 or float in ``[0, 1]``.
        fps: frames per second (browsers play delays below 20 ms at 100 ms).
        scale: integer nearest-neighbour upscaling factor.
        alt: the image's alt text.

    Returns:
        An HTML string.
    """
    fps = check_real("fps", fps, 0.0)
    rgb = upscale(to_rgb_uint8(frames), scale)
    data = base64.b64encode(_gif_bytes(rgb, fps)).decode("ascii")
    h, w = rgb.shape[1:3]
    return (
        f'<img src="data:image/gif;base64,{data}" width="{w}" height="{h}" '
        f'alt="{html.escape(alt, quote=True)}" style="image-rendering: pixelated"/>'
    )


# --------------------------------------------------------------------------------------------------
# attention maps and boxes (used by vidkit.viz.widgets.AttentionExplorer)
# --------------------------------------------------------------------------------------------------
__all__ += ["colormap_lut", "upsample_attention", "overlay_heatmap", "draw_boxes", "attention_frames"]


def _float_array(x: Any, name: str, what: str) -> np.ndarray:
    """A finite float64 numpy array from a numpy array / torch tensor / nested list; ``what`` names the shape."""
    try:
        arr = _as_numpy(x, name) if not isinstance(x, (list, tuple)) else np.asarray(x)
    except TypeError:
        raise TypeError(f"{name}: expected a numpy array or torch tensor of shape {what}; got {type(x).__name__}") from None
    if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_) or np.issubdtype(arr.dtype, np.complexfloating):
        raise TypeError(f"{name}: expected a real numeric array of shape {what}; got dtype {arr.dtype}")
    arr = arr.astype(np.float64)
    if not np.isfinite(arr).all():
        raise ValueError(f"{name}: contains NaN or inf; expected finite values, shape {what}")
    return arr


def colormap_lut(cmap: str = "inferno") -> np.ndarray:
    """The 256 colours of a matplotlib colour map (e.g. ``"inferno"``, ``"jet"``, ``"viridis"``) as ``(256, 3)`` uint8.

    Raises:
        ValueError: unknown colour map name (the message lists a few valid ones).
    """
    import matplotlib

    try:
        cm = matplotlib.colormaps[cmap]
    except (KeyError, TypeError):
        raise ValueError(
            f"unknown matplotlib colour map {cmap!r}; try 'inferno', 'magma', 'viridis', 'jet' or 'turbo'"
        ) from None
    rgba = cm(np.linspace(0.0, 1.0, 256))
    return np.rint(rgba[:, :3] * 255).astype(np.uint8)


def _interp_matrix(n_out: int, n_in: int, interpolation: str) -> np.ndarray:
    """``(n_out, n_in)`` resampling weights, pixel-centre aligned (``align_corners=False``), edges clamped."""
    centres = (np.arange(n_out) + 0.5) * n_in / n_out - 0.5  # output pixel centres in input cell units
    m = np.zeros((n_out, n_in))
    if interpolation == "nearest":
        m[np.arange(n_out), np.clip(np.floor(centres + 0.5), 0, n_in - 1).astype(int)] = 1.0
        return m
    c = np.clip(centres, 0, n_in - 1)
    lo = np.floor(c).astype(int)
    hi = np.minimum(lo + 1, n_in - 1)
    frac = c - lo
    np.add.at(m, (np.arange(n_out), lo), 1.0 - frac)
    np.add.at(m, (np.arange(n_out), hi), frac)
    return m


def upsample_attention(heat: Any, size: tuple[int, int], interpolation: str = "bilinear") -> np.ndarray:
    """Upsample per-frame attention grids ``(T, Kh, Kw)`` (e.g. 8x8) to frame size ``(T, H, W)``.

    Args:
        heat: ``(T, Kh, Kw)`` real array (numpy or torch); a ``(T, K*K)`` flat softmax must be reshaped first.
        size: ``(H, W)`` of the frames.
        interpolation: ``"bilinear"`` (smooth; pixel-centre aligned, like ``F.interpolate(...,
            align_corners=False)``: a one-hot cell peaks at the cell's centre) or ``"nearest"`` (every cell
            becomes a block of about ``H/Kh x W/Kw`` pixels).

    Returns:
        ``(T, H, W)`` float32; values stay within the range of ``heat`` (both modes are convex combinations).
    """
    a = _float_array(heat, "heat", "(T, Kh, Kw)")
    if a.ndim != 3 or 0 in a.shape:
        raise ValueError(
            f"heat: expected attention of shape (T, Kh, Kw), e.g. (T, 8, 8); got shape {tuple(a.shape)}"
            + (" (a flat (T, K*K) map: reshape it to (T, K, K) first)" if a.ndim == 2 else "")
        )
    if interpolation not in ("bilinear", "nearest"):
        raise ValueError(f"interpolation must be 'bilinear' or 'nearest'; got {interpolation!r}")
    if len(size) != 2 or any(isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 1 for s in size):
        raise ValueError(f"size must be (H, W) with positive integers; got {size!r}")
    my = _interp_matrix(int(size[0]), a.shape[1], interpolation)
    mx = _interp_matrix(int(size[1]), a.shape[2], interpolation)
    return np.einsum("hk,tkl,wl->thw", my, a, mx).astype(np.float32)


def overlay_heatmap(
    frames: Any,
    heat: Any,
    alpha: float = 0.5,
    cmap: str = "inferno",
    normalize: str | None = "frame",
    interpolation: str = "bilinear",
) -> np.ndarray:
    """Alpha-blend per-frame spatial attention maps, colour-mapped, over a clip.

    Each ``Kh x Kw`` map is normalised, upsampled to the frame (:func:`upscale` the clip first for a sharper
    picture: the heat is always resampled to the frames' own size), coloured with ``cmap`` and blended:
    ``out = (1 - alpha) * frame + alpha * cmap(heat)``.

    Args:
        frames: clip ``(T, H, W)``, ``(T, 1|3, H, W)`` or ``(T, H, W, 1|3)``, uint8 or float in ``[0, 1]``.
        heat: ``(T, Kh, Kw)`` non-negative attention (e.g. ``(T, 8, 8)`` softmax weights), numpy or torch.
        alpha: heat-map opacity in ``[0, 1]``.
        cmap: matplotlib colour map name; ``"inferno"`` (default) maps the peak to its brightest colour.
        normalize: ``"frame"`` - divide each map by its own maximum (shows *where* each frame attends);
            ``"clip"`` - divide by the clip's maximum (also shows how peaked each frame is);
            ``None`` - use the values as they are (they must lie in ``[0, 1]``). An all-zero map stays 0.
        interpolation: ``"bilinear"`` or ``"nearest"`` (see :func:`upsample_attention`).

    Returns:
        ``(T, H, W, 3)`` uint8.

    Raises:
        ClipFormatError: bad clip. ValueError: ``heat`` not ``(T, Kh, Kw)``, a different ``T`` than the clip,
        negative / NaN / inf values, values above 1 with ``normalize=None``, bad ``alpha``, ``cmap`` or
        ``normalize``.
    """
    rgb = to_rgb_uint8(frames)
    a = _float_array(heat, "heat", "(T, Kh, Kw)")
    if a.ndim != 3:
        raise ValueError(
            f"heat: expected attention of shape (T, Kh, Kw), e.g. (T, 8, 8); got shape {tuple(a.shape)}"
            + (" (a flat (T, K*K) map: reshape it to (T, K, K) first)" if a.ndim == 2 else "")
        )
    if a.shape[0] != rgb.shape[0]:
        raise ValueError(f"heat has T={a.shape[0]} maps but the clip has T={rgb.shape[0]} frames; need one map per frame")
    if (a < 0).any():
        raise ValueError(f"heat: attention must be non-negative; got minimum {a.min():.4g}")
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float, np.integer, np.floating)) or not 0 <= alpha <= 1:
        raise ValueError(f"alpha must be a number in [0, 1]; got {alpha!r}")
    if normalize == "frame":
        peak = a.reshape(len(a), -1).max(axis=1)[:, None, None]
        a = np.divide(a, peak, out=np.zeros_like(a), where=peak > 0)
    elif normalize == "clip":
        a = a / a.max() if a.max() > 0 else a
    elif normalize is None:
        if a.max() > 1 + FLOAT_TOLERANCE:
            raise ValueError(f"heat: with normalize=None values must lie in [0, 1]; got maximum {a.max():.4g}")
    else:
        raise ValueError(f"normalize must be 'frame', 'clip' or None; got {normalize!r}")
    lut = colormap_lut(cmap)
    up = upsample_attention(a, rgb.shape[1:3], interpolation)
    colour = lut[np.rint(np.clip(up, 0, 1) * 255).astype(np.intp)]
    out = (1.0 - alpha) * rgb.astype(np.float32) + alpha * colour.astype(np.float32)
    return np.rint(out).astype(np.uint8)


def draw_boxes(
    frames: Any, boxes: Any, colour: tuple[int, int, int] = (0, 255, 0), width: int = 1
) -> np.ndarray:
    """Draw one rectangle outline per frame, e.g. the actor's bounding box.

    Args:
        frames: clip ``(T, H, W)``, ``(T, 1|3, H, W)`` or ``(T, H, W, 1|3)``, uint8 or float in ``[0, 1]``.
        boxes: ``(T, 4)`` ``(x0, y0, x1, y1)`` in pixels of ``frames`` (multiply by the factor if the clip was
            upscaled), ``x1``/``y1`` exclusive (``frame[y0:y1, x0:x1]`` is the box), numpy or torch. An empty
            box (``x1 == x0`` or ``y1 == y0``, e.g. the all-zero box of an invisible actor) or an all-NaN row
            draws nothing. Parts outside the frame are clipped.
        colour: outline RGB, three integers 0..255.
        width: outline thickness in pixels (drawn inside the box).

    Returns:
        ``(T, H, W, 3)`` uint8 copy of the clip with the outlines.

    Raises:
        ValueError: ``boxes`` not ``(T, 4)`` with the clip's ``T``; ``x1 < x0`` or ``y1 < y0`` (perhaps
        ``(x, y, w, h)`` boxes); inf or partly-NaN rows; bad ``colour`` / ``width``.
    """
    from PIL import Image, ImageDraw

    rgb = to_rgb_uint8(frames)
    b = _as_numpy(boxes, "boxes") if not isinstance(boxes, (list, tuple)) else np.asarray(boxes)
    if not np.issubdtype(b.dtype, np.number):
        raise TypeError(f"boxes: expected a real numeric (T, 4) array; got dtype {b.dtype}")
    b = b.astype(np.float64)
    if b.ndim != 2 or b.shape[1] != 4:
        raise ValueError(f"boxes: expected shape (T, 4) with (x0, y0, x1, y1) per frame; got shape {tuple(b.shape)}")
    if b.shape[0] != rgb.shape[0]:
        raise ValueError(f"boxes has T={b.shape[0]} rows but the clip has T={rgb.shape[0]} frames; need one box per frame")
    nan_rows = np.isnan(b).all(axis=1)
    good = b[~nan_rows]
    if not np.isfinite(good).all():
        raise ValueError("boxes: rows must be finite, or all-NaN for 'no box in this frame'; got inf or a partly-NaN row")
    bad = (good[:, 2] < good[:, 0]) | (good[:, 3] < good[:, 1])
    if bad.any():
        raise ValueError(
            f"boxes: need x1 >= x0 and y1 >= y0 (corners (x0, y0, x1, y1), x1/y1 exclusive); got {good[bad][0].tolist()} "
            "- are these (x, y, w, h) boxes? Convert with x1 = x + w, y1 = y + h."
        )
    if (
        len(colour) != 3
        or any(isinstance(c, bool) or not isinstance(c, (int, np.integer)) or not 0 <= c <= 255 for c in colour)
    ):
        raise ValueError(f"colour must be three integers in 0..255 (RGB); got {colour!r}")
    check_int("width", width)
    out = np.empty_like(rgb)
    for t, frame in enumerate(rgb):
        x0, y0, x1, y1 = (int(round(v)) if np.isfinite(v) else 0 for v in b[t])
        if nan_rows[t] or x1 <= x0 or y1 <= y0:
            out[t] = frame
            continue
        img = Image.fromarray(frame)
        ImageDraw.Draw(img).rectangle([x0, y0, x1 - 1, y1 - 1], outline=tuple(int(c) for c in colour), width=int(width))
        out[t] = np.asarray(img)
    return out


def attention_frames(frames: Any, heat: Any = None, boxes: Any = None, scale: int = 1, alpha: float = 0.5,
                     cmap: str = "inferno", box_colour: tuple[int, int, int] = (0, 255, 0),
                     box_width: int = 1) -> np.ndarray:
    """A clip as an attention model sees it: ``frames`` (any layout :func:`to_rgb_uint8` takes, ``T``
    frames of ``H x W``) upscaled by ``scale``, the ``(T, K, K)`` attention ``heat`` blended over them
    (:func:`overlay_heatmap`) and the ``(T, 4)`` ``boxes`` (pixels of the original frames) drawn
    (:func:`draw_boxes`); either may be None. Returns ``(T, H*scale, W*scale, 3)`` uint8."""
    rgb = upscale(to_rgb_uint8(frames), scale)
    if heat is not None:
        rgb = overlay_heatmap(rgb, heat, alpha=alpha, cmap=cmap)
    if boxes is not None:
        rgb = draw_boxes(rgb, np.asarray(boxes, dtype=np.float64) * scale, colour=box_colour, width=box_width)
    return rgb
