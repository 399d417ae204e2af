"""vidkit.viz.weights: a SrivastavaLSTM's pixel-facing weights as images (extraction, figure, viewer)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from vidkit.models import SrivastavaLSTM  # noqa: E402
from vidkit.viz.weights import (  # noqa: E402
    GATES,
    PARTS,
    WeightViewer,
    gate_rows,
    top_units,
    unit_norms,
    weight_images,
    weight_parts,
    weights_figure,
)

H = 5          # hidden units of the small test models
SIZE = 8       # 8x8 frames: P = 64 pixels


def small(mode: str = "composite", conditioned: bool = False, layers: int = 1) -> SrivastavaLSTM:
    torch.manual_seed(0)
    return SrivastavaLSTM(mode=mode, conditioned=conditioned, layers=layers, hidden=H, frame_shape=(1, SIZE, SIZE))


def cross(j: int) -> np.ndarray:
    """A distinct 8x8 pattern per unit: a cross at row/column j, with a sign so 0 is not the only value."""
    img = np.zeros((SIZE, SIZE), np.float32)
    img[j, :] = 1.0
    img[:, j] = -2.0
    return img


def test_gate_rows_follow_pytorch_order() -> None:
    assert GATES == ("input", "forget", "cell", "output")
    assert [gate_rows(g, 7) for g in GATES] == [slice(0, 7), slice(7, 14), slice(14, 21), slice(21, 28)]
    with pytest.raises(ValueError, match="gate must be"):
        gate_rows("update", 7)
    with pytest.raises(ValueError, match="hidden"):
        gate_rows("input", 0)


def test_shapes_and_parts() -> None:
    m = small()
    assert weight_parts(m) == ["encoder input", "future decoder output", "reconstruction decoder output"]
    for part in weight_parts(m):
        im = weight_images(m, part)
        assert im.shape == (H, 1, SIZE, SIZE) and im.dtype == np.float32
    assert weight_parts(small("future", conditioned=True)) == ["encoder input", "future decoder output",
                                                                "future decoder input"]
    assert set(weight_parts(small(conditioned=True))) == set(PARTS)
    assert weight_parts(small("autoencoder")) == ["encoder input", "reconstruction decoder output"]
    # two layers: the encoder's first layer reads the pixels, the decoder's top layer feeds the read-out
    m2 = small(layers=2)
    assert weight_images(m2, "encoder input", "cell").shape == (H, 1, SIZE, SIZE)
    np.testing.assert_array_equal(weight_images(m2, "future decoder output")[:, 0].reshape(H, -1),
                                  m2.predictor.readout.weight.detach().numpy().T)
    # a copy: editing it leaves the model alone
    im = weight_images(m, "encoder input")
    im[:] = 0
    assert m.encoder.cells[0].weight_ih.abs().sum() > 0


def test_gate_images_are_what_the_lstm_cell_computes_with() -> None:
    """From a zero state, c = sigmoid(i) * tanh(g) and h = sigmoid(o) * tanh(c), where each gate's pre-activation
    is that gate's weight images dotted with the frame (biases zeroed): the rows really are i, f, g, o."""
    m = small()
    cell = m.encoder.cells[0]
    with torch.no_grad():
        cell.bias_ih.zero_()
        cell.bias_hh.zero_()
    x = torch.rand(3, SIZE * SIZE)
    zeros = torch.zeros(3, H)
    h, c = cell(x, (zeros, zeros))
    pre = {g: x @ torch.from_numpy(weight_images(m, "encoder input", g).reshape(H, -1)).T for g in GATES}
    c_manual = torch.sigmoid(pre["input"]) * torch.tanh(pre["cell"])  # the forget gate multiplies c = 0
    torch.testing.assert_close(c, c_manual)
    torch.testing.assert_close(h, torch.sigmoid(pre["output"]) * torch.tanh(c_manual))
    # and the forget gate: a second step from (h, c)
    h2, c2 = cell(x, (h, c))
    pre2 = {g: pre[g] + h @ cell.weight_hh[gate_rows(g, H)].T for g in GATES}
    c2_manual = torch.sigmoid(pre2["forget"]) * c + torch.sigmoid(pre2["input"]) * torch.tanh(pre2["cell"])
    torch.testing.assert_close(c2, c2_manual)


def test_planted_patterns_come_back_as_images() -> None:
    m = small(conditioned=True)
    with torch.no_grad():
        m.encoder.cells[0].weight_ih.zero_()
        m.encoder.cells[0].weight_ih[gate_rows("forget", H).start + 3] = torch.from_numpy(cross(3).ravel())
        m.predictor.readout.weight.zero_()
        m.predictor.readout.weight[:, 1] = torch.from_numpy(cross(1).ravel())  # column 1: unit 1's output
        m.reconstructor.lstm.cells[0].weight_ih.zero_()
        m.reconstructor.lstm.cells[0].weight_ih[gate_rows("output", H).start + 4] = torch.from_numpy(cross(4).ravel())
    forget = weight_images(m, "encoder input", "forget")
    np.testing.assert_array_equal(forget[3, 0], cross(3))
    assert np.abs(np.delete(forget, 3, axis=0)).sum() == 0
    for g in ("input", "cell", "output"):
        assert np.abs(weight_images(m, "encoder input", g)).sum() == 0
    out = weight_images(m, "future decoder output")
    np.testing.assert_array_equal(out[1, 0], cross(1))
    assert np.abs(np.delete(out, 1, axis=0)).sum() == 0
    np.testing.assert_array_equal(weight_images(m, "reconstruction decoder input", "output")[4, 0], cross(4))
    # the planted unit has the largest norm
    assert top_units(forget, 2)[0] == 3 and top_units(out, 1).tolist() == [1]
    np.testing.assert_allclose(unit_norms(out)[1], np.sqrt((cross(1) ** 2).sum()))


