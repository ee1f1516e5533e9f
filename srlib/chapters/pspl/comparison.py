"""``book/pspl/comparison.ipynb``: Table 1 (five models, baseline vs PSPL, x4, four test sets), Fig. 1
(PSNR against Mult-Adds), Fig. 5 (crops) and the Table 1 claims (:mod:`srlib.claims`). The aside on
the dark frame of the PSPL model is :mod:`srlib.chapters.pspl.border`."""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from srlib import claims as cl
from srlib.chapters.pspl.common import CHAPTER, SETS, same_loss_duplicates



def table1_key(model: str, method: str) -> str:
    """The experiment key of one Table 1 run, e.g. ``pspl.table1_edsr_pspl``."""
    return f"pspl.table1_{model.lower()}_{method}"


def table1_results(run_of: Mapping[tuple, object], methods: Mapping[str, str]):
    """One row per (model, method label, seed, set) with psnr and ssim, from the runs' final.json.

    ``run_of = {(model, method key, seed): Run}`` (anything with ``.final["metrics"][set]``).
    """
    import pandas as pd

    rows = []
    for (m, method, s), r in run_of.items():
        for set_name, res in r.final["metrics"].items():
            rows.append({"model": m, "method": methods[method], "seed": s,
                         "set": set_name, "psnr": res["psnr"], "ssim": res["ssim"]})
    return pd.DataFrame(rows)


def table1_runs(profile: str, models: Sequence[str], methods: Mapping[str, str], seeds: Sequence[int]) -> dict:
    """Every (model, method, seed) run of Table 1, trained if missing; ``methods = {experiment suffix: label}``.

    Returns ``methods`` (without same-loss duplicates), ``notes``, ``configs`` per (model, method),
    ``runs`` per (model, method, seed), ``results`` (per seed, :func:`table1_results`), ``ours``
    (mean over seeds per model, set, method), ``variants`` (labels other than the baseline),
    ``sizes``, ``test_data`` and ``summary`` (the lines printed under the cell).
    """
    from srlib import profiles, runs

    cfg0 = {k: profiles.get(profile, table1_key(models[0], k)) for k in methods}
    dup = same_loss_duplicates(cfg0)
    notes = [f"'{methods[k]}' has the same loss as another method at the {profile} profile: shown once" for k in dup]
    methods = {k: label for k, label in methods.items() if k not in dup}
    configs, jobs = {}, {}
    for m in models:
        for method in methods:
            key = table1_key(m, method)
            for s in seeds:
                configs[(m, method)] = c = dict(profiles.get(profile, key), seed=s)
                jobs[(m, method, s)] = (c, key)
    run_of = dict(zip(jobs, runs.get_or_train_many(list(jobs.values()), progress=False)))
    results = table1_results(run_of, methods)
    ours = results.groupby(["model", "set", "method"], as_index=False)[["psnr", "ssim"]].mean()
    ev = configs[(models[0], "baseline")]["eval"]
    n_images = ev.get("final_max_images")
    sizes = "; ".join(profiles.describe(configs[(m, "baseline")], run_of[(m, "baseline", seeds[0])].final).split(", x")[0]
                      for m in models)
    test_data = f"first {n_images} images of each set" if n_images else "all images"
    summary = (f"models: {sizes}\n" + profiles.describe(configs[(models[-1], 'pspl')], run_of[(models[-1], 'pspl', seeds[0])].final)
               + f"\ntest: {', '.join(ev['final_sets'])}, {test_data}; seeds {list(seeds)}")
    return {"methods": methods, "notes": notes, "configs": configs, "runs": run_of, "results": results, "ours": ours,
            "variants": [label for key, label in methods.items() if key != "baseline"], "models": list(models),
            "seeds": list(seeds), "profile": profile, "sizes": sizes, "test_data": test_data, "summary": summary}


def paper_table1():
    """The paper's Table 1, one row per (model, set, method) with ``paper_psnr`` and ``paper_ssim``."""
    from srlib import papers

    paper = papers.load("pspl", "Table 1")
    paper = paper.pivot_table(index=["model", "dataset", "method"], columns="metric", values="value").reset_index()
    return paper.rename(columns={"dataset": "set", "PSNR": "paper_psnr", "SSIM": "paper_ssim"})


