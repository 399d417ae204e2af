"""UCF-101 / HMDB-51 folders (vidkit.data.folders) and the protocols on them (vidkit.eval.real_video), on small
folders the tests write: the actions suite in both layouts, and a folder whose videos show their class as a
gray level, so that an encoder that reads it off must score perfectly and a constant one cannot."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from torch import nn

from vidkit.data.folders import (
    VideoFolderDataset,
    even_clip_indices,
    list_videos,
    random_clip_indices,
    read_split,
    write_actions_folder,
    write_layout,
)
from vidkit.errors import DataFileError
from vidkit.eval.real_video import (
    FineTunedClassifier,
    embed_folder,
    embed_video,
    embed_videos,
    evaluate_folder,
    finetune_split,
    load_index,
    search_index,
)
from vidkit.models import PixelEncoder
from vidkit.profiles import PROFILES, RealVideoBudget
from vidkit.train import warmup_cosine

BUDGET = RealVideoBudget(size=16, channels=1, frames=4, stride=2, test_clips=2, videos_per_class=None, batch=8,
                         finetune_steps=4, finetune_lr=0.5)
GRAY = {f"Class{c}": 30 + 25 * c for c in range(6)}                    # class c: every pixel at 30 + 25 c


@pytest.fixture(scope="module")
def ucf(tmp_path_factory):
    return write_actions_folder(tmp_path_factory.mktemp("ucf"), "ucf101", 4, size=32, num_frames=12)


@pytest.fixture(scope="module")
def hmdb(tmp_path_factory):
    return write_actions_folder(tmp_path_factory.mktemp("hmdb"), "hmdb51", 5, size=32, num_frames=12, suffix=".mp4")


@pytest.fixture(scope="module")
def gray_folder(tmp_path_factory):
    """UCF-101 layout, 6 classes, 3 train and 2 test videos each of a constant gray level (lengths 5..9)."""
    rng = np.random.default_rng(0)

    def video(c: str) -> np.ndarray:
        return np.full((int(rng.integers(5, 10)), 12, 16), GRAY[c], np.uint8)

    train = [(c, video(c)) for c in GRAY for _ in range(3)]
    test = [(c, video(c)) for c in GRAY for _ in range(2)]
    return write_layout(tmp_path_factory.mktemp("gray"), "ucf101", train, test)


class ReadsTheLabel(nn.Module):
    """Cheats: the class of a gray-folder clip is its gray level; embeds it as a one-hot vector."""

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        level = x.mean(dim=(1, 2, 3, 4)) * 255
        return torch.nn.functional.one_hot(((level - 30) / 25).round().long().clamp(0, 5), 6).float()


class ReadsTheLabelThroughAWeight(ReadsTheLabel):
    """The cheat's one-hot vector times a trainable gain (from 10): fine-tuning trains the gain with the classifier."""

    def __init__(self):
        super().__init__()
        self.gain = nn.Parameter(torch.tensor(10.0))

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return self.gain * super().embed(x)


class Constant(nn.Module):
    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return torch.ones(len(x), 4)


# ---------------------------------------------------------------------------------------------- layouts


def test_ucf101_layout_and_split_files(ucf):
    assert ucf.layout == "ucf101" and ucf.split == 1
    assert ucf.classes == ("MoveDown", "MoveLeft", "MoveRight", "MoveUp", "RotateCcw", "RotateCw", "ZoomIn", "ZoomOut")
    assert (len(ucf.train), len(ucf.test)) == (24, 8)                    # 4 per class: 1 test group, 3 train
    for paths, labels in ((ucf.train, ucf.train_labels), (ucf.test, ucf.test_labels)):
        assert [p.parent.name for p in paths] == [ucf.classes[i] for i in labels]
        assert all(p.is_file() and p.parent.parent.name == "UCF-101" for p in paths)
    assert {p.name[:-8].rsplit("_", 1)[1] for p in ucf.test} == {"g01"}       # split 1 tests the first groups
    lists = ucf.root / "ucfTrainTestlist"
    assert (lists / "classInd.txt").read_text().splitlines()[0] == "1 MoveDown"
    assert (lists / "trainlist01.txt").read_text().splitlines()[0] == "MoveLeft/v_MoveLeft_g02_c01.avi 2"
    assert (lists / "testlist01.txt").read_text().splitlines()[0] == "MoveLeft/v_MoveLeft_g01_c01.avi"
    assert len(list_videos(ucf.root)) == 32 and list_videos(ucf.root) == sorted(ucf.train + ucf.test)


