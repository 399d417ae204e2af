"""MMV (Alayrac et al. 2020, "Self-Supervised MultiModal Versatile Networks"): video, audio and text in shared
embedding spaces, its loss, and deflation of the video network into an image network.

Read top to bottom:

1. **Encoders** ``f_m``. Video: the kit's :class:`vidkit.models.Conv3dEncoder` (``embed(clip (B, T, C, H, W))
   -> (B, d_v)``). Audio: :class:`AudioEncoder`, a small 2D CNN over a log-mel spectrogram
   (:func:`vidkit.data.audio.log_mel`, ``(B, C, 80, F)`` with 5 mel frames per video frame) ``-> (B, d_a)``.
   Text: the kit's :class:`vidkit.models.text.TextEncoder` (``(tokens (B, L), lengths (B,)) -> (B, d_t)``).
2. **Projection heads** ``g_{m->s}`` map a modality's representation into a shared space ``S_s``; every
   embedding ``z_{m,s} = g_{m->s}(f_m(x_m)) / ||.||`` is L2-normalised, so ``z . z'`` is a cosine similarity.
   :class:`MMV` builds one of the three designs (:data:`MMV_DESIGNS`):

   * ``shared``: one space ``vat`` (``fine_dim``); heads ``v->vat``, ``a->vat``, ``t->vat``.
   * ``disjoint``: spaces ``va`` and ``vt`` (``fine_dim`` each); heads ``v->va``, ``a->va``, ``v->vt``,
     ``t->vt``: video has two heads, hence two embeddings.
   * ``fac``: a fine space ``va`` (``fine_dim``) and a coarse space ``vat`` (``coarse_dim``); heads ``v->va``,
     ``a->va``, ``t->vat`` and the learned fine -> coarse map ``va->vat``.

   In **FAC** (fine and coarse) video and audio meet in the fine space ``S_va``; text lives in the coarse
   space ``S_vat``, which video reaches only through ``g_{va->vat}`` applied to its *fine embedding*:
   ``z_{v,vat} = normalise(g_{va->vat}(z_{v,va}))``. Audio can be carried to ``S_vat`` the same way (for
   audio-text retrieval at test time), but the loss never compares audio with text. MMV used 512-d
   spaces (FAC: 512-d fine, 256-d coarse); the defaults here (64 / 32) suit a CPU.
3. **Loss** (:func:`mmv_loss`)::

       L = lambda_va * NCE(v, a) + lambda_vt * MIL-NCE(v, t)

   ``NCE`` compares ``z_{v,s}`` with ``z_{a,s}`` over the batch (the other clips' audio are the negatives),
   ``MIL-NCE`` compares ``z_{v,s'}`` with a *bag* of candidate sentences per clip (noisy narration: any of
   them may be the right one), each in the space its design gives the pair (:meth:`MMV.space_of`);
   temperature ``tau = 0.07``. Either pair can be switched off (``pairs``).
4. **Deflation** (:func:`deflate`): the video network becomes an image network (:class:`ImageEncoder`) by
   summing every 3D kernel over time; on a still clip (:func:`still_clip`) the two agree exactly away from
   the clip's ends (see :func:`deflate` for the precise relation). MMV's own deflation then fits the batch
   norms' affine parameters so that the image network on a frame matches the video network on the still clip
   (:func:`fit_deflated_batchnorm`); :func:`recalibrate_batchnorm` instead re-estimates batch-norm statistics on
   frames; a fresh :class:`ImageEncoder` is the 2D baseline trained on frames.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from vidkit.losses import info_nce, mil_nce, text_video_nce
from vidkit.models.encoders import Conv2Plus1d, Conv3dEncoder, ProjectionHead
from vidkit.utils.checks import check_choice, check_int, check_real, shape_text
from vidkit.utils.distributed import unwrap

__all__ = ["MMV_DESIGNS", "MMV_PAIRS", "HEAD_KINDS", "AudioEncoder", "MMV", "check_pairs", "mmv_loss", "ImageEncoder",
           "deflate", "still_clip", "recalibrate_batchnorm", "fit_deflated_batchnorm"]

MMV_DESIGNS: tuple[str, ...] = ("fac", "shared", "disjoint")
"""The three ways of placing video, audio and text in shared spaces (MMV's Figure 1)."""
MMV_PAIRS: tuple[str, ...] = ("va", "vt")
"""The modality pairs the loss compares: video-audio (NCE) and video-text (MIL-NCE)."""
HEAD_KINDS: tuple[str, ...] = ("linear", "mlp")
"""Projection head kinds: ``nn.Linear``, or :class:`vidkit.models.ProjectionHead` (Linear, ReLU, Linear)."""


# ------------------------------------------------------------------------------------------------ audio


class AudioEncoder(nn.Module):
    """A small 2D CNN over a log-mel spectrogram: ``embed(x (B, in_channels, n_mels, F)) -> (B, dim)``.

    Four blocks ``Conv2d 3x3 -> BatchNorm2d -> ReLU`` of widths ``width, 2*width, 4*width, 4*width``; blocks
    1-3 halve both axes (mel bins and time), then global average pooling over (mel, time) and a linear layer
    to ``dim`` (MMV: a ResNet50 on 80 mel bins, spatially pooled to 2048-d). The spectrogram is read as an
    image with ``in_channels`` channels (2: the stereo channels of :func:`vidkit.data.audio.log_mel`, so the
    panning stays visible). ``F`` is any number of mel frames >= 1 (5 per video frame with the kit's
    defaults); log-mel values (natural log, ``log(1e-6) ~ -13.8`` for silence) are fed as they are, the first
    batch norm rescales them.
    """

    def __init__(self, in_channels: int = 2, n_mels: int = 80, width: int = 16, dim: int = 128):
        super().__init__()
        for name, v in {"in_channels": in_channels, "n_mels": n_mels, "width": width, "dim": dim}.items():
            check_int(name, v)
        self.in_channels, self.n_mels, self.width, self.dim = in_channels, n_mels, width, dim
        w = width
        layers: list[nn.Module] = []
        for c_in, c_out, stride in ((in_channels, w, 2), (w, 2 * w, 2), (2 * w, 4 * w, 2), (4 * w, 4 * w, 1)):
            layers += [nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False), nn.BatchNorm2d(c_out),
                       nn.ReLU()]
        self.blocks = nn.Sequential(*layers)
        self.fc = nn.Linear(4 * w, dim)

    def check_input(self, x: Any) -> None:
        """Raise unless ``x`` is a float tensor ``(B, in_channels, n_mels, F)`` with ``B, F >= 1``."""
        expected = f"(B, {self.in_channels}, {self.n_mels}, F)"
        if not isinstance(x, torch.Tensor) or not x.is_floating_point():
            got = x.dtype if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(f"AudioEncoder: audio must be a float log-mel tensor {expected} (clips, channels, "
                             f"mel bins, frames), got {got}")
        if x.dim() != 4 or x.shape[1] != self.in_channels or x.shape[2] != self.n_mels or min(x.shape) < 1:
            raise ValueError(f"AudioEncoder: audio must be a log-mel tensor {expected} (clips, channels, mel "
                             f"bins, frames; see vidkit.data.audio.log_mel), got {shape_text(x)}")

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, in_channels, n_mels, F) -> (B, dim)``: the audio representation ``f_a`` (before any head)."""
        self.check_input(x)
        return self.fc(self.blocks(x).mean(dim=(2, 3)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.embed(x)


# ------------------------------------------------------------------------------------------------ MMV


def _head(kind: str, in_dim: int, out_dim: int) -> nn.Module:
    if kind == "linear":
        return nn.Linear(in_dim, out_dim)
    return ProjectionHead(in_dim, max(in_dim, out_dim), out_dim)


def _encoder_dim(encoder: Any, name: str, attr: str, what: str) -> int:
    if not isinstance(encoder, nn.Module):
        raise TypeError(f"{name} must be an nn.Module ({what}), got {type(encoder).__name__}")
    dim = getattr(encoder, attr, None)
    if isinstance(dim, bool) or not isinstance(dim, int) or dim < 1:
        raise TypeError(f"{name} needs an int attribute {attr} (its output size), got {dim!r}")
    return dim


class MMV(nn.Module):
    """Video, audio and text encoders with the projection heads of one MMV design.

    Args:
        video_encoder: ``embed(clip (B, T, C, H, W)) -> (B, video_encoder.dim)``, e.g. a
            :class:`vidkit.models.Conv3dEncoder`.
        audio_encoder: ``embed(log-mel (B, C, n_mels, F)) -> (B, audio_encoder.dim)``, e.g. an :class:`AudioEncoder`.
        text_encoder: ``(tokens (N, L) long, lengths (N,)) -> (N, text_encoder.out_dim)``, e.g. a
            :class:`vidkit.models.text.TextEncoder`.
        design: ``"fac"`` (default), ``"shared"`` or ``"disjoint"`` (see the module docstring's table).
        fine_dim: dimension of ``S_va`` (FAC) and of every space of the shared and disjoint designs (MMV: 512).
        coarse_dim: dimension of FAC's coarse space ``S_vat`` (MMV: 256); unused by the other designs.
        temperature: ``tau`` of the losses (MMV: 0.07).
        head: kind of the heads ``g_{m->s}`` from an encoder into a space, ``"linear"`` or ``"mlp"``.
        coarse_map: kind of FAC's ``g_{va->vat}``, ``"mlp"`` (default) or ``"linear"``. (The seed summary fixes
            neither kind; both are arguments so a notebook can compare them.)

    Attributes: ``spaces`` (``{space: dim}``), ``heads`` (an ``nn.ModuleDict`` keyed ``"v->va"``, ``"a->va"``,
    ``"va->vat"``, ``"t->vat"``, ...), ``design``, ``temperature``.

    Methods (all embeddings are unit rows): :meth:`embed_video` ``(B, T, C, H, W) -> (B, d_s)``,
    :meth:`embed_audio` ``(B, C, n_mels, F) -> (B, d_s)``, :meth:`embed_text` ``(B, L) or (B, P, L) -> (B, d_s)
    or (B, P, d_s)``, each into a named space; :meth:`pair_embeddings` gives, for each pair, the two sides in
    the space where that pair is compared.
    """

    def __init__(self, video_encoder: nn.Module, audio_encoder: nn.Module, text_encoder: nn.Module,
                 design: str = "fac", *, fine_dim: int = 64, coarse_dim: int = 32, temperature: float = 0.07,
                 head: str = "linear", coarse_map: str = "mlp"):
        super().__init__()
        dv = _encoder_dim(video_encoder, "video_encoder", "dim", "embed(clip (B, T, C, H, W)) -> (B, dim)")
        da = _encoder_dim(audio_encoder, "audio_encoder", "dim", "embed(log-mel (B, C, n_mels, F)) -> (B, dim)")
        dt = _encoder_dim(text_encoder, "text_encoder", "out_dim", "(tokens (N, L), lengths (N,)) -> (N, out_dim)")
        for name, enc in (("video_encoder", video_encoder), ("audio_encoder", audio_encoder)):
            if not callable(getattr(enc, "embed", None)):
                raise TypeError(f"{name} must have an embed() method, {type(enc).__name__} has none")
        self.design = check_choice("design", design, MMV_DESIGNS)
        fine_dim = check_int("fine_dim", fine_dim)
        coarse_dim = check_int("coarse_dim", coarse_dim)
        self.temperature = check_real("temperature", temperature, 0.0)
        check_choice("head", head, HEAD_KINDS)
        check_choice("coarse_map", coarse_map, HEAD_KINDS)
        self.video_encoder, self.audio_encoder, self.text_encoder = video_encoder, audio_encoder, text_encoder
        if design == "shared":
            self.spaces = {"vat": fine_dim}
            heads = {"v->vat": (dv, fine_dim), "a->vat": (da, fine_dim), "t->vat": (dt, fine_dim)}
        elif design == "disjoint":
            self.spaces = {"va": fine_dim, "vt": fine_dim}
            heads = {"v->va": (dv, fine_dim), "a->va": (da, fine_dim), "v->vt": (dv, fine_dim),
                     "t->vt": (dt, fine_dim)}
        else:
            self.spaces = {"va": fine_dim, "vat": coarse_dim}
            heads = {"v->va": (dv, fine_dim), "a->va": (da, fine_dim), "t->vat": (dt, coarse_dim)}
        self.heads = nn.ModuleDict({k: _head(head, i, o) for k, (i, o) in heads.items()})
        if design == "fac":
            self.heads["va->vat"] = _head(coarse_map, fine_dim, coarse_dim)

    # -- which space each modality and pair uses

    def space_of(self, pair: str) -> str:
        """The space where ``pair`` (``"va"`` or ``"vt"``) is compared: shared ``vat``/``vat``, disjoint
        ``va``/``vt``, FAC ``va``/``vat``."""
        check_choice("pair", pair, MMV_PAIRS)
        if self.design == "shared":
            return "vat"
        if self.design == "disjoint":
            return pair
        return "va" if pair == "va" else "vat"

    def spaces_of(self, modality: str) -> tuple[str, ...]:
        """The spaces ``modality`` (``"v"``, ``"a"`` or ``"t"``) can be embedded in. FAC's audio reaches ``vat``
        through ``g_{va->vat}`` (never used by the loss)."""
        check_choice("modality", modality, ("v", "a", "t"))
        if modality == "v":
            return tuple(self.spaces)
        if self.design == "fac":
            return ("va", "vat") if modality == "a" else ("vat",)
        return tuple(s for s in self.spaces if modality in s)

    def _check_space(self, modality: str, space: str) -> None:
        allowed = self.spaces_of(modality)
        if space not in allowed:
            names = {"v": "video", "a": "audio", "t": "text"}
            raise ValueError(f"space for {names[modality]} in the {self.design!r} design must be one of "
                             f"{allowed}, got {space!r}")

    # -- projections (callers have checked the space)

    def _project(self, modality: str, feature: torch.Tensor, space: str) -> torch.Tensor:
        """``f_m (N, d_m) -> z_{m,space} (N, d_space)``, unit rows."""
        if self.design == "fac" and space == "vat" and modality != "t":
            fine = self._project(modality, feature, "va")
            return F.normalize(self.heads["va->vat"](fine), dim=-1)
        return F.normalize(self.heads[f"{modality}->{space}"](feature), dim=-1)

    def _text_features(self, tokens: Any, lengths: Any, batch: int | None = None) -> tuple[torch.Tensor, tuple]:
        """Check a bag of sentences and encode it: ``(B, P, L), (B, P)`` or ``(B, L), (B,)`` -> ``f_t (B*P, d_t)``
        and the leading shape ``(B, P)`` or ``(B,)``."""
        b = "B" if batch is None else str(batch)
        if not isinstance(tokens, torch.Tensor) or tokens.dim() not in (2, 3):
            raise ValueError(f"tokens must be a LongTensor ({b}, P, L) (a bag of P sentences per clip) or ({b}, L), "
                             f"got {shape_text(tokens)}")
        lead = tuple(tokens.shape[:-1])
        if batch is not None and lead[0] != batch:
            raise ValueError(f"tokens must have shape ({b}, P, L) or ({b}, L), one row per clip ({b} clips), got "
                             f"{shape_text(tokens)}")
        if not isinstance(lengths, torch.Tensor) or tuple(lengths.shape) != lead:
            raise ValueError(f"lengths must have shape {lead} (the tokens' leading dimensions), got "
                             f"{shape_text(lengths)}")
        feats = self.text_encoder(tokens.reshape(-1, tokens.shape[-1]), lengths.reshape(-1))
        return feats, lead

    # -- public embeddings

    def embed_video(self, video: torch.Tensor, space: str) -> torch.Tensor:
        """``(B, T, C, H, W) -> z_{v,space} (B, spaces[space])``, unit rows."""
        self._check_space("v", space)
        return self._project("v", self.video_encoder.embed(video), space)

    def embed_audio(self, audio: torch.Tensor, space: str) -> torch.Tensor:
        """Log-mel ``(B, C, n_mels, F) -> z_{a,space} (B, spaces[space])``, unit rows."""
        self._check_space("a", space)
        return self._project("a", self.audio_encoder.embed(audio), space)

    def embed_text(self, tokens: torch.Tensor, lengths: torch.Tensor, space: str | None = None) -> torch.Tensor:
        """``tokens (B, L), lengths (B,) -> (B, d)`` or bags ``(B, P, L), (B, P) -> (B, P, d)``, unit rows, in
        ``space`` (default: text's only space, ``vat`` or ``vt``)."""
        space = self.spaces_of("t")[0] if space is None else space
        self._check_space("t", space)
        feats, lead = self._text_features(tokens, lengths)
        z = self._project("t", feats, space)
        return z.view(*lead, z.shape[-1])

    def pair_embeddings(self, video: torch.Tensor, audio: torch.Tensor | None = None,
                        tokens: torch.Tensor | None = None,
                        lengths: torch.Tensor | None = None) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
        """The embeddings each pair is compared with, in the pair's space (:meth:`space_of`).

        ``video (B, T, C, H, W)``; ``audio (B, C, n_mels, F)`` gives ``"va": (z_v (B, d), z_a (B, d))``; ``tokens
        (B, P, L)`` with ``lengths (B, P)`` (or ``(B, L)``, ``(B,)``) gives ``"vt": (z_v (B, d'), z_t (B, P, d'))``
        (or ``z_t (B, d')``). The video backbone runs once; only the heads a requested pair uses are applied,
        so gradients reach only them.
        """
        if audio is None and tokens is None:
            raise ValueError("pair_embeddings needs audio (B, C, n_mels, F) and/or tokens (B, P, L) with lengths")
        if tokens is not None and lengths is None:
            raise ValueError("tokens (B, P, L) need their lengths (B, P)")
        fv = self.video_encoder.embed(video)
        b = fv.shape[0]
        out: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
        if audio is not None:
            fa = self.audio_encoder.embed(audio)
            if fa.shape[0] != b:
                raise ValueError(f"audio must hold one spectrogram per clip: expected ({b}, C, n_mels, F), got "
                                 f"{shape_text(audio)}")
            s = self.space_of("va")
            out["va"] = (self._project("v", fv, s), self._project("a", fa, s))
        if tokens is not None:
            feats, lead = self._text_features(tokens, lengths, batch=b)
            s = self.space_of("vt")
            zt = self._project("t", feats, s)
            out["vt"] = (self._project("v", fv, s), zt.view(*lead, zt.shape[-1]))
        return out

    def forward(self, video: torch.Tensor, audio: torch.Tensor | None = None, tokens: torch.Tensor | None = None,
                lengths: torch.Tensor | None = None) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
        return self.pair_embeddings(video, audio, tokens, lengths)

    def extra_repr(self) -> str:
        return f"design={self.design!r}, spaces={self.spaces}, temperature={self.temperature}"


def check_pairs(pairs: Any) -> tuple[str, ...]:
    """``pairs`` as a tuple of distinct modality pairs from :data:`MMV_PAIRS` (``"va"``: video-audio, ``"vt"``:
    video-text); raises ``ValueError`` naming what was expected."""
    if isinstance(pairs, str) or not isinstance(pairs, Sequence) or not pairs:
        raise ValueError(f"pairs must be a non-empty sequence of {MMV_PAIRS} (v+a, v+t or both), got {pairs!r}")
    for p in pairs:
        check_choice("each of pairs", p, MMV_PAIRS)
    if len(set(pairs)) != len(pairs):
        raise ValueError(f"pairs must not repeat a pair, got {pairs!r}")
    return tuple(pairs)


def mmv_loss(model: MMV, batch: Mapping[str, torch.Tensor], step: int = 0, *, lambda_va: float = 1.0,
             lambda_vt: float = 1.0, pairs: Sequence[str] = MMV_PAIRS,
             symmetric: bool = True) -> tuple[torch.Tensor, dict[str, float]]:
    """MMV's multimodal contrastive loss on one batch; returns ``(loss, logs)``, as every loss of the kit.

    ``batch`` keys (``B`` clips):

    * ``"video"`` ``(B, T, C, H, W)`` float clips (always);
    * ``"audio"`` ``(B, C, n_mels, F)`` log-mel spectrograms (:func:`vidkit.data.audio.log_mel`), for ``"va"``;
    * ``"tokens"`` ``(B, P, L)`` long and ``"lengths"`` ``(B, P)``: a bag of ``P`` candidate sentences per clip
      (:mod:`vidkit.data.narration`, encoded with :meth:`vidkit.models.text.Vocabulary.encode`); ``(B, L)`` and
      ``(B,)`` mean one sentence per clip. Optional ``"text_mask"`` ``(B, P)`` bool: False marks an empty slot
      of a smaller bag (the slot must still hold a valid sentence, e.g. one ``<pad>`` with length 1). For ``"vt"``.

    With ``z`` the unit embeddings of :meth:`MMV.pair_embeddings` (each pair in its design's space) and
    ``tau = model.temperature``::

        L = lambda_va * NCE(z_v, z_a) + lambda_vt * MIL-NCE(z_v, z_t)      (terms of unselected pairs are absent)

    * ``NCE``: with ``symmetric=True`` (default) :func:`vidkit.losses.text_video_nce` on ``s_ij = z_v,i . z_a,j``,
      i.e. ``(L_v->a + L_a->v) / 2`` where ``L_v->a = -1/B sum_i log( exp(s_ii/tau) / sum_j exp(s_ij/tau) )``.
      MMV's formula ``-log( exp(s_ii/tau) / (exp(s_ii/tau) + sum_{negatives} ...) )`` is ``L_v->a`` with the
      other ``B - 1`` clips' audio as the negatives; ``symmetric=False`` computes exactly that one side
      (:func:`vidkit.losses.info_nce` ``(z_v, z_a)``), the default averages it with the audio -> video side.
    * ``MIL-NCE``: :func:`vidkit.losses.mil_nce` ``(z_v, z_t, tau, mask, symmetric)``: the numerator sums over
      the clip's whole bag (MMV's ``P(x)``), the negatives are the other clips' sentences.

    ``pairs``: a non-empty subset of ``("va", "vt")`` (v+a, v+t, or v+a+t); only the inputs and heads of the
    selected pairs are used, so the others get no gradient. ``lambda_va``, ``lambda_vt`` >= 0 (the seed summary
    reports loss weights of 10:1 on HowTo100M alone and 1:1 on HowTo100M + AudioSet). ``step`` is unused.
    ``model`` may be wrapped in ``DistributedDataParallel`` (as :func:`vidkit.train.train` does under torchrun): the
    embeddings are computed through the wrapper's forward, so the gradients are averaged over the processes.
    ``logs``: ``"nce_va"`` and/or ``"mil_nce_vt"`` (the unweighted terms).
    """
    core = unwrap(model)
    if not isinstance(core, MMV):
        raise TypeError(f"model must be an MMV (or one wrapped by DistributedDataParallel), got {type(core).__name__}")
    if not isinstance(batch, Mapping):
        raise TypeError(f"batch must be a dict with 'video', 'audio', 'tokens', 'lengths', got {type(batch).__name__}")
    pairs = check_pairs(pairs)
    lambda_va = check_real("lambda_va", lambda_va, 0.0, low_open=False)
    lambda_vt = check_real("lambda_vt", lambda_vt, 0.0, low_open=False)
    needed = ["video"] + (["audio"] if "va" in pairs else []) + (["tokens", "lengths"] if "vt" in pairs else [])
    missing = [k for k in needed if k not in batch]
    if missing:
        raise KeyError(f"batch needs {missing} for pairs {tuple(pairs)} ('video' (B, T, C, H, W), 'audio' "
                       f"(B, C, n_mels, F), 'tokens' (B, P, L), 'lengths' (B, P)); it has {sorted(batch)}")
    emb = model(batch["video"], batch["audio"] if "va" in pairs else None,   # through the wrapper: DDP syncs
                batch["tokens"] if "vt" in pairs else None, batch["lengths"] if "vt" in pairs else None)
    tau = core.temperature
    logs: dict[str, float] = {}
    loss = None
    if "va" in pairs:
        zv, za = emb["va"]
        nce = text_video_nce(zv @ za.T, tau) if symmetric else info_nce(zv, za, tau)
        logs["nce_va"] = float(nce.detach())
        loss = lambda_va * nce
    if "vt" in pairs:
        zv, zt = emb["vt"]
        if zt.dim() == 2:
            zt = zt[:, None]                                              # one sentence per clip: P = 1
        mil = mil_nce(zv, zt, tau, mask=batch.get("text_mask"), symmetric=symmetric)
        logs["mil_nce_vt"] = float(mil.detach())
        loss = lambda_vt * mil if loss is None else loss + lambda_vt * mil
    assert loss is not None
    return loss, logs


# ------------------------------------------------------------------------------------------------ deflation


class _FrameBlock(nn.Module):
    """``(B, c_in, H, W) -> (B, c_out, H / s, W / s)``: 3x3 conv, BatchNorm + ReLU, 1x1 conv, BatchNorm + ReLU: a
    :class:`vidkit.models.encoders.Conv2Plus1d` block with its temporal 3x1x1 kernel summed into a 1x1 one."""

    def __init__(self, c_in: int, c_out: int, s_stride: int = 1):
        super().__init__()
        self.spatial = nn.Conv2d(c_in, c_out, 3, stride=s_stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.temporal = nn.Conv2d(c_out, c_out, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn2(self.temporal(F.relu(self.bn1(self.spatial(x))))))


class ImageEncoder(nn.Module):
    """The image network of the same shape as :class:`vidkit.models.Conv3dEncoder`: ``embed(frames (B, C, H, W))
    -> (B, dim)``.

    Four blocks (3x3 conv, BN, ReLU, 1x1 conv, BN, ReLU) of widths ``width, 2*width, 4*width, 4*width``, space
    halved by blocks 1-3, global average pooling over (H, W), a linear layer to ``dim``. Parameter names and
    shapes match the video encoder's with time removed, so :func:`deflate` fills one from a trained video
    encoder; a fresh one is the 2D baseline trained on single frames.
    """

    def __init__(self, in_channels: int = 1, width: int = 16, dim: int = 128):
        super().__init__()
        for name, v in {"in_channels": in_channels, "width": width, "dim": dim}.items():
            check_int(name, v)
        self.in_channels, self.width, self.dim = in_channels, width, dim
        w = width
        self.blocks = nn.Sequential(_FrameBlock(in_channels, w, 2), _FrameBlock(w, 2 * w, 2),
                                    _FrameBlock(2 * w, 4 * w, 2), _FrameBlock(4 * w, 4 * w, 1))
        self.fc = nn.Linear(4 * w, dim)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, C, H, W) -> (B, 4*width, H', W')``: the last feature map (``H' = ceil(H / 8)``)."""
        if not isinstance(x, torch.Tensor) or not x.is_floating_point() or x.dim() != 4 \
                or x.shape[1] != self.in_channels or min(x.shape) < 1:
            got = f"{shape_text(x)} {x.dtype}" if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(f"ImageEncoder: expected float frames (B, {self.in_channels}, H, W), got {got}"
                             + (" (a clip? give single frames, e.g. clip[:, t])" if getattr(x, "ndim", 0) == 5
                                else ""))
        return self.blocks(x)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, C, H, W) -> (B, dim)``: the representation of single frames."""
        return self.fc(self.features(x).mean(dim=(2, 3)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.embed(x)


def still_clip(frames: torch.Tensor, num_frames: int) -> torch.Tensor:
    """Inflate single frames into still clips: ``(B, C, H, W) -> (B, num_frames, C, H, W)`` (a view, no copy)."""
    num_frames = check_int("num_frames", num_frames)
    if not isinstance(frames, torch.Tensor) or frames.dim() != 4:
        raise ValueError(f"frames must be a tensor (B, C, H, W), got {shape_text(frames)}")
    return frames[:, None].expand(-1, num_frames, -1, -1, -1)


@torch.no_grad()
def deflate(video_encoder: Conv3dEncoder) -> ImageEncoder:
    """Turn a video network into an image network by summing every 3D kernel over time (MMV's deflation).

    ``video_encoder``: a :class:`vidkit.models.Conv3dEncoder` (its blocks are :class:`Conv2Plus1d`: a 1x3x3
    spatial conv, BatchNorm3d, ReLU, a 3x1x1 temporal conv, BatchNorm3d, ReLU). Returns an :class:`ImageEncoder`
    (on the encoder's device and dtype, in **eval mode**) with

    * spatial kernels ``(o, i, 1, 3, 3) -> (o, i, 3, 3)`` (the sum over a single time tap);
    * temporal kernels ``(o, i, 3, 1, 1) -> (o, i, 1, 1)``, ``W2 = W3[:, :, 0] + W3[:, :, 1] + W3[:, :, 2]``:
      on a still input every tap sees the same frame, so the three taps act as their sum;
    * temporal strides dropped (a still clip is the same at every time step);
    * **normalisation**: every ``BatchNorm3d`` becomes a ``BatchNorm2d`` with the same affine parameters and the
      same running statistics. The statistics stay those the video network collected on *moving* clips, which
      is what the video network itself applies to a still clip in eval mode: the deflated network reproduces
      the video network on still clips, not a network normalised for still images. MMV notes that the
      activation statistics of still inputs differ from those of video; :func:`recalibrate_batchnorm`
      re-estimates them on frames instead (the deflated network's BN in *train* mode also normalises with the
      frames' own batch statistics). The encoder holds no other normalisation (no GroupNorm or LayerNorm).

    **Precise relation** (eval mode, ``x`` frames ``(B, C, H, W)``, ``clip = still_clip(x, T)``): the temporal
    convolutions pad time with zeros, so only the time steps whose receptive field stays inside the clip are
    exact. After the four blocks (time ``T -> T / 4``), the video encoder's last feature map at time steps
    ``2 .. T/4 - 2`` equals ``deflated.features(x)`` (up to float error) for ``T`` a multiple of 4, ``T >= 16``;
    the first two steps and the last one see the zero padding. Hence the pooled embedding obeys, for such ``T``,
    ``video.embed(clip) = deflated.embed(x) + c(x) / (T / 4)`` with ``c(x)`` independent of ``T``: the
    difference is the end effect, shrinking as ``1 / T``. (The zero padding is the only difference: a still
    clip with "replicate" temporal padding would match exactly at every step.)
    """
    if not isinstance(video_encoder, Conv3dEncoder):
        raise TypeError(f"deflate takes a Conv3dEncoder (blocks of Conv2Plus1d), got {type(video_encoder).__name__}")
    for i, block in enumerate(video_encoder.blocks):
        if not isinstance(block, Conv2Plus1d):
            raise TypeError(f"deflate: block {i} is a {type(block).__name__}, expected a Conv2Plus1d")
        for name in ("bn1", "bn2"):
            bn = getattr(block, name)
            if type(bn) is not nn.BatchNorm3d:
                raise TypeError(f"deflate: blocks.{i}.{name} is a {type(bn).__name__}; only BatchNorm3d is converted")
    ref = video_encoder.fc.weight
    image = ImageEncoder(video_encoder.in_channels, video_encoder.width, video_encoder.dim).to(ref)
    for b3, b2 in zip(video_encoder.blocks, image.blocks, strict=True):
        if tuple(b3.spatial.stride[1:]) != tuple(b2.spatial.stride):
            raise ValueError(f"deflate: spatial stride {b3.spatial.stride} does not match the image network's "
                             f"{b2.spatial.stride}")
        for bn2 in (b2.bn1, b2.bn2):
            bn3 = b3.bn1 if bn2 is b2.bn1 else b3.bn2
            bn2.eps, bn2.momentum = bn3.eps, bn3.momentum
    state = video_encoder.state_dict()
    for key in list(state):
        if key.endswith(("spatial.weight", "temporal.weight")):
            state[key] = state[key].sum(dim=2)                    # (o, i, k_t, k_h, k_w) -> (o, i, k_h, k_w)
    image.load_state_dict(state)
    return image.eval()


@torch.no_grad()
def recalibrate_batchnorm(model: nn.Module, frames: torch.Tensor, batch_size: int = 64) -> nn.Module:
    """Re-estimate every batch norm's running statistics of ``model`` on ``frames`` ``(N, C, H, W)``, in place.

    Statistics are reset and accumulated as an exact average over batches of ``batch_size`` (``momentum=None``
    during the pass, restored afterwards); weights and affine parameters are untouched. Use it on a deflated
    :class:`ImageEncoder` to normalise with still images' statistics instead of the video's. Returns ``model``,
    in eval mode.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
    if not isinstance(frames, torch.Tensor) or not frames.is_floating_point() or frames.dim() != 4 \
            or frames.shape[0] < 2:
        raise ValueError(f"frames must be float frames (N, C, H, W) with N >= 2, got {shape_text(frames)}")
    batch_size = check_int("batch_size", batch_size, 2)
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats]
    if not norms:
        raise ValueError(f"{type(model).__name__} has no batch norm with running statistics to recalibrate")
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None
    model.train()
    try:
        for lo in range(0, len(frames), batch_size):
            chunk = frames[lo:lo + batch_size]
            if len(chunk) >= 2:                                  # a batch norm needs 2 samples in train mode
                model(chunk)
    finally:
        for m, mom in zip(norms, momenta, strict=True):
            m.momentum = mom
    return model.eval()


def fit_deflated_batchnorm(image: ImageEncoder, video_encoder: Conv3dEncoder, frames: torch.Tensor,
                           num_frames: int, *, steps: int = 200, lr: float = 1e-2, batch_size: int = 64,
                           seed: int = 0) -> ImageEncoder:
    """MMV's deflation, second half: learn the batch norms' ``gamma`` and ``beta`` of a deflated network so that
    on a frame it outputs what the video network outputs on the still clip of that frame. In place.

    With ``x`` frames ``(N, C, H, W)`` (unlabelled: any images), ``f_img`` = ``image.embed`` (batch norms in
    eval mode: the running statistics stay fixed; only every batch norm's affine ``weight`` and ``bias`` are
    trained, every convolution and the final linear layer are frozen) and ``f_vid`` = ``video_encoder.embed``
    (eval mode, not trained)::

        min_{gamma, beta}  mean_i || f_img(x_i) - f_vid(still_clip(x_i, num_frames)) ||_1

    by Adam (``lr``) for ``steps`` steps on seeded random batches of ``batch_size`` frames. :func:`deflate` alone
    (the *naive* deflation) differs from the video network on a still clip by the temporal zero padding's end
    effect (see :func:`deflate`); the fitted affine parameters absorb what they can of it. MMV fits the same L1
    objective on ImageNet frames with S3D / TSM-ResNet backbones; here any frames of the training clips serve.
    Returns ``image`` in eval mode.
    """
    if not isinstance(image, ImageEncoder):
        raise TypeError(f"image must be an ImageEncoder (from deflate), got {type(image).__name__}")
    if not isinstance(video_encoder, Conv3dEncoder):
        raise TypeError(f"video_encoder must be a Conv3dEncoder, got {type(video_encoder).__name__}")
    if not isinstance(frames, torch.Tensor) or not frames.is_floating_point() or frames.dim() != 4 \
            or frames.shape[1] != image.in_channels or len(frames) < 2:
        raise ValueError(f"frames must be float frames (N >= 2, {image.in_channels}, H, W), got {shape_text(frames)}")
    num_frames = check_int("num_frames", num_frames)
    steps, batch_size = check_int("steps", steps), check_int("batch_size", batch_size, 2)
    lr = check_real("lr", lr, 0.0)
    was_video = video_encoder.training
    video_encoder.eval()
    try:
        with torch.no_grad():
            target = torch.cat([video_encoder.embed(still_clip(frames[i:i + 256], num_frames))
                                for i in range(0, len(frames), 256)])
    finally:
        video_encoder.train(was_video)
    norms = [m for m in image.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    affine = [p for m in norms for p in (m.weight, m.bias)]
    wanted = {id(p) for p in affine}
    trainable = {n: p.requires_grad for n, p in image.named_parameters()}
    for p in image.parameters():
        p.requires_grad_(id(p) in wanted)
    opt = torch.optim.Adam(affine, lr=lr)
    gen = torch.Generator().manual_seed(int(seed))
    image.eval()                                                  # fixed statistics: only gamma and beta learn
    try:
        for _ in range(steps):
            idx = torch.randint(0, len(frames), (min(batch_size, len(frames)),), generator=gen)
            loss = (image.embed(frames[idx]) - target[idx]).abs().mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    finally:
        for n, p in image.named_parameters():
            p.requires_grad_(trainable[n])
    return image.eval()
