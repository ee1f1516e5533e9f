"""ASDN's Laplacian frequency representation (LFR) and recursive deployment, as plain arithmetic.

No torch, no numpy: the model (:mod:`srlib.models.asdn`), the chapter and the tests share these
functions, and a notebook can print a schedule without loading a network.

Levels (document 003, "Laplacian Frequency Representation")
    ``L`` levels (default 11) over the scale range (1, 2]: ``r_l = 1 + l / (L - 1)``, l = 0 .. L-1,
    so r_0 = 1.0, r_1 = 1.1, ..., r_10 = 2.0. Each level has its own image-reconstruction branch
    (IRB) and output ``O_{r_l}``; phase ``P_i = O_{r_{i-1}} - O_{r_i}`` (:func:`phase`).

A scale r in (1, 2] (:func:`level_blend`)
    ``i = ceil((r - 1)(L - 1))``, ``w_r = (L - 1)(r_i - r)`` (which is ``i - (r - 1)(L - 1)``, in [0, 1)),
    ``O_r = O_{r_i} + w_r P_i`` (:func:`blend`). The slides' worked example: r = 1.27 -> i = 3, w = 0.3.

    Floating point is removed before the ceiling: r is read as the shortest decimal that prints as
    the float (1.3 is 13/10, not 1.3000000000000000444), and a value within 1e-9 of a level *is* that
    level. So r = 1.1, 1.3, 2.0 give their own level (i = 1, 3, 10) with w = 0, and only IRB i is
    needed; the student re-implementation computed ``ceil(10 (1.3 - 1)) = ceil(3.0000000000000004) = 4``
    and blended level 4 with weight 1.0 (AUTHORS_CODE 003 section 4). r just above 1 gives i = 1 and
    w close to 1 (O_r close to O_{r_0}); r = 1 itself is not in (1, 2] and is a ValueError (the student's
    code indexed ``information[-1]`` = level 10 there).

Recursive deployment (:func:`recursion_schedule`)
    For a scale R > 2 the network runs N = ceil(log2 R) times: r = 2 for the first N - 1 passes and
    ``R / 2^(N-1)`` in the last one (``"greedy"``, the document's rule: "the greatest r at the
    beginning"). Also named: ``"ascending"`` (the small ratio first: 1.5 then 2 at x3) and ``"equal"``
    (N equal ratios R^(1/N): 1.732 x 1.732 at x3, ``passes=3`` gives 1.587^3 at x4).
    The slides' table of schedules is :data:`SLIDE_SCHEDULES`, ratios exactly as printed
    (:func:`slide_schedule`, :func:`slide_schedule_rows`). Its labels do not all add up: 1.442^3 =
    2.998 is listed under 4x (1.442 is the cube root of 3; 1.587 is the cube root of 4), "2.000, 2.000"
    sits under N = 3, and the two rows under N = 2 have three ratios (products 3.998 and 3.96).
    :func:`slide_schedule_rows` computes each row's pass count and product so that the chapter can
    show it; nothing here corrects the document.
"""
from __future__ import annotations

import math
from fractions import Fraction
from numbers import Real
from typing import NamedTuple

__all__ = [
    "LEVELS",
    "R_MAX",
    "levels",
    "level_scale",
    "grid_level",
    "level_index",
    "level_weight",
    "level_blend",
    "active_levels",
    "phase",
    "blend",
    "recursion_passes",
    "recursion_schedule",
    "SCHEDULES",
    "SLIDE_SCHEDULES",
    "slide_schedule",
    "slide_schedule_rows",
    "schedule_product",
    "Blend",
    "SlideSchedule",
]

LEVELS = 11  # the document's L: 11 levels, 10 phases over (1, 2]
R_MAX = 2  # the top of the LFR's range; larger scales recurse
_NOISE = Fraction(1, 10**9)  # a scale this close to a level is that level


def _exact(value, who: str) -> Fraction:
    """``value`` as an exact fraction of the decimal it prints as; ValueError for non-finite or non-numbers."""
    if isinstance(value, bool) or not isinstance(value, Real):
        raise ValueError(f"{who}: expected a number, got {value!r}")
    if isinstance(value, (int, Fraction)):
        return Fraction(value)
    f = float(value)
    if not math.isfinite(f):
        raise ValueError(f"{who}: expected a finite number, got {value!r}")
    return Fraction(repr(f))


