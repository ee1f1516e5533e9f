"""PSNR, SSIM, SSIM maps, image entropy, the evaluation protocols and the bicubic table.

Three protocols for the bicubic baseline (and for how the papers' tables were measured):

``"srcnn"``  (SRCNN/VDSR/LapSRN MATLAB scripts)
    Y = ``rgb2ycbcr(HR)`` rounded to uint8; ``modcrop(Y, s)``; LR = ``imresize(Y/255, 1/s)``
    kept float; SR = ``imresize(LR, s)`` rounded to uint8; shave ``s`` pixels; PSNR (peak 255)
    and SSIM (Wang 2004, valid) on Y. Grayscale HR images (Set14 ``bridge``) are used directly
    as Y (``GRAY_HANDLING = "gray-as-y"``), as ``rgb2ycbcr`` is skipped for 2-D images in those
    scripts. Replicating to RGB first compresses the grey range to [16, 235]; measured on
    Set14 (bicubic, srcnn): gray-as-y 30.2318/27.5405/26.0001 dB at x2/x3/x4 vs the paper's
    30.24/27.55/26.00, replicate-to-RGB 30.3259/27.6347/26.0944 (off by 0.09 dB).

``"basicsr"``  (EDSR-PyTorch / BasicSR style)
    ``modcrop(HR, s)``; LR = ``imresize`` of the RGB uint8 image rounded to uint8 (the released
    LR images); SR = ``imresize(LR, s)`` rounded to uint8; float Y = RGB/255 . [65.481, 128.553,
    24.966] + 16 (not rounded); shave ``s``; PSNR and SSIM on Y.

``"pspl-code"``  (the PSPL authors' code, an EDSR-PyTorch fork; integer scales only)
    HR whose width or height is not a multiple of ``s`` is *resized* with PIL bicubic to the
    nearest smaller multiple (not cropped); LR = PIL bicubic of that HR (``mkdata.py``;
    :func:`pspl_code_pair`). Scores (:func:`pspl_code_scores`): PSNR on Y without the +16
    offset, coefficients [65.738, 129.057, 25.064]/256, shave ``s``; SSIM ``pytorch_ssim`` (11x11
    Gaussian, zero padding, mean of the same-size map, no shave, C1 = 1e-4, C2 = 9e-4) on that Y
    / 255 for RGB models, on 0.8588 * Y/255 (``rgb2ycbcr`` Y, with offset) for Y-channel models.
    Grey images are replicated to RGB for RGB models (the fork's ``set_channel``) and used as Y
    for Y-channel models. The bicubic baseline upsamples with MATLAB ``imresize`` like the others.
"""
from __future__ import annotations

import math
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .conventions import PSNR_PEAK, SSIM_K1, SSIM_K2, SSIM_SIGMA, SSIM_WINDOW
from .conventions import shave as shave_of
from .degrade import img2tensor, imresize, imresize_uint8, modcrop, rgb2ycbcr, rgb_to_y_torch, round_half_up_uint8, tensor2img
from .registry import Registry

__all__ = [
    "PROTOCOLS",
    "PROTOCOL_OF_TABLE",
    "GRAY_HANDLING",
    "psnr",
    "psnr_rgb",
    "ssim",
    "METRICS",
    "register_metric",
    "is_set_level",
    "ssim_map",
    "SSIM_MAP_PADDINGS",
    "entropy",
    "evaluate_sr",
    "evaluate_model",
    "psnr_y_torch",
    "bicubic_image",
    "bicubic_table",
    "pspl_code_pair",
    "pspl_code_scores",
    "cli_commands",
]

PROTOCOLS = ("srcnn", "basicsr", "pspl-code")
GRAY_HANDLING = "gray-as-y"  # grey images: grey values are Y (SRCNN scripts); see bicubic_image

# Which protocol each paper table was measured with.
PROTOCOL_OF_TABLE = {
    # FD loss Table 2: its Bicubic rows are the SRCNN/VDSR/LapSRN MATLAB numbers (Set5 x2
    # 33.66/0.9299, x4 28.42/0.8104 are reproduced to the digit only by "srcnn"), and its
    # SRCNN/VDSR/LapSRN rows are copied from those papers, which evaluate on MATLAB Y.
    ("fdloss", "Table 2"): "srcnn",
    # FD loss Table 1: same LapSRN x4 numbers as Table 2 (Baseline, +FD Loss), same protocol.
    ("fdloss", "Table 1"): "srcnn",
    # PSPL Table 1: the authors' code is an EDSR-PyTorch fork: models fed the released uint8
    # RGB LR images, PSNR on float Y computed from RGB, shave = scale -> "basicsr".
    ("pspl", "Table 1"): "basicsr",
}


