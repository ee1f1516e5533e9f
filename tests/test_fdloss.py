"""The FD loss (document 001) and its model parts: bins and anchors, L_c1, confinement, Class-Module, L_c2, the
balance loss, K errors, LapSRN's unchanged defaults, training through the Trainer and resume."""
from __future__ import annotations

import hashlib
import math

import pytest
import torch
import torch.nn.functional as F

from srlib import losses
from srlib.losses import fdloss
from srlib.models import blocks, build, lapsrn

# ----------------------------------------------------------------------------- LapSRN's defaults: unchanged


def _state_sha256(model) -> str:
    h = hashlib.sha256()
    for k, v in model.state_dict().items():
        h.update(k.encode())
        h.update(str(tuple(v.shape)).encode())
        h.update(v.detach().contiguous().numpy().tobytes())
    return h.hexdigest()


# Obtained BEFORE the FD options were added to srlib/models/lapsrn.py (git HEAD e547aca), with exactly this
# procedure: torch.manual_seed(0); build("lapsrn", **args); _state_sha256(model) (keys, shapes and float32 bytes of
# every state-dict entry, in order), then torch.rand(3) to record how much of the RNG stream the construction used
# (the init order). torch 2.14.1, CPU.
DEFAULT_LAPSRN = {
    "default args": ({}, "9d820d3c9a8715a6c078c124227ed9a38a4d059944d9a6d95f70d65d2933659e",
                     [0.25195860862731934, 0.2484978437423706, 0.35000038146972656]),
    "x4 Y": ({"scale": 4, "colors": 1}, "32de090d68d97a3d6f68bff939b8cfd5f3fdf48b82e946669970a16e549f0756",
             [0.15773308277130127, 0.022331058979034424, 0.43725794553756714]),
}


@pytest.mark.parametrize("case", sorted(DEFAULT_LAPSRN))
def test_default_lapsrn_is_byte_identical(case):
    args, sha, after = DEFAULT_LAPSRN[case]
    torch.manual_seed(0)
    model = build("lapsrn", **args)
    assert _state_sha256(model) == sha
    assert torch.rand(3).tolist() == after
    assert not hasattr(model, "fd_heads") and model.class_module is None and model.fd_bins == 0


def test_fd_parts_leave_the_network_initialisation_alone():
    """Paired runs: under one seed the SR network starts from the same weights with and without the FD parts."""
    size = {"scale": 4, "colors": 1, "depth": 2, "n_feats": 8, "bias": False, "init": "port"}
    torch.manual_seed(3)
    plain = build("lapsrn", **size).state_dict()
    torch.manual_seed(3)
    fd = build("lapsrn", **size, fd_bins=32, class_module=True, class_tile=8).state_dict()
    assert all(torch.equal(plain[k], fd[k]) for k in plain)
    extra = sorted({k.split(".")[0] for k in fd if k not in plain})
    assert extra == ["class_module", "fd_heads"]
    assert fd["fd_heads.0.weight"].shape == (32, 8) and fd["fd_heads.1.weight"].shape == (32, 8)
    last = build("lapsrn", **size, fd_bins=16, fd_levels="last").state_dict()
    assert [k for k in last if k.startswith("fd_heads")] == ["fd_heads.1.weight", "fd_heads.1.bias"]
    rgb = build("lapsrn", scale=4, colors=3, depth=1, n_feats=8, fd_bins=32)
    assert rgb.fd_heads["0"].out_features == 96  # colors x K


# ----------------------------------------------------------------------------- bins and anchors


