"""The conventions every srlib function follows, written down in one place.

Images
    * On disk and in the dataset layer: ``numpy.ndarray`` uint8, shape (H, W, 3), RGB order.
      Grayscale images are replicated to 3 channels and RGBA loses alpha, with a warning that
      names the file (see :func:`srlib.data.load_image`). 16-bit images are rejected.
    * In models, losses and training: ``torch.Tensor`` float32, shape (N, 3, H, W), RGB,
      value range [0, 1]. Models map an LR image to an SR image ``scale`` times larger;
      pre-upsampling models (SRCNN, VDSR, DRRN) do the MATLAB bicubic upsampling themselves as a
      parameter-free first step, so every model has the same ``sr = model(lr)`` interface.

Degradation
    * LR = MATLAB ``imresize(HR, 1/s)`` (bicubic, a = -0.5, antialiased, symmetric padding),
      after ``modcrop(HR, s)``. Training/evaluation LR images are rounded to uint8 (what the
      DIV2K and benchmark LR releases contain); the SRCNN bicubic protocol keeps LR float.

Scales (one rule, the functions below; :mod:`srlib.degrade`, :mod:`srlib.data` and
:mod:`srlib.metrics` call them)
    * A scale is an integer >= 1 (2, 3, 4; 2.0 counts as 2; 1 = same size, for real LR/HR pairs)
      or a non-integer > 1 with at most ``SCALE_DECIMALS`` = 4 decimals (2.5, 1.27). Float noise
      is removed (2.4999999999999996 is 2.5). Anything else (< 1, a non-integer <= 1, NaN, inf,
      bool, str, more decimals) is a ValueError naming the value (:func:`as_scale`).
    * LR size ``h = floor(H / s)`` per dimension, in exact rational arithmetic (:func:`lr_size`).
    * HR crop ``H' = ceil(h * s)`` (top-left kept; :func:`hr_crop_size`): the size MATLAB
      ``imresize(LR, s)`` returns, so a bicubic or model output at ``s`` matches the cropped HR. For an
      integer ``s`` this is ``modcrop`` (``H' = h * s``); for s = 2.5, H = 256: h = 102, H' = 255.
    * LR = ``imresize(HR[:H', :W'], 1/s, output_shape=(h, w))``: the kernel and the sampling grid of
      an exact 1/s resize (LR pixel i sits at HR coordinate (i + 0.5) s - 0.5), the output size given
      explicitly (ceil(H' / s) can be h + 1 when H' / s is not an integer).
    * Shave ``ceil(s)`` pixels on each border before PSNR/SSIM (:func:`shave`; = s for integers).
    * LR cache folder / tag ``x<s>``, shortest decimal: x2, x2.5, x1.27 (:func:`scale_tag`).

Metrics
    * Y channel = ITU-R BT.601 luma as MATLAB ``rgb2ycbcr``: Y = 16 + (65.481 R + 128.553 G +
      24.966 B) with R, G, B in [0, 1]; Y in [16, 235].
    * PSNR with peak 255 on Y; SSIM of Wang et al. 2004 (Gaussian window 11, sigma 1.5,
      K1 = 0.01, K2 = 0.03, L = 255, valid region only).
    * Border shave: ``scale`` pixels on each side before PSNR/SSIM (``ceil(scale)`` for a non-integer scale).
    * Two protocols, named in :mod:`srlib.metrics`: ``"srcnn"`` (Y rounded to uint8, bicubic on
      Y) and ``"basicsr"`` (bicubic on RGB, uint8, float Y). Which paper table uses which is
      listed in ``PROTOCOL_OF_TABLE`` there.
"""

import math
from fractions import Fraction
from numbers import Real

Y_COEFFS = (65.481, 128.553, 24.966)  # for RGB in [0, 1]; Y offset 16
Y_OFFSET = 16.0
SSIM_WINDOW = 11
SSIM_SIGMA = 1.5
SSIM_K1 = 0.01
SSIM_K2 = 0.03
PSNR_PEAK = 255.0
SCALE_DECIMALS = 4  # a non-integer scale has at most this many decimals (x1.27, x3.125)
_SCALE_NOISE = 1e-9  # float noise tolerated when reading a scale (2.4999999999999996 is 2.5)


def as_scale(scale, who: str = "") -> int | float:
    """``scale`` checked and made canonical: an ``int`` for an integer scale (2, 2.0, numpy 2), else a
    ``float`` rounded to :data:`SCALE_DECIMALS` decimals. ValueError naming the value otherwise
    (prefixed with ``who``, e.g. ``"modcrop"``).
    """
    where = f"{who}: " if who else ""
    what = (f"{where}scale must be a positive integer (2, 3, 4) or a number > 1 with at most "
            f"{SCALE_DECIMALS} decimals (2.5, 1.27), got {scale!r}")
    if isinstance(scale, bool) or not isinstance(scale, Real):
        raise ValueError(what)
    s = float(scale)
    if not math.isfinite(s):
        raise ValueError(what)
    if abs(s - round(s)) <= _SCALE_NOISE:
        if round(s) < 1:
            raise ValueError(what)
        return int(round(s))
    if s <= 1:
        raise ValueError(what)
    d = round(s, SCALE_DECIMALS)
    if abs(s - d) > _SCALE_NOISE:
        raise ValueError(f"{where}scale {scale!r} has more than {SCALE_DECIMALS} decimals; give it rounded, e.g. {d}")
    return d


def _fraction(scale) -> Fraction:
    s = as_scale(scale)
    return Fraction(s) if isinstance(s, int) else Fraction(round(s * 10**SCALE_DECIMALS), 10**SCALE_DECIMALS)


def _size(n, who: str) -> int:
    if isinstance(n, bool) or int(n) != n or n < 0:
        raise ValueError(f"{who}: a size must be an integer >= 0, got {n!r}")
    return int(n)


def lr_size(hr_size: int, scale) -> int:
    """LR size for an HR size at ``scale``: ``floor(hr_size / scale)``, exact (may be 0 if hr_size < scale)."""
    n, f = _size(hr_size, "lr_size"), _fraction(scale)
    return n * f.denominator // f.numerator


def hr_crop_size(hr_size: int, scale) -> int:
    """HR size kept at ``scale`` (top-left crop): ``ceil(lr_size * scale)``, <= hr_size; modcrop for integers."""
    h, f = lr_size(hr_size, scale), _fraction(scale)
    return -(-h * f.numerator // f.denominator)


def shave(scale) -> int:
    """Pixels shaved from each border before PSNR/SSIM at ``scale``: ``ceil(scale)``."""
    return math.ceil(as_scale(scale))


def scale_tag(scale) -> str:
    """``"x2"``, ``"x2.5"``, ``"x1.27"``: the name of a scale in folders and labels (shortest decimal)."""
    s = as_scale(scale)
    return f"x{s}" if isinstance(s, int) else "x" + f"{s:.{SCALE_DECIMALS}f}".rstrip("0")
