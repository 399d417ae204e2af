"""Srivastava, Mansimov & Salakhutdinov 2015, "Unsupervised Learning of Video Representations using LSTMs".

Fully connected LSTMs on flattened frames (a 64x64 frame is a 4096-vector). An **encoder** LSTM reads
the input frames ``x_1 .. x_T``; its final ``(h, c)`` state is the video representation. One or two
**decoder** LSTMs start from that state:

- the **autoencoder** (``mode="autoencoder"``): a reconstruction decoder outputs the input frames in
  REVERSE order ``x_T, x_{T-1}, .., x_1`` (the last frame read is the first one to recall);
- the **future predictor** (``mode="future"``): a future decoder outputs the next ``steps`` frames
  ``x_{T+1} .. x_{T+steps}``;
- the **composite** model (``mode="composite"``): one encoder, both decoders.

A decoder is either **unconditioned** (its LSTM gets no input at all: an ``nn.LSTMCell`` with
``input_size=0``, i.e. an all-zero input) or **conditioned** on the previous frame: at step ``t`` it
reads frame ``t - 1`` of its own output sequence, which is the ground-truth frame under teacher forcing
and its own previous output (sigmoid probabilities) otherwise. See :class:`SrivastavaLSTM` for when
teacher forcing is on and what the first step reads.

Outputs are **logits**; ``torch.sigmoid`` gives pixel probabilities. The training loss is the paper's
per-frame Bernoulli cross-entropy (summed over pixels, averaged over frames and batch), MSE optional.

**Percepts.** For real video the paper feeds the LSTMs per-frame features of a convolutional network trained
on still images ("percepts") instead of pixels, and predicts future percepts with linear outputs and squared
error. :func:`frame_percepts` turns clips into such feature "frames", ``(B, T, D, 1, 1)``, and
``SrivastavaLSTM(output="linear", frame_shape=(D, 1, 1))`` reads and predicts them (``kind="l2"`` in
:func:`srivastava_loss`).
"""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from vidkit.utils.checks import check_int

__all__ = ["SrivastavaLSTM", "srivastava_loss", "frame_percepts"]

Mode = Literal["autoencoder", "future", "composite"]
Output = Literal["bernoulli", "linear"]
State = list[tuple[torch.Tensor, torch.Tensor]]  # one (h, c) per layer, each (B, hidden)


class LSTMStack(nn.Module):
    """``layers`` stacked ``nn.LSTMCell``s, stepped one frame at a time.

    ``step(inp (B, input_size), state) -> state``, where ``state`` holds one ``(h, c)`` pair of shape
    ``(B, hidden)`` per layer. Layer ``l > 0`` reads layer ``l - 1``'s new ``h``.
    """

    def __init__(self, input_size: int, hidden: int, layers: int):
        super().__init__()
        sizes = [input_size] + [hidden] * (layers - 1)
        self.cells = nn.ModuleList(nn.LSTMCell(size, hidden) for size in sizes)
        self.hidden = hidden

    def zero_state(self, batch: int, like: torch.Tensor) -> State:
        zeros = like.new_zeros(batch, self.hidden)
        return [(zeros, zeros) for _ in self.cells]

    def step(self, inp: torch.Tensor, state: State) -> State:
        new_state = []
        for cell, (h, c) in zip(self.cells, state):
            h, c = cell(inp, (h, c))
            new_state.append((h, c))
            inp = h
        return new_state


