"""Run configs as plain dicts: the known keys, their checks, ``--set`` overrides, thread defaults.

Pure Python: this module imports neither torch nor numpy, so :mod:`srlib.profiles`, the run
store's hashing and the command line's ``--list`` work without loading them. Building torch
objects from a config is :mod:`srlib.train`'s job (``build_model``, ``build_trainer``, ...).

A config (see :mod:`srlib.profiles` for complete examples) has ``model = {"name", "args",
"label"}``, ``scale``, ``loss = {"name", "args"}``, ``data``, an optimizer, a length
(``iterations``, or ``epochs`` + ``iters_per_epoch``, or ``phases``), ``eval = {"sets",
"every", "max_images", "final_sets", "final_max_images", "scale", "metrics"}`` and run settings
(``seed``, ``threads``, ``device``, ...). ``profile``, ``experiment``, ``notes`` and
``model.label`` only describe the run (see :data:`DISPLAY_KEYS` and :mod:`srlib.runs`).
"""
from __future__ import annotations

import copy
import importlib
import json
import os
from typing import Sequence

CONFIG_KEYS = {
    "model", "scale", "loss", "data", "optimizer", "schedule", "clip", "iterations", "epochs",
    "iters_per_epoch", "phases", "frozen", "eval", "checkpoint_every", "log_every", "seed", "threads",
    "device", "amp", "channels_last", "compile", "profile", "experiment", "notes",
}

#: Keys that only describe a run (captions, provenance, where it is filed), as dotted paths: they
#: change no weight, log row or metric, so :func:`srlib.runs.run_hash` leaves them out.
DISPLAY_KEYS = ("experiment", "notes", "profile", "model.label")

#: The metrics an evaluation logs when ``config["eval"]`` names none (:data:`srlib.metrics.METRICS`).
DEFAULT_EVAL_METRICS = ("psnr", "ssim")


def default_threads() -> int:
    """CPU threads of a run whose config gives none: ``min(2, os.cpu_count())``."""
    return max(1, min(2, os.cpu_count() or 1))


def import_object(spec: str):
    """``"package.module:attribute"`` -> the attribute (for callbacks named in JSON configs)."""
    if not isinstance(spec, str) or ":" not in spec:
        raise ValueError(f"expected 'package.module:function', got {spec!r}")
    mod, _, attr = spec.partition(":")
    obj = importlib.import_module(mod)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


def total_iterations(config: dict) -> int:
    """Iterations of a config: ``iterations``, ``epochs * iters_per_epoch`` or the phases' sum."""
    if config.get("phases"):
        return sum(int(p["iterations"]) for p in config["phases"])
    if "epochs" in config:
        if "iters_per_epoch" not in config:
            raise ValueError("config gives 'epochs' but not 'iters_per_epoch'; training is counted in iterations, say how many make an epoch")
        return int(config["epochs"]) * int(config["iters_per_epoch"])
    if "iterations" not in config:
        raise ValueError("config needs 'iterations' (or 'epochs' + 'iters_per_epoch', or 'phases')")
    return int(config["iterations"])


def eval_metrics(config: dict) -> list[str]:
    """The metric names ``config``'s evaluations log (``eval.metrics``, default ``["psnr", "ssim"]``)."""
    names = (config.get("eval") or {}).get("metrics")
    if names is None:
        return list(DEFAULT_EVAL_METRICS)
    if isinstance(names, str) or not all(isinstance(n, str) for n in names) or not names:
        raise ValueError(f"config['eval']['metrics'] must be a non-empty list of metric names, got {names!r}")
    return list(names)


def check_config(config: dict) -> None:
    """Raise a ValueError naming unknown or missing keys."""
    unknown = sorted(set(config) - CONFIG_KEYS)
    if unknown:
        raise ValueError(f"unknown config keys {unknown}; known keys: {sorted(CONFIG_KEYS)}")
    for key in ("model", "scale", "loss", "data"):
        if key not in config:
            raise ValueError(f"config needs {key!r} (see srlib.profiles for complete examples)")
    if "name" not in config["model"]:
        raise ValueError("config['model'] needs 'name' (a srlib.models name) and optional 'args'")
    total_iterations(config)
    eval_metrics(config)


def _parse_value(text: str):
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def apply_overrides(config: dict, assignments: Sequence[str]) -> dict:
    """``["optimizer.lr=1e-3", "eval.sets=[\\"Set5\\"]"]`` -> a deep copy with those keys set (values as JSON, else strings)."""
    config = copy.deepcopy(config)
    for a in assignments or ():
        if "=" not in a:
            raise ValueError(f"--set expects key=value (dotted keys for nested ones), got {a!r}")
        key, _, text = a.partition("=")
        node = config
        parts = key.split(".")
        for p in parts[:-1]:
            node = node.setdefault(p, {})
            if not isinstance(node, dict):
                raise ValueError(f"--set {key}: {p!r} is not a section of the config")
        node[parts[-1]] = _parse_value(text)
    return config