def test_bins_and_anchors_at_the_edges():
    levels = torch.tensor([0, 7, 8, 255], dtype=torch.uint8)
    assert fdloss.gt_bins(levels, 32).tolist() == [0, 0, 1, 31]
    assert fdloss.gt_bins(levels.float() / 255, 32).tolist() == [0, 0, 1, 31]
    t = torch.arange(32) * 8  # every t_i exactly, and the level below it
    assert fdloss.gt_bins(t.to(torch.uint8), 32).tolist() == list(range(32))
    assert fdloss.gt_bins((t[1:] - 1).to(torch.uint8), 32).tolist() == list(range(31))
    for k in (2, 8, 16, 32, 64, 256):  # the float path equals the integer one on all 256 levels, float32 noise and all
        z = torch.arange(256)
        want = (z // (256 // k)).tolist()
        assert fdloss.gt_bins(z.to(torch.uint8), k).tolist() == want
        assert fdloss.gt_bins(z.float().div(255).float(), k).tolist() == want
        assert fdloss.gt_bins((z.double() / 255 + 1e-7).float(), k).tolist() == want
    assert fdloss.gt_bins(torch.tensor([-0.1, 1.3]), 32).tolist() == [0, 31]  # out of range: the nearest level
    edges = fdloss.bin_edges(32, torch.float64) * 255
    assert torch.allclose(edges, torch.arange(33, dtype=torch.float64) * 8) and edges[-1] == pytest.approx(256)
    a = fdloss.anchors(32, torch.float64) * 255
    assert a.shape == (32,) and a[0] == pytest.approx(4) and a[31] == pytest.approx(252)
    assert torch.allclose(a, (edges[:-1] + edges[1:]) / 2)
    with pytest.raises(ValueError, match="uint8 levels or floats"):
        fdloss.gt_bins(torch.tensor([3]), 32)


@pytest.mark.parametrize("bad, reason", [
    (0, "at least 2"), (-4, "at least 2"), (1, "at least 2"), (48, "power of two"), (3, "power of two"),
    (512, "at most 256"), (2.0, "must be an integer"), (True, "must be an integer"),
])
def test_a_bad_k_is_refused_naming_it(bad, reason):
    with pytest.raises(ValueError, match=reason) as err:
        blocks.check_bins(bad)
    assert f"fd_bins={bad!r}" in str(err.value) and "use 32" in str(err.value)
    if bad != 0:  # fd_bins=0 is "no FD parts"
        with pytest.raises(ValueError, match=rf"lapsrn: fd_bins={bad!r}: .*{reason}"):
            build("lapsrn", scale=4, colors=1, depth=1, n_feats=4, fd_bins=bad)
    with pytest.raises(ValueError, match=reason):
        fdloss.gt_bins(torch.zeros(2), bad)


def test_other_fd_options_are_checked():
    small = {"scale": 4, "colors": 1, "depth": 1, "n_feats": 4}
    with pytest.raises(ValueError, match="need the FD heads: give fd_bins"):
        build("lapsrn", **small, class_module=True)
    with pytest.raises(ValueError, match="width 4 must be an odd"):
        build("lapsrn", **small, fd_bins=32, fd_widths=[4])
    with pytest.raises(ValueError, match="give one fixed width"):
        build("lapsrn", **small, fd_bins=32, fd_widths=[3, 5])
    with pytest.raises(ValueError, match="at least two widths"):
        build("lapsrn", **small, fd_bins=32, class_module=True, fd_widths=[5])
    with pytest.raises(ValueError, match="class_tile=6 must be a positive multiple of 4"):
        build("lapsrn", **small, fd_bins=32, class_module=True, class_tile=6)
    with pytest.raises(ValueError, match="fd_confine='clip' is not one of"):
        build("lapsrn", **small, fd_bins=32, fd_confine="clip")
    with pytest.raises(ValueError, match="fd_levels='first' is not one of"):
        build("lapsrn", **small, fd_bins=32, fd_levels="first")
    with pytest.raises(ValueError, match="alpha must be a finite number >= 0"):
        losses.build("fd", alpha=-1)
    with pytest.raises(ValueError, match="target must be one of"):
        losses.build("fd", target="centre")


# ----------------------------------------------------------------------------- L_c1


def test_ce_equals_a_direct_computation():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 3, 4, 5, 8, generator=g) * 3  # (N, C, H, W, K)
    gt = torch.randint(0, 8, (2, 3, 4, 5), generator=g)
    direct, n = 0.0, 0
    for idx in torch.cartesian_prod(*(torch.arange(s) for s in gt.shape)).tolist():
        z = logits[tuple(idx)].double()
        direct += -(z[gt[tuple(idx)]].item() - math.log(z.exp().sum().item()))
        n += 1
    assert fdloss.anchor_ce(logits, gt).item() == pytest.approx(direct / n, rel=1e-6)
    # a layout with K not innermost in memory (the contiguous copy) gives the same value
    strided = logits.movedim(-1, 2).contiguous().movedim(2, -1)
    assert not strided.is_contiguous()
    assert fdloss.anchor_ce(strided, gt).item() == pytest.approx(direct / n, rel=1e-6)
    assert fdloss.anchor_ce(torch.full((1, 1, 2, 2, 32), 0.5), torch.zeros(1, 1, 2, 2, dtype=torch.long)).item() \
        == pytest.approx(math.log(32))
    with pytest.raises(ValueError, match=r"logits \(N, C, H, W, K\)"):
        fdloss.anchor_ce(logits[0], gt)