# ----------------------------------------------------------------------------- numpy metrics

def _pair(a, b, who, shave):
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"{who}: images differ in shape {a.shape} vs {b.shape}")
    if a.ndim != 2:
        raise ValueError(f"{who}: expected 2-D (H, W) images (e.g. the Y channel), got shape {a.shape}")
    return _shaved(a, b, who, shave)


def _shaved(a, b, who, shave):
    """``a``, ``b`` without ``shave`` pixels on each border (a clear error for a negative or too large shave)."""
    shave = int(shave)
    if shave < 0:
        raise ValueError(f"{who}: shave must be >= 0, got {shave}")
    if shave:
        a, b = a[shave:-shave, shave:-shave], b[shave:-shave, shave:-shave]
    if a.size == 0:
        raise ValueError(f"{who}: nothing left after shaving {shave} pixels from shape {np.shape(a)}")
    return a, b


def psnr(a, b, peak: float = PSNR_PEAK, shave: int = 0) -> float:
    """PSNR in dB between two 2-D arrays (values in 0..peak); ``inf`` when identical."""
    a, b = _pair(a, b, "psnr", shave)
    mse = float(np.mean((a - b) ** 2))
    return math.inf if mse == 0 else 10.0 * math.log10(peak * peak / mse)


def psnr_rgb(a, b, shave: int = 0) -> float:
    """PSNR in dB (peak 255) between two uint8 images of one shape, (H, W, 3) RGB or (H, W), over every
    channel; ``shave`` pixels are cut from each border first; ``inf`` when identical. For orientation
    (crops, figure titles): the protocol metric is PSNR on Y (:data:`METRICS` ``"psnr"``)."""
    a, b = np.asarray(a), np.asarray(b)
    if a.dtype != np.uint8 or b.dtype != np.uint8:
        raise ValueError(f"psnr_rgb: expected uint8 images, got {a.dtype} and {b.dtype}")
    if a.shape != b.shape or a.ndim not in (2, 3):
        raise ValueError(f"psnr_rgb: expected two (H, W, 3) or (H, W) images of one shape, got {a.shape} and {b.shape}")
    a, b = _shaved(a, b, "psnr_rgb", shave)
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return math.inf if mse == 0 else 10.0 * math.log10(255.0 * 255.0 / mse)


def _gaussian_1d(window: int, sigma: float) -> np.ndarray:
    x = np.arange(window, dtype=np.float64) - (window - 1) / 2
    g = np.exp(-(x * x) / (2 * sigma * sigma))
    return g / g.sum()


def ssim(a, b, shave: int = 0, data_range: float = 255.0) -> float:
    """Mean SSIM (Wang et al. 2004, reference ``ssim_index.m``): Gaussian 11, sigma 1.5, valid region."""
    from scipy.ndimage import correlate1d

    a, b = _pair(a, b, "ssim", shave)
    win = SSIM_WINDOW
    if min(a.shape) < win:
        raise ValueError(f"ssim: images of shape {a.shape} are smaller than the {win}x{win} window")
    g = _gaussian_1d(win, SSIM_SIGMA)
    r = win // 2

    def filt(x):  # separable filter2(window, x, 'valid') over a stack (K, H, W)
        y = correlate1d(correlate1d(x, g, axis=1, mode="constant"), g, axis=2, mode="constant")
        return y[:, r:-r, r:-r]

    c1 = (SSIM_K1 * data_range) ** 2
    c2 = (SSIM_K2 * data_range) ** 2
    mu1, mu2, e11, e22, e12 = filt(np.stack([a, b, a * a, b * b, a * b]))
    mu1_sq, mu2_sq, mu12 = mu1 * mu1, mu2 * mu2, mu1 * mu2
    s1 = e11 - mu1_sq
    s2 = e22 - mu2_sq
    s12 = e12 - mu12
    m = ((2 * mu12 + c1) * (2 * s12 + c2)) / ((mu1_sq + mu2_sq + c1) * (s1 + s2 + c2))
    return float(m.mean())


