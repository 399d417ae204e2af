"""vidkit.utils.distributed and DDP training: 2 CPU processes on gloo, launched with torchrun."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from vidkit.utils import distributed as D
from vidkit.utils.checkpoint import load_checkpoint

WORKER = Path(__file__).parent / "scripts" / "train_worker.py"


def test_helpers_are_noops_without_torchrun(monkeypatch):
    for var in ("WORLD_SIZE", "RANK", "LOCAL_RANK"):
        monkeypatch.delenv(var, raising=False)
    assert D.init_distributed() is False
    assert (D.rank(), D.world_size(), D.local_rank(), D.is_main(), D.is_distributed()) == (0, 1, 0, True, False)
    assert D.all_gather_object({"a": 1}) == [{"a": 1}]
    D.barrier()
    D.cleanup()
    monkeypatch.setenv("WORLD_SIZE", "1")
    assert D.init_distributed() is False


def test_init_distributed_validates_env(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "two")
    with pytest.raises(RuntimeError, match="WORLD_SIZE='two' is not an integer"):
        D.init_distributed()
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.delenv("RANK", raising=False)
    with pytest.raises(RuntimeError, match="RANK is not set"):
        D.init_distributed()
    monkeypatch.setenv("RANK", "5")
    with pytest.raises(RuntimeError, match="outside"):
        D.init_distributed()


def test_torchrun_two_cpu_ranks(tmp_path):
    workdir, out = tmp_path / "run", tmp_path / "out"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", str(WORKER),
           "--workdir", str(workdir), "--out", str(out), "--steps", "8", "--ckpt-every", "4"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]

    w0 = torch.load(out / "weights_rank0.pt", weights_only=True)
    w1 = torch.load(out / "weights_rank1.pt", weights_only=True)
    for k in w0:
        assert torch.equal(w0[k], w1[k]), f"{k} differs between ranks"  # DDP kept them in sync

    i0, i1 = (json.loads((out / f"info_rank{r}.json").read_text()) for r in (0, 1))
    assert (i0["rank"], i1["rank"], i0["world_size"], i0["steps"]) == (0, 1, 2, 8)
    assert i0["digest"] != i1["digest"]  # each rank drew different batches
    assert i0["losses"] == i1["losses"]  # the logged loss is the mean over ranks

    ckpt = load_checkpoint(workdir / "checkpoints" / "last.pt")
    assert ckpt["step"] == 8 and ckpt["world_size"] == 2
    assert [d["rank"] for d in ckpt["data"]] == [0, 1] and [d["step"] for d in ckpt["data"]] == [8, 8]
    assert len(ckpt["rng"]) == 2
    assert all(torch.equal(ckpt["model"][k], w0[k]) for k in w0)
    log = (workdir / "log.txt").read_text()
    assert log.count(" step 3 loss ") == 1 and log.count("done: 8 steps") == 1  # only rank 0 writes