def test_bad_input_errors() -> None:
    m = small()
    with pytest.raises(TypeError, match="SrivastavaLSTM"):
        weight_images(torch.nn.LSTM(4, 4))
    with pytest.raises(ValueError, match="part must be"):
        weight_images(m, "decoder output")
    with pytest.raises(ValueError, match="unconditioned decoder reads no frames"):
        weight_images(m, "future decoder input")
    with pytest.raises(ValueError, match="no future decoder"):
        weight_images(small("autoencoder"), "future decoder output")
    with pytest.raises(ValueError, match="gate must be"):
        weight_images(m, "encoder input", "update")
    with pytest.raises(ValueError, match="gate must be None for an output part"):
        weight_images(m, "future decoder output", "input")
    with pytest.raises(ValueError, match="n must be"):
        top_units(np.ones((3, 4)), 0)
    with pytest.raises(ValueError, match=r"\(units, H, W\)"):
        weights_figure(np.ones((3, 2, 4, 4)))
    with pytest.raises(ValueError, match="scale must be"):
        weights_figure(m, scale="global")
    with pytest.raises(ValueError, match="units"):
        weights_figure(m, units=[H])
    with pytest.raises(TypeError, match="title"):
        weights_figure(m, title=3)
    with pytest.raises(TypeError, match="SrivastavaLSTM"):
        WeightViewer("lstm_composite_ref")
    with pytest.raises(ValueError, match="one-channel"):
        WeightViewer(SrivastavaLSTM(hidden=3, frame_shape=(3, 8, 8)))
    with pytest.raises(ValueError, match="per_page"):
        WeightViewer(m, per_page=0)


def test_figure_top_units_symmetric_colours() -> None:
    m = small()
    with torch.no_grad():
        m.encoder.cells[0].weight_ih[gate_rows("input", H).start + 2] *= 100  # unit 2 dominates the input gate
    fig = weights_figure(m, "encoder input", "input", n=4, cols=3)
    shown = [ax for ax in fig.axes if ax.images]
    assert len(shown) == 4 and len(fig.axes) == 6  # 2 rows x 3 columns, 2 empty
    assert shown[0].get_title().startswith("unit 2\n")
    for ax in shown:
        lo, hi = ax.images[0].get_clim()
        assert lo == -hi and hi > 0
    np.testing.assert_array_equal(shown[0].images[0].get_array(), weight_images(m, "encoder input", "input")[2, 0])
    plt.close(fig)
    fig = weights_figure(weight_images(m, "future decoder output"), units=[4, 0], scale="shared")
    shown = [ax for ax in fig.axes if ax.images]
    assert [ax.get_title().split("\n")[0] for ax in shown] == ["unit 4", "unit 0"]
    assert shown[0].images[0].get_clim() == shown[1].images[0].get_clim()
    plt.close(fig)


def test_viewer_pages_and_controls() -> None:
    import ipywidgets as W

    m = small(conditioned=True)
    v = WeightViewer(m, n=4, per_page=3, title="tiny")
    assert v.parts == weight_parts(m) and v.pages == 2 and v.page_labels == ["ranks 1-3", "ranks 4-4"]
    assert set(v.pngs) == {(p, k) for p in v.parts for k in range(2)}
    assert all(b.startswith(b"\x89PNG") for b in v.pngs.values())
    assert "vidkit-weight-viewer" in v.widget._dom_classes
    assert isinstance(v.selectors["part"], W.ToggleButtons) and isinstance(v.selectors["units"], W.SelectionSlider)
    assert len(v.links) == 1 + len(v.parts)  # part -> outer stack; units -> every part's page stack
    # ranks: the planted unit first
    with torch.no_grad():
        m.predictor.readout.weight[:, 3] *= 50
    v = WeightViewer(m, n=4, per_page=3)
    assert v.ranked["future decoder output"][0] == 3
    v.show("future decoder output", 1)
    assert v.current == ("future decoder output", 1)
    assert v.stack.selected_index == v.parts.index("future decoder output")
    page = v.to_html()
    assert 'class="vidkit-weight-viewer"' in page and "ranks 4-4" in page and "data:image/png;base64," in page
    bundle = v._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle and "text/html" in bundle
    with pytest.raises(ValueError, match="part must be"):
        v.show("encoder output")
    with pytest.raises(ValueError, match="page"):
        v.show(page=2)
