"""DRRN (Tai, Yang, Liu, CVPR 2017): recursive residual blocks with shared weights."""
from __future__ import annotations

import torch
from torch import nn

from srlib.models import MODELS, bicubic_upsample, check_colors, check_positive, check_scale


class RecursiveBlock(nn.Module):
    """One recursive block: an entry conv, then ``U`` residual units that share one conv pair.

    Pre-activation units: H_u = conv2(relu(conv1(relu(H_{u-1})))) + H_0 (local residual to the
    block's entry). Batch normalisation of the paper's Caffe model is left out.
    """

    def __init__(self, in_channels: int, width: int, n_units: int, first: bool):
        super().__init__()
        self.first = first  # the first block's entry conv sees the image: no ReLU before it
        self.entry = nn.Conv2d(in_channels, width, 3, padding=1)
        self.conv1 = nn.Conv2d(width, width, 3, padding=1)
        self.conv2 = nn.Conv2d(width, width, 3, padding=1)
        self.n_units = n_units

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h0 = self.entry(x if self.first else torch.relu(x))
        h = h0
        for _ in range(self.n_units):
            h = self.conv2(torch.relu(self.conv1(torch.relu(h)))) + h0
        return h


@MODELS.register("drrn")
class DRRN(nn.Module):
    """``B`` recursive blocks of ``U`` weight-sharing residual units, global residual to bicubic.

    Paper configuration B1U25, 128 filters, Y channel (``colors=1``): 297,216 weights (depth
    52). ``B`` adds blocks (each with its own weights), ``U`` adds recursions (no new weights,
    more depth), ``width`` is the filter count.
    """

    pre_upsample = True
    paper_colors = 1

    def __init__(self, scale: int = 2, colors: int = 3, B: int = 1, U: int = 25, width: int = 128):
        super().__init__()
        self.scale = check_scale("drrn", scale, range(1, 9))
        self.colors = check_colors("drrn", colors)
        check_positive("drrn", B=B, U=U, width=width)
        self.blocks = nn.ModuleList(
            RecursiveBlock(colors if b == 0 else width, width, U, first=(b == 0)) for b in range(B)
        )
        self.tail = nn.Conv2d(width, colors, 3, padding=1)

    def forward_upsampled(self, x: torch.Tensor) -> torch.Tensor:
        """The network on an already upsampled image (HR size)."""
        h = x
        for block in self.blocks:
            h = block(h)
        return x + self.tail(torch.relu(h))

    def forward(self, lr: torch.Tensor) -> torch.Tensor:
        return self.forward_upsampled(bicubic_upsample(lr, self.scale) if self.scale != 1 else lr)
