"""Multi-GPU / multi-node helpers for runs launched with ``torchrun``.

Launch a script on every GPU of a machine with::

    torchrun --standalone --nproc_per_node=NUM_GPUS my_script.py

``torchrun`` sets ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR`` and ``MASTER_PORT`` for
each process. :func:`init_distributed` reads them and joins the process group (NCCL on CUDA, Gloo
on CPU); with ``WORLD_SIZE`` unset or 1 every helper here is a cheap no-op, so the same script runs
unchanged on a laptop. :func:`vidkit.train.train` wraps the model in ``DistributedDataParallel``
when :func:`world_size` is above 1.
"""

from __future__ import annotations

import os
import time
from typing import Any

import torch
import torch.distributed as dist

__all__ = ["init_distributed", "is_distributed", "rank", "local_rank", "world_size", "is_main", "barrier",
           "all_gather_object", "broadcast", "all_reduce_mean", "cleanup", "unwrap"]


def _env_int(name: str, default: int | None = None) -> int:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        if default is None:
            raise RuntimeError(f"{name} is not set; launch with torchrun (it sets RANK, WORLD_SIZE, LOCAL_RANK)")
        return default
    try:
        return int(value)
    except ValueError:
        raise RuntimeError(f"environment variable {name}={value!r} is not an integer") from None


def is_distributed() -> bool:
    """True when a process group is initialised (i.e. inside a multi-process run)."""
    return dist.is_available() and dist.is_initialized()


def init_distributed(backend: str | None = None) -> bool:
    """Join the process group described by torchrun's environment variables.

    Returns True if this is a multi-process run (``WORLD_SIZE`` > 1), False otherwise (no-op).
    Idempotent. ``backend`` defaults to ``"nccl"`` with CUDA and ``"gloo"`` without.
    On CUDA it also selects the GPU ``cuda:LOCAL_RANK`` for this process.
    """
    if is_distributed():
        return True
    size = _env_int("WORLD_SIZE", 1)
    if size <= 1:
        return False
    if not dist.is_available():
        raise RuntimeError("WORLD_SIZE > 1 but this torch build has no torch.distributed support")
    r, lr = _env_int("RANK"), _env_int("LOCAL_RANK", 0)
    if not 0 <= r < size:
        raise RuntimeError(f"RANK={r} is outside [0, WORLD_SIZE={size})")
    if backend is None:
        backend = "nccl" if torch.cuda.is_available() else "gloo"
    if backend == "nccl":
        torch.cuda.set_device(lr)
    dist.init_process_group(backend=backend, rank=r, world_size=size)  # env:// rendezvous (MASTER_ADDR/PORT)
    return True


def rank() -> int:
    """Global rank of this process (0 when not distributed)."""
    return dist.get_rank() if is_distributed() else 0


def local_rank() -> int:
    """Rank of this process on its machine (``LOCAL_RANK``; 0 when not distributed)."""
    return _env_int("LOCAL_RANK", 0) if is_distributed() else 0


def world_size() -> int:
    """Number of processes in the run (1 when not distributed)."""
    return dist.get_world_size() if is_distributed() else 1


def is_main() -> bool:
    """True on rank 0, the process that writes checkpoints, logs and progress bars."""
    return rank() == 0


def barrier() -> None:
    """Wait for every process (no-op when not distributed)."""
    if is_distributed():
        dist.barrier()


def all_gather_object(obj: Any) -> list[Any]:
    """Gather one picklable object from every rank into a list indexed by rank (``[obj]`` when single).

    Objects travel between the processes of one run only; checkpoints never store pickles.
    """
    if not is_distributed():
        return [obj]
    out: list[Any] = [None] * world_size()
    dist.all_gather_object(out, obj)
    return out


def broadcast(tensor: torch.Tensor, src: int = 0) -> torch.Tensor:
    """Overwrite ``tensor`` in place with rank ``src``'s (no-op when not distributed); returns it."""
    if is_distributed():
        dist.broadcast(tensor, src)
    return tensor


def all_reduce_mean(tensor: torch.Tensor) -> torch.Tensor:
    """Replace ``tensor`` in place by its mean over the processes (no-op when not distributed); returns it."""
    if is_distributed():
        dist.all_reduce(tensor)
        tensor.div_(world_size())
    return tensor


def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    """The module inside the wrappers :func:`vidkit.train.train` may put around a model (``DistributedDataParallel``
    and ``DataParallel`` hold it in ``.module``, ``torch.compile`` in ``._orig_mod``), for reading its attributes;
    call the wrapper itself for the forward pass, so DDP synchronises the gradients."""
    while True:
        if isinstance(getattr(model, "module", None), torch.nn.Module):
            model = model.module
        elif hasattr(model, "_orig_mod") and isinstance(model._orig_mod, torch.nn.Module):  # torch.compile
            model = model._orig_mod
        else:
            return model


def cleanup(barrier: bool = True) -> None:
    """Leave the process group (no-op when not distributed). Call once at the end of a script.

    By default every rank first waits for the others (pass ``barrier=False`` after an error, when a
    peer may be gone). The short pause at the end works around a PyTorch teardown race: Gloo's worker
    threads free the tensors of finished collectives in the background, and one that reaches the
    interpreter's shutdown first aborts the process ("terminate called without an active exception").
    """
    if is_distributed():
        if barrier:
            dist.barrier()
        dist.destroy_process_group()
        time.sleep(0.1)  # lets Gloo's threads finish freeing Python-owned tensors before exit
