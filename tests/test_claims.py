"""The claims contract: the verdict vocabulary (each word from constructed inputs), the evidence bar,
rows keyed by (chapter, part), concurrent updates, and where a notebook run writes (book or exploration)."""
import math

import numpy as np
import pandas as pd
import pytest

from srlib import claims as cl


def _effect(diffs):
    return cl.paired_effect({s: d for s, d in enumerate(diffs)}, {s: 0.0 for s in range(len(diffs))})


@pytest.mark.parametrize("diffs, claimed, word", [
    ([0.50, 0.52, 0.48], 0.5, "reproduced"),             # interval around the claim, excludes 0
    ([0.90, 0.92, 0.88], 0.5, "reproduced"),             # above the claim: larger than claimed
    ([0.10, 0.12, 0.08], 0.5, "smaller than claimed"),   # excludes 0 and lies below the claim
    ([0.02, -0.03, 0.01], 0.5, "no effect detected"),    # contains 0, rules out the claim
    ([-0.30, -0.32, -0.28], 0.5, "opposite"),            # below 0
    ([0.6, -0.5, 0.2], 0.5, "inconclusive"),             # contains 0 and the claim
    ([0.5], 0.5, "inconclusive"),                        # one seed: no interval
    ([0.10, 0.12, 0.08], None, "reproduced"),            # direction only: interval above 0
    ([0.10, -0.12, 0.08], None, "inconclusive"),
    ([-0.10, -0.12, -0.08], None, "opposite"),
])
def test_effect_verdict_vocabulary(diffs, claimed, word):
    assert cl.effect_verdict(_effect(diffs), claimed) == word


def test_paired_effect_pairs_by_seed_and_uses_a_t_interval():
    treated = {0: 31.0, 1: 30.0, 2: 32.0}
    reference = {2: 31.5, 0: 30.6, 1: 29.7, 7: 99.0}  # seed 7 has no partner
    e = cl.paired_effect(treated, reference)
    assert e["seeds"] == [0, 1, 2] and e["differences"] == pytest.approx([0.4, 0.3, 0.5])
    from scipy import stats
    half = stats.t.ppf(0.975, 2) * np.std([0.4, 0.3, 0.5], ddof=1) / math.sqrt(3)
    assert (e["ci_low"], e["ci_high"]) == pytest.approx((0.4 - half, 0.4 + half))
    # "lower is better" flips the sign: fewer iterations is a positive effect
    assert cl.paired_effect({0: 70.0, 1: 80.0}, {0: 120.0, 1: 125.0}, "lower")["mean"] == pytest.approx(47.5)
    with pytest.raises(ValueError, match="better"):
        cl.paired_effect(treated, reference, "faster")


def test_effect_verdict_rejects_a_claim_in_the_wrong_direction():
    with pytest.raises(ValueError, match="claimed effect"):
        cl.effect_verdict(_effect([0.1, 0.2]), -0.5)


def test_agreement_verdict():
    assert cl.agreement_verdict([0.01, -0.02], 0.02) == "reproduced"
    assert cl.agreement_verdict([0.01, -0.03], 0.02) == "differs"
    assert cl.agreement_verdict([], 0.02) == "differs"


def test_evidence_bar_and_rows_that_feed_no_verdict():
    # EDSR x4 on Set5: paper 32.46, bicubic 28.42 -> ours must reach 28.42 + (32.46 - 28.42) / 3 = 29.77
    assert cl.clears_bar(29.78, 28.42, 32.46) and not cl.clears_bar(29.76, 28.42, 32.46)
    assert not cl.clears_bar(28.0, 28.42, 32.46)
    # a subset where bicubic is easier than on the whole set: our gain is over bicubic on the same images,
    # the margin is the document's over bicubic on the whole set (B100[:3] at x4: bicubic 29.88, whole 25.96)
    assert not cl.clears_bar(29.32, 29.88, 26.90, paper_bicubic=25.96)
    assert cl.clears_bar(30.30, 29.88, 26.90, paper_bicubic=25.96)
    with pytest.raises(ValueError, match="no bar"):
        cl.clears_bar(29.0, 29.88, 26.90)
    assert cl.feeds_verdict("reproduced") and cl.feeds_verdict("differs")
    assert not cl.feeds_verdict("under-trained: SRCNN is 0.4 dB below bicubic")
    assert not cl.feeds_verdict("cannot speak: delta never leaves the warm-up")
    with pytest.raises(ValueError, match="vocabulary"):
        cl.check_verdict("supported")


