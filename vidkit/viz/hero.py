"""Notebook 06's HERO views: what the transformers attend to, how FOM puts shuffled frames back, and where VSM
finds a sentence in an episode.

* :class:`TransformerAttentionExplorer`: the attention maps of one episode (:attr:`vidkit.models.hero.HEROOutput.attention`).
  Pick a transformer (cross-modal / temporal, or the flat ablation), a layer, a head (or the mean of the heads)
  and a query position (a frame or a subtitle word): the page shows which frames (thumbnails with a bar under
  each) and which words (coloured by weight) it reads, and the whole ``N x N`` attention matrix of that layer
  and head (frame thumbnails and word labels on the axes). Every page is rendered when the explorer is built and
  linked in the browser (``jslink``), so it keeps working after the kernel stops.
* :func:`fom_view`: Frame Order Modelling, one episode: the shuffled input, the frames where the model says they
  came from, the truth, and a right / wrong mark per moved frame.
* :func:`moment_timeline`: Video-Subtitle Matching as moment retrieval: the episode's subtitles on a timeline, and
  per query sentence its true span and the top-k predicted spans with their scores and IoU.
* helpers: :func:`subtitle_words` (a batch's word ids back to words), :func:`top_spans` (the best spans of
  :func:`vidkit.models.hero.moment_scores`'s logits), :func:`span_iou`.

Spans are ``(start, end)`` with ``end`` **exclusive** (frames ``start .. end - 1``), as the batch's ``starts`` /
``ends`` and :class:`vidkit.data.episodes.Episodes` have them.
"""

from __future__ import annotations

import base64
import html
import io
import secrets
import textwrap
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from vidkit.eval.retrieval import all_spans, temporal_iou
from vidkit.utils.checks import check_int, shape_text
from vidkit.viz import frames as viz

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

__all__ = ["TransformerAttentionExplorer", "fom_view", "moment_timeline", "subtitle_words", "top_spans", "span_iou"]

#: The transformers' names in the selector, in this order.
TRANSFORMER_NAMES = {"cross": "cross-modal", "temporal": "temporal", "flat": "flat (F-TRM)"}
#: Warn above this many bytes of pre-rendered pages (they live in the notebook).
PAYLOAD_WARN_BYTES = 8 * 1024 * 1024

RIGHT_RGB, WRONG_RGB, QUERY_RGB, MOVED_RGB = (44, 160, 44), (214, 39, 40), (31, 119, 180), (255, 127, 14)


# ------------------------------------------------------------------------------------------------ helpers


def _numpy(x: Any) -> np.ndarray:
    return x.detach().cpu().numpy() if hasattr(x, "detach") else np.asarray(x)


def _rgb_frames(frames: Any, what: str) -> np.ndarray:
    """One episode's frames ``(T, H, W)`` / ``(T, C, H, W)`` / ``(T, H, W, C)`` -> ``(T, H, W, 3)`` uint8."""
    try:
        return viz.to_rgb_uint8(frames)
    except (TypeError, ValueError) as e:
        raise type(e)(f"{what}: frames must be one episode, (T, H, W) or (T, C, H, W), uint8 or float in [0, 1]: "
                      f"{e}") from e


def _words(sub: Any, what: str) -> list[str]:
    """A subtitle as words: a string is tokenized (:func:`vidkit.models.text.tokenize`), a sequence of strings kept."""
    from vidkit.models.text import tokenize

    if isinstance(sub, str):
        return tokenize(sub)
    if isinstance(sub, Sequence) and all(isinstance(w, str) for w in sub):
        return [str(w) for w in sub]
    raise ValueError(f"{what} must be a string or a list of words, got {type(sub).__name__}")


def _subtitle_list(subtitles: Any, what: str) -> list[list[str]]:
    if isinstance(subtitles, str) or not isinstance(subtitles, Sequence) or len(subtitles) == 0:
        raise ValueError(f"{what}: subtitles must be a non-empty list with one subtitle (a string or a list of "
                         f"words) per segment, got {type(subtitles).__name__}")
    return [_words(s, f"{what}: subtitles[{i}]") for i, s in enumerate(subtitles)]


def subtitle_words(tokens: Any, lengths: Any, vocab: Any) -> list[list[str]]:
    """One episode's subtitles as words: ``tokens`` ``(S, L)`` word ids and ``lengths`` ``(S,)`` (a batch's
    ``batch["tokens"][b]``, ``batch["lengths"][b]``) through ``vocab.itos`` -> ``S`` lists of words."""
    t, n = _numpy(tokens), _numpy(lengths)
    if t.ndim != 2 or t.dtype.kind not in "iu" or n.shape != (t.shape[0],) or n.dtype.kind not in "iu":
        raise ValueError(f"subtitle_words: tokens must be integer (S, L) and lengths integer (S,), got tokens "
                         f"{shape_text(t)} {t.dtype} and lengths {shape_text(n)} {n.dtype}")
    if n.min(initial=0) < 0 or n.max(initial=0) > t.shape[1]:
        raise ValueError(f"subtitle_words: lengths must lie in 0..{t.shape[1]} (L), got {n.tolist()}")
    itos = vocab.itos
    if t.size and (t.min() < 0 or t.max() >= len(itos)):
        raise ValueError(f"subtitle_words: word ids must lie in 0..{len(itos) - 1} (the vocabulary), got "
                         f"{t.min()}..{t.max()}")
    return [[itos[int(i)] for i in row[:k]] for row, k in zip(t, n)]


def _span_array(spans: Any, what: str, num_frames: int, with_score: bool = False) -> np.ndarray:
    """``(k, 2)`` int spans (or ``(k, 3)`` float with scores) inside ``[0, num_frames]`` with ``start < end``."""
    cols = 3 if with_score else 2
    a = _numpy(spans) if not isinstance(spans, Sequence) else np.asarray(list(spans), dtype=float)
    if a.ndim == 1 and a.shape[0] == cols:
        a = a[None]
    if a.ndim != 2 or a.shape[1] != cols or a.dtype.kind not in "iuf" or not np.isfinite(a).all():
        form = "(start, end, score)" if with_score else "(start, end)"
        raise ValueError(f"{what} must be {form} or a list of them, with end exclusive, got {shape_text(a)}")
    se = a[:, :2]
    if (se != np.round(se)).any():
        raise ValueError(f"{what}: start and end must be whole frame numbers, got {se.tolist()}")
    bad = (se[:, 0] < 0) | (se[:, 1] > num_frames) | (se[:, 1] <= se[:, 0])
    if bad.any():
        s, e = se[bad][0]
        raise ValueError(f"{what}: span ({int(s)}, {int(e)}) is outside the episode or empty: need 0 <= start < end "
                         f"<= {num_frames} (end exclusive, {num_frames} frames)")
    return a.astype(float) if with_score else a.astype(np.int64)


