"""srlib.chapters.pspl: the PSPL chapter's orchestration on synthetic runs and tables (no training)."""
from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch

from srlib.chapters.pspl import attention, border, common, comparison, convergence


def _curve(values, step=100):
    v = np.asarray(values, float)
    return np.arange(1, len(v) + 1) * step, v


# ------------------------------------------------------------------------ shared


def test_same_loss_duplicates_keeps_the_first_label_and_ignores_key_order():
    cfgs = {"baseline": {"loss": {"name": "l1"}},
            "PSPL": {"loss": {"name": "pspl", "args": {"a": 1, "b": 2}}},
            "PSPL, step matched": {"loss": {"args": {"b": 2, "a": 1}, "name": "pspl"}},
            "baseline again": {"loss": {"name": "l1"}}}
    assert common.same_loss_duplicates(cfgs) == {"PSPL, step matched": "PSPL", "baseline again": "baseline"}
    assert common.same_loss_duplicates({"a": {"loss": {"name": "l1"}}, "b": {"loss": {"name": "l2"}}}) == {}


# ------------------------------------------------------------------------ Fig. 4


def test_threshold_rule_from_bicubic_and_the_lowest_best():
    ref = [_curve([30.0, 32.0, 34.0]), _curve([30.0, 31.0, 33.0])]
    th = convergence.threshold_rule(ref, bicubic=31.0, fraction=0.5, val_set="Set5")
    assert th["threshold"] == pytest.approx(31.0 + 0.5 * (33.0 - 31.0))
    assert th["floor"] == 31.0 and "bicubic PSNR on Set5 (31.00 dB)" in th["floor_rule"]


def test_threshold_rule_falls_back_to_the_lowest_first_evaluation_below_bicubic():
    ref = [_curve([20.0, 25.0, 28.0]), _curve([22.0, 24.0, 29.0])]
    th = convergence.threshold_rule(ref, bicubic=30.0, fraction=0.5)
    assert th["floor"] == 20.0 and "never beat bicubic" in th["floor_rule"]
    assert th["threshold"] == pytest.approx(20.0 + 0.5 * (28.0 - 20.0))


def _f4():
    curves = {("baseline", 0): _curve([30, 33, 34]), ("baseline", 1): _curve([30, 32.5, 34]),
              ("PSPL", 0): _curve([33.5, 34, 35]), ("PSPL", 1): _curve([33.2, 33.9, 35])}
    return {"curves": curves, "reference": "baseline", "variants": ["PSPL"], "methods": {"baseline": "b", "PSPL": "p"},
            "val_set": "Set5", "metric": "psnr", "seeds": [0, 1], "profile": "cpu", "provenance": "EDSR 4x16, x2, 600 it"}


def test_fig4_threshold_verdicts_and_claims_on_synthetic_curves():
    f4 = dict(_f4(), seeds=[0, 1, 2])
    f4["curves"].update({("baseline", 2): _curve([30, 32.8, 34]), ("PSPL", 2): _curve([33.4, 34, 35])})
    th = convergence.fig4_threshold(f4, 0.5, bicubic=32.0)
    assert th["threshold"] == pytest.approx(33.0)
    paper = pd.Series({("baseline", "epochs_to_threshold"): 125.0, ("PSPL", "epochs_to_threshold"): 70.0})
    fv = convergence.fig4_verdicts(f4, th, interpolate=False, paper=paper)
    # PSPL reaches 33 dB at the first evaluation (100), the baseline at 200, 300, 300: it saves 1/2, 2/3, 2/3
    # of the iterations; the 95% interval over three seeds (about [0.37, 0.85]) contains the paper's 0.44
    v = fv["verdicts"]["PSPL"]
    assert v["effect"]["mean"] == pytest.approx((0.5 + 2 / 3 + 2 / 3) / 3) and v["claimed"] == pytest.approx(1 - 70 / 125)
    assert v["verdict"] == "reproduced"
    assert list(fv["wide"].columns) == ["baseline", "PSPL"]
    assert "paper +0.440" in fv["text"] and "VERDICT on 'PSPL converges faster than the baseline': REPRODUCED" in fv["text"]
    fin = convergence.fig4_final(f4)
    assert fin["verdicts"]["PSPL"]["verdict"] == "reproduced" and "dB" in fin["text"]
    sens = convergence.fig4_sensitivity(f4, th, [0.5, 0.9], interpolate=False, paper=paper)
    assert list(sens["fraction"]) == [0.5, 0.9] and "PSPL: verdict" in sens.columns and "threshold (dB)" in sens.columns
    rows = convergence.fig4_claims(f4, th, fv["verdicts"], fin["verdicts"])
    assert [r["claim_id"] for r in rows] == ["faster-0", "final-0"] and {r["part"] for r in rows} == {"fig4"}
    assert "cpu profile: EDSR 4x16, x2, 600 it; 3 seeds" in rows[0]["context"]
    assert rows[0]["claimed"] == pytest.approx(0.44) and rows[0]["verdict"] == "reproduced"
    table = convergence.fig4_csv(f4, th, fv)
    assert len(table) == 6 and table["iterations_to_threshold"].notna().all()


