"""``book/pspl/comparison.ipynb``: Table 1 (five models, baseline vs PSPL, x4, four test sets), Fig. 1
(PSNR against Mult-Adds), Fig. 5 (crops) and the Table 1 claims (:mod:`srlib.claims`). The aside on
the dark frame of the PSPL model is :mod:`srlib.chapters.pspl.border`."""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from srlib import claims as cl
from srlib.chapters.pspl.common import CHAPTER, SETS, same_loss_duplicates, training_compute



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


def seed_text(seeds: Sequence[int], extra_seeds: Mapping[str, Sequence[int]] | None = None) -> str:
    """``"0, 1"`` or ``"0 (every model), 1 (SRCNN, VDSR)"``: the seeds of Table 1's runs in words."""
    extra = {m: list(v) for m, v in (extra_seeds or {}).items() if v}
    if not extra:
        return ", ".join(map(str, seeds))
    by_seed: dict[int, list[str]] = {}
    for m, ss in extra.items():
        for s_ in ss:
            by_seed.setdefault(int(s_), []).append(m)
    return (", ".join(map(str, seeds)) + " (every model), "
            + ", ".join(f"{s_} ({', '.join(ms)})" for s_, ms in sorted(by_seed.items())))


def table1_runs(profile: str, models: Sequence[str], methods: Mapping[str, str], seeds: Sequence[int],
                extra_seeds: Mapping[str, Sequence[int]] | None = None) -> dict:
    """Every (model, method, seed) run of Table 1, trained if missing; ``methods = {experiment suffix: label}``.
    Every model gets ``seeds``; ``extra_seeds = {model: [seed, ...]}`` adds seeds for some models (more seeds
    where the claimed effect is small, fewer where it is far from the noise).

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
            for s in list(seeds) + [x for x in (extra_seeds or {}).get(m, []) if x not in seeds]:
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
    last = [k for k in methods if k != "baseline"][-1]
    summary = (f"models: {sizes}\n" + profiles.describe(configs[(models[-1], last)], run_of[(models[-1], last, seeds[0])].final)
               + f"\ntest: {', '.join(ev['final_sets'])}, {test_data}; seeds {seed_text(seeds, extra_seeds)}"
               + f"\ntraining compute: {training_compute(run_of.values())}")
    return {"methods": methods, "notes": notes, "configs": configs, "runs": run_of, "results": results, "ours": ours,
            "variants": [label for key, label in methods.items() if key != "baseline"], "models": list(models),
            "seeds": list(seeds), "seed_text": seed_text(seeds, extra_seeds), "profile": profile, "sizes": sizes, "test_data": test_data, "summary": summary}


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
                hardware=hardware, seeds=t1.get("seed_text", str(seeds)))


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


def _paper_gain(paper, model: str, set_name: str, metric: str = "psnr") -> float | None:
    """The paper's PSPL - baseline gain of one cell in ``metric``, or None when it is not a gain (> 0)."""
    if paper is None:
        return None
    cell = paper[(paper["model"] == model) & (paper["set"] == set_name)].set_index("method")[f"paper_{metric}"]
    if not {"baseline", "PSPL"} <= set(cell.index):
        return None
    g = float(cell["PSPL"] - cell["baseline"])
    return g if g > 0 else None


