"""``book/evaluation/protocol.ipynb``: the bicubic rows against the papers' and the chapter's claim row."""
from __future__ import annotations

from srlib import claims as cl

CHAPTER = "evaluation"


def bicubic_claims(table, protocol: str, tol_psnr: float | None = None, tol_ssim: float | None = None) -> list[dict]:
    """The claim "our bicubic PSNR/SSIM equal the papers' bicubic rows" (part ``bicubic``), from the table
    this build computed (:func:`srlib.metrics.bicubic_table`), judged by :func:`srlib.claims.agreement_verdict`.

    Tolerances default to those of ``python -m srlib bicubic`` (``srlib.metrics.PSNR_TOLERANCE``,
    ``SSIM_TOLERANCE``). Rows without a paper value are not compared.
    """
    import numpy as np

    from srlib import metrics

    tol_psnr = metrics.PSNR_TOLERANCE if tol_psnr is None else tol_psnr
    tol_ssim = metrics.SSIM_TOLERANCE if tol_ssim is None else tol_ssim
    claim = (f"Bicubic PSNR/SSIM (Y channel, shave = scale) equal the papers' bicubic rows "
             f"within {tol_psnr} dB / {tol_ssim}")
    df = table.dropna(subset=["paper_psnr"])
    sets = ", ".join(dict.fromkeys(table["set"]))
    context = f"no training; {sets} (whole sets), scales {sorted(set(table['scale']))}, protocol {protocol}"
    if df.empty:
        return [cl.row(CHAPTER, "bicubic", "bicubic", claim, f"{cl.NOT_RUN}: the papers print no bicubic row for {sets}",
                       "", context=context)]
    d_psnr = (df["psnr"] - df["paper_psnr"]).abs().to_numpy()
    d_ssim = (df["ssim"] - df["paper_ssim"]).abs().fillna(0).to_numpy()
    ok = (d_psnr <= tol_psnr) & (d_ssim <= tol_ssim)
    both = {cl.agreement_verdict(d_psnr, tol_psnr), cl.agreement_verdict(d_ssim, tol_ssim)}
    word = cl.REPRODUCED if both == {cl.REPRODUCED} else cl.DIFFERS
    evidence = (f"{int(ok.sum())} of {len(df)} (set, scale) rows within tolerance; max |ΔPSNR| {np.max(d_psnr):.3f} dB, "
                f"max |ΔSSIM| {np.max(d_ssim):.4f}")
    return [cl.row(CHAPTER, "bicubic", "bicubic", claim, word, evidence, context=context, unit="dB")]
