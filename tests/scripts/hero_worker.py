"""HERO training under torchrun, for tests/test_ddp.py: notebook 06's pretraining and TVR fine-tuning on N processes.

    python -m torch.distributed.run --standalone --nproc_per_node=2 tests/scripts/hero_worker.py --out O

HERO's tasks run the model several times per step, so its training averages gradients after each backward
(``TrainConfig.grad_sync="allreduce"``) instead of wrapping the model in DistributedDataParallel. Writes
``O/hero_rank<r>.pt`` (final weights) and ``O/hero_rank<r>.json`` (rank, world size, steps, final loss).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repo root: runs without an install

from vidkit.experiments.transformers import finetune_tvr, make_data, make_model, pretrain  # noqa: E402
from vidkit.profiles import profile  # noqa: E402
from vidkit.utils import distributed as D  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--out", required=True)
    args = p.parse_args()
    torch.set_num_threads(1)
    D.init_distributed()
    budget = dataclasses.replace(profile("smoke").hero, train=32, batch=8, steps=3, finetune_steps=2, time_s=None)
    data = make_data(32, "train", 0, budget)
    torch.manual_seed(D.rank())  # different initial weights per process: training must start from rank 0's
    model = make_model(len(data.vocab), budget)
    pre = pretrain(model, data, budget, seed=0)
    tvr = finetune_tvr(model, data, budget, seed=0)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), out / f"hero_rank{D.rank()}.pt")
    info = {"rank": D.rank(), "world_size": D.world_size(), "steps": [pre.steps, tvr.steps],
            "loss": pre.history[-1]["loss"]}
    (out / f"hero_rank{D.rank()}.json").write_text(json.dumps(info))
    D.cleanup()


if __name__ == "__main__":
    main()
