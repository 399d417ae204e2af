"""Claims of papers as data, their verdicts over seeds, the records they are judged on, and their rendering.

A :class:`Claim` compares two arms (a run of a topic and one of its metrics each), e.g. Srivastava et al.
2015: "the composite LSTM beats the future-only LSTM on future MSE". ``vidkit reproduce`` trains the runs
of a topic over several seeds at equal steps and records each run with :func:`record_run` in
``docs/results/<topic>.json``; :func:`verdict` judges a claim on the recorded seeds, and
:func:`claims_markdown` (``docs/claims.md``), :func:`claims_frame` and :func:`plot_claims` (notebooks)
show the verdicts.

    records = load_records(CLAIMS)                 # {topic: record or None}, from docs/results/
    evaluate_claims(CLAIMS, records)               # [Verdict, ...]
    claims_frame(CLAIMS, records, this_run={"LSTM composite": {"future_mse": 0.41}, ...})
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from numbers import Integral, Real
from pathlib import Path
from typing import Any, Literal

import numpy as np

from vidkit.utils.fileio import write_json_atomic

__all__ = ["Direction", "Arm", "Claim", "Verdict", "verdict", "SCHEMA", "run_key", "validate_record",
           "load_record", "load_records", "record_run", "arm_values", "evaluate_claims", "claims_markdown",
           "claims_frame", "runs_frame", "plot_run_curves", "plot_claims", "results_dir", "record_path", "MIN_SEEDS"]

Direction = Literal["greater", "less", "close"]
DIRECTIONS: tuple[str, ...] = ("greater", "less", "close")
#: Fewest paired seeds on which a verdict other than "too few seeds" is given.
MIN_SEEDS = 3
#: Version of the record format written by :func:`record_run`.
SCHEMA = 1
_TOPIC = re.compile(r"[A-Za-z0-9_-]+")  # a topic names a file: docs/results/<topic>.json
_SYMBOL = {"greater": ">", "less": "<", "close": "≈"}


def _text(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise TypeError(f"{what} must be a non-empty str, got {value!r}")
    return value


@dataclass(frozen=True)
class Arm:
    """One side of a claim: the metric ``metric`` of the run ``run`` (runs are shared between a topic's claims)."""

    run: str
    metric: str
    label: str = ""

    def __post_init__(self) -> None:
        _text(self.run, "Arm.run")
        _text(self.metric, "Arm.metric")
        if not isinstance(self.label, str):
            raise TypeError(f"Arm.label must be a str, got {type(self.label).__name__}")

    @property
    def name(self) -> str:
        """The table name: ``label``, or ``"<run>, <metric>"`` when no label is given."""
        return self.label or f"{self.run}, {self.metric}"


@dataclass(frozen=True)
class Claim:
    """A paper's claim about two arms: ``a > b`` (``"greater"``), ``a < b`` (``"less"``) or
    ``|a - b| < margin`` (``"close"``), the arms trained with ``held_equal`` equal (default: steps)."""

    id: str
    question: str
    source: str
    a: Arm
    b: Arm
    direction: Direction
    margin: float = 0.0
    held_equal: str = "steps"

    def __post_init__(self) -> None:
        topic, dot, slug = _text(self.id, "Claim.id").partition(".")
        if not dot or not slug or not _TOPIC.fullmatch(topic):
            raise ValueError(f"Claim.id must be '<topic>.<slug>' with a topic of letters, digits, '_' or '-' "
                             f"(it names docs/results/<topic>.json), got {self.id!r}")
        _text(self.question, f"Claim {self.id}: question")
        _text(self.source, f"Claim {self.id}: source")
        _text(self.held_equal, f"Claim {self.id}: held_equal")
        for side in ("a", "b"):
            if not isinstance(getattr(self, side), Arm):
                raise TypeError(f"Claim {self.id}: {side} must be an Arm, got {type(getattr(self, side)).__name__}")
        if self.direction not in DIRECTIONS:
            raise ValueError(f"Claim {self.id}: direction must be one of {DIRECTIONS}, got {self.direction!r}")
        if isinstance(self.margin, bool) or not isinstance(self.margin, Real) or not math.isfinite(self.margin):
            raise TypeError(f"Claim {self.id}: margin must be a finite number, got {self.margin!r}")
        if self.direction == "close" and not self.margin > 0:
            raise ValueError(f"Claim {self.id}: a 'close' claim needs margin > 0, got {self.margin!r}")
        if self.direction != "close" and self.margin != 0:
            raise ValueError(f"Claim {self.id}: margin is only for 'close' claims; got margin={self.margin!r} "
                             f"with direction {self.direction!r}")

    @property
    def topic(self) -> str:
        """The part of ``id`` before the first ``"."``: the record file ``docs/results/<topic>.json``."""
        return self.id.split(".", 1)[0]

    @property
    def comparison(self) -> str:
        """``"A > B"``, ``"A < B"`` or ``"A ≈ B (±margin)"`` with the arms' names."""
        text = f"{self.a.name} {_SYMBOL[self.direction]} {self.b.name}"
        return text + (f" (±{_num(self.margin)})" if self.direction == "close" else "")


def _num(x: float) -> str:
    """3 significant digits (``inf``/``nan`` as such)."""
    return f"{x:.3g}"


def _mean_std(values: Sequence[float]) -> str:
    """``"mean ± std"`` (std with ddof=1), ``"mean"`` for one value, ``"–"`` for none."""
    if not values:
        return "–"
    if len(values) == 1:
        return _num(values[0])
    return f"{_num(float(np.mean(values)))} ± {_num(float(np.std(values, ddof=1)))}"


@dataclass(frozen=True)
class Verdict:
    """A claim judged on recorded seeds (see :func:`verdict` for the rule). ``a``/``b``: every seed's value of
    each arm as given; the statistics use the ``n`` seeds present in both. ``profile``: the profile of the
    record the values came from (``None`` for values given by hand)."""

    claim: Claim
    a: dict[int, float]
    b: dict[int, float]
    n: int
    mean_diff: float
    se: float
    effect_size: float
    verdict: str
    profile: str | None = None

    @property
    def seeds(self) -> list[int]:
        """The paired seeds, sorted."""
        return sorted(set(self.a) & set(self.b))

    @property
    def holds(self) -> bool:
        return self.verdict == "holds"

    def a_values(self) -> list[float]:
        return [self.a[s] for s in self.seeds]

    def b_values(self) -> list[float]:
        return [self.b[s] for s in self.seeds]

    def summary(self) -> str:
        """One line: ``"HOLDS  A 0.92 ± 0.01 vs B 0.76 ± 0.05, effect size 3.1"`` (paired seeds)."""
        text = (f"{self.verdict.upper()}  {self.claim.a.name} {_mean_std(self.a_values())} vs "
                f"{self.claim.b.name} {_mean_std(self.b_values())}")
        return text + (f", effect size {_num(self.effect_size)}" if not math.isnan(self.effect_size) else "")


def _values(values: Any, what: str) -> dict[int, float]:
    if not isinstance(values, Mapping):
        raise TypeError(f"{what} must be a mapping {{seed (int): value (float)}}, got {type(values).__name__}")
    out = {}
    for seed, v in values.items():
        if isinstance(seed, bool) or not isinstance(seed, Integral):
            raise TypeError(f"{what}: seeds must be ints, got {seed!r}")
        if isinstance(v, bool) or not isinstance(v, Real) or not math.isfinite(v):
            raise ValueError(f"{what}[{seed}] must be a finite number, got {v!r}")
        out[int(seed)] = float(v)
    return out


def verdict(claim: Claim, a: Mapping[int, float], b: Mapping[int, float], profile: str | None = None) -> Verdict:
    """Judge ``claim`` on the per-seed values ``a`` and ``b`` of its arms, paired by seed (unpaired seeds are
    ignored). With ``d_s = a_s - b_s`` (``"less"``: ``b_s - a_s``, so positive = the claimed direction) over
    the ``n`` paired seeds::

        mean = mean(d),  sd = std(d, ddof=1),  se = sd / sqrt(n),  effect_size = mean / sd

        n < 3 (MIN_SEEDS)           -> "too few seeds"
        greater / less:  mean >  2 se -> "holds";  mean < -2 se -> "contradicted";  else "inconclusive"
        close:  |mean| + 2 se < margin -> "holds";  |mean| - 2 se > margin -> "contradicted";  else "inconclusive"

    ``se = 0`` (identical differences) thus compares ``mean`` with 0 (or ``|mean|`` with ``margin``).
    ``se`` and ``effect_size`` are NaN for ``n < 2``; ``effect_size`` is ``±inf`` when ``sd = 0 != mean``,
    NaN when both are 0; ``mean_diff`` is NaN for ``n = 0``.
    """
    if not isinstance(claim, Claim):
        raise TypeError(f"claim must be a Claim, got {type(claim).__name__}")
    a, b = _values(a, f"{claim.id}: a"), _values(b, f"{claim.id}: b")
    seeds = sorted(set(a) & set(b))
    d = np.array([a[s] - b[s] for s in seeds], dtype=np.float64)
    if claim.direction == "less":
        d = -d
    n = len(d)
    mean = float(d.mean()) if n else math.nan
    sd = float(d.std(ddof=1)) if n >= 2 else math.nan
    se = sd / math.sqrt(n) if n >= 2 else math.nan
    if n < 2 or (sd == 0 and mean == 0):
        effect = math.nan
    elif sd == 0:
        effect = math.copysign(math.inf, mean)
    else:
        effect = mean / sd
    if n < MIN_SEEDS:
        word = "too few seeds"
    elif claim.direction == "close":
        word = ("holds" if abs(mean) + 2 * se < claim.margin
                else "contradicted" if abs(mean) - 2 * se > claim.margin else "inconclusive")
    else:
        word = "holds" if mean > 2 * se else "contradicted" if mean < -2 * se else "inconclusive"
    return Verdict(claim, a, b, n, mean, se, effect, word, profile)


# ------------------------------------------------------------------------------------------------ records
#: Fields of a recorded run: name -> (expected types, description for messages).
_ENTRY_FIELDS: dict[str, str] = {"run": "a non-empty str", "seed": "an int >= 0", "config": "a dict",
                                 "steps": "an int >= 0", "wall_s": "a finite number >= 0",
                                 "metrics": "a non-empty dict {str: finite number}", "commit": "a non-empty str",
                                 "date": "an ISO 8601 date str", "torch": "a non-empty str", "cores": "an int >= 1"}


def run_key(run: str, seed: int) -> str:
    """The key of a recorded run: ``"<run>/seed<k>"``."""
    _text(run, "run")
    if isinstance(seed, bool) or not isinstance(seed, Integral) or seed < 0:
        raise TypeError(f"seed must be an int >= 0, got {seed!r}")
    return f"{run}/seed{int(seed)}"


def _is_int(v: Any, low: int) -> bool:
    return isinstance(v, Integral) and not isinstance(v, bool) and v >= low


def _is_finite(v: Any) -> bool:
    return isinstance(v, Real) and not isinstance(v, bool) and math.isfinite(v)


def _is_date(v: Any) -> bool:
    try:
        datetime.fromisoformat(v)
    except (TypeError, ValueError):
        return False
    return True


def _entry_ok(name: str, v: Any) -> bool:
    if name in ("run", "commit", "torch"):
        return isinstance(v, str) and bool(v.strip())
    if name in ("seed", "steps"):
        return _is_int(v, 0)
    if name == "cores":
        return _is_int(v, 1)
    if name == "wall_s":
        return _is_finite(v) and v >= 0
    if name == "config":
        return isinstance(v, Mapping)
    if name == "metrics":
        return (isinstance(v, Mapping) and bool(v)
                and all(isinstance(k, str) and _is_finite(x) for k, x in v.items()))
    return _is_date(v)  # date


def _check_entry(entry: Any, where: str) -> None:
    if not isinstance(entry, Mapping):
        raise ValueError(f"{where} must be a dict with keys {sorted(_ENTRY_FIELDS)}, got {type(entry).__name__}")
    missing = sorted(set(_ENTRY_FIELDS) - set(entry))
    if missing:
        raise ValueError(f"{where}: missing field(s) {missing} (a run records {sorted(_ENTRY_FIELDS)})")
    for name, expected in _ENTRY_FIELDS.items():
        if not _entry_ok(name, entry[name]):
            raise ValueError(f"{where}: {name!r} must be {expected}, got {entry[name]!r}")


def validate_record(obj: Any, where: str = "record") -> dict:
    """Check a topic's record and return it::

        {"schema": 1, "topic": str, "profile": str,
         "runs": {"<run>/seed<k>": {"run", "seed", "config", "steps", "wall_s", "metrics", "commit", "date",
                                    "torch", "cores"}}}

    Extra keys are kept. Raises ``ValueError`` naming ``where``, the bad field and what it must be."""
    if not isinstance(obj, dict):
        raise ValueError(f"{where} must be a dict (a JSON object), got {type(obj).__name__}")
    if obj.get("schema") != SCHEMA or isinstance(obj.get("schema"), bool):
        raise ValueError(f"{where}: 'schema' must be {SCHEMA}, got {obj.get('schema')!r}")
    for name in ("topic", "profile"):
        if not isinstance(obj.get(name), str) or not obj[name].strip():
            raise ValueError(f"{where}: {name!r} must be a non-empty str, got {obj.get(name)!r}")
    if not _TOPIC.fullmatch(obj["topic"]):
        raise ValueError(f"{where}: 'topic' must be letters, digits, '_' or '-', got {obj['topic']!r}")
    runs = obj.get("runs")
    if not isinstance(runs, dict):
        raise ValueError(f"{where}: 'runs' must be a dict {{'<run>/seed<k>': run}}, got {runs!r}")
    for key, entry in runs.items():
        _check_entry(entry, f"{where}: runs[{key!r}]")
        if key != run_key(entry["run"], entry["seed"]):
            raise ValueError(f"{where}: runs[{key!r}] records run {entry['run']!r}, seed {entry['seed']}: "
                             f"its key must be {run_key(entry['run'], entry['seed'])!r}")
    return obj


def results_dir() -> Path:
    """``<repository root>/docs/results``, where ``vidkit reproduce`` records each topic's runs."""
    from vidkit.profiles import _REPO_ROOT

    return _REPO_ROOT / "docs" / "results"


def record_path(topic: str, root: str | os.PathLike | None = None) -> Path:
    """``(root or results_dir()) / f"{topic}.json"``."""
    if not isinstance(topic, str) or not _TOPIC.fullmatch(topic):
        raise ValueError(f"topic must be a str of letters, digits, '_' or '-', got {topic!r}")
    return Path(root if root is not None else results_dir()) / f"{topic}.json"


def load_record(path: str | os.PathLike) -> dict | None:
    """The validated record at ``path``; ``None`` if there is no such file. A file that is not valid JSON or
    not a valid record raises ``ValueError`` naming it."""
    path = Path(path)
    if not path.is_file():
        return None
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"{path}: not a JSON record of claims' runs ({e})") from e
    return validate_record(obj, where=str(path))


