"""Convolutional recurrent frame predictors: ConvLSTM (Shi et al., 2015) and ConvGRU.

A ConvLSTM is an LSTM whose matrix products are convolutions, so its hidden state is an image
``(B, hidden, H, W)`` and it can carry "where things are and how they move" from frame to frame.

The predictor comes in two layouts. ``forecaster="shared"`` (the default) is the PredRNN/OpenSTL-style
single stack used both to encode and to forecast: it reads the input frames one at a time, and after
the last one keeps stepping, each step predicting the next frame and then reading a frame back in,
either the true previous frame (teacher forcing, training only) or its own prediction.
``forecaster="separate"`` is Shi et al.'s encoder-forecaster: an encoder stack reads the input frames,
and a second stack with its own weights, started from the encoder's states, makes the predictions. Frames can be folded into channels with
space-to-depth patching (``F.pixel_unshuffle``) first, which makes the recurrent state smaller and
the receptive field per step larger at the same cost.

Shapes: a sequence is ``(B, T, C, H, W)``; a single frame inside a cell is ``(B, C, H, W)``.
Outputs of :meth:`ConvRNNPredictor.forward` are **logits**; :meth:`ConvRNNPredictor.predict`
returns probabilities.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from vidkit.utils.checks import check_int

__all__ = ["ConvLSTMCell", "ConvGRUCell", "ConvRNNPredictor", "scheduled_sampling", "CELLS"]

LSTMState = tuple[torch.Tensor, torch.Tensor]


def _check_kernel(kernel: object) -> None:
    check_int("kernel", kernel)
    if kernel % 2 == 0:  # type: ignore[operator]
        raise ValueError(f"kernel must be odd so 'same' padding keeps H and W, got {kernel!r}")


class ConvLSTMCell(nn.Module):
    """One ConvLSTM step: ``x (B, in_ch, H, W)``, state ``(h, c)`` each ``(B, hidden, H, W)``. A cell is called
    once per frame and trusts its caller (:class:`ConvRNNPredictor` checks the whole clip once).

    ``forward(x, state=None) -> (h, (h, c))``; ``state=None`` starts from zeros.

    All four gates come from ONE convolution over ``concat(x, h)`` with ``4 * hidden`` output
    channels, chunked into input ``i``, forget ``f``, output ``o`` gates and candidate ``g``::

        i, f, o = sigmoid(.), g = tanh(.)
        c' = f * c + i * g
        h' = o * tanh(c')

    Unlike Shi et al. there are no peephole terms (``W_ci * c`` etc.); most modern
    implementations drop them. The forget-gate bias starts at 1 so the cell remembers by default.

    Parameter count: the fused conv has ``(in_ch + hidden) * 4 * hidden * kernel**2`` weights plus
    ``4 * hidden`` biases, i.e. ``4 * hidden * ((in_ch + hidden) * kernel**2 + 1)``. Example:
    ``in_ch=16, hidden=64, kernel=5`` gives ``4 * 64 * (80 * 25 + 1) = 512,256``. (Shi et al.'s
    peepholes would add ``3 * hidden * H * W`` more, since they are per-pixel Hadamard weights.)
    """

    def __init__(self, in_ch: int, hidden: int, kernel: int = 5):
        super().__init__()
        check_int("in_ch", in_ch)
        check_int("hidden", hidden)
        _check_kernel(kernel)
        self.in_ch, self.hidden, self.kernel = in_ch, hidden, kernel
        self.conv = nn.Conv2d(in_ch + hidden, 4 * hidden, kernel, padding=kernel // 2)
        with torch.no_grad():
            self.conv.bias.zero_()
            self.conv.bias[hidden:2 * hidden].fill_(1.0)  # forget gate

    def forward(self, x: torch.Tensor, state: LSTMState | None = None) -> tuple[torch.Tensor, LSTMState]:
        if state is None:
            h = c = x.new_zeros(x.shape[0], self.hidden, x.shape[2], x.shape[3])
        else:
            h, c = state
        i, f, o, g = self.conv(torch.cat([x, h], dim=1)).chunk(4, dim=1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        return h, (h, c)


class ConvGRUCell(nn.Module):
    """One ConvGRU step: ``x (B, in_ch, H, W)``, state ``h (B, hidden, H, W)``.

    ``forward(x, state=None) -> (h, h)``; ``state=None`` starts from zeros.

    One fused convolution over ``concat(x, h)`` gives the reset ``r`` and update ``z`` gates, and
    one more over ``concat(x, r * h)`` gives the candidate ``n``::

        r, z = sigmoid(.), n = tanh(conv(concat(x, r * h)))
        h' = (1 - z) * h + z * n

    Parameter count: ``3 * hidden * ((in_ch + hidden) * kernel**2 + 1)`` (3/4 of a ConvLSTM).
    """

    def __init__(self, in_ch: int, hidden: int, kernel: int = 5):
        super().__init__()
        check_int("in_ch", in_ch)
        check_int("hidden", hidden)
        _check_kernel(kernel)
        self.in_ch, self.hidden, self.kernel = in_ch, hidden, kernel
        self.gates = nn.Conv2d(in_ch + hidden, 2 * hidden, kernel, padding=kernel // 2)
        self.candidate = nn.Conv2d(in_ch + hidden, hidden, kernel, padding=kernel // 2)

    def forward(self, x: torch.Tensor, state: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        h = x.new_zeros(x.shape[0], self.hidden, x.shape[2], x.shape[3]) if state is None else state
        r, z = torch.sigmoid(self.gates(torch.cat([x, h], dim=1))).chunk(2, dim=1)
        n = torch.tanh(self.candidate(torch.cat([x, r * h], dim=1)))
        h = (1 - z) * h + z * n
        return h, h


CELLS: dict[str, type[nn.Module]] = {"lstm": ConvLSTMCell, "gru": ConvGRUCell}


def scheduled_sampling(step: int, total: int, start: float = 1.0, end: float = 0.0) -> float:
    """Teacher-forcing probability for training step ``step`` of ``total``: linear from ``start``
    at step 0 to ``end`` at step ``total``, then held at ``end``. Pass it as ``teacher_forcing``.
    """
    if isinstance(step, bool) or not isinstance(step, int) or step < 0:
        raise ValueError(f"step must be a non-negative int, got {step!r}")
    check_int("total", total)
    for name, value in {"start": start, "end": end}.items():
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"{name} must be a probability in [0, 1], got {value!r}")
    frac = min(step / total, 1.0)
    return float(start + (end - start) * frac)


class ConvRNNPredictor(nn.Module):
    """Stacked ConvLSTM/ConvGRU that encodes ``T_in`` frames and forecasts ``steps`` more.

    Input ``x (B, T_in, C, H, W)`` with values in [0, 1], ``C == frame_channels`` and ``H``, ``W``
    divisible by ``patch``. Output ``(B, steps, C, H, W)`` **logits** (train with
    ``binary_cross_entropy_with_logits``; :meth:`predict` gives probabilities).

    Each step: frame ``(B, C, H, W)`` -> ``pixel_unshuffle(patch)`` -> ``(B, C*p*p, H/p, W/p)`` ->
    the stacked cells (layer ``l`` has ``hidden[l]`` channels) -> 1x1 conv to ``C*p*p`` channels ->
    ``pixel_shuffle(patch)`` -> logits for the NEXT frame ``(B, C, H, W)``. ``patch=1`` disables
    patching. The output after the last input frame is the first prediction; each later prediction
    is made after reading back the previous future frame.

    Teacher forcing / scheduled sampling (``forward(x, steps, target, teacher_forcing)``): with
    ``target (B, steps, C, H, W)``, before predicting future frame ``k >= 1`` the model reads the
    true frame ``target[:, k-1]`` with probability ``teacher_forcing`` (drawn per sample from
    torch's global RNG, so ``torch.manual_seed`` makes it reproducible), otherwise its own
    prediction ``sigmoid(logits[:, k-1])``. The fed-back prediction is **detached**: gradients
    flow through the recurrent state, not back through the sampled input (as in Bengio et al.'s
    scheduled sampling). ``teacher_forcing=0`` (the default, and what :meth:`predict` uses) is a
    free-running rollout and never looks at ``target``.

    ``forecaster``: ``"shared"`` (default) uses one stack of cells to read the inputs and to forecast.
    ``"separate"`` is Shi et al.'s encoder-forecaster: ``cells`` (the encoder) read the ``T_in`` input
    frames and make no prediction; a second stack ``forecast_cells`` of the same widths, with its own
    weights, starts from the encoder's final states, reads the last input frame and predicts future frame
    0, then reads back frame ``k-1`` (true or predicted, as above) before predicting frame ``k``. Shi et
    al.'s forecaster reads nothing; reading frames back is what makes teacher forcing and scheduled
    sampling possible. It has twice the recurrent weights and one more step per sequence.

    ``ink`` (in (0, 1)) is the expected mean pixel value; the readout's bias starts at ``logit(ink)``
    so that an untrained model already predicts a dark background. This matters: the readout sees
    ``h = o * tanh(c)``, bounded in [-1, 1], and with a zero bias the only way to produce the
    strongly negative logits of the black background is to saturate the gates, which stops the
    gradients; the model then stalls at the mean frame (``benchmarks/dark_start.py``: the recipe's
    training BCE sits at the mean frame's 0.19 with a zero bias, ``ink=0.5``, and is 0.08 by step 200
    with ``ink=0.05``; numbers in ``docs/benchmarks.md``).
    """

    def __init__(self, cell: str = "lstm", hidden: tuple[int, ...] = (64, 64), kernel: int = 5,
                 patch: int = 4, frame_channels: int = 1, ink: float = 0.05, forecaster: str = "shared"):
        super().__init__()
        if cell not in CELLS:
            raise ValueError(f"cell must be one of {sorted(CELLS)}, got {cell!r}")
        hidden = tuple(hidden)
        if not hidden:
            raise ValueError("hidden must list at least one layer width, got ()")
        for i, width in enumerate(hidden):
            check_int(f"hidden[{i}]", width)
        _check_kernel(kernel)
        check_int("patch", patch)
        check_int("frame_channels", frame_channels)
        if isinstance(ink, bool) or not isinstance(ink, (int, float)) or not 0.0 < ink < 1.0:
            raise ValueError(f"ink must be a mean pixel value in (0, 1), got {ink!r}")
        if forecaster not in ("shared", "separate"):
            raise ValueError(f"forecaster must be 'shared' or 'separate', got {forecaster!r}")
        self.cell, self.hidden, self.kernel, self.forecaster = cell, hidden, kernel, forecaster
        self.patch, self.frame_channels = patch, frame_channels
        patched = frame_channels * patch * patch
        widths = (patched, *hidden)
        self.cells = nn.ModuleList(CELLS[cell](widths[i], widths[i + 1], kernel) for i in range(len(hidden)))
        self.forecast_cells = (nn.ModuleList(CELLS[cell](widths[i], widths[i + 1], kernel) for i in range(len(hidden)))
                               if forecaster == "separate" else None)
        self.head = nn.Conv2d(hidden[-1], patched, 1)
        with torch.no_grad():
            self.head.bias.fill_(math.log(ink / (1.0 - ink)))  # logit(ink): start at a dark background

    def _check_input(self, x: torch.Tensor, steps: int) -> None:
        name, c, p = type(self).__name__, self.frame_channels, self.patch
        if not isinstance(x, torch.Tensor) or x.dim() != 5:
            got = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(f"{name}: expected input frames (B, T_in, C={c}, H, W), got {got}")
        if x.shape[1] < 1:
            raise ValueError(f"{name}: need at least one input frame, got shape {tuple(x.shape)}")
        if x.shape[2] != c:
            raise ValueError(f"{name}: expected (B, T_in, C={c}, H, W), got {tuple(x.shape)}")
        if x.shape[3] % p or x.shape[4] % p:
            raise ValueError(f"{name}: H and W must be divisible by patch={p}, got {tuple(x.shape)}")
        check_int("steps", steps)

    def _read(self, cells: nn.ModuleList, frame: torch.Tensor, states: list) -> torch.Tensor:
        """One frame ``(B, C, H, W)`` through ``cells``, updating ``states`` in place; the top hidden state."""
        h = F.pixel_unshuffle(frame, self.patch) if self.patch > 1 else frame
        for i, cell in enumerate(cells):
            h, states[i] = cell(h, states[i])
        return h

    def _step(self, frame: torch.Tensor, states: list, cells: nn.ModuleList | None = None) -> torch.Tensor:
        """Read one frame ``(B, C, H, W)`` with ``cells`` (default: ``self.cells``), update ``states`` in
        place, return next-frame logits."""
        out = self.head(self._read(self.cells if cells is None else cells, frame, states))
        return F.pixel_shuffle(out, self.patch) if self.patch > 1 else out

    def forward(self, x: torch.Tensor, steps: int = 10, target: torch.Tensor | None = None,
                teacher_forcing: float = 0.0) -> torch.Tensor:
        """``x (B, T_in, C, H, W)`` -> logits ``(B, steps, C, H, W)``; see the class docstring."""
        self._check_input(x, steps)
        if isinstance(teacher_forcing, bool) or not 0.0 <= teacher_forcing <= 1.0:
            raise ValueError(f"teacher_forcing must be a probability in [0, 1], got {teacher_forcing!r}")
        b, _, c, h, w = x.shape
        if target is not None and (not isinstance(target, torch.Tensor)
                                   or tuple(target.shape) != (b, steps, c, h, w)):
            got = tuple(target.shape) if isinstance(target, torch.Tensor) else type(target).__name__
            raise ValueError(f"{type(self).__name__}: expected target (B, steps, C, H, W) = "
                             f"{(b, steps, c, h, w)}, got {got}")
        if teacher_forcing > 0 and target is None:
            raise ValueError(f"teacher_forcing={teacher_forcing} needs target (B, steps, C, H, W)")

        states: list = [None] * len(self.cells)
        if self.forecast_cells is None:  # shared: the output after the last input frame is prediction 0
            for t in range(x.shape[1]):
                logits = self._step(x[:, t], states)
        else:  # separate: the encoder only reads; the forecaster starts from its states and reads x_T
            for t in range(x.shape[1]):
                self._read(self.cells, x[:, t], states)
            logits = self._step(x[:, -1], states, self.forecast_cells)
        forecast = self.cells if self.forecast_cells is None else self.forecast_cells
        outputs = [logits]
        for k in range(1, steps):  # forecast: read back frame k-1, predict frame k
            frame = torch.sigmoid(logits).detach()
            if teacher_forcing > 0:
                use_true = (torch.rand(b, device=x.device) < teacher_forcing).view(b, 1, 1, 1)
                frame = torch.where(use_true, target[:, k - 1].to(frame.dtype), frame)
            logits = self._step(frame, states, forecast)
            outputs.append(logits)
        return torch.stack(outputs, dim=1)

    @torch.no_grad()
    def predict(self, x: torch.Tensor, steps: int = 10) -> torch.Tensor:
        """Free-running rollout: ``(B, T_in, C, H, W)`` -> probabilities ``(B, steps, C, H, W)``."""
        return torch.sigmoid(self.forward(x, steps))
