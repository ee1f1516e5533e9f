"""Model complexity: parameters, Mult-Adds for a 1280x720 output, measured receptive field.

Conventions (stated in every table this module prints):

* Parameters: distinct trainable-or-frozen ``nn.Parameter`` elements (shared weights counted
  once; fixed buffers such as EDSR's mean shift are not parameters).
* Mult-Adds: multiply-accumulates of every Conv1d/Conv2d/ConvTranspose2d/Linear for one image
  whose *output* is ``out_hw`` (default 720 x 1280), i.e. an LR input of ``out_hw / scale``
  (fractional at x3: the count is extrapolated exactly, see :func:`mult_adds_by_layer`).
  Biases, activations, additions and the bicubic pre-upsampling are not counted, as in the
  SRCNN/VDSR/CARN tables. A transposed conv costs ``in_pixels * C_in * C_out * k^2 / groups``
  (every input pixel scatters a k x k kernel), unless ``convtranspose="output"`` is asked for:
  ``out_pixels * C_in * C_out * k^2 / groups``, as if the full kernel ran at output resolution
  (what some counters do; it is stride^2 times larger).
* What this gives against the FD-loss paper's Table 2 (same figures printed for x2/x3/x4):
  SRCNN 9-5-5 and VDSR match (52.7 G, 612.6 G; 57,184 and 664,704 weights, biases add 0.2%).
  LapSRN (depth 10, 64 filters, Y) has 870,112 weights (871,588 with biases) at x4, 1% above
  the printed 862K; no layer arrangement we tried gives 862K. Its Mult-Adds are 100.7 G (x2)
  and 125.7 G (x4) counted as true MACs; counting transposed convs at output resolution gives
  146.0 G (x2), 182.4 G (x4), 191.5 G (x8): x4 with that convention is closest to the printed
  186.2 G (-2%), but none reproduces it exactly.
* Receptive field: measured, not derived: the extent of the non-zero gradient of one central
  output pixel with respect to the input.
"""
from __future__ import annotations

import math
from collections import defaultdict

import torch
from torch import nn

COUNTED = (nn.Conv1d, nn.Conv2d, nn.ConvTranspose2d, nn.Linear)
CONVTRANSPOSE_CONVENTIONS = ("input", "output")


def count_params(model: nn.Module) -> int:
    """Number of parameter elements (each shared tensor once)."""
    return sum(p.numel() for p in model.parameters())


def _layer_macs(module, inputs, output, convtranspose: str) -> int:
    if isinstance(module, nn.Linear):
        rows = output.numel() // output.shape[-1]
        return rows * module.in_features * module.out_features
    if isinstance(module, nn.ConvTranspose2d):
        k = module.kernel_size[0] * module.kernel_size[1]
        per = module.in_channels * module.out_channels * k // module.groups
        x = inputs[0]
        pixels = x.shape[0] * x.shape[-2] * x.shape[-1] if convtranspose == "input" else (
            output.shape[0] * output.shape[-2] * output.shape[-1])
        return pixels * per
    # Conv1d / Conv2d: every output element is a dot product of C_in/groups * prod(kernel) terms
    return output.numel() * (module.in_channels // module.groups) * math.prod(module.kernel_size)


def _check_out_hw(out_hw) -> tuple[int, int]:
    try:
        h, w = (int(v) for v in out_hw)
        ok = h > 0 and w > 0 and (h, w) == tuple(out_hw)
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ValueError(f"out_hw {out_hw!r} must be two positive integers (height, width), e.g. (720, 1280)")
    return h, w


def mult_adds_by_layer(model: nn.Module, out_hw=(720, 1280), convtranspose: str = "input") -> dict[str, float]:
    """Mult-Adds per counted layer (qualified module name -> MACs) for one ``out_hw`` output.

    The model runs twice on tiny LR inputs (6x6 and 12x12); every layer's count is an affine
    function of the input area (convolutions scale with it, attention on pooled vectors does
    not), so the two runs give the exact count for the LR area ``out_h * out_w / scale^2``.
    """
    out_h, out_w = _check_out_hw(out_hw)
    if convtranspose not in CONVTRANSPOSE_CONVENTIONS:
        raise ValueError(f"convtranspose {convtranspose!r} is not supported; use one of {list(CONVTRANSPOSE_CONVENTIONS)}")
    scale, colors = _model_attr(model, "scale"), _model_attr(model, "colors")
    names = {m: n for n, m in model.named_modules()}
    device = next((p.device for p in model.parameters()), torch.device("cpu"))
    counts = []
    for side in (6, 12):
        macs: dict[str, int] = defaultdict(int)

        def hook(module, inputs, output):
            macs[names[module]] += _layer_macs(module, inputs, output, convtranspose)

        handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, COUNTED)]
        try:
            with torch.no_grad():
                model(torch.rand(1, colors, side, side, device=device))
        finally:
            for h in handles:
                h.remove()
        counts.append((side * side, dict(macs)))
    (a1, c1), (a2, c2) = counts
    target = out_h * out_w / float(scale) ** 2
    result = {}
    for name in c2:
        slope = (c2[name] - c1.get(name, 0)) / (a2 - a1)
        result[name] = c1.get(name, 0) + slope * (target - a1)
    return result


