"""The PSPL chapter (``book/pspl/``): Pixel-level Self-Paced Learning for Super-Resolution.

One module per notebook, with the notebook's stem, plus the chapter's run configs and two asides:

* :mod:`.experiments` — every run config per profile (``pspl.*`` keys) and the notebooks'
  profile-dependent defaults.
* :mod:`.attention` — ``attention.ipynb``: Fig. 3 (weight curves, snapshots, maps) and the
  attention-map explorer, built on :mod:`.explorer` (training snapshots, precomputed frames,
  live widgets).
* :mod:`.convergence` — ``convergence.ipynb``: Fig. 4 (runs, threshold rule, iterations to it,
  final PSNR, ablation) and its claims.
* :mod:`.comparison` — ``comparison.ipynb``: Table 1, Fig. 1, Fig. 5 and their claims; the aside
  on the dark frame of the PSPL model is :mod:`.border`.
* :mod:`.common` — what the notebooks share (test sets, same-loss duplicates, where results go).

The loss itself is :mod:`srlib.losses.pspl` (a shared registry: other chapters may reuse it).
"""
