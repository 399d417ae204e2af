"""Self-supervised pretraining on the actions suite: InfoNCE (MoCo), UberNCE, CoCLR, Srivastava, fine-tuning.

Every method is a *loss function for one batch*, ``loss(model, batch, step)``, trained by the kit's one
loop (:func:`vidkit.train.train`, which passes the step; these losses do not use it, and their options are
keyword-only); read them top to bottom:

* :func:`vidkit.models.moco.infonce_loss`: two augmented views of a clip are a positive pair; the momentum
  encoder's keys of other clips (the batch and a queue) are negatives (MoCo, He et al. 2020).
* :func:`ubernce_loss`: the oracle: every clip with the same *label* is a positive (CoCLR's UberNCE),
  by default in the authors' form ``-mean_p log softmax_p`` (``form="mean_log"``).
* :func:`coclr_loss_fn`: CoCLR (Han et al. 2020): train one view (e.g. RGB) while the other view's
  encoder (e.g. flow), frozen, mines the top-K nearest clips of the queue as extra positives; the
  loss is ``-log sum_p softmax_p`` (``"log_sum"``), and the clip's own positive is dropped in 90 % of
  the steps (``drop_self_prob``), both as in the authors' code.
* :func:`srivastava_pretrain_loss`: the LSTM's reconstruction and/or future loss, for its mode
  (:func:`srivastava_model`: composite, autoencoder or future, decoders conditioned or not), on pixels or on
  percepts (:func:`percept_model`: per-frame features of a frozen network, :func:`train_percept_cnn`).

Notebook 02's claims are data at the end (``CLAIM_RUNS``, ``CLAIMS``, :func:`claim_run`): ``vidkit reproduce
contrastive`` trains their arms at equal steps over seeds with these functions, including fine-tuning with the
learning rate chosen on validation clips (:func:`finetune_select_lr`).

The model trained by the contrastive losses is a :class:`vidkit.models.moco.MoCo`: an encoder, its projection
head, momentum copies of both, and a queue of keys. Data comes from :func:`vidkit.data.batches.clip_batches`, an endless,
seeded, shuffled stream of ``{"rgb", "flow", "action", "digit", "index"}`` batches, and the schedule from
:func:`vidkit.models.moco.pretrain`; the sizes from the profile's budget, ``vidkit.profile().contrastive``.
"""

from __future__ import annotations

import copy
import functools
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from vidkit.eval.claims import Arm, Claim
from vidkit.losses import MoCoQueue, NCEForm, coclr_loss, mine_topk_positives, uber_nce
from vidkit.models.moco import (
    CROP_SCALE,
    MoCo,
    _views,
    infonce_loss,
    notebook_moco,
    notebook_srivastava,
    pretrain,
)
from vidkit.profiles import Profile

__all__ = ["ubernce_loss", "coclr_loss_fn", "srivastava_pretrain_loss", "srivastava_model", "percept_model",
           "train_percept_cnn", "percept_prediction_errors", "finetune", "finetune_select_lr", "label_subset", "SRIVASTAVA_RUNS", "PERCEPTS", "CLAIM_RUNS", "CLAIMS", "ClaimData", "claim_data", "claim_run"]


def ubernce_loss(model: MoCo, batch: Mapping[str, torch.Tensor], _step: int = 0, *, length: int = 12,
                 label: str = "action", crop_scale: tuple[float, float] = CROP_SCALE,
                 form: NCEForm = "mean_log") -> tuple[torch.Tensor, dict]:
    """UberNCE, the supervised oracle: as :func:`vidkit.models.moco.infonce_loss`, but every key (batch or queue) whose
    ``label`` equals the query's is a positive (see :func:`vidkit.losses.uber_nce`). With ``p_in`` the
    softmax of ``q_i . key_n / tau`` over all keys and ``P(i)`` the keys sharing clip ``i``'s label::

        form="mean_log" (default, the authors' UberNCE):  L_i = -1/|P(i)| sum_{p in P(i)} log p_ip
        form="log_sum"  (CoCLR's loss, the kit's UberNCE until 2026-11-30):  L_i = -log sum_{p in P(i)} p_ip

    Pass the form with ``functools.partial(ubernce_loss, form="log_sum")``."""
    if label not in batch:
        raise KeyError(f"ubernce_loss: the batch has no label {label!r} (it has {sorted(batch)})")
    v1, v2 = _views(model, batch, length, crop_scale)
    q, k = model.query(v1), model.key(v2)
    queue = (model.queue.keys, model.queue.labels) if len(model.queue) else (None, None)
    loss = uber_nce(q, k, batch[label], model.temperature, *queue, form=form)
    model.queue.enqueue(k, labels=batch[label], indices=batch["index"])
    return loss, {}


class CoCLRPair(nn.Module):
    """CoCLR's second stage for one direction: ``model`` (trained) and ``other`` (frozen, other view),
    plus a queue of the other view's embeddings aligned with ``model.queue`` (which starts empty)."""

    def __init__(self, model: MoCo, other: MoCo, topk: int = 5):
        super().__init__()
        if model.view == other.view:
            raise ValueError(f"CoCLR needs two different views, got {model.view!r} twice")
        if isinstance(topk, bool) or not isinstance(topk, int) or topk < 1:
            raise ValueError(f"topk must be a positive int, got {topk!r}")
        self.model, self.other, self.topk = model, other, topk
        for p in other.parameters():
            p.requires_grad_(False)
        # two queues filled together, row for row: mined positives (other view) index the keys (this view)
        model.queue = MoCoQueue(model.queue.size, model.proj_dim)
        self.other_queue = MoCoQueue(model.queue.size, other.proj_dim)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return self.model.embed(x)