def entropy(img) -> float:
    """Shannon entropy (bits) of the 256-bin histogram of an 8-bit grey image.

    uint8 (H, W) is used as is; (H, W, 3) RGB is turned grey with MATLAB ``rgb2gray`` weights
    (0.2989, 0.5870, 0.1140, rounded); float input must be in [0, 1] (scaled by 255, rounded).
    """
    a = np.asarray(img)
    if a.size == 0:
        raise ValueError(f"entropy: empty image of shape {a.shape}")
    if np.issubdtype(a.dtype, np.floating):
        if a.min() < 0 or a.max() > 1:
            raise ValueError("entropy: float images must be in [0, 1]; pass uint8 for 0..255 data")
        a = round_half_up_uint8(a * 255.0)
    elif a.dtype != np.uint8:
        raise ValueError(f"entropy: expected uint8 or float in [0, 1], got dtype {a.dtype}")
    if a.ndim == 3 and a.shape[2] == 3:
        a = round_half_up_uint8(a.astype(np.float64) @ np.array([0.2989, 0.5870, 0.1140]))
    elif a.ndim != 2:
        raise ValueError(f"entropy: expected a (H, W) or (H, W, 3) image, got shape {a.shape}")
    p = np.bincount(a.ravel(), minlength=256).astype(np.float64)
    p = p[p > 0] / a.size
    return float(-(p * np.log2(p)).sum()) + 0.0


# ----------------------------------------------------------------------------- torch metrics

_WINDOWS: dict = {}


def _window_torch(window, sigma, channels, dtype, device):
    key = (window, float(sigma), channels, dtype, str(device))
    w = _WINDOWS.get(key)
    if w is None:
        import torch

        g = torch.from_numpy(_gaussian_1d(window, sigma)).to(device=device, dtype=dtype)
        w = (g.view(1, 1, window, 1).repeat(channels, 1, 1, 1), g.view(1, 1, 1, window).repeat(channels, 1, 1, 1))
        if len(_WINDOWS) > 64:
            _WINDOWS.clear()
        _WINDOWS[key] = w
    return w


SSIM_MAP_PADDINGS = ("zero", "reflect")


def ssim_map(x, y, window: int = SSIM_WINDOW, sigma: float = SSIM_SIGMA, data_range: float = 1.0, c1=None, c2=None,
             padding: str = "zero"):
    """Per-pixel, per-channel SSIM of two (N, C, H, W) tensors, same size as the input.

    Separable Gaussian (window x 1 then 1 x window) as grouped convolutions. ``padding`` says
    what the window sees beyond the border (``window // 2`` pixels): ``"zero"`` (default; what
    ``pytorch_ssim`` and the PSPL authors' code do: zeros pull both local means down and add
    spurious local variance, so M_s within ``window // 2`` of the border is biased, usually
    upwards) or ``"reflect"`` (mirrored pixels, no edge repeated; needs H, W > ``window // 2``).
    ``c1``/``c2`` default to (0.01 L)^2 and (0.03 L)^2 with L = ``data_range``;
    pass them explicitly to copy code that used other constants (PSPL: [0, 255] data with
    [0, 1] constants, c1 = 1e-4, c2 = 9e-4). Differentiable.
    """
    import torch
    import torch.nn.functional as F

    if x.shape != y.shape or x.dim() != 4:
        raise ValueError(f"ssim_map: expected two (N, C, H, W) tensors of one shape, got {tuple(x.shape)} and {tuple(y.shape)}")
    if window < 1 or window % 2 == 0:
        raise ValueError(f"ssim_map: window must be a positive odd size, got {window}")
    if c1 is None:
        c1 = (SSIM_K1 * data_range) ** 2
    if c2 is None:
        c2 = (SSIM_K2 * data_range) ** 2
    if padding not in SSIM_MAP_PADDINGS:
        raise ValueError(f"ssim_map: padding must be one of {SSIM_MAP_PADDINGS}, got {padding!r}")
    c = x.shape[1]
    pad = window // 2
    wv, wh = _window_torch(window, sigma, c, x.dtype, x.device)
    if padding == "reflect":
        if min(x.shape[-2:]) <= pad:
            raise ValueError(f"ssim_map: padding='reflect' needs images larger than {pad} px (window {window}), "
                             f"got {tuple(x.shape[-2:])}; use padding='zero' or a larger image")
        x, y = F.pad(x, (pad,) * 4, mode="reflect"), F.pad(y, (pad,) * 4, mode="reflect")
        conv_pad = 0
    else:
        conv_pad = pad

    def blur(t):  # separable Gaussian per channel; five calls timed no slower than one on a cat, and copy less
        return F.conv2d(F.conv2d(t, wv, padding=(conv_pad, 0), groups=c), wh, padding=(0, conv_pad), groups=c)

    mu1, mu2 = blur(x), blur(y)
    exx, eyy, exy = blur(x * x), blur(y * y), blur(x * y)
    mu1_sq, mu2_sq, mu12 = mu1 * mu1, mu2 * mu2, mu1 * mu2
    num = (2 * mu12 + c1) * (2 * (exy - mu12) + c2)
    den = (mu1_sq + mu2_sq + c1) * ((exx - mu1_sq) + (eyy - mu2_sq) + c2)
    return num / den


