"""Benchmark: test MSE against CPU-minutes for each laptop recipe (issue 20): what another ten minutes buys.

Each candidate is a recipe plus ``--set`` overrides, trained with ``vidkit``'s own ``run_recipe`` for a fixed
number of steps (``--steps``, chosen to fit ``--minutes`` of training on this machine; the learning-rate
schedule is planned for them). Every ``--every`` seconds of *training* time a callback scores the model on the
first ``--curve-sequences`` sequences of the fixed test set (its own time is kept off the curve's clock); at
the end the run is scored on the first ``--sequences`` test sequences and, for model selection, on as many
sequences of the **validation** set (recipes are chosen on it, never on the test set).

Results go to ``docs/results/learning_curves.json`` (one entry per candidate: command, steps, training
seconds, the curve, final test and validation scores, the zeros baseline) and the figure to
``docs/learning_curves.png``; ``docs/benchmarks.md`` quotes them. Existing entries are kept (``--redo`` retrains
one), so the candidates can be run one at a time, each alone on the machine.

Run:  OMP_NUM_THREADS=2 .venv/bin/python benchmarks/learning_curves.py CANDIDATE [CANDIDATE ...] [--minutes 10]
      .venv/bin/python benchmarks/learning_curves.py --plot          # redraw the figure from the record
Candidates: see ``CANDIDATES`` below (``--list``).
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from datetime import UTC, datetime
from pathlib import Path

import torch

import vidkit
from vidkit.data import load_test_set, load_val_set
from vidkit.eval.prediction import evaluate_predictor
from vidkit.experiments.future_prediction import parse_overrides, run_recipe
from vidkit.models import BASELINES
from vidkit.utils.fileio import write_json_atomic

ROOT = Path(__file__).resolve().parents[1]
RECORD = ROOT / "docs" / "results" / "learning_curves.json"
FIGURE = ROOT / "docs" / "learning_curves.png"

#: name -> (recipe, steps for 10 minutes on the 2-core development machine, --set overrides)
CANDIDATES: dict[str, tuple[str, int, list[str]]] = {
    "simvp, 4x4 latent (the first LAPTOP_10MIN)": ("mmnist_simvp", 4200, ["batch_size=16"]),
    "simvp, 7,000 steps": ("mmnist_simvp", 7000, ["batch_size=16"]),
    "simvp, 7,000 steps, MSE": ("mmnist_simvp", 7000, ["batch_size=16", "loss.kind=mse"]),
    "simvp, 8x8 latent (downsample 1), 5,200 steps": ("mmnist_simvp", 5200, ["batch_size=16", "model.downsample=1"]),
    "simvp, 8x8 latent, lr 1e-2, 5,200 steps": ("mmnist_simvp", 5200, ["batch_size=16", "model.downsample=1",
                                                                      "train.lr=0.01"]),
    "simvp, 8x8 latent, dynamic-filter readout, 3,300 steps": ("mmnist_simvp", 3300, [
        "batch_size=16", "model.downsample=1", "model.readout=filter"]),
    "simvp, 8x8 latent, dynamic-filter readout, 3,900 steps": ("mmnist_simvp", 3900, [  # LAPTOP_10MIN
        "batch_size=16", "model.downsample=1", "model.readout=filter"]),
    "predformer": ("mmnist_predformer", 2000, ["batch_size=16"]),
    "convlstm": ("mmnist_convlstm", 2500, ["batch_size=16"]),
    "lstm composite": ("mmnist_lstm", 15000, ["batch_size=16"]),
}


def load(path: Path) -> dict:
    return json.loads(path.read_text()) if path.is_file() else {"runs": {}}


def run(name: str, minutes: float, every: float, curve_n: int, final_n: int, workdir: Path,
        steps: int | None = None) -> dict:
    recipe, recipe_steps, sets = CANDIDATES[name]
    steps = steps or recipe_steps
    test, curve = load_test_set(final_n, progress=False), []
    spent = {"eval": 0.0, "next": every}

    def score(info) -> None:  # a test-MSE point every `every` s of training time (its own time excluded)
        train_s = info.elapsed_s - spent["eval"]
        if (train_s < spent["next"] and not info.final) or (curve and curve[-1]["step"] == info.step):
            return
        t0 = time.perf_counter()
        was = info.model.training
        info.model.eval()
        r = evaluate_predictor(info.model, test, max_sequences=curve_n, progress=False)
        info.model.train(was)
        curve.append({"step": info.step, "train_s": round(train_s, 1), "mse": r["mean"]["mse"]})
        spent["next"] = train_s + every
        spent["eval"] += time.perf_counter() - t0

    command = (f"vidkit train {recipe} --profile laptop --steps {steps} --time {int(minutes * 60 * 2)} "
               + " ".join(f"--set {s}" for s in sets))
    t0 = time.perf_counter()
    path = run_recipe(recipe, profile="laptop", workdir=workdir, steps=steps, time_budget_s=minutes * 60 * 2,
                      overrides=parse_overrides(sets), resume=False, samples=False, callbacks=[score],
                      command=command)
    wall = time.perf_counter() - t0
    metrics = json.loads((path / "metrics.json").read_text())
    model = vidkit.load(path)
    val = evaluate_predictor(model, load_val_set(final_n, progress=False), max_sequences=final_n, progress=False)
    final = evaluate_predictor(model, test, max_sequences=final_n, progress=False)
    zeros = evaluate_predictor(BASELINES["zeros"](), test, max_sequences=final_n, progress=False)
    zeros_curve = evaluate_predictor(BASELINES["zeros"](), test, max_sequences=curve_n, progress=False)
    return {"recipe": recipe, "command": command, "steps": metrics.get("steps", steps),
            "train_s": round(curve[-1]["train_s"], 1), "wall_s": round(wall, 1), "curve": curve,
            "curve_sequences": curve_n, "zeros_curve_mse": zeros_curve["mean"]["mse"],
            "test": final["mean"], "val": val["mean"], "sequences": final_n, "zeros_test_mse": zeros["mean"]["mse"],
            "ratio": final["mean"]["mse"] / zeros["mean"]["mse"], "threads": torch.get_num_threads(),
            "date": datetime.now(UTC).isoformat(timespec="seconds"), "machine": platform.processor()}


def plot(record: dict, figure: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5), layout="constrained")
    for name, r in sorted(record["runs"].items()):
        xs = [p["train_s"] / 60 for p in r["curve"]]
        ys = [p["mse"] / r["zeros_curve_mse"] for p in r["curve"]]
        ax.plot(xs, ys, marker="o", ms=3, label=f"{name} (final {r['ratio']:.3f}x on {r['sequences']} seq.)")
    ax.axhline(1.0, color="k", lw=0.8, ls=":", label="all-zeros prediction")
    ax.set(xlabel="training time (CPU-minutes, 2 cores)", ylabel="test MSE / all-zeros MSE",
           title=f"Moving MNIST, laptop recipes: test MSE against training time (first "
                 f"{next(iter(record['runs'].values()))['curve_sequences']} test sequences)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.savefig(figure, dpi=110)
    print(f"wrote {figure}")


def table(record: dict) -> str:
    """The record as a markdown table for docs/benchmarks.md (candidates ordered by validation MSE)."""
    rows = ["| candidate | steps | training (s) | val MSE | test MSE | vs zeros (test) | test SSIM | command |",
            "|---|---:|---:|---:|---:|---:|---:|---|"]
    for name, r in sorted(record["runs"].items(), key=lambda kv: kv[1]["val"]["mse"]):
        rows.append(f"| {name} | {r['steps']:,} | {r['train_s']:.0f} | {r['val']['mse']:.1f} | {r['test']['mse']:.1f} | "
                    f"**{r['ratio']:.3f}** | {r['test']['ssim']:.3f} | `{r['command']}` |")
    return "\n".join(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("candidates", nargs="*")
    ap.add_argument("--minutes", type=float, default=10.0, help="the training budget the steps are sized for")
    ap.add_argument("--every", type=float, default=60.0, help="seconds of training between curve points")
    ap.add_argument("--curve-sequences", type=int, default=200)
    ap.add_argument("--sequences", type=int, default=1000, help="test (and validation) sequences at the end")
    ap.add_argument("--workdir", default=str(ROOT / "runs" / "learning_curves"))
    ap.add_argument("--redo", action="store_true", help="retrain candidates already recorded")
    ap.add_argument("--plot", action="store_true", help="only redraw the figure and print the table")
    ap.add_argument("--list", action="store_true")
    ap.add_argument("--steps", type=int, default=None, help="override the candidates' steps (a quick check)")
    ap.add_argument("--record", default=str(RECORD), help="the JSON record (default: docs/results/)")
    ap.add_argument("--figure", default=str(FIGURE))
    args = ap.parse_args()
    record_path, figure = Path(args.record), Path(args.figure)
    if args.list:
        for name, (recipe, steps, sets) in CANDIDATES.items():
            print(f"{name!r}: {recipe}, {steps} steps, {' '.join(sets)}")
        return
    unknown = [c for c in args.candidates if c not in CANDIDATES]
    if unknown:
        raise SystemExit(f"unknown candidates {unknown}; see --list")
    record = load(record_path)
    if args.plot:
        plot(record, figure)
        print(table(record))
        return
    for name in args.candidates:
        if name in record["runs"] and not args.redo:
            print(f"{name}: recorded, skipped (--redo retrains it)")
            continue
        workdir = Path(args.workdir) / name.replace(" ", "_").replace(",", "").replace("(", "").replace(")", "")
        entry = run(name, args.minutes, args.every, args.curve_sequences, args.sequences, workdir, args.steps)
        record = load(record_path)
        record["runs"][name] = entry
        write_json_atomic(record, record_path)
        print(f"{name}: {entry['steps']} steps, {entry['train_s']:.0f} s of training, test MSE "
              f"{entry['test']['mse']:.1f} = {entry['ratio']:.3f}x zeros, val MSE {entry['val']['mse']:.1f}")
    if record["runs"]:
        plot(record, figure)


if __name__ == "__main__":
    main()