def coclr_loss_fn(pair: CoCLRPair, batch: Mapping[str, torch.Tensor], _step: int = 0, *, length: int = 12,
                  drop_self_prob: float = 0.9) -> tuple[torch.Tensor, dict]:
    """CoCLR (Han et al. 2020), one alternation step: train ``pair.model``'s view with positives mined
    in the frozen ``pair.other`` view. For query ``i`` the positives are its own key ``k_i`` and the
    ``topk`` queue entries whose OTHER-view embeddings are nearest to clip ``i``'s (never clip ``i``)::

        L_i = -log  sum_{p in P(i)} exp(q_i . key_p / tau)  /  sum_n exp(q_i . key_n / tau)   (the "log_sum" form)

    Mining starts once the queue is full (as in CoCLR); before that it is plain InfoNCE. Once it mines,
    ``k_i`` is dropped from ``P(i)`` (it stays in the denominator) in a fraction ``drop_self_prob`` of
    the steps, one draw of torch's global RNG per step, as the authors' training code does with 0.9
    (see :func:`vidkit.losses.coclr_loss`); ``drop_self_prob=0`` keeps it always (the kit's CoCLR until
    2026-11-30). Pass it with ``functools.partial(coclr_loss_fn, drop_self_prob=0.0)``.
    """
    model, other = pair.model, pair.other
    v1, v2 = _views(model, batch, length)
    q, k = model.query(v1), model.key(v2)
    other.eval()
    with torch.no_grad():
        z_other = other.query(batch[other.view][:, :length])  # frozen: the other view's embedding of the clip
    mined = 0.0
    if pair.other_queue.is_full:
        mask = mine_topk_positives(z_other, pair.other_queue.keys, pair.topk, batch["index"],
                                   pair.other_queue.indices)
        # how often a mined positive shares the clip's action: the quality of the mining, for the log
        same = (model.queue.labels[None, :] == batch["action"][:, None]) & mask
        mined = float(same.sum()) / float(mask.sum())
    else:
        mask = torch.zeros(len(q), len(model.queue), dtype=torch.bool)
    loss = coclr_loss(q, k, model.queue.keys, mask, model.temperature, drop_self_prob=drop_self_prob)
    model.queue.enqueue(k, labels=batch["action"], indices=batch["index"])
    pair.other_queue.enqueue(z_other, labels=batch["action"], indices=batch["index"])
    return loss, {"mined_same_action": mined}


def srivastava_pretrain_loss(model: nn.Module, batch: Mapping[str, torch.Tensor], _step: int = 0, *,
                             kind: str | None = None) -> tuple[torch.Tensor, dict]:
    """Srivastava's objective on actions clips, for the model's mode: the first half of the frames in;
    ``"composite"``: reconstruct them (reversed) and predict the second half; ``"autoencoder"``: only
    reconstruct them; ``"future"``: only predict the second half (per-frame Bernoulli cross-entropy summed
    over the decoders the model has, see :func:`vidkit.models.srivastava_loss`). Every mode's encoder reads
    the same frames, so the three objectives differ only in what the decoders must produce. On percepts
    (``batch["rgb"]`` holds :func:`vidkit.models.frame_percepts` ``(B, T, D, 1, 1)``, a linear model) the error
    is squared (``kind="l2"``); ``kind=None`` picks it from the model's ``output``."""
    from vidkit.models.srivastava import srivastava_loss
    from vidkit.utils.distributed import unwrap

    inner = unwrap(model)
    kind = kind or ("l2" if inner.output == "linear" else "bce")
    x = batch["rgb"]
    half = x.shape[1] // 2
    if inner.predictor is None:  # an autoencoder (DDP or not): no future frames
        return srivastava_loss(model(x[:, :half]), x[:, :half], kind=kind)
    out = model(x[:, :half], steps=x.shape[1] - half, target=x[:, half:])
    return srivastava_loss(out, x[:, :half], x[:, half:], kind=kind)


def srivastava_model(size: int, mode: str = "composite", hidden: int = 256, conditioned: bool = False) -> nn.Module:
    """Notebook 02's LSTM (:func:`vidkit.models.moco.notebook_srivastava`, the composite model) in any of
    Srivastava's three modes, ``"composite"``, ``"autoencoder"`` or ``"future"``, on ``size x size`` clips, its
    decoders unconditioned or ``conditioned`` on the previous frame. The encoder is built first, so under one
    ``torch.manual_seed`` the six variants start from the same encoder weights; only their decoders differ."""
    from vidkit.models.srivastava import SrivastavaLSTM

    if mode not in SRIVASTAVA_MODES:
        raise ValueError(f"mode must be 'composite', 'autoencoder' or 'future', got {mode!r}")
    if mode == "composite" and not conditioned:
        return notebook_srivastava(size, hidden=hidden)
    return SrivastavaLSTM(mode, conditioned=conditioned, hidden=hidden, frame_shape=(1, size, size))


def percept_model(dim: int, mode: str = "composite", hidden: int = 256, conditioned: bool = False) -> nn.Module:
    """:func:`srivastava_model` on percepts: the same LSTM reading ``dim`` features per frame
    (:func:`vidkit.models.frame_percepts`, ``frame_shape=(dim, 1, 1)``) with linear outputs (squared error)."""
    from vidkit.models.srivastava import SrivastavaLSTM

    return SrivastavaLSTM(mode, conditioned=conditioned, hidden=hidden, frame_shape=(dim, 1, 1), output="linear")


def train_percept_cnn(clips: torch.Tensor, digits: Any, test_clips: torch.Tensor, test_digits: Any, *,
                      steps: int, width: int = 16, seed: int = 0, progress: bool = False) -> tuple[nn.Module, float]:
    """The percept network: a fresh :class:`vidkit.models.ImageEncoder` of ``width`` trained to recognise the
    digit in **single frames**, one frame per clip drawn at random (``seed``), for ``steps`` steps of
    :func:`finetune` (lr 3e-3, batch 32). It plays the paper's ImageNet network: trained on still images, on
    labels that are not the action, then frozen. Returns ``(network in eval mode, digit accuracy on one random
    frame of each test clip)``."""
    from vidkit.models import ImageEncoder

    gen = torch.Generator().manual_seed(seed)

    def one_frame(x: torch.Tensor) -> torch.Tensor:
        return x[torch.arange(len(x)), torch.randint(0, x.shape[1], (len(x),), generator=gen)]  # (N, C, H, W)

    torch.manual_seed(seed)  # the network's initial weights
    cnn = ImageEncoder(clips.shape[2], width=width)
    res = finetune(cnn, one_frame(clips), digits, one_frame(test_clips), test_digits, steps=steps, lr=3e-3,
                   seed=seed, progress=progress)
    return cnn.eval(), float(res["accuracy"])


def label_subset(labels: Any, fraction: float, seed: int = 0) -> np.ndarray:
    """Indices of a class-balanced ``fraction`` of the clips (at least one per class), seeded."""
    y = np.asarray(labels)
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    rng = np.random.default_rng(seed)
    picks = []
    for c in np.unique(y):
        idx = np.flatnonzero(y == c)
        picks.append(rng.permutation(idx)[:max(1, round(fraction * len(idx)))])
    return np.sort(np.concatenate(picks))


