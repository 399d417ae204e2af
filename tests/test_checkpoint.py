"""Checkpoints: atomic saves, safe loads, and an exact resume after SIGKILL."""

from __future__ import annotations

import json
import os
import pickle
import random
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
import torch

from vidkit.utils.checkpoint import (
    FORMAT,
    VERSION,
    CheckpointError,
    load_checkpoint,
    save_checkpoint,
    write_json_atomic,
)

WORKER = Path(__file__).parent / "scripts" / "train_worker.py"


class Payload:
    """Unpickling this runs code: it creates the file ``marker``."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (exec, (f"open({self.marker!r}, 'w').close()",))


class Plain:
    """An arbitrary class instance (no tricks)."""

    def __init__(self):
        self.weights = torch.ones(3)


def test_roundtrip_has_format_marker(tmp_path):
    state = {"step": 3, "model": {"w": torch.arange(4.0)}, "rng": [{"python": (3, (1, 2), None)}]}
    path = save_checkpoint(state, tmp_path / "sub" / "c.pt")
    loaded = load_checkpoint(path)
    assert loaded["format"] == FORMAT == "vidkit-checkpoint" and loaded["version"] == VERSION == 1
    assert loaded["step"] == 3 and torch.equal(loaded["model"]["w"], torch.arange(4.0))
    assert [p.name for p in path.parent.iterdir()] == ["c.pt"]  # no temp file left behind
    with pytest.raises(ValueError, match="reserved"):
        save_checkpoint({"format": "x"}, tmp_path / "d.pt")
    with pytest.raises(TypeError, match="state must be a dict"):
        save_checkpoint([1, 2], tmp_path / "d.pt")
    with pytest.raises(TypeError, match="path must be"):
        load_checkpoint(42)


def test_failed_save_keeps_the_old_file(tmp_path, monkeypatch):
    path = save_checkpoint({"step": 1}, tmp_path / "last.pt")

    def crash_midway(obj, f, *a, **kw):
        f.write(b"PK\x03\x04 half a zip file")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", crash_midway)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint({"step": 2}, path)
    monkeypatch.undo()
    assert load_checkpoint(path)["step"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]


def test_write_json_atomic(tmp_path):
    write_json_atomic({"b": 1, "a": Path("x")}, tmp_path / "m.json")
    assert json.loads((tmp_path / "m.json").read_text()) == {"a": "x", "b": 1}


def test_missing_and_not_a_vidkit_checkpoint(tmp_path):
    with pytest.raises(CheckpointError, match="no such checkpoint file"):
        load_checkpoint(tmp_path / "missing.pt")
    other = tmp_path / "other.pt"
    torch.save({"model": {"w": torch.zeros(2)}}, other)  # a fine torch file, but not ours
    with pytest.raises(CheckpointError, match=r"other\.pt: not a vidkit checkpoint"):
        load_checkpoint(other)
    text = tmp_path / "notes.txt"
    text.write_text("hello, I am not a checkpoint")
    with pytest.raises(CheckpointError, match=r"notes\.txt"):
        load_checkpoint(text)
    newer = tmp_path / "newer.pt"
    torch.save({"format": FORMAT, "version": VERSION + 1}, newer)
    with pytest.raises(CheckpointError, match=r"newer\.pt: checkpoint version 2 is newer"):
        load_checkpoint(newer)


def test_truncated_checkpoint(tmp_path):
    good = save_checkpoint({"model": {"w": torch.randn(1000)}, "step": 7}, tmp_path / "good.pt")
    raw = good.read_bytes()
    for frac in (0.1, 0.5, 0.99):
        cut = tmp_path / f"cut{int(frac * 100)}.pt"
        cut.write_bytes(raw[: int(len(raw) * frac)])
        with pytest.raises(CheckpointError, match=rf"{cut.name}: not a loadable vidkit checkpoint"):
            load_checkpoint(cut)


def test_pickle_payload_is_refused_and_not_run(tmp_path):
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.pt"
    with open(evil, "wb") as f:
        pickle.dump(Payload(marker), f)
    # control: the payload is real, plain unpickling runs it
    with open(evil, "rb") as f:
        pickle.load(f)  # on purpose
    assert marker.exists()
    marker.unlink()

    with pytest.raises(CheckpointError, match=r"evil\.pt: .*refused for safety"):
        load_checkpoint(evil)
    assert not marker.exists()


def test_torch_save_of_arbitrary_objects_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    for name, obj in [("plain.pt", Plain()), ("payload.pt", {"format": FORMAT, "version": 1, "x": Payload(marker)})]:
        torch.save(obj, tmp_path / name)
        with pytest.raises(CheckpointError, match=rf"{name}: .*refused for safety"):
            load_checkpoint(tmp_path / name)
    assert not marker.exists()
    torch.load(tmp_path / "payload.pt", weights_only=False)  # control: an unsafe load would run it
    assert marker.exists()


class SystemCall:
    """Unpickling this would run ``os.system`` (never executed here: the command only creates ``marker``)."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _no_unsafe_advice(message: str) -> None:
    assert "weights_only" not in message and "weights only" not in message.lower()
    assert "trust" not in message.lower()


