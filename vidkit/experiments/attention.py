"""Action recognition with attention on the actions suite (notebook 03): data, training, scoring.

The task: clips of the actions suite with distractor digits; recognise what the *actor* does (and, on
a second head, which digit it is). Every model of :mod:`vidkit.models.attention` trains with the same
loss (:func:`vidkit.models.attention_loss`) in the kit's one training loop, reads the same input, and is
scored the same way:

* **input**: the frames plus their temporal differences, ``(N, T, 2, H, W)``
  (:func:`vidkit.data.flow.with_frame_differences`): a free motion channel in which still things vanish;
* **accuracy** on the action and the digit, and **within-pair accuracy**: each action has a mirror
  image in time (left/right, up/down, clockwise/counter-clockwise, in/out); restricted to the true
  pair's two classes, how often does the model pick the right one? Chance is 0.5, and a model that
  ignores the order of the frames cannot beat it;
* **pointing game** and **attention mass** (:mod:`vidkit.eval.prediction`) against the actor's boxes, with
  their chance level, the box-area fraction.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import torch
from torch import nn

from vidkit.data.actions import ACTIONS, MIRROR_PAIRS, ActionClips, generate_actions, mirror_of
from vidkit.data.batches import clip_batches
from vidkit.data.flow import with_frame_differences
from vidkit.eval.attention import attention_mass, box_area_fraction, pointing_game
from vidkit.eval.claims import Arm, Claim
from vidkit.eval.representation import pair_accuracy as _pair_accuracy
from vidkit.models.attention import (
    AttentionOutput,
    LRCNClassifier,
    MultiLSTM,
    PoolingClassifier,
    SoftAttentionLSTM,
    TemporalAttentionLSTM,
    attention_loss,
)
from vidkit.profiles import AttentionBudget, Profile
from vidkit.profiles import profile as get_profile
from vidkit.train import TrainConfig, TrainResult, train

__all__ = ["HEADS", "MODELS", "MIRROR_PAIRS", "time_budget", "Predictions", "make_data", "train_classifier",
           "predict", "evaluate", "pair_accuracy", "inputs_for", "CLAIM_RUNS", "CLAIMS", "claim_run"]

HEADS = {"action": len(ACTIONS), "digit": 10}
#: Peak learning rate of :func:`train_classifier` (every model of notebook 03).
LR = 3e-3

#: Every model of notebook 03: ``name -> (build, reg)``, ``reg`` being Sharma's attention-penalty weight
#: (the paper uses 1; 0: no penalty). All have both heads; most read frames + differences (2 channels), the
#: last two frames only (see :func:`inputs_for`). Models with spatial attention get the larger time budget
#: (:func:`time_budget`).
MODELS: dict[str, tuple[Callable[[], nn.Module], float]] = {
    "soft attention (Sharma)": (lambda: SoftAttentionLSTM(HEADS, in_channels=2), 0.0),
    "soft attention + regulariser": (lambda: SoftAttentionLSTM(HEADS, in_channels=2), 1.0),
    "temporal attention": (lambda: TemporalAttentionLSTM(HEADS, in_channels=2), 0.0),
    "MultiLSTM (window 4)": (lambda: MultiLSTM(HEADS, in_channels=2, window=4), 0.0),
    "LRCN (no attention)": (lambda: LRCNClassifier(HEADS, in_channels=2), 0.0),
    "conv pooling": (lambda: PoolingClassifier(HEADS, pool="conv", in_channels=2), 0.0),
    "late pooling": (lambda: PoolingClassifier(HEADS, pool="late", in_channels=2), 0.0),
    "slow pooling": (lambda: PoolingClassifier(HEADS, pool="slow", in_channels=2), 0.0),
    # the same two without the difference channel: order is then the only way to tell a pair apart
    "LRCN, frames only": (lambda: LRCNClassifier(HEADS, in_channels=1), 0.0),
    "conv pooling, frames only": (lambda: PoolingClassifier(HEADS, pool="conv", in_channels=1), 0.0),
}


def time_budget(model: nn.Module, budget: AttentionBudget) -> float:
    """The profile's training time for ``model`` (``vidkit.profile().attention``): ``attention_time_s`` for
    spatial attention (the subject of notebook 03), ``time_s`` for every other model."""
    return budget.attention_time_s if isinstance(model, SoftAttentionLSTM) else budget.time_s


def make_data(n: int, split: str, seed: int, size: int = 32, num_frames: int = 16, distractors: int = 2,
              motion: str = "static") -> tuple[ActionClips, torch.Tensor]:
    """Actions clips with distractors and the model input: ``(clips, x (n, T, 2, size, size))``."""
    clips = generate_actions(n, split=split, seed=seed, num_frames=num_frames, size=size,
                             num_distractors=distractors, distractor_motion=motion)
    return clips, with_frame_differences(clips.tensors())


def inputs_for(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The channels of ``x (N, T, 2, H, W)`` that ``model`` reads: all of them, or only the frames (channel 0)
    for a model built with ``in_channels=1``."""
    channels = getattr(model, "in_channels", None)
    if not isinstance(channels, int) or not 1 <= channels <= x.shape[2]:
        raise ValueError(f"model reads {channels!r} channels; x has {x.shape[2]} (N, T, C, H, W)")
    return x[:, :, :channels]