def finetune(encoder: nn.Module, train_x: torch.Tensor, train_y: Any, test_x: torch.Tensor, test_y: Any,
             steps: int = 200, batch_size: int = 32, lr: float = 1e-3, seed: int = 0,
             progress: bool = True, val: tuple[torch.Tensor, Any] | None = None) -> dict[str, float]:
    """Fine-tune ``encoder`` (all of it) + a new linear classifier on ``(train_x, train_y)``; return the test
    accuracy (``"accuracy"``) and, with ``val=(val_x, val_y)``, the accuracy on those validation clips too
    (``"val_accuracy"``: what a learning rate is chosen by, see :func:`finetune_select_lr`). The encoder is
    modified in place: pass a copy to keep the original."""
    from tqdm.auto import tqdm

    if not isinstance(getattr(encoder, "dim", None), int) or not hasattr(encoder, "embed"):
        raise TypeError("encoder must have embed() and an int attribute dim")
    for name, v in {"steps": steps, "batch_size": batch_size}.items():
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"{name} must be a positive int, got {v!r}")
    if not lr > 0:
        raise ValueError(f"lr must be > 0, got {lr!r}")
    y_train = torch.as_tensor(np.asarray(train_y), dtype=torch.long)
    y_test = torch.as_tensor(np.asarray(test_y), dtype=torch.long)
    if len(train_x) != len(y_train) or len(test_x) != len(y_test):
        raise ValueError("need one label per clip in train and test")
    if val is not None:
        if not isinstance(val, tuple) or len(val) != 2:
            raise TypeError("val must be a tuple (val_x, val_y) or None")
        val_x, y_val = val[0], torch.as_tensor(np.asarray(val[1]), dtype=torch.long)
        if len(val_x) != len(y_val) or len(y_val) == 0:
            raise ValueError("need one label per validation clip, and at least one clip")
    classes = int(max(y_train.max(), y_test.max(), *(() if val is None else (y_val.max(),)))) + 1
    device = next(encoder.parameters()).device
    torch.manual_seed(seed)
    head = nn.Linear(encoder.dim, classes).to(device)
    params = [*encoder.parameters(), *head.parameters()]
    opt = torch.optim.AdamW([p for p in params if p.requires_grad], lr=lr, weight_decay=1e-4)
    gen = torch.Generator().manual_seed(seed)
    encoder.train()
    for _ in tqdm(range(steps), desc="fine-tune", disable=not progress, leave=False):
        idx = torch.randint(0, len(train_x), (min(batch_size, len(train_x)),), generator=gen)
        loss = F.cross_entropy(head(encoder.embed(train_x[idx].to(device))), y_train[idx].to(device))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    encoder.eval()

    def accuracy(x: torch.Tensor, y: torch.Tensor) -> float:
        correct = 0
        with torch.no_grad():
            for lo in range(0, len(x), 256):
                pred = head(encoder.embed(x[lo:lo + 256].to(device))).argmax(1).cpu()
                correct += int((pred == y[lo:lo + 256]).sum())
        return correct / len(x)

    out = {"accuracy": accuracy(test_x, y_test), "train_clips": len(train_x)}
    if val is not None:
        out["val_accuracy"] = accuracy(val_x, y_val)
    return out




def finetune_select_lr(encoder: nn.Module, x: torch.Tensor, y: Any, test_x: torch.Tensor, test_y: Any, *,
                       fractions: Sequence[float] = (0.01, 0.1, 1.0), lrs: Sequence[float] = (3e-3, 1e-3, 3e-4),
                       val_fraction: float = 0.1, steps: int = 100, batch_size: int = 32, seed: int = 0,
                       progress: bool = False) -> dict[float, dict[str, Any]]:
    """Fine-tune copies of ``encoder`` on ``fractions`` of the labelled clips ``(x, y)`` with the learning rate
    chosen on validation data, and report the test accuracy of that learning rate.

    A class-balanced ``val_fraction`` of the clips (:func:`label_subset`, ``seed``) is split off as the
    validation set; each fraction's labelled clips are a class-balanced subset of the rest (``seed``). For
    every ``lr`` in ``lrs`` a fresh copy is fine-tuned (:func:`finetune`, ``steps`` steps, ``seed``) and scored on
    the validation clips; the lr with the best validation accuracy (ties: the first in ``lrs``) is chosen,
    and its test accuracy is the result. The test clips choose nothing. Returns ``{fraction: {"accuracy":
    test accuracy of the chosen lr, "lr": the chosen lr, "val_accuracy": its validation accuracy,
    "train_clips": labelled clips, "val_clips": validation clips, "by_lr": {lr: {"val_accuracy",
    "accuracy"}}}}``."""
    y = np.asarray(y)
    if len(x) != len(y):
        raise ValueError(f"need one label per clip, got {len(x)} clips and {len(y)} labels")
    if not lrs or any(not lr > 0 for lr in lrs):
        raise ValueError(f"lrs must be a non-empty sequence of positive learning rates, got {lrs!r}")
    val = label_subset(y, val_fraction, seed=seed)
    rest = np.setdiff1d(np.arange(len(y)), val)
    if len(rest) == 0:
        raise ValueError(f"val_fraction={val_fraction} leaves no clips to fine-tune on")
    out: dict[float, dict[str, Any]] = {}
    for frac in fractions:
        idx = rest[label_subset(y[rest], frac, seed=seed)]
        by_lr = {}
        for lr in lrs:
            res = finetune(copy.deepcopy(encoder), x[idx], y[idx], test_x, test_y, steps=steps,
                           batch_size=batch_size, lr=lr, seed=seed, progress=progress, val=(x[val], y[val]))
            by_lr[float(lr)] = {"val_accuracy": res["val_accuracy"], "accuracy": res["accuracy"]}
        best = max(by_lr, key=lambda lr: by_lr[lr]["val_accuracy"])  # max keeps the first of equal ones
        out[float(frac)] = {"accuracy": by_lr[best]["accuracy"], "lr": best,
                            "val_accuracy": by_lr[best]["val_accuracy"], "train_clips": int(len(idx)),
                            "val_clips": int(len(val)), "by_lr": by_lr}
    return out


# ------------------------------------------------------------------------------------ recorded claims (notebook 02)

#: CoCLR's settings in the claims (the notebook's): K mined positives per clip, and the authors' self-drop.
COCLR_TOPK = 5
COCLR_DROP_SELF = 0.9
#: Fine-tuning in the claims: fractions of the labelled clips (every encoder, Conv3d and LSTM), the lr grid, the
#: validation split.
FINETUNE_FRACTIONS = (0.01, 0.1, 1.0)
FINETUNE_LRS = (3e-3, 1e-3, 3e-4)
FINETUNE_VAL_FRACTION = 0.1
SRIVASTAVA_MODES = ("composite", "autoencoder", "future")
#: Srivastava's six pretraining objectives as claim runs: name -> (mode, conditioned decoders).
SRIVASTAVA_RUNS: dict[str, tuple[str, bool]] = {
    f"Srivastava {mode}{', conditioned' if cond else ''}": (mode, cond)
    for cond in (False, True) for mode in SRIVASTAVA_MODES}
