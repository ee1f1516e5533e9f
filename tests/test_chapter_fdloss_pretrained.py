"""FD-loss chapter, part 1 (``book/fdloss/pretrained.ipynb``): the port's LapSRN weights in srlib's LapSRN,
the unchanged default LapSRN, the x3 path, the Fig. 1 correlation and the claim rows."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F

from srlib import claims
from srlib.chapters.fdloss import experiments
from srlib.chapters.fdloss import pretrained as fd
from srlib.models import build
from srlib.models import lapsrn

needs_weights = pytest.mark.skipif(not lapsrn.PORT_WEIGHTS.is_file(), reason=f"{lapsrn.PORT_WEIGHTS} not present")


def _port_state():
    return torch.load(lapsrn.PORT_WEIGHTS, map_location="cpu", weights_only=True)


# ----------------------------------------------------------------------------- the port's weights


@needs_weights
def test_port_weights_load_with_every_key_used():
    state = _port_state()
    table = lapsrn.port_key_table()
    assert set(table) == set(state)  # every key of the file is mapped, and nothing else
    assert len(set(table.values())) == len(table)
    model = lapsrn.pretrained_port()
    own = model.state_dict()
    assert set(own) == set(table.values())  # every entry of the model comes from the file
    for k, ours in table.items():
        assert torch.equal(own[ours], state[k]), k
    assert sum(p.numel() for p in model.parameters()) == 870_112
    assert not model.training


@needs_weights
def test_forward_is_the_ports():
    """Our PyramidLevel order against the port's forward written out with the file's tensors:
    HR2 = I1(x) + R1(F1(lrelu(conv_input(x)))); HR4 = I2(HR2) + R2(F2(F1(...)))."""
    w = _port_state()
    lrelu = lambda t: F.leaky_relu(t, 0.2)  # noqa: E731

    def features(level, t):
        for i in range(10):
            t = lrelu(F.conv2d(t, w[f"convt_F{level}.0.cov_block.{2 * i}.weight"], padding=1))
        return lrelu(F.conv_transpose2d(t, w[f"convt_F{level}.0.cov_block.20.weight"], stride=2, padding=1))

    torch.manual_seed(0)
    x = torch.rand(1, 1, 9, 7)
    with torch.no_grad():
        f1 = features(1, lrelu(F.conv2d(x, w["conv_input.weight"], padding=1)))
        hr2 = F.conv_transpose2d(x, w["convt_I1.weight"], stride=2, padding=1) + F.conv2d(f1, w["convt_R1.weight"], padding=1)
        f2 = features(2, f1)
        hr4 = F.conv_transpose2d(hr2, w["convt_I2.weight"], stride=2, padding=1) + F.conv2d(f2, w["convt_R2.weight"], padding=1)
        ours = lapsrn.pretrained_port().forward_levels(x)
    assert torch.allclose(ours[0], hr2, atol=1e-5) and torch.allclose(ours[1], hr4, atol=1e-5)
    assert ours[1].shape == (1, 1, 36, 28)


@needs_weights
def test_wrong_shape_file_names_the_file_and_the_key(tmp_path):
    state = _port_state()
    state["convt_R1.weight"] = torch.zeros(1, 64, 5, 5)
    path = tmp_path / "wrong_shape.pt"
    torch.save(state, path)
    model = lapsrn.LapSRN(**lapsrn.PORT_CONFIG)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(lapsrn.PortWeightsError, match=r"wrong_shape\.pt.*convt_R1\.weight.*\(1, 64, 5, 5\).*\(1, 64, 3, 3\)"):
        lapsrn.load_port_weights(model, path, sha256=None)
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())  # nothing loaded
    # with the pinned hash (the default) the same file is refused before its contents are read
    with pytest.raises(lapsrn.PortWeightsError, match=r"wrong_shape\.pt: sha256 [0-9a-f]{64} differs from the pinned 344c2009"):
        lapsrn.load_port_weights(model, path)


@needs_weights
def test_bad_sha256_names_the_file(tmp_path):
    state = _port_state()
    state["conv_input.weight"] = state["conv_input.weight"] + 1e-3  # same keys and shapes, other contents
    path = tmp_path / "tampered.pt"
    torch.save(state, path)
    with pytest.raises(lapsrn.PortWeightsError, match=r"tampered\.pt: sha256 .* differs from the pinned " + lapsrn.PORT_SHA256):
        lapsrn.pretrained_port(path)
    with pytest.raises(lapsrn.PortWeightsError, match="sha256 .* differs from the pinned 0{64}"):
        lapsrn.pretrained_port(lapsrn.PORT_WEIGHTS, sha256="0" * 64)


@needs_weights
def test_missing_and_unexpected_keys_are_listed(tmp_path):
    state = _port_state()
    state.pop("convt_I2.weight")
    state["convt_I3.weight"] = torch.zeros(1, 1, 4, 4)
    path = tmp_path / "keys.pt"
    torch.save(state, path)
    with pytest.raises(lapsrn.PortWeightsError, match=r"keys\.pt: keys .*missing \['convt_I2\.weight'\]; unexpected \['convt_I3\.weight'\]"):
        lapsrn.load_port_weights(lapsrn.LapSRN(**lapsrn.PORT_CONFIG), path, sha256=None)


@needs_weights
def test_a_model_with_biases_is_refused():
    with pytest.raises(lapsrn.PortWeightsError, match=r"not the port's network.*head\.0\.bias"):
        lapsrn.load_port_weights(lapsrn.LapSRN(scale=4, colors=1))


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(lapsrn.PortWeightsError, match="nope.pt: no such weights file"):
        lapsrn.load_port_weights(lapsrn.LapSRN(**lapsrn.PORT_CONFIG), tmp_path / "nope.pt")


# ----------------------------------------------------------------------------- srlib's LapSRN, defaults unchanged


DEFAULT_KEYS = ["head.0.weight", "head.0.bias"] + [
    f"levels.{i}.{name}" for i in range(2) for name in (
        "features.0.weight", "features.0.bias", "features.2.weight", "features.2.bias", "features.4.weight",
        "features.4.bias", "residual.weight", "residual.bias", "upsample_image.weight", "upsample_image.bias")]


def test_default_lapsrn_is_unchanged():
    """The committed PSPL runs use srlib's LapSRN: without the new options it is the same network, with the same
    keys, parameter count and initialisation (seed 0 sums recorded before the options existed)."""
    torch.manual_seed(0)
    model = build("lapsrn", scale=4, colors=1, depth=2, n_feats=16)
    sd = model.state_dict()
    assert list(sd) == DEFAULT_KEYS
    assert sum(p.numel() for p in model.parameters()) == 17_988
    assert float(sum(v.double().sum() for v in sd.values())) == pytest.approx(10.385375406664025, abs=1e-9)
    assert float(sum(v.double().abs().sum() for v in sd.values())) == pytest.approx(1201.210337639075, abs=1e-9)
    torch.manual_seed(0)
    explicit = build("lapsrn", scale=4, colors=1, depth=2, n_feats=16, bias=True, init="kaiming").state_dict()
    assert list(explicit) == list(sd) and all(torch.equal(explicit[k], sd[k]) for k in sd)
    assert sum(p.numel() for p in build("lapsrn", scale=4, colors=1).parameters()) == 871_588


def test_port_options():
    model = build("lapsrn", scale=4, **{k: v for k, v in lapsrn.PORT_CONFIG.items() if k != "scale"})
    assert sum(p.numel() for p in model.parameters()) == 870_112
    assert not any(k.endswith(".bias") for k in model.state_dict())
    torch.manual_seed(0)
    small = lapsrn.LapSRN(scale=4, colors=1, depth=2, n_feats=8, bias=False, init="port")
    bilinear = lapsrn.bilinear_kernel(1)[0, 0]
    deconv = small.levels[0].features[4]
    assert isinstance(deconv, torch.nn.ConvTranspose2d)
    assert torch.equal(deconv.weight, bilinear.expand(8, 8, 4, 4))  # every channel pair, as the port initialises it
    assert torch.equal(small.levels[1].upsample_image.weight[0, 0], bilinear)
    with pytest.raises(ValueError, match="init='xavier' is not one of"):
        lapsrn.LapSRN(init="xavier")
    with pytest.raises(ValueError, match="bias=1 must be True or False"):
        lapsrn.LapSRN(bias=1)


# ----------------------------------------------------------------------------- the x3 path


def test_x3_path_gives_the_x3_size():
    torch.manual_seed(0)
    model = lapsrn.LapSRN(scale=4, colors=1, depth=1, n_feats=4).eval()
    lr = np.random.default_rng(0).random((20, 30))
    out = fd.super_resolve_y(model, lr, (60, 90))  # x4 network at x3: 80x120 resized to 60x90
    assert out.shape == (60, 90) and out.min() >= 0 and out.max() <= 1
    with torch.no_grad():
        raw = model(torch.from_numpy(lr).float()[None, None]).numpy()[0, 0]
    assert np.allclose(fd.super_resolve_y(model, lr, (80, 120)), np.clip(raw, 0, 1))  # x4: no resize


def test_float_lr_evaluation_at_x3_and_x4():
    torch.manual_seed(0)
    model = lapsrn.LapSRN(scale=4, colors=1, depth=1, n_feats=4)
    x3 = fd.evaluate_float_lr(model, ["Set5"], 3)
    assert list(x3["protocol"].unique()) == ["x3"] and len(x3) == 5 and set(x3["scale"]) == {3}
    assert np.isfinite(x3[["psnr", "ssim", "psnr_unrounded"]].to_numpy()).all()
    assert model.training  # back in the mode it was in
    with pytest.raises(ValueError, match="scale 2 with an x4 network"):
        fd.evaluate_float_lr(model, ["Set5"], 2)


# ----------------------------------------------------------------------------- Fig. 1 correlation


def test_pearson_interval_on_constructed_data():
    rng = np.random.default_rng(1)
    x = rng.normal(size=200)
    y = -0.6 * x + 0.8 * rng.normal(size=200)
    c = fd.pearson_interval(x, y)
    assert c["r"] == pytest.approx(np.corrcoef(x, y)[0, 1])
    half = 1.959963984540054 / math.sqrt(200 - 3)
    assert c["ci_low"] == pytest.approx(math.tanh(math.atanh(c["r"]) - half))
    assert c["ci_high"] == pytest.approx(math.tanh(math.atanh(c["r"]) + half))
    assert c["ci_low"] < -0.5 < c["ci_high"] < 0 and c["method"] == "Fisher z" and c["n"] == 200
    assert c["spearman"] < 0
    # a monotone but non-linear relation: Spearman is exactly -1
    assert fd.pearson_interval(x, -np.exp(x))["spearman"] == pytest.approx(-1.0)
    # too few points for an interval; constant data have no r
    few = fd.pearson_interval([1, 2, 3], [3, 1, 2])
    assert math.isfinite(few["r"]) and math.isnan(few["ci_low"])
    assert math.isnan(fd.pearson_interval([1, 1, 1, 1, 1], [1, 2, 3, 4, 5])["r"])
    # nans are dropped pairwise
    assert fd.pearson_interval([1, 2, np.nan, 4, 5, 6], [2, 4, 5, np.nan, 10, 12])["n"] == 4


def test_fisher_interval_covers_rho():
    rng = np.random.default_rng(2)
    rho, n, hits, trials = -0.5, 30, 0, 400
    cov = [[1, rho], [rho, 1]]
    for _ in range(trials):
        x, y = rng.multivariate_normal([0, 0], cov, size=n).T
        c = fd.pearson_interval(x, y)
        hits += c["ci_low"] <= rho <= c["ci_high"]
    assert 0.91 <= hits / trials <= 0.98


# ----------------------------------------------------------------------------- claim rows


def _means(book, port, x3):
    rows = []
    for protocol, scale, values in (("book", 4, book), ("port", 4, port), ("x3", 3, x3)):
        for s, v in values.items():
            rows.append({"protocol": protocol, "set": s, "scale": scale, "psnr": v, "ssim": 0.9, "psnr_unrounded": v, "n": 5})
    return pd.DataFrame(rows)


def _refs():
    return pd.DataFrame([
        {"source": "document", "set": "Set5", "scale": 4, "psnr": 31.65, "ssim": 0.8863},
        {"source": "document", "set": "Set14", "scale": 4, "psnr": 28.27, "ssim": 0.7746},
        {"source": "document", "set": "Set5", "scale": 3, "psnr": 33.92, "ssim": 0.9234},
    ])


NETWORK = {"sha256": lapsrn.PORT_SHA256, "params": 870_112}


def test_claim_rows_use_the_vocabulary(tmp_path):
    corr = {"r": -0.4, "ci_low": -0.55, "ci_high": -0.22, "spearman": -0.35, "n": 100, "confidence": 0.95, "method": "Fisher z"}
    means = _means({"Set5": 31.62, "Set14": 28.22}, {"Set5": 31.645, "Set14": 28.268}, {})
    rows = fd.pretrained_claims(means, _refs(), corr, "Urban100", "cpu", NETWORK)
    by_id = {r["claim_id"]: r for r in rows}
    assert by_id["x4_row_is_port"]["verdict"] == claims.REPRODUCED
    assert by_id["x4_other_sets_port"]["verdict"].startswith(claims.NOT_RUN + ":")  # no Urban100 evaluated
    assert by_id["x4_row_book_protocol"]["verdict"] == claims.DIFFERS
    assert "Set14 28.220 vs 28.27 (-0.050)" in by_id["x4_row_book_protocol"]["evidence"]
    assert by_id["x3_row_is_port_x4"]["verdict"].startswith(claims.NOT_RUN + ":")
    fig1 = by_id["fig1_entropy_psnr"]
    assert fig1["verdict"] == claims.REPRODUCED  # the whole interval of r lies below zero: the claimed direction
    assert fig1["effect"] == pytest.approx(0.4) and fig1["ci_low"] == pytest.approx(0.22)
    for r in rows:
        claims.check_verdict(r["verdict"])
        assert set(r) == set(claims.COLUMNS) and (r["chapter"], r["part"]) == ("fdloss", "pretrained")
    written = claims.write_part(tmp_path / "fdloss.csv", "fdloss", "pretrained", rows)
    assert len(written) == 5 and len(claims.read(tmp_path / "fdloss.csv")) == 5


def test_urban100_is_judged_apart_from_the_readme_sets():
    refs = pd.concat([_refs(), pd.DataFrame([{"source": "document", "set": "Urban100", "scale": 4, "psnr": 25.34,
                                              "ssim": 0.7572}])], ignore_index=True)
    corr = {"r": -0.2, "ci_low": -0.4, "ci_high": 0.1, "spearman": -0.2, "n": 100, "confidence": 0.95, "method": "Fisher z"}
    means = _means({"Set5": 31.62}, {"Set5": 31.645, "Urban100": 25.31}, {})
    by_id = {r["claim_id"]: r for r in fd.pretrained_claims(means, refs, corr, "Urban100", "cpu", NETWORK)}
    assert by_id["x4_row_is_port"]["verdict"] == claims.REPRODUCED and "Urban100" not in by_id["x4_row_is_port"]["evidence"]
    assert by_id["x4_other_sets_port"]["verdict"] == claims.DIFFERS
    assert "Urban100 25.310 vs 25.34 (-0.030)" in by_id["x4_other_sets_port"]["evidence"]


@pytest.mark.parametrize("lo, hi, word", [(0.1, 0.4, claims.OPPOSITE), (-0.3, 0.2, claims.INCONCLUSIVE),
                                          (math.nan, math.nan, claims.INCONCLUSIVE)])
def test_entropy_claim_direction(lo, hi, word):
    r = 0.25 if math.isfinite(lo) else -0.2
    corr = {"r": r, "ci_low": lo, "ci_high": hi, "spearman": r, "n": 5, "confidence": 0.95, "method": "Fisher z"}
    means = _means({"Set5": 31.65}, {"Set5": 31.65}, {"Set5": 33.91})
    rows = {r["claim_id"]: r for r in fd.pretrained_claims(means, _refs(), corr, "Set5", "smoke", NETWORK)}
    assert rows["fig1_entropy_psnr"]["verdict"] == word
    assert rows["x3_row_is_port_x4"]["verdict"] == claims.REPRODUCED  # 33.91 vs 33.92: within 0.02 dB


def test_reference_rows_are_the_documents():
    refs = fd.reference_rows()
    doc = refs[refs["source"] == "document"].set_index(["set", "scale"])["psnr"]
    assert [doc[(s, 4)] for s in ("Set5", "Set14", "B100", "Urban100")] == [31.65, 28.27, 27.36, 25.34]
    assert [doc[(s, 3)] for s in ("Set5", "Set14", "B100", "Urban100")] == [33.92, 30.01, 29.11, 27.51]
    paper = refs[refs["source"] != "document"].set_index(["set", "scale"])["psnr"]
    assert [paper[(s, 4)] for s in ("Set5", "Set14", "B100")] == [31.54, 28.19, 27.32]


def test_notebook_defaults():
    smoke = experiments.notebook_defaults("pretrained", "smoke")
    assert smoke["sets"] == smoke["port_sets"] == smoke["x3_sets"] == ["Set5"] and smoke["fig1_set"] == "Set5"
    for profile in ("cpu", "paper"):
        d = experiments.notebook_defaults("pretrained", profile)
        assert d["sets"] == d["port_sets"] == ["Set5", "Set14", "B100", "Urban100"]
        assert d["fig1_set"] == "Urban100" and d["fig1_set"] in d["sets"]
    d = experiments.notebook_defaults("pretrained", "cpu")
    d["sets"].append("x")
    assert "x" not in experiments.notebook_defaults("pretrained", "cpu")["sets"]  # a copy
    with pytest.raises(KeyError, match="no defaults for notebook 'table1'"):
        experiments.notebook_defaults("table1", "cpu")