def table1_bar(t1: dict, paper=None):
    """The evidence bar per (model, set): our baseline's gain over bicubic on the same test images (the book's
    protocol, :func:`srlib.metrics.bicubic_image` ``"basicsr"``, as the runs are scored) against a third of the
    paper's margin, the paper's baseline minus bicubic on the whole set (:func:`srlib.claims.clears_bar`).
    A cell that does not clear it is under-trained: shown, but it feeds no verdict. Also returns bicubic's SSIM
    and the number of test images per set (``n_images``)."""
    import pandas as pd

    from srlib import data, metrics

    paper = paper_table1() if paper is None else paper
    n = t1["configs"][(t1["models"][0], "baseline")]["eval"].get("final_max_images")
    scale = int(t1["configs"][(t1["models"][0], "baseline")]["scale"])
    sets = sorted(set(t1["results"]["set"]), key=SETS.index)
    bicubic, whole = {}, {}
    for st in sets:
        scores = [metrics.bicubic_image(hr, scale, "basicsr") for _, hr in data.hr_images(st, scale)]
        whole[st] = float(np.mean([x["psnr"] for x in scores]))
        used = scores[: n or None]
        bicubic[st] = {"psnr": float(np.mean([x["psnr"] for x in used])),
                       "ssim": float(np.mean([x["ssim"] for x in used])), "n": len(used)}
    ours = t1["ours"][t1["ours"]["method"] == "baseline"].set_index(["model", "set"])["psnr"]
    pb = paper[paper["method"] == "baseline"].set_index(["model", "set"])["paper_psnr"]
    rows = []
    for m in t1["models"]:
        for st in sets:
            o, b, pp = float(ours[(m, st)]), bicubic[st]["psnr"], float(pb[(m, st)])
            need = cl.BAR_FRACTION * (pp - whole[st])
            rows.append({"model": m, "set": st, "baseline": o, "bicubic": b, "bicubic whole set": whole[st],
                         "paper baseline": pp, "over bicubic": o - b, "needed over bicubic": need,
                         "clears": cl.clears_bar(o, b, pp, paper_bicubic=whole[st]),
                         "bicubic_ssim": bicubic[st]["ssim"], "n_images": bicubic[st]["n"]})
    return pd.DataFrame(rows)


def _bar_reason(bar_row) -> str:
    return (f"{cl.UNDER_TRAINED}: baseline {bar_row['over bicubic']:+.2f} dB over bicubic on the same images, "
            f"needs {bar_row['needed over bicubic']:+.2f} (a third of the paper's margin)")


def _unit(metric: str) -> tuple[str, int]:
    return ("dB", 3) if metric == "psnr" else ("", 4)


def table1_cell_verdicts(results, variant: str, models: Sequence[str], evidence_suffix: str = "", paper=None,
                         bar=None, metric: str = "psnr") -> dict:
    """Per (model, set): the paired effect on ``metric`` (``psnr`` or ``ssim``) of ``variant`` over the baseline
    (seeds) with its 95% interval, against the paper's gain for that cell (:func:`srlib.claims.effect_verdict`;
    a cell where the paper shows no gain is judged on direction only). The whole claim ("every model on every
    set") takes its weakest cell's verdict (:data:`CELL_PRECEDENCE`). With ``bar`` (:func:`table1_bar`), a cell
    whose baseline does not clear the evidence bar is ``under-trained`` and left out of the whole claim's verdict.

    Returns ``cells`` (model x set table of verdicts), ``effects`` (one row per cell), ``verdict``, ``evidence``.
    """
    import pandas as pd

    rows = []
    for (m, st), sub in results.groupby(["model", "set"]):
        by = sub.set_index(["method", "seed"])[metric]
        if variant not in by.index.get_level_values(0):
            continue
        e = cl.paired_effect(dict(by[variant]), dict(by["baseline"]), "higher")
        claimed = _paper_gain(paper, m, st, metric)
        word = cl.effect_verdict(e, claimed)
        if bar is not None:
            b = bar.set_index(["model", "set"]).loc[(m, st)]
            if not bool(b["clears"]):
                word = _bar_reason(b)
        rows.append({"model": m, "set": st, "metric": metric, "effect": e["mean"], "ci_low": e["ci_low"],
                     "ci_high": e["ci_high"], "n": e["n"], "claimed": claimed, "verdict": word})
    effects = pd.DataFrame(rows)
    speaking = effects[effects["verdict"].map(cl.feeds_verdict)]
    counts = speaking["verdict"].value_counts().reindex(list(CELL_PRECEDENCE), fill_value=0)
    under = len(effects) - len(speaking)
    if len(speaking):
        verdict = next(v for v in CELL_PRECEDENCE if counts[v] > 0)
    else:
        verdict = f"{cl.UNDER_TRAINED}: no (model, set) cell's baseline clears the evidence bar"
    evidence = (f"{variant} - baseline {metric.upper()} per (model, set) cell, paired by seed, 95% interval vs the "
                f"paper's gain: " + (", ".join(f"{counts[v]} {v}" for v in CELL_PRECEDENCE if counts[v]) or "no cell")
                + f" (of {len(speaking)} cells that clear the bar; the claim takes the weakest)"
                + (f"; {under} of {len(effects)} cells under-trained (feed no verdict)" if under else "")
                + evidence_suffix)
    return {"cells": effects.pivot(index="model", columns="set", values="verdict").reindex(list(models)),
            "effects": effects, "verdict": verdict, "evidence": evidence, "metric": metric}