def _loss(reg: float) -> Callable[[nn.Module, Mapping[str, torch.Tensor], int], tuple[torch.Tensor, dict]]:
    def loss_fn(model: nn.Module, batch: Mapping[str, torch.Tensor], _step: int) -> tuple[torch.Tensor, dict]:
        return attention_loss(model(batch["rgb"]), batch, reg=reg)
    return loss_fn


def train_classifier(model: nn.Module, x: torch.Tensor, clips: ActionClips, steps: int, time_s: float | None,
                     batch: int = 32, lr: float = LR, reg: float = 0.0, seed: int = 0,
                     progress: bool = True) -> TrainResult:
    """Train ``model`` on ``x (N, T, C, H, W)`` with the action and digit labels of ``clips``: the sum of
    the heads' cross-entropies, plus ``reg`` times Sharma's attention penalty (models with spatial
    attention). Stops after ``steps`` or ``time_s`` seconds, whichever comes first (``None``: no time cap).
    ``seed`` seeds the batch order and the training loop's RNGs; the initial weights are the caller's (seed
    torch before building ``model``). A model built with ``in_channels=1`` reads the frames only
    (:func:`inputs_for`)."""
    if not isinstance(x, torch.Tensor) or x.dim() != 5:
        raise ValueError(f"x must be a tensor (N, T, C, H, W), got {getattr(x, 'shape', type(x).__name__)}")
    if not isinstance(clips, ActionClips) or len(clips) != len(x):
        raise ValueError(f"clips must be the ActionClips that x was made from ({len(x)} clips)")
    torch.manual_seed(seed)
    labels = {"action": clips.action, "digit": clips.digit}
    batches = clip_batches(inputs_for(model, x), labels, min(batch, len(x)), seed=seed)
    cfg = TrainConfig(steps=steps, time_budget_s=time_s, lr=lr, weight_decay=1e-4, warmup_steps=20,
                      min_lr_ratio=0.1, log_every=25, seed=seed)
    return train(model, _loss(reg), batches, cfg, progress=progress)


@dataclass
class Predictions:
    """A model's outputs on a set of clips, as numpy arrays (``N`` clips, ``T`` frames).

    ``probs[head]`` ``(N, C)``; ``frame_probs[head]`` ``(N, T, C)`` or None; ``spatial`` ``(N, T, K, K)`` or
    None; ``temporal`` ``(N, T)`` / ``(N, T, W)`` or None; ``features`` ``(N, D)``.
    """

    probs: dict[str, np.ndarray]
    features: np.ndarray
    frame_probs: dict[str, np.ndarray] | None = None
    spatial: np.ndarray | None = None
    temporal: np.ndarray | None = None


@torch.no_grad()
def predict(model: nn.Module, x: torch.Tensor, batch_size: int = 250) -> Predictions:
    """Run ``model`` (in eval mode) on ``x (N, T, C, H, W)`` (the channels it reads, :func:`inputs_for`) in
    batches; softmax every head."""
    if not isinstance(x, torch.Tensor) or x.dim() != 5 or not x.is_floating_point():
        raise ValueError(f"x must be a float tensor (N, T, C, H, W), got {getattr(x, 'shape', type(x).__name__)}")
    x = inputs_for(model, x)
    was_training = model.training
    model.eval()
    try:
        outs: list[AttentionOutput] = [model(x[i:i + batch_size]) for i in range(0, len(x), batch_size)]
    finally:
        model.train(was_training)

    def cat(get: Callable[[AttentionOutput], torch.Tensor | None]) -> np.ndarray | None:
        parts = [get(o) for o in outs]
        return None if parts[0] is None else torch.cat(parts).float().numpy()

    heads = list(outs[0].logits)
    probs = {h: cat(lambda o, h=h: o.logits[h].softmax(-1)) for h in heads}
    frame = None
    if outs[0].frame_logits is not None:
        frame = {h: cat(lambda o, h=h: o.frame_logits[h].softmax(-1)) for h in heads}
    return Predictions(probs=probs, features=cat(lambda o: o.features), frame_probs=frame,
                       spatial=cat(lambda o: o.spatial), temporal=cat(lambda o: o.temporal))


