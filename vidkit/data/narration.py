"""Narration as noisy as real ASR: per clip, a bag of sentences of which only some describe the clip.

HowTo100M's narration (what MMV and MIL-NCE learn from) is speech transcribed by ASR: a sentence said during
a clip may describe it, describe what happens a little before or after, or describe nothing ("okay so now").
:func:`narrate` gives every clip ``n_aligned + n_neighbour + n_filler`` sentences, shuffled, each with a kind:

* ``ALIGNED`` (0): a caption of the clip itself (for action clips: a variant of :func:`all_captions` for its
  digit and action, distinct within the clip while the pool lasts);
* ``NEIGHBOUR`` (1): a caption of the clip before or after it in batch order (the batch is read as one long
  video; the first and last clips borrow from their only neighbour): misaligned narration;
* ``FILLER`` (2): a sentence from :data:`FILLERS` that describes nothing.

With probability ``hesitation`` a describing sentence (aligned or neighbour) starts with a hesitation from
:data:`HESITATIONS` ("so", "um", ...), as speech does; its kind does not change.

A neighbour sentence can be true of the clip too (the neighbour may have the same digit and action, 1 in 80
with the default suite): :attr:`Narration.describes` says which sentences are true of their clip, and
:attr:`Narration.source` which clip each sentence was made from.

**Words.** Fillers and hesitations use words the captions never use. A :class:`vidkit.models.text.Vocabulary`
built from captions alone maps them to ``<unk>`` in ``encode`` (documented behaviour there); build it from
:meth:`Narration.texts` (or add ``FILLERS + HESITATIONS`` to the captions) to give them their own ids. Every sentence has at
least one word, so ``Vocabulary.encode`` never sees an empty text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from vidkit.data.actions import ActionClips, all_captions
from vidkit.data.moving_mnist import MovingMNIST
from vidkit.utils.checks import check_int, check_real, check_seed

__all__ = ["ALIGNED", "NEIGHBOUR", "FILLER", "KIND_NAMES", "FILLERS", "HESITATIONS", "Narration", "narrate",
           "narrate_pools"]

ALIGNED, NEIGHBOUR, FILLER = 0, 1, 2
KIND_NAMES: tuple[str, ...] = ("aligned", "neighbour", "filler")
"""Name of each kind code."""

FILLERS: tuple[str, ...] = (
    "okay so now", "let's see", "alright", "right so", "um let me think", "here we go", "so what do we have",
    "just a second", "you know", "and there we go", "like i said", "hmm okay", "let me show you", "so yeah",
    "what else", "keep watching", "oh nice", "well then",
)
"""Sentences that describe nothing (speech between the interesting bits)."""

HESITATIONS: tuple[str, ...] = ("so", "um", "okay", "and now", "right", "uh", "and then")
"""Words that may start a describing sentence."""


@dataclass
class Narration:
    """Per-clip bags of narration sentences (``N`` clips, ``M`` sentences each).

    Attributes:
        sentences: ``N`` lists of ``M`` strings, in a seeded random order.
        kinds: ``(N, M)`` int64 :data:`ALIGNED` / :data:`NEIGHBOUR` / :data:`FILLER` per sentence.
        source: ``(N, M)`` int64 index of the clip a sentence was made from (``-1`` for fillers).
        describes: ``(N, M)`` bool: the sentence is true of its clip (aligned, or a neighbour caption of a
            clip with the same content).
    """

    sentences: list[list[str]]
    kinds: np.ndarray
    source: np.ndarray
    describes: np.ndarray

    def __len__(self) -> int:
        return len(self.sentences)

    @property
    def aligned(self) -> np.ndarray:
        """``(N, M)`` bool, the MIL-NCE positives as the narration labels them (kind == ALIGNED)."""
        return self.kinds == ALIGNED

    def texts(self) -> list[str]:
        """All sentences, clip by clip (``N * M`` strings; sentence ``m`` of clip ``i`` at ``i * M + m``)."""
        return [s for bag in self.sentences for s in bag]

    def kind_names(self) -> list[list[str]]:
        """:attr:`kinds` as names, ``N`` lists of ``M`` of "aligned" / "neighbour" / "filler"."""
        return [[KIND_NAMES[k] for k in row] for row in self.kinds]


def _check_pools(pools: Any) -> list[tuple[str, ...]]:
    if isinstance(pools, str) or not isinstance(pools, Sequence) or len(pools) == 0:
        raise ValueError(f"pools must be a non-empty sequence (one per clip) of non-empty sequences of captions, "
                         f"got {type(pools).__name__}")
    out = []
    for i, pool in enumerate(pools):
        if isinstance(pool, str) or not isinstance(pool, Sequence) or len(pool) == 0:
            raise ValueError(f"pools[{i}] must be a non-empty sequence of captions, got {pool!r}")
        for s in pool:
            if not isinstance(s, str) or not any(ch.isalnum() for ch in s):
                raise ValueError(f"pools[{i}] holds an empty or non-text caption {s!r}; every caption needs a word")
        out.append(tuple(pool))
    return out


def narrate_pools(pools: Sequence[Sequence[str]], seed: int = 0, *, n_aligned: int = 2, n_neighbour: int = 2,
                  n_filler: int = 2, hesitation: float = 0.3,
                  keys: Sequence[Any] | None = None) -> Narration:
    """Noisy narration from per-clip caption pools: ``pools[i]`` holds the true captions of clip ``i``.

    Aligned sentences are drawn from ``pools[i]`` without replacement while the pool lasts (then with
    replacement); neighbour sentences from the pool of clip ``i - 1`` or ``i + 1`` (chosen at random per
    sentence); fillers from :data:`FILLERS`. ``keys[i]`` (optional, e.g. ``(digit, action)``) says which clips
    show the same thing, for :attr:`Narration.describes`; without it, clips with the same pool do.
    ``n_aligned >= 1`` (the clip must be narrated), ``n_neighbour`` needs at least 2 clips. Seeded by ``seed``.
    """
    pools = _check_pools(pools)
    seed = check_seed("seed", seed)
    n_a = check_int("n_aligned", n_aligned, 1, what=" (each clip needs a sentence that describes it)")
    n_n = check_int("n_neighbour", n_neighbour, 0)
    n_f = check_int("n_filler", n_filler, 0)
    hes = check_real("hesitation", hesitation, 0.0, 1.0, low_open=False, what=" (a probability)")
    n = len(pools)
    if n_n and n < 2:
        raise ValueError(f"n_neighbour={n_n} needs at least 2 clips (neighbours come from adjacent clips), got 1; "
                         "pass n_neighbour=0")
    if keys is None:
        keys = pools
    elif len(keys) != n:
        raise ValueError(f"keys must have one entry per clip ({n}), got {len(keys)}")
    rng = np.random.default_rng(np.random.SeedSequence([seed, 5]))
    m = n_a + n_n + n_f
    sentences: list[list[str]] = []
    kinds = np.empty((n, m), np.int64)
    source = np.empty((n, m), np.int64)
    for i in range(n):  # a loop over clips: a few Python operations each
        pool = pools[i]
        pick = rng.choice(len(pool), size=n_a, replace=n_a > len(pool))
        bag = [pool[j] for j in pick]
        src = [i] * n_a
        for _ in range(n_n):
            j = i - 1 if i == n - 1 else i + 1 if i == 0 else i + (1 if rng.random() < 0.5 else -1)
            bag.append(pools[j][int(rng.integers(len(pools[j])))])
            src.append(j)
        bag = [f"{HESITATIONS[int(rng.integers(len(HESITATIONS)))]} {s}" if rng.random() < hes else s for s in bag]
        bag += [FILLERS[j] for j in rng.choice(len(FILLERS), size=n_f, replace=n_f > len(FILLERS))]
        kind = [ALIGNED] * n_a + [NEIGHBOUR] * n_n + [FILLER] * n_f
        src += [-1] * n_f
        order = rng.permutation(m)
        sentences.append([bag[o] for o in order])
        kinds[i] = np.asarray(kind)[order]
        source[i] = np.asarray(src)[order]
    same = np.array([[s >= 0 and keys[s] == keys[i] for s in row] for i, row in enumerate(source)], bool)
    return Narration(sentences=sentences, kinds=kinds, source=source, describes=same.reshape(n, m))


def narrate(clips: ActionClips | MovingMNIST, seed: int = 0, **kwargs: Any) -> Narration:
    """Noisy narration of a batch of clips (see the module docstring); ``kwargs`` as :func:`narrate_pools`.

    Action clips: the true captions are every :func:`all_captions` variant of the clip's digit and action (so
    a clip's aligned sentences are distinct), and two clips show the same thing when digit and action agree.
    Moving MNIST: the one caption of each sequence (aligned sentences repeat it when ``n_aligned > 1``).
    """
    if isinstance(clips, ActionClips):
        names = clips.action_names
        pools = [all_captions(int(d), names[int(a)]) for d, a in zip(clips.digit, clips.action)]
        keys = [(int(d), int(a)) for d, a in zip(clips.digit, clips.action)]
        return narrate_pools(pools, seed, keys=keys, **kwargs)
    if isinstance(clips, MovingMNIST):
        if not clips.captions:
            raise ValueError("these Moving MNIST clips have no captions (generated with captions=False); "
                             "narration needs them")
        return narrate_pools([[c] for c in clips.captions], seed, **kwargs)
    raise TypeError(f"clips must be an ActionClips or a MovingMNIST, got {type(clips).__name__}")
