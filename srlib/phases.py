"""Phased training of chained blocks (the multiblock report, 002): a schedule of stages, each stage a
:class:`~srlib.train.Trainer` run with checkpoints, regenerated inputs LR_k between them, and resume
after a kill anywhere.

**A schedule** is a plain JSON dict (hashable like a run config, :func:`schedule_hash`)::

    {"block": {"kind": "rcab", "args": {"n_rcab": 16, "n_feats": 64, "reduction": 4, "init": "orthogonal"}},
     "n_blocks": 3,
     "data": {"dataset": "RealSR", "test_per_camera": 2, "patch": 48, "batch": 16, "augment": True},
     "lr_cache": {"quantize": "round", "tiles": "whole"},
     "eval": {"every": 0, "crop": 1500},
     "stages": [...], "checkpoint_every": 500, "seed": 0, "threads": None, "device": "auto"}

The runner keeps the latest weights of every block (index ``0 .. n_blocks-1``) and a set of named
input sources: ``"LR"`` (the dataset's LR images, train and test split) and one per ``generate`` stage.
Two kinds of stage, run in order:

* ``{"kind": "train", "name", "blocks": [k, ...], "input": "LR", "iterations", "optimizer": {"name",
  "lr", "args"}, "schedule": {...} or None, "clamp": bool, "init": "fresh" | "inherit" | "inherit:<j>"
  (or one per block), "prefix": [j, ...], "patch", "batch"}`` trains the chain of ``blocks`` (each
  block's output clamped to [0, 1] when ``clamp``: N_k^+) on (input, HR) patches with an L1 loss.
  ``init``: ``fresh`` builds the block as ``block.args`` say (seeded by the stage), ``inherit`` copies
  the block's own latest weights (N_k -> N_k^+, blocks -> the combined N), ``inherit:<j>`` block j's
  (the report's N_2 from N_1). ``prefix`` blocks run frozen in front of the trained ones, on the fly
  (the toy model's N_2 trained on N_1(patch)). Every trained block's weights become its latest.
* ``{"kind": "generate", "name", "blocks": [k, ...], "input": source}`` runs every train and test image
  of ``input`` through the chain of ``blocks`` (each with the clamp it was last trained with) and makes
  the result the source ``name``: LR_k = N_k^+(LR_{k-1}). Whole images (``lr_cache.tiles = "whole"``)
  or the authors' code's 4 quadrants, each run alone (``"quadrants"``, seams zero-padded; here the
  bottom/right quadrants keep an odd last row/column instead of dropping it); 8 bits by rounding
  (``quantize = "round"``) or by truncation (``"truncate"``, the code's ``mul(255).byte()``).

**Files.** ``workdir`` (small, committable): ``schedule.json``; per stage ``stages/<NN>-<name>/`` with
``log.csv`` (the Trainer's), ``weights.pt`` (the blocks it trained) and ``done.json`` (written last,
atomically: final metrics, sha256 of the weights, what the stage depended on); ``final.json`` last of
all. ``scratch`` (git-ignored, default ``<workdir>/scratch``): the Trainer checkpoints
``checkpoints/<NN>-<name>.pt`` and the LR_k caches ``lr/<NN>-<name>/{train,test}/<stem>.png`` with
``COMPLETE.json``.

**Resume.** :meth:`PhaseRunner.run` is idempotent: a stage with a valid ``done.json`` (its weights'
sha256 matches and it depended on the same input and initial weights as now) is adopted as it is; an
unfinished stage resumes from its checkpoint (:meth:`Trainer.fit(resume=True)
<srlib.train.Trainer.fit>`); its fresh initialisation is seeded by ``(seed, stage index)`` and
its batches are a pure function of the iteration, so a run SIGKILLed in the middle of any stage or
between stages, then run again, ends with the same weights as an uninterrupted one (CPU; tested in
``tests/test_multiblock.py``). An LR_k cache is built in a temporary folder and moved into place
with :func:`srlib.atomic.replace_dir` after its ``COMPLETE.json`` (sha256 of every file and the key:
generating weights, input source, quantisation, tiling) is written; it is used only when that key
matches and every file has its recorded sha256, so a half-written or stale cache is never used: it is
rebuilt (same weights and inputs give the same bytes). A stage whose inputs changed (a rebuilt cache
that differs) is stale and is trained again.

:func:`report_schedule` (Sec. 3.2 / 4 of the report, or the authors' final code), :func:`single_schedule`
(the single-backprop baseline) and :func:`toy_schedule` (Sec. 3.1) build schedules;
:func:`get_or_run` files a schedule's results in the run store like a run.
"""
from __future__ import annotations

import copy
import hashlib
import json
import os
import re
import shutil
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch

from srlib import atomic
from srlib.data.files import sha256_file
from srlib.runs import DEFAULT_CHECKPOINT_ROOT, canonical_json, default_root, run_hash, run_identity

SOURCE_LR = "LR"
STAGE_KINDS = ("train", "generate")
QUANTIZE = ("round", "truncate")
TILES = ("whole", "quadrants")
SCHEDULE_KEYS = {"block", "n_blocks", "data", "lr_cache", "eval", "stages", "checkpoint_every", "log_every", "seed",
                 "threads", "device", "experiment", "notes", "profile"}
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_+.-]*$")

