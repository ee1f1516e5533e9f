"""srlib.chapters.pspl: the PSPL chapter's orchestration on synthetic runs and tables (no training)."""
from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from srlib.chapters import pspl


def _curve(values, step=100):
    v = np.asarray(values, float)
    return np.arange(1, len(v) + 1) * step, v


# ------------------------------------------------------------------------ shared


def test_same_loss_duplicates_keeps_the_first_label_and_ignores_key_order():
    cfgs = {"baseline": {"loss": {"name": "l1"}},
            "PSPL": {"loss": {"name": "pspl", "args": {"a": 1, "b": 2}}},
            "PSPL, step matched": {"loss": {"args": {"b": 2, "a": 1}, "name": "pspl"}},
            "baseline again": {"loss": {"name": "l1"}}}
    assert pspl.same_loss_duplicates(cfgs) == {"PSPL, step matched": "PSPL", "baseline again": "baseline"}
    assert pspl.same_loss_duplicates({"a": {"loss": {"name": "l1"}}, "b": {"loss": {"name": "l2"}}}) == {}


def test_update_claims_replaces_only_its_own_rows(tmp_path):
    path = tmp_path / "pspl.csv"
    pd.DataFrame([{"chapter": "pspl", "claim": "x (Fig. 4; cpu)", "evidence": "old", "verdict": "supported"},
                  {"chapter": "pspl", "claim": "y (Table 1; cpu)", "evidence": "keep", "verdict": "inconclusive"}]).to_csv(path, index=False)
    shown = pspl.update_claims(path, [("z (Fig. 4; cpu)", {"verdict": "contradicted", "evidence": "new"})], "(Fig. 4")
    assert list(shown.claim) == ["z (Fig. 4; cpu)"]
    out = pd.read_csv(path)
    assert sorted(out.claim) == ["y (Table 1; cpu)", "z (Fig. 4; cpu)"]
    assert pspl.claims_path(None, "smoke") is None and pspl.claims_path(None, "cpu").endswith("results/claims/pspl.csv")
    assert pspl.claims_path("a.csv", "cpu") == "a.csv"


def _update_claims_part(path, k):
    part = f"(part {k};"
    pspl.update_claims(path, [(f"claim {part} cpu)", {"verdict": "inconclusive", "evidence": str(k)})], part)


def test_concurrent_claim_updates_keep_every_part(tmp_path):
    """The book runner executes the PSPL notebooks in parallel processes; each updates its rows of one
    claims file. A lost update (two read-modify-writes interleaved) would drop a part's row."""
    import functools
    import multiprocessing

    path = tmp_path / "pspl.csv"
    with multiprocessing.get_context("fork").Pool(4) as pool:
        pool.map(functools.partial(_update_claims_part, path), range(60), chunksize=1)
    claims = set(pd.read_csv(path).claim)
    assert claims == {f"claim (part {k}; cpu)" for k in range(60)}


# ------------------------------------------------------------------------ Fig. 4


def test_threshold_rule_from_bicubic_and_the_lowest_best():
    ref = [_curve([30.0, 32.0, 34.0]), _curve([30.0, 31.0, 33.0])]
    th = pspl.threshold_rule(ref, bicubic=31.0, fraction=0.5, val_set="Set5")
    assert th["threshold"] == pytest.approx(31.0 + 0.5 * (33.0 - 31.0))
    assert th["floor"] == 31.0 and "bicubic PSNR on Set5 (31.00)" in th["floor_rule"]


def test_threshold_rule_falls_back_to_the_lowest_first_evaluation_below_bicubic():
    ref = [_curve([20.0, 25.0, 28.0]), _curve([22.0, 24.0, 29.0])]
    th = pspl.threshold_rule(ref, bicubic=30.0, fraction=0.5)
    assert th["floor"] == 20.0 and "never beat bicubic" in th["floor_rule"]
    assert th["threshold"] == pytest.approx(20.0 + 0.5 * (28.0 - 20.0))


def _f4():
    curves = {("baseline", 0): _curve([30, 33, 34]), ("baseline", 1): _curve([30, 32.5, 34]),
              ("PSPL", 0): _curve([33.5, 34, 35]), ("PSPL", 1): _curve([33.2, 33.9, 35])}
    return {"curves": curves, "reference": "baseline", "variants": ["PSPL"], "methods": {"baseline": "b", "PSPL": "p"},
            "val_set": "Set5", "metric": "psnr", "seeds": [0, 1], "profile": "cpu", "provenance": "EDSR 4x16, x2, 600 it"}


