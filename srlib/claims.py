"""The claims contract: one row per claim a chapter tests, and one verdict vocabulary for the book.

A chapter that tests a document's claim writes ``results/claims/<chapter>.csv`` through
:func:`write_part`, computed from runs (never typed). ``book/intro.md`` gathers every file with
:func:`summary`. Columns, in this order (:data:`COLUMNS`):

    chapter   paper key (``pspl``, ``fdloss``, ..., ``evaluation``)
    part      the part of the chapter that tests it (``fig4``, ``table1``, ``border``, ...)
    claim_id  short id, unique within (chapter, part)
    claim     the document's claim, in words
    context   profile, model, data, regime the run covers (what the row can speak to)
    effect    our effect (mean paired difference over seeds; positive = the claimed direction)
    ci_low, ci_high   its 95% interval (Student t over the per-seed differences)
    claimed   the effect the document claims (blank when it claims a direction only)
    unit      of effect / claimed (``dB``, ``iterations``, ...)
    verdict   one word of :data:`VERDICTS`, or a :data:`NO_VERDICT` reason
    evidence  the numbers behind it, one line

Rows are keyed by ``(chapter, part)``: a notebook writes every row of its part at once and
replaces exactly the rows of that part (never by matching claim text).

**Verdicts** (:func:`effect_verdict`) compare the paired effect and its interval with the
claimed effect ``c`` (> 0, in the claimed direction):

* ``reproduced``: the interval excludes zero and contains ``c`` (or lies above it: larger than
  claimed; the evidence says so). With no claimed size: the interval excludes zero.
* ``smaller than claimed``: the interval excludes zero and lies below ``c``.
* ``no effect detected``: the interval contains zero and lies below ``c`` (the claimed size is
  ruled out, no effect is shown).
* ``opposite``: the interval lies below zero.
* ``inconclusive``: the interval contains both zero and ``c`` (too few seeds or too much noise),
  or there are fewer than two paired seeds.

Agreement claims ("our bicubic equals the papers' rows"), :func:`agreement_verdict`: ``reproduced``
when every difference is within the stated tolerance, else ``differs``.

A row that cannot speak to the claim feeds no verdict: its verdict is ``under-trained: ...``
(the evidence bar, :func:`clears_bar`), ``cannot speak: ...`` (the run never reaches the regime
the claim is about) or ``not run: ...``.

Also here: :func:`seed_summary`, :func:`gains` (paired tables), and the
file lock that lets notebooks executed in parallel update one claims file.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import srlib

COLUMNS = ["chapter", "part", "claim_id", "claim", "context", "effect", "ci_low", "ci_high", "claimed", "unit",
           "verdict", "evidence"]
REPRODUCED = "reproduced"
SMALLER = "smaller than claimed"
NO_EFFECT = "no effect detected"
OPPOSITE = "opposite"
INCONCLUSIVE = "inconclusive"
DIFFERS = "differs"
VERDICTS = (REPRODUCED, SMALLER, NO_EFFECT, OPPOSITE, INCONCLUSIVE, DIFFERS)
#: prefixes of a verdict cell that feeds no verdict (followed by ": reason")
UNDER_TRAINED = "under-trained"
CANNOT_SPEAK = "cannot speak"
NOT_RUN = "not run"
NO_VERDICT = (UNDER_TRAINED, CANNOT_SPEAK, NOT_RUN)
CONFIDENCE = 0.95
#: the evidence bar: a trained model must clear this share of the document's margin over bicubic
BAR_FRACTION = 1 / 3


# ----------------------------------------------------------------------------- statistics


def t_interval(values: Sequence[float], confidence: float = CONFIDENCE) -> dict:
    """Mean and Student-t interval of ``values`` (finite ones): ``n``, ``mean``, ``sd``, ``ci_low``, ``ci_high``.

    Fewer than two values: the interval is ``nan`` (nothing can be said about the spread).
    """
    import numpy as np
    from scipy import stats

    x = np.asarray(values, dtype=float).ravel()
    x = x[np.isfinite(x)]
    n = int(x.size)
    mean = float(x.mean()) if n else math.nan
    if n < 2:
        return {"n": n, "mean": mean, "sd": math.nan, "ci_low": math.nan, "ci_high": math.nan}
    sd = float(x.std(ddof=1))
    half = float(stats.t.ppf(0.5 + confidence / 2, n - 1)) * sd / math.sqrt(n)
    return {"n": n, "mean": mean, "sd": sd, "ci_low": mean - half, "ci_high": mean + half}


def paired_effect(treated: Mapping, reference: Mapping, better: str = "higher", confidence: float = CONFIDENCE) -> dict:
    """The paired effect of ``treated`` over ``reference``, both ``{seed: value}``, on the seeds they share.

    Same seed = same initialisation and data order, so the per-seed difference removes the seed's
    own luck. ``better="higher"``: effect = treated - reference (e.g. PSNR); ``"lower"``: effect =
    reference - treated (e.g. iterations to a threshold). Positive = treated is better. Returns
    :func:`t_interval` of the differences plus ``seeds`` and ``differences``.
    """
    if better not in ("higher", "lower"):
        raise ValueError(f"better must be 'higher' or 'lower', got {better!r}")
    seeds = [s for s in treated if s in reference]
    sign = 1.0 if better == "higher" else -1.0
    diffs = [sign * (float(treated[s]) - float(reference[s])) for s in seeds]
    return dict(t_interval(diffs, confidence), seeds=seeds, differences=diffs)


def effect_verdict(effect: Mapping, claimed: float | None = None) -> str:
    """The verdict word for a paired effect (``ci_low``, ``ci_high``, ``n``) against ``claimed`` (see module doc)."""
    lo, hi, n = effect.get("ci_low", math.nan), effect.get("ci_high", math.nan), int(effect.get("n", 0))
    if n < 2 or not (math.isfinite(lo) and math.isfinite(hi)):
        return INCONCLUSIVE
    if claimed is not None and not (math.isfinite(float(claimed)) and float(claimed) > 0):
        raise ValueError(f"claimed effect must be a positive number in the claimed direction (or None), got {claimed!r}")
    if hi < 0:
        return OPPOSITE
    if claimed is None:
        return REPRODUCED if lo > 0 else INCONCLUSIVE
    if lo > 0:
        return SMALLER if hi < claimed else REPRODUCED
    return NO_EFFECT if hi < claimed else INCONCLUSIVE


def format_effect(effect: Mapping, unit: str = "", decimals: int = 3) -> str:
    """``"+0.120 dB [+0.050, +0.190], n = 3"``."""
    u = f" {unit}" if unit else ""

    def f(x):
        return "—" if x is None or not math.isfinite(x) else f"{x:+.{decimals}f}"

    return f"{f(effect['mean'])}{u} [{f(effect['ci_low'])}, {f(effect['ci_high'])}], n = {effect['n']}"


def agreement_verdict(differences: Sequence[float], tolerance: float) -> str:
    """``reproduced`` when every |difference| is within ``tolerance`` (and there is at least one), else ``differs``."""
    import numpy as np

    d = np.abs(np.asarray(differences, dtype=float))
    return REPRODUCED if d.size and bool((d <= tolerance).all()) else DIFFERS


def clears_bar(model_value: float, bicubic: float, paper_value: float, fraction: float = BAR_FRACTION,
               paper_bicubic: float | None = None) -> bool:
    """The evidence bar: our gain over bicubic ``model_value - bicubic`` (bicubic on the same images as ours)
    is at least ``fraction`` of the document's margin ``paper_value - paper_bicubic`` (bicubic on the whole
    set; default ``bicubic``), for the same model, scale, set and metric.

    A model that does not clear it is under-trained: its row is shown but feeds no verdict. A document
    value that is not above bicubic defines no bar (ValueError).
    """
    reference = float(bicubic if paper_bicubic is None else paper_bicubic)
    margin = float(paper_value) - reference
    if not margin > 0:
        raise ValueError(f"clears_bar: the document's value {paper_value} is not above bicubic {reference}: no bar")
    return float(model_value) - float(bicubic) >= fraction * margin


def check_verdict(verdict: str) -> str:
    """``verdict`` if it is a vocabulary word or a no-verdict reason (``"under-trained: ..."``), else a ValueError."""
    v = str(verdict)
    if v in VERDICTS or any(v == p or v.startswith(p + ":") for p in NO_VERDICT):
        return v
    raise ValueError(f"verdict {verdict!r} is not in the book's vocabulary {VERDICTS} "
                     f"and is not a no-verdict reason ({', '.join(p + ': ...' for p in NO_VERDICT)})")


def feeds_verdict(verdict: str) -> bool:
    """False for the rows that cannot speak to their claim (under-trained, out of regime, not run)."""
    return check_verdict(verdict) in VERDICTS


# ----------------------------------------------------------------------------- rows and files


def row(chapter: str, part: str, claim_id: str, claim: str, verdict: str, evidence: str, *, context: str = "",
        effect: Mapping | None = None, claimed: float | None = None, unit: str = "") -> dict:
    """One claims row (``effect`` from :func:`paired_effect`, or None)."""
    e = effect or {}
    return {"chapter": chapter, "part": part, "claim_id": claim_id, "claim": claim, "context": context,
            "effect": e.get("mean", math.nan), "ci_low": e.get("ci_low", math.nan), "ci_high": e.get("ci_high", math.nan),
            "claimed": math.nan if claimed is None else float(claimed), "unit": unit,
            "verdict": check_verdict(verdict), "evidence": evidence}


def _frame(rows):
    import pandas as pd

    return pd.DataFrame(list(rows), columns=COLUMNS)


def read(path):
    """A claims file as a DataFrame; a missing column is an error naming the file."""
    import pandas as pd

    df = pd.read_csv(path, keep_default_na=True)
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(f"{path}: lacks claims columns {missing}; a claims file has {COLUMNS} "
                         "(rewrite it by re-running its chapter)")
    return df[COLUMNS]


def write_part(path, chapter: str, part: str, rows: Sequence[dict]):
    """Replace the rows of ``(chapter, part)`` in the claims file ``path`` by ``rows``; keep every other row.

    Notebooks run in parallel and two may update one file: the read-modify-write holds an
    exclusive lock (``<file>.lock``) and the file is replaced atomically. ``path`` None writes
    nothing. Returns the new rows of this part as a DataFrame (for display).
    """
    import fcntl

    import pandas as pd

    from srlib.atomic import write_text

    for r in rows:
        if (r["chapter"], r["part"]) != (chapter, part):
            raise ValueError(f"write_part({chapter!r}, {part!r}) got a row of ({r['chapter']!r}, {r['part']!r})")
        check_verdict(r["verdict"])
    ids = [r["claim_id"] for r in rows]
    if len(set(ids)) != len(ids):
        raise ValueError(f"claims of ({chapter}, {part}): repeated claim_id in {ids}")
    new = _frame(rows)
    if path:
        path = Path(path)
        lock_path = path.with_name(path.name + ".lock")
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        with open(lock_path, "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            previous = read(path) if path.exists() else _frame([])
            keep = previous[~((previous["chapter"] == chapter) & (previous["part"] == part))]
            out = pd.concat([keep, new], ignore_index=True) if len(keep) else new
            write_text(path, out.to_csv(index=False))
    return new


def summary(claims_dir=None):
    """Every claims row of every ``<claims_dir>/*.csv`` (default: the running build's, :func:`book_results_dir`)."""
    import pandas as pd

    claims_dir = Path(claims_dir or book_results_dir() / "claims")
    frames = [read(p) for p in sorted(claims_dir.glob("*.csv"))]
    frames = [f for f in frames if len(f)]
    if not frames:
        return _frame([])
    return pd.concat(frames, ignore_index=True)


# ----------------------------------------------------------------------------- where a notebook writes


#: set by ``python -m srlib.book run`` for the notebooks it executes: the results folder of that build
#: (``results/`` for the cpu and paper books, a folder inside the build directory for smoke builds)
BOOK_RESULTS_ENV = "SRLIB_BOOK_RESULTS"
EXPLORATION_DIR = "srlib-exploration"


def book_results_dir() -> Path:
    """The results folder of the running book build, else the repository's ``results/``."""
    import os

    env = os.environ.get(BOOK_RESULTS_ENV, "").strip()
    return Path(env) if env else srlib.REPO_ROOT / "results"


def destination(chapter: str, output_dir: str | None = "") -> dict:
    """Where a chapter notebook writes its claims and tables — the one rule every chapter follows:

    * run by the book (``python -m srlib.book run``, which executes every notebook with its default
      parameters and sets ``$SRLIB_BOOK_RESULTS``): that build's results folder, i.e.
      ``results/claims/<chapter>.csv`` and ``results/<chapter>/*.csv`` for the cpu book;
    * any other run (papermill with other parameters, a notebook opened in JupyterLab, nbval): the
      folder ``output_dir`` when given, else ``./srlib-exploration/`` in the working directory
      (where papermill is run); ``results/`` is never touched (new runs in the run store are
      content-addressed and harmless).

    Returns ``dir``, ``claims`` (file), ``tables`` (folder), ``book`` (bool) and ``text`` (one line
    saying where, for the notebook to print).
    """
    import os

    env = os.environ.get(BOOK_RESULTS_ENV, "").strip()
    if output_dir:
        base, book, why = Path(output_dir), False, "the folder given by the parameter output_dir"
    elif env:
        base, book, why = Path(env), True, "the book's results (run by srlib.book with the default parameters)"
    else:
        base, book, why = Path.cwd() / EXPLORATION_DIR, False, (
            "an exploration folder: this run was not made by the book build, so the book's results/ are left as they are")
    base = base.resolve()
    dest = {"dir": base, "claims": base / "claims" / f"{chapter}.csv", "tables": base / chapter, "book": book}
    dest["text"] = f"claims and tables of this run go to {base} ({why})"
    return dest


def write_table(dest: Mapping, name: str, df) -> Path:
    """Write a reproduced table as ``<dest tables>/<name>.csv`` atomically (one file per table or figure)."""
    from srlib.atomic import write_text

    if not name or "/" in name or name.startswith("."):
        raise ValueError(f"table name must be a plain file stem like 'table1', got {name!r}")
    path = Path(dest["tables"]) / f"{name}.csv"
    write_text(path, df.to_csv(index=False))
    return path


# ----------------------------------------------------------------------------- seed tables


def seed_summary(df, value: str, group: str = "group"):
    """Per group: n, n_finite, mean, std (ddof 1), min, max of ``value`` over its finite entries."""
    import numpy as np
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


def gains(df, keys: Sequence[str], by: str, a, b, values: Sequence[str]):
    """``b - a`` per ``keys`` for each column in ``values`` (e.g. PSPL minus baseline per model and set).

    ``df`` has one row per (keys..., by); rows whose ``by`` is neither ``a`` nor ``b`` are ignored.
    Missing partners give ``nan``. Returns keys + one ``<value>_gain`` column per value.
    """
    import numpy as np
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
