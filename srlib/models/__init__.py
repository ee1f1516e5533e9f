"""The model zoo: one compact file per architecture, one registry (``MODELS``).

Every model maps an LR batch to an SR batch, ``sr = model(lr)``, for float (N, colors, h, w)
tensors in [0, 1], and has the attributes ``scale``, ``colors`` (1 = Y-channel model, 3 = RGB)
and ``pre_upsample`` (True when the model upsamples with MATLAB bicubic inside ``forward``).
Width/depth arguments let a chapter run a small CPU version and the paper version on a GPU.
"""
from __future__ import annotations

import contextlib

from srlib.registry import Registry

MODELS = Registry("model")


def build(name: str, scale: int = 2, **size):
    """Build a registered model by name, e.g. ``build("edsr-baseline", scale=4, n_resblocks=8)``."""
    _import_all()
    return MODELS.build(name, scale=scale, **size)


def list_models() -> list[str]:
    """Names accepted by :func:`build`."""
    _import_all()
    return MODELS.names()


def paper_colors(name: str) -> int:
    """Channel count of the paper configuration: 1 for the Y-channel models, 3 for RGB ones."""
    _import_all()
    return int(getattr(MODELS.get(name), "paper_colors", 3))


def check_scale(model: str, scale, allowed) -> int:
    """Return ``scale`` as an int, or raise a ValueError that names the allowed scales."""
    allowed = tuple(allowed)
    if isinstance(scale, bool) or not isinstance(scale, (int, float)) or int(scale) != scale or int(scale) not in allowed:
        raise ValueError(f"{model}: scale {scale!r} is not supported; use one of {list(allowed)}")
    return int(scale)


def check_colors(model: str, colors) -> int:
    if isinstance(colors, bool) or colors not in (1, 3):
        raise ValueError(f"{model}: colors {colors!r} is not supported; use 1 (Y channel) or 3 (RGB)")
    return int(colors)


def check_positive(model: str, **values) -> None:
    for key, v in values.items():
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"{model}: {key}={v!r} must be a positive integer")


def bicubic_upsample(x, scale: int):
    """MATLAB bicubic upsampling by ``scale`` (parameter-free first step of pre-upsampling models)."""
    from srlib.degrade import imresize_torch

    return imresize_torch(x, scale=scale)


@contextlib.contextmanager
def eval_mode(model):
    """``with eval_mode(model):`` the model in eval mode, then back in the mode it was in (also on error)."""
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)


def super_resolve(model, lr):
    """``model``'s output for one uint8 RGB LR image (H, W, 3), as float64 RGB in [0, 1] (clamped), no gradient.

    RGB models only (``model.colors == 3``); Y-channel models are scored through
    :func:`srlib.metrics.evaluate_model`.
    """
    import numpy as np
    import torch

    from srlib.degrade import img2tensor, tensor2img

    if int(getattr(model, "colors", 3)) != 3:
        raise ValueError("super_resolve: the model works on Y (colors=1); give an RGB model")
    if lr.ndim != 3 or lr.shape[2] != 3:
        raise ValueError(f"super_resolve: expected an (H, W, 3) RGB image, got shape {lr.shape}")
    if lr.dtype != np.uint8:
        raise ValueError(f"super_resolve: expected a uint8 image, got dtype {lr.dtype}")
    with torch.no_grad():
        out = model(img2tensor(lr))
    return tensor2img(out, dtype=np.float64)


def _import_all():
    import importlib
    import pkgutil

    for mod in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{mod.name}")
