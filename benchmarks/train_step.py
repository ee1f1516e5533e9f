"""Iterations/s of the srlib Trainer against a plain hand-written PyTorch loop, side by side; and of
the cpu profile's training step against the plain eager fp32 step of the same model.

Part 1, Trainer vs plain loop: EDSR 8 res blocks x 32 features, x2, batch 16 of 32x32 LR patches, L1,
Adam, same thread count, same fixed batch. Variants are interleaved over repeats (after a warm-up) and the
median of each is reported; the Trainer/plain ratio (median of per-repeat pairs, iterations per CPU second:
robust to other processes on a shared machine; wall-clock is printed too) must be >= 0.95 (the exit code).
The Trainer's own bookkeeping per iteration is measured on a tiny model. channels_last and torch.compile
variants of the Trainer are printed too (compile + channels_last; its warm-up is time-boxed).

Part 2, fastest honest training (target >= 1.3x, reported OK/BELOW, not in the exit code): for each
``--config`` (an experiment key; model, scale, batch and patch size from ``profiles.get("cpu", key)``,
random tensors of those shapes, the config's loss, optimizer and schedule), interleaved ABBA over repeats:
  (a) plain eager fp32: the hand-written loop, ``--threads`` threads, one process (what a user would write);
  (b) cpu profile, one run: the srlib Trainer with the config's threads / channels_last / compile;
  (c) cpu profile, machine: ``runs.train_workers()`` processes (spawned, started together at a barrier)
      each training with the config's settings, throughput = their iterations / wall time (how
      ``runs.get_or_train_many`` trains the profile's runs).
  (a1) where the profile's thread count differs from ``--threads``: the plain loop at the profile's thread
      count, a reference that splits (b)/(a) into the thread count and the rest.
Wall-clock it/s, medians and per-repeat paired ratios (b)/(a), (c)/(a). The load average is printed at
start and end: other jobs on the machine slow (a) (two threads) and (c) (every core) more than (b).
Then "same results" (first config): 20 iterations (same seed, same batches) eager vs channels_last (and
vs the plain thread count, vs the profile's settings) must end with weights equal up to float rounding:
max abs difference < 1e-4, or, where Adam's normalised steps magnify the rounding of near-zero gradients,
no further from a float64 run of the same steps than eager fp32 is (factor 2).

Usage:
    python benchmarks/train_step.py [--repeats 9] [--iters 10] [--budget 80] [--threads N] [--no-compile]
        [--config pspl.table1_edsr_baseline[,pspl.table1_vdsr_baseline,pspl.fig4_baseline] | none]
        [--profile-budget 45] [--same-iters 20]
The default budgets aim at about 3 minutes in all; warm-ups (compile) and the same-results check are
not in them, and a loaded machine takes longer.
"""
from __future__ import annotations

import argparse
import multiprocessing
import os
import signal
import statistics
import sys
import time
import traceback

import torch
import torch.nn.functional as F

from srlib import models, profiles
from srlib.losses.pixel import l1_loss
from srlib.train import Trainer, build_loss, build_model, default_threads


def make_model(seed=0):
    torch.manual_seed(seed)
    return models.build("edsr", scale=2, n_resblocks=8, n_feats=32)


class PlainLoop:
    """The loop one would write by hand."""

    def __init__(self, batch, channels_last=False):
        self.model = make_model()
        self.lr, self.hr = batch["lr"], batch["hr"]
        if channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
            self.lr = self.lr.contiguous(memory_format=torch.channels_last)
            self.hr = self.hr.contiguous(memory_format=torch.channels_last)
        self.opt = torch.optim.Adam(self.model.parameters(), lr=1e-4)

    def run(self, n):
        for _ in range(n):
            self.opt.zero_grad(set_to_none=True)
            loss = F.l1_loss(self.model(self.lr), self.hr)
            loss.backward()
            self.opt.step()


