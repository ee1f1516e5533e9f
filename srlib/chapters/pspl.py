"""The PSPL chapter (book/pspl/): gathering runs, threshold rule, verdicts, paper-vs-ours tables, figures.

The notebooks hold the parameters and call these functions; the generic pieces they build on are
:mod:`srlib.convergence` (crossings, seed summaries, verdicts, claims files), :mod:`srlib.viz`
(paper-vs-ours tables, image rows), :mod:`srlib.runs` and :mod:`srlib.profiles`.

* Part 1 (attention.ipynb, Fig. 3 and the attention-map explorer): :func:`fig3_config`,
  :func:`fig3_snapshots`, :func:`snapshot_check`, :func:`delta_schedules`, :func:`fig3_states`,
  the figures :func:`plot_fig3_curves`, :func:`plot_fig3_distribution`, :func:`plot_fig3_maps`, and
  :func:`fig3_explorer` (built on :mod:`srlib.attention_explorer` and :mod:`srlib.losses.pspl`).
* Part 2 (convergence.ipynb, Fig. 4): :func:`fig4_runs`, :func:`fig4_threshold`,
  :func:`fig4_verdicts`, :func:`fig4_sensitivity`, :func:`fig4_final`, :func:`fig4_ablation` and
  the figures :func:`plot_fig4`, :func:`plot_weights`, :func:`plot_ablation`.
* Part 3 (comparison.ipynb, Table 1, Fig. 1, Fig. 5): :func:`table1_runs`, :func:`table1_results`,
  :func:`table1_against_paper`, :func:`table1_provenance`, :func:`table1_gains`,
  :func:`table1_cell_verdicts`, :func:`table1_pooled_verdicts`, :func:`fig1_points`,
  :func:`plot_fig1`, :func:`fig5_crops`; the aside on the dark frame of the PSPL model
  (the SSIM map's border): :func:`border_study`, built on :func:`border_share`,
  :func:`border_shares`, :func:`border_weights`, :func:`border_errors`, :func:`border_corners`.
* Both: :func:`same_loss_duplicates` (variants that are one run at a profile are shown once),
  :func:`update_claims` (this chapter's rows of ``results/claims/pspl.csv``).
"""
from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from srlib import convergence as cv

if TYPE_CHECKING:
    import pandas as pd

CHAPTER = "pspl"
SETS = ["Set5", "Set14", "B100", "Urban100"]
CLAIM_COLUMNS = ["chapter", "claim", "evidence", "verdict"]


# ------------------------------------------------------------------------------ shared


def same_loss_duplicates(configs: Mapping[str, dict]) -> dict[str, str]:
    """``{label: first label with the same loss}`` for every label whose config's loss repeats an earlier one.

    At the paper profile "PSPL, step matched" is the authors' step: one run, shown once.
    """
    seen, dup = {}, {}
    for label, c in configs.items():
        loss = json.dumps(c["loss"], sort_keys=True)
        if loss in seen:
            dup[label] = seen[loss]
        else:
            seen[loss] = label
    return dup


def claims_path(claims_file, profile: str):
    """``claims_file``, or ``results/claims/pspl.csv`` when it is None and the profile is not smoke (None then)."""
    if claims_file is None and profile != "smoke":
        from srlib import runs

        return str(runs.REPO_ROOT / "results" / "claims" / f"{CHAPTER}.csv")
    return claims_file


def update_claims(claims_file, items: Sequence[tuple[str, dict]], marker: str):
    """Replace the rows of ``claims_file`` whose claim contains ``marker`` (e.g. ``"(Fig. 4"``) by ``items``.

    ``items`` = ``[(claim text, verdict dict)]``; ``claims_file`` None writes nothing. Returns the new rows
    as a DataFrame (for display).
    """
    import pandas as pd

    rows = cv.claims_rows(CHAPTER, items)
    if claims_file:
        import fcntl

        # the book runner executes notebooks in parallel, and two of them update this file:
        # hold an exclusive lock around the read-modify-write
        lock_path = Path(claims_file).with_name(Path(claims_file).name + ".lock")
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        with open(lock_path, "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            previous = (pd.read_csv(claims_file) if Path(claims_file).exists()
                        else pd.DataFrame(columns=CLAIM_COLUMNS))
            keep = previous[~previous.claim.str.contains(marker, regex=False)]
            cv.write_claims(keep.to_dict("records") + rows, claims_file)
    return pd.DataFrame(rows)


# ------------------------------------------------------ part 1: Fig. 3, the attention-map explorer


def snapshot_steps(total: int, fractions: Sequence[float]) -> list[int]:
    """Iterations at ``fractions`` of a run of ``total`` iterations, rounded, de-duplicated, sorted."""
    return sorted({int(round(f * total)) for f in fractions})


