"""Attention models and metrics: weights that sum to 1, shapes, brute-force checks, known-answer maps, overfitting."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from vidkit.eval.attention import attention_mass, box_area_fraction, pointing_game, temporal_weight_profile
from vidkit.losses import attention_regulariser
from vidkit.models import (
    AttentionOutput,
    FrameCNN,
    LRCNClassifier,
    MultiLSTM,
    PoolingClassifier,
    SoftAttentionLSTM,
    TemporalAttentionLSTM,
    attention_loss,
    dot_product_attention,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")

HEADS = {"action": 8, "digit": 10}
SMALL = {"width": 4, "grid": 4, "hidden": 16}   # 16 x 16 frames -> a 4 x 4 grid
MODELS = {
    "soft": lambda: SoftAttentionLSTM(HEADS, **SMALL),
    "temporal": lambda: TemporalAttentionLSTM(HEADS, attn_dim=8, **SMALL),
    "multi": lambda: MultiLSTM(HEADS, window=3, attn_dim=8, **SMALL),
    "lrcn last": lambda: LRCNClassifier(HEADS, **SMALL),
    "lrcn mean": lambda: LRCNClassifier(HEADS, pool="mean", **SMALL),
    "pool conv": lambda: PoolingClassifier(HEADS, "conv", **SMALL),
    "pool late": lambda: PoolingClassifier(HEADS, "late", **SMALL),
    "pool slow": lambda: PoolingClassifier(HEADS, "slow", **SMALL),
}
B, T, S = 3, 6, 16


def _clips(b: int = B, t: int = T, seed: int = 0) -> torch.Tensor:
    return torch.rand(b, t, 1, S, S, generator=torch.Generator().manual_seed(seed))


# ----------------------------------------------------------------------------- dot_product_attention

def _attention_loop(q, k, v, mask=None, scale=True):
    """Per sample, per key, with plain Python sums: the definition."""
    contexts, weights = [], []
    for i in range(q.shape[0]):
        scores = []
        for n in range(k.shape[1]):
            s = sum(float(q[i, d]) * float(k[i, n, d]) for d in range(q.shape[1]))
            if scale:
                s /= math.sqrt(q.shape[1])
            scores.append(s if mask is None or bool(mask[i, n]) else None)
        top = max(s for s in scores if s is not None)
        e = [0.0 if s is None else math.exp(s - top) for s in scores]
        a = [x / sum(e) for x in e]
        weights.append(a)
        contexts.append([sum(a[n] * float(v[i, n, j]) for n in range(k.shape[1])) for j in range(v.shape[2])])
    return torch.tensor(contexts, dtype=torch.float64), torch.tensor(weights, dtype=torch.float64)


@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("scale", [True, False])
def test_dot_product_attention_matches_the_definition(masked, scale):
    g = torch.Generator().manual_seed(1)
    q, k, v = torch.randn(4, 5, generator=g), torch.randn(4, 7, 5, generator=g), torch.randn(4, 7, 3, generator=g)
    mask = torch.rand(4, 7, generator=g) > 0.4 if masked else None
    if mask is not None:
        mask[:, 2] = True                           # at least one key per row
        mask[0] = False
        mask[0, 6] = True                           # a row with a single allowed key
    context, weights = dot_product_attention(q, k, v, mask=mask, scale=scale)
    want_context, want_weights = _attention_loop(q, k, v, mask, scale)
    assert context.shape == (4, 3) and weights.shape == (4, 7)
    torch.testing.assert_close(weights.double(), want_weights, atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(context.double(), want_context, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(weights.sum(1), torch.ones(4))
    if mask is not None:
        assert (weights[~mask] == 0).all()
        assert weights[0, 6] == 1


def test_dot_product_attention_validation():
    q, k, v = torch.rand(2, 4), torch.rand(2, 5, 4), torch.rand(2, 5, 3)
    with pytest.raises(ValueError, match=r"query must have shape \(B, D\)"):
        dot_product_attention(q[0], k, v)
    with pytest.raises(ValueError, match=r"keys must have shape \(B, N, D\) = \(2, N, 4\)"):
        dot_product_attention(q, torch.rand(2, 5, 3), v)
    with pytest.raises(ValueError, match=r"values must have shape \(B, N, Dv\) = \(2, 5, Dv\)"):
        dot_product_attention(q, k, torch.rand(2, 4, 3))
    with pytest.raises(TypeError, match="float"):
        dot_product_attention(q.long(), k, v)
    with pytest.raises(TypeError, match="bool"):
        dot_product_attention(q, k, v, mask=torch.ones(2, 5))
    with pytest.raises(ValueError, match=r"mask must have shape \(B, N\) = \(2, 5\)"):
        dot_product_attention(q, k, v, mask=torch.ones(2, 4, dtype=torch.bool))
    with pytest.raises(ValueError, match="at least one True"):
        dot_product_attention(q, k, v, mask=torch.tensor([[True] * 5, [False] * 5]))


# ----------------------------------------------------------------------------- models

def test_frame_cnn_grid_and_coordinates():
    cnn = FrameCNN(1, width=8, grid=8)
    f = cnn(torch.rand(2, 3, 1, 32, 32))
    assert (cnn.dim, cnn.grid) == (10, 8) and f.shape == (2, 3, 64, 10)
    # the last two channels are the cell centres (x, y): row i * K + j is cell (i, j)
    assert f[0, 0, 0, -2:].tolist() == [-0.875, -0.875]
    assert f[1, 2, 1 * 8 + 7, -2:].tolist() == [0.875, -0.625]
    assert FrameCNN(1, width=8, grid=8, coords=False)(torch.rand(1, 1, 1, 32, 32)).shape == (1, 1, 64, 8)
    with pytest.raises(ValueError, match="at least 32 px"):
        cnn(torch.rand(1, 2, 1, 16, 16))
    with pytest.raises(ValueError, match="grid"):
        FrameCNN(grid=0)


@pytest.mark.parametrize("name", MODELS)
def test_output_shapes_and_weights(name):
    model = MODELS[name]()
    out = model(_clips())
    assert isinstance(out, AttentionOutput)
    assert {h: tuple(v.shape) for h, v in out.logits.items()} == {"action": (B, 8), "digit": (B, 10)}
    assert out.features.shape == (B, 16)
    # the heads are linear: the clip logits are the heads applied to the features
    for h, layer in model.heads.layers.items():
        torch.testing.assert_close(out.logits[h], layer(out.features))
    if out.frame_logits is not None:
        assert {h: tuple(v.shape) for h, v in out.frame_logits.items()} == {"action": (B, T, 8), "digit": (B, T, 10)}
    if name == "soft":
        assert out.spatial.shape == (B, T, 4, 4) and out.temporal is None
        assert (out.spatial >= 0).all()
        torch.testing.assert_close(out.spatial.sum((2, 3)), torch.ones(B, T))
        torch.testing.assert_close(out.logits["action"], out.frame_logits["action"].mean(1))
    elif name == "temporal":
        assert out.temporal.shape == (B, T) and out.spatial is None
        torch.testing.assert_close(out.temporal.sum(1), torch.ones(B))
        # an attention-weighted vote of per-frame predictions
        vote = (out.temporal[..., None] * out.frame_logits["digit"]).sum(1)
        torch.testing.assert_close(out.logits["digit"], vote)
    elif name == "multi":
        assert out.temporal.shape == (B, T, 3) and out.spatial is None
        torch.testing.assert_close(out.temporal.sum(2), torch.ones(B, T))
        # window of step t = frames t-2, t-1, t: positions before frame 0 are masked to exactly 0
        assert (out.temporal[:, 0, :2] == 0).all() and (out.temporal[:, 0, 2] == 1).all()
        assert (out.temporal[:, 1, 0] == 0).all() and (out.temporal[:, 1, 1:] > 0).all()
        assert (out.temporal[:, 2:] > 0).all()
    else:
        assert out.spatial is None and out.temporal is None


@pytest.mark.parametrize("name", MODELS)
def test_input_validation(name):
    model = MODELS[name]()
    with pytest.raises(ValueError, match=r"\(B, T, 1, H, W\)"):
        model(torch.rand(T, 1, S, S))                      # no batch dimension
    with pytest.raises(ValueError, match=r"\(B, T, 1, H, W\)"):
        model(torch.rand(B, T, 3, S, S))                   # RGB into a grayscale model
    with pytest.raises(ValueError, match="float"):
        model(torch.zeros(B, T, 1, S, S, dtype=torch.uint8))
    with pytest.raises(TypeError):
        model(np.zeros((B, T, 1, S, S), np.float32))


def test_constructor_validation():
    with pytest.raises(ValueError, match="heads"):
        SoftAttentionLSTM({})
    with pytest.raises(ValueError, match="heads"):
        MultiLSTM({"action": 0})
    with pytest.raises(ValueError, match="hidden"):
        TemporalAttentionLSTM(hidden=0)
    with pytest.raises(ValueError, match="window"):
        MultiLSTM(window=0)
    with pytest.raises(ValueError, match="pool"):
        PoolingClassifier(pool="mean")
    with pytest.raises(ValueError, match="pool"):
        LRCNClassifier(pool="max")
    with pytest.raises(ValueError, match="window=8"):
        PoolingClassifier(HEADS, "slow", window=8, **SMALL)(_clips(t=5))
    assert list(SoftAttentionLSTM().heads.sizes) == ["action"]          # the default head


def test_multilstm_windows_by_hand():
    """Re-run MultiLSTM's recurrence with explicit Python slicing of the window and compare every weight."""
    torch.manual_seed(0)
    model, n = MODELS["multi"](), 3
    x = _clips()
    out = model(x)
    g = model.frame_features(x)
    h = c = torch.zeros(B, 16)
    for t in range(T):
        frames = list(range(max(0, t - n + 1), t + 1))
        ctx, a = dot_product_attention(model.query(h), model.key(g[:, frames]), g[:, frames])
        h, c = model.cell(ctx, (h, c))
        torch.testing.assert_close(out.temporal[:, t, n - len(frames):], a)


