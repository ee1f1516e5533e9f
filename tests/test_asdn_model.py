"""ASDN / FSDN (srlib.models.asdn): sizes at any scale, IRB selection, the LFR blend, both readings, parameter
counts against the slides' table, errors."""
import math

import pytest
import torch
import torch.nn.functional as F

from srlib import lfr, papers
from srlib.complexity import asdn_params_table, count_params, count_params_used
from srlib.conventions import hr_crop_size, lr_size
from srlib.degrade import imresize_torch
from srlib.models.asdn import ASDN, DEGRADATIONS, FSDN, READINGS, SIZES, asdn, fsdn, make_lr, sr_size
from srlib.models.blocks import DeconvUpsampler, IntraDenseBlock, SpatialAttention

torch.set_num_threads(1)

LITE = dict(n_dab=2, n_intra=2, dab_feats=8, intra_feats=8, n_feats=8, reduction=4)


def lite(reading="paper", **kw):
    torch.manual_seed(0)
    return asdn(preset="base", reading=reading, **{**LITE, **kw})


def irbs_run(model, fn):
    """Indices of the IRBs whose forward ran during fn(), in order."""
    seen = []
    handles = [irb.register_forward_hook(lambda m, i, o, k=k: seen.append(k)) for k, irb in enumerate(model.irbs)]
    try:
        with torch.no_grad():
            fn()
    finally:
        for h in handles:
            h.remove()
    return seen


# ----------------------------------------------------------------------------- sizes


@pytest.mark.parametrize("scale", [1.1, 1.27, 1.5, 1.75, 1.95, 2, 2.5, 2.7, 3, 3.5, 4, 5.7])
def test_output_size_is_the_conventions_hr_crop(scale):
    model = lite()
    H, W = 40, 33
    lr = torch.rand(1, 3, lr_size(H, scale), lr_size(W, scale))
    with torch.no_grad():
        sr = model(lr, scale=scale)
    assert sr.shape == (1, 3, hr_crop_size(H, scale), hr_crop_size(W, scale))
    assert model.output_size(*lr.shape[-2:], scale) == tuple(sr.shape[-2:])
    assert torch.isfinite(sr).all()


def test_large_scales_recurse_to_the_exact_size():
    model = lite()
    lr = torch.rand(1, 3, 3, 2)
    with torch.no_grad():
        for s in (8, 11.3, 32):
            assert model(lr, scale=s).shape[-2:] == (sr_size(3, s), sr_size(2, s)) == (math.ceil(3 * s - 1e-9),
                                                                                         math.ceil(2 * s - 1e-9))
    assert sr_size(10, 1.1) == 11  # exact: 10 * 1.1 = 11.000000000000002 in floating point


def test_student_output_is_the_ceiling_levels_size():
    model = lite("student")
    lr = torch.rand(1, 3, 48, 48)
    # the student's level sizes for a 48-px input (AUTHORS_CODE 003 section 2)
    sizes = [model.level_input(lr, l).shape[-1] for l in range(11)]
    assert sizes == [48, 52, 57, 62, 67, 72, 76, 81, 86, 91, 96]
    with torch.no_grad():
        assert model(lr, scale=1.75).shape[-2:] == (86, 86)  # 1.8 x, not 1.75 x
        assert model(lr, scale=3.5).shape[-2:] == (172, 172)  # [2.0, 1.75] -> 96 -> 172 (level 1.8)
    assert model.output_size(48, 48, 1.75) == (86, 86)


def test_default_scale_and_level_inputs():
    model = lite(scale=2.5)
    lr = torch.rand(2, 3, 6, 5)
    with torch.no_grad():
        assert model(lr).shape == (2, 3, 15, 13)
        assert model.forward_level(lr, 0).shape == (2, 3, 6, 5)
        assert model.forward_level(lr, 10).shape == (2, 3, 12, 10)
        assert model.forward_level(lr, 3).shape == (2, 3, 8, 7)  # ceil(6 * 1.3), ceil(5 * 1.3)


# ----------------------------------------------------------------------------- IRB selection and the blend


@pytest.mark.parametrize("scale, expected", [
    (1.27, [3, 2]), (1.3, [3]), (1.1, [1]), (2, [10]), (1.0001, [1, 0]), (1.75, [8, 7]),
    (2.7, [10, 4, 3]), (4, [10, 10]), (3, [10, 5]), (8, [10, 10, 10]),
])
def test_irbs_selected_per_scale(scale, expected):
    model = lite()
    assert irbs_run(model, lambda: model(torch.rand(1, 3, 5, 4), scale=scale)) == expected
    passes = lfr.recursion_schedule(scale)
    assert [i for r in passes for i in sorted(lfr.active_levels(r), reverse=True)] == expected


