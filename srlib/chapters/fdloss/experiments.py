"""The FD-loss chapter's run configs per profile and its notebooks' profile-dependent defaults.

``pretrained.ipynb`` evaluates a pretrained network (no runs). The runs registered here are Table 1 of the
document (LapSRN x4: baseline / +CS loss / +FD loss) and the ablations of the choices the document leaves open.
The method is ``srlib.losses.fdloss`` (the ``fd`` hook) with the FD parts of ``srlib.models.lapsrn.LapSRN``
(``fd_bins``, ``class_module``, ...); every run, the baseline included, uses the ``fd`` hook, so the methods differ
only in the model's FD parts (the baseline: L1 on both levels, no heads). Same seed = same SR-network
initialisation and the same batches in every method (the FD parts are created after the network is initialised).

* ``paper``: the document's settings. LapSRN as the port whose numbers the document prints (Y, depth 10, 64
  filters, no biases, 4x4 deconvs, the port's init), weight normalisation on all convolutions; DIV2K; 64x64 LR
  patches; Adam 1e-3 halved every 2e5 iterations. Not printed, our choices: batch 16 and 1000 x 1000 iterations
  (the recipe's wording is RCAN's, whose EDSR-PyTorch code trains 1000 epochs of 1000 batches of 16); K = 32;
  Class-Module tile 32 LR px (ClassSR's sub-image; 2 x 2 tiles per patch). Augmentation: the sampler's 8 dihedral
  transforms (the document: vertical and horizontal flips only).
* ``cpu``: a lite LapSRN of the same kind (Y, depth 5, 32 filters, no biases, the port's init; no weight norm) on
  the 291 set (what the port trained on), 16x16 LR patches (the smallest 291 image, 76 px at x4, holds at most
  19), batch 16, tile 16 (one Class-Module tile per patch), Adam 1e-3 halved at 1/3 and 2/3 of the run, one
  thread, channels_last. ``smoke``: the least that runs every part.
* Keys: ``fdloss.table1_{baseline,cs,fd}`` = Table 1; ``fdloss.table1_fd_balance`` = FD with ClassSR's balance
  ("average") loss, which the document omits; ``fdloss.ablation_*`` = one choice changed each: hard confinement
  (``fd_hard``, ``cs_hard``), heads on the last level only (``fd_last_level``), L_r against the bin centre
  instead of the pixel (``cs_anchor_target``), heads on the features alone without the bin prior of the level's
  output (``cs_no_prior``, ``fd_prior=0``: the reading of AUTHORS_CODE.md; see ``srlib.models.lapsrn.LapSRN``).
* Seeds are set by the chapter (``config["seed"]``).
"""
from __future__ import annotations

from srlib.profiles import register

#: K, the document's number of bins
FD_BINS = 32
#: the port's network (srlib.models.lapsrn.PORT_CONFIG without the scale), written here so that discovering the
#: experiments does not import torch (tests/test_fdloss.py checks they agree)
PORT_ARGS = {"colors": 1, "depth": 10, "n_feats": 64, "bias": False}
#: ClassSR's average-loss weight relative to L1 (srlib.losses.fdloss.CLASSSR_BALANCE; checked in the tests)
CLASSSR_BALANCE = 3e-3
FD_PAPER_EPOCHS, FD_ITERS_PER_EPOCH = 1000, 1000
FD_CPU_ITERATIONS = 4000
FD_SMOKE_ITERATIONS = 4

