"""ASDN and FSDN (Shen, Wang, Zhang, arXiv 2010.02414; document 003, the slides), data range [0, 1].

**ASDN** (arbitrary-scale deep network) is a pre-upsampling network: the LR image is bicubic-upsampled
to the output size, a feature-mapping branch (FMB) runs on it, and one image-reconstruction branch
(IRB) per level of the Laplacian frequency representation (:mod:`srlib.lfr`, 11 levels over (1, 2])
turns the features into an image. A scale r in (1, 2] uses the IRBs of its two neighbouring levels,
``O_r = O_{r_i} + w_r (O_{r_{i-1}} - O_{r_i})``; a scale above 2 runs the network recursively
(``lfr.recursion_schedule``: 2, 2, ..., R / 2^(N-1)).

FMB: a 3x3 conv (``n_feats``) extracts features; ``n_dab`` dense attention blocks (DAB = DBDN's intra
dense block, IDB, of ``n_intra`` convs of ``intra_feats`` channels, compressed to ``dab_feats``, then
channel attention, CA) are bi-densely connected: block n sees the extracted features and the outputs
of all earlier blocks, concatenated. Each IRB: spatial attention (SA) and a 1x1 conv to 3 channels; a
global skip adds the upsampled input image, so the network learns the high frequencies only.

Two readings, chosen with ``reading=`` (and every option can also be set on its own):

===================  ==========================================  ============================================
option               ``reading="paper"`` (default)               ``reading="student"``
===================  ==========================================  ============================================
``compression``      ``"3x3"``: IDB input compression conv 3x3   ``"1x1"``: 1x1 conv, no ReLU
                     + ReLU (DBDN's code, JannaShen/DBDN)
``ca_pool``          ``"avg"``: RCAN's CA, as the slides cite it ``"max"``: AdaptiveMaxPool2d
``sa``               ``"features"``: CSFM's SA, a 1-channel      ``"image"``: a 3-channel mask (1x1 3->6->3)
                     mask on the features (1x1 C -> 2C -> 1),    on the IRB's 1x1-conv output image
                     then the IRB's 1x1 conv to 3
``global_fusion``    ``True``: DBDN's 1x1 global fusion of the   ``False``: each IRB's 1x1 conv reads the
                     concatenated blocks to ``n_feats``, a 3x3   whole concatenation (n_feats +
                     conv and a skip from the extracted          n_dab * dab_feats channels)
                     features (DBDN's body; the SA then sees
                     ``n_feats`` channels, its "1x1 expand-
                     reduce" in the slides)
``output``           ``"exact"``: the size of srlib.conventions  ``"ceiling"``: the ceiling level's size,
                     (ceil(h r), the MATLAB imresize size); both ``floor(h r_i)`` as torch's interpolate
                     levels run on one input at that size        gives it; level i-1 runs on its own input
                                                                 (``floor(h r_{i-1})``, the raw LR at level
                                                                 0) and is resized to level i's size
``interpolation``    ``"matlab"``: MATLAB bicubic                ``"torch-bicubic"``: ``F.interpolate``
                     (``srlib.degrade.imresize_torch``)          bicubic, align_corners=False
LR degradation       bicubic (:func:`make_lr`, ``"bicubic"``)    bilinear (:func:`make_lr`, ``"bilinear"``)
===================  ==========================================  ============================================

Where the document is silent the student's choice is kept in both readings: one 3x3 extraction conv,
CA after the IDB's local skip, reduction 16, PyTorch's default initialisation, no mean shift (the
student normalises the data with a DIV2K mean and std outside the network). The "one augmentation always
applied" of the student's data pipeline is the chapter's, not the model's.

Parameters (measured by :func:`srlib.complexity.asdn_params_table`, ``python -m srlib complexity``): the
slides' 22,405,168 / 828,928 / 1,111,270 (paper / base / complex) are the FMB plus ONE IRB of the student's
code, and ``reading="student"`` gives exactly these (22,438,288 / 839,008 / 1,122,670 with all 11 IRBs).
``reading="paper"`` has 26,973,572 / 1,254,484 / 1,632,662 with one IRB (+20.4% / +51.3% / +46.9%, mostly
the 3x3 IDB compression) and 27,060,012 / 1,340,924 / 1,719,102 with 11. The document prints no count of
the paper's own network.

Not registered in ``srlib.models.MODELS`` yet: ``tests/test_models.py`` pins the registry to its list of
small configurations; import :func:`asdn` / :func:`fsdn` from this module.

Sizes (``preset=``; the document's numbers are in ``srlib/papers/asdn.csv``, table "Project architecture"):
``"paper"`` 16 DABs, 8 convs per IDB, 64 features (dab_feats = intra_feats = n_feats = 64);
``"base"`` (the slides' project) 8, 4, 32 (n_feats 64, which the student kept); ``"complex"`` (the
student's commented config) 6, 5, dab_feats 50, intra_feats 32.

Ablations (the slides' CA / SA / SC table): ``channel_attention``, ``spatial_attention``, ``global_skip``.

**FSDN** (fixed-scale deep network, :class:`FSDN`): the same FMB on the LR image (not upsampled), a
transposed-conv upsampler (DBDN's: x2 6x6/2, x3 9x9/3, x4 and x8 repeated x2) before a single IRB, and
the global skip from the bicubic-upsampled LR; for scales 2, 3, 4, 8, fine-tuned from an ASDN
(:meth:`FSDN.init_from_asdn`).
"""
from __future__ import annotations

