"""The cross-modal neighbour browser of notebook 05 (MMV): pick a sound, a sentence or a clip, and see and hear
its nearest items of the *other* modalities, each pair compared in the space its design gives it.

:class:`CrossModalBrowser` takes precomputed embeddings, per space, of the clips (``"video"``), their sound
tracks (``"audio"``) and a set of sentences (``"text"``), e.g. from :func:`mmv_spaces`. Two modalities are
compared in the **first** space (in the mapping's order) that holds both: with :func:`mmv_spaces` of an MMV
model that is the space :meth:`vidkit.models.mmv.MMV.space_of` names (FAC: video and audio in the fine ``va``,
text with either in the coarse ``vat``; shared: all in ``vat``; disjoint: ``va`` and ``vt``, and no space where
sound meets text, which the browser says).

Every query's top ``k`` is computed when the browser is built and embedded in the page: the query list is an
``ipywidgets.Select`` linked in the browser (``jslink``) to a ``Stack`` of result pages, so picking a query
needs no kernel and keeps working after the kernel stops. Clips play as MP4 with their own sound
(:func:`vidkit.viz.av.av_mp4_bytes`); a sound plays as an MP4 of its log-mel spectrogram (left channel above
right) with a cursor on the current video frame. Each clip's and each sound's media is one widget shared by
every page that shows it, so the page holds it once. Keep it small: a few dozen queries, small ``k``, short
clips (the default, 4 queries per modality and ``k = 3``, is about 40 short MP4s).

Scores are cosine similarities (:func:`vidkit.eval.retrieval.search`). With labels, a result is **right**
(green) when it has the digit and action the query has or states (:func:`vidkit.eval.retrieval.semantic_relevance`;
a sentence's labels from :func:`vidkit.viz.browser.caption_labels` unless given; a sentence that states nothing,
e.g. a filler, is right for no query), **wrong** (red) otherwise; a clip's own sound track, and a sound's own
clip, is marked "own".
"""

from __future__ import annotations

import html
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch

from vidkit.data.actions import ACTIONS
from vidkit.eval.retrieval import _emb, _label_vector, search, semantic_relevance
from vidkit.utils.checks import check_int, check_real, check_seed
from vidkit.viz.av import av_mp4_bytes, video_tag
from vidkit.viz.browser import NeighbourBrowser, caption_labels

__all__ = ["MODALITIES", "CrossModalBrowser", "mmv_spaces"]

#: The three modalities, as keys of a space's embeddings.
MODALITIES: tuple[str, ...] = ("video", "audio", "text")
_ITEM = {"video": "clip", "audio": "sound", "text": "sentence"}
_ICON = {"video": "\u25b6", "audio": "\u266a", "text": "\u201c"}
#: Warn when the browser's embedded media exceed this many bytes (they live in the notebook).
PAYLOAD_WARN_BYTES = 20 * 1024 * 1024


@torch.no_grad()
def mmv_spaces(model: Any, video: torch.Tensor | None = None, audio: torch.Tensor | None = None,
               tokens: torch.Tensor | None = None, lengths: torch.Tensor | None = None,
               batch_size: int = 256) -> dict[str, dict[str, torch.Tensor]]:
    """Every given modality embedded in every space of ``model`` (a :class:`vidkit.models.mmv.MMV`) it reaches
    (:meth:`~vidkit.models.mmv.MMV.spaces_of`), in eval mode: ``{space: {"video": (N, d), "audio": (N, d),
    "text": (M, d)}}`` on the CPU, spaces in the model's order (so the first space holding two modalities is
    where the design compares them). ``video`` ``(N, T, C, H, W)``; ``audio`` log-mel ``(N, C, 80, F)``;
    ``tokens`` ``(M, L)`` and ``lengths`` ``(M,)`` (one sentence per row)."""
    from vidkit.models.mmv import MMV

    if not isinstance(model, MMV):
        raise TypeError(f"model must be a vidkit.models.mmv.MMV, got {type(model).__name__}")
    if (tokens is None) != (lengths is None):
        raise ValueError("give tokens and lengths together (one sentence per row), or neither")
    batch_size = check_int("batch_size", batch_size, 1)
    device = next(model.parameters()).device
    was = model.training
    model.eval()
    out: dict[str, dict[str, torch.Tensor]] = {s: {} for s in model.spaces}
    try:
        for modality, code, x in (("video", "v", video), ("audio", "a", audio), ("text", "t", tokens)):
            if x is None:
                continue
            for space in model.spaces_of(code):
                parts = []
                for lo in range(0, len(x), batch_size):
                    chunk = x[lo:lo + batch_size].to(device)
                    if modality == "video":
                        z = model.embed_video(chunk, space)
                    elif modality == "audio":
                        z = model.embed_audio(chunk, space)
                    else:
                        z = model.embed_text(chunk, lengths[lo:lo + batch_size].to(device), space)
                    parts.append(z.float().cpu())
                out[space][modality] = torch.cat(parts)
    finally:
        model.train(was)
    return out


