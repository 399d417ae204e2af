"""The two quick-start commands, `make lab` and `make test`, in either order and repeatedly.

* Notebooks: git's clean filter (tools/nbstrip.py, .gitattributes, registered by `make install`) keeps
  outputs out of what git stores, while a learner's working copy, autosaved by JupyterLab, keeps them.
* Chromium: one lookup (tools/find-chromium) for tools/install-chromium and tests/test_browser.py;
  installed only where that is possible; outside CI a missing browser skips the browser test, under CI it
  fails. These tests run the scripts with a PATH of fake commands: never the real apt-get or sudo.
* `make install` runs pip once, again only when pyproject.toml or TORCH_PIN changed (dry runs of a copy
  of the Makefile: the real .venv is never touched); it installs JupyterLab settings for `make lab`.
* Media exported at the repository root are ignored by git; the tracked samples are not.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
BASH = shutil.which("bash")
MAKE = shutil.which("make")
GIT = shutil.which("git")

spec = importlib.util.spec_from_file_location("nbstrip", ROOT / "tools" / "nbstrip.py")
nbstrip = importlib.util.module_from_spec(spec)
spec.loader.exec_module(nbstrip)


def clean_env() -> dict[str, str]:
    """This environment without a parent make's flags (`make test` runs these tests) or git's variables."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("MAKE", "GIT_"))}


def in_git_checkout() -> bool:
    if GIT is None:
        return False
    r = subprocess.run([GIT, "rev-parse", "--is-inside-work-tree"], cwd=ROOT, capture_output=True, text=True)
    return r.stdout.strip() == "true"


def git_env(home: Path) -> dict[str, str]:
    """Git isolated from the caller: no GIT_DIR & co. from a hook, no global or system config."""
    return {**clean_env(), "HOME": str(home), "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull,
            "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org",
            "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.org"}


