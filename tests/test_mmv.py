"""vidkit.models.mmv: MMV's three space designs, its loss against hand-computed formulas, which heads each pair
trains, a short training run, deflation of the video network (exact on still clips away from the ends) and bad
inputs."""

from __future__ import annotations

import itertools

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from vidkit.losses import mil_nce
from vidkit.models.encoders import Conv3dEncoder
from vidkit.models.mmv import (
    MMV,
    MMV_DESIGNS,
    AudioEncoder,
    ImageEncoder,
    deflate,
    fit_deflated_batchnorm,
    mmv_loss,
    recalibrate_batchnorm,
    still_clip,
)
from vidkit.models.text import TextEncoder
from vidkit.train import TrainConfig, train

pytestmark = pytest.mark.usefixtures("one_torch_thread")

B, P, L, N_MELS, VOCAB = 4, 3, 5, 16, 12
TAU = 0.07


def make_model(design: str = "fac", seed: int = 0, **kwargs) -> MMV:
    torch.manual_seed(seed)
    return MMV(Conv3dEncoder(1, width=4, dim=16), AudioEncoder(2, n_mels=N_MELS, width=4, dim=12),
               TextEncoder(VOCAB, word_dim=8, hidden=16, out_dim=10), design, **{"fine_dim": 8, "coarse_dim": 6,
                                                                                 **kwargs})


def make_batch(seed: int = 0, b: int = B) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(1, L + 1, (b, P), generator=g)
    tokens = torch.randint(2, VOCAB, (b, P, L), generator=g)
    tokens[torch.arange(L)[None, None] >= lengths[..., None]] = 0
    return {"video": torch.rand(b, 4, 1, 16, 16, generator=g), "audio": torch.randn(b, 2, N_MELS, 8, generator=g),
            "tokens": tokens, "lengths": lengths}


def pairs_of(model: MMV, batch: dict) -> dict:
    return model.pair_embeddings(batch["video"], batch["audio"], batch["tokens"], batch["lengths"])


# ------------------------------------------------------------------------------------------- designs and shapes


@pytest.mark.parametrize("design", MMV_DESIGNS)
def test_shapes_spaces_and_unit_norm(design):
    model, batch = make_model(design).eval(), make_batch()
    expected_spaces = {"fac": {"va": 8, "vat": 6}, "shared": {"vat": 8}, "disjoint": {"va": 8, "vt": 8}}[design]
    assert model.spaces == expected_spaces
    emb = pairs_of(model, batch)
    dva, dvt = model.spaces[model.space_of("va")], model.spaces[model.space_of("vt")]
    assert [tuple(z.shape) for z in emb["va"]] == [(B, dva), (B, dva)]
    assert [tuple(z.shape) for z in emb["vt"]] == [(B, dvt), (B, P, dvt)]
    for z in [*emb["va"], *emb["vt"]]:
        torch.testing.assert_close(z.norm(dim=-1), torch.ones(z.shape[:-1]))
    # one sentence per clip: (B, L), (B,) -> (B, d)
    one = model.pair_embeddings(batch["video"], tokens=batch["tokens"][:, 0], lengths=batch["lengths"][:, 0])
    assert tuple(one["vt"][1].shape) == (B, dvt) and "va" not in one
    # the public single-modality embeddings agree with the pair embeddings
    for s in model.spaces_of("v"):
        assert tuple(model.embed_video(batch["video"], s).shape) == (B, model.spaces[s])
    torch.testing.assert_close(model.embed_video(batch["video"], model.space_of("va")), emb["va"][0])
    torch.testing.assert_close(model.embed_audio(batch["audio"], model.space_of("va")), emb["va"][1])
    torch.testing.assert_close(model.embed_text(batch["tokens"], batch["lengths"]), emb["vt"][1])


