"""vidkit.eval.representation: probe, kNN and R@k on constructed embeddings with known answers; embedding extraction."""

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from vidkit.eval.representation import (
    evaluate_representation,
    extract_embeddings,
    knn_accuracy,
    knn_predict,
    linear_probe,
    nearest_neighbours,
    results_frame,
    retrieval_recall,
)
from vidkit.eval.retrieval import cosine_scores, retrieval_metrics

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def clusters(labels: np.ndarray, dim: int, seed: int, spread: float = 0.1) -> np.ndarray:
    """Embeddings encoding ``labels`` perfectly: a far-apart centre per class (10 * one-hot) + small noise."""
    rng = np.random.default_rng(seed)
    return 10.0 * np.eye(dim)[labels] + spread * rng.standard_normal((len(labels), dim))


# ------------------------------------------------------------------------------------ perfect / noise


def test_perfect_clusters_score_one_everywhere():
    rng = np.random.default_rng(0)
    ty, qy = rng.integers(0, 5, 200), rng.integers(0, 5, 100)
    tx, qx = clusters(ty, 8, seed=1), clusters(qy, 8, seed=2)
    assert linear_probe(tx, ty, qx, qy)["accuracy"] == 1.0
    assert knn_accuracy(tx, ty, qx, qy, k=20) == 1.0
    assert retrieval_recall(qx, qy, tx, ty, ks=(1, 5)) == {"R@1": 1.0, "R@5": 1.0}
    assert retrieval_recall(tx, ty, tx, ty, ks=(1,), exclude_self=True) == {"R@1": 1.0}
    # torch tensors work the same as numpy arrays
    assert knn_accuracy(torch.from_numpy(tx).float(), torch.from_numpy(ty), torch.from_numpy(qx), qy) == 1.0


def test_noise_scores_chance():
    # 4 balanced classes, features independent of labels. With 2000 test samples the standard error of an
    # accuracy near 0.25 is sqrt(0.25 * 0.75 / 2000) ~= 0.01, so a tolerance of 0.06 is > 5 standard errors.
    rng = np.random.default_rng(0)
    ty, qy = np.repeat(np.arange(4), 500), np.repeat(np.arange(4), 500)
    tx, qx = rng.standard_normal((2000, 8)), rng.standard_normal((2000, 8))
    probe = linear_probe(tx, ty, qx, qy)
    assert probe["chance"] == 0.25
    assert abs(probe["accuracy"] - 0.25) < 0.06
    assert abs(knn_accuracy(tx, ty, qx, qy) - 0.25) < 0.06
    r = retrieval_recall(qx, qy, tx, ty, ks=(1, 5))
    assert abs(r["R@1"] - 0.25) < 0.06
    # a random gallery item matches with p = 1/4, so R@5 ~= 1 - (3/4)^5 = 0.763
    assert abs(r["R@5"] - (1 - 0.75**5)) < 0.06


def test_probe_chance_is_best_constant_answer():
    tx = np.array([[0.0], [1.0], [2.0], [3.0]])
    ty = np.array([1, 1, 1, 0])
    out = linear_probe(tx, ty, tx, np.array([1, 0, 0, 0]))  # answering 0 always scores 3/4 on the test set
    assert out["chance"] == 0.75 and set(out) == {"accuracy", "train_accuracy", "chance"}


def test_evaluate_representation_one_label_encoded_other_not():
    # action encoded in clusters, digit independent of the embedding: high for action, chance for digit.
    rng = np.random.default_rng(3)
    n_train, n_test = 1600, 1000
    action_tr, action_te = rng.integers(0, 8, n_train), rng.integers(0, 8, n_test)
    digit_tr, digit_te = rng.integers(0, 10, n_train), rng.integers(0, 10, n_test)
    tx, qx = clusters(action_tr, 8, seed=4, spread=1.0), clusters(action_te, 8, seed=5, spread=1.0)
    res = evaluate_representation(tx, {"action": action_tr, "digit": digit_tr},
                                  qx, {"action": action_te, "digit": digit_te}, ks=(1, 5))
    assert list(res) == ["action", "digit"]
    assert list(res["action"]) == ["probe", "knn", "R@1", "R@5", "chance"]
    for metric in ("probe", "knn", "R@1", "R@5"):
        assert res["action"][metric] > 0.95
    # digit: chance 0.1 (std. error ~0.0095 at n=1000); R@5 ~ 1 - 0.9^5 = 0.41
    for metric in ("probe", "knn", "R@1"):
        assert abs(res["digit"][metric] - 0.1) < 0.05, (metric, res["digit"][metric])
    assert abs(res["digit"]["R@5"] - (1 - 0.9**5)) < 0.06
    assert 0.05 < res["digit"]["chance"] < 0.16

    table = results_frame({"constructed": res})
    assert table.loc["constructed", ("action", "probe")] == res["action"]["probe"]


