"""srlib.metrics: PSNR, SSIM, ssim_map, entropy, protocols, bicubic table and its CLI."""
import math

import numpy as np
import pandas as pd
import pytest
import torch

from srlib import metrics
from srlib.degrade import imresize_torch, imresize_uint8
from srlib.metrics import (
    PROTOCOL_OF_TABLE,
    PROTOCOLS,
    bicubic_image,
    entropy,
    evaluate_sr,
    psnr,
    psnr_y_torch,
    ssim,
    ssim_map,
)


def gaussian_2d(window=11, sigma=1.5):
    x = np.arange(window) - window // 2
    g = np.exp(-(x[:, None] ** 2 + x[None, :] ** 2) / (2 * sigma**2))
    return g / g.sum()  # MATLAB fspecial('gaussian', 11, 1.5)


def ssim_direct(a, b, c1, c2, pad, mode="constant"):
    """SSIM map by looping over pixels with the 2-D Gaussian window (``pad`` pixels of numpy ``mode`` padding)."""
    g = gaussian_2d()
    a = np.pad(a, pad, mode=mode)
    b = np.pad(b, pad, mode=mode)
    h, w = a.shape[0] - 10, a.shape[1] - 10
    out = np.zeros((h, w))
    for i in range(h):
        for j in range(w):
            pa, pb = a[i:i + 11, j:j + 11], b[i:i + 11, j:j + 11]
            m1, m2 = (g * pa).sum(), (g * pb).sum()
            v1 = (g * pa * pa).sum() - m1 * m1
            v2 = (g * pb * pb).sum() - m2 * m2
            cov = (g * pa * pb).sum() - m1 * m2
            out[i, j] = (2 * m1 * m2 + c1) * (2 * cov + c2) / ((m1 * m1 + m2 * m2 + c1) * (v1 + v2 + c2))
    return out


def test_psnr_identical_and_known_noise():
    a = np.random.default_rng(0).integers(0, 256, (20, 20)).astype(np.float64)
    assert psnr(a, a) == math.inf
    assert psnr(a, a + 1) == pytest.approx(10 * math.log10(255**2), abs=1e-12)  # mse 1: 48.13 dB
    b = a.copy()
    b[::2] += 2  # half the pixels off by 2: mse 2
    assert psnr(a, b) == pytest.approx(10 * math.log10(255**2 / 2), abs=1e-12)
    c = a.copy()
    c[0] += 100  # only the shaved border differs
    assert psnr(a, c, shave=1) == math.inf


def test_ssim_identical_constant_and_direct():
    rng = np.random.default_rng(1)
    a = rng.random((24, 20)) * 255
    assert ssim(a, a) == pytest.approx(1.0, abs=1e-12)
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    flat = ssim(np.full((16, 16), 100.0), np.full((16, 16), 140.0))
    assert flat == pytest.approx((2 * 100 * 140 + c1) / (100**2 + 140**2 + c1), abs=1e-9)
    b = np.clip(a + rng.normal(0, 20, a.shape), 0, 255)
    assert ssim(a, b) == pytest.approx(ssim_direct(a, b, c1, c2, pad=0).mean(), abs=1e-10)
    assert ssim(a, b) == pytest.approx(ssim(b, a), abs=1e-12)
    assert 0 < ssim(a, b) < 1


def test_ssim_map_matches_direct_window_loop():
    rng = np.random.default_rng(2)
    x = rng.random((2, 2, 13, 12))
    y = np.clip(x + rng.normal(0, 0.1, x.shape), 0, 1)
    m = ssim_map(torch.from_numpy(x), torch.from_numpy(y))
    assert m.shape == x.shape
    for n in range(2):
        for c in range(2):
            want = ssim_direct(x[n, c], y[n, c], 0.01**2, 0.03**2, pad=5)
            np.testing.assert_allclose(m[n, c].numpy(), want, atol=1e-10)
    # PSPL's constants on [0, 255] data: c1, c2 are overridable
    m255 = ssim_map(torch.from_numpy(x * 255), torch.from_numpy(y * 255), c1=1e-4, c2=9e-4)
    np.testing.assert_allclose(m255[0, 0].numpy(), ssim_direct(x[0, 0] * 255, y[0, 0] * 255, 1e-4, 9e-4, 5), atol=1e-9)
    m32 = ssim_map(torch.from_numpy(x).float(), torch.from_numpy(y).float())
    assert (m32.double() - m).abs().max() < 1e-4
    same = ssim_map(torch.from_numpy(x), torch.from_numpy(x))
    np.testing.assert_allclose(same.numpy(), 1.0, atol=1e-9)


