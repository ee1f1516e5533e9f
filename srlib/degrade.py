"""MATLAB-exact bicubic degradation: ``imresize`` (numpy and torch), ``modcrop``, ``rgb2ycbcr``; and
the one uint8 image <-> float tensor conversion, :func:`img2tensor` / :func:`tensor2img`.

``imresize`` reproduces MATLAB's ``imresize(img, scale, 'bicubic')``: cubic kernel with
a = -0.5, kernel widened by 1/s when shrinking (antialiasing), symmetric padding of the
sample indices at the borders, one dimension at a time (the dimension with the smaller scale
first), output size ``ceil(in * scale)``. Each dimension's resampling is a precomputed weight
matrix (MATLAB's "contributions"), so a resize is two matrix products: sparse (CSR) ones in
numpy, dense torch matmuls in ``imresize_torch`` (same weights, cached per (in_size,
out_size, scale) and per dtype/device).

``modcrop`` and ``bicubic_lr`` follow the scale rule of :mod:`srlib.conventions` (integer and
non-integer scales: LR size, HR crop, explicit output shape).

This module imports torch only inside the functions that need it.
"""
from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

from .conventions import Y_COEFFS, Y_OFFSET, as_scale, hr_crop_size, lr_size

__all__ = [
    "cubic",
    "resize_weights",
    "clear_weight_cache",
    "imresize",
    "imresize_uint8",
    "imresize_torch",
    "modcrop",
    "rgb2ycbcr",
    "rgb_to_y_torch",
    "bicubic_lr",
    "round_half_up_uint8",
    "img2tensor",
    "tensor2img",
]

KERNEL_WIDTH = 4.0  # MATLAB's bicubic kernel support


def cubic(x: np.ndarray) -> np.ndarray:
    """Keys cubic convolution kernel with a = -0.5 (MATLAB's ``cubic``)."""
    absx = np.abs(x)
    absx2 = absx * absx
    absx3 = absx2 * absx
    return (1.5 * absx3 - 2.5 * absx2 + 1) * (absx <= 1) + (
        -0.5 * absx3 + 2.5 * absx2 - 4 * absx + 2
    ) * ((absx > 1) & (absx <= 2))


def _check_scale(scale) -> float:
    try:
        s = float(scale)
    except (TypeError, ValueError):
        raise ValueError(f"imresize: scale must be a positive number, got {scale!r}") from None
    if not math.isfinite(s) or s <= 0:
        raise ValueError(f"imresize: scale must be a positive finite number, got {scale!r}")
    return s


@lru_cache(maxsize=512)
def resize_weights(in_size: int, out_size: int, scale: float) -> np.ndarray:
    """Dense (out_size, in_size) float64 matrix of MATLAB's bicubic contributions along one axis.

    Mirrors MATLAB ``contributions``: u = x/s + 0.5(1 - 1/s), P = ceil(width) + 2 taps from
    floor(u - width/2), weights normalised per row, indices folded back symmetrically.
    The returned array is read-only (it is cached and shared).
    """
    if in_size < 1 or out_size < 1:
        raise ValueError(f"imresize: sizes must be >= 1, got in_size={in_size}, out_size={out_size}")
    scale = _check_scale(scale)
    width = KERNEL_WIDTH
    antialias = scale < 1
    if antialias:
        width = KERNEL_WIDTH / scale
    x = np.arange(1, out_size + 1, dtype=np.float64)
    u = x / scale + 0.5 * (1 - 1 / scale)
    left = np.floor(u - width / 2)
    taps = int(math.ceil(width)) + 2
    idx = left[:, None] + np.arange(taps)[None, :]  # 1-based like MATLAB
    dist = u[:, None] - idx
    w = scale * cubic(scale * dist) if antialias else cubic(dist)
    w = w / w.sum(axis=1, keepdims=True)
    # symmetric padding: aux = [1..n, n..1], indices wrap modulo 2n
    aux = np.concatenate([np.arange(in_size), np.arange(in_size - 1, -1, -1)])
    idx0 = aux[np.mod(idx.astype(np.int64) - 1, 2 * in_size)]
    mat = np.zeros((out_size, in_size), dtype=np.float64)
    rows = np.repeat(np.arange(out_size), taps)
    np.add.at(mat, (rows, idx0.ravel()), w.ravel())
    mat.setflags(write=False)
    return mat


@lru_cache(maxsize=512)
def _sparse_weights(in_size: int, out_size: int, scale: float):
    """:func:`resize_weights` as a CSR matrix (only ceil(width) + 2 non-zeros a row): the numpy path."""
    from scipy.sparse import csr_matrix

    return csr_matrix(resize_weights(in_size, out_size, scale))