def fig3_config(profile: str, experiment: str, seed: int, snapshot_fractions: Sequence[float], *,
                image_indices=None, explorer_fractions=None, explorer_deltas=None, explorer_gammas=None,
                explorer_mus=None) -> dict:
    """The run config of Fig. 3 (``experiment`` at ``profile`` with ``seed``) and the iterations shown; no training.

    The explorer settings left None (or empty) get the profile's defaults: smoke shows one image
    (Set14 index 10), snapshots [0, 1] of the run, deltas [0.1, 1], gamma 2, mu -1; the other
    profiles two images (10, 13), [0.05, 0.25, 1], [0.1, 1, 10], gammas [1, 2], mus [-1, 0].
    Returns ``config``, ``experiment``, ``total`` (iterations), ``steps`` (Fig. 3),
    ``explorer_steps``, those settings, and ``description`` (one line: model, schedule, data, profile).
    """
    from srlib import profiles
    from srlib.train import total_iterations

    smoke = profile == "smoke"
    image_indices = image_indices or ([10] if smoke else [10, 13])
    explorer_deltas = explorer_deltas or ([0.1, 1.0] if smoke else [0.1, 1.0, 10.0])
    explorer_fractions = explorer_fractions or ([0, 1] if smoke else [0.05, 0.25, 1.0])
    explorer_gammas = explorer_gammas or ([2.0] if smoke else [1.0, 2.0])
    explorer_mus = explorer_mus or ([-1.0] if smoke else [-1.0, 0.0])
    config = profiles.get(profile, experiment)
    config["seed"] = seed
    total = total_iterations(config)
    return {"config": config, "experiment": experiment, "profile": profile, "total": total,
            "steps": snapshot_steps(total, snapshot_fractions),
            "explorer_steps": snapshot_steps(total, explorer_fractions),
            "image_indices": list(image_indices), "explorer_fractions": list(explorer_fractions),
            "explorer_deltas": list(explorer_deltas), "explorer_gammas": list(explorer_gammas),
            "explorer_mus": list(explorer_mus), "description": profiles.describe(config)}


def fig3_snapshots(f3: dict) -> dict:
    """``f3`` (:func:`fig3_config`) with the stored run (``run``, trained if missing), its weights at every
    step of Fig. 3 and of the explorer (``snaps``, :func:`srlib.attention_explorer.snapshot_training`,
    reused when stored) and ``provenance`` (one line, with the run's hardware)."""
    from srlib import attention_explorer as ax, profiles, runs

    config = f3["config"]
    run = runs.get_or_train(config, f3["experiment"], progress=False)
    snaps = ax.snapshot_training(config, sorted(set(f3["steps"]) | set(f3["explorer_steps"])))
    return dict(f3, run=run, snaps=snaps, provenance=profiles.describe(config, run.final))


def snapshot_check(final, snaps: dict, final_iteration: int) -> dict:
    """Is the snapshot at ``final_iteration`` bit-identical to ``final`` (a model or a state dict)?

    Also the largest absolute weight change of every snapshot since its first (iteration 0).
    Returns ``same``, ``moved`` (``{iteration: float}``), ``text`` (the check, one line) and
    ``moved_text`` (the changes, one line).
    """
    import torch

    state = final.state_dict() if hasattr(final, "state_dict") else final
    states = snaps["states"]
    same = all(torch.equal(v, states[final_iteration][k]) for k, v in state.items())
    first = states[0]
    moved = {s: max(float((v - first[k]).abs().max()) for k, v in states[s].items()) for s in snaps["iterations"]}
    return {"same": same, "moved": moved,
            "text": (f"snapshots at iterations {snaps['iterations']}; last snapshot identical to the run store's "
                     f"final model: {same}"),
            "moved_text": "largest weight change since iteration 0: " + str({s: f"{m:.2e}" for s, m in moved.items()})}


def delta_schedules(config: dict, steps: Sequence[int], total: int | None = None, paper_epochs: float = 300.0) -> dict:
    """delta of PSPL at each of ``steps``: the run's own (``run``, what its loss used,
    :func:`srlib.attention_explorer.loss_delta`) and the paper's (``paper``: delta = epochs of a
    ``paper_epochs``-epoch run at the same fraction of training, ``paper_epochs * step / total``).
    ``text``: the run's deltas, one line."""
    from srlib import attention_explorer as ax
    from srlib.train import total_iterations

    total = total_iterations(config) if total is None else total
    run = {s: ax.loss_delta(config, s) for s in steps}
    paper = {s: paper_epochs * s / total for s in steps}
    return {"run": run, "paper": paper,
            "text": "delta used by the loss at these iterations: " + str({s: round(d, 4) for s, d in run.items()})}


def fig3_states(snaps: dict, steps: Sequence[int], image_set: str, image_indices: Sequence[int], scale: int,
                crop: int) -> dict:
    """The most detailed ``crop`` x ``crop`` HR window of each test image (``crops``) and, on the first,
    SR, HR, |SR-HR| and M_s of the model at each of ``steps`` (``states``, :func:`srlib.attention_explorer.pair_state`)."""
    from srlib import attention_explorer as ax

    crops = [ax.test_crop(image_set, i, scale, crop) for i in image_indices]
    states = {s: ax.pair_state(ax.model_at(snaps, s), crops[0]) for s in steps}
    return {"crops": crops, "states": states}


def plot_fig3_curves(deltas: Sequence[float], gamma: float, mu: float, points: int = 401):
    """Fig. 3, left: the weight curve m_a(m_s) of Eq. (7) for each delta, no data."""
    import matplotlib.pyplot as plt
    import torch

    from srlib.losses.pspl import attention_map

    xs = torch.linspace(-1, 1, points)
    fig, axs = plt.subplots(1, 1, figsize=(5.5, 3.2))
    for d in deltas:
        axs.plot(xs, attention_map(xs, gamma, mu, delta=d), label=f"δ = {d:g}")
    axs.set_xlabel("m_s (local SSIM)"); axs.set_ylabel("m_a"); axs.legend(fontsize=8)
    axs.set_title(f"Eq. (7), γ = {gamma:g}, μ = {mu:g}")
    return fig


