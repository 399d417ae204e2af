#!/usr/bin/env python3
"""Git clean filter for ``notebooks/*.ipynb``: what ``git add`` stores is the notebook without outputs.

Reads a notebook on stdin, writes it on stdout with everything a kernel run or the JupyterLab UI adds
taken out, so a notebook that was run (and autosaved) in ``make lab`` looks unchanged to ``git status``
and ``git diff``, while the working copy keeps its outputs:

* code cells: ``outputs`` emptied, ``execution_count`` null;
* cell metadata: ``collapsed``, ``scrolled``, ``execution``, ``ExecuteTime``, ``trusted`` and
  ``jupyter.outputs_hidden`` removed (UI state and timings, not content);
* notebook metadata: ``widgets`` (saved widget state) and ``signature`` removed, ``language_info``
  reduced to its ``name`` (the kernel fills in its version and lexers), and the ``(ipykernel)`` that
  JupyterLab appends to the kernel's display name dropped (``Python 3 (ipykernel)`` -> ``Python 3``).

Everything else is kept, in the order it comes in, and written as the committed notebooks are:
``json.dumps(nb, indent=1, ensure_ascii=False)`` and a newline, which is also nbformat's layout (nbformat
sorts the keys as well; an input whose keys are sorted comes out sorted). An unchanged clean notebook
therefore passes through byte for byte. Input that is not a notebook (a half-written file, merge conflict
markers) passes through unchanged, with a warning on stderr, so git never fails because of it.

``make install`` registers the filter in this clone's ``.git/config`` (``filter.nbstrip``) and
``.gitattributes`` applies it to ``notebooks/*.ipynb``. By hand: ``python tools/nbstrip.py < a.ipynb``.
Only the standard library: any Python 3 can run it. ``committed(path)`` is what tests/test_repo.py checks.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

CELL_UI_KEYS = ("collapsed", "scrolled", "execution", "ExecuteTime", "trusted")
NOTEBOOK_RUN_KEYS = ("widgets", "signature")
IPYKERNEL_SUFFIX = " (ipykernel)"


def strip(nb: dict[str, Any]) -> dict[str, Any]:
    """Clear outputs, execution counts and run state in place; return ``nb``."""
    for cell in nb.get("cells", []):
        if cell.get("cell_type") == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
        meta = cell.get("metadata")
        if isinstance(meta, dict):
            for key in CELL_UI_KEYS:
                meta.pop(key, None)
            jupyter = meta.get("jupyter")
            if isinstance(jupyter, dict):
                jupyter.pop("outputs_hidden", None)
                if not jupyter:
                    del meta["jupyter"]
    meta = nb.get("metadata")
    if isinstance(meta, dict):
        for key in NOTEBOOK_RUN_KEYS:
            meta.pop(key, None)
        info = meta.get("language_info")
        if isinstance(info, dict) and "name" in info:
            meta["language_info"] = {"name": info["name"]}
        spec = meta.get("kernelspec")
        name = spec.get("display_name") if isinstance(spec, dict) else None
        if isinstance(name, str) and name.endswith(IPYKERNEL_SUFFIX):
            spec["display_name"] = name[: -len(IPYKERNEL_SUFFIX)]
    return nb


def dumps(nb: dict[str, Any]) -> str:
    """The committed notebooks' byte format."""
    return json.dumps(nb, indent=1, ensure_ascii=False) + "\n"


def clean(data: bytes) -> bytes:
    """The filter on bytes: a stripped notebook, or ``data`` unchanged if it is not a notebook."""
    try:
        nb = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        print(f"tools/nbstrip.py: not JSON ({e}); passed through unchanged", file=sys.stderr)
        return data
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        print("tools/nbstrip.py: not a notebook (no cells list); passed through unchanged", file=sys.stderr)
        return data
    return dumps(strip(nb)).encode("utf-8")


def committed(path: str | Path) -> bytes:
    """The notebook at ``path`` as git would commit it. Tracked: its index (staged) version, which the
    filter keeps free of outputs whatever the working copy holds. Untracked: the working copy, through
    this filter when git would apply it (``.gitattributes`` and a registered ``filter.nbstrip``). Outside
    a git checkout, or without git: the working copy."""
    path = Path(path).resolve()
    data = path.read_bytes()

    def git(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(["git", *args], cwd=path.parent, capture_output=True)

    try:
        top = git("rev-parse", "--show-toplevel")
    except OSError:  # no git
        return data
    if top.returncode != 0:
        return data
    rel = path.relative_to(Path(top.stdout.decode().strip()).resolve()).as_posix()
    staged = git("show", f":{rel}")  # ":path": the index entry, path from the top of the work tree
    if staged.returncode == 0:
        return staged.stdout
    attr = git("check-attr", "filter", "--", path.name).stdout.decode().strip()
    if attr.endswith(": filter: nbstrip") and git("config", "filter.nbstrip.clean").stdout.strip():
        return clean(data)
    return data


def main() -> None:
    sys.stdout.buffer.write(clean(sys.stdin.buffer.read()))


if __name__ == "__main__":
    main()