class TrainerLoop:
    def __init__(self, batch, threads, **options):
        self.t = Trainer(make_model(), l1_loss(), lambda i: batch, iterations=10**9, lr=1e-4, progress=False,
                         device="cpu", threads=threads, log_every=10**9, **options)
        self.done = 0

    def run(self, n):
        self.done += n
        self.t.fit(until=self.done)


class Timeout(Exception):
    pass


def warm(loop, n, seconds):
    """Run ``n`` warm-up iterations, giving up after ``seconds`` (SIGALRM)."""
    def on_alarm(signum, frame):
        raise Timeout

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(int(seconds))
    try:
        t0 = time.perf_counter()
        loop.run(n)
        return time.perf_counter() - t0
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def loop_overhead_us(threads, n=300, repeats=5) -> float:
    """Per-iteration time of the Trainer minus the plain loop on a 1x1-conv model (bookkeeping cost)."""
    import torch.nn as nn

    class Tiny(nn.Module):
        scale, colors = 1, 3

        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 3, 1)

        def forward(self, x):
            return self.conv(x)

    torch.manual_seed(0)
    b = {"lr": torch.rand(2, 3, 4, 4), "hr": torch.rand(2, 3, 4, 4)}
    plain = PlainLoop.__new__(PlainLoop)
    plain.model, plain.lr, plain.hr = Tiny(), b["lr"], b["hr"]
    plain.opt = torch.optim.Adam(plain.model.parameters(), lr=1e-4)
    tr = TrainerLoop.__new__(TrainerLoop)
    tr.t = Trainer(Tiny(), l1_loss(), lambda i: b, iterations=10**9, lr=1e-4, progress=False, device="cpu",
                   threads=threads, log_every=10**9)
    tr.done = 0
    diffs = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        plain.run(n)
        t1 = time.perf_counter()
        tr.run(n)
        t2 = time.perf_counter()
        diffs.append(((t2 - t1) - (t1 - t0)) / n * 1e6)
    return statistics.median(diffs)


# ----------------------------------------------------------------------------- part 2: the cpu profile's step
PROFILE = "cpu"
DEFAULT_CONFIGS = ("pspl.table1_edsr_baseline",)
TARGET = 1.3  # the cpu profile's training (one run, or the machine's throughput) against plain eager fp32
SAME_TOLERANCE = 1e-4  # max abs weight difference of the faster settings after --same-iters iterations
OPTIMIZERS = {"adam": torch.optim.Adam, "adadelta": torch.optim.Adadelta, "sgd": torch.optim.SGD}


def config_batch(config, model, seed=0) -> dict:
    """Random LR (batch, colors, patch, patch) and HR (x scale) tensors of the shapes ``config`` trains on."""
    d, s = config["data"], int(config["scale"])
    b, p, c = int(d.get("batch", 16)), int(d.get("patch", 48)), int(getattr(model, "colors", 3))
    g = torch.Generator().manual_seed(seed)
    return {"lr": torch.rand(b, c, p, p, generator=g), "hr": torch.rand(b, c, p * s, p * s, generator=g)}


def config_model(config):
    torch.manual_seed(int(config.get("seed", 0)))
    return build_model(config)


def _optimizer(config):
    opt = dict(config.get("optimizer", {"name": "adam", "lr": 1e-4}))
    name = opt.pop("name", "adam").lower()
    lr = float(opt.pop("lr", 1e-4))
    args = dict(opt.pop("args", opt))
    if "betas" in args:
        args["betas"] = tuple(args["betas"])
    return name, lr, args


