"""Tests for the Srivastava et al. 2015 LSTM autoencoder / future predictor / composite model."""

from __future__ import annotations

import math

import pytest
import torch

from vidkit.models.srivastava import SrivastavaLSTM

MODES = ["autoencoder", "future", "composite"]
FRAME = (1, 16, 16)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def moving_squares(n: int = 4, frames: int = 8, size: int = 16, side: int = 4) -> torch.Tensor:
    """``(n, frames, 1, size, size)`` binary videos of a square moving one pixel per frame."""
    video = torch.zeros(n, frames, 1, size, size)
    for i in range(n):
        y, x = 2 + 3 * i, 1 + 2 * i
        dy, dx = (1, 1) if i % 2 == 0 else (-1, 1)
        for t in range(frames):
            ty = (y + dy * t) % (size - side)
            tx = (x + dx * t) % (size - side)
            video[i, t, 0, ty:ty + side, tx:tx + side] = 1.0
    return video


def small(mode: str, conditioned: bool = False, layers: int = 1, hidden: int = 32) -> SrivastavaLSTM:
    torch.manual_seed(0)
    return SrivastavaLSTM(mode=mode, conditioned=conditioned, layers=layers, hidden=hidden, frame_shape=FRAME)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("conditioned", [False, True])
@pytest.mark.parametrize("layers", [1, 2])
def test_shapes(mode: str, conditioned: bool, layers: int) -> None:
    model = small(mode, conditioned, layers)
    x = torch.rand(2, 5, *FRAME)
    out = model(x, steps=3)
    expected = {"autoencoder": {"reconstruction"}, "future": {"future"},
                "composite": {"reconstruction", "future"}}[mode]
    assert set(out) == expected
    if "reconstruction" in out:
        assert out["reconstruction"].shape == (2, 5, *FRAME)
    if "future" in out:
        assert out["future"].shape == (2, 3, *FRAME)
    assert model.embed(x).shape == (2, layers * 32)
    future = torch.rand(2, 3, *FRAME).round() if mode != "autoencoder" else None
    total, logs = model.loss(x, future)
    assert total.dim() == 0 and total.item() == pytest.approx(logs["loss"], rel=1e-5)
    assert set(logs) == expected | {"loss"}
    assert model.loss(x, future, kind="mse")[0].item() > 0


@pytest.mark.parametrize("mode", MODES)
def test_validation_errors(mode: str) -> None:
    model = small(mode, conditioned=True)
    good = torch.rand(2, 4, *FRAME)
    with pytest.raises(ValueError, match=r"\(B, T_in, 1, 16, 16\)"):
        model(torch.rand(2, 4, 16, 16))
    with pytest.raises(ValueError, match=r"\(B, T_in, 1, 16, 16\)"):
        model(torch.rand(2, 4, 3, 16, 16))
    with pytest.raises(TypeError):
        model([1, 2, 3])
    with pytest.raises(ValueError, match="steps"):
        model(good, steps=0)
    with pytest.raises(ValueError, match="kind"):
        model.loss(good, torch.rand(2, 3, *FRAME) if mode != "autoencoder" else None, kind="l1")
    with pytest.raises(ValueError, match=r"\(B, T_in, 1, 16, 16\)"):
        model.embed(torch.rand(2, 4, 1, 8, 8))
    if mode == "autoencoder":
        with pytest.raises(ValueError, match="autoencoder"):
            model.predict(good)
        with pytest.raises(ValueError, match="autoencoder"):
            model(good, steps=3, target=torch.rand(2, 3, *FRAME))
        with pytest.raises(ValueError, match="autoencoder"):
            model.loss(good, torch.rand(2, 3, *FRAME))
    else:
        with pytest.raises(ValueError, match=r"target of shape \(B, 3, 1, 16, 16\)"):
            model(good, steps=3, target=torch.rand(2, 2, *FRAME))
        with pytest.raises(ValueError, match="future frames"):
            model.loss(good)
        with pytest.raises(ValueError, match="steps"):
            model.predict(good, steps=-1)


