"""Model zoo: shapes, paper parameter counts (derived by hand from layer shapes), errors, gradients."""
import pytest
import torch

from srlib.degrade import imresize_torch
from srlib.models import MODELS, build, list_models, paper_colors
from srlib.models.blocks import DIV2K_RGB_MEAN, RCAB, ChannelAttention, ResidualGroup
from srlib.models.rcan import RCAN

torch.set_num_threads(1)

LITE = {  # small sizes so the tests run in seconds on CPU
    "srcnn": dict(n1=8, n2=4),
    "vdsr": dict(depth=3, n_feats=8),
    "drrn": dict(B=2, U=2, width=8),
    "lapsrn": dict(depth=2, n_feats=8),
    "edsr-baseline": dict(n_resblocks=2, n_feats=8),
    "edsr": dict(n_resblocks=2, n_feats=8),
    "edsr-paper": dict(n_resblocks=2, n_feats=8),
    "rcan": dict(n_resgroups=2, n_resblocks=2, n_feats=8, reduction=4),
}


def conv(cin, cout, k, bias=True):
    return cin * cout * k * k + (cout if bias else 0)


# same-size networks (scale 1: LR already on the HR grid, the multiblock report's RealSR pairs)
SAME_SIZE = {
    "multiblock-block": dict(n_rcab=2, n_feats=8, reduction=4),
    "multiblock": dict(n_blocks=2, n_rcab=1, n_feats=8, reduction=4),
    "multiblock-toy-block": dict(n_feats=8, n_convs=2),
    "multiblock-toy": dict(n_feats=8, n_convs=2),
}


def test_every_registered_model_is_covered():
    assert set(list_models()) == set(LITE) | set(SAME_SIZE)


@pytest.mark.parametrize("name", sorted(SAME_SIZE))
def test_same_size_models_keep_the_grid_and_train(name):
    model = build(name, scale=1, colors=3, **SAME_SIZE[name])
    x = torch.rand(2, 3, 9, 7)
    y = model(x)
    assert y.shape == x.shape and torch.isfinite(y).all()
    y.square().mean().backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())
    with pytest.raises(ValueError, match="scale"):
        build(name, scale=2, **SAME_SIZE[name])


@pytest.mark.parametrize("name", sorted(LITE))
@pytest.mark.parametrize("scale", [2, 3, 4])
@pytest.mark.parametrize("colors", [1, 3])
def test_output_shape(name, scale, colors):
    if name == "lapsrn" and scale == 3:
        pytest.skip("LapSRN supports powers of 2 only (tested below)")
    model = build(name, scale=scale, colors=colors, **LITE[name])
    assert (model.scale, model.colors) == (scale, colors)
    lr = torch.rand(2, colors, 7, 5)
    with torch.no_grad():
        sr = model(lr)
    assert sr.shape == (2, colors, 7 * scale, 5 * scale)
    assert torch.isfinite(sr).all()


def test_pre_upsample_flags():
    flags = {n: build(n, **LITE[n]).pre_upsample for n in LITE}
    assert {n for n, f in flags.items() if f} == {"srcnn", "vdsr", "drrn"}


@pytest.mark.parametrize("name", ["srcnn", "vdsr", "drrn"])
def test_pre_upsampling_is_matlab_bicubic(name):
    model = build(name, scale=3, colors=1, **LITE[name])
    last = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)][-1]
    torch.nn.init.zeros_(last.weight)
    torch.nn.init.zeros_(last.bias)
    lr = torch.rand(1, 1, 6, 8)
    with torch.no_grad():
        sr = model(lr)
    expected = imresize_torch(lr, scale=3)
    if name == "srcnn":  # no global residual: the output is the zeroed last conv
        expected = torch.zeros_like(expected)
    assert torch.allclose(sr, expected, atol=1e-6)


def test_lapsrn_rejects_scale_3_and_returns_every_level():
    with pytest.raises(ValueError, match=r"scale 3 .*\[2, 4, 8"):
        build("lapsrn", scale=3)
    model = build("lapsrn", scale=8, colors=1, **LITE["lapsrn"])
    lr = torch.rand(1, 1, 5, 6)
    with torch.no_grad():
        levels = model.forward_levels(lr)
        last = model(lr)
    assert [tuple(t.shape[-2:]) for t in levels] == [(10, 12), (20, 24), (40, 48)]
    assert torch.equal(levels[-1], last)


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="colors 2"):
        build("vdsr", colors=2)
    with pytest.raises(ValueError, match="depth=0"):
        build("vdsr", depth=0)
    with pytest.raises(ValueError, match="scale 5"):
        build("edsr-baseline", scale=5)
    with pytest.raises(ValueError, match="pool 'min'"):
        ChannelAttention(8, 2, pool="min")


def test_unknown_model_lists_known_names():
    with pytest.raises(KeyError, match="unknown model 'vdrs'.*vdsr"):
        build("vdrs")


def params(model):
    return sum(p.numel() for p in model.parameters())


def test_paper_parameter_counts():
    assert params(build("srcnn", colors=1)) == conv(1, 64, 9) + conv(64, 32, 5) + conv(32, 1, 5) == 57_281
    assert params(build("vdsr", colors=1)) == conv(1, 64, 3) + 18 * conv(64, 64, 3) + conv(64, 1, 3)
    drrn = conv(1, 128, 3) + 2 * conv(128, 128, 3) + conv(128, 1, 3)
    assert params(build("drrn", colors=1)) == drrn  # 297,216 weights + biases: U adds no weights
    assert params(build("drrn", colors=1, U=3)) == drrn
    level = 10 * conv(64, 64, 3) + conv(64, 64, 4) + conv(64, 1, 3) + conv(1, 1, 4)
    assert params(build("lapsrn", scale=4, colors=1)) == conv(1, 64, 3) + 2 * level
    edsr = conv(3, 64, 3) + 16 * 2 * conv(64, 64, 3) + conv(64, 64, 3) + conv(64, 256, 3) + conv(64, 3, 3)
    assert params(build("edsr-baseline", scale=2)) == edsr == 1_369_859