class ConfigPlain:
    """(a) The loop a user would write for the config's model: eager, fp32, default layout, ``threads``."""

    def __init__(self, config, batch, threads, dtype=torch.float32):
        crit = getattr(build_loss(config["loss"]), "criterion", None)
        if crit is None:
            raise ValueError(f"loss {config['loss']['name']!r} is not a pixel loss; the plain loop needs l1/l2-like")
        self.criterion, self.threads, self.dtype = crit, int(threads), dtype
        self.model = config_model(config).to(dtype)
        self.lr, self.hr = batch["lr"].to(dtype), batch["hr"].to(dtype)
        name, lr, args = _optimizer(config)
        self.opt = OPTIMIZERS[name](self.model.parameters(), lr=lr, **args)

    def step(self, lr, hr):
        self.opt.zero_grad(set_to_none=True)
        loss = self.criterion(self.model(lr), hr)
        loss.backward()
        self.opt.step()

    def run(self, n):
        torch.set_num_threads(self.threads)  # one process holds variants with different thread counts
        for _ in range(n):
            self.step(self.lr, self.hr)


class ConfigTrainer:
    """(b) The srlib Trainer as the cpu profile runs it: the config's loss, optimizer, schedule, clip,
    threads, channels_last and compile (``**override`` replaces any of the last three)."""

    def __init__(self, config, batches, **override):
        name, lr, args = _optimizer(config)
        schedule = config.get("schedule")
        if schedule and schedule.get("name") == "plateau":
            schedule = None  # needs evaluations; the step costs the same without it
        settings = {"threads": config.get("threads"), "channels_last": bool(config.get("channels_last", False)),
                    "compile": bool(config.get("compile", False)), **override}
        self.settings = settings
        self.t = Trainer(config_model(config), build_loss(config["loss"]), batches, iterations=10**9,
                         optimizer=name, lr=lr, optimizer_args=args, schedule=schedule, clip=config.get("clip"),
                         progress=False, device="cpu", log_every=10**9, **settings)
        self.done = 0

    def run(self, n):
        torch.set_num_threads(self.t.threads)
        self.done += n
        self.t.fit(until=self.done)


def settings_label(config) -> str:
    n = int(config.get("threads") or default_threads())
    parts = [f"{n} thread{'s' if n > 1 else ''}"]
    parts.append("channels_last" if config.get("channels_last") else "eager")
    if config.get("compile"):
        parts.append("compile")
    return ", ".join(parts)


def _machine_worker(key, warm_iters, cmd_q, res_q, barrier):
    """(c) One of ``runs.train_workers()`` processes: warm up, then per command time ``n`` iterations from
    a barrier shared with the other workers (so they train at the same time)."""
    try:
        config = profiles.get(PROFILE, key)
        model = config_model(config)
        batch = config_batch(config, model)
        loop = ConfigTrainer(config, lambda i: batch)
        t0 = time.perf_counter()
        loop.run(warm_iters)
        res_q.put(("ready", os.getpid(), time.perf_counter() - t0))
        while True:
            n = cmd_q.get()
            if n is None:
                return
            barrier.wait(timeout=600)
            t0 = time.perf_counter()  # CLOCK_MONOTONIC on Linux: comparable between processes
            loop.run(n)
            res_q.put(("done", t0, time.perf_counter()))
    except Exception:
        res_q.put(("error", os.getpid(), traceback.format_exc()))


class MachineLoop:
    """(c) The profile's real throughput: ``workers`` processes training concurrently."""

    def __init__(self, key, workers, warm_iters=2, timeout=600):
        ctx = multiprocessing.get_context("spawn")  # as runs.get_or_train_many: forking a torch process can hang
        self.workers, self.timeout = workers, timeout
        self.barrier = ctx.Barrier(workers)
        self.res_q = ctx.Queue()
        self.cmd_qs = [ctx.Queue() for _ in range(workers)]
        self.procs = [ctx.Process(target=_machine_worker, args=(key, warm_iters, q, self.res_q, self.barrier),
                                  daemon=True) for q in self.cmd_qs]
        for p in self.procs:
            p.start()
        self.warm_seconds = [self._get("ready")[2] for _ in self.procs]
        self.last_per_worker = []

    def _get(self, kind):
        msg = self.res_q.get(timeout=self.timeout)
        if msg[0] == "error":
            raise RuntimeError(f"machine worker {msg[1]} failed:\n{msg[2]}")
        assert msg[0] == kind, msg
        return msg

    def run(self, n) -> float:
        """Time ``n`` iterations in every worker at once; returns the wall seconds (first start to last end)."""
        for q in self.cmd_qs:
            q.put(n)
        spans = [self._get("done")[1:] for _ in self.procs]
        self.last_per_worker = [n / (t1 - t0) for t0, t1 in spans]
        return max(t1 for _, t1 in spans) - min(t0 for t0, _ in spans)

    def close(self):
        for q in self.cmd_qs:
            q.put(None)
        for p in self.procs:
            p.join(timeout=30)
            if p.is_alive():
                p.terminate()  # our own child only


