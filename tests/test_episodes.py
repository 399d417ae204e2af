"""Tests for the subtitled episodes (``vidkit.data.episodes``) and the forced clips of ``generate_actions``."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from scipy.stats import chisquare

from vidkit.data import (
    ACTIONS,
    COMPOSITIONS,
    DIGIT_WORDS,
    HELD_OUT_COMBOS,
    HELD_OUT_ORDERS,
    Episodes,
    all_captions,
    check_subtitle_spans,
    first_action_pairs,
    generate_actions,
    generate_episodes,
    load_digits,
)
from vidkit.data.actions import _composite
from vidkit.data.episodes import _sample_actions

pytestmark = pytest.mark.usefixtures("one_torch_thread")

COMBOS = {(d, ACTIONS.index(a)) for d, a in HELD_OUT_COMBOS}
ORDERS = {(ACTIONS.index(a), ACTIONS.index(b)) for a, b in HELD_OUT_ORDERS}


def _novel(digit: np.ndarray, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Independent recount of the flags: (episode has a held-out combo, episode has a held-out order)."""
    combo = np.array([any((int(d), int(a)) in COMBOS for a in row) for d, row in zip(digit, actions)])
    order = np.array([any((int(a), int(b)) in ORDERS for a, b in zip(row[:-1], row[1:])) for row in actions])
    return combo, order


@pytest.fixture(scope="module")
def eps() -> Episodes:
    return generate_episodes(40, seed=1, segments=3, segment_frames=6, num_distractors=2)


@pytest.fixture(scope="module")
def many_train() -> Episodes:
    # small frames: these tests are about the labels, not the pictures
    return generate_episodes(2500, seed=2, segments=4, segment_frames=2, size=16, num_distractors=0)


def test_shapes_dtypes_and_tensors(eps):
    n, g, f, s = 40, 3, 6, 32
    t = g * f
    assert len(eps) == n and eps.num_frames == t and eps.num_segments == g and eps.size == s
    assert eps.frames.shape == (n, t, s, s) and eps.frames.dtype == np.uint8
    assert eps.digit.shape == (n,) and eps.digit.dtype == np.int64 and set(eps.digit) <= set(range(10))
    for a in (eps.actions, eps.starts, eps.ends):
        assert a.shape == (n, g) and a.dtype == np.int64
    assert eps.actions.min() >= 0 and eps.actions.max() < len(ACTIONS) and eps.action_names == ACTIONS
    assert eps.boxes.shape == (n, t, 4) and eps.boxes.dtype == np.float32
    assert len(eps.subtitles) == n and all(len(row) == g and all(isinstance(x, str) for x in row)
                                           for row in eps.subtitles)
    for key in ("novel_combo", "novel_order"):
        assert eps.info[key].shape == (n,) and eps.info[key].dtype == bool
    assert eps.info["novel_combo_segment"].shape == (n, g) and eps.info["novel_order_bigram"].shape == (n, g - 1)
    assert eps.info["distractor_index"].shape == (n, 2) and eps.info["digit_index"].shape == (n,)
    x = eps.tensors()
    assert x.shape == (n, t, 1, s, s) and x.dtype == torch.float32 and 0 <= x.min() and x.max() <= 1
    assert torch.equal(x[3, :, 0], torch.from_numpy(eps.frames[3]).float() / 255)
    assert eps.tensors([5, 1]).shape == (2, t, 1, s, s)
    assert eps.frames.max() == 255  # digits were drawn
    assert len(eps.clips) == n * g and eps.clips.num_frames == f


