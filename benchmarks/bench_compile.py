"""Benchmark: does ``torch.compile`` (inductor, C++ codegen on the CPU) pay on each recipe's training step?

For each recipe, at its ``laptop`` size and batch: two copies of the model with the same initial weights, one
eager and one ``torch.compile``-d (what ``TrainConfig(compile=True)`` / ``--set train.compile=true`` does: the
model's forward is compiled, backward follows through AOTAutograd, the AdamW step stays eager). One training
step is the recipe's own loss (``make_loss``) on a batch of the recipes' stream (uint8 pixels), backward, AdamW.

* **compile time**: the compiled copy's first step minus an eager step (tracing, graph lowering, C++ build);
  the inductor cache is reset before each recipe (``torch._dynamo.reset()``), so it is a cold compile of this
  process (a warm on-disk cache from an earlier run can still shorten it: ``--fresh-cache`` points inductor at
  an empty folder);
* **step time**: the best of ``--steps`` steps of each copy, eager and compiled interleaved so load noise hits
  both alike (best-of, like ``timeit``).

Run:  .venv/bin/python benchmarks/bench_compile.py [--steps 10] [--threads 2] [--only RECIPE ...] [--fresh-cache]
Results go to docs/benchmarks.md with the command that produced them; a recipe turns ``train.compile`` on by
default only where the speed-up pays back its compile time within a 10-minute run.
"""

from __future__ import annotations

import argparse
import copy
import os
import platform
import tempfile
import time

import torch

from vidkit.data import MovingMNISTStream
from vidkit.experiments.future_prediction import RECIPES, build_model, make_loss, recipe_config


def step_fn(model: torch.nn.Module, net: torch.nn.Module, cfg: dict):
    """One training step of ``net`` (``model`` itself or its compiled wrapper) on a batch: returns a callable."""
    loss_fn = make_loss(cfg)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)

    def step(batch: torch.Tensor) -> float:
        t0 = time.perf_counter()
        out = loss_fn(net, batch, 0)
        loss = out[0] if isinstance(out, tuple) else out
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return time.perf_counter() - t0
    return step


def measure(recipe: str, steps: int) -> dict[str, float]:
    cfg = recipe_config(recipe, "laptop")
    torch.manual_seed(0)
    eager = build_model(cfg).train()
    compiled = copy.deepcopy(eager)
    torch._dynamo.reset()
    stream = MovingMNISTStream(cfg["batch_size"], seed=0, seq_len=cfg["data"]["seq_len"], dtype=torch.uint8)
    run_eager = step_fn(eager, eager, cfg)
    run_compiled = step_fn(compiled, torch.compile(compiled), cfg)
    batch = next(stream)
    run_eager(batch)                                  # warm-up: allocator, oneDNN primitives
    first_eager = run_eager(batch)
    first_compiled = run_compiled(batch)              # compiles
    t_eager, t_compiled = [], []
    for _ in range(steps):
        batch = next(stream)
        t_eager.append(run_eager(batch))
        t_compiled.append(run_compiled(batch))
    return {"batch": cfg["batch_size"], "compile_s": first_compiled - first_eager, "eager_s": min(t_eager),
            "compiled_s": min(t_compiled)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    ap.add_argument("--only", nargs="+", default=None, help="recipe names (default: every recipe)")
    ap.add_argument("--fresh-cache", action="store_true", help="compile into an empty inductor cache folder")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.fresh_cache:
        os.environ["TORCHINDUCTOR_CACHE_DIR"] = tempfile.mkdtemp(prefix="inductor-")
    names = args.only or list(RECIPES)
    unknown = sorted(set(names) - set(RECIPES))
    if unknown:
        raise SystemExit(f"unknown recipes {unknown}; available: {sorted(RECIPES)}")
    print(f"# {platform.processor() or platform.machine()}, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads, best of {args.steps} steps, eager and compiled interleaved")
    print("| recipe (laptop size) | batch | eager step | compiled step | speed-up | compile time | "
          "break-even (steps) |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name in names:
        try:
            r = measure(name, args.steps)
        except Exception as exc:  # a recipe inductor cannot compile is a result too
            print(f"| {name} | | | | fails: {type(exc).__name__}: {str(exc).splitlines()[0][:80]} | | |")
            continue
        gain = r["eager_s"] - r["compiled_s"]
        even = f"{r['compile_s'] / gain:,.0f}" if gain > 0 else "never"
        print(f"| {name} | {r['batch']} | {1e3 * r['eager_s']:.1f} ms | {1e3 * r['compiled_s']:.1f} ms | "
              f"{r['eager_s'] / r['compiled_s']:.2f}x | {r['compile_s']:.1f} s | {even} |", flush=True)


if __name__ == "__main__":
    main()
