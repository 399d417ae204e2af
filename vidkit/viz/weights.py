"""What a fully connected LSTM learned, as pictures: Srivastava et al. 2015's weight figures.

A :class:`~vidkit.models.SrivastavaLSTM` reads and writes flattened frames, so every weight that touches the
pixels has one value per pixel: reshaped to ``(C, H, W)`` it is an image, one per hidden unit. The paper shows
two kinds:

* **encoder input weights** (``"encoder input"``): what a unit of the encoder's first layer reads from a frame.
  They live in ``model.encoder.cells[0].weight_ih``, an ``nn.LSTMCell`` weight of shape
  ``(4 * hidden, P)`` with ``P = C * H * W``. PyTorch stacks the four gates' rows in the order of
  :data:`GATES`: rows ``0 .. hidden-1`` feed the **input gate** ``i``, ``hidden .. 2*hidden-1`` the **forget
  gate** ``f``, ``2*hidden .. 3*hidden-1`` the **cell candidate** ``g`` (the tanh input to the cell) and
  ``3*hidden .. 4*hidden-1`` the **output gate** ``o``. Row ``g * hidden + j`` reshaped to ``(C, H, W)`` is unit
  ``j``'s weights into gate ``g`` (:func:`gate_rows`).
* **decoder output weights** (``"future decoder output"``, ``"reconstruction decoder output"``): what a unit
  of a decoder's top layer writes into the frame. The decoder's read-out is an ``nn.Linear(hidden, P)``
  (``readout.weight`` of shape ``(P, hidden)``); column ``j`` reshaped to ``(C, H, W)`` is the pattern unit ``j``
  adds to the output logits per unit of its ``h``.

A **conditioned** decoder also reads frames, so it has input weights too (``"future decoder input"``,
``"reconstruction decoder input"``, laid out as the encoder's); an unconditioned one reads nothing (its cell has
``input_size=0``) and has none. :func:`weight_parts` lists what a model has.

* :func:`weight_images` extracts one part (and gate) as ``(hidden, C, H, W)`` float32 images;
* :func:`weights_figure` draws the top units by weight norm in a grid, a symmetric colour map around 0;
* :class:`WeightViewer` is a notebook widget over every part, its gates and its units (ranked by norm), with
  every page rendered when it is built, so it keeps working after the kernel stops.
"""

from __future__ import annotations

import base64
import html
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from vidkit.utils.checks import check_choice, check_int
from vidkit.viz import frames as viz

__all__ = ["GATES", "PARTS", "gate_rows", "weight_parts", "weight_images", "unit_norms", "top_units",
           "weights_figure", "WeightViewer"]

#: The four gate blocks of an ``nn.LSTMCell``'s ``weight_ih`` (and ``weight_hh``, ``bias_ih``, ``bias_hh``) rows,
#: in PyTorch's order: input gate ``i``, forget gate ``f``, cell candidate ``g``, output gate ``o``.
GATES: tuple[str, ...] = ("input", "forget", "cell", "output")
_GATE_LETTER = {"input": "i", "forget": "f", "cell": "g", "output": "o"}

#: Part name -> (the model's attribute, "input" or "output"): every pixel-facing weight of a SrivastavaLSTM.
PARTS: dict[str, tuple[str, str]] = {
    "encoder input": ("encoder", "input"),
    "future decoder output": ("predictor", "output"),
    "reconstruction decoder output": ("reconstructor", "output"),
    "future decoder input": ("predictor", "input"),
    "reconstruction decoder input": ("reconstructor", "input"),
}

#: Diverging colour map of every weight picture: blue < 0 < red, white at 0.
CMAP = "RdBu_r"


def _gate_name(gate: str) -> str:
    """``"input gate (i)"``, ``"forget gate (f)"``, ``"cell candidate (g)"``, ``"output gate (o)"``."""
    return "cell candidate (g)" if gate == "cell" else f"{gate} gate ({_GATE_LETTER[gate]})"


