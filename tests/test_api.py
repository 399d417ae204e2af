"""vidkit.load -> vidkit.predict -> vidkit.show."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import vidkit
from vidkit.experiments.future_prediction import run_recipe
from vidkit.models import CopyLastBaseline
from vidkit.viz.widgets import ClipPlayer


def test_predict_accepts_every_clip_layout():
    clip = np.random.default_rng(0).integers(0, 256, (10, 16, 16), dtype=np.uint8)
    out = vidkit.predict(CopyLastBaseline(), clip, steps=3)
    assert out.shape == (3, 1, 16, 16)
    torch.testing.assert_close(out[2, 0], torch.from_numpy(clip[-1]).float() / 255)
    batch = torch.rand(2, 10, 1, 16, 16)
    assert vidkit.predict(CopyLastBaseline(), batch, steps=4).shape == (2, 4, 1, 16, 16)
    assert vidkit.predict(CopyLastBaseline(), batch[0], steps=4).shape == (4, 1, 16, 16)


def test_predict_validation():
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        vidkit.predict(CopyLastBaseline(), np.full((4, 8, 8), 2.0), steps=1)
    with pytest.raises(ValueError, match=r"\(T, H, W\)"):
        vidkit.predict(CopyLastBaseline(), np.zeros((8, 8)), steps=1)
    with pytest.raises(TypeError, match="predict"):
        vidkit.predict(torch.nn.Linear(2, 2), np.zeros((4, 8, 8)), steps=1)
    with pytest.raises(ValueError, match="steps"):
        vidkit.predict(CopyLastBaseline(), np.zeros((4, 8, 8)), steps=0)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
@pytest.mark.parametrize("as_torch", [False, True])
def test_predict_rejects_non_finite_pixels(bad, as_torch):
    clip = np.full((4, 8, 8), 0.5, dtype=np.float32)
    clip[2, 3, 3] = bad  # one bad pixel among valid ones
    clip = torch.from_numpy(clip) if as_torch else clip
    with pytest.raises(ValueError, match=r"finite.*\[0, 1\]"):
        vidkit.predict(CopyLastBaseline(), clip, steps=1)
    all_nan = np.full((1, 4, 1, 8, 8), np.nan)
    with pytest.raises(ValueError, match="NaN"):
        vidkit.predict(CopyLastBaseline(), all_nan, steps=1)


def test_load_round_trip(tmp_path):
    workdir = run_recipe("mmnist_tiny", profile="smoke", steps=2, root=tmp_path, progress=False)
    model = vidkit.load(workdir)
    same = vidkit.load(workdir / "checkpoints" / "last.pt")
    for k, v in model.state_dict().items():
        assert torch.equal(v, same.state_dict()[k])
    clip = torch.rand(10, 1, 64, 64)
    pred = vidkit.predict(model, clip, steps=10)
    assert pred.shape == (10, 1, 64, 64) and 0 <= pred.min() and pred.max() <= 1
    torch.testing.assert_close(pred, vidkit.predict(same, clip, steps=10))
    player = vidkit.show({"input": clip, "prediction": pred})
    assert isinstance(player, ClipPlayer) and player.num_frames == 10


def test_load_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="known names"):
        vidkit.load("no-such-model")
    with pytest.raises(FileNotFoundError, match="config.json"):
        vidkit.load(tmp_path)


def test_predict_rejects_empty_clips_and_huge_rollouts():
    for empty in (np.zeros((0, 8, 8), np.uint8), torch.zeros(2, 0, 1, 8, 8), np.zeros((3, 0, 8))):
        with pytest.raises(ValueError, match="clip is empty"):
            vidkit.predict(CopyLastBaseline(), empty, steps=1)
    with pytest.raises(ValueError, match=r"GiB.*MAX_OUTPUT_BYTES = 4 GiB"):
        vidkit.predict(CopyLastBaseline(), np.zeros((4, 64, 64), np.uint8), steps=10**6)


def test_load_of_another_runs_weights_names_the_file(tmp_path):
    import shutil

    from vidkit.errors import CheckpointError

    tiny = run_recipe("mmnist_tiny", profile="smoke", steps=2, root=tmp_path, progress=False, samples=False)
    simvp = run_recipe("mmnist_simvp", profile="smoke", steps=1, root=tmp_path, progress=False, samples=False)
    shutil.copy(simvp / "checkpoints" / "last.pt", tiny / "checkpoints" / "last.pt")
    with pytest.raises(CheckpointError, match=r"last\.pt: its weights do not fit.*recipe 'mmnist_tiny'"):
        vidkit.load(tiny)


def test_samples_folder_is_cleaned_of_leftover_temp_files(tmp_path):
    from vidkit.experiments.future_prediction import recipe_config, write_samples

    cfg = recipe_config("mmnist_tiny", "smoke")
    stale = tmp_path / ".rollouts.0123456789ab.tmp.gif"
    stale.write_bytes(b"half a gif")
    write_samples(CopyLastBaseline(), cfg, tmp_path, n=1)
    assert not stale.exists() and (tmp_path / "rollouts.gif").is_file()
