"""Shared building blocks of the model zoo (EDSR-PyTorch's ``common.py``): model files import this
module, never each other, and a chapter can stack the blocks into its own networks.

* :class:`MeanShift`, :class:`ResBlock`, :class:`Upsampler` — EDSR's.
* :class:`ChannelAttention`, :class:`RCAB`, :class:`ResidualGroup` — RCAN's (the multiblock report
  trains blocks of RCAB-like units in phases, LR and HR of the same size, Conv1d squeeze).

Dense blocks and spatial attention (ASDN, SR-UGAN) belong here too when those chapters add them.
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
