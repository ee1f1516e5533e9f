"""srlib.lfr: ASDN's Laplacian frequency representation (levels, index, weight, blend) and recursion schedules."""
import math
import subprocess
import sys

import pytest

from srlib import lfr


def test_lfr_imports_neither_torch_nor_numpy():
    code = "import sys, srlib.lfr; print('torch' in sys.modules, 'numpy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


def test_levels_are_one_plus_l_over_L_minus_1():
    assert lfr.LEVELS == 11
    assert lfr.levels() == [1.0, 1.1, 1.2, 1.3, 1.4, 1.5, 1.6, 1.7, 1.8, 1.9, 2.0]
    assert lfr.levels(5) == [1.0, 1.25, 1.5, 1.75, 2.0]
    assert lfr.levels(2) == [1.0, 2.0]
    assert [lfr.level_scale(l) for l in range(11)] == lfr.levels()
    for L in (5, 9, 17):  # Fig. 8's densities
        assert len(lfr.levels(L)) == L and lfr.levels(L)[0] == 1.0 and lfr.levels(L)[-1] == 2.0


@pytest.mark.parametrize("L", [11, 5, 9, 17])
def test_every_level_gives_itself_with_weight_zero(L):
    for l, r in enumerate(lfr.levels(L)):
        if l == 0:
            continue
        b = lfr.level_blend(r, L)
        assert (b.index, b.weight, b.upper) == (l, 0.0, r), (L, l, r)
        assert lfr.active_levels(r, L) == (l,)
        assert lfr.grid_level(r, L) == l


def test_float_noise_does_not_pick_the_next_level():
    # 10 * (1.3 - 1) = 3.0000000000000004 in floating point: the student's code took level 4, weight 1.0
    assert 10 * (1.3 - 1) > 3
    for r, level in [(1.1, 1), (1.3, 3), (2.0, 10), (1 + 0.1 * 3, 3), (0.7 + 0.6, 3), (1.2 + 0.1 * 5, 7),
                     (1.2999999999999998, 3), (2.0000000000000004, 10)]:
        assert lfr.level_index(r) == level and lfr.level_weight(r) == 0.0, r
    assert lfr.level_index(2) == 10 and lfr.level_index(1.5) == 5


def test_slides_worked_example():
    b = lfr.level_blend(1.27)  # i = ceil(10 * 0.27) = ceil(2.7) = 3, w = 10 * (1.3 - 1.27) = 0.3
    assert b.index == 3 and b.weight == pytest.approx(0.3, abs=1e-12)
    assert (b.upper, b.lower) == (1.3, 1.2)
    assert lfr.active_levels(1.27) == (2, 3)


def test_just_above_one_uses_levels_zero_and_one():
    for r in (1 + 1e-12, 1 + 1e-9, 1.0001, 1.05):
        b = lfr.level_blend(r)
        assert b.index == 1 and 0 < b.weight <= 1, r
        assert lfr.active_levels(r) == (0, 1)
    assert lfr.level_weight(1.0001) == pytest.approx(0.999)
    assert lfr.level_weight(1 + 1e-12) == pytest.approx(1.0)


def test_just_off_a_level_goes_to_the_right_side():
    for l in range(1, 10):
        r = lfr.level_scale(l)
        above, below = lfr.level_blend(r + 1e-6), lfr.level_blend(r - 1e-6)
        assert above.index == l + 1 and above.weight == pytest.approx(1 - 1e-5)
        assert below.index == l and below.weight == pytest.approx(1e-5)


@pytest.mark.parametrize("L", [11, 5, 17])
def test_blend_of_a_linear_signal_is_exact_at_every_scale(L):
    # O_r = O_{r_i} + w_r (O_{r_{i-1}} - O_{r_i}) is linear interpolation in r: a signal linear in r is
    # reproduced at every r only if i and w_r are consistent (w = (L-1)(r_i - r)).
    signal = lambda r: 3.0 - 7.0 * r  # noqa: E731
    for k in range(1, 1001):
        r = 1 + k / 1000
        b = lfr.level_blend(r, L)
        assert 1 <= b.index <= L - 1 and 0 <= b.weight < 1
        assert lfr.blend(signal(b.upper), signal(b.lower), b.weight) == pytest.approx(signal(r), abs=1e-9), (L, r)


def test_phase_and_blend_formulas():
    assert lfr.phase(5.0, 2.0) == 3.0  # P_i = O_{r_{i-1}} - O_{r_i}
    assert lfr.blend(2.0, 5.0, 0.3) == pytest.approx(2.0 + 0.3 * 3.0)
    assert lfr.blend(2.0, 5.0, 0.0) == 2.0


