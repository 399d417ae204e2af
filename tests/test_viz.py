"""Tests for vidkit.viz.frames: conversion, figures, flow colours, composition and GIF/MP4 export."""

from __future__ import annotations

import base64
import io
import re
from pathlib import Path

import imageio.v2 as iio2
import imageio.v3 as iio
import matplotlib
import numpy as np
import pytest
import torch
from PIL import Image

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from vidkit.viz import frames as viz  # noqa: E402

T, H, W = 6, 10, 14


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture
def base() -> np.ndarray:
    """(T, H, W, 3) uint8 reference clip with distinct frames."""
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, size=(T, H, W, 3), dtype=np.uint8)


def moving_square(t: int = 8, size: int = 16) -> np.ndarray:
    """(t, size, size) float clip in [0, 1]: a bright square moving right, every frame distinct."""
    clip = np.zeros((t, size, size), np.float32)
    for i in range(t):
        x = i % (size - 4)
        clip[i, 4:8, x : x + 4] = 1.0
        clip[i, 0, 0] = i / max(t - 1, 1)  # make each frame unique even when the square wraps
    return clip


def read_mp4(path: Path) -> np.ndarray:
    reader = iio2.get_reader(str(path), format="FFMPEG")
    try:
        return np.stack([f for f in reader.iter_data()])  # list(reader) would call len() = inf
    finally:
        reader.close()


# --------------------------------------------------------------------------------------------------
# to_rgb_uint8
# --------------------------------------------------------------------------------------------------
LAYOUTS = {
    "THWC3": lambda b: b,
    "TCHW3": lambda b: b.transpose(0, 3, 1, 2),
    "THWC3_float": lambda b: b.astype(np.float32) / 255,
    "TCHW3_float64": lambda b: b.transpose(0, 3, 1, 2).astype(np.float64) / 255,
    "TCHW3_torch": lambda b: torch.from_numpy(b.transpose(0, 3, 1, 2).copy()),
    "TCHW3_torch_float": lambda b: torch.from_numpy(b.transpose(0, 3, 1, 2).astype(np.float32) / 255),
}


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_to_rgb_uint8_color_layouts(base, layout):
    out = viz.to_rgb_uint8(LAYOUTS[layout](base))
    assert out.shape == (T, H, W, 3) and out.dtype == np.uint8
    np.testing.assert_array_equal(out, base)


GRAY_LAYOUTS = {
    "THW": lambda g: g,
    "T1HW": lambda g: g[:, None],
    "THW1": lambda g: g[..., None],
    "THW_float": lambda g: g.astype(np.float32) / 255,
    "T1HW_torch_float": lambda g: torch.from_numpy(g[:, None].astype(np.float32) / 255),
    "THW1_torch_uint8": lambda g: torch.from_numpy(g[..., None].copy()),
    "THW_torch_bfloat16": lambda g: torch.from_numpy((g >= 128).astype(np.float32)).to(torch.bfloat16),
}


@pytest.mark.parametrize("layout", list(GRAY_LAYOUTS))
def test_to_rgb_uint8_gray_layouts(base, layout):
    gray = base[..., 0]
    if layout.endswith("bfloat16"):
        gray = np.where(gray >= 128, 255, 0).astype(np.uint8)
    out = viz.to_rgb_uint8(GRAY_LAYOUTS[layout](gray))
    assert out.shape == (T, H, W, 3) and out.dtype == np.uint8
    for c in range(3):
        np.testing.assert_array_equal(out[..., c], gray)


def test_to_rgb_uint8_float_rounding_and_copy():
    x = np.array([0.0, 0.5, 1.0, 1.0 + 1e-7], np.float32).reshape(1, 1, 4)
    np.testing.assert_array_equal(viz.to_rgb_uint8(x)[0, 0, :, 0], [0, 128, 255, 255])
    u = np.zeros((2, 3, 4, 3), np.uint8)
    out = viz.to_rgb_uint8(u)
    out[...] = 7
    assert u.max() == 0, "to_rgb_uint8 must not alias its input"


