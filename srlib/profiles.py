"""Profiles: the one place where sizes and schedules per profile live.

``smoke`` (seconds, for CI and nbval), ``cpu`` (minutes on 2 CPU cores, the default) and
``paper`` (the documents' settings, for a GPU). An experiment is registered once with a base
config and per-profile overrides deep-merged into it; ``get(profile, key)`` returns the full
run config that :func:`srlib.runs.get_or_train` takes. ``describe(config)`` is the one-line
provenance every caption in the book uses.
"""
from __future__ import annotations

import copy
import os

PROFILES = ("smoke", "cpu", "paper")
DEFAULT_PROFILE = "cpu"
_EXPERIMENTS: dict[str, dict] = {}


def current() -> str:
    """The profile named by ``SRLIB_PROFILE`` (default ``cpu``)."""
    value = os.environ.get("SRLIB_PROFILE", "").strip() or DEFAULT_PROFILE
    return check_profile(value)


def check_profile(profile: str) -> str:
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r} (from SRLIB_PROFILE or an argument); use one of {PROFILES}")
    return profile


def deep_merge(base: dict, override: dict | None) -> dict:
    """A copy of ``base`` with ``override`` merged in (dicts merged key by key, other values replaced)."""
    out = copy.deepcopy(base)
    for k, v in (override or {}).items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def register(key: str, base: dict, smoke: dict | None = None, cpu: dict | None = None, paper: dict | None = None) -> None:
    """Register experiment ``key``: ``base`` config plus per-profile overrides."""
    if key in _EXPERIMENTS:
        raise ValueError(f"experiment {key!r} is registered twice in srlib.profiles")
    _EXPERIMENTS[key] = {"base": copy.deepcopy(base), "smoke": smoke or {}, "cpu": cpu or {}, "paper": paper or {}}


def keys() -> list[str]:
    return sorted(_EXPERIMENTS)


def get(profile: str, key: str) -> dict:
    """The full run config of experiment ``key`` at ``profile`` (with ``profile`` and ``experiment`` set)."""
    check_profile(profile)
    if key not in _EXPERIMENTS:
        raise KeyError(f"unknown experiment {key!r}; registered: {', '.join(keys()) or '(none)'}")
    e = _EXPERIMENTS[key]
    config = deep_merge(e["base"], e[profile])
    config["profile"] = profile
    config["experiment"] = key
    return config


def _model_label(model: dict) -> str:
    if model.get("label"):
        return str(model["label"])
    name = str(model["name"]).upper()
    nums = [str(v) for v in (model.get("args") or {}).values() if isinstance(v, int) and not isinstance(v, bool)]
    return f"{name} {'x'.join(nums)}" if nums else name


def describe(config: dict, final: dict | None = None) -> str:
    """One line of provenance, e.g. ``"EDSR 8x32, x2, 300 it, batch 16, T91 train set, profile cpu, CPU 2 threads"``.

    ``final`` (a run's final.json) gives the device the run actually used.
    """
    from srlib.train import total_iterations

    parts = [_model_label(config["model"])]
    scale = config.get("scale")
    if scale is not None:
        parts.append(f"x{scale}")
    parts.append(f"{total_iterations(config)} it")
    data = config.get("data", {})
    if "batch" in data:
        parts.append(f"batch {data['batch']}")
    if "train" in data:
        train = data["train"] if isinstance(data["train"], str) else "+".join(data["train"])
        parts.append(f"{train} train set")
    elif "source" in data:
        parts.append(f"data {data['source'].rsplit(':', 1)[-1]}")
    loss = config.get("loss", {}).get("name")
    if loss:
        parts.append(f"{loss} loss")
    if config.get("profile"):
        parts.append(f"profile {config['profile']}")
    if final and final.get("device"):
        if str(final["device"]).startswith("cuda"):
            parts.append(str(final.get("device_name") or "CUDA"))
        else:
            parts.append(f"CPU {final.get('threads')} threads")
    else:
        device = config.get("device", "auto")
        if device == "auto":
            import torch

            device = "cuda" if torch.cuda.is_available() else "cpu"
        if str(device).startswith("cuda"):
            parts.append("CUDA")
        else:
            from srlib.train import default_threads

            parts.append(f"CPU {config.get('threads') or default_threads()} threads")
    return ", ".join(parts)


