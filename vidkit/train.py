"""Training helpers: one short loop, reused for every model in vidkit.

The whole loop is :func:`train`. Read it top to bottom; everything else here is a small helper::

    model = TinyFramePredictor()
    result = train(model, loss_fn, stream, TrainConfig(steps=2000, time_budget_s=300, amp=True),
                   workdir=make_workdir("tiny"), callbacks=[LivePlot(every=50)])  # vidkit.viz.liveplot
    result.history   # [{"step": 10, "loss": ..., "lr": ..., "time": ..., "samples_per_s": ...}, ...]

* ``loss_fn(model, batch, step)`` returns a scalar loss tensor, or ``(loss, {"name": float, ...})`` whose
  extra values are averaged into the history. ``step`` is the 0-based index of the optimizer step it
  computes, for schedules such as scheduled sampling; it is exact across resumes. Every loss function
  takes it (one that does not need it names it ``_step``, or gives it a default).
* ``batches`` is any iterator of batches (a tensor, or a tuple/list/dict of tensors). If it has
  ``state_dict()`` / ``load_state_dict()``, its position is saved in checkpoints and restored on resume.
* A run stops at ``config.steps`` (a total: a resumed run continues to it) or after
  ``config.time_budget_s`` seconds *of this call* (each resume gets the whole budget again), whichever
  comes first; ``result.stopped_by`` says which and ``result.stop_reason`` says it in words (also printed
  and logged). A non-finite loss raises :class:`NonFiniteLossError`.
* With a ``workdir``: ``log.txt``, periodic atomic ``checkpoints/last.pt``, ``metrics.json`` at the end.
  Calling :func:`train` again on the same ``workdir`` resumes exactly (bit for bit on CPU).
* Under ``torchrun`` the model is wrapped in ``DistributedDataParallel``; only rank 0 writes files
  and shows progress.
"""

from __future__ import annotations

import math
import os
import random
import time
import warnings
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from tqdm.auto import tqdm

from vidkit.errors import VidkitError
from vidkit.runs import Run, check_writable, write_failure
from vidkit.utils import distributed as D
from vidkit.utils.checkpoint import CheckpointError, load_checkpoint, save_checkpoint

__all__ = ["TrainConfig", "TrainResult", "StepInfo", "NonFiniteLossError", "train", "pick_device",
           "steps_for_time", "check_writable",
           "seed_everything", "warmup_cosine", "make_optimizer", "make_scheduler", "make_workdir"]


class NonFiniteLossError(VidkitError, FloatingPointError):
    """The loss, the gradients or the weights became NaN or infinite; the run stops before the bad step
    is applied, and no checkpoint with non-finite weights is ever written.

    ``what`` is ``"loss"``, ``"gradient norm"`` or ``"weights"``; ``checkpoint`` the last good checkpoint
    (``(path, step)``) or None when there is none.
    """

    def __init__(self, step: int, loss: float, what: str = "loss", checkpoint: tuple[Path, int] | None = None,
                 advice: str = "Try a lower lr, gradient clipping, or amp=False."):
        self.step, self.loss, self.what, self.checkpoint = step, loss, what, checkpoint
        kept = (f"the last good checkpoint ({checkpoint[0]}, step {checkpoint[1]}) is kept and a resume starts "
                "from it" if checkpoint else "no checkpoint was written")
        super().__init__(f"non-finite {what} {loss} at step {step}: training stopped, {kept}. {advice}")


# ----------------------------------------------------------------------------- config and validation