def psnr_y_torch(sr, hr, scale: int):
    """Per-image PSNR (dB, a (N,) tensor) on Y for batches in [0, 1], shave = ``scale``.

    (N, 3, H, W) RGB is converted with :func:`srlib.degrade.rgb_to_y_torch`; (N, 1, H, W) is
    taken as Y/255. SR is clamped and rounded to 8 bits first, like a saved image.
    """
    import torch

    if sr.shape != hr.shape or sr.dim() != 4 or sr.shape[1] not in (1, 3):
        raise ValueError(f"psnr_y_torch: expected two (N, 1|3, H, W) tensors of one shape, got {tuple(sr.shape)} and {tuple(hr.shape)}")
    with torch.no_grad():
        sr = torch.round(sr.detach().clamp(0, 1) * 255) / 255
        hr = hr.detach()
        if sr.shape[1] == 3:
            sr, hr = rgb_to_y_torch(sr), rgb_to_y_torch(hr)
        s = int(scale)
        if s > 0:
            sr, hr = sr[..., s:-s, s:-s], hr[..., s:-s, s:-s]
        if sr.numel() == 0:
            raise ValueError(f"psnr_y_torch: nothing left after shaving {s} pixels")
        mse = ((sr - hr) * 255).double().pow(2).mean(dim=(1, 2, 3))
        return 10 * torch.log10(PSNR_PEAK**2 / mse)


# ----------------------------------------------------------------------------- protocols

def _y_of(img):
    a = np.asarray(img)
    if a.ndim == 2:
        return a.astype(np.float64)
    return rgb2ycbcr(a, only_y=True)


# ----------------------------------------------------------------------------- the metrics registry
#: Metrics an evaluation can log, by name (``config["eval"]["metrics"]``, default ``["psnr", "ssim"]``).
#: A metric is either **per image**, ``fn(sr, hr, scale) -> float``, averaged over the set, or
#: **set-level** (``fn.set_level = True``), ``fn(srs, hrs, scale) -> float`` over the lists of every
#: image of the set at once (e.g. FID). ``sr``/``hr`` are one image each as the protocol scores it:
#: (H, W, 3) uint8 RGB for RGB models; for Y-channel models (H, W) Y, SR as uint8 and HR as float64
#: ``rgb2ycbcr`` Y (the 2-D case is taken as Y). Register with :func:`register_metric`.
METRICS = Registry("metric")


def register_metric(name: str | None = None, *, set_level: bool = False):
    """Decorator: ``@register_metric("fid", set_level=True)`` puts a metric in :data:`METRICS`
    (``fn.set_level`` is the flag :func:`evaluate_model` reads)."""

    def deco(fn):
        fn.set_level = bool(set_level)
        return METRICS.register(name)(fn)

    return deco


def is_set_level(metric) -> bool:
    """Whether a registered metric takes the whole set (lists of images) rather than one image."""
    return bool(getattr(metric, "set_level", False))


@register_metric("psnr")
def y_psnr(sr, hr, scale) -> float:
    """The book protocol's PSNR: on Y (``rgb2ycbcr``; 2-D input is Y), peak 255, ``scale`` pixels shaved."""
    return psnr(_y_of(sr), _y_of(hr), shave=shave_of(scale))


@register_metric("ssim")
def y_ssim(sr, hr, scale) -> float:
    """The book protocol's SSIM: on Y (``rgb2ycbcr``; 2-D input is Y), Wang et al. 2004, ``scale`` pixels shaved."""
    return ssim(_y_of(sr), _y_of(hr), shave=shave_of(scale))


@register_metric("psnr_rgb_div2k")
def rgb_psnr_div2k(sr, hr, scale) -> float:
    """EDSR-PyTorch's validation PSNR on DIV2K (``benchmark=False`` in its ``calc_psnr``): on RGB, peak 255,
    ``scale + 6`` pixels shaved. The PSPL paper's Fig. 4 threshold (34.4 dB) is this number; RGB models only."""
    sr, hr = np.asarray(sr), np.asarray(hr)
    if sr.ndim != 3 or hr.ndim != 3:
        raise ValueError("psnr_rgb_div2k: needs (H, W, 3) RGB images (an RGB model); Y-channel models have no RGB output")
    return psnr_rgb(sr, np.round(hr).astype(np.uint8) if hr.dtype != np.uint8 else hr, shave=shave_of(scale) + 6)


def _rgb_set(images, who):
    """The set as uint8 (H, W, 3) RGB for Inception; the Y-channel protocol's 2-D images are refused."""
    out = [np.asarray(a) for a in images]
    for a in out:
        if a.ndim != 3 or a.shape[2] != 3 or a.dtype != np.uint8:
            raise ValueError(f"{who}: needs uint8 (H, W, 3) RGB images (RGB models), got {a.dtype} {a.shape}; "
                             f"FID/KID are not defined here for Y-channel models")
    return out