def test_student_reading_selects_the_same_irbs():
    model = lite("student")
    assert irbs_run(model, lambda: model(torch.rand(1, 3, 5, 4), scale=1.27)) == [3, 2]
    assert irbs_run(model, lambda: model(torch.rand(1, 3, 5, 4), scale=1.3)) == [3]


def test_paper_reading_blends_two_irbs_on_one_upsampled_input():
    model = lite()
    lr = torch.rand(1, 3, 9, 7)
    with torch.no_grad():
        out = model(lr, scale=1.27)
        x = imresize_torch(lr, scale=1.27, size=(12, 9))  # ceil(9 * 1.27), ceil(7 * 1.27)
        feats = model.fmb(x)
        o3, o2 = model.irbs[3](feats) + x, model.irbs[2](feats) + x
        parts = model.lfr_parts(lr, 1.27)
    assert torch.allclose(out, o3 + 0.3 * (o2 - o3), atol=1e-6)
    assert torch.allclose(parts["output"], out, atol=1e-6) and parts["blend"].index == 3
    assert torch.allclose(parts["phase"], o2 - o3, atol=1e-6) and torch.allclose(parts["upper"], o3, atol=1e-6)


def test_on_a_level_the_output_is_that_levels_branch():
    model = lite()
    lr = torch.rand(1, 3, 7, 6)
    with torch.no_grad():
        for level in (1, 3, 10):
            assert torch.allclose(model(lr, scale=lfr.level_scale(level)), model.forward_level(lr, level), atol=1e-6)


def test_global_skip_adds_the_bicubic_input_of_each_reading():
    lr = torch.rand(1, 3, 9, 7)
    for reading, reference in [("paper", lambda: imresize_torch(lr, scale=1.3, size=(12, 10))),
                               ("student", lambda: F.interpolate(lr, scale_factor=1.3, mode="bicubic",
                                                                 align_corners=False, recompute_scale_factor=False))]:
        model = lite(reading)
        for irb in model.irbs:
            torch.nn.init.zeros_(irb.conv.weight)
            torch.nn.init.zeros_(irb.conv.bias)
        with torch.no_grad():
            assert torch.allclose(model(lr, scale=1.3), reference(), atol=1e-6), reading
    no_skip = lite(global_skip=False)
    for irb in no_skip.irbs:
        torch.nn.init.zeros_(irb.conv.weight)
        torch.nn.init.zeros_(irb.conv.bias)
    with torch.no_grad():
        assert no_skip(lr, scale=1.3).abs().max() == 0


def test_one_level_update_trains_the_fmb_and_that_irb_only():
    model = lite()
    model.forward_level(torch.rand(2, 3, 6, 6), 4).square().mean().backward()
    for name, p in model.named_parameters():
        if name.startswith("irbs."):
            assert (p.grad is not None) == name.startswith("irbs.4."), name
        else:
            assert p.grad is not None and torch.isfinite(p.grad).all(), name


def test_schedules_in_the_model():
    model = lite()
    lr = torch.rand(1, 3, 5, 4)
    with torch.no_grad():
        for schedule in ("equal", "ascending", "x3:1.732-1.732", "x3:1.500-2.000", (2.0, 1.5)):
            assert model(lr, scale=3, schedule=schedule).shape[-2:] == (15, 12), schedule
        assert irbs_run(model, lambda: model(lr, scale=3, schedule="ascending")) == [5, 10]
        with pytest.raises(ValueError, match="multiplies to 2.998"):
            model(lr, scale=4, schedule="x4:1.442-1.442-1.442")  # the slides list 1.442^3 = 3 under 4x
        with pytest.raises(ValueError):
            model(lr, scale=3, schedule=(2.5, 1.2))
    assert lite(schedule="equal").schedule == "equal"


# ----------------------------------------------------------------------------- readings and blocks