def test_hmdb51_layout_with_unused_videos(hmdb):
    assert hmdb.classes[:2] == ("move_down", "move_left") and len(hmdb.classes) == 8
    assert (len(hmdb.train), len(hmdb.test), hmdb.unused) == (16, 16, 8)    # 5 per class: 2 train, 2 test, 1 unused
    text = (hmdb.root / "testTrainMulti_7030_splits" / "move_left_test_split1.txt").read_text().split("\n")
    assert sorted(line.split()[1] for line in text if line) == ["0", "1", "1", "2", "2"]
    assert all(p.suffix == ".mp4" and p.parent.name == hmdb.classes[y] for p, y in zip(hmdb.test, hmdb.test_labels))
    assert "16 train and 16 test videos, 8 unused" in hmdb.describe()


def test_official_quirks_and_errors(tmp_path, ucf):
    root = tmp_path / "u"
    video = np.zeros((3, 8, 8), np.uint8)
    write_layout(root, "ucf101", [("HandstandPushups", video), ("Archery", video)], [("Archery", video)])
    lists = root / "ucfTrainTestlist"
    # a class spelt in another case than its folder (UCF-101 mixes HandstandPushups / HandStandPushups): matched
    (lists / "classInd.txt").write_text("1 Archery\n2 handstandpushups\n")
    split = read_split(root)
    assert split.classes == ("Archery", "handstandpushups") and split.train_labels.tolist() == [1, 0]
    (lists / "trainlist01.txt").write_text("Archery/v_Archery_g02_c01.avi 2\n")
    with pytest.raises(DataFileError, match="listed as class 2 but its folder is class 1"):
        read_split(root)
    (lists / "trainlist01.txt").write_text("Bowling/v_Bowling_g01_c01.avi 1\n")
    with pytest.raises(DataFileError, match="'Bowling/v_Bowling_g01_c01.avi' is in no class of classInd.txt"):
        read_split(root)
    (lists / "trainlist01.txt").write_text("Archery/v_Archery_g09_c01.avi 1\n")
    with pytest.raises(FileNotFoundError, match="1 of the 2 videos that ucf101 split 1 lists are missing"):
        read_split(root)
    with pytest.raises(FileNotFoundError, match="no UCF-101 training list of split 2"):
        read_split(ucf.root, split=2)
    with pytest.raises(FileNotFoundError, match="no HMDB-51 split files of split 1"):
        read_split(ucf.root, layout="hmdb51")
    with pytest.raises(ValueError, match="layout must be 'ucf101' or 'hmdb51'"):
        read_split(ucf.root, layout="kinetics")
    with pytest.raises(FileNotFoundError, match="no such folder"):
        read_split(tmp_path / "nowhere")


def test_subset_keeps_each_class_evenly(ucf):
    assert ucf.subset(None) is ucf and ucf.subset(4) is ucf               # nothing left out: the same split
    two = ucf.subset(2)
    assert len(two.train) == 16 and len(two.test) == 8 and "at most 2 videos per class" in two.note
    assert np.bincount(two.train_labels).tolist() == [2] * 8
    first_class = [p.name for p, y in zip(ucf.train, ucf.train_labels) if y == 0]
    assert [p.name for p, y in zip(two.train, two.train_labels) if y == 0] == [first_class[0], first_class[-1]]


# ---------------------------------------------------------------------------------------------- clips


def test_clip_sampling():
    rng = np.random.default_rng(0)
    starts = set()
    for _ in range(200):
        idx = random_clip_indices(20, 4, 3, rng)                          # span 10: starts 0..10
        assert np.all(np.diff(idx) == 3) and 0 <= idx[0] <= 10
        starts.add(int(idx[0]))
    assert starts == set(range(11))
    assert random_clip_indices(5, 4, 3, rng).tolist() == [0, 3, 4, 4]         # short: last frame repeated
    assert even_clip_indices(20, 4, 3, 3).tolist() == [[0, 3, 6, 9], [5, 8, 11, 14], [10, 13, 16, 19]]
    assert even_clip_indices(20, 4, 3, 1).tolist() == [[5, 8, 11, 14]]
    assert even_clip_indices(4, 3, 2, 2).tolist() == [[0, 2, 3], [0, 2, 3]]
    with pytest.raises(ValueError, match="stride must be a positive int"):
        even_clip_indices(20, 4, 0, 3)


def test_dataset_serves_random_and_evenly_spaced_clips(ucf):
    train = VideoFolderDataset(ucf, "train", size=16, channels=3, frames=4, stride=2, seed=1)
    item = train[5]
    assert item["frames"].shape == (4, 3, 16, 16) and item["frames"].dtype == torch.float32
    assert item["label"] == int(ucf.train_labels[5]) and item["index"] == 5
    assert 0.0 <= float(item["frames"].min()) and float(item["frames"].max()) <= 1.0
    assert torch.equal(train[5]["frames"], item["frames"])                  # same epoch: the same clip
    test = VideoFolderDataset(ucf, "test", size=16, channels=1, frames=4, stride=2, clips=3)
    assert len(test) == 8 and test[0]["frames"].shape == (3, 4, 1, 16, 16)
    with pytest.raises(ValueError, match="part must be 'train' or 'test'"):
        VideoFolderDataset(ucf, "val")