#: The report's stage lengths (Sec. 4.3 and Fig. 7): N_k 2,000; N_k^+ 3,000 at 1e-4 then 10,000 at 1e-5;
#: phase 4 5,000 at 1e-4 then 5,000 at 1e-5; single backprop 5,000 at 1e-4 then 20,000 at 1e-5.
REPORT_ITERATIONS = {"block": 2000, "plus": [3000, 10000], "combined": [5000, 5000], "single": [5000, 20000]}
#: The toy model's (Sec. 3.1): each block 1,000 at 1e-3, combined 500 at 1e-4; the deep N 1,000 at 1e-3 then 500 at 1e-4.
TOY_ITERATIONS = {"block": 1000, "combined": 500, "single": [1000, 500]}


class ScheduleError(ValueError):
    """A schedule that cannot run (unknown key, bad stage, a source or block used before it exists)."""


# ----------------------------------------------------------------------------- schedules
def _adam(lr: float) -> dict:
    return {"name": "adam", "lr": lr, "args": {"betas": [0.9, 0.999], "eps": 1e-8}}


def _two_rates(first: int, second: int, lr: float) -> tuple[dict, dict]:
    """Adam at ``lr`` for ``first`` iterations, then ``lr / 10`` for ``second`` (one optimizer, one stage)."""
    return _adam(lr), {"name": "multistep", "milestones": [int(first)], "gamma": 0.1}


def _base(block: dict, n_blocks: int, data: dict | None, patch: int, batch: int, lr_cache: dict, eval_every: int,
          eval_crop: int | None, checkpoint_every: int, seed: int, threads, device) -> dict:
    d = {"dataset": "RealSR", "test_per_camera": 2, "augment": True}
    d.update(data or {})
    d.update({"patch": int(patch), "batch": int(batch)})
    return {"block": block, "n_blocks": int(n_blocks), "data": d, "lr_cache": lr_cache,
            "eval": {"every": int(eval_every), "crop": eval_crop}, "checkpoint_every": int(checkpoint_every),
            "seed": int(seed), "threads": threads, "device": device, "stages": []}


def report_schedule(variant: str = "report", n_blocks: int = 3, block_args: dict | None = None,
                    iterations: dict | None = None, patch: int = 48, batch: int = 16,
                    combined_patch: int | None = None, combined_batch: int | None = None,
                    inherit: bool | None = None, quantize: str | None = None, tiles: str | None = None,
                    data: dict | None = None, eval_every: int = 0, eval_crop: int | None = 1500,
                    checkpoint_every: int = 500, seed: int = 0, threads=None, device="auto") -> dict:
    """The phased schedule of Sec. 3.2 / 4: for k = 1..n_blocks, N_k, N_k^+, LR_k (not after the last),
    then phase 4, the combined N.

    ``variant="report"`` follows the report: N_k with Adadelta (lr 1, rho 0.9, eps 1e-6, no weight
    decay); N_k^+ = inherit(N_k) with Adam 1e-4 then 1e-5; N_{k+1} initialised from N_k^+ (Sec. 4.2);
    phase 4 on the same patches as the blocks. ``variant="code"`` follows the authors' final scripts
    (``phase*-1.py``, ``phase4.py``; docs/AUTHORS_CODE.md "002"): N_k with Adam 1e-4; N_2, N_3 fresh
    (orthogonal) blocks; phase 4 with batch 8 and 120x120 patches; LR_k by truncation, in 4 quadrants.
    Each of ``inherit``, ``quantize``, ``tiles``, ``combined_patch``, ``combined_batch`` overrides its
    variant's value. ``iterations``: the stage lengths (keys of :data:`REPORT_ITERATIONS`; the
    report's by default). ``block_args``: the block's size (report: 16 RCABs, 64 features, reduction 4,
    orthogonal init).
    """
    if variant not in ("report", "code"):
        raise ScheduleError(f"variant {variant!r} is not 'report' or 'code'")
    code = variant == "code"
    it = {**REPORT_ITERATIONS, **(iterations or {})}
    inherit = (not code) if inherit is None else bool(inherit)
    lr_cache = {"quantize": quantize or ("truncate" if code else "round"), "tiles": tiles or ("quadrants" if code else "whole")}
    args = {"n_rcab": 16, "n_feats": 64, "reduction": 4, "init": "orthogonal", **(block_args or {})}
    s = _base({"kind": "rcab", "args": args}, n_blocks, data, patch, batch, lr_cache, eval_every, eval_crop,
              checkpoint_every, seed, threads, device)
    first = _adam(1e-4) if code else {"name": "adadelta", "lr": 1.0, "args": {"rho": 0.9, "eps": 1e-6, "weight_decay": 0}}
    plus_opt, plus_sched = _two_rates(it["plus"][0], it["plus"][1], 1e-4)
    source = SOURCE_LR
    for k in range(n_blocks):
        init = "fresh" if k == 0 or not inherit else f"inherit:{k - 1}"
        s["stages"].append({"kind": "train", "name": f"N{k + 1}", "blocks": [k], "input": source, "clamp": False,
                            "init": init, "iterations": int(it["block"]), "optimizer": first, "schedule": None})
        s["stages"].append({"kind": "train", "name": f"N{k + 1}+", "blocks": [k], "input": source, "clamp": True,
                            "init": "inherit", "iterations": int(sum(it["plus"])), "optimizer": plus_opt,
                            "schedule": plus_sched})
        if k < n_blocks - 1:
            s["stages"].append({"kind": "generate", "name": f"LR{k + 1}", "blocks": [k], "input": source})
            source = f"LR{k + 1}"
    opt, sched = _two_rates(it["combined"][0], it["combined"][1], 1e-4)
    s["stages"].append({"kind": "train", "name": "N", "blocks": list(range(n_blocks)), "input": SOURCE_LR, "clamp": True,
                        "init": "inherit", "iterations": int(sum(it["combined"])), "optimizer": opt, "schedule": sched,
                        "patch": int(combined_patch or (120 if code else patch)),
                        "batch": int(combined_batch or (8 if code else batch))})
    return s