def _load() -> str:
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


def profile_step(key, args, budget) -> None:
    """Print (a) plain eager fp32, (b) cpu profile one run, (c) cpu profile machine for experiment ``key``."""
    from srlib import runs

    config = profiles.get(PROFILE, key)
    model = config_model(config)
    batch = config_batch(config, model)
    workers = runs.train_workers([config])
    lr, hr = batch["lr"], batch["hr"]
    print(f"\n{key} (profile {PROFILE}): {profiles.describe(config)}; LR {tuple(lr.shape)}, HR {tuple(hr.shape)}, "
          f"{config['loss']['name']}, {_optimizer(config)[0]} lr {_optimizer(config)[1]:g}; "
          f"profile settings: {settings_label(config)}; runs.train_workers() = {workers}; load average {_load()}")
    profile_threads = int(config.get("threads") or default_threads())
    try:
        loops = {"a": ConfigPlain(config, batch, args.threads), "b": ConfigTrainer(config, lambda i: batch)}
        if profile_threads != args.threads:  # a reference: how much of (b)/(a) is the thread count alone
            loops["a1"] = ConfigPlain(config, batch, profile_threads)
    except ValueError as e:
        print(f"  skipped: {e}")
        return
    labels = {"a": f"(a) plain eager fp32, {args.threads} thread{'s' if args.threads > 1 else ''}",
              "a1": f"(a1) plain eager fp32, {profile_threads} thread{'s' if profile_threads > 1 else ''} (reference)",
              "b": f"(b) cpu profile, one run ({settings_label(config)})",
              "c": f"(c) cpu profile, machine ({workers} runs x {settings_label(config)})"}
    for name in loops:
        print(f"  warm-up {labels[name]}: {warm(loops[name], 2, 300):.1f} s")
    t0 = time.perf_counter()
    machine = MachineLoop(key, workers)
    print(f"  started {workers} spawned workers + warm-up in {time.perf_counter() - t0:.1f} s "
          f"(warm-up {', '.join(f'{s:.1f}' for s in machine.warm_seconds)} s)")
    rates = {name: [] for name in (*loops, "c")}
    per_worker = []
    names = list(rates)
    try:
        t_start = time.perf_counter()
        for r in range(args.repeats):
            if r >= 3 and time.perf_counter() - t_start > budget:
                print(f"  stopped after {r} repeats (time budget {budget:.0f} s)")
                break
            for name in (names if r % 2 == 0 else names[::-1]):  # ABBA
                if name == "c":
                    rates["c"].append(workers * args.iters / machine.run(args.iters))
                    per_worker.append(machine.last_per_worker)
                else:
                    t0 = time.perf_counter()
                    loops[name].run(args.iters)
                    rates[name].append(args.iters / (time.perf_counter() - t0))
    finally:
        machine.close()
    base = statistics.median(rates["a"])
    print(f"  {'variant':58s} {'it/s (median)':>14s} {'min':>6s} {'max':>6s} {'vs (a)':>7s}")
    for name in names:
        med = statistics.median(rates[name])
        print(f"  {labels[name]:58s} {med:14.2f} {min(rates[name]):6.2f} {max(rates[name]):6.2f} {med / base:7.3f}")
    w = statistics.median(x for ws in per_worker for x in ws)
    print(f"  (c) per worker: median {w:.2f} it/s ({w / statistics.median(rates['b']):.2f} of (b) alone: "
          f"what the runs lose to sharing the cores and memory)")
    for name, what in (("b", "per step, one run"), ("c", "machine throughput")):
        paired = [x / p for x, p in zip(rates[name], rates["a"])]
        ratio = statistics.median(paired)
        print(f"  paired {name}/a per repeat: {', '.join(f'{x:.2f}' for x in paired)}")
        print(f"  cpu profile {what} / plain eager fp32 (median of pairs): {ratio:.2f}x "
              f"({'OK' if ratio >= TARGET else 'BELOW'} vs the {TARGET}x target)")
    if "a1" in rates:
        pb = statistics.median(b / p for b, p in zip(rates["b"], rates["a1"]))
        pa = statistics.median(p / a for p, a in zip(rates["a1"], rates["a"]))
        print(f"  reference: (a1)/(a) = {pa:.2f}x (the thread count alone), (b)/(a1) = {pb:.2f}x "
              f"(the profile's other settings + Trainer at the same thread count)")
    print(f"  load average at end: {_load()}")