def test_ssim_map_reflect_padding_matches_direct_window_loop_and_rejects_bad_input():
    rng = np.random.default_rng(3)
    x = rng.random((1, 2, 12, 14))
    y = np.clip(x + rng.normal(0, 0.1, x.shape), 0, 1)
    m = ssim_map(torch.from_numpy(x), torch.from_numpy(y), padding="reflect")
    assert m.shape == x.shape
    for c in range(2):
        want = ssim_direct(x[0, c], y[0, c], 0.01**2, 0.03**2, pad=5, mode="reflect")
        np.testing.assert_allclose(m[0, c].numpy(), want, atol=1e-10)
    zero = ssim_map(torch.from_numpy(x), torch.from_numpy(y))
    # the two agree where the window stays inside the image, and only there
    np.testing.assert_allclose(m[..., 5:-5, 5:-5].numpy(), zero[..., 5:-5, 5:-5].numpy(), atol=1e-12)
    assert (m - zero).abs()[..., :5, :].max() > 1e-3
    with pytest.raises(ValueError, match="padding must be one of"):
        ssim_map(torch.from_numpy(x), torch.from_numpy(y), padding="same")
    with pytest.raises(ValueError, match="larger than 5 px"):
        ssim_map(torch.zeros(1, 1, 5, 9), torch.zeros(1, 1, 5, 9), padding="reflect")


def test_entropy():
    assert entropy(np.full((8, 8), 7, np.uint8)) == 0.0
    assert entropy(np.arange(256, dtype=np.uint8).reshape(16, 16)) == pytest.approx(8.0)
    assert entropy(np.array([[0, 255], [0, 255]], np.uint8)) == pytest.approx(1.0)
    assert entropy(np.zeros((4, 4, 3), np.uint8)) == 0.0
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        entropy(np.full((4, 4), 3.0))


def test_evaluate_sr_and_torch_psnr_agree():
    rng = np.random.default_rng(3)
    hr = rng.integers(0, 256, (2, 20, 24, 3), dtype=np.uint8)
    sr = np.clip(hr.astype(int) + rng.integers(-9, 10, hr.shape), 0, 255).astype(np.uint8)
    assert evaluate_sr(hr[0], hr[0], 2) == {"psnr": math.inf, "ssim": pytest.approx(1.0)}
    want = [evaluate_sr(s, h, 2)["psnr"] for s, h in zip(sr, hr)]
    t = lambda a: torch.from_numpy(a.transpose(0, 3, 1, 2).astype(np.float32) / 255)  # noqa: E731
    got = psnr_y_torch(t(sr), t(hr), 2)
    np.testing.assert_allclose(got.numpy(), want, atol=1e-3)


class BicubicUpsampler(torch.nn.Module):
    """A parameter-free 'model': MATLAB bicubic upsampling (the bicubic baseline)."""

    def __init__(self, scale, colors):
        super().__init__()
        self.scale, self.colors = scale, colors

    def forward(self, lr):
        return imresize_torch(lr.double(), self.scale).float()


def _have(name):
    from srlib import data

    try:
        return bool(data.list_images(name))
    except Exception:
        return False


@pytest.mark.skipif(not _have("Set5"), reason="Set5 is not available (python -m srlib data fetch Set5)")
def test_evaluate_model_rgb_equals_bicubic_basicsr_protocol():
    from srlib import data

    res = metrics.evaluate_model(BicubicUpsampler(4, 3), "Set5", 4, max_images=2)
    assert len(res["per_image"]) == 2
    for row, (stem, hr) in zip(res["per_image"], data.hr_images("Set5", 4)):
        want = bicubic_image(hr, 4, "basicsr")
        assert row["image"] == stem
        assert row["psnr"] == pytest.approx(want["psnr"], abs=2e-3)
        assert row["ssim"] == pytest.approx(want["ssim"], abs=1e-4)
    y = metrics.evaluate_model(BicubicUpsampler(4, 1), "Set5", 4, max_images=2)
    assert 20 < y["psnr"] < 40 and 0.5 < y["ssim"] < 1


@pytest.mark.skipif(not _have("Set5"), reason="Set5 is not available (python -m srlib data fetch Set5)")
def test_bicubic_cli_reproduces_published_set5_rows(tmp_path, capsys):
    from srlib.__main__ import main

    out = tmp_path / "b.csv"
    rc = main(["bicubic", "--sets", "Set5", "--scales", "2", "4", "--out", str(out), "--no-progress"])
    assert rc == 0
    df = pd.read_csv(out)
    assert list(df.columns) == ["set", "scale", "psnr", "ssim", "paper_psnr", "paper_ssim", "d_psnr", "d_ssim"]
    got = {int(r.scale): (round(r.psnr, 2), round(r.ssim, 4)) for r in df.itertuples()}
    assert got == {2: (33.66, 0.9299), 4: (28.42, 0.8104)}  # SRCNN/VDSR/LapSRN papers' Bicubic rows
    assert "within" in capsys.readouterr().out