import math
import numbers
from fractions import Fraction

import torch
import torch.nn.functional as F
from torch import nn

from srlib import lfr
from srlib.conventions import as_scale, hr_crop_size, lr_size
from srlib.models import check_colors, check_positive, check_scale
from srlib.models.blocks import DeconvUpsampler, DenseAttentionBlock, SpatialAttention

__all__ = ["ASDN", "FSDN", "asdn", "fsdn", "SIZES", "READINGS", "DEGRADATIONS", "make_lr", "sr_size"]

SIZES = {
    "paper": dict(n_dab=16, n_intra=8, dab_feats=64, intra_feats=64, n_feats=64),
    "base": dict(n_dab=8, n_intra=4, dab_feats=32, intra_feats=32, n_feats=64),
    "complex": dict(n_dab=6, n_intra=5, dab_feats=50, intra_feats=32, n_feats=64),
}
READINGS = {
    "paper": dict(compression="3x3", ca_pool="avg", sa="features", global_fusion=True, output="exact",
                  interpolation="matlab"),
    "student": dict(compression="1x1", ca_pool="max", sa="image", global_fusion=False, output="ceiling",
                    interpolation="torch-bicubic"),
}
DEGRADATIONS = {"paper": "bicubic", "student": "bilinear"}  # make_lr's kind for each reading's training LR
SA_KINDS = ("features", "image")
OUTPUTS = ("exact", "ceiling")
INTERPOLATIONS = ("matlab", "torch-bicubic")


def _choice(what: str, value, allowed) -> str:
    if value not in allowed:
        raise ValueError(f"asdn: {what} {value!r} is not supported; use one of {list(allowed)}")
    return value


def _any_scale(scale, who: str = "asdn"):
    s = as_scale(scale, who)
    if s <= 1:
        raise ValueError(f"{who}: scale must be above 1 (ASDN upscales), got {scale!r}")
    return s


def _exact(r) -> Fraction:
    return Fraction(r) if isinstance(r, int) else Fraction(repr(float(r)))


def sr_size(n: int, scale) -> int:
    """Output size for an LR size ``n`` at ``scale``: ``ceil(n * scale)``, exact (the size MATLAB
    ``imresize(LR, s)`` returns and :func:`srlib.conventions.hr_crop_size` keeps)."""
    if isinstance(n, bool) or int(n) != n or n < 1:
        raise ValueError(f"sr_size: an LR size must be a positive integer, got {n!r}")
    return math.ceil(int(n) * _exact(scale))


def _floor_size(n: int, r: float) -> int:
    """torch's ``F.interpolate(scale_factor=r, recompute_scale_factor=False)`` size: floor(n * r) in float."""
    return max(1, math.floor(float(n) * float(r)))


def make_lr(hr: torch.Tensor, scale, kind: str = "bicubic") -> torch.Tensor:
    """LR of an HR batch (N, C, H, W) at ``scale``, size ``srlib.conventions.lr_size`` from the HR crop
    ``hr_crop_size`` (top-left). ``"bicubic"``: MATLAB imresize (the paper); ``"bilinear"``: the student's
    torchvision ``Resize(BILINEAR)`` on tensors (antialiased, as torchvision >= 0.17 does it)."""
    from srlib.degrade import imresize_torch

    if kind not in ("bicubic", "bilinear"):
        raise ValueError(f"make_lr: kind {kind!r} is not supported; use 'bicubic' or 'bilinear'")
    s = as_scale(scale, "make_lr")
    H, W = hr.shape[-2:]
    h, w = lr_size(H, s), lr_size(W, s)
    if min(h, w) < 1:
        raise ValueError(f"make_lr: an HR image of {H}x{W} is too small for scale {s}")
    crop = hr[..., : hr_crop_size(H, s), : hr_crop_size(W, s)]
    if kind == "bicubic":
        return imresize_torch(crop, scale=1 / s, size=(h, w))
    return F.interpolate(crop, size=(h, w), mode="bilinear", align_corners=False, antialias=True)


