"""Notebook 06's experiment module (HERO): episodes and batches, pretraining with task subsets, TVR fine-tuning and
moment recall, probes, evaluate_hero, the claims; the moment metric and within-pair accuracy in vidkit.eval."""

from __future__ import annotations

import dataclasses
from itertools import islice

import numpy as np
import pytest
import torch

from vidkit.data.actions import all_captions, mirror_of
from vidkit.eval.claims import run_key, validate_record
from vidkit.eval.representation import linear_probe, pair_accuracy
from vidkit.eval.retrieval import all_spans, moment_recall, temporal_iou
from vidkit.experiments import transformers as X
from vidkit.models.hero import HERO, HERO_TASKS, hero_loss
from vidkit.models.text import tokenize
from vidkit.profiles import HeroBudget, profile

pytestmark = pytest.mark.usefixtures("one_torch_thread")

P = profile("smoke")
B = P.hero


@pytest.fixture(scope="module")
def data():
    train = X.make_data(B.train, "train", 0, P)
    return train, X.make_data(B.test, "test", 1, P, vocab=train.vocab)


def _tiny() -> HeroBudget:
    return dataclasses.replace(B, time_s=None, steps=2, finetune_steps=2)


# ------------------------------------------------------------------------------------------ moment metric


def test_temporal_iou_and_all_spans_by_hand():
    assert temporal_iou([0, 4], [2, 6]) == pytest.approx(2 / 6)
    assert temporal_iou([0, 4], [0, 4]) == 1.0 and temporal_iou([0, 2], [2, 4]) == 0.0
    np.testing.assert_allclose(temporal_iou([[0, 8], [4, 6]], [4, 8]), [0.5, 0.5])
    spans = all_spans(3)
    assert spans.tolist() == [[0, 1], [0, 2], [0, 3], [1, 2], [1, 3], [2, 3]]
    assert len(all_spans(24)) == 24 * 25 // 2
    with pytest.raises(ValueError, match="end > start"):
        temporal_iou([3, 3], [0, 4])


def test_moment_recall_thresholds_ranks_and_ties_by_hand():
    # one query, truth: episode 1, frames [0, 8)
    ep = np.array([[0, 1, 1, 1]])
    spans = np.array([[[0, 8], [0, 5], [0, 6], [0, 8]]])          # IoU with [0, 8): 1, 0.625, 0.75, 1
    scores = np.array([[4.0, 3.0, 2.0, 1.0]])
    out = moment_recall(scores, ep, spans, [1], [[0, 8]], ks=(1, 2, 3, 4), ious=(0.5, 0.7, 1.0))
    # the best candidate is in the wrong episode; at IoU 0.5 the 2nd is right, at 0.7 the 3rd, at 1.0 the 4th
    assert [out[f"R@{k}_iou0.5"] for k in (1, 2, 3, 4)] == [0, 1, 1, 1]
    assert [out[f"R@{k}_iou0.7"] for k in (1, 2, 3, 4)] == [0, 0, 1, 1]
    assert [out[f"R@{k}_iou1"] for k in (1, 2, 3, 4)] == [0, 0, 0, 1]
    # a wrong moment tied with the right one ranks above it
    tied = moment_recall(np.array([[2.0, 2.0]]), np.array([[0, 1]]), np.array([[[0, 8], [0, 8]]]), [1], [[0, 8]],
                         ks=(1, 2))
    assert tied["R@1_iou0.5"] == 0.0 and tied["R@2_iou0.5"] == 1.0
    # no right candidate at all, or only one that is not a candidate (-inf): a miss at every k
    miss = moment_recall(np.array([[1.0, -np.inf]]), np.array([[0, 1]]), np.array([[[0, 8], [0, 8]]]), [1],
                         [[0, 8]], ks=(1, 2))
    assert miss["R@2_iou0.5"] == 0.0
    # two queries average; chance: one of 2 x 3 moments of 3-frame episodes is exactly [0, 3)
    two = moment_recall(np.array([[1.0, 0.0], [0.0, 1.0]]), np.array([[0, 0], [0, 0]]),
                        np.array([[[0, 3], [1, 2]], [[0, 3], [1, 2]]]), [0, 0], [[0, 3], [0, 3]], ks=(1,),
                        ious=(1.0,), num_episodes=2, num_frames=3)
    assert two["R@1_iou1"] == 0.5 and two["chance@1_iou1"] == pytest.approx(1 / 12)