def test_fig4_text_and_labels_follow_the_metric():
    """SSIM is unitless: no 'dB' next to an SSIM value, in text or on an axis."""
    import matplotlib

    matplotlib.use("Agg")
    for metric, unit_ok in (("psnr", True), ("ssim", False)):
        scale = 1.0 if metric == "psnr" else 0.01
        curves = {k: (it, 0.5 + (v - 30) * scale / 10 if metric == "ssim" else v) for k, (it, v) in _f4()["curves"].items()}
        f4 = dict(_f4(), curves=curves, metric=metric)
        bic = 32.0 if metric == "psnr" else 0.5 + 2 * scale / 10
        th = convergence.fig4_threshold(f4, 0.5, bicubic=bic)
        paper = pd.Series({("baseline", "epochs_to_threshold"): 125.0, ("PSPL", "epochs_to_threshold"): 70.0})
        fv = convergence.fig4_verdicts(f4, th, interpolate=False, paper=paper)
        fin = convergence.fig4_final(f4)
        texts = [th["text"], th["floor_rule"], fv["text"], fin["text"], fv["wide"].index.name]
        fig = convergence.plot_fig4(f4, th, interpolate=False)
        texts += [a.get_ylabel() for a in fig.axes] + [t for a in fig.axes for t in a.get_legend_handles_labels()[1]]
        joined = " ".join(map(str, texts))
        assert ("dB" in joined) == unit_ok, (metric, joined)
        assert metric.upper() in joined


def test_fig4_threshold_uses_the_papers_value_at_the_paper_profile():
    # the paper's 34.4 dB is EDSR-PyTorch's DIV2K validation PSNR (RGB, shave scale + 6): only that metric
    f4 = dict(_f4(), profile="paper", metric="psnr_rgb_div2k")
    th = convergence.fig4_threshold(f4, 0.5, bicubic=32.0)
    assert th["threshold"] == pytest.approx(34.4) and math.isnan(th["fraction"])
    assert th["floor_rule"] == "the paper's own threshold"
    with pytest.raises(ValueError, match="psnr_rgb_div2k"):
        convergence.fig4_threshold(dict(_f4(), profile="paper"), 0.5, bicubic=32.0)  # Y PSNR: refused


def test_stable_final_reading_is_the_mean_of_the_last_evaluations():
    assert convergence.stable_final([1.0, 2.0, 3.0, 4.0, 5.0, 6.0], last_k=2) == pytest.approx(5.5)
    assert convergence.stable_final([3.0], last_k=5) == 3.0
    with pytest.raises(ValueError, match="empty"):
        convergence.stable_final([])
    fin = convergence.fig4_final(_f4(), last_k=2)
    row = fin["final"].set_index(["method", "seed"]).loc[("PSPL", 0)]
    assert row["final"] == pytest.approx(34.5) and row["last"] == 35.0 and fin["last_k"] == 2


