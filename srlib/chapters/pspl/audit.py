"""The aside after the B100 check (``comparison.ipynb``): does the authors' scoring explain Table 1's gains?

The paper's baseline rows are the original papers' published numbers (MATLAB, the standard protocol);
its PSPL rows were scored by the authors' EDSR-PyTorch fork, which resizes HR images that are not a
multiple of the scale instead of cropping them and scores PSNR/SSIM its own way (protocol
``"pspl-code"`` of :mod:`srlib.metrics`). :func:`protocol_audit` measures the shift "pspl-code minus
standard" on whole test sets, for bicubic and for our committed Table 1 models, next to the paper's
PSPL gain per set; :func:`audit_claims` turns it into claim rows (part ``audit``).

Subjects and their standard protocol: bicubic scored as an RGB model (standard ``"basicsr"``, the
book's), bicubic scored as a Y-channel model (standard ``"srcnn"``, MATLAB Y), our models (standard =
the book's :func:`srlib.metrics.evaluate_model`; pspl-code = ``evaluate_model(protocol="pspl-code")``).
Each is compared with the paper's gain of the models its scoring matches: RGB models in the fork
(SRCNN, VDSR, EDSR) for RGB scoring, DRRN and LapSRN for Y scoring, the model itself for our models.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from srlib import claims as cl
from srlib.chapters.pspl.common import CHAPTER, SETS

#: models of Table 1 that the fork runs on Y (``n_colors = 1``); the others are RGB there
Y_MODELS = ("DRRN", "LapSRN")
BICUBIC_RGB, BICUBIC_Y = "bicubic (RGB scoring)", "bicubic (Y scoring)"
#: the Table 1 methods whose seed-0 runs are audited
AUDIT_METHODS = ("baseline", "pspl")
METRICS = {"psnr": "PSNR", "ssim": "SSIM"}


def _bicubic_y_pspl_code(img, scale: int) -> dict:
    """Bicubic as a Y-channel model under the authors' code: Y of the fork's LR (grey used as Y), MATLAB bicubic
    up, rounded; scored against the fork's HR Y (:func:`srlib.metrics.pspl_code_scores`, ``colors=1``)."""
    from srlib import degrade, metrics

    lr, hr = metrics.pspl_code_pair(img, scale)
    ly, hy = (x.astype(np.float64) if x.ndim == 2 else degrade.rgb2ycbcr(x) for x in (lr, hr))
    sr = degrade.round_half_up_uint8(np.clip(degrade.imresize(ly, scale), 0, 255))
    return metrics.pspl_code_scores(sr, hy, scale, colors=1)


def _bicubic_rows(sets: Sequence[str], scale: int) -> list[dict]:
    from srlib import data, metrics

    rows = []
    for st in sets:
        for path in data.list_images(st):
            img = data.load_image(path, keep_gray=True)
            kind = _kind(img, scale)
            for subject, standard, code in (
                    (BICUBIC_RGB, metrics.bicubic_image(img, scale, "basicsr"), metrics.bicubic_image(img, scale, "pspl-code")),
                    (BICUBIC_Y, metrics.bicubic_image(img, scale, "srcnn"), _bicubic_y_pspl_code(img, scale))):
                for protocol, r in (("standard", standard), ("pspl-code", code)):
                    rows.append({"set": st, "image": path.stem, "kind": kind, "subject": subject, "protocol": protocol,
                                 "psnr": r["psnr"], "ssim": r["ssim"]})
    return rows


#: image kinds of the shift's decomposition: HR resized by the fork, grey (scored differently), neither
KINDS = ("resized", "grey", "as is")


def _kind(img, scale: int) -> str:
    """``resized`` when the fork resizes the HR (a side not a multiple of ``scale``), else ``grey`` for a 2-D image,
    else ``as is``."""
    h, w = img.shape[:2]
    return "resized" if h % scale or w % scale else "grey" if img.ndim == 2 else "as is"


def _model_subject(model: str, label: str, seed: int) -> str:
    return f"{model} {label} (seed {seed})"


def _model_rows(t1: dict, sets: Sequence[str], models: Sequence[str], scale: int):
    """Per-image rows of every audited seed-0 run that has a checkpoint; the runs without one (``missing``)."""
    from srlib import metrics

    seed = t1["seeds"][0]
    rows, missing, subjects = [], [], {}
    for m in models:
        for method in AUDIT_METHODS:
            run = t1["runs"].get((m, method, seed))
            if run is None:
                continue
            label = t1["methods"][method]
            if run.checkpoint_path is None:
                missing.append(f"{m} {label} seed {seed} ({run.experiment}/{run.hash})")
                continue
            net = run.load_model()
            subject = _model_subject(m, label, seed)
            subjects[(m, method)] = subject
            for st in sets:
                res = {"standard": metrics.evaluate_model(net, st, scale),
                       "pspl-code": metrics.evaluate_model(net, st, scale, protocol="pspl-code")}
                for protocol, r in res.items():
                    rows += [{"set": st, "image": p["image"], "subject": subject, "protocol": protocol,
                              "psnr": p["psnr"], "ssim": p["ssim"]} for p in r["per_image"]]
    return rows, missing, subjects


