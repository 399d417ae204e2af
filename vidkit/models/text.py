"""Text side of text-to-video retrieval: a tokenizer, a vocabulary, a text encoder and a joint embedding.

The set-up follows HowTo100M (Miech et al. 2019, "HowTo100M: Learning a Text-Video Embedding by
Watching Hundred Million Narrated Video Clips") in miniature:

* a caption is **tokenized** into lowercase words and digits (:func:`tokenize`) and turned into word
  ids by a :class:`Vocabulary` built from the training captions (``<pad>`` = 0, ``<unk>`` = 1);
* a **text encoder** (:class:`TextEncoder`) embeds the words, summarises the sentence with a shallow 1D
  convolution + max-pooling (HowTo100M's choice) or a GRU, and maps the result into the joint space;
* a **video encoder** (any module with ``embed(clip (B, T, C, H, W)) -> (B, dim)``, e.g.
  :class:`vidkit.models.Conv3dEncoder`) is mapped into the same space (:class:`VideoTextModel`);
* both projections are **Gated Embedding Units** (Miech, Laptev & Sivic 2018, "Learning a Text-Video
  Embedding from Incomplete and Heterogeneous Data", :class:`GatedEmbeddingUnit`), whose outputs are
  L2-normalised, so the video-text score is a cosine similarity in [-1, 1].

Training pulls a clip's embedding towards the embeddings of its captions and away from the other
captions of the batch (:func:`vidkit.losses.max_margin_ranking`, :func:`vidkit.losses.text_video_nce`,
:func:`vidkit.losses.mil_nce`); :mod:`vidkit.eval.retrieval` ranks and scores.

**Free text at query time.** A learner may type words the model never saw. :meth:`Vocabulary.encode`
(training) maps them to ``<unk>``; :meth:`Vocabulary.encode_query` (search boxes) drops them with a
warning naming them, and raises a ``ValueError`` only when no known word is left.
"""

from __future__ import annotations

import re
import warnings
from collections import Counter
from collections.abc import Iterable, Sequence

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

from vidkit.utils.checks import check_int

__all__ = ["PAD", "UNK", "tokenize", "Vocabulary", "GatedEmbeddingUnit", "TextEncoder", "VideoTextModel"]

PAD = "<pad>"
"""Padding token, id 0 (its word embedding is all zeros)."""
UNK = "<unk>"
"""Unknown-word token, id 1."""

_TOKEN = re.compile(r"[a-z]+|[0-9]")