# ------------------------------------------------------------------------ Table 1


def _fake_run(psnr_by_set):
    return SimpleNamespace(final={"metrics": {s: {"psnr": p, "ssim": p / 100} for s, p in psnr_by_set.items()},
                                  "threads": 2})


def test_table1_results_and_the_join_with_the_paper_and_gains():
    methods = {"baseline": "baseline", "pspl": "PSPL"}
    run_of = {("EDSR", "baseline", 0): _fake_run({"Set5": 30.0, "B100": 27.0}),
              ("EDSR", "baseline", 1): _fake_run({"Set5": 30.2, "B100": 27.2}),
              ("EDSR", "pspl", 0): _fake_run({"Set5": 30.5, "B100": 27.1}),
              ("EDSR", "pspl", 1): _fake_run({"Set5": 30.7, "B100": 27.3})}
    results = comparison.table1_results(run_of, methods)
    assert len(results) == 8 and set(results.method) == {"baseline", "PSPL"}
    ours = results.groupby(["model", "set", "method"], as_index=False)[["psnr", "ssim"]].mean()
    paper = pd.DataFrame([{"model": "EDSR", "set": s, "method": m, "paper_psnr": p, "paper_ssim": p / 100}
                          for s, m, p in [("Set5", "baseline", 32.5), ("Set5", "PSPL", 32.6),
                                          ("B100", "baseline", 27.7), ("B100", "PSPL", 28.5)]])
    table = comparison.table1_against_paper(ours, ["EDSR"], paper)
    assert list(table["set"].astype(str)) == ["Set5", "Set5", "B100", "B100"]  # sets in the paper's order
    row = table[(table["set"] == "Set5") & (table["method"] == "PSPL")].iloc[0]
    assert row["psnr"] == pytest.approx(30.6) and row["paper_psnr"] == 32.6
    g, pg = comparison.table1_gains(ours, paper, ["PSPL"], ["EDSR"])
    s5 = g[g["set"] == "Set5"].iloc[0]
    assert s5["paper ΔPSNR"] == pytest.approx(0.1) and s5["ΔPSNR PSPL"] == pytest.approx(0.5)
    assert comparison.gain_columns(g) == ["ΔPSNR PSPL", "ΔSSIM PSPL"]
    check = comparison.b100_check(g, pg, ["PSPL"])
    assert "ratio 8.0" in check["text"] and check["negative"] == []
    cells = comparison.table1_cell_verdicts(results, "PSPL", ["EDSR"], "; seeds [0, 1]", paper=paper)
    # Set5: +0.5 dB in both seeds (interval [0.5, 0.5]) vs the paper's +0.1: reproduced (larger);
    # B100: +0.1 dB in both seeds vs the paper's +0.8: smaller than claimed; the claim takes the weakest cell
    assert cells["cells"].loc["EDSR", "Set5"] == "reproduced" and cells["cells"].loc["EDSR", "B100"] == "smaller than claimed"
    assert cells["verdict"] == "smaller than claimed" and "1 reproduced" in cells["evidence"]
    pooled = comparison.table1_pooled_verdict(results, "PSPL", paper=paper)
    # one paired difference per (model, seed): the model's mean over its sets, PSPL - baseline
    assert pooled["paired"] == pytest.approx({("EDSR", 0): 0.3, ("EDSR", 1): 0.3})
    assert "EDSR seed 0: +0.300" in pooled["text"] and "2 pairs, 1 models" in pooled["evidence"]
    ssim_cells = comparison.table1_cell_verdicts(results, "PSPL", ["EDSR"], paper=paper, metric="ssim")
    assert set(ssim_cells["effects"]["metric"]) == {"ssim"} and ssim_cells["metric"] == "ssim"
    assert pooled["claimed"] == pytest.approx(0.45) and pooled["verdict"] == "smaller than claimed"
    t1 = {"profile": "cpu", "sizes": "EDSR 4x16", "test_data": "all images", "seeds": [0, 1]}
    rows = comparison.table1_claims({"PSPL": cells, "PSPL (average)": pooled}, ["PSPL"], t1)
    assert [r["claim"] for r in rows] == ["PSPL improves PSNR of every model on every set (Table 1)",
                                         "PSPL raises the average PSNR over the Table 1 cells (Table 1)"]
    assert rows[1]["effect"] == pytest.approx(0.3) and "cpu profile" in rows[1]["context"]
    pooled_ssim = comparison.table1_pooled_verdict(results, "PSPL", paper=paper, metric="ssim")
    rows = comparison.table1_claims({"PSPL": cells, "PSPL (average)": pooled, "PSPL SSIM": ssim_cells,
                                     "PSPL SSIM (average)": pooled_ssim}, ["PSPL"], t1)
    assert [r["claim_id"] for r in rows] == ["every-cell-psnr-0", "average-psnr-0", "every-cell-ssim-0", "average-ssim-0"]