def _spectrogram_frames(mel: np.ndarray, t: int, height: int) -> np.ndarray:
    """Log-mel ``(C, n_mels, F)`` -> ``(t, H, W, 3)`` uint8: the channels stacked (first on top), low frequencies at
    the bottom, ``magma`` colours, and frame ``j`` with video frame ``j``'s columns framed by white lines."""
    from vidkit.viz.frames import colormap_lut

    lut = colormap_lut("magma")
    lo, hi = np.percentile(mel, 5), mel.max()
    norm = np.clip((mel - lo) / max(hi - lo, 1e-6), 0, 1)
    if norm.shape[1] % 2 == 0:
        norm = norm.reshape(norm.shape[0], -1, 2, norm.shape[2]).mean(2)             # pairs of mel bins: half as tall
    chans = [lut[np.round(c[::-1] * 255).astype(np.int64)] for c in norm]               # (n_mels, F, 3) each
    gap = np.full((2, chans[0].shape[1], 3), 255, np.uint8)
    img = np.concatenate([x for c in chans for x in (c, gap)][:-1], axis=0)
    f = img.shape[1]
    sx = max(1, round(3 * height / max(img.shape[0], 1)))                               # wider than tall
    sy = max(1, round(height / img.shape[0]))
    img = np.repeat(np.repeat(img, sy, axis=0), sx, axis=1)
    per = f / t
    frames = np.repeat(img[None], t, axis=0)
    for j in range(t):
        a, b = round(j * per * sx), min(img.shape[1] - 1, round((j + 1) * per * sx) - 1)
        frames[j, :, a] = 255
        frames[j, :, b] = 255
    return frames


