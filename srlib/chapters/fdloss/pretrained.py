"""``book/fdloss/pretrained.ipynb``: the document's LapSRN baseline against the PyTorch port's pretrained x4 network.

Nothing is trained: the port's weights (``../shared/weights/``) are loaded into srlib's LapSRN and
evaluated three ways, each on whole test sets:

* ``book``  — the book's protocol, :func:`srlib.metrics.evaluate_model`: LR = MATLAB bicubic of the RGB
  HR rounded to uint8, its Y (float) in, output clamped and rounded to uint8, Y PSNR/SSIM, shave = scale.
  The float output is recorded on the way, so the same pass also gives the PSNR *without* rounding.
* ``port``  — the port's ``eval.py`` with its MATLAB test data: LR = MATLAB bicubic of the float Y of the
  HR (never rounded), output clipped to [0, 255] and not rounded, Y PSNR, shave = scale.
* ``x3``    — LapSRN at x3 as its authors' test code (``SR_LapSRN.m``) makes it: the x4 network on the x3
  LR (float, as in ``port``), its output resized to the x3 size with MATLAB bicubic, clipped; PSNR
  rounded (the authors quantise the output) and not.

Fig. 1: entropy of each HR image (:func:`srlib.metrics.entropy`) against the PSNR of the network's output,
the Pearson correlation with a Fisher-z 95% interval.
"""
from __future__ import annotations

import math

import numpy as np

from srlib import claims as cl

CHAPTER = "fdloss"
PART = "pretrained"
#: agreement tolerance of the claim rows: the document prints two decimals
TOLERANCE_DB = 0.02
#: the sets whose x4 PSNR the port's README reports (the document's Set5 / Set14 / BSD100 numbers, digit for
#: digit; ``shared/weights/README.md``); it reports no Urban100
PORT_README_SETS = ("Set5", "Set14", "B100")
SCALE = 4
PROTOCOLS = {
    "book": "book protocol (srlib.metrics.evaluate_model: LR = bicubic of RGB rounded to uint8, output rounded)",
    "port": "the port's eval.py (LR = bicubic of float Y, never rounded; output clipped, not rounded)",
    "x3": "the LapSRN authors' x3 test (x4 network on the float x3 LR, output bicubic-resized to the x3 size)",
}


# ----------------------------------------------------------------------------- the network


def port_network() -> dict:
    """The port's pretrained x4 LapSRN in srlib's LapSRN: ``model``, ``params``, ``sha256``, ``path``, ``text``."""
    from srlib.models import lapsrn

    model = lapsrn.pretrained_port()
    params = sum(p.numel() for p in model.parameters())
    text = (f"srlib LapSRN {lapsrn.PORT_CONFIG} with the weights of {lapsrn.PORT_WEIGHTS.name} "
            f"(sha256 {lapsrn.PORT_SHA256[:12]}…, verified; every key used): {params:,} weights, no biases")
    return {"model": model, "params": params, "sha256": lapsrn.PORT_SHA256, "path": lapsrn.PORT_WEIGHTS, "text": text}


