"""Results of future-prediction runs as tables and plots: one home for what notebook 01 shows; and
:func:`claim`, the one line with which notebooks 02-04 check a claim of a paper against their numbers (and,
given a :class:`vidkit.eval.claims.Verdict`, the verdict recorded over seeds by ``vidkit reproduce``).

    results = {"zeros": evaluate_predictor(ZerosBaseline(), test), "simvp": run_summary(workdir)}
    results_table(results)          # pandas DataFrame: MSE, MAE, SSIM, PSNR, CE, training time, parameters
    style_results(results_table(results))   # the same, formatted for a notebook: integers as integers
    plot_per_horizon(results)       # error at t+1 ... t+10, one line per model
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from numbers import Integral
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from vidkit.eval.claims import Verdict

__all__ = ["run_summary", "results_table", "style_results", "plot_per_horizon", "line_styles",
           "temporal_autocorrelation", "dominant_period", "claim"]

#: Table columns: metric key -> header. Lower is better for all but SSIM and PSNR.
COLUMNS = {"mse": "MSE/frame", "mae": "MAE/frame", "ssim": "SSIM", "psnr": "PSNR (dB)",
           "cross_entropy": "CE/frame"}
#: Columns of :func:`results_table` that hold counts: integers (pandas ``Int64``, missing values ``<NA>``).
INTEGER_COLUMNS = ("steps", "params")


def run_summary(workdir: str | os.PathLike) -> dict[str, Any]:
    """A finished run's test scores plus its training facts, from ``<workdir>/metrics.json``:
    ``{"mean", "per_horizon", "sequences", "task", "train_s", "steps", "params"}``."""
    import torch

    from vidkit.runs import Run
    from vidkit.utils.checkpoint import load_checkpoint

    run = Run(workdir)
    workdir, path = run.path, run.metrics_path
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no {path.name}; is {workdir} a finished run (vidkit train / eval)?")
    metrics = run.read_metrics()
    if "eval" not in metrics:
        raise ValueError(f"{path}: no test scores ('eval'); run `vidkit eval {workdir} --write`")
    ckpt = run.checkpoint
    params = None
    if ckpt.is_file():
        params = sum(v.numel() for v in load_checkpoint(ckpt)["model"].values() if isinstance(v, torch.Tensor))
    return {**metrics["eval"], "train_s": metrics.get("elapsed_s"), "steps": metrics.get("steps"),
            "params": params}


def _check_results(results: Any) -> Mapping[str, Mapping[str, Any]]:
    if not isinstance(results, Mapping) or not results:
        raise TypeError("results must be a non-empty dict {name: scores}, scores as returned by "
                        "evaluate_predictor / run_summary")
    for name, scores in results.items():
        if not isinstance(scores, Mapping) or "mean" not in scores:
            raise ValueError(f"results[{name!r}] has no 'mean' scores; expected evaluate_predictor's output")
    return results


def results_table(results: Mapping[str, Mapping[str, Any]], sort_by: str | None = "mse"):
    """One row per model: the mean test metrics, training time (s), steps and parameter count.

    ``results`` maps a name to :func:`vidkit.eval.prediction.evaluate_predictor` output, optionally with the
    ``train_s`` / ``steps`` / ``params`` keys that :func:`run_summary` adds (baselines have none).
    Returns a ``pandas.DataFrame`` sorted by ``sort_by`` (``None``: keep the given order); ``steps`` and
    ``params`` are integer columns (``Int64``, ``<NA>`` for baselines). :func:`style_results` formats it.
    """
    import pandas as pd

    rows = {}
    for name, s in _check_results(results).items():
        row = {header: s["mean"].get(key, np.nan) for key, header in COLUMNS.items()}
        row["vs zeros"] = np.nan
        row["train (s)"] = s.get("train_s", np.nan)
        row["steps"] = s.get("steps", np.nan)
        row["params"] = s.get("params", np.nan)
        row["task"] = s.get("task", "future")
        rows[name] = row
    table = pd.DataFrame.from_dict(rows, orient="index")
    for col in INTEGER_COLUMNS:
        values = pd.to_numeric(table[col], errors="raise")
        if not values.dropna().apply(lambda v: float(v).is_integer()).all():
            raise ValueError(f"results: {col!r} must be whole numbers (or missing); got {values.tolist()}")
        table[col] = values.astype("Int64")
    if "zeros" in results:
        table["vs zeros"] = table["MSE/frame"] / results["zeros"]["mean"]["mse"]
    if sort_by is not None:
        if sort_by not in COLUMNS:
            raise ValueError(f"sort_by must be one of {sorted(COLUMNS)} or None, got {sort_by!r}")
        table = table.sort_values(COLUMNS[sort_by], ascending=sort_by not in ("ssim", "psnr"))
    return table


def style_results(table: Any):
    """A :func:`results_table` formatted for a notebook: metrics with 2 decimals (3 for SSIM), training time in
    whole seconds, steps and parameters as integers with thousands separators, missing values as ``-``.
    Returns a pandas ``Styler`` (display it as a cell's last expression)."""
    import pandas as pd

    if not isinstance(table, pd.DataFrame):
        raise TypeError(f"style_results expects the DataFrame of results_table(...); got {type(table).__name__}")
    formats = {col: "{:.2f}" for col in (*COLUMNS.values(), "vs zeros") if col in table.columns}
    if "SSIM" in formats:
        formats["SSIM"] = "{:.3f}"
    if "train (s)" in table.columns:
        formats["train (s)"] = "{:,.0f}"
    formats.update({col: "{:,}" for col in INTEGER_COLUMNS if col in table.columns})
    return table.style.format(formats, na_rep="-")


#: Style of the trivial baselines in :func:`plot_per_horizon`: one neutral gray, dotted, each its own marker.
BASELINE_STYLES = {
    "zeros": {"color": "#666666", "linestyle": ":", "marker": "x", "markersize": 7},
    "copy_last": {"color": "#666666", "linestyle": ":", "marker": "+", "markersize": 7},
    "mean_frame": {"color": "#666666", "linestyle": ":", "marker": "d", "markersize": 7},
}
_MODEL_COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#bcbd22",
                 "#17becf")  # tab10 without its gray, which the baselines use
