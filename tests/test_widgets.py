"""Tests for vidkit.widgets.ClipPlayer: precomputed frames, browser-side links, mimebundle fallback."""

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

from vidkit.widgets import ClipPlayer

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