def test_constructor_validation() -> None:
    with pytest.raises(ValueError, match="mode"):
        SrivastavaLSTM(mode="gan")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="layers"):
        SrivastavaLSTM(layers=3, hidden=8, frame_shape=FRAME)
    with pytest.raises(ValueError, match="hidden"):
        SrivastavaLSTM(hidden=0, frame_shape=FRAME)
    with pytest.raises(ValueError, match="frame_shape"):
        SrivastavaLSTM(hidden=8, frame_shape=(16, 16))  # type: ignore[arg-type]
    for bad in (0.0, 1.0, -0.1, True, "0.05"):
        with pytest.raises(ValueError, match="ink must be None or a mean pixel value in"):
            SrivastavaLSTM(hidden=8, frame_shape=FRAME, ink=bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("mode", MODES)
def test_ink_starts_every_readout_at_a_dark_frame(mode: str) -> None:
    # ink=None keeps PyTorch's small random readout biases (untrained output near 0.5, grey);
    # ink=0.05 starts every readout bias at logit(0.05), so the untrained model draws ~0.05 everywhere.
    x = torch.rand(2, 4, *FRAME) * 0.1
    torch.manual_seed(0)
    grey = SrivastavaLSTM(mode=mode, hidden=16, frame_shape=FRAME)
    torch.manual_seed(0)
    dark = SrivastavaLSTM(mode=mode, hidden=16, frame_shape=FRAME, ink=0.05)
    decoders = [d for d in (dark.reconstructor, dark.predictor) if d is not None]
    for d in decoders:
        assert torch.allclose(d.readout.bias, torch.full_like(d.readout.bias, math.log(0.05 / 0.95)))
    for d in (grey.reconstructor, grey.predictor):
        if d is not None:
            assert d.readout.bias.abs().max() < 0.5 and d.readout.bias.std() > 0
    with torch.no_grad():
        out_grey, out_dark = grey(x, steps=3), dark(x, steps=3)
    for key in out_dark:
        assert abs(torch.sigmoid(out_grey[key]).mean().item() - 0.5) < 0.1, key
        assert abs(torch.sigmoid(out_dark[key]).mean().item() - 0.05) < 0.025, key


@pytest.mark.parametrize("mode", ["future", "composite"])
def test_teacher_forcing_only_matters_when_conditioned(mode: str) -> None:
    x = torch.rand(2, 4, *FRAME)
    target_a, target_b = torch.rand(2, 5, *FRAME), torch.rand(2, 5, *FRAME)
    cond = small(mode, conditioned=True)
    a, b = cond(x, 5, target_a)["future"], cond(x, 5, target_b)["future"]
    assert torch.equal(a[:, 0], b[:, 0])  # step 0 reads x_T, not the target
    assert not torch.allclose(a[:, 1:], b[:, 1:])  # later steps read target[:, t - 1]
    # without a target the conditioned decoder feeds back its own sigmoid outputs
    free = cond(x, 5)["future"]
    assert not torch.allclose(free[:, 1:], a[:, 1:])
    assert torch.allclose(cond.predict(x, 5), torch.sigmoid(free), atol=1e-6)

    uncond = small(mode, conditioned=False)
    a, b = uncond(x, 5, target_a)["future"], uncond(x, 5, target_b)["future"]
    assert torch.equal(a, b) and torch.equal(a, uncond(x, 5)["future"])
    # ... and the unconditioned decoder's LSTM has no input weights at all
    assert uncond.predictor.lstm.cells[0].input_size == 0
    assert cond.predictor.lstm.cells[0].input_size == 16 * 16


def _first_decoder_inputs(model: SrivastavaLSTM, x: torch.Tensor, steps: int) -> list[torch.Tensor]:
    """What the future decoder's first LSTM cell reads at each step."""
    seen: list[torch.Tensor] = []
    hook = model.predictor.lstm.cells[0].register_forward_pre_hook(lambda m, args: seen.append(args[0]))
    model(x, steps=steps)
    hook.remove()
    return seen


def test_future_decoder_conditions_on_last_input_frame() -> None:
    x = torch.rand(2, 4, *FRAME)
    seen = _first_decoder_inputs(small("future", conditioned=True), x, 2)
    assert torch.equal(seen[0], x[:, -1].flatten(1))
    seen = _first_decoder_inputs(small("future", conditioned=False), x, 2)
    assert all(inp.shape == (2, 0) for inp in seen)


@pytest.mark.parametrize("conditioned", [False, True])
def test_reconstruction_is_produced_reversed_and_returned_in_order(conditioned: bool) -> None:
    model = small("autoencoder", conditioned=conditioned).train()
    x = torch.rand(2, 5, *FRAME)
    produced: list[torch.Tensor] = []
    inputs: list[torch.Tensor] = []
    h1 = model.reconstructor.readout.register_forward_hook(lambda m, a, out: produced.append(out))
    h2 = model.reconstructor.lstm.cells[0].register_forward_pre_hook(lambda m, args: inputs.append(args[0]))
    recon = model(x)["reconstruction"]
    h1.remove()
    h2.remove()
    # the decoder's step s produced frame T - s; forward hands it back at index T - 1 - s
    for s, logits in enumerate(produced):
        assert torch.equal(recon[:, 4 - s].flatten(1), logits)
    if conditioned:  # teacher forcing in reversed order: zeros, then x_T, x_{T-1}, .., x_2
        assert torch.equal(inputs[0], torch.zeros(2, 256))
        for s in range(1, 5):
            assert torch.equal(inputs[s], x[:, 5 - s].flatten(1))
    # the loss pairs each reconstruction with its own frame: a flipped input scores differently
    total, _ = model.loss(x)
    bce = torch.nn.functional.binary_cross_entropy_with_logits(recon, x, reduction="sum") / 10
    assert total.item() == pytest.approx(bce.item(), rel=1e-5)


def test_embed_concatenates_final_hidden_of_all_layers() -> None:
    model = small("composite", layers=2)
    x = torch.rand(3, 4, *FRAME)
    state = model.encode(x)
    emb = model.embed(x)
    assert emb.shape == (3, 64)
    assert torch.equal(emb, torch.cat([state[0][0], state[1][0]], dim=1))


@pytest.mark.parametrize("mode", ["future", "composite"])
@pytest.mark.parametrize("conditioned", [False, True])
def test_long_rollout(mode: str, conditioned: bool) -> None:
    model = small(mode, conditioned, layers=2).eval()
    probs = model.predict(torch.rand(2, 10, *FRAME), steps=110)
    assert probs.shape == (2, 110, *FRAME)
    assert torch.isfinite(probs).all() and probs.min() >= 0 and probs.max() <= 1


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("conditioned", [False, True])
def test_overfits_four_sequences(mode: str, conditioned: bool) -> None:
    video = moving_squares(4, 8)
    x, future = video[:, :4], video[:, 4:]
    model = small(mode, conditioned, hidden=64).train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    target = None if mode == "autoencoder" else future
    # < 0.5x is reached by learning the mean frame alone (~10 steps); < 0.15x needs the sequences memorised.
    # Stop there: training on towards zero loss saturates the sigmoids and crawls through denormal floats.
    start = final = model.loss(x, target)[1]["loss"]
    for _ in range(150):
        total, logs = model.loss(x, target)
        final = logs["loss"]
        if final < 0.15 * start:
            break
        opt.zero_grad()
        total.backward()
        opt.step()
    assert final < 0.15 * start, (start, final)


def test_predict_from_state_matches_predict_and_accepts_random_states():
    torch.manual_seed(0)
    for conditioned in (False, True):
        model = SrivastavaLSTM("composite", conditioned=conditioned, layers=2, hidden=8, frame_shape=(1, 4, 4)).eval()
        x = torch.rand(3, 5, 1, 4, 4)
        state = model.encode(x)
        torch.testing.assert_close(model.predict_from_state(state, 7, x[:, -1]), model.predict(x, 7))
        random_state = [(torch.randn(3, 8), torch.randn(3, 8)) for _ in range(2)]
        out = model.predict_from_state(random_state, 12)
        assert out.shape == (3, 12, 1, 4, 4) and 0 <= out.min() and out.max() <= 1
    with pytest.raises(ValueError, match=r"\(B, 8\)"):
        model.predict_from_state([(torch.randn(3, 5), torch.randn(3, 5))] * 2, 3)
    with pytest.raises(ValueError, match="2 \\(h, c\\) pairs"):
        model.predict_from_state(random_state[:1], 3)
    with pytest.raises(ValueError, match="last_frame"):
        model.predict_from_state(random_state, 3, torch.rand(3, 4, 4))
    with pytest.raises(ValueError, match="future decoder"):
        SrivastavaLSTM("autoencoder", hidden=8, frame_shape=(1, 4, 4)).predict_from_state(random_state, 3)


def test_random_state_matches_the_statistics_of_real_encodings() -> None:
    model = small("composite", layers=2, hidden=16)
    x = torch.rand(64, 4, *FRAME)
    real = model.encode(x)
    a, b = model.random_state(x, n=4000, seed=0), model.random_state(x, n=4000, seed=0)
    assert len(a) == 2 and all(v.shape == (4000, 16) for pair in a for v in pair)
    assert all(torch.equal(u, v) for pa, pb in zip(a, b) for u, v in zip(pa, pb))  # seeded
    assert not torch.equal(a[0][0], model.random_state(x, n=4000, seed=1)[0][0])
    for (h, c), (rh, rc) in zip(real, a):
        for v, rv in ((h, rh), (c, rc)):
            assert torch.allclose(rv.mean(0), v.mean(0), atol=4 * v.std(0).max().item() / 4000 ** 0.5)
            assert torch.allclose(rv.std(0), v.std(0), rtol=0.1)
    out = model.predict_from_state(model.random_state(x, seed=3), steps=5)
    assert out.shape == (1, 5, *FRAME) and torch.isfinite(out).all()
    with pytest.raises(ValueError, match="at least 2 clips"):
        model.random_state(x[:1])
    with pytest.raises(ValueError, match="n must be a positive int"):
        model.random_state(x, n=0)


def test_predict_from_state_can_return_the_decoder_activations() -> None:
    model = small("composite", layers=2, hidden=16)
    x = torch.rand(3, 4, *FRAME)
    state = model.encode(x)
    probs, hidden = model.predict_from_state(state, steps=6, return_hidden=True)
    assert torch.equal(probs, model.predict_from_state(state, steps=6))
    assert hidden.shape == (3, 6, 16) and (hidden.abs() <= 1).all()  # h = o * tanh(c)
    # the readout of step t is a function of h_t: recompute the first frame from the returned activations
    first = torch.sigmoid(model.predictor.readout(hidden[:, 0])).reshape(3, *FRAME)
    assert torch.allclose(first, probs[:, 0], atol=1e-6)


# ------------------------------------------------------------------------------------------- percepts

def test_a_linear_model_predicts_and_feeds_back_raw_values() -> None:
    """On percepts the outputs are the values: no sigmoid in predict, nor in what a conditioned decoder reads."""
    torch.manual_seed(0)
    model = SrivastavaLSTM("future", conditioned=True, hidden=16, frame_shape=(6, 1, 1), output="linear")
    x = torch.randn(3, 4, 6, 1, 1) * 3
    pred = model.predict(x, steps=5)
    assert pred.shape == (3, 5, 6, 1, 1)
    assert bool((pred < 0).any()), "a linear model's outputs are not squashed to (0, 1)"
    # one decoder step by hand: step t reads step t - 1's output itself
    state = model.encode(x)
    outs, inp = [], x[:, -1].reshape(3, 6)
    for _ in range(5):
        state = model.predictor.lstm.step(inp, state)
        inp = model.predictor.readout(state[-1][0])
        outs.append(inp)
    torch.testing.assert_close(pred.reshape(3, 5, 6), torch.stack(outs, 1))
    # the loss is the squared error of the raw outputs, and bce / mse (pixel losses) are refused
    future = torch.randn(3, 5, 6, 1, 1)
    loss, _ = model.loss(x, future)
    out = model(x, steps=5, target=future)
    torch.testing.assert_close(loss, ((out["future"] - future) ** 2).sum() / 15)
    with pytest.raises(ValueError, match="linear"):
        model.loss(x, future, kind="bce")
    with pytest.raises(ValueError, match="ink"):
        SrivastavaLSTM("future", frame_shape=(6, 1, 1), output="linear", ink=0.05)
    with pytest.raises(ValueError, match="output"):
        SrivastavaLSTM("future", frame_shape=(6, 1, 1), output="gaussian")


def test_frame_percepts_standardises_each_feature_with_the_given_statistics() -> None:
    from vidkit.models import ImageEncoder, frame_percepts

    torch.manual_seed(0)
    cnn = ImageEncoder(1, width=4, dim=5).train()
    clips = torch.rand(6, 3, 1, 16, 16) * torch.linspace(0.5, 8, 18).reshape(6, 3, 1, 1, 1)  # frames that differ
    percepts, mean, std = frame_percepts(cnn, clips, batch_size=4)
    assert percepts.shape == (6, 3, 5, 1, 1) and cnn.training, "shape, and the network's mode restored"
    flat = percepts.reshape(18, 5)
    torch.testing.assert_close(flat.mean(0), torch.zeros(5), atol=1e-3, rtol=0)
    torch.testing.assert_close(flat.std(0), torch.ones(5), atol=1e-3, rtol=0)
    cnn.eval()
    with torch.no_grad():
        raw = cnn.embed(clips[2:4].flatten(0, 1))
    again, _, _ = frame_percepts(cnn, clips[2:4], mean, std)   # another set, the first set's statistics
    torch.testing.assert_close(again.reshape(6, 5), (raw - mean) / std)
    with pytest.raises(ValueError, match=r"\(N, T, C, H, W\)"):
        frame_percepts(cnn, clips[0])
    with pytest.raises(ValueError, match="both mean and std"):
        frame_percepts(cnn, clips, mean=mean)
