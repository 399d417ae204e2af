"""The high-level API, MMDetection-style: ``model = vidkit.load(...)``, ``vidkit.predict(model, clip)``,
``vidkit.show(...)``.

    run = vidkit.load("runs/mmnist_tiny-20261122-170454")   # a work dir written by `vidkit train`
    future = vidkit.predict(run, clip, steps=10)             # clip: (T, H, W) uint8 or float in [0, 1]
    vidkit.show({"input": clip, "prediction": future})       # a ClipPlayer

Your own video: ``vidkit.predict(model, "my_video.mp4")`` reads the file at the model's frame size and channels and
continues its last frames; :func:`predict_video` writes input | prediction as an MP4 (``vidkit predict``);
:func:`load_encoder` gives an encoder for ``vidkit embed`` / ``search`` / ``protocol``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from vidkit.utils.checks import check_int

__all__ = ["load", "predict", "show", "publish", "run_config", "checkpoint_path", "reference_checkpoints",
           "rescore_reference", "MAX_OUTPUT_BYTES", "video_input", "predict_video", "load_encoder", "ENCODERS"]


def _as_clips(clip: Any) -> tuple[torch.Tensor, bool]:
    """Any clip layout -> float ``(B, T, C, H, W)`` in [0, 1], and whether a batch axis was added."""
    if isinstance(clip, torch.Tensor):
        x = clip.detach().cpu()
    else:
        arr = np.asarray(clip)
        x = torch.from_numpy(arr if arr.flags.writeable else arr.copy())  # a memory-mapped test set is read-only
    if x.numel() == 0:
        raise ValueError(f"clip is empty (shape {tuple(x.shape)}): give at least one frame, as (T, H, W), "
                         "(T, C, H, W) or (B, T, C, H, W)")
    if x.dtype == torch.uint8:
        x = x.float() / 255.0
    elif x.is_floating_point():
        x = x.float()
        lo, hi = float(x.min()), float(x.max())  # min / max propagate NaN
        if not (lo >= -1e-6 and hi <= 1 + 1e-6):  # written so that NaN fails it (NaN comparisons are False)
            raise ValueError(f"float clips must have finite pixels in [0, 1] (no NaN or inf), "
                             f"got [{lo:.3g}, {hi:.3g}]")
    else:
        raise TypeError(f"clip must be uint8 (0..255) or float in [0, 1], got {x.dtype}")
    if x.dim() == 3:  # (T, H, W)
        return x[None, :, None], True
    if x.dim() == 4:  # (T, C, H, W)
        return x[None], True
    if x.dim() == 5:  # (B, T, C, H, W)
        return x, False
    raise ValueError(f"clip must be (T, H, W), (T, C, H, W) or (B, T, C, H, W), got shape {tuple(x.shape)}")


MAX_OUTPUT_BYTES = 4 * 2**30
"""The largest rollout :func:`predict` makes in one call (4 GiB of float32 frames): more steps or clips
than that would exhaust a laptop's memory; split the call instead."""


@torch.no_grad()
def predict(model: nn.Module, clip: Any, steps: int = 10) -> torch.Tensor:
    """Predict ``steps`` future frames of ``clip`` with ``model`` (any vidkit predictor or baseline).

    ``clip`` is ``(T, H, W)``, ``(T, C, H, W)`` or ``(B, T, C, H, W)``, uint8 or finite float in [0, 1], numpy
    or torch; all its frames are the model's input. Or ``clip`` is the path of a video file: its last input
    frames are read at the model's frame size and channels (:func:`video_input`). Returns pixel probabilities on
    the CPU: ``(steps, C, H, W)`` for a single clip (or a file), ``(B, steps, C, H, W)`` for a batch.
    """
    if not isinstance(model, nn.Module) or not callable(getattr(model, "predict", None)):
        raise TypeError(f"model must be a vidkit model with .predict(x, steps), got {type(model).__name__}")
    check_int("steps", steps)
    if isinstance(clip, str | os.PathLike):
        from vidkit.data.video import to_clip

        clip = to_clip(video_input(model, clip))                     # (T_in, C, H, W): gray or RGB alike
    x, single = _as_clips(clip)
    b, _, c, h, w = x.shape
    size = b * steps * c * h * w * 4
    if size > MAX_OUTPUT_BYTES:
        raise ValueError(f"steps={steps} for {b} clip(s) of {c}x{h}x{w} would need {size / 2**30:.1f} GiB for the "
                         f"predicted frames alone (limit vidkit.api.MAX_OUTPUT_BYTES = "
                         f"{MAX_OUTPUT_BYTES / 2**30:.0f} GiB): predict fewer steps or fewer clips per call")
    device = next((p.device for p in model.parameters()), torch.device("cpu"))
    was_training = model.training
    model.eval()
    try:
        out = model.predict(x.to(device), steps=steps).float().cpu()
    finally:
        model.train(was_training)
    return out[0] if single else out


