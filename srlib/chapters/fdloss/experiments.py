"""The FD-loss chapter's profile-dependent notebook defaults.

Nothing is trained yet: ``pretrained.ipynb`` evaluates a pretrained network, so no run configs are
registered here (``srlib.profiles`` finds this module by discovery all the same). Training runs of the
baseline and the FD loss will be registered here with ``srlib.profiles.register``.
"""
from __future__ import annotations

_ALL = ["Set5", "Set14", "B100", "Urban100"]

NOTEBOOK_DEFAULTS = {
    # pretrained.ipynb (x4 network of the PyTorch port, no training):
    #   sets      the book's protocol at x4 (srlib.metrics.evaluate_model), whole sets
    #   port_sets the port's own evaluation at x4 (LR = bicubic of float Y, output clipped, not rounded)
    #   x3_sets   LapSRN "x3" as its authors' test code makes it (x4 network, then bicubic to the x3 size)
    #   fig1_set  the set of Fig. 1 (entropy against PSNR, per image); must be one of ``sets``
    # smoke: Set5 only (seconds); cpu: the document's four sets (the x3 pass over Urban100, the most
    # expensive one, only at the paper profile); paper: everything.
    "pretrained": {
        "smoke": {"sets": ["Set5"], "port_sets": ["Set5"], "x3_sets": ["Set5"], "fig1_set": "Set5"},
        "cpu": {"sets": list(_ALL), "port_sets": list(_ALL), "x3_sets": ["Set5", "Set14", "B100"],
                "fig1_set": "Urban100"},
        "paper": {"sets": list(_ALL), "port_sets": list(_ALL), "x3_sets": list(_ALL), "fig1_set": "Urban100"},
    },
}


def notebook_defaults(notebook: str, profile: str) -> dict:
    """The profile-dependent parameter defaults of ``book/fdloss/<notebook>.ipynb`` (a copy)."""
    import copy

    from srlib.profiles import check_profile

    if notebook not in NOTEBOOK_DEFAULTS:
        raise KeyError(f"no defaults for notebook {notebook!r}; known: {sorted(NOTEBOOK_DEFAULTS)}")
    return copy.deepcopy(NOTEBOOK_DEFAULTS[notebook][check_profile(profile)])