def load_records(claims: Sequence[Claim], root: str | os.PathLike | None = None) -> dict[str, dict | None]:
    """``{topic: load_record(record_path(topic, root))}`` for every topic of ``claims``."""
    return {topic: load_record(record_path(topic, root)) for topic in sorted({c.topic for c in claims})}


def record_run(path: str | os.PathLike, topic: str, profile: str, entry: Mapping) -> dict:
    """Add (or replace) one run under ``run_key(entry["run"], entry["seed"])`` in the record at ``path``,
    creating it if missing, and write it atomically; returns the new record. ``entry`` is validated first
    (fields: see :func:`validate_record`), and a file of another ``topic`` or ``profile`` is refused
    (``ValueError``): on any error the file is left as it was."""
    path = Path(path)
    if not isinstance(topic, str) or not _TOPIC.fullmatch(topic):
        raise ValueError(f"topic must be a str of letters, digits, '_' or '-', got {topic!r}")
    _text(profile, "profile")
    _check_entry(entry, f"{path}: new run")
    entry = json.loads(json.dumps(dict(entry), default=str))  # what the file will hold (a copy)
    record = load_record(path)
    if record is None:
        record = {"schema": SCHEMA, "topic": topic, "profile": profile, "runs": {}}
    for name, value in (("topic", topic), ("profile", profile)):
        if record[name] != value:
            raise ValueError(f"{path} records {name} {record[name]!r}, not {value!r}: runs of another "
                             f"{name} go to another file")
    record = {**record, "runs": {**record["runs"], run_key(entry["run"], entry["seed"]): entry}}
    validate_record(record, where=str(path))
    write_json_atomic(record, path)
    return record