def _plan(in_hw, scale=None, output_shape=None):
    """MATLAB's output size and per-dimension scales, and the order of dimensions.

    ``scale`` alone: output ``ceil(in * scale)``; ``output_shape`` alone: scales ``out / in`` (MATLAB's
    two forms). Both: the weights use ``scale`` and the output has ``output_shape`` (a non-integer
    downscale whose ``ceil(in * scale)`` is not the size wanted; see :func:`bicubic_lr`).
    """
    if scale is None and output_shape is None:
        raise ValueError("imresize: give scale=, output_shape= or both")
    if output_shape is not None and (len(output_shape) != 2 or any(int(o) < 1 for o in output_shape)):
        raise ValueError(f"imresize: output_shape must be two positive sizes (H, W), got {output_shape!r}")
    if scale is not None:
        if isinstance(scale, (tuple, list)):
            if len(scale) != 2:
                raise ValueError(f"imresize: scale must be a number or (sh, sw), got {scale!r}")
            scales = (_check_scale(scale[0]), _check_scale(scale[1]))
        else:
            s = _check_scale(scale)
            scales = (s, s)
        out_hw = tuple(int(math.ceil(n * s)) for n, s in zip(in_hw, scales))
        if output_shape is not None:
            out_hw = (int(output_shape[0]), int(output_shape[1]))
    else:
        out_hw = (int(output_shape[0]), int(output_shape[1]))
        scales = (out_hw[0] / in_hw[0], out_hw[1] / in_hw[1])
    if min(out_hw) < 1:
        raise ValueError(f"imresize: scale {scale!r} gives an empty output for input size {tuple(in_hw)}")
    order = (0, 1) if scales[0] <= scales[1] else (1, 0)  # MATLAB: argsort(scale), stable
    return out_hw, scales, order


def imresize(img, scale=None, output_shape=None) -> np.ndarray:
    """MATLAB ``imresize(img, scale, 'bicubic')`` on a (H, W) or (H, W, C) array.

    Returns float64 in the input's value range, without rounding or clipping.
    ``scale`` is a number or (sh, sw); or give ``output_shape=(H, W)``; or both (weights from
    ``scale``, size from ``output_shape``).
    """
    a = np.asarray(img)
    if a.ndim not in (2, 3):
        raise ValueError(f"imresize: expected a (H, W) or (H, W, C) image, got shape {a.shape}")
    if a.size == 0:
        raise ValueError(f"imresize: empty image of shape {a.shape}")
    if not (np.issubdtype(a.dtype, np.number) or a.dtype == bool):
        raise ValueError(f"imresize: expected a numeric image, got dtype {a.dtype}")
    a = a.astype(np.float64, copy=False)
    out_hw, scales, order = _plan(a.shape[:2], scale, output_shape)
    for dim in order:
        w = _sparse_weights(a.shape[dim], out_hw[dim], scales[dim])
        moved = np.moveaxis(a, dim, 0)
        rest = moved.shape[1:]
        out = w @ moved.reshape(moved.shape[0], -1)  # sparse (out, in) @ dense (in, rest)
        a = np.moveaxis(np.asarray(out).reshape((out_hw[dim],) + rest), 0, dim)
    return np.ascontiguousarray(a)


def round_half_up_uint8(x) -> np.ndarray:
    """MATLAB's conversion to uint8: round half away from zero, clip to [0, 255]."""
    return np.clip(np.floor(np.asarray(x, dtype=np.float64) + 0.5), 0, 255).astype(np.uint8)


def imresize_uint8(img, scale=None, output_shape=None) -> np.ndarray:
    """``imresize`` rounded and clipped to uint8 like MATLAB on a uint8 image."""
    return round_half_up_uint8(imresize(img, scale=scale, output_shape=output_shape))


_TORCH_WEIGHTS: dict = {}


def _torch_weights(in_size, out_size, scale, dtype, device):
    key = (in_size, out_size, float(scale), dtype, str(device))
    w = _TORCH_WEIGHTS.get(key)
    if w is None:
        import torch

        w = torch.from_numpy(np.array(resize_weights(in_size, out_size, scale))).to(device=device, dtype=dtype)
        if len(_TORCH_WEIGHTS) > 512:
            _TORCH_WEIGHTS.clear()
        _TORCH_WEIGHTS[key] = w
    return w