def test_readings_build_what_they_say():
    paper, student = lite(), lite("student")
    idb_p, idb_s = paper.fmb.blocks[0].idb, student.fmb.blocks[0].idb
    assert isinstance(idb_p.compress, torch.nn.Sequential) and idb_p.compress[0].kernel_size == (3, 3)
    assert isinstance(idb_s.compress, torch.nn.Conv2d) and idb_s.compress.kernel_size == (1, 1)
    assert paper.fmb.blocks[0].attention.pool == "avg" and student.fmb.blocks[0].attention.pool == "max"
    sa_p, sa_s = paper.irbs[0].attention, student.irbs[0].attention
    assert (sa_p.expand.in_channels, sa_p.reduce.out_channels) == (8, 1)  # CSFM: 1 mask on the fused features
    assert (sa_s.expand.in_channels, sa_s.expand.out_channels, sa_s.reduce.out_channels) == (3, 6, 3)
    assert paper.fmb.out_channels == 8 and student.fmb.out_channels == 8 + 2 * 8
    assert paper.pre_upsample and (paper.output, student.output) == ("exact", "ceiling")
    assert set(READINGS["paper"]) == set(READINGS["student"])


def test_ablation_switches_remove_their_modules():
    full = count_params(lite())
    no_ca, no_sa = lite(channel_attention=False), lite(spatial_attention=False)
    assert not any(type(m).__name__ == "ChannelAttention" for m in no_ca.modules())
    assert not any(isinstance(m, SpatialAttention) for m in no_sa.modules())
    assert count_params(no_ca) < full and count_params(no_sa) < full
    with torch.no_grad():
        assert no_sa(torch.rand(1, 3, 4, 4), scale=1.5).shape[-2:] == (6, 6)


def test_intra_dense_block_and_spatial_attention():
    idb = IntraDenseBlock(5, 4, n_layers=3, growth=2, compression="3x3")
    assert [layer[0].in_channels for layer in idb.layers] == [4, 6, 8] and idb.fuse.in_channels == 10
    assert idb(torch.rand(1, 5, 6, 6)).shape == (1, 4, 6, 6)
    sa = SpatialAttention(4, 1)
    x = torch.rand(2, 4, 5, 5)
    y = sa(x)
    assert sa.last_mask.shape == (2, 1, 5, 5) and torch.allclose(y, x * sa.last_mask)
    for bad in (dict(compression="5x5"), dict(n_layers=0)):
        with pytest.raises(ValueError):
            IntraDenseBlock(5, 4, **{**dict(n_layers=3, growth=2), **bad})
    with pytest.raises(ValueError):
        SpatialAttention(4, 2)


# ----------------------------------------------------------------------------- parameter counts


def test_presets_match_the_slides_architecture_table():
    arch = papers.load("asdn", "Project architecture").set_index(["method", "metric"])["value"]
    for preset, column in (("paper", "paper"), ("base", "project")):
        for key in ("n_dab", "n_intra", "dab_feats", "intra_feats"):
            assert SIZES[preset][key] == arch[(column, key)], (preset, key)


def test_parameter_counts_against_the_slides_and_our_measurement():
    table = asdn_params_table().set_index("preset")
    slides = papers.load("asdn", "Project params")
    slides = dict(zip(slides[slides["metric"] == "params"]["method"], slides[slides["metric"] == "params"]["value"]))
    # the slides count the FMB + ONE IRB of the student's code: our student reading reproduces them exactly
    for preset, method in (("paper", "paper model"), ("base", "base model"), ("complex", "complex model")):
        assert table.loc[preset, "slides"] == slides[method]
        assert table.loc[preset, "student_one_irb"] == slides[method]
    # measured once (see srlib.complexity's docstring); a change of architecture changes them
    assert table["student_full"].tolist() == [22_438_288, 839_008, 1_122_670]
    assert table["paper_one_irb"].tolist() == [26_973_572, 1_254_484, 1_632_662]
    assert table["paper_full"].tolist() == [27_060_012, 1_340_924, 1_719_102]
    assert (table["paper_vs_slides"] == table["paper_one_irb"] - table["slides"]).all()


