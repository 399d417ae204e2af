"""vidkit.viz.hero: the attention explorer's pages hold the model's numbers, FOM and VSM figures mark what they
should, bad input fails with a clear message."""

from __future__ import annotations

import io
import json
import re

import matplotlib
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from vidkit.models import HERO
from vidkit.models.text import Vocabulary
from vidkit.viz.hero import (
    TransformerAttentionExplorer,
    fom_view,
    moment_timeline,
    span_iou,
    subtitle_words,
    top_spans,
)

matplotlib.use("Agg")
pytestmark = pytest.mark.usefixtures("one_torch_thread")

WORDS = ["the", "digit", "one", "is", "rotating", "to", "right", "a", "video", "of", "heading", "left", "contracting"]
VOCAB = Vocabulary(WORDS)
T, HEADS = 12, 2
SPANS = ((0, 3), (3, 8), (8, 12))
LENGTHS = ((3, 5, 2), (4, 2, 5))


def make_batch(t: int = T, spans=SPANS, lengths=LENGTHS, words: int = 5) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    b, s = len(lengths), len(spans)
    n = torch.tensor(lengths)
    tokens = torch.randint(2, len(VOCAB), (b, s, words), generator=g) * (torch.arange(words) < n[..., None])
    frames = F.interpolate(torch.rand(b * t, 1, 4, 4, generator=g), size=16).view(b, t, 1, 16, 16)
    return {"frames": frames, "tokens": tokens, "lengths": n,
            "starts": torch.tensor([a for a, _ in spans]).repeat(b, 1),
            "ends": torch.tensor([e for _, e in spans]).repeat(b, 1)}


def make_model(hierarchical: bool = True, heads: int = HEADS, cross: int = 1, temporal: int = 2,
               words: int = 5) -> HERO:
    torch.manual_seed(0)
    return HERO(len(VOCAB), dim=16, heads=heads, cross_depth=cross, temporal_depth=temporal, max_frames=24,
                max_words=words, max_segments=4, width=4, hierarchical=hierarchical)


@torch.no_grad()
def explorer(hierarchical: bool = True, b: int = 1, batch=None, model=None, **kw) -> tuple[TransformerAttentionExplorer, dict, dict]:
    batch = make_batch() if batch is None else batch
    model = make_model(hierarchical) if model is None else model
    att = model(batch, return_attention=True).attention
    words = subtitle_words(batch["tokens"][b], batch["lengths"][b], VOCAB)
    return TransformerAttentionExplorer(batch["frames"][b], words, att, b, **kw), att, batch


@pytest.fixture(scope="module")
def built() -> tuple[TransformerAttentionExplorer, dict, dict]:
    return explorer()


# ----------------------------------------------------------------------------------------- explorer


def test_explorer_has_a_page_per_transformer_layer_head_and_query(built):
    ex, _, batch = built
    words = int(batch["lengths"][1].sum())
    sel = ex.selectors
    assert ex.transformers == ["cross", "temporal"] and ex.layers == {"cross": 1, "temporal": 2}
    assert [o[0] for o in sel["transformer"].options] == ["cross-modal", "temporal"]
    assert len(sel["layer"].options) == 2 and len(sel["head"].options) == HEADS + 1
    assert sel["head"].options[-1][0] == "mean of heads"
    assert len(sel["query"].options) == T + words == len(ex.position_labels)
    assert ex.position_labels[0] == "frame 0 (segment 0)" and ex.position_labels[T].startswith("word 0 of subtitle 0")
    # one matrix picture per (transformer, layer, head or mean); one row view per query the transformer has
    assert len(ex.pngs) == (1 + 2) * (HEADS + 1)
    assert len(ex.rows_html) == 1 * (HEADS + 1) * (T + words) + 2 * (HEADS + 1) * T
    # nested stacks: transformer -> layer -> head -> (query stack, picture); the cross-modal transformer's missing
    # layer 1 and the temporal transformer's word queries are notes
    assert len(ex.stack.children) == 2 and all(len(s.children) == 2 for s in ex.stack.children)
    assert "has 1 layer" in ex.stack.children[0].children[1].value
    page = ex.stack.children[1].children[1].children[HEADS]                 # temporal, layer 1, mean of heads
    queries, picture = page.children
    assert picture.value == ex.pngs[("temporal", 1, "mean")]
    assert len(queries.children) == T + words and "reads frames only" in queries.children[T].value
    assert queries.children[4].value == ex.rows_html[("temporal", 1, "mean", 4)]


