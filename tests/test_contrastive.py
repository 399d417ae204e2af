"""Pretraining methods (vidkit.experiments.contrastive): a tiny InfoNCE run learns, CoCLR mines aligned positives,
batches, label subsets and fine-tuning."""

from __future__ import annotations

import copy
import inspect

import numpy as np
import pytest
import torch
from conftest import moving_square_clips

from vidkit.data.actions import generate_actions
from vidkit.data.batches import clip_batches
from vidkit.experiments import contrastive
from vidkit.experiments.contrastive import (
    CoCLRPair,
    coclr_loss_fn,
    finetune,
    label_subset,
    srivastava_pretrain_loss,
    ubernce_loss,
)
from vidkit.losses import uber_nce
from vidkit.models import Conv3dEncoder, SrivastavaLSTM, moco
from vidkit.models.moco import MoCo, infonce_loss
from vidkit.train import TrainConfig, train

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def clips():
    c = generate_actions(64, split="train", seed=0, num_frames=8, size=32)
    return c.tensors(), torch.from_numpy(c.flow()), {"action": c.action, "digit": c.digit}


def test_infonce_lowers_its_loss(clips):
    rgb, flow, labels = clips
    torch.manual_seed(0)
    # in-batch negatives (a 1-key queue) and an instantly updated key encoder: the setting that learns
    # fastest at this tiny scale (a long queue with momentum 0.99 needs far more steps, see notebook 02)
    model = MoCo(Conv3dEncoder(1, width=8, dim=32), "rgb", queue_size=1, temperature=0.1, momentum=0.0)
    res = train(model, lambda m, b, step: infonce_loss(m, b, step, length=6), clip_batches(rgb, labels, 16, flow),
                TrainConfig(steps=80, lr=3e-3, log_every=10), progress=False)
    losses = [h["loss"] for h in res.history]
    assert np.mean(losses[-2:]) < losses[0] - 0.15, losses


def test_ubernce_and_coclr_run_and_coclr_mines_aligned_positives(clips):
    rgb, flow, labels = clips
    batches = clip_batches(rgb, labels, 16, flow)
    uber = MoCo(Conv3dEncoder(1, width=4, dim=32), "rgb", queue_size=32)
    loss, _ = ubernce_loss(uber, next(batches), length=6)
    assert torch.isfinite(loss)
    rgb_model = MoCo(Conv3dEncoder(1, width=4, dim=32), "rgb", queue_size=32)
    flow_model = MoCo(Conv3dEncoder(2, width=4, dim=32), "flow", queue_size=32)
    pair = CoCLRPair(rgb_model, flow_model, topk=3)
    assert not any(p.requires_grad for p in flow_model.parameters())
    logs = [coclr_loss_fn(pair, next(batches), length=6)[1] for _ in range(3)]
    assert logs[0]["mined_same_action"] == 0.0  # nothing mined before the queues are full
    assert 0.0 <= logs[2]["mined_same_action"] <= 1.0
    torch.testing.assert_close(pair.model.queue.indices, pair.other_queue.indices)  # the queues stay aligned
    with pytest.raises(ValueError, match="two different views"):
        CoCLRPair(rgb_model, MoCo(Conv3dEncoder(1, width=4, dim=32), "rgb"))


def test_ubernce_loss_trains_the_authors_mean_log_form_by_default(clips):
    rgb, flow, labels = clips
    batches = clip_batches(rgb, labels, 16, flow)
    torch.manual_seed(0)
    model = MoCo(Conv3dEncoder(1, width=4, dim=32), "rgb", queue_size=32)
    ubernce_loss(model, next(batches), length=6)                        # a queue of 16 labelled keys
    batch = next(batches)

    def run(**kw):
        m = copy.deepcopy(model)
        torch.manual_seed(1)                                             # the same augmentations every time
        return ubernce_loss(m, batch, length=6, **kw)[0].detach()

    default, mean_log, log_sum = run(), run(form="mean_log"), run(form="log_sum")
    torch.testing.assert_close(default, mean_log, rtol=0, atol=0)
    assert float(mean_log) > float(log_sum) + 0.5                        # several positives per row: the forms differ
    # and it is vidkit.losses.uber_nce in that form on the same q, k and queue
    m = copy.deepcopy(model)
    torch.manual_seed(1)
    v1, v2 = moco._views(m, batch, 6)
    q, k = m.query(v1), m.key(v2)
    expected = uber_nce(q, k, batch["action"], m.temperature, m.queue.keys, m.queue.labels, form="mean_log")
    torch.testing.assert_close(default, expected.detach())
    assert inspect.signature(ubernce_loss).parameters["form"].default == "mean_log"


def test_coclr_loss_fn_passes_drop_self_prob_with_the_authors_default(clips, monkeypatch):
    rgb, flow, labels = clips
    batches = clip_batches(rgb, labels, 16, flow)
    torch.manual_seed(0)
    pair = CoCLRPair(MoCo(Conv3dEncoder(1, width=4, dim=32), "rgb", queue_size=32),
                     MoCo(Conv3dEncoder(2, width=4, dim=32), "flow", queue_size=32), topk=3)
    for _ in range(2):                                                   # fill the queues: mining starts
        coclr_loss_fn(pair, next(batches), length=6, drop_self_prob=0.0)
    batch = next(batches)
    seen, real = [], contrastive.coclr_loss

    def spy(*args, **kwargs):
        seen.append(kwargs.get("drop_self_prob"))
        return real(*args, **kwargs)

    monkeypatch.setattr(contrastive, "coclr_loss", spy)

    def run(**kw):
        p = copy.deepcopy(pair)
        torch.manual_seed(1)
        return coclr_loss_fn(p, batch, length=6, **kw)[0].detach()

    default, dropped, kept = run(), run(drop_self_prob=1.0), run(drop_self_prob=0.0)
    assert seen == [0.9, 1.0, 0.0]
    assert float(dropped) != pytest.approx(float(kept))                  # every row has mined positives
    assert default.item() in (dropped.item(), kept.item())               # one draw for the whole batch
    assert inspect.signature(coclr_loss_fn).parameters["drop_self_prob"].default == 0.9