# ============================================================================ the engine's own
# SRCNN x2 on T91 (Y channel, 9-5-5), the engine's end-to-end check and the CLI example.
register(
    "engine.srcnn_x2",
    base={
        "model": {"name": "srcnn", "args": {"colors": 1}, "label": "SRCNN 9-5-5"},
        "scale": 2,
        "loss": {"name": "mse"},
        "data": {"train": "T91", "patch": 17, "batch": 16, "augment": True},  # LR 17 = HR 34 (the paper: 33)
        "optimizer": {"name": "adam", "lr": 1e-3},
        "iterations": 2000,
        "eval": {"sets": ["Set5"], "every": 500},
        "checkpoint_every": 500,
        "seed": 0,
        "device": "auto",
    },
    smoke={"iterations": 50, "eval": {"every": 50, "max_images": 2}, "checkpoint_every": 50},
    cpu={"iterations": 2000},
    paper={"iterations": 1000000, "data": {"batch": 128}, "eval": {"every": 10000, "sets": ["Set5", "Set14"]},
           "checkpoint_every": 10000, "optimizer": {"lr": 1e-4}},
)


# ============================================================================ chapters' experiments
# Each chapter appends its own section below: a header comment naming the chapter, then its
# register(...) calls. Keys are "<chapter>.<experiment>".


# ============================================================================ PSPL (book/pspl)
# Pixel-level Self-Paced Learning (Lin et al., ICASSP 2020). Paper settings (Sec. 3): EDSR-baseline
# (16 blocks x 64 channels) x2 on DIV2K, 300 epochs of 1000 iterations, batch 16, 48x48 LR patches,
# Adam 1e-4 halved every 200 epochs (EDSR-PyTorch defaults, which the authors' fork keeps); Table 1
# at x4 with each model in its original size. The cpu profile keeps every choice but the sizes:
# lite models, a few hundred iterations on the 291 set (T91 + BSD200), validation on Set5.
# "pspl.fig4_*" = Fig. 4 (baseline vs PSPL); "pspl.ablation_*" = one PSPL choice changed each;
# "pspl.table1_<model>_<method>" = Table 1. Seeds are set by the chapter (config["seed"]).
PSPL_PAPER_EPOCHS = 300
PSPL_ITERS_PER_EPOCH = 1000


def _pspl_loss(base: str, **args) -> dict:
    return {"name": "pspl", "args": {"base": base, **args}}


_PSPL_EDSR_X2 = {
    "model": {"name": "edsr-baseline", "args": {"n_resblocks": 16, "n_feats": 64}, "label": "EDSR-baseline 16x64"},
    "scale": 2,
    "loss": {"name": "l1"},
    "data": {"train": "DIV2K", "patch": 48, "batch": 16, "augment": True},
    "optimizer": {"name": "adam", "lr": 1e-4},
    "schedule": {"name": "step", "step_size": 200 * PSPL_ITERS_PER_EPOCH, "gamma": 0.5},
    "epochs": PSPL_PAPER_EPOCHS,
    "iters_per_epoch": PSPL_ITERS_PER_EPOCH,
    "eval": {"sets": ["DIV2K_valid"], "every": PSPL_ITERS_PER_EPOCH},
    "checkpoint_every": 10 * PSPL_ITERS_PER_EPOCH,
    "seed": 0,
    "device": "auto",
}
_PSPL_EDSR_X2_SMOKE = {
    "model": {"args": {"n_resblocks": 2, "n_feats": 8}, "label": "EDSR-baseline 2x8"},
    "data": {"train": "T91", "patch": 12, "batch": 2}, "optimizer": {"lr": 1e-3}, "schedule": None, "threads": 1,
    "epochs": 1, "iters_per_epoch": 8, "eval": {"sets": ["Set5"], "every": 2, "max_images": 1}, "checkpoint_every": 8,
}
_PSPL_EDSR_X2_CPU = {
    "model": {"args": {"n_resblocks": 4, "n_feats": 16}, "label": "EDSR-baseline 4x16"},
    "data": {"train": "291", "patch": 16, "batch": 8}, "optimizer": {"lr": 1e-3}, "schedule": None,
    "epochs": 1, "iters_per_epoch": 600, "eval": {"sets": ["Set5"], "every": 25}, "checkpoint_every": 200,
    "threads": 1,  # on a loaded 2-core machine one thread is faster than two (docs FACTS)
}


