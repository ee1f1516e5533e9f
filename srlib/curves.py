"""Training curves: iterations to a threshold, thresholds that scale with the runs, mean curves.

Generic over chapters: a *curve* is a validation metric against iterations (from a run's
``log.csv``), a *group* is one training recipe (e.g. "baseline", "PSPL") run with several seeds.

* :func:`first_crossing` — the first iteration at which a curve reaches a threshold, either at
  the first evaluation that is ``>= threshold`` or linearly interpolated between that evaluation
  and the one before it. Never reached -> ``nan`` (and :func:`crossing_table` labels it).
* :func:`threshold_from_curves` — a threshold that means something at any scale: a fraction of
  the way from a floor (e.g. bicubic PSNR) to a reference level reached by the runs.
* :func:`mean_curve`, :func:`crossing_table` — over seeds.

Verdicts on what the curves show (paired effects over seeds, the book's vocabulary) are
:mod:`srlib.claims`.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

NOT_REACHED = "not reached"


# ----------------------------------------------------------------------------- curves


def _as_curve(iterations, values) -> tuple[np.ndarray, np.ndarray]:
    it = np.asarray(iterations, dtype=float).ravel()
    v = np.asarray(values, dtype=float).ravel()
    if it.shape != v.shape:
        raise ValueError(f"curve: {it.size} iterations but {v.size} values")
    keep = np.isfinite(it) & np.isfinite(v)
    it, v = it[keep], v[keep]
    order = np.argsort(it, kind="stable")
    it, v = it[order], v[order]
    if it.size and np.any(np.diff(it) == 0):
        raise ValueError(f"curve: repeated iteration(s) {sorted(set(it[1:][np.diff(it) == 0].tolist()))}")
    return it, v


def curve_from_log(log, column: str, x: str = "iteration") -> tuple[np.ndarray, np.ndarray]:
    """(iterations, values) of ``column`` from a run log (DataFrame), rows where it was measured."""
    if column not in log.columns:
        raise KeyError(f"log has no column {column!r}; it has {list(log.columns)}")
    df = log[[x, column]].dropna()
    return _as_curve(df[x].to_numpy(), df[column].to_numpy())


def first_crossing(iterations, values, threshold: float, interpolate: bool = True) -> float:
    """First iteration at which ``values >= threshold`` (``nan`` if never).

    ``interpolate=False``: the iteration of the first evaluation at or above the threshold.
    ``interpolate=True``: linear interpolation between that evaluation and the previous one
    (the previous one is below the threshold by construction); if the very first evaluation is
    already at or above the threshold there is nothing before it and its iteration is returned.
    A value exactly equal to the threshold counts as reached (at that evaluation).
    """
    if not math.isfinite(float(threshold)):
        raise ValueError(f"threshold must be a finite number, got {threshold!r}")
    it, v = _as_curve(iterations, values)
    hits = np.flatnonzero(v >= threshold)
    if hits.size == 0:
        return math.nan
    k = int(hits[0])
    if not interpolate or k == 0 or v[k] == threshold:
        return float(it[k])
    x0, x1, y0, y1 = it[k - 1], it[k], v[k - 1], v[k]
    return float(x0 + (threshold - y0) * (x1 - x0) / (y1 - y0))


def threshold_from_curves(curves: Sequence, floor: float, fraction: float, reference: str = "min_of_max") -> float:
    """``floor + fraction * (level - floor)``: a threshold that scales with what the runs reach.

    ``curves``: a sequence of (iterations, values). ``level`` is, with ``reference``:
    ``"min_of_max"`` the lowest of the curves' best values (every curve reaches the threshold
    when ``fraction <= 1``, so the comparison is about speed, not final level) or ``"max"`` the
    best value of all curves.
    """
    if not 0 < float(fraction) <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction!r}")
    peaks = []
    for c in curves:
        _, v = _as_curve(*c)
        if v.size:
            peaks.append(float(v.max()))
    if not peaks:
        raise ValueError("threshold_from_curves: no curve has a finite value")
    if reference == "min_of_max":
        level = min(peaks)
    elif reference == "max":
        level = max(peaks)
    else:
        raise ValueError(f"reference must be 'min_of_max' or 'max', got {reference!r}")
    if level <= floor:
        raise ValueError(f"threshold_from_curves: the reference level {level:.4g} is not above the floor {floor:.4g}; "
                         "the runs did not improve on it")
    return float(floor) + float(fraction) * (level - float(floor))


def mean_curve(curves: Sequence) -> "pd.DataFrame":  # noqa: F821
    """Mean, std, min, max over seeds at the iterations every curve has (columns: iteration, mean, std, min, max, n)."""
    import pandas as pd

    cs = [_as_curve(*c) for c in curves]
    if not cs:
        raise ValueError("mean_curve: no curves")
    common = cs[0][0]
    for it, _ in cs[1:]:
        common = np.intersect1d(common, it)
    rows = np.stack([v[np.searchsorted(it, common)] for it, v in cs])
    return pd.DataFrame({"iteration": common, "mean": rows.mean(0), "std": rows.std(0, ddof=1) if len(cs) > 1 else 0.0,
                         "min": rows.min(0), "max": rows.max(0), "n": len(cs)})


# ----------------------------------------------------------------------------- tables


def crossing_table(curves: Mapping, threshold: float, interpolate: bool = True) -> "pd.DataFrame":  # noqa: F821
    """One row per curve: ``curves = {(group, seed): (iterations, values)}``.

    Columns: group, seed, iterations (float, nan if never), reached (bool), last_iteration (the
    curve's end) and label (``"123"`` or ``"not reached within N iterations"``).
    """
    import pandas as pd

    rows = []
    for key, c in curves.items():
        group, seed = key if isinstance(key, tuple) else (key, None)
        it, v = _as_curve(*c)
        x = first_crossing(it, v, threshold, interpolate)
        last = float(it[-1]) if it.size else math.nan
        reached = not math.isnan(x)
        rows.append({"group": group, "seed": seed, "iterations": x, "reached": reached, "last_iteration": last,
                     "best": float(v.max()) if v.size else math.nan,
                     "label": f"{x:.0f}" if reached else f"{NOT_REACHED} within {last:.0f} iterations"})
    return pd.DataFrame(rows, columns=["group", "seed", "iterations", "reached", "last_iteration", "best", "label"])