def test_fig4_threshold_verdicts_and_claims_on_synthetic_curves():
    f4 = _f4()
    th = pspl.fig4_threshold(f4, 0.5, bicubic=32.0)
    assert th["threshold"] == pytest.approx(33.0)
    paper = pd.Series({("baseline", "epochs_to_threshold"): 125.0, ("PSPL", "epochs_to_threshold"): 70.0})
    fv = pspl.fig4_verdicts(f4, th, interpolate=False, paper=paper)
    assert fv["verdicts"]["PSPL"]["verdict"] == "supported"
    assert list(fv["wide"].columns) == ["baseline", "PSPL"]
    assert "paper 1.79" in fv["text"] and "VERDICT on 'PSPL converges faster than the baseline': SUPPORTED" in fv["text"]
    fin = pspl.fig4_final(f4)
    assert fin["verdicts"]["PSPL"]["verdict"] == "supported"
    sens = pspl.fig4_sensitivity(f4, th, [0.5, 0.9], interpolate=False)
    assert list(sens["fraction"]) == [0.5, 0.9] and "PSPL: verdict" in sens.columns
    items = pspl.fig4_claims(f4, th, fv["verdicts"], fin["verdicts"])
    assert len(items) == 2 and "(Fig. 4; cpu profile: EDSR 4x16, x2, 600 it; 2 seeds;" in items[0][0]


def test_fig4_threshold_uses_the_papers_value_at_the_paper_profile():
    f4 = dict(_f4(), profile="paper")
    th = pspl.fig4_threshold(f4, 0.5, bicubic=32.0)
    assert th["threshold"] == pytest.approx(34.4) and math.isnan(th["fraction"])
    assert th["floor_rule"] == "the paper's own threshold"


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
    results = pspl.table1_results(run_of, methods)
    assert len(results) == 8 and set(results.method) == {"baseline", "PSPL"}
    ours = results.groupby(["model", "set", "method"], as_index=False)[["psnr", "ssim"]].mean()
    paper = pd.DataFrame([{"model": "EDSR", "set": s, "method": m, "paper_psnr": p, "paper_ssim": p / 100}
                          for s, m, p in [("Set5", "baseline", 32.5), ("Set5", "PSPL", 32.6),
                                          ("B100", "baseline", 27.7), ("B100", "PSPL", 28.5)]])
    table = pspl.table1_against_paper(ours, ["EDSR"], paper)
    assert list(table["set"].astype(str)) == ["Set5", "Set5", "B100", "B100"]  # sets in the paper's order
    row = table[(table["set"] == "Set5") & (table["method"] == "PSPL")].iloc[0]
    assert row["psnr"] == pytest.approx(30.6) and row["paper_psnr"] == 32.6
    g, pg = pspl.table1_gains(ours, paper, ["PSPL"], ["EDSR"])
    s5 = g[g["set"] == "Set5"].iloc[0]
    assert s5["paper ΔPSNR"] == pytest.approx(0.1) and s5["ΔPSNR PSPL"] == pytest.approx(0.5)
    assert pspl.gain_columns(g) == ["ΔPSNR PSPL", "ΔSSIM PSPL"]
    check = pspl.b100_check(g, pg, ["PSPL"])
    assert "ratio 8.0" in check["text"] and check["negative"] == []
    cells = pspl.table1_cell_verdicts(results, "PSPL", ["EDSR"], "; seeds [0, 1]")
    # Set5: every PSPL seed beats every baseline seed; B100: the ranges overlap
    assert cells["cells"].loc["EDSR", "Set5"] == "supported" and cells["cells"].loc["EDSR", "B100"] == "inconclusive"
    assert cells["verdict"] == "inconclusive" and cells["evidence"].startswith("PSPL: 1 of 2 (model, set) cells")
    pooled = pspl.table1_pooled_verdict(results, "PSPL")
    assert list(pooled["paired"].round(3)) == [0.3, 0.3] and "seed 0: +0.300 dB" in pooled["text"]
    items = pspl.table1_claims({"PSPL": cells, "PSPL (average)": pooled}, ["PSPL"], "cpu", 2)
    assert [c for c, _ in items] == ["PSPL improves PSNR of every model on every set (Table 1; cpu profile)",
                                     "PSPL raises the average PSNR over the Table 1 cells (Table 1; cpu profile; 2 seeds)"]


def test_table1_provenance_names_model_iterations_data_profile_and_hardware():
    cfg = {"iters_per_epoch": 100, "epochs": 6, "data": {"train": "291"}}
    t1 = {"models": ["EDSR"], "seeds": [0, 1], "configs": {("EDSR", "baseline"): cfg},
          "runs": {("EDSR", "baseline", 0): _fake_run({"Set5": 30.0})}, "sizes": "EDSR 4x16",
          "test_data": "first 3 images of each set", "profile": "cpu"}
    prov = pspl.table1_provenance(t1, hardware="CPU: test (2 cores)")
    assert prov == {"model": "EDSR 4x16", "iterations": "600 per run", "data": "train 291; test first 3 images of each set",
                    "profile": "cpu", "hardware": "CPU: test (2 cores); training used 2 thread(s)", "seeds": "[0, 1]"}
    from srlib import viz
    caption = viz.provenance_caption(prov)
    for part in ("EDSR 4x16", "600 per run", "train 291", "cpu", "CPU: test"):
        assert part in caption


def test_psnr_rgb_accepts_float_and_uint8():
    hr = np.full((4, 4, 3), 100, np.uint8)
    assert pspl.psnr_rgb(np.full((4, 4, 3), 110, np.uint8), hr) == pytest.approx(10 * np.log10(255 ** 2 / 100))
    assert pspl.psnr_rgb(np.full((4, 4, 3), 110 / 255, np.float32), hr) == pytest.approx(10 * np.log10(255 ** 2 / 100), rel=1e-4)
