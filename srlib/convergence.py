"""Convergence of training curves: iterations to a threshold, seed summaries, computed verdicts.

Generic over chapters: a *curve* is a validation metric against iterations (from a run's
``log.csv``), a *group* is one training recipe (e.g. "baseline", "PSPL") run with several seeds.

* :func:`first_crossing` — the first iteration at which a curve reaches a threshold, either at
  the first evaluation that is ``>= threshold`` or linearly interpolated between that evaluation
  and the one before it. Never reached -> ``nan`` (and :func:`crossing_table` labels it).
* :func:`threshold_from_curves` — a threshold that means something at any scale: a fraction of
  the way from a floor (e.g. bicubic PSNR) to a reference level reached by the runs.
* :func:`seed_summary` — mean, standard deviation, min, max and counts per group.
* :func:`verdict` — a claim "A is lower/higher than B" judged from per-seed values: supported only
  when every seed of A beats every seed of B (no overlap of the seed ranges), contradicted in
  the mirror case, inconclusive otherwise. The rule is deliberately strict for 3-5 seeds.
* :func:`claims_rows` / :func:`write_claims` — rows for ``results/claims/<chapter>.csv``, which
  :func:`srlib.viz.claims_summary` collects.

A curve that never reaches the threshold is *slower* than every curve that does: the verdict
treats ``nan`` iterations as +infinity when ``better="lower"`` (it never wins on them).
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

NOT_REACHED = "not reached"
VERDICTS = ("supported", "contradicted", "inconclusive")


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


def seed_summary(df, value: str, group: str = "group") -> "pd.DataFrame":  # noqa: F821
    """Per group: n, n_finite, mean, std (ddof 1), min, max of ``value`` over its finite entries."""
    import pandas as pd

    out = []
    for g, sub in df.groupby(group, sort=False):
        x = sub[value].to_numpy(dtype=float)
        f = x[np.isfinite(x)]
        out.append({group: g, "n": int(x.size), "n_finite": int(f.size),
                    "mean": float(f.mean()) if f.size else math.nan,
                    "std": float(f.std(ddof=1)) if f.size > 1 else math.nan,
                    "min": float(f.min()) if f.size else math.nan,
                    "max": float(f.max()) if f.size else math.nan})
    return pd.DataFrame(out)


def format_spread(mean: float, std: float, lo: float, hi: float, decimals: int = 0) -> str:
    """``"123 ± 4 (min 118, max 127)"``; ``nan`` parts as ``—``."""
    def f(x):
        return "—" if x is None or not math.isfinite(x) else f"{x:.{decimals}f}"
    return f"{f(mean)} ± {f(std)} (min {f(lo)}, max {f(hi)})"


# ----------------------------------------------------------------------------- verdicts


def verdict(a: Sequence[float], b: Sequence[float], better: str = "lower", name_a: str = "A", name_b: str = "B",
            what: str = "value", decimals: int = 0) -> dict:
    """Judge "``name_a`` is better than ``name_b``" from per-seed values.

    ``better="lower"`` (e.g. iterations to a threshold; ``nan`` = never reached = +inf) or
    ``"higher"`` (e.g. PSNR; ``nan`` = no value = -inf). ``supported`` when every value of A is
    better than every value of B, ``contradicted`` when every value of B is better than every
    value of A, ``inconclusive`` otherwise (the seed ranges overlap or a side has no value).
    Returns ``{"verdict", "evidence", "mean_a", "mean_b", "ratio", "n_a", "n_b"}``; ``ratio`` is
    mean B / mean A (a speed-up when ``better="lower"``), ``nan`` when a mean is missing.
    """
    if better not in ("lower", "higher"):
        raise ValueError(f"better must be 'lower' or 'higher', got {better!r}")
    a = np.asarray(a, dtype=float).ravel()
    b = np.asarray(b, dtype=float).ravel()
    if a.size == 0 or b.size == 0:
        raise ValueError("verdict needs at least one value on each side")
    worst = math.inf if better == "lower" else -math.inf
    ea, eb = np.where(np.isnan(a), worst, a), np.where(np.isnan(b), worst, b)
    if better == "lower":
        a_wins, b_wins = ea.max() < eb.min(), eb.max() < ea.min()
    else:
        a_wins, b_wins = ea.min() > eb.max(), eb.min() > ea.max()
    if np.isnan(a).all() and np.isnan(b).all():
        a_wins = b_wins = False
    v = "supported" if a_wins else ("contradicted" if b_wins else "inconclusive")

    def side(x, name):
        f = x[np.isfinite(x)]
        missing = int(np.isnan(x).sum())
        txt = (f"{name}: {format_spread(f.mean(), f.std(ddof=1) if f.size > 1 else math.nan, f.min(), f.max(), decimals)}"
               if f.size else f"{name}: no value")
        txt += f", n = {x.size}"
        if missing:
            txt += f", {missing} {NOT_REACHED}" if better == "lower" else f", {missing} missing"
        return txt, (float(f.mean()) if f.size else math.nan)

    ta, ma = side(a, name_a)
    tb, mb = side(b, name_b)
    ratio = mb / ma if (math.isfinite(ma) and math.isfinite(mb) and ma != 0) else math.nan
    rule = ("every seed of one side beats every seed of the other" if v != "inconclusive"
            else "the seed ranges overlap (or a side has no value)")
    evidence = f"{what} — {ta}; {tb}; {v}: {rule}"
    return {"verdict": v, "evidence": evidence, "mean_a": ma, "mean_b": mb, "ratio": ratio, "n_a": int(a.size), "n_b": int(b.size)}


def claims_rows(chapter: str, items: Sequence[tuple[str, dict]]) -> list[dict]:
    """``[(claim text, verdict dict)]`` -> rows with chapter, claim, evidence, verdict."""
    rows = []
    for claim, v in items:
        if v.get("verdict") not in VERDICTS and not str(v.get("verdict", "")).startswith("not run"):
            raise ValueError(f"claim {claim!r}: verdict must be one of {VERDICTS} (or 'not run: ...'), got {v.get('verdict')!r}")
        rows.append({"chapter": chapter, "claim": claim, "evidence": v["evidence"], "verdict": v["verdict"]})
    return rows


def write_claims(rows: Sequence[dict], path) -> Path:
    """Write claim rows as CSV (atomically) for :func:`srlib.viz.claims_summary`."""
    import pandas as pd

    from srlib.atomic import write_text

    path = Path(path)
    df = pd.DataFrame(list(rows), columns=["chapter", "claim", "evidence", "verdict"])
    write_text(path, df.to_csv(index=False))
    return path


# ----------------------------------------------------------------------------- paired gains


def gains(df, keys: Sequence[str], by: str, a, b, values: Sequence[str]) -> "pd.DataFrame":  # noqa: F821
    """``b - a`` per ``keys`` for each column in ``values`` (e.g. PSPL minus baseline per model and set).

    ``df`` has one row per (keys..., by); rows whose ``by`` is neither ``a`` nor ``b`` are ignored.
    Missing partners give ``nan``. Returns keys + one ``<value>_gain`` column per value.
    """
    import pandas as pd

    missing = [c for c in (*keys, by, *values) if c not in df.columns]
    if missing:
        raise KeyError(f"gains: missing column(s) {missing}; have {list(df.columns)}")
    sub = df[df[by].isin([a, b])]
    if sub.duplicated([*keys, by]).any():
        raise ValueError(f"gains: more than one row per {[*keys, by]}")
    wide = sub.pivot_table(index=list(keys), columns=by, values=list(values), aggfunc="first")
    out = pd.DataFrame(index=wide.index)
    for v in values:
        pa = wide[(v, a)] if (v, a) in wide.columns else np.nan
        pb = wide[(v, b)] if (v, b) in wide.columns else np.nan
        out[f"{v}_gain"] = pb - pa
    return out.reset_index()
