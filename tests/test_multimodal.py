"""Notebook 05's experiment module (issue 17): MMV data and batches, training, every evaluation, the claims."""

from __future__ import annotations

import dataclasses
import math
from itertools import islice

import numpy as np
import pytest
import torch
from torch import nn

from vidkit.data.narration import ALIGNED, FILLERS
from vidkit.eval.claims import run_key, validate_record
from vidkit.experiments import multimodal as M
from vidkit.models.mmv import MMV
from vidkit.models.text import TextEncoder
from vidkit.profiles import MultimodalBudget, profile

pytestmark = pytest.mark.usefixtures("one_torch_thread")

P = profile("smoke")
B = P.multimodal


@pytest.fixture(scope="module")
def data():
    train = M.make_data(B.train, "train", 0, P)
    return train, M.make_data(B.test, "test", 1, P, vocab=train.vocab)


def test_smoke_budget_is_typed_for_every_profile():
    for name in ("smoke", "laptop", "full"):
        assert isinstance(profile(name).multimodal, MultimodalBudget)


def test_data_shapes_vocabulary_and_cache(data):
    train, test = data
    n, t = B.train, B.frames // B.stride
    m = B.n_aligned + B.n_neighbour + B.n_filler
    assert train.video.shape == (n, t, 2, P.actions_size, P.actions_size)
    assert train.audio.shape == (n, 2, 80, 5 * B.frames) and train.frames_per_step == 5 * B.stride
    assert train.tokens.shape[:2] == (n, m) and train.lengths.shape == (n, m)
    assert train.clean_tokens.shape[:2] == (n, B.n_aligned)
    assert int((train.tokens == 1).sum()) == 0, "the narration vocabulary knows every narration word (no <unk>)"
    assert not [w for f in FILLERS for w in train.vocab.unknown_words(f)], "filler words have their own ids"
    assert test.vocab is train.vocab
    # the clean bags are the aligned sentences of the noisy bags
    i = 3
    aligned = np.flatnonzero(train.narration.kinds[i] == ALIGNED)
    for j, a in enumerate(aligned):
        ln = int(train.lengths[i, a])
        assert int(train.clean_lengths[i, j]) == ln
        assert torch.equal(train.clean_tokens[i, j, :ln], train.tokens[i, a, :ln])
    assert M.make_data(B.train, "train", 0, P) is train


def test_batches_have_the_loss_keys_and_shapes(data):
    train, _ = data
    bs = 8
    for narration, text, p in (("noisy", "bag", 6), ("clean", "bag", B.n_aligned), ("noisy", "one", 1),
                               ("clean", "one", 1)):
        batch = next(M.mmv_batches(train, bs, narration=narration, text=text, seed=0))
        assert batch["video"].shape == (bs, *train.video.shape[1:])
        assert batch["audio"].shape == (bs, 2, 80, 5 * B.frames)
        assert batch["tokens"].dim() == 3 and batch["tokens"].shape[:2] == (bs, p)
        assert batch["lengths"].shape == (bs, p) and int(batch["lengths"].max()) == batch["tokens"].shape[2]
        assert batch["tokens"].dtype == torch.long
    # clean single sentences are aligned ones
    batch = next(M.mmv_batches(train, bs, narration="clean", text="one", seed=3))
    for row, i in enumerate(batch["index"].tolist()):
        ln = int(batch["lengths"][row, 0])
        assert any(torch.equal(batch["tokens"][row, 0, :ln], train.clean_tokens[i, j, :ln]) for j in range(B.n_aligned))


def test_stream_is_seeded(data):
    train, _ = data

    def take(seed):
        return list(islice(M.mmv_batches(train, 8, text="one", seed=seed), 14))   # crosses an epoch

    a, b, c = take(0), take(0), take(1)
    assert all(torch.equal(x[k], y[k]) for x, y in zip(a, b, strict=True) for k in x)
    assert not all(torch.equal(x["index"], y["index"]) for x, y in zip(a, c, strict=True))


def test_training_steps_and_every_evaluation_is_finite(data):
    train, test = data
    torch.manual_seed(0)
    model = M.make_model(len(train.vocab), B, "fac")
    budget = dataclasses.replace(B, steps=2, time_s=None)
    result = M.train_mmv(model, train, budget, design="fac", pairs=("va", "vt"), narration="noisy", seed=0)
    assert result.steps == 2
    out = M.evaluate_mmv(model, train, test, B)
    expected = {"video_action_probe", "video_digit_probe", "audio_digit_probe", "action_chance", "digit_chance",
                "t2v_R@1", "t2v_R@10", "t2v_MedR", "t2v_chance@1", "t2v_chance@10", "a2v_R@1", "a2v_R@10",
                "a2v_MedR", "v2a_R@1", "v2a_R@10", "v2a_MedR", "av_chance@1", "sync_acc", "frame_digit_still",
                "frame_digit_deflated", "frame_digit_fitted", "frame_digit_recalibrated"}
    assert set(out) == expected
    assert all(math.isfinite(v) for v in out.values())
    assert all(0 <= out[k] <= 1 for k in expected if "MedR" not in k)
    # the 2D baseline: a FrameNetwork trained through the same loop, scored on frames
    frames = M.make_model(len(train.vocab), B, "fac", network="frames")
    M.train_mmv(frames, train, budget, pairs=("va",), loss="NCE", narration="clean", seed=1)
    got = M.frame_probes(frames, train, test)
    assert set(got) == {"frame_digit_2d"} and 0 <= got["frame_digit_2d"] <= 1