def test_matrices_are_the_models_weights_and_rows_sum_to_one(built):
    ex, att, batch = built
    b = 1
    for layer in range(2):
        for h in range(HEADS):
            m = ex.matrix("temporal", layer, h)
            np.testing.assert_allclose(m, att["temporal"].weights[layer][b, h].numpy(), atol=1e-6)
    m = ex.matrix("cross", 0, 1)
    np.testing.assert_allclose(m.sum(1), 1.0, atol=1e-5)
    words_before = np.cumsum([0, *batch["lengths"][b].tolist()])
    for s, (a, e) in enumerate(SPANS):                                          # block of segment s
        n_words = int(batch["lengths"][b, s])
        mine = [*range(a, e), *(T + words_before[s] + np.arange(n_words))]
        k = int(max(e - a for a, e in SPANS))
        cols = [*range(e - a), *(k + np.arange(n_words))]
        w = att["cross"].weights[0][b, s, 1].numpy()
        np.testing.assert_allclose(m[np.ix_(mine, mine)], w[np.ix_(cols, cols)], atol=1e-6)
        others = np.setdiff1d(np.arange(len(m)), mine)
        assert np.all(m[np.ix_(mine, others)] == 0)                            # other segments: not read
    for name in ex.transformers:
        for layer in range(ex.layers[name]):
            heads = np.stack([ex.matrix(name, layer, h) for h in range(HEADS)])
            np.testing.assert_allclose(ex.matrix(name, layer, "mean"), heads.mean(0))
            np.testing.assert_allclose(ex.matrix(name, layer, "mean").sum(1), 1.0, atol=1e-5)


