"""Claims as data (vidkit.eval.claims): the verdict rule, the record format and its atomic update, rendering."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from vidkit.eval.claims import (
    SCHEMA,
    Arm,
    Claim,
    arm_values,
    claims_frame,
    claims_markdown,
    evaluate_claims,
    load_record,
    plot_claims,
    record_path,
    record_run,
    results_dir,
    run_key,
    validate_record,
    verdict,
)

COMPOSITE = Arm("LSTM composite", "future_mse", "composite")
FUTURE = Arm("LSTM future", "future_mse", "future only")
BEATS = Claim("prediction.composite_beats_future", "Does the composite model predict better than the future "
              "predictor?", "Srivastava et al. 2015, Table 1", COMPOSITE, FUTURE, "less")
SAME = Claim("prediction.same", "Is the composite model as good as the future predictor?", "made up",
             COMPOSITE, FUTURE, "close", margin=0.05)
HIGHER = Claim("prediction.higher", "Is a greater than b?", "made up", Arm("r", "m"), Arm("s", "m"), "greater")


# ------------------------------------------------------------------------------------------------ verdicts
def test_verdict_holds_contradicted_inconclusive_and_too_few_seeds():
    b = {0: 1.0, 1: 1.0, 2: 1.0}
    assert verdict(HIGHER, {0: 2.0, 1: 2.1, 2: 1.9}, b).verdict == "holds"
    assert verdict(HIGHER, {0: 0.0, 1: 0.1, 2: -0.1}, b).verdict == "contradicted"
    assert verdict(HIGHER, {0: 2.0, 1: 0.0, 2: 1.1}, b).verdict == "inconclusive"  # mean 0.033, se 0.58
    two = verdict(HIGHER, {0: 5.0, 1: 5.0}, b)
    assert two.verdict == "too few seeds" and two.n == 2 and two.mean_diff == 4.0
    none = verdict(HIGHER, {}, {})
    assert none.verdict == "too few seeds" and none.n == 0 and math.isnan(none.mean_diff) and math.isnan(none.se)
    one = verdict(HIGHER, {0: 2.0}, {0: 1.0})
    assert one.n == 1 and math.isnan(one.se) and math.isnan(one.effect_size)


def test_verdict_stats_match_numpy_formulas_and_unpaired_seeds_are_ignored():
    a = {0: 0.9, 1: 0.95, 2: 0.7, 3: 0.88, 7: 100.0}
    b = {0: 0.6, 1: 0.8, 2: 0.75, 3: 0.5, 9: -100.0}  # seeds 7 and 9 have no partner
    v = verdict(HIGHER, a, b)
    d = np.array([a[s] - b[s] for s in (0, 1, 2, 3)])
    assert v.n == 4 and v.seeds == [0, 1, 2, 3]
    assert v.mean_diff == pytest.approx(d.mean())
    assert v.se == pytest.approx(d.std(ddof=1) / np.sqrt(4))
    assert v.effect_size == pytest.approx(d.mean() / d.std(ddof=1))
    assert v.verdict == ("holds" if d.mean() > 2 * v.se else "inconclusive")
    assert v.a == a and v.b == b  # every value kept, statistics on the paired seeds


def test_verdict_less_direction_counts_b_minus_a_as_positive():
    a = {0: 0.40, 1: 0.42, 2: 0.41}  # composite MSE: lower is better
    b = {0: 0.50, 1: 0.55, 2: 0.52}
    v = verdict(BEATS, a, b)
    assert v.verdict == "holds" and v.mean_diff == pytest.approx(np.mean([0.10, 0.13, 0.11])) and v.effect_size > 0
    assert verdict(BEATS, b, a).verdict == "contradicted"


def test_verdict_close_needs_the_whole_interval_inside_or_outside_the_margin():
    base = {0: 1.0, 1: 1.0, 2: 1.0}
    assert verdict(SAME, {0: 1.01, 1: 0.99, 2: 1.0}, base).verdict == "holds"
    assert verdict(SAME, {0: 1.2, 1: 1.21, 2: 1.19}, base).verdict == "contradicted"
    assert verdict(SAME, {0: 0.8, 1: 1.2, 2: 1.0}, base).verdict == "inconclusive"
    assert verdict(SAME, {0: 0.8, 1: 0.81, 2: 0.79}, base).verdict == "contradicted"  # either way counts


def test_verdict_with_identical_differences_compares_the_mean_with_zero():
    b = {0: 1.0, 1: 2.0, 2: 3.0}
    up = verdict(HIGHER, {0: 2.0, 1: 3.0, 2: 4.0}, b)
    assert up.se == 0 and up.verdict == "holds" and up.effect_size == math.inf
    down = verdict(HIGHER, {0: 0.0, 1: 1.0, 2: 2.0}, b)
    assert down.verdict == "contradicted" and down.effect_size == -math.inf
    tie = verdict(HIGHER, dict(b), b)
    assert tie.verdict == "inconclusive" and math.isnan(tie.effect_size)
    assert verdict(SAME, {0: 1.0, 1: 2.0, 2: 3.0}, b).verdict == "holds"


def test_verdict_checks_its_inputs():
    with pytest.raises(TypeError, match="Claim"):
        verdict("prediction.x", {}, {})
    with pytest.raises(TypeError, match="seeds must be ints"):
        verdict(HIGHER, {"0": 1.0}, {})
    with pytest.raises(ValueError, match="finite"):
        verdict(HIGHER, {0: float("nan")}, {})


def test_claim_and_arm_validation():
    assert BEATS.topic == "prediction" and COMPOSITE.name == "composite" and Arm("r", "m").name == "r, m"
    with pytest.raises(ValueError, match="<topic>.<slug>"):
        Claim("noslug", "q?", "s", COMPOSITE, FUTURE, "less")
    with pytest.raises(ValueError, match="<topic>.<slug>"):
        Claim("a/b.c", "q?", "s", COMPOSITE, FUTURE, "less")
    with pytest.raises(ValueError, match="direction must be one of"):
        Claim("t.x", "q?", "s", COMPOSITE, FUTURE, "better")
    with pytest.raises(ValueError, match="margin > 0"):
        Claim("t.x", "q?", "s", COMPOSITE, FUTURE, "close")
    with pytest.raises(ValueError, match="only for 'close'"):
        Claim("t.x", "q?", "s", COMPOSITE, FUTURE, "less", margin=0.1)
    with pytest.raises(TypeError, match="must be an Arm"):
        Claim("t.x", "q?", "s", ("run", "metric"), FUTURE, "less")
    with pytest.raises(TypeError, match="question must be a non-empty str"):
        Claim("t.x", "", "s", COMPOSITE, FUTURE, "less")
    with pytest.raises(TypeError, match="Arm.metric"):
        Arm("run", "")


# ------------------------------------------------------------------------------------------------ records
def entry(run: str = "LSTM composite", seed: int = 0, mse: float = 0.4, **kw) -> dict:
    e = {"run": run, "seed": seed, "config": {"lr": 1e-3}, "steps": 2000, "wall_s": 12.5,
         "metrics": {"future_mse": mse}, "commit": "abc1234", "date": "2025-03-01T10:00:00", "torch": "2.13.0",
         "cores": 16}
    return {**e, **kw}


def record(*entries: dict, topic: str = "prediction", profile: str = "laptop") -> dict:
    return {"schema": SCHEMA, "topic": topic, "profile": profile,
            "runs": {run_key(e["run"], e["seed"]): e for e in entries}}


def test_validate_record_accepts_a_good_record_and_names_what_is_wrong():
    good = record(entry(), entry(seed=1))
    assert validate_record(good) is good and run_key("LSTM composite", 1) == "LSTM composite/seed1"
    cases = [({**good, "schema": 2}, "'schema' must be 1"),
             ({k: v for k, v in good.items() if k != "profile"}, "'profile' must be a non-empty str"),
             ({**good, "runs": {"LSTM composite/seed0": entry(seed="0")}}, "'seed' must be an int"),
             (record({k: v for k, v in entry().items() if k != "steps"}), r"missing field\(s\) \['steps'\]"),
             (record(entry(metrics={"future_mse": float("inf")})), "'metrics' must be a non-empty dict"),
             (record(entry(metrics={"future_mse": "0.4"})), "'metrics' must be"),
             (record(entry(date="yesterday")), "ISO 8601"),
             (record(entry(cores=True)), "'cores' must be an int >= 1"),
             ({**good, "runs": {"LSTM composite/seed5": entry()}}, "key must be 'LSTM composite/seed0'"),
             ([good], "must be a dict")]
    for bad, message in cases:
        with pytest.raises(ValueError, match=message) as info:
            validate_record(bad, where="prediction.json")
        assert "prediction.json" in str(info.value)


def test_record_run_creates_adds_replaces_and_refuses_other_topics(tmp_path):
    path = record_path("prediction", tmp_path)
    assert path == tmp_path / "prediction.json" and load_record(path) is None
    first = record_run(path, "prediction", "laptop", entry())
    assert load_record(path) == first and list(first["runs"]) == ["LSTM composite/seed0"]
    record_run(path, "prediction", "laptop", entry(seed=1))
    after = record_run(path, "prediction", "laptop", entry(seed=0, mse=0.3))  # replaces seed 0
    assert sorted(after["runs"]) == ["LSTM composite/seed0", "LSTM composite/seed1"]
    assert load_record(path)["runs"]["LSTM composite/seed0"]["metrics"]["future_mse"] == 0.3
    assert json.loads(path.read_text()) == after
    before = path.read_bytes()
    with pytest.raises(ValueError, match="topic 'prediction', not 'actions'"):
        record_run(path, "actions", "laptop", entry())
    with pytest.raises(ValueError, match="profile 'laptop', not 'smoke'"):
        record_run(path, "prediction", "smoke", entry())
    with pytest.raises(ValueError, match="'wall_s' must be a finite number"):
        record_run(path, "prediction", "laptop", entry(seed=2, wall_s=float("nan")))
    assert path.read_bytes() == before  # nothing half-written
    assert sorted(p.name for p in tmp_path.iterdir()) == ["prediction.json"]  # no temp file left


def test_load_record_names_a_broken_file(tmp_path):
    path = tmp_path / "prediction.json"
    path.write_text("{not json")
    with pytest.raises(ValueError, match="prediction.json"):
        load_record(path)
    with pytest.raises(ValueError, match="prediction.json"):
        record_run(path, "prediction", "laptop", entry())
    assert path.read_text() == "{not json"


def test_results_dir_is_docs_results_of_the_checkout():
    assert results_dir().parts[-2:] == ("docs", "results") and (results_dir().parents[1] / "vidkit").is_dir()
    with pytest.raises(ValueError, match="topic"):
        record_path("../escape")


# ------------------------------------------------------------------------------------------------ rendering
def recorded() -> dict:
    comp, fut = [0.40, 0.42, 0.41], [0.50, 0.55, 0.52]
    return record(*(entry("LSTM composite", s, v, commit=f"c{s}", date=f"2025-03-0{s + 1}") for s, v in
                     enumerate(comp)),
                  *(entry("LSTM future", s, v, commit=f"c{s}", date=f"2025-03-0{s + 1}") for s, v in enumerate(fut)))


def test_arm_values_and_evaluate_claims():
    rec = recorded()
    assert arm_values(rec, COMPOSITE) == {0: 0.40, 1: 0.42, 2: 0.41} and arm_values(None, COMPOSITE) == {}
    assert arm_values(rec, Arm("LSTM composite", "ssim")) == {}
    verdicts = evaluate_claims([BEATS, SAME], {"prediction": rec})
    assert [v.verdict for v in verdicts] == ["holds", "contradicted"] and verdicts[0].profile == "laptop"
    with pytest.raises(ValueError, match="unique"):
        evaluate_claims([BEATS, BEATS], {"prediction": rec})
    with pytest.raises(ValueError, match="record of topic 'other'"):
        evaluate_claims([BEATS], {"prediction": {**rec, "topic": "other"}})


def test_claims_markdown_is_deterministic_with_one_row_per_claim():
    other = Claim("actions.x", "Does x help?", "Someone 2020", Arm("x", "acc"), Arm("y", "acc"), "greater")
    claims, records = [BEATS, SAME, other], {"prediction": recorded(), "actions": None}
    text = claims_markdown(claims, records)
    assert text == claims_markdown(claims, dict(reversed(records.items())))
    assert "docs/results/*.json" in text and "do not edit by hand" in text
    assert text.index("## actions") < text.index("## prediction")
    row = next(line for line in text.splitlines() if line.startswith("| Does the composite"))
    assert "| Srivastava et al. 2015, Table 1 | composite < future only | future_mse |" in row
    assert "| 0.41 ± 0.01 | 0.523 ± 0.0252 | 2000 | 3 | holds (effect size" in row
    assert "composite ≈ future only (±0.05)" in text and "contradicted" in text
    assert "| Does x help? |" in text and "too few seeds (0 of 3 seeds)" in text
    assert "No runs recorded yet: run `vidkit reproduce actions`." in text
    assert "Profile `laptop`; 6 runs: commits c0 (2025-03-01) to c2 (2025-03-03), 3 distinct; torch 2.13.0; 16 cores." \
        in text


def test_claims_markdown_shows_a_steps_range():
    rec = recorded()
    rec["runs"]["LSTM future/seed1"]["steps"] = 1800
    row = next(line for line in claims_markdown([BEATS], {"prediction": rec}).splitlines() if "Srivastava" in line)
    assert "| 1800-2000 |" in row


def test_claims_frame_with_and_without_this_run():
    frame = claims_frame([BEATS, SAME], {"prediction": recorded()})
    assert list(frame.index) == [BEATS.id, SAME.id] and "this run" not in frame.columns
    assert frame.loc[BEATS.id, "a recorded"] == "0.41 ± 0.01" and frame.loc[BEATS.id, "seeds"] == 3
    this = {"LSTM composite": {"future_mse": 0.45}, "LSTM future": {"future_mse": 0.44}}
    frame = claims_frame([BEATS, SAME], {"prediction": recorded()}, this_run=this)
    assert frame.loc[BEATS.id, "a this run"] == 0.45 and frame.loc[BEATS.id, "this run"] == "does not hold"
    assert frame.loc[SAME.id, "this run"] == "holds"
    assert claims_frame([BEATS], {}, this_run={}).loc[BEATS.id, "this run"] == "–"


def test_plot_claims_draws_one_panel_per_claim():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    this = {"LSTM composite": {"future_mse": 0.45}, "LSTM future": {"future_mse": 0.44}}
    fig = plot_claims([BEATS, SAME, HIGHER, Claim("other.y", "q?", "s", Arm("p", "m"), Arm("q", "m"), "less")],
                      {"prediction": recorded()}, this_run=this)
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert len(visible) == 4
    ax = visible[0]
    assert "holds" in ax.get_title() and ax.get_ylabel() == "future_mse"
    assert [t.get_text() for t in ax.get_xticklabels()] == ["composite", "future only"]
    assert len(ax.lines) >= 3 and "this run" in ax.get_legend_handles_labels()[1]
    plt.close(fig)
    fig, axes = plt.subplots(1, 2)
    assert plot_claims([BEATS, SAME], {"prediction": recorded()}, axes=axes) is fig
    with pytest.raises(ValueError, match="one Axes per claim"):
        plot_claims([BEATS, SAME], {"prediction": recorded()}, axes=axes[:1])
    plt.close(fig)


def test_report_claim_prints_the_recorded_verdict(capsys):
    from vidkit.eval.report import claim

    holds = evaluate_claims([BEATS], {"prediction": recorded()})[0]
    claim("composite MSE < future MSE", True, recorded=holds)
    claim("composite MSE < future MSE", True, recorded=evaluate_claims([BEATS], {"prediction": None})[0])
    claim("plain", False)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "HOLDS        composite MSE < future MSE"
    assert lines[1].startswith("   recorded (3 seeds, laptop profile): HOLDS  composite 0.41 ± 0.01 vs future only "
                               "0.523 ± 0.0252, effect size ")
    assert lines[3] == "   no recorded result yet: run `vidkit reproduce prediction.composite_beats_future`"
    assert lines[4] == "DOES NOT HOLD  plain" and len(lines) == 5
    with pytest.raises(TypeError, match="Verdict"):
        claim("x", True, recorded="holds")


def test_runs_frame_is_mean_and_std_per_run():
    from vidkit.eval.claims import runs_frame

    record = {"schema": 1, "topic": "t", "profile": "smoke", "runs": {}}
    for run, values in {"a": [1.0, 3.0], "b": [5.0]}.items():
        for seed, v in enumerate(values):
            record["runs"][f"{run}/seed{seed}"] = {"run": run, "seed": seed, "config": {}, "steps": 1, "wall_s": 1.0,
                                                   "metrics": {"m": v}, "commit": "x", "date": "2026-11-30",
                                                   "torch": "2", "cores": 2}
    frame = runs_frame(record, ["b", "a", "c"], ["m"])
    assert list(frame.index) == ["b", "a", "c"]
    assert frame.loc["a", "m"] == "2 ± 1.41" and frame.loc["b", "m"] == "5" and frame.loc["c", "m"] == "–"
    assert list(frame["seeds"]) == [1, 2, 0]


def test_plot_run_curves_draws_the_mean_and_std_of_each_recorded_run():
    import matplotlib

    matplotlib.use("Agg")
    from vidkit.eval.claims import plot_run_curves

    record = {"schema": 1, "topic": "t", "profile": "smoke", "runs": {}}
    for run, rows in {"a": [(0.5, 0.7), (0.7, 0.9)], "b": [(0.2, 0.4)]}.items():
        for seed, (lo, hi) in enumerate(rows):
            record["runs"][f"{run}/seed{seed}"] = {"run": run, "seed": seed, "config": {}, "steps": 1, "wall_s": 1.0,
                                                   "metrics": {"m1": lo, "m2": hi}, "commit": "x",
                                                   "date": "2026-11-30", "torch": "2", "cores": 2}
    fig = plot_run_curves(record, ["a", "b", "c"], ["m1", "m2"], [1, 10], log_x=True)
    ax = fig.axes[0]
    curves = {c.get_label(): c for c in ax.containers}   # one errorbar container per recorded run
    assert set(curves) == {"a (2 seeds)", "b (1 seed)"}
    assert list(curves["a (2 seeds)"].lines[0].get_ydata()) == pytest.approx([0.6, 0.8])
    assert list(curves["a (2 seeds)"].lines[0].get_xdata()) == [1, 10]
    assert "not recorded: c" in ax.get_legend().get_title().get_text()
    with pytest.raises(ValueError, match="one x per metric"):
        plot_run_curves(record, ["a"], ["m1"], [1, 10])