def plot_fig3_distribution(states: Mapping[int, dict], run_deltas: Mapping[int, float], curve_deltas: Sequence[float],
                           gamma: float, mu: float, suptitle: str = ""):
    """Fig. 3, left, on a real crop: the m_a histogram (share of pixels, log scale) of the model at each
    snapshot with the run's own delta (left), and of the last snapshot with growing deltas (right)."""
    import matplotlib.pyplot as plt

    from srlib import attention_explorer as ax

    steps = list(states)
    fig, axs = plt.subplots(1, 2, figsize=(11, 3.4), sharey=True)
    for s in steps:
        h = ax.attention_histograms(states[s]["m_s"], [max(run_deltas[s], 1e-6)], gamma, mu)
        axs[0].step(h["m_a"], h["share"], where="mid", label=f"iteration {s} (δ = {run_deltas[s]:.3g})")
    h = ax.attention_histograms(states[steps[-1]]["m_s"], curve_deltas, gamma, mu)
    for d, g in h.groupby("delta"):
        axs[1].step(g["m_a"], g["share"], where="mid", label=f"δ = {d:g}")
    for a, t in zip(axs, ["model at each snapshot, δ of the run", f"model after {steps[-1]} iterations, growing δ"]):
        a.set_yscale("log"); a.set_xlabel("m_a"); a.set_title(t, fontsize=10); a.legend(fontsize=7)
    axs[0].set_ylabel("share of pixels")
    fig.suptitle(suptitle, fontsize=8)
    return fig


def plot_fig3_maps(states: Mapping[int, dict], run_deltas: Mapping[int, float], paper_deltas: Mapping[int, float],
                   fixed_delta: float, gamma: float, mu: float):
    """Fig. 3, right: M_a (channels averaged) at each snapshot with the run's delta (top), the paper
    schedule's delta (middle) and ``fixed_delta`` (bottom); last column SR, HR and |SR-HR| of the last snapshot."""
    import matplotlib.pyplot as plt

    from srlib import attention_explorer as ax

    steps = list(states)
    fig, axs = plt.subplots(3, len(steps) + 1, figsize=(2.3 * (len(steps) + 1), 7.5))
    for j, s in enumerate(steps):
        for i, d in enumerate([run_deltas[s], paper_deltas[s], fixed_delta]):
            m_a = ax.attention_of(states[s]["m_s"], max(d, 1e-6), gamma, mu).mean(0)
            axs[i, j].imshow(m_a, cmap="inferno", vmin=0, vmax=gamma)
            axs[i, j].set_title(f"it {s}, δ = {d:.3g}\nmean m_a {m_a.mean():.2f}", fontsize=8)
    last = states[steps[-1]]
    sr_hr = [last["sr"], last["hr"]]
    for i in range(2):
        axs[i, -1].imshow(np.clip(sr_hr[i], 0, 1), cmap="gray")
        axs[i, -1].set_title(["SR (last snapshot)", "HR"][i], fontsize=8)
    axs[2, -1].imshow(last["err"].mean(-1) if last["err"].ndim == 3 else last["err"], cmap="magma")
    axs[2, -1].set_title("|SR − HR| (last snapshot)", fontsize=8)
    for a in axs.ravel():
        a.set_axis_off()
    fig.suptitle(f"top: δ of our run (code schedule); middle: δ of the paper's schedule at the same fraction; "
                 f"bottom: δ = {fixed_delta:g}", fontsize=9)
    return fig


def fig3_explorer(snaps: dict, steps: Sequence[int], crops: Sequence[dict], deltas: Sequence[float],
                  gammas: Sequence[float], mus: Sequence[float], panel: int, provenance: str = "") -> dict:
    """The attention-map explorer's precomputed frames over image x ``steps`` x delta x gamma x mu
    (:func:`srlib.attention_explorer.precompute_frames`) and their kernel-free viewer
    (:func:`srlib.viz.frame_viewer`). Returns ``frames``, ``axes``, ``viewer`` and ``text`` (one line)."""
    from srlib import attention_explorer as ax, viz

    shown = dict(snaps, iterations=list(steps))
    frames, axes = ax.precompute_frames(shown, crops, deltas, gammas, mus, panel=panel)
    first = next(iter(frames.values()))
    text = f"{len(frames)} frames of {first.shape[1]}x{first.shape[0]} px; model: {provenance}"
    viewer = viz.frame_viewer(frames, axes=axes, title="PSPL attention-map explorer (precomputed frames)")
    return {"frames": frames, "axes": axes, "viewer": viewer, "text": text}


# --------------------------------------------------------------------- part 2: Fig. 4


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
    return {"methods": methods, "notes": notes, "cfg": cfg, "runs": runs_by, "curves": curves, "reference": reference,
            "val_set": val_set, "column": column, "metric": metric, "seeds": list(seeds), "profile": profile,
            "variants": [m for m in methods if m != reference], "provenance": provenance}


