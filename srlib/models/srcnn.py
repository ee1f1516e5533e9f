"""SRCNN (Dong et al., ECCV 2014 / TPAMI 2016), the 9-5-5 variant."""
from __future__ import annotations

import torch
from torch import nn

from srlib.models import MODELS, bicubic_upsample, check_colors, check_positive, check_scale


@MODELS.register("srcnn")
class SRCNN(nn.Module):
    """Three convolutions on the bicubic-upsampled image: patch extraction, mapping, reconstruction.

    Paper configuration: Y channel (``colors=1``), kernels 9-5-5, 64 and 32 filters: 57,184
    weights + 97 biases. ``n1``/``n2`` change the filter counts, ``f1``/``f2``/``f3`` the kernel
    sizes. Zero "same" padding keeps the size (the paper trained without padding).
    """

    pre_upsample = True
    paper_colors = 1

    def __init__(self, scale: int = 2, colors: int = 3, n1: int = 64, n2: int = 32, f1: int = 9, f2: int = 5, f3: int = 5):
        super().__init__()
        self.scale = check_scale("srcnn", scale, range(1, 9))
        self.colors = check_colors("srcnn", colors)
        check_positive("srcnn", n1=n1, n2=n2, f1=f1, f2=f2, f3=f3)
        for k, f in (("f1", f1), ("f2", f2), ("f3", f3)):
            if f % 2 == 0:
                raise ValueError(f"srcnn: {k}={f} must be odd so that the output keeps the input size")
        self.body = nn.Sequential(
            nn.Conv2d(colors, n1, f1, padding=f1 // 2), nn.ReLU(inplace=True),
            nn.Conv2d(n1, n2, f2, padding=f2 // 2), nn.ReLU(inplace=True),
            nn.Conv2d(n2, colors, f3, padding=f3 // 2),
        )

    def forward_upsampled(self, x: torch.Tensor) -> torch.Tensor:
        """The network on an already upsampled image (HR size)."""
        return self.body(x)

    def forward(self, lr: torch.Tensor) -> torch.Tensor:
        return self.forward_upsampled(bicubic_upsample(lr, self.scale) if self.scale != 1 else lr)
