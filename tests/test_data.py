"""Moving MNIST: digits, physics invariants, determinism, exact flow, streams, cached test set."""

from __future__ import annotations

import gzip
import math
import struct

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from vidkit.data import (
    KNOWN_SHA256,
    DigitFileError,
    MovingMNISTDataset,
    MovingMNISTIterable,
    MovingMNISTStream,
    build_test_set,
    exact_flow,
    generate_moving_mnist,
    load_digits,
    load_official,
    load_test_set,
    testset,
    verify_test_set,
)
from vidkit.data.testset import frames_sha256
from vidkit.errors import DataCacheError, DataFileError

FREE = 64 - 28


@pytest.fixture(scope="module")
def batch():
    return generate_moving_mnist(200, 3)


# --- digits -----------------------------------------------------------------------------------------

def test_digit_split_is_per_class_and_disjoint():
    xtr, ytr = load_digits("train")
    xte, yte = load_digits("test")
    assert xtr.shape == (4000, 28, 28) and xte.shape == (1000, 28, 28)
    assert xtr.dtype == np.uint8 and xtr.max() > 200
    assert np.bincount(ytr).tolist() == [400] * 10 and np.bincount(yte).tolist() == [100] * 10
    train_bytes = {x.tobytes() for x in xtr}
    assert not any(x.tobytes() in train_bytes for x in xte), "a test digit image also appears in train"


def _write_idx(path, array, gz=False):
    codes = {np.uint8: 0x08}
    header = struct.pack(">BBBB", 0, 0, codes[array.dtype.type], array.ndim) + struct.pack(
        f">{array.ndim}I", *array.shape)
    data = header + array.tobytes()
    (gzip.open if gz else open)(path, "wb").write(data)


def test_user_idx_files_are_used(tmp_path):
    rng = np.random.default_rng(0)
    imgs = rng.integers(0, 256, size=(30, 28, 28), dtype=np.uint8)
    labs = (np.arange(30) % 10).astype(np.uint8)
    _write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", imgs, gz=True)
    _write_idx(tmp_path / "t10k-labels-idx1-ubyte", labs)
    x, y = load_digits("test", folder=tmp_path)
    assert np.array_equal(x, imgs) and np.array_equal(y, labs.astype(np.int64))
    # without train files present, the train split falls back to the embedded digits
    assert load_digits("train", folder=tmp_path)[0].shape == (4000, 28, 28)


@pytest.mark.parametrize("corrupt", ["magic", "truncated", "shape"])
def test_malformed_idx_file_names_the_file(tmp_path, corrupt):
    imgs = np.zeros((5, 28, 28), np.uint8)
    _write_idx(tmp_path / "t10k-labels-idx1-ubyte", np.zeros(5, np.uint8))
    path = tmp_path / "t10k-images-idx3-ubyte"
    if corrupt == "magic":
        path.write_bytes(b"PK\x03\x04 not an idx file")
    elif corrupt == "truncated":
        _write_idx(path, imgs)
        path.write_bytes(path.read_bytes()[:-100])
    else:
        _write_idx(path, np.zeros((5, 20, 20), np.uint8))
    with pytest.raises(DigitFileError, match="t10k-images-idx3-ubyte"):
        load_digits("test", folder=tmp_path)


# --- physics ----------------------------------------------------------------------------------------

def test_shapes_and_metadata(batch):
    n = len(batch)
    assert batch.frames.shape == (n, 20, 64, 64) and batch.frames.dtype == np.uint8
    assert batch.labels.shape == (n, 2) and batch.positions.shape == (n, 20, 2, 2)
    assert batch.velocities.shape == (n, 20, 2, 2) and batch.bounces.shape == (n, 20, 2, 2)
    assert len(batch.captions) == n and all(str(lab) in cap for lab, cap in zip(batch.labels[:, 0], batch.captions))


def test_digits_stay_in_frame(batch):
    assert batch.positions.min() >= 0 and batch.positions.max() <= FREE


