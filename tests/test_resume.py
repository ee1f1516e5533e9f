"""Kill a CPU training run with SIGKILL, resume it, and compare with an uninterrupted run.

The child process (this file run as a script) trains EDSR 2x8 x2 on a few T91 patches for 60
iterations with a checkpoint every 10, through a stateful loss hook. Both kinds of extra
parameters of :mod:`srlib.losses` ("who trains what") are in it:

* the model carries an auxiliary classification head trained jointly with the SR network (it is
  in ``model.parameters()``: the Trainer's Adam trains it, the model state saves it);
* the hook owns a step counter buffer and a learnable weight that it trains with its own Adam
  optimizer, created in its ``__init__`` and saved via extra state.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ITERATIONS, CHECKPOINT_EVERY = 60, 10


def run_child(run_dir: Path, resume: bool, slow: float = 0.0):
    """Build the same seeded training run and fit it; writes final.pt + final.json when done."""
    import torch
    import torch.nn as nn

    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    import torch.nn.functional as F

    from srlib import data, models
    from srlib.metrics import evaluate_model
    from srlib.train import Trainer, seed_everything

    class WithHead(nn.Module):
        """EDSR plus a head that guesses the dominant colour of the HR patch from the SR output
        (like a fine-grained loss's classifier): trained jointly, so part of the model."""

        scale, colors, pre_upsample = 2, 3, False

        def __init__(self):
            super().__init__()
            self.sr = models.build("edsr", scale=2, n_resblocks=2, n_feats=8)
            self.head = nn.Linear(3, 3)

        def forward(self, lr):
            return self.sr(lr)

    class CountingHook(nn.Module):
        """L1 weighted by a learnable scalar that the hook trains itself; counts its calls."""

        def __init__(self):
            super().__init__()
            self.register_buffer("steps", torch.zeros((), dtype=torch.long))
            self.weight = nn.Parameter(torch.tensor(1.0))
            self.opt = torch.optim.Adam([self.weight], lr=1e-2)

        def forward(self, model, batch, iteration):
            self.steps += 1
            sr = model(batch["lr"])
            l1 = (sr - batch["hr"]).abs().mean()
            # the jointly trained head: reached through the model, trained by the Trainer's optimizer
            aux = F.cross_entropy(model.head(sr.mean(dim=(2, 3))), batch["hr"].mean(dim=(2, 3)).argmax(dim=1))
            # the hook's own "network" update (like a GAN discriminator step)
            self.opt.zero_grad()
            ((self.weight - 2.0 * l1.detach() * 10) ** 2).backward()
            self.opt.step()
            w = self.weight.detach() * (1.0 + 0.01 * self.steps.float())
            return l1 * w + 0.1 * aux, {"steps": self.steps.float(), "aux": aux.detach()}

        def get_extra_state(self):
            return {"optimizer": self.opt.state_dict()}

        def set_extra_state(self, state):
            self.opt.load_state_dict(state["optimizer"])

    seed_everything(0)
    model = WithHead()
    head_init = model.head.weight.detach().clone()
    hook = CountingHook()
    from srlib.degrade import bicubic_lr, modcrop

    hrs = [modcrop(data.load_image(p), 2) for p in data.list_images("T91")[:4]]
    sampler = data.PatchSampler([(bicubic_lr(h, 2), h) for h in hrs], 2,
                                patch=12, batch=4, seed=0)

    def batches(i):
        if slow:
            time.sleep(slow)
        return sampler.batch(i)

    def evaluate(m, name, max_images=None):
        return evaluate_model(m, name, 2, device="cpu", max_images=1)

    t = Trainer(model, hook, batches, iterations=ITERATIONS, lr=1e-3, checkpoint_every=CHECKPOINT_EVERY,
                checkpoint_path=run_dir / "checkpoint.pt", log_path=run_dir / "log.csv", evaluate=evaluate,
                eval_sets=["Set5"], eval_every=30, progress=False, threads=1, device="cpu",
                schedule={"name": "step", "step_size": 25, "gamma": 0.5})
    final = t.fit(resume=resume)
    trained = {id(p) for g in t.optimizer.param_groups for p in g["params"]}
    assert trained == {id(p) for p in model.parameters()} and id(hook.weight) not in trained
    torch.save({"model": model.state_dict(), "head_init": head_init, "hook": hook.state_dict(),
                "adam_state": hook.opt.state_dict(), "trainer_optimizer": t.optimizer.state_dict(),
                "scheduler": t.scheduler.state_dict()}, run_dir / "final.pt")
    losses = [r["loss"] for r in t.log]
    (run_dir / "final.json").write_text(json.dumps({"metrics": final["metrics"], "losses": losses}))


def _same(a, b, where="") -> None:
    """Nested dicts/lists of tensors and plain values are equal, tensors exactly."""
    import torch

    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and torch.equal(a, b), where
    elif isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys(), where
        for k in a:
            _same(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, (list, tuple)):
        assert isinstance(b, (list, tuple)) and len(a) == len(b), where
        for k, (x, y) in enumerate(zip(a, b)):
            _same(x, y, f"{where}[{k}]")
    else:
        assert a == b, where


def _child(run_dir: Path, *flags: str) -> subprocess.Popen:
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    return subprocess.Popen([sys.executable, __file__, str(run_dir), *flags], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def _finish(p: subprocess.Popen, timeout=240):
    out, _ = p.communicate(timeout=timeout)
    assert p.returncode == 0, out.decode()[-3000:]


@pytest.mark.slow
def test_killed_and_resumed_run_matches_uninterrupted_run(tmp_path):
    import torch

    straight, killed = tmp_path / "straight", tmp_path / "killed"
    straight.mkdir()
    killed.mkdir()
    a = _child(straight)
    b = _child(killed, "--slow")
    # kill b once it has written a checkpoint past the first one, well before the end
    ckpt = killed / "checkpoint.pt"
    deadline = time.time() + 200
    while time.time() < deadline:
        if ckpt.exists():
            it = torch.load(ckpt, weights_only=False)["iteration"]
            if it >= 2 * CHECKPOINT_EVERY:
                break
        time.sleep(0.2)
    else:
        b.kill()
        pytest.fail("the child never wrote its second checkpoint")
    os.kill(b.pid, signal.SIGKILL)
    b.wait()
    assert b.returncode == -signal.SIGKILL
    assert not (killed / "final.pt").exists()
    killed_at = torch.load(ckpt, weights_only=False)["iteration"]
    assert CHECKPOINT_EVERY <= killed_at < ITERATIONS
    _finish(_child(killed, "--resume"))
    _finish(a)

    fa, fb = torch.load(straight / "final.pt", weights_only=False), torch.load(killed / "final.pt", weights_only=False)
    # the model, its jointly trained head included, and the Trainer's optimizer (which trained both)
    _same(fa["model"], fb["model"], "model")
    assert any(k.startswith("head.") for k in fa["model"]) and any(k.startswith("sr.") for k in fa["model"])
    assert not torch.equal(fa["model"]["head.weight"], fa["head_init"])  # the head was trained
    _same(fa["trainer_optimizer"], fb["trainer_optimizer"], "trainer optimizer")
    n_model_params = len(fa["trainer_optimizer"]["param_groups"][0]["params"])
    assert n_model_params == len([k for k in fa["model"] if k.endswith(("weight", "bias"))])
    assert all(int(s["step"]) == ITERATIONS for s in fb["trainer_optimizer"]["state"].values())
    _same(fa["scheduler"], fb["scheduler"], "scheduler")
    # the hook's own state (step counter, its parameter, its optimizer) came back too
    assert int(fb["hook"]["steps"]) == ITERATIONS
    _same(fa["hook"], fb["hook"], "hook")
    _same(fa["adam_state"], fb["adam_state"], "hook optimizer")
    assert fa["adam_state"]["state"][0]["step"] == fb["adam_state"]["state"][0]["step"] == ITERATIONS
    ja, jb = (json.loads((d / "final.json").read_text()) for d in (straight, killed))
    assert ja["metrics"] == jb["metrics"] and ja["metrics"]["Set5"]["psnr"] > 0
    assert ja["losses"] == jb["losses"]


if __name__ == "__main__":
    run_child(Path(sys.argv[1]), resume="--resume" in sys.argv, slow=0.05 if "--slow" in sys.argv else 0.0)