def test_spans_contiguous_and_segment_of_frame(eps):
    t, f = eps.num_frames, 6
    assert (eps.starts[:, 0] == 0).all() and (eps.ends[:, -1] == t).all()
    assert (eps.ends[:, :-1] == eps.starts[:, 1:]).all() and (eps.ends - eps.starts == f).all()
    seg = eps.segment_of_frame()
    assert seg.dtype == torch.long and seg.shape == (len(eps), t)
    assert torch.equal(seg, (torch.arange(t) // f).expand(len(eps), t))
    check_subtitle_spans(eps.starts, eps.ends, t)  # the generator's own spans pass the public check


def test_segment_of_frame_follows_custom_spans(eps):
    sub = eps.subset([0])
    sub.starts = np.array([[0, 2, 10]])
    sub.ends = np.array([[2, 7, 18]])
    assert sub.segment_of_frame()[0].tolist() == [0, 0] + [1] * 5 + [-1] * 3 + [2] * 8


def test_deterministic_in_seed_and_split():
    kw = dict(segments=2, segment_frames=3, size=16)
    a, b = generate_episodes(12, seed=4, **kw), generate_episodes(12, seed=4, **kw)
    assert np.array_equal(a.frames, b.frames) and np.array_equal(a.actions, b.actions)
    assert a.subtitles == b.subtitles and np.array_equal(a.digit, b.digit) and np.array_equal(a.boxes, b.boxes)
    c = generate_episodes(12, seed=5, **kw)
    assert not np.array_equal(a.frames, c.frames) and not np.array_equal(a.actions, c.actions)
    d = generate_episodes(12, seed=4, split="test", **kw)
    assert not np.array_equal(a.frames, d.frames)
    # the episodes' clips are not generate_actions' clips of the same seed
    plain = generate_actions(24, seed=4, num_frames=3, size=16, num_distractors=1)
    assert not np.array_equal(a.clips.centers[:, :, 0], plain.centers[:, :, 0])


def test_same_cast_in_every_segment(eps):
    g = eps.num_segments
    pool_images, pool_labels = load_digits("train")
    images = eps.clips.images.reshape(len(eps), g, 3, 28, 28)  # layer 0 actor, 1..2 distractors
    assert (images == images[:, :1]).all()  # actor and distractor images repeat across segments
    assert np.array_equal(images[:, 0, 0], pool_images[eps.info["digit_index"]])
    assert np.array_equal(pool_labels[eps.info["digit_index"]], eps.digit)
    assert np.array_equal(images[:, 0, 1:], pool_images[eps.info["distractor_index"]])
    assert np.array_equal(pool_labels[eps.info["distractor_index"]], eps.info["distractor_digit"])
    assert np.array_equal(eps.clips.digit.reshape(-1, g), np.repeat(eps.digit[:, None], g, 1))
    assert np.array_equal(eps.clips.action.reshape(-1, g), eps.actions)
    assert len(np.unique(eps.info["digit_index"])) > 30  # but different episodes have different actors


def test_train_and_test_use_disjoint_images():
    train = generate_episodes(30, seed=0, segments=2, segment_frames=2, size=16)
    test = generate_episodes(30, seed=0, segments=2, segment_frames=2, size=16, split="test")
    train_imgs = {load_digits("train")[0][i].tobytes() for i in train.info["digit_index"]}
    test_imgs = {load_digits("test")[0][i].tobytes() for i in test.info["digit_index"]}
    assert train_imgs and test_imgs and not train_imgs & test_imgs


def test_subtitles_name_the_segments_digit_and_action(eps):
    variants = set()
    for i in range(len(eps)):
        d = int(eps.digit[i])
        for j, sub in enumerate(eps.subtitles[i]):
            assert sub in all_captions(d, int(eps.actions[i, j]))
            assert str(d) in sub or DIGIT_WORDS[d] in sub
            variants.add(sub)
    assert len(variants) > 0.9 * eps.actions.size  # a seeded choice among the variants, not always the first


def test_consecutive_segments_differ(many_train):
    a = many_train.actions
    assert (a[:, 1:] != a[:, :-1]).all()
    assert (a[:, 2:] == a[:, :-2]).any()  # but an action may come back later


def test_motion_inside_each_segment_matches_its_action(eps):
    n, g, f = len(eps), eps.num_segments, 6
    box = eps.boxes.reshape(n, g, f, 4)
    cx, cy = (box[..., 0] + box[..., 2]) / 2, (box[..., 1] + box[..., 3]) / 2
    area = (box[..., 2] - box[..., 0]) * (box[..., 3] - box[..., 1])
    angle = eps.clips.angles[:, :, 0].reshape(n, g, f)
    names = np.array(ACTIONS)[eps.actions]
    change = {"move_left": -(cx[..., -1] - cx[..., 0]), "move_right": cx[..., -1] - cx[..., 0],
              "move_up": -(cy[..., -1] - cy[..., 0]), "move_down": cy[..., -1] - cy[..., 0],
              "rotate_cw": angle[..., -1] - angle[..., 0], "rotate_ccw": angle[..., 0] - angle[..., -1],
              "zoom_in": area[..., -1] / area[..., 0] - 1, "zoom_out": area[..., 0] / area[..., -1] - 1}
    for name, value in change.items():
        sel = names == name
        assert sel.any(), name
        assert (value[sel] > 0).all(), name


def test_frames_are_the_rendered_clips_in_episode_order(eps):
    g, f = eps.num_segments, 6
    for i, j in [(0, 0), (7, 2), (39, 1)]:
        clip = eps.clips.subset([i * g + j])
        redrawn = _composite(torch.from_numpy(clip.layers())).mul(255).round().numpy()[0]
        assert np.abs(redrawn - eps.frames[i, j * f:(j + 1) * f]).max() <= 1
        assert np.array_equal(eps.boxes[i, j * f:(j + 1) * f], clip.boxes[0])
        assert eps.subtitles[i][j] == clip.captions[0]


def test_train_never_shows_held_out_compositions(many_train):
    e = many_train
    combo, order = _novel(e.digit, e.actions)
    assert not combo.any() and not order.any()
    assert not e.info["novel_combo"].any() and not e.info["novel_order"].any()
    # while every other combination and bigram does occur
    seen_combos = {(int(d), int(a)) for d, row in zip(e.digit, e.actions) for a in row}
    assert seen_combos == set(itertools.product(range(10), range(8))) - COMBOS
    seen_orders = {(int(a), int(b)) for row in e.actions for a, b in zip(row[:-1], row[1:])}
    assert seen_orders == {(a, b) for a in range(8) for b in range(8) if a != b} - ORDERS


@pytest.mark.parametrize("compositions", COMPOSITIONS)
def test_test_split_compositions_and_flags(compositions):
    e = generate_episodes(300, split="test", seed=3, segments=3, segment_frames=2, size=16, num_distractors=0,
                          compositions=compositions)
    combo, order = _novel(e.digit, e.actions)
    assert np.array_equal(e.info["novel_combo"], combo) and np.array_equal(e.info["novel_order"], order)
    seg = np.array([[(int(d), int(a)) in COMBOS for a in row] for d, row in zip(e.digit, e.actions)])
    assert np.array_equal(e.info["novel_combo_segment"], seg)
    assert (e.actions[:, 1:] != e.actions[:, :-1]).all()
    if compositions == "any":
        assert 0.2 < combo.mean() < 0.5 and 0.15 < order.mean() < 0.4 and (combo & order).any()
        assert (~combo & ~order).mean() > 0.3
    elif compositions == "seen":
        assert not combo.any() and not order.any()
    elif compositions == "novel_combo":
        assert combo.all() and not order.any()
    else:
        assert order.all() and not combo.any()


@pytest.mark.parametrize("compositions", ["seen", "novel_combo", "novel_order"])
def test_action_sequences_are_uniform_among_the_allowed_ones(compositions):
    """Drawn by counting, not by a greedy chain: each allowed sequence (here, for digit 4) equally often."""
    rng = np.random.default_rng(0)
    g = 3
    draws = _sample_actions(rng, np.full(40000, 4), g, compositions)
    allowed = []
    for seq in itertools.product(range(8), repeat=g):
        if any(a == b for a, b in zip(seq[:-1], seq[1:])):
            continue
        combo, order = _novel(np.array([4]), np.array([seq]))
        want = {"seen": (False, False), "novel_combo": (True, False), "novel_order": (False, True)}[compositions]
        if (combo[0], order[0]) == want:
            allowed.append(seq)
    codes = (draws * 8 ** np.arange(g)[::-1]).sum(-1)
    allowed_codes = np.array([sum(a * 8 ** (g - 1 - k) for k, a in enumerate(s)) for s in allowed])
    assert set(codes) == set(allowed_codes)
    counts = np.array([(codes == c).sum() for c in allowed_codes])
    assert chisquare(counts).pvalue > 1e-4


def test_held_out_sets_are_as_documented():
    assert sorted(d for d, _ in HELD_OUT_COMBOS) == list(range(10))
    assert {a for _, a in HELD_OUT_COMBOS} == set(ACTIONS)
    assert len(ORDERS) == 8 and all(a != b for a, b in ORDERS)
    assert sorted(a for a, _ in ORDERS) == list(range(8)) and sorted(b for _, b in ORDERS) == list(range(8))
    assert not {(b, a) for a, b in ORDERS} & ORDERS  # the reverse of a held-out bigram is a training bigram
    train = {(a, b) for a in range(8) for b in range(8) if a != b} - ORDERS
    for x in range(8):  # every action is still seen first and second
        assert sum(a == x for a, _ in train) == 6 and sum(b == x for _, b in train) == 6


def test_subset_and_getitem_agree(eps):
    sub = eps.subset([5, 2, 5])
    assert len(sub) == 3 and sub.num_frames == eps.num_frames and len(sub.clips) == 9
    for k, i in enumerate([5, 2, 5]):
        a, b = sub[k], eps[i]
        assert a.keys() == b.keys()
        for key in ("frames", "actions", "starts", "ends", "boxes"):
            assert np.array_equal(a[key], b[key]), key
        assert a["digit"] == b["digit"] and a["subtitles"] == b["subtitles"]
        assert a["action_names"] == [ACTIONS[x] for x in eps.actions[i]]
        assert all(np.array_equal(a["info"][x], b["info"][x]) for x in b["info"])
    assert np.array_equal(sub.clips.frames.reshape(sub.frames.shape), sub.frames)
    mask = eps.digit == eps.digit[0]
    assert np.array_equal(eps.subset(mask).digit, eps.digit[mask]) and len(eps.subset(slice(3, 8))) == 5
    assert eps[-1]["subtitles"] == eps.subtitles[-1]
    with pytest.raises(IndexError):
        eps[len(eps)]


def test_first_action_pairs(eps):
    q = first_action_pairs(eps, seed=3)
    n = len(eps)
    assert q["segments"].shape == (n, 2) and q["actions"].shape == (n, 2) and q["first"].shape == (n,)
    seg = q["segments"]
    assert (np.abs(seg[:, 0] - seg[:, 1]) == 1).all()
    assert np.array_equal(q["actions"], np.take_along_axis(eps.actions, seg, 1))
    assert (q["actions"][:, 0] != q["actions"][:, 1]).all()
    earlier = np.take_along_axis(seg, q["first"][:, None], 1)[:, 0]
    assert (earlier == seg.min(1)).all()
    assert 0.2 < q["first"].mean() < 0.8
    again = first_action_pairs(eps, seed=3)
    assert all(np.array_equal(q[k], again[k]) for k in q)
    test = generate_episodes(30, split="test", segments=3, segment_frames=2, size=16, compositions="novel_order")
    p = first_action_pairs(test, prefer_held_out=True)
    shown = {(int(a), int(b)) if f == 0 else (int(b), int(a)) for (a, b), f in zip(p["actions"], p["first"])}
    assert shown <= ORDERS
    with pytest.raises(ValueError, match="at least 2 segments"):
        first_action_pairs(generate_episodes(2, segments=1, segment_frames=2, size=16))


@pytest.mark.parametrize("kwargs, match", [
    (dict(n=0), r"n must be a positive int \(episodes\), got 0"),
    (dict(segments=0), r"segments must be a positive int \(segments per episode; an episode needs at least one\)"),
    (dict(segment_frames=1), r"segment_frames must be an int >= 2 \(frames per segment\), got 1"),
    (dict(size=8), r"size must be an int >= 16"),
    (dict(num_distractors=-1), r"num_distractors must be an int >= 0"),
    (dict(seed=-1), r"seed must be a non-negative int"),
    (dict(split="val"), r"split must be 'train' or 'test', got 'val'"),
    (dict(compositions="novel"), r"compositions must be 'any', 'seen', 'novel_combo' or 'novel_order'"),
    (dict(compositions="novel_combo"), r"needs split='test'"),
    (dict(split="test", compositions="novel_order", segments=1), r"needs segments >= 2"),
    (dict(distractor_motion="fast"), r"distractor_motion must be 'static' or 'moving'"),
])
def test_bad_arguments(kwargs, match):
    args = dict(n=2, segment_frames=2, size=16)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        generate_episodes(args.pop("n"), **args)


def test_check_subtitle_spans():
    s, e = check_subtitle_spans([[0, 3]], [[3, 6]], 6)
    assert s.dtype == np.int64 and e.tolist() == [[3, 6]]
    check_subtitle_spans(np.array([[0, 4]]), np.array([[2, 6]]), 8)  # gaps are allowed
    bad = [
        (([[0, 3], [0, 3]], [[3, 6], [3, 9]], 8), r"episode 1, segment 1 spans frames 3\.\.9 .*outside"),
        (([[-1]], [[2]], 8), r"episode 0, segment 0 spans frames -1\.\.2"),
        (([[0, 4]], [[4, 4]], 8), r"episode 0, segment 1 is empty"),
        (([[0, 3]], [[4, 6]], 8), r"episode 0 overlap or are out of order: segment 0 ends at 4 but segment 1 "
                                  r"starts at 3"),
        (([[4, 0]], [[6, 2]], 8), r"episode 0 overlap or are out of order"),
        (([[0, 3]], [[3]], 8), r"one shape \(N, segments\).*got starts \(1, 2\) and ends \(1, 1\)"),
        ((np.zeros((2, 0), int), np.zeros((2, 0), int), 8), r"segments >= 1, got starts \(2, 0\)"),
        (([[0.0]], [[2.0]], 8), r"got starts of dtype float64"),
        (([[0]], [[2]], 0), r"num_frames must be a positive int"),
    ]
    for (starts, ends, t), match in bad:
        with pytest.raises(ValueError, match=match):
            check_subtitle_spans(starts, ends, t)


def test_generate_actions_forcing_changes_only_what_is_forced():
    kw = dict(seed=9, num_frames=4, size=16, num_distractors=2)
    free = generate_actions(10, **kw)
    same = generate_actions(10, **kw, action_labels=free.action, digit_index=free.info["digit_index"],
                            distractor_index=free.info["distractor_index"])
    assert np.array_equal(same.frames, free.frames) and same.captions == free.captions
    assert all(np.array_equal(same.info[k], free.info[k]) for k in free.info)
    labels = (free.action + 1) % 8
    moved = generate_actions(10, **kw, action_labels=labels)
    assert np.array_equal(moved.action, labels) and np.array_equal(moved.digit, free.digit)
    assert np.array_equal(moved.info["angle_mid_deg"], free.info["angle_mid_deg"])
    assert np.array_equal(moved.info["distractor_start"], free.info["distractor_start"])
    pool_images, pool_labels = load_digits("train")
    idx = np.arange(10) * 7
    d_idx = np.arange(20).reshape(10, 2) + 100
    cast = generate_actions(10, **kw, digit_index=idx, distractor_index=d_idx)
    assert np.array_equal(cast.images[:, 0], pool_images[idx]) and np.array_equal(cast.digit, pool_labels[idx])
    assert np.array_equal(cast.images[:, 1:], pool_images[d_idx])
    assert np.array_equal(cast.info["distractor_digit"], pool_labels[d_idx])
    assert np.array_equal(cast.action, free.action)


@pytest.mark.parametrize("kwargs, match", [
    (dict(action_labels=[0, 1]), r"action_labels must be an int array of shape \(3,\) with values in 0\.\.7 "
                                 r".*got shape \(2,\)"),
    (dict(action_labels=[0, 1, 8]), r"action_labels .* got values from 0 to 8"),
    (dict(digit_index=[0.0, 1.0, 2.0]), r"digit_index .* got dtype float64"),
    (dict(digit_index=[0, 1, -1]), r"digit_index must be an int array of shape \(3,\) with values in 0\.\.\d+"),
    (dict(distractor_index=[0, 1, 2]), r"distractor_index must be an int array of shape \(3, 1\).*got shape \(3,\)"),
])
def test_generate_actions_forcing_is_validated(kwargs, match):
    with pytest.raises(ValueError, match=match):
        generate_actions(3, num_frames=2, size=16, num_distractors=1, **kwargs)


def test_compositions_share_the_cast_for_one_seed():
    kw = dict(split="test", seed=6, segments=3, segment_frames=2, size=16)
    seen, novel = generate_episodes(20, **kw, compositions="seen"), generate_episodes(20, **kw, compositions="novel_combo")
    assert np.array_equal(seen.info["digit_index"], novel.info["digit_index"])
    assert np.array_equal(seen.info["distractor_index"], novel.info["distractor_index"])
    assert not np.array_equal(seen.actions, novel.actions)
