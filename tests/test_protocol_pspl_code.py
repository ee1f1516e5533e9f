"""srlib.metrics protocol "pspl-code" (the PSPL authors' EDSR-PyTorch fork) against direct computations, and the
protocol audit of the PSPL chapter (srlib.chapters.pspl.audit) on a tiny fake run."""
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from scipy.signal import convolve2d

from srlib import degrade, metrics
from srlib.metrics import bicubic_image, pspl_code_pair, pspl_code_scores

COEFFS = np.array([65.738, 129.057, 25.064]) / 256  # EDSR-PyTorch calc_psnr / calc_ssim


def smooth_image(h, w, seed=0):
    """A uint8 RGB image with structure at several scales (noise alone makes every SR method equal)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    base = 120 + 60 * np.sin(x / 7.0)[..., None] * np.cos(y / 11.0)[..., None] + 30 * np.sin((x + 2 * y) / 3.0)[..., None]
    img = base + rng.normal(0, 12, (h, w, 3)) + np.array([10, -5, 20])
    return np.clip(np.round(img), 0, 255).astype(np.uint8)


def gaussian_2d(window=11, sigma=1.5):
    x = np.arange(window) - window // 2
    g = np.exp(-(x[:, None] ** 2 + x[None, :] ** 2) / (2 * sigma**2))
    return g / g.sum()


def pytorch_ssim_direct(a, b):
    """pytorch_ssim.ssim on one (H, W) image: 2-D 11x11 Gaussian, zero padding 5, same-size map, mean, C1/C2 for [0, 1]."""
    g = gaussian_2d()
    f = lambda t: convolve2d(t, g, mode="same", boundary="fill", fillvalue=0)  # noqa: E731 (g is symmetric)
    mu1, mu2 = f(a), f(b)
    s1, s2, s12 = f(a * a) - mu1**2, f(b * b) - mu2**2, f(a * b) - mu1 * mu2
    c1, c2 = 0.01**2, 0.03**2
    return float((((2 * mu1 * mu2 + c1) * (2 * s12 + c2)) / ((mu1**2 + mu2**2 + c1) * (s1 + s2 + c2))).mean())


def pytorch_ssim_loop(a, b):
    """The same SSIM by looping over pixels (for a small image): the window over the zero-padded image."""
    g = gaussian_2d()
    pa, pb = np.pad(a, 5), np.pad(b, 5)
    out = []
    for i in range(a.shape[0]):
        for j in range(a.shape[1]):
            wa, wb = pa[i:i + 11, j:j + 11], pb[i:i + 11, j:j + 11]
            m1, m2 = (g * wa).sum(), (g * wb).sum()
            v1, v2, cv = (g * wa * wa).sum() - m1 * m1, (g * wb * wb).sum() - m2 * m2, (g * wa * wb).sum() - m1 * m2
            out.append((2 * m1 * m2 + 1e-4) * (2 * cv + 9e-4) / ((m1 * m1 + m2 * m2 + 1e-4) * (v1 + v2 + 9e-4)))
    return float(np.mean(out))


def psnr_direct(a, b, shave):
    d = ((a - b) / 255.0)[shave:-shave, shave:-shave]
    return -10 * math.log10(float(np.mean(d * d)))


# ----------------------------------------------------------------------------- the authors' data preparation

def test_pair_resizes_a_481x321_image_at_x4_instead_of_cropping():
    hr = smooth_image(321, 481)
    lr, hr4 = pspl_code_pair(hr, 4)
    want_hr = Image.fromarray(hr).resize((480, 320), Image.BICUBIC)  # mkdata.py: hrimg.resize((nw, nh), BICUBIC)
    want_lr = want_hr.resize((120, 80), Image.BICUBIC)
    assert hr4.shape == (320, 480, 3) and lr.shape == (80, 120, 3)
    assert hr4.dtype == lr.dtype == np.uint8
    np.testing.assert_array_equal(hr4, np.asarray(want_hr))
    np.testing.assert_array_equal(lr, np.asarray(want_lr))
    crop = degrade.modcrop(hr, 4)  # what the standard protocols do
    assert crop.shape == hr4.shape
    assert np.abs(hr4.astype(int) - crop.astype(int)).mean() > 1  # resampled, not cropped
    assert np.abs(hr4.astype(int) - crop.astype(int))[:, :4].mean() < np.abs(hr4.astype(int) - crop.astype(int))[:, 230:250].mean()


def test_pair_keeps_a_multiple_of_the_scale_and_grey_images():
    hr = smooth_image(64, 48)
    lr, same = pspl_code_pair(hr, 4)
    np.testing.assert_array_equal(same, hr)  # mkdata.py copies the file
    np.testing.assert_array_equal(lr, np.asarray(Image.fromarray(hr).resize((12, 16), Image.BICUBIC)))
    grey = smooth_image(30, 41)[:, :, 0]
    lr, g = pspl_code_pair(grey, 4)
    assert g.shape == (28, 40) and lr.shape == (7, 10)
    np.testing.assert_array_equal(g, np.asarray(Image.fromarray(grey).resize((40, 28), Image.BICUBIC)))


# ----------------------------------------------------------------------------- the authors' scores

def test_scores_rgb_model_psnr_and_ssim_without_offset():
    hr = smooth_image(23, 26, seed=1)
    sr = np.clip(hr.astype(int) + np.random.default_rng(2).integers(-9, 10, hr.shape), 0, 255).astype(np.uint8)
    got = pspl_code_scores(sr, hr, 2, colors=3)
    y_sr, y_hr = sr.astype(float) @ COEFFS, hr.astype(float) @ COEFFS  # no +16
    assert got["psnr"] == pytest.approx(psnr_direct(y_sr, y_hr, 2), abs=1e-10)
    want = pytorch_ssim_loop(y_sr / 255, y_hr / 255)
    assert got["ssim"] == pytest.approx(want, abs=1e-10)
    assert got["ssim"] == pytest.approx(pytorch_ssim_direct(y_sr / 255, y_hr / 255), abs=1e-10)
    # not the book's SSIM (valid window, shave, +16): the offset and the zero padding change the number
    assert abs(got["ssim"] - metrics.evaluate_sr(sr, hr, 2)["ssim"]) > 1e-3


def test_scores_y_model_ssim_on_0_8588_y_with_offset():
    hr_rgb = smooth_image(24, 22, seed=3)
    y_hr = degrade.rgb2ycbcr(hr_rgb)  # float, with offset (skimage rgb2ycbcr in the fork)
    y_sr = np.clip(np.round(y_hr + np.random.default_rng(4).normal(0, 4, y_hr.shape)), 0, 255)
    got = pspl_code_scores(y_sr.astype(np.uint8), y_hr, 4, colors=1)
    k = COEFFS.sum()  # the fork multiplies the 1-channel image by the three coefficients and sums
    assert k == pytest.approx(0.8588, abs=1e-4)
    assert got["psnr"] == pytest.approx(psnr_direct(y_sr, y_hr, 4), abs=1e-10)  # one channel: no conversion
    assert got["ssim"] == pytest.approx(pytorch_ssim_loop(k * y_sr / 255, k * y_hr / 255), abs=1e-10)
    # the two SSIM variants differ on the same pixels: Y with offset (Y models) vs without (RGB models)
    sr_rgb = np.clip(hr_rgb.astype(int) + np.random.default_rng(5).integers(-40, 41, hr_rgb.shape), 0, 255).astype(np.uint8)
    rgb = pspl_code_scores(sr_rgb, hr_rgb, 4, colors=3)["ssim"]
    ymodel = pspl_code_scores(degrade.round_half_up_uint8(degrade.rgb2ycbcr(sr_rgb)), degrade.rgb2ycbcr(hr_rgb), 4, colors=1)
    assert rgb == pytest.approx(pytorch_ssim_direct(sr_rgb @ COEFFS / 255, hr_rgb @ COEFFS / 255), abs=1e-10)
    assert ymodel["ssim"] != pytest.approx(rgb, abs=1e-3)


def test_bicubic_pspl_code_equals_a_direct_computation_on_a_481x321_image():
    hr = smooth_image(321, 481, seed=6)
    got = bicubic_image(hr, 4, "pspl-code")
    hr4 = Image.fromarray(hr).resize((480, 320), Image.BICUBIC)
    lr = np.asarray(hr4.resize((120, 80), Image.BICUBIC))
    sr = degrade.imresize_uint8(lr, 4)  # the upsampler of every protocol's bicubic row
    y_sr, y_hr = sr.astype(float) @ COEFFS, np.asarray(hr4).astype(float) @ COEFFS
    assert got["psnr"] == pytest.approx(psnr_direct(y_sr, y_hr, 4), abs=1e-9)
    assert got["ssim"] == pytest.approx(pytorch_ssim_direct(y_sr / 255, y_hr / 255), abs=1e-9)
    # resizing blurs the HR: bicubic scores higher than with the standard crop
    assert got["psnr"] > bicubic_image(hr, 4, "basicsr")["psnr"]


def test_bicubic_pspl_code_grey_image_is_replicated_like_an_rgb_model():
    grey = smooth_image(40, 36, seed=7)[:, :, 1]
    got = bicubic_image(grey, 4, "pspl-code")
    rgb = np.repeat(grey[:, :, None], 3, axis=2)
    assert got == bicubic_image(rgb, 4, "pspl-code")


def test_other_protocols_unchanged_and_errors():
    assert metrics.PROTOCOLS[:2] == ("srcnn", "basicsr") and "pspl-code" in metrics.PROTOCOLS
    img = smooth_image(16, 16)
    with pytest.raises(ValueError, match="integer scale"):
        pspl_code_pair(img, 2.5)
    with pytest.raises(ValueError, match="integer scale"):
        bicubic_image(img, 2.5, "pspl-code")
    with pytest.raises(ValueError, match="colors"):
        pspl_code_scores(img, img, 2, colors=2)
    with pytest.raises(ValueError, match="shape"):
        pspl_code_scores(img, img[:8], 2)
    with pytest.raises(ValueError, match="protocol"):
        metrics.evaluate_model(torch.nn.Identity(), "Set5", 4, protocol="matlab")
    assert pspl_code_scores(img, img, 2)["psnr"] == math.inf


# ----------------------------------------------------------------------------- evaluate_model(protocol="pspl-code")

class LookupBicubic(torch.nn.Module):
    """A parameter-free 'model' that upsamples its uint8 input exactly as bicubic_image does (MATLAB imresize)."""

    def __init__(self, scale, colors):
        super().__init__()
        self.scale, self.colors = scale, colors

    def forward(self, x):
        a = x[0].permute(1, 2, 0).double().numpy() * 255
        if self.colors == 1:
            up = np.clip(np.round(degrade.imresize(a[:, :, 0], self.scale)), 0, 255)[:, :, None]  # float Y in, rounded out
        else:
            up = degrade.imresize_uint8(np.round(a).astype(np.uint8), self.scale).astype(float)
        return torch.from_numpy(up / 255).permute(2, 0, 1)[None].float()


@pytest.fixture
def tiny_set(tmp_path, monkeypatch):
    from srlib import data

    paths = []
    for k, (h, w, grey) in enumerate([(45, 38, False), (32, 28, False), (32, 40, True)]):
        img = smooth_image(h, w, seed=10 + k)
        p = tmp_path / f"im{k}.png"
        Image.fromarray(img[:, :, 0] if grey else img).save(p)
        paths.append(p)
    monkeypatch.setattr(data, "list_images", lambda name: list(paths) if name == "Tiny" else [])

    def lr_pairs(name, scale):  # the book's pairs: modcrop, MATLAB bicubic LR (grey replicated, as data does)
        out = []
        for p in paths:
            hr = degrade.modcrop(data.load_image(p, keep_gray=False), scale)
            out.append((p.stem, degrade.bicubic_lr(hr, scale), hr))
        return out

    monkeypatch.setattr(data, "lr_pairs", lr_pairs)
    return paths


def test_evaluate_model_pspl_code_rgb_equals_bicubic_pspl_code(tiny_set):
    from srlib import data

    res = metrics.evaluate_model(LookupBicubic(4, 3), "Tiny", 4, protocol="pspl-code")
    assert [r["image"] for r in res["per_image"]] == ["im0", "im1", "im2"]
    for row, p in zip(res["per_image"], tiny_set):
        want = bicubic_image(data.load_image(p, keep_gray=True), 4, "pspl-code")
        assert row["psnr"] == pytest.approx(want["psnr"], abs=1e-4)
        assert row["ssim"] == pytest.approx(want["ssim"], abs=1e-6)
    assert res["psnr"] == pytest.approx(np.mean([r["psnr"] for r in res["per_image"]]))
    two = metrics.evaluate_model(LookupBicubic(4, 3), "Tiny", 4, protocol="pspl-code", max_images=2, metrics=["ssim"])
    assert list(two) == ["ssim", "per_image"] and len(two["per_image"]) == 2
    with pytest.raises(ValueError, match="psnr and ssim only"):
        metrics.evaluate_model(LookupBicubic(4, 3), "Tiny", 4, protocol="pspl-code", metrics=["entropy"])


def test_evaluate_model_pspl_code_y_model_uses_y_and_grey_as_y(tiny_set):
    from srlib import data

    res = metrics.evaluate_model(LookupBicubic(4, 1), "Tiny", 4, protocol="pspl-code")
    for row, p in zip(res["per_image"], tiny_set):
        img = data.load_image(p, keep_gray=True)
        lr, hr = pspl_code_pair(img, 4)
        ly, hy = [x.astype(float) if x.ndim == 2 else degrade.rgb2ycbcr(x) for x in (lr, hr)]
        ly = np.asarray(torch.from_numpy(ly / 255).float().double().numpy() * 255)  # the model sees float32 Y/255
        sr = np.clip(np.round(degrade.imresize(ly, 4)), 0, 255)
        assert row["psnr"] == pytest.approx(psnr_direct(sr, hy, 4), abs=1e-4)
        k = COEFFS.sum()
        assert row["ssim"] == pytest.approx(pytorch_ssim_direct(k * sr / 255, k * hy / 255), abs=1e-6)


# ----------------------------------------------------------------------------- the chapter's audit

class FakeRun:
    def __init__(self, model, experiment, has_checkpoint=True):
        self._model, self.experiment, self.hash = model, experiment, "0" * 16
        self.checkpoint_path = Path("checkpoint.pt") if has_checkpoint else None

    def load_model(self):
        return self._model


def test_audit_table_claims_and_missing_checkpoints(tiny_set, monkeypatch):
    from srlib import data
    from srlib.chapters.pspl import audit, comparison

    monkeypatch.setattr(audit, "SETS", ["Tiny"])
    paper = comparison.paper_table1()
    paper = paper[paper["set"] == "Set5"].assign(set="Tiny")
    t1 = {"seeds": [0], "profile": "smoke", "methods": {"baseline": "baseline", "pspl": "PSPL"},
          "runs": {("EDSR", "baseline", 0): FakeRun(LookupBicubic(4, 3), "x"),
                   ("EDSR", "pspl", 0): FakeRun(LookupBicubic(4, 3), "y"),
                   ("DRRN", "baseline", 0): FakeRun(None, "pspl.table1_drrn_baseline", has_checkpoint=False)}}
    au = audit.protocol_audit(t1, ["Tiny"], ["DRRN", "EDSR"], 4, paper)
    assert au["missing"] == ["DRRN baseline seed 0 (pspl.table1_drrn_baseline/0000000000000000)"]
    t = au["table"]
    assert set(t["subject"]) == {audit.BICUBIC_RGB, audit.BICUBIC_Y, "EDSR baseline (seed 0)", "EDSR PSPL (seed 0)"}
    rgb = t[(t["subject"] == audit.BICUBIC_RGB) & (t["metric"] == "PSNR")].iloc[0]
    edsr = t[(t["subject"] == "EDSR PSPL (seed 0)") & (t["metric"] == "PSNR")].iloc[0]
    imgs = au["images"]
    # the fake model is bicubic: the same scores on colour images; the grey one is replicated by the book's
    # evaluation (Y = 16 + 0.8588 g) but used as Y by the standard bicubic row (MATLAB scripts)
    by = imgs[imgs["protocol"] == "pspl-code"].pivot(index="image", columns="subject", values="psnr")
    np.testing.assert_allclose(by["EDSR PSPL (seed 0)"], by[audit.BICUBIC_RGB], atol=1e-4)
    assert list(imgs.drop_duplicates("image")["kind"]) == ["resized", "as is", "grey"]
    assert edsr["shift_from_resized"] == pytest.approx(rgb["shift_from_resized"], abs=1e-4)
    parts = rgb[["shift_from_resized", "shift_from_grey", "shift_from_as_is"]].sum()
    assert parts == pytest.approx(rgb["shift"]) and rgb["resized"] == 1 and rgb["grey"] == 1
    std = [bicubic_image(data.load_image(p, keep_gray=True), 4, "basicsr")["psnr"] for p in tiny_set]
    assert rgb["standard"] == pytest.approx(np.mean(std))
    assert len(imgs[(imgs["subject"] == audit.BICUBIC_RGB)]) == 6  # 3 images x 2 protocols
    pg = paper.pivot_table(index="model", columns="method", values="paper_psnr")
    assert rgb["paper_gain"] == pytest.approx((pg["PSPL"] - pg["baseline"])[["SRCNN", "VDSR", "EDSR"]].mean())
    assert rgb["paper_models"] == "EDSR, SRCNN, VDSR"
    ys = t[(t["subject"] == audit.BICUBIC_Y) & (t["metric"] == "SSIM")].iloc[0]
    assert ys["paper_models"] == "DRRN, LapSRN" and edsr["paper_models"] == "EDSR"
    rows = audit.audit_claims(au)
    ids = [r["claim_id"] for r in rows]
    assert ids == ["psnr-bicubic-rgb-tiny", "ssim-bicubic-rgb-tiny", "ssim-bicubic-y-tiny", "psnr-edsr-tiny"]
    assert all(r["part"] == "audit" for r in rows)
    assert rows[-1]["verdict"].startswith("under-trained") == (not bool(au["bar"]["clears"].iloc[0]))
    audit.audit_wide(au).to_html()
    audit.plot_audit(au)


def test_zero_padded_ssim_equals_ssim_map_zero_padding():
    rng = np.random.default_rng(8)
    a, b = rng.random((37, 52)), rng.random((37, 52))
    want = float(metrics.ssim_map(torch.from_numpy(a)[None, None], torch.from_numpy(b)[None, None], c1=1e-4, c2=9e-4,
                                  padding="zero").mean())
    assert metrics._ssim_zero_padded(a, b, 1e-4, 9e-4) == pytest.approx(want, abs=1e-12)
