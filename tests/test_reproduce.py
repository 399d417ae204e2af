"""vidkit reproduce: the records in docs/results/ validate, docs/claims.md is what the generator writes from
them, and a smoke reproduction (1 seed, tiny budgets) records, resumes and renders (issue 16)."""

from __future__ import annotations

import json

import pytest

from vidkit import reproduce as R
from vidkit.cli import main
from vidkit.eval.claims import (
    claims_markdown,
    load_record,
    load_records,
    record_path,
    results_dir,
    validate_record,
)


def test_every_claim_has_a_topic_module_and_unique_id():
    claims = R.all_claims()
    assert len({c.id for c in claims}) == len(claims)
    assert {c.topic for c in claims} == set(R.TOPICS)
    for topic in R.TOPICS:
        module = R._module(topic)
        runs = set(module.CLAIM_RUNS)
        for c in module.CLAIMS:
            assert c.topic == topic and {c.a.run, c.b.run} <= runs, c.id


def test_recorded_results_validate_and_claims_md_is_generated_from_them():
    for topic in R.TOPICS:
        path = record_path(topic)
        if path.exists():
            record = validate_record(json.loads(path.read_text()), str(path))
            assert record["topic"] == topic
            assert {e["run"] for e in record["runs"].values()} <= set(R._module(topic).CLAIM_RUNS)
    claims = R.all_claims()
    expected = claims_markdown(claims, load_records(claims))
    doc = results_dir().parent / "claims.md"
    assert doc.read_text() == expected, ("docs/claims.md is not what `vidkit reproduce` writes from docs/results/; "
                                         "regenerate it with `vidkit reproduce --render`")


def test_select_names_topics_and_claims():
    ids = [c.id for c in R.select(["prediction"])]
    assert ids and all(i.startswith("prediction.") for i in ids)
    assert [c.id for c in R.select([ids[0]])] == [ids[0]]
    with pytest.raises(ValueError, match="unknown topic or claim"):
        R.select(["nope"])


def test_smoke_reproduction_records_resumes_and_renders(tmp_path, monkeypatch, capsys):
    name = "prediction.conditioning_helps_future"
    assert main(["reproduce", name, "--profile", "smoke", "--seeds", "1", "--out", str(tmp_path)]) == 0
    record = load_record(record_path("prediction", tmp_path))
    assert sorted(record["runs"]) == ["LSTM future, conditioned/seed0", "LSTM future/seed0"]
    for entry in record["runs"].values():
        assert entry["steps"] == 30 and entry["config"]["time_budget_s"] is None and entry["cores"] >= 1
        assert entry["metrics"]["future_mse"] > 0
    md = (tmp_path / "claims.md").read_text()
    assert "too few seeds (1 of 3 seeds)" in md and "Does conditioning the future decoder" in md

    # a second call trains nothing: every run it needs is recorded
    def refuse(*args, **kwargs):
        raise AssertionError("a recorded run was trained again")

    monkeypatch.setattr(R._module("prediction"), "claim_run", refuse)
    assert main(["reproduce", name, "--profile", "smoke", "--seeds", "1", "--out", str(tmp_path)]) == 0
    # another profile in the same folder is refused, not mixed in
    assert main(["reproduce", name, "--profile", "laptop", "--seeds", "1", "--out", str(tmp_path)]) == 2
    assert "records the 'smoke' profile" in capsys.readouterr().err
    assert main(["reproduce", "--list", "--out", str(tmp_path)]) == 0
    assert "TOO FEW SEEDS" in capsys.readouterr().out