@pytest.mark.parametrize(
    ("bad", "exc", "match"),
    [
        (np.zeros((H, W), np.uint8), ValueError, r"\(T, H, W\).*frame\[None\]"),
        (np.zeros((2, T, 3, H, W), np.uint8), ValueError, r"ndim=5"),
        (np.zeros((T, H, W, 2), np.uint8), ValueError, r"channel axis of size 1 or 3"),
        (np.zeros((T, 4, H, W), np.float32), ValueError, r"channel axis"),
        (np.full((T, H, W), 2.0, np.float32), ValueError, r"\[0, 1\].*x / 255"),
        (np.full((T, H, W), -0.5, np.float32), ValueError, r"\[0, 1\]"),
        (np.full((T, H, W), np.nan, np.float32), ValueError, r"NaN"),
        (np.zeros((T, H, W), np.int64), ValueError, r"uint8.*int64"),
        (np.zeros((T, H, W), np.int64), TypeError, r"dtype"),
        (np.zeros((T, H, W), bool), ValueError, r"dtype bool"),
        (np.zeros((0, H, W), np.uint8), ValueError, r"empty"),
        ("not a clip", TypeError, r"numpy array or torch tensor"),
        (torch.full((T, 3, H, W), 255.0), ValueError, r"\[0, 1\]"),
    ],
)
def test_to_rgb_uint8_errors(bad, exc, match):
    with pytest.raises(exc, match=match):
        viz.to_rgb_uint8(bad)


def test_upscale_nearest():
    x = np.arange(4, dtype=np.uint8).reshape(1, 2, 2, 1)
    y = viz.upscale(x, 3)
    assert y.shape == (1, 6, 6, 1)
    np.testing.assert_array_equal(y[0, :3, :3, 0], 0)
    np.testing.assert_array_equal(y[0, 3:, 3:, 0], 3)
    for bad in (0, 1.5, True):
        with pytest.raises(ValueError, match="scale"):
            viz.upscale(x, bad)


# --------------------------------------------------------------------------------------------------
# figures
# --------------------------------------------------------------------------------------------------
def test_show_strip_gray_and_rgb(base):
    fig = viz.show_strip(base[..., 0], title="gray")
    ax = fig.axes[0]
    assert isinstance(fig, matplotlib.figure.Figure)
    assert ax.get_title() == "gray"
    img = ax.images[0]
    assert img.get_array().ndim == 2 and img.get_cmap().name == "gray"
    assert [t.get_text() for t in ax.get_xticklabels()] == [str(i) for i in range(T)]

    fig2, ax2 = plt.subplots()
    assert viz.show_strip(base, ax=ax2, every=2) is fig2
    assert ax2.images[0].get_array().shape[-1] == 3
    assert [t.get_text() for t in ax2.get_xticklabels()] == ["0", "2", "4"]
    with pytest.raises(ValueError, match="every"):
        viz.show_strip(base, every=0)


def test_show_grid_rows_and_labels(base):
    fig = viz.show_grid({"input": base[:3], "truth": base, "error": base[..., 0]}, title="g")
    assert len(fig.axes) == 3
    assert [ax.get_ylabel() for ax in fig.axes] == ["input", "truth", "error"]
    assert fig.axes[2].images[0].get_cmap().name == "gray"
    # columns line up: every row spans the width of the longest clip
    assert fig.axes[0].get_xlim() == fig.axes[1].get_xlim()
    fig = viz.show_grid([base, base], labels=["a", "b"])
    assert [ax.get_ylabel() for ax in fig.axes] == ["a", "b"]
    with pytest.raises(ValueError, match="2 clips but 1 labels"):
        viz.show_grid([base, base], labels=["a"])
    with pytest.raises(ValueError, match="not both"):
        viz.show_grid({"a": base}, labels=["a"])


