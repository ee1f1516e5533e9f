"""Profiles: the one place where sizes and schedules per profile live.

``smoke`` (seconds, for CI and nbval), ``cpu`` (the default book, 2 CPU cores) and ``paper``
(the documents' settings, for a GPU). An experiment is registered once with a base config and
per-profile overrides deep-merged into it; ``get(profile, key)`` returns the full run config that
:func:`srlib.runs.get_or_train` takes. ``describe(config)`` is the one-line provenance every
caption in the book uses.

Where experiments live: the engine's own (``engine.*``) below; each chapter's in
``srlib/chapters/<key>/experiments.py`` (keys ``"<key>.<experiment>"``), found by discovery the
first time :func:`get` or :func:`keys` is called, like the model registry finds model files. This
module imports neither torch nor any chapter at import time.
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


def overrides(key: str) -> dict:
    """The registered parts of experiment ``key``: ``{"base": ..., "smoke": ..., "cpu": ..., "paper": ...}`` (copies)."""
    discover()
    if key not in _EXPERIMENTS:
        raise KeyError(f"unknown experiment {key!r}; registered: {', '.join(keys()) or '(none)'}")
    return copy.deepcopy(_EXPERIMENTS[key])


_DISCOVERED = False


def discover() -> list[str]:
    """Import every ``srlib/chapters/<key>/experiments.py`` once (each registers its experiments); returns the chapter keys."""
    global _DISCOVERED
    import importlib
    import pkgutil
    from pathlib import Path

    chapters_dir = Path(__file__).parent / "chapters"
    found = sorted(m.name for m in pkgutil.iter_modules([str(chapters_dir)]) if m.ispkg
                   and (chapters_dir / m.name / "experiments.py").exists())
    if not _DISCOVERED:
        _DISCOVERED = True
        for name in found:
            importlib.import_module(f"srlib.chapters.{name}.experiments")
    return found


def keys() -> list[str]:
    discover()
    return sorted(_EXPERIMENTS)


def get(profile: str, key: str) -> dict:
    """The full run config of experiment ``key`` at ``profile`` (with ``profile`` and ``experiment`` set)."""
    check_profile(profile)
    discover()
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
    from srlib.config import total_iterations

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
            from srlib.config import default_threads

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
