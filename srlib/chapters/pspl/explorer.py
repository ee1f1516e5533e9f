"""The PSPL attention-map explorer: snapshots of a real training run, frames, and a live version.

* :func:`snapshot_training` trains a run config in segments (:meth:`srlib.train.Trainer.fit`
  with ``until=``) and keeps the model weights at chosen iterations. The Trainer has no
  per-iteration callback and the run store keeps only the final checkpoint, so the snapshots are
  taken outside the Trainer: on CPU training is deterministic, so the weights at the last
  snapshot equal the run store's final weights for the same config (tested). Evaluation is
  switched off in the snapshot trainer; it touches neither the weights nor any RNG.
  Stored in ``results/runs/<experiment>/<hash>/snapshots.pt`` (reused when present).
* :func:`pair_state` — SR, HR, |SR - HR|, the SSIM map M_s of one crop at one snapshot.
* :func:`render_frame` — one explorer frame: SR | HR | |SR-HR| | M_s | M_a, the curve m_a(m_s)
  with this crop's m_s histogram beneath it, and the histogram of m_a (numpy + PIL: a few ms).
* :func:`precompute_frames` — every frame over the axes image x step x delta x gamma x mu, for
  :func:`srlib.viz.frame_viewer` (works in the static HTML book, without a kernel).
* :func:`live_explorer` — the same figure behind ipywidgets in JupyterLab (needs a kernel).

M_s is computed per channel exactly as in the loss (:func:`srlib.losses.pspl.similarity_map`)
and shown for the model's channels averaged (Y models have one).
"""
from __future__ import annotations

import copy
import itertools
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from srlib.losses.pspl import GAMMA, MU, attention_map, similarity_map

PANELS = ("SR", "HR", "|SR - HR|", "M_s (SSIM map)", "M_a (attention)")  # ASCII: the PIL default font


# ----------------------------------------------------------------------------- snapshots


def _snapshot_key(config: dict, iterations: Sequence[int]) -> dict:
    """What names a snapshot set: the run's identity (display fields left out, as for runs) and the iterations."""
    from srlib.runs import run_identity

    return {"config": run_identity(config), "snapshots": [int(i) for i in iterations]}


def snapshot_training(config: dict, iterations: Sequence[int], experiment: str = "pspl.snapshots", root=None,
                      force: bool = False) -> dict:
    """Weights of ``config``'s training run at each of ``iterations`` (0 = initial weights).

    Returns ``{"config", "iterations", "states": {it: state_dict}, "dir"}``. Iterations beyond the
    run's total are an error. The file is reused when it exists (``force`` retrains).
    """
    from srlib import runs
    from srlib.train import build_trainer, total_iterations

    its = sorted({int(i) for i in iterations})
    total = total_iterations(config)
    if not its or its[0] < 0 or its[-1] > total:
        raise ValueError(f"snapshot iterations must lie in [0, {total}] (the run's length), got {list(iterations)}")
    key = _snapshot_key(config, its)
    d = Path(root or runs.default_root(config)) / experiment / runs.run_hash(key)
    path = d / "snapshots.pt"
    if path.exists() and not force:
        data = torch.load(path, map_location="cpu", weights_only=False)
        return {"config": data["config"], "iterations": data["iterations"], "states": data["states"], "dir": d,
                "seconds": data.get("seconds")}
    cfg = copy.deepcopy(config)
    cfg["eval"] = {"sets": []}  # no evaluation: it changes neither weights nor RNG state
    trainer = build_trainer(cfg, run_dir=None, checkpoint_path=None, progress=False)
    states = {}
    for it in its:
        if it > trainer.iteration:
            trainer.fit(resume=False, until=it)
        states[it] = {k: v.detach().cpu().clone() for k, v in trainer.model.state_dict().items()}
    from srlib.atomic import torch_save, write_text

    d.mkdir(parents=True, exist_ok=True)
    write_text(d / "config.json", json.dumps(key, indent=2, sort_keys=True) + "\n")
    torch_save({"config": config, "iterations": its, "states": states, "seconds": trainer.seconds}, path)
    return {"config": config, "iterations": its, "states": states, "dir": d, "seconds": trainer.seconds}