@pytest.mark.skipif(not _have("Set5"), reason="Set5 is not available (python -m srlib data fetch Set5)")
def test_bicubic_cli_fails_when_a_cell_is_off(tmp_path, capsys, monkeypatch):
    from srlib.__main__ import main

    shifted = {("Set5", 4, "PSNR"): 28.50, ("Set5", 4, "SSIM"): 0.8104}
    monkeypatch.setattr(metrics, "_paper_bicubic", lambda: shifted)
    rc = main(["bicubic", "--sets", "Set5", "--scales", "4", "--out", str(tmp_path / "b.csv"), "--no-progress"])
    assert rc == 1
    assert "OUTSIDE TOLERANCE: Set5 x4" in capsys.readouterr().out


def test_protocols_and_bad_input():
    assert set(PROTOCOL_OF_TABLE.values()) <= set(PROTOCOLS)
    assert PROTOCOL_OF_TABLE[("fdloss", "Table 2")] == "srcnn"
    a = np.zeros((20, 20))
    with pytest.raises(ValueError, match="shape"):
        psnr(a, np.zeros((20, 21)))
    with pytest.raises(ValueError, match="2-D"):
        ssim(np.zeros((20, 20, 3)), np.zeros((20, 20, 3)))
    with pytest.raises(ValueError, match="window"):
        ssim(np.zeros((8, 8)), np.zeros((8, 8)))
    with pytest.raises(ValueError, match="shaving"):
        psnr(a, a, shave=10)
    with pytest.raises(ValueError, match="unknown protocol"):
        bicubic_image(np.zeros((8, 8, 3), np.uint8), 2, protocol="matlab")
    with pytest.raises(ValueError, match="shape"):
        ssim_map(torch.zeros(1, 1, 8, 8), torch.zeros(1, 1, 8, 9))
    with pytest.raises(ValueError, match="differs"):
        evaluate_sr(np.zeros((8, 8, 3), np.uint8), np.zeros((8, 9, 3), np.uint8), 2)
    assert bicubic_image(np.full((20, 20, 3), 90, np.uint8), 2, "basicsr")["psnr"] == math.inf
    assert imresize_uint8(np.full((4, 4), 90, np.uint8), 2).max() == 90


@pytest.mark.skipif(not _have("Set5"), reason="Set5 is not available (python -m srlib data fetch Set5)")
def test_compare_protocols_reuses_a_given_table_and_reports_the_difference():
    scales = [2, 4]
    srcnn = metrics.bicubic_table(["Set5"], scales, protocol="srcnn", progress=False)
    both = metrics.compare_protocols("Set5", scales, tables={"srcnn": srcnn})
    assert list(both["scale"]) == scales
    assert both["PSNR srcnn"].tolist() == srcnn["psnr"].tolist()
    basicsr = metrics.bicubic_table(["Set5"], scales, protocol="basicsr", progress=False)
    assert both["PSNR basicsr"].tolist() == basicsr["psnr"].tolist()
    # FACTS.md: the basicsr protocol reads about 0.01-0.02 dB higher on Set5
    assert ((both["ΔPSNR (basicsr − srcnn)"] > 0) & (both["ΔPSNR (basicsr − srcnn)"] < 0.05)).all()


def test_metrics_registry_holds_the_book_protocol():
    assert {"psnr", "ssim"} <= set(metrics.METRICS.names())
    rng = np.random.default_rng(5)
    hr = rng.integers(0, 256, (30, 26, 3), dtype=np.uint8)
    sr = np.clip(hr.astype(int) + rng.integers(-12, 13, hr.shape), 0, 255).astype(np.uint8)
    want = evaluate_sr(sr, hr, 3)  # Y channel, shave = scale
    assert metrics.METRICS.get("psnr")(sr, hr, 3) == want["psnr"]
    assert metrics.METRICS.get("ssim")(sr, hr, 3) == want["ssim"]
    y_sr, y_hr = sr[..., 0], hr[..., 0].astype(np.float64)  # Y models: 2-D images are Y
    assert metrics.METRICS.get("psnr")(y_sr, y_hr, 2) == psnr(y_sr, y_hr, shave=2)
    assert not any(metrics.is_set_level(metrics.METRICS.get(n)) for n in ("psnr", "ssim"))
    assert all(metrics.is_set_level(metrics.METRICS.get(n)) for n in ("fid", "kid"))
    with pytest.raises(KeyError, match="unknown metric 'lpips'; known metrics: .*psnr.*ssim"):
        metrics.METRICS.get("lpips")