def test_moment_recall_rejects_bad_inputs():
    ok = (np.zeros((1, 2)), np.zeros((1, 2), int), np.array([[[0, 1], [0, 2]]]), [0], [[0, 2]])
    with pytest.raises(ValueError, match=r"spans must be \(Q, M, 2\)"):
        moment_recall(ok[0], ok[1], np.zeros((1, 3, 2)) + [0, 1], *ok[3:])
    with pytest.raises(ValueError, match="each k in ks"):
        moment_recall(*ok, ks=(3,))
    with pytest.raises(ValueError, match="both num_episodes and num_frames"):
        moment_recall(*ok, ks=(1,), num_episodes=2)
    with pytest.raises(ValueError, match="episode must be"):
        moment_recall(ok[0], np.zeros((1, 2)), *ok[2:])


def test_pair_accuracy_and_the_probe_partner():
    probs = np.array([[0.5, 0.3, 0.2], [0.1, 0.1, 0.8], [0.2, 0.4, 0.4]])
    assert pair_accuracy(probs, np.array([0, 1, 1]), np.array([1, 0, 2])) == pytest.approx(1 / 3)  # tie = miss
    assert mirror_of(np.arange(8)).tolist() == [1, 0, 3, 2, 5, 4, 7, 6]
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 4))
    y = np.where(x[:, 0] > 0, 0, 1)
    r = linear_probe(x[:100], y[:100], x[100:], y[100:], partner=1 - y[100:])
    assert r["pair_accuracy"] == pytest.approx(r["accuracy"])  # two classes: the pair is the whole question
    with pytest.raises(ValueError, match="labels and partner"):
        pair_accuracy(probs, np.array([0, 1, 3]), np.array([1, 0, 2]))


# -------------------------------------------------------------------------------------------------- data


def test_data_shapes_cache_and_vocabulary_covers_queries(data):
    train, test = data
    t, g = B.segments * B.segment_frames, B.segments
    assert train.frames.shape == (B.train, t, 2, P.actions_size, P.actions_size)
    assert train.frames.dtype == torch.float32 and 0 <= float(train.frames[:, :, 0].min()) <= 1
    f = B.segment_frames
    assert train.frames[:, ::f, 1].eq(0).all(), "no difference across a shot cut"
    torch.testing.assert_close(train.frames[:, 1:f, 1], train.frames[:, 1:f, 0] - train.frames[:, :f - 1, 0])
    assert train.tokens.shape == (B.train, g, X.MAX_WORDS) and train.lengths.shape == (B.train, g)
    assert train.starts[:, 0].eq(0).all() and train.ends[:, -1].eq(t).all()
    assert test.vocab is train.vocab and X.make_data(B.train, "train", 0, P) is train
    assert int((train.tokens == 1).sum()) == 0 and int((test.tokens == 1).sum()) == 0
    for d, a in ((0, "move_left"), (9, "zoom_out")):                 # held-out pairs too: no unknown word
        assert not [w for c in all_captions(d, a) for w in train.vocab.unknown_words(c)]
    # a subtitle decodes back to its words
    assert train.vocab.decode(train.tokens[0, :1], train.lengths[0, :1])[0].split() == \
        tokenize(train.episodes.subtitles[0][0])
    novel = X.make_data(16, "test", 2, P, compositions="novel_order", vocab=train.vocab)
    assert novel.episodes.info["novel_order"].all()


def test_batches_and_query_batches(data):
    train, _ = data
    batches = list(islice(X.hero_batches(train, 8, seed=3), 3))
    again = list(islice(X.hero_batches(train, 8, seed=3), 3))
    assert all(torch.equal(a["index"], b["index"]) for a, b in zip(batches, again, strict=True))
    b0 = batches[0]
    assert b0["frames"].shape[:2] == (8, B.segments * B.segment_frames)
    assert b0["tokens"].shape[:2] == (8, B.segments) and b0["tokens"].shape[2] == int(b0["lengths"].max())
    # two ranks split one global batch without overlap
    r0 = next(X.hero_batches(train, 8, seed=1, rank=0, world_size=2))["index"]
    r1 = next(X.hero_batches(train, 8, seed=1, rank=1, world_size=2))["index"]
    assert not set(r0.tolist()) & set(r1.tolist())
    q = next(X.query_batches(train, 8, seed=0))
    assert ((q["lengths"] > 0).sum(1) == 1).all(), "one query segment per episode, the others empty"
    for i in range(8):
        e, s = int(q["index"][i]), int(q["lengths"][i].nonzero()[0])
        words = train.vocab.decode(q["tokens"][i, s:s + 1], q["lengths"][i, s:s + 1])[0]
        ep = train.episodes
        pool = [" ".join(train.vocab.decode(*train.vocab.encode(c))) for c in
                all_captions(int(ep.digit[e]), int(ep.actions[e, s]))]
        assert words in pool, "the query is a caption variant of the segment's digit x action pair"
        assert words != train.vocab.decode(train.tokens[e, s:s + 1], train.lengths[e, s:s + 1])[0]


