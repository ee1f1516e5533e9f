"""Trainer: divergence handling, phases, schedules, clipping, config checks, and a tiny real run."""
from __future__ import annotations

import csv
import math

import numpy as np
import pytest
import torch
import torch.nn as nn

import srlib.train
from srlib import metrics
from srlib.config import apply_overrides, check_config, total_iterations
from srlib.losses.pixel import l1_loss, l2_loss, to_model_colors
from srlib.train import Phase, Trainer, TrainingDiverged, build_trainer

torch.set_num_threads(1)


class TwoBlocks(nn.Module):
    """Tiny same-size RGB model with two named blocks (for phase tests)."""

    scale, colors, pre_upsample = 1, 3, False

    def __init__(self):
        super().__init__()
        self.block1 = nn.Conv2d(3, 3, 3, padding=1)
        self.block2 = nn.Conv2d(3, 3, 3, padding=1)

    def forward(self, x):
        return x + self.block2(torch.relu(self.block1(x)))


def random_batches(i: int) -> dict:
    g = torch.Generator().manual_seed(1000 + i)
    hr = torch.rand(4, 3, 12, 12, generator=g)
    return {"lr": (hr + 0.05 * torch.randn(hr.shape, generator=g)).clamp(0, 1), "hr": hr}


def snapshot(module: nn.Module) -> dict:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


class NaNAt(nn.Module):
    """L1 loss that turns NaN at one iteration."""

    def __init__(self, at: int):
        super().__init__()
        self.at = at

    def forward(self, model, batch, iteration):
        loss = (model(batch["lr"]) - batch["hr"]).abs().mean()
        return (loss * float("nan") if iteration == self.at else loss), {}


def test_nan_loss_stops_with_message_and_keeps_last_good_checkpoint(tmp_path):
    torch.manual_seed(0)
    ckpt = tmp_path / "checkpoint.pt"
    t = Trainer(TwoBlocks(), NaNAt(25), random_batches, iterations=40, lr=1e-3, checkpoint_every=10,
                checkpoint_path=ckpt, log_path=tmp_path / "log.csv", progress=False, threads=1)
    with pytest.raises(TrainingDiverged) as err:
        t.fit()
    msg = str(err.value)
    assert "iteration 25" in msg and "nan" in msg and "lower learning rate" in msg and "clip" in msg
    assert "iteration 20" in msg  # names the checkpoint it kept
    state = torch.load(ckpt, weights_only=False)
    assert state["iteration"] == 20
    assert all(torch.isfinite(v).all() for v in state["model"].values())
    assert not list(tmp_path.glob(".*.tmp"))  # no temp files left behind


def test_phases_train_only_their_prefixes_with_their_lr():
    torch.manual_seed(0)
    model = TwoBlocks()
    seen = {}

    def on_start(trainer, k):
        seen[k] = (trainer.iteration, snapshot(trainer.model), trainer.current_lr)

    phases = [
        Phase(iterations=5, trainable=["block1"], lr=1e-2, on_phase_start=on_start),
        Phase(iterations=5, trainable=["block2"], lr=1e-3, on_phase_start=on_start),
        Phase(iterations=5, trainable=None, lr=1e-4, on_phase_start=on_start),
    ]
    t = Trainer(model, l1_loss(), random_batches, phases=phases, progress=False, threads=1)
    t.fit()
    end = snapshot(model)
    assert [seen[k][0] for k in range(3)] == [0, 5, 10]
    assert [seen[k][2] for k in range(3)] == [1e-2, 1e-3, 1e-4]
    s0, s1, s2 = (seen[k][1] for k in range(3))
    # phase 1 changed block1 only, phase 2 block2 only, phase 3 both
    assert not torch.equal(s0["block1.weight"], s1["block1.weight"])
    assert torch.equal(s0["block2.weight"], s1["block2.weight"])
    assert torch.equal(s1["block1.weight"], s2["block1.weight"])
    assert not torch.equal(s1["block2.weight"], s2["block2.weight"])
    assert not torch.equal(s2["block1.weight"], end["block1.weight"])
    assert not torch.equal(s2["block2.weight"], end["block2.weight"])


