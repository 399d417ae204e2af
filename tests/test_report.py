"""vidkit.report: results table, per-horizon plot, periodicity of long rollouts."""

from __future__ import annotations

import json

import numpy as np
import pytest

from vidkit.report import (
    dominant_period,
    plot_per_horizon,
    results_table,
    run_summary,
    temporal_autocorrelation,
)


def _scores(mse: float, task: str = "future") -> dict:
    keys = ["mse", "mae", "ssim", "psnr", "cross_entropy"]
    return {"mean": {k: mse for k in keys}, "per_horizon": {k: [mse] * 10 for k in keys}, "sequences": 4,
            "task": task}


def test_results_table_sorts_and_relates_to_zeros():
    table = results_table({"zeros": _scores(200.0), "model": {**_scores(50.0), "train_s": 12.0, "params": 7},
                           "ae": _scores(10.0, "reconstruction")})
    assert list(table.index) == ["ae", "model", "zeros"]
    assert table.loc["model", "vs zeros"] == pytest.approx(0.25)
    assert table.loc["model", "train (s)"] == 12.0 and np.isnan(table.loc["zeros", "train (s)"])
    assert table.loc["ae", "task"] == "reconstruction"
    with pytest.raises(ValueError, match="sort_by"):
        results_table({"a": _scores(1.0)}, sort_by="speed")
    with pytest.raises(ValueError, match="no 'mean'"):
        results_table({"a": {"x": 1}})
    with pytest.raises(TypeError, match="non-empty dict"):
        results_table({})


def test_plot_per_horizon_skips_reconstructions():
    fig = plot_per_horizon({"zeros": _scores(200.0), "m": _scores(50.0), "ae": _scores(1.0, "reconstruction")})
    labels = [line.get_label() for line in fig.axes[0].get_lines()]
    assert labels == ["zeros", "m"]
    assert fig.axes[0].get_lines()[0].get_linestyle() == "--"  # baselines dashed
    with pytest.raises(ValueError, match="metric"):
        plot_per_horizon({"m": _scores(1.0)}, metric="fid")


def test_run_summary_reads_metrics(tmp_path):
    (tmp_path / "metrics.json").write_text(json.dumps({"eval": _scores(3.0), "elapsed_s": 5.0, "steps": 9}))
    s = run_summary(tmp_path)
    assert s["train_s"] == 5.0 and s["steps"] == 9 and s["params"] is None and s["mean"]["mse"] == 3.0
    (tmp_path / "metrics.json").write_text(json.dumps({"steps": 9}))
    with pytest.raises(ValueError, match="vidkit eval"):
        run_summary(tmp_path)
    with pytest.raises(FileNotFoundError, match="metrics.json"):
        run_summary(tmp_path / "nope")


def test_autocorrelation_finds_the_period_of_a_loop():
    rng = np.random.default_rng(0)
    loop = rng.random((7, 8, 8))
    clip = np.concatenate([loop] * 6)  # period 7
    r = temporal_autocorrelation(clip, max_lag=20)
    assert r[0] == pytest.approx(1.0) and r[7] == pytest.approx(1.0, abs=1e-9)
    assert dominant_period(r) == (7, pytest.approx(1.0, abs=1e-9))
    noise = temporal_autocorrelation(rng.random((60, 8, 8)))
    assert dominant_period(noise)[1] < 0.3  # no repetition
    lag, r = dominant_period(np.linspace(1, 0, 10))  # only falls: no peak, no period
    assert lag is None and np.isnan(r)
    assert dominant_period(np.array([1, .5, .5, .3, .2]))[0] is None  # a plateau is not a peak
    still = temporal_autocorrelation(np.ones((10, 4, 4)))
    assert np.isnan(still).all() and dominant_period(still)[0] is None
    with pytest.raises(ValueError, match="T >= 3"):
        temporal_autocorrelation(np.zeros((2, 4)))
    with pytest.raises(ValueError, match="max_lag"):
        temporal_autocorrelation(clip, max_lag=0)


@pytest.mark.parametrize("max_lag", [0, -1, 10, 11, 100, 2.7, 3.0, True, "3"])
@pytest.mark.parametrize("kind", ["still", "moving"])
def test_autocorrelation_validates_max_lag_even_for_a_still_clip(max_lag, kind):
    clip = np.ones((10, 4, 4)) if kind == "still" else np.random.default_rng(1).random((10, 4, 4))
    with pytest.raises(ValueError, match=r"max_lag must be None or an int in 1\.\.9"):
        temporal_autocorrelation(clip, max_lag=max_lag)


def test_autocorrelation_of_a_still_clip_is_nan_with_max_lag_plus_one_entries():
    still = np.full((10, 4, 4), 0.3)
    for max_lag in (1, 5, 9, np.int64(4)):
        r = temporal_autocorrelation(still, max_lag=max_lag)
        assert r.shape == (int(max_lag) + 1,) and np.isnan(r).all()
    assert temporal_autocorrelation(still).shape == (6,)  # default max_lag = T // 2
    moving = temporal_autocorrelation(np.random.default_rng(2).random((10, 4, 4)), max_lag=9)
    assert moving.shape == (10,) and np.isfinite(moving).all() and moving[0] == pytest.approx(1.0)