class Decoder(nn.Module):
    """An LSTM stack plus a linear readout from the top layer's ``h`` to a flattened frame (logits).

    ``forward(state, steps, first, teacher)`` -> logits ``(B, steps, P)`` with ``P = C * H * W``, in the
    order the decoder generates them. ``state`` is the encoder's final state. A conditioned decoder reads
    ``first`` ``(B, P)`` at step 0 and, at step ``t > 0``, ``teacher[:, t - 1]`` (teacher forcing, when
    ``teacher`` ``(B, steps, P)`` is given) or its own step ``t - 1`` output: the sigmoid of the logits, or
    the output itself when ``linear`` (percepts). An unconditioned decoder reads nothing (``input_size=0``)
    and ignores ``first`` and ``teacher``.
    """

    def __init__(self, pixels: int, hidden: int, layers: int, conditioned: bool, ink: float | None = None,
                 linear: bool = False):
        super().__init__()
        self.conditioned, self.linear = conditioned, linear
        self.lstm = LSTMStack(pixels if conditioned else 0, hidden, layers)
        self.readout = nn.Linear(hidden, pixels)
        if ink is not None:
            with torch.no_grad():
                self.readout.bias.fill_(math.log(ink / (1.0 - ink)))  # logit(ink): start at a dark background

    def forward(self, state: State, steps: int, first: torch.Tensor,
                teacher: torch.Tensor | None = None, hidden: list | None = None) -> torch.Tensor:
        batch = first.shape[0]
        inp = first if self.conditioned else first.new_zeros(batch, 0)
        outputs = []
        for t in range(steps):
            state = self.lstm.step(inp, state)
            if hidden is not None:  # the caller wants the top layer's h at every step
                hidden.append(state[-1][0])
            logits = self.readout(state[-1][0])  # (B, P)
            outputs.append(logits)
            if self.conditioned:
                inp = teacher[:, t] if teacher is not None else (logits if self.linear else torch.sigmoid(logits))
        return torch.stack(outputs, dim=1)  # (B, steps, P)