def test_fac_text_meets_video_only_through_the_fine_to_coarse_map():
    model, batch = make_model("fac").eval(), make_batch()
    assert set(model.heads) == {"v->va", "a->va", "va->vat", "t->vat"}     # no v->vat, no a->t head
    assert model.spaces_of("a") == ("va", "vat") and model.spaces_of("t") == ("vat",)
    fine = model.embed_video(batch["video"], "va")
    coarse = model.embed_video(batch["video"], "vat")
    torch.testing.assert_close(coarse, F.normalize(model.heads["va->vat"](fine), dim=1))
    emb = pairs_of(model, batch)
    torch.testing.assert_close(emb["va"][0], fine)
    torch.testing.assert_close(emb["vt"][0], coarse)
    # audio reaches the coarse space by the same map (for test-time audio-text retrieval)
    torch.testing.assert_close(model.embed_audio(batch["audio"], "vat"),
                               F.normalize(model.heads["va->vat"](model.embed_audio(batch["audio"], "va")), dim=1))
    # changing the map changes the video-text embedding of video, not the video-audio one
    with torch.no_grad():
        for p in model.heads["va->vat"].parameters():
            p.add_(0.5)
    emb2 = pairs_of(model, batch)
    torch.testing.assert_close(emb2["va"][0], fine)
    assert not torch.allclose(emb2["vt"][0], coarse)
    torch.testing.assert_close(emb2["vt"][1], emb["vt"][1])                 # text itself does not move


def test_disjoint_gives_video_two_embeddings_and_shared_one():
    batch = make_batch()
    emb = pairs_of(make_model("disjoint").eval(), batch)
    assert emb["va"][0].shape == emb["vt"][0].shape
    assert (emb["va"][0] - emb["vt"][0]).abs().max() > 1e-3
    shared = make_model("shared").eval()
    emb = pairs_of(shared, batch)
    torch.testing.assert_close(emb["va"][0], emb["vt"][0])
    assert set(shared.heads) == {"v->vat", "a->vat", "t->vat"}


def test_head_kinds():
    lin = make_model("fac", head="linear", coarse_map="linear")
    mlp = make_model("fac", head="mlp", coarse_map="mlp")
    assert all(isinstance(h, nn.Linear) for h in lin.heads.values())
    assert not any(isinstance(h, nn.Linear) for h in mlp.heads.values())
    assert isinstance(make_model("fac").heads["va->vat"], nn.Module)


# -------------------------------------------------------------------------------------------------------- loss


def nce_by_hand(zv, za, tau, symmetric=True):
    s = zv @ za.T / tau
    d = s.diagonal()
    v2a = (torch.logsumexp(s, dim=1) - d).mean()
    a2v = (torch.logsumexp(s, dim=0) - d).mean()
    return (v2a + a2v) / 2 if symmetric else v2a


@pytest.mark.parametrize("design", MMV_DESIGNS)
@pytest.mark.parametrize("symmetric", [True, False])
def test_loss_equals_the_formula(design, symmetric):
    model, batch = make_model(design).eval(), make_batch(1)
    loss, logs = mmv_loss(model, batch, 0, lambda_va=0.3, lambda_vt=2.0, symmetric=symmetric)
    with torch.no_grad():
        emb = pairs_of(model, batch)
        nce = nce_by_hand(*emb["va"], TAU, symmetric)
        mil = mil_nce(*emb["vt"], TAU, symmetric=symmetric)
    assert model.temperature == TAU
    torch.testing.assert_close(loss.detach(), 0.3 * nce + 2.0 * mil)
    assert logs == pytest.approx({"nce_va": float(nce), "mil_nce_vt": float(mil)}, rel=1e-5)
    if not symmetric:    # MIL-NCE's one side by hand too: -log( sum_p exp(s_iip) / sum_jp exp(s_ijp) )
        zv, zt = emb["vt"]
        s = torch.einsum("id,jpd->ijp", zv, zt) / TAU
        by_hand = (torch.logsumexp(s.flatten(1), 1) - torch.logsumexp(s.diagonal().T, 1)).mean()
        torch.testing.assert_close(mil, by_hand)


