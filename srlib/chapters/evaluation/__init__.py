"""The evaluation-protocol chapter (``book/evaluation/``): what "PSNR" means before any model is trained.

* :mod:`.experiments` — the notebook's profile-dependent defaults (no training runs).
* :mod:`.protocol` — ``protocol.ipynb``: the bicubic rows against the papers' and the chapter's claim row.
"""