# ----------------------------------------------------------------------------- confinement


@pytest.mark.parametrize("mode", ["soft", "hard"])
def test_confinement_keeps_outputs_inside_the_area(mode):
    g = torch.Generator().manual_seed(1)
    k = 32
    y = torch.rand(4, 1, 16, 16, generator=g) * 1.6 - 0.3  # well outside [0, 1] too
    bins = torch.randint(0, k, (4, 1, 16, 16), generator=g)
    bins[0, 0, 0, :4] = torch.tensor([0, 1, 30, 31])  # areas cut by the borders of the range
    for m in (1, 2, 3, torch.randint(0, 4, (4, 1, 16, 16), generator=g)):
        out = blocks.confine(y, bins, m, k, mode)
        lo_bin, hi_bin = (bins - m).clamp(min=0), (bins + m).clamp(max=k - 1) + 1
        lo, hi = blocks.anchor_area(bins, m, k)  # the area: t_{max(k-m, 0)} .. t_{min(k+m, K-1)+1}
        assert torch.allclose(lo, lo_bin * 8 / 255.0, rtol=0, atol=1e-7)
        assert torch.allclose(hi, hi_bin * 8 / 255.0, rtol=0, atol=1e-7)
        assert (out >= lo).all() and (out <= hi).all()  # exactly, float rounding included
        inside = (y > lo) & (y < hi)
        if mode == "hard":
            assert torch.equal(out[inside], y[inside])
        else:
            assert not torch.equal(out[inside], y[inside])  # soft squashes inside the area too
    # the soft clamp is the identity at the centre of the area, with slope 1
    c = (8 * 8 + 8 * 13) / 2 / 255  # bins 8..12 around bin 10 (m = 2): centre (t_8 + t_13) / 2 = A_10 = 84
    x = torch.tensor([[[[c]]]], requires_grad=True)
    out = blocks.confine(x, torch.tensor([[[[10]]]]), 2, 32, "soft")
    out.backward()
    assert out.item() == pytest.approx(c, abs=1e-7) and x.grad.item() == pytest.approx(1.0)
    assert fdloss.anchors(32)[10].item() == pytest.approx(c)


def test_soft_confinement_has_a_gradient_where_the_hard_one_has_none():
    k, m = 32, 2
    bins = torch.full((1, 1, 1, 4), 10)
    lo, hi = 8 * 8 / 255, 13 * 8 / 255
    # inside, a bit below, far below, a bit above the area
    y = torch.tensor([[[[(lo + hi) / 2 + 0.01, lo - 0.02, lo - 0.3, hi + 0.02]]]])
    grads = {}
    for mode in ("soft", "hard"):
        x = y.clone().requires_grad_()
        blocks.confine(x, bins, m, k, mode).sum().backward()
        grads[mode] = x.grad.flatten()
    assert grads["hard"].tolist() == [1.0, 0.0, 0.0, 0.0]
    assert (grads["soft"][[0, 1, 3]] > 0.05).all() and 0 < grads["soft"][0] <= 1
    assert grads["soft"][2] >= 0  # far outside: saturated (float32 tanh), but never negative


# ----------------------------------------------------------------------------- Class-Module, L_c2, balance


def test_class_module_shapes_and_tiles():
    cm = blocks.ClassModule(colors=1, tile=8)
    assert sum(p.numel() for p in blocks.ClassModule(colors=3).parameters()) == 60_035  # ClassSR's count
    assert sum(p.numel() for p in blocks.ClassModule(colors=1).parameters()) == 55_939
    x = torch.rand(2, 1, 20, 13)
    logits = cm(x)
    assert logits.shape == (2, 3, 3, 2) and cm.grid(20, 13) == (3, 2)
    # one tile classified alone gives the same logits (the whole-image pass never crosses a tile border); the
    # partial last tile is classified from its pixels padded by replication
    assert torch.allclose(cm(x[:, :, 8:16, :8])[..., 0, 0], logits[..., 1, 0], atol=1e-6)
    last = F.pad(x[:, :, 16:, 8:], (0, 3, 0, 4), mode="replicate")
    assert torch.allclose(cm(last)[..., 0, 0], logits[..., 2, 1], atol=1e-6)
    per_pixel = blocks.tile_map(logits, 8 * 4, 80, 52)  # the tiles at the x4 level
    assert per_pixel.shape == (2, 3, 80, 52) and torch.equal(per_pixel[:, :, 33, 40], logits[:, :, 1, 1])
    with pytest.raises(ValueError, match="tile=6 must be a multiple of 4"):
        blocks.ClassModule(tile=6)


