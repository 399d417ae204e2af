"""Repository hygiene: notebooks are committed without outputs (what git stores; a working copy run in
`make lab` may hold them); profiles resolve as documented."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from vidkit.profiles import PROFILES, profile, profile_name

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def test_there_are_notebooks():
    assert NOTEBOOKS, "notebooks/ holds no .ipynb"


def committed_text(path: Path) -> str:
    """The notebook as git would commit it (tools/nbstrip.py's ``committed``): the index version of a tracked
    notebook, which git's clean filter keeps free of outputs while the working copy, run in `make lab`,
    may hold them; the working copy outside a git checkout."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("nbstrip", ROOT / "tools" / "nbstrip.py")
    nbstrip = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(nbstrip)
    return nbstrip.committed(path).decode("utf-8")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_committed_without_outputs(path):
    nb = json.loads(committed_text(path))
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] == "code":
            assert cell.get("outputs", []) == [], (
                f"{path.name} cell {i} has outputs in git's index: `make install` sets up the filter that strips "
                f"them (.gitattributes); then `git add --renormalize {path.relative_to(ROOT)}`"
            )
            assert cell.get("execution_count") is None, f"{path.name} cell {i} has an execution count in git's index"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_first_code_cell_prints_the_profile(path):
    nb = json.loads(path.read_text())
    first = next(c for c in nb["cells"] if c["cell_type"] == "code")
    assert "profile()" in "".join(first["source"]), f"{path.name}: the first code cell must print vidkit.profile()"


def test_profile_resolution(monkeypatch):
    monkeypatch.delenv("VIDKIT_PROFILE", raising=False)
    monkeypatch.setenv("CI", "true")
    assert profile_name() == "smoke"
    monkeypatch.setenv("VIDKIT_PROFILE", "laptop")
    assert profile().name == "laptop"  # the explicit override beats CI
    monkeypatch.delenv("VIDKIT_PROFILE")
    monkeypatch.delenv("CI")
    assert profile_name() == ("full" if torch.cuda.is_available() else "laptop")
    monkeypatch.setenv("VIDKIT_PROFILE", "huge")
    with pytest.raises(ValueError, match="huge"):
        profile()
    assert PROFILES["smoke"].test_size < PROFILES["laptop"].test_size
    assert "smoke" in PROFILES["smoke"].describe()


def test_install_never_resolves_torch_on_its_own():
    """torch is installed by the Makefile (kept if present, else the pinned CPU wheel) and then pinned
    with a constraint file for everything else; pyproject must not ask for it."""
    import re
    import tomllib

    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    deps = meta["dependencies"] + [d for extra in meta["optional-dependencies"].values() for d in extra]
    assert not [d for d in deps if re.match(r"torch([<>=!~ \[;]|$)", d)], "pyproject must not list torch"
    makefile = (ROOT / "Makefile").read_text()
    assert "torch==2.13.0" in makefile and "-c $(VENV)/torch-pin.txt" in makefile
    assert 'import torch" 2>/dev/null' in makefile, "an importable torch must be kept"


REFERENCES = sorted(p for p in (ROOT / "data" / "checkpoints").glob("*") if p.is_dir())


def test_every_reference_is_listed_with_the_commands_that_made_it():
    # notebook 01 offers to retrain the references from vidkit.experiments.future_prediction.REFERENCES, which must hold the
    # commands each published folder records (its config.json's last train command, its README's publish)
    from vidkit.experiments.future_prediction import REFERENCES as LISTED

    assert sorted(LISTED) == [p.name for p in REFERENCES]
    for folder in REFERENCES:
        train_cmd, publish_cmd = LISTED[folder.name]
        recorded = json.loads((folder / "config.json").read_text())["commands"]
        assert recorded[-1] == train_cmd, f"{folder.name}: REFERENCES lists {train_cmd!r}, the run ended with {recorded[-1]!r}"
        assert publish_cmd in (folder / "README.md").read_text(), f"{folder.name}: README lacks {publish_cmd!r}"


