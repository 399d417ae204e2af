"""The neighbour browser of notebook 04: a test clip or a typed caption, and the ``k`` clips it retrieves,
playing (:class:`NeighbourBrowser`), and :func:`caption_labels`, the (digit, action) a caption states.
:meth:`NeighbourBrowser.for_index` opens it on a folder of your own videos embedded by ``vidkit embed``."""

from __future__ import annotations

import html
import os
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch

from vidkit.data.actions import ACTIONS
from vidkit.eval.retrieval import _emb, _label_vector, search, semantic_relevance
from vidkit.models.text import tokenize
from vidkit.utils.checks import check_int, check_real, check_seed

__all__ = ["NeighbourBrowser", "caption_labels"]


_DIGIT_TOKENS = {**{str(d): d for d in range(10)},
                 **{w: d for d, w in enumerate(("zero", "one", "two", "three", "four", "five", "six", "seven",
                                                "eight", "nine"))}}


def _action_phrases() -> list[tuple[list[str], int]]:
    from vidkit.data.actions import ACTION_GERUNDS, ACTION_VERBS

    phrases = [(tokenize(p), ACTIONS.index(a)) for table in (ACTION_VERBS, ACTION_GERUNDS)
               for a, ps in table.items() for p in ps]
    return sorted(phrases, key=lambda x: -len(x[0]))


def caption_labels(text: str) -> tuple[int, int]:
    """The (digit, action) a caption states, ``-1`` where it states none: ``"a 7 slides left"`` -> ``(7, 0)``.

    The digit is the first numeral or digit word ("7", "seven"); the action is the longest verb or
    gerund phrase of :data:`vidkit.data.actions.ACTION_VERBS` / ``ACTION_GERUNDS`` found in the text
    (as whole words, e.g. "rotates to the right" is ``rotate_cw``, not ``move_right``). Free text that
    names an action in other words ("turning right") gets ``-1``: the browser then counts any action as a
    match, as :func:`vidkit.eval.retrieval.semantic_relevance` does.
    """
    words = tokenize(text)
    digit = next((_DIGIT_TOKENS[w] for w in words if w in _DIGIT_TOKENS), -1)
    for phrase, action in _action_phrases():
        n = len(phrase)
        if any(words[i:i + n] == phrase for i in range(len(words) - n + 1)):
            return digit, action
    return digit, -1


