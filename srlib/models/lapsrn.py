"""LapSRN (Lai, Huang, Ahuja, Yang, CVPR 2017): progressive x2 Laplacian pyramid network."""
from __future__ import annotations

import math

import torch
from torch import nn

from srlib.models import MODELS, check_colors, check_positive, check_scale


def bilinear_kernel(channels: int, size: int = 4) -> torch.Tensor:
    """(channels, channels, size, size) transposed-conv weight doing bilinear x2 per channel."""
    factor = (size + 1) // 2
    center = factor - 1 if size % 2 == 1 else factor - 0.5
    r = torch.arange(size, dtype=torch.float64)
    k1 = 1 - (r - center).abs() / factor
    w = torch.zeros(channels, channels, size, size, dtype=torch.float64)
    for c in range(channels):
        w[c, c] = k1[:, None] * k1[None, :]
    return w.float()


class PyramidLevel(nn.Module):
    """One x2 level: ``depth`` convs + transposed conv (features), residual conv, image upsampling."""

    def __init__(self, colors: int, n_feats: int, depth: int):
        super().__init__()
        layers = []
        for _ in range(depth):
            layers += [nn.Conv2d(n_feats, n_feats, 3, padding=1), nn.LeakyReLU(0.2, inplace=True)]
        layers += [nn.ConvTranspose2d(n_feats, n_feats, 4, stride=2, padding=1), nn.LeakyReLU(0.2, inplace=True)]
        self.features = nn.Sequential(*layers)
        self.residual = nn.Conv2d(n_feats, colors, 3, padding=1)
        self.upsample_image = nn.ConvTranspose2d(colors, colors, 4, stride=2, padding=1)

    def forward(self, feats: torch.Tensor, image: torch.Tensor):
        feats = self.features(feats)
        return feats, self.upsample_image(image) + self.residual(feats)


@MODELS.register("lapsrn")
class LapSRN(nn.Module):
    """Feature-extraction branch (``depth`` convs per level at the level's input resolution,
    then a 4x4 stride-2 transposed conv) and image-reconstruction branch (4x4 transposed conv,
    bilinear init, plus the predicted residual), one level per factor 2.

    Paper configuration: depth 10 per level, 64 filters, LeakyReLU 0.2, Y channel
    (``colors=1``), trained with the Charbonnier loss on every level (see ``srlib.losses``).
    ``scale`` must be a power of 2; ``depth`` and ``n_feats`` set the size of every level.
    """

    pre_upsample = False
    paper_colors = 1

    def __init__(self, scale: int = 2, colors: int = 3, depth: int = 10, n_feats: int = 64):
        super().__init__()
        self.scale = check_scale("lapsrn", scale, (2, 4, 8, 16))
        self.colors = check_colors("lapsrn", colors)
        check_positive("lapsrn", depth=depth, n_feats=n_feats)
        self.n_levels = int(round(math.log2(self.scale)))
        self.head = nn.Sequential(nn.Conv2d(colors, n_feats, 3, padding=1), nn.LeakyReLU(0.2, inplace=True))
        self.levels = nn.ModuleList(PyramidLevel(colors, n_feats, depth) for _ in range(self.n_levels))
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, a=0.2, nonlinearity="leaky_relu")
                nn.init.zeros_(m.bias)
        for level in self.levels:
            level.upsample_image.weight.data.copy_(bilinear_kernel(colors))
            nn.init.zeros_(level.upsample_image.bias)

    def forward_levels(self, lr: torch.Tensor) -> list[torch.Tensor]:
        """SR images of every level: ``[x2, x4, ...]`` (the last one has ``self.scale``)."""
        feats, image, outputs = self.head(lr), lr, []
        for level in self.levels:
            feats, image = level(feats, image)
            outputs.append(image)
        return outputs

    def forward(self, lr: torch.Tensor) -> torch.Tensor:
        return self.forward_levels(lr)[-1]
