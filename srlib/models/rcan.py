"""RCAN (Zhang et al., ECCV 2018) and its blocks: channel attention, RCAB, residual group.

The blocks are importable on their own so that a chapter can stack them into other
networks (the multiblock report trains blocks of 16 RCAB-like units in phases, LR and HR of
the same size, Conv1d squeeze with reduction 4: ``RCAN(scale=1, ...)`` or the blocks directly).
"""
from __future__ import annotations

import torch
from torch import nn

from srlib.models import MODELS, bicubic_upsample, check_colors, check_positive, check_scale
from srlib.models.edsr import MeanShift, Upsampler

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