def arm_values(record: Mapping | None, arm: Arm) -> dict[int, float]:
    """``{seed: metrics[arm.metric]}`` of every recorded run of ``arm.run`` that has that metric; ``{}`` if
    ``record`` is ``None`` or holds none."""
    if record is None:
        return {}
    return {int(e["seed"]): float(e["metrics"][arm.metric]) for _, e in sorted(record["runs"].items())
            if e["run"] == arm.run and arm.metric in e["metrics"]}


def _record_for(claim: Claim, records: Mapping[str, Mapping | None]) -> Mapping | None:
    if not isinstance(records, Mapping):
        raise TypeError(f"records must be a mapping {{topic: record or None}}, got {type(records).__name__}")
    record = records.get(claim.topic)
    if record is not None and record.get("topic") != claim.topic:
        raise ValueError(f"records[{claim.topic!r}] is the record of topic {record.get('topic')!r}")
    return record


def _check_claims(claims: Any) -> Sequence[Claim]:
    if isinstance(claims, Claim) or not isinstance(claims, Sequence):
        raise TypeError(f"claims must be a sequence of Claim, got {type(claims).__name__}")
    for c in claims:
        if not isinstance(c, Claim):
            raise TypeError(f"claims must be Claim objects, got {c!r}")
    ids = [c.id for c in claims]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise ValueError(f"claim ids must be unique, got {dupes} more than once")
    return claims


