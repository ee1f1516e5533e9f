"""The run store: a training run is named by the hash of what changes its result.

**Run identity.** ``run_hash(config)`` = first 16 hex digits of SHA-256 over canonical JSON
(sorted keys, no spaces) of ``{"config": run_identity(config), "srlib": srlib.__version__}``.
:func:`run_identity` is the config without the keys that only describe a run
(:data:`srlib.config.DISPLAY_KEYS`: ``experiment``, ``notes``, ``profile``, ``model.label``) and
without ``eval.metrics`` when it names the default ``["psnr", "ssim"]``. Everything that can
change the weights, the log or the final metrics is kept: model name and args, scale, loss, data,
optimizer, schedule, clip, length (``iterations`` / ``epochs`` + ``iters_per_epoch`` /
``phases``), ``frozen``, every ``eval`` setting, ``checkpoint_every``, ``log_every``, ``seed``,
``threads``, ``device``, ``amp``, ``channels_last``, ``compile``. A config without display keys
hashes as it did before this rule. So two experiments with the same training config are one run.

**Where a run lives.** ``<root>/<experiment>/<hash>/``, under the experiment that first trained
it (``root`` = ``results/runs``, or ``data/runs`` for smoke runs)::

    config.json    the config, written first (display keys as the first trainer gave them)
    log.csv        the training log (iteration, loss, lr, seconds, <set>_<metric>, ...)
    checkpoint.pt  the final checkpoint, only if smaller than ``checkpoint_limit_mb`` (5 MB);
                   larger ones and every in-progress checkpoint stay under
                   data/checkpoints/<experiment>/<hash>/ (git-ignored)
    final.json     written last and atomically: a run without it is not finished; it keeps
                   the ``experiment`` that trained it (provenance) and the ``hash``

**Lookup order** (:func:`find_run`, used by :func:`get_or_train`, :func:`get_or_train_many` and
:func:`run_dir`): the finished run (one with ``final.json``) of hash ``h`` in
(1) ``<root>/<experiment>/<h>/``, else (2) ``<root>/<other experiment>/<h>/``, the other
experiment folders of the same root in sorted name order, first found wins. Only finished runs
are shared: an unfinished ``<root>/<experiment>/<h>/`` is resumed from its checkpoint, and with
no run found the config is trained there. A found run's ``config.json`` must have the same
identity as the config asked for (else a ValueError: the store is inconsistent). A run made on
another machine (a GPU) is committed as it is and found by its hash.

:func:`migrate_store` renames runs filed under an older hash rule to their hash under this one.
The ``train`` and ``eval`` commands of ``python -m srlib`` are defined here.
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
from srlib.config import DEFAULT_EVAL_METRICS, DISPLAY_KEYS, check_config

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


def run_identity(config: dict) -> dict:
    """What names a run: a copy of ``config`` without its display keys (:data:`srlib.config.DISPLAY_KEYS`)
    and without ``eval.metrics`` when it is the default. Dicts that are not run configs (no such
    keys) come back unchanged."""
    out = dict(config)
    for dotted in DISPLAY_KEYS:
        *parents, last = dotted.split(".")
        node, path = out, []
        for part in parents:
            if not isinstance(node.get(part), dict):
                node = None
                break
            path.append(part)
            node = node[part]
        if node is None or last not in node:
            continue
        # copy the dicts on the way down: the caller's config is never changed
        node = out
        for part in path:
            node[part] = dict(node[part])
            node = node[part]
        del node[last]
    ev = out.get("eval")
    if isinstance(ev, dict) and "metrics" in ev and list(ev["metrics"] or ()) == list(DEFAULT_EVAL_METRICS):
        out["eval"] = {k: v for k, v in ev.items() if k != "metrics"}
    return out


def run_hash(config: dict) -> str:
    """The run's name: hash of :func:`run_identity` of the config and the srlib version."""
    text = canonical_json({"config": run_identity(config), "srlib": srlib.__version__})
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

        from srlib.train import build_model  # torch: imported on use

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


def _experiment_of(config: dict, experiment: str | None) -> str:
    experiment = experiment if experiment is not None else config.get("experiment")
    if not experiment or not isinstance(experiment, str) or "/" in experiment or experiment.startswith("."):
        raise ValueError(f"experiment must be a plain name like 'engine.srcnn_x2', got {experiment!r}")
    return experiment


