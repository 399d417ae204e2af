"""MMV training under torchrun, for tests/test_ddp.py: the notebook-05 training call, unchanged, on N processes.

    python -m torch.distributed.run --standalone --nproc_per_node=2 tests/scripts/mmv_worker.py --out O

Trains two tiny MMV models with :func:`vidkit.experiments.multimodal.train_mmv` (FAC on v+a+t, then FAC on v+a
alone, whose text heads get no gradient) and writes ``O/mmv_rank<r>.pt`` (both models' final weights) and
``O/mmv_rank<r>.json`` (rank, world size, steps, final losses).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repo root: runs without an install

from vidkit.experiments.multimodal import make_data, make_model, train_mmv  # noqa: E402
from vidkit.profiles import profile  # noqa: E402
from vidkit.utils import distributed as D  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--out", required=True)
    p.add_argument("--steps", type=int, default=3)
    args = p.parse_args()
    torch.set_num_threads(1)
    D.init_distributed()
    budget = dataclasses.replace(profile("smoke").multimodal, train=32, batch=8, steps=args.steps, time_s=None)
    data = make_data(32, "train", 0, budget)
    weights, info = {}, {"rank": D.rank(), "world_size": D.world_size()}
    for name, pairs in (("vat", ("va", "vt")), ("va", ("va",))):
        torch.manual_seed(0)  # identical initial weights in every process
        model = make_model(len(data.vocab), budget, "fac")
        result = train_mmv(model, data, budget, pairs=pairs, seed=0)
        weights.update({f"{name}.{k}": v for k, v in model.state_dict().items()})
        info[name] = {"steps": result.steps, "loss": result.history[-1]["loss"]}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    torch.save(weights, out / f"mmv_rank{D.rank()}.pt")
    (out / f"mmv_rank{D.rank()}.json").write_text(json.dumps(info))
    D.cleanup()


if __name__ == "__main__":
    main()