# ---------------------------------------------------------------------------------------------- protocols


def test_protocol_scores_a_cheat_perfectly_and_a_constant_at_chance(gray_folder):
    cheat = evaluate_folder(ReadsTheLabel(), gray_folder.root, budget=BUDGET, progress=False)
    assert (cheat["classes"], cheat["train_videos"], cheat["test_videos"]) == (6, 18, 12)
    assert cheat["ks"] == [1, 5, 10]                                      # R@20, R@50: more than 18 train videos
    assert cheat["top1"] == 1.0 and cheat["R@1"] == 1.0 and cheat["R@10"] == 1.0
    assert cheat["chance@1"] == pytest.approx(3 / 18)
    const = evaluate_folder(Constant(), gray_folder.root, budget=BUDGET, progress=False)
    assert const["top1"] == pytest.approx(const["top1_chance"]) == pytest.approx(2 / 12)
    assert const["R@1"] == 0.0 and const["R@5"] == 0.0                       # ties count against the query
    assert const["R@10"] <= const["chance@10"]


@pytest.mark.parametrize("layout", ["ucf101", "hmdb51"])
def test_protocol_end_to_end_on_the_actions_folders(ucf, hmdb, layout):
    split = ucf if layout == "ucf101" else hmdb
    budget = dataclasses.replace(BUDGET, channels=3, videos_per_class=3)
    r = evaluate_folder(PixelEncoder(grid=4), split.root, layout, budget=budget, progress=False)
    assert r["layout"] == layout and r["classes"] == 8 and r["train_videos"] == (24 if layout == "ucf101" else 16)
    assert r["ks"] == ([1, 5, 10, 20] if layout == "ucf101" else [1, 5, 10])
    for k in r["ks"]:
        assert 0.0 <= r[f"R@{k}"] <= 1.0 and 0.0 < r[f"chance@{k}"] <= 1.0
    assert [r[f"R@{k}"] for k in r["ks"]] == sorted(r[f"R@{k}"] for k in r["ks"])
    assert 0.0 <= r["top1"] <= 1.0 and r["top1_train"] == pytest.approx(1.0)
    assert r["budget"]["channels"] == 3 and "finetune_top1" not in r          # fine-tuning only when asked


def test_embed_index_and_search(tmp_path, gray_folder):
    index = embed_folder(ReadsTheLabel(), gray_folder.root, tmp_path / "emb.npz", "cheat", BUDGET, progress=False)
    assert len(index) == 30 and index.embeddings.shape == (30, 6) and list(index.paths) == sorted(index.paths)
    assert index.paths[0] == "UCF-101/Class0/v_Class0_g01_c01.avi" and index.encoder == "cheat"
    assert index.budget == BUDGET and load_index(tmp_path / "emb.npz").paths == index.paths
    query = gray_folder.test[-1]                                          # a Class5 video
    hits = search_index(index, embed_video(ReadsTheLabel(), query, BUDGET), k=5)
    assert [p.split("/")[1] for p, _ in hits] == ["Class5"] * 5 and hits[0][1] == pytest.approx(1.0)
    assert embed_videos(PixelEncoder(grid=2), gray_folder.test[:2], BUDGET, progress=False).shape == (2, 8)
    with pytest.raises(ValueError, match=r"query must be a \(6,\) embedding"):
        search_index(index, np.zeros(3))
    (tmp_path / "bad.npz").write_bytes(b"nope")
    with pytest.raises(DataFileError, match="bad.npz: not a vidkit video index"):
        load_index(tmp_path / "bad.npz")
    with pytest.raises(FileNotFoundError, match="no video files"):
        embed_folder(PixelEncoder(), tmp_path, tmp_path / "x.npz", "pixels", BUDGET, progress=False)
    with pytest.raises(TypeError, match=r"nn.Module with embed"):
        embed_video(nn.Linear(2, 2), query, BUDGET)


def test_pixel_encoder_and_the_profiles_budget():
    x = torch.rand(2, 5, 3, 16, 16)
    z = PixelEncoder(grid=4).embed(x)
    assert z.shape == (2, 2 * 3 * 16)
    still = PixelEncoder(grid=4).embed(x[:, :1].expand(-1, 5, -1, -1, -1))
    assert still[:, 48:].abs().max() == 0                                    # no motion in a still clip
    with pytest.raises(ValueError, match=r"\(B, T, C, H, W\)"):
        PixelEncoder().embed(torch.rand(5, 3, 16, 16))
    sizes = [PROFILES[p].real_video for p in ("smoke", "laptop", "full")]
    assert all(isinstance(b, RealVideoBudget) for b in sizes)
    assert (sizes[2].frames, sizes[2].size, sizes[2].videos_per_class) == (32, 128, None)   # the GPU recipe
    assert sizes[0].size < sizes[1].size < sizes[2].size