#: Percepts: the run's name; the percept network is an ImageEncoder of this width (its last feature map, flattened,
#: is a frame's percept: 4 * width channels at 1/8 of the frame's side, 1,024 features for 32 px frames).
PERCEPTS = "Srivastava composite on percepts"
PERCEPT_WIDTH = 16

_OBJECTIVE = {"composite": "composite LSTM (reconstruct the first half, predict the second)",
              "autoencoder": "LSTM autoencoder (reconstruct the first half)",
              "future": "LSTM future predictor (predict the second half)"}

#: The runs notebook 02's claims compare; ``n`` is the profile's ``contrastive.steps``. Every pretrained network
#: that a claim compares with another trains ``2n`` steps (the CoCLR arm: ``n`` InfoNCE + ``n`` CoCLR steps of the
#: RGB network), with no time cap, so the arms are equal in steps on any machine (:func:`claim_run`).
CLAIM_RUNS: dict[str, str] = {
    "InfoNCE RGB": "2n InfoNCE (MoCo) steps on RGB",
    "InfoNCE flow": "2n InfoNCE (MoCo) steps on exact flow",
    "UberNCE RGB": "2n UberNCE steps on RGB, the authors' form (mean_log), action labels",
    "CoCLR RGB": "RGB and flow: n InfoNCE steps each; then n CoCLR steps of RGB, positives mined by the frozen flow "
                 f"network (K={COCLR_TOPK}, own key dropped in {COCLR_DROP_SELF:.0%} of the steps): one cycle",
    "CoCLR RGB, 2 cycles": "CoCLR RGB, then a second cycle: n CoCLR steps of flow (positives mined by cycle 1's RGB), "
                           "then n more of RGB (mined by that flow); metrics after cycle 2, and after cycle 1 "
                           "(suffix _cycle1)",
    **{name: f"2n steps of the {_OBJECTIVE[mode]}"
             + (", decoders conditioned on the previous frame (teacher-forced in training)" if cond else "")
       for name, (mode, cond) in SRIVASTAVA_RUNS.items()},
    PERCEPTS: f"the composite LSTM on percepts: an ImageEncoder (width {PERCEPT_WIDTH}) trained percept_steps "
              "steps to recognise the digit in single frames, then frozen, gives each frame's last feature map, "
              "flattened and standardised; the LSTM trains 2n steps to reconstruct and predict them (squared error)",
    "fine-tune: CoCLR RGB": "CoCLR RGB's encoder fine-tuned on the action, lr chosen on validation clips",
    "fine-tune: random Conv3d": "the same Conv3d encoder from its initial weights (CoCLR RGB's start), fine-tuned alike",
    **{f"fine-tune: {name}": f"{name}'s LSTM fine-tuned on the action, lr chosen on validation clips"
       for name in SRIVASTAVA_RUNS},
    "fine-tune: random LSTM": "the same LSTM from its initial weights (Srivastava composite's start), fine-tuned alike",
    f"fine-tune: {PERCEPTS}": "its LSTM fine-tuned on the action on the frozen percepts, lr chosen on validation "
                              "clips",
    "fine-tune: random LSTM on percepts": "the same percept LSTM from its initial weights, fine-tuned alike on the "
                                          "same percepts",
}

_COCLR = "Han et al. 2020 (CoCLR)"
_SRIVASTAVA = "Srivastava et al. 2015"
_FT_EQUAL = "fine-tuning steps, labelled and validation clips, lr grid"


def _finetune_claim(claim_id: str, pretrained: str, random: str, frac: str, source: str, question: str) -> Claim:
    return Claim(f"contrastive.{claim_id}", question, source,
                 Arm(f"fine-tune: {pretrained}", f"finetune_{frac}", f"{pretrained}, {frac}"),
                 Arm(f"fine-tune: {random}", f"finetune_{frac}", f"{random}, {frac}"), "greater",
                 held_equal=_FT_EQUAL)


_SRI_TABLE = f"{_SRIVASTAVA}, action recognition on UCF-101 / HMDB-51 (each objective as pretraining)"
_SRI_COND = (f"{_SRIVASTAVA}, Sec. 2 (an unconditioned decoder cannot lean on the previous frame, so the "
             "representation must carry more of the history)")
_SRI_PERCEPTS = f"{_SRIVASTAVA}, Sec. 3 (the LSTMs read percepts of a network trained on still images)"


