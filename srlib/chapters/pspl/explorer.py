"""The PSPL attention-map explorer: snapshots of real training runs, their maps, frames and a live version.

* :func:`snapshot_training` trains a run config in segments (:meth:`srlib.train.Trainer.fit`
  with ``until=``) and keeps the model weights at chosen iterations. The Trainer has no
  per-iteration callback and the run store keeps only the final checkpoint, so the snapshots are
  taken outside the Trainer: on CPU training is deterministic, so the weights at the last
  snapshot equal the run store's final weights for the same config (tested). Evaluation is
  switched off in the snapshot trainer; it touches neither the weights nor any RNG.
  Stored in ``results/runs/<experiment>/<hash>/snapshots.pt`` (reused when present).
* :func:`super_resolve_crop` (SR, HR, |SR - HR| of one crop by one model) and :func:`with_similarity`
  (the SSIM map M_s of that pair with the SSIM's border padding and constants of the loss,
  :func:`srlib.losses.pspl.similarity_map`); :func:`pair_state` does both.
* The figure has four parts, each depending on only some of the explorer's axes (model, step,
  delta, SSIM padding, SSIM constants, image; :data:`PART_AXES`): :func:`render_hr` (HR),
  :func:`render_sr` (SR | |SR - HR|), :func:`render_similarity` (M_s and the histogram of m_s) and
  :func:`render_attention` (M_a on [0, gamma], M_a / mean(M_a), the curve m_a(m_s) and the
  histogram of m_a). Every map is 200 px with a colour bar, every plot has labelled axes; the whole
  figure is 624 px wide (the book's text column is about 750). numpy + PIL (DejaVu Sans from
  matplotlib), a few ms a part, deterministic. :func:`render_frame` stacks them into one image.
* :func:`precompute_parts` — every part over its axes; :func:`explorer_viewer` puts them behind
  :func:`srlib.viz.panel_viewer` (the static HTML book, without a kernel: the page holds the sum of
  the parts' frames, not their product).
* :func:`live_explorer` — the same figure behind ipywidgets in JupyterLab (needs a kernel; any delta).

M_s is computed per channel exactly as in the loss and shown for the model's channels averaged
(Y models have one).
"""
from __future__ import annotations

import copy
import itertools
import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import torch

from srlib.conventions import SSIM_WINDOW
from srlib.losses.pspl import GAMMA, MU, SSIM_CONSTANT_MODES, attention_map, similarity_map

SSIM_PADDINGS = ("zero", "reflect")  # the code's (pytorch_ssim), mirrored
SSIM_CONSTANTS = SSIM_CONSTANT_MODES  # ("code", "paper")
BORDER = SSIM_WINDOW // 2  # the band where the SSIM window sees beyond the crop: 5 px
PANEL = 200  # display size of a map, px
LEVELS = 96  # colour levels of a map (so a part with two colour maps is an exact 256-colour PNG)
ERROR_MAX = 0.2  # top of the |SR - HR| colour bar (values above are shown at the top colour)
RELATIVE_MAX = 16.0  # M_a / mean(M_a) colour bar: 1/16 .. 16, log scale
PLOT_HEIGHT = 170
GAP = 12
#: the explorer's axes, in the order of its controls
AXES = ("model", "step", "delta", "SSIM padding", "SSIM constants", "image")
#: which axes each part of the figure depends on (the keys of its frames, in this order)
PART_AXES = {
    "hr": ("image",),
    "sr": ("model", "step", "image"),
    "similarity": ("model", "step", "SSIM padding", "SSIM constants", "image"),
    "attention": AXES,
}


# ----------------------------------------------------------------------------- snapshots


def _snapshot_key(config: dict, iterations: Sequence[int]) -> dict:
    """What names a snapshot set: the run's identity (display fields left out, as for runs) and the iterations."""
    from srlib.runs import run_identity

    return {"config": run_identity(config), "snapshots": [int(i) for i in iterations]}