def test_the_pictures_and_row_views_show_those_numbers(built):
    from PIL import Image

    ex, _, _ = built
    for key in (("cross", 0, 1), ("temporal", 1, "mean")):
        m, geo = ex.matrix(*key), ex.matrix_geometry[key]
        img = np.asarray(Image.open(io.BytesIO(ex.pngs[key])).convert("RGB"))
        c, left, top = geo["cell"], geo["left"], geo["top"]
        assert c >= 12 and img.shape[0] > top + len(m) * c and img.shape[1] > left + len(m) * c
        for i, j in [(0, 0), (1, 5), (len(m) - 1, len(m) - 2), (2, len(m) - 1)]:
            pixel = img[top + i * c + c // 2, left + j * c + c // 2]
            if ex._reach[key[0]][i, j]:
                np.testing.assert_array_equal(pixel, ex._colour(m[i, j] / geo["vmax"]))
            else:
                assert pixel[0] == pixel[1] == pixel[2] > 150                  # grey: not in the same sequence
        assert geo["vmax"] == pytest.approx(m[ex._reach[key[0]]].max())
    # the row view: bar heights are the row / its maximum, the query frame outlined, other segments faded
    r = ex.row("cross", 0, 1, 4)
    text = ex.rows_html[("cross", 0, 1, 4)]
    bars = [int(x) for x in re.findall(r"--h:(\d+)%", text)]
    seg1 = np.arange(3, 8)
    assert bars[:5] == [round(100 * v) for v in r[seg1] / np.nanmax(r)]
    assert text.count('<i class="x') == T - 5 and '<i class="q"' in text
    np.testing.assert_allclose(np.nansum(r), 1.0, atol=1e-5)


def test_flat_model_and_an_absent_subtitle():
    batch = make_batch()
    batch["subtitle_mask"] = torch.tensor([[True, False, True], [True, True, True]])
    ex, att, _ = explorer(hierarchical=False, b=0, batch=batch)
    assert ex.transformers == ["flat"] and ex.layers == {"flat": 3}
    words = int(batch["lengths"][0, 0] + batch["lengths"][0, 2])              # subtitle 1 is not read
    assert len(ex.position_keys) == T + words and ex.read_subtitles == [0, 2]
    np.testing.assert_allclose(ex.matrix("flat", 2, "mean").sum(1), 1.0, atol=1e-5)
    assert ex.matrix("flat", 0, 0).shape == (T + words, T + words)
    assert "<s>" in ex.rows_html[("flat", 0, 0, 0)] and "(not in the input)" in ex.rows_html[("flat", 0, 0, 0)]


def test_widget_class_links_show_and_static_view(built):
    ex, _, _ = built
    assert "vidkit-transformer-attention" in ex.widget._dom_classes
    sel = ex.selectors
    n_stacks = {"transformer": 1, "layer": 2, "head": 3, "query": 3 * (HEADS + 1)}
    assert len(ex.links) == sum(n_stacks.values())
    for key, n in n_stacks.items():
        linked = [lk for lk in ex.links if lk.source[0] is sel[key]]
        assert len(linked) == n and all(lk.source[1] == "index" and lk.target[1] == "selected_index" for lk in linked)
    ex.show("temporal", 1, "mean", 7)
    assert ex.current == ("temporal", 1, "mean", 7)
    assert ex.stack.selected_index == 1 and ex.stack.children[1].selected_index == 1
    static = ex.to_html()
    assert 'class="vidkit-transformer-attention' in static and "data:image/png;base64," in static
    assert ex.rows_html[("temporal", 1, "mean", 7)] in static
    with pytest.raises(ValueError, match="transformer must be one of"):
        ex.show("flat")
    ex.show("cross", 0, 0, 0)


def test_page_size_stays_small_for_a_notebook_episode():
    """T = 24 frames, 3 subtitles of up to 10 words, 2 layers x 4 heads in both transformers."""
    from ipywidgets.embed import dependency_state, embed_data

    spans, lengths = ((0, 8), (8, 16), (16, 24)), ((7, 10, 9),)
    batch = make_batch(t=24, spans=spans, lengths=lengths, words=10)
    ex, _, _ = explorer(b=0, batch=batch, model=make_model(heads=4, cross=2, temporal=2, words=10))
    assert len(ex.pngs) == 2 * 2 * 5 and len(ex.rows_html) == 2 * 5 * (24 + 26) + 2 * 5 * 24
    assert ex.payload_bytes < 3 * 2**20
    # this widget's tree only (the default state is every widget alive in the process)
    state = json.dumps(embed_data(views=[ex.widget], state=dependency_state(ex.widget))["manager_state"])
    assert len(state) < 4 * 2**20, f"{len(state) / 2**20:.1f} MiB of widget state"


@pytest.mark.parametrize("edit, match", [
    (lambda f, w, a: (f[:-1], w, a, 1), "covers frames 0..11"),
    (lambda f, w, a: (f, [w[0], w[1][:-1], w[2]], a, 1), r"subtitles\[1\] has 1 words"),
    (lambda f, w, a: (f, w[:1], a, 1), "subtitles has only 1"),
    (lambda f, w, a: (f, w, a, 2), r"b must be an int in 0..1 \(the batch has 2 episodes\)"),
    (lambda f, w, a: (f, w, {**a, "spatial": a["cross"]}, 1), "unknown transformers"),
    (lambda f, w, a: (f, w, {}, 1), "attention must be the dict"),
    (lambda f, w, a: (f, w, {"cross": "maps"}, 1), "must be an AttentionMaps"),
    (lambda f, w, a: (f[None], w, a, 1), "frames must be one episode"),
    (lambda f, w, a: (f, "one subtitle", a, 1), "subtitles must be a non-empty list"),
])
def test_explorer_rejects_bad_input(built, edit, match):
    ex, att, batch = built
    words = subtitle_words(batch["tokens"][1], batch["lengths"][1], VOCAB)
    frames, subs, attention, b = edit(batch["frames"][1], words, att)
    with pytest.raises(ValueError, match=match):
        TransformerAttentionExplorer(frames, subs, attention, b)
    with pytest.raises(ValueError, match="head must be an int in 0..1"):
        ex.matrix("cross", 0, 2)
    with pytest.raises(ValueError, match="has no position"):
        ex.row("temporal", 0, 0, T)


def test_subtitle_words():
    tokens = torch.tensor([[2, 3, 0], [4, 0, 0]])
    assert subtitle_words(tokens, torch.tensor([2, 1]), VOCAB) == [["the", "digit"], ["one"]]
    with pytest.raises(ValueError, match="lengths must lie in 0..3"):
        subtitle_words(tokens, torch.tensor([4, 1]), VOCAB)


# ----------------------------------------------------------------------------------------- FOM


def fom_case():
    frames = np.random.default_rng(0).integers(0, 255, (8, 6, 6), dtype=np.uint8)
    order = np.array([0, 5, 2, 1, 4, 3, 6, 7])                                 # 1 -> 3 -> 5 -> 1 rotated
    return frames, order


def test_fom_view_marks_right_and_wrong():
    import matplotlib.pyplot as plt

    frames, order = fom_case()
    fig = fom_view(frames, order, order.copy())                                 # perfect: every moved frame
    assert fig.fom_accuracy == 1.0 and fig.fom_right.tolist() == [True] * 3
    assert "3 of 3 moved frames" in fig._suptitle.get_text()
    marks = [t.get_text() for t in fig.axes[0].texts]
    assert len(marks) == 3 and all("\u2713" in m for m in marks)
    plt.close(fig)
    wrong = order.copy()
    wrong[1], wrong[3] = 3, 5                                                   # two of the three are wrong
    wrong[0] = 7                                                                # not moved: not scored
    fig = fom_view(frames, torch.as_tensor(order), torch.as_tensor(wrong), title="episode 0")
    assert fig.fom_accuracy == pytest.approx(1 / 3) and fig.fom_right.tolist() == [False, False, True]
    marks = [t.get_text() for t in fig.axes[0].texts]
    assert sum("\u2717" in m for m in marks) == 2 and marks[0] == "\u21923\n\u2717"
    assert fig._suptitle.get_text().startswith("episode 0\nFOM: 1 of 3")
    assert [ax.get_ylabel() for ax in fig.axes] == ["shuffled input", "predicted order", "truth"]
    plt.close(fig)


@pytest.mark.parametrize("order, predicted, match", [
    ([0, 1, 1, 3, 4, 5, 6, 7], None, "order must be a permutation of 0..7"),
    ([0, 5, 2, 1, 4, 3, 6], None, r"order must be an integer array \(T,\) = \(8,\)"),
    (None, [0, 5, 2, 1, 4, 3, 6, 8], "predicted positions must lie in 0..7"),
    (None, [0.0] * 8, "predicted must be an integer array"),
])
def test_fom_view_rejects_bad_input(order, predicted, match):
    frames, good = fom_case()
    with pytest.raises(ValueError, match=match):
        fom_view(frames, np.array(order if order is not None else good),
                 np.array(predicted if predicted is not None else good))


# ----------------------------------------------------------------------------------------- VSM


def test_moment_timeline_one_row_per_query_with_iou():
    import matplotlib.pyplot as plt

    starts, ends = np.array([0, 8, 16]), np.array([8, 16, 24])
    subs = ["the digit one is rotating to the right", ["a", "one", "heading", "left"], "a one contracting"]
    preds = [[(8, 16, -0.1), (0, 8, -2.0), (6, 14, -1.0)], [(16, 20, -0.3)]]
    fig = moment_timeline(starts, ends, subs, ["a one heading left", "a one contracting"], preds,
                          [(8, 16), (16, 24)], k=2)
    assert len(fig.axes) == 1 + 2
    labels = [t.get_text() for t in fig.axes[1].texts]
    assert len(labels) == 2                                                     # k = 2 of 3, best first
    assert labels[0].startswith("#1  [8, 16)") and "IoU 1.00" in labels[0]
    assert labels[1].startswith("#2  [6, 14)") and f"IoU {span_iou((6, 14), (8, 16)):.2f}" in labels[1]
    assert "IoU 0.50" in fig.axes[2].texts[0].get_text()
    assert "1: a one heading left" in fig.axes[0].texts[1].get_text()
    plt.close(fig)
    fig = moment_timeline(starts, ends, subs, "a one contracting", [(16, 24, 0.0)], (16, 24))
    assert len(fig.axes) == 2
    plt.close(fig)


@pytest.mark.parametrize("kw, match", [
    ({"truth": [(8, 16), (20, 30)]}, r"truth for query 1: span \(20, 30\) is outside the episode"),
    ({"predictions": [[(8, 16, 0.0)], [(-1, 4, 0.0)]]}, r"predictions for query 1: span \(-1, 4\) is outside"),
    ({"predictions": [[(8, 16, 0.0)], [(5, 5, 0.0)]]}, "outside the episode or empty"),
    ({"truth": [(8, 16)]}, "2 queries need 2 prediction lists and 2 true spans"),
    ({"subtitles": ["one", "two"]}, "subtitles must be a list of 3 subtitles"),
    ({"ends": np.array([8, 16, 30]), "num_frames": 24}, r"span \(16, 30\) is outside"),
    ({"starts": np.array([0, 6, 16])}, "in order without overlapping"),
    ({"query": []}, "query must be a non-empty sentence"),
])
def test_moment_timeline_rejects_bad_input(kw, match):
    args = {"starts": np.array([0, 8, 16]), "ends": np.array([8, 16, 24]), "subtitles": ["a", "b", "c"],
            "query": ["q one", "q two"], "predictions": [[(8, 16, 0.0)], [(16, 24, 0.0)]],
            "truth": [(8, 16), (16, 24)], **kw}
    if kw.get("query") == []:
        args["predictions"], args["truth"] = [], []
    with pytest.raises(ValueError, match=match):
        moment_timeline(**args)


def test_top_spans_and_iou():
    start = torch.full((10,), -5.0)
    end = torch.full((10,), -5.0)
    start[3], end[6] = 5.0, 5.0
    best = top_spans(start, end, k=3)
    assert best[0][:2] == (3, 7) and len(best) == 3                             # [3, 6] inclusive -> end 7
    assert all(a < b for a, b, _ in best) and best[0][2] >= best[1][2] >= best[2][2]
    assert all(b - a <= 2 for a, b, _ in top_spans(start, end, k=5, max_frames=2))
    assert span_iou((0, 4), (2, 6)) == pytest.approx(2 / 6) and span_iou((0, 2), (5, 6)) == 0.0
    with pytest.raises(ValueError, match="must be finite"):
        top_spans(start, end[:5])
