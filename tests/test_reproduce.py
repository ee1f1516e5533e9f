"""`python -m srlib reproduce`: retrain a committed run in an empty store and compare."""
import pytest

from srlib import runs


def _config(tmp_path):
    return {"model": {"name": "srcnn", "args": {"n1": 4, "n2": 4, "f1": 3, "f2": 1, "f3": 3, "colors": 1}},
            "scale": 2, "loss": {"name": "l2"}, "data": {"train": "T91", "patch": 8, "batch": 2},
            "optimizer": {"name": "adam", "lr": 1e-3}, "iterations": 3, "threads": 1, "seed": 0,
            "eval": {"final_sets": ["Set5"], "final_max_images": 1}, "checkpoint_every": 3, "device": "cpu"}


def test_reproduce_retrains_in_an_empty_store_and_matches(tmp_path):
    c = _config(tmp_path)
    root = tmp_path / "store"
    with pytest.raises(FileNotFoundError, match="no finished run of t.repro"):
        runs.reproduce(c, "t.repro", root=root, progress=False)
    committed = runs.get_or_train(c, "t.repro", root=root, checkpoint_root=tmp_path / "ck", progress=False)
    out = runs.reproduce(c, "t.repro", root=root, scratch=tmp_path / "scratch", progress=False)
    assert out["fresh"].dir != committed.dir and str(out["fresh"].dir).startswith(str(tmp_path / "scratch"))
    assert out["identical"] and out["max_abs_difference"] == 0.0
    assert out["weights_max_abs_difference"] == 0.0  # deterministic on CPU: the same weights, bit for bit
    assert {r["metric"] for r in out["metrics"]} == {"psnr", "ssim"}
    # a tampered committed result is caught
    import json

    f = committed.dir / "final.json"
    final = json.loads(f.read_text())
    final["metrics"]["Set5"]["psnr"] += 0.01
    f.write_text(json.dumps(final))
    out = runs.reproduce(c, "t.repro", root=root, scratch=tmp_path / "scratch2", progress=False)
    assert not out["identical"] and out["max_abs_difference"] == pytest.approx(0.01)