def _is_int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _is_number(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


@dataclass
class TrainConfig:
    """Everything :func:`train` needs besides the model, the loss and the data."""

    steps: int = 1000  # step budget (total, including steps done before a resume)
    time_budget_s: float | None = None  # wall-clock seconds for THIS call (a resume gets it again); None: no limit
    lr: float = 1e-3  # peak learning rate (AdamW)
    weight_decay: float = 0.0  # applied to weight matrices / conv kernels only, not to biases or norms
    warmup_steps: int = 0  # linear warmup, then cosine decay to min_lr_ratio * lr at `steps`
    min_lr_ratio: float = 0.0
    grad_clip: float | None = 1.0  # max global gradient norm; None: no clipping
    amp: bool = False  # bf16 autocast in the forward pass
    compile: bool = False  # torch.compile the model
    find_unused_parameters: bool = False  # DDP only: some parameters get no gradient on some steps (e.g. unused heads)
    grad_sync: str = "ddp"  # several processes: "ddp" wraps the model; "allreduce" averages gradients after backward
    ckpt_every: int | None = 100  # save checkpoints/last.pt every N steps (and at the end); None: end only
    keep_checkpoints: bool = False  # also keep checkpoints/step_NNNNNNN.pt at each save
    log_every: int = 10  # history / log.txt / progress-bar update every N steps
    seed: int = 0  # seeds torch, random and numpy (plus the rank) at the start of a fresh run
    device: str | None = None  # None: pick_device()

    def __post_init__(self) -> None:
        def need(ok: bool, msg: str) -> None:
            if not ok:
                raise ValueError(f"TrainConfig: {msg}")

        need(_is_int(self.steps) and self.steps > 0, f"steps must be a positive int, got {self.steps!r}")
        need(self.time_budget_s is None or (_is_number(self.time_budget_s) and self.time_budget_s > 0),
             f"time_budget_s must be None or a positive number of seconds, got {self.time_budget_s!r}")
        need(_is_number(self.lr) and self.lr > 0, f"lr must be a positive number, got {self.lr!r}")
        need(_is_number(self.weight_decay) and self.weight_decay >= 0,
             f"weight_decay must be a number >= 0, got {self.weight_decay!r}")
        need(_is_int(self.warmup_steps) and self.warmup_steps >= 0,
             f"warmup_steps must be an int >= 0, got {self.warmup_steps!r}")
        need(_is_number(self.min_lr_ratio) and 0 <= self.min_lr_ratio <= 1,
             f"min_lr_ratio must be in [0, 1], got {self.min_lr_ratio!r}")
        need(self.grad_clip is None or (_is_number(self.grad_clip) and self.grad_clip > 0),
             f"grad_clip must be None or a positive number, got {self.grad_clip!r}")
        need(isinstance(self.amp, bool), f"amp must be a bool, got {self.amp!r}")
        need(isinstance(self.compile, bool), f"compile must be a bool, got {self.compile!r}")
        need(self.grad_sync in ("ddp", "allreduce"), f"grad_sync must be 'ddp' or 'allreduce', got {self.grad_sync!r}")
        need(isinstance(self.find_unused_parameters, bool),
             f"find_unused_parameters must be a bool, got {self.find_unused_parameters!r}")
        need(self.ckpt_every is None or (_is_int(self.ckpt_every) and self.ckpt_every > 0),
             f"ckpt_every must be None or a positive int, got {self.ckpt_every!r}")
        need(isinstance(self.keep_checkpoints, bool), f"keep_checkpoints must be a bool, got {self.keep_checkpoints!r}")
        need(_is_int(self.log_every) and self.log_every > 0, f"log_every must be a positive int, got {self.log_every!r}")
        need(_is_int(self.seed), f"seed must be an int, got {self.seed!r}")
        need(self.device is None or isinstance(self.device, str), f"device must be None or a str, got {self.device!r}")


@dataclass
class TrainResult:
    """What :func:`train` returns."""

    model: nn.Module  # the trained model (unwrapped: never the DDP / compiled wrapper)
    history: list[dict[str, float]]  # one entry per log_every steps, including steps before a resume
    steps: int  # optimizer steps done in total
    elapsed_s: float  # training wall-clock time in total (across resumes)
    stopped_by: str  # "steps", "time", or "data" (the iterator ran out)
    workdir: Path | None
    resumed_from: int | None = None  # the checkpoint step this call resumed from, if any
    planned_steps: int | None = None  # config.steps
    time_budget_s: float | None = None  # config.time_budget_s (per call)

    @property
    def stop_reason(self) -> str:
        """Why the run stopped, in words a learner can act on."""
        if self.stopped_by == "time":
            return (f"stopped by the time budget ({self.time_budget_s:g} s per call) at step {self.steps} of "
                    f"{self.planned_steps}: run it again on the same work dir to continue")
        if self.stopped_by == "data":
            return f"stopped at step {self.steps} of {self.planned_steps}: the batches ran out"
        return f"finished: all {self.steps} steps done"

    @property
    def final_loss(self) -> float:
        """Mean loss over the last logged window (NaN when nothing was logged)."""
        return self.history[-1]["loss"] if self.history else float("nan")


@dataclass
class StepInfo:
    """Passed to every callback after each optimizer step (on rank 0 only)."""

    step: int
    loss: float
    lr: float
    elapsed_s: float
    history: list[dict[str, float]]
    model: nn.Module
    final: bool = False  # True on the last call of the run
    extras: dict[str, float] = field(default_factory=dict)


# ----------------------------------------------------------------------------- small helpers

def pick_device(preferred: str | torch.device | None = None) -> torch.device:
    """The device to train on: ``preferred`` if given, else CUDA, then Apple MPS, then CPU.

    Under torchrun with CUDA, each process gets ``cuda:LOCAL_RANK``.
    """
    if preferred is not None:
        if not isinstance(preferred, str | torch.device):
            raise TypeError(f"device must be a str or torch.device, got {type(preferred).__name__}")
        try:
            device = torch.device(preferred)
        except RuntimeError as e:
            raise ValueError(f"invalid device {preferred!r}: {e}") from None
        if device.type == "cuda" and not torch.cuda.is_available():
            raise RuntimeError(f"device {preferred!r} requested but CUDA is not available")
        if device.type == "mps" and not torch.backends.mps.is_available():
            raise RuntimeError(f"device {preferred!r} requested but MPS is not available")
    elif torch.cuda.is_available():
        device = torch.device("cuda")
    elif torch.backends.mps.is_available():
        device = torch.device("mps")
    else:
        device = torch.device("cpu")
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", D.local_rank())
    return device


def seed_everything(seed: int) -> None:
    """Seed torch (CPU and CUDA), Python's ``random`` and numpy's global generator."""
    if not _is_int(seed):
        raise TypeError(f"seed must be an int, got {seed!r}")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def warmup_cosine(warmup_steps: int, total_steps: int, min_lr_ratio: float = 0.0) -> Callable[[int], float]:
    """Learning-rate multiplier for ``LambdaLR``: linear warmup, then cosine decay.

    Step ``i`` (0-based, the i-th optimizer step) gets ``(i + 1) / warmup_steps`` during warmup, so the
    first step is not wasted at lr 0 and step ``warmup_steps - 1`` reaches the peak. Afterwards the
    multiplier follows half a cosine from 1 down to ``min_lr_ratio`` at ``total_steps``.
    """
    if not (_is_int(warmup_steps) and warmup_steps >= 0):
        raise ValueError(f"warmup_steps must be an int >= 0, got {warmup_steps!r}")
    if not (_is_int(total_steps) and total_steps > 0):
        raise ValueError(f"total_steps must be a positive int, got {total_steps!r}")
    if not (_is_number(min_lr_ratio) and 0 <= min_lr_ratio <= 1):
        raise ValueError(f"min_lr_ratio must be in [0, 1], got {min_lr_ratio!r}")

    def multiplier(i: int) -> float:
        if i < warmup_steps:
            return (i + 1) / warmup_steps
        progress = min(1.0, (i - warmup_steps) / max(1, total_steps - warmup_steps))
        return min_lr_ratio + (1 - min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress))

    return multiplier


