"""``book/pspl/convergence.ipynb``: Fig. 4 — the runs, the threshold rule, iterations to it, the final
PSNR, the ablation, and the chapter's Fig. 4 claims (:mod:`srlib.claims`)."""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from srlib import claims as cl, curves as cv
from srlib.viz import axis_label, metric_label, metric_unit, with_unit, zoom_span
from srlib.chapters.pspl.common import CHAPTER, same_loss_duplicates, training_compute



def fig4_runs(profile: str, seeds: Sequence[int], methods: Mapping[str, str], metric: str = "psnr") -> dict:
    """Every (method, seed) run of Fig. 4, trained if missing; ``methods`` = ``{label: experiment}``, first = reference.

    Returns ``methods`` (without same-loss duplicates), ``notes`` (one line per duplicate dropped),
    ``cfg``, ``runs`` and ``curves`` keyed by ``(label, seed)``, ``reference``, ``val_set``,
    ``column``, ``metric``, ``seeds``, ``profile`` and ``provenance`` (one line: model, schedule,
    data, profile, hardware of the PSPL run).
    """
    from srlib import profiles, runs

    cfg = {name: profiles.get(profile, key) for name, key in methods.items()}
    dup = same_loss_duplicates(cfg)
    notes = [f"'{n}' has the same loss as '{first}' at the {profile} profile: shown once" for n, first in dup.items()]
    methods = {n: k for n, k in methods.items() if n not in dup}
    cfg = {n: c for n, c in cfg.items() if n not in dup}
    reference = next(iter(methods))
    val_set = cfg[reference]["eval"]["sets"][0]
    column = f"{val_set}_{metric}"
    keys = [(name, s) for name in methods for s in seeds]
    trained = runs.get_or_train_many([(dict(cfg[name], seed=s), methods[name]) for name, s in keys], progress=False)
    runs_by = dict(zip(keys, trained))
    curves = {k: cv.curve_from_log(r.log, column) for k, r in runs_by.items()}
    shown = "PSPL" if "PSPL" in methods else list(methods)[-1]
    provenance = profiles.describe(cfg[shown], runs_by[(shown, seeds[0])].final)
    compute = training_compute(runs_by.values())
    return {"methods": methods, "notes": notes, "cfg": cfg, "runs": runs_by, "curves": curves, "reference": reference,
            "val_set": val_set, "column": column, "metric": metric, "seeds": list(seeds), "profile": profile,
            "variants": [m for m in methods if m != reference], "provenance": provenance, "compute": compute}


def threshold_rule(ref_curves: Sequence, bicubic: float, fraction: float, metric: str = "psnr", val_set: str = "",
                   reference: str = "baseline") -> dict:
    """The chapter's threshold: ``fraction`` of the way from the floor to the reference's lowest best.

    The floor is ``bicubic``, or, if a reference curve never beats bicubic, the reference's lowest
    first evaluation. Returns ``threshold``, ``floor``, ``floor_rule`` (words), ``fraction``, ``peaks``.
    """
    peaks = [float(np.max(v)) for _, v in ref_curves]
    floor, floor_rule = bicubic, f"bicubic {metric_label(metric)} on {val_set} ({with_unit(bicubic, metric)})"
    if min(peaks) <= bicubic:
        floor = min(float(v[0]) for _, v in ref_curves)
        floor_rule = (f"the {reference}'s lowest first evaluation ({with_unit(floor, metric)}; "
                      f"it never beat bicubic, {with_unit(bicubic, metric)})")
    threshold = cv.threshold_from_curves(ref_curves, floor, fraction)
    return {"threshold": threshold, "floor": floor, "floor_rule": floor_rule, "fraction": fraction, "peaks": peaks}


def paper_fig4():
    """The paper's Fig. 4 numbers as a Series indexed by (method, metric)."""
    from srlib import papers

    return papers.load("pspl", "Fig. 4").set_index(["method", "metric"])["value"]


#: the metric the paper's Fig. 4 threshold is in (the authors' code validates on DIV2K in RGB, shave scale + 6)
PAPER_THRESHOLD_METRIC = "psnr_rgb_div2k"


