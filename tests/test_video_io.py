"""Reading and writing video files (vidkit.data.video): every format round-trips frame for frame, the crop / pad
geometry, resampling by picking frames, grayscale weights, and a clear error for each bad file or argument."""

from __future__ import annotations

import subprocess

import numpy as np
import pytest
import torch

from vidkit.data.video import (
    VideoFileError,
    fit_frame,
    probe_video,
    read_frames,
    read_video,
    to_clip,
    write_video,
)
from vidkit.errors import DataFileError

LEVELS = np.arange(12) * 20 + 10                                       # frame t has gray level 10 + 20 t


def ramp(t: int = 12, h: int = 24, w: int = 32) -> np.ndarray:
    """``(t, h, w)`` uint8: frame ``i`` is uniformly ``LEVELS[i]``, so a frame read back names its index."""
    return np.broadcast_to(LEVELS[:t, None, None], (t, h, w)).astype(np.uint8).copy()


def index_of(frames: np.ndarray) -> list[int]:
    """The frame index each read-back frame shows (nearest level), for ``(T, H, W)`` or ``(T, H, W, 3)``."""
    means = frames.reshape(len(frames), -1).mean(axis=1)
    return [int(np.argmin(np.abs(LEVELS - m))) for m in means]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("videos")
    return {ext: write_video(folder / f"ramp.{ext}", ramp(), fps=5) for ext in ("mp4", "avi", "webm", "gif")}


@pytest.mark.parametrize("ext", ["mp4", "avi", "webm", "gif"])
def test_every_format_round_trips_frame_for_frame(files, ext):
    path = files[ext]
    info = probe_video(path)
    assert (info.num_frames, info.fps, info.width, info.height) == (12, 5.0, 32, 24)
    assert info.duration == pytest.approx(2.4)
    gray = read_video(path, size=(24, 32))
    assert gray.shape == (12, 24, 32) and gray.dtype == np.uint8
    assert index_of(gray) == list(range(12))
    assert np.abs(gray.astype(int) - ramp().astype(int)).max() <= 6       # lossy codecs stay close
    rgb = read_video(path, size=8, channels=3)
    assert rgb.shape == (12, 8, 8, 3) and index_of(rgb) == list(range(12))


def test_resampling_picks_frames_start_and_max_frames(files):
    path = files["avi"]                                                   # 12 frames at 5 fps: frame i at i / 5 s
    assert index_of(read_video(path, size=8, fps=2.5)) == [0, 2, 4, 6, 8, 10]
    assert index_of(read_video(path, size=8, fps=10, max_frames=5)) == [0, 0, 1, 1, 2]
    assert index_of(read_video(path, size=8, start=1.0)) == [5, 6, 7, 8, 9, 10, 11]
    assert index_of(read_video(path, size=8, start=0.4, fps=2.5, max_frames=2)) == [2, 4]
    assert index_of(read_frames(path, [7, 1, 7, 3], size=8)) == [7, 1, 7, 3]   # any order, repeats
    assert index_of(read_frames(path, lambda n: np.arange(n - 2, n), size=8)) == [10, 11]


def test_centre_crop_and_pad_geometry():
    frame = np.zeros((40, 80, 3), np.uint8)                               # wide frame: red | green | blue bands
    frame[:, :20] = (255, 0, 0)
    frame[:, 20:60] = (0, 255, 0)
    frame[:, 60:] = (0, 0, 255)
    crop = fit_frame(frame, 20, channels=3, fit="crop")                   # the middle 40 x 40: all green
    assert crop.shape == (20, 20, 3) and crop[..., 1].min() == 255 and crop[..., [0, 2]].max() == 0
    pad = fit_frame(frame, 20, channels=3, fit="pad")                     # 80 x 40 -> 20 x 10, black bars above/below
    assert pad.shape == (20, 20, 3)
    assert pad[:5].max() == 0 and pad[15:].max() == 0
    assert pad[10, 0, 0] == 255 and pad[10, 10, 1] == 255 and pad[10, 19, 2] == 255
    tall = fit_frame(frame.transpose(1, 0, 2).copy(), (10, 20), channels=3)  # 80 x 40 tall -> crop rows to 20 x 40
    assert tall.shape == (10, 20, 3) and tall[..., 1].min() == 255
    gray = fit_frame(frame, (4, 8), channels=1)                           # BT.601 luma of each band
    assert gray.shape == (4, 8)
    assert abs(int(gray[0, 0]) - 76) <= 1 and abs(int(gray[0, 4]) - 150) <= 1 and abs(int(gray[0, 7]) - 29) <= 1


