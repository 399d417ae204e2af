"""``vidkit reproduce``: train the arms of the kit's claims over seeds at equal steps and record them.

Each notebook's experiment module defines its claims (``CLAIMS``, :class:`vidkit.eval.claims.Claim`) and one
function that trains and scores a named run for a profile and a seed (``claim_run``). This front door picks the
claims asked for, works out the runs they need, trains the ones ``docs/results/<topic>.json`` does not hold yet
(a finished run is skipped, so an interrupted reproduction resumes), records each run as soon as it is scored,
and rewrites ``docs/claims.md`` from the records::

    vidkit reproduce prediction --profile laptop --seeds 3        # one topic
    vidkit reproduce prediction.composite_beats_future --seeds 3  # one claim (only its runs)
    vidkit reproduce --list                                       # every claim and its record

The records are only ever written here (:func:`vidkit.eval.claims.record_run`).

**On several GPUs.** Topics whose training goes through :func:`vidkit.train.train` (``multimodal``, ``transformers``) run under
``torchrun``: every process trains the same run with ``DistributedDataParallel`` and rank 0 alone records it::

    torchrun --standalone --nproc_per_node=8 --no-python vidkit reproduce multimodal --profile full
"""

from __future__ import annotations

import importlib
import os
import subprocess
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

from vidkit.eval.claims import (
    Claim,
    Verdict,
    claims_markdown,
    evaluate_claims,
    load_record,
    load_records,
    record_path,
    record_run,
    results_dir,
    run_key,
)
from vidkit.profiles import Profile, runs_dir
from vidkit.profiles import profile as get_profile
from vidkit.utils import distributed as D
from vidkit.utils.fileio import atomic_write

__all__ = ["TOPICS", "all_claims", "select", "reproduce", "write_claims_md", "claims_md_path"]

#: topic -> the experiment module that defines its ``CLAIMS`` and ``claim_run`` (one per notebook).
TOPICS: dict[str, str] = {
    "prediction": "vidkit.experiments.future_prediction",
    "contrastive": "vidkit.experiments.contrastive",
    "attention": "vidkit.experiments.attention",
    "retrieval": "vidkit.experiments.text_video",
    "multimodal": "vidkit.experiments.multimodal",
    "transformers": "vidkit.experiments.transformers",
}


def _module(topic: str) -> ModuleType:
    return importlib.import_module(TOPICS[topic])


def all_claims() -> list[Claim]:
    """Every claim of every topic, in notebook order."""
    return [c for topic in TOPICS for c in _module(topic).CLAIMS]


def select(names: Sequence[str] = ()) -> list[Claim]:
    """The claims named by ``names``: topics (``"prediction"``) or claim ids; none: all of them."""
    claims = all_claims()
    if not names:
        return claims
    ids = {c.id for c in claims}
    unknown = [n for n in names if n not in TOPICS and n not in ids]
    if unknown:
        raise ValueError(f"unknown topic or claim {unknown}; topics: {sorted(TOPICS)}; claims: "
                         "`vidkit reproduce --list`")
    return [c for c in claims if c.topic in names or c.id in names]


def _commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=Path(__file__).resolve().parent,
                             capture_output=True, text=True, timeout=10)
        # "+changes": the package's code differs from the commit (the records and claims.md this command
        # writes itself do not count)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", "."],
                               cwd=Path(__file__).resolve().parent, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    if out.returncode != 0:
        return "unknown"
    return out.stdout.strip() + ("+changes" if dirty.stdout.strip() else "")


def _provenance() -> dict[str, Any]:
    import torch

    return {"commit": _commit(), "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "torch": torch.__version__, "cores": os.cpu_count() or 1}


def claims_md_path(out: str | os.PathLike | None = None) -> Path:
    """``docs/claims.md`` beside the kit's records, or ``<out>/claims.md`` for records kept in ``out``."""
    return results_dir().parent / "claims.md" if out is None else Path(out) / "claims.md"


def write_claims_md(out: str | os.PathLike | None = None) -> Path:
    """(Re)write ``claims.md`` from the records in ``out`` (default ``docs/results/``) for every claim."""
    claims = all_claims()
    path = claims_md_path(out)
    text = claims_markdown(claims, load_records(claims, out))
    atomic_write(path, lambda f: f.write(text.encode()))
    return path


def reproduce(names: Sequence[str] = (), profile: str | Profile = "laptop", seeds: int = 3,
              out: str | os.PathLike | None = None, progress: bool = True) -> list[Verdict]:
    """Train and record every run the claims ``names`` (see :func:`select`) need, for seeds ``0..seeds-1`` in
    ``profile``, skipping runs already recorded; records go to ``out`` (default ``docs/results/``), work dirs
    under ``<vidkit.runs_dir()>/reproduce/<topic>``. Returns the verdicts of the selected claims."""
    from tqdm.auto import tqdm

    if isinstance(seeds, bool) or not isinstance(seeds, int) or seeds < 1:
        raise ValueError(f"seeds must be a positive int, got {seeds!r}")
    prof = profile if isinstance(profile, Profile) else get_profile(profile)
    claims = select(names)
    todo: list[tuple[str, str, int]] = []  # (topic, run, seed), the runs of the claims in order, seed-major
    for topic in dict.fromkeys(c.topic for c in claims):
        record = load_record(record_path(topic, out))
        if record is not None and record["profile"] != prof.name:
            raise ValueError(f"{record_path(topic, out)} records the {record['profile']!r} profile, not "
                             f"{prof.name!r}; use another --out folder")
        runs = list(dict.fromkeys(arm.run for c in claims if c.topic == topic for arm in (c.a, c.b)))
        done = set(record["runs"]) if record else set()
        todo += [(topic, run, s) for s in range(seeds) for run in runs if run_key(run, s) not in done]
    D.init_distributed()  # under torchrun: every process trains each run, rank 0 records it
    main = D.is_main()
    bar = tqdm(todo, desc="reproduce", unit="run", disable=not (progress and main))
    for topic, run, seed in bar:
        bar.set_postfix_str(f"{run}, seed {seed}")
        start = time.perf_counter()  # one definition of a run's wall time: training and scoring, every topic
        entry = _module(topic).claim_run(run, prof, seed, runs_dir() / "reproduce" / topic)
        entry["wall_s"] = round(time.perf_counter() - start, 1)
        if main:
            record_run(record_path(topic, out), topic, prof.name,
                       {**entry, **_provenance(), "processes": D.world_size()})
        if progress and main:
            bar.write(f"{topic}: {run}, seed {seed}: {entry['steps']} steps in {entry['wall_s']:.0f} s, "
                      + ", ".join(f"{k} {v:.4g}" for k, v in entry["metrics"].items()))
    if main:
        write_claims_md(out)
    D.barrier()
    return evaluate_claims(claims, load_records(claims, out))
