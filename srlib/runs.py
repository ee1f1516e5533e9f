"""The run store: a training run is named by the hash of its full config.

``run_hash(config)`` = first 16 hex digits of SHA-256 over canonical JSON (sorted keys, no
spaces) of ``{"config": config, "srlib": srlib.__version__}``. A run lives in
``results/runs/<experiment>/<hash>/``::

    config.json    the config, written first
    log.csv        the training log (iteration, loss, lr, seconds, <set>_psnr, ...)
    checkpoint.pt  the final checkpoint, only if smaller than ``checkpoint_limit_mb`` (5 MB);
                   larger ones and every in-progress checkpoint stay under
                   data/checkpoints/<experiment>/<hash>/ (git-ignored)
    final.json     written last and atomically: a run without it is not finished

:func:`get_or_train` returns a finished run without training, resumes an unfinished one from its
checkpoint, and trains otherwise. A run directory made on another machine (a GPU) is committed
as it is and found by its hash.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from pathlib import Path

import srlib
from srlib.atomic import atomic_open, write_text

REPO_ROOT = srlib.REPO_ROOT
DEFAULT_ROOT = REPO_ROOT / "results" / "runs"
DEFAULT_CHECKPOINT_ROOT = REPO_ROOT / "data" / "checkpoints"
# smoke-profile runs (CI, nbval) are scratch: they go under data/ (git-ignored), not results/
SCRATCH_PROFILES = ("smoke",)
SCRATCH_ROOT = REPO_ROOT / "data" / "runs"
CHECKPOINT_LIMIT_MB = 5.0


def canonical_json(obj) -> str:
    """Sorted keys, no spaces, tuples as lists; raises TypeError for values JSON cannot hold."""
    try:
        return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)
    except (TypeError, ValueError) as e:
        raise TypeError(f"a run config must be plain JSON (dicts, lists, str, int, float, bool, None): {e}") from None


def run_hash(config: dict) -> str:
    """The run's name: hash of the config and the srlib version."""
    text = canonical_json({"config": config, "srlib": srlib.__version__})
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _write_json(path: Path, obj) -> None:
    write_text(path, json.dumps(obj, indent=2, sort_keys=True) + "\n")


class Run:
    """A run directory: ``.config``, ``.log`` (DataFrame), ``.final`` (dict or None), ``.dir``."""

    def __init__(self, directory, checkpoint_root=None):
        self.dir = Path(directory)
        if not (self.dir / "config.json").exists():
            raise FileNotFoundError(f"{self.dir} is not a run directory (no config.json); train it with srlib.runs.get_or_train")
        self.config = json.loads((self.dir / "config.json").read_text())
        self.hash = self.dir.name
        self.experiment = self.dir.parent.name
        self._checkpoint_root = Path(checkpoint_root) if checkpoint_root else DEFAULT_CHECKPOINT_ROOT

    def __repr__(self):
        return f"Run({self.experiment}/{self.hash}, finished={self.finished})"

    @property
    def finished(self) -> bool:
        return (self.dir / "final.json").exists()

    @property
    def final(self) -> dict | None:
        p = self.dir / "final.json"
        return json.loads(p.read_text()) if p.exists() else None

    @property
    def log(self):
        import pandas as pd

        p = self.dir / "log.csv"
        return pd.read_csv(p) if p.exists() else pd.DataFrame()

    @property
    def checkpoint_path(self) -> Path | None:
        """The checkpoint in the run directory, else the one under the checkpoint root, else None."""
        for p in (self.dir / "checkpoint.pt", self._checkpoint_root / self.experiment / self.hash / "checkpoint.pt"):
            if p.exists():
                return p
        return None

    def load_model(self, device="cpu"):
        """The trained model (built from the config, weights from the checkpoint), in eval mode."""
        import torch

        from srlib.train import build_model

        ckpt = self.checkpoint_path
        if ckpt is None:
            raise FileNotFoundError(
                f"run {self.dir} has no checkpoint (looked in the run folder and under {self._checkpoint_root}); "
                "retrain it with get_or_train(config, experiment, force=True)"
            )
        model = build_model(self.config)
        state = torch.load(ckpt, map_location="cpu", weights_only=False)
        model.load_state_dict(state["model"])
        return model.to(device).eval()