def _order(df, models: Sequence[str], by: Sequence[str]):
    import pandas as pd

    df = df.copy()
    df["model"] = pd.Categorical(df["model"], list(models), ordered=True)
    df["set"] = pd.Categorical(df["set"], SETS, ordered=True)
    return df.sort_values(list(by))


def table1_against_paper(ours, models: Sequence[str], paper=None):
    """Our mean per (model, set, method) joined with the paper's row; every PSPL variant of ours is
    compared with the paper's PSPL (at the paper's schedule they are one run). Sorted by model, set, method."""
    paper = paper_table1() if paper is None else paper
    table = ours.assign(paper_method=ours["method"].where(ours["method"] == "baseline", "PSPL"))
    table = table.merge(paper.rename(columns={"method": "paper_method"}), on=["model", "set", "paper_method"], how="left")
    return _order(table, models, ["model", "set", "method"])


def table1_provenance(t1: dict, hardware: str | None = None) -> dict:
    """How our Table 1 numbers were made: model sizes, iterations, data, profile, hardware (from the runs'
    own records, :func:`srlib.viz.run_hardware`), seeds."""
    from srlib import viz

    models, seeds = t1["models"], t1["seeds"]
    c = t1["configs"][(models[0], "baseline")]
    if hardware is None:
        hardware = viz.run_hardware([r.final for r in t1["runs"].values()])
    return dict(model=t1["sizes"], iterations=f"{c['iters_per_epoch'] * c['epochs']} per run",
                data=f"train {c['data']['train']}; test {t1['test_data']}", profile=t1["profile"],
                hardware=hardware, seeds=str(seeds))


def table1_paper_vs_ours(t1: dict, paper=None):
    """The rendered paper-vs-ours Table 1 (a Styler, :func:`srlib.viz.paper_vs_ours`)."""
    from srlib import viz

    table = table1_against_paper(t1["ours"], t1["models"], paper)
    return viz.paper_vs_ours(table, ["model", "set", "method"], provenance=table1_provenance(t1),
                             paper_source="PSPL paper, Table 1 (x4, models trained on DIV2K)")


def table1_gains(ours, paper, variants: Sequence[str], models: Sequence[str]):
    """PSPL − baseline per (model, set): the paper's (``paper ΔPSNR``, ``paper ΔSSIM``) and ours per
    variant (``ΔPSNR <variant>``, ``ΔSSIM <variant>``), sorted by set then model. Returns (gains, paper gains)."""
    pg = cl.gains(paper.rename(columns={"paper_psnr": "psnr", "paper_ssim": "ssim"}), ["model", "set"], "method",
                  "baseline", "PSPL", ["psnr", "ssim"])
    g = pg.rename(columns={"psnr_gain": "paper ΔPSNR", "ssim_gain": "paper ΔSSIM"})
    for v in variants:
        og = cl.gains(ours, ["model", "set"], "method", "baseline", v, ["psnr", "ssim"])
        g = g.merge(og.rename(columns={"psnr_gain": f"ΔPSNR {v}", "ssim_gain": f"ΔSSIM {v}"}), on=["model", "set"], how="outer")
    return _order(g, models, ["set", "model"]), pg


def gain_columns(g) -> list[str]:
    """Our gain columns of :func:`table1_gains` (``Δ…``)."""
    return [c for c in g.columns if c.startswith("Δ")]


def gains_styled(g, caption: str):
    """The gain table, signed, ``—`` where a cell is missing."""
    fmt = {c: ("{:+.3f}" if "PSNR" in c else "{:+.4f}") for c in ["paper ΔPSNR", "paper ΔSSIM", *gain_columns(g)]}
    return g.style.format(fmt, na_rep="—").hide(axis="index").set_caption(caption)


def gains_per_set(g):
    """Mean, min, max of the PSNR gains per test set over the models."""
    cols = ["paper ΔPSNR", *[c for c in gain_columns(g) if "PSNR" in c]]
    return g.groupby("set", observed=True)[cols].agg(["mean", "min", "max"])


