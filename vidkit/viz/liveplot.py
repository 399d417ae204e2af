"""The live loss curve of a training run: :class:`LivePlot`, a callback for :func:`vidkit.train.train`::

    train(model, loss_fn, stream, config, callbacks=[LivePlot(every=50)])
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import TYPE_CHECKING

from vidkit.utils.checks import check_int
from vidkit.utils.fileio import atomic_write

if TYPE_CHECKING:
    from vidkit.train import StepInfo

__all__ = ["LivePlot"]


def _in_notebook() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and hasattr(shell, "kernel")


class LivePlot:
    """Callback for :func:`vidkit.train.train` that redraws the loss (and learning-rate) curves every ``every`` steps.

    In Jupyter the figure updates in place through a display handle (so a tqdm bar in the same cell
    survives). Headless it only draws; with ``path`` it also saves a PNG there at each redraw.
    ``figure`` holds the latest matplotlib figure.
    """

    def __init__(self, every: int = 10, path: str | os.PathLike | None = None, title: str = "training"):
        check_int("every", every)
        if path is not None and not isinstance(path, str | os.PathLike):
            raise TypeError(f"path must be None or a str/os.PathLike, got {type(path).__name__}")
        self.every, self.path, self.title = every, None if path is None else Path(path), title
        self.figure = None
        self._handle = None

    def __call__(self, info: StepInfo) -> None:
        if info.final or info.step % self.every == 0:
            self.draw(info.history)

    def draw(self, history: list[dict[str, float]]) -> None:
        """Draw ``history`` now (no pyplot: safe without a display)."""
        from matplotlib.figure import Figure

        fig = Figure(figsize=(9, 3), layout="constrained")
        ax_loss, ax_lr = fig.subplots(1, 2)
        steps = [h["step"] for h in history]
        losses = [h["loss"] for h in history]
        ax_loss.plot(steps, losses)
        if losses and min(losses) > 0:
            ax_loss.set_yscale("log")
        ax_loss.set(xlabel="step", ylabel="loss", title=f"{self.title}: loss"
                    + (f" {losses[-1]:.4g}" if losses else ""))
        ax_lr.plot(steps, [h["lr"] for h in history], color="tab:orange")
        ax_lr.set(xlabel="step", ylabel="learning rate", title="learning rate")
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=80)
        self.figure = fig
        if self.path is not None:  # atomic: a reader (or a crash mid-write) never sees a half-written PNG
            png = buf.getvalue()
            atomic_write(self.path, lambda f: f.write(png))
        if _in_notebook():
            from IPython.display import Image, display

            image = Image(data=buf.getvalue(), format="png")
            if self._handle is None:
                self._handle = display(image, display_id=True)
            else:
                self._handle.update(image)
