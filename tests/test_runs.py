"""Run store: hashing (the run-identity rule), reuse of finished runs across experiments, force,
half-written runs, the migration of a store to the current hash rule, and the train/eval CLI."""
from __future__ import annotations

import hashlib
import json
import shutil

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


def old_run_hash(config: dict) -> str:
    """The hash rule before display keys were left out: the whole config."""
    text = runs.canonical_json({"config": config, "srlib": srlib.__version__})
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def test_hash_covers_what_changes_the_result_not_display_keys():
    base = tiny_config()
    h = runs.run_hash(base)
    assert h == old_run_hash(base)  # a config without display keys hashes as before the rule
    shown = dict(base, experiment="pspl.x", notes="a note", profile="cpu",
                 model=dict(base["model"], label="SRCNN tiny"))
    assert runs.run_hash(shown) == h
    assert runs.run_hash(dict(base, eval={"sets": ["Set5"], "metrics": ["psnr", "ssim"]})) == h  # the default
    assert "label" in shown["model"] and "experiment" in shown  # run_identity does not touch its argument
    changed = [
        tiny_config(optimizer={"name": "adam", "lr": 2e-3}), tiny_config(seed=1), tiny_config(iterations=5),
        tiny_config(threads=2), tiny_config(device="auto"), tiny_config(eval={"sets": ["Set14"]}),
        tiny_config(eval={"sets": ["Set5"], "max_images": 1}), tiny_config(eval={"sets": ["Set5"], "metrics": ["psnr"]}),
        tiny_config(model={"name": "srcnn", "args": {"n1": 8, "n2": 4, "f1": 3, "f2": 1, "f3": 3}}),
        tiny_config(loss={"name": "l2"}), tiny_config(checkpoint_every=1), tiny_config(log_every=1),
    ]
    hashes = [runs.run_hash(c) for c in changed]
    assert h not in hashes and len(set(hashes)) == len(hashes)


def test_second_experiment_with_the_same_config_reuses_the_first_run(store, monkeypatch):
    first = runs.get_or_train(dict(tiny_config(), experiment="a", notes="first"), "a", **store)
    calls = []
    real_train = srlib.train.train
    monkeypatch.setattr(srlib.train, "train", lambda *a, **k: calls.append(1) or real_train(*a, **k))
    second_config = dict(tiny_config(), experiment="b", profile="cpu",
                         model=dict(tiny_config()["model"], label="another caption"))
    second = runs.get_or_train(second_config, "b", **store)
    assert calls == [] and second.dir == first.dir == store["root"] / "a" / runs.run_hash(second_config)
    assert second.final["experiment"] == "a" and second.config["notes"] == "first"  # provenance: who trained it
    assert runs.run_dir(second_config, root=store["root"]) == first.dir  # experiment from the config
    assert not (store["root"] / "b").exists()
    # own experiment first: a run filed under "b" itself wins over "a"'s
    again = runs.get_or_train(second_config, "b", force=True, **store)
    assert calls == [1] and again.dir == store["root"] / "b" / first.dir.name
    assert runs.get_or_train(second_config, "b", **store).dir == again.dir
    assert runs.get_or_train(tiny_config(), "c", **store).dir == first.dir  # others in sorted order: "a" first
    assert calls == [1]


def test_get_or_train_many_trains_one_config_of_two_experiments_once(store, monkeypatch):
    jobs = [(tiny_config(), "x"), (dict(tiny_config(), notes="same run"), "y"), (tiny_config(seed=3), "y")]
    kwargs = {k: store[k] for k in ("root", "checkpoint_root", "evaluate")}
    got = runs.get_or_train_many(jobs, workers=1, progress=False, **kwargs)
    assert got[0].dir == got[1].dir == store["root"] / "x" / runs.run_hash(tiny_config())
    assert got[2].dir.parent.name == "y"
    assert sorted(p.name for p in (store["root"] / "y").iterdir()) == [runs.run_hash(tiny_config(seed=3))]


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
    assert runs.find_run(tiny_config(), "unit", root=store["root"]) == run.dir
    assert runs.run_dir(tiny_config(), "unit", root=store["root"]) == run.dir
    assert runs.find_run(tiny_config(seed=1), "unit", root=store["root"]) is None


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
    assert runs.find_run(config, "unit", root=store["root"]) is None
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