def test_class_loss_sign_and_range():
    one_hot = torch.eye(3)
    uniform = torch.full((4, 3), 1 / 3)
    assert fdloss.class_loss(one_hot).item() == pytest.approx(0.0, abs=1e-7)
    assert fdloss.class_loss(uniform).item() == pytest.approx(2.0)
    p = torch.softmax(torch.randn(64, 3, generator=torch.Generator().manual_seed(2)) * 3, dim=1)
    v = fdloss.class_loss(p).item()
    assert 0 < v < 2
    paper_form = v - 2  # Eq. (4): -sum |P_i - P_j|, the same minus M - 1
    assert -2 <= paper_form < 0
    # the (N, M, th, tw) layout is one row per sub-image
    assert fdloss.class_loss(p.reshape(4, 4, 4, 3).movedim(-1, 1)).item() == pytest.approx(v)
    # its gradient makes P more one-hot: a step down the gradient lowers the loss and raises max P
    z = torch.randn(8, 3, generator=torch.Generator().manual_seed(3)).requires_grad_()
    fdloss.class_loss(torch.softmax(z, 1)).backward()
    z2 = z.detach() - 0.5 * z.grad
    assert fdloss.class_loss(torch.softmax(z2, 1)) < fdloss.class_loss(torch.softmax(z.detach(), 1))
    assert torch.softmax(z2, 1).max(1).values.mean() > torch.softmax(z.detach(), 1).max(1).values.mean()


def test_balance_loss():
    assert fdloss.balance_loss(torch.eye(3).repeat(2, 1)).item() == pytest.approx(0.0)  # each class used equally
    assert fdloss.balance_loss(torch.full((6, 3), 1 / 3)).item() == pytest.approx(0.0)
    collapsed = torch.zeros(6, 3)
    collapsed[:, 2] = 1  # everything on the widest area
    assert fdloss.balance_loss(collapsed).item() == pytest.approx(1.0)  # (M - 1) / 2, its maximum
    # direct: sum_c |sum_i p_ic - n/M| / (4 n / M)
    p = torch.softmax(torch.randn(10, 3, generator=torch.Generator().manual_seed(4)), 1)
    want = sum(abs(p[:, c].sum().item() - 10 / 3) for c in range(3)) / (4 * 10 / 3)
    assert fdloss.balance_loss(p).item() == pytest.approx(want, rel=1e-6)


# ----------------------------------------------------------------------------- the model's FD forward and the hook

SMALL = {"scale": 4, "colors": 1, "depth": 1, "n_feats": 8, "bias": False, "init": "port"}


def _batch(seed=0, n=2, p=16):
    g = torch.Generator().manual_seed(seed)
    return {"lr": torch.rand(n, 3, p, p, generator=g), "hr": torch.rand(n, 3, 4 * p, 4 * p, generator=g)}


def test_training_mixes_the_widths_and_eval_takes_the_argmax():
    torch.manual_seed(0)
    model = build("lapsrn", **SMALL, fd_bins=32, class_module=True, class_tile=8)
    lr = torch.rand(1, 1, 16, 24)
    fd = model.forward_fd(lr)
    probs = fd["class_probs"]
    assert probs.shape == (1, 3, 2, 3) and torch.allclose(probs.sum(1), torch.ones(1, 2, 3))
    for k, entry in enumerate(fd["levels"]):
        f = 2 ** (k + 1)
        assert entry["logits"].shape == (1, 1, 16 * f, 24 * f, 32)
        per_px = blocks.tile_map(probs, 8 * f, 16 * f, 24 * f)
        want = sum(per_px[:, c:c + 1] * blocks.confine(entry["raw"], entry["bins"], m, 32, "soft")
                   for c, m in enumerate((1, 2, 3)))
        assert torch.allclose(entry["out"], want, atol=1e-6)
    model.eval()
    with torch.no_grad():
        fd = model.forward_fd(lr)
        out = model(lr)
    last = fd["levels"][-1]
    assert torch.equal(out, last["out"])
    m = torch.tensor([1, 2, 3])[blocks.tile_map(fd["class_probs"].argmax(1, keepdim=True), 32, 64, 96)]
    lo, hi = blocks.anchor_area(last["bins"], m, 32)
    assert (out >= lo).all() and (out <= hi).all()
    assert torch.allclose(out, blocks.confine(last["raw"], last["bins"], m, 32, "soft"))