def single_schedule(n_blocks: int = 3, block_args: dict | None = None, iterations: Sequence[int] | None = None,
                    patch: int = 48, batch: int = 16, clamp: bool = True, data: dict | None = None,
                    eval_every: int = 0, eval_crop: int | None = 1500, checkpoint_every: int = 500, seed: int = 0,
                    threads=None, device="auto", kind: str = "rcab") -> dict:
    """The single-backprop baseline: the combined N (fresh blocks, each output clamped when ``clamp``, the
    network phase 4 trains) trained end to end, Adam 1e-4 then 1e-5 (report: 5,000 + 20,000 iterations).
    The report does not say how this N was initialised or clamped; the blocks' own init is used."""
    first, second = iterations or REPORT_ITERATIONS["single"]
    args = {"n_rcab": 16, "n_feats": 64, "reduction": 4, "init": "orthogonal"} if kind == "rcab" else {}
    args.update(block_args or {})
    s = _base({"kind": kind, "args": args}, n_blocks, data, patch, batch, {"quantize": "round", "tiles": "whole"},
              eval_every, eval_crop, checkpoint_every, seed, threads, device)
    opt, sched = _two_rates(first, second, 1e-4)
    s["stages"].append({"kind": "train", "name": "single", "blocks": list(range(n_blocks)), "input": SOURCE_LR,
                        "clamp": bool(clamp), "init": "fresh", "iterations": int(first + second), "optimizer": opt,
                        "schedule": sched})
    return s


def toy_schedule(multiblock: bool = True, block_args: dict | None = None, iterations: dict | None = None,
                 patch: int = 61, batch: int = 64, optimizer: str = "adam", data: dict | None = None,
                 eval_every: int = 50, eval_crop: int | None = 1500, checkpoint_every: int = 250, seed: int = 0,
                 threads=None, device="auto") -> dict:
    """Sec. 3.1: two toy blocks (6 conv 3x3 + residual, N(0, 0.1) init), patch 61, batch 64, L1.

    ``multiblock=True``: N_1 on (LR, HR) for 1,000 iterations at 1e-3, N_2 on (N_1(LR), HR) (N_1 frozen,
    applied on the fly) for 1,000 at 1e-3, then N_2(N_1) combined for 500 at 1e-4. ``False``: the deep
    N trained end to end for 1,000 at 1e-3 then 500 at 1e-4. Either way every weight gets 1,500 updates.
    ``optimizer="adam"`` (the report) or ``"adadelta"`` (the code's ``naive_two_type.py``, lr 1).
    """
    it = {**TOY_ITERATIONS, **(iterations or {})}
    if optimizer not in ("adam", "adadelta"):
        raise ScheduleError(f"toy optimizer {optimizer!r} is not 'adam' or 'adadelta'")

    def opt(lr):
        return _adam(lr) if optimizer == "adam" else {"name": "adadelta", "lr": 1.0, "args": {}}

    args = {"n_feats": 64, "n_convs": 6, "init_std": 0.1, "init_bias": True, **(block_args or {})}
    s = _base({"kind": "toy", "args": args}, 2, data, patch, batch, {"quantize": "round", "tiles": "whole"},
              eval_every, eval_crop, checkpoint_every, seed, threads, device)
    if multiblock:
        s["stages"] += [
            {"kind": "train", "name": "N1", "blocks": [0], "input": SOURCE_LR, "clamp": False, "init": "fresh",
             "iterations": int(it["block"]), "optimizer": opt(1e-3), "schedule": None},
            {"kind": "train", "name": "N2", "blocks": [1], "prefix": [0], "input": SOURCE_LR, "clamp": False,
             "init": "fresh", "iterations": int(it["block"]), "optimizer": opt(1e-3), "schedule": None},
            {"kind": "train", "name": "N", "blocks": [0, 1], "input": SOURCE_LR, "clamp": False, "init": "inherit",
             "iterations": int(it["combined"]), "optimizer": opt(1e-4), "schedule": None},
        ]
    else:
        first, second = it["single"]
        o, sched = _two_rates(first, second, 1e-3)
        if optimizer != "adam":
            o = opt(1e-3)
        s["stages"].append({"kind": "train", "name": "single", "blocks": [0, 1], "input": SOURCE_LR, "clamp": False,
                            "init": "fresh", "iterations": int(first + second), "optimizer": o, "schedule": sched})
    return s