class SrivastavaLSTM(nn.Module):
    """LSTM autoencoder / future predictor / composite model on flattened frames.

    Args:
        mode: ``"autoencoder"`` (reconstruct the input), ``"future"`` (predict the next frames) or
            ``"composite"`` (both, one shared encoder).
        conditioned: decoders read the previous frame (``True``) or nothing (``False``).
        layers: 1 or 2 stacked LSTM layers in the encoder and in each decoder.
        hidden: LSTM units per layer (the paper uses 2048).
        frame_shape: ``(C, H, W)`` of one frame; the LSTMs see ``P = C * H * W`` pixels per step.
        ink: ``None`` (the default) keeps PyTorch's initialisation of the readouts (small random biases);
            a mean pixel value in (0, 1) starts every readout bias at ``logit(ink)``, so that the untrained
            model already draws a dark background, as :class:`~vidkit.models.ConvRNNPredictor` does. On the
            ``mmnist_lstm`` laptop recipe ``ink=0.05`` lowers the training loss at a given step
            (``benchmarks/dark_start.py``; numbers in ``docs/benchmarks.md``). It is not the default yet
            because every recorded FC-LSTM result (notebooks 01 and 02, ``lstm_composite_ref``) used ``None``.
        output: ``"bernoulli"`` (pixels in [0, 1]: the outputs are logits, the default) or ``"linear"``
            (real-valued percepts, :func:`frame_percepts`: the outputs are the values themselves, a conditioned
            decoder reads them back unchanged, :meth:`predict` returns them as they are and :meth:`loss` is
            the squared error, ``kind="l2"``).

    Shapes: input frames ``x`` ``(B, T_in, C, H, W)`` with pixels in [0, 1]; ``forward`` returns
    ``{"reconstruction": (B, T_in, C, H, W), "future": (B, steps, C, H, W)}`` logits (the keys the mode
    has). The reconstruction decoder *produces* ``x_T .. x_1`` (reversed); ``forward`` flips it back, so
    ``out["reconstruction"][:, i]`` is the reconstruction of ``x[:, i]``.

    Conditioning (``conditioned=True``), step by step:

    - the **future** decoder reads ``x_T`` (the last input frame) at its first step, then frame
      ``T + t`` at step ``t``: ``target[:, t - 1]`` when ``forward`` gets a ``target`` (teacher forcing),
      otherwise the sigmoid of its own previous output (as in :meth:`predict`);
    - the **reconstruction** decoder reads zeros at its first step (no frame precedes ``x_T`` in reversed
      order), then ``x_{T - t + 1}``: ground truth (the input itself) in training mode
      (``model.train()``), its own previous output in eval mode.

    :meth:`embed` returns the encoder's final ``h`` of every layer, concatenated: ``(B, layers * hidden)``.
    """

    def __init__(self, mode: Mode = "composite", conditioned: bool = False, layers: int = 1,
                 hidden: int = 2048, frame_shape: tuple[int, int, int] = (1, 64, 64), ink: float | None = None,
                 output: Output = "bernoulli"):
        super().__init__()
        if mode not in ("autoencoder", "future", "composite"):
            raise ValueError(f"mode must be 'autoencoder', 'future' or 'composite', got {mode!r}")
        if not isinstance(conditioned, bool):
            raise ValueError(f"conditioned must be a bool, got {conditioned!r}")
        if layers not in (1, 2) or isinstance(layers, bool):
            raise ValueError(f"layers must be 1 or 2, got {layers!r}")
        check_int("hidden", hidden)
        frame_shape = tuple(frame_shape)
        if len(frame_shape) != 3 or not all(isinstance(s, int) and not isinstance(s, bool) and s > 0
                                            for s in frame_shape):
            raise ValueError(f"frame_shape must be three positive ints (C, H, W), got {frame_shape!r}")
        if ink is not None and (isinstance(ink, bool) or not isinstance(ink, (int, float)) or not 0.0 < ink < 1.0):
            raise ValueError(f"ink must be None or a mean pixel value in (0, 1), got {ink!r}")
        if output not in ("bernoulli", "linear"):
            raise ValueError(f"output must be 'bernoulli' (pixels) or 'linear' (percepts), got {output!r}")
        if output == "linear" and ink is not None:
            raise ValueError("ink sets a dark start for pixel logits; a linear (percept) model takes ink=None")
        self.mode, self.conditioned, self.layers, self.hidden = mode, conditioned, layers, hidden
        self.output: Output = output
        self.frame_shape: tuple[int, int, int] = frame_shape
        self.pixels = frame_shape[0] * frame_shape[1] * frame_shape[2]

        self.encoder = LSTMStack(self.pixels, hidden, layers)
        linear = output == "linear"
        self.reconstructor = (Decoder(self.pixels, hidden, layers, conditioned, ink, linear)
                              if mode in ("autoencoder", "composite") else None)
        self.predictor = (Decoder(self.pixels, hidden, layers, conditioned, ink, linear)
                          if mode in ("future", "composite") else None)

    # ---------------------------------------------------------------- checks

    def _check_frames(self, x: torch.Tensor, name: str = "x", length: int | None = None) -> None:
        c, h, w = self.frame_shape
        t = "T_in" if length is None else str(length)
        expected = f"{name} of shape (B, {t}, {c}, {h}, {w})"
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"expected {expected}, got {type(x).__name__}")
        if x.dim() != 5 or tuple(x.shape[2:]) != self.frame_shape or x.shape[0] < 1 or x.shape[1] < 1:
            raise ValueError(f"expected {expected}, got {tuple(x.shape)}")
        if length is not None and x.shape[1] != length:
            raise ValueError(f"expected {expected}, got {tuple(x.shape)}")

    # ---------------------------------------------------------------- model

    def encode(self, x: torch.Tensor) -> State:
        """Run the encoder over ``x`` ``(B, T_in, C, H, W)``; return its final state, one ``(h, c)`` per layer."""
        self._check_frames(x)
        b, t = x.shape[:2]
        flat = x.reshape(b, t, self.pixels)
        state = self.encoder.zero_state(b, flat)
        for i in range(t):
            state = self.encoder.step(flat[:, i], state)
        return state

    def forward(self, x: torch.Tensor, steps: int = 10,
                target: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """``x`` ``(B, T_in, C, H, W)`` -> dict of logits.

        ``"reconstruction"``: ``(B, T_in, C, H, W)`` in the ORIGINAL time order (the decoder produced it
        reversed). ``"future"``: ``(B, steps, C, H, W)``. ``target`` ``(B, steps, C, H, W)`` holds the true
        future frames; a conditioned future decoder is teacher-forced on it, an unconditioned one ignores it.
        """
        self._check_frames(x)
        check_int("steps", steps)
        if target is not None:
            if self.predictor is None:
                raise ValueError("target is the future frames; an autoencoder model has no future decoder")
            self._check_frames(target, "target", steps)
        state = self.encode(x)
        b, t = x.shape[:2]
        flat = x.reshape(b, t, self.pixels)
        out: dict[str, torch.Tensor] = {}
        if self.reconstructor is not None:
            reversed_x = flat.flip(1)  # x_T .. x_1: what the decoder must produce, in its order
            teacher = reversed_x if self.training else None
            logits = self.reconstructor(state, t, flat.new_zeros(b, self.pixels), teacher)
            out["reconstruction"] = logits.flip(1).reshape(x.shape)  # back to x_1 .. x_T
        if self.predictor is not None:
            teacher = target.reshape(b, steps, self.pixels) if target is not None else None
            logits = self.predictor(state, steps, flat[:, -1], teacher)
            out["future"] = logits.reshape(b, steps, *self.frame_shape)
        return out

    def loss(self, x: torch.Tensor, future: torch.Tensor | None = None,
             kind: Literal["bce", "mse", "l2"] | None = None) -> tuple[torch.Tensor, dict[str, float]]:
        """Training loss: per-frame error summed over pixels, averaged over frames and batch.

        ``x`` ``(B, T_in, C, H, W)`` are the input frames (the reconstruction target), ``future``
        ``(B, steps, C, H, W)`` the true next frames (needed unless ``mode="autoencoder"``; a conditioned
        future decoder is teacher-forced on them). ``kind="bce"`` is the paper's Bernoulli cross-entropy on
        the logits, ``"mse"`` the squared error of the sigmoid probabilities, ``"l2"`` the squared error of the
        outputs themselves (percepts); ``None`` picks ``"bce"`` for pixels and ``"l2"`` for a linear model. In
        composite mode the total is the sum of both decoders' losses. Returns ``(total, {"loss",
        "reconstruction"?, "future"?})``.
        """
        kind = kind or ("l2" if self.output == "linear" else "bce")
        if kind not in (("l2",) if self.output == "linear" else ("bce", "mse", "l2")):
            raise ValueError(f"kind {kind!r} does not fit output={self.output!r}: a linear (percept) model "
                             "takes 'l2', a pixel model 'bce', 'mse' or 'l2'")
        if future is None and self.predictor is not None:
            raise ValueError(f"mode={self.mode!r} needs future frames (B, steps, C, H, W) to compute the loss")
        if future is not None and self.predictor is None:
            raise ValueError("an autoencoder model takes no future frames; call loss(x)")
        self._check_frames(x)
        if future is not None:
            self._check_frames(future, "future")
        steps = future.shape[1] if future is not None else 1
        return srivastava_loss(self(x, steps=steps, target=future), x, future, kind)

    @torch.no_grad()
    def predict(self, x: torch.Tensor, steps: int = 10) -> torch.Tensor:
        """Pixel probabilities of the next ``steps`` frames, ``(B, T_in, C, H, W)`` -> ``(B, steps, C, H, W)``
        (the predicted percepts themselves for ``output="linear"``).

        A conditioned decoder feeds back its own outputs, so any ``steps`` works (e.g. 110 frames past a
        10-frame training horizon). Only the future decoder runs.
        """
        if self.predictor is None:
            raise ValueError("predict() needs a future decoder: this is an autoencoder-only model "
                             "(mode='autoencoder'); use mode='future' or 'composite', or forward() "
                             "for reconstructions")
        self._check_frames(x)
        check_int("steps", steps)
        state = self.encode(x)
        b, t = x.shape[:2]
        logits = self.predictor(state, steps, x.reshape(b, t, self.pixels)[:, -1])
        return self._values(logits).reshape(b, steps, *self.frame_shape)

    def _values(self, outputs: torch.Tensor) -> torch.Tensor:
        """The decoder's outputs as values: pixel probabilities (sigmoid of logits), or percepts as they are."""
        return outputs if self.output == "linear" else torch.sigmoid(outputs)

    @property
    def dim(self) -> int:
        """Size of the representation :meth:`embed` returns: ``layers * hidden``."""
        return self.layers * self.hidden

    @torch.no_grad()
    def random_state(self, x: torch.Tensor, n: int = 1, seed: int = 0) -> State:
        """A random representation with the statistics of real ones, for :meth:`predict_from_state`.

        Encodes the clips ``x`` ``(B, T_in, C, H, W)`` (``B >= 2``) and draws ``n`` states whose every
        unit of ``h`` and ``c`` is Gaussian with that unit's mean and standard deviation over the ``B``
        real encodings: ``h_rand = mean_B(h) + std_B(h) * eps``, ``eps ~ N(0, 1)`` from ``seed``. So only the
        *information* differs from a real encoding, not the scale. Returns ``layers`` pairs ``(h, c)``,
        each ``(n, hidden)``.
        """
        self._check_frames(x)
        if x.shape[0] < 2:
            raise ValueError(f"x needs at least 2 clips to estimate each unit's spread, got shape {tuple(x.shape)}")
        check_int("n", n)
        gen = torch.Generator().manual_seed(seed)
        return [tuple(v.mean(0) + v.std(0) * torch.randn(n, v.shape[1], generator=gen).to(v) for v in pair)
                for pair in self.encode(x)]

    @torch.no_grad()
    def predict_from_state(self, state: State, steps: int = 10, last_frame: torch.Tensor | None = None,
                           return_hidden: bool = False) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """Run the future decoder from any representation ``state`` (one ``(h, c)`` ``(B, hidden)`` pair per
        layer, as :meth:`encode` returns), e.g. a random one, as Srivastava et al. do to show what the
        decoder produces without a real encoding. ``last_frame`` ``(B, C, H, W)`` is the conditioned
        decoder's first input (zeros if ``None``). Returns probabilities ``(B, steps, C, H, W)``; with
        ``return_hidden=True`` also the decoder's top-layer ``h`` at every step, ``(B, steps, hidden)``:
        the unit activations in which Srivastava et al. show the periodicity of long rollouts.
        """
        if self.predictor is None:
            raise ValueError("predict_from_state() needs a future decoder (mode='future' or 'composite')")
        check_int("steps", steps)
        if (not isinstance(state, list | tuple) or len(state) != self.layers
                or any(len(pair) != 2 for pair in state)):
            raise ValueError(f"state must be {self.layers} (h, c) pairs of shape (B, {self.hidden}), as encode() returns")
        b = state[0][0].shape[0]
        for h, c in state:
            if tuple(h.shape) != (b, self.hidden) or tuple(c.shape) != (b, self.hidden):
                raise ValueError(f"state tensors must be (B, {self.hidden}), got {tuple(h.shape)} and {tuple(c.shape)}")
        if last_frame is None:
            first = state[0][0].new_zeros(b, self.pixels)
        else:
            if tuple(last_frame.shape) != (b, *self.frame_shape):
                raise ValueError(f"last_frame must be (B, {', '.join(map(str, self.frame_shape))}), "
                                 f"got {tuple(last_frame.shape)}")
            first = last_frame.reshape(b, self.pixels)
        hidden: list | None = [] if return_hidden else None
        logits = self.predictor([(h, c) for h, c in state], steps, first, hidden=hidden)
        probs = self._values(logits).reshape(b, steps, *self.frame_shape)
        return (probs, torch.stack(hidden, dim=1)) if hidden is not None else probs

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Video representation: the encoder's final ``h`` of all layers, concatenated (layer 1 first).

        ``(B, T_in, C, H, W)`` -> ``(B, layers * hidden)``.
        """
        state = self.encode(x)
        return torch.cat([h for h, _ in state], dim=1)


def srivastava_loss(outputs: dict[str, torch.Tensor], x: torch.Tensor, future: torch.Tensor | None = None,
                    kind: Literal["bce", "mse", "l2"] = "bce") -> tuple[torch.Tensor, dict[str, float]]:
    """The loss of :meth:`SrivastavaLSTM.forward`'s ``outputs`` (logits), summed over the decoders.

    For each decoder ``d`` with logits ``z`` and targets ``y`` (``x`` for ``"reconstruction"``, ``future``
    for ``"future"``), both ``(B, T, C, H, W)``::

        bce:  L_d = -1/(B T) sum_{b,t,p} [ y log sigmoid(z) + (1 - y) log(1 - sigmoid(z)) ]
        mse:  L_d =  1/(B T) sum_{b,t,p} (sigmoid(z) - y)^2
        l2:   L_d =  1/(B T) sum_{b,t,p} (z - y)^2              (percepts: linear outputs, as the paper's)
        L = sum_d L_d            (per-frame error summed over pixels, averaged over frames and batch)

    Returns ``(L, {"loss": L, "reconstruction": ..., "future": ...})`` (the keys ``outputs`` has).
    A plain function so a training loop can call it on the output of a DDP-wrapped model.
    """
    if kind not in ("bce", "mse", "l2"):
        raise ValueError(f"kind must be 'bce', 'mse' or 'l2', got {kind!r}")
    targets = {"reconstruction": x, "future": future}
    total = x.new_zeros(())
    logs: dict[str, float] = {}
    for key, logits in outputs.items():
        y = targets[key]
        if y is None or tuple(y.shape) != tuple(logits.shape):
            got = None if y is None else tuple(y.shape)
            raise ValueError(f"srivastava_loss: {key!r} logits {tuple(logits.shape)} need targets of the same "
                             f"shape, got {got}")
        if kind == "bce":
            err = F.binary_cross_entropy_with_logits(logits.float(), y, reduction="sum")
        elif kind == "mse":
            err = F.mse_loss(torch.sigmoid(logits.float()), y, reduction="sum")
        else:
            err = F.mse_loss(logits.float(), y, reduction="sum")
        err = err / (y.shape[0] * y.shape[1])
        total = total + err
        logs[key] = err.item()
    logs["loss"] = total.item()
    return total, logs


@torch.no_grad()
def frame_percepts(cnn: nn.Module, clips: torch.Tensor, mean: torch.Tensor | None = None,
                   std: torch.Tensor | None = None, layer: Literal["embed", "features"] = "embed",
                   batch_size: int = 512) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Percepts: every frame of ``clips`` through a frozen per-frame network, standardised per feature::

        p_t = (f(x_t) - mean) / std          x_t (C, H, W) -> p_t (D,)

    ``f`` is ``cnn.embed(frames (B, C, H, W)) -> (B, D)`` (``layer="embed"``), or ``cnn.features(frames)`` (the
    last feature map, ``(B, C', H', W')``) flattened (``layer="features"``, ``D = C' H' W'``): pooled features
    say *what* is in the frame, the flattened map also *where*, as the fully connected layers of the paper's
    image network see it. ``cnn`` (e.g. :class:`vidkit.models.ImageEncoder`) runs in ``eval()`` mode (its mode is
    restored afterwards). ``clips`` ``(N, T, C, H, W)`` float. ``mean`` and ``std``
    ``(D,)`` default to these clips' own statistics over all frames: pass the training clips' to the test clips.
    Returns ``(percepts (N, T, D, 1, 1), mean, std)``: percepts are shaped as frames of ``D`` channels and one
    pixel, the layout :class:`SrivastavaLSTM` reads (``frame_shape=(D, 1, 1)``, ``output="linear"``). The
    paper's percepts are the features of a network trained on still images, not standardised; standardising
    gives every feature the same weight in the squared error. A feature that hardly varies (a dead unit: its
    std under 1 % of the mean std) is divided by that floor instead, so that it does not blow up on other clips.
    """
    if not isinstance(clips, torch.Tensor) or clips.dim() != 5 or not clips.is_floating_point() or min(clips.shape) < 1:
        got = f"{tuple(clips.shape)} {clips.dtype}" if isinstance(clips, torch.Tensor) else type(clips).__name__
        raise ValueError(f"frame_percepts: expected float clips (N, T, C, H, W), got {got}")
    if layer not in ("embed", "features"):
        raise ValueError(f"frame_percepts: layer must be 'embed' or 'features', got {layer!r}")
    if not hasattr(cnn, layer):
        raise TypeError(f"frame_percepts: cnn needs {layer}(frames (B, C, H, W)), the layer asked for")
    check_int("batch_size", batch_size)
    f = getattr(cnn, layer)
    n, t = clips.shape[:2]
    frames = clips.flatten(0, 1)
    was_training = cnn.training
    cnn.eval()
    try:
        feats = torch.cat([f(frames[lo:lo + batch_size]).flatten(1) for lo in range(0, len(frames), batch_size)])
    finally:
        cnn.train(was_training)
    if feats.dim() != 2 or feats.shape[0] != len(frames):
        raise ValueError(f"frame_percepts: cnn.{layer} must return one row per frame, got {tuple(feats.shape)}")
    if (mean is None) != (std is None):
        raise ValueError("frame_percepts: give both mean and std (the training clips' statistics) or neither")
    if mean is None:
        std = feats.std(0)
        mean, std = feats.mean(0), std.clamp_min(max(0.01 * float(std.mean()), 1e-6))  # dead units: no blow-up
    elif tuple(mean.shape) != (feats.shape[1],) or tuple(std.shape) != (feats.shape[1],):
        raise ValueError(f"frame_percepts: mean and std must be ({feats.shape[1]},), "
                         f"got {tuple(mean.shape)} and {tuple(std.shape)}")
    percepts = ((feats - mean) / std).reshape(n, t, -1, 1, 1)
    return percepts, mean, std