def test_the_bin_prior_starts_the_heads_at_the_bin_of_the_output():
    """fd_prior: logits = head(F_l) - fd_prior ((y - A_i) / bin width)^2, y the level's unconfined output (detached);
    with the head silenced the predicted bin is the bin of y itself (its nearest anchor), clamped to 0..K-1."""
    torch.manual_seed(0)
    model = build("lapsrn", **SMALL, fd_bins=32, fd_widths=[5])
    for head in model.fd_heads.values():
        torch.nn.init.zeros_(head.weight)
        torch.nn.init.zeros_(head.bias)
    fd = model.forward_fd(torch.rand(2, 1, 8, 8))
    for entry in fd["levels"]:
        y = entry["raw"].detach()
        # the nearest anchor = the bin t_i <= 255 y < t_{i+1} of the unrounded level
        assert torch.equal(entry["bins"], torch.floor(y.double() * 255 / 8).long().clamp(0, 31))
    # the head alone, on in-range images: -((y - A_i) / 8 levels)^2 up to a per-pixel constant (the same softmax)
    head = blocks.BinHead(4, 3, 32, prior=0.5)
    torch.nn.init.zeros_(head.weight)
    torch.nn.init.zeros_(head.bias)
    y = torch.rand(2, 3, 5, 6)
    d = (y.unsqueeze(-1) - fdloss.anchors(32)) * 255 / 8
    got = head(torch.randn(2, 4, 5, 6), y)
    assert got.shape == (2, 3, 5, 6, 32)
    assert torch.allclose(got.log_softmax(-1), (-0.5 * d.square()).log_softmax(-1), atol=1e-4)
    torch.manual_seed(0)
    bare = build("lapsrn", **SMALL, fd_bins=32, fd_widths=[5], fd_prior=0)
    x = torch.rand(1, 1, 8, 8)
    entry = bare.forward_fd(x)["levels"][-1]
    feats = bare.levels[1](*bare.levels[0](bare.head(x), x))[0]  # F_2, the x4 level's features
    head = bare.fd_heads["1"]
    assert torch.allclose(entry["logits"][:, 0], F.linear(feats.movedim(1, -1), head.weight, head.bias), atol=1e-6)
    with pytest.raises(ValueError, match="fd_prior=-1 must be a finite number >= 0"):
        build("lapsrn", **SMALL, fd_bins=32, fd_prior=-1)


def test_hook_totals_match_their_parts():
    batch = _batch()
    torch.manual_seed(0)
    fd_model = build("lapsrn", **SMALL, fd_bins=32, class_module=True, class_tile=8)
    hook = losses.build("fd", alpha=0.1, beta=0.2, balance=0.3)
    loss, logs = hook(fd_model, batch, 0)
    want = (logs["l_r1"] + logs["l_r2"] + 0.1 * (logs["l_c1_1"] + logs["l_c1_2"]) + 0.2 * logs["l_c2"]
            + 0.3 * logs["l_avg"])
    assert loss.item() == pytest.approx(float(want), rel=1e-6)
    assert 0 <= float(logs["l_c2"]) <= 2 and 0 <= float(logs["l_avg"]) <= 1
    assert sum(float(logs[f"use_w{w}"]) for w in (3, 5, 7)) == pytest.approx(1.0)
    assert all(0 <= float(logs[k]) <= 1 for k in ("bin_acc1", "bin_acc2", "in_area1", "in_area2"))
    assert float(logs["in_area2"]) >= float(logs["bin_acc2"])
    # as written (no balance term): the same parts, l_avg only logged
    loss0, logs0 = losses.build("fd", alpha=0.1, beta=0.2)(fd_model, batch, 0)
    assert loss0.item() == pytest.approx(loss.item() - 0.3 * float(logs["l_avg"]), rel=1e-6)
    # CS loss: fixed width, no Class-Module: no L_c2
    torch.manual_seed(0)
    cs = build("lapsrn", **SMALL, fd_bins=32, fd_widths=[5])
    loss, logs = losses.build("fd", alpha=0.1)(cs, batch, 0)
    assert "l_c2" not in logs and "use_w5" not in logs
    assert loss.item() == pytest.approx(float(logs["l_r1"] + logs["l_r2"] + 0.1 * (logs["l_c1_1"] + logs["l_c1_2"])),
                                        rel=1e-6)
    # the baseline: no heads, L1 on both levels against HR and its bicubic x2 size
    torch.manual_seed(0)
    plain = build("lapsrn", **SMALL)
    loss, logs = losses.build("fd")(plain, batch, 0)
    from srlib.degrade import imresize_torch, rgb_to_y_torch

    hr = rgb_to_y_torch(batch["hr"])
    x2, x4 = plain.forward_levels(rgb_to_y_torch(batch["lr"]))
    direct = F.l1_loss(x2, imresize_torch(hr, size=(32, 32))) + F.l1_loss(x4, hr)
    assert loss.item() == pytest.approx(direct.item(), rel=1e-6) and set(logs) == {"l_r1", "l_r2", "l_r"}


