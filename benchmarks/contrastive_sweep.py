"""Investigation for notebook 02: why do some of the papers' orderings not hold at laptop scale?

Notebook 02 (laptop profile, 150 steps of batch 64 per method) found three claims that do not hold as
stated: UberNCE (the oracle) only *ties* CoCLR-RGB; RGB-InfoNCE does not capture digit identity; and
Srivastava-pretrained LSTMs fine-tune worse than random ones. This script varies what the issue names
(training length, MoCo queue size, temperature, CoCLR's K, the augmentations, the fine-tuning learning
rate) one at a time around the notebook's settings and records the frozen-feature probes.

Every run uses the notebook's data (laptop profile: 8,000 training / 1,000 test clips, 16 frames of
32 x 32, exact flow), the notebook's encoder and loss functions from ``vidkit.experiments.contrastive``, and the same
read-out (logistic-regression probe fit on 2,000 training clips; action NN@1 with the training clips as
gallery). Results are appended run by run to a JSON file (atomic writes), so an interrupted sweep
resumes where it stopped; ``--fresh`` starts over.

Loss forms (issue 13). The groups budget, seeds, queue, topk and digit were recorded before issue 13
and keep the losses they were run with: UberNCE in the multiple-instance form
``-log sum_p softmax_p`` (``form="log_sum"``, CoCLR's own loss form) and CoCLR keeping the clip's own
positive in every step (``drop_self_prob=0``). The group ``equal_steps`` uses the authors' forms:
UberNCE ``-mean_p log softmax_p`` (``form="mean_log"``, CoCLR's main_nce.py) and CoCLR dropping the
self positive in 90 % of the steps (main_coclr.py), with InfoNCE, all at 300 steps over 3 seeds, plus
the two pre-issue-13 forms as controls under the same seeds.

Run:  OMP_NUM_THREADS=2 .venv/bin/python benchmarks/contrastive_sweep.py [--groups budget,queue,...]
The numbers quoted in notebook 02 and docs/benchmarks.md come from docs/results/contrastive_sweep.json.
"""

from __future__ import annotations

import argparse
import copy
import functools
import json
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

import vidkit
from vidkit.data import generate_actions
from vidkit.eval.representation import evaluate_representation, extract_embeddings
from vidkit.experiments.contrastive import (
    CoCLRPair,
    coclr_loss_fn,
    finetune,
    label_subset,
    srivastava_pretrain_loss,
    ubernce_loss,
)
from vidkit.models.moco import MoCo, infonce_loss, notebook_moco, notebook_srivastava, pretrain
from vidkit.utils.fileio import write_json_atomic

GROUPS = ("budget", "seeds", "queue", "temperature", "topk", "digit", "srivastava", "equal_steps")
OUT = Path("docs/results/contrastive_sweep.json")

# UberNCE's two forms (the groups recorded before issue 13 use log_sum) and the authors' CoCLR self-drop
# probability (see the module docstring).
UBERNCE_LOG_SUM = functools.partial(ubernce_loss, form="log_sum")
UBERNCE_AUTHORS = functools.partial(ubernce_loss, form="mean_log")
AUTHORS_DROP_SELF = 0.9


