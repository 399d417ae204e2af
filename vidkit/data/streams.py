"""Seeded streams and torch datasets for bouncing Moving MNIST.

Every random draw is keyed by a tuple of integers through ``np.random.SeedSequence``:

* the training stream's batch ``i`` on DDP rank ``r`` uses ``SeedSequence([seed, r, i])``;
* a ``DataLoader`` worker ``w`` of ``W`` on rank ``r`` uses chunks ``c = w, w + W, w + 2W, ...``
  keyed ``SeedSequence([seed, r, c])``;
* the fixed test set's block ``b`` uses ``SeedSequence([TEST_SEED, b])``.

So streams are reproducible, ranks and workers never share a draw, and resuming a run only needs
the integer position (the batch counter): :meth:`MovingMNISTStream.state_dict`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import fields

import numpy as np
import torch
from torch.utils.data import Dataset, IterableDataset, get_worker_info

from vidkit.data.audio import attach_audio
from vidkit.data.moving_mnist import MovingMNIST, _uint8_to_float, check_motion_args, generate_moving_mnist
from vidkit.utils.checks import check_choice, check_int, check_seed

__all__ = ["MovingMNISTStream", "MovingMNISTIterable", "MovingMNISTDataset", "current_rank", "concat_batches"]


def current_rank() -> tuple[int, int]:
    """``(rank, world_size)``: from an initialised ``torch.distributed`` group, else from the ``RANK`` /
    ``WORLD_SIZE`` variables that ``torchrun`` sets (so a dataset built before the process group is
    initialised still knows its rank), else ``(0, 1)``."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    try:
        return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))
    except ValueError:
        raise ValueError(f"RANK={os.environ.get('RANK')!r} / WORLD_SIZE={os.environ.get('WORLD_SIZE')!r} "
                         "must be integers") from None


def concat_batches(parts: list[MovingMNIST]) -> MovingMNIST:
    """Concatenate :class:`MovingMNIST` batches along the sequence axis."""
    if len(parts) == 1:
        return parts[0]
    arrays = {f.name: np.concatenate([getattr(p, f.name) for p in parts])
              for f in fields(MovingMNIST) if f.name not in ("captions", "meta", "audio")}
    audio = None if any(p.audio is None for p in parts) else np.concatenate([p.audio for p in parts])
    return MovingMNIST(**arrays, captions=[c for p in parts for c in p.captions], meta=dict(parts[0].meta),
                       audio=audio)


class MovingMNISTStream:
    """An infinite, seeded stream of training batches ``(B, T, 1, 64, 64)`` float32 in [0, 1].

    Batch ``i`` is a pure function of ``(seed, rank, i)``, so the stream's whole state is the
    counter ``step``: save it with :meth:`state_dict`, restore it with :meth:`load_state_dict`.
    ``rank`` defaults to the ``torch.distributed`` rank, so DDP ranks draw disjoint data.

    Use it directly as an iterator in a training loop (``next(stream)``); for ``DataLoader``
    workers use :class:`MovingMNISTIterable`. ``dtype=torch.uint8`` yields the pixels as they are drawn,
    ``(B, T, 1, 64, 64)`` uint8 (what the recipes train on: a quarter of the bytes, and no conversion pass in the
    stream; the loss converts with :func:`vidkit.data.pixels_to_float`, on the device). ``with_meta=True`` yields ``(frames, MovingMNIST)`` pairs, the
    second holding the batch's metadata; ``audio=True`` adds each sequence's sound track to it (``.audio``
    ``(B, 2, T * 800)``, seeded with the batch, see :func:`vidkit.data.audio.moving_mnist_audio`).
    """

    def __init__(self, batch_size: int, seed: int = 0, rank: int | None = None, world_size: int | None = None,
                 num_digits: int = 2, seq_len: int = 20, speed_range: tuple[float, float] | None = None,
                 split: str = "train", with_meta: bool = False, audio: bool = False,
                 dtype: torch.dtype = torch.float32) -> None:
        batch_size = check_int("batch_size", batch_size, 1)
        if dtype not in (torch.float32, torch.uint8):
            raise ValueError(f"dtype must be torch.float32 (pixels in [0, 1]) or torch.uint8 (0..255), got {dtype!r}")
        self.dtype = dtype
        seed = check_seed("seed", seed)
        split = check_choice("split", split, ("train", "test"))
        num_digits, seq_len, _, _, speed_range = check_motion_args(num_digits, seq_len, speed_range=speed_range)
        auto_rank, auto_world = current_rank()
        self.world_size = auto_world if world_size is None else check_int("world_size", world_size, 1)
        self.rank = auto_rank if rank is None else check_int("rank", rank, 0)
        if not 0 <= self.rank < self.world_size:
            raise ValueError(f"need 0 <= rank < world_size, got rank={self.rank}, world_size={self.world_size}")
        self.batch_size, self.seed, self.split = batch_size, seed, split
        self.kwargs = dict(num_digits=num_digits, seq_len=seq_len, speed_range=speed_range)
        if audio and not with_meta:
            raise ValueError("audio=True needs with_meta=True: the sound tracks travel in the batch's metadata")
        self.with_meta, self.audio = with_meta, audio
        self.step = 0

    def generate(self, i: int) -> MovingMNIST:
        """Batch ``i`` with its metadata (does not move the stream)."""
        ss = np.random.SeedSequence([self.seed, self.rank, int(i)])
        batch = generate_moving_mnist(self.batch_size, ss, split=self.split, captions=self.with_meta, **self.kwargs)
        return attach_audio(batch, ss) if self.audio else batch

    def __iter__(self) -> Iterator:
        return self

    def __next__(self) -> torch.Tensor | tuple[torch.Tensor, MovingMNIST]:
        batch = self.generate(self.step)
        self.step += 1
        x = batch.tensors() if self.dtype == torch.float32 else torch.from_numpy(batch.frames).unsqueeze(2)
        return (x, batch) if self.with_meta else x

    def state_dict(self) -> dict:
        """The stream position (and what it was built with, to catch mismatched resumes)."""
        return {"seed": self.seed, "rank": self.rank, "step": self.step, "batch_size": self.batch_size}

    def load_state_dict(self, state: dict) -> None:
        """Resume at ``state["step"]``; refuses a state saved with another seed or batch size."""
        if not isinstance(state, dict) or "step" not in state:
            raise ValueError(f"stream state must be a dict with a 'step' (from state_dict()), got {state!r}")
        for key in ("seed", "batch_size"):
            if key in state and state[key] != getattr(self, key):
                raise ValueError(f"stream state has {key}={state[key]}, this stream has {getattr(self, key)}")
        self.step = check_int("stream state 'step'", state["step"], 0)