#: Notebook 02's claims, checked over seeds by ``vidkit reproduce contrastive``. Metrics: ``action_probe`` /
#: ``digit_probe`` (linear probe test accuracy), ``action_R@1`` (retrieval, test clips query the training clips)
#: on frozen features of the first ``eval_train_clips`` training clips and the test clips; ``finetune_<p>%``: test
#: accuracy after fine-tuning on ``p`` % of the labelled clips with the lr chosen on validation clips.
CLAIMS: tuple[Claim, ...] = (
    Claim("contrastive.ubernce_beats_coclr", "Does the supervised oracle (UberNCE) beat CoCLR-RGB on the action "
          "probe, at equal steps of the RGB network?", f"{_COCLR}, Table 1 (UberNCE, the upper bound)",
          Arm("UberNCE RGB", "action_probe"), Arm("CoCLR RGB", "action_probe"), "greater"),
    Claim("contrastive.coclr_beats_infonce", "Does CoCLR-RGB beat InfoNCE-RGB on the action probe, at equal steps "
          "of the RGB network?", f"{_COCLR}, Table 1",
          Arm("CoCLR RGB", "action_probe"), Arm("InfoNCE RGB", "action_probe"), "greater"),
    Claim("contrastive.coclr_close_to_ubernce", "Does CoCLR-RGB come close to the supervised oracle on the action "
          "probe (within 0.05: about one seed-to-seed std of CoCLR-RGB's probe in the recorded sweep, 0.06, and "
          "under an eighth of the InfoNCE-to-UberNCE span at this scale, 0.48 to 0.92)?",
          f"{_COCLR}, Sec. 1 and Table 1 (co-training narrows the gap to supervised contrastive learning)",
          Arm("CoCLR RGB", "action_probe"), Arm("UberNCE RGB", "action_probe"), "close", margin=0.05),
    Claim("contrastive.flow_beats_rgb_retrieval", "Does InfoNCE on flow retrieve the action better than InfoNCE on "
          "RGB (R@1; paper: 45.2 vs 33.1 NN@1 on UCF101)?", f"{_COCLR}, Table 1",
          Arm("InfoNCE flow", "action_R@1"), Arm("InfoNCE RGB", "action_R@1"), "greater"),
    Claim("contrastive.rgb_captures_digit_over_action", "Does InfoNCE-RGB capture the digit (appearance) better "
          "than the action (motion), digit probe vs action probe (chance 0.10 vs 0.125)?",
          f"{_COCLR}, Sec. 1 (RGB sees appearance, flow sees motion); notebook 02",
          Arm("InfoNCE RGB", "digit_probe"), Arm("InfoNCE RGB", "action_probe"), "greater"),
    Claim("contrastive.flow_captures_action_over_digit", "Does InfoNCE-flow capture the action better than the "
          "digit, action probe vs digit probe?", f"{_COCLR}, Sec. 1 (flow sees motion); notebook 02",
          Arm("InfoNCE flow", "action_probe"), Arm("InfoNCE flow", "digit_probe"), "greater"),
    Claim("contrastive.coclr_cycle2_beats_cycle1", "Does a second CoCLR cycle (flow trained with RGB-mined "
          "positives, then RGB again) improve the RGB network's action probe over the first?",
          f"{_COCLR}, ablation on the number of training cycles",
          Arm("CoCLR RGB, 2 cycles", "action_probe", "cycle 2"),
          Arm("CoCLR RGB, 2 cycles", "action_probe_cycle1", "cycle 1"), "greater",
          held_equal="all but the second cycle (by design): seed, data, steps per stage"),
    _finetune_claim("coclr_finetune_beats_random_1pct", "CoCLR RGB", "random Conv3d", "1%",
                    f"{_COCLR}, Sec. 4 (fine-tuning); {_SRIVASTAVA}, Sec. 3 (pretraining helps most with few labels)", "Fine-tuned with 1 % of the action labels, does "
                    "CoCLR-RGB pretraining beat a random init of the same encoder?"),
    _finetune_claim("coclr_finetune_beats_random_10pct", "CoCLR RGB", "random Conv3d", "10%",
                    f"{_COCLR}, Sec. 4 (fine-tuning)",
                    "Fine-tuned with 10 % of the action labels, does CoCLR-RGB pretraining beat a random init?"),
    _finetune_claim("coclr_finetune_beats_random_100pct", "CoCLR RGB", "random Conv3d", "100%",
                    f"{_COCLR}, Sec. 4 (fine-tuning)",
                    "Fine-tuned with all the action labels, does CoCLR-RGB pretraining beat a random init?"),
    *(_finetune_claim(f"srivastava_finetune_beats_random_{frac.rstrip('%')}pct", "Srivastava composite",
                      "random LSTM", frac, f"{_SRIVASTAVA}, Sec. 3 (action recognition; pretraining helps most "
                      "with few labels)", f"Fine-tuned with {frac} of the action labels, does composite "
                      "pretraining beat a random init of the same LSTM?") for frac in ("1%", "10%", "100%")),
    *(_finetune_claim(f"{name.split()[1].rstrip(',')}{'_conditioned' if cond else ''}_finetune_beats_random_1pct",
                      name, "random LSTM", "1%", _SRI_TABLE, f"Fine-tuned with 1 % of the action labels, does "
                      f"the {mode} objective{' (conditioned decoders)' if cond else ''} beat a random init of the "
                      "same LSTM?")
      for name, (mode, cond) in SRIVASTAVA_RUNS.items() if name != "Srivastava composite"),
    Claim("contrastive.composite_beats_autoencoder", "As pretraining for classification, does the composite "
          "objective beat the autoencoder alone (frozen LSTM, action probe)?", f"{_SRIVASTAVA}, Table on UCF-101 "
          "(composite best)", Arm("Srivastava composite", "action_probe"),
          Arm("Srivastava autoencoder", "action_probe"), "greater"),
    Claim("contrastive.composite_beats_future", "As pretraining for classification, does the composite objective "
          "beat the future predictor alone (frozen LSTM, action probe)?", f"{_SRIVASTAVA}, Table on UCF-101 "
          "(composite best)", Arm("Srivastava composite", "action_probe"),
          Arm("Srivastava future", "action_probe"), "greater"),
    Claim("contrastive.composite_finetune_beats_autoencoder_1pct", "Fine-tuned with 1 % of the action labels, "
          "does composite pretraining beat autoencoder pretraining?", f"{_SRI_TABLE}; composite best",
          Arm("fine-tune: Srivastava composite", "finetune_1%", "composite, 1%"),
          Arm("fine-tune: Srivastava autoencoder", "finetune_1%", "autoencoder, 1%"), "greater", held_equal=_FT_EQUAL),
    Claim("contrastive.composite_finetune_beats_future_1pct", "Fine-tuned with 1 % of the action labels, does "
          "composite pretraining beat future-predictor pretraining?", f"{_SRI_TABLE}; composite best",
          Arm("fine-tune: Srivastava composite", "finetune_1%", "composite, 1%"),
          Arm("fine-tune: Srivastava future", "finetune_1%", "future, 1%"), "greater", held_equal=_FT_EQUAL),
    Claim("contrastive.unconditioned_future_beats_conditioned", "Does the unconditioned future predictor learn a "
          "better representation than the conditioned one (frozen LSTM, action probe)?", _SRI_COND,
          Arm("Srivastava future", "action_probe", "unconditioned"),
          Arm("Srivastava future, conditioned", "action_probe", "conditioned"), "greater"),
    Claim("contrastive.unconditioned_composite_beats_conditioned", "Does the unconditioned composite model learn a "
          "better representation than the conditioned one (frozen LSTM, action probe)?", _SRI_COND,
          Arm("Srivastava composite", "action_probe", "unconditioned"),
          Arm("Srivastava composite, conditioned", "action_probe", "conditioned"), "greater"),
    Claim("contrastive.unconditioned_composite_finetune_beats_conditioned_1pct", "Fine-tuned with 1 % of the "
          "action labels, does the unconditioned composite model beat the conditioned one?", _SRI_COND,
          Arm("fine-tune: Srivastava composite", "finetune_1%", "unconditioned"),
          Arm("fine-tune: Srivastava composite, conditioned", "finetune_1%", "conditioned"), "greater",
          held_equal=_FT_EQUAL),
    Claim("contrastive.percept_predictor_beats_copy_last", "Does the composite LSTM on percepts predict the future "
          "percepts better than copying the last input frame's (squared error per feature, test clips)?",
          _SRI_PERCEPTS, Arm(PERCEPTS, "future_mse", "LSTM"), Arm(PERCEPTS, "copy_last_mse", "copy last"), "less",
          held_equal="the same clips and percepts (one run)"),
    Claim("contrastive.percepts_beat_pixels_probe", "Does the composite LSTM read out the action better from "
          "percepts than from pixels (frozen LSTM, action probe)?", _SRI_PERCEPTS,
          Arm(PERCEPTS, "action_probe", "percepts"), Arm("Srivastava composite", "action_probe", "pixels"),
          "greater", held_equal="LSTM size, objective, steps, seed (the percept network is extra, trained on "
                                "digits in single frames)"),
    _finetune_claim("percepts_beat_pixels_finetune_1pct", PERCEPTS, "Srivastava composite", "1%", _SRI_PERCEPTS,
                    "Fine-tuned with 1 % of the action labels, does the composite LSTM on percepts beat the same "
                    "LSTM on pixels?"),
    _finetune_claim("percept_pretraining_beats_random_1pct", PERCEPTS, "random LSTM on percepts", "1%",
                    _SRI_PERCEPTS, "Fine-tuned with 1 % of the action labels on percepts, does composite "
                    "pretraining beat a random init of the same LSTM?"),
)


