"""Text side of text-video retrieval: tokenizer, vocabulary, encoders, the three ranking losses (against
brute-force loops), instance captions, and a tiny VideoTextModel training run."""

import dataclasses
import math
import warnings

import numpy as np
import pytest
import torch

from vidkit.data.actions import generate_actions, instance_captions
from vidkit.losses import max_margin_ranking, mil_nce, text_video_nce
from vidkit.models import Conv3dEncoder
from vidkit.models.text import GatedEmbeddingUnit, TextEncoder, VideoTextModel, Vocabulary, tokenize

pytestmark = pytest.mark.usefixtures("one_torch_thread")

CAPTIONS = ["a 7 moves left", "the digit seven is rotating clockwise", "a 3 zooms in slowly",
            "digit 3 moves left quickly, alone", "a handwritten eight shrinks"]


def rand(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


# ----------------------------------------------------------------------------- tokenizer and vocabulary

def test_tokenize_lowercases_and_splits_words_and_digits():
    assert tokenize("A 7 spins Counter-Clockwise!") == ["a", "7", "spins", "counter", "clockwise"]
    assert tokenize("digit7, top-left") == ["digit", "7", "top", "left"]
    assert tokenize("12") == ["1", "2"]
    assert tokenize("  ...  ") == []
    with pytest.raises(TypeError, match="str"):
        tokenize(7)


def test_vocabulary_build_min_count_and_specials():
    vocab = Vocabulary.build(CAPTIONS)
    assert vocab.words[:2] == ["<pad>", "<unk>"]
    assert vocab.words[2] == "a"                       # the most frequent word first
    assert "moves" in vocab and "<pad>" not in vocab and "zebra" not in vocab
    frequent = Vocabulary.build(CAPTIONS, min_count=2)
    assert set(frequent.words[2:]) == {"a", "3", "moves", "left", "digit"}
    with pytest.raises(ValueError, match="min_count"):
        Vocabulary.build(CAPTIONS, min_count=0)
    with pytest.raises(ValueError, match="no word occurs"):
        Vocabulary.build(CAPTIONS, min_count=100)
    with pytest.raises(ValueError, match="empty"):
        Vocabulary.build([])
    with pytest.raises(ValueError, match="one token"):
        Vocabulary(["top-left"])


def test_encode_pads_truncates_and_marks_unknown_words():
    vocab = Vocabulary.build(CAPTIONS)
    tokens, lengths = vocab.encode(["a 7 moves left", "a zebra"])
    assert tokens.dtype == torch.long and tokens.shape == (2, 4) and lengths.tolist() == [4, 2]
    assert tokens[1].tolist() == [vocab.stoi["a"], 1, 0, 0]            # <unk> = 1, <pad> = 0
    assert vocab.decode(tokens, lengths) == ["a 7 moves left", "a <unk>"]
    tokens, lengths = vocab.encode("a 7 moves left", max_len=2)
    assert tokens.shape == (1, 2) and lengths.tolist() == [2]
    tokens, lengths = vocab.encode(["a 7"], max_len=6)                  # L = max_len: fixed shapes
    assert tokens.shape == (1, 6) and tokens[0, 2:].eq(0).all()
    with pytest.raises(ValueError, match="no words"):
        vocab.encode(["a 7", "!!"])
    with pytest.raises(ValueError, match="max_len"):
        vocab.encode("a 7", max_len=0)
    with pytest.raises(TypeError, match="str"):
        vocab.encode([3])


def test_encode_query_drops_unknown_words_with_a_warning():
    vocab = Vocabulary.build(CAPTIONS)
    assert vocab.unknown_words("A purple 7 moves left, purple!") == ["purple"]
    with pytest.warns(UserWarning, match="purple"):
        tokens, lengths = vocab.encode_query("A purple 7 moves left, purple!")
    expected, expected_len = vocab.encode("a 7 moves left")
    assert torch.equal(tokens, expected) and torch.equal(lengths, expected_len)
    with warnings.catch_warnings():
        warnings.simplefilter("error")                                   # known words only: no warning
        vocab.encode_query("a 7 moves left")


def test_encode_query_with_no_known_word_raises_a_clear_error():
    vocab = Vocabulary.build(CAPTIONS)
    with pytest.raises(ValueError, match=r"none of its words.*purple, zebra.*e\.g\. 'a'"):
        vocab.encode_query("purple zebra")
    with pytest.raises(ValueError, match="has no words"):
        vocab.encode_query("?!")


# ----------------------------------------------------------------------------- modules

def test_gated_embedding_unit_formula_shape_and_norm():
    torch.manual_seed(0)
    geu = GatedEmbeddingUnit(6, 4).double()
    x = rand(5, 6)
    y = geu(x)
    z = x @ geu.fc.weight.T + geu.fc.bias
    manual = torch.sigmoid(z @ geu.gate.weight.T + geu.gate.bias) * z
    assert y.shape == (5, 4)
    torch.testing.assert_close(y, manual / manual.norm(dim=1, keepdim=True))
    torch.testing.assert_close(y.norm(dim=1), torch.ones(5, dtype=torch.float64))
    with pytest.raises(ValueError, match=r"\(B, 6\)"):
        geu(rand(5, 3))
    with pytest.raises(TypeError, match="float"):
        geu(torch.zeros(5, 6, dtype=torch.long))


@pytest.mark.parametrize("kind", ["conv", "gru"])
def test_text_encoder_shapes_norm_and_padding_invariance(kind):
    torch.manual_seed(0)
    vocab = Vocabulary.build(CAPTIONS)
    enc = TextEncoder(len(vocab), word_dim=8, hidden=12, out_dim=6, kind=kind).eval()
    tokens, lengths = vocab.encode(CAPTIONS)
    out = enc(tokens, lengths)
    assert out.shape == (len(CAPTIONS), 6)
    torch.testing.assert_close(out.norm(dim=1), torch.ones(len(CAPTIONS)))
    padded = torch.cat([tokens, torch.zeros(len(CAPTIONS), 5, dtype=torch.long)], dim=1)
    torch.testing.assert_close(enc(padded, lengths), out, rtol=0, atol=1e-6)
    garbage = padded.clone()
    garbage[:, tokens.shape[1]:] = 3                                     # ids after the end are ignored too
    torch.testing.assert_close(enc(garbage, lengths), out, rtol=0, atol=1e-6)
    alone = enc(*vocab.encode(CAPTIONS[3]))                              # batch-independent
    torch.testing.assert_close(alone[0], out[3], rtol=0, atol=1e-6)
    # the encoder does read the words: a different sentence gives a different embedding
    assert (out[0] - out[1]).abs().max() > 1e-3


def test_text_encoder_validates_inputs():
    enc = TextEncoder(10, word_dim=4, hidden=4, out_dim=4)
    tokens = torch.tensor([[2, 3, 0]])
    with pytest.raises(ValueError, match=r"lengths must lie in 1\.\.3"):
        enc(tokens, torch.tensor([0]))
    with pytest.raises(ValueError, match=r"lengths must have shape \(1,\)"):
        enc(tokens, torch.tensor([1, 2]))
    with pytest.raises(ValueError, match=r"0\.\.9"):
        enc(torch.tensor([[2, 12]]), torch.tensor([2]))
    with pytest.raises(TypeError, match="LongTensor"):
        enc(tokens.float(), torch.tensor([2]))
    with pytest.raises(ValueError, match="kind"):
        TextEncoder(10, kind="lstm")


def test_video_text_model_shapes_and_checks():
    torch.manual_seed(0)
    vocab = Vocabulary.build(CAPTIONS)
    model = VideoTextModel(Conv3dEncoder(width=4, dim=16), TextEncoder(len(vocab), 8, 8, out_dim=12), dim=12)
    clips = torch.rand(3, 4, 1, 16, 16)
    tokens, lengths = vocab.encode(CAPTIONS)
    v, t = model.embed_video(clips), model.embed_text(tokens, lengths)
    assert v.shape == (3, 12) and t.shape == (5, 12)
    sim = model(clips, tokens, lengths)
    assert sim.shape == (3, 5) and sim.abs().max() <= 1 + 1e-6
    torch.testing.assert_close(sim, v @ t.T)
    with pytest.raises(ValueError, match="out_dim"):
        VideoTextModel(Conv3dEncoder(width=4, dim=16), TextEncoder(len(vocab), out_dim=8), dim=12)
    with pytest.raises(TypeError, match="embed"):
        VideoTextModel(torch.nn.Linear(2, 2), TextEncoder(len(vocab), out_dim=12), dim=12)
    with pytest.raises(ValueError, match="same D"):
        model.similarity(v, torch.zeros(2, 5))


# ----------------------------------------------------------------------------- losses vs loops

def loop_max_margin(s, m):
    b = len(s)
    total = 0.0
    for i in range(b):
        for j in range(b):
            if j != i:
                total += max(0.0, m + s[i][j] - s[i][i]) + max(0.0, m + s[j][i] - s[i][i])
    return total / (b * (b - 1))


def loop_nce(s, tau):
    b = len(s)
    v2t = sum(-math.log(math.exp(s[i][i] / tau) / sum(math.exp(s[i][j] / tau) for j in range(b))) for i in range(b))
    t2v = sum(-math.log(math.exp(s[i][i] / tau) / sum(math.exp(s[j][i] / tau) for j in range(b))) for i in range(b))
    return (v2t + t2v) / (2 * b)


def unit(v):
    values = [float(x) for x in v]
    norm = math.sqrt(sum(x * x for x in values))
    return [x / norm for x in values]


def dot(a, b):
    return sum(x * y for x, y in zip(a, b))


def loop_mil_nce(video, text, tau, mask, symmetric):
    b, p = text.shape[:2]
    v = [unit(video[i]) for i in range(b)]
    t = [[unit(text[j, q]) for q in range(p)] for j in range(b)]
    ok = [[bool(mask[j, q]) for q in range(p)] for j in range(b)]
    v2t = t2v = 0.0
    for i in range(b):
        num = sum(math.exp(dot(v[i], t[i][q]) / tau) for q in range(p) if ok[i][q])
        neg_text = sum(math.exp(dot(v[i], t[j][q]) / tau) for j in range(b) if j != i for q in range(p) if ok[j][q])
        neg_video = sum(math.exp(dot(v[j], t[i][q]) / tau) for j in range(b) if j != i for q in range(p) if ok[i][q])
        v2t += -math.log(num / (num + neg_text))
        t2v += -math.log(num / (num + neg_video))
    return (v2t + t2v) / (2 * b) if symmetric else v2t / b


@pytest.mark.parametrize("margin", [0.0, 0.1, 0.5])
def test_max_margin_ranking_matches_loop(margin):
    sim = torch.tanh(rand(6, 6, seed=1))
    got = max_margin_ranking(sim, margin=margin)
    assert got.dim() == 0 and got.dtype == torch.float64
    assert float(got) == pytest.approx(loop_max_margin(sim.tolist(), margin), rel=1e-12, abs=1e-12)


def test_max_margin_ranking_vs_the_reference_code_mean():
    """HowTo100M's loss.py adds the two hinges of each (video, text) pair into one B x B matrix and takes its
    .mean() (diagonal included: 2m each), which is (B - 1) / B * ours + 2m / B."""
    sim, m, b = torch.tanh(rand(5, 5, seed=2)).double(), 0.2, 5
    d = sim.diag()
    reference = (torch.relu(m - (d[:, None] - sim)) + torch.relu(m - (d[None, :] - sim))).mean()
    ours = max_margin_ranking(sim, m)
    assert float(reference) == pytest.approx(float(ours) * (b - 1) / b + 2 * m / b, rel=1e-12)
    assert float(max_margin_ranking(torch.zeros(4, 4), m)) == pytest.approx(2 * m)       # all equal: 2m
    assert float(max_margin_ranking(torch.eye(4), 0.5)) == 0.0                          # matches win by 1


def test_max_margin_ranking_validates():
    with pytest.raises(ValueError, match="square"):
        max_margin_ranking(torch.zeros(3, 4))
    with pytest.raises(ValueError, match="B >= 2"):
        max_margin_ranking(torch.zeros(1, 1))
    with pytest.raises(ValueError, match="margin"):
        max_margin_ranking(torch.zeros(3, 3), margin=-1)
    with pytest.raises(TypeError, match="float"):
        max_margin_ranking(torch.zeros(3, 3, dtype=torch.long))


@pytest.mark.parametrize("tau", [0.05, 0.7])
def test_text_video_nce_matches_loop(tau):
    sim = torch.tanh(rand(7, 7, seed=3))
    got = text_video_nce(sim, temperature=tau)
    assert float(got) == pytest.approx(loop_nce(sim.tolist(), tau), rel=1e-10)
    with pytest.raises(ValueError, match="temperature"):
        text_video_nce(sim, temperature=0)


@pytest.mark.parametrize("symmetric", [True, False])
@pytest.mark.parametrize("tau", [0.05, 0.5])
def test_mil_nce_matches_loop_with_bags_and_a_mask(symmetric, tau):
    video, text = rand(5, 4, seed=4), rand(5, 3, 4, seed=5)
    mask = torch.tensor([[1, 1, 1], [1, 0, 0], [0, 1, 1], [1, 1, 0], [0, 0, 1]], dtype=torch.bool)
    got = mil_nce(video, text, temperature=tau, mask=mask, symmetric=symmetric)
    assert got.dim() == 0
    assert float(got) == pytest.approx(loop_mil_nce(video, text, tau, mask, symmetric), rel=1e-10)
    full = torch.ones(5, 3, dtype=torch.bool)
    assert float(mil_nce(video, text, tau, symmetric=symmetric)) == pytest.approx(
        loop_mil_nce(video, text, tau, full, symmetric), rel=1e-10)
    # masked-out slots are ignored whatever they hold
    other = text.clone()
    other[~mask] = rand(int((~mask).sum()), 4, seed=9)
    assert float(mil_nce(video, other, tau, mask=mask, symmetric=symmetric)) == pytest.approx(float(got), rel=1e-12)


def test_mil_nce_with_bags_of_one_is_text_video_nce():
    video, text = rand(6, 5, seed=6), rand(6, 1, 5, seed=7)
    v, t = torch.nn.functional.normalize(video, dim=1), torch.nn.functional.normalize(text[:, 0], dim=1)
    assert float(mil_nce(video, text, 0.1)) == pytest.approx(float(text_video_nce(v @ t.T, 0.1)), rel=1e-12)


def test_mil_nce_validates():
    video = rand(3, 4)
    with pytest.raises(ValueError, match=r"\(B, P, D\) = \(3, P, 4\)"):
        mil_nce(video, rand(3, 4))
    with pytest.raises(ValueError, match=r"\(B, P\) = \(3, 2\)"):
        mil_nce(video, rand(3, 2, 4), mask=torch.ones(3, 3, dtype=torch.bool))
    with pytest.raises(ValueError, match=r"empty bags: \[1\]"):
        mil_nce(video, rand(3, 2, 4), mask=torch.tensor([[1, 1], [0, 0], [1, 0]], dtype=torch.bool))
    with pytest.raises(TypeError, match="bool"):
        mil_nce(video, rand(3, 2, 4), mask=torch.ones(3, 2))


# ----------------------------------------------------------------------------- instance captions

@pytest.fixture(scope="module")
def clip_sets():
    kw = dict(seed=5, size=32, num_frames=8)
    return {"none": generate_actions(24, num_distractors=0, **kw),
            "still": generate_actions(24, num_distractors=2, distractor_motion="static", **kw),
            "moving": generate_actions(24, num_distractors=2, distractor_motion="moving", **kw)}


def test_instance_captions_are_deterministic(clip_sets):
    clips = clip_sets["still"]
    assert instance_captions(clips) == instance_captions(clips)
    assert instance_captions(clips, rng=3) == instance_captions(clips, rng=np.random.default_rng(3))
    assert instance_captions(clips, rng=3) != instance_captions(clips, rng=4)
    caps = instance_captions(clips)
    assert len(caps) == len(clips) and all(c.startswith(clips.captions[i]) for i, c in enumerate(caps))
    with pytest.raises(TypeError, match="ActionClips"):
        instance_captions(clips.frames)
    with pytest.raises(TypeError, match="rng"):
        instance_captions(clips, rng="seed")


def test_instance_captions_describe_the_distractors(clip_sets):
    """Same seed: the same actor, with no / still / moving distractors -> the same start, another end."""
    caps = {k: instance_captions(c) for k, c in clip_sets.items()}
    for i in range(24):
        heads = {k: v[i].rsplit(",", 1)[0] for k, v in caps.items()}
        assert len(set(heads.values())) == 1                       # digit, action, speed, place unchanged
        assert len({v[i] for v in caps.values()}) == 3
        assert caps["none"][i].endswith("on its own")
        assert caps["still"][i].endswith("still") and caps["moving"][i].endswith("around")
    digits = clip_sets["still"].info["distractor_digit"][0]
    assert all(str(d) in caps["still"][0].rsplit(",", 1)[1] for d in digits)


def test_instance_captions_change_with_speed_and_position(clip_sets):
    clips = clip_sets["none"]
    base = instance_captions(clips)
    slow = dataclasses.replace(clips, info={**clips.info, "speed_rel": np.zeros(len(clips), np.float32)})
    fast = dataclasses.replace(clips, info={**clips.info, "speed_rel": np.ones(len(clips), np.float32)})
    slow_caps, fast_caps = instance_captions(slow), instance_captions(fast)
    assert all(" slowly " in c for c in slow_caps) and all(" quickly " in c for c in fast_caps)
    assert all(a != b for a, b in zip(slow_caps, fast_caps))
    s = clips.size
    for shift, word in ((-s / 4, "left"), (s / 4, "right")):      # move every actor sideways by S/4
        centers = clips.centers.copy()
        centers[:, :, 0, 0] = np.full_like(centers[:, :, 0, 0], s / 2 + shift)
        centers[:, :, 0, 1] = s / 2
        caps = instance_captions(dataclasses.replace(clips, centers=centers))
        assert all(f"on the {word}" in c for c in caps), caps
        assert sum(a != b for a, b in zip(caps, base)) > len(caps) // 2
    # facts missing from info are left out, not invented
    bare = dataclasses.replace(clips, info={})
    assert all(not any(w in c for w in (" slowly ", " steadily ", " quickly ")) for c in instance_captions(bare))


def test_instance_captions_single_out_most_clips():
    clips = generate_actions(300, seed=1, size=32, num_frames=4, num_distractors=2)
    canonical = dataclasses.replace(clips, captions=["x"] * len(clips))  # drop the template variety
    assert len(set(instance_captions(canonical))) / len(clips) > 0.95
    assert len(set(zip(clips.digit.tolist(), clips.action.tolist()))) / len(clips) < 0.3


# ----------------------------------------------------------------------------- a tiny training run

def test_video_text_model_training_lowers_the_loss():
    torch.manual_seed(0)
    clips = generate_actions(32, seed=2, size=16, num_frames=4, num_distractors=0)
    captions = instance_captions(clips)
    vocab = Vocabulary.build(captions)
    tokens, lengths = vocab.encode(captions)
    video = clips.tensors()
    model = VideoTextModel(Conv3dEncoder(width=4, dim=16), TextEncoder(len(vocab), 16, 32, 16), dim=16)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)

    def loss() -> torch.Tensor:
        return text_video_nce(model(video, tokens, lengths), temperature=0.1)

    with torch.no_grad():
        before = float(loss())
    for _ in range(40):
        opt.zero_grad()
        value = loss()
        value.backward()
        opt.step()
    with torch.no_grad():
        after = float(loss())
    assert after < 0.5 * before, (before, after)