# --------------------------------------------------------------------------------------------------
# flow
# --------------------------------------------------------------------------------------------------
def _hue(rgb: np.ndarray) -> float:
    from matplotlib.colors import rgb_to_hsv

    return float(rgb_to_hsv(rgb.astype(np.float64) / 255)[0])


def test_flow_to_rgb_zero_is_white_and_shapes():
    out = viz.flow_to_rgb(np.zeros((2, 5, 7), np.float32))
    assert out.shape == (5, 7, 3) and out.dtype == np.uint8
    assert (out == 255).all()
    out = viz.flow_to_rgb(torch.zeros(3, 2, 5, 7))
    assert out.shape == (3, 5, 7, 3) and (out == 255).all()
    for bad in (np.zeros((5, 7)), np.zeros((3, 5, 7)), np.zeros((5, 7, 2)), np.zeros((1, 1, 2, 5, 7))):
        with pytest.raises(ValueError, match=r"\(2, H, W\)"):
            viz.flow_to_rgb(bad)
    with pytest.raises(ValueError, match="max_mag"):
        viz.flow_to_rgb(np.ones((2, 3, 3)), max_mag=0)


def test_flow_to_rgb_direction_and_magnitude():
    flow = np.zeros((2, 1, 4), np.float32)
    flow[:, 0, 0] = (1, 0)  # right
    flow[:, 0, 1] = (-1, 0)  # left
    flow[:, 0, 2] = (0, 1)  # down
    flow[:, 0, 3] = (0.5, 0)  # right, half magnitude
    rgb = viz.flow_to_rgb(flow)[0]
    np.testing.assert_array_equal(rgb[0], [255, 0, 0])  # right = red, fully saturated
    hues = [_hue(rgb[i]) for i in range(3)]
    assert min(abs(hues[0] - hues[1]), 1 - abs(hues[0] - hues[1])) > 0.4  # opposite -> ~180 degrees apart
    assert len({round(h, 2) for h in hues}) == 3
    assert abs(_hue(rgb[3]) - hues[0]) < 0.02  # same direction, same hue
    assert rgb[3].min() > 100 and rgb[3].min() < 200  # half saturation
    # a given max_mag normalises (and clips) instead of the data maximum
    pale = viz.flow_to_rgb(flow, max_mag=10.0)[0]
    assert pale[0].min() > 200
    strong = viz.flow_to_rgb(flow, max_mag=0.25)[0]
    np.testing.assert_array_equal(strong[3], [255, 0, 0])


def test_show_flow_quiver_and_legend():
    from matplotlib.quiver import Quiver

    frame = np.zeros((16, 16), np.float32)
    flow = np.ones((2, 16, 16), np.float32)
    fig = viz.show_flow(frame, flow, step=4)
    q = [c for c in fig.axes[0].collections if isinstance(c, Quiver)]
    assert len(q) == 1 and q[0].N == 16
    with pytest.raises(ValueError, match="does not match"):
        viz.show_flow(frame, np.ones((2, 8, 8)))
    fig, ax = plt.subplots()
    assert viz.color_wheel_legend(ax) is ax
    wheel = ax.images[0].get_array()
    assert wheel.shape == (65, 65, 3) and (np.asarray(wheel[32, 32]) == 255).all()