def _weights(loop) -> dict:
    return {k: v.detach().clone() for k, v in loop.t.model.state_dict().items() if v.is_floating_point()}


def _max_diff(x: dict, y: dict) -> float:
    return max(float((x[k] - y[k]).abs().max()) for k in x)


def same_results(key, iters, default) -> None:
    """Train ``iters`` iterations with the same seed and batches eager vs channels_last (and the plain
    thread count vs the profile's); the final weights must agree up to float rounding: max abs difference
    < SAME_TOLERANCE, or, where Adam's normalised first steps magnify rounding of near-zero gradients
    (update ~ lr * g / (|g| + eps)), no further from a float64 run than eager fp32 is (factor 2)."""
    config = profiles.get(PROFILE, key)
    shape_model = config_model(config)
    batches = lambda i: config_batch(config, shape_model, seed=1000 + i)  # noqa: E731  (new batch per iteration)
    threads = int(config.get("threads") or default_threads())
    runs_ = {
        "eager": dict(threads=threads, channels_last=False, compile=False),
        "eager again": dict(threads=threads, channels_last=False, compile=False),
        "channels_last": dict(threads=threads, channels_last=True, compile=False),
        f"eager, {default} threads": dict(threads=default, channels_last=False, compile=False),
        "profile settings": {},
    }
    w, grads = {}, {}
    for name, over in runs_.items():
        loop = ConfigTrainer(config, batches, **over)
        b0 = loop.t._batch(0)
        loop.run(iters)
        w[name] = _weights(loop)
        if name in ("eager", "channels_last"):  # the rounding itself: one gradient, same weights, same batch
            m = config_model(config)
            if name == "channels_last":
                m = m.to(memory_format=torch.channels_last)
            torch.set_num_threads(threads)
            loss, _ = build_loss(config["loss"])(m, b0, 0)
            loss.backward()
            grads[name] = {k: p.grad.detach().clone() for k, p in m.named_parameters() if p.grad is not None}
    # float64 reference: the same steps (the plain loop, eager, float64)
    ref = ConfigPlain(config, batches(0), threads, dtype=torch.float64)
    torch.set_num_threads(threads)
    for i in range(iters):
        b = batches(i)
        ref.step(b["lr"].double(), b["hr"].double())
    w64 = {k: v.detach().float() for k, v in ref.model.state_dict().items() if v.is_floating_point()}
    scale = max(float(v.abs().max()) for v in w["eager"].values())
    gmax = max(float(g.abs().max()) for g in grads["eager"].values())
    gdiff = _max_diff(grads["eager"], grads["channels_last"])
    lr = _optimizer(config)[1]
    print(f"\nsame results ({key}, {iters} iterations, same seed and batches, {threads} thread(s) unless said; "
          f"largest weight {scale:.3f}, lr {lr:g}):")
    print(f"  first gradient (same weights, same batch): max |g(eager) - g(channels_last)| = {gdiff:.2e} "
          f"= {gdiff / gmax:.1e} of the largest gradient (float rounding)")
    d64_eager = _max_diff(w["eager"], w64)
    ok_all = True
    for name in list(runs_)[1:]:
        d, d64 = _max_diff(w["eager"], w[name]), _max_diff(w[name], w64)
        ok = d < SAME_TOLERANCE or d64 <= 2 * d64_eager
        ok_all &= ok
        why = (f"< {SAME_TOLERANCE:g}" if d < SAME_TOLERANCE
               else f"float64 distance {d64:.2e} vs eager's {d64_eager:.2e}")
        print(f"  max |w(eager) - w({name})| = {d:.2e}  ({'OK' if ok else 'FAIL'}: {why})")
    print(f"  max |w - w(float64 plain loop)|: eager {d64_eager:.2e}, "
          f"channels_last {_max_diff(w['channels_last'], w64):.2e}, "
          f"profile settings {_max_diff(w['profile settings'], w64):.2e}")
    print(f"  same results: {'OK' if ok_all else 'FAIL'} (reported only; not in the exit code)")


