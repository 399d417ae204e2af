"""The ``vidkit`` command line: data build / verify / export, profile, errors."""

from __future__ import annotations

import json

import imageio.v3 as iio
import pytest

from vidkit.cli import main
from vidkit.data import KNOWN_SHA256


@pytest.fixture
def data_root(tmp_path, monkeypatch):
    monkeypatch.setenv("VIDKIT_DATA", str(tmp_path))
    return tmp_path


def test_profile(capsys):
    assert main(["profile"]) == 0
    assert "smoke" in capsys.readouterr().out


def test_data_build_and_verify(data_root, capsys):
    assert main(["data", "build", "--size", "256"]) == 0
    out = capsys.readouterr().out
    assert KNOWN_SHA256[256] in out
    assert (data_root / "cache").exists()
    assert main(["data", "verify", "--size", "256"]) == 0
    assert "OK" in capsys.readouterr().out


def test_data_export_gif_and_mp4(data_root, tmp_path, capsys):
    gif = tmp_path / "clip.gif"
    assert main(["data", "export", str(gif), "--size", "256", "--index", "3", "--scale", "2"]) == 0
    frames = iio.imread(gif, index=None)
    assert frames.shape[1:3] == (128, 128) and frames.shape[0] > 1
    mp4 = tmp_path / "act.mp4"
    assert main(["data", "export", str(mp4), "--suite", "actions", "--index", "1", "--scale", "2"]) == 0
    assert mp4.stat().st_size > 0


def test_data_export_errors(data_root, tmp_path, capsys):
    with pytest.raises(SystemExit, match="index"):
        main(["data", "export", str(tmp_path / "x.gif"), "--size", "256", "--index", "999"])
    assert main(["data", "export", str(tmp_path / "x.avi"), "--size", "256"]) == 2
    assert "error" in capsys.readouterr().err


def test_train_list_and_run(tmp_path, capsys):
    assert main(["train", "--list"]) == 0
    assert "mmnist_tiny" in capsys.readouterr().out
    workdir = tmp_path / "run"
    assert main(["train", "mmnist_tiny", "--steps", "3", "--workdir", str(workdir)]) == 0
    out = capsys.readouterr().out
    assert "run finished" in out and '"eval"' in out
    assert (workdir / "checkpoints" / "last.pt").exists() and (workdir / "log.txt").exists()
    record = json.loads((workdir / "config.json").read_text())
    config = record["config"]
    assert config["recipe"] == "mmnist_tiny" and config["model"]["name"] == "tiny"
    assert record["commands"] == [f"vidkit train mmnist_tiny --steps 3 --workdir {workdir}"]
    assert (workdir / "samples" / "rollouts.gif").is_file() and (workdir / "samples" / "rollouts.mp4").is_file()
    with pytest.raises(SystemExit, match="unknown recipe"):
        main(["train", "no_such_recipe"])
