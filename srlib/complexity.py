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
  output pixel with respect to the input (:func:`receptive_field`); for very deep same-size
  networks, whose edge gradient underflows, from the network's connectivity
  (:func:`support_receptive_field`; :func:`multiblock_receptive_fields` for the multiblock report).
* ASDN (document 003; :func:`asdn_params_table`, printed by ``python -m srlib complexity``): the slides'
  table (22,405,168 / 828,928 / 1,111,270 for the paper / base / complex sizes) is torchsummary's
  "Total params" of the student's code run at one level, i.e. the FMB plus ONE of the 11 IRBs. Measured
  the same way (:func:`count_params_used`: the parameters of the modules that ran during one
  ``forward_level``), our ``reading="student"`` ASDN matches all three exactly; with its 11 IRBs it has
  22,438,288 / 839,008 / 1,122,670. Our default ``reading="paper"`` (DBDN's 3x3 + ReLU IDB input
  compression, DBDN's global fusion 1x1 + 3x3, CSFM's 1-channel spatial attention on the fused
  features) has 26,973,572 / 1,254,484 / 1,632,662 with one IRB (+20.4% / +51.3% / +46.9%) and
  27,060,012 / 1,340,924 / 1,719,102 with 11: the 3x3 compression alone adds 8 x in x dab_feats weights
  per block (4,456,448 at the paper size), the global fusion 106,624 and each IRB 8,644 instead of 3,312.
  So the slides' numbers measure the student's re-implementation, not the paper's network (whose
  count the document does not print).
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


