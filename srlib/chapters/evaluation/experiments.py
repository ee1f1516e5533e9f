"""The evaluation chapter trains nothing; its notebook's profile-dependent defaults live here."""
from __future__ import annotations

NOTEBOOK_DEFAULTS = {
    # protocol.ipynb: test sets of the bicubic table (smoke: the least that exercises every cell)
    "protocol": {"smoke": {"sets": ["Set5"]}, "cpu": {"sets": ["Set5", "Set14", "B100", "Urban100"]},
                 "paper": {"sets": ["Set5", "Set14", "B100", "Urban100"]}},
}


def notebook_defaults(notebook: str, profile: str) -> dict:
    """The profile-dependent parameter defaults of ``book/evaluation/<notebook>.ipynb`` (a copy)."""
    import copy

    from srlib.profiles import check_profile

    if notebook not in NOTEBOOK_DEFAULTS:
        raise KeyError(f"no defaults for notebook {notebook!r}; known: {sorted(NOTEBOOK_DEFAULTS)}")
    return copy.deepcopy(NOTEBOOK_DEFAULTS[notebook][check_profile(profile)])