def test_an_under_trained_cell_feeds_no_verdict():
    methods = {"baseline": "baseline", "pspl": "PSPL"}
    run_of = {("EDSR", m, k): _fake_run({"Set5": v + k / 10, "B100": w + k / 10})
              for m, v, w in (("baseline", 30.0, 27.0), ("pspl", 29.0, 27.5)) for k in (0, 1, 2)}
    results = comparison.table1_results(run_of, methods)
    paper = pd.DataFrame([{"model": "EDSR", "set": s, "method": m, "paper_psnr": p, "paper_ssim": 0.9}
                          for s, m, p in [("Set5", "baseline", 32.5), ("Set5", "PSPL", 32.6),
                                          ("B100", "baseline", 27.7), ("B100", "PSPL", 28.2)]])
    # Set5 is PSPL's loss (opposite) but its baseline is under-trained; B100's baseline clears the bar
    bar = pd.DataFrame([{"model": "EDSR", "set": "Set5", "baseline": 30.1, "bicubic": 30.0, "paper baseline": 32.5,
                         "over bicubic": 0.1, "needed over bicubic": 0.83, "clears": False},
                        {"model": "EDSR", "set": "B100", "baseline": 27.1, "bicubic": 25.9, "paper baseline": 27.7,
                         "over bicubic": 1.2, "needed over bicubic": 0.6, "clears": True}])
    cells = comparison.table1_cell_verdicts(results, "PSPL", ["EDSR"], paper=paper, bar=bar)
    assert cells["cells"].loc["EDSR", "Set5"].startswith("under-trained:")
    assert cells["cells"].loc["EDSR", "B100"] == "reproduced" and cells["verdict"] == "reproduced"
    assert "1 of 2 cells under-trained" in cells["evidence"]
    pooled = comparison.table1_pooled_verdict(results, "PSPL", paper=paper, bar=bar)
    assert pooled["effect"]["mean"] == pytest.approx(0.5) and pooled["claimed"] == pytest.approx(0.5)
    none = comparison.table1_pooled_verdict(results, "PSPL", paper=paper, bar=bar.assign(clears=False))
    assert none["verdict"].startswith("under-trained:")
    assert comparison.table1_cell_verdicts(results, "PSPL", ["EDSR"], paper=paper,
                                           bar=bar.assign(clears=False))["verdict"].startswith("under-trained:")


def test_table1_provenance_names_model_iterations_data_profile_and_hardware():
    cfg = {"iters_per_epoch": 100, "epochs": 6, "data": {"train": "291"}}
    t1 = {"models": ["EDSR"], "seeds": [0, 1], "configs": {("EDSR", "baseline"): cfg},
          "runs": {("EDSR", "baseline", 0): _fake_run({"Set5": 30.0})}, "sizes": "EDSR 4x16",
          "test_data": "first 3 images of each set", "profile": "cpu"}
    prov = comparison.table1_provenance(t1, hardware="CPU: test (2 cores)")
    assert prov == {"model": "EDSR 4x16", "iterations": "600 per run", "data": "train 291; test first 3 images of each set",
                    "profile": "cpu", "hardware": "CPU: test (2 cores)", "seeds": "[0, 1]"}
    # by default the hardware is the runs' own record, not the machine that renders the page
    assert comparison.table1_provenance(t1)["hardware"] == "CPU, 2 threads, torch ? (1 run)"
    from srlib import viz
    caption = viz.provenance_caption(prov)
    for part in ("EDSR 4x16", "600 per run", "train 291", "cpu", "CPU: test"):
        assert part in caption