def _recorder(model):
    """``model`` wrapped so that every float output (clamped to [0, 1]) is kept, in call order."""
    import torch

    class Recorder(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner, self.scale, self.colors, self.outputs = inner, inner.scale, inner.colors, []

        def forward(self, x):
            y = self.inner(x)
            self.outputs.append(y.detach().clamp(0, 1).cpu().numpy()[0, 0].astype(np.float64))
            return y

    return Recorder(model)


# ----------------------------------------------------------------------------- evaluation


def evaluate_book(model, sets, scale: int = SCALE):
    """Per image of every set: the book's protocol (:func:`srlib.metrics.evaluate_model`: ``psnr``, ``ssim``)
    and, from the same forward pass, ``psnr_unrounded`` (the output clamped but not rounded)."""
    import pandas as pd

    from srlib import data, degrade, metrics
    from srlib.conventions import shave

    rows = []
    for set_name in sets:
        rec = _recorder(model)
        res = metrics.evaluate_model(rec, set_name, scale)
        pairs = data.lr_pairs(set_name, scale)
        if len(pairs) != len(rec.outputs) or len(pairs) != len(res["per_image"]):
            raise RuntimeError(f"evaluate_book: {set_name}: {len(rec.outputs)} outputs for {len(pairs)} images")
        for (stem, _lr, hr), out, r in zip(pairs, rec.outputs, res["per_image"]):
            if r["image"] != stem:
                raise RuntimeError(f"evaluate_book: {set_name}: image order differs ({r['image']} vs {stem})")
            y = degrade.rgb2ycbcr(hr)
            rows.append({"protocol": "book", "set": set_name, "scale": scale, "image": stem, "psnr": r["psnr"],
                         "ssim": r["ssim"], "psnr_unrounded": metrics.psnr(out * 255.0, y, shave=shave(scale))})
    return pd.DataFrame(rows)


def super_resolve_y(model, lr_y01, hr_shape) -> np.ndarray:
    """A Y model's output for one float LR Y image in [0, 1] (2-D), at ``hr_shape``: the network's output, resized
    with MATLAB bicubic (:func:`srlib.degrade.imresize`, explicit output shape) when its size differs from
    ``hr_shape`` (LapSRN x4 at x3), then clipped to [0, 1]. Float64, not rounded."""
    import torch

    from srlib import degrade

    lr = np.asarray(lr_y01, dtype=np.float64)
    if lr.ndim != 2:
        raise ValueError(f"super_resolve_y: expected a 2-D Y image, got shape {lr.shape}")
    with torch.no_grad():
        out = model(torch.from_numpy(np.ascontiguousarray(lr)).float()[None, None])
    out = out.numpy()[0, 0].astype(np.float64)
    if out.shape != tuple(hr_shape):
        out = degrade.imresize(out, output_shape=tuple(hr_shape))
    return np.clip(out, 0.0, 1.0)


def evaluate_float_lr(model, sets, scale: int = SCALE):
    """Per image of every set, the LR made as the port's and the LapSRN authors' MATLAB test data make it:
    ``imresize(Y_HR / 255, 1/scale)``, float, never rounded (Y of the modcropped HR, ``rgb2ycbcr``).

    The output of the x``model.scale`` network is resized to the HR size with MATLAB bicubic when the two
    differ (LapSRN "x3": ``SR_LapSRN.m``), then clipped to [0, 1]. ``psnr_unrounded``: clipped only (the
    port's ``eval.py``); ``psnr`` and ``ssim``: rounded to 8 bits first (the authors' ``im2uint8``, here on Y).
    Protocol ``"port"`` when the scales agree, ``"x3"`` (the authors' test at another scale) otherwise.
    """
    import pandas as pd

    from srlib import data, degrade, metrics
    from srlib.conventions import shave
    from srlib.models import eval_mode

    if int(scale) == int(model.scale):
        protocol = "port"
    elif int(scale) == 3:
        protocol = "x3"
    else:
        raise ValueError(f"evaluate_float_lr: scale {scale} with an x{model.scale} network: only x{model.scale} "
                         "(the port's evaluation) and x3 (the LapSRN authors' x3 test) are defined")
    rows, s = [], shave(scale)
    with eval_mode(model):
        for set_name in sets:
            for stem, hr in data.hr_images(set_name, scale=scale):
                y = degrade.rgb2ycbcr(hr)
                sr = super_resolve_y(model, degrade.imresize(y / 255.0, 1.0 / scale), y.shape) * 255.0
                rounded = degrade.round_half_up_uint8(sr).astype(np.float64)
                rows.append({"protocol": protocol, "set": set_name, "scale": int(scale), "image": stem,
                             "psnr": metrics.psnr(rounded, y, shave=s), "ssim": metrics.ssim(rounded, y, shave=s),
                             "psnr_unrounded": metrics.psnr(sr, y, shave=s)})
    return pd.DataFrame(rows, columns=["protocol", "set", "scale", "image", "psnr", "ssim", "psnr_unrounded"])


def set_means(*per_image):
    """Mean over the images of each (protocol, set, scale) of per-image tables; ``n`` = images."""
    import pandas as pd

    df = pd.concat([d for d in per_image if len(d)], ignore_index=True)
    g = df.groupby(["protocol", "set", "scale"], sort=False)
    out = g[["psnr", "ssim", "psnr_unrounded"]].mean()
    out["n"] = g.size()
    return out.reset_index()


# ----------------------------------------------------------------------------- the documents' numbers


def reference_rows():
    """The documents' LapSRN rows as data: the FD-loss document's Table 2 (x3, x4; ``fdloss.csv``) and the
    LapSRN paper's published x4 numbers as the PSPL document prints them (its Table 1 baseline column,
    ``pspl.csv``). Columns ``source``, ``set``, ``scale``, ``psnr``, ``ssim``."""
    import pandas as pd

    from srlib import papers

    out = []
    for doc, table, method, source in (("fdloss", "Table 2", "baseline", "document"),
                                       ("pspl", "Table 1", "baseline", "LapSRN paper (via doc. 000)")):
        t = papers.load(doc, table)
        t = t[(t["model"] == "LapSRN") & (t["method"] == method) & t["metric"].isin(["PSNR", "SSIM"])]
        wide = t.pivot_table(index=["dataset", "scale"], columns="metric", values="value", aggfunc="first")
        for (ds, sc), r in wide.iterrows():
            out.append({"source": source, "set": ds, "scale": int(sc), "psnr": float(r.get("PSNR", math.nan)),
                        "ssim": float(r.get("SSIM", math.nan))})
    return pd.DataFrame(out)


def _ref(refs, source, set_name, scale, metric="psnr"):
    r = refs[(refs["source"] == source) & (refs["set"] == set_name) & (refs["scale"] == scale)]
    return float(r[metric].iloc[0]) if len(r) else math.nan


def _mean(means, protocol, set_name, scale, col):
    r = means[(means["protocol"] == protocol) & (means["set"] == set_name) & (means["scale"] == scale)]
    return float(r[col].iloc[0]) if len(r) else math.nan


# ----------------------------------------------------------------------------- tables

_X4_COLUMNS = ["set", "document PSNR", "LapSRN paper PSNR", "ours, book", "ours, book unrounded", "ours, port eval",
               "book − document", "port eval − document", "document SSIM", "ours SSIM, book", "images"]
_EFFECT_COLUMNS = ["set", "round output (book LR)", "round output (float LR)", "uint8 RGB LR (unrounded output)",
                   "book − port eval"]
_X3_COLUMNS = ["set", "document PSNR", "ours (rounded)", "ours (unrounded)", "ours − document", "document SSIM",
               "ours SSIM", "images"]


def x4_table(means, refs):
    """One row per set at x4: the document's PSNR/SSIM, the LapSRN paper's PSNR, ours under the book's protocol
    (rounded and not) and under the port's, and the differences to the document."""
    import pandas as pd

    sets = list(dict.fromkeys(means.loc[means["scale"] == SCALE, "set"]))
    rows = []
    for s in sets:
        doc = _ref(refs, "document", s, SCALE)
        book, port = _mean(means, "book", s, SCALE, "psnr"), _mean(means, "port", s, SCALE, "psnr_unrounded")
        rows.append({"set": s, "document PSNR": doc, "LapSRN paper PSNR": _ref(refs, "LapSRN paper (via doc. 000)", s, SCALE),
                     "ours, book": book, "ours, book unrounded": _mean(means, "book", s, SCALE, "psnr_unrounded"),
                     "ours, port eval": port, "book − document": book - doc, "port eval − document": port - doc,
                     "document SSIM": _ref(refs, "document", s, SCALE, "ssim"),
                     "ours SSIM, book": _mean(means, "book", s, SCALE, "ssim"),
                     "images": int(_mean(means, "book", s, SCALE, "n"))})
    return pd.DataFrame(rows, columns=_X4_COLUMNS)


def protocol_effects(means):
    """What each protocol difference does to the mean PSNR at x4, per set (both measured on the same images):
    rounding the output to uint8 (book LR), quantising the LR to uint8 RGB (unrounded outputs), and both."""
    import pandas as pd

    rows = []
    for s in dict.fromkeys(means.loc[(means["protocol"] == "book") & (means["scale"] == SCALE), "set"]):
        book_r = _mean(means, "book", s, SCALE, "psnr")
        book_u = _mean(means, "book", s, SCALE, "psnr_unrounded")
        port_u = _mean(means, "port", s, SCALE, "psnr_unrounded")
        port_r = _mean(means, "port", s, SCALE, "psnr")
        rows.append({"set": s, "round output (book LR)": book_r - book_u, "round output (float LR)": port_r - port_u,
                     "uint8 RGB LR (unrounded output)": book_u - port_u, "book − port eval": book_r - port_u})
    return pd.DataFrame(rows, columns=_EFFECT_COLUMNS)


def x3_table(means, refs):
    """One row per set at x3: the document's LapSRN x3 row against the x4 network run as the authors' x3 test."""
    import pandas as pd

    rows = []
    for s in dict.fromkeys(means.loc[means["protocol"] == "x3", "set"]):
        doc = _ref(refs, "document", s, 3)
        ours = _mean(means, "x3", s, 3, "psnr")
        rows.append({"set": s, "document PSNR": doc, "ours (rounded)": ours,
                     "ours (unrounded)": _mean(means, "x3", s, 3, "psnr_unrounded"), "ours − document": ours - doc,
                     "document SSIM": _ref(refs, "document", s, 3, "ssim"), "ours SSIM": _mean(means, "x3", s, 3, "ssim"),
                     "images": int(_mean(means, "x3", s, 3, "n"))})
    return pd.DataFrame(rows, columns=_X3_COLUMNS)


def styled(df, caption: str, decimals: int = 2):
    """A table for the page: fixed decimals (differences signed, SSIM with 4), caption below."""
    fmt = {}
    for c in df.columns:
        if df[c].dtype.kind != "f":
            continue
        d = 4 if "SSIM" in c or c in ("ssim", "r", "ci_low", "ci_high", "spearman") else decimals
        fmt[c] = f"{{:+.{d}f}}" if ("−" in c or c.startswith("round") or c.startswith("uint8")) else f"{{:.{d}f}}"
    return (df.style.format(fmt, na_rep="—").hide(axis="index").set_caption(caption)
            .set_table_styles([{"selector": "caption", "props": "caption-side: bottom; text-align: left; font-size: 0.85em;"},
                               {"selector": "td, th", "props": "padding: 0.15em 0.7em;"}]))


def provenance(profile: str, network: dict, sets, what: str) -> dict:
    """The provenance of a table of this page (see :func:`srlib.viz.provenance_caption`)."""
    from srlib import viz

    return {
        "model": (f"the PyTorch port's pretrained LapSRN x4 (twtygqyy/pytorch-LapSRN, {network['params']:,} weights, "
                  f"sha256 {network['sha256'][:12]}…), trained by its author on 291 (T91 + BSDS200)"),
        "iterations": "none here (pretrained by the port's author, 100 epochs; nothing trained for this page)",
        "data": f"{', '.join(sets)}: whole sets, HR modcropped to the scale; {what}",
        "profile": profile,
        "hardware": f"{viz.hardware_description()} (the numbers are computed when the page is built)",
    }


def table_csv(means, refs, network: dict, profile: str):
    """The CSV of the page's results (``results/fdloss/pretrained.csv``): one row per (protocol, set, scale) with
    our means, the document's and the LapSRN paper's values, and the provenance columns."""
    from srlib import viz

    df = means.copy()
    df["document_psnr"] = [_ref(refs, "document", s, sc) for s, sc in zip(df["set"], df["scale"])]
    df["document_ssim"] = [_ref(refs, "document", s, sc, "ssim") for s, sc in zip(df["set"], df["scale"])]
    df["lapsrn_paper_psnr"] = [_ref(refs, "LapSRN paper (via doc. 000)", s, sc) for s, sc in zip(df["set"], df["scale"])]
    df["protocol_text"] = [PROTOCOLS[p] for p in df["protocol"]]
    df["model"] = f"LapSRN x4, twtygqyy/pytorch-LapSRN pretrained, {network['params']} weights, sha256 {network['sha256']}"
    df["profile"] = profile
    df["hardware"] = viz.hardware_description()
    return df


# ----------------------------------------------------------------------------- Fig. 1


def fig1_points(per_image, set_name: str):
    """Per image of ``set_name``: entropy of the HR image (modcropped to x4; :func:`srlib.metrics.entropy`, grey
    by MATLAB ``rgb2gray``) and the PSNR of the network's x4 output under the book's protocol."""
    import pandas as pd

    from srlib import data, metrics

    sub = per_image[(per_image["protocol"] == "book") & (per_image["set"] == set_name) & (per_image["scale"] == SCALE)]
    if sub.empty:
        raise ValueError(f"fig1_points: no book-protocol x4 results for {set_name}; add it to the notebook's sets")
    psnr = dict(zip(sub["image"], sub["psnr"]))
    rows = [{"set": set_name, "image": stem, "entropy": metrics.entropy(hr), "psnr": psnr[stem]}
            for stem, hr in data.hr_images(set_name, scale=SCALE) if stem in psnr]
    return pd.DataFrame(rows)


def pearson_interval(x, y, confidence: float = cl.CONFIDENCE) -> dict:
    """Pearson's r of ``x`` and ``y`` with its Fisher-z interval (``tanh(atanh r ± z_q / sqrt(n - 3))``), and
    Spearman's rank correlation (no interval) as a check that one outlier does not make r. Fewer than 4 pairs,
    or a constant variable: the interval is ``nan``."""
    from scipy import stats

    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    keep = np.isfinite(x) & np.isfinite(y)
    x, y = x[keep], y[keep]
    n = int(x.size)
    out = {"n": n, "r": math.nan, "ci_low": math.nan, "ci_high": math.nan, "spearman": math.nan,
           "confidence": confidence, "method": "Fisher z"}
    if n < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return out
    r = float(np.corrcoef(x, y)[0, 1])
    out["r"] = r
    out["spearman"] = float(stats.spearmanr(x, y)[0])
    if n >= 4:
        z, q = math.atanh(max(min(r, 1 - 1e-15), -1 + 1e-15)), float(stats.norm.ppf(0.5 + confidence / 2))
        half = q / math.sqrt(n - 3)
        out["ci_low"], out["ci_high"] = math.tanh(z - half), math.tanh(z + half)
    return out


def plot_fig1(points, corr: dict, caption: str):
    """Scatter of entropy against PSNR, one point per image, with the least-squares line and the correlation."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.0, 4.2))
    x, y = points["entropy"].to_numpy(float), points["psnr"].to_numpy(float)
    ax.scatter(x, y, s=16, alpha=0.75)
    if len(x) >= 2 and np.ptp(x) > 0:
        a, b = np.polyfit(x, y, 1)
        xs = np.linspace(x.min(), x.max(), 50)
        ax.plot(xs, a * xs + b, color="C3", lw=1.2, label=f"least squares: {a:+.2f} dB per bit")
        ax.legend(loc="lower left", fontsize=8)
    ax.set_xlabel("entropy of the HR image (bits, 256-bin grey histogram)")
    ax.set_ylabel("PSNR of the LapSRN x4 output (dB, Y)")
    ax.set_title(f"{points['set'].iloc[0] if len(points) else ''}: r = {corr['r']:+.2f} "
                 f"[{corr['ci_low']:+.2f}, {corr['ci_high']:+.2f}] ({corr['method']}, {corr['confidence']:.0%}), "
                 f"n = {corr['n']}", fontsize=9)
    fig.text(0.01, -0.02, caption, fontsize=7, wrap=True, va="top")
    fig.tight_layout()
    return fig


# ----------------------------------------------------------------------------- claims


def _agreement(values: dict, reference: dict, tol: float):
    both = [s for s in values if s in reference and math.isfinite(values[s]) and math.isfinite(reference[s])]
    if not both:
        return None, "no set with both values"
    diffs = {s: values[s] - reference[s] for s in both}
    ok = [s for s in both if abs(diffs[s]) <= tol]
    word = cl.agreement_verdict(list(diffs.values()), tol)
    evidence = (f"{len(ok)} of {len(both)} sets within {tol} dB; "
                + "; ".join(f"{s} {values[s]:.3f} vs {reference[s]:.2f} ({diffs[s]:+.3f})" for s in both))
    return word, evidence


def pretrained_claims(means, refs, corr: dict, fig1_set: str, profile: str, network: dict,
                      tol: float = TOLERANCE_DB) -> list[dict]:
    """The claim rows of part ``pretrained`` (agreement rows judged reproduced/differs within ``tol`` dB on every
    set evaluated; the entropy claim on the direction of the Fisher-z interval of r)."""
    base = f"no training; port weights sha256 {network['sha256'][:12]}…, {network['params']:,} weights; whole sets; profile {profile}"
    rows = []

    def doc(scale):
        return {s: _ref(refs, "document", s, scale) for s in refs.loc[refs["source"] == "document", "set"]}

    def ours(protocol, scale, col):
        sub = means[(means["protocol"] == protocol) & (means["scale"] == scale)]
        return dict(zip(sub["set"], sub[col]))

    port_x4 = ours("port", SCALE, "psnr_unrounded")
    specs = [
        ("x4_row_is_port", "The document's LapSRN x4 baseline numbers for Set5, Set14 and BSD100 (Table 1 = Table 2) "
         "are the public PyTorch port's pretrained network, as its README reports them: the port's weights, evaluated "
         f"as its eval.py does, give them within {tol} dB",
         {s: v for s, v in port_x4.items() if s in PORT_README_SETS}, SCALE, PROTOCOLS["port"]),
        ("x4_other_sets_port", "The document's other LapSRN x4 baseline numbers (Urban100, which neither the port's "
         "README nor the LapSRN paper reports) are the same network under the same evaluation, within "
         f"{tol} dB", {s: v for s, v in port_x4.items() if s not in PORT_README_SETS}, SCALE, PROTOCOLS["port"]),
        ("x4_row_book_protocol", f"The book's protocol gives the document's LapSRN x4 row within {tol} dB "
         "(the same weights, the book's evaluation)", ours("book", SCALE, "psnr"), SCALE, PROTOCOLS["book"]),
        ("x3_row_is_port_x4", "The document's LapSRN x3 row (Table 2) is the x4 port run as the LapSRN authors' x3 "
         f"test code does (x4 on the x3 LR, then bicubic to the x3 size), within {tol} dB",
         ours("x3", 3, "psnr"), 3, PROTOCOLS["x3"]),
    ]
    for cid, claim, values, scale, protocol in specs:
        context = f"{base}; x{scale}; {', '.join(values) or 'no set'}; {protocol}"
        if not values:
            rows.append(cl.row(CHAPTER, PART, cid, claim, f"{cl.NOT_RUN}: none of its sets was evaluated in this run", "",
                               context=context, unit="dB"))
            continue
        word, evidence = _agreement(values, doc(scale), tol)
        rows.append(cl.row(CHAPTER, PART, cid, claim, word or f"{cl.NOT_RUN}: the document prints no row for these sets",
                           evidence, context=context, unit="dB"))
    effect = {"mean": -corr["r"], "ci_low": -corr["ci_high"], "ci_high": -corr["ci_low"],
              "n": corr["n"] if math.isfinite(corr["ci_low"]) else 0}
    verdict = cl.effect_verdict(effect)
    evidence = (f"r = {corr['r']:+.3f}, {corr['confidence']:.0%} {corr['method']} interval "
                f"[{corr['ci_low']:+.3f}, {corr['ci_high']:+.3f}], Spearman {corr['spearman']:+.3f}, n = {corr['n']} images")
    rows.append(cl.row(CHAPTER, PART, "fig1_entropy_psnr",
                       "The larger an image's entropy, the lower LapSRN's PSNR on it (Sec. 2, Fig. 1; Sec. 3.1)", verdict,
                       evidence, context=f"{base}; x{SCALE}; {fig1_set}, per image; entropy of the HR image; "
                                         f"{PROTOCOLS['book']}", effect=effect, unit="−r (Pearson)"))
    return rows


def summary(x4, x3, effects, corr: dict, fig1_set: str) -> str:
    """The page's three-line summary, from its own tables."""
    def per_set(df, col):
        d = df.dropna(subset=[col])
        return ", ".join(f"{s} {v:+.3f}" for s, v in zip(d["set"], d[col])) or "—"

    def rng(series):
        v = series.dropna().to_numpy(float)
        if not v.size:
            return "—"
        return f"{v[0]:+.3f} dB" if v.size == 1 else f"{v.min():+.3f} to {v.max():+.3f} dB"

    line1 = (f"1. LapSRN x4, the port's weights minus the document's row (dB): {per_set(x4, 'port eval − document')} "
             f"with the port's own evaluation; {per_set(x4, 'book − document')} with the book's protocol.")
    line2 = (f"2. Protocol: the uint8 RGB LR moves PSNR by {rng(effects['uint8 RGB LR (unrounded output)'])}, "
             f"rounding the output by {rng(effects['round output (book LR)'])}; together "
             f"{rng(effects['book − port eval'])} (per set).")
    line3 = (f"3. LapSRN x3 (x4 network, then bicubic) minus the document's x3 row (dB): {per_set(x3, 'ours − document')}; "
             f"entropy vs PSNR on {fig1_set}: r = {corr['r']:+.2f}, 95% {corr['method']} interval "
             f"[{corr['ci_low']:+.2f}, {corr['ci_high']:+.2f}], n = {corr['n']}.")
    return "\n".join([line1, line2, line3])