def pair_accuracy(probs: np.ndarray, actions: np.ndarray) -> float:
    """Within-pair accuracy: for each clip, compare only the probabilities of its true action and of that
    action's time reversal (:data:`MIRROR_PAIRS`); the fraction where the true one wins. Chance 0.5.
    (:func:`vidkit.eval.representation.pair_accuracy` with :func:`vidkit.data.actions.mirror_of` partners.)"""
    probs, actions = np.asarray(probs), np.asarray(actions)
    if probs.ndim != 2 or probs.shape[1] != len(ACTIONS) or actions.shape != (len(probs),):
        raise ValueError(f"need probs (N, {len(ACTIONS)}) and actions (N,), got {probs.shape} and {actions.shape}")
    return _pair_accuracy(probs, actions, mirror_of(actions))


def evaluate(pred: Predictions, clips: ActionClips) -> dict[str, float]:
    """Accuracy (action, digit), within-pair accuracy, and for spatial attention the pointing game and
    attention mass with their chance level (the mean box-area fraction)."""
    if len(clips) != len(pred.features):
        raise ValueError(f"{len(pred.features)} predictions for {len(clips)} clips")
    out = {"action acc": float(np.mean(pred.probs["action"].argmax(1) == clips.action)),
           "digit acc": float(np.mean(pred.probs["digit"].argmax(1) == clips.digit)),
           "within-pair acc": pair_accuracy(pred.probs["action"], clips.action)}
    size = clips.size
    if pred.spatial is not None:
        out["pointing game"] = pointing_game(pred.spatial, clips.boxes, size)
        out["attention mass"] = attention_mass(pred.spatial, clips.boxes, size)
    out["chance (box area)"] = box_area_fraction(clips.boxes, size)
    return out


# ------------------------------------------------------------------------------------ recorded claims (notebook 03)

#: The models notebook 03's claims compare (names of :data:`MODELS`). For a claim every run trains the profile's
#: ``attention.steps`` steps on batch ``attention.batch``, with no time cap, so that the arms are equal in steps on
#: any machine (:func:`claim_run`).
CLAIM_RUNS: tuple[str, ...] = ("soft attention (Sharma)", "soft attention + regulariser", "LRCN (no attention)",
                               "conv pooling", "late pooling", "slow pooling", "LRCN, frames only",
                               "conv pooling, frames only")