# =========================================================================================
# Fig. 3 and the attention-map explorer (part 1, attention.ipynb): synthetic snapshots, no training


def _tiny_snapshots(scale=2):
    import torch

    from srlib.models import build

    cfg = {"model": {"name": "edsr-baseline", "args": {"n_resblocks": 1, "n_feats": 4}}, "scale": scale,
           "loss": {"name": "pspl", "args": {"base": "l1"}}, "data": {"train": "T91", "patch": 8, "batch": 2},
           "optimizer": {"name": "adam", "lr": 1e-3}, "iterations": 10, "eval": {"sets": []},
           "checkpoint_every": 10, "seed": 0, "device": "cpu", "threads": 1}
    states = {}
    for it in (0, 10):
        torch.manual_seed(it)
        states[it] = build("edsr-baseline", scale=scale, n_resblocks=1, n_feats=4).state_dict()
    return {"config": cfg, "iterations": [0, 10], "states": states}


def _tiny_crops(n=1, size=16, scale=2):
    rng = np.random.default_rng(0)
    out = []
    for k in range(n):
        hr = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
        out.append({"name": f"synthetic/{k}", "lr": hr[::scale, ::scale], "hr": hr, "box": (0, 0, size, size),
                    "scale": scale})
    return out


def _tiny_states(steps=(0, 5, 10), size=12, seed=0):
    rng = np.random.default_rng(seed)
    states = {}
    for s in steps:
        sr = rng.random((size, size, 3)).astype(np.float32)
        hr = rng.random((size, size, 3)).astype(np.float32)
        states[s] = {"sr": sr, "hr": hr, "err": np.abs(sr - hr),
                     "m_s": rng.uniform(-1, 1, (3, size, size)).astype(np.float32), "name": "synthetic/0"}
    return states


def test_snapshot_steps_round_deduplicate_and_sort():
    assert attention.snapshot_steps(1000, [1.0, 0, 0.25, 0.05]) == [0, 50, 250, 1000]
    assert attention.snapshot_steps(10, [0.04, 0, 1, 1.0]) == [0, 10]
    assert attention.snapshot_steps(3, [0.5]) == [2]


def test_experiments_step_constant_is_the_loss_default():
    from srlib.chapters.pspl.experiments import CODE_STEP_PER_ITERATION
    from srlib.losses.pspl import STEP_PER_ITERATION

    assert CODE_STEP_PER_ITERATION == STEP_PER_ITERATION


def test_notebook_defaults_per_profile():
    from srlib.chapters.pspl.experiments import notebook_defaults

    from srlib import profiles

    # the book's pooled Table 1 verdict pairs by (model, seed): at least five pairs wherever verdicts are computed;
    # extra seeds only for Table 1's models
    for p in ("cpu", "paper"):
        d = notebook_defaults("comparison", p)
        pairs = 5 * len(d["seeds"]) + sum(len(set(v) - set(d["seeds"])) for v in d["extra_seeds"].values())
        assert pairs >= 5 and d["border_seeds"] and "baseline" in d["methods"]
        assert set(d["extra_seeds"]) <= set(d["audit"]["models"])
        assert d["audit"]["sets"] == ["Set5", "Set14", "B100", "Urban100"]  # whole test sets
    # every method and ablation variant names a registered experiment; cpu lists a subset of what smoke exercises
    for p in ("smoke", "cpu", "paper"):
        for m in notebook_defaults("comparison", p)["methods"]:
            profiles.get(p, f"pspl.table1_edsr_{m}")
        for e in notebook_defaults("convergence", p)["ablation"].values():
            profiles.get(p, e)
    assert set(notebook_defaults("comparison", "cpu")["methods"]) <= set(notebook_defaults("comparison", "smoke")["methods"])
    assert notebook_defaults("convergence", "paper")["use_paper_threshold"] is True
    runs_of = lambda p: {*notebook_defaults("convergence", p)["methods"].values(),  # noqa: E731
                         *notebook_defaults("convergence", p)["ablation"].values()}
    assert runs_of("cpu") < runs_of("smoke")  # smoke exercises every variant the cpu book shows, and more
    refs = notebook_defaults("convergence", "cpu")["ablation_references"]
    labels = {*notebook_defaults("convergence", "cpu")["methods"], *notebook_defaults("convergence", "cpu")["ablation"]}
    assert all(refs[k] in labels for k in notebook_defaults("convergence", "cpu")["ablation"])
    with pytest.raises(KeyError, match="notebook"):
        notebook_defaults("nope", "cpu")
    with pytest.raises(ValueError, match="profile"):
        notebook_defaults("comparison", "gpu")


