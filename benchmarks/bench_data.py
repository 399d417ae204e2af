"""Benchmark: Moving MNIST batch generation, vectorised (vidkit.data) vs a per-sample reference.

Both produce the same thing: a uint8 batch ``(B, 20, 64, 64)`` of 2 bouncing digits drawn from the
same train digits with the same physics (``reference_generator.py`` is the plain version: a Python
loop per sample, per digit and per frame). A correctness check first confirms that vidkit's
generator draws exactly what the per-sample physics would for the same trajectories.

A second table times the **training stream** (:class:`vidkit.data.MovingMNISTStream`, what ``vidkit train``
feeds the loop) against the raw generator it wraps, at the stream batch sizes: the stream as the recipes use it
(``dtype=torch.uint8``: pixels as drawn, converted to float inside the training step), and the float32 stream
(pixels in [0, 1], converted in the stream), with the per-sample reference beside them.

Run:  .venv/bin/python benchmarks/bench_data.py [--repeats 7] [--batch-sizes 32 128 1024] [--stream-batch-sizes 16 256]
Targets: vectorised >= 5x the reference on this CPU (issue 2); the recipes' stream >= 0.8x the raw generator's
sequences/s at batch 16 and 256 (issue 20). Results go to docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from reference_generator import reference_batch  # noqa: E402

from vidkit.data import MovingMNISTStream, generate_moving_mnist, load_digits  # noqa: E402


def check_same_physics() -> None:
    """Draw every vidkit sequence again with slices, from vidkit's own trajectories: must match exactly."""
    m = generate_moving_mnist(64, 1, captions=False)
    for i in range(len(m)):
        out = np.zeros((20, 64, 64), np.uint8)
        for k in range(m.positions.shape[2]):
            for t in range(20):
                x, y = m.positions[i, t, k]
                np.maximum(out[t, y:y + 28, x:x + 28], m.digit_images[i, k], out=out[t, y:y + 28, x:x + 28])
        assert np.array_equal(out, m.frames[i]), "vectorised paste differs from the per-sample drawing"


def compare(*fns, n: int, repeats: int) -> list[float]:
    """Best-of-``repeats`` sequences/s of each ``fn(n)``, runs interleaved so load noise hits all alike
    (best-of, as ``timeit`` recommends: slower runs measure interference, not the code)."""
    for fn in fns:
        fn(n)  # warm-up (digit loading, allocator)
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(repeats):
        for fn, t in zip(fns, times):
            t0 = time.perf_counter()
            fn(n)
            t.append(time.perf_counter() - t0)
    return [n / min(t) for t in times]


def stream_drawer(batch: int, dtype: torch.dtype):
    """``fn(n)`` drawing the next batch of a fresh training stream (``n`` must be its batch size)."""
    stream = MovingMNISTStream(batch, seed=0, dtype=dtype)
    return lambda n: next(stream)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--batch-sizes", type=int, nargs="+", default=[32, 128, 1024])
    ap.add_argument("--stream-batch-sizes", type=int, nargs="+", default=[16, 256])
    args = ap.parse_args()
    torch.set_num_threads(1)
    check_same_physics()
    images, _ = load_digits("train")
    print(f"# machine: {platform.processor() or platform.machine()}, numpy {np.__version__}, "
          f"single thread, best of {args.repeats}, interleaved")
    print("| batch size | reference (seq/s) | vidkit (seq/s) | speed-up |")
    print("|---:|---:|---:|---:|")
    for bs in args.batch_sizes:
        ref, vec = compare(lambda n: reference_batch(n, 0, images),
                           lambda n: generate_moving_mnist(n, 0, captions=False), n=bs, repeats=args.repeats)
        print(f"| {bs} | {ref:,.0f} | {vec:,.0f} | {vec / ref:.1f}x |")
    print("\n| batch size | per-sample reference (seq/s) | raw generator (seq/s) | stream, uint8 (recipes) "
          "| stream, float32 |")
    print("|---:|---:|---:|---:|---:|")
    for bs in args.stream_batch_sizes:
        ref, raw, u8, f32 = compare(lambda n: reference_batch(n, 0, images),
                                    lambda n: generate_moving_mnist(n, 0, captions=False),
                                    stream_drawer(bs, torch.uint8), stream_drawer(bs, torch.float32),
                                    n=bs, repeats=args.repeats)
        print(f"| {bs} | {ref:,.0f} | {raw:,.0f} | {u8:,.0f} ({u8 / raw:.2f}x raw) | {f32:,.0f} ({f32 / raw:.2f}x raw) |")


if __name__ == "__main__":
    main()