# --------------------------------------------------------------------------------------------------
# side_by_side
# --------------------------------------------------------------------------------------------------
def test_side_by_side_shapes_and_content(base):
    gray_float = base[..., 0].astype(np.float32) / 255
    wide = np.zeros((T, H, 20, 1), np.uint8)
    out = viz.side_by_side([base, gray_float, wide.transpose(0, 3, 1, 2)], pad=3)
    assert out.shape == (T, H, W + W + 20 + 2 * 3, 3) and out.dtype == np.uint8
    np.testing.assert_array_equal(out[:, :, :W], base)
    assert (out[:, :, W : W + 3] == 255).all()  # separator
    np.testing.assert_array_equal(out[:, :, W + 3 : 2 * W + 3, 1], base[..., 0])

    labelled = viz.side_by_side([base, base], labels=["x", "y"], pad=2)  # short labels fit above 14 px panels
    band = labelled.shape[1] - H
    assert labelled.shape[0] == T and labelled.shape[2] == 2 * W + 2 and band > 0
    np.testing.assert_array_equal(labelled[:, band:, :W], base)
    assert (labelled[:, :band] < 255).any(), "labels must draw some text"
    assert viz.side_by_side({"x": base, "y": base}).shape == labelled.shape
    legend = viz.side_by_side({"input": base, "truth": base})  # too wide for 14 px: a legend and numbers above
    assert legend.shape[1] > labelled.shape[1] and legend.shape[2] == labelled.shape[2]
    np.testing.assert_array_equal(legend[:, -H:, :W], base)

    with pytest.raises(ValueError, match="equal length T and height H"):
        viz.side_by_side([base, base[:-1]])
    with pytest.raises(ValueError, match="equal length T and height H"):
        viz.side_by_side([base, base[:, :-1]])
    with pytest.raises(ValueError, match="2 clips but 3 labels"):
        viz.side_by_side([base, base], labels=["a", "b", "c"])


# labels: font, wrapping, rows
# --------------------------------------------------------------------------------------------------
MISSING = "\ue000"  # a private-use character: no font has a glyph for it, so it renders as the missing-glyph box


def test_labels_use_a_truetype_font_that_has_the_arrow():
    from fontTools.ttLib import TTFont
    from PIL import ImageFont

    font = viz._font(12)
    assert isinstance(font, ImageFont.FreeTypeFont) and viz.font_path().suffix == ".ttf"
    assert TTFont(str(viz.font_path())).getBestCmap().get(ord("→")), "the label font has no → glyph"

    def mask(f, ch):
        m = f.getmask(ch)
        return m.size, bytes(m)

    # Pillow's default font draws → as its missing-glyph box; the kit's font draws an arrow
    assert mask(ImageFont.load_default(size=12), "→") == mask(ImageFont.load_default(size=12), MISSING)
    assert mask(font, "→") != mask(font, MISSING)
    # and so does a label drawn by side_by_side: "t→t+1" differs from "t" + missing box + "t+1"
    clip = np.zeros((1, 16, 80, 3), np.uint8)
    arrow, box = (viz.side_by_side([clip], labels=[f"t{c}t+1"]) for c in ("→", MISSING))
    assert not np.array_equal(arrow, box)


def ink_lines(band: np.ndarray) -> list[tuple[int, int]]:
    """(first row, height) of each run of rows holding dark pixels: a text line (runs of 1-2 rows, the
    underscores below a line, are left out)."""
    rows = np.flatnonzero((band < 128).all(-1).any(1))
    runs = np.split(rows, np.flatnonzero(np.diff(rows) > 1) + 1)
    return [(int(r[0]), int(r[-1] - r[0] + 1)) for r in runs if len(r) > 2]


def test_wrap_text_keeps_every_character():
    font = viz._font(viz.LABEL_MIN_PX)
    text = "InfoNCE RGB #1: move_down, 3 and an extraordinarilylongwordthatcannotfit"
    lines = viz._wrap_text(text, font, 60)
    assert len(lines) > 3 and all(font.getlength(line) <= 60 for line in lines)
    assert "".join(lines).replace(" ", "") == text.replace(" ", "")
    assert viz._wrap_text("a\nb", font, 500) == ["a", "b"] and viz._wrap_text("", font, 50) == []