def threshold_rule(ref_curves: Sequence, bicubic: float, fraction: float, metric: str = "psnr", val_set: str = "",
                   reference: str = "baseline") -> dict:
    """The chapter's threshold: ``fraction`` of the way from the floor to the reference's lowest best.

    The floor is ``bicubic``, or, if a reference curve never beats bicubic, the reference's lowest
    first evaluation. Returns ``threshold``, ``floor``, ``floor_rule`` (words), ``fraction``, ``peaks``.
    """
    peaks = [float(np.max(v)) for _, v in ref_curves]
    floor, floor_rule = bicubic, f"bicubic {metric.upper()} on {val_set} ({bicubic:.2f})"
    if min(peaks) <= bicubic:
        floor = min(float(v[0]) for _, v in ref_curves)
        floor_rule = f"the {reference}'s lowest first evaluation ({floor:.2f}; it never beat bicubic, {bicubic:.2f})"
    threshold = cv.threshold_from_curves(ref_curves, floor, fraction)
    return {"threshold": threshold, "floor": floor, "floor_rule": floor_rule, "fraction": fraction, "peaks": peaks}


def paper_fig4():
    """The paper's Fig. 4 numbers as a Series indexed by (method, metric)."""
    from srlib import papers

    return papers.load("pspl", "Fig. 4").set_index(["method", "metric"])["value"]


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
        th.update(threshold=_paper_threshold(), floor_rule="the paper's own threshold", fraction=float("nan"))
    th.update(bicubic=bicubic, ref_curves=ref_curves,
              text=(f"threshold = {th['floor_rule']} + {th['fraction']} x ({reference}'s lowest best "
                    f"{min(th['peaks']):.2f} - floor) = {th['threshold']:.3f} dB"))
    return th


def _paper_threshold() -> float:
    from srlib import papers

    fig4 = papers.load("pspl", "Fig. 4")
    return float(fig4[fig4.metric == "PSNR_threshold_dB"]["value"].iloc[0])


def plot_fig4(f4: dict, th: dict, interpolate: bool = True):
    """Fig. 4: every seed thin, the seed range as a band, the mean thick; threshold, bicubic, mean crossings."""
    import matplotlib.pyplot as plt

    curves, seeds, threshold = f4["curves"], f4["seeds"], th["threshold"]
    summary = cv.seed_summary(cv.crossing_table(curves, threshold, interpolate), "iterations").set_index("group")
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
        a.axhline(threshold, color="red", ls="--", lw=1, label=f"threshold {threshold:.2f} dB")
        a.axhline(th["bicubic"], color="gray", ls="-.", lw=1, label=f"bicubic {th['bicubic']:.2f} dB")
        a.set_xlabel("iteration"); a.set_ylabel(f"{f4['val_set']} {f4['metric'].upper()} (dB)")
    axs[1].set_ylim(threshold - 1.0, max(float(v.max()) for _, v in curves.values()) + 0.2)
    axs[1].set_title("zoom near the threshold", fontsize=10)
    axs[0].legend(fontsize=8); axs[0].set_title(f4["provenance"], fontsize=8)
    return fig


def fig4_verdicts(f4: dict, th: dict, interpolate: bool = True, paper=None) -> dict:
    """Iterations to the threshold per seed (``wide``: seeds x methods, labels), a verdict per variant
    against the reference (``verdicts``) and the printed evidence with the paper's speed-up (``lines``)."""
    paper = paper_fig4() if paper is None else paper
    reference, threshold = f4["reference"], th["threshold"]
    paper_ratio = paper[("baseline", "epochs_to_threshold")] / paper[("PSPL", "epochs_to_threshold")]
    table = cv.crossing_table(f4["curves"], threshold, interpolate)
    wide = (table.pivot(index="seed", columns="group", values="label")[list(f4["methods"])]
            .rename_axis(f"iterations to {threshold:.2f} dB"))
    verdicts, lines = {}, []
    for name in f4["variants"]:
        v = cv.verdict(table[table.group == name]["iterations"], table[table.group == reference]["iterations"],
                       better="lower", name_a=name, name_b=reference,
                       what=f"iterations to {threshold:.2f} dB on {f4['val_set']}")
        verdicts[name] = v
        lines += [v["evidence"],
                  f"  speed-up (mean {reference} / mean {name}): ours {v['ratio']:.2f}, paper {paper_ratio:.2f} "
                  f"({paper[('baseline', 'epochs_to_threshold')]:.0f} / {paper[('PSPL', 'epochs_to_threshold')]:.0f} epochs, one run each)",
                  f"  VERDICT on '{name} converges faster than the {reference}': {v['verdict'].upper()}"]
    return {"table": table, "wide": wide, "verdicts": verdicts, "text": "\n".join(lines)}


def fig4_sensitivity(f4: dict, th: dict, fractions: Sequence[float], interpolate: bool = True):
    """The threshold rule at other fractions: threshold, mean iterations per method, verdict per variant."""
    import pandas as pd

    reference, rows = f4["reference"], []
    for f in fractions:
        t_ = cv.threshold_from_curves(th["ref_curves"], th["floor"], f)
        t = cv.crossing_table(f4["curves"], t_, interpolate)
        row = {"fraction": f, "threshold (dB)": round(t_, 3),
               f"{reference} mean it": cv.seed_summary(t[t.group == reference], "iterations")["mean"].iloc[0]}
        for name in f4["variants"]:
            vf = cv.verdict(t[t.group == name]["iterations"], t[t.group == reference]["iterations"], "lower")
            row[f"{name} mean it"], row[f"{name}: verdict"] = vf["mean_a"], vf["verdict"]
        rows.append(row)
    return pd.DataFrame(rows)


