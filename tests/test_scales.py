"""The scale rule of srlib.conventions (integer and non-integer scales) and the code that follows it.

Integer scales must behave exactly as before non-integer ones existed (modcrop, LR = HR / s, shave s,
cache folder x<s>, the committed bicubic table); non-integer ones (2.5, 1.27) follow one rule:
LR floor(H / s), HR crop ceil(LR * s), shave ceil(s), folder x2.5.
"""
import csv
import math

import numpy as np
import pytest
from PIL import Image

from srlib import REPO_ROOT, conventions, degrade, metrics
from srlib import data as d
from srlib.conventions import as_scale, hr_crop_size, lr_size, scale_tag, shave
from srlib.data import datasets as ds

SHARED_SET5 = d.SHARED_DATA / "benchmark" / "Set5" / "HR"
needs_shared_set5 = pytest.mark.skipif(not SHARED_SET5.is_dir(), reason="shared Set5 not present")
SET5_SIZES = {"baby": (512, 512), "bird": (288, 288), "butterfly": (256, 256), "head": (280, 280), "woman": (344, 228)}


def _fake_set5(root, sizes=((26, 31), (25, 22), (30, 30), (17, 40), (23, 23))):
    out = root / "benchmark" / "Set5" / "HR"
    out.mkdir(parents=True)
    rng = np.random.default_rng(1)
    for n, (h, w) in zip(("baby", "bird", "butterfly", "head", "woman"), sizes):
        Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(out / f"{n}.png")
    return out


# ----------------------------------------------------------------------------- the rule


def test_conventions_imports_neither_numpy_nor_torch():
    import subprocess
    import sys

    code = "import sys, srlib.conventions; print('numpy' in sys.modules, 'torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


def test_integer_scales_are_exactly_modcrop_floor_division_and_shave_s():
    for s in (1, 2, 3, 4, 8):
        assert as_scale(s) == s and isinstance(as_scale(float(s)), int) and isinstance(as_scale(np.int64(s)), int)
        assert shave(s) == s and scale_tag(s) == f"x{s}" == scale_tag(float(s))
        for n in range(0, 60):
            assert lr_size(n, s) == n // s
            assert hr_crop_size(n, s) == n - n % s


@pytest.mark.parametrize("scale, tag, shv", [(2.5, "x2.5", 3), (1.27, "x1.27", 2), (3.125, "x3.125", 4)])
def test_non_integer_scale_sizes_shave_and_tag(scale, tag, shv):
    assert scale_tag(scale) == tag and shave(scale) == shv
    for n in range(1, 700):
        h, hc = lr_size(n, scale), hr_crop_size(n, scale)
        assert h == math.floor(n / scale + 1e-9)
        assert hc == math.ceil(h * scale - 1e-9) and hc <= n and n - hc < scale
        assert lr_size(hc, scale) == h and hr_crop_size(hc, scale) == hc  # cropping twice changes nothing


def test_worked_examples_of_the_rule():
    assert [(lr_size(n, 2.5), hr_crop_size(n, 2.5)) for n in (256, 228, 280, 8)] == [(102, 255), (91, 228), (112, 280), (3, 8)]
    assert [(lr_size(n, 1.27), hr_crop_size(n, 1.27)) for n in (256, 228, 280, 127)] == [(201, 256), (179, 228), (220, 280), (100, 127)]


def test_float_noise_is_removed_from_scales_and_tags():
    assert as_scale(2.4999999999999996) == 2.5 and scale_tag(10 / 4) == "x2.5"
    assert scale_tag(127 / 100) == "x1.27" and scale_tag(0.1 + 2.9) == "x3"
    assert lr_size(127, 1.2700000000000002) == 100


@pytest.mark.parametrize("bad", [0, -2, 0.5, 0.99, 1.0 - 1e-3, float("nan"), float("inf"), "2.5", "2", True, None, [2]])
def test_bad_scales_are_value_errors_naming_the_value(bad):
    with pytest.raises(ValueError, match="got " + __import__("re").escape(repr(bad))):
        as_scale(bad)
    with pytest.raises(ValueError):
        scale_tag(bad)
    with pytest.raises(ValueError):
        d.lr_pairs("Set5", bad)
    with pytest.raises(ValueError):
        d.lr_cache_path("Set5", bad, "baby")


def test_too_many_decimals_is_an_error_that_suggests_the_rounded_scale():
    with pytest.raises(ValueError, match=r"scale 1.23456 has more than 4 decimals.*1.2346"):
        as_scale(1.23456)
    with pytest.raises(ValueError, match="more than 4 decimals"):
        lr_size(100, 4 / 3)
    assert lr_size(100, 1.3333) == 75


def test_scale_one_is_the_same_size_integer_scale():
    """1 stays allowed (as before): same-size real pairs (RealSR, RCAN(scale=1)) are read at scale 1."""
    assert as_scale(1) == 1 and lr_size(17, 1) == hr_crop_size(17, 1) == 17 and shave(1) == 1 and scale_tag(1) == "x1"


