"""Moving MNIST: digits, physics invariants, determinism, exact flow, streams, cached test set."""

from __future__ import annotations

import gzip
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
    verify_test_set,
)
from vidkit.data.testset import frames_sha256

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

def test_official_file_is_validated(tmp_path):
    good = tmp_path / "mnist_test_seq.npy"
    arr = np.lib.format.open_memmap(good, mode="w+", dtype=np.uint8, shape=(20, 10000, 64, 64))
    arr[3, 7, 1, 2] = 9
    del arr
    loaded = load_official(good)
    assert loaded.shape == (20, 10000, 64, 64) and loaded[3, 7, 1, 2] == 9
    bad = tmp_path / "bad.npy"
    np.save(bad, np.zeros((10, 20, 64, 64), np.float32))
    with pytest.raises(ValueError, match=r"bad.npy.*uint8.*\(20, 10000, 64, 64\)"):
        load_official(bad)
    junk = tmp_path / "junk.npy"
    junk.write_bytes(b"not numpy")
    with pytest.raises(ValueError, match="junk.npy"):
        load_official(junk)
    with pytest.raises(FileNotFoundError, match="optional"):
        load_official(tmp_path / "missing.npy")