def snapshot_path(config: dict, iterations: Sequence[int], experiment: str = "pspl.snapshots", root=None) -> Path:
    """Where :func:`snapshot_training` keeps the snapshot set of ``config`` at ``iterations``."""
    from srlib import runs

    key = _snapshot_key(config, sorted({int(i) for i in iterations}))
    return Path(root or runs.default_root(config)) / experiment / runs.run_hash(key) / "snapshots.pt"


def snapshot_training(config: dict, iterations: Sequence[int], experiment: str = "pspl.snapshots", root=None,
                      force: bool = False) -> dict:
    """Weights of ``config``'s training run at each of ``iterations`` (0 = initial weights).

    Returns ``{"config", "iterations", "states": {it: state_dict}, "dir", "seconds"}``. Iterations
    beyond the run's total are an error. The file is reused when it exists (``force`` retrains).
    """
    from srlib.train import build_trainer, total_iterations

    its = sorted({int(i) for i in iterations})
    total = total_iterations(config)
    if not its or its[0] < 0 or its[-1] > total:
        raise ValueError(f"snapshot iterations must lie in [0, {total}] (the run's length), got {list(iterations)}")
    key = _snapshot_key(config, its)
    path = snapshot_path(config, its, experiment, root)
    d = path.parent
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


def run_delta(config: dict, iteration: int) -> float | None:
    """:func:`loss_delta`, or None for a run whose loss has no delta (the baseline)."""
    return loss_delta(config, iteration) if config["loss"].get("name") == "pspl" else None


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


def super_resolve_crop(model, crop: dict) -> dict:
    """SR of the crop by ``model``, HR and |SR - HR| as numpy in [0, 1] ((H, W, 3), or (H, W) for Y models),
    and the same SR/HR as (1, C, H, W) tensors in the model's colours (``sr_t``, ``hr_t``) for :func:`with_similarity`."""
    from srlib.degrade import img2tensor
    from srlib.losses.pixel import to_model_colors

    lr, hr = img2tensor(crop["lr"]), img2tensor(crop["hr"])
    with torch.no_grad():
        lr_m, hr_m = to_model_colors(lr, model), to_model_colors(hr, model)
        sr_m = model(lr_m).float().clamp(0, 1)

    def img(t):
        a = t[0].numpy().transpose(1, 2, 0)
        return a[..., 0] if a.shape[2] == 1 else a
    return {"sr": img(sr_m), "hr": img(hr_m), "err": np.abs(img(sr_m) - img(hr_m)), "name": crop["name"],
            "sr_t": sr_m, "hr_t": hr_m}


def with_similarity(state: dict, ssim_constants: str = "code", ssim_padding: str = "zero") -> dict:
    """``state`` (:func:`super_resolve_crop`) with M_s (``m_s``, (C, H, W)) as the loss computes it, with the
    given SSIM constants and border padding (also in the result: ``constants``, ``padding``)."""
    if ssim_padding not in SSIM_PADDINGS:
        raise ValueError(f"ssim_padding must be one of {SSIM_PADDINGS}, got {ssim_padding!r}")
    m_s = similarity_map(state["sr_t"], state["hr_t"], ssim_constants, ssim_padding)
    return dict(state, m_s=m_s[0].numpy(), constants=ssim_constants, padding=ssim_padding)


def pair_state(model, crop: dict, ssim_constants: str = "code", ssim_padding: str = "zero") -> dict:
    """SR of the crop by ``model``; HR; |SR-HR|; M_s (per channel) — all as numpy, in [0, 1] except M_s."""
    return with_similarity(super_resolve_crop(model, crop), ssim_constants, ssim_padding)


def attention_of(m_s: np.ndarray, delta: float, gamma: float = GAMMA, mu: float = MU) -> np.ndarray:
    return attention_map(torch.from_numpy(np.asarray(m_s)), gamma, mu, delta=delta).numpy()