# --------------------------------------------------------------------------------- hand-built retrieval

# Gallery (2-D), labels 0..3:  A=(4,4) B=(0,2) C=(2,0) D=(-2,-2); gallery mean (1, 1).
# Centred: A'=(3,3) 45deg, B'=(-1,1) 135deg, C'=(1,-1) -45deg, D'=(-3,-3) 225deg.
GALLERY = np.array([[4.0, 4.0], [0.0, 2.0], [2.0, 0.0], [-2.0, -2.0]])
GALLERY_Y = np.array([0, 1, 2, 3])
# q1=(0.7,1.2), label 1: centred (-0.3,0.2) at 146deg -> B, D, A, C: hit at rank 1.
#   Uncentred q1 is at 60deg from the origin: A (45deg), B (90deg), ... -> miss at 1, hit at 2.
# q2=(3,2), label 2: centred (2,1) at 27deg -> A, C, ...: hit at rank 2 (uncentred also A, C, ...).
QUERIES = np.array([[0.7, 1.2], [3.0, 2.0]])
QUERY_Y = np.array([1, 2])


def test_retrieval_by_hand_with_mean_centring():
    assert retrieval_recall(QUERIES, QUERY_Y, GALLERY, GALLERY_Y, ks=(1, 2, 3)) == {
        "R@1": 0.5, "R@2": 1.0, "R@3": 1.0}


def test_retrieval_centring_changes_the_answer():
    plain = retrieval_recall(QUERIES, QUERY_Y, GALLERY, GALLERY_Y, ks=(1, 2), center=False)
    assert plain == {"R@1": 0.0, "R@2": 1.0}
    # the answer moves with the gallery mean: a common offset added to everything changes nothing centred
    shifted = retrieval_recall(QUERIES + 50, QUERY_Y, GALLERY + 50, GALLERY_Y, ks=(1, 2))
    assert shifted == {"R@1": 0.5, "R@2": 1.0}


def test_retrieval_exclude_self():
    # Points with mean 0: p0=(2,0) p1=(-2,0) p2=(1,1) p3=(-1,-1), labels 0, 1, 1, 0.
    # Excluding itself, each point's nearest is at 45deg and of the other label (p0->p2, p1->p3, p2->p0,
    # p3->p1): R@1 = 0; its second nearest has its own label: R@2 = 1. Including itself, R@1 = 1 trivially.
    p, y = np.array([[2.0, 0.0], [-2.0, 0.0], [1.0, 1.0], [-1.0, -1.0]]), np.array([0, 1, 1, 0])
    assert retrieval_recall(p, y, p, y, ks=(1, 2), exclude_self=True) == {"R@1": 0.0, "R@2": 1.0}
    assert retrieval_recall(p, y, p, y, ks=(1,)) == {"R@1": 1.0}
    assert list(retrieval_recall(p, y, p, y, ks=(3, 1), exclude_self=True)) == ["R@3", "R@1"]


# ------------------------------------------------------------------------------------- retrieval and ties
# retrieval_recall ranks with vidkit.eval.retrieval.first_hit_ranks: a wrong clip that ties with (or is rounded
# to just below) the best right clip counts as ranked above it, whatever the gallery order.


