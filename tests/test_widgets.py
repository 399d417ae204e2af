"""Tests for vidkit.viz.widgets.ClipPlayer: precomputed frames, browser-side links, mimebundle fallback."""

from __future__ import annotations

import base64
import io
import re

import imageio.v3 as iio
import ipywidgets as W
import numpy as np
import pytest
import torch
from ipywidgets.widgets.widget_link import Link
from PIL import Image

from vidkit.viz.widgets import ClipPlayer

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


def moving_square(t: int, size: int = 16) -> np.ndarray:
    """(t, size, size) float clip in [0, 1] with a square moving right."""
    clip = np.zeros((t, size, size), np.float32)
    for i in range(t):
        x = i % (size - 4)
        clip[i, 4:8, x : x + 4] = 1.0
    return clip


@pytest.fixture(scope="module")
def player() -> ClipPlayer:
    truth = moving_square(12)
    pred = np.clip(truth * 0.8 + 0.1, 0, 1)
    clips = {
        "input": truth[:5],  # shorter: padded with blank frames
        "truth": torch.from_numpy(truth)[:, None],  # (T, 1, H, W) torch
        "prediction": np.repeat(pred[..., None], 3, axis=-1),  # (T, H, W, 3) float
        "error": (np.abs(truth - pred) * 255).astype(np.uint8),  # (T, H, W) uint8
    }
    return ClipPlayer(clips, fps=4, scale=2, title="demo <run>")


def gif_from_html(text: str) -> Image.Image:
    m = re.search(r'<img src="data:image/gif;base64,([A-Za-z0-9+/=]+)"', text)
    assert m, "no base64 GIF <img> in the HTML"
    return Image.open(io.BytesIO(base64.b64decode(m.group(1))))


def test_frames_are_precomputed(player):
    assert player.num_frames == 12
    assert len(player.png_frames) == 12 and len(player.images) == 12
    assert list(player.stack.children) == player.images
    assert all(isinstance(im, W.Image) and im.format == "png" for im in player.images)
    for i in (0, 7, 11):
        decoded = np.asarray(Image.open(io.BytesIO(player.images[i].value)).convert("RGB"))
        np.testing.assert_array_equal(decoded, player.frames[i])
    # 4 panels of 16 px scaled x2, separators of 2*scale px, plus a label band above
    t, h, w, c = player.frames.shape
    assert (t, w, c) == (12, 4 * 32 + 3 * 4, 3) and h > 32


def test_controls_ranges(player):
    assert isinstance(player.play, W.Play) and isinstance(player.slider, W.IntSlider)
    assert (player.play.min, player.play.max) == (0, player.num_frames - 1)
    assert (player.slider.min, player.slider.max) == (0, player.num_frames - 1)
    assert player.play.interval == 250  # 4 fps
    assert player.stack.selected_index == 0
    assert isinstance(player.stack, W.Stack)


def test_jslinks_connect_play_to_slider_and_stack(player):
    links = [lk for lk in player.links if isinstance(lk, Link)]
    assert len(links) == 2
    pairs = {(lk.source[0].model_id, lk.source[1], lk.target[0].model_id, lk.target[1]) for lk in links}
    assert (player.play.model_id, "value", player.slider.model_id, "value") in pairs
    assert (player.play.model_id, "value", player.stack.model_id, "selected_index") in pairs
    # jslink, not a Python-side traitlets link: nothing in the kernel follows play.value
    player.play.value = 3
    assert player.slider.value == 0 and player.stack.selected_index == 0
    player.play.value = 0


def test_widget_tree(player):
    assert isinstance(player.widget, W.VBox)
    kids = player.widget.children
    assert isinstance(kids[0], W.HTML) and "demo &lt;run&gt;" in kids[0].value
    assert player.stack in kids
    controls = [k for k in kids if isinstance(k, W.HBox)][0]
    assert player.play in controls.children and player.slider in controls.children


