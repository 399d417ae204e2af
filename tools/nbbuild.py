"""Tiny helper to write a notebook from a list of ("md"|"code", source) cells, with no outputs.

Used while authoring: ``python tools/nbbuild.py`` is not needed at run time. Notebooks in
``notebooks/`` are the source of truth and may be edited in JupyterLab directly: git's clean filter
(``tools/nbstrip.py``, registered by ``make install``) keeps outputs out of commits, and
``tests/test_repo.py`` checks what git stores. Written in nbformat's layout (sorted keys, indent 1, a
final newline), as JupyterLab saves notebooks, so that running one in JupyterLab moves no key.
"""

from __future__ import annotations

import json
from pathlib import Path


def write_notebook(path: str | Path, cells: list[tuple[str, str]]) -> None:
    nb_cells = []
    for kind, src in cells:
        src = src.strip("\n")
        lines = [line + "\n" for line in src.split("\n")]
        lines[-1] = lines[-1].rstrip("\n")
        if kind == "md":
            nb_cells.append({"cell_type": "markdown", "metadata": {}, "source": lines})
        else:
            nb_cells.append({"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [],
                             "source": lines})
    nb = {
        "cells": nb_cells,
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    for i, c in enumerate(nb["cells"]):
        c["id"] = f"cell-{i:02d}"
    Path(path).write_text(json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")