def fig4_threshold(f4: dict, fraction: float, use_paper_threshold=None, bicubic: float | None = None) -> dict:
    """:func:`threshold_rule` on the reference runs of ``f4``; the paper's 34.4 dB instead when
    ``use_paper_threshold`` (None: at the paper profile only). Adds ``bicubic``, ``ref_curves`` and ``text``."""
    if bicubic is None:
        from srlib import metrics

        scale = f4["cfg"][f4["reference"]]["scale"]
        bic = metrics.bicubic_table([f4["val_set"]], [scale], protocol="basicsr", progress=False)
        bicubic = float(bic[f4["metric"]].iloc[0])
    reference = f4["reference"]
    ref_curves = [c for (name, _), c in f4["curves"].items() if name == reference]
    th = threshold_rule(ref_curves, bicubic, fraction, f4["metric"], f4["val_set"], reference)
    if use_paper_threshold or (use_paper_threshold is None and f4["profile"] == "paper"):
        if f4["metric"] != PAPER_THRESHOLD_METRIC:
            raise ValueError(f"use_paper_threshold: the paper's 34.4 dB is EDSR-PyTorch's DIV2K validation PSNR (RGB, "
                             f"shave scale + 6); validate with metric={PAPER_THRESHOLD_METRIC!r}, not {f4['metric']!r}")
        th.update(threshold=_paper_threshold(), floor_rule="the paper's own threshold", fraction=float("nan"))
    th.update(bicubic=bicubic, ref_curves=ref_curves,
              text=(f"threshold = {th['floor_rule']} + {th['fraction']} x ({reference}'s lowest best "
                    f"{with_unit(min(th['peaks']), f4['metric'])} - floor) = "
                    f"{with_unit(th['threshold'], f4['metric'], extra=1)}"))
    return th


def _paper_threshold() -> float:
    from srlib import papers

    fig4 = papers.load("pspl", "Fig. 4")
    return float(fig4[fig4.metric == "PSNR_threshold_dB"]["value"].iloc[0])


def plot_fig4(f4: dict, th: dict, interpolate: bool = True):
    """Fig. 4: every seed thin, the seed range as a band, the mean thick; threshold, bicubic, mean crossings."""
    import matplotlib.pyplot as plt

    curves, seeds, threshold, metric = f4["curves"], f4["seeds"], th["threshold"], f4["metric"]
    summary = cl.seed_summary(cv.crossing_table(curves, threshold, interpolate), "iterations").set_index("group")
    fig, axs = plt.subplots(1, 2, figsize=(12, 4))
    for k, name in enumerate(f4["methods"]):
        color = f"C{k}"
        group = [curves[(name, s)] for s in seeds]
        m = cv.mean_curve(group)
        for a in axs:
            for it, v in group:
                a.plot(it, v, color=color, lw=0.6, alpha=0.5)
            a.fill_between(m["iteration"], m["min"], m["max"], color=color, alpha=0.2)
            a.plot(m["iteration"], m["mean"], color=color, lw=2, label=f"{name} (mean of {len(seeds)} seeds)")
            if math.isfinite(summary.loc[name, "mean"]):
                a.axvline(summary.loc[name, "mean"], color=color, ls=":")
    for a in axs:
        a.axhline(threshold, color="red", ls="--", lw=1, label=f"threshold {with_unit(threshold, metric)}")
        a.axhline(th["bicubic"], color="gray", ls="-.", lw=1, label=f"bicubic {with_unit(th['bicubic'], metric)}")
        a.set_xlabel("iteration"); a.set_ylabel(axis_label(f"{f4['val_set']} {metric_label(metric)}", metric))
    span = zoom_span(metric)
    axs[1].set_ylim(threshold - span, max(float(v.max()) for _, v in curves.values()) + span / 5)
    axs[1].set_title("zoom near the threshold", fontsize=10)
    axs[0].legend(fontsize=8); axs[0].set_title(f4["provenance"], fontsize=8)
    return fig


def _saved_share(table, name: str, reference: str) -> tuple[dict, dict, int]:
    """Per seed, the share of the reference's iterations to the threshold that ``name`` saves
    (1 - its / reference's). A run that never reaches the threshold counts with its length, a lower
    bound on its true crossing (the evidence says how many). Returns (treated, reference, censored)."""
    def per_seed(group):
        sub = table[table.group == group]
        its = sub["iterations"].where(sub["reached"], sub["last_iteration"])
        return dict(zip(sub["seed"], its.astype(float))), int((~sub["reached"]).sum())

    ours, c1 = per_seed(name)
    ref, c2 = per_seed(reference)
    shares = {s: 1.0 - ours[s] / ref[s] for s in ours if s in ref and ref[s] > 0}
    return shares, {s: 0.0 for s in shares}, c1 + c2


def fig4_paper_saving(paper=None) -> float:
    """The share of the baseline's epochs to the threshold that PSPL saves in the paper (1 - 70 / 125)."""
    paper = paper_fig4() if paper is None else paper
    return 1.0 - paper[("PSPL", "epochs_to_threshold")] / paper[("baseline", "epochs_to_threshold")]