def b100_check(g, pg, variants: Sequence[str]) -> dict:
    """The paper's B100 anomaly against ours: mean gain on B100 vs the other sets (``text``), the cells
    with the largest paper SSIM gain per dB (``ssim_per_db``) and the paper cells where PSPL lowers PSNR."""
    per_set = gains_per_set(g)
    b100 = per_set.loc["B100", ("paper ΔPSNR", "mean")]
    others = g[g["set"] != "B100"]["paper ΔPSNR"].mean()
    lines = [f"paper: mean PSPL gain on B100 {b100:+.2f} dB vs {others:+.2f} dB on the other sets (ratio {b100 / others:.1f})"]
    for v in variants:
        col = f"ΔPSNR {v}"
        lines.append(f"ours ({v}): mean gain on B100 {g[g['set'] == 'B100'][col].mean():+.3f} dB vs "
                     f"{g[g['set'] != 'B100'][col].mean():+.3f} dB on the other sets")
    ratio = g.assign(**{"paper ΔSSIM per dB": g["paper ΔSSIM"] / g["paper ΔPSNR"]})
    ratio = ratio[ratio["paper ΔPSNR"] > 0].sort_values("paper ΔSSIM per dB", ascending=False)
    ssim_per_db = ratio[["model", "set", "paper ΔPSNR", "paper ΔSSIM", "paper ΔSSIM per dB", *gain_columns(g)]]
    negative = pg[pg["psnr_gain"] < 0][["model", "set", "psnr_gain"]].to_dict("records")
    return {"text": "\n".join(lines), "ssim_per_db": ssim_per_db, "negative": negative}


#: the verdict of "every cell" is its weakest cell's: the first of these that any cell has
CELL_PRECEDENCE = (cl.OPPOSITE, cl.NO_EFFECT, cl.INCONCLUSIVE, cl.SMALLER, cl.REPRODUCED)


def _paper_gain(paper, model: str, set_name: str) -> float | None:
    """The paper's PSPL - baseline PSNR gain of one cell, or None when it is not a gain (> 0)."""
    if paper is None:
        return None
    cell = paper[(paper["model"] == model) & (paper["set"] == set_name)].set_index("method")["paper_psnr"]
    if not {"baseline", "PSPL"} <= set(cell.index):
        return None
    g = float(cell["PSPL"] - cell["baseline"])
    return g if g > 0 else None


def table1_bar(t1: dict, paper=None):
    """The evidence bar per (model, set): our baseline's gain over bicubic on the same test images (the book's
    protocol, :func:`srlib.metrics.bicubic_image` ``"basicsr"``, as the runs are scored) against a third of the
    paper's margin, the paper's baseline minus bicubic on the whole set (:func:`srlib.claims.clears_bar`).
    A cell that does not clear it is under-trained: shown, but it feeds no verdict."""
    import pandas as pd

    from srlib import data, metrics

    paper = paper_table1() if paper is None else paper
    n = t1["configs"][(t1["models"][0], "baseline")]["eval"].get("final_max_images")
    scale = int(t1["configs"][(t1["models"][0], "baseline")]["scale"])
    sets = sorted(set(t1["results"]["set"]), key=SETS.index)
    bicubic, whole = {}, {}
    for st in sets:
        scores = [metrics.bicubic_image(hr, scale, "basicsr")["psnr"] for _, hr in data.hr_images(st, scale)]
        whole[st] = float(np.mean(scores))
        bicubic[st] = float(np.mean(scores[: n or None]))
    ours = t1["ours"][t1["ours"]["method"] == "baseline"].set_index(["model", "set"])["psnr"]
    pb = paper[paper["method"] == "baseline"].set_index(["model", "set"])["paper_psnr"]
    rows = []
    for m in t1["models"]:
        for st in sets:
            o, b, pp = float(ours[(m, st)]), bicubic[st], float(pb[(m, st)])
            need = cl.BAR_FRACTION * (pp - whole[st])
            rows.append({"model": m, "set": st, "baseline": o, "bicubic": b, "bicubic whole set": whole[st],
                         "paper baseline": pp, "over bicubic": o - b, "needed over bicubic": need,
                         "clears": cl.clears_bar(o, b, pp, paper_bicubic=whole[st])})
    return pd.DataFrame(rows)


