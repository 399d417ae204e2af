"""Benchmark: where a recipe's training step spends its time, and what is left to fuse (issue 20, point 2).

``torch.compile`` fuses chains of element-wise operations into one loop; it cannot make a convolution or a
matrix product cheaper, and ``TrainConfig(compile=True)`` compiles the model, not the optimizer. This script
answers two questions for each recipe at its ``laptop`` size and batch, on a batch of the recipes' uint8 stream:

1. **Where the time goes**: forward + backward under ``torch.profiler``, each operator's *self* CPU time put in
   one of five groups: convolutions and matrix products (compute-bound: nothing to fuse), normalisation
   (GroupNorm / LayerNorm), element-wise (activations, arithmetic, softmax and their backward passes: what a
   compiler fuses), layout and copies (``cat``, ``copy_``, pixel (un)shuffle, ``fill_``), and the rest. The
   element-wise + normalisation share bounds what any fusion of the model can save.
2. **The optimizer step**, which the compiler does not see: AdamW as the kit builds it
   (:func:`vidkit.train.make_optimizer`) with PyTorch's three implementations, the per-tensor loop
   (``foreach=False``), the multi-tensor one (``foreach=True``) and the fused kernel (``fused=True``),
   best-of ``--steps`` each, interleaved.

Run:  .venv/bin/python benchmarks/bench_profile.py [--steps 10] [--threads 2] [--only RECIPE ...]
Results go to docs/benchmarks.md with the command that produced them.
"""

from __future__ import annotations

import argparse
import platform
import time
from collections import defaultdict

import torch

from vidkit.data import MovingMNISTStream
from vidkit.experiments.future_prediction import RECIPES, build_model, make_loss, recipe_config
from vidkit.train import TrainConfig, make_optimizer

GROUPS = {
    "conv / matmul": ("conv", "mm", "addmm", "bmm", "matmul", "linear", "baddbmm", "_scaled_dot_product"),
    "normalisation": ("group_norm", "layer_norm", "batch_norm"),
    "layout / copies": ("copy_", "cat", "stack", "pixel_shuffle", "pixel_unshuffle", "fill_", "zero_", "clone",
                        "contiguous", "unfold", "index", "slice_backward", "select_backward", "to_copy", "pad",
                        "constant_pad", "_to_copy", "permute", "reshape", "view", "expand", "transpose"),
    "element-wise": ("add", "mul", "sub", "div", "sigmoid", "tanh", "gelu", "silu", "relu", "exp", "log",
                     "softmax", "neg", "pow", "sqrt", "rsqrt", "where", "clamp", "threshold", "sum", "mean",
                     "binary_cross_entropy", "mse_loss", "logit", "lerp", "addcmul", "addcdiv", "maximum"),
}


def group(op: str) -> str:
    name = op.removeprefix("aten::")
    for g, keys in GROUPS.items():  # order matters: conv_backward is a conv, not element-wise
        if any(k in name for k in keys):
            return g
    return "other"


def setup(recipe: str):
    """The recipe's laptop-size model (seed 0), its loss and one batch of the recipes' uint8 stream."""
    cfg = recipe_config(recipe, "laptop")
    torch.manual_seed(0)
    model = build_model(cfg).train()
    stream = MovingMNISTStream(cfg["batch_size"], seed=0, seq_len=cfg["data"]["seq_len"], dtype=torch.uint8)
    return model, make_loss(cfg), next(stream)


def fwd_bwd(model: torch.nn.Module, loss_fn, batch: torch.Tensor) -> None:
    """One forward + backward of the recipe's loss (a loss may return ``(loss, extras)``)."""
    out = loss_fn(model, batch, 0)
    (out[0] if isinstance(out, tuple) else out).backward()


def profile_step(recipe: str, steps: int) -> dict[str, float]:
    """Share of forward + backward self CPU time per operator group (0-1)."""
    model, loss_fn, batch = setup(recipe)
    for _ in range(2):  # warm up (allocator, mkldnn primitives)
        fwd_bwd(model, loss_fn, batch)
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        for _ in range(steps):
            fwd_bwd(model, loss_fn, batch)
    totals: dict[str, float] = defaultdict(float)
    for ev in prof.key_averages():
        totals[group(ev.key)] += ev.self_cpu_time_total
    whole = sum(totals.values())
    return {g: totals[g] / whole for g in [*GROUPS, "other"]}


def optimizer_steps(recipe: str, steps: int) -> dict[str, float]:
    """Best-of-``steps`` seconds of one AdamW step for each implementation, and of forward + backward."""
    model, loss_fn, batch = setup(recipe)
    fwd_bwd(model, loss_fn, batch)  # the gradients every optimizer steps on (and a warm-up)
    kinds = {"loop": {"foreach": False}, "foreach": {"foreach": True}, "fused": {"fused": True}}
    opts = {}
    groups = [{"params": g["params"], "weight_decay": g["weight_decay"]}  # the kit's decay / no-decay split
              for g in make_optimizer(model, TrainConfig(lr=1e-6)).param_groups]
    for name, kw in kinds.items():
        opts[name] = torch.optim.AdamW(groups, lr=1e-6, **kw)
    best = {name: float("inf") for name in kinds}
    for _ in range(steps):
        for name, opt in opts.items():  # interleaved: load noise hits every implementation alike
            t0 = time.perf_counter()
            opt.step()
            best[name] = min(best[name], time.perf_counter() - t0)
    best["fwd_bwd"] = float("inf")
    for _ in range(steps):  # forward + backward, best of
        t0 = time.perf_counter()  # zeroing the gradients counts, as in a training step
        model.zero_grad(set_to_none=False)
        fwd_bwd(model, loss_fn, batch)
        best["fwd_bwd"] = min(best["fwd_bwd"], time.perf_counter() - t0)
    return {**best, "params": sum(p.numel() for p in model.parameters()),
            "tensors": sum(1 for _ in model.parameters())}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--only", nargs="*", default=None, help="recipes (default: all but mmnist_tiny)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    recipes = args.only or [r for r in RECIPES if r != "mmnist_tiny"]
    print(f"# {platform.processor() or platform.machine()}, torch {torch.__version__}, {args.threads} threads, "
          f"laptop sizes, best of {args.steps}")
    print()
    print("| recipe | " + " | ".join([*GROUPS, "other"]) + " |")
    print("|---|" + "---:|" * (len(GROUPS) + 1))
    for r in recipes:
        shares = profile_step(r, args.steps)
        print(f"| {r} | " + " | ".join(f"{100 * v:.0f} %" for v in shares.values()) + " |", flush=True)
    print()
    print("| recipe | parameters (tensors) | forward + backward | AdamW loop | foreach | fused | "
          "fused saves, of the step |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for r in recipes:
        t = optimizer_steps(r, args.steps)
        step = t["fwd_bwd"] + t["loop"]
        print(f"| {r} | {t['params'] / 1e6:.2f} M ({t['tensors']}) | {1e3 * t['fwd_bwd']:.1f} ms | "
              f"{1e3 * t['loop']:.2f} ms | {1e3 * t['foreach']:.2f} ms | {1e3 * t['fused']:.2f} ms | "
              f"{100 * (t['loop'] - t['fused']) / step:.1f} % |", flush=True)


if __name__ == "__main__":
    main()