def tokenize(text: str) -> list[str]:
    """Lowercase ``text`` and split it into words (runs of letters) and single digits.

    Everything else (spaces, punctuation, hyphens) separates tokens, so "Counter-clockwise!" gives
    ``["counter", "clockwise"]`` and "a 7" gives ``["a", "7"]``; a number is split into its digits
    ("12" -> ``["1", "2"]``), since the actions suite only ever names single digits. Accents and other
    non-ASCII letters are separators too.
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    return _TOKEN.findall(text.lower())


def _texts(texts: str | Sequence[str], name: str) -> list[str]:
    """A single string or a non-empty sequence of strings -> a list of strings."""
    if isinstance(texts, str):
        return [texts]
    if not isinstance(texts, Sequence) or isinstance(texts, bytes):
        raise TypeError(f"{name} must be a str or a sequence of str, got {type(texts).__name__}")
    if len(texts) == 0:
        raise ValueError(f"{name} is empty: give at least one text")
    bad = [i for i, t in enumerate(texts) if not isinstance(t, str)]
    if bad:
        raise TypeError(f"{name} must hold only str; item {bad[0]} is {type(texts[bad[0]]).__name__}")
    return list(texts)


def _check_max_len(max_len: object) -> int | None:
    if max_len is None:
        return None
    if isinstance(max_len, bool) or not isinstance(max_len, int) or max_len < 1:
        raise ValueError(f"max_len must be None or an int >= 1, got {max_len!r}")
    return max_len


class Vocabulary:
    """Word <-> id mapping: ``<pad>`` = 0, ``<unk>`` = 1, then the words.

    Build it from training captions with :meth:`build`; ``Vocabulary(words)`` takes an explicit word
    list (e.g. to restore a saved one: ``Vocabulary(vocab.words[2:])``). ``len(vocab)`` counts the two
    special tokens, so it is the ``vocab_size`` a :class:`TextEncoder` needs.
    """

    def __init__(self, words: Iterable[str]):
        if isinstance(words, str):
            raise TypeError("words must be an iterable of words, not a single str")
        self.itos: list[str] = [PAD, UNK]
        self.stoi: dict[str, int] = {PAD: 0, UNK: 1}
        for w in words:
            if not isinstance(w, str) or tokenize(w) != [w]:
                raise ValueError(f"every word must be one token as tokenize() produces it (lowercase letters "
                                 f"or one digit), got {w!r}")
            if w not in self.stoi:
                self.stoi[w] = len(self.itos)
                self.itos.append(w)

    @classmethod
    def build(cls, texts: Iterable[str], min_count: int = 1) -> Vocabulary:
        """The words occurring at least ``min_count`` times in ``texts``, most frequent first (ties: a-z)."""
        check_int("min_count", min_count)
        if isinstance(texts, str):
            raise TypeError("texts must be an iterable of captions, not a single str")
        counts: Counter[str] = Counter()
        n = 0
        for t in texts:
            counts.update(tokenize(t))
            n += 1
        if n == 0:
            raise ValueError("texts is empty: need at least one caption to build a vocabulary")
        kept = sorted((w for w, c in counts.items() if c >= min_count), key=lambda w: (-counts[w], w))
        if not kept:
            raise ValueError(f"no word occurs at least min_count={min_count} times "
                             f"(most frequent: {counts.most_common(3)})")
        return cls(kept)

    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, word: object) -> bool:
        return isinstance(word, str) and word in self.stoi and self.stoi[word] > 1

    def __repr__(self) -> str:
        return f"Vocabulary({len(self)} tokens: {', '.join(self.itos[2:8])}{', ...' if len(self) > 8 else ''})"

    @property
    def words(self) -> list[str]:
        """All tokens, id order (``words[0] == "<pad>"``, ``words[1] == "<unk>"``)."""
        return list(self.itos)

    def unknown_words(self, text: str) -> list[str]:
        """The tokens of ``text`` that are not in the vocabulary, in order of first appearance, no repeats."""
        out: list[str] = []
        for w in tokenize(text):
            if w not in self and w not in out:
                out.append(w)
        return out

    def encode(self, texts: str | Sequence[str], max_len: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Word ids of ``B`` texts, padded: ``(tokens LongTensor (B, L), lengths LongTensor (B,))``.

        Unknown words become ``<unk>`` (id 1); texts longer than ``max_len`` are cut to their first
        ``max_len`` tokens. ``L = max_len`` when given (fixed shapes, e.g. to stack caption bags), else
        the longest text's length. Positions ``>= lengths[b]`` hold ``<pad>`` (0). A text with no token
        at all (e.g. "" or "!!") is an error: an encoder cannot summarise zero words.
        """
        items = _texts(texts, "texts")
        max_len = _check_max_len(max_len)
        ids = [[self.stoi.get(w, 1) for w in tokenize(t)] for t in items]
        empty = [i for i, x in enumerate(ids) if not x]
        if empty:
            raise ValueError(f"text(s) {empty[:5]} have no words after tokenize() (e.g. {items[empty[0]]!r}); "
                             "every text needs at least one word or digit")
        if max_len is not None:
            ids = [x[:max_len] for x in ids]
        width = max_len if max_len is not None else max(len(x) for x in ids)
        tokens = torch.zeros(len(ids), width, dtype=torch.long)
        for i, x in enumerate(ids):
            tokens[i, :len(x)] = torch.tensor(x, dtype=torch.long)
        return tokens, torch.tensor([len(x) for x in ids], dtype=torch.long)

    def encode_query(self, text: str | Sequence[str],
                     max_len: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Encode free text typed at query time, like :meth:`encode`, but **dropping** unknown words.

        Each query's unknown words are removed and reported by one ``warnings.warn`` (a ``UserWarning``
        naming them); the rest is encoded. A query with no known word left raises a ``ValueError``
        naming its unknown words and a few words the vocabulary does know. Returns ``(tokens (B, L),
        lengths (B,))``, ``B = 1`` for a single string.
        """
        items = _texts(text, "text")
        kept = []
        for q in items:
            words = tokenize(q)
            if not words:
                raise ValueError(f"query {q!r} has no words (only letters and digits count); try e.g. "
                                 f"{self._examples()}")
            unknown = self.unknown_words(q)
            known = [w for w in words if w in self]
            if not known:
                raise ValueError(f"query {q!r}: none of its words is in the vocabulary (unknown: "
                                 f"{', '.join(unknown)}); the vocabulary has {len(self) - 2} words, e.g. "
                                 f"{self._examples()}")
            if unknown:
                warnings.warn(f"query {q!r}: dropped {len(unknown)} word(s) not in the vocabulary: "
                              f"{', '.join(unknown)}; searching for {' '.join(known)!r}", UserWarning,
                              stacklevel=2)
            kept.append(" ".join(known))
        return self.encode(kept, max_len=max_len)

    def _examples(self, n: int = 8) -> str:
        return ", ".join(repr(w) for w in self.itos[2:2 + n])

    def decode(self, tokens: torch.Tensor, lengths: torch.Tensor | None = None) -> list[str]:
        """Inverse of :meth:`encode` (up to unknown words and punctuation): ``(B, L)`` ids -> ``B`` strings."""
        if not isinstance(tokens, torch.Tensor) or tokens.dim() != 2:
            raise ValueError(f"tokens must be a LongTensor (B, L), got {getattr(tokens, 'shape', type(tokens))}")
        out = []
        for b, row in enumerate(tokens.tolist()):
            n = int(lengths[b]) if lengths is not None else sum(1 for i in row if i != 0)
            out.append(" ".join(self.itos[i] if 0 <= i < len(self) else UNK for i in row[:n]))
        return out


# ------------------------------------------------------------------------------------------------ modules


class GatedEmbeddingUnit(nn.Module):
    """Gated Embedding Unit (Miech, Laptev & Sivic 2018; HowTo100M's projection): ``(B, in_dim) -> (B, out_dim)``.

    ::

        Z = W1 x + b1                      (a linear layer in_dim -> out_dim)
        Y = sigmoid(W2 Z + b2) * Z         (context gating: each feature is re-weighted by a gate in (0, 1))
        out = Y / ||Y||_2                  (unit rows: dot products are cosine similarities)

    The gate lets the model switch features on or off depending on the others. HowTo100M's code also
    puts an optional batch norm before the sigmoid; it is left out here.
    """

    def __init__(self, in_dim: int, out_dim: int):
        super().__init__()
        check_int("in_dim", in_dim)
        check_int("out_dim", out_dim)
        self.in_dim, self.out_dim = in_dim, out_dim
        self.fc = nn.Linear(in_dim, out_dim)
        self.gate = nn.Linear(out_dim, out_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not isinstance(x, torch.Tensor) or not x.is_floating_point():
            got = x.dtype if isinstance(x, torch.Tensor) else type(x).__name__
            raise TypeError(f"GatedEmbeddingUnit: expected a float tensor (B, {self.in_dim}), got {got}")
        if x.dim() != 2 or x.shape[1] != self.in_dim:
            raise ValueError(f"GatedEmbeddingUnit: expected shape (B, {self.in_dim}), got {tuple(x.shape)}")
        z = self.fc(x)
        y = torch.sigmoid(self.gate(z)) * z
        return F.normalize(y, dim=1)


def _check_tokens(tokens: object, lengths: object, vocab_size: int, owner: str) -> None:
    if not isinstance(tokens, torch.Tensor) or tokens.dtype != torch.long:
        got = tokens.dtype if isinstance(tokens, torch.Tensor) else type(tokens).__name__
        raise TypeError(f"{owner}: tokens must be a LongTensor (B, L) of word ids, got {got}")
    if tokens.dim() != 2 or min(tokens.shape) < 1:
        raise ValueError(f"{owner}: tokens must have shape (B, L) with B, L >= 1, got {tuple(tokens.shape)}")
    lo, hi = int(tokens.min()), int(tokens.max())
    if lo < 0 or hi >= vocab_size:
        raise ValueError(f"{owner}: token ids must lie in 0..{vocab_size - 1} (vocab_size {vocab_size}), "
                         f"got {lo}..{hi}")
    b, length = tokens.shape
    if not isinstance(lengths, torch.Tensor) or lengths.dtype.is_floating_point or lengths.dtype == torch.bool:
        got = lengths.dtype if isinstance(lengths, torch.Tensor) else type(lengths).__name__
        raise TypeError(f"{owner}: lengths must be an integer tensor ({b},), got {got}")
    if tuple(lengths.shape) != (b,):
        raise ValueError(f"{owner}: lengths must have shape ({b},) (one per text), got {tuple(lengths.shape)}")
    if int(lengths.min()) < 1 or int(lengths.max()) > length:
        raise ValueError(f"{owner}: lengths must lie in 1..{length} (L, the padded length), got "
                         f"{int(lengths.min())}..{int(lengths.max())}")


class TextEncoder(nn.Module):
    """Sentence encoder ``forward(tokens (B, L), lengths (B,)) -> (B, out_dim)``, rows of unit length.

    ``word ids -> nn.Embedding(vocab_size, word_dim, padding_idx=0) -> summary (B, hidden) ->
    GatedEmbeddingUnit(hidden, out_dim)``, with the summary either

    * ``kind="conv"`` (HowTo100M's sentence model, shallow): a 1D convolution over the words (kernel 3,
      padding 1, ``hidden`` channels), ReLU, then a **max-pool over the valid positions** only
      (``t < lengths[b]``); or
    * ``kind="gru"``: a one-layer GRU with ``hidden`` units run over the valid positions only (a packed
      sequence); the summary is its last valid state.

    Word embeddings beyond ``lengths[b]`` are zeroed before the summary, so extra padding (or garbage ids
    after the end) never changes the output.
    """

    def __init__(self, vocab_size: int, word_dim: int = 64, hidden: int = 128, out_dim: int = 64,
                 kind: str = "conv"):
        super().__init__()
        for name, v in {"vocab_size": vocab_size, "word_dim": word_dim, "hidden": hidden,
                        "out_dim": out_dim}.items():
            check_int(name, v)
        if vocab_size < 3:
            raise ValueError(f"vocab_size must be >= 3 (<pad>, <unk> and at least one word), got {vocab_size}")
        if kind not in ("conv", "gru"):
            raise ValueError(f"kind must be 'conv' or 'gru', got {kind!r}")
        self.vocab_size, self.word_dim, self.hidden, self.out_dim, self.kind = (
            vocab_size, word_dim, hidden, out_dim, kind)
        self.dim = out_dim
        self.embedding = nn.Embedding(vocab_size, word_dim, padding_idx=0)
        if kind == "conv":
            self.conv = nn.Conv1d(word_dim, hidden, kernel_size=3, padding=1)
        else:
            self.gru = nn.GRU(word_dim, hidden, batch_first=True)
        self.project = GatedEmbeddingUnit(hidden, out_dim)

    def features(self, tokens: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """The sentence summary before the gated projection: ``(B, L), (B,) -> (B, hidden)``."""
        _check_tokens(tokens, lengths, self.vocab_size, type(self).__name__)
        lengths = lengths.to(tokens.device)
        valid = torch.arange(tokens.shape[1], device=tokens.device)[None, :] < lengths[:, None]  # (B, L)
        x = self.embedding(tokens) * valid[..., None]                      # (B, L, word_dim), pads = 0
        if self.kind == "conv":
            h = F.relu(self.conv(x.transpose(1, 2)))                       # (B, hidden, L)
            return h.masked_fill(~valid[:, None, :], float("-inf")).amax(dim=2)
        packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        _, h = self.gru(packed)                                            # (1, B, hidden), last valid step
        return h[-1]

    def forward(self, tokens: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        return self.project(self.features(tokens, lengths))

    def extra_repr(self) -> str:
        return f"kind={self.kind!r}"


class VideoTextModel(nn.Module):
    """A joint video-text embedding space of dimension ``dim`` (HowTo100M's model, with small encoders).

    ``video_encoder`` must have ``embed(clip (B, T, C, H, W)) -> (B, video_encoder.dim)`` (e.g.
    :class:`vidkit.models.Conv3dEncoder`); a :class:`GatedEmbeddingUnit` maps that into the joint
    space. ``text_encoder`` maps ``(tokens (B, L), lengths (B,))`` to unit rows ``(B, dim)`` (a
    :class:`TextEncoder` with ``out_dim == dim``). Both sides are trained.

    * :meth:`embed_video`: ``(Bv, T, C, H, W) -> (Bv, dim)``, unit rows.
    * :meth:`embed_text`: ``(Bt, L), (Bt,) -> (Bt, dim)``, unit rows. For bags of ``P`` captions per clip
      (MIL-NCE), encode ``(B * P, L)`` and ``.view(B, P, dim)``.
    * :meth:`similarity`: ``(Bv, dim), (Bt, dim) -> (Bv, Bt)`` cosine similarities, ``s_ij = v_i . t_j``.
    * ``forward(clip, tokens, lengths)``: the ``(Bv, Bt)`` similarity matrix of a batch, what the
      ranking losses take (diagonal = matching pairs when ``Bv == Bt``).
    """

    def __init__(self, video_encoder: nn.Module, text_encoder: nn.Module, dim: int = 64):
        super().__init__()
        check_int("dim", dim)
        if not isinstance(video_encoder, nn.Module) or not callable(getattr(video_encoder, "embed", None)):
            raise TypeError("video_encoder must be an nn.Module with embed(clip (B, T, C, H, W)) -> (B, dim), "
                            f"got {type(video_encoder).__name__}")
        vdim = getattr(video_encoder, "dim", None)
        if isinstance(vdim, bool) or not isinstance(vdim, int) or vdim < 1:
            raise TypeError(f"video_encoder needs an int attribute dim (its embedding size), got {vdim!r}")
        if not isinstance(text_encoder, nn.Module):
            raise TypeError(f"text_encoder must be an nn.Module (e.g. a TextEncoder), got {type(text_encoder).__name__}")
        tdim = getattr(text_encoder, "out_dim", dim)
        if tdim != dim:
            raise ValueError(f"text_encoder.out_dim ({tdim}) must equal the joint dim ({dim})")
        self.video_encoder, self.text_encoder, self.dim = video_encoder, text_encoder, dim
        self.video_project = GatedEmbeddingUnit(vdim, dim)

    def embed_video(self, clip: torch.Tensor) -> torch.Tensor:
        """``(B, T, C, H, W)`` -> ``(B, dim)`` unit rows."""
        return self.video_project(self.video_encoder.embed(clip))

    def embed_text(self, tokens: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """``tokens (B, L), lengths (B,)`` -> ``(B, dim)`` unit rows."""
        out = self.text_encoder(tokens, lengths)
        if not isinstance(out, torch.Tensor) or out.dim() != 2 or out.shape[1] != self.dim:
            raise ValueError(f"text_encoder must return (B, {self.dim}), got {getattr(out, 'shape', type(out))}")
        return F.normalize(out, dim=1)

    @staticmethod
    def similarity(video_emb: torch.Tensor, text_emb: torch.Tensor) -> torch.Tensor:
        """Cosine similarities ``(Bv, D), (Bt, D) -> (Bv, Bt)``: ``s_ij = v_i . t_j / (|v_i| |t_j|)``."""
        for name, x in (("video_emb", video_emb), ("text_emb", text_emb)):
            if not isinstance(x, torch.Tensor) or not x.is_floating_point() or x.dim() != 2:
                raise ValueError(f"{name} must be a float tensor (B, D), got "
                                 f"{getattr(x, 'dtype', type(x).__name__)} {tuple(getattr(x, 'shape', ()))}")
        if video_emb.shape[1] != text_emb.shape[1]:
            raise ValueError(f"video_emb (Bv, D) and text_emb (Bt, D) need the same D, got "
                             f"{tuple(video_emb.shape)} and {tuple(text_emb.shape)}")
        return F.normalize(video_emb, dim=1) @ F.normalize(text_emb, dim=1).T

    def forward(self, clip: torch.Tensor, tokens: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """``(Bv, Bt)`` similarities of every clip with every text of the batch."""
        return self.similarity(self.embed_video(clip), self.embed_text(tokens, lengths))