def test_text_mask_reaches_mil_nce():
    model, batch = make_model("fac").eval(), make_batch(2)
    mask = torch.ones(B, P, dtype=torch.bool)
    mask[:, 1:] = False
    _, logs = mmv_loss(model, {**batch, "text_mask": mask}, pairs=("vt",))
    with torch.no_grad():
        zv, zt = pairs_of(model, batch)["vt"]
    assert logs["mil_nce_vt"] == pytest.approx(float(mil_nce(zv, zt[:, :1], TAU)), rel=1e-5)


@torch.no_grad()
def test_pair_selection_and_lambda_weights():
    model, batch = make_model("fac").eval(), make_batch(3)
    full, logs = mmv_loss(model, batch)
    nce, mil = logs["nce_va"], logs["mil_nce_vt"]
    assert float(full) == pytest.approx(nce + mil, rel=1e-5)
    va, logs_va = mmv_loss(model, {k: batch[k] for k in ("video", "audio")}, pairs=("va",), lambda_vt=5.0)
    assert float(va) == pytest.approx(nce, rel=1e-5) and set(logs_va) == {"nce_va"}
    vt, logs_vt = mmv_loss(model, {k: batch[k] for k in ("video", "tokens", "lengths")}, pairs=["vt"],
                           lambda_va=5.0)
    assert float(vt) == pytest.approx(mil, rel=1e-5) and set(logs_vt) == {"mil_nce_vt"}
    for lva, lvt in [(2.0, 0.0), (0.0, 3.0), (0.5, 10.0)]:
        loss, _ = mmv_loss(model, batch, lambda_va=lva, lambda_vt=lvt)
        assert float(loss) == pytest.approx(lva * nce + lvt * mil, rel=1e-5)


USED_HEADS = {
    ("fac", "va"): {"v->va", "a->va"}, ("fac", "vt"): {"v->va", "va->vat", "t->vat"},
    ("shared", "va"): {"v->vat", "a->vat"}, ("shared", "vt"): {"v->vat", "t->vat"},
    ("disjoint", "va"): {"v->va", "a->va"}, ("disjoint", "vt"): {"v->vt", "t->vt"},
}


@pytest.mark.parametrize("design", MMV_DESIGNS)
@pytest.mark.parametrize("pairs", [("va",), ("vt",), ("va", "vt")])
def test_gradients_reach_only_the_heads_the_pairs_use(design, pairs):
    model, batch = make_model(design), make_batch(4)
    loss, _ = mmv_loss(model, batch, pairs=pairs)
    loss.backward()

    def trained(module):
        return any(p.grad is not None and p.grad.abs().sum() > 0 for p in module.parameters())

    used = set().union(*(USED_HEADS[design, p] for p in pairs))
    assert {name for name, head in model.heads.items() if trained(head)} == used
    assert trained(model.video_encoder)
    assert trained(model.audio_encoder) == ("va" in pairs)
    assert trained(model.text_encoder) == ("vt" in pairs)


def test_training_reduces_the_loss_when_audio_carries_the_label():
    """8 clips with 4 labels: the audio holds a loud band at a label's mel bins, the video a square at a label's
    position, the single sentence names the label. 30 steps of the kit's loop lower the v+a+t loss."""
    g = torch.Generator().manual_seed(0)
    n, labels = 8, torch.arange(8) % 4
    video = 0.1 * torch.rand(n, 4, 1, 16, 16, generator=g)
    audio = torch.randn(n, 2, N_MELS, 8, generator=g) - 6.0
    for i, y in enumerate(labels.tolist()):
        video[i, :, 0, 4 * y:4 * y + 4, 4:12] += 1.0
        audio[i, :, 4 * y:4 * y + 4] += 8.0
    tokens = (2 + labels)[:, None, None].expand(n, 2, 1).clone()
    tokens[:, 1] = 10                                                       # a filler word in every bag
    batch = {"video": video, "audio": audio, "tokens": tokens, "lengths": torch.ones(n, 2, dtype=torch.long)}
    model = make_model("fac", seed=1)
    with torch.no_grad():
        before = float(mmv_loss(model, batch)[0])
    result = train(model, mmv_loss, itertools.repeat(batch),
                   TrainConfig(steps=30, lr=1e-2, log_every=10, device="cpu", ckpt_every=None), progress=False)
    with torch.no_grad():
        after, logs = mmv_loss(model, batch)
    assert result.history and {"nce_va", "mil_nce_vt"} <= set(result.history[-1])
    assert float(after) < 0.7 * before, (before, float(after), logs)
    print(f"loss {before:.3f} -> {float(after):.3f}", logs)


