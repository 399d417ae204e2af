"""Benchmark: what the kit's integrity checks cost (issue 13, B6).

Two checks run on every load:

* ``vidkit.utils.checkpoint.load_checkpoint`` verifies the CRC-32 of every record of a checkpoint's zip
  (``zipfile.ZipFile.testzip``) before ``torch.load``;
* ``vidkit.data.load_test_set`` hashes the cached test frames (``frames_sha256``) against the hash
  recorded when they were built, once per process per version of the file.

Timed here, best of ``--repeats`` (file in the page cache): the CRC check alone and a whole
``load_checkpoint`` of a ``--mb`` MB checkpoint, and the sha256 of ``--sequences`` 20-frame 64x64 clips.

Run:  .venv/bin/python benchmarks/bench_integrity.py [--mb 5] [--sequences 1000] [--repeats 10]
Prints markdown table rows for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import zipfile
from datetime import date
from pathlib import Path

import numpy as np
import torch
from timing import best_of  # benchmarks/timing.py

from vidkit.data.testset import frames_sha256
from vidkit.utils.checkpoint import load_checkpoint, save_checkpoint


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mb", type=float, default=5.0, help="checkpoint size in MB")
    parser.add_argument("--sequences", type=int, default=1000, help="test-set sequences to hash")
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args()
    if args.mb <= 0 or args.sequences < 1 or args.repeats < 1:
        parser.error("--mb, --sequences and --repeats must be positive")

    with tempfile.TemporaryDirectory() as tmp:
        path = save_checkpoint({"model": {"w": torch.randn(int(args.mb * 1e6 / 4))}}, Path(tmp) / "ckpt.pt")
        load_checkpoint(path)  # warm the page cache

        def crc() -> None:
            with zipfile.ZipFile(path) as zf:
                assert zf.testzip() is None

        crc_s = best_of(crc, args.repeats)
        load_s = best_of(lambda: load_checkpoint(path), args.repeats)
        size = os.path.getsize(path) / 1e6
    frames = np.random.default_rng(0).integers(0, 256, (args.sequences, 20, 64, 64), dtype=np.uint8)
    hash_s = best_of(lambda: frames_sha256(frames), args.repeats)

    machine = f"{platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, {date.today()}"
    print(f"| checkpoint CRC check ({size:.1f} MB) | {crc_s * 1e3:.1f} ms | {machine} |")
    print(f"| whole `load_checkpoint` ({size:.1f} MB, CRC included) | {load_s * 1e3:.1f} ms | {machine} |")
    print(f"| test-set sha256 ({args.sequences} sequences, {frames.nbytes / 1e6:.0f} MB) | {hash_s * 1e3:.0f} ms | "
          f"{machine} |")


if __name__ == "__main__":
    main()