def evaluate_claims(claims: Sequence[Claim], records: Mapping[str, Mapping | None]) -> list[Verdict]:
    """:func:`verdict` of each claim on the record of its topic (``records``: ``{topic: record or None}``)."""
    out = []
    for c in _check_claims(claims):
        record = _record_for(c, records)
        out.append(verdict(c, arm_values(record, c.a), arm_values(record, c.b),
                           profile=record["profile"] if record is not None else None))
    return out


# ------------------------------------------------------------------------------------------------ rendering
def _verdict_text(v: Verdict) -> str:
    if v.verdict == "too few seeds" or math.isnan(v.effect_size):
        return f"{v.verdict} ({v.n} of {MIN_SEEDS} seeds)" if v.verdict == "too few seeds" else v.verdict
    return f"{v.verdict} (effect size {_num(v.effect_size)})"


def _runs_used(v: Verdict, record: Mapping | None) -> list[Mapping]:
    if record is None:
        return []
    seeds = set(v.seeds)
    return [e for _, e in sorted(record["runs"].items())
            if e["seed"] in seeds and e["run"] in (v.claim.a.run, v.claim.b.run)]


def _span(values: Sequence[int]) -> str:
    if not values:
        return "–"
    lo, hi = min(values), max(values)
    return str(lo) if lo == hi else f"{lo}-{hi}"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _provenance(profile: str, runs: Sequence[Mapping]) -> str:
    """``Profile `laptop`; 6 runs: commits abc (2025-01-02) to def (2025-01-05); torch 2.13.0; 16 cores.``"""
    if not runs:
        return f"Profile `{profile}`; no runs of these claims recorded yet."
    by_date = sorted(runs, key=lambda e: (e["date"], e["commit"]))
    first, last = by_date[0], by_date[-1]
    commits = sorted({e["commit"] for e in runs})
    when = (f"commit {first['commit']} ({first['date']})" if len(commits) == 1 and first["date"] == last["date"]
            else f"commits {first['commit']} ({first['date']}) to {last['commit']} ({last['date']}), "
                 f"{len(commits)} distinct")
    torch = ", ".join(sorted({e["torch"] for e in runs}))
    return (f"Profile `{profile}`; {len(runs)} runs: {when}; torch {torch}; "
            f"{_span([e['cores'] for e in runs])} cores.")


