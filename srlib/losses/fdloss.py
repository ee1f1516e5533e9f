"""The fine-grained dynamic (FD) loss (Wang, Zhang, Lei; document 001) and its static variant, the "CS loss".

The document, on 8-bit values z with K bins (K = 32):

    t_i = 2^n i / K                       Eq. (1), thresholds, i = 0..K (n = 8: t_i = 8 i)
    A_i = (t_i + t_{i+1}) / 2             Eq. (2), anchors, i = 0..K-1; z with t_i <= z < t_{i+1} has gt anchor A_i
    L_c1 = - sum_i p_i log q_i            Eq. (3), per-pixel K-way cross-entropy against the gt bin
    L_c2 = - sum_{i<j} |P_i - P_j|        Eq. (4), the Class-Module's loss (ClassSR's), M = 3 widths 3 / 5 / 7 bins
    L_r  = mean |S - T|                   Eq. (5), L1 of the output confined to the anchor area
    L    = L_r + mean(alpha L_c1 + beta L_c2)   Eq. (6)

What is implemented (reading of ``../shared/docs/AUTHORS_CODE.md``, 001 sections 4 and 6):

    L = sum over levels l [L_r,l + alpha L_c1,l] + beta L_c2 + balance L_avg

* The parts trained with the network (the per-level 1x1 heads giving the logits, the Class-Module) and the
  confinement (it shapes the test output) are **the model's**: ``build("lapsrn", fd_bins=32, class_module=True)``
  (:class:`srlib.models.lapsrn.LapSRN`, pieces in :mod:`srlib.models.blocks`). This hook computes the losses
  from ``model.forward_fd(lr)`` and holds no parameters (who trains what: :mod:`srlib.losses`). So these open
  choices are model options: K (``fd_bins``), heads at every level or the last only (``fd_levels``), soft or hard
  confinement (``fd_confine``), the Class-Module's tile (``class_tile``), the widths (``fd_widths``), and what
  the heads see (``fd_prior``: the bin prior of the level's own output added to the logits, our choice, because
  a head on LapSRN's features alone hardly learns the absolute intensity), RGB or Y (``colors``; the document
  says RGB patches, its baseline is the Y-only port; an RGB model gets colors x K logits, bins per channel).
  The loss weights and the targets are this hook's.
* **gt bin** b(T) = floor(z / (256 / K)) of the uint8-quantized target, z = round(255 T) (:func:`gt_bins`): in
  integer arithmetic, so 8 (= t_1 for K = 32) is bin 1 and 7 is bin 0 whatever the float noise of T / 255. A
  Y-channel target (float Y of ``rgb2ycbcr``) is rounded the same way: the bins of the uint8 Y image.
* **L_r target** (``target``): ``"pixel"`` (default) = the ground-truth pixel T, our reading of "T_ij is gt
  anchor" (Eq. 5). ``"anchor"`` = the bin centre A_{b(T)}, the literal reading; it quantizes the output to bin
  centres (uniform +-4-level error for K = 32, about -0.5 dB at LapSRN's error level), kept for the ablation.
* **Per level**: every level of the model gets an L_r (LapSRN's deep supervision; the document has one L_r) on
  its output (the confined one where the level has a head) against HR downscaled to the level's size
  (MATLAB bicubic, :func:`srlib.degrade.imresize_torch`, as ``lapsrn-multilevel``); levels with a head get
  alpha L_c1. A model without heads (the Table 1 baseline) gets sum_l L_r,l only: L1 deep supervision.
* **L_c2** (:func:`class_loss`) is ClassSR's code form, (M - 1) - sum_{i<j} |P_i - P_j| per LR sub-image, averaged:
  0 for a one-hot P, M - 1 (= 2) for a uniform one. The document's form (Eq. 4) is this minus M - 1; the
  constant changes no gradient.
* **Balance** (ClassSR's "average loss", :func:`balance_loss`): absent from the document; without it the
  Class-Module is expected to collapse onto the widest area (7 bins), which constrains L_r least (ClassSR issues
  #22, #35). ``balance=0`` (default) runs the document as written; the chapter also runs ClassSR's weight.
* **Weights** (the document gives none): ``alpha = 0.01`` (alpha ln K ~ 0.035, the size of the initial L1 on
  [0, 1] data), ``beta = 5e-4`` and, when on, ``balance = 3e-3``: ClassSR's ratio L1 : class : average =
  1000 : 0.5 : 3 with L1 weight 1 (all on [0, 1] data, as ClassSR's).
* **"CS loss"** (Table 1) = the same hook on a model with the heads and one fixed width of 5 bins and no
  Class-Module (``fd_widths=[5]``, ``class_module=False``): no L_c2, no balance term.

``logs``: ``l_r`` (the sum), per level k = 1, 2, ...: ``l_r{k}`` and, where it has a head, ``l_c1_{k}``,
``bin_acc{k}`` (share of pixels whose predicted bin is the gt bin) and ``in_area{k}`` (share whose gt bin lies
in the area the test would use: the Class-Module's argmax width); with a Class-Module ``l_c2``, ``l_avg``
(logged even when its weight is 0: it measures the balance) and ``use_w{w}`` (share of sub-images whose argmax
is width w: the class usage).
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from srlib.losses import LOSSES
from srlib.losses.pixel import _unwrap, to_model_colors
from srlib.models.blocks import (  # noqa: F401  (re-exported: the bin arithmetic in one import)
    LEVELS_8BIT, anchor_area, anchors, bin_edges, bin_levels, check_bins, confine, tile_map,
)

#: weight of the classification loss L_c1 (our choice; the document gives none)
ALPHA = 0.01
#: weight of the Class-Module's loss L_c2: ClassSR's class : L1 = 0.5 : 1000
BETA = 5e-4
#: ClassSR's average (balance) loss weight relative to L1: 3 : 1000 (used by the balance variant; default off)
CLASSSR_BALANCE = 3e-3
TARGETS = ("pixel", "anchor")


def gt_bins(target: torch.Tensor, bins: int) -> torch.Tensor:
    """The gt bin of every value: floor(z / (256 / K)) with z the 8-bit level, as a long tensor (values 0..K-1).

    ``target``: uint8 levels, or floats in [0, 1] (model units), which are first quantized to the nearest level
    z = round(255 T), clamped to 0..255. Integer arithmetic from there: bin edges t_i = 256 i / K fall exactly.
    """
    per = bin_levels(bins)
    if target.dtype == torch.uint8:
        z = target.long()
    elif target.is_floating_point():
        z = torch.round(target.detach().double().clamp(0.0, 1.0) * 255.0).long()
    else:
        raise ValueError(f"gt_bins: target must be uint8 levels or floats in [0, 1], got dtype {target.dtype}")
    return z // per


def anchor_ce(logits: torch.Tensor, gt: torch.Tensor) -> torch.Tensor:
    """L_c1 (Eq. 3) averaged over pixels (and channels): cross-entropy of (N, C, H, W, K) logits (K last, as
    ``LapSRN.forward_fd`` gives them) against the (N, C, H, W) gt bins (one-hot p, q = softmax of the logits)."""
    if logits.dim() != 5 or gt.shape != logits.shape[:-1]:
        raise ValueError(f"anchor_ce: logits (N, C, H, W, K) and gt bins (N, C, H, W) expected, got "
                         f"{tuple(logits.shape)} and {tuple(gt.shape)}")
    x = logits.float()
    if not x.is_contiguous():
        x = x.contiguous()  # a softmax along a strided dimension is several times slower on the CPU
    # one row per pixel: the fused 2-D cross-entropy is about 3x faster on the CPU than log_softmax + gather
    return F.cross_entropy(x.reshape(-1, x.shape[-1]), gt.reshape(-1))


def _per_tile(probs: torch.Tensor) -> torch.Tensor:
    """(N, M, th, tw) or (N, M) class probabilities -> (n, M), one row per sub-image."""
    if probs.dim() not in (2, 4):
        raise ValueError(f"class probabilities must be (N, M) or (N, M, th, tw), got {tuple(probs.shape)}")
    return probs if probs.dim() == 2 else probs.movedim(1, -1).reshape(-1, probs.shape[1])


def class_loss(probs: torch.Tensor) -> torch.Tensor:
    """L_c2, ClassSR's code form: mean over sub-images of (M - 1) - sum_{i<j} |P_i - P_j|.

    In [0, M - 1]: 0 when every sub-image's P is one-hot, M - 1 when uniform. The document's Eq. (4) omits the
    constant M - 1 (the same gradient).
    """
    p = _per_tile(probs).float()
    m = p.shape[1]
    i, j = torch.triu_indices(m, m, offset=1, device=p.device)
    return ((m - 1) - (p[:, i] - p[:, j]).abs().sum(dim=1)).mean()


def balance_loss(probs: torch.Tensor) -> torch.Tensor:
    """ClassSR's average loss over the n sub-images of a batch: sum_c |sum_i P_ic - n/M| / (4 n / M).

    0 when the classes are used equally (in probability mass), (M - 1) / 2 (= 1 for M = 3) when every sub-image
    puts all its mass on one class. The constant 4 is ClassSR's (written for M = 3).
    """
    p = _per_tile(probs).float()
    n, m = p.shape
    share = n / m
    return (p.sum(dim=0) - share).abs().sum() / (share * 4)


def _check_weight(name: str, value) -> float:
    v = float(value)
    if not (math.isfinite(v) and v >= 0):
        raise ValueError(f"FD loss {name} must be a finite number >= 0, got {value!r}")
    return v


def _level_target(hr: torch.Tensor, size: tuple) -> torch.Tensor:
    if tuple(hr.shape[-2:]) == tuple(size):
        return hr
    from srlib.degrade import imresize_torch

    return imresize_torch(hr, size=size)


def _levels_of(model, lr: torch.Tensor) -> dict:
    """``forward_fd`` of the model, or its plain levels (any SR model: L1 deep supervision only)."""
    inner = _unwrap(model)
    if hasattr(inner, "forward_fd"):
        return inner.forward_fd(lr)
    outs = inner.forward_levels(lr) if hasattr(inner, "forward_levels") else [model(lr)]
    return {"levels": [{"raw": o, "out": o, "logits": None, "bins": None} for o in outs],
            "class_logits": None, "class_probs": None}


@LOSSES.register("fd")
class FDLoss(nn.Module):
    """FD / CS loss hook: ``loss, logs = hook(model, batch, iteration)``; see the module docstring.

    ``alpha``: weight of L_c1 (per level with a head). ``beta``: weight of L_c2 (models with a Class-Module).
    ``balance``: weight of ClassSR's average loss (0 = off, the document; :data:`CLASSSR_BALANCE` = ClassSR's).
    ``target``: what L_r compares the output with, ``"pixel"`` (the GT, default) or ``"anchor"`` (its bin centre).
    The hook is stateless; everything trained is in the model.
    """

    def __init__(self, alpha: float = ALPHA, beta: float = BETA, balance: float = 0.0, target: str = "pixel"):
        super().__init__()
        self.alpha = _check_weight("alpha", alpha)
        self.beta = _check_weight("beta", beta)
        self.balance = _check_weight("balance", balance)
        if target not in TARGETS:
            raise ValueError(f"FD loss target must be one of {list(TARGETS)}, got {target!r}")
        self.target = target

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}, beta={self.beta}, balance={self.balance}, target={self.target!r}"

    def forward(self, model, batch: dict, iteration: int):
        inner = _unwrap(model)
        lr = to_model_colors(batch["lr"], model)
        hr = to_model_colors(batch["hr"], model).float()
        fd = _levels_of(model, lr)
        levels = fd["levels"]
        if tuple(levels[-1]["out"].shape) != tuple(hr.shape):
            raise ValueError(f"model output {tuple(levels[-1]['out'].shape)} does not match HR {tuple(hr.shape)}; "
                             "check the model's scale against the data's scale")
        bins = int(getattr(inner, "fd_bins", 0) or 0)
        probs = fd["class_probs"]
        choice_half = None
        if probs is not None:
            half = torch.tensor(inner.fd_half, device=probs.device)
            choice_half = half[probs.detach().argmax(dim=1, keepdim=True)]  # (N, 1, th, tw): m of the argmax
        total = hr.new_zeros(())
        l_r_sum = hr.new_zeros(())
        logs = {}
        for k, entry in enumerate(levels, start=1):
            out = entry["out"].float()
            target = _level_target(hr, out.shape[-2:])
            gt = gt_bins(target, bins) if bins and (entry["logits"] is not None or self.target == "anchor") else None
            if self.target == "anchor" and gt is not None:
                target = anchors(bins, dtype=target.dtype).to(target.device)[gt]
            l_r = F.l1_loss(out, target)
            total = total + l_r
            l_r_sum = l_r_sum + l_r.detach()
            logs[f"l_r{k}"] = l_r.detach()
            if entry["logits"] is None:
                continue
            l_c1 = anchor_ce(entry["logits"], gt)
            total = total + self.alpha * l_c1
            logs[f"l_c1_{k}"] = l_c1.detach()
            with torch.no_grad():
                logs[f"bin_acc{k}"] = (entry["bins"] == gt).float().mean()
                if choice_half is None:
                    m = inner.fd_half[0]
                else:
                    m = tile_map(choice_half, inner.class_module.tile * out.shape[-1] // lr.shape[-1],
                                 *out.shape[-2:])
                logs[f"in_area{k}"] = ((entry["bins"] - gt).abs() <= m).float().mean()
        logs["l_r"] = l_r_sum
        if probs is not None:
            l_c2 = class_loss(probs)
            l_avg = balance_loss(probs)
            total = total + self.beta * l_c2
            if self.balance:
                total = total + self.balance * l_avg
            logs["l_c2"] = l_c2.detach()
            logs["l_avg"] = l_avg.detach()
            counts = torch.bincount(probs.detach().argmax(dim=1).flatten(), minlength=probs.shape[1]).float()
            for c, w in enumerate(inner.fd_widths):
                logs[f"use_w{w}"] = counts[c] / counts.sum()
        return total, logs