def _paper_gains(paper):
    """The paper's PSPL - baseline per (model, set) for PSNR and SSIM (columns ``psnr_gain``, ``ssim_gain``)."""
    return cl.gains(paper.rename(columns={"paper_psnr": "psnr", "paper_ssim": "ssim"}), ["model", "set"], "method",
                    "baseline", "PSPL", ["psnr", "ssim"])


def _comparators(subject: str, model: str | None, every: Sequence[str]) -> list[str]:
    """The paper's models whose gains a subject's shift is compared with (scored the same way in the fork)."""
    if model is not None:
        return [model]
    ys = [m for m in every if m in Y_MODELS]
    return ys if subject == BICUBIC_Y else [m for m in every if m not in Y_MODELS]


def protocol_audit(t1: dict, sets: Sequence[str], models: Sequence[str], scale: int, paper) -> dict:
    """The shift "pspl-code minus standard" per (set, subject, metric) on whole test sets, next to the paper's gain.

    ``t1``: :func:`srlib.chapters.pspl.comparison.table1_runs` (its seed-0 baseline and PSPL runs of ``models``
    are loaded from their checkpoints; runs without one are listed in ``missing``, never retrained).
    Returns ``images`` (one row per set, image, subject, protocol, with the image's :data:`KINDS`), ``table``
    (the CSV: standard and pspl-code means, the shift with its 95% interval over the images and its parts
    from resized, grey and other images (they sum to the shift), the paper's gain of the comparator
    models: mean, min, max), ``bar`` (our baselines against the evidence bar on whole sets), ``missing`` and
    ``text``.
    """
    import pandas as pd

    sets = [s for s in SETS if s in sets]
    rows = _bicubic_rows(sets, scale)
    model_rows, missing, subjects = _model_rows(t1, sets, models, scale)
    images = pd.DataFrame(rows)
    kinds = images.drop_duplicates(["set", "image"]).set_index(["set", "image"])["kind"]
    if model_rows:
        m = pd.DataFrame(model_rows)
        m["kind"] = [kinds[(s, i)] for s, i in zip(m["set"], m["image"])]
        images = pd.concat([images, m[images.columns]], ignore_index=True)
    pg = _paper_gains(paper)
    model_of = {s: m for (m, _), s in subjects.items()}
    out = []
    for (st, subject), sub in images.groupby(["set", "subject"], sort=False):
        comp = _comparators(subject, model_of.get(subject), list(dict.fromkeys(paper["model"])))
        gains = pg[(pg["set"] == st) & pg["model"].isin(comp)]
        wide = sub.pivot(index="image", columns="protocol", values=list(METRICS))
        kind = sub.drop_duplicates("image").set_index("image")["kind"].reindex(wide.index)
        for metric, name in METRICS.items():
            e = cl.paired_effect(dict(wide[(metric, "pspl-code")]), dict(wide[(metric, "standard")]), "higher")
            d = wide[(metric, "pspl-code")] - wide[(metric, "standard")]
            parts = {f"shift_from_{k.replace(' ', '_')}": float(d[kind == k].sum() / len(d)) for k in KINDS}
            g = gains[f"{metric}_gain"]
            out.append({"set": st, "subject": subject, "metric": name, "images": e["n"],
                        "resized": int((kind == "resized").sum()), "grey": int((kind == "grey").sum()),
                        "standard": float(wide[(metric, "standard")].mean()),
                        "pspl_code": float(wide[(metric, "pspl-code")].mean()),
                        "shift": e["mean"], "shift_ci_low": e["ci_low"], "shift_ci_high": e["ci_high"], **parts,
                        "paper_models": ", ".join(comp), "paper_gain": float(g.mean()),
                        "paper_gain_min": float(g.min()), "paper_gain_max": float(g.max()),
                        "shift_over_paper_gain": e["mean"] / float(g.mean()) if float(g.mean()) > 0 else np.nan})
    table = pd.DataFrame(out)
    table["profile"] = t1["profile"]
    bar = _bar(table, subjects, paper)
    lines = [f"whole sets at x{scale}: {', '.join(f'{s} ({images[images.set == s].image.nunique()} images)' for s in sets)}"]
    lines.append(f"our models audited (seed {t1['seeds'][0]}, {t1['profile']} profile): "
                 + (", ".join(subjects.values()) or "none"))
    if missing:
        lines.append(f"no committed checkpoint, not measured (never retrained): {', '.join(missing)}")
    return {"images": images, "table": table, "bar": bar, "missing": missing, "subjects": subjects,
            "sets": sets, "scale": scale, "profile": t1["profile"], "text": "\n".join(lines)}