def clear_weight_cache() -> None:
    """Forget every cached weight matrix (numpy, sparse and torch); for benchmarks and memory."""
    resize_weights.cache_clear()
    _sparse_weights.cache_clear()
    _TORCH_WEIGHTS.clear()


def imresize_torch(x, scale=None, size=None):
    """MATLAB bicubic ``imresize`` of a float (N, C, H, W) tensor (same weights as the numpy path).

    Differentiable; runs on the tensor's device. ``size=(H, W)`` instead of (or with) ``scale`` is
    allowed, as ``output_shape`` in :func:`imresize`.
    """
    import torch

    if not isinstance(x, torch.Tensor):
        raise TypeError(f"imresize_torch: expected a torch.Tensor, got {type(x).__name__}")
    if x.dim() != 4:
        raise ValueError(f"imresize_torch: expected a (N, C, H, W) tensor, got shape {tuple(x.shape)}")
    if x.numel() == 0:
        raise ValueError(f"imresize_torch: empty tensor of shape {tuple(x.shape)}")
    if not x.is_floating_point():
        raise ValueError(f"imresize_torch: expected a float tensor, got {x.dtype}; convert with .float()/255")
    in_hw = (x.shape[-2], x.shape[-1])
    out_hw, scales, order = _plan(in_hw, scale, size)
    for dim in order:
        w = _torch_weights(x.shape[-2 + dim], out_hw[dim], scales[dim], x.dtype, x.device)
        if dim == 0:
            x = torch.matmul(w, x)  # (oh, h) @ (N, C, h, W)
        else:
            x = torch.matmul(x, w.t())  # (N, C, H, w) @ (w, ow)
    return x


def modcrop(img, scale) -> np.ndarray:
    """Crop H and W to :func:`srlib.conventions.hr_crop_size` at ``scale`` (top-left kept).

    Integer ``scale``: multiples of ``scale``, like the SRCNN scripts. Non-integer: ``ceil(floor(H / s) * s)``.
    """
    a = np.asarray(img)
    scale = as_scale(scale, "modcrop")
    if a.ndim not in (2, 3):
        raise ValueError(f"modcrop: expected a (H, W) or (H, W, C) image, got shape {a.shape}")
    if lr_size(a.shape[0], scale) == 0 or lr_size(a.shape[1], scale) == 0:
        raise ValueError(f"modcrop: image of shape {a.shape} is smaller than scale {scale}")
    return a[: hr_crop_size(a.shape[0], scale), : hr_crop_size(a.shape[1], scale)]


_CBCR = ((-37.797, -74.203, 112.0), (112.0, -93.786, -18.214))


def _rgb01(img, who):
    a = np.asarray(img)
    if a.ndim != 3 or a.shape[2] != 3:
        raise ValueError(f"{who}: expected an RGB (H, W, 3) image, got shape {a.shape}")
    if a.size == 0:
        raise ValueError(f"{who}: empty image of shape {a.shape}")
    if a.dtype == np.uint8:
        return a.astype(np.float64) / 255.0
    if np.issubdtype(a.dtype, np.floating):
        return a.astype(np.float64, copy=False)
    raise ValueError(f"{who}: expected uint8 or float in [0, 1], got dtype {a.dtype}")


def rgb2ycbcr(img, only_y: bool = True) -> np.ndarray:
    """MATLAB ``rgb2ycbcr`` (BT.601) for uint8 or float [0, 1] RGB, returned unrounded in uint8 scale.

    ``only_y=True``: float64 (H, W) Y in [16, 235]; else float64 (H, W, 3) Y, Cb, Cr.
    Round with :func:`round_half_up_uint8` to get what MATLAB returns for a uint8 image.
    """
    rgb = _rgb01(img, "rgb2ycbcr")
    y = rgb @ np.asarray(Y_COEFFS) + Y_OFFSET
    if only_y:
        return y
    cb = rgb @ np.asarray(_CBCR[0]) + 128.0
    cr = rgb @ np.asarray(_CBCR[1]) + 128.0
    return np.stack([y, cb, cr], axis=-1)


def rgb_to_y_torch(x01):
    """Y/255 (N, 1, H, W) in [0, 1] from a float RGB (N, 3, H, W) tensor in [0, 1]."""
    import torch

    if not isinstance(x01, torch.Tensor) or x01.dim() != 4 or x01.shape[1] != 3:
        shape = tuple(x01.shape) if hasattr(x01, "shape") else type(x01).__name__
        raise ValueError(f"rgb_to_y_torch: expected a (N, 3, H, W) tensor, got {shape}")
    c = torch.tensor(Y_COEFFS, dtype=x01.dtype, device=x01.device).view(1, 3, 1, 1) / 255.0
    return (x01 * c).sum(dim=1, keepdim=True) + Y_OFFSET / 255.0