def test_frozen_prefix_never_changes():
    torch.manual_seed(0)
    model = TwoBlocks()
    before = snapshot(model)
    Trainer(model, l1_loss(), random_batches, iterations=5, lr=1e-2, frozen=["block1."], progress=False, threads=1).fit()
    assert torch.equal(before["block1.weight"], model.block1.weight)
    assert not torch.equal(before["block2.weight"], model.block2.weight)


def test_step_schedule_and_log_columns(tmp_path):
    torch.manual_seed(0)
    t = Trainer(TwoBlocks(), l1_loss(), random_batches, iterations=12, lr=1e-2, schedule={"name": "step", "step_size": 5, "gamma": 0.1},
                log_every=1, log_path=tmp_path / "log.csv", progress=False, threads=1)
    t.fit()
    lrs = [r["lr"] for r in t.log]
    assert lrs[3] == pytest.approx(1e-2) and lrs[6] == pytest.approx(1e-3) and lrs[11] == pytest.approx(1e-4)
    header = (tmp_path / "log.csv").read_text().splitlines()[0].split(",")
    assert header[:4] == ["iteration", "loss", "lr", "seconds"]


def test_gradient_value_clipping_divided_by_lr_bounds_sgd_update():
    torch.manual_seed(0)
    model = TwoBlocks()
    before = snapshot(model)
    # VDSR-style: clip gradients to max/lr, so one SGD step moves each weight by at most max
    t = Trainer(model, l1_loss(), lambda i: {k: v * 1e3 for k, v in random_batches(i).items()}, iterations=1, optimizer="sgd",
                lr=0.5, clip={"mode": "value", "max": 1e-4, "divide_by_lr": True}, progress=False, threads=1)
    t.fit()
    step = (model.block2.weight - before["block2.weight"]).abs().max().item()
    assert 0.9e-4 < step <= 1e-4 + 1e-7  # gradients were large: the bound is what limited the step


def test_plateau_on_loss_and_adadelta_run():
    torch.manual_seed(0)
    t = Trainer(TwoBlocks(), l1_loss(), random_batches, iterations=6, optimizer="adadelta", lr=1.0,
                optimizer_args={"rho": 0.9, "eps": 1e-6},
                schedule={"name": "plateau", "monitor": "loss", "every": 2, "patience": 0, "factor": 0.5}, progress=False, threads=1)
    t.fit()
    assert isinstance(t.optimizer, torch.optim.Adadelta)
    assert t.current_lr <= 1.0


def test_bad_configs_have_clear_errors():
    with pytest.raises(ValueError, match="iters_per_epoch"):
        total_iterations({"epochs": 3})
    assert total_iterations({"epochs": 3, "iters_per_epoch": 50}) == 150
    with pytest.raises(ValueError, match="unknown config keys"):
        check_config({"model": {"name": "srcnn"}, "scale": 2, "loss": {"name": "l1"}, "data": {}, "iterations": 1, "lr": 1})
    with pytest.raises(ValueError, match="optimizer"):
        Trainer(TwoBlocks(), l1_loss(), random_batches, iterations=1, optimizer="rmsprop")
    with pytest.raises(ValueError, match="no CUDA GPU") if not torch.cuda.is_available() else pytest.raises(AssertionError):
        Trainer(TwoBlocks(), l1_loss(), random_batches, iterations=1, device="cuda")
        raise AssertionError
    with pytest.raises(TypeError, match="'lr' and 'hr'"):
        Trainer(TwoBlocks(), l1_loss(), lambda i: {"x": 1}, iterations=1, progress=False, threads=1).fit()


def test_apply_overrides_parses_json_and_dotted_keys():
    c = apply_overrides({"optimizer": {"lr": 1e-4}, "iterations": 10}, ["optimizer.lr=3e-4", "iterations=20", "eval.sets=[\"Set5\"]", "notes=hello"])
    assert c == {"optimizer": {"lr": 3e-4}, "iterations": 20, "eval": {"sets": ["Set5"]}, "notes": "hello"}


def test_config_helpers_are_still_importable_from_srlib_train():
    from srlib import config

    for name in ("CONFIG_KEYS", "total_iterations", "check_config", "apply_overrides", "import_object", "default_threads"):
        assert getattr(srlib.train, name) is getattr(config, name)
    with pytest.raises(ValueError, match="metrics"):
        check_config({"model": {"name": "srcnn"}, "scale": 2, "loss": {"name": "l1"}, "data": {}, "iterations": 1,
                      "eval": {"metrics": "psnr"}})