def test_speed_is_constant_and_step_is_a_tenth_of_the_free_canvas(batch):
    speed = np.linalg.norm(batch.velocities, axis=-1)
    np.testing.assert_allclose(speed, 0.1 * FREE, rtol=1e-9)
    # between frames without a bounce, the pixel position advances by the velocity (up to int truncation)
    step = np.diff(batch.positions, axis=1).astype(float)  # (n, T-1, k, 2)
    free_flight = ~batch.bounces[:, 1:]
    err = np.abs(step - batch.velocities[:, :-1])[free_flight]
    assert err.max() < 1.0 and err.mean() < 0.6
    # ... so the distance travelled per frame is 3.6 px on average
    dist = np.linalg.norm(step, axis=-1)[~batch.bounces[:, 1:].any(-1)]
    assert abs(dist.mean() - 0.1 * FREE) < 0.2


def test_reflection_at_walls(batch):
    v = batch.velocities
    flipped = np.sign(v[:, 1:]) != np.sign(v[:, :-1])
    # a velocity component changes sign exactly at the frames flagged as bounces
    assert np.array_equal(flipped, batch.bounces[:, 1:])
    assert batch.bounces.any(), "200 sequences of 20 frames must contain bounces"
    # and a bounce happens at a wall
    at_wall = (batch.positions == 0) | (batch.positions == FREE)
    assert np.all(at_wall[batch.bounces])


def test_random_speed_option():
    m = generate_moving_mnist(50, 0, speed_range=(0.5, 2.0))
    speed = np.linalg.norm(m.velocities, axis=-1) / (0.1 * FREE)
    assert speed.min() >= 0.5 - 1e-9 and speed.max() <= 2.0 + 1e-9 and speed.std() > 0.1
    np.testing.assert_allclose(speed, np.broadcast_to(speed[:, :1], speed.shape), rtol=1e-9)  # constant over time per digit


def test_frames_match_slice_drawing(batch):
    for i in range(10):
        out = np.zeros((20, 64, 64), np.uint8)
        for k in range(2):
            for t in range(20):
                x, y = batch.positions[i, t, k]
                np.maximum(out[t, y:y + 28, x:x + 28], batch.digit_images[i, k], out=out[t, y:y + 28, x:x + 28])
        assert np.array_equal(out, batch.frames[i])


def test_bad_inputs_are_refused():
    with pytest.raises(ValueError, match="n must be"):
        generate_moving_mnist(0)
    with pytest.raises(ValueError, match="seq_len"):
        generate_moving_mnist(2, seq_len=1)
    with pytest.raises(ValueError, match="speed_range"):
        generate_moving_mnist(2, speed_range=(2.0, 1.0))
    with pytest.raises(ValueError, match="uint8"):
        generate_moving_mnist(2, digits=(np.zeros((3, 28, 28), np.float32), np.zeros(3)))


# --- determinism ------------------------------------------------------------------------------------

def test_same_seed_same_data():
    a, b, c = generate_moving_mnist(20, 7), generate_moving_mnist(20, 7), generate_moving_mnist(20, 8)
    assert np.array_equal(a.frames, b.frames) and np.array_equal(a.positions, b.positions)
    assert not np.array_equal(a.frames, c.frames)


def test_cached_test_set_is_fixed(tmp_path):
    built = build_test_set(256, progress=False)
    assert frames_sha256(built.frames) == KNOWN_SHA256[256]
    cached = load_test_set(256, root=tmp_path, progress=False)
    assert np.array_equal(np.asarray(cached.frames), built.frames)
    assert load_test_set(256, root=tmp_path).meta["sha256"] == KNOWN_SHA256[256]
    report = verify_test_set(256, root=tmp_path)
    assert report["sha256"] == report["regenerated"] == KNOWN_SHA256[256]
    # smaller sets are prefixes of larger ones
    assert np.array_equal(build_test_set(40, progress=False).frames, built.frames[:40])
    # test digits only
    test_bytes = {x.tobytes() for x in load_digits("test")[0]}
    assert all(p.tobytes() in test_bytes for p in built.digit_images[:20].reshape(-1, 28, 28))