@register_metric("fid", set_level=True)
def set_fid(srs, hrs, scale) -> float:
    """FID of the SR set against the HR set (:func:`srlib.fid.fid`: pytorch-fid's Inception, pool3, each image
    resized bilinearly to 299x299 as ``python -m pytorch_fid`` does; ``scale`` unused). Biased at small N."""
    from . import fid

    return fid.fid(_rgb_set(srs, "fid"), _rgb_set(hrs, "fid"))


@register_metric("kid", set_level=True)
def set_kid(srs, hrs, scale) -> float:
    """KID (unbiased, polynomial kernel) of the SR set against the HR set, from the same features as ``fid``."""
    from . import fid

    return fid.kid(_rgb_set(srs, "kid"), _rgb_set(hrs, "kid"))


def evaluate_sr(sr_rgb_uint8, hr_rgb_uint8, scale: int) -> dict:
    """PSNR and SSIM on float Y (``rgb2ycbcr``) with ``ceil(scale)`` pixels shaved; 2-D inputs are taken as Y."""
    sr, hr = np.asarray(sr_rgb_uint8), np.asarray(hr_rgb_uint8)
    if sr.shape != hr.shape:
        raise ValueError(f"evaluate_sr: SR shape {sr.shape} differs from HR shape {hr.shape}")
    ys, yh = _y_of(sr), _y_of(hr)
    return {"psnr": psnr(ys, yh, shave=shave_of(scale)), "ssim": ssim(ys, yh, shave=shave_of(scale))}


def evaluate_model(model, set_name: str, scale: int, device="cpu", max_images=None,
                   metrics: Sequence[str] = ("psnr", "ssim"), protocol: str | None = None) -> dict:
    """``metrics`` (names in :data:`METRICS`) of ``model`` on a test set (LR from :func:`srlib.data.lr_pairs`).

    Y models (``model.colors == 1``) get Y/255 of the LR image and are scored on Y; RGB models
    get RGB in [0, 1]. Output is clamped and rounded to uint8 before scoring. Returns
    ``{metric: value, ..., "per_image": [{"image", metric, ...}]}`` in the order of ``metrics``:
    per-image metrics averaged over the set, set-level ones computed on the whole set
    (``per_image`` holds the per-image metrics only).

    ``protocol=None`` is the book's protocol above; ``"pspl-code"`` scores the model as the PSPL
    authors' code does (HR resized, PIL LR, :func:`pspl_code_scores`; metrics ``psnr``/``ssim`` only).
    """
    import torch

    from . import data
    from .models import eval_mode

    if protocol == "pspl-code":
        return _evaluate_model_pspl_code(model, set_name, scale, device, max_images, metrics)
    if protocol is not None:
        raise ValueError(f"evaluate_model: protocol must be None (the book's) or 'pspl-code', got {protocol!r}")
    fns = {name: METRICS.get(name) for name in metrics}
    if not fns:
        raise ValueError("evaluate_model: give at least one metric")
    whole_set = any(is_set_level(f) for f in fns.values())

    pairs = data.lr_pairs(set_name, scale)
    if max_images is not None:
        pairs = pairs[: int(max_images)]
    if not pairs:
        raise ValueError(f"evaluate_model: no images in set {set_name!r}")
    colors = int(getattr(model, "colors", 3))
    per_image, srs, refs = [], [], []
    with eval_mode(model):
        with torch.no_grad():
            for stem, lr, hr in pairs:
                inp = img2tensor(rgb2ycbcr(lr) / 255.0 if colors == 1 else lr)
                sr = tensor2img(model(inp.to(device)))  # uint8, (H, W) for Y models
                ref = rgb2ycbcr(hr) if colors == 1 else hr
                if sr.shape[:2] != ref.shape[:2]:
                    raise ValueError(
                        f"evaluate_model: {set_name}/{stem}: SR size {sr.shape[:2]} differs from HR {ref.shape[:2]}"
                    )
                m = {name: float(f(sr, ref, scale)) for name, f in fns.items() if not is_set_level(f)}
                per_image.append({"image": stem, **m})
                if whole_set:
                    srs.append(sr)
                    refs.append(ref)
    out = {name: float(f(srs, refs, scale)) if is_set_level(f) else float(np.mean([r[name] for r in per_image]))
           for name, f in fns.items()}
    out["per_image"] = per_image
    return out


