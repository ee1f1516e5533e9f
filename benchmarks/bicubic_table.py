"""Wall time of the bicubic table: srlib's matrix imresize vs a textbook per-pixel reference.

Both sides run the same "srcnn" protocol and the same srlib PSNR/SSIM; only the resize differs.
srlib precomputes each dimension's weights as a sparse matrix (two matrix products per resize); the
reference loops over output pixels and their contributions along each dimension (vectorised
only across the other dimension), the way MATLAB's ``resizeAlongDim`` is usually transcribed.
The script checks that both give the same table, then prints the times and the speed ratio.

    python benchmarks/bicubic_table.py                     # full table, reference on a subset
    python benchmarks/bicubic_table.py --reference-sets all # reference on the full table too
"""
from __future__ import annotations

import argparse
import math
import time

import numpy as np

from srlib import data
from srlib.degrade import clear_weight_cache, cubic, imresize, modcrop, rgb2ycbcr, round_half_up_uint8
from srlib.metrics import psnr, ssim

SETS = ["Set5", "Set14", "B100", "Urban100"]
SCALES = [2, 3, 4]


def reference_resize_axis(a: np.ndarray, axis: int, out_len: int, scale: float) -> np.ndarray:
    """MATLAB bicubic along one axis: for each output pixel, sum its contributions one by one."""
    a = np.moveaxis(a, axis, 0)
    n = a.shape[0]
    width = 4.0 / scale if scale < 1 else 4.0
    taps = math.ceil(width) + 2
    out = np.empty((out_len,) + a.shape[1:])
    for i in range(out_len):
        u = (i + 1) / scale + 0.5 * (1 - 1 / scale)
        left = math.floor(u - width / 2)
        acc = np.zeros(a.shape[1:])
        wsum = 0.0
        for k in range(left, left + taps):
            d = u - k
            w = scale * float(cubic(np.float64(scale * d))) if scale < 1 else float(cubic(np.float64(d)))
            if w == 0.0:
                continue
            j = k - 1  # 1-based -> 0-based, mirrored at the borders (edge pixel repeated)
            while j < 0 or j >= n:
                j = -j - 1 if j < 0 else 2 * n - 1 - j
            acc += w * a[j]
            wsum += w
        out[i] = acc / wsum
    return np.moveaxis(out, 0, axis)


def reference_imresize(img: np.ndarray, scale: float) -> np.ndarray:
    """Textbook MATLAB imresize of a 2-D image (rows first, as MATLAB for equal scales)."""
    h, w = img.shape
    out = reference_resize_axis(img.astype(np.float64), 0, math.ceil(h * scale), scale)
    return reference_resize_axis(out, 1, math.ceil(w * scale), scale)


def srcnn_bicubic(hr, scale, resize):
    """The "srcnn" protocol of srlib.metrics with a pluggable resize function."""
    y = hr.astype(np.float64) if hr.ndim == 2 else round_half_up_uint8(rgb2ycbcr(hr)).astype(np.float64)
    y = modcrop(y, scale)
    sr = round_half_up_uint8(resize(resize(y / 255.0, 1.0 / scale), scale) * 255.0).astype(np.float64)
    return psnr(sr, y, shave=scale), ssim(sr, y, shave=scale)


def table(images, scales, resize):
    """{(set, scale): (psnr, ssim)} and the seconds spent, resize time separately."""
    resize_time = [0.0]

    def timed_resize(x, s):
        t = time.perf_counter()
        r = resize(x, s)
        resize_time[0] += time.perf_counter() - t
        return r

    clear_weight_cache()  # srlib starts without cached weights, like the reference
    t0 = time.perf_counter()
    cells = {}
    for name, ims in images.items():
        for s in scales:
            res = [srcnn_bicubic(im, s, timed_resize) for im in ims]
            cells[(name, s)] = (float(np.mean([r[0] for r in res])), float(np.mean([r[1] for r in res])))
    return cells, time.perf_counter() - t0, resize_time[0]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sets", nargs="+", default=SETS)
    p.add_argument("--scales", nargs="+", type=int, default=SCALES)
    p.add_argument("--reference-sets", nargs="+", default=["Set5", "Set14"],
                   help="sets the slow reference runs on ('all' = the same as --sets); the rest is extrapolated")
    args = p.parse_args(argv)
    ref_sets = args.sets if args.reference_sets == ["all"] else [s for s in args.reference_sets if s in args.sets]

    images = {n: [data.load_image(f, keep_gray=True) for f in data.list_images(n)] for n in args.sets}
    pixels = {n: sum(im.shape[0] * im.shape[1] for im in ims) for n, ims in images.items()}

    ssim(np.zeros((16, 16)), np.ones((16, 16)))  # warm-up: imports outside the timings
    fast, fast_t, fast_rt = table(images, args.scales, imresize)
    sub = {n: images[n] for n in ref_sets}
    fast_sub, fast_sub_t, fast_sub_rt = table(sub, args.scales, imresize)
    ref, ref_t, ref_rt = table(sub, args.scales, reference_imresize)

    worst = max(max(abs(ref[k][0] - fast[k][0]), abs(ref[k][1] - fast[k][1])) for k in ref)
    print(f"{'set':>9} {'scale':>5} {'psnr':>8} {'ssim':>7}")
    for (n, s), (ps, ss) in fast.items():
        print(f"{n:>9} {s:>5} {ps:8.4f} {ss:7.4f}" + ("   (reference agrees)" if (n, s) in ref else ""))
    print(f"largest |srlib - reference| over {len(ref)} cells: {worst:.2e} (PSNR dB / SSIM)")
    ok = worst < 1e-8

    px_all, px_sub = sum(pixels.values()), sum(pixels[n] for n in ref_sets)
    print(f"\nsubset timed side by side: {', '.join(ref_sets)} x {args.scales} ({px_sub / 1e6:.1f} of {px_all / 1e6:.1f} MPixel HR)")
    print(f"  srlib     table {fast_sub_t:8.2f} s   of which imresize {fast_sub_rt:8.2f} s")
    print(f"  reference table {ref_t:8.2f} s   of which imresize {ref_rt:8.2f} s")
    print(f"  speed ratio (reference / srlib): table {ref_t / fast_sub_t:.1f}x, imresize alone {ref_rt / fast_sub_rt:.1f}x")
    print(f"\nfull table ({len(args.sets)} sets x {len(args.scales)} scales):")
    print(f"  srlib     measured     {fast_t:8.2f} s   (imresize {fast_rt:.2f} s)")
    if set(ref_sets) == set(args.sets):
        print(f"  reference measured     {ref_t:8.2f} s")
    else:
        est = fast_t - fast_rt + ref_rt / fast_sub_rt * fast_rt
        print(f"  reference EXTRAPOLATED {est:8.2f} s   (srlib's non-resize time + its imresize time x the subset's "
              f"imresize ratio; reference run on {', '.join(ref_sets)} only)")
        print(f"  speed ratio (extrapolated): table {est / fast_t:.1f}x")
    print("check:", "same numbers" if ok else "MISMATCH between srlib and reference")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