def fig4_final(f4: dict) -> dict:
    """Final and best metric per (method, seed) (``final``), their seed summaries and a verdict per
    variant on "better at the end of training" (``verdicts``, printed ``text``)."""
    import pandas as pd

    reference = f4["reference"]
    final = pd.DataFrame([{"method": n, "seed": s, "final": float(v[-1]), "best": float(v.max())}
                          for (n, s), (_, v) in f4["curves"].items()])
    verdicts, lines = {}, []
    for name in f4["variants"]:
        vb = cv.verdict(final[final.method == name]["final"], final[final.method == reference]["final"], "higher",
                        name, reference, f"final {f4['val_set']} PSNR (dB)", decimals=3)
        verdicts[name] = vb
        lines += [vb["evidence"],
                  f"  VERDICT on '{name} performs better than the {reference} at the end of training': {vb['verdict'].upper()}"]
    return {"final": final, "final_summary": cv.seed_summary(final, "final", "method"),
            "best_summary": cv.seed_summary(final, "best", "method"), "verdicts": verdicts, "text": "\n".join(lines)}


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


def fig4_ablation(f4: dict, th: dict, ablation: Mapping[str, str], final: dict, interpolate: bool = True) -> dict:
    """One run (seed 0 of ``f4``) per ablation variant ``{label: experiment}``, same-loss variants skipped.

    Returns ``table`` (loss, iterations to threshold, final and best), ``curves``, ``notes`` and
    ``caption`` (seed, provenance and the seed spread of the final metric from :func:`fig4_final`).
    """
    import pandas as pd

    from srlib import profiles, runs

    profile, seed, val_set = f4["profile"], f4["seeds"][0], f4["val_set"]
    cfg = {label: profiles.get(profile, key) for label, key in ablation.items()}
    dup = same_loss_duplicates(cfg)
    notes = [f"'{n}' is the same loss as '{first}' at the {profile} profile: skipped" for n, first in dup.items()]
    rows, curves = [], {}
    shown = {label: key for label, key in ablation.items() if label not in dup}
    trained = dict(zip(shown, runs.get_or_train_many([(dict(cfg[label], seed=seed), key) for label, key in shown.items()],
                                                     progress=False)))
    for label, key in shown.items():
        r = trained[label]
        it, v = cv.curve_from_log(r.log, f4["column"])
        curves[label] = (it, v)
        rows.append({"variant": label, "loss": r.config["loss"]["name"] + " " + str(r.config["loss"].get("args", "")),
                     "iterations to threshold": cv.first_crossing(it, v, th["threshold"], interpolate),
                     f"final {val_set} PSNR": float(v[-1]), "best": float(v.max())})
    spread = final["final_summary"].set_index("method")["std"].fillna(float("nan"))
    caption = (f"seed {seed}; {f4['provenance']}; seed std of the final PSNR above: "
               + ", ".join(f"{k} {x:.3f}" for k, x in spread.items()) + " dB")
    return {"table": pd.DataFrame(rows), "curves": curves, "notes": notes, "caption": caption}


def plot_ablation(f4: dict, th: dict, abl: dict):
    """The ablation curves (PSPL variants solid, baselines dashed), full and zoomed near the threshold."""
    import matplotlib.pyplot as plt

    threshold = th["threshold"]
    fig, axs = plt.subplots(1, 2, figsize=(12, 3.8))
    for a in axs:
        for k, (label, (it, v)) in enumerate(abl["curves"].items()):
            a.plot(it, v, lw=1.2, label=label, color=f"C{k}", ls="-" if "PSPL" in label else "--")
        a.axhline(threshold, color="red", ls=":", lw=1)
        a.set_xlabel("iteration"); a.set_ylabel(f"{f4['val_set']} PSNR (dB)")
    axs[1].set_ylim(threshold - 1.5, max(max(v) for _, v in abl["curves"].values()) + 0.2)
    axs[0].legend(fontsize=7); axs[1].set_title("zoom near the threshold", fontsize=10)
    axs[0].set_title(f"seed {f4['seeds'][0]}; " + f4["provenance"], fontsize=8)
    return fig


def fig4_claims(f4: dict, th: dict, verdicts: Mapping[str, dict], final_verdicts: Mapping[str, dict]) -> list:
    """``[(claim, verdict)]`` for the Fig. 4 claims (faster, better at the end), per variant."""
    profile, n, reference = f4["profile"], len(f4["seeds"]), f4["reference"]
    rule = (f"threshold {th['threshold']:.2f} dB = {th['fraction']} of the way from {th['floor_rule']} "
            f"to the {reference}'s lowest best")
    items = []
    for name in f4["variants"]:
        items.append((f"{name} converges faster than the {reference} (Fig. 4; {profile} profile: {f4['provenance']}; "
                      f"{n} seeds; {rule})", verdicts[name]))
        items.append((f"{name} performs better than the {reference} at the end of training (Fig. 4; {profile} profile; "
                      f"{n} seeds)", final_verdicts[name]))
    return items


