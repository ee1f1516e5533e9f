"""The aside after Fig. 5 (``comparison.ipynb``): why the PSPL model's output has a dark frame.

The SSIM map M_s of the PSPL loss is zero-padded at the patch border (the code's choice), which
biases M_s and so PSPL's weights within ``window // 2`` px of every training patch's border.
:func:`border_study` measures it on the chapter's runs and trains the reflect-padded variant.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from srlib import claims as cl
from srlib.chapters.pspl.common import SETS
from srlib.chapters.pspl.comparison import table1_key, table1_results

if TYPE_CHECKING:
    import pandas as pd



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
    from srlib.models import eval_mode
    from srlib.train import build_batches

    batch_of = build_batches(config, model)
    with eval_mode(model), torch.no_grad():
        pairs = []
        for i in range(batches):
            b = batch_of(i)
            pairs.append((model(to_model_colors(b["lr"], model)).clamp(0, 1), to_model_colors(b["hr"], model)))
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
                 batches: int = 16, seeds: Sequence[int] | None = None) -> dict:
    """The aside after Fig. 5: why ``model``'s PSPL output (the authors' step) has a dark frame, and what reflect
    padding changes.

    Trains (if missing) ``model``'s PSPL run as in the code and the one with a reflect-padded SSIM map for
    ``seeds`` (default ``t1``'s seeds; the code-step runs are taken from ``t1`` when it has them).
    Returns ``shares`` (:func:`border_shares`), ``weights`` (:func:`border_weights` of the PSPL seed-0
    model on its own training patches), ``errors`` (:func:`border_errors` of every method's seed-0
    model), ``excess`` (per seed, the mean border excess of PSPL and of PSPL with reflect padding;
    their checkpoints are needed), ``psnr`` (per seed and method, the mean PSNR over the test sets
    of Table 1), the paired effects and verdicts ``frame`` ("reflect padding lowers the border excess") and
    ``verdict`` ("reflect padding raises PSNR"; direction only, :func:`srlib.claims.effect_verdict`), ``corners`` (:func:`border_corners`,
    with ``corner = {set_name, index, size, zoom}``), ``runs`` and ``text``.
    """
    import pandas as pd

    from srlib import profiles, runs

    profile = t1["profile"]
    seeds = list(t1["seeds"] if seeds is None else seeds)
    if not seeds:  # the profile lists no runs for the aside: say so instead of training them at build time
        return {"shares": border_shares(table1_key(model, "pspl")), "weights": None, "errors": None, "excess": None,
                "psnr": None, "frame": None, "verdict": None, "corners": None, "runs": {},
                "text": f"not run: the border aside's runs ({model} x4 PSPL with the code's step, zero and reflect "
                        f"padding) are not in the {profile} profile's run store (border_seeds is empty)"}
    labels = {"pspl": "PSPL", "pspl_reflect": "PSPL, reflect padding"}
    keys = [(model, k, s) for k in labels for s in seeds]
    run_of = dict(zip(keys, runs.get_or_train_many(
        [(dict(profiles.get(profile, table1_key(model, k)), seed=s), table1_key(model, k)) for _, k, s in keys],
        progress=False)))
    results = table1_results(run_of, labels)
    psnr = results.groupby(["method", "seed"], as_index=False)["psnr"].mean()
    by = psnr.set_index(["method", "seed"])["psnr"]
    e = cl.paired_effect(dict(by["PSPL, reflect padding"]), dict(by["PSPL"]), "higher")
    verdict = {"verdict": cl.effect_verdict(e), "effect": e,
               "evidence": f"mean PSNR, reflect - zero (code) padding, paired by seed: {cl.format_effect(e, 'dB')}"}
    cfg = profiles.get(profile, table1_key(model, "pspl"))
    scale = int(cfg["scale"])
    seed0 = {f"{t1['methods'][m]}": t1["runs"][(model, m, t1["seeds"][0])].load_model() for m in t1["methods"]
             if m != "pspl"}
    seed0.update({labels[k]: run_of[(model, k, seeds[0])].load_model() for k in labels})
    errors = border_errors(seed0, set_names, scale, band=scale)
    compared = ("PSPL", "PSPL, reflect padding")
    per_seed = [errors[errors["model"].isin(compared)].assign(seed=seeds[0])]  # seed 0: already measured above
    for s in seeds[1:]:
        nets = {labels[k]: run_of[(model, k, s)].load_model() for k in labels}
        per_seed.append(border_errors(nets, set_names, scale, band=scale).assign(seed=s))
    excess = (pd.concat(per_seed).groupby(["seed", "model"])["excess"].mean().unstack("model")[list(compared)]
              .reset_index().rename_axis(columns=None))
    ex = excess.set_index("seed")
    e = cl.paired_effect(dict(ex["PSPL, reflect padding"]), dict(ex["PSPL"]), "lower")
    frame = {"verdict": cl.effect_verdict(e), "effect": e,
             "evidence": f"border excess lowered by reflect padding (zero - reflect), paired by seed: {cl.format_effect(e, '', 2)}"}
    weights = border_weights(seed0["PSPL"], dict(cfg, seed=seeds[0]), deltas, batches=batches)
    corners = border_corners(seed0, scale=scale, **corner) if corner else None
    shares = border_shares(table1_key(model, "pspl"))
    text = (f"border excess (|SR−HR| within {scale} px of the border / inside; {', '.join(set_names)}; "
            f"reflect padding lowers it): {frame['evidence']} -> {frame['verdict']}"
            f"\nmean PSNR over {', '.join(SETS)} (reflect padding raises it): {verdict['evidence']} -> {verdict['verdict']}")
    return {"shares": shares, "weights": weights, "errors": errors, "excess": excess, "psnr": psnr, "frame": frame,
            "verdict": verdict, "corners": corners, "runs": run_of, "text": text}
