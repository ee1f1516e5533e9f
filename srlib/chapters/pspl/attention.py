"""``book/pspl/attention.ipynb``: Fig. 3 (the weight curve, training snapshots, M_s / M_a maps) and the
attention-map explorer, built on :mod:`srlib.chapters.pspl.explorer` and :mod:`srlib.losses.pspl`.

The explorer's models are snapshots of Fig. 4's seed-0 runs (baseline, PSPL with the code's step,
PSPL with the step matched to the paper's schedule). :func:`explorer_snapshots` trains the missing
snapshot sets; ``explorer_snapshots("cpu")`` is the one call that prepares the cpu book's explorer.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from srlib.chapters.pspl import explorer as ax


TEXT_WIDTH = 76  # characters of printed output that fit the book's text column (measured: about 80)


def _wrap(lines: Sequence[str]) -> str:
    """Lines of printed output wrapped to :data:`TEXT_WIDTH` (continuations indented), so none runs off the page."""
    import textwrap

    return "\n".join(textwrap.fill(line, TEXT_WIDTH, subsequent_indent="    ", break_on_hyphens=False) for line in lines)


def snapshot_steps(total: int, fractions: Sequence[float]) -> list[int]:
    """Iterations at ``fractions`` of a run of ``total`` iterations, rounded, de-duplicated, sorted."""
    return sorted({int(round(f * total)) for f in fractions})


def fig3_config(profile: str, experiment: str, seed: int, snapshot_fractions: Sequence[float], *,
                image_indices: Sequence[int], explorer_fractions: Sequence[float]) -> dict:
    """The run config of Fig. 3 (``experiment`` at ``profile`` with ``seed``) and the iterations shown; no training.

    The per-profile defaults are :data:`srlib.chapters.pspl.experiments.NOTEBOOK_DEFAULTS` (``"attention"``).
    Returns ``config``, ``experiment``, ``total`` (iterations), ``steps`` (Fig. 3),
    ``explorer_steps`` (the explorer's, also kept in Fig. 3's snapshot set, so that the explorer's
    PSPL model is the same file), ``image_indices``, ``explorer_fractions`` and ``description`` (one
    line: model, schedule, data, profile).
    """
    from srlib import profiles
    from srlib.config import total_iterations

    config = profiles.get(profile, experiment)
    config["seed"] = seed
    total = total_iterations(config)
    return {"config": config, "experiment": experiment, "profile": profile, "total": total,
            "steps": snapshot_steps(total, snapshot_fractions),
            "explorer_steps": snapshot_steps(total, explorer_fractions),
            "image_indices": list(image_indices), "explorer_fractions": list(explorer_fractions),
            "description": profiles.describe(config)}


def fig3_snapshots(f3: dict) -> dict:
    """``f3`` (:func:`fig3_config`) with the stored run (``run``, trained if missing), its weights at every
    step of Fig. 3 and of the explorer (``snaps``, :func:`srlib.chapters.pspl.explorer.snapshot_training`,
    reused when stored) and ``provenance`` (one line, with the run's hardware)."""
    from srlib import profiles, runs

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
    :func:`srlib.chapters.pspl.explorer.loss_delta`) and the paper's (``paper``: delta = epochs of a
    ``paper_epochs``-epoch run at the same fraction of training, ``paper_epochs * step / total``).
    ``text``: the run's deltas, one line."""
    from srlib.config import total_iterations

    total = total_iterations(config) if total is None else total
    run = {s: ax.loss_delta(config, s) for s in steps}
    paper = {s: paper_epochs * s / total for s in steps}
    return {"run": run, "paper": paper,
            "text": "delta used by the loss at these iterations: " + str({s: round(d, 4) for s, d in run.items()})}


def fig3_states(snaps: dict, steps: Sequence[int], image_set: str, image_indices: Sequence[int], scale: int,
                crop: int) -> dict:
    """The most detailed ``crop`` x ``crop`` HR window of each test image (``crops``) and, on the first,
    SR, HR, |SR-HR| and M_s of the model at each of ``steps`` (``states``, :func:`srlib.chapters.pspl.explorer.pair_state`)."""

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