def bicubic_lr(hr_uint8, scale) -> np.ndarray:
    """LR uint8 = MATLAB ``imresize(modcrop(HR, s), 1/s)`` rounded (the benchmark LR releases).

    The output shape is given explicitly as :func:`srlib.conventions.lr_size` of the HR size (for an
    integer scale it is MATLAB's own ``ceil``, so nothing changes; for a non-integer one ``ceil`` could
    give one pixel more). The weights always use the scale ``1/s``.
    """
    a = np.asarray(hr_uint8)
    if a.dtype != np.uint8:
        raise ValueError(f"bicubic_lr: expected a uint8 HR image, got dtype {a.dtype}")
    s = as_scale(scale, "bicubic_lr")
    hr = modcrop(a, s)
    return imresize_uint8(hr, 1.0 / s, output_shape=(lr_size(hr.shape[0], s), lr_size(hr.shape[1], s)))


# ----------------------------------------------------------------------------- numpy <-> torch


def img2tensor(img):
    """Image(s) as numpy -> float32 torch tensor, channels first, in [0, 1] (the model-side convention).

    (H, W, C) -> (1, C, H, W); (N, H, W, C) -> (N, C, H, W); (H, W) -> (1, 1, H, W); C is 1 or 3.
    uint8 is divided by 255 (in float32, exactly ``torch.from_numpy(a).float().div(255)``); a float
    array is taken as already in [0, 1] and only cast to float32 (e.g. ``rgb2ycbcr(lr) / 255``).
    Always a new tensor (never a view of ``img``). Inverse: :func:`tensor2img`.
    """
    import torch

    a = np.asarray(img)
    if a.ndim not in (2, 3, 4) or (a.ndim > 2 and a.shape[-1] not in (1, 3)):
        raise ValueError(f"img2tensor: expected (H, W), (H, W, C) or (N, H, W, C) with C = 1 or 3, got shape {a.shape}")
    if a.dtype != np.uint8 and not np.issubdtype(a.dtype, np.floating):
        raise ValueError(f"img2tensor: expected uint8 (0..255) or float (0..1) pixels, got dtype {a.dtype}")
    if a.ndim == 2:
        a = a[None, :, :, None]
    elif a.ndim == 3:
        a = a[None]
    x = torch.from_numpy(np.ascontiguousarray(a.transpose(0, 3, 1, 2)))
    return x.float().div_(255) if a.dtype == np.uint8 else x.to(torch.float32, copy=True)


def tensor2img(x, dtype=np.uint8):
    """Float torch tensor in [0, 1], channels first -> numpy image(s), channels last: the inverse of :func:`img2tensor`.

    (1, C, H, W) or (C, H, W) -> (H, W, C); (N, C, H, W) with N > 1 -> (N, H, W, C); C = 1 is dropped
    ((H, W) Y or grey). Values are clamped to [0, 1]; ``dtype=np.uint8`` (default) rounds them to
    0..255 (``torch.round(x.clamp(0, 1) * 255)``, as a saved image), a float dtype keeps them in
    [0, 1]. Detached and moved to the CPU first.
    """
    import torch

    if not isinstance(x, torch.Tensor):
        raise TypeError(f"tensor2img: expected a torch.Tensor, got {type(x).__name__}")
    if x.dim() not in (3, 4) or x.shape[-3] not in (1, 3):
        raise ValueError(f"tensor2img: expected (C, H, W) or (N, C, H, W) with C = 1 or 3, got shape {tuple(x.shape)}")
    if not x.is_floating_point():
        raise ValueError(f"tensor2img: expected a float tensor in [0, 1], got {x.dtype}")
    dtype = np.dtype(dtype)
    if dtype != np.uint8 and not np.issubdtype(dtype, np.floating):
        raise ValueError(f"tensor2img: dtype must be uint8 or a float type, got {dtype}")
    x = x.detach()
    if x.dim() == 4 and x.shape[0] == 1:
        x = x[0]
    x = x.clamp(0, 1)
    if dtype == np.uint8:
        a = torch.round(x * 255).to(torch.uint8).cpu().numpy()
    else:
        a = x.cpu().numpy().astype(dtype)
    a = np.moveaxis(a, -3, -1)
    return np.ascontiguousarray(a[..., 0] if a.shape[-1] == 1 else a)