def test_anchor_target_regresses_to_bin_centres():
    batch = _batch(1)
    torch.manual_seed(0)
    model = build("lapsrn", **SMALL, fd_bins=32, fd_widths=[5])
    _, pixel = losses.build("fd", alpha=0.0)(model, batch, 0)
    _, anchor = losses.build("fd", alpha=0.0, target="anchor")(model, batch, 0)
    from srlib.degrade import rgb_to_y_torch

    hr = rgb_to_y_torch(batch["hr"])
    out = model.forward_levels(rgb_to_y_torch(batch["lr"]))[-1]
    centres = fdloss.anchors(32)[fdloss.gt_bins(hr, 32)]
    assert float(anchor["l_r2"]) == pytest.approx(F.l1_loss(out, centres).item(), rel=1e-6)
    assert float(anchor["l_r2"]) != pytest.approx(float(pixel["l_r2"]), rel=1e-4)


@pytest.mark.parametrize("colors", [1, 3])
def test_gradients_reach_every_fd_part(colors):
    torch.manual_seed(0)
    model = build("lapsrn", **{**SMALL, "colors": colors}, fd_bins=32, class_module=True, class_tile=8)
    loss, logs = losses.build("fd")(model, _batch(), 0)
    assert model.forward_fd(torch.rand(1, colors, 8, 8))["levels"][-1]["logits"].shape == (1, colors, 32, 32, 32)
    assert math.isfinite(loss.item()) and 0 <= float(logs["in_area2"]) <= 1
    loss.backward()
    for name in ("fd_heads.0.weight", "fd_heads.1.weight", "class_module.fc.weight", "class_module.body.0.weight",
                 "levels.1.residual.weight", "head.0.weight"):
        g = dict(model.named_parameters())[name].grad
        assert g is not None and g.abs().sum() > 0, name


def test_the_test_time_head_is_seen_by_the_complexity_counters():
    """Table 2 measures Mult-Adds with forward hooks: the head of the last level (the one the SR output needs) is
    counted, n_feats x colors K per HR pixel; the x2 head does not run at test time."""
    from srlib.complexity import mult_adds

    torch.manual_seed(0)
    plain = build("lapsrn", **SMALL).eval()
    cs = build("lapsrn", **SMALL, fd_bins=32, fd_widths=[5]).eval()
    assert mult_adds(cs, (96, 128)) - mult_adds(plain, (96, 128)) == 96 * 128 * 8 * 32
    assert sum(p.numel() for p in cs.parameters()) - sum(p.numel() for p in plain.parameters()) == 2 * (8 * 32 + 32)


# ----------------------------------------------------------------------------- training through the Trainer


def _trainer(model_seed, checkpoint=None, iterations=3):
    from srlib.train import Trainer

    torch.manual_seed(model_seed)
    model = build("lapsrn", **SMALL, fd_bins=32, class_module=True, class_tile=8)
    return Trainer(model, losses.build("fd", balance=fdloss.CLASSSR_BALANCE), lambda i: _batch(100 + i),
                   iterations=iterations, lr=1e-3, progress=False, device="cpu", threads=1, channels_last=True,
                   checkpoint_every=1, checkpoint_path=checkpoint, log_every=1)