def relative_weight(m_a: np.ndarray) -> np.ndarray:
    """M_a / mean(M_a): the weight of each pixel relative to the average one (NaN where every weight is 0).

    Adam divides each update by a running scale of the gradient, so a constant factor on the loss
    (gamma, or the overall level of M_a) barely changes training; how the weights are spread does."""
    m_a = np.asarray(m_a, dtype=np.float64)
    mean = m_a.mean()
    return m_a / mean if mean > 0 else np.full_like(m_a, np.nan)


def border_band(h: int, w: int, width: int = BORDER) -> np.ndarray:
    """Boolean (h, w) mask of the pixels within ``width`` of the border (where the SSIM padding acts)."""
    band = np.zeros((h, w), bool)
    band[:width], band[-width:], band[:, :width], band[:, -width:] = True, True, True, True
    return band


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


# ----------------------------------------------------------------------------- drawing (PIL)

_FONTS: dict = {}


def _font(size: int):
    """DejaVu Sans (shipped with matplotlib: the same glyphs everywhere, Greek included)."""
    if size not in _FONTS:
        import os

        import matplotlib
        from PIL import ImageFont

        try:
            _FONTS[size] = ImageFont.truetype(os.path.join(matplotlib.get_data_path(), "fonts/ttf/DejaVuSans.ttf"), size)
        except OSError:
            _FONTS[size] = ImageFont.load_default(size=size)
    return _FONTS[size]


def _lut(cmap: str, levels: int) -> np.ndarray:
    import matplotlib

    return (matplotlib.colormaps[cmap](np.linspace(0, 1, levels))[:, :3] * 255).round().astype(np.uint8)


NAN_COLOUR = (190, 190, 190)


def _colorize(img: np.ndarray, cmap: str, lo: float, hi: float, log: bool = False, levels: int = LEVELS) -> np.ndarray:
    """A 2-D map through ``cmap`` on [lo, hi] (log2 scale if ``log``) in ``levels`` steps; RGB images pass
    through (clipped to [0, 1]); NaN is grey."""
    img = np.asarray(img, dtype=np.float64)
    if img.ndim == 3:
        return np.clip(np.round(np.clip(img, 0, 1) * 255), 0, 255).astype(np.uint8)
    with np.errstate(divide="ignore", invalid="ignore"):
        v = np.log2(img) if log else img
        a, b = (np.log2(lo), np.log2(hi)) if log else (lo, hi)
        x = (np.clip(v, a, b) - a) / max(b - a, 1e-12)
    out = _lut(cmap, levels)[np.round(np.nan_to_num(x, nan=0.0) * (levels - 1)).astype(int)]
    out[np.isnan(img)] = NAN_COLOUR
    return out


def _text(draw, xy, text: str, size: int = 12, fill=(0, 0, 0), anchor: str = "la"):
    draw.text(xy, text, fill=fill, font=_font(size), anchor=anchor)


GREYS = 32  # grey levels of text and axes after :func:`_snap_greys`


def _snap_greys(canvas):
    """The PIL image ``canvas`` with its grey pixels (text antialiasing) rounded to :data:`GREYS` levels, so that
    a part has few colours (an exact palette PNG); call it before pasting the colour maps."""
    from PIL import Image

    a = np.array(canvas)
    grey = (a[..., 0] == a[..., 1]) & (a[..., 1] == a[..., 2])
    step = 255 / (GREYS - 1)
    a[grey] = (np.round(a[grey] / step) * step).round().astype(np.uint8)
    return Image.fromarray(a)