def test_to_clip_layouts():
    gray = to_clip(np.full((3, 4, 5), 255, np.uint8))
    assert gray.shape == (3, 1, 4, 5) and gray.dtype == torch.float32 and float(gray.max()) == 1.0
    rgb = np.zeros((2, 4, 5, 3), np.uint8)
    rgb[..., 2] = 51
    clip = to_clip(rgb)
    assert clip.shape == (2, 3, 4, 5) and float(clip[:, 2].mean()) == pytest.approx(0.2)
    with pytest.raises(ValueError, match="uint8"):
        to_clip(np.zeros((2, 4, 5), np.float32))


def test_write_video_is_atomic_and_checks_its_arguments(tmp_path):
    out = write_video(tmp_path / "sub" / "x.webm", np.zeros((3, 7, 9, 3), np.float32), fps=4)
    assert probe_video(out).num_frames == 3 and (probe_video(out).width, probe_video(out).height) == (10, 8)
    assert sorted(p.name for p in out.parent.iterdir()) == ["x.webm"]           # no temp file left
    with pytest.raises(ValueError, match=r"\.mp4, \.avi, \.webm, \.gif"):
        write_video(tmp_path / "x.mov", ramp())
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        write_video(tmp_path / "x.mp4", ramp().astype(np.float32))
    with pytest.raises(ValueError, match="fps"):
        write_video(tmp_path / "x.mp4", ramp(), fps=0)
    with pytest.raises(ValueError, match=r"\(T, H, W\)"):
        write_video(tmp_path / "x.mp4", np.zeros((2, 3, 4, 5), np.uint8))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sub"]


def test_bad_files_raise_errors_that_name_them(tmp_path, files):
    from imageio_ffmpeg import get_ffmpeg_exe

    with pytest.raises(FileNotFoundError, match="no such video file") as e:
        read_video(tmp_path / "missing.mp4")
    assert e.value.filename == str(tmp_path / "missing.mp4")
    with pytest.raises(VideoFileError, match="is a folder"):
        read_video(tmp_path)
    (tmp_path / "empty.mp4").write_bytes(b"")
    with pytest.raises(VideoFileError, match=r"empty\.mp4: is empty \(0 bytes\)"):
        read_video(tmp_path / "empty.mp4")
    (tmp_path / "notes.avi").write_text("not a video")
    with pytest.raises(VideoFileError, match=r"notes\.avi: cannot be read as a video \(ffmpeg: .*Invalid data"):
        probe_video(tmp_path / "notes.avi")
    sound = tmp_path / "sound.mp4"                                        # a file with no video stream
    subprocess.run([get_ffmpeg_exe(), "-loglevel", "error", "-f", "lavfi", "-i", "sine=duration=0.5", str(sound)],
                   check=True)
    with pytest.raises(VideoFileError, match="sound.mp4: holds no video frames"):
        read_video(sound)
    assert issubclass(VideoFileError, DataFileError) and issubclass(VideoFileError, ValueError)
    with pytest.raises(TypeError, match="str or os.PathLike"):
        read_video(3)


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"size": 0}, "size must be an int in 1..4096"),
    ({"size": (8, 8, 8)}, r"size must be an int .* or \(H, W\)"),
    ({"channels": 2}, "channels must be 1 or 3"),
    ({"fps": 0}, "fps must be a finite number in"),
    ({"max_frames": 0}, "max_frames must be a positive int"),
    ({"start": -1.0}, "start must be a finite number in"),
    ({"start": 2.4}, r"start must be before the end of .*\(12 frames at 5 fps = 2.400 s\)"),
    ({"fit": "stretch"}, "fit must be 'crop' or 'pad'"),
])
def test_bad_arguments_name_the_expected_value(files, kwargs, match):
    with pytest.raises(ValueError, match=match):
        read_video(files["mp4"], **kwargs)


def test_read_frames_checks_indices(files):
    with pytest.raises(ValueError, match=r"frame numbers in 0..11 .* has 12 frames"):
        read_frames(files["gif"], [0, 12])
    with pytest.raises(ValueError, match="non-empty 1-D array"):
        read_frames(files["gif"], [])
