"""Figures, paper-vs-ours tables and interactive viewers that work without a kernel.

* :func:`paper_vs_ours` — the paper's value, ours and the difference side by side, with a caption
  that says where "ours" comes from (model size, iterations, data, profile, hardware).
* :func:`frame_viewer` — precomputed frames behind one control per named axis (slider for
  ordered values, dropdown otherwise). Built from ipywidgets ``Stack`` + ``Image`` widgets whose
  ``selected_index`` is ``jslink``-ed to the controls, so switching happens in the browser: it works
  in JupyterLab and in the static HTML book (widget state embedded by papermill/nbclient and
  myst-nb, rendered by the vendored ``@jupyter-widgets/html-manager``) without a kernel.
* :func:`panel_viewer` — the same for a figure of several panels, each over only the axes it
  depends on (the page holds the sum of the panels' frames, not their product); shared controls.
* :func:`side_by_side` — a row of images with titles (matplotlib).
* :func:`crop_compare` — LR (nearest-upsampled) / bicubic / HR crops of the same region.
"""
from __future__ import annotations

import io
import itertools
import os
import platform
import sys
from collections.abc import Mapping, Sequence

import numpy as np


PROVENANCE_KEYS = ("model", "iterations", "data", "profile", "hardware")
METRIC_DECIMALS = {"psnr": 2, "ssim": 4, "psnr_rgb_div2k": 2}
#: name and unit of each metric a chapter may be asked for: text and axis labels follow the metric
METRIC_NAMES = {"psnr": ("PSNR", "dB"), "ssim": ("SSIM", ""),
                "psnr_rgb_div2k": ("RGB PSNR (shave scale+6)", "dB")}


def _metric(metric: str) -> tuple[str, str]:
    if metric not in METRIC_NAMES:
        raise ValueError(f"unknown metric {metric!r}; use one of {sorted(METRIC_NAMES)}")
    return METRIC_NAMES[metric]


def metric_label(metric: str) -> str:
    """``"PSNR"`` / ``"SSIM"``."""
    return _metric(metric)[0]


def metric_unit(metric: str) -> str:
    """``"dB"`` for PSNR, ``""`` for SSIM (unitless)."""
    return _metric(metric)[1]


def with_unit(value: float, metric: str, extra: int = 0) -> str:
    """``"34.57 dB"`` / ``"0.9362"``: the metric's decimals (plus ``extra``) and its unit, if any."""
    unit = metric_unit(metric)
    text = f"{value:.{METRIC_DECIMALS[metric] + extra}f}"
    return f"{text} {unit}" if unit else text


def axis_label(what: str, metric: str) -> str:
    """``"Set5 PSNR (dB)"`` / ``"Set5 SSIM"``: a label with the metric's unit in brackets when it has one."""
    unit = metric_unit(metric)
    return f"{what} ({unit})" if unit else what


def zoom_span(metric: str) -> float:
    """A y-range that shows the differences that matter near a threshold: 1 dB of PSNR, 0.02 of SSIM."""
    _metric(metric)
    return {"psnr": 1.0, "ssim": 0.02}[metric]


# ------------------------------------------------------------------------------ provenance


