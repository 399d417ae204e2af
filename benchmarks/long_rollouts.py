"""Experiment: Srivastava's long rollouts, 100 frames past the training horizon, real vs random representation.

Notebook 01, section 8, in a script: an unconditioned composite LSTM (default: the ``lstm_composite_ref``
reference checkpoint) encodes 10 frames of one test sequence and its future decoder runs for 110 frames;
the same decoder also runs from a random representation (:meth:`SrivastavaLSTM.random_state`: every unit
Gaussian with the mean and spread of 64 real encodings; seed 0, as in the notebook, unless ``--seeds``). For the 100 frames past the horizon it
prints the strongest repetition (:func:`vidkit.eval.report.dominant_period` of the temporal autocorrelation,
lags up to 40) of the frames and of the decoder's top-layer units (where Srivastava et al. show it), and
the ink drawn per frame (the sum of pixel probabilities) early and late.

Run:  OMP_NUM_THREADS=1 .venv/bin/python benchmarks/long_rollouts.py [--model lstm_composite_ref] [--sequences 7 8] [--seeds 0 1]
Prints a markdown table for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import time

import torch

import vidkit
from vidkit.data import load_test_set
from vidkit.eval.report import dominant_period, temporal_autocorrelation
from vidkit.models import SrivastavaLSTM
from vidkit.profiles import profile

LONG = 110


def repetition(x: torch.Tensor) -> str:
    """The strongest repetition of frames 11-110 of ``x`` ``(110, ...)`` (frames or unit activations)."""
    lag, strength = dominant_period(temporal_autocorrelation(x[10:], max_lag=40))
    return "no peak" if lag is None else f"lag {lag}, r = {strength:.2f}"


def describe(lstm: SrivastavaLSTM, state: list, last_frame: torch.Tensor | None = None) -> tuple[str, ...]:
    """Repetition in the frames and in the decoder's units, and the ink of frames 11-20 and of the last 10."""
    rollout, hidden = lstm.predict_from_state(state, steps=LONG, last_frame=last_frame, return_hidden=True)
    rollout, hidden = rollout[0], hidden[0]
    return (repetition(rollout), repetition(hidden), f"{rollout[10:20].sum() / 10:.0f}",
            f"{rollout[-10:].sum() / 10:.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="lstm_composite_ref", help="a reference name or a run's work dir")
    parser.add_argument("--sequences", type=int, nargs="+", default=[7], help="test sequence indices")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0], help="seeds of the random representations")
    args = parser.parse_args()
    start = time.perf_counter()
    lstm = vidkit.load(args.model)
    if not isinstance(lstm, SrivastavaLSTM) or lstm.conditioned or lstm.predictor is None:
        parser.error(f"{args.model} is not an unconditioned Srivastava future predictor or composite model")
    test = load_test_set(profile("laptop").test_size)
    if not all(0 <= i < len(test) for i in args.sequences):
        parser.error(f"--sequences must be test indices in 0..{len(test) - 1}")
    real = test.subset(slice(0, 64)).tensors()[:, :10]
    rows = [(f"random representation, seed {seed}", *describe(lstm, lstm.random_state(real, seed=seed)))
            for seed in args.seeds]
    for i in args.sequences:
        clip = test.subset(slice(i, i + 1)).tensors()
        with torch.no_grad():
            state = lstm.encode(clip[:, :10])
        rows.append((f"test sequence {i}", *describe(lstm, state, clip[:, 9])))  # = lstm.predict(clip[:, :10])
    print(f"# {args.model}: {LONG}-frame rollouts, {time.perf_counter() - start:.0f} s")
    print("| decoded from | strongest repetition, frames 11-110 | same, decoder units | ink/frame, frames 11-20 "
          "| ink/frame, last 10 |")
    print("|---|---|---|---:|---:|")
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