class Sweep:
    """The notebook's data, encoders and read-out, plus a results file that fills run by run."""

    def __init__(self, out: Path, fresh: bool = False):
        profile = vidkit.profile("laptop")
        self.budget = profile.contrastive
        kw = dict(num_frames=profile.actions_frames, size=profile.actions_size)
        train_set = generate_actions(profile.actions_train, split="train", seed=0, **kw)
        test_set = generate_actions(profile.actions_test, split="test", seed=1, **kw)
        self.rgb = (train_set.tensors(), test_set.tensors())
        self.flow = (torch.from_numpy(train_set.flow()), torch.from_numpy(test_set.flow()))
        self.labels = ({"action": train_set.action, "digit": train_set.digit},
                       {"action": test_set.action, "digit": test_set.digit})
        self.out = out
        self.results: dict[str, Any] = {} if fresh or not out.exists() else json.loads(out.read_text())
        self.results.setdefault("_meta", {})
        self.results["_meta"].update({"machine": platform.processor() or platform.machine(),
                                      "threads": torch.get_num_threads(), "torch": torch.__version__})

    # -- building blocks -------------------------------------------------------------------------------
    def moco(self, view: str, temperature: float = 0.1, seed: int = 0) -> MoCo:
        torch.manual_seed(seed)  # the initial weights: every run is reproducible on its own
        return notebook_moco(view, temperature=temperature)

    def pretrain(self, model: torch.nn.Module, loss_fn: Any, steps: int, seed: int = 0,
                 train_seed: int = 0) -> tuple[torch.nn.Module, dict]:
        """``seed`` orders the batches; ``train_seed`` seeds train()'s RNGs (augmentations, CoCLR's
        self-drop draw). The groups before issue 13 used ``train_seed=0`` for every seed."""
        torch.manual_seed(seed)
        result = pretrain(model, loss_fn, self.rgb[0], self.labels[0], steps=steps, batch=self.budget.batch,
                          time_s=3600, flow=self.flow[0], seed=seed, train_seed=train_seed, progress=False)
        mined = [h["mined_same_action"] for h in result.history if h.get("mined_same_action", 0) > 0]
        info = {"steps": result.steps, "train_s": round(result.elapsed_s, 1), "final_loss": result.final_loss}
        if mined:
            info["mined_same_action"] = float(np.mean(mined))
        return model, info

    def readout(self, model: torch.nn.Module, view: str) -> dict[str, float]:
        n = self.budget.eval_train_clips
        x_tr, x_te = (self.rgb if view == "rgb" else self.flow)
        f_tr = extract_embeddings(model, x_tr[:n], progress=False)
        f_te = extract_embeddings(model, x_te, progress=False)
        res = evaluate_representation(f_tr, {k: v[:n] for k, v in self.labels[0].items()}, f_te, self.labels[1],
                                      ks=(1,))
        return {"action_probe": res["action"]["probe"], "action_R@1": res["action"]["R@1"],
                "digit_probe": res["digit"]["probe"], "digit_R@1": res["digit"]["R@1"]}

    def record(self, name: str, group: str, info: dict) -> None:
        self.results[name] = {"group": group, **info}
        write_json_atomic(self.results, self.out)
        tqdm.write(f"{name}: " + ", ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}"
                                            for k, v in info.items()))

    def done(self, name: str) -> bool:
        return name in self.results

    # -- cached InfoNCE initialisations (CoCLR starts from them) --------------------------------------------
    @functools.cache  # noqa: B019 - one Sweep per process
    def infonce(self, view: str, steps: int, seed: int = 0, train_seed: int = 0) -> MoCo:
        model, _ = self.pretrain(self.moco(view, seed=seed), infonce_loss, steps, seed, train_seed)
        return model

    def coclr(self, steps: int, init_steps: int, topk: int = 5, queue: int = 256, seed: int = 0,
              drop_self_prob: float = 0.0, train_seed: int = 0) -> tuple[MoCo, dict]:
        """CoCLR-RGB from InfoNCE initialisations. ``drop_self_prob=0`` (keep the self positive) is what
        the groups before issue 13 ran; the authors use :data:`AUTHORS_DROP_SELF`."""
        rgb = copy.deepcopy(self.infonce("rgb", init_steps, seed, train_seed))
        flow = copy.deepcopy(self.infonce("flow", init_steps, seed, train_seed))
        if queue != rgb.queue.size:  # CoCLRPair starts with an empty queue of this size
            rgb.queue = type(rgb.queue)(queue, rgb.proj_dim)
        loss_fn = functools.partial(coclr_loss_fn, drop_self_prob=drop_self_prob)
        pair, info = self.pretrain(CoCLRPair(rgb, flow, topk=topk), loss_fn, steps, seed, train_seed)
        return pair.model, info


def run_budget(s: Sweep) -> None:
    """Equal total budgets: CoCLR-RGB = n InfoNCE steps (both views) + n CoCLR steps, so the oracle and
    InfoNCE-RGB get 2n steps. The notebook compares CoCLR's 150 + 150 with the oracle's 150. Recorded
    before issue 13: UberNCE in the ``log_sum`` form, CoCLR without self-dropping (kept so)."""
    for n in (150,):
        runs = {f"InfoNCE RGB, {2 * n} steps": lambda n=n: s.pretrain(s.moco("rgb"), infonce_loss, 2 * n),
                f"UberNCE RGB, {n} steps": lambda n=n: s.pretrain(s.moco("rgb"), UBERNCE_LOG_SUM, n),
                f"UberNCE RGB, {2 * n} steps": lambda n=n: s.pretrain(s.moco("rgb"), UBERNCE_LOG_SUM, 2 * n),
                f"CoCLR RGB, {n} + {n} steps": lambda n=n: s.coclr(n, n)}
        if not s.done(f"InfoNCE RGB, {n} steps"):
            s.record(f"InfoNCE RGB, {n} steps", "budget", {"steps": n, **s.readout(s.infonce("rgb", n), "rgb")})
        for name, fn in runs.items():
            if not s.done(name):
                model, info = fn()
                s.record(name, "budget", {**info, **s.readout(model, "rgb")})