@pytest.mark.parametrize("bad", [1, 1.0, 0.5, 0, -2, 2.5, 3, math.nan, math.inf, -math.inf, "1.5", None, True])
def test_bad_scales_are_value_errors(bad):
    with pytest.raises(ValueError):
        lfr.level_blend(bad)


@pytest.mark.parametrize("bad", [1, 0, -3, 2.5, "11", True])
def test_bad_level_counts_are_value_errors(bad):
    with pytest.raises(ValueError, match="L must be an integer >= 2"):
        lfr.level_blend(1.5, bad)
    with pytest.raises(ValueError):
        lfr.levels(bad)


def test_level_scale_rejects_levels_outside_the_range():
    for bad in (-1, 11, 1.0):
        with pytest.raises(ValueError):
            lfr.level_scale(bad)


# ----------------------------------------------------------------------------- recursion


@pytest.mark.parametrize("R, expected", [
    (2, (2.0,)), (3, (2.0, 1.5)), (4, (2.0, 2.0)), (8, (2.0, 2.0, 2.0)), (32, (2.0,) * 5),
    (1.5, (1.5,)), (2.7, (2.0, 1.35)), (3.5, (2.0, 1.75)), (2.8, (2.0, 1.4)), (22.6, (2.0,) * 4 + (1.4125,)),
])
def test_greedy_schedule(R, expected):
    assert lfr.recursion_schedule(R) == pytest.approx(expected, abs=1e-12)
    assert lfr.recursion_passes(R) == len(expected)
    assert lfr.schedule_product(lfr.recursion_schedule(R)) == pytest.approx(R)


def test_pass_count_is_ceil_log2_and_every_ratio_is_in_the_lfr_range():
    for k in range(201, 3201, 7):
        R = k / 100
        ratios = lfr.recursion_schedule(R)
        assert len(ratios) == math.ceil(math.log2(R) - 1e-12), R
        assert all(r == 2.0 for r in ratios[:-1]) and 1 < ratios[-1] <= 2
        assert lfr.schedule_product(ratios) == pytest.approx(R)
        for r in ratios:
            lfr.level_blend(r)  # every pass is a valid LFR scale


def test_other_named_schedules():
    assert lfr.recursion_schedule(3, "ascending") == (1.5, 2.0)
    assert lfr.recursion_schedule(3, "equal") == pytest.approx((3 ** 0.5,) * 2)
    assert [round(r, 3) for r in lfr.recursion_schedule(3, "equal")] == [1.732, 1.732]
    assert [round(r, 3) for r in lfr.recursion_schedule(4, "equal", passes=3)] == [1.587] * 3
    assert lfr.recursion_schedule(4, "equal") == (2.0, 2.0)
    assert lfr.recursion_schedule(1.5, "ascending") == (1.5,)
    with pytest.raises(ValueError, match="passes"):
        lfr.recursion_schedule(4, "equal", passes=1)
    with pytest.raises(ValueError, match="equal"):
        lfr.recursion_schedule(4, "greedy", passes=3)
    with pytest.raises(ValueError, match="unknown schedule"):
        lfr.recursion_schedule(4, "random")
    for bad in (1, 0.9, math.nan, "4"):
        with pytest.raises(ValueError):
            lfr.recursion_schedule(bad)
        with pytest.raises(ValueError):
            lfr.recursion_passes(bad)


def test_slide_schedules_and_what_their_labels_say():
    assert list(lfr.SLIDE_SCHEDULES) == [
        "x3:1.732-1.732", "x3:1.500-2.000", "x3:2.000-1.500", "x4:1.442-1.442-1.442", "x4:2.000-2.000",
        "x4:1.587-1.587-1.587", "x4:1.800-1.800-1.234", "x4:2.000-1.800-1.100"]
    assert lfr.slide_schedule("x3:2.000-1.500") == (2.0, 1.5)
    with pytest.raises(ValueError, match="unknown schedule"):
        lfr.slide_schedule("x5:2-2.5")
    rows = {r["name"]: r for r in lfr.slide_schedule_rows()}
    # 1.442 is the cube root of 3, not of 4 (1.587 is): that row's product is 3, under the "4x" label
    assert round(3 ** (1 / 3), 3) == 1.442 and round(4 ** (1 / 3), 3) == 1.587
    assert rows["x4:1.442-1.442-1.442"]["product"] == pytest.approx(3, abs=0.01)
    assert rows["x4:2.000-1.800-1.100"]["product"] == pytest.approx(3.96)
    assert {n for n, r in rows.items() if not r["labels_agree"]} == {
        "x4:1.442-1.442-1.442", "x4:2.000-2.000", "x4:1.800-1.800-1.234", "x4:2.000-1.800-1.100"}
    for r in rows.values():
        assert r["passes"] == len(r["ratios"])
        for ratio in r["ratios"]:
            lfr.level_blend(ratio)