def claims_markdown(claims: Sequence[Claim], records: Mapping[str, Mapping | None]) -> str:
    """The whole ``docs/claims.md``: a title, a note that ``vidkit reproduce`` generates it, then per topic
    (sorted) a table, one row per claim (in the given order): question | source | arms | metric | a and b as
    mean ± std (ddof=1) over the paired seeds | steps | seeds | verdict (effect size), and under it the
    profile and the commits, dates, torch versions and cores of the runs used. Deterministic: no timestamps
    of its own; numbers with 3 significant digits."""
    claims = _check_claims(claims)
    verdicts = evaluate_claims(claims, records)
    lines = ["# Claims of the papers, checked", "",
             "Generated by `vidkit reproduce` from the recorded runs in `docs/results/*.json`; do not edit by "
             f"hand. A claim holds when its mean paired difference over at least {MIN_SEEDS} seeds exceeds two "
             "standard errors in the claimed direction (`vidkit.eval.claims.verdict`).", ""]
    for topic in sorted({c.topic for c in claims}):
        record = records.get(topic)
        lines += [f"## {topic}", "",
                  "| claim | source | arms | metric | a mean ± std | b mean ± std | steps | seeds | verdict |",
                  "|---|---|---|---|---|---|---|---|---|"]
        used: list[Mapping] = []
        for v in (v for v in verdicts if v.claim.topic == topic):
            c, runs = v.claim, _runs_used(v, record)
            used += [e for e in runs if e not in used]
            metric = c.a.metric if c.a.metric == c.b.metric else f"{c.a.metric} vs {c.b.metric}"
            steps = _span([e["steps"] for e in runs])
            if c.held_equal != "steps":
                steps += f" ({c.held_equal} equal)"
            cells = [c.question, c.source, c.comparison, metric, _mean_std(v.a_values()), _mean_std(v.b_values()),
                     steps, str(v.n), _verdict_text(v)]
            lines.append("| " + " | ".join(_cell(x) for x in cells) + " |")
        lines += ["", _provenance(record["profile"], used) if record is not None
                  else f"No runs recorded yet: run `vidkit reproduce {topic}`.", ""]
    return "\n".join(lines)