def _bar(table, subjects: dict, paper):
    """Per audited model and set: our baseline (whole set, standard protocol) against bicubic (RGB scoring,
    standard) and the paper's baseline (:func:`srlib.claims.clears_bar`)."""
    import pandas as pd

    psnr = table[table["metric"] == "PSNR"].set_index(["set", "subject"])["standard"]
    pb = paper[paper["method"] == "baseline"].set_index(["model", "set"])["paper_psnr"]
    rows = []
    for (m, method), subject in subjects.items():
        if method != "baseline":
            continue
        for st in sorted({s for s, _ in psnr.index}, key=SETS.index):
            o, b, pp = float(psnr[(st, subject)]), float(psnr[(st, BICUBIC_RGB)]), float(pb[(m, st)])
            rows.append({"model": m, "set": st, "baseline": o, "bicubic": b, "paper baseline": pp,
                         "bar": b + cl.BAR_FRACTION * (pp - b), "clears": cl.clears_bar(o, b, pp)})
    return pd.DataFrame(rows, columns=["model", "set", "baseline", "bicubic", "paper baseline", "bar", "clears"])


def audit_wide(audit: dict):
    """The table to read: one row per (set, metric, subject) with standard, pspl-code, the shift and the paper's gain."""
    t = audit["table"].copy()
    t["set"] = t["set"].astype("category").cat.set_categories(SETS, ordered=True)
    t = t.sort_values(["metric", "set"], kind="stable")
    t["shift [95% CI]"] = [f"{r.shift:+.3f} [{r.shift_ci_low:+.3f}, {r.shift_ci_high:+.3f}]" if r.metric == "PSNR"
                           else f"{r.shift:+.4f} [{r.shift_ci_low:+.4f}, {r.shift_ci_high:+.4f}]" for r in t.itertuples()]
    t["paper gain (min, max)"] = [f"{r.paper_gain:+.3f} ({r.paper_gain_min:+.2f}, {r.paper_gain_max:+.2f})"
                                  if r.metric == "PSNR" else
                                  f"{r.paper_gain:+.4f} ({r.paper_gain_min:+.4f}, {r.paper_gain_max:+.4f})"
                                  for r in t.itertuples()]
    cols = ["metric", "set", "subject", "images", "standard", "pspl_code", "shift [95% CI]", "paper gain (min, max)",
            "paper_models"]
    return (t[cols].rename(columns={"pspl_code": "pspl-code", "paper_models": "paper gain of"})
            .style.format({"standard": "{:.4f}", "pspl-code": "{:.4f}"}).hide(axis="index"))


def _claim_text(metric: str, subject: str, st: str, r) -> str:
    who = "bicubic" if subject.startswith("bicubic") else f"our {subject}"
    how = {BICUBIC_RGB: " (scored as an RGB model)", BICUBIC_Y: " (scored as a Y-channel model)"}.get(subject, "")
    gain = f"{r.paper_gain:+.2f} dB" if metric == "PSNR" else f"{r.paper_gain:+.4f}"
    of = f"mean of {r.paper_models}" if "," in r.paper_models else r.paper_models
    return (f"Scoring with the authors' code instead of the standard protocol by itself raises the {st} x4 {metric} "
            f"of {who}{how} by the paper's PSPL gain ({gain}, {of})")


#: (metric, subject) pairs written as claim rows; the models' rows are PSNR of the PSPL run
CLAIM_SUBJECTS = (("PSNR", BICUBIC_RGB), ("SSIM", BICUBIC_RGB), ("SSIM", BICUBIC_Y))