def test_soft_and_temporal_attention_by_hand():
    """Sharma's recurrence (query from h_{t-1}, keys = values = frame t's cells) and the temporal model's
    query (final state) / keys / values, recomputed step by step."""
    torch.manual_seed(0)
    x = _clips()
    soft = MODELS["soft"]().eval()
    out, f = soft(x), soft.cnn(x)
    f_bar = f.mean(dim=(1, 2))
    h, c = soft.init_h(f_bar), soft.init_c(f_bar)
    for t in range(T):
        glimpse, a = dot_product_attention(soft.query(h), f[:, t], f[:, t])
        torch.testing.assert_close(out.spatial[:, t].flatten(1), a)
        h, c = soft.cell(glimpse, (h, c))
        for head, layer in soft.heads.layers.items():
            torch.testing.assert_close(out.frame_logits[head][:, t], layer(h))
    temporal = MODELS["temporal"]().eval()
    out = temporal(x)
    states = [temporal.lstm(temporal.frame_features(x)[:, :t + 1])[0][:, -1] for t in range(T)]
    states = torch.stack(states, dim=1)                          # the LSTM run on each prefix: its last state
    context, a = dot_product_attention(temporal.query(states[:, -1]), temporal.key(states), temporal.value(states))
    torch.testing.assert_close(out.temporal, a)
    torch.testing.assert_close(out.features, context)