class FeatureMapping(nn.Module):
    """The FMB: extraction conv, ``n_dab`` bi-densely connected DABs, and (``global_fusion``) DBDN's fusion."""

    def __init__(self, colors: int, n_dab: int, n_intra: int, dab_feats: int, intra_feats: int, n_feats: int,
                 reduction: int, compression: str, ca_pool: str, channel_attention: bool, global_fusion: bool):
        super().__init__()
        self.head = nn.Conv2d(colors, n_feats, 3, padding=1)
        self.blocks = nn.ModuleList(
            DenseAttentionBlock(n_feats + k * dab_feats, dab_feats, n_intra, intra_feats, compression, reduction,
                                pool=ca_pool, attention=channel_attention)
            for k in range(n_dab)
        )
        width = n_feats + n_dab * dab_feats
        self.fusion = nn.Sequential(nn.Conv2d(width, n_feats, 1), nn.Conv2d(n_feats, n_feats, 3, padding=1)) \
            if global_fusion else None
        self.out_channels = n_feats if global_fusion else width

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        head = self.head(x)
        y = head
        for block in self.blocks:  # bi-dense: every block sees all earlier outputs
            y = torch.cat([y, block(y)], dim=1)
        return y if self.fusion is None else head + self.fusion(y)


class ReconstructionBranch(nn.Module):
    """An IRB: spatial attention and a 1x1 conv to ``colors`` (order set by ``sa``, see the module docstring)."""

    def __init__(self, in_channels: int, colors: int, sa: str, spatial_attention: bool):
        super().__init__()
        self.sa_kind = sa
        self.conv = nn.Conv2d(in_channels, colors, 1)
        if not spatial_attention:
            self.attention = None
        elif sa == "features":
            self.attention = SpatialAttention(in_channels, 1)
        else:
            self.attention = SpatialAttention(colors, colors)

    def forward(self, feats: torch.Tensor) -> torch.Tensor:
        if self.attention is None:
            return self.conv(feats)
        if self.sa_kind == "features":
            return self.conv(self.attention(feats))
        return self.attention(self.conv(feats))