class MovingMNISTIterable(IterableDataset):
    """Infinite ``IterableDataset`` of single sequences ``(T, 1, 64, 64)`` for ``DataLoader`` workers.

    Worker ``w`` of ``W`` on rank ``r`` generates chunks ``c = start_chunk + w + k*W`` keyed by
    ``(seed, r, c)``: disjoint across workers and ranks, identical on every run.

    It has no ``state_dict()``: a ``DataLoader`` prefetches, so the consumed position is not known
    exactly. For bit-exact resume use :class:`MovingMNISTStream` (generation is fast enough that
    workers are rarely needed on a CPU), or restart at a chunk with ``start_chunk``.
    """

    def __init__(self, seed: int = 0, chunk_size: int = 64, rank: int | None = None, start_chunk: int = 0,
                 num_digits: int = 2, seq_len: int = 20, speed_range: tuple[float, float] | None = None,
                 split: str = "train") -> None:
        self.seed = check_seed("seed", seed)
        self.chunk_size = check_int("chunk_size", chunk_size, 1)
        self.start_chunk = check_int("start_chunk", start_chunk, 0)
        self.split = check_choice("split", split, ("train", "test"))
        self.rank = current_rank()[0] if rank is None else check_int("rank", rank, 0)
        num_digits, seq_len, _, _, speed_range = check_motion_args(num_digits, seq_len, speed_range=speed_range)
        self.kwargs = dict(num_digits=num_digits, seq_len=seq_len, speed_range=speed_range)
        generate_moving_mnist(1, 0, split=split, captions=False, **self.kwargs)  # fail here, not in a worker

    def __iter__(self) -> Iterator[torch.Tensor]:
        info = get_worker_info()
        wid, nworkers = (info.id, info.num_workers) if info is not None else (0, 1)
        c = self.start_chunk + wid
        while True:
            ss = np.random.SeedSequence([self.seed, self.rank, c])
            batch = generate_moving_mnist(self.chunk_size, ss, split=self.split, captions=False, **self.kwargs)
            yield from batch.tensors()
            c += nworkers


class MovingMNISTDataset(Dataset):
    """Map-style dataset over a fixed :class:`MovingMNIST` (e.g. the cached test set).

    Item ``i`` is a dict: ``frames`` ``(T, 1, H, W)`` float32 in [0, 1], ``labels`` ``(K,)``,
    ``positions`` ``(T, K, 2)``, ``caption``; plus ``flow`` ``(T-1, 2, H, W)`` if ``with_flow``.
    """

    def __init__(self, data: MovingMNIST, with_flow: bool = False) -> None:
        if not isinstance(data, MovingMNIST):
            raise TypeError(f"expected a MovingMNIST batch, got {type(data).__name__}")
        self.data, self.with_flow = data, with_flow

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, i: int) -> dict:
        if not -len(self) <= i < len(self):
            raise IndexError(f"index {i} out of range for {len(self)} sequences")
        d = self.data
        item = {
            "frames": _uint8_to_float(d.frames[i]),
            "labels": torch.from_numpy(d.labels[i]),
            "positions": torch.from_numpy(d.positions[i]),
            "caption": d.captions[i] if d.captions else "",
        }
        if self.with_flow:
            item["flow"] = torch.from_numpy(d.flow(int(i)))
        return item