class OwnParameterHook(nn.Module):
    """L1 times a scalar the hook owns; ``trained`` says whether it has (and checkpoints) its own optimizer."""

    def __init__(self, trained: bool):
        super().__init__()
        self.w = nn.Parameter(torch.ones(()), requires_grad=trained)

    def forward(self, model, batch, iteration):
        return (model(batch["lr"]) - batch["hr"]).abs().mean() * self.w.detach(), {}


class WithExtraState(OwnParameterHook):
    def get_extra_state(self):
        return {}

    def set_extra_state(self, state):
        pass


class HoldsTheModel(nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model  # wrong: the hook gets the model as an argument

    def forward(self, model, batch, iteration):
        return (model(batch["lr"]) - batch["hr"]).abs().mean(), {}


def test_who_trains_what_is_enforced_for_loss_hooks():
    model = TwoBlocks()
    with pytest.raises(ValueError, match="holds model parameters.*belongs to the model"):
        Trainer(model, HoldsTheModel(model), random_batches, iterations=1, progress=False, threads=1)
    with pytest.raises(ValueError, match="holds model parameters"):
        Trainer(model, l1_loss(), random_batches, phases=[Phase(iterations=1, loss=HoldsTheModel(model))],
                progress=False, threads=1)
    with pytest.raises(ValueError, match=r"trainable parameters \(w\) but no get_extra_state"):
        Trainer(model, OwnParameterHook(trained=True), random_batches, iterations=1, progress=False, threads=1)
    # a frozen parameter (a fixed feature network) and a hook that checkpoints its optimizer are fine
    for hook in (OwnParameterHook(trained=False), WithExtraState(trained=True)):
        t = Trainer(model, hook, random_batches, iterations=2, lr=1e-2, progress=False, threads=1)
        t.fit()
        trained = {id(p) for g in t.optimizer.param_groups for p in g["params"]}
        assert id(hook.w) not in trained and trained == {id(p) for p in model.parameters()}
        assert hook.w.item() == 1.0  # the Trainer's optimizer never touched it


def test_set_level_metric_is_logged_and_in_the_final_results(tmp_path, monkeypatch):
    """A metric over the whole set (here the mean absolute difference of all its pixels, and the image count)
    registered in METRICS and named in eval.metrics shows up in the log and the final dict."""
    seen = {}

    def set_mad(srs, hrs, scale):
        seen["n"] = len(srs)
        return float(np.mean(np.abs(np.concatenate([np.ravel(s).astype(float) for s in srs])
                                    - np.concatenate([np.ravel(h).astype(float) for h in hrs]))))

    def set_count(srs, hrs, scale):
        return len(srs)

    monkeypatch.setattr(metrics.METRICS, "_items", dict(metrics.METRICS._items))  # registrations undone after the test
    metrics.register_metric("test_set_mad", set_level=True)(set_mad)
    metrics.register_metric("test_set_count", set_level=True)(set_count)
    assert metrics.is_set_level(metrics.METRICS.get("test_set_mad")) and not metrics.is_set_level(metrics.METRICS.get("psnr"))
    config = {
        "model": {"name": "srcnn", "args": {"colors": 1, "n1": 4, "n2": 4, "f1": 3, "f2": 1, "f3": 3}},
        "scale": 2, "loss": {"name": "l1"}, "data": {"train": "Set5", "patch": 8, "batch": 2},
        "optimizer": {"name": "adam", "lr": 1e-3}, "iterations": 2, "seed": 0, "threads": 1, "device": "cpu",
        "eval": {"sets": ["Set5"], "every": 1, "max_images": 2, "final_max_images": 3,
                 "metrics": ["psnr", "test_set_mad", "test_set_count"]},
    }
    final = build_trainer(config, run_dir=tmp_path, progress=False).fit()
    res = final["metrics"]["Set5"]
    assert list(res) == ["psnr", "test_set_mad", "test_set_count"]  # the config's order; no ssim, no per_image
    assert res["test_set_count"] == 3.0 == seen["n"] and 0 < res["test_set_mad"] < 255 and res["psnr"] > 0
    with open(tmp_path / "log.csv") as f:
        rows = list(csv.DictReader(f))
    assert [k for k in rows[0] if k.startswith("Set5_")] == ["Set5_psnr", "Set5_test_set_mad", "Set5_test_set_count"]
    assert [float(r["Set5_test_set_count"]) for r in rows] == [2.0, 2.0]  # evaluations during training: max_images
    with pytest.raises(KeyError, match="unknown metric 'nope'.*psnr"):
        build_trainer(dict(config, eval={"sets": ["Set5"], "metrics": ["nope"]}), progress=False).fit()


def test_y_models_get_y_batches():
    from srlib.degrade import rgb_to_y_torch

    class YModel(nn.Module):
        colors = 1

    x = torch.rand(2, 3, 5, 5)
    assert torch.equal(to_model_colors(x, YModel()), rgb_to_y_torch(x))
    assert to_model_colors(x, TwoBlocks()) is x


def srcnn_at_bicubic(model: nn.Module) -> nn.Module:
    """Initialise SRCNN so that one path through it is the identity (output = its bicubic input).

    One filter of each layer becomes a centred delta and the last layer's other inputs start at
    zero; the rest keeps PyTorch's default init. Training then has to improve on bicubic.
    """
    c1, c2, c3 = model.body[0], model.body[2], model.body[4]
    with torch.no_grad():
        c1.weight[0].zero_()
        c1.weight[0, 0, c1.kernel_size[0] // 2, c1.kernel_size[1] // 2] = 1
        c1.bias[0] = 0
        c2.weight[:, 0].zero_()
        c2.weight[0].zero_()
        c2.weight[0, 0, c2.kernel_size[0] // 2, c2.kernel_size[1] // 2] = 1
        c2.bias[0] = 0
        c3.weight.zero_()
        c3.weight[0, 0, c3.kernel_size[0] // 2, c3.kernel_size[1] // 2] = 1
        c3.bias.zero_()
    return model


@pytest.mark.slow
def test_srcnn_x2_on_t91_beats_bicubic_on_set5():
    """SRCNN 9-1-5 (Y), identity-at-bicubic init, Adam 3e-4, 200 iterations of 16 LR patches 16x16."""
    from srlib import data, models

    torch.manual_seed(0)
    model = srcnn_at_bicubic(models.build("srcnn", scale=2, colors=1, f2=1))
    sampler = data.PatchSampler(data.lr_pairs("T91", 2), 2, patch=16, batch=16, seed=0)
    t = Trainer(model, l2_loss(), sampler.batch,
                iterations=200, lr=3e-4, eval_sets=["Set5"], progress=False, threads=1, device="cpu")
    final = t.fit()
    psnr = final["metrics"]["Set5"]["psnr"]
    assert math.isfinite(final["final_loss"])
    assert psnr > 33.66 + 0.3, f"Set5 x2 PSNR {psnr:.2f} dB is not above bicubic (33.66 dB)"


def test_lapsrn_multilevel_loss_is_charbonnier_summed_over_levels():
    from srlib import losses, models
    from srlib.degrade import imresize_torch
    from srlib.losses.pixel import charbonnier

    torch.manual_seed(0)
    model = models.build("lapsrn", scale=4, colors=1, depth=1, n_feats=4)
    hook = losses.build("lapsrn-multilevel")
    hr = torch.rand(2, 3, 16, 16)
    batch = {"lr": imresize_torch(hr, size=(4, 4)), "hr": hr}
    loss, logs = hook(model, batch, 0)
    y_lr, y_hr = to_model_colors(batch["lr"], model), to_model_colors(hr, model)
    x2, x4 = model.forward_levels(y_lr)
    expected = charbonnier(x2, imresize_torch(y_hr, size=(8, 8))) + charbonnier(x4, y_hr)
    assert sorted(logs) == ["level1", "level2"]
    assert torch.allclose(loss, expected)
    with pytest.raises(TypeError, match="forward_levels"):
        hook(TwoBlocks(), random_batches(0), 0)
    assert losses.build("mse").__class__ is losses.build("l2").__class__
    assert losses.build("charbonnier").eps == 1e-3