def run_seeds(s: Sweep) -> None:
    """The notebook's comparison (150 steps; CoCLR 150 + 150) and the equal-budget oracle, with other seeds
    (seed 0 is in the budget group): how much of a difference is noise? Forms as in :func:`run_budget`."""
    for seed in (1, 2):
        runs = {"InfoNCE RGB, 150 steps": lambda seed=seed: (s.infonce("rgb", 150, seed), {}),
                "UberNCE RGB, 150 steps": lambda seed=seed: s.pretrain(s.moco("rgb", seed=seed), UBERNCE_LOG_SUM, 150,
                                                                       seed),
                "UberNCE RGB, 300 steps": lambda seed=seed: s.pretrain(s.moco("rgb", seed=seed), UBERNCE_LOG_SUM, 300,
                                                                       seed),
                "CoCLR RGB, 150 + 150 steps": lambda seed=seed: s.coclr(150, 150, seed=seed)}
        for base, fn in runs.items():
            name = f"{base}, seed {seed}"
            if not s.done(name):
                model, info = fn()
                s.record(name, "seeds", {"seed": seed, **info, **s.readout(model, "rgb")})


def vary(s: Sweep, group: str, key: str, values: tuple, name: str, run: Any) -> None:
    """One setting at a time: for each value ``v``, ``run(v) -> (model, info)``, read out and record as
    ``name.format(v)`` (skipped when already recorded)."""
    for v in values:
        if not s.done(name.format(v)):
            model, info = run(v)
            s.record(name.format(v), group, {key: v, **info, **s.readout(model, "rgb")})


def run_queue(s: Sweep) -> None:
    """MoCo queue size for CoCLR-RGB (the pool it mines positives from), 150 + 150 steps."""
    vary(s, "queue", "queue", (64, 1024, 4096), "CoCLR RGB, queue {}", lambda q: s.coclr(150, 150, queue=q))


def run_temperature(s: Sweep) -> None:
    """InfoNCE-RGB temperature (the notebook uses 0.1), 150 steps."""
    vary(s, "temperature", "temperature", (0.05, 0.2, 0.5), "InfoNCE RGB, temperature {}",
         lambda t: s.pretrain(s.moco("rgb", temperature=t), infonce_loss, 150))


def run_topk(s: Sweep) -> None:
    """CoCLR's K (mined positives per clip; the notebook uses 5), 150 + 150 steps, queue 256."""
    vary(s, "topk", "topk", (1, 20, 50), "CoCLR RGB, K={}", lambda k: s.coclr(150, 150, topk=k))


def run_digit(s: Sweep) -> None:
    """Can this encoder capture the digit at all? Augmentation strength, and the digit oracle."""
    runs = {
        "InfoNCE RGB, no spatial crop": functools.partial(infonce_loss, crop_scale=(1.0, 1.0)),
        "InfoNCE RGB, strong crop 0.3-1": functools.partial(infonce_loss, crop_scale=(0.3, 1.0)),
        "UberNCE RGB on digit labels": functools.partial(UBERNCE_LOG_SUM, label="digit"),
    }
    for name, loss_fn in runs.items():
        if not s.done(name):
            model, info = s.pretrain(s.moco("rgb"), loss_fn, 150)
            s.record(name, "digit", {**info, **s.readout(model, "rgb")})


def run_srivastava(s: Sweep) -> None:
    """Srivastava transfer: fine-tuning learning rate and pretraining length, 1 % and 10 % of the labels."""
    size = s.rgb[0].shape[-1]
    x_tr, x_te = s.rgb
    y_tr, y_te = s.labels[0]["action"], s.labels[1]["action"]
    inits: dict[str, Any] = {"random LSTM": lambda: notebook_srivastava(size)}
    for steps in (150, 600):
        inits[f"Srivastava {steps} steps"] = functools.partial(
            lambda n: s.pretrain(notebook_srivastava(size),
                                 srivastava_pretrain_loss, n)[0], steps)
    built: dict[str, Any] = {}
    for init, make in inits.items():
        for lr in (1e-3, 3e-4, 1e-4):
            for frac in (0.01, 0.1):
                name = f"fine-tune {init}, lr {lr:g}, {frac:.0%} labels"
                if s.done(name):
                    continue
                if init not in built:
                    torch.manual_seed(0)
                    built[init] = make()
                idx = label_subset(y_tr, frac, seed=0)
                out = finetune(copy.deepcopy(built[init]), x_tr[idx], y_tr[idx], x_te, y_te,
                               steps=s.budget.finetune_steps, lr=lr, progress=False)
                s.record(name, "srivastava", {"init": init, "lr": lr, "labels": frac, "accuracy": out["accuracy"]})