class NeighbourBrowser:
    """Browse nearest neighbours: a test clip or a typed caption, and the ``k`` clips it retrieves, playing.

    Args:
        frames: ``(N, T, H, W)`` uint8 (or float in [0, 1]) frames of the ``N`` gallery clips, shown as they are.
        digit, action: ``(N,)`` the clips' labels (``action`` indexes ``action_names``). ``digit=None``: the clips
            have one label, ``action`` (e.g. a video's folder, :meth:`for_index`); a result is then correct if it
            has the query's ``action``, and no digit is shown.
        video_emb: ``(N, D)`` the clips' embeddings (the joint space of a :class:`VideoTextModel`, or any
            video representation); scores are cosine similarities.
        encode_text: ``str -> (D,)`` (or ``(1, D)``) embedding of a typed caption, e.g.
            ``lambda q: embed_texts(model, vocab, q, query=True)``; ``None``: clip queries only.
        query: the first query: a clip index, a caption, or ``None`` for a random clip.
        k: results per query, ``1..N-1``.
        scale, fps: the players' upscaling and speed. ``seed``: of the "random clip" button.
        paths: optional ``N`` names of the clips (e.g. file paths), added to the results table as ``path``.

    A **clip query** ranks every other clip by similarity to clip ``i``; a result is correct (green
    frame) if it has the query's digit and action. A **text query** ranks every clip by similarity to the
    caption; a result is correct if it has the digit and action the caption states
    (:func:`caption_labels`; something the caption does not state counts as matched). Red frame: wrong.

    Words the vocabulary does not know are dropped with a note in :attr:`message`; a caption with no known
    word shows the error in :attr:`message` (and no results) instead of raising, so a typo never breaks the
    widget. :meth:`search` runs a query from Python.

    Attributes: ``results`` (DataFrame: rank, clip, score, digit, action, correct; ``None`` after a failed
    query), ``message`` (str), ``query`` (the last query), ``player`` (the :class:`vidkit.viz.widgets.ClipPlayer`
    of the results), ``widget`` (the ipywidgets view: clip index box, "random clip" and "search clip"
    buttons, a note that they need a running kernel (:attr:`KERNEL_NOTE`), caption box and "search caption"
    button, status line, player). Displayed in a notebook it is live (needs a kernel to run new queries; the
    player itself plays in the browser); saved notebooks and HTML exports show the static fallback: the query,
    the results table, the player's animated GIF and the same note.
    """

    CORRECT_RGB = (44, 160, 44)
    WRONG_RGB = (214, 39, 40)
    QUERY_RGB = (31, 119, 180)
    BORDER = 3
    #: Shown next to the buttons, and in the static view: searching runs Python in the kernel.
    KERNEL_NOTE = ("The buttons need a running kernel: in a saved notebook, or once the kernel has stopped, "
                   "they do nothing (the results below still play).")

    def __init__(self, frames: Any, digit: Any, action: Any, video_emb: Any, encode_text: Any = None,
                 query: int | str | None = 0, k: int = 5, action_names: Sequence[str] = ACTIONS, scale: int = 3,
                 fps: float = 6, seed: int = 0, paths: Sequence[str] | None = None):
        import ipywidgets as W


        f = frames.detach().cpu().numpy() if isinstance(frames, torch.Tensor) else np.asarray(frames)
        if f.ndim != 4 or min(f.shape) < 1 or f.dtype.kind not in "fu":
            raise ValueError(f"frames must be (N, T, H, W) uint8 or float in [0, 1], got {f.dtype} {f.shape}")
        self.frames = f
        n = len(f)
        self.has_digit = digit is not None
        self.digit = _label_vector(digit, "digit", n) if self.has_digit else np.zeros(n, np.int64)
        self.action = _label_vector(action, "action", n)
        if paths is not None and (isinstance(paths, str) or len(paths) != n):
            raise ValueError(f"paths must be None or {n} names, one per clip, got {paths!r:.80}")
        self.paths = None if paths is None else [str(p) for p in paths]
        self.emb = _emb(video_emb, "video_emb", rows=n)
        if encode_text is not None and not callable(encode_text):
            raise TypeError(f"encode_text must be None or a callable str -> (D,) embedding, "
                            f"got {type(encode_text).__name__}")
        self.encode_text = encode_text
        self.k = check_int("k", k, 1, n - 1) if n > 1 else check_int("k (needs N >= 2 clips)", k, 1, 0)
        self.action_names = tuple(action_names)
        if self.action.max() >= len(self.action_names):
            raise ValueError(f"action labels go up to {self.action.max()}, but action_names has "
                             f"{len(self.action_names)} names")
        self.scale, self.fps = check_int("scale", scale), check_real("fps", fps, 0.0)
        self._rng = np.random.default_rng(check_seed("seed", seed))
        self.results: pd.DataFrame | None = None
        self.message, self.query, self.player = "", None, None

        self.clip_box = W.BoundedIntText(value=0, min=0, max=n - 1, description="clip", layout=W.Layout(width="160px"))
        self.clip_button = W.Button(description="search clip")
        self.random_button = W.Button(description="random clip")
        self.text_box = W.Text(placeholder="type a caption, e.g. a 7 moves left", description="caption",
                               layout=W.Layout(width="420px"), disabled=encode_text is None)
        self.text_button = W.Button(description="search caption", disabled=encode_text is None)
        self.kernel_note = W.HTML(f'<span style="color: #666"><i>{html.escape(self.KERNEL_NOTE)}</i></span>')
        self.status = W.HTML()
        self.view = W.Box()
        self.clip_button.on_click(lambda _: self.search(int(self.clip_box.value)))
        self.random_button.on_click(lambda _: self.search(None))
        self.text_button.on_click(lambda _: self.search(self.text_box.value))
        self.widget = W.VBox([W.HBox([self.clip_box, self.clip_button, self.random_button, self.kernel_note]),
                              W.HBox([self.text_box, self.text_button]), self.status, self.view])
        self.widget.add_class("vidkit-neighbour-browser")
        self.search(query)

    # ---------------------------------------------------------------------------------------- queries
    def search(self, query: int | str | None = None) -> pd.DataFrame | None:
        """Run a query (a clip index, a caption, or ``None`` for a random clip) and update the view.

        Returns the results table, or ``None`` when the caption could not be searched (no known word, no
        text encoder, an empty box); :attr:`message` says why. A clip index outside ``0..N-1`` or a query
        of another type raises, as wrong arguments do.
        """
        n = len(self.frames)
        if query is None:
            query = int(self._rng.integers(n))
        if isinstance(query, bool) or not isinstance(query, int | np.integer | str):
            raise TypeError(f"query must be a clip index (int), a caption (str) or None, got {type(query).__name__}")
        self.query = query if isinstance(query, str) else int(query)
        if isinstance(query, str):
            ok = self._text_query(query)
        else:
            check_int("clip index", query, 0, n - 1)
            self.clip_box.value = int(query)
            ok = self._clip_query(int(query))
        self._render()
        return self.results if ok else None

    def _rank(self, q: torch.Tensor, exclude: int | None) -> tuple[np.ndarray, np.ndarray]:
        k = self.k + (exclude is not None)
        scores, idx = search(q[None], self.emb, k=k)
        scores, idx = scores[0].numpy(), idx[0].numpy()
        if exclude is not None:
            keep = idx != exclude
            scores, idx = scores[keep][:self.k], idx[keep][:self.k]
        return scores, idx

    def _table(self, scores: np.ndarray, idx: np.ndarray, want_digit: int, want_action: int) -> pd.DataFrame:
        d, a = self.digit[idx], self.action[idx]
        correct = semantic_relevance([want_digit if self.has_digit else -1], [want_action], d, a)[0].numpy()
        table = {"rank": np.arange(1, len(idx) + 1), "clip": idx, "score": scores, "digit": d,
                 "action": [self.action_names[i] for i in a], "correct": correct}
        if not self.has_digit:
            del table["digit"]
        if self.paths is not None:
            table["path"] = [self.paths[i] for i in idx]
        return pd.DataFrame(table)

    def _label(self, i: int) -> str:
        """Clip ``i``'s labels as the panels show them: ``"7 move_left"``, or the class alone without digits."""
        name = self.action_names[self.action[i]]
        return f"{self.digit[i]} {name}" if self.has_digit else name

    def _clip_query(self, i: int) -> bool:
        scores, idx = self._rank(self.emb[i], exclude=i)
        self.results = self._table(scores, idx, int(self.digit[i]), int(self.action[i]))
        if self.has_digit:
            self.message = (f"query: clip {i} ({self.digit[i]}, {self.action_names[self.action[i]]}); a result is "
                            "correct if it has the same digit and action")
        else:
            self.message = (f"query: clip {i} ({self._label(i)}); a result is correct if it has the same class "
                            f"({self._label(i)})")
        return True

    def _text_query(self, text: str) -> bool:
        if self.encode_text is None:
            self.results, self.message = None, "this browser has no text encoder: query a clip instead"
            return False
        if not text.strip():
            self.results, self.message = None, "type a caption first, e.g. 'a 7 moves left'"
            return False
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                q = self.encode_text(text)
            except ValueError as e:
                self.results, self.message = None, f"cannot search this caption: {e}"
                return False
        q = torch.as_tensor(np.asarray(q.detach().cpu() if isinstance(q, torch.Tensor) else q), dtype=torch.float32)
        q = q.reshape(-1)
        if q.shape[0] != self.emb.shape[1]:
            raise ValueError(f"encode_text must return a ({self.emb.shape[1]},) embedding (video_emb's D), "
                             f"got {q.shape[0]} values")
        want_d, want_a = caption_labels(text)
        scores, idx = self._rank(q, exclude=None)
        self.results = self._table(scores, idx, want_d, want_a)
        stated = ", ".join(x for x in (f"digit {want_d}" if want_d >= 0 else "",
                                       self.action_names[want_a] if want_a >= 0 else "") if x) or "nothing"
        notes = "; ".join(str(w.message) for w in caught)
        self.message = (f"query: {text!r} (states {stated}; a result is correct if it matches what is stated)"
                        + (f". Note: {notes}" if notes else ""))
        return True

    # ---------------------------------------------------------------------------------------- drawing
    def _panel_width(self) -> int:
        return int(self.frames.shape[3]) * self.scale + 2 * self.BORDER

    def _wrapped(self, lines: Sequence[str]) -> list[tuple[str, bool]]:
        """``lines`` wrapped to the panel's width (never cut), each with ``True`` if it belongs to the last line."""
        from vidkit.viz import frames as viz

        font = viz._font(viz.LABEL_MIN_PX)
        out = []
        for j, text in enumerate(lines):
            out += [(part, j == len(lines) - 1) for part in (viz._wrap_text(text, font, self._panel_width() - 4) or [""])]
        return out

    def _panel(self, i: int, lines: Sequence[str], colour: tuple[int, int, int], n_lines: int) -> np.ndarray:
        """Clip ``i`` upscaled, framed in ``colour``, with ``lines`` of text below (wrapped to the panel's width, the
        last one in ``colour``), the band ``n_lines`` lines tall: ``(T, H', W', 3)`` uint8."""
        from PIL import Image, ImageDraw

        from vidkit.viz import frames as viz

        rgb = viz.upscale(viz.to_rgb_uint8(self.frames[i]), self.scale)
        b = self.BORDER
        framed = np.empty((rgb.shape[0], rgb.shape[1] + 2 * b, rgb.shape[2] + 2 * b, 3), np.uint8)
        framed[:] = np.array(colour, np.uint8)
        framed[:, b:-b, b:-b] = rgb
        w = framed.shape[2]
        font = viz._font(viz.LABEL_MIN_PX)
        ascent, descent = font.getmetrics()
        line_h = ascent + descent + 1
        band = Image.new("RGB", (w, line_h * n_lines + 4), (255, 255, 255))
        draw = ImageDraw.Draw(band)
        for j, (text, last) in enumerate(self._wrapped(lines)):
            draw.text((2, 2 + j * line_h), text, fill=colour if last else (0, 0, 0), font=font)
        band_arr = np.broadcast_to(np.asarray(band, np.uint8)[None], (len(framed), *np.asarray(band).shape))
        return np.concatenate([framed, band_arr], axis=1)

    def _render(self) -> None:
        from vidkit.viz.widgets import ClipPlayer

        self.status.value = f"<span>{html.escape(self.message)}</span>"
        if self.results is None:
            self.player = None
            self.view.children = ()
            return
        specs = []  # (clip, lines, colour) per panel
        if isinstance(self.query, int):
            i = self.query
            specs.append((i, [f"query: clip {i}", "", self._label(i), "query"], self.QUERY_RGB))
        for r in self.results.itertuples():
            specs.append((int(r.clip), [f"#{r.rank} clip {r.clip}", f"score {r.score:.2f}", self._label(int(r.clip)),
                                        "correct" if r.correct else "wrong"],
                          self.CORRECT_RGB if r.correct else self.WRONG_RGB))
        n_lines = max(len(self._wrapped(lines)) for _, lines, _ in specs)
        panels = [self._panel(i, lines, colour, n_lines) for i, lines, colour in specs]
        title = (f"caption: {self.query!r}" if isinstance(self.query, str) else f"clip {self.query}") + \
            f": top {len(self.results)} of {len(self.frames) - isinstance(self.query, int)} clips"
        self.player = ClipPlayer(panels, fps=self.fps, scale=1, title=title, pad_mode="last")
        self.view.children = (self.player.widget,)

    # ---------------------------------------------------------------------------------------- display
    def to_html(self) -> str:
        """Static HTML of the current state: the status line, the results table and the animated GIF."""
        parts = [f"<div><b>Neighbour browser</b>: {html.escape(self.message)}</div>"]
        if self.results is not None and self.player is not None:
            table = self.results.assign(score=self.results["score"].round(3))
            parts.append(table.to_html(index=False))
            parts.append(self.player.to_html())
        parts.append("<div><i>Static view: the search buttons need a running kernel; run the notebook to search "
                     "other clips or captions.</i></div>")
        return f'<div class="vidkit-neighbour-browser">{"".join(parts)}</div>'

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None, **kwargs: Any) -> dict[str, Any]:
        from vidkit.viz.widgets import widget_mimebundle

        return widget_mimebundle(self, include, exclude, **kwargs)

    def __repr__(self) -> str:
        q = "none" if self.query is None else (repr(self.query) if isinstance(self.query, str) else f"clip {self.query}")
        got = "no results" if self.results is None else f"{int(self.results['correct'].sum())}/{len(self.results)} correct"
        return f"NeighbourBrowser({len(self.frames)} clips, k={self.k}, query {q}: {got})"

    @classmethod
    def for_index(cls, index: Any, query: int | None = 0, k: int = 5, frames: int = 16, size: int = 64,
                  scale: int = 2, fps: float = 6, progress: bool = True) -> NeighbourBrowser:
        """The browser on a folder of your own videos: ``index`` is a :class:`vidkit.eval.real_video.VideoIndex` or
        the path of the ``.npz`` that ``vidkit embed`` wrote. Each video's first ``frames`` frames are read
        (:func:`vidkit.data.video.read_video`, grayscale, ``size`` pixels, centre-cropped; a shorter video repeats
        its last frame); its class is its folder (the UCF-101 / HMDB-51 layouts: the action), so a result is
        correct if it comes from the query's folder. Clip queries only (no text encoder); ``paths`` in the
        results table."""
        from tqdm.auto import tqdm

        from vidkit.data.video import read_video
        from vidkit.eval.real_video import VideoIndex, load_index

        if isinstance(index, str | os.PathLike):
            index = load_index(index)
        if not isinstance(index, VideoIndex):
            raise TypeError(f"index must be a VideoIndex or the path of a vidkit embed .npz, got {type(index).__name__}")
        check_int("frames", frames)
        clips = []
        for path in tqdm(index.files(), desc="read videos", unit="video", disable=not progress):
            v = read_video(path, size=size, channels=1, max_frames=frames)
            clips.append(np.concatenate([v, np.repeat(v[-1:], frames - len(v), axis=0)]))
        folders = [str(os.path.dirname(p)) or "." for p in index.paths]
        names = sorted(set(folders))
        classes = np.array([names.index(f) for f in folders], np.int64)
        short = [os.path.basename(f) or f for f in names]
        return cls(np.stack(clips), None, classes, index.embeddings, query=query, k=k,
                   action_names=short if len(set(short)) == len(short) else names, scale=scale, fps=fps,
                   paths=list(index.paths))
