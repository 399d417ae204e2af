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
    assert f"run {workdir}: finished: all 3 steps done" in out and "\"eval\"" in out
    assert (workdir / "checkpoints" / "last.pt").exists() and (workdir / "log.txt").exists()
    record = json.loads((workdir / "config.json").read_text())
    config = record["config"]
    assert config["recipe"] == "mmnist_tiny" and config["model"]["name"] == "tiny"
    assert record["commands"] == [f"vidkit train mmnist_tiny --steps 3 --workdir {workdir}"]
    assert (workdir / "samples" / "rollouts.gif").is_file() and (workdir / "samples" / "rollouts.mp4").is_file()
    with pytest.raises(SystemExit, match="unknown recipe"):
        main(["train", "no_such_recipe"])


# ----------------------------------------------------------------------------- failing cleanly (issue 13, B)

def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("vidkit: error:")]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def test_corrupt_checkpoint_is_one_line_and_debug_shows_the_traceback(tmp_path, capsys):
    import os

    from vidkit.errors import CheckpointError

    wd = tmp_path / "run"
    assert main(["train", "mmnist_tiny", "--steps", "2", "--workdir", str(wd)]) == 0
    capsys.readouterr()
    ckpt = wd / "checkpoints" / "last.pt"
    ckpt.write_bytes(os.urandom(4096))
    assert main(["eval", str(wd), "--sequences", "4"]) == 2
    line = _one_error_line(capsys)
    assert str(ckpt) in line and "not a vidkit checkpoint" in line
    with pytest.raises(CheckpointError):
        main(["--debug", "eval", str(wd), "--sequences", "4"])