def fig4_verdicts(f4: dict, th: dict, interpolate: bool = True, paper=None) -> dict:
    """Iterations to the threshold per seed (``wide``: seeds x methods, labels), and per variant the paired
    effect "share of the reference's iterations saved" with its 95% interval against the paper's saving
    and its verdict (:func:`srlib.claims.effect_verdict`; ``verdicts``), with the printed ``text``."""
    paper = paper_fig4() if paper is None else paper
    reference, threshold = f4["reference"], th["threshold"]
    claimed = fig4_paper_saving(paper)
    table = cv.crossing_table(f4["curves"], threshold, interpolate)
    wide = (table.pivot(index="seed", columns="group", values="label")[list(f4["methods"])]
            .rename_axis(f"iterations to {with_unit(threshold, f4['metric'])}"))
    verdicts, lines = {}, []
    for name in f4["variants"]:
        shares, zero, censored = _saved_share(table, name, reference)
        e = cl.paired_effect(shares, zero, "higher")
        word = cl.effect_verdict(e, claimed)
        note = f"; {censored} run(s) never reached it (counted with their length)" if censored else ""
        evidence = (f"share of the {reference}'s iterations to {with_unit(threshold, f4['metric'])} on {f4['val_set']} that {name} saves, "
                    f"paired by seed: {cl.format_effect(e)}; paper {claimed:+.3f} "
                    f"({paper[('baseline', 'epochs_to_threshold')]:.0f} -> {paper[('PSPL', 'epochs_to_threshold')]:.0f} "
                    f"epochs, one run each){note}")
        verdicts[name] = {"verdict": word, "evidence": evidence, "effect": e, "claimed": claimed}
        lines += [evidence, f"  VERDICT on '{name} converges faster than the {reference}': {word.upper()}"]
    return {"table": table, "wide": wide, "verdicts": verdicts, "text": "\n".join(lines)}


def fig4_sensitivity(f4: dict, th: dict, fractions: Sequence[float], interpolate: bool = True, paper=None):
    """The threshold rule at other fractions: threshold, mean iterations per method, and per variant the
    paired saving and its verdict against the paper's saving."""
    import pandas as pd

    claimed = fig4_paper_saving(paper)
    reference, rows = f4["reference"], []
    for f in fractions:
        t_ = cv.threshold_from_curves(th["ref_curves"], th["floor"], f)
        t = cv.crossing_table(f4["curves"], t_, interpolate)
        row = {"fraction": f, axis_label("threshold", f4["metric"]): round(t_, 4),
               f"{reference} mean it": cl.seed_summary(t[t.group == reference], "iterations")["mean"].iloc[0]}
        for name in f4["variants"]:
            shares, zero, _ = _saved_share(t, name, reference)
            e = cl.paired_effect(shares, zero, "higher")
            row[f"{name} mean it"] = cl.seed_summary(t[t.group == name], "iterations")["mean"].iloc[0]
            row[f"{name}: saving"] = e["mean"]
            row[f"{name}: verdict"] = cl.effect_verdict(e, claimed)
        rows.append(row)
    return pd.DataFrame(rows)


#: the stable reading of a curve's end: the mean of its last ``FINAL_LAST_K`` evaluations (at the cpu profile the
#: last 500 iterations), not one noisy evaluation
FINAL_LAST_K = 5


def stable_final(values, last_k: int = FINAL_LAST_K) -> float:
    """The mean of the last ``last_k`` values of a validation curve (all of them if it is shorter)."""
    v = np.asarray(values, dtype=float)
    if v.size == 0:
        raise ValueError("stable_final: an empty curve has no final value")
    return float(v[-int(last_k):].mean())