def gate_rows(gate: str, hidden: int) -> slice:
    """The rows of an ``nn.LSTMCell`` weight ``(4 * hidden, input_size)`` that feed ``gate`` (one of :data:`GATES`):
    ``slice(k * hidden, (k + 1) * hidden)`` with ``k = GATES.index(gate)``."""
    check_choice("gate", gate, GATES)
    hidden = check_int("hidden", hidden)
    k = GATES.index(gate)
    return slice(k * hidden, (k + 1) * hidden)


def _check_model(model: Any, what: str) -> Any:
    from vidkit.models import SrivastavaLSTM

    if not isinstance(model, SrivastavaLSTM):
        raise TypeError(f"{what}: expected a vidkit.models.SrivastavaLSTM (a fully connected LSTM on flattened "
                        f"frames, e.g. vidkit.load('lstm_composite_ref')), got {type(model).__name__}")
    return model


def weight_parts(model: Any) -> list[str]:
    """The parts of :data:`PARTS` that ``model`` (a :class:`~vidkit.models.SrivastavaLSTM`) has, in that order:
    always ``"encoder input"``; each decoder's output; a decoder's input only when it is conditioned."""
    model = _check_model(model, "weight_parts")
    parts = []
    for name, (attr, kind) in PARTS.items():
        module = model.encoder if attr == "encoder" else getattr(model, attr)
        if module is None:
            continue
        if kind == "input" and attr != "encoder" and not module.conditioned:
            continue
        parts.append(name)
    return parts


def weight_images(model: Any, part: str = "encoder input", gate: str | None = None) -> np.ndarray:
    """One part's pixel-facing weights as images, one per hidden unit.

    Args:
        model: a :class:`~vidkit.models.SrivastavaLSTM`.
        part: one of :func:`weight_parts` of the model (see :data:`PARTS` and the module docstring).
        gate: for an input part, which gate's rows (one of :data:`GATES`; ``None`` means ``"input"``); an output
            part has no gates and takes ``None`` only.

    Returns:
        ``(hidden, C, H, W)`` float32 (a copy): ``images[j]`` belongs to hidden unit ``j`` (of the first layer for
        an input part, of the decoder's top layer for an output part). For an input part it is row
        ``gate_rows(gate, hidden)[j]`` of the cell's ``weight_ih``, for an output part column ``j`` of the
        read-out's ``weight``, reshaped to the model's ``frame_shape``.

    Raises:
        TypeError: ``model`` is not a SrivastavaLSTM. ValueError: an unknown part, a part the model does not
        have (an unconditioned decoder's input, a decoder its mode lacks), an unknown gate, a gate for an output
        part.
    """
    model = _check_model(model, "weight_images")
    check_choice("part", part, tuple(PARTS))
    attr, kind = PARTS[part]
    if part not in weight_parts(model):
        module = getattr(model, attr)
        why = (f"a mode={model.mode!r} model has no {part.rsplit(' ', 1)[0]}" if module is None
               else "an unconditioned decoder reads no frames (its LSTM cell has input_size=0)")
        raise ValueError(f"weight_images: part {part!r} does not exist here: {why}; this model has "
                         f"{weight_parts(model)}")
    c, h, w = model.frame_shape
    if kind == "output":
        if gate is not None:
            raise ValueError(f"weight_images: gate must be None for an output part ({part!r} is a linear read-out "
                             f"with no gates), got {gate!r}")
        weight = getattr(model, attr).readout.weight  # (P, hidden)
        flat = weight.detach().float().cpu().T  # (hidden, P)
    else:
        gate = "input" if gate is None else gate
        stack = model.encoder if attr == "encoder" else getattr(model, attr).lstm
        cell = stack.cells[0]  # the first layer reads the pixels
        flat = cell.weight_ih.detach().float().cpu()[gate_rows(gate, cell.hidden_size)]  # (hidden, P)
    return flat.reshape(-1, c, h, w).numpy().copy()


