"""Complexity: parameter counts, Mult-Adds against hand formulas, measured receptive fields."""
import pytest
import torch
from torch import nn

from srlib.complexity import complexity_table, count_params, mult_adds, mult_adds_by_layer, receptive_field
from srlib.models import build
from srlib.models.rcan import RCAN

torch.set_num_threads(1)


class Wrapped(nn.Module):
    """A bare layer stack with the attributes srlib models carry."""

    def __init__(self, body, scale=1, colors=3):
        super().__init__()
        self.body, self.scale, self.colors, self.pre_upsample = body, scale, colors, False

    def forward(self, x):
        return self.body(x)


def test_count_params_counts_shared_weights_once():
    assert count_params(nn.Conv2d(3, 5, 3)) == 3 * 5 * 9 + 5
    shared = nn.Conv2d(4, 4, 3)
    assert count_params(nn.Sequential(shared, nn.ReLU(), shared)) == 4 * 4 * 9 + 4


def test_mult_adds_of_one_conv_is_the_hand_formula():
    model = Wrapped(nn.Conv2d(3, 8, 5, padding=2))
    assert mult_adds(model, (720, 1280)) == 720 * 1280 * 8 * 3 * 5 * 5
    grouped = Wrapped(nn.Conv2d(4, 8, 3, padding=1, groups=2), colors=4)
    assert mult_adds(grouped, (10, 20)) == 10 * 20 * 8 * 2 * 9


def test_mult_adds_at_lr_resolution_and_transposed_conventions():
    # conv at LR, then a stride-2 transposed conv: LR = 360x640 for a 720x1280 output
    body = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ConvTranspose2d(4, 2, 4, stride=2, padding=1))
    model = Wrapped(body, scale=2, colors=1)
    lr_pixels = 360 * 640
    conv = lr_pixels * 4 * 1 * 9
    assert mult_adds(model) == conv + lr_pixels * 4 * 2 * 16
    assert mult_adds(model, convtranspose="output") == conv + 4 * lr_pixels * 4 * 2 * 16
    # x3 on 720x1280: the LR area is fractional (240 x 426.67); the count uses it exactly
    x3 = Wrapped(nn.Sequential(nn.Conv2d(1, 9, 3, padding=1), nn.PixelShuffle(3)), scale=3, colors=1)
    assert mult_adds(x3) == round(720 * 1280 / 9 * 9 * 9)


def test_attention_on_pooled_vectors_does_not_scale_with_the_image():
    model = RCAN(scale=1, n_resgroups=1, n_resblocks=1, n_feats=8, reduction=4, squeeze="conv1d")
    layers = mult_adds_by_layer(model, (100, 50))
    down = [v for k, v in layers.items() if k.endswith("attention.down")]
    up = [v for k, v in layers.items() if k.endswith("attention.up")]
    assert down == pytest.approx([8 * 2]) and up == pytest.approx([2 * 8])
    assert layers["head"] == pytest.approx(100 * 50 * 8 * 3 * 9)


class ChannelLinear(nn.Module):
    """A Linear applied to every pixel's channel vector."""

    def __init__(self, cin, cout):
        super().__init__()
        self.linear = nn.Linear(cin, cout)

    def forward(self, x):
        return self.linear(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


def test_linear_is_counted():
    assert mult_adds(Wrapped(ChannelLinear(3, 7)), (4, 6)) == 4 * 6 * 3 * 7


def test_paper_srcnn_and_vdsr_mult_adds():
    pixels = 720 * 1280
    srcnn_weights = 9 * 9 * 64 + 5 * 5 * 64 * 32 + 5 * 5 * 32
    vdsr_weights = 9 * 64 + 18 * 9 * 64 * 64 + 9 * 64
    for scale in (2, 3, 4):  # pre-upsampling models: the output size alone sets the cost
        assert mult_adds(build("srcnn", scale=scale, colors=1)) == srcnn_weights * pixels  # 52.7 G
        assert mult_adds(build("vdsr", scale=scale, colors=1)) == vdsr_weights * pixels  # 612.6 G


def test_bad_out_hw_is_named():
    with pytest.raises(ValueError, match=r"out_hw \(720,\)"):
        mult_adds(Wrapped(nn.Conv2d(3, 3, 1)), (720,))
    with pytest.raises(ValueError, match="convtranspose 'both'"):
        mult_adds(Wrapped(nn.Conv2d(3, 3, 1)), convtranspose="both")


@pytest.mark.parametrize("k", [1, 3, 6])
def test_receptive_field_of_k_3x3_convs(k):
    layers = []
    for _ in range(k):
        layers += [nn.Conv2d(2, 2, 3, padding=1), nn.LeakyReLU(0.1)]
    rf = receptive_field(Wrapped(nn.Sequential(*layers), colors=2))
    assert (rf["lr"], rf["hr"], rf["truncated"]) == (2 * k + 1, 2 * k + 1, False)


def test_receptive_field_of_pre_upsampling_and_post_upsampling_models():
    torch.manual_seed(0)  # tiny random nets: independent of the tests that ran before
    rf = receptive_field(build("srcnn", scale=3, colors=1, n1=4, n2=4))
    assert rf["hr"] == 9 + 5 + 5 - 2  # on the upsampled image, the SRCNN paper's convention
    assert 17 / 3 <= rf["lr"] <= 17 / 3 + 4  # plus the 4-tap bicubic support in LR pixels
    rf = receptive_field(build("edsr-baseline", scale=2, n_resblocks=2, n_feats=4))
    # head + 2 x 2 block convs + body conv + upsampler conv at LR: 7 convs -> 15 LR pixels;
    # the tail conv at HR adds one LR pixel on each side at most
    assert rf["lr"] in (15, 16, 17) and rf["hr"] == 2 * rf["lr"]


def test_receptive_field_through_global_attention_is_the_whole_input():
    model = RCAN(scale=1, n_resgroups=1, n_resblocks=1, n_feats=4, reduction=2)
    for a in model.attention_modules():  # a 2-unit squeeze can start with both ReLUs dead: no path through pooling
        a.down.bias.data.fill_(0.5)
    local = receptive_field(model)
    assert local["lr"] == 2 * 6 + 1 and local["global_pooling"]  # head, 2 RCAB, group, body, tail convs
    full = receptive_field(model, max_size=32, through_attention=True)
    assert full["truncated"] and full["lr"] == 32
    assert all(not a.detach_weights for a in model.attention_modules())  # restored afterwards


def test_complexity_table_against_the_paper():
    table = complexity_table(["srcnn", "vdsr", "lapsrn"], scale=3, receptive=False).set_index("model")
    assert list(table["colors"]) == [1, 1, 1]
    assert table.loc["srcnn", "params"] == 57_281
    assert table.loc["srcnn", "mult_adds_ratio"] == pytest.approx(1, abs=1e-3)  # 52.7 G printed
    assert table.loc["vdsr", "mult_adds_ratio"] == pytest.approx(1, abs=1e-3)  # 612.6 G printed
    assert "scale 3" in table.loc["lapsrn", "note"]


def test_cli_prints_the_table(capsys):
    from srlib.__main__ import main

    assert main(["complexity", "--models", "srcnn", "vdsr", "--scale", "2", "--no-rf"]) == 0
    out = capsys.readouterr().out
    assert "57281" in out and "665921" in out and "1280x720" in out
