"""vidkit.utils.distributed and DDP training: 2 CPU processes on gloo, launched with torchrun."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from vidkit.experiments.multimodal import make_data, make_model, mmv_batches
from vidkit.profiles import profile
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


MMV_WORKER = Path(__file__).parent / "scripts" / "mmv_worker.py"


def test_mmv_batches_shard_by_rank():
    data = make_data(32, "train", 0, dataclasses.replace(profile("smoke").multimodal, train=32))
    single = mmv_batches(data, 8, seed=3)
    ranks = [mmv_batches(data, 4, text="one", seed=3, rank=r, world_size=2) for r in (0, 1)]
    for _ in range(6):                                     # across an epoch boundary (32 clips = 4 global steps)
        a, b = (next(it) for it in ranks)
        assert not set(a["index"].tolist()) & set(b["index"].tolist())        # no clip twice in one step
        both = torch.cat([a["index"], b["index"]])
        assert torch.equal(both, next(single)["index"])    # together: the single process's batch, same order
        assert a["tokens"].shape[1] == 1
    with pytest.raises(ValueError, match="rank must be an int in 0..1"):
        mmv_batches(data, 4, rank=2, world_size=2)
    with pytest.raises(ValueError, match="at most the 32 clips / 2 processes"):
        mmv_batches(data, 17, rank=0, world_size=2)


def test_torchrun_two_cpu_ranks_train_mmv(tmp_path):
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", str(MMV_WORKER),
           "--out", str(tmp_path), "--steps", "3"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    w0, w1 = (torch.load(tmp_path / f"mmv_rank{r}.pt", weights_only=True) for r in (0, 1))
    for k in w0:  # DDP kept the weights in sync; batch-norm statistics are each rank's own (rank 0's are saved)
        if not k.endswith(("running_mean", "running_var", "num_batches_tracked")):
            assert torch.equal(w0[k], w1[k]), f"{k} differs between ranks"
    i0, i1 = (json.loads((tmp_path / f"mmv_rank{r}.json").read_text()) for r in (0, 1))
    assert (i0["rank"], i1["rank"], i0["world_size"]) == (0, 1, 2)
    assert i0["vat"]["steps"] == i0["va"]["steps"] == 3
    assert i0["vat"]["loss"] == i1["vat"]["loss"]                        # the logged loss is the mean over ranks
    # v+a alone: the text encoder got no gradient (find_unused_parameters); the video and audio heads trained
    budget = dataclasses.replace(profile("smoke").multimodal, train=32, batch=8, steps=3, time_s=None)
    torch.manual_seed(0)
    init = make_model(len(make_data(32, "train", 0, budget).vocab), budget, "fac").state_dict()
    text = [k for k in init if k.startswith("text_encoder.")]
    video = [k for k in init if k.startswith("video_encoder.") and init[k].is_floating_point()]
    assert text and video
    assert all(torch.equal(w0[f"va.{k}"], init[k]) for k in text)
    assert any(not torch.equal(w0[f"va.{k}"], init[k]) for k in video)
    assert any(not torch.equal(w0[f"vat.{k}"], init[k]) for k in text)


def test_torchrun_reproduce_records_once(tmp_path):
    """`torchrun ... vidkit reproduce multimodal...`: both processes train each run, rank 0 alone records it."""
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "vidkit.cli",
           "reproduce", "multimodal.mil_nce_beats_nce_noisy", "--profile", "smoke", "--seeds", "1", "--out", str(out)]
    env = {**os.environ, "VIDKIT_RUNS": str(tmp_path / "runs"), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    record = json.loads((out / "multimodal.json").read_text())
    assert sorted(record["runs"]) == ["FAC NCE/seed0", "FAC/seed0"]
    assert all(r["processes"] == 2 for r in record["runs"].values())
    assert proc.stdout.count("wrote ") == 1 and (out / "claims.md").is_file()


def test_torchrun_two_cpu_ranks_train_hero(tmp_path):
    """HERO averages gradients by hand (grad_sync="allreduce"): the ranks start from rank 0's weights and stay equal."""
    worker = Path(__file__).parent / "scripts" / "hero_worker.py"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", str(worker),
           "--out", str(tmp_path)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    w0, w1 = (torch.load(tmp_path / f"hero_rank{r}.pt", weights_only=True) for r in (0, 1))
    for k in w0:
        if not k.endswith(("running_mean", "running_var", "num_batches_tracked")):
            assert torch.equal(w0[k], w1[k]), f"{k} differs between ranks"
    i0, i1 = (json.loads((tmp_path / f"hero_rank{r}.json").read_text()) for r in (0, 1))
    assert (i0["world_size"], i0["steps"], i1["steps"]) == (2, [3, 2], [3, 2])
    assert i0["loss"] == i1["loss"]


def test_grad_sync_is_checked():
    from vidkit.train import TrainConfig

    with pytest.raises(ValueError, match="grad_sync must be 'ddp' or 'allreduce'"):
        TrainConfig(grad_sync="manual")
