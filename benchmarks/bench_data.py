"""Benchmark: Moving MNIST batch generation, vectorised (vidkit.data) vs a per-sample reference.

Both produce the same thing: a uint8 batch ``(B, 20, 64, 64)`` of 2 bouncing digits drawn from the
same train digits with the same physics (``reference_generator.py`` is the plain version: a Python
loop per sample, per digit and per frame). A correctness check first confirms that vidkit's
generator draws exactly what the per-sample physics would for the same trajectories.

Run:  .venv/bin/python benchmarks/bench_data.py [--repeats 7] [--batch-sizes 32 128 1024]
Target (issue 2): vectorised >= 5x the reference on this CPU. Results go to docs/benchmarks.md.
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

from vidkit.data import generate_moving_mnist, load_digits  # noqa: E402


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


def compare(ref, vec, n: int, repeats: int) -> tuple[float, float]:
    """Best-of-``repeats`` sequences/s of both generators, runs interleaved so load noise hits both alike
    (best-of, as ``timeit`` recommends: slower runs measure interference, not the code)."""
    ref(n), vec(n)  # warm-up (digit loading, allocator)
    t_ref, t_vec = [], []
    for _ in range(repeats):
        for fn, times in ((ref, t_ref), (vec, t_vec)):
            t0 = time.perf_counter()
            fn(n)
            times.append(time.perf_counter() - t0)
    return n / min(t_ref), n / min(t_vec)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--batch-sizes", type=int, nargs="+", default=[32, 128, 1024])
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
                           lambda n: generate_moving_mnist(n, 0, captions=False), bs, args.repeats)
        print(f"| {bs} | {ref:,.0f} | {vec:,.0f} | {vec / ref:.1f}x |")


if __name__ == "__main__":
    main()