_NG = "Ng et al. 2015 (Beyond Short Snippets)"
_SHARMA = "Sharma et al. 2015"
#: Notebook 03's claims, checked over seeds by ``vidkit reproduce attention``. Metrics (:func:`evaluate` on the
#: profile's test clips): ``action acc``, ``within-pair acc`` (chance 0.5), ``pointing game`` and ``attention mass``
#: (spatial attention only) and their chance level ``chance (box area)`` on the same clips; ``action chance`` is
#: 1 / 8 (:func:`claim_run`).
CLAIMS: tuple[Claim, ...] = (
    Claim("attention.conv_pooling_beats_late_pooling", "Does conv pooling (max over time of the conv features) "
          "recognise actions better than late pooling (max after the fully connected layers)?",
          f"{_NG}, Sec. 4 (conv pooling is the best pooling)",
          Arm("conv pooling", "action acc"), Arm("late pooling", "action acc"), "greater"),
    Claim("attention.conv_pooling_beats_slow_pooling", "Does conv pooling recognise actions better than slow "
          "(hierarchical) pooling?", f"{_NG}, Sec. 4 (conv pooling is the best pooling)",
          Arm("conv pooling", "action acc"), Arm("slow pooling", "action acc"), "greater"),
    Claim("attention.lstm_beats_pooling_on_pairs_frames_only", "On the frames alone, does the LSTM (LRCN) tell an "
          "action from its time reversal better than conv pooling (within-pair accuracy)?",
          f"{_NG}, Sec. 4 (LSTM vs pooling); Donahue et al. 2015 (LRCN)",
          Arm("LRCN, frames only", "within-pair acc"), Arm("conv pooling, frames only", "within-pair acc"),
          "greater"),
    Claim("attention.lstm_beats_pooling_on_pairs", "With the frame-difference channel, does the LSTM (LRCN) still "
          "beat conv pooling on within-pair accuracy?", f"{_NG}, Sec. 4 (LSTM vs pooling); Donahue et al. 2015",
          Arm("LRCN (no attention)", "within-pair acc"), Arm("conv pooling", "within-pair acc"), "greater"),
    Claim("attention.soft_attention_points_at_actor", "Does the soft-attention model's most attended cell lie on "
          "the actor more often than chance (the box's share of the frame)?", f"{_SHARMA}, Sec. 4 (attention maps)",
          Arm("soft attention (Sharma)", "pointing game"), Arm("soft attention (Sharma)", "chance (box area)"),
          "greater"),
    Claim("attention.soft_attention_mass_on_actor", "Does the soft-attention model put more of its attention mass "
          "on the actor than chance?", f"{_SHARMA}, Sec. 4 (attention maps)",
          Arm("soft attention (Sharma)", "attention mass"), Arm("soft attention (Sharma)", "chance (box area)"),
          "greater"),
    Claim("attention.soft_attention_above_chance", "Does the soft-attention model recognise the action far above "
          "chance (1 / 8)?", "the kit's sanity check",
          Arm("soft attention (Sharma)", "action acc"), Arm("soft attention (Sharma)", "action chance"), "greater"),
    Claim("attention.regulariser_lowers_pointing", "Does Sharma's attention penalty (lambda = 1: every cell "
          "attended at some time) spread the attention off the actor, lowering the pointing game?",
          f"{_SHARMA}, Sec. 3 (attention penalty); the kit's check",
          Arm("soft attention + regulariser", "pointing game"), Arm("soft attention (Sharma)", "pointing game"),
          "less"),
)


@lru_cache(maxsize=2)
def _claim_data(train: int, test: int, distractors: int, motion: str, size: int,
                frames: int) -> tuple[ActionClips, torch.Tensor, ActionClips, torch.Tensor]:
    """The notebook's train (seed 0) and test (seed 1) clips, cached per process (the same for every run)."""
    kw = dict(distractors=distractors, motion=motion, size=size, num_frames=frames)
    return (*make_data(train, "train", seed=0, **kw), *make_data(test, "test", seed=1, **kw))


def claim_run(name: str, profile: str | Profile, seed: int, root: Any = None,
              progress: bool = False) -> dict[str, Any]:
    """Train and score claim run ``name`` (a model of :data:`CLAIM_RUNS`) with ``seed`` (initial weights, batch
    order, the training loop's RNGs) for the profile's ``attention.steps`` steps, no time cap, on the notebook's
    data (the profile's clips, the same for every seed). ``root`` is unused (nothing is written). Returns the
    record entry ``{"run", "seed", "config", "steps", "metrics"}``: :func:`evaluate` on the test clips
    plus ``action chance`` (1 / 8)."""
    if name not in CLAIM_RUNS:
        raise ValueError(f"unknown claim run {name!r}; available: {list(CLAIM_RUNS)}")
    prof = profile if isinstance(profile, Profile) else get_profile(profile)
    b = prof.attention
    train_clips, x_train, test_clips, x_test = _claim_data(b.train, b.test, b.distractors, b.motion,
                                                           prof.actions_size, prof.actions_frames)
    build, reg = MODELS[name]
    torch.manual_seed(int(seed))
    model = build()
    result = train_classifier(model, x_train, train_clips, steps=b.steps, time_s=None, batch=b.batch, reg=reg,
                              seed=int(seed), progress=progress)
    metrics = {**evaluate(predict(model, x_test), test_clips), "action chance": 1 / len(ACTIONS)}
    config = {"profile": prof.name, "model": name, "reg": reg, "in_channels": model.in_channels, "lr": LR,
              "size": prof.actions_size, "frames": prof.actions_frames, "data_seeds": {"train": 0, "test": 1},
              **{k: v for k, v in asdict(b).items() if k not in ("time_s", "attention_time_s")}}
    return {"run": name, "seed": int(seed), "config": config, "steps": int(result.steps),
            "metrics": {k: float(v) for k, v in metrics.items()}}
