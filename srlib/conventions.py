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

Metrics
    * Y channel = ITU-R BT.601 luma as MATLAB ``rgb2ycbcr``: Y = 16 + (65.481 R + 128.553 G +
      24.966 B) with R, G, B in [0, 1]; Y in [16, 235].
    * PSNR with peak 255 on Y; SSIM of Wang et al. 2004 (Gaussian window 11, sigma 1.5,
      K1 = 0.01, K2 = 0.03, L = 255, valid region only).
    * Border shave: ``scale`` pixels on each side before PSNR/SSIM.
    * Two protocols, named in :mod:`srlib.metrics`: ``"srcnn"`` (Y rounded to uint8, bicubic on
      Y) and ``"basicsr"`` (bicubic on RGB, uint8, float Y). Which paper table uses which is
      listed in ``PROTOCOL_OF_TABLE`` there.
"""

VALUE_RANGE = (0.0, 1.0)
CHANNEL_ORDER = "RGB"
Y_COEFFS = (65.481, 128.553, 24.966)  # for RGB in [0, 1]; Y offset 16
Y_OFFSET = 16.0
SSIM_WINDOW = 11
SSIM_SIGMA = 1.5
SSIM_K1 = 0.01
SSIM_K2 = 0.03
PSNR_PEAK = 255.0


def shave_for(scale: float) -> int:
    """Pixels shaved from each border before computing metrics at ``scale``."""
    import math

    return int(math.ceil(scale))
