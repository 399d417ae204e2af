"""Notebook 02's claims as data (vidkit.experiments.contrastive: CLAIMS, CLAIM_RUNS, claim_run): ids, arms, and
cheap smoke-profile runs that produce the claims' metrics, validate as records and depend on the seed."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from vidkit.eval.claims import run_key, validate_record
from vidkit.experiments import contrastive as C
from vidkit.profiles import profile
from vidkit.reproduce import TOPICS, select

pytestmark = pytest.mark.usefixtures("one_torch_thread")

PROVENANCE = {"commit": "test", "date": "2026-01-01T00:00:00+00:00", "torch": "x", "cores": 1, "wall_s": 0.0}


def _metrics_of(run: str) -> set[str]:
    """Every metric a claim reads from ``run``."""
    return {arm.metric for c in C.CLAIMS for arm in (c.a, c.b) if arm.run == run}


def test_claims_are_contrastive_with_known_runs_and_unique_ids():
    assert TOPICS["contrastive"] == "vidkit.experiments.contrastive"
    ids = [c.id for c in C.CLAIMS]
    assert len(ids) == len(set(ids))
    for c in C.CLAIMS:
        assert c.id.startswith("contrastive.") and c.topic == "contrastive"
        assert c.a.run in C.CLAIM_RUNS and c.b.run in C.CLAIM_RUNS, c.id
    assert [c.id for c in select(["contrastive"])] == ids
    close = [c for c in C.CLAIMS if c.direction == "close"]
    assert [(c.id, c.margin) for c in close] == [("contrastive.coclr_close_to_ubernce", 0.05)]
    with pytest.raises(ValueError, match="unknown claim run"):
        C.claim_run("no such run", "smoke", 0)


def _entry(run: str, seed: int) -> dict:
    entry = C.claim_run(run, "smoke", seed)
    validate_record({"schema": 1, "topic": "contrastive", "profile": "smoke",
                     "runs": {run_key(run, seed): {**entry, **PROVENANCE}}})
    for metric in _metrics_of(run):
        assert math.isfinite(entry["metrics"][metric]), (run, metric)
    return entry


@pytest.mark.parametrize("run", ["InfoNCE flow", "Srivastava future"])
def test_a_pretraining_run_gives_its_claims_metrics_and_depends_on_the_seed(run):
    steps = 2 * profile("smoke").contrastive.steps  # every pretrained arm trains 2n steps
    a, b, a_again = _entry(run, 0), _entry(run, 1), _entry(run, 0)
    assert a["steps"] == b["steps"] == steps and a["run"] == run
    assert a["metrics"] != b["metrics"]
    assert a["config"] == a_again["config"] and a["metrics"] == a_again["metrics"]
    assert a["config"]["stages"][0]["steps"] == steps and a["config"]["profile"] == "smoke"


def test_a_finetuning_run_reports_the_test_accuracy_of_the_lr_chosen_on_validation():
    entry = _entry("fine-tune: random LSTM", 0)
    assert set(entry["metrics"]) == {"finetune_1%", "finetune_10%", "finetune_100%"}
    chosen = entry["config"]["finetune"]["1%"]
    by_lr = chosen["by_lr"]
    assert set(by_lr) == {f"{lr:g}" for lr in C.FINETUNE_LRS}
    best = max(by_lr, key=lambda lr: by_lr[lr]["val_accuracy"])
    assert entry["metrics"]["finetune_1%"] == by_lr[best]["accuracy"] == chosen["accuracy"]
    assert f"{chosen['lr']:g}" == best and entry["steps"] == profile("smoke").contrastive.finetune_steps


def test_srivastava_modes_share_the_encoder_init_and_each_loss_trains():
    clips = C.claim_data(profile("smoke")).rgb[0][:4]
    encoders = []
    for mode in C.SRIVASTAVA_MODES:
        torch.manual_seed(0)
        model = C.srivastava_model(32, mode)
        assert model.mode == mode
        loss, logs = C.srivastava_pretrain_loss(model, {"rgb": clips})
        assert torch.isfinite(loss) and ("future" in logs) == (mode != "autoencoder")
        assert ("reconstruction" in logs) == (mode != "future")
        encoders.append(model.encoder.state_dict())
    for other in encoders[1:]:
        assert all(torch.equal(other[k], encoders[0][k]) for k in encoders[0])
    with pytest.raises(ValueError, match="mode"):
        C.srivastava_model(32, "predict")


def test_finetune_select_lr_keeps_validation_and_labelled_clips_apart(monkeypatch):
    seen = []

    def fake(encoder, train_x, train_y, test_x, test_y, *, lr, val, **kw):
        seen.append((set(train_x[:, 0, 0, 0, 0].tolist()), set(val[0][:, 0, 0, 0, 0].tolist()), lr))
        return {"accuracy": 0.5 + lr, "val_accuracy": {1e-3: 0.9}.get(lr, 0.1), "train_clips": len(train_x)}

    monkeypatch.setattr(C, "finetune", fake)
    x = torch.arange(80, dtype=torch.float32).reshape(80, 1, 1, 1, 1).expand(80, 2, 1, 2, 2).clone()
    y = np.arange(80) % 4
    out = C.finetune_select_lr(torch.nn.Linear(1, 1), x, y, x[:8], y[:8], fractions=(0.1, 1.0),
                               lrs=(3e-3, 1e-3), val_fraction=0.25)
    for train, val, _ in seen:
        assert train and val and not train & val
    assert out[0.1]["lr"] == out[1.0]["lr"] == 1e-3 and out[1.0]["accuracy"] == 0.5 + 1e-3
    assert out[1.0]["train_clips"] == 60 and out[0.1]["val_clips"] == 20


def test_every_srivastava_objective_has_a_pretraining_and_a_finetuning_run_in_the_claims():
    """A4: the six objectives (three modes, conditioned or not) each pretrain and fine-tune at 1/10/100 %."""
    assert set(C.SRIVASTAVA_RUNS.values()) == {(m, c) for m in C.SRIVASTAVA_MODES for c in (False, True)}
    arms = {arm.run for c in C.CLAIMS for arm in (c.a, c.b)}
    for name in C.SRIVASTAVA_RUNS:
        assert f"fine-tune: {name}" in arms, name
    assert {"Srivastava composite, conditioned", "Srivastava future, conditioned", C.PERCEPTS} <= arms
    assert C.FINETUNE_FRACTIONS == (0.01, 0.1, 1.0)


def test_the_percept_run_reads_a_frozen_image_network_and_predicts_future_percepts():
    """A3: percepts (the percept network's flattened feature map per frame) in, future percepts out."""
    entry = _entry(C.PERCEPTS, 0)
    stages = entry["config"]["stages"]
    assert [s["network"] for s in stages] == ["cnn", "lstm"]
    assert stages[0]["steps"] == profile("smoke").contrastive.percept_steps
    assert entry["steps"] == 2 * profile("smoke").contrastive.steps  # the LSTM's steps, as the pixel arm's
    m = entry["metrics"]
    assert 0 <= m["percept_digit_accuracy"] <= 1 and m["future_mse"] > 0 and m["copy_last_mse"] > 0
    # the percepts are standardised on the training clips: predicting their mean (zeros) scores about 1 per feature
    assert 0.2 < m["zeros_mse"] < 5
    size = profile("smoke").actions_size
    assert entry["config"]["percept_dim"] == 4 * C.PERCEPT_WIDTH * (size // 8) ** 2