def make_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.AdamW:
    """AdamW; weight decay only on tensors with >= 2 dims (weights, kernels), not biases or norm gains."""
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("the model has no trainable parameters")
    groups = [{"params": [p for p in params if p.dim() >= 2], "weight_decay": config.weight_decay},
              {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0}]
    return torch.optim.AdamW([g for g in groups if g["params"]], lr=config.lr)


def make_scheduler(optimizer: torch.optim.Optimizer, config: TrainConfig) -> torch.optim.lr_scheduler.LambdaLR:
    """Warmup + cosine schedule (see :func:`warmup_cosine`) over ``config.steps`` steps."""
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, warmup_cosine(config.warmup_steps, config.steps, config.min_lr_ratio))


def make_workdir(name: str, root: str | os.PathLike | None = None, config: Any = None) -> Path:
    """Create a fresh run folder ``<root>/<name>-<YYYYmmdd-HHMMSS>`` with its ``config.json`` and return its
    path: :meth:`vidkit.runs.Run.create` (collective under torchrun)."""
    return Run.create(name, root, config).path


def _to_device(batch: Any, device: torch.device) -> Any:
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, Mapping):
        return {k: _to_device(v, device) for k, v in batch.items()}
    if isinstance(batch, list | tuple):
        return type(batch)(_to_device(v, device) for v in batch)
    return batch


