"""Benchmark: exact text-to-video search against a bare matmul + top-k, and the optional faiss indexes (issues 6, 20).

**Exact search.** For each dimension in ``--dims`` (64: the joint space of notebook 04; and 256), ``--queries``
random query embeddings against ``--gallery`` random gallery embeddings, top ``--k``, float32. Two things
are timed, interleaved (``--repeats`` rounds, each calling both once in a shuffled order, so that load from
other jobs hits both alike and neither always follows the other), best of ``--repeats`` each (best-of, like
``timeit``: slower calls measure interference, not the code):

* ``search``: one call of :func:`vidkit.eval.retrieval.search` on the raw embeddings: validation, the
  queries' L2 normalisation, the gallery's norms, one ``(Q, G)`` block of cosines, and the top ``k`` in the
  documented tie order (exactly a stable full sort's first ``k``);
* ``matmul + topk``, the baseline: ``torch.topk(qn @ gn.T, k, dim=1)`` on rows L2-normalised *beforehand*
  (outside the timing): one matmul and one ``torch.topk``, nothing else (no validation, no normalisation,
  ties in whatever order ``topk`` leaves them).

``ratio`` = search / baseline; goal (issue 20): at most 1.10. Before timing, ``search``'s result is checked
against a stable full sort of :func:`vidkit.eval.retrieval.cosine_scores` and against the baseline.

**Approximate search** (only when ``faiss`` is importable: ``pip install vidkit[faiss]``). For the largest
dimension, on random embeddings and on clustered ones (``--clusters`` random centres, noise as large as a
centre): :class:`vidkit.eval.retrieval.FaissIndex` as ``"flat"`` (faiss's exact inner-product index,
``IndexFlatIP``), ``"hnsw"`` and ``"ivf"`` with their default settings: build time, query time for all
queries (best of ``--faiss-repeats``) and **recall@k** against exact ``search``: the fraction of the exact
top ``k`` that the index returns, over all queries. Random embeddings are the *hardest* case for HNSW and
IVF (in high dimension all random points are nearly equally far apart, so the graph and the cells carry
little information); learned embeddings are clustered, closer to the second table. Building an HNSW index
over a million clips of dimension 256 takes many minutes (``--threads``); the defaults run in well under
a minute.

Run:  OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_retrieval.py [--queries 100] [--gallery 10000]
      [--dims 64 256] [--k 10] [--repeats 50] [--threads N] [--no-faiss] [--faiss-repeats 5] [--clusters 100]
(``--gallery 1e6`` is accepted.) Prints markdown tables for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import math
import platform
import random
import statistics
import time
from datetime import date

import torch
import torch.nn.functional as F
from timing import best_of  # benchmarks/timing.py

from vidkit.eval.retrieval import FaissIndex, cosine_scores, neighbour_recall, search

#: issue 20: exact search within 10 % of a bare matmul + topk
GOAL_RATIO = 1.10


def count(text: str) -> int:
    """An int from ``10000``, ``10_000`` or ``1e6``."""
    value = float(text)
    if not math.isfinite(value) or value != int(value):
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text}")
    return int(value)


def clustered(n: int, dim: int, clusters: int, gen: torch.Generator) -> torch.Tensor:
    """``(n, dim)`` embeddings around ``clusters`` random centres, noise as large as a centre (per coordinate)."""
    centres = torch.randn(clusters, dim, generator=gen)
    return centres[torch.randint(0, clusters, (n,), generator=gen)] + torch.randn(n, dim, generator=gen)


def check_search(queries: torch.Tensor, gallery: torch.Tensor, k: int) -> None:
    """search == the first k of a stable full sort of cosine_scores, and == the baseline up to rounding."""
    q = queries if queries.shape[0] * gallery.shape[0] <= 10_000_000 else queries[:10]   # bound the sort
    scores, indices = search(q, gallery, k=k, batch=q.shape[0])
    order = torch.sort(cosine_scores(q, gallery), dim=1, descending=True, stable=True)
    assert torch.equal(indices, order.indices[:, :k]) and torch.equal(scores, order.values[:, :k]), \
        "search differs from a stable full sort of cosine_scores"
    plain = torch.topk(F.normalize(q, dim=1) @ F.normalize(gallery, dim=1).T, k, dim=1)
    assert torch.allclose(scores, plain.values, atol=1e-5), "search scores differ from the matmul baseline"


def interleaved(queries: torch.Tensor, gallery: torch.Tensor, k: int, repeats: int) -> dict[str, list[float]]:
    """Wall times (s) of ``search`` and of the baseline: ``repeats`` rounds, each calling both once, in a
    shuffled order (seeded). A fixed order would always run one right after the other, whose gallery copy
    and freed block have just displaced its data from the caches; shuffling lets each also run after itself,
    so that the best-of times compare the code, not the order."""
    qn, gn = F.normalize(queries, dim=1), F.normalize(gallery, dim=1)          # the baseline's inputs
    calls = {"search": lambda: search(queries, gallery, k=k),
             "plain": lambda: torch.topk(qn @ gn.T, k, dim=1)}
    times: dict[str, list[float]] = {name: [] for name in calls}
    order, rng = list(calls), random.Random(0)
    for _ in range(repeats):
        rng.shuffle(order)
        for name in order:
            t0 = time.perf_counter()
            calls[name]()
            times[name].append(time.perf_counter() - t0)
    return times


def bench_exact(args: argparse.Namespace) -> None:
    print("| date | queries x gallery (dim) | top k | search: best | median | matmul + topk: best "
          f"| ratio | goal <= {GOAL_RATIO:.2f} |")
    print("|---|---|---:|---:|---:|---:|---:|---|")
    for dim in args.dims:
        gen = torch.Generator().manual_seed(0)
        queries = torch.randn(args.queries, dim, generator=gen)
        gallery = torch.randn(args.gallery, dim, generator=gen)
        check_search(queries, gallery, args.k)
        times = interleaved(queries, gallery, args.k, args.repeats)
        best, plain = min(times["search"]), min(times["plain"])
        ratio = best / plain
        print(f"| {date.today().isoformat()} | {args.queries} x {args.gallery:,} ({dim}) | {args.k} | "
              f"{best * 1e3:.2f} ms | {statistics.median(times['search']) * 1e3:.2f} ms | {plain * 1e3:.2f} ms | "
              f"{ratio:.3f} | {'met' if ratio <= GOAL_RATIO else 'NOT met'} |")


def faiss_table(queries: torch.Tensor, gallery: torch.Tensor, k: int, repeats: int) -> None:
    """One markdown table: exact search, then FaissIndex flat / hnsw / ivf at their defaults."""
    exact = search(queries, gallery, k=k)[1]
    exact_time = best_of(lambda: search(queries, gallery, k=k), repeats)
    print("| index | settings | build | query (all queries) | recall@k vs exact search |")
    print("|---|---|---:|---:|---:|")
    print(f"| `search` (exact, torch) | - | - | {exact_time * 1e3:.1f} ms | 1 |")
    for kind in ("flat", "hnsw", "ivf"):
        t0 = time.perf_counter()
        index = FaissIndex(gallery, kind)
        build = time.perf_counter() - t0
        found = index.search(queries, k=k)[1]
        query = best_of(lambda index=index: index.search(queries, k=k), repeats)
        settings = {"flat": "exact", "hnsw": f"m={index.m}, ef_construction={index.ef_construction}, "
                    f"ef_search={index.ef_search}", "ivf": f"nlist={index.nlist}, nprobe={index.nprobe}"}[kind]
        print(f"| faiss {kind} | {settings} | {build:.2f} s | {query * 1e3:.1f} ms | "
              f"{neighbour_recall(found, exact):.3f} |")


def bench_faiss(args: argparse.Namespace) -> None:
    dim = max(args.dims)
    for data in ("random", "clustered"):
        gen = torch.Generator().manual_seed(1)
        n = args.gallery + args.queries
        x = torch.randn(n, dim, generator=gen) if data == "random" else clustered(n, dim, args.clusters, gen)
        label = "random" if data == "random" else f"clustered ({args.clusters} centres)"
        print(f"\n{label}: {args.queries} queries x {args.gallery:,} gallery (dim {dim}), top {args.k}\n")
        faiss_table(x[args.gallery:], x[:args.gallery], args.k, args.faiss_repeats)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--queries", type=count, default=100)
    parser.add_argument("--gallery", type=count, default=10_000, help="gallery size (1e6 accepted)")
    parser.add_argument("--dims", type=count, nargs="+", default=[64, 256])
    parser.add_argument("--k", type=count, default=10)
    parser.add_argument("--repeats", type=count, default=50)
    parser.add_argument("--threads", type=count, default=None,
                        help="torch (and faiss) threads (default: torch's choice, faiss the same number)")
    parser.add_argument("--no-faiss", action="store_true", help="skip the faiss section")
    parser.add_argument("--faiss-repeats", type=count, default=5)
    parser.add_argument("--clusters", type=count, default=100, help="centres of the clustered data")
    args = parser.parse_args()
    for name in ("queries", "gallery", "k", "repeats", "faiss_repeats", "clusters"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1")
    if min(args.dims) < 1:
        parser.error("--dims must be >= 1")
    if args.k > args.gallery:
        parser.error("--k must be at most --gallery")
    if args.threads is not None:
        torch.set_num_threads(args.threads)

    print(f"# {platform.processor() or platform.machine()}, torch {torch.__version__}, "
          f"{torch.get_num_threads()} thread(s), best of {args.repeats} (interleaved, shuffled)\n")
    bench_exact(args)

    if args.no_faiss:
        return
    try:
        import faiss
    except ImportError:
        print("\nfaiss is not installed (pip install vidkit[faiss]): approximate search not measured")
        return
    faiss.omp_set_num_threads(torch.get_num_threads())                  # the same cores as torch
    print(f"\n# faiss {faiss.__version__}, {faiss.omp_get_max_threads()} thread(s), "
          f"query times best of {args.faiss_repeats}; random embeddings are the hardest case for HNSW / IVF")
    bench_faiss(args)


if __name__ == "__main__":
    main()
