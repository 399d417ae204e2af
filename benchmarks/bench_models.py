"""Benchmark: training throughput of the future-prediction models (sequences/s, forward + backward + step).

Moving MNIST shapes: 10 input frames -> 10 predicted frames of 1x64x64, BCE loss, AdamW. Each model is
timed for a few optimizer steps after a warm-up step; the best step time is reported (best-of, like
``timeit``: slower steps measure interference, not the model).

``--channels-last`` stores every 4-D weight channels-last (NHWC), which makes oneDNN run the convolutions
in that layout (the frames are sliced from ``(B, T, C, H, W)`` clips, so they arrive as NCHW).

Run:  .venv/bin/python benchmarks/bench_models.py [--batch 8] [--steps 3] [--threads 2] [--only NAME ...]
                                                  [--channels-last]
Results go to docs/benchmarks.md with the command that produced them.
"""

from __future__ import annotations

import argparse
import platform
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F

from vidkit.experiments.future_prediction import build_model, recipe_config
from vidkit.models import ConvRNNPredictor, SimVP, SrivastavaLSTM, TinyFramePredictor


def _future_logits(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    if isinstance(model, SrivastavaLSTM):
        return model(x, steps=y.shape[1], target=y)["future"]
    if isinstance(model, ConvRNNPredictor):
        return model(x, steps=y.shape[1], target=y, teacher_forcing=0.5)
    return model(x)


MODELS: dict[str, Callable[[], torch.nn.Module]] = {
    "tiny (hidden 48)": lambda: TinyFramePredictor(hidden=48),
    "srivastava composite, 1x2048, unconditioned": lambda: SrivastavaLSTM("composite", hidden=2048),
    "srivastava future, 2x1024, conditioned": lambda: SrivastavaLSTM("future", conditioned=True, layers=2,
                                                                     hidden=1024),
    "convlstm 2x64, k5, patch 4": lambda: ConvRNNPredictor("lstm", hidden=(64, 64), kernel=5, patch=4),
    "convgru 2x64, k5, patch 4": lambda: ConvRNNPredictor("gru", hidden=(64, 64), kernel=5, patch=4),
    "convlstm OpenSTL 'S': 4x128, k5, patch 4": lambda: ConvRNNPredictor("lstm", hidden=(128,) * 4, kernel=5,
                                                                          patch=4),
    "simvp (defaults)": lambda: SimVP(),
    # the model of simvp_ref (runs/ref_simvp8, docs/benchmarks.md): patch 4 with one stride-2
    # stage, so an 8x8 latent instead of the recipe's 4x4
    "simvp 32/128/4 blocks, patch 4, downsample 1": lambda: SimVP(hidden_s=32, hidden_t=128, n_translator=4,
                                                                  patch=4, downsample=1),
    # LAPTOP_10MIN: the same with the dynamic-filter read-out; and the model of the 3-hour reference run
    "simvp 32/128/4 blocks, patch 4, downsample 1, filter read-out": lambda: SimVP(
        hidden_s=32, hidden_t=128, n_translator=4, patch=4, downsample=1, readout="filter"),
    "simvp 32/192/4 blocks, patch 4, downsample 1, filter read-out": lambda: SimVP(
        hidden_s=32, hidden_t=192, n_translator=4, patch=4, downsample=1, readout="filter"),
}
# The models at the sizes their recipes train in the laptop profile (see vidkit/experiments/future_prediction.py).
RECIPE_MODELS = ["mmnist_lstm", "mmnist_convlstm", "mmnist_convgru", "mmnist_simvp", "mmnist_predformer"]
for _recipe in RECIPE_MODELS:
    MODELS[f"recipe {_recipe} (laptop): {recipe_config(_recipe, 'laptop')['model']}"] = (
        lambda r=_recipe: build_model(recipe_config(r, "laptop")))


def throughput(make: Callable[[], torch.nn.Module], batch: int, steps: int,
               channels_last: bool = False) -> tuple[float, int]:
    torch.manual_seed(0)
    model = make()
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    x = torch.rand(batch, 10, 1, 64, 64)
    y = (torch.rand(batch, 10, 1, 64, 64) > 0.9).float()
    times = []
    for i in range(steps + 1):
        t0 = time.perf_counter()
        loss = F.binary_cross_entropy_with_logits(_future_logits(model, x, y), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if i:  # the first step warms up allocators and kernels
            times.append(time.perf_counter() - t0)
    return batch / min(times), sum(p.numel() for p in model.parameters())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--only", nargs="*", default=None, help="substrings of model names to run")
    ap.add_argument("--channels-last", action="store_true", help="store 4-D weights channels-last (NHWC)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    print(f"# {platform.machine()}, torch {torch.__version__}, {args.threads} threads, batch {args.batch}, "
          f"best of {args.steps} steps{', channels-last weights' if args.channels_last else ''}")
    print("| model | parameters | train seq/s |")
    print("|---|---:|---:|")
    for name, make in MODELS.items():
        if args.only and not any(s in name for s in args.only):
            continue
        seqs, params = throughput(make, args.batch, args.steps, args.channels_last)
        print(f"| {name} | {params / 1e6:.2f} M | {seqs:.1f} |", flush=True)


if __name__ == "__main__":
    main()
