"""srlib.viz: paper-vs-ours tables, the kernel-free frame viewer, crops, figures, claims summary."""
from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest

from srlib import viz

PROVENANCE = dict(model="EDSR 8x32", iterations=500, data="291", profile="smoke", hardware="CPU: test")


# ---------------------------------------------------------------------------- paper vs ours


def test_paper_vs_ours_puts_paper_ours_and_difference_side_by_side():
    res = pd.DataFrame({"set": ["Set5", "Set5"], "scale": [2, 4], "psnr": [33.70, 28.40],
                        "ssim": [0.9300, 0.8100], "paper_psnr": [33.66, 28.42], "paper_ssim": [0.9299, 0.8104]})
    styler = viz.paper_vs_ours(res, ["set", "scale"], provenance=PROVENANCE, paper_source="FD loss Table 2")
    t = styler.data
    assert list(t.columns) == [("PSNR", "paper"), ("PSNR", "ours"), ("PSNR", "ours − paper"),
                               ("SSIM", "paper"), ("SSIM", "ours"), ("SSIM", "ours − paper")]
    np.testing.assert_allclose(t[("PSNR", "paper")], [33.66, 28.42])
    np.testing.assert_allclose(t[("PSNR", "ours")], [33.70, 28.40])
    np.testing.assert_allclose(t[("PSNR", "ours − paper")], [0.04, -0.02], atol=1e-12)
    np.testing.assert_allclose(t[("SSIM", "ours − paper")], [0.0001, -0.0004], atol=1e-12)
    html = styler.to_html()
    assert "+0.04" in html and "-0.02" in html  # signed differences, PSNR with 2 decimals
    for value in ("FD loss Table 2", "EDSR 8x32", "500", "291", "smoke", "CPU: test"):
        assert value in html, f"caption lacks {value!r}"


def test_paper_vs_ours_refuses_missing_provenance_or_columns():
    res = pd.DataFrame({"set": ["Set5"], "psnr": [1.0], "paper_psnr": [1.0]})
    with pytest.raises(ValueError, match="provenance lacks iterations, hardware"):
        viz.paper_vs_ours(res, ["set"], ["psnr"], provenance={"model": "m", "data": "d", "profile": "cpu"},
                          paper_source="x")
    with pytest.raises(ValueError, match=r"lack column\(s\) \['ssim', 'paper_ssim'\]"):
        viz.paper_vs_ours(res, ["set"], ["psnr", "ssim"], provenance=PROVENANCE, paper_source="x")


# ----------------------------------------------------------------------------- frame viewer


def _frames(axes):
    import itertools

    frames = {}
    for i, key in enumerate(itertools.product(*axes.values())):
        frames[key] = np.full((4, 6, 3), i * 10, np.uint8)
    return frames


def _decode(png: bytes) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(png)))


def test_frame_viewer_nests_one_stack_per_axis_and_links_every_stack_to_its_control():
    import ipywidgets as W

    axes = {"image": ["baby", "bird"], "step": [0, 100, 200], "sigma": [0.5, 1.0]}
    frames = _frames(axes)
    box = viz.frame_viewer(frames, axes=axes, title="demo")
    controls = box.children[1].children
    root = box.children[2]
    assert [c.description for c in controls] == ["image", "step", "sigma"]
    assert isinstance(controls[0], W.Dropdown) and isinstance(controls[1], W.SelectionSlider)
    # every frame sits at root.children[i].children[j].children[k] for key (image_i, step_j, sigma_k)
    for (i, a), (j, b), (k, c) in ((x, y, z) for x in enumerate(axes["image"]) for y in enumerate(axes["step"])
                                   for z in enumerate(axes["sigma"])):
        img = root.children[i].children[j].children[k]
        np.testing.assert_array_equal(_decode(img.value), frames[(a, b, c)])
    # controls drive the stacks through jslink (client side): 1 + 2 + 6 stacks, one link each
    assert list(box.controls) == list(controls) and box.stacks is root
    links = box.links
    assert all(isinstance(link.target[0], W.Stack) for link in links)
    by_control = {c.description: sum(1 for link in links if link.source[0] is c) for c in controls}
    assert by_control == {"image": 1, "step": 2, "sigma": 6}
    assert all(link.source[1] == "index" and link.target[1] == "selected_index" for link in links)


def test_frame_viewer_single_axis_and_errors():
    import ipywidgets as W

    box = viz.frame_viewer([np.zeros((3, 3), np.uint8), np.ones((3, 3), np.float32)], labels=["a", "b"],
                           controls={"frame": "slider"})
    slider = box.children[0].children[0]
    assert isinstance(slider, W.SelectionSlider) and list(slider.options) == ["a", "b"]
    assert _decode(box.children[1].children[1].value).max() == 255  # float 1.0 -> 255
    axes = {"a": [1, 2], "b": ["x", "y"]}
    frames = _frames(axes)
    del frames[(2, "y")]
    with pytest.raises(ValueError, match=r"no frame for \[\(2, 'y'\)\]"):
        viz.frame_viewer(frames, axes=axes)
    with pytest.raises(ValueError, match="2 frames but 1 labels"):
        viz.frame_viewer([np.zeros((2, 2))] * 2, labels=["a"])
    with pytest.raises(ValueError, match="unknown axes"):
        viz.frame_viewer(_frames(axes), axes=axes, controls={"c": "slider"})
    with pytest.raises(ValueError, match=r"frame \(1, 'x'\).*shape \(2, 2, 5\)"):
        viz.frame_viewer({**_frames(axes), (1, "x"): np.zeros((2, 2, 5))}, axes=axes)