def default_root(config: dict | None = None) -> Path:
    """Where a run of ``config`` lives: ``results/runs`` (committed), or ``data/runs`` for smoke runs."""
    if config and config.get("profile") in SCRATCH_PROFILES:
        return SCRATCH_ROOT
    return DEFAULT_ROOT


def run_dir(config: dict, experiment: str, root=None) -> Path:
    return Path(root or default_root(config)) / experiment / run_hash(config)


def get_or_train(config: dict, experiment: str, force: bool = False, root=None, checkpoint_root=None,
                 checkpoint_limit_mb: float = CHECKPOINT_LIMIT_MB, progress: bool = True, evaluate=None) -> Run:
    """The finished run of ``config``; trains (or resumes) it first when needed.

    ``force=True`` deletes the run and its checkpoints and trains from scratch. ``evaluate``
    replaces :func:`srlib.metrics.evaluate_model` (tests).
    """
    from srlib.train import check_config, train

    if not experiment or "/" in experiment or experiment.startswith("."):
        raise ValueError(f"experiment must be a plain name like 'engine.srcnn_x2', got {experiment!r}")
    check_config(config)
    h = run_hash(config)
    d = Path(root or default_root(config)) / experiment / h
    ck_root = Path(checkpoint_root or DEFAULT_CHECKPOINT_ROOT)
    work_ckpt = ck_root / experiment / h / "checkpoint.pt"
    if force:
        shutil.rmtree(d, ignore_errors=True)
        shutil.rmtree(work_ckpt.parent, ignore_errors=True)
    if (d / "final.json").exists():
        return Run(d, ck_root)
    d.mkdir(parents=True, exist_ok=True)
    config_text = json.dumps(config, indent=2, sort_keys=True) + "\n"
    if (d / "config.json").exists() and json.loads((d / "config.json").read_text()) != json.loads(config_text):
        raise ValueError(f"{d}/config.json differs from the config that hashes to {h}; delete {d} or train with force=True")
    write_text(d / "config.json", config_text)
    # an unfinished run may have left its final checkpoint in the run folder: resume from there too
    if not work_ckpt.exists() and (d / "checkpoint.pt").exists():
        work_ckpt.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(d / "checkpoint.pt", work_ckpt)
    final = train(config, d, checkpoint_path=work_ckpt, resume=True, progress=progress, evaluate=evaluate)
    size_mb = work_ckpt.stat().st_size / 2**20
    if size_mb <= checkpoint_limit_mb:
        with atomic_open(d / "checkpoint.pt", "wb") as f, open(work_ckpt, "rb") as src:
            shutil.copyfileobj(src, f)
        work_ckpt.unlink()
        final["checkpoint"] = "checkpoint.pt"
    else:
        final["checkpoint"] = str(work_ckpt.relative_to(REPO_ROOT)) if work_ckpt.is_relative_to(REPO_ROOT) else str(work_ckpt)
    final.update({"experiment": experiment, "hash": h, "srlib": srlib.__version__,
                  "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "checkpoint_mb": round(size_mb, 3)})
    _write_json(d / "final.json", final)
    return Run(d, ck_root)


def _lookup(config: dict, dotted: str):
    node = config
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return _MISSING
        node = node[part]
    return node


_MISSING = object()


def find(experiment: str, root=None, finished: bool = True, checkpoint_root=None, **filters) -> list[Run]:
    """Runs of ``experiment`` whose config matches ``filters``, oldest first.

    Nested keys use ``__``: ``find("pspl", model__name="edsr", seed=0)`` matches
    ``config["model"]["name"] == "edsr"`` and ``config["seed"] == 0``.
    """
    bases = [Path(root) / experiment] if root else [DEFAULT_ROOT / experiment, SCRATCH_ROOT / experiment]
    out = []
    for d in sorted(p for base in bases if base.is_dir() for p in base.iterdir()):
        if not (d / "config.json").exists() or (finished and not (d / "final.json").exists()):
            continue
        run = Run(d, checkpoint_root)
        if all(_lookup(run.config, k.replace("__", ".")) == v for k, v in filters.items()):
            out.append(run)
    out.sort(key=lambda r: (r.dir / ("final.json" if r.finished else "config.json")).stat().st_mtime)
    return out