def test_long_labels_on_many_narrow_panels_stay_legible_and_whole():
    """11 panels of 32x32 with long labels: nothing shrinks below LABEL_MIN_PX, no word is lost."""
    labels = [f"InfoNCE RGB #{i + 1}: move_down, {i % 10}" for i in range(11)]
    clips = [np.full((2, 32, 32), 200, np.uint8)] * 11  # light frames: only the text is dark
    out = viz.side_by_side(clips, labels=labels)
    assert viz._label_size(labels, [32] * 11, 14) == viz.LABEL_MIN_PX
    font = viz._font(viz.LABEL_MIN_PX)
    above, legend = viz._label_layout(labels, [32] * 11, font)
    assert above == [str(i + 1) for i in range(11)]  # too long for 32 px: numbered panels and a legend
    assert legend == [f"{i + 1}: {label}" for i, label in enumerate(labels)]  # every label, whole
    np.testing.assert_array_equal(out[0, -32:, :32], 200)  # the frames fill the bottom rows
    band = viz._legend_band(legend, out.shape[2], 255, font)
    np.testing.assert_array_equal(out[0, : band.shape[0]], band)  # the legend on top, then the numbers
    lines = ink_lines(out[0, :-32])
    assert len(lines) == 11 + 1  # one legend entry per line (each is wider than half of 372 px), the numbers
    assert all(h >= 0.8 * viz.LABEL_MIN_PX for _, h in lines[:-1]), lines  # cap top to comma tail: ~ the size
    assert all(b - a >= viz.LABEL_MIN_PX for (a, _), (b, _) in zip(lines, lines[1:]))
    assert lines[-1][1] >= 8  # the numbers: digits of an 11 px font are 8 px tall
    # on wide panels the labels stay above them, wrapped onto lines of at least LABEL_MIN_PX
    wide = viz.side_by_side([np.full((2, 32, 96), 200, np.uint8)] * 11, labels=labels, max_width=900)
    size = viz._label_size(labels, [96] * 11, 14)
    assert size >= viz.LABEL_MIN_PX and viz._label_layout(labels, [96] * 11, viz._font(size)) == (labels, [])
    assert wide.shape[2] <= 900  # two rows: JupyterLab shows it unscaled
    lines = ink_lines(wide[0])
    assert len(lines) >= 4 and min(h for _, h in lines) >= 8
    with pytest.raises(ValueError, match="font_size must be None or an integer >= 11"):
        viz.side_by_side(clips, labels=labels, font_size=7)


def test_labels_shrink_to_fit_before_they_move_to_a_legend():
    """Notebook 01's reference player: "lstm_composite_ref" is too wide for 128 px at 14 px, not at 11-13 px."""
    labels = ["input", "error ref: lstm_composite_ref"]
    size = viz._label_size(labels, [128, 128], 14)
    assert viz.LABEL_MIN_PX <= size < 14
    out = viz.side_by_side([np.zeros((1, 8, 128), np.uint8)] * 2, labels=labels)
    assert viz._label_layout(labels, [128, 128], viz._font(size)) == (labels, [])
    assert out.shape[1] - 8 <= 3 * sum(viz._font(size).getmetrics()) + 4  # no legend band


def test_side_by_side_wraps_into_rows_under_max_width():
    clip = np.zeros((3, 20, 100, 3), np.uint8)
    one_row = viz.side_by_side([clip] * 11, pad=4)
    assert one_row.shape == (3, 20, 11 * 100 + 10 * 4, 3)
    rows = viz.side_by_side([clip + i for i in range(11)], pad=4, max_width=700)  # 6 + 5 panels
    assert rows.shape == (3, 20 + 4 + 20, 6 * 100 + 5 * 4, 3)
    assert rows[0, 0, 0, 0] == 0 and rows[0, 24, 0, 0] == 6  # the second row starts with panel 6
    assert (rows[:, 24:, 5 * 104:] == 255).all()  # the shorter row is padded on the right
    labelled = viz.side_by_side([clip] * 11, labels=[f"panel {i}" for i in range(11)], pad=4, max_width=700)
    assert labelled.shape[2] == 6 * 100 + 5 * 4 and labelled.shape[1] > 2 * 20 + 4
    assert viz.side_by_side([clip] * 3, max_width=50).shape == (3, 3 * 20 + 2 * 2, 100, 3)  # one per row at most
    with pytest.raises(ValueError, match="max_width"):
        viz.side_by_side([clip], max_width=0)