def run_a_notebook(nb: dict) -> dict:
    """What JupyterLab 4 saves after Run All (observed): outputs and execution counts, the kernel's
    language_info and display name; plus widget state and UI cell metadata that other settings write."""
    nb = json.loads(json.dumps(nb))
    count = 0
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            count += 1
            cell["execution_count"] = count
            cell["outputs"] = [
                {"name": "stdout", "output_type": "stream", "text": ["héllo\n"]},
                {"data": {"text/plain": [str(count)]}, "execution_count": count, "metadata": {},
                 "output_type": "execute_result"},
            ]
            cell["metadata"].update({"scrolled": True, "execution": {"iopub.status.busy": "2026-11-30T09:00:00Z"},
                                     "jupyter": {"outputs_hidden": False}})
    nb["metadata"]["kernelspec"]["display_name"] += " (ipykernel)"
    nb["metadata"]["language_info"].update({
        "codemirror_mode": {"name": "ipython", "version": 3}, "file_extension": ".py",
        "mimetype": "text/x-python", "nbconvert_exporter": "python", "pygments_lexer": "ipython3",
        "version": "3.11.7",
    })
    nb["metadata"]["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}, "version_major": 2}}
    return nb


def jupyter_format(nb: dict) -> bytes:
    """nbformat.write's layout (what JupyterLab writes): sorted keys, indent 1, a final newline."""
    return (json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n").encode()


# ---------------------------------------------------------------------------------------------------------
# 1. notebooks: the clean filter
# ---------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_nbstrip_passes_the_committed_notebooks_through_byte_identical(path):
    data = nbstrip.committed(path)
    assert nbstrip.clean(data) == data, (
        f"tools/nbstrip.py changes the committed {path.name}: `git status` would show it modified"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_committed_notebooks_are_in_jupyterlabs_layout(path):
    """JupyterLab (nbformat) saves notebooks with sorted keys; a notebook committed in another order shows a
    diff of moved keys in `git diff` after a mere run in `make lab`."""
    data = nbstrip.committed(path)
    assert jupyter_format(json.loads(data)) == data, (
        f"{path.name} is not in nbformat's layout (sorted keys, indent 1): re-save it, e.g. "
        f".venv/bin/python -c \"import nbformat as n; p='notebooks/{path.name}'; n.write(n.read(p, 4), p)\""
    )


def test_nbstrip_strips_what_running_a_notebook_in_jupyterlab_adds():
    clean = nbstrip.committed(NOTEBOOKS[0])
    ran = run_a_notebook(json.loads(clean))
    assert nbstrip.clean(jupyter_format(ran)) == jupyter_format(json.loads(clean))
    # in the committed notebook's own key order (the committed notebooks are json.dumps(indent=1) + "\n")
    assert nbstrip.clean(nbstrip.dumps(ran).encode()) == clean
    # what it keeps: sources, ids, tags, the kernel's name
    cells = json.loads(nbstrip.clean(nbstrip.dumps(ran).encode()))["cells"]
    assert [c["source"] for c in cells] == [c["source"] for c in json.loads(clean)["cells"]]
    # not a notebook (a half-written file, conflict markers): passed through, never an error for git
    for junk in (b"", b'{"cells": [', b"<<<<<<< HEAD\n", b"[1, 2]"):
        assert nbstrip.clean(junk) == junk


def test_nbstrip_keeps_tags_and_authored_metadata():
    nb = {"cells": [{"cell_type": "code", "execution_count": 3, "id": "a",
                     "metadata": {"tags": ["hide"], "jupyter": {"source_hidden": True, "outputs_hidden": True},
                                  "collapsed": True},
                     "outputs": [{"output_type": "stream", "name": "stdout", "text": ["x"]}], "source": ["1"]}],
          "metadata": {"kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"},
                       "language_info": {"name": "python", "version": "3.11"}, "authors": ["me"]},
          "nbformat": 4, "nbformat_minor": 5}
    out = json.loads(nbstrip.clean(json.dumps(nb).encode()))
    assert out["cells"][0] == {"cell_type": "code", "execution_count": None, "id": "a",
                               "metadata": {"tags": ["hide"], "jupyter": {"source_hidden": True}},
                               "outputs": [], "source": ["1"]}
    assert out["metadata"] == {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
                               "language_info": {"name": "python"}, "authors": ["me"]}


@pytest.fixture
def clone(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A git repository with this kit's filter set up the way `make install` does it (the Makefile's
    git-filter target), its .gitattributes and tools/nbstrip.py, and a .venv/bin/python."""
    if GIT is None or MAKE is None:
        pytest.skip("needs git and make")
    repo = tmp_path / "repo"
    (repo / "tools").mkdir(parents=True)
    (repo / "notebooks").mkdir()
    shutil.copy(ROOT / "tools" / "nbstrip.py", repo / "tools" / "nbstrip.py")
    shutil.copy(ROOT / ".gitattributes", repo / ".gitattributes")
    (repo / ".venv" / "bin").mkdir(parents=True)
    (repo / ".venv" / "bin" / "python").symlink_to(sys.executable)
    (repo / ".gitignore").write_text(".venv/\n")
    env = git_env(tmp_path)
    subprocess.run([GIT, "init", "-q"], cwd=repo, env=env, check=True)
    subprocess.run([MAKE, "-s", "-f", str(ROOT / "Makefile"), "git-filter"], cwd=repo, env=env, check=True)
    return repo, env


def test_git_filter_keeps_outputs_in_the_working_copy_and_out_of_commits(clone):
    """`make lab` autosaves outputs into the working copy; git sees no change (`git diff` is empty, `git add`
    stages nothing, the commit holds no outputs) and the working copy keeps them.

    One thing a filter cannot change: `git status` lists a file whose size changed as modified without
    running the filter (git compares sizes first), until `git add` records the new size. It stays so on
    purpose: `git pull` then will not silently replace a notebook holding the learner's outputs."""
    repo, env = clone

    def git(*args: str) -> str:
        return subprocess.run([GIT, *args], cwd=repo, env=env, check=True, capture_output=True, text=True).stdout

    assert git("config", "filter.nbstrip.required") == "true\n"
    for path in NOTEBOOKS:
        (repo / "notebooks" / path.name).write_bytes(nbstrip.committed(path))
    git("add", ".")
    git("commit", "-q", "-m", "clean notebooks")
    # the real notebooks went through the filter (git ran it) byte for byte
    for path in NOTEBOOKS:
        rel = f"notebooks/{path.name}"
        assert git("check-attr", "filter", rel) == f"{rel}: filter: nbstrip\n"
        assert subprocess.run([GIT, "show", f"HEAD:{rel}"], cwd=repo, env=env, capture_output=True,
                              check=True).stdout == nbstrip.committed(path), f"{path.name} changed on commit"
    assert git("status", "--porcelain") == ""

    # `make lab`: the learner runs every notebook, JupyterLab autosaves outputs into the working copy
    # (in nbformat's layout; a notebook committed in another key order is saved in its own order here,
    # see test_committed_notebooks_are_in_jupyterlabs_layout)
    for path in NOTEBOOKS:
        target = repo / "notebooks" / path.name
        nb = run_a_notebook(json.loads(target.read_bytes()))
        laid_out = jupyter_format(nb) if jupyter_format(json.loads(target.read_bytes())) == target.read_bytes() \
            else nbstrip.dumps(nb).encode()
        target.write_bytes(laid_out)
    assert git("diff") == "" and git("diff", "--name-only") == ""
    subprocess.run([GIT, "diff", "--quiet"], cwd=repo, env=env, check=True)  # exit status 0: no difference
    one = repo / "notebooks" / NOTEBOOKS[0].name
    assert json.loads(one.read_bytes())["cells"][1]["outputs"], "the working copy must keep its outputs"
    # what tests/test_repo.py checks: the committed version, although the working copy has outputs
    assert nbstrip.committed(one) == nbstrip.committed(NOTEBOOKS[0])
    git("add", "-A")  # stages nothing: there is nothing to commit, and `git status` is clean again
    assert git("diff", "--cached") == "" and git("status", "--porcelain") == ""
    assert json.loads(one.read_bytes())["cells"][1]["outputs"], "git add must not touch the working copy"

    # the learner edits a cell: the edit is committed, the outputs are not
    nb = json.loads(one.read_bytes())
    code = next(c for c in nb["cells"] if c["cell_type"] == "code")
    code["source"].append("\nprint('mine')")
    one.write_bytes(jupyter_format(nb))
    assert git("status", "--porcelain") == f" M notebooks/{one.name}\n"
    diff = git("diff")
    assert "print('mine')" in diff and "héllo" not in diff and "execution_count" not in diff
    git("commit", "-q", "-a", "-m", "my edit")
    stored = json.loads(git("show", f"HEAD:notebooks/{one.name}"))
    assert "print('mine')" in "".join(next(c for c in stored["cells"] if c["cell_type"] == "code")["source"])
    assert all(c.get("outputs", []) == [] and c.get("execution_count") is None for c in stored["cells"]
               if c["cell_type"] == "code")
    assert stored["metadata"] == json.loads(nbstrip.committed(NOTEBOOKS[0]))["metadata"]
    assert json.loads(nbstrip.committed(one)) == stored
    assert json.loads(one.read_bytes())["cells"][1]["outputs"]


def test_git_filter_falls_back_to_python3_without_the_venv(clone):
    repo, env = clone
    if shutil.which("python3") is None:
        pytest.skip("no python3 on PATH")
    shutil.rmtree(repo / ".venv")
    nb = repo / "notebooks" / NOTEBOOKS[0].name
    nb.write_bytes(jupyter_format(run_a_notebook(json.loads(nbstrip.committed(NOTEBOOKS[0])))))
    subprocess.run([GIT, "add", "."], cwd=repo, env=env, check=True)
    staged = subprocess.run([GIT, "show", f":notebooks/{nb.name}"], cwd=repo, env=env, check=True,
                            capture_output=True).stdout
    assert staged == nbstrip.committed(NOTEBOOKS[0])


def test_git_filter_registration_is_idempotent_and_outside_git_a_no_op(clone, tmp_path):
    repo, env = clone
    config = repo / ".git" / "config"
    before = config.read_bytes()
    subprocess.run([MAKE, "-s", "-f", str(ROOT / "Makefile"), "git-filter"], cwd=repo, env=env, check=True)
    assert config.read_bytes() == before
    plain = tmp_path / "not-a-repo"
    plain.mkdir()
    r = subprocess.run([MAKE, "-s", "-f", str(ROOT / "Makefile"), "git-filter"], cwd=plain, env={
        **env, "GIT_CEILING_DIRECTORIES": str(tmp_path)}, capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout == "" and r.stderr == ""


# ---------------------------------------------------------------------------------------------------------
# 2. Chromium: found, installed where possible, else skipped (failed under CI)
# ---------------------------------------------------------------------------------------------------------
def fake(bin_dir: Path, name: str, script: str) -> Path:
    path = bin_dir / name
    path.write_text("#!/bin/sh\n" + script + "\n")
    path.chmod(0o755)
    return path


@pytest.fixture
def fake_bin(tmp_path: Path) -> Path:
    """A PATH of its own: a fake `id` saying uid 1000, `env` (real), and nothing else: no chromium, no
    apt-get, no sudo, whatever this machine has."""
    if BASH is None:
        pytest.skip("needs bash")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake(bin_dir, "id", 'echo 1000')
    os.symlink(shutil.which("env"), bin_dir / "env")
    return bin_dir


def run_tool(name: str, bin_dir: Path, ci: bool = False, **extra: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "VIDKIT_CHROMIUM")}
    env.update(PATH=str(bin_dir), VIDKIT_CHROMIUM_FALLBACKS="")  # no fixed places either
    env.update(extra)
    if ci:
        env["CI"] = "true"
    return subprocess.run([BASH, str(ROOT / "tools" / name)], env=env, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("name", ["chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome"])
def test_find_chromium_finds_a_browser_on_path(fake_bin, name):
    browser = fake(fake_bin, name, "exit 0")
    found = run_tool("find-chromium", fake_bin)
    assert (found.returncode, found.stdout) == (0, f"{browser}\n")
    for ci in (False, True):  # nothing to install, nothing to say
        r = run_tool("install-chromium", fake_bin, ci=ci)
        assert (r.returncode, r.stdout, r.stderr) == (0, "", "")


def test_find_chromium_honours_vidkit_chromium_and_says_what_to_install(fake_bin, tmp_path):
    mine = fake(tmp_path, "my-chrome", "exit 0")
    fake(fake_bin, "chromium", "exit 0")
    assert run_tool("find-chromium", fake_bin, VIDKIT_CHROMIUM=str(mine)).stdout == f"{mine}\n"
    bad = run_tool("find-chromium", fake_bin, VIDKIT_CHROMIUM=str(tmp_path / "nope"))
    assert bad.returncode == 1 and "VIDKIT_CHROMIUM" in bad.stderr and bad.stdout == ""
    (fake_bin / "chromium").unlink()
    none = run_tool("find-chromium", fake_bin)
    assert none.returncode == 1 and none.stdout == ""
    assert "apt-get install chromium" in none.stderr and "VIDKIT_CHROMIUM" in none.stderr
    # the fixed places: a colon-separated list (a macOS app path has spaces)
    app = tmp_path / "Google Chrome.app"
    app.mkdir()
    chrome = fake(app, "Google Chrome", "exit 0")
    found = run_tool("find-chromium", fake_bin, VIDKIT_CHROMIUM_FALLBACKS=f"{tmp_path}/none:{chrome}")
    assert found.stdout == f"{chrome}\n"


def test_browser_test_uses_the_shared_lookup():
    source = (ROOT / "tests" / "test_browser.py").read_text()
    assert '"tools" / "find-chromium"' in source and "/usr/bin/chromium\"" not in source


@pytest.mark.parametrize("ci", [False, True], ids=["laptop", "CI"])
def test_install_chromium_without_apt_or_root_skips_outside_ci_and_fails_in_ci(fake_bin, ci):
    r = run_tool("install-chromium", fake_bin, ci=ci)
    assert "apt-get is not available" in r.stderr
    assert "apt-get install chromium" in r.stderr and "VIDKIT_CHROMIUM" in r.stderr  # what to install
    if ci:
        assert r.returncode == 1 and "CI is set" in r.stderr
    else:
        assert r.returncode == 0 and "will be SKIPPED" in r.stderr


@pytest.mark.parametrize("ci", [False, True], ids=["laptop", "CI"])
def test_install_chromium_as_a_user_with_apt_but_no_passwordless_sudo(fake_bin, tmp_path, ci):
    log = tmp_path / "calls"
    fake(fake_bin, "apt-get", f'echo "apt-get $*" >> {log}')
    fake(fake_bin, "sudo", f'echo "sudo $*" >> {log}; [ "$1" = -n ] && exit 1; exec "$@"')  # asks a password
    r = run_tool("install-chromium", fake_bin, ci=ci)
    assert "not root, and no passwordless sudo" in r.stderr
    assert r.returncode == (1 if ci else 0)
    assert "apt-get" not in (log.read_text() if log.exists() else "")


@pytest.mark.parametrize("how", ["root", "passwordless sudo"])
def test_install_chromium_installs_with_apt_where_it_can(fake_bin, tmp_path, how):
    """As root on CI (.ci/run), or with passwordless sudo: apt-get installs chromium (here a fake that
    creates one on the fake PATH), and the lookup then finds it."""
    log = tmp_path / "calls"
    fake(fake_bin, "apt-get", f'echo "apt-get $*" >> {log}\n'
         f'case "$*" in *install*chromium*) printf "#!/bin/sh\\n" > {fake_bin}/chromium; {shutil.which("chmod")} +x {fake_bin}/chromium;; esac')
    if how == "root":
        fake(fake_bin, "id", "echo 0")
    else:
        fake(fake_bin, "sudo", f'echo "sudo $*" >> {log}; [ "$1" = -n ] && shift; [ "$1" = true ] && exit 0; exec "$@"')
    for ci in (True, False):
        (fake_bin / "chromium").unlink(missing_ok=True)
        r = run_tool("install-chromium", fake_bin, ci=ci)
        assert r.returncode == 0, r.stderr
        assert r.stdout.endswith(f"using {fake_bin}/chromium\n")
        calls = log.read_text()
        assert "apt-get update" in calls and "install -y -qq --no-install-recommends chromium" in calls
        assert ("sudo -n" in calls) == (how != "root")
        log.unlink()


@pytest.mark.parametrize("ci", [False, True], ids=["laptop", "CI"])
def test_install_chromium_when_apt_fails(fake_bin, ci):
    fake(fake_bin, "id", "echo 0")
    fake(fake_bin, "apt-get", "echo 'E: no network' >&2; exit 100")
    r = run_tool("install-chromium", fake_bin, ci=ci)
    assert "apt-get install chromium failed" in r.stderr
    assert r.returncode == (1 if ci else 0)


# ---------------------------------------------------------------------------------------------------------
# 3, 10c, 11b. make install: pip once, JupyterLab settings, the torch pin
# ---------------------------------------------------------------------------------------------------------
@pytest.fixture
def kit_copy(tmp_path: Path) -> Path:
    """The Makefile and the files its install rules depend on, in a folder of their own: dry runs there
    cannot touch the real .venv."""
    if MAKE is None:
        pytest.skip("needs make")
    copy = tmp_path / "kit"
    (copy / "tools").mkdir(parents=True)
    for name in ("Makefile", "pyproject.toml", "tools/jupyterlab-overrides.json"):
        shutil.copy(ROOT / name, copy / name)
    return copy


def dry_run(copy: Path, *args: str) -> str:
    """`make -n install`: the commands make would run, none of them run."""
    r = subprocess.run([MAKE, "-n", "install", *args], cwd=copy, env=clean_env(), capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout


def installed(copy: Path) -> None:
    """Make the copy look installed: a venv python, the stamp, the lab settings, all newer than their
    prerequisites."""
    (copy / "print.mk").write_text("print-stamp:\n\t@echo $(STAMP)\n")  # (make 3.81, macOS: no --eval)
    stamp = subprocess.run([MAKE, "-s", "-f", "Makefile", "-f", "print.mk", "print-stamp"], cwd=copy, env=clean_env(),
                           capture_output=True, text=True, check=True).stdout.strip()
    assert stamp.startswith(".venv/"), stamp
    python = copy / ".venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text("#!/bin/sh\nexit 1\n")
    python.chmod(0o755)
    overrides = copy / ".venv" / "share" / "jupyter" / "lab" / "settings" / "overrides.d" / "vidkit.json"
    overrides.parent.mkdir(parents=True)
    shutil.copy(copy / "tools" / "jupyterlab-overrides.json", overrides)
    (copy / stamp).touch()
    old = os.stat(copy / "pyproject.toml").st_mtime - 100
    for prerequisite in ("pyproject.toml", "tools/jupyterlab-overrides.json"):
        os.utime(copy / prerequisite, (old, old))


def test_make_install_on_a_fresh_clone_creates_the_venv_and_installs(kit_copy):
    commands = dry_run(kit_copy)
    assert "-m venv .venv" in commands
    assert "pip install -q -c .venv/torch-pin.txt -e '.[notebook,dev]'" in commands
    assert "tools/jupyterlab-overrides.json" in commands  # the lab settings
    assert "git config filter.nbstrip.clean" in commands  # the notebook filter


def test_make_install_runs_pip_only_when_pyproject_or_the_torch_pin_changed(kit_copy):
    installed(kit_copy)
    commands = dry_run(kit_copy)
    assert "pip install" not in commands and "-m venv" not in commands and "jupyterlab-overrides" not in commands, commands

    later = os.stat(kit_copy / ".venv" / "bin" / "python").st_mtime + 100
    os.utime(kit_copy / "pyproject.toml", (later, later))  # pyproject.toml edited (or pulled)
    assert "pip install -q -c .venv/torch-pin.txt -e '.[notebook,dev]'" in dry_run(kit_copy)
    assert "-m venv" not in dry_run(kit_copy)

    os.utime(kit_copy / "pyproject.toml", (0, 0))
    assert "pip install" not in dry_run(kit_copy)
    assert "pip install" in dry_run(kit_copy, "TORCH_PIN=torch==2.99.0")  # another pin
    assert "pip install" in dry_run(kit_copy, "-W", "pyproject.toml")  # forced, as the Makefile says


def test_make_install_reads_the_torch_pin_without_importing_torch(kit_copy):
    """Importing torch before numpy is installed prints "Failed to initialize NumPy"; the pin comes from
    the package metadata instead. The only `import torch` left is the silenced is-it-importable check."""
    commands = dry_run(kit_copy)
    for m in re.finditer(r"import torch", commands):
        assert commands[m.end():].startswith('" 2>/dev/null'), commands[m.start() - 40:m.end() + 40]
    pin_line = next(line for line in commands.splitlines() if "> .venv/torch-pin.txt" in line)
    code = re.search(r'-c "(.*)" > \.venv/torch-pin\.txt', pin_line).group(1)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    import torch

    assert r.stdout == f"torch=={torch.__version__}\n" and r.stderr == ""


def test_jupyterlab_overrides_turn_off_news_and_update_checks():
    overrides = json.loads((ROOT / "tools" / "jupyterlab-overrides.json").read_text())
    assert overrides["@jupyterlab/apputils-extension:notification"] == {"checkForUpdates": False, "fetchNews": "false"}


def test_make_install_put_the_lab_settings_where_jupyterlab_reads_them(tmp_path):
    """After `make install` (which `make test` runs first), the JupyterLab of .venv has the kit's defaults:
    no news pop-up over the page in `make lab`."""
    if Path(sys.prefix).resolve() != (ROOT / ".venv").resolve():
        pytest.skip(f"not the kit's .venv ({sys.prefix}): `make install` writes its settings there")
    pytest.importorskip("jupyterlab")
    from jupyterlab.commands import get_app_dir
    from jupyterlab_server.settings_utils import get_settings

    app_dir = Path(get_app_dir())
    written = app_dir / "settings" / "overrides.d" / "vidkit.json"
    assert written.is_file(), f"{written} is missing: run `make install`"
    assert written.read_bytes() == (ROOT / "tools" / "jupyterlab-overrides.json").read_bytes()
    settings, _ = get_settings(str(app_dir / "settings"), str(app_dir / "schemas"), str(tmp_path),
                               schema_name="@jupyterlab/apputils-extension:notification")
    defaults = {k: v["default"] for k, v in settings["schema"]["properties"].items()}
    assert defaults["fetchNews"] == "false" and defaults["checkForUpdates"] is False


def test_make_test_lets_a_missing_browser_skip_outside_ci(kit_copy):
    """`make test` does not force CI=true on the unit tests (tests/test_browser.py then skips without a
    browser, and -rs prints why); .ci/run sets CI, so there it fails."""
    installed(kit_copy)
    commands = subprocess.run([MAKE, "-n", "test"], cwd=kit_copy, env=clean_env(), capture_output=True,
                              text=True).stdout
    assert "tools/install-chromium" in commands
    unit = next(line for line in commands.splitlines() if "pytest -q -rs tests" in line)
    assert "CI=" not in unit
    assert re.search(r'^export CI="\$\{CI:-true\}"$', (ROOT / ".ci" / "run").read_text(), re.M)


# ---------------------------------------------------------------------------------------------------------
# 11a. exported media at the repository root are ignored, tracked samples are not
# ---------------------------------------------------------------------------------------------------------
def test_media_exported_at_the_root_are_ignored_but_tracked_samples_are_not():
    if not in_git_checkout():
        pytest.skip("not a git checkout")

    def git(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([GIT, *args], cwd=ROOT, capture_output=True, text=True)

    for name in ("clip.gif", "clip.mp4"):  # `vidkit data export clip.gif` at the root, as the README shows
        assert git("check-ignore", "-q", "--no-index", name).returncode == 0, f"{name} is not ignored"
    samples = git("ls-files", "data/checkpoints/*/samples/*").stdout.split()
    assert any(s.endswith(".gif") for s in samples) and any(s.endswith(".mp4") for s in samples)
    assert git("check-ignore", "--no-index", *samples).stdout == ""
    assert git("ls-files", "-ci", "--exclude-standard").stdout == "", "tracked files match .gitignore"


def test_checkout_stash_and_worktrees_work_with_the_required_filter(clone, tmp_path):
    """A required filter needs a smudge command too: without one, every checkout of a notebook (a new
    worktree, `git checkout -- file`, `git stash`) fails with "smudge filter nbstrip failed"."""
    repo, env = clone

    def git(*args: str, cwd: Path = repo) -> subprocess.CompletedProcess:
        return subprocess.run([GIT, *args], cwd=cwd, env=env, capture_output=True, text=True)

    nb = repo / "notebooks" / NOTEBOOKS[0].name
    nb.write_bytes(nbstrip.committed(NOTEBOOKS[0]))
    assert git("add", ".").returncode == 0 and git("commit", "-q", "-m", "one notebook").returncode == 0
    assert git("config", "filter.nbstrip.smudge").stdout.strip() == "cat"
    nb.write_text("edited")
    done = git("checkout", "--", f"notebooks/{nb.name}")
    assert done.returncode == 0, done.stderr
    assert nb.read_bytes() == nbstrip.committed(NOTEBOOKS[0])
    nb.write_bytes(nb.read_bytes().replace(b'"cells": [', b'"cells": [ ', 1))
    for args in (("stash",), ("stash", "pop")):
        done = git(*args)
        assert done.returncode == 0, done.stderr
    done = git("worktree", "add", "-q", str(tmp_path / "wt"), "-b", "other")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "wt" / "notebooks" / nb.name).read_bytes() == nbstrip.committed(NOTEBOOKS[0])
