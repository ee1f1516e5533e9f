"""LapSRN (Lai, Huang, Ahuja, Yang, CVPR 2017): progressive x2 Laplacian pyramid network.

Also the loader of the one pretrained LapSRN the book uses, the x4 network of the public PyTorch
port ``twtygqyy/pytorch-LapSRN`` (``../shared/weights/README.md``): :func:`load_port_weights` maps its
keys onto srlib's by :func:`port_key_table`; :func:`pretrained_port` builds the network
(:data:`PORT_CONFIG`) and loads it. No code of the port is used.
"""
from __future__ import annotations

import math
from pathlib import Path

import torch
from torch import nn

import srlib
from srlib.models import MODELS, check_colors, check_positive, check_scale
from srlib.models import blocks

#: LapSRN initialisations: ``"kaiming"`` (srlib's default: He-normal convs with zero bias, bilinear image
#: upsampler, PyTorch's default for the feature deconv) and ``"port"`` (the PyTorch port's: conv weights
#: N(0, sqrt(2 / (k*k*out_channels))), every transposed conv, the feature one included, bilinear on every
#: (in, out) channel pair, biases zero)
INITS = ("kaiming", "port")


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

    def __init__(self, colors: int, n_feats: int, depth: int, bias: bool = True):
        super().__init__()
        layers = []
        for _ in range(depth):
            layers += [nn.Conv2d(n_feats, n_feats, 3, padding=1, bias=bias), nn.LeakyReLU(0.2, inplace=True)]
        layers += [nn.ConvTranspose2d(n_feats, n_feats, 4, stride=2, padding=1, bias=bias),
                   nn.LeakyReLU(0.2, inplace=True)]
        self.features = nn.Sequential(*layers)
        self.residual = nn.Conv2d(n_feats, colors, 3, padding=1, bias=bias)
        self.upsample_image = nn.ConvTranspose2d(colors, colors, 4, stride=2, padding=1, bias=bias)

    def forward(self, feats: torch.Tensor, image: torch.Tensor):
        feats = self.features(feats)
        return feats, self.upsample_image(image) + self.residual(feats)


#: where the FD heads go: ``"all"`` levels (deep supervision, as LapSRN's loss) or the ``"last"`` one
FD_LEVELS = ("all", "last")


def _check_fd_options(bins, levels, widths, class_module, tile, confine, prior, weight_norm) -> dict:
    """The FD options of :class:`LapSRN`, checked (ValueErrors name the value and the remedy)."""
    if not isinstance(weight_norm, bool):
        raise ValueError(f"lapsrn: weight_norm={weight_norm!r} must be True or False")
    if not isinstance(class_module, bool):
        raise ValueError(f"lapsrn: class_module={class_module!r} must be True or False")
    if bins == 0 and not isinstance(bins, bool):
        if class_module or widths is not None:
            raise ValueError(f"lapsrn: class_module={class_module!r}, fd_widths={widths!r} need the FD heads: "
                             "give fd_bins=K too (K = 32 in document 001)")
        return {"bins": 0, "levels": "all", "widths": (), "class_module": False, "tile": tile, "confine": confine,
                "prior": 0.0}
    bins = blocks.check_bins(bins, "lapsrn: fd_bins")
    if levels not in FD_LEVELS:
        raise ValueError(f"lapsrn: fd_levels={levels!r} is not one of {list(FD_LEVELS)}")
    if confine not in blocks.FD_CONFINES:
        raise ValueError(f"lapsrn: fd_confine={confine!r} is not one of {list(blocks.FD_CONFINES)}")
    if widths is None:
        widths = (3, 5, 7) if class_module else (5,)
    widths = blocks.check_widths(widths, "lapsrn: fd_widths")
    if class_module and len(widths) < 2:
        raise ValueError(f"lapsrn: fd_widths={list(widths)} with class_module=True: the Class-Module chooses among "
                         "at least two widths (the document's are [3, 5, 7])")
    if not class_module and len(widths) != 1:
        raise ValueError(f"lapsrn: fd_widths={list(widths)} without the Class-Module: give one fixed width (the "
                         "document's CS loss: [5]) or class_module=True")
    if isinstance(tile, bool) or not isinstance(tile, int) or tile < 4 or tile % 4:
        raise ValueError(f"lapsrn: class_tile={tile!r} must be a positive multiple of 4 (the Class-Module's first "
                         "convolution has stride 4); ClassSR uses 32")
    if isinstance(prior, bool) or not isinstance(prior, (int, float)) or not (math.isfinite(prior) and prior >= 0):
        raise ValueError(f"lapsrn: fd_prior={prior!r} must be a finite number >= 0 (1: the heads start from the "
                         "bin of the level's own output; 0: from the features alone)")
    return {"bins": bins, "levels": levels, "widths": widths, "class_module": class_module, "tile": tile,
            "confine": confine, "prior": float(prior)}


