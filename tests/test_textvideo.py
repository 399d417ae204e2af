"""vidkit.experiments.text_video: captions and batches, the three text-video losses in the train loop, evaluation with known
answers (semantic / instance hits, seen / held-out pairs), video-to-video helpers and the neighbour browser."""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pytest
import torch

import vidkit
from vidkit.data.actions import ACTIONS, generate_actions, instance_captions
from vidkit.experiments.text_video import (
    LOSSES,
    CaptionBank,
    build_vocabulary,
    caption_batches,
    embed_texts,
    embed_videos,
    encoder_features,
    evaluate_text_video,
    make_model,
    standin_encoders,
    steps_for_time,
    text_video_loss,
    train_text_video,
    two_stream,
    video_input,
)
from vidkit.models.text import Vocabulary
from vidkit.viz.browser import NeighbourBrowser, caption_labels

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def clips():
    return generate_actions(24, split="train", seed=3, num_frames=4, size=16)


@pytest.fixture(scope="module")
def bank(clips):
    return CaptionBank(clips, instance_variants=2)


# --------------------------------------------------------------------------------------------- data, words


def test_video_input_keeps_every_stride_th_frame_and_its_difference(clips):
    x = video_input(clips, stride=2)
    assert x.shape == (24, 2, 2, 16, 16) and x.dtype == torch.float32
    frames = clips.tensors()
    assert torch.equal(x[:, :, 0], frames[:, ::2, 0])
    assert torch.equal(x[:, 0, 1], torch.zeros(24, 16, 16))
    assert torch.allclose(x[:, 1, 1], frames[:, 2, 0] - frames[:, 0, 0])
    assert video_input(frames, stride=1).shape == (24, 4, 2, 16, 16)


def test_video_input_validates(clips):
    with pytest.raises(ValueError, match=r"\(N, T, 1, H, W\)"):
        video_input(torch.zeros(2, 4, 16, 16))
    with pytest.raises(ValueError, match="stride"):
        video_input(clips, stride=4)                         # keeps 1 frame of 4
    with pytest.raises(ValueError, match=r"stride must be an int in 1\.\.3, got 1\.5 \(float\)"):
        video_input(clips, stride=1.5)


def test_vocabulary_has_every_caption_word(clips):
    inst = instance_captions(clips, rng=0)
    vocab = build_vocabulary(inst)
    assert not vocab.unknown_words("the number 9 is twisting counterclockwise")
    assert all(not vocab.unknown_words(t) for t in inst)
    with pytest.raises(TypeError, match="sequence of captions"):
        build_vocabulary("a 7 moves left")


def test_caption_bank_draws_captions_of_the_clip(clips, bank):
    idx = torch.arange(len(clips))
    tokens, lengths = bank.sample(idx, bag=3, instance_fraction=0.0, generator=torch.Generator().manual_seed(0))
    assert tokens.shape[0] == 3 * len(clips) and lengths.shape == (3 * len(clips),)
    assert int(lengths.max()) == tokens.shape[1]
    for row, text in enumerate(bank.vocab.decode(tokens, lengths)):
        i = row // 3
        assert caption_labels(text) == (clips.digit[i], clips.action[i]), text
    tokens, lengths = bank.sample(idx[:5], bag=1, instance_fraction=1.0)
    texts = bank.vocab.decode(tokens, lengths)
    for i, text in enumerate(texts):
        variants = [bank.vocab.decode(*bank.vocab.encode(bank.instance_texts[v * len(clips) + i]))[0]
                    for v in range(bank.instance_variants)]
        assert text in variants


def test_caption_bank_validates(clips, bank):
    with pytest.raises(TypeError, match="ActionClips"):
        CaptionBank(clips.frames)
    with pytest.raises(ValueError, match=r"0\.\.23"):
        bank.sample(torch.tensor([0, 24]))
    with pytest.raises(ValueError, match="instance_fraction"):
        bank.sample(torch.tensor([0]), instance_fraction=1.5)
    with pytest.raises(TypeError, match="LongTensor"):
        bank.sample(torch.tensor([0.0]))