def audit_claims(audit: dict) -> list[dict]:
    """Claim rows of part ``audit``: per set, the shift of bicubic (PSNR and SSIM with RGB scoring, SSIM with
    Y scoring) and the PSNR shift of each audited PSPL model, each against the paper's PSPL gain of the models
    scored that way (:func:`srlib.claims.effect_verdict` on the per-image paired shift, 95% t interval over
    the images; a paper gain <= 0 is judged on direction only). A model row whose baseline does not clear the
    evidence bar on that set is ``under-trained``."""
    t, bar = audit["table"], audit["bar"]
    pspl_subjects = {s: m for (m, method), s in audit["subjects"].items() if method == "pspl"}
    wanted = [*CLAIM_SUBJECTS, *(("PSNR", s) for s in pspl_subjects)]
    context = (f"{audit['profile']} profile; whole test sets at x{audit['scale']}; standard = basicsr (RGB scoring), "
               "srcnn (Y scoring), the book's evaluation (our models); pspl-code = srlib.metrics protocol 'pspl-code'")
    rows = []
    for st in audit["sets"]:
        for metric, subject in wanted:
            sel = t[(t["set"] == st) & (t["subject"] == subject) & (t["metric"] == metric)]
            if sel.empty:
                continue
            r = next(sel.itertuples())
            e = {"n": r.images, "mean": r.shift, "ci_low": r.shift_ci_low, "ci_high": r.shift_ci_high}
            claimed = r.paper_gain if r.paper_gain > 0 else None
            word = cl.effect_verdict(e, claimed)
            unit = "dB" if metric == "PSNR" else "SSIM"
            d = 3 if metric == "PSNR" else 4
            evidence = (f"{metric} shift pspl-code - standard, paired per image: {cl.format_effect(e, unit, d)} images "
                        f"(standard {r.standard:.{d}f}, pspl-code {r.pspl_code:.{d}f}); paper's PSPL gain on {st}: "
                        f"{r.paper_gain:+.{d}f} (min {r.paper_gain_min:+.{d}f}, max {r.paper_gain_max:+.{d}f}; "
                        f"{r.paper_models})")
            if subject in pspl_subjects:
                m = pspl_subjects[subject]
                b = bar[(bar["model"] == m) & (bar["set"] == st)]
                base = t[(t["set"] == st) & (t["metric"] == metric)
                         & (t["subject"] == audit["subjects"].get((m, "baseline"), ""))]
                if len(base):
                    evidence += f"; the baseline's shift {float(base['shift'].iloc[0]):+.3f} dB"
                if len(b) and not bool(b["clears"].iloc[0]):
                    b = b.iloc[0]
                    word = (f"{cl.UNDER_TRAINED}: baseline {b['baseline']:.2f} dB on the whole set, bicubic "
                            f"{b['bicubic']:.2f}, needs {b['bar']:.2f} (a third of the paper's margin)")
            who = {BICUBIC_RGB: "bicubic-rgb", BICUBIC_Y: "bicubic-y"}.get(subject) or pspl_subjects[subject].lower()
            cid = f"{metric.lower()}-{who}-{st.lower()}"
            rows.append(cl.row(CHAPTER, "audit", cid, _claim_text(metric, subject, st, r), word, evidence,
                               context=context, effect=e, claimed=claimed, unit=unit))
    return rows


def plot_audit(audit: dict):
    """Per set: the shift of each subject (bars, 95% interval over the images) and, on each bar, the paper's PSPL
    gain it is compared with (black: mean of the comparator models, thin line min to max); PSNR left, SSIM right."""
    import matplotlib.pyplot as plt

    t = audit["table"]
    subjects = list(dict.fromkeys(t["subject"]))
    fig, axs = plt.subplots(1, 2, figsize=(12, 3.8))
    width = 0.8 / len(subjects)
    for ax, metric in zip(axs, ["PSNR", "SSIM"]):
        for i, st in enumerate(audit["sets"]):
            sub = t[(t["set"] == st) & (t["metric"] == metric)].set_index("subject")
            for k, s in enumerate(subjects):
                if s not in sub.index:
                    continue
                r, x = sub.loc[s], i - 0.4 + (k + 0.5) * width
                ax.bar(x, r["shift"], width * 0.9, color=f"C{k}", label=s if i == 0 else None,
                       yerr=[[r["shift"] - r["shift_ci_low"]], [r["shift_ci_high"] - r["shift"]]], capsize=2, ecolor="0.45")
                ax.plot([x - width * 0.45, x + width * 0.45], [r["paper_gain"]] * 2, color="k", lw=2,
                        label="paper's PSPL gain it is compared with" if i == 0 and k == 0 else None)
                ax.plot([x + width * 0.3] * 2, [r["paper_gain_min"], r["paper_gain_max"]], color="k", lw=0.7)
        ax.axhline(0, color="grey", lw=0.5)
        ax.set_xticks(range(len(audit["sets"])), audit["sets"])
        ax.set_ylabel(f"{metric}: pspl-code − standard" + (" (dB)" if metric == "PSNR" else ""))
    axs[0].legend(fontsize=7)
    fig.suptitle(f"Shift from the authors' scoring (bars; x{audit['scale']}, whole sets) and the paper's PSPL gain "
                 "(black: mean of the models scored that way, thin: min to max)", fontsize=9)
    return fig