def hardware_description() -> str:
    """What the numbers were computed on, e.g. ``'CPU: AMD EPYC 7B13 (2 cores), torch 2.14.1, 2 threads'``."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    text = f"CPU: {cpu} ({os.cpu_count()} cores)"
    torch = sys.modules.get("torch")  # only when the numbers came from torch: importing it costs seconds
    if torch is not None:
        text += f", torch {torch.__version__.split('+')[0]}, {torch.get_num_threads()} threads"
        if torch.cuda.is_available():
            text = f"GPU: {torch.cuda.get_device_name(0)}; " + text
    return text


def run_hardware(finals) -> str:
    """What runs were trained on, from their own records (``final.json``: device, device name, threads, torch),
    e.g. ``"CPU, 1 thread, torch 2.14.1 (15 runs)"``; several kinds are listed with their counts. This,
    not :func:`hardware_description` (the machine rendering the page), belongs in a caption of trained numbers."""
    from collections import Counter

    kinds = Counter()
    for f in finals:
        f = f or {}
        torch_v = str(f.get("torch", "?")).split("+")[0]
        if str(f.get("device", "")).startswith("cuda"):
            kinds[f"{f.get('device_name') or 'CUDA GPU'}, torch {torch_v}"] += 1
        else:
            t = f.get("threads")
            kinds[f"CPU, {t} thread{'s' if t != 1 else ''}, torch {torch_v}"] += 1
    if not kinds:
        return "no runs"
    return "; ".join(f"{k} ({n} run{'s' if n != 1 else ''})" for k, n in kinds.most_common())


def provenance_caption(provenance: Mapping[str, object]) -> str:
    """``"Ours: model ...; iterations ...; ..."`` — refuses to omit any of :data:`PROVENANCE_KEYS`."""
    missing = [k for k in PROVENANCE_KEYS if k not in provenance or provenance[k] in (None, "")]
    if missing:
        raise ValueError(
            f"provenance lacks {', '.join(missing)}: every paper-vs-ours table states {', '.join(PROVENANCE_KEYS)} "
            "(write 'none' where it does not apply, e.g. iterations='none (no training)')"
        )
    extra = [k for k in provenance if k not in PROVENANCE_KEYS]
    parts = [f"{k}: {provenance[k]}" for k in (*PROVENANCE_KEYS, *extra)]
    return "Ours — " + "; ".join(parts) + "."


# --------------------------------------------------------------------------- paper vs ours


def paper_vs_ours(results, keys: Sequence[str], metrics: Sequence[str] = ("psnr", "ssim"), *,
                  provenance: Mapping[str, object], paper_source: str, paper_prefix: str = "paper_"):
    """A table with, for each metric, the paper's value, ours and ours − paper side by side.

    ``results``: a DataFrame with the ``keys`` columns (e.g. ``set``, ``scale``), our metric columns
    (``psnr``) and the paper's (``paper_psnr``). ``paper_source`` names the document and table the
    paper values come from; ``provenance`` says how ours were made (see :func:`provenance_caption`).
    Returns a pandas ``Styler`` (renders as HTML in JupyterLab and in the book); its ``.data`` is the
    numeric table with columns ``(metric, 'paper' | 'ours' | 'ours − paper')``.
    """
    import pandas as pd

    df = pd.DataFrame(results)
    needed = [*keys, *metrics, *(paper_prefix + m for m in metrics)]
    missing = [c for c in needed if c not in df.columns]
    if missing:
        raise ValueError(f"paper_vs_ours: results lack column(s) {missing}; it has {list(df.columns)}")
    caption = provenance_caption(provenance)
    table = pd.DataFrame(index=pd.MultiIndex.from_frame(df[list(keys)]) if len(keys) > 1 else pd.Index(df[keys[0]]))
    for m in metrics:
        ours = df[m].to_numpy(dtype=float)
        paper = df[paper_prefix + m].to_numpy(dtype=float)
        table[(m.upper(), "paper")] = paper
        table[(m.upper(), "ours")] = ours
        table[(m.upper(), "ours − paper")] = ours - paper
    table.columns = pd.MultiIndex.from_tuples(table.columns)
    formats = {}
    for m in metrics:
        d = METRIC_DECIMALS.get(m.lower(), 3)
        formats[(m.upper(), "paper")] = f"{{:.{d}f}}"
        formats[(m.upper(), "ours")] = f"{{:.{d}f}}"
        formats[(m.upper(), "ours − paper")] = f"{{:+.{d}f}}"
    styler = (
        table.style.format(formats, na_rep="—")
        .set_caption(f"Paper: {paper_source}. {caption}")
        .set_table_styles([
            {"selector": "caption", "props": "caption-side: bottom; text-align: left; font-size: 0.85em;"},
            {"selector": "th.col_heading.level0", "props": "text-align: center;"},
            {"selector": "td, th", "props": "padding: 0.15em 0.7em;"},
        ])
    )
    return styler


# ------------------------------------------------------------------------------- images


def _as_uint8_image(img, what: str = "frame") -> np.ndarray:
    try:
        from PIL import Image as PILImage

        if isinstance(img, PILImage.Image):
            img = np.asarray(img.convert("RGB"))
    except ImportError:
        pass
    arr = np.asarray(img)
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[..., 0]
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (3, 4)):
        raise ValueError(f"{what}: expected an image (H, W), (H, W, 3) or (H, W, 4), got shape {arr.shape}")
    if arr.dtype != np.uint8:
        if np.issubdtype(arr.dtype, np.floating) and arr.size and 0.0 <= float(np.nanmin(arr)) and float(np.nanmax(arr)) <= 1.0:
            arr = np.round(arr * 255.0)
        arr = np.clip(np.round(arr), 0, 255).astype(np.uint8)
    return arr


def png_bytes(img, palette: bool = False) -> bytes:
    """PNG encoding of an image (uint8, or float in [0, 1]).

    ``palette=True`` stores an RGB image as an indexed (8-bit palette) PNG, about a third of the
    size: exact when it has at most 256 colours (colour-mapped panels, plots, text), otherwise
    quantised to an adaptive 256-colour palette without dithering (lossy; photographs should stay RGB).
    """
    from PIL import Image as PILImage

    arr = _as_uint8_image(img)
    pil = PILImage.fromarray(arr)
    if palette and arr.ndim == 3 and arr.shape[2] == 3:
        packed = (arr[..., 0].astype(np.uint32) << 16) | (arr[..., 1].astype(np.uint32) << 8) | arr[..., 2]
        colours, index = np.unique(packed.ravel(), return_inverse=True)
        if len(colours) <= 256:
            h, w = packed.shape
            pil = PILImage.frombytes("P", (w, h), index.astype(np.uint8).tobytes())
            rgb = np.stack([(colours >> 16) & 255, (colours >> 8) & 255, colours & 255], axis=1).astype(np.uint8)
            pil.putpalette(rgb.ravel().tolist())
        else:
            pil = pil.quantize(colors=256, method=PILImage.Quantize.MEDIANCUT, dither=PILImage.Dither.NONE)
    buf = io.BytesIO()
    pil.save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def zoom_nearest(img, factor: int) -> np.ndarray:
    """Enlarge by an integer factor repeating pixels, so pixels stay visible (no smoothing)."""
    if int(factor) != factor or factor < 1:
        raise ValueError(f"zoom factor must be a positive integer, got {factor!r}")
    arr = _as_uint8_image(img)
    return np.repeat(np.repeat(arr, int(factor), axis=0), int(factor), axis=1)


def hstack_labeled(images: Sequence, labels: Sequence[str], gap: int = 4, label_height: int = 16) -> np.ndarray:
    """Images of the same height in a row, each with a label strip above (white background)."""
    from PIL import Image as PILImage, ImageDraw

    arrs = [_as_uint8_image(im) for im in images]
    arrs = [np.repeat(a[..., None], 3, axis=2) if a.ndim == 2 else a[..., :3] for a in arrs]
    if len(labels) != len(arrs):
        raise ValueError(f"hstack_labeled: {len(arrs)} images but {len(labels)} labels")
    h = max(a.shape[0] for a in arrs)
    w = sum(a.shape[1] for a in arrs) + gap * (len(arrs) - 1)
    canvas = PILImage.new("RGB", (w, h + label_height), "white")
    draw = ImageDraw.Draw(canvas)
    x = 0
    for a, label in zip(arrs, labels):
        canvas.paste(PILImage.fromarray(a), (x, label_height))
        draw.text((x + 2, 2), str(label), fill=(0, 0, 0))
        x += a.shape[1] + gap
    return np.asarray(canvas)


def side_by_side(images: Sequence, titles: Sequence[str], *, width: float = 3.0, suptitle: str | None = None,
                 cmap: str = "gray"):
    """A matplotlib figure with the images in one row, each titled; returns the Figure."""
    import matplotlib.pyplot as plt

    if len(images) != len(titles):
        raise ValueError(f"side_by_side: {len(images)} images but {len(titles)} titles")
    if not images:
        raise ValueError("side_by_side: no images given")
    arrs = [_as_uint8_image(im, f"image {t!r}") for im, t in zip(images, titles)]
    aspect = max(a.shape[0] / a.shape[1] for a in arrs)
    fig, axes = plt.subplots(1, len(arrs), figsize=(width * len(arrs), width * aspect + (0.6 if suptitle else 0.3)),
                             squeeze=False)
    for ax, a, t in zip(axes[0], arrs, titles):
        ax.imshow(a, cmap=cmap if a.ndim == 2 else None, vmin=0, vmax=255, interpolation="nearest")
        ax.set_title(t, fontsize=10)
        ax.set_axis_off()
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    return fig


def most_detailed_box(img, size: int, align: int = 1) -> tuple[int, int, int, int]:
    """``(top, left, size, size)`` of the window with the largest gradient energy.

    Candidate corners lie on a grid of step ``max(align, size // 4)`` rounded to a multiple of
    ``align`` (use the scale, or a common multiple of several scales, to keep LR pixels whole).
    """
    if align < 1 or size < 1:
        raise ValueError(f"most_detailed_box: size and align must be positive, got size={size}, align={align}")
    arr = _as_uint8_image(img).astype(np.float64)
    gray = arr.mean(axis=2) if arr.ndim == 3 else arr
    h, w = gray.shape
    if size > min(h, w):
        raise ValueError(f"crop size {size} is larger than the image ({h}x{w})")
    energy = np.zeros_like(gray)
    energy[:, 1:] += np.abs(np.diff(gray, axis=1))
    energy[1:, :] += np.abs(np.diff(gray, axis=0))
    integral = np.pad(energy.cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    step = max(align, (size // 4) // align * align)
    best, box = -1.0, (0, 0)
    for top in range(0, h - size + 1, step):
        for left in range(0, w - size + 1, step):
            e = (integral[top + size, left + size] - integral[top, left + size]
                 - integral[top + size, left] + integral[top, left])
            if e > best:
                best, box = e, (top, left)
    return (box[0], box[1], size, size)


def crop_compare(hr, scale: int, *, box: tuple[int, int, int, int] | None = None, size: int = 64,
                 zoom: int = 3) -> dict:
    """LR (nearest-upsampled), bicubic and HR crops of the same region, enlarged ``zoom`` times.

    LR = MATLAB bicubic downscaling of the modcropped HR (:func:`srlib.degrade.bicubic_lr`), as in
    the papers; "bicubic" = MATLAB bicubic upscaling of that LR; "LR (nearest)" repeats each LR
    pixel ``scale`` times so the reader sees what the network gets. ``box`` = (top, left, h, w) in
    HR pixels (multiples of ``scale`` keep LR pixels whole); default: the most detailed window.
    Returns ``{"LR (nearest)": img, "bicubic": img, "HR": img, "box": box, "psnr_bicubic": dB}``
    (PSNR on the RGB crop, for orientation only; the protocol metrics are in :mod:`srlib.metrics`).
    """
    from srlib import degrade, metrics

    scale = int(scale)
    hr = degrade.modcrop(_as_uint8_image(hr, "HR image"), scale)
    if hr.ndim == 2:
        hr = np.repeat(hr[..., None], 3, axis=2)
    lr = degrade.bicubic_lr(hr, scale)
    bicubic = degrade.imresize_uint8(lr, scale)
    nearest = np.repeat(np.repeat(lr, scale, axis=0), scale, axis=1)
    if box is None:
        size = size - size % scale
        top, left, h, w = most_detailed_box(hr, size)
        box = (top - top % scale, left - left % scale, h, w)
    top, left, h, w = box
    if top < 0 or left < 0 or top + h > hr.shape[0] or left + w > hr.shape[1]:
        raise ValueError(f"crop box {box} does not fit the {hr.shape[0]}x{hr.shape[1]} image")
    crops = {
        "LR (nearest)": nearest[top:top + h, left:left + w],
        "bicubic": bicubic[top:top + h, left:left + w],
        "HR": hr[top:top + h, left:left + w],
    }
    out = {k: zoom_nearest(v, zoom) for k, v in crops.items()}
    out["box"] = box
    out["psnr_bicubic"] = metrics.psnr_rgb(crops["bicubic"], crops["HR"])
    return out


# --------------------------------------------------------------------------- frame viewer


def _normalise_axes(frames, labels, axes):
    """-> (axes as [(name, [values])], {tuple: frame})"""
    if axes is None:
        if isinstance(frames, Mapping):
            raise ValueError("frame_viewer: frames given as a mapping need axes={name: [values], ...}")
        frames = list(frames)
        labels = list(labels) if labels is not None else [str(i) for i in range(len(frames))]
        if len(labels) != len(frames):
            raise ValueError(f"frame_viewer: {len(frames)} frames but {len(labels)} labels")
        return [("frame", labels)], {(lab,): f for lab, f in zip(labels, frames)}
    if labels is not None:
        raise ValueError("frame_viewer: give either labels (one axis) or axes (several), not both")
    axes = list(axes.items()) if isinstance(axes, Mapping) else list(axes)
    if not axes:
        raise ValueError("frame_viewer: axes is empty")
    for name, values in axes:
        if len(values) == 0:
            raise ValueError(f"frame_viewer: axis {name!r} has no values")
        if len(set(values)) != len(values):
            raise ValueError(f"frame_viewer: axis {name!r} repeats a value: {list(values)}")
    if not isinstance(frames, Mapping):
        raise ValueError("frame_viewer: with axes, frames must be a mapping {(value_of_axis1, ...): image}")
    table = {}
    for key, frame in frames.items():
        key = key if isinstance(key, tuple) else (key,)
        if len(key) != len(axes):
            raise ValueError(f"frame_viewer: frame key {key} has {len(key)} values but there are {len(axes)} axes")
        table[key] = frame
    missing = [k for k in itertools.product(*(v for _, v in axes)) if k not in table]
    if missing:
        raise ValueError(f"frame_viewer: no frame for {missing[:5]}{' ...' if len(missing) > 5 else ''} "
                         f"({len(missing)} missing); every combination of axis values needs one")
    return axes, table


def _axis_control(name: str, values: Sequence, kind: str | None, index: int, who: str = "frame_viewer"):
    """The control of one axis (slider for numbers, dropdown otherwise, unless ``kind`` says), at ``index``."""
    import ipywidgets as W

    kind = kind or ("slider" if all(isinstance(v, (int, float, np.number)) and not isinstance(v, bool)
                                    for v in values) else "dropdown")
    if kind == "slider":
        control = W.SelectionSlider(options=[str(v) for v in values], value=str(values[index]), description=name,
                                    continuous_update=True, style={"description_width": "initial"},
                                    layout=W.Layout(width="250px", min_width="200px"))
    elif kind == "dropdown":
        control = W.Dropdown(options=[(str(v), i) for i, v in enumerate(values)], value=index, description=name,
                             style={"description_width": "initial"})
    else:
        raise ValueError(f"{who}: control for {name!r} must be 'slider' or 'dropdown', got {kind!r}")
    control.add_class("srlib-frame-control")
    return control


def _initial_indices(axes, initial, who: str) -> dict:
    """``{axis: index}`` of the values shown first: index 0 unless ``initial`` names a value."""
    values = dict(axes)
    initial = dict(initial or {})
    unknown = set(initial) - set(values)
    if unknown:
        raise ValueError(f"{who}: initial names unknown axes {sorted(unknown)}; axes are {list(values)}")
    out = {name: 0 for name in values}
    for name, value in initial.items():
        if value not in list(values[name]):
            raise ValueError(f"{who}: initial value {value!r} of axis {name!r} is not one of {list(values[name])}")
        out[name] = list(values[name]).index(value)
    return out


def _stack_tree(order, axis_values, leaf, start: dict, stacks: dict, prefix: tuple = ()):
    """Nested ``Stack`` widgets over the axes ``order`` (outermost first), the ``leaf(key)`` widgets at the
    bottom (``key`` = values in ``order``); every stack is appended to ``stacks[axis]`` and opens at ``start[axis]``."""
    import ipywidgets as W

    name = order[len(prefix)]
    if len(prefix) == len(order) - 1:
        children = [leaf(prefix + (v,)) for v in axis_values[name]]
    else:
        children = [_stack_tree(order, axis_values, leaf, start, stacks, prefix + (v,)) for v in axis_values[name]]
    stack = W.Stack(children=children, selected_index=start[name])
    stacks[name].append(stack)
    return stack


def _controls_and_links(axes, controls, start, stacks, who: str):
    import ipywidgets as W

    controls = dict(controls or {})
    unknown = set(controls) - {name for name, _ in axes}
    if unknown:
        raise ValueError(f"{who}: controls names unknown axes {sorted(unknown)}; axes are {[n for n, _ in axes]}")
    widgets, links = [], []
    for name, values in axes:
        control = _axis_control(name, values, controls.get(name), start[name], who)
        for stack in stacks[name]:
            links.append(W.jslink((control, "index"), (stack, "selected_index")))
        widgets.append(control)
    return widgets, links


def _viewer_box(widgets, body, title):
    import ipywidgets as W

    # controls wrap onto several lines rather than squeezing the sliders' tracks to nothing
    bar = W.HBox(widgets, layout=W.Layout(flex_flow="row wrap", column_gap="1.5em"))
    viewer = W.VBox(([W.HTML(f"<b>{title}</b>")] if title else []) + [bar, body])
    viewer.add_class("srlib-frame-viewer-box")
    return viewer


def frame_viewer(frames, labels: Sequence | None = None, *, axes=None, controls: Mapping[str, str] | None = None,
                 width: int | None = None, title: str | None = None, initial: Mapping | None = None,
                 palette: bool = False):
    """An interactive viewer over precomputed frames that needs no kernel.

    One axis: ``frame_viewer([img0, img1, ...], labels=["a", "b", ...])``.
    Several axes: ``frame_viewer({(v1, v2): img, ...}, axes={"image": [...], "scale": [2, 3, 4]})``
    (every combination needs a frame). Each axis gets a control: a slider when its values are all
    numbers, a dropdown otherwise (override with ``controls={"axis": "slider" | "dropdown"}``).
    ``initial={"axis": value}`` opens on that value (default: each axis's first); ``palette=True``
    stores the frames as palette PNGs (:func:`png_bytes`).

    Built as nested ``Stack`` widgets (one level per axis) whose ``selected_index`` is ``jslink``-ed
    to the axis's control, so switching frames happens in the browser; the state is stored in the
    executed notebook and embedded in the HTML book. Frames are PNG-encoded once; keep them small
    (every frame is in the page). Returns an ``ipywidgets.VBox`` with attributes ``controls`` (one
    per axis), ``stacks`` (the outer ``Stack``) and ``links`` (the ``jslink`` objects).
    """
    import ipywidgets as W

    axes, table = _normalise_axes(frames, labels, axes)
    layout = W.Layout(width=f"{width}px") if width else W.Layout()
    start = _initial_indices(axes, initial, "frame_viewer")
    stacks: dict = {name: [] for name, _ in axes}

    def leaf(key):
        return W.Image(value=png_bytes(_as_uint8_image(table[key], f"frame {key}"), palette=palette),
                       format="png", layout=layout)

    root = _stack_tree([name for name, _ in axes], dict(axes), leaf, start, stacks)
    widgets, links = _controls_and_links(axes, controls, start, stacks, "frame_viewer")
    root.add_class("srlib-frame-viewer")
    viewer = _viewer_box(widgets, root, title)
    viewer.controls, viewer.stacks, viewer.links = widgets, root, links  # for tests and composition
    return viewer


def panel_viewer(rows: Sequence[Sequence], *, axes, controls: Mapping[str, str] | None = None,
                 title: str | None = None, initial: Mapping | None = None):
    """Like :func:`frame_viewer`, for a figure made of panels that each depend on some of the axes.

    ``rows``: the layout, row by row. A row is a list of items side by side; an item is a panel, or a
    list of items one under the other (whose lists are again rows, and so on). A panel is
    ``{"name": str, "axes": [axis names], "frames": {(values of those axes, in that order): image},
    "palette": bool (optional, :func:`png_bytes`)}``. ``axes`` = ``{name: [values]}`` of the whole
    viewer, one control each, shown in this order; ``initial`` as in :func:`frame_viewer`.

    A panel is a nested ``Stack`` over its own axes only (innermost = the axis with the most values,
    which keeps the number of stacks and links small), linked to the shared controls; a panel with
    no axes is a fixed image. So a part that does not depend on an axis is stored once, not once per
    value: the page holds the sum of the panels' frames, not their product. Returns an
    ``ipywidgets.VBox`` with attributes ``controls``, ``panels`` (``{name: widget}``, each with the CSS
    classes ``srlib-frame-panel`` and ``srlib-frame-panel-<name>``) and ``links``; the panel grid has
    the class ``srlib-frame-viewer``.
    """
    import ipywidgets as W

    axes = list(axes.items()) if isinstance(axes, Mapping) else list(axes)
    if not axes:
        raise ValueError("panel_viewer: axes is empty")
    axis_values = dict(axes)
    for name, values in axes:
        if len(values) == 0 or len(set(values)) != len(values):
            raise ValueError(f"panel_viewer: axis {name!r} needs distinct values, got {list(values)}")
    start = _initial_indices(axes, initial, "panel_viewer")
    stacks: dict = {name: [] for name, _ in axes}
    panels, used = {}, set()

    def build_panel(panel: Mapping):
        name, own = str(panel["name"]), list(panel.get("axes", ()))
        if name in panels:
            raise ValueError(f"panel_viewer: two panels are named {name!r}")
        bad = [a for a in own if a not in axis_values]
        if bad or len(set(own)) != len(own):
            raise ValueError(f"panel_viewer: panel {name!r} has axes {own}; the viewer's axes are {list(axis_values)}")
        used.update(own)
        table = {(k if isinstance(k, tuple) else (k,)): f for k, f in panel["frames"].items()}
        missing = [k for k in itertools.product(*(axis_values[a] for a in own)) if k not in table]
        if missing:
            raise ValueError(f"panel_viewer: panel {name!r} has no frame for {missing[:3]}"
                             f"{' ...' if len(missing) > 3 else ''} ({len(missing)} missing)")
        palette = bool(panel.get("palette", False))

        def image(own_key):
            return W.Image(value=png_bytes(_as_uint8_image(table[own_key], f"panel {name!r} frame {own_key}"),
                                           palette=palette), format="png")
        if not own:
            widget = image(())
        else:
            order = sorted(own, key=lambda a: len(axis_values[a]))  # stable: ties keep the panel's order
            position = [order.index(a) for a in own]
            widget = _stack_tree(order, axis_values, lambda key: image(tuple(key[p] for p in position)), start, stacks)
        widget.add_class("srlib-frame-panel")
        widget.add_class(f"srlib-frame-panel-{name}")
        panels[name] = widget
        return widget

    def spaced(children, margin: str):
        for child in children[:-1]:  # ipywidgets' Layout has no gap for boxes: a margin after every child but the last
            child.layout.margin = margin
        return children

    def layout(items, horizontal: bool):
        children = [build_panel(item) if isinstance(item, Mapping) else layout(item, not horizontal) for item in items]
        if horizontal:
            return W.HBox(spaced(children, "0 12px 0 0"), layout=W.Layout(align_items="flex-start"))
        return W.VBox(spaced(children, "0 0 8px 0"))

    grid = W.VBox(spaced([layout(row, True) for row in rows], "0 0 8px 0"))
    unused = [name for name, _ in axes if name not in used]
    if unused:
        raise ValueError(f"panel_viewer: no panel depends on axis {unused}; drop it or give it a panel")
    widgets, links = _controls_and_links(axes, controls, start, stacks, "panel_viewer")
    grid.add_class("srlib-frame-viewer")
    viewer = _viewer_box(widgets, grid, title)
    viewer.controls, viewer.panels, viewer.links = widgets, panels, links
    return viewer


# ------------------------------------------------------------------------------- claims


def plain_table(df, decimals: int = 4):
    """A DataFrame as a readable HTML table: no index column, padded cells, fixed decimals."""
    return (df.style.format(precision=decimals).hide(axis="index")
            .set_table_styles([{"selector": "td, th", "props": "padding: 0.15em 0.7em; text-align: left;"}]))
