"""Run store: hashing, reuse of finished runs, force, and half-written runs."""
from __future__ import annotations

import json

import pytest
import torch

from srlib import runs
import srlib.train

torch.set_num_threads(1)


def tiny_config(**changes) -> dict:
    config = {
        "model": {"name": "srcnn", "args": {"n1": 4, "n2": 4, "f1": 3, "f2": 1, "f3": 3}},
        "scale": 2,
        "loss": {"name": "l1"},
        "data": {"train": "Set5", "patch": 8, "batch": 2},
        "optimizer": {"name": "adam", "lr": 1e-3},
        "iterations": 4,
        "eval": {"sets": ["Set5"]},
        "checkpoint_every": 2,
        "seed": 0,
        "threads": 1,
        "device": "cpu",
    }
    config.update(changes)
    return config


def fake_evaluate(model, name, max_images=None):
    """Stand-in metric (keeps the test fast): mean absolute weight, a function of the weights."""
    w = torch.cat([p.detach().flatten() for p in model.parameters()])
    return {"psnr": float(w.abs().mean()), "ssim": 0.5}


@pytest.fixture
def store(tmp_path):
    return {"root": tmp_path / "runs", "checkpoint_root": tmp_path / "ckpt", "progress": False, "evaluate": fake_evaluate}


def test_hash_is_stable_and_key_order_free():
    a = tiny_config()
    b = json.loads(json.dumps(a))
    b = dict(reversed(list(b.items())))
    assert runs.run_hash(a) == runs.run_hash(b)
    assert len(runs.run_hash(a)) == 16
    assert runs.run_hash(a) != runs.run_hash(tiny_config(seed=1))
    assert runs.run_hash(a) != runs.run_hash(tiny_config(optimizer={"name": "adam", "lr": 2e-3}))
    with pytest.raises(TypeError, match="plain JSON"):
        runs.run_hash(tiny_config(seed=object()))


def test_finished_run_is_returned_without_training(store, monkeypatch):
    calls = []
    real_train = srlib.train.train
    monkeypatch.setattr(srlib.train, "train", lambda *a, **k: calls.append(1) or real_train(*a, **k))
    run = runs.get_or_train(tiny_config(), "unit", **store)
    assert calls == [1]
    assert run.finished and run.final["iterations"] == 4 and run.final["hash"] == run.dir.name
    assert set(run.log.columns) >= {"iteration", "loss", "lr", "seconds"}
    assert (run.dir / "checkpoint.pt").exists()  # small: kept next to the results
    again = runs.get_or_train(tiny_config(), "unit", **store)
    assert calls == [1] and again.dir == run.dir and again.final == run.final
    model = again.load_model()
    assert model.body[0].out_channels == 4 and not model.training
    found = runs.find("unit", root=store["root"], seed=0, model__name="srcnn")
    assert [r.dir for r in found] == [run.dir]
    assert runs.find("unit", root=store["root"], seed=1) == []


def test_force_retrains(store, monkeypatch):
    run = runs.get_or_train(tiny_config(), "unit", **store)
    first = run.final["finished_at"], (run.dir / "final.json").stat().st_mtime_ns
    calls = []
    real_train = srlib.train.train
    monkeypatch.setattr(srlib.train, "train", lambda *a, **k: calls.append(k.get("resume")) or real_train(*a, **k))
    again = runs.get_or_train(tiny_config(), "unit", force=True, **store)
    assert calls == [True] and again.dir == run.dir
    assert (again.dir / "final.json").stat().st_mtime_ns != first[1]
    # deterministic on CPU: the retrained run has the same weights
    assert again.final["metrics"] == run.final["metrics"]


def test_half_written_run_is_resumed_not_taken_as_finished(store, monkeypatch):
    config = tiny_config()
    run = runs.get_or_train(config, "unit", **store)
    expected = run.final["metrics"]
    (run.dir / "final.json").unlink()  # as if killed before final.json was written
    assert runs.find("unit", root=store["root"]) == []
    calls = []
    real_train = srlib.train.train
    monkeypatch.setattr(srlib.train, "train", lambda *a, **k: calls.append(1) or real_train(*a, **k))
    again = runs.get_or_train(config, "unit", **store)
    assert calls == [1] and again.finished and again.final["metrics"] == expected


def test_large_checkpoint_goes_under_checkpoint_root(store):
    run = runs.get_or_train(tiny_config(), "unit", checkpoint_limit_mb=0.0, **store)
    assert not (run.dir / "checkpoint.pt").exists()
    assert run.checkpoint_path == store["checkpoint_root"] / "unit" / run.dir.name / "checkpoint.pt"
    assert run.load_model() is not None