def test_validation_set_is_fixed_uses_training_digits_and_is_not_the_test_set():
    from vidkit.data import load_val_set

    val = load_val_set(300)
    assert val.frames.shape == (300, 20, 64, 64) and val.frames.dtype == np.uint8
    assert np.array_equal(load_val_set(40).frames, val.frames[:40])  # fixed, and prefixes agree
    train_bytes = {x.tobytes() for x in load_digits("train")[0]}
    test_bytes = {x.tobytes() for x in load_digits("test")[0]}
    digits = [p.tobytes() for p in val.digit_images[:20].reshape(-1, 28, 28)]
    assert all(d in train_bytes for d in digits) and not any(d in test_bytes for d in digits)
    assert not np.array_equal(val.frames[:40], build_test_set(40, progress=False).frames)
    for bad in (0, -3, 2.5, True):
        with pytest.raises(ValueError, match="size must be a positive int"):
            load_val_set(bad)


def test_corrupted_cache_is_detected(tmp_path):
    data = load_test_set(40, root=tmp_path, progress=False)
    path = data.meta["path"]
    arr = np.load(path)
    arr[0, 0, 0, 0] ^= 1
    np.save(path, arr)
    with pytest.raises(ValueError, match="changed since they were built"):
        verify_test_set(40, root=tmp_path)


# --- flow -------------------------------------------------------------------------------------------

def test_exact_flow_is_the_displacement(batch):
    flow = batch.flow(slice(0, 30))
    assert flow.shape == (30, 19, 2, 64, 64) and flow.dtype == np.float32
    checked = 0
    for i in range(30):
        # pixels covered by exactly one digit in frame t: that digit's pixel moves by the flow
        for t in range(19):
            cover = np.zeros((2, 64, 64), bool)
            for k in range(2):
                x, y = batch.positions[i, t, k]
                cover[k, y:y + 28, x:x + 28] = batch.digit_images[i, k] > 0
            single = cover.sum(0) == 1
            ys, xs = np.nonzero(single)
            dx = flow[i, t, 0, ys, xs].astype(int)
            dy = flow[i, t, 1, ys, xs].astype(int)
            k = np.argmax(cover[:, ys, xs], axis=0)
            np.testing.assert_array_equal(
                np.stack([dx, dy], 1), batch.positions[i, t + 1, k] - batch.positions[i, t, k])
            # the digit's intensity at p in frame t is found at p + flow inside that digit's patch in frame t+1
            x1, y1 = batch.positions[i, t + 1, k, 0], batch.positions[i, t + 1, k, 1]
            v_next = batch.digit_images[i, k, ys + dy - y1, xs + dx - x1]
            np.testing.assert_array_equal(v_next, batch.frames[i, t, ys, xs])
            checked += len(ys)
            assert np.all(flow[i, t][:, cover.sum(0) == 0] == 0), "background must have zero flow"
    assert checked > 10_000


def test_flow_on_overlap_follows_the_top_most_digit():
    pos = np.zeros((1, 2, 2, 2), np.int64)
    pos[0, :, 0] = [[10, 10], [12, 10]]  # digit 0 moves right by 2
    pos[0, :, 1] = [[10, 10], [10, 13]]  # digit 1 (drawn last, on top) moves down by 3
    patches = np.full((1, 2, 28, 28), 255, np.uint8)
    f = exact_flow(pos, patches)
    assert f[0, 0, 0, 20, 20] == 0 and f[0, 0, 1, 20, 20] == 3


# --- streams and datasets ---------------------------------------------------------------------------

def test_stream_is_reproducible_and_resumable():
    s = MovingMNISTStream(4, seed=1)
    first = [next(s) for _ in range(3)]
    assert first[0].shape == (4, 20, 1, 64, 64) and first[0].dtype == torch.float32
    assert 0.0 <= first[0].min() and first[0].max() <= 1.0
    state = s.state_dict()
    fourth = next(s)
    resumed = MovingMNISTStream(4, seed=1)
    resumed.load_state_dict(state)
    assert torch.equal(next(resumed), fourth)
    with pytest.raises(ValueError, match="seed"):
        MovingMNISTStream(4, seed=2).load_state_dict(state)


def test_ranks_draw_disjoint_data():
    a = next(MovingMNISTStream(8, seed=0, rank=0, world_size=2))
    b = next(MovingMNISTStream(8, seed=0, rank=1, world_size=2))
    assert not torch.equal(a, b)
    with pytest.raises(ValueError, match="rank"):
        MovingMNISTStream(8, rank=2, world_size=2)