def test_caption_batches(clips, bank):
    x = video_input(clips, stride=2)
    batch = next(caption_batches(x, bank, batch_size=8, bag=2, instance_fraction=0.5, seed=1))
    assert batch["video"].shape == (8, 2, 2, 16, 16)
    assert batch["tokens"].shape[0] == 16 and batch["lengths"].shape == (16,)
    assert torch.equal(batch["digit"], torch.as_tensor(clips.digit)[batch["index"]])
    with pytest.raises(ValueError, match="x has 23 clips but the bank has 24"):
        caption_batches(x[:23], bank, 8)
    with pytest.raises(ValueError, match="batch_size"):
        caption_batches(x, bank, 25)


# ---------------------------------------------------------------------------------------------- training


def test_every_loss_gives_a_finite_scalar_and_the_batch_recall(clips, bank):
    x = video_input(clips, stride=2)
    batch = next(caption_batches(x, bank, batch_size=8, bag=3, seed=0))
    model = make_model(len(bank.vocab), width=4, video_dim=16, dim=8)
    for kind in LOSSES:
        loss, extras = text_video_loss(model, batch, kind=kind)
        assert loss.dim() == 0 and torch.isfinite(loss)
        assert 0.0 <= extras["batch_R@1"] <= 1.0
    with pytest.raises(ValueError, match="kind must be one of"):
        text_video_loss(model, batch, kind="triplet")
    with pytest.raises(KeyError, match="tokens"):
        text_video_loss(model, {"video": batch["video"]})


@pytest.mark.parametrize("kind", LOSSES)
def test_the_loss_falls_on_a_tiny_set(clips, bank, kind):
    x = video_input(clips, stride=2)
    torch.manual_seed(0)
    model = make_model(len(bank.vocab), width=4, video_dim=16, dim=16)
    budget = dataclasses.replace(vidkit.profile("smoke").text_video, steps=60, time_s=None, batch=8, bag=2,
                                 instance_fraction=0.0, lr=1e-2)
    result = train_text_video(model, x, bank, kind, budget, progress=False)
    assert result.steps == 60
    losses = [h["loss"] for h in result.history]
    assert np.mean(losses[-2:]) < 0.8 * losses[0], losses


def test_train_text_video_validates(clips, bank):
    model = make_model(len(bank.vocab), width=4, video_dim=16, dim=8)
    x = video_input(clips, stride=2)
    with pytest.raises(ValueError, match="kind"):
        train_text_video(model, x, bank, "NCE!", vidkit.profile("smoke").text_video)
    with pytest.raises(TypeError, match="budget must be a vidkit.profiles.TextVideoBudget"):
        train_text_video(model, x, bank, "NCE", {"steps": 3})


def test_steps_for_time_plans_within_the_limits(clips, bank):
    from functools import partial

    x = video_input(clips, stride=2)
    model = make_model(len(bank.vocab), width=4, video_dim=16, dim=8)
    batch = next(caption_batches(x, bank, 8))
    loss = partial(text_video_loss, kind="NCE")
    assert steps_for_time(model, loss, batch, time_s=1e-6, max_steps=50) == 1
    assert steps_for_time(model, loss, batch, time_s=1e6, max_steps=50) == 50
    before = {k: v.clone() for k, v in model.state_dict().items()}
    steps_for_time(model, loss, batch, time_s=1.0, max_steps=10)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())     # timed on a copy
    with pytest.raises(ValueError, match="time_s"):
        steps_for_time(model, loss, batch, time_s=0, max_steps=10)


def test_embeddings_are_unit_rows_and_free_text_is_handled(clips, bank):
    model = make_model(len(bank.vocab), width=4, video_dim=16, dim=8)
    v = embed_videos(model, video_input(clips, stride=2), batch_size=5)
    assert v.shape == (24, 8) and torch.allclose(v.norm(dim=1), torch.ones(24), atol=1e-5)
    t = embed_texts(model, bank.vocab, ["a 7 moves left", "digit 3 shrinks"])
    assert t.shape == (2, 8)
    with pytest.warns(UserWarning, match="skateboard"):
        q = embed_texts(model, bank.vocab, "a 7 moves left on a skateboard", query=True)
    assert torch.allclose(q, embed_texts(model, bank.vocab, "a 7 moves left on a", query=True))
    with pytest.raises(ValueError, match="none of its words"):
        embed_texts(model, bank.vocab, "skateboard pizza", query=True)
    with pytest.raises(ValueError, match="empty"):
        embed_texts(model, bank.vocab, [])


