"""A small training run for the subprocess tests (SIGKILL + resume, and DDP under torchrun).

    python tests/scripts/train_worker.py --workdir W --out O [--steps N] [--ckpt-every K] [--hang-at S --marker M]
    python -m torch.distributed.run --standalone --nproc_per_node=2 tests/scripts/train_worker.py ...

Writes ``O/weights_rank<r>.pt`` (final weights) and ``O/info_rank<r>.json`` (resume step, a hash of
the batches this rank drew, ...). With ``--hang-at S`` it writes ``M`` after step S and then sleeps,
so a test can SIGKILL it at a known point between two checkpoints. With ``--hang-in-save S`` it writes
half of step S's checkpoint into the temporary file, writes ``M`` and sleeps: a SIGKILL there is a
kill in the middle of a checkpoint write.

The loss deliberately uses every global RNG (dropout: torch; noise factors: ``random`` and numpy),
so a resume that forgot to restore one of them cannot reproduce the uninterrupted run.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import random
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repo root: runs without an install

from vidkit.train import StepInfo, TrainConfig, train  # noqa: E402
from vidkit.utils import distributed as D  # noqa: E402


class ToyStream:
    """Infinite regression batches; batch ``i`` on rank ``r`` is a pure function of ``(seed, r, i)``."""

    def __init__(self, batch_size: int = 16, seed: int = 0, rank: int = 0):
        self.batch_size, self.seed, self.rank, self.step = batch_size, seed, rank, 0
        self.w_true = torch.linspace(-1, 1, 8).unsqueeze(1)
        self.digest = hashlib.sha256()

    def __iter__(self) -> ToyStream:
        return self

    def __next__(self) -> tuple[torch.Tensor, torch.Tensor]:
        key = int(np.random.SeedSequence([self.seed, self.rank, self.step]).generate_state(1)[0])
        g = torch.Generator().manual_seed(key)
        x = torch.randn(self.batch_size, 8, generator=g)
        y = x @ self.w_true + 0.1 * torch.randn(self.batch_size, 1, generator=g)
        self.step += 1
        self.digest.update(x.numpy().tobytes())
        return x, y

    def state_dict(self) -> dict:
        return {"seed": self.seed, "rank": self.rank, "step": self.step}

    def load_state_dict(self, state: dict) -> None:
        self.step = int(state["step"])


def loss_fn(model: nn.Module, batch: tuple[torch.Tensor, torch.Tensor], _step: int) -> torch.Tensor:
    x, y = batch
    noise = (1 + 0.01 * random.random()) * (1 + 0.01 * float(np.random.rand()))
    return nn.functional.mse_loss(model(x), y) * noise


def make_model() -> nn.Module:
    torch.manual_seed(0)  # identical initial weights in every process
    return nn.Sequential(nn.Linear(8, 32), nn.GELU(), nn.Dropout(0.1), nn.Linear(32, 1))


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--workdir", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--ckpt-every", type=int, default=5)
    p.add_argument("--hang-at", type=int, default=None)
    p.add_argument("--hang-in-save", type=int, default=None)
    p.add_argument("--marker", default=None)
    args = p.parse_args()

    if args.hang_in_save is not None:
        import vidkit.utils.checkpoint as C

        real_save = torch.save

        def half_written_save(obj, f, *a, **kw):  # the bytes of step S's checkpoint stop half way
            if isinstance(obj, dict) and obj.get("step") == args.hang_in_save:
                buf = io.BytesIO()
                real_save(obj, buf, *a, **kw)
                f.write(buf.getvalue()[: len(buf.getvalue()) // 2])
                f.flush()
                Path(args.marker).write_text("saving")
                time.sleep(600)  # the test kills us here
            return real_save(obj, f, *a, **kw)

        C.torch.save = half_written_save

    torch.set_num_threads(1)  # bitwise determinism on CPU
    D.init_distributed()
    stream = ToyStream(seed=0, rank=D.rank())

    def hang(info: StepInfo) -> None:
        if info.step == args.hang_at:
            Path(args.marker).write_text(str(info.step))
            time.sleep(600)  # the test kills us here

    config = TrainConfig(steps=args.steps, lr=1e-2, warmup_steps=3, min_lr_ratio=0.1, weight_decay=0.01,
                         ckpt_every=args.ckpt_every, log_every=1, seed=0, device="cpu")
    result = train(make_model(), loss_fn, stream, config, workdir=args.workdir, progress=False,
                   callbacks=[hang] if args.hang_at else [])
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    torch.save(result.model.state_dict(), out / f"weights_rank{D.rank()}.pt")
    info = {"rank": D.rank(), "world_size": D.world_size(), "steps": result.steps, "resumed_from": result.resumed_from,
            "stopped_by": result.stopped_by, "digest": stream.digest.hexdigest(),
            "history_steps": [h["step"] for h in result.history], "losses": [h["loss"] for h in result.history]}
    (out / f"info_rank{D.rank()}.json").write_text(json.dumps(info))
    D.cleanup()


if __name__ == "__main__":
    main()