def test_rank_comes_from_torchrun_env_before_the_group_exists(monkeypatch):
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "2")
    s = MovingMNISTStream(4, seed=0)
    assert (s.rank, s.world_size) == (1, 2)
    assert MovingMNISTIterable(seed=0).rank == 1
    monkeypatch.setenv("RANK", "0")
    assert not torch.equal(next(s), next(MovingMNISTStream(4, seed=0)))


def test_iterable_ranks_are_disjoint_and_inputs_checked():
    a = next(iter(MovingMNISTIterable(seed=0, chunk_size=4, rank=0, seq_len=4)))
    b = next(iter(MovingMNISTIterable(seed=0, chunk_size=4, rank=1, seq_len=4)))
    assert not torch.equal(a, b)
    for bad in ({"split": "val"}, {"seed": -1}, {"chunk_size": "8"}, {"seq_len": 1}):
        with pytest.raises(ValueError):
            MovingMNISTIterable(**bad)


def test_dataloader_workers_are_disjoint_and_reproducible():
    def take(n_workers):
        ds = MovingMNISTIterable(seed=5, chunk_size=4, seq_len=4)
        loader = DataLoader(ds, batch_size=4, num_workers=n_workers)
        it = iter(loader)
        return torch.cat([next(it) for _ in range(4)])

    two_a, two_b = take(2), take(2)
    assert torch.equal(two_a, two_b)
    flat = two_a.flatten(1)
    # 16 sequences from 2 workers: all different (workers never repeat each other's draws)
    assert len({tuple(row.nonzero().flatten()[:50].tolist()) for row in flat}) == 16


def test_map_dataset_items():
    ds = MovingMNISTDataset(generate_moving_mnist(5, 0), with_flow=True)
    item = ds[2]
    assert item["frames"].shape == (20, 1, 64, 64) and item["flow"].shape == (19, 2, 64, 64)
    with pytest.raises(IndexError):
        ds[5]


def test_user_digits_get_their_own_test_set_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("VIDKIT_DATA", str(tmp_path))
    default = load_test_set(8, progress=False)
    rng = np.random.default_rng(0)
    (tmp_path / "mnist").mkdir()
    _write_idx(tmp_path / "mnist" / "t10k-images-idx3-ubyte", rng.integers(0, 256, (20, 28, 28), dtype=np.uint8))
    _write_idx(tmp_path / "mnist" / "t10k-labels-idx1-ubyte", (np.arange(20) % 10).astype(np.uint8))
    user = load_test_set(8, progress=False)
    assert user.meta["path"] != default.meta["path"] and user.meta["digits"].startswith("idx-")
    assert not np.array_equal(np.asarray(user.frames), np.asarray(default.frames))
    assert verify_test_set(8)["known"] is None  # the reference hash is for the embedded digits only


# --- the official test set --------------------------------------------------------------------------

def test_official_full_file_is_memory_mapped(tmp_path, capsys):
    good = tmp_path / "mnist_test_seq.npy"
    arr = np.lib.format.open_memmap(good, mode="w+", dtype=np.uint8, shape=(20, 10000, 64, 64))
    arr[3, 7, 1, 2] = 9
    del arr
    loaded = load_official(good)
    assert isinstance(loaded, np.memmap) and not loaded.flags.writeable  # mapped, not read whole
    assert loaded.shape == (20, 10000, 64, 64) and loaded[3, 7, 1, 2] == 9
    assert "loaded 10,000 sequences" in capsys.readouterr().err
    junk = tmp_path / "junk.npy"
    junk.write_bytes(b"not numpy")
    with pytest.raises(DataFileError, match="junk.npy: not a readable .npy"):
        load_official(junk)
    with pytest.raises(FileNotFoundError, match="optional"):
        load_official(tmp_path / "missing.npy")


