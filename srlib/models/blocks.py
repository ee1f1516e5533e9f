"""Shared building blocks of the model zoo (EDSR-PyTorch's ``common.py``): model files import this
module, never each other, and a chapter can stack the blocks into its own networks.

* :class:`MeanShift`, :class:`ResBlock`, :class:`Upsampler` — EDSR's.
* :class:`ChannelAttention`, :class:`RCAB`, :class:`ResidualGroup` — RCAN's (the multiblock report
  trains blocks of RCAB-like units in phases, LR and HR of the same size, Conv1d squeeze).
* :func:`check_bins`, :func:`bin_edges`, :func:`anchors`, :func:`anchor_area`, :func:`confine`,
  :func:`tile_map`, :class:`ClassModule`, :class:`BinHead` — the FD loss's bins, anchor areas, ClassSR's classifier
  and the per-pixel bin head
  (document 001; the heads are in :mod:`srlib.models.lapsrn`, the losses in ``srlib.losses.fdloss``).

* :class:`IntraDenseBlock`, :class:`DenseAttentionBlock`, :class:`SpatialAttention`,
  :class:`DeconvUpsampler` — DBDN's intra dense block and transposed-conv upsampler, with RCAN's channel
  attention and CSFM's spatial attention as ASDN/FSDN stack them (:mod:`srlib.models.asdn`).
"""
from __future__ import annotations

import math

import torch
from torch import nn

from srlib.models import check_positive

DIV2K_RGB_MEAN = (0.4488, 0.4371, 0.4040)  # EDSR-PyTorch's DIV2K mean, for data in [0, 1]