def test_show_grid_row_labels_wrap_and_figure_fits_the_notebook(base):
    long = "future predictor, real encoding"
    fig = viz.show_grid({long: base, "b": base}, every=1)
    assert fig.axes[0].get_ylabel().replace("\n", " ") == long and "\n" in fig.axes[0].get_ylabel()
    assert fig.axes[0].yaxis.label.get_fontsize() >= 10
    wide = viz.show_grid([np.zeros((40, 8, 8), np.uint8)])
    assert wide.get_size_inches()[0] <= viz.MAX_FIGURE_WIDTH_IN


# --------------------------------------------------------------------------------------------------
# export
# --------------------------------------------------------------------------------------------------
def test_save_gif_reads_back(tmp_path):
    clip = moving_square(8, 16)
    p = viz.save_gif(clip, tmp_path / "sub" / "clip.gif", fps=5, scale=2)
    assert isinstance(p, Path) and p == tmp_path / "sub" / "clip.gif"
    frames = iio.imread(p, index=None)
    assert frames.shape[:3] == (8, 32, 32)
    # frame order preserved: the 4x4 square sits at x = i, i.e. 2*i after 2x scaling
    for i in range(8):
        assert frames[i, 8:16, 2 * i : 2 * i + 8, :3].min() > 200
    assert sorted(x.name for x in p.parent.iterdir()) == ["clip.gif"]  # no temp file left


@pytest.mark.parametrize(("n", "fps"), [(10, 5), (14, 3), (7, 29.97)])
def test_exports_keep_every_frame(tmp_path, n, fps):
    """moviepy 2.1 rounding bugs drop/duplicate frames for these (T, fps); the exporters must not."""
    clip = np.broadcast_to(np.linspace(0, 1, n, dtype=np.float32)[:, None, None], (n, 8, 8))
    gif = iio.imread(viz.save_gif(clip, tmp_path / "a.gif", fps=fps), index=None)
    assert gif.shape[0] == n
    assert np.all(np.diff(gif[:, 4, 4, 0].astype(int)) > 0)
    mp4 = read_mp4(viz.save_mp4(clip, tmp_path / "a.mp4", fps=fps))
    assert mp4.shape[0] == n
    assert np.all(np.diff(mp4[:, 4, 4, 0].astype(int)) > 0)


def test_save_mp4_reads_back_and_pads_even(tmp_path):
    clip = np.random.default_rng(1).random((5, 9, 11, 3)).astype(np.float32)
    p = viz.save_mp4(clip, tmp_path / "odd.mp4", fps=5)
    frames = read_mp4(p)
    assert frames.shape == (5, 10, 12, 3)  # odd 9x11 padded to 10x12
    p = viz.save_mp4(clip, tmp_path / "x3.mp4", fps=5, scale=3)
    frames = read_mp4(p)
    assert frames.shape == (5, 28, 34, 3)  # 27x33 -> 28x34
    assert sorted(x.name for x in tmp_path.iterdir()) == ["odd.mp4", "x3.mp4"]
    from moviepy import VideoFileClip

    with VideoFileClip(str(p)) as v:
        assert v.size == [34, 28] and v.fps == pytest.approx(5)


def test_save_validates_suffix_and_args(tmp_path):
    clip = moving_square(3, 8)
    with pytest.raises(ValueError, match=r"'\.gif'"):
        viz.save_gif(clip, tmp_path / "clip.mp4")
    with pytest.raises(ValueError, match=r"'\.mp4'"):
        viz.save_mp4(clip, tmp_path / "clip.gif")
    with pytest.raises(ValueError, match="fps"):
        viz.save_gif(clip, tmp_path / "clip.gif", fps=0)
    with pytest.raises(ValueError, match="scale"):
        viz.save_mp4(clip, tmp_path / "clip.mp4", scale=2.5)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        viz.save_gif(clip * 255, tmp_path / "clip.gif")
    assert list(tmp_path.iterdir()) == []
    assert viz.save_gif(clip, tmp_path / "UPPER.GIF").exists()