def _held_once(c: Claim, a: float, b: float) -> bool:
    """Whether one pair of values agrees with the claim: ``a > b``, ``a < b`` or ``|a - b| < margin``."""
    return a > b if c.direction == "greater" else a < b if c.direction == "less" else abs(a - b) < c.margin


def _this_run_values(c: Claim, this_run: Mapping[str, Mapping[str, float]] | None) -> tuple[float, float]:
    if this_run is None:
        return math.nan, math.nan
    if not isinstance(this_run, Mapping):
        raise TypeError(f"this_run must be a mapping {{run: {{metric: value}}}}, got {type(this_run).__name__}")
    a = this_run.get(c.a.run, {}).get(c.a.metric, math.nan)
    b = this_run.get(c.b.run, {}).get(c.b.metric, math.nan)
    return float(a), float(b)


def runs_frame(record: Mapping, runs: Sequence[str], metrics: Sequence[str]):
    """A ``pandas.DataFrame`` of a topic's record, one row per run of ``runs`` (in that order), one column per
    metric of ``metrics``: each run's ``mean ± std`` over its recorded seeds (``"–"`` where it has none), and
    ``seeds``. For ablation tables in notebooks."""
    import pandas as pd

    record = validate_record(record)
    rows = {}
    for run in runs:
        entries = [e for e in record["runs"].values() if e["run"] == run]
        rows[run] = {m: _mean_std([e["metrics"][m] for e in entries if m in e["metrics"]]) for m in metrics}
        rows[run]["seeds"] = len(entries)
    return pd.DataFrame.from_dict(rows, orient="index")


def plot_run_curves(record: Mapping, runs: Sequence[str], metrics: Sequence[str], xs: Sequence[float], *,
                    ax: Any = None, xlabel: str = "", ylabel: str = "", title: str = "", log_x: bool = False):
    """One line per run of ``runs`` through ``(xs[i], mean over the run's recorded seeds of metrics[i])``, with
    the std (ddof=1) as error bars: e.g. fine-tuning accuracy against the fraction of labels. Runs without a
    recorded seed are left out (named in the legend's title). Returns the figure."""
    import matplotlib.pyplot as plt

    record = validate_record(record)
    if len(xs) != len(metrics) or not metrics:
        raise ValueError(f"need one x per metric, got {len(xs)} xs for {len(metrics)} metrics")
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4.5), layout="constrained")
    missing = []
    for run in runs:
        entries = [e for e in record["runs"].values() if e["run"] == run]
        points = [(x, [e["metrics"][m] for e in entries if m in e["metrics"]]) for x, m in zip(xs, metrics)]
        points = [(x, v) for x, v in points if v]
        if not points:
            missing.append(run)
            continue
        mean = [float(np.mean(v)) for _, v in points]
        std = [float(np.std(v, ddof=1)) if len(v) > 1 else 0.0 for _, v in points]
        seeds = max(len(v) for _, v in points)
        ax.errorbar([x for x, _ in points], mean, yerr=std, marker="o", capsize=3,
                    label=f"{run} ({seeds} seed{'s' if seeds > 1 else ''})")
    if log_x:
        ax.set_xscale("log")
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, title=f"not recorded: {', '.join(missing)}" if missing else None, title_fontsize=8)
    return ax.figure