def fig4_final(f4: dict, last_k: int = FINAL_LAST_K) -> dict:
    """Final and best metric per (method, seed) (``final`` = the mean of the last ``last_k`` evaluations, the
    stable reading; ``last`` = the last evaluation alone), their seed summaries and, per variant, the paired
    effect on the final metric with its verdict on "better at the end of training" (a direction: the paper
    prints no size; ``verdicts``, printed ``text``)."""
    import pandas as pd

    reference, metric = f4["reference"], f4["metric"]
    unit = metric_unit(metric)
    final = pd.DataFrame([{"method": n, "seed": s, "final": stable_final(v, last_k), "last": float(v[-1]),
                           "best": float(v.max())} for (n, s), (_, v) in f4["curves"].items()])
    verdicts, lines = {}, []
    for name in f4["variants"]:
        sub = final.set_index(["method", "seed"])["final"]
        e = cl.paired_effect(dict(sub[name]), dict(sub[reference]), "higher")
        word = cl.effect_verdict(e, None)
        evidence = (f"final {f4['val_set']} {metric_label(metric)} (mean of the last {last_k} evaluations), "
                    f"{name} - {reference}, paired by seed: {cl.format_effect(e, unit, 3 if metric == 'psnr' else 4)}")
        verdicts[name] = {"verdict": word, "evidence": evidence, "effect": e, "claimed": None, "unit": unit}
        lines += [evidence,
                  f"  VERDICT on '{name} performs better than the {reference} at the end of training': {word.upper()}"]
    return {"final": final, "final_summary": cl.seed_summary(final, "final", "method"), "last_k": last_k,
            "best_summary": cl.seed_summary(final, "best", "method"), "verdicts": verdicts, "text": "\n".join(lines)}


def plot_weights(f4: dict):
    """Mean PSPL weight m_a against iteration, every variant and seed."""
    import matplotlib.pyplot as plt

    fig, a = plt.subplots(figsize=(6, 3))
    for k, name in enumerate(f4["variants"]):
        for s in f4["seeds"]:
            log = f4["runs"][(name, s)].log.dropna(subset=["m_a_mean"])
            a.plot(log["iteration"], log["m_a_mean"], lw=1, color=f"C{k + 1}", label=name if s == f4["seeds"][0] else None)
    a.set_xlabel("iteration"); a.set_ylabel("mean m_a over the batch"); a.set_ylim(0, 2.05)
    a.set_title("PSPL weights during training (γ = 2 is the ceiling)", fontsize=10); a.legend(fontsize=8)
    return fig


def fig4_ablation(f4: dict, th: dict, ablation: Mapping[str, str], final: dict, interpolate: bool = True,
                  references: Mapping[str, str] | None = None) -> dict:
    """One run (seed 0 of ``f4``) per ablation variant ``{label: experiment}``, same-loss variants skipped.

    ``references = {label: reference label}`` names what each variant is compared with (a label of
    ``ablation`` or of ``f4``'s methods); the table's last column is the variant's final (stable reading,
    :func:`stable_final`) minus its reference's, to be read against the seed spread in the caption.
    Returns ``table`` (loss, iterations to threshold, final, best, difference), ``curves``, ``notes`` and
    ``caption`` (seed, provenance and the seed spread of the final metric from :func:`fig4_final`).
    """
    import pandas as pd

    from srlib import profiles, runs

    profile, seed, val_set, metric = f4["profile"], f4["seeds"][0], f4["val_set"], f4["metric"]
    last_k = final.get("last_k", FINAL_LAST_K)
    cfg = {label: profiles.get(profile, key) for label, key in ablation.items()}
    dup = same_loss_duplicates(cfg)
    notes = [f"'{n}' is the same loss as '{first}' at the {profile} profile: skipped" for n, first in dup.items()]
    rows, curves = [], {}
    shown = {label: key for label, key in ablation.items() if label not in dup}
    trained = dict(zip(shown, runs.get_or_train_many([(dict(cfg[label], seed=seed), key) for label, key in shown.items()],
                                                     progress=False)))
    finals = {n: stable_final(v, last_k) for (n, s), (_, v) in f4["curves"].items() if s == seed}
    for label, key in shown.items():
        it, v = cv.curve_from_log(trained[label].log, f4["column"])
        curves[label] = (it, v)
        finals[label] = stable_final(v, last_k)
    final_col = axis_label(f"final {val_set} {metric_label(metric)}", metric)
    for label in shown:
        r, (it, v) = trained[label], curves[label]
        ref = (references or {}).get(label)
        rows.append({"variant": label, "loss": r.config["loss"]["name"] + " " + str(r.config["loss"].get("args", "")),
                     "iterations to threshold": cv.first_crossing(it, v, th["threshold"], interpolate),
                     final_col: finals[label], "best": float(v.max()), "reference": ref or "",
                     "final − reference": finals[label] - finals[ref] if ref in finals else float("nan")})
    spread = final["final_summary"].set_index("method")["std"].fillna(float("nan"))
    caption = (f"seed {seed}; {f4['provenance']}; final = mean of the last {last_k} evaluations; seed std of the "
               f"final {metric_label(metric)} above: "
               + ", ".join(f"{k} {with_unit(x, metric, extra=1)}" for k, x in spread.items()))
    return {"table": pd.DataFrame(rows), "curves": curves, "notes": notes, "caption": caption}


