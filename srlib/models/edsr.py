"""EDSR (Lim et al., CVPRW 2017), compact EDSR-PyTorch style; data range [0, 1]."""
from __future__ import annotations

import math

import torch
from torch import nn

from srlib.models import MODELS, check_colors, check_positive, check_scale

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


class EDSR(nn.Module):
    """Head conv, ``n_resblocks`` residual blocks + conv with a long skip, sub-pixel tail.

    Presets: ``edsr-baseline`` (16 blocks x 64, no residual scaling, 1.37 M params at x2) and
    ``edsr`` / ``edsr-paper`` (32 blocks x 256, residual scaling 0.1, 40.7 M at x2), RGB.
    For ``colors=3`` the DIV2K RGB mean is subtracted at the input and added back at the end
    (identity for ``colors=1``). ``scale`` is 2, 3, 4 or 8.
    """

    pre_upsample = False
    paper_colors = 3

    def __init__(self, scale: int = 2, colors: int = 3, n_resblocks: int = 16, n_feats: int = 64, res_scale: float = 1.0):
        super().__init__()
        self.scale = check_scale("edsr", scale, (2, 3, 4, 8))
        self.colors = check_colors("edsr", colors)
        check_positive("edsr", n_resblocks=n_resblocks, n_feats=n_feats)
        self.res_scale = float(res_scale)
        self.sub_mean = MeanShift(sign=-1) if colors == 3 else nn.Identity()
        self.add_mean = MeanShift(sign=+1) if colors == 3 else nn.Identity()
        self.head = nn.Conv2d(colors, n_feats, 3, padding=1)
        self.body = nn.Sequential(
            *[ResBlock(n_feats, res_scale) for _ in range(n_resblocks)], nn.Conv2d(n_feats, n_feats, 3, padding=1)
        )
        self.tail = nn.Sequential(Upsampler(self.scale, n_feats), nn.Conv2d(n_feats, colors, 3, padding=1))

    def forward(self, lr: torch.Tensor) -> torch.Tensor:
        x = self.head(self.sub_mean(lr))
        x = x + self.body(x)
        return self.add_mean(self.tail(x))


def _preset(name: str, n_resblocks: int, n_feats: int, res_scale: float):
    def make(scale: int = 2, colors: int = 3, **size):
        cfg = dict(n_resblocks=n_resblocks, n_feats=n_feats, res_scale=res_scale)
        cfg.update(size)
        return EDSR(scale=scale, colors=colors, **cfg)

    make.__name__ = name
    make.__doc__ = f"EDSR preset {name!r}: {n_resblocks} blocks x {n_feats} features, res_scale {res_scale}; arguments override."
    make.paper_colors = 3
    MODELS.register(name)(make)
    return make


edsr_baseline = _preset("edsr-baseline", 16, 64, 1.0)
edsr = _preset("edsr", 32, 256, 0.1)
edsr_paper = _preset("edsr-paper", 32, 256, 0.1)
