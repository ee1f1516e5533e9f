import itertools

import numpy as np
import pytest
import torch

from srlib.chapters.pspl import explorer as ax

# one step per iteration: with the code's 1/1000 the first iterations' weights are exactly 0 and nothing moves
TINY = {
    "model": {"name": "edsr-baseline", "args": {"n_resblocks": 1, "n_feats": 4}},
    "scale": 2,
    "loss": {"name": "pspl", "args": {"base": "l1", "step_per_iteration": 1.0}},
    "data": {"train": "T91", "patch": 8, "batch": 2},
    "optimizer": {"name": "adam", "lr": 1e-3},
    "iterations": 4,
    "eval": {"sets": []},
    "checkpoint_every": 4,
    "seed": 0,
    "device": "cpu",
    "threads": 1,
}


def _crops(n=2, size=16, scale=2, seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for k in range(n):
        hr = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
        lr = hr[::scale, ::scale]
        out.append({"name": f"synthetic/{k}", "lr": lr, "hr": hr, "box": (0, 0, size, size), "scale": scale})
    return out


def _snapshots(scale=2):
    from srlib.models import build

    torch.manual_seed(0)
    states = {}
    for it in (0, 10):
        m = build("edsr-baseline", scale=scale, n_resblocks=1, n_feats=4)
        states[it] = m.state_dict()
    cfg = {**TINY, "scale": scale}
    return {"config": cfg, "iterations": [0, 10], "states": states}


def test_precompute_frames_shapes_keys_and_determinism():
    snaps, crops = _snapshots(), _crops()
    kw = dict(deltas=[0.1, 1.0], gammas=[2.0], mus=[-1.0, 0.0], panel=64)
    frames, axes = ax.precompute_frames(snaps, crops, **kw)
    assert list(axes) == ["image", "step", "delta", "gamma", "mu"]
    assert axes["image"] == ["synthetic/0", "synthetic/1"] and axes["step"] == [0, 10]
    expected = set(itertools.product(*axes.values()))
    assert set(frames) == expected and len(frames) == 2 * 2 * 2 * 1 * 2
    shapes = {f.shape for f in frames.values()}
    assert len(shapes) == 1
    (shape,) = shapes
    assert shape[2] == 3 and shape[0] > 40 and shape[1] > 200
    assert all(f.dtype == np.uint8 for f in frames.values())
    again, _ = ax.precompute_frames(snaps, crops, **kw)
    assert all(np.array_equal(frames[k], again[k]) for k in frames)
    # the axes actually change the picture
    k0 = ("synthetic/0", 0, 0.1, 2.0, -1.0)
    assert not np.array_equal(frames[k0], frames[("synthetic/0", 0, 1.0, 2.0, -1.0)])
    assert not np.array_equal(frames[k0], frames[("synthetic/1", 0, 0.1, 2.0, -1.0)])


def test_frames_feed_frame_viewer():
    from srlib.viz import frame_viewer

    frames, axes = ax.precompute_frames(_snapshots(), _crops(1), deltas=[0.5], panel=32)
    w = frame_viewer(frames, axes=axes)
    assert w is not None


def test_pair_state_matches_loss_similarity_map():
    from srlib.losses.pspl import similarity_map

    snaps, (crop,) = _snapshots(), _crops(1)
    model = ax.model_at(snaps, 10)
    st = ax.pair_state(model, crop)
    assert st["sr"].shape == (16, 16, 3) and st["m_s"].shape == (3, 16, 16)
    sr = torch.from_numpy(st["sr"].transpose(2, 0, 1))[None]
    hr = torch.from_numpy(st["hr"].transpose(2, 0, 1))[None]
    np.testing.assert_allclose(st["m_s"], similarity_map(sr, hr)[0].numpy(), atol=1e-6)
    with pytest.raises(KeyError):
        ax.model_at(snaps, 5)


def test_attention_histograms_are_distributions():
    m_s = np.linspace(-1, 1, 300).reshape(3, 10, 10)
    h = ax.attention_histograms(m_s, deltas=[0.1, 1.0, 10.0], bins=20)
    assert np.allclose(h.groupby("delta")["share"].sum(), 1.0)
    # large delta: every pixel near gamma
    big = h[h.delta == 10.0]
    assert big.loc[big.share.idxmax(), "m_a"] > 1.9


def test_loss_delta_follows_the_hook():
    assert ax.loss_delta(TINY, 3) == pytest.approx(3.0)
    cfg = {**TINY, "loss": {"name": "pspl", "args": {"base": "l1"}}}
    assert ax.loss_delta(cfg, 250) == pytest.approx(0.25)
    with pytest.raises(ValueError):
        ax.loss_delta({**TINY, "loss": {"name": "l1"}}, 3)


def test_snapshots_match_the_run_store_and_are_reused(tmp_path):
    from srlib import runs

    snaps = ax.snapshot_training(TINY, [0, 2, 4], root=tmp_path)
    assert snaps["iterations"] == [0, 2, 4] and (snaps["dir"] / "snapshots.pt").exists()
    assert not all(torch.equal(snaps["states"][0][k], snaps["states"][4][k]) for k in snaps["states"][0])
    run = runs.get_or_train(TINY, "t", root=tmp_path, checkpoint_root=tmp_path / "ck", progress=False)
    final = run.load_model().state_dict()
    for k, v in final.items():
        assert torch.equal(v, snaps["states"][4][k]), k
    again = ax.snapshot_training(TINY, [4, 0, 2], root=tmp_path)
    assert again["dir"] == snaps["dir"]
    with pytest.raises(ValueError):
        ax.snapshot_training(TINY, [0, 5], root=tmp_path)