def schedule_hash(schedule: dict) -> str:
    """The schedule's name in the run store: :func:`srlib.runs.run_hash` of :func:`check_schedule` of it
    (defaults filled in, display keys dropped), so a schedule and its checked copy have one name."""
    return run_hash(check_schedule(schedule))


def check_schedule(schedule: dict) -> dict:
    """A validated deep copy of ``schedule`` (ScheduleError naming the problem)."""
    s = copy.deepcopy(schedule)
    try:
        canonical_json(s)
    except TypeError as e:
        raise ScheduleError(str(e)) from None
    unknown = sorted(set(s) - SCHEDULE_KEYS)
    if unknown:
        raise ScheduleError(f"unknown schedule keys {unknown}; known: {sorted(SCHEDULE_KEYS)}")
    for key in ("block", "n_blocks", "stages", "data"):
        if key not in s:
            raise ScheduleError(f"schedule needs {key!r} (see srlib.phases.report_schedule)")
    n = s["n_blocks"]
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ScheduleError(f"n_blocks must be a positive integer, got {n!r}")
    if s["block"].get("kind") not in ("rcab", "toy"):
        raise ScheduleError(f"block kind {s['block'].get('kind')!r} is not 'rcab' or 'toy'")
    bad_args = {"clamp", "scale", "colors"} & set(s["block"].get("args", {}))
    if bad_args:
        raise ScheduleError(f"block args {sorted(bad_args)} are set by the stages, not by block.args")
    lc = s.setdefault("lr_cache", {"quantize": "round", "tiles": "whole"})
    if lc.get("quantize") not in QUANTIZE or lc.get("tiles") not in TILES:
        raise ScheduleError(f"lr_cache {lc} needs quantize in {list(QUANTIZE)} and tiles in {list(TILES)}")
    s.setdefault("eval", {"every": 0, "crop": 1500})
    sources, trained, names = {SOURCE_LR}, set(), set()
    for i, st in enumerate(s["stages"]):
        where = f"stage {i} ({st.get('name')!r})"
        if st.get("kind") not in STAGE_KINDS:
            raise ScheduleError(f"{where}: kind {st.get('kind')!r} is not one of {list(STAGE_KINDS)}")
        name = st.get("name")
        if not isinstance(name, str) or not _NAME.match(name) or name in names or name == SOURCE_LR:
            raise ScheduleError(f"{where}: name must be unique, not {SOURCE_LR!r}, and made of letters, digits, _+.-")
        names.add(name)
        blocks = st.get("blocks")
        if not blocks or any(isinstance(b, bool) or not isinstance(b, int) or not 0 <= b < n for b in blocks) \
                or len(set(blocks)) != len(blocks):
            raise ScheduleError(f"{where}: blocks {blocks!r} must be distinct indices in 0..{n - 1}")
        if st.get("input") not in sources:
            raise ScheduleError(f"{where}: input {st.get('input')!r} is not a source yet (have {sorted(sources)})")
        if st["kind"] == "generate":
            missing = [b for b in blocks if b not in trained]
            if missing:
                raise ScheduleError(f"{where}: blocks {missing} are not trained by an earlier stage")
            sources.add(name)
            continue
        its = st.get("iterations")
        if isinstance(its, bool) or not isinstance(its, int) or its < 1:
            raise ScheduleError(f"{where}: iterations must be a positive integer, got {its!r}")
        if "name" not in (st.get("optimizer") or {}):
            raise ScheduleError(f"{where}: optimizer needs a name (adam, adadelta, sgd) and lr")
        prefix = st.setdefault("prefix", [])
        if set(prefix) & set(blocks) or any(b not in trained for b in prefix):
            raise ScheduleError(f"{where}: prefix {prefix} must be trained blocks not in blocks {blocks}")
        inits = st.get("init", "fresh")
        inits = [inits] * len(blocks) if isinstance(inits, str) else list(inits)
        if len(inits) != len(blocks):
            raise ScheduleError(f"{where}: init has {len(inits)} entries for {len(blocks)} blocks")
        for b, init in zip(blocks, inits):
            m = re.fullmatch(r"fresh|inherit(?::(\d+))?", str(init))
            if not m:
                raise ScheduleError(f"{where}: init {init!r} is not 'fresh', 'inherit' or 'inherit:<block>'")
            src = b if init == "inherit" else (int(m.group(1)) if m.group(1) else None)
            if src is not None and src not in trained:
                raise ScheduleError(f"{where}: init {init!r} for block {b} needs block {src} trained by an earlier stage")
        st["init"] = inits
        st["clamp"] = bool(st.get("clamp", False))
        trained.update(blocks)
    if not s["stages"]:
        raise ScheduleError("schedule has no stages")
    return s