def test_fig3_config_defaults_per_profile_and_overrides():
    from srlib import profiles
    from srlib.train import total_iterations

    from srlib.chapters.pspl.experiments import notebook_defaults

    def fig3(profile, seed, fractions, **over):
        d = notebook_defaults("attention", profile)
        kw = {"image_indices": d["image_indices"], "explorer_fractions": d["explorer_fractions"], **over}
        return attention.fig3_config(profile, "pspl.fig4_pspl", seed, fractions, **kw)

    smoke = fig3("smoke", 3, [0, 1.0])
    assert smoke["config"]["seed"] == 3 and smoke["config"]["loss"]["name"] == "pspl"
    assert smoke["total"] == total_iterations(profiles.get("smoke", "pspl.fig4_pspl"))
    assert smoke["steps"] == [0, smoke["total"]] and smoke["explorer_steps"] == [0, smoke["total"]]
    assert smoke["image_indices"] == [10, 12]
    cpu = fig3("cpu", 0, notebook_defaults("attention", "cpu")["snapshot_fractions"])
    assert cpu["image_indices"] == [10, 12] and cpu["steps"] == [0, 150, 750, 3000]
    assert cpu["explorer_steps"] == attention.snapshot_steps(cpu["total"], [0.05, 0.25, 1.0])
    assert cpu["description"] == profiles.describe(cpu["config"])
    # the config is the profile's entry, only the seed set: its run key is unchanged
    assert {k: v for k, v in cpu["config"].items() if k != "seed"} == \
        {k: v for k, v in profiles.get("cpu", "pspl.fig4_pspl").items() if k != "seed"}
    own = fig3("cpu", 0, [1.0], image_indices=[2], explorer_fractions=[1.0])
    assert own["image_indices"] == [2] and own["explorer_steps"] == [own["total"]]

def test_snapshot_check_identical_and_changes():
    import torch

    snaps = _tiny_snapshots()
    final = {k: v.clone() for k, v in snaps["states"][10].items()}
    ok = attention.snapshot_check(final, snaps, 10)
    assert ok["same"] is True and "identical to the run store's final model: True" in ok["text"]
    assert ok["moved"][0] == 0.0 and ok["moved"][10] > 0
    expected = max(float((v - snaps["states"][0][k]).abs().max()) for k, v in snaps["states"][10].items())
    assert ok["moved"][10] == expected
    assert ok["moved_text"].startswith("largest weight change since iteration 0: ") and f"{expected:.2e}" in ok["moved_text"]
    # a model works as well as a state dict; one changed weight fails the check
    from srlib.chapters.pspl.explorer import model_at

    assert attention.snapshot_check(model_at(snaps, 10), snaps, 10)["same"]
    k0 = next(iter(final))
    final[k0] = final[k0] + torch.finfo(torch.float32).eps
    assert attention.snapshot_check(final, snaps, 10)["same"] is False
    with pytest.raises(KeyError):
        attention.snapshot_check(final, snaps, 7)