def _old_store(root, config, experiment, metrics, files=None):
    """A run directory as the old hash rule filed it (config.json, log.csv, final.json as get_or_train writes them)."""
    h = old_run_hash(config)
    d = root / experiment / h
    d.mkdir(parents=True)
    (d / "config.json").write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
    (d / "log.csv").write_text("iteration,loss,lr,seconds\n4,0.1,0.001,0.5\n")
    final = {"metrics": metrics, "experiment": experiment, "hash": h, "checkpoint": "checkpoint.pt", "seconds": 0.5}
    (d / "final.json").write_text(json.dumps(final, indent=2, sort_keys=True) + "\n")
    for name, data in (files or {}).items():
        (d / name).write_bytes(data)
    return d


def test_migrate_store_renames_runs_to_the_new_hash(tmp_path, monkeypatch):
    root, ck = tmp_path / "runs", tmp_path / "ckpt"
    shown = dict(tiny_config(), experiment="e1", profile="cpu", model=dict(tiny_config()["model"], label="tiny"))
    metrics = {"Set5": {"psnr": 30.123456789012345, "ssim": 0.9}}
    old = _old_store(root, shown, "e1", metrics, {"checkpoint.pt": b"weights"})
    (ck / "e1" / old.name).mkdir(parents=True)
    (ck / "e1" / old.name / "checkpoint.pt").write_bytes(b"in progress")
    plain = _old_store(root, tiny_config(seed=7), "e1", metrics)  # no display keys: hash unchanged
    snap = root / "e2" / "0123456789abcdef"  # not a run config (like the attention explorer's snapshots)
    snap.mkdir(parents=True)
    (snap / "config.json").write_text(json.dumps({"config": shown, "snapshots": [0, 4]}))
    before = {p.name: p.read_bytes() for p in old.iterdir()}
    final_before = (old / "final.json").read_text()
    assert runs.migrate_store(root, ck, dry_run=True) == [{"experiment": "e1", "old": old.name, "new": runs.run_hash(shown),
                                                           "action": "rename"}]
    assert old.exists()
    changes = runs.migrate_store(root, ck)
    new = root / "e1" / runs.run_hash(shown)
    assert [(c["old"], c["new"], c["action"]) for c in changes] == [(old.name, new.name, "rename")]
    assert not old.exists() and new.is_dir() and plain.is_dir() and snap.is_dir()
    for name, data in before.items():
        if name != "final.json":
            assert (new / name).read_bytes() == data
    assert (new / "final.json").read_text() == final_before.replace(old.name, new.name)
    assert json.loads((new / "final.json").read_text())["metrics"] == metrics
    assert (ck / "e1" / new.name / "checkpoint.pt").read_bytes() == b"in progress"
    assert runs.migrate_store(root, ck) == []  # idempotent
    # found by the new rule without training
    monkeypatch.setattr(srlib.train, "train", lambda *a, **k: pytest.fail("must not train"))
    assert runs.get_or_train(shown, "e1", root=root, checkpoint_root=ck).dir == new
    assert runs.get_or_train(tiny_config(), "e9", root=root, checkpoint_root=ck).dir == new  # from another experiment


def test_migrate_store_refuses_colliding_runs_and_drops_identical_copies(tmp_path):
    root = tmp_path / "runs"
    a = dict(tiny_config(), model=dict(tiny_config()["model"], label="one"))
    b = dict(tiny_config(), model=dict(tiny_config()["model"], label="two"))  # same run, another caption
    da = _old_store(root, a, "e", {"Set5": {"psnr": 30.0}})
    db = _old_store(root, b, "e", {"Set5": {"psnr": 31.0}})  # ...but other results: a real conflict
    with pytest.raises(ValueError, match="different results"):
        runs.migrate_store(root)
    assert da.exists() and db.exists() and sorted(p.name for p in (root / "e").iterdir()) == sorted([da.name, db.name])
    shutil.rmtree(db)
    db = _old_store(root, b, "e", {"Set5": {"psnr": 30.0}})  # identical results: one run filed twice
    changes = runs.migrate_store(root)
    assert sorted(c["action"] for c in changes) == ["drop duplicate", "rename"]
    assert [p.name for p in (root / "e").iterdir()] == [runs.run_hash(a)]


def test_cli_train_list_and_missing_experiment(capsys, monkeypatch):
    from srlib import profiles
    from srlib.__main__ import main

    monkeypatch.setenv("SRLIB_PROFILE", "smoke")
    assert main(["train", "--list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(profiles.keys())
    line = next(l for l in lines if l.startswith("engine.srcnn_x2: "))
    assert line == "engine.srcnn_x2: " + profiles.describe(profiles.get("smoke", "engine.srcnn_x2"))
    assert "profile smoke" in line and "50 it" in line
    assert main(["train", "--list", "--profile", "cpu"]) == 0
    assert "profile cpu" in capsys.readouterr().out
    assert main(["train"]) == 2
    assert "--list" in capsys.readouterr().err
