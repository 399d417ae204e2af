"""Tests for the SimVP video predictor (vidkit.models.simvp)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from vidkit.models.simvp import SimVP

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _small(**kw) -> SimVP:
    args = {"in_frames": 4, "out_frames": 3, "channels": 1, "hidden_s": 8, "hidden_t": 16, "n_translator": 2}
    return SimVP(**{**args, **kw})


def test_forward_shapes():
    torch.manual_seed(0)
    model = _small(channels=2)
    y = model(torch.rand(2, 4, 2, 16, 24))
    assert y.shape == (2, 3, 2, 16, 24)
    assert torch.isfinite(y).all()


def test_default_forward_shape():
    torch.manual_seed(0)
    y = SimVP()(torch.rand(1, 10, 1, 32, 32))
    assert y.shape == (1, 10, 1, 32, 32)


def test_more_out_than_in_frames():
    y = _small(in_frames=2, out_frames=5)(torch.rand(1, 2, 1, 8, 8))
    assert y.shape == (1, 5, 1, 8, 8)


@pytest.mark.parametrize("shape, match", [
    ((4, 1, 16, 16), "expected input of shape"),          # wrong ndim
    ((2, 5, 1, 16, 16), r"\(B, 4, 1, H, W\)"),            # wrong T_in
    ((2, 4, 3, 16, 16), r"\(B, 4, 1, H, W\)"),            # wrong C
    ((2, 4, 1, 18, 16), "divisible by 4"),                # H not divisible by 4
    ((2, 4, 1, 16, 10), "divisible by 4"),                # W not divisible by 4
])
def test_input_validation(shape, match):
    model = _small()
    with pytest.raises(ValueError, match=match):
        model(torch.rand(*shape))
    with pytest.raises(ValueError, match=match):
        model.predict(torch.rand(*shape), steps=2)


@pytest.mark.parametrize("patch, size", [(2, 8), (2, 24), (4, 16), (4, 64)])
def test_patch_forward_and_predict_shapes(patch, size):
    torch.manual_seed(0)
    model = _small(channels=2, patch=patch).eval()
    x = torch.rand(2, 4, 2, size, size)
    y = model(x)
    assert y.shape == (2, 3, 2, size, size)
    assert torch.isfinite(y).all()
    p = model.predict(x, steps=5)
    assert p.shape == (2, 5, 2, size, size) and p.min() >= 0 and p.max() <= 1


def test_patch_encoder_sees_space_to_depth_frames():
    """patch=p: the encoder's first conv takes C*p*p channels, the decoder reads out C*p*p channels, and the
    latent grid is H/(4p) x W/(4p)."""
    model = _small(channels=2, patch=4)
    assert model.encoder.first.conv.in_channels == 2 * 16
    assert model.decoder.readout.out_channels == 2 * 16
    seen = {}
    model.translator.register_forward_hook(lambda mod, args, out: seen.update(shape=tuple(out.shape)))
    model(torch.rand(1, 4, 2, 32, 48))
    assert seen["shape"] == (1, 3 * 8, 2, 3)  # (B, T_out * hidden_s, 32/16, 48/16)


@pytest.mark.parametrize("shape", [(1, 4, 1, 16, 12), (1, 4, 1, 12, 16), (1, 4, 1, 4, 4)])
def test_patch_input_validation(shape):
    """With patch=2, H and W must be divisible by 8 (4 for the encoder's strides x 2 for the patches)."""
    model = _small(patch=2)
    with pytest.raises(ValueError, match="divisible by 8"):
        model(torch.rand(*shape))


def test_patch_one_is_default_behaviour():
    torch.manual_seed(0)
    a = _small()
    torch.manual_seed(0)
    b = _small(patch=1)
    x = torch.rand(2, 4, 1, 8, 8)
    assert torch.equal(a(x), b(x))


def test_patch_parameter_count():
    """patch only widens the encoder's first conv and the decoder's read-out: 1,061,776 parameters at the
    defaults with patch=4 (vs 1,056,961 with patch=1)."""
    assert sum(p.numel() for p in SimVP(patch=4).parameters()) == 1_061_776


def test_non_tensor_input():
    with pytest.raises(TypeError, match="expected a tensor"):
        _small()([[0.0]])


@pytest.mark.parametrize("kw", [{"in_frames": 0}, {"out_frames": -1}, {"channels": 1.5}, {"hidden_s": True},
                                {"hidden_t": 0}, {"n_translator": "4"}, {"patch": 0}, {"patch": 2.0},
                                {"patch": False}])
def test_constructor_validation(kw):
    name = next(iter(kw))
    with pytest.raises(ValueError, match=f"{name} must be a positive int"):
        _small(**kw)


@pytest.mark.parametrize("steps", [0, -3, 2.0, True])
def test_predict_bad_steps(steps):
    with pytest.raises(ValueError, match="steps must be a positive int"):
        _small().predict(torch.rand(1, 4, 1, 8, 8), steps=steps)


@pytest.mark.parametrize("steps", [None, 3, 1, 110])
def test_predict_shapes_and_range(steps):
    torch.manual_seed(0)
    model = SimVP(in_frames=10, out_frames=10, hidden_s=8, hidden_t=32, n_translator=2).eval()
    x = torch.rand(2, 10, 1, 8, 8)
    p = model.predict(x, steps=steps)
    assert p.shape == (2, steps or 10, 1, 8, 8)
    assert torch.isfinite(p).all() and p.min() >= 0 and p.max() <= 1
    assert not p.requires_grad


def test_predict_truncates_and_rolls_out_consistently():
    torch.manual_seed(0)
    model = _small(in_frames=4, out_frames=3).eval()
    x = torch.rand(1, 4, 1, 8, 8)
    full = model.predict(x, steps=7)
    assert torch.allclose(model.predict(x, steps=2), full[:, :2])
    assert torch.allclose(torch.sigmoid(model(x)), full[:, :3])
    # the second chunk is predicted from the last observed frame + the first 3 predictions
    window = torch.cat([x[:, -1:], full[:, :3]], dim=1)
    assert torch.allclose(torch.sigmoid(model(window)), full[:, 3:6], atol=1e-6)


def test_skip_uses_last_input_frame():
    """With the translator zeroed out, the output depends on the input only through the decoder's skip
    connection, which carries the encoder's first-layer features of the last input frame alone."""
    torch.manual_seed(0)
    model = _small().eval()
    for p in model.translator.parameters():
        torch.nn.init.zeros_(p)
    x = torch.rand(1, 4, 1, 8, 8)
    x_first, x_last = x.clone(), x.clone()
    x_first[:, 0] = torch.rand(1, 1, 8, 8)
    x_last[:, -1] = torch.rand(1, 1, 8, 8)
    assert torch.allclose(model(x), model(x_first))
    assert not torch.allclose(model(x), model(x_last))


def test_default_parameter_count():
    """Defaults (10->10 frames, 1 channel, hidden_s=32, hidden_t=128, 4 blocks): 1,056,961 parameters."""
    n = sum(p.numel() for p in SimVP().parameters())
    print(f"SimVP default parameters: {n:,}")
    assert n == 1_056_961
    assert 5e5 < n < 5e6


def _moving_squares(n: int = 4, t: int = 8, size: int = 16, side: int = 4) -> torch.Tensor:
    """``(n, t, 1, size, size)`` binary frames of a square bouncing around diagonally."""
    g = torch.Generator().manual_seed(0)
    v = torch.zeros(n, t, 1, size, size)
    span = size - side
    for i in range(n):
        r, c = torch.randint(0, span, (2,), generator=g).tolist()
        dr, dc = (1, 1) if i % 2 == 0 else (-1, 1)
        for k in range(t):
            rr, cc = (r + dr * k) % span, (c + dc * k) % span
            v[i, k, 0, rr:rr + side, cc:cc + side] = 1.0
    return v


def test_overfit_tiny_batch():
    torch.manual_seed(0)
    v = _moving_squares()
    x, y = v[:, :4], v[:, 4:]
    model = SimVP(in_frames=4, out_frames=4, channels=1, hidden_s=8, hidden_t=32, n_translator=2)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(150):
        loss = F.binary_cross_entropy_with_logits(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0], (losses[0], losses[-1])
    # well below the loss of predicting every pixel's mean intensity, i.e. it learned where squares go
    p = y.mean()
    mean_bce = -(p * p.log() + (1 - p) * (1 - p).log()).item()
    assert losses[-1] < 0.5 * mean_bce, (losses[-1], mean_bce)


@pytest.mark.parametrize("patch, size", [(1, 8), (4, 32)])
def test_one_downsample_stage_keeps_a_finer_latent(patch, size):
    torch.manual_seed(0)
    model = _small(patch=patch, downsample=1).eval()
    x = torch.rand(2, 4, 1, size, size)
    z, _ = model.encoder(F.pixel_unshuffle(x.reshape(8, 1, size, size), patch) if patch > 1 else x.reshape(8, 1, size, size))
    assert z.shape[-2:] == (size // (2 * patch), size // (2 * patch))  # half the patched frame, not a quarter
    assert model(x).shape == (2, 3, 1, size, size)
    assert model.predict(x, steps=5).shape == (2, 5, 1, size, size)
    with pytest.raises(ValueError, match=f"divisible by {2 * patch}"):
        model(torch.rand(2, 4, 1, size + patch, size))


@pytest.mark.parametrize("bad", [0, 3, True, 1.0])
def test_downsample_must_be_one_or_two(bad):
    with pytest.raises(ValueError, match="downsample must be 1 or 2"):
        _small(downsample=bad)


# ---- readout="filter": frames made by moving the previous frame's pixels with per-pixel kernels ----

def _one_hot(n: int, k: int, tap: int, h: int, w: int) -> torch.Tensor:
    kernel = torch.zeros(n, k, h, w)
    kernel[:, tap] = 1.0
    return kernel


def test_dynamic_filter_one_hot_kernels_shift_by_whole_pixels():
    from vidkit.models.simvp import dynamic_filter

    torch.manual_seed(0)
    frame = torch.rand(2, 3, 12, 10)
    # tap i of ky reads row y + i - 4; tap j of kx reads column x + j - 4: out[y, x] = frame[y + 2, x - 3]
    out = dynamic_filter(frame, _one_hot(2, 9, 6, 12, 10), _one_hot(2, 9, 1, 12, 10))
    expected = torch.zeros_like(frame)
    expected[..., :10, 3:] = frame[..., 2:, :7]  # zero where the source is outside the frame
    assert torch.equal(out, expected)
    assert torch.equal(dynamic_filter(frame, _one_hot(2, 5, 2, 12, 10), _one_hot(2, 5, 2, 12, 10)), frame)


def test_dynamic_filter_uniform_kernels_are_a_box_blur():
    from vidkit.models.simvp import dynamic_filter

    torch.manual_seed(0)
    frame = torch.rand(2, 1, 8, 8)
    uniform = torch.full((2, 3, 8, 8), 1 / 3)
    box = F.avg_pool2d(frame, 3, stride=1, padding=1, count_include_pad=True)  # zero padding, / 9
    torch.testing.assert_close(dynamic_filter(frame, uniform, uniform), box)


def test_filter_readout_shapes_range_and_validation():
    torch.manual_seed(0)
    model = _small(readout="filter", filter_size=5, patch=2).eval()
    x = torch.rand(2, 4, 1, 16, 16)
    assert model(x).shape == (2, 3, 1, 16, 16)
    p = model.predict(x, steps=7)
    assert p.shape == (2, 7, 1, 16, 16) and 0 < p.min() and p.max() < 1
    with pytest.raises(ValueError, match="readout must be 'pixels' or 'filter'"):
        _small(readout="flow")
    with pytest.raises(ValueError, match="filter_size must be odd"):
        _small(readout="filter", filter_size=4)
    with pytest.raises(ValueError, match="filter_size must be a positive int"):
        _small(readout="filter", filter_size=0)


def test_filter_readout_moves_the_last_frame():
    """With the decoder's read-out forced to one kernel (tap 3 of 5 down, tap 1 across), every future frame is
    the frame before it moved one pixel up and one right: frame t of the output is the last input moved t+1."""
    torch.manual_seed(0)
    model = _small(readout="filter", filter_size=5, patch=2).eval()
    k = 5
    with torch.no_grad():
        model.decoder.readout.weight.zero_()
        bias = torch.full((2, k), -30.0)
        bias[0, 3] = bias[1, 1] = 30.0  # ky: read row y + 1; kx: read column x - 1
        model.decoder.readout.bias.copy_(bias.reshape(-1))
    x = torch.rand(2, 4, 1, 16, 16)
    probs = torch.sigmoid(model(x))
    last = x[:, -1]
    for t in range(3):
        s = t + 1
        expected = torch.zeros_like(last)
        expected[..., :16 - s, s:] = last[..., s:, :16 - s]
        torch.testing.assert_close(probs[:, t], expected * (1 - 2e-4) + 1e-4, atol=1e-5, rtol=0)
    assert model.decoder.readout.out_channels == 2 * k  # one pair of kernels per p x p block


def test_filter_readout_learns_to_move_squares():
    """Squares moving one pixel per frame diagonally, never touching a wall: the kernels must learn the motion;
    the predictions end far closer to the truth than copying the last frame."""
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    v = torch.zeros(4, 8, 1, 16, 16)
    for i in range(4):
        dr = 1 if i % 2 == 0 else -1
        r = int(torch.randint(0, 2, (1,), generator=g)) + (0 if dr == 1 else 10)
        c = int(torch.randint(0, 3, (1,), generator=g))
        for k in range(8):
            v[i, k, 0, r + dr * k:r + dr * k + 4, c + k:c + k + 4] = 1.0
    x, y = v[:, :4], v[:, 4:]
    model = SimVP(in_frames=4, out_frames=4, channels=1, hidden_s=8, hidden_t=32, n_translator=2,
                  readout="filter", filter_size=3)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(150):
        loss = F.binary_cross_entropy_with_logits(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    mse = F.mse_loss(torch.sigmoid(model(x)), y).item()
    copy_last = F.mse_loss(x[:, -1:].expand_as(y), y).item()
    assert mse < 0.1 * copy_last, (mse, copy_last)
