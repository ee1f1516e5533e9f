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


def _train_job(config: dict, experiment: str, kwargs: dict) -> str:
    """One job of :func:`get_or_train_many` in a worker process (a top-level function: picklable)."""
    return str(get_or_train(config, experiment, **kwargs).dir)


def _cpu_only(config: dict) -> bool:
    from srlib.train import resolve_device

    return resolve_device(config.get("device", "auto")).type == "cpu"


def train_workers(configs: list[dict]) -> int:
    """How many runs of ``configs`` to train side by side: ``$SRLIB_TRAIN_WORKERS`` if set, else
    CPU cores // threads per run when every run is on the CPU with a fixed ``threads``, else 1
    (runs that share a GPU, or that use every core, are trained one after the other)."""
    env = os.environ.get("SRLIB_TRAIN_WORKERS")
    if env:
        try:
            n = int(env)
        except ValueError:
            raise ValueError(f"SRLIB_TRAIN_WORKERS must be a whole number, got {env!r}") from None
        if n < 1:
            raise ValueError(f"SRLIB_TRAIN_WORKERS must be >= 1, got {n}")
        return n
    if not configs or not all(c.get("threads") and _cpu_only(c) for c in configs):
        return 1
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, cores // max(int(c["threads"]) for c in configs))


def get_or_train_many(jobs, workers: int | None = None, progress: bool = True, **kwargs) -> list[Run]:
    """:func:`get_or_train` for each ``(config, experiment)`` of ``jobs``, training the missing runs
    ``workers`` at a time in separate processes (default :func:`train_workers`); returns the runs
    in the order of ``jobs``.

    A run's result does not depend on where it is trained (its seed, data order and thread count
    come from its config), so this only changes the wall time. Finished runs are reused as by
    :func:`get_or_train`; ``kwargs`` (``root``, ``checkpoint_root``, ``force``, ...) go to it.
    A failing run raises after the others have finished, naming its experiment and hash.
    """
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    jobs = [(c, e) for c, e in jobs]
    root = kwargs.get("root")
    todo = [i for i, (c, e) in enumerate(jobs)
            if kwargs.get("force") or not (Path(root or default_root(c)) / e / run_hash(c) / "final.json").exists()]
    n = min(workers or train_workers([jobs[i][0] for i in todo]), len(todo))
    if n > 1 and kwargs.get("evaluate") is not None:
        raise ValueError("get_or_train_many: a custom evaluate function cannot be sent to worker processes; use workers=1")
    if n > 1:
        bar = None
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=len(todo), desc=f"training {len(todo)} runs, {n} at a time", unit="run")
        errors = []
        # spawn: a fresh interpreter per worker (forking a process that already runs torch threads can hang)
        with ProcessPoolExecutor(max_workers=n, mp_context=multiprocessing.get_context("spawn")) as pool:
            futures = {pool.submit(_train_job, jobs[i][0], jobs[i][1], {**kwargs, "progress": False}): i for i in todo}
            for f in as_completed(futures):
                i = futures[f]
                if f.exception() is not None:
                    errors.append(f"{jobs[i][1]}/{run_hash(jobs[i][0])}: {f.exception()!r}")
                if bar is not None:
                    bar.update(1)
        if bar is not None:
            bar.close()
        if errors:
            raise RuntimeError(f"{len(errors)} of {len(todo)} runs failed:\n" + "\n".join(errors))
        kwargs.pop("force", None)  # trained just now: do not delete them again below
    return [get_or_train(c, e, progress=progress, **kwargs) for c, e in jobs]


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