class ASDN(nn.Module):
    """Arbitrary-scale ASDN; ``sr = model(lr)`` at ``model.scale`` or ``model(lr, scale=2.7)`` (see the module
    docstring for the readings, sizes and options). Any scale > 1 with at most 4 decimals; above 2 the
    network recurses with ``schedule`` (``lfr.SCHEDULES`` or a name of ``lfr.SLIDE_SCHEDULES``)."""

    pre_upsample = True
    paper_colors = 3

    def __init__(self, scale=2, colors: int = 3, n_dab: int = 16, n_intra: int = 8, dab_feats: int = 64,
                 intra_feats: int = 64, n_feats: int = 64, reduction: int = 16, levels: int = lfr.LEVELS,
                 compression: str = "3x3", ca_pool: str = "avg", sa: str = "features", global_fusion: bool = True,
                 output: str = "exact", interpolation: str = "matlab", channel_attention: bool = True,
                 spatial_attention: bool = True, global_skip: bool = True, schedule: str = "greedy"):
        super().__init__()
        self.scale = _any_scale(scale)
        self.colors = check_colors("asdn", colors)
        check_positive("asdn", n_dab=n_dab, n_intra=n_intra, dab_feats=dab_feats, intra_feats=intra_feats,
                       n_feats=n_feats, reduction=reduction)
        self.levels = len(lfr.levels(levels))
        self.sa = _choice("sa", sa, SA_KINDS)
        self.output = _choice("output", output, OUTPUTS)
        self.interpolation = _choice("interpolation", interpolation, INTERPOLATIONS)
        if schedule not in lfr.SCHEDULES and schedule not in lfr.SLIDE_SCHEDULES:
            raise ValueError(f"asdn: schedule {schedule!r} is not known; use one of {list(lfr.SCHEDULES)} or "
                             f"{list(lfr.SLIDE_SCHEDULES)}")
        self.schedule = schedule  # the default of forward(); forward(lr, scale, schedule=...) overrides it
        self.global_skip = bool(global_skip)
        self.config = dict(n_dab=n_dab, n_intra=n_intra, dab_feats=dab_feats, intra_feats=intra_feats,
                           n_feats=n_feats, reduction=reduction, levels=levels, compression=compression,
                           ca_pool=ca_pool, sa=sa, global_fusion=bool(global_fusion), output=output,
                           interpolation=interpolation, channel_attention=bool(channel_attention),
                           spatial_attention=bool(spatial_attention), global_skip=bool(global_skip),
                           schedule=schedule)
        self.fmb = FeatureMapping(colors, n_dab, n_intra, dab_feats, intra_feats, n_feats, reduction, compression,
                                  ca_pool, channel_attention, global_fusion)
        self.irbs = nn.ModuleList(ReconstructionBranch(self.fmb.out_channels, colors, sa, spatial_attention)
                                  for _ in range(self.levels))

    # ------------------------------------------------------------------ sizes and resizing
    def pass_size(self, n: int, r) -> int:
        """Output size of one pass at ratio ``r`` in (1, 2] for an input of size ``n`` (``output`` rule)."""
        if self.output == "exact":
            return sr_size(n, r)
        return _floor_size(n, lfr.level_blend(r, self.levels).upper)

    def output_size(self, h: int, w: int, scale=None, schedule=None) -> tuple[int, int]:
        """(H, W) of ``model(lr, scale)`` for an LR of h x w: ``(ceil(h s), ceil(w s))`` for ``output="exact"``."""
        s = _any_scale(self.scale if scale is None else scale)
        if self.output == "exact":
            return sr_size(h, s), sr_size(w, s)
        for r in self._schedule(s, schedule):
            h, w = self.pass_size(h, r), self.pass_size(w, r)
        return h, w

    def _resize(self, x: torch.Tensor, size: tuple[int, int], r=None) -> torch.Tensor:
        """``x`` resized to ``size`` (bicubic of ``interpolation``); ``r`` is the nominal ratio, if any."""
        if tuple(x.shape[-2:]) == tuple(size):
            return x
        if self.interpolation == "matlab":
            from srlib.degrade import imresize_torch

            return imresize_torch(x, scale=None if r is None else float(r), size=size)
        if r is not None and tuple(size) == tuple(_floor_size(n, r) for n in x.shape[-2:]):
            return F.interpolate(x, scale_factor=float(r), mode="bicubic", align_corners=False,
                                 recompute_scale_factor=False)
        return F.interpolate(x, size=tuple(size), mode="bicubic", align_corners=False)

    def _schedule(self, s, schedule=None) -> tuple[float, ...]:
        """The ratios of the passes at scale ``s``: a name of ``lfr.SCHEDULES`` / ``lfr.SLIDE_SCHEDULES`` or a
        sequence of ratios (each in (1, 2], their product within 2% of ``s``; the last pass lands on the
        output size whatever the product)."""
        schedule = self.schedule if schedule is None else schedule
        if s <= lfr.R_MAX:
            return (float(s),)
        if isinstance(schedule, str):
            if schedule in lfr.SCHEDULES:
                return lfr.recursion_schedule(s, schedule)
            if schedule not in lfr.SLIDE_SCHEDULES:
                raise ValueError(f"asdn: schedule {schedule!r} is not known; use one of {list(lfr.SCHEDULES)}, "
                                 f"{list(lfr.SLIDE_SCHEDULES)} or a sequence of ratios")
            ratios = lfr.slide_schedule(schedule)
        else:
            ratios = tuple(float(r) for r in schedule)
        for r in ratios:
            lfr.level_blend(r, self.levels)  # each ratio within (1, 2]
        product = lfr.schedule_product(ratios)
        if not ratios or abs(product / float(s) - 1) > 0.02:
            raise ValueError(f"asdn: schedule {schedule!r} multiplies to {product:.4g}, not the scale {s}")
        return ratios

    # ------------------------------------------------------------------ the network
    def features(self, x_up: torch.Tensor) -> torch.Tensor:
        """The FMB's output for an already upsampled image."""
        return self.fmb(x_up)

    def reconstruct(self, feats: torch.Tensor, x_up: torch.Tensor, level: int) -> torch.Tensor:
        """``O_{r_level}``: IRB ``level`` on the features, plus the upsampled input (global skip)."""
        if isinstance(level, bool) or not isinstance(level, numbers.Integral) or not 0 <= level < self.levels:
            raise ValueError(f"asdn: level {level!r} is not one of 0 .. {self.levels - 1}")
        out = self.irbs[int(level)](feats)
        return out + x_up if self.global_skip else out

    def level_input(self, lr: torch.Tensor, level: int) -> torch.Tensor:
        """The network's input for level ``level``: the LR upsampled to that level's size (the LR itself at 0)."""
        r = lfr.level_scale(int(level), self.levels)
        if level == 0:
            return lr
        h, w = lr.shape[-2:]
        if self.output == "exact":
            size = (sr_size(h, r), sr_size(w, r))
        else:
            size = (_floor_size(h, r), _floor_size(w, r))
        return self._resize(lr, size, r)

    def forward_level(self, lr: torch.Tensor, level: int) -> torch.Tensor:
        """``O_{r_level}`` for an LR batch: the training step of the paper (one randomly chosen level per
        update; only that IRB and the FMB get gradients). Level 0 is the same-size level r_0 = 1."""
        x = self.level_input(self._check_input(lr), level)
        return self.reconstruct(self.features(x), x, level)

    def forward_upsampled(self, x: torch.Tensor, r=None) -> torch.Tensor:
        """One pass on an already upsampled image at ``r`` in (1, 2] (default: ``model.scale``, or 2 when it is
        above 2), both active levels on the same features (``output="exact"``'s pass)."""
        r = (self.scale if self.scale <= lfr.R_MAX else lfr.R_MAX) if r is None else r
        b = lfr.level_blend(r, self.levels)
        feats = self.features(x)
        upper = self.reconstruct(feats, x, b.index)
        if b.weight == 0:
            return upper
        return lfr.blend(upper, self.reconstruct(feats, x, b.index - 1), b.weight)

    def lfr_parts(self, lr: torch.Tensor, r) -> dict:
        """One pass at ``r`` in (1, 2] with its parts: ``{"blend", "upper", "lower", "phase", "output",
        "input"}`` (``upper`` = O_{r_i}, ``lower`` = O_{r_{i-1}} at the output size, ``phase`` = P_i,
        ``input`` = the upsampled LR), for the chapter's continuous-scale slider."""
        lr = self._check_input(lr)
        b = lfr.level_blend(r, self.levels)
        size = tuple(self.pass_size(n, r) for n in lr.shape[-2:])
        if self.output == "exact":
            x = self._resize(lr, size, r)
            feats = self.features(x)
            upper, lower = self.reconstruct(feats, x, b.index), self.reconstruct(feats, x, b.index - 1)
        else:
            x = self.level_input(lr, b.index)
            upper = self.reconstruct(self.features(x), x, b.index)
            x_low = self.level_input(lr, b.index - 1)
            lower = self._resize(self.reconstruct(self.features(x_low), x_low, b.index - 1), size)
        return {"blend": b, "upper": upper, "lower": lower, "phase": lfr.phase(lower, upper),
                "output": lfr.blend(upper, lower, b.weight), "input": x}

    def _pass(self, x: torch.Tensor, r, size) -> torch.Tensor:
        b = lfr.level_blend(r, self.levels)
        if self.output == "exact":
            return self.forward_upsampled(self._resize(x, size, r), r)
        x_up = self.level_input(x, b.index)
        upper = self.reconstruct(self.features(x_up), x_up, b.index)
        if b.weight == 0:
            return upper
        x_low = self.level_input(x, b.index - 1)
        lower = self._resize(self.reconstruct(self.features(x_low), x_low, b.index - 1), tuple(upper.shape[-2:]))
        return lfr.blend(upper, lower, b.weight)

    def _check_input(self, lr):
        if not isinstance(lr, torch.Tensor) or lr.dim() != 4 or lr.shape[1] != self.colors:
            shape = tuple(lr.shape) if isinstance(lr, torch.Tensor) else type(lr).__name__
            raise ValueError(f"asdn: expected an (N, {self.colors}, h, w) tensor, got {shape}")
        if min(lr.shape[-2:]) < 1:
            raise ValueError(f"asdn: empty input of shape {tuple(lr.shape)}")
        return lr

    def forward(self, lr: torch.Tensor, scale=None, schedule=None) -> torch.Tensor:
        """SR of ``lr`` at ``scale`` (default ``model.scale``); above 2 through ``schedule`` (default
        ``model.schedule``)."""
        s = _any_scale(self.scale if scale is None else scale)
        x = self._check_input(lr)
        h, w = x.shape[-2:]
        ratios = self._schedule(s, schedule)
        for k, r in enumerate(ratios):
            if k == len(ratios) - 1 and self.output == "exact":
                size = (sr_size(h, s), sr_size(w, s))  # the last pass lands on the conventions' size
            else:
                size = tuple(self.pass_size(n, r) for n in x.shape[-2:])
            x = self._pass(x, r, size)
        return x