def _batch_size(batch: Any) -> int:
    """Samples in a batch: the first dimension of its first tensor (1 if there is none)."""
    if isinstance(batch, torch.Tensor):
        return batch.shape[0] if batch.dim() else 1
    items = batch.values() if isinstance(batch, dict) else batch if isinstance(batch, list | tuple) else ()
    for v in items:
        n = _batch_size(v)
        if n:
            return n
    return 1


def _split_loss(out: Any) -> tuple[torch.Tensor, dict[str, float]]:
    loss, extras = out if isinstance(out, tuple) else (out, {})
    if not isinstance(loss, torch.Tensor) or loss.numel() != 1:
        raise TypeError("loss_fn(model, batch, step) must return a scalar loss tensor or (loss, dict), "
                        f"got {type(loss).__name__}{tuple(loss.shape) if isinstance(loss, torch.Tensor) else ''}")
    if not isinstance(extras, dict):
        raise TypeError(f"the second value returned by loss_fn must be a dict, got {type(extras).__name__}")
    return loss.reshape(()), {k: float(v) for k, v in extras.items()}


def _rng_state() -> dict[str, Any]:
    """Every global RNG state, as tensors and plain Python values (loadable with weights_only=True)."""
    _, key, pos, has_gauss, gauss = np.random.get_state()
    return {"torch": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
            "python": random.getstate(),
            "numpy": {"key": torch.from_numpy(key.astype(np.int64)), "pos": int(pos),
                      "has_gauss": int(has_gauss), "gauss": float(gauss)}}