def mult_adds(model: nn.Module, out_hw=(720, 1280), convtranspose: str = "input") -> int:
    """Total multiply-accumulates for one output image of size ``out_hw`` (see module docstring)."""
    return int(round(sum(mult_adds_by_layer(model, out_hw, convtranspose).values())))


def _model_attr(model, key):
    if not hasattr(model, key):
        raise ValueError(f"{type(model).__name__} has no attribute {key!r}; srlib models define scale and colors")
    return getattr(model, key)


def _nonzero_extent(fn, size: int, colors: int, device) -> tuple[int, bool]:
    """Extent of the non-zero input gradient of the central output pixel, and whether it hits the border."""
    total = torch.zeros(size, size, dtype=torch.float64)
    for seed in range(4):  # several random inputs, of both signs, so that a dead ReLU cannot hide a pixel
        gen = torch.Generator().manual_seed(seed)
        x = (torch.rand if seed % 2 == 0 else torch.randn)(1, colors, size, size, generator=gen)
        x = x.to(device).requires_grad_(True)
        y = fn(x)
        (grad,) = torch.autograd.grad(y[0, :, y.shape[-2] // 2, y.shape[-1] // 2].sum(), x)
        total += grad.detach().abs().sum(dim=(0, 1)).double().cpu()
    rows = torch.nonzero(total.sum(1) > 0).flatten()
    cols = torch.nonzero(total.sum(0) > 0).flatten()
    if len(rows) == 0:
        raise RuntimeError("receptive_field: the gradient is zero everywhere (is the model's output constant?)")
    extent = int(max(rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1))
    hits = bool(rows[0] == 0 or cols[0] == 0 or rows[-1] == size - 1 or cols[-1] == size - 1)
    return extent, hits


def _grown(fn, start: int, max_size: int, colors: int, device) -> tuple[int, int, bool]:
    size = min(start, max_size)
    while True:
        extent, hits = _nonzero_extent(fn, size, colors, device)
        if not hits:
            return extent, size, False
        if size >= max_size:
            return extent, size, True
        size = min(2 * size, max_size)


def receptive_field(model: nn.Module, max_size: int = 256, through_attention: bool = False) -> dict:
    """Measured receptive field: ``{"lr", "hr", "input_size", "truncated", "global_pooling"}``.

    ``lr``: extent (pixels) of the LR input region that reaches one central output pixel,
    through the whole model (bicubic pre-upsampling included). ``hr``: for pre-upsampling
    models, the extent on the upsampled image seen by the network (the papers' figure, e.g.
    41 for VDSR); otherwise ``lr * scale``. The input grows from an estimate until the region
    stops touching the border; if it still touches at ``max_size``, ``truncated`` is True and
    the values are lower bounds. Channel attention pools globally (every pixel then reaches
    every output); with ``through_attention=False`` (default) gradients through the pooled path
    are stopped, which measures the convolutions' local field.
    """
    if int(max_size) < 8:
        raise ValueError(f"max_size {max_size!r} must be at least 8")
    scale, colors = _model_attr(model, "scale"), _model_attr(model, "colors")
    device = next((p.device for p in model.parameters()), torch.device("cpu"))
    span = sum((m.kernel_size[0] - 1) * m.dilation[0] for m in model.modules()
               if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)))
    attention = [m for m in model.modules() if hasattr(m, "detach_weights")]
    saved = [m.detach_weights for m in attention]
    for m in attention:
        m.detach_weights = not through_attention
    try:
        pre = getattr(model, "pre_upsample", False)
        # every conv widens the field by at most k - 1 LR pixels (less when it runs at HR)
        start = span // max(1, int(scale)) + 12 if pre else span + 8
        lr, size, truncated = _grown(model, start, max_size, colors, device)
        if pre:
            hr, _, truncated_hr = _grown(model.forward_upsampled, span + 9, max_size * int(scale), colors, device)
            truncated = truncated or truncated_hr
        else:
            hr = lr * int(scale)
    finally:
        for m, s in zip(attention, saved):
            m.detach_weights = s
    return {"lr": lr, "hr": hr, "input_size": size, "truncated": truncated, "global_pooling": bool(attention)}