def test_order_blind_pooling_and_causal_recurrence():
    torch.manual_seed(0)
    x = _clips()
    for pool in ("conv", "late"):
        model = MODELS[f"pool {pool}"]()
        torch.testing.assert_close(model(x).logits["action"], model(x.flip(1)).logits["action"])
    assert not torch.allclose(MODELS["lrcn last"]()(x).logits["action"],
                              MODELS["lrcn last"]()(x.flip(1)).logits["action"])
    # changing the last frame cannot change earlier attention of the step-by-step models (soft: except via
    # the initial state, which reads the mean feature over all frames)
    y = x.clone()
    y[:, -1] = torch.rand(B, 1, S, S)
    multi = MODELS["multi"]().eval()                     # eval: BatchNorm statistics do not mix the frames
    torch.testing.assert_close(multi(x).temporal[:, :-1], multi(y).temporal[:, :-1])
    assert not torch.allclose(multi(x).temporal[:, -1], multi(y).temporal[:, -1])


# ----------------------------------------------------------------------------- losses

def test_attention_regulariser_matches_a_loop():
    g = torch.Generator().manual_seed(0)
    a = torch.rand(3, 5, 4, 4, generator=g).flatten(2).softmax(-1).view(3, 5, 4, 4)
    want = 0.0
    for b in range(3):
        for i in range(4):
            for j in range(4):
                want += (1 - sum(float(a[b, t, i, j]) for t in range(5))) ** 2
    assert attention_regulariser(a).item() == pytest.approx(want / 3, rel=1e-6)
    # its minimum L (1 - T/L)^2 at equal totals; staring at one cell costs much more
    uniform = torch.full((2, 16, 8, 8), 1 / 64)
    assert attention_regulariser(uniform).item() == pytest.approx(64 * (1 - 16 / 64) ** 2)
    stare = torch.zeros(2, 16, 8, 8)
    stare[:, :, 3, 3] = 1
    assert attention_regulariser(stare).item() == pytest.approx(15 ** 2 + 63)
    with pytest.raises(ValueError, match=r"\(B, T, K, K\)"):
        attention_regulariser(torch.rand(16, 8, 8))
    with pytest.raises(TypeError, match="float"):
        attention_regulariser(torch.ones(2, 16, 8, 8, dtype=torch.long))


