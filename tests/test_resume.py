"""Kill a CPU training run with SIGKILL, resume it, and compare with an uninterrupted run.

The child process (this file run as a script) trains EDSR 2x8 x2 on a few T91 patches for 60
iterations with a checkpoint every 10, through a stateful loss hook: a step counter buffer and
a learnable weight that the hook trains with its own Adam optimizer (saved via extra state).
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
    from srlib import data, models
    from srlib.metrics import evaluate_model
    from srlib.train import Trainer, seed_everything

    class CountingHook(nn.Module):
        """L1 weighted by a learnable scalar that the hook trains itself; counts its calls."""

        def __init__(self):
            super().__init__()
            self.register_buffer("steps", torch.zeros((), dtype=torch.long))
            self.weight = nn.Parameter(torch.tensor(1.0))
            self.opt = torch.optim.Adam([self.weight], lr=1e-2)

        def forward(self, model, batch, iteration):
            self.steps += 1
            l1 = (model(batch["lr"]) - batch["hr"]).abs().mean()
            # the hook's own "network" update (like a GAN discriminator step)
            self.opt.zero_grad()
            ((self.weight - 2.0 * l1.detach() * 10) ** 2).backward()
            self.opt.step()
            w = self.weight.detach() * (1.0 + 0.01 * self.steps.float())
            return l1 * w, {"steps": self.steps.float()}

        def get_extra_state(self):
            return {"optimizer": self.opt.state_dict()}

        def set_extra_state(self, state):
            self.opt.load_state_dict(state["optimizer"])

    seed_everything(0)
    model = models.build("edsr", scale=2, n_resblocks=2, n_feats=8)
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
    torch.save({"model": model.state_dict(), "hook": hook.state_dict(), "adam_state": hook.opt.state_dict()}, run_dir / "final.pt")
    losses = [r["loss"] for r in t.log]
    (run_dir / "final.json").write_text(json.dumps({"metrics": final["metrics"], "losses": losses}))


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
    assert fa["model"].keys() == fb["model"].keys()
    for k in fa["model"]:
        assert torch.equal(fa["model"][k], fb["model"][k]), k
    # the hook's own state (step counter, its parameter, its optimizer) came back too
    assert int(fb["hook"]["steps"]) == ITERATIONS
    assert torch.equal(fa["hook"]["weight"], fb["hook"]["weight"])
    assert fa["adam_state"]["state"][0]["step"] == fb["adam_state"]["state"][0]["step"] == ITERATIONS
    ja, jb = (json.loads((d / "final.json").read_text()) for d in (straight, killed))
    assert ja["metrics"] == jb["metrics"] and ja["metrics"]["Set5"]["psnr"] > 0
    assert ja["losses"] == jb["losses"]


if __name__ == "__main__":
    run_child(Path(sys.argv[1]), resume="--resume" in sys.argv, slow=0.05 if "--slow" in sys.argv else 0.0)