def _check_levels(L) -> int:
    if isinstance(L, bool) or not isinstance(L, int) or L < 2:
        raise ValueError(f"LFR: the number of levels L must be an integer >= 2 (the document's L = 11), got {L!r}")
    return L


def _in_range(r, who: str) -> Fraction:
    """r as a fraction in (1, 2]; a value within the noise above 2 is 2."""
    x = _exact(r, who)
    if x <= 1:
        raise ValueError(f"{who}: scale {r!r} is not above 1; the LFR covers scales in (1, 2]")
    if x > R_MAX:
        if x - R_MAX <= _NOISE:
            return Fraction(R_MAX)
        raise ValueError(f"{who}: scale {r!r} is above {R_MAX}; the LFR covers (1, {R_MAX}], deploy recursively "
                         "(recursion_schedule)")
    return x


def levels(L: int = LEVELS) -> list[float]:
    """The level scales ``r_l = 1 + l / (L - 1)``, l = 0 .. L-1 (L = 11: 1.0, 1.1, ..., 2.0)."""
    L = _check_levels(L)
    return [float(1 + Fraction(l, L - 1)) for l in range(L)]


def level_scale(l: int, L: int = LEVELS) -> float:
    """``r_l`` of level ``l`` (0 .. L-1)."""
    L = _check_levels(L)
    if isinstance(l, bool) or not isinstance(l, int) or not 0 <= l < L:
        raise ValueError(f"LFR: level {l!r} is not one of 0 .. {L - 1}")
    return float(1 + Fraction(l, L - 1))


def grid_level(r, L: int = LEVELS) -> int | None:
    """The level ``l`` whose scale is ``r`` (within 1e-9), or None when r lies between two levels."""
    L = _check_levels(L)
    t = (_exact(r, "grid_level") - 1) * (L - 1)
    n = round(t)
    return int(n) if abs(t - n) <= _NOISE and 0 <= n < L else None


class Blend(NamedTuple):
    """How a scale in (1, 2] is reconstructed: ``O_r = O_{r_index} + weight * (O_{r_{index-1}} - O_{r_index})``."""

    scale: float  # r
    index: int  # i, 1 .. L-1
    weight: float  # w_r in [0, 1); 0 on a level
    upper: float  # r_i (the ceiling level)
    lower: float  # r_{i-1}


def level_blend(r, L: int = LEVELS) -> Blend:
    """i = ceil((r - 1)(L - 1)) (at least 1) and w_r = (L - 1)(r_i - r) for r in (1, 2], robust to float noise."""
    L = _check_levels(L)
    x = _in_range(r, "level_blend")
    t = (x - 1) * (L - 1)
    n = round(t)
    if abs(t - n) <= _NOISE and n >= 1:
        t = Fraction(n)  # on a level: that level, weight 0
    i = max(1, math.ceil(t))
    w = Fraction(i) - t
    return Blend(float(x), i, float(w), float(1 + Fraction(i, L - 1)), float(1 + Fraction(i - 1, L - 1)))


def level_index(r, L: int = LEVELS) -> int:
    """``i = ceil((r - 1)(L - 1))`` for r in (1, 2] (see :func:`level_blend`)."""
    return level_blend(r, L).index


def level_weight(r, L: int = LEVELS) -> float:
    """``w_r = (L - 1)(r_i - r)`` for r in (1, 2] (see :func:`level_blend`)."""
    return level_blend(r, L).weight


def active_levels(r, L: int = LEVELS) -> tuple[int, ...]:
    """The IRBs a scale needs: ``(i,)`` on a level (w = 0), else ``(i - 1, i)``."""
    b = level_blend(r, L)
    return (b.index,) if b.weight == 0 else (b.index - 1, b.index)


def phase(lower, upper):
    """``P_i = O_{r_{i-1}} - O_{r_i}`` (numbers, arrays or tensors)."""
    return lower - upper


def blend(upper, lower, weight):
    """``O_r = O_{r_i} + w_r P_i`` with ``P_i = lower - upper`` (numbers, arrays or tensors)."""
    return upper + weight * phase(lower, upper)


# ----------------------------------------------------------------------------- recursive deployment

SCHEDULES = ("greedy", "ascending", "equal")


def _check_big(R, who: str) -> Fraction:
    x = _exact(R, who)
    if x <= 1:
        raise ValueError(f"{who}: scale {R!r} must be above 1")
    return x