@dataclass(frozen=True)
class ClaimData:
    """The profile's actions clips as notebook 02 makes them: ``rgb`` / ``flow`` (exact) / ``labels``, each a
    ``(train, test)`` pair."""

    rgb: tuple[torch.Tensor, torch.Tensor]
    flow: tuple[torch.Tensor, torch.Tensor]
    labels: tuple[dict[str, np.ndarray], dict[str, np.ndarray]]


@functools.lru_cache(maxsize=1)
def claim_data(profile: Profile) -> ClaimData:
    """Notebook 02's data for ``profile``, made once per process: ``generate_actions(actions_train,
    split="train", seed=0)`` and ``(actions_test, split="test", seed=1)``, and their exact flow."""
    from vidkit.data import generate_actions

    kw = dict(num_frames=profile.actions_frames, size=profile.actions_size)
    train_set = generate_actions(profile.actions_train, split="train", seed=0, **kw)
    test_set = generate_actions(profile.actions_test, split="test", seed=1, **kw)
    return ClaimData((train_set.tensors(), test_set.tensors()),
                     (torch.from_numpy(train_set.flow()), torch.from_numpy(test_set.flow())),
                     ({"action": train_set.action, "digit": train_set.digit},
                      {"action": test_set.action, "digit": test_set.digit}))


# trained networks shared by the runs of one (profile, seed), e.g. CoCLR RGB's cycle 1 for its fine-tuning and
# its second cycle: {(profile, seed, what): (model, stages)}; only the latest (profile, seed) is kept.
_TRAINED: dict[tuple, tuple[nn.Module, list[dict]]] = {}


def _trained(profile: Profile, seed: int, what: str, make: Any) -> tuple[nn.Module, list[dict]]:
    """A copy of the network ``what`` for ``(profile, seed)``, trained by ``make() -> (model, stages)`` unless
    this process already has it."""
    key = (profile, seed, what)
    if key not in _TRAINED:
        for old in [k for k in _TRAINED if k[:2] != key[:2]]:
            del _TRAINED[old]
        _TRAINED[key] = make()
    model, stages = _TRAINED[key]
    return copy.deepcopy(model), copy.deepcopy(stages)


def _fit(model: nn.Module, loss_fn: Any, data: ClaimData, profile: Profile, steps: int, seed: int, name: str,
         network: str, progress: bool, clips: torch.Tensor | None = None) -> dict[str, Any]:
    """:func:`vidkit.models.moco.pretrain` on the training clips (``clips``: other inputs for the same clips, e.g.
    percepts) for exactly ``steps`` steps (no time cap); ``seed`` orders the batches and seeds the loop's RNGs.
    Returns the stage's entry for the run's config (``network``: the one it trains, "rgb", "flow" or "lstm"; no
    timings, so that a seed always gives the same config)."""
    result = pretrain(model, loss_fn, data.rgb[0] if clips is None else clips, data.labels[0], steps=steps,
                      batch=profile.contrastive.batch, time_s=None, flow=data.flow[0], seed=seed, train_seed=seed,
                      progress=progress)
    if result.steps != steps:
        raise RuntimeError(f"{name}: trained {result.steps} of {steps} steps ({result.stop_reason})")
    stage = {"stage": name, "network": network, "steps": result.steps, "final_loss": float(result.final_loss)}
    mined = [h["mined_same_action"] for h in result.history if h.get("mined_same_action", 0) > 0]
    if mined:
        stage["mined_same_action"] = float(np.mean(mined))
    return stage


def _moco(view: str, seed: int) -> MoCo:
    torch.manual_seed(seed)  # the initial weights
    return notebook_moco(view)


def _infonce(profile: Profile, seed: int, view: str, steps: int, progress: bool) -> tuple[MoCo, list[dict]]:
    def make() -> tuple[MoCo, list[dict]]:
        model = _moco(view, seed)
        return model, [_fit(model, infonce_loss, claim_data(profile), profile, steps, seed, f"InfoNCE {view}",
                            view, progress)]
    return _trained(profile, seed, f"InfoNCE {view}, {steps} steps", make)


def _coclr_stage(trained: MoCo, frozen: MoCo, profile: Profile, seed: int, name: str,
                 progress: bool) -> tuple[MoCo, dict]:
    """One CoCLR stage: ``trained`` (its encoder and head made trainable again, if an earlier stage froze them)
    learns for ``contrastive.steps`` steps with positives mined by ``frozen``."""
    for p in [*trained.encoder.parameters(), *trained.head.parameters()]:
        p.requires_grad_(True)
    pair = CoCLRPair(trained, frozen, topk=COCLR_TOPK)
    loss_fn = functools.partial(coclr_loss_fn, drop_self_prob=COCLR_DROP_SELF)
    stage = _fit(pair, loss_fn, claim_data(profile), profile, profile.contrastive.steps, seed, name,
                 trained.view, progress)
    return pair.model, stage