def test_attention_loss_sums_the_heads_and_the_penalty():
    torch.manual_seed(0)
    out = MODELS["soft"]()(_clips())
    labels = {"action": torch.tensor([0, 7, 3]), "digit": torch.tensor([9, 0, 4]), "frames": None}
    loss, logs = attention_loss(out, labels, reg=0.5)
    ce = sum(F.cross_entropy(out.logits[h], labels[h]) for h in HEADS)
    torch.testing.assert_close(loss, ce + 0.5 * attention_regulariser(out.spatial))
    assert set(logs) == {"ce_action", "ce_digit", "acc_action", "acc_digit", "reg"}
    assert logs["ce_digit"] == pytest.approx(F.cross_entropy(out.logits["digit"], labels["digit"]).item())
    loss0, _ = attention_loss(out, labels)
    torch.testing.assert_close(loss0, ce)
    plain = MODELS["pool conv"]()(_clips())
    assert "reg" not in attention_loss(plain, labels, reg=1.0)[1]
    with pytest.raises(KeyError, match="digit"):
        attention_loss(out, {"action": labels["action"]})
    with pytest.raises(ValueError, match=r"\[0, 8\)"):
        attention_loss(out, {**labels, "action": torch.tensor([0, 8, 1])})
    with pytest.raises(TypeError, match="integer"):
        attention_loss(out, {**labels, "action": torch.zeros(3)})
    with pytest.raises(ValueError, match="reg"):
        attention_loss(out, labels, reg=-1.0)


def test_soft_attention_lstm_overfits_a_few_clips():
    """16 fixed random clips with random labels: the loss must fall far below its start (memorisation)."""
    torch.manual_seed(0)
    x = torch.rand(16, 8, 1, 16, 16)
    labels = {"action": torch.randint(0, 8, (16,)), "digit": torch.randint(0, 10, (16,))}
    model = SoftAttentionLSTM(HEADS, width=8, grid=4, hidden=32)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(50):
        loss, _ = attention_loss(model(x), labels, reg=0.01)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[0] > 3.5                                  # ~ log 8 + log 10 + the penalty
    assert min(losses[-5:]) < 0.25 * losses[0], losses[::10]


# ----------------------------------------------------------------------------- metrics

def _one_hot_map(i: int, j: int, k: int = 4) -> np.ndarray:
    a = np.zeros((1, 1, k, k))
    a[0, 0, i, j] = 1.0
    return a


def test_pointing_game_and_mass_on_known_maps():
    box = np.array([[[8.0, 0.0, 16.0, 8.0]]])               # x in [8, 16), y in [0, 8): cells (0, 2) and (1, 3)?
    # 16 px frame, K = 4: cells are 4 px; cell (i, j) centre ((j + .5) 4, (i + .5) 4)
    inside, outside = _one_hot_map(1, 3), _one_hot_map(2, 0)
    assert pointing_game(inside, box, 16) == 1.0 and attention_mass(inside, box, 16) == 1.0
    assert pointing_game(outside, box, 16) == 0.0 and attention_mass(outside, box, 16) == 0.0
    # x1 is exclusive: a box ending exactly at a cell's centre misses it
    assert pointing_game(_one_hot_map(0, 1), np.array([[[0.0, 0.0, 6.0, 4.0]]]), 16) == 0.0
    assert pointing_game(_one_hot_map(0, 1), np.array([[[0.0, 0.0, 6.5, 4.0]]]), 16) == 1.0
    # a cell half covered by the box gives half its mass
    assert attention_mass(_one_hot_map(0, 2), np.array([[[10.0, 0.0, 16.0, 16.0]]]), 16) == pytest.approx(0.5)
    # a uniform map: mass = area fraction = chance
    uniform = np.full((1, 1, 4, 4), 1 / 16)
    assert attention_mass(uniform, box, 16) == pytest.approx(64 / 256) == box_area_fraction(box, 16)
    # two frames, the second without an actor: only the first is scored
    two = np.concatenate([inside, outside], axis=1)
    boxes = np.concatenate([box, np.zeros((1, 1, 4))], axis=1)
    assert pointing_game(two, boxes, 16) == 1.0 and attention_mass(two, boxes, 16) == 1.0
    assert box_area_fraction(boxes, 16) == pytest.approx(0.25)
    # tensors work the same, and an un-normalised map is scored as shares of its total
    assert attention_mass(torch.tensor(two * 3, dtype=torch.float32), torch.tensor(boxes), 16) == 1.0