# ----------------------------------------------------------------------------- helpers
def state_sha256(state: dict) -> str:
    """sha256 of a state dict's keys, dtypes, shapes and tensor bytes (independent of how it is saved)."""
    h = hashlib.sha256()
    for k in sorted(state):
        t = state[k].detach().cpu().contiguous()
        h.update(f"{k}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.numpy().tobytes() if t.dtype != torch.bfloat16 else t.float().numpy().tobytes())
    return h.hexdigest()



def _images_sha256(stems, arrays) -> str:
    h = hashlib.sha256()
    for stem, a in zip(stems, arrays):
        a = np.ascontiguousarray(a)
        h.update(f"{stem}|{a.dtype}|{a.shape}|".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def psnr01(sr: torch.Tensor, hr: torch.Tensor) -> float:
    """PSNR in dB of float images in [0, 1] over every pixel and channel, ``10 log10(1 / MSE)``: the
    authors' code's measure (RGB, no rounding, no shave); ``inf`` when identical."""
    mse = float(torch.mean((sr.double() - hr.double()) ** 2))
    return float("inf") if mse == 0 else 10.0 * float(np.log10(1.0 / mse))


def quantize8(x: torch.Tensor, how: str) -> np.ndarray:
    """(1, 3, H, W) float -> uint8 (H, W, 3) after clamping to [0, 1]: ``round`` (nearest) or ``truncate``
    (floor, the code's ``mul(255).byte()``)."""
    x = x.detach().clamp(0, 1)[0].permute(1, 2, 0).cpu().double() * 255.0
    x = torch.round(x) if how == "round" else torch.floor(x)
    return x.to(torch.uint8).numpy()


def run_tiles(net, x: torch.Tensor, tiles: str = "whole") -> torch.Tensor:
    """``net(x)`` on the whole image, or (``"quadrants"``, the authors' LR_k generation) on each of the 4
    quadrants split at (H // 2, W // 2) alone, zero padding at the seams, put back together."""
    if tiles not in TILES:
        raise ValueError(f"tiles {tiles!r} is not one of {list(TILES)}")
    if tiles == "whole":
        return net(x)
    h, w = x.shape[-2:]
    if h < 2 or w < 2:
        return net(x)
    out = torch.empty_like(x)
    for r0, r1 in ((0, h // 2), (h // 2, h)):
        for c0, c1 in ((0, w // 2), (w // 2, w)):
            out[..., r0:r1, c0:c1] = net(x[..., r0:r1, c0:c1])
    return out


def _to_tensor(img: np.ndarray, device) -> torch.Tensor:
    from srlib.degrade import img2tensor

    return img2tensor(img).to(device)


# ----------------------------------------------------------------------------- the runner
class PhaseRunner:
    """Runs a schedule (see the module docstring) in ``workdir``; ``run()`` returns the final dict.

    ``pairs``: ``{"train": [(stem, lr, hr)], "test": [...]}`` uint8 same-size pairs instead of the
    schedule's dataset (tests, subsets); not part of the schedule, so give the same pairs on resume.
    ``on_event(event, **info)`` is told ``stage_start``, ``batch`` (before each training iteration),
    ``stage_done``, ``stage_adopted``, ``stale``, ``image`` (after each LR_k image is written),
    ``cache_hit``, ``cache_invalid``, ``cache_done``.
    """

    def __init__(self, schedule: dict, workdir, scratch=None, pairs: dict | None = None,
                 on_event: Callable | None = None, progress: bool = False):
        self.schedule = check_schedule(schedule)
        self.workdir = Path(workdir)
        self.scratch = Path(scratch) if scratch else self.workdir / "scratch"
        self._pairs_override = pairs
        self.on_event = on_event
        self.progress = progress
        self.seed = int(self.schedule.get("seed", 0))
        self.weights: dict[int, dict] = {}       # block -> state dict (latest)
        self.weight_sha: dict[int, str] = {}
        self.clamp: dict[int, bool] = {}         # block -> clamp it was last trained with
        self.sources: dict[str, dict] = {}       # name -> {"train": [uint8], "test": [uint8], "key": str}
        self.results: dict[str, dict] = {}
        self._data = None

    # ------------------------------------------------------------------ small pieces
    def _event(self, event: str, **info) -> None:
        if self.on_event is not None:
            self.on_event(event, **info)

    def stage_dir(self, index: int) -> Path:
        return self.workdir / "stages" / f"{index:02d}-{self.schedule['stages'][index]['name']}"

    def checkpoint_path(self, index: int) -> Path:
        return self.scratch / "checkpoints" / f"{index:02d}-{self.schedule['stages'][index]['name']}.pt"

    def cache_dir(self, index: int) -> Path:
        return self.scratch / "lr" / f"{index:02d}-{self.schedule['stages'][index]['name']}"

    @property
    def device(self) -> torch.device:
        from srlib.train import resolve_device

        return resolve_device(self.schedule.get("device", "auto"))

    def data(self) -> dict:
        """``{"train": {"stems", "lr", "hr"}, "test": {...}}``: the schedule's pairs (checked), loaded once."""
        if self._data is None:
            pairs = self._pairs_override
            if pairs is None:
                d = self.schedule["data"]
                from srlib.data import RealSR

                if d.get("dataset", "RealSR") != "RealSR":
                    raise ScheduleError(f"data.dataset {d.get('dataset')!r}: the phase runner reads RealSR pairs "
                                        "(or give pairs=...)")
                tpc = int(d.get("test_per_camera", 2))
                pairs = {"train": RealSR("train", tpc).pairs(), "test": RealSR("test", tpc).pairs()}
            out = {}
            for split in ("train", "test"):
                items = list(pairs.get(split, []))
                for stem, lr, hr in items:
                    if (lr.shape != hr.shape or lr.dtype != np.uint8 or hr.dtype != np.uint8 or lr.ndim != 3
                            or lr.shape[2] != 3):
                        raise ScheduleError(f"pair {stem!r} ({split}): LR {lr.shape} {lr.dtype} and HR {hr.shape} "
                                            f"{hr.dtype} must be uint8 (H, W, 3) of one size")
                out[split] = {"stems": [t[0] for t in items], "lr": [t[1] for t in items], "hr": [t[2] for t in items]}
            if not out["train"]["stems"]:
                raise ScheduleError("no training pairs")
            self._data = out
        return self._data

    def _source_lr(self) -> dict:
        d = self.data()
        key = hashlib.sha256((_images_sha256(d["train"]["stems"], d["train"]["lr"]) + "|"
                              + _images_sha256(d["test"]["stems"], d["test"]["lr"])).encode()).hexdigest()
        return {"train": d["train"]["lr"], "test": d["test"]["lr"], "key": key}

    def stage_weights(self, name: str) -> dict[int, dict]:
        """``{block: state dict}`` that the finished train stage ``name`` produced (its ``weights.pt``), e.g.
        N_1^+ before phase 4 changed it; load into a chain with :func:`srlib.models.multiblock.inherit`."""
        names = [st["name"] for st in self.schedule["stages"]]
        if name not in names or self.schedule["stages"][names.index(name)]["kind"] != "train":
            raise ValueError(f"{name!r} is not a train stage of this schedule ({names})")
        path = self.stage_dir(names.index(name)) / "weights.pt"
        if not path.exists():
            raise FileNotFoundError(f"stage {name} has not finished ({path} is missing); run the schedule first")
        return {int(k): v for k, v in torch.load(path, map_location="cpu", weights_only=True).items()}

    def network(self, blocks: Sequence[int] | None = None, clamp: bool | Sequence[bool] | None = None):
        """The chain of ``blocks`` (default all) with their latest weights; ``clamp`` default: as last trained.
        After :meth:`run`, ``network()`` is the schedule's final network (e.g. phase 4's N)."""
        from srlib.models.multiblock import inherit

        blocks = list(range(self.schedule["n_blocks"])) if blocks is None else list(blocks)
        missing = [b for b in blocks if b not in self.weights]
        if missing:
            raise ValueError(f"blocks {missing} have no trained weights yet (run the schedule first)")
        clamps = [self.clamp[b] for b in blocks] if clamp is None else (
            [bool(clamp)] * len(blocks) if isinstance(clamp, bool) else [bool(c) for c in clamp])
        net = self._chain(len(blocks), clamps)
        for j, b in enumerate(blocks):
            inherit(self.weights[b], net.blocks[j])
        return net.eval()

    def _chain(self, n: int, clamps: list[bool]):
        from srlib.models.multiblock import MultiblockNet

        b = self.schedule["block"]
        return MultiblockNet(n_blocks=n, block=b["kind"], clamp=clamps, **b.get("args", {}))

    # ------------------------------------------------------------------ run
    def run(self) -> dict:
        """Run (or resume) every stage in order; returns ``{"stages": {name: result}, "hash"}``, also
        written to ``workdir/final.json``."""
        self._claim_workdir()
        self.sources[SOURCE_LR] = self._source_lr()
        for index, st in enumerate(self.schedule["stages"]):
            if st["kind"] == "train":
                self._train_stage(index, st)
            else:
                self._generate_stage(index, st)
        final = {"hash": schedule_hash(self.schedule), "stages": self.results,
                 "weights_sha256": {str(b): self.weight_sha[b] for b in sorted(self.weight_sha)}}
        atomic.write_text(self.workdir / "final.json", json.dumps(final, indent=2, sort_keys=True) + "\n")
        return final

    def _claim_workdir(self) -> None:
        path = self.workdir / "schedule.json"
        text = json.dumps(self.schedule, indent=2, sort_keys=True) + "\n"
        if path.exists():
            old = json.loads(path.read_text())
            if canonical_json(run_identity(old)) != canonical_json(run_identity(self.schedule)):
                raise ScheduleError(f"{self.workdir} holds another schedule ({path}); use another workdir or delete it")
        else:
            atomic.write_text(path, text)

    # ------------------------------------------------------------------ train stages
    def _deps(self, st: dict) -> dict:
        """What a train stage's result depends on besides its own settings: its input and initial weights."""
        init = {}
        for b, how in zip(st["blocks"], st["init"]):
            src = None if how == "fresh" else (b if how == "inherit" else int(how.split(":")[1]))
            init[str(b)] = "fresh" if src is None else self.weight_sha[src]
        return {"input": self.sources[st["input"]]["key"], "init": init,
                "prefix": {str(b): [self.weight_sha[b], self.clamp[b]] for b in st["prefix"]}}

    def _adopt(self, st: dict, done: dict, weights: dict) -> None:
        for b in st["blocks"]:
            self.weights[b] = weights[b]
            self.weight_sha[b] = state_sha256(weights[b])
            self.clamp[b] = st["clamp"]
        self.results[st["name"]] = done["final"]

    def _load_done(self, index: int, st: dict, deps: dict):
        d = self.stage_dir(index)
        try:
            done = json.loads((d / "done.json").read_text())
            if done.get("deps") != deps or sha256_file(d / "weights.pt") != done.get("weights_file_sha256"):
                return None
            weights = torch.load(d / "weights.pt", map_location="cpu", weights_only=True)
            return done, {int(k): v for k, v in weights.items()}
        except (OSError, ValueError, RuntimeError, KeyError):
            return None

    def _train_stage(self, index: int, st: dict) -> None:
        from srlib.data import PatchSampler
        from srlib.losses import build as build_loss
        from srlib.models.multiblock import inherit
        from srlib.train import Trainer, seed_everything

        deps = self._deps(st)
        found = self._load_done(index, st, deps)
        if found is not None:
            self._adopt(st, *found)
            self._event("stage_adopted", stage=st["name"], index=index)
            return
        sdir, ckpt = self.stage_dir(index), self.checkpoint_path(index)
        deps_path = ckpt.with_suffix(".deps.json")
        if ckpt.exists() and (not deps_path.exists() or json.loads(deps_path.read_text()) != deps):
            self._event("stale", stage=st["name"], index=index)
            ckpt.unlink()  # a checkpoint of the same stage trained from other inputs or weights
        if (sdir / "done.json").exists():
            self._event("stale", stage=st["name"], index=index)
            shutil.rmtree(sdir)
        atomic.write_text(deps_path, json.dumps(deps, sort_keys=True))
        self._event("stage_start", stage=st["name"], index=index)

        stage_seed = self.seed * 1000 + index
        seed_everything(stage_seed)
        chain = list(st["prefix"]) + list(st["blocks"])
        clamps = [self.clamp[b] for b in st["prefix"]] + [st["clamp"]] * len(st["blocks"])
        net = self._chain(len(chain), clamps)  # fresh blocks, seeded
        for j, b in enumerate(st["prefix"]):
            inherit(self.weights[b], net.blocks[j])
        for j, (b, how) in enumerate(zip(st["blocks"], st["init"]), start=len(st["prefix"])):
            if how != "fresh":
                inherit(self.weights[b if how == "inherit" else int(how.split(":")[1])], net.blocks[j])

        d = self.data()
        src = self.sources[st["input"]]
        dd = self.schedule["data"]
        sampler = PatchSampler(list(zip(d["train"]["stems"], src["train"], d["train"]["hr"])), 1,
                               patch=int(st.get("patch", dd.get("patch", 48))),
                               batch=int(st.get("batch", dd.get("batch", 16))),
                               augment=bool(dd.get("augment", True)), seed=stage_seed, same_size=True)

        def batches(i: int) -> dict:
            self._event("batch", stage=st["name"], index=index, iteration=i)
            return sampler.batch(i)

        ev = self.schedule.get("eval", {})
        have_test = bool(d["test"]["stems"])
        evaluate = self._evaluator(src, ev.get("crop"))
        opt = dict(st["optimizer"])
        frozen = [f"blocks.{j}." for j in range(len(st["prefix"]))]
        trainer = Trainer(
            net, build_loss("l1"), batches, iterations=st["iterations"], optimizer=opt["name"],
            lr=float(opt.get("lr", 1e-4)), optimizer_args=opt.get("args", {}), schedule=st.get("schedule"),
            frozen=frozen, evaluate=evaluate, eval_sets=["test"] if have_test else [],
            eval_every=int(ev.get("every", 0) or 0), log_every=self.schedule.get("log_every"),
            checkpoint_every=int(self.schedule.get("checkpoint_every", 0) or 0), checkpoint_path=ckpt,
            log_path=sdir / "log.csv", device=self.schedule.get("device", "auto"),
            threads=self.schedule.get("threads"), progress=self.progress, description=f"stage {st['name']}",
        )
        final = trainer.fit(resume=True)
        weights = {b: {k: v.detach().cpu().clone() for k, v in net.blocks[j].state_dict().items()}
                   for j, b in enumerate(chain) if b in st["blocks"]}
        atomic.torch_save({str(b): w for b, w in weights.items()}, sdir / "weights.pt")
        final = {k: v for k, v in final.items() if k in ("iterations", "metrics", "final_loss", "device", "threads")}
        done = {"stage": st["name"], "index": index, "final": final, "deps": deps,
                "weights_file_sha256": sha256_file(sdir / "weights.pt"),
                "weights_sha256": {str(b): state_sha256(w) for b, w in weights.items()}}
        atomic.write_text(sdir / "done.json", json.dumps(done, indent=2, sort_keys=True) + "\n")
        self._adopt(st, done, weights)
        self._event("stage_done", stage=st["name"], index=index)

    def _evaluator(self, src: dict, crop):
        d = self.data()

        def evaluate(model, name, max_images=None):
            dev = next(model.parameters()).device
            scores = []
            items = list(zip(src["test"], d["test"]["hr"]))[: max_images or None]
            for lr, hr in items:
                h, w = hr.shape[:2]
                if crop:
                    h, w = min(h, int(crop)), min(w, int(crop))
                sr = model(_to_tensor(lr[:h, :w], dev))
                scores.append(psnr01(sr, _to_tensor(hr[:h, :w], dev)))
            return {"psnr": float(np.mean(scores)), "per_image": scores}

        return evaluate

    # ------------------------------------------------------------------ generate stages
    def _generate_stage(self, index: int, st: dict) -> None:
        lc = self.schedule["lr_cache"]
        src = self.sources[st["input"]]
        clamps = [self.clamp[b] for b in st["blocks"]]
        key_obj = {"weights": [self.weight_sha[b] for b in st["blocks"]], "clamp": clamps, "input": src["key"],
                   "quantize": lc["quantize"], "tiles": lc["tiles"], "block": self.schedule["block"]}
        key = hashlib.sha256(canonical_json(key_obj).encode()).hexdigest()
        d = self.data()
        expected = {f"{split}/{stem}.png" for split in ("train", "test") for stem in d[split]["stems"]}
        cdir = self.cache_dir(index)
        loaded = self._load_cache(cdir, key, expected)
        if loaded is not None:
            self._event("cache_hit", stage=st["name"], index=index)
        else:
            if cdir.exists():
                self._event("cache_invalid", stage=st["name"], index=index)
            loaded = self._build_cache(index, st, cdir, key, key_obj, src)
            self._event("cache_done", stage=st["name"], index=index)
        arrays, manifest_sha = loaded
        self.sources[st["name"]] = {
            "train": [arrays[f"train/{s}.png"] for s in d["train"]["stems"]],
            "test": [arrays[f"test/{s}.png"] for s in d["test"]["stems"]],
            "key": manifest_sha,
        }
        self.results[st["name"]] = {"cache": f"lr/{cdir.name}", "key": key, "images": len(expected)}

    @staticmethod
    def _load_cache(cdir: Path, key: str, expected: set):
        """The cache's images if it is complete and matches ``key`` (every file's sha256 checked), else None."""
        from srlib.data import DataError, load_image

        try:
            text = (cdir / "COMPLETE.json").read_text()
            manifest = json.loads(text)
        except (OSError, ValueError):
            return None
        files = manifest.get("files", {})
        if manifest.get("key") != key or set(files) != expected:
            return None
        arrays = {}
        for rel, sha in files.items():
            p = cdir / rel
            try:
                if sha256_file(p) != sha:
                    return None
                arrays[rel] = load_image(p)
            except (OSError, DataError):
                return None
        return arrays, hashlib.sha256(text.encode()).hexdigest()

    def _build_cache(self, index: int, st: dict, cdir: Path, key: str, key_obj: dict, src: dict):
        from srlib.data import save_png

        cdir.parent.mkdir(parents=True, exist_ok=True)
        for stale in cdir.parent.glob(f".{cdir.name}.*"):
            shutil.rmtree(stale, ignore_errors=True)  # a build a kill interrupted: never used
        tmp = cdir.parent / f".{cdir.name}.tmp-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        net = self.network(st["blocks"]).to(self.device)
        lc = self.schedule["lr_cache"]
        d = self.data()
        arrays, files = {}, {}
        count = 0
        with torch.no_grad():
            for split in ("train", "test"):
                for stem, img in zip(d[split]["stems"], src[split]):
                    out = quantize8(run_tiles(net, _to_tensor(img, self.device), lc["tiles"]), lc["quantize"])
                    rel = f"{split}/{stem}.png"
                    save_png(tmp / rel, out)
                    files[rel] = sha256_file(tmp / rel)
                    arrays[rel] = out
                    count += 1
                    self._event("image", stage=st["name"], index=index, split=split, stem=stem, count=count)
        manifest = {"key": key, "made_from": key_obj, "files": files}
        text = json.dumps(manifest, indent=2, sort_keys=True) + "\n"
        atomic.write_text(tmp / "COMPLETE.json", text)
        atomic.replace_dir(tmp, cdir)
        return arrays, hashlib.sha256(text.encode()).hexdigest()


# ----------------------------------------------------------------------------- the run store
def get_or_run(schedule: dict, experiment: str | None = None, root=None, scratch_root=None, pairs=None,
               progress: bool = True, on_event=None) -> dict:
    """Run (or resume, or just read) ``schedule`` under ``<root>/<experiment>/<hash>/`` like a run of the
    store (:mod:`srlib.runs`; ``root`` default ``results/runs``, ``data/runs`` for the smoke profile);
    checkpoints and LR_k caches under ``<scratch_root>/<experiment>/<hash>/`` (``data/checkpoints``).
    Writes ``config.json`` (the schedule) first and ``final.json`` last; returns final.json's dict with
    ``dir`` added. A finished one is read, not rerun."""
    experiment = experiment or schedule.get("experiment")
    if not experiment or not isinstance(experiment, str) or "/" in experiment or experiment.startswith("."):
        raise ValueError(f"experiment must be a plain name like 'multiblock.phased', got {experiment!r}")
    s = check_schedule(schedule)
    h = schedule_hash(s)
    d = Path(root or default_root(s)) / experiment / h
    final_path = d / "final.json"
    if final_path.exists():
        return {**json.loads(final_path.read_text()), "dir": str(d)}
    if not (d / "config.json").exists():
        atomic.write_text(d / "config.json", json.dumps(s, indent=2, sort_keys=True) + "\n")
    work = d / "phases"
    scratch = Path(scratch_root or DEFAULT_CHECKPOINT_ROOT) / experiment / h
    runner = PhaseRunner(s, work, scratch=scratch, pairs=pairs, progress=progress, on_event=on_event)
    final = runner.run()
    final.update({"experiment": experiment, "hash": h})
    atomic.write_text(final_path, json.dumps(final, indent=2, sort_keys=True) + "\n")
    return {**final, "dir": str(d)}