@pytest.mark.parametrize("how", ["raw pickle", "raw pickle protocol 2", "torch.save", "legacy torch.save"])
def test_refusal_names_the_blocked_global_and_never_advises_weights_only_false(tmp_path, how):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    obj = {"format": FORMAT, "version": 1, "x": SystemCall(marker)}
    if how == "raw pickle":
        path.write_bytes(pickle.dumps(obj))
    elif how == "raw pickle protocol 2":
        path.write_bytes(pickle.dumps(obj, protocol=2))
    elif how == "torch.save":
        torch.save(obj, path)
    else:
        torch.save(obj, path, _use_new_zipfile_serialization=False)
    with pytest.raises(CheckpointError, match=r"evil\.pt: .*refused for safety.*blocked global: posix\.system") as info:
        load_checkpoint(path)
    _no_unsafe_advice(str(info.value))
    assert not marker.exists()


def test_refusal_of_a_custom_class_names_it(tmp_path):
    torch.save({"format": FORMAT, "version": 1, "x": Plain()}, tmp_path / "plain.pt")
    with pytest.raises(CheckpointError, match=r"plain\.pt: .*refused for safety.*blocked global: \S*Plain") as info:
        load_checkpoint(tmp_path / "plain.pt")
    _no_unsafe_advice(str(info.value))
    pickle.dump(Payload(tmp_path / "pwned"), open(tmp_path / "exec.pt", "wb"))
    with pytest.raises(CheckpointError, match=r"exec\.pt: .*blocked global: builtins\.exec") as info:
        load_checkpoint(tmp_path / "exec.pt")
    _no_unsafe_advice(str(info.value))
    assert not (tmp_path / "pwned").exists()


def test_random_bytes_are_not_a_vidkit_checkpoint(tmp_path):
    path = tmp_path / "noise.pt"
    prefixes = [b"", b"PK\x03\x04", b"\x80\x02", b"\x80\x04\x95"]  # as if a zip / a pickle
    for seed in range(40):
        path.write_bytes(prefixes[seed % 4] + random.Random(seed).randbytes(4096))
        with pytest.raises(CheckpointError, match=r"noise\.pt: not a vidkit checkpoint") as info:
            load_checkpoint(path)
        assert "safety" not in str(info.value)
        _no_unsafe_advice(str(info.value))
    path.write_bytes(b"")
    with pytest.raises(CheckpointError, match=r"noise\.pt: not a vidkit checkpoint \(the file is empty\)"):
        load_checkpoint(path)
    path.write_bytes(pickle.dumps({"format": FORMAT, "version": 1}))  # a pickle, but not from torch.save
    with pytest.raises(CheckpointError, match=r"noise\.pt: not a vidkit checkpoint \(a plain pickle"):
        load_checkpoint(path)