def test_delta_schedules_code_and_paper():
    cfg = _tiny_snapshots()["config"]
    d = attention.delta_schedules(cfg, [0, 500, 2000], total=2000)
    assert d["run"] == pytest.approx({0: 0.0, 500: 0.5, 2000: 2.0})      # the code: delta = iterations / 1000
    assert d["paper"] == pytest.approx({0: 0.0, 500: 75.0, 2000: 300.0})  # 300 epochs at the same fraction
    assert d["text"] == "delta used by the loss at these iterations: {0: 0.0, 500: 0.5, 2000: 2.0}"
    assert attention.delta_schedules(cfg, [10])["paper"] == {10: 300.0}       # total from the config (10 iterations)
    assert attention.delta_schedules(cfg, [5], total=10, paper_epochs=100)["paper"] == {5: 50.0}
    with pytest.raises(ValueError, match="not a PSPL loss"):
        attention.delta_schedules(dict(cfg, loss={"name": "l1"}), [0], total=10)


def test_fig3_states_uses_the_first_crop_at_every_step(monkeypatch):
    from srlib.chapters.pspl import explorer as ax

    snaps, crops = _tiny_snapshots(), _tiny_crops(2)
    monkeypatch.setattr(ax, "test_crop", lambda set_name, i, scale, size: dict(crops[i], name=f"{set_name}/{i}"))
    out = attention.fig3_states(snaps, [0, 10], "Set14", [1, 0], 2, 16)
    assert [c["name"] for c in out["crops"]] == ["Set14/1", "Set14/0"]
    assert list(out["states"]) == [0, 10] and all(s["name"] == "Set14/1" for s in out["states"].values())
    assert out["states"][0]["m_s"].shape == (3, 16, 16)
    assert not np.array_equal(out["states"][0]["sr"], out["states"][10]["sr"])


def test_plot_fig3_curves():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = attention.plot_fig3_curves([0.1, 1.0, 10.0], 2.0, -1.0)
    (a,) = fig.axes
    assert [l.get_label() for l in a.lines] == ["δ = 0.1", "δ = 1", "δ = 10"]
    y = a.lines[0].get_ydata()
    assert len(y) == 401 and float(np.max(y)) == pytest.approx(2.0) and float(y[0]) == pytest.approx(2.0)
    assert a.get_title() == "Eq. (7), γ = 2, μ = -1"
    plt.close(fig)


def test_plot_fig3_distribution():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    states = _tiny_states()
    run = {0: 0.0, 5: 0.005, 10: 0.01}
    fig = attention.plot_fig3_distribution(states, run, [0.1, 1.0], 2.0, -1.0, suptitle="crop; run")
    left, right = fig.axes
    assert [l.get_label() for l in left.lines] == ["iteration 0 (δ = 0)", "iteration 5 (δ = 0.005)", "iteration 10 (δ = 0.01)"]
    assert [l.get_label() for l in right.lines] == ["δ = 0.1", "δ = 1"]
    assert right.get_title() == "model after 10 iterations, growing δ" and left.get_yscale() == "log"
    shares = right.lines[1].get_ydata()
    assert float(np.sum(shares)) == pytest.approx(1.0)   # shares of pixels
    assert fig._suptitle.get_text() == "crop; run"
    plt.close(fig)


def test_plot_fig3_maps():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from srlib.chapters.pspl import explorer as ax

    states = _tiny_states()
    run, paper = {0: 0.0, 5: 0.005, 10: 0.01}, {0: 0.0, 5: 150.0, 10: 300.0}
    fig = attention.plot_fig3_maps(states, run, paper, 1.0, 2.0, -1.0)
    axs = np.array(fig.axes).reshape(3, 4)
    assert axs[0, 1].get_title().startswith("it 5, δ = 0.005") and axs[1, 1].get_title().startswith("it 5, δ = 150")
    assert axs[2, 2].get_title().startswith("it 10, δ = 1\n")
    shown = axs[2, 0].images[0].get_array()
    np.testing.assert_allclose(shown, ax.attention_of(states[0]["m_s"], 1.0, 2.0, -1.0).mean(0))
    assert axs[0, 0].images[0].get_clim() == (0, 2.0)
    assert [axs[i, -1].get_title() for i in range(3)] == ["SR (last snapshot)", "HR", "|SR − HR| (last snapshot)"]
    np.testing.assert_allclose(axs[2, -1].images[0].get_array(), states[10]["err"].mean(-1))
    assert "bottom: δ = 1" in fig._suptitle.get_text()
    plt.close(fig)