def _unit_array(images: Any, what: str) -> np.ndarray:
    """``(units, H, W)`` float64 from ``(units, H, W)`` or ``(units, 1, H, W)``."""
    a = viz._float_array(images, f"{what} images", "(units, H, W) or (units, 1, H, W)")
    if a.ndim == 4 and a.shape[1] == 1:
        a = a[:, 0]
    if a.ndim != 3 or 0 in a.shape:
        hint = (" (several channels: pass one, images[:, c])" if a.ndim == 4 else "")
        raise ValueError(f"{what}: images must have shape (units, H, W) or (units, 1, H, W){hint}, got "
                         f"{tuple(a.shape)}")
    return a


def unit_norms(images: Any) -> np.ndarray:
    """L2 norm of every unit's weights: ``(units, ...)`` -> ``(units,)`` float64."""
    a = viz._float_array(images, "unit_norms images", "(units, ...)")
    if a.ndim < 2 or a.shape[0] == 0:
        raise ValueError(f"unit_norms: images must have shape (units, ...) with at least one unit, got {tuple(a.shape)}")
    return np.sqrt((a.reshape(len(a), -1) ** 2).sum(axis=1))


def top_units(images: Any, n: int) -> np.ndarray:
    """Indices of the ``n`` units of largest weight norm (:func:`unit_norms`), largest first (ties: lower index
    first); ``n`` larger than the number of units gives them all."""
    norms = unit_norms(images)
    n = check_int("n", n)
    return np.argsort(-norms, kind="stable")[:n]


def _images_for(weights: Any, part: str, gate: str | None, what: str) -> tuple[np.ndarray, str]:
    """``(units, H, W)`` and a description, from a model (+ part, gate) or an image array."""
    from vidkit.models import SrivastavaLSTM

    if isinstance(weights, SrivastavaLSTM):
        images = weight_images(weights, part, gate)
        if images.shape[1] != 1:
            raise ValueError(f"{what}: the model's frames have {images.shape[1]} channels; pass one channel's images, "
                             f"weight_images(model, part, gate)[:, c]")
        label = part if PARTS[part][1] == "output" else f"{part}, {_gate_name(gate or 'input')}"
        return images[:, 0].astype(np.float64), label
    return _unit_array(weights, what), "weights"