def profile_part(args) -> None:
    keys = [k.strip() for spec in (args.config or DEFAULT_CONFIGS) for k in spec.split(",") if k.strip()]
    if keys == ["none"]:
        return
    print(f"\n== cpu profile's training step vs the plain eager fp32 step of the same model "
          f"(target >= {TARGET}x; random tensors of the config's shapes; wall-clock it/s, {args.repeats} repeats x "
          f"{args.iters} iterations, ABBA, medians). This machine may be loaded by other jobs: load average "
          f"(1/5/15 min) {_load()} on {os.cpu_count()} CPUs; such load slows (a) (2 threads) and (c) (every core) "
          f"more than (b).")
    for key in keys:
        profile_step(key, args, args.profile_budget / len(keys))
    if args.same_iters > 0:
        same_results(keys[0], args.same_iters, args.threads)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=9)
    ap.add_argument("--iters", type=int, default=10, help="iterations per timed repeat")
    ap.add_argument("--budget", type=float, default=80,
                    help="part 1: seconds for the timed repeats (at least 3 repeats run)")
    ap.add_argument("--threads", type=int, default=default_threads())
    ap.add_argument("--no-compile", action="store_true")
    ap.add_argument("--compile-timeout", type=float, default=100, help="seconds allowed for compile warm-up")
    ap.add_argument("--config", action="append", metavar="KEY[,KEY...]",
                    help=f"part 2: experiment key(s) at profile {PROFILE} (repeatable, or a comma list; "
                         f"'none' skips part 2; default {','.join(DEFAULT_CONFIGS)}; "
                         "also pspl.table1_vdsr_baseline, pspl.fig4_baseline)")
    ap.add_argument("--profile-budget", type=float, default=45,
                    help="part 2: seconds for the timed repeats, shared by the configs (at least 3 repeats each)")
    ap.add_argument("--same-iters", type=int, default=20, help="part 2: iterations of the same-results check (0: skip)")
    args = ap.parse_args(argv)
    load_start = _load()
    torch.set_num_threads(args.threads)
    g = torch.Generator().manual_seed(0)
    batch = {"lr": torch.rand(16, 3, 32, 32, generator=g), "hr": torch.rand(16, 3, 64, 64, generator=g)}
    print(f"EDSR 8x32 x2, batch 16x3x32x32, L1, Adam, CPU {args.threads} threads, torch {torch.__version__}, "
          f"{args.repeats} repeats x {args.iters} iterations (median), load average {os.getloadavg()[0]:.1f}")

    loops = {
        "plain loop": PlainLoop(batch),
        "Trainer": TrainerLoop(batch, args.threads),
        "plain loop, channels_last": PlainLoop(batch, channels_last=True),
        "Trainer, channels_last": TrainerLoop(batch, args.threads, channels_last=True),
    }
    if not args.no_compile:
        loops["Trainer, compile + channels_last"] = TrainerLoop(batch, args.threads, compile=True, channels_last=True)
    for name in list(loops):
        limit = args.compile_timeout if "compile" in name else 120
        try:
            s = warm(loops[name], 2, limit)
            print(f"  warm-up {name}: {s:.1f} s")
        except Timeout:
            print(f"  warm-up {name}: over {limit:.0f} s, variant dropped")
            del loops[name]
        except Exception as e:  # compile can fail on some setups; the eager variants still count
            print(f"  warm-up {name}: failed ({type(e).__name__}: {str(e)[:120]}), variant dropped")
            del loops[name]

    rates = {name: [] for name in loops}
    cpu_rates = {name: [] for name in loops}
    names = list(loops)
    t_start = time.perf_counter()
    for r in range(args.repeats):
        if r >= 3 and time.perf_counter() - t_start > args.budget:
            print(f"  stopped after {r} repeats (time budget {args.budget:.0f} s)")
            break
        order = names if r % 2 == 0 else names[::-1]  # ABBA: neither goes first every time
        for name in order:
            t0, c0 = time.perf_counter(), time.process_time()
            loops[name].run(args.iters)
            rates[name].append(args.iters / (time.perf_counter() - t0))
            cpu_rates[name].append(args.iters / (time.process_time() - c0))
    base = statistics.median(rates["plain loop"])
    cpu_base = statistics.median(cpu_rates["plain loop"])
    print(f"{'variant':36s} {'it/s (median)':>14s} {'min':>6s} {'max':>6s} {'vs plain':>9s} {'it/CPU-s':>9s} {'vs plain':>9s}")
    for name in names:
        med, cmed = statistics.median(rates[name]), statistics.median(cpu_rates[name])
        print(f"{name:36s} {med:14.2f} {min(rates[name]):6.2f} {max(rates[name]):6.2f} {med / base:9.3f} {cmed:9.2f} {cmed / cpu_base:9.3f}")
    # paired: each repeat's Trainer rate over the plain rate measured next to it (load drifts cancel)
    paired = [t / p for t, p in zip(rates["Trainer"], rates["plain loop"])]
    cpu_paired = [t / p for t, p in zip(cpu_rates["Trainer"], cpu_rates["plain loop"])]
    print(f"paired Trainer/plain wall-clock ratios per repeat: {', '.join(f'{x:.3f}' for x in paired)}")
    print(f"paired Trainer/plain CPU-time ratios per repeat:   {', '.join(f'{x:.3f}' for x in cpu_paired)}")
    overhead_us = loop_overhead_us(args.threads)
    it_ms = 1e3 / statistics.median(rates["Trainer"])
    print(f"Trainer bookkeeping per iteration (tiny model, same loop): {overhead_us:.0f} us "
          f"= {overhead_us / 1e3 / it_ms * 100:.3f}% of one EDSR 8x32 iteration ({it_ms:.0f} ms)")
    ratio, cpu_ratio = statistics.median(paired), statistics.median(cpu_paired)
    # CPU time per iteration is what the loop costs; wall time also counts other processes' turns
    ok = cpu_ratio >= 0.95
    print(f"Trainer / plain loop (median of pairs): wall {ratio:.3f}, CPU time {cpu_ratio:.3f} "
          f"({'OK' if ok else 'FAIL'}: CPU-time ratio must be >= 0.95)")
    profile_part(args)
    print(f"\nload average (1/5/15 min) at start {load_start}, at end {_load()}; exit code from the Trainer/plain "
          f"check only: {0 if ok else 1}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