def _map_panel(values, cmap: str | None, lo: float = 0.0, hi: float = 1.0, ticks=(), title: str = "",
               log: bool = False, size: int = PANEL) -> np.ndarray:
    """A map enlarged to ``size`` px (nearest), its title above and, unless ``cmap`` is None (an RGB or grey
    image), a horizontal colour bar with ``ticks`` ((value, label) pairs) below. Same height either way."""
    from PIL import Image, ImageDraw

    rgb = _colorize(values, cmap or "gray", lo, hi, log)
    title_h, bar_gap, bar_h, tick_h = 17, 4, 9, 15
    canvas = Image.new("RGB", (size, title_h + size + bar_gap + bar_h + tick_h), "white")
    draw = ImageDraw.Draw(canvas)
    _text(draw, (0, 1), title, 12)
    y0 = title_h + size + bar_gap
    if cmap is not None:
        a, b = (np.log2(lo), np.log2(hi)) if log else (lo, hi)
        for value, label in ticks:
            x = (np.log2(value) if log else value) - a
            px = int(round(x / (b - a) * (size - 1)))
            draw.line([(px, y0 + bar_h), (px, y0 + bar_h + 3)], fill=(0, 0, 0))
            anchor = "la" if px < 8 else ("ra" if px > size - 8 else "ma")
            _text(draw, (px, y0 + bar_h + 3), label, 11, anchor=anchor)
    canvas = _snap_greys(canvas)
    canvas.paste(Image.fromarray(rgb).resize((size, size), Image.NEAREST), (0, title_h))
    if cmap is not None:
        lut = _lut(cmap, LEVELS)
        bar = lut[np.minimum((np.arange(size) * LEVELS) // size, LEVELS - 1)]
        canvas.paste(Image.fromarray(np.repeat(bar[None], bar_h, axis=0)), (0, y0))
    return np.asarray(canvas)


def _plot(width: int, height: int, *, x_range, y_range, x_ticks, y_ticks, x_label: str, y_label: str,
          title: str = "", lines=(), bars=None, y_log: bool = False, notes: Sequence[str] = ()) -> np.ndarray:
    """A small chart drawn with PIL: ``lines`` [(xs, ys, colour)], ``bars`` (left edges, width, heights) in grey,
    ticks as (value, label) pairs, labelled axes (the y label turned 90 degrees), ``notes`` (lines of small text,
    top left); ``y_log``: log10 y axis."""
    from PIL import Image, ImageDraw

    left, right, top, bottom = 50, 8, 17, 30
    canvas = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(canvas)
    x0, x1, y0, y1 = left, width - right, height - bottom, top + 4
    ty = (lambda y: np.log10(y)) if y_log else (lambda y: y)
    ya, yb = ty(y_range[0]), ty(y_range[1])

    def px(x):
        return x0 + (x - x_range[0]) / (x_range[1] - x_range[0]) * (x1 - x0)

    def py(y):
        with np.errstate(divide="ignore"):
            v = ty(np.maximum(y, y_range[0]) if y_log else y)
        return y0 - float(np.clip((v - ya) / (yb - ya), 0, 1)) * (y0 - y1)

    _text(draw, (0, 1), title, 12)
    if bars is not None:
        lefts, bar_w, heights = bars
        for bx, hh in zip(lefts, heights):
            if hh > 0 and (not y_log or hh >= y_range[0]):
                draw.rectangle([px(bx), py(hh), max(px(bx + bar_w) - 1, px(bx)), y0], fill=(150, 150, 150))
    for xs, ys, colour in lines:
        draw.line([(px(x), py(y)) for x, y in zip(xs, ys)], fill=colour, width=2)
    draw.line([(x0, y0), (x1, y0)], fill=(0, 0, 0))
    draw.line([(x0, y0), (x0, y1)], fill=(0, 0, 0))
    for value, label in x_ticks:
        draw.line([(px(value), y0), (px(value), y0 + 3)], fill=(0, 0, 0))
        _text(draw, (px(value), y0 + 3), label, 11, anchor="ma")
    for value, label in y_ticks:
        draw.line([(x0 - 3, py(value)), (x0, py(value))], fill=(0, 0, 0))
        _text(draw, (x0 - 5, py(value)), label, 11, anchor="rm")
    _text(draw, ((x0 + x1) / 2, height - 1), x_label, 11, anchor="md")
    label = Image.new("RGB", (y0 - y1, 14), "white")
    _text(ImageDraw.Draw(label), ((y0 - y1) / 2, 0), y_label, 11, anchor="ma")
    canvas.paste(label.rotate(90, expand=True), (0, y1))
    for k, note in enumerate(notes):  # top left, inside the axes (histograms of m_s pile up on the right)
        _text(draw, (x0 + 4, y1 + 13 * k), note, 10, fill=(60, 60, 60))
    return np.asarray(_snap_greys(canvas))


def _stack(parts: Sequence[np.ndarray], axis: int, gap: int = GAP) -> np.ndarray:
    """Images side by side (axis 1) or one under the other (axis 0), top/left aligned, white gaps."""
    from PIL import Image

    if axis == 1:
        w = sum(p.shape[1] for p in parts) + gap * (len(parts) - 1)
        canvas = Image.new("RGB", (w, max(p.shape[0] for p in parts)), "white")
        x = 0
        for p in parts:
            canvas.paste(Image.fromarray(p), (x, 0))
            x += p.shape[1] + gap
    else:
        h = sum(p.shape[0] for p in parts) + gap * (len(parts) - 1)
        canvas = Image.new("RGB", (max(p.shape[1] for p in parts), h), "white")
        y = 0
        for p in parts:
            canvas.paste(Image.fromarray(p), (0, y))
            y += p.shape[0] + gap
    return np.asarray(canvas)


def _with_header(body: np.ndarray, lines: Sequence[str]) -> np.ndarray:
    """``body`` under two lines of text (the first bold-ish black, the second grey)."""
    from PIL import Image, ImageDraw

    line = 16
    canvas = Image.new("RGB", (body.shape[1], 2 * line + 4 + body.shape[0]), "white")
    draw = ImageDraw.Draw(canvas)
    for k, text in enumerate(list(lines)[:2]):
        size = 12
        while size > 9 and draw.textlength(text, font=_font(size)) > body.shape[1]:
            size -= 1  # a narrow part: a smaller font rather than text cut off
        _text(draw, (0, 1 + k * line), text, size, fill=(0, 0, 0) if k == 0 else (80, 80, 80))
    canvas = _snap_greys(canvas)
    canvas.paste(Image.fromarray(body), (0, 2 * line + 4))
    return np.asarray(canvas)


def _gray(a: np.ndarray) -> np.ndarray:
    return a if a.ndim == 2 else a.mean(2)


def _fmt(x: float) -> str:
    return f"{x:.3g}"


# ----------------------------------------------------------------------------- the parts of the figure


def render_hr(crop_or_state: dict, size: int = PANEL) -> np.ndarray:
    """Part 1a: the HR crop under a header naming it (depends on the image only)."""
    hr = crop_or_state["hr"]
    if hr.dtype == np.uint8:
        hr = hr.astype(np.float64) / 255.0
    h, w = hr.shape[:2]
    return _with_header(_map_panel(hr, None, title="HR", size=size),
                        [crop_or_state["name"], f"{h}×{w} HR px, shown ×{size // max(h, 1)}"])


def render_sr(state: dict, model: str = "", step: int | None = None, delta_of_run: float | None = None,
              size: int = PANEL) -> np.ndarray:
    """Part 1b: SR | |SR - HR| (colour bar 0..ERROR_MAX) under a header naming model and step, with the crop's
    PSNR and the delta the run's own loss used at that step."""
    err = _gray(state["err"])
    panels = [_map_panel(state["sr"], None, title=f"SR: {model}" if model else "SR", size=size),
              _map_panel(err, "magma", 0.0, ERROR_MAX, [(0, "0"), (ERROR_MAX / 2, _fmt(ERROR_MAX / 2)),
                                                        (ERROR_MAX, f"≥{ERROR_MAX:g}")], "|SR − HR|", size=size)]
    at = "" if step is None else f" after {step} iterations"
    run = ("" if model == "" else
           ("; plain L1 (no weights)" if delta_of_run is None else f"; δ of its loss: {_fmt(delta_of_run)}"))
    head = [f"{model or 'model'}{at}", f"PSNR {_psnr(err):.2f} dB on this crop{run}"]
    return _with_header(_stack(panels, 1), head)


def render_images(state: dict, model: str = "", step: int | None = None, delta_of_run: float | None = None,
                  size: int = PANEL) -> np.ndarray:
    """Part 1: :func:`render_hr` | :func:`render_sr` (HR | SR | |SR - HR|)."""
    return _stack([render_hr(state, size), render_sr(state, model, step, delta_of_run, size)], 1)


def _psnr(err: np.ndarray) -> float:
    mse = float(np.mean(np.asarray(err, dtype=np.float64) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(1.0 / mse)


def _share_ticks():
    return [(1e-4, "1e-4"), (1e-2, "0.01"), (1.0, "1")]


def render_similarity(state: dict, size: int = PANEL) -> np.ndarray:
    """Part 2: M_s (channels averaged, colour bar -1..1) over the histogram of m_s (log share of pixels),
    under a header with the SSIM choices and the mean of M_s in the border band and the interior."""
    m_s = state["m_s"]
    shown = m_s.mean(0)
    band = border_band(*shown.shape)
    ms_map = _map_panel(shown, "viridis", -1.0, 1.0, [(-1, "−1"), (0, "0"), (1, "1")], "M_s (SSIM map)", size=size)
    hist, edges = np.histogram(np.clip(m_s.ravel(), -1, 1), bins=40, range=(-1, 1))
    outside = float(np.mean(np.abs(m_s) > 1))
    plot = _plot(size, PLOT_HEIGHT, x_range=(-1, 1), y_range=(1e-4, 1), x_ticks=[(-1, "−1"), (0, "0"), (1, "1")],
                 y_ticks=_share_ticks(), x_label="m_s", y_label="share of pixels", title="histogram of m_s",
                 bars=(edges[:-1], edges[1] - edges[0], hist / m_s.size), y_log=True,
                 notes=[f"mean: border {shown[band].mean():.3f}", f"inner {shown[~band].mean():.3f}"]
                 + ([f"{outside:.1%} outside [−1, 1]"] if outside > 0 else []))
    head = [f"SSIM: {state.get('padding', 'zero')} padding,", f"{state.get('constants', 'code')} constants"]
    return _with_header(_stack([ms_map, plot], 0, gap=8), head)


def render_attention(m_s: np.ndarray, delta: float, gamma: float = GAMMA, mu: float = MU,
                     size: int = PANEL) -> np.ndarray:
    """Part 3: M_a (colour bar 0..gamma) | M_a / mean(M_a) (log colour bar 1/16..16) over the curve m_a(m_s)
    at this delta | the histogram of m_a (log share of pixels), under a header with the weights' statistics."""
    m_a = attention_of(m_s, delta, gamma, mu)
    shown = m_a.mean(0)
    g = max(float(gamma), 1e-6)
    rel = relative_weight(shown)
    r = RELATIVE_MAX
    maps = [_map_panel(shown, "inferno", 0.0, g, [(0, "0"), (g / 2, _fmt(g / 2)), (g, _fmt(g))], "M_a (attention)",
                       size=size),
            _map_panel(np.where(np.isnan(rel), np.nan, np.clip(rel, 1 / r, r)), "RdBu_r", 1 / r, r,
                       [(1 / r, f"≤1/{r:g}"), (1 / 4, "1/4"), (1, "1"), (4, "4"), (r, f"≥{r:g}")],
                       "M_a / mean(M_a)", log=True, size=size)]
    xs = np.linspace(-1, 1, 201)
    curve = _plot(size, PLOT_HEIGHT, x_range=(-1, 1), y_range=(0, g * 1.05), x_ticks=[(-1, "−1"), (0, "0"), (1, "1")],
                  y_ticks=[(0, "0"), (g / 2, _fmt(g / 2)), (g, _fmt(g))], x_label="m_s", y_label="m_a",
                  title=f"m_a(m_s) at δ = {delta:g}", lines=[(xs, attention_of(xs, delta, gamma, mu), (200, 30, 30))])
    hist, edges = np.histogram(np.clip(m_a.ravel(), 0, g), bins=40, range=(0, g))
    hist_plot = _plot(size, PLOT_HEIGHT, x_range=(0, g), y_range=(1e-4, 1), x_ticks=[(0, "0"), (g / 2, _fmt(g / 2)), (g, _fmt(g))],
                      y_ticks=_share_ticks(), x_label="m_a", y_label="share of pixels", title="histogram of m_a",
                      bars=(edges[:-1], edges[1] - edges[0], hist / m_a.size), y_log=True)
    band = border_band(*shown.shape)
    total = float(shown.sum())
    head = [f"δ = {delta:g} (γ = {gamma:g}, μ = {mu:g}): mean M_a = {shown.mean():.3g}",
            ("every weight is 0 in float32: no gradient" if total == 0 else
             f"border {BORDER} px: {band.mean():.0%} of pixels, {shown[band].sum() / total:.0%} of weight")]
    return _with_header(_stack([_stack(maps, 1), _stack([curve, hist_plot], 1)], 0, gap=8), head)


def render_frame(state: dict, delta: float, gamma: float = GAMMA, mu: float = MU, model: str = "",
                 step: int | None = None, delta_of_run: float | None = None, size: int = PANEL) -> np.ndarray:
    """The whole figure as one uint8 (H, W, 3) image: :func:`render_images` over :func:`render_similarity`
    beside :func:`render_attention` (what the precomputed viewer shows, as one picture)."""
    top = render_images(state, model, step, delta_of_run, size)
    bottom = _stack([render_similarity(state, size), render_attention(state["m_s"], delta, gamma, mu, size)], 1)
    return _stack([top, bottom], 0, gap=8)


# ----------------------------------------------------------------------------- precomputed and live


def precompute_parts(models: Mapping[str, dict], crops: Sequence[dict], steps: Sequence[int], deltas: Sequence[float],
                     paddings: Sequence[str] = SSIM_PADDINGS, constants: Sequence[str] = SSIM_CONSTANTS,
                     gamma: float = GAMMA, mu: float = MU, size: int = PANEL) -> tuple[dict, dict]:
    """Every part of the figure over its axes: ``({part: {key: img}}, axes)``, keys in :data:`PART_AXES` order.

    ``models``: label -> snapshot set (:func:`snapshot_training`), each with every one of ``steps``.
    The SR is computed once per (model, step, image), M_s once per SSIM choice, and every delta
    is drawn from it.
    """
    names = [c["name"] for c in crops]
    if len(set(names)) != len(names):
        raise ValueError(f"crop names repeat: {names}")
    if not models:
        raise ValueError("precompute_parts: no models")
    axes = {"model": list(models), "step": [int(s) for s in steps], "delta": [float(d) for d in deltas],
            "SSIM padding": list(paddings), "SSIM constants": list(constants), "image": names}
    parts: dict = {name: {} for name in PART_AXES}
    for crop in crops:
        parts["hr"][(crop["name"],)] = render_hr(crop, size)
    for label, snaps in models.items():
        for it in axes["step"]:
            model = model_at(snaps, it)
            own = run_delta(snaps["config"], it)
            for crop in crops:
                base = super_resolve_crop(model, crop)
                parts["sr"][(label, it, crop["name"])] = render_sr(base, label, it, own, size)
                for pad, const in itertools.product(axes["SSIM padding"], axes["SSIM constants"]):
                    state = with_similarity(base, const, pad)
                    parts["similarity"][(label, it, pad, const, crop["name"])] = render_similarity(state, size)
                    for d in axes["delta"]:
                        parts["attention"][(label, it, d, pad, const, crop["name"])] = \
                            render_attention(state["m_s"], d, gamma, mu, size)
    return parts, axes


def explorer_viewer(parts: Mapping[str, dict], axes: Mapping[str, Sequence], initial: Mapping | None = None,
                    title: str | None = None):
    """The kernel-free viewer of :func:`precompute_parts`' output (:func:`srlib.viz.panel_viewer`): HR beside
    SR | |SR - HR| on top, M_s beside the attention part below; photographs stay RGB, the other parts are
    palette PNGs (exact: they have fewer than 256 colours)."""
    from srlib import viz

    def panel(name, palette):
        return {"name": name, "axes": list(PART_AXES[name]), "frames": parts[name], "palette": palette}
    return viz.panel_viewer([[panel("hr", False), panel("sr", False)], [panel("similarity", True), panel("attention", True)]],
                            axes=axes, initial=initial, title=title)


def live_explorer(models: Mapping[str, dict], crops: Sequence[dict], steps: Sequence[int] | None = None,
                  gamma: float = GAMMA, mu: float = MU, size: int = PANEL, initial: Mapping | None = None):
    """The explorer with a kernel (JupyterLab): the same figure and axes, delta on a continuous log slider."""
    import ipywidgets as W
    from IPython.display import display

    from srlib.viz import png_bytes

    labels = list(models)
    initial = dict(initial or {})
    steps = [int(s) for s in (steps if steps is not None else models[labels[0]]["iterations"])]
    sr_cache: dict = {}
    ms_cache: dict = {}
    style = {"description_width": "initial"}
    model = W.Dropdown(options=labels, value=initial.get("model", labels[0]), description="model", style=style)
    step = W.SelectionSlider(options=[str(s) for s in steps], value=str(initial.get("step", steps[-1])),
                             description="step (iterations)", style=style)
    delta = W.FloatLogSlider(value=float(initial.get("delta", 1.0)), base=10, min=-2, max=2, step=0.05,
                             description="delta", style=style)
    padding = W.ToggleButtons(options=list(SSIM_PADDINGS), value=initial.get("SSIM padding", "zero"),
                              description="SSIM padding", style=style)
    constants = W.ToggleButtons(options=list(SSIM_CONSTANTS), value=initial.get("SSIM constants", "code"),
                                description="SSIM constants", style=style)
    names = [c["name"] for c in crops]
    first = initial.get("image", 0)
    image = W.Dropdown(options=[(n, k) for k, n in enumerate(names)], value=names.index(first) if first in names else first,
                       description="image", style=style)
    out = W.Output()

    def redraw(*_):
        key = (model.value, int(step.value), image.value)
        if key not in sr_cache:
            sr_cache[key] = super_resolve_crop(model_at(models[key[0]], key[1]), crops[key[2]])
        mkey = key + (padding.value, constants.value)
        if mkey not in ms_cache:
            ms_cache[mkey] = with_similarity(sr_cache[key], constants.value, padding.value)
        frame = render_frame(ms_cache[mkey], delta.value, gamma, mu, model.value, key[1],
                             run_delta(models[key[0]]["config"], key[1]), size)
        out.clear_output(wait=True)
        with out:
            display(W.Image(value=png_bytes(frame), format="png"))

    controls = (model, step, delta, padding, constants, image)
    for w in controls:
        w.observe(redraw, names="value")
    redraw()
    return W.VBox([W.HBox(list(controls[:3]), layout=W.Layout(flex_flow="row wrap")),
                   W.HBox(list(controls[3:]), layout=W.Layout(flex_flow="row wrap")), out])