_MODEL_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
_MODEL_LINESTYLES = ("-", "--", "-.")


def line_styles(names: list[str] | tuple[str, ...]) -> dict[str, dict[str, Any]]:
    """``{name: {"color", "linestyle", "marker"}}``, a different combination for every name.

    The trivial baselines (``zeros``, ``copy_last``, ``mean_frame``) keep :data:`BASELINE_STYLES` (gray,
    dotted); the other names take, in order, the 9 non-gray tab10 colours with solid lines, then the same
    colours dashed, then dash-dotted, each with the next of 8 markers: up to 27 models differ in colour and
    line style, and every (colour, line style, marker) triple is distinct for up to 216.
    """
    styles, k = {}, 0
    for name in names:
        if name in BASELINE_STYLES:
            styles[name] = dict(BASELINE_STYLES[name])
            continue
        styles[name] = {"color": _MODEL_COLORS[k % len(_MODEL_COLORS)],
                        "linestyle": _MODEL_LINESTYLES[(k // len(_MODEL_COLORS)) % len(_MODEL_LINESTYLES)],
                        "marker": _MODEL_MARKERS[k % len(_MODEL_MARKERS)]}
        k += 1
    return styles


def plot_per_horizon(results: Mapping[str, Mapping[str, Any]], metric: str = "mse", ax: Any = None,
                     title: str | None = None):
    """Per-horizon curves (error at ``t+1 ... t+k``), one line per model, each with its own colour, line style
    and marker (:func:`line_styles`; the baselines gray and dotted), the legend beside the axes.
    Returns the figure."""
    import matplotlib.pyplot as plt

    if metric not in COLUMNS:
        raise ValueError(f"metric must be one of {sorted(COLUMNS)}, got {metric!r}")
    results = _check_results(results)
    if ax is None:
        _, ax = plt.subplots(figsize=(9, 4.5), layout="constrained")
    curves = {name: s["per_horizon"][metric] for name, s in results.items()
              if s.get("task", "future") == "future"}  # a reconstruction has no horizon
    styles = line_styles(list(curves))
    for name, curve in curves.items():
        ax.plot(range(1, len(curve) + 1), curve, label=name, **{"markersize": 5, "linewidth": 1.6, **styles[name]})
    ax.set_xlabel("frames into the future (t + k)")
    ax.set_ylabel(COLUMNS[metric])
    ax.set_title(title or f"{COLUMNS[metric]} by horizon on the fixed test set")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=9, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0, handlelength=3)
    return ax.figure


def temporal_autocorrelation(frames: Any, max_lag: int | None = None) -> np.ndarray:
    """How much a clip resembles itself ``lag`` frames later: ``r[lag]`` for ``lag = 0 .. max_lag``.

    ``frames`` ``(T, ...)`` (numpy or torch). Each frame is flattened and mean-centred over the clip;
    ``r[lag]`` is the mean cosine similarity of frame ``t`` and frame ``t + lag``. A periodic rollout
    shows peaks at multiples of its period (used for Srivastava's long-rollout observation).

    ``max_lag`` is None (``T // 2``) or an int in ``1 .. T - 1``; anything else raises ``ValueError``. The
    result has ``max_lag + 1`` entries. A still clip (every frame identical) gives all NaN, deliberately:
    with nothing left after mean-centring no similarity is defined (and :func:`dominant_period` then finds
    no peak). ``max_lag`` is validated for still clips too.
    """
    x = np.asarray(frames.detach().cpu() if hasattr(frames, "detach") else frames, dtype=np.float64)
    if x.ndim < 2 or len(x) < 3:
        raise ValueError(f"frames must be (T, ...) with T >= 3, got shape {x.shape}")
    if max_lag is None:
        max_lag = len(x) // 2
    elif isinstance(max_lag, bool) or not isinstance(max_lag, Integral) or not 1 <= max_lag < len(x):
        raise ValueError(f"max_lag must be None or an int in 1..{len(x) - 1} (T - 1 for T = {len(x)} frames), "
                         f"got {max_lag!r}")
    max_lag = int(max_lag)
    x = x.reshape(len(x), -1)
    # a still clip: the autocorrelation is undefined (NaN), and it has no period. Tested on the raw frames:
    # after mean-centring, rounding can leave ~1e-17 residue (e.g. a clip of 0.3s), which would be normalised
    # into meaningless numbers
    if (x == x[:1]).all():
        return np.full(max_lag + 1, np.nan)
    x = x - x.mean(0, keepdims=True)
    x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    return np.array([float((x[: len(x) - lag] * x[lag:]).sum(1).mean()) for lag in range(max_lag + 1)])


def dominant_period(autocorr: np.ndarray, min_lag: int = 2) -> tuple[int | None, float]:
    """``(lag, r)`` of the highest autocorrelation peak (a local maximum) at ``lag >= min_lag``: the clip's
    most likely period and how strongly it repeats (``r`` near 1: an exact loop; near 0: no repetition).
    ``(None, nan)`` when the curve has no interior peak at all (it only falls or only rises)."""
    r = np.asarray(autocorr, dtype=np.float64)
    if r.ndim != 1 or len(r) <= min_lag + 1:
        raise ValueError(f"autocorr must be 1-D and longer than min_lag + 1 = {min_lag + 1}, got shape {r.shape}")
    # a peak rises from the left and does not rise to the right (a flat plateau is not a peak)
    peaks = [i for i in range(max(min_lag, 1), len(r) - 1) if r[i] > r[i - 1] and r[i] >= r[i + 1]]
    if not peaks:
        return None, float("nan")
    best = max(peaks, key=lambda i: r[i])
    return int(best), float(r[best])


def claim(text: str, ok: object, *, recorded: Verdict | None = None) -> None:
    """Print one claim check: ``HOLDS`` or ``DOES NOT HOLD`` (as ``ok`` is true or not), then ``text``.

    ``recorded``: the claim's :class:`vidkit.eval.claims.Verdict` on the runs ``vidkit reproduce`` recorded,
    printed as a second, indented line: ``recorded (3 seeds, laptop profile): HOLDS  A 0.92 ± 0.01 vs
    B 0.76 ± 0.05, effect size 3.1``, or how to record it when there is nothing recorded (``n == 0``)."""
    print(("HOLDS      " if ok else "DOES NOT HOLD") + "  " + text)
    if recorded is None:
        return
    from vidkit.eval.claims import Verdict

    if not isinstance(recorded, Verdict):
        raise TypeError(f"recorded must be a vidkit.eval.claims.Verdict or None, got {type(recorded).__name__}")
    if recorded.n == 0:
        print(f"   no recorded result yet: run `vidkit reproduce {recorded.claim.id}`")
        return
    where = f", {recorded.profile} profile" if recorded.profile else ""
    print(f"   recorded ({recorded.n} seed{'s' if recorded.n != 1 else ''}{where}): {recorded.summary()}")
