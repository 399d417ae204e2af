"""Notebook 03's recorded claims (vidkit.experiments.attention: CLAIM_RUNS, CLAIMS, claim_run) in the smoke profile."""

import math

import pytest

from vidkit.eval.claims import run_key, validate_record
from vidkit.experiments.attention import CLAIM_RUNS, CLAIMS, MODELS, claim_run
from vidkit.reproduce import TOPICS

TOPIC = "attention"
PROVENANCE = {"commit": "test", "date": "2026-01-01T00:00:00+00:00", "torch": "x", "cores": 1, "wall_s": 0.0}


def test_claims_are_the_topics_and_use_known_runs():
    assert TOPICS[TOPIC] == "vidkit.experiments.attention"
    assert len({c.id for c in CLAIMS}) == len(CLAIMS)
    assert set(CLAIM_RUNS) <= set(MODELS)
    for c in CLAIMS:
        assert c.id.startswith(f"{TOPIC}.") and c.topic == TOPIC
        assert c.a.run in CLAIM_RUNS and c.b.run in CLAIM_RUNS
    assert {arm.run for c in CLAIMS for arm in (c.a, c.b)} == set(CLAIM_RUNS)  # every claim run is used


def test_unknown_run_is_refused():
    with pytest.raises(ValueError, match="unknown claim run"):
        claim_run("MultiLSTM (window 4)", "smoke", 0)


@pytest.mark.parametrize("name", ["soft attention (Sharma)", "conv pooling, frames only"])
def test_claim_run_produces_the_claims_metrics(name):
    first = claim_run(name, "smoke", 0)
    record = {"schema": 1, "topic": TOPIC, "profile": "smoke",
              "runs": {run_key(name, 0): {**first, **PROVENANCE}}}
    validate_record(record)
    assert first["run"] == name and first["seed"] == 0
    assert first["steps"] == first["config"]["steps"] > 0  # no time cap: the profile's steps, all of them
    for c in CLAIMS:
        for arm in (c.a, c.b):
            if arm.run == name:
                assert math.isfinite(first["metrics"][arm.metric]), (c.id, arm.metric)
    other = claim_run(name, "smoke", 1)
    assert other["config"] == first["config"] and other["seed"] == 1
    assert other["metrics"] != first["metrics"]  # the seed changes the initial weights and the batch order