def test_mimebundle_has_widget_view_and_gif_fallback(player):
    bundle = player._repr_mimebundle_()
    assert bundle[WIDGET_MIME]["model_id"] == player.widget.model_id
    assert bundle["text/plain"].startswith("ClipPlayer(T=12")
    html = bundle["text/html"]
    assert "demo &lt;run&gt;" in html
    gif = gif_from_html(html)
    assert gif.format == "GIF" and gif.n_frames == player.num_frames
    assert gif.info.get("loop") == 0
    assert gif.size[0] == player.frames.shape[2]
    assert gif_from_html(player.to_html()).n_frames == 12


def test_padding_modes():
    short, long_ = moving_square(3), moving_square(6)
    blank = ClipPlayer([short, long_], scale=1)
    assert blank.num_frames == 6 and blank.lengths == [3, 6]
    np.testing.assert_array_equal(blank.frames[4, :, :16], ClipPlayer.BLANK_VALUE)
    assert blank.labels is None and blank.frames.shape[1] == 16  # no labels -> no band
    last = ClipPlayer([short, long_], scale=1, pad_mode="last")
    np.testing.assert_array_equal(last.frames[4, :, :16], last.frames[2, :, :16])
    np.testing.assert_array_equal(last.frames[4, :, 18:], blank.frames[4, :, 18:])


def test_single_clip_and_single_frame():
    p = ClipPlayer(moving_square(1))
    assert p.num_frames == 1 and p.play.max == 0 and len(p.images) == 1
    assert gif_from_html(p.to_html()).n_frames == 1


