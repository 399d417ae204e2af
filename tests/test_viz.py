"""Tests for vidkit.viz: conversion, figures, flow colours, composition and GIF/MP4 export."""

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

from vidkit import viz  # noqa: E402

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

    labelled = viz.side_by_side([base, base], labels=["input", "truth"], pad=2)
    band = labelled.shape[1] - H
    assert labelled.shape[0] == T and labelled.shape[2] == 2 * W + 2 and band > 0
    np.testing.assert_array_equal(labelled[:, band:, :W], base)
    assert (labelled[:, :band] < 255).any(), "labels must draw some text"
    assert viz.side_by_side({"input": base, "truth": base}).shape == labelled.shape

    with pytest.raises(ValueError, match="equal length T and height H"):
        viz.side_by_side([base, base[:-1]])
    with pytest.raises(ValueError, match="equal length T and height H"):
        viz.side_by_side([base, base[:, :-1]])
    with pytest.raises(ValueError, match="2 clips but 3 labels"):
        viz.side_by_side([base, base], labels=["a", "b", "c"])


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
    from vidkit.viz import OBSERVED_RGB, PREDICTED_RGB, ClipFormatError, rollout_panels

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