def model_at(snapshots: dict, iteration: int):
    """The model of a snapshot set at one of its iterations, in eval mode on CPU."""
    from srlib.train import build_model

    if int(iteration) not in snapshots["states"]:
        raise KeyError(f"no snapshot at iteration {iteration}; have {sorted(snapshots['states'])}")
    model = build_model(snapshots["config"])
    model.load_state_dict(snapshots["states"][int(iteration)])
    return model.eval()


def loss_delta(config: dict, iteration: int) -> float:
    """delta the run's PSPL loss used at ``iteration`` (alpha * iteration * step_per_iteration + beta)."""
    from srlib.train import build_loss

    hook = build_loss(config["loss"])
    if not hasattr(hook, "delta"):
        raise ValueError(f"loss {config['loss'].get('name')!r} has no delta (not a PSPL loss)")
    hook.iterations = int(iteration)
    return float(hook.delta)


# ----------------------------------------------------------------------------- crops and maps


def test_crop(set_name: str, index: int, scale: int, size: int) -> dict:
    """An aligned LR/HR crop of the most detailed ``size`` x ``size`` HR window of a test image."""
    from srlib import data
    from srlib.viz import most_detailed_box

    pairs = data.lr_pairs(set_name, scale)
    if not 0 <= index < len(pairs):
        raise IndexError(f"{set_name} has {len(pairs)} images; index {index} is out of range")
    stem, lr, hr = pairs[index]
    size = min(size - size % scale, (min(hr.shape[:2]) // scale) * scale)
    top, left, h, w = most_detailed_box(hr, size, align=scale)
    lr_c = lr[top // scale:(top + h) // scale, left // scale:(left + w) // scale]
    hr_c = hr[top:top + h, left:left + w]
    return {"name": f"{set_name}/{stem}", "lr": lr_c, "hr": hr_c, "box": (top, left, h, w), "scale": scale}


def pair_state(model, crop: dict, ssim_constants: str = "code") -> dict:
    """SR of the crop by ``model``; HR; |SR-HR|; M_s (per channel) — all as numpy, in [0, 1] except M_s."""
    from srlib.degrade import img2tensor
    from srlib.losses.pixel import to_model_colors

    lr, hr = img2tensor(crop["lr"]), img2tensor(crop["hr"])
    with torch.no_grad():
        lr_m, hr_m = to_model_colors(lr, model), to_model_colors(hr, model)
        sr_m = model(lr_m).float().clamp(0, 1)
        m_s = similarity_map(sr_m, hr_m, ssim_constants)
    def img(t):
        a = t[0].numpy().transpose(1, 2, 0)
        return a[..., 0] if a.shape[2] == 1 else a
    return {"sr": img(sr_m), "hr": img(hr_m), "err": np.abs(img(sr_m) - img(hr_m)), "m_s": m_s[0].numpy(),
            "name": crop["name"]}


def attention_of(m_s: np.ndarray, delta: float, gamma: float = GAMMA, mu: float = MU) -> np.ndarray:
    return attention_map(torch.from_numpy(np.asarray(m_s)), gamma, mu, delta=delta).numpy()


def attention_histograms(m_s: np.ndarray, deltas: Sequence[float], gamma: float = GAMMA, mu: float = MU,
                         bins: int = 40) -> "pd.DataFrame":  # noqa: F821
    """Share of pixels per m_a bin (edges 0..gamma) for each delta: columns delta, m_a (bin centre), share."""
    import pandas as pd

    edges = np.linspace(0.0, gamma, bins + 1)
    rows = []
    for d in deltas:
        m_a = attention_of(m_s, d, gamma, mu).ravel()
        counts, _ = np.histogram(np.clip(m_a, 0, gamma), bins=edges)
        for c, lo, hi in zip(counts, edges[:-1], edges[1:]):
            rows.append({"delta": float(d), "m_a": (lo + hi) / 2, "share": c / m_a.size})
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------- rendering


def _colorize(img: np.ndarray, cmap: str, lo: float, hi: float) -> np.ndarray:
    import matplotlib

    if img.ndim == 3:
        return np.clip(np.round(np.clip(img, 0, 1) * 255), 0, 255).astype(np.uint8)
    x = (np.clip(img, lo, hi) - lo) / max(hi - lo, 1e-12)
    lut = (matplotlib.colormaps[cmap](np.linspace(0, 1, 256))[:, :3] * 255).round().astype(np.uint8)
    return lut[np.round(x * 255).astype(int)]


def _plot_panel(size: int, xs, ys, bars_x, bars_h, x_range, y_max, log_bars: bool = False,
                x_ticks=(), y_label: str = "") -> np.ndarray:
    """A tiny line + bar chart drawn with PIL (fast and deterministic)."""
    from PIL import Image, ImageDraw

    w, h, m = size + 24, size, 14
    im = Image.new("RGB", (w, h), "white")
    d = ImageDraw.Draw(im)
    x0, x1, y0, y1 = 22, w - 4, h - m, 4

    def px(x):
        return x0 + (x - x_range[0]) / (x_range[1] - x_range[0]) * (x1 - x0)

    def py(y):
        return y0 - np.clip(y / y_max, 0, 1) * (y0 - y1)

    if bars_x is not None:
        bh = np.asarray(bars_h, dtype=float)
        if log_bars:
            bh = np.where(bh > 0, np.log10(np.maximum(bh, 1e-12)) + 6, 0) / 6  # 1e-6 .. 1 of the pixels
            bh = np.clip(bh, 0, 1) * y_max
        bw = (bars_x[1] - bars_x[0]) if len(bars_x) > 1 else 1
        for bx, hh in zip(bars_x, bh):
            if hh > 0:
                d.rectangle([px(bx), py(hh), max(px(bx + bw) - 1, px(bx)), y0], fill=(170, 170, 170))
    if xs is not None:
        d.line([(px(x), py(y)) for x, y in zip(xs, ys)], fill=(200, 30, 30), width=2)
    d.line([(x0, y0), (x1, y0)], fill="black")
    d.line([(x0, y0), (x0, y1)], fill="black")
    for t in x_ticks:
        d.text((px(t) - 6, y0 + 2), f"{t:g}", fill="black")
    d.text((1, y1), y_label, fill="black")
    return np.asarray(im)


def _font(size: int):
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)  # FreeType build of Pillow >= 10.1
    except (TypeError, OSError):
        return ImageFont.load_default()


def render_frame(state: dict, delta: float, gamma: float = GAMMA, mu: float = MU, title: str = "",
                 panel: int = 128, columns: int = 4) -> np.ndarray:
    """One explorer frame as a uint8 (H, W, 3) image: five maps, the curve m_a(m_s) over this crop's
    m_s histogram (grey), and the histogram of m_a (log scale, grey), ``columns`` panels per row
    (4: the maps on top, M_a and the two plots below, so each panel is shown at its own size in the
    book's text column), under two lines of title and statistics. Pure numpy + PIL; deterministic."""
    from PIL import Image, ImageDraw

    from srlib.viz import hstack_labeled

    if columns < 1:
        raise ValueError(f"render_frame: columns must be >= 1, got {columns}")
    m_s = state["m_s"]
    m_a = attention_of(m_s, delta, gamma, mu)
    err = state["err"] if state["err"].ndim == 2 else state["err"].mean(2)
    g = max(gamma, 1e-6)
    maps = [_colorize(state["sr"], "gray", 0, 1), _colorize(state["hr"], "gray", 0, 1),
            _colorize(err, "magma", 0, 0.25), _colorize(m_s.mean(0), "viridis", -1, 1),
            _colorize(m_a.mean(0), "inferno", 0, g)]
    maps = [np.asarray(Image.fromarray(a).resize((panel, panel), Image.NEAREST)) for a in maps]
    xs = np.linspace(-1, 1, 161)
    hist, edges = np.histogram(np.clip(m_s.ravel(), -1, 1), bins=40, range=(-1, 1))
    curve = _plot_panel(panel, xs, attention_of(xs, delta, gamma, mu), edges[:-1],
                        hist / max(hist.max(), 1) * g * 0.6, (-1, 1), g * 1.05, x_ticks=(-1, 0, 1), y_label=f"{g:g}")
    hist_a, edges_a = np.histogram(np.clip(m_a.ravel(), 0, g), bins=40, range=(0, g))
    hist_plot = _plot_panel(panel, None, None, edges_a[:-1], hist_a / m_a.size, (0, g), 1.0, log_bars=True,
                            x_ticks=(0, g), y_label="1")
    labels = [*PANELS, "m_a(m_s), m_s hist.", "m_a histogram (log)"]
    panels = [*maps, curve, hist_plot]
    rows = [hstack_labeled(panels[i:i + columns], labels[i:i + columns], gap=6, label_height=14)
            for i in range(0, len(panels), columns)]
    head = title or f"{state['name']}: delta = {delta:g}, gamma = {gamma:g}, mu = {mu:g}"
    stats = f"mean m_a = {m_a.mean():.3g}; share of pixels with m_a > gamma/2: {(m_a > g / 2).mean():.1%}"
    font, line, row_gap = _font(12), 16, 6
    top = 2 * line + 4
    width = max(r.shape[1] for r in rows)
    canvas = Image.new("RGB", (width, top + sum(r.shape[0] for r in rows) + row_gap * (len(rows) - 1)), "white")
    draw = ImageDraw.Draw(canvas)
    draw.text((2, 2), head, fill="black", font=font)
    draw.text((2, 2 + line), stats, fill=(70, 70, 70), font=font)
    y = top
    for r in rows:
        canvas.paste(Image.fromarray(r), (0, y))
        y += r.shape[0] + row_gap
    return np.asarray(canvas)


def precompute_frames(snapshots: dict, crops: Sequence[dict], deltas: Sequence[float], gammas: Sequence[float] = (GAMMA,),
                      mus: Sequence[float] = (MU,), ssim_constants: str = "code", panel: int = 128) -> tuple[dict, dict]:
    """Frames for :func:`srlib.viz.frame_viewer`: ``({(image, step, delta, gamma, mu): img}, axes)``.

    ``step`` values are the snapshot iterations; the SR and M_s are computed once per
    (image, step) and every (delta, gamma, mu) is rendered from them.
    """
    names = [c["name"] for c in crops]
    if len(set(names)) != len(names):
        raise ValueError(f"crop names repeat: {names}")
    steps = list(snapshots["iterations"])
    axes = {"image": names, "step": steps, "delta": [float(d) for d in deltas],
            "gamma": [float(g) for g in gammas], "mu": [float(m) for m in mus]}
    frames = {}
    for it in steps:
        model = model_at(snapshots, it)
        for crop in crops:
            state = pair_state(model, crop, ssim_constants)
            for d, g, m in itertools.product(axes["delta"], axes["gamma"], axes["mu"]):
                title = (f"{crop['name']} after {it} iterations: delta = {d:g}, gamma = {g:g}, mu = {m:g}")
                frames[(crop["name"], it, d, g, m)] = render_frame(state, d, g, m, title=title, panel=panel)
    return frames, axes


def live_explorer(snapshots: dict, crops: Sequence[dict], ssim_constants: str = "code", panel: int = 160):
    """The explorer with a kernel: any image, step, delta (log slider), gamma and mu."""
    import ipywidgets as W
    from IPython.display import display

    cache: dict = {}
    steps = [str(i) for i in snapshots["iterations"]]
    image = W.Dropdown(options=[(c["name"], k) for k, c in enumerate(crops)], value=0, description="image")
    step = W.SelectionSlider(options=steps, value=steps[-1], description="step (iterations)",
                             style={"description_width": "initial"})
    delta = W.FloatLogSlider(value=0.5, base=10, min=-3, max=1.5, step=0.05, description="delta")
    gamma = W.FloatSlider(value=GAMMA, min=0.1, max=4, step=0.1, description="gamma")
    mu = W.FloatSlider(value=MU, min=-1, max=1, step=0.05, description="mu")
    out = W.Output()

    def redraw(*_):
        key = (image.value, int(step.value))
        if key not in cache:
            cache[key] = pair_state(model_at(snapshots, key[1]), crops[key[0]], ssim_constants)
        frame = render_frame(cache[key], delta.value, gamma.value, mu.value, panel=panel)
        from srlib.viz import png_bytes

        out.clear_output(wait=True)
        with out:
            display(W.Image(value=png_bytes(frame), format="png"))

    for w in (image, step, delta, gamma, mu):
        w.observe(redraw, names="value")
    redraw()
    return W.VBox([W.HBox([image, step]), W.HBox([delta, gamma, mu]), out])
