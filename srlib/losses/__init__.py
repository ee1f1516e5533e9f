"""Training losses, one file per family, one registry (``LOSSES``).

A loss is a :class:`LossHook`: an ``nn.Module`` called once per training iteration as
``loss, logs = hook(model, batch, iteration)``. It runs the model itself, so it can use
per-level outputs (LapSRN), auxiliary heads (FD loss) or a discriminator with its own
optimizer (GAN). Any state it keeps (PSPL's step, a discriminator) lives in its
``state_dict()`` (buffers, parameters, or ``get_extra_state``), which the Trainer checkpoints.

``batch`` is a dict with at least ``"lr"`` and ``"hr"``: float32 (N, C, H, W) tensors in [0, 1]
(see :mod:`srlib.conventions`).
"""
from __future__ import annotations

from srlib.registry import Registry

LOSSES = Registry("loss")


def build(name: str, **kwargs):
    """Build a registered loss hook by name, e.g. ``build("pspl", base="l1")``."""
    _import_all()
    return LOSSES.build(name, **kwargs)


def _import_all():
    import importlib
    import pkgutil

    for mod in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{mod.name}")
