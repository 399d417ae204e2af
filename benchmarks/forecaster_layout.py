"""Experiment: the ConvLSTM as one shared stack (PredRNN/OpenSTL) or as Shi et al.'s encoder-forecaster.

``ConvRNNPredictor(forecaster="shared")`` (the recipes' layout) reads the inputs and forecasts with one
stack of cells; ``forecaster="separate"`` gives the forecaster its own stack, started from the encoder's
states. Both train the ``mmnist_convlstm`` laptop model (2 x 32, kernel 3, patch 4, dark start) exactly as
``benchmarks/dark_start.py`` does (same seeded batches of 16, AdamW lr 2e-3, the recipe's BCE with
scheduled sampling planned over 7,000 steps, as ``convlstm_ref``), then predict the first 300 sequences
of the validation set free-running (``vidkit.data.load_val_set``; the test set is not looked at).

Run:  OMP_NUM_THREADS=1 .venv/bin/python benchmarks/forecaster_layout.py [--steps 400] [--every 100]
Prints a markdown table for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import time

from dark_start import EXPERIMENTS, curve  # benchmarks/dark_start.py: the same training loop

from vidkit.data import load_val_set
from vidkit.eval.prediction import evaluate_predictor
from vidkit.models import BASELINES


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--every", type=int, default=100)
    parser.add_argument("--sequences", type=int, default=300, help="validation sequences to score")
    args = parser.parse_args()
    if args.steps < 1 or args.every < 1 or args.steps % args.every or args.sequences < 1:
        parser.error("--steps, --every and --sequences must be positive, with --steps a multiple of --every")
    overrides = EXPERIMENTS["mmnist_convlstm"][0]
    val = load_val_set(args.sequences)
    zeros = evaluate_predictor(BASELINES["zeros"](), val, progress=False)["mean"]["mse"]
    start, rows = time.perf_counter(), {}
    for layout in ("shared", "separate"):
        losses, net = curve("mmnist_convlstm", overrides, {"forecaster": layout}, args.steps, args.every)
        params = sum(p.numel() for p in net.parameters())
        mse = evaluate_predictor(net.eval(), val, progress=False)["mean"]["mse"]
        rows[f"{layout} ({params / 1e6:.2f} M)"] = [f"{v:.3f}" for v in losses] + [f"{mse:.1f} ({mse / zeros:.2f}x)"]
    windows = [f"steps {i * args.every + 1}-{(i + 1) * args.every}" for i in range(args.steps // args.every)]
    print(f"# mmnist_convlstm, mean training BCE per window and validation MSE/frame after {args.steps} steps "
          f"(zeros {zeros:.1f}), {time.perf_counter() - start:.0f} s")
    print("| forecaster | " + " | ".join(windows) + f" | val MSE, {args.sequences} seq |")
    print("|---|" + "---:|" * (len(windows) + 1))
    for name, values in rows.items():
        print(f"| {name} | " + " | ".join(values) + " |")


if __name__ == "__main__":
    main()