def _coclr(profile: Profile, seed: int, cycles: int, progress: bool) -> tuple[MoCo, list[dict]]:
    """CoCLR-RGB after ``cycles`` cycles (1 or 2), from the ``n``-step InfoNCE networks of both views."""
    n = profile.contrastive.steps

    def make() -> tuple[MoCo, list[dict]]:
        if cycles == 1:
            rgb, rgb_stages = _infonce(profile, seed, "rgb", n, progress)
            flow, flow_stages = _infonce(profile, seed, "flow", n, progress)
            rgb, stage = _coclr_stage(rgb, flow, profile, seed, "CoCLR rgb, cycle 1 (flow mines)", progress)
            return rgb, [*rgb_stages, *flow_stages, stage]
        rgb, stages = _coclr(profile, seed, cycles - 1, progress)
        flow, _ = _infonce(profile, seed, "flow", n, progress)  # the flow network as cycle 1 left it (frozen)
        flow, flow_stage = _coclr_stage(flow, copy.deepcopy(rgb), profile, seed,
                                        f"CoCLR flow, cycle {cycles} (rgb mines)", progress)
        rgb, rgb_stage = _coclr_stage(rgb, flow, profile, seed, f"CoCLR rgb, cycle {cycles} (flow mines)", progress)
        return rgb, [*stages, flow_stage, rgb_stage]
    return _trained(profile, seed, f"CoCLR rgb, {cycles} cycles", make)


def _srivastava(profile: Profile, seed: int, run: str, steps: int, progress: bool) -> tuple[nn.Module, list[dict]]:
    """The LSTM of pretraining run ``run`` (:data:`SRIVASTAVA_RUNS`) after ``steps`` steps."""
    mode, conditioned = SRIVASTAVA_RUNS[run]

    def make() -> tuple[nn.Module, list[dict]]:
        torch.manual_seed(seed)
        model = srivastava_model(profile.actions_size, mode, conditioned=conditioned)
        return model, [_fit(model, srivastava_pretrain_loss, claim_data(profile), profile, steps, seed, run,
                            "lstm", progress)]
    return _trained(profile, seed, f"{run}, {steps} steps", make)


@dataclass(frozen=True)
class PerceptData:
    """The claims' percepts for one (profile, seed): ``train`` / ``test`` ``(N, T, D, 1, 1)`` from the frozen
    percept network (the last feature map of :func:`train_percept_cnn`'s network, flattened), and that network's
    training stage (with its digit accuracy on single test frames)."""

    train: torch.Tensor
    test: torch.Tensor
    stage: dict[str, Any]


@functools.lru_cache(maxsize=1)
def _percept_data(profile: Profile, seed: int) -> PerceptData:
    from vidkit.models.srivastava import frame_percepts

    data, steps = claim_data(profile), profile.contrastive.percept_steps
    cnn, accuracy = train_percept_cnn(data.rgb[0], data.labels[0]["digit"], data.rgb[1], data.labels[1]["digit"],
                                      steps=steps, width=PERCEPT_WIDTH, seed=seed)
    train, mean, std = frame_percepts(cnn, data.rgb[0], layer="features")
    test, _, _ = frame_percepts(cnn, data.rgb[1], mean, std, layer="features")
    return PerceptData(train, test, {"stage": "percept network (ImageEncoder, digit in single frames)",
                                     "network": "cnn", "steps": steps, "digit_accuracy": accuracy})


def _percept_lstm(profile: Profile, seed: int, progress: bool) -> tuple[nn.Module, list[dict]]:
    """:data:`PERCEPTS`: the composite LSTM trained ``2n`` steps on the seed's percepts."""
    steps = 2 * profile.contrastive.steps

    def make() -> tuple[nn.Module, list[dict]]:
        percepts = _percept_data(profile, seed)
        torch.manual_seed(seed)
        model = percept_model(percepts.train.shape[2])
        stage = _fit(model, srivastava_pretrain_loss, claim_data(profile), profile, steps, seed, PERCEPTS, "lstm",
                     progress, clips=percepts.train)
        return model, [percepts.stage, stage]
    return _trained(profile, seed, f"{PERCEPTS}, {steps} steps", make)


@torch.no_grad()
def percept_prediction_errors(model: nn.Module, percepts: torch.Tensor) -> dict[str, torch.Tensor]:
    """Squared error per feature at each predicted frame, ``(T - T // 2,)`` each, when ``model`` (a percept LSTM,
    :func:`percept_model`) reads the first half of ``percepts`` ``(N, T, D, 1, 1)`` and predicts the rest:
    ``"future"`` (the model), and two baselines, ``"copy_last"`` (the last input frame's percept) and ``"zeros"``
    (the training mean: percepts are standardised). Averaged over clips and features."""
    half = percepts.shape[1] // 2
    x, future = percepts[:, :half], percepts[:, half:]
    model.eval()
    pred = torch.cat([model.predict(x[lo:lo + 256], steps=future.shape[1]) for lo in range(0, len(x), 256)])
    per_step = (0, 2, 3, 4)   # all but the frame axis
    return {"future": ((pred - future) ** 2).mean(dim=per_step),
            "copy_last": ((x[:, -1:] - future) ** 2).mean(dim=per_step),
            "zeros": (future ** 2).mean(dim=per_step)}


def _readout(model: nn.Module, inputs: tuple[torch.Tensor, torch.Tensor], profile: Profile) -> dict[str, float]:
    """Frozen-feature metrics as notebook 02 reads them out: probe, kNN, R@1, R@5 and chance for each label, fit on
    the first ``eval_train_clips`` training clips (the gallery) and scored on the test clips; ``inputs`` are
    the ``(train, test)`` clips as the model reads them (RGB, flow or percepts)."""
    from vidkit.eval.representation import evaluate_representation, extract_embeddings

    data = claim_data(profile)
    x_tr, x_te = inputs
    n = profile.contrastive.eval_train_clips or len(x_tr)
    f_tr = extract_embeddings(model, x_tr[:n], progress=False)
    f_te = extract_embeddings(model, x_te, progress=False)
    res = evaluate_representation(f_tr, {k: v[:n] for k, v in data.labels[0].items()}, f_te, data.labels[1],
                                  ks=(1, 5))
    return {f"{label}_{metric}": float(v) for label, r in res.items() for metric, v in r.items()}