def recursion_passes(R) -> int:
    """N = ceil(log2 R) for R > 2 (exact: the least N with 2^N >= R, within 1e-9); 1 for R in (1, 2]."""
    x = _check_big(R, "recursion_passes")
    n = 1
    while x / 2**n > 1 + _NOISE:
        n += 1
    return n


def recursion_schedule(R, name: str = "greedy", passes: int | None = None) -> tuple[float, ...]:
    """The ratios, pass by pass, that deploy the network at scale ``R`` (each in (1, 2]).

    ``"greedy"`` (the document's): ``[2] * (N - 1) + [R / 2^(N - 1)]``, N = ceil(log2 R).
    ``"ascending"``: the same ratios, the smallest first. ``"equal"``: ``[R^(1/N)] * N``; ``passes``
    sets N (>= ceil(log2 R)) for this schedule only. R in (1, 2] is one pass ``(R,)``.
    """
    if name not in SCHEDULES:
        raise ValueError(f"recursion_schedule: unknown schedule {name!r}; use one of {list(SCHEDULES)} "
                         "or slide_schedule(name) for the slides' rows")
    x = _check_big(R, "recursion_schedule")
    n = recursion_passes(x)
    if passes is not None:
        if name != "equal":
            raise ValueError(f"recursion_schedule: passes= is for the 'equal' schedule only, not {name!r}")
        if isinstance(passes, bool) or not isinstance(passes, int) or passes < n:
            raise ValueError(f"recursion_schedule: passes={passes!r} must be an integer >= ceil(log2 {R}) = {n} "
                             f"(each ratio must stay within (1, {R_MAX}])")
        n = passes
    if n == 1 and name != "equal":
        return (float(min(x, Fraction(R_MAX))),)
    if name == "equal":
        return (float(x) ** (1.0 / n),) * n
    last = x / 2 ** (n - 1)
    last = Fraction(R_MAX) if abs(last - R_MAX) <= _NOISE else last
    ratios = [float(R_MAX)] * (n - 1) + [float(last)]
    return tuple(ratios) if name == "greedy" else tuple(sorted(ratios))


def schedule_product(ratios) -> float:
    """The overall scale of a schedule: the product of its ratios."""
    out = Fraction(1)
    for r in ratios:
        out *= _exact(r, "schedule_product")
    return float(out)


class SlideSchedule(NamedTuple):
    """One row of the slides' "Optimal N and r" table, as printed (labels included)."""

    name: str
    scale_label: int  # the "Scale(R)" cell the row sits under
    passes_label: int  # the "Recursion(N)" cell the row sits under
    ratios: tuple[float, ...]  # "UpscaleRatio(r)", as printed


def _row(scale_label, passes_label, *ratios) -> SlideSchedule:
    name = f"x{scale_label}:" + "-".join(f"{r:.3f}" for r in ratios)
    return SlideSchedule(name, scale_label, passes_label, tuple(float(r) for r in ratios))


# The slides' "Study of recursive deployment - Optimal N and r" table (document 003), in its order.
SLIDE_SCHEDULES = {row.name: row for row in (
    _row(3, 2, 1.732, 1.732),
    _row(3, 2, 1.500, 2.000),
    _row(3, 2, 2.000, 1.500),
    _row(4, 3, 1.442, 1.442, 1.442),
    _row(4, 3, 2.000, 2.000),
    _row(4, 3, 1.587, 1.587, 1.587),
    _row(4, 2, 1.800, 1.800, 1.234),
    _row(4, 2, 2.000, 1.800, 1.100),
)}


def slide_schedule(name: str) -> tuple[float, ...]:
    """The ratios of a row of :data:`SLIDE_SCHEDULES`, by name (e.g. ``"x3:1.732-1.732"``)."""
    if name not in SLIDE_SCHEDULES:
        raise ValueError(f"slide_schedule: unknown schedule {name!r}; known: {', '.join(SLIDE_SCHEDULES)}")
    return SLIDE_SCHEDULES[name].ratios


def slide_schedule_rows() -> list[dict]:
    """Every slide schedule with what its ratios give: pass count and product, beside the printed labels."""
    rows = []
    for s in SLIDE_SCHEDULES.values():
        rows.append({"name": s.name, "scale_label": s.scale_label, "passes_label": s.passes_label,
                     "ratios": s.ratios, "passes": len(s.ratios), "product": schedule_product(s.ratios),
                     "labels_agree": len(s.ratios) == s.passes_label
                     and abs(schedule_product(s.ratios) - s.scale_label) < 0.01})
    return rows