def explorer_snapshots(profile: str, seed: int = 0, models: Mapping[str, str] | None = None,
                       fractions: Sequence[float] | None = None) -> dict:
    """The explorer's models: weights of each run ``models`` names (label: experiment; seed ``seed``) at
    ``fractions`` of its iterations, trained where the snapshot store lacks them (reused otherwise).

    Defaults: ``notebook_defaults("attention", profile)``, i.e. ``explorer_models`` and
    ``snapshot_fractions + explorer_fractions`` (the same snapshot set as Fig. 3's for its PSPL run).
    ``explorer_snapshots("cpu")`` prepares the cpu book: one training per model whose set is missing
    (the full length of its run, one thread, evaluation off). Two labels that name one run at this
    profile (at ``paper`` the step-matched PSPL is the code's) keep the first. Returns ``models``
    (label: snapshot set), ``experiments`` (label: experiment), ``total``, ``iterations``, ``scale`` and
    ``text`` (one line per model).
    """
    from srlib import profiles, runs
    from srlib.chapters.pspl.experiments import notebook_defaults
    from srlib.config import total_iterations

    defaults = notebook_defaults("attention", profile)
    models = dict(defaults["explorer_models"] if models is None else models)
    if fractions is None:
        fractions = [*defaults["snapshot_fractions"], *defaults["explorer_fractions"]]
    if not models:
        raise ValueError("explorer_snapshots: no models")
    out, experiments, seen, lines, totals, scales = {}, {}, {}, [], set(), set()
    for label, experiment in models.items():
        config = profiles.get(profile, experiment)
        config["seed"] = seed
        key = runs.run_hash(config)
        if key in seen:
            lines.append(f"{label}: {experiment} is the same run as {seen[key]!r} at profile {profile}; shown once")
            continue
        seen[key] = label
        total = total_iterations(config)
        totals.add(total)
        scales.add(config["scale"])
        iterations = snapshot_steps(total, fractions)
        stored = ax.snapshot_path(config, iterations).exists()
        snaps = ax.snapshot_training(config, iterations)
        out[label], experiments[label] = snaps, experiment
        seconds = snaps.get("seconds")
        took = "" if not seconds else (f", {seconds / 60:.1f} CPU-min of training" if seconds >= 60
                                       else f", {seconds:.0f} s of training")
        lines.append(f"{label}: {experiment} seed {seed}, {profiles.describe(config)}; snapshots at {iterations} "
                     f"({'stored' if stored else 'trained now'}{took})")
    if len(totals) != 1 or len(scales) != 1:
        raise ValueError(f"explorer_snapshots: the models' runs differ in length {sorted(totals)} or scale "
                         f"{sorted(scales)}; the explorer's step axis needs one")
    total = totals.pop()
    return {"models": out, "experiments": experiments, "total": total, "scale": scales.pop(),
            "iterations": snapshot_steps(total, fractions), "text": _wrap(lines)}


def fig3_explorer(ex: dict, crops: Sequence[dict], fractions: Sequence[float], deltas: Sequence[float],
                  paddings: Sequence[str], constants: Sequence[str], gamma: float, mu: float,
                  opening: Mapping | None = None, panel: int = ax.PANEL) -> dict:
    """The attention-map explorer over model x step (``fractions`` of the runs) x delta x SSIM padding x SSIM
    constants x image: the three parts of the figure precomputed (:func:`srlib.chapters.pspl.explorer.precompute_parts`)
    behind a kernel-free viewer (:func:`srlib.chapters.pspl.explorer.explorer_viewer`).

    ``ex``: :func:`explorer_snapshots`. ``opening``: the frame shown first, e.g. ``{"model": ..., "delta": 1.0}``
    (the step is the last one; a delta not on the axis opens at the nearest). Returns ``parts``, ``axes``,
    ``initial``, ``viewer``, ``frames`` (per part), ``bytes`` (PNG bytes in the page) and ``text`` (one line).
    """
    steps = snapshot_steps(ex["total"], fractions)
    models = {label: dict(s, iterations=list(steps)) for label, s in ex["models"].items()}
    parts, axes = ax.precompute_parts(models, crops, steps, deltas, paddings, constants, gamma, mu, panel)
    opening = dict(opening or {})
    initial = {"step": axes["step"][-1]}
    if opening.get("model") in axes["model"]:
        initial["model"] = opening["model"]
    if "delta" in opening:
        initial["delta"] = min(axes["delta"], key=lambda d: abs(np.log(d / float(opening["delta"]))))
    for name in ("SSIM padding", "SSIM constants", "image"):
        if opening.get(name) in axes[name]:
            initial[name] = opening[name]
    viewer = ax.explorer_viewer(parts, axes, initial, title="PSPL attention-map explorer (precomputed frames)")
    images = [w for w in _leaves(viewer.panels.values())]
    n_bytes = sum(len(w.value) for w in images)
    frames = {name: len(p) for name, p in parts.items()}
    text = (f"{sum(frames.values())} precomputed images ({', '.join(f'{n} {name}' for name, n in frames.items())}; "
            f"axes: {', '.join(f'{k} {len(v)}' for k, v in axes.items())}), {n_bytes / 1e6:.1f} MB of PNG "
            f"({n_bytes * 4 / 3 / 1e6:.1f} MB as base64 in the page)")
    return {"parts": parts, "axes": axes, "initial": initial, "viewer": viewer, "frames": frames, "bytes": n_bytes,
            "text": _wrap([text])}