def _locate(path_or_name: str | os.PathLike) -> tuple[Path, Path]:
    """``(checkpoint file, work dir)`` of a work dir, a checkpoint in one, or a reference name."""
    from vidkit.data import data_dir
    from vidkit.runs import Run

    run, ckpt_path = Run.find(path_or_name, references=data_dir() / "checkpoints")
    return ckpt_path, run.path


def checkpoint_path(path_or_name: str | os.PathLike) -> Path:
    """The checkpoint file of a work dir, a checkpoint in one, or a reference name."""
    return _locate(path_or_name)[0]


def run_config(path_or_name: str | os.PathLike) -> tuple[dict[str, Any], Path]:
    """``(config, work dir)`` of a run or reference checkpoint: the recipe config it was trained with."""
    from vidkit.runs import Run

    _, workdir = _locate(path_or_name)
    run = Run(workdir)
    config = run.read_config().get("config", {})
    if "model" not in config:
        raise ValueError(f"{run.config_path}: no model description (was this run made by a vidkit recipe?)")
    return config, workdir


def reference_checkpoints() -> list[str]:
    """Names of the reference checkpoints under ``data/checkpoints/`` (each loadable with :func:`load`)."""
    from vidkit.data import data_dir
    from vidkit.runs import Run

    return Run.references(data_dir() / "checkpoints")