def find_run(config: dict, experiment: str | None = None, root=None) -> Path | None:
    """The directory of the finished run of ``config``, by the lookup order of this module, or None.

    ``experiment`` defaults to ``config["experiment"]``; ``root`` to :func:`default_root`.
    """
    experiment = _experiment_of(config, experiment)
    h = run_hash(config)
    base = Path(root or default_root(config))
    others = sorted(p for p in base.iterdir() if p.is_dir() and p.name != experiment) if base.is_dir() else []
    for d in [base / experiment / h] + [p / h for p in others]:
        if (d / "final.json").exists():
            stored = json.loads((d / "config.json").read_text())
            if canonical_json(run_identity(stored)) != canonical_json(run_identity(config)):
                raise ValueError(f"{d}/config.json is not the config that hashes to {h} (after dropping display keys); "
                                 "the run store is inconsistent: run srlib.runs.migrate_store, or delete that run")
            return d
    return None


def run_dir(config: dict, experiment: str | None = None, root=None) -> Path:
    """The run of ``config``: its finished run wherever the lookup order finds it, else
    ``<root>/<experiment>/<hash>/`` where it is (or would be) trained. ``experiment`` defaults to
    ``config["experiment"]``."""
    found = find_run(config, experiment, root)
    if found is not None:
        return found
    return Path(root or default_root(config)) / _experiment_of(config, experiment) / run_hash(config)