def table1_pooled_verdict(results, variant: str, paper=None, bar=None, metric: str = "psnr") -> dict:
    """The pooled claim "``variant`` raises the average ``metric`` over the Table 1 cells".

    One paired difference per (model, seed): the variant's mean over that model's test sets minus the
    baseline's (same model, seed = same initialisation and data order), so five models x n seeds are
    5n independent training pairs; the Student-t 95% interval is over them. The claimed effect is the
    paper's gain averaged the same way (per model over the same sets, then over the models). With ``bar``
    (:func:`table1_bar`) only the cells that clear the evidence bar are pooled; if none does, the verdict is
    ``under-trained``. Returns ``verdict``, ``evidence``, ``effect``, ``claimed``, ``paired`` (per (model,
    seed) gain) and the printed ``text``."""
    unit, decimals = _unit(metric)
    name = metric.upper()
    n_cells = len(results[["model", "set"]].drop_duplicates())
    if bar is not None:
        ok = bar[bar["clears"]][["model", "set"]]
        results = results.merge(ok, on=["model", "set"])
    if results.empty:
        e = cl.t_interval([])
        word = f"{cl.UNDER_TRAINED}: no (model, set) cell's baseline clears the evidence bar"
        return {"verdict": word, "evidence": f"0 of {n_cells} cells clear the evidence bar", "effect": dict(e, seeds=[]),
                "claimed": None, "paired": {}, "metric": metric,
                "text": f"VERDICT on '{variant} raises the average {name}': {word}"}
    pooled = results.groupby(["method", "model", "seed"], as_index=False)[metric].mean()
    treated = {(r.model, r.seed): getattr(r, metric) for r in pooled[pooled["method"] == variant].itertuples()}
    reference = {(r.model, r.seed): getattr(r, metric) for r in pooled[pooled["method"] == "baseline"].itertuples()}
    e = cl.paired_effect(treated, reference, "higher")
    claimed = None
    if paper is not None:
        cells = results[["model", "set"]].drop_duplicates()
        gains = paper.merge(cells, on=["model", "set"]).pivot_table(index=["model", "set"], columns="method",
                                                                     values=f"paper_{metric}")
        if {"baseline", "PSPL"} <= set(gains.columns) and len(gains):
            per_model = (gains["PSPL"] - gains["baseline"]).groupby(level="model").mean()
            claimed = float(per_model.mean())
            claimed = claimed if claimed > 0 else None
    word = cl.effect_verdict(e, claimed)
    paired = dict(zip(e["seeds"], e["differences"]))
    n_used = len(results[["model", "set"]].drop_duplicates())
    n_models = results["model"].nunique()
    evidence = (f"mean {name} over the {n_used} of {n_cells} (model, set) cells that clear the evidence bar, "
                f"{variant} - baseline, paired by (model, seed) ({len(paired)} pairs, {n_models} models): "
                f"{cl.format_effect(e, unit, decimals)}"
                + (f"; paper {claimed:+.{decimals}f} {unit}".rstrip() if claimed is not None else ""))
    listing = ", ".join(f"{m} seed {k}: {x:+.{decimals}f}" for (m, k), x in paired.items())
    text = (f"{evidence}\n  per (model, seed) gain: {listing}\n"
            f"  VERDICT on '{variant} raises the average {name}': {word.upper()}")
    return {"verdict": word, "evidence": evidence, "effect": e, "claimed": claimed, "paired": paired, "text": text,
            "metric": metric}


