"""Run profiles: one place that decides how big every notebook and recipe is.

Three profiles exist:

* ``smoke``  - every notebook runs in about 90 s on 2 CPU cores. Used by CI (``CI=true``).
* ``laptop`` - the default without CUDA: meaningful results in <= 10 min per notebook on 2 CPU cores.
* ``full``   - the default with CUDA: paper-scale sizes and step budgets.

``VIDKIT_PROFILE=smoke|laptop|full`` overrides the default; ``CI=true`` implies ``smoke``
unless ``VIDKIT_PROFILE`` says otherwise.

:func:`runs_dir` is the one folder every notebook writes its runs and files to.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path

import torch

__all__ = ["Profile", "PredictionBudget", "ContrastiveBudget", "AttentionBudget", "TextVideoBudget", "MultimodalBudget", "HeroBudget", "RealVideoBudget", "PROFILES", "profile", "profile_name", "runs_dir"]

#: The checkout's root: the folder holding ``vidkit/`` (and ``data/``, ``notebooks/``, ``pyproject.toml``).
_REPO_ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class PredictionBudget:
    """Notebook 01, the recipes and ``vidkit train``: how long each future predictor trains, on what batch, and
    how many test sequences score it (``None``: all of the cached test set)."""

    steps: int
    time_s: float  # a cap per model (seconds); the step count is what a comparison holds equal
    batch: int
    eval_sequences: int | None


@dataclass(frozen=True)
class ContrastiveBudget:
    """Notebook 02: pretraining steps (and a time cap) per method, batch size, fine-tuning steps, how many
    training clips get Farneback flow (``None``: all) and how many training clips the frozen-feature evaluation
    uses as probe training set and retrieval gallery (``None``: all); ``percept_steps``: training steps of the
    image network whose per-frame features are the LSTM's percepts (it trains on single frames, so its steps
    are cheap)."""

    steps: int
    time_s: float
    batch: int
    finetune_steps: int
    farneback_clips: int | None
    eval_train_clips: int | None
    percept_steps: int


@dataclass(frozen=True)
class AttentionBudget:
    """Notebook 03: clips (train / test), distractor digits and their motion, batch, steps, and the training
    time per model (the soft-attention models, the notebook's subject, get ``attention_time_s``)."""

    train: int
    test: int
    distractors: int
    motion: str  # "static" | "moving"
    batch: int
    steps: int
    time_s: float
    attention_time_s: float


@dataclass(frozen=True)
class TextVideoBudget:
    """Notebook 04 (clip counts, frames and sizes are the profile's ``actions_*``).

    ``distractors`` per clip; the video encoder sees every ``stride``-th frame plus its difference; ``heldout``
    digit x action pairs are held out of training; ``batch``, ``bag`` (captions per clip for MIL-NCE),
    ``instance_fraction`` (share of instance captions); each text-video training plans its schedule for the
    steps that fit in ``time_s`` and stops at ``steps`` or ``time_s``, whichever comes first; peak ``lr``;
    ``standin_steps`` / ``standin_time_s``: the stand-in pretraining when notebook 02's encoders are missing."""

    distractors: int
    stride: int
    heldout: int
    batch: int
    bag: int
    instance_fraction: float
    steps: int
    time_s: float | None
    lr: float
    standin_steps: int
    standin_time_s: float


@dataclass(frozen=True)
class MultimodalBudget:
    """Notebook 05 (MMV; frame side is the profile's ``actions_size``).

    ``train`` / ``test`` action clips of ``frames`` frames with ``distractors`` (silent) digits each, the video
    encoder reading every ``stride``-th frame plus its difference; narration bags of ``n_aligned`` aligned,
    ``n_neighbour`` neighbour and ``n_filler`` filler sentences per clip; encoders of ``width`` channels and
    ``dim`` outputs, MMV spaces of ``fine_dim`` (and FAC's coarse ``coarse_dim``); ``batch``, ``steps`` at peak
    ``lr``, loss weights ``lambda_va`` / ``lambda_vt``; ``time_s``: the notebook's safety cap per model (claims
    train ``steps`` with no cap); ``probe_train``: training clips the linear probes fit on; ``queries_per_pair``:
    sentences per digit x action pair in zero-shot text -> video retrieval; ``sync_shift``: frames by which the
    synchrony test shifts the sound track."""

    train: int
    test: int
    frames: int
    stride: int
    distractors: int
    n_aligned: int
    n_neighbour: int
    n_filler: int
    width: int
    dim: int
    fine_dim: int
    coarse_dim: int
    batch: int
    steps: int
    time_s: float | None
    lr: float
    lambda_va: float
    lambda_vt: float
    probe_train: int
    queries_per_pair: int
    sync_shift: int
    amp: bool = False  # bf16 autocast in the forward pass (the full profile, on CUDA)


# ---- real video (your own files, UCF-101 / HMDB-51 protocols): kept as its own block, the last Profile field


@dataclass(frozen=True)
class RealVideoBudget:
    """Your own video and the UCF-101 / HMDB-51 protocols (:mod:`vidkit.data.folders`,
    :mod:`vidkit.eval.real_video`, ``vidkit embed`` / ``search`` / ``protocol``): how each video is read and cut
    into clips.

    Frames are centre-cropped and resized to ``size`` x ``size`` with ``channels`` (3: RGB; an encoder that reads
    grayscale, such as a reference predictor, reads 1 at its own size); a clip is ``frames`` frames, every
    ``stride``-th frame of the file (``frames = 32, stride = 2``: 63 frames, 2.5 s of a 25 fps video). A test video
    gives ``test_clips`` evenly spaced clips whose embeddings are averaged (one vector per video); a training
    sample is one random clip. ``videos_per_class``: ``None`` reads every video of the split lists (the
    published protocol), a number keeps at most that many per class in each of the train and test lists, evenly
    spread over the sorted list (a quick look: its numbers are not comparable with papers). ``batch``: clips per
    encoder call, and random training clips per fine-tuning step.

    Fine-tuning (:func:`vidkit.eval.real_video.finetune_split`, ``vidkit protocol --finetune``): the encoder and
    a new linear classifier train end to end for ``finetune_steps`` steps of ``batch`` random training clips
    at peak learning rate ``finetune_lr`` (AdamW, cosine decay, :func:`vidkit.train.train`).

    ``full`` is the recipe a GPU user runs on the real data sets: 32-frame clips at 128 x 128, the input size of
    CoCLR's S3D, every 2nd frame, 10 clips per test video, every video. ``laptop`` reads 16 frames at 64 px and
    10 videos per class; ``smoke`` 8 frames at 32 px and 4 videos per class. Fine-tuning: ``full`` 20,000 steps
    of 64 clips (about 130 epochs of UCF-101's 9.5k training videos) at 1e-4, ``laptop`` 100 steps at 1e-3,
    ``smoke`` 6 steps at 3e-3."""

    size: int
    channels: int
    frames: int
    stride: int
    test_clips: int
    videos_per_class: int | None
    batch: int
    finetune_steps: int
    finetune_lr: float


@dataclass(frozen=True)
class HeroBudget:
    """Notebook 06 (HERO; frame side is the profile's ``actions_size``).

    ``train`` / ``test`` episodes of ``segments`` segments of ``segment_frames`` frames, ``distractors`` digits
    each; ``held_out`` test episodes per held-out composition kind (novel digit x action pairs, novel orders);
    HERO of width ``dim``, ``heads`` heads, ``cross_depth`` / ``temporal_depth`` blocks, a frame CNN of ``width``
    channels; pretraining: ``batch``, ``steps`` at peak ``lr`` (``time_s``: the notebook's safety cap per model;
    claims train ``steps`` with no cap); TVR fine-tuning: ``finetune_steps`` of VSM at peak ``finetune_lr``
    (every model, pretrained or not); ``probe_train``: training episodes the linear probes fit on;
    ``top_episodes``: episodes whose spans text -> moment retrieval ranks per query."""

    train: int
    test: int
    held_out: int
    segments: int
    segment_frames: int
    distractors: int
    dim: int
    heads: int
    cross_depth: int
    temporal_depth: int
    width: int
    batch: int
    steps: int
    time_s: float | None
    lr: float
    finetune_steps: int
    finetune_lr: float
    probe_train: int
    top_episodes: int
    amp: bool = False  # bf16 autocast in the forward pass (the full profile, on CUDA)


@dataclass(frozen=True)
class Profile:
    """Sizes and budgets shared by notebooks, recipes and benchmarks: the data every notebook generates, and one
    typed budget per notebook (:attr:`prediction` for 01, :attr:`contrastive` for 02, :attr:`attention` for 03,
    :attr:`text_video` for 04, :attr:`multimodal` for 05, :attr:`hero` for 06; :attr:`real_video` for your own
    video files and the UCF-101 / HMDB-51 protocols)."""

    name: str
    test_size: int  # Moving MNIST sequences in the fixed cached test set
    # actions suite
    actions_train: int  # clips in the fixed actions training set
    actions_test: int  # clips in the fixed actions test set
    actions_frames: int
    actions_size: int  # frame side in pixels
    # evaluation / data loading
    eval_batch: int
    num_workers: int
    # one budget per notebook
    prediction: PredictionBudget
    contrastive: ContrastiveBudget
    attention: AttentionBudget
    text_video: TextVideoBudget
    multimodal: MultimodalBudget
    hero: HeroBudget
    # ---- real video (keep last: a separate block)
    real_video: RealVideoBudget

    def describe(self) -> str:
        """A few human-readable lines, printed in each notebook's first cell."""
        def fields(obj: object) -> str:
            return ", ".join(f"{f.name}={getattr(obj, f.name)}" for f in dataclasses.fields(obj)  # type: ignore[arg-type]
                             if f.name != "name" and not dataclasses.is_dataclass(getattr(obj, f.name)))
        budgets = [f"  {f.name}: {fields(getattr(self, f.name))}" for f in dataclasses.fields(self)
                   if dataclasses.is_dataclass(getattr(self, f.name))]
        return "\n".join([f"vidkit profile '{self.name}': {fields(self)}", *budgets])

    def __str__(self) -> str:  # pragma: no cover - trivial
        return self.describe()


PROFILES: dict[str, Profile] = {
    "smoke": Profile(
        name="smoke", test_size=256, actions_train=512, actions_test=256, actions_frames=16, actions_size=32,
        eval_batch=128, num_workers=0,
        prediction=PredictionBudget(steps=30, time_s=20.0, batch=16, eval_sequences=64),
        contrastive=ContrastiveBudget(steps=8, time_s=10, batch=32, finetune_steps=8, farneback_clips=128,
                                      eval_train_clips=512, percept_steps=16),
        attention=AttentionBudget(train=256, test=128, distractors=2, motion="static", batch=32, steps=6,
                                  time_s=10, attention_time_s=10),
        text_video=TextVideoBudget(distractors=0, stride=8, heldout=8, batch=32, bag=4, instance_fraction=0.2,
                                   steps=30, time_s=8, lr=3e-3, standin_steps=5, standin_time_s=4),
        multimodal=MultimodalBudget(train=96, test=64, frames=8, stride=1, distractors=0, n_aligned=2, n_neighbour=2,
                                   n_filler=2, width=4, dim=32, fine_dim=32, coarse_dim=16, batch=16, steps=4,
                                   time_s=8, lr=3e-3, lambda_va=1.0, lambda_vt=1.0, probe_train=96, queries_per_pair=1,
                                   sync_shift=2),
        hero=HeroBudget(train=64, test=32, held_out=16, segments=3, segment_frames=8, distractors=1, dim=32, heads=4,
                        cross_depth=1, temporal_depth=1, width=8, batch=16, steps=4, time_s=8, lr=1e-3,
                        finetune_steps=4, finetune_lr=1e-3, probe_train=64, top_episodes=4),
        real_video=RealVideoBudget(size=32, channels=3, frames=8, stride=2, test_clips=2, videos_per_class=4, batch=16,
                                   finetune_steps=6, finetune_lr=3e-3),
    ),
    "laptop": Profile(
        name="laptop", test_size=10_000, actions_train=8_000, actions_test=1_000, actions_frames=16, actions_size=32,
        eval_batch=256, num_workers=0,
        prediction=PredictionBudget(steps=600, time_s=120.0, batch=32, eval_sequences=1_000),
        contrastive=ContrastiveBudget(steps=150, time_s=35, batch=64, finetune_steps=100, farneback_clips=2000,
                                      eval_train_clips=2000, percept_steps=1200),
        attention=AttentionBudget(train=6000, test=1000, distractors=2, motion="static", batch=32, steps=300,
                                  time_s=35, attention_time_s=90),
        text_video=TextVideoBudget(distractors=0, stride=8, heldout=8, batch=64, bag=4, instance_fraction=0.2,
                                   steps=2500, time_s=120, lr=3e-3, standin_steps=150, standin_time_s=30),
        multimodal=MultimodalBudget(train=2000, test=500, frames=8, stride=1, distractors=0, n_aligned=2, n_neighbour=2,
                                   n_filler=2, width=8, dim=64, fine_dim=64, coarse_dim=32, batch=32, steps=800,
                                   time_s=60, lr=3e-3, lambda_va=1.0, lambda_vt=1.0, probe_train=1000,
                                   queries_per_pair=3, sync_shift=2),
        hero=HeroBudget(train=1000, test=300, held_out=150, segments=3, segment_frames=8, distractors=1, dim=64,
                        heads=4, cross_depth=2, temporal_depth=2, width=8, batch=32, steps=300, time_s=60, lr=3e-3,
                        finetune_steps=300, finetune_lr=3e-3, probe_train=1000, top_episodes=10),
        real_video=RealVideoBudget(size=64, channels=3, frames=16, stride=2, test_clips=5, videos_per_class=10, batch=32,
                                   finetune_steps=100, finetune_lr=1e-3),
    ),
    "full": Profile(
        name="full", test_size=10_000, actions_train=50_000, actions_test=10_000, actions_frames=16, actions_size=64,
        eval_batch=512, num_workers=4,
        prediction=PredictionBudget(steps=100_000, time_s=6 * 3600.0, batch=64, eval_sequences=None),
        contrastive=ContrastiveBudget(steps=20000, time_s=3600, batch=256, finetune_steps=3000, farneback_clips=None,
                                      eval_train_clips=None, percept_steps=20000),
        attention=AttentionBudget(train=50000, test=5000, distractors=2, motion="moving", batch=64, steps=20000,
                                  time_s=1800, attention_time_s=3600),
        text_video=TextVideoBudget(distractors=0, stride=2, heldout=8, batch=128, bag=4, instance_fraction=0.2,
                                   steps=30000, time_s=1800, lr=2e-3, standin_steps=3000, standin_time_s=1200),
        multimodal=MultimodalBudget(train=50000, test=5000, frames=16, stride=1, distractors=0, n_aligned=2, n_neighbour=2,
                                 n_filler=2, width=32, dim=512, fine_dim=512, coarse_dim=256, batch=256, steps=30000,
                                 time_s=3600, lr=2e-3, lambda_va=1.0, lambda_vt=1.0, probe_train=10000,
                                 queries_per_pair=5, sync_shift=4, amp=True),
        hero=HeroBudget(train=20000, test=2000, held_out=1000, segments=3, segment_frames=8, distractors=1, dim=256,
                        heads=4, cross_depth=4, temporal_depth=4, width=32, batch=128, steps=20000, time_s=3600,
                        lr=5e-4, finetune_steps=3000, finetune_lr=3e-4, probe_train=10000, top_episodes=50, amp=True),
        real_video=RealVideoBudget(size=128, channels=3, frames=32, stride=2, test_clips=10, videos_per_class=None,
                                   batch=64, finetune_steps=20_000, finetune_lr=1e-4),
    ),
}


def profile_name() -> str:
    """Name of the active profile: ``VIDKIT_PROFILE``, else ``smoke`` under ``CI=true``,
    else ``full`` with CUDA, else ``laptop``."""
    env = os.environ.get("VIDKIT_PROFILE", "").strip().lower()
    if env:
        if env not in PROFILES:
            raise ValueError(f"VIDKIT_PROFILE={env!r} is not one of {sorted(PROFILES)}")
        return env
    if os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}:
        return "smoke"
    return "full" if torch.cuda.is_available() else "laptop"


def profile(name: str | None = None) -> Profile:
    """Return the active :class:`Profile` (or the one called ``name``)."""
    if name is None:
        name = profile_name()
    if name not in PROFILES:
        raise ValueError(f"unknown profile {name!r}; expected one of {sorted(PROFILES)}")
    return PROFILES[name]


def runs_dir() -> Path:
    """The folder for training runs and files the notebooks write: ``$VIDKIT_RUNS`` if set, else ``runs/`` at
    the repository root (beside ``data/``, found the way :func:`vidkit.data.data_dir` finds it), whatever the
    current directory is.

    If vidkit is installed outside its checkout (no ``pyproject.toml`` beside the package), the default is
    ``runs/`` in the current directory. A relative ``$VIDKIT_RUNS`` is taken from the current directory. The
    returned path is absolute; the folder is not created (:func:`vidkit.experiments.future_prediction.run_recipe` creates it).
    """
    env = os.environ.get("VIDKIT_RUNS", "").strip()
    if env:
        return Path(env).expanduser().absolute()
    if (_REPO_ROOT / "pyproject.toml").is_file():
        return _REPO_ROOT / "runs"
    return Path.cwd().absolute() / "runs"