def get_or_train(config: dict, experiment: str | None = None, force: bool = False, root=None, checkpoint_root=None,
                 checkpoint_limit_mb: float = CHECKPOINT_LIMIT_MB, progress: bool = True, evaluate=None) -> Run:
    """The finished run of ``config`` (lookup order in the module docstring); trains (or resumes)
    it under ``<root>/<experiment>/<hash>/`` first when none is found.

    ``experiment`` defaults to ``config["experiment"]``. ``force=True`` deletes this
    experiment's run and its checkpoints and trains it there from scratch (runs of the same hash
    in other experiment folders are left alone). ``evaluate`` replaces
    :func:`srlib.metrics.evaluate_model` (tests).
    """
    from srlib.train import train  # torch: imported on use

    experiment = _experiment_of(config, experiment)
    check_config(config)
    h = run_hash(config)
    base = Path(root or default_root(config))
    d = base / experiment / h
    ck_root = Path(checkpoint_root or DEFAULT_CHECKPOINT_ROOT)
    work_ckpt = ck_root / experiment / h / "checkpoint.pt"
    if force:
        shutil.rmtree(d, ignore_errors=True)
        shutil.rmtree(work_ckpt.parent, ignore_errors=True)
    else:
        found = find_run(config, experiment, base)
        if found is not None:
            return Run(found, ck_root)
    d.mkdir(parents=True, exist_ok=True)
    if (d / "config.json").exists():
        stored = json.loads((d / "config.json").read_text())
        if canonical_json(run_identity(stored)) != canonical_json(run_identity(config)):
            raise ValueError(f"{d}/config.json differs from the config that hashes to {h}; delete {d} or train with force=True")
    else:
        write_text(d / "config.json", json.dumps(config, indent=2, sort_keys=True) + "\n")
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
    from srlib.train import resolve_device  # torch: imported on use

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
    :func:`get_or_train` (from any experiment folder); jobs with one hash are trained once (in the
    first job's experiment) unless ``force``. ``kwargs`` (``root``, ``checkpoint_root``, ``force``,
    ...) go to it. A failing run raises after the others have finished, naming its experiment and hash.
    """
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    jobs = [(c, e) for c, e in jobs]
    root = kwargs.get("root")
    todo, seen = [], set()
    for i, (c, e) in enumerate(jobs):
        key = (str(Path(root or default_root(c))), run_hash(c)) + ((e,) if kwargs.get("force") else ())
        if key in seen or not (kwargs.get("force") or find_run(c, e, root) is None):
            continue
        seen.add(key)
        todo.append(i)
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


# ----------------------------------------------------------------------------- migration
def _same_run(a: Path, b: Path) -> bool:
    """Two run directories hold the same run: the same files, byte for byte, except ``config.json``
    (same identity) and ``final.json`` (equal apart from ``hash``)."""
    names = sorted(p.name for p in a.iterdir())
    if names != sorted(p.name for p in b.iterdir()):
        return False
    for name in names:
        x, y = a / name, b / name
        if name == "config.json":
            same = run_identity(json.loads(x.read_text())) == run_identity(json.loads(y.read_text()))
        elif name == "final.json":
            fx, fy = json.loads(x.read_text()), json.loads(y.read_text())
            fx.pop("hash", None)
            fy.pop("hash", None)
            same = fx == fy
        else:
            same = x.is_file() and y.is_file() and x.read_bytes() == y.read_bytes()
        if not same:
            return False
    return True


def migrate_store(root=None, checkpoint_root=None, dry_run: bool = False) -> list[dict]:
    """Rename every ``<root>/<experiment>/<old hash>/`` to the hash its ``config.json`` has under the
    current rule (:func:`run_hash`), set ``hash`` in its ``final.json``, and move its checkpoints
    under ``checkpoint_root`` (``data/checkpoints``) along. Returns one dict per change
    (``experiment``, ``old``, ``new``, ``action`` = ``"rename"`` or ``"drop duplicate"``).

    Runs are only renamed inside their experiment folder. Two runs of one experiment that now share
    a hash are one run: if they hold the same files (:func:`_same_run`) the extra copy is dropped,
    otherwise nothing at all is changed and a ValueError names them. Directories whose
    ``config.json`` already hashes to their name, or that hold no run config (no ``config.json``, or
    one without ``model``, like the attention explorer's snapshot sets), are left alone, so running
    it twice changes nothing. ``dry_run=True`` only reports.
    """
    root = Path(root or DEFAULT_ROOT)
    ck_root = Path(checkpoint_root or DEFAULT_CHECKPOINT_ROOT)
    plan: dict[tuple[str, str], list[Path]] = {}
    for exp in sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []:
        for d in sorted(p for p in exp.iterdir() if p.is_dir() and (p / "config.json").exists()):
            config = json.loads((d / "config.json").read_text())
            if not (isinstance(config, dict) and "model" in config):
                continue  # not a run (e.g. the attention explorer's snapshots, keyed by their own dict)
            plan.setdefault((exp.name, run_hash(config)), []).append(d)
    changes, errors = [], []
    for (exp, new), dirs in plan.items():
        target = root / exp / new
        movers = [d for d in dirs if d.name != new]
        if not movers:
            continue
        keep = target if target.exists() else movers[0]
        for d in dirs:
            if d != keep and not _same_run(d, keep):
                errors.append(f"{exp}: runs {keep.name} and {d.name} both hash to {new} now but hold different results")
        for d in movers:
            changes.append({"experiment": exp, "old": d.name, "new": new,
                            "action": "rename" if d == keep else "drop duplicate", "dir": d})
    if errors:
        raise ValueError("migrate_store: nothing changed; resolve these collisions first (keep one run of each):\n"
                         + "\n".join(errors))
    if dry_run:
        return [{k: v for k, v in c.items() if k != "dir"} for c in changes]
    for c in changes:
        d, exp, old, new = c.pop("dir"), c["experiment"], c["old"], c["new"]
        if c["action"] == "drop duplicate":
            shutil.rmtree(d)
            continue
        os.rename(d, root / exp / new)
        old_ck, new_ck = ck_root / exp / old, ck_root / exp / new
        if old_ck.is_dir() and not new_ck.exists():
            new_ck.parent.mkdir(parents=True, exist_ok=True)
            os.rename(old_ck, new_ck)
        final_path = root / exp / new / "final.json"
        if final_path.exists():
            final = json.loads(final_path.read_text())
            final["hash"] = new
            ck = final.get("checkpoint")
            if isinstance(ck, str) and ck != "checkpoint.pt":
                final["checkpoint"] = ck.replace(f"/{exp}/{old}/", f"/{exp}/{new}/")
            _write_json(final_path, final)
    return changes


# ----------------------------------------------------------------------------- CLI
def _metrics_line(res: dict) -> str:
    parts = []
    for k, v in res.items():
        if k == "psnr":
            parts.append(f"PSNR {v:.2f} dB")
        elif k == "ssim":
            parts.append(f"SSIM {v:.4f}")
        elif isinstance(v, (int, float)):
            parts.append(f"{k} {v:.4g}")
    return ", ".join(parts)


def _train_args(p):
    import argparse

    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.epilog = (
        "examples:\n"
        "  python -m srlib train --list\n"
        "  python -m srlib train --experiment engine.srcnn_x2\n"
        "  python -m srlib train --experiment engine.srcnn_x2 --profile smoke --seed 1\n"
        "  python -m srlib train --experiment engine.srcnn_x2 --set optimizer.lr=3e-4 --set iterations=500 --force\n"
        "Finished runs are reused (results/runs/<experiment>/<hash>/, or a run of the same training config\n"
        "filed under another experiment); --force retrains."
    )
    p.add_argument("--experiment", default=None, help="a key registered in srlib.profiles (see --list)")
    p.add_argument("--list", action="store_true",
                   help="print every registered experiment with its one-line description at --profile, and exit")
    p.add_argument("--profile", default=None, help="smoke, cpu or paper (default: $SRLIB_PROFILE or cpu)")
    p.add_argument("--seed", type=int, default=None, help="override the config's seed")
    p.add_argument("--force", action="store_true", help="retrain even if a finished run exists")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config value (dotted key, JSON value), repeatable")
    p.add_argument("--root", default=None, help="run store root (default results/runs in the repository)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def _train_run(args) -> int:
    import sys

    from srlib import profiles
    from srlib.config import apply_overrides

    profile = profiles.check_profile(args.profile) if args.profile else profiles.current()
    if args.list:
        for key in profiles.keys():
            print(f"{key}: {profiles.describe(profiles.get(profile, key))}")
        return 0
    if not args.experiment:
        print("python -m srlib train: give --experiment KEY (python -m srlib train --list shows the keys)", file=sys.stderr)
        return 2
    config = profiles.get(profile, args.experiment)
    config = apply_overrides(config, args.overrides)
    if args.seed is not None:
        config["seed"] = args.seed
    kwargs = {"root": args.root} if args.root else {}
    run = get_or_train(config, args.experiment, force=args.force, progress=not args.no_progress, **kwargs)
    print(profiles.describe(config, run.final))
    print(f"run: {run.dir}")
    for name, res in run.final.get("metrics", {}).items():
        print(f"  {name}: {_metrics_line(res)}")
    return 0


def _eval_args(p):
    import argparse

    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.epilog = (
        "examples:\n"
        "  python -m srlib eval --run results/runs/engine.srcnn_x2/<hash> --sets Set5 Set14 --scale 2\n"
        "  python -m srlib eval --run results/runs/engine.srcnn_x2/<hash> --sets Set5 --max-images 2"
    )
    p.add_argument("--run", required=True, help="a run directory (with config.json and a checkpoint)")
    p.add_argument("--sets", nargs="+", default=["Set5"], help="test sets (default Set5)")
    p.add_argument("--scale", type=float, default=None, help="scale (default: the run's)")
    p.add_argument("--max-images", type=int, default=None, help="evaluate only the first N images of each set")
    p.add_argument("--metrics", nargs="+", default=None,
                   help="metric names of srlib.metrics.METRICS (default: the run's eval.metrics, else psnr ssim)")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda")


def _eval_run(args) -> int:
    import torch

    from srlib.config import eval_metrics
    from srlib.metrics import evaluate_model
    from srlib.train import resolve_device

    run = Run(args.run)
    device = resolve_device(args.device)
    model = run.load_model(device=device)
    scale = args.scale if args.scale is not None else run.config["scale"]
    if scale == int(scale):
        scale = int(scale)
    metrics = args.metrics or eval_metrics(run.config)
    print(f"run {run.dir} ({run.config['model']['name']}, x{scale})")
    for name in args.sets:
        kwargs = {"device": device, "metrics": metrics}
        if args.max_images is not None:
            kwargs["max_images"] = args.max_images
        with torch.no_grad():
            res = evaluate_model(model, name, scale, **kwargs)
        print(f"  {name}: {_metrics_line(res)}")
    return 0


def reproduce(config: dict, experiment: str | None = None, root=None, scratch=None, progress: bool = True) -> dict:
    """Retrain ``config``'s committed run from an empty run store and compare it with the committed one.

    The committed run is looked up in ``root`` (default ``results/runs``; it must exist: a missing run is an
    error naming the experiment and hash); the fresh one is trained under ``scratch`` (a new temporary
    folder, removed afterwards unless given). Returns ``committed`` and ``fresh`` (Runs), ``metrics`` (one row
    per set and metric: committed, fresh, difference), ``max_abs_difference`` of the final metrics,
    ``weights_max_abs_difference`` (when both checkpoints exist, else None), ``seconds`` of the retraining
    and ``identical`` (every metric equal and, when compared, every weight)."""
    import shutil
    import tempfile
    import time

    experiment = _experiment_of(config, experiment)
    h = run_hash(config)
    committed_dir = find_run(config, experiment, root=root)
    if committed_dir is None:
        raise FileNotFoundError(f"reproduce: no finished run of {experiment} (hash {h}) in "
                                f"{Path(root or default_root(config))}; train it first (python -m srlib train --experiment {experiment})")
    committed = Run(committed_dir)
    own_scratch = scratch is None
    scratch = Path(tempfile.mkdtemp(prefix="srlib-reproduce-")) if own_scratch else Path(scratch)
    try:
        t0 = time.perf_counter()
        fresh = get_or_train(config, experiment, root=scratch / "runs", checkpoint_root=scratch / "checkpoints",
                             progress=progress, checkpoint_limit_mb=float("inf"))
        seconds = time.perf_counter() - t0
        rows = []
        for set_name, res in committed.final.get("metrics", {}).items():
            for metric, value in res.items():
                new = fresh.final["metrics"].get(set_name, {}).get(metric, float("nan"))
                rows.append({"set": set_name, "metric": metric, "committed": value, "fresh": new, "difference": new - value})
        max_diff = max((abs(r["difference"]) for r in rows), default=float("nan"))
        weights_diff = None
        if committed.checkpoint_path is not None and fresh.checkpoint_path is not None:
            import torch

            a = committed.load_model().state_dict()
            b = fresh.load_model().state_dict()
            weights_diff = max(float((a[k].float() - b[k].float()).abs().max()) for k in a) if a.keys() == b.keys() else float("inf")
        identical = max_diff == 0.0 and (weights_diff is None or weights_diff == 0.0)
        return {"committed": committed, "fresh": fresh, "metrics": rows, "max_abs_difference": max_diff,
                "weights_max_abs_difference": weights_diff, "seconds": seconds, "identical": identical}
    finally:
        if own_scratch:
            shutil.rmtree(scratch, ignore_errors=True)


def _reproduce_args(p):
    import argparse

    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.epilog = (
        "examples:\n"
        "  python -m srlib reproduce --experiment pspl.table1_srcnn_baseline --seed 0\n"
        "  python -m srlib reproduce --experiment pspl.fig4_baseline --seed 1 --profile cpu\n"
        "Retrains the run in a temporary, empty run store (the committed store is not touched) and prints the\n"
        "committed and fresh final metrics side by side; exit status 1 if any differs."
    )
    p.add_argument("--experiment", required=True, help="a key registered in srlib.profiles (python -m srlib train --list)")
    p.add_argument("--profile", default=None, help="smoke, cpu or paper (default: $SRLIB_PROFILE or cpu)")
    p.add_argument("--seed", type=int, default=None, help="override the config's seed")
    p.add_argument("--root", default=None, help="run store holding the committed run (default results/runs)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def _reproduce_run(args) -> int:
    from srlib import profiles

    profile = profiles.check_profile(args.profile) if args.profile else profiles.current()
    config = profiles.get(profile, args.experiment)
    if args.seed is not None:
        config["seed"] = args.seed
    out = reproduce(config, args.experiment, root=args.root, progress=not args.no_progress)
    print(f"{args.experiment} (seed {config['seed']}, {profile} profile, hash {run_hash(config)}): retrained from an "
          f"empty store in {out['seconds']:.0f} s wall")
    print(f"  {'set':10s} {'metric':8s} {'committed':>12s} {'fresh':>12s} {'difference':>11s}")
    for r in out["metrics"]:
        print(f"  {r['set']:10s} {r['metric']:8s} {r['committed']:12.6f} {r['fresh']:12.6f} {r['difference']:+11.2e}")
    w = out["weights_max_abs_difference"]
    print("  weights: " + ("not compared (the committed run keeps no checkpoint)" if w is None
                           else f"max |committed - fresh| = {w:.3g}"))
    print("IDENTICAL" if out["identical"] else "DIFFERS")
    return 0 if out["identical"] else 1


def cli_commands():
    return [
        ("train", "train a model from a config (through the run store)", _train_args, _train_run),
        ("eval", "evaluate a trained run or checkpoint on test sets", _eval_args, _eval_run),
        ("reproduce", "retrain a committed run from an empty store and compare", _reproduce_args, _reproduce_run),
    ]