@pytest.mark.parametrize("center", [True, False])
def test_retrieval_all_equal_embeddings_give_every_query_the_worst_rank(center):
    # 20 identical gallery clips, 5 per label: every query ties with all of them, so its first same-label
    # clip comes after the 15 other-label ones: rank 16 for every query, never a lucky hit.
    gy, qy = np.repeat(np.arange(4), 5), np.array([0, 1, 2, 3, 3, 0])
    gx, qx = np.ones((20, 3)), np.ones((6, 3))
    r = retrieval_recall(qx, qy, gx, gy, ks=(1, 5, 15, 16), center=center)
    assert r == {"R@1": 0.0, "R@5": 0.0, "R@15": 0.0, "R@16": 1.0}
    # querying the set with itself: 1 other same-label clip and 2 other-label clips each -> rank 3
    p, y = np.ones((4, 2)), np.array([0, 0, 1, 1])
    assert retrieval_recall(p, y, p, y, ks=(1, 2, 3), exclude_self=True, center=center) == {
        "R@1": 0.0, "R@2": 0.0, "R@3": 1.0}


@pytest.mark.parametrize("duplicates_first", [False, True])
def test_retrieval_an_exact_duplicate_of_a_wrong_clip_ties(duplicates_first):
    # Each query's nearest clip (its own label) has an exact duplicate with another label: rank 2 for every
    # query, R@1 = 0, R@2 = 1, whether the duplicates come before or after the originals in the gallery.
    rng = np.random.default_rng(0)
    own = rng.standard_normal((40, 8))
    qx, qy = own + 0.05 * rng.standard_normal((40, 8)), np.arange(40) % 4
    originals, duplicates = (own, qy), (own.copy(), (qy + 1) % 4)
    parts = [duplicates, originals] if duplicates_first else [originals, duplicates]
    gx, gy = np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
    assert retrieval_recall(qx, qy, gx, gy, ks=(1, 2)) == {"R@1": 0.0, "R@2": 1.0}


def test_retrieval_does_not_depend_on_gallery_order_and_agrees_with_retrieval_metrics():
    # quantised embeddings: many clips share an embedding, so many scores tie exactly (or to rounding)
    rng = np.random.default_rng(1)
    gx, qx = rng.integers(-1, 2, (300, 3)).astype(float), rng.integers(-1, 2, (50, 3)).astype(float) + 0.1
    gy, qy = rng.integers(0, 5, 300), rng.integers(0, 5, 50)
    ks = (1, 2, 5, 10, 50)
    want = retrieval_recall(qx, qy, gx, gy, ks=ks)
    for _ in range(5):
        perm = rng.permutation(300)
        assert retrieval_recall(qx, qy, gx[perm], gy[perm], ks=ks) == want
    # the one implementation: R@k of retrieval_metrics with relevance = same label
    same = qy[:, None] == gy[None, :]
    for center in (True, False):
        metrics = retrieval_metrics(cosine_scores(qx, gx, center=center), same, ks=ks)
        recall = retrieval_recall(qx, qy, gx, gy, ks=ks, center=center)
        assert recall == {f"R@{k}": metrics[f"R@{k}"] for k in ks}


def test_retrieval_a_near_tie_from_float_rounding_counts_as_a_tie():
    # Wrong clips c * x_i are scaled copies of the right ones x_i: the same cosine, but normalisation and the
    # float64 matmul round some of their scores a few 1e-16 apart (either way). Uncentred, so the copies
    # stay parallel. Every query still gets rank 2, whichever comes first in the gallery.
    rng = np.random.default_rng(0)
    x = rng.standard_normal((200, 16))
    qx, qy = x + 0.3 * rng.standard_normal((200, 16)), np.zeros(200, dtype=int)
    copies = x * np.resize([3.0, 7.0, 0.1, 1 / 3, 11.0], 200)[:, None]
    scores = cosine_scores(qx, np.concatenate([x, copies]))
    gap = scores[range(200), range(200)] - scores[range(200), range(200, 400)]
    assert (gap != 0).any(), "no score was rounded apart from its copy's: the test needs a near-tie"
    for i in range(0, 200, 40):   # one query at a time: its own clip is the only right answer
        q = qx[i:i + 1]
        for gx, gy in ((np.stack([x[i], copies[i]]), np.array([0, 1])),
                       (np.stack([copies[i], x[i]]), np.array([1, 0]))):
            assert retrieval_recall(q, qy[:1], gx, gy, ks=(1, 2), center=False) == {"R@1": 0.0, "R@2": 1.0}
    # all at once: each query against the 400 clips, its own original the one right answer
    labels = np.arange(200)
    gy = np.concatenate([labels, labels + 200])
    assert retrieval_recall(qx, labels, np.concatenate([x, copies]), gy, ks=(1, 2), center=False) == {
        "R@1": 0.0, "R@2": 1.0}