def test_runs_on_the_kits_audio_and_narration():
    """The data layer's sound tracks (log-mel, 80 bins, stereo) and narration bags feed the default AudioEncoder
    and a TextEncoder; the aligned sentences can mask the bags (clean captions)."""
    from vidkit.data.actions import generate_actions
    from vidkit.data.audio import clip_audio, log_mel, mel_frames_per_video_frame
    from vidkit.data.narration import narrate
    from vidkit.models.text import Vocabulary

    clips = generate_actions(4, seed=0, num_frames=4, size=16)
    mel = log_mel(clip_audio(clips, seed=0).audio)
    assert tuple(mel.shape) == (4, 2, 80, 4 * mel_frames_per_video_frame())
    narration = narrate(clips, seed=0)
    vocab = Vocabulary.build(narration.texts())
    m = len(narration.sentences[0])
    tokens, lengths = vocab.encode(narration.texts(), max_len=12)
    batch = {"video": torch.from_numpy(clips.frames).float()[:, :, None] / 255, "audio": mel,
             "tokens": tokens.view(4, m, 12), "lengths": lengths.view(4, m),
             "text_mask": torch.from_numpy(narration.aligned)}
    torch.manual_seed(0)
    model = MMV(Conv3dEncoder(1, width=4, dim=16), AudioEncoder(width=4, dim=16),
                TextEncoder(len(vocab), word_dim=8, hidden=16, out_dim=16))
    loss, logs = mmv_loss(model, batch)
    assert torch.isfinite(loss) and set(logs) == {"nce_va", "mil_nce_vt"}


# --------------------------------------------------------------------------------------------------- deflation


