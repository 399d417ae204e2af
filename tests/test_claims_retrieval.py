"""Notebook 04's recorded claims (vidkit.experiments.text_video): claim ids and arms, and claim_run's record entries
in the smoke profile (valid, every arm's metric present and finite, seeded)."""

from __future__ import annotations

import math

import pytest

from vidkit.eval.claims import run_key, validate_record
from vidkit.experiments.text_video import CLAIM_RUNS, CLAIMS, LOSSES, claim_run
from vidkit.reproduce import TOPICS

pytestmark = pytest.mark.usefixtures("one_torch_thread")

PROVENANCE = {"commit": "test", "date": "2026-01-01T00:00:00+00:00", "torch": "x", "cores": 1, "wall_s": 0.0}


@pytest.fixture(scope="module")
def entries(tmp_path_factory):
    """max-margin (the cheapest run) with seeds 0, 1 and 0 again, then MIL-NCE (bags of captions) with seed 0."""
    root = tmp_path_factory.mktemp("claims")
    return [claim_run("max-margin", "smoke", seed, root) for seed in (0, 1, 0)] + [claim_run("MIL-NCE", "smoke", 0, root)]


def test_claims_belong_to_the_topic_and_name_known_runs():
    assert TOPICS["retrieval"] == "vidkit.experiments.text_video"
    assert set(CLAIM_RUNS) == set(LOSSES)
    ids = [c.id for c in CLAIMS]
    assert len(ids) == len(set(ids)) and all(i.startswith("retrieval.") for i in ids)
    for c in CLAIMS:
        assert c.topic == "retrieval" and c.held_equal == "steps"
        assert c.a.run in CLAIM_RUNS and c.b.run in CLAIM_RUNS, c.id


def test_unknown_run_is_refused():
    with pytest.raises(ValueError, match="unknown claim run"):
        claim_run("InfoNCE", "smoke", 0, None)


def test_claim_run_entries_are_a_valid_record_with_every_arm_metric(entries):
    runs = {run_key(e["run"], e["seed"]): {**e, **PROVENANCE} for e in (entries[0], entries[1], entries[3])}
    validate_record({"schema": 1, "topic": "retrieval", "profile": "smoke", "runs": runs})
    for entry in (entries[0], entries[3]):
        assert entry["seed"] == 0 and entry["config"]["loss"] == entry["run"]
        assert entry["steps"] == entry["config"]["budget"]["steps"] > 0          # equal steps: no time cap
        assert entry["config"]["budget"]["time_s"] is None and entry["config"]["profile"] == "smoke"
        for c in CLAIMS:
            for arm in (c.a, c.b):
                if arm.run == entry["run"]:
                    assert math.isfinite(entry["metrics"][arm.metric]), (c.id, arm.metric)
        assert 0 < entry["metrics"]["t2v_chance@1_heldout"] < 1
    assert entries[0]["steps"] == entries[3]["steps"]


def test_seeds_differ_and_a_seed_repeats(entries):
    first, other, again = entries[:3]
    assert first["metrics"] != other["metrics"]
    assert first["config"] == again["config"] == other["config"]
    assert first["metrics"] == again["metrics"]
