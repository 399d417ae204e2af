"""Recipes for every future-prediction model, their losses, `vidkit eval` / `vidkit publish`, work-dir samples."""

from __future__ import annotations

import json

import imageio.v3 as iio
import pytest
import torch

from vidkit import api
from vidkit.cli import main
from vidkit.experiments.future_prediction import (
    MODELS,
    RECIPES,
    build_model,
    make_loss,
    parse_overrides,
    recipe_config,
    run_recipe,
    write_samples,
)
from vidkit.models import ConvRNNPredictor, PredFormer, SimVP, SrivastavaLSTM, TinyFramePredictor
from vidkit.train import TrainConfig, train

pytestmark = pytest.mark.usefixtures("one_torch_thread")

FAMILY = {"tiny": TinyFramePredictor, "simvp": SimVP, "srivastava": SrivastavaLSTM, "convrnn": ConvRNNPredictor,
          "predformer": PredFormer}


@pytest.mark.parametrize("profile", ["smoke", "laptop", "full"])
@pytest.mark.parametrize("name", sorted(RECIPES))
def test_every_recipe_builds_in_every_profile(name, profile):
    cfg = recipe_config(name, profile)
    model = build_model(cfg)
    assert isinstance(model, FAMILY[cfg["model"]["name"]])
    json.dumps(cfg)  # a recipe config is plain JSON: it goes into config.json
    if profile == "smoke":  # one finite loss + backward per recipe on a tiny batch
        frames = torch.rand(2, cfg["data"]["seq_len"], 1, 64, 64).round()
        out = make_loss(cfg)(model, frames, 0)
        loss = out[0] if isinstance(out, tuple) else out
        loss.backward()
        assert torch.isfinite(loss) and loss.item() > 0
        assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())


def test_models_table_matches_recipes():
    assert {RECIPES[r]["model"]["name"] for r in RECIPES} == set(MODELS)


def test_parse_overrides():
    assert parse_overrides(["model.mode=future", "train.lr=3e-3", "model.hidden=[8, 8]", "model.conditioned=true"]) \
        == {"model": {"mode": "future", "hidden": [8, 8], "conditioned": True}, "train": {"lr": 0.003}}
    for bad in ["model.mode", "=3", "model..x=1"]:
        with pytest.raises(ValueError, match="KEY.PATH=VALUE"):
            parse_overrides([bad])


def test_recipe_config_overrides_and_errors():
    cfg = recipe_config("mmnist_lstm", "smoke", {"model": {"mode": "future", "layers": 2}, "steps": 7})
    assert cfg["model"]["mode"] == "future" and cfg["model"]["layers"] == 2 and cfg["steps"] == 7
    assert build_model(cfg).layers == 2
    with pytest.raises(ValueError, match="unknown config keys"):
        recipe_config("mmnist_lstm", "smoke", {"modle": {}})
    with pytest.raises(ValueError, match="unknown train keys"):
        recipe_config("mmnist_lstm", "smoke", {"train": {"learning_rate": 1}})
    with pytest.raises(ValueError, match="cannot be built"):
        build_model(recipe_config("mmnist_lstm", "smoke", {"model": {"hiddden": 3}}))
    with pytest.raises(ValueError, match="unknown model"):
        build_model({"model": {"name": "nope"}, "data": {}})
    with pytest.raises(ValueError, match="loss.kind"):
        make_loss(recipe_config("mmnist_simvp", "smoke", {"loss": {"kind": "l1"}}))


def test_convrnn_loss_follows_the_scheduled_sampling_ramp():
    cfg = recipe_config("mmnist_convlstm", "smoke", {"steps": 10})
    loss_fn, model = make_loss(cfg), build_model(cfg)
    frames = torch.rand(2, 20, 1, 64, 64)
    assert loss_fn(model, frames, 0)[1]["teacher_forcing"] == 1.0
    assert loss_fn(model, frames, 5)[1]["teacher_forcing"] == pytest.approx(0.5)
    assert loss_fn(model, frames, 10)[1]["teacher_forcing"] == 0.0