def test_retrieval_a_query_without_a_same_label_clip_never_hits():
    gx, gy = np.eye(3), np.array([0, 1, 2])
    assert retrieval_recall(np.eye(3)[:2], np.array([0, 7]), gx, gy, ks=(1, 3)) == {"R@1": 0.5, "R@3": 0.5}
    # querying a set with itself, a clip whose label is unique has no right answer left
    assert retrieval_recall(gx, np.array([0, 0, 1]), gx, np.array([0, 0, 1]), ks=(2,), exclude_self=True) == {
        "R@2": pytest.approx(2 / 3)}


def test_nearest_neighbours_list_ties_in_gallery_order():
    # gallery rows 1, 2 and 4 are exact twins of the query direction; they come first, in gallery order
    g = np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 0.0], [1.0, 1.0], [3.0, 0.0]])
    assert nearest_neighbours(np.array([[5.0, 0.0]]), g, k=4, center=False).tolist() == [[1, 2, 4, 3]]
    idx = nearest_neighbours(g, g, k=2, center=False, exclude_self=True)
    assert idx[1].tolist() == [2, 4] and idx[2].tolist() == [1, 4] and idx[4].tolist() == [1, 2]


# ----------------------------------------------------------------------------------------- weighted kNN


def test_weighted_knn_differs_from_majority_vote():
    # Query (1, 0). Its 3 nearest: a=(1,0) class 0 (cos 1), b1=(0.8,0.6), b2=(0.8,-0.6) class 1 (cos 0.8).
    # Majority: class 1 (two votes). Weighted, T=0.07: exp(1/T) vs 2 exp(0.8/T): ratio exp(0.2/0.07)/2 ~ 8.7
    # -> class 0. A very large temperature makes all weights ~1, i.e. majority voting.
    tx = np.array([[1.0, 0.0], [0.8, 0.6], [0.8, -0.6], [-1.0, 0.0]])
    ty = np.array([0, 1, 1, 0])
    q, qy = np.array([[1.0, 0.0]]), np.array([0])
    assert knn_accuracy(tx, ty, q, qy, k=3, temperature=0.07) == 1.0
    assert knn_accuracy(tx, ty, q, qy, k=3, temperature=100.0) == 0.0
    assert knn_predict(tx, ty, q, k=1).tolist() == [0]
    # the features are L2-normalised: scaling a train point changes nothing
    assert knn_accuracy(tx * np.array([[7.0], [1], [1], [1]]), ty, q, qy, k=3) == 1.0


def test_knn_string_labels():
    tx, ty = np.array([[1.0, 0.0], [0.0, 1.0]]), np.array(["left", "up"])
    assert knn_predict(tx, ty, np.array([[0.1, 0.9]]), k=2).tolist() == ["up"]


# --------------------------------------------------------------------------------------- results table


def test_results_frame_layout():
    results = {
        "random init": {"action": {"probe": 0.2, "R@1": 0.15}, "digit": {"probe": 0.5, "R@1": 0.4}},
        "ours": {"action": {"probe": 0.8, "R@1": 0.7}, "digit": {"probe": 0.3}},
    }
    df = results_frame(results)
    assert isinstance(df, pd.DataFrame)
    assert df.index.tolist() == ["random init", "ours"] and df.index.name == "method"
    assert df.columns.names == ["label", "metric"]
    assert df.columns.tolist() == [("action", "probe"), ("action", "R@1"),
                                   ("digit", "probe"), ("digit", "R@1")]
    assert df.loc["ours", ("action", "probe")] == 0.8
    assert np.isnan(df.loc["ours", ("digit", "R@1")])
    assert df["digit"]["probe"].tolist() == [0.5, 0.3]


# ------------------------------------------------------------------------------------ extract_embeddings


