"""Benchmark: batched text-to-video search, 100 queries against a 10,000-clip gallery (issue 6).

What is timed: one call of :func:`vidkit.eval.retrieval.search` (L2-normalise both sets, one ``(100, 10,000)``
block of cosine similarities, ``torch.topk``) for ``--queries`` random query embeddings against
``--gallery`` random gallery embeddings of dimension ``--dim`` (64: the joint space of notebook 04), top
``--k``. The best of ``--repeats`` calls is reported (best-of, like ``timeit``: slower calls measure
interference from other jobs, not the search), with the median for context. Before timing, the result is
checked against a brute-force ranking.

Goal: under 1 s on the 2-core development machine.

Run:  .venv/bin/python benchmarks/bench_retrieval.py [--queries 100] [--gallery 10000] [--dim 64] [--k 10]
      [--repeats 20] [--threads N]
Prints a markdown table row for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from datetime import date

import torch

from vidkit.eval.retrieval import search


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--gallery", type=int, default=10_000)
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    args = parser.parse_args()
    for name in ("queries", "gallery", "dim", "k", "repeats"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be >= 1")
    if args.k > args.gallery:
        parser.error("--k must be at most --gallery")
    if args.threads is not None:
        torch.set_num_threads(args.threads)

    gen = torch.Generator().manual_seed(0)
    queries = torch.randn(args.queries, args.dim, generator=gen)
    gallery = torch.randn(args.gallery, args.dim, generator=gen)

    scores, indices = search(queries, gallery, k=args.k)              # warm-up, and a correctness check
    brute = torch.nn.functional.normalize(queries, dim=1) @ torch.nn.functional.normalize(gallery, dim=1).T
    expect = brute.topk(args.k, dim=1)
    assert torch.allclose(scores, expect.values, atol=1e-5), "search scores differ from brute force"
    assert torch.equal(indices[:, 0], expect.indices[:, 0]), "search top-1 differs from brute force"

    times = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        search(queries, gallery, k=args.k)
        times.append(time.perf_counter() - t0)
    best, median = min(times), statistics.median(times)
    verdict = "met" if best < 1.0 else "NOT met"
    print(f"# {platform.processor() or platform.machine()}, torch {torch.__version__}, "
          f"{torch.get_num_threads()} thread(s), best of {args.repeats}")
    print("| date | queries x gallery (dim) | top k | best | median | goal < 1 s |")
    print("|---|---|---:|---:|---:|---|")
    print(f"| {date.today().isoformat()} | {args.queries} x {args.gallery:,} ({args.dim}) | {args.k} | "
          f"{best * 1000:.1f} ms | {median * 1000:.1f} ms | {verdict} |")


if __name__ == "__main__":
    main()