def _leaves(widgets):
    """The Image widgets under ``widgets`` (Stacks nest them)."""
    for w in widgets:
        children = getattr(w, "children", None)
        if children is None:
            yield w
        else:
            yield from _leaves(children)


def explorer_summary(ex: dict, crops: Sequence[dict], deltas: Sequence[float], gamma: float, mu: float) -> dict:
    """Three computed lines for the end of the page: delta at the end of each PSPL model's run; how uneven
    the weights are on the last snapshot of the first PSPL model (the share of the total weight on the 1% of
    pixels with the largest weights, per delta, on the first crop: 1% = uniform weights, the plain loss);
    what the SSIM padding and constants change in M_s (border band vs interior). Returns ``text`` (wrapped),
    ``lines`` (the three, unwrapped) and the numbers (``ends``, ``top1``, ``padding``, ``constants``)."""
    total = ex["total"]
    ends = {label: ax.run_delta(s["config"], total) for label, s in ex["models"].items()}
    pspl_labels = [label for label, d in ends.items() if d is not None]
    label = pspl_labels[0] if pspl_labels else next(iter(ex["models"]))
    snaps = ex["models"][label]
    last = max(snaps["iterations"])
    model = ax.model_at(snaps, last)
    base = ax.super_resolve_crop(model, crops[0])
    ref = ax.with_similarity(base, "code", "zero")["m_s"]
    top1 = {}
    for d in deltas:
        w = np.sort(ax.attention_of(ref, d, gamma, mu).mean(0).ravel().astype(np.float64))[::-1]
        k = max(1, int(np.ceil(0.01 * w.size)))
        top1[float(d)] = None if w.sum() == 0 else float(w[:k].sum() / w.sum())
    band = ax.border_band(*ref.shape[-2:])
    padding, constants = [], []
    for crop in crops:
        b = ax.super_resolve_crop(model, crop)
        zero = ax.with_similarity(b, "code", "zero")["m_s"]
        diff = np.abs(ax.with_similarity(b, "code", "reflect")["m_s"] - zero).mean(0)
        padding.append((float(diff[band].mean()), float(diff[~band].max())))
        constants.append(float(np.abs(ax.with_similarity(b, "paper", "zero")["m_s"] - zero).mean()))
    runs_line = ", ".join(f"{v:g} ({k})" for k, v in ends.items() if v is not None) or "none (no PSPL model)"
    top_line = ", ".join(("no weight (all 0)" if share is None else f"{share:.1%}") + f" at δ = {d:g}"
                         for d, share in top1.items())
    lines = [
        f"1. δ at the end of the {total}-iteration runs: {runs_line}; the paper's 300-epoch run ends at 300.",
        f"2. On a trained model ({label} after {last} iterations, {crops[0]['name']}) the 1% of pixels with the "
        f"largest weights carry this share of the total weight: {top_line} (1% would be the plain loss).",
        f"3. Reflect padding changes M_s only within {ax.BORDER} px of the crop border (by "
        f"{np.mean([p[0] for p in padding]):.3f} on average there; largest change inside: "
        f"{max(p[1] for p in padding):.1g}); the paper's constants change it by {np.mean(constants):.4f} on average.",
    ]
    return {"text": _wrap(lines), "lines": lines, "top1": top1, "padding": padding, "constants": constants,
            "ends": ends}