def test_write_part_replaces_only_its_own_part(tmp_path):
    path = tmp_path / "pspl.csv"
    fig4 = [cl.row("pspl", "fig4", "faster", "PSPL converges faster", "opposite", "old")]
    table1 = [cl.row("pspl", "table1", "avg", "PSPL raises PSNR", "inconclusive", "keep", effect=_effect([0.1, -0.1]),
                     claimed=0.2, unit="dB")]
    cl.write_part(path, "pspl", "fig4", fig4)
    cl.write_part(path, "pspl", "table1", table1)
    shown = cl.write_part(path, "pspl", "fig4", [cl.row("pspl", "fig4", "faster", "PSPL converges faster", "reproduced", "new")])
    assert list(shown["evidence"]) == ["new"]
    out = cl.read(path)
    assert list(out.columns) == cl.COLUMNS
    assert sorted(out["evidence"]) == ["keep", "new"] and out.set_index("part").loc["table1", "claimed"] == 0.2
    with pytest.raises(ValueError, match="row of"):
        cl.write_part(path, "pspl", "fig4", table1)
    with pytest.raises(ValueError, match="repeated claim_id"):
        cl.write_part(path, "pspl", "fig4", fig4 + fig4)
    with pytest.raises(ValueError, match="vocabulary"):
        cl.row("pspl", "fig4", "x", "x", "yes", "")
    pd.DataFrame({"chapter": ["pspl"], "claim": ["x"]}).to_csv(tmp_path / "old.csv", index=False)
    with pytest.raises(ValueError, match="old.csv"):
        cl.read(tmp_path / "old.csv")


def _write_one_part(path, k):
    cl.write_part(path, "pspl", f"part{k}", [cl.row("pspl", f"part{k}", "c", f"claim {k}", "inconclusive", str(k))])


def test_concurrent_part_updates_keep_every_part(tmp_path):
    """The book runner executes notebooks in parallel processes; each writes its part of one claims
    file. A lost update (two read-modify-writes interleaved) would drop a part's row."""
    import functools
    import multiprocessing

    path = tmp_path / "pspl.csv"
    with multiprocessing.get_context("fork").Pool(4) as pool:
        pool.map(functools.partial(_write_one_part, path), range(60), chunksize=1)
    assert set(cl.read(path)["claim"]) == {f"claim {k}" for k in range(60)}


def test_summary_gathers_every_chapter(tmp_path):
    cl.write_part(tmp_path / "b.csv", "pspl", "fig4", [cl.row("pspl", "fig4", "f", "x", "opposite", "")])
    cl.write_part(tmp_path / "a.csv", "evaluation", "bicubic", [cl.row("evaluation", "bicubic", "b", "y", "reproduced", "")])
    assert cl.summary(tmp_path)["chapter"].tolist() == ["evaluation", "pspl"]
    assert cl.summary(tmp_path / "none").empty


def test_destination_book_only_when_the_book_runs_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(cl.BOOK_RESULTS_ENV, raising=False)
    explore = cl.destination("pspl")
    assert not explore["book"] and explore["claims"] == tmp_path / "srlib-exploration" / "claims" / "pspl.csv"
    assert "left as they are" in explore["text"]
    monkeypatch.setenv(cl.BOOK_RESULTS_ENV, str(tmp_path / "results"))
    book = cl.destination("pspl")
    assert book["book"] and book["tables"] == tmp_path / "results" / "pspl"
    asked = cl.destination("pspl", str(tmp_path / "mine"))
    assert not asked["book"] and asked["claims"] == tmp_path / "mine" / "claims" / "pspl.csv"
    path = cl.write_table(asked, "table1", pd.DataFrame({"a": [1]}))
    assert path == tmp_path / "mine" / "pspl" / "table1.csv" and path.read_text() == "a\n1\n"
    with pytest.raises(ValueError, match="plain file stem"):
        cl.write_table(asked, "../x", pd.DataFrame())


def test_seed_summary_counts_nan():
    df = pd.DataFrame({"group": ["a", "a", "a", "b"], "iterations": [10.0, 20.0, np.nan, 5.0]})
    s = cl.seed_summary(df, "iterations").set_index("group")
    assert s.loc["a", "n"] == 3 and s.loc["a", "n_finite"] == 2 and s.loc["a", "mean"] == 15.0
    assert math.isnan(s.loc["b", "std"])


def test_gains_per_key():
    df = pd.DataFrame({"model": ["m", "m", "m", "m", "n"], "set": ["S", "S", "T", "T", "S"],
                       "method": ["base", "pspl", "base", "pspl", "base"],
                       "psnr": [30.0, 30.5, 27.0, 26.9, 25.0], "ssim": [0.8, 0.81, 0.7, 0.7, 0.6]})
    g = cl.gains(df, ["model", "set"], "method", "base", "pspl", ["psnr", "ssim"]).set_index(["model", "set"])
    assert g.loc[("m", "S"), "psnr_gain"] == pytest.approx(0.5)
    assert g.loc[("m", "T"), "psnr_gain"] == pytest.approx(-0.1)
    assert math.isnan(g.loc[("n", "S"), "psnr_gain"])
    with pytest.raises(ValueError):
        cl.gains(pd.concat([df, df]), ["model", "set"], "method", "base", "pspl", ["psnr"])