def test_reference_commands_resolve_work_dirs_and_reject_unknown_names(tmp_path, monkeypatch):
    from vidkit.experiments.future_prediction import reference_commands

    monkeypatch.delenv("VIDKIT_RUNS", raising=False)
    train, publish = reference_commands("convlstm_ref", runs=tmp_path / "runs")
    assert train[:2] == ["train", "mmnist_convlstm"] and publish[0] == "publish"
    assert train[train.index("--workdir") + 1] == str(tmp_path / "runs" / "ref_convlstm")
    assert publish[1] == str(tmp_path / "runs" / "ref_convlstm") and publish[2] == "convlstm_ref"
    default = reference_commands("convlstm_ref")[0]
    assert default[default.index("--workdir") + 1] == str(ROOT / "runs" / "ref_convlstm")
    monkeypatch.setenv("VIDKIT_RUNS", str(tmp_path / "elsewhere"))  # the kit's one runs folder, wherever it is
    moved = reference_commands("convlstm_ref")[0]
    assert moved[moved.index("--workdir") + 1] == str(tmp_path / "elsewhere" / "ref_convlstm")
    with pytest.raises(ValueError, match="unknown reference 'nope'; available"):
        reference_commands("nope")


@pytest.mark.parametrize("folder", REFERENCES, ids=[p.name for p in REFERENCES])
def test_reference_checkpoint_is_small_documented_and_loads(folder):
    import vidkit

    size = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
    assert size < 10 * 2**20, f"{folder.name}: {size / 2**20:.1f} MB, the limit is 10 MB"
    readme = (folder / "README.md").read_text()
    for needed in ("## Trained with", "vidkit train ", "min of training", "## Test metrics", "| mse |"):
        assert needed in readme, f"{folder.name}/README.md lacks {needed!r}"
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["eval"]["mean"]["mse"] > 0 and metrics["steps"] > 0
    model = vidkit.load(folder.name)
    out = model.predict(torch.zeros(1, 10, 1, 64, 64), steps=2)
    assert out.shape == (1, 2, 1, 64, 64) and torch.isfinite(out).all()


def test_reliability_doc_names_only_tests_that_exist():
    """Every `tests/x.py::name` in docs/reliability.md is a test function in that file (so the table of
    covered faults cannot point at a test that was renamed or removed)."""
    import ast
    import re

    text = (ROOT / "docs" / "reliability.md").read_text()
    refs = set(re.findall(r"`(tests/[\w/]+\.py)::(\w+)`", text))
    assert len(refs) >= 30
    for path, name in sorted(refs):
        tree = ast.parse((ROOT / path).read_text())
        names = {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}
        assert name in names, f"docs/reliability.md cites {path}::{name}, which does not exist"


# ---------------------------------------------------------------------------------------- import layers

PACKAGE = ROOT / "vidkit"
#: The front doors: ``import vidkit`` (``vidkit.load``, ``vidkit.show``...) and the ``vidkit`` command run
#: the future-prediction recipes, and `vidkit reproduce` the claims of every notebook, so they may import experiments
#: (docs/architecture.md).
FRONT_DOORS = {"vidkit", "vidkit.api", "vidkit.cli", "vidkit.reproduce"}


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _vidkit_imports(path: Path, modules: set[str]) -> set[str]:
    """Every vidkit module ``path`` imports, at the top or inside a function (``from vidkit.viz import
    frames`` names ``vidkit.viz.frames``; ``from vidkit.data import load_digits`` names ``vidkit.data``)."""
    import ast

    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "vidkit"}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "vidkit":
            assert node.level == 0, f"{path}: use absolute imports"
            subs = {f"{node.module}.{a.name}" for a in node.names} & modules
            found |= subs or {node.module}
    return found


def _import_graph() -> dict[str, set[str]]:
    files = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    return {name: _vidkit_imports(path, set(files)) for name, path in files.items()}