def claims_frame(claims: Sequence[Claim], records: Mapping[str, Mapping | None],
                 this_run: Mapping[str, Mapping[str, float]] | None = None):
    """A ``pandas.DataFrame`` for notebooks, indexed by claim id: question, the arms, each arm's recorded
    ``mean ± std`` over the paired seeds, seeds, verdict; with ``this_run`` (``{run: {metric: value}}``) also
    the values this run measured (``a this run``, ``b this run``; NaN if absent) and whether the claim held
    on them (``this run``: ``"holds"`` / ``"does not hold"`` / ``"–"``)."""
    import pandas as pd

    rows = {}
    for v in evaluate_claims(claims, records):
        c = v.claim
        row = {"question": c.question, "arms": c.comparison, "a recorded": _mean_std(v.a_values()),
               "b recorded": _mean_std(v.b_values()), "seeds": v.n, "verdict": _verdict_text(v)}
        if this_run is not None:
            a, b = _this_run_values(c, this_run)
            row["a this run"], row["b this run"] = a, b
            row["this run"] = ("–" if math.isnan(a) or math.isnan(b)
                               else "holds" if _held_once(c, a, b) else "does not hold")
        rows[c.id] = row
    return pd.DataFrame.from_dict(rows, orient="index")


def plot_claims(claims: Sequence[Claim], records: Mapping[str, Mapping | None],
                this_run: Mapping[str, Mapping[str, float]] | None = None, axes: Any = None):
    """One panel per claim: each recorded seed's value of arm a and arm b as points (paired seeds joined by
    thin lines), mean ± std (ddof=1) as an error bar beside them, this run's values as red stars; title: the
    question, shortened, and the verdict. ``axes``: one matplotlib Axes per claim (default: a new figure,
    3 panels a row). Returns the figure."""
    import textwrap

    import matplotlib.pyplot as plt

    verdicts = evaluate_claims(claims, records)
    if axes is None:
        cols = min(3, max(1, len(verdicts)))
        rows = max(1, math.ceil(len(verdicts) / cols))
        fig, grid = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.6 * rows), layout="constrained", squeeze=False)
        axes = list(grid.flat)
        for ax in axes[len(verdicts):]:
            ax.set_visible(False)
    else:
        axes = list(np.ravel(axes))
        if len(axes) < len(verdicts):
            raise ValueError(f"axes: one Axes per claim needed ({len(verdicts)}), got {len(axes)}")
    for v, ax in zip(verdicts, axes, strict=False):
        c = v.claim
        for s in v.seeds:
            ax.plot([0, 1], [v.a[s], v.b[s]], color="#999999", linewidth=0.8, zorder=1)
        for x, values, color in ((0, v.a, "#1f77b4"), (1, v.b, "#ff7f0e")):
            ax.scatter([x] * len(values), list(values.values()), color=color, s=22, zorder=2,
                       label="recorded seeds" if x == 0 and values else None)
        for x, values in ((-0.15, v.a_values()), (1.15, v.b_values())):
            if values:
                std = float(np.std(values, ddof=1)) if len(values) > 1 else 0.0
                ax.errorbar([x], [float(np.mean(values))], yerr=[std], fmt="s", color="black", capsize=4,
                            markersize=5, zorder=3, label="mean ± std" if x < 0 else None)
        a, b = _this_run_values(c, this_run)
        if not (math.isnan(a) and math.isnan(b)):
            ax.scatter([0, 1], [a, b], marker="*", s=140, color="#d62728", zorder=4, label="this run")
        if not v.a and not v.b and math.isnan(a) and math.isnan(b):
            ax.text(0.5, 0.5, "no recorded runs", ha="center", va="center", transform=ax.transAxes, color="#666666")
            ax.set_yticks([])
        ax.set_xlim(-0.5, 1.5)
        ax.set_xticks([0, 1], [textwrap.fill(c.a.name, 20), textwrap.fill(c.b.name, 20)], fontsize=8)
        ax.set_ylabel(c.a.metric if c.a.metric == c.b.metric else f"{c.a.metric} / {c.b.metric}")
        ax.set_title(textwrap.shorten(c.question, 60, placeholder="…") + f"\n{_verdict_text(v)}", fontsize=9)
        ax.grid(alpha=0.3, axis="y")
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7, loc="best")
    return axes[0].figure