# ---------------------------------------------------------------------------- crops, figures


def test_most_detailed_box_finds_the_textured_region():
    img = np.full((96, 96, 3), 128, np.uint8)
    rng = np.random.default_rng(0)
    img[48:72, 24:48] = rng.integers(0, 255, (24, 24, 3), dtype=np.uint8)
    top, left, h, w = viz.most_detailed_box(img, 24, align=12)
    assert (top, left, h, w) == (48, 24, 24, 24)
    with pytest.raises(ValueError, match="larger than the image"):
        viz.most_detailed_box(img, 200)


def test_crop_compare_aligns_lr_bicubic_and_hr():
    rng = np.random.default_rng(1)
    hr = rng.integers(0, 256, (50, 62, 3), dtype=np.uint8)  # not a multiple of the scale: modcrop
    out = viz.crop_compare(hr, 4, box=(8, 12, 24, 32), zoom=2)
    for key in ("LR (nearest)", "bicubic", "HR"):
        assert out[key].shape == (48, 64, 3), key
    np.testing.assert_array_equal(out["HR"][::2, ::2], hr[8:32, 12:44])
    lr_crop = out["LR (nearest)"][::2, ::2]
    assert (lr_crop[::4, ::4] == lr_crop[3::4, 3::4]).all(), "each LR pixel should fill a 4x4 block"
    assert np.isfinite(out["psnr_bicubic"]) and 5 < out["psnr_bicubic"] < 30  # noise is not interpolable
    smooth = np.tile(np.linspace(0, 255, 64)[None, :, None], (64, 1, 3)).round().astype(np.uint8)
    assert viz.crop_compare(smooth, 2, size=24)["psnr_bicubic"] > 40  # a ramp survives bicubic
    with pytest.raises(ValueError, match="does not fit"):
        viz.crop_compare(hr, 2, box=(40, 0, 24, 24))


def test_side_by_side_and_labeled_row():
    import matplotlib

    matplotlib.use("Agg")
    fig = viz.side_by_side([np.zeros((8, 8, 3), np.uint8), np.zeros((8, 8), np.uint8)], ["a", "b"], suptitle="t")
    assert [ax.get_title() for ax in fig.axes] == ["a", "b"]
    with pytest.raises(ValueError, match="2 images but 1 titles"):
        viz.side_by_side([np.zeros((2, 2))] * 2, ["a"])
    row = viz.hstack_labeled([np.zeros((10, 5, 3), np.uint8), np.zeros((10, 7), np.uint8)], ["x", "y"], gap=2)
    assert row.shape == (10 + 16, 5 + 2 + 7, 3)


# ----------------------------------------------------------------------------------- claims rows


def test_bicubic_claim_of_the_evaluation_chapter():
    from srlib.chapters.evaluation.protocol import bicubic_claims

    cols = dict(set=["Set5", "Set5"], scale=[2, 4], paper_psnr=[33.66, 28.42], paper_ssim=[0.9299, 0.8104])
    good = bicubic_claims(pd.DataFrame({**cols, "psnr": [33.661, 28.419], "ssim": [0.9299, 0.8104]}), "srcnn")
    assert [r["verdict"] for r in good] == ["reproduced"] and "2 of 2" in good[0]["evidence"]
    assert good[0]["chapter"] == "evaluation" and good[0]["part"] == "bicubic" and "protocol srcnn" in good[0]["context"]
    off = bicubic_claims(pd.DataFrame({**cols, "psnr": [33.661, 28.9], "ssim": [0.9299, 0.8104]}), "srcnn")
    assert off[0]["verdict"] == "differs" and "1 of 2" in off[0]["evidence"]
    none = bicubic_claims(pd.DataFrame({**cols, "paper_psnr": [float("nan")] * 2, "psnr": [1.0, 2.0],
                                        "ssim": [0.1, 0.2]}), "srcnn")
    assert none[0]["verdict"].startswith("not run:")


def test_metric_names_and_units():
    assert viz.with_unit(34.5678, "psnr") == "34.57 dB" and viz.with_unit(0.93621, "ssim") == "0.9362"
    assert viz.axis_label("Set5 PSNR", "psnr") == "Set5 PSNR (dB)" and viz.axis_label("Set5 SSIM", "ssim") == "Set5 SSIM"
    with pytest.raises(ValueError, match="unknown metric"):
        viz.metric_label("lpips")


def test_run_hardware_comes_from_the_runs_records():
    finals = [{"device": "cpu", "threads": 1, "torch": "2.14.1+cu130"}] * 2 + [
        {"device": "cuda:0", "device_name": "NVIDIA H200", "torch": "2.14.1"}]
    assert viz.run_hardware(finals) == "CPU, 1 thread, torch 2.14.1 (2 runs); NVIDIA H200, torch 2.14.1 (1 run)"