def test_attention_mass_matches_pixel_upsampling():
    rng = np.random.default_rng(0)
    a = rng.random((3, 5, 8, 8))
    a /= a.sum(axis=(2, 3), keepdims=True)
    x0, y0 = rng.integers(0, 20, (2, 3, 5))
    w, h = rng.integers(1, 13, (2, 3, 5))
    boxes = np.stack([x0, y0, x0 + w, y0 + h], -1).astype(np.float32)
    boxes[1, 2] = 0                                          # an invisible actor
    pixels = a.repeat(4, axis=2).repeat(4, axis=3) / 16     # (3, 5, 32, 32): each cell spread over its 4x4 pixels
    masses, hits, areas = [], [], []
    for n in range(3):
        for t in range(5):
            bx0, by0, bx1, by1 = boxes[n, t].astype(int)
            if bx1 <= bx0:
                continue
            masses.append(pixels[n, t, by0:by1, bx0:bx1].sum())
            i, j = np.unravel_index(a[n, t].argmax(), (8, 8))
            hits.append(bx0 <= (j + 0.5) * 4 < bx1 and by0 <= (i + 0.5) * 4 < by1)
            areas.append((bx1 - bx0) * (by1 - by0) / 32 ** 2)
    assert len(masses) == 14
    assert attention_mass(a, boxes, 32) == pytest.approx(np.mean(masses))
    assert pointing_game(torch.from_numpy(a), torch.from_numpy(boxes), 32) == pytest.approx(np.mean(hits))
    assert box_area_fraction(boxes, 32) == pytest.approx(np.mean(areas))
    # a frame size that is not a multiple of K: a uniform map still scores the area fraction
    uniform = np.full((3, 5, 8, 8), 1 / 64)
    assert attention_mass(uniform, boxes * 30 / 32, 30) == pytest.approx(box_area_fraction(boxes * 30 / 32, 30))


def test_attention_metric_validation():
    a, box = _one_hot_map(0, 0), np.array([[[0.0, 0.0, 4.0, 4.0]]])
    with pytest.raises(ValueError, match=r"\(N, T, K, K\)"):
        pointing_game(a[0], box, 16)
    with pytest.raises(ValueError, match=r"\(N, T, K, K\)"):
        attention_mass(np.zeros((1, 1, 4, 3)), box, 16)
    with pytest.raises(ValueError, match=r"\(N, T, 4\) = \(1, 1, 4\)"):
        pointing_game(a, np.zeros((1, 2, 4)), 16)
    with pytest.raises(ValueError, match="non-negative"):
        attention_mass(-a, box, 16)
    with pytest.raises(ValueError, match="finite"):
        attention_mass(a * np.nan, box, 16)
    with pytest.raises(ValueError, match="positive total"):
        attention_mass(a * 0, box, 16)
    with pytest.raises(ValueError, match="non-empty box"):
        pointing_game(a, np.zeros((1, 1, 4)), 16)
    with pytest.raises(ValueError, match="inside the 16 px frame"):
        box_area_fraction(np.array([[[0.0, 0.0, 20.0, 4.0]]]), 16)
    with pytest.raises(ValueError, match="x1 >= x0"):
        box_area_fraction(np.array([[[8.0, 0.0, 4.0, 4.0]]]), 16)
    with pytest.raises(ValueError, match="frame_size"):
        pointing_game(a, box, 0)
    with pytest.raises(TypeError, match="numpy array or torch tensor"):
        pointing_game(a.tolist(), box, 16)


def test_temporal_weight_profile():
    w = np.array([[0.5, 0.5, 0.0], [0.0, 0.5, 0.5], [1.0, 0.0, 0.0]])
    prof = temporal_weight_profile(torch.tensor(w), torch.tensor([2, 2, 0]), 3)
    assert prof.shape == (3, 3)
    np.testing.assert_allclose(prof[0], [1.0, 0.0, 0.0])
    np.testing.assert_allclose(prof[2], [0.25, 0.5, 0.25])
    assert np.isnan(prof[1]).all()                           # no clip of class 1
    with pytest.raises(ValueError, match=r"\[0, 2\)"):
        temporal_weight_profile(w, np.array([0, 1, 2]), 2)
    with pytest.raises(ValueError, match=r"\(3,\)"):
        temporal_weight_profile(w, np.array([0, 1]), 3)
    with pytest.raises(TypeError, match="integer"):
        temporal_weight_profile(w, np.array([0.0, 1.0, 2.0]), 3)
    with pytest.raises(ValueError, match=r"\(N, T\)"):
        temporal_weight_profile(w[None], np.array([0, 1, 2]), 3)
