import math

import numpy as np
import pandas as pd
import pytest

from srlib import curves as cv


def test_first_crossing_interpolates_between_evaluations():
    # 30 at 100, 34 at 200: 33 is reached three quarters of the way
    assert cv.first_crossing([0, 100, 200, 300], [20, 30, 34, 35], 33.0) == pytest.approx(175.0)
    assert cv.first_crossing([0, 100, 200, 300], [20, 30, 34, 35], 33.0, interpolate=False) == 200.0


def test_first_crossing_first_evaluation_already_above():
    assert cv.first_crossing([50, 100], [36, 37], 33.0) == 50.0


def test_first_crossing_tie_counts_as_reached_at_that_evaluation():
    assert cv.first_crossing([0, 10, 20], [1.0, 2.0, 3.0], 2.0) == 10.0
    assert cv.first_crossing([0, 10, 20], [1.0, 2.0, 3.0], 2.0, interpolate=False) == 10.0


def test_first_crossing_uses_first_not_best_crossing():
    # dips below after crossing: the first crossing counts
    assert cv.first_crossing([0, 10, 20, 30], [0, 5, 1, 6], 4.0, interpolate=False) == 10.0


def test_first_crossing_never_reached_is_nan_and_labelled():
    assert math.isnan(cv.first_crossing([0, 10], [1, 2], 3.0))
    t = cv.crossing_table({("base", 0): ([0, 10, 20], [1, 2, 2.5]), ("pspl", 0): ([0, 10, 20], [1, 4, 5])}, 3.0)
    row = t.set_index("group").loc["base"]
    assert not row["reached"] and math.isnan(row["iterations"])
    assert row["label"] == "not reached within 20 iterations"
    assert t.set_index("group").loc["pspl", "iterations"] == pytest.approx(10 * (3 - 1) / (4 - 1))


def test_first_crossing_unsorted_input_and_nan_rows():
    assert cv.first_crossing([20, 0, 10, 15], [3, 1, 2, float("nan")], 2.5) == pytest.approx(15.0)


def test_first_crossing_rejects_bad_input():
    with pytest.raises(ValueError):
        cv.first_crossing([0, 1], [1], 1.0)
    with pytest.raises(ValueError):
        cv.first_crossing([0, 0], [1, 2], 1.0)
    with pytest.raises(ValueError):
        cv.first_crossing([0, 1], [1, 2], float("nan"))


def test_threshold_from_curves_rule():
    curves = [([0, 1], [30, 34]), ([0, 1], [30, 36])]
    assert cv.threshold_from_curves(curves, floor=30, fraction=0.5) == pytest.approx(32.0)
    assert cv.threshold_from_curves(curves, floor=30, fraction=0.5, reference="max") == pytest.approx(33.0)
    # every curve reaches a min_of_max threshold
    th = cv.threshold_from_curves(curves, floor=30, fraction=1.0)
    assert all(not math.isnan(cv.first_crossing(*c, th)) for c in curves)
    with pytest.raises(ValueError):
        cv.threshold_from_curves(curves, floor=40, fraction=0.5)
    with pytest.raises(ValueError):
        cv.threshold_from_curves(curves, floor=30, fraction=0)


def test_curve_from_log_skips_rows_without_evaluation():
    log = pd.DataFrame({"iteration": [5, 10, 15, 20], "loss": [1, 1, 1, 1], "Set5_psnr": [np.nan, 30.0, np.nan, 31.0]})
    it, v = cv.curve_from_log(log, "Set5_psnr")
    assert it.tolist() == [10, 20] and v.tolist() == [30.0, 31.0]
    with pytest.raises(KeyError):
        cv.curve_from_log(log, "B100_psnr")


def test_mean_curve_on_common_iterations():
    m = cv.mean_curve([([0, 10, 20], [1, 2, 3]), ([0, 10, 20, 30], [3, 4, 5, 6])])
    assert m["iteration"].tolist() == [0, 10, 20]
    assert m["mean"].tolist() == [2, 3, 4]
    assert m["std"].iloc[0] == pytest.approx(math.sqrt(2))