def test_library_never_imports_experiments_and_experiments_never_import_each_other():
    graph = _import_graph()
    experiments = {m for m in graph if m.startswith("vidkit.experiments.")}
    assert experiments, "vidkit/experiments/ holds the per-notebook experiment code"
    upward = sorted(f"{m} imports {i}" for m in graph if not m.startswith("vidkit.experiments")
                    and m not in FRONT_DOORS for i in graph[m] if i.startswith("vidkit.experiments"))
    assert not upward, "library code imports experiment code (move what it needs down): " + "; ".join(upward)
    sideways = sorted(f"{m} imports {i}" for m in experiments for i in graph[m]
                      if i.startswith("vidkit.experiments.") and i != m)
    assert not sideways, "an experiment imports another (move what they share into the library): " + "; ".join(sideways)


def test_vidkit_imports_have_no_cycles():
    """Module-level and function-level imports alike: no module imports one that (indirectly) imports it
    (a package's ``__init__`` re-exporting its own modules is not a cycle)."""
    graph = _import_graph()
    edges = {m: {i for i in deps if i in graph and not (m.startswith(i + ".") or i == m)} for m, deps in graph.items()}
    state: dict[str, int] = {}

    def visit(m: str, path: list[str]) -> None:
        state[m] = 1
        for n in sorted(edges[m]):
            assert state.get(n) != 1, "import cycle: " + " -> ".join([*path, m, n])
            if n not in state:
                visit(n, [*path, m])
        state[m] = 2

    for m in sorted(edges):
        if m not in state:
            visit(m, [])


#: The layers, lowest first (docs/architecture.md): a module imports only from its own layer or lower ones.
LAYERS = ["errors", "utils", "profiles", "losses", "runs", "train", "data", "models", "eval", "viz", "experiments",
          "reproduce", "api", "cli", ""]


def _layer(module: str) -> int:
    return LAYERS.index(module.split(".")[1] if "." in module else "")


def test_nothing_imports_upward():
    graph = _import_graph()
    assert {m.split(".")[1] for m in graph if "." in m} <= set(LAYERS), "a new folder needs a place in LAYERS"
    upward = sorted(f"{m} imports {i}" for m, deps in graph.items() for i in deps if _layer(i) > _layer(m))
    assert not upward, "; ".join(upward)


def test_sizes_live_in_the_profile():
    """One place for sizes: no module keeps its own per-profile table, no recipe sets a budget, and no notebook
    builds a training schedule or rescales a budget itself (issue 15)."""
    import ast
    import json

    from vidkit.experiments.future_prediction import RECIPES
    from vidkit.profiles import (
        AttentionBudget,
        ContrastiveBudget,
        HeroBudget,
        MultimodalBudget,
        PredictionBudget,
        RealVideoBudget,
        TextVideoBudget,
    )

    for p in (ROOT / "vidkit").rglob("*.py"):
        for node in ast.parse(p.read_text()).body:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
            names = [t.id for t in targets if isinstance(t, ast.Name)]
            assert not any("BUDGET" in n for n in names), f"{p}: a budget table {names}; budgets live in vidkit/profiles.py"
    for name, recipe in RECIPES.items():
        for prof, section in recipe.get("sizes", {}).items():
            assert set(section) <= {"model", "train"}, f"{name}: sizes[{prof!r}] sets {sorted(section)}"
            assert not {"steps", "batch_size", "time_budget_s"} & set(section.get("train", {}))
    for p in sorted((ROOT / "notebooks").glob("*.ipynb")):
        code = "\n".join("".join(c["source"]) for c in json.loads(p.read_text())["cells"] if c["cell_type"] == "code")
        for banned in ("TrainConfig(", "BUDGETS", "time_budget_s /", "P.name]"):
            assert banned not in code, f"{p.name}: {banned!r}; take sizes from vidkit.profile() as they are"
    for prof in ("smoke", "laptop", "full"):
        P = profile(prof)
        assert (type(P.prediction), type(P.contrastive), type(P.attention), type(P.text_video), type(P.multimodal),
                type(P.hero), type(P.real_video)) == (PredictionBudget, ContrastiveBudget, AttentionBudget,
                                                      TextVideoBudget, MultimodalBudget, HeroBudget, RealVideoBudget)
