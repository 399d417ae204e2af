"""vidkit.runs.Run: the one owner of a run folder's layout."""

from __future__ import annotations

import json

import pytest

from vidkit.runs import Run


def test_layout_and_records(tmp_path):
    run = Run(tmp_path)
    assert run.config_path == tmp_path / "config.json" and run.metrics_path == tmp_path / "metrics.json"
    assert run.log_path == tmp_path / "log.txt" and run.checkpoint == tmp_path / "checkpoints" / "last.pt"
    assert run.samples == tmp_path / "samples" and run.name == tmp_path.name
    assert run.read_config() == {} and run.read_metrics() == {} and not run.is_run()
    run.write_config({"name": "x", "config": {"a": 1}})
    assert run.update_config(commands=["vidkit train x"]) == {"name": "x", "config": {"a": 1},
                                                               "commands": ["vidkit train x"]}
    assert json.loads(run.config_path.read_text())["commands"] == ["vidkit train x"]
    run.update_metrics(steps=3)
    assert run.update_metrics(eval={"mse": 1.0}) == {"steps": 3, "eval": {"mse": 1.0}}
    assert not list(tmp_path.glob(".*.tmp*"))  # atomic writes leave no temp files
    run.log("hello")
    run.log("again")
    lines = run.log_path.read_text().splitlines()
    assert len(lines) == 2 and lines[0].endswith(" hello")
    with pytest.raises(TypeError, match="run's path"):
        Run(3)


def test_create_and_find(tmp_path):
    run = Run.create("toy", root=tmp_path, config={"hello": 1})
    assert run.path.parent == tmp_path and run.name.startswith("toy-")
    assert run.read_config()["config"] == {"hello": 1} and run.read_config()["name"] == "toy"
    assert Run.create("toy", root=tmp_path) != run
    for bad in ["", "a/b", "..", 7]:
        with pytest.raises(ValueError, match="name must be"):
            Run.create(bad, root=tmp_path)
    with pytest.raises(FileNotFoundError, match="expected a work dir with config.json"):
        Run.find(run.path)
    run.checkpoint.parent.mkdir()
    run.checkpoint.write_bytes(b"x")
    assert run.is_run()
    assert Run.find(run.path) == (run, run.checkpoint)
    assert Run.find(run.checkpoint) == (run, run.checkpoint)
    refs = tmp_path / "refs"
    ref = Run(refs / "ref_a")
    ref.path.mkdir(parents=True)
    ref.write_config({"name": "ref_a"})
    ref.checkpoint.parent.mkdir()
    ref.checkpoint.write_bytes(b"x")
    assert Run.references(refs) == ["ref_a"] and Run.references(tmp_path / "none") == []
    assert Run.find("ref_a", references=refs)[0] == ref
    with pytest.raises(FileNotFoundError, match=r"known names: \['ref_a'\]"):
        Run.find("ref_b", references=refs)
    with pytest.raises(FileNotFoundError, match="no such path"):
        Run.find("./nowhere", references=refs)
    with pytest.raises(TypeError, match="path_or_name"):
        Run.find(1)
