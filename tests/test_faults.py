"""Kills at the worst moments: during a checkpoint write, and a whole torchrun job. Each resumes to the
weights and loss curve of an uninterrupted run (the plain SIGKILL case is in test_checkpoint.py)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from vidkit.utils.checkpoint import load_checkpoint

WORKER = Path(__file__).parent / "scripts" / "train_worker.py"


def _args(workdir: Path, out: Path, *extra: str) -> list[str]:
    return [str(WORKER), "--workdir", str(workdir), "--out", str(out), "--steps", "16", "--ckpt-every", "5", *extra]


def _wait_for(marker: Path, proc: subprocess.Popen, what: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not marker.exists():
        assert proc.poll() is None, f"the worker exited before {what}"
        assert time.monotonic() < deadline, f"the worker did not reach {what} in time"
        time.sleep(0.05)


def _same_run(ref_out: Path, run_out: Path, ranks: int = 1) -> dict:
    for r in range(ranks):
        ref_w = torch.load(ref_out / f"weights_rank{r}.pt", weights_only=True)
        run_w = torch.load(run_out / f"weights_rank{r}.pt", weights_only=True)
        assert ref_w.keys() == run_w.keys()
        for k in ref_w:
            assert torch.equal(ref_w[k], run_w[k]), f"rank {r}: {k} differs after resume"
    info = json.loads((run_out / "info_rank0.json").read_text())
    ref_info = json.loads((ref_out / "info_rank0.json").read_text())
    assert info["losses"] == ref_info["losses"]  # the whole logged curve, not just the end
    return info


def test_sigkill_during_a_checkpoint_write_keeps_the_previous_checkpoint(tmp_path):
    marker = tmp_path / "saving"
    ref = subprocess.Popen([sys.executable, *_args(tmp_path / "ref", tmp_path / "ref_out")])
    victim = subprocess.Popen([sys.executable, *_args(tmp_path / "run", tmp_path / "run_out", "--hang-in-save", "10",
                                                      "--marker", str(marker))])
    ckpts = tmp_path / "run" / "checkpoints"
    try:
        _wait_for(marker, victim, "the step-10 checkpoint write")
        os.kill(victim.pid, signal.SIGKILL)
        assert victim.wait(timeout=30) == -signal.SIGKILL
    finally:
        if victim.poll() is None:
            victim.kill()
    half = [p for p in ckpts.iterdir() if p.name != "last.pt"]
    assert len(half) == 1 and half[0].name.startswith(".last.")  # the half-written temporary file
    assert load_checkpoint(ckpts / "last.pt")["step"] == 5  # the previous checkpoint, whole

    subprocess.run([sys.executable, *_args(tmp_path / "run", tmp_path / "run_out")], check=True, timeout=120)
    assert ref.wait(timeout=120) == 0
    info = _same_run(tmp_path / "ref_out", tmp_path / "run_out")
    assert info["resumed_from"] == 5 and info["steps"] == 16
    assert [p.name for p in ckpts.iterdir()] == ["last.pt"]  # the leftover was cleaned


@pytest.mark.slow
def test_torchrun_sigkill_then_resume_is_exact(tmp_path):
    """SIGKILL a 2-process torchrun job (both ranks and the launcher) between checkpoints; resume it under
    torchrun: both ranks end with the uninterrupted job's weights and loss curve."""
    launch = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    marker = tmp_path / "hanging"
    ref = subprocess.Popen([*launch, *_args(tmp_path / "ref", tmp_path / "ref_out")],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    victim = subprocess.Popen([*launch, *_args(tmp_path / "run", tmp_path / "run_out", "--hang-at", "8",
                                               "--marker", str(marker))],
                              start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for(marker, victim, "step 8")
        os.killpg(victim.pid, signal.SIGKILL)  # the launcher and both ranks
        victim.wait(timeout=30)
    finally:
        if victim.poll() is None:
            os.killpg(victim.pid, signal.SIGKILL)
    assert not (tmp_path / "run_out").exists()
    ckpt = load_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt")
    assert ckpt["step"] == 5 and ckpt["world_size"] == 2

    done = subprocess.run([*launch, *_args(tmp_path / "run", tmp_path / "run_out")], capture_output=True,
                          text=True, timeout=180)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert ref.wait(timeout=180) == 0
    info = _same_run(tmp_path / "ref_out", tmp_path / "run_out", ranks=2)
    assert info["resumed_from"] == 5 and info["steps"] == 16 and info["world_size"] == 2