def _pspl_matched(base: str, total: int) -> dict:
    """PSPL with delta reaching the paper's final value (300) at the end of ``total`` iterations.

    At the paper's schedule this is the code's own step (1/1000), and the config is then exactly
    the code's, so the run store trains it once.
    """
    from srlib.losses.pspl import STEP_PER_ITERATION

    step = PSPL_PAPER_EPOCHS / total
    return _pspl_loss(base) if abs(step - STEP_PER_ITERATION) < 1e-12 else _pspl_loss(base, step_per_iteration=step)


def _pspl_iterations(override: dict) -> int:
    return int(override["epochs"]) * int(override["iters_per_epoch"])


def _register_pspl_x2(key: str, loss: dict, loss_of_profile=None) -> None:
    """A Fig. 4 / ablation experiment; ``loss_of_profile(total_iterations)`` when the loss depends on the schedule."""
    per = {}
    for name, over in (("smoke", _PSPL_EDSR_X2_SMOKE), ("cpu", _PSPL_EDSR_X2_CPU),
                       ("paper", {"epochs": PSPL_PAPER_EPOCHS, "iters_per_epoch": PSPL_ITERS_PER_EPOCH})):
        l = loss_of_profile(_pspl_iterations(over)) if loss_of_profile else loss
        per[name] = {**over, "loss": l}
    register(key, base={**_PSPL_EDSR_X2, "loss": loss}, **per)


# Fig. 4: the authors' choices (base L1 for EDSR, step = iterations / 1000, SSIM constants of the code)
_register_pspl_x2("pspl.fig4_baseline", {"name": "l1"})
_register_pspl_x2("pspl.fig4_pspl", _pspl_loss("l1"))
# Ablation, one choice changed each (seed 0; the code's choices are pspl.fig4_pspl):
# step meaning: delta reaches the paper's final value (300) at the end of our schedule; one step = one iteration
_register_pspl_x2("pspl.ablation_step_schedule", _pspl_loss("l1"),
                  lambda total: _pspl_matched("l1", total))
_register_pspl_x2("pspl.ablation_step_iteration", _pspl_loss("l1", step_per_iteration=1.0))
# SSIM constants of the paper ((k L)^2 with L the data range) instead of the code's
_register_pspl_x2("pspl.ablation_ssim_paper", _pspl_loss("l1", ssim_constants="paper"))
# base loss L2 (what the code uses for SRCNN/LapSRN), with its own L2 baseline
_register_pspl_x2("pspl.ablation_l2_baseline", {"name": "l2"})
_register_pspl_x2("pspl.ablation_l2_pspl", _pspl_loss("l2"))

# Table 1 (x4): model sizes per profile. Y-channel models (SRCNN, VDSR, DRRN, LapSRN) as in their papers;
# base loss as in the authors' code: MSE for SRCNN and LapSRN, L1 otherwise.
PSPL_TABLE1_MODELS = {
    # name: (registry name, base loss, paper args, cpu args, smoke args)
    "SRCNN": ("srcnn", "l2", {"colors": 1}, {"colors": 1, "n1": 16, "n2": 8, "f2": 1}, {"colors": 1, "n1": 4, "n2": 4, "f2": 1}),
    "VDSR": ("vdsr", "l1", {"colors": 1}, {"colors": 1, "depth": 4, "n_feats": 16}, {"colors": 1, "depth": 3, "n_feats": 4}),
    "DRRN": ("drrn", "l1", {"colors": 1}, {"colors": 1, "B": 1, "U": 2, "width": 16}, {"colors": 1, "B": 1, "U": 1, "width": 4}),
    "LapSRN": ("lapsrn", "l2", {"colors": 1}, {"colors": 1, "depth": 2, "n_feats": 16}, {"colors": 1, "depth": 1, "n_feats": 4}),
    "EDSR": ("edsr", "l1", {}, {"n_resblocks": 4, "n_feats": 16}, {"n_resblocks": 1, "n_feats": 4}),
}