def test_official_subset_is_accepted_and_counted(tmp_path, capsys):
    sub = np.random.default_rng(0).integers(0, 256, (20, 3, 64, 64), dtype=np.uint8)
    np.save(tmp_path / "subset.npy", sub)
    loaded = load_official(tmp_path / "subset.npy")
    assert loaded.shape == (20, 3, 64, 64) and np.array_equal(loaded, sub)
    err = capsys.readouterr().err
    assert "loaded 3 sequences of 20 frames (a subset; the full set has 10,000)" in err and "subset.npy" in err
    load_official(tmp_path / "subset.npy", progress=False)
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("shape, dtype, match", [
    ((10, 3, 64, 64), np.uint8, r"got uint8 \(10, 3, 64, 64\): T = 10 frames, expected 20"),
    ((20, 3, 32, 64), np.uint8, r"got uint8 \(20, 3, 32, 64\): frames of 32x64 pixels, expected 64x64"),
    ((20, 3, 64, 64), np.float32, r"got float32 \(20, 3, 64, 64\): dtype float32, expected uint8"),
    ((20, 0, 64, 64), np.uint8, r"got uint8 \(20, 0, 64, 64\): N = 0 sequences, expected at least 1"),
    ((3, 20, 64, 64), np.uint8, r"T = 3 frames, expected 20; this looks like the kit's \(N, T, H, W\) layout"),
    ((20, 64, 64), np.uint8, r"got uint8 \(20, 64, 64\)"),
], ids=["wrong-T", "wrong-HW", "wrong-dtype", "zero-sequences", "kit-layout", "three-dims"])
def test_official_wrong_layout_is_refused_naming_the_file(tmp_path, shape, dtype, match):
    bad = tmp_path / "bad.npy"
    np.save(bad, np.zeros(shape, dtype))
    with pytest.raises(DataFileError, match=r"bad\.npy: expected .*uint8 of shape \(20, N, 64, 64\).*" + match):
        load_official(bad)


# --- cache integrity --------------------------------------------------------------------------------

def _flip_byte(path, offset_from_end: int = 1000) -> None:
    """Flip one bit of a file in place (the file keeps its inode; its mtime and ctime change)."""
    with open(path, "r+b") as f:
        f.seek(-offset_from_end, 2)
        byte = f.read(1)
        f.seek(-offset_from_end, 2)
        f.write(bytes([byte[0] ^ 1]))


def test_corrupt_cached_frames_are_refused_on_load(tmp_path):
    data = load_test_set(40, root=tmp_path, progress=False)
    path, good = data.meta["path"], data.meta["sha256"]
    assert good == frames_sha256(build_test_set(40, progress=False).frames)
    del data
    _flip_byte(path)
    actual = frames_sha256(np.load(path, mmap_mode="r"))
    assert actual != good
    with pytest.raises(DataCacheError, match=rf"mmnist_test_n40\S*\.npy: the cached test frames are corrupt: their "
                                             rf"sha256 is {actual}, but {good} was recorded.*--rebuild"):
        load_test_set(40, root=tmp_path, progress=False)
    with pytest.raises(DataCacheError, match=rf"actual sha256 {actual}, recorded {good}.*--rebuild"):
        verify_test_set(40, root=tmp_path)
    # what `vidkit data build --rebuild` does: regenerate, and report the hash of what is on disk
    rebuilt = load_test_set(40, root=tmp_path, rebuild=True, progress=False)
    assert rebuilt.meta["sha256"] == good == frames_sha256(np.asarray(rebuilt.frames))
    assert verify_test_set(40, root=tmp_path)["sha256"] == good


def test_cache_hash_is_checked_once_per_file_version(tmp_path, monkeypatch):
    load_test_set(24, root=tmp_path, progress=False)
    calls = []
    real = testset.frames_sha256
    monkeypatch.setattr(testset, "frames_sha256", lambda frames: calls.append(len(frames)) or real(frames))
    testset._VERIFIED.clear()  # as in a new process
    data = load_test_set(24, root=tmp_path, progress=False)
    assert calls == [24]
    load_test_set(24, root=tmp_path, progress=False)
    assert calls == [24]  # same file, same process: not hashed again
    _flip_byte(data.meta["path"])
    with pytest.raises(DataCacheError, match="corrupt"):
        load_test_set(24, root=tmp_path, progress=False)  # a modified file is hashed again
    assert calls == [24, 24]