def test_train_passes_the_step_to_a_three_argument_loss():
    seen = []

    def loss_fn(model, batch, step):
        seen.append(step)
        return model(batch).pow(2).mean()

    train(torch.nn.Linear(3, 1), loss_fn, iter(lambda: torch.randn(4, 3), None), TrainConfig(steps=4),
          progress=False)
    assert seen == [0, 1, 2, 3]


def test_autoencoder_run_is_scored_on_reconstruction(tmp_path):
    wd = run_recipe("mmnist_lstm", profile="smoke", steps=2, root=tmp_path, progress=False,
                    overrides={"model": {"mode": "autoencoder"}})
    scores = json.loads((wd / "metrics.json").read_text())["eval"]
    assert scores["task"] == "reconstruction" and len(scores["per_horizon"]["mse"]) == 10
    gif = iio.imread(wd / "samples" / "rollouts.gif", index=None)
    assert gif.shape[0] == 10  # the 10 reconstructed input frames
    with pytest.raises(ValueError, match="different config"):
        run_recipe("mmnist_lstm", profile="smoke", workdir=wd, steps=3, progress=False,
                   overrides={"model": {"mode": "future"}})


def test_run_eval_publish_and_load_by_name(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("VIDKIT_DATA", str(tmp_path / "data"))
    wd = run_recipe("mmnist_simvp", profile="smoke", steps=3, root=tmp_path, progress=False)
    for f in ["config.json", "log.txt", "metrics.json", "checkpoints/last.pt", "samples/rollouts.gif",
              "samples/rollouts.mp4"]:
        assert (wd / f).is_file(), f
    frames = iio.imread(wd / "samples" / "rollouts.gif", index=None)
    assert frames.shape[0] == 20  # 10 observed + 10 predicted frames, one row per sample sequence
    saved = json.loads((wd / "metrics.json").read_text())["eval"]["mean"]

    assert main(["eval", str(wd), "--write"]) == 0
    out = capsys.readouterr().out
    assert "mse" in out and "wrote" in out
    written = json.loads((wd / "metrics.json").read_text())
    again = written["eval"]["mean"]
    assert again["mse"] == pytest.approx(saved["mse"], rel=1e-5)  # the same weights, the same test prefix
    assert written["steps"] == 3 and written["elapsed_s"] > 0  # how far the scored checkpoint was trained

    assert main(["eval", "zeros", "--sequences", "16"]) == 0
    assert "zeros: future on 16 test sequences" in capsys.readouterr().out
    assert main(["eval", "zeros", "--sequences", "16", "--split", "val"]) == 0
    assert "zeros: future on 16 validation sequences" in capsys.readouterr().out
    assert main(["eval", str(wd), "--sequences", "8", "--split", "val"]) == 0
    assert "future on 8 validation sequences" in capsys.readouterr().out
    assert main(["eval", str(wd), "--split", "val", "--write"]) == 2  # metrics.json holds test scores only
    assert "cannot be used with --split val" in capsys.readouterr().err

    assert main(["publish", str(wd), "tiny_ref", "--half"]) == 0
    assert "published" in capsys.readouterr().out
    readme = (tmp_path / "data" / "checkpoints" / "tiny_ref" / "README.md").read_text()
    assert "mse" in readme and "float16" in readme and "vidkit publish" in readme
    # the README's metrics table shows the trivial baselines on the same sequences, with the MSE ratio
    from vidkit.experiments.future_prediction import evaluate_baselines, recipe_config
    from vidkit.models import BASELINES

    zeros_mse = evaluate_baselines(recipe_config("mmnist_simvp", "smoke"), written["eval"]["sequences"])["zeros"]["mean"]["mse"]
    table = {line.split(" | ")[0].strip("| "): line for line in readme.splitlines() if line.startswith("| ")}
    assert set(table) >= {"`tiny_ref`", *(f"{b} (baseline)" for b in BASELINES)}
    zeros_row = table["zeros (baseline)"]
    assert f"| {zeros_mse:.4g} |" in zeros_row and zeros_row.endswith("| 1.000 |")
    assert f"| {again['mse'] / zeros_mse:.3f} |" in table["`tiny_ref`"]
    readme_path = tmp_path / "data" / "checkpoints" / "tiny_ref" / "README.md"
    readme_path.write_text(readme + "\n## Notes\n\nTrained on a Tuesday.\n")
    assert main(["publish", str(wd), "tiny_ref", "--half"]) == 0  # a re-publish keeps hand-written notes
    assert readme_path.read_text() == readme.rstrip("\n") + "\n\n## Notes\n\nTrained on a Tuesday.\n"
    assert api.reference_checkpoints() == ["tiny_ref"]
    ref = api.load("tiny_ref")
    ckpt = torch.load(tmp_path / "data" / "checkpoints" / "tiny_ref" / "checkpoints" / "last.pt",
                      weights_only=True)
    assert "optimizer" not in ckpt and all(v.dtype == torch.float16 for v in ckpt["model"].values()
                                           if v.is_floating_point())
    original = api.load(wd)
    x = torch.rand(2, 10, 1, 64, 64)
    assert next(ref.parameters()).dtype == torch.float32
    torch.testing.assert_close(ref.predict(x), original.predict(x), atol=2e-2, rtol=0)
    with pytest.raises(ValueError, match="plain folder name"):
        api.publish(wd, "../escape")
    # a run trained further than its metrics.json describes is refused before anything is written
    published = (tmp_path / "data" / "checkpoints" / "tiny_ref" / "checkpoints" / "last.pt").read_bytes()
    metrics = json.loads((wd / "metrics.json").read_text())
    (wd / "metrics.json").write_text(json.dumps({**metrics, "steps": 2}))
    with pytest.raises(ValueError, match="score this checkpoint first"):
        api.publish(wd, "tiny_ref")
    assert (tmp_path / "data" / "checkpoints" / "tiny_ref" / "checkpoints" / "last.pt").read_bytes() == published


def test_write_samples_validates_n(tmp_path):
    cfg = recipe_config("mmnist_tiny", "smoke")
    with pytest.raises(ValueError, match="n must be in"):
        write_samples(build_model(cfg), cfg, tmp_path, n=0)


def test_eval_write_rescores_a_reference_and_its_readme(tmp_path, monkeypatch, capsys):
    """`vidkit eval NAME --write` on a reference re-scores it with the current metrics (used when a metric's
    definition changes): metrics.json and the README's table are rewritten; commands and notes are kept."""
    monkeypatch.setenv("VIDKIT_DATA", str(tmp_path / "data"))
    wd = run_recipe("mmnist_tiny", profile="smoke", steps=2, root=tmp_path, progress=False, samples=False)
    assert main(["publish", str(wd), "tiny_ref"]) == 0
    folder = tmp_path / "data" / "checkpoints" / "tiny_ref"
    readme = (folder / "README.md").read_text()
    (folder / "README.md").write_text(readme + "\n## Notes\n\nHand-written.\n")
    metrics = json.loads((folder / "metrics.json").read_text())
    true_ssim = metrics["eval"]["mean"]["ssim"]
    metrics["eval"]["mean"]["ssim"] = 0.123456  # a score from an older definition of the metric
    (folder / "metrics.json").write_text(json.dumps(metrics))
    capsys.readouterr()
    assert main(["eval", "tiny_ref", "--write"]) == 0
    assert "rewrote the metrics and README of reference 'tiny_ref'" in capsys.readouterr().out
    again = json.loads((folder / "metrics.json").read_text())
    assert again["eval"]["mean"]["ssim"] == pytest.approx(true_ssim, rel=1e-6)
    assert again["eval"]["sequences"] == metrics["eval"]["sequences"] and again["steps"] == metrics["steps"]
    text = (folder / "README.md").read_text()
    assert f"| {true_ssim:.4g} |" in text and text.endswith("## Notes\n\nHand-written.\n")
    assert f"vidkit publish {wd} tiny_ref" in text  # the source run, not the reference folder
    assert main(["eval", "tiny_ref", "--write", "--sequences", "4"]) == 2
