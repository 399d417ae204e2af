"""Your own video from the front doors: vidkit.predict on a file, predict_video, load_encoder, and the commands
`vidkit data folder`, `predict`, `embed`, `search`, `protocol` (errors as one line, exit code 2)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import vidkit
from vidkit.api import load_encoder, predict_video, video_input
from vidkit.cli import main
from vidkit.data.video import probe_video, read_video, write_video
from vidkit.models import CopyLastBaseline, PixelEncoder


def moving_bar(t: int = 16, h: int = 48, w: int = 80) -> np.ndarray:
    """``(t, h, w, 3)`` uint8: a white bar moving right 4 px per frame on black; wider than tall."""
    frames = np.zeros((t, h, w, 3), np.uint8)
    for i in range(t):
        frames[i, 10:38, 8 + 4 * i:14 + 4 * i] = 255
    return frames


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    return write_video(tmp_path_factory.mktemp("own") / "bar.avi", moving_bar(), fps=10)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli") / "demo"
    assert main(["data", "folder", str(folder), "--per-class", "3"]) == 0
    return folder


def test_predict_reads_a_file_at_the_models_size(video):
    model = CopyLastBaseline()
    x = video_input(model, video)                                      # default: 10 frames, 64 px, gray, the last
    assert x.shape == (10, 64, 64) and x.dtype == np.uint8
    full = read_video(video, size=64)
    assert np.array_equal(x, full[-10:])
    assert np.array_equal(video_input(model, video, inputs="first", extra=4), full[:14])
    assert np.array_equal(video_input(model, video, fps=20), full[np.repeat(np.arange(11, 16), 2)])  # frames picked
    future = vidkit.predict(model, video, steps=3)                      # a path works like a clip
    assert future.shape == (3, 1, 64, 64)
    assert torch.allclose(future[0, 0], torch.from_numpy(full[-1]).float() / 255)
    rgb = CopyLastBaseline()
    rgb.channels = 3                                                   # a model that reads colour gets RGB frames
    assert video_input(rgb, video).shape == (10, 64, 64, 3) and vidkit.predict(rgb, video, steps=2).shape == (2, 3, 64, 64)
    with pytest.raises(ValueError, match="the model reads 10 input frames, the video has 8 at 5 fps"):
        video_input(model, video, fps=5)


def test_predict_video_writes_the_panels(video, tmp_path):
    model = vidkit.load("simvp_ref")
    r = predict_video(model, video, tmp_path / "out.mp4", steps=4, scale=2)
    assert r["panels"] == ["input", "prediction"] and r["out_frames"] == 14 and (r["size"], r["channels"]) == (64, 1)
    info = probe_video(tmp_path / "out.mp4")
    assert info.num_frames == 14 and info.width >= 2 * (2 * 64)
    r = predict_video(CopyLastBaseline(), video, tmp_path / "first.gif", steps=8, inputs="first")
    assert r["panels"] == ["input", "truth", "prediction"] and r["truth_frames"] == 6 and r["out_frames"] == 18
    assert sorted(p.name for p in tmp_path.iterdir()) == ["first.gif", "out.mp4"]    # atomic: no temp files
    with pytest.raises(ValueError, match=r"out must be a path ending in .mp4 or .gif"):
        predict_video(model, video, tmp_path / "out.avi")


def test_load_encoder_names():
    enc, budget = load_encoder("pixels", "laptop")
    assert isinstance(enc, PixelEncoder) and budget == vidkit.profile("laptop").real_video
    enc, budget = load_encoder("lstm_composite_ref", "smoke")
    assert callable(enc.embed) and (budget.size, budget.channels, budget.frames) == (64, 1, 10)
    assert enc.embed(torch.zeros(2, 10, 1, 64, 64)).shape[0] == 2
    with pytest.raises(ValueError, match="simvp_ref: its model .SimVP. predicts frames but has no embed"):
        load_encoder("simvp_ref")


def test_cli_predict(video, tmp_path, capsys):
    out = tmp_path / "roll.mp4"
    assert main(["predict", str(video), "--model", "copy_last", "--out", str(out), "--steps", "5"]) == 0
    text = capsys.readouterr().out
    assert "read the last 10 frames" in text and "64x64 grayscale" in text and f"wrote {out}: input | prediction" in text
    assert probe_video(out).num_frames == 15
    assert main(["predict", str(tmp_path / "nope.mp4"), "--model", "copy_last", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("vidkit: error: ") and "nope.mp4: no such video file" in err and err.count("\n") == 1


def test_cli_embed_search_and_protocol(demo, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("VIDKIT_PROFILE", "smoke")
    index = tmp_path / "emb.npz"
    assert main(["embed", str(demo), "--encoder", "pixels", "--out", str(index)]) == 0
    assert f"wrote {index}: 24 videos" in capsys.readouterr().out
    query = demo / "UCF-101" / "ZoomIn" / "v_ZoomIn_g02_c01.avi"
    assert main(["search", str(query), "--index", str(index), "-k", "3"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 4 and lines[1].split()[-1] == str(query)         # itself first, score 1
    assert lines[1].split()[1] == "+1.000"
    from vidkit.viz.browser import NeighbourBrowser

    b = NeighbourBrowser.for_index(index, query=5, k=4, frames=6, size=16, scale=1, progress=False)
    assert b.frames.shape == (24, 6, 16, 16) and b.action_names[0] == "MoveDown"
    table = b.results
    assert list(table.columns) == ["rank", "clip", "score", "action", "correct", "path"]
    own = b.action_names[b.action[5]]
    assert (table["correct"] == (table["action"] == own)).all() and 5 not in table["clip"].tolist()
    assert all(p.split("/")[1] == a for p, a in zip(table["path"], table["action"]))
    assert "same class" in b.message and "digit" not in b.message
    out = tmp_path / "r.json"
    assert main(["protocol", str(demo), "--encoder", "pixels", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "ucf101 split 1: 8 classes, 16 train and 8 test videos" in text and "linear probe top-1" in text
    r = json.loads(out.read_text())
    assert r["encoder"] == "pixels" and r["ks"] == [1, 5, 10] and 0 <= r["R@1"] <= 1
    assert main(["embed", str(demo), "--encoder", "simvp_ref", "--out", str(tmp_path / "x.npz")]) == 2
    assert "has no embed()" in capsys.readouterr().err
    assert main(["protocol", str(demo), "--layout", "hmdb51"]) == 2
    assert "no HMDB-51 split files" in capsys.readouterr().err
    assert main(["search", str(demo / "ucfTrainTestlist" / "classInd.txt"), "--index", str(index)]) == 2
    assert "cannot be read as a video" in capsys.readouterr().err
    assert not (tmp_path / "x.npz").exists()