def test_bad_experiment_name(store):
    with pytest.raises(ValueError, match="plain name"):
        runs.get_or_train(tiny_config(), "../x", **store)


def test_cli_train_then_eval(tmp_path, capsys, monkeypatch):
    from srlib.__main__ import main

    monkeypatch.setenv("SRLIB_PROFILE", "smoke")
    root = tmp_path / "runs"
    tiny = ['model.args={"colors": 1, "n1": 4, "n2": 4, "f1": 3, "f2": 1, "f3": 3}', "iterations=3", "data.patch=8",
            "data.train=Set5", "eval.max_images=1", "threads=1", "device=cpu", "checkpoint_every=0"]
    argv = ["train", "--experiment", "engine.srcnn_x2", "--root", str(root), "--no-progress"]
    for s in tiny:
        argv += ["--set", s]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "profile smoke" in out and "CPU 1 threads" in out and "Set5: PSNR" in out
    (run_dir,) = (root / "engine.srcnn_x2").iterdir()
    assert json.loads((run_dir / "config.json").read_text())["iterations"] == 3
    assert main(["eval", "--run", str(run_dir), "--sets", "Set5", "--max-images", "1", "--device", "cpu"]) == 0
    assert "Set5: PSNR" in capsys.readouterr().out
    with pytest.raises(ValueError, match="unknown profile"):
        monkeypatch.setenv("SRLIB_PROFILE", "gpu")
        main(argv)


def test_get_or_train_many_in_worker_processes_matches_one_by_one(tmp_path):
    """Two runs trained side by side in spawned workers give the same weights and metrics as one
    after the other; finished runs are then reused; the order of the result is the order of the jobs."""
    cfgs = [tiny_config(seed=s, eval={"sets": ["Set5"], "max_images": 1}) for s in (0, 1)]
    jobs = [(c, "unit") for c in cfgs]
    side = runs.get_or_train_many(jobs, workers=2, progress=False, root=tmp_path / "a", checkpoint_root=tmp_path / "ca")
    one = runs.get_or_train_many(jobs, workers=1, progress=False, root=tmp_path / "b", checkpoint_root=tmp_path / "cb")
    assert [r.config["seed"] for r in side] == [0, 1] == [r.config["seed"] for r in one]
    for a, b in zip(side, one):
        assert a.final["metrics"] == b.final["metrics"]
        wa, wb = a.load_model().state_dict(), b.load_model().state_dict()
        assert all(torch.equal(wa[k], wb[k]) for k in wa)
    stamp = [(r.dir / "final.json").stat().st_mtime_ns for r in side]
    again = runs.get_or_train_many(jobs, workers=2, progress=False, root=tmp_path / "a", checkpoint_root=tmp_path / "ca")
    assert [(r.dir / "final.json").stat().st_mtime_ns for r in again] == stamp  # reused, not retrained


def test_get_or_train_many_reports_failed_runs_by_name(tmp_path):
    bad = tiny_config(model={"name": "no-such-model", "args": {}})
    with pytest.raises(RuntimeError, match=r"1 of 2 runs failed:\n.*unit/"):
        runs.get_or_train_many([(tiny_config(), "unit"), (bad, "unit")], workers=2, progress=False,
                               root=tmp_path / "r", checkpoint_root=tmp_path / "c")
    with pytest.raises(ValueError, match="evaluate"):
        runs.get_or_train_many([(tiny_config(seed=5), "unit"), (tiny_config(seed=6), "unit")], workers=2,
                               root=tmp_path / "r", evaluate=fake_evaluate)


def test_train_workers(monkeypatch):
    monkeypatch.delenv("SRLIB_TRAIN_WORKERS", raising=False)
    assert runs.train_workers([tiny_config(threads=None)]) == 1  # no fixed thread count: one at a time
    cores = len(__import__("os").sched_getaffinity(0))
    assert runs.train_workers([tiny_config(threads=1)]) == cores
    assert runs.train_workers([tiny_config(threads=cores)]) == 1
    monkeypatch.setenv("SRLIB_TRAIN_WORKERS", "3")
    assert runs.train_workers([tiny_config()]) == 3
    monkeypatch.setenv("SRLIB_TRAIN_WORKERS", "zero")
    with pytest.raises(ValueError, match="SRLIB_TRAIN_WORKERS"):
        runs.train_workers([tiny_config()])