def _bar_reason(bar_row) -> str:
    return (f"{cl.UNDER_TRAINED}: baseline {bar_row['over bicubic']:+.2f} dB over bicubic on the same images, "
            f"needs {bar_row['needed over bicubic']:+.2f} (a third of the paper's margin)")


def table1_cell_verdicts(results, variant: str, models: Sequence[str], evidence_suffix: str = "", paper=None,
                         bar=None) -> dict:
    """Per (model, set): the paired PSNR effect of ``variant`` over the baseline (seeds) with its 95% interval,
    against the paper's gain for that cell (:func:`srlib.claims.effect_verdict`; a cell where the paper shows
    no gain is judged on direction only). The whole claim ("every model on every set") takes its weakest
    cell's verdict (:data:`CELL_PRECEDENCE`). With ``bar`` (:func:`table1_bar`), a cell whose baseline does
    not clear the evidence bar is ``under-trained`` and left out of the whole claim's verdict.

    Returns ``cells`` (model x set table of verdicts), ``effects`` (one row per cell), ``verdict``, ``evidence``.
    """
    import pandas as pd

    rows = []
    for (m, st), sub in results.groupby(["model", "set"]):
        by = sub.set_index(["method", "seed"])["psnr"]
        if variant not in by.index.get_level_values(0):
            continue
        e = cl.paired_effect(dict(by[variant]), dict(by["baseline"]), "higher")
        claimed = _paper_gain(paper, m, st)
        word = cl.effect_verdict(e, claimed)
        if bar is not None:
            b = bar.set_index(["model", "set"]).loc[(m, st)]
            if not bool(b["clears"]):
                word = _bar_reason(b)
        rows.append({"model": m, "set": st, "effect": e["mean"], "ci_low": e["ci_low"], "ci_high": e["ci_high"],
                     "n": e["n"], "claimed": claimed, "verdict": word})
    effects = pd.DataFrame(rows)
    speaking = effects[effects["verdict"].map(cl.feeds_verdict)]
    counts = speaking["verdict"].value_counts().reindex(list(CELL_PRECEDENCE), fill_value=0)
    under = len(effects) - len(speaking)
    if len(speaking):
        verdict = next(v for v in CELL_PRECEDENCE if counts[v] > 0)
    else:
        verdict = f"{cl.UNDER_TRAINED}: no (model, set) cell's baseline clears the evidence bar"
    evidence = (f"{variant} - baseline PSNR per (model, set) cell, paired by seed, 95% interval vs the paper's gain: "
                + (", ".join(f"{counts[v]} {v}" for v in CELL_PRECEDENCE if counts[v]) or "no cell")
                + f" (of {len(speaking)} cells that clear the bar; the claim takes the weakest)"
                + (f"; {under} of {len(effects)} cells under-trained (feed no verdict)" if under else "")
                + evidence_suffix)
    return {"cells": effects.pivot(index="model", columns="set", values="verdict").reindex(list(models)),
            "effects": effects, "verdict": verdict, "evidence": evidence}