# ----------------------------------------------------------- part 3: Table 1, Fig. 1, Fig. 5


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
    """How our Table 1 numbers were made: model sizes, iterations, data, profile, hardware, seeds."""
    from srlib import viz

    models, seeds = t1["models"], t1["seeds"]
    c = t1["configs"][(models[0], "baseline")]
    threads = t1["runs"][(models[0], "baseline", seeds[0])].final.get("threads")
    hardware = viz.hardware_description() if hardware is None else hardware
    return dict(model=t1["sizes"], iterations=f"{c['iters_per_epoch'] * c['epochs']} per run",
                data=f"train {c['data']['train']}; test {t1['test_data']}", profile=t1["profile"],
                hardware=f"{hardware}; training used {threads} thread(s)", seeds=str(seeds))


def table1_paper_vs_ours(t1: dict, paper=None):
    """The rendered paper-vs-ours Table 1 (a Styler, :func:`srlib.viz.paper_vs_ours`)."""
    from srlib import viz

    table = table1_against_paper(t1["ours"], t1["models"], paper)
    return viz.paper_vs_ours(table, ["model", "set", "method"], provenance=table1_provenance(t1),
                             paper_source="PSPL paper, Table 1 (x4, models trained on DIV2K)")


def table1_gains(ours, paper, variants: Sequence[str], models: Sequence[str]):
    """PSPL − baseline per (model, set): the paper's (``paper ΔPSNR``, ``paper ΔSSIM``) and ours per
    variant (``ΔPSNR <variant>``, ``ΔSSIM <variant>``), sorted by set then model. Returns (gains, paper gains)."""
    pg = cv.gains(paper.rename(columns={"paper_psnr": "psnr", "paper_ssim": "ssim"}), ["model", "set"], "method",
                  "baseline", "PSPL", ["psnr", "ssim"])
    g = pg.rename(columns={"psnr_gain": "paper ΔPSNR", "ssim_gain": "paper ΔSSIM"})
    for v in variants:
        og = cv.gains(ours, ["model", "set"], "method", "baseline", v, ["psnr", "ssim"])
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


def table1_cell_verdicts(results, variant: str, models: Sequence[str], evidence_suffix: str = "") -> dict:
    """The per-cell verdict of ``variant`` against the baseline (per-seed PSNR) and the whole claim's:
    supported if every cell is, contradicted if more than half are, inconclusive otherwise.

    Returns ``cells`` (model x set table of verdicts), ``verdict``, ``evidence``.
    """
    import pandas as pd

    cells = []
    for (m, st), sub in results.groupby(["model", "set"]):
        v = cv.verdict(sub[sub.method == variant]["psnr"], sub[sub.method == "baseline"]["psnr"], "higher", variant,
                       "baseline", f"{m} {st} PSNR", decimals=3)
        cells.append({"model": m, "set": st, "verdict": v["verdict"]})
    cells = pd.DataFrame(cells)
    counts = cells["verdict"].value_counts().reindex(list(cv.VERDICTS), fill_value=0)
    verdict = ("supported" if counts["supported"] == len(cells) else
               "contradicted" if counts["contradicted"] > len(cells) / 2 else "inconclusive")
    evidence = (f"{variant}: {counts['supported']} of {len(cells)} (model, set) cells better than the baseline for every seed, "
                f"{counts['contradicted']} worse for every seed, {counts['inconclusive']} mixed{evidence_suffix}")
    return {"cells": cells.pivot(index="model", columns="set", values="verdict").reindex(list(models)),
            "verdict": verdict, "evidence": evidence}


def table1_pooled_verdict(results, variant: str) -> dict:
    """The pooled claim "``variant`` raises the average PSNR over the cells", judged on per-seed means;
    adds ``paired`` (per-seed gain) and the printed ``text``."""
    pooled = results.groupby(["method", "seed"], as_index=False)["psnr"].mean()
    v = cv.verdict(pooled[pooled.method == variant]["psnr"], pooled[pooled.method == "baseline"]["psnr"], "higher",
                   variant, "baseline", "mean PSNR over the (model, set) cells, per seed (dB)", decimals=3)
    paired = (pooled[pooled.method == variant].set_index("seed")["psnr"]
              - pooled[pooled.method == "baseline"].set_index("seed")["psnr"])
    text = (f"{v['evidence']}\n  per-seed mean gain: {', '.join(f'seed {k}: {x:+.3f} dB' for k, x in paired.items())}\n"
            f"  VERDICT on '{variant} raises the average PSNR': {v['verdict'].upper()}")
    return dict(v, paired=paired, text=text)


def table1_claims(overall: Mapping[str, dict], variants: Sequence[str], profile: str, n_seeds: int) -> list:
    """``[(claim, verdict)]`` for Table 1: every cell, then the average, per variant."""
    return ([(f"{v} improves PSNR of every model on every set (Table 1; {profile} profile)", overall[v]) for v in variants]
            + [(f"{v} raises the average PSNR over the Table 1 cells (Table 1; {profile} profile; {n_seeds} seeds)",
                overall[f"{v} (average)"]) for v in variants])


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


def psnr_rgb(a, b) -> float:
    """PSNR (dB, peak 255) of an RGB image against a uint8 one; ``a`` may be float in [0, 1]."""
    mse = np.mean((np.asarray(a, float) * (255 if np.asarray(a).dtype != np.uint8 else 1) - np.asarray(b, float)) ** 2)
    return 10 * np.log10(255 ** 2 / mse)