# ------------------------------------------------------------------------------------------- training


def test_pretrain_with_a_task_subset_changes_only_what_it_trains(data):
    train, _ = data
    torch.manual_seed(0)
    model = X.make_model(len(train.vocab), B)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    result = X.pretrain(model, train, _tiny(), tasks=("mlm",), seed=0)
    assert result.steps == 2
    after = model.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    # MLM reads the words and their segment's frames through the cross-modal transformer, nothing above it
    assert {"mlm_head", "cross", "frame_encoder", "word_embedding"} <= {k.split(".")[0] for k in changed}
    untouched = ("fom_head", "mfm_head", "span_conv", "query_head", "query_pool", "temporal.")
    assert not [k for k in changed if k.startswith(untouched)], sorted(changed)
    # tasks=() trains nothing
    none = X.pretrain(model, train, _tiny(), tasks=(), seed=0)
    assert none.steps == 0 and all(torch.equal(after[k], v) for k, v in model.state_dict().items())


def test_finetune_tvr_trains_the_vsm_heads(data):
    train, _ = data
    torch.manual_seed(0)
    model = X.make_model(len(train.vocab), B)
    span = model.span_conv.weight.clone()
    mlm = model.mlm_head[0].weight.clone()
    assert X.finetune_tvr(model, train, _tiny(), seed=0).steps == 2
    assert not torch.equal(span, model.span_conv.weight) and torch.equal(mlm, model.mlm_head[0].weight)


def test_evaluate_hero_keys_ranges_and_leaves_the_model_alone(data):
    train, test = data
    torch.manual_seed(0)
    model = X.make_model(len(train.vocab), B)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    held = X.held_out_data(P, train.vocab)
    out = X.evaluate_hero(model, train, test, _tiny(), seed=0, held_out=held)
    assert all(torch.equal(state[k], v) for k, v in model.state_dict().items()), "fine-tuning works on a copy"
    expected = {"action_probe", "mirror_pair_acc", "digit_probe", "first_action_probe", "first_action_acc",
                "first_action_concat_acc", "action_chance", "digit_chance", "pair_chance",
                "first_action_acc_novel_order", "action_probe_novel_combo", "mirror_pair_acc_novel_combo",
                "tvr_video_R@1", "tvr_video_R@5", "tvr_video_chance@1", "tvr_R@1_iou0.5", "tvr_R@5_iou0.5",
                "tvr_R@1_iou0.7", "tvr_R@5_iou0.7", "tvr_chance@1_iou0.5", "tvr_chance@5_iou0.5",
                "tvr_chance@1_iou0.7", "tvr_chance@5_iou0.7", "tvr_video_sem_R@1", "tvr_video_sem_chance@1",
                "tvr_local_iou0.5", "tvr_local_chance_iou0.5"}
    if B.test >= 10:
        expected |= {"tvr_video_sem_R@10", "tvr_video_sem_chance@10"}
    assert set(out) == expected
    assert out["tvr_video_sem_chance@1"] >= out["tvr_video_chance@1"]          # several episodes match a query
    assert all(isinstance(v, float) and 0.0 <= v <= 1.0 for v in out.values())
    assert out["tvr_video_chance@1"] == pytest.approx(1 / B.test)
    assert out["tvr_R@5_iou0.5"] >= out["tvr_R@1_iou0.5"] >= out["tvr_R@1_iou0.7"]
    assert out["tvr_chance@1_iou0.7"] < out["tvr_chance@1_iou0.5"] < 0.05


def test_moment_retrieval_finds_moments_when_scores_point_at_them(data, monkeypatch):
    """With scores that put each query's true episode first and its true span's edges on top, R@1 is 1."""
    _, test = data
    model = X.make_model(len(test.vocab), B)
    seen = []

    def oracle(model, batch, query_tokens, query_lengths):
        b, t = batch["frames"].shape[:2]
        lo = sum(seen)
        seen.append(b)
        q = len(query_tokens)
        g = test.num_segments
        ep, seg = torch.arange(q) // g, torch.arange(q) % g
        score = torch.zeros(q, b)
        start, end = torch.zeros(q, b, t), torch.zeros(q, b, t)
        for i in range(q):
            j = int(ep[i]) - lo
            if 0 <= j < b:
                score[i, j] = 1.0
                start[i, j, int(test.starts[ep[i], seg[i]])] = 10.0
                end[i, j, int(test.ends[ep[i], seg[i]]) - 1] = 10.0
        return start, end, score

    monkeypatch.setattr(X, "moment_scores", oracle)
    out = X.moment_retrieval(model, test, top_episodes=3)
    assert out["tvr_video_R@1"] == 1.0 and out["tvr_R@1_iou0.7"] == 1.0 and out["tvr_R@5_iou0.5"] == 1.0
    assert out["tvr_video_sem_R@1"] == 1.0 and out["tvr_local_iou0.5"] == 1.0 > out["tvr_local_chance_iou0.5"]


