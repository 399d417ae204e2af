"""Experiment: why the ConvLSTM recipe used to stall at the mean frame, and the read-out bias that fixes it.

The ConvRNN read-out sees ``h = o * tanh(c)``, bounded in [-1, 1]. Its bias starts at ``logit(ink)``
(``ConvRNNPredictor(ink=...)``). ``ink=0.5`` is a zero bias (the old behaviour): drawing the black
background then needs saturated gates, whose gradients vanish. ``ink=0.05`` (the default, the mean pixel
value of Moving MNIST) starts from a dark frame.

Both variants train the ``mmnist_convlstm`` laptop model (2 x 32, kernel 3, patch 4) with the recipe's
loss (BCE over the 10 future frames, scheduled sampling from teacher forcing) on the same seeded batches,
batch 16, lr 2e-3; the table gives the mean training loss per window of steps. The mean predictor's BCE
is about 0.19: a model at 0.19 draws the average frame.

Run:  OMP_NUM_THREADS=1 .venv/bin/python benchmarks/convrnn_dark_start.py [--steps 200] [--every 50]
Prints a markdown table for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import time

import torch

from vidkit.data import MovingMNISTStream
from vidkit.recipes import build_model, make_loss, recipe_config


def curve(ink: float, steps: int, every: int) -> list[float]:
    cfg = recipe_config("mmnist_convlstm", "laptop", {"model": {"ink": ink}, "steps": 7000, "batch_size": 16})
    torch.manual_seed(0)
    model, loss_fn = build_model(cfg), make_loss(cfg)
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=0.01)
    stream, losses, out = iter(MovingMNISTStream(16, seed=0)), [], []
    for step in range(steps):
        loss, _ = loss_fn(model, next(stream), step)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        losses.append(loss.item())
        if (step + 1) % every == 0:
            out.append(sum(losses[-every:]) / every)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--every", type=int, default=50)
    args = parser.parse_args()
    if args.steps < 1 or args.every < 1 or args.steps % args.every:
        parser.error("--steps and --every must be positive, with --steps a multiple of --every")
    start = time.perf_counter()
    rows = {f"ink={ink} ({label})": curve(ink, args.steps, args.every)
            for ink, label in ((0.5, "zero bias, the old behaviour"), (0.05, "dark start, the default"))}
    windows = [f"steps {i * args.every + 1}-{(i + 1) * args.every}" for i in range(args.steps // args.every)]
    print(f"# mean training BCE per window, {time.perf_counter() - start:.0f} s")
    print("| read-out bias | " + " | ".join(windows) + " |")
    print("|---|" + "---:|" * len(windows))
    for name, values in rows.items():
        print(f"| {name} | " + " | ".join(f"{v:.3f}" for v in values) + " |")


if __name__ == "__main__":
    main()