class DummyEncoder(nn.Module):
    """embed: mean pixel of every frame, times a learnable scale; records batch sizes and modes it saw."""

    def __init__(self) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.tensor(2.0))
        self.batches: list[int] = []
        self.seen_training: list[bool] = []
        self.seen_grad: list[bool] = []

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        self.batches.append(len(x))
        self.seen_training.append(self.training)
        self.seen_grad.append(torch.is_grad_enabled())
        return self.scale * x.mean(dim=(2, 3, 4))  # (B, T)


def test_extract_embeddings_batches_and_restores_mode():
    clips = torch.rand(10, 3, 1, 4, 4)
    enc = DummyEncoder()
    enc.train()
    z = extract_embeddings(enc, clips, batch_size=4, progress=False)
    assert isinstance(z, np.ndarray) and z.shape == (10, 3) and z.dtype == np.float32
    np.testing.assert_allclose(z, 2.0 * clips.mean(dim=(2, 3, 4)).numpy(), rtol=1e-6)
    assert enc.batches == [4, 4, 2]
    assert enc.seen_training == [False] * 3 and enc.seen_grad == [False] * 3
    assert enc.training  # restored
    enc.eval()
    extract_embeddings(enc, clips, batch_size=64, progress=False)
    assert not enc.training and enc.batches[-1] == 10


def test_extract_embeddings_accepts_frames_objects_and_datasets():
    frames = np.random.default_rng(0).integers(0, 256, (5, 3, 4, 4), dtype=np.uint8)
    expected = 2.0 * frames.astype(np.float32).mean(axis=(2, 3)) / 255.0

    class Clips:  # like ActionClips / MovingMNIST: uint8 (N, T, H, W) frames
        def __init__(self, f: np.ndarray) -> None:
            self.frames = f

    enc = DummyEncoder()
    np.testing.assert_allclose(extract_embeddings(enc, Clips(frames), batch_size=2, progress=False), expected,
                               rtol=1e-5)
    # a Dataset of dicts with "frames" (T, C, H, W), like ActionsDataset
    items = [{"frames": torch.from_numpy(f).float().div(255).unsqueeze(1), "digit": 0} for f in frames]
    z = extract_embeddings(enc, items, batch_size=3, progress=False)
    np.testing.assert_allclose(z, expected, rtol=1e-5)
    assert enc.batches[-2:] == [3, 2]


# ---------------------------------------------------------------------------------------------- errors

X, Y = np.zeros((4, 2)), np.array([0, 1, 0, 1])