_SIZES = {
    # profile: (network args, LR patch, batch, Class-Module tile)
    "paper": ({**PORT_ARGS, "init": "port", "weight_norm": True}, 64, 16, 32),
    "cpu": ({"colors": 1, "depth": 5, "n_feats": 32, "bias": False, "init": "port"}, 16, 16, 16),
    "smoke": ({"colors": 1, "depth": 1, "n_feats": 4, "bias": False, "init": "port"}, 8, 2, 4),
}
_METHODS = {
    # key: (model FD args without the tile, uses the Class-Module, loss args, label)
    "table1_baseline": ({}, False, {}, "baseline"),
    "table1_cs": ({"fd_bins": FD_BINS, "fd_widths": [5]}, False, {}, "+CS"),
    "table1_fd": ({"fd_bins": FD_BINS, "class_module": True}, True, {}, "+FD"),
    "table1_fd_balance": ({"fd_bins": FD_BINS, "class_module": True}, True, {"balance": CLASSSR_BALANCE},
                          "+FD, balance loss"),
    "ablation_fd_hard": ({"fd_bins": FD_BINS, "class_module": True, "fd_confine": "hard"}, True, {}, "+FD, hard"),
    "ablation_cs_hard": ({"fd_bins": FD_BINS, "fd_widths": [5], "fd_confine": "hard"}, False, {}, "+CS, hard"),
    "ablation_fd_last_level": ({"fd_bins": FD_BINS, "class_module": True, "fd_levels": "last"}, True, {},
                               "+FD, last level only"),
    "ablation_cs_anchor_target": ({"fd_bins": FD_BINS, "fd_widths": [5]}, False, {"target": "anchor"},
                                  "+CS, L_r to bin centres"),
    "ablation_cs_no_prior": ({"fd_bins": FD_BINS, "fd_widths": [5], "fd_prior": 0.0}, False, {},
                             "+CS, heads on features only"),
}


def _label(profile: str, label: str) -> str:
    args = _SIZES[profile][0]
    return f"LapSRN {args['depth']}x{args['n_feats']} {label}" + (" (paper size)" if profile == "paper" else "")


def _model(profile: str, fd: dict, class_module: bool, label: str) -> dict:
    size, _, _, tile = _SIZES[profile]
    args = {**size, **fd, **({"class_tile": tile} if class_module else {})}
    return {"name": "lapsrn", "args": args, "label": _label(profile, label)}


_SETS = ["Set5", "Set14", "B100", "Urban100"]
for _key, (_fd, _cm, _loss, _lab) in _METHODS.items():
    _loss_spec = {"name": "fd", "args": dict(_loss)} if _loss else {"name": "fd"}
    register(
        f"fdloss.{_key}",
        base={  # the paper profile; each profile names its whole model (deep-merged args would leak between them)
            "model": {"name": "lapsrn"},
            "scale": 4,
            "loss": _loss_spec,
            "data": {"train": "DIV2K", "patch": _SIZES["paper"][1], "batch": _SIZES["paper"][2], "augment": True},
            "optimizer": {"name": "adam", "lr": 1e-3},
            "schedule": {"name": "step", "step_size": 200 * FD_ITERS_PER_EPOCH, "gamma": 0.5},
            "epochs": FD_PAPER_EPOCHS,
            "iters_per_epoch": FD_ITERS_PER_EPOCH,
            "eval": {"sets": ["Set5"], "every": 10 * FD_ITERS_PER_EPOCH, "final_sets": list(_SETS)},
            "checkpoint_every": 10 * FD_ITERS_PER_EPOCH,
            "seed": 0,
            "device": "auto",
        },
        paper={"model": _model("paper", _fd, _cm, _lab)},
        smoke={"model": _model("smoke", _fd, _cm, _lab),
               "data": {"train": "T91", "patch": _SIZES["smoke"][1], "batch": _SIZES["smoke"][2]},
               "schedule": None, "epochs": 1, "iters_per_epoch": FD_SMOKE_ITERATIONS,
               "eval": {"sets": [], "final_sets": ["Set5"], "final_max_images": 1},
               "checkpoint_every": FD_SMOKE_ITERATIONS, "threads": 1},
        cpu={"model": _model("cpu", _fd, _cm, _lab),
             "data": {"train": "291", "patch": _SIZES["cpu"][1], "batch": _SIZES["cpu"][2]},
             "schedule": {"name": "step", "step_size": FD_CPU_ITERATIONS // 3, "gamma": 0.5},
             "epochs": 1, "iters_per_epoch": FD_CPU_ITERATIONS, "eval": {"sets": ["Set5"], "every": 500},
             "checkpoint_every": 500, "threads": 1, "channels_last": True},
    )

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
