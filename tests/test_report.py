"""vidkit.eval.report: results table, per-horizon plot, periodicity of long rollouts."""

from __future__ import annotations

import json

import numpy as np
import pytest

import vidkit
from vidkit.eval.report import (
    BASELINE_STYLES,
    dominant_period,
    plot_per_horizon,
    results_table,
    run_summary,
    style_results,
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
    assert fig.axes[0].get_lines()[0].get_linestyle() == ":"  # baselines dotted
    with pytest.raises(ValueError, match="metric"):
        plot_per_horizon({"m": _scores(1.0)}, metric="fid")


def test_results_table_counts_are_integers():
    """Steps and parameter counts show as 5 and 668,160, not 5.00 and 668160.00; baselines have none."""
    table = results_table({"zeros": _scores(200.0),
                           "lstm": {**_scores(50.0), "train_s": 12.34, "steps": 5, "params": 668160}})
    assert str(table["steps"].dtype) == "Int64" and str(table["params"].dtype) == "Int64"
    assert table.loc["lstm", "params"] == 668160 and table["params"].isna().sum() == 1
    assert "668160" in table.to_string() and "668160.0" not in table.to_string()
    html = style_results(table).to_html()
    assert ">668,160<" in html and ">5<" in html and ">12<" in html  # train (s): whole seconds
    assert "668160.00" not in html and ">5.00<" not in html
    assert ">50.00<" in html and ">0.25<" in html and ">-<" in html  # metrics 2 decimals; missing: "-"
    # what the notebooks did before: the plain styler no longer turns counts into floats either
    plain = table.style.format(precision=2, na_rep="-").to_html()
    assert "668160.00" not in plain and ">5.00<" not in plain
    with pytest.raises(ValueError, match="whole numbers"):
        results_table({"m": {**_scores(1.0), "steps": 2.5}})
    with pytest.raises(TypeError, match="DataFrame"):
        style_results({"m": 1})


@pytest.mark.parametrize("n_models", [8, 17])  # with the 3 baselines: 11 and 20 lines
def test_plot_per_horizon_every_line_has_its_own_style(n_models):
    from matplotlib.colors import to_rgba

    results = {name: _scores(100.0 + i) for i, name in enumerate(BASELINE_STYLES)}
    results.update({f"model {i}": _scores(50.0 + i) for i in range(n_models)})
    lines = plot_per_horizon(results).axes[0].get_lines()
    assert len(lines) == n_models + 3
    styles = [(to_rgba(line.get_color()), line.get_linestyle(), line.get_marker()) for line in lines]
    assert len(set(styles)) == len(styles), "two lines share colour, line style and marker"
    first_nine = [to_rgba(line.get_color()) for line in lines[3:12]]
    assert len(set(first_nine)) == len(first_nine)  # the first 9 models differ in colour alone
    # the baselines: one neutral gray, dotted, in every plot; no model is gray
    gray = {to_rgba(line.get_color()) for line in lines[:3]}
    assert len(gray) == 1 and {line.get_linestyle() for line in lines[:3]} == {":"}
    r, g, b, _ = gray.pop()
    assert r == g == b
    assert all(len({c for c in to_rgba(line.get_color())[:3]}) > 1 for line in lines[3:])


def test_runs_dir_is_the_repository_runs_folder_or_vidkit_runs(monkeypatch, tmp_path):
    from pathlib import Path

    from vidkit.data import data_dir

    repo = Path(vidkit.__file__).resolve().parents[1]
    for var in ("VIDKIT_RUNS", "VIDKIT_DATA"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)  # wherever a notebook or a terminal runs from
    assert vidkit.runs_dir() == repo / "runs" and vidkit.runs_dir().parent == data_dir().parent  # beside data/
    monkeypatch.setenv("VIDKIT_RUNS", str(tmp_path / "elsewhere"))
    assert vidkit.runs_dir() == tmp_path / "elsewhere"
    monkeypatch.setenv("VIDKIT_RUNS", "relative/runs")
    assert vidkit.runs_dir() == tmp_path / "relative" / "runs" and vidkit.runs_dir().is_absolute()
    monkeypatch.setenv("VIDKIT_RUNS", "  ")
    assert vidkit.runs_dir() == repo / "runs"  # blank: not set


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


def test_claim_prints_whether_it_holds(capsys):
    from vidkit.eval.report import claim

    claim("2 > 1", 2 > 1)
    claim("1 > 2", 1 > 2)
    assert capsys.readouterr().out.splitlines() == ["HOLDS        2 > 1", "DOES NOT HOLD  1 > 2"]