def load(path_or_name: str | os.PathLike, map_location: str = "cpu") -> nn.Module:
    """Load a trained model from a work dir written by ``vidkit train`` (or its ``checkpoints/*.pt``),
    or by name from ``data/checkpoints/<name>/`` (reference checkpoints, same layout).

    The model is rebuilt from the run's ``config.json`` and its weights are read with
    ``torch.load(weights_only=True)``; it is returned in eval mode, in float32.
    """
    from vidkit.errors import CheckpointError
    from vidkit.experiments.future_prediction import _DATA, build_model
    from vidkit.runs import Run
    from vidkit.utils.checkpoint import load_checkpoint

    ckpt_path, workdir = _locate(path_or_name)
    config, _ = run_config(path_or_name)
    model = build_model(config)
    state = load_checkpoint(ckpt_path, map_location=map_location).get("model")
    if not isinstance(state, dict):
        raise CheckpointError(f"{ckpt_path}: holds no model weights (no 'model' entry)")
    data = {**_DATA, **config.get("data", {})}
    model.vidkit_input = {"frames": int(data["in_frames"]), "size": int(data["size"])}  # what it reads (video_input)
    try:
        model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state.items()})
    except (RuntimeError, AttributeError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise CheckpointError(f"{ckpt_path}: its weights do not fit the model that {Run(workdir).config_path} "
                              f"describes (recipe {config.get('recipe')!r}, model {config.get('model')}): {first}. "
                              "Was the checkpoint copied from another run?") from e
    return model.eval()


_STEPS_AND_TIME_NOTE = ("`--steps` is the run's total (a resumed run continues its schedule to it); `--time` is the "
                 "time budget of each call, so running a `vidkit train` command again continues a run that "
                 "stopped on its time budget.")


def _reference_readme(name: str, workdir: Path, half: bool,
                      baselines: dict[str, dict[str, Any]] | None = None, source: str | None = None) -> str:
    """What a reference checkpoint's README.md says: how it was trained, how long, how good (beside the
    trivial ``baselines``, ``{name: scores}`` on the same test sequences, when given). ``source`` is the
    work dir it was published from (default: ``workdir``)."""
    from vidkit.runs import Run

    run = Run(workdir)
    record, metrics = run.read_config(), run.read_metrics()
    cfg, scores = record.get("config", {}), metrics.get("eval", {})
    lines = [f"# Reference checkpoint `{name}`", "",
             f"Recipe `{cfg.get('recipe')}` (profile `{cfg.get('profile')}`), model `{cfg.get('model')}`.",
             f"Weights stored as {'float16' if half else 'float32'}; `vidkit.load({name!r})` returns float32.", "",
             "## Trained with", ""]
    commands = record.get("commands") or [f"(not recorded: trained from Python, see {run.config_path.name})"]
    lines += ["```", *commands, f"vidkit publish {source or workdir} {name}{' --half' if half else ''}", "```", "",
              _STEPS_AND_TIME_NOTE, ""]
    if metrics:
        device = f" on `{metrics['device']}`" if metrics.get("device") else ""
        lines += [f"{metrics.get('steps')} steps, {metrics.get('elapsed_s', 0) / 60:.1f} min of training{device} "
                  "(wall-clock time of the training processes over all resumes, including any pauses).", ""]
        planned = cfg.get("steps")
        if isinstance(planned, int) and isinstance(metrics.get("steps"), int) and metrics["steps"] < planned:
            lines += [f"**In progress**: {metrics['steps']} of {planned} planned steps. Run the `vidkit train` "
                      "command above again to resume (it continues from the run's last checkpoint), then "
                      "`vidkit eval RUN --write` and publish again.", ""]
    if scores:
        rows = {f"`{name}`": scores, **{f"{b} (baseline)": v for b, v in (baselines or {}).items()}}
        zeros = (baselines or {}).get("zeros", {}).get("mean", {}).get("mse")
        keys = list(scores["mean"])
        lines += [f"## Test metrics ({scores.get('task', 'future')}, first {scores.get('sequences')} sequences of "
                  "the fixed cached test set)", "",
                  "| model | " + " | ".join(keys) + (" | mse vs zeros |" if zeros else " |"),
                  "|---|" + "---:|" * (len(keys) + bool(zeros))]
        for label, row in rows.items():
            ratio = f" | {row['mean']['mse'] / zeros:.3f}" if zeros else ""
            lines.append(f"| {label} | " + " | ".join(f"{row['mean'][k]:.4g}" for k in keys) + ratio + " |")
        lines.append("")
    return "\n".join(lines)


def publish(run: str | os.PathLike, name: str, half: bool = False) -> Path:
    """Copy a finished run's weights (no optimizer state), config and metrics to
    ``data/checkpoints/<name>/``, where :func:`load` finds it by name. ``half=True`` stores float16
    weights (half the size; :func:`load` returns float32). The README is regenerated (commands, training
    time, test metrics beside the trivial baselines); a ``## Notes`` section at the end of an existing
    README is kept. Returns the folder."""
    from vidkit.data import data_dir
    from vidkit.runs import Run
    from vidkit.utils.checkpoint import load_checkpoint, save_checkpoint
    from vidkit.utils.fileio import atomic_write

    if not isinstance(name, str) or not name or any(c in name for c in "/\\") or name.startswith("."):
        raise ValueError(f"name must be a plain folder name, got {name!r}")
    ckpt_path, workdir = _locate(run)
    ckpt = load_checkpoint(ckpt_path)
    state = {k: v.half() if half and v.is_floating_point() else v for k, v in ckpt["model"].items()}
    run = Run(workdir)
    metrics = run.read_metrics()
    scored = metrics.get("steps")
    if scored != ckpt.get("step"):  # checked before anything is written: a published folder stays whole
        raise ValueError(f"{ckpt_path} is at step {ckpt.get('step')} but {run.metrics_path} describes step {scored}: "
                         f"score this checkpoint first (`vidkit eval {workdir} --write`)")
    folder = data_dir() / "checkpoints" / name
    published = Run(folder)
    published.checkpoint.parent.mkdir(parents=True, exist_ok=True)
    save_checkpoint({"step": ckpt.get("step"), "model": state, "source": str(workdir)}, published.checkpoint)
    scores = metrics.get("eval")
    baselines = None
    if scores and scores.get("task", "future") == "future":  # the baselines on the same test sequences
        from vidkit.experiments.future_prediction import evaluate_baselines

        baselines = evaluate_baselines(run_config(workdir)[0], scores["sequences"])
    _write_readme(folder, _reference_readme(name, workdir, half, baselines))
    for extra in Run.EXTRAS:
        if (workdir / extra).is_file():
            data = (workdir / extra).read_bytes()
            (folder / extra).parent.mkdir(parents=True, exist_ok=True)
            atomic_write(folder / extra, lambda f, data=data: f.write(data))
    return folder


def _write_readme(folder: Path, readme: str) -> None:
    """Write a reference's README.md; a ``## Notes`` section of the existing README is kept."""
    from vidkit.utils.fileio import atomic_write

    old = (folder / "README.md").read_text() if (folder / "README.md").is_file() else ""
    if "\n## Notes\n" in old:  # hand-written notes survive a re-publish
        readme = readme.rstrip("\n") + "\n\n## Notes\n" + old.split("\n## Notes\n", 1)[1]
    atomic_write(folder / "README.md", lambda f: f.write(readme.encode()))


def rescore_reference(name: str, progress: bool = True) -> dict[str, Any]:
    """Score the published reference ``name`` again (same test sequences as before) with the kit's current
    metrics, and rewrite its ``metrics.json`` and README table (beside the baselines); the weights, the
    commands and the notes are unchanged. Used when a metric's definition changes. Returns the scores."""
    from vidkit.data import data_dir
    from vidkit.experiments.future_prediction import evaluate_baselines, evaluate_run
    from vidkit.runs import Run
    from vidkit.utils.checkpoint import load_checkpoint

    if name not in reference_checkpoints():
        raise FileNotFoundError(f"{name!r} is not a reference checkpoint; known: {reference_checkpoints()}")
    folder = data_dir() / "checkpoints" / name
    reference = Run(folder)
    metrics = json.loads(reference.metrics_path.read_text())
    old = metrics.get("eval") or {}
    if old.get("task", "future") != "future":
        raise ValueError(f"{name}: only future-prediction references can be re-scored, this one is {old['task']!r}")
    cfg = run_config(name)[0]
    n = old.get("sequences", "config")
    scores = evaluate_run(load(name), cfg, n, progress=progress)
    baselines = evaluate_baselines(cfg, scores["sequences"], progress=progress)
    reference.update_metrics(eval=scores)
    ckpt = load_checkpoint(reference.checkpoint)
    half = any(v.dtype == torch.float16 for v in ckpt["model"].values())
    _write_readme(folder, _reference_readme(name, folder, half, baselines, source=ckpt.get("source")))
    return scores


def show(clips: Any, labels: list[str] | None = None, fps: float = 5, scale: int = 3, title: str | None = None):
    """A :class:`vidkit.viz.widgets.ClipPlayer` of ``clips`` (a dict ``{label: clip}``, a list, or one clip)."""
    from vidkit.viz.widgets import ClipPlayer

    return ClipPlayer(clips, labels=labels, fps=fps, scale=scale, title=title)


# ---------------------------------------------------------------------------------------------- your own video

#: Built-in encoders of :func:`load_encoder` (besides runs and references whose model has ``embed``).
ENCODERS = ("pixels",)


def _video_spec(model: nn.Module) -> tuple[int, int, int]:
    """``(input frames, channels, frame side)`` a predictor reads: recorded by :func:`load` from the run's config
    (``data.in_frames``, ``data.size``), else the model's own attributes, else Moving MNIST's 10 x 1 x 64 x 64."""
    spec = getattr(model, "vidkit_input", None) or {}
    shape = getattr(model, "frame_shape", None)                      # SrivastavaLSTM: (C, H, W)
    frames = spec.get("frames") or getattr(model, "in_frames", None) or 10
    channels = (getattr(model, "channels", None) or getattr(model, "frame_channels", None)
                or (shape[0] if shape else None) or 1)
    size = spec.get("size") or (shape[1] if shape else None) or 64
    return int(frames), int(channels), int(size)


def _picks(n: int, src_fps: float, fps: float | None) -> np.ndarray:
    """File frame numbers of a video of ``n`` frames read at ``fps`` by picking frames (``None``: every frame):
    output frame ``j`` is the file frame shown at ``j / fps`` seconds, as :func:`vidkit.data.video.read_video`."""
    if fps is None:
        return np.arange(n)
    m = int(np.ceil(n * fps / src_fps)) + 1
    picks = np.floor(np.arange(m) * src_fps / fps + 1e-5).astype(np.int64)
    return picks[picks < n]


def video_input(model: nn.Module, path: str | os.PathLike, *, inputs: str = "last", fps: float | None = None,
                extra: int = 0) -> np.ndarray:
    """The frames of a video file that :func:`predict` gives ``model``: uint8 ``(T_in, H, W)`` (one channel) or
    ``(T_in, H, W, 3)``, read with :func:`vidkit.data.video.read_frames` at the model's frame size and channels
    (the reference predictors: 10 frames, 64 x 64, grayscale), centre-cropped.

    ``inputs="last"`` (default) takes the video's last ``T_in`` frames, so the prediction continues the video
    past its end; ``"first"`` takes its first ``T_in`` frames, and with ``extra = k`` also up to ``k`` frames
    after them (the truth a prediction can be compared with: ``T_in + k`` frames in all, fewer where the file
    ends). ``fps``: read at this rate by picking frames (``None``: the file's rate), e.g. ``fps=10`` on a 30 fps
    video keeps every third frame: more motion per frame. A video with fewer than ``T_in`` frames (at that rate)
    is a ``ValueError``.
    """
    from vidkit.data.video import probe_video, read_frames
    from vidkit.utils.checks import check_choice, check_real

    check_choice("inputs", inputs, ("last", "first"))
    fps = None if fps is None else check_real("fps", fps, 0.0, what=" frames per second, or None (the file's)")
    extra = check_int("extra", extra, 0)
    t_in, channels, size = _video_spec(model)
    info = probe_video(path)
    picks = _picks(info.num_frames, info.fps, fps)
    if len(picks) < t_in:
        rate = "" if fps is None else f" at {fps:g} fps"
        raise ValueError(f"{info.path}: the model reads {t_in} input frames, the video has {len(picks)}{rate}: give "
                         "a longer video" + ("" if fps is None else " or a higher fps"))
    idx = picks[:t_in + extra] if inputs == "first" else picks[-t_in:]
    return read_frames(info.path, idx, size=size, channels=channels)


def predict_video(model: nn.Module, path: str | os.PathLike, out: str | os.PathLike, *, steps: int = 10,
                  inputs: str = "last", fps: float | None = None, scale: int = 4,
                  play_fps: float = 5.0) -> dict[str, Any]:
    """Continue a video file with a future predictor and write the rollout as a video (atomically).

    Reads the model's input frames of ``path`` (:func:`video_input`: the last ``T_in`` by default, at the model's
    size and channels, ``fps`` to resample), predicts ``steps`` frames (:func:`predict`) and writes ``out``
    (``.mp4`` or ``.gif``), panels side by side, ``scale`` times enlarged, played at ``play_fps``:

    * ``inputs="last"``: ``input | prediction``: the observed frames (green bar) then, in the input panel,
      mid-gray (no data), in the prediction panel the predicted frames (red bar);
    * ``inputs="first"``: ``input | truth | prediction`` (:func:`vidkit.viz.frames.rollout_panels`): the file's
      frames after the inputs are the truth (mid-gray where the file ends).

    Returns a summary: ``path``, ``out``, ``frames`` (the file frame numbers read), ``size``, ``channels``,
    ``steps``, ``panels``, ``out_frames``.
    """
    from vidkit.data.video import to_clip
    from vidkit.utils.checks import check_real
    from vidkit.viz import frames as viz

    check_int("steps", steps)
    scale = check_int("scale", scale, 1, 32)
    play_fps = check_real("play_fps", play_fps, 0.0)
    target = Path(out) if isinstance(out, str | os.PathLike) else None
    if target is None or target.suffix.lower() not in (".mp4", ".gif"):
        raise ValueError(f"out must be a path ending in .mp4 or .gif, got {out!r}")
    t_in, channels, size = _video_spec(model)
    frames = video_input(model, path, inputs=inputs, fps=fps, extra=steps if inputs == "first" else 0)
    x, truth = frames[:t_in], frames[t_in:]
    future = predict(model, to_clip(x), steps=steps)                             # (steps, C, H, W) float
    if len(truth):
        panels = viz.rollout_panels(x, truth, {"prediction": future}, error=False, input_panel=True)
    else:
        observed = viz._with_bar(viz.to_rgb_uint8(x), viz.OBSERVED_RGB)
        gray = np.full((steps, *observed.shape[1:]), 128, np.uint8)
        panels = {"input": np.concatenate([observed, gray]),
                  "prediction": np.concatenate([observed, viz._with_bar(viz.to_rgb_uint8(future), viz.PREDICTED_RGB)])}
    grid = viz.side_by_side({k: viz.upscale(v, scale) for k, v in panels.items()})
    save = viz.save_gif if target.suffix.lower() == ".gif" else viz.save_mp4
    written = save(grid, target, fps=play_fps)
    return {"path": str(path), "out": str(written), "inputs": inputs, "size": size, "channels": channels,
            "steps": steps, "panels": list(panels), "out_frames": len(grid), "input_frames": t_in,
            "truth_frames": len(truth)}


def load_encoder(name: str | os.PathLike = "pixels", profile_name: str | None = None) -> tuple[nn.Module, Any]:
    """An encoder for your own video, and how it reads video: ``(encoder, budget)``, ``budget`` a
    :class:`vidkit.profiles.RealVideoBudget` (frame size, channels, clip length, stride, clips per video).

    ``name`` is

    * ``"pixels"``: :class:`vidkit.models.PixelEncoder`, pooled pixels and frame differences (no training, no
      checkpoint: the baseline), reading with the profile's ``real_video`` budget as it is (RGB);
    * a reference name (:func:`reference_checkpoints`), a work dir or a checkpoint whose model has ``embed``, e.g.
      ``"lstm_composite_ref"`` (Srivastava's composite LSTM: the encoder's final state). It reads at its own frame
      size and channels (the references: 64 x 64 grayscale) in clips of its input length (10 frames); the
      stride and clips per video are the profile's. The future predictors ``simvp_ref`` and ``convlstm_ref``
      have no ``embed``: they are refused with a message.

    ``profile_name``: the profile whose budget is used (``None``: the active one).
    """
    import dataclasses

    from vidkit.models.encoders import PixelEncoder
    from vidkit.profiles import profile

    budget = profile(profile_name).real_video
    if isinstance(name, str) and name == "pixels":
        return PixelEncoder(), budget
    if not isinstance(name, str | os.PathLike):
        raise TypeError(f"encoder must be a name ({', '.join(ENCODERS)}, a reference) or a run path, "
                        f"got {type(name).__name__}")
    model = load(name)
    if not callable(getattr(model, "embed", None)):
        with_embed = "lstm_composite_ref" if "lstm_composite_ref" in reference_checkpoints() else "an mmnist_lstm run"
        raise ValueError(f"{name}: its model ({type(model).__name__}) predicts frames but has no embed(), so it "
                         f"cannot embed videos; use 'pixels' or a model with an encoder, e.g. {with_embed}")
    frames, channels, size = _video_spec(model)
    return model, dataclasses.replace(budget, size=size, channels=channels, frames=frames)