def table1_pooled_verdict(results, variant: str, paper=None, bar=None) -> dict:
    """The pooled claim "``variant`` raises the average PSNR over the cells": the paired effect on the per-seed
    mean over the (model, set) cells against the paper's mean gain over the same cells; adds ``paired``
    (per-seed gain), ``effect``, ``claimed`` and the printed ``text``. With ``bar`` (:func:`table1_bar`) only the
    cells that clear the evidence bar are pooled; if none does, the verdict is ``under-trained``."""
    n_cells = len(results[["model", "set"]].drop_duplicates())
    if bar is not None:
        ok = bar[bar["clears"]][["model", "set"]]
        results = results.merge(ok, on=["model", "set"])
    if results.empty:
        e = cl.t_interval([])
        word = f"{cl.UNDER_TRAINED}: no (model, set) cell's baseline clears the evidence bar"
        return {"verdict": word, "evidence": f"0 of {n_cells} cells clear the evidence bar", "effect": dict(e, seeds=[]),
                "claimed": None, "paired": {}, "text": f"VERDICT on '{variant} raises the average PSNR': {word}"}
    pooled = results.groupby(["method", "seed"], as_index=False)["psnr"].mean()
    by = pooled.set_index(["method", "seed"])["psnr"]
    e = cl.paired_effect(dict(by[variant]), dict(by["baseline"]), "higher")
    claimed = None
    if paper is not None:
        cells = results[["model", "set"]].drop_duplicates()
        gains = paper.merge(cells, on=["model", "set"]).pivot_table(index=["model", "set"], columns="method",
                                                                     values="paper_psnr")
        if {"baseline", "PSPL"} <= set(gains.columns) and len(gains):
            claimed = float((gains["PSPL"] - gains["baseline"]).mean())
            claimed = claimed if claimed > 0 else None
    word = cl.effect_verdict(e, claimed)
    paired = dict(zip(e["seeds"], e["differences"]))
    n_used = len(results[["model", "set"]].drop_duplicates())
    evidence = (f"mean PSNR over {n_used} of {n_cells} (model, set) cells (those that clear the evidence bar), "
                f"{variant} - baseline, paired by seed: {cl.format_effect(e, 'dB')}"
                + (f"; paper {claimed:+.3f} dB" if claimed is not None else ""))
    text = (f"{evidence}\n  per-seed mean gain: {', '.join(f'seed {k}: {x:+.3f} dB' for k, x in paired.items())}\n"
            f"  VERDICT on '{variant} raises the average PSNR': {word.upper()}")
    return {"verdict": word, "evidence": evidence, "effect": e, "claimed": claimed, "paired": paired, "text": text}


def table1_claims(overall: Mapping[str, dict], variants: Sequence[str], t1: dict) -> list[dict]:
    """The Table 1 rows of the chapter's claims (part ``table1``): every cell, then the average, per variant."""
    context = f"{t1['profile']} profile; {t1['sizes']}; test {t1['test_data']}; seeds {t1['seeds']}"
    rows = []
    for k, v in enumerate(variants):
        o = overall[v]
        rows.append(cl.row(CHAPTER, "table1", f"every-cell-{k}", f"{v} improves PSNR of every model on every set (Table 1)",
                           o["verdict"], o["evidence"], context=context, unit="dB"))
        o = overall[f"{v} (average)"]
        rows.append(cl.row(CHAPTER, "table1", f"average-{k}", f"{v} raises the average PSNR over the Table 1 cells (Table 1)",
                           o["verdict"], o["evidence"], context=context, effect=o["effect"], claimed=o["claimed"],
                           unit="dB"))
    return rows


def table1_csv(t1: dict, paper=None, bar=None):
    """``results/pspl/table1.csv``: per (model, set, method) our mean PSNR/SSIM over seeds, the number of
    seeds and of test images, the paper's values and, with ``bar`` (:func:`table1_bar`), bicubic on the
    same images and whether the cell's baseline clears the evidence bar."""
    table = table1_against_paper(t1["ours"], t1["models"], paper)
    if bar is not None:
        table = table.merge(bar[["model", "set", "bicubic", "clears"]].rename(columns={"clears": "baseline_clears_bar"}),
                            on=["model", "set"], how="left")
    n_seeds = t1["results"].groupby(["model", "set", "method"], observed=True)["seed"].nunique().rename("seeds")
    table = table.merge(n_seeds.reset_index(), on=["model", "set", "method"], how="left")
    table["test_images"] = t1["test_data"]
    table["profile"] = t1["profile"]
    cols = ["model", "set", "method", "psnr", "ssim", "seeds", "test_images", "bicubic", "baseline_clears_bar",
            "paper_psnr", "paper_ssim", "profile"]
    return table[[c for c in cols if c in table.columns]].reset_index(drop=True)


def fig1_points(t1: dict, scale: int):
    """Mult-Adds and parameters of the five models at paper size (``paper``, from the paper profile's
    configs) and of our lite models (``lite``); the table shown under Fig. 1 (``table``)."""
    import pandas as pd

    from srlib import complexity, profiles
    from srlib.models import build

    models = t1["models"]
    cx = complexity.complexity_table([profiles.get("paper", table1_key(m, "baseline"))["model"]["name"] for m in models],
                                     scale=scale, receptive=False)
    cx["model"] = models
    lite = []
    for m in models:
        c = t1["configs"][(m, "baseline")]
        net = build(c["model"]["name"], scale=scale, **c["model"].get("args", {}))
        lite.append({"model": m, "mult_adds_G": complexity.mult_adds(net) / 1e9, "params_K": complexity.count_params(net) / 1e3})
    lite = pd.DataFrame(lite)
    table = cx[["model", "colors", "params_K", "mult_adds_G"]].merge(lite, on="model", suffixes=(" paper size", " lite"))
    return {"paper": cx, "lite": lite, "table": table}