def plot_ablation(f4: dict, th: dict, abl: dict):
    """The ablation curves (PSPL variants solid, baselines dashed), full and zoomed near the threshold."""
    import matplotlib.pyplot as plt

    threshold, metric = th["threshold"], f4["metric"]
    fig, axs = plt.subplots(1, 2, figsize=(12, 3.8))
    for a in axs:
        for k, (label, (it, v)) in enumerate(abl["curves"].items()):
            a.plot(it, v, lw=1.2, label=label, color=f"C{k}", ls="-" if "PSPL" in label else "--")
        a.axhline(threshold, color="red", ls=":", lw=1)
        a.set_xlabel("iteration"); a.set_ylabel(axis_label(f"{f4['val_set']} {metric_label(metric)}", metric))
    span = zoom_span(metric)
    axs[1].set_ylim(threshold - 1.5 * span, max(max(v) for _, v in abl["curves"].values()) + span / 5)
    axs[0].legend(fontsize=7); axs[1].set_title("zoom near the threshold", fontsize=10)
    axs[0].set_title(f"seed {f4['seeds'][0]}; " + f4["provenance"], fontsize=8)
    return fig


def fig4_claims(f4: dict, th: dict, verdicts: Mapping[str, dict], final_verdicts: Mapping[str, dict]) -> list[dict]:
    """The Fig. 4 rows of the chapter's claims (part ``fig4``): faster, and better at the end, per variant."""
    profile, n, reference = f4["profile"], len(f4["seeds"]), f4["reference"]
    rule = (f"threshold {with_unit(th['threshold'], f4['metric'])} = {th['fraction']} of the way from {th['floor_rule']} "
            f"to the {reference}'s lowest best")
    context = f"{profile} profile: {f4['provenance']}; {n} seeds; validation {f4['val_set']}"
    rows = []
    for k, name in enumerate(f4["variants"]):
        v = verdicts[name]
        rows.append(cl.row(CHAPTER, "fig4", f"faster-{k}", f"{name} converges faster than the {reference} (Fig. 4)",
                           v["verdict"], v["evidence"], context=f"{context}; {rule}", effect=v["effect"],
                           claimed=v["claimed"], unit="share of iterations saved"))
        v = final_verdicts[name]
        rows.append(cl.row(CHAPTER, "fig4", f"final-{k}",
                           f"{name} performs better than the {reference} at the end of training (Fig. 4)",
                           v["verdict"], v["evidence"], context=context, effect=v["effect"], unit=v["unit"]))
    return rows


def fig4_csv(f4: dict, th: dict, fv: dict):
    """``results/pspl/fig4.csv``: per (method, seed) the iterations to the threshold (blank if never), the
    final (mean of the last :data:`FINAL_LAST_K` evaluations) and best validation metric, with the threshold, validation set, metric and profile."""
    table = fv["table"].rename(columns={"group": "method", "iterations": "iterations_to_threshold"})
    finals = {k: (stable_final(v), float(v.max())) for k, (_, v) in f4["curves"].items()}
    table["final"] = [finals[(m, s)][0] for m, s in zip(table["method"], table["seed"])]
    table["best"] = [finals[(m, s)][1] for m, s in zip(table["method"], table["seed"])]
    table = table.assign(threshold=th["threshold"], val_set=f4["val_set"], metric=f4["metric"], profile=f4["profile"])
    return table[["method", "seed", "iterations_to_threshold", "reached", "last_iteration", "final", "best", "threshold",
                  "val_set", "metric", "profile"]]


def fig4_summary(f4: dict, th: dict, verdicts: Mapping[str, dict], final_verdicts: Mapping[str, dict]) -> str:
    """The page's closing summary, computed: one line per variant (faster? better at the end?) and the regime."""
    lines = []
    for name in f4["variants"]:
        v, f = verdicts[name], final_verdicts[name]
        lines.append(f"{name}: saves {cl.format_effect(v['effect'])} of the {f4['reference']}'s iterations to the "
                     f"threshold (paper {v['claimed']:+.2f}) -> {v['verdict']}; final {metric_label(f4['metric'])} "
                     f"{cl.format_effect(f['effect'], metric_unit(f4['metric']))} -> {f['verdict']}")
    lines.append(f"regime: {f4['provenance']}; {len(f4['seeds'])} seeds; threshold {with_unit(th['threshold'], f4['metric'])} "
                 f"on {f4['val_set']} ({th['floor_rule']} as the floor)")
    return "\n".join(lines)