@pytest.fixture(scope="module")
def video_encoder():
    """A Conv3dEncoder with non-trivial batch-norm statistics and affine parameters, in eval mode."""
    torch.manual_seed(0)
    enc = Conv3dEncoder(1, width=4, dim=8).double()
    with torch.no_grad():
        enc.train()
        enc(torch.rand(4, 8, 1, 16, 16, dtype=torch.float64) * torch.linspace(0, 1, 8).double()[:, None, None, None])
        for m in enc.modules():
            if isinstance(m, nn.BatchNorm3d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
    return enc.eval()


def test_deflated_network_matches_the_video_network_on_a_still_clip(video_encoder):
    image = deflate(video_encoder)
    assert isinstance(image, ImageEncoder) and not image.training
    assert not any(isinstance(m, (nn.Conv3d, nn.BatchNorm3d)) for m in image.modules())
    x = torch.rand(3, 1, 16, 16, dtype=torch.float64)
    f2 = image.features(x)                                                  # (3, 16, 2, 2)
    scaled = []
    with torch.no_grad():
        for t in (16, 32, 64):
            clip = still_clip(x, t)
            h = video_encoder.blocks(clip.transpose(1, 2))                   # (3, 16, T/4, 2, 2)
            assert h.shape[2] == t // 4
            for step in range(2, t // 4 - 1):                                # away from the zero padding: exact
                torch.testing.assert_close(h[:, :, step], f2, rtol=1e-9, atol=1e-12)
            assert (h[:, :, 0] - f2).abs().max() > 1e-6                     # the first step sees the padding
            scaled.append((video_encoder.embed(clip) - image.embed(x)) * (t // 4))
    # the pooled embeddings differ by an end effect c(x) / (T / 4), c independent of T
    torch.testing.assert_close(scaled[0], scaled[1])
    torch.testing.assert_close(scaled[0], scaled[2])


def test_deflation_sums_kernels_and_keeps_batch_norm_statistics(video_encoder):
    image = deflate(video_encoder)
    b3, b2 = video_encoder.blocks[2], image.blocks[2]
    torch.testing.assert_close(b2.temporal.weight[..., 0, 0], b3.temporal.weight[:, :, :, 0, 0].sum(dim=2))
    torch.testing.assert_close(b2.spatial.weight, b3.spatial.weight[:, :, 0])
    torch.testing.assert_close(b2.bn2.running_var, b3.bn2.running_var)
    torch.testing.assert_close(b2.bn1.bias, b3.bn1.bias)
    assert image.fc.weight.dtype == torch.float64
    # the 2D baseline has the same shape: same parameter names and shapes
    baseline = ImageEncoder(1, width=4, dim=8)
    assert {k: v.shape for k, v in baseline.state_dict().items()} == {k: v.shape for k, v in image.state_dict().items()}
    # deflation copies: training the image network leaves the video network alone
    with torch.no_grad():
        image.fc.weight.add_(1.0)
    assert not torch.allclose(image.fc.weight, video_encoder.fc.weight)


def test_recalibrate_batchnorm_uses_the_frames_statistics(video_encoder):
    image = deflate(video_encoder)
    frames = torch.rand(10, 1, 16, 16, dtype=torch.float64)
    first_bias = image.blocks[0].bn1.bias.clone()
    recalibrate_batchnorm(image, frames, batch_size=5)
    assert not image.training
    with torch.no_grad():
        pre = image.blocks[0].spatial(frames)
    torch.testing.assert_close(image.blocks[0].bn1.running_mean, pre.mean(dim=(0, 2, 3)))
    torch.testing.assert_close(image.blocks[0].bn1.bias, first_bias)
    assert image.blocks[0].bn1.momentum == video_encoder.blocks[0].bn1.momentum


def test_fit_deflated_batchnorm_moves_only_gamma_and_beta_towards_the_still_clip(video_encoder):
    image = deflate(video_encoder)
    frames = torch.rand(32, 1, 16, 16, dtype=torch.float64)
    target = video_encoder.embed(still_clip(frames, 8)).detach()
    before = {k: v.clone() for k, v in image.state_dict().items()}
    gap = (image.embed(frames) - target).abs().mean().item()
    fit_deflated_batchnorm(image, video_encoder, frames, 8, steps=60, lr=1e-2, batch_size=16)
    after = image.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed and all(k.endswith(("bn1.weight", "bn1.bias", "bn2.weight", "bn2.bias")) for k in changed)
    assert (image.embed(frames) - target).abs().mean().item() < 0.8 * gap          # the L1 gap shrank
    assert not image.training and all(p.requires_grad for p in image.parameters())
    assert not video_encoder.training
    with pytest.raises(ValueError, match=r"frames must be float frames \(N >= 2, 1, H, W\)"):
        fit_deflated_batchnorm(image, video_encoder, frames[:, :, 0], 8)


def test_deflate_rejects_other_networks():
    with pytest.raises(TypeError, match="Conv3dEncoder"):
        deflate(AudioEncoder())
    enc = Conv3dEncoder(1, width=2, dim=4)
    enc.blocks[1].bn2 = nn.GroupNorm(1, 4)
    with pytest.raises(TypeError, match="GroupNorm.*BatchNorm3d"):
        deflate(enc)


# -------------------------------------------------------------------------------------------------- bad inputs


def test_bad_inputs_raise_clear_errors():
    model, batch = make_model("fac"), make_batch()
    with pytest.raises(ValueError, match="design must be 'fac', 'shared' or 'disjoint'"):
        make_model("joint")
    with pytest.raises(ValueError, match="fine_dim must be a positive int"):
        make_model("fac", fine_dim=0)
    with pytest.raises(ValueError, match="temperature"):
        make_model("fac", temperature=0.0)
    with pytest.raises(ValueError, match="head must be 'linear' or 'mlp'"):
        make_model("fac", head="gated")
    with pytest.raises(TypeError, match="audio_encoder needs an int attribute dim"):
        MMV(Conv3dEncoder(1, 4, 16), nn.Linear(2, 2), TextEncoder(VOCAB, 8, 16, 10))
    # wrong shapes name the expected one
    with pytest.raises(ValueError, match=r"\(B, 2, 16, F\)"):
        mmv_loss(model, {**batch, "audio": torch.randn(B, 2, 80, 8)})
    with pytest.raises(ValueError, match=r"\(B, 2, 16, F\)"):
        mmv_loss(model, {**batch, "audio": torch.randn(B, 16, 8)})
    with pytest.raises(ValueError, match=r"expected \(4, C, n_mels, F\)"):
        mmv_loss(model, {**batch, "audio": torch.randn(B + 1, 2, N_MELS, 8)})
    with pytest.raises(ValueError, match=r"\(B, T, 1, H, W\)"):
        mmv_loss(model, {**batch, "video": torch.rand(B, 4, 3, 16, 16)})
    with pytest.raises(ValueError, match=r"tokens must have shape \(4, P, L\)"):
        mmv_loss(model, {**batch, "tokens": batch["tokens"][:2], "lengths": batch["lengths"][:2]})
    with pytest.raises(ValueError, match=r"tokens must be a LongTensor \(4, P, L\)"):
        mmv_loss(model, {**batch, "tokens": batch["tokens"][None]})
    with pytest.raises(ValueError, match=r"lengths must have shape \(4, 3\)"):
        mmv_loss(model, {**batch, "lengths": batch["lengths"][:, 0]})
    # pairs, lambdas, keys
    with pytest.raises(ValueError, match="each of pairs must be 'va' or 'vt', got 'at'"):
        mmv_loss(model, batch, pairs=("va", "at"))
    for bad in ("va", (), ("va", "va")):
        with pytest.raises(ValueError, match="pairs"):
            mmv_loss(model, batch, pairs=bad)
    with pytest.raises(ValueError, match="lambda_vt must be a finite number"):
        mmv_loss(model, batch, lambda_vt=-1.0)
    with pytest.raises(KeyError, match="'audio'"):
        mmv_loss(model, {k: batch[k] for k in ("video", "tokens", "lengths")})
    with pytest.raises(TypeError, match="model must be an MMV"):
        mmv_loss(model.video_encoder, batch)
    # spaces a modality cannot reach
    with pytest.raises(ValueError, match=r"text in the 'fac' design must be one of \('vat',\)"):
        model.embed_text(batch["tokens"], batch["lengths"], "va")
    with pytest.raises(ValueError, match="space for audio"):
        make_model("disjoint").embed_audio(batch["audio"], "vt")
    with pytest.raises(ValueError, match="pair must be 'va' or 'vt'"):
        model.space_of("at")
    with pytest.raises(ValueError, match="needs audio"):
        model.pair_embeddings(batch["video"])
    # the image network wants single frames
    with pytest.raises(ValueError, match=r"\(B, 1, H, W\).*single frames"):
        ImageEncoder(1, 4, 8)(batch["video"])
    with pytest.raises(ValueError, match=r"\(B, C, H, W\)"):
        still_clip(batch["video"], 4)
    with pytest.raises(ValueError, match="num_frames must be a positive int"):
        still_clip(batch["video"][:, 0], 0)