class MeanShift(nn.Module):
    """Adds ``sign * mean`` per channel (EDSR-PyTorch's MeanShift with std 1), a fixed buffer."""

    def __init__(self, mean=DIV2K_RGB_MEAN, sign: int = -1):
        super().__init__()
        self.register_buffer("shift", sign * torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.shift


class ResBlock(nn.Module):
    """conv-ReLU-conv, scaled by ``res_scale``, plus the input (no batch norm)."""

    def __init__(self, n_feats: int, res_scale: float = 1.0, kernel: int = 3):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(n_feats, n_feats, kernel, padding=kernel // 2), nn.ReLU(inplace=True),
            nn.Conv2d(n_feats, n_feats, kernel, padding=kernel // 2),
        )
        self.res_scale = res_scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x) * self.res_scale


class Upsampler(nn.Sequential):
    """Sub-pixel upsampling: log2(scale) x (conv to 4C + PixelShuffle(2)), or conv to 9C + PixelShuffle(3)."""

    def __init__(self, scale: int, n_feats: int):
        layers = []
        if scale & (scale - 1) == 0:
            for _ in range(int(math.log2(scale))):
                layers += [nn.Conv2d(n_feats, 4 * n_feats, 3, padding=1), nn.PixelShuffle(2)]
        elif scale == 3:
            layers += [nn.Conv2d(n_feats, 9 * n_feats, 3, padding=1), nn.PixelShuffle(3)]
        else:
            raise ValueError(f"Upsampler: scale {scale} is not supported; use 2, 3, 4 or 8")
        super().__init__(*layers)


POOLS = ("avg", "max")
SQUEEZES = ("conv2d", "conv1d")


class ChannelAttention(nn.Module):
    """Squeeze-and-excitation: global pooling -> C/r -> ReLU -> C -> sigmoid, rescales channels.

    ``pool``: ``"avg"`` (RCAN) or ``"max"`` (the ASDN re-implementation). ``squeeze``:
    ``"conv2d"`` (1x1 Conv2d on (N, C, 1, 1), RCAN) or ``"conv1d"`` (kernel-1 Conv1d on (N, C, 1),
    the multiblock report's code); both compute the same function, with different modules.
    After every forward the weights are kept in ``last_attention`` (N, C), detached.
    ``detach_weights=True`` stops gradients through the pooled path (used to measure the local
    receptive field of the convolutions).
    """

    def __init__(self, channels: int, reduction: int = 16, pool: str = "avg", squeeze: str = "conv2d"):
        super().__init__()
        check_positive("ChannelAttention", channels=channels, reduction=reduction)
        if pool not in POOLS:
            raise ValueError(f"ChannelAttention: pool {pool!r} is not supported; use one of {list(POOLS)}")
        if squeeze not in SQUEEZES:
            raise ValueError(f"ChannelAttention: squeeze {squeeze!r} is not supported; use one of {list(SQUEEZES)}")
        hidden = max(1, channels // reduction)
        conv = nn.Conv2d if squeeze == "conv2d" else nn.Conv1d
        self.pool, self.squeeze = pool, squeeze
        self.down = conv(channels, hidden, 1)
        self.up = conv(hidden, channels, 1)
        self.last_attention: torch.Tensor | None = None
        self.detach_weights = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x.mean(dim=(2, 3)) if self.pool == "avg" else x.amax(dim=(2, 3))  # (N, C)
        y = y[..., None, None] if self.squeeze == "conv2d" else y[..., None]
        w = torch.sigmoid(self.up(torch.relu(self.down(y)))).reshape(x.shape[0], x.shape[1])
        if self.detach_weights:
            w = w.detach()
        self.last_attention = w.detach()
        return x * w[:, :, None, None]


class RCAB(nn.Module):
    """Residual channel attention block: conv-ReLU-conv-CA, scaled by ``res_scale``, plus input."""

    def __init__(self, n_feats: int = 64, reduction: int = 16, res_scale: float = 1.0, kernel: int = 3,
                 pool: str = "avg", squeeze: str = "conv2d"):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(n_feats, n_feats, kernel, padding=kernel // 2), nn.ReLU(inplace=True),
            nn.Conv2d(n_feats, n_feats, kernel, padding=kernel // 2),
        )
        self.attention = ChannelAttention(n_feats, reduction, pool=pool, squeeze=squeeze)
        self.res_scale = res_scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.attention(self.body(x)) * self.res_scale


class ResidualGroup(nn.Module):
    """``n_resblocks`` RCABs and a conv, with a short skip around the group."""

    def __init__(self, n_feats: int = 64, n_resblocks: int = 20, reduction: int = 16, res_scale: float = 1.0,
                 pool: str = "avg", squeeze: str = "conv2d"):
        super().__init__()
        check_positive("ResidualGroup", n_resblocks=n_resblocks)
        self.body = nn.Sequential(
            *[RCAB(n_feats, reduction, res_scale, pool=pool, squeeze=squeeze) for _ in range(n_resblocks)],
            nn.Conv2d(n_feats, n_feats, 3, padding=1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


# ----------------------------------------------------------------------------- fine-grained dynamic (FD) loss
# Document 001 (Wang, Zhang, Lei): per-pixel classification of the 8-bit value into K bins (Eqs. 1-3) and a
# regression confined to an "anchor area" of bins around the predicted one, whose width a Class-Module picks
# per LR sub-image (Eqs. 4-6). These pieces change what the network outputs at test time (the area confines
# the output), so they are model parts; the losses are in ``srlib.losses.fdloss``. Values are in the model's
# units, [0, 1] = 8-bit level / 255; a bin edge t_i = 256 i / K is the 8-bit level, t_i / 255 here.

LEVELS_8BIT = 256  #: 2^n of Eq. (1) with n = 8
FD_CONFINES = ("soft", "hard")  #: how the output is confined to the anchor area (see :func:`confine`)


def check_bins(bins, name: str = "fd_bins") -> int:
    """K as an int, or a ValueError naming the value and the remedy.

    K must be a power of two from 2 to 256: then t_i = 256 i / K (Eq. 1) falls on whole 8-bit levels and every
    bin holds 256 / K of them, so the gt bin of a level z is the integer ``z // (256 // K)`` (no float edges).
    """
    remedy = "use 32 (the document's K), or another power of two from 2 to 256 (8, 16, 64, ...)"
    if isinstance(bins, bool) or not isinstance(bins, int):
        raise ValueError(f"{name}={bins!r}: the number of bins K must be an integer; {remedy}")
    if bins < 2:
        raise ValueError(f"{name}={bins}: K must be at least 2 (one bin classifies nothing; 0 or less is no "
                         f"partition of the 8-bit range); {remedy}")
    if bins > LEVELS_8BIT:
        raise ValueError(f"{name}={bins}: K must be at most 256, the number of 8-bit levels (a bin narrower than "
                         f"one level is empty); {remedy}")
    if bins & (bins - 1):
        raise ValueError(f"{name}={bins}: K must be a power of two so that the edges t_i = 256 i / K (Eq. 1) are "
                         f"whole 8-bit levels (256 / {bins} = {LEVELS_8BIT / bins:g} is not); {remedy}")
    return bins


def bin_levels(bins: int) -> int:
    """8-bit levels per bin, 256 / K (8 for K = 32)."""
    return LEVELS_8BIT // check_bins(bins)


def bin_edges(bins: int, dtype=torch.float32) -> torch.Tensor:
    """The K + 1 thresholds t_i = 256 i / K of Eq. (1), in model units (t_i / 255; t_K = 256/255 > 1)."""
    return torch.arange(check_bins(bins) + 1, dtype=torch.float64).mul(bin_levels(bins) / 255.0).to(dtype)


def anchors(bins: int, dtype=torch.float32) -> torch.Tensor:
    """The K anchors A_i = (t_i + t_{i+1}) / 2 of Eq. (2), in model units."""
    t = bin_edges(bins, torch.float64)
    return ((t[:-1] + t[1:]) / 2).to(dtype)


def check_widths(widths, name: str = "fd_widths") -> tuple:
    """Anchor-area widths in bins as a tuple of odd positive ints (3, 5, 7 in the document)."""
    if isinstance(widths, (int, bool)) or not isinstance(widths, (list, tuple)) or not widths:
        raise ValueError(f"{name}={widths!r} must be a non-empty list of odd widths in bins, e.g. [3, 5, 7]")
    for w in widths:
        if isinstance(w, bool) or not isinstance(w, int) or w < 1 or w % 2 == 0:
            raise ValueError(f"{name}={list(widths)}: width {w!r} must be an odd positive integer (the area is the "
                             "predicted bin and the same number of bins on each side)")
    if len(set(widths)) != len(widths):
        raise ValueError(f"{name}={list(widths)}: widths must differ from each other")
    return tuple(int(w) for w in widths)


def anchor_area(bins_hat: torch.Tensor, half_width, bins: int, dtype=torch.float32):
    """(lo, hi) of the anchor area around predicted bins ``bins_hat`` (long tensor, values 0..K-1).

    The area is bins ``k - m .. k + m`` (``half_width`` m bins on each side, width 2m + 1), limited to the valid
    bins 0..K-1 at the borders of the 8-bit range: lo = t_{max(k-m, 0)}, hi = t_{min(k+m, K-1) + 1}, in model
    units. ``half_width`` is an int or a long tensor broadcastable to ``bins_hat`` (one per pixel).
    """
    per = bin_levels(bins) / 255.0
    lo_bin = (bins_hat - half_width).clamp(0, bins - 1)
    hi_bin = (bins_hat + half_width).clamp(0, bins - 1) + 1
    return lo_bin.to(dtype) * per, hi_bin.to(dtype) * per


def confine(y: torch.Tensor, bins_hat: torch.Tensor, half_width, bins: int, mode: str = "soft") -> torch.Tensor:
    """The output ``y`` confined to the anchor area around ``bins_hat`` (see :func:`anchor_area`).

    ``"hard"``: ``clamp(y, lo, hi)``, the literal reading; its gradient is zero wherever ``y`` leaves the area.
    ``"soft"``: ``c + h tanh((y - c) / h)`` with c, h the area's centre and half-length (c = A_k, h = (m + 1/2)
    bin widths away from the borders of the range): slope 1 at the centre, saturating towards the edges, the
    gradient never zero (the reading of ``../shared/docs/AUTHORS_CODE.md``, 001 section 6). Both results lie
    in [lo, hi] exactly (the soft one is clamped as well, which changes it by float rounding only). Computed in
    float32 at least (a half-precision ``y`` is promoted).
    """
    if mode not in FD_CONFINES:
        raise ValueError(f"confine mode {mode!r} is not one of {list(FD_CONFINES)}")
    if y.dtype in (torch.float16, torch.bfloat16):
        y = y.float()  # bin edges in half precision would be off by up to a level near 1
    lo, hi = anchor_area(bins_hat, half_width, bins, dtype=y.dtype)
    if mode == "soft":
        c, h = (lo + hi) / 2, (hi - lo) / 2
        y = c + h * torch.tanh((y - c) / h)
    return torch.clamp(y, min=lo, max=hi)


def tile_map(per_tile: torch.Tensor, pixels: int, height: int, width: int) -> torch.Tensor:
    """(N, C, th, tw) values per tile -> (N, C, height, width): each tile covers ``pixels`` x ``pixels`` pixels
    (tile size x level factor), cropped to the image (the last row and column of tiles may be partial)."""
    out = per_tile.repeat_interleave(pixels, dim=2).repeat_interleave(pixels, dim=3)
    return out[:, :, :height, :width]


class ClassModule(nn.Module):
    """The Class-Module: ClassSR's classifier (XPixelGroup/ClassSR ``Classifier``, the "five convolutions, pooling
    and fully-connected layers" of document 001), one class per ``tile`` x ``tile`` LR sub-image.

    ``Conv2d(colors, 128, 4, stride 4)`` - LReLU(0.1) - 3 x [``Conv2d(128, 128, 1)`` - LReLU(0.1)] -
    ``Conv2d(128, 32, 1)`` - average pooling over the tile - ``Linear(32, classes)``: logits (N, classes, th, tw)
    with th = ceil(h / tile), tw = ceil(w / tile). The image is padded (replicate) to whole tiles, so a partial
    last tile is classified from its pixels and their edge copies, as ClassSR classifies padded crops. Run on the
    whole image at once, which equals running the classifier on each tile (the stride-4 convolution and the
    pooling never cross a tile border): ``tile`` must be a multiple of 4. ClassSR uses 32 (its ``patch_size``).
    Init as ClassSR's: convolutions kaiming-normal (fan in) x 0.1 with zero bias, the Linear PyTorch's default.
    55,939 parameters for colors = 1, 60,035 for colors = 3 (ClassSR's count), classes = 3.
    """

    def __init__(self, colors: int = 1, classes: int = 3, tile: int = 32, width: int = 128, out: int = 32):
        super().__init__()
        check_positive("ClassModule", colors=colors, classes=classes, tile=tile, width=width, out=out)
        if tile % 4:
            raise ValueError(f"ClassModule: tile={tile} must be a multiple of 4 (the first convolution has stride 4, "
                             "so a tile must hold whole 4x4 cells); use 32 (ClassSR's) or 16, 12, 8, ...")
        self.tile, self.classes = int(tile), int(classes)
        layers = [nn.Conv2d(colors, width, 4, stride=4), nn.LeakyReLU(0.1, inplace=True)]
        for _ in range(3):
            layers += [nn.Conv2d(width, width, 1), nn.LeakyReLU(0.1, inplace=True)]
        layers += [nn.Conv2d(width, out, 1)]
        self.body = nn.Sequential(*layers)
        self.fc = nn.Linear(out, classes)
        for m in self.body.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, a=0, mode="fan_in")
                m.weight.data.mul_(0.1)
                nn.init.zeros_(m.bias)

    def grid(self, height: int, width: int) -> tuple[int, int]:
        """(th, tw): tiles per column and row of an LR image of that size."""
        return -(-height // self.tile), -(-width // self.tile)

    def forward(self, lr: torch.Tensor) -> torch.Tensor:
        th, tw = self.grid(*lr.shape[-2:])
        pad_h, pad_w = th * self.tile - lr.shape[-2], tw * self.tile - lr.shape[-1]
        if pad_h or pad_w:
            lr = nn.functional.pad(lr, (0, pad_w, 0, pad_h), mode="replicate")
        x = nn.functional.avg_pool2d(self.body(lr), self.tile // 4)
        return self.fc(x.movedim(1, -1)).movedim(-1, 1)


class BinHead(nn.Linear):
    """The FD classification head: per-pixel K-way logits from features, plus a bin prior from an image.

    ``head(feats, image)``: ``feats`` (N, F, H, W), ``image`` (N, C, H, W) in model units -> logits (N, C, H, W, K),
    K innermost. The 1x1 projection of the features is an ``nn.Linear`` over the channels (the same function,
    parameters and default init as a 1x1 convolution; a module call, so forward hooks count it), plus ``prior`` x
    the bin prior of the detached image, -((y - A_i) / bin width)^2, whose argmax is the bin of y (its nearest
    anchor). That prior is computed up to a per-pixel constant (-u^2, u = y in bin widths), which no softmax, cross-
    entropy or argmax sees: ``c_i (2u - c_i)`` with c_i = i + 1/2, folded into the bias and one multiply-add, so
    it costs one pass over the logits. ``prior = 0``: the features alone.
    """

    def __init__(self, n_feats: int, colors: int, bins: int, prior: float = 1.0):
        self.colors, self.bins, self.prior = int(colors), check_bins(bins, "BinHead: bins"), float(prior)
        super().__init__(n_feats, self.colors * self.bins)
        self.register_buffer("centres", torch.arange(self.bins, dtype=torch.float32) + 0.5, persistent=False)

    def forward(self, feats: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
        n, _, h, w = feats.shape
        x = feats.movedim(1, -1)  # (N, H, W, F): a view for channels_last features
        if not self.prior:
            out = nn.functional.linear(x, self.weight, self.bias)
            return out.reshape(n, h, w, self.colors, self.bins).movedim(3, 1)
        c = self.centres
        bias = self.bias - (self.prior * c * c).repeat(self.colors)
        out = nn.functional.linear(x, self.weight, bias).reshape(n, h, w, self.colors, self.bins)
        u = image.detach().float().movedim(1, -1).unsqueeze(-1) * (255.0 / bin_levels(self.bins))  # (N, H, W, C, 1)
        return out.float().addcmul_(u, 2 * self.prior * c).movedim(3, 1)


COMPRESSIONS = ("3x3", "1x1")


class IntraDenseBlock(nn.Module):
    """DBDN's intra dense block (IDB): compress the input, densely connected convs, fuse, local skip.

    ``compression="3x3"``: conv 3x3 + ReLU, in -> ``out_channels`` (DBDN's ``addDenseBlocks``);
    ``"1x1"``: a 1x1 conv without activation (the ASDN student re-implementation). Then ``n_layers``
    layers conv 3x3 -> ``growth`` + ReLU, each seeing the compressed input and every earlier layer
    (concatenated); a 1x1 conv fuses ``out_channels + n_layers * growth`` channels back to
    ``out_channels``, and the compressed input is added (DBDN's block skip).
    """

    def __init__(self, in_channels: int, out_channels: int = 64, n_layers: int = 8, growth: int = 64,
                 compression: str = "3x3"):
        super().__init__()
        check_positive("IntraDenseBlock", in_channels=in_channels, out_channels=out_channels, n_layers=n_layers,
                       growth=growth)
        if compression not in COMPRESSIONS:
            raise ValueError(f"IntraDenseBlock: compression {compression!r} is not supported; "
                             f"use one of {list(COMPRESSIONS)}")
        self.compression = compression
        if compression == "3x3":
            self.compress = nn.Sequential(nn.Conv2d(in_channels, out_channels, 3, padding=1), nn.ReLU(inplace=True))
        else:
            self.compress = nn.Conv2d(in_channels, out_channels, 1)
        self.layers = nn.ModuleList(
            nn.Sequential(nn.Conv2d(out_channels + k * growth, growth, 3, padding=1), nn.ReLU(inplace=True))
            for k in range(n_layers)
        )
        self.fuse = nn.Conv2d(out_channels + n_layers * growth, out_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c = self.compress(x)
        y = c
        for layer in self.layers:
            y = torch.cat([y, layer(y)], dim=1)
        return c + self.fuse(y)


class DenseAttentionBlock(nn.Module):
    """ASDN's dense attention block (DAB): an :class:`IntraDenseBlock`, then channel attention on its output.

    ``attention=False`` drops the channel attention (the CA ablation). ``pool``: ``"avg"`` (RCAN's CA, as
    the document cites it) or ``"max"`` (the student re-implementation).
    """

    def __init__(self, in_channels: int, out_channels: int = 64, n_layers: int = 8, growth: int = 64,
                 compression: str = "3x3", reduction: int = 16, pool: str = "avg", attention: bool = True):
        super().__init__()
        self.idb = IntraDenseBlock(in_channels, out_channels, n_layers, growth, compression)
        self.attention = ChannelAttention(out_channels, reduction, pool=pool) if attention else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.attention(self.idb(x))


class SpatialAttention(nn.Module):
    """Spatial attention: 1x1 conv C -> ``expansion`` C, ReLU, 1x1 conv -> ``mask_channels``, sigmoid; x * mask.

    ``mask_channels=1``: CSFM's one mask shared by every channel; ``mask_channels=channels``: one mask per
    channel (the ASDN student's 3-channel mask on the reconstructed image). The last mask is kept in
    ``last_mask`` (N, mask_channels, H, W), detached.
    """

    def __init__(self, channels: int, mask_channels: int = 1, expansion: int = 2):
        super().__init__()
        check_positive("SpatialAttention", channels=channels, mask_channels=mask_channels, expansion=expansion)
        if mask_channels not in (1, channels):
            raise ValueError(f"SpatialAttention: mask_channels={mask_channels} must be 1 or channels={channels}")
        self.expand = nn.Conv2d(channels, expansion * channels, 1)
        self.reduce = nn.Conv2d(expansion * channels, mask_channels, 1)
        self.last_mask: torch.Tensor | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mask = torch.sigmoid(self.reduce(torch.relu(self.expand(x))))
        self.last_mask = mask.detach()
        return x * mask


class DeconvUpsampler(nn.Sequential):
    """DBDN's transposed-conv upsampler without activation (``upsample_wo_act``): x2 = 6x6 stride 2 pad 2,
    x3 = 9x9 stride 3 pad 3, x4 = two x2, x8 = three x2. The first layer maps ``in_channels`` to
    ``n_feats``; the output is exactly ``scale`` times the input size."""

    def __init__(self, scale: int, in_channels: int, n_feats: int):
        check_positive("DeconvUpsampler", in_channels=in_channels, n_feats=n_feats)
        steps = {2: [2], 3: [3], 4: [2, 2], 8: [2, 2, 2]}.get(scale)
        if isinstance(scale, bool) or steps is None:
            raise ValueError(f"DeconvUpsampler: scale {scale!r} is not supported; use 2, 3, 4 or 8")
        layers, c = [], in_channels
        for s in steps:
            layers.append(nn.ConvTranspose2d(c, n_feats, 3 * s, stride=s, padding=s))
            c = n_feats
        super().__init__(*layers)