def run_equal_steps(s: Sweep) -> None:
    """CoCLR's ordering UberNCE > CoCLR-RGB > InfoNCE-RGB with the AUTHORS' loss forms, at equal steps,
    over seeds 0, 1, 2 (seed = initial weights, batch order and train()'s RNGs: augmentations and the
    self-drop draw). Every arm trains the RGB encoder 300 steps in all:

    * InfoNCE RGB: 300 InfoNCE steps;
    * UberNCE RGB: 300 steps of ``-mean_p log softmax_p`` (``form="mean_log"``, the authors' UberNCE);
    * CoCLR RGB: 150 InfoNCE steps (RGB and flow) + 150 CoCLR steps, ``-log sum_p softmax_p`` with the
      self positive dropped in 90 % of the steps (the authors' CoCLR), K = 5, queue 256.

    Two controls with the same seeds isolate the forms: UberNCE in the ``log_sum`` form and CoCLR
    without self-dropping (``drop_self_prob=0``), the kit's losses before issue 13.
    """
    n = 150
    for seed in (0, 1, 2):
        runs = {
            (f"equal steps: InfoNCE RGB, {2 * n} steps, seed {seed}", "InfoNCE"):
                lambda seed=seed: s.pretrain(s.moco("rgb", seed=seed), infonce_loss, 2 * n, seed, train_seed=seed),
            (f"equal steps: UberNCE RGB (mean_log), {2 * n} steps, seed {seed}", "UberNCE mean_log"):
                lambda seed=seed: s.pretrain(s.moco("rgb", seed=seed), UBERNCE_AUTHORS, 2 * n, seed, train_seed=seed),
            (f"equal steps: CoCLR RGB (drop self {AUTHORS_DROP_SELF}), {n} + {n} steps, seed {seed}",
             f"CoCLR log_sum, drop self {AUTHORS_DROP_SELF}"):
                lambda seed=seed: s.coclr(n, n, seed=seed, drop_self_prob=AUTHORS_DROP_SELF, train_seed=seed),
            (f"equal steps: UberNCE RGB (log_sum), {2 * n} steps, seed {seed}", "UberNCE log_sum (control)"):
                lambda seed=seed: s.pretrain(s.moco("rgb", seed=seed), UBERNCE_LOG_SUM, 2 * n, seed, train_seed=seed),
            (f"equal steps: CoCLR RGB (drop self 0), {n} + {n} steps, seed {seed}",
             "CoCLR log_sum, drop self 0 (control)"):
                lambda seed=seed: s.coclr(n, n, seed=seed, drop_self_prob=0.0, train_seed=seed),
        }
        for (name, loss), fn in runs.items():
            if not s.done(name):
                model, info = fn()
                s.record(name, "equal_steps", {"seed": seed, "loss": loss, "total_steps": 2 * n, **info,
                                               **s.readout(model, "rgb")})


RUNNERS = {"budget": run_budget, "seeds": run_seeds, "queue": run_queue, "temperature": run_temperature, "topk": run_topk,
           "digit": run_digit, "srivastava": run_srivastava, "equal_steps": run_equal_steps}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--groups", default=",".join(GROUPS), help=f"comma-separated, from {GROUPS}")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--fresh", action="store_true", help="discard earlier results in --out")
    args = parser.parse_args(argv)
    groups = [g.strip() for g in args.groups.split(",") if g.strip()]
    unknown = sorted(set(groups) - set(GROUPS))
    if unknown:
        parser.error(f"unknown groups {unknown}; choose from {GROUPS}")
    t0 = time.time()
    sweep = Sweep(args.out, fresh=args.fresh)
    for g in tqdm(groups, desc="groups"):
        RUNNERS[g](sweep)
    print(f"done in {time.time() - t0:.0f}s; results in {args.out}")


if __name__ == "__main__":
    main()
