"""The training engine: an iteration-based :class:`Trainer` and :func:`train` (config -> run).

One loop serves every document:

* **iterations, not epochs.** A config that speaks of epochs also gives ``iters_per_epoch``.
* **optimizers** ``adam``, ``adadelta``, ``sgd``; **schedules** ``step`` (``step_size``,
  ``gamma``), ``multistep`` (``milestones``, ``gamma``) and ``plateau`` (``factor``,
  ``patience``, ``monitor`` = ``"psnr"`` of the first eval set or ``"loss"`` averaged over
  ``every`` iterations). Step counts are iterations within the current phase.
* **gradient clipping** ``clip = {"mode": "norm" | "value", "max": x, "divide_by_lr": bool}``
  (VDSR's adjustable clipping is ``mode="value", divide_by_lr=True``: clip to max / lr).
* **loss hooks** (:mod:`srlib.losses`): ``loss, logs = hook(model, batch, iteration)``, called
  once per iteration; a hook may keep state (buffers, parameters, ``get_extra_state``). Who trains
  what is the rule of :mod:`srlib.losses`: the Trainer's optimizer sees ``model.parameters()``
  only; it refuses a hook that holds a model parameter, and a hook with trainable parameters but
  no ``get_extra_state`` (its optimizer's state would be lost on resume).
* **phases**: a list of :class:`Phase` (iterations, trainable parameter-name prefixes, lr,
  ``on_phase_start(trainer, phase_index)``, optional own batch source / loss). Each phase gets a
  fresh optimizer and schedule over the parameters it trains; all others are frozen
  (``requires_grad=False``). On resume, ``on_phase_start`` is called again for the phase the
  checkpoint is in, so it must rebuild its data from the model (e.g. from frozen blocks) alone.
* **batch source** ``batches(i) -> dict`` with at least ``"lr"`` and ``"hr"``; a pure function
  of ``i`` (like :meth:`srlib.data.PatchSampler.batch`), so resume needs no data RNG state.
  Tensors in the dict are moved to the device, other values pass through (a scale, labels).
* **two networks**: a GAN hook owns its discriminator *and its optimizer*. The Trainer saves
  ``hook.state_dict()`` and restores ``hook.load_state_dict()``; a hook with an optimizer puts
  ``{"optimizer": self.opt.state_dict()}`` in ``get_extra_state()`` and calls
  ``self.opt.load_state_dict(state["optimizer"])`` in ``set_extra_state(state)``
  (``nn.Module`` includes extra state in ``state_dict``). Create the optimizer in ``__init__``;
  the Trainer moves the hook to the device in place, so the optimizer keeps its parameters.
* **devices**: CUDA when present (``amp`` = ``"bf16"`` / ``"fp16"``, ``channels_last``,
  ``compile``), else CPU with ``threads`` (default ``min(2, os.cpu_count())``). AMP is CUDA
  only and is switched off with a warning on CPU.
* **checkpoints** (``checkpoint_every`` iterations and at the end, written to a temp file then
  ``os.replace``) hold model, optimizer, scheduler, grad scaler, torch/CUDA/numpy/python RNG
  states, every hook's state, the iteration, the phase and the log so far. ``fit(resume=True)``
  continues exactly: on CPU a killed and resumed run ends with the same weights as an
  uninterrupted one.
* **non-finite loss** stops with :class:`TrainingDiverged` (iteration, value, hint) before
  the optimizer step; the last good checkpoint is left as it is.
* **evaluation**: ``evaluate(model, set_name, max_images=None) -> {metric: value, ...}``
  (default :func:`srlib.metrics.evaluate_model` with the config's ``eval.metrics``, default
  ``["psnr", "ssim"]``); every number it returns is kept (lists such as ``per_image`` are not).
* **log**: a CSV (``iteration, loss, lr, seconds``, each hook log, ``<set>_<metric>`` for every
  metric of every evaluation), a row every ``log_every`` iterations and at every evaluation.

The pure config helpers (:data:`CONFIG_KEYS`, :func:`total_iterations`, :func:`check_config`,
:func:`apply_overrides`, :func:`import_object`, :func:`default_threads`) live in
:mod:`srlib.config` (no torch) and are importable from here too; the ``train``/``eval``
commands are in :mod:`srlib.runs`.
"""
from __future__ import annotations

