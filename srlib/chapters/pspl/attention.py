"""``book/pspl/attention.ipynb``: Fig. 3 (the weight curve, training snapshots, M_s / M_a maps) and the
attention-map explorer, built on :mod:`srlib.chapters.pspl.explorer` and :mod:`srlib.losses.pspl`."""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from srlib.chapters.pspl import explorer as ax


def snapshot_steps(total: int, fractions: Sequence[float]) -> list[int]:
    """Iterations at ``fractions`` of a run of ``total`` iterations, rounded, de-duplicated, sorted."""
    return sorted({int(round(f * total)) for f in fractions})


def fig3_config(profile: str, experiment: str, seed: int, snapshot_fractions: Sequence[float], *,
                image_indices: Sequence[int], explorer_fractions: Sequence[float], explorer_deltas: Sequence[float],
                explorer_gammas: Sequence[float], explorer_mus: Sequence[float]) -> dict:
    """The run config of Fig. 3 (``experiment`` at ``profile`` with ``seed``) and the iterations shown; no training.

    The explorer settings' per-profile defaults are
    :data:`srlib.chapters.pspl.experiments.NOTEBOOK_DEFAULTS` (``"attention"``).
    Returns ``config``, ``experiment``, ``total`` (iterations), ``steps`` (Fig. 3),
    ``explorer_steps``, those settings, and ``description`` (one line: model, schedule, data, profile).
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
            "explorer_deltas": list(explorer_deltas), "explorer_gammas": list(explorer_gammas),
            "explorer_mus": list(explorer_mus), "description": profiles.describe(config)}


def fig3_snapshots(f3: dict) -> dict:
    """``f3`` (:func:`fig3_config`) with the stored run (``run``, trained if missing), its weights at every
    step of Fig. 3 and of the explorer (``snaps``, :func:`srlib.attention_explorer.snapshot_training`,
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
    :func:`srlib.attention_explorer.loss_delta`) and the paper's (``paper``: delta = epochs of a
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
    SR, HR, |SR-HR| and M_s of the model at each of ``steps`` (``states``, :func:`srlib.attention_explorer.pair_state`)."""

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


def fig3_explorer(snaps: dict, steps: Sequence[int], crops: Sequence[dict], deltas: Sequence[float],
                  gammas: Sequence[float], mus: Sequence[float], panel: int, provenance: str = "") -> dict:
    """The attention-map explorer's precomputed frames over image x ``steps`` x delta x gamma x mu
    (:func:`srlib.attention_explorer.precompute_frames`) and their kernel-free viewer
    (:func:`srlib.viz.frame_viewer`). Returns ``frames``, ``axes``, ``viewer`` and ``text`` (one line)."""
    from srlib import viz

    shown = dict(snaps, iterations=list(steps))
    frames, axes = ax.precompute_frames(shown, crops, deltas, gammas, mus, panel=panel)
    first = next(iter(frames.values()))
    text = f"{len(frames)} frames of {first.shape[1]}x{first.shape[0]} px; model: {provenance}"
    viewer = viz.frame_viewer(frames, axes=axes, title="PSPL attention-map explorer (precomputed frames)")
    return {"frames": frames, "axes": axes, "viewer": viewer, "text": text}