def test_static_clip_gif_keeps_every_frame():
    """The GIF encoder merges identical consecutive frames; the fallback's "t = i / T-1" caption prevents it."""
    still = np.repeat(moving_square(1), 5, axis=0)
    p = ClipPlayer(still, scale=2)
    gif = gif_from_html(p._repr_mimebundle_()["text/html"])
    assert gif.n_frames == 5
    assert gif.size == (p.frames.shape[2], gif.size[1]) and gif.size[1] > p.frames.shape[1]  # caption band


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"clips": []}, ValueError, "at least one clip"),
        ({"clips": "x"}, TypeError, "list or dict"),
        ({"clips": {"a": moving_square(2)}, "labels": ["a"]}, ValueError, "not both"),
        ({"clips": [moving_square(2)] * 2, "labels": ["a"]}, ValueError, "2 clips but 1 labels"),
        ({"clips": [moving_square(2, 16), moving_square(2, 8)]}, ValueError, "same frame height"),
        ({"clips": {"truth": moving_square(2) * 3}}, ValueError, r"'truth'.*\[0, 1\]"),
        ({"clips": [moving_square(2)], "fps": 0}, ValueError, "fps"),
        ({"clips": [moving_square(2)], "scale": 0}, ValueError, "scale"),
        ({"clips": [moving_square(2)], "pad_mode": "loop"}, ValueError, "pad_mode"),
    ],
)
def test_validation(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        ClipPlayer(**kwargs)


def test_save_delegates_to_viz(player, tmp_path):
    gif = player.save_gif(tmp_path / "p.gif")
    frames = iio.imread(gif, index=None)
    assert frames.shape[0] == player.num_frames and frames.shape[1:3] == player.frames.shape[1:3]
    mp4 = player.save_mp4(tmp_path / "p.mp4")
    assert mp4.stat().st_size > 0
    assert sorted(x.name for x in tmp_path.iterdir()) == ["p.gif", "p.mp4"]


# --------------------------------------------------------------------------------------------------
# AttentionExplorer and its viz helpers (overlay_heatmap, draw_boxes)
# --------------------------------------------------------------------------------------------------
from vidkit.viz import frames as viz  # noqa: E402
from vidkit.viz.widgets import AttentionExplorer  # noqa: E402

NAMES = ["left", "right", "up"]


def one_hot_attention(t: int, cells: list[tuple[int, int]], k: int = 8) -> np.ndarray:
    """(t, k, k) attention with all weight on cells[i % len(cells)] at frame i."""
    a = np.zeros((t, k, k))
    for i in range(t):
        a[(i, *cells[i % len(cells)])] = 1.0
    return a


def softmax_probs(t: int, c: int = 3, seed: int = 0) -> np.ndarray:
    z = np.random.default_rng(seed).normal(size=(t, c)) * 2
    e = np.exp(z)
    return e / e.sum(1, keepdims=True)


def luminance(rgb: np.ndarray) -> np.ndarray:
    return rgb.astype(np.float64) @ np.array([0.299, 0.587, 0.114])


@pytest.mark.parametrize("interpolation", ["nearest", "bilinear"])
def test_overlay_heatmap_peak_is_brightest(interpolation):
    frames = np.full((2, 32, 32), 0.3, np.float32)
    heat = one_hot_attention(2, [(2, 5), (6, 1)]) * 0.2  # unnormalised softmax-like weights
    out = viz.overlay_heatmap(frames, heat, alpha=0.6, cmap="inferno", interpolation=interpolation)
    assert out.shape == (2, 32, 32, 3) and out.dtype == np.uint8
    lut = viz.colormap_lut("inferno")
    for t, (r, c) in enumerate([(2, 5), (6, 1)]):
        lum = luminance(out[t])
        y, x = np.unravel_index(lum.argmax(), lum.shape)
        assert 4 * r <= y < 4 * r + 4 and 4 * c <= x < 4 * c + 4, (t, y, x)  # 32 / 8 = 4 px per cell
        far = out[t, (4 * r + 16) % 32, (4 * c + 16) % 32]
        np.testing.assert_allclose(far, np.rint(0.4 * 0.3 * 255 + 0.6 * lut[0].astype(float)), atol=1)
    if interpolation == "nearest":  # the whole cell gets the map's top colour
        expected = np.rint(0.4 * 0.3 * 255 + 0.6 * lut[255].astype(float))
        np.testing.assert_allclose(out[0, 8:12, 20:24].reshape(-1, 3), np.broadcast_to(expected, (16, 3)), atol=1)


def test_overlay_heatmap_validation():
    frames = np.zeros((3, 16, 16), np.uint8)
    with pytest.raises(ValueError, match="T=2 maps but the clip has T=3"):
        viz.overlay_heatmap(frames, np.ones((2, 4, 4)))
    with pytest.raises(ValueError, match=r"\(T, Kh, Kw\).*reshape"):
        viz.overlay_heatmap(frames, np.ones((3, 16)))
    with pytest.raises(ValueError, match="non-negative"):
        viz.overlay_heatmap(frames, -np.ones((3, 4, 4)))
    with pytest.raises(ValueError, match="NaN"):
        viz.overlay_heatmap(frames, np.full((3, 4, 4), np.nan))
    with pytest.raises(ValueError, match="colour map"):
        viz.overlay_heatmap(frames, np.ones((3, 4, 4)), cmap="nope")
    with pytest.raises(ValueError, match="alpha"):
        viz.overlay_heatmap(frames, np.ones((3, 4, 4)), alpha=2)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        viz.overlay_heatmap(frames, np.full((3, 4, 4), 3.0), normalize=None)


def test_upsample_attention_keeps_mass_location():
    heat = torch.zeros(1, 4, 4)
    heat[0, 1, 3] = 1.0
    up = viz.upsample_attention(heat, (16, 16), interpolation="nearest")
    assert up.shape == (1, 16, 16)
    np.testing.assert_array_equal(np.argwhere(up[0] == 1).min(0), [4, 12])
    np.testing.assert_array_equal(np.argwhere(up[0] == 1).max(0), [7, 15])
    assert up.sum() == 16


def test_draw_boxes_outline_and_empty_rows():
    frames = np.zeros((3, 16, 16), np.uint8)
    boxes = np.array([[2, 3, 10, 12], [0, 0, 0, 0], [np.nan] * 4])  # x1/y1 exclusive; empty; no box
    out = viz.draw_boxes(frames, boxes, colour=(0, 255, 0))
    green = out[0, :, :, 1] == 255
    assert green[3, 2:10].all() and green[11, 2:10].all() and green[3:12, 2].all() and green[3:12, 9].all()
    assert green.sum() == 2 * 8 + 2 * 9 - 4  # 8 wide, 9 tall; outline only: interior and outside untouched
    assert not green[3, 10] and not green[12, 2]  # x1 = 10, y1 = 12 are outside the box
    assert out[1:].max() == 0
    with pytest.raises(ValueError, match=r"\(x, y, w, h\)"):
        viz.draw_boxes(frames, np.array([[8, 8, 4, 4]] * 3))
    with pytest.raises(ValueError, match=r"\(T, 4\)"):
        viz.draw_boxes(frames, np.zeros((3, 5)))


T_EX = 10


@pytest.fixture(scope="module")
def explorer() -> AttentionExplorer:
    frames = moving_square(T_EX, size=32) * 0.3  # a dim square: the heat-map peak is the brightest spot
    boxes = np.array([[i % 28, 4, i % 28 + 4, 8] for i in range(T_EX)], np.float32)
    return AttentionExplorer(
        frames, softmax_probs(T_EX), NAMES, spatial=one_hot_attention(T_EX, [(1, 1), (6, 6)]),
        temporal=np.linspace(1, 2, T_EX) / 15, boxes=boxes, true_label="right", title="attn <demo>", scale=3,
    )


def test_explorer_builds_a_clip_player(explorer):
    assert isinstance(explorer, ClipPlayer)
    assert explorer.num_frames == T_EX and explorer.frames.shape[0] == T_EX
    assert len(explorer.png_frames) == T_EX and len(explorer.images) == T_EX
    assert (explorer.play.max, explorer.slider.max) == (T_EX - 1, T_EX - 1)
    assert len([lk for lk in explorer.links if isinstance(lk, Link)]) == 2
    assert set(explorer.panels) == {"frame", "probs", "temporal"}
    x0, y0, x1, y1 = explorer.panels["frame"]
    assert (x1 - x0, y1 - y0) == (96, 96)  # 32 px x scale 3
    assert explorer.true_label == 1 and explorer.predicted.shape == (T_EX,)
    assert repr(explorer).startswith("AttentionExplorer(T=10, C=3, spatial, temporal, boxes")


def test_explorer_without_attention():
    e = AttentionExplorer(moving_square(4), softmax_probs(4)[0], NAMES, scale=2)  # clip-level (C,) probs
    assert e.num_frames == 4 and set(e.panels) == {"frame", "probs"} and e.spatial is None and e.temporal is None
    np.testing.assert_array_equal(e.probs, np.broadcast_to(softmax_probs(4)[0], (4, 3)))
    x0, y0, x1, y1 = e.panels["frame"]
    np.testing.assert_array_equal(  # the plain upscaled frame, no heat map
        e.frames[:, y0:y1, x0:x1], viz.upscale(viz.to_rgb_uint8(moving_square(4)), 2)
    )
    temporal_only = AttentionExplorer(moving_square(4), softmax_probs(4), NAMES, temporal=np.ones((4, 2)) / 2)
    assert set(temporal_only.panels) == {"frame", "probs", "temporal"}
    spatial_only = AttentionExplorer(moving_square(4), softmax_probs(4), NAMES, spatial=np.ones((4, 4, 4)))
    assert set(spatial_only.panels) == {"frame", "probs"}


def test_explorer_heatmap_peak_follows_attention(explorer):
    x0, y0, x1, y1 = explorer.panels["frame"]
    for t, (r, c) in [(0, (1, 1)), (1, (6, 6)), (4, (1, 1))]:
        lum = luminance(explorer.frames[t, y0:y1, x0:x1])
        lum[explorer.frames[t, y0:y1, x0:x1, 1] == 255] = 0  # ignore the green box outline
        y, x = np.unravel_index(lum.argmax(), lum.shape)
        cell = 96 // 8
        assert r * cell <= y < (r + 1) * cell and c * cell <= x < (c + 1) * cell, (t, y, x)


def highlight_x(e: AttentionExplorer, t: int) -> float:
    x0, y0, x1, y1 = e.panels["temporal"]
    hit = np.all(e.frames[t, y0:y1, x0:x1] == AttentionExplorer.CURRENT_RGB, axis=-1)
    assert hit.any(), f"no current-frame highlight at t={t}"
    rows = np.argwhere(hit)[:, 0]
    assert rows.max() - rows.min() > 12, f"t={t}: only the marker is orange, not the bar"  # the marker is 7 px
    return float(np.argwhere(hit)[:, 1].mean())


def test_explorer_current_frame_highlight_moves(explorer):
    xs = [highlight_x(explorer, t) for t in range(T_EX)]
    assert all(b > a for a, b in zip(xs, xs[1:])), xs
    x0, y0, x1, y1 = explorer.panels["temporal"]
    assert not np.array_equal(explorer.frames[2, y0:y1], explorer.frames[7, y0:y1])
    # the probability chart marks the predicted class: green when right, red when wrong
    px0, py0, px1, py1 = explorer.panels["probs"]
    for t in range(T_EX):
        chart = explorer.frames[t, py0:py1, px0:px1]
        colour = AttentionExplorer.CORRECT_RGB if explorer.predicted[t] == 1 else AttentionExplorer.WRONG_RGB
        assert np.all(chart == colour, axis=-1).sum() > 50


def test_explorer_windowed_temporal_attention():
    t = 8
    w = np.tile([0.2, 0.3, 0.5], (t, 1))  # the current frame (last column) weighs most
    e = AttentionExplorer(moving_square(t), softmax_probs(t), NAMES, temporal=w, scale=2)
    xs = [highlight_x(e, i) for i in range(t)]
    assert all(b > a for a, b in zip(xs, xs[1:])), xs
    x0, y0, x1, y1 = e.panels["temporal"]
    blue = np.all(e.frames[:, y0:y1, x0:x1] == AttentionExplorer.TEMPORAL_RGB, axis=-1)
    cols = [np.unique(np.argwhere(blue[i])[:, 1]) for i in range(t)]
    assert len(cols[0]) == 0  # step 0: only frame 0 is in the window (the orange bar)
    assert cols[1].size and cols[5].min() > cols[1].max()  # the window moves right
    assert cols[5].max() < xs[5]  # previous frames are left of the current one


def test_explorer_static_fallback_is_an_animated_gif(explorer, tmp_path):
    bundle = explorer._repr_mimebundle_()
    assert bundle[WIDGET_MIME]["model_id"] == explorer.widget.model_id
    assert bundle["text/plain"].startswith("AttentionExplorer(")
    html = bundle["text/html"]
    assert "attn &lt;demo&gt;" in html
    gif = gif_from_html(html)
    assert gif.format == "GIF" and gif.n_frames == T_EX and gif.info.get("loop") == 0
    assert gif.size[0] == explorer.frames.shape[2]
    assert "vidkit-attentionexplorer" in explorer.widget._dom_classes
    frames = iio.imread(explorer.save_gif(tmp_path / "e.gif"), index=None)
    assert frames.shape[:3] == explorer.frames.shape[:3]


def _ex_kwargs(**over):
    kw = {"frames": moving_square(4), "probs": softmax_probs(4), "class_names": NAMES}
    kw.update(over)
    return kw


@pytest.mark.parametrize(
    ("over", "exc", "match"),
    [
        ({"spatial": np.ones((3, 8, 8))}, ValueError, r"spatial: has T=3 .* frames has T=4"),
        ({"spatial": np.ones((4, 64))}, ValueError, r"spatial: expected shape \(T, K, K\)"),
        ({"spatial": -np.ones((4, 8, 8))}, ValueError, "spatial: .*non-negative"),
        ({"spatial": np.full((4, 8, 8), np.inf)}, ValueError, "NaN or inf"),
        ({"temporal": np.ones(5)}, ValueError, r"temporal: has T=5 .* T=4"),
        ({"temporal": np.ones((4, 2, 2))}, ValueError, r"temporal: expected shape \(T,\) or \(T, N\)"),
        ({"temporal": -np.ones(4)}, ValueError, "temporal: .*non-negative"),
        ({"probs": softmax_probs(5)}, ValueError, r"probs: has T=5 .* T=4"),
        ({"probs": softmax_probs(4, c=4)}, ValueError, "C=4 classes but class_names has 3"),
        ({"probs": np.random.default_rng(0).normal(size=(4, 3))}, ValueError, "softmax"),
        ({"probs": np.full((4, 3), 0.9)}, ValueError, "rows summing to 1"),
        ({"probs": np.ones((4, 3, 1)) / 3}, ValueError, r"probs: expected shape \(T, C\)"),
        ({"class_names": "abc"}, TypeError, "class_names"),
        ({"true_label": 3}, ValueError, r"true_label: .*0\.\.2"),
        ({"true_label": "down"}, ValueError, "not one of the class names"),
        ({"boxes": np.zeros((4, 5))}, ValueError, r"boxes: expected shape \(T, 4\)"),
        ({"boxes": np.zeros((3, 4))}, ValueError, r"boxes: has T=3"),
        ({"boxes": np.array([[8, 8, 2, 2]] * 4)}, ValueError, r"\(x, y, w, h\)"),
        ({"frames": moving_square(4) * 3}, ValueError, r"frames: .*\[0, 1\]"),
        ({"scale": 0}, ValueError, "scale"),
        ({"fps": -1}, ValueError, "fps"),
        ({"spatial": np.ones((4, 8, 8)), "cmap": "nope"}, ValueError, "colour map"),
    ],
)
def test_explorer_validation(over, exc, match):
    with pytest.raises(exc, match=match):
        AttentionExplorer(**_ex_kwargs(**over))


# --------------------------------------------------------------------------------------------------
# legible labels, the clip picker
# --------------------------------------------------------------------------------------------------
def test_player_with_many_panels_stays_within_max_width_and_keeps_labels_legible():
    """Notebook 02's neighbour player: 11 panels of 32 px at scale 3 with long labels."""
    from vidkit.viz.widgets import MAX_WIDTH

    labels = [f"InfoNCE RGB #{i}: move_down, {i % 10}" for i in range(11)]
    p = ClipPlayer(dict(zip(labels, [moving_square(4, 32)] * 11)), fps=6, scale=3)
    assert p.frames.shape[2] <= MAX_WIDTH  # JupyterLab would shrink a wider image, and its labels
    font = viz._font(viz._label_size(labels, [96] * 11, 14))
    assert viz._label_layout(labels, [96] * 11, font) == (labels, [])  # each label whole, above its panel
    one_row = ClipPlayer(dict(zip(labels, [moving_square(4, 32)] * 11)), scale=3, max_width=None)
    assert one_row.frames.shape[2] == 11 * 96 + 10 * 6
    # the static GIF's caption is drawn at no less than LABEL_MIN_PX either
    gif_band = p._gif_frames()[0, p.frames.shape[1]:]
    assert gif_band.shape[0] >= viz.LABEL_MIN_PX


def test_explorer_names_and_headers_are_never_cut():
    names = ["a", "an extraordinarily long class name, longer than any column width you would guess"]
    e = AttentionExplorer(moving_square(3), softmax_probs(3, c=2), names, temporal=np.ones(3) / 3, scale=2)
    font = viz._font(AttentionExplorer.FONT_SIZE)
    x0, _, x1, _ = e.panels["probs"]
    assert x1 - x0 > font.getlength(names[1]) + 120  # the whole name, then its 120 px bar


def explorer_set(n: int = 4, t: int = 5):
    rng = np.random.default_rng(1)
    frames = np.stack([moving_square(t, 16) * (0.3 + 0.15 * i) for i in range(n)])
    probs = np.stack([softmax_probs(t, seed=i) for i in range(n)])
    spatial = rng.random((n, t, 4, 4))
    boxes = np.tile(np.array([2, 2, 10, 10], np.float32), (n, t, 1))
    return frames, probs, spatial, boxes


def test_explorer_clip_picker_switches_the_shown_clip():
    from vidkit.viz.widgets import ClipPicker

    frames, probs, spatial, boxes = explorer_set()
    picker = AttentionExplorer.for_clips(frames, probs, NAMES, spatial=spatial, boxes=boxes,
                                         true_labels=[0, 1, 2, 1], captions=[f"clip {i}: caption {i}" for i in range(4)],
                                         clips=[3, 1, 2], start=1, title="soft", scale=2)
    assert isinstance(picker, ClipPicker) and isinstance(picker.picker, W.Dropdown)
    assert [label for label, _ in picker.picker.options] == ["clip 3: caption 3", "clip 1: caption 1", "clip 2: caption 2"]
    assert picker.clip == 1 and picker.picker.value == 1
    shown = picker.current
    assert isinstance(shown, AttentionExplorer) and shown.title == "soft: clip 1: caption 1" and shown.true_label == 1
    assert picker.view.children == (shown.widget,)

    picker.picker.value = 2  # what the learner does in the dropdown
    assert picker.clip == 2 and picker.current is not shown
    assert picker.view.children == (picker.current.widget,) and picker.current.true_label == 2
    assert not np.array_equal(picker.current.frames, shown.frames)  # another clip's frames
    assert "caption 2" in picker.current.title
    picker.picker.value = 1
    assert picker.current is shown  # built once, kept

    # the note next to the dropdown, and the static fallback names the clip shown
    row = next(k for k in picker.widget.children if isinstance(k, W.HBox))
    assert "running kernel" in picker.note.value and row.children == (picker.picker, picker.note)
    bundle = picker._repr_mimebundle_()
    assert bundle[WIDGET_MIME]["model_id"] == picker.widget.model_id
    assert "Static view of clip 1: caption 1" in bundle["text/html"] and "running kernel" in bundle["text/html"]
    assert gif_from_html(bundle["text/html"]).n_frames == 5
    assert "clip 1: caption 1" in repr(picker)

    default = AttentionExplorer.for_clips(frames, probs[:, 0], NAMES, true_labels=np.array([0, 1, 2, 1]))
    assert [label for label, _ in default.picker.options][:2] == ["clip 0: left", "clip 1: right"]


@pytest.mark.parametrize(
    ("over", "exc", "match"),
    [
        ({"probs": softmax_probs(5)[None].repeat(3, 0)}, ValueError, r"probs: has 3 entries but frames has N=4"),
        ({"boxes": np.zeros((2, 5, 4))}, ValueError, r"boxes: has 2 entries"),
        ({"clips": [0, 7]}, ValueError, r"clips: indices must be in 0\.\.3"),
        ({"start": 2, "clips": [0, 1]}, ValueError, "not one of the options"),
        ({"captions": ["a"]}, ValueError, "captions: has 1 entries"),
    ],
)
def test_explorer_clip_picker_validation(over, exc, match):
    frames, probs, spatial, boxes = explorer_set()
    kw = {"frames": frames, "probs": probs, "class_names": NAMES, **over}
    with pytest.raises(exc, match=match):
        AttentionExplorer.for_clips(**kw)