@MODELS.register("lapsrn")
class LapSRN(nn.Module):
    """Feature-extraction branch (``depth`` convs per level at the level's input resolution,
    then a 4x4 stride-2 transposed conv) and image-reconstruction branch (4x4 transposed conv,
    bilinear init, plus the predicted residual), one level per factor 2.

    Paper configuration: depth 10 per level, 64 filters, LeakyReLU 0.2, Y channel
    (``colors=1``), trained with the Charbonnier loss on every level (see ``srlib.losses``).
    ``scale`` must be a power of 2; ``depth`` and ``n_feats`` set the size of every level.

    ``bias=False`` drops every bias (the PyTorch port has none); ``init`` is one of :data:`INITS`.
    The defaults (``bias=True``, ``init="kaiming"``, no FD parts, no weight norm) build the network of every
    committed run: same modules, state-dict keys and initialisation as before these options existed. The port is
    ``scale=4, colors=1, depth=10, n_feats=64, bias=False`` (:data:`PORT_CONFIG`, 870,112 weights),
    with the same forward: level l gives ``HR_l = upsample_image(HR_{l-1}) + residual(F_l)``,
    ``F_l = features(F_{l-1})``, ``F_0 = LReLU(head(x))``, ``HR_0 = x``.

    **FD parts** (document 001, the fine-grained dynamic loss; trained jointly with the network, so they are
    the model's, see :mod:`srlib.losses`; the losses are ``srlib.losses.fdloss``):

    * ``fd_bins`` = K > 0 adds a 1x1 head ``n_feats -> colors * K`` (with bias; :class:`srlib.models.blocks.BinHead`,
      an ``nn.Linear`` over the channels, the same function as a 1x1 convolution) on the upsampled features
      F_l of each level in ``fd_levels`` (``"all"``: every level, LapSRN's deep supervision, our choice;
      ``"last"``: the last level only): per-pixel K-way logits, to which ``fd_prior`` (default 1) x the bin
      prior of the level's own unconfined output y is added, -((y - A_i) / bin width)^2 with y detached (up to a
      per-pixel constant that no softmax or argmax sees). The predicted bin is their argmax, and that level's
      output is ``HR_l`` confined to the anchor area around it (:func:`srlib.models.blocks.confine`,
      ``fd_confine`` = ``"soft"`` or ``"hard"``). The next level builds on the unconfined ``HR_l`` (the
      confinement is an output projection; the pyramid itself is LapSRN's): our choice, the document is silent.
    * Why the prior (our choice; the document only says q "results from the output of the trained network"): in
      LapSRN the absolute intensity is carried by the image branch, F_l carries the residual detail, so a head on
      F_l alone (``fd_prior=0``, the reading of ``../shared/docs/AUTHORS_CODE.md`` 001 section 6) must learn to
      bin the intensity from features that barely hold it; in short CPU runs it stayed near chance and the
      confinement to wrong areas pulled the output far below the baseline. With the prior the heads start from
      the bin of y (where the regression already is) and learn to move it; ``fd_prior=0`` is kept for the ablation.
    * ``class_module=True`` adds the Class-Module (:class:`srlib.models.blocks.ClassModule`, one class per
      ``class_tile`` x ``class_tile`` LR sub-image) choosing the area width among ``fd_widths`` (default
      ``(3, 5, 7)`` bins, the document's). Training mode: the output is the mixture of the confined outputs by
      the Class-Module's probabilities (ClassSR's soft mixture, so the regression loss reaches the Class-Module);
      eval mode: the width of its argmax. Without it (``"CS loss"``), one fixed width: ``fd_widths`` of one
      element, default ``(5,)``.
    * The FD parts are created after the SR network is initialised, so under one seed the network starts from
      the same weights with and without them (paired runs differ only by the FD parts).

    ``weight_norm=True`` puts weight normalisation (``torch.nn.utils.parametrizations.weight_norm``) on every
    convolution and transposed convolution, the FD ones included (document 001: "weight normalization in all
    convolutional layers"), after initialisation, so the initial weights are unchanged.
    """

    pre_upsample = False
    paper_colors = 1

    def __init__(self, scale: int = 2, colors: int = 3, depth: int = 10, n_feats: int = 64, bias: bool = True,
                 init: str = "kaiming", fd_bins: int = 0, fd_levels: str = "all", fd_widths=None,
                 class_module: bool = False, class_tile: int = 32, fd_confine: str = "soft", fd_prior: float = 1.0,
                 weight_norm: bool = False):
        super().__init__()
        self.scale = check_scale("lapsrn", scale, (2, 4, 8, 16))
        self.colors = check_colors("lapsrn", colors)
        check_positive("lapsrn", depth=depth, n_feats=n_feats)
        if not isinstance(bias, bool):
            raise ValueError(f"lapsrn: bias={bias!r} must be True or False")
        if init not in INITS:
            raise ValueError(f"lapsrn: init={init!r} is not one of {list(INITS)}")
        fd = _check_fd_options(fd_bins, fd_levels, fd_widths, class_module, class_tile, fd_confine, fd_prior,
                               weight_norm)
        self.n_levels = int(round(math.log2(self.scale)))
        self.head = nn.Sequential(nn.Conv2d(colors, n_feats, 3, padding=1, bias=bias), nn.LeakyReLU(0.2, inplace=True))
        self.levels = nn.ModuleList(PyramidLevel(colors, n_feats, depth, bias=bias) for _ in range(self.n_levels))
        if init == "port":
            self._init_port()
        else:
            self._init_kaiming()
        self._add_fd(n_feats, **fd)
        if weight_norm:
            self._apply_weight_norm()

    def _init_kaiming(self) -> None:
        """srlib's initialisation (see :data:`INITS`)."""
        colors = self.colors
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, a=0.2, nonlinearity="leaky_relu")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
        for level in self.levels:
            level.upsample_image.weight.data.copy_(bilinear_kernel(colors))
            if level.upsample_image.bias is not None:
                nn.init.zeros_(level.upsample_image.bias)

    def _init_port(self) -> None:
        """The port's initialisation (see :data:`INITS`)."""
        with torch.no_grad():
            for m in self.modules():
                if isinstance(m, nn.Conv2d):
                    k = m.kernel_size[0] * m.kernel_size[1] * m.out_channels
                    m.weight.normal_(0.0, math.sqrt(2.0 / k))
                elif isinstance(m, nn.ConvTranspose2d):
                    size = m.kernel_size[0]
                    one = bilinear_kernel(1, size)[0, 0]
                    m.weight.copy_(one.expand_as(m.weight))
                else:
                    continue
                if m.bias is not None:
                    m.bias.zero_()

    def _add_fd(self, n_feats: int, bins: int, levels: tuple, widths: tuple, class_module: bool, tile: int,
                confine: str, prior: float) -> None:
        """The FD heads and the Class-Module (nothing when ``bins == 0``: the modules of every committed run)."""
        self.fd_bins = bins
        self.fd_confine = confine
        self.fd_prior = prior
        self.fd_widths = widths
        self.fd_level_ids = tuple(range(self.n_levels)) if levels == "all" else (self.n_levels - 1,)
        self.fd_half = tuple(w // 2 for w in widths)  # m per class: half-widths in bins
        self.class_module = None
        if not bins:
            self.fd_level_ids = ()
            return
        self.register_buffer("fd_half_widths", torch.tensor([w // 2 for w in widths], dtype=torch.long),
                             persistent=False)
        # K innermost: on the CPU a 1x1 convolution at batch 1 and a softmax or argmax along a strided channel
        # dimension are several times slower (benchmarks/fdloss_overhead.py)
        self.fd_heads = nn.ModuleDict({str(l): blocks.BinHead(n_feats, self.colors, bins, prior)
                                       for l in self.fd_level_ids})
        if class_module:
            self.class_module = blocks.ClassModule(self.colors, classes=len(widths), tile=tile)

    def _apply_weight_norm(self) -> None:
        from torch.nn.utils.parametrizations import weight_norm

        heads = list(self.fd_heads.values()) if self.fd_bins else []
        for m in list(self.modules()):
            if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)) or m in heads:
                weight_norm(m)

    def forward_fd(self, lr: torch.Tensor, last_only: bool = False) -> dict:
        """Every output the FD losses need, for any LapSRN (without FD parts: the raw levels only).

        ``{"levels": [per level {"raw": HR_l, "out": the level's output (confined where the level has a head),
        "logits": (N, colors, H, W, K) or None, "bins": argmax bins (N, colors, H, W) or None}],
        "class_logits": (N, M, th, tw) or None, "class_probs": their softmax or None}``.
        ``out`` mixes the widths by the class probabilities in training mode and takes their argmax in eval mode.
        ``last_only``: run the head of the last level only (what :meth:`forward` needs: the next level builds on
        the unconfined image, so the other heads do not change the SR output).
        """
        class_logits = class_probs = None
        if self.class_module is not None:
            class_logits = self.class_module(lr)
            class_probs = torch.softmax(class_logits.float(), dim=1)
        feats, image, levels = self.head(lr), lr, []
        for l, level in enumerate(self.levels):
            feats, image = level(feats, image)
            entry = {"raw": image, "out": image, "logits": None, "bins": None}
            if l in self.fd_level_ids and (not last_only or l == self.n_levels - 1):
                logits = self.fd_heads[str(l)](feats, image)
                bins = logits.detach().argmax(dim=-1)
                entry.update(logits=logits, bins=bins, out=self._confine_level(image, bins, class_probs, 2 ** (l + 1)))
            levels.append(entry)
        return {"levels": levels, "class_logits": class_logits, "class_probs": class_probs}

    def _confine_level(self, image, bins, class_probs, factor: int) -> torch.Tensor:
        h, w = image.shape[-2:]
        if class_probs is None:  # one fixed width ("CS loss")
            return blocks.confine(image, bins, self.fd_half[0], self.fd_bins, self.fd_confine)
        pixels = self.class_module.tile * factor
        if self.training:  # ClassSR's soft mixture of the branches, per sub-image
            probs = blocks.tile_map(class_probs, pixels, h, w).to(image.dtype)
            return sum(probs[:, c:c + 1] * blocks.confine(image, bins, m, self.fd_bins, self.fd_confine)
                       for c, m in enumerate(self.fd_half))
        choice = blocks.tile_map(class_probs.argmax(dim=1, keepdim=True), pixels, h, w)
        return blocks.confine(image, bins, self.fd_half_widths[choice], self.fd_bins, self.fd_confine)

    def forward_levels(self, lr: torch.Tensor) -> list[torch.Tensor]:
        """SR images of every level: ``[x2, x4, ...]`` (the last one has ``self.scale``); confined ones with FD parts."""
        if self.fd_bins:
            return [e["out"] for e in self.forward_fd(lr)["levels"]]
        feats, image, outputs = self.head(lr), lr, []
        for level in self.levels:
            feats, image = level(feats, image)
            outputs.append(image)
        return outputs

    def forward(self, lr: torch.Tensor) -> torch.Tensor:
        if self.fd_bins:
            return self.forward_fd(lr, last_only=True)["levels"][-1]["out"]
        return self.forward_levels(lr)[-1]


# ----------------------------------------------------------------------------- the PyTorch port's weights

#: ``build("lapsrn", **PORT_CONFIG)`` is the network of ``twtygqyy/pytorch-LapSRN`` (870,112 weights)
PORT_CONFIG = {"scale": 4, "colors": 1, "depth": 10, "n_feats": 64, "bias": False}
#: the port's pretrained x4 weights, re-saved as a plain state_dict (``../shared/weights/README.md``)
PORT_WEIGHTS = srlib.REPO_ROOT.parent / "shared" / "weights" / "lapsrn_x4_twtygqyy_epoch100.pt"
#: that file's sha256 as pinned in ``../shared/weights/README.md``
PORT_SHA256 = "344c2009f9285716d0a3befa489bced5e9e4acbd047a97fee89e48dc5e9999d6"


class PortWeightsError(ValueError):
    """A weights file that is not the port's x4 LapSRN (wrong hash, keys or shapes); the message names the file."""


def port_key_table(n_levels: int = 2, depth: int = 10) -> dict[str, str]:
    """The port's state-dict key -> srlib's, for every weight of the network (the port has no biases).

    ============================================  =========================================
    port (``lapsrn.Net``)                         srlib (:class:`LapSRN`)
    ============================================  =========================================
    ``conv_input.weight``                         ``head.0.weight``
    ``convt_F{l}.0.cov_block.{2i}.weight``        ``levels.{l-1}.features.{2i}.weight``
    (i = 0..depth-1: 3x3 convs; i = depth: the    (the same Sequential indices: each conv is
    4x4 feature deconv)                           followed by its LeakyReLU)
    ``convt_R{l}.weight``                         ``levels.{l-1}.residual.weight``
    ``convt_I{l}.weight``                         ``levels.{l-1}.upsample_image.weight``
    ============================================  =========================================
    """
    table = {"conv_input.weight": "head.0.weight"}
    for level in range(1, n_levels + 1):
        for i in range(depth + 1):
            table[f"convt_F{level}.0.cov_block.{2 * i}.weight"] = f"levels.{level - 1}.features.{2 * i}.weight"
        table[f"convt_R{level}.weight"] = f"levels.{level - 1}.residual.weight"
        table[f"convt_I{level}.weight"] = f"levels.{level - 1}.upsample_image.weight"
    return table


def file_sha256(path) -> str:
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def load_port_weights(model: LapSRN, path=PORT_WEIGHTS, sha256: str | None = PORT_SHA256) -> LapSRN:
    """Load the port's pretrained weights (a plain state_dict) into ``model``, in place; returns ``model``.

    Checks, each failure a :class:`PortWeightsError` naming the file: the file's sha256 equals
    ``sha256`` (the README's pin; ``None`` skips the check, for other files of the same layout);
    every key of the file is in :func:`port_key_table` and every key of the table is in the file
    (missing and unexpected keys are listed); the table covers every entry of ``model``'s state
    dict (a model with biases, or another depth, is refused); each tensor's shape equals the
    model's (the key and both shapes are named). Nothing is loaded unless every check passes.
    """
    path = Path(path)
    if not path.is_file():
        raise PortWeightsError(f"{path}: no such weights file (the port's x4 LapSRN is described in "
                               f"{PORT_WEIGHTS.parent / 'README.md'})")
    if sha256 is not None:
        got = file_sha256(path)
        if got != sha256:
            raise PortWeightsError(f"{path}: sha256 {got} differs from the pinned {sha256} "
                                   "(not the file ../shared/weights/README.md describes)")
    state = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise PortWeightsError(f"{path}: expected a plain state_dict (a dict of tensors), got {type(state).__name__}")
    own = model.state_dict()
    table = port_key_table(getattr(model, "n_levels", 2), _depth_of(model))
    missing = [k for k in table if k not in state]
    unexpected = [k for k in state if k not in table]
    if missing or unexpected:
        raise PortWeightsError(f"{path}: keys do not match the port's x4 LapSRN: missing {missing or 'none'}; "
                               f"unexpected {unexpected or 'none'}")
    uncovered = [k for k in own if k not in table.values()]
    absent = [v for v in table.values() if v not in own]
    if uncovered or absent:
        raise PortWeightsError(f"{path}: the model is not the port's network (build it with {PORT_CONFIG}): "
                               f"model keys the port lacks {uncovered or 'none'}; port keys the model lacks "
                               f"{absent or 'none'}")
    for k, ours in table.items():
        if tuple(state[k].shape) != tuple(own[ours].shape):
            raise PortWeightsError(f"{path}: key {k} (-> {ours}) has shape {tuple(state[k].shape)}, "
                                   f"the model expects {tuple(own[ours].shape)}")
    model.load_state_dict({ours: state[k] for k, ours in table.items()}, strict=True)
    return model


def _depth_of(model) -> int:
    feats = model.levels[0].features if len(getattr(model, "levels", ())) else ()
    return sum(isinstance(m, nn.Conv2d) for m in feats)


def pretrained_port(path=PORT_WEIGHTS, sha256: str | None = PORT_SHA256) -> LapSRN:
    """The port's pretrained x4 LapSRN: ``LapSRN(**PORT_CONFIG)`` with :func:`load_port_weights`, in eval mode."""
    return load_port_weights(LapSRN(**PORT_CONFIG), path, sha256).eval()