def test_dead_conventions_are_gone():
    for name in ("shave_for", "VALUE_RANGE", "CHANNEL_ORDER"):
        assert not hasattr(conventions, name)


# ----------------------------------------------------------------------------- data and metrics follow it


def test_cache_paths_by_scale(isolated):
    base = isolated["cache"] / "lr/Set5/bicubic-matlab"
    assert d.lr_cache_path("Set5", 2, "baby") == base / "x2/baby.png"
    assert d.lr_cache_path("set5", 2.0, "baby") == base / "x2/baby.png"
    assert d.lr_cache_path("Set5", 2.5, "baby") == base / "x2.5/baby.png"
    assert d.lr_cache_path("Set5", 1.27, "baby") == base / "x1.27/baby.png"


@pytest.mark.parametrize("scale", [2.5, 1.27])
def test_lr_pairs_non_integer_scale_sizes_and_cache(isolated, scale):
    hr_dir = _fake_set5(isolated["env"])
    pairs = d.lr_pairs("Set5", scale)
    tag = scale_tag(scale)
    for stem, lr, hr in pairs:
        full = d.load_image(hr_dir / f"{stem}.png")
        h, w = full.shape[:2]
        assert hr.shape == (hr_crop_size(h, scale), hr_crop_size(w, scale), 3)
        assert lr.shape == (lr_size(h, scale), lr_size(w, scale), 3)
        assert np.array_equal(hr, full[: hr.shape[0], : hr.shape[1]])
        assert np.array_equal(lr, degrade.bicubic_lr(full, scale))
        cached = isolated["cache"] / f"lr/Set5/bicubic-matlab/{tag}/{stem}.png"
        assert cached.is_file() and np.array_equal(d.load_image(cached), lr)
    assert sorted(p.name for p in (isolated["cache"] / "lr/Set5/bicubic-matlab").iterdir()) == [tag]
    hrs = d.hr_images("Set5", scale)
    assert [s for s, _ in hrs] == [s for s, _, _ in pairs]
    assert all(np.array_equal(a, hr) for (_, a), (_, _, hr) in zip(hrs, pairs))
    assert d.prepare_lr_cache("Set5", scale, progress=False) == 0  # already cached by lr_pairs


def test_non_integer_fingerprint_empties_only_non_integer_folders(isolated):
    _fake_set5(isolated["env"])
    d.lr_pairs("Set5", 2)
    d.lr_pairs("Set5", 2.5)
    lr_root = isolated["cache"] / "lr"
    (lr_root / "DEGRADE-noninteger.sha256").write_text("0" * 64)
    ds._LR_CACHE_CHECKED.discard(str(lr_root))
    ds._check_lr_cache_version()
    assert (lr_root / "Set5/bicubic-matlab/x2").is_dir() and not (lr_root / "Set5/bicubic-matlab/x2.5").exists()


def test_evaluate_sr_shaves_ceil_of_the_scale():
    rng = np.random.default_rng(2)
    hr = rng.integers(0, 256, (20, 20, 3), dtype=np.uint8)
    sr = hr.copy()
    sr[:3] = 255 - sr[:3]  # only the 3 top rows differ
    assert metrics.evaluate_sr(sr, hr, 2.5)["psnr"] == math.inf  # shave 3
    assert metrics.evaluate_sr(sr, hr, 3)["psnr"] == math.inf
    assert metrics.evaluate_sr(sr, hr, 2)["psnr"] < 100  # shave 2 keeps the third row


# ----------------------------------------------------------------------------- the integer path is unchanged


@needs_shared_set5
def test_integer_path_unchanged_on_set5(isolated):
    """Sizes, cache paths and the bicubic PSNR/SSIM of Set5 x2/x3/x4 as committed in results/bicubic.csv."""
    import shutil

    shutil.copytree(SHARED_SET5, isolated["env"] / "benchmark/Set5/HR")
    with open(REPO_ROOT / "results" / "bicubic.csv", newline="") as f:
        committed = {int(r["scale"]): r for r in csv.DictReader(f) if r["set"] == "Set5"}
    images = {p.stem: d.load_image(p, keep_gray=True) for p in d.list_images("Set5")}
    for s in (2, 3, 4):
        for stem, lr, hr in d.lr_pairs("Set5", s):
            H, W = SET5_SIZES[stem]
            assert hr.shape == (H - H % s, W - W % s, 3) and lr.shape == (H // s, W // s, 3)
            assert np.array_equal(lr, degrade.imresize_uint8(images[stem][: H - H % s, : W - W % s], 1.0 / s))
            assert (isolated["cache"] / f"lr/Set5/bicubic-matlab/x{s}/{stem}.png").is_file()
        res = [metrics.bicubic_image(im, s, "srcnn") for im in images.values()]
        assert f"{np.mean([r['psnr'] for r in res]):.6f}" == committed[s]["psnr"]
        assert f"{np.mean([r['ssim'] for r in res]):.6f}" == committed[s]["ssim"]