def claim_run(name: str, profile: str | Profile, seed: int, root: str | os.PathLike | None = None,
              progress: bool = False) -> dict[str, Any]:
    """Train and score claim run ``name`` (:data:`CLAIM_RUNS`) for ``profile`` with ``seed`` (initial weights, batch
    order, augmentations and CoCLR's self-drop draws, as ``benchmarks/contrastive_sweep.py``'s ``equal_steps``
    group), at exact step counts with no time cap. ``root`` is unused (nothing is written: the networks stay in
    memory, and runs of the same seed in one process share them, e.g. CoCLR RGB's cycle 1 for its fine-tuning and
    its second cycle). Returns the record entry ``{"run", "seed", "config", "steps", "metrics"}``:

    * pretraining runs: ``steps`` = steps of the network read out (CoCLR: its InfoNCE and CoCLR stages), metrics
      ``<label>_<probe|knn|R@1|R@5|chance>`` for ``label`` in action, digit (CoCLR RGB, 2 cycles: also the same
      after cycle 1, suffix ``_cycle1``); ``config["stages"]`` lists every stage with its steps and time;
      :data:`PERCEPTS` also ``future_mse`` / ``copy_last_mse`` / ``zeros_mse`` (squared error per feature of the
      predicted second half of the test clips' percepts, and of two baselines) and ``percept_digit_accuracy``;
    * fine-tuning runs: ``steps`` = fine-tuning steps per fit, metrics ``finetune_<p>%`` (test accuracy of the lr
      chosen on validation clips, :func:`finetune_select_lr`); ``config["finetune"]`` holds the chosen lrs and
      every lr's validation and test accuracy.
    """

    from vidkit.profiles import profile as get_profile

    if name not in CLAIM_RUNS:
        raise ValueError(f"unknown claim run {name!r}; available: {sorted(CLAIM_RUNS)}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be an int >= 0, got {seed!r}")
    prof = profile if isinstance(profile, Profile) else get_profile(profile)
    budget, n = prof.contrastive, prof.contrastive.steps
    data = claim_data(prof)
    config: dict[str, Any] = {"profile": prof.name, "description": CLAIM_RUNS[name], "n": n, "batch": budget.batch,
                              "train_clips": len(data.rgb[0]), "test_clips": len(data.rgb[1]),
                              "eval_train_clips": budget.eval_train_clips, "flow": "exact"}
    if name.startswith("fine-tune: "):
        source = name.removeprefix("fine-tune: ")
        inputs = data.rgb
        if source == "CoCLR RGB":
            encoder, stages = _coclr(prof, seed, 1, progress)
            encoder = encoder.encoder
        elif source in SRIVASTAVA_RUNS:
            encoder, stages = _srivastava(prof, seed, source, 2 * n, progress)
        elif source == "random Conv3d":
            encoder, stages = _moco("rgb", seed).encoder, []
        elif source == "random LSTM":
            torch.manual_seed(seed)
            encoder, stages = srivastava_model(prof.actions_size, "composite"), []
        else:  # on percepts: the pretrained LSTM, or the same one from its initial weights
            percepts = _percept_data(prof, seed)
            inputs = (percepts.train, percepts.test)
            if source == PERCEPTS:
                encoder, stages = _percept_lstm(prof, seed, progress)
            else:
                torch.manual_seed(seed)
                encoder, stages = percept_model(percepts.train.shape[2]), [percepts.stage]
        res = finetune_select_lr(encoder, inputs[0], data.labels[0]["action"], inputs[1],
                                 data.labels[1]["action"], fractions=FINETUNE_FRACTIONS, lrs=FINETUNE_LRS,
                                 val_fraction=FINETUNE_VAL_FRACTION, steps=budget.finetune_steps, seed=seed,
                                 progress=progress)
        metrics = {f"finetune_{frac:.0%}": r["accuracy"] for frac, r in res.items()}
        config["finetune"] = {f"{frac:.0%}": {**{k: v for k, v in r.items() if k != "by_lr"},
                                              "by_lr": {f"{lr:g}": v for lr, v in r["by_lr"].items()}}
                              for frac, r in res.items()}
        config.update(pretraining=stages, finetune_steps=budget.finetune_steps, lrs=list(FINETUNE_LRS),
                      val_fraction=FINETUNE_VAL_FRACTION)
        steps = budget.finetune_steps
    else:
        inputs = data.rgb
        if name in ("InfoNCE RGB", "InfoNCE flow"):
            view = name.split()[1].lower()
            model, stages = _infonce(prof, seed, view, 2 * n, progress)
            inputs = data.rgb if view == "rgb" else data.flow
        elif name == "UberNCE RGB":
            def make() -> tuple[MoCo, list[dict]]:
                model = _moco("rgb", seed)
                loss_fn = functools.partial(ubernce_loss, form="mean_log")  # the authors' UberNCE
                return model, [_fit(model, loss_fn, data, prof, 2 * n, seed, "UberNCE rgb (mean_log)", "rgb",
                                    progress)]
            model, stages = _trained(prof, seed, f"UberNCE rgb, {2 * n} steps", make)
        elif name.startswith("CoCLR RGB"):
            cycles = 2 if name.endswith("2 cycles") else 1
            model, stages = _coclr(prof, seed, cycles, progress)
            config.update(topk=COCLR_TOPK, drop_self_prob=COCLR_DROP_SELF, queue=model.queue.size, cycles=cycles)
        elif name == PERCEPTS:
            model, stages = _percept_lstm(prof, seed, progress)
            percepts = _percept_data(prof, seed)
            inputs = (percepts.train, percepts.test)
            config.update(mode="composite", conditioned=False, percept_dim=int(percepts.train.shape[2]))
        else:  # Srivastava <mode>[, conditioned]
            model, stages = _srivastava(prof, seed, name, 2 * n, progress)
            config["mode"], config["conditioned"] = SRIVASTAVA_RUNS[name]
        metrics = _readout(model, inputs, prof)
        if name == PERCEPTS:
            errors = percept_prediction_errors(model, inputs[1])      # the same frames per step: mean of means
            metrics.update({f"{name}_mse": float(e.mean()) for name, e in errors.items()})
            metrics["percept_digit_accuracy"] = stages[0]["digit_accuracy"]
        if name == "CoCLR RGB, 2 cycles":
            cycle1, _ = _coclr(prof, seed, 1, progress)
            metrics.update({f"{k}_cycle1": v for k, v in _readout(cycle1, data.rgb, prof).items()})
        # the steps of the network read out, over its own stages (CoCLR's flow stages are listed, not counted)
        read = "lstm" if name.startswith("Srivastava") else ("flow" if name == "InfoNCE flow" else "rgb")
        steps = sum(s["steps"] for s in stages if s["network"] == read)
        config["stages"] = stages
    return {"run": name, "seed": int(seed), "config": config, "steps": int(steps),
            "metrics": {k: float(v) for k, v in metrics.items()}}
