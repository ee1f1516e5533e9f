"""Pixel losses: L1, L2 (MSE), Charbonnier and LapSRN's multi-level Charbonnier.

Every loss here is a :class:`PixelLoss` hook: ``loss, logs = hook(model, batch, iteration)``.
:func:`to_model_colors` is the one place where an RGB batch becomes Y for Y-channel models
(``model.colors == 1``); other hooks (PSPL, FD loss) call it too.
"""
from __future__ import annotations

import functools

import torch
import torch.nn as nn
import torch.nn.functional as F

from srlib.losses import LOSSES

CHARBONNIER_EPS = 1e-3  # LapSRN's epsilon


def _unwrap(model):
    """The module behind a ``torch.compile`` wrapper (attribute lookups go to it)."""
    return getattr(model, "_orig_mod", model)


def to_model_colors(x: torch.Tensor, model) -> torch.Tensor:
    """Convert an (N, 3, H, W) RGB batch in [0, 1] to what ``model`` takes.

    Y-channel models (``model.colors == 1``) get Y/255 in [0, 1] (BT.601, MATLAB rgb2ycbcr);
    RGB models and tensors that already have one channel are returned unchanged.
    """
    colors = getattr(_unwrap(model), "colors", 3)
    if colors not in (1, 3):
        raise ValueError(f"model.colors must be 1 (Y) or 3 (RGB), got {colors!r}")
    if colors == 1 and x.shape[1] == 3:
        from srlib.degrade import rgb_to_y_torch

        return rgb_to_y_torch(x)
    if x.shape[1] != colors:
        raise ValueError(
            f"batch has {x.shape[1]} channels but the model takes {colors}; "
            "give RGB batches (N, 3, H, W) in [0, 1]"
        )
    return x


def charbonnier(x: torch.Tensor, y: torch.Tensor, eps: float = CHARBONNIER_EPS) -> torch.Tensor:
    """Mean of sqrt((x - y)^2 + eps^2) (the robust L1 of LapSRN)."""
    return torch.sqrt((x - y) ** 2 + eps * eps).mean()


class PixelLoss(nn.Module):
    """Run the model on ``batch["lr"]`` and compare with ``batch["hr"]`` pixel by pixel.

    ``criterion(sr, hr) -> scalar`` is the per-batch distance (L1, MSE, Charbonnier, ...).
    """

    def __init__(self, name: str, criterion):
        super().__init__()
        self.name = name
        self.criterion = criterion

    def forward(self, model, batch: dict, iteration: int):
        lr = to_model_colors(batch["lr"], model)
        hr = to_model_colors(batch["hr"], model)
        sr = model(lr)
        if sr.shape != hr.shape:
            raise ValueError(
                f"model output {tuple(sr.shape)} does not match HR {tuple(hr.shape)}; "
                "check the model's scale against the data's scale"
            )
        loss = self.criterion(sr.float(), hr.float())
        return loss, {self.name: loss.detach()}


@LOSSES.register("l1")
def l1_loss() -> PixelLoss:
    """Mean absolute error (EDSR's loss)."""
    return PixelLoss("l1", F.l1_loss)


@LOSSES.register("l2")
def l2_loss() -> PixelLoss:
    """Mean squared error (SRCNN's, VDSR's loss); also registered as ``mse``."""
    return PixelLoss("l2", F.mse_loss)


LOSSES.register("mse")(l2_loss)


@LOSSES.register("charbonnier")
def charbonnier_loss(eps: float = CHARBONNIER_EPS) -> PixelLoss:
    """Charbonnier (robust L1) with LapSRN's ``eps``."""
    if not eps > 0:
        raise ValueError(f"charbonnier eps must be > 0, got {eps!r}")
    hook = PixelLoss("charbonnier", functools.partial(charbonnier, eps=float(eps)))
    hook.eps = float(eps)
    return hook


@LOSSES.register("lapsrn-multilevel")
class LapSRNMultiLevelLoss(nn.Module):
    """Charbonnier on every level of ``model.forward_levels(lr)`` (x2, x4, ...), summed.

    Each level's target is HR downscaled to that level's size with MATLAB bicubic
    (:func:`srlib.degrade.imresize_torch`); the last level is compared with HR itself.
    """

    def __init__(self, eps: float = CHARBONNIER_EPS):
        super().__init__()
        self.eps = float(eps)

    def forward(self, model, batch: dict, iteration: int):
        inner = _unwrap(model)
        if not hasattr(inner, "forward_levels"):
            raise TypeError(
                f"loss 'lapsrn-multilevel' needs a model with forward_levels(lr); "
                f"{type(inner).__name__} has none (use 'charbonnier' instead)"
            )
        lr = to_model_colors(batch["lr"], model)
        hr = to_model_colors(batch["hr"], model).float()
        levels = inner.forward_levels(lr)
        total = 0.0
        logs = {}
        for k, out in enumerate(levels):
            size = tuple(out.shape[-2:])
            if size == tuple(hr.shape[-2:]):
                target = hr
            else:
                from srlib.degrade import imresize_torch

                target = imresize_torch(hr, size=size)
            level_loss = charbonnier(out.float(), target, self.eps)
            logs[f"level{k + 1}"] = level_loss.detach()
            total = total + level_loss
        return total, logs