@pytest.mark.parametrize(("saver", "method", "name"), [
    (viz.save_gif, "write_gif", "clip.gif"),
    (viz.save_mp4, "write_videofile", "clip.mp4"),
])
def test_failed_write_keeps_target_and_removes_temp(tmp_path, monkeypatch, saver, method, name):
    from moviepy import ImageSequenceClip

    target = tmp_path / name
    target.write_bytes(b"previous content")
    seen = []

    def broken(self, filename, *args, **kwargs):
        seen.append(Path(filename))
        Path(filename).write_bytes(b"partial")  # a half-written temp file
        raise OSError("disk full")

    monkeypatch.setattr(ImageSequenceClip, method, broken)
    with pytest.raises(OSError, match="disk full"):
        saver(moving_square(3, 8), target)
    assert target.read_bytes() == b"previous content"
    assert sorted(x.name for x in tmp_path.iterdir()) == [name]
    # the temp file was in the same folder and had the target's extension (moviepy picks the format from it)
    assert seen[0].parent == tmp_path and seen[0].suffix == target.suffix and seen[0] != target


def test_successful_write_replaces_target(tmp_path):
    target = tmp_path / "clip.gif"
    target.write_bytes(b"old")
    viz.save_gif(moving_square(4, 8), target)
    assert iio.imread(target, index=None).shape[0] == 4
    assert [x.name for x in tmp_path.iterdir()] == ["clip.gif"]


def test_gif_html_is_animated_gif():
    clip = moving_square(6, 12)
    tag = viz.gif_html(clip, fps=4, scale=2)
    m = re.fullmatch(r'<img src="data:image/gif;base64,([A-Za-z0-9+/=]+)" .*/>', tag)
    assert m, tag[:80]
    im = Image.open(io.BytesIO(base64.b64decode(m.group(1))))
    assert im.format == "GIF" and im.size == (24, 24) and im.n_frames == 6
    assert im.info.get("loop") == 0 and im.info.get("duration") == 250


def test_rollout_panels_align_time_and_validate():
    from vidkit.viz.frames import OBSERVED_RGB, PREDICTED_RGB, ClipFormatError, rollout_panels

    x, y = np.random.rand(4, 8, 8), np.random.rand(3, 8, 8)
    panels = rollout_panels(x, y, {"m": np.random.rand(6, 8, 8)})  # a rollout longer than the truth
    assert list(panels) == ["truth", "m", "error m"]
    assert {p.shape for p in panels.values()} == {(10, 8, 8, 3)}
    assert tuple(panels["m"][0, 0, 0]) == OBSERVED_RGB and tuple(panels["m"][5, 0, 0]) == PREDICTED_RGB
    assert (panels["truth"][7:, 4, 4] == 128).all()  # past the truth: mid-gray, no data
    with_input = rollout_panels(x, y, {"m": np.random.rand(6, 8, 8)}, input_panel=True)
    assert list(with_input) == ["input", "truth", "m", "error m"]
    assert {p.shape for p in with_input.values()} == {(10, 8, 8, 3)}
    assert np.array_equal(with_input["input"][:4], with_input["truth"][:4])  # the observed frames
    assert (with_input["input"][4:] == 128).all()  # then nothing: the model sees no future frame
    recon = rollout_panels(x, None, {"ae": x})
    assert list(recon) == ["input", "ae", "error ae"] and recon["error ae"][:, 2:].max() == 0
    with pytest.raises(ClipFormatError, match="truth frames"):
        rollout_panels(x, np.random.rand(3, 6, 6), {"m": y})
    with pytest.raises(ClipFormatError, match="one frame per input"):
        rollout_panels(x, None, {"ae": x[:2]})
    with pytest.raises(TypeError, match="non-empty dict"):
        rollout_panels(x, y, {})