def _paper_figures(scale: int):
    """{model name lower: (params_K, mult_adds_G)} from the FD-loss paper's Table 2, baseline rows."""
    try:
        from srlib import papers

        df = papers.load("fdloss", "Table 2")
    except (FileNotFoundError, KeyError):
        return {}
    df = df[(df["method"] == "baseline") & (df["scale"] == str(scale))]
    out: dict = {}
    for _, row in df.iterrows():
        out.setdefault(row["model"].lower(), {})[row["metric"]] = float(row["value"])
    return out


def complexity_table(names, scale: int = 4, colors: int | None = None, out_hw=(720, 1280),
                     receptive: bool = True, convtranspose: str = "input"):
    """One row per model: params, Mult-Adds for an ``out_hw`` output, receptive field, paper figures.

    ``colors=None`` builds each model with its paper configuration's channel count (1 for the
    Y-channel SRCNN/VDSR/DRRN/LapSRN, 3 for EDSR/RCAN). Paper figures are the FD-loss paper's
    Table 2 (``srlib.papers.load("fdloss", "Table 2")``), where it lists the model.
    """
    import pandas as pd

    from srlib.models import MODELS, build, paper_colors

    if isinstance(names, str):
        names = [names]
    for n in names:
        MODELS.get(n) if n in MODELS else build(n)  # unknown names raise the registry's KeyError
    paper = _paper_figures(scale)
    rows = []
    for name in names:
        c = paper_colors(name) if colors is None else colors
        row = {"model": name, "scale": scale, "colors": c}
        try:
            model = build(name, scale=scale, colors=c)
        except ValueError as err:
            rows.append({**row, "note": str(err)})
            continue
        row["params"] = count_params(model)
        row["params_K"] = row["params"] / 1e3
        row["mult_adds_G"] = mult_adds(model, out_hw, convtranspose) / 1e9
        if receptive:
            rf = receptive_field(model)
            row.update(rf_lr=rf["lr"], rf_hr=rf["hr"], rf_truncated=rf["truncated"])
        fig = paper.get(name.lower(), {})
        row["paper_params_K"] = fig.get("params_K", math.nan)
        row["paper_mult_adds_G"] = fig.get("mult_adds_G", math.nan)
        row["params_ratio"] = row["params_K"] / row["paper_params_K"]
        row["mult_adds_ratio"] = row["mult_adds_G"] / row["paper_mult_adds_G"]
        row["note"] = ""
        rows.append(row)
    return pd.DataFrame(rows)


def _add_arguments(parser):
    from srlib.models import list_models

    parser.add_argument("--models", nargs="+", default=["srcnn", "vdsr", "lapsrn", "edsr-baseline"],
                        help=f"model names (known: {', '.join(list_models())})")
    parser.add_argument("--scale", type=int, default=4, help="upscaling factor (default 4)")
    parser.add_argument("--colors", type=int, choices=(1, 3), default=None,
                        help="input/output channels for every model (default: each paper's own: 1 = Y, 3 = RGB)")
    parser.add_argument("--no-rf", action="store_true", help="skip the (slower) measured receptive field")
    parser.add_argument("--convtranspose", choices=CONVTRANSPOSE_CONVENTIONS, default="input",
                        help="how a transposed conv is counted (input: true MACs; output: at output resolution)")


def _run(args) -> int:
    import pandas as pd

    torch.set_num_threads(max(1, min(2, torch.get_num_threads())))
    table = complexity_table(args.models, scale=args.scale, colors=args.colors, receptive=not args.no_rf,
                             convtranspose=args.convtranspose)
    chans = "as given (--colors %d)" % args.colors if args.colors else "each paper's configuration (1 = Y channel, 3 = RGB)"
    print(f"Complexity at x{args.scale}; Mult-Adds for one 1280x720 output; channels: {chans}; "
          f"transposed convs counted at their {args.convtranspose} resolution.")
    print("Paper figures: FD-loss paper Table 2 (baseline rows); ratio = ours / paper.\n")
    cols = [c for c in ["model", "colors", "params", "mult_adds_G", "rf_lr", "rf_hr", "paper_params_K",
                        "paper_mult_adds_G", "params_ratio", "mult_adds_ratio", "note"] if c in table.columns]
    with pd.option_context("display.width", 200, "display.max_columns", 20, "display.float_format", "{:.3f}".format):
        print(table[cols].to_string(index=False, na_rep="-"))
    return 0


def cli_commands():
    return [("complexity", "parameters, Mult-Adds (720p output) and receptive field of models", _add_arguments, _run)]