def test_unwritable_workdir_is_one_line_before_training(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    assert main(["train", "mmnist_tiny", "--steps", "2", "--workdir", str(blocker / "run")]) == 2
    line = _one_error_line(capsys)
    assert str(blocker) in line


def test_full_disk_is_one_line(tmp_path, capsys, monkeypatch):
    import torch

    import vidkit.utils.checkpoint as C

    real_save = torch.save

    def save_to_full_disk(obj, f):
        with open("/dev/full", "wb") as full:
            real_save(obj, full)

    monkeypatch.setattr(C.torch, "save", save_to_full_disk)
    assert main(["train", "mmnist_tiny", "--steps", "2", "--workdir", str(tmp_path / "run")]) == 2
    line = _one_error_line(capsys)
    assert "last.pt: cannot write (No space left on device)" in line


def test_rejected_set_leaves_the_workdir_untouched(tmp_path, capsys):
    wd = tmp_path / "run"
    assert main(["train", "mmnist_tiny", "--steps", "2", "--workdir", str(wd), "--set", "train.lr=abc"]) == 2
    assert "lr must be a positive number, got 'abc'" in _one_error_line(capsys)
    assert not wd.exists()  # nothing was written for a fresh run...
    assert main(["train", "mmnist_tiny", "--steps", "2", "--workdir", str(wd)]) == 0
    before = (wd / "config.json").read_bytes()
    capsys.readouterr()
    for bad in ("train.lr=abc", "model.no_such_option=1", "train.warmup_frac=7"):
        assert main(["train", "mmnist_tiny", "--steps", "3", "--workdir", str(wd), "--set", bad]) == 2
        _one_error_line(capsys)
        assert (wd / "config.json").read_bytes() == before  # ...nor for an existing one
    assert main(["train", "mmnist_tiny", "--steps", "3", "--workdir", str(wd)]) == 0  # the plain command works


def test_after_a_nonfinite_stop_a_resume_may_lower_the_lr(tmp_path, capsys, monkeypatch):
    import vidkit.experiments.future_prediction as R

    real_make_loss = R.make_loss

    def poisoned_make_loss(cfg):
        loss = real_make_loss(cfg)

        def poisoned(model, frames, step):
            value = loss(model, frames, step)
            return value * float("nan") if step == 12 and cfg["train"]["lr"] > 1e-3 else value

        return poisoned

    monkeypatch.setattr(R, "make_loss", poisoned_make_loss)
    wd = tmp_path / "run"
    assert main(["train", "mmnist_tiny", "--steps", "30", "--workdir", str(wd)]) == 2
    line = _one_error_line(capsys)
    assert "non-finite loss nan at step 13" in line and "step 10) is kept" in line
    assert f"--workdir {wd} --set train.lr=<lower>" in line
    record = json.loads((wd / "config.json").read_text())
    assert record["stopped"] == {"reason": "non_finite", "what": "loss", "step": 13, "checkpoint_step": 10}
    # only settings that keep the run one run may change
    assert main(["train", "mmnist_tiny", "--steps", "30", "--workdir", str(wd), "--set", "model.hidden=8"]) == 2
    assert "may change only train.lr" in _one_error_line(capsys)
    old_lr = record["config"]["train"]["lr"]
    assert main(["train", "mmnist_tiny", "--steps", "30", "--workdir", str(wd), "--set", "train.lr=0.0005"]) == 0
    record = json.loads((wd / "config.json").read_text())
    assert "stopped" not in record and record["config"]["train"]["lr"] == 0.0005
    assert record["changes"] == [{"after_step": 10, "reason": "resumed after a non-finite loss at step 13",
                                  "changed": {"train.lr": [old_lr, 0.0005]}}]
    assert json.loads((wd / "metrics.json").read_text())["steps"] == 30
    assert "peak lr changed" in (wd / "log.txt").read_text()


def test_corrupt_data_cache_is_one_line_and_rebuild_fixes_it(data_root, capsys):
    assert main(["data", "build", "--size", "256"]) == 0
    capsys.readouterr()
    frames = next((data_root / "cache").glob("mmnist_test_n256_*.npy"))
    raw = bytearray(frames.read_bytes())
    raw[-1000] ^= 0xFF  # one flipped byte inside the pixels
    frames.write_bytes(bytes(raw))
    for argv in (["eval", "zeros", "--sequences", "4"], ["data", "build", "--size", "256"]):
        assert main(argv) == 2
        line = _one_error_line(capsys)
        assert str(frames) in line and "corrupt" in line and KNOWN_SHA256[256] in line and "--rebuild" in line
    assert main(["data", "build", "--size", "256", "--rebuild"]) == 0
    assert KNOWN_SHA256[256] in capsys.readouterr().out
    meta = next((data_root / "cache").glob("mmnist_test_n256_*.meta.npz"))
    meta.write_bytes(b"not a zip")
    assert main(["eval", "zeros", "--sequences", "4"]) == 2
    assert str(meta) in _one_error_line(capsys)


def test_os_errors_are_one_line_but_bugs_keep_their_traceback(capsys, monkeypatch):
    import errno

    import vidkit.cli as cli

    for err, expect in ((PermissionError(errno.EACCES, "Permission denied", "/x/runs/a"),
                         "/x/runs/a: Permission denied (check the folder's permissions"),
                        (OSError(errno.ENOSPC, "No space left on device", "/x/runs/a/log.txt"),
                         "/x/runs/a/log.txt: No space left on device (free some disk space")):
        def fail(args, err=err):
            raise err

        monkeypatch.setattr(cli, "_cmd_profile", fail)
        assert main(["profile"]) == 2
        assert expect in _one_error_line(capsys)

    def bug(args):
        raise TypeError("a bug in vidkit, not the user's input")

    monkeypatch.setattr(cli, "_cmd_profile", bug)
    with pytest.raises(TypeError):
        main(["profile"])


def test_eval_says_which_profiles_test_set_scores_a_run(tmp_path, capsys, monkeypatch):
    """A run is scored on the test set of the profile it was trained in (as its README reports); when the
    active profile's differs, eval says so before building anything (issue 14)."""
    wd = tmp_path / "run"
    monkeypatch.setenv("VIDKIT_PROFILE", "smoke")
    assert main(["train", "mmnist_tiny", "--steps", "2", "--workdir", str(wd)]) == 0
    capsys.readouterr()
    monkeypatch.setenv("VIDKIT_PROFILE", "laptop")
    assert main(["eval", str(wd), "--sequences", "4"]) == 0
    out = capsys.readouterr().out
    assert f"note: {wd} was trained in the 'smoke' profile, so it is scored on that profile's test set " \
           "(the first 4 of 256 sequences" in out and "not on the active 'laptop' profile's 10000" in out
    monkeypatch.setenv("VIDKIT_PROFILE", "smoke")
    assert main(["eval", str(wd), "--sequences", "4"]) == 0
    assert "note:" not in capsys.readouterr().out