@pytest.mark.parametrize("call, exc, match", [
    (lambda: linear_probe([[1.0]], Y, X, Y), TypeError, r"train_x must be .*numpy array or torch tensor"),
    (lambda: linear_probe(np.zeros(3), Y, X, Y), ValueError, r"train_x must be \(N, D\) float.*got \(3,\)"),
    (lambda: linear_probe(np.zeros((0, 2)), Y[:0], X, Y), ValueError, r"train_x must be \(N, D\).*\(0, 2\)"),
    (lambda: linear_probe(X.astype(str), Y, X, Y), TypeError, r"train_x must be \(N, D\) float, got dtype"),
    (lambda: linear_probe(np.full((4, 2), np.nan), Y, X, Y), ValueError, r"train_x must be finite"),
    (lambda: linear_probe(X, Y, np.zeros((4, 3)), Y), ValueError, r"same feature dimension D"),
    (lambda: linear_probe(X, Y.reshape(2, 2), X, Y), ValueError, r"train_y must be \(N,\) class labels"),
    (lambda: linear_probe(X, Y + 0.5, X, Y), TypeError, r"train_y must be \(N,\) integer"),
    (lambda: linear_probe(X, Y[:3], X, Y), ValueError, r"train_y has 3 labels but train_x has 4 rows"),
    (lambda: linear_probe(X, Y, X, Y[:2]), ValueError, r"test_y has 2 labels but test_x has 4 rows"),
    (lambda: linear_probe(X, np.zeros(4, int), X, Y), ValueError, r"at least 2 classes"),
    (lambda: linear_probe(X, Y, X, Y, C=0), ValueError, r"C must be a finite number in \(0, inf\), got 0 \(int\)"),
    (lambda: linear_probe(X, Y, X, Y, C="1"), ValueError, r"C must be a finite number in \(0, inf\), got '1' \(str\)"),
    (lambda: linear_probe(X, Y, X, Y, max_iter=0), ValueError, r"max_iter must be a positive int, got 0 \(int\)"),
    (lambda: knn_accuracy(X, Y, X, Y, k=5), ValueError, r"k must be an int in 1\.\.4 \(the number of train samples\), got 5"),
    (lambda: knn_accuracy(X, Y, X, Y, k=2.0), ValueError, r"k must be an int in 1\.\.4 \(the number of train samples\), got 2\.0 \(float\)"),
    (lambda: knn_accuracy(X, Y, X, Y, k=2, temperature=-1), ValueError, r"temperature must be a finite number in \(0, inf\), got -1"),
    (lambda: knn_predict(X, Y, np.zeros((1, 3))), ValueError, r"same feature dimension D"),
    (lambda: retrieval_recall(X, Y, X, Y, ks=()), ValueError, r"ks must hold at least one k"),
    (lambda: retrieval_recall(X, Y, X, Y, ks=5), TypeError, r"ks must be a sequence of ints"),
    (lambda: retrieval_recall(X, Y, X, Y, ks=(0,)), ValueError, r"each k in ks must be an int in 1\.\.4 \(the gallery size\), got 0"),
    (lambda: retrieval_recall(X, Y, X, Y, ks=(4,), exclude_self=True), ValueError,
     r"must be an int in 1\.\.3 \(the gallery size minus 1"),
    (lambda: retrieval_recall(X[:2], Y[:2], X, Y, exclude_self=True), ValueError,
     r"exclude_self=True needs the query set to be the gallery set"),
    (lambda: retrieval_recall(X, Y, X, Y[:3]), ValueError, r"gallery_y has 3 labels but gallery_x has 4"),
    (lambda: evaluate_representation(X, Y, X, {"a": Y}), TypeError, r"train_labels must be a non-empty dict"),
    (lambda: evaluate_representation(X, {}, X, {}), TypeError, r"train_labels must be a non-empty dict"),
    (lambda: evaluate_representation(X, {"a": Y}, X, {"b": Y}), ValueError, r"must name the same labels"),
    (lambda: evaluate_representation(X, {"a": Y[:3]}, X, {"a": Y}), ValueError,
     r"train_labels\['a'\] has 3 labels"),
    (lambda: results_frame({}), TypeError, r"results must be a non-empty dict"),
    (lambda: results_frame({"m": 0.5}), TypeError, r"results\['m'\] must be a dict"),
    (lambda: results_frame({"m": {"action": 0.5}}), TypeError, r"results\['m'\]\['action'\] must be a dict"),
])
def test_validation_errors(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


class NoEmbed(nn.Module):
    pass


class BadEmbed(DummyEncoder):
    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=(1, 2, 3, 4))  # (B,), not (B, D)


@pytest.mark.parametrize("encoder, clips, kwargs, exc, match", [
    (NoEmbed(), torch.zeros(2, 3, 1, 4, 4), {}, TypeError, r"encoder must have an embed\(x\) method"),
    (DummyEncoder(), torch.zeros(2, 3, 1, 4, 4), {"batch_size": 0}, ValueError, r"batch_size must be a positive int, got 0 \(int\)"),
    (DummyEncoder(), torch.zeros(2, 3, 4, 4), {}, ValueError, r"clips must be a \(N, T, C, H, W\) tensor"),
    (DummyEncoder(), torch.zeros(0, 3, 1, 4, 4), {}, ValueError, r"at least one clip"),
    (DummyEncoder(), [torch.zeros(3, 4, 4)], {}, ValueError, r"clips\[0\] must be a \(T, C, H, W\) tensor"),
    (DummyEncoder(), 42, {}, TypeError, r"clips must be a \(N, T, C, H, W\) tensor/array"),
    (BadEmbed(), torch.zeros(2, 3, 1, 4, 4), {}, ValueError,
     r"embed must return a \(B, D\) tensor with B = 2"),
])
def test_extract_embeddings_errors(encoder, clips, kwargs, exc, match):
    encoder.train()
    with pytest.raises(exc, match=match):
        extract_embeddings(encoder, clips, progress=False, **kwargs)
    assert encoder.training  # restored even when embed fails