def plot_fig1(t1: dict, points: dict, paper):
    """Fig. 1: Set5 PSNR against Mult-Adds; left paper sizes and paper PSNR, right our lite models and ours."""
    import matplotlib.pyplot as plt

    models, variants, cx, lite, ours = t1["models"], t1["variants"], points["paper"], points["lite"], t1["ours"]
    fig, axs = plt.subplots(1, 2, figsize=(12, 4))
    p5 = paper[paper["set"] == "Set5"].set_index(["model", "method"])["paper_psnr"]
    o5 = ours[ours["set"] == "Set5"].set_index(["model", "method"])["psnr"]
    for k, m in enumerate(models):
        x = float(cx.loc[cx.model == m, "mult_adds_G"].iloc[0])
        axs[0].plot([x, x], [p5[(m, "baseline")], p5[(m, "PSPL")]], color=f"C{k}", lw=1)
        axs[0].scatter([x], [p5[(m, "baseline")]], color=f"C{k}", marker="o", label=f"{m} baseline")
        axs[0].scatter([x], [p5[(m, "PSPL")]], color=f"C{k}", marker="*", s=90)
        xl = float(lite.loc[lite.model == m, "mult_adds_G"].iloc[0])
        if (m, "baseline") in o5.index:
            axs[1].scatter([xl], [o5[(m, "baseline")]], color=f"C{k}", marker="o", label=f"{m} baseline")
            for v, mk in zip(variants, ["*", "P"]):
                axs[1].scatter([xl], [o5[(m, v)]], color=f"C{k}", marker=mk, s=70)
    for a in axs:
        a.set_xscale("log"); a.set_xlabel("Mult-Adds (G) for a 1280x720 output, x4"); a.legend(fontsize=7)
    axs[0].set_ylabel("Set5 x4 PSNR (dB)")
    axs[0].set_title("paper sizes, paper PSNR (Table 1); ★ = PSPL", fontsize=9)
    axs[1].set_title(f"our lite models, our PSNR ({t1['profile']} profile, {t1['test_data']}); ★ = PSPL, + = PSPL step matched",
                     fontsize=9)
    return fig


def _as_uint8(img):
    """A model output in [0, 1] (float) or an image (uint8) as uint8, rounded."""
    img = np.asarray(img)
    return img if img.dtype == np.uint8 else np.clip(np.round(img * 255), 0, 255).astype(np.uint8)


def fig5_crops(t1: dict, model: str, set_name: str, index: int, scale: int, crop: int, zoom: int) -> dict:
    """Fig. 5: bicubic, ``model``'s baseline and PSPL outputs (seed ``t1['seeds'][0]``) and HR on the most
    detailed crop, zoomed; ``images``, ``titles`` (with RGB PSNR) and ``caption``."""
    from srlib import degrade, viz
    from srlib.chapters.pspl import explorer as ax
    from srlib.metrics import psnr_rgb

    cr = ax.test_crop(set_name, index, scale, crop)
    outs = {"bicubic": degrade.imresize_uint8(cr["lr"], scale)}
    for method, label in t1["methods"].items():
        net = t1["runs"][(model, method, t1["seeds"][0])].load_model()
        outs[f"{model} {label}"] = ax.pair_state(net, cr)["sr"] if net.colors == 3 else None
    outs["HR"] = cr["hr"]
    images, titles = [], []
    for name, im in outs.items():
        if im is None:
            continue
        images.append(viz.zoom_nearest(im, zoom))
        titles.append(name if name == "HR" else f"{name}\n{psnr_rgb(_as_uint8(im), cr['hr']):.2f} dB")
    caption = (f"{cr['name']}, x{scale}, HR crop (top, left, h, w) = {cr['box']}; models: {model} runs of seed "
               f"{t1['seeds'][0]}, {t1['profile']} profile")
    return {"images": images, "titles": titles, "caption": caption}