def test_border_mask_and_share():
    m = border.border_mask(6, 8, 2)
    assert m.sum() == 6 * 8 - 2 * 4 and not m[2:4, 2:6].any() and m[0].all() and m[:, -1].all()
    assert not border.border_mask(5, 5, 0).any()
    assert border.border_share(32) == pytest.approx(1 - (22 / 32) ** 2)  # HR patch 32 px: 53%
    assert border.border_share(192) == pytest.approx(1 - (182 / 192) ** 2)  # paper x4: 10%
    assert border.border_share(8) == 1.0  # every window of an 8-px patch reaches past its border
    with pytest.raises(ValueError):
        border.border_share(0)
    shares = border.border_shares("pspl.table1_edsr_pspl").set_index("profile")
    assert shares.loc["paper", "HR patch"] == 192 and shares.loc["paper", "scale"] == 4
    # cpu: HR patches of 64 px (LR 16 at x4): 29% of the pixels, almost three times the paper's share
    share = shares["pixels within 5 px of the border"]
    assert share["cpu"] == pytest.approx(1 - (54 / 64) ** 2) and share["cpu"] > 2.5 * share["paper"]


class _Upsampler(torch.nn.Module):
    """Nearest-neighbour x``scale`` upsampling, darkened by ``dark`` within ``band`` px of the border."""

    colors = 3

    def __init__(self, scale, band=0, dark=0.0):
        super().__init__()
        self.scale, self.band, self.dark = scale, band, dark
        self.w = torch.nn.Parameter(torch.zeros(1))  # so .eval()/.train() and parameters() behave

    def forward(self, x):
        y = torch.nn.functional.interpolate(x, scale_factor=self.scale, mode="nearest")
        if self.band:
            m = torch.from_numpy(border.border_mask(*y.shape[-2:], self.band))
            y = torch.where(m, y - self.dark, y)
        return y


def test_border_errors_find_a_dark_frame_and_only_there():
    models = {"plain": _Upsampler(4), "dark frame": _Upsampler(4, band=4, dark=0.2)}
    e = border.border_errors(models, ["Set5"], 4, band=4).set_index("model")
    assert (e["images"] == 5).all()
    plain, dark = e.loc["plain"], e.loc["dark frame"]
    assert dark["SR−HR interior"] == pytest.approx(plain["SR−HR interior"], abs=1e-12)
    assert dark["SR−HR border"] < plain["SR−HR border"] - 0.1
    assert dark["excess"] > 2 * plain["excess"]
    y_model = _Upsampler(4)
    y_model.colors = 1
    with pytest.raises(ValueError, match="Y-channel"):
        border.border_errors({"y": y_model}, ["Set5"], 4, band=4)


def test_border_weights_on_training_patches_zero_against_reflect():
    from srlib import profiles

    cfg = profiles.get("smoke", "pspl.table1_edsr_pspl")
    w = border.border_weights(_Upsampler(cfg["scale"], band=4, dark=0.3), cfg, deltas=[0.5, 2.0], batches=2)
    assert list(w["padding"]) == ["zero", "zero", "reflect", "reflect"]
    z, r = w[w["padding"] == "zero"].iloc[0], w[w["padding"] == "reflect"].iloc[0]
    # the interior never sees the padding; the dark frame lowers M_s at the border only with reflect padding
    assert z["mean M_s interior"] == pytest.approx(r["mean M_s interior"], abs=1e-6)
    assert r["mean M_s border"] < z["mean M_s border"]
    assert r["border / interior"] > z["border / interior"]
    assert ((w["border share of weight"] >= 0) & (w["border share of weight"] <= 1)).all()