def test_rcan_parameter_count_and_paper_defaults():
    ca = conv(64, 4, 1) + conv(4, 64, 1)
    rcab = 2 * conv(64, 64, 3) + ca
    group = 20 * rcab + conv(64, 64, 3)
    up_x4 = 2 * conv(64, 256, 3)
    expected = conv(3, 64, 3) + 10 * group + conv(64, 64, 3) + up_x4 + conv(64, 3, 3)
    assert params(build("rcan", scale=4)) == expected  # ~15.6 M


def test_gradient_reaches_every_parameter():
    for name, size in LITE.items():
        model = build(name, scale=2, colors=3, **size)
        model(torch.rand(2, 3, 6, 6)).square().mean().backward()
        for pname, p in model.named_parameters():
            assert p.grad is not None and torch.isfinite(p.grad).all(), (name, pname)
        first = next(model.parameters())
        assert first.grad.abs().sum() > 0, name


def test_edsr_mean_shift_adds_div2k_mean_back():
    model = build("edsr-baseline", scale=2, **LITE["edsr-baseline"])
    for p in model.parameters():
        torch.nn.init.zeros_(p)
    with torch.no_grad():
        sr = model(torch.rand(1, 3, 4, 4))
    assert torch.allclose(sr[0, :, 0, 0], torch.tensor(DIV2K_RGB_MEAN))


def test_channel_attention_records_weights_and_squeeze_variants_agree():
    torch.manual_seed(0)  # unseeded, the random init could leave every squeeze ReLU at zero (seen: 1 run in 4)
    x = torch.rand(2, 8, 5, 5)
    a2 = ChannelAttention(8, 4, squeeze="conv2d")
    a2.down.bias.data.fill_(0.1)  # keep the squeeze ReLUs alive, so the pooled statistics reach the weights
    a1 = ChannelAttention(8, 4, squeeze="conv1d")
    a1.down.weight.data.copy_(a2.down.weight.data.view(2, 8, 1))
    a1.up.weight.data.copy_(a2.up.weight.data.view(8, 2, 1))
    a1.down.bias.data.copy_(a2.down.bias.data)
    a1.up.bias.data.copy_(a2.up.bias.data)
    assert torch.allclose(a1(x), a2(x), atol=1e-6)
    assert a2.last_attention.shape == (2, 8)
    assert ((a2.last_attention > 0) & (a2.last_attention < 1)).all()
    assert torch.allclose(a2(x), x * a2.last_attention[:, :, None, None])
    amax = ChannelAttention(8, 4, pool="max")
    amax(x)
    amax.down.weight.data.copy_(a2.down.weight.data)
    amax.down.bias.data.copy_(a2.down.bias.data)
    amax.up.load_state_dict(a2.up.state_dict())
    amax(x)
    assert not torch.allclose(amax.last_attention, a2.last_attention)  # max pooling differs from mean


def test_rcan_same_size_blocks_compose():
    model = RCAN(scale=1, n_resgroups=1, n_resblocks=3, n_feats=8, reduction=4, squeeze="conv1d", input_skip=True)
    lr = torch.rand(1, 3, 9, 9)
    torch.nn.init.zeros_(model.tail[-1].weight)
    torch.nn.init.zeros_(model.tail[-1].bias)
    with torch.no_grad():
        assert torch.allclose(model(lr), lr, atol=1e-6)  # zero residual: +LR skip returns the input
    assert len(model.attention_modules()) == 3
    assert all(a.last_attention.shape == (1, 8) for a in model.attention_modules())
    stacked = torch.nn.Sequential(RCAB(8, 4), ResidualGroup(8, 2, 4, pool="max"))
    assert stacked(torch.rand(1, 8, 6, 6)).shape == (1, 8, 6, 6)


def test_paper_colors():
    assert {n: paper_colors(n) for n in ("srcnn", "vdsr", "drrn", "lapsrn", "edsr", "rcan")} == {
        "srcnn": 1, "vdsr": 1, "drrn": 1, "lapsrn": 1, "edsr": 3, "rcan": 3}
    assert "edsr-paper" in MODELS


def test_super_resolve_one_rgb_image():
    import numpy as np

    from srlib.models import super_resolve

    torch.manual_seed(0)
    net = build("edsr-baseline", scale=2, n_resblocks=1, n_feats=8).eval()
    lr = (np.random.default_rng(0).random((6, 5, 3)) * 255).astype(np.uint8)
    sr = super_resolve(net, lr)
    assert sr.shape == (12, 10, 3) and sr.dtype == np.float64 and 0 <= sr.min() and sr.max() <= 1
    want = net(torch.from_numpy(lr.transpose(2, 0, 1).copy()).float().div(255)[None]).clamp(0, 1)[0].permute(1, 2, 0)
    np.testing.assert_allclose(sr, want.detach().numpy(), atol=1e-7)
    with pytest.raises(ValueError, match="RGB image"):
        super_resolve(net, lr[..., 0])
    y_net = build("srcnn", scale=2, colors=1)
    with pytest.raises(ValueError, match="Y"):
        super_resolve(y_net, lr)