def weights_figure(weights: Any, part: str = "encoder input", gate: str | None = None, n: int = 16, cols: int = 8,
                   units: Sequence[int] | None = None, scale: str = "unit", title: str | None = None) -> Any:
    """A grid of weight images, the ``n`` units of largest norm first.

    Args:
        weights: a :class:`~vidkit.models.SrivastavaLSTM` (then ``part`` and ``gate`` pick the weights, as in
            :func:`weight_images`) or images ``(units, H, W)`` / ``(units, 1, H, W)``.
        n: how many units (the top ``n`` by :func:`unit_norms`); ignored when ``units`` is given.
        cols: panels per row.
        units: explicit unit indices to draw, in this order.
        scale: ``"unit"`` - every panel's colours span ``± its own largest |weight|`` (shows each pattern);
            ``"shared"`` - one span for all panels (compares strengths), with a colour bar.
        title: the first line of the figure title (default: what is drawn and how the units were picked); a
            second line, the colour legend, is always added.

    Every panel uses the diverging map :data:`CMAP` symmetric around 0: red positive, blue negative, white 0;
    its title is the unit index and its weight norm. Returns the matplotlib figure.
    """
    import matplotlib.pyplot as plt

    images, label = _images_for(weights, part, gate, "weights_figure")
    cols = check_int("cols", cols)
    check_choice("scale", scale, ("unit", "shared"))
    norms = unit_norms(images)
    if units is None:
        n = check_int("n", n)
        chosen = top_units(images, n)
        how = f"top {len(chosen)} of {len(images)} units by weight norm"
    else:
        if isinstance(units, (str, bytes)) or not isinstance(units, (Sequence, np.ndarray)) or len(units) == 0:
            raise ValueError(f"weights_figure: units must be a non-empty sequence of unit indices, got {units!r}")
        chosen = np.array([check_int("units[i]", u, 0, len(images) - 1, " (a unit index)") for u in units])
        how = f"{len(chosen)} of {len(images)} units"
    rows = -(-len(chosen) // cols)
    ncols = min(cols, len(chosen))
    fig, axes = plt.subplots(rows, ncols, figsize=(1.45 * ncols + (0.9 if scale == "shared" else 0.2), 1.6 * rows + 0.7),
                             squeeze=False, layout="constrained")
    shared = float(np.abs(images[chosen]).max()) or 1.0
    im = None
    for k, ax in enumerate(axes.flat):
        ax.set_xticks([])
        ax.set_yticks([])
        if k >= len(chosen):
            ax.axis("off")
            continue
        u = int(chosen[k])
        vmax = shared if scale == "shared" else (float(np.abs(images[u]).max()) or 1.0)
        im = ax.imshow(images[u], cmap=CMAP, vmin=-vmax, vmax=vmax, interpolation="nearest")
        ax.set_title(f"unit {u}\n|w| = {norms[u]:.2g}", fontsize=9)
    if scale == "shared" and im is not None:
        fig.colorbar(im, ax=axes, shrink=0.8, label="weight")
    span = "each panel spans \u00b1 its own largest |weight|" if scale == "unit" else "one colour scale"
    if title is not None and not isinstance(title, str):
        raise TypeError(f"weights_figure: title must be a string or None; got {type(title).__name__}")
    fig.suptitle(f"{title or f'{label}: {how}'}\nred > 0, blue < 0, white = 0; {span}", fontsize=10)
    return fig


# --------------------------------------------------------------------------------------------------
# WeightViewer
# --------------------------------------------------------------------------------------------------
def _coloured(image: np.ndarray, vmax: float, lut: np.ndarray) -> np.ndarray:
    """``(H, W)`` weights -> ``(H, W, 3)`` uint8 through ``lut``, ``-vmax .. vmax`` onto its 256 colours."""
    idx = np.rint((np.clip(image / (vmax or 1.0), -1.0, 1.0) + 1.0) * 127.5).astype(np.int64)
    return lut[idx]


class WeightViewer:
    """Browse every pixel-facing weight of a :class:`~vidkit.models.SrivastavaLSTM`, unit by unit.

    Args:
        model: the model (one-channel frames).
        n: how many units per part, the ``n`` of largest weight norm (all of them if ``n`` is larger); a part's
            units are ranked by the norm of *all* their weights in it (for an input part, the four gates together).
        per_page: units per page.
        scale: integer nearest-neighbour upscaling of each ``H x W`` picture.
        title: optional bold line above the viewer.

    **A page** shows ``per_page`` units of one part, in rank order. For an input part it has four rows, one per
    gate of :data:`GATES` (input, forget, cell candidate, output), so a column is everything one unit reads from
    a frame; for an output part one row, what each unit writes. Every column's colours span ``±`` that unit's
    largest |weight| (printed under its name) in :data:`CMAP`: red positive, blue negative, white 0.

    Every page is rendered when the viewer is built and chosen in the browser: a ``ToggleButtons`` selector of
    the part linked (``jslink``) to the outer ``Stack`` and a ``SelectionSlider`` of the units' ranks linked to
    each part's inner ``Stack``; no kernel is needed, also after it stops.

    Attributes: ``parts`` (:func:`weight_parts`), ``ranked`` (``{part: unit indices, largest norm first}``),
    ``pages`` (number of pages per part), ``page_labels`` (``"ranks 1-8"`` ...), ``pngs`` (``{(part, page): PNG
    bytes}``), ``selectors`` (``{"part": ToggleButtons, "units": SelectionSlider}``), ``stack`` (the outer
    ``Stack``), ``links``, ``payload_bytes``, ``widget`` (``VBox`` with class ``vidkit-weight-viewer``).
    :meth:`show` picks a page from Python; :meth:`to_html` is the static fallback (the selected page).
    """

    NOTE = "Every page was rendered when the viewer was built and is stored in the notebook: no kernel needed."

    def __init__(self, model: Any, n: int = 36, per_page: int = 6, scale: int = 2, title: str | None = None) -> None:
        model = _check_model(model, "WeightViewer")
        if model.frame_shape[0] != 1:
            raise ValueError(f"WeightViewer: shows one-channel frames; this model's frame_shape is {model.frame_shape}")
        self.n = check_int("n", n)
        self.per_page = check_int("per_page", per_page)
        self.scale = check_int("scale", scale, 1, 8)
        if title is not None and not isinstance(title, str):
            raise TypeError(f"WeightViewer: title must be a string or None; got {type(title).__name__}")
        self.title = title
        self.parts = weight_parts(model)
        self.lut = viz.colormap_lut(CMAP)
        self._images: dict[str, dict[str | None, np.ndarray]] = {}
        self.ranked: dict[str, np.ndarray] = {}
        for part in self.parts:
            gates: tuple[str | None, ...] = GATES if PARTS[part][1] == "input" else (None,)
            self._images[part] = {g: weight_images(model, part, g)[:, 0] for g in gates}
            together = np.concatenate([im.reshape(len(im), -1) for im in self._images[part].values()], axis=1)
            self.ranked[part] = top_units(together, self.n)
        count = len(next(iter(self.ranked.values())))
        self.pages = -(-count // self.per_page)
        self.page_labels = [f"ranks {k * self.per_page + 1}-{min(count, (k + 1) * self.per_page)}"
                            for k in range(self.pages)]
        self.pngs: dict[tuple[str, int], bytes] = {}
        for part in self.parts:
            for page in range(self.pages):
                self.pngs[(part, page)] = self._png(self._page_image(part, page))
        self.payload_bytes = sum(map(len, self.pngs.values()))
        if self.payload_bytes > 20 * 2**20:
            warnings.warn(f"WeightViewer: the pages take {self.payload_bytes / 2**20:.1f} MiB; the notebook grows by "
                          "about that much. Consider a smaller n or scale.", stacklevel=2)
        self._build()

    # -------------------------------------------------------------------------------------------- rendering
    def _page_image(self, part: str, page: int) -> np.ndarray:
        """``(H_page, W_page, 3)`` uint8: one row of coloured pictures per gate (one row for an output part)."""
        units = self.ranked[part][page * self.per_page:(page + 1) * self.per_page]
        gates = self._images[part]
        vmax = {u: max(float(np.abs(im[u]).max()) for im in gates.values()) for u in units}
        rows = []
        for r, (gate, images) in enumerate(gates.items()):
            tiles = [viz.upscale(_coloured(images[u], vmax[u], self.lut)[None], self.scale) for u in units]
            labels = [f"unit {u} \u00b1{vmax[u]:.2g}" for u in units] if r == 0 else None
            row = viz.side_by_side(tiles, labels=labels, pad=2 * self.scale)[0]
            name = "read-out: what each unit adds to the frame's logits" if gate is None else _gate_name(gate)
            band = viz._text_band([(0, row.shape[1], name)], row.shape[1], 255, 13)
            tile_h = tiles[0].shape[1]  # the labels (first row only), then the row's name, then its pictures
            row = np.concatenate([row[:-tile_h], band, row[-tile_h:]])
            rows.append(row)
        width = max(r.shape[1] for r in rows)
        rows = [np.pad(r, ((0, 0), (0, width - r.shape[1]), (0, 0)), constant_values=255) for r in rows]
        gap = np.full((2 * self.scale, width, 3), 255, np.uint8)
        return np.concatenate([x for r in rows for x in (r, gap)][:-1])

    @staticmethod
    def _png(image: np.ndarray) -> bytes:
        from vidkit.viz.widgets import _png_bytes

        return _png_bytes(image)

    # -------------------------------------------------------------------------------------------- widgets
    def _build(self) -> None:
        import ipywidgets as W

        inner = []
        for part in self.parts:
            pages = [W.Image(value=self.pngs[(part, p)], format="png") for p in range(self.pages)]
            inner.append(W.Stack(pages, selected_index=0))
        self._inner = inner
        self.stack = W.Stack(inner, selected_index=0)
        self.selectors = {
            "part": W.ToggleButtons(options=[(p, i) for i, p in enumerate(self.parts)], value=0, description="weights",
                                    style={"button_width": "auto"}),
            "units": W.SelectionSlider(options=[(lab, i) for i, lab in enumerate(self.page_labels)], value=0,
                                       description="units", continuous_update=True,
                                       layout=W.Layout(width="420px")),
        }
        self.links = ([W.jslink((self.selectors["part"], "index"), (self.stack, "selected_index"))]
                      + [W.jslink((self.selectors["units"], "index"), (s, "selected_index")) for s in inner])
        head = [W.HTML(f"<b>{html.escape(self.title)}</b>")] if self.title else []
        intro = W.HTML(f'<span style="color: #666"><i>{html.escape(self._legend())} '
                       f"{html.escape(self.NOTE)}</i></span>")
        self.widget = W.VBox([*head, intro, *self.selectors.values(), self.stack])
        self.widget.add_class("vidkit-weight-viewer")  # CSS hook, as on the static fallback

    def _legend(self) -> str:
        return ("Units ranked by weight norm. Red: positive weight, blue: negative, white: 0; each column spans "
                "\u00b1 its unit's largest |weight| (under its name).")

    def show(self, part: str | None = None, page: int | None = None) -> None:
        """Pick a page from Python (what the selectors do in the browser); ``None`` keeps the current choice."""
        if part is not None:
            check_choice("part", part, tuple(self.parts))
            i = self.parts.index(part)
            self.selectors["part"].index = i
            self.stack.selected_index = i
        if page is not None:
            page = check_int("page", page, 0, self.pages - 1)
            self.selectors["units"].index = page
            for s in self._inner:
                s.selected_index = page

    @property
    def current(self) -> tuple[str, int]:
        """The selected ``(part, page)``."""
        return self.parts[self.selectors["part"].index], int(self.selectors["units"].index)

    # -------------------------------------------------------------------------------------------- display
    def to_html(self) -> str:
        """Static HTML (saved notebooks without widget state, nbconvert): the selected page only."""
        part, page = self.current
        png = base64.b64encode(self.pngs[(part, page)]).decode()
        top = f"<div><b>{html.escape(self.title)}</b></div>" if self.title else ""
        return (f'<div class="vidkit-weight-viewer">{top}<div><i>Static view of one page ({html.escape(part)}, '
                f"{self.page_labels[page]}): run the notebook to browse the others. {html.escape(self._legend())}"
                f'</i></div><img src="data:image/png;base64,{png}" alt="{html.escape(part)} weights"></div>')

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None, **kwargs: Any) -> dict[str, Any]:
        """Widget view (live) + ``text/html`` of the selected page (static fallback) + ``text/plain``."""
        from vidkit.viz.widgets import widget_mimebundle

        return widget_mimebundle(self, include, exclude, **kwargs)

    def __repr__(self) -> str:
        return (f"WeightViewer({len(self.parts)} parts {self.parts}, {self.pages} pages of {self.per_page} units; "
                f"{self.payload_bytes / 2**20:.1f} MiB of pages)")
