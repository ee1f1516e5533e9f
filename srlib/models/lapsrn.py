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


@MODELS.register("lapsrn")
class LapSRN(nn.Module):
    """Feature-extraction branch (``depth`` convs per level at the level's input resolution,
    then a 4x4 stride-2 transposed conv) and image-reconstruction branch (4x4 transposed conv,
    bilinear init, plus the predicted residual), one level per factor 2.

    Paper configuration: depth 10 per level, 64 filters, LeakyReLU 0.2, Y channel
    (``colors=1``), trained with the Charbonnier loss on every level (see ``srlib.losses``).
    ``scale`` must be a power of 2; ``depth`` and ``n_feats`` set the size of every level.

    ``bias=False`` drops every bias (the PyTorch port has none); ``init`` is one of :data:`INITS`.
    The defaults (``bias=True``, ``init="kaiming"``) build the network of every committed run:
    same modules, state-dict keys and initialisation as before these options existed. The port is
    ``scale=4, colors=1, depth=10, n_feats=64, bias=False`` (:data:`PORT_CONFIG`, 870,112 weights),
    with the same forward: level l gives ``HR_l = upsample_image(HR_{l-1}) + residual(F_l)``,
    ``F_l = features(F_{l-1})``, ``F_0 = LReLU(head(x))``, ``HR_0 = x``.
    """

    pre_upsample = False
    paper_colors = 1

    def __init__(self, scale: int = 2, colors: int = 3, depth: int = 10, n_feats: int = 64, bias: bool = True,
                 init: str = "kaiming"):
        super().__init__()
        self.scale = check_scale("lapsrn", scale, (2, 4, 8, 16))
        self.colors = check_colors("lapsrn", colors)
        check_positive("lapsrn", depth=depth, n_feats=n_feats)
        if not isinstance(bias, bool):
            raise ValueError(f"lapsrn: bias={bias!r} must be True or False")
        if init not in INITS:
            raise ValueError(f"lapsrn: init={init!r} is not one of {list(INITS)}")
        self.n_levels = int(round(math.log2(self.scale)))
        self.head = nn.Sequential(nn.Conv2d(colors, n_feats, 3, padding=1, bias=bias), nn.LeakyReLU(0.2, inplace=True))
        self.levels = nn.ModuleList(PyramidLevel(colors, n_feats, depth, bias=bias) for _ in range(self.n_levels))
        if init == "port":
            self._init_port()
            return
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

    def forward_levels(self, lr: torch.Tensor) -> list[torch.Tensor]:
        """SR images of every level: ``[x2, x4, ...]`` (the last one has ``self.scale``)."""
        feats, image, outputs = self.head(lr), lr, []
        for level in self.levels:
            feats, image = level(feats, image)
            outputs.append(image)
        return outputs

    def forward(self, lr: torch.Tensor) -> torch.Tensor:
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