def test_student_base_count_by_hand():
    def conv(cin, cout, k):
        return cin * cout * k * k + cout

    D = G = 32
    fmb = conv(3, 64, 3)
    for n in range(8):
        c = 64 + n * D
        fmb += conv(c, D, 1) + sum(conv(D + k * G, G, 3) for k in range(4)) + conv(D + 4 * G, D, 1)
        fmb += conv(D, D // 16, 1) + conv(D // 16, D, 1)
    irb = conv(64 + 8 * D, 3, 1) + conv(3, 6, 1) + conv(6, 3, 1)
    with torch.device("meta"):
        model = asdn(preset="base", reading="student")
        x = torch.empty(1, 3, 8, 8)
        assert count_params_used(model, lambda: model.forward_level(x, 10)) == fmb + irb == 828_928
    assert count_params(model) == fmb + 11 * irb


# ----------------------------------------------------------------------------- FSDN


@pytest.mark.parametrize("scale", [2, 3, 4, 8])
def test_fsdn_shapes_and_deconvs(scale):
    model = fsdn(scale=scale, preset="base", **LITE)
    assert isinstance(model, FSDN) and not model.pre_upsample and model.scale == scale
    kernels = [m.kernel_size[0] for m in model.upsample]
    assert kernels == {2: [6], 3: [9], 4: [6, 6], 8: [6, 6, 6]}[scale]
    with torch.no_grad():
        assert model(torch.rand(1, 3, 7, 5)).shape == (1, 3, 7 * scale, 5 * scale)


def test_fsdn_starts_from_an_asdn():
    a = lite()
    f = fsdn(scale=2, preset="base", **LITE).init_from_asdn(a)
    for (k, v), (k2, v2) in zip(a.fmb.state_dict().items(), f.fmb.state_dict().items()):
        assert k == k2 and torch.equal(v, v2)
    assert all(torch.equal(v, f.irb.state_dict()[k]) for k, v in a.irbs[10].state_dict().items())
    with pytest.raises(RuntimeError):
        fsdn(scale=2, preset="base", **{**LITE, "n_dab": 3}).init_from_asdn(a)


def test_fsdn_and_upsampler_reject_other_scales():
    for bad in (1, 2.5, 5, 16):
        with pytest.raises(ValueError):
            fsdn(scale=bad, preset="base", **LITE)
        with pytest.raises(ValueError):
            DeconvUpsampler(bad, 4, 4)


# ----------------------------------------------------------------------------- data and errors


def test_make_lr_follows_the_conventions():
    hr = torch.rand(1, 3, 40, 33)
    for s in (1.27, 2, 2.5):
        lr = make_lr(hr, s, DEGRADATIONS["paper"])
        assert lr.shape[-2:] == (lr_size(40, s), lr_size(33, s))
        crop = hr[..., :hr_crop_size(40, s), :hr_crop_size(33, s)]
        assert torch.allclose(lr, imresize_torch(crop, scale=1 / s, size=lr.shape[-2:]), atol=1e-6)
        bilinear = make_lr(hr, s, DEGRADATIONS["student"])
        assert bilinear.shape == lr.shape and not torch.allclose(bilinear, lr, atol=1e-3)
    with pytest.raises(ValueError):
        make_lr(hr, 2, "nearest")
    with pytest.raises(ValueError, match="too small"):
        make_lr(torch.rand(1, 3, 1, 1), 2)


@pytest.mark.parametrize("bad", [1, 1.0, 0.5, 0, -2, 1.00001, math.nan, math.inf, "2", True, None])
def test_bad_scales_are_value_errors(bad):
    model = lite()
    with pytest.raises(ValueError):
        model(torch.rand(1, 3, 4, 4), scale=bad) if bad is not None else ASDN(scale=bad)
    if bad is not None:
        with pytest.raises(ValueError):
            ASDN(scale=bad, **{k: v for k, v in LITE.items()})


def test_bad_options_and_inputs_are_named():
    for kw, match in [(dict(preset="huge"), "preset"), (dict(reading="mine"), "reading"), (dict(sa="both"), "sa"),
                      (dict(output="round"), "output"), (dict(interpolation="lanczos"), "interpolation"),
                      (dict(schedule="random"), "schedule"), (dict(ca_pool="min"), "pool"),
                      (dict(compression="5x5"), "compression"), (dict(n_dab=0), "n_dab"), (dict(levels=1), "L must")]:
        with pytest.raises(ValueError, match=match):
            asdn(**{**dict(preset="base"), **LITE, **kw})
    model = lite()
    with pytest.raises(ValueError, match="level"):
        model.forward_level(torch.rand(1, 3, 4, 4), 11)
    with pytest.raises(ValueError, match="expected an"):
        model(torch.rand(1, 1, 4, 4), scale=2)
    with pytest.raises(ValueError, match="above 2"):
        model.forward_upsampled(torch.rand(1, 3, 4, 4), 2.5)