# --------------------------------------------------------------------------------------------- claims


def test_claims_use_claim_runs_and_metrics_evaluate_hero_produces():
    metrics = {"action_probe", "mirror_pair_acc", "digit_probe", "first_action_acc", "tvr_R@1_iou0.5", "tvr_video_sem_R@10",
               "tvr_R@5_iou0.5", "tvr_video_R@1"}
    assert 6 <= len(X.CLAIMS) <= 10
    assert set(X.CLAIM_RUNS) == {"none", "MLM+MFM", "+VSM", "+FOM", "all four", "flat, all four"}
    for c in X.CLAIMS:
        assert c.topic == "transformers" and "HERO" in c.source and c.question.endswith("?")
        for arm in (c.a, c.b):
            assert arm.run in X.CLAIM_RUNS and arm.metric in metrics, (c.id, arm)
    assert X.CLAIM_RUNS["flat, all four"]["hierarchical"] is False and X.CLAIM_RUNS["none"]["tasks"] == ()


def test_claim_run_in_smoke_returns_a_valid_record_entry():
    entry = X.claim_run("+FOM", "smoke", seed=1)
    assert entry["run"] == "+FOM" and entry["seed"] == 1 and entry["steps"] == B.steps
    assert entry["config"]["budget"]["time_s"] is None and entry["config"]["tasks"] == ["mlm", "mfm", "fom"]
    record = {"schema": 1, "topic": "transformers", "profile": "smoke",
              "runs": {run_key("+FOM", 1): {**entry, "wall_s": 1.0, "commit": "abc", "date": "2025-01-01T00:00:00+00:00",
                                            "torch": torch.__version__, "cores": 2, "processes": 1}}}
    validate_record(record)


# ------------------------------------------------------------------------------------------- bad input


def test_bad_inputs_fail_with_clear_messages(data):
    train, _ = data
    with pytest.raises(ValueError, match="split"):
        X.make_data(8, "val", 0, P)
    with pytest.raises(ValueError, match="compositions"):
        X.make_data(8, "test", 0, P, compositions="new")
    with pytest.raises(ValueError, match="needs split='test'"):
        X.make_data(8, "train", 0, P, compositions="novel_order")
    with pytest.raises(TypeError, match="Vocabulary"):
        X.make_data(8, "test", 0, P, vocab=["a"])
    with pytest.raises(TypeError, match="HeroData"):
        next(X.hero_batches(train.frames, 4))
    with pytest.raises(ValueError, match="batch_size"):
        X.hero_batches(train, len(train) + 1)
    model = X.make_model(len(train.vocab), B)
    with pytest.raises(ValueError, match="task"):
        X.pretrain(model, train, _tiny(), tasks=("mlm", "xyz"))
    with pytest.raises(ValueError, match="sequence of task names"):
        X.pretrain(model, train, _tiny(), tasks="mlm")
    with pytest.raises(TypeError, match="HeroBudget"):
        X.make_model(len(train.vocab), P.multimodal)
    with pytest.raises(ValueError, match="unknown claim run"):
        X.claim_run("MLM only", "smoke", 0)
    with pytest.raises(ValueError, match="held_out keys"):
        X.probe_scores(model, train, train, held_out={"novel": train})


def test_the_flat_model_and_every_task_run_on_a_batch(data):
    train, _ = data
    flat = X.make_model(len(train.vocab), B, hierarchical=False)
    assert isinstance(flat, HERO) and not flat.hierarchical
    loss, logs = hero_loss(flat, next(X.hero_batches(train, 4)), 0, tasks=HERO_TASKS)
    assert torch.isfinite(loss) and {"mlm", "fom", "vsm_local"} <= set(logs)


def test_evaluate_hero_uses_a_given_fine_tuned_copy(data, monkeypatch):
    """``tuned=``: moment retrieval scores that model and nothing is fine-tuned again."""
    train, test = data
    model = X.make_model(len(train.vocab), B)
    tuned = X.make_model(len(train.vocab), B)
    seen = []
    monkeypatch.setattr(X, "finetune_tvr", lambda *a, **k: pytest.fail("fine-tuned again"))
    monkeypatch.setattr(X, "moment_retrieval", lambda m, *a, **k: seen.append(m) or {"tvr_video_R@1": 0.0})
    X.evaluate_hero(model, train, test, _tiny(), tuned=tuned)
    assert seen == [tuned]
    with pytest.raises(TypeError, match="tuned must be a HERO"):
        X.evaluate_hero(model, train, test, _tiny(), tuned="model")