# ----------------------------------------------------------------------------- the PSPL authors' code
#: Y without offset of EDSR-PyTorch's ``calc_psnr``/``calc_ssim``: RGB . PSPL_CODE_Y / 256
PSPL_CODE_Y = (65.738, 129.057, 25.064)
#: ``pytorch_ssim`` constants (for data in [0, 1])
PSPL_CODE_C1, PSPL_CODE_C2 = 0.01**2, 0.03**2


def _pspl_code_scale(scale) -> int:
    s = float(scale)
    if s != int(s) or s < 1:
        raise ValueError(f"protocol 'pspl-code' takes an integer scale >= 1 (the authors' code), got {scale!r}")
    return int(s)


def pspl_code_pair(hr, scale):
    """(LR, HR) uint8 of one image as the PSPL authors' ``mkdata.py`` prepares a benchmark image: an HR whose
    width or height is not a multiple of ``scale`` is resized with PIL bicubic to the nearest smaller multiple
    (every B100 image at x4: 481x321 -> 480x320), else kept; LR = PIL bicubic of that HR to 1/scale.
    ``hr``: uint8 (H, W, 3) or (H, W) grey (kept grey, as PIL resizes mode L)."""
    from PIL import Image

    s = _pspl_code_scale(scale)
    hr = np.asarray(hr)
    if hr.dtype != np.uint8 or hr.ndim not in (2, 3):
        raise ValueError(f"pspl_code_pair: expected a uint8 (H, W, 3) or (H, W) image, got {hr.dtype} {hr.shape}")
    h, w = hr.shape[:2]
    nh, nw = h - h % s, w - w % s
    if nh < s or nw < s:
        raise ValueError(f"pspl_code_pair: image {h}x{w} is smaller than the scale {s}")
    im = Image.fromarray(np.ascontiguousarray(hr))
    if (nh, nw) != (h, w):
        im = im.resize((nw, nh), Image.BICUBIC)
    lr = im.resize((nw // s, nh // s), Image.BICUBIC)
    return np.asarray(lr).copy(), np.asarray(im).copy()


def pspl_code_scores(sr, hr, scale, colors: int = 3) -> dict:
    """PSNR and SSIM as the PSPL authors' code scores a benchmark image (``utility.calc_psnr``/``calc_ssim``).

    ``colors=3`` (RGB models): ``sr``, ``hr`` uint8 (H, W, 3); Y0 = RGB . [65.738, 129.057, 25.064] / 256 (no
    offset). ``colors=1`` (Y-channel models): ``sr`` (H, W) Y as the model's rounded output, ``hr`` (H, W) float
    ``rgb2ycbcr`` Y (with offset). PSNR (peak 255) on Y0 (resp. Y) with ``scale`` pixels shaved; SSIM = mean of
    :func:`ssim_map` (zero padding, whole image, no shave, C1 = 1e-4, C2 = 9e-4) on Y0/255 (resp. on
    0.8588 * Y/255, as the fork multiplies a 1-channel image by the sum of the coefficients)."""
    s = _pspl_code_scale(scale)
    a, b = np.asarray(sr, dtype=np.float64), np.asarray(hr, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"pspl_code_scores: SR shape {a.shape} differs from HR shape {b.shape}")
    coeffs = np.asarray(PSPL_CODE_Y) / 256.0
    if colors == 3:
        if a.ndim != 3 or a.shape[2] != 3:
            raise ValueError(f"pspl_code_scores: colors=3 takes (H, W, 3) images, got {a.shape}")
        ya, yb = a @ coeffs, b @ coeffs
        p = psnr(ya, yb, shave=s)
    elif colors == 1:
        if a.ndim != 2:
            raise ValueError(f"pspl_code_scores: colors=1 takes (H, W) Y images, got {a.shape}")
        p = psnr(a, b, shave=s)  # one channel: the fork's calc_psnr takes the difference as it is
        ya, yb = a * coeffs.sum(), b * coeffs.sum()
    else:
        raise ValueError(f"pspl_code_scores: colors must be 1 or 3, got {colors!r}")
    return {"psnr": p, "ssim": _ssim_zero_padded(ya / 255.0, yb / 255.0, PSPL_CODE_C1, PSPL_CODE_C2)}


def _ssim_zero_padded(a, b, c1: float, c2: float) -> float:
    """Mean of the same-size SSIM map of two 2-D arrays with zeros beyond the border (what :func:`ssim_map`
    with ``padding="zero"`` computes, in numpy: several times faster on whole test images)."""
    from scipy.ndimage import correlate1d

    g = _gaussian_1d(SSIM_WINDOW, SSIM_SIGMA)
    x = np.stack([a, b, a * a, b * b, a * b])
    mu1, mu2, e11, e22, e12 = correlate1d(correlate1d(x, g, axis=1, mode="constant"), g, axis=2, mode="constant")
    mu12 = mu1 * mu2
    m = ((2 * mu12 + c1) * (2 * (e12 - mu12) + c2)) / ((mu1 * mu1 + mu2 * mu2 + c1) * (e11 - mu1 * mu1 + e22 - mu2 * mu2 + c2))
    return float(m.mean())


def _evaluate_model_pspl_code(model, set_name, scale, device, max_images, metrics) -> dict:
    """:func:`evaluate_model` under ``protocol="pspl-code"`` (whole images of ``set_name``, :func:`pspl_code_pair`)."""
    import torch

    from . import data
    from .models import eval_mode

    if not metrics or not set(metrics) <= {"psnr", "ssim"}:
        raise ValueError(f"evaluate_model(protocol='pspl-code') scores psnr and ssim only, got {list(metrics)}")
    s = _pspl_code_scale(scale)
    paths = data.list_images(set_name)[: None if max_images is None else int(max_images)]
    if not paths:
        raise ValueError(f"evaluate_model: no images in set {set_name!r}")
    colors = int(getattr(model, "colors", 3))
    per_image = []
    with eval_mode(model):
        with torch.no_grad():
            for path in paths:
                lr, hr = pspl_code_pair(data.load_image(path, keep_gray=True), s)
                if colors == 1:  # the fork: grey used as Y, colour through skimage rgb2ycbcr (float Y)
                    lr, ref = [x.astype(np.float64) if x.ndim == 2 else rgb2ycbcr(x) for x in (lr, hr)]
                    inp = img2tensor(lr / 255.0)
                else:  # the fork replicates grey to 3 channels
                    lr, ref = [np.repeat(x[:, :, None], 3, axis=2) if x.ndim == 2 else x for x in (lr, hr)]
                    inp = img2tensor(lr)
                sr = tensor2img(model(inp.to(device)))
                if sr.shape[:2] != ref.shape[:2]:
                    raise ValueError(f"evaluate_model: {set_name}/{path.stem}: SR size {sr.shape[:2]} differs from "
                                     f"HR {ref.shape[:2]}")
                m = pspl_code_scores(sr, ref, s, colors)
                per_image.append({"image": path.stem, **{k: m[k] for k in metrics}})
    out = {k: float(np.mean([r[k] for r in per_image])) for k in metrics}
    out["per_image"] = per_image
    return out


def bicubic_image(hr, scale: int, protocol: str = "srcnn") -> dict:
    """Bicubic-baseline PSNR/SSIM of one HR image (uint8 (H, W, 3), or (H, W) grey) under ``protocol``.

    A 2-D grey image is used directly as Y (``GRAY_HANDLING``) in "srcnn" and "basicsr"; "pspl-code" scores
    bicubic as the authors' code scores an RGB model (grey replicated to RGB; upsampling by MATLAB ``imresize``).
    """
    hr = np.asarray(hr)
    if hr.dtype != np.uint8:
        raise ValueError(f"bicubic_image: expected a uint8 image, got dtype {hr.dtype}")
    if protocol == "srcnn":
        y = hr.astype(np.float64) if hr.ndim == 2 else round_half_up_uint8(rgb2ycbcr(hr)).astype(np.float64)
        y = modcrop(y, scale)
        lr = imresize(y / 255.0, 1.0 / scale)
        sr = round_half_up_uint8(imresize(lr, scale) * 255.0).astype(np.float64)
        return {"psnr": psnr(sr, y, shave=scale), "ssim": ssim(sr, y, shave=scale)}
    if protocol == "basicsr":
        hr = modcrop(hr, scale)
        sr = imresize_uint8(imresize_uint8(hr, 1.0 / scale), scale)
        return evaluate_sr(sr, hr, scale)
    if protocol == "pspl-code":
        lr, hr = (np.repeat(x[:, :, None], 3, axis=2) if x.ndim == 2 else x for x in pspl_code_pair(hr, scale))
        return pspl_code_scores(imresize_uint8(lr, scale), hr, scale, colors=3)
    raise ValueError(f"unknown protocol {protocol!r}; known: {', '.join(PROTOCOLS)}")


def _paper_bicubic():
    from . import papers

    t = papers.load("fdloss", "Table 2")
    t = t[t["method"] == "bicubic"]
    return {(r.dataset, int(r.scale), r.metric): float(r.value) for r in t.itertuples()}


def bicubic_table(sets, scales, protocol: str = "srcnn", progress: bool = True):
    """Bicubic PSNR/SSIM per (set, scale) next to the FD loss paper's Table 2 Bicubic rows.

    Columns: set, scale, psnr, ssim, paper_psnr, paper_ssim, d_psnr, d_ssim (ours - paper;
    NaN where the paper has no row).
    """
    import pandas as pd

    from . import data

    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown protocol {protocol!r}; known: {', '.join(PROTOCOLS)}")
    paper = _paper_bicubic()
    rows = []
    for name in sets:
        paths = data.list_images(name)
        if not paths:
            raise ValueError(f"bicubic_table: dataset {name!r} has no images")
        images = [data.load_image(p, keep_gray=True) for p in paths]
        for s in scales:
            s = int(s)
            it = images
            if progress:
                from tqdm import tqdm

                it = tqdm(images, desc=f"{name} x{s}", unit="img", leave=False, file=sys.stderr)
            res = [bicubic_image(im, s, protocol) for im in it]
            p = float(np.mean([r["psnr"] for r in res]))
            q = float(np.mean([r["ssim"] for r in res]))
            pp = paper.get((name, s, "PSNR"), math.nan)
            ps = paper.get((name, s, "SSIM"), math.nan)
            rows.append({"set": name, "scale": s, "psnr": p, "ssim": q, "paper_psnr": pp, "paper_ssim": ps,
                         "d_psnr": p - pp, "d_ssim": q - ps})
    return pd.DataFrame(rows, columns=["set", "scale", "psnr", "ssim", "paper_psnr", "paper_ssim", "d_psnr", "d_ssim"])


def compare_protocols(set_name: str, scales, a: str = "srcnn", b: str = "basicsr", tables: dict | None = None):
    """Bicubic PSNR/SSIM of one set under protocols ``a`` and ``b`` side by side, with ``b - a``.

    ``tables`` may hold already computed :func:`bicubic_table` results by protocol (rows of other
    sets are ignored) so a notebook does not compute the same table twice.
    """
    out = None
    for p in (a, b):
        t = (tables or {}).get(p)
        if t is None or set_name not in set(t["set"]):
            t = bicubic_table([set_name], scales, protocol=p, progress=False)
        t = t[(t["set"] == set_name) & t["scale"].isin(list(scales))].reset_index(drop=True)
        cols = t[["set", "scale", "psnr", "ssim"]].rename(columns={"psnr": f"PSNR {p}", "ssim": f"SSIM {p}"})
        out = cols if out is None else out.merge(cols, on=["set", "scale"])
    out[f"ΔPSNR ({b} − {a})"] = out[f"PSNR {b}"] - out[f"PSNR {a}"]
    out[f"ΔSSIM ({b} − {a})"] = out[f"SSIM {b}"] - out[f"SSIM {a}"]
    return out


# ----------------------------------------------------------------------------- CLI

PSNR_TOLERANCE = 0.02  # dB
SSIM_TOLERANCE = 0.001


def _write_csv_atomic(df, out: Path):
    from .atomic import atomic_open

    with atomic_open(out, "w", newline="") as f:
        df.to_csv(f, index=False, float_format="%.6f")


def _add_arguments(p):
    p.add_argument("--sets", nargs="+", default=["Set5", "Set14", "B100", "Urban100"], help="test sets")
    p.add_argument("--scales", nargs="+", type=int, default=[2, 3, 4], help="scale factors")
    p.add_argument("--protocol", choices=PROTOCOLS, default="srcnn", help="evaluation protocol (see srlib.metrics)")
    p.add_argument("--out", type=Path, default=Path("results/bicubic.csv"), help="CSV written atomically")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


def _run(args) -> int:
    df = bicubic_table(args.sets, args.scales, protocol=args.protocol, progress=not args.no_progress)
    _write_csv_atomic(df, args.out)
    with_paper = df.dropna(subset=["paper_psnr"])
    bad = with_paper[(with_paper["d_psnr"].abs() > PSNR_TOLERANCE + 1e-9) | (with_paper["d_ssim"].abs() > SSIM_TOLERANCE + 1e-9)]
    show = df.copy()
    print(f"bicubic baseline, protocol {args.protocol!r} (grey images: {GRAY_HANDLING}); paper = FD loss Table 2")
    print(show.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    print(f"wrote {args.out}")
    if bad.empty:
        print(f"all {len(with_paper)} cells with a paper value are within {PSNR_TOLERANCE} dB / {SSIM_TOLERANCE} SSIM")
        return 0
    for r in bad.itertuples():
        print(f"OUTSIDE TOLERANCE: {r.set} x{r.scale}: PSNR {r.psnr:.4f} vs {r.paper_psnr:.2f} (d {r.d_psnr:+.4f}), "
              f"SSIM {r.ssim:.4f} vs {r.paper_ssim:.4f} (d {r.d_ssim:+.4f})")
    return 1


def cli_commands():
    return [("bicubic", "the bicubic PSNR/SSIM table against the FD loss paper's Bicubic rows", _add_arguments, _run)]
