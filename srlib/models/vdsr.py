"""VDSR (Kim, Lee, Lee, CVPR 2016): 20 conv layers with a global residual."""
from __future__ import annotations

import torch
from torch import nn

from srlib.models import MODELS, bicubic_upsample, check_colors, check_positive, check_scale


@MODELS.register("vdsr")
class VDSR(nn.Module):
    """``depth`` 3x3 convolutions (ReLU between), predicting the residual to the bicubic image.

    Paper configuration: Y channel (``colors=1``), depth 20, 64 filters: 664,704 weights
    (+ 1,217 biases). ``depth`` counts all conv layers (>= 2), ``n_feats`` is their width.
    """

    pre_upsample = True
    paper_colors = 1

    def __init__(self, scale: int = 2, colors: int = 3, depth: int = 20, n_feats: int = 64):
        super().__init__()
        self.scale = check_scale("vdsr", scale, range(1, 9))
        self.colors = check_colors("vdsr", colors)
        check_positive("vdsr", depth=depth, n_feats=n_feats)
        if depth < 2:
            raise ValueError(f"vdsr: depth={depth} must be at least 2 (input and output convolutions)")
        layers = [nn.Conv2d(colors, n_feats, 3, padding=1), nn.ReLU(inplace=True)]
        for _ in range(depth - 2):
            layers += [nn.Conv2d(n_feats, n_feats, 3, padding=1), nn.ReLU(inplace=True)]
        layers.append(nn.Conv2d(n_feats, colors, 3, padding=1))
        self.body = nn.Sequential(*layers)
        for m in self.modules():  # He initialisation, as in the paper
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                nn.init.zeros_(m.bias)

    def forward_upsampled(self, x: torch.Tensor) -> torch.Tensor:
        """The network on an already upsampled image (HR size)."""
        return x + self.body(x)

    def forward(self, lr: torch.Tensor) -> torch.Tensor:
        return self.forward_upsampled(bicubic_upsample(lr, self.scale) if self.scale != 1 else lr)
