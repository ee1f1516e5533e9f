"""EDSR (Lim et al., CVPRW 2017), compact EDSR-PyTorch style; data range [0, 1]."""
from __future__ import annotations

import torch
from torch import nn

from srlib.models import MODELS, check_colors, check_positive, check_scale
from srlib.models.blocks import MeanShift, ResBlock, Upsampler


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