def span_iou(a: tuple[int, int], b: tuple[int, int]) -> float:
    """Temporal IoU of two frame spans ``(start, end)``, end exclusive: shared frames / frames in either
    (:func:`vidkit.eval.retrieval.temporal_iou` of one pair)."""
    return float(temporal_iou(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)))


def top_spans(start_logits: Any, end_logits: Any, k: int = 3, max_frames: int | None = None,
              ) -> list[tuple[int, int, float]]:
    """The ``k`` best spans of one query in one episode, as :func:`vidkit.models.hero.moment_scores` ranks them.

    ``start_logits``, ``end_logits`` ``(T,)`` (e.g. ``start[q, b]``); a span ``[st, ed]`` with ``st <= ed`` scores
    ``log_softmax(start)[st] + log_softmax(end)[ed]`` (the log-probability of that start and that end).
    ``max_frames``: longest span considered (default all). Returns ``[(start, end, score), ...]``, best first,
    **end exclusive** (``ed + 1``), ready for :func:`moment_timeline`."""
    s, e = _numpy(start_logits).astype(np.float64), _numpy(end_logits).astype(np.float64)
    if s.ndim != 1 or s.shape != e.shape or not (np.isfinite(s).all() and np.isfinite(e).all()):
        raise ValueError(f"top_spans: start_logits and end_logits must be finite (T,) of one length, got "
                         f"{shape_text(s)} and {shape_text(e)}")
    t = len(s)
    k = check_int("k", k, 1, t * (t + 1) // 2)
    longest = t if max_frames is None else check_int("max_frames", max_frames, 1, t)

    log_s, log_e = (torch.from_numpy(x).log_softmax(0).numpy() for x in (s, e))
    spans = all_spans(t)                                                    # [start, end), by start then end
    spans = spans[spans[:, 1] - spans[:, 0] <= longest]
    score = log_s[spans[:, 0]] + log_e[spans[:, 1] - 1]
    best = np.argsort(-score, kind="stable")[:k]
    return [(int(spans[i, 0]), int(spans[i, 1]), float(score[i])) for i in best]


def _hex(rgb: Sequence[int]) -> str:
    return "#{:02x}{:02x}{:02x}".format(*(int(c) for c in rgb))


def _png(img: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="PNG", optimize=True)
    return buf.getvalue()


# ------------------------------------------------------------------------------------------------ explorer


class TransformerAttentionExplorer:
    """What every position of one episode attends to, per transformer, layer and head of a HERO.

    Args:
        frames: the episode's frames ``(T, H, W)`` or ``(T, C, H, W)`` (uint8, or float in [0, 1]), in the order
            the model read them (e.g. ``batch["frames"][b]``).
        subtitles: one subtitle per segment, each a list of words (e.g. :func:`subtitle_words` of the batch's
            ``tokens[b]``, ``lengths[b]``) or a string (split by :func:`vidkit.models.text.tokenize`). A subtitle the
            model read must have exactly the words it read; one it did not read (``subtitle_mask`` False) is shown
            struck through.
        attention: ``model(batch, return_attention=True).attention``: ``{"cross": AttentionMaps, "temporal":
            AttentionMaps}`` or ``{"flat": AttentionMaps}`` (:class:`vidkit.models.hero.AttentionMaps`), of a batch
            holding this episode.
        b: which episode of that batch.
        thumb: frame thumbnail size in the row view (pixels); ``title``: optional bold line.

    **Positions.** Every frame ``0..T-1`` and every word the model read, numbered frames first, then the words in
    reading order (:attr:`position_labels`). The cross-modal transformer runs one sequence per segment (its frames
    and its subtitle's words): a position reads only its own segment, and the matrix is block diagonal (grey: not
    in the same sequence). The temporal transformer reads frames only; the flat one reads everything.

    **The page** for (transformer, layer, head, query): the query's row of the attention matrix as the frames it
    reads (bar height and colour: weight / the row's largest) and its words (background: the same), then the whole
    matrix of that layer and head as a picture (colour 0 .. the matrix's largest weight). "mean of heads" averages
    the heads' matrices. All pages are built at once (transformers x layers x (heads + 1) matrix pictures and x
    positions row views, the row views as small HTML sharing one set of thumbnails) and chosen in the browser by
    four selectors linked (``jslink``) to nested ``Stack`` widgets: no kernel needed, also after it stops.

    Attributes: ``transformers`` (keys of ``attention`` shown, in order), ``layers`` / ``heads``
    (``{transformer: count}``), ``positions`` (``{transformer: global position indices it has}``),
    ``position_labels``, ``position_keys`` (``("frame", t)`` or ``("word", s, l)``), ``head_options`` (head
    labels, ``"mean of heads"`` last), ``selectors`` (``{"transformer", "layer", "head", "query"}`` widgets: two
    rows of ``ToggleButtons``, then ``ToggleButtons`` and a ``Dropdown``), ``stack`` (the outer ``Stack``),
    ``links``, ``pngs`` (``{(transformer, layer, head): PNG bytes}``, head ``"mean"`` for the mean),
    ``matrix_geometry`` (where each PNG's matrix lies: ``left``, ``top``, ``cell`` pixels, ``vmax`` the weight of the
    darkest colour), ``rows_html`` (``{(transformer, layer, head, query): HTML}``), ``payload_bytes`` (PNG + HTML
    bytes of every page), ``widget`` (``VBox`` with class
    ``vidkit-transformer-attention``). :meth:`matrix` / :meth:`row` give the numbers a page shows, :meth:`show`
    picks a page from Python.
    """

    BAR_PX = 30
    CELL_PX = (12, 28)      # smallest and largest matrix cell
    MATRIX_PX = 640         # the matrix is about this wide
    NOTE = ("Every page was rendered when the explorer was built and is stored in the notebook: picking a "
            "transformer, layer, head or query needs no kernel.")

    def __init__(self, frames: Any, subtitles: Any, attention: Mapping[str, Any], b: int = 0, *, thumb: int = 36,
                 title: str | None = None, cmap: str = "Reds"):
        self.rgb = _rgb_frames(frames, "TransformerAttentionExplorer")
        t = len(self.rgb)
        self.subtitles = _subtitle_list(subtitles, "TransformerAttentionExplorer")
        self.thumb = check_int("thumb", thumb, 12, 128)
        self.title = title
        self.lut = viz.colormap_lut(cmap)
        if not isinstance(attention, Mapping) or not attention:
            raise ValueError("TransformerAttentionExplorer: attention must be the dict model(batch, return_attention=True)."
                             f"attention ({{'cross': ..., 'temporal': ...}} or {{'flat': ...}}), got "
                             f"{type(attention).__name__}")
        unknown = sorted(set(attention) - set(TRANSFORMER_NAMES))
        if unknown:
            raise ValueError(f"TransformerAttentionExplorer: unknown transformers {unknown} in attention; expected keys among "
                             f"{tuple(TRANSFORMER_NAMES)}")
        self.transformers = [k for k in TRANSFORMER_NAMES if k in attention]
        self.b = b
        seqs = {name: self._sequences(attention[name], b, name) for name in self.transformers}

        # global positions: all frames, then every word some transformer read, in reading order
        frame_segment = np.full(t, -1)
        words: set[tuple[int, int]] = set()
        for name, (_, keys, segs) in seqs.items():
            got = sorted(k[1] for ks in keys for k in ks if k[0] == "frame")
            if got != list(range(t)):
                raise ValueError(f"TransformerAttentionExplorer: the {name} attention covers frames {_ranges(got)}, but frames has "
                                 f"T = {t}: pass the frames of episode b = {b} of the batch the attention came from")
            for ks, ss in zip(keys, segs):
                for k, s in zip(ks, ss):
                    if k[0] == "frame":
                        frame_segment[k[1]] = s
                    else:
                        words.add(k[1:])
        for s in sorted({w[0] for w in words}):
            read = sorted(j for ss, j in words if ss == s)
            if s >= len(self.subtitles):
                raise ValueError(f"TransformerAttentionExplorer: the model read words of subtitle {s}, but subtitles has only "
                                 f"{len(self.subtitles)} subtitles")
            if read != list(range(len(self.subtitles[s]))):
                raise ValueError(f"TransformerAttentionExplorer: subtitles[{s}] has {len(self.subtitles[s])} words "
                                 f"{self.subtitles[s]}, but the model read {len(read)} words of subtitle {s}: pass the "
                                 "words of the batch's tokens (subtitle_words)")
        self.frame_segment = frame_segment
        self.read_subtitles = sorted({w[0] for w in words})
        self.position_keys: list[tuple] = [("frame", i) for i in range(t)] + [("word", *w) for w in sorted(words)]
        index = {k: i for i, k in enumerate(self.position_keys)}
        self.position_labels = [f"frame {k[1]} (segment {frame_segment[k[1]]})" if k[0] == "frame"
                                else f"word {k[2]} of subtitle {k[1]}: \u201c{self.subtitles[k[1]][k[2]]}\u201d"
                                for k in self.position_keys]

        # every transformer's matrices over its own positions (zeros between positions of different sequences)
        self.positions: dict[str, np.ndarray] = {}
        self.layers: dict[str, int] = {}
        self.heads: dict[str, int] = {}
        self._w: dict[str, np.ndarray] = {}
        self._reach: dict[str, np.ndarray] = {}
        for name, (weights, keys, _) in seqs.items():
            glob = [np.array([index[k] for k in ks], np.int64) for ks in keys]
            pos = np.unique(np.concatenate(glob))
            local = {g: i for i, g in enumerate(pos)}
            n, (nl, nh) = len(pos), weights[0].shape[:2]
            w = np.zeros((nl, nh, n, n))
            reach = np.zeros((n, n), bool)
            for q, g in enumerate(glob):
                li = np.array([local[x] for x in g])
                w[:, :, li[:, None], li[None, :]] = weights[q]
                reach[li[:, None], li[None, :]] = True
            self.positions[name], self.layers[name], self.heads[name] = pos, nl, nh
            self._w[name], self._reach[name] = w, reach
        self.head_options = [f"head {h}" for h in range(max(self.heads.values()))] + ["mean of heads"]
        self._build()

    # -------------------------------------------------------------------------------------------- checks
    @staticmethod
    def _sequences(maps: Any, b: int, name: str) -> tuple[list[np.ndarray], list[list[tuple]], list[list[int]]]:
        """Episode ``b``'s sequences of one transformer: per sequence the ``(layers, heads, n, n)`` weights among
        its valid positions, their keys (``("frame", t)`` / ``("word", s, l)``) and segments."""
        need = ("weights", "is_word", "segment", "index", "valid")
        if not all(hasattr(maps, a) for a in need):
            raise ValueError(f"TransformerAttentionExplorer: attention[{name!r}] must be an AttentionMaps (with {need}), got "
                             f"{type(maps).__name__}")
        if not isinstance(maps.weights, Sequence) or len(maps.weights) == 0:
            raise ValueError(f"TransformerAttentionExplorer: attention[{name!r}].weights must be a non-empty list (one tensor "
                             "per layer); was the forward run with return_attention=True?")
        valid, is_word = _numpy(maps.valid).astype(bool), _numpy(maps.is_word).astype(bool)
        segment, index = _numpy(maps.segment), _numpy(maps.index)
        lead = 2 if name == "cross" else 1
        if valid.ndim != lead + 1 or not (is_word.shape == segment.shape == index.shape == valid.shape):
            dims = "(B, S, N)" if lead == 2 else "(B, N)"
            raise ValueError(f"TransformerAttentionExplorer: attention[{name!r}]'s labels must be {dims}, got valid "
                             f"{shape_text(valid)}, is_word {shape_text(is_word)}")
        b = check_int("b", b, 0, valid.shape[0] - 1, what=f" (the batch has {valid.shape[0]} episodes)")
        n = valid.shape[-1]
        layers = [_numpy(a) for a in maps.weights]
        heads = layers[0].shape[lead] if layers[0].ndim == lead + 3 else 0
        for i, a in enumerate(layers):
            if a.shape != (*valid.shape[:-1], heads, n, n) or heads < 1:
                raise ValueError(f"TransformerAttentionExplorer: attention[{name!r}].weights[{i}] must be (..., heads, N, N) = "
                                 f"{(*valid.shape[:-1], 'heads', n, n)}, got {shape_text(a)}")
        w = np.stack([a[b] for a in layers], axis=-4).astype(np.float64)     # ([S,] L, H, N, N)
        w = w.reshape(-1, len(layers), heads, n, n)
        v, iw, sg, ix = (x[b].reshape(-1, n) for x in (valid, is_word, segment, index))
        weights, keys, segs = [], [], []
        for q in range(len(v)):
            j = np.flatnonzero(v[q])
            if len(j) == 0:
                continue
            weights.append(w[q][:, :, j[:, None], j[None, :]])
            keys.append([("word", int(sg[q, i]), int(ix[q, i])) if iw[q, i] else ("frame", int(ix[q, i])) for i in j])
            segs.append([int(sg[q, i]) for i in j])
        return weights, keys, segs

    # -------------------------------------------------------------------------------------------- numbers
    def _head(self, transformer: str, head: int | str) -> int | None:
        if head in ("mean", "mean of heads"):
            return None
        return check_int("head", head, 0, self.heads[transformer] - 1, what=f" (or 'mean'; the {transformer} "
                         "transformer's heads)")

    def matrix(self, transformer: str, layer: int, head: int | str = "mean") -> np.ndarray:
        """The ``(n, n)`` attention matrix a page draws, over :attr:`positions` ``[transformer]`` (rows: queries;
        zeros between positions that are not in one sequence); ``head="mean"``: the mean over the heads."""
        if transformer not in self._w:
            raise ValueError(f"transformer must be one of {self.transformers}, got {transformer!r}")
        layer = check_int("layer", layer, 0, self.layers[transformer] - 1, what=f" (the {transformer} transformer's "
                          "layers)")
        h = self._head(transformer, head)
        w = self._w[transformer][layer]
        return w.mean(axis=0) if h is None else w[h]

    def row(self, transformer: str, layer: int, head: int | str, query: int) -> np.ndarray:
        """What global position ``query`` reads: ``(P,)`` weights over all :attr:`position_labels` (NaN where that
        transformer has no such position, e.g. words for the temporal one)."""
        query = check_int("query", query, 0, len(self.position_keys) - 1)
        pos = self.positions.get(transformer, np.array([], np.int64))
        m = self.matrix(transformer, layer, head)
        if query not in pos:
            raise ValueError(f"the {transformer} transformer has no position {self.position_labels[query]!r}")
        out = np.full(len(self.position_keys), np.nan)
        out[pos] = m[np.searchsorted(pos, query)]
        return out

    # -------------------------------------------------------------------------------------------- pictures
    def _colour(self, x: np.ndarray | float) -> np.ndarray:
        return self.lut[np.clip(np.round(np.asarray(x) * 255), 0, 255).astype(np.int64)]

    def _short(self, g: int) -> str:
        k = self.position_keys[g]
        return str(k[1]) if k[0] == "frame" else self.subtitles[k[1]][k[2]]

    def _matrix_image(self, transformer: str, layer: int, head: int | str) -> np.ndarray:
        """The matrix of one (transformer, layer, head) as an ``(H, W, 3)`` uint8 picture: cells coloured 0 .. max,
        grey where two positions are not in one sequence, frame thumbnails and word labels on both axes, lines
        between segments, a title and a colour bar."""
        from PIL import Image, ImageDraw

        m, reach, pos = self.matrix(transformer, layer, head), self._reach[transformer], self.positions[transformer]
        n = len(pos)
        c = int(np.clip(round(self.MATRIX_PX / n), *self.CELL_PX))
        font, big = viz._font(viz.LABEL_MIN_PX), viz._font(13)
        labels = [self._short(g) for g in pos]
        is_frame = np.array([self.position_keys[g][0] == "frame" for g in pos])
        lab = int(max(font.getlength(s) for s in labels)) + 6
        head_text = f"head {head}" if isinstance(head, int | np.integer) else "mean of heads"
        lines = [f"{TRANSFORMER_NAMES[transformer]} transformer \u00b7 layer {layer} \u00b7 {head_text}",
                 "row: the query position; column: what it reads (each row sums to 1)"]
        line_h = sum(big.getmetrics()) + 2
        left, top = lab + c + 6, 2 * line_h + 6 + lab + c + 4
        size = n * c
        width = max(left + size + 10, int(big.getlength(lines[1])) + 12)
        height = top + size + 60
        img = Image.new("RGB", (width, height), (255, 255, 255))
        draw = ImageDraw.Draw(img)
        for i, s in enumerate(lines):
            draw.text((6, 4 + i * line_h), s, fill=(0, 0, 0), font=big)
        vmax = float(m[reach].max()) if reach.any() else 1.0
        self.matrix_geometry[(transformer, layer, head)] = {"left": left, "top": top, "cell": c, "vmax": vmax}
        cells = self._colour(m / max(vmax, 1e-12))
        hatch = np.full((c, c, 3), 232, np.uint8)
        hatch[(np.add.outer(np.arange(c), np.arange(c)) % 6) == 0] = 200
        grid = np.repeat(np.repeat(cells, c, axis=0), c, axis=1)
        block = np.tile(hatch, (n, n, 1))
        far = np.repeat(np.repeat(~reach, c, axis=0), c, axis=1)
        grid[far] = block[far]
        img.paste(Image.fromarray(grid), (left, top))
        # axes: thumbnails of frames, labels (rows: right-aligned; columns: rotated)
        for i, g in enumerate(pos):
            y = top + i * c
            if is_frame[i]:
                th = Image.fromarray(self.rgb[self.position_keys[g][1]]).resize((c, c), Image.BILINEAR)
                img.paste(th, (left - c - 2, y))
                img.paste(th, (left + i * c, top - c - 2))
                tx = left - c - 4
            else:
                tx = left - 3
            ty = y + (c - sum(font.getmetrics())) // 2
            draw.text((tx - font.getlength(labels[i]), ty), labels[i], fill=(0, 0, 0), font=font)
            tw = int(font.getlength(labels[i])) + 2
            txt = Image.new("RGB", (tw, sum(font.getmetrics()) + 1), (255, 255, 255))
            ImageDraw.Draw(txt).text((0, 0), labels[i], fill=(0, 0, 0), font=font)
            rot = txt.rotate(90, expand=True)
            img.paste(rot, (left + i * c + (c - rot.width) // 2, top - c - 4 - rot.height))
        # segment lines (thin) and the frames | words line (thick)
        seg = np.array([self.frame_segment[self.position_keys[g][1]] if is_frame[i] else self.position_keys[g][1]
                        for i, g in enumerate(pos)])
        for i in range(1, n):
            if is_frame[i] != is_frame[i - 1] or seg[i] != seg[i - 1]:
                thick = 2 if is_frame[i] != is_frame[i - 1] else 1
                x = left + i * c
                y = top + i * c
                draw.line([(x, top), (x, top + size)], fill=(60, 60, 60), width=thick)
                draw.line([(left, y), (left + size, y)], fill=(60, 60, 60), width=thick)
        draw.rectangle([left - 1, top - 1, left + size, top + size], outline=(0, 0, 0))
        # colour bar
        y0 = top + size + 12
        bar_w = min(200, size)
        ramp = self._colour(np.linspace(0, 1, bar_w))[None].repeat(12, axis=0)
        img.paste(Image.fromarray(ramp), (left, y0))
        draw.rectangle([left - 1, y0 - 1, left + bar_w, y0 + 12], outline=(0, 0, 0))
        draw.text((left, y0 + 15), "0", fill=(0, 0, 0), font=font)
        top_label = f"{vmax:.2f}"
        draw.text((left + bar_w - font.getlength(top_label), y0 + 15), top_label, fill=(0, 0, 0), font=font)
        x = left + bar_w + 10
        draw.text((x, y0), "attention weight", fill=(0, 0, 0), font=font)
        if (~reach).any():
            x += int(font.getlength("attention weight")) + 16
            img.paste(Image.fromarray(hatch[:12, :12]), (x, y0))
            draw.rectangle([x - 1, y0 - 1, x + 12, y0 + 12], outline=(120, 120, 120))
            draw.text((x + 18, y0), "not in the same sequence", fill=(0, 0, 0), font=font)
        return np.asarray(img, np.uint8)

    def _style(self) -> str:
        """The CSS of the row views (scoped to this explorer's class), with every frame's thumbnail once."""
        p, tw, bar = f".{self._cls}", self.thumb, self.BAR_PX
        ink = "{} {} {}".format(*self._colour(0.8))
        css = [f"{p} .vkfr{{display:flex;flex-wrap:wrap;gap:2px;counter-reset:vkf -1;margin:4px 0}}",
               f"{p} .vkfr>i{{display:block;width:{tw}px;font:11px/13px 'DejaVu Sans',sans-serif;text-align:center;"
               "font-style:normal;color:#333}",
               f"{p} .vkfr>i::before{{counter-increment:vkf;content:counter(vkf);display:block}}",
               f"{p} .vkfr>i>b{{display:block;width:{tw}px;height:{tw}px;background-size:100% 100%;"
               "image-rendering:pixelated}",
               f"{p} .vkfr>i>u{{--h:0%;display:block;height:{bar}px;margin-top:2px;"
               f"background:linear-gradient(to top,rgb({ink}) var(--h),#eee 0)}}",
               f"{p} .vkfr>i.x{{opacity:.3}}",
               f"{p} .vkfr>i.q>b{{outline:3px solid {_hex(QUERY_RGB)};outline-offset:-2px}}",
               f"{p} .vkfr>i.g{{margin-left:10px}}",
               f"{p} .vkw{{font:13px/22px 'DejaVu Sans',sans-serif;margin:2px 0}}",
               f"{p} .vkw span{{padding:1px 4px;margin:1px;border-radius:3px;background:rgb({ink}/var(--a,0))}}",
               f"{p} .vkw span.d{{color:#fff}}",
               f"{p} .vkw span.x{{color:#aaa}}",
               f"{p} .vkw span.q{{outline:2px solid {_hex(QUERY_RGB)}}}",
               f"{p} .vkw s{{color:#999}}",
               f"{p} .vkh{{font:13px 'DejaVu Sans',sans-serif;margin:2px 0}}"]
        for i, f in enumerate(self.rgb):
            css.append(f"{p} .vkfr>i:nth-child({i + 1})>b{{background-image:url(data:image/png;base64,"
                       f"{base64.b64encode(_png(f)).decode()})}}")
        return "<style>" + "\n".join(css) + "</style>"

    def _row_html(self, transformer: str, layer: int, head: int | str, query: int) -> str:
        """The row view of one query: header, frames with bars, words coloured by weight (HTML using :meth:`_style`)."""
        r = self.row(transformer, layer, head, query)
        top = np.nanmax(r)
        scale = r / max(top, 1e-12)
        t = len(self.rgb)
        qk = self.position_keys[query]
        frames_w, words_w = np.nansum(r[:t]), np.nansum(r[t:])
        best = [g for g in np.argsort(-np.nan_to_num(r, nan=-1.0), kind="stable")[:3] if r[g] > 0]
        strongest = ", ".join(f"{self._short(g) if self.position_keys[g][0] == 'word' else 'frame ' + self._short(g)}"
                              f" {r[g]:.2f}" for g in best)
        share = f"frames {frames_w:.2f}" + (f", words {words_w:.2f}" if transformer != "temporal" else "")
        out = [f'<div class="vkh"><b>{html.escape(self.position_labels[query])}</b> reads: {share}; strongest: '
               f"{html.escape(strongest)} (bars and colours: weight / {top:.2f}, the largest in this row)</div>",
               '<div class="vkfr">']
        for i in range(t):
            cls = [c for c, on in (("x", np.isnan(r[i]) or (r[i] == 0 and not self._reachable(transformer, query, i))),
                                   ("q", qk == ("frame", i)),
                                   ("g", i > 0 and self.frame_segment[i] != self.frame_segment[i - 1])) if on]
            attr = f' class="{" ".join(cls)}"' if cls else ""
            if np.isnan(r[i]) or "x" in cls:
                out.append(f"<i{attr}><b></b><u></u>\u00b7</i>")
            else:
                out.append(f'<i{attr}><b></b><u style="--h:{100 * scale[i]:.0f}%"></u>{_short_number(r[i])}</i>')
        out.append("</div>")
        if transformer == "temporal":
            out.append('<div class="vkw"><i>The temporal transformer reads frames only: the subtitles reach it '
                       "through the cross-modal transformer's frame outputs.</i></div>")
        else:
            index = {k: g for g, k in enumerate(self.position_keys)}
            for s, words in enumerate(self.subtitles):
                parts = []
                if s not in self.read_subtitles:
                    parts.append(f"<s>{html.escape(' '.join(words))}</s> <i>(not in the input)</i>")
                else:
                    for j, w in enumerate(words):
                        g = index[("word", s, j)]
                        reach = not np.isnan(r[g]) and self._reachable(transformer, query, g)
                        cls = ([] if reach else ["x"]) + (["q"] if g == query else []) + \
                            (["d"] if reach and scale[g] > 0.6 else [])
                        style = f' style="--a:{scale[g]:.2f}"' if reach else ""
                        attr = f' class="{" ".join(cls)}"' if cls else ""
                        parts.append(f"<span{attr}{style}>{html.escape(w)}</span>")
                out.append(f'<div class="vkw">subtitle {s}: {"".join(parts)}</div>')
        return "".join(out)

    def _reachable(self, transformer: str, query: int, g: int) -> bool:
        pos = self.positions[transformer]
        if g not in pos:
            return False
        return bool(self._reach[transformer][np.searchsorted(pos, query), np.searchsorted(pos, g)])

    # -------------------------------------------------------------------------------------------- widgets
    def _build(self) -> None:
        import ipywidgets as W

        self._cls = f"vkh{secrets.token_hex(4)}"
        self.style_html = self._style()
        n_layers, n_heads = max(self.layers.values()), len(self.head_options)
        shared_layout = W.Layout()
        self.pngs: dict[tuple[str, int, int | str], bytes] = {}
        self.matrix_geometry: dict[tuple[str, int, int | str], dict[str, Any]] = {}
        self.rows_html: dict[tuple[str, int, int | str, int], str] = {}
        notes: dict[str, Any] = {}

        def note(text: str) -> Any:
            if text not in notes:
                notes[text] = W.HTML(f"<i>{html.escape(text)}</i>", layout=shared_layout)
            return notes[text]

        layer_stacks, head_stacks, query_stacks = [], [], []
        t_pages = []
        for name in self.transformers:
            l_pages = []
            for layer in range(n_layers):
                if layer >= self.layers[name]:
                    l_pages.append(note(f"The {TRANSFORMER_NAMES[name]} transformer has {self.layers[name]} "
                                        f"layer{'s' * (self.layers[name] > 1)}: pick another layer."))
                    continue
                h_pages = []
                for hi in range(n_heads):
                    head: int | str = hi if hi < n_heads - 1 else "mean"
                    if head != "mean" and head >= self.heads[name]:
                        h_pages.append(note(f"The {TRANSFORMER_NAMES[name]} transformer has {self.heads[name]} heads."))
                        continue
                    png = _png(self._matrix_image(name, layer, head))
                    self.pngs[(name, layer, head)] = png
                    q_pages = []
                    for g in range(len(self.position_keys)):
                        if g not in self.positions[name]:
                            q_pages.append(note(f"The {TRANSFORMER_NAMES[name]} transformer reads frames only: pick "
                                                "a frame as the query (or the cross-modal transformer)."))
                            continue
                        text = self._row_html(name, layer, head, g)
                        self.rows_html[(name, layer, head, g)] = text
                        q_pages.append(W.HTML(text, layout=shared_layout))
                    qs = W.Stack(q_pages, selected_index=0)
                    query_stacks.append(qs)
                    h_pages.append(W.VBox([qs, W.Image(value=png, format="png")]))
                hs = W.Stack(h_pages, selected_index=0)
                head_stacks.append(hs)
                l_pages.append(hs)
            ls = W.Stack(l_pages, selected_index=0)
            layer_stacks.append(ls)
            t_pages.append(ls)
        self.stack = W.Stack(t_pages, selected_index=0)
        self.payload_bytes = sum(map(len, self.pngs.values())) + sum(map(len, self.rows_html.values())) + \
            len(self.style_html)
        if self.payload_bytes > PAYLOAD_WARN_BYTES:
            import warnings

            warnings.warn(f"TransformerAttentionExplorer: the pages take {self.payload_bytes / 2**20:.1f} MiB; the notebook "
                          "grows by about that much. Consider fewer frames or words.", stacklevel=3)
        toggle = {"style": {"button_width": "auto"}}
        self.selectors = {
            "transformer": W.ToggleButtons(options=[(TRANSFORMER_NAMES[k], i) for i, k in enumerate(self.transformers)],
                                           value=0, description="transformer", **toggle),
            "layer": W.ToggleButtons(options=[(f"layer {i}", i) for i in range(n_layers)], value=0,
                                     description="layer", **toggle),
            "head": W.ToggleButtons(options=[(h, i) for i, h in enumerate(self.head_options)], value=0,
                                    description="head", **toggle),
            "query": W.Dropdown(options=[(s, i) for i, s in enumerate(self.position_labels)], value=0,
                                description="query", layout=W.Layout(width="420px")),
        }
        sel = self.selectors
        self.links = ([W.jslink((sel["transformer"], "index"), (self.stack, "selected_index"))]
                      + [W.jslink((sel["layer"], "index"), (s, "selected_index")) for s in layer_stacks]
                      + [W.jslink((sel["head"], "index"), (s, "selected_index")) for s in head_stacks]
                      + [W.jslink((sel["query"], "index"), (s, "selected_index")) for s in query_stacks])
        self._stacks = {"transformer": [self.stack], "layer": layer_stacks, "head": head_stacks, "query": query_stacks}
        head = [W.HTML(f"<b>{html.escape(self.title)}</b>")] if self.title else []
        intro = W.HTML(f'{self.style_html}<span style="color: #666"><i>Pick a transformer, a layer, a head and a '
                       f"query position (a frame or a word): see what it reads. {html.escape(self.NOTE)}</i></span>")
        self.widget = W.VBox([*head, intro, *sel.values(), self.stack])
        self.widget.add_class("vidkit-transformer-attention")
        self.widget.add_class(self._cls)

    def show(self, transformer: str | None = None, layer: int | None = None, head: int | str | None = None,
             query: int | None = None) -> None:
        """Pick a page from Python (what the selectors do in the browser); ``None`` keeps the current choice."""
        picks = {}
        if transformer is not None:
            if transformer not in self.transformers:
                raise ValueError(f"transformer must be one of {self.transformers}, got {transformer!r}")
            picks["transformer"] = self.transformers.index(transformer)
        if layer is not None:
            picks["layer"] = check_int("layer", layer, 0, len(self.selectors["layer"].options) - 1)
        if head is not None:
            picks["head"] = (len(self.head_options) - 1 if head in ("mean", "mean of heads")
                             else check_int("head", head, 0, len(self.head_options) - 2, what=" (or 'mean')"))
        if query is not None:
            picks["query"] = check_int("query", query, 0, len(self.position_keys) - 1)
        for key, i in picks.items():
            self.selectors[key].index = i
            for s in self._stacks[key]:
                s.selected_index = i

    @property
    def current(self) -> tuple[str, int, int | str, int]:
        """The selected ``(transformer, layer, head, query)``; head ``"mean"`` for the mean of the heads."""
        sel = self.selectors
        h = sel["head"].index
        return (self.transformers[sel["transformer"].index], sel["layer"].index,
                "mean" if h == len(self.head_options) - 1 else h, sel["query"].index)

    # -------------------------------------------------------------------------------------------- display
    def to_html(self) -> str:
        """Static HTML (saved notebooks without widget state, nbconvert): the selected page only."""
        name, layer, head, query = self.current
        row = self.rows_html.get((name, layer, head, query), "<i>(no such page: pick another query)</i>")
        png = self.pngs.get((name, layer, head))
        img = f'<img src="data:image/png;base64,{base64.b64encode(png).decode()}" alt="attention matrix">' if png else ""
        top = f"<div><b>{html.escape(self.title)}</b></div>" if self.title else ""
        return (f'<div class="vidkit-transformer-attention {self._cls}">{self.style_html}{top}<div><i>Static view of one '
                f"page ({html.escape(TRANSFORMER_NAMES[name])}, layer {layer}, "
                f"{'mean of heads' if head == 'mean' else f'head {head}'}): run the notebook to explore the others."
                f"</i></div>{row}{img}</div>")

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None, **kwargs: Any) -> dict[str, Any]:
        from vidkit.viz.widgets import widget_mimebundle

        return widget_mimebundle(self, include, exclude, **kwargs)

    def __repr__(self) -> str:
        parts = ", ".join(f"{k}: {self.layers[k]} layers x {self.heads[k]} heads" for k in self.transformers)
        return (f"TransformerAttentionExplorer({len(self.rgb)} frames, {len(self.position_keys) - len(self.rgb)} words, {parts}; "
                f"{self.payload_bytes / 2**20:.1f} MiB of pages)")


def _short_number(x: float) -> str:
    """A weight in 4 characters at most: ``0.123`` -> ``".12"``, ``1.0`` -> ``"1.00"``."""
    text = f"{x:.2f}"
    return text[1:] if text.startswith("0.") else text


def _ranges(xs: Sequence[int]) -> str:
    if not xs:
        return "none"
    return f"{min(xs)}..{max(xs)} ({len(xs)} frames)"


# ------------------------------------------------------------------------------------------------ FOM


def fom_view(frames: Any, order: Any, predicted: Any, *, moved: Any = None, title: str | None = None) -> Figure:
    """Frame Order Modelling on one episode, as a matplotlib figure of three rows of frames.

    Args:
        frames: the episode's frames in their **original** order, ``(T, H, W)`` or ``(T, C, H, W)``.
        order: ``(T,)`` a permutation: ``order[t]`` is the original position of the frame the model saw at ``t``
            (:func:`vidkit.models.hero.fom_order`, :func:`~vidkit.models.hero.predict_order`; one row of them).
        predicted: ``(T,)`` the original position the model assigns to the frame at every position
            (``predict_order``'s second output, one row).
        moved: ``(T,)`` bool, the positions FOM shuffled and scores; default ``order != arange(T)``.

    Rows: **shuffled input** (the frames as the model saw them; moved ones outlined in orange, with the position
    the model says each came from and a mark: green check = right, red cross = wrong); **predicted order** (every
    moved frame placed where the model says it came from, outlined green / red; frames that were not moved are
    shown faded: FOM does not score them; two frames sent to one place share it, drawn smaller); **truth** (the
    original order, the shuffled positions outlined). The title gives the accuracy on moved frames, FOM's metric.
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    rgb = _rgb_frames(frames, "fom_view")
    t = len(rgb)
    o, p = _numpy(order), _numpy(predicted)
    for name, a in (("order", o), ("predicted", p)):
        if a.shape != (t,) or a.dtype.kind not in "iu":
            raise ValueError(f"fom_view: {name} must be an integer array (T,) = ({t},) for one episode (take row b "
                             f"of the (B, T) output), got {shape_text(a)} {a.dtype}")
    if sorted(o.tolist()) != list(range(t)):
        raise ValueError(f"fom_view: order must be a permutation of 0..{t - 1} (order[t] = the original position of "
                         f"the frame now at t), got {o.tolist()}")
    if p.min() < 0 or p.max() >= t:
        raise ValueError(f"fom_view: predicted positions must lie in 0..{t - 1}, got {p.min()}..{p.max()}")
    mv = (o != np.arange(t)) if moved is None else _numpy(moved)
    if mv.shape != (t,) or mv.dtype != bool:
        raise ValueError(f"fom_view: moved must be a bool array (T,) = ({t},), got {shape_text(mv)} {mv.dtype}")
    mv = mv.astype(bool)
    right = (p == o) & mv
    n_moved = int(mv.sum())
    acc = float(right.sum() / n_moved) if n_moved else float("nan")

    width = float(min(viz.MAX_FIGURE_WIDTH_IN, max(4.0, 0.45 * t + 1.6)))
    fig, axes = plt.subplots(3, 1, figsize=(width, 3 * (width - 1.6) / t * 1.9 + 1.0), layout="constrained")
    gap = 0.1

    def cell(ax: Any, x: float, img: np.ndarray, edge: Any = None, alpha: float = 1.0, k: int = 0, of: int = 1) -> None:
        s = (1 - gap) / of
        x0, y0 = x + gap / 2 + k * s, 0.5 - s / 2 if of > 1 else gap / 2
        ax.imshow(img, extent=(x0, x0 + s, y0 + s, y0), alpha=alpha, interpolation="nearest")
        if edge is not None:
            ax.add_patch(Rectangle((x0, y0), s, s, fill=False, edgecolor=edge, linewidth=2.5))

    colour = {True: np.array(RIGHT_RGB) / 255, False: np.array(WRONG_RGB) / 255}
    moved_c = np.array(MOVED_RGB) / 255
    for t_ in range(t):                                                   # shuffled input
        cell(axes[0], t_, rgb[o[t_]], moved_c if mv[t_] else None)
        if mv[t_]:
            mark = "\u2713" if right[t_] else "\u2717"
            axes[0].text(t_ + 0.5, 1.0, f"\u2192{p[t_]}\n{mark}", ha="center", va="top", fontsize=9,
                         color=colour[bool(right[t_])], fontweight="bold")
    placed: dict[int, list[int]] = {}
    for t_ in np.flatnonzero(mv):
        placed.setdefault(int(p[t_]), []).append(int(t_))
    for col in range(t):                                                  # predicted order
        here = placed.get(col, [])
        if not mv[col] and not here:
            cell(axes[1], col, rgb[col], alpha=0.3)
        for k, t_ in enumerate(here):
            cell(axes[1], col, rgb[o[t_]], colour[bool(right[t_])], k=k, of=len(here))
        if mv[col] and not here:
            axes[1].add_patch(Rectangle((col + gap / 2, gap / 2), 1 - gap, 1 - gap, fill=False, edgecolor="0.6",
                                        linestyle="--"))
    for col in range(t):                                                  # truth
        cell(axes[2], col, rgb[col], moved_c if mv[col] else None)
    names = ["shuffled input", "predicted order", "truth"]
    for ax, name in zip(axes, names):
        ax.set_xlim(0, t)
        ax.set_ylim(1.6 if ax is axes[0] else 1.05, -0.05)
        ax.set_aspect("equal")
        ax.set_xticks(np.arange(t) + 0.5, [str(i) for i in range(t)], fontsize=8)
        ax.tick_params(length=0, pad=1)
        ax.set_yticks([])
        ax.set_ylabel(name, rotation=0, ha="right", va="center", fontsize=10)
        for s in ax.spines.values():
            s.set_visible(False)
    axes[0].set_xticks([])
    axes[1].set_xticks([])
    axes[2].set_xlabel("position t", fontsize=9)
    head = (f"FOM: {int(right.sum())} of {n_moved} moved frames put back in place (accuracy {acc:.2f})" if n_moved
            else "FOM: no frame was moved")
    fig.suptitle(head if title is None else f"{title}\n{head}", fontsize=11)
    fig.fom_accuracy = acc                                                 # for tests and notebooks
    fig.fom_right = right[mv]
    return fig


# ------------------------------------------------------------------------------------------------ VSM


def moment_timeline(starts: Any, ends: Any, subtitles: Sequence[Any], query: str | Sequence[str],
                    predictions: Any, truth: Any, *, num_frames: int | None = None, k: int = 3,
                    title: str | None = None) -> Figure:
    """Moment retrieval in one episode: its subtitles on a timeline, and per query sentence the true span and the
    ``k`` best predicted spans.

    Args:
        starts, ends: ``(S,)`` the segments' frame spans (end exclusive), in order, e.g. ``Episodes.starts[i]``.
        subtitles: ``S`` subtitles (strings, or lists of words), drawn in their segments, wrapped.
        query: one query sentence, or a list of ``Q``.
        predictions: per query a list of ``(start, end, score)`` (end exclusive), e.g. :func:`top_spans`; one query:
            that list alone. Drawn best score first, at most ``k``.
        truth: per query its true span ``(start, end)`` (end exclusive); one query: that pair alone.
        num_frames: ``T`` (default ``ends[-1]``); every span must lie in ``0..T``.

    One axis row per query under the timeline: the true span (green band) and the ranked predictions (bars
    labelled with rank, score and IoU with the truth; the bar is green when IoU >= 0.5). The figure has
    ``1 + Q`` axes.
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    s, e = _numpy(starts), _numpy(ends)
    if s.ndim != 1 or s.shape != e.shape or len(s) == 0 or s.dtype.kind not in "iu" or e.dtype.kind not in "iu":
        raise ValueError(f"moment_timeline: starts and ends must be integer (S,) of one length, got {shape_text(s)} "
                         f"and {shape_text(e)}")
    t = int(e.max()) if num_frames is None else check_int("num_frames", num_frames, 1)
    segs = _span_array(np.stack([s, e], 1), "moment_timeline: segments (starts, ends)", t)
    if (segs[1:, 0] < segs[:-1, 1]).any():
        raise ValueError(f"moment_timeline: segments must be in order without overlapping, got starts {s.tolist()}, "
                         f"ends {e.tolist()}")
    if isinstance(subtitles, str) or not isinstance(subtitles, Sequence) or len(subtitles) != len(s):
        raise ValueError(f"moment_timeline: subtitles must be a list of {len(s)} subtitles (one per segment), got "
                         f"{len(subtitles) if isinstance(subtitles, Sequence) else type(subtitles).__name__}")
    texts = [x if isinstance(x, str) else " ".join(_words(x, f"subtitles[{i}]")) for i, x in enumerate(subtitles)]
    single = isinstance(query, str)
    queries = [query] if single else list(query)
    if not queries or not all(isinstance(q, str) and q.strip() for q in queries):
        raise ValueError("moment_timeline: query must be a non-empty sentence or a non-empty list of them")
    nq = len(queries)
    preds = [predictions] if single else list(predictions)
    truths = [truth] if single else list(truth)
    if len(preds) != nq or len(truths) != nq:
        raise ValueError(f"moment_timeline: {nq} queries need {nq} prediction lists and {nq} true spans, got "
                         f"{len(preds)} and {len(truths)}")
    k = check_int("k", k, 1, 10)
    preds = [_span_array(pp, f"moment_timeline: predictions for query {i}", t, with_score=True)
             for i, pp in enumerate(preds)]
    truths = [tuple(_span_array(tt, f"moment_timeline: truth for query {i}", t)[0]) for i, tt in enumerate(truths)]

    width = viz.MAX_FIGURE_WIDTH_IN
    ratios = [1.4] + [0.45 + 0.28 * min(k, max(1, len(pp))) for pp in preds]
    fig, axes = plt.subplots(1 + nq, 1, figsize=(width, 1.1 * sum(ratios) + 0.6), sharex=True,
                             gridspec_kw={"height_ratios": ratios}, layout="constrained", squeeze=False)
    axes = axes[:, 0]
    cmap = plt.get_cmap("tab10")
    ax = axes[0]
    px_per_frame = width * 72 / max(t, 1)                                   # points per frame, roughly
    for i, ((a, b), text) in enumerate(zip(segs, texts)):
        ax.axvspan(a, b, color=cmap(i % 10), alpha=0.25, linewidth=0)
        chars = max(6, int((b - a) * px_per_frame / 6.2))                  # ~6 pt per character at 9 pt
        ax.text((a + b) / 2, 0.5, f"{i}: " + textwrap.fill(text, chars), ha="center", va="center", fontsize=9,
                wrap=False)
        ax.axvline(a, color="0.4", linewidth=0.8)
    ax.set_ylim(0, 1)
    ax.set_yticks([])
    ax.set_ylabel("subtitles", rotation=0, ha="right", va="center", fontsize=10)
    ax.set_title("episode timeline (segments and their subtitles)", fontsize=10, loc="left")
    for qi, (ax, q, pp, tr) in enumerate(zip(axes[1:], queries, preds, truths)):
        ax.axvspan(tr[0], tr[1], color=np.array(RIGHT_RGB) / 255, alpha=0.18, linewidth=0)
        ax.axvline(tr[0], color=np.array(RIGHT_RGB) / 255, linewidth=1.5)
        ax.axvline(tr[1], color=np.array(RIGHT_RGB) / 255, linewidth=1.5)
        rank = np.argsort(-pp[:, 2], kind="stable")[:k]
        for r, j in enumerate(rank):
            a, b, score = int(pp[j, 0]), int(pp[j, 1]), pp[j, 2]
            iou = span_iou((a, b), tr)
            good = iou >= 0.5
            ax.barh(r, b - a, left=a, height=0.6, color=np.array(RIGHT_RGB if good else WRONG_RGB) / 255,
                    alpha=0.85 if r == 0 else 0.55, edgecolor="black", linewidth=0.6)
            label = f"#{r + 1}  [{a}, {b})  score {score:.2f}  IoU {iou:.2f}"
            need = 5.6 * len(label) / px_per_frame + 0.6                     # frames the label needs at 9 pt
            x, ha = ((a + b) / 2, "center") if b - a >= need else (b + 0.3, "left") if t - b >= need else \
                (a - 0.3, "right") if a >= need else ((a + b) / 2, "center")
            ax.text(x, r, label, va="center", ha=ha, fontsize=9)
        ax.set_ylim(max(len(rank), 1) - 0.4, -0.6)
        ax.set_yticks([])
        ax.set_title("query " + ("" if single else f"{qi}: ") + "\u201c" + textwrap.shorten(q, 110) +
                     f"\u201d  (truth [{tr[0]}, {tr[1]}))", fontsize=10, loc="left")
    axes[-1].set_xlim(0, t)
    axes[-1].set_xlabel("frame", fontsize=9)
    axes[-1].tick_params(labelsize=9)
    handles = [Patch(color=np.array(RIGHT_RGB) / 255, alpha=0.3, label="true span"),
               Patch(color=np.array(RIGHT_RGB) / 255, label="prediction, IoU \u2265 0.5"),
               Patch(color=np.array(WRONG_RGB) / 255, label="prediction, IoU < 0.5")]
    axes[0].legend(handles=handles, loc="lower right", bbox_to_anchor=(1, 1.02), ncol=3, fontsize=9, frameon=False)
    if title:
        fig.suptitle(title, fontsize=11)
    return fig
