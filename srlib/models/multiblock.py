"""The multiblock channel-attention network (Li, report 002) and the toy model of its Sec. 3.1.

Same-size networks (``scale = 1``): on RealSR the LR image is already on the HR grid, so every block
maps an RGB image to an RGB image of the same size and adds its input back (a global ``+input``).

* :class:`MultiblockBlock` — one block N_i (report Sec. 3.2, Fig. 6; code ``common.Net``): a conv
  3->64 without activation, ``n_rcab`` = 16 RCABs (conv-ReLU-conv, channel attention, ``+`` the RCAB
  input), a conv 64->64 and a conv 64->3, plus the block input. The channel attention is the report's
  ``Ca = Sigmoid(W_U(ReLU(W_D(X))))`` on the globally average-pooled vector X with W_D a Conv1d
  64->16 and W_U a Conv1d 16->64 (:class:`~srlib.models.blocks.ChannelAttention` with
  ``squeeze="conv1d"``, ``reduction=4``). No residual groups and no long skip over the RCABs (RCAN
  has both). Every conv has a bias. 35 conv2d layers (1 + 2 x 16 + 2), 1,256,195 parameters at the
  report's size. ``clamp=True`` is N_i^+: the same layers with the output hard-clamped to [0, 1]
  (zero gradient where the clamp is active, as the code's in-place ``x[x<0]=0; x[x>1]=1``).
  ``init="orthogonal"`` (report Sec. 4.1, code ``init.orthogonal_`` gain 1 on every Conv2d and
  Conv1d weight, biases left at PyTorch's default) or ``"default"`` (PyTorch's).
* :class:`ToyBlock` — one toy block (Sec. 3.1, Fig. 4; code ``naive_two_type.py``): a conv 3->64
  without activation, 4 x (conv 64->64 + ReLU), a conv 64->3, plus the input: 6 conv 3x3 layers.
  ``init_std=0.1``: weights drawn from N(0, 0.1^2); ``init_bias=True`` draws the biases from it too
  (the report: "all trainable convolution parameters"), ``False`` keeps PyTorch's default biases
  (the code: weights only).
* :class:`MultiblockNet` — the combined network N = N_m(...N_2(N_1(x))), a chain of blocks, each with
  its own ``+input`` (the "input" of block k+1 is block k's output). ``clamp`` (a bool for every
  block, or one per block): the code's ``Net_combine`` clamps every block's output, so the chain of
  N_i^+ is the default for RCAB blocks; the toy network has no clamp. :meth:`MultiblockNet.block_outputs`
  gives N_1(x), N_2(N_1(x)), ... (the report's inverse analysis, Fig. 9).
* :func:`inherit` — copy every weight and buffer of one network into another of the same layout (N_i
  -> N_i^+, N_1 -> N_2 as the report's inherited initialization, blocks -> the combined N and back).

Registered as ``multiblock`` (N), ``multiblock-block`` (N_i), ``multiblock-toy`` (toy N, 2 blocks)
and ``multiblock-toy-block``.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from srlib.models import MODELS, check_colors, check_positive
from srlib.models.blocks import RCAB, ChannelAttention

INITS = ("orthogonal", "default")
BLOCK_KINDS = ("rcab", "toy")


def _check_same_size(model: str, scale) -> int:
    if isinstance(scale, bool) or scale != 1:
        raise ValueError(f"{model}: scale {scale!r} is not supported; the multiblock networks are same-size "
                         f"(LR and HR on one grid, as the RealSR pairs): use scale=1")
    return 1


def _clamp01(x: torch.Tensor) -> torch.Tensor:
    """Hard clamp to [0, 1]; gradient 1 inside [0, 1] and 0 where clamped (the code's in-place masking)."""
    return x.clamp(0.0, 1.0)


def orthogonal_init(module: nn.Module, gain: float = 1.0) -> nn.Module:
    """``nn.init.orthogonal_(w, gain)`` on the weight of every Conv1d/Conv2d in ``module``; biases untouched."""
    for m in module.modules():
        if isinstance(m, (nn.Conv1d, nn.Conv2d)):
            nn.init.orthogonal_(m.weight, gain=gain)
    return module


class MultiblockBlock(nn.Module):
    """One block N_i (``clamp=False``) or N_i^+ (``clamp=True``); see the module docstring."""

    pre_upsample = False
    paper_colors = 3

    def __init__(self, scale: int = 1, colors: int = 3, n_rcab: int = 16, n_feats: int = 64, reduction: int = 4,
                 clamp: bool = False, init: str = "orthogonal", pool: str = "avg", squeeze: str = "conv1d"):
        super().__init__()
        self.scale = _check_same_size("multiblock-block", scale)
        self.colors = check_colors("multiblock-block", colors)
        check_positive("multiblock-block", n_rcab=n_rcab, n_feats=n_feats, reduction=reduction)
        if init not in INITS:
            raise ValueError(f"multiblock-block: init {init!r} is not supported; use one of {list(INITS)}")
        self.clamp = bool(clamp)
        self.head = nn.Conv2d(colors, n_feats, 3, padding=1)
        self.body = nn.Sequential(*[RCAB(n_feats, reduction, pool=pool, squeeze=squeeze) for _ in range(n_rcab)])
        self.end = nn.Conv2d(n_feats, n_feats, 3, padding=1)
        self.to_rgb = nn.Conv2d(n_feats, colors, 3, padding=1)
        if init == "orthogonal":
            orthogonal_init(self)

    def attention_modules(self) -> list[ChannelAttention]:
        """The channel attentions of the RCABs in forward order (``.last_attention`` after a forward)."""
        return [m for m in self.modules() if isinstance(m, ChannelAttention)]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.to_rgb(self.end(self.body(self.head(x)))) + x
        return _clamp01(y) if self.clamp else y


class ToyBlock(nn.Module):
    """The toy block of Sec. 3.1: ``n_convs`` conv 3x3 (ReLU after the inner ones) plus the input."""

    pre_upsample = False
    paper_colors = 3

    def __init__(self, scale: int = 1, colors: int = 3, n_feats: int = 64, n_convs: int = 6, init_std: float = 0.1,
                 init_bias: bool = True, clamp: bool = False):
        super().__init__()
        self.scale = _check_same_size("multiblock-toy-block", scale)
        self.colors = check_colors("multiblock-toy-block", colors)
        check_positive("multiblock-toy-block", n_feats=n_feats, n_convs=n_convs)
        if n_convs < 2:
            raise ValueError(f"multiblock-toy-block: n_convs={n_convs} must be at least 2 (an input and an output conv)")
        if init_std is not None and not init_std > 0:
            raise ValueError(f"multiblock-toy-block: init_std {init_std!r} must be > 0 (or None for PyTorch's default)")
        self.clamp = bool(clamp)
        layers: list[nn.Module] = [nn.Conv2d(colors, n_feats, 3, padding=1)]
        for _ in range(n_convs - 2):
            layers += [nn.Conv2d(n_feats, n_feats, 3, padding=1), nn.ReLU(inplace=True)]
        layers.append(nn.Conv2d(n_feats, colors, 3, padding=1))
        self.body = nn.Sequential(*layers)
        if init_std is not None:
            for m in self.body:
                if isinstance(m, nn.Conv2d):
                    nn.init.normal_(m.weight, 0.0, float(init_std))
                    if init_bias:
                        nn.init.normal_(m.bias, 0.0, float(init_std))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.body(x) + x
        return _clamp01(y) if self.clamp else y


def build_block(kind: str = "rcab", **args) -> nn.Module:
    """One block of kind ``"rcab"`` (:class:`MultiblockBlock`) or ``"toy"`` (:class:`ToyBlock`)."""
    if kind == "rcab":
        return MultiblockBlock(**args)
    if kind == "toy":
        return ToyBlock(**args)
    raise ValueError(f"block kind {kind!r} is not supported; use one of {list(BLOCK_KINDS)}")


class MultiblockNet(nn.Module):
    """N = N_m(...N_1(x)): ``n_blocks`` blocks of ``block`` kind in a chain (see the module docstring).

    ``block_args`` go to every block (``n_rcab``, ``n_feats``, ``init``, ... or the toy's). ``clamp``
    sets each block's output clamp (one bool, or a list of ``n_blocks``).
    """

    pre_upsample = False
    paper_colors = 3

    def __init__(self, scale: int = 1, colors: int = 3, n_blocks: int = 3, block: str = "rcab",
                 clamp: bool | Sequence[bool] = True, **block_args):
        super().__init__()
        self.scale = _check_same_size("multiblock", scale)
        self.colors = check_colors("multiblock", colors)
        check_positive("multiblock", n_blocks=n_blocks)
        clamps = [bool(clamp)] * n_blocks if isinstance(clamp, (bool, int)) else [bool(c) for c in clamp]
        if len(clamps) != n_blocks:
            raise ValueError(f"multiblock: clamp has {len(clamps)} values for {n_blocks} blocks")
        self.block_kind = block
        self.blocks = nn.ModuleList(build_block(block, colors=colors, clamp=c, **block_args) for c in clamps)

    @property
    def clamps(self) -> list[bool]:
        return [b.clamp for b in self.blocks]

    def attention_modules(self) -> list[ChannelAttention]:
        return [m for m in self.modules() if isinstance(m, ChannelAttention)]

    def block_outputs(self, x: torch.Tensor) -> list[torch.Tensor]:
        """``[N_1(x), N_2(N_1(x)), ...]``: every block's output, in order."""
        out = []
        for b in self.blocks:
            x = b(x)
            out.append(x)
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for b in self.blocks:
            x = b(x)
        return x


def inherit(src, dst: nn.Module) -> nn.Module:
    """Copy every weight and buffer of ``src`` (a module or a state dict) into ``dst``; return ``dst``.

    Both must have the same layout: the same state-dict keys with the same shapes (e.g. N_i -> N_i^+,
    N_1 -> N_2, a block -> ``net.blocks[k]``, or a whole N -> N). A missing, extra or reshaped key is a
    ValueError naming it; nothing is copied then. The tensors are copied (``dst`` shares no storage
    with ``src``); ``dst`` keeps its own ``clamp`` and other non-tensor settings, and an optimizer
    built afterwards starts fresh (the report's N_i^+ = inherit(N_i)).
    """
    state = src.state_dict() if isinstance(src, nn.Module) else dict(src)
    own = dst.state_dict()
    missing = sorted(set(own) - set(state))
    extra = sorted(set(state) - set(own))
    reshaped = sorted(k for k in set(own) & set(state) if tuple(own[k].shape) != tuple(state[k].shape))
    if missing or extra or reshaped:
        parts = []
        if missing:
            parts.append(f"missing in the source: {', '.join(missing[:5])}{' ...' if len(missing) > 5 else ''}")
        if extra:
            parts.append(f"not in the destination: {', '.join(extra[:5])}{' ...' if len(extra) > 5 else ''}")
        if reshaped:
            parts.append("shapes differ: " + ", ".join(f"{k} {tuple(state[k].shape)} -> {tuple(own[k].shape)}"
                                                       for k in reshaped[:5]))
        raise ValueError(f"inherit: {type(dst).__name__} does not have the layout of the source ({'; '.join(parts)}); "
                         "build the destination with the same block sizes")
    with torch.no_grad():
        for k, t in own.items():
            t.copy_(state[k])
    return dst


@MODELS.register("multiblock-block")
def multiblock_block(scale: int = 1, **args) -> MultiblockBlock:
    """N_i (``clamp=True``: N_i^+); report size by default: 16 RCABs, 64 features, Conv1d 64->16->64."""
    return MultiblockBlock(scale=scale, **args)


@MODELS.register("multiblock")
def multiblock(scale: int = 1, n_blocks: int = 3, **args) -> MultiblockNet:
    """The combined N of ``n_blocks`` RCAB blocks, every block's output clamped (code ``Net_combine``)."""
    return MultiblockNet(scale=scale, n_blocks=n_blocks, block="rcab", **args)


@MODELS.register("multiblock-toy-block")
def multiblock_toy_block(scale: int = 1, **args) -> ToyBlock:
    """One toy block: 6 conv 3x3 + the input, N(0, 0.1) init."""
    return ToyBlock(scale=scale, **args)


@MODELS.register("multiblock-toy")
def multiblock_toy(scale: int = 1, n_blocks: int = 2, clamp: bool = False, **args) -> MultiblockNet:
    """The toy N = N_2(N_1(x)) of Sec. 3.1 (12 conv layers), no clamp."""
    return MultiblockNet(scale=scale, n_blocks=n_blocks, block="toy", clamp=clamp, **args)
