"""Iterations/s of the srlib Trainer against a plain hand-written PyTorch loop, side by side.

EDSR 8 res blocks x 32 features, x2, batch 16 of 32x32 LR patches, L1, Adam, same thread count,
same fixed batch. Variants are interleaved over repeats (after a warm-up) and the median of each
is reported; the Trainer/plain ratio (median of per-repeat pairs, iterations per CPU second: robust to
other processes on a shared machine; wall-clock is printed too) must be >= 0.95. The Trainer's own
bookkeeping per iteration is measured on a tiny model. channels_last and torch.compile variants of
the Trainer are printed too (compile + channels_last; its warm-up is time-boxed). Usage:
    python benchmarks/train_step.py [--repeats 9] [--iters 10] [--budget 150] [--threads N] [--no-compile]
"""
from __future__ import annotations

import argparse
import os
import signal
import statistics
import sys
import time

import torch
import torch.nn.functional as F

from srlib import models
from srlib.losses.pixel import l1_loss
from srlib.train import Trainer, default_threads


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


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=9)
    ap.add_argument("--iters", type=int, default=10, help="iterations per timed repeat")
    ap.add_argument("--budget", type=float, default=150, help="seconds for the timed repeats (at least 3 repeats run)")
    ap.add_argument("--threads", type=int, default=default_threads())
    ap.add_argument("--no-compile", action="store_true")
    ap.add_argument("--compile-timeout", type=float, default=100, help="seconds allowed for compile warm-up")
    args = ap.parse_args(argv)
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
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