def plot_table1_effects(cells_by_metric: Mapping[str, dict], variant: str, models: Sequence[str]):
    """Table 1 as a figure: per test set (columns) and metric (rows), our paired effect of ``variant`` over the
    baseline per model with its 95% interval over seeds (dots and bars; hollow grey where the baseline is
    under-trained), and the paper's gain for the same cell (red crosses)."""
    import matplotlib.pyplot as plt

    metrics_ = list(cells_by_metric)
    sets = [s for s in SETS if s in set(next(iter(cells_by_metric.values()))["effects"]["set"])]
    fig, axs = plt.subplots(len(metrics_), len(sets), figsize=(3.1 * len(sets), 2.9 * len(metrics_)), squeeze=False,
                            sharey="row")
    x = np.arange(len(models))
    for i, metric in enumerate(metrics_):
        eff = cells_by_metric[metric]["effects"].set_index(["model", "set"])
        unit, _ = _unit(metric)
        for j, st in enumerate(sets):
            a = axs[i, j]
            a.axhline(0, color="0.6", lw=0.8)
            for k, m in enumerate(models):
                if (m, st) not in eff.index:
                    continue
                r = eff.loc[(m, st)]
                ok = cl.feeds_verdict(r["verdict"])
                lo, hi = r["ci_low"], r["ci_high"]
                if np.isfinite(lo) and np.isfinite(hi):
                    a.plot([k, k], [lo, hi], color="C0" if ok else "0.6", lw=2)
                a.plot([k], [r["effect"]], "o", color="C0" if ok else "0.6", mfc="C0" if ok else "white")
                if r["claimed"] is not None and np.isfinite(r["claimed"]):
                    a.plot([k], [r["claimed"]], "x", color="C3", ms=8, mew=2)
            a.set_xticks(x, models, rotation=45, fontsize=8)
            a.set_title(f"{st}", fontsize=9)
            if j == 0:
                a.set_ylabel(f"Δ{metric.upper()} {variant} − baseline" + (f" ({unit})" if unit else ""), fontsize=8)
    fig.suptitle(f"Table 1 as paired effects: ours (dot, 95% interval over seeds; hollow = under-trained) and the "
                 f"paper's gain (red ×)", fontsize=9)
    fig.tight_layout()
    return fig


def table1_summary(overall: Mapping[str, dict], bar, variants: Sequence[str], t1: dict) -> str:
    """The page's closing summary, computed: the evidence bar, then per variant the pooled PSNR and SSIM verdicts
    and the per-cell verdict counts."""
    lines = [f"evidence bar: {int(bar['clears'].sum())} of {len(bar)} (model, set) baselines clear it "
             f"({t1['profile']} profile, {t1['test_data']}, {t1['sizes']})"]
    for v in variants:
        for pooled in ("(average)", "(average, without B100)"):
            parts = []
            for suffix, unit, d in (("", "dB", 3), (" SSIM", "", 4)):
                o = overall.get(f"{v}{suffix} {pooled}")
                if o is None:
                    continue
                e = o["effect"]
                claimed = f", paper {o['claimed']:+.{d}f}" if o["claimed"] is not None else ""
                parts.append(f"{o['metric'].upper()} {cl.format_effect(e, unit, d)}{claimed} -> {o['verdict']}")
            if parts:
                where = "the cells" if pooled == "(average)" else "the Set5, Set14, Urban100 cells"
                lines.append(f"{v}, average over {where} that clear the bar: " + "; ".join(parts))
        cells = overall[v]["effects"]["verdict"]
        counts = cells[cells.map(cl.feeds_verdict)].value_counts()
        lines.append(f"{v}, PSNR per cell: " + (", ".join(f"{n} {w}" for w, n in counts.items()) or "no cell clears the bar"))
    return "\n".join(lines)