def fig5_crops(t1: dict, model: str, set_name: str, index: int, scale: int, crop: int, zoom: int) -> dict:
    """Fig. 5: bicubic, ``model``'s baseline and PSPL outputs (seed ``t1['seeds'][0]``) and HR on the most
    detailed crop, zoomed; ``images``, ``titles`` (with RGB PSNR) and ``caption``."""
    from srlib import attention_explorer as ax, degrade, viz

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
        titles.append(name if name == "HR" else f"{name}\n{psnr_rgb(im, cr['hr']):.2f} dB")
    caption = (f"{cr['name']}, x{scale}, HR crop (top, left, h, w) = {cr['box']}; models: {model} runs of seed "
               f"{t1['seeds'][0]}, {t1['profile']} profile")
    return {"images": images, "titles": titles, "caption": caption}


# -------------------------------------------- part 3, aside: the border of the SSIM map (the dark frame of Fig. 5)


def border_mask(height: int, width: int, band: int) -> np.ndarray:
    """True within ``band`` pixels of the image border."""
    if band < 0:
        raise ValueError(f"border band must be >= 0, got {band}")
    m = np.zeros((height, width), bool)
    if band:
        m[:band], m[-band:], m[:, :band], m[:, -band:] = True, True, True, True
    return m


def border_share(hr_patch: int, window: int | None = None) -> float:
    """Share of an ``hr_patch`` x ``hr_patch`` patch's pixels whose SSIM window reaches past the patch border."""
    from srlib.conventions import SSIM_WINDOW

    r = (window or SSIM_WINDOW) // 2
    if hr_patch < 1:
        raise ValueError(f"hr_patch must be >= 1, got {hr_patch}")
    inner = max(hr_patch - 2 * r, 0)
    return 1.0 - inner * inner / (hr_patch * hr_patch)


def border_shares(experiment: str) -> "pd.DataFrame":
    """For each profile of ``experiment``: scale, LR and HR training patch size, and :func:`border_share`."""
    import pandas as pd

    from srlib import profiles

    rows = []
    for p in profiles.PROFILES:
        c = profiles.get(p, experiment)
        lr = int(c["data"].get("patch", 48))
        hr = lr * int(c["scale"])
        rows.append({"profile": p, "scale": c["scale"], "LR patch": lr, "HR patch": hr,
                     "pixels within 5 px of the border": border_share(hr)})
    return pd.DataFrame(rows)