def _size_label(name: str, args: dict) -> str:
    nums = [str(v) for k, v in args.items() if k != "colors" and isinstance(v, int)]
    return f"{name} {'x'.join(nums)}" if nums else name


_PSPL_TABLE1_ITERS = {"smoke": 4, "cpu": 600, "paper": PSPL_PAPER_EPOCHS * PSPL_ITERS_PER_EPOCH}
# methods: the baseline, PSPL as in the code (delta = iterations / 1000) and PSPL with delta reaching the
# paper's 300 at the end of the schedule (the same as the code's at the paper profile)
for _m, (_reg, _base, _paper_args, _cpu_args, _smoke_args) in PSPL_TABLE1_MODELS.items():
    for _method in ("baseline", "pspl", "pspl_matched"):
        def _loss(total, base=_base, method=_method):
            if method == "baseline":
                return {"name": base}
            if method == "pspl":
                return _pspl_loss(base)
            return _pspl_matched(base, total)
        register(
            f"pspl.table1_{_m.lower()}_{_method}",
            base={
                "model": {"name": _reg, "args": _paper_args, "label": _size_label(_m, _paper_args) + " (paper size)"},
                "scale": 4,
                "loss": _loss(_PSPL_TABLE1_ITERS["paper"]),
                "data": {"train": "DIV2K", "patch": 48, "batch": 16, "augment": True},
                "optimizer": {"name": "adam", "lr": 1e-4},
                "schedule": {"name": "step", "step_size": 200 * PSPL_ITERS_PER_EPOCH, "gamma": 0.5},
                "epochs": PSPL_PAPER_EPOCHS,
                "iters_per_epoch": PSPL_ITERS_PER_EPOCH,
                "eval": {"sets": [], "final_sets": ["Set5", "Set14", "B100", "Urban100"]},
                "checkpoint_every": 10 * PSPL_ITERS_PER_EPOCH,
                "seed": 0,
                "device": "auto",
            },
            smoke={"model": {"args": _smoke_args, "label": _size_label(_m, _smoke_args)}, "loss": _loss(_PSPL_TABLE1_ITERS["smoke"]),
                   "data": {"train": "T91", "patch": 8, "batch": 2}, "optimizer": {"lr": 1e-3}, "schedule": None,
                   "epochs": 1, "iters_per_epoch": _PSPL_TABLE1_ITERS["smoke"],
                   "eval": {"final_max_images": 1, "final_sets": ["Set5", "Set14"]}, "checkpoint_every": 4, "threads": 1},
            cpu={"model": {"args": _cpu_args, "label": _size_label(_m, _cpu_args)}, "loss": _loss(_PSPL_TABLE1_ITERS["cpu"]),
                 "data": {"train": "291", "patch": 8, "batch": 8}, "optimizer": {"lr": 1e-3}, "schedule": None,
                 "epochs": 1, "iters_per_epoch": _PSPL_TABLE1_ITERS["cpu"], "eval": {"final_max_images": 3},
                 "checkpoint_every": _PSPL_TABLE1_ITERS["cpu"], "threads": 1},
        )

# The border of the SSIM map (Table 1 part of the chapter, after Fig. 5): EDSR x4 PSPL as in the code, but
# with the SSIM window reflecting at the patch border instead of seeing zeros (srlib.metrics.ssim_map).
_REFLECT = {"loss": {"args": {"ssim_padding": "reflect"}}}
_e = _EXPERIMENTS["pspl.table1_edsr_pspl"]
register("pspl.table1_edsr_pspl_reflect", base=deep_merge(_e["base"], _REFLECT),
         **{p: deep_merge(_e[p], _REFLECT) for p in ("smoke", "cpu", "paper")})
del _e
