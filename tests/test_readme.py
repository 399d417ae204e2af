"""Every code block in the README runs as written (issue 14): the Python blocks in a fresh interpreter, the
`vidkit` command lines in a scratch folder with their own data folder, in the smoke profile. `make` lines
are checked to be real targets (`make test` is what CI runs; `make lab` starts a server)."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BLOCK = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)


def blocks(lang: str) -> list[str]:
    return [body for tag, body in BLOCK.findall((ROOT / "README.md").read_text()) if tag == lang]


def commands(block: str) -> list[list[str]]:
    """The command lines of a bash block, without comments (a line that is only a comment continues the
    previous line's comment)."""
    return [argv for line in block.splitlines() if (argv := shlex.split(line, comments=True))]


def env(tmp_path: Path, own_data: bool) -> dict[str, str]:
    out = {**os.environ, "VIDKIT_PROFILE": "smoke", "MPLBACKEND": "Agg", "PYTHONPATH": str(ROOT)}
    if own_data:  # writes (caches, runs, published references) go to the scratch folder, never to data/
        out["VIDKIT_DATA"] = str(tmp_path / "data")
        out["VIDKIT_RUNS"] = str(tmp_path / "runs")
    return out


def test_the_readme_has_the_blocks_these_tests_run():
    assert len(blocks("python")) >= 1 and len(blocks("bash")) >= 2
    assert all(argv[0] in ("make", "vidkit") for block in blocks("bash") for argv in commands(block))


@pytest.mark.slow
@pytest.mark.parametrize("index", range(len(blocks("python"))))
def test_python_blocks_run_as_written(tmp_path, index):
    code = blocks("python")[index]
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env(tmp_path, own_data=False),
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"README python block {index} failed:\n{code}\n{done.stderr[-3000:]}"


@pytest.mark.slow
def test_command_lines_run_as_written(tmp_path):
    vidkit = shutil.which("vidkit", path=str(Path(sys.executable).parent)) or shutil.which("vidkit")
    assert vidkit, "the vidkit command is not installed next to this interpreter (make install)"
    ran = []
    for block in blocks("bash"):
        for argv in commands(block):
            if argv[0] == "make":  # a real target (dry run: nothing is installed or started)
                done = subprocess.run(["make", "-n", "-C", str(ROOT), *argv[1:]], capture_output=True, text=True)
            else:
                done = subprocess.run([vidkit, *argv[1:]], cwd=tmp_path, env=env(tmp_path, own_data=True),
                                      capture_output=True, text=True, timeout=600)
            assert done.returncode == 0, f"README line `{shlex.join(argv)}` failed:\n{done.stderr[-3000:]}"
            ran.append(argv[:2])
    assert ["vidkit", "train"] in ran and ["make", "test"] in ran
    assert (tmp_path / "clip.gif").is_file() and (tmp_path / "runs" / "mine" / "metrics.json").is_file()
    assert (tmp_path / "data" / "checkpoints" / "my_ref" / "README.md").is_file()