# ---------------------------------------------------------------------------------------------- scoring


def _pair_embeddings(digit, action):
    """One-hot of the (digit, action) pair: every clip and caption of a pair gets the same unit vector."""
    return torch.nn.functional.one_hot(torch.as_tensor(digit * 8 + action), 80).float()


def test_perfect_embeddings_score_one_and_ties_count_against_instance_queries():
    rng = np.random.default_rng(0)
    digit, action = rng.integers(0, 10, 200), rng.integers(0, 8, 200)
    emb = _pair_embeddings(digit, action)
    df = evaluate_text_video(emb, digit, action, emb, digit, action, instance_emb=emb)
    for direction in ("text->video", "video->text"):
        row = df.loc[(direction, "semantic", "seen")]
        assert row["R@1"] == 1.0 and row["MedR"] == 1.0 and row["queries"] == 200
        # instance hits: the own clip ties with the other clips of its pair, and ties count against the query
        pair = digit * 8 + action
        same = np.array([np.sum(pair == p) for p in pair])
        assert df.loc[(direction, "instance", "seen"), "R@1"] == pytest.approx(np.mean(same == 1))
        assert df.loc[(direction, "instance", "seen"), "MeanR"] == pytest.approx(same.mean())
    assert df.loc[("text->video", "instance", "seen"), "chance@10"] == pytest.approx(10 / 200)
    assert ("text->video", "semantic", "held-out") not in df.index           # nothing held out: no such row


def test_clip_specific_embeddings_are_perfect_for_instance_hits_too():
    digit, action = np.arange(40) % 10, np.arange(40) % 8
    emb = torch.eye(40)
    df = evaluate_text_video(emb, digit, action, emb, digit, action, instance_emb=emb)
    assert (df["R@1"] == 1.0).all() and (df["MedR"] == 1.0).all()


def test_the_held_out_report_is_separate():
    rng = np.random.default_rng(1)
    digit, action = rng.integers(0, 10, 300), rng.integers(0, 8, 300)
    held = [(0, 7), (2, 0), (3, 4)]
    is_held = np.array([(d, a) in held for d, a in zip(digit, action)])
    video = _pair_embeddings(digit, action)
    text = video.clone()
    text[torch.from_numpy(is_held)] = torch.nn.functional.one_hot(torch.zeros(int(is_held.sum()), dtype=torch.long),
                                                                   80).float()  # held-out captions point to pair 0
    df = evaluate_text_video(video, digit, action, text, digit, action, heldout=held)
    seen, out = df.loc[("text->video", "semantic", "seen")], df.loc[("text->video", "semantic", "held-out")]
    assert seen["queries"] == (~is_held).sum() and out["queries"] == is_held.sum()
    assert seen["R@1"] == 1.0 and out["R@1"] < 0.5
    assert set(df.columns) >= {"R@1", "R@5", "R@10", "MedR", "chance@1", "chance@10", "chance_MeanR"}


def test_evaluate_text_video_validates():
    d, a = np.array([1, 2, 3]), np.array([0, 1, 2])
    v = torch.eye(3)
    with pytest.raises(ValueError, match="D = 3"):
        evaluate_text_video(v, d, a, torch.eye(4)[:3], d, a)
    with pytest.raises(ValueError, match=r"\(3,\) integer labels"):
        evaluate_text_video(v, d.astype(float), a, v, d, a)
    with pytest.raises(ValueError, match="caption 0 has \\(digit, action\\) = \\(9, 0\\)"):
        evaluate_text_video(v, d, a, v, np.array([9, 2, 3]), a)
    with pytest.raises(ValueError, match="3 rows"):
        evaluate_text_video(v, d, a, v, d, a, instance_emb=torch.eye(3)[:2])
    with pytest.raises(ValueError, match="NaN"):
        evaluate_text_video(v * float("nan"), d, a, v, d, a)


# --------------------------------------------------------------------------------------- video to video