def _set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    random.setstate(state["python"])
    n = state["numpy"]
    np.random.set_state(("MT19937", n["key"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["gauss"]))


# ----------------------------------------------------------------------------- checkpoint state

def _last_good(path: Path | None) -> tuple[Path, int] | None:
    """``(checkpoint, its step)``: what a resume would load, or None when there is no checkpoint."""
    return (path, int(load_checkpoint(path)["step"])) if path is not None and path.is_file() else None


def _all_finite(model: nn.Module) -> bool:
    return all(bool(torch.isfinite(p).all()) for p in model.state_dict().values() if p.is_floating_point())


def _checkpoint(path: Path, step: int, elapsed: float, config: TrainConfig, model: nn.Module,
                optimizer: torch.optim.Optimizer, scheduler: Any, stream: Any, history: list,
                window: dict[str, Any]) -> None:
    """Save everything needed for an exact resume (weights, optimizer, schedule, RNGs, data position, the
    history and the open logging window). Collective under DDP; only rank 0 writes. Refuses non-finite
    weights: a checkpoint is always one a run can resume from."""
    rngs = D.all_gather_object(_rng_state())
    data = D.all_gather_object(stream.state_dict() if hasattr(stream, "state_dict") else None)
    if not D.is_main():
        return
    if not _all_finite(model):
        raise NonFiniteLossError(step, float("nan"), "weights", _last_good(path))
    state = {"step": step, "elapsed_s": elapsed, "config": asdict(config), "world_size": D.world_size(),
             "model": model.state_dict(), "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
             "rng": rngs, "data": data, "history": history, "torch_version": str(torch.__version__),
             "window": {k: v for k, v in window.items() if k != "t"}}
    targets = [path] + ([path.parent / f"step_{step:07d}.pt"] if config.keep_checkpoints else [])
    for target in targets:
        try:
            save_checkpoint(state, target)
        except (OSError, RuntimeError) as e:
            raise write_failure(target, e) from e


def _restore(path: Path, model: nn.Module, optimizer: torch.optim.Optimizer, scheduler: Any,
             stream: Any) -> tuple[int, float, list, dict[str, Any], dict[str, Any]]:
    """Load a checkpoint into the model, optimizer, schedule, RNGs and data stream. Returns
    ``(step, elapsed, history, logging window, saved TrainConfig as a dict)``."""
    ckpt = load_checkpoint(path)
    try:
        model.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        scheduler.load_state_dict(ckpt["scheduler"])
        step, elapsed, saved_ws = int(ckpt["step"]), float(ckpt["elapsed_s"]), int(ckpt["world_size"])
    except (KeyError, RuntimeError, ValueError, TypeError) as e:
        raise CheckpointError(f"{path}: does not match this model / optimizer: {e}") from e
    if saved_ws != D.world_size():
        warnings.warn(f"{path} was saved with world_size={saved_ws}, now {D.world_size()}: weights and optimizer "
                      "are restored but RNG and data positions are not (the resume is not exact)", stacklevel=3)
    else:
        _set_rng_state(ckpt["rng"][D.rank()])
        data = ckpt["data"][D.rank()]
        if data is not None and hasattr(stream, "load_state_dict"):
            stream.load_state_dict(data)
        else:
            warnings.warn("batches has no saved position or no state_dict()/load_state_dict(): the data starts "
                          "over from its beginning (the resume is not exact)", stacklevel=3)
    return step, elapsed, list(ckpt.get("history", [])), dict(ckpt.get("window", {})), dict(ckpt.get("config", {}))


def _set_peak_lr(optimizer: torch.optim.Optimizer, scheduler: Any, lr: float) -> None:
    """Move a restored schedule to a new peak lr (a resume with a changed ``config.lr``): the multiplier at
    the current step is kept, so the run continues the same schedule at the new scale."""
    scale = lr / scheduler.base_lrs[0]
    scheduler.base_lrs = [lr for _ in scheduler.base_lrs]
    for g in optimizer.param_groups:
        g["initial_lr"] = lr
        g["lr"] *= scale


def _reduce(loss: torch.Tensor, out_of_time: bool) -> tuple[float, bool]:
    """Mean loss over ranks and 'any rank out of time', in one all-reduce (plain .item() when single)."""
    if D.world_size() == 1:
        return loss.item(), out_of_time
    t = torch.stack([loss.detach().float(), torch.tensor(float(out_of_time), device=loss.device)])
    dist.all_reduce(t)
    return t[0].item() / D.world_size(), bool(t[1].item() > 0)


# ----------------------------------------------------------------------------- the loop

def _check_train_args(model: Any, loss_fn: Any, batches: Any, config: Any, workdir: Any, resume: Any,
                      progress: Any, callbacks: Iterable[Any]) -> list[Callable[[StepInfo], Any]]:
    """Validate :func:`train`'s arguments with messages naming what was expected; returns the callbacks."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not callable(loss_fn):
        raise TypeError(f"loss_fn must be callable as loss_fn(model, batch, step), got {type(loss_fn).__name__}")
    if not isinstance(config, TrainConfig):
        raise TypeError(f"config must be a TrainConfig, got {type(config).__name__}")
    if not hasattr(batches, "__iter__"):
        raise TypeError(f"batches must be an iterable of batches, got {type(batches).__name__}")
    if workdir is not None and not isinstance(workdir, str | os.PathLike):
        raise TypeError(f"workdir must be None, a str or an os.PathLike, got {type(workdir).__name__}")
    if not isinstance(resume, bool) or not isinstance(progress, bool):
        raise TypeError(f"resume and progress must be bools, got {resume!r} and {progress!r}")
    callbacks = list(callbacks)
    if not all(callable(cb) for cb in callbacks):
        raise TypeError("every callback must be callable as cb(StepInfo)")
    return callbacks


def _broadcast_parameters(model: nn.Module) -> None:
    """Start every process from rank 0's weights (what DDP does when it wraps a model)."""
    for t in model.state_dict().values():
        D.broadcast(t)


def _average_gradients(model: nn.Module) -> None:
    """``grad_sync="allreduce"``: average every parameter's gradient over the processes (a parameter the loss did
    not reach counts as a zero gradient), the result DDP gives. For losses that run the model several times per
    step (e.g. HERO's four tasks), which DDP, one forward per backward, does not allow."""
    if D.world_size() == 1:
        return
    for p in model.parameters():
        if p.requires_grad:
            if p.grad is None:
                p.grad = torch.zeros_like(p)
            D.all_reduce_mean(p.grad)


def train(model: nn.Module, loss_fn: Callable[[nn.Module, Any, int], Any], batches: Iterable[Any],
          config: TrainConfig | None = None, workdir: str | os.PathLike | None = None, resume: bool = True,
          callbacks: Iterable[Callable[[StepInfo], Any]] = (), progress: bool = True) -> TrainResult:
    """Train ``model`` on ``batches`` by minimising ``loss_fn(model, batch, step)``; see the module docstring.

    Resumes from ``workdir/checkpoints/last.pt`` when it exists and ``resume`` is True. Callbacks are
    called as ``cb(StepInfo)`` after every step on rank 0. Raises :class:`NonFiniteLossError` on a NaN
    or infinite loss, before the bad step is applied and without touching the saved checkpoint.
    """
    config = TrainConfig() if config is None else config
    callbacks = _check_train_args(model, loss_fn, batches, config, workdir, resume, progress, callbacks)

    D.init_distributed()
    main = D.is_main()
    device = pick_device(config.device)
    model.to(device)
    optimizer = make_optimizer(model, config)
    scheduler = make_scheduler(optimizer, config)
    stream, it = batches, iter(batches)

    run = None if workdir is None else Run(workdir)
    workdir = None if run is None else run.path
    ckpt_path = None if run is None else run.checkpoint
    if run is not None and main:
        check_writable(run.path)
        check_writable(ckpt_path.parent)
        for stale in ckpt_path.parent.glob(".*.tmp*"):  # left by a run killed while saving
            stale.unlink(missing_ok=True)

    def log(msg: str) -> None:
        if run is not None and main:
            run.log(msg)

    step, elapsed, history, resumed_from, window = 0, 0.0, [], None, {}
    if resume and ckpt_path is not None and ckpt_path.is_file():
        step, elapsed, history, window, saved = _restore(ckpt_path, model, optimizer, scheduler, stream)
        resumed_from = step
        log(f"resumed from {ckpt_path} at step {step}")
        if saved.get("lr", config.lr) != config.lr:
            _set_peak_lr(optimizer, scheduler, config.lr)
            log(f"peak lr changed from {saved['lr']} to {config.lr} at step {step}")
    else:
        seed_everything(config.seed + D.rank())

    net = model
    if D.world_size() > 1 and config.grad_sync == "allreduce":
        _broadcast_parameters(model)
    elif D.world_size() > 1:
        net = nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None,
                                                  find_unused_parameters=config.find_unused_parameters)
    if config.compile:
        net = torch.compile(net)
    log(f"start step {step}/{config.steps} device={device} world_size={D.world_size()} config={asdict(config)}")

    model.train()
    budget = config.time_budget_s  # for this call: a resume gets the whole budget again
    stopped_by = "steps"
    t_start = time.perf_counter() - elapsed  # elapsed counts time before a resume too
    session_start, session_samples, last_saved = time.perf_counter(), 0, step
    # the open logging window (saved in checkpoints, so a resumed run logs what an uninterrupted one would)
    win = {"loss": 0.0, "n": 0, "samples": 0, "extras": {}, **window, "t": time.perf_counter()}
    loss_val, lr, extras = float("nan"), optimizer.param_groups[0]["lr"], {}
    pbar = tqdm(total=config.steps, initial=step, disable=not (progress and main), desc="train", unit="step",
                dynamic_ncols=True)

    def record() -> None:  # close the logging window: one history entry, one log line, one bar update
        now = time.perf_counter()
        entry = {"step": step, "loss": win["loss"] / win["n"], "lr": lr, "time": now - t_start,
                 "samples_per_s": win["samples"] * D.world_size() / max(now - win["t"], 1e-9)}
        entry.update({k: v / win["n"] for k, v in win["extras"].items()})
        history.append(entry)
        log(" ".join(f"{k} {v:.6g}" if isinstance(v, float) else f"{k} {v}" for k, v in entry.items()))
        pbar.set_postfix({"loss": f"{entry['loss']:.4f}", "samples/s": f"{entry['samples_per_s']:.0f}"}, refresh=False)
        win.update(loss=0.0, n=0, samples=0, t=now, extras={})

    try:
        while step < config.steps and stopped_by != "time":
            try:
                batch = next(it)
            except StopIteration:
                stopped_by = "data"
                break
            batch = _to_device(batch, device)
            lr = optimizer.param_groups[0]["lr"]
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=config.amp):
                loss, extras = _split_loss(loss_fn(net, batch, step))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if config.grad_sync == "allreduce":
                _average_gradients(model)
            elapsed = time.perf_counter() - t_start
            call_s = time.perf_counter() - session_start
            loss_val, out_of_time = _reduce(loss, budget is not None and call_s >= budget)
            # gradients are all-reduced by now, so every rank sees the same norm and stops together
            grad_norm = loss_val if not math.isfinite(loss_val) else float(nn.utils.clip_grad_norm_(
                model.parameters(), config.grad_clip if config.grad_clip is not None else math.inf))
            if not math.isfinite(grad_norm):
                what = "loss" if not math.isfinite(loss_val) else "gradient norm"
                log(f"stopped: non-finite {what} {grad_norm} at step {step + 1}")
                raise NonFiniteLossError(step + 1, grad_norm, what, _last_good(ckpt_path))
            optimizer.step()
            scheduler.step()
            step += 1

            n = _batch_size(batch)
            session_samples += n
            win["loss"] += loss_val
            win["n"] += 1
            win["samples"] += n
            for k, v in extras.items():
                win["extras"][k] = win["extras"].get(k, 0.0) + v
            if out_of_time:
                stopped_by = "time"
            if step % config.log_every == 0 or step == config.steps or stopped_by == "time":
                record()
            pbar.update(1)
            if ckpt_path is not None and config.ckpt_every is not None and step % config.ckpt_every == 0:
                _checkpoint(ckpt_path, step, time.perf_counter() - t_start, config, model, optimizer, scheduler,
                            stream, history, win)
                last_saved = step
            if main and callbacks:
                info = StepInfo(step, loss_val, lr, time.perf_counter() - t_start, history, model, extras=extras)
                for cb in callbacks:
                    cb(info)

        if win["n"]:  # the iterator ran out mid-window
            record()
        elapsed = time.perf_counter() - t_start
        if ckpt_path is not None and step != last_saved:
            _checkpoint(ckpt_path, step, elapsed, config, model, optimizer, scheduler, stream, history, win)
        if main:
            final = StepInfo(step, loss_val, lr, elapsed, history, model, final=True, extras=extras)
            for cb in callbacks:
                cb(final)
    finally:
        if step < config.steps and stopped_by in ("time", "data") and not pbar.disable:
            # an expected early stop: say why, and end the bar as complete (a notebook bar that closes short
            # of its total turns red, which reads as an error)
            pbar.set_description(f"train (stopped by the {'time budget' if stopped_by == 'time' else 'data'} "
                                 f"at {step}/{config.steps})", refresh=False)
            started = pbar.start_t
            pbar.reset(total=step)  # reset(): also the notebook widget's maximum (a plain total= would not)
            pbar.start_t = started  # keep the elapsed time and rate of the whole call
            pbar.update(step)
        pbar.close()

    session_s = time.perf_counter() - session_start
    result = TrainResult(model=model, history=history, steps=step, elapsed_s=elapsed, stopped_by=stopped_by,
                         workdir=workdir, resumed_from=resumed_from, planned_steps=config.steps,
                         time_budget_s=budget)
    if workdir is not None and main:
        metrics = {"steps": step, "stopped_by": stopped_by, "stop_reason": result.stop_reason, "elapsed_s": elapsed,
                   "final_loss": result.final_loss,
                   "samples_per_s": session_samples * D.world_size() / max(session_s, 1e-9),
                   "resumed_from": resumed_from, "world_size": D.world_size(), "device": str(device)}
        run.write_metrics(metrics)
        log(f"done: {step} steps, stopped by {stopped_by}, {elapsed:.1f}s: {result.stop_reason}")
    if progress and main:
        print(f"train: {result.stop_reason}")
    return result