def test_rgb_psnr_of_div2k_validation_shaves_scale_plus_6():
    """EDSR-PyTorch's DIV2K validation PSNR (the PSPL paper's 34.4 dB threshold): RGB, shave scale + 6."""
    rng = np.random.default_rng(2)
    hr = rng.integers(0, 256, (40, 36, 3), dtype=np.uint8)
    sr = hr.copy()
    sr[:8] = 0  # damage only inside the shaved band of x2 (2 + 6 = 8 rows)
    assert metrics.METRICS.get("psnr_rgb_div2k")(sr, hr, 2) == math.inf
    sr[8, 8, 0] = hr[8, 8, 0] ^ 1  # one value off by one just inside
    want = metrics.psnr_rgb(sr[8:-8, 8:-8], hr[8:-8, 8:-8])
    assert metrics.METRICS.get("psnr_rgb_div2k")(sr, hr, 2) == pytest.approx(want)
    with pytest.raises(ValueError, match="RGB"):
        metrics.METRICS.get("psnr_rgb_div2k")(sr[..., 0], hr[..., 0].astype(np.float64), 2)


def test_psnr_rgb():
    rng = np.random.default_rng(1)
    a = rng.integers(1, 255, (10, 12, 3), dtype=np.uint8)
    assert metrics.psnr_rgb(a, a) == math.inf
    b = a + np.uint8(1)  # every channel off by one: MSE 1
    assert metrics.psnr_rgb(a, b) == pytest.approx(10 * math.log10(255 ** 2))
    c = a.copy()
    c[0] = 0  # only the first row differs: gone with shave=1
    assert metrics.psnr_rgb(a, c, shave=1) == math.inf and metrics.psnr_rgb(a, c) < 30
    want = 10 * math.log10(255 ** 2 / np.mean((a.astype(float) - c.astype(float)) ** 2))
    assert metrics.psnr_rgb(a, c) == pytest.approx(want, rel=1e-12)
    assert metrics.psnr_rgb(a[..., 0], b[..., 0]) == pytest.approx(48.1308036, abs=1e-6)  # grey works too
    with pytest.raises(ValueError, match="uint8"):
        metrics.psnr_rgb(a / 255.0, b)
    with pytest.raises(ValueError, match="one shape"):
        metrics.psnr_rgb(a, b[:5])
    with pytest.raises(ValueError, match="nothing left"):
        metrics.psnr_rgb(a, b, shave=6)


@pytest.mark.skipif(not _have("Set5"), reason="Set5 is not available (python -m srlib data fetch Set5)")
def test_evaluate_model_takes_any_registered_metrics_per_image_and_set_level(monkeypatch):
    from srlib import data

    monkeypatch.setattr(metrics.METRICS, "_items", dict(metrics.METRICS._items))  # registrations undone after the test
    calls = []

    @metrics.register_metric("test_pixels", set_level=True)
    def pixels(srs, hrs, scale):
        calls.append((len(srs), scale))
        assert all(s.shape == h.shape and s.dtype == np.uint8 for s, h in zip(srs, hrs))
        return sum(s.size for s in srs)

    @metrics.register_metric("test_max_error")
    def max_error(sr, hr, scale):
        return float(np.abs(sr.astype(float) - hr.astype(float)).max())

    model = BicubicUpsampler(4, 3)
    default = metrics.evaluate_model(model, "Set5", 4, max_images=2)
    res = metrics.evaluate_model(model, "Set5", 4, max_images=2, metrics=["test_max_error", "psnr", "test_pixels"])
    assert list(res) == ["test_max_error", "psnr", "test_pixels", "per_image"]
    assert res["psnr"] == default["psnr"] and calls == [(2, 4)]
    assert res["test_pixels"] == sum(hr.size for _, hr in list(data.hr_images("Set5", 4))[:2])
    assert [sorted(r) for r in res["per_image"]] == [["image", "psnr", "test_max_error"]] * 2  # set-level: not per image
    assert res["test_max_error"] == np.mean([r["test_max_error"] for r in res["per_image"]])
    class EvalOnly(BicubicUpsampler):
        def forward(self, lr):
            assert not self.training
            return super().forward(lr)

    model = EvalOnly(4, 3)
    for training in (True, False):  # scored in eval mode, then left in the mode it was in
        model.train(training)
        metrics.evaluate_model(model, "Set5", 4, max_images=1, metrics=["psnr"])
        assert model.training is training