class FSDN(nn.Module):
    """Fixed-scale FSDN: ASDN's FMB on the LR image, DBDN's transposed convs, one IRB, bicubic global skip.

    ``scale`` 2, 3, 4 or 8; the FMB/IRB options are ASDN's (``reading=`` in :func:`fsdn`). Without
    ``global_fusion`` the first transposed conv reads the whole concatenation of the blocks.
    """

    pre_upsample = False
    paper_colors = 3

    def __init__(self, scale: int = 2, colors: int = 3, n_dab: int = 16, n_intra: int = 8, dab_feats: int = 64,
                 intra_feats: int = 64, n_feats: int = 64, reduction: int = 16, compression: str = "3x3",
                 ca_pool: str = "avg", sa: str = "features", global_fusion: bool = True,
                 interpolation: str = "matlab", channel_attention: bool = True, spatial_attention: bool = True,
                 global_skip: bool = True):
        super().__init__()
        self.scale = check_scale("fsdn", scale, (2, 3, 4, 8))
        self.colors = check_colors("fsdn", colors)
        check_positive("fsdn", n_dab=n_dab, n_intra=n_intra, dab_feats=dab_feats, intra_feats=intra_feats,
                       n_feats=n_feats, reduction=reduction)
        _choice("sa", sa, SA_KINDS)
        self.interpolation = _choice("interpolation", interpolation, INTERPOLATIONS)
        self.global_skip = bool(global_skip)
        self.fmb = FeatureMapping(colors, n_dab, n_intra, dab_feats, intra_feats, n_feats, reduction, compression,
                                  ca_pool, channel_attention, global_fusion)
        self.upsample = DeconvUpsampler(self.scale, self.fmb.out_channels, n_feats)
        self.irb = ReconstructionBranch(n_feats, colors, sa, spatial_attention)

    def init_from_asdn(self, asdn: ASDN, level: int = lfr.LEVELS - 1) -> "FSDN":
        """Copy an ASDN's FMB and IRB ``level`` (default the x2 level) into this FSDN, to fine-tune it at a
        fixed scale (the document's FSDN). The ASDN must have the same FMB options; the IRB must have the
        same input width (``global_fusion=True``)."""
        self.fmb.load_state_dict(asdn.fmb.state_dict())
        self.irb.load_state_dict(asdn.irbs[level].state_dict())
        return self

    def forward(self, lr: torch.Tensor) -> torch.Tensor:
        out = self.irb(self.upsample(self.fmb(lr)))
        if not self.global_skip:
            return out
        if self.interpolation == "matlab":
            from srlib.degrade import imresize_torch

            return out + imresize_torch(lr, scale=self.scale)
        return out + F.interpolate(lr, scale_factor=self.scale, mode="bicubic", align_corners=False)


def _options(preset: str, reading: str, overrides: dict, model: str) -> dict:
    if preset not in SIZES:
        raise ValueError(f"{model}: preset {preset!r} is not known; use one of {list(SIZES)}")
    if reading not in READINGS:
        raise ValueError(f"{model}: reading {reading!r} is not known; use one of {list(READINGS)}")
    return {**SIZES[preset], **READINGS[reading], **overrides}


def asdn(scale=2, colors: int = 3, preset: str = "paper", reading: str = "paper", **overrides) -> ASDN:
    """ASDN with the sizes of ``preset`` (``SIZES``) and the options of ``reading`` (``READINGS``);
    keyword arguments override single values, e.g. ``asdn(preset="base", ca_pool="max")``."""
    return ASDN(scale=scale, colors=colors, **_options(preset, reading, overrides, "asdn"))


def fsdn(scale: int = 2, colors: int = 3, preset: str = "paper", reading: str = "paper", **overrides) -> FSDN:
    """FSDN with the sizes of ``preset`` and the FMB/IRB options of ``reading`` (``output`` does not apply)."""
    opts = _options(preset, reading, overrides, "fsdn")
    opts.pop("output", None)
    return FSDN(scale=scale, colors=colors, **opts)
