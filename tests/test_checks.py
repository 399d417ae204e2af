"""vidkit.utils.checks: the argument checks several modules share, and their messages."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vidkit.utils.checks import int_arg, positive_int, shape_text


def test_positive_int():
    positive_int("width", 3)
    for bad in (0, -1, True, 2.0, "3", None):
        with pytest.raises(ValueError, match=rf"^width must be a positive int, got {bad!r}$"):
            positive_int("width", bad)


def test_int_arg():
    assert int_arg(np.int64(4), "k", 1, 5) == 4 and type(int_arg(np.int64(4), "k")) is int
    assert int_arg(0, "seed", 0) == 0
    with pytest.raises(TypeError, match="^k must be an int, got bool$"):
        int_arg(True, "k")
    with pytest.raises(TypeError, match="^k must be an int, got float$"):
        int_arg(2.0, "k")
    with pytest.raises(ValueError, match=r"^k must be in 1\.\.5, got 6$"):
        int_arg(6, "k", 1, 5)
    with pytest.raises(ValueError, match=r"^k must be in 1\.\.inf, got 0$"):
        int_arg(0, "k")


def test_shape_text():
    assert shape_text(torch.zeros(2, 3)) == "(2, 3)" == shape_text(np.zeros((2, 3)))
    assert shape_text([1, 2]) == "list"


def test_each_shared_check_is_defined_once():
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parents[1] / "vidkit"
    defs = [(p.relative_to(root).as_posix(), n.name) for p in root.rglob("*.py")
            for n in ast.walk(ast.parse(p.read_text())) if isinstance(n, ast.FunctionDef)]
    copies = [d for d in defs if d[1] in ("positive_int", "_positive_int", "_check_positive_int", "int_arg", "_int",
                                          "shape_text")]
    # eval/representation.py's _positive_int words its messages differently ("between 1 and N") and stays
    assert sorted(copies) == [("eval/representation.py", "_positive_int"), ("utils/checks.py", "int_arg"),
                              ("utils/checks.py", "positive_int"), ("utils/checks.py", "shape_text")]