def _record_offset(path: Path, suffix: str) -> tuple[int, int]:
    """(offset of the data, size) of the zip record whose name ends with ``suffix``."""
    with zipfile.ZipFile(path) as zf:
        info = next(i for i in zf.infolist() if i.filename.endswith(suffix))
    raw = path.read_bytes()
    start = info.header_offset
    name_len, extra_len = int.from_bytes(raw[start + 26:start + 28], "little"), int.from_bytes(
        raw[start + 28:start + 30], "little")
    return start + 30 + name_len + extra_len, info.file_size


def test_a_flipped_byte_in_a_tensor_is_detected(tmp_path):
    path = save_checkpoint({"model": {"w": torch.randn(10_000)}, "step": 3}, tmp_path / "flip.pt")
    offset, size = _record_offset(path, "data/0")
    assert size == 40_000
    raw = bytearray(path.read_bytes())
    raw[offset + 1234] ^= 0x10  # one bit of one float: torch.load alone reads it without a word
    path.write_bytes(bytes(raw))
    with pytest.raises(CheckpointError, match=r"flip\.pt: .*damaged.*CRC-32.*use an earlier one or retrain"):
        load_checkpoint(path)
    # the pickle record is covered too
    path = save_checkpoint({"step": 12345678}, tmp_path / "flip2.pt")
    offset, size = _record_offset(path, "data.pkl")
    raw = bytearray(path.read_bytes())
    raw[offset + size - 3] ^= 0x01
    path.write_bytes(bytes(raw))
    with pytest.raises(CheckpointError, match=r"flip2\.pt: .*damaged"):
        load_checkpoint(path)


def _worker(workdir: Path, out: Path, *extra: str) -> list[str]:
    return [sys.executable, str(WORKER), "--workdir", str(workdir), "--out", str(out), "--steps", "20",
            "--ckpt-every", "5", *extra]


def test_sigkill_then_resume_is_bitwise_identical(tmp_path):
    """Kill a training process with SIGKILL between two checkpoints, resume it, compare every tensor."""
    marker = tmp_path / "hanging"
    ref = subprocess.Popen(_worker(tmp_path / "ref", tmp_path / "ref_out"))
    victim = subprocess.Popen(_worker(tmp_path / "run", tmp_path / "run_out", "--hang-at", "8",
                                      "--marker", str(marker)))
    try:
        deadline = time.monotonic() + 90
        while not marker.exists():
            assert victim.poll() is None, "the worker exited before reaching the kill point"
            assert time.monotonic() < deadline, "the worker did not reach step 8 in time"
            time.sleep(0.05)
        assert load_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt")["step"] == 5
        os.kill(victim.pid, signal.SIGKILL)
        assert victim.wait(timeout=30) == -signal.SIGKILL
    finally:
        if victim.poll() is None:
            victim.kill()
    assert not (tmp_path / "run_out").exists()  # it really did not finish

    subprocess.run(_worker(tmp_path / "run", tmp_path / "run_out"), check=True, timeout=120)
    assert ref.wait(timeout=120) == 0

    info = json.loads((tmp_path / "run_out" / "info_rank0.json").read_text())
    assert info["resumed_from"] == 5 and info["steps"] == 20
    assert info["history_steps"] == list(range(1, 21))
    ref_w = torch.load(tmp_path / "ref_out" / "weights_rank0.pt", weights_only=True)
    run_w = torch.load(tmp_path / "run_out" / "weights_rank0.pt", weights_only=True)
    assert ref_w.keys() == run_w.keys()
    for k in ref_w:
        assert torch.equal(ref_w[k], run_w[k]), f"{k} differs after resume"
    ref_info = json.loads((tmp_path / "ref_out" / "info_rank0.json").read_text())
    assert info["losses"] == ref_info["losses"]  # the whole loss curve matches, not just the end