def steps_for_time(model: nn.Module, loss_fn: Any, batch: Any, time_s: float, max_steps: int,
                   trials: int = 3) -> int:
    """How many optimizer steps fit in ``time_s`` seconds: ``min(max_steps, time_s / t)``, where ``t`` is
    the median time of ``trials`` forward + backward passes of ``loss_fn(copy, batch, 0)`` on a copy of
    ``model`` (after one untimed pass). At least 1.

    A training run whose learning-rate schedule is planned for this many steps ends its cosine decay when
    the time is up, instead of being cut off at a high learning rate by the time budget (which stays a
    safety stop: a machine that slows down mid-run still stops on time).
    """
    import copy

    for name, v in (("max_steps", max_steps), ("trials", trials)):
        if not _is_int(v) or v < 1:
            raise ValueError(f"{name} must be a positive int, got {v!r}")
    if not _is_number(time_s) or not time_s > 0:
        raise ValueError(f"time_s must be a positive number of seconds, got {time_s!r}")
    device = pick_device(None)                       # where vidkit.train.train will put the model
    probe = copy.deepcopy(model).to(device)
    probe.train()
    if isinstance(batch, Mapping):
        batch = {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}
    times = []
    for i in range(trials + 1):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        t0 = time.perf_counter()
        out = loss_fn(probe, batch, 0)
        (out[0] if isinstance(out, tuple) else out).backward()
        probe.zero_grad(set_to_none=True)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        if i:
            times.append(time.perf_counter() - t0)
    per_step = float(np.median(times)) * 1.3          # + the optimizer step, the data and the logging
    return int(max(1, min(max_steps, time_s / per_step)))
