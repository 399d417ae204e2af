"""vidkit.models.hero: the hierarchy's locality, the four pretraining tasks, downstream helpers, bad input."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from vidkit.models import (
    HERO,
    HERO_TASKS,
    HEROOutput,
    episode_features,
    fom_loss,
    fom_order,
    hero_loss,
    mfm_loss,
    mlm_loss,
    moment_scores,
    predict_order,
    vsm_loss,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")

VOCAB, DIM, B, T, N = 20, 32, 4, 12, 5
SPANS = ((0, 3), (3, 8), (8, 12))          # three segments of unequal length
S = len(SPANS)


def make_batch(b: int = B, seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(2, N + 1, (b, S), generator=g)
    tokens = torch.randint(2, VOCAB, (b, S, N), generator=g) * (torch.arange(N) < lengths[..., None])
    frames = F.interpolate(torch.rand(b * T, 1, 4, 4, generator=g), size=16).view(b, T, 1, 16, 16)   # blocky
    return {"frames": frames, "tokens": tokens, "lengths": lengths,
            "starts": torch.tensor([s for s, _ in SPANS]).repeat(b, 1),
            "ends": torch.tensor([e for _, e in SPANS]).repeat(b, 1)}


def make_model(hierarchical: bool = True, seed: int = 0) -> HERO:
    torch.manual_seed(seed)
    return HERO(VOCAB, dim=DIM, heads=4, cross_depth=1, temporal_depth=1, max_frames=16, max_words=8,
                max_segments=4, width=8, hierarchical=hierarchical)


class Recorder(nn.Module):
    """A wrapper like DistributedDataParallel (the model in ``.module``) that records every forward call."""

    def __init__(self, model: HERO):
        super().__init__()
        self.module = model
        self.calls: list[tuple[dict, dict]] = []

    def forward(self, batch, **kwargs):
        self.calls.append((dict(batch), kwargs))
        return self.module(batch, **kwargs)


# ----------------------------------------------------------------------------------------- encoder


@pytest.mark.parametrize("hierarchical", [True, False])
def test_output_shapes(hierarchical):
    model, batch = make_model(hierarchical), make_batch()
    out = model(batch, query_tokens=batch["tokens"][:, 0], query_lengths=batch["lengths"][:, 0])
    assert isinstance(out, HEROOutput)
    for name in ("frames", "cross_frames", "features"):
        assert getattr(out, name).shape == (B, T, DIM), name
    assert out.words.shape == (B, S, N, DIM) and out.query.shape == (B, DIM) and out.attention is None
    assert torch.isfinite(out.frames).all() and torch.isfinite(out.words).all()
    assert model.encode_query(batch["tokens"][:2, 1], batch["lengths"][:2, 1]).shape == (2, DIM)
    # a batch with precomputed "features" gives the same result without reading frames
    features = model.frame_features(batch["frames"])
    no_frames = {k: v for k, v in batch.items() if k != "frames"}
    torch.testing.assert_close(model({**no_frames, "features": features}).frames, out.frames)


@torch.no_grad()
def test_a_segment_sees_only_its_own_subtitle_until_the_temporal_transformer():
    batch = make_batch()
    other = {**batch, "tokens": batch["tokens"].clone()}
    other["tokens"][0, 2, :2] = torch.tensor([7, 9]) + other["tokens"][0, 2, :2] % 3    # subtitle of segment 2
    model, flat = make_model(True), make_model(False)
    for m in [*model.modules(), *flat.modules()]:   # larger weights than GPT-2's init (std 0.02), under
        if isinstance(m, nn.Linear):                  # which context effects are ~1e-5
            m.weight.normal_(0, 0.2)

    def change(x, y):
        return float((x - y).abs().max())

    a, b = model(batch), model(other)
    seg01, seg2 = slice(0, 8), slice(8, 12)
    assert change(a.cross_frames[0, seg01], b.cross_frames[0, seg01]) < 1e-6         # segments 0, 1: unchanged
    assert change(a.words[0, :2], b.words[0, :2]) < 1e-6
    assert change(a.cross_frames[0, seg2], b.cross_frames[0, seg2]) > 1e-2          # segment 2 itself changed
    assert change(a.frames[0, seg01], b.frames[0, seg01]) > 1e-2                     # global context: changed
    assert change(a.frames[1:], b.frames[1:]) < 1e-6                                 # other episodes: unchanged
    fa, fb = flat(batch), flat(other)
    assert change(fa.cross_frames[0, seg01], fb.cross_frames[0, seg01]) > 1e-2       # flat: no locality
    assert change(fa.words[0, :2], fb.words[0, :2]) > 1e-2


@pytest.mark.parametrize("hierarchical", [True, False])
def test_absent_subtitles_and_padding_are_invisible(hierarchical):
    model, batch = make_model(hierarchical), make_batch()
    hidden = torch.ones(B, S, dtype=torch.bool)
    hidden[1, 1] = False
    masked = {**batch, "subtitle_mask": hidden}
    changed = {**masked, "tokens": batch["tokens"].clone()}
    changed["tokens"][1, 1] = torch.arange(N) + 3                                   # the absent subtitle
    pad = changed["tokens"][0, 0] == 0
    changed["tokens"][0, 0][pad] = 5                                                # padding beyond lengths
    a, b = model(masked), model(changed)
    torch.testing.assert_close(a.frames, b.frames)
    torch.testing.assert_close(a.words[0, 1:], b.words[0, 1:])
    assert not torch.allclose(model(batch).frames[1], a.frames[1], atol=1e-5)       # the subtitle did matter


@pytest.mark.parametrize("hierarchical", [True, False])
def test_attention_maps_shapes_labels_and_rows(hierarchical):
    model, batch = make_model(hierarchical), make_batch()
    out = model(batch, return_attention=True)
    torch.testing.assert_close(out.frames, model(batch).frames, atol=1e-5, rtol=1e-5)
    heads, k = 4, max(e - s for s, e in SPANS)
    if hierarchical:
        cross, temporal = out.attention["cross"], out.attention["temporal"]
        assert set(out.attention) == {"cross", "temporal"}
        assert [a.shape for a in cross.weights] == [(B, S, heads, k + N, k + N)]
        assert [a.shape for a in temporal.weights] == [(B, heads, T, T)]
        # labels: segment 1's sequence = frames 3..7, one padded frame slot, then its words 0..N-1
        assert cross.is_word[0, 1].tolist() == [False] * k + [True] * N
        assert cross.index[0, 1, :5].tolist() == [3, 4, 5, 6, 7] and cross.index[0, 1, k:].tolist() == list(range(N))
        assert cross.valid[0, 1, :k].tolist() == [True] * 5 + [False] * (k - 5)
        assert cross.valid[0, 1, k:].tolist() == (torch.arange(N) < batch["lengths"][0, 1]).tolist()
        assert temporal.segment[0].tolist() == [0] * 3 + [1] * 5 + [2] * 4
        maps = [cross, temporal]
    else:
        flat = out.attention["flat"]
        assert [a.shape for a in flat.weights] == [(B, heads, T + S * N, T + S * N)] * 2
        assert flat.index[0, :T].tolist() == list(range(T)) and flat.segment[0, T:T + N].tolist() == [0] * N
        maps = [flat]
    for m in maps:
        assert m.is_word.shape == m.segment.shape == m.index.shape == m.valid.shape == m.weights[0].shape[:-3] + (
            m.weights[0].shape[-1],)
        for a in m.weights:
            assert torch.all(a[~m.valid[..., None, None, :].expand_as(a)] == 0)       # nothing on padding
            torch.testing.assert_close(a.sum(-1), torch.ones(a.shape[:-1]))           # every row sums to 1


def test_query_encoder_ignores_padding():
    model, batch = make_model(), make_batch()
    tokens, lengths = batch["tokens"][:, 0].clone(), batch["lengths"][:, 0]
    q = model.encode_query(tokens, lengths)
    tokens[torch.arange(N) >= lengths[:, None]] = 7
    torch.testing.assert_close(model.encode_query(tokens, lengths), q)


# ----------------------------------------------------------------------------------------- masking


def test_masked_words_and_frames_are_hidden_from_the_encoder():
    model, batch = make_model(), make_batch()
    word_mask = torch.zeros(B, S, N, dtype=torch.bool)
    word_mask[0, 1, 0] = word_mask[2, 0, 1] = True
    changed = {**batch, "tokens": batch["tokens"].clone()}
    changed["tokens"][word_mask] = (changed["tokens"][word_mask] + 1) % (VOCAB - 2) + 2
    a, b = model(batch, word_mask=word_mask), model(changed, word_mask=word_mask)
    torch.testing.assert_close(a.words, b.words)
    torch.testing.assert_close(a.frames, b.frames)
    assert not torch.allclose(model(batch).words, model(changed).words)                # unmasked: visible

    frame_mask = torch.zeros(B, T, dtype=torch.bool)
    frame_mask[1, [2, 9]] = True
    noisy = {**batch, "frames": batch["frames"].clone()}
    noisy["frames"][frame_mask] = torch.rand(2, 1, 16, 16)
    a, b = model(batch, frame_mask=frame_mask), model(noisy, frame_mask=frame_mask)
    torch.testing.assert_close(a.frames, b.frames)
    torch.testing.assert_close(a.words, b.words)
    assert not torch.equal(a.features, b.features)                                   # the targets differ


def test_mlm_masks_fifteen_percent_of_real_words_at_least_one():
    model, batch = make_model(), make_batch()
    rec = Recorder(model)
    mlm_loss(rec, batch, 3)
    mask = rec.calls[0][1]["word_mask"]
    real = torch.arange(N) < batch["lengths"][..., None]
    assert int(mask.sum()) == max(1, round(0.15 * int(real.sum())))
    assert not (mask & ~real).any()                                                  # never padding
    # absent subtitles are never masked; a batch with a single word still masks it
    one = make_batch(b=1)
    one["lengths"] = torch.tensor([[1, 0, 0]])
    one["tokens"] = one["tokens"] * (torch.arange(N) < one["lengths"][..., None])
    rec.calls.clear()
    loss, logs = mlm_loss(rec, one, 0)
    assert int(rec.calls[0][1]["word_mask"].sum()) == 1 and rec.calls[0][1]["word_mask"][0, 0, 0]
    assert math.isfinite(logs["mlm"])


def test_mfm_masks_fifteen_percent_of_frames_and_targets_are_the_features():
    model, batch = make_model(), make_batch()
    rec = Recorder(model)
    loss, logs = mfm_loss(rec, batch, 1, objective="both")
    mask = rec.calls[0][1]["frame_mask"]
    assert int(mask.sum()) == round(0.15 * B * T)
    out = model(batch, frame_mask=mask)
    pred = model.mfm_head(out.frames[mask])
    target = model.frame_features(batch["frames"])[mask]
    c = F.normalize(pred, dim=-1) @ F.normalize(target, dim=-1).T / 0.1
    expected = F.mse_loss(pred, target) + F.cross_entropy(c, torch.arange(len(c)))
    torch.testing.assert_close(loss, expected)
    assert set(logs) == {"mfm_regress", "mfm_nce", "mfm_nce_acc"}
    assert set(mfm_loss(model, batch, 1)[1]) == {"mfm_nce", "mfm_nce_acc"}           # default: MNCE only


def test_fom_order_moves_every_chosen_frame_and_targets_are_original_positions():
    order, moved = fom_order(6, 20, generator=torch.Generator().manual_seed(0))
    assert order.shape == (6, 20) and torch.equal(order.sort(1).values, torch.arange(20).expand(6, 20))
    assert (moved.sum(1) == 3).all() and torch.equal(moved, order != torch.arange(20))   # round(0.15 * 20)
    assert (fom_order(2, 5)[1].sum(1) == 2).all()                                        # at least 2

    model, batch = make_model(), make_batch()
    seen = []
    model.temporal.register_forward_pre_hook(lambda m, args: seen.append(args[0].detach().clone()))
    rec = Recorder(model)
    loss, logs = fom_loss(rec, batch, 2, fraction=0.4)   # 5 frames: a rotation of 2 would be its own inverse
    order = rec.calls[0][1]["order"]
    model(batch)                                                                     # the unshuffled input
    shuffled, original = seen
    # the frame at position t of the temporal transformer is the original frame order[t] ...
    torch.testing.assert_close(shuffled, original.gather(1, order[..., None].expand_as(original)))
    # ... and the loss classifies exactly those original positions, at the moved positions only
    moved = order != torch.arange(T)
    assert (moved.sum(1) == 5).all()
    logits = model.fom_head(model(batch, order=order).frames[moved])[:, :T]
    torch.testing.assert_close(loss, F.cross_entropy(logits, order[moved]))
    assert 0 <= logs["fom_acc"] <= 1


def test_vsm_removes_the_query_subtitle_from_the_input():
    model, batch = make_model(), make_batch()
    hidden = torch.ones(B, S, dtype=torch.bool)
    hidden[0, 0] = False
    batch["subtitle_mask"] = hidden
    batch["lengths"][1, :2] = 0                                     # episode 1 can only use segment 2
    rec = Recorder(model)
    loss, logs = vsm_loss(rec, batch, 5)
    seen, kwargs = rec.calls[0]
    removed = hidden & ~seen["subtitle_mask"]
    assert (removed.sum(1) == 1).all() and not (seen["subtitle_mask"] & ~hidden).any()
    q = removed.float().argmax(1)
    assert q[0] != 0 and q[1] == 2
    torch.testing.assert_close(kwargs["query_tokens"], batch["tokens"][torch.arange(B), q])
    torch.testing.assert_close(kwargs["query_lengths"], batch["lengths"][torch.arange(B), q])
    # the loss is the formula: span cross-entropy of own episode + hinge over the batch
    out = model(seen, **kwargs)
    start, end = model.span_logits(out.frames, out.query)
    r = torch.arange(B)
    local = F.cross_entropy(start[r, r], batch["starts"][r, q]) + F.cross_entropy(end[r, r], batch["ends"][r, q] - 1)
    scores = model.episode_scores(out.frames, out.query)
    pos = scores.diag()
    off = ~torch.eye(B, dtype=torch.bool)
    hinge = (F.relu(0.1 + scores - pos[:, None])[off].sum() + F.relu(0.1 + scores - pos[None, :])[off].sum()) / (
        B * (B - 1))
    torch.testing.assert_close(loss, local + hinge)
    assert set(logs) == {"vsm_local", "vsm_global", "vsm_start_acc", "vsm_end_acc"}
    nce = vsm_loss(model, batch, 5, global_loss="nce", lambda_local=0.0)[0]
    torch.testing.assert_close(nce, (F.cross_entropy(scores / 0.1, r) + F.cross_entropy(scores.T / 0.1, r)) / 2)


# ----------------------------------------------------------------------------------------- losses

EXPECTED_GRADS = {
    "mlm": (["mlm_head", "word_embedding", "cross"], ["mfm_head", "fom_head", "span_conv", "temporal"]),
    "mfm": (["mfm_head", "temporal", "cross", "frame_encoder"], ["mlm_head", "fom_head", "span_conv"]),
    "vsm": (["span_conv", "query_head", "query_pool", "temporal", "cross"], ["mlm_head", "mfm_head", "fom_head"]),
    "fom": (["fom_head", "temporal", "cross", "frame_encoder"], ["mlm_head", "mfm_head", "span_conv"]),
}
TASK_FNS = {"mlm": mlm_loss, "mfm": mfm_loss, "vsm": vsm_loss, "fom": fom_loss}


def test_episode_scores_remove_the_direction_every_embedding_shares():
    """At initialisation the frame embeddings of different episodes point nearly the same way; VSM's global score
    compares them after centring, where that shared part is gone."""
    model, batch = make_model(), make_batch(8)
    model.train()
    with torch.no_grad():
        v = model(batch).frames                                                           # (B, T, dim)
        b, t, d = v.shape
        raw = F.normalize(v.mean(1), dim=-1)
        centred = F.normalize(model.center_frames(v.reshape(b * t, d)).view(b, t, d).mean(1), dim=-1)
    off = ~torch.eye(b, dtype=torch.bool)
    assert (raw @ raw.T)[off].mean() > 0.5                          # the shared direction dominates the raw ones
    assert (centred @ centred.T)[off].mean().abs() < 0.25           # and is gone after centring


@pytest.mark.parametrize("hierarchical", [True, False])
@pytest.mark.parametrize("task", HERO_TASKS)
def test_each_task_is_finite_and_trains_the_expected_parameters(task, hierarchical):
    model, batch = make_model(hierarchical), make_batch()
    loss, logs = TASK_FNS[task](model, batch, 0)
    assert loss.dim() == 0 and torch.isfinite(loss) and all(math.isfinite(v) for v in logs.values())
    loss.backward()
    used, unused = EXPECTED_GRADS[task]
    rename = {"cross": "flat", "temporal": "flat"} if not hierarchical else {}
    for name in used:
        grads = [p.grad for p in getattr(model, rename.get(name, name)).parameters()]
        assert any(g is not None and g.abs().sum() > 0 for g in grads), f"{task}: no gradient in {name}"
    for name in unused:
        if name in rename:
            continue
        assert all(p.grad is None for p in getattr(model, name).parameters()), f"{task}: gradient in {name}"


@pytest.mark.parametrize("task", ["mlm", "mfm", "vsm", "fom"])
def test_each_task_overfits_a_tiny_fixed_batch(task):
    model, batch = make_model(seed=1), make_batch(seed=1)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(40):
        loss, _ = TASK_FNS[task](model, batch, 0)              # step 0 every time: the same masks
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < 0.5 * losses[0], f"{task}: {losses[0]:.3f} -> {losses[-1]:.3f}"


def test_hero_loss_sums_the_tasks_reproducibly():
    model, batch = make_model(), make_batch()
    total, logs = hero_loss(model, batch, 7)
    assert set(logs) >= {"mlm", "mfm_nce", "vsm_local", "vsm_global", "fom", "fom_acc"}
    again, _ = hero_loss(model, batch, 7)
    torch.testing.assert_close(total, again)                                       # same step, same draws
    assert not torch.allclose(total, hero_loss(model, batch, 8)[0])                # another step, other draws
    # the sum of the task functions, drawing from one generator in the order of `tasks`, with the weights
    g = torch.Generator().manual_seed(3)
    parts = mlm_loss(model, batch, generator=g)[0], fom_loss(model, batch, generator=g)[0]
    weighted, _ = hero_loss(model, batch, tasks=("mlm", "fom"), weights={"fom": 0.5},
                            generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(weighted, parts[0] + 0.5 * parts[1])
    with pytest.raises(ValueError, match="tasks is empty"):
        hero_loss(model, batch, tasks=())
    with pytest.raises(ValueError, match="task must be 'mlm', 'mfm', 'vsm' or 'fom', got 'itm'"):
        hero_loss(model, batch, tasks=("mlm", "itm"))
    with pytest.raises(ValueError, match="must not repeat"):
        hero_loss(model, batch, tasks=("mlm", "mlm"))
    with pytest.raises(ValueError, match=r"weights\['mlm'\] must be a finite number in \[0, inf\)"):
        hero_loss(model, batch, weights={"mlm": -1.0})


def test_hero_loss_under_distributed_data_parallel(tmp_path):
    import torch.distributed as dist

    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'rendezvous'}", rank=0, world_size=1)
    try:
        model, batch = make_model(), make_batch()
        net = nn.parallel.DistributedDataParallel(model)
        opt = torch.optim.SGD(net.parameters(), lr=0.01)
        for step in range(2):   # a second step fails if a parameter was left out of the first reduction
            loss, _ = hero_loss(net, batch, step)
            opt.zero_grad()
            loss.backward()
            opt.step()
        assert torch.isfinite(loss)
        assert moment_scores(net, batch, batch["tokens"][:, 0], batch["lengths"][:, 0])[2].shape == (B, B)
    finally:
        dist.destroy_process_group()


# ----------------------------------------------------------------------------------------- downstream


def test_downstream_helpers():
    model, batch = make_model(), make_batch()
    queries, qlen = batch["tokens"][:3, 1], batch["lengths"][:3, 1]
    start, end, score = moment_scores(model, batch, queries, qlen)
    assert start.shape == end.shape == (3, B, T) and score.shape == (3, B) and not start.requires_grad
    assert (score.abs() <= 1 + 1e-5).all()                                          # a cosine
    feats = episode_features(model, batch)
    assert feats["frames"].shape == (B, T, DIM) and feats["pooled"].shape == (B, DIM)
    torch.testing.assert_close(feats["pooled"], model(batch).frames.mean(1))
    order, predicted = predict_order(model, batch, generator=torch.Generator().manual_seed(0))
    assert order.shape == predicted.shape == (B, T) and predicted.min() >= 0 and predicted.max() < T
    given = torch.arange(T).flip(0).repeat(B, 1)
    assert torch.equal(predict_order(model, batch, given)[0], given)


def test_fom_training_teaches_predict_order():
    model, batch = make_model(seed=2), make_batch(seed=2)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(40):
        loss, _ = fom_loss(model, batch, 0)
        opt.zero_grad()
        loss.backward()
        opt.step()
    order, _ = fom_order(B, T, generator=torch.Generator().manual_seed(0))   # fom_loss(step 0)'s own draw
    _, predicted = predict_order(model, batch, order)
    moved = order != torch.arange(T)
    assert (predicted[moved] == order[moved]).float().mean() > 0.75


# ----------------------------------------------------------------------------------------- bad input


def _bad(key, value):
    def edit(batch):
        batch[key] = value(batch) if callable(value) else value
    return edit


BAD = [
    (_bad("tokens", lambda b: b["tokens"][:, 0]), r"batch\['tokens'\] must be a long tensor \(B, S, L\) = \(4, S, L\)"),
    (_bad("tokens", lambda b: b["tokens"].float()), r"batch\['tokens'\] must be a long tensor"),
    (_bad("frames", lambda b: b["frames"][:, :, 0]), r"batch\['frames'\] must be a float tensor \(B, T, C, H, W\)"),
    (_bad("frames", lambda b: b["frames"].repeat(1, 1, 3, 1, 1)), r"with C = 1, got \(4, 12, 3, 16, 16\)"),
    (_bad("frames", lambda b: b["frames"][:0]), "the batch is empty"),
    (_bad("frames", torch.rand(B, 20, 1, 16, 16)), r"1\.\.16 frames \(max_frames\), got T = 20"),
    (_bad("tokens", lambda b: torch.cat([b["tokens"], b["tokens"]], 2)), r"at most 8 words \(max_words\), got L = 10"),
    (_bad("tokens", lambda b: b["tokens"] + VOCAB), r"word ids must lie in 0\.\.19"),
    (_bad("lengths", lambda b: b["lengths"][:, :2]), r"batch\['lengths'\] must be an integer tensor \(B, S\) = \(4, 3\)"),
    (_bad("lengths", lambda b: b["lengths"] + N), r"lengths must lie in 0\.\.5"),
    (_bad("subtitle_mask", torch.ones(B, S)), r"batch\['subtitle_mask'\] must be a bool tensor \(B, S\)"),
    (_bad("ends", lambda b: b["ends"] + 1), r"must lie in \[0, T\] = \[0, 12\]"),
    (_bad("starts", lambda b: b["starts"] - 1), r"must lie in \[0, T\] = \[0, 12\]"),
    (_bad("ends", torch.tensor([[3, 3, 12]] * B)), r"at least one frame.*episode 0, segment 1 is \[3, 3\)"),
    (_bad("starts", torch.tensor([[0, 4, 8]] * B)), "in order, contiguous and cover frames 0..T"),
    (lambda b: b.update(starts=torch.tensor([[0, 8, 3]] * B), ends=torch.tensor([[3, 12, 8]] * B)),
     r"in order, contiguous .* episode 0 has starts \[0, 8, 3\], ends \[3, 12, 8\]"),
]


@pytest.mark.parametrize("edit,match", BAD)
def test_bad_batches_raise_clear_errors(edit, match):
    model, batch = make_model(), make_batch()
    edit(batch)
    with pytest.raises(ValueError, match=match):
        model(batch)


def test_other_bad_inputs():
    model, batch = make_model(), make_batch()
    with pytest.raises(KeyError, match=r"batch needs \['starts'\]"):
        model({k: v for k, v in batch.items() if k != "starts"})
    flat = make_model(False)
    many = {**batch, "tokens": batch["tokens"].repeat(1, 2, 1), "lengths": batch["lengths"].repeat(1, 2),
            "starts": torch.tensor([[0, 2, 4, 6, 8, 10]] * B), "ends": torch.tensor([[2, 4, 6, 8, 10, 12]] * B)}
    with pytest.raises(ValueError, match=r"at most 4 subtitles \(max_segments\), got S = 6"):
        flat(many)
    assert model(many).frames.shape == (B, T, DIM)                    # the hierarchy has no such limit
    with pytest.raises(ValueError, match=r"word_mask must be a bool tensor \(4, 3, 5\)"):
        model(batch, word_mask=torch.zeros(B, S, N + 1, dtype=torch.bool))
    with pytest.raises(ValueError, match="holding a permutation of 0..11"):
        model(batch, order=torch.zeros(B, T, dtype=torch.long))
    with pytest.raises(ValueError, match=r"query lengths must lie in 1\.\.5"):
        model.encode_query(batch["tokens"][:, 0], torch.zeros(B, dtype=torch.long))
    with pytest.raises(ValueError, match="every episode.*episode 2 has none"):
        vsm_loss(model, {**batch, "subtitle_mask": torch.tensor([[True] * S] * 2 + [[False] * S] * 2)})
    with pytest.raises(TypeError, match="model must be a HERO"):
        mlm_loss(nn.Linear(2, 2), batch)
    with pytest.raises(ValueError, match="FOM shuffles at least 2 frames"):
        fom_order(2, 1)
    with pytest.raises(ValueError, match="vocab_size must be an int >= 3"):
        HERO(2)