class _Marker(nn.Module):
    """A stand-in encoder reading a per-time-step marker: video pixel (0, 0) of channel 0, or mel bin 0 of the
    left channel at the first mel frame of each step."""

    def __init__(self, dim: int, kind: str, per_step: int = 5):
        super().__init__()
        self.dim, self.kind, self.per_step = dim, kind, per_step
        self.unused = nn.Parameter(torch.zeros(1))

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, :, 0, 0, 0] if self.kind == "v" else x[:, 0, 0, ::self.per_step]


def _shared_marker_model(steps: int, vocab_size: int = 10) -> MMV:
    model = MMV(_Marker(steps, "v"), _Marker(steps, "a"), TextEncoder(vocab_size, 8, 8, 8), "shared", fine_dim=8)
    with torch.no_grad():
        model.heads["a->vat"].weight.copy_(model.heads["v->vat"].weight)
        model.heads["a->vat"].bias.copy_(model.heads["v->vat"].bias)
    return model


def test_known_answers_synchrony_and_audio_video_retrieval():
    n, steps = 12, 8
    s = torch.randn(n, steps, generator=torch.Generator().manual_seed(0))
    video = torch.zeros(n, steps, 2, 4, 4)
    video[:, :, 0, 0, 0] = s
    audio = torch.zeros(n, 2, 80, 5 * steps)
    audio[:, 0, 0, ::5] = s
    model = _shared_marker_model(steps)
    # true track and clip share their features: z_a = z_v, so the true track always wins, and finds its clip
    assert M.synchrony(model, video, audio, shift=2)["sync_acc"] == 1.0
    out = M.audio_video_retrieval(model, video, audio)
    assert out["a2v_R@1"] == 1.0 and out["v2a_R@1"] == 1.0 and out["a2v_MedR"] == 1.0
    assert out["av_chance@1"] == pytest.approx(1 / n)
    # a track that does not depend on time cannot be told from its shift: every comparison is a tie
    flat = torch.zeros_like(audio) + s[:, :1, None, None].transpose(1, 2)
    assert M.synchrony(model, video, flat, shift=1)["sync_acc"] == 0.5


def test_claim_run_smoke_entry_validates(data):
    entry = M.claim_run("FAC v+a", "smoke", 0)
    record = {"schema": 1, "topic": "multimodal", "profile": "smoke",
              "runs": {run_key(entry["run"], entry["seed"]): {**entry, "commit": "test",
                                                              "date": "2026-01-01T00:00:00+00:00", "torch": "x",
                                                              "cores": 1, "wall_s": 0.0}}}
    validate_record(record)
    assert entry["steps"] == B.steps and entry["config"]["pairs"] == ["va"]
    video_runs = {r for r, spec in M.CLAIM_RUNS.items() if spec["network"] == "video"}
    for c in M.CLAIMS:
        for arm in (c.a, c.b):
            if arm.run in video_runs:
                assert math.isfinite(entry["metrics"][arm.metric]), (c.id, arm.metric)
            else:
                assert arm.metric == "frame_digit_2d"


def test_claims_name_known_runs():
    assert len({c.id for c in M.CLAIMS}) == len(M.CLAIMS) >= 10
    for c in M.CLAIMS:
        assert c.id.startswith("multimodal.") and c.topic == "multimodal"
        assert {c.a.run, c.b.run} <= set(M.CLAIM_RUNS), c.id
    used = {arm.run for c in M.CLAIMS for arm in (c.a, c.b)}
    assert used == set(M.CLAIM_RUNS), "every claim run is used by a claim"


def test_bad_inputs_raise_clear_errors(data):
    train, test = data
    with pytest.raises(ValueError, match="split"):
        M.make_data(8, "val", 0, P)
    with pytest.raises(ValueError, match="n"):
        M.make_data(1, "train", 0, P)
    with pytest.raises(TypeError, match="vocab"):
        M.make_data(8, "train", 0, P, vocab=["a"])
    with pytest.raises(ValueError, match="batch_size"):
        M.mmv_batches(train, len(train) + 1)
    with pytest.raises(ValueError, match="narration"):
        M.mmv_batches(train, 8, narration="asr")
    with pytest.raises(TypeError, match="MultimodalData"):
        M.mmv_batches(train.video, 8)
    model = M.make_model(len(train.vocab), B, "shared")
    with pytest.raises(ValueError, match="design"):
        M.train_mmv(model, train, B, design="fac")
    with pytest.raises(ValueError, match="pairs"):
        M.train_mmv(model, train, B, pairs=("vv",))
    with pytest.raises(ValueError, match="loss"):
        M.train_mmv(model, train, B, loss="triplet")
    with pytest.raises(ValueError, match="network"):
        M.make_model(len(train.vocab), B, network="lstm")
    with pytest.raises(ValueError, match="shift"):
        M.synchrony(model, test.video, test.audio, shift=test.video.shape[1])
    with pytest.raises(ValueError, match="log-mel"):
        M.synchrony(model, test.video, test.audio[..., :-5], shift=1)
    with pytest.raises(ValueError, match="same clips"):
        M.audio_video_retrieval(model, test.video, test.audio[:-1])
    with pytest.raises(ValueError, match="unknown claim run"):
        M.claim_run("FAC v+x", "smoke", 0)


def test_bf16_autocast_twin_of_the_full_profile_trains_finitely(data):
    """The full profile trains MMV under bf16 autocast (on CUDA); its CPU twin: the same loop with amp on the CPU."""
    assert profile("full").multimodal.amp and not B.amp
    train, _ = data
    torch.manual_seed(0)
    model = M.make_model(len(train.vocab), B, "fac")
    budget = dataclasses.replace(B, steps=3, time_s=None, amp=True)
    result = M.train_mmv(model, train, budget, design="fac", pairs=("va", "vt"), narration="noisy", seed=0)
    assert result.steps == 3 and all(math.isfinite(h["loss"]) for h in result.history)
    assert all(torch.isfinite(p).all() for p in model.parameters())