def test_two_stream_weights_both_streams_equally():
    rng = np.random.default_rng(0)
    qr, gr, qf, gf = rng.normal(size=(5, 4)), rng.normal(size=(9, 4)) * 100, rng.normal(size=(5, 3)), rng.normal(size=(9, 3))
    q, g = two_stream(qr, gr, qf, gf)
    assert q.shape == (5, 7) and g.shape == (9, 7)
    assert np.allclose(np.linalg.norm(q[:, :4], axis=1), 1) and np.allclose(np.linalg.norm(q[:, 4:], axis=1), 1)
    with pytest.raises(ValueError, match="same clips"):
        two_stream(qr, gr, qf[:4], gf)


def test_encoder_features_give_each_encoder_its_view():
    from vidkit.models.moco import notebook_moco

    rgb, flow = torch.rand(3, 12, 1, 16, 16), torch.rand(3, 11, 2, 16, 16)
    feats = encoder_features({"rgb": notebook_moco("rgb", width=4, dim=8),
                              "flow": notebook_moco("flow", width=4, dim=8)}, rgb, flow, progress=False)
    assert feats["rgb"].shape == (3, 8) and feats["flow"].shape == (3, 8)
    with pytest.raises(ValueError, match="reads flow"):
        encoder_features({"flow": notebook_moco("flow", width=4, dim=8)}, rgb, progress=False)


def test_standin_encoders_build_without_notebook_02():
    rgb, flow = torch.rand(8, 13, 1, 16, 16), torch.rand(8, 12, 2, 16, 16)   # InfoNCE crops 12 frames
    labels = {"action": np.arange(8) % 2, "digit": np.arange(8) % 3}
    enc = standin_encoders(rgb, flow, labels, steps=1, time_s=30, batch_size=4, progress=False)
    assert set(enc) == {"random RGB", "random flow", "InfoNCE RGB", "InfoNCE flow"}
    assert enc["InfoNCE flow"].view == "flow" and not enc["InfoNCE RGB"].training


# ---------------------------------------------------------------------------------------------- browser


def test_caption_labels_reads_digit_and_action():
    assert caption_labels("a 7 slides left") == (7, ACTIONS.index("move_left"))
    assert caption_labels("the digit seven rotates to the right") == (7, ACTIONS.index("rotate_cw"))
    assert caption_labels("an eight is moving to the left quickly") == (8, ACTIONS.index("move_left"))
    assert caption_labels("something happens") == (-1, -1)


@pytest.fixture(scope="module")
def browser_data():
    rng = np.random.default_rng(0)
    n = 30
    digit, action = rng.integers(0, 10, n), rng.integers(0, 8, n)
    frames = rng.integers(0, 256, size=(n, 4, 16, 16), dtype=np.uint8)
    emb = _pair_embeddings(digit, action) + 0.01 * torch.randn(n, 80, generator=torch.Generator().manual_seed(0))
    vocab = Vocabulary(["a", "moves", "left", "spins", "clockwise", *map(str, range(10))])

    def encode(text):
        vocab.encode_query(text)                              # warns on unknown words, raises if none is known
        d, a = caption_labels(text)
        return _pair_embeddings(np.array([max(d, 0)]), np.array([max(a, 0)]))[0]

    return frames, digit, action, emb, encode


def test_browser_builds_for_a_clip_query(browser_data):
    frames, digit, action, emb, encode = browser_data
    b = NeighbourBrowser(frames, digit, action, emb, encode_text=encode, query=4, k=3, scale=2)
    assert b.query == 4 and len(b.results) == 3 and 4 not in b.results["clip"].tolist()
    same = (digit == digit[4]) & (action == action[4])
    expect = same[b.results["clip"]]
    assert b.results["correct"].tolist() == expect.tolist()
    assert b.player is not None and b.player.num_frames == 4
    assert len(b.player.labels or []) == 0 and b.player.frames.shape[2] > 4 * 16 * 2    # query + 3 panels
    html = b._repr_mimebundle_()["text/html"]
    assert "data:image/gif;base64" in html and "clip 4" in html
    assert b.search(None) is not None                     # a random clip
    assert b.search(7)["rank"].tolist() == [1, 2, 3]


