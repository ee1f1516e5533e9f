"""The PSPL attention-map explorer (srlib.chapters.pspl.explorer, its chapter functions in
srlib.chapters.pspl.attention, srlib.viz.panel_viewer): snapshots, what the SSIM choices do to M_s,
the three parts of the figure, the kernel-free viewer and the live one. No training beyond 4 tiny iterations."""
import ast
import io
import itertools
import json

import numpy as np
import pytest
import torch

from srlib import REPO_ROOT
from srlib.chapters.pspl import attention
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
BOOK_COLUMN = 752  # px: the width of the book's text column at a 1280-px window (measured in Chromium)


def _crops(n=2, size=24, scale=2, seed=0):
    """Random HR crops whose left half is flat (where the SSIM constants matter)."""
    rng = np.random.default_rng(seed)
    out = []
    for k in range(n):
        hr = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
        hr[:, : size // 2] = 128
        lr = hr[::scale, ::scale]
        out.append({"name": f"synthetic/{k}", "lr": lr, "hr": hr, "box": (0, 0, size, size), "scale": scale})
    return out


def _snapshots(seed=0, loss=None, scale=2, iterations=(0, 10)):
    """A snapshot set of untrained EDSRs (a different initialisation per iteration and seed), no training."""
    from srlib.models import build

    states = {}
    for it in iterations:
        torch.manual_seed(1000 * seed + it)
        states[it] = build("edsr-baseline", scale=scale, n_resblocks=1, n_feats=4).state_dict()
    cfg = {**TINY, "scale": scale, "loss": loss or TINY["loss"]}
    return {"config": cfg, "iterations": list(iterations), "states": states}


def _models():
    return {"baseline": _snapshots(0, {"name": "l1"}), "PSPL": _snapshots(1)}


def _state(sr: np.ndarray, hr: np.ndarray) -> dict:
    """A :func:`super_resolve_crop`-like state from two float (H, W, 3) images in [0, 1]."""
    def t(a):
        return torch.from_numpy(np.ascontiguousarray(a.transpose(2, 0, 1)))[None].float()
    return {"sr": sr, "hr": hr, "err": np.abs(sr - hr), "name": "synthetic", "sr_t": t(sr), "hr_t": t(hr)}


def _lut(cmap):
    return ax._lut(cmap, ax.LEVELS)


# ----------------------------------------------------------------------------- M_s: what the SSIM choices change


def test_reflect_padding_changes_m_s_at_the_border_only():
    rng = np.random.default_rng(1)
    hr = rng.random((32, 32, 3))
    sr = np.clip(hr + rng.normal(0, 0.1, hr.shape), 0, 1)
    st = _state(sr, hr)
    zero = ax.with_similarity(st, "code", "zero")["m_s"]
    reflect = ax.with_similarity(st, "code", "reflect")["m_s"]
    band = ax.border_band(32, 32)
    assert ax.BORDER == 5 and band.sum() == 32 * 32 - 22 * 22
    diff = np.abs(reflect - zero).mean(0)
    assert diff[band].mean() > 0.01                      # the window sees zeros beyond the border, or a mirror
    assert diff[~band].max() < 1e-6                      # inside the band the window never leaves the crop
    assert ax.with_similarity(st, "code", "zero")["padding"] == "zero"
    with pytest.raises(ValueError, match="ssim_padding"):
        ax.with_similarity(st, "code", "replicate")


def test_paper_constants_change_m_s_in_flat_regions():
    rng = np.random.default_rng(2)
    hr = rng.random((32, 32, 3))
    hr[:, :16] = 0.5                                      # flat left half
    sr = np.clip(hr + rng.uniform(-1, 1, hr.shape) / 255, 0, 1)  # one grey level of noise everywhere
    st = _state(sr, hr)
    code = ax.with_similarity(st, "code", "zero")["m_s"].mean(0)
    paper = ax.with_similarity(st, "paper", "zero")["m_s"].mean(0)
    flat, texture = (slice(6, 26), slice(5, 10)), (slice(6, 26), slice(22, 27))  # away from borders and the edge
    # code's constants (255^2 times smaller): the flat region's M_s is the correlation of noise with nothing
    assert np.abs(code[flat]).max() < 0.2
    assert paper[flat].min() > 0.9                        # the paper's C2 dominates the tiny variances: "similar"
    assert np.abs(paper[texture] - code[texture]).max() < 0.01  # where the variances are large both agree


def test_pair_state_matches_loss_similarity_map():
    from srlib.losses.pspl import similarity_map

    snaps, (crop,) = _snapshots(), _crops(1, size=16)
    model = ax.model_at(snaps, 10)
    for constants, padding in itertools.product(ax.SSIM_CONSTANTS, ax.SSIM_PADDINGS):
        st = ax.pair_state(model, crop, constants, padding)
        assert st["sr"].shape == (16, 16, 3) and st["m_s"].shape == (3, 16, 16)
        sr = torch.from_numpy(st["sr"].transpose(2, 0, 1))[None]
        hr = torch.from_numpy(st["hr"].transpose(2, 0, 1))[None]
        np.testing.assert_allclose(st["m_s"], similarity_map(sr, hr, constants, padding)[0].numpy(), atol=1e-6)
    with pytest.raises(KeyError):
        ax.model_at(snaps, 5)


def test_relative_weight_and_underflow():
    m_a = np.array([[0.0, 1.0], [2.0, 1.0]])
    np.testing.assert_allclose(ax.relative_weight(m_a), m_a)  # mean 1
    assert np.isnan(ax.relative_weight(np.zeros((2, 2)))).all()
    m_s = np.full((3, 8, 8), 0.9, np.float32)
    assert (ax.attention_of(m_s, 0.05) == 0).all()           # 2 exp(-(1.9/0.05)^2) underflows in float32
    frame = ax.render_attention(m_s, 0.05)
    # the relative map is grey (NaN) and the header says why
    assert (frame == np.array(ax.NAN_COLOUR, np.uint8)).all(axis=2).sum() > ax.PANEL * ax.PANEL * 0.9


def test_attention_histograms_are_distributions():
    m_s = np.linspace(-1, 1, 300).reshape(3, 10, 10)
    h = ax.attention_histograms(m_s, deltas=[0.1, 1.0, 10.0], bins=20)
    assert np.allclose(h.groupby("delta")["share"].sum(), 1.0)
    big = h[h.delta == 10.0]                                 # large delta: every pixel near gamma
    assert big.loc[big.share.idxmax(), "m_a"] > 1.9


def test_loss_delta_follows_the_hook():
    assert ax.loss_delta(TINY, 3) == pytest.approx(3.0)
    cfg = {**TINY, "loss": {"name": "pspl", "args": {"base": "l1"}}}
    assert ax.loss_delta(cfg, 250) == pytest.approx(0.25)
    assert ax.run_delta(cfg, 250) == pytest.approx(0.25) and ax.run_delta({**TINY, "loss": {"name": "l1"}}, 3) is None
    with pytest.raises(ValueError):
        ax.loss_delta({**TINY, "loss": {"name": "l1"}}, 3)


# ----------------------------------------------------------------------------- the parts of the figure


def test_parts_fit_the_page_with_colour_bars_and_exact_palettes():
    from PIL import Image

    from srlib import viz

    (crop,) = _crops(1, size=50)
    st = ax.pair_state(ax.model_at(_snapshots(), 10), crop)
    hr, sr = ax.render_hr(crop), ax.render_sr(st, "PSPL", 10, 10.0)
    sim, att = ax.render_similarity(st), ax.render_attention(st["m_s"], 1.0)
    p, g = ax.PANEL, ax.GAP
    assert p >= 200
    assert hr.shape[1] == p and sr.shape[1] == 2 * p + g and sim.shape[1] == p and att.shape[1] == 2 * p + g
    assert hr.shape[0] == sr.shape[0] and sim.shape[0] == att.shape[0]      # the rows line up
    frame = ax.render_frame(st, 1.0, model="PSPL", step=10)
    assert frame.shape[1] == 3 * p + 2 * g <= BOOK_COLUMN                  # no output wider than the text column

    def bar_rows(img, cmap, x0):
        lut = _lut(cmap)
        return [y for y in range(img.shape[0]) if (img[y, x0] == lut[0]).all() and (img[y, x0 + p - 1] == lut[-1]).all()]
    assert bar_rows(sr, "magma", p + g)                                     # |SR - HR|: 0 .. ERROR_MAX
    assert bar_rows(sim, "viridis", 0)                                      # M_s: -1 .. 1
    assert bar_rows(att, "inferno", 0) and bar_rows(att, "RdBu_r", p + g)  # M_a: 0 .. gamma; relative: 1/16 .. 16
    # the map itself is the crop enlarged: a full-width run of 4-px blocks under the title
    body = sim[36 + 17:36 + 17 + p, :p]
    np.testing.assert_array_equal(body[::4], body[1::4])
    # the plots have labelled axes: text left of the y axis (the turned label) and under the x axis
    plot = att[-ax.PLOT_HEIGHT:, :p]
    assert (plot[:, :14] < 128).any() and (plot[-12:, 60:140] < 128).any()
    # the palette parts have fewer than 256 colours: their palette PNG is exact
    for part in (sim, att):
        assert len(np.unique(part.reshape(-1, 3), axis=0)) <= 256
        back = np.asarray(Image.open(io.BytesIO(viz.png_bytes(part, palette=True))).convert("RGB"))
        np.testing.assert_array_equal(back, part)


def test_precompute_parts_keys_determinism_and_what_each_axis_changes():
    models, crops = _models(), _crops(2)
    kw = dict(steps=[0, 10], deltas=[0.3, 1.0])
    parts, axes = ax.precompute_parts(models, crops, **kw)
    assert list(axes) == list(ax.AXES)
    assert axes["model"] == ["baseline", "PSPL"] and axes["step"] == [0, 10] and axes["image"] == ["synthetic/0", "synthetic/1"]
    assert axes["SSIM padding"] == ["zero", "reflect"] and axes["SSIM constants"] == ["code", "paper"]
    for name, own in ax.PART_AXES.items():
        assert set(parts[name]) == set(itertools.product(*(axes[a] for a in own))), name
        assert all(f.dtype == np.uint8 and f.ndim == 3 for f in parts[name].values())
    assert len(parts["attention"]) == 2 * 2 * 2 * 2 * 2 * 2 and len(parts["sr"]) == 2 * 2 * 2 and len(parts["hr"]) == 2
    again, _ = ax.precompute_parts(models, crops, **kw)
    assert all(np.array_equal(parts[n][k], again[n][k]) for n in parts for k in parts[n])

    def differs(part, key, axis, value):
        own = ax.PART_AXES[part]
        other = tuple(value if a == axis else v for a, v in zip(own, key))
        return not np.array_equal(parts[part][key], parts[part][other])
    s = ("baseline", 10, "synthetic/0")
    assert differs("sr", s, "model", "PSPL") and differs("sr", s, "step", 0) and differs("sr", s, "image", "synthetic/1")
    m = ("baseline", 10, "zero", "code", "synthetic/0")
    for axis, value in (("model", "PSPL"), ("step", 0), ("SSIM padding", "reflect"), ("SSIM constants", "paper")):
        assert differs("similarity", m, axis, value), axis
    a = ("baseline", 10, 0.3, "zero", "code", "synthetic/0")
    for axis, value in (("model", "PSPL"), ("step", 0), ("delta", 1.0), ("SSIM padding", "reflect"),
                        ("SSIM constants", "paper"), ("image", "synthetic/1")):
        assert differs("attention", a, axis, value), axis
    with pytest.raises(ValueError, match="repeat"):
        ax.precompute_parts(models, [crops[0], crops[0]], **kw)


# ----------------------------------------------------------------------------- viewers


def _decode(png: bytes) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


def _leaf(widget, order, axes, key_by_axis):
    """The Image of ``widget`` (nested Stacks over ``order``) for the values ``key_by_axis``."""
    for a in order:
        widget = widget.children[list(axes[a]).index(key_by_axis[a])]
    return widget


def test_panel_viewer_stores_each_part_once_per_own_key_and_links_shared_controls():
    import ipywidgets as W

    from srlib import viz

    axes = {"image": ["a", "b"], "step": [0, 5, 10], "delta": [0.1, 1.0, 3.0, 10.0]}
    rng = np.random.default_rng(0)
    top = {(i,): rng.integers(0, 255, (4, 5, 3), dtype=np.uint8) for i in axes["image"]}
    # axes given out of size order: the stacks nest image (2) > step (3) > delta (4)
    main = {(d, s, i): rng.integers(0, 255, (4, 5, 3), dtype=np.uint8)
            for d, s, i in itertools.product(axes["delta"], axes["step"], axes["image"])}
    box = viz.panel_viewer([[{"name": "top", "axes": ["image"], "frames": top}],
                            [{"name": "main", "axes": ["delta", "step", "image"], "frames": main, "palette": True},
                             [{"name": "fixed", "frames": {(): np.zeros((2, 2, 3), np.uint8)}}]]],
                           axes=axes, title="demo", initial={"step": 10, "delta": 1.0})
    controls = box.controls
    assert [c.description for c in controls] == ["image", "step", "delta"]
    assert isinstance(controls[0], W.Dropdown) and isinstance(controls[1], W.SelectionSlider)
    assert [c.index for c in controls] == [0, 2, 1]                       # opens on step 10, delta 1
    assert set(box.panels) == {"top", "main", "fixed"} and isinstance(box.panels["fixed"], W.Image)
    for i in axes["image"]:
        np.testing.assert_array_equal(_decode(box.panels["top"].children[axes["image"].index(i)].value), top[(i,)])
    for (d, s, i), frame in main.items():
        leaf = _leaf(box.panels["main"], ["image", "step", "delta"], axes, {"image": i, "step": s, "delta": d})
        np.testing.assert_array_equal(_decode(leaf.value), frame)        # palette PNG, exact
    # every stack is linked to the control of its axis; the top panel does not depend on step or delta
    by_control = {c.description: [l.target[0] for l in box.links if l.source[0] is c] for c in controls}
    assert [len(by_control[a]) for a in ("image", "step", "delta")] == [1 + 1, 2, 2 * 3]
    assert box.panels["top"] in by_control["image"] and box.panels["top"] not in by_control["step"] + by_control["delta"]
    assert all(s.selected_index == 2 for s in by_control["step"]) and all(s.selected_index == 1 for s in by_control["delta"])
    assert "srlib-frame-panel-main" in box.panels["main"]._dom_classes
    grid = box.children[2]
    assert "srlib-frame-viewer" in grid._dom_classes and isinstance(grid.children[1].children[1], W.VBox)
    with pytest.raises(ValueError, match="no frame for"):
        viz.panel_viewer([[{"name": "top", "axes": ["image"], "frames": {("a",): top[("a",)]}}]], axes={"image": ["a", "b"]})
    with pytest.raises(ValueError, match="no panel depends on axis"):
        viz.panel_viewer([[{"name": "top", "axes": ["image"], "frames": top}]], axes=axes)
    with pytest.raises(ValueError, match="viewer's axes"):
        viz.panel_viewer([[{"name": "top", "axes": ["colour"], "frames": top}]], axes={"image": ["a", "b"]})
    with pytest.raises(ValueError, match="not one of"):
        viz.panel_viewer([[{"name": "top", "axes": ["image"], "frames": top}]], axes={"image": ["a", "b"]},
                         initial={"image": "c"})


def test_frame_viewer_initial_and_palette():
    from srlib import viz

    axes = {"a": [1, 2, 3], "b": ["x", "y"]}
    frames = {k: np.full((3, 4, 3), 10 * n, np.uint8) for n, k in enumerate(itertools.product(*axes.values()))}
    box = viz.frame_viewer(frames, axes=axes, initial={"a": 3, "b": "y"}, palette=True)
    assert [c.index for c in box.controls] == [2, 1]
    assert box.stacks.selected_index == 2 and box.stacks.children[2].selected_index == 1
    np.testing.assert_array_equal(_decode(box.stacks.children[2].children[1].value), frames[(3, "y")])


def test_explorer_viewer_opens_on_the_chosen_frame():
    models, crops = _models(), _crops(2)
    parts, axes = ax.precompute_parts(models, crops, [0, 10], [0.3, 1.0])
    box = ax.explorer_viewer(parts, axes, {"model": "PSPL", "step": 10, "delta": 1.0}, title="t")
    assert [c.description for c in box.controls] == list(ax.AXES)
    assert {c.description: c.index for c in box.controls} == {
        "model": 1, "step": 1, "delta": 1, "SSIM padding": 0, "SSIM constants": 0, "image": 0}
    assert set(box.panels) == set(ax.PART_AXES)
    # the opening frame of the attention part is the one precomputed for those values
    key = {"model": "PSPL", "step": 10, "delta": 1.0, "SSIM padding": "zero", "SSIM constants": "code", "image": "synthetic/0"}
    order = sorted(ax.PART_AXES["attention"], key=lambda a: len(axes[a]))
    leaf = _leaf(box.panels["attention"], order, axes, key)
    np.testing.assert_array_equal(_decode(leaf.value), parts["attention"][tuple(key[a] for a in ax.PART_AXES["attention"])])
    w = box.panels["attention"]
    for a in order:                                   # the stacks are opened on that leaf
        assert w.selected_index == list(axes[a]).index(key[a])
        w = w.children[w.selected_index]
    assert w is leaf


def test_live_explorer_redraws_on_every_control(capsys):
    crops = _crops(2)
    box = ax.live_explorer(_models(), crops, [0, 10], initial={"model": "PSPL", "delta": 1.0, "image": "synthetic/1"})
    controls = [*box.children[0].children, *box.children[1].children]
    assert [c.description for c in controls] == ["model", "step (iterations)", "delta", "SSIM padding", "SSIM constants", "image"]
    assert controls[0].value == "PSPL" and controls[1].value == "10" and controls[5].value == 1
    controls[2].value = 3.0
    controls[3].value = "reflect"
    controls[4].value = "paper"
    controls[0].value = "baseline"
    controls[5].value = 0


# ----------------------------------------------------------------------------- snapshots and the chapter functions


def test_snapshots_match_the_run_store_and_are_reused(tmp_path):
    from srlib import runs

    snaps = ax.snapshot_training(TINY, [0, 2, 4], root=tmp_path)
    assert snaps["iterations"] == [0, 2, 4] and (snaps["dir"] / "snapshots.pt").exists()
    assert snaps["dir"] / "snapshots.pt" == ax.snapshot_path(TINY, [4, 2, 0], root=tmp_path)
    assert not all(torch.equal(snaps["states"][0][k], snaps["states"][4][k]) for k in snaps["states"][0])
    run = runs.get_or_train(TINY, "t", root=tmp_path, checkpoint_root=tmp_path / "ck", progress=False)
    final = run.load_model().state_dict()
    for k, v in final.items():
        assert torch.equal(v, snaps["states"][4][k]), k
    again = ax.snapshot_training(TINY, [4, 0, 2], root=tmp_path)
    assert again["dir"] == snaps["dir"]
    with pytest.raises(ValueError):
        ax.snapshot_training(TINY, [0, 5], root=tmp_path)


def _fake_snapshot_store(monkeypatch):
    calls = []

    def fake(config, iterations, *a, **k):
        calls.append((config, list(iterations)))
        return {"config": config, "iterations": list(iterations), "states": {}, "seconds": 600.0}
    monkeypatch.setattr(ax, "snapshot_training", fake)
    monkeypatch.setattr(ax, "snapshot_path", lambda config, iterations, *a, **k: REPO_ROOT / "no" / "such" / "file")
    return calls


def test_explorer_snapshots_the_books_models_and_fig3s_set(monkeypatch):
    from srlib import profiles
    from srlib.chapters.pspl.experiments import notebook_defaults

    calls = _fake_snapshot_store(monkeypatch)
    ex = attention.explorer_snapshots("cpu")
    d = notebook_defaults("attention", "cpu")
    assert list(ex["models"]) == list(d["explorer_models"]) == ["baseline", "PSPL, code's step", "PSPL, step matched"]
    assert [c["loss"] for c, _ in calls] == [profiles.get("cpu", e)["loss"] for e in d["explorer_models"].values()]
    assert all(c["seed"] == 0 for c, _ in calls) and ex["scale"] == 2
    f3 = attention.fig3_config("cpu", "pspl.fig4_pspl", 0, d["snapshot_fractions"], image_indices=d["image_indices"],
                               explorer_fractions=d["explorer_fractions"])
    # every model's set has Fig. 3's iterations: the PSPL one is the file Fig. 3 loads (no second training)
    assert all(its == sorted(set(f3["steps"]) | set(f3["explorer_steps"])) for _, its in calls)
    assert ex["iterations"] == calls[0][1] and ex["total"] == f3["total"]
    assert "trained now, 10.0 CPU-min of training" in " ".join(ex["text"].split())
    assert max(len(line) for line in ex["text"].splitlines()) <= attention.TEXT_WIDTH  # fits the text column
    # at the paper profile the matched step is the code's: the same run, shown once
    calls.clear()
    paper = attention.explorer_snapshots("paper")
    assert list(paper["models"]) == ["baseline", "PSPL, code's step"] and len(calls) == 2
    assert "same run as \"PSPL, code's step\"" in " ".join(paper["text"].split())


def test_notebook_parameters_give_every_control_two_values():
    from srlib.chapters.pspl.experiments import notebook_defaults

    nb = json.loads((REPO_ROOT / "book" / "pspl" / "attention.ipynb").read_text(encoding="utf-8"))
    (cell,) = [c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", [])]
    literals = {}
    for node in ast.parse("".join(cell["source"])).body:
        if isinstance(node, ast.Assign):
            try:
                literals[node.targets[0].id] = ast.literal_eval(node.value)
            except ValueError:
                pass
    assert literals["explorer_paddings"] == ["zero", "reflect"] and literals["explorer_constants"] == ["code", "paper"]
    for profile in ("smoke", "cpu", "paper"):
        d = notebook_defaults("attention", profile)
        assert literals["explorer_opening"]["model"] in d["explorer_models"]
        assert min(len(d["explorer_models"]), len(d["explorer_fractions"]), len(d["explorer_deltas"]),
                   len(d["image_indices"])) >= 2, profile   # the browser test moves every control
        assert d["explorer_fractions"][-1] == 1 and d["snapshot_fractions"][-1] == 1
        assert "explorer_gammas" not in d and "explorer_mus" not in d
    assert notebook_defaults("attention", "cpu")["explorer_fractions"][-1] == 1.0


def test_fig3_explorer_opening_counts_and_summary():
    crops = _crops(2)
    ex = {"models": _models(), "total": 10, "scale": 2, "iterations": [0, 10]}
    e = attention.fig3_explorer(ex, crops, [0, 1.0], [0.3, 1.0], ["zero", "reflect"], ["code", "paper"], 2.0, -1.0,
                                {"model": "PSPL", "delta": 0.9}, panel=ax.PANEL)
    assert e["initial"] == {"step": 10, "model": "PSPL", "delta": 1.0}
    assert e["frames"] == {"hr": 2, "sr": 8, "similarity": 32, "attention": 64}
    images = list(attention._leaves(e["viewer"].panels.values()))
    assert len(images) == 106 and e["bytes"] == sum(len(w.value) for w in images)
    text = " ".join(e["text"].split())
    assert text.startswith("106 precomputed images (2 hr, 8 sr, 32 similarity, 64 attention; axes: model 2, step 2,")
    assert f"{e['bytes'] / 1e6:.1f} MB of PNG" in text
    s = attention.explorer_summary(ex, crops, [0.3, 1.0], 2.0, -1.0)
    lines = s["lines"]
    assert len(lines) == 3 and lines[0].startswith("1. δ at the end of the 10-iteration runs: 10 (PSPL);")
    assert s["text"].replace("\n    ", " ") == "\n".join(lines)       # wrapped for the page, nothing lost
    assert max(len(line) for line in s["text"].splitlines()) <= attention.TEXT_WIDTH
    assert s["ends"] == {"baseline": None, "PSPL": 10.0}
    assert all(inside < 1e-6 < band for band, inside in s["padding"])
    assert all(c > 0 for c in s["constants"]) and set(s["top1"]) == {0.3, 1.0}
    # the weights get more even as delta grows (towards 1%, the plain loss)
    assert 0.01 <= s["top1"][1.0] < s["top1"][0.3] <= 1