def table1_claims(overall: Mapping[str, dict], variants: Sequence[str], t1: dict) -> list[dict]:
    """The Table 1 rows of the chapter's claims (part ``table1``): per variant and metric (PSNR, then SSIM where
    ``overall`` has it), every cell, then the average. ``overall`` keys: ``"<variant>"`` and
    ``"<variant> (average)"`` (PSNR), ``"<variant> SSIM"`` and ``"<variant> SSIM (average)"``."""
    context = (f"{t1['profile']} profile; {t1['sizes']}; x4; test {t1['test_data']}; seeds {t1.get('seed_text', t1['seeds'])}; "
               f"regime: lite models trained minutes on the 291 set, baselines checked against the evidence bar")
    rows = []
    for k, v in enumerate(variants):
        for metric, suffix in (("psnr", ""), ("ssim", " SSIM")):
            if f"{v}{suffix}" not in overall:
                continue
            unit = "dB" if metric == "psnr" else ""
            name = metric.upper()
            o = overall[f"{v}{suffix}"]
            rows.append(cl.row(CHAPTER, "table1", f"every-cell-{metric}-{k}",
                               f"{v} improves {name} of every model on every set (Table 1)",
                               o["verdict"], o["evidence"], context=context, unit=unit))
            o = overall[f"{v}{suffix} (average)"]
            rows.append(cl.row(CHAPTER, "table1", f"average-{metric}-{k}",
                               f"{v} raises the average {name} over the Table 1 cells (Table 1)",
                               o["verdict"], o["evidence"], context=context, effect=o["effect"], claimed=o["claimed"],
                               unit=unit))
            o = overall.get(f"{v}{suffix} (average, without B100)")
            if o is not None:
                rows.append(cl.row(CHAPTER, "table1", f"average-no-b100-{metric}-{k}",
                                   f"{v} raises the average {name} over the Table 1 cells of Set5, Set14 and Urban100 "
                                   f"(Table 1 without B100, whose gain the protocol audit finds mostly in the scoring)",
                                   o["verdict"], o["evidence"], context=context, effect=o["effect"],
                                   claimed=o["claimed"], unit=unit))
    return rows


def table1_csv(t1: dict, paper=None, bar=None):
    """``results/pspl/table1.csv``: per (model, set, method) our mean PSNR/SSIM over seeds, the number of
    seeds and of test images, the paper's values and, with ``bar`` (:func:`table1_bar`), bicubic on the
    same images, whether the cell's baseline clears the evidence bar, and one ``bicubic`` row per set."""
    import pandas as pd

    table = table1_against_paper(t1["ours"], t1["models"], paper)
    if bar is not None:
        table = table.merge(bar[["model", "set", "bicubic", "clears", "n_images"]]
                            .rename(columns={"clears": "baseline_clears_bar"}), on=["model", "set"], how="left")
    n_seeds = t1["results"].groupby(["model", "set", "method"], observed=True)["seed"].nunique().rename("seeds")
    table = table.merge(n_seeds.reset_index(), on=["model", "set", "method"], how="left")
    if bar is not None:
        bic = bar.drop_duplicates("set")
        table = pd.concat([table, pd.DataFrame({"model": "bicubic", "set": bic["set"], "method": "bicubic",
                                                "psnr": bic["bicubic"], "ssim": bic["bicubic_ssim"],
                                                "n_images": bic["n_images"], "bicubic": bic["bicubic"]})],
                          ignore_index=True)
    table["test_images"] = t1["test_data"]
    table["profile"] = t1["profile"]
    cols = ["model", "set", "method", "psnr", "ssim", "seeds", "n_images", "test_images", "bicubic",
            "baseline_clears_bar", "paper_psnr", "paper_ssim", "profile"]
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
    marks = ", ".join(f"{mk} = {v}" for v, mk in zip(variants, ["★", "+"]))
    axs[1].set_title(f"our lite models, our PSNR ({t1['profile']} profile, {t1['test_data']}); {marks}", fontsize=9)
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