import contextlib
import copy
import csv
import math
import numbers
import random
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional, Sequence

import numpy as np
import torch
import torch.nn as nn

from srlib import atomic as _atomic
from srlib.config import (  # noqa: F401  (re-exported: srlib.train.total_iterations etc. keep working)
    CONFIG_KEYS, DEFAULT_EVAL_METRICS, apply_overrides, check_config, default_threads, eval_metrics, import_object,
    total_iterations,
)

CHECKPOINT_FORMAT = 1
OPTIMIZERS = ("adam", "adadelta", "sgd")
SCHEDULES = ("step", "multistep", "plateau")


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; training stopped before the bad update."""


# ----------------------------------------------------------------------------- helpers
def write_log_csv(rows: list[dict], path) -> None:
    """Write log rows (dicts) as CSV atomically; columns in order of first appearance."""
    columns: list[str] = []
    for row in rows:
        for k in row:
            if k not in columns:
                columns.append(k)
    import io

    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
    w.writeheader()
    for row in rows:
        w.writerow({k: ("" if v is None else v) for k, v in row.items()})
    _atomic.write_text(path, buf.getvalue())


def resolve_device(device: str | torch.device | None = "auto") -> torch.device:
    """``"auto"``/None -> CUDA when present, else CPU; ``"cuda"`` without a GPU is an error."""
    if device is None or device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} was asked for but no CUDA GPU is present; use device='auto' or 'cpu'")
    return dev


def _to_device(batch: dict, device, channels_last: bool) -> dict:
    out = {}
    for k, v in batch.items():
        if isinstance(v, torch.Tensor):
            v = v.to(device, non_blocking=True)
            if channels_last and v.dim() == 4:
                v = v.contiguous(memory_format=torch.channels_last)
        out[k] = v
    return out


def _as_float(v) -> float:
    return float(v.detach().float().item()) if isinstance(v, torch.Tensor) else float(v)


def _is_number(v) -> bool:
    """A value an evaluation may log: a real number (not a bool) or a one-element tensor."""
    if isinstance(v, torch.Tensor):
        return v.numel() == 1
    return isinstance(v, numbers.Real) and not isinstance(v, bool)


# ----------------------------------------------------------------------------- phases
@dataclass
class Phase:
    """One stage of training.

    ``trainable``: parameter-name prefixes trained in this phase (None = every parameter not in
    the Trainer's ``frozen``). ``lr``: this phase's learning rate (None = the Trainer's).
    ``on_phase_start(trainer, phase_index)`` runs when the phase starts (and again on resume
    into it). ``batches`` / ``loss`` replace the Trainer's for this phase when given.
    """

    iterations: int
    trainable: Optional[Sequence[str]] = None
    lr: Optional[float] = None
    name: str = ""
    on_phase_start: Optional[Callable] = None
    batches: Optional[Callable] = None
    loss: Optional[nn.Module] = None

    def __post_init__(self):
        if isinstance(self.iterations, bool) or not isinstance(self.iterations, int) or self.iterations < 1:
            raise ValueError(f"phase {self.name!r}: iterations must be a positive integer, got {self.iterations!r}")
        if isinstance(self.trainable, str):
            self.trainable = (self.trainable,)


# ----------------------------------------------------------------------------- trainer
class Trainer:
    """Iteration-based training loop with phases, hooks, evaluation, checkpoints and resume.

    ``evaluate(model, set_name, max_images=None) -> {metric: value, ...}`` defaults to
    :func:`srlib.metrics.evaluate_model` at ``eval_scale`` with ``eval_metrics`` (names in
    :data:`srlib.metrics.METRICS`, default ``("psnr", "ssim")``). ``log_path`` /
    ``checkpoint_path`` may be None (nothing written). ``fit(resume=True)`` returns the
    final-results dict.
    """

    def __init__(
        self,
        model: nn.Module,
        loss: nn.Module,
        batches: Callable[[int], dict],
        *,
        iterations: Optional[int] = None,
        phases: Optional[Sequence[Phase]] = None,
        optimizer: str = "adam",
        lr: float = 1e-4,
        optimizer_args: Optional[dict] = None,
        schedule: Optional[dict] = None,
        clip: Optional[dict] = None,
        frozen: Sequence[str] = (),
        evaluate: Optional[Callable] = None,
        eval_sets: Sequence[str] = (),
        eval_scale=None,
        eval_every: int = 0,
        eval_max_images: Optional[int] = None,
        eval_metrics: Sequence[str] = DEFAULT_EVAL_METRICS,
        final_sets: Optional[Sequence[str]] = None,
        final_max_images: Optional[int] = None,
        log_every: Optional[int] = None,
        checkpoint_every: int = 0,
        checkpoint_path=None,
        log_path=None,
        device="auto",
        threads: Optional[int] = None,
        amp: Optional[str] = None,
        channels_last: bool = False,
        compile: bool = False,
        progress: bool = True,
        description: str = "train",
    ):
        if phases is None:
            if iterations is None:
                raise ValueError("give iterations=N (or phases=[...]); training is counted in iterations")
            phases = [Phase(iterations=int(iterations), name="train")]
        elif iterations is not None and iterations != sum(p.iterations for p in phases):
            raise ValueError(
                f"iterations={iterations} disagrees with the phases' total {sum(p.iterations for p in phases)}; "
                "leave iterations out when giving phases"
            )
        self.phases = [p if isinstance(p, Phase) else Phase(**p) for p in phases]
        self.total = sum(p.iterations for p in self.phases)
        self._phase_ends = np.cumsum([p.iterations for p in self.phases]).tolist()
        if optimizer.lower() not in OPTIMIZERS:
            raise ValueError(f"unknown optimizer {optimizer!r}; use one of {OPTIMIZERS}")
        if schedule and schedule.get("name") not in SCHEDULES:
            raise ValueError(f"unknown schedule {schedule.get('name')!r}; use one of {SCHEDULES} (or none)")
        if clip and clip.get("mode", "norm") not in ("norm", "value"):
            raise ValueError(f"clip mode must be 'norm' or 'value', got {clip.get('mode')!r}")
        if not (isinstance(lr, (int, float)) and lr > 0):
            raise ValueError(f"lr must be a positive number, got {lr!r}")
        self.optimizer_name = optimizer.lower()
        self.base_lr = float(lr)
        self.optimizer_args = dict(optimizer_args or {})
        self.schedule = dict(schedule) if schedule else None
        self.clip = dict(clip) if clip else None
        self.frozen = tuple(frozen)

        # device and threads
        self.device = resolve_device(device)
        self.threads = None
        if self.device.type == "cpu":
            self.threads = int(threads or default_threads())
            torch.set_num_threads(self.threads)
        self.amp = amp
        if amp not in (None, "bf16", "fp16"):
            raise ValueError(f"amp must be None, 'bf16' or 'fp16', got {amp!r}")
        if amp and self.device.type != "cuda":
            warnings.warn(f"amp={amp!r} needs CUDA; training in float32 on {self.device}")
            self.amp = None
        self.channels_last = bool(channels_last)

        self.model = model.to(self.device)
        if self.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        self.forward_model = torch.compile(self.model) if compile else self.model
        self.loss = loss.to(self.device)
        self.batches = batches
        for p in self.phases:
            if p.loss is not None:
                p.loss.to(self.device)
        self.scaler = torch.amp.GradScaler("cuda") if self.amp == "fp16" else None
        self._check_hooks()

        # evaluation, logging, checkpoints
        self.eval_sets = list(eval_sets)
        self.eval_every = int(eval_every or 0)
        self.eval_scale = eval_scale if eval_scale is not None else getattr(model, "scale", None)
        self.eval_max_images = eval_max_images
        self.eval_metrics = tuple(eval_metrics)
        self.final_sets = list(self.eval_sets if final_sets is None else final_sets)
        self.final_max_images = final_max_images
        self._evaluate = evaluate
        self.log_every = int(log_every or max(1, min(100, self.total // 50 or 1)))
        self.checkpoint_every = int(checkpoint_every or 0)
        self.checkpoint_path = Path(checkpoint_path) if checkpoint_path else None
        self.log_path = Path(log_path) if log_path else None
        self.progress = progress
        self.description = description

        # state
        self.iteration = 0
        self.phase_index = -1
        self.optimizer = None
        self.scheduler = None
        self.log: list[dict] = []
        self.seconds = 0.0
        self.last_eval: dict = {}
        self._window = {"n": 0, "sums": {}}
        self._plateau = {"n": 0, "sum": 0.0}
        self._last_good_checkpoint = None

    # ------------------------------------------------------------------ phases, optimizer
    def loss_hooks(self) -> dict:
        """Every loss hook whose state is checkpointed, by key."""
        hooks = {"loss": self.loss}
        for k, p in enumerate(self.phases):
            if p.loss is not None:
                hooks[f"phase{k}_loss"] = p.loss
        return hooks

    def _check_hooks(self) -> None:
        """Who trains what (:mod:`srlib.losses`): the Trainer's optimizer trains ``model.parameters()``;
        a hook's own parameters are its own optimizer's, and their state must be checkpointed."""
        model_params = {id(p) for p in self.model.parameters()}
        for key, hook in self.loss_hooks().items():
            shared = [n for n, p in hook.named_parameters() if id(p) in model_params]
            if shared:
                raise ValueError(
                    f"loss hook {key!r} ({type(hook).__name__}) holds model parameters ({', '.join(shared[:3])}"
                    f"{', ...' if len(shared) > 3 else ''}). A network trained jointly with the SR model (e.g. a "
                    "classification head) belongs to the model and is trained by the Trainer's optimizer; a hook "
                    "gets the model as an argument and must not keep it or its parts as submodules (see srlib.losses)"
                )
            own = [n for n, p in hook.named_parameters() if p.requires_grad]
            if own and type(hook).get_extra_state is nn.Module.get_extra_state:
                raise ValueError(
                    f"loss hook {key!r} ({type(hook).__name__}) has trainable parameters ({', '.join(own[:3])}"
                    f"{', ...' if len(own) > 3 else ''}) but no get_extra_state(): the Trainer never trains them, so "
                    "the hook trains them with its own optimizer, whose state would be lost on resume. Create the "
                    "optimizer in __init__, return {'optimizer': self.opt.state_dict()} from get_extra_state() and "
                    "load it in set_extra_state(); freeze parameters that are not trained (requires_grad_(False))"
                )

    def phase_at(self, iteration: int) -> int:
        for k, end in enumerate(self._phase_ends):
            if iteration < end:
                return k
        return len(self.phases) - 1

    def _trainable(self, name: str, phase: Phase) -> bool:
        if any(name.startswith(f) for f in self.frozen):
            return False
        if phase.trainable is None:
            return True
        return any(name.startswith(t) for t in phase.trainable)

    def _enter_phase(self, index: int) -> None:
        phase = self.phases[index]
        params = []
        for name, p in self.model.named_parameters():
            on = self._trainable(name, phase)
            p.requires_grad_(on)
            if on:
                params.append(p)
        if not params:
            names = [n for n, _ in self.model.named_parameters()][:8]
            raise ValueError(
                f"phase {index} ({phase.name!r}) trains no parameter: trainable={phase.trainable}, "
                f"frozen={self.frozen}; parameter names start like {names}"
            )
        lr = float(phase.lr if phase.lr is not None else self.base_lr)
        self.optimizer = self._build_optimizer(params, lr)
        self.scheduler = self._build_scheduler(self.optimizer)
        self._plateau = {"n": 0, "sum": 0.0}
        self.phase_index = index
        if phase.on_phase_start is not None:
            phase.on_phase_start(self, index)

    def _build_optimizer(self, params, lr):
        args = dict(self.optimizer_args)
        if "betas" in args:
            args["betas"] = tuple(args["betas"])
        if self.optimizer_name == "adam":
            return torch.optim.Adam(params, lr=lr, **args)
        if self.optimizer_name == "adadelta":
            return torch.optim.Adadelta(params, lr=lr, **args)
        return torch.optim.SGD(params, lr=lr, **args)

    def _build_scheduler(self, opt):
        s = self.schedule
        if not s:
            return None
        if s["name"] == "step":
            return torch.optim.lr_scheduler.StepLR(opt, step_size=int(s["step_size"]), gamma=float(s.get("gamma", 0.1)))
        if s["name"] == "multistep":
            return torch.optim.lr_scheduler.MultiStepLR(opt, milestones=list(s["milestones"]), gamma=float(s.get("gamma", 0.1)))
        monitor = s.get("monitor", "psnr")
        if monitor not in ("psnr", "loss"):
            raise ValueError(f"plateau monitor must be 'psnr' or 'loss', got {monitor!r}")
        if monitor == "psnr" and not (self.eval_sets and self.eval_every):
            raise ValueError("plateau schedule with monitor='psnr' needs eval sets and eval_every; or use monitor='loss'")
        return torch.optim.lr_scheduler.ReduceLROnPlateau(
            opt, mode="max" if monitor == "psnr" else "min",
            factor=float(s.get("factor", 0.1)), patience=int(s.get("patience", 10)),
        )

    @property
    def current_lr(self) -> float:
        return float(self.optimizer.param_groups[0]["lr"]) if self.optimizer else self.base_lr

    # ------------------------------------------------------------------ evaluation
    def evaluate(self, sets: Sequence[str], max_images=None) -> dict:
        """``{set: {metric: value}}`` for the model in eval mode (no autocast, no grad).

        Every number the evaluate function returns is kept, in its order (``per_image`` lists
        and other non-numbers are not).
        """
        if not sets:
            return {}
        fn = self._evaluate
        if fn is None:
            from srlib.metrics import evaluate_model

            def fn(model, name, max_images=None):
                kwargs = {"device": self.device, "metrics": self.eval_metrics}
                if max_images is not None:
                    kwargs["max_images"] = max_images
                return evaluate_model(model, name, self.eval_scale, **kwargs)

        from srlib.models import eval_mode

        out = {}
        with eval_mode(self.model), torch.no_grad():
            for name in sets:
                res = fn(self.model, name, max_images=max_images)
                out[name] = {k: _as_float(v) for k, v in res.items() if _is_number(v)}
        return out

    # ------------------------------------------------------------------ checkpoints
    def state_dict(self) -> dict:
        rng = {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()}
        if torch.cuda.is_available():
            rng["cuda"] = torch.cuda.get_rng_state_all()
        return {
            "format": CHECKPOINT_FORMAT,
            "iteration": self.iteration,
            "phase_index": self.phase_index,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict() if self.optimizer else None,
            "scheduler": self.scheduler.state_dict() if self.scheduler else None,
            "scaler": self.scaler.state_dict() if self.scaler else None,
            "loss_hooks": {k: h.state_dict() for k, h in self.loss_hooks().items()},
            "rng": rng,
            "log": copy.deepcopy(self.log),
            "window": copy.deepcopy(self._window),
            "plateau": dict(self._plateau),
            "last_eval": copy.deepcopy(self.last_eval),
            "seconds": self.seconds,
        }

    def save_checkpoint(self) -> None:
        if self.checkpoint_path is None:
            return
        _atomic.torch_save(self.state_dict(), self.checkpoint_path)
        self._last_good_checkpoint = self.iteration
        if self.log_path is not None:
            write_log_csv(self.log, self.log_path)

    def load_checkpoint(self, path=None) -> None:
        """Restore everything :meth:`state_dict` saved (model first, then the phase, then the rest)."""
        path = Path(path or self.checkpoint_path)
        state = torch.load(path, map_location="cpu", weights_only=False)
        if state.get("format") != CHECKPOINT_FORMAT:
            raise ValueError(f"{path}: checkpoint format {state.get('format')!r}, expected {CHECKPOINT_FORMAT}; delete it to retrain")
        self.model.load_state_dict(state["model"])
        self.iteration = int(state["iteration"])
        # re-enter the checkpoint's phase: fresh optimizer/scheduler, then their saved state
        self._enter_phase(max(0, int(state["phase_index"])))
        if state["optimizer"] is not None:
            self.optimizer.load_state_dict(state["optimizer"])
        if self.scheduler is not None and state["scheduler"] is not None:
            self.scheduler.load_state_dict(state["scheduler"])
        if self.scaler is not None and state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])
        hooks = self.loss_hooks()
        for k, sd in state["loss_hooks"].items():
            if k not in hooks:
                raise ValueError(f"{path}: checkpoint has loss hook {k!r} that this trainer lacks")
            hooks[k].load_state_dict(sd)
        self.log = state["log"]
        self._window = state["window"]
        self._plateau = state["plateau"]
        self.last_eval = state["last_eval"]
        self.seconds = float(state["seconds"])
        rng = state["rng"]
        torch.set_rng_state(rng["torch"])
        np.random.set_state(rng["numpy"])
        random.setstate(rng["python"])
        if "cuda" in rng and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(rng["cuda"])
        self._last_good_checkpoint = self.iteration

    # ------------------------------------------------------------------ the loop
    def _autocast(self):
        if self.amp is None:
            return contextlib.nullcontext()
        dtype = torch.bfloat16 if self.amp == "bf16" else torch.float16
        return torch.autocast(device_type=self.device.type, dtype=dtype)

    def train_step(self, batch: dict, iteration: int) -> tuple[float, dict]:
        """One optimisation step on a device batch; returns (loss value, logs as floats)."""
        phase = self.phases[self.phase_index]
        hook = phase.loss if phase.loss is not None else self.loss
        self.model.train()
        self.optimizer.zero_grad(set_to_none=True)
        with self._autocast():
            loss, logs = hook(self.forward_model, batch, iteration)
        value = float(loss.detach().float().item())
        if not math.isfinite(value):
            kept = (
                f"the last good checkpoint ({self.checkpoint_path}, iteration {self._last_good_checkpoint}) is kept"
                if self._last_good_checkpoint is not None else "no checkpoint had been written yet"
            )
            raise TrainingDiverged(
                f"loss is {value} at iteration {iteration} (phase {self.phase_index}, lr {self.current_lr:g}); "
                f"training stopped before the update and {kept}. "
                "Try a lower learning rate or enable gradient clipping (clip={'mode': 'norm', 'max': 0.4})."
            )
        if self.scaler is not None:
            self.scaler.scale(loss).backward()
        else:
            loss.backward()
        if self.clip:
            if self.scaler is not None:
                self.scaler.unscale_(self.optimizer)
            limit = float(self.clip["max"])
            if self.clip.get("divide_by_lr"):
                limit /= self.current_lr
            params = [p for g in self.optimizer.param_groups for p in g["params"] if p.grad is not None]
            if self.clip.get("mode", "norm") == "norm":
                torch.nn.utils.clip_grad_norm_(params, limit)
            else:
                torch.nn.utils.clip_grad_value_(params, limit)
        if self.scaler is not None:
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            self.optimizer.step()
        if self.scheduler is not None and not isinstance(self.scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
            self.scheduler.step()
        return value, {k: _as_float(v) for k, v in (logs or {}).items()}

    def _batch(self, iteration: int) -> dict:
        phase = self.phases[self.phase_index]
        source = phase.batches if phase.batches is not None else self.batches
        batch = source(iteration)
        if not isinstance(batch, dict) or "lr" not in batch or "hr" not in batch:
            got = sorted(batch) if isinstance(batch, dict) else type(batch).__name__
            raise TypeError(f"batches({iteration}) must return a dict with 'lr' and 'hr' tensors, got {got}")
        return _to_device(batch, self.device, self.channels_last)

    def _record(self, value: float, logs: dict) -> None:
        w = self._window
        w["n"] += 1
        w["sums"]["loss"] = w["sums"].get("loss", 0.0) + value
        for k, v in logs.items():
            w["sums"][k] = w["sums"].get(k, 0.0) + v
        self._plateau["n"] += 1
        self._plateau["sum"] += value

    def _log_row(self, evals: dict) -> dict:
        w = self._window
        row = {"iteration": self.iteration}
        n = max(1, w["n"])
        row["loss"] = w["sums"].get("loss", float("nan")) / n if w["n"] else float("nan")
        row["lr"] = self.current_lr
        row["seconds"] = round(self.seconds, 3)
        for k, v in w["sums"].items():
            if k != "loss":
                row[k] = v / n
        for name, res in evals.items():
            for metric, v in res.items():
                row[f"{name}_{metric}"] = v
        self._window = {"n": 0, "sums": {}}
        self.log.append(row)
        return row

    def fit(self, resume: bool = False, until: Optional[int] = None) -> dict:
        """Train to the end (or to iteration ``until``); return the final results.

        ``resume=True`` loads ``checkpoint_path`` when it exists and continues from it.
        """
        if resume and self.checkpoint_path is not None and self.checkpoint_path.exists():
            self.load_checkpoint()
        stop = self.total if until is None else min(int(until), self.total)
        bar = None
        if self.progress and self.iteration < stop:
            from tqdm.auto import tqdm

            bar = tqdm(total=self.total, initial=self.iteration, desc=self.description, mininterval=1.0, dynamic_ncols=True)
        t0 = time.perf_counter()
        base_seconds = self.seconds
        try:
            while self.iteration < stop:
                i = self.iteration
                k = self.phase_at(i)
                if k != self.phase_index:
                    self._enter_phase(k)
                value, logs = self.train_step(self._batch(i), i)
                self.iteration = i + 1
                self.seconds = base_seconds + time.perf_counter() - t0
                self._record(value, logs)
                self._after_step(bar)
        finally:
            if bar is not None:
                bar.close()
        if self.iteration >= self.total:
            return self.finish()
        return {"iteration": self.iteration}

    def _after_step(self, bar) -> None:
        it = self.iteration
        evals = {}
        if self.eval_every and self.eval_sets and it % self.eval_every == 0:
            evals = self.evaluate(self.eval_sets, self.eval_max_images)
            self.last_eval = evals
            if isinstance(self.scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau) and self.schedule.get("monitor", "psnr") == "psnr":
                self.scheduler.step(evals[self.eval_sets[0]]["psnr"])
        if (isinstance(self.scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau)
                and self.schedule.get("monitor", "psnr") == "loss"
                and self._plateau["n"] >= int(self.schedule.get("every", 100))):
            self.scheduler.step(self._plateau["sum"] / self._plateau["n"])
            self._plateau = {"n": 0, "sum": 0.0}
        row = None
        if evals or it % self.log_every == 0 or it == self.total:
            row = self._log_row(evals)
        if bar is not None:
            bar.update(1)
            if row is not None:
                post = {"loss": f"{row['loss']:.4g}"}
                if self.last_eval:
                    first = next(iter(self.last_eval.values()))
                    if "psnr" in first:
                        post["psnr"] = f"{first['psnr']:.2f}"
                bar.set_postfix(post, refresh=False)
        if (self.checkpoint_every and it % self.checkpoint_every == 0) or it == self.total:
            self.save_checkpoint()

    def finish(self) -> dict:
        """Final evaluation and the final-results dict (also writes the log)."""
        metrics = self.evaluate(self.final_sets, self.final_max_images)
        if self.log_path is not None:
            write_log_csv(self.log, self.log_path)
        last_loss = next((r["loss"] for r in reversed(self.log) if "loss" in r), None)
        return {
            "iterations": self.iteration,
            "seconds": round(self.seconds, 3),
            "metrics": metrics,
            "final_loss": last_loss,
            "device": str(self.device),
            "device_name": torch.cuda.get_device_name(self.device) if self.device.type == "cuda" else "CPU",
            "threads": self.threads,
            "amp": self.amp,
            "torch": torch.__version__,
        }


# ----------------------------------------------------------------------------- config -> run
def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def build_model(config: dict) -> nn.Module:
    from srlib import models

    m = config["model"]
    return models.build(m["name"], scale=config["scale"], **m.get("args", {}))


def build_batches(config: dict, model: nn.Module) -> Callable[[int], dict]:
    """The batch source a config describes: a PatchSampler over ``data.train`` or a factory.

    ``data = {"train": "T91", "patch": 33, "batch": 16, "augment": True}`` or
    ``data = {"source": "package.module:factory", "args": {...}}`` where
    ``factory(config=config, model=model, seed=seed, **args)`` returns ``batches(i) -> dict``.
    """
    d = config["data"]
    seed = int(config.get("seed", 0))
    if "source" in d:
        return import_object(d["source"])(config=config, model=model, seed=seed, **d.get("args", {}))
    from srlib import data

    if "train" not in d:
        raise ValueError("config['data'] needs 'train' (a dataset name) or 'source' ('module:factory')")
    names = [d["train"]] if isinstance(d["train"], str) else list(d["train"])
    pairs = []
    for name in names:
        pairs.extend(data.lr_pairs(name, config["scale"]))
    extra = {k: v for k, v in d.items() if k not in ("train", "patch", "batch", "augment")}
    sampler = data.PatchSampler(pairs, config["scale"], patch=int(d.get("patch", 48)), batch=int(d.get("batch", 16)),
                                augment=bool(d.get("augment", True)), seed=seed, **extra)
    return sampler.batch


def build_loss(spec: dict) -> nn.Module:
    from srlib import losses

    return losses.build(spec["name"], **spec.get("args", {}))


def build_trainer(config: dict, run_dir=None, checkpoint_path=None, progress: bool = True, evaluate=None) -> Trainer:
    """Everything a config names, built through the registries, seeded by ``config['seed']``."""
    check_config(config)
    threads = config.get("threads")
    device = resolve_device(config.get("device", "auto"))
    if device.type == "cpu":
        torch.set_num_threads(int(threads or default_threads()))
    seed_everything(int(config.get("seed", 0)))
    model = build_model(config)
    loss = build_loss(config["loss"])
    batches = build_batches(config, model)
    phases = None
    if config.get("phases"):
        phases = []
        for k, p in enumerate(config["phases"]):
            p = dict(p)
            if isinstance(p.get("on_phase_start"), str):
                p["on_phase_start"] = import_object(p["on_phase_start"])
            if isinstance(p.get("loss"), dict):
                p["loss"] = build_loss(p["loss"])
            if isinstance(p.get("batches"), str):
                p["batches"] = import_object(p["batches"])(config=config, model=model, seed=int(config.get("seed", 0)))
            p.setdefault("name", f"phase{k + 1}")
            phases.append(Phase(**p))
    opt = dict(config.get("optimizer", {"name": "adam", "lr": 1e-4}))
    ev = dict(config.get("eval", {}))
    run_dir = Path(run_dir) if run_dir else None
    return Trainer(
        model, loss, batches,
        iterations=None if phases else total_iterations(config),
        phases=phases,
        optimizer=opt.pop("name", "adam"), lr=float(opt.pop("lr", 1e-4)), optimizer_args=opt.pop("args", opt),
        schedule=config.get("schedule"), clip=config.get("clip"), frozen=config.get("frozen", ()),
        evaluate=evaluate,
        eval_sets=ev.get("sets", ()), eval_scale=ev.get("scale", config["scale"]), eval_every=ev.get("every", 0),
        eval_max_images=ev.get("max_images"), eval_metrics=eval_metrics(config),
        final_sets=ev.get("final_sets"), final_max_images=ev.get("final_max_images"),
        log_every=config.get("log_every"), checkpoint_every=config.get("checkpoint_every", 0),
        checkpoint_path=checkpoint_path or (run_dir / "checkpoint.pt" if run_dir else None),
        log_path=run_dir / "log.csv" if run_dir else None,
        device=device, threads=threads, amp=config.get("amp"), channels_last=config.get("channels_last", False),
        compile=config.get("compile", False), progress=progress,
        description=config.get("experiment", config["model"]["name"]),
    )


def train(config: dict, run_dir, checkpoint_path=None, resume: bool = True, progress: bool = True, evaluate=None) -> dict:
    """Build everything from a plain-dict ``config`` and train; return the final-results dict.

    Writes ``log.csv`` (and ``checkpoint.pt`` unless ``checkpoint_path`` puts it elsewhere)
    under ``run_dir``; resumes from the checkpoint when ``resume`` and it exists.
    """
    trainer = build_trainer(config, run_dir, checkpoint_path, progress=progress, evaluate=evaluate)
    return trainer.fit(resume=resume)