def _check_support_model(model: nn.Module) -> None:
    if int(_model_attr(model, "scale")) != 1:
        raise ValueError(f"support_receptive_field: {type(model).__name__} has scale {model.scale}; the support method "
                         "measures same-size networks (scale 1): use receptive_field for upsampling models")
    for name, m in model.named_modules():
        if isinstance(m, nn.ConvTranspose2d):
            raise ValueError(f"support_receptive_field: {name} is a transposed conv; use receptive_field")
        if isinstance(m, nn.Conv2d):
            k, d, p, s = m.kernel_size, m.dilation, m.padding, m.stride
            centred = isinstance(p, tuple) and all(kk % 2 == 1 and pp == dd * (kk - 1) // 2 for kk, dd, pp in zip(k, d, p))
            if tuple(s) != (1, 1) or not centred or m.padding_mode != "zeros":
                raise ValueError(f"support_receptive_field: conv {name} (kernel {k}, stride {s}, padding {p}, "
                                 f"{m.padding_mode}) is not an odd, centred, stride-1 conv; use receptive_field")


def conv_depth(model: nn.Module) -> int:
    """Number of spatial Conv2d layers (kernel larger than 1x1) in ``model``: the depth of a chain network
    (the multiblock report's "35" for one block N_i counts these; Conv1d/1x1 attention layers are not counted)."""
    return sum(1 for m in model.modules() if isinstance(m, nn.Conv2d) and math.prod(m.kernel_size) > 1)


def _support_extent(model: nn.Module, size: int) -> tuple[int, bool]:
    colors = int(_model_attr(model, "colors"))
    x = torch.zeros(1, colors, size, size, dtype=torch.float32)
    x[0, :, size // 2, size // 2] = 1.0
    with torch.no_grad():
        y = model(x)
    support = (y[0] != 0).any(dim=0)
    rows = torch.nonzero(support.any(dim=1)).flatten()
    cols = torch.nonzero(support.any(dim=0)).flatten()
    if len(rows) == 0:
        raise RuntimeError("support_receptive_field: the output is zero everywhere")
    extent = int(max(rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1))
    hits = bool(rows[0] == 0 or cols[0] == 0 or rows[-1] == size - 1 or cols[-1] == size - 1)
    return extent, hits


class _SupportConv(nn.Module):
    """Stands in for a Conv2d in the support probe: the output is 1 wherever the kernel window holds a
    non-zero input (any channel), else 0 (a max-pool of the input's support), on every output channel."""

    def __init__(self, conv: nn.Conv2d):
        super().__init__()
        self.out_channels = conv.out_channels
        self.kernel_size, self.padding, self.dilation = conv.kernel_size, conv.padding, conv.dilation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        import torch.nn.functional as F

        nz = (x != 0).any(dim=1, keepdim=True).to(x.dtype)
        out = F.max_pool2d(nz, self.kernel_size, stride=1, padding=self.padding, dilation=self.dilation)
        return out.repeat(1, self.out_channels, 1, 1)


def _support_probe(model: nn.Module) -> nn.Module:
    import copy

    probe = copy.deepcopy(model).float().eval()
    with torch.no_grad():
        for name, p in probe.named_parameters():
            p.fill_(0.0 if name.rsplit(".", 1)[-1] == "bias" else 1.0)
        for b in probe.buffers():
            if b.is_floating_point():
                b.zero_()
    for parent in list(probe.modules()):
        for child_name, child in list(parent.named_children()):
            if isinstance(child, nn.Conv2d):
                setattr(parent, child_name, _SupportConv(child))
    return probe


def support_receptive_field(model: nn.Module, max_size: int = 4096) -> dict:
    """Receptive field of a same-size network from its connectivity alone: ``{"rf", "conv_layers",
    "input_size", "truncated", "method"}``.

    The gradient measurement of :func:`receptive_field` cannot see the edge of a very deep field: the
    edge pixel is reached only by the path through every conv, whose gradient is a product of one
    kernel tap per layer and underflows (RCAN's 413 convs). This method propagates *support* instead,
    on a copy of ``model``: every Conv2d is replaced by the indicator of the non-zero inputs in its
    kernel window (a max-pool of the input's support; kernel, padding and dilation kept), the other
    weights are set to 1 and biases to 0, every floating buffer (a fixed shift such as RCAN's mean shift)
    to 0. A single-pixel impulse then spreads exactly over the pixels that the network connects to it
    (ReLU, additions, channel scaling by a sigmoid attention and the [0, 1] clamp keep a positive value
    positive). For odd, centred, stride-1 convolutions (checked) this footprint of one input pixel equals
    the receptive field of one output pixel. It does not depend on the width of the layers, so a deep
    network can be measured at width 1. Global pooling (channel attention) is not followed, as with
    ``receptive_field(through_attention=False)``. The input grows from the summed kernel spans until the
    footprint stops touching the border; ``truncated`` is True (``rf`` a lower bound) if it still does at
    ``max_size``.
    """
    _check_support_model(model)
    probe = _support_probe(model)
    span = sum((m.kernel_size[0] - 1) * m.dilation[0] for m in model.modules() if isinstance(m, nn.Conv2d))
    size = min(span + 9, int(max_size))
    while True:
        rf, hits = _support_extent(probe, size)
        if not hits or size >= max_size:
            break
        size = min(2 * size, int(max_size))
    return {"rf": rf, "conv_layers": conv_depth(model), "input_size": size, "truncated": hits, "method": "support"}


def multiblock_receptive_fields(n_rcab: int = 16, n_blocks: int = 3, rcan_groups: int = 10, rcan_blocks: int = 20,
                                width: int = 1):
    """The multiblock report's Sec. 2.2 comparison, measured: one block N_i, the combined N of ``n_blocks``
    blocks, and RCAN (``rcan_groups`` x ``rcan_blocks`` RCABs, same-size ``scale=1`` variant, as the
    blocks), each with its spatial conv depth and its receptive field by :func:`support_receptive_field`.

    Built at the report's depth and ``width`` features (the field does not depend on the width; see
    :func:`support_receptive_field`). A DataFrame with columns ``network, depth, conv_layers, rf,
    input_size, truncated`` (``depth`` says what was built). The report's own figures are not here:
    they are the document's numbers (``srlib/papers/``).
    """
    import pandas as pd

    from srlib.models import build

    check = {"n_rcab": n_rcab, "n_blocks": n_blocks, "rcan_groups": rcan_groups, "rcan_blocks": rcan_blocks,
             "width": width}
    bad = {k: v for k, v in check.items() if isinstance(v, bool) or not isinstance(v, int) or v < 1}
    if bad:
        raise ValueError(f"multiblock_receptive_fields: {bad} must be positive integers")
    reduction = 4 if width >= 4 else 1
    nets = [
        ("N_i", f"1 block, {n_rcab} RCAB",
         build("multiblock-block", scale=1, n_rcab=n_rcab, n_feats=width, reduction=reduction)),
        ("N", f"{n_blocks} blocks x {n_rcab} RCAB",
         build("multiblock", scale=1, n_blocks=n_blocks, n_rcab=n_rcab, n_feats=width, reduction=reduction)),
        ("RCAN", f"{rcan_groups} groups x {rcan_blocks} RCAB, scale 1",
         build("rcan", scale=1, n_resgroups=rcan_groups, n_resblocks=rcan_blocks, n_feats=width,
               reduction=16 if width >= 16 else 1)),
    ]
    rows = []
    for name, depth, model in nets:
        r = support_receptive_field(model)
        rows.append({"network": name, "depth": depth, "conv_layers": r["conv_layers"], "rf": r["rf"],
                     "input_size": r["input_size"], "truncated": r["truncated"]})
    return pd.DataFrame(rows)


def count_params_used(model: nn.Module, run) -> int:
    """Parameter elements of the modules whose ``forward`` ran during ``run()`` (each tensor once), under
    ``torch.no_grad``: what torchsummary's "Total params" reports for a model whose branches do not all run
    (ASDN runs one or two of its IRBs)."""
    used: set = set()
    handles = [m.register_forward_hook(lambda module, inputs, output: used.add(module)) for m in model.modules()]
    try:
        with torch.no_grad():
            run()
    finally:
        for h in handles:
            h.remove()
    params = {id(p): p for m in used for p in m.parameters(recurse=False)}
    return sum(p.numel() for p in params.values())


ASDN_SLIDE_METHODS = {"paper": "paper model", "base": "base model", "complex": "complex model"}


def _asdn_slide_params() -> dict:
    """{preset: params} from the slides' parameter table (``srlib/papers/asdn.csv``, table "Project params")."""
    from srlib import papers

    df = papers.load("asdn", "Project params")
    df = df[df["metric"] == "params"]
    by_method = dict(zip(df["method"], df["value"]))
    return {preset: int(by_method[m]) for preset, m in ASDN_SLIDE_METHODS.items() if m in by_method}


def asdn_params_table(presets=("paper", "base", "complex")):
    """ASDN parameter counts per size preset, both readings, beside the slides' table.

    Columns: ``slides`` (the document's count), ``<reading>_one_irb`` (FMB + the one IRB that
    ``forward_level`` runs, as torchsummary counted it), ``<reading>_full`` (all 11 IRBs) and
    ``<reading>_vs_slides`` (one-IRB count minus the slides'), for ``reading`` = student, paper.
    The networks are built on the meta device (no memory, no weights).
    """
    import pandas as pd

    from srlib.models.asdn import asdn

    slides = _asdn_slide_params()
    rows = []
    for preset in presets:
        row = {"preset": preset, "slides": slides.get(preset, math.nan)}
        for reading in ("student", "paper"):
            with torch.device("meta"):
                model = asdn(preset=preset, reading=reading)
                x = torch.empty(1, model.colors, 8, 8)
                one = count_params_used(model, lambda: model.forward_level(x, model.levels - 1))
            row[f"{reading}_one_irb"] = one
            row[f"{reading}_full"] = count_params(model)
            row[f"{reading}_vs_slides"] = one - row["slides"]
        rows.append(row)
    return pd.DataFrame(rows)


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
    asdn = parser.add_mutually_exclusive_group()
    asdn.add_argument("--no-asdn", action="store_true", help="skip the ASDN parameter table")
    asdn.add_argument("--asdn-only", action="store_true", help="print only the ASDN parameter table")


def _print_asdn() -> None:
    import pandas as pd

    table = asdn_params_table()
    print("ASDN parameters (document 003). slides = the slides' table (torchsummary of the student's code: "
          "FMB + ONE IRB);\none_irb = FMB + the IRB of one level, counted the same way; full = with all 11 IRBs; "
          "vs_slides = one_irb - slides.\nstudent = reading='student', paper = reading='paper' "
          "(srlib.models.asdn).\n")
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(table.to_string(index=False, na_rep="-"))


def _run(args) -> int:
    import pandas as pd

    torch.set_num_threads(max(1, min(2, torch.get_num_threads())))
    if args.asdn_only:
        _print_asdn()
        return 0
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
    if not args.no_asdn:
        print()
        _print_asdn()
    return 0


def cli_commands():
    return [("complexity", "parameters, Mult-Adds (720p output) and receptive field of models", _add_arguments, _run)]