class CrossModalBrowser:
    """Pick a sound, a sentence or a clip; see and hear its ``k`` nearest items of the other modalities.

    Args:
        frames: ``(N, T, H, W)`` (or ``(N, T, C, H, W)``) uint8 or float in [0, 1]: the ``N`` clips.
        audio: ``(N, C, S)`` float tracks in [-1, 1] of the same clips, ``S = T * sample_rate / fps``.
        sentences: ``M`` strings, the sentence gallery (and the text queries).
        spaces: ``{space: {modality: (rows, D) embeddings}}`` with modalities from :data:`MODALITIES`
            (``"video"`` and ``"audio"``: ``N`` rows, ``"text"``: ``M`` rows); e.g. :func:`mmv_spaces`. Two
            modalities are compared in the first space holding both.
        digit, action: ``(N,)`` the clips' labels (optional, both or neither): results get right / wrong.
        sentence_labels: ``(M, 2)`` (digit, action) per sentence, ``-1`` where it states none; default
            :func:`vidkit.viz.browser.caption_labels` of each sentence (when ``digit`` is given).
        queries: ``[(modality, index), ...]``; default ``n_queries`` of each modality that has embeddings
            (drawn with ``seed``; sentences that state a digit first).
        k: results per modality, ``1..min(N, M)``.
        fps, sample_rate: the clips' frame rate and the tracks' sample rate; ``scale``: clip upscaling.
        action_names: names of the action labels; ``title``: optional bold line.

    Attributes: ``queries``, ``results`` (``{(modality, index): {other modality: DataFrame (rank, index, score,
    digit, action, right, own) or None when no space holds the pair}}``), ``pair_space`` (``{(m1, m2): space or
    None}``), ``select`` (the query list), ``stack`` (one result page per query), ``link`` (the ``jslink`` between
    them), ``widget`` (``VBox`` with class ``vidkit-crossmodal-browser``). :meth:`show` picks a query from Python.
    """

    RIGHT_RGB, WRONG_RGB, QUERY_RGB = NeighbourBrowser.CORRECT_RGB, NeighbourBrowser.WRONG_RGB, NeighbourBrowser.QUERY_RGB
    NOTE = ("Every query's neighbours were computed when the browser was built and are stored in the page: "
            "picking a query needs no kernel.")

    def __init__(self, frames: Any, audio: Any, sentences: Sequence[str], spaces: Mapping[str, Mapping[str, Any]], *,
                 digit: Any = None, action: Any = None, sentence_labels: Any = None,
                 queries: Sequence[tuple[str, int]] | None = None, n_queries: int = 4, k: int = 3, fps: float = 10,
                 sample_rate: int = 8000, scale: int = 3, action_names: Sequence[str] = ACTIONS,
                 title: str | None = None, seed: int = 0):
        from vidkit.data.audio import check_audio

        f = frames.detach().cpu().numpy() if isinstance(frames, torch.Tensor) else np.asarray(frames)
        if f.ndim not in (4, 5) or min(f.shape) < 1 or f.dtype.kind not in "fu":
            raise ValueError(f"frames must be (N, T, H, W) or (N, T, C, H, W), uint8 or float in [0, 1], got "
                             f"{f.dtype} {f.shape}")
        self.frames = f
        n, t = f.shape[:2]
        self.fps = check_real("fps", fps, 0.0)
        self.sample_rate = check_int("sample_rate", sample_rate, 4000, 96000, what=" Hz")
        spf = self.sample_rate / self.fps
        if spf != int(spf):
            raise ValueError(f"sample_rate / fps must be a whole number of samples per frame, got "
                             f"{self.sample_rate} / {self.fps:g}")
        a = check_audio(audio, channels=None, num_frames=t, samples_per_frame=int(spf))
        if len(a) != n:
            raise ValueError(f"audio must hold one track per clip: frames has {n} clips, audio {len(a)} tracks")
        self.audio = a
        if isinstance(sentences, str) or not isinstance(sentences, Sequence) or \
                not all(isinstance(s, str) and s.strip() for s in sentences) or not sentences:
            raise ValueError("sentences must be a non-empty sequence of non-empty strings")
        self.sentences = list(sentences)
        m = len(self.sentences)
        self.rows = {"video": n, "audio": n, "text": m}
        self.spaces = self._check_spaces(spaces)
        self.pair_space = {(p, q): next((s for s, e in self.spaces.items() if p in e and q in e), None)
                           for p in MODALITIES for q in MODALITIES if p != q}
        present = [mod for mod in MODALITIES if any(mod in e for e in self.spaces.values())]

        if (digit is None) != (action is None):
            raise ValueError("give digit and action together (the clips' labels), or neither")
        self.action_names = tuple(action_names)
        self.labels: dict[str, np.ndarray] | None = None
        if digit is not None:
            d, ac = _label_vector(digit, "digit", n), _label_vector(action, "action", n)
            if sentence_labels is None:
                sl = np.array([caption_labels(s) for s in self.sentences], np.int64).reshape(m, 2)
            else:
                sl = np.asarray(sentence_labels.cpu() if isinstance(sentence_labels, torch.Tensor) else sentence_labels)
                if sl.shape != (m, 2) or sl.dtype.kind not in "iu":
                    raise ValueError(f"sentence_labels must be ({m}, 2) integers (digit, action; -1: not stated), got "
                                     f"{sl.dtype} {sl.shape}")
            if ac.max() >= len(self.action_names):
                raise ValueError(f"action labels go up to {ac.max()}, but action_names has {len(self.action_names)} names")
            clip_labels = np.stack([d, ac], 1)
            self.labels = {"video": clip_labels, "audio": clip_labels, "text": sl.astype(np.int64)}
        elif sentence_labels is not None:
            raise ValueError("sentence_labels need the clips' labels too (digit and action)")

        self.k = check_int("k", k, 1, min(n, m) if "text" in present else n)
        self.scale = check_int("scale", scale, 1, 16)
        self.title = title
        self.queries = self._check_queries(queries, present, check_int("n_queries", n_queries, 1), check_seed("seed", seed))
        self.results = {q: {r: self._neighbours(q, r) for r in present if r != q[0]} for q in self.queries}
        self._build()

    # ------------------------------------------------------------------------------------------ checks
    def _check_spaces(self, spaces: Any) -> dict[str, dict[str, torch.Tensor]]:
        if not isinstance(spaces, Mapping) or not spaces:
            raise ValueError("spaces must be a non-empty mapping {space: {modality: (rows, D) embeddings}}, got "
                             f"{type(spaces).__name__}")
        out: dict[str, dict[str, torch.Tensor]] = {}
        for space, emb in spaces.items():
            if not isinstance(emb, Mapping):
                raise ValueError(f"spaces[{space!r}] must be a mapping {{modality: (rows, D)}}, got {type(emb).__name__}")
            unknown = sorted(set(emb) - set(MODALITIES))
            if unknown:
                raise ValueError(f"spaces[{space!r}] has unknown modalities {unknown}; expected some of {MODALITIES}")
            dims = {}
            out[str(space)] = {}
            for mod in MODALITIES:
                if mod in emb:
                    z = _emb(emb[mod], f"spaces[{space!r}][{mod!r}]", rows=self.rows[mod])
                    dims[mod] = z.shape[1]
                    out[str(space)][mod] = z
            if len(set(dims.values())) > 1:
                raise ValueError(f"spaces[{space!r}]: every modality in one space needs the same dimension, got {dims}")
        if sum(len(e) >= 2 for e in out.values()) == 0:
            raise ValueError("no space holds two modalities: nothing can be compared across modalities")
        return out

    def _check_queries(self, queries: Any, present: list[str], per: int, seed: int) -> list[tuple[str, int]]:
        if queries is None:
            rng = np.random.default_rng(seed)
            out = []
            for mod in MODALITIES:
                if mod not in present:
                    continue
                pool = np.arange(self.rows[mod])
                if mod == "text" and self.labels is not None:           # sentences that state a digit first
                    pool = np.concatenate([rng.permutation(pool[self.labels["text"][:, 0] >= 0]),
                                           rng.permutation(pool[self.labels["text"][:, 0] < 0])])
                else:
                    pool = rng.permutation(pool)
                out += [(mod, int(i)) for i in pool[:per]]
            return out
        if isinstance(queries, str) or not isinstance(queries, Sequence) or not queries:
            raise ValueError("queries must be a non-empty sequence of (modality, index) pairs")
        out = []
        for q in queries:
            if not (isinstance(q, Sequence) and len(q) == 2 and q[0] in present):
                raise ValueError(f"each query must be (modality, index) with a modality that has embeddings "
                                 f"{tuple(present)}, got {q!r}")
            out.append((q[0], check_int(f"{_ITEM[q[0]]} index", q[1], 0, self.rows[q[0]] - 1)))
        return out

    # ------------------------------------------------------------------------------------------ search
    def _neighbours(self, query: tuple[str, int], other: str) -> pd.DataFrame | None:
        mod, i = query
        space = self.pair_space[(mod, other)]
        if space is None:
            return None
        zq, zg = self.spaces[space][mod][i:i + 1], self.spaces[space][other]
        scores, idx = search(zq, zg, k=self.k)
        scores, idx = scores[0].numpy(), idx[0].numpy()
        table = pd.DataFrame({"rank": np.arange(1, len(idx) + 1), "index": idx, "score": scores})
        if self.labels is not None:
            ql, gl = self.labels[mod][i], self.labels[other][idx]
            table["digit"] = gl[:, 0]
            table["action"] = [self.action_names[a] if a >= 0 else "-" for a in gl[:, 1]]
            right = semantic_relevance([ql[0]], [ql[1]], gl[:, 0], gl[:, 1])[0].numpy()
            if mod == "text" and ql[0] < 0 and ql[1] < 0:
                right[:] = False                                            # a sentence that states nothing
            table["right"] = right
        table["own"] = (idx == i) if {mod, other} == {"video", "audio"} else False
        table.attrs["space"] = space
        return table

    # ------------------------------------------------------------------------------------------ media
    def _clip_mp4(self, i: int) -> bytes:
        if i not in self._mp4:
            self._mp4[i] = av_mp4_bytes(self.frames[i], self.audio[i], fps=self.fps, sample_rate=self.sample_rate,
                                        scale=self.scale)
        return self._mp4[i]

    def _sound_mp4(self, i: int) -> bytes:
        from vidkit.data.audio import log_mel

        if i not in self._snd:
            mel = log_mel(self.audio[i], self.sample_rate, hop_length=160 if self.audio.shape[-1] % 160 == 0
                          else self.audio.shape[-1] // len(self.frames[i]))[0].numpy()
            pics = _spectrogram_frames(mel, len(self.frames[i]), max(60, self.frames.shape[-2] * self.scale))
            self._snd[i] = av_mp4_bytes(pics, self.audio[i], fps=self.fps, sample_rate=self.sample_rate)
        return self._snd[i]

    def _media_html(self, mod: str, i: int) -> str:
        if mod == "video":
            h = self.frames.shape[-2] * self.scale
            w = self.frames.shape[-1] * self.scale
            return video_tag(self._clip_mp4(i), w + w % 2, h + h % 2, title=f"clip {i} with its sound")
        if mod == "audio":
            mp4 = self._sound_mp4(i)
            h = max(60, self.frames.shape[-2] * self.scale)
            return video_tag(mp4, None, h, title=f"sound of clip {i}")
        return (f'<div style="max-width: 220px; font-size: 13px; padding: 4px">'
                f"\u201c{html.escape(self.sentences[i])}\u201d</div>")

    def _describe(self, mod: str, i: int) -> str:
        name = f"sound of clip {i}" if mod == "audio" else f"clip {i}" if mod == "video" else f"sentence {i}"
        if self.labels is None:
            return name
        d, a = self.labels[mod][i]
        what = " ".join(x for x in (str(d) if d >= 0 else "", self.action_names[a] if a >= 0 else "") if x)
        return f"{name}: {what or 'states nothing'}"

    def query_label(self, query: tuple[str, int]) -> str:
        """The query's line in the list: ``"\u266a sound of clip 12"``, ``"\u25b6 clip 12"`` or the sentence."""
        mod, i = query
        if mod == "text":
            s = self.sentences[i]
            return f"{_ICON[mod]}{s[:48]}{'...' if len(s) > 48 else ''}\u201d"
        return f"{_ICON[mod]} {'sound of clip' if mod == 'audio' else 'clip'} {i}"

    def _caption(self, other: str, row: Any) -> tuple[str, tuple[int, int, int] | None]:
        parts = [f"#{row.rank}", f"{_ITEM[other]} {row.index}", f"score {row.score:.2f}"]
        colour = None
        if self.labels is not None:
            parts.append(f"{row.digit if row.digit >= 0 else '-'} {row.action}")
            colour = self.RIGHT_RGB if row.right else self.WRONG_RGB
            parts.append("right" if row.right else "wrong")
        if row.own:
            parts.append("own " + ("sound" if other == "audio" else "clip"))
        return " \u00b7 ".join(parts), colour

    @staticmethod
    def _css(rgb: tuple[int, int, int] | None) -> str:
        return "#999" if rgb is None else "rgb({},{},{})".format(*rgb)

    def _page_html(self, q: tuple[str, int], media: Any) -> str:
        """One query's page as HTML; ``media(mod, i)`` gives an item's media markup."""
        mod, i = q
        parts = [f'<div style="border-left: 4px solid {self._css(self.QUERY_RGB)}; padding-left: 6px; margin-bottom: 6px">'
                 f"<b>query</b>: {html.escape(self._describe(mod, i))}{media(mod, i)}</div>"]
        for other, table in self.results[q].items():
            if table is None:
                parts.append(f"<div><b>nearest {_ITEM[other]}s</b>: <i>this design has no space where "
                             f"{_ITEM[mod]}s meet {_ITEM[other]}s</i></div>")
                continue
            items = []
            for row in table.itertuples():
                text, colour = self._caption(other, row)
                items.append(f'<div style="border: 3px solid {self._css(colour)}; padding: 2px; flex: none">'
                             f'{media(other, int(row.index))}<div style="font-size: 11px; max-width: 220px; '
                             f'color: {self._css(colour)}">{html.escape(text)}</div></div>')
            parts.append(f"<div><b>nearest {_ITEM[other]}s</b> (space S_{html.escape(table.attrs['space'])})</div>"
                         f'<div style="display: flex; flex-wrap: wrap; gap: 6px; margin-bottom: 6px">{"".join(items)}</div>')
        return "".join(parts)

    # ------------------------------------------------------------------------------------------ widgets
    def _build(self) -> None:
        import ipywidgets as W

        self._mp4: dict[int, bytes] = {}
        self._snd: dict[int, bytes] = {}
        shared: dict[tuple[str, int], Any] = {}

        def media_widget(mod: str, i: int) -> Any:
            if (mod, i) not in shared:
                shared[(mod, i)] = W.HTML(self._media_html(mod, i))
            return shared[(mod, i)]

        pages = []
        for q in self.queries:
            mod, i = q
            head = W.HTML(f"<b>query</b>: {html.escape(self._describe(mod, i))}")
            children: list[Any] = [W.VBox([head, media_widget(mod, i)],
                                          layout=W.Layout(border_left=f"4px solid {self._css(self.QUERY_RGB)}",
                                                          padding="0 0 0 6px", margin="0 0 6px 0"))]
            for other, table in self.results[q].items():
                if table is None:
                    children.append(W.HTML(f"<b>nearest {_ITEM[other]}s</b>: <i>this design has no space where "
                                           f"{_ITEM[mod]}s meet {_ITEM[other]}s</i>"))
                    continue
                items = []
                for row in table.itertuples():
                    text, colour = self._caption(other, row)
                    cap = W.HTML(f'<div style="font-size: 11px; max-width: 220px; color: {self._css(colour)}">'
                                 f"{html.escape(text)}</div>")
                    items.append(W.VBox([media_widget(other, int(row.index)), cap],
                                        layout=W.Layout(border=f"3px solid {self._css(colour)}", padding="2px",
                                                        margin="0 6px 0 0")))
                children += [W.HTML(f"<b>nearest {_ITEM[other]}s</b> (space S_{html.escape(table.attrs['space'])})"),
                             W.HBox(items, layout=W.Layout(flex_flow="row wrap", margin="0 0 6px 0"))]
            pages.append(W.VBox(children))
        payload = sum(map(len, self._mp4.values())) + sum(map(len, self._snd.values()))
        if payload > PAYLOAD_WARN_BYTES:
            warnings.warn(f"CrossModalBrowser: the media take {payload / 2**20:.1f} MiB; the notebook grows by about "
                          "twice that. Consider fewer queries, a smaller k or a smaller scale.", stacklevel=3)
        self.payload_bytes = payload
        self.select = W.Select(options=[(self.query_label(q), j) for j, q in enumerate(self.queries)], index=0,
                               rows=min(len(self.queries), 14), description="",
                               layout=W.Layout(width="300px", flex="none"))
        self.stack = W.Stack(children=pages, selected_index=0, layout=W.Layout(flex="1 1 auto"))
        self.link = W.jslink((self.select, "index"), (self.stack, "selected_index"))   # in the browser: no kernel
        head = [W.HTML(f"<b>{html.escape(self.title)}</b>")] if self.title else []
        note = W.HTML(f'<span style="color: #666"><i>Pick a sound, a sentence or a clip. {html.escape(self.NOTE)}'
                      "</i></span>")
        self.widget = W.VBox([*head, note, W.HBox([self.select, self.stack])])
        self.widget.add_class("vidkit-crossmodal-browser")

    def show(self, query: tuple[str, int] | int) -> dict[str, pd.DataFrame | None]:
        """Show a query (one of :attr:`queries`, or its position in the list) and return its results."""
        j = query if isinstance(query, int) and not isinstance(query, bool) else None
        if j is None:
            if query not in self.queries:
                raise ValueError(f"{query!r} is not one of the browser's queries (they are precomputed): "
                                 f"{self.queries[:6]}{' ...' if len(self.queries) > 6 else ''}")
            j = self.queries.index(query)
        check_int("query position", j, 0, len(self.queries) - 1)
        self.select.index = j
        return self.results[self.queries[j]]

    # ------------------------------------------------------------------------------------------ display
    def to_html(self) -> str:
        """Static HTML: one collapsible section per query (the first open), the same media in data URIs."""
        media = {}

        def cached(mod: str, i: int) -> str:
            if (mod, i) not in media:
                media[(mod, i)] = self._media_html(mod, i)
            return media[(mod, i)]

        sections = [f'<details{" open" if j == 0 else ""}><summary>{html.escape(self.query_label(q))}</summary>'
                    f"{self._page_html(q, cached)}</details>" for j, q in enumerate(self.queries)]
        head = f"<div><b>{html.escape(self.title)}</b></div>" if self.title else ""
        return (f'<div class="vidkit-crossmodal-browser">{head}<div><i>Cross-modal browser (static view): open a '
                f'query to see and hear its neighbours.</i></div>{"".join(sections)}</div>')

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None, **kwargs: Any) -> dict[str, Any]:
        from vidkit.viz.widgets import widget_mimebundle

        return widget_mimebundle(self, include, exclude, **kwargs)

    def __repr__(self) -> str:
        kinds = {m: sum(q[0] == m for q in self.queries) for m in MODALITIES}
        return (f"CrossModalBrowser({len(self.frames)} clips, {len(self.sentences)} sentences, spaces "
                f"{list(self.spaces)}, queries {kinds}, k={self.k})")

