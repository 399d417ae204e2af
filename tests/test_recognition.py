"""vidkit.experiments.attention (notebook 03's helpers) and vidkit.data.flow.with_frame_differences."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vidkit.data import ACTIONS
from vidkit.data.flow import with_frame_differences
from vidkit.experiments.attention import (
    HEADS,
    MIRROR_PAIRS,
    evaluate,
    make_data,
    pair_accuracy,
    predict,
    train_classifier,
)
from vidkit.models import PoolingClassifier, SoftAttentionLSTM


def test_frame_differences_channels():
    x = torch.rand(2, 5, 1, 8, 8)
    y = with_frame_differences(x)
    assert y.shape == (2, 5, 2, 8, 8)
    assert torch.equal(y[:, :, 0], x[:, :, 0])
    assert torch.equal(y[:, 0, 1], torch.zeros(2, 8, 8))
    assert torch.allclose(y[:, 3, 1], x[:, 3, 0] - x[:, 2, 0])


@pytest.mark.parametrize("bad", [torch.rand(2, 5, 2, 8, 8), torch.rand(5, 1, 8, 8), torch.rand(2, 1, 1, 8, 8),
                                 torch.zeros(2, 5, 1, 8, 8, dtype=torch.uint8)])
def test_frame_differences_validation(bad):
    with pytest.raises(ValueError, match=r"\(N, T >= 2, 1, H, W\)"):
        with_frame_differences(bad)


def test_pair_accuracy_known_answers():
    n = len(ACTIONS)
    mirror = {ACTIONS.index(a): ACTIONS.index(b) for a, b in MIRROR_PAIRS}
    mirror.update({b: a for a, b in mirror.items()})
    actions = np.arange(n)
    right = np.full((n, n), 0.01)
    right[actions, actions] = 0.5                      # true class beats its mirror
    assert pair_accuracy(right, actions) == 1.0
    flipped = np.full((n, n), 0.01)
    flipped[actions, [mirror[a] for a in actions]] = 0.5   # the mirror always wins
    assert pair_accuracy(flipped, actions) == 0.0
    # a wrong class outside the pair does not count against: only the pair's two probabilities matter
    other = np.full((n, n), 0.01)
    other[actions, actions] = 0.2
    other[actions, (actions + 2) % n] = 0.7
    assert pair_accuracy(other, actions) == 1.0
    with pytest.raises(ValueError, match="probs"):
        pair_accuracy(np.ones((3, 5)), np.zeros(3, dtype=int))


def test_mirror_pairs_cover_every_action_once():
    flat = [a for pair in MIRROR_PAIRS for a in pair]
    assert sorted(flat) == sorted(ACTIONS)


def test_train_predict_evaluate_small():
    clips, x = make_data(24, "train", seed=0, size=32, num_frames=4, distractors=2)
    assert x.shape == (24, 4, 2, 32, 32)
    model = SoftAttentionLSTM(HEADS, in_channels=2, width=8, hidden=16)
    run = train_classifier(model, x, clips, steps=3, time_s=30, batch=8, progress=False)
    assert run.steps == 3
    pred = predict(model, x, batch_size=10)
    assert pred.probs["action"].shape == (24, len(ACTIONS)) and pred.probs["digit"].shape == (24, 10)
    assert np.allclose(pred.probs["action"].sum(1), 1, atol=1e-5)
    assert pred.spatial.shape == (24, 4, 8, 8)
    res = evaluate(pred, clips)
    assert {"action acc", "digit acc", "within-pair acc", "pointing game", "attention mass",
            "chance (box area)"} <= set(res)
    assert 0 < res["chance (box area)"] < 1
    pooled = predict(PoolingClassifier(HEADS, pool="conv", in_channels=2, width=8, hidden=16), x)
    assert pooled.spatial is None and "pointing game" not in evaluate(pooled, clips)
    with pytest.raises(ValueError, match="predictions"):
        evaluate(pred, clips.subset(np.arange(5)))
    with pytest.raises(ValueError, match="ActionClips"):
        train_classifier(model, x[:5], clips, steps=1, time_s=1)


def test_frames_only_models_read_channel_zero():
    from vidkit.experiments.attention import inputs_for

    x = torch.rand(3, 4, 2, 32, 32)
    one = PoolingClassifier(HEADS, pool="conv", in_channels=1, width=8, hidden=16)
    assert torch.equal(inputs_for(one, x), x[:, :, :1])
    two = PoolingClassifier(HEADS, pool="conv", in_channels=2, width=8, hidden=16)
    assert inputs_for(two, x) is x or torch.equal(inputs_for(two, x), x)
    assert predict(one, x).probs["action"].shape == (3, len(ACTIONS))
    with pytest.raises(ValueError, match="channels"):
        inputs_for(PoolingClassifier(HEADS, in_channels=3, width=8, hidden=16), x)