def test_trainer_smoke_and_resume_keep_the_state(tmp_path):
    torch.manual_seed(0)
    init = {k: v.clone() for k, v in build("lapsrn", **SMALL, fd_bins=32, class_module=True,
                                           class_tile=8).state_dict().items()}
    straight = _trainer(0)
    final = straight.fit()
    assert final["iterations"] == 3 and math.isfinite(final["final_loss"])
    trained = straight.model.state_dict()
    for k in ("fd_heads.1.weight", "class_module.fc.weight", "class_module.body.0.weight", "levels.0.residual.weight"):
        assert not torch.equal(trained[k], init[k]), f"{k} was not trained"  # in the Trainer's optimizer
    row = straight.log[-1]
    assert {"l_r", "l_c1_2", "l_c2", "l_avg", "use_w7", "bin_acc2", "in_area2"} <= set(row)
    # stop after 2 iterations, then resume in a fresh trainer (another seed: everything comes from the checkpoint)
    ck = tmp_path / "checkpoint.pt"
    _trainer(0, ck).fit(until=2)
    resumed = _trainer(7, ck)
    resumed.fit(resume=True)
    assert resumed.iteration == 3
    got = resumed.model.state_dict()
    assert list(got) == list(trained) and all(torch.equal(got[k], trained[k]) for k in trained)
    s1, s2 = straight.optimizer.state_dict()["state"], resumed.optimizer.state_dict()["state"]
    assert s1.keys() == s2.keys() and all(torch.equal(s1[i]["exp_avg_sq"], s2[i]["exp_avg_sq"]) for i in s1)
    assert [r["loss"] for r in resumed.log] == pytest.approx([r["loss"] for r in straight.log])


# ----------------------------------------------------------------------------- the chapter's experiments


def test_table1_experiments_differ_only_by_the_fd_parts():
    from srlib import profiles
    from srlib.chapters.fdloss import experiments as ex

    keys = [k for k in profiles.keys() if k.startswith("fdloss.")]
    assert {"fdloss.table1_baseline", "fdloss.table1_cs", "fdloss.table1_fd", "fdloss.table1_fd_balance"} <= set(keys)
    assert ex.PORT_ARGS == {k: v for k, v in lapsrn.PORT_CONFIG.items() if k != "scale"}
    assert ex.CLASSSR_BALANCE == fdloss.CLASSSR_BALANCE
    fd_keys = ("fd_bins", "fd_widths", "class_module", "class_tile", "fd_confine", "fd_levels", "fd_prior")
    for profile in profiles.PROFILES:
        configs = {k: profiles.get(profile, k) for k in keys}
        base = configs["fdloss.table1_baseline"]
        assert base["scale"] == 4 and base["loss"] == {"name": "fd"}
        for k, c in configs.items():
            strip = {**c, "experiment": None, "loss": None,
                     "model": {kk: v for kk, v in c["model"]["args"].items() if kk not in fd_keys}}
            want = {**base, "experiment": None, "loss": None, "model": base["model"]["args"]}
            assert strip == want, (profile, k)
        assert configs["fdloss.table1_fd"]["model"]["args"]["fd_bins"] == 32
        assert configs["fdloss.table1_cs"]["model"]["args"]["fd_widths"] == [5]
        assert configs["fdloss.table1_fd_balance"]["loss"]["args"]["balance"] == fdloss.CLASSSR_BALANCE
        for c in configs.values():  # every model builds (the paper one only as far as checking its arguments)
            if profile != "paper":
                build(c["model"]["name"], scale=c["scale"], **c["model"]["args"])
    paper = profiles.get("paper", "fdloss.table1_fd")
    assert paper["optimizer"] == {"name": "adam", "lr": 1e-3} and paper["data"]["patch"] == 64
    assert paper["schedule"] == {"name": "step", "step_size": 200_000, "gamma": 0.5}
    assert paper["model"]["args"]["weight_norm"] is True and paper["model"]["args"]["class_tile"] == 32
    cpu = profiles.get("cpu", "fdloss.table1_fd")
    assert cpu["threads"] == 1 and cpu["channels_last"] is True and cpu["data"]["train"] == "291"
    assert "weight_norm" not in cpu["model"]["args"]