def border_weights(model, config: dict, deltas: Sequence[float], paddings: Sequence[str] = ("zero", "reflect"),
                   batches: int = 16) -> "pd.DataFrame":
    """PSPL's weights near the patch border against the interior, on ``config``'s own training patches.

    ``model``'s outputs on ``batches`` training batches (:func:`srlib.train.build_batches`, the same
    patches a run of ``config`` draws first); for each SSIM ``padding`` and ``delta``: mean M_a within
    ``window // 2`` px of the patch border and inside, their ratio, and the border's share of the
    total weight (its share of pixels is :func:`border_share`).
    """
    import pandas as pd
    import torch

    from srlib.conventions import SSIM_WINDOW
    from srlib.losses.pspl import attention_map, similarity_map
    from srlib.losses.pixel import to_model_colors
    from srlib.train import build_batches

    batch_of = build_batches(config, model)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            pairs = []
            for i in range(batches):
                b = batch_of(i)
                pairs.append((model(to_model_colors(b["lr"], model)).clamp(0, 1), to_model_colors(b["hr"], model)))
    finally:
        model.train(was_training)
    h, w = pairs[0][1].shape[-2:]
    band = torch.from_numpy(border_mask(h, w, SSIM_WINDOW // 2))
    args = config["loss"].get("args", {})
    consts = args.get("ssim_constants", "code")
    rows = []
    for padding in paddings:
        m_s = torch.cat([similarity_map(sr, hr, consts, padding) for sr, hr in pairs])
        for d in deltas:
            m_a = attention_map(m_s, delta=float(d))
            wb, wi = m_a[..., band].mean().item(), m_a[..., ~band].mean().item()
            total = m_a.sum().item()
            rows.append({"padding": padding, "delta": float(d), "mean M_s border": m_s[..., band].mean().item(),
                         "mean M_s interior": m_s[..., ~band].mean().item(), "mean M_a border": wb,
                         "mean M_a interior": wi, "border / interior": wb / wi if wi > 0 else math.nan,
                         "border share of weight": m_a[..., band].sum().item() / total if total > 0 else math.nan})
    return pd.DataFrame(rows)


def border_errors(models: Mapping[str, object], set_names: Sequence[str], scale: int, band: int) -> "pd.DataFrame":
    """Per model and test set: the mean signed error SR − HR and mean |SR − HR| (RGB, [0, 1]) within
    ``band`` px of the image border and inside, and ``excess`` = border |err| / interior |err|.
    Whole test images (LR from :func:`srlib.data.lr_pairs`); grey images are skipped; RGB models only."""
    import pandas as pd

    from srlib import data
    from srlib.models import super_resolve

    rows = []
    for label, net in models.items():
        if int(getattr(net, "colors", 3)) != 3:
            raise ValueError(f"border_errors: {label!r} is a Y-channel model; give RGB models")
        for set_name in set_names:
            acc = np.zeros(4)
            n = 0
            for stem, lr, hr in data.lr_pairs(set_name, scale):
                if lr.ndim != 3:
                    continue
                err = super_resolve(net, lr) - hr / 255.0
                m = border_mask(*err.shape[:2], band)
                acc += [err[m].mean(), err[~m].mean(), np.abs(err[m]).mean(), np.abs(err[~m]).mean()]
                n += 1
            e = acc / max(n, 1)
            rows.append({"model": label, "set": set_name, "images": n, "SR−HR border": e[0], "SR−HR interior": e[1],
                         "|SR−HR| border": e[2], "|SR−HR| interior": e[3], "excess": e[2] / e[3]})
    return pd.DataFrame(rows)


def border_corners(models: Mapping[str, object], set_name: str, index: int, scale: int, size: int, zoom: int) -> dict:
    """The top-left ``size`` x ``size`` HR corner of one test image: each model's output and HR, zoomed
    (the frame of a model with a border defect is visible here); ``images`` and ``titles``."""
    from srlib import data, viz
    from srlib.models import super_resolve

    stem, lr, hr = data.lr_pairs(set_name, scale)[index]
    outs = {label: np.round(super_resolve(net, lr) * 255).astype(np.uint8) for label, net in models.items()}
    outs["HR"] = hr
    images = [viz.zoom_nearest(im[:size, :size], zoom) for im in outs.values()]
    titles = [f"{k}\n{set_name}/{stem}, top-left {size} px" for k in outs]
    return {"images": images, "titles": titles}


def border_study(t1: dict, model: str, set_names: Sequence[str], deltas: Sequence[float], corner: dict | None = None,
                 batches: int = 16) -> dict:
    """The aside after Fig. 5: why ``model``'s PSPL output has a dark frame, and what reflect padding changes.

    Trains (if missing) ``model``'s PSPL run with a reflect-padded SSIM map for ``t1``'s seeds.
    Returns ``shares`` (:func:`border_shares`), ``weights`` (:func:`border_weights` of the PSPL seed-0
    model on its own training patches), ``errors`` (:func:`border_errors` of every method's seed-0
    model), ``excess`` (per seed, the mean border excess of PSPL and of PSPL with reflect padding;
    their checkpoints are needed), ``psnr`` (per seed and method, the mean PSNR over the test sets
    of Table 1), the verdicts ``frame`` ("reflect padding lowers the border excess") and ``verdict``
    ("reflect padding raises PSNR"), computed from the seeds, ``corners`` (:func:`border_corners`,
    with ``corner = {set_name, index, size, zoom}``), ``runs`` and ``text``.
    """
    import pandas as pd

    from srlib import profiles, runs

    profile, seeds = t1["profile"], t1["seeds"]
    key = table1_key(model, "pspl_reflect")
    run_of = dict(zip([(model, "pspl_reflect", s) for s in seeds], runs.get_or_train_many(
        [(dict(profiles.get(profile, key), seed=s), key) for s in seeds], progress=False)))
    reflect = table1_results(run_of, {"pspl_reflect": "PSPL, reflect padding"})
    results = pd.concat([t1["results"][t1["results"]["model"] == model], reflect], ignore_index=True)
    psnr = results.groupby(["method", "seed"], as_index=False)["psnr"].mean()
    zero, refl = (psnr[psnr["method"] == m]["psnr"].to_numpy() for m in ("PSPL", "PSPL, reflect padding"))
    verdict = cv.verdict(refl, zero, better="higher", name_a="reflect", name_b="zero (code)", what="mean PSNR (dB)",
                         decimals=3)
    cfg = profiles.get(profile, table1_key(model, "pspl"))
    scale = int(cfg["scale"])
    seed0 = {f"{t1['methods'][m]}": t1["runs"][(model, m, seeds[0])].load_model() for m in t1["methods"]}
    seed0["PSPL, reflect padding"] = run_of[(model, "pspl_reflect", seeds[0])].load_model()
    errors = border_errors(seed0, set_names, scale, band=scale)
    compared = ("PSPL", "PSPL, reflect padding")
    per_seed = [errors[errors["model"].isin(compared)].assign(seed=seeds[0])]  # seed 0: already measured above
    for s in seeds[1:]:
        nets = {"PSPL": t1["runs"][(model, "pspl", s)].load_model(),
                "PSPL, reflect padding": run_of[(model, "pspl_reflect", s)].load_model()}
        per_seed.append(border_errors(nets, set_names, scale, band=scale).assign(seed=s))
    excess = (pd.concat(per_seed).groupby(["seed", "model"])["excess"].mean().unstack("model")[list(compared)]
              .reset_index().rename_axis(columns=None))
    frame = cv.verdict(excess["PSPL, reflect padding"], excess["PSPL"], better="lower", name_a="reflect",
                       name_b="zero (code)", what="border excess", decimals=2)
    weights = border_weights(seed0["PSPL"], dict(cfg, seed=seeds[0]), deltas, batches=batches)
    corners = border_corners(seed0, scale=scale, **corner) if corner else None
    shares = border_shares(table1_key(model, "pspl"))
    text = (f"border excess (|SR−HR| within {scale} px of the border / inside; {', '.join(set_names)}; "
            f"reflect padding lowers it): {frame['evidence']} -> {frame['verdict']}"
            f"\nmean PSNR over {', '.join(SETS)} (reflect padding raises it): {verdict['evidence']} -> {verdict['verdict']}")
    return {"shares": shares, "weights": weights, "errors": errors, "excess": excess, "psnr": psnr, "frame": frame,
            "verdict": verdict, "corners": corners, "runs": run_of, "text": text}
