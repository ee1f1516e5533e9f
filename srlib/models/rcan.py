"""RCAN (Zhang et al., ECCV 2018); its blocks (channel attention, RCAB, residual group) are in
:mod:`srlib.models.blocks` (the multiblock report stacks them: ``RCAN(scale=1, ...)`` or the blocks directly).
"""
from __future__ import annotations

import torch
from torch import nn

from srlib.models import MODELS, bicubic_upsample, check_colors, check_positive, check_scale
from srlib.models.blocks import ChannelAttention, MeanShift, ResidualGroup, Upsampler

@MODELS.register("rcan")
class RCAN(nn.Module):
    """Head conv, ``n_resgroups`` residual groups + conv with a long skip, sub-pixel tail.

    Paper configuration: 10 groups x 20 RCABs, 64 features, reduction 16, RGB, about 15.6 M
    parameters. ``scale=1`` builds a same-size network (no upsampler) for real LR/HR pairs.
    ``pool``/``squeeze`` choose the attention variant (see :class:`ChannelAttention`).
    ``input_skip=True`` adds the input (bicubic-upsampled when ``scale > 1``) to the output,
    the global +LR skip of the multiblock report (the tail then predicts the residual and the
    mean is not added back). ``mean_shift`` subtracts/adds the DIV2K RGB mean as RCAN does
    (``colors=3`` only).
    """

    pre_upsample = False
    paper_colors = 3

    def __init__(self, scale: int = 2, colors: int = 3, n_resgroups: int = 10, n_resblocks: int = 20,
                 n_feats: int = 64, reduction: int = 16, res_scale: float = 1.0, pool: str = "avg",
                 squeeze: str = "conv2d", input_skip: bool = False, mean_shift: bool = True):
        super().__init__()
        self.scale = check_scale("rcan", scale, (1, 2, 3, 4, 8))
        self.colors = check_colors("rcan", colors)
        check_positive("rcan", n_resgroups=n_resgroups, n_resblocks=n_resblocks, n_feats=n_feats)
        self.input_skip = bool(input_skip)
        shift = mean_shift and colors == 3
        self.sub_mean = MeanShift(sign=-1) if shift else nn.Identity()
        self.add_mean = MeanShift(sign=+1) if shift else nn.Identity()
        self.head = nn.Conv2d(colors, n_feats, 3, padding=1)
        self.body = nn.Sequential(
            *[ResidualGroup(n_feats, n_resblocks, reduction, res_scale, pool, squeeze) for _ in range(n_resgroups)],
            nn.Conv2d(n_feats, n_feats, 3, padding=1),
        )
        up = [Upsampler(self.scale, n_feats)] if self.scale > 1 else []
        self.tail = nn.Sequential(*up, nn.Conv2d(n_feats, colors, 3, padding=1))

    def attention_modules(self) -> list[ChannelAttention]:
        """Every ChannelAttention in forward order (read ``.last_attention`` after a forward)."""
        return [m for m in self.modules() if isinstance(m, ChannelAttention)]

    def forward(self, lr: torch.Tensor) -> torch.Tensor:
        x = self.head(self.sub_mean(lr))
        x = x + self.body(x)
        residual = self.tail(x)
        if self.input_skip:  # the tail predicts a mean-free residual to the (upsampled) input
            return residual + (bicubic_upsample(lr, self.scale) if self.scale > 1 else lr)
        return self.add_mean(residual)