def test_srivastava_pretrain_loss_is_finite(clips):
    rgb, flow, labels = clips
    model = SrivastavaLSTM("composite", hidden=16, frame_shape=(1, 32, 32))
    loss, logs = srivastava_pretrain_loss(model, next(clip_batches(rgb, labels, 8)))
    assert torch.isfinite(loss) and set(logs) == {"loss", "reconstruction", "future"}


def test_clip_batches_cover_an_epoch_and_validate(clips):
    rgb, flow, labels = clips
    it = clip_batches(rgb, labels, 16, flow, seed=1)
    seen = torch.cat([next(it)["index"] for _ in range(4)])
    assert sorted(seen.tolist()) == list(range(64))
    b = next(it)
    assert b["rgb"].shape == (16, 8, 1, 32, 32) and b["flow"].shape == (16, 7, 2, 32, 32)
    assert torch.equal(b["action"], torch.as_tensor(labels["action"])[b["index"]])
    with pytest.raises(ValueError, match="batch_size"):
        clip_batches(rgb, labels, 0)  # checked at the call, not at the first batch
    with pytest.raises(ValueError, match="labels"):
        clip_batches(rgb, {"action": labels["action"][:3]}, 4)
    with pytest.raises(ValueError, match=r"rgb must be a float tensor \(N, T, C, H, W\)"):
        clip_batches(rgb[0], labels, 4)
    with pytest.raises(ValueError, match="flow must be"):
        clip_batches(rgb, labels, 4, flow=flow[:3])


def test_label_subset_is_balanced():
    y = np.repeat(np.arange(4), 25)
    idx = label_subset(y, 0.1, seed=0)
    assert np.bincount(y[idx]).tolist() == [2, 2, 2, 2] or np.bincount(y[idx]).tolist() == [3, 3, 3, 3]
    assert len(label_subset(y, 0.001)) == 4  # at least one per class
    with pytest.raises(ValueError, match="fraction"):
        label_subset(y, 0)


def test_finetune_learns_a_motion_label():
    torch.manual_seed(0)
    x, y = moving_square_clips(32)
    out = finetune(Conv3dEncoder(1, width=4, dim=16), x, y, x, y, steps=60, lr=1e-2, progress=False)
    assert out["accuracy"] == 1.0 and out["train_clips"] == 32


class _LabelEncoder(torch.nn.Module):
    """A stand-in "flow" encoder whose embedding is the one-hot action stored in the flow tensor."""

    dim = 2

    def __init__(self):
        super().__init__()
        self.unused = torch.nn.Parameter(torch.zeros(1))

    def embed(self, x):
        return torch.nn.functional.one_hot(x[:, 0, 0, 0, 0].long(), 2).float()


def test_coclr_mines_same_label_positives_from_the_other_view():
    torch.manual_seed(0)
    n = 64
    action = torch.arange(n) % 2
    rgb = torch.rand(n, 6, 1, 16, 16)
    flow = action.float().view(n, 1, 1, 1, 1).expand(n, 5, 2, 16, 16).contiguous()
    other = MoCo(_LabelEncoder(), "flow", queue_size=32, proj_dim=8)
    other.head.net[-1].bias.data.zero_()
    pair = CoCLRPair(MoCo(Conv3dEncoder(1, width=4, dim=16), "rgb", queue_size=32), other, topk=3)
    batches = clip_batches(rgb, {"action": action.numpy()}, 16, flow)
    logs = [coclr_loss_fn(pair, next(batches), length=4)[1] for _ in range(4)]
    assert logs[-1]["mined_same_action"] == 1.0  # the "flow" view knows the label: every mined positive shares it


def test_save_and_load_notebook_encoders(tmp_path):
    from vidkit.models.moco import load_encoders, notebook_moco, notebook_srivastava, save_encoders

    torch.manual_seed(0)
    encoders = {"InfoNCE RGB": notebook_moco("rgb"), "InfoNCE flow": notebook_moco("flow", width=8, dim=32),
                "Srivastava composite": notebook_srivastava(16, hidden=64)}  # non-default sizes are rebuilt
    path = save_encoders(encoders, tmp_path / "encoders.pt", size=16)
    loaded = load_encoders(path)
    assert list(loaded) == list(encoders)
    rgb, flow = torch.rand(2, 8, 1, 16, 16), torch.rand(2, 7, 2, 16, 16)
    for name, x in (("InfoNCE RGB", rgb), ("InfoNCE flow", flow), ("Srivastava composite", rgb)):
        encoders[name].eval()
        assert torch.allclose(loaded[name].embed(x), encoders[name].embed(x))
    with pytest.raises(TypeError, match="MoCo or a SrivastavaLSTM"):
        save_encoders({"x": torch.nn.Linear(2, 2)}, tmp_path / "bad.pt", size=16)
    with pytest.raises(ValueError, match="view"):
        notebook_moco("depth")