def test_browser_builds_for_a_text_query(browser_data):
    frames, digit, action, emb, encode = browser_data
    target = int(np.flatnonzero(action == ACTIONS.index("move_left"))[0])
    text = f"a {digit[target]} moves left"
    b = NeighbourBrowser(frames, digit, action, emb, encode_text=encode, query=text, k=2, scale=1)
    assert b.results.loc[0, "clip"] == target and bool(b.results.loc[0, "correct"])
    assert "digit" in b.message and "move_left" in b.message


def test_browser_handles_unknown_words_with_a_message(browser_data):
    frames, digit, action, emb, encode = browser_data
    b = NeighbourBrowser(frames, digit, action, emb, encode_text=encode, query=0, k=2, scale=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")                    # the browser records the warning, it does not leak
        assert b.search("a 3 moves left on a skateboard") is not None
    assert "skateboard" in b.message
    assert b.search("skateboard pizza") is None
    assert b.results is None and b.player is None
    assert "none of its words is in the vocabulary" in b.message and "skateboard" in b.message
    assert "none of its words" in b.to_html()
    assert b.search("   ") is None and "type a caption" in b.message
    no_text = NeighbourBrowser(frames, digit, action, emb, query=1, k=2, scale=1)
    assert no_text.search("a 3 moves left") is None and "no text encoder" in no_text.message


def test_browser_validates(browser_data):
    frames, digit, action, emb, encode = browser_data
    with pytest.raises(ValueError, match=r"\(N, T, H, W\)"):
        NeighbourBrowser(frames[:, 0], digit, action, emb)
    with pytest.raises(ValueError, match=r"\(30,\) integer labels"):
        NeighbourBrowser(frames, digit[:5], action, emb)
    with pytest.raises(ValueError, match="30 rows"):
        NeighbourBrowser(frames, digit, action, emb[:5])
    with pytest.raises(ValueError, match=r"k must be an int in 1\.\.29, got 30"):
        NeighbourBrowser(frames, digit, action, emb, k=30)
    with pytest.raises(TypeError, match="callable"):
        NeighbourBrowser(frames, digit, action, emb, encode_text="not a function")
    b = NeighbourBrowser(frames, digit, action, emb, k=2, scale=1)
    with pytest.raises(ValueError, match=r"0\.\.29"):
        b.search(30)
    with pytest.raises(TypeError, match="clip index"):
        b.search(1.5)


def _widgets(w):
    """Every widget in the tree of ``w``."""
    yield w
    for child in getattr(w, "children", ()):
        yield from _widgets(child)


def test_browser_says_its_buttons_need_a_running_kernel(browser_data):
    """Once the kernel is gone the buttons do nothing: the widget and its static view say so."""
    import ipywidgets as W

    frames, digit, action, emb, encode = browser_data
    b = NeighbourBrowser(frames, digit, action, emb, encode_text=encode, query=3, k=2, scale=1)
    row = next(w for w in _widgets(b.widget) if isinstance(w, W.HBox) and b.random_button in w.children)
    assert b.kernel_note in row.children and row.children.index(b.kernel_note) > row.children.index(b.random_button)
    assert "running kernel" in b.kernel_note.value and "do nothing" in b.kernel_note.value
    html = b._repr_mimebundle_()["text/html"]
    assert "search buttons need a running kernel" in html


def test_browser_panel_texts_wrap_instead_of_being_cut(browser_data):
    from vidkit.viz import frames as viz

    frames, digit, action, emb, encode = browser_data
    b = NeighbourBrowser(frames, digit, action, emb, encode_text=encode, query=3, k=2, scale=1)  # 22 px panels
    lines = ["#1 clip 12", "score 0.93", "7 rotate_ccw", "correct"]
    wrapped = b._wrapped(lines)
    font = viz._font(viz.LABEL_MIN_PX)
    assert len(wrapped) > len(lines) and all(font.getlength(t) <= b._panel_width() - 4 or len(t) == 1 for t, _ in wrapped)
    assert "".join(t for t, _ in wrapped).replace(" ", "") == "".join(lines).replace(" ", "")
    assert [t for t, last in wrapped if last] and "".join(t for t, last in wrapped if last) == "correct"
    assert b.player is not None  # panels with different line counts still line up (equal heights)