# ---------------------------------------------------------------------------------------------- fine-tuning


def test_finetune_trains_a_copy_end_to_end_and_reads_the_label_perfectly(gray_folder):
    encoder = ReadsTheLabelThroughAWeight()
    before = {k: v.clone() for k, v in encoder.state_dict().items()}
    r = finetune_split(encoder, gray_folder, BUDGET, progress=False)
    assert r.top1 == 1.0 and r.chance == pytest.approx(2 / 12)            # 12 test videos, clip-averaged logits
    assert r.steps == BUDGET.finetune_steps and r.lr == BUDGET.finetune_lr    # the budget's steps and peak lr
    last_lr = BUDGET.finetune_lr * warmup_cosine(0, BUDGET.finetune_steps)(BUDGET.finetune_steps - 1)  # cosine decay
    assert r.history[-1]["step"] == BUDGET.finetune_steps and r.history[-1]["lr"] == pytest.approx(last_lr)
    assert r.trained == "encoder and classifier" and r.encoder_params == 1
    assert isinstance(r.model, FineTunedClassifier) and r.model.head.out_features == 6
    assert r.model.encoder.gain.item() != 10.0                                 # the encoder's copy trained...
    assert all(torch.equal(v, before[k]) for k, v in encoder.state_dict().items())    # ...the encoder did not
    assert 0.0 <= r.train_top1 <= 1.0 and np.isfinite(r.final_loss)
    assert set(r.summary()) == {"finetune_top1", "finetune_train_top1", "finetune_steps", "finetune_lr",
                                "finetune_trained", "finetune_loss"}


def test_protocol_cli_with_finetune(ucf, tmp_path, capsys, monkeypatch):
    """`vidkit protocol --finetune` is evaluate_folder(finetune=True); the pixels encoder trains its classifier only,
    for the profile's steps."""
    import json

    from vidkit.cli import main

    small = dataclasses.replace(BUDGET, channels=3, test_clips=1, videos_per_class=2, finetune_steps=3,
                                finetune_lr=1e-2)
    monkeypatch.setitem(PROFILES, "smoke", dataclasses.replace(PROFILES["smoke"], real_video=small))
    out = tmp_path / "r.json"
    assert main(["protocol", str(ucf.root), "--profile", "smoke", "--finetune", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "fine-tuning top-1" in text and "(classifier only, 3 steps of 8 clips at lr 0.01" in text
    r = json.loads(out.read_text())
    assert (r["train_videos"], r["test_videos"]) == (16, 8)
    assert 0.0 <= r["finetune_top1"] <= 1.0 and r["finetune_trained"] == "classifier only"
    assert r["finetune_steps"] == 3 and r["finetune_lr"] == 1e-2 and r["budget"]["finetune_steps"] == 3
    assert 0.0 <= r["top1"] <= 1.0


def test_finetune_errors(gray_folder):
    with pytest.raises(TypeError, match="split must be a vidkit.data.folders.VideoSplit"):
        finetune_split(ReadsTheLabel(), gray_folder.root, BUDGET)
    with pytest.raises(TypeError, match=r"nn.Module with embed"):
        finetune_split(nn.Linear(2, 2), gray_folder, BUDGET)
    with pytest.raises(TypeError, match="budget must be a vidkit.profiles.RealVideoBudget"):
        finetune_split(ReadsTheLabel(), gray_folder, {"finetune_steps": 3})
    with pytest.raises(ValueError, match="budget.finetune_steps must be a positive int, got 0"):
        finetune_split(ReadsTheLabel(), gray_folder, dataclasses.replace(BUDGET, finetune_steps=0))
    with pytest.raises(ValueError, match=r"budget.finetune_lr must be a finite number in \(0, inf\)"):
        finetune_split(ReadsTheLabel(), gray_folder, dataclasses.replace(BUDGET, finetune_lr=-1.0))
    one_class = dataclasses.replace(gray_folder, train_labels=np.zeros_like(gray_folder.train_labels))
    with pytest.raises(ValueError, match="fine-tuning needs training videos of at least 2 classes"):
        finetune_split(ReadsTheLabel(), one_class, BUDGET)
    with pytest.raises(TypeError, match="finetune must be a bool"):
        evaluate_folder(ReadsTheLabel(), gray_folder.root, budget=BUDGET, finetune="yes", progress=False)
