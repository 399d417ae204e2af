"""Experiment: a read-out bias that starts at a dark frame, for the ConvLSTM and the fully connected LSTMs.

Moving MNIST is mostly black (mean pixel about 0.05). A read-out whose bias starts near zero predicts
grey; the model must first learn to draw the background.

* **ConvLSTM** (``mmnist_convlstm``): the read-out sees ``h = o * tanh(c)``, bounded in [-1, 1]. With a
  zero bias (``ink=0.5``, the old behaviour) drawing the background needs saturated gates, whose gradients
  vanish, and the recipe stalled at the mean frame. ``ConvRNNPredictor(ink=0.05)``, the default, starts
  the bias at ``logit(0.05)``.
* **FC-LSTM** (``mmnist_lstm``, Srivastava's composite): each pixel has its own read-out bias, so the model
  can learn the background, but only at the learning rate's pace. ``SrivastavaLSTM(ink=None)`` (the
  default, PyTorch's initialisation) vs ``ink=0.05``, unconditioned and conditioned decoders.

Every variant trains the recipe's laptop model with the recipe's loss (the ConvLSTM with scheduled
sampling from teacher forcing, the FC-LSTM composite with reconstruction + future BCE) on the same seeded
batches, with AdamW at a constant learning rate (no warm-up or decay): batch 16 and lr 2e-3 for the
ConvLSTM, as ``convlstm_ref``; the recipe's batch 32 and lr 1e-3 for the FC-LSTM. The table gives the
mean training loss per window of steps. Losses are per frame: BCE averaged over pixels for the ConvLSTM,
summed over the 4,096 pixels for the FC-LSTM (reconstruction + future for the composite). A constant
frame at the mean pixel value (0.048) scores 0.193 per pixel: 790 per frame summed, 1,580 for the
composite's two decoders.

Run:  OMP_NUM_THREADS=1 .venv/bin/python benchmarks/dark_start.py --recipe mmnist_convlstm   (200 steps)
      OMP_NUM_THREADS=1 .venv/bin/python benchmarks/dark_start.py --recipe mmnist_lstm       (600 steps)
Prints a markdown table for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import torch

from vidkit.data import MovingMNISTStream
from vidkit.experiments.future_prediction import build_model, make_loss, recipe_config

# recipe -> (overrides, default steps, window, [(label, model overrides), ...])
EXPERIMENTS: dict[str, tuple[dict[str, Any], int, int, list[tuple[str, dict[str, Any]]]]] = {
    "mmnist_convlstm": ({"steps": 7000, "batch_size": 16, "train": {"lr": 2e-3}}, 200, 50, [
        ("ink=0.5 (zero bias, the old behaviour)", {"ink": 0.5}),
        ("ink=0.05 (dark start, the default)", {"ink": 0.05}),
    ]),
    "mmnist_lstm": ({}, 600, 100, [
        ("unconditioned, ink=None (PyTorch init, the default)", {"ink": None}),
        ("unconditioned, ink=0.05 (dark start)", {"ink": 0.05}),
        ("conditioned, ink=None (PyTorch init, the default)", {"conditioned": True, "ink": None}),
        ("conditioned, ink=0.05 (dark start)", {"conditioned": True, "ink": 0.05}),
    ]),
}


def curve(recipe: str, overrides: dict[str, Any], model: dict[str, Any], steps: int,
          every: int) -> tuple[list[float], torch.nn.Module]:
    """Mean training loss per window of ``every`` steps, for ``steps`` steps of one variant; and the model."""
    cfg = recipe_config(recipe, "laptop", {**overrides, "model": model})
    torch.manual_seed(0)
    net, loss_fn = build_model(cfg), make_loss(cfg)
    opt = torch.optim.AdamW(net.parameters(), lr=cfg["train"]["lr"], weight_decay=cfg["train"]["weight_decay"])
    stream, losses, out = iter(MovingMNISTStream(cfg["batch_size"], seed=0)), [], []
    for step in range(steps):
        loss, _ = loss_fn(net, next(stream), step)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), cfg["train"]["grad_clip"])
        opt.step()
        losses.append(loss.item())
        if (step + 1) % every == 0:
            out.append(sum(losses[-every:]) / every)
    return out, net


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", choices=sorted(EXPERIMENTS), default="mmnist_convlstm")
    parser.add_argument("--steps", type=int, default=None, help="default: 200 (ConvLSTM) or 600 (FC-LSTM)")
    parser.add_argument("--every", type=int, default=None, help="window; default 50 (ConvLSTM) or 100 (FC-LSTM)")
    args = parser.parse_args()
    overrides, steps, every, variants = EXPERIMENTS[args.recipe]
    steps, every = args.steps or steps, args.every or every
    if steps < 1 or every < 1 or steps % every:
        parser.error("--steps and --every must be positive, with --steps a multiple of --every")
    start = time.perf_counter()
    rows = {label: curve(args.recipe, overrides, model, steps, every)[0] for label, model in variants}
    windows = [f"steps {i * every + 1}-{(i + 1) * every}" for i in range(steps // every)]
    print(f"# {args.recipe}: mean training loss per window, {time.perf_counter() - start:.0f} s")
    print("| read-out bias | " + " | ".join(windows) + " |")
    print("|---|" + "---:|" * len(windows))
    digits = 3 if max(max(v) for v in rows.values()) < 10 else 0
    for name, values in rows.items():
        print(f"| {name} | " + " | ".join(f"{v:.{digits}f}" for v in values) + " |")


if __name__ == "__main__":
    main()