@pytest.mark.parametrize("damage", ["garbage", "truncated", "flipped byte", "missing key"])
def test_corrupt_cache_metadata_is_refused_naming_it(tmp_path, damage):
    data = load_test_set(8, root=tmp_path, progress=False)
    meta = tmp_path / (data.meta["path"].rsplit("/", 1)[-1].removesuffix(".npy") + ".meta.npz")
    assert meta.exists()
    if damage == "garbage":
        meta.write_bytes(b"this is not a zip archive" * 10)
    elif damage == "truncated":
        meta.write_bytes(meta.read_bytes()[:200])
    elif damage == "flipped byte":
        _flip_byte(meta, offset_from_end=meta.stat().st_size // 2)
    else:
        with np.load(meta) as m:
            kept = {k: m[k] for k in m.files if k != "sha256"}
        np.savez(meta, **kept)
    with pytest.raises(DataCacheError, match=rf"{meta.name}: the cached test set's metadata is .*--rebuild"):
        load_test_set(8, root=tmp_path, progress=False)
    assert load_test_set(8, root=tmp_path, rebuild=True, progress=False).meta["sha256"] == data.meta["sha256"]


# --- argument checks --------------------------------------------------------------------------------

EMPTY_BANK = (np.zeros((0, 28, 28), np.uint8), np.zeros(0, np.int64))


@pytest.mark.parametrize("kwargs, match", [
    (dict(n=True), r"n must be a positive int, got True \(bool\)"),
    (dict(n=2.0), r"n must be a positive int, got 2\.0 \(float\)"),
    (dict(num_digits=True), r"num_digits must be a positive int, got True \(bool\)"),
    (dict(num_digits=1.5), r"num_digits must be a positive int, got 1\.5"),
    (dict(seq_len=20.0), r"seq_len must be an int >= 2, got 20\.0 \(float\)"),
    (dict(canvas=True), r"canvas must be an int >= 28, got True"),
    (dict(seed=-1), r"seed must be a non-negative int or a numpy SeedSequence, got -1 \(int\)"),
    (dict(seed=1.5), r"seed must be a non-negative int or a numpy SeedSequence, got 1\.5 \(float\)"),
    (dict(seed=True), r"seed must be a non-negative int.*got True \(bool\)"),
    (dict(step_length=math.nan), r"step_length must be a finite number in \(0, 1\].*got nan"),
    (dict(step_length=math.inf), r"step_length must be a finite number in \(0, 1\].*got inf"),
    (dict(step_length="0.1"), r"step_length must be a finite number.*got '0\.1' \(str\)"),
    (dict(speed_range=(0.5, math.inf)), r"speed_range must be None or a pair \(lo, hi\) of finite .*bad value inf"),
    (dict(speed_range=(math.nan, 1.0)), r"speed_range must be .*bad value nan"),
    (dict(speed_range=(0.0, 1.0)), r"speed_range must be .*0 < lo <= hi.*bad value 0\.0"),
    (dict(speed_range=(0.5,)), r"speed_range must be .*got \(0\.5,\) \(tuple\)"),
    (dict(speed_range="ab"), r"speed_range must be .*got 'ab' \(str\)"),
    (dict(split="val"), r"split must be 'train' or 'test', got 'val'"),
    (dict(digits=EMPTY_BANK), r"digits must hold at least one digit image \(M >= 1\), got an empty bank"),
    (dict(digits=(np.zeros((3, 28, 28), np.uint8), np.array([0.0, 1.5, 2.0]))),
     r"digits labels must be whole numbers in 0\.\.9, got dtype float64"),
    (dict(digits=(np.zeros((3, 28, 28), np.uint8), np.array([0, 1, 10]))),
     r"digits labels must lie in 0\.\.9, got values from 0 to 10"),
    (dict(digits=np.zeros((3, 28, 28), np.uint8)), r"digits must be a pair \(images uint8"),
], ids=["n-bool", "n-float", "num_digits-bool", "num_digits-float", "seq_len-float", "canvas-bool", "seed-negative",
        "seed-float", "seed-bool", "step_length-nan", "step_length-inf", "step_length-str", "speed_range-inf",
        "speed_range-nan", "speed_range-zero", "speed_range-one-value", "speed_range-str", "split-unknown",
        "digits-empty-bank", "digits-fractional-labels", "digits-label-10", "digits-not-a-pair"])
def test_generator_arguments_are_checked_at_the_boundary(kwargs, match):
    kwargs = {"n": 2, **kwargs}
    with pytest.raises(ValueError, match=match):
        generate_moving_mnist(**kwargs)


def test_generator_accepts_what_it_documents():
    bank = (np.full((2, 28, 28), 255, np.uint8), np.array([3.0, 4.0]))  # whole-number float labels are fine
    m = generate_moving_mnist(np.int64(2), np.uint32(5), digits=bank, speed_range=[1, 2], step_length=np.float32(0.2))
    assert m.labels.dtype == np.int64 and set(m.labels.ravel()) <= {3, 4}
    a = generate_moving_mnist(3, np.random.SeedSequence(4))
    assert np.array_equal(a.frames, generate_moving_mnist(3, np.random.SeedSequence(4)).frames)


@pytest.mark.parametrize("make, match", [
    (lambda: MovingMNISTStream(4, rank=1.5, world_size=2), r"rank must be an int >= 0, got 1\.5 \(float\)"),
    (lambda: MovingMNISTStream(4, rank=0, world_size=True), r"world_size must be a positive int, got True"),
    (lambda: MovingMNISTStream(True), r"batch_size must be a positive int, got True \(bool\)"),
    (lambda: MovingMNISTStream(4, seed=-2), r"seed must be a non-negative int, got -2"),
    (lambda: MovingMNISTStream(4, seed=0.5), r"seed must be a non-negative int, got 0\.5 \(float\)"),
    (lambda: MovingMNISTStream(4, seq_len=1), r"seq_len must be an int >= 2, got 1"),
    (lambda: MovingMNISTStream(4, speed_range=(1.0, math.inf)), r"speed_range must be .*bad value inf"),
    (lambda: MovingMNISTStream(4, num_digits=True), r"num_digits must be a positive int, got True"),
    (lambda: MovingMNISTIterable(seed=1.0), r"seed must be a non-negative int, got 1\.0 \(float\)"),
    (lambda: MovingMNISTIterable(speed_range=(math.nan, 2.0)), r"speed_range must be .*bad value nan"),
    (lambda: MovingMNISTStream(4).load_state_dict({"step": 2.5}), r"'step' must be an int >= 0, got 2\.5"),
    (lambda: load_digits("train", train_per_class=400.5), r"train_per_class must be an int in 1\.\.499, got 400\.5"),
    (lambda: load_digits("train", train_per_class=True), r"train_per_class must be an int in 1\.\.499, got True"),
    (lambda: load_test_set(True), r"size must be a positive int, got True \(bool\)"),
], ids=["stream-rank-float", "stream-world_size-bool", "stream-batch_size-bool", "stream-seed-negative",
        "stream-seed-float", "stream-seq_len-1", "stream-speed-inf", "stream-num_digits-bool", "iterable-seed-float",
        "iterable-speed-nan", "stream-state-step-float", "train_per_class-float", "train_per_class-bool",
        "test_set-size-bool"])
def test_stream_and_digit_arguments_are_checked_at_the_boundary(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_a_uint8_stream_delivers_the_same_pixels_and_the_losses_read_both():
    """Issue 20: the recipes' stream yields pixels as drawn (uint8); converted in the loss, they are the
    float stream's frames exactly, and every recipe loss gives the same value on either."""
    from vidkit.data import MovingMNISTStream, pixels_to_float
    from vidkit.experiments.future_prediction import build_model, make_loss, recipe_config

    as_float, as_uint8 = MovingMNISTStream(3, seed=5), MovingMNISTStream(3, seed=5, dtype=torch.uint8)
    x, u = next(as_float), next(as_uint8)
    assert u.dtype == torch.uint8 and u.shape == x.shape == (3, 20, 1, 64, 64)
    assert torch.equal(pixels_to_float(u), x) and torch.equal(x, u.float() / 255)   # one-pass tensors(): same numbers
    assert pixels_to_float(x) is x
    with pytest.raises(ValueError, match="uint8 pixels or float"):
        pixels_to_float(u.long())
    with pytest.raises(ValueError, match="dtype"):
        MovingMNISTStream(3, dtype=torch.float16)
    for recipe in ("mmnist_tiny", "mmnist_lstm", "mmnist_convlstm"):
        cfg = recipe_config(recipe, "smoke")
        torch.manual_seed(0)
        model, loss_fn = build_model(cfg), make_loss(cfg)
        value = [loss_fn(model, frames, 0) for frames in (x, u)]
        value = [v[0] if isinstance(v, tuple) else v for v in value]
        torch.testing.assert_close(value[0], value[1], rtol=0, atol=0)
